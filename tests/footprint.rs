//! The server process's own footprint: memory freed by deleted queues goes back to the OS.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_of_a_deleted_queue_is_given_back_to_the_os() {
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

    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut now_kib = server.resident_anonymous_kib();
    while now_kib > idle_kib + 20 * 1024 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        now_kib = server.resident_anonymous_kib();
    }
    assert!(
        now_kib <= idle_kib + 20 * 1024,
        "after DeleteQueue the memory is given back: {idle_kib} KiB idle, {full_kib} KiB full, \
         {now_kib} KiB now"
    );
}
