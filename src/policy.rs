//! Resource policies, as far as `--auth sigv4` needs them: may a caller from another account
//! run an action on a queue or topic? A small evaluator of the policy document (an SQS queue's
//! or SNS topic's `Policy` attribute), deny by default:
//!
//! - a statement applies when its `Principal` names the caller's account (`"*"`,
//!   `{"AWS": "*"}`, `{"AWS": "123456789012"}`, or an ARN in that account such as
//!   `arn:aws:iam::123456789012:root`), its `Action` matches (`sqs:*`, `SNS:Publish`, `*`,
//!   wildcards `*` and `?`, case-insensitive) and its `Resource`, if any, matches the ARN;
//! - an applying `Deny` wins, else an applying `Allow` grants, else the answer is no;
//! - what it does not evaluate (`Condition`, `NotPrincipal`, `NotAction`, `NotResource`) makes an
//!   `Allow` statement grant nothing and a `Deny` statement deny: doubt never opens access.
//!
//! Owners always reach their own resources; this is only asked across accounts.

use serde_json::Value;

/// Whether `policy` lets `caller_account` run `action` (e.g. `sqs:SendMessage`) on `resource`.
pub fn allows(policy: Option<&str>, caller_account: &str, action: &str, resource: &str) -> bool {
    evaluate(
        policy,
        |p| principal_matches(p, caller_account),
        action,
        resource,
    )
}

/// Whether `policy` lets the AWS service `service` (`events.amazonaws.com`) run `action` on
/// `resource`: a `Principal` of `"*"`, `{"AWS": "*"}` or `{"Service": service}`.
pub fn allows_service(policy: Option<&str>, service: &str, action: &str, resource: &str) -> bool {
    let matches = |principal: &Value| {
        principal.as_str() == Some("*")
            || strings(&principal["AWS"]).any(|p| p == "*")
            || strings(&principal["Service"]).any(|s| s.eq_ignore_ascii_case(service))
    };
    evaluate(policy, matches, action, resource)
}

fn evaluate(
    policy: Option<&str>,
    principal_applies: impl Fn(&Value) -> bool,
    action: &str,
    resource: &str,
) -> bool {
    let Some(document) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return false;
    };
    let statements = match &document["Statement"] {
        Value::Array(list) => list.iter().collect(),
        one @ Value::Object(_) => vec![one],
        _ => return false,
    };
    let mut allowed = false;
    for statement in statements {
        let unevaluated = ["Condition", "NotPrincipal", "NotAction", "NotResource"]
            .iter()
            .any(|k| statement.get(k).is_some());
        let applies = principal_applies(&statement["Principal"])
            && any_matches(&statement["Action"], action, false)
            && (statement.get("Resource").is_none()
                || any_matches(&statement["Resource"], resource, true));
        match statement["Effect"].as_str() {
            Some("Deny") if applies || unevaluated => return false,
            Some("Allow") if applies && !unevaluated => allowed = true,
            _ => {}
        }
    }
    allowed
}

fn principal_matches(principal: &Value, account: &str) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map
            .get("AWS")
            .is_some_and(|aws| strings(aws).any(|p| p == "*" || account_of(p) == Some(account))),
        _ => false,
    }
}

/// The account a principal names: a bare account id or an ARN's account field.
fn account_of(principal: &str) -> Option<&str> {
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Some(principal);
    }
    let mut fields = principal.strip_prefix("arn:")?.split(':');
    fields.nth(3)
}

fn any_matches(patterns: &Value, value: &str, case_sensitive: bool) -> bool {
    strings(patterns).any(|p| {
        if case_sensitive {
            glob(p.as_bytes(), value.as_bytes())
        } else {
            glob(
                p.to_ascii_lowercase().as_bytes(),
                value.to_ascii_lowercase().as_bytes(),
            )
        }
    })
}

/// A string, or each string of a list.
fn strings(value: &Value) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Value::String(s) => Box::new(std::iter::once(s.as_str())),
        Value::Array(list) => Box::new(list.iter().filter_map(Value::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

/// IAM wildcards: `*` any run of characters, `?` any one. Iterative, so no pattern can make it
/// recurse deeply or take exponential time.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:111111111111:q";

    #[test]
    fn service_principals() {
        let service = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage"}]}"#;
        assert!(allows_service(
            Some(service),
            "events.amazonaws.com",
            "sqs:SendMessage",
            QUEUE
        ));
        assert!(!allows_service(
            Some(service),
            "sns.amazonaws.com",
            "sqs:SendMessage",
            QUEUE
        ));
        // A service grant is no account's grant, and an account's grant is no service's.
        assert!(!allows(
            Some(service),
            "222222222222",
            "sqs:SendMessage",
            QUEUE
        ));
        let account = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sqs:*"}]}"#;
        assert!(!allows_service(
            Some(account),
            "events.amazonaws.com",
            "sqs:SendMessage",
            QUEUE
        ));
        let anyone = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*"}]}"#;
        assert!(allows_service(
            Some(anyone),
            "events.amazonaws.com",
            "sqs:SendMessage",
            QUEUE
        ));
    }

    fn policy(statement: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
    }

    #[test]
    fn grants_only_what_a_statement_names() {
        let p = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"sqs:Send*","Resource":"arn:aws:sqs:*:111111111111:*"}"#,
        );
        assert!(allows(Some(&p), "222222222222", "sqs:SendMessage", QUEUE));
        assert!(allows(
            Some(&p),
            "222222222222",
            "SQS:SendMessageBatch",
            QUEUE
        ));
        assert!(!allows(
            Some(&p),
            "222222222222",
            "sqs:ReceiveMessage",
            QUEUE
        ));
        assert!(!allows(Some(&p), "333333333333", "sqs:SendMessage", QUEUE));
        assert!(!allows(
            Some(&p),
            "222222222222",
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:444444444444:q"
        ));
        assert!(!allows(None, "222222222222", "sqs:SendMessage", QUEUE));
        assert!(!allows(
            Some("not json"),
            "222222222222",
            "sqs:SendMessage",
            QUEUE
        ));
    }

    #[test]
    fn deny_and_doubt_win() {
        let everyone = r#"{"Effect":"Allow","Principal":"*","Action":"*"}"#;
        assert!(allows(Some(&policy(everyone)), "2", "sns:Publish", QUEUE));
        let denied = policy(&format!(
            r#"{everyone},{{"Effect":"Deny","Principal":{{"AWS":["222222222222"]}},"Action":"sqs:*"}}"#
        ));
        assert!(!allows(
            Some(&denied),
            "222222222222",
            "sqs:SendMessage",
            QUEUE
        ));
        let conditional = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sns:Publish","Condition":{"StringEquals":{"AWS:SourceOwner":"111111111111"}}}"#,
        );
        assert!(!allows(
            Some(&conditional),
            "222222222222",
            "SNS:Publish",
            QUEUE
        ));
    }

    #[test]
    fn wildcards_do_not_explode() {
        let pattern = "*a".repeat(50);
        assert!(!glob(pattern.as_bytes(), "a".repeat(40).as_bytes()));
        assert!(glob(b"a*b?d", b"axxbcd"));
    }
}
