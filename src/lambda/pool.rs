//! A function's execution environments: warm sandboxes reused between invocations, new ones
//! started while fewer than the function's concurrency are busy, and the outcome of one
//! invocation on one sandbox (response, error, timeout, crash) in Lambda's terms.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::function::FunctionConfig;
use super::launch::launch_for;
use super::overhead::Exchange;
use super::sandbox::{Failure, Job, ProcessSettings, Reply, Sandbox};

/// How one invocation ended.
#[derive(Debug)]
pub enum Outcome {
    Success(Bytes),
    /// The function failed; the payload is Lambda's error document.
    Error {
        payload: Bytes,
        kind: ErrorKind,
    },
}

/// What kind of failure, for the invocation log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The handler threw or the runtime posted `/error`.
    Handler,
    Timeout,
    /// The process exited, failed to start, or its init failed.
    Runtime,
}

impl ErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Handler => "error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Runtime => "runtime_error",
        }
    }
}

/// A function's sandboxes and the slots that bound how many run at once.
pub struct Pool {
    pub config: Mutex<Arc<FunctionConfig>>,
    /// A `--lambda-command` for this function.
    command: Option<String>,
    idle: Mutex<Vec<Arc<Sandbox>>>,
    /// One permit per concurrent invocation (the function's concurrency).
    pub slots: Arc<Semaphore>,
    pub concurrency: usize,
    /// How its processes are started.
    process: ProcessSettings,
    /// The function's counters for `/metrics` (kept when the pool is replaced).
    pub stats: Arc<super::stats::FunctionStats>,
}

impl Pool {
    pub fn new(
        config: Arc<FunctionConfig>,
        command: Option<String>,
        default_concurrency: usize,
        process: ProcessSettings,
    ) -> Pool {
        let concurrency = config
            .reserved_concurrency
            .map_or(default_concurrency, |r| r as usize);
        Pool {
            config: Mutex::new(config),
            command,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            process,
            stats: Arc::default(),
        }
    }

    pub fn config(&self) -> Arc<FunctionConfig> {
        self.config.lock().clone()
    }

    /// Replaces the configuration (new code); warm sandboxes of the old one are stopped.
    pub fn reconfigure(&self, config: Arc<FunctionConfig>) {
        *self.config.lock() = config;
        self.stop_idle();
    }

    /// Stops every idle sandbox (busy ones finish their invocation and are then dropped).
    pub fn stop_idle(&self) {
        for sandbox in std::mem::take(&mut *self.idle.lock()) {
            sandbox.kill();
        }
    }

    /// Runs one invocation, holding `_permit` (a slot of this pool) throughout; `settle_logs`
    /// waits for the handler's last output lines (for a Tail log). A cold start and the log's
    /// settling are left out of lyrebird's own time (`exchange`).
    #[allow(clippy::too_many_arguments)]
    pub async fn run(
        &self,
        _permit: OwnedSemaphorePermit,
        request_id: &str,
        payload: Bytes,
        trace_id: String,
        log: Arc<Mutex<String>>,
        settle_logs: bool,
        exchange: Arc<Exchange>,
    ) -> Outcome {
        let config = self.config();
        let timeout = Duration::from_secs(config.timeout_secs.max(1) as u64);
        let invoked = tokio::time::Instant::now();
        // Lambda's init phase has a limit of its own (10 s); a runtime not ready by then gets
        // its init retried within the function's Timeout at the first invocation. Here the one
        // init just goes on: it must be ready within the greater of the two, from the
        // invocation, and then init and handler share the Timeout (the runtime's deadline).
        let init_wait = self.process.init_timeout.max(timeout);
        let mut warm = self.take_idle();
        let (sandbox, init, mut reply_rx) = loop {
            let was_warm = warm.is_some();
            let sandbox = match warm.take() {
                Some(s) => s,
                None => {
                    let cold = std::time::Instant::now();
                    let launch = launch_for(&config, self.command.as_deref());
                    let sandbox = Sandbox::start(&config, launch, &self.process).await;
                    exchange.exclude(cold.elapsed());
                    sandbox
                }
            };
            let (reply_tx, reply_rx) = oneshot::channel();
            let (taken_tx, taken_rx) = oneshot::channel();
            let job = Job {
                request_id: request_id.to_string(),
                payload: payload.clone(),
                timeout_ms: timeout.as_millis() as u64,
                invoked: invoked.into_std(),
                init_timeout: self.process.init_timeout,
                taken: taken_tx,
                function_arn: config.arn(),
                trace_id: trace_id.clone(),
                reply: reply_tx,
                log: log.clone(),
                exchange: exchange.clone(),
                tail_log: settle_logs,
            };
            sandbox.prepare().await;
            exchange.handed();
            if sandbox.submit(job).is_err() {
                sandbox.kill();
                if was_warm {
                    continue;
                }
                return runtime_exit(request_id, None);
            }
            // The function's Timeout runs from when the runtime takes the event (the time left
            // comes with it).
            let init = tokio::select! {
                biased;
                taken = taken_rx => match taken {
                    Ok(left) => Ok(left),
                    // The job was dropped unread: the sandbox is going away.
                    Err(_) => Err(Some(sandbox.failed().await)),
                },
                failure = sandbox.failed() => Err(Some(failure)),
                _ = tokio::time::sleep_until(invoked + init_wait) => Err(None),
                never = sandbox.raise_if_busy(invoked, true) => match never {},
            };
            // A warm process that ended before taking the event (it exited after answering the
            // last one, as Node's does after an unhandled rejection): the event goes to a new
            // one, as Lambda starts a new environment for it.
            if was_warm && matches!(init, Err(Some(Failure::Exited(_)))) {
                sandbox.kill();
                continue;
            }
            break (sandbox, init, reply_rx);
        };
        let ended = match init {
            Err(failure) => {
                // Init failed: prefer what the runtime reported over the exit it led to.
                match failure {
                    Some(f) => Err(f),
                    None => match reply_rx.try_recv() {
                        Ok(reply) => Ok(reply),
                        Err(_) => {
                            sandbox.kill();
                            return timed_out(&config, request_id, &log, timeout);
                        }
                    },
                }
            }
            Ok(left) => {
                let taken = tokio::time::Instant::now();
                tokio::select! {
                biased;
                reply = &mut reply_rx => match reply {
                    Ok(reply) => Ok(reply),
                    // The sandbox is going away; its failure is reported at once.
                    Err(_) => Err(tokio::time::timeout(Duration::from_secs(1), sandbox.failed())
                        .await
                        .unwrap_or(Failure::Exited(None))),
                },
                failure = sandbox.failed() => Err(failure),
                _ = tokio::time::sleep(left) => {
                    sandbox.abandon();
                    sandbox.kill();
                    return timed_out(&config, request_id, &log, timeout);
                }
                never = sandbox.raise_if_busy(taken, false) => match never {},
                }
            }
        };
        if settle_logs && ended.is_ok() {
            let settling = std::time::Instant::now();
            sandbox.settle_output().await;
            exchange.exclude(settling.elapsed());
        }
        match ended {
            Ok(Reply::Response(body)) => {
                self.give_back(sandbox);
                Outcome::Success(body)
            }
            Ok(Reply::Error(document)) => {
                // A handler error leaves the environment warm, as on Lambda.
                self.give_back(sandbox);
                Outcome::Error {
                    payload: document,
                    kind: ErrorKind::Handler,
                }
            }
            Err(failure) => {
                sandbox.kill();
                match failure {
                    Failure::Init(document) => Outcome::Error {
                        payload: document,
                        kind: ErrorKind::Runtime,
                    },
                    Failure::Exited(code) => runtime_exit(request_id, code),
                    Failure::Spawn(reason) => {
                        super::sandbox::append_log(&log, &reason);
                        runtime_exit(request_id, Some(127))
                    }
                }
            }
        }
    }

    fn take_idle(&self) -> Option<Arc<Sandbox>> {
        let mut idle = self.idle.lock();
        while let Some(sandbox) = idle.pop() {
            if sandbox.is_alive() {
                return Some(sandbox);
            }
        }
        None
    }

    fn give_back(&self, sandbox: Arc<Sandbox>) {
        let mut idle = self.idle.lock();
        if sandbox.is_alive() && idle.len() < self.concurrency {
            idle.push(sandbox);
        } else {
            sandbox.kill();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop_idle();
    }
}

/// Lambda's answer when an invocation runs out of time.
fn timed_out(
    config: &FunctionConfig,
    request_id: &str,
    log: &Mutex<String>,
    limit: Duration,
) -> Outcome {
    let message = format!(
        "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
        limit.as_secs_f64()
    );
    tracing::warn!(function = %config.name, %request_id, "{message}");
    super::sandbox::append_log(log, &message);
    Outcome::Error {
        payload: error_document("Sandbox.Timedout", &message),
        kind: ErrorKind::Timeout,
    }
}

/// Lambda's answer when the runtime process ends during an invocation.
fn runtime_exit(request_id: &str, code: Option<i32>) -> Outcome {
    let reason = match code {
        Some(0) | None => "Runtime exited without providing a reason".to_string(),
        Some(code) => format!("Runtime exited with error: exit status {code}"),
    };
    Outcome::Error {
        payload: error_document(
            "Runtime.ExitError",
            &format!("RequestId: {request_id} Error: {reason}"),
        ),
        kind: ErrorKind::Runtime,
    }
}

/// `{"errorType", "errorMessage"}` as Lambda writes it for failures of its own.
pub fn error_document(error_type: &str, message: &str) -> Bytes {
    serde_json::json!({ "errorType": error_type, "errorMessage": message })
        .to_string()
        .into()
}
