//! The event Lambda's SQS event source mapping hands a function: `{"Records": [...]}` with one
//! record per received message, its fields in the order and with the types AWS sends (every
//! attribute a string, `md5OfMessageAttributes` null when there are none, binary values base64).

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;

use crate::sqs::model::{MessageAttributeValue, ReceivedMessage};

/// System attributes in the order Lambda lists them; the FIFO ones appear only on FIFO queues.
const ATTRIBUTE_ORDER: [&str; 9] = [
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

/// Where the records come from: the queue's ARN and region.
#[derive(Debug, Clone)]
pub struct QueueSource<'a> {
    pub arn: &'a str,
    pub region: &'a str,
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "Records")]
    records: Vec<Record<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    message_id: &'a str,
    receipt_handle: &'a str,
    body: &'a str,
    attributes: Attributes<'a>,
    message_attributes: std::collections::BTreeMap<&'a str, Attribute<'a>>,
    md5_of_message_attributes: Option<&'a str>,
    md5_of_body: &'a str,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    aws_region: &'a str,
}

/// System attributes as a JSON object in `ATTRIBUTE_ORDER` (a map would sort them).
struct Attributes<'a>(Vec<(&'static str, &'a str)>);

impl Serialize for Attributes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// One user attribute as Lambda shows it: `stringValue` or `binaryValue` (base64), both list
/// fields always present (empty), then `dataType`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attribute<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    string_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary_value: Option<String>,
    string_list_values: &'a [String],
    binary_list_values: Vec<String>,
    data_type: &'a str,
}

fn message_attribute(value: &MessageAttributeValue) -> Attribute<'_> {
    Attribute {
        string_value: value.string_value.as_deref(),
        binary_value: value.binary_value.as_ref().map(|b| STANDARD.encode(b)),
        string_list_values: &value.string_list_values,
        binary_list_values: value
            .binary_list_values
            .iter()
            .map(|b| STANDARD.encode(b))
            .collect(),
        data_type: value.data_type.as_deref().unwrap_or_default(),
    }
}

fn record<'a>(message: &'a ReceivedMessage, source: &QueueSource<'a>) -> Record<'a> {
    let attributes = ATTRIBUTE_ORDER
        .iter()
        .filter_map(|name| {
            message
                .attributes
                .iter()
                .find(|(k, _)| k == name)
                .map(|(k, v)| (*k, v.as_str()))
        })
        .collect();
    Record {
        message_id: &message.message_id,
        receipt_handle: &message.receipt_handle,
        body: &message.body,
        attributes: Attributes(attributes),
        message_attributes: message
            .message_attributes
            .iter()
            .map(|(k, v)| (k.as_str(), message_attribute(v)))
            .collect(),
        md5_of_message_attributes: message.md5_of_message_attributes.as_deref(),
        md5_of_body: &message.md5_of_body,
        event_source: "aws:sqs",
        event_source_arn: source.arn,
        aws_region: source.region,
    }
}

/// The event document for a batch of messages received from one queue.
pub fn sqs_event(messages: &[ReceivedMessage], source: &QueueSource<'_>) -> Vec<u8> {
    let event = Event {
        records: messages.iter().map(|m| record(m, source)).collect(),
    };
    // Serializing borrowed strings and maps of strings cannot fail.
    serde_json::to_vec(&event).unwrap_or_default()
}

/// One record of the event as a JSON value (what `FilterCriteria` patterns are matched
/// against, with `body` parsed when it is JSON).
pub fn record_value(message: &ReceivedMessage, source: &QueueSource<'_>) -> serde_json::Value {
    serde_json::to_value(record(message, source)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fifo: bool) -> ReceivedMessage {
        let mut attributes = vec![
            ("SenderId", "000000000000".to_string()),
            ("ApproximateFirstReceiveTimestamp", "1545082649185".into()),
            ("ApproximateReceiveCount", "1".into()),
            ("SentTimestamp", "1545082649183".into()),
        ];
        if fifo {
            attributes.extend([
                ("MessageDeduplicationId", "d1".to_string()),
                ("MessageGroupId", "g1".into()),
                ("SequenceNumber", "18849496460467696128".into()),
            ]);
        }
        ReceivedMessage {
            message_id: "059f36b4-87a3-44ab-83d2-661975830a7d".into(),
            receipt_handle: "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a".into(),
            md5_of_body: "e4e68fb7bd0e697a0ae8f1bb342846b3".into(),
            body: "Test message.".into(),
            attributes,
            md5_of_message_attributes: None,
            message_attributes: Default::default(),
        }
    }

    const SOURCE: QueueSource<'static> = QueueSource {
        arn: "arn:aws:sqs:us-east-2:123456789012:my-queue",
        region: "us-east-2",
    };

    /// Byte for byte the record of AWS's documented example (plus `md5OfMessageAttributes`,
    /// null, which AWS sends and the documentation leaves out).
    #[test]
    fn standard_record_matches_aws_example() {
        let got = String::from_utf8(sqs_event(&[message(false)], &SOURCE)).unwrap();
        let want = concat!(
            r#"{"Records":[{"messageId":"059f36b4-87a3-44ab-83d2-661975830a7d","#,
            r#""receiptHandle":"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a","body":"Test message.","#,
            r#""attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1545082649183","#,
            r#""SenderId":"000000000000","ApproximateFirstReceiveTimestamp":"1545082649185"},"#,
            r#""messageAttributes":{},"md5OfMessageAttributes":null,"#,
            r#""md5OfBody":"e4e68fb7bd0e697a0ae8f1bb342846b3","eventSource":"aws:sqs","#,
            r#""eventSourceARN":"arn:aws:sqs:us-east-2:123456789012:my-queue","awsRegion":"us-east-2"}]}"#
        );
        assert_eq!(got, want);
    }

    #[test]
    fn fifo_attributes_in_lambda_order() {
        let value = record_value(&message(true), &SOURCE);
        let keys: Vec<&String> = value["attributes"].as_object().unwrap().keys().collect();
        // serde_json's Map sorts keys; the document's own order is checked on the bytes.
        assert_eq!(keys.len(), 7);
        let bytes = String::from_utf8(sqs_event(&[message(true)], &SOURCE)).unwrap();
        let order = [
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SequenceNumber",
            "MessageGroupId",
            "SenderId",
            "MessageDeduplicationId",
            "ApproximateFirstReceiveTimestamp",
        ];
        let positions: Vec<usize> = order.iter().map(|k| bytes.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{bytes}");
    }

    #[test]
    fn message_attributes_in_lambda_shape() {
        let mut m = message(false);
        m.message_attributes.insert(
            "Author".into(),
            MessageAttributeValue {
                string_value: Some("John Grisham".into()),
                data_type: Some("String".into()),
                ..Default::default()
            },
        );
        m.message_attributes.insert(
            "Blob".into(),
            MessageAttributeValue {
                binary_value: Some(b"\x00\x01".to_vec()),
                data_type: Some("Binary".into()),
                ..Default::default()
            },
        );
        m.md5_of_message_attributes = Some("d25a6aea97eb8f585bfa92d314504a92".into());
        let bytes = String::from_utf8(sqs_event(&[m], &SOURCE)).unwrap();
        assert!(bytes.contains(
            r#""Author":{"stringValue":"John Grisham","stringListValues":[],"binaryListValues":[],"dataType":"String"}"#
        ), "{bytes}");
        assert!(bytes.contains(
            r#""Blob":{"binaryValue":"AAE=","stringListValues":[],"binaryListValues":[],"dataType":"Binary"}"#
        ), "{bytes}");
        assert!(bytes.contains(r#""md5OfMessageAttributes":"d25a6aea97eb8f585bfa92d314504a92""#));
    }
}
