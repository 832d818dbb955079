//! The SQS query protocol over raw HTTP: form-encoded POST (and GET) with `Action=…`, XML out.
//! Parameter names follow reference §1.3, response envelopes §1.5, errors §2.1–§2.3, routing of
//! queue-URL paths §1.2.

mod common;

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use common::*;
use md5::{Digest, Md5};
use quick_xml::events::Event;

const VERSION: &str = "2012-11-05";
const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

// ---------------------------------------------------------------------------------------------
// A tiny XML tree, built with quick-xml so entity and character references are decoded exactly
// as a client's XML parser would (raw CR is normalised to LF; `&#xD;` gives back CR).

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn opt(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn child(&self, name: &str) -> &Node {
        self.opt(name)
            .unwrap_or_else(|| panic!("<{}> has no <{name}> child: {self:#?}", self.name))
    }

    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn text_of(&self, name: &str) -> &str {
        &self.child(name).text
    }

    fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.text.is_empty()
    }

    /// A flattened `<{entry}><{k}/><{v}/></{entry}>` list as pairs, in document order.
    fn pairs(&self, entry: &str, k: &str, v: &str) -> Vec<(String, String)> {
        self.all(entry)
            .into_iter()
            .map(|e| (e.text_of(k).to_string(), e.text_of(v).to_string()))
            .collect()
    }

    fn pair(&self, entry: &str, k: &str, v: &str, key: &str) -> Option<String> {
        self.pairs(entry, k, v)
            .into_iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }
}

fn parse_xml(text: &str) -> Node {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => stack.push(element(&e)),
            Ok(Event::Empty(e)) => {
                let node = element(&e);
                stack.last_mut().unwrap().children.push(node);
            }
            Ok(Event::End(_)) => {
                let node = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(node);
            }
            Ok(Event::Text(t)) => {
                let s = t.xml10_content().expect("text decodes");
                stack.last_mut().unwrap().text.push_str(&s);
            }
            Ok(Event::CData(t)) => {
                let s = t.decode().expect("cdata decodes");
                stack.last_mut().unwrap().text.push_str(&s);
            }
            Ok(Event::GeneralRef(r)) => {
                let resolved = match r.resolve_char_ref().expect("valid char ref") {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().unwrap();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .unwrap_or_else(|| panic!("unknown entity &{name}; in {text}"))
                            .to_string()
                    }
                };
                stack.last_mut().unwrap().text.push_str(&resolved);
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("invalid XML ({e}): {text}"),
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements in {text}");
    let mut doc = stack.pop().unwrap();
    assert!(
        doc.text.trim().is_empty(),
        "text outside the root element: {text}"
    );
    assert_eq!(doc.children.len(), 1, "exactly one root element: {text}");
    doc.children.pop().unwrap()
}

fn element(e: &quick_xml::events::BytesStart) -> Node {
    Node {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.expect("attribute");
                (
                    String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                    a.unescape_value().unwrap().to_string(),
                )
            })
            .collect(),
        ..Node::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP helpers.

struct Reply {
    status: u16,
    request_id: String,
    text: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    // §6.2: `x-amzn-RequestId` on every response.
    let request_id = resp
        .headers()
        .get("x-amzn-requestid")
        .unwrap_or_else(|| panic!("no x-amzn-RequestId header (status {status})"))
        .to_str()
        .unwrap()
        .to_string();
    assert!(!request_id.is_empty(), "empty x-amzn-RequestId header");
    let text = resp.text().await.unwrap();
    Reply {
        status,
        request_id,
        text,
    }
}

/// A form POST to `path` with exactly `params` (nothing added).
async fn post(server: &lyrebird::RunningServer, path: &str, params: &[(&str, &str)]) -> Reply {
    let resp = client()
        .post(format!("{}{}", server.endpoint(), path))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(serde_urlencoded::to_string(params).unwrap())
        .send()
        .await
        .expect("query request");
    reply(resp).await
}

/// A GET of `path_and_query` (already encoded).
async fn get(server: &lyrebird::RunningServer, path_and_query: &str) -> Reply {
    let resp = client()
        .get(format!("{}{}", server.endpoint(), path_and_query))
        .send()
        .await
        .expect("GET request");
    reply(resp).await
}

/// `Action=<action>&Version=2012-11-05&<params>` posted to `/`, as botocore sends it.
async fn call(server: &lyrebird::RunningServer, action: &str, params: &[(&str, &str)]) -> Reply {
    call_at(server, "/", action, params).await
}

async fn call_at(
    server: &lyrebird::RunningServer,
    path: &str,
    action: &str,
    params: &[(&str, &str)],
) -> Reply {
    let mut all = vec![("Action", action), ("Version", VERSION)];
    all.extend_from_slice(params);
    post(server, path, &all).await
}

/// Checks a success envelope (§1.5) and returns `<{op}Result>` (or the root for no-output ops).
fn success(r: &Reply, op: &str) -> Node {
    assert_eq!(r.status, 200, "{op} failed: {}", r.text);
    let root = parse_xml(&r.text);
    assert_eq!(root.name, format!("{op}Response"), "{}", r.text);
    assert_eq!(root.attr("xmlns"), Some(NAMESPACE), "{}", r.text);
    assert_eq!(
        root.names(),
        vec![format!("{op}Result").as_str(), "ResponseMetadata"],
        "the Result element comes first, then ResponseMetadata: {}",
        r.text
    );
    check_metadata(r, &root);
    let mut root = root;
    root.children.remove(0)
}

/// Checks the envelope of an operation without output: no Result element at all (§1.5).
fn no_output(r: &Reply, op: &str) {
    assert_eq!(r.status, 200, "{op} failed: {}", r.text);
    let root = parse_xml(&r.text);
    assert_eq!(root.name, format!("{op}Response"), "{}", r.text);
    assert_eq!(root.attr("xmlns"), Some(NAMESPACE), "{}", r.text);
    assert_eq!(root.names(), vec!["ResponseMetadata"], "{}", r.text);
    check_metadata(r, &root);
}

fn check_metadata(r: &Reply, root: &Node) {
    let metadata = root.child("ResponseMetadata");
    assert_eq!(metadata.names(), vec!["RequestId"], "{}", r.text);
    assert_eq!(
        metadata.text_of("RequestId"),
        r.request_id,
        "the XML RequestId is the x-amzn-RequestId header"
    );
}

/// Checks a query error document (§2.1) and its status.
fn error(r: &Reply, status: u16, code: &str, message: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    let root = parse_xml(&r.text);
    assert_eq!(root.name, "ErrorResponse", "{}", r.text);
    assert_eq!(root.attr("xmlns"), Some(NAMESPACE), "{}", r.text);
    assert_eq!(root.names(), vec!["Error", "RequestId"], "{}", r.text);
    assert_eq!(root.text_of("RequestId"), r.request_id);
    let e = root.child("Error");
    assert_eq!(
        &e.names()[..3],
        ["Type", "Code", "Message"],
        "Error children: {}",
        r.text
    );
    assert_eq!(
        e.text_of("Type"),
        if status >= 500 { "Receiver" } else { "Sender" }
    );
    assert_eq!(e.text_of("Code"), code, "{}", r.text);
    if let Some(message) = message {
        assert_eq!(e.text_of("Message"), message, "{}", r.text);
    }
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn create(server: &lyrebird::RunningServer, name: &str) -> String {
    let r = call(server, "CreateQueue", &[("QueueName", name)]).await;
    let url = success(&r, "CreateQueue").text_of("QueueUrl").to_string();
    assert_eq!(url, format!("{}/{ACCOUNT}/{name}", server.endpoint()));
    url
}

async fn send(server: &lyrebird::RunningServer, url: &str, body: &str) -> String {
    let r = call(
        server,
        "SendMessage",
        &[("QueueUrl", url), ("MessageBody", body)],
    )
    .await;
    success(&r, "SendMessage").text_of("MessageId").to_string()
}

async fn receive(server: &lyrebird::RunningServer, url: &str, params: &[(&str, &str)]) -> Node {
    let mut all = vec![("QueueUrl", url)];
    all.extend_from_slice(params);
    let r = call(server, "ReceiveMessage", &all).await;
    success(&r, "ReceiveMessage")
}

// ---------------------------------------------------------------------------------------------
// Queue operations.

#[tokio::test]
async fn create_queue_with_attributes_and_tags() {
    let server = server().await;
    let r = call(
        &server,
        "CreateQueue",
        &[
            ("QueueName", "configured"),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "45"),
            ("Attribute.2.Name", "DelaySeconds"),
            ("Attribute.2.Value", "3"),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "core"),
            ("Tag.2.Key", "empty"),
            ("Tag.2.Value", ""),
        ],
    )
    .await;
    let result = success(&r, "CreateQueue");
    assert_eq!(result.names(), vec!["QueueUrl"]);
    let url = result.text_of("QueueUrl").to_string();
    assert_eq!(url, format!("{}/{ACCOUNT}/configured", server.endpoint()));

    // §1.5: GetQueueAttributes is a flattened `<Attribute><Name/><Value/></Attribute>` list.
    let r = call(
        &server,
        "GetQueueAttributes",
        &[
            ("QueueUrl", &url),
            ("AttributeName.1", "VisibilityTimeout"),
            ("AttributeName.2", "DelaySeconds"),
        ],
    )
    .await;
    let result = success(&r, "GetQueueAttributes");
    assert_eq!(result.names(), vec!["Attribute", "Attribute"]);
    for attribute in result.all("Attribute") {
        assert_eq!(attribute.names(), vec!["Name", "Value"]);
    }
    let mut pairs = result.pairs("Attribute", "Name", "Value");
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("DelaySeconds".to_string(), "3".to_string()),
            ("VisibilityTimeout".to_string(), "45".to_string()),
        ]
    );

    // Tags given at creation (an empty value is allowed, §4.3).
    let r = call(&server, "ListQueueTags", &[("QueueUrl", &url)]).await;
    let result = success(&r, "ListQueueTags");
    let mut tags = result.pairs("Tag", "Key", "Value");
    tags.sort();
    assert_eq!(
        tags,
        vec![
            ("empty".to_string(), String::new()),
            ("team".to_string(), "core".to_string()),
        ]
    );

    // Same name, same attributes: the existing URL (§4.3).
    let r = call(
        &server,
        "CreateQueue",
        &[
            ("QueueName", "configured"),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "45"),
        ],
    )
    .await;
    assert_eq!(success(&r, "CreateQueue").text_of("QueueUrl"), url);
    server.stop().await;
}

#[tokio::test]
async fn get_queue_url_and_list_queues() {
    let server = server().await;
    let a1 = create(&server, "alpha-1").await;
    let a2 = create(&server, "alpha-2").await;
    let beta = create(&server, "beta").await;

    let r = call(&server, "GetQueueUrl", &[("QueueName", "beta")]).await;
    let result = success(&r, "GetQueueUrl");
    assert_eq!(result.names(), vec!["QueueUrl"]);
    assert_eq!(result.text_of("QueueUrl"), beta);

    // Flattened: repeated <QueueUrl> directly inside the result (§1.5).
    let r = call(&server, "ListQueues", &[("QueueNamePrefix", "alpha")]).await;
    let result = success(&r, "ListQueues");
    assert_eq!(result.names(), vec!["QueueUrl", "QueueUrl"], "{}", r.text);
    let mut urls: Vec<&str> = result
        .all("QueueUrl")
        .iter()
        .map(|n| n.text.as_str())
        .collect();
    urls.sort();
    assert_eq!(urls, vec![a1.as_str(), a2.as_str()]);

    let r = call(&server, "ListQueues", &[]).await;
    assert_eq!(success(&r, "ListQueues").all("QueueUrl").len(), 3);

    // No match: the Result element is still there, empty (§1.5).
    let r = call(&server, "ListQueues", &[("QueueNamePrefix", "zzz")]).await;
    assert!(success(&r, "ListQueues").is_empty(), "{}", r.text);
    server.stop().await;
}

#[tokio::test]
async fn get_and_set_queue_attributes() {
    let server = server().await;
    let url = create(&server, "attrs").await;

    let r = call(
        &server,
        "SetQueueAttributes",
        &[
            ("QueueUrl", &url),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "120"),
            ("Attribute.2.Name", "MaximumMessageSize"),
            ("Attribute.2.Value", "2048"),
        ],
    )
    .await;
    no_output(&r, "SetQueueAttributes");

    let r = call(
        &server,
        "GetQueueAttributes",
        &[("QueueUrl", &url), ("AttributeName.1", "All")],
    )
    .await;
    let result = success(&r, "GetQueueAttributes");
    assert!(result.names().iter().all(|n| *n == "Attribute"));
    let get = |name| result.pair("Attribute", "Name", "Value", name);
    assert_eq!(get("VisibilityTimeout").as_deref(), Some("120"));
    assert_eq!(get("MaximumMessageSize").as_deref(), Some("2048"));
    assert_eq!(
        get("QueueArn").as_deref(),
        Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:attrs").as_str())
    );
    assert_eq!(get("ApproximateNumberOfMessages").as_deref(), Some("0"));

    // Without AttributeName the result is empty, but present (§4.2, §1.5).
    let r = call(&server, "GetQueueAttributes", &[("QueueUrl", &url)]).await;
    assert!(success(&r, "GetQueueAttributes").is_empty(), "{}", r.text);

    // Unknown attribute name (§2.3).
    let r = call(
        &server,
        "GetQueueAttributes",
        &[("QueueUrl", &url), ("AttributeName.1", "Foobar")],
    )
    .await;
    error(
        &r,
        400,
        "InvalidAttributeName",
        Some("Unknown Attribute Foobar."),
    );
    server.stop().await;
}

#[tokio::test]
async fn tag_untag_and_list_queue_tags() {
    let server = server().await;
    let url = create(&server, "tagged").await;

    let r = call(&server, "ListQueueTags", &[("QueueUrl", &url)]).await;
    assert!(success(&r, "ListQueueTags").is_empty(), "{}", r.text);

    let r = call(
        &server,
        "TagQueue",
        &[
            ("QueueUrl", &url),
            ("Tag.1.Key", "a"),
            ("Tag.1.Value", "1"),
            ("Tag.2.Key", "b"),
            ("Tag.2.Value", "2"),
            ("Tag.3.Key", "c"),
            ("Tag.3.Value", "3"),
        ],
    )
    .await;
    no_output(&r, "TagQueue");

    let r = call(
        &server,
        "UntagQueue",
        &[("QueueUrl", &url), ("TagKey.1", "a"), ("TagKey.2", "c")],
    )
    .await;
    no_output(&r, "UntagQueue");

    let r = call(&server, "ListQueueTags", &[("QueueUrl", &url)]).await;
    let result = success(&r, "ListQueueTags");
    assert_eq!(result.names(), vec!["Tag"], "{}", r.text);
    assert_eq!(result.child("Tag").names(), vec!["Key", "Value"]);
    assert_eq!(
        result.pairs("Tag", "Key", "Value"),
        vec![("b".to_string(), "2".to_string())]
    );
    server.stop().await;
}

#[tokio::test]
async fn purge_queue_then_purge_in_progress_is_403() {
    let server = server().await;
    let url = create(&server, "purged").await;
    send(&server, &url, "one").await;
    send(&server, &url, "two").await;

    let r = call(&server, "PurgeQueue", &[("QueueUrl", &url)]).await;
    no_output(&r, "PurgeQueue");
    assert!(receive(&server, &url, &[("MaxNumberOfMessages", "10")])
        .await
        .is_empty());

    // §2.2: PurgeQueueInProgress is HTTP 403; message from §2.3.
    let r = call(&server, "PurgeQueue", &[("QueueUrl", &url)]).await;
    error(
        &r,
        403,
        "AWS.SimpleQueueService.PurgeQueueInProgress",
        Some("Only one PurgeQueue operation on purged is allowed every 60 seconds."),
    );

    advance_clock(&server, 61.0).await;
    let r = call(&server, "PurgeQueue", &[("QueueUrl", &url)]).await;
    no_output(&r, "PurgeQueue");
    server.stop().await;
}

#[tokio::test]
async fn delete_queue_then_queue_does_not_exist() {
    let server = server().await;
    let url = create(&server, "doomed").await;

    let r = call(&server, "DeleteQueue", &[("QueueUrl", &url)]).await;
    no_output(&r, "DeleteQueue");

    // §2.1/§2.3: the query protocol's wording of NonExistentQueue.
    let r = call(&server, "GetQueueUrl", &[("QueueName", "doomed")]).await;
    error(
        &r,
        400,
        "AWS.SimpleQueueService.NonExistentQueue",
        Some("The specified queue does not exist for this wsdl version."),
    );
    let r = call(
        &server,
        "SendMessage",
        &[("QueueUrl", &url), ("MessageBody", "x")],
    )
    .await;
    error(
        &r,
        400,
        "AWS.SimpleQueueService.NonExistentQueue",
        Some("The specified queue does not exist for this wsdl version."),
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Message operations.

#[tokio::test]
async fn send_message_with_string_attributes_and_receive_selected() {
    let server = server().await;
    let url = create(&server, "attrs-msg").await;

    let r = call(
        &server,
        "SendMessage",
        &[
            ("QueueUrl", &url),
            ("MessageBody", "msg"),
            ("MessageAttribute.1.Name", "Hello"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "There"),
            ("MessageAttribute.2.Name", "General"),
            ("MessageAttribute.2.Value.DataType", "String"),
            ("MessageAttribute.2.Value.StringValue", "Kenobi"),
            ("MessageAttribute.3.Name", "Help.Me"),
            ("MessageAttribute.3.Value.DataType", "String"),
            ("MessageAttribute.3.Value.StringValue", "Me"),
        ],
    )
    .await;
    let sent = success(&r, "SendMessage");
    // MD5 test vectors from §3.
    assert_eq!(
        sent.text_of("MD5OfMessageBody"),
        "6e2baaf3b97dbeef01c0043275f9a0e7"
    );
    assert_eq!(
        sent.text_of("MD5OfMessageAttributes"),
        "4c360f3fdafd970e05fae2f149d997f5"
    );
    let message_id = sent.text_of("MessageId").to_string();
    assert_eq!(message_id.len(), 36, "a UUID: {message_id}");
    assert!(sent.opt("MD5OfMessageSystemAttributes").is_none());
    assert!(sent.opt("SequenceNumber").is_none());

    let result = receive(
        &server,
        &url,
        &[
            ("AttributeName.1", "SenderId"),
            ("AttributeName.2", "ApproximateReceiveCount"),
            ("MessageAttributeName.1", "Hello"),
        ],
    )
    .await;
    assert_eq!(result.names(), vec!["Message"], "{result:#?}");
    let m = result.child("Message");
    // Element order of the query model (§1.5).
    assert_eq!(
        m.names(),
        vec![
            "MessageId",
            "ReceiptHandle",
            "MD5OfBody",
            "Body",
            "Attribute",
            "Attribute",
            "MD5OfMessageAttributes",
            "MessageAttribute",
        ]
    );
    assert_eq!(m.text_of("MessageId"), message_id);
    assert!(!m.text_of("ReceiptHandle").is_empty());
    assert_eq!(m.text_of("MD5OfBody"), "6e2baaf3b97dbeef01c0043275f9a0e7");
    assert_eq!(m.text_of("Body"), "msg");
    let mut attributes = m.pairs("Attribute", "Name", "Value");
    attributes.sort();
    assert_eq!(attributes[0].0, "ApproximateReceiveCount");
    assert_eq!(attributes[0].1, "1");
    assert_eq!(attributes[1].0, "SenderId");
    assert!(!attributes[1].1.is_empty());
    // §3: on receive, the MD5 covers only the returned attributes.
    assert_eq!(
        m.text_of("MD5OfMessageAttributes"),
        "a311262e065454b75da111d535b8dacd"
    );
    let attribute = m.child("MessageAttribute");
    assert_eq!(attribute.names(), vec!["Name", "Value"]);
    assert_eq!(attribute.text_of("Name"), "Hello");
    let value = attribute.child("Value");
    assert_eq!(value.names(), vec!["StringValue", "DataType"]);
    assert_eq!(value.text_of("StringValue"), "There");
    assert_eq!(value.text_of("DataType"), "String");
    server.stop().await;
}

#[tokio::test]
async fn send_message_binary_attribute_round_trips_as_base64() {
    let server = server().await;
    let url = create(&server, "binary").await;
    let bytes = b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01";
    let encoded = STANDARD.encode(bytes);

    let r = call(
        &server,
        "SendMessage",
        &[
            ("QueueUrl", &url),
            ("MessageBody", "test"),
            ("MessageAttribute.1.Name", "attr1"),
            ("MessageAttribute.1.Value.DataType", "Binary"),
            ("MessageAttribute.1.Value.BinaryValue", &encoded),
        ],
    )
    .await;
    let sent = success(&r, "SendMessage");
    assert_eq!(
        sent.text_of("MD5OfMessageBody"),
        "098f6bcd4621d373cade4e832627b4f6"
    );
    assert_eq!(
        sent.text_of("MD5OfMessageAttributes"),
        "8cbe4db156db8a94db8b801b7addb984"
    );

    let result = receive(&server, &url, &[("MessageAttributeName.1", "All")]).await;
    let m = result.child("Message");
    assert!(m.opt("Attribute").is_none(), "no system attributes asked");
    assert_eq!(
        m.text_of("MD5OfMessageAttributes"),
        "8cbe4db156db8a94db8b801b7addb984"
    );
    let attribute = m.child("MessageAttribute");
    assert_eq!(attribute.text_of("Name"), "attr1");
    let value = attribute.child("Value");
    assert_eq!(value.names(), vec!["BinaryValue", "DataType"]);
    assert_eq!(value.text_of("DataType"), "Binary");
    assert_eq!(
        STANDARD.decode(value.text_of("BinaryValue")).unwrap(),
        bytes.to_vec()
    );
    server.stop().await;
}

#[tokio::test]
async fn empty_receive_has_an_empty_result_element() {
    let server = server().await;
    let url = create(&server, "empty").await;
    let r = call(
        &server,
        "ReceiveMessage",
        &[("QueueUrl", &url), ("MaxNumberOfMessages", "10")],
    )
    .await;
    // §4.5 / §1.5: `<ReceiveMessageResult/>` (or an empty element), never absent.
    let result = success(&r, "ReceiveMessage");
    assert!(result.is_empty(), "{}", r.text);
    server.stop().await;
}

#[tokio::test]
async fn send_message_batch_successes_and_failures() {
    let server = server().await;
    let url = create(&server, "batch").await;
    let r = call(
        &server,
        "SendMessageBatch",
        &[
            ("QueueUrl", &url),
            ("SendMessageBatchRequestEntry.1.Id", "first"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "msg"),
            ("SendMessageBatchRequestEntry.2.Id", "second"),
            ("SendMessageBatchRequestEntry.2.MessageBody", "test"),
            (
                "SendMessageBatchRequestEntry.2.MessageAttribute.1.Name",
                "timestamp",
            ),
            (
                "SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType",
                "Number",
            ),
            (
                "SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue",
                "1493147359900",
            ),
            ("SendMessageBatchRequestEntry.3.Id", "bad"),
            ("SendMessageBatchRequestEntry.3.MessageBody", "late"),
            // Per-message delay is 0–900 (§4.4): this entry fails on its own.
            ("SendMessageBatchRequestEntry.3.DelaySeconds", "901"),
        ],
    )
    .await;
    let result = success(&r, "SendMessageBatch");
    let ok = result.all("SendMessageBatchResultEntry");
    assert_eq!(ok.len(), 2, "{}", r.text);
    let entry = |id: &str| {
        *ok.iter()
            .find(|e| e.text_of("Id") == id)
            .unwrap_or_else(|| panic!("no entry {id}"))
    };
    let first = entry("first");
    assert_eq!(first.names()[0], "Id");
    assert!(!first.text_of("MessageId").is_empty());
    assert_eq!(
        first.text_of("MD5OfMessageBody"),
        "6e2baaf3b97dbeef01c0043275f9a0e7"
    );
    assert!(first.opt("MD5OfMessageAttributes").is_none());
    let second = entry("second");
    assert_eq!(
        second.text_of("MD5OfMessageBody"),
        "098f6bcd4621d373cade4e832627b4f6"
    );
    assert_eq!(
        second.text_of("MD5OfMessageAttributes"),
        "235c5c510d26fb653d073faed50ae77c"
    );

    let failed = result.all("BatchResultErrorEntry");
    assert_eq!(failed.len(), 1, "{}", r.text);
    assert_eq!(
        failed[0].names(),
        vec!["Id", "SenderFault", "Code", "Message"]
    );
    assert_eq!(failed[0].text_of("Id"), "bad");
    assert_eq!(failed[0].text_of("SenderFault"), "true");
    assert!(!failed[0].text_of("Code").is_empty());
    assert!(!failed[0].text_of("Message").is_empty());

    let received = receive(&server, &url, &[("MaxNumberOfMessages", "10")]).await;
    let mut bodies: Vec<&str> = received
        .all("Message")
        .iter()
        .map(|m| m.text_of("Body"))
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec!["msg", "test"]);
    server.stop().await;
}

#[tokio::test]
async fn send_message_batch_without_failures_has_no_error_entries() {
    let server = server().await;
    let url = create(&server, "batch-ok").await;
    let r = call(
        &server,
        "SendMessageBatch",
        &[
            ("QueueUrl", &url),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "x"),
        ],
    )
    .await;
    let result = success(&r, "SendMessageBatch");
    assert_eq!(result.names(), vec!["SendMessageBatchResultEntry"]);
    server.stop().await;
}

#[tokio::test]
async fn delete_message_and_delete_message_batch() {
    let server = server().await;
    let url = create(&server, "deletes").await;
    for body in ["a", "b", "c"] {
        send(&server, &url, body).await;
    }
    let received = receive(&server, &url, &[("MaxNumberOfMessages", "10")]).await;
    let handles: Vec<String> = received
        .all("Message")
        .iter()
        .map(|m| m.text_of("ReceiptHandle").to_string())
        .collect();
    assert_eq!(handles.len(), 3, "{received:#?}");

    let r = call(
        &server,
        "DeleteMessage",
        &[("QueueUrl", &url), ("ReceiptHandle", &handles[0])],
    )
    .await;
    no_output(&r, "DeleteMessage");

    let r = call(
        &server,
        "DeleteMessageBatch",
        &[
            ("QueueUrl", &url),
            ("DeleteMessageBatchRequestEntry.1.Id", "one"),
            (
                "DeleteMessageBatchRequestEntry.1.ReceiptHandle",
                &handles[1],
            ),
            ("DeleteMessageBatchRequestEntry.2.Id", "two"),
            (
                "DeleteMessageBatchRequestEntry.2.ReceiptHandle",
                &handles[2],
            ),
            ("DeleteMessageBatchRequestEntry.3.Id", "junk"),
            ("DeleteMessageBatchRequestEntry.3.ReceiptHandle", "garbage"),
        ],
    )
    .await;
    let result = success(&r, "DeleteMessageBatch");
    let mut ids: Vec<&str> = result
        .all("DeleteMessageBatchResultEntry")
        .iter()
        .map(|e| {
            assert_eq!(e.names(), vec!["Id"]);
            e.text_of("Id")
        })
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["one", "two"]);
    let failed = result.all("BatchResultErrorEntry");
    assert_eq!(failed.len(), 1, "{}", r.text);
    assert_eq!(failed[0].text_of("Id"), "junk");
    assert_eq!(failed[0].text_of("SenderFault"), "true");
    assert_eq!(failed[0].text_of("Code"), "ReceiptHandleIsInvalid");

    // All three are gone, even after their visibility timeout.
    advance_clock(&server, 31.0).await;
    assert!(receive(&server, &url, &[("MaxNumberOfMessages", "10")])
        .await
        .is_empty());
    server.stop().await;
}

#[tokio::test]
async fn change_message_visibility_and_batch() {
    let server = server().await;
    let url = create(&server, "visibility").await;
    send(&server, &url, "a").await;
    send(&server, &url, "b").await;
    let received = receive(&server, &url, &[("MaxNumberOfMessages", "10")]).await;
    let messages = received.all("Message");
    assert_eq!(messages.len(), 2);
    let handle_a = messages[0].text_of("ReceiptHandle").to_string();
    let handle_b = messages[1].text_of("ReceiptHandle").to_string();

    // Visible again at once (§4.6).
    let r = call(
        &server,
        "ChangeMessageVisibility",
        &[
            ("QueueUrl", &url),
            ("ReceiptHandle", &handle_a),
            ("VisibilityTimeout", "0"),
        ],
    )
    .await;
    no_output(&r, "ChangeMessageVisibility");
    let again = receive(
        &server,
        &url,
        &[
            ("MaxNumberOfMessages", "10"),
            ("AttributeName.1", "ApproximateReceiveCount"),
        ],
    )
    .await;
    let again = again.all("Message");
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].text_of("MessageId"),
        messages[0].text_of("MessageId")
    );
    assert_eq!(
        again[0]
            .pair("Attribute", "Name", "Value", "ApproximateReceiveCount")
            .as_deref(),
        Some("2")
    );
    let handle_a2 = again[0].text_of("ReceiptHandle").to_string();

    let r = call(
        &server,
        "ChangeMessageVisibilityBatch",
        &[
            ("QueueUrl", &url),
            ("ChangeMessageVisibilityBatchRequestEntry.1.Id", "a"),
            (
                "ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle",
                &handle_a2,
            ),
            (
                "ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout",
                "0",
            ),
            ("ChangeMessageVisibilityBatchRequestEntry.2.Id", "b"),
            (
                "ChangeMessageVisibilityBatchRequestEntry.2.ReceiptHandle",
                &handle_b,
            ),
            (
                "ChangeMessageVisibilityBatchRequestEntry.2.VisibilityTimeout",
                "0",
            ),
            ("ChangeMessageVisibilityBatchRequestEntry.3.Id", "junk"),
            (
                "ChangeMessageVisibilityBatchRequestEntry.3.ReceiptHandle",
                "garbage",
            ),
            (
                "ChangeMessageVisibilityBatchRequestEntry.3.VisibilityTimeout",
                "0",
            ),
        ],
    )
    .await;
    let result = success(&r, "ChangeMessageVisibilityBatch");
    let mut ids: Vec<&str> = result
        .all("ChangeMessageVisibilityBatchResultEntry")
        .iter()
        .map(|e| {
            assert_eq!(e.names(), vec!["Id"]);
            e.text_of("Id")
        })
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["a", "b"]);
    let failed = result.all("BatchResultErrorEntry");
    assert_eq!(failed.len(), 1, "{}", r.text);
    assert_eq!(failed[0].text_of("Id"), "junk");
    assert_eq!(failed[0].text_of("SenderFault"), "true");
    assert_eq!(failed[0].text_of("Code"), "ReceiptHandleIsInvalid");

    let both = receive(&server, &url, &[("MaxNumberOfMessages", "10")]).await;
    assert_eq!(both.all("Message").len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn body_with_cr_and_xml_specials_round_trips_exactly() {
    let server = server().await;
    let url = create(&server, "specials").await;
    let body = "line1\r\nline2\rend <tag attr=\"v\"> & 'quote' \u{e9}\u{1F600}\t]]>";
    let r = call(
        &server,
        "SendMessage",
        &[("QueueUrl", &url), ("MessageBody", body)],
    )
    .await;
    assert_eq!(
        success(&r, "SendMessage").text_of("MD5OfMessageBody"),
        md5_hex(body.as_bytes())
    );

    let r = call(&server, "ReceiveMessage", &[("QueueUrl", &url)]).await;
    // §1.5: CR is written as `&#xD;` (a raw CR would be normalised to LF by XML parsers).
    assert!(!r.text.contains('\r'), "raw CR in the XML: {:?}", r.text);
    assert!(r.text.contains("&#xD;"), "{:?}", r.text);
    let result = success(&r, "ReceiveMessage");
    let m = result.child("Message");
    assert_eq!(m.text_of("Body"), body);
    assert_eq!(m.text_of("MD5OfBody"), md5_hex(body.as_bytes()));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Routing: queue-URL paths and GET (§1.2).

#[tokio::test]
async fn post_to_queue_url_path_without_queue_url_parameter() {
    let server = server().await;
    let url = create(&server, "by-path").await;
    let path = format!("/{ACCOUNT}/by-path");

    // Old JS SDK v2 style: the request goes to the queue URL, no QueueUrl parameter.
    let r = call_at(
        &server,
        &path,
        "SendMessage",
        &[("MessageBody", "via path")],
    )
    .await;
    success(&r, "SendMessage");
    let r = call_at(&server, &path, "ReceiveMessage", &[]).await;
    let result = success(&r, "ReceiveMessage");
    assert_eq!(result.child("Message").text_of("Body"), "via path");
    let r = call_at(
        &server,
        &path,
        "GetQueueAttributes",
        &[("AttributeName.1", "QueueArn")],
    )
    .await;
    assert_eq!(
        success(&r, "GetQueueAttributes")
            .pair("Attribute", "Name", "Value", "QueueArn")
            .as_deref(),
        Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:by-path").as_str())
    );

    // GetQueueUrl for another queue through a queue URL works (§1.2 item 5).
    let other = create(&server, "other").await;
    let r = call_at(&server, &path, "GetQueueUrl", &[("QueueName", "other")]).await;
    assert_eq!(success(&r, "GetQueueUrl").text_of("QueueUrl"), other);

    let r = call_at(&server, &path, "DeleteQueue", &[]).await;
    no_output(&r, "DeleteQueue");
    let r = call(
        &server,
        "SendMessage",
        &[("QueueUrl", &url), ("MessageBody", "x")],
    )
    .await;
    error(&r, 400, "AWS.SimpleQueueService.NonExistentQueue", None);
    server.stop().await;
}

#[tokio::test]
async fn get_with_query_string_works() {
    let server = server().await;
    let url = create(&server, "by-get").await;

    let r = get(
        &server,
        &format!("/{ACCOUNT}/by-get?Action=SendMessage&MessageBody=hi"),
    )
    .await;
    let sent = success(&r, "SendMessage");
    assert_eq!(sent.text_of("MD5OfMessageBody"), md5_hex(b"hi"));

    let query = serde_urlencoded::to_string([
        ("Action", "ReceiveMessage"),
        ("Version", VERSION),
        ("QueueUrl", url.as_str()),
    ])
    .unwrap();
    let r = get(&server, &format!("/?{query}")).await;
    let result = success(&r, "ReceiveMessage");
    assert_eq!(result.child("Message").text_of("Body"), "hi");

    let r = get(&server, "/?Action=ListQueues&Version=2012-11-05").await;
    assert_eq!(success(&r, "ListQueues").text_of("QueueUrl"), url);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Errors (§2).

#[tokio::test]
async fn unknown_queue_error_document() {
    let server = server().await;
    let url = format!("{}/{ACCOUNT}/nope", server.endpoint());
    for (action, params) in [
        ("GetQueueAttributes", vec![("QueueUrl", url.as_str())]),
        ("ReceiveMessage", vec![("QueueUrl", url.as_str())]),
        ("DeleteQueue", vec![("QueueUrl", url.as_str())]),
        ("PurgeQueue", vec![("QueueUrl", url.as_str())]),
        ("GetQueueUrl", vec![("QueueName", "nope")]),
    ] {
        let r = call(&server, action, &params).await;
        error(
            &r,
            400,
            "AWS.SimpleQueueService.NonExistentQueue",
            Some("The specified queue does not exist for this wsdl version."),
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_action_is_invalid_action() {
    let server = server().await;
    let r = call(&server, "FooBar", &[]).await;
    error(
        &r,
        400,
        "InvalidAction",
        Some("The action FooBar is not valid for this endpoint."),
    );
    create(&server, "q").await;
    let r = call_at(&server, &format!("/{ACCOUNT}/q"), "FooBar", &[]).await;
    error(
        &r,
        400,
        "InvalidAction",
        Some("The action FooBar is not valid for this endpoint."),
    );
    server.stop().await;
}

#[tokio::test]
async fn create_queue_or_list_queues_on_a_queue_url_is_invalid_action() {
    let server = server().await;
    create(&server, "q").await;
    let path = format!("/{ACCOUNT}/q");
    let r = call_at(&server, &path, "CreateQueue", &[("QueueName", "other")]).await;
    error(
        &r,
        400,
        "InvalidAction",
        Some("The action CreateQueue is not valid for this endpoint."),
    );
    let r = call_at(&server, &path, "ListQueues", &[]).await;
    error(
        &r,
        400,
        "InvalidAction",
        Some("The action ListQueues is not valid for this endpoint."),
    );
    // Nothing was created.
    let r = call(&server, "GetQueueUrl", &[("QueueName", "other")]).await;
    error(&r, 400, "AWS.SimpleQueueService.NonExistentQueue", None);
    server.stop().await;
}

#[tokio::test]
async fn bare_get_of_a_queue_url_is_404_unknown_operation() {
    let server = server().await;
    create(&server, "q").await;
    let r = get(&server, &format!("/{ACCOUNT}/q")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let root = parse_xml(&r.text);
    assert_eq!(root.name, "UnknownOperationException");
    assert!(root.is_empty(), "{}", r.text);
    server.stop().await;
}

#[tokio::test]
async fn missing_message_body_is_missing_parameter() {
    let server = server().await;
    let url = create(&server, "q").await;
    let r = call(&server, "SendMessage", &[("QueueUrl", &url)]).await;
    error(
        &r,
        400,
        "MissingParameter",
        Some("The request must contain the parameter MessageBody."),
    );
    let r = call_at(&server, &format!("/{ACCOUNT}/q"), "SendMessage", &[]).await;
    error(
        &r,
        400,
        "MissingParameter",
        Some("The request must contain the parameter MessageBody."),
    );
    // An empty body counts as missing (§4.4).
    let r = call(
        &server,
        "SendMessage",
        &[("QueueUrl", &url), ("MessageBody", "")],
    )
    .await;
    error(
        &r,
        400,
        "MissingParameter",
        Some("The request must contain the parameter MessageBody."),
    );
    server.stop().await;
}

#[tokio::test]
async fn botocore_empty_list_form_is_tolerated() {
    let server = server().await;
    let url = create(&server, "q").await;
    let r = call(
        &server,
        "SendMessage",
        &[
            ("QueueUrl", &url),
            ("MessageBody", "with attrs"),
            ("MessageAttribute.1.Name", "k"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "v"),
        ],
    )
    .await;
    success(&r, "SendMessage");

    // §1.2 item 7: botocore sends an empty list as `MessageAttributeNames=`.
    let r = call(
        &server,
        "ReceiveMessage",
        &[
            ("QueueUrl", &url),
            ("AttributeNames", ""),
            ("MessageAttributeNames", ""),
        ],
    )
    .await;
    let result = success(&r, "ReceiveMessage");
    let m = result.child("Message");
    assert_eq!(m.text_of("Body"), "with attrs");
    // Nothing was asked for, so nothing is returned and there is no attribute MD5 (§3).
    assert!(m.opt("Attribute").is_none(), "{}", r.text);
    assert!(m.opt("MessageAttribute").is_none(), "{}", r.text);
    assert!(m.opt("MD5OfMessageAttributes").is_none(), "{}", r.text);
    server.stop().await;
}

#[tokio::test]
async fn non_numeric_max_number_of_messages_is_invalid_parameter_value() {
    let server = server().await;
    let url = create(&server, "q").await;
    let r = call(
        &server,
        "ReceiveMessage",
        &[("QueueUrl", &url), ("MaxNumberOfMessages", "abc")],
    )
    .await;
    error(&r, 400, "InvalidParameterValue", None);
    // Out of range, with AWS's wording (§2.3).
    let r = call(
        &server,
        "ReceiveMessage",
        &[("QueueUrl", &url), ("MaxNumberOfMessages", "11")],
    )
    .await;
    error(
        &r,
        400,
        "InvalidParameterValue",
        Some("Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."),
    );
    server.stop().await;
}
