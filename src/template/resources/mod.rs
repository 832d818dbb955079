//! The resource types lyrebird provisions: each CloudFormation property mapped onto the SQS or
//! SNS attribute it sets, applied through the services' own operations so every check and error
//! of the API applies to templates too.
//!
//! Applying is converging: a missing resource is created; an existing one gets exactly the
//! attributes and tags that differ from the template (a property left out means its default),
//! so re-applying an unchanged template changes nothing.

use std::cell::Cell;
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::context::RequestContext;
use crate::error::AwsError;
use crate::sns::model as sns;
use crate::sns::SnsService;
use crate::sqs::attributes::{self, QueueConfig};
use crate::sqs::model as sqs;
use crate::sqs::SqsService;

use super::parse::{Map, Value};

/// A resource type lyrebird provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Queue,
    QueuePolicy,
    Topic,
    TopicPolicy,
    Subscription,
}

impl Kind {
    pub fn of(type_name: &str) -> Option<Kind> {
        Some(match type_name {
            "AWS::SQS::Queue" => Kind::Queue,
            "AWS::SQS::QueuePolicy" => Kind::QueuePolicy,
            "AWS::SNS::Topic" => Kind::Topic,
            "AWS::SNS::TopicPolicy" => Kind::TopicPolicy,
            "AWS::SNS::Subscription" => Kind::Subscription,
            _ => return None,
        })
    }

    /// The names `Fn::GetAtt` accepts.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            Kind::Queue => &["Arn", "QueueName", "QueueUrl"],
            Kind::Topic => &["TopicArn", "TopicName"],
            Kind::Subscription => &["Arn"],
            Kind::QueuePolicy | Kind::TopicPolicy => &["Id"],
        }
    }

    fn properties(self) -> &'static [(&'static str, Type)] {
        match self {
            Kind::Queue => QUEUE_PROPERTIES,
            Kind::QueuePolicy => &[("PolicyDocument", Type::Json), ("Queues", Type::Strings)],
            Kind::Topic => TOPIC_PROPERTIES,
            Kind::TopicPolicy => &[("PolicyDocument", Type::Json), ("Topics", Type::Strings)],
            Kind::Subscription => SUBSCRIPTION_PROPERTIES,
        }
    }
}

/// CloudFormation property types, as far as they matter for turning a value into API text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    String,
    Integer,
    Boolean,
    /// A JSON document, given as an object or as a string holding one.
    Json,
    Strings,
    /// `[{Key, Value}]`
    Tags,
    /// Structured; read by the resource's own code.
    Other,
}

/// Every `AWS::SQS::Queue` property but QueueName and Tags is the queue attribute of that name.
const QUEUE_PROPERTIES: &[(&str, Type)] = &[
    ("ContentBasedDeduplication", Type::Boolean),
    ("DeduplicationScope", Type::String),
    ("DelaySeconds", Type::Integer),
    ("FifoQueue", Type::Boolean),
    ("FifoThroughputLimit", Type::String),
    ("KmsDataKeyReusePeriodSeconds", Type::Integer),
    ("KmsMasterKeyId", Type::String),
    ("MaximumMessageSize", Type::Integer),
    ("MessageRetentionPeriod", Type::Integer),
    ("QueueName", Type::String),
    ("ReceiveMessageWaitTimeSeconds", Type::Integer),
    ("RedriveAllowPolicy", Type::Json),
    ("RedrivePolicy", Type::Json),
    ("SqsManagedSseEnabled", Type::Boolean),
    ("Tags", Type::Tags),
    ("VisibilityTimeout", Type::Integer),
];

const TOPIC_PROPERTIES: &[(&str, Type)] = &[
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

const SUBSCRIPTION_PROPERTIES: &[(&str, Type)] = &[
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

/// What `Ref` and `Fn::GetAtt` of a provisioned resource return.
#[derive(Debug, Clone)]
pub struct Physical {
    pub reference: String,
    pub attributes: BTreeMap<&'static str, String>,
}

/// Why a resource could not be applied, and which property is to blame when one is.
#[derive(Debug)]
pub struct Failure {
    pub property: Option<String>,
    pub message: String,
}

impl Failure {
    fn property(property: &str, message: impl Into<String>) -> Self {
        Failure {
            property: Some(property.to_string()),
            message: message.into(),
        }
    }
}

type Applied<T> = Result<T, Failure>;

/// An API error, blamed on the first candidate property its message names (or `fallback`).
fn blame(operation: &str, error: AwsError, candidates: &[&str], fallback: &str) -> Failure {
    let lower = error.message.to_ascii_lowercase();
    let property = candidates
        .iter()
        .find(|c| lower.contains(&c.to_ascii_lowercase()))
        .copied()
        .unwrap_or(fallback);
    Failure::property(
        property,
        format!(
            "{operation} failed: {}: {}",
            error.code.query_code, error.message
        ),
    )
}

/// Whether two attribute values mean the same (JSON documents compare as JSON).
fn same(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (
                serde_json::from_str::<serde_json::Value>(a),
                serde_json::from_str::<serde_json::Value>(b),
            ),
            (Ok(x), Ok(y)) if x == y && x.is_object()
        )
}

/// A resource's resolved properties, read by their CloudFormation types.
struct Props<'a> {
    map: &'a Map,
}

impl<'a> Props<'a> {
    /// Rejects properties the type does not have, as CloudFormation does.
    fn new(kind: Kind, type_name: &str, map: &'a Map) -> Applied<Self> {
        for key in map.keys() {
            if !kind.properties().iter().any(|(name, _)| *name == key) {
                return Err(Failure::property(
                    key,
                    format!("{type_name} has no property {key}"),
                ));
            }
        }
        Ok(Props { map })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| **v != Value::Null)
    }

    /// A property as the text its API attribute takes.
    fn text(&self, name: &str, ty: Type) -> Applied<Option<String>> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let wrong = |expected: &str| {
            Err(Failure::property(
                name,
                format!("must be {expected}, not {}", value.kind()),
            ))
        };
        match ty {
            Type::String => match value.scalar_text() {
                Some(s) => Ok(Some(s)),
                None => wrong("a string"),
            },
            Type::Integer => match value.scalar_text() {
                Some(s) if s.trim().parse::<i64>().is_ok() => Ok(Some(s.trim().to_string())),
                Some(s) => Err(Failure::property(
                    name,
                    format!("must be an integer, not {s:?}"),
                )),
                None => wrong("an integer"),
            },
            Type::Boolean => match value.scalar_text().map(|s| s.to_ascii_lowercase()) {
                Some(s) if s == "true" || s == "false" => Ok(Some(s)),
                Some(s) => Err(Failure::property(
                    name,
                    format!("must be true or false, not {s:?}"),
                )),
                None => wrong("true or false"),
            },
            Type::Json => match value {
                Value::Map(_) => Ok(Some(value.to_json().to_string())),
                Value::String(s) => Ok(Some(s.clone())),
                _ => wrong("a JSON object"),
            },
            Type::Strings | Type::Tags | Type::Other => {
                unreachable!("{name} is not a scalar property")
            }
        }
    }

    fn required(&self, name: &str) -> Applied<String> {
        self.text(name, Type::String)?
            .ok_or_else(|| Failure::property(name, "is required"))
    }

    fn strings(&self, name: &str) -> Applied<Vec<String>> {
        match self.get(name) {
            None => Err(Failure::property(name, "is required")),
            Some(Value::List(items)) => items
                .iter()
                .map(|i| {
                    i.scalar_text().ok_or_else(|| {
                        Failure::property(
                            name,
                            format!("must be a list of strings, not {}", i.kind()),
                        )
                    })
                })
                .collect(),
            Some(other) => Err(Failure::property(
                name,
                format!("must be a list, not {}", other.kind()),
            )),
        }
    }

    /// `Tags: [{Key, Value}]`
    fn tags(&self) -> Applied<BTreeMap<String, String>> {
        let mut tags = BTreeMap::new();
        let Some(value) = self.get("Tags") else {
            return Ok(tags);
        };
        let bad = || Failure::property("Tags", "must be a list of {Key, Value}");
        let Value::List(items) = value else {
            return Err(bad());
        };
        for item in items {
            let map = item.as_map().ok_or_else(bad)?;
            let key = map
                .get("Key")
                .and_then(Value::scalar_text)
                .ok_or_else(bad)?;
            let value = map
                .get("Value")
                .and_then(Value::scalar_text)
                .ok_or_else(bad)?;
            tags.insert(key, value);
        }
        Ok(tags)
    }

    /// The API attributes of every scalar property listed in `table`, except `skip`.
    fn attributes(
        &self,
        table: &[(&str, Type)],
        skip: &[&str],
    ) -> Applied<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (name, ty) in table {
            if skip.contains(name) || matches!(ty, Type::Strings | Type::Tags | Type::Other) {
                continue;
            }
            if let Some(text) = self.text(name, *ty)? {
                out.insert(name.to_string(), text);
            }
        }
        Ok(out)
    }
}

/// Applies resources of one template, as its account, region and stack.
pub struct Provisioner<'a> {
    pub sqs: &'a SqsService,
    pub sns: &'a SnsService,
    pub ctx: RequestContext,
    pub stack: String,
    /// What the resource being applied went through so far.
    pub outcome: Cell<Outcome>,
}

/// What applying a resource did to the state, for the summary a re-application logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Outcome {
    #[default]
    Unchanged,
    Updated,
    Created,
}

impl Provisioner<'_> {
    pub fn apply(
        &self,
        kind: Kind,
        type_name: &str,
        id: &str,
        properties: &Map,
    ) -> Applied<(Physical, Outcome)> {
        self.outcome.set(Outcome::Unchanged);
        let props = Props::new(kind, type_name, properties)?;
        let physical = match kind {
            Kind::Queue => self.queue(id, &props),
            Kind::QueuePolicy => self.queue_policy(id, &props),
            Kind::Topic => self.topic(id, &props),
            Kind::TopicPolicy => self.topic_policy(id, &props),
            Kind::Subscription => self.subscription(&props),
        }?;
        Ok((physical, self.outcome.get()))
    }

    /// Records a change made to the resource being applied.
    fn note(&self, outcome: Outcome) {
        self.outcome.set(self.outcome.get().max(outcome));
    }

    /// CloudFormation's `{stack}-{logical id}-{suffix}` for unnamed resources, with a suffix
    /// derived from the stack and id so that every start names the resource the same.
    pub fn generated_name(&self, id: &str, max_len: usize, fifo: bool) -> String {
        let digest = Sha256::digest(
            format!(
                "{}/{}/{}/{id}",
                self.ctx.account, self.ctx.region, self.stack
            )
            .as_bytes(),
        );
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let suffix: String = digest[..12]
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        let tail = format!("-{suffix}{}", if fifo { ".fifo" } else { "" });
        let mut head = format!("{}-{}", clean(&self.stack), clean(id));
        head.truncate(max_len - tail.len());
        head + &tail
    }

    fn physical_id(&self, id: &str) -> String {
        self.generated_name(id, 256, false)
    }

    fn queue(&self, id: &str, props: &Props) -> Applied<Physical> {
        let fifo = props.text("FifoQueue", Type::Boolean)?.as_deref() == Some("true");
        let name = match props.text("QueueName", Type::String)? {
            Some(name) => name,
            None => self.generated_name(id, 80, fifo),
        };
        let wanted = props.attributes(QUEUE_PROPERTIES, &["QueueName"])?;
        let tags = props.tags()?;
        let names: Vec<String> = wanted.keys().cloned().collect();
        let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
        let existing = self.sqs.get_queue_url(
            &self.ctx,
            sqs::GetQueueUrlInput {
                queue_name: Some(name.clone()),
                queue_owner_aws_account_id: None,
            },
        );
        let url = match existing {
            Err(_) => {
                self.note(Outcome::Created);
                let created = self.sqs.create_queue(
                    &self.ctx,
                    sqs::CreateQueueInput {
                        queue_name: Some(name.clone()),
                        attributes: Some(wanted),
                        tags: Some(tags),
                    },
                );
                created
                    .map_err(|e| {
                        let fallback = if e.message.to_ascii_lowercase().contains("tag") {
                            "Tags"
                        } else {
                            "QueueName"
                        };
                        blame("CreateQueue", e, &candidates, fallback)
                    })?
                    .queue_url
            }
            Ok(found) => {
                self.converge_queue(&found.queue_url, fifo, &wanted, &candidates)?;
                self.converge_queue_tags(&found.queue_url, tags)?;
                found.queue_url
            }
        };
        let arn = format!(
            "arn:aws:sqs:{}:{}:{name}",
            self.ctx.region, self.ctx.account
        );
        Ok(Physical {
            reference: url.clone(),
            attributes: BTreeMap::from([("Arn", arn), ("QueueName", name), ("QueueUrl", url)]),
        })
    }

    fn queue_attributes(
        &self,
        url: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, AwsError> {
        let output = self.sqs.get_queue_attributes(
            &self.ctx,
            sqs::GetQueueAttributesInput {
                queue_url: Some(url.to_string()),
                attribute_names: Some(names.iter().map(|n| n.to_string()).collect()),
            },
        )?;
        Ok(output
            .attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect())
    }

    /// Sets the attributes whose value differs from what the template (with defaults) says.
    fn converge_queue(
        &self,
        url: &str,
        fifo: bool,
        wanted: &BTreeMap<String, String>,
        candidates: &[&str],
    ) -> Applied<()> {
        let current = self
            .queue_attributes(url, &["All"])
            .map_err(|e| blame("GetQueueAttributes", e, &[], "QueueName"))?;
        if current.contains_key("FifoQueue") != fifo {
            return Err(Failure::property(
                "FifoQueue",
                "the existing queue is of the other type; CloudFormation would replace it: delete the queue (or the data directory) first",
            ));
        }
        let mut desired = QueueConfig::new(fifo);
        desired
            .apply(wanted, true)
            .map_err(|e| blame("CreateQueue", e, candidates, "QueueName"))?;
        /// Attributes whose absence is set with an empty value.
        const REMOVABLE: &[&str] = &["KmsMasterKeyId", "RedriveAllowPolicy", "RedrivePolicy"];
        let mut changes = BTreeMap::new();
        for &name in attributes::ALL_NAMES {
            if attributes::COMPUTED.contains(&name) || name == "Policy" || name == "FifoQueue" {
                continue;
            }
            let want = desired.get(name);
            if want.as_deref() == current.get(name).map(String::as_str) {
                continue;
            }
            match want {
                Some(value) => changes.insert(name.to_string(), value),
                None if REMOVABLE.contains(&name) => {
                    changes.insert(name.to_string(), String::new())
                }
                None => None,
            };
        }
        if changes.is_empty() {
            return Ok(());
        }
        self.note(Outcome::Updated);
        let candidates: Vec<&str> = changes.keys().map(String::as_str).collect();
        self.sqs
            .set_queue_attributes(
                &self.ctx,
                sqs::SetQueueAttributesInput {
                    queue_url: Some(url.to_string()),
                    attributes: Some(changes.clone()),
                },
            )
            .map(drop)
            .map_err(|e| blame("SetQueueAttributes", e, &candidates, candidates[0]))
    }

    fn converge_queue_tags(&self, url: &str, wanted: BTreeMap<String, String>) -> Applied<()> {
        let fail = |op: &str, e| blame(op, e, &[], "Tags");
        let current = self
            .sqs
            .list_queue_tags(
                &self.ctx,
                sqs::QueueUrlInput {
                    queue_url: Some(url.to_string()),
                },
            )
            .map_err(|e| fail("ListQueueTags", e))?
            .tags;
        let stale: Vec<String> = current
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        if !stale.is_empty() {
            self.note(Outcome::Updated);
            self.sqs
                .untag_queue(
                    &self.ctx,
                    sqs::UntagQueueInput {
                        queue_url: Some(url.to_string()),
                        tag_keys: Some(stale),
                    },
                )
                .map_err(|e| fail("UntagQueue", e))?;
        }
        let changed: BTreeMap<String, String> = wanted
            .into_iter()
            .filter(|(k, v)| current.get(k) != Some(v))
            .collect();
        if !changed.is_empty() {
            self.note(Outcome::Updated);
            self.sqs
                .tag_queue(
                    &self.ctx,
                    sqs::TagQueueInput {
                        queue_url: Some(url.to_string()),
                        tags: Some(changed),
                    },
                )
                .map_err(|e| fail("TagQueue", e))?;
        }
        Ok(())
    }

    fn queue_policy(&self, id: &str, props: &Props) -> Applied<Physical> {
        let document = props
            .text("PolicyDocument", Type::Json)?
            .ok_or_else(|| Failure::property("PolicyDocument", "is required"))?;
        for url in props.strings("Queues")? {
            let current = self
                .queue_attributes(&url, &["Policy"])
                .map_err(|e| blame("GetQueueAttributes", e, &[], "Queues"))?;
            match current.get("Policy") {
                Some(p) if same(p, &document) => continue,
                Some(p) if !p.is_empty() => self.note(Outcome::Updated),
                _ => self.note(Outcome::Created),
            }
            self.sqs
                .set_queue_attributes(
                    &self.ctx,
                    sqs::SetQueueAttributesInput {
                        queue_url: Some(url),
                        attributes: Some(BTreeMap::from([(
                            "Policy".to_string(),
                            document.clone(),
                        )])),
                    },
                )
                .map_err(|e| blame("SetQueueAttributes", e, &["Policy"], "PolicyDocument"))?;
        }
        let physical_id = self.physical_id(id);
        Ok(Physical {
            reference: physical_id.clone(),
            attributes: BTreeMap::from([("Id", physical_id)]),
        })
    }

    fn topic(&self, id: &str, props: &Props) -> Applied<Physical> {
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
        let stale: Vec<String> = current
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
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
        let changed: Vec<(String, String)> = wanted
            .into_iter()
            .filter(|(k, v)| current.get(k) != Some(v))
            .collect();
        if !changed.is_empty() {
            self.note(Outcome::Updated);
            self.sns
                .tag_resource(
                    &self.ctx,
                    sns::TagResourceInput {
                        resource_arn: Some(arn.to_string()),
                        tags: changed,
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

    fn subscription(&self, props: &Props) -> Applied<Physical> {
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

    fn topic_policy(&self, id: &str, props: &Props) -> Applied<Physical> {
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
fn delivery_status_logging(props: &Props) -> Applied<BTreeMap<String, String>> {
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
