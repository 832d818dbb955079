//! The server process's own footprint: memory freed by deleted messages and queues goes back to
//! the OS. (glibc's allocator and /proc: Linux only.)
#![cfg(all(target_os = "linux", target_env = "gnu"))]

mod common;

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_of_deleted_messages_and_queues_is_given_back_to_the_os() {
    let server = common::process::start(
        &["--in-memory"],
        &[("LYREBIRD_MEMORY_TRIM_INTERVAL_MS", "100")],
    )
    .await;
    let sqs = common::sqs_at(&server.endpoint, "test", "us-east-1");
    let idle_kib = server.resident_anonymous_kib();
    let url = common::create_queue(&sqs, "backlog", &[]).await;
    // 60 MiB of bodies in 1,000 messages of 60 KiB, four to a batch.
    let body = "x".repeat(60 * 1024);
    for batch in 0..250 {
        let mut request = sqs.send_message_batch().queue_url(&url);
        for i in 0..4 {
            let entry = SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(format!("{batch}-{i}-{body}"))
                .build()
                .unwrap();
            request = request.entries(entry);
        }
        let sent = request.send().await.unwrap();
        assert!(sent.failed.is_empty());
    }
    let full_kib = server.resident_anonymous_kib();
    assert!(
        full_kib > idle_kib + 55 * 1024,
        "the backlog is resident: {idle_kib} KiB idle, {full_kib} KiB full"
    );

    // Drain half of it: deleted messages' memory goes back too.
    let mut deleted = 0;
    while deleted < 500 {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let mut batch = sqs.delete_message_batch().queue_url(&url);
        for (i, m) in received.messages().iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle().unwrap())
                .build()
                .unwrap();
            batch = batch.entries(entry);
            deleted += 1;
        }
        assert!(batch.send().await.unwrap().failed.is_empty());
    }
    // ~30 MiB freed; at least one trim of >= 16 MiB fires (more if the machine stalled mid-drain).
    let half_kib = wait_for_resident_below(&server, full_kib - 12 * 1024).await;
    assert!(
        half_kib <= full_kib - 12 * 1024,
        "after deleting half the messages: {full_kib} KiB full, {half_kib} KiB now"
    );

    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let now_kib = wait_for_resident_below(&server, idle_kib + 20 * 1024).await;
    assert!(
        now_kib <= idle_kib + 20 * 1024,
        "after DeleteQueue the memory is given back: {idle_kib} KiB idle, {full_kib} KiB full, \
         {now_kib} KiB now"
    );
}

/// Polls the server's resident memory until it is at most `kib` (a trim comes within a few
/// 100 ms intervals; the deadline is for a loaded CI machine).
async fn wait_for_resident_below(server: &common::process::Process, kib: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now_kib = server.resident_anonymous_kib();
    while now_kib > kib && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        now_kib = server.resident_anonymous_kib();
    }
    now_kib
}
