//! Queue life-cycle operations: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
//! GetQueueAttributes, SetQueueAttributes, PurgeQueue.

use std::sync::Arc;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::attributes::{self, QueueConfig};
use super::model::*;
use super::paging::{encode_token, page_request};
use super::queue::Queue;
use super::{tags, validate, SqsService};

/// AWS allows one purge per queue per minute.
const PURGE_INTERVAL_MS: u64 = 60_000;
/// With strict re-creation, a deleted queue's name is blocked this long.
const RECREATE_WAIT_MS: u64 = 60_000;

impl SqsService {
    pub fn create_queue(
        &self,
        ctx: &RequestContext,
        input: CreateQueueInput,
    ) -> AwsResult<QueueUrlOutput> {
        let name = required_name(input.queue_name.as_deref())?;
        let supplied = input.attributes.unwrap_or_default();
        for attribute in supplied.keys() {
            attributes::check_settable_name(attribute)?;
        }
        let fifo = supplied
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        validate::queue_name(name, fifo)?;
        let mut config = QueueConfig::new(fifo);
        config.apply(&supplied, true)?;
        let tags = input.tags.unwrap_or_default();
        tags::validate_tags(&tags)?;

        let arn = format!("arn:aws:sqs:{}:{}:{name}", ctx.region, ctx.account);
        self.check_redrive(&arn, fifo, &config)?;

        let now = self.now_ms();
        if self.options.strict_queue_recreate {
            let key = (ctx.account.clone(), ctx.region.clone(), name.to_string());
            if self.deleted_at.lock().deleted_recently(&key, now) {
                return Err(AwsError::new(
                    &codes::QUEUE_DELETED_RECENTLY,
                    "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
                ));
            }
        }
        let mut registry = self.registry.write();
        let by_name = registry
            .entry(ctx.account.clone())
            .or_default()
            .entry(ctx.region.clone())
            .or_default();
        if let Some(existing) = by_name.get(name) {
            let mut state = existing.lock(now);
            if let Some(different) = state.config.first_difference(&config, &supplied) {
                return Err(AwsError::new(
                    &codes::QUEUE_NAME_EXISTS,
                    format!("A queue already exists with the same name and a different value for attribute {different}"),
                ));
            }
            // The queue may be a failed CreateQueue's, not yet on disk: the answer to its retry
            // waits for the store to have written it.
            ctx.writes.push(existing.commit_or_wait(&mut state));
            return Ok(QueueUrlOutput {
                queue_url: Self::queue_url(ctx, existing),
            });
        }
        if by_name.len() >= self.options.max_queues {
            return Err(AwsError::new(
                &codes::OVER_LIMIT,
                format!(
                    "You have reached the maximum number of queues ({}) for this account in this region.",
                    self.options.max_queues
                ),
            ));
        }
        let queue = Arc::new(Queue::new(
            name.to_string(),
            ctx.account.clone(),
            ctx.region.clone(),
            config,
            tags,
            now,
            self.store.clone(),
        ));
        by_name.insert(name.to_string(), queue.clone());
        {
            let mut state = queue.lock(now);
            queue.journal_record(&mut state);
            ctx.writes.push(queue.commit(&mut state));
        }
        tracing::debug!(queue = %queue.arn, "created queue");
        Ok(QueueUrlOutput {
            queue_url: Self::queue_url(ctx, &queue),
        })
    }

    pub fn get_queue_url(
        &self,
        ctx: &RequestContext,
        input: GetQueueUrlInput,
    ) -> AwsResult<QueueUrlOutput> {
        let name = required_name(input.queue_name.as_deref())?;
        let account = input
            .queue_owner_aws_account_id
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(&ctx.account);
        let queue = self
            .lookup(account, &ctx.region, name)
            .ok_or_else(AwsError::queue_does_not_exist)?;
        self.authorize(ctx, &queue)?;
        Ok(QueueUrlOutput {
            queue_url: Self::queue_url(ctx, &queue),
        })
    }

    pub fn list_queues(
        &self,
        ctx: &RequestContext,
        input: ListQueuesInput,
    ) -> AwsResult<ListQueuesOutput> {
        let (max, after) = page_request(input.max_results, input.next_token.as_deref())?;
        let prefix = input.queue_name_prefix.unwrap_or_default();
        let registry = self.registry.read();
        let Some(by_name) = registry.get(&ctx.account).and_then(|r| r.get(&ctx.region)) else {
            return Ok(ListQueuesOutput::default());
        };
        let start = match &after {
            Some(name) => std::ops::Bound::Excluded(name.as_str()),
            None => std::ops::Bound::Included(prefix.as_str()),
        };
        let limit = max.unwrap_or(1000);
        let mut matching = by_name
            .range::<str, _>((start, std::ops::Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix.as_str()));
        let queue_urls: Vec<String> = matching
            .by_ref()
            .take(limit)
            .map(|(_, q)| Self::queue_url(ctx, q))
            .collect();
        // AWS returns NextToken only to callers that asked for pages with MaxResults.
        let next_token = match (max, matching.next()) {
            (Some(_), Some(_)) => queue_urls
                .last()
                .and_then(|url| url.rsplit('/').next())
                .map(encode_token),
            _ => None,
        };
        Ok(ListQueuesOutput {
            queue_urls,
            next_token,
        })
    }

    pub fn delete_queue(&self, ctx: &RequestContext, input: QueueUrlInput) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        {
            let mut registry = self.registry.write();
            if let Some(by_name) = registry
                .get_mut(&queue.account)
                .and_then(|r| r.get_mut(&queue.region))
            {
                // Only remove this incarnation, not a queue re-created meanwhile.
                if by_name.get(&queue.name).is_some_and(|q| q.id == queue.id) {
                    by_name.remove(&queue.name);
                }
            }
        }
        ctx.writes.push(queue.mark_deleted());
        ctx.writes.push(self.forget_move_tasks_of(&queue.arn));
        let key = (
            queue.account.clone(),
            queue.region.clone(),
            queue.name.clone(),
        );
        if self.options.strict_queue_recreate {
            self.deleted_at.lock().insert(key, self.now_ms());
        }
        tracing::debug!(queue = %queue.arn, "deleted queue");
        Ok(Empty {})
    }

    pub fn purge_queue(&self, ctx: &RequestContext, input: QueueUrlInput) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let now = self.now_ms();
        let mut state = queue.lock(now);
        if state
            .last_purge_ms
            .is_some_and(|t| now < t.saturating_add(PURGE_INTERVAL_MS))
        {
            return Err(AwsError::new(
                &codes::PURGE_QUEUE_IN_PROGRESS,
                format!(
                    "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                    queue.name
                ),
            ));
        }
        state.last_purge_ms = Some(now);
        state.clear();
        queue.journal_record(&mut state);
        ctx.writes.push(queue.commit(&mut state));
        Ok(Empty {})
    }

    pub fn get_queue_attributes(
        &self,
        ctx: &RequestContext,
        input: GetQueueAttributesInput,
    ) -> AwsResult<GetQueueAttributesOutput> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let requested = input.attribute_names.unwrap_or_default();
        for name in &requested {
            attributes::check_requested_name(name)?;
        }
        let all = requested.iter().any(|n| n == "All");
        let state = queue.lock(self.now_ms());
        let counts = state.counts();
        let mut out = Vec::new();
        for &name in attributes::ALL_NAMES {
            if !all && !requested.iter().any(|r| r == name) {
                continue;
            }
            let value = match name {
                "ApproximateNumberOfMessages" => Some(counts.visible.to_string()),
                "ApproximateNumberOfMessagesNotVisible" => Some(counts.in_flight.to_string()),
                "ApproximateNumberOfMessagesDelayed" => Some(counts.delayed.to_string()),
                "CreatedTimestamp" => Some((queue.created_ms / 1000).to_string()),
                "LastModifiedTimestamp" => Some((state.last_modified_ms / 1000).to_string()),
                "QueueArn" => Some(queue.arn.clone()),
                other => state.config.get(other),
            };
            if let Some(value) = value {
                out.push((name, value));
            }
        }
        Ok(GetQueueAttributesOutput { attributes: out })
    }

    pub fn set_queue_attributes(
        &self,
        ctx: &RequestContext,
        input: SetQueueAttributesInput,
    ) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let supplied = input.attributes.unwrap_or_default();
        for name in supplied.keys() {
            attributes::check_settable_name(name)?;
        }
        // Checked on a copy: the redrive check reads other queues (maybe this one) unlocked.
        let mut config = queue.lock_config(|c| c.clone());
        config.apply(&supplied, false)?;
        if supplied.contains_key("RedrivePolicy") {
            self.check_redrive(&queue.arn, queue.is_fifo(), &config)?;
        }
        let now = self.now_ms();
        let mut state = queue.lock(now);
        state.config.apply(&supplied, false)?;
        state.last_modified_ms = now;
        queue.journal_record(&mut state);
        ctx.writes.push(queue.commit(&mut state));
        Ok(Empty {})
    }
}

fn required_name(name: Option<&str>) -> AwsResult<&str> {
    match name {
        Some(n) if !n.is_empty() => Ok(n),
        _ => Err(AwsError::missing_parameter("QueueName")),
    }
}

/// When queue names were deleted, for `strict_queue_recreate`. Entries older than the wait are
/// dropped whenever the map has doubled since the last sweep, so it holds about as many names
/// as were deleted within one wait, at an amortised O(1) per deletion.
#[derive(Debug, Default)]
pub struct RecentlyDeleted {
    at: std::collections::HashMap<(String, String, String), u64>,
    sweep_at_len: usize,
}

impl RecentlyDeleted {
    pub fn insert(&mut self, key: (String, String, String), now_ms: u64) {
        self.at.insert(key, now_ms);
        if self.at.len() >= self.sweep_at_len {
            self.at
                .retain(|_, t| now_ms < t.saturating_add(RECREATE_WAIT_MS));
            self.sweep_at_len = (self.at.len() * 2).max(64);
        }
    }

    pub fn deleted_recently(&self, key: &(String, String, String), now_ms: u64) -> bool {
        self.at
            .get(key)
            .is_some_and(|t| now_ms < t.saturating_add(RECREATE_WAIT_MS))
    }

    pub fn clear(&mut self) {
        self.at.clear();
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

#[cfg(test)]
mod recently_deleted_tests {
    use super::*;

    #[test]
    fn expired_names_are_swept() {
        let mut deleted = RecentlyDeleted::default();
        let key = |i: u64| ("a".to_string(), "r".to_string(), format!("q{i}"));
        // 100,000 deletions, 10 per second: at most ~600 fall within one 60 s wait.
        for i in 0..100_000u64 {
            deleted.insert(key(i), i * 100);
            assert!(
                deleted.len() <= 2 * 600 + 64,
                "{} entries at {i}",
                deleted.len()
            );
        }
        let now = 99_999 * 100;
        assert!(deleted.deleted_recently(&key(99_999), now));
        assert!(!deleted.deleted_recently(&key(0), now));
    }
}
