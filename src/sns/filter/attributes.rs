//! SNS message attributes (the `MessageAttributes` scope): how each attribute type presents its
//! value to the conditions. `String` and custom `String.*` types are strings, `Number` /
//! `Number.*` numbers, `String.Array` a JSON array carried in `string_value` (each element
//! tested); `Binary` attributes are ignored.

use serde_json::Value;

use crate::sqs::model::{MessageAttributeValue, MessageAttributes};

use crate::ruler::compile::{Cond, KeyRule, Rules};
use crate::ruler::matching::{leaf_of, Leaf};

/// Current SNS docs: `anything-but` on a `String.Array` attribute matches only if *none* of the
/// elements is excluded. Set to `false` for the older "at least one element" reading.
pub const STRING_ARRAY_ANYTHING_BUT_NEEDS_ALL: bool = true;

/// Whether `attributes` satisfy some branch of `rules` (which has at least one).
pub(super) fn matches(rules: &Rules, attributes: &MessageAttributes) -> bool {
    let has_any = attributes
        .values()
        .any(|a| attr_kind(a) != AttrKind::Binary);
    if !has_any {
        // Every condition needs a present attribute, except `exists: false`, which needs
        // at least one attribute on the message.
        return false;
    }
    let resolved: Vec<Resolved<'_>> = rules
        .paths
        .iter()
        .map(|name| resolve(attributes.get(name)))
        .collect();
    rules.branches.iter().any(|branch| {
        branch
            .iter()
            .all(|rule| rule_matches_attribute(rule, &resolved[rule.path]))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrKind {
    String,
    Number,
    StringArray,
    Binary,
}

/// Custom types (`String.foo`, `Number.int`) behave as their base type.
fn attr_kind(attr: &MessageAttributeValue) -> AttrKind {
    match attr.data_type.as_deref() {
        Some("String.Array") => AttrKind::StringArray,
        Some(t) => match t.split('.').next().unwrap_or("") {
            "Number" => AttrKind::Number,
            "Binary" => AttrKind::Binary,
            _ => AttrKind::String,
        },
        None if attr.string_value.is_none() && attr.binary_value.is_some() => AttrKind::Binary,
        None => AttrKind::String,
    }
}

enum Resolved<'a> {
    Absent,
    Scalar(Leaf<'a>),
    Array(Vec<Value>),
}

fn resolve(attr: Option<&MessageAttributeValue>) -> Resolved<'_> {
    let Some(attr) = attr else {
        return Resolved::Absent;
    };
    let kind = attr_kind(attr);
    let Some(text) = attr.string_value.as_deref() else {
        return Resolved::Absent;
    };
    match kind {
        AttrKind::Binary => Resolved::Absent,
        AttrKind::String => Resolved::Scalar(Leaf::Str(text)),
        AttrKind::Number => match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Resolved::Scalar(Leaf::Num(n)),
            _ => Resolved::Scalar(Leaf::Str(text)),
        },
        AttrKind::StringArray => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Resolved::Array(items),
            // AWS accepts a `String.Array` that is not an array: a JSON scalar matches as that
            // value, anything else matches nothing.
            Ok(scalar) => Resolved::Array(vec![scalar]),
            Err(_) => Resolved::Array(Vec::new()),
        },
    }
}

/// Called only when the message carries at least one (non-binary) attribute.
fn rule_matches_attribute(rule: &KeyRule, value: &Resolved<'_>) -> bool {
    rule.conds.iter().any(|cond| match (cond, value) {
        (Cond::Exists(want), Resolved::Absent) => !*want,
        (Cond::Exists(want), Resolved::Scalar(leaf)) => *want && leaf.is_present(),
        (Cond::Exists(want), Resolved::Array(items)) => {
            *want && items.iter().filter_map(leaf_of).any(Leaf::is_present)
        }
        (_, Resolved::Absent) => false,
        (_, Resolved::Scalar(leaf)) => cond.matches_value(*leaf),
        (Cond::AnythingBut(ab), Resolved::Array(items)) if STRING_ARRAY_ANYTHING_BUT_NEEDS_ALL => {
            let mut leaves = items.iter().filter_map(leaf_of).peekable();
            leaves.peek().is_some() && leaves.all(|leaf| !ab.excludes(leaf))
        }
        (_, Resolved::Array(items)) => items
            .iter()
            .filter_map(leaf_of)
            .any(|leaf| cond.matches_value(leaf)),
    })
}
