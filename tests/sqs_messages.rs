//! Message operations on standard queues through aws-sdk-sqs (JSON protocol): send, receive,
//! delete, visibility, receipt handles, delays, retention, validation, batches and long polling
//! (reference §2, §3, §4.4–§4.6).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use common::*;

const TRACE_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn string_attr(value: &str) -> MessageAttributeValue {
    typed_attr("String", value)
}

fn typed_attr(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .unwrap()
}

fn batch_entry(id: &str, body: &str) -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder()
        .id(id)
        .message_body(body)
        .build()
        .unwrap()
}

/// One plain receive of at most one message.
async fn receive(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Message> {
    sqs.receive_message()
        .queue_url(url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

async fn queue_attribute(sqs: &aws_sdk_sqs::Client, url: &str, name: &str) -> String {
    let name = QueueAttributeName::from(name);
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&name)
        .unwrap()
}

fn system_attr(m: &Message, name: MessageSystemAttributeName) -> Option<&str> {
    m.attributes()
        .and_then(|a| a.get(&name))
        .map(String::as_str)
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// A raw AWS JSON 1.0 SQS request with one extra header.
async fn json_with_header(
    server: &lyrebird::RunningServer,
    operation: &str,
    header: (&str, &str),
    body: &str,
) -> (u16, serde_json::Value) {
    let resp = http()
        .post(server.endpoint())
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AmazonSQS.{operation}"))
        .header(header.0, header.1)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

// ---------------------------------------------------------------------------------------------
// Send / receive / delete and MD5s (§3)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn send_receive_delete_round_trip_with_md5s() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "round-trip", &[]).await;
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("test")
        .message_attributes("Hello", string_attr("There"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_body(),
        Some("098f6bcd4621d373cade4e832627b4f6")
    );
    assert_eq!(
        sent.md5_of_message_attributes(),
        Some("a311262e065454b75da111d535b8dacd")
    );
    // No system attributes were sent, so no MD5 of them (§3 rules).
    assert_eq!(sent.md5_of_message_system_attributes(), None);
    let message_id = sent.message_id().unwrap().to_string();
    assert!(uuid_like(&message_id), "{message_id}");

    let messages = receive_all(&sqs, &url, 1).await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.message_id(), Some(message_id.as_str()));
    assert_eq!(m.body(), Some("test"));
    assert_eq!(m.md5_of_body(), Some("098f6bcd4621d373cade4e832627b4f6"));
    assert_eq!(
        m.md5_of_message_attributes(),
        Some("a311262e065454b75da111d535b8dacd")
    );
    let attrs = m.message_attributes().unwrap();
    assert_eq!(attrs.len(), 1);
    assert_eq!(attrs["Hello"].data_type(), "String");
    assert_eq!(attrs["Hello"].string_value(), Some("There"));

    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    advance_clock(&server, 31.0).await;
    assert!(receive(&sqs, &url).await.is_empty());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesNotVisible").await,
        "0"
    );
    server.stop().await;
}

fn uuid_like(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[tokio::test]
async fn md5_of_message_attributes_matches_reference_vectors() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "vectors", &[]).await;
    let binary = MessageAttributeValue::builder()
        .data_type("Binary")
        .binary_value(Blob::new(
            b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01".to_vec(),
        ))
        .build()
        .unwrap();
    let cases: Vec<(Vec<(&str, MessageAttributeValue)>, &str)> = vec![
        (
            vec![
                ("General", string_attr("Kenobi")),
                ("Hello", string_attr("There")),
                ("Help.Me", string_attr("Me")),
            ],
            "4c360f3fdafd970e05fae2f149d997f5",
        ),
        (
            vec![
                ("Hello", string_attr("There")),
                ("General", string_attr("Kenobi")),
            ],
            "fca026605781cb4126a1e9044df24232",
        ),
        (
            vec![("Foo", string_attr("Bar"))],
            "ae7155c6026991b6d54b11589678bf9c",
        ),
        (
            vec![("timestamp", typed_attr("Number", "1493147359900"))],
            "235c5c510d26fb653d073faed50ae77c",
        ),
        (vec![("attr1", binary)], "8cbe4db156db8a94db8b801b7addb984"),
    ];
    for (attributes, expected) in cases {
        let mut req = sqs.send_message().queue_url(&url).message_body("msg");
        for (name, value) in &attributes {
            req = req.message_attributes(*name, value.clone());
        }
        let sent = req.send().await.unwrap();
        assert_eq!(
            sent.md5_of_message_body(),
            Some("6e2baaf3b97dbeef01c0043275f9a0e7")
        );
        assert_eq!(sent.md5_of_message_attributes(), Some(expected));
        let m = &receive_all(&sqs, &url, 1).await[0];
        assert_eq!(m.md5_of_message_attributes(), Some(expected));
        assert_eq!(m.message_attributes().unwrap().len(), attributes.len());
        sqs.delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    server.stop().await;
}

#[tokio::test]
async fn binary_attribute_round_trips() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "binary", &[]).await;
    let bytes = vec![0u8, 1, 2, 255, 254, 10, 13];
    sqs.send_message()
        .queue_url(&url)
        .message_body("b")
        .message_attributes(
            "blob",
            MessageAttributeValue::builder()
                .data_type("Binary.custom")
                .binary_value(Blob::new(bytes.clone()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let m = &receive_all(&sqs, &url, 1).await[0];
    let v = &m.message_attributes().unwrap()["blob"];
    assert_eq!(v.data_type(), "Binary.custom");
    assert_eq!(v.binary_value().unwrap().as_ref(), bytes.as_slice());
    assert_eq!(v.string_value(), None);
    server.stop().await;
}

#[tokio::test]
async fn aws_trace_header_system_attribute() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "traced", &[]).await;
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("msg")
        .message_system_attributes(
            MessageSystemAttributeNameForSends::AwsTraceHeader,
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value(TRACE_HEADER)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_system_attributes(),
        Some("5ae4d5d7636402d80f4eb6d213245a88")
    );
    // System attributes do not produce MD5OfMessageAttributes (§3 rules).
    assert_eq!(sent.md5_of_message_attributes(), None);

    // Asked for by name...
    let received = sqs
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let m = &received.messages()[0];
    let attrs = m.attributes().unwrap();
    assert_eq!(attrs.len(), 1, "{attrs:?}");
    assert_eq!(
        attrs[&MessageSystemAttributeName::AwsTraceHeader],
        TRACE_HEADER
    );
    assert_eq!(m.md5_of_message_attributes(), None);
    // ...and as part of All (§4.5).
    let m = &receive_all(&sqs, &url, 1).await[0];
    assert_eq!(
        system_attr(m, MessageSystemAttributeName::AwsTraceHeader),
        Some(TRACE_HEADER)
    );
    server.stop().await;
}

#[tokio::test]
async fn x_amzn_trace_id_header_becomes_aws_trace_header() {
    // §4.4: AWS records an X-Amzn-Trace-Id request header as the AWSTraceHeader attribute.
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "trace-header", &[]).await;
    let body = serde_json::json!({"QueueUrl": url, "MessageBody": "traced"}).to_string();
    let (status, resp) = json_with_header(
        &server,
        "SendMessage",
        ("X-Amzn-Trace-Id", TRACE_HEADER),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{resp}");
    // md5("traced")
    assert_eq!(resp["MD5OfMessageBody"], "811b93782eec22f6be139a4bfae49197");
    let m = &receive_all(&sqs, &url, 1).await[0];
    assert_eq!(m.body(), Some("traced"));
    assert_eq!(
        system_attr(m, MessageSystemAttributeName::AwsTraceHeader),
        Some(TRACE_HEADER)
    );
    // Without the header (and without the attribute) there is no AWSTraceHeader.
    send(&sqs, &url, "plain").await;
    let m = &receive_all(&sqs, &url, 1).await[0];
    assert_eq!(m.body(), Some("plain"));
    assert_eq!(
        system_attr(m, MessageSystemAttributeName::AwsTraceHeader),
        None
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Attribute selection on receive (§4.5)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn receive_all_system_attributes() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "sysattrs", &[]).await;
    let before = now_ms();
    send(&sqs, &url, "x").await;
    let m = &receive_all(&sqs, &url, 1).await[0];
    let attrs = m.attributes().unwrap();
    let names: HashSet<&str> = attrs.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        HashSet::from([
            "SenderId",
            "SentTimestamp",
            "ApproximateReceiveCount",
            "ApproximateFirstReceiveTimestamp"
        ])
    );
    assert!(!attrs[&MessageSystemAttributeName::SenderId].is_empty());
    assert_eq!(
        attrs[&MessageSystemAttributeName::ApproximateReceiveCount],
        "1"
    );
    // Timestamps are epoch milliseconds (§4.5).
    let sent: u128 = attrs[&MessageSystemAttributeName::SentTimestamp]
        .parse()
        .unwrap();
    let first: u128 = attrs[&MessageSystemAttributeName::ApproximateFirstReceiveTimestamp]
        .parse()
        .unwrap();
    assert!(
        sent + 5_000 >= before && sent <= now_ms() + 5_000,
        "{sent} vs {before}"
    );
    assert!(first >= sent);
    server.stop().await;
}

#[tokio::test]
async fn receive_single_named_system_attribute() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "one-sysattr", &[]).await;
    send(&sqs, &url, "x").await;
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .send()
        .await
        .unwrap();
    let attrs = out.messages()[0].attributes().unwrap();
    assert_eq!(attrs.len(), 1, "{attrs:?}");
    assert!(attrs.contains_key(&MessageSystemAttributeName::SentTimestamp));
    server.stop().await;
}

#[tokio::test]
async fn system_attribute_names_not_applicable_yield_nothing() {
    // §4.5: ["SenderId","SequenceNumber"] on a standard queue ⇒ only SenderId.
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "na-sysattr", &[]).await;
    send(&sqs, &url, "x").await;
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .message_system_attribute_names(MessageSystemAttributeName::SequenceNumber)
        .send()
        .await
        .unwrap();
    let attrs = out.messages()[0].attributes().unwrap();
    let names: Vec<&str> = attrs.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["SenderId"]);
    server.stop().await;
}

#[tokio::test]
async fn message_system_attribute_names_take_precedence_on_json() {
    // [AWS-rec] test_message_system_attribute_names_with_attribute_names[sqs]: on AWS JSON,
    // AttributeNames=[SenderId] + MessageSystemAttributeNames=[All] ⇒ all attributes (the query
    // protocol follows AttributeNames; see sqs_aws_rules.rs).
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "precedence", &[]).await;
    send(&sqs, &url, "x").await;
    let body = serde_json::json!({
        "QueueUrl": url,
        "AttributeNames": ["SenderId"],
        "MessageSystemAttributeNames": ["All"],
    })
    .to_string();
    let (status, _, resp) = json(&server, "ReceiveMessage", &body).await;
    assert_eq!(status, 200, "{resp}");
    let attrs = resp["Messages"][0]["Attributes"].as_object().unwrap();
    assert_eq!(
        attrs.keys().collect::<Vec<_>>(),
        [
            "ApproximateFirstReceiveTimestamp",
            "ApproximateReceiveCount",
            "SenderId",
            "SentTimestamp"
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn absent_members_are_omitted_on_the_wire() {
    // §1.4 / §4.5: an empty receive is `{}`; no MD5OfMessageAttributes without attributes.
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "wire", &[]).await;
    let q = serde_json::json!({ "QueueUrl": url }).to_string();
    let (status, _, resp) = json(&server, "ReceiveMessage", &q).await;
    assert_eq!(status, 200);
    assert_eq!(resp, serde_json::json!({}));
    let body = serde_json::json!({ "QueueUrl": url, "MessageBody": "msg" }).to_string();
    let (status, _, resp) = json(&server, "SendMessage", &body).await;
    assert_eq!(status, 200);
    let keys: HashSet<&str> = resp
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["MD5OfMessageBody", "MessageId"]));
    let (_, _, resp) = json(&server, "ReceiveMessage", &q).await;
    let m = resp["Messages"][0].as_object().unwrap();
    let keys: HashSet<&str> = m.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        HashSet::from(["MessageId", "ReceiptHandle", "MD5OfBody", "Body"])
    );
    server.stop().await;
}

#[tokio::test]
async fn receive_without_attribute_names_returns_no_attributes() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "no-attrs", &[]).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("Hello", string_attr("There"))
        .send()
        .await
        .unwrap();
    let m = &receive(&sqs, &url).await[0];
    assert!(m.attributes().is_none_or(|a| a.is_empty()), "{m:?}");
    assert!(m.message_attributes().is_none_or(|a| a.is_empty()), "{m:?}");
    // §3: MD5OfMessageAttributes is omitted when no attributes are returned.
    assert_eq!(m.md5_of_message_attributes(), None);
    // md5("x")
    assert_eq!(m.md5_of_body(), Some("9dd4e461268c8034f5c8564e155c67a6"));
    server.stop().await;
}

#[tokio::test]
async fn message_attribute_selection_and_md5_of_returned_subset() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "select", &[]).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("msg")
        .message_attributes("General", string_attr("Kenobi"))
        .message_attributes("Hello", string_attr("There"))
        .message_attributes("Help.Me", string_attr("Me"))
        .send()
        .await
        .unwrap();
    // (requested names, expected returned names, expected MD5 — reference §3 vectors)
    let cases: Vec<(Vec<&str>, Vec<&str>, Option<&str>)> = vec![
        (
            vec!["All"],
            vec!["General", "Hello", "Help.Me"],
            Some("4c360f3fdafd970e05fae2f149d997f5"),
        ),
        (
            vec![".*"],
            vec!["General", "Hello", "Help.Me"],
            Some("4c360f3fdafd970e05fae2f149d997f5"),
        ),
        (
            vec!["Hello"],
            vec!["Hello"],
            Some("a311262e065454b75da111d535b8dacd"),
        ),
        (
            vec!["General", "Hello"],
            vec!["General", "Hello"],
            Some("fca026605781cb4126a1e9044df24232"),
        ),
        (vec!["Help.*"], vec!["Help.Me"], None),
        (vec!["hello"], vec![], None),
        (vec!["Missing"], vec![], None),
        // Illegal names are ignored silently, not rejected (§4.5 [AWS-rec]).
        (vec!["AWS.reserved", "..foo"], vec![], None),
    ];
    for (requested, expected, md5) in cases {
        let mut req = sqs.receive_message().queue_url(&url).visibility_timeout(0);
        for name in &requested {
            req = req.message_attribute_names(*name);
        }
        let out = req.send().await.unwrap();
        let m = &out.messages()[0];
        let mut names: Vec<&str> = m
            .message_attributes()
            .map(|a| a.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort();
        assert_eq!(names, expected, "requested {requested:?}");
        if expected.is_empty() {
            assert_eq!(m.md5_of_message_attributes(), None, "{requested:?}");
        } else if let Some(md5) = md5 {
            assert_eq!(m.md5_of_message_attributes(), Some(md5), "{requested:?}");
        } else {
            assert!(m.md5_of_message_attributes().is_some(), "{requested:?}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn approximate_receive_count_increments_per_receive() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "counts", &[]).await;
    send(&sqs, &url, "x").await;
    let mut first_receive = None;
    for expected in 1..=3 {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let m = &out.messages()[0];
        assert_eq!(
            system_attr(m, MessageSystemAttributeName::ApproximateReceiveCount),
            Some(expected.to_string().as_str())
        );
        let first = system_attr(
            m,
            MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
        )
        .unwrap()
        .to_string();
        // The first-receive timestamp stays that of the first receive.
        assert_eq!(first_receive.get_or_insert(first.clone()), &first);
        advance_clock(&server, 2.0).await;
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Visibility (§4.6)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn received_message_is_invisible_until_queue_visibility_timeout() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "vis", &[("VisibilityTimeout", "30")]).await;
    let id = send(&sqs, &url, "x").await;
    assert_eq!(receive(&sqs, &url).await.len(), 1);
    assert!(receive(&sqs, &url).await.is_empty());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesNotVisible").await,
        "1"
    );
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    // Well short of the deadline: the test clock follows real time, which load stretches.
    advance_clock(&server, 20.0).await;
    assert!(receive(&sqs, &url).await.is_empty());
    advance_clock(&server, 11.0).await;
    let again = receive(&sqs, &url).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id(), Some(id.as_str()));
    server.stop().await;
}

#[tokio::test]
async fn receive_visibility_timeout_overrides_queue_default() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "vis-override", &[("VisibilityTimeout", "300")]).await;
    send(&sqs, &url, "x").await;
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(5)
        .send()
        .await
        .unwrap();
    assert_eq!(out.messages().len(), 1);
    // Short of the 5 s: the test clock follows real time, which load stretches.
    advance_clock(&server, 2.0).await;
    assert!(receive(&sqs, &url).await.is_empty());
    advance_clock(&server, 4.0).await;
    // The override applied to that receive only: this one uses the queue's 300 s.
    assert_eq!(receive(&sqs, &url).await.len(), 1);
    advance_clock(&server, 200.0).await;
    assert!(receive(&sqs, &url).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn change_message_visibility_extends_and_zero_releases() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "cmv", &[("VisibilityTimeout", "30")]).await;
    send(&sqs, &url, "x").await;
    let m = receive(&sqs, &url).await.remove(0);
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle().unwrap())
        .visibility_timeout(100)
        .send()
        .await
        .unwrap();
    advance_clock(&server, 31.0).await;
    assert!(receive(&sqs, &url).await.is_empty(), "extension ignored");
    advance_clock(&server, 70.0).await;
    let m = receive(&sqs, &url).await.remove(0);
    // Visibility 0 makes it visible immediately.
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    assert_eq!(receive(&sqs, &url).await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn change_message_visibility_after_expiry_succeeds() {
    // §4.6 [AWS-rec]: changing visibility of a message whose visibility expired is accepted.
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "cmv-expired", &[("VisibilityTimeout", "10")]).await;
    send(&sqs, &url, "x").await;
    let m = receive(&sqs, &url).await.remove(0);
    advance_clock(&server, 11.0).await;
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle().unwrap())
        .visibility_timeout(60)
        .send()
        .await
        .unwrap();
    // The call takes effect: the message is hidden again for the new timeout, then comes back.
    assert!(
        receive(&sqs, &url).await.is_empty(),
        "hidden again for 60 s"
    );
    advance_clock(&server, 61.0).await;
    assert_eq!(
        receive(&sqs, &url).await.len(),
        1,
        "visible after the new timeout"
    );
    server.stop().await;
}

#[tokio::test]
async fn change_message_visibility_total_beyond_12_hours_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "cmv-12h", &[]).await;
    send(&sqs, &url, "x").await;
    let m = receive(&sqs, &url).await.remove(0);
    let handle = m.receipt_handle().unwrap();
    // Within 12 h of the receive is allowed.
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(handle)
        .visibility_timeout(43_000)
        .send()
        .await
        .unwrap();
    advance_clock(&server, 1_000.0).await;
    let err = sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(handle)
        .visibility_timeout(43_000)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        "Value 43000 for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]."
    );
    server.stop().await;
}

#[tokio::test]
async fn change_message_visibility_on_deleted_message_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "cmv-deleted", &[]).await;
    send(&sqs, &url, "x").await;
    let m = receive(&sqs, &url).await.remove(0);
    let handle = m.receipt_handle().unwrap();
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(handle)
        .send()
        .await
        .unwrap();
    let err = sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(handle)
        .visibility_timeout(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        format!("Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")
    );
    server.stop().await;
}

#[tokio::test]
async fn visibility_timeout_out_of_range_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "vis-range", &[]).await;
    send(&sqs, &url, "x").await;
    for bad in [-1, 43_201] {
        let err = sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValue", "{bad}");
    }
    let m = receive(&sqs, &url).await.remove(0);
    for bad in [-1, 43_201] {
        let err = sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().unwrap())
            .visibility_timeout(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValue", "{bad}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Receipt handles (§4.6)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_receive_gives_a_new_handle_and_an_old_handle_still_deletes() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "handles", &[]).await;
    send(&sqs, &url, "x").await;
    let mut handles = Vec::new();
    for _ in 0..3 {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        handles.push(out.messages()[0].receipt_handle().unwrap().to_string());
    }
    assert_eq!(
        handles.iter().collect::<HashSet<_>>().len(),
        3,
        "{handles:?}"
    );
    // The oldest handle deletes the message.
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(&handles[0])
        .send()
        .await
        .unwrap();
    assert!(receive(&sqs, &url).await.is_empty());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    server.stop().await;
}

#[tokio::test]
async fn deleting_twice_succeeds() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "delete-twice", &[]).await;
    send(&sqs, &url, "x").await;
    let m = receive(&sqs, &url).await.remove(0);
    for _ in 0..3 {
        sqs.delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    // Deleted, not merely hidden: past the visibility timeout nothing comes back.
    advance_clock(&server, 31.0).await;
    assert!(
        receive(&sqs, &url).await.is_empty(),
        "the message was deleted"
    );
    server.stop().await;
}

#[tokio::test]
async fn garbage_receipt_handle_is_invalid() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "garbage", &[]).await;
    let err = sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ReceiptHandleIsInvalid");
    assert!(err
        .as_service_error()
        .unwrap()
        .is_receipt_handle_is_invalid());
    assert_eq!(
        error_message(&err),
        "The input receipt handle \"garbage\" is not a valid receipt handle."
    );
    let err = sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle("garbage")
        .visibility_timeout(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ReceiptHandleIsInvalid");
    server.stop().await;
}

#[tokio::test]
async fn receipt_handle_from_another_queue_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let a = create_queue(&sqs, "queue-a", &[]).await;
    let b = create_queue(&sqs, "queue-b", &[]).await;
    send(&sqs, &a, "from a").await;
    let m = receive(&sqs, &a).await.remove(0);
    let err = sqs
        .delete_message()
        .queue_url(&b)
        .receipt_handle(m.receipt_handle().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ReceiptHandleIsInvalid");
    // The message in queue A was not deleted.
    assert_eq!(
        queue_attribute(&sqs, &a, "ApproximateNumberOfMessagesNotVisible").await,
        "1"
    );
    server.stop().await;
}

#[tokio::test]
async fn standard_queue_delete_after_visibility_expired_deletes() {
    // §4.6 [AWS-rec test_delete_after_visibility_timeout].
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "late-delete", &[("VisibilityTimeout", "5")]).await;
    send(&sqs, &url, "x").await;
    let m = receive(&sqs, &url).await.remove(0);
    advance_clock(&server, 6.0).await;
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert!(receive(&sqs, &url).await.is_empty());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Delay and retention (§4.2, §4.4)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn queue_delay_seconds_delays_messages() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "delayed-queue", &[("DelaySeconds", "10")]).await;
    send(&sqs, &url, "x").await;
    assert!(receive(&sqs, &url).await.is_empty());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesDelayed").await,
        "1"
    );
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    // Well short of the deadline: the test clock follows real time, which load stretches.
    advance_clock(&server, 6.0).await;
    assert!(receive(&sqs, &url).await.is_empty());
    advance_clock(&server, 5.0).await;
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesDelayed").await,
        "0"
    );
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "1"
    );
    assert_eq!(receive(&sqs, &url).await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn per_message_delay_seconds() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "delayed-message", &[("DelaySeconds", "100")]).await;
    // A per-message delay overrides the queue's (here: shorter).
    sqs.send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(5)
        .send()
        .await
        .unwrap();
    // An explicit 0 makes it visible at once.
    sqs.send_message()
        .queue_url(&url)
        .message_body("now")
        .delay_seconds(0)
        .send()
        .await
        .unwrap();
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesDelayed").await,
        "1"
    );
    let m = receive(&sqs, &url).await.remove(0);
    assert_eq!(m.body(), Some("now"));
    assert!(receive(&sqs, &url).await.is_empty());
    advance_clock(&server, 6.0).await;
    let m = receive(&sqs, &url).await.remove(0);
    assert_eq!(m.body(), Some("later"));
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesDelayed").await,
        "0"
    );
    server.stop().await;
}

#[tokio::test]
async fn delay_seconds_out_of_range_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "delay-range", &[]).await;
    for bad in [901, -1] {
        let err = sqs
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .delay_seconds(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValue", "{bad}");
    }
    // 900 is the maximum and accepted.
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .delay_seconds(900)
        .send()
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn messages_expire_after_retention_period() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "retention", &[("MessageRetentionPeriod", "60")]).await;
    send(&sqs, &url, "visible").await;
    send(&sqs, &url, "in flight").await;
    assert_eq!(receive(&sqs, &url).await.len(), 1);
    // Well short of the deadline: the test clock follows real time, which load stretches.
    advance_clock(&server, 50.0).await;
    // Both still retained (the received one is visible again after the default 30 s).
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "2"
    );
    advance_clock(&server, 11.0).await;
    assert!(receive(&sqs, &url).await.is_empty());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesNotVisible").await,
        "0"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Validation (§2.3, §4.4, §4.5)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn empty_body_is_missing_parameter() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "empty-body", &[]).await;
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "MissingParameter");
    assert_eq!(
        error_message(&err),
        "The request must contain the parameter MessageBody."
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_characters_in_body_are_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "bad-chars", &[]).await;
    for body in ["nul\u{0}byte", "bell\u{7}", "nonchar\u{FFFF}"] {
        let err = sqs
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidMessageContents", "{body:?}");
        assert!(err
            .as_service_error()
            .unwrap()
            .is_invalid_message_contents());
    }
    // Tabs, newlines, CR and non-BMP characters are allowed and round-trip unchanged.
    let body = "tab\there\r\nline ü \u{1F600}";
    send(&sqs, &url, body).await;
    assert_eq!(receive(&sqs, &url).await[0].body(), Some(body));
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesNotVisible").await,
        "1"
    );
    server.stop().await;
}

#[tokio::test]
async fn body_larger_than_maximum_message_size_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "small", &[("MaximumMessageSize", "1024")]).await;
    send(&sqs, &url, &"a".repeat(1024)).await;
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("a".repeat(1025))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    );
    // Attributes count toward the size (§4.4): 1000 + "k"+"String"+17 = 1024 is accepted...
    sqs.send_message()
        .queue_url(&url)
        .message_body("a".repeat(1000))
        .message_attributes("k", string_attr(&"v".repeat(17)))
        .send()
        .await
        .unwrap();
    // ...and one more byte is not.
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("a".repeat(1000))
        .message_attributes("k", string_attr(&"v".repeat(18)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "2"
    );
    server.stop().await;
}

#[tokio::test]
async fn more_than_ten_message_attributes_are_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "many-attrs", &[]).await;
    let mut req = sqs.send_message().queue_url(&url).message_body("x");
    for i in 0..10 {
        req = req.message_attributes(format!("a{i}"), string_attr("v"));
    }
    req.clone().send().await.unwrap();
    let err = req
        .message_attributes("a10", string_attr("v"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    server.stop().await;
}

#[tokio::test]
async fn invalid_message_attributes_are_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "bad-attrs", &[]).await;
    let string_empty = MessageAttributeValue::builder()
        .data_type("String")
        .string_value("")
        .build()
        .unwrap();
    let string_absent = MessageAttributeValue::builder()
        .data_type("String")
        .build()
        .unwrap();
    let cases: Vec<(&str, MessageAttributeValue)> = vec![
        ("AWS.reserved", string_attr("v")),
        ("aws.lower", string_attr("v")),
        ("Amazon.reserved", string_attr("v")),
        (".leading", string_attr("v")),
        ("trailing.", string_attr("v")),
        ("double..dot", string_attr("v")),
        ("bad name", string_attr("v")),
        ("empty", string_empty),
        ("absent", string_absent),
        ("type", typed_attr("Integer", "1")),
        ("type2", typed_attr("Stringy", "1")),
        ("num", typed_attr("Number", "abc")),
        ("num2", typed_attr("Number", "1.2.3")),
    ];
    for (name, value) in cases {
        let err = sqs
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_attributes(name, value)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValue", "{name}");
    }
    // Exact AWS text for an empty value (§2.3, AWS-rec).
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes(
            "attr",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Message (user) attribute 'attr' must contain a non-empty value of type 'String'."
    );
    // Custom type labels and well-formed numbers are fine; nothing above was enqueued.
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("price", typed_attr("Number.float", "-3.015e2"))
        .message_attributes("kind", typed_attr("String.label", "v"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "1"
    );
    server.stop().await;
}

#[tokio::test]
async fn max_number_of_messages_out_of_range_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "max-range", &[]).await;
    let err = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(11)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
    );
    let err = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    server.stop().await;
}

#[tokio::test]
async fn wait_time_seconds_out_of_range_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "wait-range", &[]).await;
    let err = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(21)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
    );
    let err = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(-1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    server.stop().await;
}

#[tokio::test]
async fn operations_on_a_missing_queue_fail() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "present", &[]).await;
    let missing = url.replace("present", "absent");
    let err = sqs
        .send_message()
        .queue_url(&missing)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    assert_eq!(error_message(&err), "The specified queue does not exist.");
    let err = sqs
        .receive_message()
        .queue_url(&missing)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Batches (§2.2, §2.3, §4.4)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn send_message_batch_of_ten_succeeds_with_md5s() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "batch10", &[]).await;
    let mut req = sqs.send_message_batch().queue_url(&url);
    for i in 0..10 {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(format!("id-{i}"))
            .message_body(if i % 2 == 0 { "msg" } else { "test" });
        if i == 0 {
            entry = entry.message_attributes("Hello", string_attr("There"));
        }
        req = req.entries(entry.build().unwrap());
    }
    let out = req.send().await.unwrap();
    assert!(out.failed().is_empty(), "{:?}", out.failed());
    assert_eq!(out.successful().len(), 10);
    for entry in out.successful() {
        let i: usize = entry.id().strip_prefix("id-").unwrap().parse().unwrap();
        let expected = if i % 2 == 0 {
            "6e2baaf3b97dbeef01c0043275f9a0e7"
        } else {
            "098f6bcd4621d373cade4e832627b4f6"
        };
        assert_eq!(entry.md5_of_message_body(), expected);
        assert_eq!(
            entry.md5_of_message_attributes(),
            (i == 0).then_some("a311262e065454b75da111d535b8dacd")
        );
        assert!(uuid_like(entry.message_id()));
    }
    let ids: HashSet<&str> = out.successful().iter().map(|e| e.message_id()).collect();
    assert_eq!(ids.len(), 10);
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "10"
    );
    server.stop().await;
}

#[tokio::test]
async fn batch_with_more_than_ten_entries_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "batch11", &[]).await;
    let entries = (0..11)
        .map(|i| batch_entry(&format!("e{i}"), "x"))
        .collect();
    let err = sqs
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    );
    assert!(err
        .as_service_error()
        .unwrap()
        .is_too_many_entries_in_batch_request());
    assert_eq!(
        error_message(&err),
        "Maximum number of entries per request are 10. You have sent 11."
    );
    let entries = (0..11)
        .map(|i| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("e{i}"))
                .receipt_handle("garbage")
                .build()
                .unwrap()
        })
        .collect();
    let err = sqs
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_too_many_entries_in_batch_request());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    server.stop().await;
}

#[tokio::test]
async fn empty_batches_are_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "batch0", &[]).await;
    let err = sqs
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "AWS.SimpleQueueService.EmptyBatchRequest");
    assert!(err.as_service_error().unwrap().is_empty_batch_request());
    assert_eq!(
        error_message(&err),
        "There should be at least one SendMessageBatchRequestEntry in the request."
    );
    let err = sqs
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_empty_batch_request());
    let err = sqs
        .change_message_visibility_batch()
        .queue_url(&url)
        .set_entries(Some(vec![]))
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_empty_batch_request());
    server.stop().await;
}

#[tokio::test]
async fn duplicate_batch_entry_ids_are_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "batch-dup", &[]).await;
    let err = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(batch_entry("same", "a"))
        .entries(batch_entry("other", "b"))
        .entries(batch_entry("same", "c"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    );
    assert!(err
        .as_service_error()
        .unwrap()
        .is_batch_entry_ids_not_distinct());
    // Nothing was enqueued.
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "0"
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_batch_entry_ids_are_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "batch-badid", &[]).await;
    let long = "a".repeat(81);
    for bad in ["bad id", "bad.id", "", long.as_str()] {
        let err = sqs
            .send_message_batch()
            .queue_url(&url)
            .entries(batch_entry("ok", "a"))
            .entries(batch_entry(bad, "b"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&err),
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            "{bad:?}"
        );
        assert!(err.as_service_error().unwrap().is_invalid_batch_entry_id());
        assert_eq!(
            error_message(&err),
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."
        );
    }
    // 80 characters of the allowed set are fine.
    let max = format!("{}-_", "A9".repeat(39));
    let out = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(batch_entry(&max, "a"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful()[0].id(), max);
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "1"
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_batch_entry_fails_alone() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "batch-partial", &[]).await;
    let out = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(batch_entry("good1", "a"))
        .entries(batch_entry("empty", ""))
        .entries(batch_entry("good2", "b"))
        .entries(batch_entry("nul", "bad\u{0}"))
        .send()
        .await
        .unwrap();
    let ok: HashSet<&str> = out.successful().iter().map(|e| e.id()).collect();
    assert_eq!(ok, HashSet::from(["good1", "good2"]));
    assert_eq!(out.failed().len(), 2, "{:?}", out.failed());
    for failed in out.failed() {
        assert!(failed.sender_fault(), "{failed:?}");
        // Per-entry codes are not pinned down by the reference (§2.2 [UNVERIFIED]).
        assert!(!failed.code().is_empty());
        assert!(["empty", "nul"].contains(&failed.id()), "{failed:?}");
    }
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "2"
    );
    server.stop().await;
}

#[tokio::test]
async fn batch_longer_than_one_mebibyte_is_rejected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "batch-big", &[]).await;
    // Exactly 1 048 576 bytes in total is accepted...
    let half = "a".repeat(524_288);
    let out = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(batch_entry("a", &half))
        .entries(batch_entry("b", &half))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 2);
    // ...one byte more fails the whole call before anything is enqueued (§4.4).
    let err = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(batch_entry("a", &half))
        .entries(batch_entry("b", &half))
        .entries(batch_entry("c", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "AWS.SimpleQueueService.BatchRequestTooLong"
    );
    assert!(err.as_service_error().unwrap().is_batch_request_too_long());
    assert_eq!(
        error_message(&err),
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes."
    );
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessages").await,
        "2"
    );
    server.stop().await;
}

#[tokio::test]
async fn delete_message_batch_with_valid_and_garbage_handles() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "delete-batch", &[]).await;
    for i in 0..3 {
        send(&sqs, &url, &format!("m{i}")).await;
    }
    let messages = receive_all(&sqs, &url, 10).await;
    assert_eq!(messages.len(), 3);
    let mut req = sqs.delete_message_batch().queue_url(&url);
    for (i, m) in messages.iter().enumerate() {
        req = req.entries(
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("ok{i}"))
                .receipt_handle(m.receipt_handle().unwrap())
                .build()
                .unwrap(),
        );
    }
    let out = req
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("bad")
                .receipt_handle("garbage")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ok: HashSet<&str> = out.successful().iter().map(|e| e.id()).collect();
    assert_eq!(ok, HashSet::from(["ok0", "ok1", "ok2"]));
    assert_eq!(out.failed().len(), 1);
    let failed = &out.failed()[0];
    assert_eq!(failed.id(), "bad");
    assert_eq!(failed.code(), "ReceiptHandleIsInvalid");
    assert!(failed.sender_fault());
    advance_clock(&server, 31.0).await;
    assert!(receive(&sqs, &url).await.is_empty());
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesNotVisible").await,
        "0"
    );
    server.stop().await;
}

#[tokio::test]
async fn change_message_visibility_batch_with_valid_and_garbage_handles() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "cmv-batch", &[("VisibilityTimeout", "30")]).await;
    send(&sqs, &url, "release").await;
    send(&sqs, &url, "extend").await;
    let messages = receive_all(&sqs, &url, 10).await;
    assert_eq!(messages.len(), 2);
    let mut req = sqs.change_message_visibility_batch().queue_url(&url);
    for m in &messages {
        let body = m.body().unwrap();
        req = req.entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(body)
                .receipt_handle(m.receipt_handle().unwrap())
                .visibility_timeout(if body == "release" { 0 } else { 120 })
                .build()
                .unwrap(),
        );
    }
    let out = req
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("bad")
                .receipt_handle("garbage")
                .visibility_timeout(10)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ok: HashSet<&str> = out.successful().iter().map(|e| e.id()).collect();
    assert_eq!(ok, HashSet::from(["release", "extend"]));
    assert_eq!(out.failed().len(), 1);
    let failed = &out.failed()[0];
    assert_eq!(failed.id(), "bad");
    assert_eq!(failed.code(), "ReceiptHandleIsInvalid");
    assert!(failed.sender_fault());
    // "release" is visible again now; "extend" stays hidden past the queue's 30 s.
    let m = receive(&sqs, &url).await.remove(0);
    assert_eq!(m.body(), Some("release"));
    advance_clock(&server, 60.0).await;
    let bodies: Vec<String> = receive_all(&sqs, &url, 10)
        .await
        .iter()
        .map(|m| m.body().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["release"]);
    advance_clock(&server, 61.0).await;
    let mut bodies: Vec<String> = receive_all(&sqs, &url, 10)
        .await
        .iter()
        .map(|m| m.body().unwrap().to_string())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["extend", "release"]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Long polling and batch receive (§4.5)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn long_poll_on_empty_queue_waits_for_wait_time() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "long-empty", &[]).await;
    let start = Instant::now();
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert!(out.messages().is_empty());
    assert!(
        elapsed >= Duration::from_millis(1_900) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_a_message_arrives() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "long-arrive", &[]).await;
    let sender = {
        let (sqs, url) = (sqs.clone(), url.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            send(&sqs, &url, "wake up").await
        })
    };
    let start = Instant::now();
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(10)
        .send()
        .await
        .unwrap();
    let elapsed = start.elapsed();
    let id = sender.await.unwrap();
    assert_eq!(out.messages().len(), 1);
    assert_eq!(out.messages()[0].message_id(), Some(id.as_str()));
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    server.stop().await;
}

#[tokio::test]
async fn queue_receive_message_wait_time_applies_when_wait_time_absent() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(
        &sqs,
        "long-default",
        &[("ReceiveMessageWaitTimeSeconds", "10")],
    )
    .await;
    // WaitTimeSeconds=0 overrides the queue's setting: an immediate, empty answer.
    let start = Instant::now();
    let out = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty());
    assert!(start.elapsed() < Duration::from_millis(500));
    // Without WaitTimeSeconds the receive long-polls and catches a message sent 200 ms later.
    let sender = {
        let (sqs, url) = (sqs.clone(), url.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            send(&sqs, &url, "late").await
        })
    };
    let start = Instant::now();
    let out = sqs.receive_message().queue_url(&url).send().await.unwrap();
    let elapsed = start.elapsed();
    sender.await.unwrap();
    assert_eq!(out.messages().len(), 1, "queue wait time not used");
    assert_eq!(out.messages()[0].body(), Some("late"));
    assert!(
        elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(1),
        "{elapsed:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn concurrent_long_pollers_each_get_a_message() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "long-many", &[]).await;
    let start = Instant::now();
    let pollers: Vec<_> = (0..5)
        .map(|_| {
            let (sqs, url) = (sqs.clone(), url.clone());
            tokio::spawn(async move {
                let out = sqs
                    .receive_message()
                    .queue_url(&url)
                    .wait_time_seconds(10)
                    .send()
                    .await
                    .unwrap();
                (out.messages.unwrap_or_default(), Instant::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let entries = (0..5).map(|i| batch_entry(&format!("m{i}"), &format!("body{i}")));
    let out = sqs
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries.collect()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 5);
    let mut ids = HashSet::new();
    for poller in pollers {
        let (messages, done) = poller.await.unwrap();
        assert_eq!(messages.len(), 1, "a poller got {messages:?}");
        assert!(
            done.duration_since(start) < Duration::from_millis(1_500),
            "a poller returned after {:?}",
            done.duration_since(start)
        );
        ids.insert(messages[0].message_id().unwrap().to_string());
    }
    assert_eq!(ids.len(), 5, "a message was delivered twice");
    server.stop().await;
}

#[tokio::test]
async fn max_number_of_messages_returns_up_to_ten() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "receive-many", &[]).await;
    let mut sent = HashSet::new();
    for batch in 0..3 {
        let entries = (0..5)
            .map(|i| batch_entry(&format!("m{i}"), &format!("body-{batch}-{i}")))
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        sent.extend(out.successful().iter().map(|e| e.message_id().to_string()));
    }
    assert_eq!(sent.len(), 15);
    let first = receive_all(&sqs, &url, 10).await;
    assert!((1..=10).contains(&first.len()), "{}", first.len());
    // Drain the rest: every message exactly once.
    let mut received: Vec<String> = first
        .iter()
        .map(|m| m.message_id().unwrap().to_string())
        .collect();
    for _ in 0..15 {
        if received.len() >= 15 {
            break;
        }
        let more = receive_all(&sqs, &url, 10).await;
        assert!(more.len() <= 10);
        received.extend(more.iter().map(|m| m.message_id().unwrap().to_string()));
    }
    assert_eq!(received.len(), 15);
    assert_eq!(received.into_iter().collect::<HashSet<_>>(), sent);
    // Default MaxNumberOfMessages is 1.
    advance_clock(&server, 31.0).await;
    assert_eq!(receive(&sqs, &url).await.len(), 1);
    server.stop().await;
}

/// A server whose queues allow `limit` in-flight messages (AWS's quota is 120,000).
async fn server_with_in_flight_limit(limit: usize) -> lyrebird::RunningServer {
    let config = lyrebird::Config {
        port: 0,
        test_endpoints: true,
        in_flight_limit: limit,
        ..Default::default()
    };
    lyrebird::spawn(config).await.unwrap()
}

#[tokio::test]
async fn standard_queue_at_the_in_flight_limit_answers_over_limit() {
    assert_eq!(lyrebird::Config::default().in_flight_limit, 120_000);
    let server = server_with_in_flight_limit(5).await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "busy", &[]).await;
    for i in 0..8 {
        send(&sqs, &url, &format!("m{i}")).await;
    }
    assert_eq!(receive_all(&sqs, &url, 3).await.len(), 3);
    let rest = receive_all(&sqs, &url, 10).await;
    assert_eq!(rest.len(), 2, "never more in flight than the limit");
    assert_eq!(
        queue_attribute(&sqs, &url, "ApproximateNumberOfMessagesNotVisible").await,
        "5"
    );

    let err = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "OverLimit");
    assert!(err.as_service_error().unwrap().is_over_limit());
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);
    let (status, body) = query(
        &server,
        "/",
        &[("Action", "ReceiveMessage"), ("QueueUrl", url.as_str())],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>OverLimit</Code>"), "{body}");

    // Deleting one, or letting one become visible again, makes room.
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(rest[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(receive_all(&sqs, &url, 10).await.len(), 1);
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(rest[1].receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    assert_eq!(receive_all(&sqs, &url, 10).await.len(), 1);
    assert!(sqs.receive_message().queue_url(&url).send().await.is_err());
}

#[tokio::test]
async fn fifo_queue_at_the_in_flight_limit_returns_nothing_more_without_error() {
    let server = server_with_in_flight_limit(5).await;
    let sqs = sqs(&server);
    let url = create_queue(
        &sqs,
        "busy.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    )
    .await;
    for i in 0..8 {
        sqs.send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .message_group_id(format!("g{i}"))
            .send()
            .await
            .unwrap();
    }
    let first = receive_all(&sqs, &url, 10).await;
    assert_eq!(first.len(), 5);
    assert!(
        receive_all(&sqs, &url, 10).await.is_empty(),
        "no error, nothing"
    );
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(first[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let next = receive_all(&sqs, &url, 10).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].body(), Some("m5"));
}
