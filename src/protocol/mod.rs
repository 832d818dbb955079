//! The protocol layer: bytes in, bytes out. It detects which wire protocol a request speaks,
//! picks the service by name, decodes the request into the service's typed operation, calls the
//! service through `crate::service::Service`, and encodes the result or the `AwsError` in that
//! protocol's exact shape. It knows nothing of queue semantics, and of the server only what
//! [`Host`] tells it.
//!
//! - AWS JSON (`aws_json`): `Content-Type: application/x-amz-json-1.x` + `X-Amz-Target:
//!   <Prefix>.<Op>`; errors as `{"__type", "message"}` plus the `x-amzn-query-error` header.
//! - REST-JSON (`rest_json`): the method and path name the operation (Lambda's
//!   `/2015-03-31/functions/...`); errors as `{"Type", "message"}` plus `x-amzn-errortype`.
//! - Query (`query`): form parameters in the body and/or URL, `Action=<Op>`; XML out, or the
//!   same document as JSON when the request sends `Accept: application/json`.
//!
//! A service's codec binding (`sqs_query`, `sqs_json`, `sns_query`, `sts_query`) implements
//! `query::QueryBinding` or `aws_json::JsonBinding` for it; [`Services`] holds the bindings the
//! server registered.

pub mod auth;
pub mod aws_json;
pub mod events_json;
pub mod lambda_esm_rest;
pub mod lambda_rest;
pub mod params;
pub mod query;
pub mod query_json;
mod reply;
pub mod rest_json;
pub mod sigv4;
pub mod sns_query;
pub mod sqs_json;
pub mod sqs_peek;
pub mod sqs_query;
pub mod sts_query;
pub mod xml;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use http::{header, HeaderMap, Method, Response, Uri};

use crate::context::RequestContext;
use crate::error::AwsError;

/// What the protocol layer needs from the server that runs it.
pub trait Host: Send + Sync {
    /// The account a request is attributed to when its credentials name none.
    fn default_account(&self) -> &str;
    /// The region of a request that is not signed.
    fn default_region(&self) -> &str;
    /// `host:port` for URLs in answers when a request carries no Host header.
    fn default_host(&self) -> &str;
    /// Records that a service (by `Service::NAME`) was asked something.
    fn mark_used(&self, service: &'static str);
    /// `--auth sigv4`: the keys requests must be signed with; `None` when any are accepted.
    fn credentials(&self) -> Option<&crate::credentials::Credentials> {
        None
    }
    /// The store while writes that failed wait to be written again (`Store::settled`).
    fn unsettled_store(&self) -> Option<crate::store::SharedStore> {
        None
    }
    /// The service clock (epoch ms), which signatures' times are checked against.
    fn now_ms(&self) -> u64 {
        crate::clock::Clock::new().now_ms()
    }

    /// Records a request's outcome (`/metrics`): the service and operation it was decoded as
    /// (`None`: no service took it), its HTTP status and how long it took.
    fn observe(
        &self,
        _operation: Option<(&'static str, &'static str)>,
        _status: u16,
        _elapsed: std::time::Duration,
    ) {
    }
}

/// The services the server answers for, bound to the protocols they speak. Registration order
/// matters to the query protocol, which tries its services in order (see `query::pick`).
#[derive(Default)]
pub struct Services {
    query: Vec<query::QueryService>,
    json: Vec<aws_json::JsonService>,
    rest: Vec<rest_json::RestService>,
}

impl Services {
    /// Serves `service` on the query protocol.
    pub fn query<S: query::QueryBinding>(mut self, service: Arc<S>) -> Self {
        self.query.push(query::QueryService::new(service));
        self
    }

    /// Serves `service` on REST-JSON, for the paths it claims.
    pub fn rest<S: rest_json::RestBinding>(mut self, service: Arc<S>) -> Self {
        self.rest.push(rest_json::RestService::new(service));
        self
    }

    /// Serves `service` on AWS JSON.
    pub fn json<S: aws_json::JsonBinding>(mut self, service: Arc<S>) -> Self {
        self.json.push(aws_json::JsonService::new(service));
        self
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |e: &[&'static str]| e.join(", ");
        let query: Vec<_> = self.query.iter().map(|e| e.name).collect();
        let json: Vec<_> = self.json.iter().map(|e| e.name).collect();
        let rest: Vec<_> = self.rest.iter().map(|e| e.name).collect();
        f.debug_struct("Services")
            .field("query", &names(&query))
            .field("json", &names(&json))
            .field("rest", &names(&rest))
            .finish()
    }
}

/// With `--auth sigv4`, an AWS request bearing the credentials file's console token here is
/// taken without a signature (the console's).
pub const CONSOLE_TOKEN_HEADER: &str = "x-lyrebird-console-token";

/// Handles one AWS API request, whatever its protocol.
pub async fn handle<H: Host + ?Sized>(
    host: &H,
    services: &Services,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, AwsError>,
) -> Response<Body> {
    let started = Instant::now();
    let mut ctx = context(host, &headers, &uri);
    // With `--auth sigv4` a request that fails verification is answered with the error in its
    // own protocol, as a body that could not be read would be.
    let body = match (host.credentials(), body) {
        // The console's calls carry the console token instead of a signature (a browser holds
        // no secret key); the credential scope still names their account and region.
        (Some(credentials), Ok(bytes))
            if credentials.console_token_matches(
                headers
                    .get(CONSOLE_TOKEN_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| format!("Bearer {v}"))
                    .as_deref(),
            ) =>
        {
            ctx.authenticated = true;
            Ok(bytes)
        }
        (Some(credentials), Ok(bytes)) => {
            match sigv4::verify(credentials, &method, &uri, &headers, &bytes, host.now_ms()) {
                Ok(caller) => {
                    ctx.account = caller.account;
                    ctx.authenticated = true;
                    Ok(bytes)
                }
                Err(e) => Err(e),
            }
        }
        (_, body) => body,
    };
    let rest = services.rest.iter().find(|s| s.claims(uri.path()));
    let (label, response) = match (rest, aws_json::target(&headers)) {
        (Some(service), _) => {
            host.mark_used(service.name);
            let response = rest_json::handle(service, &ctx, &method, &uri, headers, body).await;
            (format!("{method} {}", uri.path()), response)
        }
        (None, Some(target)) => {
            let mark_used = |service| host.mark_used(service);
            let response = aws_json::handle(&services.json, mark_used, &ctx, &target, body).await;
            (target, response)
        }
        (None, None) => {
            let mark_used = |service| host.mark_used(service);
            query::handle(
                &services.query,
                mark_used,
                &ctx,
                &method,
                &uri,
                &headers,
                body,
            )
            .await
        }
    };
    host.observe(
        ctx.operation.get().copied(),
        response.status().as_u16(),
        started.elapsed(),
    );
    tracing::debug!(
        request_id = %ctx.request_id,
        %method,
        path = uri.path(),
        operation = %label,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

fn context<H: Host + ?Sized>(host: &H, headers: &HeaderMap, uri: &Uri) -> RequestContext {
    let scope = auth::credential_scope(headers, uri.query());
    let account = scope
        .as_ref()
        .and_then(|s| auth::account_from_access_key(&s.access_key))
        .unwrap_or(host.default_account())
        .to_string();
    let region = scope
        .as_ref()
        .map(|s| s.region.clone())
        .unwrap_or_else(|| host.default_region().to_string());
    let host_header = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| host.default_host().to_string());
    RequestContext {
        request_id: uuid::Uuid::new_v4().to_string(),
        account,
        region,
        host: host_header,
        signing_service: scope.as_ref().map(|s| s.service.clone()),
        access_key: scope.map(|s| s.access_key),
        sender: None,
        trace_header: headers
            .get("x-amzn-trace-id")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string),
        writes: Default::default(),
        authenticated: false,
        action: None,
        operation: Default::default(),
        unsettled_store: host.unsettled_store(),
    }
}
