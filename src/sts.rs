//! STS `GetCallerIdentity`: SDK-based tools call it first to check their credentials, so it
//! answers with the account the request maps to.

use crate::context::RequestContext;
use crate::protocol::xml::XmlWriter;

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The `GetCallerIdentityResponse` document for this request's account.
pub fn get_caller_identity(ctx: &RequestContext) -> String {
    let mut w = XmlWriter::new();
    w.open_ns("GetCallerIdentityResponse", NAMESPACE)
        .open("GetCallerIdentityResult")
        .text("Arn", &format!("arn:aws:iam::{}:root", ctx.account))
        .text("UserId", &ctx.account)
        .text("Account", &ctx.account)
        .close("GetCallerIdentityResult")
        .response_metadata(&ctx.request_id)
        .close("GetCallerIdentityResponse");
    w.finish()
}
