//! SQS validation and wire rules decided from AWS-recorded answers (issue 14, items 5–9, 12–17):
//! whole-request batch errors, attribute rules, SenderId, the query protocol's JSON answers and
//! self-closing empty results, message move task handles, and permission/tag limits.

mod common;

use base64::{engine::general_purpose::STANDARD, Engine};
use common::*;
use lyrebird::RunningServer;
use serde_json::{json, Value};

const VERSION: &str = "2012-11-05";

async fn json_ok(server: &RunningServer, op: &str, body: Value) -> Value {
    let (status, _, v) = json(server, op, &body.to_string()).await;
    assert_eq!(status, 200, "{op} {body}: {v}");
    v
}

/// A JSON call expected to fail: (status, query error code, message).
async fn json_err(server: &RunningServer, op: &str, body: Value) -> (u16, String, String) {
    let (status, code, v) = json(server, op, &body.to_string()).await;
    assert_ne!(status, 200, "{op} {body} succeeded: {v}");
    let code = code.unwrap_or_default();
    let code = code.split(';').next().unwrap_or_default().to_string();
    (
        status,
        code,
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

async fn create(server: &RunningServer, name: &str, attributes: Value) -> String {
    let v = json_ok(
        server,
        "CreateQueue",
        json!({"QueueName": name, "Attributes": attributes}),
    )
    .await;
    v["QueueUrl"].as_str().unwrap().to_string()
}

async fn visible_count(server: &RunningServer, url: &str) -> String {
    let v = json_ok(
        server,
        "GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]}),
    )
    .await;
    v["Attributes"]["ApproximateNumberOfMessages"]
        .as_str()
        .unwrap()
        .to_string()
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

// Item 5 -------------------------------------------------------------------------------------

#[tokio::test]
async fn fifo_batch_entry_without_group_or_dedup_id_fails_the_whole_request() {
    let server = server().await;
    let url = create(&server, "b.fifo", json!({"FifoQueue": "true"})).await;
    let good = json!({"Id": "a", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d"});
    let (status, code, message) = json_err(
        &server,
        "SendMessageBatch",
        json!({"QueueUrl": url, "Entries": [good, {"Id": "b", "MessageBody": "y", "MessageDeduplicationId": "e"}]}),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameterValue"));
    assert_eq!(
        message,
        "The request must contain the parameter MessageGroupId."
    );
    let (status, code, message) = json_err(
        &server,
        "SendMessageBatch",
        json!({"QueueUrl": url, "Entries": [good, {"Id": "b", "MessageBody": "y", "MessageGroupId": "g"}]}),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameterValue"));
    assert_eq!(
        message,
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    );
    assert_eq!(visible_count(&server, &url).await, "0", "nothing enqueued");

    // The query protocol answers the same whole-request error.
    let (status, body) = query(
        &server,
        &path_of(&url),
        &[
            ("Action", "SendMessageBatch"),
            ("Version", VERSION),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "x"),
            ("SendMessageBatchRequestEntry.1.MessageDeduplicationId", "d"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<Code>InvalidParameterValue</Code>"),
        "{body}"
    );
    assert!(
        body.contains("The request must contain the parameter MessageGroupId."),
        "{body}"
    );

    // A per-message content error stays a per-entry failure.
    let v = json_ok(
        &server,
        "SendMessageBatch",
        json!({"QueueUrl": url, "Entries": [good, {"Id": "b", "MessageBody": "bad\u{1}", "MessageGroupId": "g", "MessageDeduplicationId": "e"}]}),
    )
    .await;
    assert_eq!(v["Successful"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["Failed"][0]["Id"], "b", "{v}");
}

// Item 6 -------------------------------------------------------------------------------------

#[tokio::test]
async fn batch_total_size_is_checked_before_entry_sizes() {
    let server = server().await;
    let url = create(&server, "big", json!({})).await;
    let body = "a".repeat(1_048_577);
    let (status, code, message) = json_err(
        &server,
        "SendMessageBatch",
        json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": body}]}),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "AWS.SimpleQueueService.BatchRequestTooLong")
    );
    assert_eq!(
        message,
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes."
    );
    assert_eq!(visible_count(&server, &url).await, "0");
}

// Item 7 -------------------------------------------------------------------------------------

#[tokio::test]
async fn fifo_queue_attribute_is_unknown_on_standard_queues() {
    let server = server().await;
    let (status, code, message) = json_err(
        &server,
        "CreateQueue",
        json!({"QueueName": "std", "Attributes": {"FifoQueue": "false"}}),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "InvalidAttributeName"));
    assert_eq!(message, "Unknown Attribute FifoQueue.");

    let url = create(&server, "std", json!({})).await;
    for value in ["true", "false"] {
        let (_, code, message) = json_err(
            &server,
            "SetQueueAttributes",
            json!({"QueueUrl": url, "Attributes": {"FifoQueue": value}}),
        )
        .await;
        assert_eq!(code, "InvalidAttributeName", "{value}");
        assert_eq!(message, "Unknown Attribute FifoQueue.", "{value}");
    }

    let fifo = create(&server, "f.fifo", json!({"FifoQueue": "true"})).await;
    json_ok(
        &server,
        "SetQueueAttributes",
        json!({"QueueUrl": fifo, "Attributes": {"FifoQueue": "true"}}),
    )
    .await;
    let (_, code, message) = json_err(
        &server,
        "SetQueueAttributes",
        json!({"QueueUrl": fifo, "Attributes": {"FifoQueue": "false"}}),
    )
    .await;
    assert_eq!(code, "InvalidAttributeValue");
    assert_eq!(
        message,
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."
    );
}

// Items 8 and 9 ------------------------------------------------------------------------------

#[tokio::test]
async fn attribute_names_take_letters_of_any_script() {
    let server = server().await;
    let url = create(&server, "attrs", json!({})).await;
    json_ok(
        &server,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "t",
               "MessageAttributes": {"attr.1øßä": {"DataType": "String", "StringValue": "Valida"}}}),
    )
    .await;
    for bad in ["Invalid-!-attr", "Invalid-§-attr", "Invalid-(-attr"] {
        let (_, code, _) = json_err(
            &server,
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "t",
                   "MessageAttributes": {bad: {"DataType": "String", "StringValue": "v"}}}),
        )
        .await;
        assert_eq!(code, "InvalidParameterValue", "{bad}");
    }
}

#[tokio::test]
async fn control_characters_in_string_attribute_values_are_invalid_parameter_values() {
    let server = server().await;
    let url = create(&server, "ctrl", json!({})).await;
    let (status, code, message) = json_err(
        &server,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "t",
               "MessageAttributes": {"attr1": {"DataType": "String", "StringValue": "Invalid-\u{8},\u{b}"}}}),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "InvalidParameterValue"));
    assert!(
        message.starts_with("Invalid characters found."),
        "{message}"
    );
    // A body keeps its own code.
    let (_, code, _) = json_err(
        &server,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "bad\u{8}"}),
    )
    .await;
    assert_eq!(code, "InvalidMessageContents");
}

// Item 12 ------------------------------------------------------------------------------------

#[tokio::test]
async fn message_system_attribute_names_win_on_json_attribute_names_on_query() {
    let server = server().await;
    let url = create(&server, "sel", json!({"VisibilityTimeout": "0"})).await;
    json_ok(
        &server,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "msg"}),
    )
    .await;
    let v = json_ok(
        &server,
        "ReceiveMessage",
        json!({"QueueUrl": url, "MessageSystemAttributeNames": ["All"], "AttributeNames": ["SenderId"]}),
    )
    .await;
    let attributes = v["Messages"][0]["Attributes"].as_object().unwrap();
    assert!(attributes.contains_key("SentTimestamp"), "{v}");
    assert!(attributes.contains_key("ApproximateReceiveCount"), "{v}");

    let (_, body) = query(
        &server,
        &path_of(&url),
        &[
            ("Action", "ReceiveMessage"),
            ("Version", VERSION),
            ("MessageSystemAttributeName.1", "All"),
            ("AttributeName.1", "SenderId"),
        ],
    )
    .await;
    assert!(body.contains("<Name>SenderId</Name>"), "{body}");
    assert!(!body.contains("<Name>SentTimestamp</Name>"), "{body}");
}

// Item 13 ------------------------------------------------------------------------------------

#[tokio::test]
async fn sender_id_is_the_account_not_the_access_key() {
    let server = server().await;
    let client = sqs_as(&server, "AKIAIOSFODNN7EXAMPLE", "us-east-1");
    let url = create_queue(&client, "sender", &[]).await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("b")
        .send()
        .await
        .unwrap();
    let out = client
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap();
    let m = &out.messages()[0];
    let sender = m
        .attributes()
        .unwrap()
        .get(&aws_sdk_sqs::types::MessageSystemAttributeName::SenderId)
        .unwrap();
    assert_eq!(sender, "000000000000");
}

// Items 14 and 15 ----------------------------------------------------------------------------

async fn get_query(
    server: &RunningServer,
    path: &str,
    params: &[(&str, &str)],
    accept_json: bool,
) -> (u16, Option<String>, String) {
    let mut req = http()
        .get(format!("{}{}", server.endpoint(), path))
        .query(params);
    if accept_json {
        req = req.header("accept", "application/json");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, content_type, resp.text().await.unwrap())
}

#[tokio::test]
async fn query_with_accept_json_answers_json() {
    let server = server().await;
    let url = create(&server, "qj", json!({})).await;
    let body = "{\"foo\": \"ba\rr\"}";
    json_ok(
        &server,
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": body}),
    )
    .await;
    let params = [
        ("Action", "ReceiveMessage"),
        ("QueueUrl", url.as_str()),
        ("Version", VERSION),
        ("VisibilityTimeout", "0"),
    ];
    let (status, content_type, text) = get_query(&server, "/", &params, true).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let result = &doc["ReceiveMessageResponse"]["ReceiveMessageResult"];
    assert_eq!(result["messages"][0]["Body"], body, "{doc}");
    assert!(doc["ReceiveMessageResponse"]["ResponseMetadata"]["RequestId"].is_string());

    let list = [("Action", "ListQueues"), ("Version", VERSION)];
    let (_, _, text) = get_query(&server, "/", &list, true).await;
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc.get("ListQueuesResponse").is_some(), "{doc}");
    // Without the header: XML, as before.
    let (_, _, text) = get_query(&server, "/", &list, false).await;
    assert!(text.contains("<ListQueuesResponse"), "{text}");

    // Errors too, with the error's own message.
    let missing = [
        ("Action", "GetQueueUrl"),
        ("QueueName", "nope"),
        ("Version", VERSION),
    ];
    let (status, _, text) = get_query(&server, "/", &missing, true).await;
    assert_eq!(status, 400);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["Error"]["Code"], "AWS.SimpleQueueService.NonExistentQueue",
        "{doc}"
    );
    assert!(doc["Error"]["Message"].is_string(), "{doc}");

    // A GET of a queue URL without an Action stays XML.
    let (status, _, text) = get_query(&server, &path_of(&url), &[], true).await;
    assert_eq!(status, 404);
    assert!(text.contains("<UnknownOperationException"), "{text}");
}

#[tokio::test]
async fn sns_query_with_accept_json_answers_json() {
    let server = server().await;
    let create = [
        ("Action", "CreateTopic"),
        ("Name", "jt"),
        ("Version", "2010-03-31"),
    ];
    let (status, content_type, text) = get_query(&server, "/", &create, true).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let arn = doc["CreateTopicResponse"]["CreateTopicResult"]["TopicArn"]
        .as_str()
        .unwrap();
    assert!(arn.ends_with(":jt"), "{doc}");
    let list = [("Action", "ListTopics"), ("Version", "2010-03-31")];
    let (_, _, text) = get_query(&server, "/", &list, true).await;
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        doc["ListTopicsResponse"]["ListTopicsResult"]["Topics"][0]["TopicArn"], arn,
        "{doc}"
    );
}

#[tokio::test]
async fn empty_query_results_are_self_closing() {
    let server = server().await;
    let url = create(&server, "empty", json!({})).await;
    let (status, _, text) = get_query(
        &server,
        &path_of(&url),
        &[("Action", "ReceiveMessage")],
        false,
    )
    .await;
    assert_eq!(status, 200);
    assert!(text.contains("<ReceiveMessageResult/>"), "{text}");
    let (_, body) = query(
        &server,
        "/",
        &[("Action", "ListQueues"), ("QueueNamePrefix", "zzz")],
    )
    .await;
    assert!(body.contains("<ListQueuesResult/>"), "{body}");
}

// Item 16 ------------------------------------------------------------------------------------

#[tokio::test]
async fn move_task_handles_carry_task_and_source() {
    let server = server().await;
    let dlq = create(&server, "mt-dlq", json!({})).await;
    let attrs = json_ok(
        &server,
        "GetQueueAttributes",
        json!({"QueueUrl": dlq, "AttributeNames": ["QueueArn"]}),
    )
    .await;
    let dlq_arn = attrs["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_string();
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}).to_string();
    create(&server, "mt-src", json!({"RedrivePolicy": policy})).await;
    let started = json_ok(
        &server,
        "StartMessageMoveTask",
        json!({"SourceArn": dlq_arn}),
    )
    .await;
    let handle = started["TaskHandle"].as_str().unwrap();
    let decoded = String::from_utf8(STANDARD.decode(handle).unwrap()).unwrap();
    let task: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(task["sourceArn"], dlq_arn.as_str(), "{decoded}");
    let task_id = task["taskId"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(task_id).is_ok(), "{decoded}");
    assert_eq!(
        decoded,
        format!("{{\"taskId\":\"{task_id}\",\"sourceArn\":\"{dlq_arn}\"}}")
    );

    let encode = |task: &str, arn: &str| {
        STANDARD.encode(json!({"taskId": task, "sourceArn": arn}).to_string())
    };
    let unknown_source = encode(
        "10f57157-fc38-4da9-a113-4de7e12d05dd",
        "arn:aws:sqs:us-east-1:878966065785:test-queue-doesnt-exist-123456",
    );
    let (status, code, message) = json_err(
        &server,
        "CancelMessageMoveTask",
        json!({"TaskHandle": unknown_source}),
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "ResourceNotFoundException"));
    assert_eq!(
        message,
        "The resource that you specified for the SourceArn parameter doesn't exist."
    );
    let unknown_task = encode("10f57157-fc38-4da9-a113-4de7e12d05aa", &dlq_arn);
    let (status, code, message) = json_err(
        &server,
        "CancelMessageMoveTask",
        json!({"TaskHandle": unknown_task}),
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "ResourceNotFoundException"));
    assert_eq!(message, "Task does not exist.");
    let (_, code, message) = json_err(
        &server,
        "CancelMessageMoveTask",
        json!({"TaskHandle": "foobared"}),
    )
    .await;
    assert_eq!(code, "InvalidParameterValue");
    assert_eq!(message, "Value for parameter TaskHandle is invalid.");
}

// Item 17 ------------------------------------------------------------------------------------

#[tokio::test]
async fn owner_only_actions_and_tag_limits() {
    let server = server().await;
    let url = create(&server, "perm", json!({})).await;
    for action in [
        "AddPermission",
        "CreateQueue",
        "DeleteQueue",
        "ListQueues",
        "SetQueueAttributes",
        "RemovePermission",
    ] {
        let (_, code, message) = json_err(
            &server,
            "AddPermission",
            json!({"QueueUrl": url, "Label": "l", "AWSAccountIds": ["111111111111"], "Actions": [action]}),
        )
        .await;
        assert_eq!(code, "InvalidParameterValue", "{action}");
        assert_eq!(
            message,
            format!("Value SQS:{action} for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke this action."),
        );
    }

    let tags: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("k{i}"), Value::String("v".into())))
        .collect();
    json_ok(&server, "TagQueue", json!({"QueueUrl": url, "Tags": tags})).await;
    let (_, code, message) = json_err(
        &server,
        "TagQueue",
        json!({"QueueUrl": url, "Tags": {"one-more": "v"}}),
    )
    .await;
    assert_eq!(code, "InvalidParameterValue");
    assert_eq!(message, "Too many tags added for queue perm.");

    let (_, code, message) = json_err(
        &server,
        "UntagQueue",
        json!({"QueueUrl": url, "TagKeys": []}),
    )
    .await;
    assert_eq!(code, "InvalidParameterValue");
    assert_eq!(
        message,
        "Tag keys must be between 1 and 128 characters in length."
    );
}
