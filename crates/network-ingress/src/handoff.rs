//! The ingress side of the split deployment (issue 6 item 5): turn this ingress's verdict on a
//! request into a short-lived, single-use identity assertion signed with the ingress's own key
//! and addressed to the authorization server. Pure: no I/O, no HTTP (the reverse proxy in
//! [`crate::http::proxy`] calls it). The contract is `numbat_core::handoff`.

use numbat_core::handoff::{AssertionClaims, HandoffOutcome, ASSERTION_TYP, MAX_ASSERTION_LIFETIME_S};
use numbat_core::IdentityOutcome;
use numbat_jose::{Alg, JoseError, SigningKey};

#[derive(Debug, Clone)]
pub struct HandoffConfig {
    /// `iss`: this ingress's id, as the authorization server's trust list names it.
    pub ingress_id: String,
    /// `aud`: the authorization server's issuer identifier.
    pub audience: String,
    /// `exp - iat`, seconds (1..=30).
    pub lifetime_s: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("the signing key must be ES256 (P-256) or EdDSA (Ed25519)")]
    KeyAlgorithm,
    #[error("lifetime must be 1..={MAX_ASSERTION_LIFETIME_S} s")]
    Lifetime,
    #[error("ingress id and audience must be non-empty")]
    Names,
    #[error(transparent)]
    Jose(#[from] JoseError),
}

/// Signs identity assertions. The key is parsed once, at start.
pub struct HandoffSigner {
    cfg: HandoffConfig,
    key: SigningKey,
}

impl std::fmt::Debug for HandoffSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoffSigner").field("cfg", &self.cfg).field("kid", &self.key.kid()).finish()
    }
}

impl HandoffSigner {
    pub fn new(cfg: HandoffConfig, key: SigningKey) -> Result<Self, HandoffError> {
        if !matches!(key.alg(), Alg::ES256 | Alg::EdDSA) {
            return Err(HandoffError::KeyAlgorithm);
        }
        if !(1..=MAX_ASSERTION_LIFETIME_S).contains(&cfg.lifetime_s) {
            return Err(HandoffError::Lifetime);
        }
        if cfg.ingress_id.is_empty() || cfg.audience.is_empty() {
            return Err(HandoffError::Names);
        }
        Ok(HandoffSigner { cfg, key })
    }

    pub fn config(&self) -> &HandoffConfig {
        &self.cfg
    }

    /// The `kid` the authorization server finds this ingress's key by.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The assertion for one request (`req_hash` = `numbat_core::handoff::request_binding` of
    /// the request as forwarded), or `None` when there is nothing to vouch for: a request the
    /// ingress could not identify travels without any assertion.
    pub fn assertion(
        &self,
        outcome: &IdentityOutcome,
        req_hash: &str,
        now: i64,
    ) -> Result<Option<String>, HandoffError> {
        let (outcome, sub, amr, auth_time) = match outcome {
            IdentityOutcome::Identified(i) => (
                HandoffOutcome::Identified,
                Some(format!("tel:{}", i.msisdn.as_str())),
                vec![i.amr.as_str().to_owned()],
                Some(i.authenticated_at),
            ),
            IdentityOutcome::Unavailable => (HandoffOutcome::Unavailable, None, vec![], None),
            IdentityOutcome::NotIdentified => return Ok(None),
        };
        let claims = AssertionClaims {
            iss: self.cfg.ingress_id.clone(),
            aud: self.cfg.audience.clone(),
            iat: now,
            exp: now + self.cfg.lifetime_s,
            jti: random_jti()?,
            req_hash: req_hash.to_owned(),
            outcome,
            sub,
            amr,
            auth_time,
        };
        Ok(Some(self.key.sign(ASSERTION_TYP, &claims)?))
    }
}

fn random_jti() -> Result<String, JoseError> {
    let mut b = [0u8; 18];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).map_err(|_| JoseError::Sign)?;
    Ok(numbat_jose::b64_encode(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use numbat_core::{Amr, Identity, Msisdn};

    fn signer() -> HandoffSigner {
        let cfg = HandoffConfig { ingress_id: "edge-1".into(), audience: "https://id.example".into(), lifetime_s: 30 };
        HandoffSigner::new(cfg, SigningKey::generate_es256().unwrap()).unwrap()
    }

    fn identified() -> IdentityOutcome {
        IdentityOutcome::Identified(Identity {
            msisdn: Msisdn::parse("+34600000001").unwrap(),
            amr: Amr::Nba,
            authenticated_at: 1000,
        })
    }

    #[test]
    fn identified_request_gets_a_verifiable_assertion() {
        let s = signer();
        let jwt = s.assertion(&identified(), "h", 1000).unwrap().unwrap();
        let mut keys = numbat_jose::Jwks::default();
        keys.keys.push(s.key.public_jwk());
        let ks = numbat_jose::KeySet::from_jwks(&keys).unwrap();
        let v = numbat_jose::verify(&jwt, &ks, &[Alg::ES256]).unwrap();
        assert_eq!(v.header.typ.as_deref(), Some(ASSERTION_TYP));
        let c: AssertionClaims = serde_json::from_slice(&v.payload).unwrap();
        assert_eq!((c.iss.as_str(), c.aud.as_str(), c.iat, c.exp), ("edge-1", "https://id.example", 1000, 1030));
        assert_eq!(c.identity().unwrap().msisdn.as_str(), "+34600000001");
        assert_eq!(c.req_hash, "h");
        let again: AssertionClaims = serde_json::from_slice(
            &numbat_jose::verify(&s.assertion(&identified(), "h", 1000).unwrap().unwrap(), &ks, &[Alg::ES256])
                .unwrap()
                .payload,
        )
        .unwrap();
        assert_ne!(c.jti, again.jti, "jti is random");
    }

    #[test]
    fn not_identified_sends_nothing_and_unavailable_is_signed() {
        let s = signer();
        assert!(s.assertion(&IdentityOutcome::NotIdentified, "h", 0).unwrap().is_none());
        assert!(s.assertion(&IdentityOutcome::Unavailable, "h", 0).unwrap().is_some());
    }

    #[test]
    fn refuses_rsa_keys_and_long_lifetimes() {
        let cfg = HandoffConfig { ingress_id: "e".into(), audience: "a".into(), lifetime_s: 31 };
        assert!(matches!(
            HandoffSigner::new(cfg.clone(), SigningKey::generate_es256().unwrap()),
            Err(HandoffError::Lifetime)
        ));
        let cfg = HandoffConfig { lifetime_s: 30, ..cfg };
        assert!(matches!(
            HandoffSigner::new(cfg, SigningKey::generate_rs256().unwrap()),
            Err(HandoffError::KeyAlgorithm)
        ));
    }
}
