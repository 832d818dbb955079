//! The SQS service on a store a test controls (one that records or fails writes), without a
//! server: for tests of what reaches the store, and when.

use std::sync::Arc;

use lyrebird::clock::Clock;
use lyrebird::context::RequestContext;
use lyrebird::sqs::model::*;
use lyrebird::sqs::{SqsOptions, SqsService};
use lyrebird::store::Store;

pub struct Engine<S> {
    pub store: Arc<S>,
    pub sqs: SqsService,
    pub ctx: RequestContext,
}

impl<S: Store + Default + 'static> Engine<S> {
    pub fn new() -> Self {
        let store = Arc::new(S::default());
        let sqs = SqsService::new(Arc::new(Clock::new()), SqsOptions::default(), store.clone());
        let ctx = RequestContext::internal("000000000000", "us-east-1", "localhost");
        Engine { store, sqs, ctx }
    }

    /// Creates a queue; its URL, ARN and store id.
    pub fn queue(&self, name: &str, attributes: &[(&str, String)]) -> (String, String, u64) {
        let url = self
            .sqs
            .create_queue(
                &self.ctx,
                CreateQueueInput {
                    queue_name: Some(name.into()),
                    attributes: Some(
                        attributes
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.clone()))
                            .collect(),
                    ),
                    ..Default::default()
                },
            )
            .expect("create queue")
            .queue_url;
        let arn = format!("arn:aws:sqs:us-east-1:000000000000:{name}");
        let id = self.sqs.queue_by_arn(&arn).expect("queue").id;
        (url, arn, id)
    }

    pub fn send(&self, url: &str, body: &str) {
        self.sqs
            .send_message(
                &self.ctx,
                SendMessageInput {
                    queue_url: Some(url.into()),
                    message_body: Some(body.into()),
                    ..Default::default()
                },
            )
            .expect("send");
    }

    /// Receives up to 10 messages; how many came.
    pub async fn receive(&self, url: &str) -> usize {
        self.sqs
            .receive_message(
                &self.ctx,
                ReceiveMessageInput {
                    queue_url: Some(url.into()),
                    max_number_of_messages: Some(10),
                    ..Default::default()
                },
            )
            .await
            .expect("receive")
            .messages
            .len()
    }
}
