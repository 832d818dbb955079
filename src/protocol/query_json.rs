//! The query protocol's JSON answers. AWS answers a query request that sends
//! `Accept: application/json` with the same document as JSON:
//! `{"<Op>Response": {"<Op>Result": {...}, "ResponseMetadata": {"RequestId": ...}}}`, and an
//! error as `{"Error": {...}, "RequestId": ...}`. Rather than a second encoder per service, the
//! XML document the encoder wrote is converted, so both renderings always carry the same data.
//!
//! Conversion: an element with children becomes an object, one with only text a string, an
//! empty `...Result` an empty object and any other empty element `null` (SQS) or `[]` (SNS,
//! whose only elements written empty are its wrapped lists). Lists become arrays:
//! wrapped lists (`<Topics><member>…`), SNS maps (`<entry><key/><value/>`) an object, and
//! flattened lists (SQS's repeated `<Message>`) an array under the JSON name the service gives
//! for that element (see `sqs_query::JSON_LISTS`), even when there is only one.

use quick_xml::events::Event;
use serde_json::{Map, Value};

#[derive(Default)]
struct Node {
    name: String,
    children: Vec<Node>,
    text: String,
    /// Written as `<x/>`.
    empty: bool,
}

/// How one service's documents convert (each service's `QueryStyle` gives its rules).
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The item element of a flattened list and the JSON key of its array.
    pub flattened: &'static [(&'static str, &'static str)],
    /// Empty elements other than results are (empty) lists.
    pub empty_is_list: bool,
}

impl Rules {
    /// No lists: what an error document follows.
    pub const PLAIN: Rules = Rules {
        flattened: &[],
        empty_is_list: false,
    };
}

/// Converts a query-protocol XML document to its JSON form. `None` if the document does not
/// parse (never for what the encoders write).
pub fn convert(xml: &str, rules: Rules) -> Option<String> {
    let root = parse(xml)?;
    let value = if root.name == "ErrorResponse" {
        // An error has no lists; its `<Message>` is a plain field.
        object(&root, Rules::PLAIN)
    } else {
        let mut top = Map::new();
        top.insert(root.name.clone(), value(&root, rules));
        Value::Object(top)
    };
    Some(value.to_string())
}

fn parse(xml: &str) -> Option<Node> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => stack.push(Node {
                name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                ..Node::default()
            }),
            Event::Empty(e) => {
                let node = Node {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    empty: true,
                    ..Node::default()
                };
                stack.last_mut()?.children.push(node);
            }
            Event::Text(t) => {
                // References arrive as their own events, so the text needs no unescaping.
                let text = t.decode().ok()?;
                stack.last_mut()?.text.push_str(&text);
            }
            Event::GeneralRef(r) => {
                // `&#xD;` and the named entities arrive as references.
                let c = match r.resolve_char_ref().ok()? {
                    Some(c) => c.to_string(),
                    None => {
                        quick_xml::escape::resolve_predefined_entity(&r.decode().ok()?)?.to_string()
                    }
                };
                stack.last_mut()?.text.push_str(&c);
            }
            Event::End(_) => {
                let node = stack.pop()?;
                stack.last_mut()?.children.push(node);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop()?.children.into_iter().next()
}

fn value(node: &Node, rules: Rules) -> Value {
    if node.children.is_empty() {
        return match (node.empty, node.name.ends_with("Result")) {
            (true, true) => Value::Object(Map::new()),
            (true, false) if rules.empty_is_list => Value::Array(Vec::new()),
            (true, false) => Value::Null,
            (false, _) => Value::String(node.text.clone()),
        };
    }
    if node.children.iter().all(|c| c.name == "member") {
        return Value::Array(node.children.iter().map(|c| value(c, rules)).collect());
    }
    if node.children.iter().all(|c| c.name == "entry") {
        let mut map = Map::new();
        for entry in &node.children {
            let field = |name: &str| entry.children.iter().find(|c| c.name == name);
            if let Some(key) = field("key") {
                let v = field("value").map_or(Value::Null, |v| value(v, rules));
                map.insert(key.text.clone(), v);
            }
        }
        return Value::Object(map);
    }
    object(node, rules)
}

fn object(node: &Node, rules: Rules) -> Value {
    let mut map = Map::new();
    for child in &node.children {
        let v = value(child, rules);
        let list_key = rules
            .flattened
            .iter()
            .find(|(element, _)| *element == child.name)
            .map(|(_, key)| *key);
        match (list_key, map.get_mut(list_key.unwrap_or(&child.name))) {
            (Some(_), Some(Value::Array(items))) => items.push(v),
            (Some(key), _) => {
                map.insert(key.to_string(), Value::Array(vec![v]));
            }
            // A repeated element the table does not name still keeps every item.
            (None, Some(existing)) => match existing {
                Value::Array(items) => items.push(v),
                other => *other = Value::Array(vec![other.take(), v]),
            },
            (None, None) => {
                map.insert(child.name.clone(), v);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_wrapped_and_empty() {
        let xml = "<?xml version=\"1.0\"?><R xmlns=\"x\"><RResult><Message><Body>a&amp;b&#xD;</Body></Message></RResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></R>";
        let rules = Rules {
            flattened: &[("Message", "messages")],
            empty_is_list: false,
        };
        let json: Value = serde_json::from_str(&convert(xml, rules).unwrap()).unwrap();
        assert_eq!(json["R"]["RResult"]["messages"][0]["Body"], "a&b\r");
        assert_eq!(json["R"]["ResponseMetadata"]["RequestId"], "1");
        let xml = "<R><RResult/><T><member><A>1</A></member></T></R>";
        let json: Value = serde_json::from_str(&convert(xml, rules).unwrap()).unwrap();
        assert_eq!(json["R"]["RResult"], serde_json::json!({}));
        assert_eq!(json["R"]["T"][0]["A"], "1");
    }
}
