//! STS on the query protocol.

use crate::error::AwsResult;
use crate::service::Empty;
use crate::sts::{Operation, Request, Response, StsService};

use super::params::Params;
use super::query::{QueryBinding, QueryStyle};
use super::query_json::Rules;
use super::xml::XmlWriter;

impl QueryBinding for StsService {
    const STYLE: QueryStyle = QueryStyle {
        version: "2011-06-15",
        namespace: "https://sts.amazonaws.com/doc/2011-06-15/",
        json: Rules::PLAIN,
        error_detail: false,
    };

    fn decode(op: Operation, _params: &Params) -> AwsResult<Request> {
        Ok(match op {
            Operation::GetCallerIdentity => Request::GetCallerIdentity(Empty {}),
        })
    }

    fn encode_result(response: &Response, w: &mut XmlWriter) {
        match response {
            Response::GetCallerIdentity(o) => {
                w.text("Arn", &o.arn)
                    .text("UserId", &o.user_id)
                    .text("Account", &o.account);
            }
        }
    }
}
