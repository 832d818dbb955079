//! A small HTTP server inside a test, on 127.0.0.1: it records every request and answers each
//! as the test's handler says (API destinations, OAuth authorization endpoints).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Recorded, usize) -> (u16, String) + Send + Sync;

pub struct Endpoint {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Endpoint {
    /// Starts a server whose handler gets each request and its index (0 for the first) and
    /// gives the status and body to answer.
    pub async fn start(
        handler: impl Fn(&Recorded, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> Endpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let handler: Arc<Handler> = Arc::new(handler);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let Some(request) = read_request(&mut stream).await else {
                    continue;
                };
                let index = {
                    let mut all = recorded.lock().unwrap();
                    all.push(request.clone());
                    all.len() - 1
                };
                let (status, body) = handler(&request, index);
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        Endpoint { base, requests }
    }

    /// Always 200 with an empty body.
    pub async fn ok() -> Endpoint {
        Self::start(|_, _| (200, String::new())).await
    }

    /// Answers each request with the next status given (the last one repeats).
    pub async fn answering(statuses: Vec<u16>) -> Endpoint {
        Self::start(move |_, n| (statuses[n.min(statuses.len() - 1)], String::new())).await
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn get(&self, index: usize) -> Recorded {
        self.requests.lock().unwrap()[index].clone()
    }

    /// Waits (up to 5 s) until `n` requests have arrived; returns the count then.
    pub async fn wait_for(&self, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.count() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.count()
    }
}

/// Reads the head, then the body (`Content-Length`).
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..read]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&buf[head_end + 4..]).to_string();
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}
