//! `AWS::SQS::Queue` and `AWS::SQS::QueuePolicy`, provisioned through the SQS operations.

use std::collections::BTreeMap;

use crate::error::AwsError;
use crate::sqs::attributes::{self, QueueConfig};
use crate::sqs::model as sqs;

use super::props::{blame, same, tag_changes, Applied, Failure, Props, Type};
use super::provisioner::{Outcome, Physical, Provisioner};

/// Every `AWS::SQS::Queue` property but QueueName and Tags is the queue attribute of that name.
pub(super) const QUEUE_PROPERTIES: &[(&str, Type)] = &[
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

pub(super) const QUEUE_POLICY_PROPERTIES: &[(&str, Type)] =
    &[("PolicyDocument", Type::Json), ("Queues", Type::Strings)];

impl Provisioner<'_> {
    pub(super) fn queue(&self, id: &str, props: &Props) -> Applied<Physical> {
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
        let (stale, changed) = tag_changes(&current, wanted);
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

    pub(super) fn queue_policy(&self, id: &str, props: &Props) -> Applied<Physical> {
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
}
