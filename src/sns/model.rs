//! SNS operation inputs and outputs as typed values. SNS speaks only the query protocol; its
//! codec is `protocol::sns_query`. Required-ness is checked by the service.

use std::collections::BTreeMap;

pub use crate::sqs::model::{MessageAttributeValue, MessageAttributes};

pub type StringMap = BTreeMap<String, String>;

crate::service::operations! {
    CreateTopic(CreateTopicInput) -> TopicArnOutput;
    DeleteTopic(TopicArnInput) -> Empty;
    ListTopics(NextTokenInput) -> ListTopicsOutput;
    GetTopicAttributes(TopicArnInput) -> AttributesOutput;
    SetTopicAttributes(SetAttributeInput) -> Empty;
    Subscribe(SubscribeInput) -> SubscriptionArnOutput;
    ConfirmSubscription(ConfirmSubscriptionInput) -> SubscriptionArnOutput;
    Unsubscribe(SubscriptionArnInput) -> Empty;
    ListSubscriptions(NextTokenInput) -> ListSubscriptionsOutput;
    ListSubscriptionsByTopic(ListSubscriptionsByTopicInput) -> ListSubscriptionsOutput;
    GetSubscriptionAttributes(SubscriptionArnInput) -> AttributesOutput;
    SetSubscriptionAttributes(SetAttributeInput) -> Empty;
    Publish(PublishInput) -> PublishOutput;
    PublishBatch(PublishBatchInput) -> PublishBatchOutput;
    TagResource(TagResourceInput) -> EmptyResult;
    UntagResource(UntagResourceInput) -> EmptyResult;
    ListTagsForResource(ResourceArnInput) -> TagsOutput;
    GetDataProtectionPolicy(ResourceArnInput) -> DataProtectionPolicyOutput;
    PutDataProtectionPolicy(PutDataProtectionPolicyInput) -> Empty;
    AddPermission(AddPermissionInput) -> Empty;
    RemovePermission(RemovePermissionInput) -> Empty;
    CreatePlatformApplication(CreatePlatformApplicationInput) -> PlatformApplicationArnOutput;
    DeletePlatformApplication(PlatformApplicationArnInput) -> Empty;
    ListPlatformApplications(NextTokenInput) -> ListPlatformApplicationsOutput;
    GetPlatformApplicationAttributes(PlatformApplicationArnInput) -> AttributesOutput;
    SetPlatformApplicationAttributes(SetAttributesInput) -> Empty;
    CreatePlatformEndpoint(CreatePlatformEndpointInput) -> EndpointArnOutput;
    DeleteEndpoint(EndpointArnInput) -> Empty;
    ListEndpointsByPlatformApplication(ListEndpointsByPlatformApplicationInput) -> ListEndpointsOutput;
    GetEndpointAttributes(EndpointArnInput) -> AttributesOutput;
    SetEndpointAttributes(SetAttributesInput) -> Empty;
    GetSMSAttributes(GetSmsAttributesInput) -> AttributesOutput;
    SetSMSAttributes(SetSmsAttributesInput) -> EmptyResult;
    CheckIfPhoneNumberIsOptedOut(PhoneNumberInput) -> OptedOutOutput;
    ListPhoneNumbersOptedOut(NextTokenInput) -> PhoneNumbersOptedOutOutput;
    OptInPhoneNumber(PhoneNumberInput) -> EmptyResult;
    GetSMSSandboxAccountStatus(Empty) -> SandboxAccountStatusOutput;
    CreateSMSSandboxPhoneNumber(CreateSandboxPhoneNumberInput) -> EmptyResult;
    VerifySMSSandboxPhoneNumber(VerifySandboxPhoneNumberInput) -> EmptyResult;
    DeleteSMSSandboxPhoneNumber(PhoneNumberInput) -> EmptyResult;
    ListSMSSandboxPhoneNumbers(PageInput) -> ListSandboxPhoneNumbersOutput;
    ListOriginationNumbers(PageInput) -> ListOriginationNumbersOutput;
}

pub use crate::service::{Empty, EmptyResult};

#[derive(Debug, Default)]
pub struct CreateTopicInput {
    pub name: Option<String>,
    pub attributes: StringMap,
    pub tags: Vec<(String, String)>,
    pub data_protection_policy: Option<String>,
}

#[derive(Debug, Default)]
pub struct TopicArnInput {
    pub topic_arn: Option<String>,
}

#[derive(Debug, Default)]
pub struct TopicArnOutput {
    pub topic_arn: String,
}

#[derive(Debug, Default)]
pub struct NextTokenInput {
    pub next_token: Option<String>,
}

#[derive(Debug, Default)]
pub struct ListTopicsOutput {
    pub topics: Vec<String>,
    pub next_token: Option<String>,
}

/// Set{Topic,Subscription}Attributes: one name and value; `arn` is the topic or subscription.
#[derive(Debug, Default)]
pub struct SetAttributeInput {
    pub arn: Option<String>,
    pub attribute_name: Option<String>,
    pub attribute_value: Option<String>,
}

#[derive(Debug, Default)]
pub struct AttributesOutput {
    pub attributes: StringMap,
}

#[derive(Debug, Default)]
pub struct SubscribeInput {
    pub topic_arn: Option<String>,
    pub protocol: Option<String>,
    pub endpoint: Option<String>,
    pub attributes: StringMap,
    pub return_subscription_arn: bool,
}

#[derive(Debug, Default)]
pub struct SubscriptionArnOutput {
    pub subscription_arn: String,
}

#[derive(Debug, Default)]
pub struct ConfirmSubscriptionInput {
    pub topic_arn: Option<String>,
    pub token: Option<String>,
    pub authenticate_on_unsubscribe: Option<String>,
}

#[derive(Debug, Default)]
pub struct SubscriptionArnInput {
    pub subscription_arn: Option<String>,
}

#[derive(Debug, Default)]
pub struct ListSubscriptionsByTopicInput {
    pub topic_arn: Option<String>,
    pub next_token: Option<String>,
}

/// One row of ListSubscriptions(ByTopic).
#[derive(Debug, Default, Clone)]
pub struct SubscriptionSummary {
    pub subscription_arn: String,
    pub owner: String,
    pub protocol: String,
    pub endpoint: String,
    pub topic_arn: String,
}

#[derive(Debug, Default)]
pub struct ListSubscriptionsOutput {
    pub subscriptions: Vec<SubscriptionSummary>,
    pub next_token: Option<String>,
}

/// The fields Publish and each PublishBatch entry share.
#[derive(Debug, Default, Clone)]
pub struct PublishFields {
    pub message: Option<String>,
    pub subject: Option<String>,
    pub message_structure: Option<String>,
    pub message_attributes: MessageAttributes,
    pub message_deduplication_id: Option<String>,
    pub message_group_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct PublishInput {
    pub topic_arn: Option<String>,
    pub target_arn: Option<String>,
    pub phone_number: Option<String>,
    pub fields: PublishFields,
}

#[derive(Debug, Default)]
pub struct PublishOutput {
    pub message_id: String,
    pub sequence_number: Option<String>,
}

#[derive(Debug, Default)]
pub struct PublishBatchEntry {
    pub id: Option<String>,
    pub fields: PublishFields,
}

#[derive(Debug, Default)]
pub struct PublishBatchInput {
    pub topic_arn: Option<String>,
    pub entries: Vec<PublishBatchEntry>,
}

#[derive(Debug, Default)]
pub struct PublishBatchResultEntry {
    pub id: String,
    pub message_id: String,
    pub sequence_number: Option<String>,
}

#[derive(Debug, Default)]
pub struct BatchResultErrorEntry {
    pub id: String,
    pub code: String,
    pub message: String,
    pub sender_fault: bool,
}

#[derive(Debug, Default)]
pub struct PublishBatchOutput {
    pub successful: Vec<PublishBatchResultEntry>,
    pub failed: Vec<BatchResultErrorEntry>,
}

#[derive(Debug, Default)]
pub struct ResourceArnInput {
    pub resource_arn: Option<String>,
}

#[derive(Debug, Default)]
pub struct TagResourceInput {
    pub resource_arn: Option<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct UntagResourceInput {
    pub resource_arn: Option<String>,
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Default)]
pub struct TagsOutput {
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct DataProtectionPolicyOutput {
    pub data_protection_policy: Option<String>,
}

#[derive(Debug, Default)]
pub struct PutDataProtectionPolicyInput {
    pub resource_arn: Option<String>,
    pub data_protection_policy: Option<String>,
}

#[derive(Debug, Default)]
pub struct AddPermissionInput {
    pub topic_arn: Option<String>,
    pub label: Option<String>,
    pub aws_account_ids: Vec<String>,
    pub action_names: Vec<String>,
}

#[derive(Debug, Default)]
pub struct RemovePermissionInput {
    pub topic_arn: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, Default)]
pub struct CreatePlatformApplicationInput {
    pub name: Option<String>,
    pub platform: Option<String>,
    pub attributes: StringMap,
}

#[derive(Debug, Default)]
pub struct PlatformApplicationArnInput {
    pub platform_application_arn: Option<String>,
}

#[derive(Debug, Default)]
pub struct PlatformApplicationArnOutput {
    pub platform_application_arn: String,
}

/// An ARN and its attributes: one row of ListPlatformApplications or
/// ListEndpointsByPlatformApplication.
#[derive(Debug, Default, Clone)]
pub struct ArnWithAttributes {
    pub arn: String,
    pub attributes: StringMap,
}

#[derive(Debug, Default)]
pub struct ListPlatformApplicationsOutput {
    pub platform_applications: Vec<ArnWithAttributes>,
    pub next_token: Option<String>,
}

/// Set{PlatformApplication,Endpoint}Attributes: a map of attributes; `arn` is the application
/// or endpoint.
#[derive(Debug, Default)]
pub struct SetAttributesInput {
    pub arn: Option<String>,
    pub attributes: StringMap,
}

#[derive(Debug, Default)]
pub struct CreatePlatformEndpointInput {
    pub platform_application_arn: Option<String>,
    pub token: Option<String>,
    pub custom_user_data: Option<String>,
    pub attributes: StringMap,
}

#[derive(Debug, Default)]
pub struct EndpointArnInput {
    pub endpoint_arn: Option<String>,
}

#[derive(Debug, Default)]
pub struct EndpointArnOutput {
    pub endpoint_arn: String,
}

#[derive(Debug, Default)]
pub struct ListEndpointsByPlatformApplicationInput {
    pub platform_application_arn: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default)]
pub struct ListEndpointsOutput {
    pub endpoints: Vec<ArnWithAttributes>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default)]
pub struct GetSmsAttributesInput {
    /// Names to return; all when empty.
    pub attributes: Vec<String>,
}

#[derive(Debug, Default)]
pub struct SetSmsAttributesInput {
    pub attributes: StringMap,
}

/// A phone number parameter: `phoneNumber` for the opt-out operations, `PhoneNumber` for the
/// sandbox ones (the codec reads each operation's spelling).
#[derive(Debug, Default)]
pub struct PhoneNumberInput {
    pub phone_number: Option<String>,
}

#[derive(Debug, Default)]
pub struct OptedOutOutput {
    pub is_opted_out: bool,
}

#[derive(Debug, Default)]
pub struct PhoneNumbersOptedOutOutput {
    pub phone_numbers: Vec<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default)]
pub struct SandboxAccountStatusOutput {
    pub is_in_sandbox: bool,
}

#[derive(Debug, Default)]
pub struct CreateSandboxPhoneNumberInput {
    pub phone_number: Option<String>,
    pub language_code: Option<String>,
}

#[derive(Debug, Default)]
pub struct VerifySandboxPhoneNumberInput {
    pub phone_number: Option<String>,
    pub one_time_password: Option<String>,
}

/// NextToken and MaxResults, for the listings that take a page size.
#[derive(Debug, Default)]
pub struct PageInput {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Default, Clone)]
pub struct SandboxPhoneNumber {
    pub phone_number: String,
    /// `Pending` or `Verified`.
    pub status: String,
}

#[derive(Debug, Default)]
pub struct ListSandboxPhoneNumbersOutput {
    pub phone_numbers: Vec<SandboxPhoneNumber>,
    pub next_token: Option<String>,
}

/// Origination numbers are bought through AWS End User Messaging, which lyrebird does not
/// emulate, so an account never has any: the listing is always empty.
#[derive(Debug, Default)]
pub struct ListOriginationNumbersOutput {}
