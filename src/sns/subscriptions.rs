//! Subscription operations: Subscribe, ConfirmSubscription, Unsubscribe, ListSubscriptions,
//! ListSubscriptionsByTopic, Get/SetSubscriptionAttributes. The subscription itself and the
//! rules for its attributes are in `subscription.rs`.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::message::Kind;
use super::model::*;
use super::subscription::{Subscription, SubscriptionState};
use super::topics::Topic;
use super::{decode_token, encode_token, parse_arn, SnsService, PAGE_SIZE};

const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
];
const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// 288 hex characters, like AWS's confirmation tokens.
fn new_token() -> String {
    (0..9)
        .map(|_| format!("{:032x}", rand::random::<u128>()))
        .collect()
}

/// A FIFO queue subscribed to a FIFO topic must dead-letter into a FIFO queue (AWS-recorded).
fn check_dead_letter_kind(
    topic_arn: &str,
    endpoint: &str,
    state: &SubscriptionState,
) -> AwsResult<()> {
    let fifo_subscription = topic_arn.ends_with(".fifo") && endpoint.ends_with(".fifo");
    match state.dead_letter_target() {
        Some(dlq) if fifo_subscription && !dlq.ends_with(".fifo") => Err(AwsError::sns_invalid(
            "RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic.",
        )),
        _ => Ok(()),
    }
}

/// AWS accepts separators (`.`, `/`, `-`) inside a phone number, never two in a row nor first
/// or last; what remains must be E.164-like: `^\+?[1-9]\d{1,14}$` (AWS-recorded).
fn valid_sms_endpoint(endpoint: &str) -> bool {
    let separator = |c: char| matches!(c, '.' | '/' | '-');
    if endpoint.starts_with(separator)
        || endpoint.ends_with(separator)
        || endpoint
            .as_bytes()
            .windows(2)
            .any(|w| separator(w[0] as char) && separator(w[1] as char))
    {
        return false;
    }
    let digits: String = endpoint.chars().filter(|c| !separator(*c)).collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    (2..=15).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
}

fn check_endpoint(protocol: &str, endpoint: &str, topic: &Topic) -> AwsResult<()> {
    let ok = match protocol {
        "sqs" => {
            let parts: Vec<&str> = endpoint.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sqs" {
                return Err(AwsError::sns_invalid("SQS endpoint ARN"));
            }
            if endpoint.ends_with(".fifo") && !topic.fifo {
                return Err(AwsError::sns_invalid(
                    "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
                ));
            }
            true
        }
        "http" => endpoint.starts_with("http://"),
        "https" => endpoint.starts_with("https://"),
        "email" | "email-json" => endpoint.contains('@'),
        "sms" if !valid_sms_endpoint(endpoint) => {
            return Err(AwsError::new(
                &crate::error::codes::SNS_INVALID_PARAMETER,
                format!("Invalid SMS endpoint: {endpoint}"),
            ));
        }
        "lambda" | "firehose" | "application" => endpoint.starts_with("arn:"),
        _ => true,
    };
    if !ok {
        return Err(AwsError::sns_invalid(
            "Endpoint must match the specified protocol",
        ));
    }
    if topic.fifo && protocol != "sqs" {
        return Err(AwsError::sns_invalid(format!(
            "Invalid parameter: Endpoint Reason: FIFO topics support only SQS subscriptions, not {protocol}"
        )));
    }
    Ok(())
}

impl SnsService {
    fn subscription(
        &self,
        ctx: &RequestContext,
        arn: Option<&str>,
    ) -> AwsResult<Arc<Subscription>> {
        let parsed = parse_arn("SubscriptionArn", arn, ctx)?;
        if parsed.id.is_none() {
            return Err(AwsError::sns_invalid("SubscriptionId"));
        }
        let sub = self
            .subscriptions
            .read()
            .get(arn.unwrap_or_default())
            .cloned()
            .ok_or_else(|| AwsError::sns_not_found("Subscription"))?;
        // `--auth sigv4`: a subscription of another account's topic is that topic's business.
        if ctx.authenticated {
            let topic = self.topics.read().get(&sub.topic_arn).cloned();
            if let Some(topic) = topic {
                self.authorize(ctx, &topic)?;
            }
        }
        Ok(sub)
    }

    pub fn subscribe(
        &self,
        ctx: &RequestContext,
        input: SubscribeInput,
    ) -> AwsResult<SubscriptionArnOutput> {
        let topic = self.topic(ctx, "TopicArn", input.topic_arn.as_deref())?;
        let protocol = input.protocol.unwrap_or_default();
        if !PROTOCOLS.contains(&protocol.as_str()) {
            return Err(AwsError::sns_invalid(format!(
                "Amazon SNS does not support this protocol string: {protocol}"
            )));
        }
        let endpoint = input.endpoint.unwrap_or_default();
        check_endpoint(&protocol, &endpoint, &topic)?;
        let mut state = SubscriptionState::default();
        // Scope first, so a policy is compiled for the scope it is meant for.
        let mut names: Vec<&String> = input.attributes.keys().collect();
        names.sort_by_key(|n| *n != "FilterPolicyScope");
        for name in names {
            if !SETTABLE.contains(&name.as_str()) {
                return Err(AwsError::sns_invalid(format!(
                    "Attributes Reason: Unknown attribute: {name}"
                )));
            }
            state
                .apply(name, &input.attributes[name])
                .map_err(|e| AwsError::sns_invalid(format!("Attributes Reason: {e}")))?;
        }

        check_dead_letter_kind(&topic.arn, &endpoint, &state)?;
        // Counted before the topic's lock is taken (lock order); only a new subscription is
        // refused. Counting is only needed once there are that many subscriptions in all.
        let at_cap = {
            let max = self.limits.max_subscriptions;
            let subscriptions = self.subscriptions.read();
            subscriptions.len() >= max && {
                let prefix = format!("arn:aws:sns:{}:{}:", topic.region, topic.account);
                super::topics::count_prefixed(&subscriptions, &prefix) >= max
            }
        };
        let mut topic_state = topic.state.lock();
        if let Some(existing) = topic_state
            .subscriptions
            .iter()
            .find(|s| s.protocol == protocol && s.endpoint == endpoint)
        {
            let current = existing.state.lock();
            // Idempotent when each supplied attribute equals the effective value (AWS-recorded).
            let differs = |name: &str, value: &str| {
                let effective = current.attributes.get(name).map(String::as_str);
                match name {
                    "RawMessageDelivery" => {
                        !value.eq_ignore_ascii_case(effective.unwrap_or("false"))
                    }
                    "FilterPolicyScope" => value != effective.unwrap_or("MessageAttributes"),
                    _ => effective != Some(value),
                }
            };
            if input.attributes.iter().any(|(k, v)| differs(k, v)) {
                return Err(AwsError::sns_invalid(
                    "Attributes Reason: Subscription already exists with different attributes",
                ));
            }
            let pending = !current.confirmed && !input.return_subscription_arn;
            let arn = if pending {
                "pending confirmation".to_string()
            } else {
                existing.arn.clone()
            };
            return Ok(SubscriptionArnOutput {
                subscription_arn: arn,
            });
        }
        // Only new subscriptions: one to an endpoint deleted since is still returned above.
        if protocol == "application" {
            self.check_subscribable_endpoint(&endpoint)?;
        }
        if at_cap {
            return Err(AwsError::new(
                &codes::SUBSCRIPTION_LIMIT_EXCEEDED,
                "Subscription limit exceeded",
            ));
        }
        let needs_confirmation =
            matches!(protocol.as_str(), "http" | "https" | "email" | "email-json");
        state.confirmed = !needs_confirmation;
        state.token = new_token();
        let subscription = Arc::new(Subscription {
            arn: format!("{}:{}", topic.arn, uuid::Uuid::new_v4()),
            topic_arn: topic.arn.clone(),
            protocol: protocol.clone(),
            endpoint,
            owner: ctx.account.clone(),
            state: Mutex::new(state),
        });
        let mut list = (*topic_state.subscriptions).clone();
        list.push(subscription.clone());
        topic_state.subscriptions = Arc::new(list);
        drop(topic_state);
        self.persist_subscription(ctx, &subscription, &subscription.state.lock());
        self.subscriptions
            .write()
            .insert(subscription.arn.clone(), subscription.clone());
        tracing::debug!(subscription = %subscription.arn, %protocol, "subscribed");

        if needs_confirmation {
            self.send_confirmation(ctx, &topic, &subscription, Kind::SubscriptionConfirmation);
        }
        let arn = if needs_confirmation && !input.return_subscription_arn {
            "pending confirmation".to_string()
        } else {
            subscription.arn.clone()
        };
        Ok(SubscriptionArnOutput {
            subscription_arn: arn,
        })
    }

    pub fn confirm_subscription(
        &self,
        ctx: &RequestContext,
        input: ConfirmSubscriptionInput,
    ) -> AwsResult<SubscriptionArnOutput> {
        // The token is checked before the topic: an unknown token is `Invalid parameter: Token`
        // even for a topic that does not exist (AWS-recorded).
        let token = input.token.unwrap_or_default();
        let known = !token.is_empty()
            && self
                .subscriptions
                .read()
                .values()
                .any(|s| s.state.lock().token == token);
        if !known {
            return Err(AwsError::sns_invalid("Token"));
        }
        let topic = self.topic(ctx, "TopicArn", input.topic_arn.as_deref())?;
        let subs = topic.state.lock().subscriptions.clone();
        for sub in subs.iter() {
            let mut state = sub.state.lock();
            if !token.is_empty() && state.token == token {
                state.confirmed = true;
                self.persist_subscription(ctx, sub, &state);
                return Ok(SubscriptionArnOutput {
                    subscription_arn: sub.arn.clone(),
                });
            }
        }
        Err(AwsError::sns_invalid("Token"))
    }

    pub fn unsubscribe(
        &self,
        ctx: &RequestContext,
        input: SubscriptionArnInput,
    ) -> AwsResult<Empty> {
        // A well-formed ARN of a subscription that is gone is not an error (AWS-recorded).
        let sub = match self.subscription(ctx, input.subscription_arn.as_deref()) {
            Ok(sub) => sub,
            Err(e) if e.code == &crate::error::codes::SNS_NOT_FOUND => return Ok(Empty {}),
            Err(e) => return Err(e),
        };
        self.subscriptions.write().remove(&sub.arn);
        self.forget_subscription(ctx, &sub.arn);
        let topic = self.topics.read().get(&sub.topic_arn).cloned();
        if let Some(topic) = topic {
            {
                let mut state = topic.state.lock();
                let list: Vec<_> = state
                    .subscriptions
                    .iter()
                    .filter(|s| s.arn != sub.arn)
                    .cloned()
                    .collect();
                state.subscriptions = Arc::new(list);
                state.deleted_subscriptions += 1;
                self.persist_topic(ctx, &topic, &state);
            }
            if matches!(sub.protocol.as_str(), "http" | "https") {
                self.send_confirmation(ctx, &topic, &sub, Kind::UnsubscribeConfirmation);
            }
        }
        Ok(Empty {})
    }

    pub fn list_subscriptions(
        &self,
        ctx: &RequestContext,
        input: NextTokenInput,
    ) -> AwsResult<ListSubscriptionsOutput> {
        let prefix = format!("arn:aws:sns:{}:{}:", ctx.region, ctx.account);
        let subs = self.subscriptions.read();
        page_of(
            subs.values().filter(|s| s.arn.starts_with(&prefix)),
            input.next_token.as_deref(),
        )
    }

    pub fn list_subscriptions_by_topic(
        &self,
        ctx: &RequestContext,
        input: ListSubscriptionsByTopicInput,
    ) -> AwsResult<ListSubscriptionsOutput> {
        let topic = self.topic(ctx, "TopicArn", input.topic_arn.as_deref())?;
        let mut subs: Vec<Arc<Subscription>> =
            topic.state.lock().subscriptions.iter().cloned().collect();
        subs.sort_by(|a, b| a.arn.cmp(&b.arn));
        page_of(subs.iter(), input.next_token.as_deref())
    }

    pub fn get_subscription_attributes(
        &self,
        ctx: &RequestContext,
        input: SubscriptionArnInput,
    ) -> AwsResult<AttributesOutput> {
        let sub = self.subscription(ctx, input.subscription_arn.as_deref())?;
        let state = sub.state.lock();
        let mut out = state.attributes.clone();
        // The scope is kept, but AWS shows it only alongside a filter policy.
        if !out.contains_key("FilterPolicy") {
            out.remove("FilterPolicyScope");
        }
        out.insert(
            "ConfirmationWasAuthenticated".into(),
            state.confirmed.to_string(),
        );
        out.insert("Endpoint".into(), sub.endpoint.clone());
        out.insert("Owner".into(), sub.owner.clone());
        out.insert("PendingConfirmation".into(), (!state.confirmed).to_string());
        out.insert("Protocol".into(), sub.protocol.clone());
        out.entry("RawMessageDelivery".into())
            .or_insert_with(|| "false".into());
        out.insert("SubscriptionArn".into(), sub.arn.clone());
        out.insert(
            "SubscriptionPrincipal".into(),
            format!("arn:aws:iam::{}:user/lyrebird", sub.owner),
        );
        out.insert("TopicArn".into(), sub.topic_arn.clone());
        if matches!(sub.protocol.as_str(), "http" | "https") {
            let effective = state
                .attributes
                .get("DeliveryPolicy")
                .cloned()
                .unwrap_or_else(super::topics::default_delivery_policy);
            out.insert("EffectiveDeliveryPolicy".into(), effective);
        }
        Ok(AttributesOutput { attributes: out })
    }

    pub fn set_subscription_attributes(
        &self,
        ctx: &RequestContext,
        input: SetAttributeInput,
    ) -> AwsResult<Empty> {
        let sub = self.subscription(ctx, input.arn.as_deref())?;
        let name = input.attribute_name.unwrap_or_default();
        if !SETTABLE.contains(&name.as_str()) {
            return Err(AwsError::sns_invalid("AttributeName"));
        }
        let value = input.attribute_value.unwrap_or_default();
        let mut state = sub.state.lock();
        let mut next = state.clone();
        next.apply(&name, &value).map_err(AwsError::sns_invalid)?;
        check_dead_letter_kind(&sub.topic_arn, &sub.endpoint, &next)?;
        *state = next;
        self.persist_subscription(ctx, &sub, &state);
        Ok(Empty {})
    }
}

/// One page (100) of subscriptions after `token`, in ARN order.
fn page_of<'a>(
    subs: impl Iterator<Item = &'a Arc<Subscription>>,
    token: Option<&str>,
) -> AwsResult<ListSubscriptionsOutput> {
    let after = match token.filter(|t| !t.is_empty()) {
        Some(t) => Some(decode_token(t)?),
        None => None,
    };
    let mut rest = subs.filter(|s| after.as_deref().is_none_or(|a| s.arn.as_str() > a));
    let page: Vec<&Arc<Subscription>> = rest.by_ref().take(PAGE_SIZE).collect();
    // Tokens carry the real ARN of the last row, even when it shows as PendingConfirmation.
    let next_token = rest.next().and(page.last()).map(|s| encode_token(&s.arn));
    let page = page
        .into_iter()
        .map(|s| SubscriptionSummary {
            subscription_arn: if s.is_confirmed() {
                s.arn.clone()
            } else {
                "PendingConfirmation".into()
            },
            owner: s.owner.clone(),
            protocol: s.protocol.clone(),
            endpoint: s.endpoint.clone(),
            topic_arn: s.topic_arn.clone(),
        })
        .collect();
    Ok(ListSubscriptionsOutput {
        subscriptions: page,
        next_token,
    })
}
