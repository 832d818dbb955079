//! Delivery order and availability as recorded on real AWS (issue 14): which FIFO groups are
//! receivable and in what order, long polls waking when a group unlocks, a standard message
//! keeping its place when it returns from flight, older receipt handles of standard messages,
//! and the FIFO deduplication window (purge, creation-time DeduplicationScope).

mod common;

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use common::*;

/// Sends `body` to `group` with `dedup` as deduplication id (the body when `None`).
async fn send_fifo(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    body: &str,
    group: &str,
    dedup: Option<&str>,
) -> String {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id(group)
        .message_deduplication_id(dedup.unwrap_or(body))
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap()
}

/// Receives up to `max` messages, with `visibility` seconds when given.
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
    visibility: Option<i32>,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .set_visibility_timeout(visibility)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

fn bodies(messages: &[aws_sdk_sqs::types::Message]) -> Vec<&str> {
    messages.iter().map(|m| m.body().unwrap()).collect()
}

async fn change_visibility(sqs: &aws_sdk_sqs::Client, url: &str, handle: &str, seconds: i32) {
    sqs.change_message_visibility()
        .queue_url(url)
        .receipt_handle(handle)
        .visibility_timeout(seconds)
        .send()
        .await
        .unwrap();
}

/// Recorded case (a): groups re-enter the ready list at the tail, in the order one receive
/// served them; a never-received group keeps its place.
#[tokio::test]
async fn fifo_groups_served_by_a_receive_re_enter_at_the_tail_in_order() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "order-a.fifo", &[]).await;
    for (body, group) in [
        ("g1-m1", "g1"),
        ("g2-m1", "g2"),
        ("g2-m2", "g2"),
        ("g3-m1", "g3"),
        ("g1-m2", "g1"),
    ] {
        send_fifo(&sqs, &url, body, group, None).await;
    }
    let first = receive(&sqs, &url, 3, Some(0)).await;
    assert_eq!(bodies(&first), ["g1-m1", "g1-m2", "g2-m1"]);
    let second = receive(&sqs, &url, 10, Some(0)).await;
    assert_eq!(
        bodies(&second),
        ["g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"]
    );
    server.stop().await;
}

/// Recorded case (b): ChangeMessageVisibility 0 on a group's head makes the group receivable
/// again (behind groups already waiting) although a later message of it is still in flight;
/// the receive stops at that message.
#[tokio::test]
async fn fifo_group_with_visible_head_is_receivable_despite_later_in_flight_messages() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "order-b.fifo", &[("VisibilityTimeout", "30")]).await;
    for (body, group) in [("g1-m1", "g1"), ("g1-m2", "g1"), ("g2-m1", "g2")] {
        send_fifo(&sqs, &url, body, group, None).await;
    }
    let first = receive(&sqs, &url, 2, None).await;
    assert_eq!(bodies(&first), ["g1-m1", "g1-m2"]);
    change_visibility(&sqs, &url, first[0].receipt_handle().unwrap(), 0).await;
    let second = receive(&sqs, &url, 3, None).await;
    assert_eq!(bodies(&second), ["g2-m1", "g1-m1"]);
    server.stop().await;
}

/// Recorded case (c): with every message of group "1" received (queue visibility 1 s), one at
/// position p is held 4 s: 2.5 s later a receive takes the visible messages before it.
#[tokio::test]
async fn fifo_receive_stops_at_the_groups_first_message_in_flight() {
    let server = server().await;
    let sqs = sqs(&server);
    let expected: [&[&str]; 3] = [&[], &["foo"], &["foo", "bar"]];
    for (p, expected) in expected.iter().enumerate() {
        let url = fifo_queue(
            &sqs,
            &format!("order-c{p}.fifo"),
            &[("VisibilityTimeout", "1")],
        )
        .await;
        for body in ["foo", "bar", "baz"] {
            send_fifo(&sqs, &url, body, "1", None).await;
        }
        let all = receive(&sqs, &url, 3, None).await;
        assert_eq!(bodies(&all), ["foo", "bar", "baz"]);
        change_visibility(&sqs, &url, all[p].receipt_handle().unwrap(), 4).await;
        advance_clock(&server, 2.5).await;
        let got = receive(&sqs, &url, 5, None).await;
        assert_eq!(bodies(&got), *expected, "position {p}");
    }
    server.stop().await;
}

/// Recorded: three receivers wait; deleting a group's in-flight head wakes one at once with the
/// group's next message (not when its wait ends).
#[tokio::test]
async fn deleting_a_fifo_groups_head_wakes_a_long_poll() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "wake.fifo", &[]).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (sqs, url, tx) = (sqs.clone(), url.clone(), tx.clone());
            tokio::spawn(async move {
                let out = sqs
                    .receive_message()
                    .queue_url(&url)
                    .wait_time_seconds(10)
                    .send()
                    .await
                    .unwrap();
                let _ = tx.send(out.messages.unwrap_or_default());
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    send_fifo(&sqs, &url, "m1", "g", None).await;
    let got = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("a waiter gets m1")
        .unwrap();
    assert_eq!(bodies(&got), ["m1"]);
    send_fifo(&sqs, &url, "m2", "g", None).await;
    let early = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
    assert!(
        early.is_err(),
        "m2 delivered while m1 was in flight: {early:?}"
    );
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(got[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("deleting m1 wakes a waiter")
        .unwrap();
    assert_eq!(bodies(&got), ["m2"]);
    for waiter in waiters {
        waiter.abort();
    }
    server.stop().await;
}

/// Recorded: a standard message back from flight is delivered before one sent while it was
/// in flight.
#[tokio::test]
async fn standard_message_returning_from_flight_keeps_its_place() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "requeue", &[]).await;
    for body in ["test1"] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(bodies(&receive(&sqs, &url, 1, Some(3)).await), ["test1"]);
    advance_clock(&server, 1.5).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("test2")
        .send()
        .await
        .unwrap();
    advance_clock(&server, 3.0).await;
    assert_eq!(bodies(&receive(&sqs, &url, 1, None).await), ["test1"]);
    server.stop().await;
}

/// Recorded: on a standard queue an earlier receipt handle of a message that still exists
/// changes its visibility as the newest one would.
#[tokio::test]
async fn standard_change_visibility_with_an_earlier_handle_applies() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "old-handle", &[]).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("test")
        .send()
        .await
        .unwrap();
    let first = receive(&sqs, &url, 1, Some(0)).await;
    assert_eq!(first.len(), 1);
    assert_eq!(receive(&sqs, &url, 1, Some(3)).await.len(), 1);
    assert!(receive(&sqs, &url, 1, None).await.is_empty());
    change_visibility(&sqs, &url, first[0].receipt_handle().unwrap(), 0).await;
    assert_eq!(bodies(&receive(&sqs, &url, 1, None).await), ["test"]);
    server.stop().await;
}

/// Recorded: PurgeQueue also empties the deduplication window.
#[tokio::test]
async fn purge_clears_the_fifo_deduplication_window() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = fifo_queue(&sqs, "purge-dedup.fifo", &[]).await;
    let first = send_fifo(&sqs, &url, "before", "g", Some("same")).await;
    sqs.purge_queue().queue_url(&url).send().await.unwrap();
    let second = send_fifo(&sqs, &url, "after", "g", Some("same")).await;
    assert_ne!(
        first, second,
        "the send after the purge was taken for a duplicate"
    );
    assert_eq!(bodies(&receive(&sqs, &url, 10, None).await), ["after"]);
    server.stop().await;
}

async fn queue_attribute(sqs: &aws_sdk_sqs::Client, url: &str, name: QueueAttributeName) -> String {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap();
    out.attributes().unwrap()[&name].clone()
}

/// Recorded: SetQueueAttributes may change DeduplicationScope (and GetQueueAttributes reports
/// the new value), but deduplication keeps the scope the queue was created with.
#[tokio::test]
async fn deduplication_keeps_the_scope_the_queue_was_created_with() {
    let server = server().await;
    let sqs = sqs(&server);
    for (created, set, name) in [
        ("queue", "messageGroup", "scope-queue.fifo"),
        ("messageGroup", "queue", "scope-group.fifo"),
    ] {
        let url = fifo_queue(&sqs, name, &[("DeduplicationScope", created)]).await;
        let first = send_fifo(&sqs, &url, "m1", "g1", Some("same")).await;
        let throughput = if set == "queue" {
            "perQueue"
        } else {
            "perMessageGroupId"
        };
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::DeduplicationScope, set)
            .attributes(QueueAttributeName::FifoThroughputLimit, throughput)
            .send()
            .await
            .unwrap();
        assert_eq!(
            queue_attribute(&sqs, &url, QueueAttributeName::DeduplicationScope).await,
            set
        );
        assert_eq!(
            queue_attribute(&sqs, &url, QueueAttributeName::FifoThroughputLimit).await,
            throughput
        );
        let second = send_fifo(&sqs, &url, "m2", "g2", Some("same")).await;
        let duplicate = created == "queue";
        assert_eq!(
            first == second,
            duplicate,
            "created with {created}, set to {set}"
        );
        let expected: &[&str] = if duplicate { &["m1"] } else { &["m1", "m2"] };
        assert_eq!(bodies(&receive(&sqs, &url, 10, None).await), expected);
    }
    server.stop().await;
}
