//! SNS subscription filter policies (`FilterPolicy` + `FilterPolicyScope`).
//!
//! A policy is validated and compiled once, at `Subscribe` / `SetSubscriptionAttributes` time,
//! into a disjunctive normal form: a list of branches (one per `$or` alternative), each a list
//! of `(property path, conditions)` that must all hold. Matching a message then only walks the
//! message against that structure: the policy JSON is never re-parsed and no regex is used.
//!
//! AWS validates policies with the rule compiler that was open-sourced as `aws/event-ruler`
//! (the error texts are its texts), plus SNS-specific checks: the 5-key limit, the complexity
//! limit of 150, the "no nesting in the `MessageAttributes` scope" rule, and an allowlist of
//! operators (`wildcard`, `exactly` and the `anything-but` forms other than `prefix` are
//! rejected). Validation follows the document order of the policy, as the streaming compiler
//! does, so the first offending construct is the one reported; the SNS checks come after it, in
//! the order: key count, nesting (`MessageAttributes` scope), complexity.
//!
//! Complexity, as in the constraints page and the AWS recordings: every condition array counts
//! its length times its nesting depth (top level = 1, `$or` does not add depth), sibling keys
//! multiply and `$or` alternatives add up; above 150 the policy is rejected. For example
//! `{"a":{"b":{"c":[4 values]}},"d":{"e":[3 values]},"f":[3 values]}` is 3·4 × 2·3 × 1·3 = 216.
//!
//! Decisions on points the AWS wire reference (section 5.6) marks UNVERIFIED, or where the
//! sources disagree:
//! * `anything-but` with a nested `suffix` (or anything but `prefix`) is rejected with
//!   `Unsupported anything-but pattern: suffix`: that is what AWS answered when recorded, and
//!   the SNS operator list only documents "String matching using a prefix with the
//!   anything-but operator". `wildcard` is rejected as `Unrecognized match type wildcard`.
//! * `anything-but` on a `String.Array` attribute: the current SNS docs say "For String.Array
//!   type attributes, it matches if none of the array elements are listed in the policy
//!   property" (older doc versions said it matched when at least one element was not listed).
//!   We follow the current docs ([`STRING_ARRAY_ANYTHING_BUT_NEEDS_ALL`]). Arrays in a message
//!   *body* keep the per-element semantics of the body examples (any element not excluded).
//! * Arrays in a message body are "array consistent", as event-ruler's JSON matcher is: two
//!   policy keys cannot be satisfied by values that sit in different elements of the same array.
//! * The key limit counts the top-level keys of the policy (a top-level `$or` counts as one),
//!   as the current constraints page says ("only parent keys are counted").
//! * `null` in a policy matches a JSON `null` in the body (or in a `String.Array`), never a
//!   missing property.
//! * Numeric bounds: the SNS docs announce -10^9..10^9 with 5 decimals, but AWS was observed to
//!   accept larger operands; the compiler SNS uses accepts -5e9..5e9 and compares with 6
//!   decimal digits, so that is what we enforce (`Value must be between -5.0E9 and 5.0E9,
//!   inclusive`). Exact numeric literals outside that range are accepted and compared as plain
//!   floats. Message values outside the range never satisfy `numeric`.
//! * `exists: true` needs a non-null, non-empty value (current key-matching docs); `exists:
//!   false` needs the property to be absent *and* the message to carry at least one attribute
//!   (body scope: the body object has at least one property).
//! * A policy of `{}` is accepted and matches every message.
//!
//! Layout: the engine is event-ruler's pattern language, shared with EventBridge, in
//! `crate::ruler` (the document as parsed, validation and `$or` expansion, IP/CIDR, matching
//! one value and a whole JSON document). SNS's own parts are this file (the scopes, the 5-key /
//! nesting / complexity limits, the error wording) and `attributes.rs` (how message attributes
//! present their values). The unit tests are in `tests.rs`.

mod attributes;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::sqs::model::MessageAttributes;

use crate::ruler::compile::{parse_object, Dialect, Node, Rules};
use crate::ruler::document::{self, PathIndex};
use crate::ruler::json::Json;

pub use attributes::STRING_ARRAY_ANYTHING_BUT_NEEDS_ALL;

/// Which part of a message a subscription's filter policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterScope {
    MessageAttributes,
    MessageBody,
}

/// The reason AWS gives when a nested policy is set in the `MessageAttributes` scope. Unlike
/// every other reason, AWS reports it without the `FilterPolicy: ` field prefix; see
/// [`error_message`].
pub const NESTED_POLICY_REASON: &str =
    "Filter policy scope MessageAttributes does not support nested filter policy";

const MAX_KEYS: usize = 5;
const MAX_COMPLEXITY: u64 = 150;

/// Builds the complete `InvalidParameter` message for a [`FilterPolicy::compile`] error.
/// `on_subscribe` selects the `Subscribe` wording (`Attributes Reason: `) over the
/// `SetSubscriptionAttributes` one.
pub fn error_message(reason: &str, on_subscribe: bool) -> String {
    let base = if on_subscribe {
        "Invalid parameter: Attributes Reason: "
    } else {
        "Invalid parameter: "
    };
    if reason == NESTED_POLICY_REASON {
        format!("{base}{reason}")
    } else {
        format!("{base}FilterPolicy: {reason}")
    }
}

/// A policy compiled once at subscribe time.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: FilterScope,
    /// Disjunctive normal form over interned property paths (attribute names in the
    /// `MessageAttributes` scope; dotted paths in the `MessageBody` scope). No branches only
    /// for the policy `{}`, which matches everything.
    rules: Rules,
    /// `MessageBody` scope only: the paths indexed to prune the walk of message bodies.
    body_index: PathIndex,
}

impl FilterPolicy {
    /// Parses and validates. On error returns AWS's reason text without any prefix (see
    /// [`error_message`] for the full wording).
    pub fn compile(policy_json: &str, scope: FilterScope) -> Result<FilterPolicy, String> {
        let root: Json =
            serde_json::from_str(policy_json).map_err(|e| format!("failed to parse JSON. {e}"))?;
        let Json::Obj(entries) = root else {
            return Err("Filter is not an object".to_owned());
        };
        if entries.is_empty() {
            return Ok(FilterPolicy {
                scope,
                rules: Rules::default(),
                body_index: PathIndex::default(),
            });
        }

        // 1. Syntax, in document order (the rule compiler's errors).
        let tree = parse_object(&entries, false, Dialect::Sns)?;

        // 2. SNS limits.
        check_sns_limits(&tree, scope)?;

        // 3. Expand `$or` into branches (at most 150 of them: each adds at least 1 to the
        //    complexity) and intern the paths.
        let rules = tree.to_rules();
        let body_index = match scope {
            FilterScope::MessageBody => PathIndex::new(&rules.paths),
            FilterScope::MessageAttributes => PathIndex::default(),
        };
        Ok(FilterPolicy {
            scope,
            rules,
            body_index,
        })
    }

    pub fn scope(&self) -> FilterScope {
        self.scope
    }

    /// `MessageAttributes` scope: matches against SNS message attributes (see `attributes.rs`).
    pub fn matches_attributes(&self, attributes: &MessageAttributes) -> bool {
        self.rules.branches.is_empty() || attributes::matches(&self.rules, attributes)
    }

    /// `MessageBody` scope: the body must be a JSON object (see `document.rs`).
    pub fn matches_body(&self, body: &str) -> bool {
        if self.rules.branches.is_empty() {
            return true;
        }
        let Ok(Value::Object(root)) = serde_json::from_str::<Value>(body) else {
            return false;
        };
        document::matches(&self.rules, &self.body_index, &root, Dialect::Sns)
    }

    /// Dispatches on the policy's scope.
    pub fn matches(&self, attributes: &MessageAttributes, body: &str) -> bool {
        match self.scope {
            FilterScope::MessageAttributes => self.matches_attributes(attributes),
            FilterScope::MessageBody => self.matches_body(body),
        }
    }
}

/// SNS's own limits, checked after the syntax, in this order: key count, nesting
/// (`MessageAttributes` scope), complexity.
fn check_sns_limits(tree: &Node, scope: FilterScope) -> Result<(), String> {
    if tree.entries.len() > MAX_KEYS {
        return Err("Filter policy can not have more than 5 keys".to_owned());
    }
    if scope == FilterScope::MessageAttributes && tree.has_nesting() {
        return Err(NESTED_POLICY_REASON.to_owned());
    }
    if tree.complexity(1) > MAX_COMPLEXITY {
        return Err("Filter policy is too complex".to_owned());
    }
    Ok(())
}
