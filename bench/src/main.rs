//! `lyrebird-bench`: a load generator for lyrebird and other SQS/SNS emulators.
//!
//! It either starts a server binary on a free port (and then also measures its startup time,
//! memory and CPU through `/proc`) or drives an existing `--endpoint`. All traffic is real
//! HTTP/1.1 over keep-alive connections, in the SQS JSON 1.0 or query protocol and the SNS query
//! protocol. Results go to stdout as a table and, with `--json FILE`, as JSON lines.
//!
//! ```text
//! lyrebird-bench --server-bin target/release/lyrebird            # all workloads, ~1 min
//! lyrebird-bench --server-bin target/release/lyrebird --server-arg --in-memory \
//!     --workloads W1,W5 --protocol query --json results.jsonl
//! lyrebird-bench --endpoint http://127.0.0.1:9324 --server-pid 1234   # e.g. ElasticMQ
//! ```
//!
//! Workloads: W1 SendMessage; W2 SendMessageBatch(10); W3 pre-fill then drain with
//! ReceiveMessage(10) + DeleteMessageBatch; W4 SNS fan-out to three queues (one filtered),
//! verified end to end, plus publish latency with 1/3/10 subscriptions (W4-1, W4-3, W4-10);
//! W5 sequential SendMessage on one connection; W6 idle long polls (server CPU) and wake-up
//! latency; backlog: many small messages left in one queue (server RSS).
//! Server CPU, this program's CPU and everything else's are shown side by side: on a small
//! machine the load generator competes with the server for the same cores, and a busy
//! neighbour spoils a run. A started server gets `LYREBIRD_DATA_DIR` set to a temporary
//! directory (removed afterwards) unless the environment already sets it.

use std::collections::HashSet;
use std::fmt::{self, Display, Write as _};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Map, Value};

mod soak;

const SQS_VERSION: &str = "2012-11-05";
const SNS_VERSION: &str = "2010-03-31";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// How many error messages each workload keeps for printing.
const KEPT_ERRORS: usize = 5;

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[derive(Parser, Debug, Clone)]
#[command(
    name = "lyrebird-bench",
    version,
    about = "Load generator for lyrebird and other SQS/SNS emulators"
)]
struct Args {
    /// Start this server binary (lyrebird) on a free port; also measures startup, RSS and CPU.
    #[arg(long, value_name = "PATH", conflicts_with = "endpoint")]
    server_bin: Option<PathBuf>,
    /// Extra argument for the started server (repeatable), e.g. `--server-arg --in-memory`.
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Drive an already running server instead (default http://127.0.0.1:4566).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// With --endpoint: PID of the server process, to sample its RSS and CPU time.
    #[arg(long, value_name = "PID", requires = "endpoint")]
    server_pid: Option<u32>,
    /// Wire protocol of the SQS workloads (SNS always uses the query protocol).
    #[arg(long, value_enum, default_value_t = Protocol::Json)]
    protocol: Protocol,
    /// Workloads to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        ignore_case = true,
        default_value = "W1,W2,W3,W4,W5,W6,backlog"
    )]
    workloads: Vec<Workload>,
    /// Also write one JSON object per workload (and one for the server) to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Concurrent connections for W1, W2, W4 and the fills of W3 and backlog.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds that each timed workload (W1, W2, W4 publishing, W5) runs.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Message body size in bytes for W1-W5.
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// W3: messages to pre-fill before draining.
    #[arg(long, default_value_t = 100_000)]
    prefill: u64,
    /// W3: concurrent receive+delete workers while draining.
    #[arg(long, default_value_t = 8)]
    drain_workers: usize,
    /// W4-1/W4-3/W4-10: seconds of publishing per subscription count.
    #[arg(long, default_value_t = 2.0)]
    fanout_duration: f64,
    /// W6: concurrent long-polling receivers.
    #[arg(long, default_value_t = 1000)]
    receivers: usize,
    /// W6: idle queues the receivers are spread over.
    #[arg(long, default_value_t = 100)]
    idle_queues: usize,
    /// W6: WaitTimeSeconds of the long polls.
    #[arg(long, default_value_t = 10)]
    wait_seconds: u32,
    /// W6: seconds over which the server's CPU time is sampled while all receivers wait.
    #[arg(long, default_value_t = 8.0)]
    idle_seconds: f64,
    /// Backlog: messages to leave in one queue before reading the server's RSS.
    #[arg(long, default_value_t = 1_000_000)]
    backlog: u64,
    /// Backlog: body size in bytes of each message.
    #[arg(long, default_value_t = 64)]
    backlog_body_size: usize,
    /// EB: (rules on the bus, rules each event matches) for each measurement.
    #[arg(long, value_delimiter = ',', default_value = "100x10,1x1,100x1,1000x1")]
    eb_rules: Vec<String>,
    /// Region put in the (unverified) SigV4 credential scope of each request.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Client runtime threads (1 = a current-thread runtime, so the load generator never takes
    /// more than one core away from the server).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Soak: how long the mixed load runs, in seconds.
    #[arg(long, default_value_t = 1800.0)]
    soak_seconds: f64,
    /// Soak: calls a second over all workers (0: half of what the mix reaches unpaced).
    #[arg(long, default_value_t = 0.0)]
    soak_rate: f64,
    /// Soak: seconds between samples of throughput, latency and RSS.
    #[arg(long, default_value_t = 60.0)]
    soak_sample: f64,
    /// Soak: the most the RSS may grow after the first sample (0.10 = 10 %).
    #[arg(long, default_value_t = 0.10)]
    soak_max_drift: f64,
    /// Seconds to wait for a started server to answer its health check.
    #[arg(long, default_value_t = 10.0)]
    startup_timeout: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Protocol {
    Json,
    Query,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
enum Workload {
    #[value(name = "W1")]
    W1,
    #[value(name = "W2")]
    W2,
    #[value(name = "W3")]
    W3,
    #[value(name = "W4")]
    W4,
    #[value(name = "W5")]
    W5,
    #[value(name = "W6")]
    W6,
    /// Lambda: an SQS event source mapping drains a queue into a no-op Node handler.
    #[value(name = "W7")]
    W7,
    #[value(name = "backlog")]
    Backlog,
    /// The soak (not in the default list): see `--soak-seconds` and bench/soak.sh.
    #[value(name = "soak")]
    Soak,
    /// EventBridge PutEvents (10 entries) on a bus with many rules, SQS targets.
    #[value(name = "EB")]
    Eb,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A failed call: an HTTP error answer (`status` set) or a transport / parse failure.
#[derive(Debug, Clone)]
struct ApiError {
    status: Option<u16>,
    code: String,
    message: String,
}

impl ApiError {
    fn transport(message: impl Into<String>) -> Self {
        ApiError {
            status: None,
            code: "Transport".into(),
            message: message.into(),
        }
    }

    fn bad_response(message: impl Into<String>) -> Self {
        ApiError {
            status: None,
            code: "BadResponse".into(),
            message: message.into(),
        }
    }

    /// Builds the error from an AWS JSON (`__type`, `x-amzn-query-error`) or XML (`<Code>`) body.
    fn from_response(status: u16, query_error: Option<String>, body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(body);
        let mut code = query_error
            .and_then(|h| h.split(';').next().map(str::to_owned))
            .unwrap_or_default();
        let mut message = String::new();
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            if code.is_empty() {
                if let Some(t) = v.get("__type").and_then(Value::as_str) {
                    code = t.rsplit('#').next().unwrap_or(t).to_owned();
                }
            }
            if let Some(m) = v
                .get("message")
                .or_else(|| v.get("Message"))
                .and_then(Value::as_str)
            {
                message = m.to_owned();
            }
        } else {
            if code.is_empty() {
                code = xml_first(&text, "Code")
                    .map(xml_unescape)
                    .unwrap_or_default();
            }
            message = xml_first(&text, "Message")
                .map(xml_unescape)
                .unwrap_or_default();
        }
        if message.is_empty() {
            message = text.chars().take(200).collect();
        }
        ApiError {
            status: Some(status),
            code,
            message,
        }
    }

    /// Whether the target does not implement the operation at all.
    fn is_unsupported(&self) -> bool {
        let lower = self.message.to_ascii_lowercase();
        matches!(self.status, Some(404 | 501))
            || matches!(
                self.code.as_str(),
                "InvalidAction"
                    | "UnknownOperationException"
                    | "UnknownOperation"
                    | "NotImplemented"
            )
            || lower.contains("not valid for this endpoint")
            || lower.contains("not implemented")
    }
}

impl Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s} {}: {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let _ = write!(s, ": {inner}");
        source = inner.source();
    }
    s
}

// ---------------------------------------------------------------------------------------------
// HTTP: one prepared call, and the client that sends it
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Service {
    Sqs,
    Sns,
    Events,
}

/// A request ready to send any number of times: its body is shared, never re-serialized.
#[derive(Clone)]
struct Call {
    service: Service,
    /// `X-Amz-Target` for SQS JSON calls; `None` means a query (form) call.
    target: Option<HeaderValue>,
    body: Bytes,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn new_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// The target and how to talk to it; the SQS/SNS operation builders and parsers live here.
#[derive(Clone)]
struct Bench {
    client: HttpClient,
    uri: Uri,
    protocol: Protocol,
    auth_sqs: HeaderValue,
    auth_sns: HeaderValue,
    auth_events: HeaderValue,
    amz_date: HeaderValue,
    timeout: Duration,
    run_id: String,
}

impl Bench {
    fn new(args: &Args, endpoint: &str) -> Result<Self, String> {
        let uri: Uri = endpoint
            .parse()
            .map_err(|e| format!("bad endpoint {endpoint:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("endpoint {endpoint:?} must be an http:// URL"));
        }
        let auth = |service: &str| {
            HeaderValue::from_str(&format!(
                "AWS4-HMAC-SHA256 Credential=test/20250101/{}/{service}/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature={}",
                args.region,
                "0".repeat(64)
            ))
            .map_err(|e| format!("bad region {:?}: {e}", args.region))
        };
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Ok(Bench {
            client: new_client(),
            uri,
            protocol: args.protocol,
            auth_sqs: auth("sqs")?,
            auth_sns: auth("sns")?,
            auth_events: auth("events")?,
            amz_date: HeaderValue::from_static("20250101T000000Z"),
            timeout: Duration::from_secs(u64::from(args.wait_seconds) + 30),
            run_id: format!("{}-{}", std::process::id(), secs % 1_000_000),
        })
    }

    /// The same target with its own connection pool.
    fn with_fresh_client(&self) -> Bench {
        Bench {
            client: new_client(),
            ..self.clone()
        }
    }

    /// A queue or topic name unique to this run.
    fn name(&self, what: &str) -> String {
        format!("lbbench-{}-{what}", self.run_id)
    }

    async fn call(&self, call: &Call) -> Result<Bytes, ApiError> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone());
        if let Some(headers) = builder.headers_mut() {
            let content_type = if call.target.is_some() {
                JSON_CONTENT_TYPE
            } else {
                FORM_CONTENT_TYPE
            };
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Some(target) = &call.target {
                headers.insert("x-amz-target", target.clone());
            }
            let auth = match call.service {
                Service::Sqs => &self.auth_sqs,
                Service::Sns => &self.auth_sns,
                Service::Events => &self.auth_events,
            };
            headers.insert(AUTHORIZATION, auth.clone());
            headers.insert("x-amz-date", self.amz_date.clone());
        }
        let request = builder
            .body(Full::new(call.body.clone()))
            .map_err(|e| ApiError::transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| ApiError::transport(error_chain(&e)))?;
            let status = response.status();
            let query_error = response
                .headers()
                .get("x-amzn-query-error")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ApiError::transport(error_chain(&e)))?
                .to_bytes();
            if status.is_success() {
                Ok(body)
            } else {
                Err(ApiError::from_response(status.as_u16(), query_error, &body))
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::transport(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// A REST-JSON call (the Lambda API, lyrebird's own endpoints): the answer's body.
    async fn rest(&self, method: Method, path: &str, body: Value) -> Result<Bytes, ApiError> {
        let uri: Uri = format!("{}{path}", self.uri.to_string().trim_end_matches('/'))
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| ApiError::transport(e.to_string()))?;
        let body = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(body.to_string())
        };
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| ApiError::transport(e.to_string()))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| ApiError::transport("no answer"))?
            .map_err(|e| ApiError::transport(error_chain(&e)))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ApiError::transport(error_chain(&e)))?
            .to_bytes();
        if status.is_success() {
            Ok(bytes)
        } else {
            Err(ApiError::from_response(status.as_u16(), None, &bytes))
        }
    }

    /// Messages in a queue, visible or in flight.
    async fn messages_left(&self, url: &str) -> Result<u64, ApiError> {
        let call = Call {
            service: Service::Sqs,
            target: Some(HeaderValue::from_static("AmazonSQS.GetQueueAttributes")),
            body: Bytes::from(
                json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})
                    .to_string(),
            ),
        };
        let body = self.call(&call).await?;
        let v: Value =
            serde_json::from_slice(&body).map_err(|e| ApiError::transport(e.to_string()))?;
        let n = |k: &str| {
            v["Attributes"][k]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(n("ApproximateNumberOfMessages") + n("ApproximateNumberOfMessagesNotVisible"))
    }

    // --- SQS call builders (JSON or query, per --protocol) -----------------------------------

    fn sqs(&self, op: &'static str, json: Value, form: impl FnOnce(&mut Form)) -> Call {
        match self.protocol {
            Protocol::Json => Call {
                service: Service::Sqs,
                target: Some(HeaderValue::from_static(sqs_target(op))),
                body: Bytes::from(json.to_string()),
            },
            Protocol::Query => {
                let mut f = Form::new(op, SQS_VERSION);
                form(&mut f);
                Call {
                    service: Service::Sqs,
                    target: None,
                    body: Bytes::from(f.0),
                }
            }
        }
    }

    fn create_queue_call(&self, name: &str, attributes: &[(&str, &str)]) -> Call {
        let attrs: Map<String, Value> = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        let mut json = json!({ "QueueName": name });
        if !attrs.is_empty() {
            json["Attributes"] = Value::Object(attrs);
        }
        self.sqs("CreateQueue", json, |f| {
            f.add("QueueName", name);
            for (i, (k, v)) in attributes.iter().enumerate() {
                f.add(&format!("Attribute.{}.Name", i + 1), k);
                f.add(&format!("Attribute.{}.Value", i + 1), v);
            }
        })
    }

    fn send_call(&self, url: &str, body: &str) -> Call {
        let json = json!({ "QueueUrl": url, "MessageBody": body });
        self.sqs("SendMessage", json, |f| {
            f.add("QueueUrl", url).add("MessageBody", body);
        })
    }

    fn send_batch_call(&self, url: &str, bodies: &[String]) -> Call {
        let entries: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| json!({ "Id": format!("m{i}"), "MessageBody": b }))
            .collect();
        let json = json!({ "QueueUrl": url, "Entries": entries });
        self.sqs("SendMessageBatch", json, |f| {
            f.add("QueueUrl", url);
            for (i, b) in bodies.iter().enumerate() {
                let p = format!("SendMessageBatchRequestEntry.{}", i + 1);
                f.add(&format!("{p}.Id"), &format!("m{i}"));
                f.add(&format!("{p}.MessageBody"), b);
            }
        })
    }

    fn receive_call(&self, url: &str, max: u32, wait: u32) -> Call {
        let json = json!({ "QueueUrl": url, "MaxNumberOfMessages": max, "WaitTimeSeconds": wait });
        self.sqs("ReceiveMessage", json, |f| {
            f.add("QueueUrl", url)
                .add("MaxNumberOfMessages", &max.to_string())
                .add("WaitTimeSeconds", &wait.to_string());
        })
    }

    fn delete_batch_call(&self, url: &str, handles: &[String]) -> Call {
        let entries: Vec<Value> = handles
            .iter()
            .enumerate()
            .map(|(i, h)| json!({ "Id": format!("d{i}"), "ReceiptHandle": h }))
            .collect();
        let json = json!({ "QueueUrl": url, "Entries": entries });
        self.sqs("DeleteMessageBatch", json, |f| {
            f.add("QueueUrl", url);
            for (i, h) in handles.iter().enumerate() {
                let p = format!("DeleteMessageBatchRequestEntry.{}", i + 1);
                f.add(&format!("{p}.Id"), &format!("d{i}"));
                f.add(&format!("{p}.ReceiptHandle"), h);
            }
        })
    }

    // --- SQS operations used for setup ------------------------------------------------------

    async fn create_queue(
        &self,
        name: &str,
        attributes: &[(&str, &str)],
    ) -> Result<String, ApiError> {
        let body = self.call(&self.create_queue_call(name, attributes)).await?;
        match self.protocol {
            Protocol::Json => json_str(&body, "QueueUrl"),
            Protocol::Query => xml_str(&body, "QueueUrl"),
        }
    }

    async fn queue_arn(&self, url: &str) -> Result<String, ApiError> {
        let json = json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] });
        let call = self.sqs("GetQueueAttributes", json, |f| {
            f.add("QueueUrl", url).add("AttributeName.1", "QueueArn");
        });
        let body = self.call(&call).await?;
        match self.protocol {
            Protocol::Json => serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["Attributes"]["QueueArn"].as_str().map(str::to_owned))
                .ok_or_else(|| ApiError::bad_response("no Attributes.QueueArn")),
            Protocol::Query => {
                let text = String::from_utf8_lossy(&body);
                text.split_once("<Name>QueueArn</Name>")
                    .and_then(|(_, rest)| xml_first(rest, "Value"))
                    .map(xml_unescape)
                    .ok_or_else(|| ApiError::bad_response("no QueueArn attribute"))
            }
        }
    }

    async fn delete_queue(&self, url: &str) -> Result<(), ApiError> {
        let call = self.sqs("DeleteQueue", json!({ "QueueUrl": url }), |f| {
            f.add("QueueUrl", url);
        });
        self.call(&call).await.map(|_| ())
    }

    /// Creates `count` queues concurrently, named `<prefix>-<i>`.
    async fn create_queues(
        &self,
        prefix: &str,
        count: usize,
        attributes: &[(&str, &str)],
    ) -> Result<Vec<String>, ApiError> {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..count {
            let (bench, name) = (self.clone(), format!("{prefix}-{i}"));
            let attributes: Vec<(String, String)> = attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            set.spawn(async move {
                let attrs: Vec<(&str, &str)> = attributes
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                bench.create_queue(&name, &attrs).await.map(|u| (i, u))
            });
        }
        let mut urls = vec![String::new(); count];
        while let Some(joined) = set.join_next().await {
            let (i, url) = joined.map_err(|e| ApiError::transport(e.to_string()))??;
            urls[i] = url;
        }
        Ok(urls)
    }

    /// Deletes queues, ignoring failures (cleanup only).
    async fn delete_queues(&self, urls: &[String]) {
        let mut set = tokio::task::JoinSet::new();
        for url in urls {
            let (bench, url) = (self.clone(), url.clone());
            set.spawn(async move { bench.delete_queue(&url).await });
        }
        while set.join_next().await.is_some() {}
    }

    // --- SQS response parsers ----------------------------------------------------------------

    /// Number of failed entries of a batch answer.
    fn batch_failures(&self, body: &[u8]) -> Result<usize, ApiError> {
        match self.protocol {
            Protocol::Json => {
                if !contains(body, b"\"Failed\"") {
                    return Ok(0);
                }
                let v: Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_response(format!("batch answer: {e}")))?;
                Ok(v["Failed"].as_array().map_or(0, Vec::len))
            }
            Protocol::Query => Ok(count(body, b"<BatchResultErrorEntry>")),
        }
    }

    /// The messages of a ReceiveMessage answer.
    fn received(&self, body: &[u8]) -> Result<Vec<Received>, ApiError> {
        match self.protocol {
            Protocol::Json => {
                let v: Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_response(format!("receive answer: {e}")))?;
                let Some(messages) = v.get("Messages").and_then(Value::as_array) else {
                    return Ok(Vec::new());
                };
                messages
                    .iter()
                    .map(|m| {
                        Ok(Received {
                            handle: m["ReceiptHandle"]
                                .as_str()
                                .ok_or_else(|| {
                                    ApiError::bad_response("message without ReceiptHandle")
                                })?
                                .to_owned(),
                            body: m["Body"].as_str().unwrap_or_default().to_owned(),
                        })
                    })
                    .collect()
            }
            Protocol::Query => {
                let text = std::str::from_utf8(body)
                    .map_err(|e| ApiError::bad_response(format!("receive answer: {e}")))?;
                text.split("<Message>")
                    .skip(1)
                    .map(|m| {
                        Ok(Received {
                            handle: xml_first(m, "ReceiptHandle").map(xml_unescape).ok_or_else(
                                || ApiError::bad_response("message without ReceiptHandle"),
                            )?,
                            body: xml_first(m, "Body").map(xml_unescape).unwrap_or_default(),
                        })
                    })
                    .collect()
            }
        }
    }

    // --- SNS (query protocol only) -----------------------------------------------------------

    fn sns_call(form: Form) -> Call {
        Call {
            service: Service::Sns,
            target: None,
            body: Bytes::from(form.0),
        }
    }

    async fn create_topic(&self, name: &str) -> Result<String, ApiError> {
        let mut f = Form::new("CreateTopic", SNS_VERSION);
        f.add("Name", name);
        let body = self.call(&Self::sns_call(f)).await?;
        xml_str(&body, "TopicArn")
    }

    async fn delete_topic(&self, arn: &str) -> Result<(), ApiError> {
        let mut f = Form::new("DeleteTopic", SNS_VERSION);
        f.add("TopicArn", arn);
        self.call(&Self::sns_call(f)).await.map(|_| ())
    }

    async fn subscribe_sqs(
        &self,
        topic: &str,
        queue_arn: &str,
        filter_policy: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut f = Form::new("Subscribe", SNS_VERSION);
        f.add("TopicArn", topic)
            .add("Protocol", "sqs")
            .add("Endpoint", queue_arn)
            .add("ReturnSubscriptionArn", "true");
        if let Some(policy) = filter_policy {
            f.add("Attributes.entry.1.key", "FilterPolicy")
                .add("Attributes.entry.1.value", policy);
        }
        let body = self.call(&Self::sns_call(f)).await?;
        xml_str(&body, "SubscriptionArn")
    }

    fn publish_call(topic: &str, message: &str, attributes: &[(&str, &str)]) -> Call {
        let mut f = Form::new("Publish", SNS_VERSION);
        f.add("TopicArn", topic).add("Message", message);
        for (i, (name, value)) in attributes.iter().enumerate() {
            let p = format!("MessageAttributes.entry.{}", i + 1);
            f.add(&format!("{p}.Name"), name)
                .add(&format!("{p}.Value.DataType"), "String")
                .add(&format!("{p}.Value.StringValue"), value);
        }
        Self::sns_call(f)
    }
}

fn sqs_target(op: &'static str) -> &'static str {
    match op {
        "CreateQueue" => "AmazonSQS.CreateQueue",
        "GetQueueAttributes" => "AmazonSQS.GetQueueAttributes",
        "DeleteQueue" => "AmazonSQS.DeleteQueue",
        "SendMessage" => "AmazonSQS.SendMessage",
        "SendMessageBatch" => "AmazonSQS.SendMessageBatch",
        "ReceiveMessage" => "AmazonSQS.ReceiveMessage",
        "DeleteMessageBatch" => "AmazonSQS.DeleteMessageBatch",
        "ListQueues" => "AmazonSQS.ListQueues",
        _ => unreachable!("no X-Amz-Target for {op}"),
    }
}

struct Received {
    handle: String,
    body: String,
}

/// An `application/x-www-form-urlencoded` query-protocol body.
struct Form(String);

impl Form {
    fn new(action: &str, version: &str) -> Self {
        Form(format!("Action={action}&Version={version}"))
    }

    fn add(&mut self, key: &str, value: &str) -> &mut Self {
        self.0.push('&');
        url_encode_into(key, &mut self.0);
        self.0.push('=');
        url_encode_into(value, &mut self.0);
        self
    }
}

fn url_encode_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn json_str(body: &[u8], key: &str) -> Result<String, ApiError> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| ApiError::bad_response(format!("no {key} in the answer")))
}

fn xml_str(body: &[u8], tag: &str) -> Result<String, ApiError> {
    xml_first(&String::from_utf8_lossy(body), tag)
        .map(xml_unescape)
        .ok_or_else(|| ApiError::bad_response(format!("no <{tag}> in the answer")))
}

/// The raw text of the first `<tag>…</tag>` in `xml`.
fn xml_first<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// A deterministic printable body of `size` bytes.
fn make_body(size: usize, seed: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..size)
        .map(|i| char::from(ALPHABET[(i * 7 + seed) % ALPHABET.len()]))
        .collect()
}

fn batch_bodies(size: usize) -> Vec<String> {
    (0..10).map(|i| make_body(size, i)).collect()
}

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

/// Latencies (µs histogram), counts and the first few errors of one worker or workload.
struct Recorder {
    hist: Histogram<u64>,
    ops: u64,
    msgs: u64,
    errors: u64,
    first_errors: Vec<String>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            ops: 0,
            msgs: 0,
            errors: 0,
            first_errors: Vec::new(),
        }
    }

    /// One successful call that took `latency` and moved `msgs` messages.
    fn ok(&mut self, latency: Duration, msgs: u64) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.hist.saturating_record(micros);
        self.ops += 1;
        self.msgs += msgs;
    }

    fn error(&mut self, e: impl Display) {
        self.errors += 1;
        if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push(e.to_string());
        }
    }

    fn merge(&mut self, other: Recorder) {
        self.hist
            .add(&other.hist)
            .expect("histograms share their bounds");
        self.ops += other.ops;
        self.msgs += other.msgs;
        self.errors += other.errors;
        for e in other.first_errors {
            if self.first_errors.len() < KEPT_ERRORS {
                self.first_errors.push(e);
            }
        }
    }

    /// Takes over `other`'s error count and first errors (prefixed), not its latencies.
    fn absorb_errors(&mut self, other: &Recorder, prefix: &str) {
        self.errors += other.errors;
        for e in &other.first_errors {
            if self.first_errors.len() < KEPT_ERRORS {
                self.first_errors.push(format!("{prefix}: {e}"));
            }
        }
    }

    fn quantile_ms(&self, q: f64) -> Option<f64> {
        (!self.hist.is_empty()).then(|| self.hist.value_at_quantile(q) as f64 / 1000.0)
    }

    fn max_ms(&self) -> Option<f64> {
        (!self.hist.is_empty()).then(|| self.hist.max() as f64 / 1000.0)
    }
}

/// `USER_HZ`, the unit of the CPU times in /proc.
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; it only reads a configuration value.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if ticks > 0 {
            ticks as f64
        } else {
            100.0
        }
    })
}

/// Reads a process's memory and CPU time from /proc (Linux); without a pid, reads nothing.
struct Probe {
    pid: Option<u32>,
}

impl Probe {
    /// Resident set size in KiB (`VmRSS`).
    fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    /// The anonymous part of the RSS (heap, stacks), without mapped files, in KiB.
    fn rss_anon_kib(&self) -> Option<u64> {
        self.status_kib("RssAnon:")
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// "12.3 MiB (anon 10.1 MiB)", or "-".
    fn rss_text(&self) -> String {
        match (self.rss_kib(), self.rss_anon_kib()) {
            (Some(rss), Some(anon)) => format!("{} (anon {})", mib(rss), mib(anon)),
            (Some(rss), None) => mib(rss),
            _ => "-".to_owned(),
        }
    }

    /// User + system CPU seconds of all the process's threads.
    fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid?)).ok()?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let after = &stat[stat.rfind(')')? + 2..];
        let mut fields = after.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some((utime + stime) as f64 / clock_ticks_per_second())
    }
}

/// One row of the results.
struct Report {
    name: String,
    what: String,
    elapsed: Duration,
    rec: Recorder,
    /// Server CPU over the workload, in % of one core.
    server_cpu: Option<f64>,
    /// This program's own CPU over the workload, in % of one core.
    client_cpu: Option<f64>,
    /// CPU used by everything else on the machine (a busy neighbour spoils the numbers).
    other_cpu: Option<f64>,
    unsupported: bool,
    notes: Vec<String>,
    extra: Map<String, Value>,
}

impl Report {
    fn new(name: &str, what: impl Into<String>, elapsed: Duration, rec: Recorder) -> Self {
        Report {
            name: name.to_owned(),
            what: what.into(),
            elapsed,
            rec,
            server_cpu: None,
            client_cpu: None,
            other_cpu: None,
            unsupported: false,
            notes: Vec::new(),
            extra: Map::new(),
        }
    }

    /// A workload that could not run (setup failed).
    fn failed(name: &str, what: &str, e: &ApiError) -> Self {
        let mut rec = Recorder::new();
        let unsupported = e.is_unsupported();
        if !unsupported {
            rec.error(format!("setup: {e}"));
        }
        let mut r = Report::new(name, what, Duration::ZERO, rec);
        r.unsupported = unsupported;
        r.notes.push(if unsupported {
            format!("unsupported by target ({})", e.code)
        } else {
            "setup failed".to_owned()
        });
        r
    }

    fn per_second(&self, n: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            n as f64 / secs
        } else {
            0.0
        }
    }

    fn to_json(&self, target: &str, protocol: Protocol) -> Value {
        let mut v = json!({
            "workload": self.name,
            "description": self.what,
            "target": target,
            "protocol": format!("{protocol:?}").to_lowercase(),
            "status": if self.unsupported { "unsupported" } else { "ok" },
            "elapsed_s": self.elapsed.as_secs_f64(),
            "ops": self.rec.ops,
            "ops_per_s": self.per_second(self.rec.ops),
            "messages": self.rec.msgs,
            "messages_per_s": self.per_second(self.rec.msgs),
            "p50_ms": self.rec.quantile_ms(0.5),
            "p99_ms": self.rec.quantile_ms(0.99),
            "max_ms": self.rec.max_ms(),
            "errors": self.rec.errors,
            "first_errors": self.rec.first_errors,
            "server_cpu_pct": self.server_cpu,
            "client_cpu_pct": self.client_cpu,
            "other_cpu_pct": self.other_cpu,
            "notes": self.notes,
        });
        if let Value::Object(map) = &mut v {
            map.extend(self.extra.clone());
        }
        v
    }
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.decimals$}"))
}

fn print_table(reports: &[Report]) {
    println!(
        "{:<9} {:>10} {:>11} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7}  notes",
        "workload",
        "ops/s",
        "msgs/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "srv CPU",
        "cli CPU",
        "oth CPU"
    );
    for r in reports {
        if r.unsupported {
            println!("{:<9} {:>10}  {}", r.name, "-", r.notes.join("; "));
            continue;
        }
        let mut notes = vec![r.what.clone()];
        notes.extend(r.notes.iter().cloned());
        println!(
            "{:<9} {:>10.0} {:>11.0} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7}  {}",
            r.name,
            r.per_second(r.rec.ops),
            r.per_second(r.rec.msgs),
            fmt_opt(r.rec.quantile_ms(0.5), 3),
            fmt_opt(r.rec.quantile_ms(0.99), 3),
            fmt_opt(r.rec.max_ms(), 2),
            r.rec.errors,
            pct(r.server_cpu),
            pct(r.client_cpu),
            pct(r.other_cpu),
            notes.join("; ")
        );
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |c| format!("{c:.0}%"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Load loops
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Until {
    Elapsed(Duration),
    /// Stop after this many calls in total (over all workers).
    Calls(u64),
}

/// What a successful answer is worth.
#[derive(Clone, Copy)]
enum Expect {
    /// One message.
    One,
    /// A batch of this many entries; failed entries count as errors.
    Batch(u64),
}

/// `workers` tasks each send `call` back to back (a closed loop, one connection each).
async fn closed_loop(
    bench: &Bench,
    workers: usize,
    until: Until,
    call: &Call,
    expect: Expect,
) -> (Recorder, Duration) {
    let start = Instant::now();
    let claimed = Arc::new(AtomicU64::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let (bench, call, claimed) = (bench.clone(), call.clone(), claimed.clone());
        set.spawn(async move {
            let mut rec = Recorder::new();
            loop {
                let more = match until {
                    Until::Elapsed(d) => start.elapsed() < d,
                    Until::Calls(n) => claimed.fetch_add(1, Ordering::Relaxed) < n,
                };
                if !more {
                    break;
                }
                let t = Instant::now();
                match bench.call(&call).await {
                    Ok(body) => match expect {
                        Expect::One => rec.ok(t.elapsed(), 1),
                        Expect::Batch(n) => {
                            let latency = t.elapsed();
                            match bench.batch_failures(&body) {
                                Ok(0) => rec.ok(latency, n),
                                Ok(failed) => {
                                    let failed = (failed as u64).min(n);
                                    rec.ok(latency, n - failed);
                                    rec.error(format!("{failed} of {n} batch entries failed"));
                                }
                                Err(e) => rec.error(e),
                            }
                        }
                    },
                    Err(e) => {
                        let transport = e.status.is_none();
                        rec.error(e);
                        if transport {
                            // Do not spin on a dead connection.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
            rec
        });
    }
    let rec = join_recorders(set).await;
    (rec, start.elapsed())
}

async fn join_recorders(mut set: tokio::task::JoinSet<Recorder>) -> Recorder {
    let mut total = Recorder::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(rec) => total.merge(rec),
            Err(e) => total.error(format!("worker failed: {e}")),
        }
    }
    total
}

/// Receives (up to 10, long polling 1 s) and batch-deletes with `workers` tasks until `target`
/// messages were deleted or a worker saw `empties` empty answers in a row. Returns the bodies,
/// the recorder (receive and delete calls) and when the target was reached.
async fn drain(
    bench: &Bench,
    url: &str,
    workers: usize,
    target: Option<u64>,
    empties: u32,
) -> (Recorder, Vec<String>, Option<Instant>) {
    let deleted = Arc::new(AtomicU64::new(0));
    let done_at: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let receive = bench.receive_call(url, 10, 1);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let (bench, url, receive) = (bench.clone(), url.to_owned(), receive.clone());
        let (deleted, done_at) = (deleted.clone(), done_at.clone());
        set.spawn(async move {
            let mut rec = Recorder::new();
            let mut bodies = Vec::new();
            let mut empty_in_a_row = 0;
            while target.is_none_or(|t| deleted.load(Ordering::Relaxed) < t) {
                let t = Instant::now();
                let messages = match bench.call(&receive).await.and_then(|b| bench.received(&b)) {
                    Ok(m) => m,
                    Err(e) => {
                        rec.error(format!("receive: {e}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };

                if messages.is_empty() {
                    empty_in_a_row += 1;
                    if empty_in_a_row >= empties {
                        break;
                    }
                    continue;
                }
                // Latency of non-empty receives only (an empty one waits out its long poll).
                rec.ok(t.elapsed(), 0);
                empty_in_a_row = 0;
                let handles: Vec<String> = messages.iter().map(|m| m.handle.clone()).collect();
                let n = handles.len() as u64;
                bodies.extend(messages.into_iter().map(|m| m.body));
                let t = Instant::now();
                let failed = match bench
                    .call(&bench.delete_batch_call(&url, &handles))
                    .await
                    .and_then(|b| bench.batch_failures(&b))
                {
                    Ok(f) => f as u64,
                    Err(e) => {
                        rec.error(format!("delete: {e}"));
                        continue;
                    }
                };
                if failed > 0 {
                    rec.error(format!("{failed} of {n} deletes failed"));
                }
                let ok = n.saturating_sub(failed);
                rec.ok(t.elapsed(), ok);
                let before = deleted.fetch_add(ok, Ordering::Relaxed);
                if let Some(target) = target {
                    if before < target && before + ok >= target {
                        let _ = done_at.set(Instant::now());
                    }
                }
            }
            (rec, bodies)
        });
    }
    let mut total = Recorder::new();
    let mut bodies = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((rec, b)) => {
                total.merge(rec);
                bodies.extend(b);
            }
            Err(e) => total.error(format!("worker failed: {e}")),
        }
    }
    (total, bodies, done_at.get().copied())
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

struct Ctx {
    bench: Bench,
    args: Args,
    /// The server process (no pid: CPU and RSS are not measured).
    probe: Probe,
    /// This process, to tell a saturated client from a slow server.
    self_probe: Probe,
}

impl Ctx {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.args.duration)
    }

    /// Runs one workload and fills in the server's and this program's CPU use over it (unless
    /// the workload measured the server's itself).
    async fn measured(&self, workload: impl std::future::Future<Output = Report>) -> Report {
        let mark = self.cpu_mark();
        let mut report = workload.await;
        if report.client_cpu.is_none() {
            self.cpu_since(&mark).apply(&mut report);
        }
        report
    }

    fn cpu_mark(&self) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            server: self.probe.cpu_seconds(),
            client: self.self_probe.cpu_seconds(),
            machine: machine_busy_seconds(),
        }
    }

    /// CPU use (% of one core) of the server, of this program and of the rest since `mark`.
    fn cpu_since(&self, mark: &CpuMark) -> CpuUse {
        let secs = mark.at.elapsed().as_secs_f64().max(1e-9);
        let percent =
            |before: Option<f64>, after: Option<f64>| Some((after? - before?) / secs * 100.0);
        let server = percent(mark.server, self.probe.cpu_seconds());
        let client = percent(mark.client, self.self_probe.cpu_seconds());
        let machine = percent(mark.machine, machine_busy_seconds());
        CpuUse {
            server,
            client,
            other: machine.map(|m| (m - server.unwrap_or(0.0) - client.unwrap_or(0.0)).max(0.0)),
        }
    }
}

struct CpuMark {
    at: Instant,
    server: Option<f64>,
    client: Option<f64>,
    machine: Option<f64>,
}

struct CpuUse {
    server: Option<f64>,
    client: Option<f64>,
    other: Option<f64>,
}

impl CpuUse {
    fn apply(self, report: &mut Report) {
        (report.server_cpu, report.client_cpu, report.other_cpu) =
            (self.server, self.client, self.other);
    }
}

/// Busy (non-idle, non-iowait) CPU seconds of the whole machine, from /proc/stat.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    let busy: u64 = fields.iter().take(8).sum::<u64>() - fields.get(3)? - fields.get(4)?;
    Some(busy as f64 / clock_ticks_per_second())
}

/// W1: SendMessage with 1 KiB bodies over `--connections` connections.
async fn w1_send(ctx: &Ctx) -> Report {
    let what = format!(
        "SendMessage {} B, {} conns",
        ctx.args.body_size, ctx.args.connections
    );
    let b = &ctx.bench;
    let url = match b.create_queue(&b.name("w1"), &[]).await {
        Ok(u) => u,
        Err(e) => return Report::failed("W1", &what, &e),
    };
    let call = b.send_call(&url, &make_body(ctx.args.body_size, 0));
    let (rec, elapsed) = closed_loop(
        b,
        ctx.args.connections,
        Until::Elapsed(ctx.duration()),
        &call,
        Expect::One,
    )
    .await;
    let mut r = Report::new("W1", what, elapsed, rec);
    if let Some(rss) = ctx.probe.rss_kib() {
        r.notes.push(format!("RSS after {}", ctx.probe.rss_text()));
        r.extra.insert("rss_after_kib".into(), rss.into());
        r.extra
            .insert("rss_anon_after_kib".into(), ctx.probe.rss_anon_kib().into());
    }
    let _ = b.delete_queue(&url).await;
    r
}

/// W2: SendMessageBatch of 10 × 1 KiB.
async fn w2_send_batch(ctx: &Ctx) -> Report {
    let what = format!(
        "SendMessageBatch 10×{} B, {} conns",
        ctx.args.body_size, ctx.args.connections
    );
    let b = &ctx.bench;
    let url = match b.create_queue(&b.name("w2"), &[]).await {
        Ok(u) => u,
        Err(e) => return Report::failed("W2", &what, &e),
    };
    let call = b.send_batch_call(&url, &batch_bodies(ctx.args.body_size));
    let (rec, elapsed) = closed_loop(
        b,
        ctx.args.connections,
        Until::Elapsed(ctx.duration()),
        &call,
        Expect::Batch(10),
    )
    .await;
    let _ = b.delete_queue(&url).await;
    Report::new("W2", what, elapsed, rec)
}

/// W3: pre-fill a queue, then drain it with ReceiveMessage(10) + DeleteMessageBatch.
async fn w3_drain(ctx: &Ctx) -> Report {
    let what = format!(
        "drain {} msgs, Receive(10)+DeleteBatch, {} workers",
        ctx.args.prefill, ctx.args.drain_workers
    );
    let b = &ctx.bench;
    let url = match b
        .create_queue(&b.name("w3"), &[("VisibilityTimeout", "600")])
        .await
    {
        Ok(u) => u,
        Err(e) => return Report::failed("W3", &what, &e),
    };
    let fill = b.send_batch_call(&url, &batch_bodies(ctx.args.body_size));
    let (fill_rec, fill_elapsed) = closed_loop(
        b,
        ctx.args.connections,
        Until::Calls(ctx.args.prefill.div_ceil(10)),
        &fill,
        Expect::Batch(10),
    )
    .await;
    let target = fill_rec.msgs;
    let mark = ctx.cpu_mark();
    let (mut rec, _, done_at) = drain(b, &url, ctx.args.drain_workers, Some(target), 3).await;
    let drain_cpu = ctx.cpu_since(&mark);
    let elapsed = done_at.unwrap_or_else(Instant::now) - mark.at;
    if rec.msgs != target {
        rec.error(format!("drained {} of {target} messages", rec.msgs));
    }
    rec.absorb_errors(&fill_rec, "prefill");
    let mut r = Report::new("W3", what, elapsed, rec);
    drain_cpu.apply(&mut r);
    let fill_rate = target as f64 / fill_elapsed.as_secs_f64().max(1e-9);
    r.notes.push(format!("prefill {:.0} msgs/s", fill_rate));
    r.extra.insert("prefill_messages".into(), target.into());
    r.extra
        .insert("prefill_messages_per_s".into(), fill_rate.into());
    let _ = b.delete_queue(&url).await;
    r
}

/// W7: a no-op Node handler behind an SQS event source mapping (BatchSize 10): the queue is
/// pre-filled with the mapping disabled, then the mapping is enabled and the time until the
/// queue is empty measured. Needs `node` on PATH and a server that runs Lambda functions.
/// lyrebird's own share of each invocation is reported from its invocation log
/// (`overhead_micros`: from the batch received to the event written to the waiting runtime, plus
/// from its response to the batch deleted; the handler's and the process's own time left out).
async fn w7_lambda(ctx: &Ctx) -> Report {
    let what = format!(
        "drain {} msgs into a no-op Node handler, BatchSize 10",
        ctx.args.prefill
    );
    let b = &ctx.bench;
    let function = b.name("w7-noop");
    let url = match b
        .create_queue(&b.name("w7"), &[("VisibilityTimeout", "600")])
        .await
    {
        Ok(u) => u,
        Err(e) => return Report::failed("W7", &what, &e),
    };
    let queue_arn = format!(
        "arn:aws:sqs:{}:000000000000:{}",
        ctx.args.region,
        url.rsplit('/').next().unwrap_or_default()
    );
    let zip = stored_zip("index.js", b"exports.handler = async () => {};\n");
    let created = b
        .rest(
            Method::POST,
            "/2015-03-31/functions",
            json!({
                "FunctionName": function,
                "Runtime": "nodejs20.x",
                "Handler": "index.handler",
                "Role": "arn:aws:iam::000000000000:role/bench",
                "Timeout": 30,
                "Code": {"ZipFile": base64(&zip)},
            }),
        )
        .await;
    if let Err(e) = created {
        let _ = b.delete_queue(&url).await;
        return Report::failed("W7", &what, &e);
    }
    let mapping = match b
        .rest(
            Method::POST,
            "/2015-03-31/event-source-mappings/",
            json!({"FunctionName": function, "EventSourceArn": queue_arn,
                   "BatchSize": 10, "Enabled": false}),
        )
        .await
        .and_then(|body| {
            serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["UUID"].as_str().map(str::to_owned))
                .ok_or_else(|| ApiError::transport("no UUID in the answer"))
        }) {
        Ok(uuid) => uuid,
        Err(e) => {
            let _ = b.delete_queue(&url).await;
            return Report::failed("W7", &what, &e);
        }
    };
    let fill = b.send_batch_call(&url, &batch_bodies(ctx.args.body_size));
    let (fill_rec, _) = closed_loop(
        b,
        ctx.args.connections,
        Until::Calls(ctx.args.prefill.div_ceil(10)),
        &fill,
        Expect::Batch(10),
    )
    .await;
    let target = fill_rec.msgs;
    let mark = ctx.cpu_mark();
    let mut rec = Recorder::new();
    if let Err(e) = b
        .rest(
            Method::PUT,
            &format!("/2015-03-31/event-source-mappings/{mapping}"),
            json!({"Enabled": true}),
        )
        .await
    {
        rec.error(e);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut left = target;
    while Instant::now() < deadline {
        match b.messages_left(&url).await {
            Ok(0) => {
                left = 0;
                break;
            }
            Ok(n) => left = n,
            Err(e) => rec.error(e),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = mark.at.elapsed();
    let cpu = ctx.cpu_since(&mark);
    rec.msgs = target - left.min(target);
    if left > 0 {
        rec.error(format!("{left} of {target} messages left after 300 s"));
    }
    // Invocation durations as lyrebird measured them (request to response on the Runtime API),
    // and lyrebird's own time in each.
    let mut durations: Vec<f64> = Vec::new();
    let mut overheads: Vec<f64> = Vec::new();
    let mut dispatches: Vec<f64> = Vec::new();
    if let Ok(body) = b
        .rest(
            Method::GET,
            &format!("/_lyrebird/lambda/invocations?function={function}"),
            Value::Null,
        )
        .await
    {
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            for i in v["Invocations"].as_array().into_iter().flatten() {
                if let Some(d) = i["duration_ms"].as_f64() {
                    durations.push(d);
                }
                if let Some(o) = i["overhead_micros"].as_f64() {
                    overheads.push(o / 1000.0);
                }
                if let Some(d) = i["dispatch_micros"].as_f64() {
                    dispatches.push(d / 1000.0);
                }
            }
        }
    }
    rec.ops = durations.len() as u64;
    let mut r = Report::new("W7", what, elapsed, rec);
    cpu.apply(&mut r);
    durations.sort_by(|a, b| a.total_cmp(b));
    overheads.sort_by(|a, b| a.total_cmp(b));
    dispatches.sort_by(|a, b| a.total_cmp(b));
    let pct = |values: &[f64], p: f64| {
        values
            .get(((values.len() as f64 * p) as usize).min(values.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    r.notes.push(format!(
        "{} invocations (log keeps the last 1,000), duration p50 {:.2} ms p99 {:.2} ms",
        durations.len(),
        pct(&durations, 0.5),
        pct(&durations, 0.99)
    ));
    r.notes.push(format!(
        "lyrebird's own time per invocation ({} measured): p50 {:.3} ms p99 {:.3} ms max {:.3} ms",
        overheads.len(),
        pct(&overheads, 0.5),
        pct(&overheads, 0.99),
        overheads.last().copied().unwrap_or(0.0)
    ));
    r.notes.push(format!(
        "of which dispatch (ready to event written): p50 {:.3} ms p99 {:.3} ms",
        pct(&dispatches, 0.5),
        pct(&dispatches, 0.99)
    ));
    r.extra
        .insert("invocation_p50_ms".into(), pct(&durations, 0.5).into());
    r.extra
        .insert("invocation_p99_ms".into(), pct(&durations, 0.99).into());
    r.extra
        .insert("overhead_p50_ms".into(), pct(&overheads, 0.5).into());
    r.extra
        .insert("overhead_p99_ms".into(), pct(&overheads, 0.99).into());
    let _ = b
        .rest(
            Method::DELETE,
            &format!("/2015-03-31/event-source-mappings/{mapping}"),
            Value::Null,
        )
        .await;
    let _ = b
        .rest(
            Method::DELETE,
            &format!("/2015-03-31/functions/{function}"),
            Value::Null,
        )
        .await;
    let _ = b.delete_queue(&url).await;
    r
}

/// A zip archive of one file, stored (no compression): all a CreateFunction needs.
fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let mut out = Vec::new();
    let le16 = |v: &mut Vec<u8>, n: u16| v.extend_from_slice(&n.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, n: u32| v.extend_from_slice(&n.to_le_bytes());
    // Local file header.
    le32(&mut out, 0x0403_4b50);
    for n in [20u16, 0, 0, 0, 0] {
        le16(&mut out, n);
    }
    le32(&mut out, crc);
    le32(&mut out, data.len() as u32);
    le32(&mut out, data.len() as u32);
    le16(&mut out, name.len() as u16);
    le16(&mut out, 0);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let central = out.len() as u32;
    le32(&mut out, 0x0201_4b50);
    for n in [20u16, 20, 0, 0, 0, 0] {
        le16(&mut out, n);
    }
    le32(&mut out, crc);
    le32(&mut out, data.len() as u32);
    le32(&mut out, data.len() as u32);
    le16(&mut out, name.len() as u16);
    for n in [0u16, 0, 0, 0] {
        le16(&mut out, n);
    }
    le32(&mut out, 0o100644 << 16);
    le32(&mut out, 0);
    out.extend_from_slice(name.as_bytes());
    let central_size = out.len() as u32 - central;
    le32(&mut out, 0x0605_4b50);
    for n in [0u16, 0, 1, 1] {
        le16(&mut out, n);
    }
    le32(&mut out, central_size);
    le32(&mut out, central);
    le16(&mut out, 0);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// W4: SNS fan-out to three SQS queues (one filtered), verified end to end; then publish latency
/// with 1, 3 and 10 subscriptions.
async fn w4_sns(ctx: &Ctx) -> Vec<Report> {
    let what = format!(
        "Publish {} B → 3 SQS subs (1 filtered), {} conns",
        ctx.args.body_size, ctx.args.connections
    );
    let main = ctx.measured(w4_fanout_verified(ctx, &what)).await;
    let mut reports = vec![];
    let unsupported = main.unsupported;
    reports.push(main);
    for subs in [1, 3, 10] {
        let name = format!("W4-{subs}");
        if unsupported {
            let mut r = Report::new(&name, "", Duration::ZERO, Recorder::new());
            r.unsupported = true;
            r.notes.push("unsupported by target".into());
            reports.push(r);
        } else {
            reports.push(ctx.measured(w4_publish_latency(ctx, &name, subs)).await);
        }
    }
    reports
}

/// The published message for sequence number `seq`: `w4:<seq>:<y|n>:<padding>`.
fn w4_message(seq: u64, half: bool, size: usize) -> String {
    let mut m = format!("w4:{seq}:{}:", if half { 'y' } else { 'n' });
    let pad = size.saturating_sub(m.len());
    m.push_str(&make_body(pad, seq as usize % 61));
    m
}

/// Sequence number of a delivered body (raw or in the SNS JSON envelope).
fn w4_seq(body: &str) -> Option<u64> {
    let envelope;
    let message = if body.starts_with('{') {
        envelope = serde_json::from_str::<Value>(body).ok()?;
        envelope.get("Message")?.as_str()?
    } else {
        body
    };
    message.strip_prefix("w4:")?.split(':').next()?.parse().ok()
}

async fn w4_fanout_verified(ctx: &Ctx, what: &str) -> Report {
    let b = &ctx.bench;
    let topic = match b.create_topic(&b.name("w4")).await {
        Ok(t) => t,
        Err(e) => return Report::failed("W4", what, &e),
    };
    let queues = match b
        .create_queues(&b.name("w4"), 3, &[("VisibilityTimeout", "600")])
        .await
    {
        Ok(q) => q,
        Err(e) => {
            let _ = b.delete_topic(&topic).await;
            return Report::failed("W4", what, &e);
        }
    };
    for (i, url) in queues.iter().enumerate() {
        let policy = (i == 2).then_some(r#"{"half":["yes"]}"#);
        let subscribed = match b.queue_arn(url).await {
            Ok(arn) => b.subscribe_sqs(&topic, &arn, policy).await,
            Err(e) => Err(e),
        };
        if let Err(e) = subscribed {
            let _ = b.delete_topic(&topic).await;
            b.delete_queues(&queues).await;
            return Report::failed("W4", what, &e);
        }
    }

    // Publish for --duration; every worker remembers which sequence numbers were accepted.
    let start = Instant::now();
    let duration = ctx.duration();
    let seq = Arc::new(AtomicU64::new(0));
    let unsupported = Arc::new(AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..ctx.args.connections.max(1) {
        let (bench, topic, seq, unsupported) =
            (b.clone(), topic.clone(), seq.clone(), unsupported.clone());
        let size = ctx.args.body_size;
        set.spawn(async move {
            let mut rec = Recorder::new();
            let mut published = Vec::new();
            while start.elapsed() < duration && !unsupported.load(Ordering::Relaxed) {
                let s = seq.fetch_add(1, Ordering::Relaxed);
                let half = s % 2 == 0;
                let attrs: &[(&str, &str)] = if half { &[("half", "yes")] } else { &[] };
                let call = Bench::publish_call(&topic, &w4_message(s, half, size), attrs);
                let t = Instant::now();
                match bench.call(&call).await {
                    Ok(_) => {
                        rec.ok(t.elapsed(), 0);
                        published.push(s);
                    }
                    Err(e) if e.is_unsupported() => {
                        unsupported.store(true, Ordering::Relaxed);
                        rec.error(e);
                    }
                    Err(e) => rec.error(e),
                }
            }
            (rec, published)
        });
    }
    let mut rec = Recorder::new();
    let mut published = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((r, p)) => {
                rec.merge(r);
                published.extend(p);
            }
            Err(e) => rec.error(format!("worker failed: {e}")),
        }
    }
    let elapsed = start.elapsed();
    if unsupported.load(Ordering::Relaxed) && published.is_empty() {
        let _ = b.delete_topic(&topic).await;
        b.delete_queues(&queues).await;
        let mut r = Report::new("W4", what, elapsed, Recorder::new());
        r.unsupported = true;
        r.notes.push("unsupported by target (Publish)".into());
        return r;
    }

    // Drain the three queues concurrently and check each got exactly what it should.
    let drain_start = Instant::now();
    let max_seq = usize::try_from(seq.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
    let mut was_published = vec![false; max_seq];
    for &s in &published {
        was_published[s as usize] = true;
    }
    let (d0, d1, d2) = tokio::join!(
        drain(b, &queues[0], 4, None, 2),
        drain(b, &queues[1], 4, None, 2),
        drain(b, &queues[2], 4, None, 2)
    );
    let drained = [d0, d1, d2];
    let drain_elapsed = drain_start.elapsed();
    let labels = ["all-1", "all-2", "filtered"];
    let mut delivered = 0u64;
    for (i, (drain_rec, bodies, _)) in drained.into_iter().enumerate() {
        rec.absorb_errors(&drain_rec, &format!("drain {}", labels[i]));
        let mut got = vec![0u32; max_seq];
        let mut unparsable = 0u64;
        for body in &bodies {
            match w4_seq(body).and_then(|s| got.get_mut(s as usize)) {
                Some(c) => *c += 1,
                None => unparsable += 1,
            }
        }
        delivered += bodies.len() as u64;
        let (mut missing, mut duplicates, mut unexpected) = (0u64, 0u64, 0u64);
        for s in 0..max_seq {
            let expected = was_published[s] && (i < 2 || s % 2 == 0);
            let c = u64::from(got[s]);
            if expected {
                missing += u64::from(c == 0);
                duplicates += c.saturating_sub(1);
            } else {
                unexpected += c;
            }
        }
        let bad = missing + duplicates + unexpected + unparsable;
        if bad > 0 {
            rec.errors += bad;
            if rec.first_errors.len() < KEPT_ERRORS {
                rec.first_errors.push(format!(
                    "queue {}: {missing} missing, {duplicates} duplicated, {unexpected} unexpected, {unparsable} unparsable",
                    labels[i]
                ));
            }
        }
    }
    rec.msgs = delivered;
    let halves = published.iter().filter(|&&s| s % 2 == 0).count();
    let mut r = Report::new("W4", what, elapsed, rec);
    r.notes.push(format!(
        "published {}, delivered {delivered} (expected {}), drained in {:.1} s",
        published.len(),
        2 * published.len() + halves,
        drain_elapsed.as_secs_f64()
    ));
    r.extra.insert("published".into(), published.len().into());
    r.extra.insert("delivered".into(), delivered.into());
    r.extra.insert(
        "expected_deliveries".into(),
        (2 * published.len() + halves).into(),
    );
    let _ = b.delete_topic(&topic).await;
    b.delete_queues(&queues).await;
    r
}

/// W4-N: publish latency with N SQS subscriptions (no filter).
async fn w4_publish_latency(ctx: &Ctx, name: &str, subs: usize) -> Report {
    let what = format!(
        "Publish {} B → {subs} SQS subs, {} conns",
        ctx.args.body_size, ctx.args.connections
    );
    let b = &ctx.bench;
    let label = name.to_lowercase();
    let topic = match b.create_topic(&b.name(&label)).await {
        Ok(t) => t,
        Err(e) => return Report::failed(name, &what, &e),
    };
    let queues = match b.create_queues(&b.name(&label), subs, &[]).await {
        Ok(q) => q,
        Err(e) => {
            let _ = b.delete_topic(&topic).await;
            return Report::failed(name, &what, &e);
        }
    };
    for url in &queues {
        let subscribed = match b.queue_arn(url).await {
            Ok(arn) => b.subscribe_sqs(&topic, &arn, None).await,
            Err(e) => Err(e),
        };
        if let Err(e) = subscribed {
            let _ = b.delete_topic(&topic).await;
            b.delete_queues(&queues).await;
            return Report::failed(name, &what, &e);
        }
    }
    let call = Bench::publish_call(&topic, &make_body(ctx.args.body_size, 3), &[]);
    let duration = Duration::from_secs_f64(ctx.args.fanout_duration);
    let (mut rec, elapsed) = closed_loop(
        b,
        ctx.args.connections,
        Until::Elapsed(duration),
        &call,
        Expect::One,
    )
    .await;
    rec.msgs *= subs as u64;
    let _ = b.delete_topic(&topic).await;
    b.delete_queues(&queues).await;
    let mut r = Report::new(name, what, elapsed, rec);
    r.notes.push("msgs/s = deliveries".into());
    r
}

/// W5: one connection, sequential SendMessage.
async fn w5_sequential(ctx: &Ctx) -> Report {
    let what = format!("SendMessage {} B, 1 conn, sequential", ctx.args.body_size);
    let b = ctx.bench.with_fresh_client();
    let url = match b.create_queue(&b.name("w5"), &[]).await {
        Ok(u) => u,
        Err(e) => return Report::failed("W5", &what, &e),
    };
    let call = b.send_call(&url, &make_body(ctx.args.body_size, 5));
    let (rec, elapsed) =
        closed_loop(&b, 1, Until::Elapsed(ctx.duration()), &call, Expect::One).await;
    let _ = b.delete_queue(&url).await;
    Report::new("W5", what, elapsed, rec)
}

/// W6: many idle long polls (server CPU while waiting), then one message per queue (wake-up
/// latency: send → receive, per message).
async fn w6_long_poll(ctx: &Ctx) -> Report {
    let a = &ctx.args;
    let what = format!(
        "{} long polls (wait {} s) on {} queues",
        a.receivers, a.wait_seconds, a.idle_queues
    );
    // Receivers get their own pool; setup and the sends use the main one (warm connections).
    let b = ctx.bench.with_fresh_client();
    let n_queues = a.idle_queues.max(1);
    let queues = match ctx.bench.create_queues(&b.name("w6"), n_queues, &[]).await {
        Ok(q) => Arc::new(q),
        Err(e) => return Report::failed("W6", &what, &e),
    };
    let receive_calls: Arc<Vec<Call>> = Arc::new(
        queues
            .iter()
            .map(|u| b.receive_call(u, 1, a.wait_seconds))
            .collect(),
    );
    let sent_at: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..n_queues).map(|_| OnceLock::new()).collect());
    let received: Arc<Vec<AtomicBool>> =
        Arc::new((0..n_queues).map(|_| AtomicBool::new(false)).collect());
    let queues_done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(tokio::sync::Notify::new());
    let polling = Arc::new(AtomicUsize::new(0));

    let mut set = tokio::task::JoinSet::new();
    for i in 0..a.receivers.max(1) {
        let q = i % n_queues;
        let (bench, calls, sent_at, received) = (
            b.clone(),
            receive_calls.clone(),
            sent_at.clone(),
            received.clone(),
        );
        let (queues_done, all_done, polling) =
            (queues_done.clone(), all_done.clone(), polling.clone());
        set.spawn(async move {
            let mut rec = Recorder::new();
            loop {
                polling.fetch_add(1, Ordering::Relaxed);
                let result = bench
                    .call(&calls[q])
                    .await
                    .and_then(|body| bench.received(&body));
                polling.fetch_sub(1, Ordering::Relaxed);
                match result {
                    Ok(messages) if messages.is_empty() => {}
                    Ok(messages) => {
                        let now = Instant::now();
                        if let Some(sent) = sent_at[q].get() {
                            rec.ok(now - *sent, messages.len() as u64);
                        }
                        if !received[q].swap(true, Ordering::Relaxed)
                            && queues_done.fetch_add(1, Ordering::Relaxed) + 1 == n_queues
                        {
                            all_done.notify_one();
                        }
                        break;
                    }
                    Err(e) => {
                        rec.error(e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            rec
        });
    }

    // Let every receiver connect and park, then sample the server's CPU over the idle wait.
    let settle = Instant::now();
    while polling.load(Ordering::Relaxed) < a.receivers && settle.elapsed() < Duration::from_secs(3)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mark = ctx.cpu_mark();
    tokio::time::sleep(Duration::from_secs_f64(a.idle_seconds)).await;
    let idle = ctx.cpu_since(&mark);
    let idle_cpu = idle.server;

    // One message per queue, all sent at once.
    let send_start = Instant::now();
    let mut sends = tokio::task::JoinSet::new();
    for (q, url) in queues.iter().enumerate() {
        let (bench, sent_at) = (ctx.bench.clone(), sent_at.clone());
        let call = b.send_call(url, &format!("w6-{q}"));
        sends.spawn(async move {
            let _ = sent_at[q].set(Instant::now());
            bench.call(&call).await
        });
    }
    let mut send_errors = Vec::new();
    while let Some(joined) = sends.join_next().await {
        match joined {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => send_errors.push(format!("send: {e}")),
            Err(e) => send_errors.push(format!("send task: {e}")),
        }
    }
    let all_received = tokio::time::timeout(
        Duration::from_secs(u64::from(a.wait_seconds) + 10),
        all_done.notified(),
    )
    .await
    .is_ok()
        || queues_done.load(Ordering::Relaxed) == n_queues;
    let all_elapsed = send_start.elapsed();
    let got = queues_done.load(Ordering::Relaxed);
    set.abort_all();
    let mut rec = Recorder::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(r) = joined {
            rec.merge(r);
        }
    }
    for e in send_errors {
        rec.error(e);
    }
    if !all_received {
        rec.error(format!(
            "only {got} of {n_queues} queues delivered their message"
        ));
    }
    b.delete_queues(&queues).await;

    let mut r = Report::new("W6", what, all_elapsed, rec);
    idle.apply(&mut r);
    r.notes.push(format!(
        "idle CPU {} over {:.0} s; all {n_queues} received {:.1} ms after send; latency = send→receive",
        fmt_opt(idle_cpu, 2) + "%",
        a.idle_seconds,
        all_elapsed.as_secs_f64() * 1000.0
    ));
    r.extra.insert("idle_cpu_pct".into(), idle_cpu.into());
    r.extra.insert(
        "all_received_ms".into(),
        (all_elapsed.as_secs_f64() * 1000.0).into(),
    );
    r.extra.insert("queues_received".into(), got.into());
    r
}

/// Backlog: leave `--backlog` small messages in one queue and read the server's RSS.
async fn backlog(ctx: &Ctx) -> Report {
    let a = &ctx.args;
    let what = format!(
        "{} × {} B via SendMessageBatch, {} conns",
        a.backlog, a.backlog_body_size, a.connections
    );
    let b = &ctx.bench;
    let url = match b.create_queue(&b.name("backlog"), &[]).await {
        Ok(u) => u,
        Err(e) => return Report::failed("backlog", &what, &e),
    };
    let (rss_before, anon_before) = (ctx.probe.rss_kib(), ctx.probe.rss_anon_kib());
    let call = b.send_batch_call(&url, &batch_bodies(a.backlog_body_size));
    let (rec, elapsed) = closed_loop(
        b,
        a.connections,
        Until::Calls(a.backlog.div_ceil(10)),
        &call,
        Expect::Batch(10),
    )
    .await;
    let stored = rec.msgs;
    let mut r = Report::new("backlog", what, elapsed, rec);
    let per_msg = |before: u64, after: u64| {
        (after.saturating_sub(before) * 1024) as f64 / stored.max(1) as f64
    };
    if let (Some(before), Some(after)) = (rss_before, ctx.probe.rss_kib()) {
        let mut note = format!(
            "RSS {} → {} ({:.0} B/msg)",
            mib(before),
            mib(after),
            per_msg(before, after)
        );
        r.extra.insert("rss_before_kib".into(), before.into());
        r.extra.insert("rss_after_kib".into(), after.into());
        r.extra.insert(
            "rss_bytes_per_message".into(),
            per_msg(before, after).into(),
        );
        if let (Some(anon_before), Some(anon)) = (anon_before, ctx.probe.rss_anon_kib()) {
            let _ = write!(
                note,
                ", anon {} → {} ({:.0} B/msg)",
                mib(anon_before),
                mib(anon),
                per_msg(anon_before, anon)
            );
            r.extra.insert("rss_anon_after_kib".into(), anon.into());
            r.extra.insert(
                "rss_anon_bytes_per_message".into(),
                per_msg(anon_before, anon).into(),
            );
        }
        r.notes.push(note);
    }
    let _ = b.delete_queue(&url).await;
    if let Some(rss) = ctx.probe.rss_kib() {
        r.notes
            .push(format!("after DeleteQueue {}", ctx.probe.rss_text()));
        r.extra.insert("rss_after_delete_kib".into(), rss.into());
    }
    r
}

/// An EventBridge (AWS JSON 1.1) call.
fn events_call(op: &str, json: Value) -> Call {
    Call {
        service: Service::Events,
        target: HeaderValue::from_str(&format!("AWSEvents.{op}")).ok(),
        body: Bytes::from(json.to_string()),
    }
}

/// EB: one measurement per `--eb-rules` entry (`RULESxMATCHING`).
async fn eb_workloads(ctx: &Ctx) -> Vec<Report> {
    let mut reports = Vec::new();
    for spec in &ctx.args.eb_rules {
        let parsed = spec
            .split_once('x')
            .and_then(|(r, m)| Some((r.parse::<usize>().ok()?, m.parse::<usize>().ok()?)));
        match parsed {
            Some((rules, matching)) if rules >= 1 && matching <= rules => {
                reports.push(ctx.measured(eb_put_events(ctx, rules, matching)).await)
            }
            _ => reports.push(Report::failed(
                "EB",
                spec,
                &ApiError::bad_response("--eb-rules entries are RULESxMATCHING"),
            )),
        }
    }
    reports
}

/// PutEvents of 10 entries on a bus with `rules` rules, `matching` of which each event
/// matches (each with one SQS queue target); the others pin other detail types, as a bus
/// shared by many producers has them.
async fn eb_put_events(ctx: &Ctx, rules: usize, matching: usize) -> Report {
    let name = format!("EB-{rules}r-{matching}m");
    let what = format!(
        "PutEvents 10 entries, {rules} rules, {matching} matching (SQS targets), {} conns",
        ctx.args.connections
    );
    let b = &ctx.bench;
    let bus = b.name(&format!("eb{rules}-{matching}"));
    let setup = async {
        b.call(&events_call("CreateEventBus", json!({ "Name": bus })))
            .await?;
        let mut queues = Vec::new();
        for i in 0..rules {
            let rule = format!("rule-{i}");
            let pattern = if i < matching {
                json!({"source": ["bench.orders"], "detail-type": ["OrderCreated"],
                       "detail": {"amount": [{"numeric": [">", 1000]}]}})
            } else {
                json!({"source": ["bench.orders"], "detail-type": [format!("Other-{i}")]})
            };
            b.call(&events_call(
                "PutRule",
                json!({"Name": rule, "EventBusName": bus, "EventPattern": pattern.to_string()}),
            ))
            .await?;
            if i < matching {
                let url = b
                    .create_queue(&b.name(&format!("eb{rules}-{i}")), &[])
                    .await?;
                let arn = b.queue_arn(&url).await?;
                b.call(&events_call(
                    "PutTargets",
                    json!({"Rule": rule, "EventBusName": bus,
                           "Targets": [{"Id": "q", "Arn": arn}]}),
                ))
                .await?;
                queues.push(url);
            }
        }
        Ok::<_, ApiError>(queues)
    };
    let queues = match setup.await {
        Ok(q) => q,
        Err(e) => return Report::failed(&name, &what, &e),
    };
    let entry = json!({
        "Source": "bench.orders",
        "DetailType": "OrderCreated",
        "Detail": json!({"orderId": "o-1", "amount": 1500, "status": "pending"}).to_string(),
        "EventBusName": bus,
    });
    let call = events_call("PutEvents", json!({ "Entries": vec![entry; 10] }));
    // One checked call first: every entry must be accepted.
    match b.call(&call).await {
        Ok(body) if contains(&body, b"\"FailedEntryCount\":0") => {}
        Ok(body) => {
            let e = ApiError::bad_response(String::from_utf8_lossy(&body).into_owned());
            return Report::failed(&name, &what, &e);
        }
        Err(e) => return Report::failed(&name, &what, &e),
    }
    let (rec, elapsed) = closed_loop(
        b,
        ctx.args.connections,
        Until::Elapsed(ctx.duration()),
        &call,
        Expect::Batch(10),
    )
    .await;
    let mut report = Report::new(&name, what, elapsed, rec);
    report.notes.push(format!(
        "events/s = messages/s; {} SQS deliveries per event",
        matching
    ));
    for url in &queues {
        let _ = b.delete_queue(url).await;
    }
    let _ = b
        .call(&events_call("DeleteEventBus", json!({ "Name": bus })))
        .await;
    report
}

// ---------------------------------------------------------------------------------------------
// Starting the server
// ---------------------------------------------------------------------------------------------

/// A started server, killed (and its temporary data directory removed) when dropped.
struct ServerProcess {
    child: Child,
    port: u16,
    data_dir: Option<PathBuf>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// `GET /_lyrebird/health` over a fresh connection; true on a 200 answer.
fn health_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = b"GET /_lyrebird/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut status = [0u8; 12];
    stream.write_all(request).is_ok()
        && stream.read_exact(&mut status).is_ok()
        && (status.starts_with(b"HTTP/1.1 200") || status.starts_with(b"HTTP/1.0 200"))
}

/// Spawns the server on a free port; returns it with the time from spawn to first healthy answer.
fn start_server(args: &Args, bin: &PathBuf) -> Result<(ServerProcess, Duration), String> {
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let mut command = Command::new(bin);
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(&args.server_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if std::env::var_os("LYREBIRD_LOG_LEVEL").is_none() {
        command.env("LYREBIRD_LOG_LEVEL", "warn");
    }
    // A persistent server keeps its state in a throw-away directory, never in the user's
    // default one (`--server-arg --data-dir X` or `--server-arg --in-memory` still win).
    let mut data_dir = None;
    if std::env::var_os("LYREBIRD_DATA_DIR").is_none() {
        let dir =
            std::env::temp_dir().join(format!("lyrebird-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        command.env("LYREBIRD_DATA_DIR", &dir);
        data_dir = Some(dir);
    }
    let start = Instant::now();
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            if let Some(dir) = &data_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(format!("cannot start {}: {e}", bin.display()));
        }
    };
    let mut server = ServerProcess {
        child,
        port,
        data_dir,
    };
    let timeout = Duration::from_secs_f64(args.startup_timeout);
    loop {
        if health_ok(port) {
            return Ok((server, start.elapsed()));
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("{} exited during startup: {status}", bin.display()));
        }
        if start.elapsed() > timeout {
            return Err(format!("{} not healthy after {timeout:?}", bin.display()));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let args = Args::parse();
    if args.connections == 0
        || args.drain_workers == 0
        || args.receivers == 0
        || args.idle_queues == 0
    {
        eprintln!("lyrebird-bench: --connections, --drain-workers, --receivers and --idle-queues must be ≥ 1");
        return ExitCode::from(2);
    }
    if args.wait_seconds > 20 {
        eprintln!("lyrebird-bench: --wait-seconds must be ≤ 20 (the SQS maximum)");
        return ExitCode::from(2);
    }

    let mut server = None;
    let mut startup = None;
    if let Some(bin) = &args.server_bin {
        match start_server(&args, bin) {
            Ok((s, t)) => {
                eprintln!(
                    "started {} on port {} in {:.2} ms",
                    bin.display(),
                    s.port,
                    t.as_secs_f64() * 1000.0
                );
                server = Some(s);
                startup = Some(t);
            }
            Err(e) => {
                eprintln!("lyrebird-bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let endpoint = match (&server, &args.endpoint) {
        (Some(s), _) => format!("http://127.0.0.1:{}", s.port),
        (None, Some(e)) => e.clone(),
        (None, None) => "http://127.0.0.1:4566".to_owned(),
    };
    let pid = server.as_ref().map(|s| s.child.id()).or(args.server_pid);

    let runtime = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lyrebird-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args, endpoint, pid, startup));
    drop(runtime);
    drop(server);
    code
}

async fn run(
    args: Args,
    endpoint: String,
    pid: Option<u32>,
    startup: Option<Duration>,
) -> ExitCode {
    let bench = match Bench::new(&args, &endpoint) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lyrebird-bench: {e}");
            return ExitCode::from(2);
        }
    };
    // Fail fast when nothing answers.
    let list = bench.sqs("ListQueues", json!({}), |_| {});
    if let Err(e) = bench.call(&list).await {
        if e.status.is_none() {
            eprintln!("lyrebird-bench: {endpoint} does not answer: {e}");
            return ExitCode::FAILURE;
        }
    }
    let probe = Probe { pid };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_idle = probe.rss_kib();
    let rss_idle_text = probe.rss_text();
    let ctx = Ctx {
        bench,
        args,
        probe,
        self_probe: Probe {
            pid: Some(std::process::id()),
        },
    };
    let mut json_out = match &ctx.args.json {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("lyrebird-bench: cannot create {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };

    let mut seen = HashSet::new();
    let mut reports: Vec<Report> = Vec::new();
    for &workload in &ctx.args.workloads {
        if !seen.insert(workload) {
            continue;
        }
        eprintln!("running {workload:?} ...");
        let produced = match workload {
            Workload::W1 => vec![ctx.measured(w1_send(&ctx)).await],
            Workload::W2 => vec![ctx.measured(w2_send_batch(&ctx)).await],
            Workload::W3 => vec![ctx.measured(w3_drain(&ctx)).await],
            Workload::W4 => w4_sns(&ctx).await,
            Workload::W5 => vec![ctx.measured(w5_sequential(&ctx)).await],
            Workload::W6 => vec![ctx.measured(w6_long_poll(&ctx)).await],
            Workload::W7 => vec![ctx.measured(w7_lambda(&ctx)).await],
            Workload::Backlog => vec![ctx.measured(backlog(&ctx)).await],
            Workload::Soak => vec![ctx.measured(soak::soak(&ctx)).await],
            Workload::Eb => eb_workloads(&ctx).await,
        };
        for r in &produced {
            eprintln!(
                "  {}: {:.0} ops/s, {:.0} msgs/s, {} errors",
                r.name,
                r.per_second(r.rec.ops),
                r.per_second(r.rec.msgs),
                r.rec.errors
            );
            for e in &r.rec.first_errors {
                eprintln!("    error: {e}");
            }
            if let Some(out) = json_out.as_mut() {
                let _ = writeln!(out, "{}", r.to_json(&endpoint, ctx.args.protocol));
            }
        }
        reports.extend(produced);
    }

    println!();
    match &ctx.args.server_bin {
        Some(bin) => println!(
            "target {endpoint} ({} {}), SQS protocol {:?}",
            bin.display(),
            ctx.args.server_args.join(" "),
            ctx.args.protocol
        ),
        None => println!("target {endpoint}, SQS protocol {:?}", ctx.args.protocol),
    }
    print_table(&reports);
    let rss_of = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.extra.get("rss_after_kib"))
            .and_then(Value::as_u64)
    };
    let (rss_w1, rss_backlog) = (rss_of("W1"), rss_of("backlog"));
    if pid.is_some() || startup.is_some() {
        println!(
            "server: startup {}, RSS idle {}, after W1 {}, after backlog {}",
            startup.map_or_else(
                || "-".to_owned(),
                |t| format!("{:.2} ms", t.as_secs_f64() * 1000.0)
            ),
            rss_idle_text,
            rss_w1.map_or_else(|| "-".to_owned(), mib),
            rss_backlog.map_or_else(|| "-".to_owned(), mib),
        );
    }
    let soak_failed = reports
        .iter()
        .any(|r| r.extra.get("soak_passed") == Some(&Value::Bool(false)));
    if let Some(out) = json_out.as_mut() {
        let line = json!({
            "workload": "server",
            "target": endpoint,
            "server_bin": ctx.args.server_bin,
            "server_args": ctx.args.server_args,
            "startup_ms": startup.map(|t| t.as_secs_f64() * 1000.0),
            "rss_idle_kib": rss_idle,
            "rss_after_w1_kib": rss_w1,
            "rss_after_backlog_kib": rss_backlog,
        });
        let _ = writeln!(out, "{line}");
        if let Err(e) = out.flush() {
            eprintln!("lyrebird-bench: writing the JSON file: {e}");
        }
    }
    if soak_failed {
        eprintln!("lyrebird-bench: the soak failed its checks (see its notes)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
