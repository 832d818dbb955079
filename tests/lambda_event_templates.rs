//! Event sources from templates: `AWS::Lambda::EventSourceMapping`, SAM `Events` of types SQS
//! and SNS, and their convergence when the template is applied again at the next start.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::time::Duration;

use serde_json::Value;

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: alerts
  Worker:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: worker
      Runtime: nodejs20.x
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/r
      Code:
        ZipFile: "exports.handler = async (e) => { console.log('WORKER', JSON.stringify(e)); };"
  WorkerMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Worker
      EventSourceArn: !GetAtt Jobs.Arn
      BatchSize: 2
      FilterCriteria:
        Filters:
          - Pattern: '{"body": {"kind": ["job"]}}'
  Notifier:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: notifier
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async (e) => { console.log('NOTIFIER', e.Records[0].Sns.Message); };"
      Events:
        Alert:
          Type: SNS
          Properties:
            Topic: !Ref Alerts
            FilterPolicy:
              level: [high]
Outputs:
  MappingId:
    Value: !Ref WorkerMapping
  MappingArn:
    Value: !GetAtt WorkerMapping.EventSourceMappingArn
"#;

async fn invocations(endpoint: &str, function: &str) -> Vec<Value> {
    let url = format!("{endpoint}/_lyrebird/lambda/invocations?function={function}");
    let body: Value =
        serde_json::from_slice(&reqwest::get(url).await.unwrap().bytes().await.unwrap()).unwrap();
    body["Invocations"].as_array().cloned().unwrap_or_default()
}

async fn wait_for(what: &str, endpoint: &str, function: &str, records: u64) -> Vec<Value> {
    for _ in 0..750 {
        let log = invocations(endpoint, function).await;
        if log
            .iter()
            .map(|i| i["batch_size"].as_u64().unwrap())
            .sum::<u64>()
            >= records
        {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn template_event_sources_run_and_converge_on_the_next_start() {
    let dir = std::env::temp_dir().join(format!(
        "lyrebird-esm-templates-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("template.yaml");
    std::fs::write(&template, TEMPLATE).unwrap();
    let data = dir.join("data");
    let args = [
        "--data-dir".to_string(),
        data.display().to_string(),
        "--init".to_string(),
        template.display().to_string(),
    ];
    let first_uuid = {
        let server = common::process::start(&args, &[]).await;
        let client = lambda::client_at(&server.endpoint);
        let mappings = client
            .list_event_source_mappings()
            .function_name("worker")
            .send()
            .await
            .unwrap();
        let mapping = &mappings.event_source_mappings()[0];
        assert_eq!(mapping.batch_size(), Some(2));
        assert_eq!(
            mapping.event_source_arn(),
            Some("arn:aws:sqs:us-east-1:000000000000:jobs")
        );
        let uuid = mapping.uuid().unwrap().to_string();
        let outputs: Value = serde_json::from_slice(
            &reqwest::get(format!("{}/_lyrebird/init/outputs", server.endpoint))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        let output = |key: &str| {
            outputs["Outputs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["OutputKey"] == key)
                .unwrap()["OutputValue"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(output("MappingId"), uuid);
        assert!(output("MappingArn").ends_with(&format!(":event-source-mapping:{uuid}")));

        let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
        let url = sqs
            .get_queue_url()
            .queue_name("jobs")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        for body in [
            r#"{"kind":"job"}"#,
            r#"{"kind":"noise"}"#,
            r#"{"kind":"job"}"#,
            r#"{"kind":"job"}"#,
        ] {
            common::send(&sqs, &url, body).await;
        }
        let log = wait_for("the worker", &server.endpoint, "worker", 3).await;
        assert!(
            log.iter().all(|i| i["batch_size"].as_u64().unwrap() <= 2),
            "{log:?}"
        );
        assert!(log.iter().all(|i| i["source"] == "aws:sqs"), "{log:?}");

        let sns = common::sns_at(&server.endpoint);
        for level in ["low", "high"] {
            sns.publish()
                .topic_arn("arn:aws:sns:us-east-1:000000000000:alerts")
                .message(format!("level {level}"))
                .message_attributes(
                    "level",
                    aws_sdk_sns::types::MessageAttributeValue::builder()
                        .data_type("String")
                        .string_value(level)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        let log = wait_for("the notifier", &server.endpoint, "notifier", 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let log = if log.len() == 1 {
            invocations(&server.endpoint, "notifier").await
        } else {
            log
        };
        assert_eq!(
            log.len(),
            1,
            "the filter policy let only the high alert through: {log:?}"
        );
        assert_eq!(log[0]["source"], "aws:sns");
        uuid
    };
    // The next start applies the template again: the same mapping, unchanged.
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let mappings = client.list_event_source_mappings().send().await.unwrap();
    assert_eq!(mappings.event_source_mappings().len(), 1);
    assert_eq!(
        mappings.event_source_mappings()[0].uuid(),
        Some(first_uuid.as_str())
    );
    let sns = common::sns_at(&server.endpoint);
    let subscriptions = sns.list_subscriptions().send().await.unwrap();
    assert_eq!(
        subscriptions.subscriptions().len(),
        1,
        "one lambda subscription"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

const RULE_EVENTS_TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Reactor:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: reactor
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async (e) => { console.log('REACTOR', e['detail-type']); };"
      Events:
        OrderCreated:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [shop]
              detail-type: [OrderCreated]
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
"#;

/// SAM `Events` of types EventBridgeRule and Schedule: a rule on the default bus whose target is
/// the function, so a matching PutEvents and the schedule (on the test clock) invoke it, and a
/// non-matching event does not.
#[tokio::test]
async fn sam_eventbridge_rule_and_schedule_events_invoke_the_function() {
    let dir = std::env::temp_dir().join(format!(
        "lyrebird-sam-rules-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("template.yaml");
    std::fs::write(&template, RULE_EVENTS_TEMPLATE).unwrap();
    let args = [
        "--in-memory".to_string(),
        "--test-endpoints".to_string(),
        "--init".to_string(),
        template.display().to_string(),
    ];
    let server = common::process::start(&args, &[]).await;
    let http = reqwest::Client::new();
    let put_events = |detail_type: &str| {
        let body = serde_json::json!({"Entries": [{
            "Source": "shop", "DetailType": detail_type, "Detail": "{\"id\":1}"
        }]});
        http.post(&server.endpoint)
            .header("X-Amz-Target", "AWSEvents.PutEvents")
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
    };
    let answer: Value = serde_json::from_slice(
        &put_events("OrderShipped")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["FailedEntryCount"], 0, "{answer}");
    let answer: Value = serde_json::from_slice(
        &put_events("OrderCreated")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["FailedEntryCount"], 0, "{answer}");
    let log = wait_for("the rule's invocation", &server.endpoint, "reactor", 1).await;
    assert_eq!(log.len(), 1, "only the matching event invokes: {log:?}");
    // The schedule fires when the service clock passes a minute.
    http.post(format!("{}/_lyrebird/clock/advance", server.endpoint))
        .header("Content-Type", "application/json")
        .body(r#"{"seconds": 61}"#)
        .send()
        .await
        .unwrap();
    let log = wait_for("the scheduled invocation", &server.endpoint, "reactor", 2).await;
    assert!(log.len() >= 2, "{log:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

const MISSING_CODE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Poison:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: broken-dlq
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: broken-jobs
      VisibilityTimeout: 30
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Poison.Arn
        maxReceiveCount: 2
  Other:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: other-jobs
  Broken:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: broken
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: does/not/exist
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 1
  Fine:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fine
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async (e) => { console.log('FINE', e.Records[0].body); };"
      Events:
        Other:
          Type: SQS
          Properties:
            Queue: !GetAtt Other.Arn
"#;

/// A mapping to a function whose CodeUri does not exist: a clear log line, each batch fails as
/// Lambda's would (back to the queue after its visibility timeout, then the dead-letter queue),
/// and the rest of the template keeps working.
#[tokio::test]
async fn a_mapping_to_a_function_with_missing_code_returns_its_messages() {
    let (dir, template) = template_in("lyrebird-missing-code", MISSING_CODE);
    let args = [
        "--init".to_string(),
        template.display().to_string(),
        "--test-endpoints".to_string(),
    ];
    let server = common::process::start(&args, &[]).await;
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let url = |name: &str| {
        let sqs = sqs.clone();
        let name = name.to_string();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let (jobs, poison, other) = (
        url("broken-jobs").await,
        url("broken-dlq").await,
        url("other-jobs").await,
    );
    common::send(&sqs, &jobs, "poison pill").await;
    common::send(&sqs, &other, "still served").await;

    let failed = wait_for("the first failed batch", &server.endpoint, "broken", 1).await;
    assert_eq!(failed[0]["outcome"], "runtime_error", "{failed:?}");
    assert_eq!(failed[0]["source"], "aws:sqs");
    let fine = wait_for("the fine function", &server.endpoint, "fine", 1).await;
    assert_eq!(fine[0]["outcome"], "success");
    {
        let log = server.output.lock().unwrap().join("\n");
        assert!(
            log.contains("CodeUri does/not/exist"),
            "a clear line names the missing code: {log}"
        );
        assert!(
            log.contains("cannot start the function: its code folder")
                && log.contains("does/not/exist does not exist"),
            "each failed start says why: {log}"
        );
        assert!(
            log.contains("back to the queue after its visibility timeout"),
            "{log}"
        );
    }
    // Back to the queue after the visibility timeout; the second failure is the last one the
    // redrive policy allows, and the next receive moves it to the dead-letter queue.
    advance(&server.endpoint, 31.0).await;
    wait_for("the second failed batch", &server.endpoint, "broken", 2).await;
    advance(&server.endpoint, 31.0).await;
    let mut moved = Vec::new();
    for _ in 0..10 {
        let got = sqs
            .receive_message()
            .queue_url(&poison)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        moved.extend(
            got.messages()
                .iter()
                .map(|m| m.body().unwrap_or_default().to_string()),
        );
        if !moved.is_empty() {
            break;
        }
    }
    assert_eq!(moved, vec!["poison pill".to_string()]);
    assert_eq!(invocations(&server.endpoint, "broken").await.len(), 2);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh folder holding `text` as its template.yaml: (the folder, the template's path).
fn template_in(prefix: &str, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid_text()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("template.yaml");
    std::fs::write(&template, text).unwrap();
    (dir, template)
}

fn uuid_text() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn advance(endpoint: &str, seconds: f64) {
    let resp = common::http()
        .post(format!("{endpoint}/_lyrebird/clock/advance"))
        .header("content-type", "application/json")
        .body(format!("{{\"seconds\":{seconds}}}"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

const ASYNC_CONFIG: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Failures:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: async-failures
  Sam:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: sam-async
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async () => { throw new Error('sam says no'); };"
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt Failures.Arn
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: plain-async
      Runtime: nodejs20.x
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/r
      Code:
        ZipFile: "exports.handler = async () => 'ok';"
  PlainConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Plain
      Qualifier: $LATEST
      MaximumEventAgeInSeconds: 120
      MaximumRetryAttempts: 1
"#;

/// `AWS::Lambda::EventInvokeConfig` and SAM's `EventInvokeConfig` set the functions' async
/// settings, which asynchronous invocations then follow.
#[tokio::test]
async fn templates_set_event_invoke_configs() {
    let (dir, template) = template_in("lyrebird-async-templates", ASYNC_CONFIG);
    let args = ["--init".to_string(), template.display().to_string()];
    let server = common::process::start(&args, &[]).await;
    let client = lambda::client_at(&server.endpoint);
    let plain = client
        .get_function_event_invoke_config()
        .function_name("plain-async")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            plain.maximum_retry_attempts(),
            plain.maximum_event_age_in_seconds()
        ),
        (Some(1), Some(120))
    );
    let sam = client
        .get_function_event_invoke_config()
        .function_name("sam-async")
        .send()
        .await
        .unwrap();
    assert_eq!(sam.maximum_retry_attempts(), Some(0));
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let failures = sqs
        .get_queue_url()
        .queue_name("async-failures")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_eq!(
        sam.destination_config()
            .unwrap()
            .on_failure()
            .unwrap()
            .destination(),
        Some(common::queue_arn(&sqs, &failures).await.as_str())
    );
    client
        .invoke()
        .function_name("sam-async")
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(aws_sdk_lambda::primitives::Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let got = sqs
            .receive_message()
            .queue_url(&failures)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        bodies.extend(
            got.messages()
                .iter()
                .map(|m| m.body().unwrap_or_default().to_string()),
        );
        if !bodies.is_empty() {
            break;
        }
    }
    let record: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["responsePayload"]["errorMessage"], "sam says no");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

const SAM_GENERATED: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: generated-jobs
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: generated-alerts
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: hello-world
      Runtime: nodejs20.x
      Handler: index.handler
      InlineCode: "exports.handler = async () => 'ok';"
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
        Alert:
          Type: SNS
          Properties:
            Topic: !Ref Alerts
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
Outputs:
  RoleArn:
    Value: !GetAtt HelloWorldFunctionRole.Arn
  RoleName:
    Value: !Ref HelloWorldFunctionRole
  MappingId:
    Value: !Ref HelloWorldFunctionWork
  MappingArn:
    Value: !GetAtt HelloWorldFunctionWork.EventSourceMappingArn
  SubscriptionArn:
    Value: !Ref HelloWorldFunctionAlert
  RuleArn:
    Value: !GetAtt HelloWorldFunctionTick.Arn
  Permission:
    Value: !Ref HelloWorldFunctionAlertPermission
"#;

async fn outputs_of(endpoint: &str) -> std::collections::HashMap<String, String> {
    let outputs: Value = serde_json::from_slice(
        &reqwest::get(format!("{endpoint}/_lyrebird/init/outputs"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    outputs["Outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["OutputKey"].as_str().unwrap().to_string(),
                o["OutputValue"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `sam init` templates refer to what SAM's transform generates (`HelloWorldFunctionRole`, the
/// events' mappings and subscriptions): those references resolve to the resources lyrebird made.
#[tokio::test]
async fn references_to_sam_generated_resources_resolve() {
    let (dir, template) = template_in("lyrebird-sam-generated", SAM_GENERATED);
    let args = [
        "--data-dir".to_string(),
        dir.join("data").display().to_string(),
        "--init".to_string(),
        template.display().to_string(),
    ];
    let first = {
        let server = common::process::start(&args, &[]).await;
        let outputs = outputs_of(&server.endpoint).await;
        let client = lambda::client_at(&server.endpoint);
        let function = client
            .get_function_configuration()
            .function_name("hello-world")
            .send()
            .await
            .unwrap();
        let role_name = &outputs["RoleName"];
        assert!(role_name.contains("HelloWorldFunctionRole"), "{outputs:?}");
        assert_eq!(
            outputs["RoleArn"],
            format!("arn:aws:iam::000000000000:role/{role_name}")
        );
        assert_eq!(function.role(), Some(outputs["RoleArn"].as_str()));
        let mappings = client.list_event_source_mappings().send().await.unwrap();
        let mapping = &mappings.event_source_mappings()[0];
        assert_eq!(mapping.uuid(), Some(outputs["MappingId"].as_str()));
        assert_eq!(
            mapping.event_source_mapping_arn(),
            Some(outputs["MappingArn"].as_str())
        );
        let sns = common::sns_at(&server.endpoint);
        let subscriptions = sns.list_subscriptions().send().await.unwrap();
        assert_eq!(
            subscriptions.subscriptions()[0].subscription_arn(),
            Some(outputs["SubscriptionArn"].as_str())
        );
        assert!(
            outputs["RuleArn"].starts_with("arn:aws:events:us-east-1:000000000000:rule/"),
            "{outputs:?}"
        );
        assert!(!outputs["Permission"].is_empty());
        outputs
    };
    // Applied again at the next start: the same stand-in names. (Not the mapping and the
    // subscription: the first server is killed at once, and start-up's template writes are not
    // flushed, as the template re-creates them; their convergence is tested above.)
    let server = common::process::start(&args, &[]).await;
    let again = outputs_of(&server.endpoint).await;
    for key in ["RoleArn", "RoleName", "RuleArn", "Permission"] {
        assert_eq!(again[key], first[key], "{key}");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// CloudFormation reports CreateEventSourceMapping's refusal of a queue whose visibility timeout
/// is below the function's Timeout: start-up fails naming the resource.
#[tokio::test]
async fn a_template_mapping_with_a_short_visibility_timeout_is_refused() {
    let dir = std::env::temp_dir().join(format!("lyrebird-short-visibility-{}", uuid_text()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("template.yaml");
    std::fs::write(
        &template,
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Timeout: 60
      InlineCode: "exports.handler = async () => 'ok';"
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
"#,
    )
    .unwrap();
    let config = lyrebird::Config {
        port: 0,
        init: vec![template],
        ..lyrebird::Config::default()
    };
    let error = match lyrebird::spawn(config).await {
        Ok(_) => panic!("start-up should fail"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("resource Slow"), "{error}");
    assert!(
        error.contains(
            "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"
        ),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

const SQS_SUBSCRIPTION: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Out:
    Type: String
Resources:
  Orders:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: buffered-orders
  Mine:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: my-buffer
  Buffered:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: buffered
      Runtime: python3.12
      Handler: index.handler
      Environment:
        Variables:
          OUT: !Ref Out
      InlineCode: |
        import json
        def handler(event, context):
            with open(__import__('os').environ['OUT'], 'a') as f:
                f.write(json.dumps(event) + '\n')
      Events:
        Order:
          Type: SNS
          Properties:
            Topic: !Ref Orders
            SqsSubscription: true
        Audit:
          Type: SNS
          Properties:
            Topic: !Ref Orders
            SqsSubscription:
              QueueArn: !GetAtt Mine.Arn
              QueueUrl: !Ref Mine
              BatchSize: 3
              Enabled: false
Outputs:
  Queue:
    Value: !GetAtt BufferedOrderQueue.Arn
  Subscription:
    Value: !Ref BufferedOrder
  Mapping:
    Value: !Ref BufferedOrderEventSourceMapping
  AuditMapping:
    Value: !Ref BufferedAuditEventSourceMapping
  Policy:
    Value: !Ref BufferedOrderQueuePolicy
"#;

/// SAM's SNS event with `SqsSubscription`: the topic feeds a queue (SAM's own, or the one
/// `QueueArn` names) that a mapping drains into the function, so the handler gets an SQS event
/// whose record body is the SNS notification.
#[tokio::test]
async fn sns_events_with_sqs_subscription_go_through_a_queue() {
    let (dir, template) = template_in("lyrebird-sqs-subscription", SQS_SUBSCRIPTION);
    let out = dir.join("events.jsonl");
    let args = [
        "--init".to_string(),
        template.display().to_string(),
        "--param".to_string(),
        format!("Out={}", out.display()),
    ];
    let server = common::process::start(&args, &[]).await;
    let outputs = outputs_of(&server.endpoint).await;
    let client = lambda::client_at(&server.endpoint);
    let mapping = client
        .get_event_source_mapping()
        .uuid(&outputs["Mapping"])
        .send()
        .await
        .unwrap();
    assert_eq!(mapping.event_source_arn(), Some(outputs["Queue"].as_str()));
    assert_eq!(mapping.batch_size(), Some(10), "SAM's default");
    let audit = client
        .get_event_source_mapping()
        .uuid(&outputs["AuditMapping"])
        .send()
        .await
        .unwrap();
    assert_eq!(
        audit.event_source_arn(),
        Some("arn:aws:sqs:us-east-1:000000000000:my-buffer")
    );
    assert_eq!(audit.batch_size(), Some(3));
    assert_eq!(audit.state(), Some("Disabled"));
    assert!(!outputs["Policy"].is_empty());

    let sns = common::sns_at(&server.endpoint);
    let subscriptions = sns.list_subscriptions().send().await.unwrap();
    let mut protocols: Vec<_> = subscriptions
        .subscriptions()
        .iter()
        .map(|s| (s.protocol().unwrap(), s.endpoint().unwrap()))
        .collect();
    protocols.sort();
    assert_eq!(
        protocols,
        vec![
            ("sqs", "arn:aws:sqs:us-east-1:000000000000:my-buffer"),
            ("sqs", outputs["Queue"].as_str()),
        ],
        "no lambda subscription"
    );
    sns.publish()
        .topic_arn("arn:aws:sns:us-east-1:000000000000:buffered-orders")
        .message("order 1")
        .send()
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..500 {
        events = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(events.len(), 1, "{events:?}");
    let record = &events[0]["Records"][0];
    assert_eq!(record["eventSource"], "aws:sqs");
    assert_eq!(record["eventSourceARN"], outputs["Queue"].as_str());
    let body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["Message"], "order 1");
    assert_eq!(
        body["TopicArn"],
        "arn:aws:sns:us-east-1:000000000000:buffered-orders"
    );
    // The disabled mapping left the copy in the user's queue.
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let url = sqs
        .get_queue_url()
        .queue_name("my-buffer")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(got.messages()[0].body().unwrap()).unwrap();
    assert_eq!(body["Message"], "order 1");
    assert!(
        outputs["Subscription"].starts_with("arn:aws:sns:us-east-1:000000000000:buffered-orders:")
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
