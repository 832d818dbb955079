//! Malformed and hostile input: every request gets an AWS-shaped error (JSON `__type` or query
//! `<ErrorResponse>`, reference §2.1) — never a panic, a 500, a dropped connection or a hang —
//! and the server keeps answering afterwards.

mod common;

use std::time::Duration;

use common::*;
use quick_xml::events::Event;

const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const JSON: &str = "application/x-amz-json-1.0";

struct Raw {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not a JSON body ({e}): {:?}", self.text))
    }

    /// `__type` of a JSON error.
    fn json_type(&self) -> String {
        self.json()["__type"]
            .as_str()
            .unwrap_or_else(|| panic!("no __type: {}", self.text))
            .to_string()
    }
}

/// Sends one request with a 5 s timeout; no answer at all is a failure.
async fn send_raw(
    server: &lyrebird::RunningServer,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Raw {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut req = client.request(method, format!("{}{}", server.endpoint(), path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no answer from the server: {e:?}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("a complete response body");
    assert!(
        headers.contains_key("x-amzn-requestid"),
        "x-amzn-RequestId header missing (status {status}): {text}"
    );
    assert!(status < 500, "server error {status}: {text}");
    Raw {
        status,
        headers,
        text,
    }
}

/// An AWS JSON 1.0 request with `X-Amz-Target: <target>`.
async fn json_raw(server: &lyrebird::RunningServer, target: &str, body: impl Into<Vec<u8>>) -> Raw {
    send_raw(
        server,
        reqwest::Method::POST,
        "/",
        &[("content-type", JSON), ("x-amz-target", target)],
        body.into(),
    )
    .await
}

/// A form POST to `/` with a raw body.
async fn form_raw(server: &lyrebird::RunningServer, body: impl Into<Vec<u8>>) -> Raw {
    send_raw(
        server,
        reqwest::Method::POST,
        "/",
        &[("content-type", FORM)],
        body.into(),
    )
    .await
}

/// Checks a JSON error (§2.1) and returns its `__type` shape (the part after `#`).
fn json_error(r: &Raw, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/x-amz-json-1.0")),
        "content type {:?}",
        r.header("content-type")
    );
    let body = r.json();
    let message = body["message"].as_str().or(body["Message"].as_str());
    assert!(message.is_some(), "no message: {}", r.text);
    let t = r.json_type();
    let (namespace, shape) = t
        .split_once('#')
        .unwrap_or_else(|| panic!("__type without a namespace: {t}"));
    assert!(!namespace.is_empty() && !shape.is_empty(), "{t}");
    shape.to_string()
}

/// Checks a query XML error (§2.1) and returns its `<Code>`.
fn xml_error(r: &Raw) -> String {
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.text);
    let mut reader = quick_xml::Reader::from_str(&r.text);
    let mut path: Vec<String> = Vec::new();
    let mut root = None;
    let mut code = None;
    let mut fault = None;
    let mut request_id = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if path.is_empty() {
                    let xmlns = e
                        .try_get_attribute("xmlns")
                        .unwrap()
                        .map(|a| a.unescape_value().unwrap().to_string());
                    assert_eq!(xmlns.as_deref(), Some(NAMESPACE), "{}", r.text);
                    root = Some(name.clone());
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let text = t.xml10_content().unwrap().to_string();
                match path.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                    ["ErrorResponse", "Error", "Code"] => code = Some(text),
                    ["ErrorResponse", "Error", "Type"] => fault = Some(text),
                    ["ErrorResponse", "RequestId"] => request_id = Some(text),
                    _ => {}
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("invalid XML ({e}): {}", r.text),
        }
    }
    assert_eq!(root.as_deref(), Some("ErrorResponse"), "{}", r.text);
    assert_eq!(fault.as_deref(), Some("Sender"), "{}", r.text);
    assert_eq!(
        request_id.as_deref(),
        r.header("x-amzn-requestid"),
        "{}",
        r.text
    );
    code.unwrap_or_else(|| panic!("no Error/Code: {}", r.text))
}

/// A normal round trip through the SDK still works.
async fn assert_alive(server: &lyrebird::RunningServer) {
    let sqs = sqs(server);
    let url = create_queue(&sqs, "still-alive", &[]).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("ok")
        .send()
        .await
        .expect("send after abuse");
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive after abuse");
    assert_eq!(got.messages()[0].body(), Some("ok"));
}

// ---------------------------------------------------------------------------------------------
// AWS JSON 1.0.

#[tokio::test]
async fn invalid_json_body_is_serialization_exception() {
    let server = server().await;
    let bodies: [&[u8]; 6] = [
        b"{",
        b"{\"QueueName\": }",
        b"not json at all",
        b"{\"QueueName\": \"q\"} trailing",
        b"{\"QueueName\": \"q\",}",
        b"\xff\xfe\x00\x01",
    ];
    for body in bodies {
        let r = json_raw(&server, "AmazonSQS.CreateQueue", body).await;
        let shape = json_error(&r, 400);
        assert!(
            shape.ends_with("SerializationException"),
            "{:?} -> {}",
            String::from_utf8_lossy(body),
            r.text
        );
    }
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn json_body_that_is_not_an_object_is_rejected() {
    let server = server().await;
    for body in ["null", "[]", "\"q\"", "42", "true"] {
        let r = json_raw(&server, "AmazonSQS.CreateQueue", body).await;
        assert_eq!(r.status, 400, "{body} -> {}", r.text);
        r.json_type();
    }
    assert_alive(&server).await;
    server.stop().await;
}

/// The awsJson1_0 input is a JSON object; serde's positional (array) form of a struct is not
/// something AWS accepts.
#[tokio::test]
async fn json_array_body_is_not_a_positional_struct() {
    let server = server().await;
    let r = json_raw(&server, "AmazonSQS.CreateQueue", r#"["q"]"#).await;
    assert_eq!(r.status, 400, "{}", r.text);
    r.json_type();
    let r = json_raw(&server, "AmazonSQS.GetQueueUrl", r#"{"QueueName":"q"}"#).await;
    assert_eq!(r.status, 400, "the array created a queue: {}", r.text);
    server.stop().await;
}

#[tokio::test]
async fn wrong_json_types_are_400() {
    let server = server().await;
    let url = create_queue(&sqs(&server), "typed", &[]).await;
    let cases = [
        (
            "ReceiveMessage",
            serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": "ten"}),
        ),
        (
            "ReceiveMessage",
            serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 1e300}),
        ),
        ("CreateQueue", serde_json::json!({"QueueName": 5})),
        (
            "CreateQueue",
            serde_json::json!({"QueueName": "q", "Attributes": "VisibilityTimeout=1"}),
        ),
        (
            "CreateQueue",
            serde_json::json!({"QueueName": "q", "Attributes": {"VisibilityTimeout": 1}}),
        ),
        (
            "SendMessage",
            serde_json::json!({"QueueUrl": url, "MessageBody": ["a"]}),
        ),
        (
            "SendMessage",
            serde_json::json!({"QueueUrl": url, "MessageBody": "a", "MessageAttributes": []}),
        ),
        (
            "SendMessageBatch",
            serde_json::json!({"QueueUrl": url, "Entries": {"Id": "a"}}),
        ),
        ("GetQueueAttributes", serde_json::json!({"QueueUrl": [url]})),
    ];
    for (op, body) in cases {
        let r = json_raw(&server, &format!("AmazonSQS.{op}"), body.to_string()).await;
        json_error(&r, 400);
    }
    for number in ["99999999999999999999", "-1e999", "1.5", "-0.0001"] {
        let body = format!(r#"{{"QueueUrl":"{url}","MaxNumberOfMessages":{number}}}"#);
        let r = json_raw(&server, "AmazonSQS.ReceiveMessage", body).await;
        json_error(&r, 400);
    }
    // Nothing was sent or created by those.
    let r = json_raw(
        &server,
        "AmazonSQS.ReceiveMessage",
        serde_json::json!({"QueueUrl": url}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json().get("Messages").is_none(), "{}", r.text);
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_target_operation_is_unknown_operation_exception() {
    let server = server().await;
    let r = json_raw(&server, "AmazonSQS.Nope", "{}").await;
    let shape = json_error(&r, 400);
    assert_eq!(shape, "UnknownOperationException", "{}", r.text);
    server.stop().await;
}

#[tokio::test]
async fn unknown_target_prefix_is_unknown_operation_exception() {
    let server = server().await;
    let long = "A".repeat(4000);
    for target in [
        "AmazonSNS.CreateQueue",
        "DynamoDB_20120810.ListTables",
        "CreateQueue",
        "AmazonSQS.",
        ".",
        "AmazonSQS.CreateQueue.Extra",
        long.as_str(),
    ] {
        let r = json_raw(&server, target, r#"{"QueueName":"x"}"#).await;
        let shape = json_error(&r, 400);
        assert_eq!(shape, "UnknownOperationException", "{target}: {}", r.text);
    }
    // None of them created the queue.
    let r = json_raw(&server, "AmazonSQS.GetQueueUrl", r#"{"QueueName":"x"}"#).await;
    assert_eq!(json_error(&r, 400), "QueueDoesNotExist");
    server.stop().await;
}

#[tokio::test]
async fn empty_json_body_is_missing_parameter() {
    let server = server().await;
    for body in ["", "{}"] {
        let r = json_raw(&server, "AmazonSQS.CreateQueue", body).await;
        json_error(&r, 400);
        assert_eq!(
            r.json_type(),
            "com.amazon.coral.service#MissingRequiredParameterException",
            "body {body:?}: {}",
            r.text
        );
        assert_eq!(
            r.header("x-amzn-query-error"),
            Some("MissingParameter;Sender")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn json_unknown_queue_error_shape() {
    let server = server().await;
    let missing = format!("{}/{ACCOUNT}/missing", server.endpoint());
    for (op, body) in [
        ("GetQueueUrl", serde_json::json!({"QueueName": "missing"})),
        (
            "SendMessage",
            serde_json::json!({"QueueUrl": missing, "MessageBody": "x"}),
        ),
        ("ReceiveMessage", serde_json::json!({"QueueUrl": missing})),
    ] {
        let r = json_raw(&server, &format!("AmazonSQS.{op}"), body.to_string()).await;
        json_error(&r, 400);
        assert_eq!(r.json_type(), "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(
            r.json()["message"].as_str(),
            Some("The specified queue does not exist.")
        );
        assert_eq!(
            r.header("x-amzn-query-error"),
            Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn deeply_nested_json_is_a_client_error() {
    let server = server().await;
    for (open, target) in [
        ("[", "AmazonSQS.ListQueues"),
        ("{\"a\":", "AmazonSQS.ListQueues"),
        ("[", "AmazonSQS.SendMessageBatch"),
    ] {
        let body = open.repeat(100_000);
        let r = json_raw(&server, target, body).await;
        assert!((400..500).contains(&r.status), "{}", r.text);
        r.json_type();
    }
    // Nested inside a real member too.
    let body = format!(
        "{{\"QueueName\":\"q\",\"Attributes\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let r = json_raw(&server, "AmazonSQS.CreateQueue", body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn garbage_queue_urls_are_queue_does_not_exist_or_missing_parameter() {
    let server = server().await;
    let sqs = sqs(&server);
    create_queue(&sqs, "real", &[]).await;
    let long = format!("http://x/{}", "/".repeat(10_000));
    let values = [
        "",
        "/",
        "http://",
        "::::",
        "https://",
        "//",
        "http:///",
        "?",
        "#",
        "http://host/000000000000/",
        "\u{0}",
        "../../../etc/passwd",
        long.as_str(),
    ];
    for value in values {
        let r = json_raw(
            &server,
            "AmazonSQS.SendMessage",
            serde_json::json!({"QueueUrl": value, "MessageBody": "x"}).to_string(),
        )
        .await;
        let shape = json_error(&r, 400);
        assert!(
            shape == "QueueDoesNotExist" || shape == "MissingRequiredParameterException",
            "JSON QueueUrl {value:?}: {}",
            r.text
        );

        let body = serde_urlencoded::to_string([
            ("Action", "SendMessage"),
            ("Version", "2012-11-05"),
            ("QueueUrl", value),
            ("MessageBody", "x"),
        ])
        .unwrap();
        let r = form_raw(&server, body).await;
        let code = xml_error(&r);
        assert!(
            code == "AWS.SimpleQueueService.NonExistentQueue" || code == "MissingParameter",
            "query QueueUrl {value:?}: {}",
            r.text
        );
    }
    // Nothing landed in the real queue.
    let got = sqs
        .receive_message()
        .queue_url(format!("{}/{ACCOUNT}/real", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert!(got.messages().is_empty());
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Query protocol and plain HTTP.

#[tokio::test]
async fn no_action_and_no_target_is_missing_action() {
    let server = server().await;
    for body in ["", "Version=2012-11-05", "QueueName=x&Version=2012-11-05"] {
        let r = form_raw(&server, body).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(xml_error(&r), "MissingAction", "{body:?}");
    }
    // No content type at all.
    let r = send_raw(&server, reqwest::Method::POST, "/", &[], Vec::new()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(xml_error(&r), "MissingAction");
    server.stop().await;
}

#[tokio::test]
async fn invalid_percent_encoding_is_an_xml_error() {
    let server = server().await;
    let bodies: [&[u8]; 5] = [
        b"%",
        b"Action%=%ZZ&%%%",
        b"Action=%E0%A4%A&Version=2012-11-05",
        b"Action=List%FFQueues&Version=2012-11-05",
        b"%E2%82=%%ZZ&&&==&Version=%",
    ];
    for body in bodies {
        let r = form_raw(&server, body).await;
        xml_error(&r);
    }
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn nine_mib_body_is_413() {
    let server = server().await;
    let big = 9 * 1024 * 1024;
    let mut form = b"Action=SendMessage&Version=2012-11-05&MessageBody=".to_vec();
    form.resize(big, b'a');
    let r = form_raw(&server, form).await;
    assert_eq!(r.status, 413, "{}", r.text);
    xml_error(&r);

    let mut json = br#"{"QueueUrl":"x","MessageBody":""#.to_vec();
    json.resize(big, b'a');
    json.extend_from_slice(b"\"}");
    let r = json_raw(&server, "AmazonSQS.SendMessage", json).await;
    json_error(&r, 413);
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn binary_garbage_with_form_content_type_is_an_xml_error() {
    let server = server().await;
    // Deterministic pseudo-random bytes (xorshift), including NULs and invalid UTF-8.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let r = form_raw(&server, garbage.clone()).await;
    xml_error(&r);
    // The same garbage after a valid Action.
    let mut with_action = b"Action=SendMessage&Version=2012-11-05&MessageBody=".to_vec();
    with_action.extend_from_slice(&garbage);
    let r = form_raw(&server, with_action).await;
    xml_error(&r);
    // And as a JSON body.
    let r = json_raw(&server, "AmazonSQS.SendMessage", garbage).await;
    assert_eq!(json_error(&r, 400), "SerializationException");
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn deeply_dotted_form_keys_do_not_crash() {
    let server = server().await;
    // A parameter name with 100 000 `.`-separated segments.
    let key = vec!["a"; 100_000].join(".");
    let body = format!("Action=ListQueues&Version=2012-11-05&{key}=1");
    let r = form_raw(&server, body).await;
    assert!(
        r.status == 200 || (400..500).contains(&r.status),
        "{}",
        r.text
    );
    let body =
        format!("Action=ReceiveMessage&Version=2012-11-05&QueueUrl=x&AttributeName.{key}=All");
    let r = form_raw(&server, body).await;
    xml_error(&r);
    assert_alive(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn out_of_range_numbers_in_query_parameters() {
    let server = server().await;
    let url = create_queue(&sqs(&server), "numbers", &[]).await;
    for value in [
        "99999999999999999999999",
        "-99999999999999999999999",
        "1e3",
        "0x10",
        "",
        " ",
        "NaN",
    ] {
        let body = serde_urlencoded::to_string([
            ("Action", "ReceiveMessage"),
            ("Version", "2012-11-05"),
            ("QueueUrl", url.as_str()),
            ("MaxNumberOfMessages", value),
        ])
        .unwrap();
        let r = form_raw(&server, body).await;
        assert_eq!(r.status, 400, "{value:?}: {}", r.text);
        assert_eq!(xml_error(&r), "InvalidParameterValue", "{value:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn hostile_headers_are_tolerated() {
    let server = server().await;
    let body = "Action=ListQueues&Version=2012-11-05";
    let junk_auth = [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=",
        "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=, Signature=",
        "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request/extra/extra",
        "Basic dXNlcjpwYXNz",
    ];
    for auth in junk_auth {
        let r = send_raw(
            &server,
            reqwest::Method::POST,
            "/",
            &[("content-type", FORM), ("authorization", auth)],
            body.into(),
        )
        .await;
        assert_eq!(r.status, 200, "{auth:?}: {}", r.text);
    }
    // Non-UTF-8 header values (as raw bytes).
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let resp = client
        .post(server.endpoint())
        .header("content-type", FORM)
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"AWS4-HMAC-SHA256 Credential=\xff\xfe/x")
                .unwrap(),
        )
        .header(
            "x-amz-target",
            reqwest::header::HeaderValue::from_bytes(b"AmazonSQS.\xffList").unwrap(),
        )
        .body(body)
        .send()
        .await
        .expect("an answer");
    assert!(resp.status().as_u16() < 500, "{}", resp.status());
    // A presigned-style query string with a garbage credential.
    let r = send_raw(
        &server,
        reqwest::Method::GET,
        "/?Action=ListQueues&Version=2012-11-05&X-Amz-Credential=%2F%2F%2F%2F",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_alive(&server).await;
    server.stop().await;
}

/// Everything above against one server, then a normal request.
#[tokio::test]
async fn server_answers_normally_after_all_of_it() {
    let server = server().await;
    let url = create_queue(&sqs(&server), "victim", &[]).await;
    json_raw(&server, "AmazonSQS.CreateQueue", "{").await;
    json_raw(
        &server,
        "AmazonSQS.ReceiveMessage",
        serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": "ten"}).to_string(),
    )
    .await;
    json_raw(&server, "AmazonSQS.Nope", "{}").await;
    json_raw(&server, "Nope.Nope", "{}").await;
    json_raw(&server, "AmazonSQS.CreateQueue", "").await;
    json_raw(&server, "AmazonSQS.ListQueues", "[".repeat(100_000)).await;
    form_raw(&server, "").await;
    form_raw(&server, "Action%=%ZZ&%%%").await;
    form_raw(&server, vec![0u8; 4096]).await;
    let mut big = b"Action=SendMessage&MessageBody=".to_vec();
    big.resize(9 * 1024 * 1024, b'a');
    form_raw(&server, big).await;
    for value in ["", "/", "http://", "::::"] {
        json_raw(
            &server,
            "AmazonSQS.SendMessage",
            serde_json::json!({"QueueUrl": value, "MessageBody": "x"}).to_string(),
        )
        .await;
    }

    // The queue created before the abuse is intact and usable.
    let sqs = sqs(&server);
    sqs.send_message()
        .queue_url(&url)
        .message_body("fine")
        .send()
        .await
        .unwrap();
    let got = sqs.receive_message().queue_url(&url).send().await.unwrap();
    assert_eq!(got.messages().len(), 1);
    assert_eq!(got.messages()[0].body(), Some("fine"));
    assert_alive(&server).await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Random requests.

/// Values that have broken parsers and validators elsewhere.
const ODD_VALUES: &[&str] = &[
    "",
    "0",
    "-1",
    "99999999999999999999",
    "1e400",
    "NaN",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    "\u{0}",
    "\u{fffe}",
    "%",
    "%zz",
    "\\",
    "\"",
    "<a>",
    "{\"a\":",
    "All",
    "String",
    "Number",
    "Binary",
    "String.x",
    "q.fifo",
    "arn:aws:sqs:us-east-1:000000000000:rq0",
    "arn:aws:sns:us-east-1:000000000000:rt0",
    "http://127.0.0.1:1/000000000000/rq0",
];

const SQS_OPERATIONS: &[&str] = &[
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "GetQueueUrl",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "ListQueues",
    "PurgeQueue",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "AddPermission",
    "RemovePermission",
    "DeleteQueue",
    "ListDeadLetterSourceQueues",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
    "CancelMessageMoveTask",
];

const SNS_ACTIONS: &[&str] = &[
    "CreateTopic",
    "Publish",
    "PublishBatch",
    "Subscribe",
    "Unsubscribe",
    "ConfirmSubscription",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "GetTopicAttributes",
    "ListTopics",
    "ListSubscriptionsByTopic",
    "DeleteTopic",
    "TagResource",
    "CreatePlatformApplication",
    "CreatePlatformEndpoint",
    "SetSMSAttributes",
    "CheckIfPhoneNumberIsOptedOut",
];

const FIELDS: &[&str] = &[
    "QueueUrl",
    "QueueName",
    "MessageBody",
    "DelaySeconds",
    "MessageAttributes",
    "MessageSystemAttributes",
    "MessageDeduplicationId",
    "MessageGroupId",
    "Entries",
    "MaxNumberOfMessages",
    "WaitTimeSeconds",
    "VisibilityTimeout",
    "AttributeNames",
    "MessageAttributeNames",
    "ReceiptHandle",
    "Attributes",
    "Tags",
    "TagKeys",
    "SourceArn",
    "DestinationArn",
    "TaskHandle",
    "Label",
    "AWSAccountIds",
    "Actions",
    "NextToken",
    "MaxResults",
    "QueueNamePrefix",
    "ReceiveRequestAttemptId",
    "Id",
    "DataType",
    "StringValue",
    "BinaryValue",
];

const FORM_KEYS: &[&str] = &[
    "TopicArn",
    "Message",
    "Subject",
    "MessageStructure",
    "Protocol",
    "Endpoint",
    "Name",
    "AttributeName",
    "AttributeValue",
    "SubscriptionArn",
    "Token",
    "PhoneNumber",
    "MessageAttributes.entry.1.Name",
    "MessageAttributes.entry.1.Value.DataType",
    "MessageAttributes.entry.1.Value.StringValue",
    "Attributes.entry.1.key",
    "Attributes.entry.1.value",
    "PublishBatchRequestEntries.member.1.Id",
    "PublishBatchRequestEntries.member.1.Message",
    "SendMessageBatchRequestEntry.1.Id",
    "SendMessageBatchRequestEntry.1.MessageBody",
    "Attribute.1.Name",
    "Attribute.1.Value",
    "Tags.member.1.Key",
    "Tags.member.1.Value",
    "Tag.1.Key",
    "QueueUrl",
    "MessageBody",
    "MaxNumberOfMessages",
    "ReceiptHandle",
    "Version",
];

fn random_json(rng: &mut rand::rngs::StdRng, depth: u32) -> serde_json::Value {
    use rand::seq::IndexedRandom;
    use rand::RngExt;
    use serde_json::Value;
    match rng.random_range(0..10) {
        0..=3 => Value::from(*ODD_VALUES.choose(rng).unwrap()),
        4 => Value::from(rng.random_range(-5i64..100_000)),
        5 => Value::from(rng.random::<f64>() * 1e6),
        6 if depth < 3 => (0..rng.random_range(0..12))
            .map(|_| random_json(rng, depth + 1))
            .collect(),
        7 if depth < 3 => (0..rng.random_range(0..5))
            .map(|_| {
                let key = FIELDS.choose(rng).unwrap().to_string();
                (key, random_json(rng, depth + 1))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        // Around the 256 KiB message limit now and then.
        8 => Value::from("x".repeat(*[10, 1_000, 262_144, 262_145].choose(rng).unwrap())),
        _ => Value::from(
            (0..rng.random_range(0..20))
                .map(|_| char::from_u32(rng.random_range(1..0x2fff)).unwrap_or('?'))
                .collect::<String>(),
        ),
    }
}

/// A thousand random SQS JSON, SQS query and SNS query requests against queues and topics
/// that exist: every answer is a 2xx or a 4xx AWS error (checked in `send_raw`), never a 5xx,
/// a dropped connection or a hang, and the server works normally afterwards. Seeded, so a
/// failure reproduces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_never_break_the_server() {
    use rand::seq::IndexedRandom;
    use rand::{RngExt, SeedableRng};
    let server = server().await;
    let sqs = sqs(&server);
    let sns = sns(&server);
    for name in ["rq0", "rq1"] {
        create_queue(&sqs, name, &[]).await;
        create_queue(&sqs, &format!("{name}.fifo"), &[("FifoQueue", "true")]).await;
    }
    let topic = sns.create_topic().name("rt0").send().await.unwrap();
    sns.subscribe()
        .topic_arn(topic.topic_arn().unwrap())
        .protocol("sqs")
        .endpoint("arn:aws:sqs:us-east-1:000000000000:rq0")
        .send()
        .await
        .unwrap();
    let queue_urls: Vec<String> = ["rq0", "rq1", "rq0.fifo", "rq1.fifo"]
        .iter()
        .map(|n| format!("{}/000000000000/{n}", server.endpoint()))
        .collect();

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261204);
    for _ in 0..1_000 {
        if rng.random_bool(0.5) {
            let operation = SQS_OPERATIONS.choose(&mut rng).unwrap();
            let mut body = serde_json::Map::new();
            for _ in 0..rng.random_range(0..6) {
                let field = FIELDS.choose(&mut rng).unwrap().to_string();
                body.insert(field, random_json(&mut rng, 0));
            }
            if rng.random_bool(0.7) {
                let url = queue_urls.choose(&mut rng).unwrap();
                body.insert("QueueUrl".into(), url.as_str().into());
            }
            let mut bytes = serde_json::to_vec(&body).unwrap();
            if rng.random_bool(0.1) {
                bytes.truncate(rng.random_range(0..=bytes.len()));
            }
            let r = json_raw(&server, &format!("AmazonSQS.{operation}"), bytes).await;
            if r.status >= 400 {
                assert!(!r.json_type().is_empty(), "{operation}: {}", r.text);
            }
        } else {
            let action = if rng.random_bool(0.5) {
                SQS_OPERATIONS.choose(&mut rng).unwrap()
            } else {
                SNS_ACTIONS.choose(&mut rng).unwrap()
            };
            let mut params: Vec<(String, String)> = vec![("Action".into(), action.to_string())];
            for _ in 0..rng.random_range(0..8) {
                let key = if rng.random_bool(0.5) {
                    FORM_KEYS.choose(&mut rng).unwrap()
                } else {
                    FIELDS.choose(&mut rng).unwrap()
                };
                let value = match random_json(&mut rng, 1) {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                params.push((key.to_string(), value));
            }
            if rng.random_bool(0.5) {
                params.push(("TopicArn".into(), topic.topic_arn().unwrap().into()));
            }
            if rng.random_bool(0.3) {
                let url = queue_urls.choose(&mut rng).unwrap();
                params.push(("QueueUrl".into(), url.clone()));
            }
            form_raw(&server, serde_urlencoded::to_string(&params).unwrap()).await;
        }
    }
    assert_alive(&server).await;
}
