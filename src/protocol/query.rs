//! The query protocol (SQS, SNS, STS): `Action=<Op>` and form parameters in the body and/or the
//! URL; an XML document out (`<{Op}Response>` holding `<{Op}Result>` and `ResponseMetadata`), or
//! the same document as JSON when the request sends `Accept: application/json`.
//!
//! A service speaks it by implementing [`QueryBinding`] (its parameter decoder and result
//! encoder); this module does the rest: which service a request is for, the operation's name,
//! the `Response`/`Result` wrapping, and errors.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::{Operation, Service};

use super::params::Params;
use super::query_json;
use super::reply::{catch_panic, durable, respond, status_of};
use super::xml::XmlWriter;

const XML_CONTENT_TYPE: &str = "text/xml";
const QUERY_JSON_CONTENT_TYPE: &str = "application/json";

/// How a service's query documents are named and rendered.
#[derive(Debug, Clone, Copy)]
pub struct QueryStyle {
    /// The API version clients send (`Version=2012-11-05`).
    pub version: &'static str,
    /// The `xmlns` of every document, errors included.
    pub namespace: &'static str,
    /// How the documents render as JSON (see `query_json`).
    pub json: query_json::Rules,
    /// Errors carry an empty `<Detail/>` (SQS).
    pub error_detail: bool,
}

/// A service's binding to the query protocol: its names, and the codec of its operations.
pub trait QueryBinding: Service {
    const STYLE: QueryStyle;

    /// Decodes the parameters of `op` into its typed request.
    fn decode(op: Self::Operation, params: &Params) -> AwsResult<Self::Request>;

    /// Writes the members of a response's `<{Op}Result>` (called only for operations with an
    /// output shape).
    fn encode_result(response: &Self::Response, w: &mut XmlWriter);

    /// Whether a request that names no service (unsigned, no `Version`) is this one's; by
    /// default when the service has the action. Services are asked in registration order.
    fn claims(action: &str, _params: &Params) -> bool {
        Self::Operation::from_name(action).is_some()
    }

    /// Whether `path` names one of the service's resources (SQS: a queue URL's path); a request
    /// sent there is this service's whatever its action.
    fn owns_path(_path: &str) -> bool {
        false
    }

    /// For a request sent to a path the service owns: checks `op` may be sent there, and adds
    /// the parameters the path implies.
    fn at_path(
        _op: Self::Operation,
        _path: &str,
        _ctx: &RequestContext,
        _params: &mut Params,
    ) -> AwsResult<()> {
        Ok(())
    }

    /// The error for an action the service does not have.
    fn unknown_action(action: &str) -> AwsError {
        invalid_action(action)
    }
}

/// A service registered for the query protocol: its name and style, read once at
/// registration, and its binding behind one dynamic call per request.
pub struct QueryService {
    pub(super) name: &'static str,
    pub(super) style: QueryStyle,
    pub(super) endpoint: Arc<dyn QueryEndpoint>,
}

impl QueryService {
    pub(super) fn new<S: QueryBinding>(service: Arc<S>) -> Self {
        QueryService {
            name: S::NAME,
            style: S::STYLE,
            endpoint: service,
        }
    }
}

/// A [`QueryBinding`] with its types erased, so that services of different types sit in one
/// list.
pub trait QueryEndpoint: Send + Sync {
    fn claims(&self, action: &str, params: &Params) -> bool;
    fn owns_path(&self, path: &str) -> bool;
    /// Decodes, runs and encodes one request: the success document, or the error to render.
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        action: &'a str,
        params: &'a mut Params,
        path: &'a str,
    ) -> BoxFuture<'a, AwsResult<String>>;
}

impl<S: QueryBinding> QueryEndpoint for S {
    fn claims(&self, action: &str, params: &Params) -> bool {
        S::claims(action, params)
    }

    fn owns_path(&self, path: &str) -> bool {
        S::owns_path(path)
    }

    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        action: &'a str,
        params: &'a mut Params,
        path: &'a str,
    ) -> BoxFuture<'a, AwsResult<String>> {
        Box::pin(async move {
            let op = S::Operation::from_name(action).ok_or_else(|| S::unknown_action(action))?;
            let _ = ctx.operation.set((S::NAME, op.name()));
            if S::owns_path(path) {
                S::at_path(op, path, ctx, params)?;
            }
            let request = S::decode(op, params)?;
            let response = durable(ctx, Service::call(self, ctx, request).await).await?;
            Ok(encode::<S>(op, &response, &ctx.request_id))
        })
    }
}

/// `<{Op}Response>` with the operation's `<{Op}Result>` (if it has an output shape) and
/// `ResponseMetadata`.
fn encode<S: QueryBinding>(op: S::Operation, response: &S::Response, request_id: &str) -> String {
    let name = op.name();
    let root = format!("{name}Response");
    let mut w = XmlWriter::new();
    w.open_ns(&root, S::STYLE.namespace);
    if op.has_output() {
        let result = format!("{name}Result");
        w.open(&result);
        S::encode_result(response, &mut w);
        w.close(&result);
    }
    w.response_metadata(request_id).close(&root);
    w.finish()
}

/// Handles a query-protocol request. Returns the action (for the log) and the answer.
pub(super) async fn handle(
    services: &[QueryService],
    mark_used: impl Fn(&'static str),
    ctx: &RequestContext,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, AwsError>,
) -> (String, Response<Body>) {
    let fallback = fallback_style(services);
    let (label, response, rules) =
        catch_panic(query(services, mark_used, ctx, method, uri, body), |e| {
            (
                "panic".into(),
                xml_error(ctx, &fallback, e),
                Some(fallback.json),
            )
        })
        .await;
    match rules {
        Some(rules) if wants_query_json(headers) => {
            (label, as_query_json(ctx, &fallback, rules, response).await)
        }
        _ => (label, response),
    }
}

/// The style of answers given before a request's service is known (malformed requests): the
/// first registered service's (SQS).
fn fallback_style(services: &[QueryService]) -> QueryStyle {
    services.first().map_or(
        QueryStyle {
            version: "",
            namespace: "",
            json: query_json::Rules::PLAIN,
            error_detail: false,
        },
        |e| e.style,
    )
}

/// The answer, and the JSON rules of its document (`None` for an answer that is not a
/// service's document and so stays as it is).
async fn query(
    services: &[QueryService],
    mark_used: impl Fn(&'static str),
    ctx: &RequestContext,
    method: &Method,
    uri: &Uri,
    body: Result<Bytes, AwsError>,
) -> (String, Response<Body>, Option<query_json::Rules>) {
    let fallback = fallback_style(services);
    let fail = |label: &str, e: &AwsError| {
        let response = xml_error(ctx, &fallback, e);
        (label.to_string(), response, Some(fallback.json))
    };
    let path = uri.path();
    let body = match body {
        Ok(b) => b,
        Err(e) => return fail("?", &e),
    };
    let sources: Vec<&[u8]> = [Some(&body[..]), uri.query().map(str::as_bytes)]
        .into_iter()
        .flatten()
        .collect();
    let mut params = match Params::parse(&sources) {
        Ok(p) => p,
        Err(e) => return fail("?", &e),
    };
    let Some(action) = params.string("Action") else {
        if *method == Method::GET && services.iter().any(|e| e.endpoint.owns_path(path)) {
            // What AWS answers to a bare GET of a queue URL.
            let body = "<UnknownOperationException/>".to_string();
            let response = respond(ctx, StatusCode::NOT_FOUND, XML_CONTENT_TYPE, body);
            return ("-".into(), response, None);
        }
        let e = AwsError::new(&codes::MISSING_ACTION, "Missing Action parameter.");
        return fail("-", &e);
    };
    let Some(endpoint) = pick(services, ctx, &params, &action, path) else {
        return fail(&action, &invalid_action(&action));
    };
    mark_used(endpoint.name);
    let style = endpoint.style;
    let response = match endpoint
        .endpoint
        .call(ctx, &action, &mut params, path)
        .await
    {
        Ok(xml) => respond(ctx, StatusCode::OK, XML_CONTENT_TYPE, xml),
        Err(e) => xml_error(ctx, &style, &e),
    };
    (action, response, Some(style.json))
}

/// Picks the service of a query request: the SigV4 signing service, else the API version, else
/// the owner of the path, else the first service (in registration order) that claims the action,
/// else the last one (SNS, whose answer names what lyrebird does not implement yet).
fn pick<'a>(
    services: &'a [QueryService],
    ctx: &RequestContext,
    params: &Params,
    action: &str,
    path: &str,
) -> Option<&'a QueryService> {
    let endpoints = || services.iter();
    let by_signing = ctx
        .signing_service
        .as_deref()
        .and_then(|name| endpoints().find(|e| e.name == name));
    let by_version = || {
        params
            .str("Version")
            .and_then(|v| endpoints().find(|e| e.style.version == v))
    };
    by_signing
        .or_else(by_version)
        .or_else(|| endpoints().find(|e| e.endpoint.owns_path(path)))
        .or_else(|| endpoints().find(|e| e.endpoint.claims(action, params)))
        .or_else(|| services.last())
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

/// Re-renders a query-protocol XML answer as JSON, by the rules of the service that wrote it.
async fn as_query_json(
    ctx: &RequestContext,
    fallback: &QueryStyle,
    rules: query_json::Rules,
    response: Response<Body>,
) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let converted = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => query_json::convert(&String::from_utf8_lossy(&bytes), rules),
        Err(_) => None,
    };
    match converted {
        Some(json) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(QUERY_JSON_CONTENT_TYPE),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(json))
        }
        None => {
            let e = AwsError::internal("The response could not be rendered as JSON.");
            xml_error(ctx, fallback, &e)
        }
    }
}

pub(super) fn invalid_action(action: &str) -> AwsError {
    AwsError::new(
        &codes::INVALID_ACTION,
        format!("The action {action} is not valid for this endpoint."),
    )
}

/// A query-protocol error document.
fn xml_error(ctx: &RequestContext, style: &QueryStyle, e: &AwsError) -> Response<Body> {
    let mut w = XmlWriter::new();
    w.open_ns("ErrorResponse", style.namespace)
        .open("Error")
        .text("Type", e.fault())
        .text("Code", e.code.query_code)
        .text("Message", e.query_message());
    if style.error_detail {
        w.empty("Detail");
    }
    w.close("Error")
        .text("RequestId", &ctx.request_id)
        .close("ErrorResponse");
    respond(ctx, status_of(e), XML_CONTENT_TYPE, w.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{Empty, EmptyResult};
    use crate::sns::SnsService;
    use crate::sqs::SqsService;

    /// Whether a `<{Op}Result>` is written follows the output type alone: `Empty` (no output
    /// shape) writes none, a members-less output shape an empty one.
    #[test]
    fn result_element_follows_the_output_type() {
        use crate::sns::model as sns;
        use crate::sqs::model as sqs;
        let doc = encode::<SqsService>(
            sqs::Operation::DeleteQueue,
            &sqs::Response::DeleteQueue(Empty {}),
            "r",
        );
        assert!(doc.contains("<DeleteQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ResponseMetadata>"), "{doc}");
        let doc = encode::<SnsService>(
            sns::Operation::DeleteTopic,
            &sns::Response::DeleteTopic(Empty {}),
            "r",
        );
        assert!(!doc.contains("DeleteTopicResult"), "{doc}");
        let doc = encode::<SnsService>(
            sns::Operation::TagResource,
            &sns::Response::TagResource(EmptyResult {}),
            "r",
        );
        assert!(
            doc.contains("<TagResourceResult/><ResponseMetadata>"),
            "{doc}"
        );
        let doc = encode::<SqsService>(
            sqs::Operation::ReceiveMessage,
            &sqs::Response::ReceiveMessage(Default::default()),
            "r",
        );
        assert!(doc.contains("<ReceiveMessageResult/>"), "{doc}");
    }
}
