//! The event SNS hands a subscribed Lambda function: `{"Records": [{EventSource, EventVersion,
//! EventSubscriptionArn, Sns: {...}}]}`. The `Sns` object is the notification envelope with
//! Lambda's own spellings (`SigningCertUrl`, `UnsubscribeUrl`, unlike the HTTP/SQS envelope's
//! `SigningCertURL`/`UnsubscribeURL`), `Subject` null when there is none, and message
//! attributes as `{Type, Value}`. Built from plain strings so this module needs nothing of SNS.

use serde::Serialize;

/// One notification, as SNS prepared it for a Lambda subscription.
#[derive(Debug, Clone, Default)]
pub struct SnsNotification {
    pub subscription_arn: String,
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    /// ISO 8601 with milliseconds, as in the envelope.
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    pub signing_cert_url: String,
    pub unsubscribe_url: String,
    /// (name, data type, value as SNS shows it: the string, or base64 for binary).
    pub attributes: Vec<(String, String, String)>,
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "Records")]
    records: [Record<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Record<'a> {
    event_source: &'static str,
    event_version: &'static str,
    event_subscription_arn: &'a str,
    sns: Sns<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Sns<'a> {
    #[serde(rename = "Type")]
    kind: &'static str,
    message_id: &'a str,
    topic_arn: &'a str,
    subject: Option<&'a str>,
    message: &'a str,
    timestamp: &'a str,
    signature_version: &'a str,
    signature: &'a str,
    signing_cert_url: &'a str,
    unsubscribe_url: &'a str,
    message_attributes: std::collections::BTreeMap<&'a str, Attribute<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute<'a> {
    #[serde(rename = "Type")]
    data_type: &'a str,
    value: &'a str,
}

/// The event document for one notification.
pub fn sns_event(n: &SnsNotification) -> Vec<u8> {
    let event = Event {
        records: [Record {
            event_source: "aws:sns",
            event_version: "1.0",
            event_subscription_arn: &n.subscription_arn,
            sns: Sns {
                kind: "Notification",
                message_id: &n.message_id,
                topic_arn: &n.topic_arn,
                subject: n.subject.as_deref(),
                message: &n.message,
                timestamp: &n.timestamp,
                signature_version: &n.signature_version,
                signature: &n.signature,
                signing_cert_url: &n.signing_cert_url,
                unsubscribe_url: &n.unsubscribe_url,
                message_attributes: n
                    .attributes
                    .iter()
                    .map(|(name, data_type, value)| (name.as_str(), Attribute { data_type, value }))
                    .collect(),
            },
        }],
    };
    serde_json::to_vec(&event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_in_lambda_shape_and_order() {
        let n = SnsNotification {
            subscription_arn: "arn:aws:sns:us-east-1:123456789012:sns-lambda:21be56ed".into(),
            message_id: "95df01b4-ee98-5cb9-9903-4c221d41eb5e".into(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:sns-lambda".into(),
            subject: None,
            message: "Hello from SNS!".into(),
            timestamp: "2019-01-02T12:45:07.000Z".into(),
            signature_version: "1".into(),
            signature: "tcc6faL2yUC6dgZdmrwh1Y4cGa".into(),
            signing_cert_url: "http://localhost/cert.pem".into(),
            unsubscribe_url: "http://localhost/?Action=Unsubscribe".into(),
            attributes: vec![("Test".into(), "String".into(), "TestString".into())],
        };
        let got = String::from_utf8(sns_event(&n)).unwrap();
        let want = concat!(
            r#"{"Records":[{"EventSource":"aws:sns","EventVersion":"1.0","#,
            r#""EventSubscriptionArn":"arn:aws:sns:us-east-1:123456789012:sns-lambda:21be56ed","#,
            r#""Sns":{"Type":"Notification","MessageId":"95df01b4-ee98-5cb9-9903-4c221d41eb5e","#,
            r#""TopicArn":"arn:aws:sns:us-east-1:123456789012:sns-lambda","Subject":null,"#,
            r#""Message":"Hello from SNS!","Timestamp":"2019-01-02T12:45:07.000Z","#,
            r#""SignatureVersion":"1","Signature":"tcc6faL2yUC6dgZdmrwh1Y4cGa","#,
            r#""SigningCertUrl":"http://localhost/cert.pem","#,
            r#""UnsubscribeUrl":"http://localhost/?Action=Unsubscribe","#,
            r#""MessageAttributes":{"Test":{"Type":"String","Value":"TestString"}}}}]}"#
        );
        assert_eq!(got, want);
    }
}
