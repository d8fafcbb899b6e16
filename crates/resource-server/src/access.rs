//! Bearer access tokens → a [`Grant`] (the subscriber bound to the token), steps 1–3 of NVR-09.
//!
//! 1. `Authorization: Bearer <token>` (RFC 6750 §2.1; scheme case-insensitive); the token is an
//!    RFC 9068 JWT: JOSE `typ` `at+jwt`, an allowed algorithm, a key from the published JWKS,
//!    `iss`, `aud`, `exp`, `iat`, not DPoP-bound (S-08, NVX-20). Then `take(at:{jti})`: one
//!    atomic round trip both marks the token used (NVR-05) and returns its record with the
//!    MSISDN. From here on the token is spent, whatever the outcome (NVR-05).
//! 2. Scope of the operation (NVR-07) and a bound subscriber (NVR-08) → 403 `PERMISSION_DENIED`.
//! 3. `amr` from network- or SIM-based authentication (NVR-06) → 403 NVE-04.
//!
//! Nothing here logs the token, the MSISDN or anything derived from them.

use crate::{AuthFailure, NvError, Operation, ResourceServer};
use numbat_core::{AccessTokenClaims, AccessTokenRecord, Msisdn, ACCESS_TOKEN_TYP};
use numbat_jose::VerifyError;
use numbat_store::keys;
use serde::Deserialize;

/// What the `Authorization` header of a request holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No `Authorization` header, or a scheme other than `Bearer` (`Basic`, `DPoP`, …).
    Absent,
    /// A syntactically plausible bearer token (RFC 6750 `b64token`).
    Bearer(&'a str),
    /// `Bearer` with an empty or malformed token, several `Authorization` headers, non-ASCII.
    Malformed,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Absent => "Absent",
            Credentials::Bearer(_) => "Bearer(<redacted>)",
            Credentials::Malformed => "Malformed",
        })
    }
}

/// RFC 6750 §2.1 `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

impl<'a> Credentials<'a> {
    /// From the raw values of every `Authorization` header of a request.
    pub fn from_header_values(values: &[&'a [u8]]) -> Self {
        let raw = match values {
            [] => return Credentials::Absent,
            [one] => *one,
            _ => return Credentials::Malformed,
        };
        let Ok(value) = std::str::from_utf8(raw) else {
            return Credentials::Malformed;
        };
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        let (scheme, rest) = match value.split_once([' ', '\t']) {
            Some((s, r)) => (s, r),
            None => (value, ""),
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            // RFC 6750 §3.1: an unsupported method counts as "no authentication information".
            return if scheme.is_empty() { Credentials::Malformed } else { Credentials::Absent };
        }
        let token = rest.trim_start_matches([' ', '\t']);
        if is_b64token(token) {
            Credentials::Bearer(token)
        } else {
            Credentials::Malformed
        }
    }
}

/// A request's access granted by a valid, now spent, token: the subscriber it is bound to.
/// `Debug` does not print the number (`Msisdn` redacts itself).
#[derive(Debug, Clone)]
pub struct Grant {
    pub msisdn: Msisdn,
    pub client_id: String,
}

/// The claims beyond RFC 9068 that decide whether a token may be used as a plain bearer token.
#[derive(Deserialize)]
struct Binding {
    /// RFC 9449 §6: a DPoP-bound token carries `cnf.jkt`; presented as `Bearer` it is refused.
    #[serde(default)]
    cnf: Option<serde::de::IgnoredAny>,
}

fn invalid(reason: &'static str) -> NvError {
    tracing::debug!(reason, "access token rejected");
    NvError::Unauthenticated(AuthFailure::InvalidToken)
}

/// RFC 9068 §2.1 / RFC 8725 §3.11: `at+jwt`, compared case-insensitively, `application/` optional.
fn is_access_token_typ(typ: Option<&str>) -> bool {
    match typ {
        Some(t) => {
            // `get` never panics on a char boundary; after it succeeds index 12 is a boundary.
            let t = match t.get(..12) {
                Some(p) if p.eq_ignore_ascii_case("application/") => &t[12..],
                _ => t,
            };
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
        }
        None => false,
    }
}

impl ResourceServer {
    /// Steps 1–3 of NVR-09 for `op`. On success the token is spent (NVR-05); on any error after
    /// the `take`, it is spent as well.
    pub async fn authorize(&self, credentials: Credentials<'_>, op: Operation) -> Result<Grant, NvError> {
        let token = match credentials {
            Credentials::Bearer(t) => t,
            Credentials::Absent => {
                tracing::debug!(reason = "no bearer credentials", "request rejected");
                return Err(NvError::Unauthenticated(AuthFailure::NoCredentials));
            }
            Credentials::Malformed => return Err(invalid("malformed Authorization header")),
        };
        let claims = self.check_token(token).await?;

        // NVR-05: the first request whose token passes the checks above spends it, atomically
        // across instances and both endpoints; the record is gone whatever happens next.
        let taken = self.store.take(&keys::access_token(&claims.jti)).await.map_err(|e| {
            tracing::warn!(error = %e, "store unavailable while taking an access-token record");
            NvError::Unavailable
        })?;
        let Some(bytes) = taken else {
            return Err(invalid("token already used, revoked or unknown"));
        };
        let Some(record) = AccessTokenRecord::decode(&bytes) else {
            tracing::warn!("access-token record unreadable");
            return Err(invalid("token record unreadable"));
        };
        if record.client_id != claims.client_id {
            return Err(invalid("token record belongs to another client"));
        }
        if record.exp <= self.clock.now() {
            return Err(invalid("token record expired"));
        }
        // P-57: a token minted under a refresh-token grant dies with its grant (revoked, or a
        // rotated-out refresh token replayed). NV tokens never have one (NVR-03): no extra read.
        if let Some(grant) = &record.grant {
            let live = self.store.get(&keys::grant(grant)).await.map_err(|e| {
                tracing::warn!(error = %e, "store unavailable while reading a grant");
                NvError::Unavailable
            })?;
            if live.is_none() {
                return Err(invalid("the token's grant was revoked"));
            }
        }

        // NVR-07 (scope), then NVR-08 (a subscriber must be bound).
        if !record.has_scope(op.scope()) {
            tracing::debug!(reason = "scope missing", scope = op.scope(), "request rejected");
            return Err(NvError::PermissionDenied);
        }
        let Some(msisdn) = record.msisdn else {
            tracing::debug!(reason = "no subscriber bound to the token", "request rejected");
            return Err(NvError::PermissionDenied);
        };
        // NVR-06: network- or SIM-based authentication only.
        if !record.amr.iter().any(|a| a.is_mobile_network()) {
            tracing::debug!(reason = "amr is not network- or SIM-based", "request rejected");
            return Err(NvError::NotAuthenticatedByMobileNetwork);
        }
        Ok(Grant { msisdn, client_id: record.client_id })
    }

    /// Signature, `typ`, binding and registered claims; no store write yet.
    async fn check_token(&self, token: &str) -> Result<AccessTokenClaims, NvError> {
        let verified = match self.jwks.verify(token, &self.cfg.access_token_algs).await {
            Ok(v) => v,
            Err(VerifyError::Invalid(e)) => {
                tracing::debug!(reason = "signature", error = %e, "access token rejected");
                return Err(NvError::Unauthenticated(AuthFailure::InvalidToken));
            }
            Err(VerifyError::Unavailable(e)) => {
                tracing::warn!(error = %e, "published keys unavailable");
                return Err(NvError::Unavailable);
            }
        };
        if !is_access_token_typ(verified.header.typ.as_deref()) {
            return Err(invalid("typ is not at+jwt"));
        }
        let claims: AccessTokenClaims =
            serde_json::from_slice(&verified.payload).map_err(|_| invalid("claims do not parse"))?;
        let binding: Binding = serde_json::from_slice(&verified.payload).map_err(|_| invalid("claims do not parse"))?;
        if binding.cnf.is_some() {
            return Err(invalid("DPoP-bound token presented as a bearer token"));
        }
        if claims.iss != self.cfg.issuer {
            return Err(invalid("iss"));
        }
        if claims.aud != self.cfg.audience {
            return Err(invalid("aud"));
        }
        let now = self.clock.now();
        if claims.exp <= now {
            return Err(invalid("expired"));
        }
        if claims.iat > now.saturating_add(self.cfg.clock_skew_s) {
            return Err(invalid("issued in the future"));
        }
        if claims.jti.is_empty() {
            return Err(invalid("no jti"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Credentials<'_> {
        Credentials::from_header_values(&[v.as_bytes()])
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(parse("Bearer abc.def.ghi"), Credentials::Bearer("abc.def.ghi"));
        assert_eq!(parse("bearer abc.def.ghi"), Credentials::Bearer("abc.def.ghi"));
        assert_eq!(parse("BEARER  abc.def.ghi"), Credentials::Bearer("abc.def.ghi"));
    }

    #[test]
    fn nvx_19_other_schemes_and_empty_tokens() {
        assert_eq!(Credentials::from_header_values(&[]), Credentials::Absent);
        assert_eq!(parse("Basic dXNlcjpwYXNz"), Credentials::Absent);
        assert_eq!(parse("DPoP abc.def.ghi"), Credentials::Absent);
        assert_eq!(parse("Bearer"), Credentials::Malformed);
        assert_eq!(parse("Bearer "), Credentials::Malformed);
        assert_eq!(parse("Bearer a b"), Credentials::Malformed);
        assert_eq!(parse("Bearer ===="), Credentials::Malformed);
        assert_eq!(parse(""), Credentials::Malformed);
        assert_eq!(Credentials::from_header_values(&[b"Bearer a.b.c", b"Bearer a.b.c"]), Credentials::Malformed);
    }

    #[test]
    fn typ_must_be_at_jwt() {
        assert!(is_access_token_typ(Some("at+jwt")));
        assert!(is_access_token_typ(Some("AT+JWT")));
        assert!(is_access_token_typ(Some("application/at+jwt")));
        assert!(!is_access_token_typ(Some("JWT")));
        assert!(!is_access_token_typ(Some("dpop+jwt")));
        assert!(!is_access_token_typ(None));
        assert!(!is_access_token_typ(Some("applicatio\u{e9}at+jwt")));
    }

    #[test]
    fn debug_never_prints_the_token() {
        assert!(!format!("{:?}", parse("Bearer secret.token.here")).contains("secret"));
    }
}
