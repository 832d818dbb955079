//! FIFO queues: ordering per group, group blocking, deduplication, sequence numbers,
//! ReceiveRequestAttemptId, and the FIFO-specific validation (reference §4.7).

mod common;

use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use common::*;

async fn send(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    body: &str,
    group: &str,
    dedup: &str,
) -> aws_sdk_sqs::operation::send_message::SendMessageOutput {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id(group)
        .message_deduplication_id(dedup)
        .send()
        .await
        .unwrap()
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

#[tokio::test]
async fn name_and_attribute_must_agree() {
    let server = server().await;
    let sqs = sqs(&server);
    let err = sqs
        .create_queue()
        .queue_name("orders.fifo")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    let err = sqs
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    let url = fifo_queue(&sqs, "orders.fifo", &[]).await;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs[&QueueAttributeName::FifoQueue], "true");
    assert_eq!(
        attrs[&QueueAttributeName::ContentBasedDeduplication],
        "false"
    );
    assert_eq!(attrs[&QueueAttributeName::DeduplicationScope], "queue");
    assert_eq!(attrs[&QueueAttributeName::FifoThroughputLimit], "perQueue");
    // perMessageGroupId throughput needs messageGroup deduplication scope.
    let err = sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAttributeValue");
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId")
        .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
        .send()
        .await
        .unwrap();
    // Standard queues know nothing of FIFO attributes.
    let err = sqs
        .create_queue()
        .queue_name("plain")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAttributeName");
}

#[tokio::test]
async fn send_validation() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "v.fifo", &[]).await;
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "MissingParameter");
    assert_eq!(
        error_message(&err),
        "The request must contain the parameter MessageGroupId."
    );
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    );
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .message_deduplication_id("d")
        .delay_seconds(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert!(error_message(&err).contains("DelaySeconds"));
    // DelaySeconds 0 is accepted.
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .message_deduplication_id("d0")
        .delay_seconds(0)
        .send()
        .await
        .unwrap();
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("has space")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    // [AWS-rec] A batch entry without a group fails the whole request.
    let err = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("x")
                .message_deduplication_id("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        "The request must contain the parameter MessageGroupId."
    );
    // MessageDeduplicationId is not for standard queues.
    let std_url = create_queue(&sqs, "std", &[]).await;
    let err = sqs
        .send_message()
        .queue_url(&std_url)
        .message_body("x")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
}

#[tokio::test]
async fn order_within_group_and_group_blocking() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "o.fifo", &[]).await;
    let mut sequence_numbers = Vec::new();
    for i in 0..4 {
        let out = send(&sqs, &url, &format!("a{i}"), "A", &format!("a{i}")).await;
        sequence_numbers.push(out.sequence_number().unwrap().parse::<u128>().unwrap());
    }
    send(&sqs, &url, "b0", "B", "b0").await;
    assert!(
        sequence_numbers.windows(2).all(|w| w[0] < w[1]),
        "{sequence_numbers:?}"
    );
    assert_eq!(sequence_numbers[0].to_string().len(), 20);

    // First receive takes group A in order, up to the max.
    let first = receive(&sqs, &url, 2).await;
    let bodies: Vec<_> = first.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["a0", "a1"]);
    let attrs = first[0].attributes().unwrap();
    assert_eq!(attrs[&MessageSystemAttributeName::MessageGroupId], "A");
    assert_eq!(
        attrs[&MessageSystemAttributeName::MessageDeduplicationId],
        "a0"
    );
    assert_eq!(
        attrs[&MessageSystemAttributeName::SequenceNumber],
        sequence_numbers[0].to_string()
    );

    // Group A is blocked while a0/a1 are in flight; B still flows.
    let second = receive(&sqs, &url, 10).await;
    let bodies: Vec<_> = second.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["b0"]);
    assert!(receive(&sqs, &url, 10).await.is_empty());

    // Deleting one of two in-flight messages keeps the group blocked.
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(first[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert!(receive(&sqs, &url, 10).await.is_empty());
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(first[1].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let third = receive(&sqs, &url, 10).await;
    let bodies: Vec<_> = third.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["a2", "a3"]);

    // When visibility expires, the group's messages come back in the same order.
    advance_clock(&server, 31.0).await;
    let again = receive(&sqs, &url, 10).await;
    let bodies: Vec<_> = again.iter().map(|m| m.body().unwrap()).collect();
    // Every group is free again; within group A the order holds (across groups AWS promises none).
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    let pos = |b: &str| bodies.iter().position(|x| *x == b).unwrap();
    assert!(pos("a2") < pos("a3"), "{bodies:?}");
    let a2 = again.iter().find(|m| m.body() == Some("a2")).unwrap();
    assert_eq!(
        a2.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
        "2"
    );
}

#[tokio::test]
async fn deduplication_within_five_minutes() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "d.fifo", &[]).await;
    let first = send(&sqs, &url, "hello", "g", "same").await;
    let dup = send(&sqs, &url, "other body", "g", "same").await;
    assert_eq!(
        first.message_id(),
        dup.message_id(),
        "a duplicate answers with the original id"
    );
    assert_eq!(first.sequence_number(), dup.sequence_number());
    let got = receive(&sqs, &url, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("hello"));
    // Still deduplicated after the original was deleted…
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    send(&sqs, &url, "hello", "g", "same").await;
    assert!(receive(&sqs, &url, 10).await.is_empty());
    // …but not after the 5-minute interval.
    advance_clock(&server, 301.0).await;
    let fresh = send(&sqs, &url, "hello", "g", "same").await;
    assert_ne!(fresh.message_id(), first.message_id());
    assert_eq!(receive(&sqs, &url, 10).await.len(), 1);
}

#[tokio::test]
async fn content_based_deduplication_and_scope() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "c.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let a = sqs
        .send_message()
        .queue_url(&url)
        .message_body("same")
        .message_group_id("g1")
        .send()
        .await
        .unwrap();
    let b = sqs
        .send_message()
        .queue_url(&url)
        .message_body("same")
        .message_group_id("g2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        a.message_id(),
        b.message_id(),
        "queue scope: same body is a duplicate in any group"
    );
    let got = receive(&sqs, &url, 10).await;
    // The content-based id is the SHA-256 of the body.
    assert_eq!(
        got[0].attributes().unwrap()[&MessageSystemAttributeName::MessageDeduplicationId],
        "0967115f2813a3541eaef77de9d9d5773f1c0c04314b0bbfe4ff3b3b1c55b5d5"
    );

    let scoped = fifo_queue(
        &sqs,
        "s.fifo",
        &[
            ("ContentBasedDeduplication", "true"),
            ("DeduplicationScope", "messageGroup"),
        ],
    )
    .await;
    let a = sqs
        .send_message()
        .queue_url(&scoped)
        .message_body("same")
        .message_group_id("g1")
        .send()
        .await
        .unwrap();
    let b = sqs
        .send_message()
        .queue_url(&scoped)
        .message_body("same")
        .message_group_id("g2")
        .send()
        .await
        .unwrap();
    assert_ne!(
        a.message_id(),
        b.message_id(),
        "messageGroup scope: groups deduplicate separately"
    );
}

#[tokio::test]
async fn batch_keeps_entry_order_and_sequence_numbers() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "b.fifo", &[]).await;
    let mut req = sqs.send_message_batch().queue_url(&url);
    for i in 0..10 {
        req = req.entries(
            SendMessageBatchRequestEntry::builder()
                .id(format!("e{i}"))
                .message_body(format!("m{i}"))
                .message_group_id("g")
                .message_deduplication_id(format!("d{i}"))
                .build()
                .unwrap(),
        );
    }
    let out = req.send().await.unwrap();
    assert_eq!(out.successful().len(), 10);
    let seqs: Vec<u128> = out
        .successful()
        .iter()
        .map(|e| e.sequence_number().unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let got = receive(&sqs, &url, 10).await;
    let bodies: Vec<_> = got.iter().map(|m| m.body().unwrap().to_string()).collect();
    assert_eq!(bodies, (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn receive_request_attempt_id_returns_the_same_batch() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "r.fifo", &[]).await;
    for i in 0..3 {
        send(
            &sqs,
            &url,
            &format!("m{i}"),
            &format!("g{i}"),
            &format!("d{i}"),
        )
        .await;
    }
    let attempt = |id: &str| {
        sqs.receive_message()
            .queue_url(&url)
            .max_number_of_messages(2)
            .receive_request_attempt_id(id)
            .send()
    };
    let first = attempt("try-1").await.unwrap().messages.unwrap();
    let retry = attempt("try-1").await.unwrap().messages.unwrap();
    assert_eq!(first.len(), 2);
    let handles = |ms: &[aws_sdk_sqs::types::Message]| {
        ms.iter()
            .map(|m| m.receipt_handle().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(handles(&first), handles(&retry));
    let other = attempt("try-2").await.unwrap().messages.unwrap();
    assert_eq!(other.len(), 1);
    assert!(!handles(&first).contains(&other[0].receipt_handle().unwrap().to_string()));
}

#[tokio::test]
async fn expired_receipt_handle_cannot_delete() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "e.fifo", &[("VisibilityTimeout", "5")]).await;
    send(&sqs, &url, "x", "g", "d").await;
    let got = receive(&sqs, &url, 1).await;
    advance_clock(&server, 6.0).await;
    let err = sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert!(error_message(&err).ends_with("Reason: The receipt handle has expired."));
    // A fresh handle deletes.
    let again = receive(&sqs, &url, 1).await;
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(again[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert!(receive(&sqs, &url, 1).await.is_empty());
}

#[tokio::test]
async fn change_visibility_zero_releases_the_group() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "z.fifo", &[]).await;
    send(&sqs, &url, "1", "g", "1").await;
    send(&sqs, &url, "2", "g", "2").await;
    let got = receive(&sqs, &url, 1).await;
    assert_eq!(got[0].body(), Some("1"));
    assert!(receive(&sqs, &url, 1).await.is_empty(), "group blocked");
    sqs.change_message_visibility()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = receive(&sqs, &url, 10).await;
    let bodies: Vec<_> = again.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["1", "2"], "order is kept when the head comes back");
}

#[tokio::test]
async fn concurrent_consumers_never_share_a_group_and_keep_order() {
    use std::collections::{HashMap, HashSet};
    use std::sync::{Arc, Mutex};

    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "c.fifo", &[]).await;
    const GROUPS: usize = 5;
    const PER_GROUP: usize = 20;
    for i in 0..PER_GROUP {
        for g in 0..GROUPS {
            send(
                &sqs,
                &url,
                &format!("{g}:{i}"),
                &format!("g{g}"),
                &format!("{g}-{i}"),
            )
            .await;
        }
    }
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<String, Vec<usize>>>> = Arc::default();
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let (sqs, url, busy, seen) = (sqs.clone(), url.clone(), busy.clone(), seen.clone());
        consumers.push(tokio::spawn(async move {
            let mut idle = 0;
            while idle < 3 {
                let got = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(3)
                    .send()
                    .await
                    .unwrap()
                    .messages
                    .unwrap_or_default();
                if got.is_empty() {
                    idle += 1;
                    continue;
                }
                idle = 0;
                let groups: HashSet<String> = got
                    .iter()
                    .map(|m| m.body().unwrap().split(':').next().unwrap().to_string())
                    .collect();
                for g in &groups {
                    assert!(
                        busy.lock().unwrap().insert(g.clone()),
                        "group {g} handed to two consumers at once"
                    );
                }
                tokio::task::yield_now().await;
                for m in &got {
                    let (g, i) = m.body().unwrap().split_once(':').unwrap();
                    seen.lock()
                        .unwrap()
                        .entry(g.to_string())
                        .or_default()
                        .push(i.parse().unwrap());
                }
                for g in &groups {
                    busy.lock().unwrap().remove(g);
                }
                for m in &got {
                    sqs.delete_message()
                        .queue_url(&url)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for c in consumers {
        c.await.unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), GROUPS);
    for (g, order) in seen.iter() {
        assert_eq!(
            order,
            &(0..PER_GROUP).collect::<Vec<_>>(),
            "group {g} out of order"
        );
    }
}
