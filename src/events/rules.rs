//! Rules: an event pattern and/or a schedule on a bus, enabled or not, with their targets;
//! PutRule, DescribeRule, DeleteRule, Enable/DisableRule, ListRules, ListRuleNamesByTarget,
//! and TestEventPattern (the same matcher the rules use).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::error::{codes, AwsError, AwsResult};
use crate::service::Empty;

use super::buses::{bus_key, bus_missing, Bus, DEFAULT_BUS};
use super::model::*;
use super::pattern::EventPattern;
use super::schedule::Schedule;
use super::{arn, not_found, page, validation, EventsService, Violations};

/// One rule. The compiled pattern and schedule are rebuilt from their text at restore.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub arn: String,
    pub bus_name: String,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub state: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub created_by: String,
    pub tags: BTreeMap<String, String>,
    /// Shared, so routing an event takes the list without copying it.
    pub targets: Arc<Vec<Target>>,
    #[serde(skip)]
    pub pattern: Option<Arc<EventPattern>>,
    #[serde(skip)]
    pub schedule: Option<Arc<Schedule>>,
    /// When the schedule next fires (service clock, epoch ms).
    #[serde(skip)]
    pub next_fire_ms: Option<u64>,
    /// Its counters for `/metrics`.
    #[serde(skip)]
    pub stats: Arc<super::stats::RuleStats>,
}

impl Rule {
    pub fn enabled(&self) -> bool {
        self.state != "DISABLED"
    }

    /// Compiles the rule's pattern and schedule from their text.
    pub fn compile(&mut self) -> AwsResult<()> {
        self.pattern = match &self.event_pattern {
            Some(p) => Some(Arc::new(parse_pattern(p)?)),
            None => None,
        };
        self.schedule = match &self.schedule_expression {
            Some(s) => Some(Arc::new(Schedule::parse(s).map_err(validation)?)),
            None => None,
        };
        Ok(())
    }

    pub fn describe(&self) -> DescribeRuleOutput {
        DescribeRuleOutput {
            name: self.name.clone(),
            arn: self.arn.clone(),
            event_pattern: self.event_pattern.clone(),
            schedule_expression: self.schedule_expression.clone(),
            state: self.state.clone(),
            description: self.description.clone(),
            role_arn: self.role_arn.clone(),
            managed_by: None,
            event_bus_name: self.bus_name.clone(),
            created_by: Some(self.created_by.clone()),
        }
    }
}

/// A rule's ARN: `rule/<name>` on the default bus, `rule/<bus>/<name>` on others.
pub fn rule_arn(bus: &Bus, name: &str) -> String {
    if bus.name == DEFAULT_BUS {
        arn(&bus.region, &bus.account, &format!("rule/{name}"))
    } else {
        arn(
            &bus.region,
            &bus.account,
            &format!("rule/{}/{name}", bus.name),
        )
    }
}

pub fn rule_missing(rule: &str, bus: &str) -> AwsError {
    not_found(format!("Rule {rule} does not exist on EventBus {bus}."))
}

pub fn parse_pattern(text: &str) -> AwsResult<EventPattern> {
    EventPattern::parse(text).map_err(|e| AwsError::new(&codes::INVALID_EVENT_PATTERN, e.message()))
}

fn check_rule_name(name: Option<&str>) -> AwsResult<()> {
    Violations::default().name("name", name, 64).check()
}

impl EventsService {
    pub fn put_rule(&self, ctx: &RequestContext, input: PutRuleInput) -> AwsResult<PutRuleOutput> {
        check_rule_name(input.name.as_deref())?;
        let name = input.name.unwrap_or_default();
        let mut v = Violations::default();
        if let Some(state) = input.state.as_deref() {
            if !matches!(
                state,
                "ENABLED" | "DISABLED" | "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
            ) {
                v.invalid(
                    "state",
                    state,
                    "Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]",
                );
            }
        }
        if let Some(d) = input.description.as_deref() {
            if d.chars().count() > 512 {
                v.invalid(
                    "description",
                    d,
                    "Member must have length less than or equal to 512",
                );
            }
        }
        v.check()?;
        let pattern = input.event_pattern.filter(|p| !p.is_empty());
        let schedule = input.schedule_expression.filter(|s| !s.is_empty());
        if pattern.is_none() && schedule.is_none() {
            return Err(validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        if schedule.is_some() && bus.name != DEFAULT_BUS {
            return Err(validation(
                "ScheduleExpression is supported only on the default event bus.",
            ));
        }
        let previous = bus.rules.get(&name);
        let mut rule = Rule {
            arn: rule_arn(bus, &name),
            name: name.clone(),
            bus_name: bus.name.clone(),
            event_pattern: pattern,
            schedule_expression: schedule,
            state: input.state.unwrap_or_else(|| "ENABLED".into()),
            description: input.description,
            role_arn: input.role_arn,
            created_by: ctx.account.clone(),
            tags: previous.map(|p| p.tags.clone()).unwrap_or_default(),
            targets: previous.map(|p| p.targets.clone()).unwrap_or_default(),
            pattern: None,
            schedule: None,
            next_fire_ms: None,
            // Updating a rule keeps its counters.
            stats: previous.map(|p| p.stats.clone()).unwrap_or_default(),
        };
        rule.compile()?;
        for t in input.tags.unwrap_or_default() {
            rule.tags.insert(t.key, t.value);
        }
        let now = self.now_ms();
        rule.next_fire_ms = match (&rule.schedule, previous) {
            // An unchanged schedule keeps its phase.
            (Some(_), Some(p)) if p.schedule_expression == rule.schedule_expression => {
                p.next_fire_ms
            }
            (Some(s), _) => s.next_after(now),
            (None, _) => None,
        };
        self.persist_rule(ctx, bus, &rule);
        let arn = rule.arn.clone();
        let scheduled = rule.schedule.is_some();
        match &rule.pattern {
            Some(p) => bus.index.insert(name.clone(), p.clone()),
            None => {
                bus.index.remove(&name);
            }
        }
        bus.rules.insert(name, rule);
        drop(reg);
        if scheduled {
            self.schedule_changed.notify_one();
        }
        Ok(PutRuleOutput { rule_arn: arn })
    }

    pub fn describe_rule(
        &self,
        ctx: &RequestContext,
        input: RuleInput,
    ) -> AwsResult<DescribeRuleOutput> {
        check_rule_name(input.name.as_deref())?;
        let name = input.name.unwrap_or_default();
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let reg = self.state.read();
        let bus = reg.buses.get(&key).ok_or_else(|| bus_missing(&key.2))?;
        let rule = bus
            .rules
            .get(&name)
            .ok_or_else(|| rule_missing(&name, &bus.name))?;
        Ok(rule.describe())
    }

    pub fn delete_rule(&self, ctx: &RequestContext, input: RuleInput) -> AwsResult<Empty> {
        check_rule_name(input.name.as_deref())?;
        let name = input.name.unwrap_or_default();
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        // Deleting a rule that does not exist succeeds.
        if let Some(rule) = bus.rules.get(&name) {
            if !rule.targets.is_empty() && !input.force {
                return Err(validation("Rule can't be deleted since it has targets."));
            }
            bus.rules.remove(&name);
            bus.index.remove(&name);
            self.forget_rule(ctx, bus, &name);
        }
        Ok(Empty {})
    }

    pub fn set_rule_state(
        &self,
        ctx: &RequestContext,
        input: RuleInput,
        enabled: bool,
    ) -> AwsResult<Empty> {
        check_rule_name(input.name.as_deref())?;
        let name = input.name.unwrap_or_default();
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let mut reg = self.state.write();
        let bus = reg.buses.get_mut(&key).ok_or_else(|| bus_missing(&key.2))?;
        let bus_name = bus.name.clone();
        let rule = bus
            .rules
            .get_mut(&name)
            .ok_or_else(|| rule_missing(&name, &bus_name))?;
        rule.state = if enabled { "ENABLED" } else { "DISABLED" }.into();
        if enabled {
            if let Some(s) = &rule.schedule {
                rule.next_fire_ms = s.next_after(self.now_ms());
            }
        }
        let rule = rule.clone();
        self.persist_rule(ctx, bus, &rule);
        drop(reg);
        self.schedule_changed.notify_one();
        Ok(Empty {})
    }

    pub fn list_rules(&self, ctx: &RequestContext, input: ListInput) -> AwsResult<ListRulesOutput> {
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let reg = self.state.read();
        let bus = reg.buses.get(&key).ok_or_else(|| bus_missing(&key.2))?;
        let prefix = input.name_prefix.as_deref().unwrap_or("");
        let rules: Vec<_> = bus
            .rules
            .values()
            .filter(|r| r.name.starts_with(prefix))
            .map(|r| {
                let mut d = r.describe();
                d.created_by = None;
                d
            })
            .collect();
        let (rules, next_token) = page(rules, input.next_token.as_deref(), input.limit)?;
        Ok(ListRulesOutput { rules, next_token })
    }

    pub fn list_rule_names_by_target(
        &self,
        ctx: &RequestContext,
        input: ListRuleNamesByTargetInput,
    ) -> AwsResult<ListRuleNamesByTargetOutput> {
        let mut v = Violations::default();
        v.required("targetArn", input.target_arn.as_ref()).check()?;
        let target = input.target_arn.unwrap_or_default();
        let key = bus_key(ctx, input.event_bus_name.as_deref());
        let reg = self.state.read();
        let bus = reg.buses.get(&key).ok_or_else(|| bus_missing(&key.2))?;
        let names: Vec<String> = bus
            .rules
            .values()
            .filter(|r| r.targets.iter().any(|t| t.arn == target))
            .map(|r| r.name.clone())
            .collect();
        let (rule_names, next_token) = page(names, input.next_token.as_deref(), input.limit)?;
        Ok(ListRuleNamesByTargetOutput {
            rule_names,
            next_token,
        })
    }
}

/// TestEventPattern: whether `Event` matches `EventPattern`, as a rule would decide.
pub fn test_event_pattern(input: TestEventPatternInput) -> AwsResult<TestEventPatternOutput> {
    let mut v = Violations::default();
    v.required("eventPattern", input.event_pattern.as_ref())
        .required("event", input.event.as_ref())
        .check()?;
    let pattern = parse_pattern(input.event_pattern.as_deref().unwrap_or_default())?;
    let event = super::pattern::parse_test_event(input.event.as_deref().unwrap_or_default())
        .map_err(validation)?;
    Ok(TestEventPatternOutput {
        result: pattern.matches(&event),
    })
}
