//! Issue 17 (reliability): nothing lost when the store fails on the move and dead-letter paths,
//! bounded state, the signing key made at start-up, and HTTP hardening against slow, greedy and
//! malformed clients.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lyrebird::clock::Clock;
use lyrebird::context::RequestContext;
use lyrebird::sns::{SnsLimits, SnsService};
use lyrebird::sqs::model::*;
use lyrebird::sqs::{SqsOptions, SqsService};
use lyrebird::store::{Change, Space, Store, Ticket, Visitor};
use lyrebird::Config;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A store kept in memory that refuses, while told to, every write that puts a message into
/// one queue (by queue id): the failure a full disk gives, aimed at one path. A wrapper in the
/// test rather than a hook in the real store keeps the hot path free of it.
/// (space name, key) → value.
type Records = BTreeMap<(&'static str, Vec<u8>), Vec<u8>>;

#[derive(Debug, Default)]
struct FlakyStore {
    records: Mutex<Records>,
    /// 0: no failures; otherwise the id of the queue whose message writes fail.
    failing_queue: AtomicU64,
    /// How many `put_now` calls (the signing key's write) fail before one succeeds.
    put_now_failures: AtomicU64,
}

impl FlakyStore {
    fn messages_of(&self, queue_id: u64) -> usize {
        let prefix = queue_id.to_be_bytes();
        self.records
            .lock()
            .keys()
            .filter(|(s, k)| *s == "messages" && k.starts_with(&prefix))
            .count()
    }
}

impl Store for FlakyStore {
    fn persistent(&self) -> bool {
        true
    }

    fn submit(&self, changes: Vec<Change>) -> Ticket {
        let failing = self.failing_queue.load(Ordering::SeqCst);
        if failing != 0
            && changes.iter().any(|c| {
                matches!(c, Change::Put { space: Space::Messages, key, .. }
                    if key.starts_with(&failing.to_be_bytes()))
            })
        {
            return Ticket::failed("no space left on device".into());
        }
        let mut records = self.records.lock();
        for change in changes {
            match change {
                Change::Put { space, key, value } => {
                    records.insert((space.name(), key), value);
                }
                Change::Delete { space, key } => {
                    records.remove(&(space.name(), key));
                }
                Change::DeletePrefix { space, prefix } => {
                    records.retain(|(s, k), _| !(*s == space.name() && k.starts_with(&prefix)));
                }
            }
        }
        Ticket::done()
    }

    fn scan(&self, _space: Space, _visit: &mut Visitor<'_>) -> Result<(), String> {
        Ok(())
    }

    fn put_now(&self, space: Space, key: &[u8], value: &[u8]) -> Result<(), String> {
        let failing = self
            .put_now_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err("no space left on device".into());
        }
        self.records
            .lock()
            .insert((space.name(), key.to_vec()), value.to_vec());
        Ok(())
    }

    fn flush(&self) {}

    fn describe(&self) -> &'static str {
        "flaky"
    }
}

type Fixture = common::engine::Engine<FlakyStore>;

fn redrive(dlq_arn: &str) -> (&'static str, String) {
    (
        "RedrivePolicy",
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}"#),
    )
}

/// Item 1: a move task whose copy cannot be stored keeps the original (on disk too) and writes
/// the copy again until the store takes it; only then is the original deleted.
#[tokio::test]
async fn move_task_keeps_the_source_until_the_copy_is_durable() {
    let f = Fixture::new();
    let (dlq_url, dlq_arn, dlq_id) = f.queue("dlq", &[]);
    f.queue("source", &[redrive(&dlq_arn)]);
    let (_, dest_arn, dest_id) = f.queue("destination", &[]);
    for i in 0..3 {
        f.send(&dlq_url, &format!("m{i}"));
    }
    assert_eq!(f.store.messages_of(dlq_id), 3);

    f.store.failing_queue.store(dest_id, Ordering::SeqCst);
    f.sqs
        .start_message_move_task(
            &f.ctx,
            StartMessageMoveTaskInput {
                source_arn: Some(dlq_arn.clone()),
                destination_arn: Some(dest_arn),
                ..Default::default()
            },
        )
        .expect("start");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The copy failed: nothing may have been deleted from the source on disk, not even when
    // another write to the source (a send) goes to the store meanwhile.
    f.send(&dlq_url, "sent during the move");
    assert_eq!(f.store.messages_of(dest_id), 0);
    assert_eq!(
        f.store.messages_of(dlq_id),
        4,
        "source deleted before its copy was stored"
    );

    f.store.failing_queue.store(0, Ordering::SeqCst);
    wait_until(|| f.store.messages_of(dest_id) >= 3).await;
    assert!(
        f.store.messages_of(dest_id) >= 3,
        "copies stored once the store recovers"
    );
    assert_eq!(
        f.store.messages_of(dest_id) + f.store.messages_of(dlq_id),
        4,
        "every message in exactly one queue"
    );
}

/// Item 1: a message dead-lettered while the store refuses the dead-letter queue's write is
/// written again until it is stored, not dropped.
#[tokio::test]
async fn dead_lettered_message_is_stored_once_the_store_recovers() {
    let f = Fixture::new();
    let (_, dlq_arn, dlq_id) = f.queue("dlq", &[]);
    let (url, _, source_id) = f.queue(
        "source",
        &[redrive(&dlq_arn), ("VisibilityTimeout", "0".into())],
    );
    f.send(&url, "poison");
    let receive = || ReceiveMessageInput {
        queue_url: Some(url.clone()),
        ..Default::default()
    };
    let first = f
        .sqs
        .receive_message(&f.ctx, receive())
        .await
        .expect("receive");
    assert_eq!(first.messages.len(), 1);
    f.store.failing_queue.store(dlq_id, Ordering::SeqCst);
    // The second receive exceeds maxReceiveCount: the message goes to the dead-letter queue.
    let second = f
        .sqs
        .receive_message(&f.ctx, receive())
        .await
        .expect("receive");
    assert!(second.messages.is_empty());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.store.messages_of(dlq_id), 0);
    // The copy is not on disk, so neither may the original's removal be: a crash now must
    // leave the message in the source.
    assert_eq!(
        f.store.messages_of(source_id),
        1,
        "source message removed on disk before its dead-letter copy was stored"
    );
    f.store.failing_queue.store(0, Ordering::SeqCst);
    wait_until(|| f.store.messages_of(dlq_id) != 0).await;
    assert_eq!(
        f.store.messages_of(dlq_id),
        1,
        "dead-lettered message never stored"
    );
    assert_eq!(f.store.messages_of(source_id), 0);
}

/// A local HTTP endpoint that answers SNS confirmations 200 (handing their tokens out) and
/// refuses every notification with 400 (a delivery failed for good: no retries).
async fn refusing_endpoint() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let text = loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break text;
                        }
                    }
                };
                let confirmation = text.contains("SubscriptionConfirmation");
                if confirmation {
                    let body = text.split_once("\r\n\r\n").unwrap().1;
                    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
                    let _ = tx.send(doc["Token"].as_str().unwrap().to_string());
                }
                let status = if confirmation {
                    "200 OK"
                } else {
                    "400 Bad Request"
                };
                let _ = stream
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (url, rx)
}

/// Item 1: an HTTP/S delivery that fails for good is dead-lettered in the background, with no
/// request waiting for the write: a write the store refuses is retried until it is stored.
#[tokio::test]
async fn http_dead_letter_is_stored_once_the_store_recovers() {
    use lyrebird::sns::model as sns_model;
    let store = Arc::new(FlakyStore::default());
    let clock = Arc::new(Clock::new());
    let sqs = Arc::new(SqsService::new(
        clock.clone(),
        SqsOptions::default(),
        store.clone(),
    ));
    let sns = SnsService::new(clock, sqs.clone(), store.clone(), SnsLimits::default());
    let ctx = RequestContext::internal("000000000000", "us-east-1", "localhost");
    sqs.create_queue(
        &ctx,
        CreateQueueInput {
            queue_name: Some("http-dlq".into()),
            ..Default::default()
        },
    )
    .expect("queue");
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:http-dlq";
    let dlq_id = sqs.queue_by_arn(dlq_arn).expect("dlq").id;
    let topic = sns
        .create_topic(
            &ctx,
            sns_model::CreateTopicInput {
                name: Some("refused".into()),
                ..Default::default()
            },
        )
        .expect("topic")
        .topic_arn;
    let (url, mut tokens) = refusing_endpoint().await;
    let mut attributes = sns_model::StringMap::new();
    attributes.insert(
        "RedrivePolicy".into(),
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}"}}"#),
    );
    sns.subscribe(
        &ctx,
        sns_model::SubscribeInput {
            topic_arn: Some(topic.clone()),
            protocol: Some("http".into()),
            endpoint: Some(url),
            attributes,
            return_subscription_arn: true,
        },
    )
    .expect("subscribe");
    let token = tokio::time::timeout(Duration::from_secs(5), tokens.recv())
        .await
        .expect("confirmation sent")
        .unwrap();
    sns.confirm_subscription(
        &ctx,
        sns_model::ConfirmSubscriptionInput {
            topic_arn: Some(topic.clone()),
            token: Some(token),
            authenticate_on_unsubscribe: None,
        },
    )
    .expect("confirm");

    store.failing_queue.store(dlq_id, Ordering::SeqCst);
    let fields = sns_model::PublishFields {
        message: Some("refused by the endpoint".into()),
        ..Default::default()
    };
    sns.publish(
        &ctx,
        sns_model::PublishInput {
            topic_arn: Some(topic),
            fields,
            ..Default::default()
        },
    )
    .expect("publish");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.messages_of(dlq_id), 0);
    store.failing_queue.store(0, Ordering::SeqCst);
    wait_until(|| store.messages_of(dlq_id) != 0).await;
    assert_eq!(
        store.messages_of(dlq_id),
        1,
        "the dead letter was dropped when its write failed"
    );
}

/// Item 2: finished move tasks do not pile up (ListMessageMoveTasks shows at most 10).
#[tokio::test]
async fn finished_move_tasks_are_pruned() {
    let f = Fixture::new();
    let (_, dlq_arn, _) = f.queue("dlq", &[]);
    f.queue("source", &[redrive(&dlq_arn)]);
    for _ in 0..25 {
        f.sqs
            .start_message_move_task(
                &f.ctx,
                StartMessageMoveTaskInput {
                    source_arn: Some(dlq_arn.clone()),
                    ..Default::default()
                },
            )
            .expect("start");
        // An empty queue: the task completes at once.
        let mut waited = 0;
        while waited < 50 {
            let listed = f
                .sqs
                .list_message_move_tasks(
                    &f.ctx,
                    ListMessageMoveTasksInput {
                        source_arn: Some(dlq_arn.clone()),
                        max_results: Some(1),
                    },
                )
                .expect("list");
            if listed.results[0].status != "RUNNING" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
    }
    assert!(
        f.sqs.move_task_count() <= 11,
        "{} tasks kept",
        f.sqs.move_task_count()
    );
}

/// Item 2: the move tasks of a deleted queue are forgotten with it, so queues created and
/// deleted again and again leave none behind, and a queue created again under the same ARN
/// lists none.
#[tokio::test]
async fn move_tasks_of_a_deleted_queue_are_forgotten() {
    let f = Fixture::new();
    let (_, dlq_arn, _) = f.queue("dlq", &[]);
    f.queue("source", &[redrive(&dlq_arn)]);
    for round in 0..15 {
        let (dlq_url, dlq_arn, _) = f.queue("dlq", &[]);
        f.sqs
            .start_message_move_task(
                &f.ctx,
                StartMessageMoveTaskInput {
                    source_arn: Some(dlq_arn.clone()),
                    ..Default::default()
                },
            )
            .expect("start");
        assert_eq!(f.sqs.move_task_count(), 1, "round {round}");
        f.sqs
            .delete_queue(
                &f.ctx,
                QueueUrlInput {
                    queue_url: Some(dlq_url),
                },
            )
            .expect("delete");
        assert_eq!(f.sqs.move_task_count(), 0, "a deleted queue's task kept");
    }
}

/// Item 10: a queue's dead-letter queue is in its own account and region, as on AWS; another
/// account's queue cannot be named (its messages would otherwise be moved there).
#[test]
fn a_dead_letter_queue_of_another_account_does_not_exist() {
    let f = Fixture::new();
    let (_, dlq_arn, _) = f.queue("dlq", &[]);
    let other =
        lyrebird::context::RequestContext::internal("111111111111", "us-east-1", "localhost");
    let create = |ctx: &lyrebird::context::RequestContext, name: &str| {
        f.sqs.create_queue(
            ctx,
            CreateQueueInput {
                queue_name: Some(name.into()),
                attributes: Some(
                    [redrive(&dlq_arn)]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                ),
                ..Default::default()
            },
        )
    };
    let e = create(&other, "source").unwrap_err();
    assert_eq!(e.code.query_code, "InvalidParameterValue");
    assert!(
        e.message
            .ends_with("Reason: Dead letter target does not exist."),
        "{}",
        e.message
    );
    create(&f.ctx, "source").expect("the same account's queue is allowed");
}

async fn server_with(change: impl FnOnce(&mut Config)) -> lyrebird::RunningServer {
    let mut config = Config {
        port: 0,
        test_endpoints: true,
        ..Config::default()
    };
    change(&mut config);
    lyrebird::spawn(config).await.expect("server starts")
}

/// Item 2: per-account caps answer AWS's limit errors.
#[tokio::test]
async fn per_account_caps() {
    let server = server_with(|c| {
        c.max_queues = 2;
        c.max_topics = 2;
        c.max_subscriptions = 1;
    })
    .await;
    let sqs = common::sqs(&server);
    for name in ["a", "b"] {
        sqs.create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("under the cap");
    }
    // Re-creating an existing queue is not a new one.
    sqs.create_queue()
        .queue_name("a")
        .send()
        .await
        .expect("existing");
    let err = sqs.create_queue().queue_name("c").send().await.unwrap_err();
    assert_eq!(common::error_code(&err), "OverLimit");
    // Another account has its own count.
    common::sqs_as(&server, "111111111111", "us-east-1")
        .create_queue()
        .queue_name("c")
        .send()
        .await
        .expect("other account");

    let sns = common::sns(&server);
    let mut arns = Vec::new();
    for name in ["t1", "t2"] {
        arns.push(
            sns.create_topic()
                .name(name)
                .send()
                .await
                .expect("topic")
                .topic_arn
                .unwrap(),
        );
    }
    sns.create_topic()
        .name("t1")
        .send()
        .await
        .expect("existing topic");
    let err = sns.create_topic().name("t3").send().await.unwrap_err();
    assert_eq!(common::sns_error_code(&err), "TopicLimitExceeded");

    let queue_arn = "arn:aws:sqs:us-east-1:000000000000:a";
    sns.subscribe()
        .topic_arn(&arns[0])
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .expect("subscribe");
    // Subscribing again is idempotent even at the cap.
    sns.subscribe()
        .topic_arn(&arns[0])
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .expect("again");
    let err = sns
        .subscribe()
        .topic_arn(&arns[1])
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::sns_error_code(&err), "SubscriptionLimitExceeded");
    server.stop().await;
}

/// Item 1: a signing key that could not be stored is reported (the health report's problems)
/// and written again until the store takes it, not just logged.
#[test]
fn unstored_signing_key_is_reported_and_retried() {
    let store = Arc::new(FlakyStore::default());
    store.put_now_failures.store(2, Ordering::SeqCst);
    let clock = Arc::new(Clock::new());
    let sqs = Arc::new(SqsService::new(
        clock.clone(),
        SqsOptions::default(),
        store.clone(),
    ));
    let sns = SnsService::new(clock, sqs, store.clone(), SnsLimits::default());
    let _ = sns.signer();
    let problem = sns
        .signing_key_problem()
        .expect("the failed write is reported");
    assert!(problem.contains("no space left on device"), "{problem}");
    // Retries (50 ms, then 100 ms) until the store takes it.
    sns.keep_signing_key();
    assert_eq!(sns.signing_key_problem(), None);
    assert!(store
        .records
        .lock()
        .contains_key(&("meta", b"sns_signing_key".to_vec())));
}

/// Item 5: the signing key is generated and flushed at start-up, before any request.
#[tokio::test]
async fn signing_key_is_made_at_start_up() {
    let dir = std::env::temp_dir().join(format!("lyrebird-signing-{}", uuid_like()));
    let server = server_with(|c| {
        c.in_memory = false;
        c.data_dir = Some(dir.clone());
    })
    .await;
    // Made at start-up, not by a request: stored before the server accepts its first one.
    let meta = server.app.store.load(Space::Meta).expect("load");
    assert!(
        meta.iter().any(|(k, _)| k == b"sns_signing_key"),
        "no signing key stored when the server started"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Reads until the peer closes (or `limit` passes): what came back, and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&out).into(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Item 6: connections that send half a request line are closed after the header read timeout.
#[tokio::test]
async fn half_a_request_line_is_cut_off() {
    let server = server_with(|c| c.header_read_timeout_ms = 300).await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /_lyrebird/hea").await.unwrap();
        slow.push(s);
    }
    // An idle keep-alive connection is closed by the same clock.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /_lyrebird/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    for s in &mut slow {
        let (_, closed) = read_until_closed(s, Duration::from_secs(2)).await;
        assert!(closed, "a slow connection was kept open");
    }
    let (text, closed) = read_until_closed(&mut idle, Duration::from_secs(2)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "an idle keep-alive connection was kept open");
    server.stop().await;
}

/// Item 6: a request body that stops arriving, or trickles in a byte at a time, is answered
/// `RequestTimeout` and its connection closed: the stall after the header read timeout (300 ms
/// here), the trickle once four times that has passed; on AWS requests and on lyrebird's own
/// endpoints alike.
#[tokio::test]
async fn slow_request_bodies_are_cut_off() {
    let server = server_with(|c| c.header_read_timeout_ms = 300).await;
    let head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nA";
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    stalled.write_all(head).await.unwrap();
    let started = std::time::Instant::now();
    let (text, closed) = read_until_closed(&mut stalled, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("RequestTimeout"), "{text}");
    assert!(closed, "a stalled body kept its connection");
    assert!(started.elapsed() < Duration::from_secs(2));

    let mut trickle = TcpStream::connect(server.addr).await.unwrap();
    trickle.write_all(head).await.unwrap();
    let started = std::time::Instant::now();
    let answered = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if trickle.write_all(b"A").await.is_err() || started.elapsed() > Duration::from_secs(3) {
            break started.elapsed();
        }
        let mut buf = [0u8; 512];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), trickle.read(&mut buf)).await
        {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            assert!(n == 0 || text.contains("RequestTimeout"), "{text}");
            break started.elapsed();
        }
    };
    assert!(
        answered < Duration::from_millis(2500),
        "a trickled body was read for {answered:?}"
    );

    // lyrebird's own endpoints too (here a developer one, whose handler reads JSON).
    let mut own = TcpStream::connect(server.addr).await.unwrap();
    own.write_all(b"POST /_lyrebird/sns/opt-outs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (text, closed) = read_until_closed(&mut own, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("RequestTimeout"), "{text}");
    assert!(closed, "a stalled body kept its connection");
    assert!(started.elapsed() < Duration::from_secs(2));
    server.stop().await;
}

/// Item 6: beyond the connection cap a new connection gets a clean 503 and is closed; once a
/// slot frees up, connections are served again.
#[tokio::test]
async fn connections_beyond_the_cap_are_refused() {
    let server = server_with(|c| c.max_connections = 2).await;
    let a = TcpStream::connect(server.addr).await.unwrap();
    let b = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let (text, closed) = read_until_closed(&mut c, Duration::from_secs(2)).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("<Code>ServiceUnavailable</Code>"), "{text}");
    assert!(closed);
    drop((a, b));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = common::http()
        .get(format!("{}/_lyrebird/health", server.endpoint()))
        .send()
        .await
        .expect("served again")
        .status();
    assert_eq!(status, 200);
    server.stop().await;
}

/// Item 6: pipelined requests are answered in order on one connection.
#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = common::server().await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let create = "Action=CreateQueue&QueueName=piped&Version=2012-11-05";
    let list = "Action=ListQueues&Version=2012-11-05";
    let mut requests = String::new();
    for body in [create, list] {
        requests.push_str(&format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    requests.push_str("GET /_lyrebird/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(requests.as_bytes()).await.unwrap();
    let (text, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 3, "{text}");
    let created = text.find("CreateQueueResponse").expect("create answered");
    let listed = text.find("ListQueuesResponse").expect("list answered");
    let health = text.find("\"status\"").expect("health answered");
    assert!(created < listed && listed < health, "{text}");
    assert!(text[listed..].contains("/piped<"), "{text}");
    server.stop().await;
}

/// Item 6: a request with both Content-Length and Transfer-Encoding is framed by the chunked
/// encoding and the connection closed after it, so nothing can be smuggled behind it.
#[tokio::test]
async fn content_length_with_transfer_encoding_smuggles_nothing() {
    let server = common::server().await;
    let smuggled = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60\r\n\r\nAction=CreateQueue&QueueName=smuggled&Version=2012-11-05";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
    );
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let (text, closed) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(
        closed,
        "connection kept open after an ambiguous request: {text}"
    );
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
    let sqs = common::sqs(&server);
    let queues = sqs.list_queues().send().await.unwrap();
    assert!(
        queues.queue_urls().is_empty(),
        "smuggled request ran: {queues:?}"
    );
    // A Transfer-Encoding that is not chunked is refused outright.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
    )
    .await
    .unwrap();
    let (text, _) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    server.stop().await;
}

/// Item 6: oversized request heads are refused (431) or cut off, never held or crashed on.
#[tokio::test]
async fn oversized_headers_are_refused() {
    let server = common::server().await;
    // Too many headers.
    let mut many = String::from("GET /_lyrebird/health HTTP/1.1\r\nHost: x\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    // One enormous header.
    let huge = format!(
        "GET /_lyrebird/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2 * 1024 * 1024)
    );
    for request in [many, huge] {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let _ = s.write_all(request.as_bytes()).await;
        let (text, closed) = read_until_closed(&mut s, Duration::from_secs(3)).await;
        assert!(closed, "connection held");
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 431"),
            "{text}"
        );
    }
    let status = common::http()
        .get(format!("{}/_lyrebird/health", server.endpoint()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    server.stop().await;
}

/// Item 2: HTTP/S deliveries run under bounded concurrency. An endpoint that accepts
/// connections and never answers sees at most `sns_http_concurrency` requests at once, however
/// many are sent (here: subscription confirmations to 12 endpoints).
#[tokio::test]
async fn http_deliveries_are_bounded() {
    let server = server_with(|c| {
        c.sns_http_concurrency = 2;
        c.sns_http_backlog = 5;
    })
    .await;
    let endpoint = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = endpoint.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = endpoint.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    let sns = common::sns(&server);
    let topic = sns.create_topic().name("bounded").send().await.unwrap();
    for i in 0..12 {
        sns.subscribe()
            .topic_arn(topic.topic_arn().unwrap())
            .protocol("http")
            .endpoint(format!("http://127.0.0.1:{port}/hook{i}"))
            .send()
            .await
            .expect("subscribe");
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let seen = accepted.load(Ordering::SeqCst);
    assert!(seen >= 1, "no delivery attempted");
    assert!(seen <= 2, "{seen} deliveries in flight at once");
    hold.abort();
    server.stop().await;
}

/// Item 2: a delivery the full HTTP/S backlog turns away fails at once, and its subscription's
/// dead-letter queue has the message by the time the publish is answered (it is written with the
/// publish's own writes).
#[tokio::test]
async fn deliveries_beyond_the_backlog_go_to_the_dead_letter_queue_at_once() {
    let server = server_with(|c| {
        c.sns_http_concurrency = 1;
        c.sns_http_backlog = 1;
    })
    .await;
    // An endpoint that takes connections and never answers; it passes on the subscription
    // confirmation's token.
    let endpoint = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = endpoint.local_addr().unwrap().port();
    let (token_tx, mut token_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = endpoint.accept().await {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("\"Token\"") {
                match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let text = String::from_utf8_lossy(&seen).to_string();
            if let Some(rest) = text
                .split("\"Token\" : \"")
                .nth(1)
                .or(text.split("\"Token\":\"").nth(1))
            {
                let _ = token_tx.send(rest.split('"').next().unwrap_or_default().to_string());
            }
            held.push(stream);
        }
    });
    let sns = common::sns(&server);
    let sqs = common::sqs(&server);
    let dlq = common::create_queue(&sqs, "backlog-dlq", &[]).await;
    let dlq_arn = common::queue_arn(&sqs, &dlq).await;
    let topic = sns.create_topic().name("backlog").send().await.unwrap();
    let topic = topic.topic_arn().unwrap();
    sns.subscribe()
        .topic_arn(topic)
        .protocol("http")
        .endpoint(format!("http://127.0.0.1:{port}/hook"))
        .attributes(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}"}}"#),
        )
        .return_subscription_arn(true)
        .send()
        .await
        .unwrap();
    // The confirmation request holds the one backlog place (it never gets an answer).
    let token = tokio::time::timeout(Duration::from_secs(5), token_rx.recv())
        .await
        .unwrap()
        .expect("a confirmation token");
    sns.confirm_subscription()
        .topic_arn(topic)
        .token(token)
        .send()
        .await
        .unwrap();
    for n in 0..3 {
        sns.publish()
            .topic_arn(topic)
            .message(format!("m{n}"))
            .send()
            .await
            .unwrap();
    }
    let mut messages: Vec<String> = common::drain(&sqs, &dlq)
        .await
        .iter()
        .map(|body| {
            let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
            envelope["Message"].as_str().unwrap().to_string()
        })
        .collect();
    messages.sort();
    assert_eq!(messages, ["m0", "m1", "m2"]);
    hold.abort();
    server.stop().await;
}

/// Item 2 (saturating deadline arithmetic): the test clock cannot be moved so far that clock
/// arithmetic overflows; the server keeps answering.
#[tokio::test]
async fn test_clock_cannot_overflow() {
    let server = common::server().await;
    let url = format!("{}/_lyrebird/clock/advance", server.endpoint());
    for seconds in ["1e300", "18446744073709551"] {
        let response = common::http()
            .post(&url)
            .header("content-type", "application/json")
            .body(format!(r#"{{"seconds": {seconds}}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{seconds}");
    }
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "after-clock", &[]).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .expect("still serving");
    server.stop().await;
}

/// Polls `done` every 50 ms for up to 2 s (the store's retries run in the background).
async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..40 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
