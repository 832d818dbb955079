//! Matching a JSON document (the `MessageBody` scope): nested policy keys address nested
//! properties, dotted keys match both nested and dotted property names, and a property holding
//! an array matches when one of its elements does. Arrays are "array consistent", as
//! event-ruler's JSON matcher is: two keys cannot be satisfied by values that sit in different
//! elements of the same array.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::compile::{Cond, Dialect, KeyRule, Rules};
use super::matching::{leaf_of, Leaf};

/// Every path of a rule set and every dot-boundary prefix of a path, mapped to the path index
/// when it is a full path. Used to prune the walk of documents.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathIndex(HashMap<String, Option<usize>>);

impl PathIndex {
    pub(crate) fn new(paths: &[String]) -> PathIndex {
        let mut prefixes: HashMap<String, Option<usize>> = HashMap::new();
        for (i, path) in paths.iter().enumerate() {
            for (pos, _) in path.match_indices('.') {
                prefixes.entry(path[..pos].to_owned()).or_insert(None);
            }
            prefixes.insert(path.clone(), Some(i));
        }
        PathIndex(prefixes)
    }
}

/// Whether the JSON object `root` satisfies some branch of `rules` (which has at least one).
///
/// SNS: `exists: true` wants a non-null, non-empty value and `exists: false` a non-empty body;
/// EventBridge: `exists: true` holds for any leaf value, `exists: false` for no leaf at all.
pub(crate) fn matches(
    rules: &Rules,
    index: &PathIndex,
    root: &Map<String, Value>,
    dialect: Dialect,
) -> bool {
    let mut found: Vec<Vec<Occurrence<'_>>> = (0..rules.paths.len()).map(|_| Vec::new()).collect();
    let mut walker = BodyWalker {
        prefixes: &index.0,
        found: &mut found,
        path: String::new(),
        arrays: Vec::new(),
        next_array: 0,
    };
    for (key, value) in root {
        walker.visit_member(key, value);
    }
    let non_empty = !root.is_empty() || dialect == Dialect::EventBridge;
    let any_leaf_exists = dialect == Dialect::EventBridge;
    rules
        .branches
        .iter()
        .any(|branch| branch_matches_body(branch, &found, non_empty, any_leaf_exists))
}

/// A scalar found in the body at a policy path, with the array elements it sits in
/// (`(array id, element index)`, outermost first).
struct Occurrence<'a> {
    leaf: Leaf<'a>,
    arrays: Vec<(u32, u32)>,
}

struct BodyWalker<'p, 'f, 'a> {
    prefixes: &'p HashMap<String, Option<usize>>,
    found: &'f mut Vec<Vec<Occurrence<'a>>>,
    path: String,
    arrays: Vec<(u32, u32)>,
    next_array: u32,
}

impl<'a> BodyWalker<'_, '_, 'a> {
    fn visit_member(&mut self, key: &str, value: &'a Value) {
        let saved = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        // Only descend into properties that lead to a policy path.
        if let Some(&target) = self.prefixes.get(self.path.as_str()) {
            self.visit_value(value, target);
        }
        self.path.truncate(saved);
    }

    fn visit_value(&mut self, value: &'a Value, target: Option<usize>) {
        match value {
            Value::Object(members) => {
                for (key, child) in members {
                    self.visit_member(key, child);
                }
            }
            Value::Array(items) => {
                let id = self.next_array;
                self.next_array += 1;
                for (i, item) in items.iter().enumerate() {
                    self.arrays.push((id, i as u32));
                    self.visit_value(item, target);
                    self.arrays.pop();
                }
            }
            scalar => {
                if let (Some(index), Some(leaf)) = (target, leaf_of(scalar)) {
                    self.found[index].push(Occurrence {
                        leaf,
                        arrays: self.arrays.clone(),
                    });
                }
            }
        }
    }
}

fn branch_matches_body(
    rules: &[KeyRule],
    found: &[Vec<Occurrence<'_>>],
    non_empty: bool,
    any_leaf_exists: bool,
) -> bool {
    // Keys that some value outside any array satisfies are consistent with every other pick;
    // the others must be satisfied together, without two picks in different elements of the
    // same array.
    let mut constrained: Vec<Vec<&Occurrence<'_>>> = Vec::new();
    for rule in rules {
        let occurrences = &found[rule.path];
        let absent_ok = rule.conds.iter().any(|c| matches!(c, Cond::Exists(false)));
        if occurrences.is_empty() && absent_ok && non_empty {
            continue;
        }
        let candidates: Vec<&Occurrence<'_>> = occurrences
            .iter()
            .filter(|occ| {
                rule.conds.iter().any(|cond| match cond {
                    Cond::Exists(want) => *want && (any_leaf_exists || occ.leaf.is_present()),
                    _ => cond.matches_value(occ.leaf),
                })
            })
            .collect();
        if candidates.is_empty() {
            return false;
        }
        if candidates.iter().all(|occ| !occ.arrays.is_empty()) {
            constrained.push(candidates);
        }
    }
    if constrained.len() < 2 {
        return true;
    }
    // Beyond 64 array-bound keys in one branch (only possible with absurd `$or` branches),
    // the extra keys are checked on their own.
    constrained.truncate(64);
    let mut root = ArrayTrie::default();
    for (bit, candidates) in constrained.iter().enumerate() {
        for occ in candidates {
            root.insert(&occ.arrays, 1u64 << bit);
        }
    }
    let full = if constrained.len() == 64 {
        u64::MAX
    } else {
        (1u64 << constrained.len()) - 1
    };
    root.achievable().contains(&full)
}

/// The array elements holding candidate values, as a tree: a node is one array element (the
/// root: outside any array); values under one node combine freely, values under different
/// elements of the same array never combine.
#[derive(Default)]
struct ArrayTrie {
    /// Keys satisfied by a value directly under this element.
    keys: u64,
    /// Array id -> element index -> element.
    arrays: HashMap<u32, HashMap<u32, ArrayTrie>>,
}

impl ArrayTrie {
    fn insert(&mut self, arrays: &[(u32, u32)], key: u64) {
        let mut node = self;
        for &(id, index) in arrays {
            node = node.arrays.entry(id).or_default().entry(index).or_default();
        }
        node.keys |= key;
    }

    /// The maximal sets of keys that can be satisfied together within this element.
    fn achievable(&self) -> Vec<u64> {
        let mut sets = vec![self.keys];
        for elements in self.arrays.values() {
            let mut options = Vec::new();
            for element in elements.values() {
                for set in element.achievable() {
                    insert_maximal(&mut options, set);
                }
            }
            let mut combined = Vec::new();
            for &a in &sets {
                for &b in &options {
                    insert_maximal(&mut combined, a | b);
                }
            }
            sets = combined;
        }
        sets
    }
}

/// Adds `set` to an antichain of key sets, keeping only maximal ones.
fn insert_maximal(sets: &mut Vec<u64>, set: u64) {
    if sets.iter().any(|&s| s & set == set) {
        return;
    }
    sets.retain(|&s| s & set != s);
    sets.push(set);
}
