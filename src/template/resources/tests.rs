//! Unit tests of resource provisioning: property reading and blaming (`props.rs`), generated
//! names (`provisioner.rs`), and converging queues, topics and subscriptions against in-memory
//! services (`sqs.rs`, `sns.rs`).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::props::{blame, same, Props, Type};
use super::sns::delivery_status_logging;
use super::{Kind, Outcome, Physical, Provisioner};
use crate::clock::Clock;
use crate::context::RequestContext;
use crate::error::AwsError;
use crate::sns::model as sns_model;
use crate::sns::{SnsLimits, SnsService};
use crate::sqs::model as sqs_model;
use crate::sqs::{SqsOptions, SqsService};
use crate::store::memory::MemoryStore;
use crate::store::SharedStore;
use crate::template::parse::{self, Map, Value};

/// A mapping written as JSON.
fn map(json: &str) -> Map {
    match parse::json(json).expect("test JSON parses") {
        Value::Map(m) => m,
        other => panic!("not a mapping: {other:?}"),
    }
}

fn props<'a>(kind: Kind, map: &'a Map) -> Props<'a> {
    Props::new(kind.properties(), "AWS::Test", map).unwrap_or_else(|f| panic!("rejected: {f:?}"))
}

/// The property a failure blames and its message.
fn failure<T>(result: Result<T, super::Failure>) -> (String, String) {
    let Err(f) = result else {
        panic!("expected a failure")
    };
    (f.property.unwrap_or_default(), f.message)
}

// --- props.rs ---

#[test]
fn kinds_are_known_by_type_name() {
    assert_eq!(Kind::of("AWS::SQS::Queue"), Some(Kind::Queue));
    assert_eq!(Kind::of("AWS::SNS::Subscription"), Some(Kind::Subscription));
    assert_eq!(Kind::of("AWS::Lambda::Function"), Some(Kind::Function));
    assert_eq!(Kind::of("AWS::Serverless::Function"), Some(Kind::Function));
    assert_eq!(Kind::of("AWS::IAM::Role"), None);
    assert_eq!(Kind::Topic.attributes(), &["TopicArn", "TopicName"]);
}

#[test]
fn unknown_properties_are_rejected_and_blamed() {
    let m = map(r#"{"QueueName": "q", "Colour": "blue"}"#);
    let (property, message) = failure(Props::new(Kind::Queue.properties(), "AWS::SQS::Queue", &m));
    assert_eq!(property, "Colour");
    assert_eq!(message, "AWS::SQS::Queue has no property Colour");
}

#[test]
fn scalar_properties_become_api_text() {
    let m = map(
        r#"{"DelaySeconds": " 30 ", "FifoQueue": "TRUE", "RedrivePolicy": {"maxReceiveCount": 3},
            "RedriveAllowPolicy": "{\"redrivePermission\":\"allowAll\"}", "QueueName": 7}"#,
    );
    let p = props(Kind::Queue, &m);
    assert_eq!(
        p.text("DelaySeconds", Type::Integer).unwrap().as_deref(),
        Some("30")
    );
    assert_eq!(
        p.text("FifoQueue", Type::Boolean).unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(
        p.text("RedrivePolicy", Type::Json).unwrap().as_deref(),
        Some(r#"{"maxReceiveCount":3}"#)
    );
    assert_eq!(
        p.text("RedriveAllowPolicy", Type::Json).unwrap().as_deref(),
        Some(r#"{"redrivePermission":"allowAll"}"#)
    );
    assert_eq!(
        p.text("QueueName", Type::String).unwrap().as_deref(),
        Some("7")
    );
    assert_eq!(p.text("VisibilityTimeout", Type::Integer).unwrap(), None);
}

#[test]
fn wrongly_typed_properties_are_blamed() {
    let m = map(
        r#"{"DelaySeconds": "soon", "FifoQueue": "yes", "RedrivePolicy": [1], "QueueName": null}"#,
    );
    let p = props(Kind::Queue, &m);
    assert_eq!(
        failure(p.text("DelaySeconds", Type::Integer)),
        (
            "DelaySeconds".into(),
            "must be an integer, not \"soon\"".into()
        )
    );
    assert_eq!(
        failure(p.text("FifoQueue", Type::Boolean)),
        (
            "FifoQueue".into(),
            "must be true or false, not \"yes\"".into()
        )
    );
    assert_eq!(
        failure(p.text("RedrivePolicy", Type::Json)).0,
        "RedrivePolicy"
    );
    // `null` is the same as leaving the property out.
    assert_eq!(p.text("QueueName", Type::String).unwrap(), None);
    assert_eq!(failure(p.required("QueueName")).1, "is required");
}

#[test]
fn tags_and_string_lists_are_read() {
    let m = map(r#"{"Tags": [{"Key": "team", "Value": "core"}, {"Key": "n", "Value": 1}]}"#);
    assert_eq!(
        props(Kind::Queue, &m).tags().unwrap(),
        BTreeMap::from([("n".into(), "1".into()), ("team".into(), "core".into())])
    );
    let m = map(r#"{"Queues": ["a", "b"]}"#);
    assert_eq!(
        props(Kind::QueuePolicy, &m).strings("Queues").unwrap(),
        ["a", "b"]
    );
    let m = map(r#"{"Tags": {"team": "core"}}"#);
    assert_eq!(
        failure(props(Kind::Queue, &m).tags()),
        ("Tags".into(), "must be a list of {Key, Value}".into())
    );
}

#[test]
fn attribute_tables_skip_structured_and_named_properties() {
    let m = map(r#"{"QueueName": "q", "DelaySeconds": 5, "Tags": [], "FifoQueue": false}"#);
    let attributes = props(Kind::Queue, &m)
        .attributes(super::sqs::QUEUE_PROPERTIES, &["QueueName"])
        .unwrap();
    assert_eq!(
        attributes,
        BTreeMap::from([
            ("DelaySeconds".into(), "5".into()),
            ("FifoQueue".into(), "false".into()),
        ])
    );
}

#[test]
fn json_documents_compare_as_json() {
    assert!(same(r#"{"a": 1, "b": [2]}"#, r#"{"b":[2],"a":1}"#));
    assert!(!same(r#"{"a": 1}"#, r#"{"a": 2}"#));
    // Only objects compare as JSON; other text compares as text.
    assert!(!same("1", "1.0"));
    assert!(same("", ""));
}

#[test]
fn api_errors_are_blamed_on_the_property_they_name() {
    let error = AwsError::invalid_parameter_value("Invalid value for the parameter DelaySeconds.");
    let f = blame(
        "CreateQueue",
        error,
        &["MaximumMessageSize", "DelaySeconds"],
        "QueueName",
    );
    assert_eq!(f.property.as_deref(), Some("DelaySeconds"));
    assert_eq!(
        f.message,
        "CreateQueue failed: InvalidParameterValue: Invalid value for the parameter DelaySeconds."
    );
    let error = AwsError::invalid_parameter_value("something else");
    let f = blame("CreateQueue", error, &["DelaySeconds"], "QueueName");
    assert_eq!(f.property.as_deref(), Some("QueueName"));
}

#[test]
fn delivery_status_logging_sets_prefixed_attributes() {
    let m = map(r#"{"DeliveryStatusLogging": [
            {"Protocol": "SQS", "SuccessFeedbackRoleArn": "arn:ok", "SuccessFeedbackSampleRate": 50},
            {"Protocol": "http/s", "FailureFeedbackRoleArn": "arn:fail"}]}"#);
    let attributes = delivery_status_logging(&props(Kind::Topic, &m)).unwrap();
    assert_eq!(
        attributes,
        BTreeMap::from([
            ("HTTPFailureFeedbackRoleArn".into(), "arn:fail".into()),
            ("SQSSuccessFeedbackRoleArn".into(), "arn:ok".into()),
            ("SQSSuccessFeedbackSampleRate".into(), "50".into()),
        ])
    );
    let m = map(r#"{"DeliveryStatusLogging": [{"Protocol": "email"}]}"#);
    assert_eq!(
        failure(delivery_status_logging(&props(Kind::Topic, &m))).1,
        "Protocol \"email\" is not one of http/s, sqs, lambda, firehose, application"
    );
    let m = map(r#"{"DeliveryStatusLogging": [{"Protocol": "sqs", "Colour": "x"}]}"#);
    assert_eq!(
        failure(delivery_status_logging(&props(Kind::Topic, &m))).1,
        "LoggingConfig has no property Colour"
    );
}

// --- provisioning against in-memory services ---

struct Services {
    sqs: Arc<SqsService>,
    sns: Arc<SnsService>,
    lambda: Arc<crate::lambda::LambdaService>,
    events: crate::events::EventsService,
}

fn services() -> Services {
    let clock = Arc::new(Clock::new());
    let store: SharedStore = Arc::new(MemoryStore);
    let sqs = Arc::new(SqsService::new(
        clock.clone(),
        SqsOptions::default(),
        store.clone(),
    ));
    let sns = Arc::new(SnsService::new(
        clock.clone(),
        sqs.clone(),
        store.clone(),
        SnsLimits::default(),
    ));
    let lambda = crate::lambda::LambdaService::new(
        clock.clone(),
        store.clone(),
        crate::lambda::LambdaOptions {
            default_concurrency: 1,
            async_backlog: 1,
            commands: Default::default(),
            code_root: std::env::temp_dir().join("lyrebird-unit-code"),
            endpoint: "http://127.0.0.1:4566".into(),
            handler_priority: Default::default(),
            promotion: Default::default(),
            init_timeout: std::time::Duration::from_millis(crate::lambda::DEFAULT_INIT_TIMEOUT_MS),
            handler_keys: None,
        },
    );
    let events =
        crate::events::EventsService::new(clock, sqs.clone(), sns.clone(), lambda.clone(), store);
    Services {
        sqs,
        sns,
        lambda,
        events,
    }
}

fn provisioner<'a>(services: &'a Services, stack: &str) -> Provisioner<'a> {
    Provisioner {
        sqs: &services.sqs,
        sns: &services.sns,
        lambda: &services.lambda,
        event_sources: None,
        events: &services.events,
        template_dir: ".".into(),
        code_root: services.lambda.code_root().to_path_buf(),
        ctx: RequestContext::internal("000000000000", "us-east-1", "localhost:4566"),
        stack: stack.to_string(),
        outcome: Cell::new(Outcome::Unchanged),
        generated: Default::default(),
    }
}

fn apply(p: &Provisioner, kind: Kind, id: &str, json: &str) -> (Physical, Outcome) {
    p.apply(kind, "AWS::Test", id, &map(json))
        .unwrap_or_else(|f| panic!("{id}: {f:?}"))
}

#[test]
fn generated_names_are_stable_bounded_and_clean() {
    let s = services();
    let p = provisioner(&s, "my stack");
    let name = p.generated_name("Orders", 80, true);
    assert_eq!(name, p.generated_name("Orders", 80, true));
    assert!(name.starts_with("my-stack-Orders-"), "{name}");
    assert!(name.ends_with(".fifo"), "{name}");
    assert_ne!(
        name,
        provisioner(&s, "other").generated_name("Orders", 80, true)
    );
    let long = p.generated_name(&"x".repeat(300), 80, false);
    assert_eq!(long.len(), 80);
}

#[test]
fn queues_converge_to_the_template() {
    let s = services();
    let p = provisioner(&s, "stack");
    let template =
        r#"{"QueueName": "orders", "VisibilityTimeout": 60, "Tags": [{"Key": "a", "Value": "1"}]}"#;
    let (physical, outcome) = apply(&p, Kind::Queue, "Orders", template);
    assert_eq!(outcome, Outcome::Created);
    assert_eq!(
        physical.attributes["Arn"],
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );
    assert_eq!(
        apply(&p, Kind::Queue, "Orders", template).1,
        Outcome::Unchanged
    );

    // Dropping a property resets its attribute; a changed tag is re-tagged.
    let changed = r#"{"QueueName": "orders", "Tags": [{"Key": "b", "Value": "2"}]}"#;
    assert_eq!(
        apply(&p, Kind::Queue, "Orders", changed).1,
        Outcome::Updated
    );
    let url = physical.reference;
    let attributes = s
        .sqs
        .get_queue_attributes(
            &p.ctx,
            sqs_model::GetQueueAttributesInput {
                queue_url: Some(url.clone()),
                attribute_names: Some(vec!["VisibilityTimeout".into()]),
            },
        )
        .unwrap()
        .attributes;
    assert_eq!(attributes.first().map(|(_, v)| v.as_str()), Some("30"));
    let tags = s
        .sqs
        .list_queue_tags(
            &p.ctx,
            sqs_model::QueueUrlInput {
                queue_url: Some(url),
            },
        )
        .unwrap()
        .tags;
    assert_eq!(tags, BTreeMap::from([("b".into(), "2".into())]));

    // A queue of the other type would need replacing.
    let (property, _) = failure(p.apply(
        Kind::Queue,
        "AWS::SQS::Queue",
        "Orders",
        &map(r#"{"QueueName": "orders", "FifoQueue": true}"#),
    ));
    assert_eq!(property, "FifoQueue");
}

#[test]
fn topics_and_subscriptions_converge_to_the_template() {
    let s = services();
    let p = provisioner(&s, "stack");
    let (queue, _) = apply(&p, Kind::Queue, "Q", r#"{"QueueName": "inbox"}"#);
    let topic_template = r#"{"TopicName": "events", "DisplayName": "Events"}"#;
    let (topic, outcome) = apply(&p, Kind::Topic, "T", topic_template);
    assert_eq!(outcome, Outcome::Created);
    let topic_arn = topic.reference.clone();
    assert_eq!(topic_arn, "arn:aws:sns:us-east-1:000000000000:events");
    assert_eq!(
        apply(&p, Kind::Topic, "T", topic_template).1,
        Outcome::Unchanged
    );

    let subscription = format!(
        r#"{{"TopicArn": "{topic_arn}", "Protocol": "sqs", "Endpoint": "{}",
            "RawMessageDelivery": true}}"#,
        queue.attributes["Arn"]
    );
    let (sub, outcome) = apply(&p, Kind::Subscription, "S", &subscription);
    assert_eq!(outcome, Outcome::Created);
    assert_eq!(
        apply(&p, Kind::Subscription, "S", &subscription).1,
        Outcome::Unchanged
    );
    let attributes = s
        .sns
        .get_subscription_attributes(
            &p.ctx,
            sns_model::SubscriptionArnInput {
                subscription_arn: Some(sub.reference),
            },
        )
        .unwrap()
        .attributes;
    assert_eq!(attributes["RawMessageDelivery"], "true");

    // Dropping DisplayName resets it.
    assert_eq!(
        apply(&p, Kind::Topic, "T", r#"{"TopicName": "events"}"#).1,
        Outcome::Updated
    );
    let attributes = s
        .sns
        .get_topic_attributes(
            &p.ctx,
            sns_model::TopicArnInput {
                topic_arn: Some(topic_arn),
            },
        )
        .unwrap()
        .attributes;
    assert_eq!(
        attributes
            .get("DisplayName")
            .map(String::as_str)
            .unwrap_or(""),
        ""
    );
}

#[test]
fn sam_generated_ids_follow_sams_names() {
    let ids = |json: &str| -> Vec<String> {
        super::sam_generated("Fn", &map(json))
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    };
    assert_eq!(
        ids(r#"{"Events": {"Q": {"Type": "SQS"}, "T": {"Type": "SNS"}}}"#),
        ["FnRole", "FnQ", "FnT", "FnTPermission"]
    );
    // A given Role: no generated role.
    assert_eq!(
        ids(r#"{"Role": "arn", "Events": {}}"#),
        Vec::<String>::new()
    );
    let through_queue = ["FnT", "FnTQueue", "FnTQueuePolicy", "FnTEventSourceMapping"];
    for on in ["true", r#""true""#, "{}"] {
        let json = format!(
            r#"{{"Role": "r", "Events": {{"T": {{"Type": "SNS", "Properties": {{"SqsSubscription": {on}}}}}}}}}"#
        );
        assert_eq!(ids(&json), through_queue, "{on}");
    }
    assert_eq!(
        ids(
            r#"{"Role": "r", "Events": {"T": {"Type": "SNS", "Properties": {"SqsSubscription": {"QueueArn": "a", "QueueUrl": "u", "QueuePolicyLogicalId": "P"}}}}}"#
        ),
        ["FnT", "P", "FnTEventSourceMapping"]
    );
    assert_eq!(
        ids(
            r#"{"Role": "r", "Events": {"T": {"Type": "SNS", "Properties": {"SqsSubscription": false}}}}"#
        ),
        ["FnT", "FnTPermission"]
    );
}
