//! `lambda` subscriptions: SNS invokes the function asynchronously (Event) with Lambda's SNS
//! event; Lambda retries an error (the function's event invoke config), and then, for a
//! function with no OnFailure destination or dead-letter queue of its own, the subscription's
//! dead-letter queue gets the notification (its JSON envelope, as an SQS subscription would
//! have). The dead letter travels with the event as data (a
//! `FailureRoute`), so an event accepted before a restart still reaches it. A refusal to queue
//! goes to the dead-letter queue at once. The delivery is also captured
//! (`/_lyrebird/sns/deliveries`), as before functions could run.
//!
//! SNS reaches Lambda only through `event_sources::FunctionRuntime`, a seam the App connects at
//! start-up (`SnsService::connect_lambda`); the lambda module knows nothing of SNS.

use std::sync::Arc;

use crate::clock::iso8601_millis;
use crate::context::RequestContext;
use crate::lambda::event_sources::runtime::Source;
use crate::lambda::event_sources::sns_event::{sns_event, SnsNotification};
use crate::lambda::event_sources::FunctionRuntime;
use crate::lambda::{DeadLetter, FailureRoute};
use crate::sqs::messages::Forwarded;

use super::delivery::{attribute_text, signature_version};
use super::message::Prepared;
use super::model::MessageAttributes;
use super::signing::string_to_sign;
use super::subscription::{Subscription, SubscriptionState};
use super::topics::Topic;
use super::SnsService;

/// The functions SNS can invoke, once connected.
#[derive(Default)]
pub struct LambdaLink(std::sync::OnceLock<Arc<dyn FunctionRuntime>>);

impl std::fmt::Debug for LambdaLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LambdaLink(connected: {})", self.0.get().is_some())
    }
}

impl SnsService {
    /// Connects the Lambda service (once, at start-up).
    pub fn connect_lambda(&self, runtime: Arc<dyn FunctionRuntime>) {
        let _ = self.lambda.0.set(runtime);
    }

    /// Invokes a `lambda` subscription's function with one notification.
    pub(super) fn deliver_to_lambda(
        &self,
        ctx: &RequestContext,
        topic: &Topic,
        sub: &Arc<Subscription>,
        state: &SubscriptionState,
        prepared: &Arc<Prepared>,
        envelope: String,
    ) {
        let Some(runtime) = self.lambda.0.get() else {
            return;
        };
        let message = prepared.message_for(&sub.protocol);
        let timestamp = iso8601_millis(prepared.timestamp_ms);
        let version = signature_version(topic);
        let mut signed = vec![
            ("Message", message),
            ("MessageId", prepared.message_id.as_str()),
        ];
        if let Some(subject) = &prepared.subject {
            signed.push(("Subject", subject.as_str()));
        }
        signed.extend([
            ("Timestamp", timestamp.as_str()),
            ("TopicArn", topic.arn.as_str()),
            ("Type", "Notification"),
        ]);
        let signature = prepared.signature_of(message, || {
            self.signer().sign(&string_to_sign(&signed), version)
        });
        let notification = SnsNotification {
            subscription_arn: sub.arn.clone(),
            message_id: prepared.message_id.clone(),
            topic_arn: topic.arn.clone(),
            subject: prepared.subject.clone(),
            message: message.to_string(),
            timestamp,
            signature_version: version.as_str().to_string(),
            signature: signature.to_string(),
            signing_cert_url: self.signing_cert_url(ctx),
            unsubscribe_url: format!(
                "http://{}/?Action=Unsubscribe&SubscriptionArn={}",
                ctx.host, sub.arn
            ),
            attributes: prepared
                .attributes
                .iter()
                .map(|(name, v)| {
                    (
                        name.clone(),
                        v.data_type.clone().unwrap_or_default(),
                        attribute_text(v),
                    )
                })
                .collect(),
        };
        let route = FailureRoute {
            dead_letter: state.dead_letter_target().map(|queue_arn| DeadLetter {
                queue_arn,
                body: envelope,
                sender: "sns".to_string(),
            }),
        };
        let queued = runtime.invoke_async(
            &sub.endpoint,
            sns_event(&notification),
            Source {
                kind: "aws:sns",
                arn: &topic.arn,
            },
            route.clone(),
        );
        if let Err(error) = queued {
            tracing::warn!(subscription = %sub.arn, function = %sub.endpoint, "Lambda delivery refused: {error}");
            if let Some(dead_letter) = route.dead_letter {
                let forwarded = Forwarded {
                    body: dead_letter.body,
                    attributes: MessageAttributes::new(),
                    trace_header: ctx.trace_header.clone(),
                    ..Default::default()
                };
                if let Err(e) =
                    self.sqs
                        .send_from_service(ctx, &dead_letter.queue_arn, forwarded, "sns")
                {
                    tracing::warn!(subscription = %sub.arn, dlq = %dead_letter.queue_arn, error = %e, "dead-letter delivery failed");
                }
            }
        }
    }
}
