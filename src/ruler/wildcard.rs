//! The `wildcard` operator: `*` matches any run of characters (also none), `\*` is a literal
//! star and `\\` a literal backslash. Parsed once, with the rule compiler's error texts (their
//! positions count the opening quote the compiler puts in front of the value), and matched
//! without regexes: a glob with only `*` is decided by placing its literal pieces greedily.

/// Above this, a pattern is "too complex" (see [`Wildcard::complexity`]).
pub const MAX_COMPLEXITY: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    /// The literal pieces between the stars (`a*b*` is `["a", "b", ""]`); one piece means no star.
    pieces: Vec<Vec<u8>>,
}

impl Wildcard {
    pub fn parse(text: &str) -> Result<Wildcard, String> {
        let bytes = text.as_bytes();
        let mut pieces = vec![Vec::new()];
        let mut i = 0;
        while i < bytes.len() {
            // Positions as the compiler reports them: in `"` + text.
            let pos = i + 1;
            match bytes[i] {
                b'*' => {
                    if bytes.get(i + 1) == Some(&b'*') {
                        return Err(format!("Consecutive wildcard characters at pos {pos}"));
                    }
                    pieces.push(Vec::new());
                }
                b'\\' => match bytes.get(i + 1) {
                    Some(&next @ (b'*' | b'\\')) => {
                        pieces.last_mut().expect("never empty").push(next);
                        i += 1;
                    }
                    _ => return Err(format!("Invalid escape character at pos {pos}")),
                },
                byte => pieces.last_mut().expect("never empty").push(byte),
            }
            i += 1;
        }
        Ok(Wildcard { pieces })
    }

    pub fn matches(&self, value: &str) -> bool {
        let value = value.as_bytes();
        let (first, rest) = self.pieces.split_first().expect("never empty");
        let Some((last, middle)) = rest.split_last() else {
            return value == first.as_slice();
        };
        if value.len() < first.len() + last.len()
            || !value.starts_with(first)
            || !value.ends_with(last)
        {
            return false;
        }
        // The middle pieces, leftmost first, in what is left between the two ends.
        let mut window = &value[first.len()..value.len() - last.len()];
        for piece in middle {
            match find(window, piece) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }

    /// How many partial matches of this pattern a worst-case value can keep alive at once (the
    /// "degree of non-determinism" the rule compiler bounds): the largest set of states of the
    /// pattern's automaton reachable together, a state with a star loop counting twice. An
    /// approximation of the compiler's measure that keeps simple patterns (one star, repeated
    /// sequences after it) and rejects many stars in a row of short separators.
    pub fn complexity(&self) -> usize {
        // States: the number of literal bytes consumed; a star loops on the state before it.
        let literals: Vec<u8> = self.pieces.iter().flatten().copied().collect();
        let mut loops = vec![false; literals.len() + 1];
        let mut consumed = 0;
        for (i, piece) in self.pieces.iter().enumerate() {
            consumed += piece.len();
            if i + 1 < self.pieces.len() {
                loops[consumed] = true;
            }
        }
        let weight = |set: &[usize]| -> usize {
            set.iter()
                .map(|&state| if loops[state] { 2 } else { 1 })
                .sum()
        };
        let mut alphabet: Vec<u8> = literals.clone();
        alphabet.sort_unstable();
        alphabet.dedup();
        alphabet.push(0); // any byte that is not in the pattern
        let start = vec![0usize];
        let mut worst = weight(&start);
        let mut seen: std::collections::HashSet<Vec<usize>> = std::collections::HashSet::new();
        seen.insert(start.clone());
        let mut pending = vec![start];
        while let Some(set) = pending.pop() {
            for &byte in &alphabet {
                let mut next: Vec<usize> = Vec::new();
                for &state in &set {
                    if loops[state] {
                        next.push(state);
                    }
                    if literals.get(state) == Some(&byte) && byte != 0 {
                        next.push(state + 1);
                    }
                }
                next.sort_unstable();
                next.dedup();
                if next.is_empty() || seen.contains(&next) {
                    continue;
                }
                worst = worst.max(weight(&next));
                // Sets stay small (above MAX_COMPLEXITY states we stop), so each step is
                // cheap; bounding the sets explored bounds the whole walk.
                if worst > MAX_COMPLEXITY || seen.len() > 1024 {
                    return worst;
                }
                seen.insert(next.clone());
                pending.push(next);
            }
        }
        worst
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str) -> Wildcard {
        Wildcard::parse(p).unwrap()
    }

    #[test]
    fn stars_match_any_run() {
        assert!(w("/Users/*/doc.txt").matches("/Users/a/b/doc.txt"));
        assert!(!w("/Users/*/doc.txt").matches("/Users/a/b/xdoc.txt"));
        assert!(w("*").matches(""));
        assert!(w("a*").matches("a"));
        assert!(w("*a*b*").matches("xaybz"));
        assert!(!w("*a*b*").matches("xbya"));
        assert!(!w("ab*ba").matches("aba"));
        assert!(w("").matches(""));
        assert!(!w("").matches("x"));
        assert!(w(r"a\*b").matches("a*b"));
        assert!(!w(r"a\*b").matches("axb"));
        assert!(w(r"a\\").matches("a\\"));
    }

    #[test]
    fn parse_errors_count_the_opening_quote() {
        assert_eq!(
            Wildcard::parse("arn:aws:events:us-east-1:**:event-bus/*").unwrap_err(),
            "Consecutive wildcard characters at pos 26"
        );
        assert_eq!(
            Wildcard::parse(r"a\b").unwrap_err(),
            "Invalid escape character at pos 2"
        );
    }

    #[test]
    fn complexity_rejects_many_stars_with_short_separators() {
        assert!(w("*:*:*:*:*:event-bus/*").complexity() > MAX_COMPLEXITY);
        assert!(w("/Users/*/dir/dir/dir/dir/dir/doc.txt").complexity() <= MAX_COMPLEXITY);
        assert!(w("arn:aws:events:us-east-1:*:event-bus/*").complexity() <= MAX_COMPLEXITY);
        assert!(w("*/dir/*").complexity() <= MAX_COMPLEXITY);
    }
}
