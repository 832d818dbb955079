//! Lambda's destinations and dead letters delivered through the other services' own paths:
//! an SQS queue gets a message (its send path: MD5s, FIFO rules, a write retried until the store
//! takes it), an SNS topic a publish (its subscriptions and filters apply), an EventBridge bus an
//! event (`source: lambda`, `detail-type: Lambda Function Invocation Result - Success|Failure`,
//! the bus and function as resources, the record as `detail`, as AWS sends it).
//!
//! It sits above the services it joins (the App connects it at start-up,
//! `LambdaService::connect_destinations`), so the lambda module imports none of them.

use std::sync::Arc;

use crate::context::RequestContext;
use crate::events::model::{PutEventsEntry, PutEventsInput};
use crate::events::EventsService;
use crate::lambda::{Delivery, DestinationSink, SinkFuture};
use crate::sns::model::{PublishFields, PublishInput};
use crate::sns::SnsService;
use crate::sqs::messages::Forwarded;
use crate::sqs::model::{MessageAttributeValue, MessageAttributes};
use crate::sqs::SqsService;

pub struct Destinations {
    pub sqs: Arc<SqsService>,
    pub sns: Arc<SnsService>,
    pub events: Arc<EventsService>,
    /// lyrebird's host, for what the services build from a request's host.
    pub host: String,
}

impl DestinationSink for Destinations {
    fn deliver(&self, target: &str, body: String, what: Delivery) -> SinkFuture {
        let mut parts = target.split(':');
        let (service, region, account) = (
            parts.nth(2).unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let ctx = RequestContext::internal(&account, &region, &self.host);
        let target = target.to_string();
        match service.as_str() {
            "sqs" => {
                let sqs = self.sqs.clone();
                let attributes = dead_letter_attributes(&what);
                let sender = match what {
                    Delivery::DeadLetter { sender } => sender,
                    Delivery::Record { .. } | Delivery::FunctionDeadLetter { .. } => {
                        "lambda".to_string()
                    }
                };
                let message = Forwarded {
                    attributes,
                    ..Forwarded::body(body)
                };
                Box::pin(async move {
                    sqs.send_from_service_until_durable(&target, message, &sender)
                        .await
                        .map_err(|e| e.message)
                })
            }
            "sns" => {
                let published = self.sns.publish(
                    &ctx,
                    PublishInput {
                        topic_arn: Some(target),
                        fields: PublishFields {
                            message: Some(body),
                            message_attributes: dead_letter_attributes(&what),
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                );
                Box::pin(async move {
                    published.map_err(|e| e.message)?;
                    ctx.writes.durable().await
                })
            }
            "events" => {
                let (success, function_arn) = match what {
                    Delivery::Record {
                        success,
                        function_arn,
                    } => (success, function_arn),
                    Delivery::DeadLetter { .. } | Delivery::FunctionDeadLetter { .. } => {
                        (false, String::new())
                    }
                };
                let outcome = if success { "Success" } else { "Failure" };
                // Every account has its default bus, made when first needed.
                self.events.ensure_default_bus(&ctx, &account, &region);
                let put = self.events.put_events(
                    &ctx,
                    PutEventsInput {
                        entries: Some(vec![PutEventsEntry {
                            source: Some("lambda".into()),
                            detail_type: Some(format!(
                                "Lambda Function Invocation Result - {outcome}"
                            )),
                            detail: Some(body),
                            resources: Some(
                                [target.clone(), function_arn]
                                    .into_iter()
                                    .filter(|r| !r.is_empty())
                                    .collect(),
                            ),
                            event_bus_name: Some(target),
                            ..Default::default()
                        }]),
                        endpoint_id: None,
                    },
                );
                Box::pin(async move {
                    let out = put.map_err(|e| e.message)?;
                    if let Some(failed) = out.entries.iter().find(|e| e.error_code.is_some()) {
                        return Err(failed.error_message.clone().unwrap_or_default());
                    }
                    ctx.writes.durable().await
                })
            }
            other => {
                let why = format!("{other} is not a destination lyrebird delivers to");
                Box::pin(async move { Err(why) })
            }
        }
    }
}

/// The message attributes Lambda puts on a function's dead letter (none on anything else).
fn dead_letter_attributes(what: &Delivery) -> MessageAttributes {
    let Delivery::FunctionDeadLetter {
        request_id,
        error_code,
        error_message,
    } = what
    else {
        return MessageAttributes::new();
    };
    let value = |data_type: &str, text: String| MessageAttributeValue {
        string_value: Some(text),
        data_type: Some(data_type.to_string()),
        ..Default::default()
    };
    MessageAttributes::from([
        ("RequestID".to_string(), value("String", request_id.clone())),
        (
            "ErrorCode".to_string(),
            value("Number", error_code.to_string()),
        ),
        (
            "ErrorMessage".to_string(),
            value("String", error_message.clone()),
        ),
    ])
}
