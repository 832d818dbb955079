//! SQS's input rules (names, characters, message attributes, batch ids) with AWS's error texts.

use crate::error::{codes, AwsError, AwsResult};

use super::model::{MessageAttributeValue, MessageAttributes};

pub const MAX_BATCH_ENTRIES: usize = 10;
pub const MAX_BATCH_PAYLOAD: usize = 1_048_576;
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Queue names: 1–80 of `[A-Za-z0-9_-]`, plus the `.fifo` suffix for FIFO queues.
pub fn queue_name(name: &str, fifo: bool) -> AwsResult<()> {
    let stem = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let valid = match stem {
        Some(stem) => {
            !stem.is_empty()
                && name.len() <= 80
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    };
    if valid {
        Ok(())
    } else if fifo {
        Err(AwsError::invalid_parameter_value(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or \
             underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ))
    } else {
        Err(AwsError::invalid_parameter_value(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

/// The characters XML 1.0 allows, which is what SQS accepts in bodies and string attributes:
/// `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
pub fn is_allowed_text(text: &str) -> bool {
    // Fast path: ASCII bytes need only the control-character check.
    text.bytes().all(|b| (0x20..0x80).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'))
        || text.chars().all(|c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        })
}

pub fn message_body(body: Option<&str>) -> AwsResult<&str> {
    let body = match body {
        Some(b) if !b.is_empty() => b,
        _ => return Err(AwsError::missing_parameter("MessageBody")),
    };
    if !is_allowed_text(body) {
        return Err(invalid_characters());
    }
    Ok(body)
}

const INVALID_CHARACTERS: &str = "Invalid characters found. Valid unicode characters are #x9 | \
     #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF";

fn invalid_characters() -> AwsError {
    AwsError::new(&codes::INVALID_MESSAGE_CONTENTS, INVALID_CHARACTERS)
}

/// Checks user message attributes and returns their size as SQS counts it toward the message
/// size limit (name + data type + value bytes).
pub fn message_attributes(attributes: &MessageAttributes) -> AwsResult<usize> {
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(AwsError::invalid_parameter_value(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{}].",
            attributes.len(),
            MAX_MESSAGE_ATTRIBUTES
        )));
    }
    let mut size = 0;
    for (name, value) in attributes {
        attribute_name(name)?;
        size += name.len() + attribute_value(name, value, false)?;
    }
    Ok(size)
}

/// The bytes user message attributes count toward a size limit (name + data type + value),
/// without validating them: what a batch's total is measured with before any entry's rules.
pub fn message_attributes_size(attributes: &MessageAttributes) -> usize {
    attributes
        .iter()
        .map(|(name, v)| {
            name.len()
                + v.data_type.as_deref().map_or(0, str::len)
                + v.string_value.as_deref().map_or(0, str::len)
                + v.binary_value.as_ref().map_or(0, Vec::len)
                + v.string_list_values.iter().map(String::len).sum::<usize>()
                + v.binary_list_values.iter().map(Vec::len).sum::<usize>()
        })
        .sum()
}

/// Checks `MessageSystemAttributes` on send: only `AWSTraceHeader`, a String.
pub fn system_attributes(attributes: &MessageAttributes) -> AwsResult<()> {
    for (name, value) in attributes {
        if name != "AWSTraceHeader" {
            return Err(AwsError::invalid_parameter_value(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        attribute_value(name, value, true)?;
        if value.data_type.as_deref() != Some("String") {
            return Err(AwsError::invalid_parameter_value(format!(
                "Message system attribute '{name}' must be of type 'String'."
            )));
        }
    }
    Ok(())
}

fn attribute_name(name: &str) -> AwsResult<()> {
    let bad = |reason: &str| {
        Err(AwsError::invalid_parameter_value(format!(
            "Message (user) attribute name '{name}' is invalid. Reason: {reason}"
        )))
    };
    if name.is_empty() {
        return Err(AwsError::invalid_parameter_value(
            "The request must contain non-empty message (user) attribute names.",
        ));
    }
    if name.len() > 256 {
        return bad("Message (user) attribute name must be shorter than 256 characters.");
    }
    // Letters and digits of any script count as alphanumeric (AWS accepts `attr.1øßä`).
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return bad("Message (user) attribute name can only contain alphanumeric characters, hyphens, underscores, or periods.");
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return bad("Message (user) attribute name must not start with the reserved prefixes AWS. or Amazon.");
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return bad("Message (user) attribute name must not start or end with a period, or contain consecutive periods.");
    }
    Ok(())
}

/// Validates one attribute value and returns its data type + value size.
fn attribute_value(name: &str, value: &MessageAttributeValue, system: bool) -> AwsResult<usize> {
    let kind = if system { "system" } else { "user" };
    let data_type = match value.data_type.as_deref() {
        Some(t) if !t.is_empty() => t,
        _ => {
            return Err(AwsError::invalid_parameter_value(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )))
        }
    };
    let (base, label) = match data_type.split_once('.') {
        Some((base, label)) => (base, Some(label)),
        None => (data_type, None),
    };
    if data_type.len() > 256 || label.is_some_and(|l| l.is_empty() || !is_allowed_text(l)) {
        return Err(AwsError::invalid_parameter_value(format!(
            "The message attribute '{name}' has an invalid message attribute type, the set of \
             supported type prefixes is Binary, Number, and String."
        )));
    }
    let value_size = match base {
        "String" | "Number" => {
            let s = match value.string_value.as_deref() {
                Some(s) if !s.is_empty() => s,
                _ => {
                    return Err(AwsError::invalid_parameter_value(format!(
                        "Message ({kind}) attribute '{name}' must contain a non-empty value of type '{base}'."
                    )))
                }
            };
            if value.binary_value.is_some() {
                return Err(AwsError::invalid_parameter_value(format!(
                    "Message ({kind}) attribute '{name}' with type '{base}' must use field 'String'."
                )));
            }
            if !is_allowed_text(s) {
                // Unlike a body's (InvalidMessageContents), an attribute value's forbidden
                // characters are an InvalidParameterValue.
                return Err(AwsError::invalid_parameter_value(INVALID_CHARACTERS));
            }
            if base == "Number" && !is_sqs_number(s) {
                return Err(AwsError::invalid_parameter_value(format!(
                    "Can't cast the value of message ({kind}) attribute '{name}' to a number."
                )));
            }
            s.len()
        }
        "Binary" => {
            let b = match &value.binary_value {
                Some(b) if !b.is_empty() => b,
                _ => {
                    return Err(AwsError::invalid_parameter_value(format!(
                        "Message ({kind}) attribute '{name}' must contain a non-empty value of type 'Binary'."
                    )))
                }
            };
            if value.string_value.is_some() {
                return Err(AwsError::invalid_parameter_value(format!(
                    "Message ({kind}) attribute '{name}' with type 'Binary' must use field 'Binary'."
                )));
            }
            b.len()
        }
        _ => {
            return Err(AwsError::invalid_parameter_value(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of \
                 supported type prefixes is Binary, Number, and String."
            )))
        }
    };
    Ok(data_type.len() + value_size)
}

/// SQS numbers: up to 38 significant digits, magnitude between 10^-128 and 10^+126.
fn is_sqs_number(s: &str) -> bool {
    let t = s.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let exp: i64 = match exponent {
        Some(e) => match e.parse() {
            Ok(v) => v,
            Err(_) => return false,
        },
        None => 0,
    };
    let digits: String = int_part.chars().chain(frac_part.chars()).collect();
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return true; // zero
    }
    if significant.trim_end_matches('0').len() > 38 {
        return false;
    }
    // Decimal exponent of the leading significant digit.
    let leading_zeros = digits.len() - significant.len();
    let magnitude = int_part.len() as i64 - leading_zeros as i64 - 1 + exp;
    (-128..=126).contains(&magnitude)
}

/// Batch entry ids: `[A-Za-z0-9_-]{1,80}`, distinct within the request.
pub fn batch_ids<'a>(ids: impl Iterator<Item = Option<&'a str>>) -> AwsResult<()> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        let id = id.unwrap_or("");
        if id.is_empty()
            || id.len() > 80
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AwsError::new(
                &codes::INVALID_BATCH_ENTRY_ID,
                "A batch entry id can only contain alphanumeric characters, hyphens and \
                 underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(AwsError::new(
                &codes::BATCH_ENTRY_IDS_NOT_DISTINCT,
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(())
}

/// Entry-count rules shared by the three batch operations.
pub fn batch_size(len: usize, entry_type: &str) -> AwsResult<()> {
    if len == 0 {
        return Err(AwsError::new(
            &codes::EMPTY_BATCH_REQUEST,
            format!("There should be at least one {entry_type} in the request."),
        ));
    }
    if len > MAX_BATCH_ENTRIES {
        return Err(AwsError::new(
            &codes::TOO_MANY_ENTRIES_IN_BATCH_REQUEST,
            format!("Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {len}."),
        ));
    }
    Ok(())
}

/// FIFO-style ids (MessageGroupId, MessageDeduplicationId): 1–128 printable ASCII punctuation
/// or alphanumerics. AWS checks them on standard queues too.
pub fn fifo_id(parameter: &str, value: &str) -> AwsResult<()> {
    if value.is_empty()
        || value.len() > 128
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation())
    {
        return Err(AwsError::invalid_value_for(
            parameter,
            value,
            &format!(
                "{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."
            ),
        ));
    }
    Ok(())
}

/// An integer parameter within `range`, with AWS's wording when out of it.
pub fn int_in_range(
    parameter: &str,
    value: i64,
    range: std::ops::RangeInclusive<i64>,
    reason: &str,
) -> AwsResult<i64> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(AwsError::invalid_value_for(parameter, value, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for ok in [
            "0",
            "1",
            "-1.5",
            "3.015e2",
            "1493147359900",
            "0.0001",
            "1e126",
            "1e-128",
        ] {
            assert!(is_sqs_number(ok), "{ok}");
        }
        for bad in [
            "",
            "abc",
            "1e127",
            "1e-129",
            "1.2.3",
            "--1",
            "1234567890123456789012345678901234567890",
        ] {
            assert!(!is_sqs_number(bad), "{bad}");
        }
    }

    #[test]
    fn text() {
        assert!(is_allowed_text("hello\n\tworld\r ü 😀"));
        assert!(!is_allowed_text("bad\u{0}"));
        assert!(!is_allowed_text("bad\u{FFFF}"));
        assert!(!is_allowed_text("\u{1}"));
    }

    #[test]
    fn names() {
        assert!(queue_name("a-b_C9", false).is_ok());
        assert!(queue_name(&"a".repeat(80), false).is_ok());
        assert!(queue_name(&"a".repeat(81), false).is_err());
        assert!(queue_name("a.fifo", false).is_err());
        assert!(queue_name("a.fifo", true).is_ok());
        assert!(queue_name(".fifo", true).is_err());
        assert!(queue_name("", false).is_err());
    }
}
