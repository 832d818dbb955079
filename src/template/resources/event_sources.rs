//! `AWS::Lambda::EventSourceMapping` (SQS sources) and the `Events` of an
//! `AWS::Serverless::Function`: `Type: SQS` becomes an event source mapping of the function,
//! `Type: SNS` a `lambda` subscription of the topic (with `SqsSubscription`, a queue subscribed to
//! the topic and mapped to the function), as SAM expands them. Re-applying converges:
//! a mapping of the same function and queue is updated in place, or left alone when unchanged.
//! `Enabled` is applied when the template gives it; when it does not, a mapping disabled through
//! the API stays disabled across restarts (as a stack update that does not touch it would).

use std::collections::BTreeMap;

use crate::lambda::event_sources::mapping::{
    CreateEventSourceMappingInput, EventSourceMapping, FilterCriteria, ScalingConfig,
    UpdateEventSourceMappingInput,
};
use crate::template::parse::{Map, Value};

use super::events::RULE_PROPERTIES;
use super::props::{Applied, Failure, Props, Type};
use super::provisioner::{Outcome, Physical, Provisioner};
use super::sns::SUBSCRIPTION_PROPERTIES;
use super::sqs::{QUEUE_POLICY_PROPERTIES, QUEUE_PROPERTIES};

pub(super) const EVENT_SOURCE_MAPPING_PROPERTIES: &[(&str, Type)] = &[
    ("AmazonManagedKafkaEventSourceConfig", Type::Other),
    ("BatchSize", Type::Integer),
    ("BisectBatchOnFunctionError", Type::Boolean),
    ("DestinationConfig", Type::Other),
    ("DocumentDBEventSourceConfig", Type::Other),
    ("Enabled", Type::Boolean),
    ("EventSourceArn", Type::String),
    ("FilterCriteria", Type::Other),
    ("FunctionName", Type::String),
    ("FunctionResponseTypes", Type::Strings),
    ("KmsKeyArn", Type::String),
    ("MaximumBatchingWindowInSeconds", Type::Integer),
    ("MaximumRecordAgeInSeconds", Type::Integer),
    ("MaximumRetryAttempts", Type::Integer),
    ("MetricsConfig", Type::Other),
    ("ParallelizationFactor", Type::Integer),
    ("ProvisionedPollerConfig", Type::Other),
    ("Queues", Type::Other),
    ("ScalingConfig", Type::Other),
    ("SelfManagedEventSource", Type::Other),
    ("SelfManagedKafkaEventSourceConfig", Type::Other),
    ("SourceAccessConfigurations", Type::Other),
    ("StartingPosition", Type::String),
    ("StartingPositionTimestamp", Type::Other),
    ("Tags", Type::Other),
    ("Topics", Type::Other),
    ("TumblingWindowInSeconds", Type::Integer),
];

/// SAM's `Events.<name>.Properties` of `Type: SQS`.
const SAM_SQS_PROPERTIES: &[(&str, Type)] = &[
    ("BatchSize", Type::Integer),
    ("Enabled", Type::Boolean),
    ("FilterCriteria", Type::Other),
    ("FunctionResponseTypes", Type::Strings),
    ("KmsKeyArn", Type::String),
    ("MaximumBatchingWindowInSeconds", Type::Integer),
    ("MetricsConfig", Type::Other),
    ("ProvisionedPollerConfig", Type::Other),
    ("Queue", Type::String),
    ("ScalingConfig", Type::Other),
];

/// SAM's `Events.<name>.Properties` of `Type: SNS`.
const SAM_SNS_PROPERTIES: &[(&str, Type)] = &[
    ("FilterPolicy", Type::Json),
    ("FilterPolicyScope", Type::String),
    ("RedrivePolicy", Type::Json),
    ("Region", Type::String),
    ("SqsSubscription", Type::Other),
    ("Topic", Type::String),
];

/// SAM's `EventBridgeRule`, `CloudWatchEvent` and `Schedule` events (their union; SAM
/// validates which belongs to which).
const SAM_RULE_PROPERTIES: &[(&str, Type)] = &[
    ("DeadLetterConfig", Type::Other),
    ("Description", Type::String),
    ("Enabled", Type::Other),
    ("EventBusName", Type::String),
    ("Input", Type::String),
    ("InputPath", Type::String),
    ("InputTransformer", Type::Other),
    ("Name", Type::String),
    ("Pattern", Type::Other),
    ("RetryPolicy", Type::Other),
    ("RuleName", Type::String),
    ("Schedule", Type::String),
    ("State", Type::String),
    ("Target", Type::Other),
];

/// The settings of a mapping as a template gives them.
struct Wanted {
    batch_size: Option<i64>,
    window_s: Option<i64>,
    /// As the template gives it (absent: enabled when created, else as it is).
    enabled: Option<bool>,
    response_types: Vec<String>,
    filter_criteria: Option<FilterCriteria>,
    scaling: Option<ScalingConfig>,
}

impl Provisioner<'_> {
    /// `AWS::Lambda::EventSourceMapping`: `Ref` is the mapping's UUID.
    pub(super) fn event_source_mapping(&self, props: &Props) -> Applied<Physical> {
        let function = props.required("FunctionName")?;
        let source = props.required("EventSourceArn")?;
        let wanted = wanted(props)?;
        let config = self.converge_mapping(&function, &source, wanted, "EventSourceArn")?;
        Ok(mapping_physical(config))
    }

    /// SAM's `AWS::Lambda::Permission` for an event (lyrebird enforces no resource policies).
    fn generate_permission(&self, id: &str) {
        let physical = Physical {
            reference: self.physical_id(id),
            attributes: BTreeMap::new(),
        };
        self.generate(id.to_string(), physical);
    }

    /// SAM `Events` of a function just provisioned (`function` is its name).
    pub(super) fn function_events(&self, id: &str, function: &str, props: &Props) -> Applied<()> {
        let Some(events) = props.get("Events") else {
            return Ok(());
        };
        let Some(events) = events.as_map() else {
            return Err(Failure::property("Events", "must be a map of events"));
        };
        for (name, event) in events.iter() {
            let blame = |message: String| Failure::property("Events", format!("{name}: {message}"));
            let blame_property = |f: Failure| match f.property {
                Some(p) => blame(format!("{p} {}", f.message)),
                None => blame(f.message),
            };
            let Some(event) = event.as_map() else {
                return Err(blame("must be a map".into()));
            };
            let kind = event
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| blame("Type is required".into()))?;
            let empty = Map::default();
            let properties = match event.get("Properties") {
                None | Some(Value::Null) => &empty,
                Some(Value::Map(m)) => m,
                Some(_) => return Err(blame("Properties must be a map".into())),
            };
            let type_name = format!("AWS::Serverless::Function event {name} of type {kind}");
            match kind {
                "SQS" => {
                    let props = Props::new(SAM_SQS_PROPERTIES, &type_name, properties)
                        .map_err(blame_property)?;
                    let queue = props.required("Queue").map_err(blame_property)?;
                    let wanted = wanted(&props).map_err(blame_property)?;
                    let mapping = self
                        .converge_mapping(function, &queue, wanted, "Events")
                        .map_err(blame_property)?;
                    self.generate(format!("{id}{name}"), mapping_physical(mapping));
                }
                "SNS" => {
                    let props = Props::new(SAM_SNS_PROPERTIES, &type_name, properties)
                        .map_err(blame_property)?;
                    let base = format!("{id}{name}");
                    match sqs_subscription(props.get("SqsSubscription"))
                        .map_err(blame_property)?
                    {
                        Some(settings) => self
                            .sam_sns_through_queue(&base, function, &props, settings)
                            .map_err(blame_property)?,
                        None => {
                            let subscription = self
                                .sam_sns_subscription(function, &props)
                                .map_err(blame_property)?;
                            self.generate(base.clone(), subscription);
                            self.generate_permission(&format!("{base}Permission"));
                        }
                    }
                }
                "EventBridgeRule" | "CloudWatchEvent" | "Schedule" => {
                    let props = Props::new(SAM_RULE_PROPERTIES, &type_name, properties)
                        .map_err(blame_property)?;
                    let rule = self
                        .sam_rule(&format!("{id}{name}"), function, &props)
                        .map_err(blame_property)?;
                    self.generate(format!("{id}{name}"), rule);
                    self.generate_permission(&format!("{id}{name}Permission"));
                }
                other => tracing::warn!(
                    "{}: function {id}: event {name} of type {other} is not run by lyrebird (SQS, SNS, EventBridgeRule, CloudWatchEvent and Schedule events are)",
                    self.stack
                ),
            }
        }
        Ok(())
    }

    /// SAM's EventBridge events: an `AWS::Events::Rule` (logical id `rule_id`, the function's id
    /// and the event's name, as SAM names it) whose one target is the function, with the event's
    /// pattern or schedule, bus, input and retry settings.
    fn sam_rule(&self, rule_id: &str, function: &str, props: &Props) -> Applied<Physical> {
        let function_arn = self
            .lambda
            .function_arn(&self.ctx.account, &self.ctx.region, function)
            .map_err(|e| Failure::property("Target", e.message))?;
        let target_id = match props.get("Target").and_then(Value::as_map) {
            Some(target) => target.get("Id").and_then(Value::as_str).map(str::to_string),
            None => None,
        }
        .unwrap_or_else(|| format!("{rule_id}LambdaTarget"));
        let mut target = Map(vec![
            ("Id".to_string(), Value::String(target_id)),
            ("Arn".to_string(), Value::String(function_arn)),
        ]);
        for name in ["Input", "InputPath", "InputTransformer", "RetryPolicy"] {
            if let Some(value) = props.get(name) {
                target.0.push((name.to_string(), value.clone()));
            }
        }
        // SAM's DeadLetterConfig names a queue by `Arn` (its `Type: SQS` form, which creates a
        // queue, is not supported).
        if let Some(arn) = props
            .get("DeadLetterConfig")
            .and_then(Value::as_map)
            .and_then(|d| d.get("Arn"))
        {
            target.0.push((
                "DeadLetterConfig".to_string(),
                Value::Map(Map(vec![("Arn".to_string(), arn.clone())])),
            ));
        }
        let mut rule = Map(vec![(
            "Targets".to_string(),
            Value::List(vec![Value::Map(target)]),
        )]);
        for (from, to) in [
            ("Pattern", "EventPattern"),
            ("Schedule", "ScheduleExpression"),
            ("EventBusName", "EventBusName"),
            ("Description", "Description"),
            ("State", "State"),
            ("RuleName", "Name"),
            ("Name", "Name"),
        ] {
            if let Some(value) = props.get(from) {
                rule.0.push((to.to_string(), value.clone()));
            }
        }
        if props.get("State").is_none() {
            if let Some(Value::Bool(enabled)) = props.get("Enabled") {
                let state = if *enabled { "ENABLED" } else { "DISABLED" };
                rule.0
                    .push(("State".to_string(), Value::String(state.to_string())));
            }
        }
        let rule = Props::new(RULE_PROPERTIES, "AWS::Events::Rule", &rule)?;
        self.event_rule(rule_id, &rule)
    }

    /// SAM's SNS event with `SqsSubscription`: a queue (`{base}Queue`, unless `QueueArn` names
    /// one) subscribed to the topic (`{base}`, raw delivery off, so a record's body is the SNS
    /// envelope), its policy letting the topic send (`{base}QueuePolicy`), and a mapping of the
    /// queue to the function (`{base}EventSourceMapping`).
    fn sam_sns_through_queue(
        &self,
        base: &str,
        function: &str,
        props: &Props,
        settings: SqsSubscription,
    ) -> Applied<()> {
        let topic = props.required("Topic")?;
        let (queue_arn, queue_url) = match settings.queue {
            Some(given) => given,
            None => {
                let queue_id = format!("{base}Queue");
                let empty = Map::default();
                let queue = self.queue(
                    &queue_id,
                    &Props::new(QUEUE_PROPERTIES, "AWS::SQS::Queue", &empty)?,
                )?;
                let arn = queue.attributes.get("Arn").cloned().unwrap_or_default();
                let url = queue.reference.clone();
                self.generate(queue_id, queue);
                (arn, url)
            }
        };
        let statement = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }],
        });
        let policy = Map(vec![
            (
                "PolicyDocument".to_string(),
                Value::String(statement.to_string()),
            ),
            (
                "Queues".to_string(),
                Value::List(vec![Value::String(queue_url)]),
            ),
        ]);
        let policy_id = settings
            .policy_id
            .unwrap_or_else(|| format!("{base}QueuePolicy"));
        let policy = self.queue_policy(
            &policy_id,
            &Props::new(QUEUE_POLICY_PROPERTIES, "AWS::SQS::QueuePolicy", &policy)?,
        )?;
        self.generate(policy_id, policy);

        let mut map = Map(vec![
            ("TopicArn".to_string(), Value::String(topic)),
            ("Protocol".to_string(), Value::String("sqs".into())),
            ("Endpoint".to_string(), Value::String(queue_arn.clone())),
        ]);
        for name in [
            "FilterPolicy",
            "FilterPolicyScope",
            "RedrivePolicy",
            "Region",
        ] {
            if let Some(value) = props.get(name) {
                map.0.push((name.to_string(), value.clone()));
            }
        }
        let subscription = Props::new(SUBSCRIPTION_PROPERTIES, "AWS::SNS::Subscription", &map)?;
        let subscription = self.subscription(&subscription)?;
        self.generate(base.to_string(), subscription);

        let wanted = Wanted {
            // SAM's default batch size for the queue it subscribes.
            batch_size: Some(settings.batch_size.unwrap_or(10)),
            window_s: None,
            enabled: settings.enabled,
            response_types: Vec::new(),
            filter_criteria: None,
            scaling: None,
        };
        let mapping = self.converge_mapping(function, &queue_arn, wanted, "SqsSubscription")?;
        self.generate(
            format!("{base}EventSourceMapping"),
            mapping_physical(mapping),
        );
        Ok(())
    }

    /// SAM's SNS event: a `lambda` subscription of the topic to the function, with the event's
    /// filter policy and redrive policy.
    fn sam_sns_subscription(&self, function: &str, props: &Props) -> Applied<Physical> {
        let topic = props.required("Topic")?;
        let function_arn = self
            .lambda
            .function_arn(&self.ctx.account, &self.ctx.region, function)
            .map_err(|e| Failure::property("Topic", e.message))?;
        let mut map = Map(vec![
            ("TopicArn".to_string(), Value::String(topic)),
            ("Protocol".to_string(), Value::String("lambda".into())),
            ("Endpoint".to_string(), Value::String(function_arn)),
        ]);
        for name in [
            "FilterPolicy",
            "FilterPolicyScope",
            "RedrivePolicy",
            "Region",
        ] {
            if let Some(value) = props.get(name) {
                map.0.push((name.to_string(), value.clone()));
            }
        }
        let subscription = Props::new(SUBSCRIPTION_PROPERTIES, "AWS::SNS::Subscription", &map)?;
        self.subscription(&subscription)
    }

    /// Creates the mapping of `function` on `source`, or brings an existing one to `wanted`.
    fn converge_mapping(
        &self,
        function: &str,
        source: &str,
        wanted: Wanted,
        property: &str,
    ) -> Applied<EventSourceMapping> {
        let (account, region) = (self.ctx.account.as_str(), self.ctx.region.as_str());
        let Some(sources) = self.event_sources else {
            tracing::warn!(
                "{}: the event source of {function} on {source} is not set up (no server)",
                self.stack
            );
            return Ok(EventSourceMapping::placeholder());
        };
        let fail = |e: crate::error::AwsError| Failure::property(property, e.message);
        let Some(uuid) = sources.find_by_source(account, region, source, function) else {
            let created = sources
                .create(
                    account,
                    region,
                    CreateEventSourceMappingInput {
                        function_name: Some(function.to_string()),
                        event_source_arn: Some(source.to_string()),
                        enabled: Some(wanted.enabled.unwrap_or(true)),
                        batch_size: wanted.batch_size,
                        maximum_batching_window_in_seconds: wanted.window_s,
                        function_response_types: Some(wanted.response_types),
                        filter_criteria: wanted.filter_criteria,
                        scaling_config: wanted.scaling,
                        stream_only: Default::default(),
                    },
                    &self.ctx.writes,
                )
                .map_err(fail)?;
            self.note(Outcome::Created);
            return Ok(created);
        };
        let current = sources.get(account, region, &uuid).map_err(fail)?;
        let unchanged = current.batch_size as i64 == wanted.batch_size.unwrap_or(10)
            && current.maximum_batching_window_in_seconds as i64 == wanted.window_s.unwrap_or(0)
            && wanted.enabled.is_none_or(|e| e == current.enabled)
            && current.function_response_types == wanted.response_types
            && current.filter_criteria
                == wanted
                    .filter_criteria
                    .clone()
                    .filter(|c| !c.filters.is_empty())
            && current.scaling_config == wanted.scaling;
        if unchanged {
            return Ok(current);
        }
        let mut updated = sources
            .update(
                account,
                region,
                &uuid,
                UpdateEventSourceMappingInput {
                    function_name: None,
                    enabled: wanted.enabled,
                    batch_size: Some(wanted.batch_size.unwrap_or(10)),
                    maximum_batching_window_in_seconds: Some(wanted.window_s.unwrap_or(0)),
                    function_response_types: Some(wanted.response_types),
                    filter_criteria: Some(wanted.filter_criteria.unwrap_or_default()),
                    scaling_config: Some(wanted.scaling.unwrap_or_default()),
                    stream_only: Default::default(),
                },
                &self.ctx.writes,
            )
            .map_err(fail)?;
        updated.state = updated.settled_state().into();
        self.note(Outcome::Updated);
        Ok(updated)
    }
}

/// SAM's `SqsSubscription` of an SNS event, when it is on.
struct SqsSubscription {
    /// `QueueArn` and `QueueUrl` of a queue of the user's (else SAM creates one).
    queue: Option<(String, String)>,
    batch_size: Option<i64>,
    enabled: Option<bool>,
    policy_id: Option<String>,
}

/// `SqsSubscription: true | false | {QueueArn, QueueUrl, BatchSize, Enabled,
/// QueuePolicyLogicalId}`.
fn sqs_subscription(value: Option<&Value>) -> Applied<Option<SqsSubscription>> {
    let fail = |m: &str| Failure::property("SqsSubscription", m);
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Bool(false)) => return Ok(None),
        Some(Value::String(s)) if s == "false" => return Ok(None),
        Some(Value::Bool(true)) => {
            return Ok(Some(SqsSubscription {
                queue: None,
                batch_size: None,
                enabled: None,
                policy_id: None,
            }))
        }
        Some(Value::String(s)) if s == "true" => return sqs_subscription(Some(&Value::Bool(true))),
        Some(Value::Map(map)) => map,
        Some(_) => return Err(fail("must be true, false or a map")),
    };
    let text = |name: &str| map.get(name).and_then(Value::scalar_text);
    let queue = match (text("QueueArn"), text("QueueUrl")) {
        (Some(arn), Some(url)) => Some((arn, url)),
        (None, None) => None,
        _ => return Err(fail("QueueArn and QueueUrl are given together")),
    };
    let batch_size = match text("BatchSize") {
        None => None,
        Some(n) => Some(
            n.parse::<i64>()
                .map_err(|_| fail("BatchSize must be an integer"))?,
        ),
    };
    let enabled = match text("Enabled").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(fail("Enabled must be true or false")),
    };
    Ok(Some(SqsSubscription {
        queue,
        batch_size,
        enabled,
        policy_id: text("QueuePolicyLogicalId"),
    }))
}

/// What `Ref` (the UUID) and `Fn::GetAtt` of a mapping return.
fn mapping_physical(config: EventSourceMapping) -> Physical {
    Physical {
        reference: config.uuid.clone(),
        attributes: BTreeMap::from([
            ("Id", config.uuid),
            ("EventSourceMappingArn", config.event_source_mapping_arn),
        ]),
    }
}

/// The mapping settings of an `AWS::Lambda::EventSourceMapping` or a SAM SQS event.
fn wanted(props: &Props) -> Applied<Wanted> {
    let integer = |name: &str| -> Applied<Option<i64>> {
        props
            .text(name, Type::Integer)?
            .map(|n| {
                n.parse::<i64>()
                    .map_err(|_| Failure::property(name, "must be an integer"))
            })
            .transpose()
    };
    let filter_criteria = match props.get("FilterCriteria") {
        None => None,
        Some(value) => Some(filter_criteria(value)?),
    };
    let scaling = match props.get("ScalingConfig") {
        None => None,
        Some(value) => Some(
            serde_json::from_value::<ScalingConfig>(value.to_json())
                .map_err(|e| Failure::property("ScalingConfig", e.to_string()))?,
        )
        .filter(|s| s.maximum_concurrency.is_some()),
    };
    Ok(Wanted {
        batch_size: integer("BatchSize")?,
        window_s: integer("MaximumBatchingWindowInSeconds")?,
        enabled: props.text("Enabled", Type::Boolean)?.map(|e| e == "true"),
        response_types: match props.get("FunctionResponseTypes") {
            Some(_) => props.strings("FunctionResponseTypes")?,
            None => Vec::new(),
        },
        filter_criteria,
        scaling,
    })
}

/// `FilterCriteria: {Filters: [{Pattern}]}`; a pattern may be given as a JSON string (as
/// CloudFormation takes it) or as a map (written out as JSON).
fn filter_criteria(value: &Value) -> Applied<FilterCriteria> {
    let mut json = value.to_json();
    if let Some(filters) = json.get_mut("Filters").and_then(|f| f.as_array_mut()) {
        for filter in filters {
            if let Some(pattern) = filter.get_mut("Pattern") {
                if !pattern.is_string() {
                    *pattern = serde_json::Value::String(pattern.to_string());
                }
            }
        }
    }
    serde_json::from_value(json).map_err(|e| Failure::property("FilterCriteria", e.to_string()))
}
