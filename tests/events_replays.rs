//! EventBridge replays as AWS runs them (issue 19 item 6): a background job that goes
//! STARTING → RUNNING → COMPLETED, sending an archive's events minute by minute of event time
//! (paced on the service clock, so these tests move the clock instead of sleeping),
//! CancelReplay → CANCELLING → CANCELLED, FAILED with a StateReason, AWS's quota of ten active
//! replays, and a running replay resuming where it was after a restart. Shapes and texts are
//! AWS's, from the recordings of LocalStack's test_archive_and_replay.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, ReplayDestination, ReplayState, Target};
use common::events::{bodies, call, error_of, events, events_as, queue, wait_messages};
use lyrebird::{Config, RunningServer};
use serde_json::json;

const BUS_ARN: &str = "arn:aws:events:us-east-1:000000000000:event-bus/orders";
const ARCHIVE_ARN: &str = "arn:aws:events:us-east-1:000000000000:archive/kept";
/// A replay waits this long (service time) after each minute of events: far longer than a
/// test takes, so only the test's clock moves make a replay go on.
const INTERVAL_MS: u64 = 600_000;

async fn server() -> RunningServer {
    lyrebird::spawn(Config {
        port: 0,
        test_endpoints: true,
        events_replay_interval_ms: INTERVAL_MS,
        ..Config::default()
    })
    .await
    .expect("server starts")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The start of the current minute, read once per test (a minute may turn during one).
fn this_minute() -> i64 {
    now_ms() / 60_000 * 60_000
}

/// The start of the minute `minutes` before `base`.
fn minute_ago(base: i64, minutes: i64) -> i64 {
    base - minutes * 60_000
}

/// Nothing more arrives in the queue within a second.
async fn assert_empty(sqs: &aws_sdk_sqs::Client, url: &str) {
    let more = sqs
        .receive_message()
        .queue_url(url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(more.messages().is_empty(), "{more:?}");
}

/// A bus `orders` with the archive `kept`, holding events `n` put with `Time` in the minutes
/// given (minutes ago, seconds into it); then a rule sending the bus's events to a queue (so
/// only replayed events reach it). Returns the queue URL and the rule ARN.
async fn archived(
    eb: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    base: i64,
    times: &[(i64, i64)],
) -> (String, String) {
    eb.create_event_bus().name("orders").send().await.unwrap();
    eb.create_archive()
        .archive_name("kept")
        .event_source_arn(BUS_ARN)
        .send()
        .await
        .unwrap();
    for (n, (minutes, seconds)) in times.iter().enumerate() {
        eb.put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .source("orders")
                    .detail_type("OrderCreated")
                    .detail(json!({ "n": n }).to_string())
                    .event_bus_name("orders")
                    .time(DateTime::from_millis(
                        minute_ago(base, *minutes) + seconds * 1000,
                    ))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let (url, arn) = queue(sqs, "replayed").await;
    let rule = eb
        .put_rule()
        .name("all")
        .event_bus_name("orders")
        .event_pattern(r#"{"source":["orders"]}"#)
        .send()
        .await
        .unwrap()
        .rule_arn
        .unwrap();
    eb.put_targets()
        .rule("all")
        .event_bus_name("orders")
        .targets(Target::builder().id("q").arn(arn).build().unwrap())
        .send()
        .await
        .unwrap();
    (url, rule)
}

/// A server (replays paced by `INTERVAL_MS`) with `archived` events, and its clients.
struct Fixture {
    server: RunningServer,
    eb: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    base: i64,
    url: String,
    rule: String,
}

async fn fixture(times: &[(i64, i64)]) -> Fixture {
    let server = server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let base = this_minute();
    let (url, rule) = archived(&eb, &sqs, base, times).await;
    Fixture {
        server,
        eb,
        sqs,
        base,
        url,
        rule,
    }
}

/// StartReplay over the last ten minutes.
async fn start(
    eb: &aws_sdk_eventbridge::Client,
    base: i64,
    name: &str,
) -> aws_sdk_eventbridge::operation::start_replay::StartReplayOutput {
    eb.start_replay()
        .replay_name(name)
        .description("again")
        .event_source_arn(ARCHIVE_ARN)
        .event_start_time(DateTime::from_millis(minute_ago(base, 10)))
        .event_end_time(DateTime::from_millis(now_ms() + 1000))
        .destination(ReplayDestination::builder().arn(BUS_ARN).build().unwrap())
        .send()
        .await
        .unwrap()
}

/// Waits (up to 5 s) until the replay is in `state`; returns its description.
async fn wait_state(
    eb: &aws_sdk_eventbridge::Client,
    name: &str,
    state: ReplayState,
) -> aws_sdk_eventbridge::operation::describe_replay::DescribeReplayOutput {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let d = eb.describe_replay().replay_name(name).send().await.unwrap();
        if d.state() == Some(&state) || Instant::now() > deadline {
            assert_eq!(d.state(), Some(&state), "{d:?}");
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn numbers(messages: &[aws_sdk_sqs::types::Message]) -> Vec<u64> {
    bodies(messages)
        .iter()
        .map(|b| b["detail"]["n"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_replay_runs_minute_by_minute_on_the_clock_and_can_be_cancelled() {
    // Two events in one minute, then one in each of two later minutes.
    let Fixture {
        server,
        eb,
        sqs,
        base,
        url,
        ..
    } = fixture(&[(4, 30), (4, 10), (3, 5), (2, 5)]).await;

    let started = start(&eb, base, "slow").await;
    assert_eq!(started.state(), Some(&ReplayState::Starting));
    assert_eq!(
        started.replay_arn(),
        Some("arn:aws:events:us-east-1:000000000000:replay/slow")
    );
    assert!(started.replay_start_time().is_some());

    // The first minute goes at once, in order of event time; then the replay waits.
    let first = wait_messages(&sqs, &url, 2).await;
    assert_eq!(numbers(&first), vec![1, 0]);
    assert_eq!(bodies(&first)[0]["replay-name"], "slow");
    let running = wait_state(&eb, "slow", ReplayState::Running).await;
    assert_eq!(
        running.event_last_replayed_time().unwrap().secs() * 1000,
        minute_ago(base, 4) + 30_000,
        "the time of the last event sent"
    );
    assert!(running.replay_end_time().is_none());

    // Moving the clock by the interval sends the next minute, and only it.
    common::advance_clock(&server, INTERVAL_MS as f64 / 1000.0).await;
    assert_eq!(numbers(&wait_messages(&sqs, &url, 1).await), vec![2]);

    // Cancelled: AWS answers the ARN and CANCELLING; nothing more is sent.
    let (status, cancelled) = call(&server, "CancelReplay", json!({"ReplayName": "slow"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        cancelled,
        json!({"ReplayArn": "arn:aws:events:us-east-1:000000000000:replay/slow", "State": "CANCELLING"})
    );
    let done = wait_state(&eb, "slow", ReplayState::Cancelled).await;
    assert!(done.replay_end_time().is_some());
    common::advance_clock(&server, 2.0 * INTERVAL_MS as f64 / 1000.0).await;
    assert_empty(&sqs, &url).await;

    let err = eb
        .cancel_replay()
        .replay_name("slow")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "IllegalStatusException".into(),
            "Replay slow is not in a valid state for this operation.".into()
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn a_replay_completes_with_every_event_in_order() {
    let Fixture {
        server,
        eb,
        sqs,
        base,
        url,
        rule,
    } = fixture(&[(3, 40), (5, 0), (3, 20)]).await;
    eb.start_replay()
        .replay_name("full")
        .event_source_arn(ARCHIVE_ARN)
        .event_start_time(DateTime::from_millis(minute_ago(base, 10)))
        .event_end_time(DateTime::from_millis(now_ms() + 1000))
        .destination(
            ReplayDestination::builder()
                .arn(BUS_ARN)
                .filter_arns(&rule)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_state(&eb, "full", ReplayState::Running).await;
    common::advance_clock(&server, INTERVAL_MS as f64 / 1000.0).await;
    let done = wait_state(&eb, "full", ReplayState::Completed).await;
    assert_eq!(numbers(&wait_messages(&sqs, &url, 3).await), vec![1, 2, 0]);
    assert_eq!(
        done.event_last_replayed_time().unwrap().secs() * 1000,
        minute_ago(base, 3) + 40_000
    );
    assert!(done.replay_end_time().is_some());
    assert!(done.state_reason().is_none());

    // Listed as AWS lists replays: no ARN, description or destination.
    let (_, listed) = call(
        &server,
        "ListReplays",
        json!({"State": "COMPLETED", "NamePrefix": "fu"}),
    )
    .await;
    let entry = &listed["Replays"][0];
    assert_eq!(entry["ReplayName"], "full");
    assert_eq!(entry["EventSourceArn"], ARCHIVE_ARN);
    for member in ["EventLastReplayedTime", "ReplayEndTime", "ReplayStartTime"] {
        assert!(entry[member].is_number(), "{member}: {listed}");
    }
    for member in ["ReplayArn", "Destination", "Description"] {
        assert!(entry.get(member).is_none(), "{member}: {listed}");
    }
    let (_, none) = call(&server, "ListReplays", json!({"State": "RUNNING"})).await;
    assert_eq!(none["Replays"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn replays_are_limited_checked_and_fail_with_a_reason() {
    let Fixture {
        server, eb, base, ..
    } = fixture(&[(4, 0), (3, 0)]).await;

    // The destination: a missing bus is named; another bus is a cross-bus replay.
    let destination = |arn: &str| ReplayDestination::builder().arn(arn).build().unwrap();
    let attempt = |name: &str, arn: &str| {
        eb.start_replay()
            .replay_name(name)
            .event_source_arn(ARCHIVE_ARN)
            .event_start_time(DateTime::from_millis(minute_ago(base, 10)))
            .event_end_time(DateTime::from_millis(now_ms()))
            .destination(destination(arn))
            .send()
    };
    let other = "arn:aws:events:us-east-1:000000000000:event-bus/other";
    let err = attempt("x", other).await.unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceNotFoundException".into(),
            "Event bus other does not exist.".into()
        )
    );
    eb.create_event_bus().name("other").send().await.unwrap();
    let err = attempt("x", other).await.unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted."
                .into()
        )
    );

    // Ten replays may be STARTING or RUNNING at once (each waits after its first minute).
    for i in 0..10 {
        attempt(&format!("r{i}"), BUS_ARN).await.unwrap();
    }
    let err = attempt("r10", BUS_ARN).await.unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "LimitExceededException".into(),
            "The requested resource exceeds the maximum number allowed.".into()
        )
    );
    // A finished one makes room.
    wait_state(&eb, "r0", ReplayState::Running).await;
    eb.cancel_replay().replay_name("r0").send().await.unwrap();
    wait_state(&eb, "r0", ReplayState::Cancelled).await;
    attempt("r10", BUS_ARN).await.unwrap();

    // The archive deleted under running replays: they fail, saying why.
    eb.delete_archive()
        .archive_name("kept")
        .send()
        .await
        .unwrap();
    common::advance_clock(&server, INTERVAL_MS as f64 / 1000.0).await;
    let failed = wait_state(&eb, "r1", ReplayState::Failed).await;
    assert_eq!(failed.state_reason(), Some("Archive kept does not exist."));
    assert!(failed.replay_end_time().is_some());
    server.stop().await;
}

/// A replay running when lyrebird stops goes on after the restart from the minute after the
/// last one it recorded: nothing is lost and nothing sent twice.
#[tokio::test]
async fn a_running_replay_resumes_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("lyrebird-replay-{}", uuid::Uuid::new_v4()));
    let interval = INTERVAL_MS.to_string();
    let args = [
        std::ffi::OsStr::new("--data-dir"),
        dir.as_os_str(),
        std::ffi::OsStr::new("--test-endpoints"),
        std::ffi::OsStr::new("--events-replay-interval-ms"),
        std::ffi::OsStr::new(&interval),
    ];
    let first = common::process::start(&args, &[]).await;
    let eb = events_as(&first.endpoint, "test", "us-east-1");
    let sqs = common::sqs_at(&first.endpoint, "test", "us-east-1");
    let base = this_minute();
    let (url, _) = archived(&eb, &sqs, base, &[(5, 0), (4, 0), (3, 0)]).await;
    start(&eb, base, "resumed").await;
    assert_eq!(numbers(&wait_messages(&sqs, &url, 1).await), vec![0]);
    wait_state(&eb, "resumed", ReplayState::Running).await;
    // One more acknowledged (flushed) write, so the replay's progress is on disk too.
    common::create_queue(&sqs, "flushed", &[]).await;
    drop(first);

    let second = common::process::start(&args, &[]).await;
    let eb = events_as(&second.endpoint, "test", "us-east-1");
    let sqs = common::sqs_at(&second.endpoint, "test", "us-east-1");
    // At once after the restart, the next minute; the last one after the interval.
    assert_eq!(numbers(&wait_messages(&sqs, &url, 1).await), vec![1]);
    common::http()
        .post(format!("{}/_lyrebird/clock/advance", second.endpoint))
        .header("content-type", "application/json")
        .body(format!("{{\"seconds\":{}}}", INTERVAL_MS / 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(numbers(&wait_messages(&sqs, &url, 1).await), vec![2]);
    wait_state(&eb, "resumed", ReplayState::Completed).await;
    assert_empty(&sqs, &url).await;
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// AWS-recorded texts around archives and replays (test_archive_and_replay.snapshot.json).
#[tokio::test]
async fn archive_and_replay_errors_read_as_aws_records_them() {
    let server = server().await;
    let (status, answer) = call(
        &server,
        "UpdateArchive",
        json!({"ArchiveName": "doesnotexist"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(answer["__type"]
        .as_str()
        .unwrap()
        .ends_with("ValidationException"));
    assert_eq!(
        answer["message"],
        "At least one of EventPattern, RetentionDays or Description must be provided."
    );
    let (status, answer) = call(
        &server,
        "UpdateArchive",
        json!({"ArchiveName": "doesnotexist", "RetentionDays": 2}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(answer["__type"]
        .as_str()
        .unwrap()
        .ends_with("ResourceNotFoundException"));
    assert_eq!(answer["message"], "Archive doesnotexist does not exist.");
    let (_, answer) = call(
        &server,
        "StartReplay",
        json!({
            "ReplayName": "r",
            "EventSourceArn": "arn:aws:events:us-east-1:000000000000:archive/doesnotexist",
            "EventStartTime": 1_700_000_000,
            "EventEndTime": 1_700_000_060,
            "Destination": {"Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default"}
        }),
    )
    .await;
    assert_eq!(
        answer["message"],
        "Parameter EventSourceArn is not valid. Reason: Archive doesnotexist does not exist."
    );
    server.stop().await;
}
