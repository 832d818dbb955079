//! Durability: the real `lyrebird` binary on a data directory, loaded by concurrent clients,
//! SIGKILLed at several points and restarted. Every acknowledged send must be receivable, no
//! acknowledged delete may come back, and the store must open cleanly every time.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};

mod common;

use common::process::{free_port, Process as Server};
use common::subscription_attributes;

async fn start(dir: &Path) -> Server {
    common::process::start(&[OsStr::new("--data-dir"), dir.as_os_str()], &[]).await
}

fn client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Every body in a queue (received with a long visibility so nothing is seen twice, then made
/// visible again for later checks).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut handles = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            break;
        }
        out.extend(got.iter().map(|m| m.body().unwrap().to_string()));
        handles.extend(got.iter().map(|m| m.receipt_handle().unwrap().to_string()));
    }
    for chunk in handles.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(format!("h{i}"))
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = sqs
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(out.failed().is_empty());
    }
    out
}

#[derive(Default)]
struct Ledger {
    /// Sends the server acknowledged.
    sent: HashSet<String>,
    /// Deletes the server acknowledged.
    deleted: HashSet<String>,
    /// Deletes sent at all: one cut off by the kill may or may not have happened.
    delete_attempted: HashSet<String>,
}

/// Loads `url` from several clients until the server is killed; records what was acknowledged.
async fn load(
    endpoint: &str,
    url: &str,
    round: usize,
    ledger: Arc<Mutex<Ledger>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for t in 0..6 {
        let (sqs, url, ledger) = (client(endpoint), url.to_string(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let body = format!("r{round}-t{t}-{i}");
                let sent = if i % 3 == 0 {
                    let entries = (0..5)
                        .map(|k| {
                            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                                .id(format!("e{k}"))
                                .message_body(format!("{body}-b{k}"))
                                .build()
                                .unwrap()
                        })
                        .collect();
                    match sqs
                        .send_message_batch()
                        .queue_url(&url)
                        .set_entries(Some(entries))
                        .send()
                        .await
                    {
                        Ok(out) if out.failed().is_empty() => {
                            (0..5).map(|k| format!("{body}-b{k}")).collect()
                        }
                        Ok(_) => panic!("batch entries failed"),
                        Err(_) => return,
                    }
                } else {
                    match sqs
                        .send_message()
                        .queue_url(&url)
                        .message_body(&body)
                        .send()
                        .await
                    {
                        Ok(_) => vec![body],
                        Err(_) => return,
                    }
                };
                ledger.lock().unwrap().sent.extend(sent);
            }
        }));
    }
    for _ in 0..2 {
        let (sqs, url, ledger) = (client(endpoint), url.to_string(), ledger.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let got = match sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .visibility_timeout(0)
                    .send()
                    .await
                {
                    Ok(r) => r.messages.unwrap_or_default(),
                    Err(_) => return,
                };
                for m in got {
                    // Delete every other message; the rest stay for the next round.
                    if m.body().unwrap().ends_with(['0', '2', '4', '6', '8']) {
                        ledger
                            .lock()
                            .unwrap()
                            .delete_attempted
                            .insert(m.body().unwrap().to_string());
                        match sqs
                            .delete_message()
                            .queue_url(&url)
                            .receipt_handle(m.receipt_handle().unwrap())
                            .send()
                            .await
                        {
                            Ok(_) => {
                                ledger
                                    .lock()
                                    .unwrap()
                                    .deleted
                                    .insert(m.body().unwrap().to_string());
                            }
                            Err(_) => return,
                        }
                    }
                }
            }
        }));
    }
    tasks
}

fn check(ledger: &Ledger, present: &[String]) {
    let present: HashSet<&String> = present.iter().collect();
    for body in &ledger.deleted {
        assert!(
            !present.contains(body),
            "acknowledged delete of {body} came back"
        );
    }
    let missing: Vec<&String> = ledger
        .sent
        .iter()
        .filter(|b| !ledger.delete_attempted.contains(*b) && !present.contains(b))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged sends lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

fn data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lyrebird-durability-{}", uuid_like()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn uuid_like() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ std::process::id() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_work_survives_sigkill_and_restart() {
    let dir = data_dir();
    let mut ledgers: Vec<(String, Arc<Mutex<Ledger>>)> = Vec::new();
    // Kill after different amounts of load.
    for (round, millis) in [150u64, 400, 50, 700].into_iter().enumerate() {
        let mut server = start(&dir).await;
        let sqs = client(&server.endpoint);
        // Everything from earlier rounds is still exactly right after each crash.
        for (url, ledger) in &ledgers {
            let present = drain(&sqs, url).await;
            check(&ledger.lock().unwrap(), &present);
        }
        let url = sqs
            .create_queue()
            .queue_name(format!("crash-{round}"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let tasks = load(&server.endpoint, &url, round, ledger.clone()).await;
        // Let the load get going (a slow machine may need a moment), then kill mid-flight.
        let deadline = Instant::now() + Duration::from_secs(20);
        while ledger.lock().unwrap().sent.len() < 20 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(millis)).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(
            !ledger.lock().unwrap().sent.is_empty(),
            "round {round} acknowledged nothing"
        );
        ledgers.push((url, ledger));
    }
    // A last restart, then a clean shutdown and one more restart: everything is still there.
    let server = start(&dir).await;
    let sqs = client(&server.endpoint);
    let mut remaining = Vec::new();
    for (url, ledger) in &ledgers {
        let present = drain(&sqs, url).await;
        check(&ledger.lock().unwrap(), &present);
        remaining.push(present.len());
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut server = server;
    server.child.wait().unwrap();
    let mut server = start(&dir).await;
    let sqs = client(&server.endpoint);
    for ((url, _), count) in ledgers.iter().zip(&remaining) {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let total: usize = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ]
        .iter()
        .map(|k| {
            attrs[&aws_sdk_sqs::types::QueueAttributeName::from(*k)]
                .parse::<usize>()
                .unwrap()
        })
        .sum();
        assert_eq!(total, *count, "clean restart keeps every message of {url}");
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn directory_is_locked_and_format_is_versioned() {
    let dir = data_dir();
    let mut first = start(&dir).await;
    let out = Command::new(env!("CARGO_BIN_EXE_lyrebird"))
        .args(["--port", &free_port().to_string(), "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another lyrebird"));
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    // A directory written by a newer lyrebird is refused, not misread.
    {
        let db = sled::open(&dir).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format_version", "999")
            .unwrap();
        db.flush().unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lyrebird"))
        .args(["--port", &free_port().to_string(), "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("newer lyrebird"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sns_topics_subscriptions_and_signing_key_survive_a_crash() {
    let dir = data_dir();
    let mut server = start(&dir).await;
    let (sqs, sns) = (client(&server.endpoint), common::sns_at(&server.endpoint));
    let topic = sns
        .create_topic()
        .name("orders")
        .attributes("DisplayName", "Orders")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let url = sqs
        .create_queue()
        .queue_name("high")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = "arn:aws:sqs:us-east-1:000000000000:high";
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("FilterPolicy", r#"{"priority":["HIGH"]}"#)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    // A pending e-mail subscription keeps its token across the restart.
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("a@example.com")
        .send()
        .await
        .unwrap();
    let captured: serde_json::Value = serde_json::from_str(
        &reqwest::get(format!(
            "{}/_lyrebird/sns/deliveries?protocol=email",
            server.endpoint
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap(),
    )
    .unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(captured["deliveries"][0]["message"].as_str().unwrap()).unwrap();
    let token = doc["Token"].as_str().unwrap().to_string();
    let cert_url = doc["SigningCertURL"].as_str().unwrap().to_string();
    let cert_before = reqwest::get(&cert_url).await.unwrap().text().await.unwrap();

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(&dir).await;
    let (sqs, sns) = (client(&server.endpoint), common::sns_at(&server.endpoint));
    let attrs = subscription_attributes(&sns, &sub).await;
    assert_eq!(attrs["FilterPolicy"], r#"{"priority":["HIGH"]}"#);
    assert_eq!(attrs["RawMessageDelivery"], "true");
    let topic_attrs = sns
        .get_topic_attributes()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(topic_attrs["DisplayName"], "Orders");
    assert_eq!(topic_attrs["SubscriptionsPending"], "1");
    sns.confirm_subscription()
        .topic_arn(&topic)
        .token(&token)
        .send()
        .await
        .unwrap();
    // The filter policy was recompiled: only HIGH reaches the queue.
    for p in ["LOW", "HIGH"] {
        sns.publish()
            .topic_arn(&topic)
            .message(p)
            .message_attributes(
                "priority",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(p)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    assert_eq!(drain(&sqs, &url).await, ["HIGH"]);
    let cert_url = cert_url.replace(
        &cert_url[..cert_url.find("/Simple").unwrap()],
        &server.endpoint,
    );
    let cert_after = reqwest::get(&cert_url).await.unwrap().text().await.unwrap();
    assert_eq!(
        cert_before, cert_after,
        "the signing key (and so its certificate) is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn reset_is_durable_too() {
    let dir = data_dir();
    let mut server = start(&dir).await;
    let (sqs, sns) = (client(&server.endpoint), common::sns_at(&server.endpoint));
    let url = sqs
        .create_queue()
        .queue_name("gone")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    sns.create_topic().name("gone").send().await.unwrap();
    let reset = reqwest::Client::new()
        .post(format!("{}/_lyrebird/reset", server.endpoint))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(&dir).await;
    let (sqs, sns) = (client(&server.endpoint), common::sns_at(&server.endpoint));
    assert!(sqs
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls()
        .is_empty());
    assert!(sns.list_topics().send().await.unwrap().topics().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn move_tasks_survive_a_restart() {
    let dir = data_dir();
    let mut server = start(&dir).await;
    let sqs = client(&server.endpoint);
    let dlq = sqs
        .create_queue()
        .queue_name("dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}"#);
    let src = sqs
        .create_queue()
        .queue_name("src")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            policy,
        )
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "0",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for i in 0..3 {
        sqs.send_message()
            .queue_url(&src)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    // Receive each once; the next receives move them to the DLQ.
    for _ in 0..4 {
        sqs.receive_message()
            .queue_url(&src)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(drain(&sqs, &dlq).await.len(), 3);
    // One message a second: still running when the server is killed.
    sqs.start_message_move_task()
        .source_arn(dlq_arn)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(&dir).await;
    let sqs = client(&server.endpoint);
    let listed = sqs
        .list_message_move_tasks()
        .source_arn(dlq_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.results().len(), 1, "the task is remembered");
    let mut status = listed.results()[0].status().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while status == "RUNNING" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = sqs
            .list_message_move_tasks()
            .source_arn(dlq_arn)
            .send()
            .await
            .unwrap()
            .results()[0]
            .status()
            .unwrap()
            .to_string();
    }
    assert_eq!(status, "COMPLETED", "the task resumed and finished");
    let mut back = drain(&sqs, &src).await;
    back.sort();
    assert_eq!(
        back,
        ["m0", "m1", "m2"],
        "every message is back in its source, none lost"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn platform_applications_and_sms_settings_survive_a_crash() {
    let dir = data_dir();
    let mut server = start(&dir).await;
    let sns = common::sns_at(&server.endpoint);
    let app = sns
        .create_platform_application()
        .name("app")
        .platform("GCM")
        .attributes("PlatformCredential", "server-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    let endpoint = sns
        .create_platform_endpoint()
        .platform_application_arn(&app)
        .token("device-token")
        .send()
        .await
        .unwrap()
        .endpoint_arn
        .unwrap();
    sns.set_sms_attributes()
        .attributes("DefaultSMSType", "Transactional")
        .send()
        .await
        .unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(&dir).await;
    let sns = common::sns_at(&server.endpoint);
    let attrs = sns
        .get_endpoint_attributes()
        .endpoint_arn(&endpoint)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs["Token"], "device-token");
    let sms = sns
        .get_sms_attributes()
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(sms["DefaultSMSType"], "Transactional");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A directory written by lyrebird before message records became binary (format 1: JSON
/// everywhere), with records exactly as that version wrote them; times moved to now.
fn write_format_1_directory(dir: &Path, now: u64) {
    let queue = |id: u64, name: &str, fifo: bool| {
        format!(
            r#"{{"id":{id},"name":"{name}","account":"000000000000","region":"us-east-1","created_ms":{now},"config":{{"delay_seconds":0,"maximum_message_size":1048576,"message_retention_period":345600,"receive_message_wait_time_seconds":0,"visibility_timeout":30,"policy":null,"redrive_policy":null,"redrive_allow_policy":null,"fifo_queue":{fifo},"content_based_deduplication":false,"deduplication_scope":"queue","fifo_throughput_limit":"perQueue","kms_master_key_id":null,"kms_data_key_reuse_period_seconds":null,"sqs_managed_sse_enabled":true}},"tags":{{}},"last_modified_ms":{now},"last_purge_ms":null}}"#
        )
    };
    let (standard, fifo) = (4330976567358281246u64, 16094832748887081733u64);
    let key = |queue: u64, seq: u64| [queue.to_be_bytes(), seq.to_be_bytes()].concat();
    let seq = (now - 10_000) << 20;
    let sent = now - 10_000;
    let messages = [
        (
            key(standard, seq),
            format!(
                r#"{{"message_id":"bc61a1e2-63d4-4ae7-bb15-4adc8e2af4f9","body":"plain body","md5_of_body":"e428258a895396d6bfc32a97e13b4cc8","attributes":{{}},"trace_header":null,"sender_id":"000000000000","sent_ms":{sent},"receive_count":1,"first_receive_ms":{sent},"message_group_id":null,"deduplication_id":null,"sequence_number":null,"dead_letter_source_arn":null,"state":{{"InFlight":{{"until_ms":{sent},"received_ms":{sent}}}}}}}"#
            ),
        ),
        (
            key(standard, seq + 1),
            format!(
                r#"{{"message_id":"022471c8-fe06-4b2c-a144-ee9125784e84","body":"with attributes","md5_of_body":"c2d900c011c138c4a68934fee2fdd344","attributes":{{"b":{{"BinaryValue":"AAEC","DataType":"Binary"}},"n":{{"StringValue":"42","DataType":"Number.int"}},"s":{{"StringValue":"v","DataType":"String"}}}},"trace_header":"Root=1-5759e988-bd862e3fe1be46a994272793","sender_id":"000000000000","sent_ms":{sent},"receive_count":0,"first_receive_ms":null,"message_group_id":null,"deduplication_id":null,"sequence_number":null,"dead_letter_source_arn":null,"state":"Visible"}}"#
            ),
        ),
        (
            key(standard, seq + 2),
            format!(
                r#"{{"message_id":"83f93cf6-47cb-4df2-8743-5cc1d4ab488d","body":"delayed","md5_of_body":"f5e0a640e01c53954396b55beeb29ab9","attributes":{{}},"trace_header":null,"sender_id":"000000000000","sent_ms":{sent},"receive_count":0,"first_receive_ms":null,"message_group_id":null,"deduplication_id":null,"sequence_number":null,"dead_letter_source_arn":null,"state":{{"Delayed":{{"until_ms":{}}}}}}}"#,
                now + 900_000
            ),
        ),
        (
            key(fifo, seq),
            format!(
                r#"{{"message_id":"b44ef2a5-8c24-47ae-914d-5a1bfef9cd9b","body":"fifo body","md5_of_body":"859aed88036979655983f05c544e190c","attributes":{{}},"trace_header":null,"sender_id":"000000000000","sent_ms":{sent},"receive_count":1,"first_receive_ms":{sent},"message_group_id":"g1","deduplication_id":"d1","sequence_number":"11796392841958000001","dead_letter_source_arn":null,"state":{{"InFlight":{{"until_ms":{},"received_ms":{sent}}}}}}}"#,
                now + 3_600_000
            ),
        ),
    ];
    let db = sled::open(dir).unwrap();
    db.open_tree("meta")
        .unwrap()
        .insert("format_version", "1")
        .unwrap();
    let queues = db.open_tree("queues").unwrap();
    queues
        .insert(
            standard.to_be_bytes(),
            queue(standard, "legacy", false).as_bytes(),
        )
        .unwrap();
    queues
        .insert(
            fifo.to_be_bytes(),
            queue(fifo, "legacy.fifo", true).as_bytes(),
        )
        .unwrap();
    let tree = db.open_tree("messages").unwrap();
    for (k, v) in messages {
        tree.insert(k, v.as_bytes()).unwrap();
    }
    let dedup = [&fifo.to_be_bytes()[..], b"d1"].concat();
    db.open_tree("deduplication")
        .unwrap()
        .insert(
            dedup,
            format!(
                r#"[{},"b44ef2a5-8c24-47ae-914d-5a1bfef9cd9b","11796392841958000001"]"#,
                now + 300_000
            )
            .as_bytes(),
        )
        .unwrap();
    db.flush().unwrap();
}

fn stored_format_version(dir: &Path) -> String {
    let db = sled::open(dir).unwrap();
    let v = db
        .open_tree("meta")
        .unwrap()
        .get("format_version")
        .unwrap()
        .unwrap();
    String::from_utf8(v.to_vec()).unwrap()
}

#[tokio::test]
async fn a_format_1_directory_still_reads_and_is_upgraded() {
    let dir = data_dir();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    write_format_1_directory(&dir, now);
    for round in 0..2 {
        let mut server = start(&dir).await;
        let sqs = client(&server.endpoint);
        let url = format!("{}/000000000000/legacy", server.endpoint);
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        use aws_sdk_sqs::types::QueueAttributeName as N;
        assert_eq!(attrs[&N::ApproximateNumberOfMessages], "2", "round {round}");
        assert_eq!(attrs[&N::ApproximateNumberOfMessagesDelayed], "1");
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .message_attribute_names("All")
            // Back at once, so the next round reads the records this one rewrote.
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        assert_eq!(got.len(), 2);
        use aws_sdk_sqs::types::MessageSystemAttributeName as S;
        let sent = (now - 10_000).to_string();
        let plain = &got[0];
        assert_eq!(
            plain.message_id(),
            Some("bc61a1e2-63d4-4ae7-bb15-4adc8e2af4f9")
        );
        assert_eq!(plain.body(), Some("plain body"));
        assert_eq!(
            plain.md5_of_body(),
            Some("e428258a895396d6bfc32a97e13b4cc8")
        );
        let a = plain.attributes().unwrap();
        assert_eq!(a[&S::SenderId], "000000000000");
        assert_eq!(a[&S::SentTimestamp], sent);
        assert_eq!(a[&S::ApproximateFirstReceiveTimestamp], sent);
        assert_eq!(a[&S::ApproximateReceiveCount], (2 + round).to_string());
        let rich = &got[1];
        assert_eq!(
            rich.message_id(),
            Some("022471c8-fe06-4b2c-a144-ee9125784e84")
        );
        assert_eq!(rich.md5_of_body(), Some("c2d900c011c138c4a68934fee2fdd344"));
        assert_eq!(
            rich.md5_of_message_attributes(),
            Some("7fa6f012dc899d06334f9d4fecc784b8")
        );
        let a = rich.attributes().unwrap();
        assert_eq!(
            a[&S::AwsTraceHeader],
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(a[&S::ApproximateReceiveCount], (1 + round).to_string());
        let m = rich.message_attributes().unwrap();
        assert_eq!(m["b"].binary_value().unwrap().as_ref(), &[0u8, 1, 2]);
        assert_eq!(m["n"].string_value(), Some("42"));
        assert_eq!(m["n"].data_type(), "Number.int");

        // FIFO: still in flight, and its deduplication id still remembered.
        let fifo_url = format!("{}/000000000000/legacy.fifo", server.endpoint);
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&fifo_url)
            .attribute_names(N::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        assert_eq!(attrs[&N::ApproximateNumberOfMessagesNotVisible], "1");
        let again = sqs
            .send_message()
            .queue_url(&fifo_url)
            .message_body("fifo body")
            .message_group_id("g1")
            .message_deduplication_id("d1")
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.message_id(),
            Some("b44ef2a5-8c24-47ae-914d-5a1bfef9cd9b")
        );
        assert_eq!(again.sequence_number(), Some("11796392841958000001"));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        assert_eq!(stored_format_version(&dir), "2");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn fifo_topic_deduplication_survives_a_crash() {
    let dir = data_dir();
    let mut server = start(&dir).await;
    let (sqs, sns) = (client(&server.endpoint), common::sns_at(&server.endpoint));
    let topic = sns
        .create_topic()
        .name("events.fifo")
        .attributes("FifoTopic", "true")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let url = sqs
        .create_queue()
        .queue_name("events.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint("arn:aws:sqs:us-east-1:000000000000:events.fifo")
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let publish = |sns: aws_sdk_sns::Client, dedup: &'static str| {
        let topic = topic.clone();
        async move {
            let out = sns
                .publish()
                .topic_arn(topic)
                .message(format!("event {dedup}"))
                .message_group_id("g")
                .message_deduplication_id(dedup)
                .send()
                .await
                .unwrap();
            (
                out.message_id.unwrap(),
                out.sequence_number.unwrap_or_default(),
            )
        }
    };
    let first = publish(sns.clone(), "d1").await;
    // SIGKILL right after the acknowledgement: the deduplication entry was stored with it.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = start(&dir).await;
    let (sqs, sns) = (client(&server.endpoint), common::sns_at(&server.endpoint));
    let again = publish(sns.clone(), "d1").await;
    assert_eq!(
        again, first,
        "same MessageId and SequenceNumber as the original"
    );
    let other = publish(sns.clone(), "d2").await;
    assert_ne!(other.0, first.0);
    assert!(other.1 > first.1, "sequence numbers keep increasing");
    let url = url.replace(&url[..url.find("/000000000000").unwrap()], &server.endpoint);
    assert_eq!(
        drain(&sqs, &url).await,
        ["event d1", "event d2"],
        "the repeat was not delivered again"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A FIFO queue keeps deduplicating with the scope it was created with after a restart, and a
/// purge's emptied deduplication window stays empty.
#[tokio::test]
async fn fifo_queue_deduplication_scope_and_purge_survive_a_crash() {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let dir = data_dir();
    let mut server = start(&dir).await;
    let sqs = client(&server.endpoint);
    let mut urls = Vec::new();
    for name in ["scope.fifo", "purged.fifo"] {
        let url = sqs
            .create_queue()
            .queue_name(name)
            .attributes(Name::FifoQueue, "true")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        urls.push(url);
    }
    let send = |sqs: aws_sdk_sqs::Client, url: String, body: &'static str, group: &'static str| async move {
        sqs.send_message()
            .queue_url(url)
            .message_body(body)
            .message_group_id(group)
            .message_deduplication_id("same")
            .send()
            .await
            .unwrap()
            .message_id
            .unwrap()
    };
    let scoped = send(sqs.clone(), urls[0].clone(), "m1", "g1").await;
    sqs.set_queue_attributes()
        .queue_url(&urls[0])
        .attributes(Name::DeduplicationScope, "messageGroup")
        .attributes(Name::FifoThroughputLimit, "perMessageGroupId")
        .send()
        .await
        .unwrap();
    send(sqs.clone(), urls[1].clone(), "before", "g").await;
    sqs.purge_queue().queue_url(&urls[1]).send().await.unwrap();
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = start(&dir).await;
    let sqs = client(&server.endpoint);
    // Created with queue scope: a send in another group is still a duplicate.
    assert_eq!(send(sqs.clone(), urls[0].clone(), "m2", "g2").await, scoped);
    // Purged: the deduplication id is free again.
    send(sqs.clone(), urls[1].clone(), "after", "g").await;
    let got = sqs
        .receive_message()
        .queue_url(&urls[1])
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<_> = got.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["after"]);
    let _ = std::fs::remove_dir_all(&dir);
}
