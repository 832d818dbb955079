//! The protocol layer: bytes in, bytes out. It detects which wire protocol and service a request
//! speaks, decodes it into a typed operation, calls the service, and encodes the result or the
//! `AwsError` in that protocol's exact shape. It knows nothing of queue semantics.
//!
//! - SQS, AWS JSON 1.0: `Content-Type: application/x-amz-json-1.0` + `X-Amz-Target:
//!   AmazonSQS.<Op>`; errors as `{"__type", "message"}` plus the `x-amzn-query-error` header.
//! - Query (SQS, SNS, STS): form parameters in the body and/or URL, `Action=<Op>`; XML out, or
//!   the same document as JSON when the request sends `Accept: application/json`.

pub mod auth;
pub mod params;
pub mod query_json;
pub mod sns_query;
pub mod sqs_query;
pub mod xml;

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use futures_util::FutureExt;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};

use crate::context::RequestContext;
use crate::error::{codes, AwsError};
use crate::server::App;
use crate::sqs::model::{Operation, Request};

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const XML_CONTENT_TYPE: &str = "text/xml";
const QUERY_JSON_CONTENT_TYPE: &str = "application/json";
const SNS_NAMESPACE: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Which service a query-protocol request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Sqs,
    Sns,
    Sts,
}

impl Service {
    fn health_service(self) -> crate::health::Service {
        match self {
            Service::Sqs => crate::health::Service::Sqs,
            Service::Sns => crate::health::Service::Sns,
            Service::Sts => crate::health::Service::Sts,
        }
    }

    /// How the service's query documents render as JSON (see `query_json`).
    fn json_rules(self) -> query_json::Rules {
        query_json::Rules {
            flattened: match self {
                Service::Sqs => sqs_query::JSON_LISTS,
                Service::Sns | Service::Sts => &[],
            },
            empty_is_list: self == Service::Sns,
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Service::Sqs => sqs_query::NAMESPACE,
            Service::Sns => SNS_NAMESPACE,
            Service::Sts => crate::sts::NAMESPACE,
        }
    }
}

/// Handles one AWS API request, whatever its protocol.
pub async fn handle(
    app: &App,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, AwsError>,
) -> Response<Body> {
    let started = Instant::now();
    let ctx = context(app, &headers, &uri);
    let json_target = json_target(&headers);
    let (label, response) = match json_target {
        Some(target) => {
            let response = AssertUnwindSafe(sqs_json(app, &ctx, &target, body))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| json_error(&ctx, &panic_error()));
            (target, response)
        }
        None => {
            let fut = query(app, &ctx, &method, &uri, body);
            let (label, response) =
                AssertUnwindSafe(fut)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        (
                            "panic".into(),
                            xml_error(&ctx, Service::Sqs, &panic_error()),
                        )
                    });
            (label, as_query_json(&ctx, &headers, response).await)
        }
    };
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

/// `Accept: application/json` on a query request: AWS answers the same document as JSON.
fn wants_query_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().unwrap_or("").trim() == "application/json")
}

/// Re-renders a query-protocol XML answer as JSON when the client asked for JSON. Only the
/// service documents are converted (they carry the service's namespace); the bare
/// `<UnknownOperationException/>` of a GET without Action stays XML, as on AWS.
async fn as_query_json(
    ctx: &RequestContext,
    headers: &HeaderMap,
    response: Response<Body>,
) -> Response<Body> {
    if !wants_query_json(headers) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return json_conversion_failed(ctx);
    };
    let xml = String::from_utf8_lossy(&bytes);
    let service = [Service::Sqs, Service::Sns, Service::Sts]
        .into_iter()
        .find(|s| xml.contains(&format!("xmlns=\"{}\"", s.namespace())));
    let Some(service) = service else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    match query_json::convert(&xml, service.json_rules()) {
        Some(json) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(QUERY_JSON_CONTENT_TYPE),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(json))
        }
        None => json_conversion_failed(ctx),
    }
}

fn json_conversion_failed(ctx: &RequestContext) -> Response<Body> {
    let e = AwsError::internal("The response could not be rendered as JSON.");
    xml_error(ctx, Service::Sqs, &e)
}

fn panic_error() -> AwsError {
    tracing::error!("request handler panicked");
    AwsError::internal("We encountered an internal error. Please try again.")
}

fn context(app: &App, headers: &HeaderMap, uri: &Uri) -> RequestContext {
    let scope = auth::credential_scope(headers, uri.query());
    let account = scope
        .as_ref()
        .and_then(|s| auth::account_from_access_key(&s.access_key))
        .unwrap_or(&app.config.account_id)
        .to_string();
    let region = scope
        .as_ref()
        .map(|s| s.region.clone())
        .unwrap_or_else(|| app.config.region.clone());
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| app.default_host.clone());
    RequestContext {
        request_id: uuid::Uuid::new_v4().to_string(),
        account,
        region,
        host,
        signing_service: scope.as_ref().map(|s| s.service.clone()),
        access_key: scope.map(|s| s.access_key),
        sender: None,
        trace_header: headers
            .get("x-amzn-trace-id")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string),
        writes: Default::default(),
    }
}

/// The `X-Amz-Target` of an AWS JSON request, if this is one.
fn json_target(headers: &HeaderMap) -> Option<String> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !content_type.starts_with("application/x-amz-json") {
        return None;
    }
    Some(headers.get("x-amz-target")?.to_str().ok()?.to_string())
}

async fn sqs_json(
    app: &App,
    ctx: &RequestContext,
    target: &str,
    body: Result<Bytes, AwsError>,
) -> Response<Body> {
    app.service_states.mark_used(crate::health::Service::Sqs);
    let result = async {
        let body = body?;
        let (service, name) = target.split_once('.').unwrap_or(("", target));
        let op = match (service, Operation::from_name(name)) {
            ("AmazonSQS", Some(op)) => op,
            _ => {
                return Err(AwsError::new(
                    &codes::UNKNOWN_OPERATION,
                    format!("Operation {target} is not supported by this endpoint."),
                ))
            }
        };
        let request = Request::from_json(op, &body).map_err(|e| {
            AwsError::new(
                &codes::SERIALIZATION,
                format!("Could not parse request body: {e}"),
            )
        })?;
        durable(ctx, app.sqs.call(ctx, request).await).await
    }
    .await;
    match result {
        Ok(response) => respond(ctx, StatusCode::OK, JSON_CONTENT_TYPE, response.to_json()),
        Err(e) => json_error(ctx, &e),
    }
}

async fn query(
    app: &App,
    ctx: &RequestContext,
    method: &Method,
    uri: &Uri,
    body: Result<Bytes, AwsError>,
) -> (String, Response<Body>) {
    let queue_path = queue_path(uri.path());
    let body = match body {
        Ok(b) => b,
        Err(e) => return ("?".into(), xml_error(ctx, Service::Sqs, &e)),
    };
    let sources: Vec<&[u8]> = [Some(&body[..]), uri.query().map(str::as_bytes)]
        .into_iter()
        .flatten()
        .collect();
    let mut params = match params::Params::parse(&sources) {
        Ok(p) => p,
        Err(e) => return ("?".into(), xml_error(ctx, Service::Sqs, &e)),
    };
    let Some(action) = params.string("Action") else {
        if *method == Method::GET && queue_path.is_some() {
            // What AWS answers to a bare GET of a queue URL.
            let body = "<UnknownOperationException/>".to_string();
            return (
                "-".into(),
                respond(ctx, StatusCode::NOT_FOUND, XML_CONTENT_TYPE, body),
            );
        }
        let e = AwsError::new(&codes::MISSING_ACTION, "Missing Action parameter.");
        return ("-".into(), xml_error(ctx, Service::Sqs, &e));
    };
    let service = query_service(ctx, &params, &action, queue_path.is_some());
    app.service_states.mark_used(service.health_service());
    let response = match service {
        Service::Sqs => {
            if let Some(path) = queue_path {
                params.set_default("QueueUrl", format!("http://{}{}", ctx.host, path));
            }
            sqs_query(app, ctx, &action, &params, queue_path.is_some()).await
        }
        Service::Sts if action == "GetCallerIdentity" => respond(
            ctx,
            StatusCode::OK,
            XML_CONTENT_TYPE,
            crate::sts::get_caller_identity(ctx),
        ),
        Service::Sts => xml_error(ctx, service, &invalid_action(&action)),
        Service::Sns => sns(app, ctx, &action, &params).await,
    };
    (action, response)
}

async fn sqs_query(
    app: &App,
    ctx: &RequestContext,
    action: &str,
    params: &params::Params,
    on_queue_path: bool,
) -> Response<Body> {
    let result = async {
        let op = match Operation::from_name(action) {
            Some(op) => op,
            None => return Err(invalid_action(action)),
        };
        if on_queue_path && matches!(op, Operation::CreateQueue | Operation::ListQueues) {
            return Err(invalid_action(action));
        }
        let request = sqs_query::decode(op, params)?;
        let response = durable(ctx, app.sqs.call(ctx, request).await).await?;
        Ok(sqs_query::encode(&response, &ctx.request_id))
    }
    .await;
    xml_reply(ctx, Service::Sqs, result)
}

async fn sns(
    app: &App,
    ctx: &RequestContext,
    action: &str,
    params: &params::Params,
) -> Response<Body> {
    let result = async {
        let op = crate::sns::model::Operation::from_name(action)
            .ok_or_else(|| not_yet_implemented(action))?;
        let request = sns_query::decode(op, params)?;
        let response = durable(ctx, app.sns.call(ctx, request).await).await?;
        Ok(sns_query::encode(&response, &ctx.request_id))
    }
    .await;
    xml_reply(ctx, Service::Sns, result)
}

/// A query-protocol answer: the success document, or the error in the service's namespace.
fn xml_reply(
    ctx: &RequestContext,
    service: Service,
    document: Result<String, AwsError>,
) -> Response<Body> {
    match document {
        Ok(xml) => respond(ctx, StatusCode::OK, XML_CONTENT_TYPE, xml),
        Err(e) => xml_error(ctx, service, &e),
    }
}

/// Answers success only once the request's writes are durable (see the README's durability
/// contract); with the memory store this costs nothing.
async fn durable<T>(ctx: &RequestContext, result: Result<T, AwsError>) -> Result<T, AwsError> {
    let value = result?;
    ctx.writes
        .durable()
        .await
        .map_err(|e| AwsError::internal(format!("The change could not be stored: {e}")))?;
    Ok(value)
}

/// Picks the service of a query request: the SigV4 signing service, else the API version,
/// else the shape of the path, else the action's name.
fn query_service(
    ctx: &RequestContext,
    params: &params::Params,
    action: &str,
    on_queue_path: bool,
) -> Service {
    match ctx.signing_service.as_deref() {
        Some("sqs") => return Service::Sqs,
        Some("sns") => return Service::Sns,
        Some("sts") => return Service::Sts,
        _ => {}
    }
    match params.str("Version") {
        Some("2012-11-05") => return Service::Sqs,
        Some("2010-03-31") => return Service::Sns,
        Some("2011-06-15") => return Service::Sts,
        _ => {}
    }
    // AddPermission and RemovePermission exist in both services: SNS ones name a topic.
    if on_queue_path || (Operation::from_name(action).is_some() && params.str("TopicArn").is_none())
    {
        return Service::Sqs;
    }
    if action == "GetCallerIdentity" {
        return Service::Sts;
    }
    Service::Sns
}

/// `/<12-digit account>/<queue name>` — a queue URL's path.
fn queue_path(path: &str) -> Option<&str> {
    let mut parts = path.trim_matches('/').split('/');
    let (account, name) = (parts.next()?, parts.next()?);
    let is_queue = parts.next().is_none()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty();
    is_queue.then_some(path)
}

fn invalid_action(action: &str) -> AwsError {
    AwsError::new(
        &codes::INVALID_ACTION,
        format!("The action {action} is not valid for this endpoint."),
    )
}

fn not_yet_implemented(action: &str) -> AwsError {
    AwsError::new(
        &codes::INVALID_ACTION,
        format!("The action {action} is not implemented by lyrebird yet (see compat-matrix.md)."),
    )
}

fn respond(
    ctx: &RequestContext,
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn status_of(e: &AwsError) -> StatusCode {
    StatusCode::from_u16(e.code.status).unwrap_or(StatusCode::BAD_REQUEST)
}

/// An SQS JSON error: `__type` for the SDKs' typed exceptions, and the query code in the
/// `x-amzn-query-error` header, which aws-sdk-rust and botocore read as the error code.
pub fn json_error(ctx: &RequestContext, e: &AwsError) -> Response<Body> {
    let namespace = if e.code.coral {
        "com.amazon.coral.service"
    } else {
        "com.amazonaws.sqs"
    };
    let body = serde_json::json!({
        "__type": format!("{namespace}#{}", e.code.shape),
        "message": e.message,
    });
    let mut response = respond(ctx, status_of(e), JSON_CONTENT_TYPE, body.to_string());
    let query_error = format!("{};{}", e.code.query_code, e.fault());
    if let Ok(v) = HeaderValue::from_str(&query_error) {
        response.headers_mut().insert("x-amzn-query-error", v);
    }
    response
}

/// A query-protocol error document.
fn xml_error(ctx: &RequestContext, service: Service, e: &AwsError) -> Response<Body> {
    let mut w = xml::XmlWriter::new();
    w.open_ns("ErrorResponse", service.namespace())
        .open("Error")
        .text("Type", e.fault())
        .text("Code", e.code.query_code)
        .text("Message", e.query_message());
    if service == Service::Sqs {
        w.empty("Detail");
    }
    w.close("Error")
        .text("RequestId", &ctx.request_id)
        .close("ErrorResponse");
    respond(ctx, status_of(e), XML_CONTENT_TYPE, w.finish())
}

/// Renders an error for a request whose protocol is unknown (e.g. a body too large to read).
pub fn error_for(headers: &HeaderMap, app: &App, uri: &Uri, e: &AwsError) -> Response<Body> {
    let ctx = context(app, headers, uri);
    if json_target(headers).is_some() {
        json_error(&ctx, e)
    } else {
        xml_error(&ctx, Service::Sqs, e)
    }
}
