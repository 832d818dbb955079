//! EventBridge connections and API destinations (issue 19 item 4): OAuth client credentials
//! (the token request, the bearer token cached until it expires or is refused, the connection's
//! AUTHORIZING/AUTHORIZED/DEAUTHORIZED states as AWS reports them, secrets never described) and
//! `InvocationRateLimitPerSecond` (excess events wait on the service clock, and go to the
//! dead-letter queue past their maximum age). Authorization endpoints and destinations are
//! small HTTP servers inside the tests.

mod common;

use aws_sdk_eventbridge::types::{
    DeadLetterConfig, HttpParameters, PutEventsRequestEntry, RetryPolicy, Target,
};
use common::endpoint::Endpoint;
use common::events::{call, call_at, events, queue, wait_messages};
use serde_json::{json, Value};

fn entry(n: usize) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .source("orders")
        .detail_type("OrderCreated")
        .detail(json!({ "n": n }).to_string())
        .build()
}

/// An authorization endpoint handing out `tok-1`, `tok-2`, … valid for `expires_in` seconds,
/// or answering `status` when it is not 200.
async fn token_server(status: u16) -> Endpoint {
    Endpoint::start(move |_, n| {
        if status == 200 {
            let token = json!({"access_token": format!("tok-{}", n + 1), "token_type": "Bearer", "expires_in": 60});
            (200, token.to_string())
        } else {
            (status, r#"{"error":"invalid_client"}"#.into())
        }
    })
    .await
}

fn oauth_parameters(token_url: &str) -> Value {
    json!({
        "OAuthParameters": {
            "AuthorizationEndpoint": format!("{token_url}/token"),
            "HttpMethod": "POST",
            "ClientParameters": {"ClientID": "lyrebird-client", "ClientSecret": "very-secret"},
            "OAuthHttpParameters": {
                "BodyParameters": [{"Key": "grant_type", "Value": "client_credentials"}],
                "HeaderParameters": [{"Key": "x-oauth-header", "Value": "h1"}],
                "QueryStringParameters": [{"Key": "audience", "Value": "orders api"}]
            }
        },
        "InvocationHttpParameters": {
            "HeaderParameters": [{"Key": "x-invocation", "Value": "inv"}]
        }
    })
}

fn api_key(value: &str) -> Value {
    json!({"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": value}})
}

/// An API_KEY connection `key` sending `x-api-key: <value>`; returns its ARN.
async fn api_key_connection(server: &lyrebird::RunningServer, value: &str) -> String {
    let (status, created) = call(
        server,
        "CreateConnection",
        json!({"Name": "key", "AuthorizationType": "API_KEY", "AuthParameters": api_key(value)}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    created["ConnectionArn"].as_str().unwrap().to_string()
}

/// Waits (up to 5 s) until DescribeConnection reports `state`; returns the raw answer.
async fn wait_connection(server: &lyrebird::RunningServer, name: &str, state: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, described) = call(server, "DescribeConnection", json!({"Name": name})).await;
        if described["ConnectionState"] == state || std::time::Instant::now() > deadline {
            assert_eq!(described["ConnectionState"], state, "{described}");
            return described;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An API destination on `connection_arn` (POST `<url>/api`), and a rule on the default bus
/// sending `orders` events to it with `target`'s retry policy and dead-letter queue.
async fn destination_rule(
    eb: &aws_sdk_eventbridge::Client,
    endpoint: &str,
    connection_arn: &str,
    url: &str,
    rate: Option<u32>,
    target: aws_sdk_eventbridge::types::builders::TargetBuilder,
) -> String {
    let mut input = json!({
        "Name": "api",
        "ConnectionArn": connection_arn,
        "InvocationEndpoint": format!("{url}/api/*"),
        "HttpMethod": "POST",
    });
    if let Some(rate) = rate {
        input["InvocationRateLimitPerSecond"] = json!(rate);
    }
    let (status, created) = call_at(endpoint, "CreateApiDestination", input).await;
    assert_eq!(status, 200, "{created}");
    let arn = created["ApiDestinationArn"].as_str().unwrap().to_string();
    eb.put_rule()
        .name("to-api")
        .event_pattern(r#"{"source":["orders"]}"#)
        .send()
        .await
        .unwrap();
    let out = eb
        .put_targets()
        .rule("to-api")
        .targets(
            target
                .id("api")
                .arn(&arn)
                .http_parameters(
                    HttpParameters::builder()
                        .path_parameter_values("orders")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_entry_count(), 0);
    arn
}

#[tokio::test]
async fn oauth_connections_get_cache_and_renew_a_bearer_token() {
    let server = common::server().await;
    let eb = events(&server);
    let tokens = token_server(200).await;
    // The destination refuses its third call once (credentials revoked), accepts the rest.
    let api = Endpoint::start(|_, n| (if n == 2 { 401 } else { 200 }, String::new())).await;

    let (status, created) = call(
        &server,
        "CreateConnection",
        json!({"Name": "oauth", "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": oauth_parameters(&tokens.base)}),
    )
    .await;
    assert_eq!(status, 200);
    // AWS-recorded: an OAuth connection is AUTHORIZING when created, with no LastAuthorizedTime.
    assert_eq!(created["ConnectionState"], "AUTHORIZING", "{created}");
    assert!(created.get("LastAuthorizedTime").is_none(), "{created}");
    let described = wait_connection(&server, "oauth", "AUTHORIZED").await;
    assert!(described["LastAuthorizedTime"].is_number(), "{described}");
    // The secret is never described.
    assert!(
        !described.to_string().contains("very-secret"),
        "{described}"
    );
    assert_eq!(
        described["AuthParameters"]["OAuthParameters"]["ClientParameters"],
        json!({"ClientID": "lyrebird-client"})
    );

    // The token request: Basic client credentials and the OAuthHttpParameters.
    assert_eq!(tokens.wait_for(1).await, 1);
    let request = tokens.get(0);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/token?audience=orders+api");
    assert_eq!(
        request.header("authorization"),
        Some("Basic bHlyZWJpcmQtY2xpZW50OnZlcnktc2VjcmV0"),
        "base64 of lyrebird-client:very-secret"
    );
    assert_eq!(request.header("x-oauth-header"), Some("h1"));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.body, "grant_type=client_credentials");

    let connection_arn = created["ConnectionArn"].as_str().unwrap();
    let destination = destination_rule(
        &eb,
        &server.endpoint(),
        connection_arn,
        &api.base,
        None,
        Target::builder().retry_policy(RetryPolicy::builder().maximum_retry_attempts(3).build()),
    )
    .await;
    let (_, described) = call(&server, "DescribeApiDestination", json!({"Name": "api"})).await;
    assert_eq!(described["ApiDestinationState"], "ACTIVE", "{described}");
    assert_eq!(described["ApiDestinationArn"], destination);

    // The call carries the token and the connection's invocation parameters; the token is
    // used again while it is valid.
    for n in 0..2 {
        eb.put_events().entries(entry(n)).send().await.unwrap();
        assert_eq!(api.wait_for(n + 1).await, n + 1);
    }
    for n in 0..2 {
        let call = api.get(n);
        assert_eq!(call.path, "/api/orders");
        assert_eq!(call.header("authorization"), Some("Bearer tok-1"));
        assert_eq!(call.header("x-invocation"), Some("inv"));
        assert!(call.body.contains(&format!("\"n\":{n}")), "{}", call.body);
    }
    assert_eq!(tokens.count(), 1, "the token is cached");

    // Expired (60 s on the service clock): the next call gets a new one.
    common::advance_clock(&server, 61.0).await;
    eb.put_events().entries(entry(2)).send().await.unwrap();
    assert_eq!(api.wait_for(3).await, 3);
    assert_eq!(api.get(2).header("authorization"), Some("Bearer tok-2"));
    assert_eq!(tokens.count(), 2);

    // That call was refused (401): the retry asks for a new token and carries it.
    common::advance_clock(&server, 2.0).await;
    assert_eq!(api.wait_for(4).await, 4);
    assert_eq!(api.get(3).header("authorization"), Some("Bearer tok-3"));
    assert_eq!(tokens.count(), 3);
    server.stop().await;
}

#[tokio::test]
async fn a_refused_token_request_deauthorizes_the_connection_until_it_is_updated() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let refusing = token_server(400).await;
    let api = Endpoint::ok().await;
    let (_, created) = call(
        &server,
        "CreateConnection",
        json!({"Name": "oauth", "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": oauth_parameters(&refusing.base)}),
    )
    .await;
    let described = wait_connection(&server, "oauth", "DEAUTHORIZED").await;
    let reason = described["StateReason"].as_str().unwrap();
    assert!(reason.contains("answered 400"), "{reason}");

    // Its API destination is INACTIVE (as AWS records one whose connection never authorized),
    // and events for it go to the dead-letter queue, not to the endpoint.
    let (dlq_url, dlq_arn) = queue(&sqs, "dlq").await;
    destination_rule(
        &eb,
        &server.endpoint(),
        created["ConnectionArn"].as_str().unwrap(),
        &api.base,
        None,
        Target::builder().dead_letter_config(DeadLetterConfig::builder().arn(&dlq_arn).build()),
    )
    .await;
    let (_, listed) = call(&server, "ListApiDestinations", json!({})).await;
    assert_eq!(
        listed["ApiDestinations"][0]["ApiDestinationState"],
        "INACTIVE"
    );
    eb.put_events().entries(entry(0)).send().await.unwrap();
    let dead = wait_messages(&sqs, &dlq_url, 1).await;
    assert_eq!(dead.len(), 1);
    let attrs = dead[0].message_attributes().unwrap();
    assert_eq!(attrs["ERROR_CODE"].string_value(), Some("NO_PERMISSIONS"));
    assert_eq!(api.count(), 0);

    // Updated with a working endpoint, it authorizes again.
    let tokens = token_server(200).await;
    let (status, updated) = call(
        &server,
        "UpdateConnection",
        json!({"Name": "oauth", "AuthParameters": oauth_parameters(&tokens.base)}),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    wait_connection(&server, "oauth", "AUTHORIZED").await;
    let (_, described) = call(&server, "DescribeApiDestination", json!({"Name": "api"})).await;
    assert_eq!(described["ApiDestinationState"], "ACTIVE");
    eb.put_events().entries(entry(1)).send().await.unwrap();
    assert_eq!(api.wait_for(1).await, 1);
    assert_eq!(api.get(0).header("authorization"), Some("Bearer tok-1"));
    server.stop().await;
}

#[tokio::test]
async fn the_invocation_rate_limit_holds_excess_events_until_their_turn_or_their_age() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let api = Endpoint::ok().await;
    let connection = api_key_connection(&server, "k").await;
    let (dlq_url, dlq_arn) = queue(&sqs, "dlq").await;
    destination_rule(
        &eb,
        &server.endpoint(),
        &connection,
        &api.base,
        Some(1),
        Target::builder()
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_event_age_in_seconds(60)
                    .build(),
            )
            .dead_letter_config(DeadLetterConfig::builder().arn(&dlq_arn).build()),
    )
    .await;

    // 70 events at one per second: the first goes at once, 60 more can still make it within
    // their minute, the rest cannot and go to the dead-letter queue.
    let total = 70;
    for batch in 0..total / 10 {
        let entries: Vec<_> = (0..10).map(|i| entry(batch * 10 + i)).collect();
        let out = eb
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_entry_count(), 0);
    }
    let dead = wait_messages(&sqs, &dlq_url, 1).await;
    assert!(!dead.is_empty(), "events past their age are dead-lettered");
    let attrs = dead[0].message_attributes().unwrap();
    assert_eq!(attrs["ERROR_CODE"].string_value(), Some("THROTTLING"));
    assert_eq!(
        attrs["EXHAUSTED_RETRY_CONDITION"].string_value(),
        Some("MaximumEventAgeInSeconds")
    );
    let sent = api.wait_for(1).await;
    assert!(
        (1..=3).contains(&sent),
        "one call per second of the clock: {sent}"
    );

    // Each second of the service clock lets one more call through (a loaded machine's own
    // passing time may add one).
    common::advance_clock(&server, 1.0).await;
    let now_sent = api.wait_for(sent + 1).await;
    assert!(
        (sent + 1..=sent + 2).contains(&now_sent),
        "{sent} then {now_sent}"
    );

    // A minute on, every event has gone: to the destination or to the dead-letter queue.
    common::advance_clock(&server, 60.0).await;
    let mut dead_lettered = dead.len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while api.count() + dead_lettered < total && std::time::Instant::now() < deadline {
        dead_lettered += wait_messages(&sqs, &dlq_url, 1).await.len();
    }
    assert_eq!(api.count() + dead_lettered, total, "nothing lost");
    assert!(api.count() >= 60, "{} delivered", api.count());
    server.stop().await;
}

/// A connection's state is kept with it: after a restart an OAuth connection is still
/// AUTHORIZED, and its first call asks for a new token (tokens are not stored); a
/// deauthorized one stays DEAUTHORIZED with its reason.
#[tokio::test]
async fn connection_states_survive_a_restart_and_tokens_are_fetched_again() {
    let dir = std::env::temp_dir().join(format!("lyrebird-oauth-{}", uuid::Uuid::new_v4()));
    let args = [
        std::ffi::OsStr::new("--data-dir"),
        dir.as_os_str(),
        std::ffi::OsStr::new("--test-endpoints"),
    ];
    let tokens = token_server(200).await;
    let refusing = token_server(401).await;
    let api = Endpoint::ok().await;
    let create = |name: &str, url: &str| json!({"Name": name, "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": oauth_parameters(url)});
    let first = common::process::start(&args, &[]).await;
    let raw = |endpoint: String, op: &'static str, body: Value| async move {
        call_at(&endpoint, op, body).await.1
    };
    let created = raw(
        first.endpoint.clone(),
        "CreateConnection",
        create("good", &tokens.base),
    )
    .await;
    raw(
        first.endpoint.clone(),
        "CreateConnection",
        create("bad", &refusing.base),
    )
    .await;
    let wait = |endpoint: String, name: &'static str, state: &'static str| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let d = raw(
                endpoint.clone(),
                "DescribeConnection",
                json!({"Name": name}),
            )
            .await;
            if d["ConnectionState"] == state || std::time::Instant::now() > deadline {
                assert_eq!(d["ConnectionState"], state, "{d}");
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    wait(first.endpoint.clone(), "good", "AUTHORIZED").await;
    wait(first.endpoint.clone(), "bad", "DEAUTHORIZED").await;
    assert_eq!(tokens.count(), 1);
    drop(first);

    let second = common::process::start(&args, &[]).await;
    wait(second.endpoint.clone(), "good", "AUTHORIZED").await;
    let bad = wait(second.endpoint.clone(), "bad", "DEAUTHORIZED").await;
    assert!(
        bad["StateReason"]
            .as_str()
            .unwrap()
            .contains("answered 401"),
        "{bad}"
    );
    let eb = common::events::events_as(&second.endpoint, "test", "us-east-1");
    destination_rule(
        &eb,
        &second.endpoint,
        created["ConnectionArn"].as_str().unwrap(),
        &api.base,
        None,
        Target::builder(),
    )
    .await;
    eb.put_events().entries(entry(0)).send().await.unwrap();
    assert_eq!(api.wait_for(1).await, 1);
    assert_eq!(api.get(0).header("authorization"), Some("Bearer tok-2"));
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// AWS deauthorizes an API-key or basic connection when a destination answers 401 or 407:
/// the event goes to the dead-letter queue, later events are refused without a call, until
/// the connection is updated.
#[tokio::test]
async fn refused_api_key_credentials_deauthorize_the_connection() {
    let server = common::server().await;
    let eb = events(&server);
    let sqs = common::sqs(&server);
    let api = Endpoint::start(|_, n| (if n == 0 { 401 } else { 200 }, String::new())).await;
    let connection = api_key_connection(&server, "old").await;
    let (dlq_url, dlq_arn) = queue(&sqs, "dlq").await;
    destination_rule(
        &eb,
        &server.endpoint(),
        &connection,
        &api.base,
        None,
        Target::builder()
            .retry_policy(RetryPolicy::builder().maximum_retry_attempts(5).build())
            .dead_letter_config(DeadLetterConfig::builder().arn(&dlq_arn).build()),
    )
    .await;
    let code = |m: &aws_sdk_sqs::types::Message| {
        m.message_attributes().unwrap()["ERROR_CODE"]
            .string_value()
            .unwrap()
            .to_string()
    };

    // Refused: not retried with the same credentials, dead-lettered, the connection
    // DEAUTHORIZED and its destination INACTIVE.
    eb.put_events().entries(entry(0)).send().await.unwrap();
    let dead = wait_messages(&sqs, &dlq_url, 1).await;
    assert_eq!(
        dead.iter().map(code).collect::<Vec<_>>(),
        ["ERROR_FROM_TARGET"]
    );
    let described = wait_connection(&server, "key", "DEAUTHORIZED").await;
    assert!(
        described["StateReason"].as_str().unwrap().contains("401"),
        "{described}"
    );
    let (_, destination) = call(&server, "DescribeApiDestination", json!({"Name": "api"})).await;
    assert_eq!(destination["ApiDestinationState"], "INACTIVE");
    eb.put_events().entries(entry(1)).send().await.unwrap();
    let dead = wait_messages(&sqs, &dlq_url, 1).await;
    assert_eq!(
        dead.iter().map(code).collect::<Vec<_>>(),
        ["NO_PERMISSIONS"]
    );
    assert_eq!(api.count(), 1, "no call on a deauthorized connection");

    // Updated: authorized again, and the next event goes through with the new key.
    let (status, _) = call(
        &server,
        "UpdateConnection",
        json!({"Name": "key", "AuthParameters": api_key("new")}),
    )
    .await;
    assert_eq!(status, 200);
    wait_connection(&server, "key", "AUTHORIZED").await;
    eb.put_events().entries(entry(2)).send().await.unwrap();
    assert_eq!(api.wait_for(2).await, 2);
    assert_eq!(api.get(1).header("x-api-key"), Some("new"));
    server.stop().await;
}
