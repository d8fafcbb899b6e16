//! numbat-jose: keys and compact JWS.
//!
//! Why not `jsonwebtoken` on the hot path: it re-parses the PKCS#8 key on every ES256 signature
//! and validates registered claims with its own rules; numbat needs keys parsed once and the
//! profile's own time rules (P-27, P-67, P-89). `jsonwebtoken` stays in the tests as an
//! independent implementation that signs what clients send.
//!
//! Safety rules kept here, for every caller:
//! - an algorithm allow-list per use; `none` and every HMAC algorithm are never accepted, so a
//!   public key can never be used as an HMAC secret (no alg confusion);
//! - the key is chosen by `kid` among keys whose type matches `alg`; embedded keys (`jwk`, `jku`,
//!   `x5u`) are ignored; a `crit` header is refused;
//! - JWKS input holding private or symmetric material is refused; published JWKS carry only
//!   public members and every key has a `kid`.

mod b64;
mod error;
mod jwk;
mod jws;
mod keyring;
mod signing;

pub use error::JoseError;
pub use jwk::{Jwk, Jwks, KeySet, VerifyingKey};
pub use jws::{decode_header, verify, Header, Verified, MAX_TOKEN_BYTES};
pub use keyring::{JwksCache, KeyRing, KeyRingError, RotationPolicy, VerifyError, DEFAULT_ALGS};
pub use signing::SigningKey;

/// JWS algorithms numbat signs and verifies (never `none`, never HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    ES256,
    RS256,
    PS256,
    EdDSA,
}

impl Alg {
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::ES256),
            "RS256" => Some(Alg::RS256),
            "PS256" => Some(Alg::PS256),
            "EdDSA" => Some(Alg::EdDSA),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub const ALL: [Alg; 4] = [Alg::ES256, Alg::RS256, Alg::PS256, Alg::EdDSA];
}

/// SHA-256 then base64url of the left half: OIDC `at_hash`/`c_hash` for 256-bit algorithms.
pub fn left_half_hash(value: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    b64::encode(&d.as_ref()[..16])
}

/// OIDC `at_hash`/`c_hash` for the algorithm the ID token is signed with: the left half of the
/// hash the algorithm uses: SHA-256 for ES256, RS256 and PS256; SHA-512 for EdDSA with Ed25519
/// (as node-oidc-provider, the OIDF suite and the `openidconnect` crate compute it).
pub fn left_half_hash_for(alg: Alg, value: &str) -> String {
    match alg {
        Alg::EdDSA => {
            let d = ring::digest::digest(&ring::digest::SHA512, value.as_bytes());
            b64::encode(&d.as_ref()[..32])
        }
        Alg::ES256 | Alg::RS256 | Alg::PS256 => left_half_hash(value),
    }
}

pub use b64::{decode as b64_decode, encode as b64_encode};
