//! SNS through aws-sdk-sns: topics, subscriptions, publishing and delivery to SQS, HTTP and
//! captured protocols (reference §5).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry, Tag};
use common::*;

fn string_attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(v)
        .build()
        .unwrap()
}

/// A FIFO topic with content-based deduplication and a FIFO queue of the same name subscribed
/// to it: (topic ARN, queue URL).
async fn fifo_topic_and_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String) {
    let topic = sns
        .create_topic()
        .name(name)
        .attributes("FifoTopic", "true")
        .attributes("ContentBasedDeduplication", "true")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = create_queue(sqs, name, &[("FifoQueue", "true")]).await;
    subscribe_queue(sns, &topic, &queue_arn(sqs, &q).await, &[]).await;
    (topic, q)
}

async fn subscribe_queue(
    sns: &aws_sdk_sns::Client,
    topic: &str,
    queue_arn: &str,
    attrs: &[(&str, &str)],
) -> String {
    let mut req = sns
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(queue_arn);
    for (k, v) in attrs {
        req = req.attributes(*k, *v);
    }
    req.send().await.unwrap().subscription_arn.unwrap()
}

#[tokio::test]
async fn seed_pipeline_fans_out_by_priority() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("order-events-dev")
        .attributes("DisplayName", "Order Processing Events")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let critical = create_queue(&sqs, "critical-orders-dev", &[]).await;
    let standard = create_queue(&sqs, "standard-orders-dev", &[]).await;
    subscribe_queue(
        &sns,
        &topic,
        &queue_arn(&sqs, &critical).await,
        &[("FilterPolicy", r#"{"priority":["HIGH"]}"#)],
    )
    .await;
    subscribe_queue(
        &sns,
        &topic,
        &queue_arn(&sqs, &standard).await,
        &[("FilterPolicy", r#"{"priority":["MEDIUM","LOW"]}"#)],
    )
    .await;
    for priority in ["HIGH", "MEDIUM", "LOW", "HIGH"] {
        sns.publish()
            .topic_arn(&topic)
            .message(format!(
                r#"{{"orderId":"o-{priority}","priority":"{priority}"}}"#
            ))
            .message_attributes("priority", string_attr(priority))
            .message_attributes("eventType", string_attr("OrderCreated"))
            .send()
            .await
            .unwrap();
    }
    let priorities = |bodies: Vec<String>| -> Vec<String> {
        bodies
            .iter()
            .map(|b| {
                // Consumers parse the envelope: JSON.parse(record.body).Message
                let envelope: serde_json::Value = serde_json::from_str(b).unwrap();
                let order: serde_json::Value =
                    serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
                order["priority"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(priorities(drain(&sqs, &critical).await), ["HIGH", "HIGH"]);
    let mut rest = priorities(drain(&sqs, &standard).await);
    rest.sort();
    assert_eq!(rest, ["LOW", "MEDIUM"]);
}

#[tokio::test]
async fn envelope_has_aws_fields_in_aws_order() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("t")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = create_queue(&sqs, "q", &[]).await;
    let sub = subscribe_queue(&sns, &topic, &queue_arn(&sqs, &q).await, &[]).await;
    let published = sns
        .publish()
        .topic_arn(&topic)
        .subject("greeting")
        .message("hello \"world\"\nline two")
        .message_attributes("priority", string_attr("HIGH"))
        .message_attributes(
            "count",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("42")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "blob",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(aws_sdk_sns::primitives::Blob::new(vec![2, 3, 4]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let body = drain(&sqs, &q).await.remove(0);
    // Pretty-printed the way AWS writes it: two-space indent and " : " separators.
    assert!(
        body.starts_with("{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : \""),
        "{body}"
    );
    let keys: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("  \""))
        .map(|l| l.trim_start().split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "Type",
            "MessageId",
            "TopicArn",
            "Subject",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
            "UnsubscribeURL",
            "MessageAttributes"
        ]
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["MessageId"], published.message_id().unwrap());
    assert_eq!(v["TopicArn"], topic.as_str());
    assert_eq!(v["Subject"], "greeting");
    assert_eq!(v["Message"], "hello \"world\"\nline two");
    assert_eq!(v["SignatureVersion"], "1");
    let ts = v["Timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
        "{ts}"
    );
    assert!(v["UnsubscribeURL"]
        .as_str()
        .unwrap()
        .ends_with(&format!("?Action=Unsubscribe&SubscriptionArn={sub}")));
    assert!(v["SigningCertURL"].as_str().unwrap().ends_with(".pem"));
    verify_signature(&v).await;
    assert_eq!(
        v["MessageAttributes"]["priority"],
        serde_json::json!({"Type": "String", "Value": "HIGH"})
    );
    assert_eq!(
        v["MessageAttributes"]["count"],
        serde_json::json!({"Type": "Number", "Value": "42"})
    );
    assert_eq!(
        v["MessageAttributes"]["blob"],
        serde_json::json!({"Type": "Binary", "Value": "AgME"})
    );
    assert!(
        body.contains("\n    \"priority\" : {\"Type\":\"String\",\"Value\":\"HIGH\"}"),
        "{body}"
    );
}

#[tokio::test]
async fn raw_delivery_carries_body_and_attributes() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("raw")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = create_queue(&sqs, "raw-q", &[]).await;
    let sub = subscribe_queue(
        &sns,
        &topic,
        &queue_arn(&sqs, &q).await,
        &[("RawMessageDelivery", "true")],
    )
    .await;
    let attrs = subscription_attributes(&sns, &sub).await;
    assert_eq!(attrs["RawMessageDelivery"], "true");
    sns.publish()
        .topic_arn(&topic)
        .message("just the body")
        .message_attributes("colour", string_attr("red"))
        .message_attributes(
            "tags",
            MessageAttributeValue::builder()
                .data_type("String.Array")
                .string_value(r#"["a","b"]"#)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&q)
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got[0].body(), Some("just the body"));
    let attrs = got[0].message_attributes().unwrap();
    assert_eq!(attrs["colour"].string_value(), Some("red"));
    assert_eq!(attrs["tags"].data_type(), "String.Array");
}

#[tokio::test]
async fn fifo_topic_to_fifo_queue_keeps_order_and_ids() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let (topic, q) = fifo_topic_and_queue(&sns, &sqs, "orders.fifo").await;
    let mut seqs = Vec::new();
    for i in 0..5 {
        let out = sns
            .publish()
            .topic_arn(&topic)
            .message(format!("m{i}"))
            .message_group_id("g")
            .send()
            .await
            .unwrap();
        seqs.push(out.sequence_number().unwrap().parse::<u128>().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    // A duplicate (same content) is accepted but not delivered.
    let dup = sns
        .publish()
        .topic_arn(&topic)
        .message("m0")
        .message_group_id("g")
        .send()
        .await
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&q)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let messages: Vec<String> = got
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(m.body().unwrap()).unwrap()["Message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(messages, ["m0", "m1", "m2", "m3", "m4"]);
    let first: serde_json::Value = serde_json::from_str(got[0].body().unwrap()).unwrap();
    assert_eq!(
        first["MessageId"],
        dup.message_id().unwrap(),
        "duplicate answers with the original id"
    );
    assert!(
        first.get("Signature").is_none(),
        "FIFO notifications are unsigned"
    );
    assert!(first.get("SequenceNumber").is_some());
    assert_eq!(
        got[0].attributes().unwrap()
            [&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId],
        "g"
    );

    // FIFO rules on publish.
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    );
    // Standard topics cannot feed FIFO queues.
    let std_topic = sns
        .create_topic()
        .name("std")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let err = sns
        .subscribe()
        .topic_arn(&std_topic)
        .protocol("sqs")
        .endpoint(queue_arn(&sqs, &q).await)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
    let err = sns
        .publish()
        .topic_arn(&std_topic)
        .message("x")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
}

#[tokio::test]
async fn topic_lifecycle_and_attributes() {
    let server = server().await;
    let sns = sns(&server);
    let arn = sns
        .create_topic()
        .name("life")
        .tags(Tag::builder().key("team").value("orders").build().unwrap())
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    assert_eq!(arn, "arn:aws:sns:us-east-1:000000000000:life");
    // Idempotent, but not with different attributes.
    assert_eq!(
        sns.create_topic()
            .name("life")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap(),
        arn
    );
    let err = sns
        .create_topic()
        .name("life")
        .attributes("DisplayName", "other")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    );
    let err = sns
        .create_topic()
        .name("bad name")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: Topic Name");

    let attrs = sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let mut keys: Vec<&str> = attrs.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "DisplayName",
            "EffectiveDeliveryPolicy",
            "Owner",
            "Policy",
            "SubscriptionsConfirmed",
            "SubscriptionsDeleted",
            "SubscriptionsPending",
            "TopicArn"
        ]
    );
    assert_eq!(attrs["DisplayName"], "");
    assert_eq!(attrs["Owner"], "000000000000");
    let policy: serde_json::Value = serde_json::from_str(&attrs["Policy"]).unwrap();
    assert_eq!(policy["Statement"][0]["Resource"], arn.as_str());

    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("DisplayName")
        .attribute_value("Orders")
        .send()
        .await
        .unwrap();
    sns.set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("SignatureVersion")
        .attribute_value("2")
        .send()
        .await
        .unwrap();
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs["DisplayName"], "Orders");
    assert_eq!(attrs["SignatureVersion"], "2");
    let err = sns
        .set_topic_attributes()
        .topic_arn(&arn)
        .attribute_name("Bogus")
        .attribute_value("1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: AttributeName");

    let tags = sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].key(), "team");
    sns.untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    assert!(sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags()
        .is_empty());

    let topics = sns.list_topics().send().await.unwrap();
    assert_eq!(topics.topics().len(), 1);
    sns.delete_topic().topic_arn(&arn).send().await.unwrap();
    sns.delete_topic().topic_arn(&arn).send().await.unwrap();
    let err = sns
        .get_topic_attributes()
        .topic_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    assert_eq!(sns_error_message(&err), "Topic does not exist");
    assert!(err.as_service_error().unwrap().is_not_found_exception());
    let err = sns
        .get_topic_attributes()
        .topic_arn("arn:aws")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 2"
    );
}

#[tokio::test]
async fn list_topics_pages_by_hundred() {
    let server = server().await;
    let sns = sns(&server);
    for i in 0..150 {
        sns.create_topic()
            .name(format!("t{i:03}"))
            .send()
            .await
            .unwrap();
    }
    let first = sns.list_topics().send().await.unwrap();
    assert_eq!(first.topics().len(), 100);
    let second = sns
        .list_topics()
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.topics().len(), 50);
    assert!(second.next_token().is_none());
}

#[tokio::test]
async fn subscription_attributes_and_listing() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("subs")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = create_queue(&sqs, "subs-q", &[]).await;
    let qarn = queue_arn(&sqs, &q).await;
    let sub = subscribe_queue(&sns, &topic, &qarn, &[]).await;
    assert!(sub.starts_with(&format!("{topic}:")));
    // Subscribing again is idempotent…
    assert_eq!(subscribe_queue(&sns, &topic, &qarn, &[]).await, sub);
    // …unless the attributes differ.
    let err = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&qarn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: Attributes Reason: Subscription already exists with different attributes");

    let attrs = subscription_attributes(&sns, &sub).await;
    assert_eq!(attrs["Protocol"], "sqs");
    assert_eq!(attrs["Endpoint"], qarn);
    assert_eq!(attrs["PendingConfirmation"], "false");
    assert_eq!(attrs["ConfirmationWasAuthenticated"], "true");
    assert_eq!(attrs["RawMessageDelivery"], "false");
    assert_eq!(attrs["TopicArn"], topic);
    assert!(!attrs.contains_key("FilterPolicy"));

    sns.set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicy")
        .attribute_value(r#"{"a":["b"]}"#)
        .send()
        .await
        .unwrap();
    let attrs = subscription_attributes(&sns, &sub).await;
    assert_eq!(attrs["FilterPolicyScope"], "MessageAttributes");
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("RawMessageDelivery")
        .attribute_value("maybe")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: RawMessageDelivery: Invalid value [maybe]. Must be true or false."
    );
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicyScope")
        .attribute_value("RandomValue")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. Please use either MessageBody or MessageAttributes");
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("Nope")
        .attribute_value("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: AttributeName");
    // An empty FilterPolicy removes it.
    sns.set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicy")
        .attribute_value("")
        .send()
        .await
        .unwrap();
    let attrs = subscription_attributes(&sns, &sub).await;
    assert!(!attrs.contains_key("FilterPolicy"));

    let err = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("carrier-pigeon")
        .endpoint("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"
    );
    let err = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: SQS endpoint ARN"
    );

    let listed = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.subscriptions().len(), 1);
    assert_eq!(
        listed.subscriptions()[0].subscription_arn(),
        Some(sub.as_str())
    );
    sns.unsubscribe()
        .subscription_arn(&sub)
        .send()
        .await
        .unwrap();
    assert!(sns
        .list_subscriptions()
        .send()
        .await
        .unwrap()
        .subscriptions()
        .is_empty());
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs["SubscriptionsDeleted"], "1");
    let err = sns
        .get_subscription_attributes()
        .subscription_arn(&sub)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Subscription does not exist");
}

#[tokio::test]
async fn publish_validation() {
    let server = server().await;
    let sns = sns(&server);
    let topic = sns
        .create_topic()
        .name("v")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: Empty message");
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("x")
        .subject("")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: Subject");
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("x".repeat(262_145))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Message too long"
    );
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("not json")
        .message_structure("json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Message Structure - JSON message body failed to parse"
    );
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message(r#"{"sqs":"x"}"#)
        .message_structure("json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Message Structure - No default entry in JSON message body"
    );
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("x")
        .message_attributes("a^b", string_attr("v"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "ParameterValueInvalid");
    assert!(sns_error_message(&err).starts_with("Invalid non-alphanumeric character '#x5E'"));
    let err = sns
        .publish()
        .topic_arn(&topic)
        .message("x")
        .message_attributes(
            "attr1",
            MessageAttributeValue::builder()
                .data_type("Float")
                .string_value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "The message attribute 'attr1' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
    );
    let missing = "arn:aws:sns:us-east-1:000000000000:missing";
    let err = sns
        .publish()
        .topic_arn(missing)
        .message("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    let err = sns.publish().message("x").send().await.unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
    // TargetArn may name a topic.
    sns.publish()
        .target_arn(&topic)
        .message("x")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn message_structure_json_picks_the_protocol_message() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("structured")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = create_queue(&sqs, "structured-q", &[]).await;
    subscribe_queue(
        &sns,
        &topic,
        &queue_arn(&sqs, &q).await,
        &[("RawMessageDelivery", "true")],
    )
    .await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("ops@example.com")
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message(r#"{"default":"plain","sqs":"for queues","email":"for people"}"#)
        .message_structure("json")
        .send()
        .await
        .unwrap();
    assert_eq!(drain(&sqs, &q).await, ["for queues"]);
}

#[tokio::test]
async fn publish_batch_reports_per_entry() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("batch")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = create_queue(&sqs, "batch-q", &[]).await;
    subscribe_queue(
        &sns,
        &topic,
        &queue_arn(&sqs, &q).await,
        &[("RawMessageDelivery", "true")],
    )
    .await;
    let entry = |id: &str, msg: &str| {
        PublishBatchRequestEntry::builder()
            .id(id)
            .message(msg)
            .build()
            .unwrap()
    };
    let out = sns
        .publish_batch()
        .topic_arn(&topic)
        .publish_batch_request_entries(entry("a", "one"))
        .publish_batch_request_entries(entry("b", ""))
        .publish_batch_request_entries(entry("c", "three"))
        .send()
        .await
        .unwrap();
    let ok: Vec<&str> = out.successful().iter().map(|s| s.id().unwrap()).collect();
    assert_eq!(ok, ["a", "c"]);
    assert_eq!(out.failed().len(), 1);
    assert_eq!(out.failed()[0].id(), "b");
    assert_eq!(out.failed()[0].code(), "InvalidParameter");
    assert!(out.failed()[0].sender_fault());
    let mut got = drain(&sqs, &q).await;
    got.sort();
    assert_eq!(got, ["one", "three"]);

    let mut too_many = sns.publish_batch().topic_arn(&topic);
    for i in 0..11 {
        too_many = too_many.publish_batch_request_entries(entry(&format!("e{i}"), "x"));
    }
    let err = too_many.send().await.unwrap_err();
    assert_eq!(sns_error_code(&err), "TooManyEntriesInBatchRequest");
    let err = sns
        .publish_batch()
        .topic_arn(&topic)
        .publish_batch_request_entries(entry("same", "x"))
        .publish_batch_request_entries(entry("same", "y"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "BatchEntryIdsNotDistinct");
    let err = sns
        .publish_batch()
        .topic_arn(&topic)
        .publish_batch_request_entries(entry("bad id!", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidBatchEntryId");
}

#[tokio::test]
async fn email_and_sms_are_captured() {
    let server = server().await;
    let sns = sns(&server);
    let topic = sns
        .create_topic()
        .name("notify")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let pending = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("email")
        .endpoint("customer@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(pending.subscription_arn(), Some("pending confirmation"));
    let deliveries = |query: &'static str| {
        let url = format!("{}/_lyrebird/sns/deliveries?{query}", server.endpoint());
        async move {
            serde_json::from_str::<serde_json::Value>(
                &http().get(url).send().await.unwrap().text().await.unwrap(),
            )
            .unwrap()
        }
    };
    // The confirmation e-mail carries the token.
    let captured = deliveries("protocol=email").await;
    let confirmation = &captured["deliveries"][0];
    assert_eq!(confirmation["type"], "SubscriptionConfirmation");
    let doc: serde_json::Value =
        serde_json::from_str(confirmation["message"].as_str().unwrap()).unwrap();
    let token = doc["Token"].as_str().unwrap();
    assert_eq!(token.len(), 288);
    // Unconfirmed subscriptions receive nothing.
    sns.publish()
        .topic_arn(&topic)
        .message("before")
        .send()
        .await
        .unwrap();
    let confirmed = sns
        .confirm_subscription()
        .topic_arn(&topic)
        .token(token)
        .send()
        .await
        .unwrap();
    assert!(confirmed.subscription_arn().unwrap().starts_with(&topic));
    let err = sns
        .confirm_subscription()
        .topic_arn(&topic)
        .token("wrong")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: Token");
    sns.publish()
        .topic_arn(&topic)
        .subject("Your order")
        .message("has shipped")
        .send()
        .await
        .unwrap();
    let captured = deliveries("protocol=email&endpoint=customer%40example.com").await;
    let notes: Vec<&serde_json::Value> = captured["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "Notification")
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["message"], "has shipped");
    assert_eq!(notes[0]["subject"], "Your order");

    let sms = sns
        .publish()
        .phone_number("+15555550100")
        .message("code 1234")
        .send()
        .await
        .unwrap();
    let captured = deliveries("protocol=sms").await;
    assert_eq!(captured["deliveries"][0]["endpoint"], "+15555550100");
    assert_eq!(
        captured["deliveries"][0]["messageId"],
        sms.message_id().unwrap()
    );
}

/// A tiny HTTP endpoint that records what SNS posts to it and answers with `status`.
async fn endpoint(
    status: u16,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(HashMap<String, String>, String)>,
) {
    use axum::routing::post;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let headers = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let _ = tx.send((headers, body));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// Verifies an SNS message the way AWS's validators do, independently of lyrebird's signer:
/// fetch the certificate from SigningCertURL, rebuild the string to sign, check RSA PKCS#1 v1.5.
async fn verify_signature(doc: &serde_json::Value) {
    use base64::Engine;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use x509_cert::der::{DecodePem, Encode};

    let pem = http()
        .get(doc["SigningCertURL"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes()).expect("a PEM certificate");
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
    let keys: &[&str] = if doc["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut signed = String::new();
    for key in keys {
        if let Some(value) = doc[*key].as_str() {
            signed.push_str(&format!("{key}\n{value}\n"));
        }
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(doc["Signature"].as_str().unwrap())
        .unwrap();
    let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
    let ok = match doc["SignatureVersion"].as_str().unwrap() {
        "1" => rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key)
            .verify(signed.as_bytes(), &signature)
            .is_ok(),
        "2" => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
            .verify(signed.as_bytes(), &signature)
            .is_ok(),
        other => panic!("unknown SignatureVersion {other}"),
    };
    assert!(ok, "signature of {} does not verify", doc["Type"]);
}

async fn next(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(HashMap<String, String>, String)>,
) -> (HashMap<String, String>, serde_json::Value) {
    let (headers, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("delivery in time")
        .unwrap();
    (
        headers,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

#[tokio::test]
async fn http_subscriber_confirms_and_receives() {
    let server = server().await;
    let sns = sns(&server);
    let topic = sns
        .create_topic()
        .name("web")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (url, mut rx) = endpoint(200).await;
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&url)
        .return_subscription_arn(true)
        .send()
        .await
        .unwrap();
    let sub_arn = sub.subscription_arn().unwrap().to_string();
    let (headers, doc) = next(&mut rx).await;
    assert_eq!(
        headers["x-amz-sns-message-type"],
        "SubscriptionConfirmation"
    );
    assert_eq!(headers["x-amz-sns-topic-arn"], topic);
    assert_eq!(
        headers["user-agent"],
        "Amazon Simple Notification Service Agent"
    );
    assert_eq!(doc["Type"], "SubscriptionConfirmation");
    verify_signature(&doc).await;
    let attrs = subscription_attributes(&sns, &sub_arn).await;
    assert_eq!(attrs["PendingConfirmation"], "true");
    // The SubscribeURL is served by lyrebird and confirms, as a plain unsigned GET.
    let confirm = http()
        .get(doc["SubscribeURL"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    assert!(confirm
        .text()
        .await
        .unwrap()
        .contains("<ConfirmSubscriptionResult>"));
    let attrs = subscription_attributes(&sns, &sub_arn).await;
    assert_eq!(attrs["PendingConfirmation"], "false");

    sns.publish()
        .topic_arn(&topic)
        .message("ping")
        .send()
        .await
        .unwrap();
    let (headers, doc) = next(&mut rx).await;
    assert_eq!(headers["x-amz-sns-message-type"], "Notification");
    assert_eq!(headers["x-amz-sns-subscription-arn"], sub_arn);
    assert!(headers["content-type"].starts_with("text/plain"));
    assert_eq!(doc["Message"], "ping");
    verify_signature(&doc).await;
    // SignatureVersion 2 signs with SHA256withRSA.
    sns.set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("SignatureVersion")
        .attribute_value("2")
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .subject("v2")
        .message("pong")
        .send()
        .await
        .unwrap();
    let (_, v2) = next(&mut rx).await;
    assert_eq!(v2["SignatureVersion"], "2");
    verify_signature(&v2).await;

    // The UnsubscribeURL unsubscribes, and the endpoint hears about it.
    let unsubscribe = http()
        .get(doc["UnsubscribeURL"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unsubscribe.status(), 200);
    let (headers, doc) = next(&mut rx).await;
    assert_eq!(headers["x-amz-sns-message-type"], "UnsubscribeConfirmation");
    assert_eq!(doc["Type"], "UnsubscribeConfirmation");
    verify_signature(&doc).await;
    assert!(sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap()
        .subscriptions()
        .is_empty());
}

#[tokio::test]
async fn failing_http_endpoint_is_retried_then_dead_lettered() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("flaky")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let dlq = create_queue(&sqs, "sns-dlq", &[]).await;
    let (url, mut rx) = endpoint(500).await;
    let policy = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,"numRetries":2,"numNoDelayRetries":0,"backoffFunction":"linear"}}"#;
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&url)
        .attributes("DeliveryPolicy", policy)
        .attributes(
            "RedrivePolicy",
            format!(
                r#"{{"deadLetterTargetArn":"{}"}}"#,
                queue_arn(&sqs, &dlq).await
            ),
        )
        .return_subscription_arn(true)
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    let (_, confirmation) = next(&mut rx).await;
    sns.confirm_subscription()
        .topic_arn(&topic)
        .token(confirmation["Token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let _ = sub;
    sns.publish()
        .topic_arn(&topic)
        .message("doomed")
        .send()
        .await
        .unwrap();
    // First attempt, then two retries one (clock-)second apart.
    next(&mut rx).await;
    for _ in 0..2 {
        advance_clock(&server, 1.0).await;
        next(&mut rx).await;
    }
    let mut dead = Vec::new();
    for _ in 0..50 {
        dead = drain(&sqs, &dlq).await;
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(dead.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&dead[0]).unwrap();
    assert_eq!(v["Message"], "doomed");
}

#[tokio::test]
async fn raw_http_delivery_dead_letters_the_raw_message_with_its_attributes() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("raw-flaky")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let dlq = create_queue(&sqs, "raw-http-dlq", &[]).await;
    let (url, mut rx) = endpoint(500).await;
    let policy = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,"numRetries":0,"numNoDelayRetries":0,"backoffFunction":"linear"}}"#;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&url)
        .attributes("DeliveryPolicy", policy)
        .attributes("RawMessageDelivery", "true")
        .attributes(
            "RedrivePolicy",
            format!(
                r#"{{"deadLetterTargetArn":"{}"}}"#,
                queue_arn(&sqs, &dlq).await
            ),
        )
        .send()
        .await
        .unwrap();
    let (_, confirmation) = next(&mut rx).await;
    sns.confirm_subscription()
        .topic_arn(&topic)
        .token(confirmation["Token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("raw and doomed")
        .message_attributes(
            "colour",
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("blue")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    next(&mut rx).await;
    // The DLQ gets what the endpoint would have: the raw body, its attributes as SQS ones.
    let mut dead = Vec::new();
    for _ in 0..100 {
        dead = sqs
            .receive_message()
            .queue_url(&dlq)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("raw and doomed"));
    let attributes = dead[0].message_attributes().expect("message attributes");
    assert_eq!(attributes["colour"].string_value(), Some("blue"));
    assert_eq!(attributes["colour"].data_type(), "String");
}

#[tokio::test]
async fn filter_operators_end_to_end() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("filters")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    // (queue, scope, policy)
    let cases = [
        (
            "prefix",
            "MessageAttributes",
            r#"{"region":[{"prefix":"eu-"}]}"#,
        ),
        (
            "numeric",
            "MessageAttributes",
            r#"{"amount":[{"numeric":[">",100,"<=",500]}]}"#,
        ),
        (
            "anything-but",
            "MessageAttributes",
            r#"{"region":[{"anything-but":["us-east-1"]}]}"#,
        ),
        (
            "exists-false",
            "MessageAttributes",
            r#"{"amount":[{"exists":false}]}"#,
        ),
        (
            "ignore-case",
            "MessageAttributes",
            r#"{"region":[{"equals-ignore-case":"EU-WEST-1"}]}"#,
        ),
        (
            "or",
            "MessageAttributes",
            r#"{"$or":[{"region":["us-east-1"]},{"amount":[{"numeric":["<",10]}]}]}"#,
        ),
        (
            "body-nested",
            "MessageBody",
            r#"{"order":{"status":["shipped"],"total":[{"numeric":[">=",50]}]}}"#,
        ),
    ];
    let mut queues = Vec::new();
    for (name, scope, policy) in cases {
        let q = create_queue(&sqs, name, &[]).await;
        subscribe_queue(
            &sns,
            &topic,
            &queue_arn(&sqs, &q).await,
            &[
                ("RawMessageDelivery", "true"),
                ("FilterPolicyScope", scope),
                ("FilterPolicy", policy),
            ],
        )
        .await;
        queues.push((name, q));
    }
    let number = |v: &str| {
        MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(v)
            .build()
            .unwrap()
    };
    type Case<'a> = (&'a str, &'a [(&'a str, MessageAttributeValue)], &'a str);
    let messages: [Case; 5] = [
        (
            "m1",
            &[
                ("region", string_attr("eu-west-1")),
                ("amount", number("250")),
            ],
            r#"{"order":{"status":"shipped","total":80}}"#,
        ),
        (
            "m2",
            &[
                ("region", string_attr("us-east-1")),
                ("amount", number("5")),
            ],
            r#"{"order":{"status":"pending","total":80}}"#,
        ),
        (
            "m3",
            &[("region", string_attr("ap-south-1"))],
            r#"{"order":{"status":["shipped","late"],"total":20}}"#,
        ),
        ("m4", &[("amount", number("1e3"))], "not json"),
        (
            "m5",
            &[
                ("region", string_attr("EU-West-1")),
                ("amount", number("100")),
            ],
            r#"{"order":{"status":"shipped","total":50}}"#,
        ),
    ];
    for (id, attrs, body) in messages {
        let mut req = sns
            .publish()
            .topic_arn(&topic)
            .message(format!("{id}|{body}"));
        for (k, v) in attrs {
            req = req.message_attributes(*k, v.clone());
        }
        req.send().await.unwrap();
    }
    // Body-scope messages are JSON; publish them separately so the body policy can parse them.
    for (id, _, body) in messages {
        if body.starts_with('{') {
            let mut doc: serde_json::Value = serde_json::from_str(body).unwrap();
            doc["id"] = serde_json::json!(id);
            sns.publish()
                .topic_arn(&topic)
                .message(doc.to_string())
                .send()
                .await
                .unwrap();
        }
    }
    let expected: HashMap<&str, Vec<&str>> = HashMap::from([
        ("prefix", vec!["m1"]),
        ("numeric", vec!["m1"]),
        ("anything-but", vec!["m1", "m3", "m5"]),
        ("exists-false", vec!["m3"]),
        ("ignore-case", vec!["m1", "m5"]),
        ("or", vec!["m2"]),
        ("body-nested", vec!["m1", "m5"]),
    ]);
    for (name, q) in &queues {
        let mut ids: Vec<String> = drain(&sqs, q)
            .await
            .iter()
            .map(|b| match serde_json::from_str::<serde_json::Value>(b) {
                Ok(v) if v.get("id").is_some() => v["id"].as_str().unwrap().to_string(),
                _ => b.split('|').next().unwrap().to_string(),
            })
            .collect();
        ids.sort();
        assert_eq!(ids, expected[name], "subscription {name}");
    }
}

#[tokio::test]
async fn invalid_filter_policies_are_refused() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns
        .create_topic()
        .name("bad-filters")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = create_queue(&sqs, "bad-filters", &[]).await;
    let arn = queue_arn(&sqs, &q).await;
    let cases = [
        (
            r#"{"a":["b"],"c":["d"],"e":["f"],"g":["h"],"i":["j"],"k":["l"]}"#,
            "Filter policy can not have more than 5 keys",
        ),
        (r#"{"a":[{"prefx":"b"}]}"#, "Unrecognized match type prefx"),
        (r#"{"a":[]}"#, "Empty arrays are not allowed"),
        (
            r#"{"a":[{"prefix":1}]}"#,
            "prefix match pattern must be a string",
        ),
        (
            r#"{"a":[{"exists":"yes"}]}"#,
            "exists match pattern must be either true or false.",
        ),
    ];
    for (policy, reason) in cases {
        let err = sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&arn)
            .attributes("FilterPolicy", policy)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "InvalidParameter", "{policy}");
        assert!(
            sns_error_message(&err).starts_with(&format!(
                "Invalid parameter: Attributes Reason: FilterPolicy: {reason}"
            )),
            "{policy}: {}",
            sns_error_message(&err)
        );
    }
    let many: Vec<String> = (0..151).map(|i| format!("\"v{i}\"")).collect();
    let sub = subscribe_queue(&sns, &topic, &arn, &[]).await;
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicy")
        .attribute_value(format!(r#"{{"key":[{}]}}"#, many.join(",")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: FilterPolicy: Filter policy is too complex"
    );
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicy")
        .attribute_value(r#"{"a":{"b":["c"]}}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    );
}

/// An HTTPS endpoint with a self-signed certificate; yields each POSTed body.
async fn https_endpoint() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let identity = lyrebird::sns::signing::Signer::generate();
    let pem: String = identity
        .certificate_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let cert = base64::engine::general_purpose::STANDARD
        .decode(pem)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(identity.key_pkcs8_der().into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.into()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then Content-Length bytes of body.
                loop {
                    let n = tls.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length: usize = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= head_end + 4 + length {
                            let body =
                                String::from_utf8_lossy(&buf[head_end + 4..head_end + 4 + length])
                                    .to_string();
                            let _ = tx.send(body);
                            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                            let _ = tls.shutdown().await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn https_subscriber_with_a_self_signed_certificate() {
    let server = server().await;
    let sns = sns(&server);
    let topic = sns
        .create_topic()
        .name("secure")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (url, mut rx) = https_endpoint().await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("https")
        .endpoint(&url)
        .send()
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("confirmation in time")
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["Type"], "SubscriptionConfirmation");
    sns.confirm_subscription()
        .topic_arn(&topic)
        .token(doc["Token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("over tls")
        .send()
        .await
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("notification in time")
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["Message"], "over tls");
    verify_signature(&doc).await;
}

/// Concurrent publishers to one FIFO group: the subscribed FIFO queue receives the messages in
/// the order of the sequence numbers the topic gave them (AWS: "messages are delivered in the
/// order they are published", the sequence number being that order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_topic_delivers_concurrent_publishes_in_sequence_order() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let (topic, q) = fifo_topic_and_queue(&sns, &sqs, "race.fifo").await;
    const TASKS: usize = 8;
    const EACH: usize = 40;
    let publishers: Vec<_> = (0..TASKS)
        .map(|t| {
            let (sns, topic) = (sns.clone(), topic.clone());
            tokio::spawn(async move {
                for i in 0..EACH {
                    sns.publish()
                        .topic_arn(&topic)
                        .message(format!("t{t}-m{i}"))
                        .message_group_id("one-group")
                        .send()
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let sequence: Vec<u128> = drain(&sqs, &q)
        .await
        .iter()
        .map(|body| {
            let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
            envelope["SequenceNumber"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(sequence.len(), TASKS * EACH, "every publish delivered");
    let inversions = sequence.windows(2).filter(|w| w[0] >= w[1]).count();
    assert_eq!(
        inversions, 0,
        "delivery order vs sequence numbers: {sequence:?}"
    );
}
