//! Where an asynchronous invocation's outcome goes: the function's OnSuccess/OnFailure
//! destinations (its event invoke config) and the failure route of the event's source (an SNS
//! subscription's dead-letter queue). Both are data, kept with a stored event, so an event
//! accepted before a restart still reaches them after it.
//!
//! Lambda knows SQS, SNS and EventBridge only through [`DestinationSink`], which the App
//! connects at start-up (`src/destinations.rs`); a Lambda function destination is invoked here.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// Delivers records and dead letters to SQS queues, SNS topics and EventBridge buses.
pub trait DestinationSink: Send + Sync + 'static {
    /// Sends `body` to `target` (an SQS queue, SNS topic or EventBridge bus ARN); an error
    /// says why it could not be delivered.
    fn deliver(&self, target: &str, body: String, what: Delivery) -> SinkFuture;
}

pub type SinkFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// What is being delivered: EventBridge's detail type and resources depend on it.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// An invocation record for a destination.
    Record {
        success: bool,
        /// The function's ARN as the record names it (`…:function:name:$LATEST`).
        function_arn: String,
    },
    /// An event source's own dead letter (SNS: the notification's envelope).
    DeadLetter { sender: String },
    /// The event itself for the function's DeadLetterConfig, with the attributes Lambda adds:
    /// `RequestID` (String), `ErrorCode` (Number: a 3-digit HTTP code) and `ErrorMessage`
    /// (String, at most 1 KB).
    FunctionDeadLetter {
        request_id: String,
        error_code: u16,
        error_message: String,
    },
}

/// `ErrorMessage` of a function dead letter: the failure's `errorMessage` (else its
/// `errorType`), cut to Lambda's 1 KB on a character boundary; never empty, as SQS and SNS
/// refuse an empty attribute value.
pub fn dead_letter_error_message(response: &[u8]) -> String {
    let doc: serde_json::Value = serde_json::from_slice(response).unwrap_or_default();
    let text = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut message = text("errorMessage")
        .or_else(|| text("errorType"))
        .unwrap_or_else(|| "Unhandled".to_string());
    if message.len() > 1024 {
        let mut end = 1024;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

/// Where an asynchronous invocation's event goes when it finally fails, besides the function's
/// OnFailure destination: the failure route of the service that sent it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureRoute {
    /// A queue that receives `body` (an SNS subscription's RedrivePolicy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub queue_arn: String,
    pub body: String,
    /// Who sends it (the message's SenderId), e.g. `sns`.
    pub sender: String,
}

/// Why an asynchronous invocation ended, as the record's `requestContext.condition` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// The invocation record Lambda sends to a destination, members in AWS's order:
/// `version`, `timestamp`, `requestContext{requestId, functionArn, condition,
/// approximateInvokeCount}`, `requestPayload`, `responseContext{statusCode, executedVersion,
/// functionError}`, `responsePayload`.
pub struct DestinationRecord<'a> {
    pub timestamp: String,
    pub request_id: &'a str,
    /// Qualified: `…:function:name:$LATEST`.
    pub function_arn: &'a str,
    pub condition: Condition,
    pub invoke_count: u32,
    pub request_payload: &'a [u8],
    /// `Unhandled` when the function failed.
    pub function_error: Option<&'a str>,
    pub response_payload: &'a [u8],
}

impl DestinationRecord<'_> {
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct RequestContext<'a> {
            request_id: &'a str,
            function_arn: &'a str,
            condition: &'a str,
            approximate_invoke_count: u32,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ResponseContext<'a> {
            status_code: u16,
            executed_version: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            function_error: Option<&'a str>,
        }
        let request_context = serde_json::to_string(&RequestContext {
            request_id: self.request_id,
            function_arn: self.function_arn,
            condition: self.condition.as_str(),
            approximate_invoke_count: self.invoke_count,
        })
        .unwrap_or_default();
        let response_context = serde_json::to_string(&ResponseContext {
            status_code: 200,
            executed_version: "$LATEST",
            function_error: self.function_error,
        })
        .unwrap_or_default();
        format!(
            r#"{{"version":"1.0","timestamp":{},"requestContext":{request_context},"requestPayload":{},"responseContext":{response_context},"responsePayload":{}}}"#,
            serde_json::Value::String(self.timestamp.clone()),
            embedded(self.request_payload),
            embedded(self.response_payload),
        )
    }
}

/// A payload as the record embeds it: JSON as it is (its bytes kept), nothing as `null`, and
/// anything else as a JSON string.
fn embedded(payload: &[u8]) -> String {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return "null".into();
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok() {
        return String::from_utf8_lossy(payload).trim().to_string();
    }
    serde_json::Value::String(String::from_utf8_lossy(payload).into_owned()).to_string()
}

/// The AWS service an ARN names (`sqs`, `sns`, `lambda`, `events`).
pub fn service_of(arn: &str) -> &str {
    arn.split(':').nth(2).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_in_aws_order_with_payloads_embedded() {
        let record = DestinationRecord {
            timestamp: "2024-01-01T00:00:00.000Z".into(),
            request_id: "r",
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
            condition: Condition::RetriesExhausted,
            invoke_count: 3,
            request_payload: br#"{"b":1,"a":2}"#,
            function_error: Some("Unhandled"),
            response_payload: br#"{"errorType":"Error"}"#,
        };
        assert_eq!(
            record.to_json(),
            r#"{"version":"1.0","timestamp":"2024-01-01T00:00:00.000Z","requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"b":1,"a":2},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"responsePayload":{"errorType":"Error"}}"#
        );
        assert_eq!(embedded(b""), "null");
        assert_eq!(embedded(b"hi"), r#""hi""#);
    }
}
