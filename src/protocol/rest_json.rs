//! REST-JSON (AWS restJson1, Lambda today): the operation is the request's method and path
//! (`POST /2015-03-31/functions/{FunctionName}/invocations`); inputs come from path labels, the
//! query string, headers and a JSON (or raw) body; each operation answers with its own status.
//! Errors are `{"Type": "User", "message": …}` with the error's shape name in
//! `x-amzn-errortype`, which the SDKs read.
//!
//! A service speaks it by implementing [`RestBinding`]: a table of [`Route`]s (adding an
//! operation is a line there and its arms in `decode`/`encode`) and the path prefixes it owns.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use serde::de::DeserializeOwned;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Service;

use super::reply::{catch_panic, durable, respond, status_of};

/// One operation's address: `method` and a `path` pattern whose `{Label}` segments match one
/// path segment each.
pub struct Route<Op> {
    pub method: Method,
    pub path: &'static str,
    pub op: Op,
}

/// A decoded request's parts, for a binding's `decode`.
pub struct RestRequest {
    /// Path labels by name, percent-decoded.
    pub labels: Vec<(&'static str, String)>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RestRequest {
    pub fn label(&self, name: &str) -> String {
        self.labels
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn query(&self, name: &str) -> Option<String> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as a JSON object of `T` (an empty body is `{}`).
    pub fn json<T: DeserializeOwned>(&self) -> AwsResult<T> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| {
            AwsError::new(
                &codes::SERIALIZATION,
                format!("Could not parse request body: {e}"),
            )
        })
    }
}

/// A successful answer: status, extra headers, body.
pub struct RestReply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl RestReply {
    pub fn json(status: StatusCode, body: Vec<u8>) -> Self {
        RestReply {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

/// A service's binding to REST-JSON.
pub trait RestBinding: Service {
    /// Paths starting with one of these are this service's.
    const PATH_PREFIXES: &'static [&'static str];

    fn routes() -> &'static [Route<Self::Operation>];

    fn decode(op: Self::Operation, request: RestRequest) -> AwsResult<Self::Request>;

    fn encode(response: Self::Response) -> RestReply;
}

/// A service registered for REST-JSON, its binding behind one dynamic call.
pub struct RestService {
    pub(super) name: &'static str,
    prefixes: &'static [&'static str],
    endpoint: Arc<dyn RestEndpoint>,
}

impl RestService {
    pub(super) fn new<S: RestBinding>(service: Arc<S>) -> Self {
        RestService {
            name: S::NAME,
            prefixes: S::PATH_PREFIXES,
            endpoint: service,
        }
    }

    pub(super) fn claims(&self, path: &str) -> bool {
        self.prefixes.iter().any(|p| path.starts_with(p))
    }
}

trait RestEndpoint: Send + Sync {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        method: &'a Method,
        uri: &'a Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> BoxFuture<'a, AwsResult<RestReply>>;
}

impl<S: RestBinding> RestEndpoint for S {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        method: &'a Method,
        uri: &'a Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> BoxFuture<'a, AwsResult<RestReply>> {
        Box::pin(async move {
            let request = decode_request::<S>(method, uri, headers, body)?;
            let response = durable(ctx, Service::call(self, ctx, request).await).await?;
            Ok(S::encode(response))
        })
    }
}

/// The operation `method` and `uri` name in `S`'s routes, decoded from the request's parts.
pub(crate) fn decode_request<S: RestBinding>(
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Bytes,
) -> AwsResult<S::Request> {
    let path = uri.path();
    let (route, labels) = S::routes()
        .iter()
        .find_map(|r| {
            (r.method == *method)
                .then(|| match_path(r.path, path))
                .flatten()
                .map(|labels| (r, labels))
        })
        .ok_or_else(|| unknown_operation(method, path))?;
    let query = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    S::decode(
        route.op,
        RestRequest {
            labels,
            query,
            headers,
            body,
        },
    )
}

/// Matches `path` against a route pattern; the labels it binds on success.
fn match_path(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut labels = Vec::new();
    let mut segments = path.split('/');
    for expected in pattern.split('/') {
        let segment = segments.next()?;
        match expected.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
            Some(label) => {
                if segment.is_empty() {
                    return None;
                }
                labels.push((label, percent_decode(segment)?));
            }
            None if expected == segment => {}
            None => return None,
        }
    }
    segments.next().is_none().then_some(labels)
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Handles a REST-JSON request for `service`.
pub(super) async fn handle(
    service: &RestService,
    ctx: &RequestContext,
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Result<Bytes, AwsError>,
) -> Response<Body> {
    catch_panic(
        async {
            let answer = async {
                let body = body?;
                service.endpoint.call(ctx, method, uri, headers, body).await
            };
            match answer.await {
                Ok(reply) => {
                    let mut response = respond(ctx, reply.status, reply.content_type, reply.body);
                    for (name, value) in reply.headers {
                        if let Ok(v) = HeaderValue::from_str(&value) {
                            response.headers_mut().insert(name, v);
                        }
                    }
                    response
                }
                Err(e) => rest_error(ctx, &e),
            }
        },
        |e| rest_error(ctx, e),
    )
    .await
}

fn unknown_operation(method: &Method, path: &str) -> AwsError {
    AwsError::new(
        &codes::UNKNOWN_OPERATION,
        format!("No operation is served at {method} {path}"),
    )
}

/// `{"Type": "User"|"Service", "message"}` (and `Reason` when the error has one) with the shape
/// name in `x-amzn-errortype`.
fn rest_error(ctx: &RequestContext, e: &AwsError) -> Response<Body> {
    let status = if e.code == &codes::UNKNOWN_OPERATION {
        StatusCode::NOT_FOUND
    } else {
        status_of(e)
    };
    let mut body = serde_json::json!({
        "Type": if e.is_sender_fault() { "User" } else { "Service" },
        "message": e.message,
    });
    if let Some(reason) = e.reason {
        body["Reason"] = reason.into();
    }
    let mut response = respond(ctx, status, "application/json", body.to_string());
    if let Ok(v) = HeaderValue::from_str(e.code.shape) {
        response.headers_mut().insert("x-amzn-errortype", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_labels() {
        let labels = match_path(
            "/2015-03-31/functions/{FunctionName}/invocations",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations",
        )
        .unwrap();
        assert_eq!(
            labels,
            vec![(
                "FunctionName",
                "arn:aws:lambda:us-east-1:000000000000:function:f".to_string()
            )]
        );
        assert!(match_path("/2015-03-31/functions", "/2015-03-31/functions/").is_some());
        assert!(match_path("/2015-03-31/functions/{F}", "/2015-03-31/functions/a/b").is_none());
        assert!(match_path("/2015-03-31/functions/{F}", "/2015-03-31/functions/%zz").is_none());
    }
}
