//! The operator's admin bearer token (admin APIs of the authorization server and the ingress),
//! and the one place an `Authorization: Bearer` header value is read.

use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq;

/// Kept only as its SHA-256 digest; compared digest to digest in constant time, so neither the
/// content nor the length of the expected token leaks. Empty: the admin APIs are off.
#[derive(Clone, Default)]
pub struct AdminToken(Option<Vec<u8>>);

impl AdminToken {
    pub fn new(token: &str) -> Self {
        AdminToken((!token.is_empty()).then(|| digest(&SHA256, token.as_bytes()).as_ref().to_vec()))
    }

    /// Is an admin token configured at all?
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// True only when a token is configured and `presented` is it.
    pub fn verify(&self, presented: Option<&str>) -> bool {
        let (Some(expected), Some(given)) = (&self.0, presented) else { return false };
        digest(&SHA256, given.as_bytes()).as_ref().ct_eq(expected.as_slice()).into()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.enabled() { "AdminToken(<set>)" } else { "AdminToken(<off>)" })
    }
}

/// The token of an `Authorization` header value with the `Bearer` scheme (case-insensitive),
/// trimmed; `None` for any other scheme.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_token_checks() {
        let t = AdminToken::new("s3cret-admin");
        assert!(t.enabled() && t.verify(Some("s3cret-admin")));
        for bad in [Some("s3cret-admiN"), Some(""), Some("s3cret-admin "), None] {
            assert!(!t.verify(bad), "{bad:?}");
        }
        let off = AdminToken::new("");
        assert!(!off.enabled() && !off.verify(Some("")));
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(bearer_token("Bearer abc "), Some("abc"));
        assert_eq!(bearer_token("bEaReR abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }
}
