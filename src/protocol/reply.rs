//! What both protocols share: the HTTP answer with its request id, durability before success,
//! and a service's panic turned into an InternalFailure answer.

use std::panic::AssertUnwindSafe;

use axum::body::Body;
use futures_util::FutureExt;
use http::{header, HeaderValue, Response, StatusCode};

use crate::context::RequestContext;
use crate::error::AwsError;

/// Runs `call` so that a panic in a service becomes an InternalFailure answer, never a dropped
/// connection.
pub(super) async fn catch_panic<T>(
    call: impl std::future::Future<Output = T>,
    on_panic: impl FnOnce(&AwsError) -> T,
) -> T {
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(value) => value,
        Err(_) => {
            tracing::error!("request handler panicked");
            on_panic(&AwsError::internal(
                "We encountered an internal error. Please try again.",
            ))
        }
    }
}

/// Answers success only once the request's writes are durable (see the README's durability
/// contract); with the memory store this costs nothing.
pub(super) async fn durable<T>(
    ctx: &RequestContext,
    result: Result<T, AwsError>,
) -> Result<T, AwsError> {
    let value = result?;
    if let Some(store) = &ctx.unsettled_store {
        // A retry of a request that failed may find its change already made in memory (a FIFO
        // duplicate, a queue that exists): its success waits for that change's replay.
        let reads_only = ctx.operation.get().is_some_and(|(_, op)| {
            ["Get", "List", "Describe"]
                .iter()
                .any(|p| op.starts_with(p))
        });
        if !reads_only && ctx.writes.is_empty() {
            ctx.writes.push(store.barrier());
        }
    }
    ctx.writes
        .durable()
        .await
        // Nothing unwritten is acknowledged; the write may succeed on a retry (space freed).
        .map_err(|e| {
            AwsError::unavailable(format!(
                "The request has failed due to a temporary failure of the server: the change could not be stored ({e})."
            ))
        })?;
    Ok(value)
}

pub(super) fn respond(
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

pub(super) fn status_of(e: &AwsError) -> StatusCode {
    StatusCode::from_u16(e.code.status).unwrap_or(StatusCode::BAD_REQUEST)
}
