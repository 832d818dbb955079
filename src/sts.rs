//! STS `GetCallerIdentity`: SDK-based tools call it first to check their credentials, so it
//! answers with the account the request maps to. Its codec is `protocol::sts_query`.

use crate::context::RequestContext;
use crate::error::AwsResult;
use crate::service::{Empty, Service};

crate::service::operations! {
    GetCallerIdentity(Empty) -> CallerIdentity;
}

/// `GetCallerIdentityResult`.
#[derive(Debug, Default)]
pub struct CallerIdentity {
    pub arn: String,
    pub user_id: String,
    pub account: String,
}

/// The STS service. It holds no state: the identity follows from the request's credentials.
#[derive(Debug, Default)]
pub struct StsService;

impl Service for StsService {
    const NAME: &'static str = "sts";
    type Operation = Operation;
    type Request = Request;
    type Response = Response;

    async fn call(&self, ctx: &RequestContext, request: Request) -> AwsResult<Response> {
        Ok(match request {
            Request::GetCallerIdentity(Empty {}) => {
                Response::GetCallerIdentity(get_caller_identity(ctx))
            }
        })
    }
}

/// The identity of this request's account: its root user.
pub fn get_caller_identity(ctx: &RequestContext) -> CallerIdentity {
    CallerIdentity {
        arn: format!("arn:aws:iam::{}:root", ctx.account),
        user_id: ctx.account.clone(),
        account: ctx.account.clone(),
    }
}
