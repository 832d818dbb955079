//! Finding the rules an event matches without testing every rule's pattern.
//!
//! Most patterns pin some field to exact strings in every alternative (`source`, `detail-type`,
//! `detail.status`: `{"source": ["order-service"], "detail-type": ["OrderCreated"]}`). Such a
//! pattern is filed under one such field and each of its values; an event then only looks up
//! its own values of the indexed fields and tests the patterns found there, plus the patterns
//! that pin no field to exact strings (only `prefix`, `numeric`, `$or` over different fields,
//! ...), which are tested for every event. With N rules spread over distinct values, matching
//! costs a few hash lookups and the handful of candidate patterns instead of N pattern tests.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use serde_json::Value;

use super::pattern::EventPattern;

/// Fields preferred as index keys, most selective first (among equally short value lists).
const PREFERRED_FIELDS: [&str; 2] = ["detail-type", "source"];

/// A set of compiled patterns under caller-chosen keys (rule names, ARNs, ...).
#[derive(Debug, Clone)]
pub struct RuleIndex<K> {
    slots: Vec<Option<Slot<K>>>,
    free: Vec<usize>,
    by_key: HashMap<K, usize>,
    /// field (dotted path) -> exact value -> slots filed there.
    exact: HashMap<String, HashMap<String, Vec<usize>>>,
    /// Slots tested for every event (no field pinned to exact strings).
    scan: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Slot<K> {
    key: K,
    pattern: Arc<EventPattern>,
    /// The field and values it is filed under; `None` when in `scan`.
    filed: Option<(String, Vec<String>)>,
}

impl<K> Default for RuleIndex<K> {
    fn default() -> Self {
        RuleIndex {
            slots: Vec::new(),
            free: Vec::new(),
            by_key: HashMap::new(),
            exact: HashMap::new(),
            scan: Vec::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> RuleIndex<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds `pattern` under `key`, replacing the pattern the key had.
    pub fn insert(&mut self, key: K, pattern: Arc<EventPattern>) {
        self.remove(&key);
        let filed = index_field(&pattern);
        let slot = match self.free.pop() {
            Some(free) => free,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        match &filed {
            Some((field, values)) => {
                let by_value = self.exact.entry(field.clone()).or_default();
                for value in values {
                    by_value.entry(value.clone()).or_default().push(slot);
                }
            }
            None => self.scan.push(slot),
        }
        self.by_key.insert(key.clone(), slot);
        self.slots[slot] = Some(Slot {
            key,
            pattern,
            filed,
        });
    }

    /// Removes the pattern under `key`; returns it if there was one.
    pub fn remove(&mut self, key: &K) -> Option<Arc<EventPattern>> {
        let slot = self.by_key.remove(key)?;
        let removed = self.slots[slot].take()?;
        match &removed.filed {
            Some((field, values)) => {
                if let Some(by_value) = self.exact.get_mut(field) {
                    for value in values {
                        if let Some(slots) = by_value.get_mut(value) {
                            slots.retain(|&s| s != slot);
                            if slots.is_empty() {
                                by_value.remove(value);
                            }
                        }
                    }
                    if by_value.is_empty() {
                        self.exact.remove(field);
                    }
                }
            }
            None => self.scan.retain(|&s| s != slot),
        }
        self.free.push(slot);
        Some(removed.pattern)
    }

    pub fn get(&self, key: &K) -> Option<&Arc<EventPattern>> {
        let slot = *self.by_key.get(key)?;
        self.slots[slot].as_ref().map(|s| &s.pattern)
    }

    /// The keys whose patterns `event` matches (in no particular order, each once).
    pub fn matching(&self, event: &Value) -> Vec<K> {
        self.candidates(event)
            .into_iter()
            .filter_map(|slot| self.slots[slot].as_ref())
            .filter(|slot| slot.pattern.matches(event))
            .map(|slot| slot.key.clone())
            .collect()
    }

    /// How many patterns [`RuleIndex::matching`] tests for `event` (the rest are ruled out by
    /// the index): the measure of its cost, independent of the machine's speed.
    pub fn tested_for(&self, event: &Value) -> usize {
        self.candidates(event).len()
    }

    /// The slots whose patterns may match `event`, each once, in slot order.
    fn candidates(&self, event: &Value) -> Vec<usize> {
        let mut candidates: Vec<usize> = self.scan.clone();
        let mut values = Vec::new();
        for (field, by_value) in &self.exact {
            let steps: Vec<&str> = field.split('.').collect();
            values.clear();
            strings_at(event, &steps, &mut values);
            for value in &values {
                candidates.extend(by_value.get(*value).into_iter().flatten());
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
    }
}

/// Every string the pattern matcher could see at the dotted path `steps` of `value`: through
/// nested objects (a key may itself hold dots: `{"a.b": 1}` is at `a.b` too) and arrays.
fn strings_at<'v>(value: &'v Value, steps: &[&str], out: &mut Vec<&'v str>) {
    match value {
        Value::Array(items) => {
            for item in items {
                strings_at(item, steps, out);
            }
        }
        Value::String(s) if steps.is_empty() => out.push(s),
        Value::Object(members) if !steps.is_empty() => {
            for taken in 1..=steps.len() {
                if let Some(child) = members.get(&steps[..taken].join(".")) {
                    strings_at(child, &steps[taken..], out);
                }
            }
        }
        _ => {}
    }
}

/// The field (and its values) a pattern is filed under: one every alternative pins to exact
/// strings, the one with the fewest values, `detail-type` and `source` first among equals.
fn index_field(pattern: &EventPattern) -> Option<(String, Vec<String>)> {
    let rank = |field: &str| {
        PREFERRED_FIELDS
            .iter()
            .position(|f| *f == field)
            .unwrap_or(PREFERRED_FIELDS.len())
    };
    pattern
        .fields()
        .filter_map(|field| {
            let values = pattern.required_strings(field)?;
            (!values.is_empty()).then_some((field, values))
        })
        .min_by_key(|(field, values)| (values.len(), rank(field)))
        .map(|(field, values)| {
            (
                field.to_owned(),
                values.into_iter().map(str::to_owned).collect(),
            )
        })
}
