//! EventBridge helpers: an aws-sdk-eventbridge client, raw AWS JSON 1.1 calls, and the SQS
//! plumbing the EventBridge tests share.

use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use lyrebird::RunningServer;

/// An aws-sdk-eventbridge client for `server` (AWS JSON 1.1), region us-east-1.
pub fn events(server: &RunningServer) -> aws_sdk_eventbridge::Client {
    events_as(&server.endpoint(), "test", "us-east-1")
}

/// A client signing with `access_key` (12 digits select that account) in `region`.
pub fn events_as(endpoint: &str, access_key: &str, region: &str) -> aws_sdk_eventbridge::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .http_client(http)
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// A raw `AWSEvents.<op>` call; returns the status and the parsed JSON answer.
pub async fn call(
    server: &RunningServer,
    op: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    call_at(&server.endpoint(), op, body).await
}

/// `call` against any endpoint (such as a `process::Process`).
pub async fn call_at(
    endpoint: &str,
    op: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = super::http()
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSEvents.{op}"))
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// The code and message of a failed SDK call.
pub fn error_of<E, R>(err: &aws_sdk_eventbridge::error::SdkError<E, R>) -> (String, String)
where
    E: aws_sdk_eventbridge::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let e = err
        .as_service_error()
        .unwrap_or_else(|| panic!("expected a service error, got {err:?}"));
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

/// A queue and its ARN.
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let url = super::create_queue(sqs, name, &[]).await;
    let arn = super::queue_arn(sqs, &url).await;
    (url, arn)
}

/// Waits (up to 5 s) for `n` messages in a queue; returns them, deleted.
pub async fn wait_messages(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    n: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while got.len() < n && std::time::Instant::now() < deadline {
        let batch = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        for m in batch {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            got.push(m);
        }
    }
    got
}

/// The body of each message, as JSON.
pub fn bodies(messages: &[aws_sdk_sqs::types::Message]) -> Vec<serde_json::Value> {
    messages
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).expect("JSON body"))
        .collect()
}

/// Puts `entries` (none may fail), then waits (up to 5 s) for `n` messages in the queue at
/// `url`: the put-then-look step of the routing tests. Returns PutEvents' answer and the
/// messages, deleted.
pub async fn put_and_receive(
    eb: &aws_sdk_eventbridge::Client,
    entries: Vec<aws_sdk_eventbridge::types::PutEventsRequestEntry>,
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    n: usize,
) -> (
    aws_sdk_eventbridge::operation::put_events::PutEventsOutput,
    Vec<aws_sdk_sqs::types::Message>,
) {
    let out = eb
        .put_events()
        .set_entries(Some(entries))
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(out.failed_entry_count(), 0, "{out:?}");
    let messages = wait_messages(sqs, url, n).await;
    (out, messages)
}
