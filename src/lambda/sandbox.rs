//! One execution environment: a runtime process of a function and the Runtime API (2018-06-01)
//! it talks to, served on its own 127.0.0.1 ephemeral port (`AWS_LAMBDA_RUNTIME_API`), as each
//! Lambda sandbox has its own.
//!
//! The pool hands the sandbox one [`Job`] at a time; the runtime takes it with
//! `invocation/next` and answers with `/response` or `/error`. `init/error` and the process's
//! exit are reported through [`Sandbox::failed`], so a waiting invocation never stalls.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, StatusCode};
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

use super::function::FunctionConfig;
use super::launch::{self, Launch};

/// The largest response a function may return synchronously (Lambda's 6 MB quota).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// Keep at most this much of an invocation's log (Tail returns the last 4 KB).
const LOG_KEEP_BYTES: usize = 8 * 1024;

/// One invocation handed to a sandbox.
pub struct Job {
    pub request_id: String,
    pub payload: Bytes,
    /// The function's timeout; the deadline starts when the runtime takes the job.
    pub timeout_ms: u64,
    /// Told when the runtime takes the job (its init is over).
    pub taken: oneshot::Sender<()>,
    pub function_arn: String,
    pub trace_id: String,
    pub reply: oneshot::Sender<Reply>,
    pub log: Arc<Mutex<String>>,
}

/// What the runtime answered for a job.
#[derive(Debug)]
pub enum Reply {
    Response(Bytes),
    /// `/error`: the body the runtime posted and its `Lambda-Runtime-Function-Error-Type`.
    Error(Bytes),
}

/// Why a sandbox can take no more work.
#[derive(Debug, Clone)]
pub enum Failure {
    /// `init/error`: the error document, already in Lambda's shape.
    Init(Bytes),
    /// The process ended (`None`: killed by a signal).
    Exited(Option<i32>),
    /// The process could not be started.
    Spawn(String),
}

/// The job the runtime is working on, and the log lines it writes meanwhile.
struct Current {
    request_id: String,
    reply: Option<oneshot::Sender<Reply>>,
    log: Arc<Mutex<String>>,
}

/// What the Runtime API handlers share with the pool's side.
struct Shared {
    function: String,
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    current: Mutex<Option<Current>>,
    failed: watch::Sender<Option<Failure>>,
}

pub struct Sandbox {
    inbox: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    failed: watch::Receiver<Option<Failure>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
}

impl Sandbox {
    /// Starts the Runtime API and the process. A process that cannot be started gives a sandbox
    /// that has already failed (its invocation fails with Lambda's error, nothing else does).
    pub async fn start(
        function: &FunctionConfig,
        launch: Result<Launch, String>,
        endpoint: &str,
    ) -> Arc<Sandbox> {
        let (inbox, jobs) = mpsc::channel(1);
        let (failed_tx, failed) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            function: function.name.clone(),
            jobs: tokio::sync::Mutex::new(jobs),
            current: Mutex::new(None),
            failed: failed_tx,
        });
        let sandbox = Arc::new(Sandbox {
            inbox,
            shared: shared.clone(),
            failed,
            kill: Mutex::new(Some(kill_tx)),
        });
        if let Err(reason) = run(function, launch, endpoint, shared.clone(), kill_rx).await {
            tracing::error!(function = %function.name, "cannot start the function: {reason}");
            shared.failed.send_replace(Some(Failure::Spawn(reason)));
        }
        sandbox
    }

    /// Hands a job over; the sandbox must be idle (the pool checks it out first). Fails when
    /// the sandbox is gone.
    pub fn submit(&self, job: Job) -> Result<(), ()> {
        self.inbox.try_send(job).map_err(|_| ())
    }

    /// Resolves when the sandbox can no longer work.
    pub async fn failed(&self) -> Failure {
        let mut failed = self.failed.clone();
        loop {
            if let Some(f) = failed.borrow_and_update().clone() {
                return f;
            }
            if failed.changed().await.is_err() {
                return Failure::Exited(None);
            }
        }
    }

    pub fn is_alive(&self) -> bool {
        self.failed.borrow().is_none()
    }

    /// Stops the process (timeout, shutdown, changed code); idempotent.
    pub fn kill(&self) {
        if let Some(kill) = self.kill.lock().take() {
            let _ = kill.send(());
        }
    }

    /// Forgets the job the runtime was given (timed out), so a late answer is refused.
    pub fn abandon(&self) {
        self.shared.current.lock().take();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Binds the Runtime API, spawns the process, and starts the tasks that serve, log and reap it.
async fn run(
    function: &FunctionConfig,
    launch: Result<Launch, String>,
    endpoint: &str,
    shared: Arc<Shared>,
    kill: oneshot::Receiver<()>,
) -> Result<(), String> {
    let launch = launch?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot bind the Runtime API: {e}"))?;
    let api = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let (stop_api, api_stopped) = oneshot::channel::<()>();
    let server = axum::serve(listener, router(shared.clone())).with_graceful_shutdown(async {
        let _ = api_stopped.await;
    });
    tokio::spawn(async move {
        let _ = server.await;
    });

    let mut command = tokio::process::Command::new(&launch.program);
    command
        .args(&launch.args)
        .current_dir(&function.code.dir)
        .env_clear()
        .envs(launch::environment(function, &api, endpoint))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout stops whatever the bootstrap started too.
        .process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = stop_api.send(());
            return Err(format!("cannot run {}: {e}", launch.program.display()));
        }
    };
    tracing::debug!(function = %function.name, runtime_api = %api, pid = child.id(), "function process started");
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward_log(out, shared.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_log(err, shared.clone()));
    }
    let pid = child.id();
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status.ok().and_then(|s| s.code()),
            _ = kill => {
                if let Some(pid) = pid {
                    // SAFETY: plain syscall on a process group this sandbox created.
                    unsafe { libc::killpg(pid as i32, libc::SIGKILL) };
                }
                let _ = child.kill().await;
                None
            }
        };
        let _ = stop_api.send(());
        tracing::debug!(function = %shared.function, ?status, "function process ended");
        shared.failed.send_if_modified(|f| {
            if f.is_none() {
                *f = Some(Failure::Exited(status));
                true
            } else {
                false
            }
        });
    });
    Ok(())
}

/// Handler output, line by line, to lyrebird's log (prefixed with the function and request id)
/// and to the current invocation's log tail.
async fn forward_log(stream: impl tokio::io::AsyncRead + Unpin, shared: Arc<Shared>) {
    let mut lines = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let (request_id, log) = match &*shared.current.lock() {
            Some(c) => (c.request_id.clone(), Some(c.log.clone())),
            None => (String::new(), None),
        };
        tracing::info!(target: "lambda", "[{} {}] {}", shared.function, request_id, text);
        if let Some(log) = log {
            append_log(&log, text);
        }
    }
}

/// Appends a line to an invocation's log, keeping only its tail.
pub fn append_log(log: &Mutex<String>, line: &str) {
    let mut log = log.lock();
    log.push_str(line);
    log.push('\n');
    if log.len() > LOG_KEEP_BYTES * 2 {
        let mut cut = log.len() - LOG_KEEP_BYTES;
        while !log.is_char_boundary(cut) {
            cut += 1;
        }
        log.drain(..cut);
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(|| async { runtime_error(StatusCode::NOT_FOUND, "InvalidRequest", "Not found") })
        .with_state(shared)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1))
}

/// `GET invocation/next`: waits for the next job and hands it to the runtime.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let job = {
        let mut jobs = shared.jobs.lock().await;
        jobs.recv().await
    };
    let Some(job) = job else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.Stopped",
            "the execution environment is shutting down",
        );
    };
    let mut response = Response::new(Body::from(job.payload));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &job.request_id);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    set(
        "lambda-runtime-deadline-ms",
        &(now_ms + job.timeout_ms).to_string(),
    );
    set("lambda-runtime-invoked-function-arn", &job.function_arn);
    set("lambda-runtime-trace-id", &job.trace_id);
    let _ = job.taken.send(());
    *shared.current.lock() = Some(Current {
        request_id: job.request_id,
        reply: Some(job.reply),
        log: job.log,
    });
    response
}

/// Takes the reply channel of the current job if `id` names it.
fn take_reply(shared: &Shared, id: &str) -> Option<oneshot::Sender<Reply>> {
    let mut current = shared.current.lock();
    match current.as_mut() {
        Some(c) if c.request_id == id => c.reply.take(),
        _ => None,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Some(reply) = take_reply(&shared, &id) else {
        return invalid_request_id();
    };
    let answer = match body {
        Ok(body) if body.len() <= MAX_RESPONSE_BYTES => {
            let _ = reply.send(Reply::Response(body));
            return accepted();
        }
        _ => {
            let error = serde_json::json!({
                "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
                "errorType": "Function.ResponseSizeTooLarge",
            });
            let _ = reply.send(Reply::Error(error.to_string().into()));
            runtime_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "response too large",
            )
        }
    };
    answer
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Some(reply) = take_reply(&shared, &id) else {
        return invalid_request_id();
    };
    let body = body.unwrap_or_default();
    let _ = reply.send(Reply::Error(error_document(&headers, &body)));
    accepted()
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = body.unwrap_or_default();
    let document = error_document(&headers, &body);
    tracing::warn!(function = %shared.function, error = %String::from_utf8_lossy(&document), "function init failed");
    shared.failed.send_if_modified(|f| {
        if f.is_none() {
            *f = Some(Failure::Init(document));
            true
        } else {
            false
        }
    });
    accepted()
}

/// The error a runtime posted, as Lambda returns it: the runtime's JSON document when it is one,
/// else `{"errorType", "errorMessage"}` from the error-type header and the body's text.
fn error_document(headers: &HeaderMap, body: &[u8]) -> Bytes {
    if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body).is_ok() {
        return Bytes::copy_from_slice(body);
    }
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled");
    serde_json::json!({
        "errorType": error_type,
        "errorMessage": String::from_utf8_lossy(body),
    })
    .to_string()
    .into()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn invalid_request_id() -> Response {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string(),
    )
        .into_response()
}
