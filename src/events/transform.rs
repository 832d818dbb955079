//! What a rule sends its targets instead of the whole event: `InputPath` (a JSONPath into the
//! event) and `InputTransformer` (`InputPathsMap` variables substituted into `InputTemplate`).
//! `Input` (constant JSON) needs nothing from here.
//!
//! Substitution, as AWS does it (its documentation and the deliveries it recorded):
//! * A template that is a JSON object or array (it starts with `{` or `[`): a placeholder inside
//!   a JSON string (`"path/<id>"`) inserts a string's characters (escaped for JSON), a number's
//!   or boolean's text, nothing for null or a missing value, and an object or array as raw
//!   JSON — which leaves the output invalid; AWS then delivers nothing, and so does
//!   [`InputTransformer::apply`] (`Err`). A placeholder outside strings (`"id": <id>`)
//!   inserts the value as JSON (strings quoted), `""` for a missing value.
//! * Any other template (plain text, or a JSON string such as `"<a> is <b>"`, whose quotes stay):
//!   values are inserted as text — strings unquoted, objects and arrays as JSON without its
//!   quotes (`{a:1,b:x}`, `[HIGH]`), nothing for null or missing values.
//! * Predefined variables: `<aws.events.rule-arn>`, `<aws.events.rule-name>`,
//!   `<aws.events.event.ingestion-time>` (strings), `<aws.events.event>` (the envelope without
//!   `detail`, with `detailType`, as AWS recorded) and `<aws.events.event.json>` (the whole
//!   event) — the two last are inserted as raw JSON wherever they stand.
//! * A placeholder naming neither a key of `InputPathsMap` nor a predefined variable is
//!   rejected at `PutTargets` (recorded text). JSONPaths support what AWS documents: `$`,
//!   dot notation, `['name']`, array indices and `*`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// At most this many `InputPathsMap` entries.
pub const MAX_PATHS: usize = 100;

const RULE_ARN: &str = "aws.events.rule-arn";
const RULE_NAME: &str = "aws.events.rule-name";
const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
const EVENT: &str = "aws.events.event";
const EVENT_JSON: &str = "aws.events.event.json";
const PREDEFINED: [&str; 5] = [RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON];

/// A `PutTargets` validation failure; [`TransformError::message`] is the `ValidationException`
/// text for the target. Only [`TransformError::InvalidPlaceholder`]'s text is recorded from AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    InvalidPlaceholder(String),
    TooManyPaths,
    /// A key that is not `[A-Za-z0-9_-]+` or is a predefined variable's name.
    InvalidKey(String),
    InvalidPath(String),
}

impl TransformError {
    pub fn message(&self, target_id: &str) -> String {
        match self {
            TransformError::InvalidPlaceholder(name) => {
                format!("InputTemplate for target {target_id} contains invalid placeholder {name}.")
            }
            TransformError::TooManyPaths => {
                format!("InputPathsMap for target {target_id} has more than {MAX_PATHS} entries.")
            }
            TransformError::InvalidKey(key) => {
                format!("InputPathsMap for target {target_id} contains invalid key {key}.")
            }
            TransformError::InvalidPath(path) => {
                format!("Invalid JSONPath {path} for target {target_id}.")
            }
        }
    }
}

/// Which rule is delivering, for the predefined variables.
#[derive(Debug, Clone, Default)]
pub struct RuleContext {
    pub rule_arn: String,
    pub rule_name: String,
    /// ISO 8601, as the event's `time`.
    pub ingestion_time: String,
}

/// A JSONPath of the subset AWS supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    /// Every member of an object or element of an array.
    All,
}

impl JsonPath {
    pub fn parse(path: &str) -> Result<JsonPath, TransformError> {
        let invalid = || TransformError::InvalidPath(path.to_owned());
        let mut rest = path.strip_prefix('$').ok_or_else(invalid)?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err(invalid());
                }
                steps.push(if name == "*" {
                    Step::All
                } else {
                    Step::Key(name.to_owned())
                });
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(invalid)?;
                let inside = after[..end].trim();
                steps.push(if inside == "*" {
                    Step::All
                } else if let Some(quoted) = inside
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    Step::Key(quoted.to_owned())
                } else {
                    Step::Index(inside.parse().map_err(|_| invalid())?)
                });
                rest = &after[end + 1..];
            } else {
                return Err(invalid());
            }
        }
        Ok(JsonPath { steps })
    }

    /// The value at this path: `None` when it is missing; with `*`, the array of every match
    /// (`None` when there is none).
    pub fn select(&self, root: &Value) -> Option<Value> {
        let mut current: Vec<&Value> = vec![root];
        let mut many = false;
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                match (step, value) {
                    (Step::Key(key), Value::Object(members)) => next.extend(members.get(key)),
                    (Step::Index(i), Value::Array(items)) => next.extend(items.get(*i)),
                    (Step::All, Value::Object(members)) => next.extend(members.values()),
                    (Step::All, Value::Array(items)) => next.extend(items.iter()),
                    _ => {}
                }
            }
            many |= *step == Step::All;
            current = next;
        }
        match (many, current.as_slice()) {
            (_, []) => None,
            (false, [one]) => Some((*one).clone()),
            _ => Some(Value::Array(current.into_iter().cloned().collect())),
        }
    }
}

/// `InputPath`: the JSON text of the part of `event` at `path`, `None` when it is missing.
pub fn input_path(path: &JsonPath, event: &Value) -> Option<String> {
    path.select(event).map(|v| v.to_string())
}

/// A validated `InputTransformer`.
#[derive(Debug, Clone)]
pub struct InputTransformer {
    paths: BTreeMap<String, JsonPath>,
    template: Vec<Piece>,
    /// The template is a JSON object or array.
    json: bool,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Placeholder { name: String, in_string: bool },
}

impl InputTransformer {
    pub fn new(
        paths_map: &BTreeMap<String, String>,
        template: &str,
    ) -> Result<InputTransformer, TransformError> {
        if paths_map.len() > MAX_PATHS {
            return Err(TransformError::TooManyPaths);
        }
        let mut paths = BTreeMap::new();
        for (key, path) in paths_map {
            let valid_key = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid_key || PREDEFINED.contains(&key.as_str()) {
                return Err(TransformError::InvalidKey(key.clone()));
            }
            paths.insert(key.clone(), JsonPath::parse(path)?);
        }
        let pieces = split_template(template);
        for piece in &pieces {
            if let Piece::Placeholder { name, .. } = piece {
                if !paths.contains_key(name) && !PREDEFINED.contains(&name.as_str()) {
                    return Err(TransformError::InvalidPlaceholder(name.clone()));
                }
            }
        }
        let json = matches!(template.trim_start().as_bytes().first(), Some(b'{' | b'['));
        Ok(InputTransformer {
            paths,
            template: pieces,
            json,
        })
    }

    /// The text delivered to the target for `event`, or `Err` (with the text built) when a JSON
    /// template came out as invalid JSON, which AWS does not deliver.
    pub fn apply(&self, event: &Value, ctx: &RuleContext) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.template {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Placeholder { name, in_string } => {
                    self.insert(&mut out, name, *in_string, event, ctx)
                }
            }
        }
        if self.json && serde_json::from_str::<Value>(&out).is_err() {
            return Err(out);
        }
        Ok(out)
    }

    fn insert(
        &self,
        out: &mut String,
        name: &str,
        in_string: bool,
        event: &Value,
        ctx: &RuleContext,
    ) {
        let value = match name {
            EVENT => return out.push_str(&envelope_without_detail(event).to_string()),
            EVENT_JSON => return out.push_str(&event.to_string()),
            RULE_ARN => Some(Value::String(ctx.rule_arn.clone())),
            RULE_NAME => Some(Value::String(ctx.rule_name.clone())),
            INGESTION_TIME => Some(Value::String(ctx.ingestion_time.clone())),
            _ => self.paths.get(name).and_then(|path| path.select(event)),
        };
        match (self.json, in_string, value) {
            // JSON template, outside strings: the value as JSON.
            (true, false, None) => out.push_str("\"\""),
            (true, false, Some(v)) => out.push_str(&v.to_string()),
            // JSON template, inside a string.
            (true, true, Some(Value::String(s))) => push_escaped(out, &s),
            (true, true, Some(v @ (Value::Object(_) | Value::Array(_)))) => {
                out.push_str(&v.to_string())
            }
            // Text templates: the value as text.
            (false, _, Some(Value::String(s))) => out.push_str(&s),
            (false, _, Some(v @ (Value::Object(_) | Value::Array(_)))) => {
                out.extend(v.to_string().chars().filter(|c| *c != '"'))
            }
            (_, _, None | Some(Value::Null)) => {}
            (_, _, Some(v)) => out.push_str(&v.to_string()),
        }
    }
}

/// Splits a template into text and `<name>` placeholders, noting which stand inside a JSON
/// string. `<...>` holding anything but `[A-Za-z0-9_.-]` is text.
fn split_template(template: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            let name_len = rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
                .unwrap_or(rest.len() - 1);
            if name_len > 0 && rest[1 + name_len..].starts_with('>') {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Placeholder {
                    name: rest[1..1 + name_len].to_owned(),
                    in_string,
                });
                rest = &rest[name_len + 2..];
                escaped = false;
                continue;
            }
        }
        if escaped {
            escaped = false;
        } else if c == '\\' && in_string {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        }
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// A string's characters as they stand inside a JSON string literal.
fn push_escaped(out: &mut String, s: &str) {
    let quoted = Value::String(s.to_owned()).to_string();
    out.push_str(&quoted[1..quoted.len() - 1]);
}

/// `<aws.events.event>`: the envelope without `detail`, `detail-type` named `detailType`.
fn envelope_without_detail(event: &Value) -> Value {
    let Value::Object(fields) = event else {
        return event.clone();
    };
    let mut out = Map::new();
    for (key, value) in fields {
        match key.as_str() {
            "detail" => {}
            "detail-type" => {
                out.insert("detailType".to_owned(), value.clone());
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}
