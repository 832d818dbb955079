//! One event to one target: the target's input (`Input`, `InputPath`, `InputTransformer` or
//! the event), then SQS and SNS through their own send paths (so MD5s, FIFO, deduplication and
//! filter policies apply), Lambda (asynchronous invoke), another bus, or an API destination
//! over HTTP. SQS, SNS, Lambda and bus targets are in-process and answer at once; HTTP runs in
//! a bounded background task: it waits for its turn under the destination's
//! `InvocationRateLimitPerSecond` (`rate_limit.rs`), authorises the call (the connection's
//! headers, or an OAuth bearer token, `oauth.rs`), and is retried with back-off on the service
//! clock per the target's `RetryPolicy`. What cannot be delivered goes to the target's
//! `DeadLetterConfig` queue with the attributes AWS adds (`ERROR_CODE` from AWS's documented
//! list).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::clock::Clock;
use crate::context::RequestContext;
use crate::lambda::{InvocationSource, InvokeRequest};
use crate::sns::model::{PublishFields, PublishInput};
use crate::sqs::messages::Forwarded;
use crate::sqs::model::{MessageAttributeValue, MessageAttributes};
use crate::sqs::SqsService;

use super::model::Target;
use super::oauth::{TokenRequest, Tokens};
use super::put_events::Event;
use super::rate_limit::RateLimits;
use super::stats::{bump, RuleStats};
use super::transform::{input_path, InputTransformer, JsonPath, RuleContext};
use super::EventsService;

/// AWS's defaults: 185 retries within 24 hours.
const DEFAULT_RETRIES: i64 = 185;
const DEFAULT_MAX_AGE_S: i64 = 86_400;
/// An API destination must answer within 5 seconds (AWS's limit).
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP deliveries pending at once (sending or waiting to retry); beyond it one fails at once.
const HTTP_BACKLOG: usize = 10_000;
/// Bus-to-bus hops an event may make (a loop guard).
const MAX_HOPS: u8 = 4;

pub(super) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The delivery machinery shared by all rules.
pub struct Deliveries {
    pub(super) http: HttpClient,
    pending: Arc<AtomicUsize>,
    /// OAuth tokens of connections, by connection ARN.
    pub(super) tokens: Arc<Tokens>,
    /// API destinations' invocation rate limits.
    pub(super) limits: Arc<RateLimits>,
}

impl Deliveries {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::sns::delivery::tls::client_config())
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Deliveries {
            http: Client::builder(TokioExecutor::new()).build(connector),
            pending: Arc::default(),
            tokens: Arc::default(),
            limits: Arc::default(),
        }
    }
}

impl Default for Deliveries {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a delivery failed: AWS's DLQ `ERROR_CODE` and message, and whether it is retried.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    pub retryable: bool,
    /// The API destination's HTTP status, when it answered.
    pub status: Option<u16>,
}

impl Failure {
    fn final_(code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            retryable: false,
            status: None,
        }
    }

    fn retryable(code: &'static str, message: impl Into<String>, status: Option<u16>) -> Self {
        Failure {
            code,
            message: message.into(),
            retryable: true,
            status,
        }
    }
}

/// Where a failed delivery goes, and what it says there.
#[derive(Debug, Clone)]
struct DeadLetter {
    queue_arn: String,
    rule_arn: String,
    target_arn: String,
    body: String,
    /// The rule's counters (InvocationsSentToDlq).
    stats: Arc<RuleStats>,
}

impl DeadLetter {
    fn send(
        &self,
        sqs: &SqsService,
        caller: &RequestContext,
        failure: &Failure,
        exhausted: Option<(&str, u32)>,
    ) {
        let string = |v: &str| MessageAttributeValue {
            string_value: Some(v.to_string()),
            data_type: Some("String".into()),
            ..Default::default()
        };
        let mut attributes = MessageAttributes::new();
        attributes.insert("ERROR_CODE".into(), string(failure.code));
        attributes.insert("ERROR_MESSAGE".into(), string(&failure.message));
        attributes.insert("RULE_ARN".into(), string(&self.rule_arn));
        attributes.insert("TARGET_ARN".into(), string(&self.target_arn));
        if let Some((condition, attempts)) = exhausted {
            attributes.insert("EXHAUSTED_RETRY_CONDITION".into(), string(condition));
            attributes.insert("RETRY_ATTEMPTS".into(), string(&attempts.to_string()));
        }
        let message = Forwarded {
            body: self.body.clone(),
            attributes,
            ..Default::default()
        };
        match sqs.send_from_service(caller, &self.queue_arn, message, "events") {
            Ok(_) => bump(&self.stats.sent_to_dlq),
            Err(e) => {
                bump(&self.stats.dlq_failed);
                tracing::warn!(rule = %self.rule_arn, dlq = %self.queue_arn, error = %e, "EventBridge dead-letter delivery failed");
            }
        }
    }
}

impl EventsService {
    /// Delivers `event` to one target of a matched rule. Never blocks on the target.
    pub(super) fn deliver(
        &self,
        ctx: &RequestContext,
        event: &Arc<Event>,
        rule_arn: &str,
        rule_name: &str,
        target: &Target,
        stats: &Arc<RuleStats>,
    ) {
        bump(&stats.invocations);
        let dead_letter = target
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.clone())
            .map(|queue_arn| DeadLetter {
                queue_arn,
                rule_arn: rule_arn.to_string(),
                target_arn: target.arn.clone(),
                body: event.json.clone(),
                stats: stats.clone(),
            });
        let fail = |failure: Failure| {
            bump(&stats.failed_invocations);
            tracing::warn!(rule = rule_arn, target = %target.arn, code = failure.code, error = %failure.message, "EventBridge delivery failed");
            if let Some(dl) = &dead_letter {
                dl.send(&self.sqs, ctx, &failure, None);
            }
        };
        let body = match target_input(event, rule_arn, rule_name, target) {
            Ok(b) => b,
            Err(f) => return fail(f),
        };
        let service = target.arn.split(':').nth(2).unwrap_or("");
        let outcome = match service {
            "sqs" | "sns" if !self.may_reach(rule_arn, &target.arn) => Err(Failure::final_(
                "NO_PERMISSIONS",
                format!(
                    "The resource policy of {} does not allow EventBridge to deliver to it.",
                    target.arn
                ),
            )),
            "sqs" => self.to_queue(ctx, event, target, body),
            "sns" => self.to_topic(ctx, event, target, body),
            "lambda" => self.to_function(event, rule_arn, target, body),
            "events" if target.arn.contains(":event-bus/") => self.to_bus(ctx, event, target),
            "events" if target.arn.contains(":api-destination/") => {
                match self.http_request(target, body) {
                    Ok(request) => {
                        self.post(request, event, target, dead_letter.clone(), stats.clone());
                        Ok(())
                    }
                    Err(f) => Err(f),
                }
            }
            _ => Err(Failure::final_(
                "NO_RESOURCE",
                format!("lyrebird does not deliver to targets like {}.", target.arn),
            )),
        };
        if let Err(f) = outcome {
            fail(f);
        }
    }

    /// With `--auth sigv4`, another account's queue or topic takes a rule's events only where
    /// its Policy allows the rule's account or `events.amazonaws.com` to send/publish (on AWS
    /// the policy must allow the service; same-account targets are not checked here, though
    /// AWS wants that grant for them too). A missing resource is left to the delivery.
    fn may_reach(&self, rule_arn: &str, target_arn: &str) -> bool {
        if !self.resource_policies {
            return true;
        }
        let rule_account = rule_arn.split(':').nth(4).unwrap_or("");
        let (owner, policy, action) = if target_arn.split(':').nth(2) == Some("sqs") {
            let Some(queue) = self.sqs.queue_by_arn(target_arn) else {
                return true;
            };
            let policy = queue.lock_config(|c| c.policy.clone());
            (queue.account.clone(), policy, "sqs:SendMessage")
        } else {
            let Some((owner, policy)) = self.sns.topic_owner_and_policy(target_arn) else {
                return true;
            };
            (owner, policy, "SNS:Publish")
        };
        owner == rule_account
            || crate::policy::allows(policy.as_deref(), rule_account, action, target_arn)
            || crate::policy::allows_service(
                policy.as_deref(),
                "events.amazonaws.com",
                action,
                target_arn,
            )
    }

    fn to_queue(
        &self,
        ctx: &RequestContext,
        event: &Event,
        target: &Target,
        body: String,
    ) -> Result<(), Failure> {
        let (group_id, deduplication_id) = fifo_ids(target, event);
        let message = Forwarded {
            body,
            group_id,
            deduplication_id,
            trace_header: event.trace_header.clone(),
            ..Default::default()
        };
        self.sqs
            .send_from_service(ctx, &target.arn, message, &event.account)
            .map_err(|e| {
                let missing = e.code == &crate::error::codes::QUEUE_DOES_NOT_EXIST;
                refused(missing, "Queue", &target.arn, e)
            })
    }

    fn to_topic(
        &self,
        ctx: &RequestContext,
        event: &Event,
        target: &Target,
        body: String,
    ) -> Result<(), Failure> {
        let parts: Vec<&str> = target.arn.split(':').collect();
        let (Some(region), Some(account)) = (parts.get(3), parts.get(4)) else {
            return Err(Failure::final_("NO_RESOURCE", "Invalid topic ARN."));
        };
        let mut topic_ctx = RequestContext::internal(account, region, &ctx.host);
        topic_ctx.writes = ctx.writes.clone();
        topic_ctx.trace_header = event.trace_header.clone();
        let (message_group_id, message_deduplication_id) = fifo_ids(target, event);
        let input = PublishInput {
            topic_arn: Some(target.arn.clone()),
            fields: PublishFields {
                message: Some(body),
                message_group_id,
                message_deduplication_id,
                ..Default::default()
            },
            ..Default::default()
        };
        self.sns
            .publish(&topic_ctx, input)
            .map(|_| ())
            .map_err(|e| refused(e.code.status == 404, "Topic", &target.arn, e))
    }

    /// An asynchronous invocation: once Lambda accepts the event, delivery succeeded (the
    /// function's own retries and destinations are Lambda's business, as on AWS).
    fn to_function(
        &self,
        event: &Event,
        rule_arn: &str,
        target: &Target,
        body: String,
    ) -> Result<(), Failure> {
        let parts: Vec<&str> = target.arn.split(':').collect();
        let (Some(region), Some(account)) = (parts.get(3), parts.get(4)) else {
            return Err(Failure::final_("NO_RESOURCE", "Invalid function ARN."));
        };
        let request = InvokeRequest::new(
            body,
            InvocationSource::Events {
                arn: rule_arn.to_string(),
            },
        );
        let _ = event;
        self.lambda
            .invoke_async(
                account,
                region,
                &target.arn,
                request,
                crate::lambda::FailureRoute::default(),
            )
            .map_err(|e| {
                if e.code.status == 404 || e.code.shape == "ResourceNotFoundException" {
                    Failure::final_("NO_RESOURCE", e.message)
                } else {
                    Failure::final_("THROTTLING", e.message)
                }
            })
    }

    /// Another bus (of this or another account or region): its rules see the same event.
    fn to_bus(&self, ctx: &RequestContext, event: &Event, target: &Target) -> Result<(), Failure> {
        if event.hops >= MAX_HOPS {
            return Err(Failure::final_(
                "THIRD_ACCOUNT_HOP_DETECTED",
                "The event went through too many event buses.",
            ));
        }
        let key = super::buses::bus_key(ctx, Some(&target.arn));
        if key.2 == super::buses::DEFAULT_BUS {
            self.ensure_default_bus(ctx, &key.0, &key.1);
        }
        if !self.state.read().buses.contains_key(&key) {
            return Err(Failure::final_(
                "NO_RESOURCE",
                format!("Event bus {} does not exist.", key.2),
            ));
        }
        let mut next = event.clone();
        next.hops += 1;
        self.route(ctx, Arc::new(next), &key, None);
        Ok(())
    }
}

/// A FIFO queue's or topic's message group (`SqsParameters.MessageGroupId`) and
/// deduplication id (the event id, so a redelivered event is dropped); none for standard ones.
fn fifo_ids(target: &Target, event: &Event) -> (Option<String>, Option<String>) {
    if !target.arn.ends_with(".fifo") {
        return (None, None);
    }
    let group = target
        .sqs_parameters
        .as_ref()
        .and_then(|p| p.message_group_id.clone());
    (group, Some(event.id.clone()))
}

/// A queue or topic that refused the event: `NO_RESOURCE` when it does not exist, else
/// `INVALID_PARAMETER` with its own words.
fn refused(missing: bool, what: &str, arn: &str, e: crate::error::AwsError) -> Failure {
    if missing {
        Failure::final_("NO_RESOURCE", format!("{what} {arn} does not exist."))
    } else {
        Failure::final_("INVALID_PARAMETER", e.message)
    }
}

/// The body a target receives.
fn target_input(
    event: &Event,
    rule_arn: &str,
    rule_name: &str,
    target: &Target,
) -> Result<String, Failure> {
    if let Some(input) = &target.input {
        return Ok(input.clone());
    }
    if let Some(path) = &target.input_path {
        let path = JsonPath::parse(path)
            .map_err(|e| Failure::final_("INVALID_PARAMETER", e.message(&target.id)))?;
        return Ok(input_path(&path, &event.value).unwrap_or_else(|| "null".into()));
    }
    if let Some(t) = &target.input_transformer {
        let transformer = InputTransformer::new(
            &t.input_paths_map.clone().unwrap_or_default(),
            &t.input_template,
        )
        .map_err(|e| Failure::final_("INVALID_PARAMETER", e.message(&target.id)))?;
        let ctx = RuleContext {
            rule_arn: rule_arn.to_string(),
            rule_name: rule_name.to_string(),
            ingestion_time: super::put_events::event_time(event.ingested_ms),
        };
        // A JSON template that came out as invalid JSON is not delivered (as AWS).
        return transformer.apply(&event.value, &ctx).map_err(|text| {
            Failure::final_(
                "INVALID_JSON",
                format!("The transformed input is not valid JSON: {text}"),
            )
        });
    }
    Ok(event.json.clone())
}

/// One API destination call, ready to send (and to send again).
#[derive(Debug, Clone)]
struct HttpCall {
    method: http::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
    /// The destination's ARN and `InvocationRateLimitPerSecond`.
    destination_arn: String,
    rate: u32,
    /// The connection's ARN, and its token request when it is an OAuth one (each attempt then
    /// carries a bearer token).
    connection: Option<String>,
    oauth: Option<TokenRequest>,
}

impl EventsService {
    /// The request an API destination target gets: the destination's method and endpoint
    /// (`*` replaced by the path parameters), the connection's auth and invocation
    /// parameters, then the target's own headers and query parameters.
    fn http_request(&self, target: &Target, body: String) -> Result<HttpCall, Failure> {
        let reg = self.state.read();
        let destination = reg
            .destinations
            .values()
            .find(|d| {
                target.arn == d.arn || target.arn.starts_with(&format!("{}/", d.arn_prefix()))
            })
            .ok_or_else(|| {
                Failure::final_(
                    "NO_RESOURCE",
                    format!("API destination {} does not exist.", target.arn),
                )
            })?;
        let connection = reg
            .connections
            .values()
            .find(|c| c.arn == destination.connection_arn);
        let mut oauth = None;
        if let Some(c) = connection {
            // A connection that could not get a token, or whose credentials the endpoint
            // refused, is deauthorized until it is updated (AWS's documented behaviour): its
            // calls are refused.
            if let Some(reason) = c.deauthorized() {
                return Err(Failure::final_(
                    "NO_PERMISSIONS",
                    format!("Connection {} is deauthorized: {reason}", c.name),
                ));
            }
            if c.is_oauth() {
                oauth = Some(TokenRequest::from_auth_parameters(&c.auth_parameters));
            }
        }
        let mut url = destination.endpoint.clone();
        let params = target.http_parameters.as_ref();
        for value in params
            .and_then(|p| p.path_parameter_values.as_ref())
            .into_iter()
            .flatten()
        {
            url = url.replacen('*', value, 1);
        }
        let mut headers = vec![(
            "content-type".to_string(),
            "application/json; charset=utf-8".to_string(),
        )];
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some(c) = connection {
            headers.extend(c.auth_headers());
            query.extend(c.invocation_query());
            headers.extend(c.invocation_headers());
        }
        if let Some(p) = params {
            for (k, v) in p.header_parameters.iter().flatten() {
                headers.push((k.to_ascii_lowercase(), v.clone()));
            }
            for (k, v) in p.query_string_parameters.iter().flatten() {
                query.push((k.clone(), v.clone()));
            }
        }
        if !query.is_empty() {
            let encoded = serde_urlencoded::to_string(&query).unwrap_or_default();
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&encoded);
        }
        let method = http::Method::from_bytes(destination.http_method.as_bytes())
            .unwrap_or(http::Method::POST);
        Ok(HttpCall {
            method,
            url,
            headers,
            body,
            destination_arn: destination.arn.clone(),
            rate: u32::try_from(destination.rate_limit).unwrap_or(1).max(1),
            connection: connection.map(|c| c.arn.clone()),
            oauth,
        })
    }

    /// Sends an API destination call in the background: each attempt waits for its turn
    /// under the destination's rate limit and carries the connection's OAuth token, if any;
    /// failures are retried per the target's policy.
    fn post(
        &self,
        call: HttpCall,
        event: &Event,
        target: &Target,
        dead_letter: Option<DeadLetter>,
        stats: Arc<RuleStats>,
    ) {
        let client = self.delivery.http.clone();
        let clock: Arc<Clock> = self.clock.clone();
        let sqs = self.sqs.clone();
        let pending = self.delivery.pending.clone();
        let limits = self.delivery.limits.clone();
        let tokens = self.delivery.tokens.clone();
        let service = self.me.get().cloned().unwrap_or_default();
        let policy = target.retry_policy.clone().unwrap_or_default();
        let max_retries = policy
            .maximum_retry_attempts
            .unwrap_or(DEFAULT_RETRIES)
            .max(0) as u32;
        let max_age_ms = policy
            .maximum_event_age_in_seconds
            .unwrap_or(DEFAULT_MAX_AGE_S)
            .max(0) as u64
            * 1000;
        let ingested = event.ingested_ms;
        let target_arn = target.arn.clone();
        if pending.fetch_add(1, Ordering::AcqRel) >= HTTP_BACKLOG {
            pending.fetch_sub(1, Ordering::AcqRel);
            let failure = Failure::final_("THROTTLING", "Too many deliveries pending.");
            bump(&stats.failed_invocations);
            if let Some(dl) = dead_letter {
                dl.send(&sqs, &RequestContext::internal("", "", ""), &failure, None);
            }
            return;
        }
        tokio::spawn(async move {
            let mut attempt: u32 = 0;
            let failure = loop {
                // Excess events wait for a turn; one whose turn comes after its maximum age
                // goes to the dead-letter queue instead (and gives its turn back).
                let turn = limits.reserve(&call.destination_arn, call.rate, clock.now_ms());
                if turn.saturating_sub(ingested) > max_age_ms {
                    limits.release(&call.destination_arn);
                    let failure = Failure::final_(
                        "THROTTLING",
                        "The API destination's invocation rate limit held the event past its maximum event age.",
                    );
                    break (failure, Some(("MaximumEventAgeInSeconds", attempt)));
                }
                clock.sleep_until_ms(turn).await;
                let token = match (&call.connection, &call.oauth) {
                    (Some(connection), Some(request)) => {
                        let token =
                            bearer_token(&client, &clock, &tokens, &service, connection, request);
                        match token.await {
                            Ok(token) => Some(token),
                            Err(failure) => break (failure, None),
                        }
                    }
                    _ => None,
                };
                let failure = match send_once(&client, &call, token.as_deref()).await {
                    Ok(()) => {
                        pending.fetch_sub(1, Ordering::AcqRel);
                        return;
                    }
                    Err(f) => f,
                };
                // Refused credentials: an OAuth connection's next attempt asks for a new token;
                // an API-key or basic one is deauthorized (AWS's documented behaviour), so the
                // event is not retried with credentials known to be refused.
                if let (Some(connection), Some(401 | 407)) = (&call.connection, failure.status) {
                    if call.oauth.is_some() {
                        tokens.forget(connection);
                    } else {
                        if let Some(service) = service.upgrade() {
                            service.authorized(connection, Err(failure.message.clone()));
                        }
                        break (failure, None);
                    }
                }
                if !failure.retryable {
                    break (failure, None);
                }
                if attempt >= max_retries {
                    break (failure, Some(("MaximumRetryAttempts", attempt)));
                }
                // Exponential back-off: 1 s, 2 s, 4 s … capped at 5 minutes.
                let delay = 1000u64 << attempt.min(8);
                let at = clock.now_ms().saturating_add(delay.min(300_000));
                if at.saturating_sub(ingested) > max_age_ms {
                    break (failure, Some(("MaximumEventAgeInSeconds", attempt)));
                }
                clock.sleep_until_ms(at).await;
                attempt += 1;
                bump(&stats.retry_attempts);
            };
            pending.fetch_sub(1, Ordering::AcqRel);
            bump(&stats.failed_invocations);
            tracing::warn!(target = %target_arn, code = failure.0.code, error = %failure.0.message, "EventBridge API destination delivery failed");
            if let Some(dl) = dead_letter {
                dl.send(
                    &sqs,
                    &RequestContext::internal("", "", ""),
                    &failure.0,
                    failure.1,
                );
            }
        });
    }
}

/// An OAuth connection's token: the one in use, else a new one from its authorization
/// endpoint (the connection is AUTHORIZED again, or DEAUTHORIZED with the reason).
async fn bearer_token(
    client: &HttpClient,
    clock: &Clock,
    tokens: &Tokens,
    service: &Weak<EventsService>,
    connection: &str,
    request: &TokenRequest,
) -> Result<String, Failure> {
    if let Some(token) = tokens.get(connection, clock.now_ms()) {
        return Ok(token);
    }
    let fetched = request.fetch(client, clock.now_ms()).await;
    let outcome = match &fetched {
        Ok(token) => {
            tokens.put(connection, token.clone());
            Ok(token.access_token.clone())
        }
        Err(reason) => Err(Failure::final_(
            "NO_PERMISSIONS",
            format!("The connection could not be authorized: {reason}"),
        )),
    };
    if let Some(service) = service.upgrade() {
        service.authorized(connection, fetched.map(|_| ()));
    }
    outcome
}

async fn send_once(
    client: &HttpClient,
    call: &HttpCall,
    bearer: Option<&str>,
) -> Result<(), Failure> {
    let mut request = http::Request::builder()
        .method(call.method.clone())
        .uri(call.url.as_str())
        .header("user-agent", "Amazon/EventBridge/ApiDestinations");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    for (k, v) in &call.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(call.body.clone())))
        .map_err(|e| Failure::final_("INVALID_PARAMETER", e.to_string()))?;
    match tokio::time::timeout(HTTP_TIMEOUT, client.request(request)).await {
        Err(_) => Err(Failure::retryable(
            "TIMEOUT",
            "The API destination did not answer in time.",
            None,
        )),
        Ok(Err(e)) => Err(Failure::retryable(
            "CONNECTION_FAILURE",
            e.to_string(),
            None,
        )),
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            match status {
                200..=299 => Ok(()),
                // AWS retries 401, 407, 409, 429 and 5xx; other answers are final.
                401 | 407 | 409 | 429 | 500..=599 => Err(Failure::retryable(
                    "ERROR_FROM_TARGET",
                    format!("The API destination answered {status}."),
                    Some(status),
                )),
                _ => Err(Failure {
                    status: Some(status),
                    ..Failure::final_(
                        "ERROR_FROM_TARGET",
                        format!("The API destination answered {status}."),
                    )
                }),
            }
        }
    }
}
