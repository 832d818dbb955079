//! What event sources need from the functions: find one, know its concurrency, invoke it. The
//! App connects the Lambda service here, so the event sources are written (and unit-tested)
//! against this seam alone.

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

pub type InvokeFuture = Pin<Box<dyn Future<Output = Invoked> + Send>>;

pub trait FunctionRuntime: Send + Sync + 'static {
    /// The unqualified ARN of a function named by name or ARN, if it exists.
    fn function_arn(&self, account: &str, region: &str, name_or_arn: &str) -> Option<String>;

    /// Its reserved concurrency, if it has one.
    fn reserved_concurrency(&self, function_arn: &str) -> Option<u32>;

    /// Invokes synchronously (RequestResponse), recorded with `source` (`aws:sqs`) and the
    /// batch's size.
    fn invoke(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: &'static str,
        batch_size: usize,
    ) -> InvokeFuture;

    /// Invokes asynchronously (Event): two retries after an error, then `on_failure` with the
    /// error (SNS → Lambda).
    fn invoke_async(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: &'static str,
        on_failure: Box<dyn FnOnce(String) + Send>,
    );
}
