//! The SQS event source engine against a scripted function (the real functions are exercised
//! by tests/lambda_sqs.rs): what is deleted, what goes back, filters, disabling.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::mapping::{
    CreateEventSourceMappingInput, Filter, FilterCriteria, UpdateEventSourceMappingInput,
};
use super::runtime::{
    FunctionRuntime, InvokeFuture, Invoked, Permit, PermitFuture, Settled, Source,
};
use super::EventSources;
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::lambda::FailureRoute;
use crate::sqs::model::{CreateQueueInput, GetQueueAttributesInput, SendMessageInput};
use crate::sqs::{SqsOptions, SqsService};
use crate::store::memory::MemoryStore;

const FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

/// Answers every invocation with `answer(event)` and records the events.
struct Scripted {
    answer: Box<dyn Fn(&serde_json::Value) -> Invoked + Send + Sync>,
    events: Mutex<Vec<serde_json::Value>>,
}

impl FunctionRuntime for Scripted {
    fn function_arn(&self, _: &str, _: &str, name: &str) -> Option<String> {
        (name == "f" || name == FUNCTION).then(|| FUNCTION.to_string())
    }
    fn permit(&self, _: &str) -> PermitFuture {
        Box::pin(async { Ok(Box::new(()) as Permit) })
    }
    fn invoke(
        &self,
        _: &str,
        payload: Vec<u8>,
        source: Source<'_>,
        size: usize,
        _: Option<Permit>,
        _: std::time::Instant,
    ) -> InvokeFuture {
        assert_eq!(source.kind, "aws:sqs");
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(event["Records"].as_array().unwrap().len(), size);
        let answer = (self.answer)(&event);
        self.events.lock().push(event);
        Box::pin(async move { (answer, Box::new(()) as Settled) })
    }
    fn invoke_async(
        &self,
        _: &str,
        _: Vec<u8>,
        _: Source<'_>,
        _: FailureRoute,
    ) -> Result<(), String> {
        Ok(())
    }
}

struct Bench {
    sqs: Arc<SqsService>,
    sources: Arc<EventSources>,
    function: Arc<Scripted>,
    ctx: RequestContext,
    url: String,
}

fn bench(answer: impl Fn(&serde_json::Value) -> Invoked + Send + Sync + 'static) -> Bench {
    let clock = Arc::new(Clock::new());
    let store = Arc::new(MemoryStore);
    let sqs = Arc::new(SqsService::new(
        clock.clone(),
        SqsOptions::default(),
        store.clone(),
    ));
    let ctx = RequestContext::internal("000000000000", "us-east-1", "localhost");
    let url = sqs
        .create_queue(
            &ctx,
            CreateQueueInput {
                queue_name: Some("q".into()),
                attributes: Some([("VisibilityTimeout".to_string(), "30".to_string())].into()),
                tags: None,
            },
        )
        .unwrap()
        .queue_url;
    let sources = EventSources::new(sqs.clone(), clock, store);
    let function = Arc::new(Scripted {
        answer: Box::new(answer),
        events: Mutex::default(),
    });
    sources.connect(function.clone());
    Bench {
        sqs,
        sources,
        function,
        ctx,
        url,
    }
}

impl Bench {
    fn send(&self, body: &str) {
        self.sqs
            .send_message(
                &self.ctx,
                SendMessageInput {
                    queue_url: Some(self.url.clone()),
                    message_body: Some(body.into()),
                    ..Default::default()
                },
            )
            .unwrap();
    }

    fn counts(&self) -> (u64, u64) {
        let attrs = self
            .sqs
            .get_queue_attributes(
                &self.ctx,
                GetQueueAttributesInput {
                    queue_url: Some(self.url.clone()),
                    attribute_names: Some(vec!["All".into()]),
                },
            )
            .unwrap()
            .attributes;
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(name, _)| *name == k)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        (
            get("ApproximateNumberOfMessages"),
            get("ApproximateNumberOfMessagesNotVisible"),
        )
    }

    fn map(&self, input: CreateEventSourceMappingInput) -> String {
        let input = CreateEventSourceMappingInput {
            function_name: Some("f".into()),
            event_source_arn: Some("arn:aws:sqs:us-east-1:000000000000:q".into()),
            ..input
        };
        self.sources
            .create("000000000000", "us-east-1", input, &Default::default())
            .unwrap()
            .uuid
    }

    async fn until(&self, what: &str, done: impl Fn(&Bench) -> bool) {
        for _ in 0..200 {
            if done(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}; counts {:?}", self.counts());
    }
}

#[tokio::test]
async fn success_deletes_the_batch() {
    let b = bench(|_| Invoked::Answered(b"null".to_vec()));
    for i in 0..3 {
        b.send(&format!("m{i}"));
    }
    b.map(Default::default());
    b.until("the queue to drain", |b| b.counts() == (0, 0))
        .await;
    let records: usize = b
        .function
        .events
        .lock()
        .iter()
        .map(|e| e["Records"].as_array().unwrap().len())
        .sum();
    assert_eq!(records, 3);
}

#[tokio::test]
async fn a_failed_invocation_leaves_the_batch_in_flight() {
    let b = bench(|_| Invoked::FunctionError("Unhandled".into()));
    b.send("poison");
    b.map(Default::default());
    b.until("the message to be in flight", |b| b.counts() == (0, 1))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.counts(), (0, 1), "not deleted");
    assert_eq!(b.function.events.lock().len(), 1);
}

#[tokio::test]
async fn reported_item_failures_stay_and_the_rest_is_deleted() {
    let b = bench(|event| {
        let id = event["Records"][0]["messageId"].as_str().unwrap();
        Invoked::Answered(
            format!(r#"{{"batchItemFailures":[{{"itemIdentifier":"{id}"}}]}}"#).into_bytes(),
        )
    });
    b.send("a");
    b.send("b");
    b.map(CreateEventSourceMappingInput {
        function_response_types: Some(vec!["ReportBatchItemFailures".into()]),
        ..Default::default()
    });
    b.until("one deleted, one in flight", |b| b.counts() == (0, 1))
        .await;
}

#[tokio::test]
async fn unmatched_messages_are_deleted_without_an_invocation() {
    let b = bench(|_| Invoked::Answered(Vec::new()));
    b.send(r#"{"priority":"LOW"}"#);
    b.send(r#"{"priority":"HIGH"}"#);
    b.map(CreateEventSourceMappingInput {
        filter_criteria: Some(FilterCriteria {
            filters: vec![Filter {
                pattern: Some(r#"{"body":{"priority":["HIGH"]}}"#.into()),
            }],
        }),
        ..Default::default()
    });
    b.until("both gone", |b| b.counts() == (0, 0)).await;
    let events = b.function.events.lock();
    let bodies: Vec<&str> = events
        .iter()
        .flat_map(|e| e["Records"].as_array().unwrap().iter())
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, [r#"{"priority":"HIGH"}"#]);
}

#[tokio::test]
async fn a_disabled_mapping_stops_polling() {
    let b = bench(|_| Invoked::Answered(Vec::new()));
    let uuid = b.map(CreateEventSourceMappingInput {
        enabled: Some(false),
        ..Default::default()
    });
    b.send("waits");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.counts(), (1, 0), "not received while disabled");
    let answer = b
        .sources
        .update(
            "000000000000",
            "us-east-1",
            &uuid,
            UpdateEventSourceMappingInput {
                enabled: Some(true),
                ..Default::default()
            },
            &Default::default(),
        )
        .unwrap();
    assert_eq!(answer.state, "Enabling");
    b.until("the queue to drain", |b| b.counts() == (0, 0))
        .await;
    b.sources
        .update(
            "000000000000",
            "us-east-1",
            &uuid,
            UpdateEventSourceMappingInput {
                enabled: Some(false),
                ..Default::default()
            },
            &Default::default(),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    b.send("waits again");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.counts(), (1, 0), "a long poll in progress was abandoned");
}

#[tokio::test]
async fn duplicate_mappings_conflict() {
    let b = bench(|_| Invoked::Answered(Vec::new()));
    let uuid = b.map(Default::default());
    let err = b
        .sources
        .create(
            "000000000000",
            "us-east-1",
            CreateEventSourceMappingInput {
                function_name: Some("f".into()),
                event_source_arn: Some("arn:aws:sqs:us-east-1:000000000000:q".into()),
                ..Default::default()
            },
            &Default::default(),
        )
        .unwrap_err();
    assert_eq!(err.code.shape, "ResourceConflictException");
    assert!(
        err.message
            .ends_with(&format!("existing mapping with UUID {uuid}")),
        "{}",
        err.message
    );
}
