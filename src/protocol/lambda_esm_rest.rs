//! REST-JSON routes of Lambda's event source mapping operations (paths and status codes from
//! the AWS model). Registered before the rest of Lambda's API, which owns the other
//! `/2015-03-31/` paths.

use http::{Method, StatusCode};

use crate::error::AwsResult;
use crate::lambda::event_sources::api::{
    ListEventSourceMappingsInput, MappingRef, Operation, Request, Response, UpdateRequest,
};
use crate::lambda::event_sources::EventSources;

use super::rest_json::{RestBinding, RestReply, RestRequest, Route};

const MAPPINGS: &str = "/2015-03-31/event-source-mappings";
const MAPPING: &str = "/2015-03-31/event-source-mappings/{UUID}";

const ROUTES: &[Route<Operation>] = &[
    route(Method::POST, MAPPINGS, Operation::CreateEventSourceMapping),
    route(Method::GET, MAPPINGS, Operation::ListEventSourceMappings),
    route(Method::GET, MAPPING, Operation::GetEventSourceMapping),
    route(Method::PUT, MAPPING, Operation::UpdateEventSourceMapping),
    route(Method::DELETE, MAPPING, Operation::DeleteEventSourceMapping),
];

const fn route(method: Method, path: &'static str, op: Operation) -> Route<Operation> {
    Route { method, path, op }
}

impl RestBinding for EventSources {
    const PATH_PREFIXES: &'static [&'static str] = &["/2015-03-31/event-source-mappings"];

    fn routes() -> &'static [Route<Operation>] {
        ROUTES
    }

    fn decode(op: Operation, request: RestRequest) -> AwsResult<Request> {
        let mapping = || MappingRef {
            uuid: request.label("UUID"),
        };
        Ok(match op {
            Operation::CreateEventSourceMapping => {
                Request::CreateEventSourceMapping(request.json()?)
            }
            Operation::ListEventSourceMappings => {
                Request::ListEventSourceMappings(ListEventSourceMappingsInput {
                    event_source_arn: request.query("EventSourceArn"),
                    function_name: request.query("FunctionName"),
                    marker: request.query("Marker"),
                    max_items: request.query("MaxItems").and_then(|m| m.parse().ok()),
                })
            }
            Operation::GetEventSourceMapping => Request::GetEventSourceMapping(mapping()),
            Operation::UpdateEventSourceMapping => {
                Request::UpdateEventSourceMapping(UpdateRequest {
                    uuid: request.label("UUID"),
                    body: request.json()?,
                })
            }
            Operation::DeleteEventSourceMapping => Request::DeleteEventSourceMapping(mapping()),
        })
    }

    fn encode(response: Response) -> RestReply {
        let json = |status, value: &dyn ErasedJson| RestReply::json(status, value.to_vec());
        match response {
            Response::CreateEventSourceMapping(m) => json(StatusCode::ACCEPTED, &m),
            Response::GetEventSourceMapping(m) => json(StatusCode::OK, &m),
            Response::ListEventSourceMappings(l) => json(StatusCode::OK, &l),
            Response::UpdateEventSourceMapping(m) => json(StatusCode::ACCEPTED, &m),
            Response::DeleteEventSourceMapping(m) => json(StatusCode::ACCEPTED, &m),
        }
    }
}

/// Any serializable answer, as bytes.
trait ErasedJson {
    fn to_vec(&self) -> Vec<u8>;
}

impl<T: serde::Serialize> ErasedJson for T {
    fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}
