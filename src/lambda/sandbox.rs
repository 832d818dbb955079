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
use super::overhead::Exchange;
use super::priority::{self, HandlerPriority, Promotion};

/// The largest response a function may return synchronously (Lambda's 6 MB quota).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// The longest handler output line kept (longer ones are cut).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Keep at most this much of an invocation's log (Tail returns the last 4 KB).
const LOG_KEEP_BYTES: usize = 8 * 1024;

/// One invocation handed to a sandbox.
pub struct Job {
    pub request_id: String,
    pub payload: Bytes,
    /// The function's timeout; the deadline starts when the runtime takes the job, or at
    /// `invoked` when the runtime's init outlasted `init_timeout`.
    pub timeout_ms: u64,
    pub invoked: std::time::Instant,
    pub init_timeout: std::time::Duration,
    /// Told when the runtime takes the job (its init is over), with the time it has left.
    pub taken: oneshot::Sender<std::time::Duration>,
    pub function_arn: String,
    pub trace_id: String,
    pub reply: oneshot::Sender<Reply>,
    pub log: Arc<Mutex<String>>,
    /// Timestamps of the exchange, for lyrebird's own time per invocation.
    pub exchange: Arc<Exchange>,
    /// The caller waits for the process's last output lines (a Tail log) after its answer.
    pub tail_log: bool,
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
    exchange: Arc<Exchange>,
    tail_log: bool,
}

/// What the Runtime API handlers share with the pool's side.
struct Shared {
    function: String,
    /// When the process last wrote output (`millis_now`), to let a Tail log settle.
    last_output_ms: std::sync::atomic::AtomicU64,
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    current: Mutex<Option<Current>>,
    failed: watch::Sender<Option<Failure>>,
}

pub struct Sandbox {
    inbox: mpsc::Sender<Job>,
    shared: Arc<Shared>,
    failed: watch::Receiver<Option<Failure>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    /// The process group of an `auto`-priority process (see `priority.rs`), and when it was last
    /// raised out of `SCHED_IDLE`; `None` for other priorities.
    raisable: Option<Raisable>,
}

struct Raisable {
    pgid: i32,
    promotion: Promotion,
    raised_at: Mutex<Option<std::time::Instant>>,
}

/// How every function process is started.
#[derive(Debug, Clone)]
pub struct ProcessSettings {
    /// lyrebird's own endpoint, for the handlers' `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    /// Their CPU priority against lyrebird's own threads (`--lambda-priority`, resolved).
    pub priority: HandlerPriority,
    /// When an `auto` process is raised and lowered again.
    pub promotion: Promotion,
    /// Lambda's init phase limit (see `pool.rs`).
    pub init_timeout: std::time::Duration,
    /// `--auth sigv4`: the keys handlers sign with, by account (see `launch::environment`).
    pub handler_keys: Option<Arc<crate::credentials::AccountKeys>>,
}

impl Sandbox {
    /// Starts the Runtime API and the process. A process that cannot be started gives a sandbox
    /// that has already failed (its invocation fails with Lambda's error, nothing else does).
    pub async fn start(
        function: &FunctionConfig,
        launch: Result<Launch, String>,
        process: &ProcessSettings,
    ) -> Arc<Sandbox> {
        let (inbox, jobs) = mpsc::channel(1);
        let (failed_tx, failed) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            function: function.name.clone(),
            last_output_ms: Default::default(),
            jobs: tokio::sync::Mutex::new(jobs),
            current: Mutex::new(None),
            failed: failed_tx,
        });
        let pid = match run(function, launch, process, shared.clone(), kill_rx).await {
            Ok(pid) => pid,
            Err(reason) => {
                tracing::error!(function = %function.name, "cannot start the function: {reason}");
                shared.failed.send_replace(Some(Failure::Spawn(reason)));
                None
            }
        };
        let raisable = pid
            .filter(|_| process.priority == HandlerPriority::Auto)
            .and_then(|pid| i32::try_from(pid).ok())
            .map(|pgid| Raisable {
                pgid,
                promotion: process.promotion,
                raised_at: Mutex::new(None),
            });
        Arc::new(Sandbox {
            inbox,
            shared,
            failed,
            kill: Mutex::new(Some(kill_tx)),
            raisable,
        })
    }

    /// Before an event is handed over: an `auto` process raised `hold` ago or more goes back
    /// under `SCHED_IDLE`, as the machine may be quiet again.
    pub async fn prepare(&self) {
        let Some(r) = &self.raisable else { return };
        let due = {
            let mut raised_at = r.raised_at.lock();
            let due = raised_at.is_some_and(|at| at.elapsed() >= r.promotion.hold);
            if due {
                *raised_at = None;
            }
            due
        };
        if due && self.is_alive() {
            let pgid = r.pgid;
            let _ = tokio::task::spawn_blocking(move || priority::set_group(pgid, true)).await;
            tracing::debug!(function = %self.shared.function, pgid, "function process lowered to SCHED_IDLE again");
        }
    }

    /// The init (`init: true`, from `since` = the invocation) or the invocation (from `since` =
    /// when the runtime took the event) of an `auto` process still going after the promotion's
    /// limit: the process may be starved by other work, so it is raised to lyrebird's priority.
    /// Never resolves; meant to be raced against the invocation's outcome.
    pub async fn raise_if_busy(
        &self,
        since: tokio::time::Instant,
        init: bool,
    ) -> std::convert::Infallible {
        if let Some(r) = self
            .raisable
            .as_ref()
            .filter(|r| r.raised_at.lock().is_none())
        {
            let limit = if init {
                r.promotion.init
            } else {
                r.promotion.invocation
            };
            tokio::time::sleep_until(since + limit).await;
            let first = {
                let mut raised_at = r.raised_at.lock();
                let first = raised_at.is_none();
                *raised_at = Some(std::time::Instant::now());
                first
            };
            if first && self.is_alive() {
                let pgid = r.pgid;
                let threads = tokio::task::spawn_blocking(move || priority::set_group(pgid, false))
                    .await
                    .unwrap_or(0);
                tracing::debug!(function = %self.shared.function, pgid, threads, "function process busy for {limit:?}: raised to lyrebird's priority");
                if threads == 0 {
                    // Nothing raised (refused, or the process is ending): the next invocation
                    // tries again rather than waiting out `hold`.
                    *r.raised_at.lock() = None;
                }
            }
        }
        std::future::pending().await
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

    /// Waits (briefly) until the process's output has stopped flowing, so lines it printed just
    /// before answering reach the invocation's log: pipes are read by another task.
    pub async fn settle_output(&self) {
        use std::sync::atomic::Ordering;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        for _ in 0..50 {
            let last = self.shared.last_output_ms.load(Ordering::Relaxed);
            if millis_now().saturating_sub(last) >= 5 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
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
    process: &ProcessSettings,
    shared: Arc<Shared>,
    kill: oneshot::Receiver<()>,
) -> Result<Option<u32>, String> {
    let launch = launch?;
    // Said plainly: spawning in a missing folder would report the interpreter as missing.
    if !function.code.dir.is_dir() {
        return Err(format!(
            "its code folder {} does not exist",
            function.code.dir.display()
        ));
    }
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
        .envs(launch::environment(
            function,
            &api,
            &process.endpoint,
            process.handler_keys.as_deref(),
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout stops whatever the bootstrap started too.
        .process_group(0);
    let priority = process.priority;
    // SAFETY: the closure runs between fork and exec and makes async-signal-safe calls only.
    unsafe {
        command.pre_exec(move || {
            priority.apply_to_self();
            Ok(())
        });
    }
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
    Ok(pid)
}

/// Handler output, line by line, to lyrebird's log (prefixed with the function and request id)
/// and to the current invocation's log tail. A line is cut at `MAX_LINE_BYTES`, so a handler
/// printing without newlines cannot make lyrebird buffer without bound.
async fn forward_log(stream: impl tokio::io::AsyncRead + Unpin, shared: Arc<Shared>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        let (taken, complete) = match reader.fill_buf().await {
            Ok([]) | Err(_) => {
                if !line.is_empty() {
                    emit_line(&shared, &line);
                }
                return;
            }
            Ok(buf) => {
                let end = buf.iter().position(|b| *b == b'\n');
                let chunk = &buf[..end.unwrap_or(buf.len())];
                let room = MAX_LINE_BYTES.saturating_sub(line.len());
                line.extend_from_slice(&chunk[..chunk.len().min(room)]);
                (end.map_or(buf.len(), |e| e + 1), end.is_some())
            }
        };
        reader.consume(taken);
        shared
            .last_output_ms
            .store(millis_now(), std::sync::atomic::Ordering::Relaxed);
        if complete {
            emit_line(&shared, &line);
            line.clear();
        }
    }
}

/// Milliseconds on a monotonic clock of this process.
fn millis_now() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

fn emit_line(shared: &Shared, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    let (request_id, log) = match &*shared.current.lock() {
        Some(c) => (c.request_id.clone(), Some(c.log.clone())),
        None => (String::new(), None),
    };
    tracing::info!(target: "lambda", "[{} {}] {}", shared.function, request_id, text);
    if let Some(log) = log {
        append_log(&log, text);
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
        // The body is read so that the runtime's keep-alive connection stays usable.
        .fallback(
            |_: Result<Bytes, axum::extract::rejection::BytesRejection>| async {
                runtime_error(StatusCode::NOT_FOUND, "InvalidRequest", "Not found")
            },
        )
        .with_state(shared)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1))
}

/// `GET invocation/next`: waits for the next job and hands it to the runtime.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let asked = std::time::Instant::now();
    // Asking for more work before answering the current event is refused, as Lambda's runtime
    // API does; the unanswered event then runs into its timeout.
    if shared
        .current
        .lock()
        .as_ref()
        .is_some_and(|c| c.reply.is_some())
    {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Running to Ready failed: the current invocation has no response yet",
        );
    }
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
    job.exchange.asked(asked);
    let mut response = Response::new(Body::new(Marked {
        payload: Some(job.payload),
        exchange: job.exchange.clone(),
    }));
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
    // An init within Lambda's limit leaves the whole Timeout to the handler; a longer one is
    // (on Lambda) retried within the Timeout, so init and handler share it from the invocation.
    let mut budget = std::time::Duration::from_millis(job.timeout_ms);
    let waited = job.invoked.elapsed();
    if waited > job.init_timeout {
        budget = budget.saturating_sub(waited);
    }
    set(
        "lambda-runtime-deadline-ms",
        &(now_ms + budget.as_millis() as u64).to_string(),
    );
    set("lambda-runtime-invoked-function-arn", &job.function_arn);
    set("lambda-runtime-trace-id", &job.trace_id);
    let _ = job.taken.send(budget);
    *shared.current.lock() = Some(Current {
        request_id: job.request_id,
        reply: Some(job.reply),
        log: job.log,
        exchange: job.exchange,
        tail_log: job.tail_log,
    });
    response
}

/// An event's body that marks when the connection takes it (the `/next` response is written).
struct Marked {
    payload: Option<Bytes>,
    exchange: Arc<Exchange>,
}

impl hyper::body::Body for Marked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.exchange.written();
        std::task::Poll::Ready(self.payload.take().map(|p| Ok(hyper::body::Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.payload.is_none()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.payload.as_ref().map_or(0, |p| p.len() as u64))
    }
}

/// Takes the reply channel of the current job if `id` names it, and whether its caller waits
/// for a Tail log; `arrived` is when the answer reached the Runtime API.
fn take_reply(
    shared: &Shared,
    id: &str,
    arrived: std::time::Instant,
) -> Option<(oneshot::Sender<Reply>, bool)> {
    let mut current = shared.current.lock();
    match current.as_mut() {
        Some(c) if c.request_id == id => {
            let reply = c.reply.take()?;
            c.exchange.answered(arrived);
            Some((reply, c.tail_log))
        }
        _ => None,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let arrived = std::time::Instant::now();
    let Some((reply, tail_log)) = take_reply(&shared, &id, arrived) else {
        return invalid_request_id();
    };
    let answer = match body {
        Ok(body) if body.len() <= MAX_RESPONSE_BYTES => {
            let _ = reply.send(Reply::Response(body));
            settle_first(tail_log).await;
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
    let arrived = std::time::Instant::now();
    let Some((reply, tail_log)) = take_reply(&shared, &id, arrived) else {
        return invalid_request_id();
    };
    let body = body.unwrap_or_default();
    let _ = reply.send(Reply::Error(error_document(&headers, &body)));
    settle_first(tail_log).await;
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

/// Lets the task waiting for the answer just sent (queued on this thread) handle the outcome
/// before the runtime is answered: the answer wakes the process, which on a busy machine often
/// preempts this thread and would hold that work up (W7's p99 of lyrebird's own time: 1.26 ->
/// 0.81 ms with two processes). Not when a Tail log is waited for: the process's last output
/// is read while that wait goes on, and holding its answer back lost those lines.
async fn settle_first(tail_log: bool) {
    if !tail_log {
        tokio::task::yield_now().await;
    }
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
