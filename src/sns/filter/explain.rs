//! Why a message does or does not match a policy, for the console's filter tester. Kept apart
//! from the matcher (it only re-runs it one key at a time), so the matcher stays as it is.

use serde_json::Value;

use super::{attributes, FilterPolicy, FilterScope, MessageAttributes};
use crate::ruler::compile::{Dialect, KeyRule, Rules};
use crate::ruler::document;

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
        let one_key = |key: &KeyRule| Rules {
            paths: self.rules.paths.clone(),
            branches: vec![vec![key.clone()]],
        };
        let holds = |rules: &Rules| match (&self.scope, &root) {
            (FilterScope::MessageBody, Some(root)) => {
                document::matches(rules, &self.body_index, root, Dialect::Sns)
            }
            (FilterScope::MessageBody, None) => false,
            (FilterScope::MessageAttributes, _) => attributes::matches(rules, message_attributes),
        };
        let failed: Vec<String> = self
            .rules
            .branches
            .iter()
            .filter_map(|branch| branch.iter().find(|key| !holds(&one_key(key))))
            .map(|key| format!("\"{}\"", self.rules.paths[key.path]))
            .collect();
        Some(match failed.as_slice() {
            [] => "no key failed alone, but not all held together (array consistency)".into(),
            [one] => format!("key {one} did not match"),
            many => format!("no alternative matched: keys {} failed", many.join(", ")),
        })
    }
}
