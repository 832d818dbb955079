//! Provisioning from CloudFormation/SAM templates (`--init`): the seed's SAM template as
//! published, parameters, conditions, both intrinsic forms, idempotent re-application, outputs,
//! and the errors a bad template stops start-up with.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use common::*;
use lyrebird::{Config, RunningServer};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/seed-000-template.yaml"
);
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:000000000000:order-events-dev";

/// A directory of its own under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lyrebird-templates-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(init: Vec<PathBuf>, params: &[&str]) -> Config {
    Config {
        port: 0,
        test_endpoints: true,
        init,
        params: params.iter().map(|p| p.to_string()).collect(),
        ..Config::default()
    }
}

async fn start(init: Vec<PathBuf>, params: &[&str]) -> RunningServer {
    let server = lyrebird::spawn(config(init, params))
        .await
        .expect("server starts with the template");
    pause_event_sources(&server.endpoint()).await;
    server
}

/// Disables every event source mapping the templates started: the seed template's functions
/// (whose handlers tests/fixtures does not have) would otherwise consume the queues these tests
/// inspect. (examples/order-pipeline, which has its handlers, runs them.)
async fn pause_event_sources(endpoint: &str) {
    let http = reqwest::Client::new();
    let url = format!("{endpoint}/2015-03-31/event-source-mappings/");
    let listed: serde_json::Value =
        serde_json::from_slice(&http.get(&url).send().await.unwrap().bytes().await.unwrap())
            .unwrap();
    for mapping in listed["EventSourceMappings"].as_array().unwrap() {
        let uuid = mapping["UUID"].as_str().unwrap();
        let answer = http
            .put(format!("{url}{uuid}"))
            .body(r#"{"Enabled":false}"#)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
}

/// The start-up error a template causes.
async fn start_error(text: &str, params: &[&str]) -> String {
    let dir = TempDir::new();
    let path = dir.write("bad.yaml", text);
    match lyrebird::spawn(config(vec![path], params)).await {
        Ok(_) => panic!("start-up should fail for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Applies the templates again to a running server's state, as a restart would.
fn reapply(server: &RunningServer, init: Vec<PathBuf>, params: &[&str]) {
    reapply_report(server, init, params);
}

/// `reapply`, with what it changed.
fn reapply_report(
    server: &RunningServer,
    init: Vec<PathBuf>,
    params: &[&str],
) -> lyrebird::template::Report {
    let app = &server.app;
    let config = Config {
        init,
        params: params.iter().map(|p| p.to_string()).collect(),
        ..app.config.clone()
    };
    lyrebird::template::provision_report(
        &config,
        &app.sqs,
        &app.sns,
        &app.lambda,
        &app.events,
        &app.default_host,
    )
    .expect("template re-applies")
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("queue {name}: {e:?}"))
        .queue_url
        .unwrap()
}

async fn queue_attributes(sqs: &aws_sdk_sqs::Client, name: &str) -> HashMap<String, String> {
    let url = queue_url(sqs, name).await;
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Subscriptions of a topic: endpoint → attributes.
async fn subscriptions(
    sns: &aws_sdk_sns::Client,
    topic: &str,
) -> HashMap<String, HashMap<String, String>> {
    let list = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .send()
        .await
        .unwrap()
        .subscriptions
        .unwrap_or_default();
    let mut out = HashMap::new();
    for sub in list {
        let attributes = sns
            .get_subscription_attributes()
            .subscription_arn(sub.subscription_arn().unwrap())
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        out.insert(sub.endpoint().unwrap().to_string(), attributes);
    }
    out
}

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:000000000000:{name}")
}

fn priority(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap()
}

fn seed_text() -> String {
    std::fs::read_to_string(SEED).unwrap()
}

#[tokio::test]
async fn seed_template_creates_topic_queues_and_filtered_subscriptions() {
    let server = start(vec![SEED.into()], &[]).await;
    let (sqs, sns) = (sqs(&server), sns(&server));

    let mut names: Vec<String> = sqs
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default()
        .iter()
        .map(|u| u.rsplit('/').next().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "critical-orders-dev",
            "critical-orders-dlq-dev",
            "standard-orders-dev",
            "standard-orders-dlq-dev"
        ]
    );

    let critical = queue_attributes(&sqs, "critical-orders-dev").await;
    assert_eq!(critical["VisibilityTimeout"], "300");
    assert_eq!(critical["MessageRetentionPeriod"], "1209600");
    assert_eq!(
        json(&critical["RedrivePolicy"]),
        serde_json::json!({"deadLetterTargetArn": queue_arn("critical-orders-dlq-dev"), "maxReceiveCount": 3})
    );
    let standard = queue_attributes(&sqs, "standard-orders-dev").await;
    assert_eq!(standard["VisibilityTimeout"], "300");
    assert_eq!(standard["MessageRetentionPeriod"], "345600", "the default");
    assert_eq!(
        json(&standard["RedrivePolicy"]),
        serde_json::json!({"deadLetterTargetArn": queue_arn("standard-orders-dlq-dev"), "maxReceiveCount": 5})
    );
    for dlq in ["critical-orders-dlq-dev", "standard-orders-dlq-dev"] {
        let attributes = queue_attributes(&sqs, dlq).await;
        assert_eq!(attributes["MessageRetentionPeriod"], "1209600");
        assert!(!attributes.contains_key("RedrivePolicy"));
    }

    let topics = sns.list_topics().send().await.unwrap().topics.unwrap();
    assert_eq!(topics.len(), 1);
    assert_eq!(topics[0].topic_arn(), Some(TOPIC_ARN));
    let topic = sns
        .get_topic_attributes()
        .topic_arn(TOPIC_ARN)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(topic["DisplayName"], "Order Processing Events");

    let subs = subscriptions(&sns, TOPIC_ARN).await;
    assert_eq!(subs.len(), 2);
    let critical_sub = &subs[&queue_arn("critical-orders-dev")];
    assert_eq!(critical_sub["Protocol"], "sqs");
    assert_eq!(
        json(&critical_sub["FilterPolicy"]),
        serde_json::json!({"priority": ["HIGH"]})
    );
    assert_eq!(critical_sub["FilterPolicyScope"], "MessageAttributes");
    assert_eq!(critical_sub["RawMessageDelivery"], "false");
    let standard_sub = &subs[&queue_arn("standard-orders-dev")];
    assert_eq!(
        json(&standard_sub["FilterPolicy"]),
        serde_json::json!({"priority": ["MEDIUM", "LOW"]})
    );
    server.stop().await;
}

#[tokio::test]
async fn orders_are_routed_by_priority() {
    let server = start(vec![SEED.into()], &[]).await;
    let (sqs, sns) = (sqs(&server), sns(&server));
    for p in ["HIGH", "MEDIUM", "LOW"] {
        sns.publish()
            .topic_arn(TOPIC_ARN)
            .message(format!(r#"{{"orderId":"o-{p}"}}"#))
            .subject("Order Event: ORDER_CREATED")
            .message_attributes("priority", priority(p))
            .send()
            .await
            .unwrap();
    }
    let orders = |bodies: Vec<String>| -> Vec<String> {
        let mut ids: Vec<String> = bodies
            .iter()
            .map(|b| {
                let envelope = json(b);
                assert_eq!(envelope["Type"], "Notification");
                assert_eq!(envelope["TopicArn"], TOPIC_ARN);
                json(envelope["Message"].as_str().unwrap())["orderId"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        ids.sort();
        ids
    };
    let critical = queue_url(&sqs, "critical-orders-dev").await;
    let standard = queue_url(&sqs, "standard-orders-dev").await;
    assert_eq!(orders(drain(&sqs, &critical).await), ["o-HIGH"]);
    assert_eq!(orders(drain(&sqs, &standard).await), ["o-LOW", "o-MEDIUM"]);
    server.stop().await;
}

#[tokio::test]
async fn parameter_overrides_replace_defaults() {
    let server = start(vec![SEED.into()], &["Environment=prod"]).await;
    let sqs = sqs(&server);
    let attributes = queue_attributes(&sqs, "critical-orders-prod").await;
    assert_eq!(
        json(&attributes["RedrivePolicy"])["deadLetterTargetArn"],
        queue_arn("critical-orders-dlq-prod")
    );
    assert!(sqs
        .get_queue_url()
        .queue_name("critical-orders-dev")
        .send()
        .await
        .is_err());
    assert_eq!(
        server.app.init_outputs[0].output_value,
        "arn:aws:sns:us-east-1:000000000000:order-events-prod"
    );
    server.stop().await;
}

#[tokio::test]
async fn outputs_are_served_as_json() {
    let server = start(vec![SEED.into()], &[]).await;
    let body = json(
        &http()
            .get(format!("{}/_lyrebird/init/outputs", server.endpoint()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(
        body,
        serde_json::json!({"Outputs": [{
            "StackName": "seed-000-template",
            "OutputKey": "OrderEventsTopicArn",
            "OutputValue": TOPIC_ARN,
            "Description": "Order Events SNS Topic ARN",
            "ExportName": "seed-000-template-OrderEventsTopic",
        }]})
    );
    server.stop().await;
}

#[tokio::test]
async fn reapplying_an_unchanged_template_changes_nothing() {
    let server = start(vec![SEED.into()], &[]).await;
    let (sqs, sns) = (sqs(&server), sns(&server));
    let critical = queue_url(&sqs, "critical-orders-dev").await;
    sqs.send_message()
        .queue_url(&critical)
        .message_body("kept")
        .send()
        .await
        .unwrap();
    let before = queue_attributes(&sqs, "critical-orders-dev").await;
    let subs_before = sns
        .list_subscriptions()
        .send()
        .await
        .unwrap()
        .subscriptions
        .unwrap();
    advance_clock(&server, 5.0).await;

    let report = reapply_report(&server, vec![SEED.into()], &[]);
    assert_eq!(
        report.stacks[0].summary(),
        format!("{SEED}: stack seed-000-template: applied 9 resources, none changed")
    );

    let after = queue_attributes(&sqs, "critical-orders-dev").await;
    assert_eq!(
        after["LastModifiedTimestamp"],
        before["LastModifiedTimestamp"]
    );
    assert_eq!(after, before);
    let subs_after = sns
        .list_subscriptions()
        .send()
        .await
        .unwrap()
        .subscriptions
        .unwrap();
    let arns = |subs: &[aws_sdk_sns::types::Subscription]| {
        let mut arns: Vec<String> = subs
            .iter()
            .map(|s| s.subscription_arn().unwrap().to_string())
            .collect();
        arns.sort();
        arns
    };
    assert_eq!(arns(&subs_after), arns(&subs_before));
    assert_eq!(server.app.sqs.queue_count(), 4);
    assert_eq!(server.app.sns.topic_count(), 1);
    assert_eq!(drain(&sqs, &critical).await, ["kept"]);
    server.stop().await;
}

#[tokio::test]
async fn reapplying_a_changed_template_updates_what_changed() {
    let server = start(vec![SEED.into()], &[]).await;
    let (sqs, sns) = (sqs(&server), sns(&server));
    let before = queue_attributes(&sqs, "critical-orders-dev").await;
    advance_clock(&server, 5.0).await;

    let changed = seed_text()
        .replacen("VisibilityTimeout: 300", "VisibilityTimeout: 120", 1)
        .replacen("      MessageRetentionPeriod: 1209600 # 14 days\n", "", 1)
        .replacen("maxReceiveCount: 3", "maxReceiveCount: 4", 1)
        .replacen("priority: ['HIGH']", "priority: ['HIGH', 'URGENT']", 1)
        .replacen(
            "DisplayName: 'Order Processing Events'",
            "DisplayName: 'Orders'\n      Tags:\n        - Key: team\n          Value: orders",
            1,
        );
    let dir = TempDir::new();
    let report = reapply_report(&server, vec![dir.write("template.yaml", &changed)], &[]);
    let stack = &report.stacks[0];
    assert_eq!(
        (stack.created, stack.updated),
        (0, 5),
        "the topic, the critical queue and its subscription; and the two functions, whose code \
         folder (CodeUri defaults to the template's) moved with the template"
    );
    assert!(
        stack.summary().contains("applied 9 resources, 5 changed"),
        "{}",
        stack.summary()
    );

    let after = queue_attributes(&sqs, "critical-orders-dev").await;
    assert_eq!(after["VisibilityTimeout"], "120");
    assert_eq!(
        after["MessageRetentionPeriod"], "345600",
        "back to the default"
    );
    assert_eq!(json(&after["RedrivePolicy"])["maxReceiveCount"], 4);
    assert_ne!(
        after["LastModifiedTimestamp"],
        before["LastModifiedTimestamp"]
    );
    let standard = queue_attributes(&sqs, "standard-orders-dev").await;
    assert_eq!(standard["VisibilityTimeout"], "300", "untouched");

    let subs = subscriptions(&sns, TOPIC_ARN).await;
    assert_eq!(subs.len(), 2, "updated in place, not subscribed again");
    assert_eq!(
        json(&subs[&queue_arn("critical-orders-dev")]["FilterPolicy"]),
        serde_json::json!({"priority": ["HIGH", "URGENT"]})
    );
    let topic = sns
        .get_topic_attributes()
        .topic_arn(TOPIC_ARN)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(topic["DisplayName"], "Orders");
    let tags = sns
        .list_tags_for_resource()
        .resource_arn(TOPIC_ARN)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!((tags[0].key(), tags[0].value()), ("team", "orders"));

    // And back: the tag goes, the filter policy is restored.
    reapply(&server, vec![SEED.into()], &[]);
    let tags = sns
        .list_tags_for_resource()
        .resource_arn(TOPIC_ARN)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    assert!(tags.is_empty());
    let subs = subscriptions(&sns, TOPIC_ARN).await;
    assert_eq!(
        json(&subs[&queue_arn("critical-orders-dev")]["FilterPolicy"]),
        serde_json::json!({"priority": ["HIGH"]})
    );
    server.stop().await;
}

/// The `lyrebird` binary on a data directory with the seed template, killed when dropped.
struct Process(std::process::Child, String);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_process(data: &Path) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_lyrebird"))
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(data)
        .args(["--init", SEED])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("lyrebird starts");
    let endpoint = format!("http://127.0.0.1:{port}");
    let process = Process(child, endpoint.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !http()
        .get(format!("{endpoint}/_lyrebird/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "server did not come up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    pause_event_sources(&process.1).await;
    process
}

#[tokio::test]
async fn restarting_on_a_data_directory_keeps_queues_and_messages() {
    let data = TempDir::new();
    let first = start_process(&data.0).await;
    let sqs = sqs_at(&first.1, "test", "us-east-1");
    let url = queue_url(&sqs, "critical-orders-dev").await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("survives")
        .send()
        .await
        .unwrap();
    let before = queue_attributes(&sqs, "critical-orders-dev").await;
    drop(first);

    let second = start_process(&data.0).await;
    let sqs = sqs_at(&second.1, "test", "us-east-1");
    let after = queue_attributes(&sqs, "critical-orders-dev").await;
    assert_eq!(after["CreatedTimestamp"], before["CreatedTimestamp"]);
    assert_eq!(
        after["LastModifiedTimestamp"],
        before["LastModifiedTimestamp"]
    );
    assert_eq!(after["ApproximateNumberOfMessages"], "1");
    let url = queue_url(&sqs, "critical-orders-dev").await;
    assert_eq!(drain(&sqs, &url).await, ["survives"]);
}

/// The same stack written with short-form tags in YAML and with long forms in JSON.
const SHORT_FORM: &str = r#"
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Zones:
    Type: CommaDelimitedList
    Default: "a,b,c"
Mappings:
  Sizes:
    dev: {Timeout: 45}
    prod: {Timeout: 600}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsDev, !Equals [!Select [1, !Ref Zones], b]]
Resources:
  Dlq:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Join ['-', [!Ref AWS::StackName, dlq, !Select [0, !Split [',', 'x,y']]]]
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub
        - '${Prefix}-work-${Env}'
        - Prefix: !Ref AWS::StackName
      VisibilityTimeout: !FindInMap [Sizes, !Ref Env, Timeout]
      DelaySeconds: !If [IsProd, 5, !Ref AWS::NoValue]
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt [Dlq, Arn]
        maxReceiveCount: !If [Both, 2, 9]
      Tags:
        - Key: dlq-name
          Value: !GetAtt Dlq.QueueName
        - Key: where
          Value: !Sub '${AWS::Region}/${AWS::AccountId}/${AWS::Partition}/${AWS::URLSuffix}'
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
    Properties:
      QueueName: prod-only
Outputs:
  WorkUrl:
    Value: !Ref Work
  WorkArn:
    Value: !GetAtt Work.Arn
"#;

const LONG_FORM: &str = r#"{
  "Parameters": {
    "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
    "Zones": {"Type": "CommaDelimitedList", "Default": "a,b,c"}
  },
  "Mappings": {"Sizes": {"dev": {"Timeout": 45}, "prod": {"Timeout": 600}}},
  "Conditions": {
    "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
    "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
    "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": [{"Fn::Select": [1, {"Ref": "Zones"}]}, "b"]}]}
  },
  "Resources": {
    "Dlq": {
      "Type": "AWS::SQS::Queue",
      "Properties": {
        "QueueName": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "dlq", {"Fn::Select": [0, {"Fn::Split": [",", "x,y"]}]}]]}
      }
    },
    "Work": {
      "Type": "AWS::SQS::Queue",
      "Properties": {
        "QueueName": {"Fn::Sub": ["${Prefix}-work-${Env}", {"Prefix": {"Ref": "AWS::StackName"}}]},
        "VisibilityTimeout": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Timeout"]},
        "DelaySeconds": {"Fn::If": ["IsProd", 5, {"Ref": "AWS::NoValue"}]},
        "RedrivePolicy": {
          "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
          "maxReceiveCount": {"Fn::If": ["Both", 2, 9]}
        },
        "Tags": [
          {"Key": "dlq-name", "Value": {"Fn::GetAtt": "Dlq.QueueName"}},
          {"Key": "where", "Value": {"Fn::Sub": "${AWS::Region}/${AWS::AccountId}/${AWS::Partition}/${AWS::URLSuffix}"}}
        ]
      }
    },
    "ProdOnly": {
      "Type": "AWS::SQS::Queue",
      "Condition": "IsProd",
      "Properties": {"QueueName": "prod-only"}
    }
  },
  "Outputs": {
    "WorkUrl": {"Value": {"Ref": "Work"}},
    "WorkArn": {"Value": {"Fn::GetAtt": ["Work", "Arn"]}}
  }
}"#;

#[tokio::test]
async fn short_and_long_intrinsic_forms_agree() {
    let dir = TempDir::new();
    // Same file stem, so the same AWS::StackName.
    let yaml_dir = TempDir::new();
    let short = yaml_dir.write("orders.yaml", SHORT_FORM);
    let long = dir.write("orders.json", LONG_FORM);
    let mut seen = Vec::new();
    for path in [short, long] {
        let server = start(vec![path.clone()], &[]).await;
        let sqs = sqs(&server);
        let work = queue_attributes(&sqs, "orders-work-dev").await;
        assert_eq!(work["VisibilityTimeout"], "45", "{path:?}");
        assert_eq!(work["DelaySeconds"], "0", "AWS::NoValue leaves the default");
        assert_eq!(
            json(&work["RedrivePolicy"]),
            serde_json::json!({"deadLetterTargetArn": queue_arn("orders-dlq-x"), "maxReceiveCount": 2}),
            "{path:?}"
        );
        let tags = sqs
            .list_queue_tags()
            .queue_url(queue_url(&sqs, "orders-work-dev").await)
            .send()
            .await
            .unwrap()
            .tags
            .unwrap();
        assert_eq!(tags["dlq-name"], "orders-dlq-x");
        assert_eq!(tags["where"], "us-east-1/000000000000/aws/amazonaws.com");
        assert!(
            sqs.get_queue_url()
                .queue_name("prod-only")
                .send()
                .await
                .is_err(),
            "its condition is false"
        );
        let outputs: Vec<(String, String)> = server
            .app
            .init_outputs
            .iter()
            .map(|o| (o.output_key.clone(), o.output_value.clone()))
            .collect();
        assert_eq!(
            outputs,
            [
                (
                    "WorkUrl".to_string(),
                    format!(
                        "http://{}/000000000000/orders-work-dev",
                        server.app.default_host
                    )
                ),
                ("WorkArn".to_string(), queue_arn("orders-work-dev")),
            ]
        );
        seen.push(work);
        server.stop().await;
    }
    let strip = |mut m: HashMap<String, String>| {
        m.retain(|k, _| !k.ends_with("Timestamp"));
        m
    };
    let (a, b) = (seen.remove(0), seen.remove(0));
    assert_eq!(strip(a), strip(b));
}

#[tokio::test]
async fn conditions_follow_parameter_overrides() {
    let dir = TempDir::new();
    let path = dir.write("orders.yaml", SHORT_FORM);
    let server = start(vec![path], &["Env=prod"]).await;
    let sqs = sqs(&server);
    let work = queue_attributes(&sqs, "orders-work-prod").await;
    assert_eq!(work["VisibilityTimeout"], "600");
    assert_eq!(work["DelaySeconds"], "5");
    assert_eq!(json(&work["RedrivePolicy"])["maxReceiveCount"], 9);
    queue_url(&sqs, "prod-only").await;
    server.stop().await;
}

#[tokio::test]
async fn every_sns_and_sqs_resource_type_and_property() {
    let dir = TempDir::new();
    let path = dir.write(
        "full.yaml",
        r#"
Resources:
  Events:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: events.fifo
      FifoTopic: true
      ContentBasedDeduplication: true
      DisplayName: Events
      SignatureVersion: '2'
      DeliveryStatusLogging:
        - Protocol: sqs
          SuccessFeedbackRoleArn: arn:aws:iam::000000000000:role/ok
          SuccessFeedbackSampleRate: '50'
      Tags: [{Key: env, Value: test}]
      Subscription:
        - Protocol: sqs
          Endpoint: !GetAtt Sink.Arn
  Sink:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: true
      RedriveAllowPolicy: {redrivePermission: denyAll}
  Plain:
    Type: AWS::SNS::Topic
  Raw:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: raw
      Tags: [{Key: a, Value: '1'}]
  RawDlq:
    Type: AWS::SQS::Queue
    Properties: {QueueName: raw-dlq}
  RawSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Plain
      Protocol: sqs
      Endpoint: !GetAtt Raw.Arn
      RawMessageDelivery: 'true'
      FilterPolicyScope: MessageBody
      FilterPolicy: '{"order": {"total": [{"numeric": [">", 100]}]}}'
      RedrivePolicy: {deadLetterTargetArn: !GetAtt RawDlq.Arn}
      DeliveryPolicy: {healthyRetryPolicy: {numRetries: 5}}
  RawPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Raw]
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Raw.Arn
            Condition: {ArnEquals: {aws:SourceArn: !Ref Plain}}
  PlainPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Plain]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: '*', Action: sns:Publish, Resource: !Ref Plain}]
Outputs:
  SinkName: {Value: !GetAtt Sink.QueueName}
  PlainName: {Value: !GetAtt Plain.TopicName}
  RawSubscriptionArn: {Value: !GetAtt RawSubscription.Arn}
  QueuePolicyId: {Value: !Ref RawPolicy}
"#,
    );
    let server = start(vec![path.clone()], &[]).await;
    let (sqs, sns) = (sqs(&server), sns(&server));
    let outputs: HashMap<String, String> = server
        .app
        .init_outputs
        .iter()
        .map(|o| (o.output_key.clone(), o.output_value.clone()))
        .collect();

    // Unnamed resources get CloudFormation-style names: stack-LogicalId-SUFFIX(.fifo).
    let sink = &outputs["SinkName"];
    assert!(
        sink.starts_with("full-Sink-") && sink.ends_with(".fifo"),
        "{sink}"
    );
    let sink_attributes = queue_attributes(&sqs, sink).await;
    assert_eq!(sink_attributes["FifoQueue"], "true");
    assert_eq!(sink_attributes["ContentBasedDeduplication"], "true");
    assert_eq!(
        json(&sink_attributes["RedriveAllowPolicy"]),
        serde_json::json!({"redrivePermission": "denyAll"})
    );
    let plain_name = &outputs["PlainName"];
    assert!(plain_name.starts_with("full-Plain-"), "{plain_name}");
    let plain = format!("arn:aws:sns:us-east-1:000000000000:{plain_name}");

    let events = "arn:aws:sns:us-east-1:000000000000:events.fifo";
    let topic = sns
        .get_topic_attributes()
        .topic_arn(events)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(topic["FifoTopic"], "true");
    assert_eq!(topic["ContentBasedDeduplication"], "true");
    assert_eq!(topic["DisplayName"], "Events");
    assert_eq!(topic["SignatureVersion"], "2");
    assert_eq!(
        topic["SQSSuccessFeedbackRoleArn"],
        "arn:aws:iam::000000000000:role/ok"
    );
    assert_eq!(topic["SQSSuccessFeedbackSampleRate"], "50");
    let inline = subscriptions(&sns, events).await;
    assert_eq!(inline.keys().collect::<Vec<_>>(), [&queue_arn(sink)]);

    let raw = &subscriptions(&sns, &plain).await[&queue_arn("raw")];
    assert_eq!(raw["RawMessageDelivery"], "true");
    assert_eq!(raw["FilterPolicyScope"], "MessageBody");
    assert_eq!(
        json(&raw["FilterPolicy"]),
        serde_json::json!({"order": {"total": [{"numeric": [">", 100]}]}})
    );
    assert_eq!(
        json(&raw["RedrivePolicy"]),
        serde_json::json!({"deadLetterTargetArn": queue_arn("raw-dlq")})
    );
    assert_eq!(
        json(&raw["DeliveryPolicy"]),
        serde_json::json!({"healthyRetryPolicy": {"numRetries": 5}})
    );
    assert_eq!(raw["SubscriptionArn"], outputs["RawSubscriptionArn"]);

    let raw_attributes = queue_attributes(&sqs, "raw").await;
    let policy = json(&raw_attributes["Policy"]);
    assert_eq!(
        policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        plain
    );
    let topic_policy = json(
        &sns.get_topic_attributes()
            .topic_arn(&plain)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()["Policy"],
    );
    assert_eq!(topic_policy["Statement"][0]["Action"], "sns:Publish");
    assert!(outputs["QueuePolicyId"].starts_with("full-RawPolicy-"));

    // A body-filtered, raw subscription delivers only matching bodies, unwrapped.
    for total in [50, 150] {
        sns.publish()
            .topic_arn(&plain)
            .message(format!(r#"{{"order":{{"total":{total}}}}}"#))
            .send()
            .await
            .unwrap();
    }
    let url = queue_url(&sqs, "raw").await;
    assert_eq!(drain(&sqs, &url).await, [r#"{"order":{"total":150}}"#]);

    // Generated names are stable: applying again finds the same resources.
    reapply(&server, vec![path], &[]);
    assert_eq!(server.app.sqs.queue_count(), 3);
    assert_eq!(server.app.sns.topic_count(), 2);
    assert_eq!(subscriptions(&sns, &plain).await.len(), 1);
    server.stop().await;
}

/// A KMS key, an IAM role and an alarm of the stack are not provisioned, but the queue, topic,
/// subscription and outputs that use them are, with stand-in values (the function is real).
#[tokio::test]
async fn resources_of_other_types_get_stand_ins_and_what_needs_them_is_created() {
    let dir = TempDir::new();
    let path = dir.write(
        "mixed.template.yaml",
        r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Timeout: 10}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties: {KeyPolicy: {}}
  Encrypted:
    Type: AWS::SQS::Queue
    Properties: {QueueName: encrypted, KmsMasterKeyId: !GetAtt Key.Arn}
  LoggingRole:
    Type: AWS::IAM::Role
    Properties: {RoleName: sns-logging, AssumeRolePolicyDocument: {}}
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: mixed
      KmsMasterKeyId: !Ref Key
      DeliveryStatusLogging:
        - {Protocol: sqs, SuccessFeedbackRoleArn: !GetAtt LoggingRole.Arn, FailureFeedbackRoleArn: !GetAtt LoggingRole.Arn}
  Handler:
    Type: AWS::Serverless::Function
    Properties: {Handler: index.handler, Runtime: nodejs18.x}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {AlarmName: deep-queue, AlarmActions: [!Ref Topic]}
  ToLambda:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: lambda
      Endpoint: !GetAtt Handler.Arn
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: {AWS: !GetAtt LoggingRole.Arn}, Action: sns:Publish, Resource: !Ref Topic}]
Outputs:
  TopicArn: {Value: !Ref Topic}
  HandlerArn: {Value: !GetAtt Handler.Arn}
  HandlerName: {Value: !Ref Handler}
  AlarmArn: {Value: !GetAtt Alarm.Arn}
  KeyId: {Value: !Ref Key}
"#,
    );
    let server = start(vec![path.clone()], &[]).await;
    let (sqs, sns) = (sqs(&server), sns(&server));
    let outputs: HashMap<&str, &str> = server
        .app
        .init_outputs
        .iter()
        .map(|o| (o.output_key.as_str(), o.output_value.as_str()))
        .collect();
    let key_id = outputs["KeyId"];
    assert_eq!(key_id.len(), 36, "a key id is a UUID: {key_id}");
    let key_arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key_id}");
    let function = outputs["HandlerName"];
    assert!(function.starts_with("mixed-Handler-"), "{function}");
    assert_eq!(
        outputs["HandlerArn"],
        format!("arn:aws:lambda:us-east-1:000000000000:function:{function}")
    );
    assert_eq!(
        outputs["AlarmArn"],
        "arn:aws:cloudwatch:us-east-1:000000000000:alarm:deep-queue"
    );

    assert_eq!(
        queue_attributes(&sqs, "encrypted").await["KmsMasterKeyId"],
        key_arn
    );
    let topic = "arn:aws:sns:us-east-1:000000000000:mixed";
    let attributes = sns
        .get_topic_attributes()
        .topic_arn(topic)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let role = "arn:aws:iam::000000000000:role/sns-logging";
    assert_eq!(attributes["KmsMasterKeyId"], key_id);
    assert_eq!(attributes["SQSSuccessFeedbackRoleArn"], role);
    assert_eq!(attributes["SQSFailureFeedbackRoleArn"], role);
    assert!(
        attributes["Policy"].contains(role),
        "{}",
        attributes["Policy"]
    );
    let subs = subscriptions(&sns, topic).await;
    assert!(subs.contains_key(outputs["HandlerArn"]), "{subs:?}");

    // Stand-ins are stable: applying again reports the same values and changes nothing.
    let report = reapply_report(&server, vec![path], &[]);
    let stack = &report.stacks[0];
    assert_eq!(
        stack.stack, "mixed",
        "the .template infix is not part of it"
    );
    let stood_in: Vec<(&str, &str)> = stack
        .stand_ins
        .iter()
        .map(|(id, s)| (id.as_str(), s.type_name.as_str()))
        .collect();
    assert_eq!(
        stood_in,
        [
            ("Key", "AWS::KMS::Key"),
            ("LoggingRole", "AWS::IAM::Role"),
            ("Alarm", "AWS::CloudWatch::Alarm"),
        ]
    );
    assert_eq!(stack.stand_ins[0].1.reference, key_id);
    assert_eq!((stack.applied(), stack.created + stack.updated), (5, 0));
    server.stop().await;
}

#[tokio::test]
async fn init_directory_templates_apply_in_name_order_and_import_exports() {
    let dir = TempDir::new();
    dir.write(
        "20-subscribers.json",
        r#"{"Resources": {
            "Inbox": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "inbox"}},
            "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {
                "TopicArn": {"Fn::ImportValue": "shared-topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Inbox", "Arn"]}}}}}"#,
    );
    dir.write(
        "10-topic.yml",
        "Resources:\n  T: {Type: AWS::SNS::Topic, Properties: {TopicName: shared}}\nOutputs:\n  Arn:\n    Value: !Ref T\n    Export: {Name: shared-topic}\n",
    );
    dir.write("notes.txt", "not a template");
    let server = lyrebird::spawn(Config {
        init_dir: Some(dir.0.clone()),
        ..config(Vec::new(), &[])
    })
    .await
    .expect("starts");
    let topic = "arn:aws:sns:us-east-1:000000000000:shared";
    let subs = subscriptions(&sns(&server), topic).await;
    assert!(subs.contains_key(&queue_arn("inbox")));
    server.stop().await;
}

/// Asserts every fragment appears in the message.
fn assert_mentions(message: &str, fragments: &[&str]) {
    for fragment in fragments {
        assert!(message.contains(fragment), "{fragment:?} not in: {message}");
    }
}

#[tokio::test]
async fn unknown_references_fail_naming_resource_and_property() {
    let e = start_error(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub '${Nope}-q'\n",
        &[],
    )
    .await;
    assert_mentions(
        &e,
        &[
            "bad.yaml",
            "resource Q",
            "property QueueName",
            "unknown reference Nope",
        ],
    );
    let e = start_error(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  S:\n    Type: AWS::SNS::Subscription\n    Properties: {TopicArn: !Ref T, Protocol: sqs, Endpoint: !GetAtt Q.Url}\n",
        &[],
    )
    .await;
    assert_mentions(
        &e,
        &["resource S", "property TopicArn", "unknown reference T"],
    );
    let e = start_error(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !GetAtt Q2.Url}\n  Q2:\n    Type: AWS::SQS::Queue\n",
        &[],
    )
    .await;
    assert_mentions(
        &e,
        &[
            "resource Q",
            "property QueueName",
            "Q2 (AWS::SQS::Queue) has no attribute Url",
        ],
    );
    let e = start_error(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    DependsOn: Ghost\n",
        &[],
    )
    .await;
    assert_mentions(&e, &["resource Q", "DependsOn: unknown resource Ghost"]);
    let e = start_error(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\nOutputs:\n  X: {Value: !Ref Missing}\n",
        &[],
    )
    .await;
    assert_mentions(&e, &["output X", "unknown reference Missing"]);
}

#[tokio::test]
async fn dependency_cycles_fail() {
    let e = start_error(
        r#"
Resources:
  A:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt B.Arn, maxReceiveCount: 1}
  B:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy: {deadLetterTargetArn: !GetAtt A.Arn, maxReceiveCount: 1}
"#,
        &[],
    )
    .await;
    assert_mentions(&e, &["bad.yaml", "cycle: A → B → A"]);
    let e = start_error(
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    DependsOn: [A]\n",
        &[],
    )
    .await;
    assert_mentions(&e, &["cycle: A → A"]);
}

#[tokio::test]
async fn invalid_property_values_fail_naming_the_property() {
    let queue = |props: &str| {
        format!("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {props}\n")
    };
    for (props, expected) in [
        ("{VisibilityTimeout: soon}", "property VisibilityTimeout: must be an integer"),
        ("{FifoQueue: maybe}", "property FifoQueue: must be true or false"),
        ("{QueueName: [a, b]}", "property QueueName: must be a string, not a list"),
        ("{RedrivePolicy: [1]}", "property RedrivePolicy: must be a JSON object"),
        ("{Colour: blue}", "property Colour: AWS::SQS::Queue has no property Colour"),
        ("{Tags: {a: b}}", "property Tags: must be a list of {Key, Value}"),
        // The API's own checks, reported with its error code.
        ("{VisibilityTimeout: 50000}", "property VisibilityTimeout: CreateQueue failed: InvalidAttributeValue"),
        ("{QueueName: 'bad name!'}", "property QueueName: CreateQueue failed"),
        (
            "{RedrivePolicy: {deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:none', maxReceiveCount: 3}}",
            "property RedrivePolicy: CreateQueue failed",
        ),
    ] {
        let e = start_error(&queue(props), &[]).await;
        assert_mentions(&e, &["bad.yaml: resource Q (AWS::SQS::Queue)", expected]);
    }
    let e = start_error(
        r#"
Resources:
  T: {Type: AWS::SNS::Topic, Properties: {TopicName: t}}
  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: q}}
  S:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref T
      Protocol: sqs
      Endpoint: !GetAtt Q.Arn
      FilterPolicy: {priority: HIGH}
"#,
        &[],
    )
    .await;
    assert_mentions(
        &e,
        &[
            "resource S (AWS::SNS::Subscription), property FilterPolicy",
            "InvalidParameter",
        ],
    );
    let e = start_error(
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: 'no spaces'}\n",
        &[],
    )
    .await;
    assert_mentions(
        &e,
        &[
            "resource T (AWS::SNS::Topic), property TopicName",
            "CreateTopic failed",
        ],
    );
    let e = start_error(
        "Resources:\n  S:\n    Type: AWS::SNS::Subscription\n    Properties: {Protocol: sqs, Endpoint: x}\n",
        &[],
    )
    .await;
    assert_mentions(&e, &["resource S", "property TopicArn: is required"]);
}

#[tokio::test]
async fn parameter_and_template_errors() {
    let with_param = "Parameters:\n  Env: {Type: String, AllowedValues: [dev, prod]}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n";
    assert_mentions(
        &start_error(with_param, &[]).await,
        &["parameter Env: has no Default: pass --param Env=VALUE"],
    );
    assert_mentions(
        &start_error(with_param, &["Env=qa"]).await,
        &["parameter Env: value \"qa\" is not one of AllowedValues [dev, prod]"],
    );
    assert_mentions(
        &start_error(with_param, &["Env=dev", "Typo=1"]).await,
        &["--param Typo: no template declares a parameter Typo"],
    );
    assert_mentions(
        &start_error(with_param, &["Env"]).await,
        &["expected KEY=VALUE"],
    );
    assert_mentions(
        &start_error(
            "Transform: AWS::Include\nResources:\n  Q: {Type: AWS::SQS::Queue}\n",
            &[],
        )
        .await,
        &["Transform: AWS::Include is not supported"],
    );
    assert_mentions(
        &start_error(
            "Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAZs ''}}\n",
            &[],
        )
        .await,
        &["property QueueName: Fn::GetAZs is not supported by lyrebird"],
    );
    assert_mentions(
        &start_error(
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: [oops\n",
            &[],
        )
        .await,
        &["bad.yaml: line"],
    );
    assert_mentions(
        &start_error(
            "Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: !Reff x}}\n",
            &[],
        )
        .await,
        &["bad.yaml: line 2", "unknown tag !Reff"],
    );
    assert_mentions(
        &start_error(
            "Resources:\n  Q: {Type: AWS::SQS::Queue, Condition: Nope}\n",
            &[],
        )
        .await,
        &["resource Q, Condition: unknown condition Nope"],
    );
    assert_mentions(
        &start_error("Resources: {}\n", &[]).await,
        &["at least one resource"],
    );
    assert_mentions(
        &start_error("Resource:\n  Q: {Type: AWS::SQS::Queue}\n", &[]).await,
        &["unknown template section Resource"],
    );
}

#[test]
fn the_binary_refuses_to_start_on_a_bad_template() {
    let dir = TempDir::new();
    let path = dir.write(
        "stack.yaml",
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {DelaySeconds: 9000}\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lyrebird"))
        .args(["--in-memory", "--port", "0"])
        .env("LYREBIRD_INIT", &path)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // A server that starts anyway would run forever: give it a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("lyrebird started despite the bad template");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_mentions(
        &stderr,
        &[
            "stack.yaml: resource Q (AWS::SQS::Queue), property DelaySeconds",
            "InvalidAttributeValue",
        ],
    );
}

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/order-pipeline/template.yaml"
);

/// The example pipeline as `lyrebird --init` runs it, with the seed's own handlers (TypeScript,
/// compiled to the JS committed beside it; examples/order-pipeline/ci.sh checks that JS is what
/// tsc makes): HIGH orders reach the critical handler in batches of at most 5, MEDIUM and LOW
/// the standard one in batches of at most 10, both delete what they handled, and a poison order
/// fails maxReceiveCount (3) times, a visibility timeout (300 s) apart, into the DLQ.
#[tokio::test]
async fn example_order_pipeline_runs_end_to_end() {
    let server = lyrebird::spawn(config(vec![EXAMPLE.into()], &[]))
        .await
        .expect("server starts with the example");
    let (sqs, sns) = (sqs(&server), sns(&server));
    let outputs: HashMap<String, String> = server
        .app
        .init_outputs
        .iter()
        .map(|o| (o.output_key.clone(), o.output_value.clone()))
        .collect();
    let critical = &outputs["CriticalOrdersQueueUrl"];
    let standard = &outputs["StandardOrdersQueueUrl"];
    let dlq_name = outputs["CriticalOrdersDLQUrl"]
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let publish = |order: &'static str, p: &'static str, data: bool| {
        let sns = sns.clone();
        let topic = outputs["OrderEventsTopicArn"].clone();
        async move {
            let mut event = serde_json::json!({
                "eventId": format!("e-{order}"), "eventType": "ORDER_CREATED", "orderId": order,
                "version": "2.0", "metadata": {"priority": p, "correlationId": format!("c-{order}")},
            });
            if data {
                event["data"] =
                    serde_json::json!({"customerId": "c-1", "items": [], "totalAmount": 100});
            }
            sns.publish()
                .topic_arn(topic)
                .message(event.to_string())
                .subject("Order Event: ORDER_CREATED")
                .message_attributes("priority", priority(p))
                .send()
                .await
                .unwrap();
        }
    };
    let mut orders = Vec::new();
    for i in 0..7 {
        orders.push((
            ["o-h0", "o-h1", "o-h2", "o-h3", "o-h4", "o-h5", "o-h6"][i],
            "HIGH",
        ));
    }
    for i in 0..12 {
        let p = if i % 2 == 0 { "MEDIUM" } else { "LOW" };
        orders.push((
            [
                "o-s0", "o-s1", "o-s2", "o-s3", "o-s4", "o-s5", "o-s6", "o-s7", "o-s8", "o-s9",
                "o-s10", "o-s11",
            ][i],
            p,
        ));
    }
    for (order, p) in &orders {
        publish(order, p, true).await;
    }
    let invocations = || async {
        let url = format!("{}/_lyrebird/lambda/invocations", server.endpoint());
        let body: serde_json::Value =
            serde_json::from_slice(&reqwest::get(url).await.unwrap().bytes().await.unwrap())
                .unwrap();
        body["Invocations"].as_array().cloned().unwrap_or_default()
    };
    let records_of = |log: &[serde_json::Value], function: &str, outcome: &str| -> Vec<u64> {
        log.iter()
            .filter(|i| i["function"] == function && i["outcome"] == outcome)
            .map(|i| i["batch_size"].as_u64().unwrap())
            .collect()
    };
    let mut log = Vec::new();
    for _ in 0..750 {
        log = invocations().await;
        let done = |f: &str| records_of(&log, f, "success").iter().sum::<u64>();
        if done("critical-order-processor-dev") == 7 && done("standard-order-processor-dev") == 12 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let critical_batches = records_of(&log, "critical-order-processor-dev", "success");
    let standard_batches = records_of(&log, "standard-order-processor-dev", "success");
    assert_eq!(critical_batches.iter().sum::<u64>(), 7, "{log:?}");
    assert_eq!(standard_batches.iter().sum::<u64>(), 12, "{log:?}");
    assert!(
        critical_batches.iter().all(|&n| n <= 5),
        "{critical_batches:?}"
    );
    assert!(
        standard_batches.iter().all(|&n| n <= 10),
        "{standard_batches:?}"
    );
    for url in [critical, standard] {
        let name = url.rsplit('/').next().unwrap();
        let attributes = queue_attributes(&sqs, name).await;
        assert_eq!(attributes["ApproximateNumberOfMessages"], "0");
    }

    // The poison order: the critical handler throws on every receive.
    publish("o-poison", "HIGH", false).await;
    for receive in 1..=3 {
        for _ in 0..750 {
            if records_of(
                &invocations().await,
                "critical-order-processor-dev",
                "error",
            )
            .len()
                == receive
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let failed = records_of(
            &invocations().await,
            "critical-order-processor-dev",
            "error",
        );
        assert_eq!(
            failed.len(),
            receive,
            "receive {receive} failed in the handler"
        );
        advance_clock(&server, 301.0).await;
    }
    for _ in 0..750 {
        if queue_attributes(&sqs, &dlq_name).await["ApproximateNumberOfMessages"] == "1" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        queue_attributes(&sqs, &dlq_name).await["ApproximateNumberOfMessages"],
        "1",
        "moved on the 4th receive"
    );
    let dead = drain(&sqs, &outputs["CriticalOrdersDLQUrl"]).await;
    assert_eq!(
        json(json(&dead[0])["Message"].as_str().unwrap())["orderId"],
        "o-poison"
    );
    server.stop().await;
}

const TWO_STACKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cdk-two-stacks");

/// Stack name → output key → value.
fn outputs_by_stack(server: &RunningServer) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    for o in &server.app.init_outputs {
        out.entry(o.stack_name.clone())
            .or_default()
            .insert(o.output_key.clone(), o.output_value.clone());
    }
    out
}

/// Publishes to the two-stack fixture's topic and expects the consumer's inbox to get it.
async fn two_stacks_route(server: &RunningServer, consumer_stack: &str) {
    let (sqs, sns) = (sqs(server), sns(server));
    let outputs = outputs_by_stack(server);
    let inbox = &outputs[consumer_stack]["InboxUrl"];
    let name = inbox.rsplit('/').next().unwrap();
    assert!(
        name.starts_with(&format!("{consumer_stack}-Inbox3B0F2C4D-")),
        "CloudFormation's generated name: {name}"
    );
    sns.publish()
        .topic_arn("arn:aws:sns:us-east-1:000000000000:two-stack-orders")
        .message("order 1")
        .send()
        .await
        .unwrap();
    assert_eq!(drain(&sqs, inbox).await, ["order 1"]);
}

/// A cloud assembly whose manifest lists the importing stack first: its stacks are applied in
/// the manifest's dependency order, named by artifact id or `stackName`, and its other JSON
/// files (assets, tree) are not read as templates.
#[tokio::test]
async fn a_cdk_assembly_applies_its_stacks_in_dependency_order() {
    let server = start(vec![TWO_STACKS.into()], &[]).await;
    let outputs = outputs_by_stack(&server);
    assert_eq!(
        outputs["shared-producer"]["ExportsOutputRefTopic69831491A6D4B2F5"],
        "arn:aws:sns:us-east-1:000000000000:two-stack-orders",
        "stackName from the manifest"
    );
    two_stacks_route(&server, "Consumer").await;
    server.stop().await;
}

/// Template files given importer first are applied exporter first; `X.template.json` is stack X.
#[tokio::test]
async fn templates_given_in_any_order_are_applied_exporters_first() {
    let dir = Path::new(TWO_STACKS);
    let server = start(
        vec![
            dir.join("Consumer.template.json"),
            dir.join("Producer.template.json"),
        ],
        &[],
    )
    .await;
    let stacks: Vec<&str> = server
        .app
        .init_outputs
        .iter()
        .map(|o| o.stack_name.as_str())
        .collect();
    assert_eq!(stacks, ["Producer", "Consumer"]);
    two_stacks_route(&server, "Consumer").await;
    server.stop().await;
}

/// `--init-dir` pointing at an assembly, or at a directory holding one beside plain templates.
#[tokio::test]
async fn an_init_directory_recognises_a_cdk_assembly() {
    let server = lyrebird::spawn(Config {
        init_dir: Some(TWO_STACKS.into()),
        ..config(Vec::new(), &[])
    })
    .await
    .expect("starts on the assembly");
    two_stacks_route(&server, "Consumer").await;
    server.stop().await;

    let dir = TempDir::new();
    let assembly = dir.0.join("cdk.out");
    std::fs::create_dir(&assembly).unwrap();
    for entry in std::fs::read_dir(TWO_STACKS).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, assembly.join(path.file_name().unwrap())).unwrap();
    }
    dir.write(
        "extra.yaml",
        "Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {QueueName: extra}}\n",
    );
    let server = lyrebird::spawn(Config {
        init_dir: Some(dir.0.clone()),
        ..config(Vec::new(), &[])
    })
    .await
    .expect("starts on the directory");
    two_stacks_route(&server, "Consumer").await;
    queue_url(&sqs(&server), "extra").await;
    server.stop().await;

    // A plain directory is not something --init can apply.
    let error = match lyrebird::spawn(config(vec![dir.0.clone()], &[])).await {
        Ok(_) => panic!("--init of a directory without manifest.json should fail"),
        Err(e) => e.to_string(),
    };
    assert_mentions(&error, &["must be a CDK cloud assembly", "--init-dir"]);
}

const CDK_EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/cdk-order-pipeline/cdk.out"
);

fn attribute(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .unwrap()
}

/// The synthesized CDK example (committed, so this needs no npm): two stacks, routing by string,
/// numeric, exists and message-body filters, a FIFO pair, dead-lettering, outputs, and the
/// KMS key, function, role and alarm stood in for.
#[tokio::test]
async fn example_cdk_order_pipeline_routes_filters_and_dead_letters() {
    let server = start(vec![CDK_EXAMPLE.into()], &[]).await;
    let (sqs, sns) = (sqs(&server), sns(&server));
    let outputs = outputs_by_stack(&server);
    let pipeline = &outputs["OrderPipeline"];
    let topic = &pipeline["OrderEventsTopicArn"];
    assert_eq!(topic, "arn:aws:sns:us-east-1:000000000000:order-events");
    assert!(pipeline["LargeOrdersQueueUrl"].contains("/OrderPipeline-LargeOrdersQueue5B774A69-"));
    assert!(pipeline["NotifierArn"]
        .starts_with("arn:aws:lambda:us-east-1:000000000000:function:OrderPipeline-Notifier"));

    let publish = |message: &'static str,
                   attributes: Vec<(&'static str, MessageAttributeValue)>| {
        let mut request = sns.publish().topic_arn(topic).message(message);
        for (name, value) in attributes {
            request = request.message_attributes(name, value);
        }
        request.send()
    };
    publish("critical", vec![("priority", attribute("String", "HIGH"))])
        .await
        .unwrap();
    publish("standard", vec![("priority", attribute("String", "LOW"))])
        .await
        .unwrap();
    publish("large", vec![("amount", attribute("Number", "1500"))])
        .await
        .unwrap();
    publish("small", vec![("amount", attribute("Number", "20"))])
        .await
        .unwrap();
    publish("vip", vec![("vip", attribute("String", "yes"))])
        .await
        .unwrap();
    publish(r#"{"status": "CANCELLED", "id": 7}"#, vec![])
        .await
        .unwrap();
    for (output, expected) in [
        ("CriticalOrdersQueueUrl", vec!["critical"]),
        ("StandardOrdersQueueUrl", vec!["standard"]),
        ("LargeOrdersQueueUrl", vec!["large"]),
        ("VipOrdersQueueUrl", vec!["vip"]),
        (
            "CancelledOrdersQueueUrl",
            vec![r#"{"status": "CANCELLED", "id": 7}"#],
        ),
    ] {
        assert_eq!(drain(&sqs, &pipeline[output]).await, expected, "{output}");
    }

    // The FIFO pair keeps order.
    for n in 1..=3 {
        sns.publish()
            .topic_arn(&pipeline["LedgerTopicArn"])
            .message(format!("entry {n}"))
            .message_group_id("ledger")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        drain(&sqs, &pipeline["LedgerQueueUrl"]).await,
        ["entry 1", "entry 2", "entry 3"]
    );

    // A critical order received three times without being deleted moves to its DLQ.
    publish("poison", vec![("priority", attribute("String", "HIGH"))])
        .await
        .unwrap();
    let critical = &pipeline["CriticalOrdersQueueUrl"];
    for _ in 0..3 {
        let got = sqs
            .receive_message()
            .queue_url(critical)
            .send()
            .await
            .unwrap();
        assert_eq!(got.messages.unwrap_or_default().len(), 1);
        advance_clock(&server, 301.0).await;
    }
    let got = sqs
        .receive_message()
        .queue_url(critical)
        .send()
        .await
        .unwrap();
    assert!(got.messages.unwrap_or_default().is_empty());
    assert_eq!(
        drain(&sqs, &pipeline["CriticalOrdersDLQUrl"]).await,
        ["poison"]
    );

    // Stand-ins: the topic is encrypted with the stack's key; the function is subscribed.
    let attributes = sns
        .get_topic_attributes()
        .topic_arn(topic)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert!(
        attributes["KmsMasterKeyId"].starts_with("arn:aws:kms:us-east-1:000000000000:key/"),
        "{attributes:?}"
    );
    assert!(subscriptions(&sns, topic)
        .await
        .contains_key(&pipeline["NotifierArn"]));

    // enforceSSL's Deny on aws:SecureTransport is stored verbatim, not enforced (plain HTTP here).
    let policy = json(&queue_attributes(&sqs, "critical-orders").await["Policy"]);
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    server.stop().await;
}

/// A CDK app with a Stage synthesizes its stacks into a nested assembly (`assembly-Dev/`): they
/// are applied in order, named `Dev-Topics` and `Dev-Queues` as CloudFormation would name them.
#[tokio::test]
async fn a_cdk_stage_s_nested_assembly_is_applied() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cdk-stage");
    let server = start(vec![fixture.into()], &[]).await;
    let outputs = outputs_by_stack(&server);
    let queues = &outputs["Dev-Queues"];
    assert!(
        queues["QUrl"].contains("/Dev-Queues-Q"),
        "generated from the stack name: {}",
        queues["QUrl"]
    );
    let report = reapply_report(&server, vec![fixture.into()], &[]);
    let stacks: Vec<&str> = report.stacks.iter().map(|s| s.stack.as_str()).collect();
    assert_eq!(stacks, ["Dev-Topics", "Dev-Queues"]);
    assert!(
        report.stacks.iter().all(|s| s.stand_ins.is_empty()),
        "CDK metadata is not reported as a stand-in"
    );
    sns(&server)
        .publish()
        .topic_arn(&queues["TArn"])
        .message("staged")
        .send()
        .await
        .unwrap();
    assert_eq!(drain(&sqs(&server), &queues["QUrl"]).await, ["staged"]);
    server.stop().await;
}

/// A broken cloud assembly stops start-up with a message naming the file, never a panic.
#[tokio::test]
async fn broken_cdk_assemblies_fail_naming_the_problem() {
    for (manifest, expected) in [
        ("{not json", "manifest.json: not valid JSON"),
        (r#"{"artifacts": []}"#, "artifacts must be an object"),
        (
            r#"{"artifacts": {"S": {"type": "aws:cloudformation:stack"}}}"#,
            "artifact S: properties.templateFile is required",
        ),
        (
            r#"{"artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}}}}"#,
            "S.template.json: cannot read",
        ),
    ] {
        let dir = TempDir::new();
        dir.write("manifest.json", manifest);
        let error = match lyrebird::spawn(config(vec![dir.0.clone()], &[])).await {
            Ok(_) => panic!("start-up should fail for {manifest}"),
            Err(e) => e.to_string(),
        };
        assert_mentions(&error, &[expected]);
    }
}
