//! `FilterCriteria`: Lambda's event filtering. Each filter's `Pattern` is an event pattern (the
//! language of EventBridge and SNS filter policies) matched against one record as the function
//! would see it, except that an SQS record's `body` is matched parsed when it is JSON. A record
//! that no filter matches is not processed (SQS: it is deleted). The compiler is EventBridge's
//! (`events::pattern`, on the shared `ruler` core): AWS documents one syntax for both.

use serde_json::Value;

use crate::events::pattern::EventPattern;

use super::mapping::FilterCriteria;

/// One compiled `Pattern`.
#[derive(Debug, Clone)]
pub struct RecordFilter(EventPattern);

impl RecordFilter {
    /// Compiles a pattern; a pattern that is not a JSON object of the pattern language is an
    /// error.
    pub fn parse(pattern: &str) -> Result<RecordFilter, String> {
        EventPattern::parse(pattern)
            .map(RecordFilter)
            .map_err(|e| e.to_string())
    }

    pub fn matches(&self, record: &Value) -> bool {
        self.0.matches(record)
    }
}

/// The filters of a mapping; no filters lets every record through.
#[derive(Debug, Clone, Default)]
pub struct RecordFilters(Vec<RecordFilter>);

impl RecordFilters {
    /// Compiles a mapping's criteria (already validated when the mapping was accepted; a
    /// pattern that fails now is skipped).
    pub fn compile(criteria: Option<&FilterCriteria>) -> RecordFilters {
        RecordFilters(
            criteria
                .map(|c| {
                    c.filters
                        .iter()
                        .filter_map(|f| RecordFilter::parse(f.pattern.as_deref()?).ok())
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a record passes: any filter matches it (or there are none).
    pub fn admits(&self, record: &Value) -> bool {
        self.0.is_empty() || self.0.iter().any(|f| f.matches(record))
    }
}

/// An SQS record prepared for matching: `body` parsed when it is JSON.
pub fn with_parsed_body(mut record: Value) -> Value {
    if let Some(body) = record.get_mut("body") {
        if let Some(parsed) = body
            .as_str()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
        {
            *body = parsed;
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_bodies_are_matched_parsed() {
        let filters = RecordFilters::compile(Some(&FilterCriteria {
            filters: vec![super::super::mapping::Filter {
                pattern: Some(r#"{"body":{"priority":["HIGH"]}}"#.into()),
            }],
        }));
        let high = with_parsed_body(json!({"body": r#"{"priority":"HIGH"}"#}));
        let low = with_parsed_body(json!({"body": r#"{"priority":"LOW"}"#}));
        let text = with_parsed_body(json!({"body": "HIGH"}));
        assert!(filters.admits(&high));
        assert!(!filters.admits(&low));
        assert!(!filters.admits(&text));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        assert!(RecordFilter::parse("simple string").is_err());
        assert!(RecordFilter::parse(r#"{"body":"not a list"}"#).is_err());
    }
}
