//! SNS behaviours decided from answers recorded on real AWS (issue 14, items 18–31):
//! idempotent CreateTopic/Subscribe/Unsubscribe, exact error texts, NextToken encoding, SMS
//! endpoints, FIFO PublishBatch, X-Ray pass-through and dead-letter delivery.

mod common;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry, Tag};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use base64::Engine;
use common::*;

async fn fifo_topic(sns: &aws_sdk_sns::Client, name: &str, content_based: bool) -> String {
    let mut req = sns
        .create_topic()
        .name(name)
        .attributes("FifoTopic", "true");
    if content_based {
        req = req.attributes("ContentBasedDeduplication", "true");
    }
    req.send().await.unwrap().topic_arn.unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn sns_query(params: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![("Version".to_string(), "2010-03-31".to_string())];
    all.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

async fn raw_sns(
    server: &lyrebird::RunningServer,
    params: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = http()
        .post(server.endpoint())
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=x",
        );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .body(serde_urlencoded::to_string(sns_query(params)).unwrap())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

// 18
#[tokio::test]
async fn create_topic_is_idempotent_for_a_subset_of_its_tags() {
    let server = server().await;
    let sns = sns(&server);
    let arn = sns
        .create_topic()
        .name("tagged")
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let again = sns
        .create_topic()
        .name("tagged")
        .tags(tag("a", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.topic_arn.unwrap(), arn);
    let err = sns
        .create_topic()
        .name("tagged")
        .tags(tag("c", "3"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Tags Reason: Topic already exists with different tags"
    );
}

// 19
#[tokio::test]
async fn subscribe_is_idempotent_against_effective_attribute_values() {
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
    let url = create_queue(&sqs, "q", &[]).await;
    let endpoint = queue_arn(&sqs, &url).await;
    let subscribe = |attrs: &'static [(&'static str, &'static str)]| {
        let mut req = sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&endpoint);
        for (k, v) in attrs {
            req = req.attributes(*k, *v);
        }
        req.send()
    };
    let first = subscribe(&[]).await.unwrap().subscription_arn.unwrap();
    for defaults in [
        &[("RawMessageDelivery", "false")][..],
        &[("RawMessageDelivery", "FALSE")][..],
        &[("FilterPolicyScope", "MessageAttributes")][..],
    ] {
        let again = subscribe(defaults).await.unwrap().subscription_arn.unwrap();
        assert_eq!(again, first, "{defaults:?}");
    }
    let err = subscribe(&[("RawMessageDelivery", "true")])
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Attributes Reason: Subscription already exists with different attributes"
    );
}

// 20, 22, 23
#[tokio::test]
async fn unsubscribe_twice_and_subscription_attribute_texts() {
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
    let url = create_queue(&sqs, "q", &[]).await;
    let endpoint = queue_arn(&sqs, &url).await;
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .attributes("FilterPolicyScope", "MessageBody")
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    // 22: the scope shows only alongside a policy, and the stored one comes back with it.
    let attrs = subscription_attributes(&sns, &sub).await;
    assert!(!attrs.contains_key("FilterPolicyScope"), "{attrs:?}");
    sns.set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicy")
        .attribute_value(r#"{"a":["b"]}"#)
        .send()
        .await
        .unwrap();
    let attrs = subscription_attributes(&sns, &sub).await;
    assert_eq!(attrs["FilterPolicyScope"], "MessageBody");
    sns.set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicy")
        .attribute_value("")
        .send()
        .await
        .unwrap();
    let attrs = subscription_attributes(&sns, &sub).await;
    assert!(!attrs.contains_key("FilterPolicyScope"), "{attrs:?}");

    // 23
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("RedrivePolicy")
        .attribute_value("{invalid json}")
        .send()
        .await
        .unwrap_err();
    assert!(
        sns_error_message(&err)
            .starts_with("Invalid parameter: RedrivePolicy: failed to parse JSON."),
        "{err:?}"
    );

    // 20
    sns.unsubscribe()
        .subscription_arn(&sub)
        .send()
        .await
        .unwrap();
    sns.unsubscribe()
        .subscription_arn(&sub)
        .send()
        .await
        .unwrap();
    let err = sns
        .unsubscribe()
        .subscription_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
}

// 21
#[tokio::test]
async fn publish_with_an_empty_topic_arn_checks_it_as_an_arn() {
    let server = server().await;
    let (status, body) = raw_sns(
        &server,
        &[("Action", "Publish"), ("TopicArn", ""), ("Message", "m")],
        &[],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains(
            "<Message>Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1</Message>"
        ),
        "{body}"
    );
}

// 24
#[tokio::test]
async fn confirm_subscription_checks_the_token_before_the_topic() {
    let server = server().await;
    let sns = sns(&server);
    let topic = sns
        .create_topic()
        .name("t")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let token = "51b2ff3edb475b7d91550e0ab6edf0c1de2a34e6ebaf6c2262a001bcb7e051c4";
    for arn in [format!("{topic}-missing"), topic] {
        let err = sns
            .confirm_subscription()
            .topic_arn(&arn)
            .token(token)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "InvalidParameter", "{arn}");
        assert_eq!(sns_error_message(&err), "Invalid parameter: Token");
    }
}

// 25
#[tokio::test]
async fn next_tokens_are_padded_standard_base64() {
    let server = server().await;
    let sns = sns(&server);
    // ARNs of 40 bytes: their base64 needs padding.
    let mut topic = String::new();
    for i in 0..101 {
        topic = sns
            .create_topic()
            .name(format!("t-{i:03}"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
    }
    for i in 0..101 {
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sms")
            .endpoint(format!("+1555000{i:04}"))
            .send()
            .await
            .unwrap();
    }
    let topics = sns.list_topics().send().await.unwrap();
    let by_topic = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    let subs = sns.list_subscriptions().send().await.unwrap();
    for token in [
        topics.next_token.clone(),
        by_topic.next_token.clone(),
        subs.next_token.clone(),
    ] {
        let token = token.expect("a second page");
        assert_eq!(token.len() % 4, 0, "{token}");
        base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap_or_else(|e| panic!("{token}: {e}"));
    }
    let second = sns
        .list_topics()
        .next_token(topics.next_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.topics().len(), 1);
}

// 26
#[tokio::test]
async fn sms_endpoints_are_checked_as_aws_does() {
    let server = server().await;
    let sns = sns(&server);
    let topic = sns
        .create_topic()
        .name("t")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    for ok in ["+15/55-123.4567", "+15551234567", "15551234567"] {
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sms")
            .endpoint(ok)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    for bad in [
        "+15--551234567",
        "NAA+15551234567",
        "+15551234567.",
        "/+15551234567",
        "+05551234567",
    ] {
        let err = sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sms")
            .endpoint(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "InvalidParameter");
        assert_eq!(
            sns_error_message(&err),
            format!("Invalid SMS endpoint: {bad}")
        );
    }
}

fn entry(id: &str, message: &str) -> aws_sdk_sns::types::builders::PublishBatchRequestEntryBuilder {
    PublishBatchRequestEntry::builder().id(id).message(message)
}

// 27
#[tokio::test]
async fn fifo_publish_batch_fails_whole_request_on_missing_fifo_fields() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = fifo_topic(&sns, "t.fifo", false).await;
    let url = create_queue(
        &sqs,
        "q.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    )
    .await;
    let endpoint = queue_arn(&sqs, &url).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .send()
        .await
        .unwrap();
    let good = entry("ok", "fine")
        .message_group_id("g")
        .message_deduplication_id("d")
        .build()
        .unwrap();
    let cases = [
        (
            entry("2", "no group").message_deduplication_id("d2").build().unwrap(),
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
        ),
        (
            entry("2", "no dedup").message_group_id("g").build().unwrap(),
            "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        ),
        (
            entry("2", r#"{"sqs":"x"}"#).message_structure("json").build().unwrap(),
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
    ];
    for (bad, text) in cases {
        let err = sns
            .publish_batch()
            .topic_arn(&topic)
            .publish_batch_request_entries(good.clone())
            .publish_batch_request_entries(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "InvalidParameter");
        assert_eq!(sns_error_message(&err), text);
    }
    assert!(
        receive_all(&sqs, &url, 10).await.is_empty(),
        "nothing published"
    );
}

// 28
#[tokio::test]
async fn publish_passes_the_xray_trace_header_to_sqs() {
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
    let url = create_queue(&sqs, "q", &[]).await;
    let endpoint = queue_arn(&sqs, &url).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .send()
        .await
        .unwrap();
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let (status, body) = raw_sns(
        &server,
        &[
            ("Action", "Publish"),
            ("TopicArn", &topic),
            ("Message", "m"),
        ],
        &[("x-amzn-trace-id", trace)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let messages = receive_all(&sqs, &url, 10).await;
    let attrs = messages[0].attributes().unwrap();
    assert_eq!(attrs[&MessageSystemAttributeName::AwsTraceHeader], trace);
}

// 29: raw delivery dead-letters the raw message, every entry of a batch is dead-lettered.
#[tokio::test]
async fn raw_subscription_dead_letters_the_raw_message_for_every_batch_entry() {
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
    let url = create_queue(&sqs, "gone", &[]).await;
    let endpoint = queue_arn(&sqs, &url).await;
    let dlq_url = create_queue(&sqs, "dlq", &[]).await;
    let dlq = queue_arn(&sqs, &dlq_url).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .attributes("RawMessageDelivery", "true")
        .attributes(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{dlq}"}}"#),
        )
        .send()
        .await
        .unwrap();
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("single")
        .message_attributes(
            "attr1",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("111")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = receive_all(&sqs, &dlq_url, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("single"));
    let attr = &got[0].message_attributes().unwrap()["attr1"];
    assert_eq!(attr.data_type(), "Number");
    assert_eq!(attr.string_value(), Some("111"));
    for m in &got {
        sqs.delete_message()
            .queue_url(&dlq_url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }

    let batch = sns
        .publish_batch()
        .topic_arn(&topic)
        .publish_batch_request_entries(entry("1", "b1").build().unwrap())
        .publish_batch_request_entries(entry("2", "b2").build().unwrap())
        .publish_batch_request_entries(entry("3", "b3").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(batch.successful().len(), 3);
    let mut bodies: Vec<String> = receive_all(&sqs, &dlq_url, 10)
        .await
        .iter()
        .map(|m| m.body().unwrap().to_string())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["b1", "b2", "b3"]);
}

// 29: a FIFO subscription's failed delivery reaches its FIFO DLQ with the published ids.
#[tokio::test]
async fn fifo_subscription_dead_letters_into_a_fifo_queue_with_its_ids() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = fifo_topic(&sns, "t.fifo", false).await;
    let fifo = [("FifoQueue", "true")];
    let url = create_queue(&sqs, "gone.fifo", &fifo).await;
    let endpoint = queue_arn(&sqs, &url).await;
    let dlq_url = create_queue(&sqs, "dlq.fifo", &fifo).await;
    let dlq = queue_arn(&sqs, &dlq_url).await;
    let standard_dlq_url = create_queue(&sqs, "dlq", &[]).await;
    let standard_dlq = queue_arn(&sqs, &standard_dlq_url).await;

    let err = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .attributes(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{standard_dlq}"}}"#),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic."
    );
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .attributes(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{dlq}"}}"#),
        )
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("RedrivePolicy")
        .attribute_value(format!(r#"{{"deadLetterTargetArn":"{standard_dlq}"}}"#))
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");

    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("lost today")
        .message_group_id("group-1")
        .message_deduplication_id("dedup-1")
        .send()
        .await
        .unwrap();
    let got = receive_all(&sqs, &dlq_url, 10).await;
    assert_eq!(got.len(), 1, "the message reaches the FIFO DLQ");
    let attrs = got[0].attributes().unwrap();
    assert_eq!(
        attrs[&MessageSystemAttributeName::MessageGroupId],
        "group-1"
    );
    assert_eq!(
        attrs[&MessageSystemAttributeName::MessageDeduplicationId],
        "dedup-1"
    );
    let envelope: serde_json::Value = serde_json::from_str(got[0].body().unwrap()).unwrap();
    assert_eq!(envelope["Message"], "lost today");
}

// 30
#[tokio::test]
async fn fifo_topic_to_standard_queue_carries_no_fifo_ids() {
    let server = server().await;
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = fifo_topic(&sns, "t.fifo", true).await;
    let url = create_queue(&sqs, "standard", &[]).await;
    let endpoint = queue_arn(&sqs, &url).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("m")
        .message_group_id("g")
        .send()
        .await
        .unwrap();
    let got = receive_all(&sqs, &url, 10).await;
    let attrs = got[0].attributes().unwrap();
    assert!(
        !attrs.contains_key(&MessageSystemAttributeName::MessageGroupId),
        "{attrs:?}"
    );
    assert!(
        !attrs.contains_key(&MessageSystemAttributeName::MessageDeduplicationId),
        "{attrs:?}"
    );
}

// 31
#[tokio::test]
async fn message_attribute_and_topic_attribute_edge_cases() {
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
    let attr = |data_type: &str, string: Option<&str>, binary: Option<&[u8]>| {
        let mut b = MessageAttributeValue::builder().data_type(data_type);
        if let Some(s) = string {
            b = b.string_value(s);
        }
        if let Some(bytes) = binary {
            b = b.binary_value(aws_sdk_sns::primitives::Blob::new(bytes));
        }
        b.build().unwrap()
    };
    let cases = [
        (
            attr("Binary", None, Some(b"")),
            "The message attribute 'attr1' must contain non-empty message attribute value for message attribute type 'Binary'.",
        ),
        (
            attr("String.", Some("prefixed-1"), None),
            "The message attribute 'attr1' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.",
        ),
    ];
    for (value, text) in cases {
        let err = sns
            .publish()
            .topic_arn(&topic)
            .message("m")
            .message_attributes("attr1", value)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "ParameterValueInvalid");
        assert_eq!(sns_error_message(&err), text);
    }

    // String.Array that is not an array: accepted; a JSON scalar matches as that value.
    let url = create_queue(&sqs, "q", &[]).await;
    let endpoint = queue_arn(&sqs, &url).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&endpoint)
        .attributes("RawMessageDelivery", "true")
        .attributes("FilterPolicy", r#"{"attr1":["scalar"]}"#)
        .send()
        .await
        .unwrap();
    for (message, value) in [("matches", r#""scalar""#), ("no-match", "not json")] {
        sns.publish()
            .topic_arn(&topic)
            .message(message)
            .message_attributes("attr1", attr("String.Array", Some(value), None))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{value}: {e:?}"));
    }
    let got: Vec<_> = receive_all(&sqs, &url, 10)
        .await
        .iter()
        .map(|m| m.body().unwrap().to_string())
        .collect();
    assert_eq!(got, ["matches"]);

    // ContentBasedDeduplication in any case, reported lower-case.
    let fifo = sns
        .create_topic()
        .name("f.fifo")
        .attributes("FifoTopic", "true")
        .attributes("ContentBasedDeduplication", "True")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let attrs = sns
        .get_topic_attributes()
        .topic_arn(&fifo)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs["ContentBasedDeduplication"], "true");

    // Tag operations on an unknown topic: ResourceNotFound, 404.
    let (status, body) = raw_sns(
        &server,
        &[
            ("Action", "ListTagsForResource"),
            ("ResourceArn", &format!("{topic}-missing")),
        ],
        &[],
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("<Code>ResourceNotFound</Code>"), "{body}");
}
