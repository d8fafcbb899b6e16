//! The identity hand-off between a network ingress at the mobile edge and the authorization
//! server (issue 6 item 5, design.md "Who faces whom"): the wire contract both sides share, so
//! the authorization server never depends on the ingress crate.
//!
//! The ingress signs a compact JWS (`typ` [`ASSERTION_TYP`]) with its own key and sends it to the
//! authorization server in the [`ASSERTION_HEADER`] request header, on the internal hop only:
//!
//! - `iss` the ingress's id, `aud` the authorization server's issuer;
//! - `iat`/`exp` (at most [`MAX_ASSERTION_LIFETIME_S`] apart), `jti` (random, single use);
//! - `req_hash` = [`request_binding`] of the forwarded request (method, path, query, body), so an
//!   assertion lifted from one `/authorize` request is worthless for any other request;
//! - `outcome`: `identified` with `sub` (`tel:+E164`), `amr` (`["nba"]`) and `auth_time`, or
//!   `unavailable` (the ingress's binding store failed: "try later", never "someone").
//!
//! A request the ingress could not identify carries no assertion at all: missing means
//! "not identified", so stripping the header can only ever downgrade, never identify.

use crate::identity::{Amr, Identity};
use crate::msisdn::Msisdn;
use serde::{Deserialize, Serialize};

/// The request header carrying the assertion (lowercase; HTTP header names are
/// case-insensitive). Every ingress strips it from what clients send.
pub const ASSERTION_HEADER: &str = "x-numbat-identity";

/// Explicit JWT type (RFC 8725 §3.11): no other JWT numbat or a client signs can pass for one.
pub const ASSERTION_TYP: &str = "numbat-identity+jwt";

/// Upper bound of `exp - iat` (issue 6 item 5: short-lived).
pub const MAX_ASSERTION_LIFETIME_S: i64 = 30;

/// What the ingress concluded, as carried in the assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandoffOutcome {
    Identified,
    Unavailable,
}

/// The claims of an identity assertion. `Debug` redacts the subscriber.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub req_hash: String,
    pub outcome: HandoffOutcome,
    /// `tel:+E164` when identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl std::fmt::Debug for AssertionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionClaims")
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .field("outcome", &self.outcome)
            .field("sub", &self.sub.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl AssertionClaims {
    /// The identity an `identified` assertion carries, when it is well formed: `sub` a `tel:`
    /// E.164 number, `amr` exactly `["nba"]` (the network is the only thing an ingress can
    /// vouch for) and `auth_time` present.
    pub fn identity(&self) -> Option<Identity> {
        let msisdn = Msisdn::parse(self.sub.as_deref()?.strip_prefix("tel:")?).ok()?;
        if self.amr.len() != 1 || Amr::parse(&self.amr[0]) != Some(Amr::Nba) {
            return None;
        }
        Some(Identity { msisdn, amr: Amr::Nba, authenticated_at: self.auth_time? })
    }
}

/// Binds an assertion to one request: SHA-256 (base64url) over the method, the path and the raw
/// query (each length-prefixed) and the SHA-256 of the body. The host is left out on purpose: the
/// ingress is reached under the public name and forwards to an internal one.
pub fn request_binding(method: &str, path: &str, query: &str, body: &[u8]) -> String {
    use ring::digest::{digest, Context, SHA256};
    let body_digest = digest(&SHA256, body);
    let mut ctx = Context::new(&SHA256);
    for part in [method, path, query] {
        // Length-prefixed: no two different requests give the same input.
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    ctx.update(body_digest.as_ref());
    b64url(ctx.finish().as_ref())
}

fn b64url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_depends_on_every_part() {
        let base = request_binding("GET", "/authorize", "client_id=a", b"");
        assert_eq!(base.len(), 43);
        assert_ne!(base, request_binding("POST", "/authorize", "client_id=a", b""));
        assert_ne!(base, request_binding("GET", "/authorize2", "client_id=a", b""));
        assert_ne!(base, request_binding("GET", "/authorize", "client_id=b", b""));
        assert_ne!(base, request_binding("GET", "/authorize", "client_id=a", b"x"));
        // No ambiguity from moving the separator.
        assert_ne!(request_binding("GET", "/a\n", "b", b""), request_binding("GET", "/a", "\nb", b""));
    }

    fn claims() -> AssertionClaims {
        AssertionClaims {
            iss: "edge-1".into(),
            aud: "https://id.example".into(),
            iat: 100,
            exp: 130,
            jti: "j".into(),
            req_hash: "h".into(),
            outcome: HandoffOutcome::Identified,
            sub: Some("tel:+34600000001".into()),
            amr: vec!["nba".into()],
            auth_time: Some(100),
        }
    }

    #[test]
    fn identity_needs_tel_nba_and_auth_time() {
        assert_eq!(claims().identity().map(|i| i.msisdn.as_str().to_owned()).as_deref(), Some("+34600000001"));
        let mut c = claims();
        c.sub = Some("+34600000001".into());
        assert!(c.identity().is_none());
        let mut c = claims();
        c.amr = vec!["sim".into()];
        assert!(c.identity().is_none());
        let mut c = claims();
        c.amr = vec!["nba".into(), "nba".into()];
        assert!(c.identity().is_none());
        let mut c = claims();
        c.auth_time = None;
        assert!(c.identity().is_none());
        assert!(!format!("{:?}", claims()).contains("34600000001"), "Debug must redact the MSISDN");
    }

    #[test]
    fn outcome_serializes_lowercase() {
        let v = serde_json::to_value(claims()).unwrap();
        assert_eq!(v["outcome"], "identified");
    }
}
