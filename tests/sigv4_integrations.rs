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
