//! `application/x-www-form-urlencoded` parameters (query strings and form bodies), parsed with
//! the OAuth rules: a parameter without a value counts as absent (RFC 6749 §3.1), and a repeated
//! parameter is an error (E-AZ-01, E-TK-01, S-12), reported by name so `/authorize` can tell
//! whether the redirect target itself is in doubt.

use std::collections::HashMap;

/// Upper bound on any one parameter value (oversized input is `invalid_request`).
pub const MAX_VALUE_BYTES: usize = 8 * 1024;
/// Upper bound on the number of parameters.
pub const MAX_PARAMS: usize = 64;

#[derive(Debug, Default)]
pub struct Params {
    map: HashMap<String, String>,
    /// Names that appeared more than once.
    pub duplicates: Vec<String>,
    /// True when some value or the count exceeded the bounds.
    pub oversized: bool,
}

impl Params {
    pub fn parse(input: &[u8]) -> Params {
        let mut p = Params::default();
        for (i, (k, v)) in form_urlencoded::parse(input).enumerate() {
            if i >= MAX_PARAMS || v.len() > MAX_VALUE_BYTES || k.len() > 256 {
                p.oversized = true;
                break;
            }
            if v.is_empty() {
                // Counts as omitted, but a repeat of a real value is still a repeat.
                if p.map.contains_key(k.as_ref()) && !p.duplicates.iter().any(|d| d == k.as_ref()) {
                    p.duplicates.push(k.into_owned());
                }
                continue;
            }
            match p.map.entry(k.into_owned()) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    if !p.duplicates.iter().any(|d| d == e.key()) {
                        p.duplicates.push(e.key().clone());
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(v.into_owned());
                }
            }
        }
        p
    }

    /// Parameters from already-decoded pairs (a verified request object); no duplicates possible.
    pub fn from_pairs(pairs: impl Iterator<Item = (String, String)>) -> Params {
        let mut p = Params::default();
        for (k, v) in pairs {
            if v.len() > MAX_VALUE_BYTES || p.map.len() >= MAX_PARAMS {
                p.oversized = true;
                break;
            }
            if !v.is_empty() {
                p.map.insert(k, v);
            }
        }
        p
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// Every (name, value), in no particular order (a pushed request is stored this way).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.iter().any(|d| d == name)
    }

    pub fn has_problem(&self) -> bool {
        self.oversized || !self.duplicates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"a=&b=1");
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("1"));
        assert!(!p.has_problem());
    }

    #[test]
    fn e_az_01_repeated_parameter_is_reported() {
        let p = Params::parse(b"scope=a&scope=b&x=1");
        assert!(p.is_duplicated("scope"));
        assert!(!p.is_duplicated("x"));
    }

    #[test]
    fn oversized_values_are_flagged() {
        let big = format!("a={}", "x".repeat(MAX_VALUE_BYTES + 1));
        assert!(Params::parse(big.as_bytes()).oversized);
    }

    #[test]
    fn percent_decoding() {
        let p = Params::parse(b"redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcallback&s=a+b");
        assert_eq!(p.get("redirect_uri"), Some("http://127.0.0.1:9999/callback"));
        assert_eq!(p.get("s"), Some("a b"));
    }
}
