//! EventBridge on AWS JSON 1.1 (`X-Amz-Target: AWSEvents.<Op>`): its types derive serde with
//! the model's member names, so the codec is what `operations!` generated.

use crate::events::model::{Operation, Request, Response};
use crate::events::EventsService;

use super::aws_json::{JsonBinding, JsonStyle};

impl JsonBinding for EventsService {
    const STYLE: JsonStyle = JsonStyle {
        target_prefix: "AWSEvents",
        content_type: "application/x-amz-json-1.1",
        error_namespace: "com.amazonaws.events",
        query_compatible: false,
    };

    fn decode(op: Operation, body: &[u8]) -> Result<Request, serde_json::Error> {
        Request::from_json(op, body)
    }

    fn encode(response: &Response) -> Vec<u8> {
        response.to_json()
    }
}
