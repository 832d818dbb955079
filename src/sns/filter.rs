//! TEMPORARY stub, replaced by the real filter-policy engine.
use crate::sqs::model::MessageAttributes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterScope {
    MessageAttributes,
    MessageBody,
}

#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: FilterScope,
}

impl FilterPolicy {
    pub fn compile(policy_json: &str, scope: FilterScope) -> Result<FilterPolicy, String> {
        serde_json::from_str::<serde_json::Value>(policy_json)
            .map_err(|e| format!("failed to parse JSON. {e}"))?;
        Ok(FilterPolicy { scope })
    }
    pub fn scope(&self) -> FilterScope {
        self.scope
    }
    pub fn matches(&self, _attributes: &MessageAttributes, _body: &str) -> bool {
        true
    }
}
