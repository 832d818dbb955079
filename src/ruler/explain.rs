//! Why a message does not match a rule set, for the console's testers (SNS filter policies,
//! EventBridge patterns). Kept apart from the matcher: it only re-runs it one key at a time,
//! through the caller's `holds`, so each dialect keeps its own matching rules.

use super::compile::{KeyRule, Rules};

/// The reason `rules` (which did not match) failed: for each alternative (`$or` branch), the
/// first key the message fails on its own. `holds` says whether a rule set holds for the
/// message.
pub(crate) fn failing_keys(rules: &Rules, holds: impl Fn(&Rules) -> bool) -> String {
    let one_key = |key: &KeyRule| Rules {
        paths: rules.paths.clone(),
        branches: vec![vec![key.clone()]],
    };
    let failed: Vec<String> = rules
        .branches
        .iter()
        .filter_map(|branch| branch.iter().find(|key| !holds(&one_key(key))))
        .map(|key| format!("\"{}\"", rules.paths[key.path]))
        .collect();
    match failed.as_slice() {
        [] => "no key failed alone, but not all held together (array consistency)".into(),
        [one] => format!("key {one} did not match"),
        many => format!("no alternative matched: keys {} failed", many.join(", ")),
    }
}
