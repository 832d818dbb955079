//! What event sources need from the functions: find one, hold one of its concurrency slots,
//! invoke it. The App connects the Lambda service here, so the event sources are written (and
//! unit-tested) against this seam alone.

use std::future::Future;
use std::pin::Pin;

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

pub type InvokeFuture = Pin<Box<dyn Future<Output = Invoked> + Send>>;
pub type PermitFuture = Pin<Box<dyn Future<Output = Result<Permit, String>> + Send>>;

pub trait FunctionRuntime: Send + Sync + 'static {
    /// The unqualified ARN of a function named by name or ARN, if it exists.
    fn function_arn(&self, account: &str, region: &str, name_or_arn: &str) -> Option<String>;

    /// Waits for a free concurrency slot of the function (its reserved concurrency, or the
    /// default); an error when it cannot run at all (deleted, reserved concurrency 0).
    fn permit(&self, function_arn: &str) -> PermitFuture;

    /// Invokes synchronously (RequestResponse) with the records of one batch, in the slot
    /// `permit` holds when given.
    fn invoke(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: Source<'_>,
        batch_size: usize,
        permit: Option<Permit>,
    ) -> InvokeFuture;

    /// Invokes asynchronously (Event): two retries after an error, then `on_failure` with the
    /// error (SNS → Lambda). A refusal to queue calls `on_failure` too.
    fn invoke_async(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: Source<'_>,
        on_failure: Box<dyn FnOnce(String) + Send>,
    );
}
