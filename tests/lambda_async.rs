//! Asynchronous invocation as AWS Lambda runs it: the event invoke config API
//! (Put/Get/Update/List/DeleteFunctionEventInvokeConfig, wordings recorded on AWS:
//! LocalStack's test_lambda_api.snapshot.json), retries on the service clock, the maximum event
//! age, OnSuccess/OnFailure destinations with AWS's invocation record
//! (test_lambda_destinations.snapshot.json), and an accepted event's failure route kept across
//! a restart.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{DestinationConfig, InvocationType, OnFailure, OnSuccess};
use serde_json::Value;

const FAILS: &str = "exports.handler = async (e) => { throw new Error('nope ' + e.n); };";
const ECHOES: &str = "exports.handler = async (e) => ({ echoed: e });";

/// A Node function named `name` whose handler echoes its event.
async fn echo_function(client: &aws_sdk_lambda::Client, name: &str) -> String {
    node_function(client, name, ECHOES).await
}

/// A Node function named `name` with `code` as its `index.js`.
async fn node_function(client: &aws_sdk_lambda::Client, name: &str, code: &str) -> String {
    lambda::create(
        client,
        name,
        "nodejs20.x",
        "index.handler",
        &[("index.js", code)],
    )
    .await
}

/// Sets `function`'s retries and its on-failure destination.
async fn on_failure_to(client: &aws_sdk_lambda::Client, function: &str, retries: i32, arn: &str) {
    client
        .put_function_event_invoke_config()
        .function_name(function)
        .maximum_retry_attempts(retries)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination(arn).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

fn error_of<E: aws_sdk_lambda::error::ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

async fn invoke_event(client: &aws_sdk_lambda::Client, function: &str, payload: &str) {
    let out = client
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload.as_bytes().to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code, 202);
}

/// Waits until `function` has at least `n` logged invocations; returns them.
async fn invocations_at_least(endpoint: &str, function: &str, n: usize) -> Vec<Value> {
    for _ in 0..500 {
        let url = format!("{endpoint}/_lyrebird/lambda/invocations?function={function}");
        let body: Value =
            serde_json::from_slice(&reqwest::get(url).await.unwrap().bytes().await.unwrap())
                .unwrap();
        let log = body["Invocations"].as_array().cloned().unwrap_or_default();
        if log.len() >= n {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{function}: fewer than {n} invocations");
}

/// Receives one message from `url` within a few seconds (long polls); its body.
async fn one_message(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            return m.body().unwrap_or_default().to_string();
        }
    }
    panic!("no message in {url}");
}

async fn no_message(sqs: &aws_sdk_sqs::Client, url: &str) {
    let got = sqs
        .receive_message()
        .queue_url(url)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap();
    assert!(got.messages().is_empty(), "{:?}", got.messages());
}

async fn advance(endpoint: &str, seconds: f64) {
    let resp = common::http()
        .post(format!("{endpoint}/_lyrebird/clock/advance"))
        .header("content-type", "application/json")
        .body(format!("{{\"seconds\":{seconds}}}"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

#[tokio::test]
async fn event_invoke_config_api_answers_as_aws() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let arn = echo_function(&client, "f").await;
    let other = echo_function(&client, "g").await;

    // Nothing to set: refused before the function is even looked up.
    let e = client
        .put_function_event_invoke_config()
        .function_name("doesnotexist")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_of(&e),
        (
            "InvalidParameterValueException".into(),
            "You must specify at least one of error handling or destination setting.".into()
        )
    );
    let e = client
        .put_function_event_invoke_config()
        .function_name("doesnotexist")
        .maximum_retry_attempts(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_of(&e),
        (
            "ResourceNotFoundException".into(),
            "The function doesn't exist.".into()
        )
    );
    for (retries, age, message) in [
        (3, None, "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2"),
        (1, Some(59), "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60"),
        (1, Some(21_601), "1 validation error detected: Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 21600"),
    ] {
        let e = client
            .put_function_event_invoke_config()
            .function_name("f")
            .maximum_retry_attempts(retries)
            .set_maximum_event_age_in_seconds(age)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(error_of(&e), ("ValidationException".into(), message.into()));
    }
    let destination = |d: &str| {
        DestinationConfig::builder()
            .on_success(OnSuccess::builder().destination(d).build())
            .build()
    };
    let missing = "arn:aws:lambda:us-east-1:000000000000:function:doesnotexist";
    for (target, message) in [
        (missing.to_string(), format!("The destination ARN {missing} is invalid.")),
        (arn.clone(), "You can't specify the function as a destination for itself.".into()),
        (
            arn.replace(":lambda:", ":iam:"),
            format!("The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={}), onFailure=null) is invalid.", arn.replace(":lambda:", ":iam:")),
        ),
    ] {
        let e = client
            .put_function_event_invoke_config()
            .function_name("f")
            .destination_config(destination(&target))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(error_of(&e), ("InvalidParameterValueException".into(), message));
    }
    let e = client
        .put_function_event_invoke_config()
        .function_name("f")
        .destination_config(
            DestinationConfig::builder()
                .on_failure(
                    OnFailure::builder()
                        .destination(arn.replace(":lambda:", ":_-/!lambda:"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_of(&e).0, "ValidationException");

    // Get before any Put.
    let e = client
        .get_function_event_invoke_config()
        .function_name("f")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_of(&e),
        (
            "ResourceNotFoundException".into(),
            format!("The function {arn}:$LATEST doesn't have an EventInvokeConfig")
        )
    );

    let put = client
        .put_function_event_invoke_config()
        .function_name("f")
        .maximum_retry_attempts(2)
        .maximum_event_age_in_seconds(60)
        .destination_config(destination(&other))
        .send()
        .await
        .unwrap();
    assert_eq!(put.function_arn(), Some(format!("{arn}:$LATEST").as_str()));
    assert_eq!(put.maximum_retry_attempts(), Some(2));
    assert_eq!(put.maximum_event_age_in_seconds(), Some(60));
    let config = put.destination_config().unwrap();
    assert_eq!(
        config.on_success().unwrap().destination(),
        Some(other.as_str())
    );
    assert_eq!(config.on_failure().unwrap().destination(), None);
    assert!(put.last_modified().is_some());

    // Update changes only what it names; Put replaces everything.
    let updated = client
        .update_function_event_invoke_config()
        .function_name("f")
        .maximum_retry_attempts(0)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            updated.maximum_retry_attempts(),
            updated.maximum_event_age_in_seconds()
        ),
        (Some(0), Some(60))
    );
    let put = client
        .put_function_event_invoke_config()
        .function_name(&arn)
        .qualifier("$LATEST")
        .maximum_retry_attempts(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            put.maximum_retry_attempts(),
            put.maximum_event_age_in_seconds()
        ),
        (Some(1), None)
    );
    assert_eq!(
        put.destination_config()
            .unwrap()
            .on_success()
            .unwrap()
            .destination(),
        None
    );
    let got = client
        .get_function_event_invoke_config()
        .function_name("f")
        .send()
        .await
        .unwrap();
    assert_eq!(got.maximum_retry_attempts(), Some(1));
    let listed = client
        .list_function_event_invoke_configs()
        .function_name("f")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.function_event_invoke_configs().len(), 1);
    let e = client
        .list_function_event_invoke_configs()
        .function_name("doesnotexist")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_of(&e).1, "The function doesn't exist.");

    client
        .delete_function_event_invoke_config()
        .function_name("f")
        .send()
        .await
        .unwrap();
    let e = client
        .delete_function_event_invoke_config()
        .function_name("f")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_of(&e).1,
        format!("The function {arn}:$LATEST doesn't have an EventInvokeConfig")
    );
    let e = client
        .update_function_event_invoke_config()
        .function_name("f")
        .maximum_retry_attempts(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_of(&e).1,
        format!("The function {arn}:$LATEST doesn't have an EventInvokeConfig")
    );
    let listed = client
        .list_function_event_invoke_configs()
        .function_name("f")
        .send()
        .await
        .unwrap();
    assert!(listed.function_event_invoke_configs().is_empty());
    server.stop().await;
}

/// MaximumRetryAttempts 1: a failing event runs twice (the retry after a minute of the service
/// clock), then the OnFailure queue gets AWS's record, with one request id throughout.
#[tokio::test]
async fn retries_then_the_on_failure_destination_gets_the_record() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    let arn = node_function(&client, "fails", FAILS).await;
    let url = common::create_queue(&sqs, "failures", &[]).await;
    let queue_arn = common::queue_arn(&sqs, &url).await;
    on_failure_to(&client, "fails", 1, &queue_arn).await;
    invoke_event(&client, "fails", r#"{"n":7}"#).await;
    let first = invocations_at_least(&server.endpoint(), "fails", 1).await;
    assert_eq!(first[0]["invocation_type"], "Event");
    tokio::time::sleep(Duration::from_millis(200)).await;
    no_message(&sqs, &url).await;
    common::advance_clock(&server, 61.0).await;
    let both = invocations_at_least(&server.endpoint(), "fails", 2).await;
    assert_eq!(both.len(), 2);
    assert_eq!(
        both[0]["request_id"], both[1]["request_id"],
        "one request id"
    );

    let record: Value = serde_json::from_str(&one_message(&sqs, &url).await).unwrap();
    assert_eq!(record["version"], "1.0");
    assert!(record["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        record["requestContext"],
        serde_json::json!({
            "requestId": both[0]["request_id"],
            "functionArn": format!("{arn}:$LATEST"),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 2,
        })
    );
    assert_eq!(record["requestPayload"], serde_json::json!({"n": 7}));
    assert_eq!(
        record["responseContext"],
        serde_json::json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
    );
    assert_eq!(record["responsePayload"]["errorMessage"], "nope 7");
    assert_eq!(record["responsePayload"]["errorType"], "Error");
    server.stop().await;
}

/// MaximumEventAgeInSeconds 60: the first retry would come a minute later, past the event's
/// age, so the event is routed at once (EventAgeExceeded), as AWS does.
#[tokio::test]
async fn an_event_too_old_for_its_next_retry_is_routed_at_once() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    node_function(&client, "old", FAILS).await;
    let url = common::create_queue(&sqs, "too-old", &[]).await;
    let queue_arn = common::queue_arn(&sqs, &url).await;
    client
        .put_function_event_invoke_config()
        .function_name("old")
        .maximum_event_age_in_seconds(60)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination(&queue_arn).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    invoke_event(&client, "old", r#"{"n":1}"#).await;
    let record: Value = serde_json::from_str(&one_message(&sqs, &url).await).unwrap();
    assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        invocations_at_least(&server.endpoint(), "old", 1)
            .await
            .len(),
        1
    );
    server.stop().await;
}

/// Polls `url` for a destination record, moving the service clock `step` seconds between polls
/// (throttled events wait on it); with `nothing_runs`, checks each time that no invocation ran.
async fn record_while_advancing(
    server: &lyrebird::RunningServer,
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    step: f64,
    nothing_runs: bool,
) -> Value {
    for _ in 0..40 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            return serde_json::from_str(m.body().unwrap()).unwrap();
        }
        if nothing_runs {
            let url = format!("{}/_lyrebird/lambda/invocations", server.endpoint());
            let log = common::http().get(url).send().await.unwrap();
            let log = log.text().await.unwrap();
            assert!(!log.contains("request_id"), "nothing ran: {log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        common::advance_clock(server, step).await;
    }
    panic!("no record in {url}");
}

/// A throttled event (reserved concurrency 0) is not an attempt: Lambda keeps it and tries again
/// at growing intervals (1 s, 2 s, … up to 5 min) until MaximumEventAgeInSeconds, then routes it
/// as EventAgeExceeded with no invocation; one whose function gets concurrency meanwhile runs,
/// as its first attempt.
#[tokio::test]
async fn a_throttled_event_waits_for_concurrency_until_it_is_too_old() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    echo_function(&client, "throttled").await;
    let failures = common::create_queue(&sqs, "throttled-failures", &[]).await;
    let failures_arn = common::queue_arn(&sqs, &failures).await;
    let successes = common::create_queue(&sqs, "throttled-successes", &[]).await;
    let successes_arn = common::queue_arn(&sqs, &successes).await;
    client
        .put_function_concurrency()
        .function_name("throttled")
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    client
        .put_function_event_invoke_config()
        .function_name("throttled")
        .maximum_event_age_in_seconds(60)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination(&failures_arn).build())
                .on_success(
                    aws_sdk_lambda::types::OnSuccess::builder()
                        .destination(&successes_arn)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    invoke_event(&client, "throttled", r#"{"n":1}"#).await;
    // Retried 1, 2, 4, 8 and 16 s later (31 s in all); the next, 32 s later, would be too old.
    let record = record_while_advancing(&server, &sqs, &failures, 5.0, true).await;
    assert_eq!(record["requestContext"]["condition"], "EventAgeExceeded");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 0);
    assert_eq!(record["requestPayload"], serde_json::json!({"n": 1}));

    // Throttled, then given concurrency: it runs once, successfully.
    invoke_event(&client, "throttled", r#"{"n":2}"#).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    client
        .delete_function_concurrency()
        .function_name("throttled")
        .send()
        .await
        .unwrap();
    let record = record_while_advancing(&server, &sqs, &successes, 1.0, false).await;
    assert_eq!(record["requestContext"]["condition"], "Success");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        record["responsePayload"],
        serde_json::json!({"echoed": {"n": 2}})
    );
    assert_eq!(
        invocations_at_least(&server.endpoint(), "throttled", 1)
            .await
            .len(),
        1
    );
    no_message(&sqs, &failures).await;

    // A throttled event of a function deleted meanwhile is discarded, as on AWS: it does not run
    // on a function created again under the same name.
    client
        .put_function_concurrency()
        .function_name("throttled")
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    invoke_event(&client, "throttled", r#"{"n":3}"#).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    client
        .delete_function()
        .function_name("throttled")
        .send()
        .await
        .unwrap();
    echo_function(&client, "throttled").await;
    for _ in 0..5 {
        common::advance_clock(&server, 10.0).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!(
        "{}/_lyrebird/lambda/invocations?function=throttled",
        server.endpoint()
    );
    let log = common::http().get(url).send().await.unwrap();
    let log: Value = serde_json::from_str(&log.text().await.unwrap()).unwrap();
    assert_eq!(
        log["Invocations"].as_array().unwrap().len(),
        1,
        "only the earlier event ran: {log}"
    );
    server.stop().await;
}

/// OnSuccess: an SNS topic (delivered to its SQS subscription) and another function, which is
/// invoked with the record.
#[tokio::test]
async fn success_records_reach_a_topic_and_a_function() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    let sns = common::sns(&server);
    let arn = echo_function(&client, "ok").await;
    let next = echo_function(&client, "next").await;
    let topic = sns
        .create_topic()
        .name("outcomes")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let url = common::create_queue(&sqs, "outcomes", &[]).await;
    let queue_arn = common::queue_arn(&sqs, &url).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    client
        .put_function_event_invoke_config()
        .function_name("ok")
        .destination_config(
            DestinationConfig::builder()
                .on_success(OnSuccess::builder().destination(&topic).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    invoke_event(&client, "ok", r#"{"n":2}"#).await;
    let record: Value = serde_json::from_str(&one_message(&sqs, &url).await).unwrap();
    assert_eq!(record["requestContext"]["condition"], "Success");
    assert_eq!(
        record["requestContext"]["functionArn"],
        format!("{arn}:$LATEST")
    );
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(
        record["responseContext"],
        serde_json::json!({"statusCode": 200, "executedVersion": "$LATEST"})
    );
    assert_eq!(
        record["responsePayload"],
        serde_json::json!({"echoed": {"n": 2}})
    );

    client
        .update_function_event_invoke_config()
        .function_name("ok")
        .destination_config(
            DestinationConfig::builder()
                .on_success(OnSuccess::builder().destination(&next).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    invoke_event(&client, "ok", r#"{"n":3}"#).await;
    let log = invocations_at_least(&server.endpoint(), "next", 1).await;
    assert_eq!(log[0]["source"], "aws:lambda");
    assert_eq!(log[0]["source_arn"], format!("{arn}:$LATEST"));
    assert_eq!(log[0]["invocation_type"], "Event");
    server.stop().await;
}

/// An EventBridge bus as a destination: an event from `lambda` with AWS's detail type, the bus
/// and the function as resources, the record as its detail.
#[tokio::test]
async fn failure_records_reach_an_event_bus() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    let arn = node_function(&client, "eb", FAILS).await;
    let url = common::create_queue(&sqs, "from-bus", &[]).await;
    let queue_arn = common::queue_arn(&sqs, &url).await;
    let bus = "arn:aws:events:us-east-1:000000000000:event-bus/default";
    let events_call = |op: &'static str, body: Value| {
        let endpoint = server.endpoint();
        async move {
            let resp = common::http()
                .post(endpoint)
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amz-target", format!("AWSEvents.{op}"))
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert!(
                resp.status().is_success(),
                "{op}: {}",
                resp.text().await.unwrap()
            );
        }
    };
    events_call(
        "PutRule",
        serde_json::json!({"Name": "results", "EventPattern": r#"{"source":["lambda"]}"#}),
    )
    .await;
    events_call(
        "PutTargets",
        serde_json::json!({"Rule": "results", "Targets": [{"Id": "q", "Arn": queue_arn}]}),
    )
    .await;
    client
        .put_function_event_invoke_config()
        .function_name("eb")
        .maximum_retry_attempts(0)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination(bus).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    invoke_event(&client, "eb", r#"{"n":4}"#).await;
    let event: Value = serde_json::from_str(&one_message(&sqs, &url).await).unwrap();
    assert_eq!(event["source"], "lambda");
    assert_eq!(
        event["detail-type"],
        "Lambda Function Invocation Result - Failure"
    );
    assert_eq!(
        event["resources"],
        serde_json::json!([bus, format!("{arn}:$LATEST")])
    );
    assert_eq!(
        event["detail"]["requestContext"]["condition"],
        "RetriesExhausted"
    );
    assert_eq!(
        event["detail"]["requestPayload"],
        serde_json::json!({"n": 4})
    );
    server.stop().await;
}

/// An event accepted before a restart keeps its request id, its SNS dead-letter queue and the
/// function's retry setting: after the restart its final failure reaches that queue (the
/// function has no OnFailure destination, which would take it instead).
#[tokio::test]
async fn an_accepted_events_failure_route_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("lyrebird-async-{}", uuid::Uuid::new_v4()));
    let args = [
        "--data-dir".to_string(),
        dir.display().to_string(),
        "--test-endpoints".to_string(),
    ];
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let sns = common::sns_at(&server.endpoint);
    let function = node_function(&client, "flaky", FAILS).await;
    let dlq = common::create_queue(&sqs, "sub-dlq", &[]).await;
    let dlq_arn = common::queue_arn(&sqs, &dlq).await;
    client
        .put_function_event_invoke_config()
        .function_name("flaky")
        .maximum_retry_attempts(1)
        .send()
        .await
        .unwrap();
    let topic = sns
        .create_topic()
        .name("t")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("lambda")
        .endpoint(&function)
        .attributes(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}"}}"#),
        )
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("m1")
        .send()
        .await
        .unwrap();
    let before = invocations_at_least(&server.endpoint, "flaky", 1).await;
    let request_id = before[0]["request_id"].as_str().unwrap().to_string();
    drop(server); // SIGKILL while the event waits for its retry

    let server = common::process::start(&args, &[]).await;
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    // The restored event runs again at once, then waits a minute for its retry.
    let after = invocations_at_least(&server.endpoint, "flaky", 1).await;
    assert_eq!(after[0]["request_id"], request_id.as_str());
    assert_eq!(after[0]["source"], "aws:sns");
    advance(&server.endpoint, 61.0).await;
    invocations_at_least(&server.endpoint, "flaky", 2).await;

    let envelope: Value = serde_json::from_str(&one_message(&sqs, &dlq).await).unwrap();
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["Message"], "m1");
    // The config itself survived too.
    let got = lambda::client_at(&server.endpoint)
        .get_function_event_invoke_config()
        .function_name("flaky")
        .send()
        .await
        .unwrap();
    assert_eq!(got.maximum_retry_attempts(), Some(1));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
