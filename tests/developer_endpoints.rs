//! Developer endpoints (issue 20): LocalStack's `/_aws/sqs/messages` peek, its SNS retrospection
//! endpoints, and lyrebird's own `/_lyrebird/sqs/messages`. The contract is LocalStack's
//! (tests/aws/services/sqs/test_sqs_developer_api.py, tests/aws/services/sns/test_sns.py).

mod common;

use serde_json::Value;

async fn get(url: String) -> (u16, String) {
    let resp = common::http().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

async fn get_json(url: String) -> (u16, Value) {
    let resp = common::http()
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn peek_url(server: &lyrebird::RunningServer, queue_url: &str, extra: &str) -> String {
    let q = serde_urlencoded::to_string([("QueueUrl", queue_url)]).unwrap();
    format!("{}/_aws/sqs/messages?{q}{extra}", server.endpoint())
}

/// The query-JSON document's messages, whether one (an object) or several (a list).
fn messages(doc: &Value) -> Vec<Value> {
    match &doc["ReceiveMessageResponse"]["ReceiveMessageResult"]["Message"] {
        Value::Array(list) => list.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}

fn attribute(message: &Value, name: &str) -> Option<String> {
    let attributes = match &message["Attribute"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    attributes
        .iter()
        .find(|a| a["Name"] == name)
        .map(|a| a["Value"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn peek_changes_neither_receive_counts_nor_visibility() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "peeked", &[]).await;
    common::send(&sqs, &url, "message-1").await;
    common::send(&sqs, &url, "message-2").await;

    // XML by default, as LocalStack answers a plain GET.
    let (status, xml) = get(peek_url(&server, &url, "")).await;
    assert_eq!(status, 200, "{xml}");
    assert!(
        xml.starts_with("<?xml") || xml.contains("<ReceiveMessageResponse"),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<Name>ApproximateReceiveCount</Name><Value>0</Value>")
            .count(),
        2,
        "{xml}"
    );
    assert!(
        xml.contains("<ReceiptHandle>SQS/BACKDOOR/ACCESS</ReceiptHandle>"),
        "{xml}"
    );

    // Peeking again and again leaves both messages receivable, never received.
    for _ in 0..3 {
        get(peek_url(&server, &url, "")).await;
    }
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .visibility_timeout(30)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(received[0].body(), Some("message-1"));
    let count = |m: &aws_sdk_sqs::types::Message| {
        m.attributes().unwrap()
            [&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount]
            .clone()
    };
    assert_eq!(count(&received[0]), "1");

    // The in-flight message is hidden unless asked for, and then marked invisible.
    let (_, doc) = get_json(peek_url(&server, &url, "&ShowInvisible=false")).await;
    let shown = messages(&doc);
    assert_eq!(shown.len(), 1, "{doc}");
    assert_eq!(shown[0]["Body"], "message-2");
    let (_, doc) = get_json(peek_url(&server, &url, "&ShowInvisible=true")).await;
    let shown = messages(&doc);
    assert_eq!(shown.len(), 2, "{doc}");
    assert_eq!(shown[0]["Body"], "message-1");
    assert_eq!(attribute(&shown[0], "IsVisible").as_deref(), Some("false"));
    assert_eq!(
        attribute(&shown[0], "ApproximateReceiveCount").as_deref(),
        Some("1")
    );
    assert_eq!(attribute(&shown[1], "IsVisible").as_deref(), Some("true"));
    assert_eq!(shown[1]["MD5OfBody"], "95ef155b66299d14edf7ed57c468c13b");

    // The peeks did not count as receives: after the visibility timeout, message-1 comes back
    // with its second receive and message-2 with its first.
    common::advance_clock(&server, 31.0).await;
    let all = common::receive_all(&sqs, &url, 10).await;
    let counts: Vec<(String, String)> = all
        .iter()
        .map(|m| (m.body().unwrap().to_string(), count(m)))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("message-1".to_string(), "2".to_string()),
            ("message-2".to_string(), "1".to_string())
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn peek_shows_delayed_messages_when_asked() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "delays", &[]).await;
    common::send(&sqs, &url, "message-1").await;
    for body in ["message-2", "message-3"] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .delay_seconds(10)
            .send()
            .await
            .unwrap();
    }
    let (_, doc) = get_json(peek_url(&server, &url, "&ShowDelayed=False")).await;
    let shown = messages(&doc);
    assert_eq!(shown.len(), 1, "{doc}");
    assert_eq!(shown[0]["Body"], "message-1");
    assert_eq!(
        attribute(&shown[0], "SenderId").as_deref(),
        Some(common::ACCOUNT)
    );
    assert!(attribute(&shown[0], "SentTimestamp").is_some());

    let (_, doc) = get_json(peek_url(&server, &url, "&ShowDelayed=1")).await;
    let shown = messages(&doc);
    let delayed: Vec<_> = shown
        .iter()
        .map(|m| {
            (
                m["Body"].as_str().unwrap(),
                attribute(m, "IsDelayed").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        delayed,
        vec![
            ("message-1", "false".to_string()),
            ("message-2", "true".to_string()),
            ("message-3", "true".to_string())
        ]
    );
    // Still delayed: a receive gets only the first.
    let got = common::receive_all(&sqs, &url, 10).await;
    assert_eq!(got.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn an_sdk_pointed_at_the_peek_endpoint_receives_without_side_effects() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::fifo_queue(
        &sqs,
        "peek-sdk.fifo",
        &[("ContentBasedDeduplication", "true")],
    )
    .await;
    for (body, group) in [("message-1", "1"), ("message-2", "1"), ("message-3", "2")] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .message_group_id(group)
            .send()
            .await
            .unwrap();
    }
    let peeker = common::sqs_at(
        &format!("{}/_aws/sqs/messages", server.endpoint()),
        "test",
        "us-east-1",
    );
    // MaxNumberOfMessages is ignored, as on LocalStack.
    let got = peeker
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let bodies: Vec<_> = got.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["message-1", "message-2", "message-3"]);
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    assert_eq!(
        got[0].attributes().unwrap()[&A::ApproximateReceiveCount],
        "0"
    );
    assert_eq!(got[2].attributes().unwrap()[&A::MessageGroupId], "2");

    // Anything but ReceiveMessage is refused.
    let err = peeker
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_code(&err), "InvalidRequest");
    assert_eq!(
        common::error_message(&err),
        "This endpoint only accepts ReceiveMessage calls"
    );

    // The query protocol too (form POST, XML answer).
    let (status, xml) = common::query(
        &server,
        "/_aws/sqs/messages",
        &[("Action", "ReceiveMessage"), ("QueueUrl", &url)],
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert_eq!(xml.matches("<Message>").count(), 3, "{xml}");

    // And the path form names the queue itself.
    let (status, doc) = get_json(format!(
        "{}/_aws/sqs/messages/us-east-1/{}/peek-sdk.fifo",
        server.endpoint(),
        common::ACCOUNT
    ))
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(messages(&doc).len(), 3);

    // Nothing was received: a real receive gets every group's head with a first receive.
    let received = common::receive_all(&sqs, &url, 10).await;
    assert_eq!(
        received[0].attributes().unwrap()[&A::ApproximateReceiveCount],
        "1"
    );
    server.stop().await;
}

#[tokio::test]
async fn peek_of_a_missing_queue_is_queue_does_not_exist() {
    let server = common::server().await;
    let (status, xml) = get(format!("{}/_aws/sqs/messages", server.endpoint())).await;
    assert_eq!(status, 400, "{xml}");
    assert!(
        xml.contains("AWS.SimpleQueueService.NonExistentQueue"),
        "{xml}"
    );
    let (status, xml) = get(peek_url(
        &server,
        "http://localhost:4566/000000000000/nope",
        "",
    ))
    .await;
    assert_eq!(status, 400, "{xml}");
    assert!(xml.contains("NonExistentQueue"), "{xml}");
    server.stop().await;
}

#[tokio::test]
async fn lyrebird_peek_lists_every_state_with_timings() {
    let server = common::server().await;
    let sqs = common::sqs(&server);
    let url = common::create_queue(&sqs, "states", &[]).await;
    common::send(&sqs, &url, "{\"n\":1}").await;
    common::send(&sqs, &url, "two").await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("three")
        .delay_seconds(60)
        .send()
        .await
        .unwrap();
    sqs.receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .visibility_timeout(40)
        .send()
        .await
        .unwrap();
    common::advance_clock(&server, 5.0).await;
    let q = serde_urlencoded::to_string([("QueueUrl", url.as_str())]).unwrap();
    let (status, doc) = get_json(format!("{}/_lyrebird/sqs/messages?{q}", server.endpoint())).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["counts"]["visible"], 1, "{doc}");
    assert_eq!(doc["counts"]["inFlight"], 1);
    assert_eq!(doc["counts"]["delayed"], 1);
    assert!(doc["oldestAgeSeconds"].as_f64().unwrap() >= 5.0);
    let list = doc["messages"].as_array().unwrap();
    let states: Vec<_> = list
        .iter()
        .map(|m| {
            (
                m["body"].as_str().unwrap(),
                m["state"].as_str().unwrap(),
                m["receiveCount"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("{\"n\":1}", "inFlight", 1),
            ("two", "visible", 0),
            ("three", "delayed", 0)
        ]
    );
    let left = list[0]["visibleInSeconds"].as_f64().unwrap();
    assert!((34.0..=35.0).contains(&left), "{left}");
    // Unknown queues are a 404 with the AWS error's name.
    let (status, doc) = get_json(format!(
        "{}/_lyrebird/sqs/messages?QueueUrl=nope",
        server.endpoint()
    ))
    .await;
    assert_eq!(status, 404);
    assert_eq!(doc["error"], "QueueDoesNotExist");
    server.stop().await;
}

#[tokio::test]
async fn sms_messages_are_listed_by_phone_number_and_can_be_discarded() {
    let server = common::server().await;
    let sns = common::sns(&server);
    let topic = sns
        .create_topic()
        .name("texts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    for phone in ["+15550001", "+15550002"] {
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sms")
            .endpoint(phone)
            .send()
            .await
            .unwrap();
    }
    sns.publish()
        .topic_arn(&topic)
        .message("Good news everyone!")
        .send()
        .await
        .unwrap();
    sns.publish()
        .phone_number("+15550001")
        .message("direct")
        .send()
        .await
        .unwrap();

    let base = format!("{}/_aws/sns/sms-messages", server.endpoint());
    let (status, doc) = get_json(format!("{base}?region=us-east-1&accountId=000000000000")).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["region"], "us-east-1");
    let by_phone = doc["sms_messages"].as_object().unwrap();
    assert_eq!(by_phone.len(), 2, "{doc}");
    assert_eq!(by_phone["+15550001"].as_array().unwrap().len(), 2);
    assert_eq!(by_phone["+15550001"][0]["Message"], "Good news everyone!");
    assert_eq!(by_phone["+15550001"][0]["TopicArn"], topic.as_str());
    assert_eq!(by_phone["+15550001"][1]["Message"], "direct");
    assert_eq!(by_phone["+15550001"][1]["PhoneNumber"], "+15550001");

    // Another region has none; the default region is the server's.
    let (_, doc) = get_json(format!("{base}?region=eu-west-1")).await;
    assert_eq!(doc["sms_messages"], serde_json::json!({}));
    assert_eq!(doc["region"], "eu-west-1");
    let (_, doc) = get_json(base.clone()).await;
    assert_eq!(doc["region"], "us-east-1");

    // Discard one number's, then everything; lyrebird's path answers the same.
    let resp = common::http()
        .delete(format!("{base}?phoneNumber=%2B15550001"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (_, doc) = get_json(format!("{base}?phoneNumber=%2B15550001")).await;
    assert_eq!(doc["sms_messages"]["+15550001"], serde_json::json!([]));
    let own = format!("{}/_lyrebird/sns/sms-messages", server.endpoint());
    let (_, doc) = get_json(own.clone()).await;
    assert_eq!(
        doc["sms_messages"]["+15550002"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    common::http().delete(own.clone()).send().await.unwrap();
    let (_, doc) = get_json(own).await;
    assert_eq!(doc["sms_messages"], serde_json::json!({}));
    server.stop().await;
}

/// A GCM platform application's endpoint; its ARN.
async fn android_device(sns: &aws_sdk_sns::Client) -> String {
    let app = sns
        .create_platform_application()
        .name("android")
        .platform("GCM")
        .attributes("PlatformCredential", "firebase-server-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    sns.create_platform_endpoint()
        .platform_application_arn(&app)
        .token("device-token")
        .send()
        .await
        .unwrap()
        .endpoint_arn
        .unwrap()
}

#[tokio::test]
async fn platform_endpoint_messages_are_listed_by_endpoint() {
    let server = common::server().await;
    let sns = common::sns(&server);
    let endpoint = android_device(&sns).await;
    sns.publish()
        .target_arn(&endpoint)
        .message("ping")
        .send()
        .await
        .unwrap();

    let base = format!("{}/_aws/sns/platform-endpoint-messages", server.endpoint());
    let (status, doc) = get_json(base.clone()).await;
    assert_eq!(status, 200, "{doc}");
    let list = doc["platform_endpoint_messages"][&endpoint]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), 1, "{doc}");
    assert_eq!(list[0]["Message"], "ping");
    assert_eq!(list[0]["TargetArn"], endpoint.as_str());

    let q = serde_urlencoded::to_string([("endpointArn", endpoint.as_str())]).unwrap();
    let resp = common::http()
        .delete(format!("{base}?{q}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (_, doc) = get_json(format!("{base}?{q}")).await;
    assert_eq!(
        doc["platform_endpoint_messages"][&endpoint],
        serde_json::json!([])
    );
    server.stop().await;
}

#[tokio::test]
async fn subscription_tokens_confirm_unreachable_endpoints() {
    let server = common::server().await;
    let sns = common::sns(&server);
    let topic = sns
        .create_topic()
        .name("hooks")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    // Nothing listens there: the confirmation request cannot arrive.
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint("http://127.0.0.1:9/hook")
        .return_subscription_arn(true)
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    for prefix in ["_aws", "_lyrebird"] {
        let (status, doc) = get_json(format!(
            "{}/{prefix}/sns/subscription-tokens/{sub}",
            server.endpoint()
        ))
        .await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["subscription_arn"], sub.as_str());
        assert_eq!(doc["subscription_token"].as_str().unwrap().len(), 288);
    }
    let (_, doc) = get_json(format!(
        "{}/_aws/sns/subscription-tokens/{sub}",
        server.endpoint()
    ))
    .await;
    let token = doc["subscription_token"].as_str().unwrap();
    sns.confirm_subscription()
        .topic_arn(&topic)
        .token(token)
        .send()
        .await
        .unwrap();
    let attrs = common::subscription_attributes(&sns, &sub).await;
    assert_eq!(attrs["PendingConfirmation"], "false");

    let wrong = sub.replace("us-east-1", "il-central-1");
    let (status, doc) = get_json(format!(
        "{}/_aws/sns/subscription-tokens/{wrong}",
        server.endpoint()
    ))
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        doc,
        serde_json::json!({"error": "The provided SubscriptionARN is not found", "subscription_arn": wrong})
    );
    let (status, doc) = get_json(format!(
        "{}/_aws/sns/subscription-tokens/randomarnhere",
        server.endpoint()
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        doc,
        serde_json::json!({"error": "The provided SubscriptionARN is invalid", "subscription_arn": "randomarnhere"})
    );
    server.stop().await;
}

/// LocalStack's listings carry each publish's `MessageStructure` (`json`, else null), and the
/// message each endpoint got from it: the `sms` key for a phone, the platform's for a device.
#[tokio::test]
async fn captured_sms_and_push_record_the_message_structure() {
    let server = common::server().await;
    let sns = common::sns(&server);
    let device = android_device(&sns).await;
    let topic = sns
        .create_topic()
        .name("alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    for (protocol, endpoint) in [("sms", "+15550003"), ("application", device.as_str())] {
        sns.subscribe()
            .topic_arn(&topic)
            .protocol(protocol)
            .endpoint(endpoint)
            .send()
            .await
            .unwrap();
    }
    let gcm = r#"{"notification":{"title":"hi"}}"#;
    let structured = serde_json::json!({ "default": "for all", "sms": "for phones", "GCM": gcm });
    sns.publish()
        .topic_arn(&topic)
        .message_structure("json")
        .message(structured.to_string())
        .send()
        .await
        .unwrap();
    sns.publish()
        .phone_number("+15550003")
        .message("plain")
        .send()
        .await
        .unwrap();
    sns.publish()
        .phone_number("+15550003")
        .message_structure("json")
        .message(r#"{"default": "direct default"}"#)
        .send()
        .await
        .unwrap();

    let (_, doc) = get_json(format!("{}/_aws/sns/sms-messages", server.endpoint())).await;
    let texts = doc["sms_messages"]["+15550003"].as_array().unwrap();
    assert_eq!(texts.len(), 3, "{doc}");
    assert_eq!(texts[0]["MessageStructure"], "json");
    assert_eq!(texts[0]["Message"], "for phones");
    assert_eq!(texts[1]["MessageStructure"], serde_json::Value::Null);
    assert_eq!(texts[1]["Message"], "plain");
    assert_eq!(texts[2]["MessageStructure"], "json");
    assert_eq!(texts[2]["Message"], "direct default");

    let (_, doc) = get_json(format!(
        "{}/_aws/sns/platform-endpoint-messages",
        server.endpoint()
    ))
    .await;
    let pushed = doc["platform_endpoint_messages"][&device]
        .as_array()
        .unwrap();
    assert_eq!(pushed.len(), 1, "{doc}");
    assert_eq!(pushed[0]["MessageStructure"], "json");
    assert_eq!(pushed[0]["Message"], gcm);

    // lyrebird's own listing (the console's) says the same.
    let (_, doc) = get_json(format!(
        "{}/_lyrebird/sns/deliveries?protocol=sms",
        server.endpoint()
    ))
    .await;
    assert_eq!(doc["deliveries"][0]["messageStructure"], "json", "{doc}");
    server.stop().await;
}
