#![allow(dead_code)]
//! Test harness: a real lyrebird on an ephemeral port, and clients pointed at it.

pub mod endpoint;
pub mod engine;
pub mod events;
pub mod process;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use lyrebird::{Config, RunningServer};

pub const ACCOUNT: &str = "000000000000";

/// Starts a fresh server (its own state) with test endpoints enabled.
pub async fn server() -> RunningServer {
    let config = Config {
        port: 0,
        test_endpoints: true,
        ..Config::default()
    };
    lyrebird::spawn(config).await.expect("server starts")
}

/// An aws-sdk-sqs client (AWS JSON 1.0 protocol) for `server`, with region us-east-1.
pub fn sqs(server: &RunningServer) -> aws_sdk_sqs::Client {
    sqs_as(server, "test", "us-east-1")
}

/// A client signing with `access_key` in `region` (a 12-digit key selects that account).
pub fn sqs_as(server: &RunningServer, access_key: &str, region: &str) -> aws_sdk_sqs::Client {
    sqs_at(&server.endpoint(), access_key, region)
}

/// An aws-sdk-sqs client for any endpoint (such as a `process::Process`).
pub fn sqs_at(endpoint: &str, access_key: &str, region: &str) -> aws_sdk_sqs::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .http_client(http)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// An aws-sdk-sns client for `server` (query protocol), region us-east-1.
pub fn sns(server: &RunningServer) -> aws_sdk_sns::Client {
    sns_at(&server.endpoint())
}

/// An aws-sdk-sns client for any endpoint (such as a `process::Process`).
pub fn sns_at(endpoint: &str) -> aws_sdk_sns::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "test", "secret", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .http_client(http)
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// A subscription's attributes (GetSubscriptionAttributes).
pub async fn subscription_attributes(
    sns: &aws_sdk_sns::Client,
    arn: &str,
) -> std::collections::HashMap<String, String> {
    sns.get_subscription_attributes()
        .subscription_arn(arn)
        .send()
        .await
        .expect("get subscription attributes")
        .attributes
        .unwrap_or_default()
}

/// The code of a failed aws-sdk-sns call.
pub fn sns_error_code<E, R>(err: &aws_sdk_sns::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sns::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .unwrap_or_else(|| panic!("expected a service error, got {err:?}"))
        .to_string()
}

pub fn sns_error_message<E, R>(err: &aws_sdk_sns::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sns::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_string()
}

/// Creates a standard queue with optional attributes and returns its URL.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(&str, &str)],
) -> String {
    let mut req = client.create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(aws_sdk_sqs::types::QueueAttributeName::from(*k), *v);
    }
    req.send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}
/// Creates a FIFO queue (`FifoQueue=true` plus `extra` attributes) and returns its URL.
pub async fn fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str, extra: &[(&str, &str)]) -> String {
    let mut attrs = vec![("FifoQueue", "true")];
    attrs.extend_from_slice(extra);
    create_queue(sqs, name, &attrs).await
}

/// The ARN of a queue, read back with GetQueueAttributes.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

/// Sends one message; returns its MessageId.
pub async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &str) -> String {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap()
}

/// One receive (no wait) of at most `max` messages, asking for every system and user attribute.
pub async fn receive_all(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

/// Receives and deletes everything visible in a queue; returns the bodies.
pub async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let messages = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for m in messages {
            bodies.push(m.body().unwrap().to_string());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// Moves the server's clock forward (visibility, delay, retention, purge interval).
pub async fn advance_clock(server: &RunningServer, seconds: f64) {
    let resp = http()
        .post(format!("{}/_lyrebird/clock/advance", server.endpoint()))
        .header("content-type", "application/json")
        .body(format!("{{\"seconds\":{seconds}}}"))
        .send()
        .await
        .expect("advance clock");
    assert!(resp.status().is_success());
}

pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// A query-protocol request (form POST to `path`), returning status and body text.
pub async fn query(server: &RunningServer, path: &str, params: &[(&str, &str)]) -> (u16, String) {
    let body = serde_urlencoded::to_string(params).unwrap();
    let resp = http()
        .post(format!("{}{}", server.endpoint(), path))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body)
        .send()
        .await
        .expect("query request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// A raw AWS JSON 1.0 SQS request, returning status, `x-amzn-query-error` and body.
pub async fn json(
    server: &RunningServer,
    operation: &str,
    body: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let resp = http()
        .post(server.endpoint())
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AmazonSQS.{operation}"))
        .body(body.to_string())
        .send()
        .await
        .expect("json request");
    let status = resp.status().as_u16();
    let query_error = resp
        .headers()
        .get("x-amzn-query-error")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, query_error, value)
}

/// The error code an SDK call failed with (the `x-amzn-query-error` code aws-sdk-rust uses).
pub fn error_code<E, R>(err: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .unwrap_or_else(|| panic!("expected a service error, got {err:?}"))
        .to_string()
}

pub fn error_message<E, R>(err: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    err.as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_string()
}
