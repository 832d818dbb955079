//! Unit tests of the filter-policy compiler and matchers (AWS-recorded error texts, matching
//! semantics of every operator, both scopes).

use serde_json::{json, Value};

use super::{error_message, FilterPolicy, FilterScope, NESTED_POLICY_REASON};
use crate::sqs::model::{MessageAttributeValue, MessageAttributes};

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
    assert!(
        err_in("{\"a\": [", FilterScope::MessageAttributes).starts_with("failed to parse JSON. ")
    );
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
    let p =
        FilterPolicy::compile(r#"{"a":["x"],"a":["y"]}"#, FilterScope::MessageAttributes).unwrap();
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
