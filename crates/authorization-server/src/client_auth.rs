//! Client authentication with `private_key_jwt` (P-88..P-91, S-05).

use crate::error::{invalid_client, invalid_request, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::{AuthorizationServer, MAX_LIFETIME_S};
use numbat_store::keys;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const MAX_JTI: usize = 256;

/// `aud` as a string or an array of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// The one audience named: a string, or a list of exactly one (a longer list is refused
    /// everywhere numbat reads `aud`, against audience injection).
    pub fn single(&self) -> Option<&str> {
        match self {
            Audience::One(a) => Some(a.as_str()),
            Audience::Many(v) if v.len() == 1 => Some(v[0].as_str()),
            Audience::Many(_) => None,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct AssertionClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<Audience>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub jti: Option<String>,
}

/// Unverified peek at the claims, only to choose whose keys verify the signature.
fn peek_claims(token: &str) -> Option<AssertionClaims> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&numbat_jose::b64_decode(payload).ok()?).ok()
}

impl AuthorizationServer {
    /// Authenticate the client of a token-endpoint (or, later, backchannel) request.
    /// `endpoint` is the URL the request was sent to (accepted as `aud`, P-90).
    pub async fn authenticate_client(
        &self,
        p: &Params,
        authorization_header: Option<&str>,
        endpoint: &str,
    ) -> Result<Arc<RegisteredClient>, TokenError> {
        let fail = |d: &str, http_auth: bool| TokenError { error: invalid_client(d), http_auth };
        if authorization_header.is_some() {
            // HTTP Basic is offered only with client secrets, which no client here uses (P-88).
            return Err(fail("client authentication must use private_key_jwt", true));
        }
        let (Some(assertion), assertion_type) = (p.get("client_assertion"), p.get("client_assertion_type")) else {
            return Err(fail("client authentication required (private_key_jwt)", false));
        };
        if assertion_type != Some(CLIENT_ASSERTION_TYPE) {
            return Err(fail("client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer", false));
        }
        let peek = peek_claims(assertion).ok_or_else(|| fail("client_assertion is malformed", false))?;
        let client_id = peek.iss.as_deref().ok_or_else(|| fail("client_assertion has no iss", false))?;
        if let Some(cid) = p.get("client_id") {
            if cid != client_id {
                return Err(fail("client_id does not match the assertion", false));
            }
        }
        let client = self.registry.get(client_id).ok_or_else(|| fail("unknown client", false))?;

        let verified = numbat_jose::verify(assertion, &client.keys, &client.auth_algs).map_err(|e| {
            tracing::debug!(client_id, error = %e, "client assertion rejected");
            fail("client_assertion signature is invalid", false)
        })?;
        let claims: AssertionClaims =
            serde_json::from_slice(&verified.payload).map_err(|_| fail("client_assertion claims are malformed", false))?;
        self.check_assertion_claims(&claims, client_id, endpoint).map_err(|d| fail(d, false))?;

        // S-05 / P-91: each jti once, remembered until the assertion could no longer be valid.
        let now = self.clock.now();
        let jti = claims.jti.as_deref().unwrap_or_default();
        let exp = claims.exp.unwrap_or(now);
        let ttl = (exp - now + self.cfg.clock_skew_s + 1).max(1) as u64;
        let fresh = self
            .store
            .put_if_absent(&keys::client_jti(client_id, jti), b"1", Duration::from_secs(ttl))
            .await?;
        if !fresh {
            return Err(fail("client_assertion jti was already used", false));
        }
        Ok(client)
    }

    /// P-89..P-91 on verified claims. Returns a description of the first failure.
    pub(crate) fn check_assertion_claims(
        &self,
        c: &AssertionClaims,
        client_id: &str,
        endpoint: &str,
    ) -> Result<(), &'static str> {
        let now = self.clock.now();
        let skew = self.cfg.clock_skew_s;
        if c.iss.as_deref() != Some(client_id) || c.sub.as_deref() != Some(client_id) {
            return Err("iss and sub must both be the client_id");
        }
        // P-90: one audience, naming this endpoint, the token endpoint or the issuer. A list is
        // accepted only with exactly one element (no audience injection).
        let aud = c.aud.as_ref().and_then(Audience::single).ok_or("aud must name this authorization server")?;
        let token_endpoint = self.cfg.token_endpoint();
        if aud != endpoint && aud != token_endpoint && aud != self.cfg.issuer {
            return Err("aud must name this authorization server");
        }
        let exp = c.exp.ok_or("exp missing")?;
        if exp + skew <= now {
            return Err("assertion expired");
        }
        if exp > now + MAX_LIFETIME_S {
            return Err("exp is more than 300 s after receipt (P-89)");
        }
        if let Some(iat) = c.iat {
            if iat > now + skew {
                return Err("iat is in the future");
            }
            if exp - iat > MAX_LIFETIME_S {
                return Err("exp - iat exceeds 300 s (P-89)");
            }
        }
        if let Some(nbf) = c.nbf {
            if nbf > now + skew {
                return Err("assertion not yet valid (nbf)");
            }
        }
        match c.jti.as_deref() {
            Some(j) if !j.is_empty() && j.len() <= MAX_JTI => Ok(()),
            _ => Err("jti missing or too long"),
        }
    }
}

/// Used by grants that need a parameter.
pub(crate) fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, TokenError> {
    p.get(name).ok_or_else(|| invalid_request(format!("{name} missing")).into())
}
