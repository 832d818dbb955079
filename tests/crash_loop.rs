//! Crash loops at scale (issue 17 item 8): the real binary on a data directory, under mixed load
//! — standard and FIFO queues, batches, a dead-letter queue redriven by move tasks, SNS fan-out
//! from a standard topic to standard queues and from a FIFO topic to FIFO queues — SIGKILLed at
//! a different moment each round and restarted. After every restart each acknowledged operation
//! is reconciled: every acknowledged send or publish is there exactly once, no acknowledged
//! delete comes back, nothing appears that was never sent, each FIFO group is whole and in order,
//! and a FIFO send or publish repeated with its deduplication id is still recognised.
//!
//! `cargo test --test crash_loop` runs a modest size (CI). The large run:
//! `LYREBIRD_CRASH_ROUNDS=20 LYREBIRD_CRASH_BACKLOG=1000000 LYREBIRD_CRASH_BIN=target/release/lyrebird
//! cargo test --release --test crash_loop -- --nocapture` (see BENCHMARKS.md).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, QueueAttributeName, SendMessageBatchRequestEntry,
};

mod common;

use common::process::Process;

const ACCOUNT: &str = "000000000000";
/// Each restart moves the service clock this much further than the last run left it (each run
/// starts at the previous run's offset, `--test-clock-offset-ms`): whatever a killed round left
/// in flight (visibility 30 s) is visible again.
const CLOCK_STEP: u64 = 40;
const FIFO_GROUPS: usize = 4;
const TOPIC_GROUPS: usize = 2;

struct Size {
    rounds: usize,
    backlog: u64,
    binary: PathBuf,
}

fn size() -> Size {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Size {
        rounds: var("LYREBIRD_CRASH_ROUNDS", 20) as usize,
        backlog: var("LYREBIRD_CRASH_BACKLOG", 2_000),
        binary: std::env::var_os("LYREBIRD_CRASH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lyrebird"))),
    }
}

/// Starts lyrebird on `dir` with its clock `offset` seconds ahead: where the previous run left
/// it, so the restore does not see a wall clock set back (which it would clamp deadlines for).
async fn start(size: &Size, dir: &Path, offset: u64) -> Process {
    let offset_ms = (offset * 1000).to_string();
    common::process::start_binary(
        size.binary.as_os_str(),
        &[
            OsStr::new("--data-dir"),
            dir.as_os_str(),
            OsStr::new("--test-endpoints"),
            OsStr::new("--test-clock-offset-ms"),
            OsStr::new(&offset_ms),
            OsStr::new("--log-level"),
            OsStr::new("warn"),
        ],
        &[],
    )
    .await
}

/// No retries (an acknowledgement is one attempt's answer) and a bound on every call, so a
/// killed server ends the load instead of hanging it.
fn sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

fn sns(endpoint: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_sns::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

fn url(endpoint: &str, name: &str) -> String {
    format!("{endpoint}/{ACCOUNT}/{name}")
}

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
}

fn topic_arn(name: &str) -> String {
    format!("arn:aws:sns:us-east-1:{ACCOUNT}:{name}")
}

/// The load stops at the first answer it does not get (the kill); an error the server did
/// answer is a finding, kept for the round's check.
type Errors = Arc<Mutex<Vec<String>>>;

fn answered<E: std::fmt::Debug, R: std::fmt::Debug>(
    errors: &Errors,
    what: &str,
    e: &SdkError<E, R>,
) {
    if let SdkError::ServiceError(inner) = e {
        errors
            .lock()
            .unwrap()
            .push(format!("{what}: {:?}", inner.err()));
    }
}

/// What a standard queue must hold: every acknowledged send, never an acknowledged delete,
/// nothing that was never sent, nothing twice.
#[derive(Default)]
struct Bag {
    attempted: HashSet<String>,
    sent: HashSet<String>,
    delete_attempted: HashSet<String>,
    deleted: HashSet<String>,
}

impl Bag {
    fn reconcile(&mut self, queue: &str, present: &[String]) {
        let mut seen = HashSet::new();
        for body in present {
            assert!(seen.insert(body), "{queue}: {body} is there twice");
            assert!(
                self.attempted.contains(body),
                "{queue}: {body} was never sent"
            );
            assert!(
                !self.deleted.contains(body),
                "{queue}: acknowledged delete of {body} came back"
            );
        }
        let lost: Vec<&String> = self
            .sent
            .iter()
            .filter(|b| !seen.contains(b) && !self.delete_attempted.contains(*b))
            .collect();
        assert!(
            lost.is_empty(),
            "{queue}: {} acknowledged sends lost, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(5)]
        );
        // What the kill left undecided is decided now: a send that is there stays, a delete
        // that happened stays done.
        for body in &seen {
            self.sent.insert((*body).clone());
        }
        let gone: Vec<String> = self
            .delete_attempted
            .iter()
            .filter(|b| !seen.contains(b))
            .cloned()
            .collect();
        self.deleted.extend(gone);
        self.delete_attempted.clear();
        self.delete_attempted.extend(self.deleted.iter().cloned());
    }
}

/// One FIFO message group, sent in order `0, 1, 2, …` by one sender.
#[derive(Default, Clone)]
struct Group {
    /// The next number to send.
    next: u64,
    /// A send cut off by the kill: sent again with the same deduplication id after the restart.
    unsure: Option<u64>,
    /// The last acknowledged send: its number, MessageId and SequenceNumber.
    last: Option<(u64, String, String)>,
    /// Every number below this one has an acknowledged delete.
    deleted_below: u64,
    /// Every number below this one had a delete sent.
    attempted_below: u64,
}

impl Group {
    /// Checks the numbers of the group's messages seen in one receive (or drain): consecutive,
    /// starting at the lowest that can still be there.
    fn check_received(&self, what: &str, numbers: &[u64]) {
        let Some(&first) = numbers.first() else {
            return;
        };
        assert!(
            first >= self.deleted_below,
            "{what}: {first} came back after its delete was acknowledged (all below {} were)",
            self.deleted_below
        );
        assert!(
            first <= self.attempted_below,
            "{what}: received {first} but {} was never deleted: lost or out of order",
            self.attempted_below
        );
        for pair in numbers.windows(2) {
            assert_eq!(
                pair[1],
                pair[0] + 1,
                "{what}: out of order or a gap: {numbers:?}"
            );
        }
    }
}

fn body_of(prefix: &str, group: usize, n: u64) -> String {
    format!("{prefix}{group}-{n:08}")
}

fn parse_body(body: &str) -> (usize, u64) {
    let (g, n) = body[1..].split_once('-').expect("group-number body");
    (g.parse().unwrap(), n.parse().unwrap())
}

#[derive(Clone, Copy)]
enum Which {
    Standard,
    FanA,
    FanB,
}

impl Ledger {
    fn bag(&mut self, which: Which) -> &mut Bag {
        match which {
            Which::Standard => &mut self.standard,
            Which::FanA => &mut self.fan_a,
            Which::FanB => &mut self.fan_b,
        }
    }
}

#[derive(Default)]
struct Ledger {
    standard: Bag,
    fan_a: Bag,
    fan_b: Bag,
    /// The move-task pair: each message is in the source or the dead-letter queue.
    moving: Bag,
    fifo: Vec<Group>,
    topic: Vec<Group>,
    backlog: u64,
}

type Shared = Arc<Mutex<Ledger>>;

/// Every message of a queue, each received once (visibility 30 s; the next restart's clock step
/// makes them visible again). FIFO queues give each group's messages in order.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive from {url}: {e:?}"))
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return out;
        }
        out.extend(got.iter().map(|m| m.body().unwrap().to_string()));
    }
}

/// Every message of a FIFO queue, received in order and deleted.
async fn drain_deleting(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive from {url}: {e:?}"))
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return out;
        }
        out.extend(got.iter().map(|m| m.body().unwrap().to_string()));
        let entries = got
            .iter()
            .enumerate()
            .map(|(k, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("d{k}"))
                    .receipt_handle(m.receipt_handle().unwrap())
                    .build()
                    .unwrap()
            })
            .collect();
        let deleted = sqs
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(deleted.failed().is_empty(), "{url}: {:?}", deleted.failed());
    }
}

/// The numbers of each group's messages, in the order received.
fn group_numbers(bodies: &[String]) -> BTreeMap<usize, Vec<u64>> {
    let mut by_group: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for body in bodies {
        let (g, n) = parse_body(body);
        by_group.entry(g).or_default().push(n);
    }
    by_group
}

async fn advance_clock(endpoint: &str, seconds: u64) {
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}/_lyrebird/clock/advance"))
        .header("content-type", "application/json")
        .body(format!("{{\"seconds\":{seconds}}}"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

async fn message_count(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ]
    .iter()
    .map(|k| attrs[k].parse::<u64>().unwrap())
    .sum()
}

async fn set_up(endpoint: &str) {
    let (sqs, sns) = (sqs(endpoint), sns(endpoint));
    let create = |name: &'static str, attrs: Vec<(QueueAttributeName, String)>| {
        let sqs = sqs.clone();
        async move {
            let mut req = sqs.create_queue().queue_name(name);
            for (k, v) in attrs {
                req = req.attributes(k, v);
            }
            req.send().await.unwrap();
        }
    };
    let fifo = || vec![(QueueAttributeName::FifoQueue, "true".to_string())];
    for name in ["standard", "fan-a", "fan-b", "backlog", "moving-dlq"] {
        create(name, vec![]).await;
    }
    for name in ["ordered.fifo", "fan-a.fifo", "fan-b.fifo"] {
        create(name, fifo()).await;
    }
    create(
        "moving",
        vec![
            (QueueAttributeName::VisibilityTimeout, "0".into()),
            (
                QueueAttributeName::RedrivePolicy,
                format!(
                    r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1}}"#,
                    queue_arn("moving-dlq")
                ),
            ),
        ],
    )
    .await;
    sns.create_topic().name("fan").send().await.unwrap();
    sns.create_topic()
        .name("fan.fifo")
        .attributes("FifoTopic", "true")
        .send()
        .await
        .unwrap();
    for (topic, queue) in [
        ("fan", "fan-a"),
        ("fan", "fan-b"),
        ("fan.fifo", "fan-a.fifo"),
        ("fan.fifo", "fan-b.fifo"),
    ] {
        sns.subscribe()
            .topic_arn(topic_arn(topic))
            .protocol("sqs")
            .endpoint(queue_arn(queue))
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
    }
}

/// Fills the backlog queue (never read during the loop; its count is checked every round).
async fn fill_backlog(endpoint: &str, total: u64) {
    let started = Instant::now();
    let workers = 8u64;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let sqs = sqs(endpoint);
        let url = url(endpoint, "backlog");
        tasks.push(tokio::spawn(async move {
            let mut i = w * 10;
            while i < total {
                let entries = (i..(i + 10).min(total))
                    .map(|k| {
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("e{}", k % 10))
                            .message_body(format!("backlog-{k:07}-{}", "x".repeat(48)))
                            .build()
                            .unwrap()
                    })
                    .collect();
                let out = sqs
                    .send_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .unwrap();
                assert!(out.failed().is_empty());
                i += workers * 10;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!(
        "backlog of {total} messages sent in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Everything a round checks after a restart, before the load resumes.
async fn reconcile(endpoint: &str, ledger: &Shared) {
    let (sqs, sns) = (sqs(endpoint), sns(endpoint));
    // FIFO sends and publishes the kill cut off are repeated with the same deduplication id,
    // and the last acknowledged one too: the deduplication window must have survived.
    for g in 0..FIFO_GROUPS {
        let group = ledger.lock().unwrap().fifo[g].clone();
        if let Some((n, id, seq)) = &group.last {
            let body = body_of("g", g, *n);
            let again = sqs
                .send_message()
                .queue_url(url(endpoint, "ordered.fifo"))
                .message_body(&body)
                .message_group_id(format!("g{g}"))
                .message_deduplication_id(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                again.message_id(),
                Some(id.as_str()),
                "{body}: deduplicated"
            );
            assert_eq!(again.sequence_number(), Some(seq.as_str()), "{body}");
        }
        if let Some(n) = group.unsure {
            let body = body_of("g", g, n);
            let out = sqs
                .send_message()
                .queue_url(url(endpoint, "ordered.fifo"))
                .message_body(&body)
                .message_group_id(format!("g{g}"))
                .message_deduplication_id(&body)
                .send()
                .await
                .unwrap();
            let mut l = ledger.lock().unwrap();
            let group = &mut l.fifo[g];
            group.last = Some((n, out.message_id.unwrap(), out.sequence_number.unwrap()));
            group.unsure = None;
            group.next = n + 1;
        }
    }
    for g in 0..TOPIC_GROUPS {
        let group = ledger.lock().unwrap().topic[g].clone();
        let publish = |n: u64| {
            let body = body_of("t", g, n);
            sns.publish()
                .topic_arn(topic_arn("fan.fifo"))
                .message(&body)
                .message_group_id(format!("t{g}"))
                .message_deduplication_id(&body)
                .send()
        };
        if let Some((n, id, seq)) = &group.last {
            let again = publish(*n).await.unwrap();
            assert_eq!(
                again.message_id(),
                Some(id.as_str()),
                "t{g}-{n}: deduplicated"
            );
            assert_eq!(again.sequence_number(), Some(seq.as_str()), "t{g}-{n}");
        }
        if let Some(n) = group.unsure {
            let out = publish(n).await.unwrap();
            let mut l = ledger.lock().unwrap();
            let group = &mut l.topic[g];
            group.last = Some((n, out.message_id.unwrap(), out.sequence_number.unwrap()));
            group.unsure = None;
            group.next = n + 1;
        }
    }

    // FIFO queue: each group holds exactly [lowest still there, next), in order. Read and
    // deleted (a FIFO group's later messages wait while earlier ones are in flight).
    let present = drain_deleting(&sqs, &url(endpoint, "ordered.fifo")).await;
    let mut by_group = group_numbers(&present);
    {
        let mut l = ledger.lock().unwrap();
        for (g, group) in l.fifo.iter_mut().enumerate() {
            let numbers = by_group.remove(&g).unwrap_or_default();
            group.check_received(&format!("ordered.fifo g{g}"), &numbers);
            let lowest = numbers.first().copied().unwrap_or(group.next);
            let expected: Vec<u64> = (lowest..group.next).collect();
            assert_eq!(
                numbers, expected,
                "ordered.fifo g{g}: every acknowledged send, once, in order"
            );
            group.deleted_below = group.next;
            group.attempted_below = group.next;
        }
        assert!(by_group.is_empty(), "unknown groups: {by_group:?}");
    }

    // FIFO topic: both queues hold every acknowledged publish of each group since the last
    // check, once, in order.
    for queue in ["fan-a.fifo", "fan-b.fifo"] {
        let present = drain_deleting(&sqs, &url(endpoint, queue)).await;
        let mut by_group = group_numbers(&present);
        let l = ledger.lock().unwrap();
        for (g, group) in l.topic.iter().enumerate() {
            let numbers = by_group.remove(&g).unwrap_or_default();
            let expected: Vec<u64> = (group.deleted_below..group.next).collect();
            assert_eq!(
                numbers, expected,
                "{queue} t{g}: every acknowledged publish, once, in order"
            );
        }
        assert!(by_group.is_empty(), "unknown groups: {by_group:?}");
    }
    for group in ledger.lock().unwrap().topic.iter_mut() {
        group.deleted_below = group.next;
        group.attempted_below = group.next;
    }

    // The move-task pair: stop a running task (it resumed at start-up), then every message is
    // in the source or the dead-letter queue. Draining the source moves the messages received
    // before to the dead-letter queue, which is drained after it.
    let dlq_arn = queue_arn("moving-dlq");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tasks = sqs
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .max_results(10)
            .send()
            .await
            .unwrap();
        let running: Vec<_> = tasks
            .results()
            .iter()
            .filter(|t| t.status() == Some("RUNNING"))
            .collect();
        if running.is_empty() {
            break;
        }
        for task in running {
            if let Some(handle) = task.task_handle() {
                let _ = sqs
                    .cancel_message_move_task()
                    .task_handle(handle)
                    .send()
                    .await;
            }
        }
        assert!(Instant::now() < deadline, "move task does not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut present = drain(&sqs, &url(endpoint, "moving")).await;
    present.extend(drain(&sqs, &url(endpoint, "moving-dlq")).await);
    ledger
        .lock()
        .unwrap()
        .moving
        .reconcile("moving + moving-dlq", &present);

    for (name, which) in [
        ("standard", Which::Standard),
        ("fan-a", Which::FanA),
        ("fan-b", Which::FanB),
    ] {
        let present = drain(&sqs, &url(endpoint, name)).await;
        ledger.lock().unwrap().bag(which).reconcile(name, &present);
    }

    let expected = ledger.lock().unwrap().backlog;
    assert_eq!(
        message_count(&sqs, &url(endpoint, "backlog")).await,
        expected,
        "the backlog queue keeps every message"
    );
}

type Tasks = Vec<tokio::task::JoinHandle<()>>;

/// Standard queue: a sender alternating SendMessage and SendMessageBatch of 5.
fn standard_sender(
    endpoint: &str,
    round: usize,
    t: usize,
    ledger: Shared,
    errors: Errors,
) -> impl std::future::Future<Output = ()> {
    let (sqs, url) = (sqs(endpoint), url(endpoint, "standard"));
    async move {
        for i in 0.. {
            let base = format!("s{round}-{t}-{i}");
            let bodies: Vec<String> = if i % 2 == 0 {
                vec![base]
            } else {
                (0..5).map(|k| format!("{base}-{k}")).collect()
            };
            ledger
                .lock()
                .unwrap()
                .standard
                .attempted
                .extend(bodies.iter().cloned());
            let result = if bodies.len() == 1 {
                sqs.send_message()
                    .queue_url(&url)
                    .message_body(&bodies[0])
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| answered(&errors, "SendMessage", &e))
            } else {
                let entries = bodies
                    .iter()
                    .enumerate()
                    .map(|(k, b)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("e{k}"))
                            .message_body(b)
                            .build()
                            .unwrap()
                    })
                    .collect();
                sqs.send_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map(|out| assert!(out.failed().is_empty(), "{:?}", out.failed()))
                    .map_err(|e| answered(&errors, "SendMessageBatch", &e))
            };
            if result.is_err() {
                return;
            }
            ledger.lock().unwrap().standard.sent.extend(bodies);
        }
    }
}

/// A consumer that deletes (DeleteMessageBatch) about half of what it receives and leaves the
/// rest in flight.
fn standard_consumer(
    endpoint: &str,
    name: &str,
    which: Which,
    ledger: Shared,
    errors: Errors,
) -> impl std::future::Future<Output = ()> {
    let (sqs, url) = (sqs(endpoint), url(endpoint, name));
    async move {
        loop {
            let got = match sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
            {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => return answered(&errors, "ReceiveMessage", &e),
            };
            let doomed: Vec<_> = got
                .iter()
                .filter(|m| m.body().unwrap().ends_with(['0', '2', '4', '6', '8']))
                .collect();
            if doomed.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            let bodies: Vec<String> = doomed
                .iter()
                .map(|m| m.body().unwrap().to_string())
                .collect();
            ledger
                .lock()
                .unwrap()
                .bag(which)
                .delete_attempted
                .extend(bodies.iter().cloned());
            let entries = doomed
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("d{k}"))
                        .receipt_handle(m.receipt_handle().unwrap())
                        .build()
                        .unwrap()
                })
                .collect();
            match sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    assert!(out.failed().is_empty(), "{url}: {:?}", out.failed());
                    ledger.lock().unwrap().bag(which).deleted.extend(bodies);
                }
                Err(e) => return answered(&errors, "DeleteMessageBatch", &e),
            }
        }
    }
}

/// FIFO queue: one sender per group, in order, each message its own deduplication id.
fn fifo_sender(
    endpoint: &str,
    g: usize,
    ledger: Shared,
    errors: Errors,
) -> impl std::future::Future<Output = ()> {
    let (sqs, url) = (sqs(endpoint), url(endpoint, "ordered.fifo"));
    async move {
        loop {
            let n = {
                let mut l = ledger.lock().unwrap();
                let group = &mut l.fifo[g];
                group.unsure = Some(group.next);
                group.next
            };
            let body = body_of("g", g, n);
            match sqs
                .send_message()
                .queue_url(&url)
                .message_body(&body)
                .message_group_id(format!("g{g}"))
                .message_deduplication_id(&body)
                .send()
                .await
            {
                Ok(out) => {
                    let mut l = ledger.lock().unwrap();
                    let group = &mut l.fifo[g];
                    group.last = Some((n, out.message_id.unwrap(), out.sequence_number.unwrap()));
                    group.unsure = None;
                    group.next = n + 1;
                }
                Err(e) => return answered(&errors, "SendMessage (FIFO)", &e),
            }
        }
    }
}

/// FIFO queue: one consumer checking each receive against the groups' order, deleting all.
fn fifo_consumer(
    endpoint: &str,
    ledger: Shared,
    errors: Errors,
) -> impl std::future::Future<Output = ()> {
    let (sqs, url) = (sqs(endpoint), url(endpoint, "ordered.fifo"));
    async move {
        loop {
            let got = match sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
            {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => return answered(&errors, "ReceiveMessage (FIFO)", &e),
            };
            if got.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            let mut by_group: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
            for m in &got {
                let (g, n) = parse_body(m.body().unwrap());
                by_group.entry(g).or_default().push(n);
            }
            {
                let mut l = ledger.lock().unwrap();
                for (g, numbers) in &by_group {
                    let group = &mut l.fifo[*g];
                    group.check_received(&format!("ordered.fifo g{g} (live)"), numbers);
                    group.attempted_below = numbers.last().unwrap() + 1;
                }
            }
            let entries = got
                .iter()
                .enumerate()
                .map(|(k, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("d{k}"))
                        .receipt_handle(m.receipt_handle().unwrap())
                        .build()
                        .unwrap()
                })
                .collect();
            match sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    assert!(out.failed().is_empty(), "{url}: {:?}", out.failed());
                    let mut l = ledger.lock().unwrap();
                    for (g, numbers) in &by_group {
                        l.fifo[*g].deleted_below = numbers.last().unwrap() + 1;
                    }
                }
                Err(e) => return answered(&errors, "DeleteMessageBatch (FIFO)", &e),
            }
        }
    }
}

/// The move-task pair: a sender into the source queue, a receiver that makes every message
/// dead-letter on its second receive, and a mover that keeps a move task running back from
/// the dead-letter queue.
fn moving_load(
    endpoint: &str,
    round: usize,
    ledger: Shared,
    errors: Errors,
) -> Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
    let (sqs, src) = (sqs(endpoint), url(endpoint, "moving"));
    let sender = {
        let (sqs, src, ledger, errors) = (sqs.clone(), src.clone(), ledger.clone(), errors.clone());
        async move {
            for i in 0.. {
                let body = format!("m{round}-{i}");
                ledger.lock().unwrap().moving.attempted.insert(body.clone());
                match sqs
                    .send_message()
                    .queue_url(&src)
                    .message_body(&body)
                    .send()
                    .await
                {
                    Ok(_) => {
                        ledger.lock().unwrap().moving.sent.insert(body);
                    }
                    Err(e) => return answered(&errors, "SendMessage (moving)", &e),
                }
            }
        }
    };
    let receiver = {
        let (sqs, src, errors) = (sqs.clone(), src.clone(), errors.clone());
        async move {
            loop {
                if let Err(e) = sqs
                    .receive_message()
                    .queue_url(&src)
                    .max_number_of_messages(10)
                    .send()
                    .await
                {
                    return answered(&errors, "ReceiveMessage (moving)", &e);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let mover = {
        let errors = errors.clone();
        async move {
            let dlq = queue_arn("moving-dlq");
            loop {
                let tasks = match sqs.list_message_move_tasks().source_arn(&dlq).send().await {
                    Ok(out) => out,
                    Err(e) => return answered(&errors, "ListMessageMoveTasks", &e),
                };
                if !tasks
                    .results()
                    .iter()
                    .any(|t| t.status() == Some("RUNNING"))
                {
                    if let Err(e) = sqs.start_message_move_task().source_arn(&dlq).send().await {
                        if !matches!(e, SdkError::ServiceError(_)) {
                            return;
                        }
                        // An empty dead-letter queue or a task started meanwhile: try later.
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    vec![Box::pin(sender), Box::pin(receiver), Box::pin(mover)]
}

/// A standard topic (Publish and PublishBatch) fanned out to two standard queues.
fn topic_publisher(
    endpoint: &str,
    round: usize,
    ledger: Shared,
    errors: Errors,
) -> impl std::future::Future<Output = ()> {
    let sns = sns(endpoint);
    async move {
        let arn = topic_arn("fan");
        for i in 0.. {
            let base = format!("p{round}-{i}");
            let bodies: Vec<String> = if i % 2 == 0 {
                vec![base]
            } else {
                (0..4).map(|k| format!("{base}-{k}")).collect()
            };
            {
                let mut l = ledger.lock().unwrap();
                l.fan_a.attempted.extend(bodies.iter().cloned());
                l.fan_b.attempted.extend(bodies.iter().cloned());
            }
            let result = if bodies.len() == 1 {
                sns.publish()
                    .topic_arn(&arn)
                    .message(&bodies[0])
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| answered(&errors, "Publish", &e))
            } else {
                let entries = bodies
                    .iter()
                    .enumerate()
                    .map(|(k, b)| {
                        aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                            .id(format!("e{k}"))
                            .message(b)
                            .build()
                            .unwrap()
                    })
                    .collect();
                sns.publish_batch()
                    .topic_arn(&arn)
                    .set_publish_batch_request_entries(Some(entries))
                    .send()
                    .await
                    .map(|out| assert!(out.failed().is_empty(), "{:?}", out.failed()))
                    .map_err(|e| answered(&errors, "PublishBatch", &e))
            };
            if result.is_err() {
                return;
            }
            let mut l = ledger.lock().unwrap();
            l.fan_a.sent.extend(bodies.iter().cloned());
            l.fan_b.sent.extend(bodies);
        }
    }
}

/// A FIFO topic fanned out to two FIFO queues: one publisher per group, in order.
fn fifo_topic_publisher(
    endpoint: &str,
    g: usize,
    ledger: Shared,
    errors: Errors,
) -> impl std::future::Future<Output = ()> {
    let sns = sns(endpoint);
    async move {
        loop {
            let n = {
                let mut l = ledger.lock().unwrap();
                let group = &mut l.topic[g];
                group.unsure = Some(group.next);
                group.next
            };
            let body = body_of("t", g, n);
            match sns
                .publish()
                .topic_arn(topic_arn("fan.fifo"))
                .message(&body)
                .message_group_id(format!("t{g}"))
                .message_deduplication_id(&body)
                .send()
                .await
            {
                Ok(out) => {
                    let mut l = ledger.lock().unwrap();
                    let group = &mut l.topic[g];
                    group.last = Some((n, out.message_id.unwrap(), out.sequence_number.unwrap()));
                    group.unsure = None;
                    group.next = n + 1;
                }
                Err(e) => return answered(&errors, "Publish (FIFO)", &e),
            }
        }
    }
}

/// The mixed load of one round; every task ends at the kill.
fn load(endpoint: &str, round: usize, ledger: &Shared, errors: &Errors) -> Tasks {
    let mut tasks: Tasks = Vec::new();
    for t in 0..2 {
        tasks.push(tokio::spawn(standard_sender(
            endpoint,
            round,
            t,
            ledger.clone(),
            errors.clone(),
        )));
    }
    tasks.push(tokio::spawn(standard_consumer(
        endpoint,
        "standard",
        Which::Standard,
        ledger.clone(),
        errors.clone(),
    )));
    tasks.push(tokio::spawn(standard_consumer(
        endpoint,
        "fan-a",
        Which::FanA,
        ledger.clone(),
        errors.clone(),
    )));
    for g in 0..FIFO_GROUPS {
        tasks.push(tokio::spawn(fifo_sender(
            endpoint,
            g,
            ledger.clone(),
            errors.clone(),
        )));
    }
    tasks.push(tokio::spawn(fifo_consumer(
        endpoint,
        ledger.clone(),
        errors.clone(),
    )));
    for f in moving_load(endpoint, round, ledger.clone(), errors.clone()) {
        tasks.push(tokio::spawn(f));
    }
    tasks.push(tokio::spawn(topic_publisher(
        endpoint,
        round,
        ledger.clone(),
        errors.clone(),
    )));
    for g in 0..TOPIC_GROUPS {
        tasks.push(tokio::spawn(fifo_topic_publisher(
            endpoint,
            g,
            ledger.clone(),
            errors.clone(),
        )));
    }
    tasks
}

/// How much has been acknowledged so far, to know the load is under way.
fn progress(ledger: &Shared) -> usize {
    let l = ledger.lock().unwrap();
    l.standard.sent.len()
        + l.moving.sent.len()
        + l.fan_b.sent.len()
        + l.fifo.iter().map(|g| g.next as usize).sum::<usize>()
        + l.topic.iter().map(|g| g.next as usize).sum::<usize>()
}

fn data_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "lyrebird-crash-loop-{}-{nanos}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_operation_survives_a_sigkill_loop() {
    let size = size();
    let dir = data_dir();
    let ledger: Shared = Arc::new(Mutex::new(Ledger {
        fifo: vec![Group::default(); FIFO_GROUPS],
        topic: vec![Group::default(); TOPIC_GROUPS],
        ..Ledger::default()
    }));
    let started = Instant::now();
    {
        let server = start(&size, &dir, 0).await;
        set_up(&server.endpoint).await;
        fill_backlog(&server.endpoint, size.backlog).await;
        ledger.lock().unwrap().backlog = size.backlog;
    }
    let mut offset = 0;
    for round in 0..size.rounds {
        let restart = Instant::now();
        let mut server = start(&size, &dir, offset).await;
        let restarted_in = restart.elapsed();
        offset += CLOCK_STEP;
        advance_clock(&server.endpoint, CLOCK_STEP).await;
        let check = Instant::now();
        reconcile(&server.endpoint, &ledger).await;
        let checked_in = check.elapsed();
        // What the drains left in flight becomes visible for the load.
        offset += CLOCK_STEP;
        advance_clock(&server.endpoint, CLOCK_STEP).await;

        let errors: Errors = Arc::default();
        let before = progress(&ledger);
        let tasks = load(&server.endpoint, round, &ledger, &errors);
        // Let the load get going (a loaded machine may need a moment), then kill at a moment
        // that differs from round to round.
        let deadline = Instant::now() + Duration::from_secs(30);
        while progress(&ledger) < before + 50 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(20 + (round as u64 * 137) % 600)).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let errors = errors.lock().unwrap();
        assert!(
            errors.is_empty(),
            "round {round}: the server answered errors: {errors:?}"
        );
        eprintln!(
            "round {round}: restart {:.2} s, reconcile {:.2} s, {} acknowledged this round",
            restarted_in.as_secs_f64(),
            checked_in.as_secs_f64(),
            progress(&ledger) - before
        );
        assert!(
            progress(&ledger) > before,
            "round {round} acknowledged nothing"
        );
    }
    // A last restart: everything from the last round is checked too.
    let server = start(&size, &dir, offset).await;
    advance_clock(&server.endpoint, CLOCK_STEP).await;
    reconcile(&server.endpoint, &ledger).await;
    drop(server);
    eprintln!(
        "{} rounds, backlog {}, {:.1} s in all",
        size.rounds,
        size.backlog,
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
