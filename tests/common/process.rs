//! The real `lyrebird` binary as a child process, for what an in-process server cannot show:
//! crashes (SIGKILL), restarts on a data directory, and the process's own memory.

use std::ffi::OsStr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Process {
    pub child: Child,
    pub endpoint: String,
    /// Every line the server has written to stdout (its log) so far.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Drop for Process {
    /// A failing test must not leave a server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// The process's anonymous resident memory (`RssAnon`), in KiB.
    pub fn resident_anonymous_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("RssAnon in /proc/PID/status")
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary with `args` (after `--port 0`) and `env`, and waits until it is healthy.
pub async fn start<A: AsRef<OsStr>>(args: &[A], env: &[(&str, &str)]) -> Process {
    start_binary(OsStr::new(env!("CARGO_BIN_EXE_lyrebird")), args, env).await
}

/// As `start`, with another build of the binary (a release build for the large crash loop).
pub async fn start_binary<A: AsRef<OsStr>>(
    binary: &OsStr,
    args: &[A],
    env: &[(&str, &str)],
) -> Process {
    // Port 0: the server picks a free port and says which; tests running side by side can
    // never race for the same one.
    let mut child = Command::new(binary)
        .args(["--port", "0"])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("lyrebird starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let output = Arc::new(Mutex::new(Vec::new()));
    let lines = output.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            lines.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    });
    let address = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(120)))
        .await
        .unwrap()
        .expect("server says where it listens");
    let endpoint = format!("http://{address}");
    let health = reqwest::get(format!("{endpoint}/_lyrebird/health"))
        .await
        .unwrap();
    assert!(health.status().is_success());
    Process {
        child,
        endpoint,
        output,
    }
}
