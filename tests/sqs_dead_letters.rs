//! Dead-letter queues, redrive policies, message move tasks, permissions and queue deletion
//! (reference §4.3, §4.8).

mod common;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use common::*;

fn redrive(arn: &str, count: &str) -> String {
    format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":{count}}}"#)
}

/// A source queue (visibility 0 so a message can be received again at once) and its DLQ.
async fn source_and_dlq(sqs: &aws_sdk_sqs::Client, max: u32) -> (String, String, String) {
    let dlq = create_queue(sqs, "dlq", &[]).await;
    let dlq_arn = queue_arn(sqs, &dlq).await;
    let policy = redrive(&dlq_arn, &max.to_string());
    let source = create_queue(
        sqs,
        "source",
        &[("VisibilityTimeout", "0"), ("RedrivePolicy", &policy)],
    )
    .await;
    (source, dlq, dlq_arn)
}

#[tokio::test]
async fn message_moves_after_max_receive_count() {
    let server = server().await;
    let sqs = sqs(&server);
    let (source, dlq, _) = source_and_dlq(&sqs, 3).await;
    let source_arn = queue_arn(&sqs, &source).await;
    let sent = sqs
        .send_message()
        .queue_url(&source)
        .message_body("poison")
        .message_attributes(
            "kind",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("order")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut sent_timestamp = None;
    for attempt in 1..=3 {
        let got = receive_all(&sqs, &source, 10).await;
        assert_eq!(got.len(), 1, "receive {attempt} still delivers");
        let attrs = got[0].attributes().unwrap();
        assert_eq!(
            attrs[&MessageSystemAttributeName::ApproximateReceiveCount],
            attempt.to_string()
        );
        sent_timestamp = Some(attrs[&MessageSystemAttributeName::SentTimestamp].clone());
    }
    // The fourth receive would exceed maxReceiveCount: the message moves instead.
    assert!(receive_all(&sqs, &source, 10).await.is_empty());
    let moved = receive_all(&sqs, &dlq, 10).await;
    assert_eq!(moved.len(), 1);
    let m = &moved[0];
    assert_eq!(m.message_id(), sent.message_id());
    assert_eq!(m.body(), Some("poison"));
    assert_eq!(
        m.message_attributes().unwrap()["kind"].string_value(),
        Some("order")
    );
    let attrs = m.attributes().unwrap();
    assert_eq!(
        attrs[&MessageSystemAttributeName::DeadLetterQueueSourceArn],
        source_arn
    );
    assert_eq!(
        Some(&attrs[&MessageSystemAttributeName::SentTimestamp]),
        sent_timestamp.as_ref()
    );
}

#[tokio::test]
async fn redrive_policy_validation() {
    let server = server().await;
    let sqs = sqs(&server);
    let dlq = create_queue(&sqs, "dlq", &[]).await;
    let dlq_arn = queue_arn(&sqs, &dlq).await;
    let src = create_queue(&sqs, "src", &[]).await;
    let set = |policy: String| {
        sqs.set_queue_attributes()
            .queue_url(&src)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
    };
    for bad in [
        redrive(&dlq_arn, "0"),
        redrive(&dlq_arn, "1001"),
        redrive("arn:aws:sqs:us-east-1:000000000000:nope", "3"),
        "not json".to_string(),
        r#"{"maxReceiveCount":3}"#.to_string(),
    ] {
        let err = set(bad.clone()).await.unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValue", "{bad}");
    }
    let err = set(redrive(&dlq_arn, "0")).await.unwrap_err();
    assert!(error_message(&err).contains(
        "Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive."
    ));
    // The count may be a string, and comes back normalised as a number.
    set(redrive(&dlq_arn, "\"5\"")).await.unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&src)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(&attrs.attributes.unwrap()[&QueueAttributeName::RedrivePolicy])
            .unwrap();
    assert_eq!(policy["maxReceiveCount"], 5);
    assert_eq!(policy["deadLetterTargetArn"], dlq_arn.as_str());
    // FIFO sources need FIFO dead-letter queues.
    let fifo_src = create_queue(&sqs, "f.fifo", &[("FifoQueue", "true")]).await;
    let err = sqs
        .set_queue_attributes()
        .queue_url(&fifo_src)
        .attributes(QueueAttributeName::RedrivePolicy, redrive(&dlq_arn, "3"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    // "" removes the policy.
    set(String::new()).await.unwrap();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&src)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    assert!(!attrs
        .attributes
        .unwrap()
        .contains_key(&QueueAttributeName::RedrivePolicy));
}

#[tokio::test]
async fn redrive_allow_policy_is_enforced() {
    let server = server().await;
    let sqs = sqs(&server);
    let allowed = create_queue(&sqs, "allowed", &[]).await;
    let allowed_arn = queue_arn(&sqs, &allowed).await;
    let allow = format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{allowed_arn}"]}}"#);
    let dlq = create_queue(&sqs, "dlq", &[("RedriveAllowPolicy", &allow)]).await;
    let dlq_arn = queue_arn(&sqs, &dlq).await;
    sqs.set_queue_attributes()
        .queue_url(&allowed)
        .attributes(QueueAttributeName::RedrivePolicy, redrive(&dlq_arn, "2"))
        .send()
        .await
        .unwrap();
    let other = create_queue(&sqs, "other", &[]).await;
    let err = sqs
        .set_queue_attributes()
        .queue_url(&other)
        .attributes(QueueAttributeName::RedrivePolicy, redrive(&dlq_arn, "2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    let deny = create_queue(
        &sqs,
        "deny",
        &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)],
    )
    .await;
    let deny_arn = queue_arn(&sqs, &deny).await;
    let err = sqs
        .set_queue_attributes()
        .queue_url(&other)
        .attributes(QueueAttributeName::RedrivePolicy, redrive(&deny_arn, "2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    for bad in [
        r#"{"redrivePermission":"byQueue"}"#,
        r#"{"redrivePermission":"allowAll","sourceQueueArns":["x"]}"#,
        r#"{"redrivePermission":"sometimes"}"#,
    ] {
        let err = sqs
            .set_queue_attributes()
            .queue_url(&deny)
            .attributes(QueueAttributeName::RedriveAllowPolicy, bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&err), "InvalidParameterValue", "{bad}");
    }
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("\"arn:aws:sqs:us-east-1:000000000000:q{i}\""))
        .collect();
    let too_many = format!(
        r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{}]}}"#,
        eleven.join(",")
    );
    let err = sqs
        .set_queue_attributes()
        .queue_url(&deny)
        .attributes(QueueAttributeName::RedriveAllowPolicy, too_many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
}

#[tokio::test]
async fn list_dead_letter_source_queues_pages() {
    let server = server().await;
    let sqs = sqs(&server);
    let dlq = create_queue(&sqs, "dlq", &[]).await;
    let dlq_arn = queue_arn(&sqs, &dlq).await;
    let policy = redrive(&dlq_arn, "3");
    for i in 0..5 {
        create_queue(&sqs, &format!("src-{i}"), &[("RedrivePolicy", &policy)]).await;
    }
    create_queue(&sqs, "unrelated", &[]).await;
    let all = sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert_eq!(all.queue_urls().len(), 5);
    assert!(all.next_token().is_none());
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = sqs
            .list_dead_letter_source_queues()
            .queue_url(&dlq)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(page.queue_urls().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|u| u.contains("/src-")));
    // Query protocol: flattened <QueueUrl> entries.
    let (status, body) = query(
        &server,
        "/",
        &[("Action", "ListDeadLetterSourceQueues"), ("QueueUrl", &dlq)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.matches("<QueueUrl>").count(), 5);
}

#[tokio::test]
async fn fifo_dead_letter_queue() {
    let server = server().await;
    let sqs = sqs(&server);
    let dlq = create_queue(&sqs, "dlq.fifo", &[("FifoQueue", "true")]).await;
    let dlq_arn = queue_arn(&sqs, &dlq).await;
    let policy = redrive(&dlq_arn, "1");
    let src = create_queue(
        &sqs,
        "src.fifo",
        &[
            ("FifoQueue", "true"),
            ("VisibilityTimeout", "0"),
            ("RedrivePolicy", &policy),
        ],
    )
    .await;
    for i in 0..2 {
        sqs.send_message()
            .queue_url(&src)
            .message_body(format!("m{i}"))
            .message_group_id("g")
            .message_deduplication_id(format!("d{i}"))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(receive_all(&sqs, &src, 10).await.len(), 2);
    assert!(
        receive_all(&sqs, &src, 10).await.is_empty(),
        "both exceeded maxReceiveCount 1"
    );
    let moved = receive_all(&sqs, &dlq, 10).await;
    let bodies: Vec<_> = moved.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["m0", "m1"], "group order survives the move");
    assert_eq!(
        moved[0].attributes().unwrap()[&MessageSystemAttributeName::MessageGroupId],
        "g"
    );
}

#[tokio::test]
async fn move_task_redrives_to_the_original_source() {
    let server = server().await;
    let sqs = sqs(&server);
    let (source, dlq, dlq_arn) = source_and_dlq(&sqs, 1).await;
    for i in 0..3 {
        sqs.send_message()
            .queue_url(&source)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    // Receive each once, then the next receive moves them to the DLQ.
    while !receive_all(&sqs, &source, 10).await.is_empty() {}
    let counts = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        counts.attributes.unwrap()[&QueueAttributeName::ApproximateNumberOfMessages],
        "3"
    );

    // Only dead-letter queues can be move-task sources.
    let source_arn = queue_arn(&sqs, &source).await;
    let err = sqs
        .start_message_move_task()
        .source_arn(&source_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
    assert_eq!(
        error_message(&err),
        "Source queue must be configured as a Dead Letter Queue."
    );
    let err = sqs
        .start_message_move_task()
        .source_arn("arn:aws:sqs:us-east-1:000000000000:missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");

    let handle = sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap()
        .task_handle
        .unwrap();
    let mut status = String::new();
    for _ in 0..100 {
        let tasks = sqs
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .unwrap();
        let task = &tasks.results()[0];
        status = task.status().unwrap().to_string();
        if status == "COMPLETED" {
            assert_eq!(task.approximate_number_of_messages_moved(), 3);
            assert_eq!(task.approximate_number_of_messages_to_move(), Some(3));
            assert!(
                task.task_handle().is_none(),
                "finished tasks have no handle"
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "COMPLETED");
    let back = receive_all(&sqs, &source, 10).await;
    assert_eq!(back.len(), 3, "messages returned to their source queue");
    assert_eq!(
        back[0].attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount],
        "1",
        "a redriven message starts over"
    );
    let err = sqs
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "ResourceNotFoundException");
    let err = sqs
        .cancel_message_move_task()
        .task_handle("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidParameterValue");
}

#[tokio::test]
async fn move_task_to_a_destination_can_be_cancelled() {
    let server = server().await;
    let sqs = sqs(&server);
    let (source, dlq, dlq_arn) = source_and_dlq(&sqs, 1).await;
    let dest = create_queue(&sqs, "dest", &[]).await;
    let dest_arn = queue_arn(&sqs, &dest).await;
    for i in 0..20 {
        sqs.send_message()
            .queue_url(&source)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    while !receive_all(&sqs, &source, 10).await.is_empty() {}
    let _ = dlq;
    // One message per second: the task is still running when cancelled.
    let handle = sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(&dest_arn)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .unwrap()
        .task_handle
        .unwrap();
    let err = sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        error_message(&err).contains("Only one active task"),
        "{}",
        error_message(&err)
    );
    let running = sqs
        .list_message_move_tasks()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(running.results()[0].status(), Some("RUNNING"));
    assert_eq!(running.results()[0].task_handle(), Some(handle.as_str()));
    assert_eq!(
        running.results()[0].destination_arn(),
        Some(dest_arn.as_str())
    );
    let cancelled = sqs
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .unwrap();
    assert!(cancelled.approximate_number_of_messages_moved() < 20);
    let listed = sqs
        .list_message_move_tasks()
        .source_arn(&dlq_arn)
        .max_results(10)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.results()[0].status(), Some("CANCELLED"));
    let moved = sqs
        .get_queue_attributes()
        .queue_url(&dest)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let n: i64 = moved.attributes.unwrap()[&QueueAttributeName::ApproximateNumberOfMessages]
        .parse()
        .unwrap();
    assert!((1..20).contains(&n), "{n}");
}

#[tokio::test]
async fn permissions_render_into_the_policy() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "shared", &[]).await;
    let arn = queue_arn(&sqs, &url).await;
    sqs.add_permission()
        .queue_url(&url)
        .label("one")
        .aws_account_ids("111111111111")
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
    sqs.add_permission()
        .queue_url(&url)
        .label("two")
        .aws_account_ids("111111111111")
        .aws_account_ids("222222222222")
        .actions("ReceiveMessage")
        .actions("DeleteMessage")
        .send()
        .await
        .unwrap();
    let policy = |attrs: aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput| {
        attrs
            .attributes
            .unwrap_or_default()
            .get(&QueueAttributeName::Policy)
            .cloned()
    };
    let get = || {
        sqs.get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::Policy)
            .send()
    };
    let doc: serde_json::Value =
        serde_json::from_str(&policy(get().await.unwrap()).unwrap()).unwrap();
    assert_eq!(doc["Version"], "2008-10-17");
    assert_eq!(doc["Id"], format!("{arn}/SQSDefaultPolicy"));
    let first = &doc["Statement"][0];
    assert_eq!(first["Sid"], "one");
    assert_eq!(first["Effect"], "Allow");
    assert_eq!(first["Principal"]["AWS"], "arn:aws:iam::111111111111:root");
    assert_eq!(first["Action"], "SQS:SendMessage");
    assert_eq!(first["Resource"], arn.as_str());
    let second = &doc["Statement"][1];
    assert_eq!(
        second["Principal"]["AWS"],
        serde_json::json!([
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::222222222222:root"
        ])
    );
    assert_eq!(
        second["Action"],
        serde_json::json!(["SQS:ReceiveMessage", "SQS:DeleteMessage"])
    );

    let err = sqs
        .add_permission()
        .queue_url(&url)
        .label("one")
        .aws_account_ids("111111111111")
        .actions("SendMessage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Value one for parameter Label is invalid. Reason: Already exists."
    );
    let err = sqs
        .remove_permission()
        .queue_url(&url)
        .label("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_message(&err),
        "Value nope for parameter Label is invalid. Reason: can't find label."
    );
    sqs.remove_permission()
        .queue_url(&url)
        .label("one")
        .send()
        .await
        .unwrap();
    sqs.remove_permission()
        .queue_url(&url)
        .label("two")
        .send()
        .await
        .unwrap();
    assert!(
        policy(get().await.unwrap()).is_none(),
        "removing the last statement removes the policy"
    );
}

#[tokio::test]
async fn strict_queue_recreate_is_opt_in() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "again", &[]).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("old")
        .send()
        .await
        .unwrap();
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let url = create_queue(&sqs, "again", &[]).await;
    assert!(
        receive_all(&sqs, &url, 10).await.is_empty(),
        "a deleted queue's messages are gone"
    );

    let config = lyrebird::Config {
        port: 0,
        test_endpoints: true,
        strict_queue_recreate: true,
        ..Default::default()
    };
    let strict = lyrebird::spawn(config).await.unwrap();
    let sqs = common::sqs(&strict);
    let url = create_queue(&sqs, "again", &[]).await;
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let err = sqs
        .create_queue()
        .queue_name("again")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error_code(&err),
        "AWS.SimpleQueueService.QueueDeletedRecently"
    );
    assert!(err.as_service_error().unwrap().is_queue_deleted_recently());
    advance_clock(&strict, 61.0).await;
    create_queue(&sqs, "again", &[]).await;
}
