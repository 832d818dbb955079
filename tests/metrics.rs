//! `/metrics` after known traffic (issue 20). The exposition is parsed by Python's
//! `prometheus_client` parsers (tests/metrics/parse.py) when `LYREBIRD_PROMETHEUS_PYTHON` names a
//! python that has it (.ci/run sets it up), else by a minimal parser here; the same assertions
//! hold either way.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use lyrebird::Config;

struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of an exposition, parsed by prometheus_client when it is available.
fn parse(text: &str) -> Vec<Sample> {
    match std::env::var("LYREBIRD_PROMETHEUS_PYTHON") {
        Ok(python) if !python.is_empty() => parse_with_python(&python, text),
        _ => parse_minimal(text),
    }
}

fn parse_with_python(python: &str, text: &str) -> Vec<Sample> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics/parse.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("parsed {} samples with prometheus_client", parsed.len());
    parsed
        .into_iter()
        .map(|s| Sample {
            name: s["name"].as_str().unwrap().to_string(),
            labels: s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
            value: s["value"].as_f64().unwrap(),
        })
        .collect()
}

/// `name{a="b",c="d"} value` lines (label values here contain no quotes or commas).
fn parse_minimal(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (head, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match head.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

async fn scrape(server: &lyrebird::RunningServer) -> Vec<Sample> {
    let resp = common::http()
        .get(format!("{}/metrics", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    parse(&text)
}

#[tokio::test]
async fn metrics_report_known_traffic() {
    let dir = std::env::temp_dir().join(format!("lyrebird-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = lyrebird::spawn(Config {
        port: 0,
        test_endpoints: true,
        in_memory: false,
        data_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await
    .unwrap();
    let sqs = common::sqs(&server);
    let sns = common::sns(&server);
    let dlq = common::create_queue(&sqs, "orders-dlq", &[]).await;
    let dlq_arn = common::queue_arn(&sqs, &dlq).await;
    let redrive = format!("{{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":\"1\"}}");
    let url = common::create_queue(
        &sqs,
        "orders",
        &[
            ("RedrivePolicy", &redrive),
            ("MessageRetentionPeriod", "60"),
        ],
    )
    .await;
    for i in 0..5 {
        common::send(&sqs, &url, &format!("m{i}")).await;
    }
    sqs.send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(30)
        .send()
        .await
        .unwrap();
    // Receive 3: delete 1, leave 2 in flight.
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(3)
        .visibility_timeout(20)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got.len(), 3);
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    common::advance_clock(&server, 5.0).await;

    let topic = sns
        .create_topic()
        .name("events")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let events = common::create_queue(&sqs, "events-q", &[]).await;
    let events_arn = common::queue_arn(&sqs, &events).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&events_arn)
        .send()
        .await
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sms")
        .endpoint("+15550100")
        .send()
        .await
        .unwrap();
    for _ in 0..2 {
        sns.publish()
            .topic_arn(&topic)
            .message("hi")
            .send()
            .await
            .unwrap();
    }
    // A peek is not a receive.
    let peek = format!("{}/_aws/sqs/messages?QueueUrl={url}", server.endpoint());
    assert!(common::http()
        .get(peek)
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    // An unknown action is counted too, without its name as a label.
    common::query(&server, "/", &[("Action", "NoSuchThing")]).await;

    let s = scrape(&server).await;
    let q = [
        ("queue", "orders"),
        ("account", common::ACCOUNT),
        ("region", "us-east-1"),
    ];
    assert_eq!(value(&s, "lyrebird_sqs_messages_visible", &q), Some(2.0));
    assert_eq!(value(&s, "lyrebird_sqs_messages_in_flight", &q), Some(2.0));
    assert_eq!(value(&s, "lyrebird_sqs_messages_delayed", &q), Some(1.0));
    let age = value(&s, "lyrebird_sqs_oldest_message_age_seconds", &q).unwrap();
    assert!((5.0..60.0).contains(&age), "{age}");
    assert_eq!(value(&s, "lyrebird_sqs_messages_sent_total", &q), Some(6.0));
    assert_eq!(
        value(&s, "lyrebird_sqs_messages_received_total", &q),
        Some(3.0)
    );
    assert_eq!(
        value(&s, "lyrebird_sqs_messages_deleted_total", &q),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "lyrebird_sqs_messages_expired_total", &q),
        Some(0.0)
    );
    assert_eq!(value(&s, "lyrebird_sqs_queues", &[]), Some(3.0));

    let t = [("topic", "events")];
    assert_eq!(
        value(&s, "lyrebird_sns_messages_published_total", &t),
        Some(2.0)
    );
    let by = |p| [("topic", "events"), ("protocol", p)];
    assert_eq!(
        value(&s, "lyrebird_sns_messages_delivered_total", &by("sqs")),
        Some(2.0)
    );
    assert_eq!(
        value(&s, "lyrebird_sns_messages_delivered_total", &by("sms")),
        Some(2.0)
    );
    assert_eq!(value(&s, "lyrebird_sns_topics", &[]), Some(1.0));

    let ok = |service, op| {
        value(
            &s,
            "lyrebird_requests_total",
            &[("service", service), ("operation", op), ("status", "200")],
        )
    };
    assert_eq!(ok("sqs", "SendMessage"), Some(6.0));
    assert_eq!(ok("sqs", "DeleteMessage"), Some(1.0));
    assert_eq!(ok("sqs", "ReceiveMessage"), Some(1.0));
    assert_eq!(ok("sns", "Publish"), Some(2.0));
    assert_eq!(
        value(
            &s,
            "lyrebird_requests_total",
            &[
                ("service", "unknown"),
                ("operation", "unknown"),
                ("status", "400")
            ]
        ),
        Some(1.0)
    );
    let count = value(
        &s,
        "lyrebird_request_duration_seconds_count",
        &[("service", "sqs"), ("operation", "SendMessage")],
    );
    assert_eq!(count, Some(6.0));
    // Every send, receive and delete was flushed by the store: at least one flush, and the
    // group commits add up to at least the sends.
    let flushes = value(&s, "lyrebird_store_flush_duration_seconds_count", &[]).unwrap();
    assert!(flushes >= 1.0, "{flushes}");
    let jobs = value(&s, "lyrebird_store_group_commit_jobs_sum", &[]).unwrap();
    assert!(jobs >= 6.0, "{jobs}");

    // Receive counts exhausted (maxReceiveCount 1): the next receive moves the in-flight two
    // to the DLQ once visible; retention drops what is left after a minute.
    common::advance_clock(&server, 20.0).await;
    common::receive_all(&sqs, &url, 10).await;
    common::advance_clock(&server, 61.0).await;
    let s = scrape(&server).await;
    assert_eq!(
        value(
            &s,
            "lyrebird_sqs_messages_moved_to_dead_letter_queue_total",
            &q
        ),
        Some(2.0)
    );
    let d = [("queue", "orders-dlq")];
    assert_eq!(value(&s, "lyrebird_sqs_messages_sent_total", &d), Some(2.0));
    let expired = value(&s, "lyrebird_sqs_messages_expired_total", &q).unwrap();
    assert_eq!(expired, 3.0);
    assert_eq!(value(&s, "lyrebird_sqs_messages_visible", &q), Some(0.0));
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Known EventBridge and Lambda traffic, counted per rule, bus and function after CloudWatch's
/// metrics: a rule delivering to a queue, one whose target is missing (dead-lettered at once),
/// one calling an API destination nobody answers (retried twice on the clock, then
/// dead-lettered), a malformed entry; a function invoked successfully, with an error, and
/// throttled by reserved concurrency 0 (which replaces its pool and keeps its counters).
#[tokio::test]
async fn metrics_report_rules_buses_and_functions() {
    use common::events::call;
    use serde_json::json;
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let (target_url, target_arn) = common::events::queue(&sqs, "eb-target").await;
    let (dlq_url, dlq_arn) = common::events::queue(&sqs, "eb-dlq").await;
    let (status, connection) = call(
        &server,
        "CreateConnection",
        json!({"Name": "conn", "AuthorizationType": "API_KEY", "AuthParameters":
            {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}}}),
    )
    .await;
    assert_eq!(status, 200, "{connection}");
    let (status, destination) = call(
        &server,
        "CreateApiDestination",
        json!({"Name": "nobody", "ConnectionArn": connection["ConnectionArn"],
            "InvocationEndpoint": "http://127.0.0.1:9/hook", "HttpMethod": "POST"}),
    )
    .await;
    assert_eq!(status, 200, "{destination}");
    let dlq = json!({ "Arn": dlq_arn });
    let rules = [
        ("to-queue", "Placed", json!({"Id": "q", "Arn": target_arn})),
        (
            "to-nowhere",
            "Lost",
            json!({"Id": "gone", "Arn": "arn:aws:sqs:us-east-1:000000000000:missing", "DeadLetterConfig": dlq}),
        ),
        (
            "to-void",
            "Void",
            json!({"Id": "gone", "Arn": "arn:aws:sqs:us-east-1:000000000000:missing",
                "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:missing-dlq"}}),
        ),
        (
            "to-hook",
            "Hook",
            json!({"Id": "h", "Arn": destination["ApiDestinationArn"], "DeadLetterConfig": dlq,
                "RetryPolicy": {"MaximumRetryAttempts": 2}}),
        ),
    ];
    for (name, detail_type, target) in rules {
        let pattern = json!({"source": ["orders"], "detail-type": [detail_type]}).to_string();
        let (status, r) = call(
            &server,
            "PutRule",
            json!({"Name": name, "EventPattern": pattern}),
        )
        .await;
        assert_eq!(status, 200, "{r}");
        let (status, r) = call(
            &server,
            "PutTargets",
            json!({"Rule": name, "Targets": [target]}),
        )
        .await;
        assert_eq!(status, 200, "{r}");
    }
    let entry =
        |detail_type: &str| json!({"Source": "orders", "DetailType": detail_type, "Detail": "{}"});
    let (status, put) = call(
        &server,
        "PutEvents",
        json!({"Entries": [entry("Placed"), entry("Placed"), entry("Placed"), entry("Lost"), entry("Void"), entry("Hook"),
            {"Source": "orders", "DetailType": "Placed", "Detail": "not json"}]}),
    )
    .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["FailedEntryCount"], 1);
    assert_eq!(
        common::events::wait_messages(&sqs, &target_url, 3)
            .await
            .len(),
        3
    );
    // The API destination's retries wait on the service clock: move it until both dead
    // letters (the missing queue's and the hook's) are in.
    let mut dead = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while dead.len() < 2 && std::time::Instant::now() < deadline {
        common::advance_clock(&server, 10.0).await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let got = sqs
            .receive_message()
            .queue_url(&dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(43_200)
            .send()
            .await
            .unwrap();
        dead.extend(got.messages.unwrap_or_default());
    }
    assert_eq!(dead.len(), 2);

    let client = lambda::client(&server);
    lambda::create(
        &client,
        "metered",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async (e) => { if (e.fail) throw new Error('boom'); return e; };",
        )],
    )
    .await;
    assert_eq!(lambda::invoke(&client, "metered", "{}").await.1, None);
    assert_eq!(
        lambda::invoke(&client, "metered", "{\"n\": 2}").await.1,
        None
    );
    assert!(lambda::invoke(&client, "metered", "{\"fail\": true}")
        .await
        .1
        .is_some());
    client
        .put_function_concurrency()
        .function_name("metered")
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    // Raw, so no SDK retry adds throttles.
    let throttled = common::http()
        .post(format!(
            "{}/2015-03-31/functions/metered/invocations",
            server.endpoint()
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        throttled.status().as_u16(),
        429,
        "reserved concurrency 0 throttles"
    );

    let s = scrape(&server).await;
    let v = |metric: &str, rule: &str| {
        let labels = [
            ("bus", "default"),
            ("rule", rule),
            ("account", common::ACCOUNT),
            ("region", "us-east-1"),
        ];
        value(&s, metric, &labels)
    };
    assert_eq!(
        v("lyrebird_events_rule_matched_events_total", "to-queue"),
        Some(3.0)
    );
    assert_eq!(
        v("lyrebird_events_rule_invocations_total", "to-queue"),
        Some(3.0)
    );
    assert_eq!(
        v("lyrebird_events_rule_failed_invocations_total", "to-queue"),
        Some(0.0)
    );
    assert_eq!(
        v("lyrebird_events_rule_matched_events_total", "to-nowhere"),
        Some(1.0)
    );
    assert_eq!(
        v("lyrebird_events_rule_invocations_total", "to-nowhere"),
        Some(1.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_failed_invocations_total",
            "to-nowhere"
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_invocations_sent_to_dlq_total",
            "to-nowhere"
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_retry_invocation_attempts_total",
            "to-nowhere"
        ),
        Some(0.0)
    );
    assert_eq!(
        v("lyrebird_events_rule_failed_invocations_total", "to-void"),
        Some(1.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_invocations_sent_to_dlq_total",
            "to-void"
        ),
        Some(0.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_invocations_failed_to_be_sent_to_dlq_total",
            "to-void"
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_invocations_failed_to_be_sent_to_dlq_total",
            "to-nowhere"
        ),
        Some(0.0)
    );
    assert_eq!(
        v("lyrebird_events_rule_invocations_total", "to-hook"),
        Some(1.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_retry_invocation_attempts_total",
            "to-hook"
        ),
        Some(2.0)
    );
    assert_eq!(
        v("lyrebird_events_rule_failed_invocations_total", "to-hook"),
        Some(1.0)
    );
    assert_eq!(
        v(
            "lyrebird_events_rule_invocations_sent_to_dlq_total",
            "to-hook"
        ),
        Some(1.0)
    );
    assert_eq!(value(&s, "lyrebird_events_rules", &[]), Some(4.0));
    let bus = |outcome| {
        [
            ("bus", "default"),
            ("account", common::ACCOUNT),
            ("outcome", outcome),
        ]
    };
    assert_eq!(
        value(
            &s,
            "lyrebird_events_put_events_entries_total",
            &bus("accepted")
        ),
        Some(6.0)
    );
    assert_eq!(
        value(
            &s,
            "lyrebird_events_put_events_entries_total",
            &bus("failed")
        ),
        Some(1.0)
    );

    let f = [
        ("function", "metered"),
        ("account", common::ACCOUNT),
        ("region", "us-east-1"),
    ];
    assert_eq!(
        value(&s, "lyrebird_lambda_invocations_total", &f),
        Some(3.0)
    );
    assert_eq!(value(&s, "lyrebird_lambda_errors_total", &f), Some(1.0));
    assert_eq!(value(&s, "lyrebird_lambda_throttles_total", &f), Some(1.0));
    assert_eq!(
        value(&s, "lyrebird_lambda_concurrent_executions", &f),
        Some(0.0)
    );
    assert_eq!(
        value(&s, "lyrebird_lambda_duration_seconds_count", &f),
        Some(3.0)
    );
    let inf = [("function", "metered"), ("le", "+Inf")];
    assert_eq!(
        value(&s, "lyrebird_lambda_duration_seconds_bucket", &inf),
        Some(3.0)
    );
    let sum = value(&s, "lyrebird_lambda_duration_seconds_sum", &f).unwrap();
    assert!(sum > 0.0 && sum < 30.0, "{sum}");
    assert_eq!(value(&s, "lyrebird_lambda_functions", &[]), Some(1.0));
    server.stop().await;
}

#[tokio::test]
async fn no_metrics_turns_the_endpoint_off() {
    let server = lyrebird::spawn(Config {
        port: 0,
        metrics: false,
        ..Config::default()
    })
    .await
    .unwrap();
    let resp = common::http()
        .get(format!("{}/metrics", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status().as_u16(), 200);
    server.stop().await;
}
