//! Signed authentication requests: the `request` parameter (OIDC Core §6, P-23..P-30).

use crate::client_auth::Audience;
use crate::error::{invalid_request, ErrorCode, OAuthError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::{AuthorizationServer, MAX_LIFETIME_S};
use numbat_store::keys;
use serde_json::Value;
use std::time::Duration;

/// P-24: present outside and inside, with equal values.
const MIRRORED: [&str; 4] = ["scope", "response_type", "client_id", "redirect_uri"];
/// JWT claims that are not authorization parameters.
const JWT_CLAIMS: [&str; 7] = ["iss", "aud", "iat", "exp", "nbf", "jti", "sub"];

/// Whether P-24's outer copies of the mirrored parameters must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mirror {
    /// `/authorize`: present outside and inside, equal.
    Required,
    /// `/par`: inside; outside optional, equal when present.
    IfPresent,
}

fn invalid_object(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, d)
}

fn num(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_i64)
}

impl AuthorizationServer {
    /// Verify `request` for `client` and return the parameters to use: the signed ones, plus
    /// the four mirrored outer ones (P-26: any other outer parameter is ignored).
    pub(crate) async fn resolve_request_object(
        &self,
        outer: &Params,
        client: &RegisteredClient,
    ) -> Result<Params, OAuthError> {
        self.resolve_request_object_in(outer, client, Mirror::Required).await
    }

    /// As [`resolve_request_object`](Self::resolve_request_object), with the P-24 rule chosen
    /// by where the object arrived: the front channel needs the outer copies; a pushed request
    /// (PAR, RFC 9126 §3) may carry the object alone, but any outer copy must still be equal.
    pub(crate) async fn resolve_request_object_in(
        &self,
        outer: &Params,
        client: &RegisteredClient,
        mirror: Mirror,
    ) -> Result<Params, OAuthError> {
        let jwt = outer.get("request").unwrap_or_default();
        let verified = self.registry.verify_jwt(client, jwt).await.map_err(|e| {
            tracing::debug!(client_id = %client.client.client_id, error = %e, "request object rejected");
            invalid_object("request object signature is invalid")
        })?;
        let claims: serde_json::Map<String, Value> =
            serde_json::from_slice(&verified.payload).map_err(|_| invalid_object("request object is not a JSON object"))?;

        // P-25, P-27, P-28.
        let client_id = client.client.client_id.as_str();
        if claims.get("iss").and_then(Value::as_str) != Some(client_id) {
            return Err(invalid_object("iss must be the client_id"));
        }
        let aud: Option<Audience> = claims.get("aud").cloned().and_then(|a| serde_json::from_value(a).ok());
        let aud = aud.as_ref().and_then(Audience::single);
        if !aud.is_some_and(|a| a == self.cfg.authorization_endpoint() || a == self.cfg.issuer) {
            return Err(invalid_object("aud must be this authorization endpoint or issuer (P-28)"));
        }
        let now = self.clock.now();
        let skew = self.cfg.clock_skew_s;
        let (Some(iat), Some(exp)) = (num(claims.get("iat")), num(claims.get("exp"))) else {
            return Err(invalid_object("iat and exp are required (P-25)"));
        };
        if iat > now + skew {
            return Err(invalid_object("iat is later than the time of receipt (P-27)"));
        }
        if exp - iat > MAX_LIFETIME_S {
            return Err(invalid_object("exp - iat exceeds 300 s (P-27)"));
        }
        if exp + skew <= now {
            return Err(invalid_object("request object expired"));
        }
        if num(claims.get("nbf")).is_some_and(|nbf| nbf > now + skew) {
            return Err(invalid_object("request object not yet valid (nbf)"));
        }
        let jti = match claims.get("jti").and_then(Value::as_str) {
            Some(j) if !j.is_empty() && j.len() <= 256 => j,
            _ => return Err(invalid_object("jti is required (P-25)")),
        };

        // P-24: the mirrored parameters, outside and inside, equal.
        for name in MIRRORED {
            let inner = claims.get(name).and_then(Value::as_str);
            match (outer.get(name), inner) {
                (None, _) if mirror == Mirror::Required => {
                    return Err(invalid_request(format!("{name} must also be sent as a query parameter (P-24)")))
                }
                (None, None) => return Err(invalid_object(format!("{name} missing from the request object (P-24)"))),
                (None, Some(_)) => {}
                (Some(_), None) => return Err(invalid_object(format!("{name} missing from the request object (P-24)"))),
                (Some(o), Some(i)) if o != i => {
                    return Err(invalid_object(format!("{name} differs between the query and the request object (P-24)")))
                }
                _ => {}
            }
        }
        if claims.contains_key("request") || claims.contains_key("request_uri") {
            return Err(invalid_object("a request object must not contain request or request_uri"));
        }

        // P-30: single use within its validity.
        let ttl = (exp - now + skew + 1).max(1) as u64;
        let key = keys::client_jti(client_id, &format!("request-object:{jti}"));
        if !self.store.put_if_absent(&key, b"1", Duration::from_secs(ttl)).await? {
            return Err(invalid_object("request object jti was already used (P-30)"));
        }

        let pairs = claims.iter().filter(|(k, _)| !JWT_CLAIMS.contains(&k.as_str())).filter_map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((k.clone(), s))
        });
        Ok(Params::from_pairs(pairs))
    }
}
