//! Matching one value taken from a message against one compiled condition. Shared by the
//! message-attribute matcher and the JSON document (message body) matcher.

use serde_json::Value;

use super::compile::{lowercase, scaled, AnythingBut, Cond, Excluded, Literal, NumRange};
use super::ip::parse_ip;

/// A scalar value taken from a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leaf<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Null,
}

impl Leaf<'_> {
    /// `exists: true` wants a non-null, non-empty value.
    pub(crate) fn is_present(self) -> bool {
        !matches!(self, Leaf::Null | Leaf::Str(""))
    }
}

pub(crate) fn leaf_of(value: &Value) -> Option<Leaf<'_>> {
    match value {
        Value::String(s) => Some(Leaf::Str(s)),
        Value::Number(n) => n.as_f64().map(Leaf::Num),
        Value::Bool(b) => Some(Leaf::Bool(*b)),
        Value::Null => Some(Leaf::Null),
        Value::Array(_) | Value::Object(_) => None,
    }
}

impl AnythingBut {
    pub(crate) fn excludes(&self, leaf: Leaf<'_>) -> bool {
        match (&self.values, leaf) {
            (Excluded::Strings(set), Leaf::Str(s)) => set.iter().any(|x| x == s),
            (Excluded::Numbers(set), Leaf::Num(n)) => scaled(n).is_some_and(|n| set.contains(&n)),
            (Excluded::Prefixes(set), Leaf::Str(s)) => {
                set.iter().any(|p| s.starts_with(p.as_str()))
            }
            (Excluded::Suffixes(set), Leaf::Str(s)) => set.iter().any(|p| s.ends_with(p.as_str())),
            (Excluded::IgnoreCase(set), Leaf::Str(s)) => {
                let lower = lowercase(s);
                set.contains(&lower)
            }
            (Excluded::Wildcards(set), Leaf::Str(s)) => set.iter().any(|w| w.matches(s)),
            _ => false,
        }
    }
}

impl NumRange {
    pub(crate) fn contains(&self, n: f64) -> bool {
        let Some(v) = scaled(n) else {
            return false;
        };
        let above = if self.low_open {
            v > self.low
        } else {
            v >= self.low
        };
        let below = if self.high_open {
            v < self.high
        } else {
            v <= self.high
        };
        above && below
    }
}

impl Cond {
    /// Whether a single present value satisfies this condition (`exists` is decided by the
    /// caller, from the presence of the property).
    pub(crate) fn matches_value(&self, leaf: Leaf<'_>) -> bool {
        match (self, leaf) {
            (Cond::Exact(Literal::Str { text, ip }), Leaf::Str(s)) => {
                text == s || ip.is_some_and(|ip| parse_ip(s).is_ok_and(|v| v == ip))
            }
            (Cond::Exact(Literal::Num { value, scaled: sv }), Leaf::Num(n)) => {
                match (sv, scaled(n)) {
                    (Some(a), Some(b)) => *a == b,
                    _ => *value == n,
                }
            }
            (Cond::Exact(Literal::Bool(b)), Leaf::Bool(v)) => *b == v,
            (Cond::Exact(Literal::Null), Leaf::Null) => true,
            (Cond::Prefix(p), Leaf::Str(s)) => s.starts_with(p.as_str()),
            (Cond::Suffix(p), Leaf::Str(s)) => s.ends_with(p.as_str()),
            (Cond::EqualsIgnoreCase(lower), Leaf::Str(s)) => {
                s.chars().flat_map(char::to_lowercase).eq(lower.chars())
            }
            (Cond::PrefixIgnoreCase(lower), Leaf::Str(s)) => {
                lowercase(s).starts_with(lower.as_str())
            }
            (Cond::SuffixIgnoreCase(lower), Leaf::Str(s)) => lowercase(s).ends_with(lower.as_str()),
            (Cond::Wildcard(pattern), Leaf::Str(s)) => pattern.matches(s),
            (Cond::AnythingBut(ab), leaf) => {
                (ab.matches_null || !matches!(leaf, Leaf::Null)) && !ab.excludes(leaf)
            }
            (Cond::Numeric(range), Leaf::Num(n)) => range.contains(n),
            (Cond::Cidr(net), Leaf::Str(s)) => parse_ip(s).is_ok_and(|ip| net.contains(ip)),
            _ => false,
        }
    }
}
