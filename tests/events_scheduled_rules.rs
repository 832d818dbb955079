//! Scheduled rules (issue 19 items 2 and 5): `rate(…)` and `cron(…)` rules fire on lyrebird's
//! clock, so moving it (`/_lyrebird/clock/advance`) makes them fire; their targets get AWS's
//! "Scheduled Event" envelope.

mod common;

use aws_sdk_eventbridge::types::Target;
use common::events::{bodies, events, queue, wait_messages};
use serde_json::json;

async fn scheduled(
    server: &lyrebird::RunningServer,
    name: &str,
    expression: &str,
) -> (String, String) {
    let eb = events(server);
    let sqs = common::sqs(server);
    let (url, arn) = queue(&sqs, name).await;
    let rule_arn = eb
        .put_rule()
        .name(name)
        .schedule_expression(expression)
        .send()
        .await
        .unwrap()
        .rule_arn()
        .unwrap()
        .to_string();
    eb.put_targets()
        .rule(name)
        .targets(Target::builder().id("q").arn(arn).build().unwrap())
        .send()
        .await
        .unwrap();
    (url, rule_arn)
}

#[tokio::test]
async fn rate_rules_fire_when_the_clock_moves() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let (url, rule_arn) = scheduled(&server, "every-minute", "rate(1 minute)").await;
    // Not before its period.
    assert!(wait_messages(&sqs, &url, 1).await.is_empty());
    common::advance_clock(&server, 61.0).await;
    let messages = wait_messages(&sqs, &url, 1).await;
    assert_eq!(messages.len(), 1);
    let event = &bodies(&messages)[0];
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    assert_eq!(event["account"], "000000000000");
    assert_eq!(event["region"], "us-east-1");
    assert_eq!(event["resources"], json!([rule_arn]));
    assert_eq!(event["detail"], json!({}));
    assert_eq!(event["version"], "0");
    let time = event["time"].as_str().unwrap();
    assert!(time.len() == 20 && time.ends_with('Z'), "{time}");
    // And again a period later.
    common::advance_clock(&server, 60.0).await;
    assert_eq!(wait_messages(&sqs, &url, 1).await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn cron_rules_fire_at_their_times() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let (url, _) = scheduled(&server, "hourly", "cron(0 * * * ? *)").await;
    common::advance_clock(&server, 3_601.0).await;
    assert_eq!(wait_messages(&sqs, &url, 1).await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn disabled_rules_do_not_fire() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let (url, _) = scheduled(&server, "quiet", "rate(1 minute)").await;
    eb.disable_rule().name("quiet").send().await.unwrap();
    common::advance_clock(&server, 120.0).await;
    assert!(wait_messages(&sqs, &url, 1).await.is_empty());
    eb.enable_rule().name("quiet").send().await.unwrap();
    common::advance_clock(&server, 61.0).await;
    assert_eq!(wait_messages(&sqs, &url, 1).await.len(), 1);
    server.stop().await;
}
