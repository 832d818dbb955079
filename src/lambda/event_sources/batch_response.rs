//! `FunctionResponseTypes: [ReportBatchItemFailures]`: what a function's answer says about a
//! batch. AWS's rules: an empty or null answer, or an empty or null `batchItemFailures`, is a
//! success; an answer that is not JSON, or a failure entry whose `itemIdentifier` is missing,
//! empty, not a string or not in the batch, fails the whole batch.

use serde_json::Value;

/// What to do with a batch after the function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchVerdict {
    /// Delete every record.
    AllSucceeded,
    /// Keep (do not delete) the records at these positions; delete the others.
    PartlyFailed(Vec<usize>),
    /// Delete nothing.
    AllFailed,
}

/// Reads a successful invocation's answer for a batch whose records have `ids` (message ids, in
/// batch order). `groups` (FIFO queues only: each record's message group) makes a failure hold
/// back every later record of its group, so none is processed out of order.
pub fn verdict(payload: &[u8], ids: &[&str], groups: Option<&[&str]>) -> BatchVerdict {
    let trimmed = payload.trim_ascii();
    if trimmed.is_empty() {
        return BatchVerdict::AllSucceeded;
    }
    let Ok(answer) = serde_json::from_slice::<Value>(trimmed) else {
        return BatchVerdict::AllFailed;
    };
    let failures = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return BatchVerdict::AllSucceeded,
        Some(Value::Array(failures)) => failures,
        Some(_) => return BatchVerdict::AllFailed,
    };
    let mut failed = vec![false; ids.len()];
    for failure in failures {
        let Some(id) = failure.get("itemIdentifier").and_then(Value::as_str) else {
            return BatchVerdict::AllFailed;
        };
        match ids.iter().position(|known| *known == id) {
            Some(at) if !id.is_empty() => failed[at] = true,
            _ => return BatchVerdict::AllFailed,
        }
    }
    if let Some(groups) = groups {
        let mut held: Vec<&str> = Vec::new();
        for (at, group) in groups.iter().enumerate().take(ids.len()) {
            if failed[at] {
                held.push(group);
            } else if held.contains(group) {
                failed[at] = true;
            }
        }
    }
    let positions: Vec<usize> = (0..ids.len()).filter(|&i| failed[i]).collect();
    if positions.is_empty() {
        BatchVerdict::AllSucceeded
    } else if positions.len() == ids.len() {
        BatchVerdict::AllFailed
    } else {
        BatchVerdict::PartlyFailed(positions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BatchVerdict::*;

    const IDS: [&str; 3] = ["a", "b", "c"];

    #[test]
    fn empty_and_null_answers_succeed() {
        for answer in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures":null}"#,
            r#"{"batchItemFailures":[]}"#,
            r#""done""#,
        ] {
            assert_eq!(
                verdict(answer.as_bytes(), &IDS, None),
                AllSucceeded,
                "{answer}"
            );
        }
    }

    #[test]
    fn reported_ids_are_kept() {
        let answer = br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#;
        assert_eq!(verdict(answer, &IDS, None), PartlyFailed(vec![1]));
    }

    #[test]
    fn malformed_answers_fail_the_batch() {
        for answer in [
            "not json",
            r#"{"batchItemFailures":[{"foo":"notvalid"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
            r#"{"batchItemFailures":"b"}"#,
        ] {
            assert_eq!(
                verdict(answer.as_bytes(), &IDS, None),
                AllFailed,
                "{answer}"
            );
        }
    }

    #[test]
    fn fifo_failure_holds_back_the_rest_of_its_group() {
        let answer = br#"{"batchItemFailures":[{"itemIdentifier":"a"}]}"#;
        let ids = ["a", "b", "c", "d"];
        let groups = ["g1", "g2", "g1", "g2"];
        assert_eq!(
            verdict(answer, &ids, Some(&groups)),
            PartlyFailed(vec![0, 2])
        );
    }
}
