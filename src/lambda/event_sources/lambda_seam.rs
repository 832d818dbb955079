//! The Lambda service as the event sources' `FunctionRuntime`: a thin translation onto its
//! invoke seam (`LambdaService::invoke`, `invoke_async`, `concurrency_permit`).

use std::sync::Arc;

use crate::lambda::{FailureRoute, InvocationSource, InvokeRequest, LambdaService};

use super::runtime::{
    FunctionRuntime, InvokeFuture, Invoked, Permit, PermitFuture, Settled, Source,
};

/// (account, region) of a function ARN, which the seam resolves itself; the ARN is passed whole.
fn scope(arn: &str) -> (String, String) {
    let mut parts = arn.split(':');
    let region = parts.nth(3).unwrap_or_default().to_string();
    let account = parts.next().unwrap_or_default().to_string();
    (account, region)
}

fn invocation_source(source: Source<'_>) -> InvocationSource {
    let arn = source.arn.to_string();
    match source.kind {
        "aws:sns" => InvocationSource::Sns { arn },
        "aws:events" => InvocationSource::Events { arn },
        _ => InvocationSource::Sqs { arn },
    }
}

/// The Lambda service, for event sources.
pub struct LambdaRuntime(pub Arc<LambdaService>);

impl FunctionRuntime for LambdaRuntime {
    fn function_arn(&self, account: &str, region: &str, name_or_arn: &str) -> Option<String> {
        self.0.function_arn(account, region, name_or_arn).ok()
    }

    fn timeout_secs(&self, function_arn: &str) -> Option<u32> {
        let (account, region) = scope(function_arn);
        let config = self.0.function(&account, &region, function_arn).ok()?;
        Some(config.timeout_secs)
    }

    fn permit(&self, function_arn: &str) -> PermitFuture {
        let service = self.0.clone();
        let arn = function_arn.to_string();
        Box::pin(async move {
            let (account, region) = scope(&arn);
            service
                .concurrency_permit(&account, &region, &arn)
                .await
                .map(|p| Box::new(p) as Permit)
                .map_err(|e| e.message)
        })
    }

    fn invoke(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: Source<'_>,
        batch_size: usize,
        permit: Option<Permit>,
        ready_at: std::time::Instant,
    ) -> InvokeFuture {
        let service = self.0.clone();
        let arn = function_arn.to_string();
        let mut request = InvokeRequest::new(payload, invocation_source(source));
        request.batch_size = batch_size;
        request.permit = permit.and_then(|p| p.downcast().ok()).map(|p| *p);
        request.ready_at = ready_at;
        Box::pin(async move {
            let (account, region) = scope(&arn);
            match service.invoke(&account, &region, &arn, request).await {
                Ok(result) => {
                    let invoked = match result.function_error {
                        None => Invoked::Answered(result.payload.to_vec()),
                        Some(_) => {
                            Invoked::FunctionError(String::from_utf8_lossy(&result.payload).into())
                        }
                    };
                    (invoked, Box::new(result.settle) as Settled)
                }
                Err(e) => (
                    Invoked::NotRun(format!("{}: {}", e.code.shape, e.message)),
                    Box::new(()) as Settled,
                ),
            }
        })
    }

    fn invoke_async(
        &self,
        function_arn: &str,
        payload: Vec<u8>,
        source: Source<'_>,
        route: FailureRoute,
    ) -> Result<(), String> {
        let (account, region) = scope(function_arn);
        let request = InvokeRequest::new(payload, invocation_source(source));
        self.0
            .invoke_async(&account, &region, function_arn, request, route)
            .map_err(|e| format!("{}: {}", e.code.shape, e.message))
    }
}
