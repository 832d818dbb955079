//! A quick end-to-end check through aws-sdk-sqs.

mod common;

use common::*;

#[tokio::test]
async fn send_receive_delete_round_trip() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "smoke", &[]).await;
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("msg")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_body(),
        Some("6e2baaf3b97dbeef01c0043275f9a0e7")
    );
    let received = sqs.receive_message().queue_url(&url).send().await.unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body(), Some("msg"));
    assert_eq!(messages[0].message_id(), sent.message_id());
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(messages[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let err = sqs
        .get_queue_url()
        .queue_name("missing")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    server.stop().await;
}
