//! The web console at `/_lyrebird/console/`: one HTML page, a stylesheet and a script compiled
//! into the binary (no CDN, nothing downloaded), and a few JSON routes under
//! `/_lyrebird/console/api/` for what the AWS APIs do not say (queue counts with the oldest
//! message's age, the filter tester, why an event pattern did not match, deleting a peeked
//! message, server facts).
//!
//! Everything else the page does goes through the AWS APIs themselves, on the same port: SQS
//! over AWS JSON, SNS over the query protocol with `Accept: application/json`, with an
//! `Authorization` credential scope naming the account and region chosen in the page;
//! EventBridge over AWS JSON 1.1 (the pattern tester is TestEventPattern; only its "why not" is
//! asked here); Lambda over its REST API (Invoke with `LogType: Tail`, UpdateEventSourceMapping).
//! Peeking is the developer endpoint `/_lyrebird/sqs/messages`; deliveries
//! `/_lyrebird/sns/deliveries`; recent invocations `/_lyrebird/lambda/invocations`.
//!
//! Adding a page: a route in `app.js`'s `pages` table and a link in `index.html`'s nav; a JSON
//! route here only for what the service's API does not give.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{header, StatusCode};
use serde_json::{json, Value};

use crate::context::RequestContext;
use crate::events::pattern::EventPattern;
use crate::server::App;
use crate::sns::filter::{FilterPolicy, FilterScope};
use crate::sqs::model::{MessageAttributeValue, MessageAttributes};

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/_lyrebird/console",
            get(|| async { Redirect::permanent("/_lyrebird/console/") }),
        )
        .route("/_lyrebird/console/", get(page))
        .route("/_lyrebird/console/api/info", get(info))
        .route("/_lyrebird/console/api/queues", get(queues))
        .route("/_lyrebird/console/api/filter-test", post(filter_test))
        .route(
            "/_lyrebird/console/api/pattern-explain",
            post(pattern_explain),
        )
        .route(
            "/_lyrebird/console/api/delete-message",
            post(delete_message),
        )
}

/// The page, with its stylesheet and script inline (one request: the console is interactive
/// after one round trip for the page and one for its first data) and the server's default
/// account and region.
async fn page(State(app): State<Arc<App>>) -> Response {
    let boot = json!({ "account": app.config.account_id, "region": app.config.region });
    // `</` cannot end the boot element early: JSON escapes it as `<\/`.
    let boot = boot.to_string().replace("</", "<\\/");
    let html = INDEX
        .replacen("/*STYLE*/", STYLE, 1)
        .replacen("/*BOOT*/", &boot, 1)
        .replacen("/*SCRIPT*/", SCRIPT, 1);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Scope {
    account: Option<String>,
    region: Option<String>,
}

impl Scope {
    fn context(&self, app: &App) -> RequestContext {
        RequestContext::internal(
            self.account.as_deref().unwrap_or(&app.config.account_id),
            self.region.as_deref().unwrap_or(&app.config.region),
            &app.default_host,
        )
    }
}

/// Version, storage mode and data directory, and the defaults the selector starts from.
async fn info(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "storage": app.store.describe(),
        "dataDir": app.config.storage_dir().map(|d| d.display().to_string()),
        "durability": format!("{:?}", app.config.durability).to_lowercase(),
        "account": app.config.account_id,
        "region": app.config.region,
        "uptimeSeconds": app.started.elapsed().as_secs(),
        "queues": app.sqs.queue_count(),
        "topics": app.sns.topic_count(),
        "eventBuses": app.events.bus_count(),
        "functions": app.lambda.function_count(),
        "metrics": app.config.metrics,
    }))
}

/// The queues of an account and region with their counts and oldest message's age.
async fn queues(State(app): State<Arc<App>>, Query(scope): Query<Scope>) -> Json<Value> {
    let ctx = scope.context(&app);
    let now = app.sqs.clock_ms();
    let list: Vec<Value> = app
        .sqs
        .queues_in(&ctx.account, &ctx.region)
        .iter()
        .map(|q| {
            let g = q.gauges(now);
            json!({
                "name": q.name,
                "url": crate::sqs::SqsService::queue_url(&ctx, q),
                "arn": q.arn,
                "fifo": q.is_fifo(),
                "visible": g.counts.visible,
                "inFlight": g.counts.in_flight,
                "delayed": g.counts.delayed,
                "oldestAgeSeconds": g.oldest_sent_ms.map(|s| now.saturating_sub(s) / 1000),
            })
        })
        .collect();
    Json(json!({ "queues": list }))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterTest {
    policy: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    message: String,
    /// Attribute name → `{DataType, StringValue}` (or a bare string: a `String` attribute).
    #[serde(default)]
    attributes: serde_json::Map<String, Value>,
}

/// The filter tester: compiles the policy as Subscribe would (its error, if any, is AWS's
/// wording) and says whether the message matches, and if not which key failed.
async fn filter_test(Json(test): Json<FilterTest>) -> Json<Value> {
    let scope = match test.scope.as_deref() {
        Some("MessageBody") => FilterScope::MessageBody,
        _ => FilterScope::MessageAttributes,
    };
    let policy = match FilterPolicy::compile(&test.policy, scope) {
        Ok(p) => p,
        Err(reason) => {
            let error = crate::sns::filter::error_message(&reason, true);
            return Json(json!({ "valid": false, "error": error }));
        }
    };
    let attributes: MessageAttributes = test
        .attributes
        .into_iter()
        .map(|(name, v)| {
            let value = match v {
                Value::String(s) => MessageAttributeValue {
                    data_type: Some("String".into()),
                    string_value: Some(s),
                    ..Default::default()
                },
                other => serde_json::from_value(other).unwrap_or_default(),
            };
            (name, value)
        })
        .collect();
    let reason = policy.explain(&attributes, &test.message);
    Json(json!({
        "valid": true,
        "matches": reason.is_none(),
        "reason": reason.unwrap_or_else(|| "every key of the policy matched".into()),
    }))
}

#[derive(serde::Deserialize)]
struct PatternExplain {
    pattern: String,
    event: String,
}

/// Why an event does not match a pattern (TestEventPattern answers only whether): the pattern's
/// first failing key per alternative. A pattern or event TestEventPattern rejects gets its
/// error here too, in AWS's words.
async fn pattern_explain(Json(req): Json<PatternExplain>) -> Json<Value> {
    let pattern = match EventPattern::parse(&req.pattern) {
        Ok(p) => p,
        Err(e) => return Json(json!({ "valid": false, "error": e.message() })),
    };
    let event = match crate::events::pattern::parse_test_event(&req.event) {
        Ok(event) => event,
        Err(message) => return Json(json!({ "valid": false, "error": message })),
    };
    let reason = pattern.explain(&event);
    Json(json!({
        "valid": true,
        "matches": reason.is_none(),
        "reason": reason.unwrap_or_else(|| "every key of the pattern matched".into()),
    }))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteMessage {
    queue_url: String,
    message_id: String,
    account: Option<String>,
    region: Option<String>,
}

/// Deletes one peeked message by id, through the SQS service.
async fn delete_message(State(app): State<Arc<App>>, Json(req): Json<DeleteMessage>) -> Response {
    let scope = Scope {
        account: req.account,
        region: req.region,
    };
    let ctx = scope.context(&app);
    match app
        .sqs
        .delete_message_by_id(&ctx, Some(&req.queue_url), &req.message_id)
        .await
    {
        Ok(deleted) => Json(json!({ "deleted": deleted })).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.code.shape, "message": e.message })),
        )
            .into_response(),
    }
}
