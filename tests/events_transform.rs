//! Target input of EventBridge rules through the public API: `InputPath` and
//! `InputTransformer` (variables, AWS's quoting rules, predefined variables), reproducing the
//! deliveries AWS recorded, and the `PutTargets` validation of transformers.

use std::collections::BTreeMap;

use lyrebird::events::transform::{
    input_path, InputTransformer, JsonPath, RuleContext, TransformError,
};
use serde_json::{json, Value};

fn event(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "9d5b0fd5-7d3e-4c5e-9f3c-1b2a3c4d5e6f",
        "detail-type": "core.update-account-command",
        "source": "core.update-account-command",
        "account": "111111111111",
        "time": "2024-05-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}

fn detail() -> Value {
    json!({
        "command": "update-account",
        "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
        "listsingle": ["HIGH"],
        "listmulti": ["ACTIVE", "INACTIVE"],
        "valid": true,
    })
}

fn ctx() -> RuleContext {
    RuleContext {
        rule_arn: "arn:aws:events:us-east-1:111111111111:rule/orders/my-rule".to_owned(),
        rule_name: "my-rule".to_owned(),
        ingestion_time: "2024-05-01T10:00:01Z".to_owned(),
    }
}

fn paths(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn variables() -> BTreeMap<String, String> {
    paths(&[
        ("userId", "$.detail.payload.acc_id"),
        ("payload", "$.detail.payload"),
        ("systemstring", "$.detail.awsAccountId"),
        ("listsingle", "$.detail.listsingle"),
        ("listmulti", "$.detail.listmulti"),
        ("valid", "$.detail.valid"),
        ("detail-type", "$.detail-type"),
        ("timestamp", "$.time"),
        ("command", "$.detail.command"),
        ("missing", "$.detail.notinmessage"),
    ])
}

fn apply(template: &str) -> Result<String, String> {
    InputTransformer::new(&variables(), template)
        .unwrap_or_else(|e| panic!("{template}: {e:?}"))
        .apply(&event(detail()), &ctx())
}

fn apply_json(template: &str) -> Value {
    let text = apply(template).unwrap_or_else(|t| panic!("{template} gave invalid JSON {t}"));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn input_path_delivers_the_selected_json() {
    let ev = event(
        json!({"command": "update-account", "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}}),
    );
    let select = |p: &str| input_path(&JsonPath::parse(p).unwrap(), &ev);
    assert_eq!(
        select("$.detail").unwrap(),
        r#"{"command":"update-account","payload":{"acc_id":"0a787ecb-4015","sf_id":"baz"}}"#
    );
    assert_eq!(select("$.detail.payload.sf_id").unwrap(), r#""baz""#);
    assert_eq!(select("$").unwrap(), ev.to_string());
    assert_eq!(
        select("$['detail']['payload'].acc_id").unwrap(),
        r#""0a787ecb-4015""#
    );
    assert_eq!(select("$.detail.nothing"), None);
    let arrays = json!({"detail": {"resources": [{"id": "a"}, {"id": "b"}]}});
    let select = |p: &str| JsonPath::parse(p).unwrap().select(&arrays);
    assert_eq!(select("$.detail.resources[1].id"), Some(json!("b")));
    assert_eq!(select("$.detail.resources[*].id"), Some(json!(["a", "b"])));
    assert_eq!(select("$.detail.resources[5]"), None);
    for bad in ["detail", "$.", "$..a", "$[abc]", "$[1", "$.a[x]"] {
        assert_eq!(
            JsonPath::parse(bad),
            Err(TransformError::InvalidPath(bad.to_owned())),
            "{bad}"
        );
    }
}

#[test]
fn string_templates_insert_values_as_text() {
    assert_eq!(
        apply(r#""Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>""#).unwrap(),
        r#""Event of core.update-account-command type, at time 2024-05-01T10:00:00Z, info extracted from detail update-account""#
    );
    // A missing value inserts nothing.
    assert_eq!(
        apply(r#""info extracted from detail <missing>""#).unwrap(),
        r#""info extracted from detail ""#
    );
    assert_eq!(
        apply(r#""{[/Check with special starting characters for event of <detail-type> type""#)
            .unwrap(),
        r#""{[/Check with special starting characters for event of core.update-account-command type""#
    );
    // Objects and arrays as JSON without quotes; booleans as text.
    assert_eq!(
        apply(r#""<listsingle> single list item <listmulti> multiple list items <systemstring> system account id <payload> payload <userId> user id""#).unwrap(),
        r#""[HIGH] single list item [ACTIVE,INACTIVE] multiple list items  system account id {acc_id:0a787ecb-4015,sf_id:baz} payload 0a787ecb-4015 user id""#
    );
    assert_eq!(
        apply(r#""Command is <valid>!""#).unwrap(),
        r#""Command is true!""#
    );
    assert_eq!(
        apply("\"<listsingle> one\"\n\"<userId> user\"").unwrap(),
        "\"[HIGH] one\"\n\"0a787ecb-4015 user\""
    );
    // Unquoted text templates (the API reference's example) insert strings bare.
    assert_eq!(
        apply("<userId> is in state <command>").unwrap(),
        "0a787ecb-4015 is in state update-account"
    );
}

#[test]
fn json_templates_quote_values_outside_strings_only() {
    assert_eq!(
        apply_json(r#"{"detailType": <detail-type>,  "time": <timestamp>, "command": <command>}"#),
        json!({"detailType": "core.update-account-command", "time": "2024-05-01T10:00:00Z", "command": "update-account"})
    );
    // A missing value outside strings becomes "".
    assert_eq!(
        apply_json(r#"{"command": <missing>}"#),
        json!({"command": ""})
    );
    assert_eq!(
        apply_json(
            r#"{"method": "PUT", "path": "users-service/users/<userId>", "bod": <payload>}"#
        ),
        json!({"method": "PUT", "path": "users-service/users/0a787ecb-4015", "bod": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}})
    );
    assert_eq!(
        apply_json(r#"{"id" : <userId>}"#),
        json!({"id": "0a787ecb-4015"})
    );
    assert_eq!(
        apply_json(r#"{"id" : "<userId>"}"#),
        json!({"id": "0a787ecb-4015"})
    );
    assert_eq!(
        apply_json(r#"{"method": "PUT", "bod": [<userId>, "hardcoded"]}"#),
        json!({"method": "PUT", "bod": ["0a787ecb-4015", "hardcoded"]})
    );
    assert_eq!(
        apply_json(
            r#"{"nested": {"level1": {"level2": {"level3": "users-service/users/<userId>"} } }, "bod": "<userId>"}"#
        ),
        json!({"nested": {"level1": {"level2": {"level3": "users-service/users/0a787ecb-4015"}}}, "bod": "0a787ecb-4015"})
    );
    assert_eq!(
        apply_json(r#"{"singlelistitem": <listsingle>}"#),
        json!({"singlelistitem": ["HIGH"]})
    );
    assert_eq!(
        apply_json(r#"{"multi_replacement": "users/<userId>/second/<userId>"}"#),
        json!({"multi_replacement": "users/0a787ecb-4015/second/0a787ecb-4015"})
    );
    assert_eq!(
        apply_json(r#"{"flag": <valid>, "n": "<valid>"}"#),
        json!({"flag": true, "n": "true"})
    );
}

#[test]
fn objects_inside_strings_of_json_templates_are_not_delivered() {
    for template in [
        r#"{"not_valid": "users-service/users/<payload>", "bod": <payload>}"#,
        r#"{"payload": "<payload>"}"#,
        r#"{"singlelistitem": "<listsingle>"}"#,
    ] {
        assert!(apply(template).is_err(), "{template}");
    }
}

#[test]
fn values_inside_strings_are_escaped() {
    let transformer =
        InputTransformer::new(&paths(&[("q", "$.detail.q")]), r#"{"said": "he said <q>"}"#)
            .unwrap();
    let out = transformer
        .apply(&event(json!({"q": "\"hi\"\\"})), &ctx())
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"said": "he said \"hi\"\\"})
    );
}

#[test]
fn predefined_variables() {
    let none = BTreeMap::new();
    let t = InputTransformer::new(
        &none,
        r#""Message containing all pre defined variables <aws.events.rule-arn> <aws.events.rule-name> <aws.events.event.ingestion-time>""#,
    )
    .unwrap();
    assert_eq!(
        t.apply(&event(detail()), &ctx()).unwrap(),
        r#""Message containing all pre defined variables arn:aws:events:us-east-1:111111111111:rule/orders/my-rule my-rule 2024-05-01T10:00:01Z""#
    );
    let t = InputTransformer::new(
        &none,
        r#"{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}"#,
    )
    .unwrap();
    let ev = event(detail());
    let out: Value = serde_json::from_str(&t.apply(&ev, &ctx()).unwrap()).unwrap();
    assert_eq!(
        out["originalEvent"],
        json!({"version": "0", "id": ev["id"], "detailType": "core.update-account-command", "source": "core.update-account-command",
               "account": "111111111111", "time": "2024-05-01T10:00:00Z", "region": "us-east-1", "resources": []})
    );
    assert_eq!(out["originalEventJson"], ev);
}

#[test]
fn put_targets_validation() {
    let err = InputTransformer::new(
        &paths(&[("detail-type", "$.detail-type")]),
        r#""Event of <detail-type> type, with not defined key <notdefinedkey>""#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        TransformError::InvalidPlaceholder("notdefinedkey".to_owned())
    );
    assert_eq!(
        err.message("target-1"),
        "InputTemplate for target target-1 contains invalid placeholder notdefinedkey."
    );
    let many: BTreeMap<String, String> = (0..101)
        .map(|i| (format!("k{i}"), "$.detail".to_owned()))
        .collect();
    assert_eq!(
        InputTransformer::new(&many, "x").unwrap_err(),
        TransformError::TooManyPaths
    );
    let hundred: BTreeMap<String, String> = (0..100)
        .map(|i| (format!("k{i}"), "$.detail".to_owned()))
        .collect();
    assert!(InputTransformer::new(&hundred, "x").is_ok());
    for key in ["aws.events.rule-name", "has space", ""] {
        assert_eq!(
            InputTransformer::new(&paths(&[(key, "$.detail")]), "x").unwrap_err(),
            TransformError::InvalidKey(key.to_owned())
        );
    }
    assert_eq!(
        InputTransformer::new(&paths(&[("k", "detail")]), "x").unwrap_err(),
        TransformError::InvalidPath("detail".to_owned())
    );
    // `<` and `>` around something that is not a name are text.
    assert_eq!(
        InputTransformer::new(&BTreeMap::new(), "a < b and c > d")
            .unwrap()
            .apply(&event(detail()), &ctx())
            .unwrap(),
        "a < b and c > d"
    );
}
