//! The Lambda API subset over REST-JSON, through aws-sdk-lambda: function lifecycle, AWS's error
//! shapes and wordings (recorded on AWS: LocalStack's test_lambda_api.snapshot.json), Invoke's
//! invocation types, persistence across a restart, and the invoke seam's asynchronous retries.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, FunctionCode, InvocationType, Runtime};
use lyrebird::lambda::{DeadLetter, FailureRoute, InvocationSource, InvokeRequest};

const ECHO: &str = "exports.handler = async (e) => e;";

fn error_code<E: aws_sdk_lambda::error::ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or_default().to_string(),
        e.message().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn function_lifecycle() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let created = client
        .create_function()
        .function_name("orders")
        .runtime(Runtime::Nodejs20x)
        .handler("index.handler")
        .role("arn:aws:iam::000000000000:role/r")
        .timeout(7)
        .memory_size(256)
        .description("takes orders")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(lambda::zip(&[("index.js", ECHO)])))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:orders";
    assert_eq!(created.function_arn.as_deref(), Some(arn));
    assert_eq!(created.function_name.as_deref(), Some("orders"));
    assert_eq!(created.timeout, Some(7));
    assert_eq!(created.memory_size, Some(256));
    assert_eq!(created.version.as_deref(), Some("$LATEST"));
    assert_eq!(created.handler.as_deref(), Some("index.handler"));
    assert_eq!(created.runtime, Some(Runtime::Nodejs20x));
    assert!(created
        .code_sha256
        .as_deref()
        .is_some_and(|s| s.len() == 44));
    assert!(created.code_size > 0);

    let got = client
        .get_function()
        .function_name("orders")
        .send()
        .await
        .unwrap();
    let configuration = got.configuration.unwrap();
    assert_eq!(configuration.function_arn.as_deref(), Some(arn));
    assert_eq!(configuration.description.as_deref(), Some("takes orders"));
    assert_eq!(configuration.code_sha256, created.code_sha256);
    assert_eq!(got.code.unwrap().repository_type.as_deref(), Some("S3"));
    // By ARN and partial ARN too.
    for name in [arn, "000000000000:function:orders", "orders:$LATEST"] {
        let c = client
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap();
        assert_eq!(c.function_name.as_deref(), Some("orders"), "{name}");
    }

    let again = client
        .create_function()
        .function_name("orders")
        .runtime(Runtime::Nodejs20x)
        .handler("index.handler")
        .role("arn:aws:iam::000000000000:role/r")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(lambda::zip(&[("index.js", ECHO)])))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&again.into_service_error()),
        (
            "ResourceConflictException".into(),
            "Function already exist: orders".into()
        )
    );

    let updated = client
        .update_function_code()
        .function_name("orders")
        .zip_file(Blob::new(lambda::zip(&[(
            "index.js",
            "exports.handler = async () => 'v2';",
        )])))
        .send()
        .await
        .unwrap();
    assert_ne!(updated.code_sha256, created.code_sha256);
    assert_ne!(updated.revision_id, created.revision_id);
    let (body, _) = lambda::invoke(&client, "orders", "{}").await;
    assert_eq!(body, "\"v2\"");

    let listed = client.list_functions().send().await.unwrap();
    let names: Vec<_> = listed
        .functions()
        .iter()
        .filter_map(|f| f.function_name())
        .collect();
    assert_eq!(names, ["orders"]);

    client
        .delete_function()
        .function_name("orders")
        .send()
        .await
        .unwrap();
    let missing = client
        .get_function()
        .function_name("orders")
        .send()
        .await
        .unwrap_err();
    let missing = missing.into_service_error();
    assert!(missing.is_resource_not_found_exception());
    assert_eq!(error_code(&missing).1, format!("Function not found: {arn}"));
    let missing = client
        .delete_function()
        .function_name("orders")
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .into_service_error()
        .is_resource_not_found_exception());
    server.stop().await;
}

#[tokio::test]
async fn list_functions_pages() {
    let server = common::server().await;
    let client = lambda::client(&server);
    for i in 0..5 {
        lambda::create(
            &client,
            &format!("f{i}"),
            "python3.12",
            "a.h",
            &[("a.py", "def h(e, c): return 1\n")],
        )
        .await;
    }
    let first = client.list_functions().max_items(2).send().await.unwrap();
    assert_eq!(first.functions().len(), 2);
    let marker = first.next_marker.expect("more pages");
    let rest = client.list_functions().marker(marker).send().await.unwrap();
    assert_eq!(rest.functions().len(), 3);
    assert_eq!(rest.next_marker, None);
    server.stop().await;
}

#[tokio::test]
async fn create_function_rejects_bad_input_as_aws_does() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let code = || {
        FunctionCode::builder()
            .zip_file(Blob::new(lambda::zip(&[("index.js", ECHO)])))
            .build()
    };
    let base = || {
        client
            .create_function()
            .function_name("bad")
            .handler("index.handler")
            .role("arn:aws:iam::000000000000:role/r")
    };
    let e = base()
        .runtime(Runtime::from("non-existent-runtime"))
        .code(code())
        .send()
        .await
        .unwrap_err();
    let (code_name, message) = error_code(&e.into_service_error());
    assert_eq!(code_name, "InvalidParameterValueException");
    assert!(message.starts_with("Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: ["), "{message}");

    let e = base()
        .runtime(Runtime::Nodejs20x)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(b"not a zip".to_vec()))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e.into_service_error()),
        (
            "InvalidParameterValueException".into(),
            "Could not unzip uploaded file. Please check your file, then try to upload again."
                .into()
        )
    );

    let e = base()
        .runtime(Runtime::Nodejs20x)
        .timeout(0)
        .code(code())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e.into_service_error()).0, "ValidationException");

    // A name longer than 64: CreateFunction refuses it, reads answer that no such function
    // exists (recorded: test_function_name_and_qualifier_validation[function_name_too_long]).
    let long = "a".repeat(65);
    let e = base()
        .function_name(&long)
        .runtime(Runtime::Nodejs20x)
        .code(code())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e.into_service_error()),
        (
            "InvalidParameterValueException".into(),
            format!("1 validation error detected: Value '{long}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64")
        )
    );
    let e = client
        .get_function()
        .function_name(&long)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e.into_service_error()),
        (
            "ResourceNotFoundException".into(),
            format!("Function not found: arn:aws:lambda:us-east-1:000000000000:function:{long}")
        )
    );
    // AWS's two functionName patterns: reads allow dots, CreateFunction does not.
    let e = client
        .get_function()
        .function_name("arn:aws:lambda:invalid-region:000000000000:function:f")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e.into_service_error()),
        (
            "ValidationException".into(),
            "1 validation error detected: Value 'arn:aws:lambda:invalid-region:000000000000:function:f' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?".into()
        )
    );
    let e = base()
        .function_name("invalid-account:function:my-function")
        .runtime(Runtime::Nodejs20x)
        .code(code())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e.into_service_error()).1,
        "1 validation error detected: Value 'invalid-account:function:my-function' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    );

    // Architectures: one, x86_64 or arm64 (recorded: test_create_lambda_exceptions).
    for (architectures, constraint) in [
        (vec![Architecture::X8664, Architecture::Arm64], "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1"),
        (vec![Architecture::from("X86_64")], "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"),
    ] {
        let e = base()
            .runtime(Runtime::Nodejs20x)
            .set_architectures(Some(architectures))
            .code(code())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&e.into_service_error()),
            ("ValidationException".into(), format!("1 validation error detected: {constraint}"))
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn rest_errors_have_lambdas_wire_shape() {
    let server = common::server().await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/2015-03-31/functions/nothing",
            server.endpoint()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "Type": "User",
            "message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nothing"
        })
    );
    server.stop().await;
}

#[tokio::test]
async fn invoke_types_and_payload_checks() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "echo",
        "nodejs20.x",
        "index.handler",
        &[("index.js", ECHO)],
    )
    .await;

    let dry = client
        .invoke()
        .function_name("echo")
        .invocation_type(InvocationType::DryRun)
        .send()
        .await
        .unwrap();
    assert_eq!(dry.status_code, 204);

    let event = client
        .invoke()
        .function_name("echo")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"async":true}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status_code, 202);
    let mut records = Vec::new();
    for _ in 0..100 {
        records = lambda::invocations(&server, Some("echo")).await;
        if !records.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(records.len(), 1, "the event ran in the background");
    assert_eq!(records[0]["invocation_type"], "Event");
    assert_eq!(records[0]["outcome"], "success");

    let e = client
        .invoke()
        .function_name("echo")
        .payload(Blob::new("{not json"))
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    assert!(e.is_invalid_request_content_exception(), "{e:?}");

    let e = client
        .invoke()
        .function_name("nope")
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    assert!(e.is_resource_not_found_exception());
    assert_eq!(
        error_code(&e).1,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST"
    );
    // A function named by the ARN of another region (recorded: test_get_function_wrong_region).
    let elsewhere = "arn:aws:lambda:eu-central-1:000000000000:function:echo";
    let unreachable = (
        "ResourceNotFoundException".to_string(),
        "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')".to_string(),
    );
    let e = client.invoke().function_name(elsewhere).send().await;
    assert_eq!(
        error_code(&e.unwrap_err().into_service_error()),
        unreachable
    );
    let e = client.get_function().function_name(elsewhere).send().await;
    assert_eq!(
        error_code(&e.unwrap_err().into_service_error()),
        unreachable
    );
    let e = client
        .invoke()
        .function_name("echo")
        .qualifier("7")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&e.into_service_error()).1,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:echo:7"
    );
    server.stop().await;
}

/// On AWS the Invoke response's request id (`x-amzn-RequestId`) is the invocation's own: the
/// one the handler's context and the START/REPORT log lines carry.
#[tokio::test]
async fn invoke_answers_with_the_invocations_request_id() {
    use aws_sdk_lambda::operation::RequestId;

    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "whoami",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async (e, context) => context.awsRequestId;",
        )],
    )
    .await;
    let out = client
        .invoke()
        .function_name("whoami")
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await
        .unwrap();
    let in_handler: String = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(out.request_id(), Some(in_handler.as_str()));
    let records = lambda::invocations(&server, Some("whoami")).await;
    assert_eq!(records[0]["request_id"], in_handler.as_str());
    use base64::Engine as _;
    let log = base64::engine::general_purpose::STANDARD
        .decode(out.log_result().unwrap())
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(
        log.contains(&format!("REPORT RequestId: {in_handler}")),
        "{log}"
    );
    server.stop().await;
}

/// An `Event` Invoke answers with the request id the asynchronous invocation runs under, and
/// Lambda's retries of it keep that id (AWS-recorded: the notification's `request_id` is the
/// Invoke's `RequestId`).
#[tokio::test]
async fn an_event_invoke_runs_under_the_request_id_it_answered() {
    use aws_sdk_lambda::operation::RequestId;

    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "fails",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async (e, context) => { throw new Error(context.awsRequestId); };",
        )],
    )
    .await;
    let out = client
        .invoke()
        .function_name("fails")
        .invocation_type(InvocationType::Event)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code, 202);
    let id = out.request_id().unwrap().to_string();
    let attempts = |n: usize| {
        let server = &server;
        async move {
            for _ in 0..100 {
                let records = lambda::invocations(server, Some("fails")).await;
                if records.len() >= n {
                    return records;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("{n} attempts did not run");
        }
    };
    let records = attempts(1).await;
    assert_eq!(records[0]["request_id"], id.as_str());
    assert_eq!(records[0]["error"], format!("Error: {id}").as_str());
    common::advance_clock(&server, 61.0).await;
    let records = attempts(2).await;
    assert_eq!(
        records[1]["request_id"],
        id.as_str(),
        "a retry keeps the id"
    );
    server.stop().await;
}

/// AWS's throttle for exhausted reserved concurrency carries
/// `"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"` (AWS-recorded), for a busy
/// function and for one whose reserved concurrency is 0.
#[tokio::test]
async fn reserved_concurrency_throttles_say_why() {
    let server = common::server().await;
    // The SDK would retry a throttle (and succeed once the slot frees): seen once, as sent.
    let client = lambda::client(&server);
    let client = aws_sdk_lambda::Client::from_conf(
        client
            .config()
            .to_builder()
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .build(),
    );
    lambda::create(
        &client,
        "slow",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async () => new Promise(r => setTimeout(r, 1500));",
        )],
    )
    .await;
    let reserve = |n: i32| {
        client
            .put_function_concurrency()
            .function_name("slow")
            .reserved_concurrent_executions(n)
            .send()
    };
    reserve(1).await.unwrap();
    let busy = {
        let client = client.clone();
        tokio::spawn(async move { client.invoke().function_name("slow").send().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let reason = |e: aws_sdk_lambda::operation::invoke::InvokeError| match e {
        aws_sdk_lambda::operation::invoke::InvokeError::TooManyRequestsException(t) => (
            t.message().map(str::to_string),
            t.reason().map(|r| r.as_str().to_string()),
        ),
        other => panic!("not throttled: {other:?}"),
    };
    let e = client
        .invoke()
        .function_name("slow")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let want = (
        Some("Rate Exceeded.".to_string()),
        Some("ReservedFunctionConcurrentInvocationLimitExceeded".to_string()),
    );
    assert_eq!(reason(e), want);
    assert_eq!(busy.await.unwrap().unwrap().status_code, 200);
    reserve(0).await.unwrap();
    let e = client
        .invoke()
        .function_name("slow")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(reason(e), want);
    server.stop().await;
}

#[tokio::test]
async fn functions_survive_a_restart_on_a_data_dir() {
    let dir = std::env::temp_dir().join(format!("lyrebird-lambda-{}", uuid::Uuid::new_v4()));
    let args = ["--data-dir".to_string(), dir.display().to_string()];
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    lambda::create(
        &client,
        "kept",
        "python3.12",
        "app.handler",
        &[("app.py", "def handler(e, c):\n    return 'still here'\n")],
    )
    .await;
    drop(server);

    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let got = client
        .get_function()
        .function_name("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(got.configuration.unwrap().runtime, Some(Runtime::Python312));
    let (body, error) = lambda::invoke(&client, "kept", "{}").await;
    assert_eq!((body.as_str(), error), ("\"still here\"", None));
    client
        .delete_function()
        .function_name("kept")
        .send()
        .await
        .unwrap();
    drop(server);
    let server = common::process::start(&args, &[]).await;
    let e = lambda::client_at(&server.endpoint)
        .get_function()
        .function_name("kept")
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_resource_not_found_exception());
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The invoke seam's asynchronous path: two retries by default (1 and 2 minutes of the service
/// clock), then the caller's failure route (a dead-letter queue) gets its body.
#[tokio::test]
async fn async_invocations_retry_twice_then_follow_the_failure_route() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let sqs = common::sqs(&server);
    lambda::create(
        &client,
        "always-fails",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async (e) => { throw new Error('nope ' + e.n); };",
        )],
    )
    .await;
    let dlq = common::create_queue(&sqs, "seam-dlq", &[]).await;
    let dlq_arn = common::queue_arn(&sqs, &dlq).await;
    server
        .app
        .lambda
        .invoke_async(
            common::ACCOUNT,
            "us-east-1",
            "always-fails",
            InvokeRequest::new(
                r#"{"n":1}"#,
                InvocationSource::Sns {
                    arn: "arn:aws:sns:us-east-1:000000000000:t".into(),
                },
            ),
            FailureRoute {
                dead_letter: Some(DeadLetter {
                    queue_arn: dlq_arn,
                    body: "the notification".into(),
                    sender: "sns".into(),
                }),
            },
        )
        .unwrap();
    let dead_letters = || async {
        sqs.receive_message()
            .queue_url(&dlq)
            .send()
            .await
            .unwrap()
            .messages()
            .iter()
            .map(|m| m.body().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    // The first attempt runs at once; the retries wait 1 and 2 minutes of the service clock.
    for expected in 1..=3 {
        let mut attempts = 0;
        for _ in 0..200 {
            attempts = lambda::invocations(&server, Some("always-fails"))
                .await
                .len();
            if attempts >= expected {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(attempts, expected);
        if expected < 3 {
            assert!(dead_letters().await.is_empty());
        }
        common::advance_clock(&server, 120.0).await;
    }
    let mut got = Vec::new();
    for _ in 0..100 {
        got = dead_letters().await;
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(got, vec!["the notification".to_string()]);
    let records = lambda::invocations(&server, Some("always-fails")).await;
    assert!(records
        .iter()
        .all(|r| r["source"] == "aws:sns" && r["outcome"] == "error"));
    server.stop().await;
}

/// lyrebird's own time per invocation (`overhead_micros`): logged for every answered
/// invocation, and a small part of it (the handler's time is left out).
#[tokio::test]
async fn invocations_log_lyrebirds_own_time() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "slowish",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async (e) => { await new Promise(r => setTimeout(r, 300)); return e; };",
        )],
    )
    .await;
    for _ in 0..3 {
        let (_, error) = lambda::invoke(&client, "slowish", r#"{"a":1}"#).await;
        assert_eq!(error, None);
    }
    let records = lambda::invocations(&server, Some("slowish")).await;
    assert_eq!(records.len(), 3);
    for r in &records {
        let overhead = r["overhead_micros"].as_u64().expect("overhead_micros");
        let duration_micros = (r["duration_ms"].as_f64().unwrap() * 1000.0) as u64;
        assert!(duration_micros >= 300_000, "{r}");
        // The 300 ms the handler waits, and the cold start, are not lyrebird's.
        assert!(overhead < 250_000, "{r}");
        assert!(r["dispatch_micros"].as_u64().unwrap() <= overhead, "{r}");
    }
    server.stop().await;
}

#[tokio::test]
async fn seam_invoke_reports_source_and_batch_size() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "batch",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async (e) => e.Records.length;",
        )],
    )
    .await;
    let lambda_service = &server.app.lambda;
    let permit = lambda_service
        .concurrency_permit(common::ACCOUNT, "us-east-1", "batch")
        .await
        .unwrap();
    let mut request = InvokeRequest::new(
        r#"{"Records":[1,2,3]}"#,
        InvocationSource::Sqs {
            arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
        },
    );
    request.batch_size = 3;
    request.permit = Some(permit);
    let result = lambda_service
        .invoke(
            common::ACCOUNT,
            "us-east-1",
            "arn:aws:lambda:us-east-1:000000000000:function:batch",
            request,
        )
        .await
        .unwrap();
    assert_eq!(&result.payload[..], b"3");
    assert_eq!(result.function_error, None);
    assert!(result.log_tail.contains(&result.request_id));
    // Logged once the caller has handled the outcome (drops the result's `settle`).
    assert!(lambda::invocations(&server, Some("batch")).await.is_empty());
    drop(result);
    let records = lambda::invocations(&server, Some("batch")).await;
    assert_eq!(records[0]["source"], "aws:sqs");
    assert_eq!(
        records[0]["source_arn"],
        "arn:aws:sqs:us-east-1:000000000000:q"
    );
    assert_eq!(records[0]["batch_size"], 3);
    server.stop().await;
}

/// An accepted Event invocation is kept until it has run: one cut short by a crash runs again
/// after the restart.
#[tokio::test]
async fn accepted_events_survive_a_crash() {
    let dir = std::env::temp_dir().join(format!("lyrebird-lambda-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("started");
    let args = [
        "--data-dir".to_string(),
        dir.join("data").display().to_string(),
    ];
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    lambda::create(
        &client,
        "slow-event",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "const fs = require('fs'); exports.handler = async (e) => { fs.appendFileSync(e.mark, 'start\\n'); await new Promise(r => setTimeout(r, 20000)); return 'ran'; };",
        )],
    )
    .await;
    let payload = serde_json::json!({ "mark": marker }).to_string();
    let accepted = client
        .invoke()
        .function_name("slow-event")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status_code, 202);
    let starts = || {
        std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .lines()
            .count()
    };
    for _ in 0..200 {
        if starts() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(starts(), 1, "the event started");
    drop(server); // SIGKILL while the event runs

    let server = common::process::start(&args, &[]).await;
    for _ in 0..200 {
        if starts() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        starts(),
        2,
        "the accepted event runs again after the restart"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
