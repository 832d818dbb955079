//! Event buses (a `default` one per account and region, created on first use), their resource
//! policy (Put/RemovePermission) and tags (of buses and rules).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Empty;

use super::index::RuleIndex;
use super::model::*;
use super::rules::Rule;
use super::{
    arn, epoch_seconds, not_found, page, parse_arn, validation, EventsService, Key, Registry,
    Violations,
};

pub const DEFAULT_BUS: &str = "default";

/// One event bus and its rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bus {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub description: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub dead_letter_config: Option<Value>,
    /// The resource policy, `{"Version", "Statement": […]}`.
    pub policy: Option<Value>,
    pub created_ms: u64,
    pub modified_ms: u64,
    pub tags: BTreeMap<String, String>,
    #[serde(skip)]
    pub rules: BTreeMap<String, Rule>,
    /// The rules' patterns, by rule name, for matching an event without testing each.
    #[serde(skip)]
    pub index: RuleIndex<String>,
    /// Its PutEvents counters for `/metrics`.
    #[serde(skip)]
    pub stats: std::sync::Arc<super::stats::BusStats>,
}

impl Bus {
    pub fn new(account: &str, region: &str, name: &str, now: u64) -> Bus {
        Bus {
            arn: arn(region, account, &format!("event-bus/{name}")),
            name: name.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            description: None,
            kms_key_identifier: None,
            dead_letter_config: None,
            policy: None,
            created_ms: now,
            modified_ms: now,
            tags: BTreeMap::new(),
            rules: BTreeMap::new(),
            index: RuleIndex::new(),
            stats: Default::default(),
        }
    }

    fn describe(&self) -> DescribeEventBusOutput {
        DescribeEventBusOutput {
            name: self.name.clone(),
            arn: self.arn.clone(),
            description: self.description.clone(),
            kms_key_identifier: self.kms_key_identifier.clone(),
            dead_letter_config: self.dead_letter_config.clone(),
            policy: self.policy.as_ref().map(Value::to_string),
            creation_time: Some(epoch_seconds(self.created_ms)),
            last_modified_time: Some(epoch_seconds(self.modified_ms)),
        }
    }
}

/// The bus an `EventBusName` (a name or an ARN, default `default`) designates.
pub fn bus_key(ctx: &RequestContext, name: Option<&str>) -> Key {
    let name = name.filter(|n| !n.is_empty()).unwrap_or(DEFAULT_BUS);
    if let Some((region, account, resource)) = parse_arn(name) {
        if let Some(bus) = resource.strip_prefix("event-bus/") {
            return (account.to_string(), region.to_string(), bus.to_string());
        }
    }
    (ctx.account.clone(), ctx.region.clone(), name.to_string())
}

pub fn bus_missing(name: &str) -> AwsError {
    not_found(format!("Event bus {name} does not exist."))
}

impl EventsService {
    /// Makes sure the account's `default` bus exists in the region (every account has one).
    pub fn ensure_default_bus(&self, ctx: &RequestContext, account: &str, region: &str) {
        let key = (
            account.to_string(),
            region.to_string(),
            DEFAULT_BUS.to_string(),
        );
        if self.state.read().buses.contains_key(&key) {
            return;
        }
        let mut reg = self.state.write();
        if let std::collections::btree_map::Entry::Vacant(slot) = reg.buses.entry(key) {
            let bus = Bus::new(account, region, DEFAULT_BUS, self.now_ms());
            self.persist_bus(ctx, &bus);
            slot.insert(bus);
        }
    }

    pub fn create_event_bus(
        &self,
        ctx: &RequestContext,
        input: CreateEventBusInput,
    ) -> AwsResult<CreateEventBusOutput> {
        let name = input.name.as_deref();
        let mut v = Violations::default();
        v.required("name", name);
        if let Some(n) = name {
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
            {
                v.invalid(
                    "name",
                    n,
                    "Member must satisfy regular expression pattern: [/\\.\\-_A-Za-z0-9]+",
                );
            }
            if n.chars().count() > 256 {
                v.invalid(
                    "name",
                    n,
                    "Member must have length less than or equal to 256",
                );
            }
        }
        v.check()?;
        let name = name.unwrap_or_default();
        let key = (ctx.account.clone(), ctx.region.clone(), name.to_string());
        let mut reg = self.state.write();
        if reg.buses.contains_key(&key) {
            return Err(AwsError::new(
                &codes::EVENTS_ALREADY_EXISTS,
                format!("Event bus {name} already exists."),
            ));
        }
        let mut bus = Bus::new(&ctx.account, &ctx.region, name, self.now_ms());
        bus.description = input.description.clone();
        bus.kms_key_identifier = input.kms_key_identifier.clone();
        bus.dead_letter_config = input.dead_letter_config.clone();
        for t in input.tags.unwrap_or_default() {
            bus.tags.insert(t.key, t.value);
        }
        self.persist_bus(ctx, &bus);
        let output = CreateEventBusOutput {
            event_bus_arn: bus.arn.clone(),
            description: bus.description.clone(),
            kms_key_identifier: bus.kms_key_identifier.clone(),
            dead_letter_config: bus.dead_letter_config.clone(),
        };
        reg.buses.insert(key, bus);
        Ok(output)
    }

    pub fn describe_event_bus(
        &self,
        ctx: &RequestContext,
        input: NameInput,
    ) -> AwsResult<DescribeEventBusOutput> {
        let key = bus_key(ctx, input.name.as_deref());
        let reg = self.state.read();
        let bus = reg.buses.get(&key).ok_or_else(|| bus_missing(&key.2))?;
        Ok(bus.describe())
    }

    pub fn update_event_bus(
        &self,
        ctx: &RequestContext,
        input: UpdateEventBusInput,
    ) -> AwsResult<DescribeEventBusOutput> {
        let key = bus_key(ctx, input.name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        if input.description.is_some() {
            bus.description = input.description;
        }
        if input.kms_key_identifier.is_some() {
            bus.kms_key_identifier = input.kms_key_identifier;
        }
        if input.dead_letter_config.is_some() {
            bus.dead_letter_config = input.dead_letter_config;
        }
        bus.modified_ms = self.now_ms();
        let out = bus.describe();
        self.persist_bus(ctx, bus);
        Ok(out)
    }

    pub fn delete_event_bus(&self, ctx: &RequestContext, input: NameInput) -> AwsResult<Empty> {
        let mut v = Violations::default();
        v.required("name", input.name.as_ref()).check()?;
        let key = bus_key(ctx, input.name.as_deref());
        if key.2 == DEFAULT_BUS {
            return Err(validation("Cannot delete event bus default."));
        }
        let mut reg = self.state.write();
        // Deleting a bus that does not exist succeeds (AWS-recorded).
        if let Some(bus) = reg.buses.remove(&key) {
            for rule in bus.rules.values() {
                self.forget_rule(ctx, &bus, &rule.name);
            }
            self.forget_bus(ctx, &bus);
        }
        Ok(Empty {})
    }

    pub fn list_event_buses(
        &self,
        ctx: &RequestContext,
        input: ListInput,
    ) -> AwsResult<ListEventBusesOutput> {
        let reg = self.state.read();
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        let buses: Vec<_> = reg
            .buses
            .iter()
            .filter(|((a, r, n), _)| *a == ctx.account && *r == ctx.region && n.starts_with(prefix))
            .map(|(_, b)| b.describe())
            .collect();
        let (event_buses, next_token) = page(buses, input.next_token.as_deref(), input.limit)?;
        Ok(ListEventBusesOutput {
            event_buses,
            next_token,
        })
    }

    pub fn put_permission(
        &self,
        ctx: &RequestContext,
        input: PutPermissionInput,
    ) -> AwsResult<Empty> {
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        if let Some(policy) = input.policy.as_deref() {
            let parsed: Value = serde_json::from_str(policy)
                .map_err(|_| validation("Policy is not a valid JSON document."))?;
            bus.policy = Some(parsed);
        } else {
            let mut v = Violations::default();
            v.required("statementId", input.statement_id.as_ref())
                .required("principal", input.principal.as_ref())
                .required("action", input.action.as_ref())
                .check()?;
            let principal = input.principal.unwrap_or_default();
            let principal = if principal == "*" {
                json!("*")
            } else {
                json!({"AWS": format!("arn:aws:iam::{principal}:root")})
            };
            let mut statement = json!({
                "Sid": input.statement_id,
                "Effect": "Allow",
                "Principal": principal,
                "Action": input.action,
                "Resource": bus.arn,
            });
            if let Some(c) = input.condition {
                statement["Condition"] = json!({
                    "StringEquals": {
                        c.get("Key").and_then(Value::as_str).unwrap_or("aws:PrincipalOrgID"):
                            c.get("Value").cloned().unwrap_or(Value::Null)
                    }
                });
            }
            let policy = bus
                .policy
                .get_or_insert_with(|| json!({"Version": "2012-10-17", "Statement": []}));
            if let Some(list) = policy.get_mut("Statement").and_then(Value::as_array_mut) {
                list.retain(|s| s.get("Sid") != statement.get("Sid"));
                list.push(statement);
            }
        }
        bus.modified_ms = self.now_ms();
        self.persist_bus(ctx, bus);
        Ok(Empty {})
    }

    pub fn remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionInput,
    ) -> AwsResult<Empty> {
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        if input.remove_all_permissions {
            bus.policy = None;
        } else {
            let missing = || not_found("Statement with the provided id does not exist.");
            let sid = input.statement_id.as_deref().ok_or_else(missing)?;
            let list = bus
                .policy
                .as_mut()
                .and_then(|p| p.get_mut("Statement"))
                .and_then(Value::as_array_mut)
                .ok_or_else(missing)?;
            let before = list.len();
            list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
            if list.len() == before {
                return Err(missing());
            }
            if list.is_empty() {
                bus.policy = None;
            }
        }
        bus.modified_ms = self.now_ms();
        self.persist_bus(ctx, bus);
        Ok(Empty {})
    }

    pub fn tag_resource(&self, ctx: &RequestContext, input: TagResourceInput) -> AwsResult<Empty> {
        let mut v = Violations::default();
        v.required("resourceARN", input.resource_arn.as_ref())
            .required("tags", input.tags.as_ref())
            .check()?;
        let arn = input.resource_arn.unwrap_or_default();
        let mut reg = self.state.write();
        let tags = tags_of(&mut reg, &arn)?;
        for t in input.tags.unwrap_or_default() {
            tags.insert(t.key, t.value);
        }
        self.persist_tagged(ctx, &reg, &arn);
        Ok(Empty {})
    }

    pub fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceInput,
    ) -> AwsResult<Empty> {
        let mut v = Violations::default();
        v.required("resourceARN", input.resource_arn.as_ref())
            .required("tagKeys", input.tag_keys.as_ref())
            .check()?;
        let arn = input.resource_arn.unwrap_or_default();
        let mut reg = self.state.write();
        let tags = tags_of(&mut reg, &arn)?;
        for k in input.tag_keys.unwrap_or_default() {
            tags.remove(&k);
        }
        self.persist_tagged(ctx, &reg, &arn);
        Ok(Empty {})
    }

    pub fn list_tags_for_resource(
        &self,
        _ctx: &RequestContext,
        input: ResourceInput,
    ) -> AwsResult<TagsOutput> {
        let mut v = Violations::default();
        v.required("resourceARN", input.resource_arn.as_ref())
            .check()?;
        let arn = input.resource_arn.unwrap_or_default();
        let mut reg = self.state.write();
        let tags = tags_of(&mut reg, &arn)?;
        Ok(TagsOutput {
            tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        })
    }

    /// Writes the bus or rule an ARN names (after a tag change).
    fn persist_tagged(&self, ctx: &RequestContext, reg: &Registry, arn: &str) {
        let Some((bus_key, rule)) = resource_of(arn) else {
            return;
        };
        let Some(bus) = reg.buses.get(&bus_key) else {
            return;
        };
        match rule {
            None => self.persist_bus(ctx, bus),
            Some(r) => {
                if let Some(rule) = bus.rules.get(&r) {
                    self.persist_rule(ctx, bus, rule);
                }
            }
        }
    }
}

/// The bus (and rule, if any) an ARN names: `event-bus/B`, `rule/R` (default bus), `rule/B/R`.
fn resource_of(arn: &str) -> Option<(Key, Option<String>)> {
    let (region, account, resource) = parse_arn(arn)?;
    let key = |bus: &str| (account.to_string(), region.to_string(), bus.to_string());
    if let Some(bus) = resource.strip_prefix("event-bus/") {
        return Some((key(bus), None));
    }
    let rule = resource.strip_prefix("rule/")?;
    Some(match rule.rsplit_once('/') {
        Some((bus, name)) => (key(bus), Some(name.to_string())),
        None => (key(super::buses::DEFAULT_BUS), Some(rule.to_string())),
    })
}

fn tags_of<'a>(reg: &'a mut Registry, arn: &str) -> AwsResult<&'a mut BTreeMap<String, String>> {
    let Some((key, rule)) = resource_of(arn) else {
        return Err(validation(format!(
            "1 validation error detected: Value '{arn}' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[\\w-]*:events:[a-z]{{2}}-[a-z]+-[\\w-]+:[0-9]{{12}}:.+"
        )));
    };
    let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
    match rule {
        None => Ok(&mut bus.tags),
        Some(r) => {
            let bus_name = bus.name.clone();
            bus.rules
                .get_mut(&r)
                .map(|rule| &mut rule.tags)
                .ok_or_else(|| super::rules::rule_missing(&r, &bus_name))
        }
    }
}
