//! Entry points of the cargo-fuzz targets in `fuzz/` (issue 17 item 7), not an API: each takes
//! arbitrary bytes and must return, without panicking and in bounded time, whatever they are.

use std::sync::Arc;

use crate::protocol::params::Params;
use crate::protocol::query::QueryBinding;
use crate::sns::filter::{FilterPolicy, FilterScope};
use crate::sns::SnsService;
use crate::sqs::model::MessageAttributes;
use crate::sqs::SqsService;

/// The query-parameter parser, then the SQS and SNS query decoders: the first byte picks an
/// operation of each service, the rest is the form body.
pub fn query_request(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let Ok(params) = Params::parse(&[body]) else {
        return;
    };
    let sqs = crate::sqs::model::Operation::ALL;
    let _ = <SqsService as QueryBinding>::decode(sqs[pick as usize % sqs.len()], &params);
    let sns = crate::sns::model::Operation::ALL;
    let _ = <SnsService as QueryBinding>::decode(sns[pick as usize % sns.len()], &params);
    // The accessors decoders use, on whatever the body named.
    for name in [
        "Action",
        "QueueUrl",
        "Attribute",
        "Entries",
        "MessageAttributes",
    ] {
        let _ = params.int(name);
        let _ = params.bool(name);
        let _ = params.list(name);
        let _ = params.indexed(name).len();
    }
}

/// AWS JSON decoding of an operation: the first byte picks the service (high bit: EventBridge,
/// else SQS) and the operation, the rest is the body.
pub fn json_request(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let index = (pick & 0x7f) as usize;
    if pick & 0x80 == 0 {
        let ops = crate::sqs::model::Operation::ALL;
        let _ = crate::sqs::model::Request::from_json(ops[index % ops.len()], body);
    } else {
        let ops = crate::events::model::Operation::ALL;
        let _ = crate::events::model::Request::from_json(ops[index % ops.len()], body);
    }
}

/// REST-JSON routing and decoding (Lambda and its event source mappings):
/// `method \0 path?query \0 body`, the first byte picking the method and the service.
pub fn rest_request(data: &[u8]) {
    use crate::lambda::event_sources::EventSources;
    use crate::lambda::LambdaService;
    use crate::protocol::rest_json::decode_request;
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let target = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = bytes::Bytes::copy_from_slice(parts.next().unwrap_or_default());
    let Ok(uri) = target.parse::<http::Uri>() else {
        return;
    };
    let methods = [
        http::Method::GET,
        http::Method::POST,
        http::Method::PUT,
        http::Method::DELETE,
    ];
    let method = &methods[(pick & 3) as usize];
    let mut headers = http::HeaderMap::new();
    // The invocation headers Invoke reads, with values from the path (any bytes it allows).
    if let Ok(value) = http::HeaderValue::from_str(uri.path()) {
        for name in [
            "x-amz-invocation-type",
            "x-amz-log-type",
            "x-amz-client-context",
        ] {
            if pick & 4 != 0 {
                headers.insert(name, value.clone());
            }
        }
    }
    if pick & 8 == 0 {
        let _ = decode_request::<LambdaService>(method, &uri, headers, body);
    } else {
        let _ = decode_request::<EventSources>(method, &uri, headers, body);
    }
}

/// EventBridge's event-pattern compiler and matcher, and the target input paths and
/// transformer: `pattern \0 event \0 input path \0 input template`.
pub fn event_pattern(data: &[u8]) {
    use crate::events::pattern::{parse_test_event, EventPattern};
    use crate::events::transform::{input_path, InputTransformer, JsonPath, RuleContext};
    let mut parts = data.splitn(4, |b| *b == 0);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (pattern, event, path, template) = (next(), next(), next(), next());
    let event = parse_test_event(&event)
        .ok()
        .or_else(|| serde_json::from_str(&event).ok());
    let compiled = EventPattern::parse(&pattern);
    let Some(event) = event else {
        return;
    };
    if let Ok(compiled) = compiled {
        let _ = compiled.matches(&event);
    }
    if let Ok(parsed) = JsonPath::parse(&path) {
        let _ = input_path(&parsed, &event);
    }
    let paths = std::collections::BTreeMap::from([("v".to_string(), path)]);
    if let Ok(transformer) = InputTransformer::new(&paths, &template) {
        let ctx = RuleContext {
            rule_arn: "arn:aws:events:us-east-1:000000000000:rule/fuzz".into(),
            rule_name: "fuzz".into(),
            ingestion_time: "2026-12-05T00:00:00Z".into(),
        };
        let _ = transformer.apply(&event, &ctx);
    }
}

/// The filter-policy compiler and matcher: `policy \0 message body \0 message attributes (JSON)`;
/// the first byte's low bit picks the scope.
pub fn filter_policy(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let policy = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let attributes: MessageAttributes = parts
        .next()
        .and_then(|a| serde_json::from_slice(a).ok())
        .unwrap_or_default();
    let scope = if pick & 1 == 0 {
        FilterScope::MessageAttributes
    } else {
        FilterScope::MessageBody
    };
    if let Ok(filter) = FilterPolicy::compile(&policy, scope) {
        let _ = filter.matches(&attributes, &body);
        let _ = filter.matches_attributes(&attributes);
        let _ = filter.matches_body(&body);
    }
}

/// The template parsers (JSON and YAML), and the parsed document's JSON form.
pub fn template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = [
        crate::template::parse::json(text),
        crate::template::parse::yaml(text),
    ];
    for value in parsed.into_iter().flatten() {
        let _ = value.to_json();
    }
}

/// The store's record decoders: a message record (binary or format 1 JSON), which must encode
/// and decode again once read; queue, topic and subscription records.
pub fn store_record(data: &[u8]) {
    let mut intern = |s: &str| Arc::<str>::from(s);
    if let Ok(message) = crate::sqs::record::decode(data, &mut intern) {
        let again = crate::sqs::record::encode(&message);
        crate::sqs::record::decode(&again, &mut intern).expect("a record read back decodes again");
    }
    let _ = serde_json::from_slice::<crate::sqs::queue::QueueRecord>(data);
    crate::sns::persist::decode_records(data);
}
