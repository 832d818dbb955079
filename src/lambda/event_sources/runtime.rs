//! What event sources need from the functions: find one, hold one of its concurrency slots,
//! invoke it. The App connects the Lambda service here, so the event sources are written (and
//! unit-tested) against this seam alone.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use crate::lambda::destinations::FailureRoute;

/// How a synchronous invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invoked {
    /// The function answered (its response payload).
    Answered(Vec<u8>),
    /// The function failed (`X-Amz-Function-Error`: an error it raised, a timeout, a crash).
    FunctionError(String),
    /// The function could not be run at all (missing, throttled, runtime not installed).
    NotRun(String),
}

/// Where an invocation's event comes from: `kind` is the event source (`aws:sqs`, `aws:sns`),
/// `arn` the queue or topic.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub kind: &'static str,
    pub arn: &'a str,
}

/// A held concurrency slot of a function, released when dropped or used by an invocation.
pub type Permit = Box<dyn std::any::Any + Send>;

/// Dropped by the caller once it has handled an invocation's outcome (a batch deleted): the
/// invocation is logged then, with lyrebird's own time in it.
pub type Settled = Box<dyn Send>;

pub type InvokeFuture = Pin<Box<dyn Future<Output = (Invoked, Settled)> + Send>>;
pub type PermitFuture = Pin<Box<dyn Future<Output = Result<Permit, String>> + Send>>;

pub trait FunctionRuntime: Send + Sync + 'static {
    /// The unqualified ARN of a function named by name or ARN, if it exists.
    fn function_arn(&self, account: &str, region: &str, name_or_arn: &str) -> Option<String>;

    /// The function's `Timeout` in seconds (CreateEventSourceMapping compares the queue's
    /// visibility timeout with it); `None` when unknown, which skips that check.
    fn timeout_secs(&self, _function_arn: &str) -> Option<u32> {
        None
    }

    /// Waits for a free concurrency slot of the function (its reserved concurrency, or the
    /// default); an error when it cannot run at all (deleted, reserved concurrency 0).
    fn permit(&self, function_arn: &str) -> PermitFuture;

    /// Invokes synchronously (RequestResponse) with the records of one batch, in the slot
    /// `permit` holds when given; `ready_at` is when the batch was received.
    fn invoke(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: Source<'_>,
        batch_size: usize,
        permit: Option<Permit>,
        ready_at: Instant,
    ) -> InvokeFuture;

    /// Invokes asynchronously (Event, SNS → Lambda): the function's retries and destinations,
    /// then `route` on a final failure (kept with the event, so a restart does not lose it). An
    /// error is a refusal to queue (the caller's own failure handling applies).
    fn invoke_async(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: Source<'_>,
        route: FailureRoute,
    ) -> Result<(), String>;
}
