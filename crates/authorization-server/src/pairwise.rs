//! Pairwise pseudonymous subject identifiers (P-84..P-86, OIDC Core §8.1).
//!
//! `sub = base64url(HMAC-SHA-256(secret, sector_identifier || 0x00 || msisdn))`: stable per
//! sector, unlinkable across sectors, and not reversible without the operator's secret (an
//! attacker cannot enumerate the small MSISDN space without it).

use numbat_core::Msisdn;
use numbat_jose::b64_encode;
use ring::hmac;

pub struct PairwiseSubjects {
    key: hmac::Key,
}

impl PairwiseSubjects {
    pub fn new(secret: &[u8]) -> Self {
        PairwiseSubjects { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    pub fn subject(&self, sector: &str, msisdn: &Msisdn) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(sector.as_bytes());
        ctx.update(&[0]);
        ctx.update(msisdn.as_str().as_bytes());
        b64_encode(ctx.sign().as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p84_sub_is_pairwise_and_not_the_msisdn() {
        let p = PairwiseSubjects::new(b"0123456789abcdef0123456789abcdef");
        let m = Msisdn::parse("+34600000001").unwrap();
        let a = p.subject("app-a.example", &m);
        let b = p.subject("app-b.example", &m);
        assert_ne!(a, b, "different sectors see different subjects");
        assert_eq!(a, p.subject("app-a.example", &m), "stable within a sector");
        assert!(!a.contains("600000001"));
        let other = PairwiseSubjects::new(b"another-secret-another-secret-xx");
        assert_ne!(a, other.subject("app-a.example", &m), "depends on the operator secret");
    }
}
