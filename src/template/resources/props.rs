//! Shared property handling: a resource's resolved properties read by their CloudFormation
//! types into the text the SQS and SNS APIs take, and the failures that name the property to
//! blame.

use std::collections::BTreeMap;

use crate::error::AwsError;

use crate::template::parse::{Map, Value};

/// CloudFormation property types, as far as they matter for turning a value into API text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
    String,
    Integer,
    Boolean,
    /// A JSON document, given as an object or as a string holding one.
    Json,
    Strings,
    /// `[{Key, Value}]`
    Tags,
    /// Structured; read by the resource's own code.
    Other,
}

/// Why a resource could not be applied, and which property is to blame when one is.
#[derive(Debug)]
pub struct Failure {
    pub property: Option<String>,
    pub message: String,
}

impl Failure {
    pub(super) fn property(property: &str, message: impl Into<String>) -> Self {
        Failure {
            property: Some(property.to_string()),
            message: message.into(),
        }
    }
}

pub(super) type Applied<T> = Result<T, Failure>;

/// An API error, blamed on the first candidate property its message names (or `fallback`).
pub(super) fn blame(
    operation: &str,
    error: AwsError,
    candidates: &[&str],
    fallback: &str,
) -> Failure {
    let lower = error.message.to_ascii_lowercase();
    let property = candidates
        .iter()
        .find(|c| lower.contains(&c.to_ascii_lowercase()))
        .copied()
        .unwrap_or(fallback);
    Failure::property(
        property,
        format!(
            "{operation} failed: {}: {}",
            error.code.query_code, error.message
        ),
    )
}

/// Whether two attribute values mean the same (JSON documents compare as JSON).
pub(super) fn same(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (
                serde_json::from_str::<serde_json::Value>(a),
                serde_json::from_str::<serde_json::Value>(b),
            ),
            (Ok(x), Ok(y)) if x == y && x.is_object()
        )
}

/// A resource's resolved properties, read by their CloudFormation types.
pub(super) struct Props<'a> {
    map: &'a Map,
}

impl<'a> Props<'a> {
    /// Rejects properties the type (whose property table is `table`) does not have, as
    /// CloudFormation does.
    pub(super) fn new(table: &[(&str, Type)], type_name: &str, map: &'a Map) -> Applied<Self> {
        for key in map.keys() {
            if !table.iter().any(|(name, _)| *name == key) {
                return Err(Failure::property(
                    key,
                    format!("{type_name} has no property {key}"),
                ));
            }
        }
        Ok(Props { map })
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| **v != Value::Null)
    }

    /// A property as the text its API attribute takes.
    pub(super) fn text(&self, name: &str, ty: Type) -> Applied<Option<String>> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let wrong = |expected: &str| {
            Err(Failure::property(
                name,
                format!("must be {expected}, not {}", value.kind()),
            ))
        };
        match ty {
            Type::String => match value.scalar_text() {
                Some(s) => Ok(Some(s)),
                None => wrong("a string"),
            },
            Type::Integer => match value.scalar_text() {
                Some(s) if s.trim().parse::<i64>().is_ok() => Ok(Some(s.trim().to_string())),
                Some(s) => Err(Failure::property(
                    name,
                    format!("must be an integer, not {s:?}"),
                )),
                None => wrong("an integer"),
            },
            Type::Boolean => match value.scalar_text().map(|s| s.to_ascii_lowercase()) {
                Some(s) if s == "true" || s == "false" => Ok(Some(s)),
                Some(s) => Err(Failure::property(
                    name,
                    format!("must be true or false, not {s:?}"),
                )),
                None => wrong("true or false"),
            },
            Type::Json => match value {
                Value::Map(_) => Ok(Some(value.to_json().to_string())),
                Value::String(s) => Ok(Some(s.clone())),
                _ => wrong("a JSON object"),
            },
            Type::Strings | Type::Tags | Type::Other => {
                unreachable!("{name} is not a scalar property")
            }
        }
    }

    pub(super) fn required(&self, name: &str) -> Applied<String> {
        self.text(name, Type::String)?
            .ok_or_else(|| Failure::property(name, "is required"))
    }

    pub(super) fn strings(&self, name: &str) -> Applied<Vec<String>> {
        match self.get(name) {
            None => Err(Failure::property(name, "is required")),
            Some(Value::List(items)) => items
                .iter()
                .map(|i| {
                    i.scalar_text().ok_or_else(|| {
                        Failure::property(
                            name,
                            format!("must be a list of strings, not {}", i.kind()),
                        )
                    })
                })
                .collect(),
            Some(other) => Err(Failure::property(
                name,
                format!("must be a list, not {}", other.kind()),
            )),
        }
    }

    /// `Tags: [{Key, Value}]`
    pub(super) fn tags(&self) -> Applied<BTreeMap<String, String>> {
        let mut tags = BTreeMap::new();
        let Some(value) = self.get("Tags") else {
            return Ok(tags);
        };
        let bad = || Failure::property("Tags", "must be a list of {Key, Value}");
        let Value::List(items) = value else {
            return Err(bad());
        };
        for item in items {
            let map = item.as_map().ok_or_else(bad)?;
            let key = map
                .get("Key")
                .and_then(Value::scalar_text)
                .ok_or_else(bad)?;
            let value = map
                .get("Value")
                .and_then(Value::scalar_text)
                .ok_or_else(bad)?;
            tags.insert(key, value);
        }
        Ok(tags)
    }

    /// The API attributes of every scalar property listed in `table`, except `skip`.
    pub(super) fn attributes(
        &self,
        table: &[(&str, Type)],
        skip: &[&str],
    ) -> Applied<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (name, ty) in table {
            if skip.contains(name) || matches!(ty, Type::Strings | Type::Tags | Type::Other) {
                continue;
            }
            if let Some(text) = self.text(name, *ty)? {
                out.insert(name.to_string(), text);
            }
        }
        Ok(out)
    }
}

/// What turns a resource's `current` tags into the `wanted` ones: the keys to remove, and the
/// tags to add or change (queues and topics converge their tags the same way).
pub(super) fn tag_changes(
    current: &BTreeMap<String, String>,
    wanted: BTreeMap<String, String>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let stale = current
        .keys()
        .filter(|k| !wanted.contains_key(*k))
        .cloned()
        .collect();
    let changed = wanted
        .into_iter()
        .filter(|(k, v)| current.get(k) != Some(v))
        .collect();
    (stale, changed)
}
