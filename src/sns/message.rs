//! A message on its way through SNS: the validated, ready-to-fan-out form of a publish
//! (`Prepared`), what lyrebird captures for protocols it does not really reach (`Outgoing`) and
//! which kind of SNS message that is (`Kind`), and the publish-time checks that Publish,
//! PublishBatch and direct publishes to platform endpoints share.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{codes, AwsError, AwsResult};

use super::model::MessageAttributes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Notification => "Notification",
            Kind::SubscriptionConfirmation => "SubscriptionConfirmation",
            Kind::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// A message to a protocol lyrebird captures instead of sending.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub kind: Kind,
    pub protocol: String,
    pub endpoint: String,
    pub subscription_arn: Option<String>,
    pub topic_arn: Option<String>,
    pub message_id: String,
    pub subject: Option<String>,
    /// What the endpoint would receive (plain text, or the JSON document for email-json).
    pub message: String,
    pub attributes: MessageAttributes,
    /// The publish's `MessageStructure` (`json`), as LocalStack's listings report it.
    pub message_structure: Option<String>,
    pub account: String,
    pub region: String,
}

impl Outgoing {
    /// Whether this is a delivery to `protocol` in an account and region (to `endpoint`).
    pub fn is(&self, protocol: &str, account: &str, region: &str, endpoint: Option<&str>) -> bool {
        self.protocol == protocol
            && self.account == account
            && self.region == region
            && endpoint.is_none_or(|e| e == self.endpoint)
    }
}

/// A validated message, ready to fan out.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub message_id: String,
    pub message: String,
    /// Per-protocol messages of `MessageStructure=json` (`default` is `message`).
    pub per_protocol: BTreeMap<String, String>,
    /// `MessageStructure` as published (`json`), for the captured deliveries.
    pub message_structure: Option<String>,
    pub subject: Option<String>,
    pub attributes: MessageAttributes,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub sequence_number: Option<String>,
    /// Publish time, the envelope's `Timestamp`.
    pub timestamp_ms: u64,
    /// Signatures already made, by message text: the string to sign names no subscription, so
    /// one RSA signature serves every subscriber that gets the same message.
    pub signatures: Arc<parking_lot::Mutex<Vec<(String, String)>>>,
}

impl Prepared {
    /// The message a subscriber of `protocol` receives.
    pub fn message_for(&self, protocol: &str) -> &str {
        self.per_protocol
            .get(protocol)
            .map(String::as_str)
            .unwrap_or(&self.message)
    }

    /// The signature of the notification carrying `message`, made once.
    pub fn signature_of(&self, message: &str, sign: impl FnOnce() -> String) -> String {
        let mut made = self.signatures.lock();
        if let Some((_, signature)) = made.iter().find(|(m, _)| m == message) {
            return signature.clone();
        }
        let signature = sign();
        made.push((message.to_string(), signature.clone()));
        signature
    }
}

/// The string members of a `MessageStructure=json` message; other values are ignored, as on AWS.
pub(super) fn structured(message: &str) -> AwsResult<BTreeMap<String, String>> {
    match serde_json::from_str(message) {
        Ok(Value::Object(map)) => Ok(map
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::String(v) => Some((key, v)),
                _ => None,
            })
            .collect()),
        _ => Err(AwsError::sns_invalid(
            "Message Structure - JSON message body failed to parse",
        )),
    }
}

pub(super) fn no_default_entry() -> AwsError {
    AwsError::sns_invalid("Message Structure - No default entry in JSON message body")
}

pub(super) fn check_subject(subject: Option<&str>) -> AwsResult<()> {
    match subject {
        Some(s) if s.is_empty() || s.chars().count() >= 100 || s.chars().any(char::is_control) => {
            Err(AwsError::sns_invalid("Subject"))
        }
        _ => Ok(()),
    }
}

pub(super) fn attributes_size(attributes: &MessageAttributes) -> usize {
    attributes
        .iter()
        .map(|(k, v)| {
            k.len()
                + v.data_type.as_deref().map_or(0, str::len)
                + v.string_value.as_deref().map_or(0, str::len)
                + v.binary_value.as_ref().map_or(0, Vec::len)
        })
        .sum()
}

/// SNS's message-attribute rules, with its error codes and wording.
pub(super) fn check_attributes(attributes: &MessageAttributes, prefix: &str) -> AwsResult<()> {
    let invalid = |m: String| AwsError::new(&codes::SNS_PARAMETER_VALUE_INVALID, m);
    for (name, value) in attributes {
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(invalid(format!(
                "Invalid non-alphanumeric character '#x{:X}' was found in the message attribute name. Can only include alphanumeric characters, hyphens, underscores, or dots.",
                bad as u32
            )));
        }
        if name.starts_with('.') {
            return Err(invalid(
                "Invalid message attribute name starting with character '.' was found.".into(),
            ));
        }
        if name.ends_with('.') {
            return Err(invalid(
                "Invalid message attribute name ending with character '.' was found.".into(),
            ));
        }
        if name.contains("..") {
            return Err(invalid(
                "Message attribute name can not have successive '.' character.".into(),
            ));
        }
        if name.len() >= 256 {
            return Err(invalid(
                "Length of message attribute name must be less than 256 bytes.".into(),
            ));
        }
        let Some(data_type) = value.data_type.as_deref() else {
            return Err(AwsError::new(
                &codes::SNS_VALIDATION_ERROR,
                format!("1 validation error detected: Value null at '{prefix}messageAttributes.{name}.member.dataType' failed to satisfy constraint: Member must not be null"),
            ));
        };
        let (base, label) = match data_type.split_once('.') {
            Some((base, label)) => (base, Some(label)),
            None => (data_type, None),
        };
        // `String.` has an empty custom label: AWS calls that an invalid type.
        let base = if label == Some("") { "" } else { base };
        match base {
            "String" | "Number" => {
                if value.binary_value.is_some() && value.string_value.is_none() {
                    return Err(invalid(format!(
                        "The message attribute '{name}' with type '{base}' must use field 'String'."
                    )));
                }
                let text = value.string_value.as_deref().unwrap_or_default();
                if text.is_empty() {
                    return Err(invalid(format!(
                        "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
                    )));
                }
                if base == "Number" && text.trim().parse::<f64>().is_err() {
                    return Err(invalid(format!(
                        "Could not cast message attribute '{name}' value to number."
                    )));
                }
            }
            "Binary" => {
                match &value.binary_value {
                    None => return Err(invalid(format!("The message attribute '{name}' with type 'Binary' must use field 'Binary'."))),
                    Some(b) if b.is_empty() => return Err(invalid(format!(
                        "The message attribute '{name}' must contain non-empty message attribute value for message attribute type 'Binary'."
                    ))),
                    Some(_) => {}
                }
            }
            _ => {
                return Err(invalid(format!(
                    "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
                )))
            }
        }
    }
    Ok(())
}
