//! Client authentication with `private_key_jwt` (P-88..P-91, S-05).

use crate::error::{invalid_client, invalid_request, ErrorCode, OAuthError, TokenError};
use crate::params::Params;
use crate::registry::{AuthMethod, RegisteredClient};
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
    /// Authenticate the client of a token-endpoint (or backchannel, introspection, revocation)
    /// request. `endpoint` is the URL the request was sent to (accepted as `aud`, P-90).
    ///
    /// Exactly one method per request (RFC 6749 §2.3), and only the one the client is registered
    /// for: `private_key_jwt` (P-88), or `client_secret_basic`/`client_secret_post` for clients an
    /// operator configured so. Any failure is `invalid_client`, with `WWW-Authenticate` when the
    /// client tried HTTP authentication (P-91, RFC 6749 §5.2).
    pub async fn authenticate_client(
        &self,
        p: &Params,
        authorization_header: Option<&str>,
        endpoint: &str,
    ) -> Result<Arc<RegisteredClient>, TokenError> {
        let fail = |d: &str, http_auth: bool| TokenError { error: invalid_client(d), http_auth };
        let form_secret = p.get("client_secret");
        let assertion_sent = p.get("client_assertion").is_some() || p.get("client_assertion_type").is_some();
        if let Some(h) = authorization_header {
            if assertion_sent || form_secret.is_some() {
                return Err(fail("use exactly one client authentication method", true));
            }
            let Some((id, secret)) = parse_basic(h) else {
                return Err(fail("client authentication must use private_key_jwt (P-88)", true));
            };
            if p.get("client_id").is_some_and(|cid| cid != id) {
                return Err(fail("client_id does not match the HTTP Basic credentials", true));
            }
            return self.authenticate_secret(&id, secret, AuthMethod::ClientSecretBasic, true).await;
        }
        if let Some(secret) = form_secret {
            if assertion_sent {
                return Err(fail("use exactly one client authentication method", false));
            }
            let id = p.get("client_id").ok_or_else(|| fail("client_id is required with client_secret", false))?;
            return self.authenticate_secret(id, secret.to_owned(), AuthMethod::ClientSecretPost, false).await;
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
        if client.auth_method != AuthMethod::PrivateKeyJwt {
            return Err(fail("the client is not registered for private_key_jwt", false));
        }

        let verified = self.registry.verify_jwt(&client, assertion).await.map_err(|e| {
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

    /// `client_secret_basic` / `client_secret_post`: only for a client registered for exactly
    /// this method; the secret is checked against its argon2 hash off the async workers.
    async fn authenticate_secret(
        &self,
        client_id: &str,
        secret: String,
        method: AuthMethod,
        http_auth: bool,
    ) -> Result<Arc<RegisteredClient>, TokenError> {
        let fail = |d: &str| TokenError { error: invalid_client(d), http_auth };
        let client = self.registry.get(client_id).ok_or_else(|| fail("unknown client"))?;
        if client.auth_method != method {
            return Err(fail(match client.auth_method {
                AuthMethod::PrivateKeyJwt => "client authentication must use private_key_jwt (P-88)",
                _ => "the client is not registered for this authentication method",
            }));
        }
        let phc = client.client.client_secret_hash.clone().ok_or_else(|| fail("the client has no secret"))?;
        match crate::client_secret::verify(phc, secret).await {
            Ok(true) => Ok(client),
            Ok(false) => {
                tracing::debug!(client_id, "client secret rejected");
                Err(fail("client authentication failed"))
            }
            // Every argon2 slot stayed busy (a flood of guesses): 503, not a verdict.
            Err(crate::client_secret::Busy) => Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable",
            )
            .into()),
        }
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

/// RFC 6749 §2.3.1 / RFC 7617: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(h: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, value) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || value.len() > 2048 {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    // RFC 6749 §2.3.1: each part is application/x-www-form-urlencoded ('+' is a space, '%XX' a
    // byte); a literal '&' or '=' is kept as it is (a form parser would split there).
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s).decode_utf8().ok().map(|v| v.into_owned())
    };
    let (id, secret) = (decode(id)?, decode(secret)?);
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// Used by grants that need a parameter.
pub(crate) fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, TokenError> {
    p.get(name).ok_or_else(|| invalid_request(format!("{name} missing")).into())
}

#[cfg(test)]
mod tests {
    use super::parse_basic;
    use base64::Engine;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
    }

    /// RFC 6749 §2.3.1: both parts form-urlencoded; '&' and '=' in a secret survive.
    #[test]
    fn basic_credentials_decode_per_rfc6749() {
        assert_eq!(parse_basic(&basic("app", "a&b=c")), Some(("app".into(), "a&b=c".into())));
        assert_eq!(parse_basic(&basic("my%20app", "s%26t+u")), Some(("my app".into(), "s&t u".into())));
        assert_eq!(parse_basic(&basic("app", "x:y")), Some(("app".into(), "x:y".into())), "only the first ':' splits");
        assert_eq!(parse_basic(&basic("app", "%ff")), None, "not UTF-8");
        assert_eq!(parse_basic(&basic("", "s")), None);
        assert_eq!(parse_basic(&basic("app", "")), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
