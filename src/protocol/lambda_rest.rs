//! Lambda's REST-JSON binding: the routes of the operations lyrebird serves (paths and status
//! codes from the AWS model), and how each input is read from path, query, headers and body.
//! An operation is one line in `ROUTES` plus its arms in `decode` and `encode`.

use http::{Method, StatusCode};

use crate::error::{AwsError, AwsResult};
use crate::lambda::model::{
    EventInvokeConfigInput, FunctionRef, InvocationType, InvokeInput, ListEventInvokeConfigsInput,
    ListFunctionsInput, PutFunctionConcurrencyInput, UpdateFunctionCodeInput,
    UpdateFunctionConfigurationInput,
};
use crate::lambda::{LambdaService, Operation, Request, Response};

use super::rest_json::{RestBinding, RestReply, RestRequest, Route};

const ROUTES: &[Route<Operation>] = &[
    route(
        Method::POST,
        "/2015-03-31/functions",
        Operation::CreateFunction,
    ),
    route(
        Method::GET,
        "/2015-03-31/functions",
        Operation::ListFunctions,
    ),
    route(
        Method::GET,
        "/2015-03-31/functions/{FunctionName}",
        Operation::GetFunction,
    ),
    route(
        Method::GET,
        "/2015-03-31/functions/{FunctionName}/configuration",
        Operation::GetFunctionConfiguration,
    ),
    route(
        Method::DELETE,
        "/2015-03-31/functions/{FunctionName}",
        Operation::DeleteFunction,
    ),
    route(
        Method::PUT,
        "/2015-03-31/functions/{FunctionName}/code",
        Operation::UpdateFunctionCode,
    ),
    route(
        Method::PUT,
        "/2015-03-31/functions/{FunctionName}/configuration",
        Operation::UpdateFunctionConfiguration,
    ),
    route(
        Method::POST,
        "/2015-03-31/functions/{FunctionName}/invocations",
        Operation::Invoke,
    ),
    route(
        Method::PUT,
        "/2017-10-31/functions/{FunctionName}/concurrency",
        Operation::PutFunctionConcurrency,
    ),
    route(
        Method::GET,
        "/2019-09-30/functions/{FunctionName}/concurrency",
        Operation::GetFunctionConcurrency,
    ),
    route(
        Method::DELETE,
        "/2017-10-31/functions/{FunctionName}/concurrency",
        Operation::DeleteFunctionConcurrency,
    ),
    route(
        Method::PUT,
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        Operation::PutFunctionEventInvokeConfig,
    ),
    route(
        Method::POST,
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        Operation::UpdateFunctionEventInvokeConfig,
    ),
    route(
        Method::GET,
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        Operation::GetFunctionEventInvokeConfig,
    ),
    route(
        Method::DELETE,
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        Operation::DeleteFunctionEventInvokeConfig,
    ),
    route(
        Method::GET,
        "/2019-09-25/functions/{FunctionName}/event-invoke-config/list",
        Operation::ListFunctionEventInvokeConfigs,
    ),
];

const fn route(method: Method, path: &'static str, op: Operation) -> Route<Operation> {
    Route { method, path, op }
}

impl RestBinding for LambdaService {
    const PATH_PREFIXES: &'static [&'static str] = &[
        "/2015-03-31/",
        "/2017-10-31/functions/",
        "/2019-09-30/functions/",
        "/2019-09-25/functions/",
    ];

    fn routes() -> &'static [Route<Operation>] {
        ROUTES
    }

    fn decode(op: Operation, request: RestRequest) -> AwsResult<Request> {
        let function = || FunctionRef {
            function_name: request.label("FunctionName"),
            qualifier: request.query("Qualifier"),
        };
        Ok(match op {
            Operation::CreateFunction => Request::CreateFunction(Box::new(request.json()?)),
            Operation::ListFunctions => Request::ListFunctions(ListFunctionsInput {
                marker: request.query("Marker"),
                max_items: request.query("MaxItems"),
            }),
            Operation::GetFunction => Request::GetFunction(function()),
            Operation::GetFunctionConfiguration => Request::GetFunctionConfiguration(function()),
            Operation::DeleteFunction => Request::DeleteFunction(function()),
            Operation::UpdateFunctionCode => Request::UpdateFunctionCode(UpdateFunctionCodeInput {
                function: function(),
                body: request.json()?,
            }),
            Operation::UpdateFunctionConfiguration => {
                Request::UpdateFunctionConfiguration(UpdateFunctionConfigurationInput {
                    function: function(),
                    body: request.json()?,
                })
            }
            Operation::PutFunctionConcurrency => {
                Request::PutFunctionConcurrency(PutFunctionConcurrencyInput {
                    function: function(),
                    body: request.json()?,
                })
            }
            Operation::GetFunctionConcurrency => Request::GetFunctionConcurrency(function()),
            Operation::DeleteFunctionConcurrency => Request::DeleteFunctionConcurrency(function()),
            Operation::PutFunctionEventInvokeConfig => {
                Request::PutFunctionEventInvokeConfig(EventInvokeConfigInput {
                    function: function(),
                    body: request.json()?,
                })
            }
            Operation::UpdateFunctionEventInvokeConfig => {
                Request::UpdateFunctionEventInvokeConfig(EventInvokeConfigInput {
                    function: function(),
                    body: request.json()?,
                })
            }
            Operation::GetFunctionEventInvokeConfig => {
                Request::GetFunctionEventInvokeConfig(function())
            }
            Operation::DeleteFunctionEventInvokeConfig => {
                Request::DeleteFunctionEventInvokeConfig(function())
            }
            Operation::ListFunctionEventInvokeConfigs => {
                Request::ListFunctionEventInvokeConfigs(ListEventInvokeConfigsInput {
                    function: function(),
                    marker: request.query("Marker"),
                    max_items: request.query("MaxItems"),
                })
            }
            Operation::Invoke => {
                let invocation_type = match request.header("x-amz-invocation-type") {
                    None | Some("RequestResponse") => InvocationType::RequestResponse,
                    Some("Event") => InvocationType::Event,
                    Some("DryRun") => InvocationType::DryRun,
                    Some(other) => {
                        return Err(AwsError::new(
                            &crate::error::codes::VALIDATION,
                            format!("1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"),
                        ))
                    }
                };
                Request::Invoke(InvokeInput {
                    function: function(),
                    invocation_type,
                    log_tail: request.header("x-amz-log-type") == Some("Tail"),
                    payload: request.body.clone(),
                })
            }
        })
    }

    fn encode(response: Response) -> RestReply {
        let json =
            |status: StatusCode, value: &dyn erased::Json| RestReply::json(status, value.to_vec());
        match response {
            Response::CreateFunction(c) => json(StatusCode::CREATED, &c),
            Response::GetFunction(g) => json(StatusCode::OK, &g),
            Response::GetFunctionConfiguration(c) => json(StatusCode::OK, &c),
            Response::ListFunctions(l) => json(StatusCode::OK, &l),
            Response::UpdateFunctionCode(c) | Response::UpdateFunctionConfiguration(c) => {
                json(StatusCode::OK, &c)
            }
            Response::PutFunctionConcurrency(c) => json(StatusCode::OK, &c),
            Response::GetFunctionConcurrency(c) => json(StatusCode::OK, &c),
            Response::PutFunctionEventInvokeConfig(c)
            | Response::UpdateFunctionEventInvokeConfig(c)
            | Response::GetFunctionEventInvokeConfig(c) => json(StatusCode::OK, &c),
            Response::ListFunctionEventInvokeConfigs(l) => json(StatusCode::OK, &l),
            Response::DeleteFunction(_)
            | Response::DeleteFunctionConcurrency(_)
            | Response::DeleteFunctionEventInvokeConfig(_) => RestReply {
                status: StatusCode::NO_CONTENT,
                content_type: "application/json",
                headers: Vec::new(),
                body: Default::default(),
            },
            Response::Invoke(out) => {
                let mut headers = Vec::new();
                if let Some(e) = out.function_error {
                    headers.push(("x-amz-function-error", e));
                }
                if let Some(log) = out.log_result {
                    headers.push(("x-amz-log-result", log));
                }
                if let Some(v) = out.executed_version {
                    headers.push(("x-amz-executed-version", v.to_string()));
                }
                if let Some(id) = out.invocation_request_id {
                    headers.push(("x-amzn-requestid", id));
                }
                RestReply {
                    status: StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK),
                    content_type: "application/json",
                    headers,
                    body: out.payload,
                }
            }
        }
    }
}

/// Serialising the different output types through one closure.
mod erased {
    pub trait Json {
        fn to_vec(&self) -> Vec<u8>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_vec(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
        }
    }
}
