//! The peek endpoint (`/_aws/sqs/messages`) speaks SQS's own codecs, query and AWS JSON alike,
//! so an SDK pointed at it reads a peek as a ReceiveMessage answer.

use crate::error::AwsResult;
use crate::sqs::model::{Operation, Request, Response};
use crate::sqs::peek::SqsPeekService;
use crate::sqs::SqsService;

use super::aws_json::{JsonBinding, JsonStyle};
use super::params::Params;
use super::query::{QueryBinding, QueryStyle};
use super::xml::XmlWriter;

impl QueryBinding for SqsPeekService {
    const STYLE: QueryStyle = <SqsService as QueryBinding>::STYLE;

    fn decode(op: Operation, params: &Params) -> AwsResult<Request> {
        <SqsService as QueryBinding>::decode(op, params)
    }

    fn encode_result(response: &Response, w: &mut XmlWriter) {
        <SqsService as QueryBinding>::encode_result(response, w)
    }
}

impl JsonBinding for SqsPeekService {
    const STYLE: JsonStyle = <SqsService as JsonBinding>::STYLE;

    fn decode(op: Operation, body: &[u8]) -> Result<Request, serde_json::Error> {
        <SqsService as JsonBinding>::decode(op, body)
    }

    fn encode(response: &Response) -> Vec<u8> {
        <SqsService as JsonBinding>::encode(response)
    }
}
