//! An event source mapping as Lambda's API shows it (`EventSourceMappingConfiguration`), the
//! requests that create and change one, and their validation (AWS's rules and wordings).

use serde::{Deserialize, Serialize};

use crate::error::{codes, AwsError};

/// `FilterCriteria`: up to five `{Pattern}` filters; a record is processed if any matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteria {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    #[serde(default)]
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
}

/// A mapping's configuration, as stored and as answered (`EventSourceMappingConfiguration`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSourceMapping {
    #[serde(rename = "UUID")]
    pub uuid: String,
    pub batch_size: u32,
    pub event_source_arn: String,
    pub event_source_mapping_arn: String,
    pub function_arn: String,
    pub function_response_types: Vec<String>,
    /// Epoch seconds (REST-JSON timestamps).
    pub last_modified: f64,
    pub maximum_batching_window_in_seconds: u32,
    pub state: String,
    pub state_transition_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_config: Option<ScalingConfig>,
    /// Whether the poller runs (kept beside `State`, which an answer may show in transition).
    #[serde(default = "yes", skip_serializing)]
    pub enabled: bool,
    /// The account and region that own the mapping (not part of AWS's answer).
    #[serde(default, skip_serializing)]
    pub account: String,
    #[serde(default, skip_serializing)]
    pub region: String,
}

fn yes() -> bool {
    true
}

/// `CreateEventSourceMapping`'s body (the members an SQS source uses; others are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateEventSourceMappingInput {
    pub function_name: Option<String>,
    pub event_source_arn: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub function_response_types: Option<Vec<String>>,
    pub filter_criteria: Option<FilterCriteria>,
    pub scaling_config: Option<ScalingConfig>,
    #[serde(flatten)]
    pub stream_only: StreamOnlySettings,
}

/// Settings Lambda has for stream sources only (Kinesis, DynamoDB Streams, Kafka): an SQS
/// mapping refuses them, as AWS's does, rather than accepting what it would not do.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StreamOnlySettings {
    pub destination_config: Option<serde_json::Value>,
    pub maximum_retry_attempts: Option<serde_json::Value>,
    pub maximum_record_age_in_seconds: Option<serde_json::Value>,
    pub bisect_batch_on_function_error: Option<serde_json::Value>,
    pub parallelization_factor: Option<serde_json::Value>,
    pub tumbling_window_in_seconds: Option<serde_json::Value>,
    pub starting_position: Option<serde_json::Value>,
}

impl StreamOnlySettings {
    /// The refusal of the first one given, if any.
    pub fn refuse_for_sqs(&self) -> Result<(), Refusal> {
        let given = [
            ("DestinationConfig", &self.destination_config),
            ("MaximumRetryAttempts", &self.maximum_retry_attempts),
            (
                "MaximumRecordAgeInSeconds",
                &self.maximum_record_age_in_seconds,
            ),
            (
                "BisectBatchOnFunctionError",
                &self.bisect_batch_on_function_error,
            ),
            ("ParallelizationFactor", &self.parallelization_factor),
            ("TumblingWindowInSeconds", &self.tumbling_window_in_seconds),
            ("StartingPosition", &self.starting_position),
        ]
        .into_iter()
        .find(|(_, v)| v.as_ref().is_some_and(|v| !v.is_null()));
        match given {
            Some((name, _)) => Err(invalid(format!(
                "Unsupported {name} parameter for given event source mapping type."
            ))),
            None => Ok(()),
        }
    }
}

/// `UpdateEventSourceMapping`'s body: every member optional, absent means unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateEventSourceMappingInput {
    pub function_name: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_in_seconds: Option<i64>,
    pub function_response_types: Option<Vec<String>>,
    pub filter_criteria: Option<FilterCriteria>,
    pub scaling_config: Option<ScalingConfig>,
    #[serde(flatten)]
    pub stream_only: StreamOnlySettings,
}

/// `ListEventSourceMappings`' answer.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEventSourceMappingsOutput {
    pub event_source_mappings: Vec<EventSourceMapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// Why a request was refused (Lambda's error shapes).
pub type Refusal = AwsError;

pub fn invalid(message: impl Into<String>) -> Refusal {
    AwsError::new(&codes::INVALID_PARAMETER_VALUE, message)
}

pub fn not_found() -> Refusal {
    AwsError::new(
        &codes::RESOURCE_NOT_FOUND,
        "The resource you requested does not exist.",
    )
}

pub fn conflict(message: String) -> Refusal {
    AwsError::new(&codes::RESOURCE_CONFLICT, message)
}

fn validation(message: String) -> Refusal {
    AwsError::new(&codes::VALIDATION, message)
}

/// The settings of a mapping that requests can change, checked together as AWS does.
#[derive(Debug, Clone)]
pub struct Settings {
    pub batch_size: u32,
    pub window_s: u32,
    pub response_types: Vec<String>,
    pub filter_criteria: Option<FilterCriteria>,
    pub scaling: Option<ScalingConfig>,
}

impl Settings {
    /// Checks the settings for a source queue (`fifo` or standard).
    pub fn check(
        batch_size: Option<i64>,
        window_s: Option<i64>,
        response_types: Option<Vec<String>>,
        filter_criteria: Option<FilterCriteria>,
        scaling: Option<ScalingConfig>,
        fifo: bool,
    ) -> Result<Settings, Refusal> {
        let batch_size = batch_size.unwrap_or(10);
        let window = window_s.unwrap_or(0);
        if !(0..=300).contains(&window) {
            return Err(invalid(
                "Maximum batching window in seconds must be between 0 and 300 inclusive",
            ));
        }
        if fifo {
            if !(1..=10).contains(&batch_size) {
                return Err(invalid(
                    "Maximum batch size must be between 1 and 10 inclusive",
                ));
            }
            if window > 0 {
                return Err(invalid("Batching window is not supported for FIFO queues"));
            }
        } else {
            if !(1..=10_000).contains(&batch_size) {
                return Err(invalid(
                    "Maximum batch size must be between 1 and 10000 inclusive",
                ));
            }
            if batch_size > 10 && window == 0 {
                return Err(invalid(
                    "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
                ));
            }
        }
        let response_types = response_types.unwrap_or_default();
        if let Some(other) = response_types
            .iter()
            .find(|t| t.as_str() != "ReportBatchItemFailures")
        {
            return Err(validation(format!("1 validation error detected: Value '[{other}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]")));
        }
        if let Some(criteria) = &filter_criteria {
            if criteria.filters.len() > 5 {
                return Err(invalid("Invalid filter pattern definition."));
            }
            for filter in &criteria.filters {
                let pattern = filter.pattern.as_deref().unwrap_or_default();
                if super::filter::RecordFilter::parse(pattern).is_err() {
                    return Err(invalid("Invalid filter pattern definition."));
                }
            }
        }
        if let Some(max) = scaling.as_ref().and_then(|s| s.maximum_concurrency) {
            if !(2..=1000).contains(&max) {
                return Err(validation(format!("1 validation error detected: Value '{max}' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 2")));
            }
        }
        Ok(Settings {
            batch_size: batch_size as u32,
            window_s: window as u32,
            response_types,
            // An empty FilterCriteria (no filters) is no filtering, and is not shown.
            filter_criteria: filter_criteria.filter(|c| !c.filters.is_empty()),
            scaling: scaling.filter(|s| s.maximum_concurrency.is_some()),
        })
    }
}

impl EventSourceMapping {
    pub fn reports_batch_item_failures(&self) -> bool {
        self.function_response_types
            .iter()
            .any(|t| t == "ReportBatchItemFailures")
    }

    pub fn apply(&mut self, settings: Settings) {
        self.batch_size = settings.batch_size;
        self.maximum_batching_window_in_seconds = settings.window_s;
        self.function_response_types = settings.response_types;
        self.filter_criteria = settings.filter_criteria;
        self.scaling_config = settings.scaling;
    }

    /// A mapping that was not created (templates provisioned without a server).
    pub fn placeholder() -> EventSourceMapping {
        EventSourceMapping {
            uuid: String::new(),
            batch_size: 10,
            event_source_arn: String::new(),
            event_source_mapping_arn: String::new(),
            function_arn: String::new(),
            function_response_types: Vec::new(),
            last_modified: 0.0,
            maximum_batching_window_in_seconds: 0,
            state: "Disabled".into(),
            state_transition_reason: String::new(),
            filter_criteria: None,
            scaling_config: None,
            enabled: false,
            account: String::new(),
            region: String::new(),
        }
    }

    /// The state a settled mapping shows.
    pub fn settled_state(&self) -> &'static str {
        if self.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }
}

/// The name part of a function name or ARN (`name`, `arn:aws:lambda:r:a:function:name[:q]`,
/// `a:function:name`).
pub fn function_name_of(name_or_arn: &str) -> &str {
    match name_or_arn.split(':').collect::<Vec<_>>().as_slice() {
        [.., "function", name] | [.., "function", name, _] => name,
        _ => name_or_arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_rules() {
        let check = |b, w, fifo| Settings::check(Some(b), Some(w), None, None, None, fifo);
        assert!(check(10, 0, false).is_ok());
        assert!(check(10_000, 1, false).is_ok());
        assert_eq!(
            check(11, 0, false).unwrap_err().message,
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        );
        assert!(check(11, 0, true).is_err());
        assert!(check(5, 1, true).is_err());
        assert!(check(0, 0, false).is_err());
        assert!(check(10, 301, false).is_err());
    }

    #[test]
    fn function_names_from_arns() {
        assert_eq!(function_name_of("f"), "f");
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:000000000000:function:f"),
            "f"
        );
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"),
            "f"
        );
        assert_eq!(function_name_of("000000000000:function:f"), "f");
    }
}
