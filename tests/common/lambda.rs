#![allow(dead_code)]
//! Lambda test helpers (included by the Lambda test files with `#[path]`, so that other test
//! binaries do not link aws-sdk-lambda): an aws-sdk-lambda client, zip archives of handler files written by the
//! tests, and the invocation log.

use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use lyrebird::RunningServer;

/// An aws-sdk-lambda client (REST-JSON) for `server`, region us-east-1.
pub fn client(server: &RunningServer) -> aws_sdk_lambda::Client {
    client_at(&server.endpoint())
}

/// An aws-sdk-lambda client for any endpoint (such as a `process::Process`).
pub fn client_at(endpoint: &str) -> aws_sdk_lambda::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .http_client(http)
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// A zip archive of `files` (path, contents); `bootstrap` and `*.sh` files are executable.
pub fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        for (path, contents) in files {
            let executable = path.ends_with("bootstrap") || path.ends_with(".sh");
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(if executable { 0o755 } else { 0o644 });
            writer.start_file(*path, options).expect("zip entry");
            writer.write_all(contents.as_bytes()).expect("zip write");
        }
        writer.finish().expect("zip finish");
    }
    buffer.into_inner()
}

/// Creates a function from `files`; returns its ARN.
pub async fn create(
    client: &aws_sdk_lambda::Client,
    name: &str,
    runtime: &str,
    handler: &str,
    files: &[(&str, &str)],
) -> String {
    create_with(client, name, runtime, handler, files, |b| b).await
}

/// As `create`, with the request adjusted by `adjust` (Timeout, Environment, …).
pub async fn create_with(
    client: &aws_sdk_lambda::Client,
    name: &str,
    runtime: &str,
    handler: &str,
    files: &[(&str, &str)],
    adjust: impl FnOnce(
        aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
    ) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
) -> String {
    let request = client
        .create_function()
        .function_name(name)
        .runtime(runtime.into())
        .handler(handler)
        .role("arn:aws:iam::000000000000:role/lambda-role")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(zip(files)))
                .build(),
        );
    adjust(request)
        .send()
        .await
        .expect("create function")
        .function_arn
        .expect("arn")
}

/// Invokes synchronously; returns (payload as text, function error).
pub async fn invoke(
    client: &aws_sdk_lambda::Client,
    name: &str,
    payload: &str,
) -> (String, Option<String>) {
    let out = client
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.as_bytes().to_vec()))
        .send()
        .await
        .expect("invoke");
    let body = out
        .payload
        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
        .unwrap_or_default();
    (body, out.function_error)
}

/// `GET /_lyrebird/lambda/invocations` (optionally of one function).
pub async fn invocations(server: &RunningServer, function: Option<&str>) -> Vec<serde_json::Value> {
    let mut url = format!("{}/_lyrebird/lambda/invocations", server.endpoint());
    if let Some(f) = function {
        url.push_str(&format!("?function={f}"));
    }
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    body["Invocations"].as_array().cloned().unwrap_or_default()
}

/// Invokes synchronously with `LogType: Tail`; returns (payload as text, function error, the
/// decoded log tail).
pub async fn invoke_tail(
    client: &aws_sdk_lambda::Client,
    name: &str,
    payload: &str,
) -> (String, Option<String>, String) {
    use base64::Engine;
    let out = client
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.as_bytes().to_vec()))
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await
        .expect("invoke");
    let body = out
        .payload
        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
        .unwrap_or_default();
    let log = base64::engine::general_purpose::STANDARD
        .decode(out.log_result.unwrap_or_default())
        .expect("base64 log");
    (
        body,
        out.function_error,
        String::from_utf8_lossy(&log).into_owned(),
    )
}
