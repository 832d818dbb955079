//! SNS operation inputs and outputs as typed values. SNS speaks only the query protocol; its
//! codec is `protocol::sns_query`. Required-ness is checked by the service.

use std::collections::BTreeMap;

pub use crate::sqs::model::{MessageAttributeValue, MessageAttributes};

pub type StringMap = BTreeMap<String, String>;

/// Declares the SNS operations lyrebird serves: one input type, one output type each.
macro_rules! operations {
    ($($op:ident($input:ty) -> $output:ty;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Operation { $($op),* }

        impl Operation {
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($op) => Some(Self::$op),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $(Self::$op => stringify!($op)),* }
            }
        }

        #[derive(Debug)]
        pub enum Request { $($op($input)),* }

        #[derive(Debug)]
        pub enum Response { $($op($output)),* }

        impl Response {
            pub fn operation(&self) -> Operation {
                match self { $(Response::$op(_) => Operation::$op),* }
            }
        }
    };
}

operations! {
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
    TagResource(TagResourceInput) -> Empty;
    UntagResource(UntagResourceInput) -> Empty;
    ListTagsForResource(ResourceArnInput) -> TagsOutput;
    GetDataProtectionPolicy(ResourceArnInput) -> DataProtectionPolicyOutput;
    PutDataProtectionPolicy(PutDataProtectionPolicyInput) -> Empty;
    AddPermission(AddPermissionInput) -> Empty;
    RemovePermission(RemovePermissionInput) -> Empty;
}

#[derive(Debug, Default)]
pub struct Empty {}

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
