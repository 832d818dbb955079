//! `AWS::SNS::Topic` (with its inline subscriptions), `AWS::SNS::Subscription` and
//! `AWS::SNS::TopicPolicy`, provisioned through the SNS operations.

use std::collections::BTreeMap;

use crate::context::RequestContext;
use crate::error::AwsError;
use crate::sns::model as sns;

use crate::template::parse::Value;

use super::props::{blame, same, tag_changes, Applied, Failure, Props, Type};
use super::provisioner::{Outcome, Physical, Provisioner};

pub(super) const TOPIC_PROPERTIES: &[(&str, Type)] = &[
    ("ArchivePolicy", Type::Json),
    ("ContentBasedDeduplication", Type::Boolean),
    ("DataProtectionPolicy", Type::Json),
    ("DeliveryStatusLogging", Type::Other),
    ("DisplayName", Type::String),
    ("FifoThroughputScope", Type::String),
    ("FifoTopic", Type::Boolean),
    ("KmsMasterKeyId", Type::String),
    ("MaximumMessageSize", Type::Integer),
    ("SignatureVersion", Type::String),
    ("Subscription", Type::Other),
    ("Tags", Type::Tags),
    ("TopicName", Type::String),
    ("TracingConfig", Type::String),
];

pub(super) const TOPIC_POLICY_PROPERTIES: &[(&str, Type)] =
    &[("PolicyDocument", Type::Json), ("Topics", Type::Strings)];

/// Topic attributes a template manages, with the value that stands for "not set".
const TOPIC_ATTRIBUTES: &[(&str, &str)] = &[
    ("ArchivePolicy", ""),
    ("ContentBasedDeduplication", "false"),
    ("DisplayName", ""),
    ("FifoThroughputScope", "Topic"),
    ("KmsMasterKeyId", ""),
    ("MaximumMessageSize", "262144"),
    ("SignatureVersion", "1"),
    ("TracingConfig", "PassThrough"),
];

/// `DeliveryStatusLogging` protocols and the attribute prefix each sets.
const LOGGING_PROTOCOLS: &[(&str, &str)] = &[
    ("http/s", "HTTP"),
    ("sqs", "SQS"),
    ("lambda", "Lambda"),
    ("firehose", "Firehose"),
    ("application", "Application"),
];
const LOGGING_FIELDS: &[&str] = &[
    "SuccessFeedbackRoleArn",
    "FailureFeedbackRoleArn",
    "SuccessFeedbackSampleRate",
];

pub(super) const SUBSCRIPTION_PROPERTIES: &[(&str, Type)] = &[
    ("DeliveryPolicy", Type::Json),
    ("Endpoint", Type::String),
    ("FilterPolicy", Type::Json),
    ("FilterPolicyScope", Type::String),
    ("Protocol", Type::String),
    ("RawMessageDelivery", Type::Boolean),
    ("RedrivePolicy", Type::Json),
    ("Region", Type::String),
    ("ReplayPolicy", Type::Json),
    ("SubscriptionRoleArn", Type::String),
    ("TopicArn", Type::String),
];

/// Subscription attributes a template manages (FilterPolicy and its scope are handled together).
const SUBSCRIPTION_ATTRIBUTES: &[(&str, &str)] = &[
    ("DeliveryPolicy", ""),
    ("RawMessageDelivery", "false"),
    ("RedrivePolicy", ""),
    ("ReplayPolicy", ""),
    ("SubscriptionRoleArn", ""),
];

impl Provisioner<'_> {
    pub(super) fn topic(&self, id: &str, props: &Props) -> Applied<Physical> {
        let fifo = props.text("FifoTopic", Type::Boolean)?.as_deref() == Some("true");
        let name = match props.text("TopicName", Type::String)? {
            Some(name) => name,
            None => self.generated_name(id, 256, fifo),
        };
        let mut wanted = props.attributes(
            TOPIC_PROPERTIES,
            &["TopicName", "FifoTopic", "DataProtectionPolicy"],
        )?;
        wanted.extend(delivery_status_logging(props)?);
        let tags = props.tags()?;
        let data_protection = props.text("DataProtectionPolicy", Type::Json)?;
        let candidates: Vec<&str> = TOPIC_PROPERTIES.iter().map(|(n, _)| *n).collect();
        let arn = format!(
            "arn:aws:sns:{}:{}:{name}",
            self.ctx.region, self.ctx.account
        );
        let current = self.sns.get_topic_attributes(
            &self.ctx,
            sns::TopicArnInput {
                topic_arn: Some(arn.clone()),
            },
        );
        match current {
            Err(_) => {
                let mut attributes = wanted;
                if fifo {
                    attributes.insert("FifoTopic".into(), "true".into());
                }
                self.note(Outcome::Created);
                self.sns
                    .create_topic(
                        &self.ctx,
                        sns::CreateTopicInput {
                            name: Some(name.clone()),
                            attributes,
                            tags: tags.into_iter().collect(),
                            data_protection_policy: data_protection,
                        },
                    )
                    .map_err(|e| blame("CreateTopic", e, &candidates, "TopicName"))?;
            }
            Ok(current) => {
                if current.attributes.contains_key("FifoTopic") != fifo {
                    return Err(Failure::property(
                        "FifoTopic",
                        "the existing topic is of the other type; CloudFormation would replace it: delete the topic first",
                    ));
                }
                self.converge_topic(&arn, &current.attributes, &wanted)?;
                self.converge_topic_tags(&arn, tags)?;
                self.converge_data_protection(&arn, data_protection)?;
            }
        }
        self.inline_subscriptions(&arn, props)?;
        Ok(Physical {
            reference: arn.clone(),
            attributes: BTreeMap::from([("TopicArn", arn), ("TopicName", name)]),
        })
    }

    fn converge_topic(
        &self,
        arn: &str,
        current: &BTreeMap<String, String>,
        wanted: &BTreeMap<String, String>,
    ) -> Applied<()> {
        let logging = LOGGING_PROTOCOLS.iter().flat_map(|(_, prefix)| {
            LOGGING_FIELDS
                .iter()
                .map(move |field| (format!("{prefix}{field}"), ""))
        });
        let managed = TOPIC_ATTRIBUTES
            .iter()
            .map(|(n, unset)| (n.to_string(), *unset))
            .chain(logging);
        for (name, unset) in managed {
            let have = current.get(&name).map_or(unset, String::as_str);
            let want = wanted.get(&name).map_or(unset, String::as_str);
            if same(have, want) {
                continue;
            }
            let property = if name.contains("Feedback") {
                "DeliveryStatusLogging"
            } else {
                &name
            };
            self.note(Outcome::Updated);
            self.sns
                .set_topic_attributes(
                    &self.ctx,
                    sns::SetAttributeInput {
                        arn: Some(arn.to_string()),
                        attribute_name: Some(name.clone()),
                        attribute_value: Some(want.to_string()),
                    },
                )
                .map_err(|e| blame("SetTopicAttributes", e, &[], property))?;
        }
        Ok(())
    }

    fn converge_topic_tags(&self, arn: &str, wanted: BTreeMap<String, String>) -> Applied<()> {
        let fail = |op: &str, e| blame(op, e, &[], "Tags");
        let current: BTreeMap<String, String> = self
            .sns
            .list_tags_for_resource(
                &self.ctx,
                sns::ResourceArnInput {
                    resource_arn: Some(arn.to_string()),
                },
            )
            .map_err(|e| fail("ListTagsForResource", e))?
            .tags
            .into_iter()
            .collect();
        let (stale, changed) = tag_changes(&current, wanted);
        if !stale.is_empty() {
            self.note(Outcome::Updated);
            self.sns
                .untag_resource(
                    &self.ctx,
                    sns::UntagResourceInput {
                        resource_arn: Some(arn.to_string()),
                        tag_keys: stale,
                    },
                )
                .map_err(|e| fail("UntagResource", e))?;
        }
        if !changed.is_empty() {
            self.note(Outcome::Updated);
            self.sns
                .tag_resource(
                    &self.ctx,
                    sns::TagResourceInput {
                        resource_arn: Some(arn.to_string()),
                        tags: changed.into_iter().collect(),
                    },
                )
                .map_err(|e| fail("TagResource", e))?;
        }
        Ok(())
    }

    fn converge_data_protection(&self, arn: &str, wanted: Option<String>) -> Applied<()> {
        let fail = |op: &str, e| blame(op, e, &[], "DataProtectionPolicy");
        let current = self
            .sns
            .get_data_protection_policy(
                &self.ctx,
                sns::ResourceArnInput {
                    resource_arn: Some(arn.to_string()),
                },
            )
            .map_err(|e| fail("GetDataProtectionPolicy", e))?
            .data_protection_policy
            .unwrap_or_default();
        let wanted = wanted.unwrap_or_default();
        if same(&current, &wanted) {
            return Ok(());
        }
        self.note(Outcome::Updated);
        self.sns
            .put_data_protection_policy(
                &self.ctx,
                sns::PutDataProtectionPolicyInput {
                    resource_arn: Some(arn.to_string()),
                    data_protection_policy: Some(wanted),
                },
            )
            .map(drop)
            .map_err(|e| fail("PutDataProtectionPolicy", e))
    }

    /// The topic's `Subscription: [{Endpoint, Protocol}]` list; only ever adds.
    fn inline_subscriptions(&self, topic_arn: &str, props: &Props) -> Applied<()> {
        let Some(value) = props.get("Subscription") else {
            return Ok(());
        };
        let bad = || Failure::property("Subscription", "must be a list of {Endpoint, Protocol}");
        let Value::List(items) = value else {
            return Err(bad());
        };
        for item in items {
            let map = item.as_map().ok_or_else(bad)?;
            let field = |k: &str| map.get(k).and_then(Value::scalar_text).ok_or_else(bad);
            self.subscribe(
                &self.ctx,
                topic_arn,
                &field("Protocol")?,
                &field("Endpoint")?,
            )
            .map_err(|e| blame("Subscribe", e, &[], "Subscription"))?;
        }
        Ok(())
    }

    /// The subscription of `protocol` and `endpoint` to the topic: the existing one, or a new one.
    fn subscribe(
        &self,
        ctx: &RequestContext,
        topic_arn: &str,
        protocol: &str,
        endpoint: &str,
    ) -> Result<String, AwsError> {
        let before = self.subscription_total(ctx, topic_arn);
        let arn = self
            .sns
            .subscribe(
                ctx,
                sns::SubscribeInput {
                    topic_arn: Some(topic_arn.to_string()),
                    protocol: Some(protocol.to_string()),
                    endpoint: Some(endpoint.to_string()),
                    attributes: BTreeMap::new(),
                    return_subscription_arn: true,
                },
            )
            .map(|out| out.subscription_arn)?;
        // Subscribe answers an existing subscription with its ARN: only a new one adds to the
        // topic's count.
        if self.subscription_total(ctx, topic_arn) != before {
            self.note(Outcome::Updated);
        }
        Ok(arn)
    }

    /// How many subscriptions (confirmed or pending) the topic has.
    fn subscription_total(&self, ctx: &RequestContext, topic_arn: &str) -> Option<u64> {
        let attributes = self
            .sns
            .get_topic_attributes(
                ctx,
                sns::TopicArnInput {
                    topic_arn: Some(topic_arn.to_string()),
                },
            )
            .ok()?
            .attributes;
        let count = |name: &str| attributes.get(name).and_then(|v| v.parse::<u64>().ok());
        Some(count("SubscriptionsConfirmed")? + count("SubscriptionsPending")?)
    }

    pub(super) fn subscription(&self, props: &Props) -> Applied<Physical> {
        let topic_arn = props.required("TopicArn")?;
        let protocol = props.required("Protocol")?;
        let endpoint = props.required("Endpoint")?;
        let mut ctx = self.ctx.clone();
        if let Some(region) = props.text("Region", Type::String)? {
            ctx.region = region;
        }
        let wanted = props.attributes(
            SUBSCRIPTION_PROPERTIES,
            &["Endpoint", "Protocol", "Region", "TopicArn"],
        )?;
        let arn = self
            .subscribe(&ctx, &topic_arn, &protocol, &endpoint)
            .map_err(|e| blame("Subscribe", e, &["Endpoint", "Protocol"], "TopicArn"))?;
        if self.outcome.get() == Outcome::Updated {
            // A new subscription, not a change to the topic's.
            self.outcome.set(Outcome::Created);
        }
        self.converge_subscription(&ctx, &arn, &wanted)?;
        Ok(Physical {
            reference: arn.clone(),
            attributes: BTreeMap::from([("Arn", arn)]),
        })
    }

    fn converge_subscription(
        &self,
        ctx: &RequestContext,
        arn: &str,
        wanted: &BTreeMap<String, String>,
    ) -> Applied<()> {
        let current = self
            .sns
            .get_subscription_attributes(
                ctx,
                sns::SubscriptionArnInput {
                    subscription_arn: Some(arn.to_string()),
                },
            )
            .map_err(|e| blame("GetSubscriptionAttributes", e, &[], "TopicArn"))?
            .attributes;
        let set = |name: &str, value: &str| {
            self.sns
                .set_subscription_attributes(
                    ctx,
                    sns::SetAttributeInput {
                        arn: Some(arn.to_string()),
                        attribute_name: Some(name.to_string()),
                        attribute_value: Some(value.to_string()),
                    },
                )
                .map_err(|e| blame("SetSubscriptionAttributes", e, &[], name))
                .map(|_| self.note(Outcome::Updated))
        };
        let value = |map: &BTreeMap<String, String>, name: &str, unset: &'static str| {
            map.get(name).cloned().unwrap_or_else(|| unset.to_string())
        };
        for (name, unset) in SUBSCRIPTION_ATTRIBUTES {
            let want = value(wanted, name, unset);
            if !same(&value(&current, name, unset), &want) {
                set(name, &want)?;
            }
        }
        // A policy is compiled for its scope: when both change, drop the old policy first.
        let scope = "MessageAttributes";
        let (have_scope, want_scope) = (
            value(&current, "FilterPolicyScope", scope),
            value(wanted, "FilterPolicyScope", scope),
        );
        let (have_policy, want_policy) = (
            value(&current, "FilterPolicy", ""),
            value(wanted, "FilterPolicy", ""),
        );
        let policy_changes = !same(&have_policy, &want_policy);
        if have_scope != want_scope {
            if policy_changes && !have_policy.is_empty() {
                set("FilterPolicy", "")?;
            }
            set("FilterPolicyScope", &want_scope)?;
        }
        if policy_changes {
            set("FilterPolicy", &want_policy)?;
        }
        Ok(())
    }

    pub(super) fn topic_policy(&self, id: &str, props: &Props) -> Applied<Physical> {
        let document = props
            .text("PolicyDocument", Type::Json)?
            .ok_or_else(|| Failure::property("PolicyDocument", "is required"))?;
        for arn in props.strings("Topics")? {
            let current = self
                .sns
                .get_topic_attributes(
                    &self.ctx,
                    sns::TopicArnInput {
                        topic_arn: Some(arn.clone()),
                    },
                )
                .map_err(|e| blame("GetTopicAttributes", e, &[], "Topics"))?;
            if current
                .attributes
                .get("Policy")
                .is_some_and(|p| same(p, &document))
            {
                continue;
            }
            self.note(Outcome::Updated);
            self.sns
                .set_topic_attributes(
                    &self.ctx,
                    sns::SetAttributeInput {
                        arn: Some(arn),
                        attribute_name: Some("Policy".into()),
                        attribute_value: Some(document.clone()),
                    },
                )
                .map_err(|e| blame("SetTopicAttributes", e, &["Policy"], "PolicyDocument"))?;
        }
        let physical_id = self.physical_id(id);
        Ok(Physical {
            reference: physical_id.clone(),
            attributes: BTreeMap::from([("Id", physical_id)]),
        })
    }
}

/// `DeliveryStatusLogging: [{Protocol, SuccessFeedbackRoleArn, …}]` → `{Prefix}{Field}` attributes.
pub(super) fn delivery_status_logging(props: &Props) -> Applied<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(value) = props.get("DeliveryStatusLogging") else {
        return Ok(out);
    };
    let property = "DeliveryStatusLogging";
    let Value::List(items) = value else {
        return Err(Failure::property(
            property,
            "must be a list of LoggingConfig",
        ));
    };
    for item in items {
        let map = item
            .as_map()
            .ok_or_else(|| Failure::property(property, "must be a list of LoggingConfig"))?;
        let protocol = map
            .get("Protocol")
            .and_then(Value::scalar_text)
            .ok_or_else(|| Failure::property(property, "each LoggingConfig needs a Protocol"))?;
        let prefix = LOGGING_PROTOCOLS
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(&protocol))
            .map(|(_, prefix)| *prefix)
            .ok_or_else(|| {
                Failure::property(
                    property,
                    format!("Protocol {protocol:?} is not one of http/s, sqs, lambda, firehose, application"),
                )
            })?;
        for (key, field) in map.iter() {
            if key == "Protocol" {
                continue;
            }
            if !LOGGING_FIELDS.contains(&key.as_str()) {
                return Err(Failure::property(
                    property,
                    format!("LoggingConfig has no property {key}"),
                ));
            }
            let text = field
                .scalar_text()
                .ok_or_else(|| Failure::property(property, format!("{key} must be a string")))?;
            out.insert(format!("{prefix}{key}"), text);
        }
    }
    Ok(out)
}
