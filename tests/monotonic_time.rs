//! Issue 17 item 3: deadlines run on a monotonic clock. The test endpoint
//! `POST /_lyrebird/clock/wall` steps the wall-clock reading alone, as setting the host's clock
//! would; visibility timeouts, delays, long polls and the purge interval must not notice, while
//! the timestamps that are only reported (an SNS notification's `Timestamp`) follow the wall.

mod common;

use std::time::{Duration, Instant};

use lyrebird::RunningServer;

/// Steps the wall-clock reading by `seconds` (negative: back).
async fn step_wall_clock(server: &RunningServer, seconds: f64) {
    let response = common::http()
        .post(format!("{}/_lyrebird/clock/wall", server.endpoint()))
        .header("content-type", "application/json")
        .body(format!(r#"{{"seconds": {seconds}}}"#))
        .send()
        .await
        .expect("step wall clock");
    assert_eq!(response.status(), 200, "wall-clock step refused");
}

#[tokio::test]
async fn a_wall_clock_set_back_moves_no_visibility_or_delay() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "wall-back", &[]).await;
    common::send(&sqs, &url, "in flight").await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("delayed")
        .delay_seconds(10)
        .send()
        .await
        .expect("send delayed");
    let taken = sqs
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(10)
        .send()
        .await
        .expect("receive");
    assert_eq!(taken.messages().len(), 1);

    // The host clock is set back a day, then forward two; neither moves a deadline.
    step_wall_clock(&server, -86_400.0).await;
    common::advance_clock(&server, 5.0).await;
    let early = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive");
    assert!(early.messages().is_empty(), "a deadline ended early");
    step_wall_clock(&server, 2.0 * 86_400.0).await;
    let still = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive");
    assert!(
        still.messages().is_empty(),
        "a wall clock set forward ended a deadline"
    );
    step_wall_clock(&server, -86_400.0).await;
    common::advance_clock(&server, 6.0).await;
    let mut bodies: Vec<String> = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive")
        .messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_string))
        .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        ["delayed", "in flight"],
        "deadlines did not end on time"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_long_poll_ends_on_time_when_the_wall_clock_is_set_back() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "long-poll", &[]).await;
    let started = Instant::now();
    let poll = {
        let (sqs, url) = (sqs.clone(), url.clone());
        tokio::spawn(async move {
            sqs.receive_message()
                .queue_url(&url)
                .wait_time_seconds(2)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    step_wall_clock(&server, -3_600.0).await;
    let answer = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the long poll outlived its wait time")
        .expect("task")
        .expect("receive");
    assert!(answer.messages().is_empty());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1_500),
        "ended early: {took:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_purge_interval_ignores_the_wall_clock() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "purge", &[]).await;
    sqs.purge_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("purge");
    step_wall_clock(&server, 120.0).await;
    let err = sqs.purge_queue().queue_url(&url).send().await.unwrap_err();
    assert_eq!(
        common::error_code(&err),
        "AWS.SimpleQueueService.PurgeQueueInProgress"
    );
    step_wall_clock(&server, -3_600.0).await;
    common::advance_clock(&server, 61.0).await;
    sqs.purge_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("a purge a minute later");
    server.stop().await;
}

/// Reported-only timestamps follow the wall clock: an SNS notification's `Timestamp`, while
/// the queue's own `SentTimestamp` (which retention counts from) stays on service time.
#[tokio::test]
async fn notification_timestamps_follow_the_wall_clock() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let sns = common::sns(&server);
    let url = common::create_queue(&sqs, "notified", &[]).await;
    let queue_arn = common::queue_arn(&sqs, &url).await;
    let topic = sns
        .create_topic()
        .name("stamped")
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("arn");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .expect("subscribe");
    step_wall_clock(&server, -86_400.0).await;
    sns.publish()
        .topic_arn(&topic)
        .message("hello")
        .send()
        .await
        .expect("publish");
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
        )
        .send()
        .await
        .expect("receive");
    let message = &received.messages()[0];
    let sent_ms: u64 = message.attributes().unwrap()
        [&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp]
        .parse()
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
    let stamp = envelope["Timestamp"].as_str().unwrap();
    let sent_day = lyrebird::clock::iso8601_millis(sent_ms);
    let day_before = lyrebird::clock::iso8601_millis(sent_ms - 86_400_000);
    assert_eq!(
        &stamp[..13],
        &day_before[..13],
        "{stamp} vs sent {sent_day}"
    );
    server.stop().await;
}
