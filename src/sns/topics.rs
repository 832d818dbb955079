//! Topic operations: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes, tags, data
//! protection policies and AddPermission/RemovePermission.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::model::*;
use super::subscription::Subscription;
use super::{decode_token, encode_token, parse_arn, SnsService, PAGE_SIZE};

/// SNS topics still default to 256 KiB messages (SQS went to 1 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 262_144;
const MAX_TAGS: usize = 50;

pub struct Topic {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub fifo: bool,
    /// Published and delivered counts, for `/metrics`.
    pub stats: Arc<TopicStats>,
    pub state: Mutex<TopicState>,
    /// FIFO topics: held from assigning a sequence number until the message's deliveries are
    /// handed to the store, so deliveries reach queues in sequence order and a duplicate is
    /// answered only after its original's writes are queued (its barrier then covers them).
    pub publish_order: Mutex<()>,
}

/// The protocols `/metrics` counts deliveries of, in label order.
pub const PROTOCOLS: [&str; 9] = [
    "sqs",
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "lambda",
    "firehose",
    "application",
];

/// What a topic published and delivered since start-up: relaxed atomics, one increment per
/// publish and per delivery (nothing per scrape but reading them).
#[derive(Debug, Default)]
pub struct TopicStats {
    pub published: AtomicU64,
    pub delivered: [AtomicU64; PROTOCOLS.len()],
    pub failed: [AtomicU64; PROTOCOLS.len()],
}

impl TopicStats {
    pub fn published(&self) {
        self.published.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one delivery to `protocol`, delivered or failed.
    pub fn delivery(&self, protocol: &str, delivered: bool) {
        if let Some(i) = PROTOCOLS.iter().position(|p| *p == protocol) {
            let counters = if delivered {
                &self.delivered
            } else {
                &self.failed
            };
            counters[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topic").field("arn", &self.arn).finish()
    }
}

pub struct TopicState {
    /// Attributes as set (DisplayName, Policy, DeliveryPolicy, …); defaults are rendered on read.
    pub attributes: StringMap,
    pub tags: BTreeMap<String, String>,
    pub data_protection_policy: Option<String>,
    /// Copy-on-write so a publish takes a snapshot with one reference-count increment.
    pub subscriptions: Arc<Vec<Arc<Subscription>>>,
    pub deleted_subscriptions: u64,
    pub next_sequence_number: u128,
    /// FIFO deduplication: key → (expiry, message id, sequence number), and expiry order.
    pub dedup: HashMap<String, (u64, String, Option<String>)>,
    pub dedup_expiry: VecDeque<(u64, String)>,
}

impl Topic {
    pub fn max_message_size(&self) -> usize {
        self.state
            .lock()
            .attributes
            .get("MaximumMessageSize")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE)
    }
}

const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "TracingConfig",
    "KmsMasterKeyId",
    "SignatureVersion",
    "MaximumMessageSize",
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "FifoThroughputScope",
];

fn is_feedback_attribute(name: &str) -> bool {
    ["HTTP", "Firehose", "Lambda", "Application", "SQS"]
        .iter()
        .any(|p| {
            name.strip_prefix(p).is_some_and(|rest| {
                matches!(
                    rest,
                    "SuccessFeedbackRoleArn"
                        | "FailureFeedbackRoleArn"
                        | "SuccessFeedbackSampleRate"
                )
            })
        })
}

/// Checks one topic attribute; returns the value to store (`None` removes it).
fn check_attribute(name: &str, value: &str, fifo: bool) -> AwsResult<Option<String>> {
    if !SETTABLE.contains(&name) && !is_feedback_attribute(name) {
        return Err(AwsError::sns_invalid("AttributeName"));
    }
    let bad = || {
        Err(AwsError::sns_invalid(format!(
            "{name}: Invalid value [{value}]"
        )))
    };
    match name {
        "SignatureVersion" if !matches!(value, "1" | "2") => return bad(),
        "TracingConfig" if !matches!(value, "PassThrough" | "Active") => return bad(),
        "MaximumMessageSize"
            if !value
                .parse::<usize>()
                .is_ok_and(|n| (1024..=1_048_576).contains(&n)) =>
        {
            return bad();
        }
        "ContentBasedDeduplication" | "FifoThroughputScope" | "ArchivePolicy" if !fifo => {
            return Err(AwsError::sns_invalid(format!(
                "{name}: {name} is only supported for FIFO topics"
            )))
        }
        "ContentBasedDeduplication" => {
            // Any case is accepted and reported lower-case (AWS-recorded).
            let lower = value.to_ascii_lowercase();
            return match lower.as_str() {
                "true" | "false" => Ok(Some(lower)),
                _ => bad(),
            };
        }
        "FifoThroughputScope" if !matches!(value, "Topic" | "MessageGroup") => return bad(),
        "Policy" | "DeliveryPolicy" | "ArchivePolicy"
            if !value.is_empty()
                && !matches!(serde_json::from_str::<Value>(value), Ok(Value::Object(_))) =>
        {
            return Err(AwsError::sns_invalid(format!(
                "{name}: failed to parse JSON"
            )));
        }
        _ => {}
    }
    Ok((!value.is_empty() || name == "DisplayName").then(|| value.to_string()))
}

impl SnsService {
    /// A topic's account and `Policy` attribute, by ARN (for other services' policy checks).
    pub fn topic_owner_and_policy(&self, arn: &str) -> Option<(String, Option<String>)> {
        let topic = self.topics.read().get(arn).cloned()?;
        let policy = topic.state.lock().attributes.get("Policy").cloned();
        Some((topic.account.clone(), policy))
    }

    pub(crate) fn topic(
        &self,
        ctx: &RequestContext,
        parameter: &str,
        arn: Option<&str>,
    ) -> AwsResult<Arc<Topic>> {
        let parsed = parse_arn(parameter, arn, ctx)?;
        let arn = arn.unwrap_or_default();
        if parsed.id.is_some() {
            return Err(AwsError::sns_invalid(parameter));
        }
        let topic = self
            .topics
            .read()
            .get(arn)
            .cloned()
            .ok_or_else(|| AwsError::sns_not_found("Topic"))?;
        self.authorize(ctx, &topic)?;
        Ok(topic)
    }

    /// With `--auth sigv4`, a caller from another account reaches a topic only where the
    /// topic's Policy grants its account the action (`crate::policy`); owners always do.
    pub(super) fn authorize(&self, ctx: &RequestContext, topic: &Topic) -> AwsResult<()> {
        if !ctx.authenticated || topic.account == ctx.account {
            return Ok(());
        }
        let action = format!("SNS:{}", ctx.action.unwrap_or_default());
        let policy = topic.state.lock().attributes.get("Policy").cloned();
        if crate::policy::allows(policy.as_deref(), &ctx.account, &action, &topic.arn) {
            return Ok(());
        }
        Err(AwsError::new(
            &codes::SNS_AUTHORIZATION_ERROR,
            format!(
                "User: arn:aws:iam::{}:root is not authorized to perform: {action} on resource: {} because no resource-based policy allows the {action} action",
                ctx.account, topic.arn
            ),
        ))
    }

    pub fn create_topic(
        &self,
        ctx: &RequestContext,
        input: CreateTopicInput,
    ) -> AwsResult<TopicArnOutput> {
        let name = input.name.unwrap_or_default();
        let fifo = input
            .attributes
            .get("FifoTopic")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let stem = if fifo {
            name.strip_suffix(".fifo")
        } else {
            Some(name.as_str())
        };
        let valid = stem.is_some_and(|s| {
            !s.is_empty()
                && name.len() <= 256
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !valid {
            return Err(AwsError::sns_invalid("Topic Name"));
        }
        let mut attributes = StringMap::new();
        for (key, value) in &input.attributes {
            if key == "FifoTopic" {
                continue;
            }
            if let Some(v) = check_attribute(key, value, fifo)? {
                attributes.insert(key.clone(), v);
            }
        }
        let tags = check_tags(&input.tags)?;
        let arn = format!("arn:aws:sns:{}:{}:{name}", ctx.region, ctx.account);
        let mut topics = self.topics.write();
        if let Some(existing) = topics.get(&arn) {
            let state = existing.state.lock();
            if attributes
                .iter()
                .any(|(k, v)| state.attributes.get(k) != Some(v))
            {
                return Err(AwsError::sns_invalid(
                    "Attributes Reason: Topic already exists with different attributes",
                ));
            }
            // Idempotent when every supplied tag is already on the topic (AWS-recorded).
            if tags.iter().any(|(k, v)| state.tags.get(k) != Some(v)) {
                return Err(AwsError::sns_invalid(
                    "Tags Reason: Topic already exists with different tags",
                ));
            }
            return Ok(TopicArnOutput { topic_arn: arn });
        }
        // Counting is only needed once there are that many topics in all.
        let max = self.limits.max_topics;
        if topics.len() >= max
            && count_prefixed(
                &topics,
                &format!("arn:aws:sns:{}:{}:", ctx.region, ctx.account),
            ) >= max
        {
            return Err(AwsError::new(
                &codes::TOPIC_LIMIT_EXCEEDED,
                "Topic limit exceeded",
            ));
        }
        let topic = Topic {
            arn: arn.clone(),
            name: name.clone(),
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            fifo,
            stats: Default::default(),
            publish_order: Mutex::new(()),
            state: Mutex::new(TopicState {
                attributes,
                tags,
                data_protection_policy: input.data_protection_policy.filter(|p| !p.is_empty()),
                subscriptions: Arc::new(Vec::new()),
                deleted_subscriptions: 0,
                next_sequence_number: 10_000_000_000_000_000_000
                    + self.now_ms() as u128 * 1_000_000,
                dedup: HashMap::new(),
                dedup_expiry: VecDeque::new(),
            }),
        };
        let topic = Arc::new(topic);
        self.persist_topic(ctx, &topic, &topic.state.lock());
        topics.insert(arn.clone(), topic);
        tracing::debug!(topic = %arn, "created topic");
        Ok(TopicArnOutput { topic_arn: arn })
    }

    /// Deleting a missing topic succeeds; a topic's subscriptions go with it.
    pub fn delete_topic(&self, ctx: &RequestContext, input: TopicArnInput) -> AwsResult<Empty> {
        parse_arn("TopicArn", input.topic_arn.as_deref(), ctx)?;
        let arn = input.topic_arn.unwrap_or_default();
        let existing = self.topics.read().get(&arn).cloned();
        if let Some(topic) = existing {
            self.authorize(ctx, &topic)?;
        }
        let Some(topic) = self.topics.write().remove(&arn) else {
            return Ok(Empty {});
        };
        let subs = topic.state.lock().subscriptions.clone();
        let mut index = self.subscriptions.write();
        for sub in subs.iter() {
            index.remove(&sub.arn);
        }
        self.forget_topic(ctx, &arn);
        Ok(Empty {})
    }

    pub fn list_topics(
        &self,
        ctx: &RequestContext,
        input: NextTokenInput,
    ) -> AwsResult<ListTopicsOutput> {
        let prefix = format!("arn:aws:sns:{}:{}:", ctx.region, ctx.account);
        let after = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(decode_token(t)?),
            None => None,
        };
        let topics = self.topics.read();
        let start = after.as_deref().unwrap_or(prefix.as_str());
        let mut iter = topics
            .range::<str, _>((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
            .map(|(arn, _)| arn)
            .take_while(|arn| arn.starts_with(&prefix));
        let page: Vec<String> = iter.by_ref().take(PAGE_SIZE).cloned().collect();
        let next_token = iter.next().and(page.last()).map(|last| encode_token(last));
        Ok(ListTopicsOutput {
            topics: page,
            next_token,
        })
    }

    pub fn get_topic_attributes(
        &self,
        ctx: &RequestContext,
        input: TopicArnInput,
    ) -> AwsResult<AttributesOutput> {
        let topic = self.topic(ctx, "TopicArn", input.topic_arn.as_deref())?;
        let state = topic.state.lock();
        let mut out = state.attributes.clone();
        let (mut confirmed, mut pending) = (0, 0);
        for sub in state.subscriptions.iter() {
            if sub.is_confirmed() {
                confirmed += 1;
            } else {
                pending += 1;
            }
        }
        out.entry("DisplayName".into()).or_default();
        out.entry("Policy".into())
            .or_insert_with(|| default_policy(&topic.arn, &topic.account));
        let effective = state
            .attributes
            .get("DeliveryPolicy")
            .cloned()
            .unwrap_or_else(default_delivery_policy);
        out.insert("EffectiveDeliveryPolicy".into(), effective);
        out.insert("Owner".into(), topic.account.clone());
        out.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
        out.insert("SubscriptionsPending".into(), pending.to_string());
        out.insert(
            "SubscriptionsDeleted".into(),
            state.deleted_subscriptions.to_string(),
        );
        out.insert("TopicArn".into(), topic.arn.clone());
        if topic.fifo {
            out.insert("FifoTopic".into(), "true".into());
            out.entry("ContentBasedDeduplication".into())
                .or_insert_with(|| "false".into());
        }
        Ok(AttributesOutput { attributes: out })
    }

    pub fn set_topic_attributes(
        &self,
        ctx: &RequestContext,
        input: SetAttributeInput,
    ) -> AwsResult<Empty> {
        let topic = self.topic(ctx, "TopicArn", input.arn.as_deref())?;
        let name = match input.attribute_name.as_deref() {
            Some(n) if !n.is_empty() => n,
            _ => return Err(AwsError::sns_invalid("AttributeName")),
        };
        if name == "FifoTopic" {
            return Err(AwsError::sns_invalid("AttributeName"));
        }
        let value = input.attribute_value.unwrap_or_default();
        let stored = check_attribute(name, &value, topic.fifo)?;
        let mut state = topic.state.lock();
        match stored {
            Some(v) => state.attributes.insert(name.to_string(), v),
            None => state.attributes.remove(name),
        };
        self.persist_topic(ctx, &topic, &state);
        Ok(Empty {})
    }

    pub fn tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceInput,
    ) -> AwsResult<EmptyResult> {
        let topic = self.tagged_topic(ctx, input.resource_arn.as_deref())?;
        let tags = check_tags(&input.tags)?;
        let mut state = topic.state.lock();
        let mut merged = state.tags.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(AwsError::new(
                &codes::SNS_TAG_LIMIT_EXCEEDED,
                "Could not complete request: tag quota of per resource exceeded",
            ));
        }
        state.tags = merged;
        self.persist_topic(ctx, &topic, &state);
        Ok(EmptyResult {})
    }

    pub fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceInput,
    ) -> AwsResult<EmptyResult> {
        let topic = self.tagged_topic(ctx, input.resource_arn.as_deref())?;
        let mut state = topic.state.lock();
        for key in &input.tag_keys {
            state.tags.remove(key);
        }
        self.persist_topic(ctx, &topic, &state);
        Ok(EmptyResult {})
    }

    pub fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ResourceArnInput,
    ) -> AwsResult<TagsOutput> {
        let topic = self.tagged_topic(ctx, input.resource_arn.as_deref())?;
        let state = topic.state.lock();
        Ok(TagsOutput {
            tags: state
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// Tag operations answer `ResourceNotFound` (404, as the SNS model has it) rather than
    /// `NotFound`.
    fn tagged_topic(&self, ctx: &RequestContext, arn: Option<&str>) -> AwsResult<Arc<Topic>> {
        self.topic(ctx, "ResourceArn", arn).map_err(|e| {
            if e.code == &codes::SNS_NOT_FOUND {
                AwsError::new(&codes::SNS_RESOURCE_NOT_FOUND, "Resource does not exist")
            } else {
                e
            }
        })
    }

    pub fn get_data_protection_policy(
        &self,
        ctx: &RequestContext,
        input: ResourceArnInput,
    ) -> AwsResult<DataProtectionPolicyOutput> {
        let topic = self.topic(ctx, "ResourceArn", input.resource_arn.as_deref())?;
        let policy = topic.state.lock().data_protection_policy.clone();
        Ok(DataProtectionPolicyOutput {
            data_protection_policy: policy,
        })
    }

    pub fn put_data_protection_policy(
        &self,
        ctx: &RequestContext,
        input: PutDataProtectionPolicyInput,
    ) -> AwsResult<Empty> {
        let topic = self.topic(ctx, "ResourceArn", input.resource_arn.as_deref())?;
        let policy = input.data_protection_policy.unwrap_or_default();
        if !policy.is_empty()
            && !matches!(serde_json::from_str::<Value>(&policy), Ok(Value::Object(_)))
        {
            return Err(AwsError::sns_invalid("DataProtectionPolicy"));
        }
        let mut state = topic.state.lock();
        state.data_protection_policy = (!policy.is_empty()).then_some(policy);
        self.persist_topic(ctx, &topic, &state);
        Ok(Empty {})
    }

    pub fn add_permission(
        &self,
        ctx: &RequestContext,
        input: AddPermissionInput,
    ) -> AwsResult<Empty> {
        let topic = self.topic(ctx, "TopicArn", input.topic_arn.as_deref())?;
        let label = input
            .label
            .filter(|l| !l.is_empty())
            .ok_or_else(|| AwsError::sns_invalid("Label"))?;
        if input.aws_account_ids.is_empty() {
            return Err(AwsError::sns_invalid("AWSAccountId"));
        }
        if input.action_names.is_empty() {
            return Err(AwsError::sns_invalid("ActionName"));
        }
        const ACTIONS: &[&str] = &[
            "*",
            "AddPermission",
            "DeleteTopic",
            "GetTopicAttributes",
            "ListSubscriptionsByTopic",
            "Publish",
            "Receive",
            "RemovePermission",
            "SetTopicAttributes",
            "Subscribe",
        ];
        if input
            .action_names
            .iter()
            .any(|a| !ACTIONS.contains(&a.as_str()))
        {
            return Err(AwsError::sns_invalid(
                "Policy statement action out of service scope!",
            ));
        }
        let mut state = topic.state.lock();
        let mut policy = current_policy(&topic, &state);
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        if statements.iter().any(|s| s["Sid"] == label.as_str()) {
            return Err(AwsError::sns_invalid("Statement already exists"));
        }
        let principals: Vec<String> = input
            .aws_account_ids
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions: Vec<String> = input
            .action_names
            .iter()
            .map(|a| format!("SNS:{a}"))
            .collect();
        let mut list = statements;
        list.push(json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": { "AWS": if principals.len() == 1 { json!(principals[0]) } else { json!(principals) } },
            "Action": if actions.len() == 1 { json!(actions[0]) } else { json!(actions) },
            "Resource": topic.arn,
        }));
        policy["Statement"] = Value::Array(list);
        state.attributes.insert("Policy".into(), policy.to_string());
        self.persist_topic(ctx, &topic, &state);
        Ok(Empty {})
    }

    pub fn remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionInput,
    ) -> AwsResult<Empty> {
        let topic = self.topic(ctx, "TopicArn", input.topic_arn.as_deref())?;
        let label = input
            .label
            .filter(|l| !l.is_empty())
            .ok_or_else(|| AwsError::sns_invalid("Label"))?;
        let mut state = topic.state.lock();
        let mut policy = current_policy(&topic, &state);
        if let Some(list) = policy["Statement"].as_array_mut() {
            list.retain(|s| s["Sid"] != label.as_str());
        }
        state.attributes.insert("Policy".into(), policy.to_string());
        self.persist_topic(ctx, &topic, &state);
        Ok(Empty {})
    }
}

fn check_tags(tags: &[(String, String)]) -> AwsResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(AwsError::sns_invalid("Tags"));
        }
        if out.insert(key.clone(), value.clone()).is_some() {
            return Err(AwsError::sns_invalid("Duplicated keys are not allowed."));
        }
    }
    if out.len() > MAX_TAGS {
        return Err(AwsError::new(
            &codes::SNS_TAG_LIMIT_EXCEEDED,
            "Could not complete request: tag quota of per resource exceeded",
        ));
    }
    Ok(out)
}

/// The topic's access policy as a document to edit: the one set, else AWS's default.
fn current_policy(topic: &Topic, state: &TopicState) -> Value {
    state
        .attributes
        .get("Policy")
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_else(|| {
            serde_json::from_str(&default_policy(&topic.arn, &topic.account)).expect("valid JSON")
        })
}

/// The access policy AWS gives a new topic.
pub fn default_policy(topic_arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": { "AWS": "*" },
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": { "StringEquals": { "AWS:SourceOwner": account } }
        }]
    })
    .to_string()
}

/// AWS's default HTTP delivery policy, as EffectiveDeliveryPolicy shows it.
pub fn default_delivery_policy() -> String {
    r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#.to_string()
}

/// How many keys of `map` start with `prefix` (ARNs of one account and region).
pub(super) fn count_prefixed<V>(
    map: &std::collections::BTreeMap<String, V>,
    prefix: &str,
) -> usize {
    map.range::<str, _>((
        std::ops::Bound::Included(prefix),
        std::ops::Bound::Unbounded,
    ))
    .take_while(|(k, _)| k.starts_with(prefix))
    .count()
}
