//! Why a message does or does not match a policy, for the console's filter tester: the shared
//! `ruler::explain` over the SNS matcher (message attributes or body).

use serde_json::Value;

use super::{attributes, FilterPolicy, FilterScope, MessageAttributes};
use crate::ruler::compile::{Dialect, Rules};
use crate::ruler::{document, explain};

impl FilterPolicy {
    /// `None` when the message matches; else the reason: for each `$or` alternative, the first
    /// policy key the message fails.
    pub fn explain(&self, message_attributes: &MessageAttributes, body: &str) -> Option<String> {
        if self.matches(message_attributes, body) {
            return None;
        }
        let root = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(root)) => Some(root),
            _ => None,
        };
        if self.scope == FilterScope::MessageBody && root.is_none() {
            return Some("the message body is not a JSON object".into());
        }
        let holds = |rules: &Rules| match (&self.scope, &root) {
            (FilterScope::MessageBody, Some(root)) => {
                document::matches(rules, &self.body_index, root, Dialect::Sns)
            }
            (FilterScope::MessageBody, None) => false,
            (FilterScope::MessageAttributes, _) => attributes::matches(rules, message_attributes),
        };
        Some(explain::failing_keys(&self.rules, holds))
    }
}
