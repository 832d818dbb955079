//! EventBridge's operations and their typed inputs and outputs, with the AWS model's member
//! names (AWS JSON 1.1), so serde is the whole codec. Timestamps are epoch seconds, as AWS JSON
//! writes them. Nested structures lyrebird stores but does not interpret (ECS, Kinesis, Batch
//! parameters of a target…) are kept as JSON so they read back unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::service::Empty;

crate::service::operations! { serde;
    CreateEventBus(CreateEventBusInput) -> CreateEventBusOutput;
    DescribeEventBus(NameInput) -> DescribeEventBusOutput;
    UpdateEventBus(UpdateEventBusInput) -> DescribeEventBusOutput;
    DeleteEventBus(NameInput) -> Empty;
    ListEventBuses(ListInput) -> ListEventBusesOutput;
    PutRule(PutRuleInput) -> PutRuleOutput;
    DescribeRule(RuleInput) -> DescribeRuleOutput;
    DeleteRule(RuleInput) -> Empty;
    EnableRule(RuleInput) -> Empty;
    DisableRule(RuleInput) -> Empty;
    ListRules(ListInput) -> ListRulesOutput;
    ListRuleNamesByTarget(ListRuleNamesByTargetInput) -> ListRuleNamesByTargetOutput;
    PutTargets(PutTargetsInput) -> TargetsOutput;
    RemoveTargets(RemoveTargetsInput) -> TargetsOutput;
    ListTargetsByRule(ListTargetsByRuleInput) -> ListTargetsByRuleOutput;
    PutEvents(PutEventsInput) -> PutEventsOutput;
    TestEventPattern(TestEventPatternInput) -> TestEventPatternOutput;
    PutPermission(PutPermissionInput) -> Empty;
    RemovePermission(RemovePermissionInput) -> Empty;
    TagResource(TagResourceInput) -> Empty;
    UntagResource(UntagResourceInput) -> Empty;
    ListTagsForResource(ResourceInput) -> TagsOutput;
    CreateArchive(ArchiveInput) -> ArchiveStateOutput;
    DescribeArchive(ArchiveNameInput) -> DescribeArchiveOutput;
    UpdateArchive(ArchiveInput) -> ArchiveStateOutput;
    DeleteArchive(ArchiveNameInput) -> Empty;
    ListArchives(ListInput) -> ListArchivesOutput;
    StartReplay(StartReplayInput) -> ReplayStateOutput;
    DescribeReplay(ReplayNameInput) -> DescribeReplayOutput;
    ListReplays(ListInput) -> ListReplaysOutput;
    CancelReplay(ReplayNameInput) -> ReplayStateOutput;
    CreateConnection(ConnectionInput) -> ConnectionStateOutput;
    DescribeConnection(NameInput) -> DescribeConnectionOutput;
    UpdateConnection(ConnectionInput) -> ConnectionStateOutput;
    DeleteConnection(NameInput) -> ConnectionStateOutput;
    ListConnections(ListInput) -> ListConnectionsOutput;
    CreateApiDestination(ApiDestinationInput) -> ApiDestinationStateOutput;
    DescribeApiDestination(NameInput) -> DescribeApiDestinationOutput;
    UpdateApiDestination(ApiDestinationInput) -> ApiDestinationStateOutput;
    DeleteApiDestination(NameInput) -> Empty;
    ListApiDestinations(ListInput) -> ListApiDestinationsOutput;
}

/// A listing's answer: the items under the model's member name, and the next page's token
/// when there is one.
macro_rules! listing {
    ($name:ident, $member:ident: $item:ty) => {
        #[derive(Debug, Default, Serialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name {
            pub $member: Vec<$item>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub next_token: Option<String>,
        }
    };
}

pub type Tags = Vec<Tag>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Any operation addressing a resource by `Name`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameInput {
    pub name: Option<String>,
}

/// The listing operations' shared members (each uses the ones its model has).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    pub name_prefix: Option<String>,
    pub event_bus_name: Option<String>,
    pub event_source_arn: Option<String>,
    pub state: Option<String>,
    pub connection_arn: Option<String>,
    pub connection_state: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusInput {
    pub name: Option<String>,
    pub event_source_name: Option<String>,
    pub description: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub dead_letter_config: Option<Value>,
    pub tags: Option<Tags>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventBusOutput {
    pub event_bus_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateEventBusInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub dead_letter_config: Option<Value>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEventBusOutput {
    pub name: String,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<f64>,
}

listing!(ListEventBusesOutput, event_buses: DescribeEventBusOutput);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleInput {
    pub name: Option<String>,
    pub schedule_expression: Option<String>,
    pub event_pattern: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub tags: Option<Tags>,
    pub event_bus_name: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRuleOutput {
    pub rule_arn: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleInput {
    pub name: Option<String>,
    pub event_bus_name: Option<String>,
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRuleOutput {
    pub name: String,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    pub event_bus_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

listing!(ListRulesOutput, rules: DescribeRuleOutput);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRuleNamesByTargetInput {
    pub target_arn: Option<String>,
    pub event_bus_name: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

listing!(ListRuleNamesByTargetOutput, rule_names: String);

/// A rule's target, as PutTargets takes it and ListTargetsByRule gives it back. The members
/// lyrebird acts on are typed; the others are kept as sent.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    pub id: String,
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<SqsParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_parameters: Option<HttpParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// EcsParameters, KinesisParameters, BatchParameters, …: stored, not acted on.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputTransformerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_paths_map: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub input_template: String,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SqsParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_parameter_values: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_parameters: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutTargetsInput {
    pub rule: Option<String>,
    pub event_bus_name: Option<String>,
    pub targets: Option<Vec<Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTargetsInput {
    pub rule: Option<String>,
    pub event_bus_name: Option<String>,
    pub ids: Option<Vec<String>>,
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedTarget {
    pub target_id: String,
    pub error_code: String,
    pub error_message: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetsOutput {
    pub failed_entry_count: usize,
    pub failed_entries: Vec<FailedTarget>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTargetsByRuleInput {
    pub rule: Option<String>,
    pub event_bus_name: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

listing!(ListTargetsByRuleOutput, targets: Target);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsInput {
    pub entries: Option<Vec<PutEventsEntry>>,
    pub endpoint_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsEntry {
    /// Epoch seconds.
    pub time: Option<f64>,
    pub source: Option<String>,
    pub resources: Option<Vec<String>>,
    pub detail_type: Option<String>,
    pub detail: Option<String>,
    pub event_bus_name: Option<String>,
    pub trace_header: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsOutput {
    pub failed_entry_count: usize,
    pub entries: Vec<PutEventsResultEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternInput {
    pub event_pattern: Option<String>,
    pub event: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TestEventPatternOutput {
    pub result: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutPermissionInput {
    pub event_bus_name: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub statement_id: Option<String>,
    pub condition: Option<Value>,
    pub policy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermissionInput {
    pub statement_id: Option<String>,
    #[serde(default)]
    pub remove_all_permissions: bool,
    pub event_bus_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    #[serde(rename = "Tags")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    #[serde(rename = "TagKeys")]
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsOutput {
    pub tags: Tags,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveInput {
    pub archive_name: Option<String>,
    pub event_source_arn: Option<String>,
    pub description: Option<String>,
    pub event_pattern: Option<String>,
    pub retention_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveNameInput {
    pub archive_name: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveStateOutput {
    pub archive_arn: String,
    pub state: String,
    pub creation_time: f64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeArchiveOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_arn: Option<String>,
    pub archive_name: String,
    pub event_source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    pub state: String,
    pub retention_days: i64,
    pub size_bytes: u64,
    pub event_count: u64,
    pub creation_time: f64,
}

listing!(ListArchivesOutput, archives: DescribeArchiveOutput);

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayDestination {
    #[serde(default)]
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_arns: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartReplayInput {
    pub replay_name: Option<String>,
    pub description: Option<String>,
    pub event_source_arn: Option<String>,
    pub event_start_time: Option<f64>,
    pub event_end_time: Option<f64>,
    pub destination: Option<ReplayDestination>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayNameInput {
    pub replay_name: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayStateOutput {
    pub replay_arn: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_start_time: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeReplayOutput {
    pub replay_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub event_source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<ReplayDestination>,
    pub event_start_time: f64,
    pub event_end_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_last_replayed_time: Option<f64>,
    pub replay_start_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_end_time: Option<f64>,
}

listing!(ListReplaysOutput, replays: DescribeReplayOutput);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub authorization_type: Option<String>,
    pub auth_parameters: Option<Value>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionStateOutput {
    pub connection_arn: String,
    pub connection_state: String,
    pub creation_time: f64,
    pub last_modified_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_authorized_time: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeConnectionOutput {
    pub connection_arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub connection_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub authorization_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_parameters: Option<Value>,
    pub creation_time: f64,
    pub last_modified_time: f64,
    pub last_authorized_time: f64,
}

listing!(ListConnectionsOutput, connections: DescribeConnectionOutput);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestinationInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub connection_arn: Option<String>,
    pub invocation_endpoint: Option<String>,
    pub http_method: Option<String>,
    pub invocation_rate_limit_per_second: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiDestinationStateOutput {
    pub api_destination_arn: String,
    pub api_destination_state: String,
    pub creation_time: f64,
    pub last_modified_time: f64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeApiDestinationOutput {
    pub api_destination_arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub api_destination_state: String,
    pub connection_arn: String,
    pub invocation_endpoint: String,
    pub http_method: String,
    pub invocation_rate_limit_per_second: i64,
    pub creation_time: f64,
    pub last_modified_time: f64,
}

listing!(ListApiDestinationsOutput, api_destinations: DescribeApiDestinationOutput);
