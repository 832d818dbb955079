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

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv6Addr;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::sqs::model::{MessageAttributeValue, MessageAttributes};

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

/// Current SNS docs: `anything-but` on a `String.Array` attribute matches only if *none* of the
/// elements is excluded. Set to `false` for the older "at least one element" reading.
pub const STRING_ARRAY_ANYTHING_BUT_NEEDS_ALL: bool = true;

const MAX_KEYS: usize = 5;
const MAX_COMPLEXITY: u64 = 150;
/// Numeric operands must lie in `-NUMERIC_LIMIT..=NUMERIC_LIMIT`.
const NUMERIC_LIMIT: f64 = 5e9;
/// Numbers are compared after scaling to this many units (6 decimal digits).
const NUMERIC_SCALE: f64 = 1e6;
const NUMERIC_RANGE_ERROR: &str = "Value must be between -5.0E9 and 5.0E9, inclusive";
const ONE_KEY: &str = "Only one key allowed in match expression";
const TOO_MANY_ELEMENTS: &str = "Too many elements in numeric expression";
const OR_KEY: &str = "$or";
/// Field names that may not appear inside an `$or` object.
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "wildcard",
    "regex",
];

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
    /// Distinct property paths (attribute names in the `MessageAttributes` scope; dotted paths
    /// in the `MessageBody` scope) referenced by the rules.
    paths: Vec<String>,
    /// Every path and every dot-boundary prefix of a path, mapped to the path index when it is
    /// a full path. Used to prune the walk of message bodies.
    body_prefixes: HashMap<String, Option<usize>>,
    /// Disjunctive normal form: the message matches if every rule of some branch holds.
    /// Empty only for the policy `{}`, which matches everything.
    branches: Vec<Vec<KeyRule>>,
}

#[derive(Debug, Clone)]
struct KeyRule {
    /// Index into `FilterPolicy::paths`.
    path: usize,
    /// ORed conditions; never empty.
    conds: Vec<Cond>,
}

#[derive(Debug, Clone)]
enum Cond {
    Exact(Literal),
    Prefix(String),
    Suffix(String),
    /// Stored lower-cased.
    EqualsIgnoreCase(String),
    AnythingBut(AnythingBut),
    Numeric(NumRange),
    Exists(bool),
    Cidr(IpNet),
}

#[derive(Debug, Clone)]
enum Literal {
    /// `ip` is set when the string is an IP address literal: such values also match the same
    /// address written differently (`10.0.0.1` / `010.0.0.1`, IPv6 zero compression).
    Str {
        text: String,
        ip: Option<Ip>,
    },
    /// `scaled` is `None` outside the comparable range; the raw float is compared then.
    Num {
        value: f64,
        scaled: Option<i64>,
    },
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
enum AnythingBut {
    Strings(Vec<String>),
    /// Scaled numbers.
    Numbers(Vec<i64>),
    Prefix(String),
}

/// A numeric interval over scaled numbers; `*_open` excludes the bound.
#[derive(Debug, Clone, Copy)]
struct NumRange {
    low: i64,
    low_open: bool,
    high: i64,
    high_open: bool,
}

/// An IP address: IPv4 addresses use the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ip {
    v6: bool,
    bits: u128,
}

#[derive(Debug, Clone, Copy)]
struct IpNet {
    v6: bool,
    network: u128,
    mask: u128,
}

/// A scalar value taken from a message.
#[derive(Debug, Clone, Copy)]
enum Leaf<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Null,
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
                paths: Vec::new(),
                body_prefixes: HashMap::new(),
                branches: Vec::new(),
            });
        }

        // 1. Syntax, in document order (the rule compiler's errors).
        let tree = parse_object(&entries, false)?;

        // 2. SNS limits.
        if tree.entries.len() > MAX_KEYS {
            return Err("Filter policy can not have more than 5 keys".to_owned());
        }
        if scope == FilterScope::MessageAttributes && tree.has_nesting() {
            return Err(NESTED_POLICY_REASON.to_owned());
        }
        if tree.complexity(1) > MAX_COMPLEXITY {
            return Err("Filter policy is too complex".to_owned());
        }

        // 3. Expand `$or` into branches (at most 150 of them: each adds at least 1 to the
        //    complexity) and intern the paths.
        let expanded = tree.expand("", vec![Vec::new()]);
        let mut paths: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut branches = Vec::with_capacity(expanded.len());
        for branch in expanded {
            let mut rules = Vec::with_capacity(branch.len());
            for (path, conds) in branch {
                let next = paths.len();
                let idx = *index.entry(path.clone()).or_insert(next);
                if idx == next {
                    paths.push(path);
                }
                rules.push(KeyRule { path: idx, conds });
            }
            branches.push(rules);
        }

        let mut body_prefixes: HashMap<String, Option<usize>> = HashMap::new();
        if scope == FilterScope::MessageBody {
            for (i, path) in paths.iter().enumerate() {
                for (pos, _) in path.match_indices('.') {
                    body_prefixes.entry(path[..pos].to_owned()).or_insert(None);
                }
                body_prefixes.insert(path.clone(), Some(i));
            }
        }

        Ok(FilterPolicy {
            scope,
            paths,
            body_prefixes,
            branches,
        })
    }

    pub fn scope(&self) -> FilterScope {
        self.scope
    }

    /// `MessageAttributes` scope: matches against SNS message attributes. `String` and custom
    /// `String.*` types are strings, `Number` / `Number.*` numbers, `String.Array` a JSON array
    /// carried in `string_value` (each element tested); `Binary` attributes are ignored.
    pub fn matches_attributes(&self, attributes: &MessageAttributes) -> bool {
        if self.branches.is_empty() {
            return true;
        }
        let has_any = attributes
            .values()
            .any(|a| attr_kind(a) != AttrKind::Binary);
        if !has_any {
            // Every condition needs a present attribute, except `exists: false`, which needs
            // at least one attribute on the message.
            return false;
        }
        let resolved: Vec<Resolved<'_>> = self
            .paths
            .iter()
            .map(|name| resolve(attributes.get(name)))
            .collect();
        self.branches.iter().any(|branch| {
            branch
                .iter()
                .all(|rule| rule_matches_attribute(rule, &resolved[rule.path]))
        })
    }

    /// `MessageBody` scope: the body must be a JSON object; nested policy keys address nested
    /// properties, dotted keys match both nested and dotted property names, and a property
    /// holding an array matches when one of its elements does.
    pub fn matches_body(&self, body: &str) -> bool {
        if self.branches.is_empty() {
            return true;
        }
        let Ok(Value::Object(root)) = serde_json::from_str::<Value>(body) else {
            return false;
        };
        let mut found: Vec<Vec<Occurrence<'_>>> =
            (0..self.paths.len()).map(|_| Vec::new()).collect();
        let mut walker = BodyWalker {
            prefixes: &self.body_prefixes,
            found: &mut found,
            path: String::new(),
            arrays: Vec::new(),
            next_array: 0,
        };
        for (key, value) in &root {
            walker.visit_member(key, value);
        }
        let non_empty = !root.is_empty();
        self.branches
            .iter()
            .any(|branch| branch_matches_body(branch, &found, non_empty))
    }

    /// Dispatches on the policy's scope.
    pub fn matches(&self, attributes: &MessageAttributes, body: &str) -> bool {
        match self.scope {
            FilterScope::MessageAttributes => self.matches_attributes(attributes),
            FilterScope::MessageBody => self.matches_body(body),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Policy JSON, order-preserving (errors are reported for the first offending key in document
// order, and numbers keep their text for error messages).

#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Num(f64, String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Num(v as f64, v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Num(v as f64, v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Num(v, v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        // Duplicate keys: the last one wins (as when the compiler overwrites a rule).
        let mut entries: Vec<Option<(String, Json)>> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            if let Some(old) = seen.insert(key.clone(), entries.len()) {
                entries[old] = None;
            }
            entries.push(Some((key, value)));
        }
        Ok(Json::Obj(entries.into_iter().flatten().collect()))
    }
}

/// The text a streaming parser would show for the token `v` (`]` for the end of an array).
fn token_text(v: Option<&Json>) -> String {
    match v {
        None => "]".to_owned(),
        Some(Json::Null) => "null".to_owned(),
        Some(Json::Bool(b)) => b.to_string(),
        Some(Json::Num(_, text)) => text.clone(),
        Some(Json::Str(s)) => s.clone(),
        Some(Json::Arr(_)) => "[".to_owned(),
        Some(Json::Obj(_)) => "{".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation / compilation.

/// A validated policy object, before `$or` expansion.
#[derive(Debug)]
struct Node {
    entries: Vec<(String, Entry)>,
}

#[derive(Debug)]
enum Entry {
    Rules(Vec<Cond>),
    Nested(Node),
    Or(Vec<Node>),
}

impl Node {
    fn has_nesting(&self) -> bool {
        self.entries.iter().any(|(_, entry)| match entry {
            Entry::Rules(_) => false,
            Entry::Nested(_) => true,
            Entry::Or(branches) => branches.iter().any(Node::has_nesting),
        })
    }

    /// The number of value combinations: each array counts its length times its nesting depth
    /// (top level = 1), keys multiply, `$or` alternatives add up. Saturating.
    fn complexity(&self, depth: u64) -> u64 {
        self.entries.iter().fold(1u64, |acc, (_, entry)| {
            let factor = match entry {
                Entry::Rules(conds) => (conds.len() as u64).saturating_mul(depth),
                Entry::Nested(node) => node.complexity(depth + 1),
                Entry::Or(branches) => branches
                    .iter()
                    .fold(0u64, |sum, b| sum.saturating_add(b.complexity(depth))),
            };
            acc.saturating_mul(factor)
        })
    }

    /// Expands into branches of `(path, conditions)`, in document order; a later rule for the
    /// same path replaces an earlier one within a branch.
    fn expand(
        &self,
        prefix: &str,
        mut branches: Vec<Vec<(String, Vec<Cond>)>>,
    ) -> Vec<Vec<(String, Vec<Cond>)>> {
        for (key, entry) in &self.entries {
            match entry {
                Entry::Rules(conds) => {
                    let path = join_path(prefix, key);
                    for branch in &mut branches {
                        match branch.iter_mut().find(|(p, _)| *p == path) {
                            Some(slot) => slot.1 = conds.clone(),
                            None => branch.push((path.clone(), conds.clone())),
                        }
                    }
                }
                Entry::Nested(node) => branches = node.expand(&join_path(prefix, key), branches),
                Entry::Or(alternatives) => {
                    branches = alternatives
                        .iter()
                        .flat_map(|alt| alt.expand(prefix, branches.clone()))
                        .collect();
                }
            }
        }
        branches
    }
}

fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn parse_object(entries: &[(String, Json)], in_or: bool) -> Result<Node, String> {
    if entries.is_empty() {
        return Err("Empty objects are not allowed".to_owned());
    }
    let mut out = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if name == OR_KEY {
            out.push((name.clone(), Entry::Or(parse_or(value)?)));
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&name.as_str()) {
            return Err(format!(
                "{name} is Ruler reserved fieldName which cannot be used inside $or."
            ));
        }
        let entry = match value {
            Json::Obj(inner) => Entry::Nested(parse_object(inner, in_or)?),
            Json::Arr(items) => Entry::Rules(parse_rules(items)?),
            _ => return Err(format!("\"{name}\" must be an object or an array")),
        };
        out.push((name.clone(), entry));
    }
    Ok(Node { entries: out })
}

fn parse_or(value: &Json) -> Result<Vec<Node>, String> {
    let Json::Arr(items) = value else {
        return Err("It must be an Array followed with $or.".to_owned());
    };
    let mut branches = Vec::with_capacity(items.len());
    for item in items {
        let Json::Obj(entries) = item else {
            return Err("Only JSON object is allowed in array of $or relationship.".to_owned());
        };
        branches.push(parse_object(entries, true)?);
    }
    if branches.len() < 2 {
        return Err("There must have at least 2 Objects in $or relationship.".to_owned());
    }
    Ok(branches)
}

fn parse_rules(items: &[Json]) -> Result<Vec<Cond>, String> {
    let mut conds = Vec::with_capacity(items.len());
    for item in items {
        let cond = match item {
            Json::Obj(entries) => parse_match_expression(entries)?,
            Json::Str(s) => Cond::Exact(Literal::Str {
                text: s.clone(),
                ip: parse_ip(s).ok(),
            }),
            Json::Num(value, _) => Cond::Exact(Literal::Num {
                value: *value,
                scaled: scaled(*value),
            }),
            Json::Bool(b) => Cond::Exact(Literal::Bool(*b)),
            Json::Null => Cond::Exact(Literal::Null),
            Json::Arr(_) => {
                return Err("Match value must be String, number, true, false, or null".to_owned())
            }
        };
        conds.push(cond);
    }
    if conds.is_empty() {
        return Err("Empty arrays are not allowed".to_owned());
    }
    Ok(conds)
}

fn parse_match_expression(entries: &[(String, Json)]) -> Result<Cond, String> {
    let Some((name, value)) = entries.first() else {
        return Err("Match expression name not found".to_owned());
    };
    let extra_keys = entries.len() > 1;
    let string_operand = || match value {
        Json::Str(s) => Ok(s.clone()),
        _ => Err(format!("{name} match pattern must be a string")),
    };
    let cond = match name.as_str() {
        "prefix" => Cond::Prefix(string_operand()?),
        "suffix" => Cond::Suffix(string_operand()?),
        "equals-ignore-case" => Cond::EqualsIgnoreCase(lowercase(&string_operand()?)),
        "numeric" => {
            let Json::Arr(items) = value else {
                return Err("Value of numeric must be an array.".to_owned());
            };
            let range = parse_numeric(items)?;
            if extra_keys {
                return Err(TOO_MANY_ELEMENTS.to_owned());
            }
            return Ok(Cond::Numeric(range));
        }
        "anything-but" => {
            let (anything_but, prefix_form) = parse_anything_but(value)?;
            if extra_keys {
                // The prefix form closes two objects and checks both the same way.
                return Err(if prefix_form {
                    ONE_KEY
                } else {
                    TOO_MANY_ELEMENTS
                }
                .to_owned());
            }
            return Ok(Cond::AnythingBut(anything_but));
        }
        "exists" => match value {
            Json::Bool(b) => Cond::Exists(*b),
            _ => return Err("exists match pattern must be either true or false.".to_owned()),
        },
        "cidr" => match value {
            // Sic: AWS reports the prefix message here.
            Json::Str(s) => Cond::Cidr(parse_cidr(s)?),
            _ => return Err("prefix match pattern must be a string".to_owned()),
        },
        _ => return Err(format!("Unrecognized match type {name}")),
    };
    if extra_keys {
        return Err(ONE_KEY.to_owned());
    }
    Ok(cond)
}

/// Returns the pattern and whether it was the `{"prefix": ...}` form.
fn parse_anything_but(value: &Json) -> Result<(AnythingBut, bool), String> {
    match value {
        Json::Obj(inner) => {
            let Some((op, operand)) = inner.first() else {
                return Err("Anything-But expression name not found".to_owned());
            };
            if op != "prefix" {
                return Err(format!("Unsupported anything-but pattern: {op}"));
            }
            let Json::Str(prefix) = operand else {
                return Err("prefix match pattern must be a string".to_owned());
            };
            if prefix.is_empty() {
                return Err("Null prefix not allowed".to_owned());
            }
            if inner.len() > 1 {
                return Err(ONE_KEY.to_owned());
            }
            Ok((AnythingBut::Prefix(prefix.clone()), true))
        }
        Json::Arr(items) => {
            let mut strings = Vec::new();
            let mut numbers = Vec::new();
            for item in items {
                match item {
                    Json::Str(s) => strings.push(s.clone()),
                    Json::Num(n, _) => numbers.push(comparable(*n)?),
                    _ => {
                        return Err(
                            "Inside anything but list, start|null|boolean is not supported."
                                .to_owned(),
                        )
                    }
                }
            }
            match (strings.is_empty(), numbers.is_empty()) {
                (false, true) => Ok((AnythingBut::Strings(strings), false)),
                (true, false) => Ok((AnythingBut::Numbers(numbers), false)),
                _ => Err(
                    "Inside anything but list, either all values are number or string, \
                          mixed type is not supported"
                        .to_owned(),
                ),
            }
        }
        Json::Str(s) => Ok((AnythingBut::Strings(vec![s.clone()]), false)),
        Json::Num(n, _) => Ok((AnythingBut::Numbers(vec![comparable(*n)?]), false)),
        _ => {
            Err("Value of anything-but must be an array or single string/number value.".to_owned())
        }
    }
}

fn parse_numeric(items: &[Json]) -> Result<NumRange, String> {
    let op = match items.first() {
        Some(Json::Str(op)) => op.as_str(),
        other => {
            return Err(format!(
                "Invalid member in numeric match: {}",
                token_text(other)
            ))
        }
    };
    let operand = |i: usize| match items.get(i) {
        Some(Json::Num(n, _)) => Some(*n),
        _ => None,
    };
    match op {
        "=" => {
            let value = operand(1).ok_or("Value of equals must be numeric")?;
            if items.len() > 2 {
                return Err(TOO_MANY_ELEMENTS.to_owned());
            }
            let v = comparable(value)?;
            Ok(NumRange {
                low: v,
                low_open: false,
                high: v,
                high_open: false,
            })
        }
        ">" | ">=" => {
            let bottom = operand(1).ok_or_else(|| format!("Value of {op} must be numeric"))?;
            let open = op == ">";
            if items.len() == 2 {
                return range(bottom, open, NUMERIC_LIMIT, false);
            }
            let top_op = match &items[2] {
                Json::Str(s) => s.as_str(),
                other => {
                    return Err(format!(
                        "Bad value in numeric range: {}",
                        token_text(Some(other))
                    ))
                }
            };
            if top_op != "<" && top_op != "<=" {
                return Err(format!("Bad numeric range operator: {top_op}"));
            }
            let top = operand(3).ok_or_else(|| format!("Value of {top_op} must be numeric"))?;
            if items.len() > 4 {
                return Err("Too many terms in numeric range expression".to_owned());
            }
            range(bottom, open, top, top_op == "<")
        }
        "<" | "<=" => {
            let top = operand(1).ok_or_else(|| format!("Value of {op} must be numeric"))?;
            if items.len() > 2 {
                return Err(TOO_MANY_ELEMENTS.to_owned());
            }
            range(-NUMERIC_LIMIT, false, top, op == "<")
        }
        _ => Err(format!("Unrecognized numeric range operator: {op}")),
    }
}

/// One-sided ranges are closed at the opposite end of the comparable range, as the compiler
/// builds them (so `[">", 5e9]` fails with "Bottom must be less than top").
fn range(bottom: f64, low_open: bool, top: f64, high_open: bool) -> Result<NumRange, String> {
    if bottom >= top {
        return Err("Bottom must be less than top".to_owned());
    }
    Ok(NumRange {
        low: comparable(bottom)?,
        low_open,
        high: comparable(top)?,
        high_open,
    })
}

/// Scales a policy operand, rejecting values outside the comparable range.
fn comparable(value: f64) -> Result<i64, String> {
    scaled(value).ok_or_else(|| NUMERIC_RANGE_ERROR.to_owned())
}

/// Scales a number to an integer with 6 decimal digits; `None` outside the comparable range.
fn scaled(value: f64) -> Option<i64> {
    if value.is_finite() && (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&value) {
        Some((value * NUMERIC_SCALE).round() as i64)
    } else {
        None
    }
}

fn lowercase(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Parses `ip/bits` the way the rule compiler does (Java `String.split` and `parseInt`).
fn parse_cidr(cidr: &str) -> Result<IpNet, String> {
    let mut parts: Vec<&str> = cidr.split('/').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() != 2 {
        return Err("Malformed CIDR, one '/' required".to_owned());
    }
    let bits: i32 = parts[1]
        .parse()
        .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_owned())?;
    if bits < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".to_owned());
    }
    let ip = parse_ip(parts[0])?;
    let width: u32 = if ip.v6 { 128 } else { 32 };
    if ip.v6 && bits > 127 {
        return Err("IPv6 mask bits must be < 128".to_owned());
    }
    if !ip.v6 && bits > 31 {
        return Err("IPv4 mask bits must be < 32".to_owned());
    }
    let host_bits = width - bits as u32;
    let all: u128 = if ip.v6 {
        u128::MAX
    } else {
        u128::from(u32::MAX)
    };
    let mask = all & !((1u128 << host_bits) - 1);
    Ok(IpNet {
        v6: ip.v6,
        network: ip.bits & mask,
        mask,
    })
}

/// Parses an IP address literal: dotted-quad IPv4 (decimal octets, leading zeros allowed) or
/// IPv6 without brackets, zone or embedded dotted quad; IPv4-mapped IPv6 becomes IPv4.
fn parse_ip(text: &str) -> Result<Ip, String> {
    let octets: Vec<&str> = text.split('.').collect();
    let looks_v4 = octets.len() == 4
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()));
    if looks_v4 {
        let mut bits: u32 = 0;
        for octet in octets {
            let trimmed = octet.trim_start_matches('0');
            let value = if trimmed.is_empty() {
                0
            } else if trimmed.len() > 3 {
                256
            } else {
                trimmed.parse::<u32>().unwrap_or(256)
            };
            if value > 255 {
                return Err(format!("Invalid IP address: {text}"));
            }
            bits = (bits << 8) | value;
        }
        return Ok(Ip {
            v6: false,
            bits: u128::from(bits),
        });
    }
    let looks_v6 = text.contains(':') && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    if looks_v6 {
        let addr: Ipv6Addr = text
            .parse()
            .map_err(|_| format!("Invalid IP address: {text}"))?;
        if let Some(v4) = addr.to_ipv4_mapped() {
            return Ok(Ip {
                v6: false,
                bits: u128::from(u32::from(v4)),
            });
        }
        return Ok(Ip {
            v6: true,
            bits: u128::from(addr),
        });
    }
    Err(format!("Nonstandard IP address: {text}"))
}

// ---------------------------------------------------------------------------------------------
// Matching.

impl Leaf<'_> {
    /// `exists: true` wants a non-null, non-empty value.
    fn is_present(self) -> bool {
        !matches!(self, Leaf::Null | Leaf::Str(""))
    }
}

fn leaf_of(value: &Value) -> Option<Leaf<'_>> {
    match value {
        Value::String(s) => Some(Leaf::Str(s)),
        Value::Number(n) => n.as_f64().map(Leaf::Num),
        Value::Bool(b) => Some(Leaf::Bool(*b)),
        Value::Null => Some(Leaf::Null),
        Value::Array(_) | Value::Object(_) => None,
    }
}

impl AnythingBut {
    fn excludes(&self, leaf: Leaf<'_>) -> bool {
        match (self, leaf) {
            (AnythingBut::Strings(set), Leaf::Str(s)) => set.iter().any(|x| x == s),
            (AnythingBut::Numbers(set), Leaf::Num(n)) => {
                scaled(n).is_some_and(|n| set.contains(&n))
            }
            (AnythingBut::Prefix(p), Leaf::Str(s)) => s.starts_with(p.as_str()),
            _ => false,
        }
    }
}

impl NumRange {
    fn contains(&self, n: f64) -> bool {
        let Some(v) = scaled(n) else {
            return false;
        };
        let above = if self.low_open {
            v > self.low
        } else {
            v >= self.low
        };
        let below = if self.high_open {
            v < self.high
        } else {
            v <= self.high
        };
        above && below
    }
}

impl IpNet {
    fn contains(&self, ip: Ip) -> bool {
        ip.v6 == self.v6 && ip.bits & self.mask == self.network
    }
}

impl Cond {
    /// Whether a single present value satisfies this condition (`exists` is decided by the
    /// caller, from the presence of the property).
    fn matches_value(&self, leaf: Leaf<'_>) -> bool {
        match (self, leaf) {
            (Cond::Exact(Literal::Str { text, ip }), Leaf::Str(s)) => {
                text == s || ip.is_some_and(|ip| parse_ip(s).is_ok_and(|v| v == ip))
            }
            (Cond::Exact(Literal::Num { value, scaled: sv }), Leaf::Num(n)) => {
                match (sv, scaled(n)) {
                    (Some(a), Some(b)) => *a == b,
                    _ => *value == n,
                }
            }
            (Cond::Exact(Literal::Bool(b)), Leaf::Bool(v)) => *b == v,
            (Cond::Exact(Literal::Null), Leaf::Null) => true,
            (Cond::Prefix(p), Leaf::Str(s)) => s.starts_with(p.as_str()),
            (Cond::Suffix(p), Leaf::Str(s)) => s.ends_with(p.as_str()),
            (Cond::EqualsIgnoreCase(lower), Leaf::Str(s)) => {
                s.chars().flat_map(char::to_lowercase).eq(lower.chars())
            }
            (Cond::AnythingBut(ab), leaf) => !matches!(leaf, Leaf::Null) && !ab.excludes(leaf),
            (Cond::Numeric(range), Leaf::Num(n)) => range.contains(n),
            (Cond::Cidr(net), Leaf::Str(s)) => parse_ip(s).is_ok_and(|ip| net.contains(ip)),
            _ => false,
        }
    }
}

// --- attributes ---

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

// --- body ---

/// A scalar found in the body at a policy path, with the array elements it sits in
/// (`(array id, element index)`, outermost first).
struct Occurrence<'a> {
    leaf: Leaf<'a>,
    arrays: Vec<(u32, u32)>,
}

struct BodyWalker<'p, 'f, 'a> {
    prefixes: &'p HashMap<String, Option<usize>>,
    found: &'f mut Vec<Vec<Occurrence<'a>>>,
    path: String,
    arrays: Vec<(u32, u32)>,
    next_array: u32,
}

impl<'a> BodyWalker<'_, '_, 'a> {
    fn visit_member(&mut self, key: &str, value: &'a Value) {
        let saved = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        // Only descend into properties that lead to a policy path.
        if let Some(&target) = self.prefixes.get(self.path.as_str()) {
            self.visit_value(value, target);
        }
        self.path.truncate(saved);
    }

    fn visit_value(&mut self, value: &'a Value, target: Option<usize>) {
        match value {
            Value::Object(members) => {
                for (key, child) in members {
                    self.visit_member(key, child);
                }
            }
            Value::Array(items) => {
                let id = self.next_array;
                self.next_array += 1;
                for (i, item) in items.iter().enumerate() {
                    self.arrays.push((id, i as u32));
                    self.visit_value(item, target);
                    self.arrays.pop();
                }
            }
            scalar => {
                if let (Some(index), Some(leaf)) = (target, leaf_of(scalar)) {
                    self.found[index].push(Occurrence {
                        leaf,
                        arrays: self.arrays.clone(),
                    });
                }
            }
        }
    }
}

fn branch_matches_body(rules: &[KeyRule], found: &[Vec<Occurrence<'_>>], non_empty: bool) -> bool {
    // Keys that some value outside any array satisfies are consistent with every other pick;
    // the others must be satisfied together, without two picks in different elements of the
    // same array.
    let mut constrained: Vec<Vec<&Occurrence<'_>>> = Vec::new();
    for rule in rules {
        let occurrences = &found[rule.path];
        let absent_ok = rule.conds.iter().any(|c| matches!(c, Cond::Exists(false)));
        if occurrences.is_empty() && absent_ok && non_empty {
            continue;
        }
        let candidates: Vec<&Occurrence<'_>> = occurrences
            .iter()
            .filter(|occ| {
                rule.conds.iter().any(|cond| match cond {
                    Cond::Exists(want) => *want && occ.leaf.is_present(),
                    _ => cond.matches_value(occ.leaf),
                })
            })
            .collect();
        if candidates.is_empty() {
            return false;
        }
        if candidates.iter().all(|occ| !occ.arrays.is_empty()) {
            constrained.push(candidates);
        }
    }
    if constrained.len() < 2 {
        return true;
    }
    // Beyond 64 array-bound keys in one branch (only possible with absurd `$or` branches),
    // the extra keys are checked on their own.
    constrained.truncate(64);
    let mut root = ArrayTrie::default();
    for (bit, candidates) in constrained.iter().enumerate() {
        for occ in candidates {
            root.insert(&occ.arrays, 1u64 << bit);
        }
    }
    let full = if constrained.len() == 64 {
        u64::MAX
    } else {
        (1u64 << constrained.len()) - 1
    };
    root.achievable().contains(&full)
}

/// The array elements holding candidate values, as a tree: a node is one array element (the
/// root: outside any array); values under one node combine freely, values under different
/// elements of the same array never combine.
#[derive(Default)]
struct ArrayTrie {
    /// Keys satisfied by a value directly under this element.
    keys: u64,
    /// Array id -> element index -> element.
    arrays: HashMap<u32, HashMap<u32, ArrayTrie>>,
}

impl ArrayTrie {
    fn insert(&mut self, arrays: &[(u32, u32)], key: u64) {
        let mut node = self;
        for &(id, index) in arrays {
            node = node.arrays.entry(id).or_default().entry(index).or_default();
        }
        node.keys |= key;
    }

    /// The maximal sets of keys that can be satisfied together within this element.
    fn achievable(&self) -> Vec<u64> {
        let mut sets = vec![self.keys];
        for elements in self.arrays.values() {
            let mut options = Vec::new();
            for element in elements.values() {
                for set in element.achievable() {
                    insert_maximal(&mut options, set);
                }
            }
            let mut combined = Vec::new();
            for &a in &sets {
                for &b in &options {
                    insert_maximal(&mut combined, a | b);
                }
            }
            sets = combined;
        }
        sets
    }
}

/// Adds `set` to an antichain of key sets, keeping only maximal ones.
fn insert_maximal(sets: &mut Vec<u64>, set: u64) {
    if sets.iter().any(|&s| s & set == set) {
        return;
    }
    sets.retain(|&s| s & set != s);
    sets.push(set);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // --- helpers ---

    fn attrs(list: &[(&str, &str, &str)]) -> MessageAttributes {
        list.iter()
            .map(|(name, data_type, value)| {
                (
                    (*name).to_owned(),
                    MessageAttributeValue {
                        string_value: Some((*value).to_owned()),
                        data_type: Some((*data_type).to_owned()),
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    fn attr_policy(policy: Value) -> FilterPolicy {
        FilterPolicy::compile(&policy.to_string(), FilterScope::MessageAttributes)
            .unwrap_or_else(|e| panic!("policy {policy} rejected: {e}"))
    }

    fn body_policy(policy: Value) -> FilterPolicy {
        FilterPolicy::compile(&policy.to_string(), FilterScope::MessageBody)
            .unwrap_or_else(|e| panic!("policy {policy} rejected: {e}"))
    }

    fn err_in(policy: &str, scope: FilterScope) -> String {
        match FilterPolicy::compile(policy, scope) {
            Ok(_) => panic!("policy {policy} accepted"),
            Err(e) => e,
        }
    }

    /// Error in the default (attributes) scope.
    fn err(policy: Value) -> String {
        err_in(&policy.to_string(), FilterScope::MessageAttributes)
    }

    fn body_err(policy: Value) -> String {
        err_in(&policy.to_string(), FilterScope::MessageBody)
    }

    fn matches_attr(p: &FilterPolicy, list: &[(&str, &str, &str)]) -> bool {
        p.matches_attributes(&attrs(list))
    }

    fn matches_body(p: &FilterPolicy, body: Value) -> bool {
        p.matches_body(&body.to_string())
    }

    // --- validation: rule syntax (texts recorded from AWS) ---

    #[test]
    fn rejects_nested_array_as_match_value() {
        assert_eq!(
            err(json!({"key": [["value"]]})),
            "Match value must be String, number, true, false, or null"
        );
    }

    #[test]
    fn rejects_unknown_operators() {
        assert_eq!(
            err(json!({"key": [{"wrong-operator": true}]})),
            "Unrecognized match type wrong-operator"
        );
        // EventBridge-only operators are not accepted by SNS.
        assert_eq!(
            err(json!({"key": [{"wildcard": "a*"}]})),
            "Unrecognized match type wildcard"
        );
        assert_eq!(
            err(json!({"key": [{"exactly": "a"}]})),
            "Unrecognized match type exactly"
        );
    }

    #[test]
    fn rejects_two_operators_in_one_expression() {
        let policy = r#"{"key":[{"suffix":"value","prefix":"value2"}]}"#;
        assert_eq!(
            err_in(policy, FilterScope::MessageAttributes),
            "Only one key allowed in match expression"
        );
        assert_eq!(
            err(json!({"key": [{"exists": true, "prefix": "a"}]})),
            "Only one key allowed in match expression"
        );
    }

    #[test]
    fn rejects_empty_arrays_and_empty_match_expressions() {
        assert_eq!(err(json!({"key": []})), "Empty arrays are not allowed");
        assert_eq!(err(json!({"key": [{}]})), "Match expression name not found");
        assert_eq!(body_err(json!({"a": {}})), "Empty objects are not allowed");
    }

    #[test]
    fn string_operators_need_string_operands() {
        assert_eq!(
            err(json!({"key": [{"suffix": 100}]})),
            "suffix match pattern must be a string"
        );
        assert_eq!(
            err(json!({"key": [{"suffix": null}]})),
            "suffix match pattern must be a string"
        );
        assert_eq!(
            err(json!({"key": [{"suffix": []}]})),
            "suffix match pattern must be a string"
        );
        assert_eq!(
            err(json!({"key": [{"suffix": ["test", "test2"]}]})),
            "suffix match pattern must be a string"
        );
        assert_eq!(
            err(json!({"key": [{"prefix": {"equals-ignore-case": "a"}}]})),
            "prefix match pattern must be a string"
        );
        assert_eq!(
            err(json!({"key": [{"equals-ignore-case": 1}]})),
            "equals-ignore-case match pattern must be a string"
        );
    }

    #[test]
    fn values_must_be_arrays_or_objects_reported_in_document_order() {
        assert_eq!(
            err(json!({"key_a": "value_one"})),
            "\"key_a\" must be an object or an array"
        );
        // A non-list condition is read as a nested object, in either scope.
        assert_eq!(
            err(json!({"key": {"suffix": "value"}})),
            "\"suffix\" must be an object or an array"
        );
        assert_eq!(
            body_err(json!({"key": {"suffix": "value"}})),
            "\"suffix\" must be an object or an array"
        );
        // Document order, not alphabetical order, decides which key is reported.
        assert_eq!(
            err_in(
                r#"{"key":{"suffix":"value","prefix":"value"}}"#,
                FilterScope::MessageAttributes
            ),
            "\"suffix\" must be an object or an array"
        );
        assert_eq!(
            err(json!({"key": {"not-an-operator": "value"}})),
            "\"not-an-operator\" must be an object or an array"
        );
    }

    #[test]
    fn rejects_bad_json_and_non_objects() {
        assert!(err_in("{\"a\": [", FilterScope::MessageAttributes)
            .starts_with("failed to parse JSON. "));
        assert!(err_in("not json", FilterScope::MessageBody).starts_with("failed to parse JSON. "));
        assert_eq!(
            err_in("[\"a\"]", FilterScope::MessageAttributes),
            "Filter is not an object"
        );
    }

    #[test]
    fn exists_needs_a_boolean() {
        let msg = "exists match pattern must be either true or false.";
        assert_eq!(err(json!({"key": [{"exists": null}]})), msg);
        assert_eq!(err(json!({"key": [{"exists": "no"}]})), msg);
    }

    // --- validation: numeric ---

    #[test]
    fn numeric_syntax_errors() {
        let cases = [
            (json!([]), "Invalid member in numeric match: ]"),
            (
                json!(["operator"]),
                "Unrecognized numeric range operator: operator",
            ),
            (json!([1, "<="]), "Invalid member in numeric match: 1"),
            (json!(["=", "000"]), "Value of equals must be numeric"),
            (json!([">="]), "Value of >= must be numeric"),
            (
                json!(["<", 100, ">", 10]),
                "Too many elements in numeric expression",
            ),
            (json!([">=", 1, ">", 2]), "Bad numeric range operator: >"),
            (json!([">", 3, "<", 1]), "Bottom must be less than top"),
            (json!([">", 20, "<="]), "Value of <= must be numeric"),
            (json!([">", 20, 30]), "Bad value in numeric range: 30"),
            (json!([">", 20, "test"]), "Bad numeric range operator: test"),
            (json!([">", "20", "<", "30"]), "Value of > must be numeric"),
            (json!([">", 20, "<", "30"]), "Value of < must be numeric"),
            (
                json!([">", 20, "<", 30, "<", 50]),
                "Too many terms in numeric range expression",
            ),
            (
                json!(["=", 1, 2]),
                "Too many elements in numeric expression",
            ),
            (json!(["<"]), "Value of < must be numeric"),
            (json!(["0"]), "Unrecognized numeric range operator: 0"),
            (
                json!([50, "<=", "100"]),
                "Invalid member in numeric match: 50",
            ),
        ];
        for (operands, expected) in cases {
            assert_eq!(
                err(json!({"key": [{"numeric": operands.clone()}]})),
                expected,
                "numeric {operands}"
            );
        }
    }

    #[test]
    fn numeric_must_be_an_array_and_alone() {
        assert_eq!(
            err(json!({"key": [{"numeric": 5}]})),
            "Value of numeric must be an array."
        );
        assert_eq!(
            err_in(
                r#"{"key":[{"numeric":[">",1],"prefix":"a"}]}"#,
                FilterScope::MessageAttributes
            ),
            "Too many elements in numeric expression"
        );
    }

    #[test]
    fn numeric_value_limits() {
        assert_eq!(
            err(json!({"key": [{"numeric": ["=", 6e9]}]})),
            "Value must be between -5.0E9 and 5.0E9, inclusive"
        );
        assert_eq!(
            err(json!({"key": [{"numeric": ["<", 6e9]}]})),
            "Value must be between -5.0E9 and 5.0E9, inclusive"
        );
        assert_eq!(
            err(json!({"key": [{"numeric": [">", 0, "<", 6e9]}]})),
            "Value must be between -5.0E9 and 5.0E9, inclusive"
        );
        // One-sided ranges are closed at the edge of the comparable range.
        assert_eq!(
            err(json!({"key": [{"numeric": [">", 5e9]}]})),
            "Bottom must be less than top"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": [1, 7e9]}]})),
            "Value must be between -5.0E9 and 5.0E9, inclusive"
        );
        // Epoch seconds are fine; exact literals are never range-checked.
        attr_policy(json!({"key": [{"numeric": [">=", 1_700_000_000]}]}));
        attr_policy(json!({"key": [123_456_789_012_i64]}));
    }

    // --- validation: anything-but ---

    #[test]
    fn anything_but_forms() {
        assert_eq!(
            err(json!({"key": [{"anything-but": {"wrong-operator": null}}]})),
            "Unsupported anything-but pattern: wrong-operator"
        );
        // Decision: SNS does not accept anything-but suffix (recorded from AWS).
        assert_eq!(
            err(json!({"key": [{"anything-but": {"suffix": "test"}}]})),
            "Unsupported anything-but pattern: suffix"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": {"exists": false}}]})),
            "Unsupported anything-but pattern: exists"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": {"prefix": false}}]})),
            "prefix match pattern must be a string"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": {}}]})),
            "Anything-But expression name not found"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": {"prefix": ""}}]})),
            "Null prefix not allowed"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": ["a", 1]}]})),
            "Inside anything but list, either all values are number or string, mixed type is not supported"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": []}]})),
            "Inside anything but list, either all values are number or string, mixed type is not supported"
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": ["a", null]}]})),
            "Inside anything but list, start|null|boolean is not supported."
        );
        assert_eq!(
            err(json!({"key": [{"anything-but": true}]})),
            "Value of anything-but must be an array or single string/number value."
        );
        for ok in [
            json!({"key": [{"anything-but": {"prefix": "test-"}}]}),
            json!({"key": [{"anything-but": ["test", "test2"]}]}),
            json!({"key": [{"anything-but": "test"}]}),
            json!({"key": [{"anything-but": [100, 500]}]}),
            json!({"key": [{"anything-but": 5}]}),
            json!({"attr1": [null, {"anything-but": "whatever"}]}),
        ] {
            attr_policy(ok);
        }
    }

    // --- validation: cidr ---

    #[test]
    fn cidr_errors() {
        let cases = [
            (
                json!(["bad-filter"]),
                "prefix match pattern must be a string",
            ),
            (json!("bad-filter"), "Malformed CIDR, one '/' required"),
            (json!("bad-filter/64"), "Nonstandard IP address: bad-filter"),
            (
                json!("bad-/64filter"),
                "Malformed CIDR, mask bits must be an integer",
            ),
            (json!("xx.11.xx/8"), "Nonstandard IP address: xx.11.xx"),
            (
                json!("xxxx:db8:1234:1a00::/64"),
                "Nonstandard IP address: xxxx:db8:1234:1a00::",
            ),
            (json!("10.0.0.0/8/8"), "Malformed CIDR, one '/' required"),
            (
                json!("10.0.0.0/-1"),
                "Malformed CIDR, mask bits must not be negative",
            ),
            (json!("10.0.0.256/24"), "Invalid IP address: 10.0.0.256"),
            (json!("10.0.0.0/32"), "IPv4 mask bits must be < 32"),
            (json!("2001:db8::/128"), "IPv6 mask bits must be < 128"),
            (json!("2001:db8:::1/64"), "Invalid IP address: 2001:db8:::1"),
        ];
        for (operand, expected) in cases {
            assert_eq!(
                err(json!({"key": [{"cidr": operand.clone()}]})),
                expected,
                "cidr {operand}"
            );
        }
        // Java's split drops trailing empty strings.
        attr_policy(json!({"key": [{"cidr": "10.0.0.0/8/"}]}));
    }

    // --- validation: $or ---

    #[test]
    fn or_syntax_errors() {
        assert_eq!(
            err(json!({"$or": {"a": ["b"]}})),
            "It must be an Array followed with $or."
        );
        assert_eq!(
            err(json!({"$or": [{"a": ["b"]}]})),
            "There must have at least 2 Objects in $or relationship."
        );
        assert_eq!(
            err(json!({"$or": [{"a": ["b"]}, "c"]})),
            "Only JSON object is allowed in array of $or relationship."
        );
        assert_eq!(
            err(json!({"$or": [{"a": ["b"]}, {"numeric": ["c"]}]})),
            "numeric is Ruler reserved fieldName which cannot be used inside $or."
        );
        assert_eq!(
            err(json!({"$or": [{"a": ["b"]}, {}]})),
            "Empty objects are not allowed"
        );
    }

    // --- validation: limits ---

    #[test]
    fn at_most_five_keys_in_both_scopes() {
        let policy = json!({
            "key_a": ["value_one"], "key_b": ["value_two"], "key_c": ["value_three"],
            "key_d": ["value_four"], "key_e": ["value_five"], "key_f": ["value_six"]
        });
        assert_eq!(
            err(policy.clone()),
            "Filter policy can not have more than 5 keys"
        );
        assert_eq!(
            body_err(policy),
            "Filter policy can not have more than 5 keys"
        );
        // Only top-level keys count for nested policies.
        body_policy(json!({
            "a": {"x": ["1"], "y": ["2"], "z": ["3"]},
            "b": {"x": ["1"], "y": ["2"], "z": ["3"]}
        }));
    }

    #[test]
    fn complexity_multiplies_array_lengths() {
        let many: Vec<String> = (0..151).map(|i| format!("value{i}")).collect();
        assert_eq!(err(json!({"key": many})), "Filter policy is too complex");
        let exactly: Vec<String> = (0..150).map(|i| format!("value{i}")).collect();
        attr_policy(json!({"key": exactly}));

        let hundred: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
        let fifty_one: Vec<String> = (0..51).map(|i| format!("v{i}")).collect();
        assert_eq!(
            err(json!({"key1": hundred, "key2": fifty_one})),
            "Filter policy is too complex"
        );
    }

    #[test]
    fn complexity_sums_or_branches() {
        // 4*6 + 4*4*4 + 4*4*4 = 152 (recorded as rejected).
        let policy = json!({
            "source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
                {
                    "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                    "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}]
                }
            ]
        });
        assert_eq!(err(policy), "Filter policy is too complex");

        // 3*6 + 3*4*4 + 3*4*7 = 150 (recorded as accepted).
        attr_policy(json!({
            "source": ["aws.cloudwatch", "aws.events", "aws.test"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "TestVal", "TestVal2", "TestVal3", "TestVal4"]},
                {
                    "metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                    "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]
                }
            ]
        }));
    }

    #[test]
    fn complexity_weighs_nested_keys_by_depth() {
        // Doc example: 3*4 x 2*3 x 1*3 = 216.
        let policy = json!({
            "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
            "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
            "key_f": ["value_one", "value_two", "value_three"]
        });
        assert_eq!(body_err(policy), "Filter policy is too complex");

        // (3*4*2) + (3*4*6) + (2*4*2) + (2*4*6) = 160 (recorded as rejected).
        let policy = json!({
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}
            ],
            "detail": {
                "scope": ["Service", "Test"],
                "$or": [
                    {"source": ["aws.cloudwatch"]},
                    {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]}
                ]
            }
        });
        assert_eq!(body_err(policy), "Filter policy is too complex");

        // 3*4 x 2*3 = 72: fine.
        body_policy(json!({
            "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
            "key_d": {"key_e": ["value_one", "value_two", "value_three"]}
        }));
    }

    #[test]
    fn attributes_scope_rejects_nesting() {
        assert_eq!(
            err(json!({"object": {"key": [{"prefix": "auto-"}]}})),
            NESTED_POLICY_REASON
        );
        assert_eq!(
            err(json!({"$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}]})),
            NESTED_POLICY_REASON
        );
        let p = body_policy(json!({"object": {"key": [{"prefix": "auto-"}]}}));
        assert_eq!(p.scope(), FilterScope::MessageBody);
    }

    #[test]
    fn error_message_wording() {
        assert_eq!(
            error_message("Filter policy is too complex", false),
            "Invalid parameter: FilterPolicy: Filter policy is too complex"
        );
        assert_eq!(
            error_message("Empty arrays are not allowed", true),
            "Invalid parameter: Attributes Reason: FilterPolicy: Empty arrays are not allowed"
        );
        assert_eq!(
            error_message(NESTED_POLICY_REASON, false),
            "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
        );
    }

    #[test]
    fn empty_policy_matches_everything() {
        let p = attr_policy(json!({}));
        assert!(p.matches_attributes(&MessageAttributes::new()));
        let p = body_policy(json!({}));
        assert!(p.matches_body("not even json"));
    }

    // --- matching: attributes (AWS doc examples) ---

    fn doc_example_message() -> MessageAttributes {
        attrs(&[
            (
                "customer_interests",
                "String.Array",
                r#"["soccer", "rugby", "hockey"]"#,
            ),
            ("store", "String", "example_corp"),
            ("event", "String", "order_placed"),
            ("price_usd", "Number", "210.75"),
        ])
    }

    #[test]
    fn doc_example_policy_accepts_message() {
        let p = attr_policy(json!({
            "store": ["example_corp"],
            "event": [{"anything-but": "order_cancelled"}],
            "customer_interests": ["rugby", "football", "baseball"],
            "price_usd": [{"numeric": [">=", 100]}]
        }));
        assert!(p.matches_attributes(&doc_example_message()));
    }

    #[test]
    fn doc_example_policy_rejects_message() {
        let p = attr_policy(json!({
            "store": ["example_corp"],
            "event": ["order_cancelled"],
            "encrypted": [false],
            "customer_interests": ["basketball", "baseball"]
        }));
        assert!(!p.matches_attributes(&doc_example_message()));
    }

    #[test]
    fn exact_string_matching_is_case_sensitive() {
        let p = attr_policy(json!({"customer_interests": ["rugby", "tennis"]}));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "rugby")]
        ));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "tennis")]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String", "baseball")]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String", "Rugby")]
        ));
        assert!(!matches_attr(&p, &[("other", "String", "rugby")]));
    }

    #[test]
    fn string_array_elements_match_separately() {
        let p = attr_policy(json!({"customer_interests": ["rugby", "tennis"]}));
        assert!(matches_attr(
            &p,
            &[(
                "customer_interests",
                "String.Array",
                r#"["rugby", "tennis"]"#
            )]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String.Array", r#"["baseball"]"#)]
        ));
        let p = attr_policy(json!({"store": ["value1"]}));
        assert!(matches_attr(
            &p,
            &[("store", "String.Array", r#"["value1","value2"]"#)]
        ));
        assert!(!matches_attr(
            &p,
            &[("store", "String.Array", r#"["value2","value3"]"#)]
        ));
        assert!(!matches_attr(&p, &[("store", "String.Array", "not json")]));
    }

    #[test]
    fn string_array_can_hold_numbers_booleans_and_null() {
        let p = attr_policy(json!({"k": [5, true, null]}));
        assert!(matches_attr(&p, &[("k", "String.Array", "[1, 5.0]")]));
        assert!(matches_attr(&p, &[("k", "String.Array", "[true]")]));
        assert!(matches_attr(&p, &[("k", "String.Array", "[null]")]));
        assert!(!matches_attr(
            &p,
            &[("k", "String.Array", r#"["5", "true", "null"]"#)]
        ));
    }

    #[test]
    fn anything_but_strings() {
        let p = attr_policy(json!({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "baseball")]
        ));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "football")]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String", "rugby")]
        ));
        // Absent attribute: anything-but never matches.
        assert!(!matches_attr(&p, &[("other", "String", "x")]));
    }

    #[test]
    fn anything_but_on_string_array_follows_current_docs() {
        // Current docs: matches only if none of the elements is listed.
        let p = attr_policy(json!({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}));
        assert!(matches_attr(
            &p,
            &[(
                "customer_interests",
                "String.Array",
                r#"["baseball", "football"]"#
            )]
        ));
        assert!(!matches_attr(
            &p,
            &[(
                "customer_interests",
                "String.Array",
                r#"["rugby", "baseball"]"#
            )]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String.Array", "[]")]
        ));
    }

    #[test]
    fn anything_but_prefix() {
        let p = attr_policy(json!({"event": [{"anything-but": {"prefix": "order-"}}]}));
        assert!(matches_attr(&p, &[("event", "String", "data-entry")]));
        assert!(matches_attr(&p, &[("event", "String", "order_number")]));
        assert!(!matches_attr(&p, &[("event", "String", "order-cancelled")]));
    }

    #[test]
    fn anything_but_numbers() {
        let p = attr_policy(json!({"price": [{"anything-but": [100, 500]}]}));
        assert!(matches_attr(&p, &[("price", "Number", "101")]));
        assert!(matches_attr(&p, &[("price", "Number", "100.1")]));
        assert!(!matches_attr(&p, &[("price", "Number", "100")]));
        assert!(!matches_attr(&p, &[("price", "Number", "1e2")]));
        let single = attr_policy(json!({"price": [{"anything-but": 100}]}));
        assert!(!matches_attr(&single, &[("price", "Number", "100.000")]));
        assert!(matches_attr(&single, &[("price", "Number", "99")]));
    }

    #[test]
    fn prefix_suffix_and_equals_ignore_case() {
        let p = attr_policy(json!({"customer_interests": [{"prefix": "bas"}]}));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "baseball")]
        ));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "basketball")]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String", "rugby")]
        ));

        let p = attr_policy(json!({"customer_interests": [{"suffix": "ball"}]}));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "baseball")]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String", "rugby")]
        ));

        let p = attr_policy(json!({"customer_interests": [{"equals-ignore-case": "tennis"}]}));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "TeNnis")]
        ));
        assert!(matches_attr(
            &p,
            &[("customer_interests", "String", "TENNIS")]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String", "baseball")]
        ));
    }

    #[test]
    fn numeric_equality_is_numeric() {
        let p = attr_policy(json!({"price_usd": [{"numeric": ["=", 301.5]}]}));
        assert!(matches_attr(&p, &[("price_usd", "Number", "301.5")]));
        assert!(matches_attr(&p, &[("price_usd", "Number", "3.015e2")]));
        assert!(!matches_attr(&p, &[("price_usd", "Number", "301.51")]));
        // Plain numeric literals behave the same way.
        let p = attr_policy(json!({"price_usd": [301.5]}));
        assert!(matches_attr(&p, &[("price_usd", "Number", "3.015e2")]));
        // Strings are not numbers.
        assert!(!matches_attr(&p, &[("price_usd", "String", "301.5")]));
        let p = attr_policy(json!({"price_usd": ["301.5"]}));
        assert!(!matches_attr(&p, &[("price_usd", "Number", "301.5")]));
    }

    #[test]
    fn numeric_ranges() {
        let p = attr_policy(json!({"price_usd": [{"numeric": ["<", 0]}]}));
        assert!(matches_attr(&p, &[("price_usd", "Number", "-0.5")]));
        assert!(!matches_attr(&p, &[("price_usd", "Number", "0")]));

        let p = attr_policy(json!({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}));
        assert!(matches_attr(&p, &[("price_usd", "Number", "150")]));
        assert!(matches_attr(&p, &[("price_usd", "Number", "0.000001")]));
        assert!(!matches_attr(&p, &[("price_usd", "Number", "0")]));
        assert!(!matches_attr(&p, &[("price_usd", "Number", "150.0001")]));
        assert!(!matches_attr(&p, &[("price_usd", "String", "100")]));

        let p = attr_policy(json!({"attr1": [{"numeric": [">", 0, "<=", 100]}]}));
        assert!(matches_attr(&p, &[("attr1", "Number", "99")]));
        assert!(!matches_attr(&p, &[("attr1", "Number", "111")]));

        let p = attr_policy(json!({"n": [{"numeric": [">=", 10, "<", 20]}]}));
        assert!(matches_attr(&p, &[("n", "Number", "10")]));
        assert!(!matches_attr(&p, &[("n", "Number", "20")]));
        // Out-of-range message values are not comparable.
        let p = attr_policy(json!({"n": [{"numeric": [">", 0]}]}));
        assert!(!matches_attr(&p, &[("n", "Number", "6e9")]));
    }

    #[test]
    fn custom_data_types_behave_as_their_base_type() {
        let p = attr_policy(json!({"n": [{"numeric": [">", 5]}], "s": [{"prefix": "ab"}]}));
        assert!(matches_attr(
            &p,
            &[("n", "Number.int", "6"), ("s", "String.foo", "abc")]
        ));
        assert!(!matches_attr(
            &p,
            &[("n", "Number.int", "4"), ("s", "String.foo", "abc")]
        ));
    }

    #[test]
    fn binary_attributes_are_ignored() {
        let mut message = attrs(&[("other", "String", "x")]);
        message.insert(
            "store".to_owned(),
            MessageAttributeValue {
                binary_value: Some(vec![1, 2, 3]),
                data_type: Some("Binary".to_owned()),
                ..Default::default()
            },
        );
        let exists = attr_policy(json!({"store": [{"exists": true}]}));
        assert!(!exists.matches_attributes(&message));
        let absent = attr_policy(json!({"store": [{"exists": false}]}));
        assert!(absent.matches_attributes(&message));
    }

    #[test]
    fn exists_true_and_false() {
        let p = attr_policy(json!({"store": [{"exists": true}]}));
        assert!(matches_attr(
            &p,
            &[
                ("store", "String", "fans"),
                (
                    "customer_interests",
                    "String.Array",
                    r#"["baseball", "basketball"]"#
                )
            ]
        ));
        assert!(matches_attr(
            &p,
            &[("store", "Number", "99"), ("def", "Number", "99")]
        ));
        assert!(!matches_attr(
            &p,
            &[(
                "customer_interests",
                "String.Array",
                r#"["baseball", "basketball"]"#
            )]
        ));

        let p = attr_policy(json!({"store": [{"exists": false}]}));
        assert!(!matches_attr(
            &p,
            &[
                ("store", "String", "fans"),
                (
                    "customer_interests",
                    "String.Array",
                    r#"["baseball", "basketball"]"#
                )
            ]
        ));
        assert!(matches_attr(
            &p,
            &[(
                "customer_interests",
                "String.Array",
                r#"["baseball", "basketball"]"#
            )]
        ));
    }

    #[test]
    fn exists_false_needs_at_least_one_attribute() {
        let p = attr_policy(json!({"store": [{"exists": false}]}));
        assert!(!p.matches_attributes(&MessageAttributes::new()));
        assert!(matches_attr(&p, &[("def", "Number", "99")]));
    }

    #[test]
    fn null_never_matches_a_missing_attribute() {
        let p = attr_policy(json!({"attr1": [null, {"anything-but": "whatever"}]}));
        assert!(!p.matches_attributes(&MessageAttributes::new()));
        assert!(!matches_attr(&p, &[("other", "String", "x")]));
        assert!(matches_attr(&p, &[("attr1", "String", "something")]));
        assert!(!matches_attr(&p, &[("attr1", "String", "whatever")]));
    }

    #[test]
    fn anything_but_combined_with_exists_false() {
        let p = attr_policy(json!({"k": [{"anything-but": "x"}, {"exists": false}]}));
        assert!(matches_attr(&p, &[("other", "String", "1")]));
        assert!(matches_attr(&p, &[("k", "String", "y")]));
        assert!(!matches_attr(&p, &[("k", "String", "x")]));
    }

    #[test]
    fn cidr_matching_on_attributes() {
        let p = attr_policy(json!({"source_ip": [{"cidr": "10.0.0.0/24"}]}));
        assert!(matches_attr(&p, &[("source_ip", "String", "10.0.0.0")]));
        assert!(matches_attr(&p, &[("source_ip", "String", "10.0.0.255")]));
        assert!(!matches_attr(&p, &[("source_ip", "String", "10.1.1.0")]));
        assert!(!matches_attr(&p, &[("source_ip", "String", "10.0.0.256")]));
        assert!(!matches_attr(&p, &[("source_ip", "String", "not-an-ip")]));
        assert!(!matches_attr(
            &p,
            &[("source_ip", "String", "::ffff:b00:1")]
        ));
        // Host bits in the policy are ignored.
        let p = attr_policy(json!({"ip": [{"cidr": "192.168.1.77/16"}]}));
        assert!(matches_attr(&p, &[("ip", "String", "192.168.200.1")]));
    }

    #[test]
    fn cidr_matching_ipv6() {
        let p = attr_policy(json!({"ip": [{"cidr": "2001:db8:1234:1a00::/64"}]}));
        assert!(matches_attr(
            &p,
            &[("ip", "String", "2001:0db8:1234:1a00:0000:0000:0000:0000")]
        ));
        assert!(matches_attr(
            &p,
            &[("ip", "String", "2001:db8:1234:1a00:ffff::1")]
        ));
        assert!(!matches_attr(
            &p,
            &[("ip", "String", "2001:0db8:123f:1a01:0000:0000:0000:0000")]
        ));
        assert!(!matches_attr(&p, &[("ip", "String", "10.0.0.1")]));
    }

    #[test]
    fn exact_ip_literals_compare_as_addresses() {
        let p = attr_policy(json!({"ip": ["2001:db8::1", "10.0.0.1"]}));
        assert!(matches_attr(
            &p,
            &[("ip", "String", "2001:0db8:0:0:0:0:0:1")]
        ));
        assert!(matches_attr(&p, &[("ip", "String", "10.0.0.1")]));
        assert!(!matches_attr(&p, &[("ip", "String", "10.0.0.2")]));
    }

    #[test]
    fn and_between_keys_or_within_a_key() {
        let p = attr_policy(json!({
            "customer_interests": ["rugby", "football", "baseball"],
            "price_usd": [{"numeric": [">", 100]}]
        }));
        assert!(matches_attr(
            &p,
            &[
                ("customer_interests", "String", "football"),
                ("price_usd", "Number", "101")
            ]
        ));
        assert!(!matches_attr(
            &p,
            &[
                ("customer_interests", "String", "football"),
                ("price_usd", "Number", "100")
            ]
        ));
        assert!(!matches_attr(
            &p,
            &[("customer_interests", "String", "rugby")]
        ));
    }

    #[test]
    fn or_operator_on_attributes() {
        let p = attr_policy(json!({
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}
            ]
        }));
        assert!(matches_attr(
            &p,
            &[
                ("source", "String", "aws.cloudwatch"),
                ("metricName", "String", "ReadLatency")
            ]
        ));
        assert!(matches_attr(
            &p,
            &[
                ("source", "String", "aws.cloudwatch"),
                ("namespace", "String", "AWS/ES")
            ]
        ));
        assert!(!matches_attr(
            &p,
            &[
                ("source", "String", "aws.cloudwatch"),
                ("namespace", "String", "AWS/S3")
            ]
        ));
        assert!(!matches_attr(
            &p,
            &[
                ("source", "String", "aws.events"),
                ("metricName", "String", "ReadLatency")
            ]
        ));
    }

    #[test]
    fn nested_or_on_attributes() {
        let p = attr_policy(json!({
            "source": ["a"],
            "$or": [
                {"x": ["1"]},
                {"y": ["2"], "$or": [{"z": ["3"]}, {"w": [{"exists": true}]}]}
            ]
        }));
        assert!(matches_attr(
            &p,
            &[("source", "String", "a"), ("x", "String", "1")]
        ));
        assert!(matches_attr(
            &p,
            &[
                ("source", "String", "a"),
                ("y", "String", "2"),
                ("w", "String", "q")
            ]
        ));
        assert!(!matches_attr(
            &p,
            &[("source", "String", "a"), ("y", "String", "2")]
        ));
    }

    #[test]
    fn dotted_attribute_names_are_plain_names() {
        let p = attr_policy(json!({"a.b": ["c"]}));
        assert!(matches_attr(&p, &[("a.b", "String", "c")]));
        assert!(!matches_attr(&p, &[("a", "String", "c")]));
    }

    // --- matching: message body ---

    #[test]
    fn body_doc_examples() {
        let p = body_policy(json!({"customer_interests": ["rugby", "tennis"]}));
        assert!(matches_body(&p, json!({"customer_interests": "rugby"})));
        assert!(matches_body(&p, json!({"customer_interests": "tennis"})));
        assert!(!matches_body(&p, json!({"customer_interests": "baseball"})));

        let p = body_policy(json!({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}));
        assert!(matches_body(&p, json!({"customer_interests": "football"})));
        // Body arrays: any element not excluded.
        assert!(matches_body(
            &p,
            json!({"customer_interests": ["rugby", "baseball"]})
        ));
        assert!(!matches_body(&p, json!({"customer_interests": "rugby"})));

        let p = body_policy(json!({"price_usd": [{"numeric": ["=", 301.5]}]}));
        assert!(p.matches_body(r#"{"price_usd": 3.015e2}"#));
        assert!(p.matches_body(r#"{"price_usd": 301.5}"#));
        assert!(!p.matches_body(r#"{"price_usd": "301.5"}"#));

        let p = body_policy(json!({"price": [{"anything-but": [100, 500]}]}));
        assert!(matches_body(&p, json!({"price": [100, 50]})));
        assert!(!matches_body(&p, json!({"price": 100})));
    }

    #[test]
    fn body_doc_example_filter_policies() {
        let body = r#"{
            "customer_interests": ["soccer", "rugby", "hockey"],
            "store": "example_corp",
            "event": "order_placed",
            "price_usd": 210.75
        }"#;
        let accept = body_policy(json!({
            "store": ["example_corp"],
            "event": [{"anything-but": "order_cancelled"}],
            "customer_interests": ["rugby", "football", "baseball"],
            "price_usd": [{"numeric": [">=", 100]}]
        }));
        assert!(accept.matches_body(body));
        let reject = body_policy(json!({
            "store": ["example_corp"],
            "event": ["order_cancelled"],
            "encrypted": [false],
            "customer_interests": ["basketball", "baseball"]
        }));
        assert!(!reject.matches_body(body));
    }

    #[test]
    fn body_must_be_a_json_object() {
        let p = body_policy(json!({"a": [{"exists": false}]}));
        assert!(!p.matches_body("Regular string message"));
        assert!(!p.matches_body("\"Regular string message\""));
        assert!(!p.matches_body("[1, 2]"));
        assert!(!p.matches_body("{}"));
        assert!(p.matches_body(r#"{"b": 1}"#));
    }

    #[test]
    fn body_nested_policy_with_exists_false() {
        let p = body_policy(json!({
            "object": {
                "key": [{"prefix": "auto-"}, "hardcodedvalue"],
                "nested_key": [{"exists": false}]
            },
            "test": [{"exists": false}]
        }));
        assert!(matches_body(&p, json!({"object": {"key": "auto-test"}})));
        assert!(matches_body(
            &p,
            json!({"object": {"key": "hardcodedvalue"}})
        ));
        assert!(!matches_body(&p, json!({"object": {"key": "test-auto"}})));
        assert!(!matches_body(
            &p,
            json!({"object": {"key": "auto-test"}, "test": "just-exists"})
        ));
        assert!(!matches_body(
            &p,
            json!({"object": {"key": "auto-test", "nested_key": "just-exists"}})
        ));
        assert!(!matches_body(&p, json!({"object": {"test": "auto-test"}})));
        assert!(!matches_body(&p, json!({"test": "auto-test"})));
    }

    #[test]
    fn body_dotted_keys_match_nested_and_flat_properties() {
        let p = body_policy(json!({"object.nested": ["string.value"]}));
        assert!(matches_body(
            &p,
            json!({"object": {"nested": "string.value"}})
        ));
        assert!(matches_body(&p, json!({"object.nested": "string.value"})));
        assert!(!matches_body(
            &p,
            json!({"object": {"nested": "test-auto"}})
        ));

        let p = body_policy(json!({"object.nested.test": ["string.value"]}));
        for body in [
            json!({"object": {"nested": {"test": "string.value"}}}),
            json!({"object.nested.test": "string.value"}),
            json!({"object.nested": {"test": "string.value"}}),
            json!({"object": {"nested.test": "string.value"}}),
        ] {
            assert!(matches_body(&p, body.clone()), "{body}");
        }
        assert!(!matches_body(
            &p,
            json!({"object": {"nested": {"test": "string.notvalue"}}})
        ));
    }

    #[test]
    fn body_array_values_match_any_element() {
        let q1 = body_policy(json!({"headers": {"route-to": ["queue1"]}}));
        let q2 = body_policy(json!({"headers": {"route-to": ["queue2"]}}));
        let messages = [
            (json!({"headers": {"route-to": ["queue3"]}}), false, false),
            (json!({"headers": {"route-to": ["queue1"]}}), true, false),
            (json!({"headers": {"route-to": ["queue2"]}}), false, true),
            (
                json!({"headers": {"route-to": ["queue1", "queue2"]}}),
                true,
                true,
            ),
        ];
        for (body, m1, m2) in messages {
            assert_eq!(matches_body(&q1, body.clone()), m1, "{body}");
            assert_eq!(matches_body(&q2, body.clone()), m2, "{body}");
        }
    }

    #[test]
    fn body_arrays_of_objects() {
        let p = body_policy(json!({
            "Records": {
                "s3": {"object": {"key": [{"prefix": "auto-"}]}},
                "eventName": [{"prefix": "ObjectCreated:"}]
            }
        }));
        let created = json!({"Records": [{
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "auto-insurance-2314.xml", "size": 17}}
        }]});
        assert!(matches_body(&p, created.clone()));
        let mut removed = created.clone();
        removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
        assert!(!matches_body(&p, removed));
        let mut home = created;
        home["Records"][0]["s3"]["object"]["key"] = json!("home-insurance-2314.xml");
        assert!(!matches_body(&p, home));
        // Nested arrays of objects are traversed.
        assert!(matches_body(
            &p,
            json!({"Records": [
                {"eventName": "ObjectCreated:Put", "s3": {"object": [[{"key": "auto-insurance-2314.xml"}]]}},
                {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "home-insurance-2314.xml"}}}
            ]})
        ));
    }

    #[test]
    fn body_arrays_are_matched_consistently() {
        // Each key is satisfied, but by different records: no match.
        let p = body_policy(json!({
            "Records": {
                "s3": {"object": {"key": [{"prefix": "auto-"}]}},
                "eventName": [{"prefix": "ObjectCreated:"}]
            }
        }));
        assert!(!matches_body(
            &p,
            json!({"Records": [
                {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "auto-1"}}},
                {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "home-1"}}}
            ]})
        ));
        assert!(matches_body(
            &p,
            json!({"Records": [
                {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "auto-1"}}},
                {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "home-1"}}},
                {"eventName": "ObjectCreated:Copy", "s3": {"object": {"key": "auto-2"}}}
            ]})
        ));
        // Keys outside the array combine freely with any element.
        let p = body_policy(json!({"source": ["s3"], "items": {"id": [2]}}));
        assert!(matches_body(
            &p,
            json!({"source": "s3", "items": [{"id": 1}, {"id": 2}]})
        ));
    }

    #[test]
    fn body_or_operator_nested() {
        let p = body_policy(json!({
            "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}
            ],
            "detail": {
                "scope": ["Service"],
                "$or": [
                    {"source": ["aws.cloudwatch"]},
                    {"type": ["CloudWatch Alarm State Change"]}
                ]
            }
        }));
        let rejected = [
            json!({"metricName": "CPUUtilization", "detail": {"scope": "aws.cloudwatch", "type": "CloudWatch Alarm State Change"}}),
            json!({"metricName": "CPUUtilization", "detail": {"scope": "Service", "type": "CPUUtilization"}}),
            json!({"metricName": "CPUUtilization", "detail": {"type": "CloudWatch Alarm State Change"}}),
            json!({"metricName": "CPUUtilization", "detail": {"scope": "Service"}}),
            json!({"metricName": "CPUUtilization", "scope": "Service"}),
            json!({"metricName": "AWS/EC2", "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"}}),
            json!({"namespace": "CPUUtilization", "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"}}),
        ];
        for body in rejected {
            assert!(!matches_body(&p, body.clone()), "{body}");
        }
        let accepted = [
            json!({"metricName": "CPUUtilization", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}),
            json!({"metricName": "ReadLatency", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}),
            json!({"namespace": "AWS/EC2", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}),
            json!({"namespace": "AWS/ES", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}),
            json!({"metricName": "CPUUtilization", "detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"}}),
        ];
        for body in accepted {
            assert!(matches_body(&p, body.clone()), "{body}");
        }
    }

    #[test]
    fn body_empty_string_and_empty_arrays() {
        let p = body_policy(json!({"detail": {"eventVersion": [""]}}));
        assert!(matches_body(
            &p,
            json!({
                "version": "0",
                "resources": [],
                "detail": {"eventVersion": "", "responseElements": null}
            })
        ));
        let p = body_policy(json!({"resources": [{"exists": false}]}));
        assert!(matches_body(&p, json!({"resources": [], "x": 1})));
    }

    #[test]
    fn body_cidr() {
        let p = body_policy(json!({
            "detail": {
                "$or": [
                    {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]},
                    {"sourceIPAddressV6": [{"cidr": "2001:db8:1234:1a00::/64"}]}
                ]
            }
        }));
        assert!(matches_body(
            &p,
            json!({"id": "1", "detail": {"sourceIPAddress": "10.0.0.255"}})
        ));
        assert!(!matches_body(
            &p,
            json!({"id": "2", "detail": {"sourceIPAddress": "10.0.0.256"}})
        ));
        assert!(matches_body(
            &p,
            json!({"id": "3", "detail": {"sourceIPAddressV6": "2001:0db8:1234:1a00:0000:0000:0000:0000"}})
        ));
        assert!(!matches_body(
            &p,
            json!({"id": "4", "detail": {"sourceIPAddressV6": "2001:0db8:123f:1a01:0000:0000:0000:0000"}})
        ));
    }

    #[test]
    fn body_exists_semantics() {
        let p = body_policy(json!({"store": [{"exists": true}]}));
        assert!(matches_body(
            &p,
            json!({"store": "fans", "customer_interests": ["baseball"]})
        ));
        assert!(matches_body(&p, json!({"store": 0})));
        assert!(!matches_body(
            &p,
            json!({"customer_interests": ["baseball", "basketball"]})
        ));
        assert!(!matches_body(&p, json!({"store": null})));
        assert!(!matches_body(&p, json!({"store": ""})));
        assert!(!matches_body(&p, json!({"store": []})));
        // Leaf nodes only.
        assert!(!matches_body(&p, json!({"store": {"name": "fans"}})));

        let p = body_policy(json!({"store": [{"exists": false}]}));
        assert!(!matches_body(&p, json!({"store": "fans"})));
        assert!(matches_body(
            &p,
            json!({"customer_interests": ["baseball", "basketball"]})
        ));
        assert!(!matches_body(&p, json!({"store": null})));
    }

    #[test]
    fn body_literals_true_false_null() {
        let p = body_policy(json!({"flag": [true], "gone": [null]}));
        assert!(matches_body(&p, json!({"flag": true, "gone": null})));
        assert!(!matches_body(&p, json!({"flag": "true", "gone": null})));
        assert!(!matches_body(&p, json!({"flag": true})));
        let p = body_policy(json!({"encrypted": [false]}));
        assert!(matches_body(&p, json!({"encrypted": false})));
        assert!(!matches_body(&p, json!({"encrypted": 0})));
    }

    #[test]
    fn body_deep_dotted_nested_mix() {
        let p = body_policy(json!({
            "detail": {"payload.nested.another-level.deep": {"inside-list": [{"prefix": "q-test"}]}}
        }));
        assert!(matches_body(
            &p,
            json!({
                "detail": {"payload": {"nested": {"another-level": {"deep": [
                    {"inside-list": "other"},
                    {"inside-list": ["x", "q-test-1"]}
                ]}}}},
                "noise": {"big": [1, 2, 3]}
            })
        ));
        assert!(!matches_body(
            &p,
            json!({"detail": {"payload": {"nested": "q-test"}}})
        ));
    }

    #[test]
    fn body_numbers_and_equals_ignore_case() {
        let p = body_policy(
            json!({"n": [{"numeric": [">", 0, "<", 1]}], "s": [{"equals-ignore-case": "ÉTÉ"}]}),
        );
        assert!(matches_body(&p, json!({"n": 0.5, "s": "été"})));
        assert!(!matches_body(&p, json!({"n": 1, "s": "été"})));
        assert!(!matches_body(&p, json!({"n": "0.5", "s": "été"})));
    }

    #[test]
    fn body_policy_ignores_attributes_and_dispatch_works() {
        let body_scope = body_policy(json!({"a": ["x"]}));
        let attr_scope = attr_policy(json!({"a": ["x"]}));
        let message_attrs = attrs(&[("a", "String", "x")]);
        assert!(body_scope.matches(&message_attrs, r#"{"a": "x"}"#));
        assert!(!body_scope.matches(&message_attrs, r#"{"a": "y"}"#));
        assert!(attr_scope.matches(&message_attrs, r#"{"a": "y"}"#));
        assert!(!attr_scope.matches(&MessageAttributes::new(), r#"{"a": "x"}"#));
        assert_eq!(attr_scope.scope(), FilterScope::MessageAttributes);
    }

    #[test]
    fn duplicate_keys_last_one_wins() {
        let p = FilterPolicy::compile(r#"{"a":["x"],"a":["y"]}"#, FilterScope::MessageAttributes)
            .unwrap();
        assert!(matches_attr(&p, &[("a", "String", "y")]));
        assert!(!matches_attr(&p, &[("a", "String", "x")]));
    }

    #[test]
    fn body_nested_arrays_consistency() {
        let p = body_policy(json!({"a": {"b": {"x": [1], "y": [2]}}}));
        // x and y in different elements of the inner array.
        assert!(!matches_body(
            &p,
            json!({"a": [{"b": [{"x": 1}, {"y": 2}]}]})
        ));
        assert!(matches_body(&p, json!({"a": [{"b": [{"x": 1, "y": 2}]}]})));
        // Different arrays under the same element combine.
        let p = body_policy(json!({"a": {"b": {"x": [1]}, "c": {"y": [2]}}}));
        assert!(matches_body(
            &p,
            json!({"a": [{"b": [{"x": 1}], "c": [{"y": 2}]}]})
        ));
        assert!(!matches_body(
            &p,
            json!({"a": [{"b": [{"x": 1}]}, {"c": [{"y": 2}]}]})
        ));
    }

    #[test]
    fn top_level_or_counts_as_one_key() {
        attr_policy(json!({
            "a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"],
            "$or": [{"e": ["1"], "f": ["1"]}, {"g": ["1"], "h": ["1"]}]
        }));
        assert_eq!(
            err(json!({
                "a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"],
                "$or": [{"f": ["1"]}, {"g": ["1"]}]
            })),
            "Filter policy can not have more than 5 keys"
        );
    }

    #[test]
    fn adversarial_disjoint_array_matches_stay_cheap() {
        let p = body_policy(json!({"items": {"a": ["1"], "b": ["2"], "c": ["3"]}}));
        let items: Vec<Value> = (0..30_000)
            .map(|i| match i % 3 {
                0 => json!({"a": "1"}),
                1 => json!({"b": "2"}),
                _ => json!({"c": "3"}),
            })
            .collect();
        let body = json!({"items": items}).to_string();
        let started = std::time::Instant::now();
        assert!(!p.matches_body(&body));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn large_fan_out_body_stays_cheap() {
        let p = body_policy(json!({"items": {"a": ["1"], "b": ["2"]}}));
        let items: Vec<Value> = (0..2000)
            .map(|i| {
                if i < 1000 {
                    json!({"a": "1"})
                } else {
                    json!({"b": "2"})
                }
            })
            .collect();
        assert!(!matches_body(&p, json!({"items": items})));
    }
}
