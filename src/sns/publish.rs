//! Publish and PublishBatch: validation as AWS does it, FIFO deduplication and sequencing, then
//! fan-out through `delivery`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::message::{
    attributes_size, check_attributes, check_subject, no_default_entry, structured, Kind, Outgoing,
    Prepared,
};
use super::model::*;
use super::platform::{is_endpoint_arn, PLATFORMS};
use super::topics::Topic;
use super::{parse_arn, SnsService};

type DedupEntry = (u64, String, Option<String>);

const DEDUPLICATION_INTERVAL_MS: u64 = 5 * 60 * 1000;
const MAX_BATCH_ENTRIES: usize = 10;
/// Protocol keys a `MessageStructure=json` message may carry besides `default`.
const STRUCTURE_KEYS: &[&str] = &[
    "sqs",
    "http",
    "https",
    "email",
    "email-json",
    "lambda",
    "sms",
    "application",
    "firehose",
];

/// What FIFO sequencing made of a message.
enum Sequenced {
    /// To deliver; a FIFO topic's deduplication entry (key, (expiry, id, sequence number)) to
    /// store once the deliveries are handed to the store.
    New(Prepared, Option<Box<(String, DedupEntry)>>),
    /// Seen within the deduplication interval: answered with the original, not delivered.
    Duplicate {
        message_id: String,
        sequence_number: Option<String>,
    },
}

impl SnsService {
    pub fn publish(&self, ctx: &RequestContext, input: PublishInput) -> AwsResult<PublishOutput> {
        let targets = [&input.topic_arn, &input.target_arn, &input.phone_number]
            .iter()
            .filter(|t| t.as_deref().is_some_and(|v| !v.is_empty()))
            .count();
        // An empty TopicArn is present, and checked as an ARN (AWS-recorded).
        if targets == 0 && input.topic_arn.as_deref() == Some("") {
            return Err(AwsError::sns_invalid(
                "TopicArn Reason: An ARN must have at least 6 elements, not 1",
            ));
        }
        if targets == 0 {
            return Err(AwsError::sns_invalid(
                "TopicArn or TargetArn Reason: no value for required parameter",
            ));
        }
        if targets > 1 {
            return Err(AwsError::sns_invalid(
                "TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn or PhoneNumber may be specified",
            ));
        }
        if let Some(phone) = input.phone_number.as_deref().filter(|p| !p.is_empty()) {
            return self.publish_sms(ctx, phone, input.fields);
        }
        let (parameter, arn) = match &input.topic_arn {
            Some(a) if !a.is_empty() => ("TopicArn", a.as_str()),
            _ => ("TargetArn", input.target_arn.as_deref().unwrap_or_default()),
        };
        let parsed = parse_arn(parameter, Some(arn), ctx)?;
        if parameter == "TargetArn" && is_endpoint_arn(arn) {
            return self.publish_to_endpoint(ctx, arn, input.fields);
        }
        if parameter == "TargetArn"
            && (parsed.id.is_some() || !self.topics.read().contains_key(arn))
        {
            return Err(AwsError::sns_invalid(
                "TargetArn Reason: No endpoint found for the target arn specified",
            ));
        }
        let topic = self.topic(ctx, parameter, Some(arn))?;
        let prepared = self.prepare(&topic, input.fields, "")?;
        let (message_id, sequence_number) = self.publish_prepared(ctx, &topic, prepared);
        Ok(PublishOutput {
            message_id,
            sequence_number,
        })
    }

    pub fn publish_batch(
        &self,
        ctx: &RequestContext,
        input: PublishBatchInput,
    ) -> AwsResult<PublishBatchOutput> {
        let topic = self.topic(ctx, "TopicArn", input.topic_arn.as_deref())?;
        if input.entries.is_empty() {
            return Err(AwsError::new(
                &codes::SNS_EMPTY_BATCH,
                "The batch request doesn't contain any entries",
            ));
        }
        if input.entries.len() > MAX_BATCH_ENTRIES {
            return Err(AwsError::new(
                &codes::SNS_TOO_MANY_ENTRIES,
                "The batch request contains more entries than permissible.",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for entry in &input.entries {
            let id = entry.id.as_deref().unwrap_or("");
            if id.is_empty()
                || id.len() > 80
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                let detail = if id.len() > 80 {
                    "is too long"
                } else {
                    "contains an impermissible character"
                };
                return Err(AwsError::new(
                    &codes::SNS_INVALID_BATCH_ENTRY_ID,
                    format!("The Id of a batch entry in the batch request {detail}: {id}"),
                ));
            }
            if !seen.insert(id) {
                return Err(AwsError::new(
                    &codes::SNS_BATCH_IDS_NOT_DISTINCT,
                    "Two or more batch entries in the request have the same Id.",
                ));
            }
        }
        let total: usize = input
            .entries
            .iter()
            .map(|e| {
                e.fields.message.as_deref().map_or(0, str::len)
                    + attributes_size(&e.fields.message_attributes)
            })
            .sum();
        if total > topic.max_message_size() {
            return Err(AwsError::new(
                &codes::SNS_BATCH_TOO_LONG,
                "The length of all the messages put together is more than the limit.",
            ));
        }
        if topic.fifo {
            check_fifo_batch(&topic, &input.entries)?;
        }
        let mut output = PublishBatchOutput::default();
        for (index, entry) in input.entries.into_iter().enumerate() {
            let id = entry.id.unwrap_or_default();
            let prefix = format!("publishBatchRequestEntries.{}.member.", index + 1);
            // Invalid message attributes fail the whole call, as on AWS.
            check_attributes(&entry.fields.message_attributes, &prefix)?;
            match self.prepare(&topic, entry.fields, &prefix) {
                Ok(prepared) => {
                    let (message_id, sequence_number) =
                        self.publish_prepared(ctx, &topic, prepared);
                    output.successful.push(PublishBatchResultEntry {
                        id,
                        message_id,
                        sequence_number,
                    });
                }
                Err(e) => output.failed.push(BatchResultErrorEntry {
                    id,
                    code: e.code.query_code.to_string(),
                    sender_fault: e.is_sender_fault(),
                    message: e.message,
                }),
            }
        }
        Ok(output)
    }

    /// Whether a FIFO topic derives deduplication ids from the message.
    fn content_based(topic: &Topic) -> bool {
        topic
            .state
            .lock()
            .attributes
            .get("ContentBasedDeduplication")
            .is_some_and(|v| v == "true")
    }

    /// Checks a message against the topic and AWS's rules.
    fn prepare(
        &self,
        topic: &Topic,
        fields: PublishFields,
        attribute_prefix: &str,
    ) -> AwsResult<Prepared> {
        let message = match fields.message {
            Some(m) if !m.is_empty() => m,
            _ => return Err(AwsError::sns_invalid("Empty message")),
        };
        check_subject(fields.subject.as_deref())?;
        check_attributes(&fields.message_attributes, attribute_prefix)?;
        if message.len() + attributes_size(&fields.message_attributes) > topic.max_message_size() {
            return Err(AwsError::sns_invalid("Message too long"));
        }
        let mut per_protocol = BTreeMap::new();
        let mut default = message.clone();
        match fields.message_structure.as_deref() {
            None | Some("") => {}
            Some("json") => {
                let mut parsed = structured(&message)?;
                default = parsed.remove("default").ok_or_else(no_default_entry)?;
                per_protocol = parsed
                    .into_iter()
                    .filter(|(key, _)| {
                        STRUCTURE_KEYS.contains(&key.as_str()) || PLATFORMS.contains(&key.as_str())
                    })
                    .collect();
            }
            Some(_) => return Err(AwsError::sns_invalid("MessageStructure")),
        }
        let message_structure = fields.message_structure.filter(|s| !s.is_empty());
        let (group_id, deduplication_id) = if topic.fifo {
            let group = match fields.message_group_id {
                Some(g) if !g.is_empty() => g,
                _ => {
                    return Err(missing_group_id());
                }
            };
            check_fifo_id("MessageGroupId", &group)?;
            let content_based = Self::content_based(topic);
            let dedup = match fields.message_deduplication_id {
                Some(d) if !d.is_empty() => {
                    check_fifo_id("MessageDeduplicationId", &d)?;
                    d
                }
                _ if content_based => crate::hex::sha256(default.as_bytes()),
                _ => return Err(missing_deduplication_id()),
            };
            (Some(group), Some(dedup))
        } else {
            if fields.message_deduplication_id.is_some() {
                return Err(AwsError::sns_invalid(
                    "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
                ));
            }
            if let Some(g) = &fields.message_group_id {
                check_fifo_id("MessageGroupId", g)?;
            }
            (fields.message_group_id, None)
        };
        Ok(Prepared {
            message_id: uuid::Uuid::new_v4().to_string(),
            message: default,
            per_protocol,
            message_structure,
            subject: fields.subject,
            attributes: fields.message_attributes,
            group_id,
            deduplication_id,
            sequence_number: None,
            // Reported only (the notification's Timestamp): the wall clock.
            timestamp_ms: self.clock.wall_ms(),
            signatures: Default::default(),
        })
    }

    /// Sequences and delivers one validated message; returns its MessageId and SequenceNumber.
    fn publish_prepared(
        &self,
        ctx: &RequestContext,
        topic: &Arc<Topic>,
        prepared: Prepared,
    ) -> (String, Option<String>) {
        // A FIFO topic sequences and hands over one message at a time: without it, a publish
        // numbered later could reach a queue first, and a duplicate arriving between its
        // original's sequencing and fan-out would be acknowledged before the original's
        // deliveries were even queued for the store.
        let _order = topic.fifo.then(|| topic.publish_order.lock());
        let sequenced = self.sequence(topic, prepared);
        self.deliver_sequenced(ctx, topic, sequenced)
    }

    /// Delivers a new message (then stores its deduplication entry) or answers a duplicate;
    /// returns the MessageId and SequenceNumber to answer with.
    fn deliver_sequenced(
        &self,
        ctx: &RequestContext,
        topic: &Arc<Topic>,
        sequenced: Sequenced,
    ) -> (String, Option<String>) {
        match sequenced {
            Sequenced::New(p, dedup) => {
                self.fan_out(ctx, topic, &p);
                // Stored after the deliveries, and the store keeps submission order: an entry
                // that survives a crash means its deliveries did too, so a repeat after the
                // crash is never answered as a duplicate of a message no queue got.
                if let Some(dedup) = dedup {
                    let (key, entry) = *dedup;
                    self.persist_dedup(ctx, topic, &key, &entry);
                }
                (p.message_id, p.sequence_number)
            }
            Sequenced::Duplicate {
                message_id,
                sequence_number,
            } => {
                // The original's deliveries may still be on their way to the store: answered
                // once they are durable, as the original is.
                ctx.writes.push(self.store.barrier());
                (message_id, sequence_number)
            }
        }
    }

    /// FIFO topics: drops duplicates within five minutes and assigns sequence numbers.
    fn sequence(&self, topic: &Topic, mut prepared: Prepared) -> Sequenced {
        if !topic.fifo {
            return Sequenced::New(prepared, None);
        }
        let now = self.now_ms();
        let mut state = topic.state.lock();
        while state.dedup_expiry.front().is_some_and(|(t, _)| *t <= now) {
            let (expires, key) = state.dedup_expiry.pop_front().expect("checked");
            if state.dedup.get(&key).is_some_and(|(e, _, _)| *e == expires) {
                state.dedup.remove(&key);
                self.forget_dedup(topic, &key);
            }
        }
        let per_group = state
            .attributes
            .get("FifoThroughputScope")
            .is_some_and(|s| s == "MessageGroup");
        let dedup = prepared.deduplication_id.clone().unwrap_or_default();
        let key = if per_group {
            format!("{}\u{0}{dedup}", prepared.group_id.as_deref().unwrap_or(""))
        } else {
            dedup
        };
        if let Some((_, id, seq)) = state.dedup.get(&key) {
            return Sequenced::Duplicate {
                message_id: id.clone(),
                sequence_number: seq.clone(),
            };
        }
        state.next_sequence_number += 1;
        prepared.sequence_number = Some(state.next_sequence_number.to_string());
        let expires = now.saturating_add(DEDUPLICATION_INTERVAL_MS);
        let entry = (
            expires,
            prepared.message_id.clone(),
            prepared.sequence_number.clone(),
        );
        // Made durable with the publish, so a repeat after a restart is still a duplicate.
        state.dedup.insert(key.clone(), entry.clone());
        state.dedup_expiry.push_back((expires, key.clone()));
        Sequenced::New(prepared, Some(Box::new((key, entry))))
    }

    /// Publishing straight to a phone number: captured, as lyrebird sends no SMS; numbers on the
    /// account's opt-out list get nothing.
    fn publish_sms(
        &self,
        ctx: &RequestContext,
        phone: &str,
        fields: PublishFields,
    ) -> AwsResult<PublishOutput> {
        if !phone.starts_with('+')
            || phone.len() < 8
            || !phone[1..].bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AwsError::sns_invalid(format!(
                "PhoneNumber Reason: {phone} is not valid to publish to"
            )));
        }
        let message = match fields.message {
            Some(m) if !m.is_empty() => m,
            _ => return Err(AwsError::sns_invalid("Empty message")),
        };
        check_attributes(&fields.message_attributes, "")?;
        // `MessageStructure=json`: the phone gets its `sms` message, else `default`.
        let message_structure = fields.message_structure.filter(|s| !s.is_empty());
        let message = match message_structure.as_deref() {
            None => message,
            Some("json") => {
                let mut parsed = structured(&message)?;
                parsed
                    .remove("sms")
                    .or_else(|| parsed.remove("default"))
                    .ok_or_else(no_default_entry)?
            }
            Some(_) => return Err(AwsError::sns_invalid("MessageStructure")),
        };
        let message_id = uuid::Uuid::new_v4().to_string();
        if self.is_opted_out(&ctx.account, phone) {
            // Accepted, as on AWS, but an opted-out number is sent nothing.
            tracing::debug!(phone, "not sending SMS to an opted-out number");
            return Ok(PublishOutput {
                message_id,
                sequence_number: None,
            });
        }
        self.deliveries.capture(Outgoing {
            kind: Kind::Notification,
            protocol: "sms".into(),
            endpoint: phone.to_string(),
            subscription_arn: None,
            topic_arn: None,
            message_id: message_id.clone(),
            subject: fields.subject,
            message,
            attributes: fields.message_attributes,
            message_structure,
            account: ctx.account.clone(),
            region: ctx.region.clone(),
        });
        Ok(PublishOutput {
            message_id,
            sequence_number: None,
        })
    }

    /// Hands a message to every confirmed subscription whose filter policy matches.
    fn fan_out(&self, ctx: &RequestContext, topic: &Arc<Topic>, prepared: &Prepared) {
        let subscriptions = topic.state.lock().subscriptions.clone();
        let prepared = Arc::new(prepared.clone());
        for sub in subscriptions.iter() {
            let state = sub.snapshot();
            if !state.confirmed {
                continue;
            }
            if let Some(filter) = &state.filter {
                let body = prepared.message_for(&sub.protocol);
                if !filter.matches(&prepared.attributes, body) {
                    continue;
                }
            }
            self.deliver(ctx, topic, sub, &state, &prepared);
        }
        topic.stats.published();
    }
}

fn check_fifo_id(parameter: &str, value: &str) -> AwsResult<()> {
    if value.len() > 128
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation())
    {
        return Err(AwsError::sns_invalid(format!(
            "{parameter} Reason: {parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )));
    }
    Ok(())
}

fn missing_group_id() -> AwsError {
    AwsError::sns_invalid("The MessageGroupId parameter is required for FIFO topics")
}

fn missing_deduplication_id() -> AwsError {
    AwsError::sns_invalid(
        "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
    )
}

/// On a FIFO topic an entry without a group id, without a deduplication id (content-based
/// deduplication off) or with a JSON structure lacking `default` fails the whole PublishBatch,
/// nothing published (AWS-recorded).
fn check_fifo_batch(topic: &Topic, entries: &[PublishBatchEntry]) -> AwsResult<()> {
    let content_based = SnsService::content_based(topic);
    for entry in entries {
        let f = &entry.fields;
        // The structure is checked first (AWS-recorded).
        if f.message_structure.as_deref() == Some("json") {
            let has_default = f
                .message
                .as_deref()
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .is_some_and(|v| v.get("default").is_some());
            if !has_default {
                return Err(no_default_entry());
            }
        }
        if f.message_group_id.as_deref().is_none_or(str::is_empty) {
            return Err(missing_group_id());
        }
        if !content_based
            && f.message_deduplication_id
                .as_deref()
                .is_none_or(str::is_empty)
        {
            return Err(missing_deduplication_id());
        }
    }
    Ok(())
}
