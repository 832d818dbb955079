//! A function's dead-letter queue (`DeadLetterConfig`) as AWS Lambda keeps and uses it: set by
//! CreateFunction / UpdateFunctionConfiguration (an empty TargetArn removes it), answered by the
//! reads, kept across a restart, declared by templates (SAM `DeadLetterQueue`, CloudFormation
//! `DeadLetterConfig`); an asynchronous event whose attempts all failed lands in it as it came,
//! with the attributes RequestID (String), ErrorCode (Number) and ErrorMessage (String).

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{DeadLetterConfig, InvocationType};

const FAILS: &str = "exports.handler = async (e) => { throw new Error('nope ' + e.n); };";

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lyrebird-dlq-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn dlq(arn: &str) -> DeadLetterConfig {
    DeadLetterConfig::builder().target_arn(arn).build()
}

/// The one message in `url` (long polls a few seconds), with all its message attributes.
async fn one_message(sqs: &aws_sdk_sqs::Client, url: &str) -> aws_sdk_sqs::types::Message {
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            return m.clone();
        }
    }
    panic!("no message in {url}");
}

fn attribute(m: &aws_sdk_sqs::types::Message, name: &str) -> (String, String) {
    let a = &m.message_attributes().unwrap()[name];
    (
        a.data_type().to_string(),
        a.string_value().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn dead_letter_config_round_trips_is_checked_and_survives_a_restart() {
    let dir = temp_dir("api");
    let args = ["--data-dir".to_string(), dir.display().to_string()];
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let queue = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let topic = "arn:aws:sns:us-east-1:000000000000:dlq-topic";
    lambda::create_with(
        &client,
        "f",
        "nodejs20.x",
        "index.handler",
        &[("index.js", FAILS)],
        |b| b.dead_letter_config(dlq(queue)),
    )
    .await;
    let got = client
        .get_function()
        .function_name("f")
        .send()
        .await
        .unwrap();
    let config = got.configuration().unwrap();
    assert_eq!(
        config.dead_letter_config().and_then(|d| d.target_arn()),
        Some(queue)
    );

    // AWS refuses an empty TargetArn on creation, and a value that is not an ARN at all.
    let refused = |target: &'static str| {
        client
            .create_function()
            .function_name("g")
            .role("arn:aws:iam::000000000000:role/r")
            .runtime("nodejs20.x".into())
            .handler("index.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(Blob::new(lambda::zip(&[("index.js", FAILS)])))
                    .build(),
            )
            .dead_letter_config(dlq(target))
            .send()
    };
    let e = refused("").await.unwrap_err().into_service_error();
    assert_eq!(
        (e.meta().code(), e.meta().message()),
        (
            Some("InvalidParameterValueException"),
            Some("Invalid dead letter queue ARN: ARNs must start with 'arn:'")
        )
    );
    let e = refused("not-an-arn")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("ValidationException"));
    let e = refused("arn:aws:s3:::bucket")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(e.meta().code(), Some("InvalidParameterValueException"));

    let updated = client
        .update_function_configuration()
        .function_name("f")
        .dead_letter_config(dlq(topic))
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated.dead_letter_config().and_then(|d| d.target_arn()),
        Some(topic)
    );
    drop(server); // SIGKILL: the update was durable when answered

    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let got = client
        .get_function_configuration()
        .function_name("f")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.dead_letter_config().and_then(|d| d.target_arn()),
        Some(topic)
    );
    // An empty TargetArn removes it; the reads then leave the member out.
    let cleared = client
        .update_function_configuration()
        .function_name("f")
        .dead_letter_config(dlq(""))
        .send()
        .await
        .unwrap();
    assert!(cleared.dead_letter_config().is_none());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_failed_event_lands_in_the_dead_letter_queue_with_lambdas_attributes() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "dead-events", &[]).await;
    let queue_arn = common::queue_arn(&sqs, &url).await;
    failing_function(&client, &queue_arn).await;
    let out = client
        .invoke()
        .function_name("fails")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(br#"{"n":7}"#.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code, 202);

    let m = one_message(&sqs, &url).await;
    assert_eq!(m.body(), Some(r#"{"n":7}"#), "the event as it came");
    let (kind, request_id) = attribute(&m, "RequestID");
    assert_eq!(kind, "String");
    assert!(!request_id.is_empty());
    assert_eq!(
        attribute(&m, "ErrorCode"),
        ("Number".to_string(), "200".to_string())
    );
    assert_eq!(
        attribute(&m, "ErrorMessage"),
        ("String".to_string(), "nope 7".to_string())
    );
    server.stop().await;
}

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Dead:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: dead
  Fails:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fails
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async (e) => { throw new Error('nope ' + e.n); };"
      DeadLetterQueue:
        Type: SQS
        TargetArn: !GetAtt Dead.Arn
      EventInvokeConfig:
        MaximumRetryAttempts: 0
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: plain
      Runtime: nodejs20.x
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/r
      Code:
        ZipFile: "exports.handler = async () => 1;"
      DeadLetterConfig:
        TargetArn: arn:aws:sns:us-east-1:000000000000:elsewhere
"#;

#[tokio::test]
async fn templates_declare_the_dead_letter_queue() {
    let dir = temp_dir("tpl");
    let template = dir.join("template.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    let args = [
        "--data-dir".to_string(),
        dir.join("data").display().to_string(),
        "--init".to_string(),
        template.display().to_string(),
    ];
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let plain = client
        .get_function_configuration()
        .function_name("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.dead_letter_config().and_then(|d| d.target_arn()),
        Some("arn:aws:sns:us-east-1:000000000000:elsewhere")
    );
    let url = sqs
        .get_queue_url()
        .queue_name("dead")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    client
        .invoke()
        .function_name("fails")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(br#"{"n":3}"#.to_vec()))
        .send()
        .await
        .unwrap();
    let m = one_message(&sqs, &url).await;
    assert_eq!(m.body(), Some(r#"{"n":3}"#));
    assert_eq!(attribute(&m, "ErrorMessage").1, "nope 3");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An SNS-triggered invoke is asynchronous: once it has failed, the function's dead-letter queue
/// gets the SNS event Lambda ran, and the subscription's own dead-letter queue (lyrebird's
/// stand-in while the function has none) nothing.
#[tokio::test]
async fn a_failed_sns_event_goes_to_the_functions_dead_letter_queue() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    let sns = common::sns(&server);
    let dead = common::create_queue(&sqs, "fn-dlq", &[]).await;
    let dead_arn = common::queue_arn(&sqs, &dead).await;
    let sub_dlq = common::create_queue(&sqs, "sub-dlq", &[]).await;
    let sub_dlq_arn = common::queue_arn(&sqs, &sub_dlq).await;
    let function = failing_function(&client, &dead_arn).await;
    publish_to_function(&sns, &function, &sub_dlq_arn, "m1").await;
    let m = one_message(&sqs, &dead).await;
    let event: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
    assert_eq!(event["Records"][0]["Sns"]["Message"], "m1");
    assert_eq!(attribute(&m, "ErrorMessage").1, "nope undefined");
    assert_empty(&sqs, &sub_dlq).await;
    server.stop().await;
}

/// With an OnFailure destination and no dead-letter queue, a failed SNS-triggered event goes to
/// the destination (as AWS sends it), not to the subscription's dead-letter queue, which stands
/// in only for a function with no failure handling of its own.
#[tokio::test]
async fn a_failed_sns_event_goes_to_the_on_failure_destination_not_the_subscription_dlq() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    let sns = common::sns(&server);
    let destination = common::create_queue(&sqs, "on-failure", &[]).await;
    let destination_arn = common::queue_arn(&sqs, &destination).await;
    let sub_dlq = common::create_queue(&sqs, "sub-dlq", &[]).await;
    let sub_dlq_arn = common::queue_arn(&sqs, &sub_dlq).await;
    let function = lambda::create_with(
        &client,
        "fails",
        "nodejs20.x",
        "index.handler",
        &[("index.js", FAILS)],
        |b| b,
    )
    .await;
    client
        .put_function_event_invoke_config()
        .function_name("fails")
        .maximum_retry_attempts(0)
        .destination_config(
            aws_sdk_lambda::types::DestinationConfig::builder()
                .on_failure(
                    aws_sdk_lambda::types::OnFailure::builder()
                        .destination(&destination_arn)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    publish_to_function(&sns, &function, &sub_dlq_arn, "m1").await;
    let m = one_message(&sqs, &destination).await;
    let record: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
    assert_eq!(
        record["requestContext"]["condition"], "RetriesExhausted",
        "{record}"
    );
    assert_eq!(
        record["requestPayload"]["Records"][0]["Sns"]["Message"],
        "m1"
    );
    assert_empty(&sqs, &sub_dlq).await;
    server.stop().await;
}

/// An SNS topic as the dead-letter target: the event is published with the same attributes
/// (seen here through a raw-delivery queue subscription).
#[tokio::test]
async fn a_topic_dead_letter_target_gets_the_event_with_the_attributes() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    let sns = common::sns(&server);
    let topic = sns
        .create_topic()
        .name("dead-topic")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let url = common::create_queue(&sqs, "from-topic", &[]).await;
    let queue_arn = common::queue_arn(&sqs, &url).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    lambda::create(
        &client,
        "fails",
        "nodejs20.x",
        "index.handler",
        &[("index.js", FAILS)],
    )
    .await;
    client
        .update_function_configuration()
        .function_name("fails")
        .dead_letter_config(dlq(&topic))
        .send()
        .await
        .unwrap();
    client
        .put_function_event_invoke_config()
        .function_name("fails")
        .maximum_retry_attempts(0)
        .send()
        .await
        .unwrap();
    client
        .invoke()
        .function_name("fails")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(br#"{"n":5}"#.to_vec()))
        .send()
        .await
        .unwrap();
    let m = one_message(&sqs, &url).await;
    assert_eq!(m.body(), Some(r#"{"n":5}"#));
    assert_eq!(
        attribute(&m, "ErrorCode"),
        ("Number".to_string(), "200".to_string())
    );
    assert_eq!(attribute(&m, "ErrorMessage").1, "nope 5");
    assert!(!attribute(&m, "RequestID").1.is_empty());
    server.stop().await;
}

/// Publishes `message` to a new topic with a `lambda` subscription to `function` whose
/// dead-letter queue is `sub_dlq_arn`.
async fn publish_to_function(
    sns: &aws_sdk_sns::Client,
    function: &str,
    sub_dlq_arn: &str,
    message: &str,
) {
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
        .endpoint(function)
        .attributes(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{sub_dlq_arn}"}}"#),
        )
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message(message)
        .send()
        .await
        .unwrap();
}

/// `url` has no message (after a short long poll).
async fn assert_empty(sqs: &aws_sdk_sqs::Client, url: &str) {
    let left = sqs
        .receive_message()
        .queue_url(url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(left.messages().is_empty(), "{:?}", left.messages());
}

/// The function "fails" (it throws), with `dead_letter_arn` as its dead-letter queue and no
/// retries, so its one failed attempt is the last; its ARN.
async fn failing_function(client: &aws_sdk_lambda::Client, dead_letter_arn: &str) -> String {
    let function = lambda::create_with(
        client,
        "fails",
        "nodejs20.x",
        "index.handler",
        &[("index.js", FAILS)],
        |b| b.dead_letter_config(dlq(dead_letter_arn)),
    )
    .await;
    client
        .put_function_event_invoke_config()
        .function_name("fails")
        .maximum_retry_attempts(0)
        .send()
        .await
        .unwrap();
    function
}
