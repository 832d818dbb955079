//! The event source mapping operations of the Lambda API (REST-JSON binding:
//! `protocol::lambda_esm_rest`), served by the mapping registry.

use crate::context::RequestContext;
use crate::error::AwsResult;
use crate::service::Service;

use super::mapping::{
    CreateEventSourceMappingInput, EventSourceMapping, ListEventSourceMappingsOutput,
    UpdateEventSourceMappingInput,
};
use super::EventSources;

crate::service::operations! {
    CreateEventSourceMapping(CreateEventSourceMappingInput) -> EventSourceMapping;
    GetEventSourceMapping(MappingRef) -> EventSourceMapping;
    ListEventSourceMappings(ListEventSourceMappingsInput) -> ListEventSourceMappingsOutput;
    UpdateEventSourceMapping(UpdateRequest) -> EventSourceMapping;
    DeleteEventSourceMapping(MappingRef) -> EventSourceMapping;
}

/// A mapping named in the path (`{UUID}`).
#[derive(Debug, Default)]
pub struct MappingRef {
    pub uuid: String,
}

#[derive(Debug, Default)]
pub struct ListEventSourceMappingsInput {
    pub event_source_arn: Option<String>,
    pub function_name: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<usize>,
}

#[derive(Debug, Default)]
pub struct UpdateRequest {
    pub uuid: String,
    pub body: UpdateEventSourceMappingInput,
}

impl Service for EventSources {
    const NAME: &'static str = "lambda";
    type Operation = Operation;
    type Request = Request;
    type Response = Response;

    async fn call(&self, ctx: &RequestContext, request: Request) -> AwsResult<Response> {
        let (account, region) = (ctx.account.as_str(), ctx.region.as_str());
        Ok(match request {
            Request::CreateEventSourceMapping(input) => {
                if let Some(source) = input.event_source_arn.as_deref() {
                    self.may_poll(ctx, source)?;
                }
                Response::CreateEventSourceMapping(self.create(
                    account,
                    region,
                    input,
                    &ctx.writes,
                )?)
            }
            Request::GetEventSourceMapping(m) => {
                Response::GetEventSourceMapping(self.get(account, region, &m.uuid)?)
            }
            Request::ListEventSourceMappings(l) => Response::ListEventSourceMappings(self.list(
                account,
                region,
                l.event_source_arn.as_deref(),
                l.function_name.as_deref(),
                l.marker.as_deref(),
                l.max_items,
            )),
            Request::UpdateEventSourceMapping(u) => {
                // Checked again: the queue's owner may have withdrawn the grant since.
                let source = self.get(account, region, &u.uuid)?.event_source_arn;
                self.may_poll(ctx, &source)?;
                Response::UpdateEventSourceMapping(self.update(
                    account,
                    region,
                    &u.uuid,
                    u.body,
                    &ctx.writes,
                )?)
            }
            Request::DeleteEventSourceMapping(m) => Response::DeleteEventSourceMapping(
                self.delete(account, region, &m.uuid, &ctx.writes)?,
            ),
        })
    }
}
