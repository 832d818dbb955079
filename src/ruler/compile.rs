//! The rule compiler: validates a pattern document in document order, with the texts of the
//! open-sourced rule compiler (`aws/event-ruler`), into a tree of conditions, and expands that
//! tree into the disjunctive normal form the matchers walk ([`Rules`]).
//!
//! The two services speak dialects of one language ([`Dialect`]): SNS rejects `wildcard`,
//! `exactly`, `prefix`/`suffix` with `equals-ignore-case` and the `anything-but` forms other
//! than `prefix`, and reports the `anything-but` errors with an older compiler's texts;
//! EventBridge accepts them all. Each service's limits (SNS: key count, nesting, complexity)
//! are applied by the caller on the [`Node`] tree.

use std::collections::HashMap;

use super::ip::{parse_cidr, parse_ip, Ip, IpNet};
use super::json::{token_text, Json};
use super::wildcard::Wildcard;

/// Which service's variant of the pattern language a document is compiled and matched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SNS filter policies: the operator allowlist above; `anything-but` never matches `null`;
    /// `exists: true` wants a non-null, non-empty value.
    Sns,
    /// EventBridge event patterns (and Lambda filter criteria): every operator; `anything-but`
    /// matches `null` (recorded on AWS); `exists: true` holds for any leaf value.
    EventBridge,
}

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

#[derive(Debug, Clone)]
pub(crate) struct KeyRule {
    /// Index into `FilterPolicy::paths`.
    pub(crate) path: usize,
    /// ORed conditions; never empty.
    pub(crate) conds: Vec<Cond>,
}

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Exact(Literal),
    Prefix(String),
    Suffix(String),
    /// Stored lower-cased.
    EqualsIgnoreCase(String),
    /// `{"prefix": {"equals-ignore-case": ...}}`, stored lower-cased.
    PrefixIgnoreCase(String),
    /// `{"suffix": {"equals-ignore-case": ...}}`, stored lower-cased.
    SuffixIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(NumRange),
    Exists(bool),
    Cidr(IpNet),
}

#[derive(Debug, Clone)]
pub(crate) enum Literal {
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
pub(crate) struct AnythingBut {
    pub(crate) values: Excluded,
    /// Whether a JSON `null` satisfies it (EventBridge) or not (SNS).
    pub(crate) matches_null: bool,
}

/// What an `anything-but` excludes.
#[derive(Debug, Clone)]
pub(crate) enum Excluded {
    Strings(Vec<String>),
    /// Scaled numbers.
    Numbers(Vec<i64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Stored lower-cased.
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

/// A numeric interval over scaled numbers; `*_open` excludes the bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NumRange {
    pub(crate) low: i64,
    pub(crate) low_open: bool,
    pub(crate) high: i64,
    pub(crate) high_open: bool,
}

/// A compiled rule set in disjunctive normal form: the document matches if every rule of some
/// branch holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    /// Distinct property paths (dotted for nested keys) referenced by the rules.
    pub(crate) paths: Vec<String>,
    pub(crate) branches: Vec<Vec<KeyRule>>,
}

/// A validated policy object, before `$or` expansion.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) entries: Vec<(String, Entry)>,
}

#[derive(Debug)]
pub(crate) enum Entry {
    Rules(Vec<Cond>),
    Nested(Node),
    Or(Vec<Node>),
}

impl Node {
    pub(crate) fn has_nesting(&self) -> bool {
        self.entries.iter().any(|(_, entry)| match entry {
            Entry::Rules(_) => false,
            Entry::Nested(_) => true,
            Entry::Or(branches) => branches.iter().any(Node::has_nesting),
        })
    }

    /// The number of value combinations: each array counts its length times its nesting depth
    /// (top level = 1), keys multiply, `$or` alternatives add up. Saturating.
    pub(crate) fn complexity(&self, depth: u64) -> u64 {
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

    /// How many alternatives the `$or` expansion produces (siblings multiply, `$or`
    /// alternatives add up), saturating: checked before expanding, which is exponential.
    pub(crate) fn branch_count(&self) -> u64 {
        self.entries.iter().fold(1u64, |acc, (_, entry)| {
            let factor = match entry {
                Entry::Rules(_) => 1,
                Entry::Nested(node) => node.branch_count(),
                Entry::Or(alternatives) => alternatives
                    .iter()
                    .fold(0u64, |sum, alt| sum.saturating_add(alt.branch_count())),
            };
            acc.saturating_mul(factor)
        })
    }

    /// The highest [`Wildcard::complexity`] of the `wildcard` and `anything-but` `wildcard`
    /// operands anywhere in the tree (0 without any).
    pub(crate) fn max_wildcard_complexity(&self) -> usize {
        let mut worst = 0;
        for (_, entry) in &self.entries {
            let here = match entry {
                Entry::Rules(conds) => conds
                    .iter()
                    .flat_map(|cond| match cond {
                        Cond::Wildcard(w) => vec![w],
                        Cond::AnythingBut(AnythingBut {
                            values: Excluded::Wildcards(ws),
                            ..
                        }) => ws.iter().collect(),
                        _ => Vec::new(),
                    })
                    .map(Wildcard::complexity)
                    .max()
                    .unwrap_or(0),
                Entry::Nested(node) => node.max_wildcard_complexity(),
                Entry::Or(branches) => branches
                    .iter()
                    .map(Node::max_wildcard_complexity)
                    .max()
                    .unwrap_or(0),
            };
            worst = worst.max(here);
        }
        worst
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

impl Node {
    /// Expands `$or` into branches and interns the paths.
    pub(crate) fn to_rules(&self) -> Rules {
        let expanded = self.expand("", vec![Vec::new()]);
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
        Rules { paths, branches }
    }
}

fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(crate) fn parse_object(
    entries: &[(String, Json)],
    in_or: bool,
    dialect: Dialect,
) -> Result<Node, String> {
    if entries.is_empty() {
        return Err("Empty objects are not allowed".to_owned());
    }
    let mut out = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if name == OR_KEY {
            out.push((name.clone(), Entry::Or(parse_or(value, dialect)?)));
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&name.as_str()) {
            return Err(format!(
                "{name} is Ruler reserved fieldName which cannot be used inside $or."
            ));
        }
        let entry = match value {
            Json::Obj(inner) => Entry::Nested(parse_object(inner, in_or, dialect)?),
            Json::Arr(items) => Entry::Rules(parse_rules(items, dialect)?),
            _ => return Err(format!("\"{name}\" must be an object or an array")),
        };
        out.push((name.clone(), entry));
    }
    Ok(Node { entries: out })
}

fn parse_or(value: &Json, dialect: Dialect) -> Result<Vec<Node>, String> {
    let Json::Arr(items) = value else {
        return Err("It must be an Array followed with $or.".to_owned());
    };
    let mut branches = Vec::with_capacity(items.len());
    for item in items {
        let Json::Obj(entries) = item else {
            return Err("Only JSON object is allowed in array of $or relationship.".to_owned());
        };
        branches.push(parse_object(entries, true, dialect)?);
    }
    if branches.len() < 2 {
        return Err("There must have at least 2 Objects in $or relationship.".to_owned());
    }
    Ok(branches)
}

fn parse_rules(items: &[Json], dialect: Dialect) -> Result<Vec<Cond>, String> {
    let mut conds = Vec::with_capacity(items.len());
    for item in items {
        let cond = match item {
            Json::Obj(entries) => parse_match_expression(entries, dialect)?,
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

fn parse_match_expression(entries: &[(String, Json)], dialect: Dialect) -> Result<Cond, String> {
    let Some((name, value)) = entries.first() else {
        return Err("Match expression name not found".to_owned());
    };
    let extra_keys = entries.len() > 1;
    let string_operand = || match value {
        Json::Str(s) => Ok(s.clone()),
        _ => Err(format!("{name} match pattern must be a string")),
    };
    let eventbridge = dialect == Dialect::EventBridge;
    let cond = match name.as_str() {
        "prefix" | "suffix" if eventbridge && matches!(value, Json::Obj(_)) => {
            let Json::Obj(inner) = value else {
                unreachable!("guarded above")
            };
            return parse_affix_ignore_case(name, inner, extra_keys);
        }
        "prefix" => Cond::Prefix(string_operand()?),
        "suffix" => Cond::Suffix(string_operand()?),
        "wildcard" if eventbridge => Cond::Wildcard(Wildcard::parse(&string_operand()?)?),
        "exactly" if eventbridge => match value {
            Json::Str(s) => Cond::Exact(Literal::Str {
                text: s.clone(),
                ip: None,
            }),
            _ => return Err("exact match pattern must be a string".to_owned()),
        },
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
        "anything-but" if eventbridge => {
            let values = parse_anything_but_eventbridge(value)?;
            if extra_keys {
                return Err(TOO_MANY_ELEMENTS.to_owned());
            }
            return Ok(Cond::AnythingBut(AnythingBut {
                values,
                matches_null: true,
            }));
        }
        "anything-but" => {
            let (values, prefix_form) = parse_anything_but(value)?;
            let anything_but = AnythingBut {
                values,
                matches_null: false,
            };
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

/// `{"prefix": {"equals-ignore-case": "..."}}` and the same for `suffix` (EventBridge).
fn parse_affix_ignore_case(
    op: &str,
    inner: &[(String, Json)],
    outer_extra_keys: bool,
) -> Result<Cond, String> {
    let capitalised = if op == "prefix" { "Prefix" } else { "Suffix" };
    let Some((inner_op, operand)) = inner.first() else {
        return Err(format!("{capitalised} expression name not found"));
    };
    if inner_op != "equals-ignore-case" {
        return Err(format!("Unsupported {op} pattern: {inner_op}"));
    }
    let Json::Str(text) = operand else {
        return Err("equals-ignore-case match pattern must be a string".to_owned());
    };
    if inner.len() > 1 || outer_extra_keys {
        return Err(ONE_KEY.to_owned());
    }
    let lower = lowercase(text);
    Ok(if op == "prefix" {
        Cond::PrefixIgnoreCase(lower)
    } else {
        Cond::SuffixIgnoreCase(lower)
    })
}

/// EventBridge's `anything-but`: a value, a list, or an object naming `equals-ignore-case`,
/// `prefix`, `suffix` or `wildcard` with a string or a list of strings.
fn parse_anything_but_eventbridge(value: &Json) -> Result<Excluded, String> {
    let Json::Obj(inner) = value else {
        return parse_anything_but(value).map(|(values, _)| values);
    };
    let Some((op, operand)) = inner.first() else {
        return Err("Anything-But expression name not found".to_owned());
    };
    let not_a_string = match op.as_str() {
        "equals-ignore-case" => {
            "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
        }
        "prefix" | "suffix" => "prefix/suffix match pattern must be a string",
        "wildcard" => "wildcard match pattern must be a string",
        _ => return Err(format!("Unsupported anything-but pattern: {op}")),
    };
    let items: Vec<&Json> = match operand {
        Json::Arr(items) => items.iter().collect(),
        Json::Str(_) | Json::Num(..) => vec![operand],
        _ => {
            return Err(
                "Value of anything-but must be an array or single string/number value.".to_owned(),
            )
        }
    };
    let mut texts = Vec::with_capacity(items.len());
    for item in items {
        let Json::Str(text) = item else {
            return Err(not_a_string.to_owned());
        };
        if text.is_empty() && matches!(op.as_str(), "prefix" | "suffix") {
            return Err("Null prefix/suffix not allowed".to_owned());
        }
        texts.push(text.clone());
    }
    if inner.len() > 1 {
        return Err(TOO_MANY_ELEMENTS.to_owned());
    }
    Ok(match op.as_str() {
        "equals-ignore-case" => Excluded::IgnoreCase(texts.iter().map(|t| lowercase(t)).collect()),
        "prefix" => Excluded::Prefixes(texts),
        "suffix" => Excluded::Suffixes(texts),
        _ => Excluded::Wildcards(
            texts
                .iter()
                .map(|t| Wildcard::parse(t))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Returns the pattern and whether it was the `{"prefix": ...}` form (SNS's texts; EventBridge
/// shares the list and single-value forms).
fn parse_anything_but(value: &Json) -> Result<(Excluded, bool), String> {
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
            Ok((Excluded::Prefixes(vec![prefix.clone()]), true))
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
                (false, true) => Ok((Excluded::Strings(strings), false)),
                (true, false) => Ok((Excluded::Numbers(numbers), false)),
                _ => Err(
                    "Inside anything but list, either all values are number or string, \
                          mixed type is not supported"
                        .to_owned(),
                ),
            }
        }
        Json::Str(s) => Ok((Excluded::Strings(vec![s.clone()]), false)),
        Json::Num(n, _) => Ok((Excluded::Numbers(vec![comparable(*n)?]), false)),
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
pub(crate) fn scaled(value: f64) -> Option<i64> {
    if value.is_finite() && (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&value) {
        Some((value * NUMERIC_SCALE).round() as i64)
    } else {
        None
    }
}

pub(crate) fn lowercase(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}
