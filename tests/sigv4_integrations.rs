//! Issue 17 item 10 under `--auth sigv4`: what runs on a caller's behalf (handlers, event source
//! mappings, EventBridge targets) reaches other accounts only as the caller itself could.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::time::SystemTime;

use lyrebird::credentials::AuthMode;
use lyrebird::{Config, RunningServer};

const ALICE: (&str, &str, &str) = ("AKIDALICE", "alice-secret", "111111111111");
const BOB: (&str, &str, &str) = ("AKIDBOB", "bob-secret", "222222222222");

async fn server() -> RunningServer {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = std::env::temp_dir().join(format!(
        "lyrebird-credentials-{}-{nanos}.json",
        std::process::id()
    ));
    let keys: Vec<String> = [ALICE, BOB]
        .iter()
        .map(|(key, secret, account)| {
            format!(
                r#"{{"access_key_id":"{key}","secret_access_key":"{secret}","account_id":"{account}"}}"#
            )
        })
        .collect();
    std::fs::write(&path, format!(r#"{{"keys":[{}]}}"#, keys.join(","))).unwrap();
    let config = Config {
        port: 0,
        test_endpoints: true,
        auth: AuthMode::SigV4,
        credentials: Some(path),
        ..Config::default()
    };
    lyrebird::spawn(config).await.expect("server starts")
}

fn lambda_as(server: &RunningServer, who: (&str, &str, &str)) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(who.0, who.1, None, None, "test"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

fn sqs_as(server: &RunningServer, who: (&str, &str, &str)) -> aws_sdk_sqs::Client {
    use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(who.0, who.1, None, None, "test"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

fn boto3_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A handler's own SDK calls are signed with the credentials file's key of its function's
/// account, so they are accepted and act as that account.
#[tokio::test]
async fn handlers_call_lyrebird_as_their_functions_account() {
    if !boto3_available() {
        eprintln!("skipped: python3 has no boto3 (the unit test in launch.rs covers the keys)");
        return;
    }
    let server = server().await;
    let client = lambda_as(&server, BOB);
    let handler = r#"
import boto3
def handler(event, context):
    return boto3.client("sts").get_caller_identity()["Account"]
"#;
    lambda::create_with(
        &client,
        "who",
        "python3.12",
        "h.handler",
        &[("h.py", handler)],
        |b| b.timeout(20),
    )
    .await;
    let (payload, error) = lambda::invoke(&client, "who", "{}").await;
    assert_eq!(error, None, "{payload}");
    assert_eq!(payload, format!("\"{}\"", BOB.2));
}

/// A mapping polls another account's queue only where the queue's Policy lets the caller's
/// account ReceiveMessage; otherwise it is refused as a role without that permission is.
#[tokio::test]
async fn a_mapping_reaches_another_accounts_queue_only_through_its_policy() {
    let server = server().await;
    let alice = sqs_as(&server, ALICE);
    let url = alice
        .create_queue()
        .queue_name("alices")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = format!("arn:aws:sqs:us-east-1:{}:alices", ALICE.2);
    let bob = lambda_as(&server, BOB);
    lambda::create(
        &bob,
        "reader",
        "python3.12",
        "h.handler",
        &[("h.py", "def handler(event, context):\n    return None\n")],
    )
    .await;
    let err = bob
        .create_event_source_mapping()
        .function_name("reader")
        .event_source_arn(&arn)
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(
        service.is_invalid_parameter_value_exception(),
        "{service:?}"
    );
    assert_eq!(
        service.meta().message(),
        Some("The provided execution role does not have permissions to call ReceiveMessage on SQS")
    );
    // A grant of another action is not enough.
    let policy = |action: &str| {
        format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"{action}","Resource":"{arn}"}}]}}"#,
            BOB.2
        )
    };
    for (action, granted) in [("sqs:SendMessage", false), ("sqs:ReceiveMessage", true)] {
        alice
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                policy(action),
            )
            .send()
            .await
            .unwrap();
        let result = bob
            .create_event_source_mapping()
            .function_name("reader")
            .event_source_arn(&arn)
            .send()
            .await;
        assert_eq!(result.is_ok(), granted, "{action}: {result:?}");
    }
    // Withdrawn, an update is refused too.
    let uuid = bob
        .list_event_source_mappings()
        .send()
        .await
        .unwrap()
        .event_source_mappings()[0]
        .uuid()
        .unwrap()
        .to_string();
    alice
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, "")
        .send()
        .await
        .unwrap();
    let err = bob
        .update_event_source_mapping()
        .uuid(&uuid)
        .enabled(false)
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .is_invalid_parameter_value_exception());
}

fn events_as(server: &RunningServer, who: (&str, &str, &str)) -> aws_sdk_eventbridge::Client {
    use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(who.0, who.1, None, None, "test"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

/// A rule's target in another account (queue or topic) takes its events only where the
/// resource's Policy allows the rule's account or events.amazonaws.com; a refused delivery is a
/// failed invocation, dead-lettered with NO_PERMISSIONS.
#[tokio::test]
async fn a_rule_reaches_another_accounts_queue_or_topic_only_through_its_policy() {
    use aws_sdk_eventbridge::types::{DeadLetterConfig, PutEventsRequestEntry, Target};
    use aws_sdk_sqs::types::QueueAttributeName;
    let server = server().await;
    let alice = sqs_as(&server, ALICE);
    let bob_sqs = sqs_as(&server, BOB);
    let bob = events_as(&server, BOB);
    let queue = |client: &aws_sdk_sqs::Client, name: &str| {
        let client = client.clone();
        let name = name.to_string();
        async move {
            client
                .create_queue()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let alices = queue(&alice, "alices").await;
    let alices_arn = format!("arn:aws:sqs:us-east-1:{}:alices", ALICE.2);
    let dlq = queue(&bob_sqs, "bobs-dlq").await;
    let dlq_arn = format!("arn:aws:sqs:us-east-1:{}:bobs-dlq", BOB.2);
    let topic_arn = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                ALICE.0, ALICE.1, None, None, "test",
            ))
            .endpoint_url(server.endpoint())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build(),
    )
    .create_topic()
    .name("alices-topic")
    .send()
    .await
    .unwrap()
    .topic_arn
    .unwrap();
    bob.put_rule()
        .name("r")
        .event_pattern(r#"{"source":["app"]}"#)
        .send()
        .await
        .unwrap();
    let dead_letter = DeadLetterConfig::builder().arn(&dlq_arn).build();
    bob.put_targets()
        .rule("r")
        .targets(
            Target::builder()
                .id("q")
                .arn(&alices_arn)
                .dead_letter_config(dead_letter.clone())
                .build()
                .unwrap(),
        )
        .targets(
            Target::builder()
                .id("t")
                .arn(&topic_arn)
                .dead_letter_config(dead_letter)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let put = || async {
        let out = bob
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .source("app")
                    .detail_type("t")
                    .detail("{}")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count, 0);
    };
    put().await;
    let dead = receive_all(&bob_sqs, &dlq).await;
    assert_eq!(dead.len(), 2, "{dead:?}");
    for message in &dead {
        let attributes = message.message_attributes.as_ref().unwrap();
        assert_eq!(
            attributes["ERROR_CODE"].string_value.as_deref(),
            Some("NO_PERMISSIONS")
        );
    }
    assert!(receive_all(&alice, &alices).await.is_empty());
    // Granted to the service, the queue takes the events.
    alice
        .set_queue_attributes()
        .queue_url(&alices)
        .attributes(
            QueueAttributeName::Policy,
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Service":"events.amazonaws.com"}},"Action":"sqs:SendMessage","Resource":"{alices_arn}"}}]}}"#
            ),
        )
        .send()
        .await
        .unwrap();
    put().await;
    assert_eq!(receive_all(&alice, &alices).await.len(), 1);
    // The topic still refuses: one more dead letter.
    assert_eq!(receive_all(&bob_sqs, &dlq).await.len(), 1);
}
