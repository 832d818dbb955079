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
