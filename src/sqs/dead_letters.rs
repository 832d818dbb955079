//! Dead-letter queues: RedrivePolicy checks that need other queues, moving exhausted messages,
//! and ListDeadLetterSourceQueues.

use std::sync::Arc;
use std::time::Duration;

use crate::context::RequestContext;
use crate::error::{AwsError, AwsResult};
use crate::store::{Change, Ticket};

use super::attributes::QueueConfig;
use super::message::NewMessage;
use super::model::*;
use super::paging::{encode_token, page_request};
use super::queue::{Moving, Queue};
use super::SqsService;

impl SqsService {
    /// Checks a queue's redrive policy against the queues it names: the target must exist, be
    /// of the same type, and allow this source in its RedriveAllowPolicy.
    pub(super) fn check_redrive(
        &self,
        source_arn: &str,
        fifo: bool,
        config: &QueueConfig,
    ) -> AwsResult<()> {
        let Some(policy) = &config.redrive_policy else {
            return Ok(());
        };
        let invalid = |reason: &str| {
            AwsError::invalid_parameter_value(format!(
                "Value {} for parameter RedrivePolicy is invalid. Reason: {reason}",
                policy.render()
            ))
        };
        // A dead-letter queue is in the source's account and region (AWS's rule): another
        // account's queue does not exist as far as the source is concerned.
        fn same_place(arn: &str) -> Vec<&str> {
            arn.split(':').skip(3).take(2).collect()
        }
        let target = self
            .queue_by_arn(&policy.dead_letter_target_arn)
            .filter(|t| same_place(&t.arn) == same_place(source_arn))
            .ok_or_else(|| invalid("Dead letter target does not exist."))?;
        if target.is_fifo() != fifo {
            return Err(invalid(
                "Dead-letter queue must be same type of queue as the source.",
            ));
        }
        let allowed = target.lock_config(|c| {
            c.redrive_allow_policy
                .as_ref()
                .is_none_or(|p| p.allows(source_arn))
        });
        if !allowed {
            return Err(invalid(&format!(
                "Queue {source_arn} is not allowed to use {} as a dead-letter queue.",
                target.arn
            )));
        }
        Ok(())
    }

    /// Moves messages that used up their receives into the source's dead-letter queue. Standard
    /// DLQs keep the original send time (retention counts from it); FIFO DLQs reset it. If the
    /// dead-letter queue is gone the messages stay where they were.
    ///
    /// The copies and the removal of the originals are one store job, so a crash or a failed
    /// write leaves each message in the source or in the dead-letter queue, never in neither;
    /// a failed job is written again until the store takes it.
    pub(super) fn move_to_dead_letter_queue(
        &self,
        source: &Queue,
        target_arn: &str,
        dead_letters: Moving,
    ) {
        let now = self.now_ms();
        let source_arn: Arc<str> = Arc::from(source.arn.as_str());
        let (messages, removals) = dead_letters.into_parts();
        let (queue, keep_sent) = match self.queue_by_arn(target_arn) {
            Some(dlq) => {
                let keep = !dlq.is_fifo();
                (dlq, keep)
            }
            None => {
                tracing::warn!(source = %source.arn, target = target_arn, "dead-letter queue missing; message kept");
                let mut state = source.lock(now);
                for m in messages {
                    state.enqueue(NewMessage::moved_from(m, None, true), now);
                }
                state.journal_removals(removals);
                drop(source.commit(&mut state));
                return;
            }
        };
        let (ticket, copy) = {
            let mut state = queue.lock(now);
            for m in messages {
                state.enqueue(
                    NewMessage::moved_from(m, Some(source_arn.clone()), keep_sent),
                    now,
                );
            }
            state.journal_removals(removals);
            let copy = state.pending_changes();
            (queue.commit_confirmed(&mut state), copy)
        };
        queue.notify().notify_one();
        if self.store.persistent() {
            // Not held up by: the receive that dead-lettered them answers at once; a failed
            // write is retried until the store takes it, never dropped.
            let clock = self.clock.clone();
            tokio::spawn(async move { until_durable(&queue, ticket, &copy, &clock).await });
        }
    }

    pub fn list_dead_letter_source_queues(
        &self,
        ctx: &RequestContext,
        input: ListDeadLetterSourceQueuesInput,
    ) -> AwsResult<ListDeadLetterSourceQueuesOutput> {
        let dlq = self.resolve(ctx, input.queue_url.as_deref())?;
        let (max, after) = page_request(input.max_results, input.next_token.as_deref())?;
        let candidates: Vec<Arc<Queue>> = {
            let registry = self.registry.read();
            registry
                .get(&dlq.account)
                .and_then(|r| r.get(&dlq.region))
                .map(|by_name| by_name.values().cloned().collect())
                .unwrap_or_default()
        };
        let sources = candidates.into_iter().filter(|q| {
            after.as_deref().is_none_or(|a| q.name.as_str() > a)
                && q.lock_config(|c| {
                    c.redrive_policy
                        .as_ref()
                        .is_some_and(|p| p.dead_letter_target_arn == dlq.arn)
                })
        });
        let mut sources = sources.peekable();
        let limit = max.unwrap_or(1000);
        let mut page = Vec::new();
        while page.len() < limit {
            match sources.next() {
                Some(q) => page.push(q),
                None => break,
            }
        }
        let next_token = match (max, sources.peek()) {
            (Some(_), Some(_)) => page.last().map(|q| encode_token(&q.name)),
            _ => None,
        };
        Ok(ListDeadLetterSourceQueuesOutput {
            queue_urls: page.iter().map(|q| Self::queue_url(ctx, q)).collect(),
            next_token,
        })
    }
}

/// Waits until `ticket` (the write of `changes` to `queue`) is durable; if the store fails,
/// writes the changes again, as the queue stands then, with a growing pause (50 ms to 5 s), until
/// it takes them. Every failure is logged. Used where losing the write would lose a message (a
/// move task's copy, before the original is deleted; a dead-lettered message).
pub(crate) async fn until_durable(
    queue: &Queue,
    ticket: Ticket,
    changes: &[Change],
    clock: &crate::clock::Clock,
) {
    let mut pause = Duration::from_millis(50);
    let mut result = ticket.durable().await;
    while let Err(e) = result {
        tracing::error!(queue = %queue.arn, error = %e, "could not store a moved message; retrying");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
        let ticket = {
            let mut state = queue.lock(clock.now_ms());
            state.rejournal(changes);
            queue.commit_confirmed(&mut state)
        };
        result = ticket.durable().await;
    }
}
