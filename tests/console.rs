//! The console's server side (issue 20): the page and its size, its JSON routes (queue counts,
//! the filter and pattern testers' explanations, deleting a peeked message), `--no-console`. The page itself
//! is driven in a real browser by tests/console/run.sh.

mod common;

use serde_json::{json, Value};

async fn post(server: &lyrebird::RunningServer, path: &str, body: Value) -> (u16, Value) {
    let resp = common::http()
        .post(format!("{}{path}", server.endpoint()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
    )
}

async fn get(server: &lyrebird::RunningServer, path: &str) -> (u16, String) {
    let resp = common::http()
        .get(format!("{}{path}", server.endpoint()))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn the_page_is_self_contained_and_small() {
    let server = common::server().await;
    let (status, html) = get(&server, "/_lyrebird/console/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<style>") && html.contains("function route"),
        "inline assets"
    );
    assert!(html.contains("\"account\":\"000000000000\""), "boot data");
    // Nothing fetched from elsewhere, and well under the 300 KB budget.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external URL"
    );
    assert!(html.len() < 300 * 1024, "{} bytes", html.len());
    server.stop().await;
}

#[tokio::test]
async fn queue_list_reports_counts_and_oldest_age_per_account_and_region() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "listed", &[]).await;
    common::send(&sqs, &url, "a").await;
    common::send(&sqs, &url, "b").await;
    sqs.receive_message().queue_url(&url).send().await.unwrap();
    common::advance_clock(&server, 3.0).await;
    let other = common::sqs_as(&server, "111111111111", "eu-west-1");
    common::create_queue(&other, "elsewhere", &[]).await;

    let (_, body) = get(&server, "/_lyrebird/console/api/queues").await;
    let doc: Value = serde_json::from_str(&body).unwrap();
    let queues = doc["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 1, "{doc}");
    assert_eq!(queues[0]["name"], "listed");
    assert_eq!(queues[0]["visible"], 1);
    assert_eq!(queues[0]["inFlight"], 1);
    assert_eq!(queues[0]["delayed"], 0);
    assert!(queues[0]["oldestAgeSeconds"].as_u64().unwrap() >= 3);

    let (_, body) = get(
        &server,
        "/_lyrebird/console/api/queues?account=111111111111&region=eu-west-1",
    )
    .await;
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["queues"][0]["name"], "elsewhere", "{doc}");
    server.stop().await;
}

#[tokio::test]
async fn filter_tester_names_the_failing_key() {
    let server = common::server().await;
    let test = |policy: &str, scope: &str, message: &str, attributes: Value| json!({ "policy": policy, "scope": scope, "message": message, "attributes": attributes });
    let path = "/_lyrebird/console/api/filter-test";
    let policy = r#"{"color": ["red"], "size": [{"numeric": [">", 10]}]}"#;

    let (_, r) = post(
        &server,
        path,
        test(
            policy,
            "MessageAttributes",
            "",
            json!({"color": "red", "size": {"DataType": "Number", "StringValue": "12"}}),
        ),
    )
    .await;
    assert_eq!(r["matches"], true, "{r}");

    let (_, r) = post(
        &server,
        path,
        test(
            policy,
            "MessageAttributes",
            "",
            json!({"color": "red", "size": {"DataType": "Number", "StringValue": "3"}}),
        ),
    )
    .await;
    assert_eq!(r["matches"], false, "{r}");
    assert_eq!(r["reason"], "key \"size\" did not match");

    // Each `$or` alternative's failing key.
    let or = r#"{"$or": [{"color": ["red"]}, {"shape": ["round"]}]}"#;
    let (_, r) = post(
        &server,
        path,
        test(
            or,
            "MessageAttributes",
            "",
            json!({"color": "blue", "shape": "square"}),
        ),
    )
    .await;
    assert_eq!(
        r["reason"], "no alternative matched: keys \"color\", \"shape\" failed",
        "{r}"
    );

    // Body scope, nested keys by their dotted path.
    let nested = r#"{"order": {"total": [{"numeric": [">=", 100]}]}}"#;
    let (_, r) = post(
        &server,
        path,
        test(
            nested,
            "MessageBody",
            r#"{"order": {"total": 5}}"#,
            json!({}),
        ),
    )
    .await;
    assert_eq!(r["reason"], "key \"order.total\" did not match", "{r}");
    let (_, r) = post(
        &server,
        path,
        test(nested, "MessageBody", "not json", json!({})),
    )
    .await;
    assert_eq!(r["reason"], "the message body is not a JSON object", "{r}");

    // An invalid policy gets Subscribe's wording.
    let (_, r) = post(
        &server,
        path,
        test(r#"{"a": "b"}"#, "MessageAttributes", "", json!({})),
    )
    .await;
    assert_eq!(r["valid"], false, "{r}");
    assert_eq!(
        r["error"],
        "Invalid parameter: Attributes Reason: FilterPolicy: \"a\" must be an object or an array"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_peeked_message_can_be_deleted_by_id() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "deletes", &[]).await;
    let keep = common::send(&sqs, &url, "keep").await;
    let drop_id = common::send(&sqs, &url, "drop").await;
    let path = "/_lyrebird/console/api/delete-message";
    let (status, r) = post(
        &server,
        path,
        json!({"queueUrl": url, "messageId": drop_id}),
    )
    .await;
    assert_eq!((status, &r["deleted"]), (200, &json!(true)), "{r}");
    let (_, r) = post(
        &server,
        path,
        json!({"queueUrl": url, "messageId": drop_id}),
    )
    .await;
    assert_eq!(r["deleted"], false);
    let left = common::receive_all(&sqs, &url, 10).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].message_id(), Some(keep.as_str()));
    let (status, r) = post(
        &server,
        path,
        json!({"queueUrl": "nope", "messageId": keep}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(r["error"], "QueueDoesNotExist");
    server.stop().await;
}

#[tokio::test]
async fn no_console_turns_the_console_off_but_keeps_developer_endpoints() {
    let server = lyrebird::spawn(lyrebird::Config {
        port: 0,
        console: false,
        ..lyrebird::Config::default()
    })
    .await
    .unwrap();
    let (status, _) = get(&server, "/_lyrebird/console/").await;
    assert_ne!(status, 200);
    let (status, _) = get(&server, "/_lyrebird/console/api/queues").await;
    assert_ne!(status, 200);
    let (status, _) = get(&server, "/_aws/sns/sms-messages").await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// The log lines the binary writes up to and including "listening on".
fn startup_log(host: &str) -> Vec<String> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lyrebird"))
        .args(["--host", host, "--port", "0", "--in-memory"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("lyrebird starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        let done = line.contains("listening on");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn a_non_loopback_host_is_warned_about() {
    let log = startup_log("0.0.0.0");
    assert!(
        log.iter()
            .any(|l| l.contains("WARN") && l.contains("not a loopback address")),
        "{log:?}"
    );
    let log = startup_log("127.0.0.1");
    assert!(log.iter().any(|l| l.contains("listening on")), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("loopback")), "{log:?}");
}

/// The pattern tester's "why not" (TestEventPattern itself only says whether): the failing key
/// of each alternative, on EventBridge's rules (here `exists: true` holds for `null`, which an
/// SNS policy would refuse), and AWS's InvalidEventPatternException text for a bad pattern.
#[tokio::test]
async fn pattern_explain_names_the_failing_key() {
    let server = common::server().await;
    let path = "/_lyrebird/console/api/pattern-explain";
    let event = json!({
        "version": "0", "id": "1", "detail-type": "OrderPlaced", "source": "orders",
        "account": "000000000000", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": { "amount": 42, "note": null }
    })
    .to_string();
    let explain = |pattern: &str| json!({ "pattern": pattern, "event": event });

    let (status, r) = post(
        &server,
        path,
        explain(r#"{"source": ["orders"], "detail": {"note": [{"exists": true}]}}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["matches"], true, "{r}");

    let (_, r) = post(
        &server,
        path,
        explain(r#"{"source": ["orders"], "detail": {"amount": [{"numeric": [">", 100]}]}}"#),
    )
    .await;
    assert_eq!(r["matches"], false, "{r}");
    assert_eq!(r["reason"], "key \"detail.amount\" did not match");

    let (_, r) = post(
        &server,
        path,
        explain(r#"{"$or": [{"source": ["billing"]}, {"detail-type": ["OrderShipped"]}]}"#),
    )
    .await;
    assert_eq!(
        r["reason"], "no alternative matched: keys \"source\", \"detail-type\" failed",
        "{r}"
    );

    let (_, r) = post(&server, path, explain(r#"{"source": "orders"}"#)).await;
    assert_eq!(r["valid"], false, "{r}");
    assert_eq!(
        r["error"],
        "Event pattern is not valid. Reason: \"source\" must be an object or an array"
    );

    let (_, r) = post(
        &server,
        path,
        json!({ "pattern": r#"{"source": ["orders"]}"#, "event": "{}" }),
    )
    .await;
    assert_eq!(r["error"], "Parameter Event is not valid.", "{r}");
    server.stop().await;
}
