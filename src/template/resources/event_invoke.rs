//! Asynchronous invocation settings from templates: `AWS::Lambda::EventInvokeConfig` and SAM's
//! `EventInvokeConfig` property of a function, applied through the Lambda API's own
//! PutFunctionEventInvokeConfig (its checks and errors apply). Re-applying an unchanged template
//! changes nothing.

use std::collections::BTreeMap;

use crate::lambda::model::{DestinationConfig, EventInvokeConfigBody, OnOutcome};
use crate::template::parse::{Map, Value};

use super::props::{blame, Applied, Failure, Props, Type};
use super::provisioner::{Outcome, Physical, Provisioner};

pub(super) const EVENT_INVOKE_CONFIG_PROPERTIES: &[(&str, Type)] = &[
    ("DestinationConfig", Type::Other),
    ("FunctionName", Type::String),
    ("MaximumEventAgeInSeconds", Type::Integer),
    ("MaximumRetryAttempts", Type::Integer),
    ("Qualifier", Type::String),
];

impl Provisioner<'_> {
    /// `AWS::Lambda::EventInvokeConfig`.
    pub(super) fn event_invoke_config(&self, id: &str, props: &Props) -> Applied<Physical> {
        let function = props.required("FunctionName")?;
        let qualifier = props.required("Qualifier")?;
        if qualifier != "$LATEST" {
            return Err(Failure::property(
                "Qualifier",
                format!("{qualifier}: lyrebird keeps $LATEST only (no versions or aliases)"),
            ));
        }
        let body = body(
            props.get("MaximumRetryAttempts"),
            props.get("MaximumEventAgeInSeconds"),
            props.get("DestinationConfig"),
        )?;
        self.put_event_invoke_config(&function, body)?;
        Ok(Physical {
            reference: self.physical_id(id),
            attributes: BTreeMap::new(),
        })
    }

    /// SAM's `EventInvokeConfig` of a function.
    pub(super) fn function_event_invoke_config(
        &self,
        function: &str,
        props: &Props,
    ) -> Applied<()> {
        let Some(value) = props.get("EventInvokeConfig") else {
            return Ok(());
        };
        let map = value
            .as_map()
            .ok_or_else(|| Failure::property("EventInvokeConfig", "must be a map"))?;
        let body = body(
            map.get("MaximumRetryAttempts"),
            map.get("MaximumEventAgeInSeconds"),
            map.get("DestinationConfig"),
        )
        .map_err(|f| Failure::property("EventInvokeConfig", f.message))?;
        self.put_event_invoke_config(function, body)
            .map_err(|f| Failure::property("EventInvokeConfig", f.message))
    }

    fn put_event_invoke_config(&self, function: &str, body: EventInvokeConfigBody) -> Applied<()> {
        match self
            .lambda
            .put_event_invoke_config(&self.ctx, function, body)
        {
            Ok(true) => {
                self.note(Outcome::Updated);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(blame(
                "PutFunctionEventInvokeConfig",
                e,
                &[
                    "MaximumRetryAttempts",
                    "MaximumEventAgeInSeconds",
                    "DestinationConfig",
                    "Destination",
                ],
                "FunctionName",
            )),
        }
    }
}

/// The API body from a template's values (SAM's `Type` of a destination is implied by its ARN).
fn body(
    retries: Option<&Value>,
    max_age: Option<&Value>,
    destinations: Option<&Value>,
) -> Applied<EventInvokeConfigBody> {
    let integer = |name: &str, v: Option<&Value>| -> Applied<Option<i64>> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .scalar_text()
                .and_then(|t| t.parse::<i64>().ok())
                .map(Some)
                .ok_or_else(|| Failure::property(name, "must be an integer")),
        }
    };
    let destination_config = match destinations {
        None | Some(Value::Null) => None,
        Some(v) => {
            let map = v.as_map().ok_or_else(|| {
                Failure::property("DestinationConfig", "must be {OnSuccess, OnFailure}")
            })?;
            Some(DestinationConfig {
                on_success: side(map, "OnSuccess")?,
                on_failure: side(map, "OnFailure")?,
            })
        }
    };
    Ok(EventInvokeConfigBody {
        maximum_retry_attempts: integer("MaximumRetryAttempts", retries)?,
        maximum_event_age_in_seconds: integer("MaximumEventAgeInSeconds", max_age)?,
        destination_config,
    })
}

fn side(map: &Map, name: &str) -> Applied<Option<OnOutcome>> {
    let Some(value) = map.get(name) else {
        return Ok(None);
    };
    let side = value.as_map().ok_or_else(|| {
        Failure::property(
            "DestinationConfig",
            format!("{name} must be {{Destination}}"),
        )
    })?;
    match side.get("Destination").and_then(Value::scalar_text) {
        Some(destination) => Ok(Some(OnOutcome {
            destination: Some(destination),
        })),
        None => Err(Failure::property(
            "DestinationConfig",
            format!("{name}.Destination is required (lyrebird does not create SAM's implicit destination resources)"),
        )),
    }
}
