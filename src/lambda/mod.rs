//! AWS Lambda: functions that run the application's own handlers as local processes, behind the
//! Lambda API (REST-JSON, `protocol::lambda_rest`) and the invoke seam other services call.
//!
//! - `model.rs`: the API operations and their types; `function.rs`: a function's configuration,
//!   ARN and name resolution; `functions.rs`: Create/Get/List/Delete/UpdateFunctionCode/
//!   UpdateFunctionConfiguration;
//!   `invoke.rs`: Invoke and the seam below; `code.rs`: code on disk (zips, folders);
//!   `persist.rs`: functions in the store.
//! - `pool.rs`: a function's warm execution environments and one invocation's outcome;
//!   `sandbox.rs`: one environment (process + its Runtime API on 127.0.0.1); `launch.rs`: how a
//!   runtime is started and Lambda's environment variables; `bootstrap/`: the Node and Python
//!   runtime clients lyrebird ships.
//! - `async_invoke.rs`: Event invocations (backlog, retries, event age, outcome routing);
//!   `event_invoke.rs`: their settings (Put/Get/Update/Delete/ListFunctionEventInvokeConfigs);
//!   `destinations.rs`: destination records, failure routes and the sink SQS/SNS/EventBridge
//!   destinations are reached through.
//! - `invocations.rs`: the recent-invocations ring behind `/_lyrebird/lambda/invocations`;
//!   `overhead.rs`: lyrebird's own time per invocation in it; `stats.rs`: per-function
//!   counters for `/metrics`.
//!
//! # The invoke seam (for event sources: SQS mappings, SNS, EventBridge)
//!
//! - [`LambdaService::invoke`]: synchronous (RequestResponse). Waits for a free concurrency slot
//!   of the function (its ReservedConcurrentExecutions, else `--lambda-concurrency`) unless the
//!   request carries a [`ConcurrencyPermit`], then for a warm or new process, and returns the
//!   [`InvokeResult`]. A function error is an `Ok` with `function_error: Some("Unhandled")`;
//!   `Err` is an AWS error (no such function, throttled by reserved concurrency 0).
//! - [`LambdaService::invoke_async`]: Event invocation. Accepted at once (or refused when the
//!   function's backlog of queued events is full), run in the background, retried on error (the
//!   function's MaximumRetryAttempts, default 2) after 1 and 2 minutes of the service clock
//!   (`/_lyrebird/clock/advance` skips the wait) within its MaximumEventAgeInSeconds; then its
//!   destinations, and the caller's [`FailureRoute`] (data, so it survives a restart).
//! - [`LambdaService::concurrency_permit`]: waits for a free slot and holds it; a poller takes one
//!   before receiving a batch and passes it in [`InvokeRequest::permit`], so batches in flight
//!   never exceed the function's concurrency.

mod async_invoke;
mod code;
pub mod destinations;
mod event_invoke;
pub mod event_sources;
pub mod function;
mod functions;
pub mod invocations;
mod invoke;
pub mod launch;
pub mod model;
mod overhead;
mod persist;
mod pool;
mod priority;
mod sandbox;
pub mod stats;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::AwsResult;
use crate::service::Service;
use crate::store::SharedStore;

pub use code::{code_root, folder as code_folder, unpack as unpack_zip};
pub use destinations::{DeadLetter, Delivery, DestinationSink, FailureRoute, SinkFuture};
pub use event_invoke::EventInvokeConfig;
pub use function::{FunctionConfig, FunctionId};
pub use functions::{check_dead_letter, PutOutcome};
pub use invocations::{InvocationRecord, Invocations};
pub use model::{Operation, Request, Response};
pub use priority::{may_raise_from_idle, HandlerPriority, Promotion};

/// Lambda's limit on a new execution environment's init phase, in milliseconds: a runtime
/// slower to ask for its first event gets the function's Timeout instead (see `pool.rs`).
pub const DEFAULT_INIT_TIMEOUT_MS: u64 = 10_000;

use pool::Pool;

/// Where an invocation comes from (the invocation log's `source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationSource {
    /// The Invoke API.
    Api,
    /// An SQS event source mapping of the queue `arn`.
    Sqs { arn: String },
    /// An SNS subscription of the topic `arn`.
    Sns { arn: String },
    /// An EventBridge rule `arn`.
    Events { arn: String },
    /// A destination of the function `arn` (its invocation record).
    Lambda { arn: String },
}

impl InvocationSource {
    pub fn label(&self) -> &'static str {
        match self {
            InvocationSource::Api => "api",
            InvocationSource::Sqs { .. } => "aws:sqs",
            InvocationSource::Sns { .. } => "aws:sns",
            InvocationSource::Events { .. } => "aws:events",
            InvocationSource::Lambda { .. } => "aws:lambda",
        }
    }

    pub fn arn(&self) -> Option<&str> {
        match self {
            InvocationSource::Api => None,
            InvocationSource::Sqs { arn }
            | InvocationSource::Sns { arn }
            | InvocationSource::Events { arn }
            | InvocationSource::Lambda { arn } => Some(arn),
        }
    }
}

/// One invocation's input.
#[derive(Debug)]
pub struct InvokeRequest {
    /// The event, JSON.
    pub payload: Bytes,
    pub source: InvocationSource,
    /// Records in the event (1 for a single event), for the invocation log.
    pub batch_size: usize,
    /// A slot already taken with [`LambdaService::concurrency_permit`] for this function.
    pub permit: Option<ConcurrencyPermit>,
    /// When the invocation was ready (a batch received, an Invoke accepted): lyrebird's own
    /// time in it counts from here.
    pub ready_at: Instant,
    /// The request id to run under (an `Event` Invoke's, already answered to its caller, kept
    /// through retries as on AWS); a new one when `None`.
    pub request_id: Option<String>,
}

impl InvokeRequest {
    pub fn new(payload: impl Into<Bytes>, source: InvocationSource) -> Self {
        InvokeRequest {
            payload: payload.into(),
            source,
            batch_size: 1,
            permit: None,
            ready_at: Instant::now(),
            request_id: None,
        }
    }
}

/// One synchronous invocation's result.
#[derive(Debug)]
pub struct InvokeResult {
    /// The handler's response, or Lambda's error document when `function_error` is set.
    pub payload: Bytes,
    /// `Unhandled` (the `X-Amz-Function-Error` header) when the function failed.
    pub function_error: Option<String>,
    /// The invocation's log (START … REPORT), at most its last 4 KB (lines printed just before
    /// the handler answered may still be on their way; the Invoke API waits for them).
    pub log_tail: String,
    pub duration_ms: f64,
    pub request_id: String,
    /// Drop it once the outcome is handled (the batch deleted, the Invoke answered): the
    /// invocation is then logged with lyrebird's own time in it.
    pub settle: Settle,
}

pub use overhead::Settle;

/// A held concurrency slot of one function; released when dropped.
#[derive(Debug)]
pub struct ConcurrencyPermit {
    pub(crate) function_key: String,
    pub(crate) _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Settings of the Lambda service.
#[derive(Debug, Clone)]
pub struct LambdaOptions {
    /// Concurrent invocations (processes) of a function without ReservedConcurrentExecutions.
    pub default_concurrency: usize,
    /// Events queued for asynchronous invocation per function; more are refused
    /// (TooManyRequestsException), as Lambda's async queue would throttle.
    pub async_backlog: usize,
    /// `--lambda-command NAME=COMMAND`: how to start the named functions instead.
    pub commands: HashMap<String, String>,
    /// Where unpacked ZipFile code goes.
    pub code_root: PathBuf,
    /// lyrebird's own endpoint for handlers' `AWS_ENDPOINT_URL` (`http://127.0.0.1:PORT`).
    pub endpoint: String,
    /// The CPU priority of function processes (`--lambda-priority`).
    pub handler_priority: HandlerPriority,
    /// When `auto`-priority processes are raised and lowered again.
    pub promotion: Promotion,
    /// The init phase's limit (`DEFAULT_INIT_TIMEOUT_MS`; shorter in tests).
    pub init_timeout: std::time::Duration,
    /// `--auth sigv4`: per account, the key its handlers sign their calls with (`None` when
    /// requests are not authenticated).
    pub handler_keys: Option<Arc<crate::credentials::AccountKeys>>,
}

/// The Lambda service.
pub struct LambdaService {
    clock: Arc<Clock>,
    store: SharedStore,
    options: LambdaOptions,
    /// By `account/region/name`.
    functions: RwLock<BTreeMap<String, Arc<Pool>>>,
    /// Asynchronous invocation settings, by function key.
    event_invoke: RwLock<BTreeMap<String, EventInvokeConfig>>,
    /// SQS, SNS and EventBridge, for destinations and dead letters (connected at start-up).
    sink: OnceLock<Arc<dyn DestinationSink>>,
    invocations: Arc<Invocations>,
    /// Events queued or running asynchronously, per function.
    backlogs: invoke::Backlogs,
    /// This service, for the background tasks of asynchronous invocations.
    me: std::sync::Weak<LambdaService>,
}

impl std::fmt::Debug for LambdaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaService")
            .field("functions", &self.functions.read().len())
            .finish()
    }
}

impl LambdaService {
    pub fn new(clock: Arc<Clock>, store: SharedStore, mut options: LambdaOptions) -> Arc<Self> {
        options.handler_priority = options.handler_priority.resolved();
        Arc::new_cyclic(|me| LambdaService {
            clock,
            store,
            options,
            functions: RwLock::new(BTreeMap::new()),
            event_invoke: RwLock::new(BTreeMap::new()),
            sink: OnceLock::new(),
            invocations: Arc::default(),
            backlogs: Default::default(),
            me: me.clone(),
        })
    }

    fn arc(&self) -> Arc<LambdaService> {
        self.me
            .upgrade()
            .expect("the service outlives its requests")
    }

    /// Connects the services destinations and dead letters go to (once, at start-up, before
    /// stored events are restored).
    pub fn connect_destinations(&self, sink: Arc<dyn DestinationSink>) {
        let _ = self.sink.set(sink);
    }

    /// Where lyrebird writes function code it holds (unpacked zips, inline code).
    pub fn code_root(&self) -> &std::path::Path {
        &self.options.code_root
    }

    /// The recent invocations (`/_lyrebird/lambda/invocations`).
    pub fn invocations(&self) -> &Invocations {
        &self.invocations
    }

    pub fn function_count(&self) -> usize {
        self.functions.read().len()
    }

    /// At most `limit` functions' counters for `/metrics`, by (account, region, name) in order.
    pub fn function_stats(
        &self,
        limit: usize,
    ) -> Vec<(Arc<FunctionConfig>, Arc<stats::FunctionStats>)> {
        self.functions
            .read()
            .values()
            .take(limit)
            .map(|pool| (pool.config(), pool.stats.clone()))
            .collect()
    }

    /// A function's configuration, by name, partial or full ARN (in `account`/`region` unless
    /// the ARN names others).
    pub fn function(
        &self,
        account: &str,
        region: &str,
        function: &str,
    ) -> AwsResult<Arc<FunctionConfig>> {
        Ok(self.pool(account, region, function)?.config())
    }

    /// The unqualified ARN of an existing function.
    pub fn function_arn(&self, account: &str, region: &str, function: &str) -> AwsResult<String> {
        Ok(self.function(account, region, function)?.arn())
    }

    /// The pool of an existing function, `$LATEST` (the only version lyrebird keeps).
    fn pool(&self, account: &str, region: &str, function: &str) -> AwsResult<Arc<Pool>> {
        let id = function::resolve_any_region(account, region, function)?;
        self.pool_of(&id)
    }

    fn pool_of(&self, id: &FunctionId) -> AwsResult<Arc<Pool>> {
        if id.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
            return Err(id.not_found());
        }
        self.functions
            .read()
            .get(&function::key(&id.account, &id.region, &id.name))
            .cloned()
            .ok_or_else(|| id.not_found())
    }

    /// Stops every process (shutdown, reset).
    pub fn stop_all(&self) {
        for pool in self.functions.read().values() {
            pool.stop_idle();
        }
    }

    /// Deletes every function (`/_lyrebird/reset`).
    pub fn reset(&self) -> crate::store::Ticket {
        let pools = std::mem::take(&mut *self.functions.write());
        for pool in pools.values() {
            code::remove(&pool.config().code);
        }
        drop(pools);
        self.event_invoke.write().clear();
        self.invocations.clear();
        if self.store.persistent() {
            self.store.submit(vec![
                crate::store::Change::DeletePrefix {
                    space: crate::store::Space::LambdaFunctions,
                    prefix: Vec::new(),
                },
                crate::store::Change::DeletePrefix {
                    space: crate::store::Space::LambdaEvents,
                    prefix: Vec::new(),
                },
                crate::store::Change::DeletePrefix {
                    space: crate::store::Space::LambdaEventInvokeConfigs,
                    prefix: Vec::new(),
                },
            ])
        } else {
            crate::store::Ticket::done()
        }
    }
}

impl Drop for LambdaService {
    /// A server that keeps nothing removes the code it unpacked.
    fn drop(&mut self) {
        if !self.store.persistent() {
            let _ = std::fs::remove_dir_all(&self.options.code_root);
        }
    }
}

impl Service for LambdaService {
    const NAME: &'static str = "lambda";
    type Operation = Operation;
    type Request = Request;
    type Response = Response;

    async fn call(&self, ctx: &RequestContext, request: Request) -> AwsResult<Response> {
        Ok(match request {
            Request::CreateFunction(input) => {
                Response::CreateFunction(self.create_function(ctx, *input)?)
            }
            Request::GetFunction(input) => Response::GetFunction(self.get_function(ctx, &input)?),
            Request::GetFunctionConfiguration(input) => {
                Response::GetFunctionConfiguration(self.get_function(ctx, &input)?.configuration)
            }
            Request::ListFunctions(input) => {
                Response::ListFunctions(self.list_functions(ctx, &input)?)
            }
            Request::DeleteFunction(input) => {
                Response::DeleteFunction(self.delete_function(ctx, &input)?)
            }
            Request::UpdateFunctionCode(input) => {
                Response::UpdateFunctionCode(self.update_function_code(ctx, input)?)
            }
            Request::UpdateFunctionConfiguration(input) => Response::UpdateFunctionConfiguration(
                self.update_function_configuration(ctx, input)?,
            ),
            Request::Invoke(input) => Response::Invoke(self.invoke_api(ctx, input).await?),
            Request::PutFunctionConcurrency(input) => {
                let reserved = input.body.reserved_concurrent_executions;
                Response::PutFunctionConcurrency(self.set_concurrency(
                    ctx,
                    &input.function,
                    Some(reserved),
                )?)
            }
            Request::GetFunctionConcurrency(input) => {
                Response::GetFunctionConcurrency(self.get_concurrency(ctx, &input)?)
            }
            Request::DeleteFunctionConcurrency(input) => {
                self.set_concurrency(ctx, &input, None)?;
                Response::DeleteFunctionConcurrency(crate::service::Empty {})
            }
            Request::PutFunctionEventInvokeConfig(input) => Response::PutFunctionEventInvokeConfig(
                self.put_function_event_invoke_config(ctx, input)?,
            ),
            Request::UpdateFunctionEventInvokeConfig(input) => {
                Response::UpdateFunctionEventInvokeConfig(
                    self.update_function_event_invoke_config(ctx, input)?,
                )
            }
            Request::GetFunctionEventInvokeConfig(input) => Response::GetFunctionEventInvokeConfig(
                self.get_function_event_invoke_config(ctx, &input)?,
            ),
            Request::DeleteFunctionEventInvokeConfig(input) => {
                Response::DeleteFunctionEventInvokeConfig(
                    self.delete_function_event_invoke_config(ctx, &input)?,
                )
            }
            Request::ListFunctionEventInvokeConfigs(input) => {
                Response::ListFunctionEventInvokeConfigs(
                    self.list_function_event_invoke_configs(ctx, &input)?,
                )
            }
        })
    }
}
