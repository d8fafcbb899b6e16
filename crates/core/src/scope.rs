//! Scope sets and the `dpv:` purpose (RFC 6749 §3.3, P-74..P-81).

use serde::{Deserialize, Serialize};

pub const OPENID: &str = "openid";
pub const NV_VERIFY: &str = "number-verification:verify";
pub const NV_SHARE: &str = "number-verification:device-phone-number:read";
pub const PURPOSE_PREFIX: &str = "dpv:";

/// Scope values of the CAMARA Number Verification API (NVS-01). Tokens holding any of them are
/// short-lived (NVR-04), single-use (NVR-05) and never come with a refresh token (NVR-03).
pub const NV_SCOPES: [&str; 2] = [NV_VERIFY, NV_SHARE];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope is empty")]
    Empty,
    #[error("scope is malformed")]
    Malformed,
    #[error("exactly one dpv: purpose is required")]
    PurposeCount,
    #[error("the purpose is malformed")]
    PurposeMalformed,
}

/// A `dpv:<Purpose>` scope value (P-79).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Purpose(String);

impl Purpose {
    /// Parse `dpv:<Name>`; the retired `dpv:<purpose>#<scope>` form is refused (P-81).
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let name = s.strip_prefix(PURPOSE_PREFIX).ok_or(ScopeError::PurposeMalformed)?;
        let ok = !name.is_empty()
            && name.len() <= 128
            && name.as_bytes()[0].is_ascii_uppercase()
            && name.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(Purpose(s.to_owned()))
        } else {
            Err(ScopeError::PurposeMalformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ordered set of scope values, as sent (duplicates dropped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// RFC 6749 §3.3: `scope-token *( SP scope-token )`, scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        if s.len() > 2048 {
            return Err(ScopeError::Malformed);
        }
        let mut out: Vec<String> = Vec::new();
        for tok in s.split(' ') {
            let valid = !tok.is_empty()
                && tok.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err(ScopeError::Malformed);
            }
            if !out.iter().any(|t| t == tok) {
                out.push(tok.to_owned());
            }
        }
        if out.len() > 32 {
            return Err(ScopeError::Malformed);
        }
        Ok(ScopeSet(out))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every value with the `dpv:` prefix.
    pub fn purpose_values(&self) -> impl Iterator<Item = &str> {
        self.iter().filter(|s| s.starts_with(PURPOSE_PREFIX))
    }

    /// P-80: exactly one well-formed purpose.
    pub fn single_purpose(&self) -> Result<Purpose, ScopeError> {
        let mut it = self.purpose_values();
        match (it.next(), it.next()) {
            (Some(p), None) => Purpose::parse(p),
            _ => Err(ScopeError::PurposeCount),
        }
    }

    /// True when any Number Verification scope is present.
    pub fn has_number_verification(&self) -> bool {
        NV_SCOPES.iter().any(|s| self.contains(s))
    }

    /// Space-separated form, for token responses and token claims.
    pub fn to_scope_string(&self) -> String {
        self.0.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_deduplicates() {
        let s = ScopeSet::parse("openid dpv:FraudPreventionAndDetection openid number-verification:verify").unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.has_number_verification());
        assert_eq!(s.single_purpose().unwrap().as_str(), "dpv:FraudPreventionAndDetection");
    }

    #[test]
    fn rfc6749_rejects_bad_separators_and_characters() {
        for bad in ["", "openid  x", " openid", "openid ", "a\"b", "a\\b", "é", "a\tb"] {
            assert!(ScopeSet::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn p80_exactly_one_purpose() {
        let none = ScopeSet::parse("openid number-verification:verify").unwrap();
        assert_eq!(none.single_purpose(), Err(ScopeError::PurposeCount));
        let two = ScopeSet::parse("dpv:A dpv:B").unwrap();
        assert_eq!(two.single_purpose(), Err(ScopeError::PurposeCount));
    }

    #[test]
    fn p81_retired_hash_form_is_malformed() {
        let s = ScopeSet::parse("dpv:FraudPreventionAndDetection#number-verification:verify").unwrap();
        assert_eq!(s.single_purpose(), Err(ScopeError::PurposeMalformed));
    }
}
