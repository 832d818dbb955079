//! SNS → Lambda: a `lambda` subscription invokes the function asynchronously with Lambda's SNS
//! event; an error is retried twice (1 and 2 minutes later on the service clock), then the
//! subscription's dead-letter queue gets the notification. The delivery is still captured.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::time::Duration;

use serde_json::Value;

async fn wait_until_async<F: std::future::Future<Output = bool>>(what: &str, done: impl Fn() -> F) {
    for _ in 0..750 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A function that appends each event to `out` and then runs `then`.
async fn function(
    client: &aws_sdk_lambda::Client,
    name: &str,
    out: &std::path::Path,
    then: &str,
) -> String {
    let code = format!(
        "const fs = require('fs');\nexports.handler = async (event) => {{ fs.appendFileSync(process.env.OUT, JSON.stringify(event) + '\\n'); {then} }};"
    );
    lambda::create_with(
        client,
        name,
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
    .await
}

fn events(out: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn temp_file(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "lyrebird-sns-{tag}-{}-{}.jsonl",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

#[tokio::test]
async fn a_lambda_subscription_gets_lambdas_sns_event() {
    let server = common::server().await;
    let sns = common::sns(&server);
    let client = lambda::client(&server);
    let out = temp_file("event");
    let arn = function(&client, "on-order", &out, "return 'ok';").await;
    let topic = sns
        .create_topic()
        .name("orders")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let subscription = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("lambda")
        .endpoint(&arn)
        .return_subscription_arn(true)
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("Hello from SNS!")
        .message_attributes(
            "priority",
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("HIGH")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_until_async("the invocation", || async { !events(&out).is_empty() }).await;
    let event = &events(&out)[0];
    let record = &event["Records"][0];
    assert_eq!(record["EventSource"], "aws:sns");
    assert_eq!(record["EventVersion"], "1.0");
    assert_eq!(record["EventSubscriptionArn"], subscription.as_str());
    let sns_part = &record["Sns"];
    assert_eq!(sns_part["Type"], "Notification");
    assert_eq!(sns_part["TopicArn"], topic.as_str());
    assert_eq!(sns_part["Subject"], Value::Null);
    assert_eq!(sns_part["Message"], "Hello from SNS!");
    assert_eq!(sns_part["SignatureVersion"], "1");
    assert!(sns_part["Signature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(sns_part["SigningCertUrl"]
        .as_str()
        .unwrap()
        .ends_with(".pem"));
    assert!(sns_part["UnsubscribeUrl"]
        .as_str()
        .unwrap()
        .contains(&format!("SubscriptionArn={subscription}")));
    assert_eq!(
        sns_part["MessageAttributes"]["priority"],
        serde_json::json!({"Type": "String", "Value": "HIGH"})
    );
    assert!(sns_part["Timestamp"].as_str().unwrap().ends_with('Z'));
    // The log records an invocation once it has finished.
    wait_until_async("the invocation log", || async {
        !lambda::invocations(&server, Some("on-order"))
            .await
            .is_empty()
    })
    .await;
    let log = lambda::invocations(&server, Some("on-order")).await;
    assert_eq!(log[0]["source"], "aws:sns", "{log:?}");
    assert_eq!(log[0]["invocation_type"], "Event", "{log:?}");
    // Still captured, as before functions ran.
    let captured: Value = serde_json::from_slice(
        &reqwest::get(format!(
            "{}/_lyrebird/sns/deliveries?protocol=lambda",
            server.endpoint()
        ))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(captured["deliveries"].as_array().unwrap().len(), 1);
    let _ = std::fs::remove_file(&out);
}

#[tokio::test]
async fn a_failing_function_is_retried_twice_then_the_subscription_dlq_gets_the_message() {
    let server = common::server().await;
    let sns = common::sns(&server);
    let sqs = common::sqs(&server);
    let client = lambda::client(&server);
    let out = temp_file("retry");
    let arn = function(&client, "always-fails", &out, "throw new Error('nope');").await;
    let dlq = common::create_queue(&sqs, "sub-dlq", &[]).await;
    let dlq_arn = common::queue_arn(&sqs, &dlq).await;
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
        .endpoint(&arn)
        .attributes(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}"}}"#),
        )
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("poison")
        .send()
        .await
        .unwrap();
    wait_until_async("the first attempt", || async { events(&out).len() == 1 }).await;
    // Each retry waits on the service clock (1, then 2 minutes) from when the attempt before it
    // finished, which the handler's own record precedes: move the clock until it runs.
    for (attempts, step) in [(2, 61.0), (3, 121.0)] {
        wait_until_async("a retry", || async {
            if events(&out).len() >= attempts {
                return true;
            }
            assert!(
                common::drain(&sqs, &dlq).await.is_empty(),
                "not before the retries"
            );
            common::advance_clock(&server, step).await;
            false
        })
        .await;
    }
    let mut dead = Vec::new();
    for _ in 0..250 {
        dead = common::drain(&sqs, &dlq).await;
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(dead.len(), 1);
    let envelope: Value = serde_json::from_str(&dead[0]).unwrap();
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["Message"], "poison");
    assert_eq!(events(&out).len(), 3, "two retries, no more");
    let _ = std::fs::remove_file(&out);
}
