//! Query-protocol parameters (`Action=…&Attribute.1.Name=…`) as a tree, so decoders can walk
//! `Entry.N.Field` structures instead of matching flat strings.

use std::collections::BTreeMap;

use crate::error::{AwsError, AwsResult};

/// Deepest parameter path accepted (`SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.
/// StringListValue.1` has 7 levels).
const MAX_DEPTH: usize = 16;

/// One node of the parameter tree: `a.b.c=v` becomes a → b → c holding `v`.
#[derive(Debug, Default)]
pub struct Params {
    value: Option<String>,
    children: BTreeMap<String, Params>,
}

impl Params {
    /// Parses form-encoded pairs (body and URL query string, already concatenated by caller).
    pub fn parse(sources: &[&[u8]]) -> AwsResult<Params> {
        let mut root = Params::default();
        for source in sources {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(source).map_err(|_| {
                    AwsError::invalid_parameter_value(
                        "The request could not be parsed as form parameters.",
                    )
                })?;
            for (key, value) in pairs {
                root.insert(&key, value);
            }
        }
        Ok(root)
    }

    fn insert(&mut self, key: &str, value: String) {
        // No AWS parameter name nests deeper than a handful of levels; a hostile key of
        // thousands would only build a tree deep enough to overflow the stack when dropped.
        if key.split('.').nth(MAX_DEPTH).is_some() {
            return;
        }
        let mut node = self;
        for segment in key.split('.') {
            node = node.children.entry(segment.to_string()).or_default();
        }
        // The first occurrence wins: the body is parsed before the URL's query string.
        node.value.get_or_insert(value);
    }

    /// Sets a top-level parameter unless the request already carries it.
    pub fn set_default(&mut self, name: &str, value: String) {
        self.children
            .entry(name.to_string())
            .or_default()
            .value
            .get_or_insert(value);
    }

    pub fn child(&self, name: &str) -> Option<&Params> {
        self.children.get(name)
    }

    /// The value at `name`, if present (an empty value counts as present).
    pub fn str(&self, name: &str) -> Option<&str> {
        self.child(name)?.value.as_deref()
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.str(name).map(str::to_string)
    }

    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// An integer parameter; a malformed number is AWS's InvalidParameterValue.
    pub fn int(&self, name: &str) -> AwsResult<Option<i64>> {
        match self.str(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                AwsError::invalid_value_for(name, v, &format!("{name} must be an integer."))
            }),
        }
    }

    pub fn bool(&self, name: &str) -> AwsResult<Option<bool>> {
        match self.str(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(AwsError::invalid_value_for(
                name,
                v,
                "Must be true or false.",
            )),
        }
    }

    /// The children of `name` numbered 1, 2, … (`name.1`, `name.2`), in numeric order.
    /// Also accepts the `.member.N` form some clients use.
    pub fn indexed(&self, name: &str) -> Vec<&Params> {
        let Some(node) = self.child(name) else {
            return Vec::new();
        };
        let node = node.child("member").unwrap_or(node);
        let mut items: Vec<(u32, &Params)> = node
            .children
            .iter()
            .filter_map(|(k, v)| k.parse::<u32>().ok().map(|n| (n, v)))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// A list of scalars: `name.1=a&name.2=b`. `None` when absent altogether.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.child(name)?;
        Some(
            self.indexed(name)
                .into_iter()
                .filter_map(|p| p.value.clone())
                .collect(),
        )
    }

    /// A flattened map: `name.N.<key_field>=k&name.N.<value_field>=v`.
    pub fn map(
        &self,
        name: &str,
        key_field: &str,
        value_field: &str,
    ) -> Option<BTreeMap<String, String>> {
        self.child(name)?;
        Some(
            self.indexed(name)
                .into_iter()
                .filter_map(|p| {
                    Some((
                        p.string(key_field)?,
                        p.string(value_field).unwrap_or_default(),
                    ))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_lists_and_maps() {
        let p = Params::parse(&[
            b"Action=X&AttributeName.2=b&AttributeName.1=a&AttributeName.10=c&Attribute.1.Name=k&Attribute.1.Value=v&Empty=",
            b"Action=Ignored&Q=1",
        ])
        .unwrap();
        assert_eq!(p.str("Action"), Some("X"));
        assert_eq!(p.str("Q"), Some("1"));
        assert_eq!(p.str("Empty"), Some(""));
        assert_eq!(p.list("AttributeName").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(
            p.map("Attribute", "Name", "Value")
                .unwrap()
                .get("k")
                .unwrap(),
            "v"
        );
        assert!(p.list("Missing").is_none());
    }
}
