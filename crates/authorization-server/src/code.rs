//! The authorization-code model: what `/authorize` records and `/token` redeems (design.md step 1-2).

use numbat_core::{Amr, Msisdn, ScopeSet};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub v: u8,
    pub client_id: String,
    pub redirect_uri: String,
    /// PKCE S256 challenge (P-33), when the client sent one.
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: ScopeSet,
    pub msisdn: Msisdn,
    pub amr: Amr,
    pub auth_time: i64,
    pub exp: i64,
}

impl CodeRecord {
    pub const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("code record serializes")
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(b).ok().filter(|r| r.v == Self::VERSION)
    }
}

/// S-01: a `code_verifier` is 43–128 characters of `[A-Za-z0-9-._~]`.
pub fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// An S256 `code_challenge` is base64url of a SHA-256 digest: exactly 43 characters.
pub fn valid_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// S-01: `BASE64URL-NOPAD(SHA256(verifier)) == challenge`, compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use subtle::ConstantTimeEq;
    let d = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let computed = numbat_jose::b64_encode(d.as_ref());
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s01_rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(valid_verifier(verifier) && valid_challenge(challenge));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", challenge));
    }

    #[test]
    fn s01_verifier_shape() {
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
    }
}
