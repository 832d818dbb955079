//! The resource types lyrebird provisions: each CloudFormation property mapped onto the SQS,
//! SNS, EventBridge or Lambda setting it sets, applied through the services' own operations so every check and error
//! of the API applies to templates too.
//!
//! Applying is converging: a missing resource is created; an existing one gets exactly the
//! attributes and tags that differ from the template (a property left out means its default),
//! so re-applying an unchanged template changes nothing.
//!
//! `props.rs` reads properties by their CloudFormation types and blames failures on them;
//! `provisioner.rs` holds what one template's application works with; `sqs.rs`, `sns.rs`,
//! `events.rs`, `lambda.rs` provision each service's resource types. Unit tests are in
//! `tests.rs`.

mod event_invoke;
mod event_sources;
mod events;
mod lambda;
mod props;
mod provisioner;
mod sns;
mod sqs;
#[cfg(test)]
mod tests;

use crate::template::parse::{Map, Value};

use props::{Applied, Props, Type};

pub use lambda::template_dir;
pub use props::Failure;
pub use provisioner::{Outcome, Physical, Provisioner};

/// A resource type lyrebird provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Queue,
    QueuePolicy,
    Topic,
    TopicPolicy,
    Subscription,
    EventBus,
    EventRule,
    EventArchive,
    /// `AWS::Serverless::Function` and `AWS::Lambda::Function`.
    Function,
    Permission,
    EventSourceMapping,
    EventInvokeConfig,
}

impl Kind {
    pub fn of(type_name: &str) -> Option<Kind> {
        Some(match type_name {
            "AWS::SQS::Queue" => Kind::Queue,
            "AWS::SQS::QueuePolicy" => Kind::QueuePolicy,
            "AWS::SNS::Topic" => Kind::Topic,
            "AWS::SNS::TopicPolicy" => Kind::TopicPolicy,
            "AWS::SNS::Subscription" => Kind::Subscription,
            "AWS::Events::EventBus" => Kind::EventBus,
            "AWS::Events::Rule" => Kind::EventRule,
            "AWS::Events::Archive" => Kind::EventArchive,
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => Kind::Function,
            "AWS::Lambda::Permission" => Kind::Permission,
            "AWS::Lambda::EventSourceMapping" => Kind::EventSourceMapping,
            "AWS::Lambda::EventInvokeConfig" => Kind::EventInvokeConfig,
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
            Kind::EventBus => &["Arn", "Name"],
            Kind::EventRule | Kind::EventArchive => &["Arn"],
            Kind::Function => &["Arn"],
            Kind::Permission | Kind::EventInvokeConfig => &[],
            Kind::EventSourceMapping => &["EventSourceMappingArn", "Id"],
        }
    }

    fn properties(self) -> &'static [(&'static str, Type)] {
        match self {
            Kind::Queue => sqs::QUEUE_PROPERTIES,
            Kind::QueuePolicy => sqs::QUEUE_POLICY_PROPERTIES,
            Kind::Topic => sns::TOPIC_PROPERTIES,
            Kind::TopicPolicy => sns::TOPIC_POLICY_PROPERTIES,
            Kind::Subscription => sns::SUBSCRIPTION_PROPERTIES,
            Kind::EventBus => events::BUS_PROPERTIES,
            Kind::EventRule => events::RULE_PROPERTIES,
            Kind::EventArchive => events::ARCHIVE_PROPERTIES,
            Kind::Function => lambda::LAMBDA_FUNCTION_PROPERTIES,
            Kind::Permission => lambda::PERMISSION_PROPERTIES,
            Kind::EventSourceMapping => event_sources::EVENT_SOURCE_MAPPING_PROPERTIES,
            Kind::EventInvokeConfig => event_invoke::EVENT_INVOKE_CONFIG_PROPERTIES,
        }
    }
}

/// The logical ids (and `Fn::GetAtt` attributes) of the resources SAM's transform generates for
/// an `AWS::Serverless::Function` `id`, as its documentation names them: `{id}Role` when no
/// `Role` is given; per event `{id}{event}` (the mapping, subscription or rule) and, for SNS and
/// EventBridge events, `{id}{event}Permission`; an SNS event with `SqsSubscription` has
/// `{id}{event}Queue` (unless `QueueArn` is given), `{id}{event}QueuePolicy` (or its
/// `QueuePolicyLogicalId`) and `{id}{event}EventSourceMapping` instead of the permission.
pub fn sam_generated(id: &str, properties: &Map) -> Vec<(String, &'static [&'static str])> {
    let mut out: Vec<(String, &'static [&'static str])> = Vec::new();
    if properties.get("Role").is_none() {
        out.push((format!("{id}Role"), &["Arn", "RoleId"]));
    }
    let Some(events) = properties.get("Events").and_then(|e| e.as_map()) else {
        return out;
    };
    for (name, event) in events.iter() {
        let kind = event
            .as_map()
            .and_then(|e| e.get("Type"))
            .and_then(|t| t.as_str());
        let base = format!("{id}{name}");
        match kind {
            Some("SQS") => out.push((base, Kind::EventSourceMapping.attributes())),
            Some("SNS") => {
                out.push((base.clone(), Kind::Subscription.attributes()));
                let through_queue = event
                    .as_map()
                    .and_then(|e| e.get("Properties"))
                    .and_then(|p| p.as_map())
                    .and_then(|p| p.get("SqsSubscription"));
                let through_queue = match through_queue {
                    Some(Value::String(s)) if s == "true" => Some(&Value::Bool(true)),
                    other => other,
                };
                match through_queue {
                    Some(Value::Bool(true) | Value::Map(_)) => {
                        let given = through_queue.and_then(|v| v.as_map());
                        if given.and_then(|m| m.get("QueueArn")).is_none() {
                            out.push((format!("{base}Queue"), Kind::Queue.attributes()));
                        }
                        let policy = given
                            .and_then(|m| m.get("QueuePolicyLogicalId"))
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{base}QueuePolicy"));
                        out.push((policy, Kind::QueuePolicy.attributes()));
                        out.push((
                            format!("{base}EventSourceMapping"),
                            Kind::EventSourceMapping.attributes(),
                        ));
                    }
                    _ => out.push((format!("{base}Permission"), &[])),
                }
            }
            Some("EventBridgeRule" | "CloudWatchEvent" | "Schedule") => {
                out.push((base.clone(), Kind::EventRule.attributes()));
                out.push((format!("{base}Permission"), &[]));
            }
            _ => {}
        }
    }
    out
}

impl Provisioner<'_> {
    /// Converges one resource of a type lyrebird provisions with its resolved properties:
    /// what `Ref`/`Fn::GetAtt` of it return, and what that changed.
    pub fn apply(
        &self,
        kind: Kind,
        type_name: &str,
        id: &str,
        properties: &Map,
    ) -> Applied<(Physical, Outcome)> {
        self.outcome.set(Outcome::Unchanged);
        let lenient;
        let (table, properties) = match type_name {
            // SAM's transform drops what it does not know; templates in the wild carry such
            // properties (`ReservedConcurrencyLimit`), so they are ignored with a warning.
            "AWS::Serverless::Function" => {
                lenient = lambda::known_properties_only(id, properties);
                (lambda::SERVERLESS_FUNCTION_PROPERTIES, &lenient)
            }
            _ => (kind.properties(), properties),
        };
        let props = Props::new(table, type_name, properties)?;
        let physical = match kind {
            Kind::Queue => self.queue(id, &props),
            Kind::QueuePolicy => self.queue_policy(id, &props),
            Kind::Topic => self.topic(id, &props),
            Kind::TopicPolicy => self.topic_policy(id, &props),
            Kind::Subscription => self.subscription(&props),
            Kind::EventBus => self.event_bus(&props),
            Kind::EventRule => self.event_rule(id, &props),
            Kind::EventArchive => self.event_archive(id, &props),
            Kind::Function => self.function(type_name, id, &props),
            Kind::Permission => self.permission(id, &props),
            Kind::EventSourceMapping => self.event_source_mapping(&props),
            Kind::EventInvokeConfig => self.event_invoke_config(id, &props),
        }?;
        Ok((physical, self.outcome.get()))
    }
}
