//! `AWS::Events::EventBus`, `AWS::Events::Rule` (with its targets: input transformers, retry
//! policies, dead-letter queues…) and `AWS::Events::Archive`, provisioned through the
//! EventBridge operations.

use std::collections::BTreeMap;

use crate::events::model as eb;
use crate::template::parse::Value;

use super::props::{blame, tag_changes, Applied, Failure, Props, Type};
use super::provisioner::{Outcome, Physical, Provisioner};

pub(super) const BUS_PROPERTIES: &[(&str, Type)] = &[
    ("DeadLetterConfig", Type::Other),
    ("Description", Type::String),
    ("EventSourceName", Type::String),
    ("KmsKeyIdentifier", Type::String),
    ("Name", Type::String),
    ("Policy", Type::Json),
    ("Tags", Type::Tags),
];

pub(super) const RULE_PROPERTIES: &[(&str, Type)] = &[
    ("Description", Type::String),
    ("EventBusName", Type::String),
    ("EventPattern", Type::Json),
    ("Name", Type::String),
    ("RoleArn", Type::String),
    ("ScheduleExpression", Type::String),
    ("State", Type::String),
    ("Targets", Type::Other),
];

pub(super) const ARCHIVE_PROPERTIES: &[(&str, Type)] = &[
    ("ArchiveName", Type::String),
    ("Description", Type::String),
    ("EventPattern", Type::Json),
    ("RetentionDays", Type::Integer),
    ("SourceArn", Type::String),
];

fn json_of(props: &Props, name: &str) -> Option<serde_json::Value> {
    props.get(name).map(Value::to_json)
}

impl Provisioner<'_> {
    pub(super) fn event_bus(&self, props: &Props) -> Applied<Physical> {
        let name = props.required("Name")?;
        let description = props.text("Description", Type::String)?;
        let named = || eb::NameInput {
            name: Some(name.clone()),
        };
        let dead_letter = json_of(props, "DeadLetterConfig");
        let kms = props.text("KmsKeyIdentifier", Type::String)?;
        let fail = |op: &str, e| blame(op, e, &["Name", "Description", "Policy"], "Name");
        let arn = match self.events.describe_event_bus(&self.ctx, named()) {
            Err(_) => {
                self.note(Outcome::Created);
                self.events
                    .create_event_bus(
                        &self.ctx,
                        eb::CreateEventBusInput {
                            name: Some(name.clone()),
                            event_source_name: props.text("EventSourceName", Type::String)?,
                            description: description.clone(),
                            kms_key_identifier: kms.clone(),
                            dead_letter_config: dead_letter.clone(),
                            tags: None,
                        },
                    )
                    .map_err(|e| fail("CreateEventBus", e))?
                    .event_bus_arn
            }
            Ok(current) => {
                if current.description != description
                    || current.kms_key_identifier != kms
                    || current.dead_letter_config != dead_letter
                {
                    self.note(Outcome::Updated);
                    self.events
                        .update_event_bus(
                            &self.ctx,
                            eb::UpdateEventBusInput {
                                name: Some(name.clone()),
                                description: description.clone(),
                                kms_key_identifier: kms.clone(),
                                dead_letter_config: dead_letter.clone(),
                            },
                        )
                        .map_err(|e| fail("UpdateEventBus", e))?;
                }
                current.arn
            }
        };
        if let Some(policy) = props.text("Policy", Type::Json)? {
            let current = self
                .events
                .describe_event_bus(&self.ctx, named())
                .ok()
                .and_then(|d| d.policy);
            if !current.is_some_and(|c| super::props::same(&c, &policy)) {
                self.note(Outcome::Updated);
                self.events
                    .put_permission(
                        &self.ctx,
                        eb::PutPermissionInput {
                            event_bus_name: Some(name.clone()),
                            policy: Some(policy),
                            ..Default::default()
                        },
                    )
                    .map_err(|e| fail("PutPermission", e))?;
            }
        }
        self.converge_event_tags(&arn, props.tags()?)?;
        let mut attributes = BTreeMap::new();
        attributes.insert("Arn", arn);
        attributes.insert("Name", name.clone());
        Ok(Physical {
            reference: name,
            attributes,
        })
    }

    fn converge_event_tags(&self, arn: &str, wanted: BTreeMap<String, String>) -> Applied<()> {
        let current: BTreeMap<String, String> = self
            .events
            .list_tags_for_resource(
                &self.ctx,
                eb::ResourceInput {
                    resource_arn: Some(arn.to_string()),
                },
            )
            .map(|t| t.tags.into_iter().map(|t| (t.key, t.value)).collect())
            .unwrap_or_default();
        let (stale, changed) = tag_changes(&current, wanted);
        let fail = |op: &str, e| blame(op, e, &["Tags"], "Tags");
        if !stale.is_empty() {
            self.note(Outcome::Updated);
            self.events
                .untag_resource(
                    &self.ctx,
                    eb::UntagResourceInput {
                        resource_arn: Some(arn.to_string()),
                        tag_keys: Some(stale),
                    },
                )
                .map_err(|e| fail("UntagResource", e))?;
        }
        if !changed.is_empty() {
            self.note(Outcome::Updated);
            self.events
                .tag_resource(
                    &self.ctx,
                    eb::TagResourceInput {
                        resource_arn: Some(arn.to_string()),
                        tags: Some(
                            changed
                                .into_iter()
                                .map(|(key, value)| eb::Tag { key, value })
                                .collect(),
                        ),
                    },
                )
                .map_err(|e| fail("TagResource", e))?;
        }
        Ok(())
    }

    pub(super) fn event_rule(&self, id: &str, props: &Props) -> Applied<Physical> {
        // Every account has a `default` bus; the API creates it on first use, and templates
        // call the service directly, before any request.
        self.events
            .ensure_default_bus(&self.ctx, &self.ctx.account, &self.ctx.region);
        let name = match props.text("Name", Type::String)? {
            Some(n) => n,
            None => self.generated_name(id, 64, false),
        };
        // EventBusName may be a name or an ARN (`!GetAtt Bus.Arn`).
        let bus = props.text("EventBusName", Type::String)?;
        let bus_name = bus
            .as_deref()
            .map(|b| b.rsplit("event-bus/").next().unwrap_or(b).to_string())
            .unwrap_or_else(|| "default".into());
        let wanted = eb::DescribeRuleOutput {
            name: name.clone(),
            event_pattern: props.text("EventPattern", Type::Json)?,
            schedule_expression: props.text("ScheduleExpression", Type::String)?,
            state: props
                .text("State", Type::String)?
                .unwrap_or_else(|| "ENABLED".into()),
            description: props.text("Description", Type::String)?,
            role_arn: props.text("RoleArn", Type::String)?,
            ..Default::default()
        };
        let candidates = [
            "EventPattern",
            "ScheduleExpression",
            "State",
            "EventBusName",
            "Name",
            "Description",
        ];
        let fail = |op: &str, e: crate::error::AwsError| {
            let fallback = if e.code == &crate::error::codes::INVALID_EVENT_PATTERN {
                "EventPattern"
            } else {
                "Name"
            };
            blame(op, e, &candidates, fallback)
        };
        let current = self.events.describe_rule(
            &self.ctx,
            eb::RuleInput {
                name: Some(name.clone()),
                event_bus_name: bus.clone(),
                force: false,
            },
        );
        let differs = |c: &eb::DescribeRuleOutput| {
            let same_pattern = match (&c.event_pattern, &wanted.event_pattern) {
                (Some(a), Some(b)) => super::props::same(a, b),
                (a, b) => a == b,
            };
            !same_pattern
                || c.schedule_expression != wanted.schedule_expression
                || c.state != wanted.state
                || c.description != wanted.description
                || c.role_arn != wanted.role_arn
        };
        let arn = match current {
            Ok(c) if !differs(&c) => c.arn,
            current => {
                self.note(if current.is_ok() {
                    Outcome::Updated
                } else {
                    Outcome::Created
                });
                self.events
                    .put_rule(
                        &self.ctx,
                        eb::PutRuleInput {
                            name: Some(name.clone()),
                            schedule_expression: wanted.schedule_expression.clone(),
                            event_pattern: wanted.event_pattern.clone(),
                            state: Some(wanted.state.clone()),
                            description: wanted.description.clone(),
                            role_arn: wanted.role_arn.clone(),
                            tags: None,
                            event_bus_name: bus.clone(),
                        },
                    )
                    .map_err(|e| fail("PutRule", e))?
                    .rule_arn
            }
        };
        self.converge_targets(&name, bus.as_deref(), props)?;
        let mut attributes = BTreeMap::new();
        attributes.insert("Arn", arn);
        // CloudFormation's Ref of a rule on a custom bus is `bus|rule`.
        let reference = if bus_name == "default" {
            name
        } else {
            format!("{bus_name}|{name}")
        };
        Ok(Physical {
            reference,
            attributes,
        })
    }

    /// Makes the rule's targets exactly the template's.
    fn converge_targets(&self, rule: &str, bus: Option<&str>, props: &Props) -> Applied<()> {
        let wanted: Vec<serde_json::Value> = match props.get("Targets") {
            None => Vec::new(),
            Some(Value::List(items)) => items.iter().map(Value::to_json).collect(),
            Some(other) => {
                return Err(Failure::property(
                    "Targets",
                    format!("must be a list, not {}", other.kind()),
                ))
            }
        };
        let fail = |op: &str, e| blame(op, e, &["Targets"], "Targets");
        let current: Vec<serde_json::Value> = self
            .events
            .list_targets_by_rule(
                &self.ctx,
                eb::ListTargetsByRuleInput {
                    rule: Some(rule.to_string()),
                    event_bus_name: bus.map(str::to_string),
                    next_token: None,
                    limit: None,
                },
            )
            .map_err(|e| fail("ListTargetsByRule", e))?
            .targets
            .iter()
            .filter_map(|t| serde_json::to_value(t).ok())
            .collect();
        // Compare as stored: the template's values read back through the target type.
        let normalised: Vec<serde_json::Value> = wanted
            .iter()
            .filter_map(|t| serde_json::from_value::<eb::Target>(t.clone()).ok())
            .filter_map(|t| serde_json::to_value(t).ok())
            .collect();
        if normalised == current && normalised.len() == wanted.len() {
            return Ok(());
        }
        self.note(Outcome::Updated);
        let stale: Vec<String> = current
            .iter()
            .filter_map(|t| t.get("Id")?.as_str().map(str::to_string))
            .collect();
        if !stale.is_empty() {
            self.events
                .remove_targets(
                    &self.ctx,
                    eb::RemoveTargetsInput {
                        rule: Some(rule.to_string()),
                        event_bus_name: bus.map(str::to_string),
                        ids: Some(stale),
                        force: false,
                    },
                )
                .map_err(|e| fail("RemoveTargets", e))?;
        }
        if !wanted.is_empty() {
            self.events
                .put_targets(
                    &self.ctx,
                    eb::PutTargetsInput {
                        rule: Some(rule.to_string()),
                        event_bus_name: bus.map(str::to_string),
                        targets: Some(wanted),
                    },
                )
                .map_err(|e| fail("PutTargets", e))?;
        }
        Ok(())
    }

    pub(super) fn event_archive(&self, id: &str, props: &Props) -> Applied<Physical> {
        let name = match props.text("ArchiveName", Type::String)? {
            Some(n) => n,
            None => self.generated_name(id, 48, false),
        };
        let source = props.required("SourceArn")?;
        let pattern = props.text("EventPattern", Type::Json)?;
        let description = props.text("Description", Type::String)?;
        let retention = props
            .text("RetentionDays", Type::Integer)?
            .and_then(|d| d.parse::<i64>().ok());
        let fail = |op: &str, e: crate::error::AwsError| {
            let fallback = if e.code == &crate::error::codes::INVALID_EVENT_PATTERN {
                "EventPattern"
            } else {
                "ArchiveName"
            };
            blame(
                op,
                e,
                &["SourceArn", "EventPattern", "RetentionDays", "ArchiveName"],
                fallback,
            )
        };
        let input = || eb::ArchiveInput {
            archive_name: Some(name.clone()),
            event_source_arn: Some(source.clone()),
            description: description.clone(),
            event_pattern: pattern.clone(),
            retention_days: retention,
        };
        let current = self.events.describe_archive(
            &self.ctx,
            eb::ArchiveNameInput {
                archive_name: Some(name.clone()),
            },
        );
        let arn = match current {
            Err(_) => {
                self.note(Outcome::Created);
                self.events
                    .create_archive(&self.ctx, input())
                    .map_err(|e| fail("CreateArchive", e))?
                    .archive_arn
            }
            Ok(c) => {
                let same_pattern = match (&c.event_pattern, &pattern) {
                    (Some(a), Some(b)) => super::props::same(a, b),
                    (a, b) => a == b,
                };
                if !same_pattern
                    || c.description != description
                    || c.retention_days != retention.unwrap_or(0)
                {
                    self.note(Outcome::Updated);
                    self.events
                        .update_archive(&self.ctx, input())
                        .map_err(|e| fail("UpdateArchive", e))?;
                }
                c.archive_arn.unwrap_or_default()
            }
        };
        let mut attributes = BTreeMap::new();
        attributes.insert("Arn", arn);
        Ok(Physical {
            reference: name,
            attributes,
        })
    }
}
