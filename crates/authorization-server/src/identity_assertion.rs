//! The authorization server's side of the split deployment (issue 6 item 5): an identity
//! assertion from a network ingress at the mobile edge (`numbat_core::handoff`) becomes an
//! [`IdentityOutcome`]. In split mode this is the authorization server's only identity source;
//! it never reads an address or any other header.
//!
//! Accepted only when, in this order (cheap checks first, the store write last):
//! 1. it is a compact JWS of at most [`MAX_ASSERTION_BYTES`], `typ` `numbat-identity+jwt`, with a
//!    `kid`, an allowed algorithm (ES256, EdDSA; never `none` or HMAC) and a signature that
//!    verifies with a key of a trusted ingress (several keys each, for rotation);
//! 2. `iss` is the id of the ingress whose key verified it, `aud` is this issuer;
//! 3. `iat` is not in the future and `exp` not in the past (both with the configured skew), and
//!    `exp - iat` is 1..=lifetime;
//! 4. `req_hash` equals the binding of the request it arrived on (constant-time compare);
//! 5. the claims are well formed (`identified`: `sub` `tel:+E164`, `amr` `["nba"]`,
//!    `auth_time` positive and not after `iat`: the data session may have started hours earlier);
//! 6. its `jti` was never seen from that ingress (`put_if_absent`, kept until `exp` + skew).
//!
//! Anything else is `NotIdentified`, with the reason logged (never the MSISDN or the token); a
//! store failure in step 6 is `Unavailable`.

use numbat_core::handoff::{AssertionClaims, HandoffOutcome, ASSERTION_TYP, MAX_ASSERTION_LIFETIME_S};
use numbat_core::{Clock, IdentityOutcome};
use numbat_jose::{Alg, JoseError, KeySet};
use numbat_store::{keys, SharedStore};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Assertions are small (a few hundred bytes); anything larger is refused before parsing.
pub const MAX_ASSERTION_BYTES: usize = 4096;
/// Signature algorithms an ingress may use.
pub const ASSERTION_ALGS: [Alg; 2] = [Alg::ES256, Alg::EdDSA];

/// One ingress the authorization server trusts: its id (`iss`) and its public keys.
#[derive(Debug)]
pub struct TrustedIngress {
    pub id: String,
    pub keys: KeySet,
}

#[derive(Debug, Clone)]
pub struct AssertionConfig {
    /// `aud` every assertion must carry: this authorization server's issuer.
    pub audience: String,
    /// Longest accepted `exp - iat`, seconds (1..=30).
    pub lifetime_s: i64,
    /// Tolerance for `iat`/`exp` against this server's clock, seconds.
    pub clock_skew_s: i64,
}

/// Why an assertion was refused (logged; never sent to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no assertion")]
    Missing,
    #[error("more than one assertion header")]
    Duplicate,
    #[error("assertion too large")]
    TooLarge,
    #[error("malformed assertion ({0})")]
    Malformed(&'static str),
    #[error("wrong typ")]
    WrongType,
    #[error("algorithm not allowed")]
    AlgNotAllowed,
    #[error("no trusted ingress key matches")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("iss is not the ingress whose key signed it")]
    WrongIssuer,
    #[error("aud is not this authorization server")]
    WrongAudience,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    NotYetValid,
    #[error("lifetime out of range")]
    Lifetime,
    #[error("bound to another request")]
    RequestMismatch,
    #[error("no usable identity in an identified assertion")]
    BadIdentity,
    #[error("replayed (jti already used)")]
    Replayed,
    #[error("replay cache unavailable")]
    StoreUnavailable,
}

impl Rejection {
    /// The outcome a refused assertion leads to: "try later" only when the store failed.
    pub fn outcome(&self) -> IdentityOutcome {
        match self {
            Rejection::StoreUnavailable => IdentityOutcome::Unavailable,
            _ => IdentityOutcome::NotIdentified,
        }
    }
}

impl From<JoseError> for Rejection {
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::UnsupportedAlg | JoseError::AlgNotAllowed => Rejection::AlgNotAllowed,
            JoseError::UnknownKey => Rejection::UnknownKey,
            JoseError::BadSignature => Rejection::BadSignature,
            JoseError::Crit => Rejection::Malformed("crit"),
            JoseError::Malformed(m) => Rejection::Malformed(m),
            JoseError::KeyRejected(_) | JoseError::Sign => Rejection::Malformed("key"),
        }
    }
}

pub struct AssertionVerifier {
    cfg: AssertionConfig,
    trusted: Vec<TrustedIngress>,
    store: SharedStore,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AssertionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.trusted.iter().map(|t| t.id.as_str()).collect();
        f.debug_struct("AssertionVerifier").field("cfg", &self.cfg).field("trusted", &ids).finish()
    }
}

impl AssertionVerifier {
    /// `trusted` must name at least one ingress with at least one key; ids must be unique.
    pub fn new(
        cfg: AssertionConfig,
        trusted: Vec<TrustedIngress>,
        store: SharedStore,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        if trusted.is_empty() || trusted.iter().any(|t| t.keys.is_empty() || t.id.is_empty()) {
            return Err("at least one trusted ingress, each with an id and at least one key".into());
        }
        let mut ids: Vec<&str> = trusted.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("duplicate trusted ingress id".into());
        }
        if !(1..=MAX_ASSERTION_LIFETIME_S).contains(&cfg.lifetime_s) {
            return Err(format!("lifetime must be 1..={MAX_ASSERTION_LIFETIME_S} s"));
        }
        Ok(AssertionVerifier { cfg, trusted, store, clock })
    }

    /// The outcome for a request that carried `assertion` (`None`: no header), bound to
    /// `req_hash`. Refusals are logged with their reason; a missing assertion only at debug.
    pub async fn outcome(&self, assertion: Option<&str>, req_hash: &str) -> IdentityOutcome {
        let Some(token) = assertion else {
            tracing::debug!("no identity assertion: not identified");
            return IdentityOutcome::NotIdentified;
        };
        match self.check(token, req_hash).await {
            Ok(o) => o,
            Err(r) => {
                tracing::warn!(reason = %r, "identity assertion refused (issue 6 item 5)");
                r.outcome()
            }
        }
    }

    /// Verify one assertion (see the module documentation for the order of the checks).
    pub async fn check(&self, token: &str, req_hash: &str) -> Result<IdentityOutcome, Rejection> {
        if token.len() > MAX_ASSERTION_BYTES {
            return Err(Rejection::TooLarge);
        }
        let header = numbat_jose::decode_header(token)?;
        if header.typ.as_deref() != Some(ASSERTION_TYP) {
            return Err(Rejection::WrongType);
        }
        let alg = Alg::parse(&header.alg).ok_or(Rejection::AlgNotAllowed)?;
        if !ASSERTION_ALGS.contains(&alg) {
            return Err(Rejection::AlgNotAllowed);
        }
        let kid = header.kid.as_deref().ok_or(Rejection::Malformed("no kid"))?;
        // The key decides which ingress spoke: only the ingress holding this kid is tried.
        let mut verified = None;
        let mut last = Rejection::UnknownKey;
        for t in self.trusted.iter().filter(|t| t.keys.has_kid(kid)) {
            match numbat_jose::verify(token, &t.keys, &ASSERTION_ALGS) {
                Ok(v) => {
                    verified = Some((t, v));
                    break;
                }
                Err(e) => last = e.into(),
            }
        }
        let (ingress, v) = verified.ok_or(last)?;
        let c: AssertionClaims = serde_json::from_slice(&v.payload).map_err(|_| Rejection::Malformed("claims"))?;

        if c.iss != ingress.id {
            return Err(Rejection::WrongIssuer);
        }
        if c.aud != self.cfg.audience {
            return Err(Rejection::WrongAudience);
        }
        let now = self.clock.now();
        let skew = self.cfg.clock_skew_s;
        if c.iat > now + skew {
            return Err(Rejection::NotYetValid);
        }
        if c.exp <= now - skew {
            return Err(Rejection::Expired);
        }
        if !(1..=self.cfg.lifetime_s).contains(&(c.exp - c.iat)) {
            return Err(Rejection::Lifetime);
        }
        if !bool::from(c.req_hash.as_bytes().ct_eq(req_hash.as_bytes())) {
            return Err(Rejection::RequestMismatch);
        }
        let outcome = match c.outcome {
            HandoffOutcome::Identified => {
                let identity = c.identity().ok_or(Rejection::BadIdentity)?;
                // `auth_time` is when the network authenticated the data session (its start,
                // authn_time.rs): hours before the assertion is normal, after it is not.
                if identity.authenticated_at > c.iat + skew || identity.authenticated_at <= 0 {
                    return Err(Rejection::BadIdentity);
                }
                IdentityOutcome::Identified(identity)
            }
            HandoffOutcome::Unavailable => IdentityOutcome::Unavailable,
        };
        if c.jti.is_empty() || c.jti.len() > 128 {
            return Err(Rejection::Malformed("jti"));
        }
        let ttl = Duration::from_secs((c.exp + skew - now).max(1) as u64 + 1);
        match self.store.put_if_absent(&keys::ingress_jti(&ingress.id, &c.jti), b"1", ttl).await {
            Ok(true) => Ok(outcome),
            Ok(false) => Err(Rejection::Replayed),
            Err(e) => {
                tracing::warn!(error = %e, "identity assertion replay cache unavailable");
                Err(Rejection::StoreUnavailable)
            }
        }
    }
}

#[cfg(test)]
#[path = "identity_assertion_tests.rs"]
mod tests;
