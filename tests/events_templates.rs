//! EventBridge from templates (issue 19 items 7 and 8): examples/event-routing/template.yaml
//! provisions the `orders` bus, its rules with targets (SqsParameters, InputTransformer,
//! RetryPolicy, DeadLetterConfig) and archive, which then route the seeds' events; applying
//! it again changes nothing.

mod common;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use common::events::{bodies, events, wait_messages};
use lyrebird::Config;
use serde_json::json;

const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/event-routing/template.yaml"
);

fn order(amount: f64, status: &str, id: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .source("order-service")
        .detail_type("OrderCreated")
        .detail(json!({"orderId": id, "amount": amount, "status": status}).to_string())
        .event_bus_name("orders")
        .build()
}

#[tokio::test]
async fn the_event_routing_example_provisions_and_routes() {
    let server = lyrebird::spawn(Config {
        port: 0,
        test_endpoints: true,
        init: vec![TEMPLATE.into()],
        ..Config::default()
    })
    .await
    .unwrap();
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let rule = eb
        .describe_rule()
        .name("high-value-orders")
        .event_bus_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(
        rule.arn(),
        Some("arn:aws:events:us-east-1:000000000000:rule/orders/high-value-orders")
    );
    let pattern: serde_json::Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
    assert_eq!(
        pattern["detail"]["amount"],
        json!([{"numeric": [">", 1000]}])
    );
    let targets = eb
        .list_targets_by_rule()
        .rule("high-value-orders")
        .event_bus_name("orders")
        .send()
        .await
        .unwrap();
    let t = &targets.targets()[0];
    assert_eq!(
        t.sqs_parameters().unwrap().message_group_id(),
        Some("high-value")
    );
    assert_eq!(t.retry_policy().unwrap().maximum_retry_attempts(), Some(3));

    eb.put_events()
        .entries(order(1500.0, "pending", "o-1"))
        .entries(order(50.0, "processing", "o-2"))
        .entries(
            PutEventsRequestEntry::builder()
                .source("payment-service")
                .detail_type("PaymentSettled")
                .detail(r#"{"orderId":"o-1"}"#)
                .event_bus_name("orders")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let url = |name: &str| format!("{}/000000000000/{name}", server.endpoint());
    let high = wait_messages(&sqs, &url("high-value-orders.fifo"), 1).await;
    assert_eq!(high.len(), 1);
    assert_eq!(bodies(&high)[0]["detail"]["orderId"], "o-1");
    let notified = wait_messages(&sqs, &url("order-notifications"), 2).await;
    let mut notified = bodies(&notified);
    notified.sort_by_key(|b| b["orderId"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        notified,
        [
            json!({"orderId": "o-1", "status": "pending"}),
            json!({"orderId": "o-2", "status": "processing"})
        ]
    );
    let archive = eb
        .describe_archive()
        .archive_name("orders-archive")
        .send()
        .await
        .unwrap();
    assert_eq!(archive.event_count(), 3);
    assert!(wait_messages(&sqs, &url("event-routing-dlq"), 1)
        .await
        .is_empty());

    // Applying the template again changes nothing.
    let app = &server.app;
    let config = Config {
        init: vec![TEMPLATE.into()],
        ..app.config.clone()
    };
    let report = lyrebird::template::provision_report(
        &config,
        &app.sqs,
        &app.sns,
        &app.lambda,
        &app.events,
        &app.default_host,
    )
    .unwrap();
    let summary = report.stacks[0].summary();
    assert!(summary.contains("none changed"), "{summary}");
    server.stop().await;
}
