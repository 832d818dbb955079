//! A subscription as SNS keeps it: its fixed identity and its mutable state, with the rules
//! for the attributes Subscribe and SetSubscriptionAttributes may set (a filter policy is
//! compiled here, once, when it is set).

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use super::filter::{FilterPolicy, FilterScope, NESTED_POLICY_REASON};
use super::model::StringMap;

pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    pub state: Mutex<SubscriptionState>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("arn", &self.arn)
            .finish()
    }
}

#[derive(Debug, Clone, Default)]
pub struct SubscriptionState {
    /// Settable attributes as given (RawMessageDelivery normalised to lowercase).
    pub attributes: StringMap,
    pub filter: Option<Arc<FilterPolicy>>,
    pub raw: bool,
    pub confirmed: bool,
    pub token: String,
}

impl Subscription {
    pub fn is_confirmed(&self) -> bool {
        self.state.lock().confirmed
    }

    /// What a publish needs, taken under one short lock.
    pub fn snapshot(&self) -> SubscriptionState {
        self.state.lock().clone()
    }
}

impl SubscriptionState {
    /// Applies one attribute; errors are AWS's detail text without the `Invalid parameter: `
    /// prefix (Subscribe and SetSubscriptionAttributes word the prefix differently).
    pub(super) fn apply(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "RawMessageDelivery" => match value.to_ascii_lowercase().as_str() {
                v @ ("true" | "false") => {
                    self.raw = v == "true";
                    self.attributes.insert(name.into(), v.into());
                }
                _ => {
                    return Err(format!(
                        "RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                    ))
                }
            },
            "FilterPolicyScope" => {
                let scope = match value {
                    "MessageAttributes" => FilterScope::MessageAttributes,
                    "MessageBody" => FilterScope::MessageBody,
                    _ => {
                        return Err(format!(
                            "FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
                        ))
                    }
                };
                if let Some(policy) = self.attributes.get("FilterPolicy") {
                    let compiled = FilterPolicy::compile(policy, scope).map_err(filter_error)?;
                    self.filter = Some(Arc::new(compiled));
                }
                self.attributes.insert(name.into(), value.into());
            }
            "FilterPolicy" => {
                if value.is_empty() {
                    self.attributes.remove(name);
                    self.filter = None;
                    return Ok(());
                }
                let scope = match self.attributes.get("FilterPolicyScope").map(String::as_str) {
                    Some("MessageBody") => FilterScope::MessageBody,
                    _ => FilterScope::MessageAttributes,
                };
                let compiled = FilterPolicy::compile(value, scope).map_err(filter_error)?;
                self.filter = Some(Arc::new(compiled));
                self.attributes.insert(name.into(), value.into());
                self.attributes
                    .entry("FilterPolicyScope".into())
                    .or_insert_with(|| "MessageAttributes".into());
            }
            "RedrivePolicy" => {
                if value.is_empty() {
                    self.attributes.remove(name);
                    return Ok(());
                }
                let Ok(policy) = serde_json::from_str::<Value>(value) else {
                    return Err("RedrivePolicy: failed to parse JSON.".into());
                };
                let target = Some(policy).and_then(|v| {
                    v.get("deadLetterTargetArn")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                match target {
                    Some(arn) if arn.starts_with("arn:aws:sqs:") && arn.split(':').count() == 6 => {
                    }
                    _ => return Err("RedrivePolicy: deadLetterTargetArn is an invalid arn".into()),
                }
                self.attributes.insert(name.into(), value.into());
            }
            "DeliveryPolicy" | "ReplayPolicy" => {
                if value.is_empty() {
                    self.attributes.remove(name);
                    return Ok(());
                }
                if !matches!(serde_json::from_str::<Value>(value), Ok(Value::Object(_))) {
                    return Err(format!("{name}: failed to parse JSON"));
                }
                self.attributes.insert(name.into(), value.into());
            }
            "SubscriptionRoleArn" => {
                self.attributes.insert(name.into(), value.into());
            }
            _ => return Err("AttributeName".into()),
        }
        Ok(())
    }

    /// Rebuilds a stored subscription's state, recompiling its filter policy.
    pub fn restore(attributes: StringMap, confirmed: bool, token: String) -> Result<Self, String> {
        let mut state = SubscriptionState {
            confirmed,
            token,
            ..Default::default()
        };
        let mut names: Vec<&String> = attributes.keys().collect();
        names.sort_by_key(|n| *n != "FilterPolicyScope");
        for name in names {
            state.apply(name, &attributes[name])?;
        }
        Ok(state)
    }

    /// The dead-letter queue of this subscription's RedrivePolicy, if any.
    pub fn dead_letter_target(&self) -> Option<String> {
        let policy = self.attributes.get("RedrivePolicy")?;
        serde_json::from_str::<Value>(policy)
            .ok()?
            .get("deadLetterTargetArn")?
            .as_str()
            .map(str::to_string)
    }
}

/// AWS prefixes filter-policy errors with `FilterPolicy: `, except the nesting one.
fn filter_error(reason: String) -> String {
    if reason == NESTED_POLICY_REASON {
        reason
    } else {
        format!("FilterPolicy: {reason}")
    }
}
