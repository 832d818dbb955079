//! Lambda functions run as local processes through the Runtime API: lyrebird's Node and Python
//! bootstraps, `provided` runtimes with their own bootstrap, warm reuse, timeouts, crashes and
//! init errors in Lambda's error shapes, and the invocation log.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use aws_sdk_lambda::primitives::Blob;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn node_commonjs_async_handler_gets_event_context_and_environment() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let code = r#"
exports.handler = async (event, context) => {
  console.log('hello from', context.functionName);
  return {
    echo: event,
    requestId: context.awsRequestId,
    arn: context.invokedFunctionArn,
    remaining: context.getRemainingTimeInMillis(),
    memory: context.memoryLimitInMB,
    env: {
      name: process.env.AWS_LAMBDA_FUNCTION_NAME,
      handler: process.env._HANDLER,
      region: process.env.AWS_REGION,
      endpoint: process.env.AWS_ENDPOINT_URL,
      api: process.env.AWS_LAMBDA_RUNTIME_API,
      custom: process.env.GREETING,
      tz: process.env.TZ,
      key: process.env.AWS_ACCESS_KEY_ID,
    },
  };
};
"#;
    let arn = lambda::create_with(
        &client,
        "node-cjs",
        "nodejs20.x",
        "index.handler",
        &[("index.js", code)],
        |b| {
            b.environment(
                aws_sdk_lambda::types::Environment::builder()
                    .variables("GREETING", "hi")
                    .build(),
            )
            .timeout(10)
        },
    )
    .await;
    let out = client
        .invoke()
        .function_name("node-cjs")
        .payload(Blob::new(r#"{"order":42}"#))
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code, 200);
    assert_eq!(out.function_error, None);
    assert_eq!(out.executed_version.as_deref(), Some("$LATEST"));
    let body = json(std::str::from_utf8(out.payload.as_ref().unwrap().as_ref()).unwrap());
    assert_eq!(body["echo"], serde_json::json!({"order": 42}));
    assert_eq!(body["arn"], arn);
    assert_eq!(body["memory"], "128");
    let remaining = body["remaining"].as_u64().unwrap();
    assert!(remaining > 5_000 && remaining <= 10_000, "{remaining}");
    assert_eq!(body["env"]["name"], "node-cjs");
    assert_eq!(body["env"]["handler"], "index.handler");
    assert_eq!(body["env"]["region"], "us-east-1");
    assert_eq!(
        body["env"]["endpoint"],
        format!("http://127.0.0.1:{}", server.addr.port())
    );
    assert!(body["env"]["api"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(body["env"]["custom"], "hi");
    assert_eq!(body["env"]["tz"], ":UTC");
    assert_eq!(body["env"]["key"], common::ACCOUNT);
    use base64::Engine;
    let log = base64::engine::general_purpose::STANDARD
        .decode(out.log_result.expect("LogType Tail returns the log"))
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    let request_id = body["requestId"].as_str().unwrap();
    assert!(
        log.contains(&format!("START RequestId: {request_id}")),
        "{log}"
    );
    assert!(log.contains("hello from node-cjs"), "{log}");
    assert!(
        log.contains(&format!("REPORT RequestId: {request_id}")),
        "{log}"
    );

    let records = lambda::invocations(&server, Some("node-cjs")).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["request_id"], request_id);
    assert_eq!(records[0]["source"], "api");
    assert_eq!(records[0]["outcome"], "success");
    server.stop().await;
}

#[tokio::test]
async fn node_esm_callback_and_nested_handlers() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "node-mjs",
        "nodejs20.x",
        "src/handlers/app.handler",
        &[(
            "src/handlers/app.mjs",
            "export const handler = async (event) => ({ esm: true, n: event.n + 1 });",
        )],
    )
    .await;
    lambda::create(
        &client,
        "node-callback",
        "nodejs20.x",
        "cb.handler",
        &[(
            "cb.cjs",
            "module.exports.handler = function (event, context, callback) { setTimeout(() => callback(null, { callback: event.n * 2 }), 5); };",
        )],
    )
    .await;
    lambda::create(
        &client,
        "node-type-module",
        "nodejs20.x",
        "index.handler",
        &[
            ("package.json", r#"{"type":"module"}"#),
            (
                "index.js",
                "export function handler(event) { return Promise.resolve('module ' + event.n); }",
            ),
        ],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "node-mjs", r#"{"n":1}"#).await;
    assert_eq!(
        (json(&body), error),
        (serde_json::json!({"esm": true, "n": 2}), None)
    );
    let (body, error) = lambda::invoke(&client, "node-callback", r#"{"n":21}"#).await;
    assert_eq!(
        (json(&body), error),
        (serde_json::json!({"callback": 42}), None)
    );
    let (body, error) = lambda::invoke(&client, "node-type-module", r#"{"n":3}"#).await;
    assert_eq!((json(&body), error), (serde_json::json!("module 3"), None));
    server.stop().await;
}

#[tokio::test]
async fn python_handler_and_its_errors() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let code = r#"
import os
def handler(event, context):
    print("python sees", context.function_name)
    if event.get("fail"):
        raise ValueError("bad order " + str(event["fail"]))
    return {"sum": sum(event["values"]), "remaining": context.get_remaining_time_in_millis() > 0,
            "request": context.aws_request_id, "task_root": os.environ["LAMBDA_TASK_ROOT"] == os.getcwd()}
"#;
    lambda::create(
        &client,
        "py",
        "python3.12",
        "app.handler",
        &[("app.py", code)],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "py", r#"{"values":[1,2,3]}"#).await;
    assert_eq!(error, None, "{body}");
    let body = json(&body);
    assert_eq!(body["sum"], 6);
    assert_eq!(body["remaining"], true);
    assert_eq!(body["task_root"], true);

    let (body, error) = lambda::invoke(&client, "py", r#"{"fail":7}"#).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let body = json(&body);
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], "bad order 7");
    // As AWS records it: the trace starts at the handler's frame, the runtime's own are left out.
    let trace = body["stackTrace"].as_array().cloned().unwrap_or_default();
    assert_eq!(trace.len(), 1, "{body}");
    let frame = trace[0].as_str().unwrap_or_default();
    assert!(
        frame.starts_with("  File \"") && frame.contains("app.py\", line 6, in handler\n"),
        "{frame}"
    );
    // The error left the environment warm: the next invocation works.
    let (body, error) = lambda::invoke(&client, "py", r#"{"values":[5]}"#).await;
    assert_eq!(
        (json(&body)["sum"].clone(), error),
        (serde_json::json!(5), None)
    );
    let outcomes: Vec<_> = lambda::invocations(&server, Some("py"))
        .await
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["success", "error", "success"]);
    server.stop().await;
}

/// As AWS's Python runtime does, the root logger has a handler writing
/// `[LEVEL]\t<UTC time with ms>Z\t<request id>\t<message>`; its level stays Python's WARNING
/// until the handler lowers it.
#[tokio::test]
async fn python_logging_reaches_the_log_with_the_request_id() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let code = r#"
import logging
def handler(event, context):
    if event.get("info"):
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        logger.info("stock checked for %s", event["info"])
    else:
        logging.info("dropped below WARNING")
        logging.warning("low stock")
    return context.aws_request_id
"#;
    lambda::create(
        &client,
        "py-log",
        "python3.12",
        "app.handler",
        &[("app.py", code)],
    )
    .await;
    let (body, error, log) = lambda::invoke_tail(&client, "py-log", "{}").await;
    assert_eq!(error, None, "{body}");
    let request_id = json(&body);
    let request_id = request_id.as_str().unwrap();
    let line = log
        .lines()
        .find(|l| l.starts_with("[WARNING]\t"))
        .unwrap_or_else(|| panic!("no WARNING line: {log}"));
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 4, "{line}");
    // e.g. 2024-05-01T12:34:56.789Z
    let time = fields[1];
    assert!(
        time.len() == 24 && time.ends_with('Z') && &time[10..11] == "T" && &time[19..20] == ".",
        "{line}"
    );
    assert_eq!(fields[2], request_id, "{line}");
    assert_eq!(fields[3], "low stock");
    assert!(!log.contains("dropped below WARNING"), "{log}");

    let (body, error, log) = lambda::invoke_tail(&client, "py-log", r#"{"info":"A-7"}"#).await;
    assert_eq!(error, None, "{body}");
    let request_id = json(&body);
    let expected = format!("\t{}\tstock checked for A-7", request_id.as_str().unwrap());
    assert!(
        log.lines()
            .any(|l| l.starts_with("[INFO]\t") && l.ends_with(&expected)),
        "{log}"
    );
    server.stop().await;
}

#[tokio::test]
async fn node_thrown_error_has_the_runtime_shape() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "node-throws",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "class OrderError extends Error { constructor(m) { super(m); this.name = 'OrderError'; } }\nexports.handler = async () => { throw new OrderError('no stock'); };",
        )],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "node-throws", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let body = json(&body);
    assert_eq!(body["errorType"], "OrderError");
    assert_eq!(body["errorMessage"], "no stock");
    assert!(
        body["trace"].as_array().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    server.stop().await;
}

/// As AWS's Node runtime: a rejection nobody handles fails the invocation with
/// `Runtime.UnhandledPromiseRejection` (message: the reason as a string) even though the handler
/// returns, and the process exits; the next invocation runs in a new one.
#[tokio::test]
async fn node_unhandled_rejection_fails_the_invocation_and_ends_the_process() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let code = r#"
exports.handler = async (event) => {
  if (event.reject) {
    Promise.reject(new Error('boom'));
    await new Promise((r) => setTimeout(r, 300));
  }
  return process.pid;
};
"#;
    lambda::create(
        &client,
        "node-rejects",
        "nodejs20.x",
        "index.handler",
        &[("index.js", code)],
    )
    .await;
    let (first, error) = lambda::invoke(&client, "node-rejects", "{}").await;
    assert_eq!(error, None, "{first}");
    let (body, error) = lambda::invoke(&client, "node-rejects", r#"{"reject":true}"#).await;
    assert_eq!(error.as_deref(), Some("Unhandled"), "{body}");
    let body = json(&body);
    assert_eq!(body["errorType"], "Runtime.UnhandledPromiseRejection");
    assert_eq!(body["errorMessage"], "Error: boom");
    assert_eq!(
        body["trace"][0],
        "Runtime.UnhandledPromiseRejection: Error: boom"
    );
    // At once after: a new process answers (the old one exited), not a Runtime.ExitError.
    let (second, error) = lambda::invoke(&client, "node-rejects", "{}").await;
    assert_eq!(error, None, "{second}");
    assert_ne!(json(&first), json(&second), "the same process answered");
    server.stop().await;
}

/// AWS's Node runtime calls a callback handler's callback itself, with a null result, when the
/// handler never does and its event loop has emptied (instead of letting it run into the
/// Timeout).
#[tokio::test]
async fn node_callback_handler_that_never_calls_back_returns_null() {
    let server = common::server().await;
    let client = lambda::client(&server);
    let code = "exports.handler = (event, context, callback) => { setTimeout(() => console.log('late work done'), 100); };";
    lambda::create(
        &client,
        "node-no-callback",
        "nodejs20.x",
        "index.handler",
        &[("index.js", code)],
    )
    .await;
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let (body, error, log) = lambda::invoke_tail(&client, "node-no-callback", "{}").await;
        assert_eq!((body.as_str(), error), ("null", None));
        assert!(log.contains("late work done"), "{log}");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn warm_process_is_reused_between_invocations() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "counter",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "let count = 0; const started = process.pid; exports.handler = async () => ({ count: ++count, pid: started });",
        )],
    )
    .await;
    let (first, _) = lambda::invoke(&client, "counter", "{}").await;
    let (second, _) = lambda::invoke(&client, "counter", "{}").await;
    let (first, second) = (json(&first), json(&second));
    assert_eq!(first["count"], 1);
    assert_eq!(second["count"], 2);
    assert_eq!(first["pid"], second["pid"]);
    server.stop().await;
}

#[tokio::test]
async fn timeout_stops_the_process_and_the_next_invocation_starts_a_new_one() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create_with(
        &client,
        "slow",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "let calls = 0; exports.handler = async (e) => { calls++; if (e.hang) await new Promise(() => setInterval(() => {}, 1000)); return { calls }; };",
        )],
        |b| b.timeout(1),
    )
    .await;
    let started = std::time::Instant::now();
    let (body, error) = lambda::invoke(&client, "slow", r#"{"hang":true}"#).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let body = json(&body);
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("RequestId: ")
            && message.ends_with("Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    // A fresh process: its counter starts again.
    let (body, error) = lambda::invoke(&client, "slow", "{}").await;
    assert_eq!(
        (json(&body)["calls"].clone(), error),
        (serde_json::json!(1), None),
        "{body}"
    );
    let records = lambda::invocations(&server, Some("slow")).await;
    assert_eq!(records[0]["outcome"], "timeout");
    server.stop().await;
}

#[tokio::test]
async fn a_process_that_exits_mid_invocation_fails_it_with_runtime_exit_error() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "exits",
        "python3.12",
        "app.handler",
        &[("app.py", "import os\ndef handler(event, context):\n    if event.get('exit'):\n        os._exit(3)\n    return 'ok'\n")],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "exits", r#"{"exit":true}"#).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let body = json(&body);
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Runtime exited with error: exit status 3"),
        "{body}"
    );
    let (body, error) = lambda::invoke(&client, "exits", "{}").await;
    assert_eq!((body.as_str(), error), ("\"ok\"", None));
    server.stop().await;
}

#[tokio::test]
async fn init_errors_are_reported_in_lambdas_shape() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "no-module",
        "nodejs20.x",
        "missing.handler",
        &[("index.js", "")],
    )
    .await;
    lambda::create(
        &client,
        "no-export",
        "nodejs20.x",
        "index.nothing",
        &[("index.js", "exports.handler = async () => 1;")],
    )
    .await;
    lambda::create(
        &client,
        "py-import",
        "python3.12",
        "nothere.handler",
        &[("app.py", "")],
    )
    .await;
    lambda::create(
        &client,
        "py-raises",
        "python3.12",
        "app.handler",
        &[("app.py", "raise Exception('Runtime startup fails')\n")],
    )
    .await;
    for (name, error_type) in [
        ("no-module", "Runtime.ImportModuleError"),
        ("no-export", "Runtime.HandlerNotFound"),
        ("py-import", "Runtime.ImportModuleError"),
        ("py-raises", "Exception"),
    ] {
        let (body, error) = lambda::invoke(&client, name, "{}").await;
        assert_eq!(error.as_deref(), Some("Unhandled"), "{name}");
        assert_eq!(json(&body)["errorType"], error_type, "{name}: {body}");
    }
    let (body, _) = lambda::invoke(&client, "py-raises", "{}").await;
    assert_eq!(json(&body)["errorMessage"], "Runtime startup fails");
    server.stop().await;
}

#[tokio::test]
async fn provided_runtime_runs_its_own_bootstrap() {
    let server = common::server().await;
    let client = lambda::client(&server);
    // A bootstrap in shell speaking the Runtime API with curl-free bash /dev/tcp is fragile;
    // python3 is what a provided runtime here can rely on.
    let bootstrap = r#"#!/usr/bin/env python3
import http.client, json, os
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    c = http.client.HTTPConnection(api)
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    event = json.loads(r.read())
    rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    deadline = r.headers["Lambda-Runtime-Deadline-Ms"]
    arn = r.headers["Lambda-Runtime-Invoked-Function-Arn"]
    trace = r.headers["Lambda-Runtime-Trace-Id"]
    body = json.dumps({"got": event, "rid": rid, "deadline": int(deadline), "arn": arn, "trace": trace, "handler": os.environ["_HANDLER"]})
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body)
    c.getresponse().read()
"#;
    let arn = lambda::create(
        &client,
        "custom",
        "provided.al2023",
        "my.handler",
        &[("bootstrap", bootstrap)],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "custom", r#"{"x":1}"#).await;
    assert_eq!(error, None, "{body}");
    let body = json(&body);
    assert_eq!(body["got"], serde_json::json!({"x": 1}));
    assert_eq!(body["arn"], arn);
    assert_eq!(body["handler"], "my.handler");
    assert!(body["trace"].as_str().unwrap().starts_with("Root=1-"));
    assert!(body["deadline"].as_u64().unwrap() > 1_600_000_000_000);
    server.stop().await;
}

/// A bootstrap (python, speaking the Runtime API by hand) that misbehaves as `mode` says.
fn misbehaving_bootstrap(mode: &str) -> String {
    format!(
        r#"#!/usr/bin/env python3
import http.client, json, os, sys, time
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
mode = "{mode}"
c = http.client.HTTPConnection(api)
if mode == "never-next":
    time.sleep(3600)
c.request("GET", "/2018-06-01/runtime/invocation/next")
r = c.getresponse(); r.read()
rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
def post(path, body):
    c.request("POST", path, body)
    resp = c.getresponse(); resp.read()
    return resp.status
if mode == "garbage":
    statuses = [post("/2018-06-01/runtime/invocation/not-the-id/response", "x"),
                post("/2018-06-01/runtime/nonsense", "x")]
    print("garbage statuses", statuses, flush=True)
    post("/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps(statuses))
    time.sleep(3600)
if mode == "next-twice":
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    again = c.getresponse(); again.read()
    post("/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps(again.status))
    time.sleep(3600)
if mode == "too-large":
    post("/2018-06-01/runtime/invocation/%s/response" % rid, "x" * (6 * 1024 * 1024 + 10))
    time.sleep(3600)
if mode == "error-text":
    c.request("POST", "/2018-06-01/runtime/invocation/%s/error" % rid, "plain words",
              {{"Lambda-Runtime-Function-Error-Type": "Custom.Failure"}})
    c.getresponse().read()
    time.sleep(3600)
"#
    )
}

#[tokio::test]
async fn garbage_on_the_runtime_api_is_refused_and_the_right_answer_still_counts() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "garbage",
        "provided.al2",
        "x",
        &[("bootstrap", &misbehaving_bootstrap("garbage"))],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "garbage", "{}").await;
    assert_eq!((body.as_str(), error), ("[400, 404]", None));
    // Asking for the next event before answering this one is refused (403).
    lambda::create(
        &client,
        "eager",
        "provided.al2",
        "x",
        &[("bootstrap", &misbehaving_bootstrap("next-twice"))],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "eager", "{}").await;
    assert_eq!((body.as_str(), error), ("403", None));
    server.stop().await;
}

#[tokio::test]
async fn malformed_errors_and_oversized_responses_get_lambdas_shapes() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "text-error",
        "provided.al2",
        "x",
        &[("bootstrap", &misbehaving_bootstrap("error-text"))],
    )
    .await;
    lambda::create(
        &client,
        "too-large",
        "provided.al2",
        "x",
        &[("bootstrap", &misbehaving_bootstrap("too-large"))],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "text-error", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(
        json(&body),
        serde_json::json!({"errorType": "Custom.Failure", "errorMessage": "plain words"})
    );
    let (body, error) = lambda::invoke(&client, "too-large", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(json(&body)["errorType"], "Function.ResponseSizeTooLarge");
    server.stop().await;
}

#[tokio::test]
async fn a_runtime_that_never_asks_for_work_fails_the_invocation_after_the_init_limit() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "mute",
        "provided.al2",
        "x",
        &[("bootstrap", &misbehaving_bootstrap("never-next"))],
    )
    .await;
    let started = std::time::Instant::now();
    let (body, error) = lambda::invoke(&client, "mute", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(json(&body)["errorType"], "Sandbox.Timedout");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // Meanwhile lyrebird answered everything else.
    let listed = client.list_functions().send().await.unwrap();
    assert_eq!(listed.functions().len(), 1);
    server.stop().await;
}

/// Lambda's init phase is limited (10 s; 500 ms here); a runtime slower than that is retried
/// within the function's Timeout at the first invocation, so a slow import still answers when
/// init and handler fit in the Timeout (counted from the invocation), and fails with the
/// function's own timeout otherwise.
#[tokio::test]
async fn an_init_longer_than_the_init_limit_gets_the_functions_timeout() {
    let server = lyrebird::spawn(lyrebird::Config {
        port: 0,
        test_endpoints: true,
        lambda_init_timeout_ms: 500,
        ..lyrebird::Config::default()
    })
    .await
    .expect("server starts");
    let client = lambda::client(&server);
    let code = r#"
import time
time.sleep(1.5)
def handler(event, context):
    return context.get_remaining_time_in_millis()
"#;
    for (name, timeout) in [("slow-init", 4), ("too-slow-init", 1)] {
        lambda::create_with(
            &client,
            name,
            "python3.12",
            "app.handler",
            &[("app.py", code)],
            |b| b.timeout(timeout),
        )
        .await;
    }
    let started = std::time::Instant::now();
    let (body, error) = lambda::invoke(&client, "slow-init", "{}").await;
    assert_eq!(error, None, "{body}");
    // The init's 1.5 s came out of the handler's 4 s.
    let remaining = json(&body).as_u64().unwrap();
    assert!(remaining <= 2_600 && remaining > 0, "{remaining}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));

    let (body, error) = lambda::invoke(&client, "too-slow-init", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let body = json(&body);
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.ends_with("Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn unsupported_runtimes_fail_their_invocations_and_nothing_else() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "java",
        "java21",
        "example.Handler::handleRequest",
        &[("Handler.class", "")],
    )
    .await;
    lambda::create(
        &client,
        "echo",
        "nodejs20.x",
        "index.handler",
        &[("index.js", "exports.handler = async (e) => e;")],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "java", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let body = json(&body);
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(body["errorMessage"]
        .as_str()
        .unwrap()
        .ends_with("Runtime exited with error: exit status 127"));
    let (body, error) = lambda::invoke(&client, "echo", r#"{"fine":true}"#).await;
    assert_eq!((body.as_str(), error), (r#"{"fine":true}"#, None));
    server.stop().await;
}

#[tokio::test]
async fn lambda_command_overrides_how_a_function_starts() {
    let server = lyrebird::spawn(lyrebird::Config {
        port: 0,
        test_endpoints: true,
        lambda_commands: vec!["custom=python3 runner.py --greeting hello".into()],
        ..lyrebird::Config::default()
    })
    .await
    .unwrap();
    let client = lambda::client(&server);
    let runner = r#"
import http.client, json, os, sys
c = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse(); event = json.loads(r.read())
    rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps({"argv": sys.argv[1:], "event": event}))
    c.getresponse().read()
"#;
    // Its runtime is one lyrebird cannot start; the command runs it anyway.
    lambda::create(
        &client,
        "custom",
        "java21",
        "ignored",
        &[("runner.py", runner)],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "custom", r#"{"a":1}"#).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"argv": ["--greeting", "hello"], "event": {"a": 1}})
    );
    server.stop().await;
}

#[tokio::test]
async fn reserved_concurrency_bounds_parallel_invocations() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create_with(
        &client,
        "single",
        "nodejs20.x",
        "index.handler",
        &[("index.js", "exports.handler = async (e) => { await new Promise(r => setTimeout(r, e.ms)); return process.pid; };")],
        |b| b.timeout(10),
    )
    .await;
    client
        .put_function_concurrency()
        .function_name("single")
        .reserved_concurrent_executions(1)
        .send()
        .await
        .unwrap();
    let got = client
        .get_function_concurrency()
        .function_name("single")
        .send()
        .await
        .unwrap();
    assert_eq!(got.reserved_concurrent_executions, Some(1));

    let slow = {
        let client = client.clone();
        tokio::spawn(async move { lambda::invoke(&client, "single", r#"{"ms":3000}"#).await })
    };
    // While the one slot is busy, another synchronous call is throttled, as on AWS. Probed for
    // as long as the slow call runs (its cold start may take a while on a loaded machine).
    let mut throttled = false;
    while !slow.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        match client
            .invoke()
            .function_name("single")
            .payload(Blob::new(r#"{"ms":0}"#))
            .send()
            .await
        {
            Err(e) => {
                let e = e.into_service_error();
                assert!(e.is_too_many_requests_exception(), "{e:?}");
                throttled = true;
                break;
            }
            Ok(_) => continue,
        }
    }
    assert!(throttled, "a second concurrent invocation is throttled");
    let (_, error) = slow.await.unwrap();
    assert_eq!(error, None);

    // Reserved concurrency 0 throttles everything; deleting it lifts the limit.
    client
        .put_function_concurrency()
        .function_name("single")
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    let e = client
        .invoke()
        .function_name("single")
        .payload(Blob::new(r#"{"ms":0}"#))
        .send()
        .await
        .unwrap_err();
    assert!(e.into_service_error().is_too_many_requests_exception());
    client
        .delete_function_concurrency()
        .function_name("single")
        .send()
        .await
        .unwrap();
    let (_, error) = lambda::invoke(&client, "single", r#"{"ms":0}"#).await;
    assert_eq!(error, None);
    server.stop().await;
}

/// The official Python runtime interface client speaks lyrebird's Runtime API. It is installed
/// by CI (`pip install --target DIR awslambdaric`, DIR in LYREBIRD_TEST_AWSLAMBDARIC); without
/// it the test says so and passes.
#[tokio::test]
async fn official_python_runtime_interface_client_works() {
    let Ok(ric) = std::env::var("LYREBIRD_TEST_AWSLAMBDARIC") else {
        eprintln!("LYREBIRD_TEST_AWSLAMBDARIC not set: awslambdaric not checked");
        return;
    };
    let server = lyrebird::spawn(lyrebird::Config {
        port: 0,
        test_endpoints: true,
        lambda_commands: vec![format!(
            "ric=PYTHONPATH={ric}:. python3 -m awslambdaric app.handler"
        )],
        ..lyrebird::Config::default()
    })
    .await
    .unwrap();
    let client = lambda::client(&server);
    let code = "def handler(event, context):\n    if event.get('fail'):\n        raise KeyError('missing')\n    return {'ric': event['n'], 'fn': context.function_name}\n";
    lambda::create(
        &client,
        "ric",
        "python3.12",
        "app.handler",
        &[("app.py", code)],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "ric", r#"{"n":9}"#).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(json(&body), serde_json::json!({"ric": 9, "fn": "ric"}));
    let (body, error) = lambda::invoke(&client, "ric", r#"{"fail":true}"#).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(json(&body)["errorType"], "KeyError");
    server.stop().await;
}

/// The official Node.js runtime interface client (npm `aws-lambda-ric`) speaks lyrebird's Runtime
/// API. Its install builds native code (cmake, autotools, a C++ compiler), so CI does not install
/// it; with LYREBIRD_TEST_AWS_LAMBDA_RIC set to a `node_modules` folder holding it, this checks it.
#[tokio::test]
async fn official_node_runtime_interface_client_works() {
    let Ok(modules) = std::env::var("LYREBIRD_TEST_AWS_LAMBDA_RIC") else {
        eprintln!("LYREBIRD_TEST_AWS_LAMBDA_RIC not set: aws-lambda-ric not checked");
        return;
    };
    let server = lyrebird::spawn(lyrebird::Config {
        port: 0,
        test_endpoints: true,
        lambda_commands: vec![format!(
            "node-ric={modules}/.bin/aws-lambda-ric index.handler"
        )],
        ..lyrebird::Config::default()
    })
    .await
    .unwrap();
    let client = lambda::client(&server);
    let code = "exports.handler = async (e, ctx) => { if (e.fail) throw new TypeError('bad'); return { nodeRic: e.n, fn: ctx.functionName }; };";
    lambda::create(
        &client,
        "node-ric",
        "nodejs20.x",
        "index.handler",
        &[("index.js", code)],
    )
    .await;
    let (body, error) = lambda::invoke(&client, "node-ric", r#"{"n":4}"#).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"nodeRic": 4, "fn": "node-ric"})
    );
    let (body, error) = lambda::invoke(&client, "node-ric", r#"{"fail":true}"#).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(json(&body)["errorType"], "TypeError");
    server.stop().await;
}

#[tokio::test]
async fn huge_output_lines_are_cut_and_logging_goes_on() {
    let server = common::server().await;
    let client = lambda::client(&server);
    lambda::create(
        &client,
        "chatty",
        "nodejs20.x",
        "index.handler",
        &[("index.js", "exports.handler = async () => { process.stdout.write('x'.repeat(300000) + '\\n'); console.log('after the flood'); return 'done'; };")],
    )
    .await;
    let out = client
        .invoke()
        .function_name("chatty")
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error, None);
    use base64::Engine;
    let log = base64::engine::general_purpose::STANDARD
        .decode(out.log_result.unwrap())
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(log.len() <= 4096, "{}", log.len());
    assert!(log.contains("after the flood"), "{log}");
    server.stop().await;
}

/// `--lambda-priority`: function processes give way to lyrebird's threads (SCHED_IDLE for
/// `idle`, nice 10 for `low`; untouched for `normal`), and their children inherit it. (`auto`,
/// the default, has a test of its own below.)
#[tokio::test]
async fn handler_processes_run_at_the_configured_cpu_priority() {
    let code = r#"
import os, subprocess
def handler(event, context):
    child = subprocess.run(["python3", "-c", "import os; print(os.sched_getscheduler(0), os.nice(0))"],
                           capture_output=True, text=True).stdout.split()
    return {"policy": os.sched_getscheduler(0), "nice": os.nice(0),
            "child": [int(v) for v in child]}
"#;
    let mut seen = Vec::new();
    for priority in [
        lyrebird::lambda::HandlerPriority::Idle,
        lyrebird::lambda::HandlerPriority::Low,
        lyrebird::lambda::HandlerPriority::Normal,
    ] {
        let server = lyrebird::spawn(lyrebird::Config {
            port: 0,
            test_endpoints: true,
            lambda_priority: priority,
            ..lyrebird::Config::default()
        })
        .await
        .unwrap();
        let client = lambda::client(&server);
        // A handler at SCHED_IDLE gets no CPU while other work keeps both cores busy (the rest
        // of the suite, in CI): a generous Timeout, so a busy machine delays it, not fails it.
        lambda::create_with(
            &client,
            "prio",
            "python3.12",
            "app.handler",
            &[("app.py", code)],
            |b| b.timeout(120),
        )
        .await;
        let (body, error) = lambda::invoke(&client, "prio", "{}").await;
        assert_eq!(error, None, "{body}");
        seen.push(json(&body));
        server.stop().await;
    }
    // Linux's policy numbers: SCHED_OTHER 0, SCHED_IDLE 5; lyrebird's own nice is the base.
    let base = unsafe { libc::nice(0) };
    let low = (base + 10).min(19);
    assert_eq!(
        seen,
        [
            serde_json::json!({"policy": 5, "nice": base, "child": [5, base]}),
            serde_json::json!({"policy": 0, "nice": low, "child": [0, low]}),
            serde_json::json!({"policy": 0, "nice": base, "child": [0, base]}),
        ]
    );
}

/// `--lambda-priority auto` (the default): a process starts under SCHED_IDLE; one still busy
/// with an invocation, or with its init, past the promotion's limit is raised to lyrebird's
/// priority with every process of its group (so a machine busy with other work cannot starve
/// it), and lowered again when handed an event `hold` after that. Where lyrebird may not raise a
/// process again (no CAP_SYS_NICE), `auto` is `normal` throughout.
#[tokio::test]
async fn auto_priority_raises_a_handler_that_runs_long_and_lowers_it_later() {
    use std::time::{Duration, Instant};
    // Long enough that a quick handler is done first even on a busy machine, which is what the
    // lowered runs check; on one so busy that it was not, they check nothing (see `quick`).
    const LIMIT: Duration = Duration::from_millis(1000);
    const INIT_LIMIT: Duration = Duration::from_millis(2500);
    const HOLD: Duration = Duration::from_millis(1200);
    let code = r#"
import os, subprocess, time
def policy():
    return os.sched_getscheduler(0)
def wait_for_normal():
    deadline = time.monotonic() + 10
    while policy() != 0 and time.monotonic() < deadline:
        pass
    return policy()
INIT = [policy(), wait_for_normal() if os.environ.get("LONG_INIT") else None]
def handler(event, context):
    start = policy()
    if not event.get("long"):
        return {"start": start, "init": INIT}
    child = subprocess.Popen(["python3", "-c", "import os, sys; sys.stdin.read(); print(os.sched_getscheduler(0))"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    end = wait_for_normal()
    child_policy = int(child.communicate("")[0])
    return {"start": start, "end": end, "child": child_policy}
"#;
    let server = lyrebird::spawn(lyrebird::Config {
        port: 0,
        test_endpoints: true,
        lambda_promotion: lyrebird::lambda::Promotion {
            invocation: LIMIT,
            init: INIT_LIMIT,
            hold: HOLD,
        },
        ..lyrebird::Config::default()
    })
    .await
    .unwrap();
    assert_eq!(
        lyrebird::lambda::HandlerPriority::default(),
        lyrebird::lambda::HandlerPriority::Auto
    );
    // Linux's policy numbers: SCHED_OTHER 0, SCHED_IDLE 5.
    let idle = if lyrebird::lambda::may_raise_from_idle() {
        5
    } else {
        0
    };
    let client = lambda::client(&server);
    lambda::create_with(
        &client,
        "auto",
        "python3.12",
        "app.handler",
        &[("app.py", code)],
        |b| b.timeout(60),
    )
    .await;
    let invoke = |payload: &'static str| {
        let client = client.clone();
        async move {
            let (body, error) = lambda::invoke(&client, "auto", payload).await;
            assert_eq!(error, None, "{body}");
            json(&body)
        }
    };
    // A quick invocation (a cold start, then a warm one): the process stays lowered. Unless
    // the machine was so busy that the invocation outlasted the limits: then it was raised.
    let quick = || async {
        let started = Instant::now();
        let got = invoke("{}").await;
        if started.elapsed() < LIMIT {
            assert_eq!(
                got,
                serde_json::json!({"start": idle, "init": [idle, null]})
            );
        }
    };
    quick().await;
    quick().await;
    // A long one: raised while it runs, with the child it started.
    assert_eq!(
        invoke(r#"{"long": true}"#).await,
        serde_json::json!({"start": idle, "end": 0, "child": 0})
    );
    // `hold` later, the next event finds it lowered again.
    tokio::time::sleep(HOLD).await;
    quick().await;

    // A long init is raised too.
    lambda::create_with(
        &client,
        "auto-init",
        "python3.12",
        "app.handler",
        &[("app.py", code)],
        |b| {
            b.timeout(60).environment(
                aws_sdk_lambda::types::Environment::builder()
                    .variables("LONG_INIT", "1")
                    .build(),
            )
        },
    )
    .await;
    let (body, error) = lambda::invoke(&client, "auto-init", "{}").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"start": 0, "init": [idle, 0]})
    );
    server.stop().await;
}
