//! EventBridge's API (issue 19 item 1, 2, bad input): buses, rules, targets, PutEvents and its
//! envelope, TestEventPattern, permissions, tags, and AWS's error shapes and texts (as
//! recorded on AWS), through aws-sdk-eventbridge and raw AWS JSON 1.1.

mod common;

use aws_sdk_eventbridge::types::{PutEventsRequestEntry, RuleState, Tag, Target};
use common::events::{bodies, call, error_of, events, put_and_receive, queue, wait_messages};
use serde_json::json;

fn entry(source: &str, detail_type: &str, detail: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .source(source)
        .detail_type(detail_type)
        .detail(detail)
        .build()
}

fn target(id: &str, arn: &str) -> Target {
    Target::builder().id(id).arn(arn).build().unwrap()
}

#[tokio::test]
async fn buses_are_created_described_listed_and_deleted() {
    let server = common::server().await;
    let eb = events(&server);
    let created = eb
        .create_event_bus()
        .name("orders")
        .description("test bus")
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.event_bus_arn(),
        Some("arn:aws:events:us-east-1:000000000000:event-bus/orders")
    );
    assert_eq!(created.description(), Some("test bus"));
    let described = eb.describe_event_bus().name("orders").send().await.unwrap();
    assert_eq!(described.name(), Some("orders"));
    assert!(described.creation_time().is_some());
    // Every account has a default bus.
    let default = eb.describe_event_bus().send().await.unwrap();
    assert_eq!(default.name(), Some("default"));
    let all = eb.list_event_buses().send().await.unwrap();
    let names: Vec<_> = all.event_buses().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["default", "orders"]);
    let prefixed = eb
        .list_event_buses()
        .name_prefix("ord")
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.event_buses().len(), 1);

    let err = eb
        .create_event_bus()
        .name("orders")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceAlreadyExistsException".into(),
            "Event bus orders already exists.".into()
        )
    );
    let err = eb
        .delete_event_bus()
        .name("default")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "Cannot delete event bus default.".into()
        )
    );
    eb.delete_event_bus().name("orders").send().await.unwrap();
    let err = eb
        .describe_event_bus()
        .name("orders")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceNotFoundException".into(),
            "Event bus orders does not exist.".into()
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn buses_are_per_region_and_account() {
    let server = common::server().await;
    let east = events(&server);
    let west = common::events::events_as(&server.endpoint(), "test", "us-west-2");
    let other = common::events::events_as(&server.endpoint(), "111111111111", "us-east-1");
    east.create_event_bus().name("b").send().await.unwrap();
    assert!(west.describe_event_bus().name("b").send().await.is_err());
    assert!(other.describe_event_bus().name("b").send().await.is_err());
    let arn = other.create_event_bus().name("b").send().await.unwrap();
    assert_eq!(
        arn.event_bus_arn(),
        Some("arn:aws:events:us-east-1:111111111111:event-bus/b")
    );
    server.stop().await;
}

#[tokio::test]
async fn rules_are_put_described_listed_enabled_and_deleted() {
    let server = common::server().await;
    let eb = events(&server);
    eb.create_event_bus().name("orders").send().await.unwrap();
    let pattern = r#"{"source":["order-service"]}"#;
    let on_default = eb
        .put_rule()
        .name("r1")
        .event_pattern(pattern)
        .send()
        .await
        .unwrap();
    assert_eq!(
        on_default.rule_arn(),
        Some("arn:aws:events:us-east-1:000000000000:rule/r1")
    );
    for i in 0..5 {
        let out = eb
            .put_rule()
            .name(format!("high-{i}"))
            .event_pattern(pattern)
            .event_bus_name("orders")
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.rule_arn().unwrap(),
            format!("arn:aws:events:us-east-1:000000000000:rule/orders/high-{i}")
        );
    }
    let d = eb
        .describe_rule()
        .name("high-0")
        .event_bus_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(d.event_pattern(), Some(pattern));
    assert_eq!(d.state(), Some(&RuleState::Enabled));
    assert_eq!(d.event_bus_name(), Some("orders"));
    assert_eq!(d.created_by(), Some("000000000000"));

    // Paging: 3 then 2.
    let page1 = eb
        .list_rules()
        .event_bus_name("orders")
        .name_prefix("high")
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(page1.rules().len(), 3);
    let page2 = eb
        .list_rules()
        .event_bus_name("orders")
        .name_prefix("high")
        .limit(3)
        .next_token(page1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page2.rules().len(), 2);
    assert!(page2.next_token().is_none());

    eb.disable_rule().name("r1").send().await.unwrap();
    let d = eb.describe_rule().name("r1").send().await.unwrap();
    assert_eq!(d.state(), Some(&RuleState::Disabled));
    eb.enable_rule().name("r1").send().await.unwrap();

    // A rule with targets is not deleted unless forced.
    let (_, arn) = queue(&common::sqs(&server), "q").await;
    eb.put_targets()
        .rule("r1")
        .targets(target("t1", &arn))
        .send()
        .await
        .unwrap();
    let names = eb
        .list_rule_names_by_target()
        .target_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(names.rule_names(), ["r1"]);
    let err = eb.delete_rule().name("r1").send().await.unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "Rule can't be deleted since it has targets.".into()
        )
    );
    eb.delete_rule()
        .name("r1")
        .force(true)
        .send()
        .await
        .unwrap();
    let err = eb.describe_rule().name("r1").send().await.unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceNotFoundException".into(),
            "Rule r1 does not exist on EventBus default.".into()
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn put_rule_refuses_what_aws_refuses() {
    let server = common::server().await;
    let eb = events(&server);
    eb.create_event_bus().name("custom").send().await.unwrap();
    let err = eb.put_rule().name("r").send().await.unwrap_err();
    assert_eq!(
        error_of(&err).1,
        "Parameter(s) EventPattern or ScheduleExpression must be specified."
    );
    let err = eb
        .put_rule()
        .name("r")
        .schedule_expression("rate(1 minute)")
        .event_bus_name("custom")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "ScheduleExpression is supported only on the default event bus.".into()
        )
    );
    let err = eb
        .put_rule()
        .name("r")
        .schedule_expression("rate(1 fortnight)")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "Parameter ScheduleExpression is not valid.".into()
        )
    );
    let err = eb
        .put_rule()
        .name("r")
        .event_pattern("not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&err).0, "InvalidEventPatternException");
    let err = eb
        .put_rule()
        .name("r")
        .event_pattern(r#"{"source":["x"]}"#)
        .event_bus_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceNotFoundException".into(),
            "Event bus nope does not exist.".into()
        )
    );
    // The name's pattern, in AWS's validation wording (raw: the SDK checks nothing here).
    let (status, body) = call(
        &server,
        "PutRule",
        json!({"Name": "bad name!", "EventPattern": "{\"source\":[\"x\"]}"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["__type"]
        .as_str()
        .unwrap()
        .ends_with("ValidationException"));
    assert_eq!(
        body["message"],
        "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
    );
    server.stop().await;
}

#[tokio::test]
async fn targets_are_put_listed_and_removed_within_aws_limits() {
    let server = common::server().await;
    let eb = events(&server);
    eb.put_rule()
        .name("r")
        .event_pattern(r#"{"source":["s"]}"#)
        .send()
        .await
        .unwrap();
    let (_, arn) = queue(&common::sqs(&server), "q").await;
    let mut req = eb.put_targets().rule("r");
    for i in 0..5 {
        req = req.targets(
            Target::builder()
                .id(format!("t{i}"))
                .arn(&arn)
                .input_path("$.detail")
                .build()
                .unwrap(),
        );
    }
    let out = req.send().await.unwrap();
    assert_eq!(out.failed_entry_count(), 0);
    let err = eb
        .put_targets()
        .rule("r")
        .targets(target("t9", &arn))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "LimitExceededException".into(),
            "The requested resource exceeds the maximum number allowed.".into()
        )
    );
    let listed = eb
        .list_targets_by_rule()
        .rule("r")
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.targets().len(), 3);
    assert_eq!(listed.targets()[0].input_path(), Some("$.detail"));
    assert!(listed.next_token().is_some());
    eb.remove_targets()
        .rule("r")
        .ids("t0")
        .ids("t1")
        .send()
        .await
        .unwrap();
    let listed = eb.list_targets_by_rule().rule("r").send().await.unwrap();
    assert_eq!(listed.targets().len(), 3);

    let (status, body) = call(
        &server,
        "PutTargets",
        json!({"Rule": "r", "Targets": [{"Id": "!@#$@!#$", "Arn": arn}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "1 validation error detected: Value '!@#$@!#$' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
    );
    let err = eb
        .put_targets()
        .rule("missing")
        .targets(target("t", &arn))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err).1,
        "Rule missing does not exist on EventBus default."
    );
    server.stop().await;
}

#[tokio::test]
async fn put_events_delivers_aws_envelope_to_matching_rules() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let (url, arn) = queue(&sqs, "orders").await;
    eb.put_rule()
        .name("orders")
        .event_pattern(r#"{"source":["order-service"],"detail-type":["OrderCreated"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("orders")
        .targets(target("q", &arn))
        .send()
        .await
        .unwrap();
    let entries = vec![
        PutEventsRequestEntry::builder()
            .source("order-service")
            .detail_type("OrderCreated")
            .detail(r#"{"orderId":"42","amount":1500}"#)
            .resources("arn:aws:s3:::bucket")
            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                1_700_000_000,
            ))
            .build(),
        entry("other", "OrderCreated", "{}"),
    ];
    let (out, messages) = put_and_receive(&eb, entries, &sqs, &url, 1).await;
    assert_eq!(out.entries().len(), 2);
    let id = out.entries()[0].event_id().unwrap().to_string();
    assert_eq!(messages.len(), 1);
    // The envelope, in AWS's member order.
    let body = messages[0].body().unwrap();
    let keys: Vec<&str> = [
        "\"version\"",
        "\"id\"",
        "\"detail-type\"",
        "\"source\"",
        "\"account\"",
        "\"time\"",
        "\"region\"",
        "\"resources\"",
        "\"detail\"",
    ]
    .to_vec();
    let positions: Vec<usize> = keys.iter().map(|k| body.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");
    let event = &bodies(&messages)[0];
    assert_eq!(
        *event,
        json!({
            "version": "0",
            "id": id,
            "detail-type": "OrderCreated",
            "source": "order-service",
            "account": "000000000000",
            "time": "2023-11-14T22:13:20Z",
            "region": "us-east-1",
            "resources": ["arn:aws:s3:::bucket"],
            "detail": {"orderId": "42", "amount": 1500}
        })
    );
    // Nothing else arrived (the second entry matched no rule).
    assert!(wait_messages(&sqs, &url, 1).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn put_events_reports_bad_entries_and_refuses_bad_requests() {
    let server = common::server().await;
    let eb = events(&server);
    let out = eb
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .detail_type("t")
                .detail("{}")
                .build(),
        )
        .entries(
            PutEventsRequestEntry::builder()
                .source("s")
                .detail("{}")
                .build(),
        )
        .entries(
            PutEventsRequestEntry::builder()
                .source("s")
                .detail_type("t")
                .build(),
        )
        .entries(entry("s", "t", "NotJSON"))
        .entries(entry("s", "t", "[]"))
        .entries(entry("s", "t", "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 5);
    let e = out.entries();
    let pair = |i: usize| {
        (
            e[i].error_code().unwrap_or_default().to_string(),
            e[i].error_message().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(
        pair(0),
        (
            "InvalidArgument".into(),
            "Parameter Source is not valid. Reason: Source is a required argument.".into()
        )
    );
    assert_eq!(
        pair(1).1,
        "Parameter DetailType is not valid. Reason: DetailType is a required argument."
    );
    assert_eq!(
        pair(2).1,
        "Parameter Detail is not valid. Reason: Detail is a required argument."
    );
    assert_eq!(
        pair(3),
        ("MalformedDetail".into(), "Detail is malformed.".into())
    );
    assert_eq!(pair(4).0, "MalformedDetail");
    assert!(e[5].event_id().is_some() && e[5].error_code().is_none());

    let mut eleven = eb.put_events();
    for _ in 0..11 {
        eleven = eleven.entries(entry("s", "t", "{}"));
    }
    let err = eleven.send().await.unwrap_err();
    let (code, message) = error_of(&err);
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("1 validation error detected: Value '[PutEventsRequestEntry(time=null, source=s, resources=null, detailType=t, detail={}, eventBusName=null"), "{message}");
    assert!(message.ends_with("' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10"));

    let big = format!(r#"{{"payload":"{}"}}"#, "p".repeat(256 * 1024));
    let err = eb
        .put_events()
        .entries(entry("s", "t", &big))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "Total size of the entries in the request is over the limit.".into()
        )
    );
    // An unknown bus fails the whole request; raw, the error's shape.
    let (status, body) = call(
        &server,
        "PutEvents",
        json!({"Entries": [{"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "nope"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["__type"]
        .as_str()
        .unwrap()
        .ends_with("ResourceNotFoundException"));
    assert_eq!(body["message"], "Event bus nope does not exist.");
    // A body that is not JSON is a client error, never a 5xx.
    let resp = common::http()
        .post(server.endpoint())
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSEvents.PutEvents")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    server.stop().await;
}

#[tokio::test]
async fn test_event_pattern_answers_as_rules_match() {
    let server = common::server().await;
    let eb = events(&server);
    let event = json!({
        "id": "1", "account": "123456789012", "source": "order-service", "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1", "detail-type": "OrderCreated", "resources": [], "detail": {"status": "NEW"}
    })
    .to_string();
    let yes = eb
        .test_event_pattern()
        .event_pattern(r#"{"source":["order-service"],"detail":{"status":["NEW"]}}"#)
        .event(&event)
        .send()
        .await
        .unwrap();
    assert!(yes.result());
    let no = eb
        .test_event_pattern()
        .event_pattern(r#"{"detail":{"status":["SHIPPED"]}}"#)
        .event(&event)
        .send()
        .await
        .unwrap();
    assert!(!no.result());
    let err = eb
        .test_event_pattern()
        .event_pattern("[1")
        .event(&event)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&err).0, "InvalidEventPatternException");
    let err = eb
        .test_event_pattern()
        .event_pattern(r#"{"source":["x"]}"#)
        .event(r#"{"source":"x"}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "Parameter Event is not valid.".into()
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn permissions_and_tags() {
    let server = common::server().await;
    let eb = events(&server);
    eb.create_event_bus().name("b").send().await.unwrap();
    eb.put_permission()
        .event_bus_name("b")
        .action("events:PutEvents")
        .principal("111111111111")
        .statement_id("s1")
        .send()
        .await
        .unwrap();
    let policy = eb.describe_event_bus().name("b").send().await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Sid"], "s1");
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111111111111:root"
    );
    let err = eb
        .remove_permission()
        .event_bus_name("b")
        .statement_id("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceNotFoundException".into(),
            "Statement with the provided id does not exist.".into()
        )
    );
    eb.remove_permission()
        .event_bus_name("b")
        .statement_id("s1")
        .send()
        .await
        .unwrap();
    assert!(eb
        .describe_event_bus()
        .name("b")
        .send()
        .await
        .unwrap()
        .policy()
        .is_none());

    let bus_arn = "arn:aws:events:us-east-1:000000000000:event-bus/b";
    let rule_arn = eb
        .put_rule()
        .name("r")
        .event_bus_name("b")
        .event_pattern(r#"{"source":["x"]}"#)
        .send()
        .await
        .unwrap()
        .rule_arn()
        .unwrap()
        .to_string();
    for arn in [bus_arn, rule_arn.as_str()] {
        eb.tag_resource()
            .resource_arn(arn)
            .tags(Tag::builder().key("team").value("orders").build().unwrap())
            .tags(Tag::builder().key("env").value("dev").build().unwrap())
            .send()
            .await
            .unwrap();
        eb.untag_resource()
            .resource_arn(arn)
            .tag_keys("env")
            .send()
            .await
            .unwrap();
        let tags = eb
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        assert_eq!(tags.tags().len(), 1, "{arn}");
        assert_eq!(tags.tags()[0].key(), "team");
    }
    let err = eb
        .list_tags_for_resource()
        .resource_arn("arn:aws:events:us-east-1:000000000000:rule/b/nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&err).1, "Rule nope does not exist on EventBus b.");
    server.stop().await;
}

#[tokio::test]
async fn unknown_operations_and_empty_bodies_are_client_errors() {
    let server = common::server().await;
    let (status, body) = call(&server, "NoSuchOperation", json!({})).await;
    assert_eq!(status, 400);
    assert!(body["__type"]
        .as_str()
        .unwrap()
        .contains("UnknownOperation"));
    let (status, body) = call(&server, "DescribeRule", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
    );
    server.stop().await;
}

/// Buses, rules, targets and archived events survive a crash (SIGKILL) and restart.
#[tokio::test]
async fn state_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!(
        "lyrebird-events-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let args = [std::ffi::OsStr::new("--data-dir"), dir.as_os_str()];
    let start = || common::process::start(&args, &[]);
    let server = start().await;
    let eb = common::events::events_as(&server.endpoint, "test", "us-east-1");
    eb.create_event_bus().name("orders").send().await.unwrap();
    eb.put_rule()
        .name("r")
        .event_bus_name("orders")
        .event_pattern(r#"{"source":["s"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("r")
        .event_bus_name("orders")
        .targets(target("t", "arn:aws:sqs:us-east-1:000000000000:q"))
        .send()
        .await
        .unwrap();
    eb.create_archive()
        .archive_name("a")
        .event_source_arn("arn:aws:events:us-east-1:000000000000:event-bus/orders")
        .send()
        .await
        .unwrap();
    eb.put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .source("s")
                .detail_type("t")
                .detail("{}")
                .event_bus_name("orders")
                .build(),
        )
        .send()
        .await
        .unwrap();
    drop(server);

    let server = start().await;
    let eb = common::events::events_as(&server.endpoint, "test", "us-east-1");
    let rule = eb
        .describe_rule()
        .name("r")
        .event_bus_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(rule.event_pattern(), Some(r#"{"source":["s"]}"#));
    let targets = eb
        .list_targets_by_rule()
        .rule("r")
        .event_bus_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(targets.targets()[0].id(), "t");
    let archive = eb
        .describe_archive()
        .archive_name("a")
        .send()
        .await
        .unwrap();
    assert_eq!(archive.event_count(), 1);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
