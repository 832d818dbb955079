//! EventBridge event patterns: the event-ruler language of `crate::ruler` in its EventBridge
//! dialect, with AWS's `InvalidEventPatternException` wording. Compiled once (at `PutRule`,
//! `TestEventPattern`, `CreateArchive`, Lambda's `FilterCriteria`), matched many times.
//!
//! What differs from SNS filter policies (see `ruler::compile::Dialect`): no key-count or
//! combination limit; `wildcard`, `exactly`, `prefix`/`suffix` with `equals-ignore-case`, and
//! `anything-but` with `prefix`/`suffix`/`equals-ignore-case`/`wildcard` (a value or a list);
//! `anything-but` matches a `null` value; `exists: true` holds for any leaf value (`null` and
//! `""` included) but never for an object or an empty array; `exists: false` holds when no leaf
//! sits at the path. Complexity limits: AWS's on wildcards (`Rule is too complex - ...`),
//! approximated by `Wildcard::complexity`, and ours on `$or` expansion (at most 1,000
//! alternatives), which keeps a pattern of nested `$or`s from exploding.
//!
//! Decisions where AWS's behaviour is not recorded: numbers compare with the rule compiler's
//! 6 decimal digits over -5e9..5e9 (the SNS recordings; AWS's current open-source compiler
//! compares full doubles); the `{}` pattern is rejected as the compiler rejects empty objects;
//! messages stop at the compiler's reason (AWS appends Jackson's `at [Source: ...]` location on
//! a second line, which AWS's own test suite does not compare either).

use std::fmt;

use serde_json::Value;

use crate::ruler::compile::{parse_object, Cond, Dialect, Literal, Rules};
use crate::ruler::document::{self, PathIndex};
use crate::ruler::explain;
use crate::ruler::json::Json;
use crate::ruler::wildcard;

/// At most this many alternatives once `$or`s are expanded.
const MAX_ALTERNATIVES: u64 = 1000;

const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer \
                           repeating character sequences after a wildcard character";

/// A pattern AWS rejects: [`PatternError::message`] is the whole `InvalidEventPatternException`
/// message, [`PatternError::reason`] the part after `Reason: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    reason: String,
}

impl PatternError {
    fn new(reason: impl Into<String>) -> PatternError {
        PatternError {
            reason: reason.into(),
        }
    }

    /// The AWS error code this error is answered with.
    pub const CODE: &'static str = "InvalidEventPatternException";

    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// `Event pattern is not valid. Reason: <reason>`.
    pub fn message(&self) -> String {
        format!("Event pattern is not valid. Reason: {}", self.reason)
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for PatternError {}

/// A compiled event pattern.
#[derive(Debug, Clone)]
pub struct EventPattern {
    /// Disjunctive normal form over interned dotted paths; never without branches.
    rules: Rules,
    /// The paths (and their dot-boundary prefixes) walked in an event.
    paths: PathIndex,
}

impl EventPattern {
    /// Parses and validates `json` as AWS does.
    pub fn parse(json: &str) -> Result<EventPattern, PatternError> {
        let root: Json = serde_json::from_str(json).map_err(|e| json_error(json, &e))?;
        let Json::Obj(entries) = root else {
            return Err(PatternError::new("Filter is not an object"));
        };
        let tree =
            parse_object(&entries, false, Dialect::EventBridge).map_err(PatternError::new)?;
        if tree.max_wildcard_complexity() > wildcard::MAX_COMPLEXITY {
            return Err(PatternError::new(TOO_COMPLEX));
        }
        // Nested `$or`s multiply; bound the expansion (AWS's limit and text are not recorded).
        if tree.branch_count() > MAX_ALTERNATIVES {
            return Err(PatternError::new("Rule is too complex"));
        }
        let rules = tree.to_rules();
        let paths = PathIndex::new(&rules.paths);
        Ok(EventPattern { rules, paths })
    }

    /// Whether `event` (a JSON object; anything else never matches) satisfies the pattern.
    pub fn matches(&self, event: &Value) -> bool {
        match event {
            Value::Object(root) => {
                document::matches(&self.rules, &self.paths, root, Dialect::EventBridge)
            }
            _ => false,
        }
    }

    /// `None` when `event` matches; else which key failed (the console's pattern tester), by
    /// the shared `ruler::explain` over this dialect's matcher.
    pub fn explain(&self, event: &Value) -> Option<String> {
        if self.matches(event) {
            return None;
        }
        let Value::Object(root) = event else {
            return Some("the event is not a JSON object".into());
        };
        Some(explain::failing_keys(&self.rules, |rules| {
            document::matches(rules, &self.paths, root, Dialect::EventBridge)
        }))
    }

    /// For each alternative (`$or` branch) of the pattern, the exact strings the field at the
    /// dotted path `field` must equal, or `None` when some alternative accepts other values (or
    /// does not test `field`). Used by the rule index.
    pub(crate) fn required_strings(&self, field: &str) -> Option<Vec<&str>> {
        let path = self.rules.paths.iter().position(|p| p == field)?;
        let mut values = Vec::new();
        for branch in &self.rules.branches {
            let rule = branch.iter().find(|rule| rule.path == path)?;
            for cond in &rule.conds {
                match cond {
                    // IP literals also match other spellings of the address.
                    Cond::Exact(Literal::Str { text, ip: None }) => values.push(text.as_str()),
                    _ => return None,
                }
            }
        }
        values.sort_unstable();
        values.dedup();
        Some(values)
    }

    /// The fields (dotted paths) the pattern tests, in first-use order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &str> {
        self.rules.paths.iter().map(String::as_str)
    }
}

/// The reason AWS (its JSON parser, Jackson) gives for a pattern that is not JSON, for the
/// common cases: a bare word or a stray character where a value or a field name belongs, and
/// input that ends early.
fn json_error(json: &str, error: &serde_json::Error) -> PatternError {
    let mut offset = byte_offset(json, error.line(), error.column());
    // serde_json stops inside a word it took for `true`/`false`/`null`; Jackson names the word.
    while let Some(prev) = json[..offset].chars().next_back() {
        if !(prev.is_alphanumeric() || prev == '_') {
            break;
        }
        offset -= prev.len_utf8();
    }
    let rest = &json[offset..];
    let text = error.to_string();
    if error.classify() == serde_json::error::Category::Eof {
        let open = if json.trim_start().starts_with('[') {
            "Array"
        } else {
            "Object"
        };
        return PatternError::new(format!(
            "Unexpected end-of-input: expected close marker for {open}"
        ));
    }
    let Some(first) = rest.chars().next() else {
        return PatternError::new(text);
    };
    if text.starts_with("key must be a string") {
        return PatternError::new(format!(
            "Unexpected character ({}): was expecting double-quote to start field name",
            describe_char(first)
        ));
    }
    if text.starts_with("expected value") || text.starts_with("expected ident") {
        if first.is_alphanumeric() || first == '_' {
            let word: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && !"{}[],:\"".contains(*c))
                .collect();
            return PatternError::new(format!(
                "Unrecognized token '{word}': was expecting (JSON String, Number, Array, Object \
                 or token 'null', 'true' or 'false')"
            ));
        }
        return PatternError::new(format!(
            "Unexpected character ({}): expected a valid value (JSON String, Number, Array, \
             Object or token 'null', 'true' or 'false')",
            describe_char(first)
        ));
    }
    // serde_json's own wording, without its position suffix.
    let reason = text.split(" at line ").next().unwrap_or(&text).to_owned();
    PatternError::new(reason)
}

/// Jackson's way of showing a character: `''' (code 39)`.
fn describe_char(c: char) -> String {
    format!("'{c}' (code {})", c as u32)
}

/// serde_json reports 1-based lines and columns (0 at a line's start); where does that point?
fn byte_offset(json: &str, line: usize, column: usize) -> usize {
    let line_start: usize = json
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let mut offset = line_start + column.saturating_sub(1);
    while offset < json.len() && !json.is_char_boundary(offset) {
        offset -= 1;
    }
    offset.min(json.len())
}

/// `TestEventPattern`'s check of its `Event`: a JSON object carrying the envelope fields AWS
/// requires (`id`, `account`, `source`, `time`, `region`, `detail-type`). On error, AWS's
/// `ValidationException` message.
pub fn parse_test_event(event: &str) -> Result<Value, &'static str> {
    const INVALID: &str = "Parameter Event is not valid.";
    let value: Value = serde_json::from_str(event).map_err(|_| INVALID)?;
    let Value::Object(fields) = &value else {
        return Err(INVALID);
    };
    let required = ["id", "account", "source", "time", "region", "detail-type"];
    if required.iter().all(|name| fields.contains_key(*name)) {
        Ok(value)
    } else {
        Err(INVALID)
    }
}
