//! Delivery: the SNS envelope, fan-out to SQS (in process), HTTP/S endpoints (signed, retried
//! per DeliveryPolicy, dead-lettered), and capture of protocols lyrebird cannot really reach
//! (email, SMS, Lambda, Firehose, mobile push), so tests can assert what would have been sent.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::clock::{iso8601_millis, Clock};
use crate::context::RequestContext;
use crate::sqs::messages::Forwarded;

use super::message::{Kind, Outgoing, Prepared};
use super::model::MessageAttributes;
use super::signing::{string_to_sign, SignatureVersion};
use super::subscription::{Subscription, SubscriptionState};
use super::topics::Topic;
use super::SnsService;

/// How many captured deliveries are kept (oldest dropped first).
const CAPTURE_LIMIT: usize = 10_000;
/// AWS waits this long for an HTTP endpoint to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Delivery machinery shared by all topics: the HTTP client and the capture log.
pub struct Deliveries {
    clock: Arc<Clock>,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    captured: Mutex<std::collections::VecDeque<(u64, Outgoing)>>,
    /// HTTP/S requests in flight at once (a retry's wait holds no slot).
    http_slots: Arc<tokio::sync::Semaphore>,
    /// HTTP/S deliveries pending (sending or waiting to retry), and the most allowed.
    http_pending: Arc<std::sync::atomic::AtomicUsize>,
    http_backlog: usize,
}

impl Deliveries {
    pub fn new(clock: Arc<Clock>, limits: &super::SnsLimits) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls::client_config())
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Deliveries {
            clock,
            http: Client::builder(TokioExecutor::new()).build(connector),
            captured: Mutex::new(Default::default()),
            http_slots: Arc::new(tokio::sync::Semaphore::new(limits.http_concurrency.max(1))),
            http_pending: Arc::default(),
            http_backlog: limits.http_backlog,
        }
    }

    pub fn capture(&self, outgoing: Outgoing) {
        let mut captured = self.captured.lock();
        if captured.len() >= CAPTURE_LIMIT {
            captured.pop_front();
        }
        captured.push_back((self.clock.now_ms(), outgoing));
    }

    pub fn clear(&self) {
        self.captured.lock().clear();
    }

    /// Copies of the captured deliveries to `protocol` in an account and region (to one
    /// endpoint, if given), oldest first: the developer endpoints' SMS and push views.
    pub fn captured(
        &self,
        protocol: &str,
        account: &str,
        region: &str,
        endpoint: Option<&str>,
    ) -> Vec<Outgoing> {
        let captured = self.captured.lock();
        captured
            .iter()
            .filter(|(_, o)| o.is(protocol, account, region, endpoint))
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Forgets the captured deliveries `captured` would list.
    pub fn discard(&self, protocol: &str, account: &str, region: &str, endpoint: Option<&str>) {
        self.captured
            .lock()
            .retain(|(_, o)| !o.is(protocol, account, region, endpoint));
    }

    /// Captured deliveries as JSON, filtered by any of protocol, endpoint, topic and
    /// subscription ARN (`GET /_lyrebird/sns/deliveries`).
    pub fn list(&self, filter: &std::collections::HashMap<String, String>) -> Value {
        let want = |key: &str, value: Option<&str>| {
            filter.get(key).is_none_or(|w| Some(w.as_str()) == value)
        };
        let captured = self.captured.lock();
        let items: Vec<Value> = captured
            .iter()
            .filter(|(_, o)| {
                want("protocol", Some(&o.protocol))
                    && want("endpoint", Some(&o.endpoint))
                    && want("topic_arn", o.topic_arn.as_deref())
                    && want("subscription_arn", o.subscription_arn.as_deref())
            })
            .map(|(at, o)| {
                let attributes: serde_json::Map<String, Value> = o
                    .attributes
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            json!({ "Type": v.data_type, "Value": attribute_text(v) }),
                        )
                    })
                    .collect();
                json!({
                    "type": o.kind.as_str(),
                    "protocol": o.protocol,
                    "endpoint": o.endpoint,
                    "subscriptionArn": o.subscription_arn,
                    "topicArn": o.topic_arn,
                    "messageId": o.message_id,
                    "subject": o.subject,
                    "message": o.message,
                    "messageStructure": o.message_structure,
                    "messageAttributes": attributes,
                    "accountId": o.account,
                    "region": o.region,
                    "timestamp": iso8601_millis(*at),
                })
            })
            .collect();
        json!({ "deliveries": items })
    }
}

/// The `Value` SNS shows for an attribute: the string, or base64 for binary.
pub(super) fn attribute_text(v: &super::model::MessageAttributeValue) -> String {
    match (&v.string_value, &v.binary_value) {
        (Some(s), _) => s.clone(),
        (None, Some(b)) => STANDARD.encode(b),
        _ => String::new(),
    }
}

/// `"key" : value` lines of AWS's pretty-printed JSON documents, in the order given.
struct Document {
    out: String,
}

impl Document {
    fn new() -> Self {
        Document {
            out: String::from("{\n"),
        }
    }

    fn field(&mut self, key: &str, value: &str) -> &mut Self {
        if self.out.len() > 2 {
            self.out.push_str(",\n");
        }
        let _ = write!(
            self.out,
            "  \"{key}\" : {}",
            Value::String(value.to_string())
        );
        self
    }

    fn raw(&mut self, key: &str, raw_json: &str) -> &mut Self {
        if self.out.len() > 2 {
            self.out.push_str(",\n");
        }
        let _ = write!(self.out, "  \"{key}\" : {raw_json}");
        self
    }

    fn finish(mut self) -> String {
        self.out.push_str("\n}");
        self.out
    }
}

impl SnsService {
    /// Delivers one published message to one subscription.
    pub(super) fn deliver(
        &self,
        ctx: &RequestContext,
        topic: &Topic,
        sub: &Arc<Subscription>,
        state: &SubscriptionState,
        prepared: &Arc<Prepared>,
    ) {
        let message = prepared.message_for(&sub.protocol);
        let body = || {
            if state.raw {
                message.to_string()
            } else {
                self.notification(ctx, topic, &sub.arn, prepared, message)
            }
        };
        match sub.protocol.as_str() {
            "sqs" => {
                let attributes = if state.raw {
                    prepared.attributes.clone()
                } else {
                    MessageAttributes::new()
                };
                // A FIFO topic's message in a standard queue carries neither group nor
                // deduplication id; a standard topic's MessageGroupId is kept (AWS-recorded).
                let fifo_queue = |arn: &str| arn.ends_with(".fifo");
                let forwarded = Forwarded {
                    body: body(),
                    attributes,
                    group_id: prepared.group_id.clone(),
                    deduplication_id: prepared.deduplication_id.clone(),
                    trace_header: ctx.trace_header.clone(),
                };
                let for_queue = |arn: &str| {
                    let mut f = forwarded.clone();
                    if !fifo_queue(arn) {
                        if topic.fifo {
                            f.group_id = None;
                        }
                        f.deduplication_id = None;
                    }
                    f
                };
                let result = self.sqs.send_from_service(
                    ctx,
                    &sub.endpoint,
                    for_queue(&sub.endpoint),
                    &topic.account,
                );
                topic.stats.delivery("sqs", result.is_ok());
                if let Err(e) = result {
                    tracing::warn!(subscription = %sub.arn, error = %e, "SQS delivery failed");
                    // The dead-letter queue gets what the subscription would have: the raw
                    // message or the envelope, with the FIFO ids when it is a FIFO queue.
                    if let Some(dlq) = state.dead_letter_target() {
                        self.dead_letter_to(ctx, &sub.arn, &dlq, for_queue(&dlq));
                    }
                }
            }
            "http" | "https" => {
                let body = body();
                let headers = vec![
                    (
                        "x-amz-sns-message-type",
                        Kind::Notification.as_str().to_string(),
                    ),
                    ("x-amz-sns-message-id", prepared.message_id.clone()),
                    ("x-amz-sns-topic-arn", topic.arn.clone()),
                    ("x-amz-sns-subscription-arn", sub.arn.clone()),
                ];
                let policy = RetryPolicy::of(topic, state);
                // What the dead-letter queue gets if every attempt fails: what the endpoint
                // would have, with the message attributes of a raw delivery as SQS attributes.
                let dead_letter = state.dead_letter_target().map(|dlq| {
                    let forwarded = Forwarded {
                        body: body.clone(),
                        attributes: if state.raw {
                            prepared.attributes.clone()
                        } else {
                            MessageAttributes::new()
                        },
                        trace_header: ctx.trace_header.clone(),
                        ..Default::default()
                    };
                    (dlq, forwarded)
                });
                self.post(
                    ctx,
                    HttpDelivery {
                        url: sub.endpoint.clone(),
                        headers,
                        body,
                        raw: state.raw,
                        policy,
                        dead_letter,
                        subscription_arn: sub.arn.clone(),
                        stats: Some((topic.stats.clone(), sub.protocol.clone())),
                    },
                );
            }
            "application" => {
                let delivered = self.deliver_to_endpoint(topic, sub, prepared);
                topic.stats.delivery("application", delivered);
            }
            "sms" if self.is_opted_out(&topic.account, &sub.endpoint) => {
                topic.stats.delivery("sms", false);
                tracing::debug!(subscription = %sub.arn, "not sending SMS to an opted-out number");
            }
            "lambda" => {
                // Captured as before, and invoked when functions are connected.
                let envelope = self.notification(ctx, topic, &sub.arn, prepared, message);
                let text = if state.raw {
                    message.to_string()
                } else {
                    envelope.clone()
                };
                self.capture(topic, sub, prepared, text);
                self.deliver_to_lambda(ctx, topic, sub, state, prepared, envelope);
                // Delivered once handed to Lambda as an Event invocation, as SNS counts it.
                topic.stats.delivery(&sub.protocol, true);
            }
            _ => {
                let text = if sub.protocol == "email-json"
                    || (!state.raw && matches!(sub.protocol.as_str(), "lambda" | "firehose"))
                {
                    self.notification(ctx, topic, &sub.arn, prepared, message)
                } else {
                    message.to_string()
                };
                self.capture(topic, sub, prepared, text);
                topic.stats.delivery(&sub.protocol, true);
            }
        }
    }

    /// Records a notification lyrebird does not (only) send over the network.
    fn capture(&self, topic: &Topic, sub: &Subscription, prepared: &Prepared, text: String) {
        self.deliveries.capture(Outgoing {
            kind: Kind::Notification,
            protocol: sub.protocol.clone(),
            endpoint: sub.endpoint.clone(),
            subscription_arn: Some(sub.arn.clone()),
            topic_arn: Some(topic.arn.clone()),
            message_id: prepared.message_id.clone(),
            subject: prepared.subject.clone(),
            message: text,
            attributes: prepared.attributes.clone(),
            message_structure: prepared.message_structure.clone(),
            account: topic.account.clone(),
            region: topic.region.clone(),
        });
    }

    /// Sends SubscriptionConfirmation / UnsubscribeConfirmation to an HTTP/S endpoint, or
    /// captures it for email subscriptions.
    pub(super) fn send_confirmation(
        &self,
        ctx: &RequestContext,
        topic: &Topic,
        sub: &Subscription,
        kind: Kind,
    ) {
        let token = sub.state.lock().token.clone();
        let message_id = uuid::Uuid::new_v4().to_string();
        let subscribe_url = format!(
            "http://{}/?Action=ConfirmSubscription&TopicArn={}&Token={token}",
            ctx.host, topic.arn
        );
        let text = match kind {
            Kind::UnsubscribeConfirmation => format!(
                "You have chosen to deactivate subscription {}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
                sub.arn
            ),
            _ => format!(
                "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
                topic.arn
            ),
        };
        let timestamp = iso8601_millis(self.clock.wall_ms());
        let version = signature_version(topic);
        let signed = [
            ("Message", text.as_str()),
            ("MessageId", message_id.as_str()),
            ("SubscribeURL", subscribe_url.as_str()),
            ("Timestamp", timestamp.as_str()),
            ("Token", token.as_str()),
            ("TopicArn", topic.arn.as_str()),
            ("Type", kind.as_str()),
        ];
        let signature = self.signer().sign(&string_to_sign(&signed), version);
        let mut doc = Document::new();
        doc.field("Type", kind.as_str())
            .field("MessageId", &message_id)
            .field("Token", &token)
            .field("TopicArn", &topic.arn)
            .field("Message", &text)
            .field("SubscribeURL", &subscribe_url)
            .field("Timestamp", &timestamp)
            .field("SignatureVersion", version.as_str())
            .field("Signature", &signature)
            .field("SigningCertURL", &self.signing_cert_url(ctx));
        let body = doc.finish();
        if matches!(sub.protocol.as_str(), "http" | "https") {
            let headers = vec![
                ("x-amz-sns-message-type", kind.as_str().to_string()),
                ("x-amz-sns-message-id", message_id),
                ("x-amz-sns-topic-arn", topic.arn.clone()),
            ];
            // Confirmations are not retried through a DLQ; one try per AWS's default policy.
            self.post(
                ctx,
                HttpDelivery {
                    stats: None,
                    url: sub.endpoint.clone(),
                    headers,
                    body,
                    raw: false,
                    policy: RetryPolicy::default(),
                    dead_letter: None,
                    subscription_arn: sub.arn.clone(),
                },
            );
        } else {
            self.deliveries.capture(Outgoing {
                kind,
                protocol: sub.protocol.clone(),
                endpoint: sub.endpoint.clone(),
                subscription_arn: Some(sub.arn.clone()),
                topic_arn: Some(topic.arn.clone()),
                message_id,
                subject: Some("AWS Notification - Subscription Confirmation".into()),
                message: body,
                attributes: MessageAttributes::new(),
                message_structure: None,
                account: topic.account.clone(),
                region: topic.region.clone(),
            });
        }
    }

    /// Where the signing certificate is served: this server, as the client reached it.
    pub fn signing_cert_url(&self, ctx: &RequestContext) -> String {
        format!("http://{}{}", ctx.host, CERT_PATH)
    }

    /// The JSON envelope of a notification (SQS bodies, HTTP bodies, email-json).
    fn notification(
        &self,
        ctx: &RequestContext,
        topic: &Topic,
        sub_arn: &str,
        p: &Prepared,
        message: &str,
    ) -> String {
        let timestamp = iso8601_millis(p.timestamp_ms);
        let mut doc = Document::new();
        doc.field("Type", "Notification")
            .field("MessageId", &p.message_id);
        if let Some(seq) = &p.sequence_number {
            doc.field("SequenceNumber", seq);
        }
        doc.field("TopicArn", &topic.arn);
        if let Some(subject) = &p.subject {
            doc.field("Subject", subject);
        }
        doc.field("Message", message).field("Timestamp", &timestamp);
        // FIFO topics do not sign their notifications.
        if !topic.fifo {
            let version = signature_version(topic);
            let mut signed = vec![("Message", message), ("MessageId", p.message_id.as_str())];
            if let Some(subject) = &p.subject {
                signed.push(("Subject", subject.as_str()));
            }
            signed.extend([
                ("Timestamp", timestamp.as_str()),
                ("TopicArn", topic.arn.as_str()),
                ("Type", "Notification"),
            ]);
            let signature = p.signature_of(message, || {
                self.signer().sign(&string_to_sign(&signed), version)
            });
            doc.field("SignatureVersion", version.as_str())
                .field("Signature", &signature)
                .field("SigningCertURL", &self.signing_cert_url(ctx));
        }
        doc.field(
            "UnsubscribeURL",
            &format!(
                "http://{}/?Action=Unsubscribe&SubscriptionArn={sub_arn}",
                ctx.host
            ),
        );
        if !p.attributes.is_empty() {
            let mut attrs = String::from("{\n");
            for (i, (name, value)) in p.attributes.iter().enumerate() {
                if i > 0 {
                    attrs.push_str(",\n");
                }
                let inner = json!({ "Type": value.data_type, "Value": attribute_text(value) });
                let _ = write!(attrs, "    {} : {inner}", Value::String(name.clone()));
            }
            attrs.push_str("\n  }");
            doc.raw("MessageAttributes", &attrs);
        }
        doc.finish()
    }

    /// Sends a message that could not be delivered to the subscription's dead-letter queue.
    fn dead_letter_to(&self, ctx: &RequestContext, sub_arn: &str, dlq: &str, message: Forwarded) {
        if let Err(e) = self.sqs.send_from_service(ctx, dlq, message, "sns") {
            tracing::warn!(subscription = sub_arn, dlq, error = %e, "dead-letter delivery failed");
        }
    }

    /// POSTs in the background, retrying per the delivery's policy; exhausted or rejected
    /// messages go to its dead-letter queue, if any. A slow endpoint holds up nobody else. One
    /// the full backlog turns away fails at once, its dead letter written with the request's
    /// own writes (so the publish is acknowledged only once it is stored), and takes no task.
    fn post(&self, ctx: &RequestContext, delivery: HttpDelivery) {
        let pending = self.deliveries.http_pending.clone();
        // Bounded backlog: beyond it a delivery fails at once instead of adding a task.
        if pending.fetch_add(1, Ordering::AcqRel) >= self.deliveries.http_backlog {
            pending.fetch_sub(1, Ordering::AcqRel);
            if let Some((stats, protocol)) = &delivery.stats {
                stats.delivery(protocol, false);
            }
            tracing::warn!(subscription = %delivery.subscription_arn, url = %delivery.url, "HTTP delivery backlog full; delivery failed");
            if let Some((dlq, message)) = delivery.dead_letter {
                self.dead_letter_to(ctx, &delivery.subscription_arn, &dlq, message);
            }
            return;
        }
        let HttpDelivery {
            url,
            headers,
            body,
            raw,
            policy,
            dead_letter,
            subscription_arn: sub_arn,
            stats,
        } = delivery;
        let count = move |delivered: bool| {
            if let Some((stats, protocol)) = &stats {
                stats.delivery(protocol, delivered);
            }
        };
        let client = self.deliveries.http.clone();
        let clock = self.clock.clone();
        let sqs = self.sqs.clone();
        let content_type = policy.content_type.clone();
        let slots = self.deliveries.http_slots.clone();
        tokio::spawn(async move {
            let _pending = PendingGuard(pending);
            let mut attempt = 0usize;
            loop {
                let mut request = http::Request::post(url.as_str())
                    .header("content-type", content_type.as_str())
                    .header("user-agent", "Amazon Simple Notification Service Agent");
                for (name, value) in &headers {
                    request = request.header(*name, value.as_str());
                }
                if raw {
                    request = request.header("x-amz-sns-rawdelivery", "true");
                }
                let outcome = match request.body(Full::new(Bytes::from(body.clone()))) {
                    Ok(req) => {
                        // Bounded concurrency: wait for a slot, hold it for this attempt only.
                        let Ok(_slot) = slots.acquire().await else {
                            break;
                        };
                        match tokio::time::timeout(HTTP_TIMEOUT, client.request(req)).await {
                            Ok(Ok(resp)) => Some(resp.status().as_u16()),
                            _ => None,
                        }
                    }
                    Err(_) => Some(400),
                };
                match outcome {
                    Some(200..=299) => {
                        count(true);
                        return;
                    }
                    // Client errors are not retried.
                    Some(400..=499) => break,
                    _ => {}
                }
                let Some(delay) = policy.delay_before_retry(attempt) else {
                    break;
                };
                attempt += 1;
                let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                clock
                    .sleep_until_ms(clock.now_ms().saturating_add(delay_ms))
                    .await;
            }
            count(false);
            tracing::warn!(subscription = %sub_arn, %url, "HTTP delivery failed");
            if let Some((dlq, message)) = dead_letter {
                // Nobody waits for this write: it is retried until the store takes it.
                if let Err(e) = sqs
                    .send_from_service_until_durable(&dlq, message, "sns")
                    .await
                {
                    tracing::warn!(subscription = %sub_arn, dlq, error = %e, "dead-letter delivery failed");
                }
            }
        });
    }
}

/// One POST to an HTTP/S subscription: what is sent where, how it is retried, and where it goes
/// when it cannot be delivered.
struct HttpDelivery {
    /// The topic's counters and the subscription's protocol (none for confirmations).
    stats: Option<(Arc<super::topics::TopicStats>, String)>,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// Raw message delivery: sent with `x-amz-sns-rawdelivery: true`.
    raw: bool,
    policy: RetryPolicy,
    /// The dead-letter queue and the message it gets when the delivery fails for good.
    dead_letter: Option<(String, Forwarded)>,
    /// For the log.
    subscription_arn: String,
}

/// Counts a delivery out of the backlog when its task ends, however it ends.
struct PendingGuard(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The longest retry delay AWS allows in a delivery policy (`maxDelayTarget`), in seconds.
const MAX_DELAY_TARGET: u64 = 3_600;

/// Path of the signing certificate, in AWS's file-name style.
pub const CERT_PATH: &str = "/SimpleNotificationService-lyrebird.pem";

pub(super) fn signature_version(topic: &Topic) -> SignatureVersion {
    topic
        .state
        .lock()
        .attributes
        .get("SignatureVersion")
        .and_then(|v| SignatureVersion::parse(v))
        .unwrap_or(SignatureVersion::V1)
}

/// HTTP/S retry schedule from a DeliveryPolicy (`healthyRetryPolicy`), AWS's phases in order:
/// immediate retries, retries at the minimum delay, back-off, retries at the maximum delay.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    delays: Vec<Duration>,
    content_type: String,
}

impl Default for RetryPolicy {
    /// AWS's default: 3 retries, 20 s apart.
    fn default() -> Self {
        RetryPolicy {
            delays: vec![Duration::from_secs(20); 3],
            content_type: "text/plain; charset=UTF-8".into(),
        }
    }
}

impl RetryPolicy {
    fn of(topic: &Topic, sub: &SubscriptionState) -> Self {
        let topic_policy = topic.state.lock().attributes.get("DeliveryPolicy").cloned();
        let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
        let sub_policy = sub.attributes.get("DeliveryPolicy").and_then(|s| parse(s));
        let topic_policy = topic_policy.and_then(|s| parse(&s));
        let retry = sub_policy
            .as_ref()
            .and_then(|p| p.get("healthyRetryPolicy").cloned())
            .or_else(|| {
                topic_policy
                    .as_ref()
                    .and_then(|p| p.pointer("/http/defaultHealthyRetryPolicy").cloned())
            });
        let content_type = sub_policy
            .as_ref()
            .and_then(|p| p.pointer("/requestPolicy/headerContentType").cloned())
            .or_else(|| {
                topic_policy.as_ref().and_then(|p| {
                    p.pointer("/http/defaultRequestPolicy/headerContentType")
                        .cloned()
                })
            })
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "text/plain; charset=UTF-8".into());
        let mut policy = match retry {
            Some(r) => Self::from_healthy_retry_policy(&r),
            None => Self::default(),
        };
        policy.content_type = content_type;
        policy
    }

    fn from_healthy_retry_policy(p: &Value) -> Self {
        let num = |k: &str, d: u64| p.get(k).and_then(Value::as_u64).unwrap_or(d);
        // AWS caps both targets at 3,600 s; capping here also keeps the arithmetic in range.
        let min = num("minDelayTarget", 20).min(MAX_DELAY_TARGET);
        let max = num("maxDelayTarget", 20).min(MAX_DELAY_TARGET).max(min);
        let retries = num("numRetries", 3).min(100);
        let no_delay = num("numNoDelayRetries", 0).min(retries);
        let min_retries = num("numMinDelayRetries", 0).min(retries - no_delay);
        let max_retries = num("numMaxDelayRetries", 0).min(retries - no_delay - min_retries);
        let backoff = retries - no_delay - min_retries - max_retries;
        let function = p
            .get("backoffFunction")
            .and_then(Value::as_str)
            .unwrap_or("linear");
        let mut delays = Vec::new();
        delays.extend((0..no_delay).map(|_| 0));
        delays.extend((0..min_retries).map(|_| min));
        for i in 1..=backoff {
            let f = i as f64 / backoff as f64;
            let d = match function {
                "exponential" => min as f64 * ((max as f64 / min.max(1) as f64).powf(f)),
                "geometric" => min as f64 + (max - min) as f64 * f * f,
                "arithmetic" => min as f64 + (max - min) as f64 * f.sqrt(),
                _ => min as f64 + (max - min) as f64 * f,
            };
            delays.push(d.round() as u64);
        }
        delays.extend((0..max_retries).map(|_| max));
        RetryPolicy {
            delays: delays.into_iter().map(Duration::from_secs).collect(),
            content_type: "text/plain; charset=UTF-8".into(),
        }
    }

    fn delay_before_retry(&self, attempt: usize) -> Option<Duration> {
        self.delays.get(attempt).copied()
    }
}

/// TLS for HTTPS subscriptions. Endpoints in development are usually self-signed, so, like other
/// emulators, lyrebird does not verify their certificates (it only delivers test data).
pub(crate) mod tls {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{
        aws_lc_rs, verify_tls12_signature, verify_tls13_signature, CryptoProvider,
    };
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

    pub fn client_config() -> ClientConfig {
        let provider = Arc::new(aws_lc_rs::default_provider());
        ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    }

    /// Accepts any certificate, but still checks that the handshake is signed by it.
    #[derive(Debug)]
    struct AcceptAny(Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod retry_policy_tests {
    use super::*;

    #[test]
    fn delay_targets_are_capped_at_an_hour() {
        for function in ["linear", "exponential", "geometric", "arithmetic"] {
            let policy = RetryPolicy::from_healthy_retry_policy(&json!({
                "minDelayTarget": u64::MAX,
                "maxDelayTarget": u64::MAX,
                "numRetries": 5,
                "numMinDelayRetries": 1,
                "numMaxDelayRetries": 1,
                "backoffFunction": function,
            }));
            assert_eq!(policy.delays.len(), 5);
            assert!(
                policy
                    .delays
                    .iter()
                    .all(|d| *d == Duration::from_secs(3_600)),
                "{function}: {:?}",
                policy.delays
            );
        }
        let policy = RetryPolicy::from_healthy_retry_policy(&json!({
            "minDelayTarget": 1, "maxDelayTarget": 1_000_000, "numRetries": 3, "numMaxDelayRetries": 3,
        }));
        assert_eq!(policy.delays, vec![Duration::from_secs(3_600); 3]);
    }
}
