//! Asynchronous invocation settings: Put/Update/Get/Delete/ListFunctionEventInvokeConfigs.
//! MaximumRetryAttempts (0–2), MaximumEventAgeInSeconds (60–21,600) and the OnSuccess /
//! OnFailure destinations (SQS queue, SNS topic, Lambda function, EventBridge bus), kept per
//! function (`$LATEST`, the only version lyrebird has) in the store and read by every
//! asynchronous invocation when it decides (`async_invoke.rs`). Errors and wordings are AWS's
//! recorded ones.

use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Empty;
use crate::store::{Change, Space};

use super::destinations::service_of;
use super::function::{self, FunctionId};
use super::model::{
    DestinationConfig, EventInvokeConfigInput, FunctionEventInvokeConfig, FunctionRef,
    ListEventInvokeConfigsInput, ListFunctionEventInvokeConfigsOutput, OnOutcome,
};
use super::LambdaService;

/// Lambda's defaults: two retries, events kept up to six hours.
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_MAX_AGE_S: u32 = 21_600;
const RETRIES: std::ops::RangeInclusive<i64> = 0..=2;
const MAX_AGE: std::ops::RangeInclusive<i64> = 60..=21_600;

/// One function's asynchronous invocation settings, as kept in the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    #[serde(default)]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(default)]
    pub maximum_event_age_in_seconds: Option<u32>,
    #[serde(default)]
    pub on_success: Option<String>,
    #[serde(default)]
    pub on_failure: Option<String>,
    pub last_modified_ms: u64,
}

impl EventInvokeConfig {
    pub fn retries(&self) -> u32 {
        self.maximum_retry_attempts.unwrap_or(DEFAULT_RETRIES)
    }

    pub fn max_age_ms(&self) -> u64 {
        self.maximum_event_age_in_seconds
            .unwrap_or(DEFAULT_MAX_AGE_S) as u64
            * 1000
    }

    fn answer(&self, function_arn: &str) -> FunctionEventInvokeConfig {
        let side = |d: &Option<String>| OnOutcome {
            destination: d.clone(),
        };
        FunctionEventInvokeConfig {
            last_modified: self.last_modified_ms as f64 / 1000.0,
            function_arn: format!("{function_arn}:$LATEST"),
            maximum_retry_attempts: self.maximum_retry_attempts,
            maximum_event_age_in_seconds: self.maximum_event_age_in_seconds,
            destination_config: DestinationConfig {
                on_success: Some(side(&self.on_success)),
                on_failure: Some(side(&self.on_failure)),
            },
        }
    }
}

impl LambdaService {
    /// The settings an asynchronous invocation of the function (by key) follows now.
    pub(super) fn event_invoke_config(&self, key: &str) -> EventInvokeConfig {
        self.event_invoke
            .read()
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// Sets a function's settings as a template declares them, with PutFunctionEventInvokeConfig's
    /// checks; whether anything changed.
    pub fn put_event_invoke_config(
        &self,
        ctx: &RequestContext,
        function: &str,
        input: super::model::EventInvokeConfigBody,
    ) -> AwsResult<bool> {
        let id = function::resolve(&ctx.account, &ctx.region, function, None)?;
        let key = function::key(&id.account, &id.region, &id.name);
        let before = self.event_invoke.read().get(&key).cloned();
        let unchanged = |new: &EventInvokeConfig| {
            before.as_ref().is_some_and(|old| {
                EventInvokeConfig {
                    last_modified_ms: new.last_modified_ms,
                    ..old.clone()
                } == *new
            })
        };
        let function = FunctionRef {
            function_name: function.to_string(),
            qualifier: None,
        };
        let input = EventInvokeConfigInput {
            function,
            body: input,
        };
        let (id, config) = self.checked_event_invoke_config(ctx, input)?;
        if unchanged(&config) {
            return Ok(false);
        }
        self.keep_event_invoke_config(ctx, &id, config);
        Ok(true)
    }

    pub(super) fn put_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: EventInvokeConfigInput,
    ) -> AwsResult<FunctionEventInvokeConfig> {
        let (id, config) = self.checked_event_invoke_config(ctx, input)?;
        Ok(self.keep_event_invoke_config(ctx, &id, config))
    }

    /// PutFunctionEventInvokeConfig's checks, in AWS's order, and the settings it would keep.
    fn checked_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: EventInvokeConfigInput,
    ) -> AwsResult<(FunctionId, EventInvokeConfig)> {
        let body = input.body;
        check_values(&body)?;
        if body.maximum_retry_attempts.is_none()
            && body.maximum_event_age_in_seconds.is_none()
            && body.destination_config.is_none()
        {
            return Err(AwsError::invalid_parameter_value(
                "You must specify at least one of error handling or destination setting.",
            ));
        }
        let id = self.configurable(ctx, &input.function)?;
        let destinations = body.destination_config.unwrap_or_default();
        self.check_destinations(&id, &destinations)?;
        let config = EventInvokeConfig {
            maximum_retry_attempts: body.maximum_retry_attempts.map(|n| n as u32),
            maximum_event_age_in_seconds: body.maximum_event_age_in_seconds.map(|n| n as u32),
            on_success: destination(&destinations.on_success),
            on_failure: destination(&destinations.on_failure),
            last_modified_ms: self.clock.wall_ms(),
        };
        Ok((id, config))
    }

    pub(super) fn update_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: EventInvokeConfigInput,
    ) -> AwsResult<FunctionEventInvokeConfig> {
        let body = input.body;
        check_values(&body)?;
        let id = self.configurable(ctx, &input.function)?;
        let key = function::key(&id.account, &id.region, &id.name);
        let Some(mut config) = self.event_invoke.read().get(&key).cloned() else {
            return Err(no_config(&id));
        };
        if let Some(destinations) = &body.destination_config {
            self.check_destinations(&id, destinations)?;
            if destinations.on_success.is_some() {
                config.on_success = destination(&destinations.on_success);
            }
            if destinations.on_failure.is_some() {
                config.on_failure = destination(&destinations.on_failure);
            }
        }
        if let Some(n) = body.maximum_retry_attempts {
            config.maximum_retry_attempts = Some(n as u32);
        }
        if let Some(n) = body.maximum_event_age_in_seconds {
            config.maximum_event_age_in_seconds = Some(n as u32);
        }
        config.last_modified_ms = self.clock.wall_ms();
        Ok(self.keep_event_invoke_config(ctx, &id, config))
    }

    pub(super) fn get_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        function: &FunctionRef,
    ) -> AwsResult<FunctionEventInvokeConfig> {
        let id = self.config_id(ctx, function)?;
        let key = function::key(&id.account, &id.region, &id.name);
        let found = self.pool_of(&id).is_ok() && id.qualifier.as_deref() == Some("$LATEST");
        match self.event_invoke.read().get(&key) {
            Some(config) if found => Ok(config.answer(&id.arn())),
            _ => Err(no_config(&id)),
        }
    }

    pub(super) fn delete_function_event_invoke_config(
        &self,
        ctx: &RequestContext,
        function: &FunctionRef,
    ) -> AwsResult<Empty> {
        let id = self.config_id(ctx, function)?;
        let key = function::key(&id.account, &id.region, &id.name);
        if id.qualifier.as_deref() != Some("$LATEST")
            || self.event_invoke.write().remove(&key).is_none()
        {
            return Err(no_config(&id));
        }
        self.forget_event_invoke_config(Some(ctx), &key);
        Ok(Empty {})
    }

    pub(super) fn list_function_event_invoke_configs(
        &self,
        ctx: &RequestContext,
        input: &ListEventInvokeConfigsInput,
    ) -> AwsResult<ListFunctionEventInvokeConfigsOutput> {
        if let Some(max) = &input.max_items {
            match max.parse::<i64>() {
                Ok(n) if (1..=50).contains(&n) => {}
                _ => {
                    return Err(AwsError::new(
                        &codes::VALIDATION,
                        format!("1 validation error detected: Value '{max}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50"),
                    ))
                }
            }
        }
        let id = function::resolve(
            &ctx.account,
            &ctx.region,
            &input.function.function_name,
            None,
        )?;
        if id.qualifier.is_some() || self.pool_of(&id).is_err() {
            return Err(function_missing());
        }
        let key = function::key(&id.account, &id.region, &id.name);
        Ok(ListFunctionEventInvokeConfigsOutput {
            function_event_invoke_configs: self
                .event_invoke
                .read()
                .get(&key)
                .map(|c| c.answer(&id.arn()))
                .into_iter()
                .collect(),
            next_marker: None,
        })
    }

    /// The function a Put or Update names; only `$LATEST` exists here.
    fn configurable(&self, ctx: &RequestContext, function: &FunctionRef) -> AwsResult<FunctionId> {
        let id = self.config_id(ctx, function)?;
        if id.qualifier.as_deref() != Some("$LATEST") || self.pool_of(&id).is_err() {
            return Err(function_missing());
        }
        Ok(id)
    }

    /// The function and qualifier (`$LATEST` unless one is given).
    fn config_id(&self, ctx: &RequestContext, function: &FunctionRef) -> AwsResult<FunctionId> {
        let mut id = function::resolve(
            &ctx.account,
            &ctx.region,
            &function.function_name,
            function.qualifier.as_deref(),
        )?;
        id.qualifier.get_or_insert_with(|| "$LATEST".to_string());
        Ok(id)
    }

    fn check_destinations(&self, id: &FunctionId, config: &DestinationConfig) -> AwsResult<()> {
        for target in [&config.on_success, &config.on_failure]
            .into_iter()
            .filter_map(destination)
        {
            match service_of(&target) {
                "sqs" | "sns" | "events" => {}
                "lambda" => {
                    let other = function::resolve(&id.account, &id.region, &target, None)
                        .ok()
                        .filter(|other| self.pool_of(other).is_ok());
                    match other {
                        Some(other)
                            if (&other.account, &other.region, &other.name)
                                == (&id.account, &id.region, &id.name) =>
                        {
                            return Err(AwsError::invalid_parameter_value(
                                "You can't specify the function as a destination for itself.",
                            ))
                        }
                        Some(_) => {}
                        None => {
                            return Err(AwsError::invalid_parameter_value(format!(
                                "The destination ARN {target} is invalid."
                            )))
                        }
                    }
                }
                _ => {
                    let side = |name: &str, d: &Option<OnOutcome>| match d {
                        None => "null".to_string(),
                        Some(o) => format!(
                            "{name}(destination={})",
                            o.destination.as_deref().unwrap_or("null")
                        ),
                    };
                    return Err(AwsError::invalid_parameter_value(format!(
                        "The provided destination config DestinationConfig(onSuccess={}, onFailure={}) is invalid.",
                        side("OnSuccess", &config.on_success),
                        side("OnFailure", &config.on_failure)
                    )));
                }
            }
        }
        Ok(())
    }

    fn keep_event_invoke_config(
        &self,
        ctx: &RequestContext,
        id: &FunctionId,
        config: EventInvokeConfig,
    ) -> FunctionEventInvokeConfig {
        let key = function::key(&id.account, &id.region, &id.name);
        let answer = config.answer(&id.arn());
        if self.store.persistent() {
            ctx.writes.push(self.store.submit(vec![Change::Put {
                space: Space::LambdaEventInvokeConfigs,
                key: key.clone().into_bytes(),
                value: serde_json::to_vec(&config).unwrap_or_default(),
            }]));
        }
        self.event_invoke.write().insert(key, config);
        answer
    }

    /// Drops a function's settings from the store (DeleteFunctionEventInvokeConfig, or the
    /// function deleted).
    pub(super) fn forget_event_invoke_config(&self, ctx: Option<&RequestContext>, key: &str) {
        if !self.store.persistent() {
            return;
        }
        let ticket = self.store.submit(vec![Change::Delete {
            space: Space::LambdaEventInvokeConfigs,
            key: key.as_bytes().to_vec(),
        }]);
        match ctx {
            Some(ctx) => ctx.writes.push(ticket),
            None => drop(tokio::spawn(ticket.durable())),
        }
    }

    /// Reads the stored settings back (start-up).
    pub(super) fn restore_event_invoke_configs(&self) -> Result<usize, String> {
        let mut configs = self.event_invoke.write();
        for (key, value) in self.store.load(Space::LambdaEventInvokeConfigs)? {
            match serde_json::from_slice::<EventInvokeConfig>(&value) {
                Ok(config) => {
                    configs.insert(String::from_utf8_lossy(&key).into_owned(), config);
                }
                Err(e) => tracing::error!(
                    key = %String::from_utf8_lossy(&key),
                    error = %e,
                    "unreadable event invoke config skipped"
                ),
            }
        }
        Ok(configs.len())
    }
}

fn destination(side: &Option<OnOutcome>) -> Option<String> {
    side.as_ref()
        .and_then(|o| o.destination.clone())
        .filter(|d| !d.is_empty())
}

/// The model's constraints, checked before anything else (ValidationException, every
/// violation listed).
fn check_values(body: &super::model::EventInvokeConfigBody) -> AwsResult<()> {
    let mut errors = Vec::new();
    let mut range = |member: &str, value: Option<i64>, range: std::ops::RangeInclusive<i64>| {
        match value {
            Some(v) if v < *range.start() => errors.push(format!(
                "Value '{v}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {}",
                range.start()
            )),
            Some(v) if v > *range.end() => errors.push(format!(
                "Value '{v}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {}",
                range.end()
            )),
            _ => {}
        }
    };
    range("maximumRetryAttempts", body.maximum_retry_attempts, RETRIES);
    range(
        "maximumEventAgeInSeconds",
        body.maximum_event_age_in_seconds,
        MAX_AGE,
    );
    if let Some(config) = &body.destination_config {
        for (member, side) in [
            (
                "destinationConfig.onSuccess.destination",
                &config.on_success,
            ),
            (
                "destinationConfig.onFailure.destination",
                &config.on_failure,
            ),
        ] {
            if let Some(target) = side.as_ref().and_then(|o| o.destination.as_deref()) {
                if !arn_pattern(target) {
                    errors.push(format!(
                        "Value '{target}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://([^.]([a-zA-Z0-9\\-_.]{{0,248}}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:((eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}})?:(\\d{{12}})?:(.*)"
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let count = match errors.len() {
        1 => "1 validation error detected".to_string(),
        n => format!("{n} validation errors detected"),
    };
    Err(AwsError::new(
        &codes::VALIDATION,
        format!("{count}: {}", errors.join("; ")),
    ))
}

/// The model's pattern for a destination: empty, `kafka://…`, or
/// `arn:aws…:service:region?:account?:resource`.
fn arn_pattern(target: &str) -> bool {
    if target.is_empty() || target.starts_with("kafka://") {
        return true;
    }
    let parts: Vec<&str> = target.splitn(6, ':').collect();
    let &[arn, partition, service, region, account, _rest] = parts.as_slice() else {
        return false;
    };
    let alnum_dash = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    arn == "arn"
        && partition.starts_with("aws")
        && alnum_dash(partition)
        && !service.is_empty()
        && alnum_dash(service)
        && (region.is_empty() || region_pattern(region))
        && (account.is_empty()
            || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
}

/// `(eusc-)?[a-z]{2}((-gov)|(-iso[a-z]?))?-[a-z]+-\d`.
fn region_pattern(region: &str) -> bool {
    let region = region.strip_prefix("eusc-").unwrap_or(region);
    let parts: Vec<&str> = region.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let digit = |s: &str| s.len() == 1 && s.as_bytes()[0].is_ascii_digit();
    let iso = |s: &str| s == "gov" || (s.starts_with("iso") && s.len() <= 4 && lower(s));
    match *parts.as_slice() {
        [cc, name, n] => cc.len() == 2 && lower(cc) && lower(name) && digit(n),
        [cc, flavour, name, n] => {
            cc.len() == 2 && lower(cc) && iso(flavour) && lower(name) && digit(n)
        }
        _ => false,
    }
}

fn function_missing() -> AwsError {
    AwsError::new(&codes::RESOURCE_NOT_FOUND, "The function doesn't exist.")
}

fn no_config(id: &FunctionId) -> AwsError {
    AwsError::new(
        &codes::RESOURCE_NOT_FOUND,
        format!(
            "The function {} doesn't have an EventInvokeConfig",
            id.qualified_arn()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_pattern_as_the_model_has_it() {
        assert!(arn_pattern("arn:aws:sqs:us-east-1:000000000000:q"));
        assert!(arn_pattern(
            "arn:aws:lambda:us-gov-west-1:000000000000:function:f"
        ));
        assert!(arn_pattern(""));
        assert!(!arn_pattern(
            "arn:aws:_-/!lambda:us-east-1:000000000000:function:f"
        ));
        assert!(!arn_pattern("arn:aws:sqs:us-east-1:123:q"));
        assert!(!arn_pattern("not-an-arn"));
    }
}
