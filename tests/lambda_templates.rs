//! Functions from templates (`--init`): SAM functions with Globals and CodeUri relative to the
//! template, AWS::Lambda::Function with inline ZipFile or a code folder, Permission accepted,
//! Ref/GetAtt in Outputs, idempotent re-application, and a missing CodeUri that fails only its
//! own invocations.

mod common;
#[path = "common/lambda.rs"]
mod lambda;

use std::collections::HashMap;
use std::path::PathBuf;

use lyrebird::{Config, RunningServer};

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("lyrebird-lambda-tpl-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(init: Vec<PathBuf>) -> Config {
    Config {
        port: 0,
        test_endpoints: true,
        init,
        ..Config::default()
    }
}

fn outputs(server: &RunningServer) -> HashMap<String, String> {
    server
        .app
        .init_outputs
        .iter()
        .map(|o| (o.output_key.clone(), o.output_value.clone()))
        .collect()
}

const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Runtime: nodejs20.x
    Timeout: 12
    MemorySize: 256
    Environment:
      Variables:
        STAGE: !Ref Stage
        SHARED: from-globals
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties: {QueueName: orders}
  NodeFn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub 'node-fn-${Stage}'
      CodeUri: functions/node/
      Handler: handlers/app.handler
      ReservedConcurrencyLimit: 50
      Environment:
        Variables:
          QUEUE_URL: !Ref Orders
          SHARED: own
  PyFn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: 5
      InlineCode: |
        import os
        def handler(event, context):
            return {"py": event["n"] * 2, "timeout": os.environ.get("STAGE")}
  ClassicFn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: classic
      Runtime: nodejs20.x
      Handler: index.handler
      Role: arn:aws:iam::000000000000:role/classic
      ReservedConcurrentExecutions: 2
      Code:
        ZipFile: |
          exports.handler = async (e) => ({ classic: e.n });
  FolderFn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: folder
      Runtime: python3.12
      Handler: main.handler
      Role: arn:aws:iam::000000000000:role/folder
      Code: functions/py
  Allow:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref NodeFn
      Principal: sqs.amazonaws.com
      SourceArn: !GetAtt Orders.Arn
  Broken:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: broken
      CodeUri: does/not/exist
      Handler: index.handler
Outputs:
  NodeArn: {Value: !GetAtt NodeFn.Arn}
  NodeName: {Value: !Ref NodeFn}
  PyName: {Value: !Ref PyFn}
  ClassicArn: {Value: !GetAtt ClassicFn.Arn}
"#;

fn write_template(dir: &TempDir) -> PathBuf {
    dir.write(
        "functions/node/handlers/app.js",
        "exports.handler = async (e, ctx) => ({ n: e.n, stage: process.env.STAGE, shared: process.env.SHARED, queue: process.env.QUEUE_URL, timeout: ctx.getRemainingTimeInMillis() > 11000 });",
    );
    dir.write(
        "functions/py/main.py",
        "def handler(event, context):\n    return 'folder ' + str(event['n'])\n",
    );
    dir.write("template.yaml", TEMPLATE)
}

#[tokio::test]
async fn sam_and_cloudformation_functions_run_their_code() {
    let dir = TempDir::new();
    let path = write_template(&dir);
    let server = lyrebird::spawn(config(vec![path.clone()]))
        .await
        .expect("starts");
    let client = lambda::client(&server);
    let out = outputs(&server);
    assert_eq!(out["NodeName"], "node-fn-dev");
    assert_eq!(
        out["NodeArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:node-fn-dev"
    );
    assert_eq!(
        out["ClassicArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:classic"
    );
    assert!(
        out["PyName"].starts_with("template-PyFn-"),
        "{}",
        out["PyName"]
    );

    let (body, error) = lambda::invoke(&client, "node-fn-dev", r#"{"n":1}"#).await;
    assert_eq!(error, None, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["n"], 1);
    assert_eq!(body["stage"], "dev", "Globals variables resolve parameters");
    assert_eq!(
        body["shared"], "own",
        "the function's own variable wins over Globals"
    );
    assert!(
        body["queue"]
            .as_str()
            .unwrap()
            .ends_with("/000000000000/orders"),
        "{body}"
    );
    assert_eq!(body["timeout"], true, "Globals Timeout applies");

    let configuration = client
        .get_function_configuration()
        .function_name("node-fn-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (configuration.timeout, configuration.memory_size),
        (Some(12), Some(256))
    );
    // Created when the template was applied (not at the epoch), with a revision.
    let modified = configuration.last_modified().unwrap_or_default();
    assert!(
        modified.starts_with("20") && !modified.starts_with("1970"),
        "{modified}"
    );
    assert!(!configuration.revision_id().unwrap_or_default().is_empty());
    let py = client
        .get_function()
        .function_name(&out["PyName"])
        .send()
        .await
        .unwrap();
    assert_eq!(
        py.configuration.unwrap().timeout,
        Some(5),
        "its own Timeout wins"
    );

    let (body, error) = lambda::invoke(&client, &out["PyName"], r#"{"n":4}"#).await;
    assert_eq!(
        (body.as_str(), error),
        (r#"{"py": 8, "timeout": "dev"}"#, None)
    );
    let (body, error) = lambda::invoke(&client, "classic", r#"{"n":3}"#).await;
    assert_eq!((body.as_str(), error), (r#"{"classic":3}"#, None));
    let classic = client
        .get_function()
        .function_name("classic")
        .send()
        .await
        .unwrap();
    assert_eq!(
        classic.concurrency.unwrap().reserved_concurrent_executions,
        Some(2)
    );
    let (body, error) = lambda::invoke(&client, "folder", r#"{"n":5}"#).await;
    assert_eq!((body.as_str(), error), ("\"folder 5\"", None));

    // The function whose code is missing exists, and only its invocations fail.
    let (body, error) = lambda::invoke(&client, "broken", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errorType"], "Runtime.ExitError");

    // Re-applying the unchanged template changes nothing.
    let app = &server.app;
    let report = lyrebird::template::provision_report(
        &config(vec![path.clone()]),
        &app.sqs,
        &app.sns,
        &app.lambda,
        &app.events,
        &app.default_host,
    )
    .expect("re-applies");
    let stack = &report.stacks[0];
    assert_eq!((stack.created, stack.updated), (0, 0));
    // A changed property is an update.
    std::fs::write(&path, TEMPLATE.replace("Timeout: 5", "Timeout: 6")).unwrap();
    let report = lyrebird::template::provision_report(
        &config(vec![path]),
        &app.sqs,
        &app.sns,
        &app.lambda,
        &app.events,
        &app.default_host,
    )
    .expect("re-applies");
    assert_eq!((report.stacks[0].created, report.stacks[0].updated), (0, 1));
    let py = client
        .get_function()
        .function_name(&out["PyName"])
        .send()
        .await
        .unwrap();
    assert_eq!(py.configuration.unwrap().timeout, Some(6));
    server.stop().await;
}

/// A CDK assembly's function: its code is the staged asset folder named by the resource's
/// `aws:asset:path` metadata (the S3 location is not fetched); a SAM CodeUri may be a zip.
#[tokio::test]
async fn cdk_code_assets_and_zip_code_uris_run() {
    let dir = TempDir::new();
    dir.write(
        "asset.0123abcd/index.js",
        "exports.handler = async (e) => ({ fromAsset: e.n });",
    );
    std::fs::write(
        dir.0.join("built.zip"),
        lambda::zip(&[(
            "app.py",
            "def handler(e, c):\n    return 'zipped ' + str(e['n'])\n",
        )]),
    )
    .unwrap();
    let template = r#"{
      "Resources": {
        "Fn": {
          "Type": "AWS::Lambda::Function",
          "Properties": {
            "Code": {"S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}, "S3Key": "0123abcd.zip"},
            "Handler": "index.handler",
            "Role": "arn:aws:iam::000000000000:role/r",
            "Runtime": "nodejs20.x",
            "FunctionName": "from-asset"
          },
          "Metadata": {"aws:asset:path": "asset.0123abcd", "aws:asset:is-bundled": false, "aws:asset:property": "Code"}
        },
        "Zipped": {
          "Type": "AWS::Serverless::Function",
          "Properties": {"FunctionName": "zipped", "CodeUri": "built.zip", "Handler": "app.handler", "Runtime": "python3.12"}
        }
      }
    }"#;
    let path = dir.write("Stack.template.json", template);
    let server = lyrebird::spawn(config(vec![path])).await.expect("starts");
    let client = lambda::client(&server);
    let (body, error) = lambda::invoke(&client, "from-asset", r#"{"n":2}"#).await;
    assert_eq!((body.as_str(), error), (r#"{"fromAsset":2}"#, None));
    let (body, error) = lambda::invoke(&client, "zipped", r#"{"n":3}"#).await;
    assert_eq!((body.as_str(), error), ("\"zipped 3\"", None));
    server.stop().await;
}
