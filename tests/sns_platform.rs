//! SNS mobile push and SMS through aws-sdk-sns: platform applications and endpoints, publishing to
//! endpoints (directly and through topics), SMS attributes, the opt-out list and the SMS sandbox.

mod common;

use aws_sdk_sns::types::LanguageCodeString;
use common::*;
use lyrebird::RunningServer;
use serde_json::{json, Value};

/// An aws-sdk-sns client for `region`, signing with `access_key` (a 12-digit key selects that
/// account; the shared helper is pinned to us-east-1 and the default account).
fn sns_as(server: &RunningServer, access_key: &str, region: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            access_key, "secret", None, None, "test",
        ))
        .endpoint_url(server.endpoint())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

fn sns_in(server: &RunningServer, region: &str) -> aws_sdk_sns::Client {
    sns_as(server, "test", region)
}

/// What lyrebird captured, filtered as `GET /_lyrebird/sns/deliveries` filters.
async fn deliveries(server: &RunningServer, filter: &[(&str, &str)]) -> Vec<Value> {
    let url = format!(
        "{}/_lyrebird/sns/deliveries?{}",
        server.endpoint(),
        serde_urlencoded::to_string(filter).unwrap()
    );
    let text = http().get(url).send().await.unwrap().text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["deliveries"].as_array().unwrap().clone()
}

async fn pushed_to(server: &RunningServer, endpoint_arn: &str) -> Vec<Value> {
    deliveries(
        server,
        &[("protocol", "application"), ("endpoint", endpoint_arn)],
    )
    .await
}

async fn texted_to(server: &RunningServer, phone: &str) -> Vec<Value> {
    deliveries(server, &[("protocol", "sms"), ("endpoint", phone)]).await
}

/// Stands in for the holder of `phone` replying STOP.
async fn opt_out(server: &RunningServer, phone: &str) {
    let resp = http()
        .post(format!("{}/_lyrebird/sns/opt-outs", server.endpoint()))
        .header("content-type", "application/json")
        .body(json!({ "phoneNumber": phone }).to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "opt-out of {phone} failed");
}

async fn gcm_app(sns: &aws_sdk_sns::Client, name: &str) -> String {
    sns.create_platform_application()
        .name(name)
        .platform("GCM")
        .attributes("PlatformCredential", "firebase-server-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap()
}

async fn apns_app(sns: &aws_sdk_sns::Client, name: &str) -> String {
    sns.create_platform_application()
        .name(name)
        .platform("APNS")
        .attributes("PlatformPrincipal", "certificate")
        .attributes("PlatformCredential", "private-key")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap()
}

async fn endpoint(sns: &aws_sdk_sns::Client, app: &str, token: &str) -> String {
    sns.create_platform_endpoint()
        .platform_application_arn(app)
        .token(token)
        .send()
        .await
        .unwrap()
        .endpoint_arn
        .unwrap()
}

async fn endpoint_attributes(
    sns: &aws_sdk_sns::Client,
    arn: &str,
) -> std::collections::HashMap<String, String> {
    sns.get_endpoint_attributes()
        .endpoint_arn(arn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default()
}

async fn set_enabled(sns: &aws_sdk_sns::Client, endpoint: &str, enabled: &str) {
    sns.set_endpoint_attributes()
        .endpoint_arn(endpoint)
        .attributes("Enabled", enabled)
        .send()
        .await
        .unwrap();
}

fn map(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---- platform applications ----

#[tokio::test]
async fn platform_application_is_created_listed_and_read_back() {
    let server = server().await;
    let sns = sns(&server);
    let arn = sns
        .create_platform_application()
        .name("orders.android")
        .platform("GCM")
        .attributes("PlatformCredential", "firebase-server-key")
        .attributes("SuccessFeedbackSampleRate", "5")
        .send()
        .await
        .unwrap()
        .platform_application_arn
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:sns:us-east-1:000000000000:app/GCM/orders.android"
    );
    // Credentials are write-only; Enabled is always shown.
    let attrs = sns
        .get_platform_application_attributes()
        .platform_application_arn(&arn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(
        attrs,
        map(&[("Enabled", "true"), ("SuccessFeedbackSampleRate", "5")])
    );
    let listed = sns.list_platform_applications().send().await.unwrap();
    assert_eq!(listed.platform_applications().len(), 1);
    assert_eq!(
        listed.platform_applications()[0].platform_application_arn(),
        Some(arn.as_str())
    );
    assert_eq!(listed.platform_applications()[0].attributes(), Some(&attrs));
    assert!(listed.next_token().is_none());

    // The same name and properties again: the same application.
    let again = sns
        .create_platform_application()
        .name("orders.android")
        .platform("GCM")
        .attributes("PlatformCredential", "firebase-server-key")
        .attributes("SuccessFeedbackSampleRate", "5")
        .send()
        .await
        .unwrap();
    assert_eq!(again.platform_application_arn(), Some(arn.as_str()));
    let err = sns
        .create_platform_application()
        .name("orders.android")
        .platform("GCM")
        .attributes("PlatformCredential", "another-key")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Name Reason: An application with the same name but different properties already exists"
    );

    // Applications live in their region.
    let other = sns_in(&server, "eu-west-1");
    let listed = other.list_platform_applications().send().await.unwrap();
    assert!(listed.platform_applications().is_empty());
}

#[tokio::test]
async fn platform_application_creation_is_validated() {
    let server = server().await;
    let sns = sns(&server);
    let create = |name: &str, platform: &str, attrs: &[(&str, &str)]| {
        let mut req = sns
            .create_platform_application()
            .name(name)
            .platform(platform);
        for (k, v) in attrs {
            req = req.attributes(*k, *v);
        }
        req.send()
    };
    let both = [
        ("PlatformPrincipal", "id"),
        ("PlatformCredential", "secret"),
    ];
    // Name, platform, attributes; the error code and message.
    type Case<'a> = (String, &'a str, Vec<(&'a str, &'a str)>, &'a str, String);
    let cases: Vec<Case> = vec![
        (
            "app".into(),
            "ADM",
            vec![],
            "ValidationError",
            "1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null".into(),
        ),
        (
            "".into(),
            "ADM",
            both.to_vec(),
            "InvalidParameter",
            "Invalid parameter:  Reason: cannot be empty".into(),
        ),
        (
            "a".repeat(257),
            "ADM",
            both.to_vec(),
            "InvalidParameter",
            format!(
                "Invalid parameter: {} Reason: must be at most 256 characters long",
                "a".repeat(257)
            ),
        ),
        (
            "@name".into(),
            "ADM",
            both.to_vec(),
            "InvalidParameter",
            "Invalid parameter: @name Reason: must contain only characters 'a'-'z', 'A'-'Z', '0'-'9', '_', '-', and '.'".into(),
        ),
        (
            "app".into(),
            "AAA",
            both.to_vec(),
            "InvalidParameter",
            "Invalid parameter: Platform Reason: AAA is not supported".into(),
        ),
        (
            "app".into(),
            "ADM",
            vec![("PlatformPrincipal", "id")],
            "InvalidParameter",
            "Invalid parameter: Attributes Reason: PlatformPrincipal attribute provided without PlatformCredential".into(),
        ),
        (
            "app".into(),
            "ADM",
            vec![("PlatformCredential", "secret")],
            "InvalidParameter",
            "Invalid parameter: Attributes Reason: PlatformCredential attribute provided without PlatformPrincipal".into(),
        ),
        (
            "app".into(),
            "ADM",
            vec![
                ("PlatformPrincipal", "id"),
                ("PlatformCredential", "secret"),
                ("SuccessFeedbackSampleRate", "101"),
            ],
            "InvalidParameter",
            "Invalid parameter: Attributes Reason: Invalid value for attribute: SuccessFeedbackSampleRate: 101 value provided is not an integer between 0-100".into(),
        ),
    ];
    for (name, platform, attrs, code, message) in cases {
        let err = create(&name, platform, &attrs).await.unwrap_err();
        assert_eq!(sns_error_code(&err), code, "{name} {platform} {attrs:?}");
        assert_eq!(sns_error_message(&err), message);
    }
    assert!(sns
        .list_platform_applications()
        .send()
        .await
        .unwrap()
        .platform_applications()
        .is_empty());
    // Every platform SNS serves is accepted, and the ARN names it.
    for platform in ["ADM", "APNS", "APNS_SANDBOX", "BAIDU", "MPNS", "WNS"] {
        let arn = create("app", platform, &both)
            .await
            .unwrap()
            .platform_application_arn
            .unwrap();
        assert!(arn.ends_with(&format!(":app/{platform}/app")), "{arn}");
    }
}

#[tokio::test]
async fn platform_application_attributes_are_set_and_checked() {
    let server = server().await;
    let sns = sns(&server);
    let app = gcm_app(&sns, "shop").await;
    sns.set_platform_application_attributes()
        .platform_application_arn(&app)
        .attributes("SuccessFeedbackSampleRate", "50")
        .attributes(
            "EventEndpointCreated",
            "arn:aws:sns:us-east-1:000000000000:events",
        )
        .attributes("PlatformCredential", "rotated-key")
        .send()
        .await
        .unwrap();
    let attrs = sns
        .get_platform_application_attributes()
        .platform_application_arn(&app)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(
        attrs,
        map(&[
            ("Enabled", "true"),
            (
                "EventEndpointCreated",
                "arn:aws:sns:us-east-1:000000000000:events"
            ),
            ("SuccessFeedbackSampleRate", "50"),
        ])
    );

    let missing = "arn:aws:sns:us-east-1:000000000000:app/ADM/NonExistingApp";
    let err = sns
        .get_platform_application_attributes()
        .platform_application_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    assert_eq!(
        sns_error_message(&err),
        "PlatformApplication does not exist"
    );
    let err = sns
        .set_platform_application_attributes()
        .platform_application_arn(missing)
        .attributes("PlatformPrincipal", "dummy")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    // No attributes at all is a validation error, even for a missing application.
    let err = sns
        .set_platform_application_attributes()
        .platform_application_arn(missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "ValidationError");
    assert_eq!(
        sns_error_message(&err),
        "1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null"
    );
    let err = sns
        .get_platform_application_attributes()
        .platform_application_arn("invalid-arn")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: PlatformApplicationArn Reason: An ARN must have at least 6 elements, not 1"
    );
    let err = sns
        .set_platform_application_attributes()
        .platform_application_arn("arn:aws:sns:us-east-1:000000000000:app/GCM")
        .attributes("SuccessFeedbackSampleRate", "5")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: PlatformApplicationArn Reason: Wrong number of slashes in relative portion of the ARN."
    );
    let err = sns
        .set_platform_application_attributes()
        .platform_application_arn(&app)
        .attributes("SuccessFeedbackSampleRate", "-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
}

#[tokio::test]
async fn deleting_an_application_deletes_its_endpoints() {
    let server = server().await;
    let sns = sns(&server);
    let app = gcm_app(&sns, "legacy").await;
    let device = endpoint(&sns, &app, "device-1").await;
    sns.delete_platform_application()
        .platform_application_arn(&app)
        .send()
        .await
        .unwrap();
    // Idempotent.
    sns.delete_platform_application()
        .platform_application_arn(&app)
        .send()
        .await
        .unwrap();
    let err = sns
        .list_endpoints_by_platform_application()
        .platform_application_arn(&app)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    assert_eq!(
        sns_error_message(&err),
        "PlatformApplication does not exist"
    );
    let err = sns
        .get_endpoint_attributes()
        .endpoint_arn(&device)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Endpoint does not exist");
    let err = sns
        .publish()
        .target_arn(&device)
        .message("hello")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"
    );
    assert!(sns
        .list_platform_applications()
        .send()
        .await
        .unwrap()
        .platform_applications()
        .is_empty());
}

#[tokio::test]
async fn platform_applications_are_listed_in_pages_of_100() {
    let server = server().await;
    let sns = sns(&server);
    let mut created = Vec::new();
    for i in 0..130 {
        created.push(gcm_app(&sns, &format!("app-{i:03}")).await);
    }
    let first = sns.list_platform_applications().send().await.unwrap();
    assert_eq!(first.platform_applications().len(), 100);
    let token = first.next_token().expect("a second page").to_string();
    let second = sns
        .list_platform_applications()
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.platform_applications().len(), 30);
    assert!(second.next_token().is_none());
    let mut listed: Vec<String> = first
        .platform_applications()
        .iter()
        .chain(second.platform_applications())
        .map(|a| a.platform_application_arn().unwrap().to_string())
        .collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created);
}

// ---- endpoints ----

#[tokio::test]
async fn platform_endpoint_creation_is_idempotent_per_token() {
    let server = server().await;
    let sns = sns(&server);
    let app = gcm_app(&sns, "shop").await;
    let first = endpoint(&sns, &app, "token-1").await;
    let prefix = "arn:aws:sns:us-east-1:000000000000:endpoint/GCM/shop/";
    let id = first.strip_prefix(prefix).expect("endpoint ARN format");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{first}");
    assert_eq!(endpoint(&sns, &app, "token-1").await, first);
    assert_ne!(endpoint(&sns, &app, "token-2").await, first);
    assert_eq!(
        endpoint_attributes(&sns, &first).await,
        map(&[("Enabled", "true"), ("Token", "token-1")])
    );
    // Same token, different attributes.
    let err = sns
        .create_platform_endpoint()
        .platform_application_arn(&app)
        .token("token-1")
        .attributes("Enabled", "false")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
    assert_eq!(
        sns_error_message(&err),
        format!("Invalid parameter: Token Reason: Endpoint {first} already exists with the same Token, but different attributes.")
    );
    // An endpoint disabled since no longer matches a plain re-registration.
    set_enabled(&sns, &first, "false").await;
    let err = sns
        .create_platform_endpoint()
        .platform_application_arn(&app)
        .token("token-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");

    // CustomUserData: the parameter, or the attribute when both are given.
    let with_data = sns
        .create_platform_endpoint()
        .platform_application_arn(&app)
        .token("token-3")
        .custom_user_data("bar")
        .send()
        .await
        .unwrap()
        .endpoint_arn
        .unwrap();
    assert_eq!(
        endpoint_attributes(&sns, &with_data).await,
        map(&[
            ("CustomUserData", "bar"),
            ("Enabled", "true"),
            ("Token", "token-3")
        ])
    );
    let both = sns
        .create_platform_endpoint()
        .platform_application_arn(&app)
        .token("token-4")
        .custom_user_data("bar")
        .attributes("CustomUserData", "foo")
        .send()
        .await
        .unwrap()
        .endpoint_arn
        .unwrap();
    assert_eq!(
        endpoint_attributes(&sns, &both).await["CustomUserData"],
        "foo"
    );
}

#[tokio::test]
async fn platform_endpoint_creation_is_validated() {
    let server = server().await;
    let sns = sns(&server);
    let app = gcm_app(&sns, "shop").await;
    let err = sns
        .create_platform_endpoint()
        .platform_application_arn("arn:aws:sns:us-east-1:000000000000:app/ADM/non_existent_app")
        .token("token_1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    assert_eq!(
        sns_error_message(&err),
        "PlatformApplication does not exist"
    );
    let err = sns
        .create_platform_endpoint()
        .platform_application_arn("arn:aws:sns:us-east-1:000000000000:shop")
        .token("token_1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: PlatformApplicationArn Reason: Wrong number of slashes in relative portion of the ARN."
    );
    let err = sns
        .create_platform_endpoint()
        .platform_application_arn(&app)
        .token("")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Token Reason: cannot be empty"
    );
    let long = "A".repeat(2050);
    let cases = [
        (
            ("PlatformPrincipal", "Principal"),
            "Invalid parameter: Attributes Reason: Invalid attribute name: PlatformPrincipal",
        ),
        (
            ("InvalidKey", "Value"),
            "Invalid parameter: Attributes Reason: Invalid attribute name: InvalidKey",
        ),
        (
            ("CustomUserData", long.as_str()),
            "Invalid parameter: Attributes Reason: Invalid value for attribute: CustomUserData: must be at most 2048 bytes long in UTF-8 encoding",
        ),
        (
            ("Token", ""),
            "Invalid parameter: Attributes Reason: Invalid value for attribute: Token: cannot be empty",
        ),
    ];
    for ((name, value), message) in cases {
        let err = sns
            .create_platform_endpoint()
            .platform_application_arn(&app)
            .token("token_1")
            .attributes(name, value)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "InvalidParameter", "{name}");
        assert_eq!(sns_error_message(&err), message);
    }
    let listed = sns
        .list_endpoints_by_platform_application()
        .platform_application_arn(&app)
        .send()
        .await
        .unwrap();
    assert!(listed.endpoints().is_empty());
}

#[tokio::test]
async fn endpoint_attributes_are_set_read_and_deleted() {
    let server = server().await;
    let sns = sns(&server);
    let app = gcm_app(&sns, "shop").await;
    let device = endpoint(&sns, &app, "token-1").await;
    sns.set_endpoint_attributes()
        .endpoint_arn(&device)
        .attributes("Enabled", "False")
        .attributes("Token", "token-2")
        .attributes("CustomUserData", "user 42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        endpoint_attributes(&sns, &device).await,
        map(&[
            ("CustomUserData", "user 42"),
            ("Enabled", "false"),
            ("Token", "token-2")
        ])
    );
    let listed = sns
        .list_endpoints_by_platform_application()
        .platform_application_arn(&app)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.endpoints().len(), 1);
    assert_eq!(listed.endpoints()[0].endpoint_arn(), Some(device.as_str()));
    assert_eq!(
        listed.endpoints()[0].attributes().unwrap()["Token"],
        "token-2"
    );

    let err = sns
        .set_endpoint_attributes()
        .endpoint_arn(&device)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "ValidationError");
    for name in ["PlatformCredential", "InvalidKey"] {
        let err = sns
            .set_endpoint_attributes()
            .endpoint_arn(&device)
            .attributes(name, "x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            sns_error_message(&err),
            format!("Invalid parameter: Attributes Reason: Invalid attribute name: {name}")
        );
    }
    let missing = format!(
        "arn:aws:sns:us-east-1:000000000000:endpoint/ADM/fakeapp/{}",
        uuid::Uuid::new_v4()
    );
    let err = sns
        .set_endpoint_attributes()
        .endpoint_arn(&missing)
        .attributes("Enabled", "false")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    assert_eq!(sns_error_message(&err), "Endpoint does not exist");
    let err = sns
        .get_endpoint_attributes()
        .endpoint_arn(&missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    let err = sns
        .get_endpoint_attributes()
        .endpoint_arn("arn:aws:sns:us-east-1:000000000000:endpoint/GCM/shop")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: EndpointArn Reason: Wrong number of slashes in relative portion of the ARN."
    );

    sns.delete_endpoint()
        .endpoint_arn(&device)
        .send()
        .await
        .unwrap();
    // Idempotent.
    sns.delete_endpoint()
        .endpoint_arn(&device)
        .send()
        .await
        .unwrap();
    let err = sns
        .get_endpoint_attributes()
        .endpoint_arn(&device)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "NotFound");
    let listed = sns
        .list_endpoints_by_platform_application()
        .platform_application_arn(&app)
        .send()
        .await
        .unwrap();
    assert!(listed.endpoints().is_empty());
}

#[tokio::test]
async fn endpoints_are_listed_in_pages_of_100() {
    let server = server().await;
    let sns = sns(&server);
    let app = gcm_app(&sns, "shop").await;
    let other = gcm_app(&sns, "shop2").await;
    endpoint(&sns, &other, "elsewhere").await;
    let mut created = Vec::new();
    for i in 0..120 {
        created.push(endpoint(&sns, &app, &format!("token-{i}")).await);
    }
    let mut listed = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = sns
            .list_endpoints_by_platform_application()
            .platform_application_arn(&app)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.endpoints().len() <= 100);
        listed.extend(
            page.endpoints()
                .iter()
                .map(|e| e.endpoint_arn().unwrap().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    created.sort();
    assert_eq!(listed, created);
}

// ---- publishing to endpoints ----

#[tokio::test]
async fn publishing_to_an_endpoint_is_captured() {
    let server = server().await;
    let sns = sns(&server);
    let gcm = gcm_app(&sns, "android").await;
    let apns = apns_app(&sns, "ios").await;
    let phone = endpoint(&sns, &gcm, "fcm-token").await;
    let tablet = endpoint(&sns, &apns, "apns-token").await;

    let sent = sns
        .publish()
        .target_arn(&phone)
        .subject("Order")
        .message("Your order has shipped")
        .message_attributes(
            "priority",
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("high")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let pushed = pushed_to(&server, &phone).await;
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0]["protocol"], "application");
    assert_eq!(pushed[0]["endpoint"], phone.as_str());
    assert_eq!(pushed[0]["message"], "Your order has shipped");
    assert_eq!(pushed[0]["subject"], "Order");
    assert_eq!(pushed[0]["messageId"], sent.message_id().unwrap());
    assert_eq!(pushed[0]["messageAttributes"]["priority"]["Value"], "high");

    // MessageStructure=json: each platform its own key, else `default`.
    let structured = json!({
        "default": "plain",
        "GCM": "{\"notification\":{\"title\":\"Shipped\"}}",
    })
    .to_string();
    for target in [&phone, &tablet] {
        sns.publish()
            .target_arn(target)
            .message_structure("json")
            .message(&structured)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        pushed_to(&server, &phone).await[1]["message"],
        "{\"notification\":{\"title\":\"Shipped\"}}"
    );
    assert_eq!(pushed_to(&server, &tablet).await[0]["message"], "plain");
    // Publishing to one endpoint needs no `default` if its platform's key is there.
    sns.publish()
        .target_arn(&tablet)
        .message_structure("json")
        .message(json!({ "APNS": "{\"aps\":{\"alert\":\"Hi\"}}" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        pushed_to(&server, &tablet).await[1]["message"],
        "{\"aps\":{\"alert\":\"Hi\"}}"
    );
    let err = sns
        .publish()
        .target_arn(&tablet)
        .message_structure("json")
        .message(json!({ "GCM": "only android" }).to_string())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Message Structure - No default entry in JSON message body"
    );
    let err = sns
        .publish()
        .target_arn(&tablet)
        .message_structure("json")
        .message("not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: Message Structure - JSON message body failed to parse"
    );
    let err = sns
        .publish()
        .target_arn(&tablet)
        .message("")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_message(&err), "Invalid parameter: Empty message");
    assert_eq!(pushed_to(&server, &tablet).await.len(), 2);

    let unknown = format!(
        "{}/{}",
        gcm.replace(":app/", ":endpoint/"),
        uuid::Uuid::new_v4()
    );
    let err = sns
        .publish()
        .target_arn(&unknown)
        .message("hello")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: TargetArn Reason: No endpoint found for the target arn specified"
    );
}

#[tokio::test]
async fn disabled_endpoints_and_applications_refuse_publishes() {
    let server = server().await;
    let sns = sns(&server);
    let app = gcm_app(&sns, "android").await;
    let device = endpoint(&sns, &app, "fcm-token").await;
    set_enabled(&sns, &device, "false").await;
    let err = sns
        .publish()
        .target_arn(&device)
        .message("hello")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "EndpointDisabled");
    assert_eq!(sns_error_message(&err), "Endpoint is disabled");
    assert!(matches!(
        err.as_service_error(),
        Some(aws_sdk_sns::operation::publish::PublishError::EndpointDisabledException(_))
    ));
    assert!(pushed_to(&server, &device).await.is_empty());

    set_enabled(&sns, &device, "true").await;
    sns.publish()
        .target_arn(&device)
        .message("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(pushed_to(&server, &device).await.len(), 1);

    sns.set_platform_application_attributes()
        .platform_application_arn(&app)
        .attributes("Enabled", "false")
        .send()
        .await
        .unwrap();
    let err = sns
        .publish()
        .target_arn(&device)
        .message("hello")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "PlatformApplicationDisabled");
    assert_eq!(pushed_to(&server, &device).await.len(), 1);
}

#[tokio::test]
async fn topics_deliver_each_platform_its_payload() {
    let server = server().await;
    let sns = sns(&server);
    let topic = sns
        .create_topic()
        .name("deals")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let android = endpoint(&sns, &gcm_app(&sns, "android").await, "fcm-token").await;
    let iphone = endpoint(&sns, &apns_app(&sns, "ios").await, "apns-token").await;
    let mut subscriptions = Vec::new();
    for device in [&android, &iphone] {
        subscriptions.push(
            sns.subscribe()
                .topic_arn(&topic)
                .protocol("application")
                .endpoint(device)
                .send()
                .await
                .unwrap()
                .subscription_arn
                .unwrap(),
        );
    }
    let message = json!({
        "default": "Check out these deals!",
        "GCM": "{\"data\":{\"message\":\"deals\"}}",
    })
    .to_string();
    let publish = || {
        sns.publish()
            .topic_arn(&topic)
            .message_structure("json")
            .message(&message)
            .send()
    };
    let sent = publish().await.unwrap();
    let to_android = pushed_to(&server, &android).await;
    assert_eq!(to_android.len(), 1);
    assert_eq!(
        to_android[0]["message"],
        "{\"data\":{\"message\":\"deals\"}}"
    );
    assert_eq!(to_android[0]["topicArn"], topic.as_str());
    assert_eq!(to_android[0]["subscriptionArn"], subscriptions[0].as_str());
    assert_eq!(to_android[0]["messageId"], sent.message_id().unwrap());
    assert_eq!(
        pushed_to(&server, &iphone).await[0]["message"],
        "Check out these deals!"
    );

    // A disabled endpoint is skipped; a deleted one keeps its subscription but gets nothing.
    set_enabled(&sns, &android, "false").await;
    sns.delete_endpoint()
        .endpoint_arn(&iphone)
        .send()
        .await
        .unwrap();
    publish().await.unwrap();
    assert_eq!(pushed_to(&server, &android).await.len(), 1);
    assert_eq!(pushed_to(&server, &iphone).await.len(), 1);
    let listed = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.subscriptions().len(), 2);

    // Re-subscribing the deleted endpoint returns the existing subscription; new subscriptions
    // need an existing endpoint.
    let again = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("application")
        .endpoint(&iphone)
        .send()
        .await
        .unwrap();
    assert_eq!(again.subscription_arn(), Some(subscriptions[1].as_str()));
    let ghost = format!("{}-ghost", android);
    let err = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("application")
        .endpoint(&ghost)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        format!(
            "Invalid parameter: Endpoint Reason: Endpoint does not exist for endpoint arn{ghost}"
        )
    );
}

// ---- SMS attributes ----

#[tokio::test]
async fn sms_attributes_default_set_and_filtered() {
    let server = server().await;
    let sns = sns(&server);
    let all = sns.get_sms_attributes().send().await.unwrap();
    assert_eq!(
        all.attributes().unwrap(),
        &map(&[("MonthlySpendLimit", "1")])
    );
    sns.set_sms_attributes()
        .attributes("DeliveryStatusSuccessSamplingRate", "100")
        .attributes("DefaultSenderID", "Lyrebird")
        .attributes("DefaultSMSType", "Transactional")
        .send()
        .await
        .unwrap();
    let all = sns.get_sms_attributes().send().await.unwrap();
    assert_eq!(
        all.attributes().unwrap(),
        &map(&[
            ("DefaultSMSType", "Transactional"),
            ("DefaultSenderID", "Lyrebird"),
            ("DeliveryStatusSuccessSamplingRate", "100"),
            ("MonthlySpendLimit", "1"),
        ])
    );
    let some = sns
        .get_sms_attributes()
        .attributes("DefaultSenderID")
        .attributes("DefaultSMSType")
        .send()
        .await
        .unwrap();
    assert_eq!(
        some.attributes().unwrap(),
        &map(&[
            ("DefaultSMSType", "Transactional"),
            ("DefaultSenderID", "Lyrebird")
        ])
    );
    // Per region.
    let other = sns_in(&server, "eu-west-1")
        .get_sms_attributes()
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.attributes().unwrap(),
        &map(&[("MonthlySpendLimit", "1")])
    );
    // The wire shape uses lower-case `attributes`.
    let (status, body) = query(
        &server,
        "/",
        &[("Action", "GetSMSAttributes"), ("Version", "2010-03-31")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<GetSMSAttributesResult><attributes><entry>"),
        "{body}"
    );
}

#[tokio::test]
async fn sms_attributes_are_validated() {
    let server = server().await;
    let sns = sns(&server);
    let cases = [
        (
            "InvalidAttribute",
            "invalid",
            "InvalidAttribute is not a valid attribute",
        ),
        ("DefaultSMSType", "invalid", "DefaultSMSType is invalid"),
        (
            "DefaultSenderID",
            "testSenderID",
            "DefaultSenderID is invalid",
        ),
        ("DefaultSenderID", "123456789", "DefaultSenderID is invalid"),
    ];
    for (name, value, message) in cases {
        let err = sns
            .set_sms_attributes()
            .attributes(name, value)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "InvalidParameter", "{name}={value}");
        assert_eq!(sns_error_message(&err), message);
    }
    let err = sns.set_sms_attributes().send().await.unwrap_err();
    assert_eq!(sns_error_code(&err), "ValidationError");
    // Nothing was stored.
    let all = sns.get_sms_attributes().send().await.unwrap();
    assert_eq!(all.attributes().unwrap().len(), 1);
}

// ---- opt-outs ----

#[tokio::test]
async fn opted_out_numbers_are_sent_nothing_until_opted_in() {
    let server = server().await;
    let sns = sns(&server);
    let number = "+15555550123";
    let opted_out = || async {
        sns.check_if_phone_number_is_opted_out()
            .phone_number(number)
            .send()
            .await
            .unwrap()
            .is_opted_out()
    };
    assert!(!opted_out().await);
    assert!(sns
        .list_phone_numbers_opted_out()
        .send()
        .await
        .unwrap()
        .phone_numbers()
        .is_empty());

    opt_out(&server, number).await;
    assert!(opted_out().await);
    let listed = sns.list_phone_numbers_opted_out().send().await.unwrap();
    assert_eq!(listed.phone_numbers(), [number.to_string()]);
    // Publishing is accepted, but nothing is sent: directly or through a topic.
    let topic = sns
        .create_topic()
        .name("alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sms")
        .endpoint(number)
        .send()
        .await
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sms")
        .endpoint("+15555550124")
        .send()
        .await
        .unwrap();
    sns.publish()
        .phone_number(number)
        .message("direct")
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("broadcast")
        .send()
        .await
        .unwrap();
    assert!(texted_to(&server, number).await.is_empty());
    assert_eq!(texted_to(&server, "+15555550124").await.len(), 1);

    sns.opt_in_phone_number()
        .phone_number(number)
        .send()
        .await
        .unwrap();
    assert!(!opted_out().await);
    sns.publish()
        .phone_number(number)
        .message("welcome back")
        .send()
        .await
        .unwrap();
    assert_eq!(
        texted_to(&server, number).await[0]["message"],
        "welcome back"
    );

    // A number can be opted back in once every 30 days.
    opt_out(&server, number).await;
    let err = sns
        .opt_in_phone_number()
        .phone_number(number)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "InvalidParameter");
    assert!(opted_out().await);
    advance_clock(&server, 30.0 * 24.0 * 3600.0).await;
    sns.opt_in_phone_number()
        .phone_number(number)
        .send()
        .await
        .unwrap();
    assert!(!opted_out().await);
}

#[tokio::test]
async fn opt_out_operations_check_phone_numbers() {
    let server = server().await;
    let sns = sns(&server);
    for bad in ["invalid", "+94123456789x"] {
        let err = sns
            .check_if_phone_number_is_opted_out()
            .phone_number(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "InvalidParameter");
        assert_eq!(
            sns_error_message(&err),
            "Invalid parameter: PhoneNumber Reason: input incorrectly formatted"
        );
        let err = sns
            .opt_in_phone_number()
            .phone_number(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            sns_error_message(&err),
            "Invalid parameter: PhoneNumber Reason: input incorrectly formatted"
        );
    }
    // Opting in a number that never opted out is fine.
    sns.opt_in_phone_number()
        .phone_number("+4411111111")
        .send()
        .await
        .unwrap();
    let err = sns
        .publish()
        .phone_number("+1a234")
        .message("hi")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        sns_error_message(&err),
        "Invalid parameter: PhoneNumber Reason: +1a234 is not valid to publish to"
    );
    // The opt-out list is per account (and shared by its regions).
    opt_out(&server, "+15555550100").await;
    let check = |client: aws_sdk_sns::Client| async move {
        client
            .check_if_phone_number_is_opted_out()
            .phone_number("+15555550100")
            .send()
            .await
            .unwrap()
            .is_opted_out()
    };
    assert!(check(sns_in(&server, "eu-west-1")).await);
    assert!(!check(sns_as(&server, "111111111111", "us-east-1")).await);
    // Lower-case members on the wire.
    let (_, body) = query(
        &server,
        "/",
        &[
            ("Action", "CheckIfPhoneNumberIsOptedOut"),
            ("Version", "2010-03-31"),
            ("phoneNumber", "+15555550100"),
        ],
    )
    .await;
    assert!(body.contains("<isOptedOut>true</isOptedOut>"), "{body}");
}

#[tokio::test]
async fn opted_out_numbers_are_listed_in_pages_of_100() {
    let server = server().await;
    let sns = sns(&server);
    let mut numbers: Vec<String> = (0..150).map(|i| format!("+1555555{i:04}")).collect();
    for number in &numbers {
        opt_out(&server, number).await;
    }
    let first = sns.list_phone_numbers_opted_out().send().await.unwrap();
    assert_eq!(first.phone_numbers().len(), 100);
    let token = first.next_token().expect("a second page");
    let second = sns
        .list_phone_numbers_opted_out()
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.phone_numbers().len(), 50);
    assert!(second.next_token().is_none());
    let listed: Vec<String> = [first.phone_numbers(), second.phone_numbers()].concat();
    numbers.sort();
    assert_eq!(listed, numbers);
    // Lower-case members on the wire.
    let (_, body) = query(
        &server,
        "/",
        &[
            ("Action", "ListPhoneNumbersOptedOut"),
            ("Version", "2010-03-31"),
        ],
    )
    .await;
    assert!(
        body.contains("<phoneNumbers><member>+15555550000</member>"),
        "{body}"
    );
    assert!(body.contains("<nextToken>"), "{body}");
}

// ---- SMS sandbox ----

/// The one-time password in the last verification SMS sent to `phone`.
async fn one_time_password(server: &RunningServer, phone: &str) -> String {
    let texts = texted_to(server, phone).await;
    let text = texts.last().expect("a verification SMS")["message"]
        .as_str()
        .unwrap()
        .to_string();
    text.chars().filter(char::is_ascii_digit).collect()
}

async fn sandbox_numbers(sns: &aws_sdk_sns::Client) -> Vec<(String, String)> {
    sns.list_sms_sandbox_phone_numbers()
        .send()
        .await
        .unwrap()
        .phone_numbers()
        .iter()
        .map(|n| {
            (
                n.phone_number().unwrap().to_string(),
                n.status().unwrap().as_str().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sandbox_numbers_are_verified_with_a_one_time_password() {
    let server = server().await;
    let sns = sns(&server);
    let status = sns.get_sms_sandbox_account_status().send().await.unwrap();
    assert!(status.is_in_sandbox());
    let number = "+15555550142";
    sns.create_sms_sandbox_phone_number()
        .phone_number(number)
        .language_code(LanguageCodeString::EnUs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sandbox_numbers(&sns).await,
        [(number.to_string(), "Pending".to_string())]
    );
    let code = one_time_password(&server, number).await;
    assert_eq!(code.len(), 6, "{code}");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let err = sns
        .verify_sms_sandbox_phone_number()
        .phone_number(number)
        .one_time_password(wrong)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.as_service_error(),
        Some(aws_sdk_sns::operation::verify_sms_sandbox_phone_number::VerifySMSSandboxPhoneNumberError::VerificationException(_))
    ), "{err:?}");
    // Asking again sends a fresh code; the old one no longer works.
    sns.create_sms_sandbox_phone_number()
        .phone_number(number)
        .send()
        .await
        .unwrap();
    assert_eq!(texted_to(&server, number).await.len(), 2);
    let code = one_time_password(&server, number).await;
    sns.verify_sms_sandbox_phone_number()
        .phone_number(number)
        .one_time_password(&code)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sandbox_numbers(&sns).await,
        [(number.to_string(), "Verified".to_string())]
    );

    // Deletion waits 24 hours after the last verification attempt.
    let err = sns
        .delete_sms_sandbox_phone_number()
        .phone_number(number)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "UserError");
    advance_clock(&server, 24.0 * 3600.0).await;
    sns.delete_sms_sandbox_phone_number()
        .phone_number(number)
        .send()
        .await
        .unwrap();
    assert!(sandbox_numbers(&sns).await.is_empty());
    // A number never verified can go at once.
    sns.create_sms_sandbox_phone_number()
        .phone_number("123456789")
        .send()
        .await
        .unwrap();
    sns.delete_sms_sandbox_phone_number()
        .phone_number("123456789")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn sandbox_operations_are_validated() {
    let server = server().await;
    let sns = sns(&server);
    for (bad, constraint) in [
        (
            "invalid phone number",
            r"Member must satisfy regular expression pattern: ^(\+[0-9]{8,}|[0-9]{0,9})$",
        ),
        (
            "1234567890",
            r"Member must satisfy regular expression pattern: ^(\+[0-9]{8,}|[0-9]{0,9})$",
        ),
        (
            "+94489347594376598435346594365943695348562987",
            "Member must have length less than or equal to 20",
        ),
    ] {
        let err = sns
            .create_sms_sandbox_phone_number()
            .phone_number(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "ValidationError");
        assert_eq!(
            sns_error_message(&err),
            format!("1 validation error detected: Value '{bad}' at 'phoneNumber' failed to satisfy constraint: {constraint}")
        );
    }
    let err = sns
        .verify_sms_sandbox_phone_number()
        .phone_number("+15555550100")
        .one_time_password("12a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "ValidationError");
    assert!(sns_error_message(&err).starts_with("2 validation errors detected: "));
    for err_code in [
        sns.verify_sms_sandbox_phone_number()
            .phone_number("+15555550100")
            .one_time_password("123456")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sns_error_code(&e)),
        sns.delete_sms_sandbox_phone_number()
            .phone_number("+15555550100")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sns_error_code(&e)),
    ] {
        assert_eq!(err_code, Err("ResourceNotFound".to_string()));
    }
    opt_out(&server, "+15555550199").await;
    let err = sns
        .create_sms_sandbox_phone_number()
        .phone_number("+15555550199")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "OptedOut");
    assert!(texted_to(&server, "+15555550199").await.is_empty());

    // At most ten destination numbers.
    for i in 0..10 {
        sns.create_sms_sandbox_phone_number()
            .phone_number(format!("+1555555{i:04}"))
            .send()
            .await
            .unwrap();
    }
    let err = sns
        .create_sms_sandbox_phone_number()
        .phone_number("+15555559999")
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "UserError");
    assert_eq!(sandbox_numbers(&sns).await.len(), 10);
}

#[tokio::test]
async fn sandbox_numbers_are_listed_in_pages() {
    let server = server().await;
    let sns = sns(&server);
    for i in 0..10 {
        sns.create_sms_sandbox_phone_number()
            .phone_number(format!("+1555555{i:04}"))
            .send()
            .await
            .unwrap();
    }
    let mut listed = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = sns
            .list_sms_sandbox_phone_numbers()
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        listed.extend(
            page.phone_numbers()
                .iter()
                .map(|n| n.phone_number().unwrap().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(
        listed,
        (0..10)
            .map(|i| format!("+1555555{i:04}"))
            .collect::<Vec<_>>()
    );
    for bad in [0, 101] {
        let err = sns
            .list_sms_sandbox_phone_numbers()
            .max_results(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(sns_error_code(&err), "ValidationError", "{bad}");
    }
    // The sandbox is per region.
    let other = sns_in(&server, "eu-west-1");
    assert!(sandbox_numbers(&other).await.is_empty());
}

#[tokio::test]
async fn a_new_account_has_no_origination_numbers() {
    let server = server().await;
    let sns = sns(&server);
    let numbers = sns
        .list_origination_numbers()
        .max_results(30)
        .send()
        .await
        .unwrap();
    assert!(numbers.phone_numbers().is_empty());
    assert!(numbers.next_token().is_none());
    let err = sns
        .list_origination_numbers()
        .max_results(31)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sns_error_code(&err), "ValidationError");
    assert_eq!(
        sns_error_message(&err),
        "1 validation error detected: Value '31' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 30"
    );
}
