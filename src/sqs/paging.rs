//! Paged listings (ListQueues, ListDeadLetterSourceQueues): queues are listed by name, and a
//! page token carries the last name returned.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use crate::error::{AwsError, AwsResult};

use super::validate;

/// The MaxResults (1–1000) and NextToken of ListQueues and ListDeadLetterSourceQueues: the page
/// size asked for, if any, and the name to continue after.
pub fn page_request(
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> AwsResult<(Option<usize>, Option<String>)> {
    let max = match max_results {
        Some(n) => Some(validate::int_in_range(
            "MaxResults",
            n,
            1..=1000,
            "MaxResults must be an integer between 1 and 1000.",
        )? as usize),
        None => None,
    };
    let after = match next_token.filter(|t| !t.is_empty()) {
        Some(token) => Some(decode_token(token)?),
        None => None,
    };
    Ok((max, after))
}

/// ListQueues page tokens carry the last name returned.
pub fn encode_token(last_name: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_name)
}

fn decode_token(token: &str) -> AwsResult<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AwsError::invalid_parameter_value("Invalid NextToken value."))
}
