//! EventBridge targets (issue 19 items 4 and 6): SQS (FIFO with MessageGroupId), SNS, another
//! bus, API destinations with the connection's auth, Input/InputPath/InputTransformer, retries
//! on the service clock then the dead-letter queue with AWS's attributes, archives and replays.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::time::Duration;

use aws_sdk_eventbridge::types::{
    DeadLetterConfig, InputTransformer, PutEventsRequestEntry, ReplayDestination, RetryPolicy,
    SqsParameters, Target,
};
use common::endpoint::Endpoint;
use common::events::{bodies, error_of, events, put_and_receive, queue, wait_messages};
use serde_json::json;

fn entry(source: &str, detail: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .source(source)
        .detail_type("OrderCreated")
        .detail(detail)
        .build()
}

async fn rule(eb: &aws_sdk_eventbridge::Client, name: &str, pattern: &str, targets: Vec<Target>) {
    eb.put_rule()
        .name(name)
        .event_pattern(pattern)
        .send()
        .await
        .unwrap();
    let out = eb
        .put_targets()
        .rule(name)
        .set_targets(Some(targets))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 0);
}

fn target(id: &str, arn: &str) -> aws_sdk_eventbridge::types::builders::TargetBuilder {
    Target::builder().id(id).arn(arn)
}

#[tokio::test]
async fn fifo_queue_targets_get_the_message_group_and_dedup_on_the_event_id() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let url = common::fifo_queue(&sqs, "high.fifo", &[]).await;
    let arn = common::queue_arn(&sqs, &url).await;
    let err = eb
        .put_rule()
        .name("r")
        .event_pattern(r#"{"source":["orders"]}"#)
        .send()
        .await
        .and(Ok(()));
    err.unwrap();
    let err = eb
        .put_targets()
        .rule("r")
        .targets(target("t", &arn).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ValidationException".into(),
            "Parameter(s) SqsParameters must be specified for target: t.".into()
        )
    );
    rule(
        &eb,
        "r",
        r#"{"source":["orders"]}"#,
        vec![target("t", &arn)
            .sqs_parameters(SqsParameters::builder().message_group_id("g1").build())
            .build()
            .unwrap()],
    )
    .await;
    let entries = vec![entry("orders", r#"{"n":1}"#), entry("orders", r#"{"n":2}"#)];
    let (out, messages) = put_and_receive(&eb, entries, &sqs, &url, 2).await;
    assert_eq!(messages.len(), 2);
    let attrs = messages[0].attributes().unwrap();
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    assert_eq!(attrs[&A::MessageGroupId], "g1");
    assert_eq!(
        attrs[&A::MessageDeduplicationId],
        out.entries()[0].event_id().unwrap()
    );
    assert_eq!(bodies(&messages)[1]["detail"]["n"], 2);
    server.stop().await;
}

#[tokio::test]
async fn sns_topic_targets_publish_the_event() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let sns = common::sns(&server);
    let topic = sns
        .create_topic()
        .name("notify")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (url, queue_arn) = queue(&sqs, "subscriber").await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    rule(
        &eb,
        "status",
        r#"{"detail":{"status":[{"exists":true}]}}"#,
        vec![target("topic", &topic).build().unwrap()],
    )
    .await;
    let entries = vec![
        entry("orders", r#"{"status":"SHIPPED"}"#),
        entry("orders", r#"{"other":1}"#),
    ];
    let (_, messages) = put_and_receive(&eb, entries, &sqs, &url, 1).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(bodies(&messages)[0]["detail"]["status"], "SHIPPED");
    server.stop().await;
}

#[tokio::test]
async fn bus_targets_forward_to_another_account_and_region() {
    let server = common::server().await;
    let eb = events(&server);
    let other = common::events::events_as(&server.endpoint(), "111111111111", "eu-west-1");
    let other_sqs = common::sqs_as(&server, "111111111111", "eu-west-1");
    other
        .create_event_bus()
        .name("central")
        .send()
        .await
        .unwrap();
    let (url, arn) = queue(&other_sqs, "central-q").await;
    other
        .put_rule()
        .name("all")
        .event_bus_name("central")
        .event_pattern(r#"{"source":["orders"]}"#)
        .send()
        .await
        .unwrap();
    other
        .put_targets()
        .rule("all")
        .event_bus_name("central")
        .targets(target("q", &arn).build().unwrap())
        .send()
        .await
        .unwrap();
    rule(
        &eb,
        "forward",
        r#"{"source":["orders"]}"#,
        vec![target(
            "bus",
            "arn:aws:events:eu-west-1:111111111111:event-bus/central",
        )
        .build()
        .unwrap()],
    )
    .await;
    let entries = vec![entry("orders", r#"{"a":1}"#)];
    let (out, messages) = put_and_receive(&eb, entries, &other_sqs, &url, 1).await;
    assert_eq!(messages.len(), 1);
    let event = &bodies(&messages)[0];
    // The same event, still from the account and region that put it.
    assert_eq!(event["id"], out.entries()[0].event_id().unwrap());
    assert_eq!(event["account"], "000000000000");
    assert_eq!(event["region"], "us-east-1");
    server.stop().await;
}

#[tokio::test]
async fn input_input_path_and_input_transformer_shape_what_targets_get() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let (u1, a1) = queue(&sqs, "constant").await;
    let (u2, a2) = queue(&sqs, "path").await;
    let (u3, a3) = queue(&sqs, "transformed").await;
    let transformer = InputTransformer::builder()
        .input_paths_map("id", "$.detail.orderId")
        .input_paths_map("amount", "$.detail.amount")
        .input_template(r#"{"order": <id>, "total": <amount>}"#)
        .build()
        .unwrap();
    rule(
        &eb,
        "shape",
        r#"{"source":["orders"]}"#,
        vec![
            target("c", &a1).input(r#"{"fixed":true}"#).build().unwrap(),
            target("p", &a2).input_path("$.detail").build().unwrap(),
            target("t", &a3)
                .input_transformer(transformer)
                .build()
                .unwrap(),
        ],
    )
    .await;
    let entries = vec![entry("orders", r#"{"orderId":"o-1","amount":1500}"#)];
    let (_, fixed) = put_and_receive(&eb, entries, &sqs, &u1, 1).await;
    assert_eq!(bodies(&fixed), [json!({"fixed": true})]);
    assert_eq!(
        bodies(&wait_messages(&sqs, &u2, 1).await),
        [json!({"orderId": "o-1", "amount": 1500})]
    );
    assert_eq!(
        bodies(&wait_messages(&sqs, &u3, 1).await),
        [json!({"order": "o-1", "total": 1500})]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_missing_queue_goes_to_the_dead_letter_queue_and_blocks_no_other_target() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let (dlq_url, dlq_arn) = queue(&sqs, "dlq").await;
    let (ok_url, ok_arn) = queue(&sqs, "ok").await;
    let missing = "arn:aws:sqs:us-east-1:000000000000:does-not-exist";
    rule(
        &eb,
        "r",
        r#"{"source":["orders"]}"#,
        vec![
            target("missing", missing)
                .dead_letter_config(DeadLetterConfig::builder().arn(&dlq_arn).build())
                .build()
                .unwrap(),
            target("ok", &ok_arn).build().unwrap(),
        ],
    )
    .await;
    let entries = vec![entry("orders", r#"{"a":1}"#)];
    let (out, delivered) = put_and_receive(&eb, entries, &sqs, &ok_url, 1).await;
    assert_eq!(delivered.len(), 1);
    let dead = wait_messages(&sqs, &dlq_url, 1).await;
    assert_eq!(dead.len(), 1);
    let attrs = dead[0].message_attributes().unwrap();
    let attr = |k: &str| attrs[k].string_value().unwrap().to_string();
    assert_eq!(attr("ERROR_CODE"), "NO_RESOURCE");
    assert_eq!(
        attr("RULE_ARN"),
        "arn:aws:events:us-east-1:000000000000:rule/r"
    );
    assert_eq!(attr("TARGET_ARN"), missing);
    assert!(!attr("ERROR_MESSAGE").is_empty());
    assert_eq!(bodies(&dead)[0]["id"], out.entries()[0].event_id().unwrap());
    server.stop().await;
}

async fn api_destination(eb: &aws_sdk_eventbridge::Client, url: &str) -> String {
    use aws_sdk_eventbridge::types::{
        ApiDestinationHttpMethod, ConnectionAuthorizationType,
        CreateConnectionApiKeyAuthRequestParameters, CreateConnectionAuthRequestParameters,
    };
    let connection = eb
        .create_connection()
        .name("conn")
        .authorization_type(ConnectionAuthorizationType::ApiKey)
        .auth_parameters(
            CreateConnectionAuthRequestParameters::builder()
                .api_key_auth_parameters(
                    CreateConnectionApiKeyAuthRequestParameters::builder()
                        .api_key_name("x-api-key")
                        .api_key_value("s3cret")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let described = eb.describe_connection().name("conn").send().await.unwrap();
    // Describe never shows the secret.
    let auth = described.auth_parameters().unwrap();
    assert_eq!(
        auth.api_key_auth_parameters().unwrap().api_key_name(),
        Some("x-api-key")
    );
    eb.create_api_destination()
        .name("hook")
        .connection_arn(connection.connection_arn().unwrap())
        .invocation_endpoint(url)
        .http_method(ApiDestinationHttpMethod::Post)
        .send()
        .await
        .unwrap()
        .api_destination_arn()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn api_destinations_get_the_event_with_the_connection_auth() {
    let server = common::server().await;
    let eb = events(&server);
    let hook = Endpoint::ok().await;
    let arn = api_destination(&eb, &format!("{}/hook/*", hook.base)).await;
    rule(
        &eb,
        "hook",
        r#"{"source":["orders"]}"#,
        vec![target("h", &arn)
            .http_parameters(
                aws_sdk_eventbridge::types::HttpParameters::builder()
                    .path_parameter_values("orders")
                    .header_parameters("x-team", "blue")
                    .build(),
            )
            .build()
            .unwrap()],
    )
    .await;
    eb.put_events()
        .entries(entry("orders", r#"{"a":1}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.wait_for(1).await, 1);
    let request = hook.get(0);
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/hook/orders")
    );
    assert_eq!(request.header("x-api-key"), Some("s3cret"));
    assert_eq!(request.header("x-team"), Some("blue"));
    assert!(
        request.body.contains("\"source\":\"orders\""),
        "{request:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn failing_api_destinations_are_retried_on_the_clock_then_dead_lettered() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let (dlq_url, dlq_arn) = queue(&sqs, "dlq").await;
    let hook = Endpoint::answering(vec![500]).await;
    let arn = api_destination(&eb, &format!("{}/hook/*", hook.base)).await;
    rule(
        &eb,
        "hook",
        r#"{"source":["orders"]}"#,
        vec![target("h", &arn)
            .http_parameters(
                aws_sdk_eventbridge::types::HttpParameters::builder()
                    .path_parameter_values("x")
                    .build(),
            )
            .retry_policy(RetryPolicy::builder().maximum_retry_attempts(2).build())
            .dead_letter_config(DeadLetterConfig::builder().arn(&dlq_arn).build())
            .build()
            .unwrap()],
    )
    .await;
    eb.put_events()
        .entries(entry("orders", r#"{"a":1}"#))
        .send()
        .await
        .unwrap();
    // Each retry waits on the service clock: move it until the attempts are spent.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while hook.count() < 3 && std::time::Instant::now() < deadline {
        common::advance_clock(&server, 10.0).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead = wait_messages(&sqs, &dlq_url, 1).await;
    assert_eq!(hook.count(), 3, "one attempt and two retries");
    assert_eq!(dead.len(), 1);
    let attrs = dead[0].message_attributes().unwrap();
    let attr = |k: &str| attrs[k].string_value().unwrap().to_string();
    assert_eq!(attr("ERROR_CODE"), "ERROR_FROM_TARGET");
    assert_eq!(attr("EXHAUSTED_RETRY_CONDITION"), "MaximumRetryAttempts");
    assert_eq!(attr("RETRY_ATTEMPTS"), "2");
    assert_eq!(attr("TARGET_ARN"), arn);
    server.stop().await;
}

#[tokio::test]
async fn archives_keep_matching_events_and_replays_resend_them() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    eb.create_event_bus().name("orders").send().await.unwrap();
    let bus_arn = "arn:aws:events:us-east-1:000000000000:event-bus/orders";
    let archive = eb
        .create_archive()
        .archive_name("all-orders")
        .event_source_arn(bus_arn)
        .event_pattern(r#"{"source":["orders"]}"#)
        .retention_days(1)
        .send()
        .await
        .unwrap();
    let archive_arn = archive.archive_arn().unwrap().to_string();
    assert_eq!(
        archive_arn,
        "arn:aws:events:us-east-1:000000000000:archive/all-orders"
    );
    let err = eb
        .create_archive()
        .archive_name("all-orders")
        .event_source_arn(bus_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceAlreadyExistsException".into(),
            "Archive all-orders already exists.".into()
        )
    );
    let start = aws_sdk_eventbridge::primitives::DateTime::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - 60_000,
    );
    let put = |source: &'static str| {
        eb.put_events().entries(
            PutEventsRequestEntry::builder()
                .source(source)
                .detail_type("OrderCreated")
                .detail(r#"{"a":1}"#)
                .event_bus_name("orders")
                .build(),
        )
    };
    put("orders").send().await.unwrap();
    put("orders").send().await.unwrap();
    put("billing").send().await.unwrap();
    let described = eb
        .describe_archive()
        .archive_name("all-orders")
        .send()
        .await
        .unwrap();
    assert_eq!(described.event_count(), 2);
    assert!(described.size_bytes() > 0);

    // A rule added afterwards sees the replayed events, marked with the replay's name.
    let (url, arn) = queue(&sqs, "replayed").await;
    eb.put_rule()
        .name("r")
        .event_bus_name("orders")
        .event_pattern(r#"{"source":["orders"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("r")
        .event_bus_name("orders")
        .targets(target("q", &arn).build().unwrap())
        .send()
        .await
        .unwrap();
    let end = aws_sdk_eventbridge::primitives::DateTime::from_millis(
        start.to_millis().unwrap() + 3_600_000,
    );
    let replay = eb
        .start_replay()
        .replay_name("again")
        .event_source_arn(&archive_arn)
        .event_start_time(start)
        .event_end_time(end)
        .destination(ReplayDestination::builder().arn(bus_arn).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.state().map(|s| s.as_str()), Some("STARTING"));
    let messages = wait_messages(&sqs, &url, 2).await;
    assert_eq!(messages.len(), 2);
    let body = messages[0].body().unwrap();
    assert!(
        body.find("\"region\"").unwrap() < body.find("\"replay-name\"").unwrap()
            && body.find("\"replay-name\"").unwrap() < body.find("\"resources\"").unwrap(),
        "{body}"
    );
    assert_eq!(bodies(&messages)[0]["replay-name"], "again");
    let described = eb
        .describe_replay()
        .replay_name("again")
        .send()
        .await
        .unwrap();
    assert_eq!(described.state().map(|s| s.as_str()), Some("COMPLETED"));
    // Replayed events are not archived again.
    let described = eb
        .describe_archive()
        .archive_name("all-orders")
        .send()
        .await
        .unwrap();
    assert_eq!(described.event_count(), 2);

    let err = eb
        .start_replay()
        .replay_name("bad")
        .event_source_arn(&archive_arn)
        .event_start_time(end)
        .event_end_time(start)
        .destination(ReplayDestination::builder().arn(bus_arn).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err).1,
        "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime."
    );
    let err = eb
        .describe_replay()
        .replay_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_of(&err),
        (
            "ResourceNotFoundException".into(),
            "Replay nope does not exist.".into()
        )
    );
    let err = eb
        .describe_archive()
        .archive_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_of(&err).1, "Archive nope does not exist.");
    server.stop().await;
}

#[tokio::test]
async fn lambda_targets_are_invoked_asynchronously_with_the_event() {
    let server = common::server().await;
    let eb = events(&server);
    let client = lambda::client(&server);
    let function = lambda::create(
        &client,
        "on-order",
        "nodejs20.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async (e) => ({ got: e.detail });",
        )],
    )
    .await;
    rule(
        &eb,
        "to-lambda",
        r#"{"source":["orders"]}"#,
        vec![target("f", &function).build().unwrap()],
    )
    .await;
    let out = eb
        .put_events()
        .entries(entry("orders", r#"{"orderId":"o-9"}"#))
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen.is_empty() && std::time::Instant::now() < deadline {
        seen = lambda::invocations(&server, Some("on-order")).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["invocation_type"], "Event");
    assert_eq!(seen[0]["source"], "aws:events");
    assert_eq!(
        seen[0]["source_arn"],
        "arn:aws:events:us-east-1:000000000000:rule/to-lambda"
    );
    assert_eq!(seen[0]["outcome"], "success", "{seen:?}");
    assert!(out.entries()[0].event_id().is_some());
    server.stop().await;
}

#[tokio::test]
async fn a_missing_function_is_dead_lettered() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let (dlq_url, dlq_arn) = queue(&sqs, "dlq").await;
    let missing = "arn:aws:lambda:us-east-1:000000000000:function:nope";
    rule(
        &eb,
        "r",
        r#"{"source":["orders"]}"#,
        vec![target("f", missing)
            .dead_letter_config(DeadLetterConfig::builder().arn(&dlq_arn).build())
            .build()
            .unwrap()],
    )
    .await;
    let (_, dead) = put_and_receive(&eb, vec![entry("orders", "{}")], &sqs, &dlq_url, 1).await;
    assert_eq!(dead.len(), 1);
    let attrs = dead[0].message_attributes().unwrap();
    assert_eq!(attrs["ERROR_CODE"].string_value(), Some("NO_RESOURCE"));
    assert_eq!(attrs["TARGET_ARN"].string_value(), Some(missing));
    server.stop().await;
}
