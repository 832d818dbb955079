//! Issue 17 item 10: `--auth sigv4 --credentials FILE`. Requests are verified against the keys of
//! the credentials file (header and presigned forms), answered with AWS's errors when they fail,
//! act as the key's account, reach other accounts' queues and topics only where a policy grants
//! it, and lyrebird's own endpoints need the file's console token.

mod common;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as SigningCredentials;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use lyrebird::credentials::AuthMode;
use lyrebird::{Config, RunningServer};

const ALICE: (&str, &str, &str) = ("AKIDALICE", "alice-secret", "111111111111");
const BOB: (&str, &str, &str) = ("AKIDBOB", "bob-secret", "222222222222");
const CONSOLE_TOKEN: &str = "console-token-for-tests";

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

async fn server() -> RunningServer {
    let path = std::env::temp_dir().join(format!(
        "lyrebird-credentials-{}-{}.json",
        std::process::id(),
        rand_suffix()
    ));
    let keys: Vec<String> = [ALICE, BOB]
        .iter()
        .map(|(key, secret, account)| {
            format!(
                r#"{{"access_key_id":"{key}","secret_access_key":"{secret}","account_id":"{account}"}}"#
            )
        })
        .collect();
    std::fs::write(
        &path,
        format!(
            r#"{{"keys":[{}],"console_token":"{CONSOLE_TOKEN}"}}"#,
            keys.join(",")
        ),
    )
    .unwrap();
    let config = Config {
        port: 0,
        test_endpoints: true,
        auth: AuthMode::SigV4,
        credentials: Some(path),
        ..Config::default()
    };
    lyrebird::spawn(config).await.expect("server starts")
}

fn rand_suffix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn sqs(server: &RunningServer, key: &str, secret: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

fn sns(server: &RunningServer, key: &str, secret: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            key, secret, None, None, "test",
        ))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// Signs a query-protocol GET of `query` with aws-sigv4 at `time`, as a header or presigned.
fn signed_get(
    server: &RunningServer,
    (key, secret): (&str, &str),
    query: &str,
    time: SystemTime,
    presign_for: Option<Duration>,
) -> reqwest::RequestBuilder {
    let host = server.addr.to_string();
    let url = format!("http://{host}/?{query}");
    let identity: Identity = SigningCredentials::new(key, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if let Some(expires) = presign_for {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sqs")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers = [("host", host.as_str())];
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut request = http::Request::builder().uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let mut builder = common::http().get(request.uri().to_string());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    builder
}

/// `<Code>` of a query-protocol error document.
fn code_of(xml: &str) -> &str {
    xml.split("<Code>")
        .nth(1)
        .and_then(|rest| rest.split("</Code>").next())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_right_secret_is_served_as_its_account() {
    let server = server().await;
    let (key, secret, account) = ALICE;
    let sqs = sqs(&server, key, secret);
    let url = common::create_queue(&sqs, "signed", &[]).await;
    assert!(url.contains(&format!("/{account}/signed")), "{url}");
    common::send(&sqs, &url, "hello").await;
    assert_eq!(common::drain(&sqs, &url).await, ["hello"]);
    let sns = sns(&server, key, secret);
    let topic = sns.create_topic().name("signed").send().await.unwrap();
    assert!(topic.topic_arn().unwrap().contains(account));
    server.stop().await;
}

#[tokio::test]
async fn wrong_secrets_and_unknown_keys_are_refused() {
    let server = server().await;
    let (key, _, _) = ALICE;
    let err = sqs(&server, key, "not-the-secret")
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_code(&err), "SignatureDoesNotMatch");
    assert_eq!(common::error_message(&err), SIGNATURE_MISMATCH);
    let err = sns(&server, key, "not-the-secret")
        .list_topics()
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::sns_error_code(&err), "SignatureDoesNotMatch");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);

    let err = sqs(&server, "AKIDNOBODY", "whatever")
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_code(&err), "InvalidClientTokenId");
    assert_eq!(
        common::error_message(&err),
        "The security token included in the request is invalid."
    );
    server.stop().await;
}

#[tokio::test]
async fn unsigned_and_incomplete_signatures_are_refused() {
    let server = server().await;
    let (status, body) = common::query(&server, "/", &[("Action", "ListQueues")]).await;
    assert_eq!(
        (status, code_of(&body)),
        (403, "MissingAuthenticationToken"),
        "{body}"
    );
    let response = common::http()
        .post(server.endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-amz-date", "20240101T000000Z")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date",
        )
        .body("Action=ListQueues")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert_eq!(code_of(&body), "IncompleteSignature", "{body}");
    assert!(
        body.replace("&apos;", "'")
            .contains("Authorization header requires 'Signature' parameter."),
        "{body}"
    );
    server.stop().await;
}

/// `<Message>` of a query-protocol error document.
fn message_of(xml: &str) -> &str {
    xml.split("<Message>")
        .nth(1)
        .and_then(|rest| rest.split("</Message>").next())
        .unwrap_or_default()
}

/// More than 15 minutes from lyrebird's clock, a signature is refused as SQS and SNS refuse it
/// (403 SignatureDoesNotMatch, "Signature expired: …" / "Signature not yet current: …").
#[tokio::test]
async fn signatures_outside_fifteen_minutes_are_expired() {
    let server = server().await;
    let (key, secret, _) = ALICE;
    let query = "Action=ListQueues&Version=2012-11-05";
    let now = SystemTime::now();
    let ok = signed_get(&server, (key, secret), query, now, None)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());
    let cases = [
        (now - Duration::from_secs(20 * 60), "Signature expired: "),
        (
            now + Duration::from_secs(20 * 60),
            "Signature not yet current: ",
        ),
    ];
    for (time, text) in cases {
        let refused = signed_get(&server, (key, secret), query, time, None)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        let body = refused.text().await.unwrap();
        assert_eq!(code_of(&body), "SignatureDoesNotMatch", "{body}");
        assert!(message_of(&body).starts_with(text), "{body}");
        assert!(message_of(&body).contains(" min.)"), "{body}");
    }
    // On the service clock: moving it 20 minutes on expires a signature made now.
    let response = common::http()
        .post(format!("{}/_lyrebird/clock/advance", server.endpoint()))
        .bearer_auth(CONSOLE_TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"seconds": 1200}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let late = signed_get(&server, (key, secret), query, now, None)
        .send()
        .await
        .unwrap();
    let body = late.text().await.unwrap();
    assert!(
        message_of(&body).starts_with("Signature expired: "),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn presigned_urls_are_verified() {
    let server = server().await;
    let (key, secret, account) = ALICE;
    common::create_queue(&sqs(&server, key, secret), "presigned", &[]).await;
    let query = "Action=ListQueues&Version=2012-11-05";
    let now = SystemTime::now();
    let five_minutes = Some(Duration::from_secs(300));
    let presigned = signed_get(&server, (key, secret), query, now, five_minutes)
        .build()
        .unwrap();
    assert!(presigned
        .url()
        .query()
        .unwrap()
        .contains("X-Amz-Signature="));
    assert!(presigned.headers().get("authorization").is_none());
    let url = presigned.url().to_string();
    let ok = common::http().get(&url).send().await.unwrap();
    let body = ok.text().await.unwrap();
    assert!(body.contains(&format!("/{account}/presigned")), "{body}");

    let tampered = url.replace("ListQueues", "ListQueues&QueueNamePrefix=x");
    let refused = common::http().get(&tampered).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        code_of(&refused.text().await.unwrap()),
        "SignatureDoesNotMatch"
    );

    let an_hour_ago = now - Duration::from_secs(3600);
    let expired = signed_get(&server, (key, secret), query, an_hour_ago, five_minutes)
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(&expired.text().await.unwrap()), "RequestExpired");
    server.stop().await;
}

#[tokio::test]
async fn another_accounts_queue_needs_its_policy() {
    let server = server().await;
    let alice = sqs(&server, ALICE.0, ALICE.1);
    let bob = sqs(&server, BOB.0, BOB.1);
    let url = common::create_queue(&alice, "alices", &[]).await;
    let err = bob
        .send_message()
        .queue_url(&url)
        .message_body("from bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_code(&err), "AccessDenied");

    let arn = common::queue_arn(&alice, &url).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sqs:SendMessage","Resource":"{arn}"}}]}}"#,
        BOB.2
    );
    alice
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy)
        .send()
        .await
        .unwrap();
    bob.send_message()
        .queue_url(&url)
        .message_body("from bob")
        .send()
        .await
        .expect("granted by the queue's policy");
    // Only what the policy names.
    let err = bob
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::error_code(&err), "AccessDenied");
    assert_eq!(common::drain(&alice, &url).await, ["from bob"]);
    server.stop().await;
}

#[tokio::test]
async fn another_accounts_topic_needs_its_policy() {
    let server = server().await;
    let alice = sns(&server, ALICE.0, ALICE.1);
    let bob = sns(&server, BOB.0, BOB.1);
    let topic = alice
        .create_topic()
        .name("alices")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let err = bob
        .publish()
        .topic_arn(&topic)
        .message("from bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::sns_error_code(&err), "AuthorizationError");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"SNS:Publish","Resource":"{topic}"}}]}}"#,
        BOB.2
    );
    alice
        .set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(policy)
        .send()
        .await
        .unwrap();
    bob.publish()
        .topic_arn(&topic)
        .message("from bob")
        .send()
        .await
        .expect("granted by the topic's policy");
    let err = bob
        .delete_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::sns_error_code(&err), "AuthorizationError");
    server.stop().await;
}

#[tokio::test]
async fn lyrebird_endpoints_need_the_console_token() {
    let server = server().await;
    let url = format!("{}/_lyrebird/sns/deliveries", server.endpoint());
    let refused = common::http().get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let wrong = common::http()
        .get(&url)
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let allowed = common::http()
        .get(&url)
        .bearer_auth(CONSOLE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let reset = common::http()
        .post(format!("{}/_lyrebird/reset", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 401);
    let health = common::http()
        .get(format!("{}/_lyrebird/health", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the health check stays open");
    // Every endpoint of lyrebird's own that shows or changes state: the developer peek (also
    // under LocalStack's path), the console's API, the metrics.
    for path in [
        "/_lyrebird/sqs/messages?QueueUrl=http://localhost/000000000000/q",
        "/_aws/sqs/messages?QueueUrl=http://localhost/000000000000/q",
        "/_lyrebird/console/api/queues",
        "/_lyrebird/console/api/info",
        "/metrics",
    ] {
        let url = format!("{}{path}", server.endpoint());
        let refused = common::http().get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{path} without the token");
        let allowed = common::http()
            .get(&url)
            .bearer_auth(CONSOLE_TOKEN)
            .send()
            .await
            .unwrap();
        assert_ne!(allowed.status(), 401, "{path} with the token");
    }
    // The console's page holds no data and stays reachable; its script sends the token.
    let page = common::http()
        .get(format!("{}/_lyrebird/console/", server.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    server.stop().await;
}

/// The console's AWS calls carry the console token instead of a signature (a browser holds no
/// secret key): accepted with it, refused without it or with a wrong one.
#[tokio::test]
async fn the_console_token_stands_in_for_a_signature() {
    let server = server().await;
    let call = |token: Option<&'static str>| {
        let mut request = common::http()
            .post(server.endpoint())
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "AmazonSQS.ListQueues")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=000000000000/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body("{}");
        if let Some(token) = token {
            request = request.header("x-lyrebird-console-token", token);
        }
        request.send()
    };
    assert_eq!(call(Some(CONSOLE_TOKEN)).await.unwrap().status(), 200);
    assert_ne!(call(None).await.unwrap().status(), 200);
    assert_ne!(call(Some("guess")).await.unwrap().status(), 200);
    server.stop().await;
}
