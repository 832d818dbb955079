//! SQS event source mappings as Lambda runs them, driven with aws-sdk-lambda and aws-sdk-sqs
//! against real Node handlers: the event shape, batching, deletes on success, retries through
//! the visibility timeout into the dead-letter queue, ReportBatchItemFailures, FilterCriteria,
//! Enabled/UpdateEventSourceMapping, the API's answers and errors, and bad handlers.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_lambda::types::{Filter, FilterCriteria, FunctionResponseType, ScalingConfig};
use serde_json::Value;

/// A handler that appends each event to the file `$OUT` (one JSON line) and then does what
/// `then` says (a JS statement; `event` is in scope).
fn recorder(then: &str) -> String {
    format!(
        r#"
const fs = require('fs');
exports.handler = async (event) => {{
  fs.appendFileSync(process.env.OUT, JSON.stringify(event) + '\n');
  {then}
}};
"#
    )
}

struct Fixture {
    server: lyrebird::RunningServer,
    sqs: aws_sdk_sqs::Client,
    lambda: aws_sdk_lambda::Client,
    out: PathBuf,
}

impl Fixture {
    /// A server and a function `f` whose handler is `recorder(then)`.
    async fn new(then: &str) -> Fixture {
        Self::with(then, |b| b).await
    }

    async fn with(
        then: &str,
        adjust: impl FnOnce(
            aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
        )
            -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
    ) -> Fixture {
        let server = common::server().await;
        let sqs = common::sqs(&server);
        let client = lambda::client(&server);
        let out = std::env::temp_dir().join(format!("lyrebird-esm-{}.jsonl", uuid()));
        let out_text = out.display().to_string();
        let code = recorder(then);
        lambda::create_with(
            &client,
            "f",
            "nodejs20.x",
            "index.handler",
            &[("index.js", &code)],
            |b| {
                adjust(
                    b.timeout(5).environment(
                        aws_sdk_lambda::types::Environment::builder()
                            .variables("OUT", out_text)
                            .build(),
                    ),
                )
            },
        )
        .await;
        Fixture {
            server,
            sqs,
            lambda: client,
            out,
        }
    }

    /// The events the handler saw so far.
    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn records(&self) -> Vec<Value> {
        self.events()
            .iter()
            .flat_map(|e| e["Records"].as_array().unwrap().clone())
            .collect()
    }

    async fn wait_for_records(&self, n: usize) -> Vec<Value> {
        wait_until(&format!("{n} records"), || self.records().len() >= n).await;
        self.records()
    }

    async fn map(
        &self,
        queue_arn: &str,
        adjust: impl FnOnce(
            aws_sdk_lambda::operation::create_event_source_mapping::builders::CreateEventSourceMappingFluentBuilder,
        ) -> aws_sdk_lambda::operation::create_event_source_mapping::builders::CreateEventSourceMappingFluentBuilder,
    ) -> aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingOutput
    {
        adjust(
            self.lambda
                .create_event_source_mapping()
                .function_name("f")
                .event_source_arn(queue_arn),
        )
        .send()
        .await
        .expect("create event source mapping")
    }

    async fn counts(&self, url: &str) -> (i64, i64) {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let get = |k: &str| {
            attrs[&aws_sdk_sqs::types::QueueAttributeName::from(k)]
                .parse()
                .unwrap()
        };
        (
            get("ApproximateNumberOfMessages"),
            get("ApproximateNumberOfMessagesNotVisible"),
        )
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.out);
    }
}

fn uuid() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Polls `done` every 20 ms for up to 15 s (handlers start as processes on a loaded machine).
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..750 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn wait_until_async<F: std::future::Future<Output = bool>>(what: &str, done: impl Fn() -> F) {
    for _ in 0..750 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn queue(f: &Fixture, name: &str, attributes: &[(&str, &str)]) -> (String, String) {
    let url = common::create_queue(&f.sqs, name, attributes).await;
    let arn = common::queue_arn(&f.sqs, &url).await;
    (url, arn)
}

#[tokio::test]
async fn the_event_is_lambdas_sqs_event_and_success_deletes_the_batch() {
    let f = Fixture::new("return {};").await;
    let (url, arn) = queue(&f, "orders", &[]).await;
    f.sqs
        .send_message()
        .queue_url(&url)
        .message_body("Test message.")
        .message_attributes(
            "Author",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("John Grisham")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let created = f.map(&arn, |b| b).await;
    assert_eq!(created.state(), Some("Creating"));
    assert_eq!(created.batch_size(), Some(10));
    assert_eq!(created.maximum_batching_window_in_seconds(), Some(0));
    let records = f.wait_for_records(1).await;
    let record = &records[0];
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ];
    let mut got = keys.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(record["body"], "Test message.");
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["eventSourceARN"], arn.as_str());
    assert_eq!(record["awsRegion"], "us-east-1");
    assert_eq!(record["md5OfBody"], "e4e68fb7bd0e697a0ae8f1bb342846b3");
    assert_eq!(record["attributes"]["ApproximateReceiveCount"], "1");
    assert!(record["attributes"]["SentTimestamp"].is_string());
    assert!(record["attributes"]["ApproximateFirstReceiveTimestamp"].is_string());
    assert_eq!(record["attributes"]["SenderId"], common::ACCOUNT);
    assert_eq!(
        record["messageAttributes"]["Author"],
        serde_json::json!({
            "stringValue": "John Grisham",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String"
        })
    );
    assert!(record["md5OfMessageAttributes"].is_string());
    wait_until_async("the message to be deleted", || async {
        f.counts(&url).await == (0, 0)
    })
    .await;
    // Logged once the batch is settled (deleted), with lyrebird's own time in it.
    wait_until_async("the invocation to be logged", || async {
        !lambda::invocations(&f.server, Some("f")).await.is_empty()
    })
    .await;
    let log = lambda::invocations(&f.server, Some("f")).await;
    assert_eq!(log[0]["source"], "aws:sqs", "{log:?}");
    let overhead = log[0]["overhead_micros"].as_u64().expect("overhead_micros");
    assert!(overhead < 1_000_000, "{log:?}");
}

#[tokio::test]
async fn batches_are_at_most_batch_size_and_an_enabled_update_starts_polling() {
    let f = Fixture::new("return null;").await;
    let (url, arn) = queue(&f, "batched", &[]).await;
    let mapping = f
        .map(&arn, |b| b.batch_size(5).enabled(false))
        .await
        .uuid
        .unwrap();
    for i in 0..12 {
        common::send(&f.sqs, &url, &format!("m{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(f.events().is_empty(), "a disabled mapping does not poll");
    assert_eq!(f.counts(&url).await, (12, 0));
    let got = f
        .lambda
        .get_event_source_mapping()
        .uuid(&mapping)
        .send()
        .await
        .unwrap();
    assert_eq!(got.state(), Some("Disabled"));
    let updated = f
        .lambda
        .update_event_source_mapping()
        .uuid(&mapping)
        .enabled(true)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.state(), Some("Enabling"));
    f.wait_for_records(12).await;
    let sizes: Vec<usize> = f
        .events()
        .iter()
        .map(|e| e["Records"].as_array().unwrap().len())
        .collect();
    assert!(sizes.iter().all(|&n| (1..=5).contains(&n)), "{sizes:?}");
    let got = f
        .lambda
        .get_event_source_mapping()
        .uuid(&mapping)
        .send()
        .await
        .unwrap();
    assert_eq!(got.state(), Some("Enabled"));
}

#[tokio::test]
async fn a_failing_handler_leaves_the_message_to_the_visibility_timeout_and_the_dlq() {
    let f = Fixture::new("throw new Error('cannot process');").await;
    let (dlq_url, dlq_arn) = queue(&f, "poison-dlq", &[]).await;
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let (url, arn) = queue(
        &f,
        "poison",
        &[("VisibilityTimeout", "30"), ("RedrivePolicy", &redrive)],
    )
    .await;
    common::send(&f.sqs, &url, "poison").await;
    f.map(&arn, |b| b).await;
    f.wait_for_records(1).await;
    wait_until_async("the message in flight", || async {
        f.counts(&url).await == (0, 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        f.records().len(),
        1,
        "not retried before the visibility timeout"
    );
    common::advance_clock(&f.server, 31.0).await;
    let records = f.wait_for_records(2).await;
    assert_eq!(records[1]["attributes"]["ApproximateReceiveCount"], "2");
    common::advance_clock(&f.server, 31.0).await;
    wait_until_async("the message in the dead-letter queue", || async {
        f.counts(&dlq_url).await.0 == 1
    })
    .await;
    assert_eq!(f.counts(&url).await, (0, 0));
    assert_eq!(f.records().len(), 2, "maxReceiveCount receives, no more");
    let log = lambda::invocations(&f.server, Some("f")).await;
    assert!(log.iter().all(|i| i["outcome"] != "success"), "{log:?}");
}

#[tokio::test]
async fn reported_batch_item_failures_alone_come_back() {
    let f = Fixture::new(
        "return { batchItemFailures: event.Records.filter(r => r.body.startsWith('bad')).map(r => ({ itemIdentifier: r.messageId })) };",
    )
    .await;
    let (url, arn) = queue(&f, "partial", &[("VisibilityTimeout", "30")]).await;
    f.sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("1")
                .message_body("good")
                .build()
                .unwrap(),
        )
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("2")
                .message_body("bad")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    f.map(&arn, |b| {
        b.function_response_types(FunctionResponseType::ReportBatchItemFailures)
    })
    .await;
    f.wait_for_records(2).await;
    wait_until_async("only the failure in flight", || async {
        f.counts(&url).await == (0, 1)
    })
    .await;
    common::advance_clock(&f.server, 31.0).await;
    let records = f.wait_for_records(3).await;
    assert_eq!(records[2]["body"], "bad");
}

#[tokio::test]
async fn filter_criteria_delete_what_no_filter_matches() {
    let f = Fixture::new("return null;").await;
    let (url, arn) = queue(&f, "filtered", &[]).await;
    common::send(&f.sqs, &url, r#"{"priority":"LOW"}"#).await;
    common::send(&f.sqs, &url, "plain text").await;
    common::send(&f.sqs, &url, r#"{"priority":"HIGH"}"#).await;
    f.map(&arn, |b| {
        b.filter_criteria(
            FilterCriteria::builder()
                .filters(
                    Filter::builder()
                        .pattern(r#"{"body":{"priority":["HIGH"]}}"#)
                        .build(),
                )
                .build(),
        )
    })
    .await;
    wait_until_async("the queue to empty", || async {
        f.counts(&url).await == (0, 0)
    })
    .await;
    let bodies: Vec<Value> = f.records().iter().map(|r| r["body"].clone()).collect();
    assert_eq!(bodies, [r#"{"priority":"HIGH"}"#]);
}

#[tokio::test]
async fn maximum_concurrency_bounds_parallel_batches() {
    // Each invocation appends "start end" (ms) to $OUT.spans after holding its batch 300 ms.
    let f = Fixture::new(
        "const t = Date.now(); await new Promise(r => setTimeout(r, 300)); fs.appendFileSync(process.env.OUT + '.spans', t + ' ' + Date.now() + '\\n');",
    )
    .await;
    let spans_file = PathBuf::from(format!("{}.spans", f.out.display()));
    let (url, arn) = queue(&f, "bounded", &[]).await;
    for i in 0..6 {
        common::send(&f.sqs, &url, &format!("m{i}")).await;
    }
    f.map(&arn, |b| {
        b.batch_size(1)
            .scaling_config(ScalingConfig::builder().maximum_concurrency(2).build())
    })
    .await;
    let spans = || -> Vec<(u64, u64)> {
        std::fs::read_to_string(&spans_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (a, b) = l.split_once(' ')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect()
    };
    wait_until("six batches", || spans().len() == 6).await;
    let spans = spans();
    let _ = std::fs::remove_file(&spans_file);
    let most = spans
        .iter()
        .map(|(s, _)| spans.iter().filter(|(a, b)| a <= s && s < b).count())
        .max()
        .unwrap();
    assert!(most <= 2, "{most} batches ran at once: {spans:?}");
    assert!(most == 2, "two batches should run side by side: {spans:?}");
}

/// On AWS an idle SQS poller uses none of the function's concurrency: with reserved concurrency
/// 1 and a mapping on an empty queue, a direct Invoke still runs, and the mapping still
/// delivers afterwards.
#[tokio::test]
async fn an_idle_mapping_holds_none_of_the_functions_reserved_concurrency() {
    let f = Fixture::new("return 'done';").await;
    f.lambda
        .put_function_concurrency()
        .function_name("f")
        .reserved_concurrent_executions(1)
        .send()
        .await
        .unwrap();
    let (url, arn) = queue(&f, "idle", &[]).await;
    f.map(&arn, |b| b.batch_size(1)).await;
    // Let the poller settle into its long poll of the empty queue.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..3 {
        let out = f
            .lambda
            .invoke()
            .function_name("f")
            .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"Records":[]}"#))
            .send()
            .await
            .expect("a direct invoke is not throttled by an idle mapping");
        assert_eq!(out.status_code, 200);
    }
    common::send(&f.sqs, &url, "after").await;
    let records = f.wait_for_records(1).await;
    assert_eq!(records.last().unwrap()["body"], "after");
}

#[tokio::test]
async fn mapping_api_answers_and_errors_as_aws() {
    let f = Fixture::new("return null;").await;
    let (_, arn) = queue(&f, "api", &[]).await;
    let (_, fifo_arn) = queue(&f, "api.fifo", &[("FifoQueue", "true")]).await;
    let created = f
        .map(&arn, |b| {
            b.batch_size(100).maximum_batching_window_in_seconds(1)
        })
        .await;
    let uuid = created.uuid().unwrap().to_string();
    assert_eq!(
        created.event_source_mapping_arn(),
        Some(format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}").as_str())
    );
    assert_eq!(
        created.function_arn(),
        Some("arn:aws:lambda:us-east-1:000000000000:function:f")
    );
    assert_eq!(created.state_transition_reason(), Some("USER_INITIATED"));
    assert!(created.last_modified().is_some());

    // The same function and queue again: 409 naming the existing mapping.
    let err = f
        .lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_resource_conflict_exception(), "{service:?}");
    assert!(
        service
            .meta()
            .message()
            .unwrap()
            .ends_with(&format!("existing mapping with UUID {uuid}")),
        "{service:?}"
    );

    let invalid = |e: aws_sdk_lambda::error::SdkError<_, _>| {
        let e: aws_sdk_lambda::operation::create_event_source_mapping::CreateEventSourceMappingError =
            e.into_service_error();
        assert!(e.is_invalid_parameter_value_exception(), "{e:?}");
        e.meta().message().unwrap().to_string()
    };
    let missing = f
        .lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn("arn:aws:sqs:us-east-1:000000000000:nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        invalid(missing),
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist."
    );
    let no_window = f
        .lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&fifo_arn)
        .batch_size(11)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        invalid(no_window),
        "Maximum batch size must be between 1 and 10 inclusive"
    );
    let bad_filter = f
        .lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&fifo_arn)
        .filter_criteria(
            FilterCriteria::builder()
                .filters(Filter::builder().pattern("simple string").build())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(invalid(bad_filter), "Invalid filter pattern definition.");
    let no_function = f
        .lambda
        .create_event_source_mapping()
        .function_name("nobody")
        .event_source_arn(&fifo_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(invalid(no_function), "Function does not exist");

    let listed = f
        .lambda
        .list_event_source_mappings()
        .function_name("f")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.event_source_mappings().len(), 1);
    let err = f
        .lambda
        .update_event_source_mapping()
        .uuid(&uuid)
        .batch_size(20)
        .maximum_batching_window_in_seconds(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.meta().message(),
        Some("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    );
    let deleted = f
        .lambda
        .delete_event_source_mapping()
        .uuid(&uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.state(), Some("Deleting"));
    let gone = f
        .lambda
        .get_event_source_mapping()
        .uuid(&uuid)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
}

#[tokio::test]
async fn a_handler_that_times_out_returns_the_batch_and_lyrebird_keeps_serving() {
    let f = Fixture::with("await new Promise(r => setTimeout(r, 5000));", |b| {
        b.timeout(1)
    })
    .await;
    let (url, arn) = queue(&f, "slow", &[("VisibilityTimeout", "30")]).await;
    common::send(&f.sqs, &url, "too slow").await;
    f.map(&arn, |b| b).await;
    wait_until_async("a timed-out invocation", || async {
        lambda::invocations(&f.server, Some("f"))
            .await
            .iter()
            .any(|i| i["outcome"] == "timeout")
    })
    .await;
    assert_eq!(
        f.counts(&url).await,
        (0, 1),
        "back to the queue, not deleted"
    );
    // Everything else keeps answering.
    let (other, _) = queue(&f, "other", &[]).await;
    common::send(&f.sqs, &other, "still here").await;
    assert_eq!(common::drain(&f.sqs, &other).await, ["still here"]);
}

#[tokio::test]
async fn a_handler_that_exits_mid_invocation_returns_the_batch() {
    let f = Fixture::new("process.exit(3);").await;
    let (url, arn) = queue(&f, "crash", &[("VisibilityTimeout", "30")]).await;
    common::send(&f.sqs, &url, "crash").await;
    f.map(&arn, |b| b).await;
    f.wait_for_records(1).await;
    wait_until_async("a failed invocation", || async {
        lambda::invocations(&f.server, Some("f"))
            .await
            .iter()
            .any(|i| i["outcome"] != "success")
    })
    .await;
    assert_eq!(f.counts(&url).await, (0, 1));
    common::advance_clock(&f.server, 31.0).await;
    // A new process takes the retry.
    f.wait_for_records(2).await;
}

/// AWS's Node runtime fails an invocation with an unhandled rejection, so the batch is not
/// deleted even though the handler returned.
#[tokio::test]
async fn a_handler_with_an_unhandled_rejection_returns_the_batch() {
    let f = Fixture::new(
        "Promise.reject(new Error('boom')); await new Promise(r => setTimeout(r, 300)); return {};",
    )
    .await;
    let (url, arn) = queue(&f, "rejects", &[("VisibilityTimeout", "30")]).await;
    common::send(&f.sqs, &url, "keep me").await;
    f.map(&arn, |b| b).await;
    f.wait_for_records(1).await;
    wait_until_async("a failed invocation", || async {
        lambda::invocations(&f.server, Some("f"))
            .await
            .iter()
            .any(|i| i["outcome"] != "success")
    })
    .await;
    assert_eq!(
        f.counts(&url).await,
        (0, 1),
        "back to the queue, not deleted"
    );
}

#[tokio::test]
async fn malformed_batch_item_failures_fail_the_whole_batch() {
    let f = Fixture::new("return { batchItemFailures: [{ foo: 'notvalid' }] };").await;
    let (url, arn) = queue(&f, "malformed", &[("VisibilityTimeout", "30")]).await;
    common::send(&f.sqs, &url, "a").await;
    common::send(&f.sqs, &url, "b").await;
    f.map(&arn, |b| {
        b.function_response_types(FunctionResponseType::ReportBatchItemFailures)
    })
    .await;
    f.wait_for_records(2).await;
    wait_until_async("both in flight", || async {
        f.counts(&url).await == (0, 2)
    })
    .await;
}

#[tokio::test]
async fn a_runtime_that_is_not_installed_leaves_messages_in_the_queue() {
    // `provided.al2` without a bootstrap in its code: every invocation fails to start.
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "nobootstrap",
        "provided.al2",
        "unused",
        &[("README", "no bootstrap here")],
    )
    .await;
    let url = common::create_queue(&sqs, "unrunnable", &[("VisibilityTimeout", "30")]).await;
    let arn = common::queue_arn(&sqs, &url).await;
    common::send(&sqs, &url, "waits").await;
    client
        .create_event_source_mapping()
        .function_name("nobootstrap")
        .event_source_arn(&arn)
        .send()
        .await
        .unwrap();
    wait_until_async("a failed invocation", || async {
        !lambda::invocations(&server, Some("nobootstrap"))
            .await
            .is_empty()
    })
    .await;
    common::advance_clock(&server, 31.0).await;
    // Not deleted: after the visibility timeout it is there for anyone (the mapping retries).
    let log = lambda::invocations(&server, Some("nobootstrap")).await;
    assert!(log.iter().all(|i| i["outcome"] != "success"), "{log:?}");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let total: i64 = attrs.values().map(|v| v.parse::<i64>().unwrap()).sum();
    assert_eq!(total, 1, "{attrs:?}");
}

#[tokio::test]
async fn mappings_survive_a_restart_on_a_data_dir() {
    let dir = std::env::temp_dir().join(format!("lyrebird-esm-restart-{}", uuid()));
    let out = dir.with_extension("jsonl");
    let args = ["--data-dir".to_string(), dir.display().to_string()];
    let code = recorder("return null;");
    let uuid = {
        let server = common::process::start(&args, &[]).await;
        let client = lambda::client_at(&server.endpoint);
        let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
        let url = common::create_queue(&sqs, "kept", &[]).await;
        let arn = common::queue_arn(&sqs, &url).await;
        lambda::create_with(
            &client,
            "kept",
            "nodejs20.x",
            "index.handler",
            &[("index.js", &code)],
            |b| {
                b.environment(
                    aws_sdk_lambda::types::Environment::builder()
                        .variables("OUT", out.display().to_string())
                        .build(),
                )
            },
        )
        .await;
        client
            .create_event_source_mapping()
            .function_name("kept")
            .event_source_arn(&arn)
            .batch_size(3)
            .send()
            .await
            .unwrap()
            .uuid
            .unwrap()
    };
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let got = client
        .get_event_source_mapping()
        .uuid(&uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(got.batch_size(), Some(3));
    assert_eq!(got.state(), Some("Enabled"));
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let url = sqs
        .get_queue_url()
        .queue_name("kept")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    common::send(&sqs, &url, "after restart").await;
    wait_until("the restarted poller to deliver", || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("after restart"))
    })
    .await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&out);
}

#[tokio::test]
async fn fifo_a_reported_failure_holds_back_the_rest_of_its_group() {
    let f = Fixture::new(
        "return { batchItemFailures: event.Records.filter(r => r.body === 'm1').map(r => ({ itemIdentifier: r.messageId })) };",
    )
    .await;
    let (url, arn) = queue(
        &f,
        "ordered.fifo",
        &[
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "true"),
            ("VisibilityTimeout", "30"),
        ],
    )
    .await;
    for body in ["m1", "m2", "m3"] {
        f.sqs
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .message_group_id("g")
            .send()
            .await
            .unwrap();
    }
    f.map(&arn, |b| {
        b.function_response_types(FunctionResponseType::ReportBatchItemFailures)
    })
    .await;
    let records = f.wait_for_records(3).await;
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m1", "m2", "m3"]);
    assert_eq!(records[0]["attributes"]["MessageGroupId"], "g");
    assert!(records[0]["attributes"]["SequenceNumber"].is_string());
    // m2 and m3 come after the failed m1 in its group: none is deleted.
    wait_until_async("the group in flight", || async {
        f.counts(&url).await == (0, 3)
    })
    .await;
    common::advance_clock(&f.server, 31.0).await;
    let records = f.wait_for_records(6).await;
    let again: Vec<&str> = records[3..]
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(again, ["m1", "m2", "m3"], "redelivered in order");
}

/// DestinationConfig, MaximumRetryAttempts and the other stream-source settings are refused on
/// an SQS mapping (its failures go through the queue's redrive policy), not silently ignored.
#[tokio::test]
async fn stream_only_settings_are_refused_on_an_sqs_mapping() {
    let f = Fixture::new("return null;").await;
    let (_, arn) = queue(&f, "no-streams", &[]).await;
    let e = f
        .lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .maximum_retry_attempts(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_parameter_value_exception(), "{e:?}");
    assert_eq!(
        aws_sdk_lambda::error::ProvideErrorMetadata::message(&e),
        Some("Unsupported MaximumRetryAttempts parameter for given event source mapping type.")
    );
    let e = f
        .lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&arn)
        .destination_config(
            aws_sdk_lambda::types::DestinationConfig::builder()
                .on_failure(
                    aws_sdk_lambda::types::OnFailure::builder()
                        .destination("arn:aws:sqs:us-east-1:000000000000:x")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_lambda::error::ProvideErrorMetadata::message(&e),
        Some("Unsupported DestinationConfig parameter for given event source mapping type.")
    );
    let created = f.map(&arn, |b| b.enabled(false)).await;
    let e = f
        .lambda
        .update_event_source_mapping()
        .uuid(created.uuid().unwrap())
        .bisect_batch_on_function_error(true)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_parameter_value_exception(), "{e:?}");
}

/// AWS refuses a mapping whose queue could show a batch again while the function may still be
/// working on it: the queue's visibility timeout must be at least the function's Timeout.
#[tokio::test]
async fn a_queue_visibility_timeout_below_the_function_timeout_is_refused() {
    let f = Fixture::with("return null;", |b| b.timeout(60)).await;
    let (_, short) = queue(&f, "short-visibility", &[]).await;
    let err = f
        .lambda
        .create_event_source_mapping()
        .function_name("f")
        .event_source_arn(&short)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert_eq!(
        err.meta().message(),
        Some("Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds")
    );
    // Equal is enough.
    let (_, enough) = queue(&f, "enough-visibility", &[("VisibilityTimeout", "60")]).await;
    f.map(&enough, |b| b).await;
}

/// Lambda's 6 MB payload quota caps a batch: with BatchSize 100 and ~200 KB messages no event
/// is over 6,291,456 bytes; the records beyond it go back to the queue at once and a later batch
/// takes them, so every message is processed once and none is lost.
#[tokio::test]
async fn a_batch_is_capped_at_lambdas_6_mb_payload() {
    let f = Fixture::new("return null;").await;
    let out = std::env::temp_dir().join(format!("lyrebird-esm-big-{}.jsonl", uuid()));
    // Records each event's size and message ids only (the events total some 20 MB).
    let code = r#"
const fs = require('fs');
exports.handler = async (event) => {
  const size = Buffer.byteLength(JSON.stringify(event));
  fs.appendFileSync(process.env.OUT, JSON.stringify({ size, ids: event.Records.map((r) => r.messageId) }) + '\n');
};
"#;
    let out_text = out.display().to_string();
    lambda::create_with(
        &f.lambda,
        "big",
        "nodejs20.x",
        "index.handler",
        &[("index.js", code)],
        |b| {
            b.timeout(10).memory_size(512).environment(
                aws_sdk_lambda::types::Environment::builder()
                    .variables("OUT", out_text)
                    .build(),
            )
        },
    )
    .await;
    let (url, arn) = queue(&f, "big-bodies", &[]).await;
    let body = "x".repeat(200_000);
    let mut sent = std::collections::BTreeSet::new();
    for chunk in 0..20 {
        let mut batch = f.sqs.send_message_batch().queue_url(&url);
        for i in 0..5 {
            batch = batch.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{chunk}-{i}"))
                    .message_body(&body)
                    .build()
                    .unwrap(),
            );
        }
        let got = batch.send().await.unwrap();
        assert!(got.failed().is_empty(), "{:?}", got.failed());
        sent.extend(got.successful().iter().map(|s| s.message_id().to_string()));
    }
    assert_eq!(sent.len(), 100);
    f.lambda
        .create_event_source_mapping()
        .function_name("big")
        .event_source_arn(&arn)
        .batch_size(100)
        .maximum_batching_window_in_seconds(1)
        .send()
        .await
        .unwrap();
    let lines = || -> Vec<Value> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let ids = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .flat_map(|l| l["ids"].as_array().unwrap().clone())
            .map(|id| id.as_str().unwrap().to_string())
            .collect()
    };
    wait_until("all 100 messages", || ids(&lines()).len() >= 100).await;
    wait_until_async("an empty queue", || async {
        f.counts(&url).await == (0, 0)
    })
    .await;
    let lines = lines();
    let sizes: Vec<u64> = lines.iter().map(|l| l["size"].as_u64().unwrap()).collect();
    assert!(sizes.iter().all(|&s| s <= 6_291_456), "{sizes:?}");
    // Batches are filled up to the quota, not cut at 10.
    assert!(
        lines
            .iter()
            .any(|l| l["ids"].as_array().unwrap().len() > 10),
        "{sizes:?}"
    );
    let seen = ids(&lines);
    assert_eq!(seen.len(), 100, "each message once");
    assert_eq!(
        seen.into_iter().collect::<std::collections::BTreeSet<_>>(),
        sent
    );
    let _ = std::fs::remove_file(&out);
}
