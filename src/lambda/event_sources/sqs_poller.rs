//! The engine of one SQS event source mapping, as Lambda runs it: receive a batch through the
//! SQS service's own receive path (so visibility, receive counts and the queue's RedrivePolicy
//! behave as for any consumer), drop what `FilterCriteria` rejects (deleting it), invoke the
//! function synchronously with the SQS event, then delete what succeeded. A failed invocation
//! deletes nothing: the batch becomes visible again after the queue's visibility timeout, its
//! receive count grows, and the redrive policy moves poison messages to the dead-letter queue.
//! A batch's event stays within Lambda's 6 MB payload quota: records beyond it are made visible
//! again at once, for the next batch.
//!
//! Concurrency: up to `ScalingConfig.MaximumConcurrency` batches at once (`UNBOUNDED` without
//! it), and never more than the function's own concurrency (its reserved concurrency, else the
//! default): both slots are taken before receiving, so no message is held in flight waiting for
//! a free function. The poller long-polls (the queue wakes it on new messages), and a change to
//! the mapping wakes it too.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::codes;
use crate::sqs::model::{
    ChangeMessageVisibilityBatchEntry, ChangeMessageVisibilityBatchInput, DeleteMessageBatchEntry,
    DeleteMessageBatchInput, ReceiveMessageInput, ReceivedMessage,
};
use crate::sqs::SqsService;

use super::batch_response::{verdict, BatchVerdict};
use super::filter::{with_parsed_body, RecordFilters};
use super::mapping::EventSourceMapping;
use super::runtime::{FunctionRuntime, Invoked, Permit, Source};
use super::sqs_event::{record_value, sqs_event, QueueSource};
use super::Mapping;

/// Concurrent batches of a mapping without MaximumConcurrency (AWS's upper bound for it); the
/// function's concurrency is the real bound then.
pub const UNBOUNDED: u32 = 1000;
/// The long poll of each receive (the most SQS allows, as Lambda's pollers use).
const LONG_POLL_S: i64 = 20;
/// Lambda's payload quota for a synchronous invocation (6 MB): no batch's event is larger.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;
/// How long to wait before polling a queue that does not exist (any more) again.
const MISSING_QUEUE_RETRY: Duration = Duration::from_secs(1);

pub struct SqsPoller {
    sqs: Arc<SqsService>,
    runtime: Arc<dyn FunctionRuntime>,
    clock: Arc<Clock>,
    mapping: Arc<Mapping>,
}

/// What a poll works with: the configuration at the time, and what follows from it.
struct Plan {
    config: EventSourceMapping,
    queue_url: String,
    queue_name: String,
    fifo: bool,
    filters: RecordFilters,
    concurrency: u32,
}

impl SqsPoller {
    pub fn new(
        sqs: Arc<SqsService>,
        runtime: Arc<dyn FunctionRuntime>,
        clock: Arc<Clock>,
        mapping: Arc<Mapping>,
    ) -> Self {
        SqsPoller {
            sqs,
            runtime,
            clock,
            mapping,
        }
    }

    fn plan(&self) -> Plan {
        let config = self.mapping.config.lock().clone();
        let mut parts = config.event_source_arn.split(':');
        let (region, account, name) = (
            parts.nth(3).unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let concurrency = config
            .scaling_config
            .as_ref()
            .and_then(|s| s.maximum_concurrency)
            .unwrap_or(UNBOUNDED);
        Plan {
            filters: RecordFilters::compile(config.filter_criteria.as_ref()),
            fifo: name.ends_with(".fifo"),
            queue_url: format!("http://localhost/{account}/{name}"),
            queue_name: name,
            concurrency,
            config: EventSourceMapping { region, ..config },
        }
    }

    /// Polls until the mapping is deleted or the server closes. Batches run as tasks of their
    /// own, owned by the poller: a deleted mapping lets them finish, aborting the poller (at
    /// shutdown) aborts them too.
    pub async fn run(self) {
        let this = Arc::new(self);
        let mut batches = tokio::task::JoinSet::new();
        this.poll(&mut batches).await;
        batches.detach_all();
    }

    async fn poll(self: &Arc<Self>, batches: &mut tokio::task::JoinSet<()>) {
        let this = self;
        let mut slots: Option<(u32, Arc<Semaphore>)> = None;
        let mut missing_logged = false;
        loop {
            // Registered before the configuration is read, so no change is missed.
            let changed = this.mapping.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if this.mapping.is_deleted() || this.sqs.is_closing() {
                return;
            }
            let plan = this.plan();
            if !plan.config.enabled {
                changed.await;
                continue;
            }
            let semaphore = match &slots {
                Some((n, s)) if *n == plan.concurrency => s.clone(),
                _ => {
                    let s = Arc::new(Semaphore::new(plan.concurrency as usize));
                    slots = Some((plan.concurrency, s.clone()));
                    s
                }
            };
            let permit = tokio::select! {
                // A change wins over work that became ready at the same time.
                biased;
                _ = &mut changed => continue,
                permit = semaphore.acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            // A free slot of the function is waited for before receiving (no batch is taken
            // that could not run), but not held through the long poll: on AWS an idle poller
            // uses none of the function's concurrency. The slot is taken again for the batch.
            let function_slot = tokio::select! {
                biased;
                _ = &mut changed => continue,
                slot = this.runtime.permit(&plan.config.function_arn) => slot,
            };
            match function_slot {
                Ok(slot) => drop(slot),
                Err(why) => {
                    // Throttled (reserved concurrency 0) or gone: nothing is received.
                    tracing::debug!(mapping = %plan.config.uuid, "not polling: {why}");
                    tokio::select! {
                        biased;
                        _ = tokio::time::sleep(MISSING_QUEUE_RETRY) => {}
                        _ = &mut changed => {}
                    }
                    continue;
                }
            };
            let batch = tokio::select! {
                biased;
                _ = &mut changed => continue,
                batch = this.collect(&plan) => batch,
            };
            match batch {
                Ok(messages) if messages.is_empty() => {}
                Ok(messages) => {
                    // lyrebird's own time in this invocation counts from here.
                    let received = std::time::Instant::now();
                    missing_logged = false;
                    // Messages in hand are not dropped for a mapping change; if the function
                    // cannot run them any more, they return after the visibility timeout.
                    let function_slot = match this.runtime.permit(&plan.config.function_arn).await {
                        Ok(slot) => slot,
                        Err(why) => {
                            tracing::warn!(mapping = %plan.config.uuid, "batch not invoked, back to the queue after its visibility timeout: {why}");
                            continue;
                        }
                    };
                    while batches.try_join_next().is_some() {}
                    batches.spawn(this.clone().process(
                        plan,
                        messages,
                        (permit, function_slot),
                        received,
                    ));
                }
                Err(missing) => {
                    if !missing_logged {
                        tracing::warn!(
                            mapping = %plan.config.uuid,
                            queue = %plan.config.event_source_arn,
                            "event source mapping cannot poll: {missing}"
                        );
                        missing_logged = true;
                    }
                    tokio::select! {
                        biased;
                        _ = tokio::time::sleep(MISSING_QUEUE_RETRY) => {}
                        _ = &mut changed => {}
                    }
                }
            }
        }
    }

    fn context(plan: &Plan) -> RequestContext {
        RequestContext::internal(&plan.config.account, &plan.config.region, "localhost")
    }

    async fn receive(
        &self,
        plan: &Plan,
        max: usize,
        wait_s: i64,
    ) -> Result<Vec<ReceivedMessage>, String> {
        let input = ReceiveMessageInput {
            queue_url: Some(plan.queue_url.clone()),
            message_system_attribute_names: Some(vec!["All".into()]),
            message_attribute_names: Some(vec!["All".into()]),
            max_number_of_messages: Some(max.clamp(1, 10) as i64),
            wait_time_seconds: Some(wait_s.clamp(0, LONG_POLL_S)),
            ..Default::default()
        };
        match self.sqs.receive_message(&Self::context(plan), input).await {
            Ok(out) => Ok(out.messages),
            Err(e) if e.code == &codes::QUEUE_DOES_NOT_EXIST => {
                Err(format!("queue {} does not exist", plan.queue_name))
            }
            Err(e) => {
                // Over the in-flight quota and the like: try again shortly.
                tracing::debug!(error = %e.message, "event source receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(Vec::new())
            }
        }
    }

    /// One batch: a long poll for the first messages, then (with a batching window) more
    /// receives until the batch is full or the window has passed.
    async fn collect(&self, plan: &Plan) -> Result<Vec<ReceivedMessage>, String> {
        let want = plan.config.batch_size.max(1) as usize;
        let mut batch = self.receive(plan, want, LONG_POLL_S).await?;
        if batch.is_empty() || plan.config.maximum_batching_window_in_seconds == 0 {
            return Ok(batch);
        }
        let window = Duration::from_secs(plan.config.maximum_batching_window_in_seconds as u64);
        let deadline = tokio::time::Instant::now() + window;
        // Lambda invokes once the batch's payload reaches its 6 MB quota (bodies are most of it;
        // `process` holds the event itself to the quota).
        let body_bytes = |b: &[ReceivedMessage]| b.iter().map(|m| m.body.len()).sum::<usize>();
        while batch.len() < want && body_bytes(&batch) < MAX_EVENT_BYTES {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let wait_s = left.as_secs_f64().ceil() as i64;
            // A receive dropped at the deadline has taken nothing: it takes messages only
            // when it returns them.
            tokio::select! {
                biased;
                more = self.receive(plan, want - batch.len(), wait_s) => batch.extend(more?),
                _ = tokio::time::sleep(left) => break,
            }
        }
        Ok(batch)
    }

    /// Filters, invokes and settles one batch; the permit is released when it is done.
    async fn process(
        self: Arc<Self>,
        plan: Plan,
        messages: Vec<ReceivedMessage>,
        (_mapping_slot, function_slot): (OwnedSemaphorePermit, Permit),
        received: std::time::Instant,
    ) {
        let source = QueueSource {
            arn: &plan.config.event_source_arn,
            region: &plan.config.region,
        };
        let (admitted, rejected): (Vec<ReceivedMessage>, Vec<ReceivedMessage>) =
            if plan.filters.is_empty() {
                (messages, Vec::new())
            } else {
                messages.into_iter().partition(|m| {
                    plan.filters
                        .admits(&with_parsed_body(record_value(m, &source)))
                })
            };
        // Messages no filter matches are deleted, as Lambda does for SQS.
        self.delete(&plan, rejected.iter()).await;
        if admitted.is_empty() {
            return;
        }
        let (admitted, payload, excess) = within_quota(admitted, &source);
        // Records beyond the quota go back to the queue at once, for the next batch to take.
        self.release(&plan, excess.iter()).await;
        let started = self.clock.now_ms();
        let (outcome, settled) = self
            .runtime
            .invoke(
                &plan.config.function_arn,
                payload,
                Source {
                    kind: "aws:sqs",
                    arn: &plan.config.event_source_arn,
                },
                admitted.len(),
                Some(function_slot),
                received,
            )
            .await;
        let keep: Vec<usize> = match outcome {
            Invoked::Answered(answer) if plan.config.reports_batch_item_failures() => {
                let ids: Vec<&str> = admitted.iter().map(|m| m.message_id.as_str()).collect();
                let groups: Option<Vec<&str>> = plan.fifo.then(|| {
                    admitted
                        .iter()
                        .map(|m| {
                            m.attributes
                                .iter()
                                .find(|(k, _)| *k == "MessageGroupId")
                                .map_or("", |(_, v)| v.as_str())
                        })
                        .collect()
                });
                match verdict(&answer, &ids, groups.as_deref()) {
                    BatchVerdict::AllSucceeded => Vec::new(),
                    BatchVerdict::PartlyFailed(failed) => failed,
                    BatchVerdict::AllFailed => (0..admitted.len()).collect(),
                }
            }
            Invoked::Answered(_) => Vec::new(),
            Invoked::FunctionError(error) | Invoked::NotRun(error) => {
                tracing::warn!(
                    mapping = %plan.config.uuid,
                    function = %plan.config.function_arn,
                    queue = %plan.queue_name,
                    messages = admitted.len(),
                    millis = self.clock.now_ms().saturating_sub(started),
                    "batch failed, back to the queue after its visibility timeout: {error}"
                );
                (0..admitted.len()).collect()
            }
        };
        let done = admitted
            .iter()
            .enumerate()
            .filter(|(i, _)| !keep.contains(i))
            .map(|(_, m)| m);
        self.delete(&plan, done).await;
        // The batch is settled: the invocation is logged with lyrebird's own time in it.
        drop(settled);
    }

    /// Makes messages visible again now (visibility timeout 0). Their receive counts stay as
    /// the receive left them, as a ChangeMessageVisibility leaves them on SQS.
    async fn release<'a>(&self, plan: &Plan, messages: impl Iterator<Item = &'a ReceivedMessage>) {
        let handles: Vec<&str> = messages.map(|m| m.receipt_handle.as_str()).collect();
        if handles.is_empty() {
            return;
        }
        let ctx = Self::context(plan);
        for chunk in handles.chunks(10) {
            let input = ChangeMessageVisibilityBatchInput {
                queue_url: Some(plan.queue_url.clone()),
                entries: Some(
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, h)| ChangeMessageVisibilityBatchEntry {
                            id: Some(i.to_string()),
                            receipt_handle: Some(h.to_string()),
                            visibility_timeout: Some(0),
                        })
                        .collect(),
                ),
            };
            // A failed release only delays the message until its visibility timeout.
            if let Err(e) = self.sqs.change_message_visibility_batch(&ctx, input) {
                tracing::debug!(error = %e.message, "event source release failed");
            }
        }
        if let Err(e) = ctx.writes.durable().await {
            tracing::warn!(error = %e, "event source releases not stored");
        }
    }

    async fn delete<'a>(&self, plan: &Plan, messages: impl Iterator<Item = &'a ReceivedMessage>) {
        let handles: Vec<&str> = messages.map(|m| m.receipt_handle.as_str()).collect();
        if handles.is_empty() {
            return;
        }
        let ctx = Self::context(plan);
        for chunk in handles.chunks(10) {
            let input = DeleteMessageBatchInput {
                queue_url: Some(plan.queue_url.clone()),
                entries: Some(
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, h)| DeleteMessageBatchEntry {
                            id: Some(i.to_string()),
                            receipt_handle: Some(h.to_string()),
                        })
                        .collect(),
                ),
            };
            // A handle that expired (the function outlived the visibility timeout) is not
            // deleted, as on AWS: the message is received again.
            if let Err(e) = self.sqs.delete_message_batch(&ctx, input) {
                tracing::debug!(error = %e.message, "event source delete failed");
            }
        }
        if let Err(e) = ctx.writes.durable().await {
            tracing::warn!(error = %e, "event source deletes not stored");
        }
    }
}

/// Splits a batch at Lambda's 6 MB quota: the longest prefix whose SQS event fits (at least one
/// record), that event, and the records left over.
fn within_quota(
    mut messages: Vec<ReceivedMessage>,
    source: &QueueSource<'_>,
) -> (Vec<ReceivedMessage>, Vec<u8>, Vec<ReceivedMessage>) {
    let payload = sqs_event(&messages, source);
    if payload.len() <= MAX_EVENT_BYTES || messages.len() <= 1 {
        return (messages, payload, Vec::new());
    }
    // The event grows with each record: the largest prefix that fits, by bisection.
    let (mut fits, mut too_big) = (1, messages.len());
    while too_big - fits > 1 {
        let mid = (fits + too_big) / 2;
        if sqs_event(&messages[..mid], source).len() <= MAX_EVENT_BYTES {
            fits = mid;
        } else {
            too_big = mid;
        }
    }
    let excess = messages.split_off(fits);
    let payload = sqs_event(&messages, source);
    (messages, payload, excess)
}
