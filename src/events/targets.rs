//! A rule's targets: PutTargets (checked as AWS checks them), RemoveTargets, ListTargetsByRule.

use serde_json::Value;

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};

use super::buses::{bus_key, bus_missing};
use super::model::*;
use super::rules::rule_missing;
use super::transform::{InputTransformer, JsonPath};
use super::{page, validation, EventsService, Violations};

/// AWS allows five targets per rule.
const MAX_TARGETS: usize = 5;

impl EventsService {
    pub fn put_targets(
        &self,
        ctx: &RequestContext,
        input: PutTargetsInput,
    ) -> AwsResult<TargetsOutput> {
        let mut v = Violations::default();
        v.name("rule", input.rule.as_deref(), 64);
        v.required("targets", input.targets.as_ref());
        let raw = input.targets.unwrap_or_default();
        if raw.len() > 10 {
            v.invalid(
                "targets",
                format!("[{} targets]", raw.len()),
                "Member must have length less than or equal to 10",
            );
        }
        let mut targets = Vec::with_capacity(raw.len());
        for (i, value) in raw.into_iter().enumerate() {
            let member = format!("targets.{}.member", i + 1);
            let id = value.get("Id").and_then(Value::as_str);
            let arn = value.get("Arn").and_then(Value::as_str);
            v.name(&format!("{member}.id"), id, 64);
            v.required(&format!("{member}.arn"), arn);
            if let (Some(_), Some(_)) = (id, arn) {
                match serde_json::from_value::<Target>(value) {
                    Ok(t) => targets.push(t),
                    Err(e) => {
                        return Err(AwsError::new(
                            &codes::SERIALIZATION,
                            format!("Could not parse request body: {e}"),
                        ))
                    }
                }
            }
        }
        v.check()?;
        for t in &targets {
            check_target(t)?;
        }
        let rule_name = input.rule.unwrap_or_default();
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        let bus_name = bus.name.clone();
        let rule = bus
            .rules
            .get_mut(&rule_name)
            .ok_or_else(|| rule_missing(&rule_name, &bus_name))?;
        let mut merged = (*rule.targets).clone();
        for t in targets {
            match merged.iter_mut().find(|m| m.id == t.id) {
                Some(existing) => *existing = t,
                None => merged.push(t),
            }
        }
        if merged.len() > MAX_TARGETS {
            return Err(AwsError::new(
                &codes::EVENTS_LIMIT_EXCEEDED,
                "The requested resource exceeds the maximum number allowed.",
            ));
        }
        rule.targets = std::sync::Arc::new(merged);
        let rule = rule.clone();
        self.persist_rule(ctx, bus, &rule);
        Ok(TargetsOutput::default())
    }

    pub fn remove_targets(
        &self,
        ctx: &RequestContext,
        input: RemoveTargetsInput,
    ) -> AwsResult<TargetsOutput> {
        let mut v = Violations::default();
        v.name("rule", input.rule.as_deref(), 64)
            .required("ids", input.ids.as_ref())
            .check()?;
        let rule_name = input.rule.unwrap_or_default();
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        let bus_name = bus.name.clone();
        let rule = bus
            .rules
            .get_mut(&rule_name)
            .ok_or_else(|| rule_missing(&rule_name, &bus_name))?;
        let ids = input.ids.unwrap_or_default();
        std::sync::Arc::make_mut(&mut rule.targets).retain(|t| !ids.contains(&t.id));
        let rule = rule.clone();
        self.persist_rule(ctx, bus, &rule);
        Ok(TargetsOutput::default())
    }

    pub fn list_targets_by_rule(
        &self,
        ctx: &RequestContext,
        input: ListTargetsByRuleInput,
    ) -> AwsResult<ListTargetsByRuleOutput> {
        Violations::default()
            .name("rule", input.rule.as_deref(), 64)
            .check()?;
        let rule_name = input.rule.unwrap_or_default();
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let reg = self.state.read();
        let bus = reg.buses.get(&key).ok_or_else(|| bus_missing(&key.2))?;
        let rule = bus
            .rules
            .get(&rule_name)
            .ok_or_else(|| rule_missing(&rule_name, &bus.name))?;
        let (targets, next_token) = page(
            (*rule.targets).clone(),
            input.next_token.as_deref(),
            input.limit,
        )?;
        Ok(ListTargetsByRuleOutput {
            targets,
            next_token,
        })
    }
}

/// What AWS refuses in a target before storing it.
fn check_target(t: &Target) -> AwsResult<()> {
    let inputs = [
        t.input.is_some(),
        t.input_path.is_some(),
        t.input_transformer.is_some(),
    ];
    if inputs.iter().filter(|x| **x).count() > 1 {
        return Err(validation(format!(
            "Only one of Input, InputPath, or InputTransformer must be provided for target {}.",
            t.id
        )));
    }
    if let Some(input) = &t.input {
        if serde_json::from_str::<Value>(input).is_err() {
            return Err(validation(format!(
                "Input for target {} is not a valid JSON text.",
                t.id
            )));
        }
    }
    if let Some(path) = &t.input_path {
        JsonPath::parse(path).map_err(|e| validation(e.message(&t.id)))?;
    }
    if let Some(tr) = &t.input_transformer {
        InputTransformer::new(
            &tr.input_paths_map.clone().unwrap_or_default(),
            &tr.input_template,
        )
        .map_err(|e| validation(e.message(&t.id)))?;
    }
    let is_fifo_queue = t.arn.starts_with("arn:aws:sqs:") && t.arn.ends_with(".fifo");
    let group = t
        .sqs_parameters
        .as_ref()
        .and_then(|p| p.message_group_id.as_ref());
    if is_fifo_queue && group.is_none() {
        return Err(validation(format!(
            "Parameter(s) SqsParameters must be specified for target: {}.",
            t.id
        )));
    }
    if let Some(p) = &t.retry_policy {
        if let Some(n) = p.maximum_retry_attempts {
            if !(0..=185).contains(&n) {
                return Err(validation(format!(
                    "1 validation error detected: Value '{n}' at 'targets.1.member.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 185"
                )));
            }
        }
        if let Some(n) = p.maximum_event_age_in_seconds {
            if !(60..=86_400).contains(&n) {
                return Err(validation(format!(
                    "1 validation error detected: Value '{n}' at 'targets.1.member.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 86400"
                )));
            }
        }
    }
    Ok(())
}
