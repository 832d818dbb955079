//! Asynchronous (Event) invocations, as Lambda runs them: accepted into the function's backlog
//! and kept in the store until done; run in the background; after an error retried up to the
//! function's MaximumRetryAttempts (default 2) after 1 and then 2 minutes of the service clock,
//! unless the next attempt would come later than MaximumEventAgeInSeconds after acceptance;
//! then the outcome goes to the OnSuccess / OnFailure destination (an invocation record) and a
//! final failure also to the function's DeadLetterConfig target (the event, with RequestID,
//! ErrorCode and ErrorMessage attributes), or without one to the event source's own failure
//! route (an SNS subscription's dead-letter queue, only while the function has no OnFailure
//! destination either). A throttled attempt (reserved concurrency 0) is not an attempt: the
//! event goes back to the queue and is tried again 1 s later, then at doubling intervals of at
//! most 5 minutes, for as long as MaximumEventAgeInSeconds allows (6 h by default), as AWS does.
//! Settings are read when each decision is taken, so a change applies to events in flight.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::destinations::{
    dead_letter_error_message, service_of, Condition, Delivery, DestinationRecord, FailureRoute,
};
use super::function::{self, FunctionId};
use super::pool::{error_document, Pool};
use super::{InvocationSource, InvokeRequest, LambdaService};

/// Lambda's quota on an asynchronous event.
pub const MAX_ASYNC_PAYLOAD: usize = 1024 * 1024;
/// Lambda waits about 1 minute before the first retry and 2 before the second.
const RETRY_DELAYS_MS: [u64; 2] = [60_000, 120_000];
/// After a throttle Lambda tries again 1 s later, the interval growing exponentially to 5 min.
const THROTTLE_FIRST_DELAY_MS: u64 = 1_000;
const THROTTLE_MAX_DELAY_MS: u64 = 300_000;

/// One accepted asynchronous event: everything needed to run and route it, also after a
/// restart (`persist.rs` keeps it).
#[derive(Debug, Clone)]
pub struct AsyncEvent {
    /// The invocation's request id, the same in every attempt and in its records.
    pub request_id: String,
    pub payload: Bytes,
    pub source: InvocationSource,
    pub batch_size: usize,
    /// When it was accepted, service clock (its age counts from here).
    pub accepted_ms: u64,
    pub route: FailureRoute,
}

impl LambdaService {
    /// Queues an Event invocation of `function` (name, partial or full ARN): returns once it is
    /// accepted; it runs in the background with Lambda's retries, and its final failure also
    /// follows `route`.
    pub fn invoke_async(
        self: &Arc<Self>,
        account: &str,
        region: &str,
        function: &str,
        request: InvokeRequest,
        route: FailureRoute,
    ) -> AwsResult<()> {
        let id = function::resolve_any_region(account, region, function)?;
        let pool = self.pool_of(&id)?;
        let event = self.new_event(request, route);
        self.queue_event(&id, pool, event, None, None)
    }

    pub(super) fn new_event(&self, request: InvokeRequest, route: FailureRoute) -> AsyncEvent {
        AsyncEvent {
            request_id: request
                .request_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            payload: request.payload,
            source: request.source,
            batch_size: request.batch_size,
            accepted_ms: self.clock.now_ms(),
            route,
        }
    }

    /// Accepts an event: kept in the store until it is done (`ctx`'s request waits for that
    /// write), then run. `restored` is the store key of an event read back at start-up.
    pub(super) fn queue_event(
        self: &Arc<Self>,
        id: &FunctionId,
        pool: Arc<Pool>,
        event: AsyncEvent,
        ctx: Option<&RequestContext>,
        restored: Option<Vec<u8>>,
    ) -> AwsResult<()> {
        if event.payload.len() > MAX_ASYNC_PAYLOAD {
            return Err(super::invoke::too_large(MAX_ASYNC_PAYLOAD, "InvokeAsync"));
        }
        let backlog = self
            .backlogs
            .lock()
            .entry(function::key(&id.account, &id.region, &id.name))
            .or_default()
            .clone();
        if backlog.fetch_add(1, Ordering::AcqRel) >= self.options.async_backlog {
            backlog.fetch_sub(1, Ordering::AcqRel);
            pool.stats.throttled();
            return Err(AwsError::new(
                &codes::LAMBDA_TOO_MANY_REQUESTS,
                "Rate Exceeded.",
            ));
        }
        let stored = match restored {
            Some(key) => Some(key),
            None => self.keep_event(id, &event, ctx),
        };
        let service = self.clone();
        tokio::spawn(async move {
            service.run_event(&pool, &event).await;
            backlog.fetch_sub(1, Ordering::AcqRel);
            if let Some(key) = stored {
                service.forget_event(key);
            }
        });
        Ok(())
    }

    /// Runs one event with its retries and routes the outcome.
    async fn run_event(self: &Arc<Self>, pool: &Arc<Pool>, event: &AsyncEvent) {
        let key = pool.config().key();
        let mut pool = pool.clone();
        let mut attempts = 0u32;
        let mut throttle_delay = THROTTLE_FIRST_DELAY_MS;
        let (condition, response, function_error, error_code, settle) = loop {
            let mut request = InvokeRequest::new(event.payload.clone(), event.source.clone());
            request.batch_size = event.batch_size;
            request.request_id = Some(event.request_id.clone());
            let outcome = self.invoke_on(&pool, request, "Event", false, false).await;
            if let Err(e) = &outcome {
                if e.code.shape == codes::LAMBDA_TOO_MANY_REQUESTS.shape {
                    // Throttled: back to the queue, not an attempt; tried again until too old
                    // (a last time when its age is up).
                    let max_age = self.event_invoke_config(&key).max_age_ms();
                    let too_old = event.accepted_ms.saturating_add(max_age);
                    let now = self.clock.now_ms();
                    if now >= too_old {
                        let response = error_document(e.code.shape, &e.message);
                        break (Condition::EventAgeExceeded, response, None, 429, None);
                    }
                    self.clock
                        .sleep_until_ms(now.saturating_add(throttle_delay).min(too_old))
                        .await;
                    throttle_delay = (throttle_delay * 2).min(THROTTLE_MAX_DELAY_MS);
                    // A new concurrency setting comes with a new pool, which keeps the
                    // function's stats; a function deleted (or deleted and created again, with
                    // new stats) meanwhile has its queued events discarded, as on AWS.
                    let current = self.functions.read().get(&key).cloned();
                    match current {
                        Some(current) if Arc::ptr_eq(&current.stats, &pool.stats) => pool = current,
                        _ => {
                            tracing::info!(function = %key, request_id = %event.request_id, "function deleted; its throttled event is discarded");
                            return;
                        }
                    }
                    continue;
                }
            }
            attempts += 1;
            let (response, error, settle) = match outcome {
                Ok(result) => (result.payload, result.function_error, Some(result.settle)),
                Err(e) => (
                    error_document(e.code.shape, &e.message),
                    Some("Unhandled".to_string()),
                    None,
                ),
            };
            if error.is_none() {
                break (Condition::Success, response, None, 200, settle);
            }
            let settings = self.event_invoke_config(&key);
            if attempts > settings.retries() {
                break (Condition::RetriesExhausted, response, error, 200, settle);
            }
            let now = self.clock.now_ms();
            let next = now + RETRY_DELAYS_MS[(attempts as usize - 1).min(1)];
            if next.saturating_sub(event.accepted_ms) > settings.max_age_ms() {
                break (Condition::EventAgeExceeded, response, error, 200, settle);
            }
            drop(settle);
            self.clock.sleep_until_ms(next).await;
        };
        let config = pool.config();
        let function_arn = config.arn();
        let settings = self.event_invoke_config(&key);
        if condition != Condition::Success {
            tracing::warn!(function = %function_arn, request_id = %event.request_id, attempts, condition = ?condition, "asynchronous invocation failed");
            if let Some(target) = &config.dead_letter_target {
                // The function's own dead-letter queue gets the event as it came (for an
                // SNS-triggered invoke, the SNS event), besides any OnFailure destination:
                // AWS sends to both when both are configured.
                self.send(
                    target,
                    String::from_utf8_lossy(&event.payload).into_owned(),
                    Delivery::FunctionDeadLetter {
                        request_id: event.request_id.clone(),
                        // A function error is answered with 200 (the error is in the
                        // payload); an event that aged out throttled, with 429.
                        error_code,
                        error_message: dead_letter_error_message(&response),
                    },
                )
                .await;
            } else if let Some(dead_letter) =
                (event.route.dead_letter.as_ref()).filter(|_| settings.on_failure.is_none())
            {
                // The SNS subscription's dead-letter queue stands in for the function's own
                // failure handling only while it has none: with an OnFailure destination, AWS
                // sends the failed event there, and SNS (whose delivery Lambda accepted) has
                // nothing to dead-letter.
                self.send(
                    &dead_letter.queue_arn,
                    dead_letter.body.clone(),
                    Delivery::DeadLetter {
                        sender: dead_letter.sender.clone(),
                    },
                )
                .await;
            }
        }
        let target = match condition {
            Condition::Success => settings.on_success,
            _ => settings.on_failure,
        };
        if let Some(target) = target {
            let qualified = format!("{function_arn}:$LATEST");
            let record = DestinationRecord {
                timestamp: crate::clock::iso8601_millis(self.clock.wall_ms()),
                request_id: &event.request_id,
                function_arn: &qualified,
                condition,
                invoke_count: attempts,
                request_payload: &event.payload,
                function_error: function_error.as_deref(),
                response_payload: &response,
            }
            .to_json();
            let delivery = Delivery::Record {
                success: condition == Condition::Success,
                function_arn: qualified,
            };
            self.send(&target, record, delivery).await;
        }
        // The outcome is handled: lyrebird's own time for the last attempt ends here.
        drop(settle);
    }

    /// Delivers to a destination or dead-letter queue: a function here, the rest through the
    /// connected sink. A failure is logged (as AWS counts it in DestinationDeliveryFailures).
    async fn send(self: &Arc<Self>, target: &str, body: String, what: Delivery) {
        let sent = if service_of(target) == "lambda" {
            let (account, region) = arn_scope(target);
            let source = match &what {
                Delivery::Record { function_arn, .. } => InvocationSource::Lambda {
                    arn: function_arn.clone(),
                },
                Delivery::DeadLetter { .. } | Delivery::FunctionDeadLetter { .. } => {
                    InvocationSource::Api
                }
            };
            self.invoke_async(
                &account,
                &region,
                target,
                InvokeRequest::new(body, source),
                FailureRoute::default(),
            )
            .map_err(|e| e.message)
        } else {
            match self.sink.get() {
                Some(sink) => sink.deliver(target, body, what).await,
                None => Err("no destinations are connected".to_string()),
            }
        };
        if let Err(why) = sent {
            tracing::warn!(destination = %target, "asynchronous invocation outcome not delivered: {why}");
        }
    }
}

/// (account, region) of an ARN.
fn arn_scope(arn: &str) -> (String, String) {
    let mut parts = arn.split(':');
    let region = parts.nth(3).unwrap_or_default().to_string();
    let account = parts.next().unwrap_or_default().to_string();
    (account, region)
}
