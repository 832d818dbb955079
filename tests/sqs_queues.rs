//! Queue-level operations on standard queues through aws-sdk-sqs (JSON protocol): create, URL
//! lookup, listing and paging, deletion, attributes, purge, tags, accounts and regions, plus the
//! lyrebird control endpoints and STS GetCallerIdentity (reference §2, §4.1–§4.3, §6.1).

mod common;

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use common::*;

/// Every attribute `GetQueueAttributes All` returns on a new standard queue (§4.2, AWS-rec).
const STANDARD_ALL: [&str; 12] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "DelaySeconds",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
];

/// All attributes of a queue, keyed by attribute name.
async fn all_attributes(sqs: &aws_sdk_sqs::Client, url: &str) -> HashMap<String, String> {
    attributes(sqs, url, &["All"]).await
}

async fn attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    names: &[&str],
) -> HashMap<String, String> {
    let mut req = sqs.get_queue_attributes().queue_url(url);
    for name in names {
        req = req.attribute_names(QueueAttributeName::from(*name));
    }
    req.send()
        .await
        .expect("get queue attributes")
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect()
}

async fn attribute(sqs: &aws_sdk_sqs::Client, url: &str, name: &str) -> String {
    attributes(sqs, url, &[name])
        .await
        .remove(name)
        .unwrap_or_else(|| panic!("attribute {name} missing"))
}

async fn counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64, u64) {
    let a = all_attributes(sqs, url).await;
    let n = |k: &str| a[k].parse::<u64>().unwrap();
    (
        n("ApproximateNumberOfMessages"),
        n("ApproximateNumberOfMessagesNotVisible"),
        n("ApproximateNumberOfMessagesDelayed"),
    )
}

async fn set_attribute(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    name: &str,
    value: &str,
) -> Result<(), String> {
    sqs.set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::from(name), value)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}|{}", error_code(&e), error_message(&e)))
}

/// Attempts a CreateQueue and returns `code|message` on failure.
async fn try_create(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attrs: &[(&str, &str)],
) -> Result<String, String> {
    let mut req = sqs.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(QueueAttributeName::from(*k), *v);
    }
    req.send()
        .await
        .map(|o| o.queue_url.unwrap())
        .map_err(|e| format!("{}|{}", error_code(&e), error_message(&e)))
}

async fn list(sqs: &aws_sdk_sqs::Client, prefix: Option<&str>) -> Vec<String> {
    let mut urls = sqs
        .list_queues()
        .set_queue_name_prefix(prefix.map(str::to_string))
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default();
    urls.sort();
    urls
}

async fn tags(sqs: &aws_sdk_sqs::Client, url: &str) -> HashMap<String, String> {
    sqs.list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default()
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &str, delay: Option<i32>) {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .set_delay_seconds(delay)
        .send()
        .await
        .unwrap();
}

async fn receive_count(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
        .len()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// CreateQueue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_queue_returns_url_with_account_and_name() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "orders", &[]).await;
    assert_eq!(url, format!("{}/{ACCOUNT}/orders", server.endpoint()));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // GetQueueUrl answers the same URL.
    let got = sqs
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url(), Some(url.as_str()));
    server.stop().await;
}

#[tokio::test]
async fn create_queue_url_carries_the_host_the_client_used() {
    // §4.1: emulators build URLs from the Host header so clients can reach them.
    let server = server().await;
    let port = server.endpoint().rsplit(':').next().unwrap().to_string();
    let endpoint = format!("http://localhost:{port}");
    let sqs = sqs_at(&endpoint, "test", "us-east-1");
    let url = create_queue(&sqs, "via-localhost", &[]).await;
    assert_eq!(url, format!("{endpoint}/{ACCOUNT}/via-localhost"));
    // ListQueues and GetQueueUrl answer with the same host too.
    assert_eq!(list(&sqs, None).await, vec![url.clone()]);
    let got = sqs
        .get_queue_url()
        .queue_name("via-localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url(), Some(url.as_str()));
    server.stop().await;
}

#[tokio::test]
async fn create_queue_is_idempotent_with_identical_attributes() {
    // §4.3: only the supplied attributes are compared.
    let server = server().await;
    let sqs = sqs(&server);
    let attrs = [("VisibilityTimeout", "60"), ("DelaySeconds", "5")];
    let first = create_queue(&sqs, "idem", &attrs).await;
    let second = create_queue(&sqs, "idem", &attrs).await;
    assert_eq!(first, second);
    // A subset of the same values, and no attributes at all, also return the existing queue.
    let third = create_queue(&sqs, "idem", &[("DelaySeconds", "5")]).await;
    assert_eq!(first, third);
    let fourth = create_queue(&sqs, "idem", &[]).await;
    assert_eq!(first, fourth);
    assert_eq!(list(&sqs, None).await, vec![first.clone()]);
    assert_eq!(attribute(&sqs, &first, "VisibilityTimeout").await, "60");
    // Explicitly supplying the default value of an untouched attribute matches too.
    let plain = create_queue(&sqs, "plain", &[]).await;
    let again = create_queue(&sqs, "plain", &[("VisibilityTimeout", "30")]).await;
    assert_eq!(plain, again);
    server.stop().await;
}

#[tokio::test]
async fn create_queue_with_different_attribute_is_queue_name_exists() {
    let server = server().await;
    let sqs = sqs(&server);
    create_queue(&sqs, "clash", &[("DelaySeconds", "5")]).await;
    let err = sqs
        .create_queue()
        .queue_name("clash")
        .attributes(QueueAttributeName::DelaySeconds, "6")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_name_exists());
    assert_eq!(error_code(&err), "QueueAlreadyExists");
    // §2.3: attribute name substituted, no final period.
    assert_eq!(
        error_message(&err),
        "A queue already exists with the same name and a different value for attribute DelaySeconds"
    );
    // A non-default value for an attribute created with its default also clashes.
    let err = try_create(&sqs, "clash", &[("VisibilityTimeout", "31")])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "QueueAlreadyExists|A queue already exists with the same name and a different value for attribute VisibilityTimeout"
    );
    server.stop().await;
}

#[tokio::test]
async fn create_queue_with_tags_visible_in_list_queue_tags() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = sqs
        .create_queue()
        .queue_name("tagged")
        .tags("team", "platform")
        .tags("env", "")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let t = tags(&sqs, &url).await;
    assert_eq!(t.len(), 2);
    assert_eq!(t["team"], "platform");
    assert_eq!(t["env"], "");
    server.stop().await;
}

#[tokio::test]
async fn create_queue_accepts_valid_names() {
    let server = server().await;
    let sqs = sqs(&server);
    let longest = "a".repeat(80);
    for name in ["A-b_9", "x", longest.as_str()] {
        let url = try_create(&sqs, name, &[]).await.unwrap();
        assert!(url.ends_with(&format!("/{ACCOUNT}/{name}")), "{url}");
    }
    // Names are case-sensitive (§4.1).
    let upper = create_queue(&sqs, "Case", &[]).await;
    let lower = create_queue(&sqs, "case", &[]).await;
    assert_ne!(upper, lower);
    server.stop().await;
}

#[tokio::test]
async fn create_queue_rejects_invalid_names() {
    // §4.1: 1–80 chars of [A-Za-z0-9_-]; `.fifo` only with FifoQueue=true.
    let server = server().await;
    let sqs = sqs(&server);
    let too_long = "a".repeat(81);
    for name in [
        too_long.as_str(),
        "has space",
        "plain.fifo",
        "dot.name",
        "slash/name",
        "star*",
    ] {
        let err = try_create(&sqs, name, &[]).await.unwrap_err();
        assert!(
            err.starts_with("InvalidParameterValue|"),
            "name {name:?}: {err}"
        );
    }
    assert!(list(&sqs, None).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn create_queue_unknown_attribute_is_invalid_attribute_name() {
    let server = server().await;
    let sqs = sqs(&server);
    let err = try_create(&sqs, "q", &[("Foo", "1")]).await.unwrap_err();
    assert_eq!(err, "InvalidAttributeName|Unknown Attribute Foo.");
    assert!(list(&sqs, None).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn create_queue_computed_attribute_is_invalid_attribute_name() {
    // §4.2: computed attributes are read-only.
    let server = server().await;
    let sqs = sqs(&server);
    for (name, value) in [
        ("QueueArn", "arn:aws:sqs:us-east-1:000000000000:q"),
        ("ApproximateNumberOfMessages", "3"),
        ("CreatedTimestamp", "1700000000"),
    ] {
        let err = try_create(&sqs, "q", &[(name, value)]).await.unwrap_err();
        assert!(err.starts_with("InvalidAttributeName|"), "{name}: {err}");
    }
    assert!(list(&sqs, None).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn create_queue_out_of_range_values_are_invalid_attribute_value() {
    // §4.2 ranges; §2.3 `Invalid value for the parameter <AttrName>.`
    let server = server().await;
    let sqs = sqs(&server);
    for (name, value) in [
        ("VisibilityTimeout", "43201"),
        ("VisibilityTimeout", "-1"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("DelaySeconds", "901"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("VisibilityTimeout", "abc"),
    ] {
        let err = try_create(&sqs, "q", &[(name, value)]).await.unwrap_err();
        assert_eq!(
            err,
            format!("InvalidAttributeValue|Invalid value for the parameter {name}."),
            "{name}={value}"
        );
    }
    assert!(list(&sqs, None).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn create_queue_boundary_values_are_accepted() {
    let server = server().await;
    let sqs = sqs(&server);
    let high = [
        ("VisibilityTimeout", "43200"),
        ("MessageRetentionPeriod", "1209600"),
        ("DelaySeconds", "900"),
        ("MaximumMessageSize", "1048576"),
        ("ReceiveMessageWaitTimeSeconds", "20"),
    ];
    let url = create_queue(&sqs, "high", &high).await;
    let a = all_attributes(&sqs, &url).await;
    for (k, v) in high {
        assert_eq!(a[k], v, "{k}");
    }
    let low = [
        ("VisibilityTimeout", "0"),
        ("MessageRetentionPeriod", "60"),
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1024"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
    ];
    let url = create_queue(&sqs, "low", &low).await;
    let a = all_attributes(&sqs, &url).await;
    for (k, v) in low {
        assert_eq!(a[k], v, "{k}");
    }
    server.stop().await;
}

#[tokio::test]
async fn create_queue_without_name_is_missing_parameter() {
    // §2.2: unmodeled MissingRequiredParameterException, query code MissingParameter.
    let server = server().await;
    let (status, query_error, body) = json(&server, "CreateQueue", "{}").await;
    assert_eq!(status, 400);
    let query_error = query_error.expect("x-amzn-query-error header");
    assert!(
        query_error.starts_with("MissingParameter;"),
        "{query_error}"
    );
    let ty = body["__type"].as_str().unwrap();
    assert!(ty.ends_with("#MissingRequiredParameterException"), "{ty}");
    server.stop().await;
}

#[tokio::test]
async fn queue_errors_on_the_json_wire_carry_shape_and_query_code() {
    // §2.1: `__type` is the shape name, `x-amzn-query-error` the query code.
    let server = server().await;
    let sqs = sqs(&server);
    create_queue(&sqs, "wire", &[("DelaySeconds", "5")]).await;
    let cases = [
        (
            "GetQueueUrl",
            r#"{"QueueName":"absent"}"#,
            "com.amazonaws.sqs#QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue;Sender",
            "The specified queue does not exist.",
        ),
        (
            "CreateQueue",
            r#"{"QueueName":"wire","Attributes":{"DelaySeconds":"6"}}"#,
            "com.amazonaws.sqs#QueueNameExists",
            "QueueAlreadyExists;Sender",
            "A queue already exists with the same name and a different value for attribute DelaySeconds",
        ),
        (
            "CreateQueue",
            r#"{"QueueName":"x","Attributes":{"Foo":"1"}}"#,
            "com.amazonaws.sqs#InvalidAttributeName",
            "InvalidAttributeName;Sender",
            "Unknown Attribute Foo.",
        ),
        (
            "CreateQueue",
            r#"{"QueueName":"x","Attributes":{"DelaySeconds":"901"}}"#,
            "com.amazonaws.sqs#InvalidAttributeValue",
            "InvalidAttributeValue;Sender",
            "Invalid value for the parameter DelaySeconds.",
        ),
    ];
    for (op, body, ty, header, message) in cases {
        let (status, query_error, value) = json(&server, op, body).await;
        assert_eq!(status, 400, "{op} {body}");
        assert_eq!(value["__type"], ty, "{op} {body}: {value}");
        assert_eq!(query_error.as_deref(), Some(header), "{op} {body}");
        assert_eq!(value["message"], message, "{op} {body}");
    }
    // Unmodeled validation errors (§2.2).
    let (status, query_error, value) =
        json(&server, "CreateQueue", r#"{"QueueName":"bad name"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(query_error.as_deref(), Some("InvalidParameterValue;Sender"));
    assert!(value["__type"]
        .as_str()
        .unwrap()
        .ends_with("#InvalidParameterValueException"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// GetQueueUrl
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_queue_url_of_missing_queue_is_queue_does_not_exist() {
    let server = server().await;
    let sqs = sqs(&server);
    let err = sqs
        .get_queue_url()
        .queue_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    assert_eq!(error_code(&err), "AWS.SimpleQueueService.NonExistentQueue");
    // §2.3: the JSON protocol message.
    assert_eq!(error_message(&err), "The specified queue does not exist.");
    server.stop().await;
}

#[tokio::test]
async fn get_queue_url_with_owner_account_finds_other_accounts_queue() {
    let server = server().await;
    let other = sqs_as(&server, "111111111111", "us-east-1");
    let other_url = create_queue(&other, "theirs", &[]).await;
    assert_eq!(
        other_url,
        format!("{}/111111111111/theirs", server.endpoint())
    );
    let sqs = sqs(&server);
    // Not in the caller's own account...
    let err = sqs
        .get_queue_url()
        .queue_name("theirs")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    // ...but found when the owner is named.
    let got = sqs
        .get_queue_url()
        .queue_name("theirs")
        .queue_owner_aws_account_id("111111111111")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url(), Some(other_url.as_str()));
    // An owner that has no such queue.
    let err = sqs
        .get_queue_url()
        .queue_name("theirs")
        .queue_owner_aws_account_id("222222222222")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// ListQueues
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_queues_all_and_by_prefix() {
    let server = server().await;
    let sqs = sqs(&server);
    let mut all = Vec::new();
    for name in ["alpha-1", "alpha-2", "beta", "Alpha-3"] {
        all.push(create_queue(&sqs, name, &[]).await);
    }
    all.sort();
    assert_eq!(list(&sqs, None).await, all);
    let alpha = list(&sqs, Some("alpha")).await;
    let base = format!("{}/{ACCOUNT}", server.endpoint());
    // Prefix matching is on the name and case-sensitive (§4.1).
    assert_eq!(
        alpha,
        vec![format!("{base}/alpha-1"), format!("{base}/alpha-2")]
    );
    assert_eq!(list(&sqs, Some("beta")).await, vec![format!("{base}/beta")]);
    assert!(list(&sqs, Some("gamma")).await.is_empty());
    // Without MaxResults there is no NextToken.
    let out = sqs.list_queues().send().await.unwrap();
    assert_eq!(out.next_token(), None);
    server.stop().await;
}

#[tokio::test]
async fn list_queues_on_empty_account_returns_nothing() {
    let server = server().await;
    let sqs = sqs(&server);
    let out = sqs.list_queues().send().await.unwrap();
    assert!(out.queue_urls().is_empty());
    assert_eq!(out.next_token(), None);
    let out = sqs.list_queues().max_results(5).send().await.unwrap();
    assert!(out.queue_urls().is_empty());
    assert_eq!(out.next_token(), None);
    server.stop().await;
}

#[tokio::test]
async fn list_queues_pages_with_max_results_and_next_token() {
    // §4.3: NextToken only returned when MaxResults was given.
    let server = server().await;
    let sqs = sqs(&server);
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(create_queue(&sqs, &format!("page-{i}"), &[]).await);
    }
    create_queue(&sqs, "other", &[]).await;
    expected.sort();

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let out = sqs
            .list_queues()
            .queue_name_prefix("page-")
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push(out.queue_urls().len());
        seen.extend(out.queue_urls().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 10, "paging does not terminate");
    }
    assert_eq!(pages, vec![3, 3, 1]);
    seen.sort();
    assert_eq!(seen, expected);

    // Without MaxResults everything comes back at once, without a token.
    let out = sqs
        .list_queues()
        .queue_name_prefix("page-")
        .send()
        .await
        .unwrap();
    assert_eq!(out.queue_urls().len(), 7);
    assert_eq!(out.next_token(), None);
    server.stop().await;
}

#[tokio::test]
async fn list_queues_max_results_out_of_range_is_invalid_parameter_value() {
    // §4.3: MaxResults 1–1000.
    let server = server().await;
    let sqs = sqs(&server);
    create_queue(&sqs, "q", &[]).await;
    for max in [0, 1001, -1] {
        let err = sqs.list_queues().max_results(max).send().await.unwrap_err();
        assert_eq!(
            error_code(&err),
            "InvalidParameterValue",
            "MaxResults {max}"
        );
    }
    for max in [1, 1000] {
        let out = sqs.list_queues().max_results(max).send().await.unwrap();
        assert_eq!(out.queue_urls().len(), 1);
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// DeleteQueue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deleted_queue_no_longer_exists() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "doomed", &[]).await;
    let keep = create_queue(&sqs, "kept", &[]).await;
    send(&sqs, &url, "m", None).await;
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(list(&sqs, None).await, vec![keep]);

    let err = sqs
        .get_queue_url()
        .queue_name("doomed")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs.purge_queue().queue_url(&url).send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    // Deleting it again.
    let err = sqs.delete_queue().queue_url(&url).send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    server.stop().await;
}

#[tokio::test]
async fn delete_missing_queue_is_queue_does_not_exist() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = format!("{}/{ACCOUNT}/never-created", server.endpoint());
    let err = sqs.delete_queue().queue_url(&url).send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    assert_eq!(error_code(&err), "AWS.SimpleQueueService.NonExistentQueue");
    assert_eq!(error_message(&err), "The specified queue does not exist.");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// GetQueueAttributes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_queue_attributes_all_on_new_standard_queue() {
    let server = server().await;
    let sqs = sqs(&server);
    let before = now_secs();
    let url = create_queue(&sqs, "attrs", &[]).await;
    let a = all_attributes(&sqs, &url).await;
    let mut names: Vec<&str> = a.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, STANDARD_ALL.to_vec());
    // §4.2 defaults.
    assert_eq!(a["ApproximateNumberOfMessages"], "0");
    assert_eq!(a["ApproximateNumberOfMessagesDelayed"], "0");
    assert_eq!(a["ApproximateNumberOfMessagesNotVisible"], "0");
    assert_eq!(a["DelaySeconds"], "0");
    assert_eq!(a["MaximumMessageSize"], "1048576");
    assert_eq!(a["MessageRetentionPeriod"], "345600");
    assert_eq!(a["ReceiveMessageWaitTimeSeconds"], "0");
    assert_eq!(a["VisibilityTimeout"], "30");
    assert_eq!(a["SqsManagedSseEnabled"], "true");
    assert_eq!(a["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:attrs");
    // Timestamps are epoch seconds (not milliseconds).
    let created: u64 = a["CreatedTimestamp"].parse().unwrap();
    let modified: u64 = a["LastModifiedTimestamp"].parse().unwrap();
    assert!(
        created + 5 >= before && created <= now_secs() + 5,
        "CreatedTimestamp {created} vs now {before}"
    );
    assert!(
        modified + 5 >= before && modified <= now_secs() + 5,
        "{modified}"
    );
    server.stop().await;
}

#[tokio::test]
async fn get_queue_attributes_named_subset_and_none() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "subset", &[("VisibilityTimeout", "45")]).await;
    let a = attributes(&sqs, &url, &["VisibilityTimeout", "QueueArn"]).await;
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a["VisibilityTimeout"], "45");
    assert_eq!(a["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:subset");
    // §4.2: without AttributeNames the result is empty.
    let out = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert!(out.attributes().map(|a| a.is_empty()).unwrap_or(true));
    // Attributes that were never set are not returned even when named.
    let a = attributes(&sqs, &url, &["Policy", "RedrivePolicy", "DelaySeconds"]).await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a["DelaySeconds"], "0");
    server.stop().await;
}

#[tokio::test]
async fn get_queue_attributes_unknown_name_is_invalid_attribute_name() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "q", &[]).await;
    let err = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("Foobar"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAttributeName");
    assert_eq!(error_message(&err), "Unknown Attribute Foobar.");
    server.stop().await;
}

#[tokio::test]
async fn approximate_counts_follow_sends_receives_and_delays() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "counts", &[]).await;
    assert_eq!(counts(&sqs, &url).await, (0, 0, 0));
    for i in 0..3 {
        send(&sqs, &url, &format!("m{i}"), None).await;
    }
    assert_eq!(counts(&sqs, &url).await, (3, 0, 0));
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 1);
    assert_eq!(counts(&sqs, &url).await, (2, 1, 0));
    send(&sqs, &url, "later", Some(30)).await;
    assert_eq!(counts(&sqs, &url).await, (2, 1, 1));
    // Visibility (30 s) and delay (30 s) both elapse.
    advance_clock(&server, 31.0).await;
    assert_eq!(counts(&sqs, &url).await, (4, 0, 0));
    // Deleting a received message removes it from the counts.
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap();
    assert_eq!(counts(&sqs, &url).await, (3, 1, 0));
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(got.messages()[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(counts(&sqs, &url).await, (3, 0, 0));
    server.stop().await;
}

#[tokio::test]
async fn queue_delay_seconds_counts_messages_as_delayed() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "delayed", &[("DelaySeconds", "20")]).await;
    send(&sqs, &url, "a", None).await;
    assert_eq!(counts(&sqs, &url).await, (0, 0, 1));
    assert_eq!(receive_count(&sqs, &url).await, 0);
    advance_clock(&server, 21.0).await;
    assert_eq!(counts(&sqs, &url).await, (1, 0, 0));
    server.stop().await;
}

#[tokio::test]
async fn last_modified_timestamp_changes_after_set_queue_attributes() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "modified", &[]).await;
    let a = all_attributes(&sqs, &url).await;
    let created: u64 = a["CreatedTimestamp"].parse().unwrap();
    let modified: u64 = a["LastModifiedTimestamp"].parse().unwrap();
    advance_clock(&server, 100.0).await;
    // Sending messages does not modify the queue.
    send(&sqs, &url, "x", None).await;
    assert_eq!(
        attribute(&sqs, &url, "LastModifiedTimestamp").await,
        modified.to_string()
    );
    set_attribute(&sqs, &url, "VisibilityTimeout", "45")
        .await
        .unwrap();
    let a = all_attributes(&sqs, &url).await;
    let created_after: u64 = a["CreatedTimestamp"].parse().unwrap();
    let modified_after: u64 = a["LastModifiedTimestamp"].parse().unwrap();
    assert_eq!(created_after, created);
    assert!(
        modified_after >= modified + 100,
        "LastModifiedTimestamp {modified} -> {modified_after}"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// SetQueueAttributes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn set_queue_attributes_updates_are_reflected() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "settable", &[]).await;
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "120")
        .attributes(QueueAttributeName::DelaySeconds, "15")
        .attributes(QueueAttributeName::MaximumMessageSize, "2048")
        .attributes(QueueAttributeName::MessageRetentionPeriod, "86400")
        .attributes(QueueAttributeName::ReceiveMessageWaitTimeSeconds, "10")
        .send()
        .await
        .unwrap();
    let a = all_attributes(&sqs, &url).await;
    assert_eq!(a["VisibilityTimeout"], "120");
    assert_eq!(a["DelaySeconds"], "15");
    assert_eq!(a["MaximumMessageSize"], "2048");
    assert_eq!(a["MessageRetentionPeriod"], "86400");
    assert_eq!(a["ReceiveMessageWaitTimeSeconds"], "10");
    // The new visibility timeout applies to the next receive.
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::DelaySeconds, "0")
        .attributes(QueueAttributeName::ReceiveMessageWaitTimeSeconds, "0")
        .send()
        .await
        .unwrap();
    send(&sqs, &url, "v", None).await;
    assert_eq!(receive_count(&sqs, &url).await, 1);
    advance_clock(&server, 60.0).await;
    assert_eq!(receive_count(&sqs, &url).await, 0);
    advance_clock(&server, 61.0).await;
    assert_eq!(receive_count(&sqs, &url).await, 1);
    server.stop().await;
}

#[tokio::test]
async fn set_queue_attributes_rejects_invalid_values_and_names() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "strict", &[]).await;
    for (name, value) in [
        ("VisibilityTimeout", "43201"),
        ("MessageRetentionPeriod", "59"),
        ("DelaySeconds", "901"),
        ("MaximumMessageSize", "1023"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("DelaySeconds", "soon"),
        ("KmsDataKeyReusePeriodSeconds", "59"),
        ("KmsDataKeyReusePeriodSeconds", "86401"),
    ] {
        let err = set_attribute(&sqs, &url, name, value).await.unwrap_err();
        assert_eq!(
            err,
            format!("InvalidAttributeValue|Invalid value for the parameter {name}."),
            "{name}={value}"
        );
    }
    let err = set_attribute(&sqs, &url, "Foo", "1").await.unwrap_err();
    assert_eq!(err, "InvalidAttributeName|Unknown Attribute Foo.");
    for (name, value) in [
        ("QueueArn", "arn:aws:sqs:us-east-1:1:x"),
        ("CreatedTimestamp", "1"),
    ] {
        let err = set_attribute(&sqs, &url, name, value).await.unwrap_err();
        assert!(err.starts_with("InvalidAttributeName|"), "{name}: {err}");
    }
    // Nothing was changed by the rejected calls.
    let a = all_attributes(&sqs, &url).await;
    assert_eq!(a["VisibilityTimeout"], "30");
    assert_eq!(a["DelaySeconds"], "0");
    assert_eq!(a["MessageRetentionPeriod"], "345600");
    // A rejected value in a multi-attribute call applies none of them.
    let err = sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "99")
        .attributes(QueueAttributeName::DelaySeconds, "901")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&err), "InvalidAttributeValue");
    assert_eq!(attribute(&sqs, &url, "VisibilityTimeout").await, "30");
    server.stop().await;
}

#[tokio::test]
async fn policy_is_set_and_removed_with_empty_string() {
    // §4.2: Policy appears only when set; "" removes it.
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "policied", &[]).await;
    let arn = "arn:aws:sqs:us-east-1:000000000000:policied";
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowSend",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
        }]
    });
    set_attribute(&sqs, &url, "Policy", &policy.to_string())
        .await
        .unwrap();
    let got = attribute(&sqs, &url, "Policy").await;
    let parsed: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(parsed, policy);
    assert!(all_attributes(&sqs, &url).await.contains_key("Policy"));

    set_attribute(&sqs, &url, "Policy", "").await.unwrap();
    let a = all_attributes(&sqs, &url).await;
    assert!(!a.contains_key("Policy"), "{a:?}");
    assert!(attributes(&sqs, &url, &["Policy"]).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn kms_master_key_id_turns_off_sqs_managed_sse() {
    // §4.2 (AWS-rec): KmsMasterKeyId flips SqsManagedSseEnabled to "false"; setting it back to
    // "" removes it from `All` while SqsManagedSseEnabled stays "false".
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "kms", &[]).await;
    assert_eq!(attribute(&sqs, &url, "SqsManagedSseEnabled").await, "true");
    set_attribute(&sqs, &url, "KmsMasterKeyId", "alias/aws/sqs")
        .await
        .unwrap();
    let a = all_attributes(&sqs, &url).await;
    assert_eq!(a["KmsMasterKeyId"], "alias/aws/sqs");
    assert_eq!(a["SqsManagedSseEnabled"], "false");

    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::KmsMasterKeyId, "")
        .attributes(QueueAttributeName::KmsDataKeyReusePeriodSeconds, "300")
        .send()
        .await
        .unwrap();
    let a = all_attributes(&sqs, &url).await;
    assert!(!a.contains_key("KmsMasterKeyId"), "{a:?}");
    assert!(!a.contains_key("KmsDataKeyReusePeriodSeconds"), "{a:?}");
    assert_eq!(a["SqsManagedSseEnabled"], "false");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// PurgeQueue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn purge_removes_visible_in_flight_and_delayed_messages() {
    // §4.3: PurgeQueue deletes all messages incl. in-flight.
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "purgeable", &[]).await;
    for i in 0..3 {
        send(&sqs, &url, &format!("m{i}"), None).await;
    }
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 1);
    send(&sqs, &url, "delayed", Some(60)).await;
    assert_eq!(counts(&sqs, &url).await, (2, 1, 1));

    sqs.purge_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(counts(&sqs, &url).await, (0, 0, 0));
    assert_eq!(receive_count(&sqs, &url).await, 0);
    // Neither the in-flight nor the delayed message comes back later.
    advance_clock(&server, 120.0).await;
    assert_eq!(receive_count(&sqs, &url).await, 0);
    assert_eq!(counts(&sqs, &url).await, (0, 0, 0));
    // The queue itself and its attributes survive.
    assert_eq!(attribute(&sqs, &url, "VisibilityTimeout").await, "30");
    send(&sqs, &url, "after", None).await;
    assert_eq!(receive_count(&sqs, &url).await, 1);
    server.stop().await;
}

#[tokio::test]
async fn second_purge_within_60_seconds_is_purge_queue_in_progress() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "twice", &[]).await;
    sqs.purge_queue().queue_url(&url).send().await.unwrap();
    advance_clock(&server, 30.0).await;
    let err = sqs.purge_queue().queue_url(&url).send().await.unwrap_err();
    assert!(err.as_service_error().unwrap().is_purge_queue_in_progress());
    assert_eq!(
        error_code(&err),
        "AWS.SimpleQueueService.PurgeQueueInProgress"
    );
    assert_eq!(
        error_message(&err),
        "Only one PurgeQueue operation on twice is allowed every 60 seconds."
    );
    // §2.2: 403 (aws-sdk-rust sends x-amzn-query-mode: true).
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);
    // Another queue is not affected.
    let other = create_queue(&sqs, "other", &[]).await;
    sqs.purge_queue().queue_url(&other).send().await.unwrap();

    advance_clock(&server, 31.0).await;
    send(&sqs, &url, "m", None).await;
    sqs.purge_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(counts(&sqs, &url).await, (0, 0, 0));
    server.stop().await;
}

#[tokio::test]
async fn purge_queue_in_progress_through_raw_json_is_403_with_query_code() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "rawpurge", &[]).await;
    sqs.purge_queue().queue_url(&url).send().await.unwrap();
    let resp = http()
        .post(server.endpoint())
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "AmazonSQS.PurgeQueue")
        .header("x-amzn-query-mode", "true")
        .body(serde_json::json!({ "QueueUrl": url }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(
        resp.headers()["x-amzn-query-error"].to_str().unwrap(),
        "AWS.SimpleQueueService.PurgeQueueInProgress;Sender"
    );
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(body["__type"]
        .as_str()
        .unwrap()
        .ends_with("#PurgeQueueInProgress"));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tag_untag_and_list_queue_tags() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "tags", &[]).await;
    assert!(tags(&sqs, &url).await.is_empty());

    sqs.tag_queue()
        .queue_url(&url)
        .tags("a", "1")
        .tags("b", "2")
        .tags("empty", "")
        .send()
        .await
        .unwrap();
    let t = tags(&sqs, &url).await;
    assert_eq!(t.len(), 3);
    assert_eq!(t["a"], "1");
    assert_eq!(t["b"], "2");
    assert_eq!(t["empty"], "");

    // Tagging an existing key overwrites its value.
    sqs.tag_queue()
        .queue_url(&url)
        .tags("a", "one")
        .send()
        .await
        .unwrap();
    assert_eq!(tags(&sqs, &url).await["a"], "one");

    // Untagging removes only the named keys; unknown keys are ignored.
    sqs.untag_queue()
        .queue_url(&url)
        .tag_keys("b")
        .tag_keys("not-there")
        .send()
        .await
        .unwrap();
    let t = tags(&sqs, &url).await;
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(!t.contains_key("b"));

    sqs.untag_queue()
        .queue_url(&url)
        .tag_keys("a")
        .tag_keys("empty")
        .send()
        .await
        .unwrap();
    assert!(tags(&sqs, &url).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn tag_operations_on_missing_queue_are_queue_does_not_exist() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = format!("{}/{ACCOUNT}/ghost", server.endpoint());
    let err = sqs
        .tag_queue()
        .queue_url(&url)
        .tags("a", "1")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs
        .untag_queue()
        .queue_url(&url)
        .tag_keys("a")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    let err = sqs
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Accounts, regions, queue URLs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn numeric_access_key_selects_the_account() {
    // §6.1: a 12-digit access key id is the account.
    let server = server().await;
    let default = sqs(&server);
    let other = sqs_as(&server, "111111111111", "us-east-1");
    let mine = create_queue(&default, "shared", &[("VisibilityTimeout", "10")]).await;
    let theirs = create_queue(&other, "shared", &[("VisibilityTimeout", "20")]).await;
    create_queue(&other, "only-theirs", &[]).await;
    assert_eq!(mine, format!("{}/000000000000/shared", server.endpoint()));
    assert_eq!(theirs, format!("{}/111111111111/shared", server.endpoint()));

    assert_eq!(list(&default, None).await, vec![mine.clone()]);
    let their_list = list(&other, None).await;
    assert_eq!(their_list.len(), 2);
    assert!(their_list.iter().all(|u| u.contains("/111111111111/")));

    assert_eq!(attribute(&default, &mine, "VisibilityTimeout").await, "10");
    let a = all_attributes(&other, &theirs).await;
    assert_eq!(a["VisibilityTimeout"], "20");
    assert_eq!(a["QueueArn"], "arn:aws:sqs:us-east-1:111111111111:shared");
    let err = default
        .get_queue_url()
        .queue_name("only-theirs")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    // A non-numeric access key uses the default account.
    let named = sqs_as(&server, "AKIAIOSFODNN7EXAMPLE", "us-east-1");
    assert_eq!(list(&named, None).await, vec![mine]);
    server.stop().await;
}

#[tokio::test]
async fn regions_are_separate() {
    let server = server().await;
    let us = sqs(&server);
    let eu = sqs_as(&server, "test", "eu-west-1");
    let us_url = create_queue(&us, "regional", &[("DelaySeconds", "1")]).await;
    create_queue(&us, "us-only", &[]).await;
    assert!(list(&eu, None).await.is_empty());
    let err = eu
        .get_queue_url()
        .queue_name("us-only")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());

    // The same name in another region is a different queue, with its own attributes.
    let eu_url = create_queue(&eu, "regional", &[("DelaySeconds", "2")]).await;
    assert_eq!(list(&eu, None).await, vec![eu_url.clone()]);
    assert_eq!(list(&us, None).await.len(), 2);
    let a = all_attributes(&eu, &eu_url).await;
    assert_eq!(a["DelaySeconds"], "2");
    assert_eq!(a["QueueArn"], "arn:aws:sqs:eu-west-1:000000000000:regional");
    assert_eq!(attribute(&us, &us_url, "DelaySeconds").await, "1");
    assert_eq!(
        attribute(&us, &us_url, "QueueArn").await,
        "arn:aws:sqs:us-east-1:000000000000:regional"
    );
    server.stop().await;
}

#[tokio::test]
async fn real_aws_queue_url_resolves_to_the_local_queue() {
    // §4.1: queues are resolved from the URL's last two path segments.
    let server = server().await;
    let sqs = sqs(&server);
    let local = create_queue(&sqs, "aws-shaped", &[("VisibilityTimeout", "7")]).await;
    let aws_url = format!("https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/aws-shaped");
    assert_eq!(attribute(&sqs, &aws_url, "VisibilityTimeout").await, "7");
    send(&sqs, &aws_url, "via aws url", None).await;
    let got = sqs
        .receive_message()
        .queue_url(&local)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages()[0].body(), Some("via aws url"));
    sqs.tag_queue()
        .queue_url(&aws_url)
        .tags("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(tags(&sqs, &local).await["k"], "v");
    // A missing queue under an AWS-shaped URL is still QueueDoesNotExist.
    let err = sqs
        .get_queue_attributes()
        .queue_url(format!(
            "https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/missing"
        ))
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Control endpoints and STS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reset_wipes_queues() {
    let server = server().await;
    let sqs = sqs(&server);
    let url = create_queue(&sqs, "before-reset", &[]).await;
    send(&sqs, &url, "m", None).await;
    create_queue(
        &sqs_as(&server, "111111111111", "eu-west-1"),
        "elsewhere",
        &[],
    )
    .await;
    let resp = http()
        .post(format!("{}/_lyrebird/reset", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(list(&sqs, None).await.is_empty());
    assert!(list(&sqs_as(&server, "111111111111", "eu-west-1"), None)
        .await
        .is_empty());
    let err = sqs
        .get_queue_url()
        .queue_name("before-reset")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_queue_does_not_exist());
    // The name can be used again, and the new queue starts empty.
    let again = create_queue(&sqs, "before-reset", &[]).await;
    assert_eq!(again, url);
    assert_eq!(counts(&sqs, &again).await, (0, 0, 0));
    server.stop().await;
}

#[tokio::test]
async fn health_reports_version_and_uptime() {
    let server = server().await;
    let resp = http()
        .get(format!("{}/_lyrebird/health", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(
        body["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{body}"
    );
    assert!(body["uptime_seconds"].is_u64(), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn sts_get_caller_identity_reports_the_account() {
    let server = server().await;
    let body =
        serde_urlencoded::to_string([("Action", "GetCallerIdentity"), ("Version", "2011-06-15")])
            .unwrap();
    let resp = http()
        .post(server.endpoint())
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("x-amz-date", "20240101T000000Z")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=111111111111/20240101/us-east-1/sts/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature=0000",
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("<GetCallerIdentityResult>"), "{text}");
    assert!(text.contains("<Account>111111111111</Account>"), "{text}");
    assert!(
        text.contains("<Arn>arn:aws:iam::111111111111:root</Arn>"),
        "{text}"
    );
    // Unsigned: the default account.
    let (status, text) = query(
        &server,
        "/",
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<Account>000000000000</Account>"), "{text}");
    server.stop().await;
}
