//! SQS on AWS JSON 1.0: its types derive serde with the model's member names, so the codec is
//! what `operations!` generated.

use crate::sqs::model::{Operation, Request, Response};
use crate::sqs::SqsService;

use super::aws_json::{JsonBinding, JsonStyle};

impl JsonBinding for SqsService {
    const STYLE: JsonStyle = JsonStyle {
        target_prefix: "AmazonSQS",
        content_type: "application/x-amz-json-1.0",
        error_namespace: "com.amazonaws.sqs",
        query_compatible: true,
    };

    fn decode(op: Operation, body: &[u8]) -> Result<Request, serde_json::Error> {
        Request::from_json(op, body)
    }

    fn encode(response: &Response) -> Vec<u8> {
        response.to_json()
    }
}
