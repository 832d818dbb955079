//! Queue tags: TagQueue, UntagQueue, ListQueueTags, and the rules tags follow.

use crate::context::RequestContext;
use crate::error::{AwsError, AwsResult};

use super::model::*;
use super::SqsService;

const MAX_TAGS: usize = 50;

impl SqsService {
    pub fn tag_queue(&self, ctx: &RequestContext, input: TagQueueInput) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let tags = match input.tags {
            Some(t) if !t.is_empty() => t,
            _ => return Err(AwsError::missing_parameter("Tags")),
        };
        let mut state = queue.lock(self.now_ms());
        let mut merged = state.tags.clone();
        merged.extend(tags.clone());
        if merged.len() > MAX_TAGS {
            return Err(AwsError::invalid_parameter_value(format!(
                "Too many tags added for queue {}.",
                queue.name
            )));
        }
        validate_tags(&tags)?;
        state.tags = merged;
        queue.journal_record(&mut state);
        ctx.writes.push(queue.commit(&mut state));
        Ok(Empty {})
    }

    pub fn untag_queue(&self, ctx: &RequestContext, input: UntagQueueInput) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let keys = input
            .tag_keys
            .ok_or_else(|| AwsError::missing_parameter("TagKeys"))?;
        // An empty list is present but invalid, as is an empty or over-long key.
        if keys.is_empty() || keys.iter().any(|k| k.is_empty() || k.chars().count() > 128) {
            return Err(AwsError::invalid_parameter_value(
                "Tag keys must be between 1 and 128 characters in length.",
            ));
        }
        let mut state = queue.lock(self.now_ms());
        for key in keys {
            state.tags.remove(&key);
        }
        queue.journal_record(&mut state);
        ctx.writes.push(queue.commit(&mut state));
        Ok(Empty {})
    }

    pub fn list_queue_tags(
        &self,
        ctx: &RequestContext,
        input: QueueUrlInput,
    ) -> AwsResult<ListQueueTagsOutput> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let state = queue.lock(self.now_ms());
        Ok(ListQueueTagsOutput {
            tags: state.tags.clone(),
        })
    }
}

/// At most 50 tags; keys 1–128 characters, values up to 256.
pub fn validate_tags(tags: &StringMap) -> AwsResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(AwsError::invalid_parameter_value(format!(
            "Too many tags added for queue. The limit is {MAX_TAGS}."
        )));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(AwsError::invalid_parameter_value(format!(
                "Tag key '{key}' must be between 1 and 128 characters."
            )));
        }
        if value.chars().count() > 256 {
            return Err(AwsError::invalid_parameter_value(format!(
                "Tag value for key '{key}' must be at most 256 characters."
            )));
        }
    }
    Ok(())
}
