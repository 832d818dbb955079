//! Template text → a value tree. YAML short-form tags (`!Ref X`, `!GetAtt A.B`) are rewritten
//! to their long form (`{"Ref": "X"}`, `{"Fn::GetAtt": "A.B"}`) as they are read, so everything
//! after parsing sees one form. JSON templates are read by serde_json, keeping key order.

use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// A template value: JSON's data model, with numbers kept as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A number as the template wrote it (`300`, `1.5`).
    Number(String),
    String(String),
    List(Vec<Value>),
    Map(Map),
}

/// A mapping in template order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map(pub Vec<(String, Value)>);

impl Map {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The single `(key, value)` of a one-entry mapping: how intrinsic functions look.
    pub fn single(&self) -> Option<(&str, &Value)> {
        match self.0.as_slice() {
            [(k, v)] => Some((k.as_str(), v)),
            _ => None,
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// A scalar as the text an AWS API takes (`true`, `300`, `name`).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::String(s) | Value::Number(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The value as JSON (for policy documents given as objects).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => serde_json::from_str::<serde_json::Number>(n)
                .map(J::Number)
                .unwrap_or_else(|_| J::String(n.clone())),
            Value::String(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => {
                J::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
}

/// A syntax error, with where it is when known.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    /// 1-based line and column.
    pub at: Option<(usize, usize)>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "line {line} column {col}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn error_at(span: &Span, message: impl Into<String>) -> ParseError {
    ParseError {
        message: message.into(),
        at: Some((span.start.line(), span.start.col() + 1)),
    }
}

/// Parses a JSON template.
pub fn json(text: &str) -> Result<Value, ParseError> {
    serde_json::from_str(text).map_err(|e| ParseError {
        message: e.to_string(),
        at: None,
    })
}

/// The intrinsic function a short-form tag stands for (`!Ref` → `Ref`, `!Sub` → `Fn::Sub`).
fn long_form(suffix: &str) -> Option<String> {
    const FUNCTIONS: &[&str] = &[
        "And",
        "Base64",
        "Cidr",
        "Equals",
        "FindInMap",
        "GetAZs",
        "GetAtt",
        "If",
        "ImportValue",
        "Join",
        "Length",
        "Not",
        "Or",
        "Select",
        "Split",
        "Sub",
        "ToJsonString",
        "Transform",
    ];
    match suffix {
        "Ref" | "Condition" => Some(suffix.to_string()),
        f if FUNCTIONS.contains(&f) => Some(format!("Fn::{f}")),
        _ => None,
    }
}

const CORE_SCHEMA: &str = "tag:yaml.org,2002:";

/// Parses a YAML template (one document).
pub fn yaml(text: &str) -> Result<Value, ParseError> {
    let mut builder = Builder::default();
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| ParseError {
            message: e.info().to_string(),
            at: Some((e.marker().line(), e.marker().col() + 1)),
        })?;
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(error_at(&span, "a template is a single YAML document"));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), &span)?;
                builder.push(value, anchor, &span)?;
            }
            Event::Alias(anchor) => {
                let value = builder
                    .anchors
                    .iter()
                    .rev()
                    .find(|(id, _)| *id == anchor)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| error_at(&span, "alias to an unknown anchor"))?;
                builder.push(value, 0, &span)?;
            }
            Event::SequenceStart(anchor, tag) => {
                let function = function_tag(tag.as_deref(), &span)?;
                builder.open(Frame::List(Vec::new()), anchor, function);
            }
            Event::MappingStart(anchor, tag) => {
                let function = function_tag(tag.as_deref(), &span)?;
                builder.open(Frame::Map(Map::default(), None), anchor, function);
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(&span)?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    builder.root.ok_or_else(|| ParseError {
        message: "the template is empty".into(),
        at: None,
    })
}

/// The long-form function name of a collection's tag; `None` for no tag or a core-schema one.
fn function_tag(tag: Option<&Tag>, span: &Span) -> Result<Option<String>, ParseError> {
    match tag {
        None => Ok(None),
        Some(t) if t.handle == CORE_SCHEMA => Ok(None),
        Some(t) if t.handle == "!" => long_form(&t.suffix)
            .map(Some)
            .ok_or_else(|| error_at(span, format!("unknown tag !{}", t.suffix))),
        Some(t) => Err(error_at(
            span,
            format!("unknown tag {}{}", t.handle, t.suffix),
        )),
    }
}

fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: &Span,
) -> Result<Value, ParseError> {
    let plain = style == ScalarStyle::Plain;
    match tag {
        None => Ok(if plain {
            resolve_plain(text)
        } else {
            Value::String(text.to_string())
        }),
        Some(t) if t.handle == CORE_SCHEMA => match t.suffix.as_str() {
            "str" => Ok(Value::String(text.to_string())),
            _ => Ok(resolve_plain(text)),
        },
        Some(_) => {
            let function = function_tag(tag, span)?.unwrap_or_default();
            let argument = Value::String(text.to_string());
            Ok(Value::Map(Map(vec![(function, argument)])))
        }
    }
}

/// YAML 1.2 core schema resolution of an unquoted scalar.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if is_number(text) {
        Value::Number(text.to_string())
    } else {
        Value::String(text.to_string())
    }
}

/// A decimal integer or float, as the core schema reads one.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match digits.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (digits, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int)
        && frac.is_none_or(all_digits)
        && !(int.is_empty() && frac.is_none_or(str::is_empty));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

enum Frame {
    List(Vec<Value>),
    /// Entries so far, and a key waiting for its value.
    Map(Map, Option<String>),
}

struct Open {
    frame: Frame,
    anchor: usize,
    /// The intrinsic function the collection's tag names, wrapping it when it closes.
    function: Option<String>,
}

/// Builds the tree from parser events.
#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Value>,
    anchors: Vec<(usize, Value)>,
}

impl Builder {
    fn open(&mut self, frame: Frame, anchor: usize, function: Option<String>) {
        self.stack.push(Open {
            frame,
            anchor,
            function,
        });
    }

    fn close(&mut self, span: &Span) -> Result<(), ParseError> {
        let open = self
            .stack
            .pop()
            .ok_or_else(|| error_at(span, "unbalanced collection"))?;
        let value = match open.frame {
            Frame::List(items) => Value::List(items),
            Frame::Map(map, None) => Value::Map(map),
            Frame::Map(_, Some(key)) => {
                return Err(error_at(span, format!("key {key:?} has no value")))
            }
        };
        let value = match open.function {
            Some(function) => Value::Map(Map(vec![(function, value)])),
            None => value,
        };
        self.push(value, open.anchor, span)
    }

    fn push(&mut self, value: Value, anchor: usize, span: &Span) -> Result<(), ParseError> {
        if anchor != 0 {
            self.anchors.push((anchor, value.clone()));
        }
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(value);
            return Ok(());
        };
        match &mut top.frame {
            Frame::List(items) => items.push(value),
            Frame::Map(map, pending) => match pending.take() {
                Some(key) => map.0.push((key, value)),
                None => {
                    let key = match value {
                        Value::Map(_) | Value::List(_) => {
                            return Err(error_at(span, "mapping keys must be plain strings"))
                        }
                        Value::Null => String::new(),
                        other => other.scalar_text().unwrap_or_default(),
                    };
                    if map.get(&key).is_some() {
                        return Err(error_at(span, format!("duplicate key {key:?}")));
                    }
                    *pending = Some(key);
                }
            },
        }
        Ok(())
    }
}

/// JSON templates deserialize straight into `Value`, keeping key order and number text.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::default();
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            if map.get(&key).is_some() {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.0.push((key, value));
        }
        Ok(Value::Map(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    fn call(function: &str, argument: Value) -> Value {
        Value::Map(Map(vec![(function.into(), argument)]))
    }

    fn field(doc: &Value, key: &str) -> Value {
        doc.as_map().unwrap().get(key).unwrap().clone()
    }

    #[test]
    fn every_short_form_tag_becomes_its_long_form() {
        let doc = yaml(
            "ref: !Ref Env\n\
             getatt: !GetAtt Queue.Arn\n\
             getatt_list: !GetAtt [Queue, Arn]\n\
             sub: !Sub 'q-${Env}'\n\
             join: !Join [',', [a, b]]\n\
             select: !Select [0, [a]]\n\
             split: !Split [',', 'a,b']\n\
             if: !If [Prod, a, b]\n\
             equals: !Equals [a, b]\n\
             and: !And [!Condition A, !Condition B]\n\
             or: !Or [!Condition A, !Condition B]\n\
             not: !Not [!Condition A]\n\
             findinmap: !FindInMap [M, k, v]\n\
             base64: !Base64 text\n\
             importvalue: !ImportValue exported\n\
             getazs: !GetAZs ''\n\
             cidr: !Cidr [x, 1, 2]\n",
        )
        .unwrap();
        assert_eq!(field(&doc, "ref"), call("Ref", s("Env")));
        assert_eq!(field(&doc, "getatt"), call("Fn::GetAtt", s("Queue.Arn")));
        assert_eq!(
            field(&doc, "getatt_list"),
            call("Fn::GetAtt", Value::List(vec![s("Queue"), s("Arn")]))
        );
        assert_eq!(field(&doc, "sub"), call("Fn::Sub", s("q-${Env}")));
        assert_eq!(
            field(&doc, "join"),
            call(
                "Fn::Join",
                Value::List(vec![s(","), Value::List(vec![s("a"), s("b")])])
            )
        );
        assert_eq!(
            field(&doc, "select"),
            call(
                "Fn::Select",
                Value::List(vec![Value::Number("0".into()), Value::List(vec![s("a")])])
            )
        );
        assert_eq!(
            field(&doc, "split"),
            call("Fn::Split", Value::List(vec![s(","), s("a,b")]))
        );
        assert_eq!(
            field(&doc, "if"),
            call("Fn::If", Value::List(vec![s("Prod"), s("a"), s("b")]))
        );
        assert_eq!(
            field(&doc, "equals"),
            call("Fn::Equals", Value::List(vec![s("a"), s("b")]))
        );
        let conditions = Value::List(vec![call("Condition", s("A")), call("Condition", s("B"))]);
        assert_eq!(field(&doc, "and"), call("Fn::And", conditions.clone()));
        assert_eq!(field(&doc, "or"), call("Fn::Or", conditions));
        assert_eq!(
            field(&doc, "not"),
            call("Fn::Not", Value::List(vec![call("Condition", s("A"))]))
        );
        assert_eq!(
            field(&doc, "findinmap"),
            call("Fn::FindInMap", Value::List(vec![s("M"), s("k"), s("v")]))
        );
        assert_eq!(field(&doc, "base64"), call("Fn::Base64", s("text")));
        assert_eq!(
            field(&doc, "importvalue"),
            call("Fn::ImportValue", s("exported"))
        );
        assert_eq!(field(&doc, "getazs"), call("Fn::GetAZs", s("")));
        assert!(matches!(field(&doc, "cidr"), Value::Map(m) if m.keys().eq(["Fn::Cidr"])));
    }

    #[test]
    fn tagged_mappings_and_nested_tags() {
        let doc = yaml("v: !Sub\n  - '${A}-${B}'\n  - B: !Ref X\n").unwrap();
        let expected = call(
            "Fn::Sub",
            Value::List(vec![
                s("${A}-${B}"),
                Value::Map(Map(vec![("B".into(), call("Ref", s("X")))])),
            ]),
        );
        assert_eq!(field(&doc, "v"), expected);
        let doc = yaml("v: !If\n  - C\n  - {a: 1}\n  - !Ref AWS::NoValue\n").unwrap();
        assert!(matches!(field(&doc, "v"), Value::Map(m) if m.keys().eq(["Fn::If"])));
    }

    #[test]
    fn scalars_resolve_like_the_core_schema() {
        let doc = yaml(
            "n: 300\nf: 1.5\nneg: -2\nt: true\nq: '300'\nnull1: ~\nempty:\nword: dev\ns: !!str 12\nver: 2010-09-09\n",
        )
        .unwrap();
        assert_eq!(field(&doc, "n"), Value::Number("300".into()));
        assert_eq!(field(&doc, "f"), Value::Number("1.5".into()));
        assert_eq!(field(&doc, "neg"), Value::Number("-2".into()));
        assert_eq!(field(&doc, "t"), Value::Bool(true));
        assert_eq!(field(&doc, "q"), s("300"));
        assert_eq!(field(&doc, "null1"), Value::Null);
        assert_eq!(field(&doc, "empty"), Value::Null);
        assert_eq!(field(&doc, "word"), s("dev"));
        assert_eq!(field(&doc, "s"), s("12"));
        assert_eq!(field(&doc, "ver"), s("2010-09-09"));
    }

    #[test]
    fn anchors_and_aliases_copy_values() {
        let doc = yaml("a: &common {x: 1}\nb: *common\n").unwrap();
        assert_eq!(field(&doc, "a"), field(&doc, "b"));
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = yaml("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.at.is_some(), "{err}");
        let err = yaml("a: !Bogus x\n").unwrap_err();
        assert_eq!(err.to_string(), "line 1 column 4: unknown tag !Bogus");
        let err = yaml("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate key \"a\""), "{err}");
        assert!(yaml("a: 1\n---\nb: 2\n").is_err());
        assert!(yaml("").is_err());
    }

    #[test]
    fn json_keeps_order_and_number_text() {
        let doc = json(r#"{"b": 1, "a": {"Ref": "X"}, "c": [true, null, 2.5]}"#).unwrap();
        let map = doc.as_map().unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(map.get("b"), Some(&Value::Number("1".into())));
        assert_eq!(map.get("a"), Some(&call("Ref", s("X"))));
        assert!(json(r#"{"a": 1, "a": 2}"#).is_err());
    }

    #[test]
    fn objects_serialise_to_json() {
        let doc =
            yaml("p:\n  deadLetterTargetArn: arn:aws:sqs:us-east-1:1:q\n  maxReceiveCount: 3\n")
                .unwrap();
        assert_eq!(
            field(&doc, "p").to_json().to_string(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:q","maxReceiveCount":3}"#
        );
    }
}
