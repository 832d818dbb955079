//! The Lambda operations lyrebird serves and their typed inputs and outputs. JSON bodies use the
//! AWS model's member names (`/work/shared/aws-models/lambda`); path labels, query strings and
//! headers are read by the REST-JSON binding (`protocol::lambda_rest`).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::service::Empty;

crate::service::operations! {
    CreateFunction(Box<CreateFunctionInput>) -> FunctionConfiguration;
    GetFunction(FunctionRef) -> GetFunctionOutput;
    GetFunctionConfiguration(FunctionRef) -> FunctionConfiguration;
    ListFunctions(ListFunctionsInput) -> ListFunctionsOutput;
    DeleteFunction(FunctionRef) -> Empty;
    UpdateFunctionCode(UpdateFunctionCodeInput) -> FunctionConfiguration;
    UpdateFunctionConfiguration(UpdateFunctionConfigurationInput) -> FunctionConfiguration;
    Invoke(InvokeInput) -> InvokeOutput;
    PutFunctionConcurrency(PutFunctionConcurrencyInput) -> Concurrency;
    GetFunctionConcurrency(FunctionRef) -> Concurrency;
    DeleteFunctionConcurrency(FunctionRef) -> Empty;
    PutFunctionEventInvokeConfig(EventInvokeConfigInput) -> FunctionEventInvokeConfig;
    UpdateFunctionEventInvokeConfig(EventInvokeConfigInput) -> FunctionEventInvokeConfig;
    GetFunctionEventInvokeConfig(FunctionRef) -> FunctionEventInvokeConfig;
    DeleteFunctionEventInvokeConfig(FunctionRef) -> Empty;
    ListFunctionEventInvokeConfigs(ListEventInvokeConfigsInput) -> ListFunctionEventInvokeConfigsOutput;
}

/// The body of Put/UpdateFunctionEventInvokeConfig.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfigBody {
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_event_age_in_seconds: Option<i64>,
    pub destination_config: Option<DestinationConfig>,
}

#[derive(Debug, Default)]
pub struct EventInvokeConfigInput {
    pub function: FunctionRef,
    pub body: EventInvokeConfigBody,
}

/// `DestinationConfig`: where Lambda sends the record of an asynchronous invocation.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    #[serde(default)]
    pub on_success: Option<OnOutcome>,
    #[serde(default)]
    pub on_failure: Option<OnOutcome>,
}

/// `OnSuccess` / `OnFailure`: `{"Destination": arn}` (AWS answers `{}` when none is set).
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct OnOutcome {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// `FunctionEventInvokeConfig` as AWS answers it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionEventInvokeConfig {
    /// Epoch seconds.
    pub last_modified: f64,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<u32>,
    pub destination_config: DestinationConfig,
}

#[derive(Debug, Default)]
pub struct ListEventInvokeConfigsInput {
    pub function: FunctionRef,
    pub marker: Option<String>,
    pub max_items: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionEventInvokeConfigsOutput {
    pub function_event_invoke_configs: Vec<FunctionEventInvokeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutFunctionConcurrencyBody {
    pub reserved_concurrent_executions: Option<i64>,
}

#[derive(Debug, Default)]
pub struct PutFunctionConcurrencyInput {
    pub function: FunctionRef,
    pub body: PutFunctionConcurrencyBody,
}

/// `{"ReservedConcurrentExecutions": n}` (absent when none is reserved).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Concurrency {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
}

/// A function named in the path (`{FunctionName}`: a name, partial or full ARN) and the
/// `Qualifier` query parameter.
#[derive(Debug, Default, Clone)]
pub struct FunctionRef {
    pub function_name: String,
    pub qualifier: Option<String>,
}

/// `Code` of CreateFunction.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCode {
    /// Base64 of a zip archive (restJson1 blobs travel as base64).
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    pub image_uri: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// `DeadLetterConfig`: the SQS queue or SNS topic that gets an asynchronous event whose
/// attempts all failed.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionInput {
    pub function_name: Option<String>,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    #[serde(default)]
    pub code: FunctionCode,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<Environment>,
    pub package_type: Option<String>,
    pub architectures: Option<Vec<String>>,
    pub tags: Option<BTreeMap<String, String>>,
    pub dead_letter_config: Option<DeadLetterConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionCodeBody {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    pub image_uri: Option<String>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct UpdateFunctionCodeInput {
    pub function: FunctionRef,
    pub body: UpdateFunctionCodeBody,
}

/// The body of UpdateFunctionConfiguration: the members lyrebird applies (others are accepted
/// and left as they are).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionConfigurationBody {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<Environment>,
    pub runtime: Option<String>,
    pub revision_id: Option<String>,
    pub dead_letter_config: Option<DeadLetterConfig>,
}

#[derive(Debug, Default)]
pub struct UpdateFunctionConfigurationInput {
    pub function: FunctionRef,
    pub body: UpdateFunctionConfigurationBody,
}

#[derive(Debug, Default)]
pub struct ListFunctionsInput {
    pub marker: Option<String>,
    pub max_items: Option<String>,
}

/// What AWS reports of a function (`FunctionConfiguration`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    pub function_name: String,
    pub function_arn: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub code_size: u64,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: &'static str,
    /// Absent while the function has no variables (recorded on AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Absent while the function has no dead-letter queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    pub tracing_config: serde_json::Value,
    pub revision_id: String,
    /// Absent from ListFunctions' entries, as are LastUpdateStatus and RuntimeVersionConfig
    /// (recorded on AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<&'static str>,
    /// Absent from CreateFunction's answer (the function has had no update yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason_code: Option<&'static str>,
    pub package_type: &'static str,
    pub architectures: Vec<String>,
    pub ephemeral_storage: serde_json::Value,
    pub logging_config: serde_json::Value,
    pub snap_start: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version_config: Option<RuntimeVersionConfig>,
}

/// `RuntimeVersionConfig`: the runtime build a function runs on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeVersionConfig {
    pub runtime_version_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFunctionOutput {
    pub configuration: FunctionConfiguration,
    pub code: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionsOutput {
    pub functions: Vec<FunctionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvocationType {
    #[default]
    RequestResponse,
    Event,
    DryRun,
}

#[derive(Debug, Default)]
pub struct InvokeInput {
    pub function: FunctionRef,
    pub invocation_type: InvocationType,
    /// `X-Amz-Log-Type: Tail`.
    pub log_tail: bool,
    pub payload: Bytes,
}

#[derive(Debug, Default)]
pub struct InvokeOutput {
    /// 200 (RequestResponse), 202 (Event), 204 (DryRun).
    pub status: u16,
    pub function_error: Option<String>,
    /// Base64 of the last 4 KB of the invocation's log, when asked for.
    pub log_result: Option<String>,
    pub executed_version: Option<&'static str>,
    pub payload: Bytes,
    /// The invocation's request id, answered as `x-amzn-RequestId` (AWS answers a synchronous
    /// Invoke with the id the handler's context and log lines carry).
    pub invocation_request_id: Option<String>,
}
