//! Invocation: the seam event sources call ([`LambdaService::invoke`], `concurrency_permit`;
//! `invoke_async` is in `async_invoke.rs`) and the Invoke API on top of it.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use parking_lot::Mutex;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::async_invoke::MAX_ASYNC_PAYLOAD;
use super::destinations::FailureRoute;
use super::function;
use super::invocations::InvocationRecord;
use super::model::{InvocationType, InvokeInput, InvokeOutput};
use super::overhead::{Exchange, Settle};
use super::pool::{ErrorKind, Outcome, Pool};
use super::{ConcurrencyPermit, InvocationSource, InvokeRequest, InvokeResult, LambdaService};

/// Lambda's payload quota for a synchronous invocation (asynchronous: `MAX_ASYNC_PAYLOAD`).
const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// What `LogType: Tail` returns of the log.
const LOG_TAIL_BYTES: usize = 4 * 1024;

/// Events queued or running asynchronously, per function (by key).
pub(super) type Backlogs = Mutex<std::collections::HashMap<String, Arc<AtomicUsize>>>;

impl LambdaService {
    /// Runs one synchronous invocation of `function` (name, partial or full ARN). See the
    /// module docs for how it waits for concurrency.
    pub async fn invoke(
        &self,
        account: &str,
        region: &str,
        function: &str,
        request: InvokeRequest,
    ) -> AwsResult<InvokeResult> {
        let id = function::resolve_any_region(account, region, function)?;
        let pool = self.pool_of(&id)?;
        self.invoke_on(&pool, request, "RequestResponse", false, false)
            .await
    }

    /// Waits for a free concurrency slot of `function` and holds it until dropped (or used by
    /// an [`InvokeRequest`]). Reserved concurrency 0 fails at once (TooManyRequestsException).
    pub async fn concurrency_permit(
        &self,
        account: &str,
        region: &str,
        function: &str,
    ) -> AwsResult<ConcurrencyPermit> {
        let pool = self.pool(account, region, function)?;
        acquire(&pool).await
    }

    /// One invocation on `pool`, logged in the invocation ring once the caller has handled its
    /// outcome (when it drops the result's `settle`).
    pub(super) async fn invoke_on(
        &self,
        pool: &Arc<Pool>,
        request: InvokeRequest,
        invocation_type: &'static str,
        throttle_if_busy: bool,
        settle_logs: bool,
    ) -> AwsResult<InvokeResult> {
        let config = pool.config();
        let key = config.key();
        let exchange = Arc::new(Exchange::default());
        let waiting = Instant::now();
        let permit = match request.permit {
            Some(p) if p.function_key == key => Ok(p),
            _ if throttle_if_busy => try_acquire(pool, &key),
            _ => acquire(pool).await,
        }
        .inspect_err(|_| pool.stats.throttled())?;
        // Waiting for a free slot is the function's concurrency, not lyrebird's work.
        exchange.exclude(waiting.elapsed());
        let running = pool.stats.running();
        let request_id = request
            .request_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let started_ms = self.clock.now_ms();
        let started = Instant::now();
        let log = Arc::new(Mutex::new(format!(
            "START RequestId: {request_id} Version: $LATEST\n"
        )));
        let payload = if request.payload.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            request.payload
        };
        let trace_id = format!(
            "Root=1-{:08x}-{};Sampled=0",
            started_ms / 1000,
            &uuid::Uuid::new_v4().simple().to_string()[..24]
        );
        let outcome = pool
            .run(
                permit._permit,
                &request_id,
                payload,
                trace_id,
                log.clone(),
                settle_logs,
                exchange.clone(),
            )
            .await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        drop(running);
        pool.stats
            .finished(duration_ms, matches!(outcome, Outcome::Error { .. }));
        let (payload, function_error, outcome_label, error) = match outcome {
            Outcome::Success(body) => (body, None, "success", None),
            Outcome::Error { payload, kind } => {
                let error = error_summary(&payload);
                if kind != ErrorKind::Timeout {
                    tracing::warn!(function = %config.name, %request_id, error = %error, "invocation failed");
                }
                (
                    payload,
                    Some("Unhandled".to_string()),
                    kind.label(),
                    Some(error),
                )
            }
        };
        let log_tail = {
            let mut log = log.lock();
            log.push_str(&format!(
                "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t\n",
                duration_ms.ceil() as u64,
                config.memory_mb,
                config.memory_mb
            ));
            tail(&log, LOG_TAIL_BYTES).to_string()
        };
        let record = InvocationRecord {
            function: config.name.clone(),
            function_arn: config.arn(),
            request_id: request_id.clone(),
            source: request.source.label(),
            source_arn: request.source.arn().map(str::to_string),
            batch_size: request.batch_size,
            invocation_type,
            outcome: outcome_label,
            duration_ms,
            error,
            started_ms,
            overhead_micros: None,
            dispatch_micros: None,
        };
        Ok(InvokeResult {
            payload,
            function_error,
            log_tail,
            duration_ms,
            request_id,
            settle: Settle::new(
                self.invocations.clone(),
                record,
                &exchange,
                request.ready_at,
            ),
        })
    }

    /// The Invoke API.
    pub(super) async fn invoke_api(
        self: &LambdaService,
        ctx: &RequestContext,
        input: InvokeInput,
    ) -> AwsResult<InvokeOutput> {
        let mut id = function::resolve(
            &ctx.account,
            &ctx.region,
            &input.function.function_name,
            input.function.qualifier.as_deref(),
        )?;
        // Invoke runs `$LATEST` when no version is named, and says so when it is missing
        // ("Function not found: …:$LATEST", recorded).
        id.qualifier.get_or_insert_with(|| "$LATEST".to_string());
        let pool = self.pool_of(&id)?;
        let max = match input.invocation_type {
            InvocationType::Event => MAX_ASYNC_PAYLOAD,
            _ => MAX_SYNC_PAYLOAD,
        };
        if input.payload.len() > max {
            return Err(too_large(max, "Invoke"));
        }
        if !input.payload.iter().all(u8::is_ascii_whitespace) {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&input.payload) {
                return Err(AwsError::new(
                    &codes::LAMBDA_INVALID_REQUEST_CONTENT,
                    format!("Could not parse request body into json: Could not parse payload into json: {e}"),
                ));
            }
        }
        let mut request = InvokeRequest::new(input.payload, InvocationSource::Api);
        match input.invocation_type {
            InvocationType::DryRun => Ok(InvokeOutput {
                status: 204,
                ..InvokeOutput::default()
            }),
            InvocationType::Event => {
                // The caller is answered with the id the invocation (and its retries) runs under.
                request.request_id = Some(ctx.request_id.clone());
                let this = self.arc();
                let event = this.new_event(request, FailureRoute::default());
                this.queue_event(&id, pool, event, Some(ctx), None)?;
                Ok(InvokeOutput {
                    status: 202,
                    ..InvokeOutput::default()
                })
            }
            InvocationType::RequestResponse => {
                // A function with reserved concurrency is throttled when all of it is busy, as
                // on AWS; without, lyrebird's own process limit queues the call instead.
                let throttle = pool.config().reserved_concurrency.is_some();
                let result = self
                    .invoke_on(&pool, request, "RequestResponse", throttle, input.log_tail)
                    .await?;
                let output = InvokeOutput {
                    status: 200,
                    log_result: input.log_tail.then(|| {
                        base64::engine::general_purpose::STANDARD.encode(&result.log_tail)
                    }),
                    function_error: result.function_error,
                    executed_version: Some("$LATEST"),
                    payload: result.payload,
                    invocation_request_id: Some(result.request_id),
                };
                // The Invoke is answered: lyrebird's own time in it ends here.
                drop(result.settle);
                Ok(output)
            }
        }
    }
}

async fn acquire(pool: &Arc<Pool>) -> AwsResult<ConcurrencyPermit> {
    let key = pool.config().key();
    if pool.concurrency == 0 {
        return Err(throttled());
    }
    let permit = pool
        .slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| throttled())?;
    Ok(ConcurrencyPermit {
        function_key: key,
        _permit: permit,
    })
}

fn try_acquire(pool: &Arc<Pool>, key: &str) -> AwsResult<ConcurrencyPermit> {
    let permit = pool
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| throttled())?;
    Ok(ConcurrencyPermit {
        function_key: key.to_string(),
        _permit: permit,
    })
}

/// Reserved concurrency exhausted (or 0), with the reason AWS gives.
fn throttled() -> AwsError {
    AwsError::new(&codes::LAMBDA_TOO_MANY_REQUESTS, "Rate Exceeded.")
        .with_reason("ReservedFunctionConcurrentInvocationLimitExceeded")
}

pub(super) fn too_large(max: usize, operation: &str) -> AwsError {
    AwsError::new(
        &codes::LAMBDA_REQUEST_TOO_LARGE,
        format!("Request must be smaller than {max} bytes for the {operation} operation"),
    )
}

/// `errorType: errorMessage` of an error document, for logs.
fn error_summary(document: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(document).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match (field("errorType"), field("errorMessage")) {
        (Some(t), Some(m)) => format!("{t}: {m}"),
        (Some(t), None) => t,
        (None, Some(m)) => m,
        (None, None) => String::from_utf8_lossy(document)
            .chars()
            .take(200)
            .collect(),
    }
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = text.len() - max;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    &text[cut..]
}
