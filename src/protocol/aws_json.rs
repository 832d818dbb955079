//! AWS JSON 1.0/1.1 (SQS today; EventBridge next): `X-Amz-Target: <Prefix>.<Op>` names the
//! service and operation, the body is the input as a JSON object, the answer the output as one.
//! Errors are `{"__type": "<namespace>#<Shape>", "message": …}`.
//!
//! A service speaks it by implementing [`JsonBinding`]; with serde-derived types (`operations!`
//! with `serde;`) that is a few constants and two one-line functions.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::{Operation, Service};

use super::reply::{catch_panic, durable, respond, status_of};

/// How a service's AWS JSON requests are addressed and its answers labelled.
#[derive(Debug, Clone, Copy)]
pub struct JsonStyle {
    /// `X-Amz-Target: <target_prefix>.<Operation>` (`AmazonSQS`).
    pub target_prefix: &'static str,
    /// `application/x-amz-json-1.0` or `application/x-amz-json-1.1`.
    pub content_type: &'static str,
    /// The `__type` namespace of the service's modeled errors (`com.amazonaws.sqs`).
    pub error_namespace: &'static str,
    /// The service is `awsQueryCompatible`: errors also carry their query-protocol code in the
    /// `x-amzn-query-error` header, which aws-sdk-rust and botocore read as the error code.
    pub query_compatible: bool,
}

/// A service's binding to AWS JSON.
pub trait JsonBinding: Service {
    const STYLE: JsonStyle;

    /// Decodes the body of `op` into its typed request.
    fn decode(op: Self::Operation, body: &[u8]) -> Result<Self::Request, serde_json::Error>;

    /// The body of a successful answer.
    fn encode(response: &Self::Response) -> Vec<u8>;
}

/// A service registered for AWS JSON: its name and style, read once at registration, and its
/// binding behind one dynamic call per request.
pub struct JsonService {
    pub(super) name: &'static str,
    pub(super) style: JsonStyle,
    pub(super) endpoint: Arc<dyn JsonEndpoint>,
}

impl JsonService {
    pub(super) fn new<S: JsonBinding>(service: Arc<S>) -> Self {
        JsonService {
            name: S::NAME,
            style: S::STYLE,
            endpoint: service,
        }
    }
}

/// A [`JsonBinding`] with its types erased, so that services of different types sit in one list.
pub trait JsonEndpoint: Send + Sync {
    /// Decodes, runs and encodes one request for the operation `name`.
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        target: &'a str,
        name: &'a str,
        body: &'a [u8],
    ) -> BoxFuture<'a, AwsResult<Vec<u8>>>;
}

impl<S: JsonBinding> JsonEndpoint for S {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        target: &'a str,
        name: &'a str,
        body: &'a [u8],
    ) -> BoxFuture<'a, AwsResult<Vec<u8>>> {
        Box::pin(async move {
            let op = S::Operation::from_name(name).ok_or_else(|| unknown_operation(target))?;
            let _ = ctx.operation.set((S::NAME, op.name()));
            let request = S::decode(op, body).map_err(|e| {
                AwsError::new(
                    &codes::SERIALIZATION,
                    format!("Could not parse request body: {e}"),
                )
            })?;
            let response = durable(ctx, Service::call(self, ctx, request).await).await?;
            Ok(S::encode(&response))
        })
    }
}

/// The `X-Amz-Target` of an AWS JSON request, if this is one.
pub(super) fn target(headers: &HeaderMap) -> Option<String> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !content_type.starts_with("application/x-amz-json") {
        return None;
    }
    Some(headers.get("x-amz-target")?.to_str().ok()?.to_string())
}

/// Handles an AWS JSON request. A target no service has is answered as the first registered
/// JSON service (SQS) would.
pub(super) async fn handle(
    services: &[JsonService],
    mark_used: impl Fn(&'static str),
    ctx: &RequestContext,
    target: &str,
    body: Result<Bytes, AwsError>,
) -> Response<Body> {
    let (prefix, name) = target.split_once('.').unwrap_or(("", target));
    let endpoint = services.iter().find(|e| e.style.target_prefix == prefix);
    let answering = endpoint.or(services.first());
    let style = answering.map_or(FALLBACK, |e| e.style);
    if let Some(e) = answering {
        mark_used(e.name);
    }
    let answer = async {
        let body = body?;
        match endpoint {
            Some(e) => e.endpoint.call(ctx, target, name, &body).await,
            None => Err(unknown_operation(target)),
        }
    };
    catch_panic(
        async {
            match answer.await {
                Ok(json) => respond(ctx, StatusCode::OK, style.content_type, json),
                Err(e) => json_error(ctx, &style, &e),
            }
        },
        |e| json_error(ctx, &style, e),
    )
    .await
}

/// The style of answers when no JSON service is registered.
const FALLBACK: JsonStyle = JsonStyle {
    target_prefix: "",
    content_type: "application/x-amz-json-1.0",
    error_namespace: "com.amazon.coral.service",
    query_compatible: false,
};

fn unknown_operation(target: &str) -> AwsError {
    AwsError::new(
        &codes::UNKNOWN_OPERATION,
        format!("Operation {target} is not supported by this endpoint."),
    )
}

/// An AWS JSON error: `__type` for the SDKs' typed exceptions, and for query-compatible
/// services the query code in the `x-amzn-query-error` header.
fn json_error(ctx: &RequestContext, style: &JsonStyle, e: &AwsError) -> Response<Body> {
    let namespace = if e.code.coral {
        "com.amazon.coral.service"
    } else {
        style.error_namespace
    };
    let body = serde_json::json!({
        "__type": format!("{namespace}#{}", e.code.shape),
        "message": e.message,
    });
    let mut response = respond(ctx, status_of(e), style.content_type, body.to_string());
    if style.query_compatible {
        let query_error = format!("{};{}", e.code.query_code, e.fault());
        if let Ok(v) = HeaderValue::from_str(&query_error) {
            response.headers_mut().insert("x-amzn-query-error", v);
        }
    }
    response
}
