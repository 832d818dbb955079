//! OAuth client credentials for connections (`OAUTH_CLIENT_CREDENTIALS`): the token request
//! EventBridge makes to the connection's `AuthorizationEndpoint`, and the tokens it keeps.
//!
//! The request uses the connection's `HttpMethod`, the client id and secret as HTTP Basic
//! auth, and the `OAuthHttpParameters`: query string parameters on the endpoint's URL, header
//! parameters as headers, body parameters form-encoded in the body. The answer must be 2xx
//! JSON with an `access_token` (`expires_in` seconds, when given, bounds how long it is used).
//! A token is kept per connection until it expires, or until the destination answers 401 or
//! 407 (then the next attempt asks for a new one, as AWS's retries do).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use parking_lot::Mutex;
use serde_json::Value;

use super::delivery::HttpClient;

/// The authorization endpoint must answer within this long.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// A token is renewed this long before it expires (AWS refreshes "if the token is about to
/// expire").
const EARLY_MS: u64 = 5_000;

/// The token request a connection's `OAuthParameters` describe.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    endpoint: String,
    method: String,
    client_id: String,
    client_secret: String,
    body: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

/// `[{"Key": k, "Value": v}, …]` (a connection's HTTP parameters) as pairs.
pub fn key_values(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            Some((
                kv.get("Key")?.as_str()?.to_string(),
                kv.get("Value")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

impl TokenRequest {
    /// From a connection's `AuthParameters` (as given, secret included).
    pub fn from_auth_parameters(auth: &Value) -> TokenRequest {
        let o = &auth["OAuthParameters"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let http = &o["OAuthHttpParameters"];
        TokenRequest {
            endpoint: s(&o["AuthorizationEndpoint"]),
            method: s(&o["HttpMethod"]).to_ascii_uppercase(),
            client_id: s(&o["ClientParameters"]["ClientID"]),
            client_secret: s(&o["ClientParameters"]["ClientSecret"]),
            body: key_values(&http["BodyParameters"]),
            query: key_values(&http["QueryStringParameters"]),
            headers: key_values(&http["HeaderParameters"]),
        }
    }

    /// Asks the authorization endpoint for a token; `Err` says why none came (a connection's
    /// `StateReason`).
    pub async fn fetch(&self, client: &HttpClient, now_ms: u64) -> Result<Token, String> {
        use base64::{engine::general_purpose::STANDARD, Engine};
        let mut url = self.endpoint.clone();
        if !self.query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&serde_urlencoded::to_string(&self.query).unwrap_or_default());
        }
        let method = http::Method::from_bytes(self.method.as_bytes()).unwrap_or(http::Method::POST);
        let credentials = format!("{}:{}", self.client_id, self.client_secret);
        let mut request = http::Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(
                "authorization",
                format!("Basic {}", STANDARD.encode(credentials)),
            )
            .header("accept", "application/json")
            .header("user-agent", "Amazon/EventBridge/ApiDestinations");
        let body = serde_urlencoded::to_string(&self.body).unwrap_or_default();
        if !self.body.is_empty() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        for (k, v) in &self.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("Invalid authorization endpoint {}: {e}", self.endpoint))?;
        let answer = tokio::time::timeout(TIMEOUT, async {
            let response = client.request(request).await.map_err(|e| {
                format!(
                    "Could not reach the authorization endpoint {}: {e}",
                    self.endpoint
                )
            })?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, String>((status, body))
        })
        .await
        .map_err(|_| {
            format!(
                "The authorization endpoint {} did not answer in time.",
                self.endpoint
            )
        })??;
        let (status, body) = answer;
        if !(200..300).contains(&status) {
            return Err(format!(
                "The authorization endpoint {} answered {status}.",
                self.endpoint
            ));
        }
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(access_token) = json["access_token"].as_str().filter(|t| !t.is_empty()) else {
            return Err(format!(
                "The authorization endpoint {} answered without an access_token.",
                self.endpoint
            ));
        };
        let expires_ms = json["expires_in"]
            .as_u64()
            .or_else(|| json["expires_in"].as_str()?.parse().ok())
            .map(|s| now_ms.saturating_add(s.saturating_mul(1000)));
        Ok(Token {
            access_token: access_token.to_string(),
            expires_ms,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub access_token: String,
    /// When it stops being used (service clock); none: until the destination refuses it.
    pub expires_ms: Option<u64>,
}

/// The tokens in use, by connection ARN (in memory: after a restart, the first call asks for
/// a new one).
#[derive(Debug, Default)]
pub struct Tokens(Mutex<HashMap<String, Token>>);

impl Tokens {
    /// The connection's token, unless it has expired (or is about to).
    pub fn get(&self, connection_arn: &str, now_ms: u64) -> Option<String> {
        let tokens = self.0.lock();
        let token = tokens.get(connection_arn)?;
        match token.expires_ms {
            Some(at) if now_ms.saturating_add(EARLY_MS) >= at => None,
            _ => Some(token.access_token.clone()),
        }
    }

    pub fn put(&self, connection_arn: &str, token: Token) {
        self.0.lock().insert(connection_arn.to_string(), token);
    }

    pub fn forget(&self, connection_arn: &str) {
        self.0.lock().remove(connection_arn);
    }
}
