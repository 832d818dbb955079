//! AddPermission / RemovePermission, rendered into the queue's `Policy` the way AWS renders it.

use serde_json::{json, Value};

use crate::context::RequestContext;
use crate::error::{AwsError, AwsResult};

use super::model::*;
use super::SqsService;

/// Actions AddPermission accepts (AWS also grants the batch forms of Send/Delete/Change).
const ACTIONS: &[&str] = &[
    "*",
    "ChangeMessageVisibility",
    "DeleteMessage",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListQueueTags",
    "PurgeQueue",
    "ReceiveMessage",
    "SendMessage",
];
const MAX_ACTIONS: usize = 7;
/// Actions only the queue's owner may call, which AddPermission refuses to grant.
const OWNER_ONLY: &[&str] = &[
    "AddPermission",
    "CreateQueue",
    "DeleteQueue",
    "ListQueues",
    "SetQueueAttributes",
    "RemovePermission",
];

impl SqsService {
    pub fn add_permission(
        &self,
        ctx: &RequestContext,
        input: AddPermissionInput,
    ) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let label = required_label(input.label.as_deref())?;
        let accounts = match input.aws_account_ids {
            Some(a) if !a.is_empty() => a,
            _ => return Err(AwsError::missing_parameter("AWSAccountIds")),
        };
        let actions = match input.actions {
            Some(a) if !a.is_empty() => a,
            _ => return Err(AwsError::missing_parameter("Actions")),
        };
        if actions.len() > MAX_ACTIONS {
            return Err(AwsError::new(
                &crate::error::codes::OVER_LIMIT,
                format!(
                    "{} Actions were found, maximum allowed is {MAX_ACTIONS}.",
                    actions.len()
                ),
            ));
        }
        for action in &actions {
            if OWNER_ONLY.contains(&action.as_str()) {
                return Err(AwsError::invalid_value_for(
                    "ActionName",
                    format!("SQS:{action}"),
                    "Only the queue owner is allowed to invoke this action.",
                ));
            }
            if !ACTIONS.contains(&action.as_str()) {
                return Err(AwsError::invalid_value_for(
                    "ActionName",
                    format!("SQS:{action}"),
                    "Please refer to the appropriate WSDL for a list of valid actions.",
                ));
            }
        }
        let now = self.now_ms();
        let mut state = queue.lock(now);
        let mut policy = match state
            .config
            .policy
            .as_deref()
            .map(serde_json::from_str::<Value>)
        {
            Some(Ok(Value::Object(p))) => Value::Object(p),
            _ => {
                json!({ "Version": "2008-10-17", "Id": format!("{}/SQSDefaultPolicy", queue.arn), "Statement": [] })
            }
        };
        if statements(&policy).iter().any(|s| s["Sid"] == label) {
            return Err(AwsError::invalid_value_for(
                "Label",
                label,
                "Already exists.",
            ));
        }
        let principals: Vec<String> = accounts
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions: Vec<String> = actions.iter().map(|a| format!("SQS:{a}")).collect();
        let statement = json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": { "AWS": one_or_many(principals) },
            "Action": one_or_many(actions),
            "Resource": queue.arn,
        });
        match policy.get_mut("Statement") {
            Some(Value::Array(list)) => list.push(statement),
            _ => policy["Statement"] = json!([statement]),
        }
        state.config.policy = Some(policy.to_string());
        state.last_modified_ms = now;
        queue.journal_record(&mut state);
        ctx.writes.push(queue.commit(&mut state));
        Ok(Empty {})
    }

    pub fn remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionInput,
    ) -> AwsResult<Empty> {
        let queue = self.resolve(ctx, input.queue_url.as_deref())?;
        let label = required_label(input.label.as_deref())?;
        let now = self.now_ms();
        let mut state = queue.lock(now);
        let mut policy = match state
            .config
            .policy
            .as_deref()
            .map(serde_json::from_str::<Value>)
        {
            Some(Ok(p)) => p,
            _ => {
                return Err(AwsError::invalid_value_for(
                    "Label",
                    label,
                    "can't find label.",
                ))
            }
        };
        let Some(Value::Array(list)) = policy.get_mut("Statement") else {
            return Err(AwsError::invalid_value_for(
                "Label",
                label,
                "can't find label.",
            ));
        };
        let before = list.len();
        list.retain(|s| s["Sid"] != label);
        if list.len() == before {
            return Err(AwsError::invalid_value_for(
                "Label",
                label,
                "can't find label.",
            ));
        }
        // Removing the last statement removes the policy.
        state.config.policy = (!list.is_empty()).then(|| policy.to_string());
        state.last_modified_ms = now;
        queue.journal_record(&mut state);
        ctx.writes.push(queue.commit(&mut state));
        Ok(Empty {})
    }
}

fn statements(policy: &Value) -> &[Value] {
    policy
        .get("Statement")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// AWS writes a single principal or action as a string, several as an array.
fn one_or_many(mut items: Vec<String>) -> Value {
    if items.len() == 1 {
        Value::String(items.remove(0))
    } else {
        json!(items)
    }
}

fn required_label(label: Option<&str>) -> AwsResult<&str> {
    let label = match label {
        Some(l) if !l.is_empty() => l,
        _ => return Err(AwsError::missing_parameter("Label")),
    };
    if label.len() > 80
        || !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AwsError::invalid_value_for(
            "Label",
            label,
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.",
        ));
    }
    Ok(label)
}
