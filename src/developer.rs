//! Developer endpoints: looking at what the services hold without changing it.
//!
//! LocalStack's paths, so tools and tests written for it keep working:
//! - `GET|POST /_aws/sqs/messages?QueueUrl=…` (and `/_aws/sqs/messages/<region>/<account>/<queue>`):
//!   a queue's messages in ReceiveMessage's shape, without receiving them (`ShowInvisible`,
//!   `ShowDelayed`); an SDK using that URL as its endpoint gets them from `ReceiveMessage`.
//! - `GET|DELETE /_aws/sns/sms-messages`, `GET|DELETE /_aws/sns/platform-endpoint-messages`:
//!   what SNS sent to phone numbers and mobile endpoints (`accountId`, `region`, `phoneNumber`,
//!   `endpointArn`).
//! - `GET /_aws/sns/subscription-tokens/<subscription arn>`: a subscription's confirmation token.
//!
//! lyrebird's own: the SNS ones again under `/_lyrebird/sns/`, and `GET /_lyrebird/sqs/messages`,
//! a peek in plain JSON with each message's state, receive count and age (what the console shows).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{header, StatusCode, Uri};
use serde_json::{json, Value};

use crate::context::RequestContext;
use crate::protocol::{self, Services};
use crate::server::{App, MAX_BODY_BYTES};
use crate::sns::message::Outgoing;
use crate::sqs::peek::{PeekOptions, SqsPeekService, MAX_PEEK};
use crate::sqs::queue::PeekState;

type Params = Query<HashMap<String, String>>;

/// The developer endpoints' routes.
pub fn routes() -> Router<Arc<App>> {
    let mut router = Router::new()
        .route(
            "/_aws/sqs/messages",
            get(sqs_messages_aws).post(sqs_messages_aws),
        )
        .route(
            "/_aws/sqs/messages/",
            get(sqs_messages_aws).post(sqs_messages_aws),
        )
        .route(
            "/_aws/sqs/messages/{region}/{account}/{queue}",
            get(sqs_messages_of_queue),
        )
        .route("/_lyrebird/sqs/messages", get(sqs_messages));
    for prefix in ["/_aws/sns", "/_lyrebird/sns"] {
        router = router
            .route(
                &format!("{prefix}/sms-messages"),
                get(sms_messages).delete(discard_sms_messages),
            )
            .route(
                &format!("{prefix}/platform-endpoint-messages"),
                get(platform_messages).delete(discard_platform_messages),
            )
            .route(
                &format!("{prefix}/subscription-tokens/{{*arn}}"),
                get(subscription_token),
            );
    }
    router
}

/// `ShowInvisible=true|1`, as LocalStack reads its flags.
fn flag(query: Option<&str>, name: &str) -> bool {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
    pairs
        .iter()
        .any(|(k, v)| k == name && matches!(v.to_ascii_lowercase().as_str(), "true" | "1"))
}

/// `/_aws/sqs/messages`: SQS's ReceiveMessage answered by a peek. A request from an SDK (query
/// or AWS JSON) goes through the protocol layer as it is; a plain GET (`?QueueUrl=…`) is read
/// as the query protocol's ReceiveMessage, so it is answered in XML, or in JSON with
/// `Accept: application/json`.
async fn sqs_messages_aws(State(app): State<Arc<App>>, request: Request) -> Response {
    peek_through_protocol(app, request, None).await
}

/// `/_aws/sqs/messages/<region>/<account>/<queue>`: the same, the queue named by the path.
async fn sqs_messages_of_queue(
    State(app): State<Arc<App>>,
    Path((region, account, queue)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    // An AWS-style URL carries the region to the queue lookup.
    let url = format!("https://sqs.{region}.amazonaws.com/{account}/{queue}");
    peek_through_protocol(app, request, Some(url)).await
}

async fn peek_through_protocol(
    app: Arc<App>,
    request: Request,
    queue_url: Option<String>,
) -> Response {
    let (parts, body) = request.into_parts();
    let options = PeekOptions {
        show_invisible: flag(parts.uri.query(), "ShowInvisible"),
        show_delayed: flag(parts.uri.query(), "ShowDelayed"),
        limit: MAX_PEEK,
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let from_sdk =
        content_type.contains("x-amz-") || content_type.contains("x-www-form-urlencoded");
    if !from_sdk && wants_json(&parts.headers) {
        return peek_as_localstack_json(&app, &parts.uri, queue_url, options);
    }
    let uri = if from_sdk && queue_url.is_none() {
        parts.uri
    } else {
        let mut extra = vec![("Action", "ReceiveMessage".to_string())];
        if let Some(url) = queue_url {
            extra.push(("QueueUrl", url));
        }
        with_parameters(&parts.uri, &extra)
    };
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            crate::error::AwsError::new(
                &crate::error::codes::REQUEST_TOO_LARGE,
                "Request body is too large.",
            )
        });
    let peek = Arc::new(SqsPeekService {
        sqs: app.sqs.clone(),
        options,
    });
    let services = Services::default().query(peek.clone()).json(peek);
    let host = Uncounted(&app);
    protocol::handle(&host, &services, parts.method, uri, parts.headers, body).await
}

/// The server as the protocol layer sees it, minus `/metrics`: a peek is not a ReceiveMessage
/// and is not counted as one.
struct Uncounted<'a>(&'a App);

impl protocol::Host for Uncounted<'_> {
    fn default_account(&self) -> &str {
        self.0.default_account()
    }

    fn default_region(&self) -> &str {
        self.0.default_region()
    }

    fn default_host(&self) -> &str {
        self.0.default_host()
    }

    fn mark_used(&self, service: &'static str) {
        self.0.mark_used(service)
    }

    fn unsettled_store(&self) -> Option<crate::store::SharedStore> {
        self.0.unsettled_store()
    }
}

fn wants_json(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// A plain GET asking for JSON: LocalStack's document, the XML answer as `xmltodict` reads it
/// (`Message` and `Attribute` are an object when there is one, a list when there are more),
/// which is what tools written against LocalStack parse.
fn peek_as_localstack_json(
    app: &App,
    uri: &Uri,
    queue_url: Option<String>,
    options: PeekOptions,
) -> Response {
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let queue_url = queue_url.or_else(|| params.get("QueueUrl").cloned());
    let ctx = RequestContext::internal(
        &app.config.account_id,
        &app.config.region,
        &app.default_host,
    );
    let output = match app.sqs.peek_as_receive(&ctx, queue_url.as_deref(), options) {
        Ok(output) => output,
        Err(e) => {
            let body = json!({ "ErrorResponse": { "Error": {
                "Type": e.fault(), "Code": e.code.query_code, "Message": e.message,
            }, "RequestId": ctx.request_id }});
            let status = StatusCode::from_u16(e.code.status).unwrap_or(StatusCode::BAD_REQUEST);
            return (status, Json(body)).into_response();
        }
    };
    let one_or_many = |mut list: Vec<Value>| match list.len() {
        0 => Value::Null,
        1 => list.remove(0),
        _ => Value::Array(list),
    };
    let messages: Vec<Value> = output
        .messages
        .into_iter()
        .map(|m| {
            let attributes = m
                .attributes
                .iter()
                .map(|(name, value)| json!({ "Name": name, "Value": value }))
                .collect();
            let user = m
                .message_attributes
                .iter()
                .map(|(name, value)| json!({ "Name": name, "Value": value }))
                .collect();
            let mut doc = json!({
                "MessageId": m.message_id,
                "ReceiptHandle": m.receipt_handle,
                "MD5OfBody": m.md5_of_body,
                "Body": m.body,
                "Attribute": one_or_many(attributes),
            });
            if let Some(md5) = m.md5_of_message_attributes {
                doc["MD5OfMessageAttributes"] = Value::String(md5);
                doc["MessageAttribute"] = one_or_many(user);
            }
            doc
        })
        .collect();
    let result = match one_or_many(messages) {
        Value::Null => Value::Null,
        some => json!({ "Message": some }),
    };
    Json(json!({ "ReceiveMessageResponse": {
        "ReceiveMessageResult": result,
        "ResponseMetadata": { "RequestId": ctx.request_id },
    }}))
    .into_response()
}

/// `uri` with parameters added to its query string.
fn with_parameters(uri: &Uri, extra: &[(&str, String)]) -> Uri {
    let added = serde_urlencoded::to_string(extra).unwrap_or_default();
    let query = match uri.query() {
        Some(q) if !q.is_empty() => format!("{q}&{added}"),
        _ => added,
    };
    format!("{}?{query}", uri.path())
        .parse()
        .unwrap_or_else(|_| uri.clone())
}

/// `GET /_lyrebird/sqs/messages?QueueUrl=…[&region=…][&limit=…]`: every message (visible, in
/// flight, delayed) in send order, with its state and timings; nothing about them changes.
async fn sqs_messages(State(app): State<Arc<App>>, Query(params): Params) -> Response {
    let region = params
        .get("region")
        .cloned()
        .unwrap_or_else(|| app.config.region.clone());
    let account = params
        .get("account")
        .cloned()
        .unwrap_or_else(|| app.config.account_id.clone());
    let ctx = RequestContext::internal(&account, &region, &app.default_host);
    let limit = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(100);
    let options = PeekOptions {
        show_invisible: true,
        show_delayed: true,
        limit,
    };
    let (queue, peek) =
        match app
            .sqs
            .peek(&ctx, params.get("QueueUrl").map(String::as_str), options)
        {
            Ok(found) => found,
            Err(e) => {
                let body = json!({ "error": e.code.shape, "message": e.message });
                return (StatusCode::NOT_FOUND, Json(body)).into_response();
            }
        };
    let now = app.sqs.clock_ms();
    let messages: Vec<Value> = peek
        .messages
        .iter()
        .map(|(m, state)| {
            let (state, until) = match *state {
                PeekState::Visible => ("visible", None),
                PeekState::InFlight { until_ms } => ("inFlight", Some(until_ms)),
                PeekState::Delayed { until_ms } => ("delayed", Some(until_ms)),
            };
            json!({
                "messageId": m.message_id(),
                "body": m.body,
                "md5OfBody": m.md5_of_body_hex(),
                "state": state,
                "visibleInSeconds": until.map(|u| u.saturating_sub(now) as f64 / 1000.0),
                "receiveCount": m.receive_count,
                "sentTimestamp": m.sent_ms,
                "ageSeconds": now.saturating_sub(m.sent_ms) as f64 / 1000.0,
                "firstReceiveTimestamp": m.first_receive_ms(),
                "senderId": m.sender_id,
                "messageGroupId": m.message_group_id(),
                "messageDeduplicationId": m.deduplication_id(),
                "sequenceNumber": m.sequence_number(),
                "deadLetterQueueSourceArn": m.dead_letter_source_arn(),
                "messageAttributes": m.attributes(),
            })
        })
        .collect();
    Json(json!({
        "queueUrl": crate::sqs::SqsService::queue_url(&ctx, &queue),
        "queueArn": queue.arn,
        "counts": {
            "visible": peek.counts.visible,
            "inFlight": peek.counts.in_flight,
            "delayed": peek.counts.delayed,
        },
        "countsExact": peek.counts_exact,
        "oldestAgeSeconds": peek.oldest_sent_ms.map(|s| now.saturating_sub(s) as f64 / 1000.0),
        "messages": messages,
    }))
    .into_response()
}

/// The account and region a LocalStack SNS endpoint reads (`accountId`, `region`), defaulting
/// to the server's.
fn account_region(app: &App, params: &HashMap<String, String>) -> (String, String) {
    (
        params
            .get("accountId")
            .cloned()
            .unwrap_or_else(|| app.config.account_id.clone()),
        params
            .get("region")
            .cloned()
            .unwrap_or_else(|| app.config.region.clone()),
    )
}

/// The account and region of an ARN (`arn:aws:sns:<region>:<account>:…`).
fn arn_account_region(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, _, region, account, _] if !region.is_empty() && !account.is_empty() => {
            Some((account.to_string(), region.to_string()))
        }
        _ => None,
    }
}

/// A captured delivery in LocalStack's retrospection shape.
fn sent_message(o: &Outgoing, target: &str) -> Value {
    let mut doc = json!({
        "TopicArn": o.topic_arn,
        "MessageId": o.message_id,
        "Message": o.message,
        "MessageAttributes": o.attributes,
        "MessageStructure": o.message_structure,
        "Subject": o.subject,
    });
    doc[target] = Value::String(o.endpoint.clone());
    if target == "PhoneNumber" {
        doc["SubscriptionArn"] = json!(o.subscription_arn);
    }
    doc
}

/// Captured deliveries of `protocol`, grouped by endpoint (the one asked for stays listed, if
/// empty, as LocalStack answers).
fn grouped(
    app: &App,
    protocol: &str,
    account: &str,
    region: &str,
    endpoint: Option<&str>,
    target: &str,
) -> serde_json::Map<String, Value> {
    let mut by_endpoint = serde_json::Map::new();
    if let Some(e) = endpoint {
        by_endpoint.insert(e.to_string(), json!([]));
    }
    for o in app
        .sns
        .deliveries()
        .captured(protocol, account, region, endpoint)
    {
        let entry = by_endpoint
            .entry(o.endpoint.clone())
            .or_insert_with(|| json!([]));
        if let Value::Array(list) = entry {
            list.push(sent_message(&o, target));
        }
    }
    by_endpoint
}

/// `GET /_aws/sns/sms-messages`: SMS sent, by phone number.
async fn sms_messages(State(app): State<Arc<App>>, Query(params): Params) -> Response {
    let (account, region) = account_region(&app, &params);
    let phone = params.get("phoneNumber").map(String::as_str);
    let messages = grouped(&app, "sms", &account, &region, phone, "PhoneNumber");
    Json(json!({ "sms_messages": messages, "region": region })).into_response()
}

async fn discard_sms_messages(State(app): State<Arc<App>>, Query(params): Params) -> Response {
    let (account, region) = account_region(&app, &params);
    let phone = params.get("phoneNumber").map(String::as_str);
    app.sns
        .deliveries()
        .discard("sms", &account, &region, phone);
    StatusCode::NO_CONTENT.into_response()
}

/// The account and region of the platform endpoint asked for (its ARN wins), else the
/// parameters'.
fn endpoint_scope(app: &App, params: &HashMap<String, String>) -> (String, String) {
    params
        .get("endpointArn")
        .and_then(|arn| arn_account_region(arn))
        .unwrap_or_else(|| account_region(app, params))
}

/// `GET /_aws/sns/platform-endpoint-messages`: pushes sent, by endpoint ARN.
async fn platform_messages(State(app): State<Arc<App>>, Query(params): Params) -> Response {
    let (account, region) = endpoint_scope(&app, &params);
    let endpoint = params.get("endpointArn").map(String::as_str);
    let messages = grouped(
        &app,
        "application",
        &account,
        &region,
        endpoint,
        "TargetArn",
    );
    Json(json!({ "platform_endpoint_messages": messages, "region": region })).into_response()
}

async fn discard_platform_messages(State(app): State<Arc<App>>, Query(params): Params) -> Response {
    let (account, region) = endpoint_scope(&app, &params);
    let endpoint = params.get("endpointArn").map(String::as_str);
    app.sns
        .deliveries()
        .discard("application", &account, &region, endpoint);
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_aws/sns/subscription-tokens/<arn>`: 400 for what is not an ARN, 404 for a
/// subscription that does not exist (or has no token), as LocalStack answers.
async fn subscription_token(State(app): State<Arc<App>>, Path(arn): Path<String>) -> Response {
    let error = |status: StatusCode, error: &str| {
        let body = json!({ "error": error, "subscription_arn": arn });
        (status, Json(body)).into_response()
    };
    if arn_account_region(&arn).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "The provided SubscriptionARN is invalid",
        );
    }
    match app.sns.subscription_token(&arn) {
        Some(token) => {
            Json(json!({ "subscription_token": token, "subscription_arn": arn })).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "The provided SubscriptionARN is not found",
        ),
    }
}
