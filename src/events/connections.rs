//! Connections (how to authorise calls: API key, basic, OAuth client credentials) and API
//! destinations (an HTTP endpoint reached through a connection).
//!
//! API key and basic connections are AUTHORIZED when created. An OAuth connection is
//! AUTHORIZING until its authorization endpoint gives a token (AUTHORIZED), or refuses
//! (DEAUTHORIZED, with the reason in `StateReason`). An API-key or basic connection whose
//! credentials a destination refuses (401, 407) is DEAUTHORIZED too, as AWS documents.
//! Updating a connection authorizes it again. An API
//! destination is ACTIVE while its connection is AUTHORIZED, INACTIVE otherwise (as AWS records
//! for one whose OAuth connection never authorized).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Empty;

use super::model::*;
use super::oauth::{key_values, TokenRequest};
use super::{arn, epoch_seconds, not_found, page, EventsService, Key, Violations};

const AUTH_TYPES: &str = "[BASIC, OAUTH_CLIENT_CREDENTIALS, API_KEY]";
const METHODS: &str = "[HEAD, POST, PATCH, DELETE, PUT, GET, OPTIONS]";
const OAUTH: &str = "OAUTH_CLIENT_CREDENTIALS";
const AUTHORIZED: &str = "AUTHORIZED";
const AUTHORIZING: &str = "AUTHORIZING";
const DEAUTHORIZED: &str = "DEAUTHORIZED";

fn authorized_state() -> String {
    AUTHORIZED.into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connection {
    pub name: String,
    pub arn: String,
    pub secret_arn: String,
    pub description: Option<String>,
    pub authorization_type: String,
    /// As given, secrets included (they authorise the calls; Describe leaves them out).
    pub auth_parameters: Value,
    pub created_ms: u64,
    pub modified_ms: u64,
    /// AUTHORIZED, AUTHORIZING or DEAUTHORIZED (records from before states were kept are
    /// AUTHORIZED, as they were reported).
    #[serde(default = "authorized_state")]
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_ms: Option<u64>,
}

impl Connection {
    pub fn is_oauth(&self) -> bool {
        self.authorization_type == OAUTH
    }

    /// An OAuth connection waiting for its first token.
    pub fn authorizing(&self) -> bool {
        self.state == AUTHORIZING
    }

    /// Why the connection is deauthorized, if it is.
    pub fn deauthorized(&self) -> Option<&str> {
        (self.state == DEAUTHORIZED).then(|| self.state_reason.as_deref().unwrap_or(""))
    }

    /// Authorized (API key, basic) or authorizing (OAuth) after a create or update.
    fn reset_state(&mut self, now: u64) {
        self.state_reason = None;
        if self.is_oauth() {
            self.state = AUTHORIZING.into();
        } else {
            self.state = AUTHORIZED.into();
            self.authorized_ms = Some(now);
        }
    }

    /// The headers that authorise a call.
    pub fn auth_headers(&self) -> Vec<(String, String)> {
        use base64::{engine::general_purpose::STANDARD, Engine};
        let p = &self.auth_parameters;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        match self.authorization_type.as_str() {
            "API_KEY" => {
                let a = &p["ApiKeyAuthParameters"];
                vec![(s(a, "ApiKeyName").to_ascii_lowercase(), s(a, "ApiKeyValue"))]
            }
            "BASIC" => {
                let b = &p["BasicAuthParameters"];
                let credentials = format!("{}:{}", s(b, "Username"), s(b, "Password"));
                vec![(
                    "authorization".into(),
                    format!("Basic {}", STANDARD.encode(credentials)),
                )]
            }
            // OAuth: the bearer token is added to each attempt (`delivery.rs`).
            _ => Vec::new(),
        }
    }

    fn invocation_list(&self, member: &str) -> Vec<(String, String)> {
        key_values(&self.auth_parameters["InvocationHttpParameters"][member])
    }

    pub fn invocation_headers(&self) -> Vec<(String, String)> {
        self.invocation_list("HeaderParameters")
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    }

    pub fn invocation_query(&self) -> Vec<(String, String)> {
        self.invocation_list("QueryStringParameters")
    }

    /// The auth parameters without their secrets, as Describe shows them.
    fn public_parameters(&self) -> Value {
        let p = &self.auth_parameters;
        let mut out = json!({});
        if let Some(a) = p.get("ApiKeyAuthParameters") {
            out["ApiKeyAuthParameters"] = json!({"ApiKeyName": a.get("ApiKeyName")});
        }
        if let Some(b) = p.get("BasicAuthParameters") {
            out["BasicAuthParameters"] = json!({"Username": b.get("Username")});
        }
        if let Some(o) = p.get("OAuthParameters") {
            let mut oauth = o.clone();
            if let Some(c) = oauth
                .get_mut("ClientParameters")
                .and_then(Value::as_object_mut)
            {
                c.remove("ClientSecret");
            }
            out["OAuthParameters"] = oauth;
        }
        if let Some(i) = p.get("InvocationHttpParameters") {
            out["InvocationHttpParameters"] = i.clone();
        }
        out
    }

    fn state(&self) -> ConnectionStateOutput {
        ConnectionStateOutput {
            connection_arn: self.arn.clone(),
            connection_state: self.state.clone(),
            creation_time: epoch_seconds(self.created_ms),
            last_modified_time: epoch_seconds(self.modified_ms),
            last_authorized_time: None,
        }
    }

    fn describe(&self) -> DescribeConnectionOutput {
        DescribeConnectionOutput {
            connection_arn: self.arn.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            connection_state: self.state.clone(),
            state_reason: self.state_reason.clone(),
            authorization_type: self.authorization_type.clone(),
            secret_arn: Some(self.secret_arn.clone()),
            auth_parameters: Some(self.public_parameters()),
            creation_time: epoch_seconds(self.created_ms),
            last_modified_time: epoch_seconds(self.modified_ms),
            last_authorized_time: epoch_seconds(self.authorized_ms.unwrap_or(self.modified_ms)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiDestination {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub connection_arn: String,
    pub endpoint: String,
    pub http_method: String,
    pub rate_limit: i64,
    pub created_ms: u64,
    pub modified_ms: u64,
}

impl ApiDestination {
    /// The ARN without its id: `…:api-destination/<name>`.
    pub fn arn_prefix(&self) -> &str {
        self.arn.rsplit_once('/').map_or(&self.arn, |(p, _)| p)
    }

    fn state(&self, active: bool) -> ApiDestinationStateOutput {
        ApiDestinationStateOutput {
            api_destination_arn: self.arn.clone(),
            api_destination_state: destination_state(active),
            creation_time: epoch_seconds(self.created_ms),
            last_modified_time: epoch_seconds(self.modified_ms),
        }
    }

    fn describe(&self, active: bool) -> DescribeApiDestinationOutput {
        DescribeApiDestinationOutput {
            api_destination_arn: self.arn.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            api_destination_state: destination_state(active),
            connection_arn: self.connection_arn.clone(),
            invocation_endpoint: self.endpoint.clone(),
            http_method: self.http_method.clone(),
            invocation_rate_limit_per_second: self.rate_limit,
            creation_time: epoch_seconds(self.created_ms),
            last_modified_time: epoch_seconds(self.modified_ms),
        }
    }
}

fn destination_state(active: bool) -> String {
    if active { "ACTIVE" } else { "INACTIVE" }.into()
}

/// Whether a destination's connection is AUTHORIZED.
fn connection_authorized(reg: &super::Registry, connection_arn: &str) -> bool {
    reg.connections
        .values()
        .any(|c| c.arn == connection_arn && c.state == AUTHORIZED)
}

fn key(ctx: &RequestContext, name: &str) -> Key {
    (ctx.account.clone(), ctx.region.clone(), name.to_string())
}

fn connection_missing(action: &str, name: &str) -> AwsError {
    not_found(format!(
        "Failed to {action} the connection(s). Connection '{name}' does not exist."
    ))
}

fn destination_missing(action: &str, name: &str) -> AwsError {
    not_found(format!(
        "Failed to {action} the api-destination(s). An api-destination '{name}' does not exist."
    ))
}

fn check_connection(input: &ConnectionInput, creating: bool) -> AwsResult<()> {
    let mut v = Violations::default();
    v.name("name", input.name.as_deref(), 64);
    if let Some(t) = input.authorization_type.as_deref() {
        if !matches!(t, "BASIC" | "OAUTH_CLIENT_CREDENTIALS" | "API_KEY") {
            v.invalid(
                "authorizationType",
                t,
                &format!("Member must satisfy enum value set: {AUTH_TYPES}"),
            );
        }
    } else if creating {
        v.required::<()>("authorizationType", None);
    }
    if creating {
        v.required("authParameters", input.auth_parameters.as_ref());
    }
    v.check()
}

impl EventsService {
    pub fn create_connection(
        &self,
        ctx: &RequestContext,
        input: ConnectionInput,
    ) -> AwsResult<ConnectionStateOutput> {
        check_connection(&input, true)?;
        let name = input.name.unwrap_or_default();
        let mut reg = self.state.write();
        let k = key(ctx, &name);
        if reg.connections.contains_key(&k) {
            return Err(AwsError::new(
                &codes::EVENTS_ALREADY_EXISTS,
                format!("Connection {name} already exists."),
            ));
        }
        let now = self.now_ms();
        let id = uuid::Uuid::new_v4().to_string();
        let mut connection = Connection {
            arn: arn(
                &ctx.region,
                &ctx.account,
                &format!("connection/{name}/{id}"),
            ),
            secret_arn: format!(
                "arn:aws:secretsmanager:{}:{}:secret:events!connection/{name}/{id}",
                ctx.region, ctx.account
            ),
            name,
            description: input.description,
            authorization_type: input.authorization_type.unwrap_or_default(),
            auth_parameters: input.auth_parameters.unwrap_or(Value::Null),
            created_ms: now,
            modified_ms: now,
            state: AUTHORIZING.into(),
            state_reason: None,
            authorized_ms: None,
        };
        connection.reset_state(now);
        self.persist_connection(ctx, &connection);
        let out = connection.state();
        if connection.is_oauth() {
            self.authorize(&connection);
        }
        reg.connections.insert(k, connection);
        Ok(out)
    }

    /// Asks an OAuth connection's authorization endpoint for a token in the background (once
    /// the service is started; at start-up, `start` asks for those still AUTHORIZING).
    pub(super) fn authorize(&self, connection: &Connection) {
        let Some(service) = self.me.get().cloned() else {
            return;
        };
        let request = TokenRequest::from_auth_parameters(&connection.auth_parameters);
        let arn = connection.arn.clone();
        let client = self.delivery.http.clone();
        let tokens = self.delivery.tokens.clone();
        let clock = self.clock.clone();
        tokens.forget(&arn);
        tokio::spawn(async move {
            let fetched = request.fetch(&client, clock.now_ms()).await;
            if let Ok(token) = &fetched {
                tokens.put(&arn, token.clone());
            }
            if let Some(service) = service.upgrade() {
                service.authorized(&arn, fetched.map(|_| ()));
            }
        });
    }

    /// The outcome of an OAuth connection's token request, or of credentials a destination
    /// refused: AUTHORIZED, or DEAUTHORIZED with the reason.
    pub(super) fn authorized(&self, connection_arn: &str, outcome: Result<(), String>) {
        let now = self.now_ms();
        let mut reg = self.state.write();
        let Some(((account, region, _), c)) = reg
            .connections
            .iter_mut()
            .find(|(_, c)| c.arn == connection_arn)
        else {
            return;
        };
        match outcome {
            Ok(()) => {
                c.state = AUTHORIZED.into();
                c.state_reason = None;
                c.authorized_ms = Some(now);
            }
            Err(reason) => {
                c.state = DEAUTHORIZED.into();
                c.state_reason = Some(reason);
            }
        }
        let ctx = RequestContext::internal(account, region, "");
        let c = c.clone();
        self.persist_connection(&ctx, &c);
    }

    pub fn describe_connection(
        &self,
        ctx: &RequestContext,
        input: NameInput,
    ) -> AwsResult<DescribeConnectionOutput> {
        let name = input.name.unwrap_or_default();
        let reg = self.state.read();
        reg.connections
            .get(&key(ctx, &name))
            .map(Connection::describe)
            .ok_or_else(|| connection_missing("describe", &name))
    }

    pub fn update_connection(
        &self,
        ctx: &RequestContext,
        input: ConnectionInput,
    ) -> AwsResult<ConnectionStateOutput> {
        check_connection(&input, false)?;
        let name = input.name.clone().unwrap_or_default();
        let mut reg = self.state.write();
        let c = reg
            .connections
            .get_mut(&key(ctx, &name))
            .ok_or_else(|| connection_missing("update", &name))?;
        if input.description.is_some() {
            c.description = input.description;
        }
        if let Some(t) = input.authorization_type {
            c.authorization_type = t;
        }
        if let Some(p) = input.auth_parameters {
            c.auth_parameters = p;
        }
        c.modified_ms = self.now_ms();
        c.reset_state(c.modified_ms);
        let c = c.clone();
        self.persist_connection(ctx, &c);
        if c.is_oauth() {
            self.authorize(&c);
        }
        let mut out = c.state();
        out.last_authorized_time = Some(epoch_seconds(c.authorized_ms.unwrap_or(c.modified_ms)));
        Ok(out)
    }

    pub fn delete_connection(
        &self,
        ctx: &RequestContext,
        input: NameInput,
    ) -> AwsResult<ConnectionStateOutput> {
        let name = input.name.unwrap_or_default();
        let mut reg = self.state.write();
        let c = reg
            .connections
            .remove(&key(ctx, &name))
            .ok_or_else(|| connection_missing("delete", &name))?;
        self.forget(ctx, "connection", &ctx.account, &ctx.region, &name);
        self.delivery.tokens.forget(&c.arn);
        let mut out = c.state();
        out.connection_state = "DELETING".into();
        out.last_authorized_time = Some(epoch_seconds(c.authorized_ms.unwrap_or(c.modified_ms)));
        Ok(out)
    }

    pub fn list_connections(
        &self,
        ctx: &RequestContext,
        input: ListInput,
    ) -> AwsResult<ListConnectionsOutput> {
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        let reg = self.state.read();
        let all: Vec<_> = reg
            .connections
            .iter()
            .filter(|((a, r, n), _)| *a == ctx.account && *r == ctx.region && n.starts_with(prefix))
            .map(|(_, c)| {
                let mut d = c.describe();
                d.auth_parameters = None;
                d.secret_arn = None;
                d
            })
            .collect();
        let (connections, next_token) = page(all, input.next_token.as_deref(), input.limit)?;
        Ok(ListConnectionsOutput {
            connections,
            next_token,
        })
    }

    pub fn create_api_destination(
        &self,
        ctx: &RequestContext,
        input: ApiDestinationInput,
    ) -> AwsResult<ApiDestinationStateOutput> {
        check_destination(&input, true)?;
        let name = input.name.unwrap_or_default();
        let connection_arn = input.connection_arn.unwrap_or_default();
        let mut reg = self.state.write();
        let k = key(ctx, &name);
        if reg.destinations.contains_key(&k) {
            return Err(AwsError::new(
                &codes::EVENTS_ALREADY_EXISTS,
                format!("An api-destination '{name}' already exists."),
            ));
        }
        if !reg.connections.values().any(|c| c.arn == connection_arn) {
            return Err(not_found(format!(
                "Connection '{}' does not exist.",
                connection_arn.rsplit('/').nth(1).unwrap_or(&connection_arn)
            )));
        }
        let now = self.now_ms();
        let id = uuid::Uuid::new_v4().to_string();
        let destination = ApiDestination {
            arn: arn(
                &ctx.region,
                &ctx.account,
                &format!("api-destination/{name}/{id}"),
            ),
            name,
            description: input.description,
            connection_arn,
            endpoint: input.invocation_endpoint.unwrap_or_default(),
            http_method: input.http_method.unwrap_or_default(),
            rate_limit: input.invocation_rate_limit_per_second.unwrap_or(300),
            created_ms: now,
            modified_ms: now,
        };
        self.persist_destination(ctx, &destination);
        let out = destination.state(connection_authorized(&reg, &destination.connection_arn));
        reg.destinations.insert(k, destination);
        Ok(out)
    }

    pub fn describe_api_destination(
        &self,
        ctx: &RequestContext,
        input: NameInput,
    ) -> AwsResult<DescribeApiDestinationOutput> {
        let name = input.name.unwrap_or_default();
        let reg = self.state.read();
        reg.destinations
            .get(&key(ctx, &name))
            .map(|d| d.describe(connection_authorized(&reg, &d.connection_arn)))
            .ok_or_else(|| destination_missing("describe", &name))
    }

    pub fn update_api_destination(
        &self,
        ctx: &RequestContext,
        input: ApiDestinationInput,
    ) -> AwsResult<ApiDestinationStateOutput> {
        check_destination(&input, false)?;
        let name = input.name.clone().unwrap_or_default();
        let mut reg = self.state.write();
        let d = reg
            .destinations
            .get_mut(&key(ctx, &name))
            .ok_or_else(|| destination_missing("update", &name))?;
        if input.description.is_some() {
            d.description = input.description;
        }
        if let Some(c) = input.connection_arn {
            d.connection_arn = c;
        }
        if let Some(e) = input.invocation_endpoint {
            d.endpoint = e;
        }
        if let Some(m) = input.http_method {
            d.http_method = m;
        }
        if let Some(r) = input.invocation_rate_limit_per_second {
            d.rate_limit = r;
        }
        d.modified_ms = self.now_ms();
        let d = d.clone();
        self.persist_destination(ctx, &d);
        Ok(d.state(connection_authorized(&reg, &d.connection_arn)))
    }

    pub fn delete_api_destination(
        &self,
        ctx: &RequestContext,
        input: NameInput,
    ) -> AwsResult<Empty> {
        let name = input.name.unwrap_or_default();
        let mut reg = self.state.write();
        let d = reg
            .destinations
            .remove(&key(ctx, &name))
            .ok_or_else(|| destination_missing("delete", &name))?;
        self.delivery.limits.forget(&d.arn);
        self.forget(ctx, "destination", &ctx.account, &ctx.region, &name);
        Ok(Empty {})
    }

    pub fn list_api_destinations(
        &self,
        ctx: &RequestContext,
        input: ListInput,
    ) -> AwsResult<ListApiDestinationsOutput> {
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        let reg = self.state.read();
        let all: Vec<_> = reg
            .destinations
            .iter()
            .filter(|((a, r, n), d)| {
                *a == ctx.account
                    && *r == ctx.region
                    && n.starts_with(prefix)
                    && input
                        .connection_arn
                        .as_ref()
                        .is_none_or(|c| *c == d.connection_arn)
            })
            .map(|(_, d)| d.describe(connection_authorized(&reg, &d.connection_arn)))
            .collect();
        let (api_destinations, next_token) = page(all, input.next_token.as_deref(), input.limit)?;
        Ok(ListApiDestinationsOutput {
            api_destinations,
            next_token,
        })
    }
}

fn check_destination(input: &ApiDestinationInput, creating: bool) -> AwsResult<()> {
    let mut v = Violations::default();
    v.name("name", input.name.as_deref(), 64);
    if let Some(c) = input.connection_arn.as_deref() {
        let ok = super::parse_arn(c).is_some_and(|(_, _, r)| {
            r.strip_prefix("connection/")
                .is_some_and(|rest| rest.split('/').count() == 2)
        });
        if !ok {
            v.invalid("connectionArn", c, "Member must satisfy regular expression pattern: ^arn:aws([a-z]|\\-)*:events:([a-z]|\\d|\\-)*:([0-9]{12})?:connection\\/[\\.\\-_A-Za-z0-9]+\\/[\\-A-Za-z0-9]+$");
        }
    } else if creating {
        v.required::<()>("connectionArn", None);
    }
    if let Some(m) = input.http_method.as_deref() {
        if !matches!(
            m,
            "HEAD" | "POST" | "PATCH" | "DELETE" | "PUT" | "GET" | "OPTIONS"
        ) {
            v.invalid(
                "httpMethod",
                m,
                &format!("Member must satisfy enum value set: {METHODS}"),
            );
        }
    } else if creating {
        v.required::<()>("httpMethod", None);
    }
    if creating {
        v.required("invocationEndpoint", input.invocation_endpoint.as_ref());
    }
    v.check()
}
