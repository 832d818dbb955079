//! Queue attributes: the typed configuration behind `Attributes` maps, with AWS's defaults,
//! ranges and error texts, and the rendering `GetQueueAttributes` returns.

use crate::error::{codes, AwsError, AwsResult};

use super::model::StringMap;

/// Every name `GetQueueAttributes` accepts, in the order AWS lists them for `All`.
pub const ALL_NAMES: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "ContentBasedDeduplication",
    "CreatedTimestamp",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
];

/// Attributes computed by the engine; never settable.
pub const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 1_048_576;

/// The settable configuration of a queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueConfig {
    pub delay_seconds: u32,
    pub maximum_message_size: u32,
    pub message_retention_period: u32,
    pub receive_message_wait_time_seconds: u32,
    pub visibility_timeout: u32,
    pub policy: Option<String>,
    pub redrive_policy: Option<RedrivePolicy>,
    pub redrive_allow_policy: Option<RedriveAllowPolicy>,
    pub fifo_queue: bool,
    pub content_based_deduplication: bool,
    pub deduplication_scope: String,
    pub fifo_throughput_limit: String,
    pub kms_master_key_id: Option<String>,
    pub kms_data_key_reuse_period_seconds: Option<u32>,
    pub sqs_managed_sse_enabled: bool,
}

impl QueueConfig {
    pub fn new(fifo_queue: bool) -> Self {
        QueueConfig {
            delay_seconds: 0,
            maximum_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            message_retention_period: 345_600,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: 30,
            policy: None,
            redrive_policy: None,
            redrive_allow_policy: None,
            fifo_queue,
            content_based_deduplication: false,
            deduplication_scope: "queue".into(),
            fifo_throughput_limit: "perQueue".into(),
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: None,
            sqs_managed_sse_enabled: true,
        }
    }

    /// Applies a whole `Attributes` map, checking every name and value first.
    pub fn apply(&mut self, attributes: &StringMap, creating: bool) -> AwsResult<()> {
        let mut next = self.clone();
        for (name, value) in attributes {
            next.set(name, value, creating)?;
        }
        if next.fifo_throughput_limit == "perMessageGroupId" && next.deduplication_scope == "queue"
        {
            return Err(AwsError::new(
                &codes::INVALID_ATTRIBUTE_VALUE,
                "Invalid value for the parameter FifoThroughputLimit. Reason: The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup.",
            ));
        }
        *self = next;
        Ok(())
    }

    fn set(&mut self, name: &str, value: &str, creating: bool) -> AwsResult<()> {
        if FIFO_ONLY.contains(&name) && !self.fifo_queue {
            return Err(match name {
                "ContentBasedDeduplication" => unknown_attribute(name),
                _ => AwsError::new(
                    &codes::INVALID_ATTRIBUTE_NAME,
                    format!("You can specify the {name} only when FifoQueue is set to true."),
                ),
            });
        }
        match name {
            "DelaySeconds" => self.delay_seconds = int_attr(name, value, 0, 900)?,
            "MaximumMessageSize" => {
                self.maximum_message_size = int_attr(name, value, 1024, DEFAULT_MAX_MESSAGE_SIZE)?
            }
            "MessageRetentionPeriod" => {
                self.message_retention_period = int_attr(name, value, 60, 1_209_600)?
            }
            "ReceiveMessageWaitTimeSeconds" => {
                self.receive_message_wait_time_seconds = int_attr(name, value, 0, 20)?
            }
            "VisibilityTimeout" => self.visibility_timeout = int_attr(name, value, 0, 43_200)?,
            "Policy" => self.policy = json_attr(name, value)?,
            "RedrivePolicy" => self.redrive_policy = RedrivePolicy::parse(value)?,
            "RedriveAllowPolicy" => self.redrive_allow_policy = RedriveAllowPolicy::parse(value)?,
            // A standard queue does not know FifoQueue at all, whatever the value (AWS answers
            // even CreateQueue's FifoQueue=false so); a FIFO queue takes only `true`.
            "FifoQueue" if !self.fifo_queue => return Err(unknown_attribute(name)),
            "FifoQueue" => {
                if !bool_attr(name, value)? && !creating {
                    return Err(AwsError::new(
                        &codes::INVALID_ATTRIBUTE_VALUE,
                        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                    ));
                }
            }
            "ContentBasedDeduplication" => {
                self.content_based_deduplication = bool_attr(name, value)?
            }
            "DeduplicationScope" => {
                self.deduplication_scope = enum_attr(name, value, &["messageGroup", "queue"])?
            }
            "FifoThroughputLimit" => {
                self.fifo_throughput_limit =
                    enum_attr(name, value, &["perQueue", "perMessageGroupId"])?
            }
            "KmsMasterKeyId" => {
                self.kms_master_key_id = (!value.is_empty()).then(|| value.to_string());
                if self.kms_master_key_id.is_some() {
                    self.sqs_managed_sse_enabled = false;
                }
            }
            "KmsDataKeyReusePeriodSeconds" => {
                let v = int_attr(name, value, 60, 86_400)?;
                self.kms_data_key_reuse_period_seconds = (v != 300).then_some(v);
            }
            "SqsManagedSseEnabled" => {
                let enabled = bool_attr(name, value)?;
                if enabled && self.kms_master_key_id.is_some() {
                    return Err(invalid_value(name));
                }
                self.sqs_managed_sse_enabled = enabled;
            }
            _ => return Err(unknown_attribute(name)),
        }
        Ok(())
    }

    /// The value of a settable attribute, as `GetQueueAttributes` renders it; `None` when
    /// AWS leaves it out (unset optional attributes, FIFO attributes on standard queues).
    pub fn get(&self, name: &str) -> Option<String> {
        let fifo = |v: String| self.fifo_queue.then_some(v);
        match name {
            "DelaySeconds" => Some(self.delay_seconds.to_string()),
            "MaximumMessageSize" => Some(self.maximum_message_size.to_string()),
            "MessageRetentionPeriod" => Some(self.message_retention_period.to_string()),
            "ReceiveMessageWaitTimeSeconds" => {
                Some(self.receive_message_wait_time_seconds.to_string())
            }
            "VisibilityTimeout" => Some(self.visibility_timeout.to_string()),
            "Policy" => self.policy.clone(),
            "RedrivePolicy" => self.redrive_policy.as_ref().map(RedrivePolicy::render),
            "RedriveAllowPolicy" => self
                .redrive_allow_policy
                .as_ref()
                .map(RedriveAllowPolicy::render),
            "FifoQueue" => fifo("true".into()),
            "ContentBasedDeduplication" => fifo(self.content_based_deduplication.to_string()),
            "DeduplicationScope" => fifo(self.deduplication_scope.clone()),
            "FifoThroughputLimit" => fifo(self.fifo_throughput_limit.clone()),
            "KmsMasterKeyId" => self.kms_master_key_id.clone(),
            "KmsDataKeyReusePeriodSeconds" => self.kms_master_key_id.as_ref().map(|_| {
                self.kms_data_key_reuse_period_seconds
                    .unwrap_or(300)
                    .to_string()
            }),
            "SqsManagedSseEnabled" => Some(self.sqs_managed_sse_enabled.to_string()),
            _ => None,
        }
    }

    /// For an idempotent CreateQueue: the first supplied attribute whose value differs.
    pub fn first_difference<'a>(
        &self,
        other: &QueueConfig,
        supplied: &'a StringMap,
    ) -> Option<&'a str> {
        supplied
            .keys()
            .find(|name| self.get(name) != other.get(name))
            .map(String::as_str)
    }
}

fn unknown_attribute(name: &str) -> AwsError {
    AwsError::new(
        &codes::INVALID_ATTRIBUTE_NAME,
        format!("Unknown Attribute {name}."),
    )
}

fn invalid_value(name: &str) -> AwsError {
    AwsError::new(
        &codes::INVALID_ATTRIBUTE_VALUE,
        format!("Invalid value for the parameter {name}."),
    )
}

fn int_attr(name: &str, value: &str, min: u32, max: u32) -> AwsResult<u32> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| invalid_value(name))
}

fn bool_attr(name: &str, value: &str) -> AwsResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_value(name)),
    }
}

fn enum_attr(name: &str, value: &str, allowed: &[&str]) -> AwsResult<String> {
    allowed
        .iter()
        .find(|a| **a == value)
        .map(|a| a.to_string())
        .ok_or_else(|| invalid_value(name))
}

/// JSON-document attributes; the empty string removes them.
fn json_attr(name: &str, value: &str) -> AwsResult<Option<String>> {
    if value.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(_)) => Ok(Some(value.to_string())),
        _ => Err(invalid_value(name)),
    }
}

/// `RedrivePolicy`: where messages go after `maxReceiveCount` receives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    /// Parses the JSON AWS accepts (count as number or string); `""` removes the policy.
    fn parse(value: &str) -> AwsResult<Option<Self>> {
        if value.is_empty() {
            return Ok(None);
        }
        let invalid = |reason: &str| {
            AwsError::invalid_parameter_value(format!(
                "Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
            ))
        };
        let map = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(invalid("Redrive policy is not a valid JSON map.")),
        };
        let arn = match map.get("deadLetterTargetArn") {
            Some(serde_json::Value::String(arn)) => arn.clone(),
            _ => {
                return Err(invalid(
                    "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
                ))
            }
        };
        let count = match map.get("maxReceiveCount") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
            None => {
                return Err(invalid(
                    "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
                ))
            }
            _ => None,
        };
        let shown = map
            .get("maxReceiveCount")
            .map(|v| v.to_string().trim_matches('"').to_string());
        match count {
            Some(n) if (1..=1000).contains(&n) => Ok(Some(RedrivePolicy {
                dead_letter_target_arn: arn,
                max_receive_count: n as u32,
            })),
            _ => Err(invalid(&format!(
                "Invalid value for maxReceiveCount: {}, valid values are from 1 to 1000 both inclusive.",
                shown.unwrap_or_default()
            ))),
        }
    }

    /// AWS returns the policy normalised, with a numeric count.
    pub fn render(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

/// `RedriveAllowPolicy`: which source queues may use this queue as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RedriveAllowPolicy {
    pub redrive_permission: String,
    pub source_queue_arns: Vec<String>,
}

impl RedriveAllowPolicy {
    fn parse(value: &str) -> AwsResult<Option<Self>> {
        if value.is_empty() {
            return Ok(None);
        }
        let invalid = |reason: &str| {
            AwsError::invalid_parameter_value(format!(
                "Value {value} for parameter RedriveAllowPolicy is invalid. Reason: {reason}"
            ))
        };
        let map = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(invalid("Redrive allow policy is not a valid JSON map.")),
        };
        let permission = match map.get("redrivePermission").and_then(|v| v.as_str()) {
            Some(p @ ("allowAll" | "denyAll" | "byQueue")) => p.to_string(),
            Some(_) => return Err(invalid("Invalid value for redrivePermission. Valid values are allowAll, denyAll and byQueue.")),
            None => return Err(invalid("Redrive allow policy does not contain mandatory attribute: redrivePermission.")),
        };
        let arns: Option<Vec<String>> = match map.get("sourceQueueArns") {
            None => None,
            Some(serde_json::Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| invalid("sourceQueueArns must be a list of queue ARNs."))?,
            ),
            Some(_) => return Err(invalid("sourceQueueArns must be a list of queue ARNs.")),
        };
        let source_queue_arns = match (permission.as_str(), arns) {
            ("byQueue", Some(arns)) if (1..=10).contains(&arns.len()) => arns,
            ("byQueue", Some(_)) => {
                return Err(invalid(
                    "sourceQueueArns must contain between 1 and 10 queue ARNs.",
                ))
            }
            ("byQueue", None) => {
                return Err(invalid(
                    "sourceQueueArns is required when redrivePermission is byQueue.",
                ))
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "sourceQueueArns is only allowed when redrivePermission is byQueue.",
                ))
            }
            (_, None) => Vec::new(),
        };
        Ok(Some(RedriveAllowPolicy {
            redrive_permission: permission,
            source_queue_arns,
        }))
    }

    pub fn render(&self) -> String {
        if self.redrive_permission == "byQueue" {
            serde_json::json!({
                "redrivePermission": self.redrive_permission,
                "sourceQueueArns": self.source_queue_arns,
            })
            .to_string()
        } else {
            serde_json::json!({ "redrivePermission": self.redrive_permission }).to_string()
        }
    }

    /// Whether `source_arn` may use the queue with this policy as its dead-letter queue.
    pub fn allows(&self, source_arn: &str) -> bool {
        match self.redrive_permission.as_str() {
            "allowAll" => true,
            "byQueue" => self.source_queue_arns.iter().any(|a| a == source_arn),
            _ => false,
        }
    }
}

/// Checks a requested attribute name for `GetQueueAttributes`.
pub fn check_requested_name(name: &str) -> AwsResult<()> {
    if name == "All" || ALL_NAMES.contains(&name) {
        Ok(())
    } else {
        Err(unknown_attribute(name))
    }
}

/// Checks that a name in a Create/SetQueueAttributes map is settable at all.
pub fn check_settable_name(name: &str) -> AwsResult<()> {
    if COMPUTED.contains(&name) || !ALL_NAMES.contains(&name) {
        Err(unknown_attribute(name))
    } else {
        Ok(())
    }
}
