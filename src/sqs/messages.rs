//! Message operations: SendMessage(Batch), ReceiveMessage (with long polling),
//! DeleteMessage(Batch), ChangeMessageVisibility(Batch).

use std::sync::Arc;
use std::time::Duration;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::store::{Change, Ticket};

use super::md5::md5_of_attributes;
use super::message::{md5_bytes, Extra, NewMessage, StoredMessage};
use super::model::*;
use super::queue::{Enqueued, HandleError, Moving, Queue, ReceiveRequest};
use super::receipt::Receipt;
use super::{validate, SqsService};

/// A send that passed validation, ready to enqueue.
struct ValidSend {
    message: NewMessage,
    output: SendMessageOutput,
}

impl SqsService {
    pub fn send_message(
        &self,
        ctx: &RequestContext,
        input: SendMessageInput,
    ) -> AwsResult<SendMessageOutput> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let settings = SendSettings::of(&queue);
        let mut send = prepare_send(
            ctx,
            &queue,
            SendFields {
                body: input.message_body,
                delay_seconds: input.delay_seconds,
                attributes: input.message_attributes,
                system_attributes: input.message_system_attributes,
                deduplication_id: input.message_deduplication_id,
                group_id: input.message_group_id,
            },
            &settings,
        )?;
        let now = self.now_ms();
        let enqueued = {
            let mut state = queue.lock(now);
            let enqueued = state.enqueue(send.message, now);
            // A FIFO duplicate writes nothing: its answer waits for the original's write.
            ctx.writes.push(queue.commit_or_wait(&mut state));
            enqueued
        };
        if send.output.apply(enqueued) {
            queue.notify().notify_one();
        }
        Ok(send.output)
    }

    pub fn send_message_batch(
        &self,
        ctx: &RequestContext,
        input: SendMessageBatchInput,
    ) -> AwsResult<SendMessageBatchOutput> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let entries = input.entries.unwrap_or_default();
        validate::batch_size(entries.len(), "SendMessageBatchRequestEntry")?;
        validate::batch_ids(entries.iter().map(|e| e.id.as_deref()))?;
        let settings = SendSettings::of(&queue);
        batch_request_rules(&entries, queue.is_fifo(), settings.content_based)?;
        let mut output = SendMessageBatchOutput::default();
        let mut accepted = Vec::with_capacity(entries.len());
        for entry in entries {
            let id = entry.id.unwrap_or_default();
            let fields = SendFields {
                body: entry.message_body,
                delay_seconds: entry.delay_seconds,
                attributes: entry.message_attributes,
                system_attributes: entry.message_system_attributes,
                deduplication_id: entry.message_deduplication_id,
                group_id: entry.message_group_id,
            };
            match prepare_send(ctx, &queue, fields, &settings) {
                Ok(send) => accepted.push((id, send)),
                Err(e) => output.failed.push(batch_error(id, &e)),
            }
        }
        let now = self.now_ms();
        let mut any_visible = false;
        {
            let mut state = queue.lock(now);
            for (id, mut send) in accepted {
                let enqueued = state.enqueue(send.message, now);
                any_visible |= send.output.apply(enqueued);
                output.successful.push(SendMessageBatchResultEntry {
                    id,
                    result: send.output,
                });
            }
            ctx.writes.push(queue.commit_or_wait(&mut state));
        }
        if any_visible {
            queue.notify().notify_one();
        }
        Ok(output)
    }

    /// Sends on behalf of another service (SNS delivery), with SendMessage's validation and
    /// limits. Deduplication ids only reach FIFO queues. The write joins `caller`'s, which its
    /// answer waits for.
    pub fn send_from_service(
        &self,
        caller: &RequestContext,
        queue_arn: &str,
        message: Forwarded,
        sender_id: &str,
    ) -> AwsResult<()> {
        let (_, ticket, _) = self.enqueue_from_service(queue_arn, message, sender_id, false)?;
        caller.writes.push(ticket);
        Ok(())
    }

    /// As `send_from_service`, for a sender with no request to answer (an HTTP/S delivery's
    /// dead letter, in the background): a failed write is written again until the store takes
    /// it, never dropped.
    pub async fn send_from_service_until_durable(
        &self,
        queue_arn: &str,
        message: Forwarded,
        sender_id: &str,
    ) -> AwsResult<()> {
        let (queue, ticket, copy) =
            self.enqueue_from_service(queue_arn, message, sender_id, true)?;
        super::dead_letters::until_durable(&queue, ticket, &copy, &self.clock).await;
        Ok(())
    }

    /// Enqueues a message from another service; with `confirmed`, the ticket reports a failed
    /// write even under relaxed durability, and the changes come back to write again.
    fn enqueue_from_service(
        &self,
        queue_arn: &str,
        message: Forwarded,
        sender_id: &str,
        confirmed: bool,
    ) -> AwsResult<(Arc<Queue>, Ticket, Vec<Change>)> {
        let Forwarded {
            body,
            attributes,
            group_id,
            deduplication_id,
            trace_header,
        } = message;
        let queue = self
            .queue_by_arn(queue_arn)
            .ok_or_else(AwsError::queue_does_not_exist)?;
        let mut ctx = RequestContext::internal(&queue.account, &queue.region, "");
        ctx.sender = Some(sender_id.to_string());
        ctx.trace_header = trace_header;
        let settings = SendSettings::of(&queue);
        let fifo = queue.is_fifo();
        let fields = SendFields {
            body: Some(body),
            delay_seconds: None,
            attributes: (!attributes.is_empty()).then_some(attributes),
            system_attributes: None,
            deduplication_id: deduplication_id.filter(|_| fifo),
            group_id,
        };
        let mut send = prepare_send(&ctx, &queue, fields, &settings)?;
        let now = self.now_ms();
        let (enqueued, ticket, copy) = {
            let mut state = queue.lock(now);
            let enqueued = state.enqueue(send.message, now);
            if confirmed {
                let copy = state.pending_changes();
                (enqueued, queue.commit_confirmed(&mut state), copy)
            } else {
                (enqueued, queue.commit(&mut state), Vec::new())
            }
        };
        if send.output.apply(enqueued) {
            queue.notify().notify_one();
        }
        Ok((queue, ticket, copy))
    }

    /// Looks for messages, and while there are none waits (long polling) until a send, an
    /// unlock or a due time wakes it, or the wait time is over.
    pub async fn receive_message(
        &self,
        ctx: &RequestContext,
        input: ReceiveMessageInput,
    ) -> AwsResult<ReceiveMessageOutput> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let params = ReceiveParams::check(&input, queue.is_fifo())?;
        let start = self.now_ms();
        let mut deadline = None;
        loop {
            // Register for wake-ups before looking, so a send in between is not missed.
            let notified = queue.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let now = self.now_ms();
            let look = self.take_messages(&queue, &params, now)?;
            // The wait time is the queue's when the request gives none, read on the first look.
            let deadline =
                *deadline.get_or_insert(start.saturating_add(look.wait_s.saturating_mul(1000)));
            if !look.messages.is_empty() {
                if look.more {
                    // Pass the wake-up on: another waiter can take what is left.
                    queue.notify().notify_one();
                }
                return Ok(ReceiveMessageOutput {
                    messages: look.messages,
                });
            }
            if now >= deadline || queue.is_deleted() || self.is_closing() {
                return Ok(ReceiveMessageOutput::default());
            }
            let wake = look.next_due.map_or(deadline, |due| due.min(deadline));
            let sleep = Duration::from_millis(wake.saturating_sub(now).max(1));
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// One look at the queue: takes what a receive may into flight (under the in-flight quota),
    /// and moves messages that used up their receives to the dead-letter queue.
    fn take_messages(
        &self,
        queue: &Arc<Queue>,
        params: &ReceiveParams<'_>,
        now: u64,
    ) -> AwsResult<Look> {
        let mut dead_letters = Moving::default();
        let (look, redrive) = {
            let mut state = queue.lock(now);
            // The in-flight quota: standard queues refuse, FIFO queues just hand out nothing
            // more (AWS documents no error for them).
            let in_flight = state.counts().in_flight;
            let limit = self.options.in_flight_limit;
            if in_flight >= limit && !queue.is_fifo() {
                return Err(AwsError::new(
                    &codes::OVER_LIMIT,
                    "Too many messages have been received without being deleted. Please delete your received messages or let them timeout before receiving more.",
                ));
            }
            let redrive = state.config.redrive_policy.clone();
            let request = ReceiveRequest {
                queue_id: queue.id,
                max: params.max.min(limit.saturating_sub(in_flight)),
                visibility_s: params.visibility.unwrap_or(state.config.visibility_timeout),
                now_ms: now,
                max_receives: redrive.as_ref().map(|r| r.max_receive_count),
                attempt_id: params.attempt_id,
            };
            let messages = state.receive(&request, &mut dead_letters, |m, handle| {
                params.selection.render(m, handle)
            });
            // Receive state is kept but not waited for: losing it in a crash only makes
            // in-flight messages visible early. The removal of dead letters is not in it: it is
            // written with their copies.
            drop(queue.commit(&mut state));
            let look = Look {
                messages,
                next_due: state.next_due_ms(),
                more: state.counts().visible > 0,
                wait_s: params
                    .wait
                    .unwrap_or(state.config.receive_message_wait_time_seconds as u64),
            };
            (look, redrive)
        };
        if let Some(redrive) = redrive.filter(|_| !dead_letters.is_empty()) {
            self.move_to_dead_letter_queue(queue, &redrive.dead_letter_target_arn, dead_letters);
        }
        Ok(look)
    }

    pub fn delete_message(
        &self,
        ctx: &RequestContext,
        input: DeleteMessageInput,
    ) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let handle = required_handle(input.receipt_handle.as_deref())?;
        self.delete_one(ctx, &queue, handle)?;
        Ok(Empty {})
    }

    fn delete_one(&self, ctx: &RequestContext, queue: &Queue, handle: &str) -> AwsResult<()> {
        let receipt = Receipt::decode(handle)?;
        let mut results = self.delete_receipts(ctx, queue, [(handle, receipt)]);
        results.pop().unwrap_or(Ok(()))
    }

    /// Deletes the messages of decoded receipt handles under one lock of the queue, with one
    /// journal commit for all of them, giving each handle's result in order.
    fn delete_receipts<'h>(
        &self,
        ctx: &RequestContext,
        queue: &Queue,
        receipts: impl IntoIterator<Item = (&'h str, Receipt)>,
    ) -> Vec<AwsResult<()>> {
        let (results, woken) = {
            let mut state = queue.lock(self.now_ms());
            let results: Vec<AwsResult<()>> = receipts
                .into_iter()
                .map(|(handle, receipt)| match state.delete(queue.id, &receipt) {
                    Ok(()) => Ok(()),
                    Err(HandleError::Expired) => Err(AwsError::invalid_value_for(
                        "ReceiptHandle",
                        handle,
                        "The receipt handle has expired.",
                    )),
                    Err(_) => Err(invalid_handle(handle)),
                })
                .collect();
            ctx.writes.push(queue.commit_or_wait(&mut state));
            (results, state.take_woken())
        };
        if woken {
            // Deleting a FIFO group's head can unlock the group's next message.
            queue.notify().notify_one();
        }
        results
    }

    pub fn delete_message_batch(
        &self,
        ctx: &RequestContext,
        input: DeleteMessageBatchInput,
    ) -> AwsResult<BatchIdsOutput> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let entries = input.entries.unwrap_or_default();
        validate::batch_size(entries.len(), "DeleteMessageBatchRequestEntry")?;
        validate::batch_ids(entries.iter().map(|e| e.id.as_deref()))?;
        // Handles are checked first, then every valid one is deleted under a single lock of
        // the queue (a batch is one critical section, not ten).
        let checked: Vec<(String, AwsResult<(&str, Receipt)>)> = entries
            .iter()
            .map(|e| {
                let handle = required_handle(e.receipt_handle.as_deref())
                    .and_then(|h| Receipt::decode(h).map(|r| (h, r)));
                (e.id.clone().unwrap_or_default(), handle)
            })
            .collect();
        let mut deleted = self
            .delete_receipts(
                ctx,
                &queue,
                checked.iter().filter_map(|(_, c)| c.as_ref().ok().copied()),
            )
            .into_iter();
        let mut output = BatchIdsOutput::default();
        for (id, handle) in checked {
            let result = handle.and_then(|_| deleted.next().unwrap_or(Ok(())));
            match result {
                Ok(()) => output.successful.push(BatchId { id }),
                Err(e) => output.failed.push(batch_error(id, &e)),
            }
        }
        Ok(output)
    }

    pub fn change_message_visibility(
        &self,
        ctx: &RequestContext,
        input: ChangeMessageVisibilityInput,
    ) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let handle = required_handle(input.receipt_handle.as_deref())?;
        self.change_one(&queue, handle, input.visibility_timeout)?;
        Ok(Empty {})
    }

    fn change_one(&self, queue: &Queue, handle: &str, timeout: Option<i64>) -> AwsResult<()> {
        let timeout = match timeout {
            Some(t) => validate::int_in_range(
                "VisibilityTimeout",
                t,
                0..=43_200,
                "Must be >= 0 and <= 43200, if provided.",
            )? as u32,
            None => return Err(AwsError::missing_parameter("VisibilityTimeout")),
        };
        let receipt = Receipt::decode(handle)?;
        let now = self.now_ms();
        let (result, woken) = {
            let mut state = queue.lock(now);
            let result = state.change_visibility(queue.id, &receipt, timeout, now);
            drop(queue.commit(&mut state));
            (result, state.take_woken())
        };
        if woken {
            queue.notify().notify_one();
        }
        match result {
            Ok(inner) => inner,
            Err(HandleError::WrongQueue) => Err(invalid_handle(handle)),
            Err(HandleError::Gone | HandleError::Expired) => Err(AwsError::invalid_value_for(
                "ReceiptHandle",
                handle,
                "Message does not exist or is not available for visibility timeout change.",
            )),
        }
    }

    pub fn change_message_visibility_batch(
        &self,
        ctx: &RequestContext,
        input: ChangeMessageVisibilityBatchInput,
    ) -> AwsResult<BatchIdsOutput> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let entries = input.entries.unwrap_or_default();
        validate::batch_size(entries.len(), "ChangeMessageVisibilityBatchRequestEntry")?;
        validate::batch_ids(entries.iter().map(|e| e.id.as_deref()))?;
        let mut output = BatchIdsOutput::default();
        for entry in entries {
            let id = entry.id.unwrap_or_default();
            let result = required_handle(entry.receipt_handle.as_deref())
                .and_then(|h| self.change_one(&queue, h, entry.visibility_timeout));
            match result {
                Ok(()) => output.successful.push(BatchId { id }),
                Err(e) => output.failed.push(batch_error(id, &e)),
            }
        }
        Ok(output)
    }
}

/// A ReceiveMessage's parameters, checked in the order AWS checks them.
struct ReceiveParams<'a> {
    max: usize,
    /// Seconds to wait for messages; the queue's `ReceiveMessageWaitTimeSeconds` when `None`.
    wait: Option<u64>,
    /// The queue's `VisibilityTimeout` when `None`.
    visibility: Option<u32>,
    /// FIFO queues only (ignored on standard queues).
    attempt_id: Option<&'a str>,
    selection: Selection,
}

impl<'a> ReceiveParams<'a> {
    fn check(input: &'a ReceiveMessageInput, fifo: bool) -> AwsResult<Self> {
        let max = match input.max_number_of_messages {
            Some(n) => validate::int_in_range(
                "MaxNumberOfMessages",
                n,
                1..=10,
                "Must be between 1 and 10, if provided.",
            )? as usize,
            None => 1,
        };
        let wait = match input.wait_time_seconds {
            Some(n) => Some(validate::int_in_range(
                "WaitTimeSeconds",
                n,
                0..=20,
                "Must be >= 0 and <= 20, if provided.",
            )? as u64),
            None => None,
        };
        let visibility = match input.visibility_timeout {
            Some(n) => Some(validate::int_in_range(
                "VisibilityTimeout",
                n,
                0..=43_200,
                "Must be >= 0 and <= 43200, if provided.",
            )? as u32),
            None => None,
        };
        let selection = Selection::new(input);
        let attempt_id = match input.receive_request_attempt_id.as_deref() {
            Some(id) if fifo => {
                if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(AwsError::invalid_value_for(
                        "ReceiveRequestAttemptId",
                        id,
                        "ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
                    ));
                }
                Some(id)
            }
            _ => None,
        };
        Ok(ReceiveParams {
            max,
            wait,
            visibility,
            attempt_id,
            selection,
        })
    }
}

/// What one look at a queue found.
struct Look {
    messages: Vec<ReceivedMessage>,
    /// When a delay or visibility timeout next ends, to wake a long poll then.
    next_due: Option<u64>,
    /// Visible messages are left (another waiting receiver may take them).
    more: bool,
    /// How long this receive waits for messages, in seconds.
    wait_s: u64,
}

/// A message another service (SNS) sends into a queue.
#[derive(Debug, Default, Clone)]
pub struct Forwarded {
    pub body: String,
    pub attributes: MessageAttributes,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    /// The publisher's `X-Amzn-Trace-Id`, kept as the AWSTraceHeader system attribute.
    pub trace_header: Option<String>,
}

impl Forwarded {
    pub fn body(body: String) -> Self {
        Forwarded {
            body,
            ..Default::default()
        }
    }
}

/// The send parameters shared by SendMessage and each SendMessageBatch entry.
struct SendFields {
    body: Option<String>,
    delay_seconds: Option<i64>,
    attributes: Option<MessageAttributes>,
    system_attributes: Option<MessageAttributes>,
    deduplication_id: Option<String>,
    group_id: Option<String>,
}

impl SendMessageOutput {
    /// Completes a send's response with what the queue decided; true when receivers should be
    /// woken (the message is visible now).
    fn apply(&mut self, enqueued: Enqueued) -> bool {
        match enqueued {
            Enqueued::Accepted {
                sequence_number,
                visible,
            } => {
                self.sequence_number = sequence_number;
                visible
            }
            Enqueued::Duplicate {
                message_id,
                sequence_number,
            } => {
                self.message_id = message_id.to_string();
                self.sequence_number = sequence_number;
                false
            }
        }
    }
}

/// The queue settings a send depends on, read once per request.
#[derive(Clone, Copy)]
struct SendSettings {
    queue_delay: u32,
    max_size: u32,
    content_based: bool,
    dedup_per_group: bool,
}

impl SendSettings {
    fn of(queue: &Queue) -> Self {
        queue.lock_config(|c| SendSettings {
            queue_delay: c.delay_seconds,
            max_size: c.maximum_message_size,
            content_based: c.content_based_deduplication,
            dedup_per_group: queue.dedup_per_group,
        })
    }
}

/// The rules AWS applies to a SendMessageBatch as a whole, before any entry: the total size
/// (even of a single entry, so before the per-message limit), then, on a FIFO queue, a group id
/// and a deduplication id (or content-based deduplication) on every entry. Any failure rejects
/// the request and enqueues nothing.
fn batch_request_rules(
    entries: &[SendMessageBatchEntry],
    fifo: bool,
    content_based: bool,
) -> AwsResult<()> {
    let total: usize = entries
        .iter()
        .map(|e| {
            e.message_body.as_deref().map_or(0, str::len)
                + e.message_attributes
                    .as_ref()
                    .map_or(0, validate::message_attributes_size)
        })
        .sum();
    if total > validate::MAX_BATCH_PAYLOAD {
        return Err(AwsError::new(
            &codes::BATCH_REQUEST_TOO_LONG,
            format!(
                "Batch requests cannot be longer than {} bytes. You have sent {total} bytes.",
                validate::MAX_BATCH_PAYLOAD
            ),
        ));
    }
    if fifo {
        if entries.iter().any(|e| e.message_group_id.is_none()) {
            return Err(AwsError::invalid_parameter_value(
                "The request must contain the parameter MessageGroupId.",
            ));
        }
        if !content_based && entries.iter().any(|e| e.message_deduplication_id.is_none()) {
            return Err(AwsError::invalid_parameter_value(
                "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
    }
    Ok(())
}

/// Validates one send and computes everything its response needs.
fn prepare_send(
    ctx: &RequestContext,
    queue: &Queue,
    fields: SendFields,
    settings: &SendSettings,
) -> AwsResult<ValidSend> {
    let SendSettings {
        queue_delay,
        max_size,
        content_based,
        dedup_per_group,
    } = *settings;
    let body = validate::message_body(fields.body.as_deref())?;
    let fifo = queue.is_fifo();
    let delay_seconds = match fields.delay_seconds {
        // FIFO queues take only the queue's delay; an explicit 0 is accepted.
        Some(d) if fifo && d != 0 => {
            return Err(AwsError::invalid_value_for(
                "DelaySeconds",
                d,
                "The request include parameter that is not valid for this queue type.",
            ))
        }
        Some(d) if !fifo => validate::int_in_range(
            "DelaySeconds",
            d,
            0..=900,
            "DelaySeconds must be >= 0 and <= 900.",
        )? as u32,
        _ => queue_delay,
    };
    if let Some(id) = &fields.deduplication_id {
        validate::fifo_id("MessageDeduplicationId", id)?;
        if !fifo {
            return Err(AwsError::invalid_value_for(
                "MessageDeduplicationId",
                id,
                "The request include parameter that is not valid for this queue type.",
            ));
        }
    }
    match &fields.group_id {
        Some(id) => validate::fifo_id("MessageGroupId", id)?,
        None if fifo => return Err(AwsError::missing_parameter("MessageGroupId")),
        None => {}
    }
    let attributes = fields.attributes.unwrap_or_default();
    let attributes_size = validate::message_attributes(&attributes)?;
    let mut system = fields.system_attributes.unwrap_or_default();
    validate::system_attributes(&system)?;
    let size = body.len() + attributes_size;
    if size > max_size as usize {
        return Err(AwsError::invalid_parameter_value(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )));
    }
    let (deduplication_id, dedup_key) = if fifo {
        let id = match fields.deduplication_id {
            Some(id) => id,
            None if content_based => crate::hex::sha256(body.as_bytes()),
            None => {
                return Err(AwsError::invalid_parameter_value(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ))
            }
        };
        let key = match (&fields.group_id, dedup_per_group) {
            (Some(group), true) => format!("{group}\u{0}{id}"),
            _ => id.clone(),
        };
        (Some(id), Some(key))
    } else {
        (None, None)
    };
    let md5_of_message_system_attributes = md5_of_attributes(&system);
    let trace_header = system
        .remove("AWSTraceHeader")
        .and_then(|v| v.string_value)
        .or_else(|| ctx.trace_header.clone());
    let md5_of_body = md5_bytes(body.as_bytes());
    let message_id = uuid::Uuid::new_v4();
    let output = SendMessageOutput {
        md5_of_message_body: crate::hex::encode(&md5_of_body),
        md5_of_message_attributes: md5_of_attributes(&attributes),
        md5_of_message_system_attributes,
        message_id: message_id.to_string(),
        sequence_number: None,
    };
    let message = NewMessage {
        id: *message_id.as_bytes(),
        md5_of_body,
        body: body.into(),
        sender_id: ctx.sender_id().into(),
        extra: Extra {
            attributes,
            trace_header,
            message_group_id: fields.group_id.map(Arc::from),
            deduplication_id,
            ..Extra::default()
        },
        delay_seconds,
        sent_ms: None,
        receive_count: 0,
        dedup_key,
    };
    Ok(ValidSend { message, output })
}

fn required_handle(handle: Option<&str>) -> AwsResult<&str> {
    match handle {
        Some(h) if !h.is_empty() => Ok(h),
        _ => Err(AwsError::missing_parameter("ReceiptHandle")),
    }
}

fn invalid_handle(handle: &str) -> AwsError {
    AwsError::new(
        &codes::RECEIPT_HANDLE_IS_INVALID,
        format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
    )
}

fn batch_error(id: String, error: &AwsError) -> BatchResultErrorEntry {
    BatchResultErrorEntry {
        id,
        sender_fault: error.is_sender_fault(),
        code: error.code.query_code.to_string(),
        message: error.message.clone(),
    }
}

/// Which attributes a ReceiveMessage asked for.
pub(super) struct Selection {
    system: Vec<String>,
    all_system: bool,
    user: Vec<String>,
    all_user: bool,
}

/// System attributes in the order lyrebird returns them.
const SYSTEM_ATTRIBUTES: &[&str] = &[
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

impl Selection {
    /// Every system and user attribute (what a peek shows).
    pub(super) fn everything() -> Self {
        Selection {
            system: Vec::new(),
            all_system: true,
            user: Vec::new(),
            all_user: true,
        }
    }

    fn new(input: &ReceiveMessageInput) -> Self {
        // When both lists are given, MessageSystemAttributeNames wins (AWS JSON); the query
        // decoder drops it when AttributeName is present, since AWS's query answer follows
        // the deprecated list.
        let system = match (
            &input.message_system_attribute_names,
            &input.attribute_names,
        ) {
            (Some(names), _) if !names.is_empty() => names.clone(),
            (_, Some(names)) => names.clone(),
            _ => Vec::new(),
        };
        let user = input.message_attribute_names.clone().unwrap_or_default();
        Selection {
            all_system: system.iter().any(|n| n == "All"),
            all_user: user
                .iter()
                .any(|n| matches!(n.as_str(), "All" | "*" | ".*")),
            system,
            user,
        }
    }

    fn wants_system(&self, name: &str) -> bool {
        self.all_system || self.system.iter().any(|n| n == name)
    }

    fn wants_user(&self, name: &str) -> bool {
        self.all_user
            || self
                .user
                .iter()
                // `Hel.*` selects every name starting with `Hel` (AWS returns Hello and Help.Me).
                .any(|pattern| match pattern.strip_suffix(".*") {
                    Some(prefix) => name.starts_with(prefix),
                    None => pattern == name,
                })
    }

    pub(super) fn render(&self, m: &StoredMessage, receipt_handle: String) -> ReceivedMessage {
        let mut attributes = Vec::new();
        for &name in SYSTEM_ATTRIBUTES {
            if !self.wants_system(name) {
                continue;
            }
            let value = match name {
                "SenderId" => Some(m.sender_id.to_string()),
                "SentTimestamp" => Some(m.sent_ms.to_string()),
                "ApproximateReceiveCount" => Some(m.receive_count.to_string()),
                "ApproximateFirstReceiveTimestamp" => {
                    Some(m.first_receive_ms().unwrap_or(m.sent_ms).to_string())
                }
                "AWSTraceHeader" => m.trace_header().map(str::to_string),
                "MessageGroupId" => m.message_group_id().map(|g| g.to_string()),
                "SequenceNumber" => m.sequence_number().map(str::to_string),
                "MessageDeduplicationId" => m.deduplication_id().map(str::to_string),
                "DeadLetterQueueSourceArn" => m.dead_letter_source_arn().map(|a| a.to_string()),
                _ => None,
            };
            if let Some(value) = value {
                attributes.push((name, value));
            }
        }
        let message_attributes: MessageAttributes = if self.all_user {
            m.attributes().clone()
        } else if self.user.is_empty() {
            MessageAttributes::new()
        } else {
            m.attributes()
                .iter()
                .filter(|(name, _)| self.wants_user(name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        ReceivedMessage {
            message_id: m.message_id(),
            receipt_handle,
            md5_of_body: m.md5_of_body_hex(),
            body: m.body.clone(),
            attributes,
            md5_of_message_attributes: md5_of_attributes(&message_attributes),
            message_attributes,
        }
    }
}
