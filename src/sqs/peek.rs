//! Looking at a queue's messages without receiving them, for the developer endpoints
//! (LocalStack's `/_aws/sqs/messages`, lyrebird's `/_lyrebird/sqs/messages`) and the console:
//! nothing here changes a receive count, a visibility or the store (`Queue::peek`).
//!
//! `SqsPeekService` is SQS as the `/_aws/sqs/messages` endpoint answers it when an SDK uses that
//! URL as its endpoint: ReceiveMessage peeks, every other operation is refused.

use std::sync::Arc;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Service;

use super::messages::Selection;
use super::model::{Operation, ReceiveMessageOutput, Request, Response};
use super::queue::{Peek, PeekState, Queue};
use super::SqsService;

/// LocalStack's stand-in receipt handle for peeked messages: not a real handle, so a peek can
/// never be used to delete or hide a message.
pub const PEEK_RECEIPT_HANDLE: &str = "SQS/BACKDOOR/ACCESS";

/// The most messages one peek copies (a queue may hold millions).
pub const MAX_PEEK: usize = 10_000;

/// Which messages a peek shows besides the visible ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeekOptions {
    pub show_invisible: bool,
    pub show_delayed: bool,
    pub limit: usize,
}

impl PeekOptions {
    fn wants(&self, state: PeekState) -> bool {
        match state {
            PeekState::Visible => true,
            PeekState::InFlight { .. } => self.show_invisible,
            PeekState::Delayed { .. } => self.show_delayed,
        }
    }
}

impl SqsService {
    /// The queue a `QueueUrl` names and a copy of its messages (a missing URL is a queue that
    /// does not exist, as LocalStack answers).
    pub fn peek(
        &self,
        ctx: &RequestContext,
        queue_url: Option<&str>,
        options: PeekOptions,
    ) -> AwsResult<(Arc<Queue>, Peek)> {
        let queue_url = queue_url.filter(|u| !u.is_empty());
        let Some(url) = queue_url else {
            return Err(AwsError::queue_does_not_exist());
        };
        let queue = self.resolve(ctx, Some(url))?;
        let peek = queue.peek(self.now_ms(), options.limit.min(MAX_PEEK), |s| {
            options.wants(s)
        });
        Ok((queue, peek))
    }

    /// A peek in ReceiveMessage's shape, as LocalStack's endpoint answers: every attribute,
    /// the stand-in receipt handle, and `IsVisible`/`IsDelayed` when those are asked for.
    pub fn peek_as_receive(
        &self,
        ctx: &RequestContext,
        queue_url: Option<&str>,
        options: PeekOptions,
    ) -> AwsResult<ReceiveMessageOutput> {
        let (_, peek) = self.peek(ctx, queue_url, options)?;
        let selection = Selection::everything();
        let messages = peek
            .messages
            .iter()
            .map(|(m, state)| {
                let mut rendered = selection.render(m, PEEK_RECEIPT_HANDLE.to_string());
                if options.show_invisible {
                    let visible = !matches!(state, PeekState::InFlight { .. });
                    rendered.attributes.push(("IsVisible", visible.to_string()));
                }
                if options.show_delayed {
                    let delayed = matches!(state, PeekState::Delayed { .. });
                    rendered.attributes.push(("IsDelayed", delayed.to_string()));
                }
                rendered
            })
            .collect();
        Ok(ReceiveMessageOutput { messages })
    }
}

impl SqsService {
    /// Deletes one message by id (the console: a peeked message has no receipt handle), as
    /// durably as DeleteMessage. False when the queue has no such message.
    pub async fn delete_message_by_id(
        &self,
        ctx: &RequestContext,
        queue_url: Option<&str>,
        message_id: &str,
    ) -> AwsResult<bool> {
        let queue = self.resolve(ctx, queue_url)?;
        let Some(id) = super::message::parse_message_id(message_id) else {
            return Ok(false);
        };
        let (deleted, ticket) = {
            let mut state = queue.lock(self.now_ms());
            let deleted = state.delete_by_id(&id);
            (deleted, queue.commit(&mut state))
        };
        ticket
            .durable()
            .await
            .map_err(|e| AwsError::internal(format!("the delete could not be stored: {e}")))?;
        Ok(deleted)
    }
}

/// SQS behind `/_aws/sqs/messages`: an SDK pointed at that URL peeks with ReceiveMessage
/// (`MaxNumberOfMessages` ignored, as on LocalStack); any other operation is refused.
#[derive(Debug)]
pub struct SqsPeekService {
    pub sqs: Arc<SqsService>,
    pub options: PeekOptions,
}

impl Service for SqsPeekService {
    const NAME: &'static str = "sqs";
    type Operation = Operation;
    type Request = Request;
    type Response = Response;

    async fn call(&self, ctx: &RequestContext, request: Request) -> AwsResult<Response> {
        match request {
            Request::ReceiveMessage(input) => Ok(Response::ReceiveMessage(
                self.sqs
                    .peek_as_receive(ctx, input.queue_url.as_deref(), self.options)?,
            )),
            _ => Err(AwsError::new(
                &codes::INVALID_REQUEST,
                "This endpoint only accepts ReceiveMessage calls",
            )),
        }
    }
}
