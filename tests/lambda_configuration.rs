//! A function's configuration as AWS answers it (issue 18): the states CreateFunction and the
//! updates answer and later reads show (recorded on AWS: LocalStack's
//! test_lambda_api.snapshot.json, test_function_lifecycle / test_redundant_updates), the SDK
//! waiters on them, UpdateFunctionConfiguration, and RuntimeVersionConfig.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::time::Duration;

use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, LastUpdateStatus, Runtime, State};

/// Answers what it runs with: its environment, memory and handler.
const REPORTER: &str = "exports.handler = async (e, ctx) => ({ greeting: process.env.GREETING ?? null, memory: String(ctx.memoryLimitInMB), handler: process.env._HANDLER });";

fn error_code<E: aws_sdk_lambda::error::ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

/// `GET .../configuration` as raw JSON.
async fn configuration_json(server: &lyrebird::RunningServer, name: &str) -> serde_json::Value {
    let response = common::http()
        .get(format!(
            "{}/2015-03-31/functions/{name}/configuration",
            server.endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// A CreateFunction request for a Node function answering with `REPORTER`.
fn create_reporter(
    client: &aws_sdk_lambda::Client,
    name: &str,
    role: &str,
) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder {
    client
        .create_function()
        .function_name(name)
        .runtime(Runtime::Nodejs20x)
        .handler("index.handler")
        .role(role)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(lambda::zip(&[("index.js", REPORTER)])))
                .build(),
        )
}

fn runtime_version_hex(arn: &str) -> &str {
    let hex = arn
        .strip_prefix("arn:aws:lambda:us-east-1::runtime:")
        .unwrap_or_else(|| panic!("runtime version ARN {arn}"));
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{arn}"
    );
    hex
}

#[tokio::test]
async fn create_answers_pending_then_reads_show_active_under_a_new_revision() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let created = create_reporter(
        &client,
        "fresh",
        "arn:aws:iam::000000000000:role/lambda-role",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(created.state, Some(State::Pending));
    assert_eq!(
        created.state_reason.as_deref(),
        Some("The function is being created.")
    );
    assert_eq!(
        created.state_reason_code.as_ref().map(|c| c.as_str()),
        Some("Creating")
    );
    assert_eq!(created.last_update_status, None);
    let created_runtime_arn = created
        .runtime_version_config
        .as_ref()
        .and_then(|r| r.runtime_version_arn.clone())
        .expect("RuntimeVersionConfig");
    runtime_version_hex(&created_runtime_arn);

    // The function is usable at once (its creation completes as it is stored).
    let (body, error) = lambda::invoke(&client, "fresh", "{}").await;
    assert_eq!(error, None, "{body}");

    let read = configuration_json(&server, "fresh").await;
    assert_eq!(read["State"], "Active", "{read}");
    assert_eq!(read["LastUpdateStatus"], "Successful", "{read}");
    for absent in [
        "StateReason",
        "StateReasonCode",
        "LastUpdateStatusReason",
        "LastUpdateStatusReasonCode",
    ] {
        assert!(read.get(absent).is_none(), "{absent} in {read}");
    }
    assert_ne!(
        read["RevisionId"].as_str(),
        created.revision_id.as_deref(),
        "the settled function has a revision of its own"
    );
    assert_eq!(
        read["RuntimeVersionConfig"]["RuntimeVersionArn"],
        created_runtime_arn.as_str()
    );
    let got = client
        .get_function()
        .function_name("fresh")
        .send()
        .await
        .unwrap()
        .configuration
        .unwrap();
    assert_eq!(got.state, Some(State::Active));
    assert_eq!(got.revision_id.as_deref(), read["RevisionId"].as_str());

    // The SDK's waiters see what they wait for.
    client
        .wait_until_function_active_v2()
        .function_name("fresh")
        .wait(Duration::from_secs(10))
        .await
        .expect("function_active_v2");
    client
        .wait_until_function_updated_v2()
        .function_name("fresh")
        .wait(Duration::from_secs(10))
        .await
        .expect("function_updated_v2");
    server.stop().await;
}

#[tokio::test]
async fn update_function_code_answers_in_progress_then_reads_show_successful() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "coded",
        "nodejs20.x",
        "index.handler",
        &[("index.js", REPORTER)],
    )
    .await;
    let before = configuration_json(&server, "coded").await;
    let updated = client
        .update_function_code()
        .function_name("coded")
        .zip_file(Blob::new(lambda::zip(&[(
            "index.js",
            "exports.handler = async () => 'v2';",
        )])))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.state, Some(State::Active));
    assert_eq!(
        updated.last_update_status,
        Some(LastUpdateStatus::InProgress)
    );
    assert_eq!(
        updated.last_update_status_reason.as_deref(),
        Some("The function is being created.")
    );
    assert_eq!(
        updated
            .last_update_status_reason_code
            .as_ref()
            .map(|c| c.as_str()),
        Some("Creating")
    );
    assert_ne!(
        updated.revision_id.as_deref(),
        before["RevisionId"].as_str()
    );

    let read = configuration_json(&server, "coded").await;
    assert_eq!(read["LastUpdateStatus"], "Successful", "{read}");
    assert!(read.get("LastUpdateStatusReason").is_none(), "{read}");
    assert_ne!(read["RevisionId"].as_str(), updated.revision_id.as_deref());
    assert_ne!(read["RevisionId"], before["RevisionId"]);
    client
        .wait_until_function_updated_v2()
        .function_name("coded")
        .wait(Duration::from_secs(10))
        .await
        .expect("function_updated_v2");
    let (body, _) = lambda::invoke(&client, "coded", "{}").await;
    assert_eq!(body, "\"v2\"");
    server.stop().await;
}

#[tokio::test]
async fn update_function_configuration_applies_to_the_next_invocation() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "tuned",
        "nodejs20.x",
        "index.handler",
        &[("index.js", REPORTER), ("other.js", REPORTER)],
    )
    .await;
    // A warm process with the first configuration.
    let (body, _) = lambda::invoke(&client, "tuned", "{}").await;
    let first: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(first["greeting"], serde_json::Value::Null, "{body}");
    assert_eq!(first["memory"], "128", "{body}");
    let before = configuration_json(&server, "tuned").await;

    let answer = client
        .update_function_configuration()
        .function_name("tuned")
        .description("Changed-Description")
        .handler("other.handler")
        .runtime(Runtime::Nodejs22x)
        .role("arn:aws:iam::000000000000:role/other-role")
        .timeout(10)
        .memory_size(512)
        .environment(Environment::builder().variables("GREETING", "hi").build())
        .revision_id(before["RevisionId"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.description.as_deref(), Some("Changed-Description"));
    assert_eq!(answer.handler.as_deref(), Some("other.handler"));
    assert_eq!(answer.runtime, Some(Runtime::Nodejs22x));
    assert_eq!(answer.timeout, Some(10));
    assert_eq!(answer.memory_size, Some(512));
    assert_eq!(
        answer.last_update_status,
        Some(LastUpdateStatus::InProgress)
    );
    assert_eq!(
        answer.last_update_status_reason.as_deref(),
        Some("The function is being created.")
    );
    // Another runtime runs on another runtime build.
    assert_ne!(
        answer
            .runtime_version_config
            .and_then(|r| r.runtime_version_arn)
            .as_deref(),
        before["RuntimeVersionConfig"]["RuntimeVersionArn"].as_str()
    );

    let read = configuration_json(&server, "tuned").await;
    assert_eq!(read["LastUpdateStatus"], "Successful", "{read}");
    assert_eq!(read["Environment"]["Variables"]["GREETING"], "hi", "{read}");
    assert_eq!(read["Role"], "arn:aws:iam::000000000000:role/other-role");
    assert_eq!(read["Timeout"], 10);
    assert_ne!(read["RevisionId"].as_str(), answer.revision_id.as_deref());
    assert_ne!(read["RevisionId"], before["RevisionId"]);
    // Members not given are kept; Environment given replaces the whole set.
    let answer = client
        .update_function_configuration()
        .function_name("tuned")
        .description("again")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.memory_size, Some(512));
    assert_eq!(answer.handler.as_deref(), Some("other.handler"));

    // The warm process was stopped: the next invocation runs with the new configuration.
    let (body, error) = lambda::invoke(&client, "tuned", "{}").await;
    assert_eq!(error, None, "{body}");
    let next: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(next["greeting"], "hi", "{body}");
    assert_eq!(next["memory"], "512", "{body}");
    assert_eq!(next["handler"], "other.handler", "{body}");
    server.stop().await;
}

#[tokio::test]
async fn update_function_configuration_rejects_what_aws_rejects() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "strict",
        "nodejs20.x",
        "index.handler",
        &[("index.js", REPORTER)],
    )
    .await;
    let update = || {
        client
            .update_function_configuration()
            .function_name("strict")
    };

    let e = update()
        .role("r1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_code(&e),
        (
            "ValidationException".into(),
            "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+".into()
        )
    );
    for runtime in ["non-existent-runtime", "PYTHON3.9"] {
        let e = update()
            .runtime(runtime.into())
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        let (code, message) = error_code(&e);
        assert_eq!(code, "InvalidParameterValueException");
        assert!(
            message.starts_with(&format!("Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [")),
            "{message}"
        );
    }
    let e = update()
        .timeout(901)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_code(&e).1,
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"
    );
    let e = update()
        .memory_size(64)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        error_code(&e).1,
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
    );
    let e = update()
        .revision_id("not-the-latest")
        .description("x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_precondition_failed_exception(), "{e:?}");
    assert_eq!(
        error_code(&e).1,
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
    );
    let e = client
        .update_function_configuration()
        .function_name("missing")
        .description("x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    // Nothing rejected changed the function.
    let read = configuration_json(&server, "strict").await;
    assert_eq!(
        (read["Timeout"].as_u64(), read["MemorySize"].as_u64()),
        (Some(3), Some(128))
    );
    assert_eq!(read["Description"], "");

    // CreateFunction checks the role the same way.
    let e = create_reporter(&client, "badrole", "r1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_code(&e).0, "ValidationException");
    assert!(error_code(&e).1.contains("at 'role'"), "{e:?}");
    server.stop().await;
}

#[tokio::test]
async fn updated_configuration_survives_a_restart_on_a_data_dir() {
    let dir = std::env::temp_dir().join(format!("lyrebird-lambda-{}", uuid::Uuid::new_v4()));
    let args = ["--data-dir".to_string(), dir.display().to_string()];
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    lambda::create(
        &client,
        "kept",
        "nodejs20.x",
        "index.handler",
        &[("index.js", REPORTER)],
    )
    .await;
    client
        .update_function_configuration()
        .function_name("kept")
        .memory_size(256)
        .environment(Environment::builder().variables("GREETING", "kept").build())
        .send()
        .await
        .unwrap();
    let revision = client
        .get_function_configuration()
        .function_name("kept")
        .send()
        .await
        .unwrap()
        .revision_id;
    drop(server);

    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let got = client
        .get_function_configuration()
        .function_name("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(got.memory_size, Some(256));
    assert_eq!(got.revision_id, revision);
    let (body, _) = lambda::invoke(&client, "kept", "{}").await;
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["greeting"], "kept", "{body}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What AWS leaves out (recorded: test_list_functions, test_lambda_code_location_zipfile):
/// ListFunctions' entries carry no State, LastUpdateStatus or RuntimeVersionConfig, and a
/// function without variables has no Environment.
#[tokio::test]
async fn list_entries_and_functions_without_variables_leave_out_what_aws_does() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "plain",
        "nodejs20.x",
        "index.handler",
        &[("index.js", REPORTER)],
    )
    .await;
    let read = configuration_json(&server, "plain").await;
    assert!(read.get("Environment").is_none(), "{read}");
    assert_eq!(read["State"], "Active", "{read}");

    let response = common::http()
        .get(format!("{}/2015-03-31/functions/", server.endpoint()))
        .send()
        .await
        .unwrap();
    let listed: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let entry = &listed["Functions"][0];
    assert_eq!(entry["FunctionName"], "plain", "{listed}");
    assert_eq!(entry["RevisionId"], read["RevisionId"], "{listed}");
    for absent in [
        "State",
        "LastUpdateStatus",
        "RuntimeVersionConfig",
        "Environment",
    ] {
        assert!(entry.get(absent).is_none(), "{absent} in {entry}");
    }
    server.stop().await;
}
