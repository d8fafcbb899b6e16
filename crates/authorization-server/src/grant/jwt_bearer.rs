//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1, P-63..P-72,
//! E-TK-30). The signed assertion is both the grant and the client's authentication (P-65).

use super::GrantHandler;
use crate::client_auth::{required, Audience, CLIENT_ASSERTION_TYPE};
use crate::error::{invalid_client, invalid_grant, invalid_request, invalid_scope, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::tokens::{Issue, TokenResponse};
use crate::ts43::{OperatorTokenError, GET_PHONE_NUMBER, VERIFY_PHONE_NUMBER};
use crate::{AuthorizationServer, MAX_LIFETIME_S};
use numbat_core::scope::{NV_SHARE, OPENID};
use numbat_core::{Amr, GrantType, Msisdn, ScopeSet};
use numbat_store::keys;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

pub struct JwtBearer;

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    scope: Option<serde_json::Value>,
}

fn issuer_of(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let v: serde_json::Value = serde_json::from_slice(&numbat_jose::b64_decode(payload).ok()?).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

#[async_trait::async_trait]
impl GrantHandler for JwtBearer {
    fn grant_type(&self) -> GrantType {
        GrantType::JwtBearer
    }

    /// P-65: the assertion's `iss` names the client; its signature (checked in `handle`)
    /// authenticates it. A `client_assertion` sent as well must name the same client.
    async fn client(&self, s: &AuthorizationServer, p: &Params, authz: Option<&str>) -> Result<Arc<RegisteredClient>, TokenError> {
        if authz.is_some() {
            return Err(TokenError { error: invalid_client("client authentication must use private_key_jwt"), http_auth: true });
        }
        let assertion = required(p, "assertion")?;
        let iss = issuer_of(assertion).ok_or_else(|| invalid_grant("assertion is malformed"))?;
        if let Some(ca) = p.get("client_assertion") {
            if p.get("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE) || issuer_of(ca).as_deref() != Some(&iss) {
                return Err(invalid_client("client_assertion does not name the assertion's client (P-65)").into());
            }
            s.authenticate_client(p, None, &s.cfg.token_endpoint()).await?;
        }
        if p.get("client_id").is_some_and(|c| c != iss) {
            return Err(invalid_client("client_id does not match the assertion").into());
        }
        s.registry.get(&iss).ok_or_else(|| invalid_client("unknown client").into())
    }

    async fn handle(&self, s: &AuthorizationServer, client: &Arc<RegisteredClient>, p: &Params) -> Result<TokenResponse, TokenError> {
        // P-63: the scope travels only inside the assertion.
        if p.get("scope").is_some() {
            return Err(invalid_request("scope must be sent in the assertion, not as a parameter (P-63)").into());
        }
        let assertion = required(p, "assertion")?;
        let client_id = client.client.client_id.as_str();
        // P-66: signed by a key of the client.
        let v = s.registry.verify_jwt(client, assertion).await.map_err(|e| {
            tracing::debug!(client_id, error = %e, "JWT-bearer assertion rejected");
            invalid_grant("assertion signature is invalid")
        })?;
        let c: Claims = serde_json::from_slice(&v.payload).map_err(|_| invalid_grant("assertion claims are malformed"))?;
        if c.iss.as_deref() != Some(client_id) {
            return Err(invalid_grant("iss must be the client_id").into());
        }
        let aud = c.aud.as_ref().and_then(Audience::single);
        if !aud.is_some_and(|a| a == s.cfg.token_endpoint() || a == s.cfg.issuer) {
            return Err(invalid_grant("aud must be the token endpoint (P-64)").into());
        }
        // P-67.
        let now = s.clock.now();
        let skew = s.cfg.clock_skew_s;
        let (Some(exp), Some(iat)) = (c.exp, c.iat) else {
            return Err(invalid_grant("exp and iat are required (P-64)").into());
        };
        if exp + skew <= now {
            return Err(invalid_grant("assertion expired").into());
        }
        if exp > now + MAX_LIFETIME_S {
            return Err(invalid_grant("exp is more than 300 s after receipt (P-67)").into());
        }
        if iat > now + skew {
            return Err(invalid_grant("iat is later than receipt (P-67)").into());
        }
        if exp - iat > MAX_LIFETIME_S {
            return Err(invalid_grant("exp - iat exceeds 300 s (P-67)").into());
        }
        let jti = match c.jti.as_deref() {
            Some(j) if !j.is_empty() && j.len() <= 256 => j,
            _ => return Err(invalid_grant("jti is required (P-64)").into()),
        };

        // P-63, P-68, P-80: the scope claim, the client's scopes, exactly one purpose.
        let raw = match &c.scope {
            Some(serde_json::Value::String(sc)) => sc.as_str(),
            Some(_) => return Err(invalid_grant("scope claim must be a string").into()),
            None => return Err(invalid_grant("scope claim is required (P-63)").into()),
        };
        let requested = ScopeSet::parse(raw).map_err(|_| invalid_scope("scope is malformed"))?;
        // P-70: never a refresh token, so offline_access is meaningless here.
        let kept: Vec<&str> = requested.iter().filter(|v| *v != "offline_access").collect();
        let scope = ScopeSet::parse(&kept.join(" ")).map_err(|_| invalid_scope("scope is empty"))?;
        if let Some(bad) = scope.iter().find(|v| !client.client.allows_scope(v)) {
            return Err(invalid_scope(format!("scope {bad} is not allowed for this client")).into());
        }
        scope.single_purpose().map_err(|e| invalid_scope(format!("{e} (P-80)")))?;

        // P-71: the assertion is single use (after every cheap check, before the subject is spent).
        let ttl = (exp - now + skew + 1).max(1) as u64;
        let jkey = keys::client_jti(client_id, &format!("jwt-bearer:{jti}"));
        if !s.store.put_if_absent(&jkey, b"1", Duration::from_secs(ttl)).await? {
            return Err(invalid_grant("assertion jti was already used (P-71)").into());
        }

        // P-64, P-68, P-72: the subject.
        let sub = c.sub.as_deref().ok_or_else(|| invalid_grant("sub is required (P-64)"))?;
        let allowed = |kind: &str| client.client.jwt_bearer_subjects.iter().any(|k| k == kind);
        let (msisdn, amr): (Msisdn, Amr) = if let Some(num) = sub.strip_prefix("tel:") {
            if !allowed("tel") {
                return Err(invalid_grant("this client may not assert tel: subjects (P-72)").into());
            }
            (Msisdn::parse(num).map_err(|_| invalid_grant("sub tel: is not an E.164 number (P-49)"))?, Amr::Asserted)
        } else if let Some(tok) = sub.strip_prefix("operatortoken:") {
            if !allowed("operatortoken") {
                return Err(invalid_grant("this client may not use operatortoken: subjects").into());
            }
            let target = if scope.contains(NV_SHARE) { GET_PHONE_NUMBER } else { VERIFY_PHONE_NUMBER };
            match s.operator_tokens.redeem(tok, target, now).await {
                Ok(m) => (m, Amr::Sim),
                Err(OperatorTokenError::Invalid) => {
                    return Err(invalid_grant("operator token is invalid, expired, used or not for this operation").into())
                }
                Err(OperatorTokenError::Unavailable) => {
                    return Err(crate::error::OAuthError::new(
                        crate::error::ErrorCode::TemporarilyUnavailable,
                        "operator token validation unavailable",
                    )
                    .into())
                }
            }
        } else {
            return Err(invalid_grant("sub must be tel:+E164 or operatortoken:<token> (P-64)").into());
        };

        // P-69, E-TK-30: where the purpose's legal basis is consent, the subscriber must have
        // consented (no interaction is possible here).
        if s.consent_need(client_id, &msisdn, &scope).await? != crate::consent::ConsentNeed::Satisfied {
            return Err(invalid_grant("consent required: the subscriber has not consented to this purpose (P-69)").into());
        }
        let mut r = s
            .issue(Issue {
                client,
                msisdn: Some(&msisdn),
                amr: vec![amr],
                scope: &scope,
                auth_time: Some(now),
                nonce: None,
                jti: s.random_token(),
                grant: None, // P-55: never a refresh token
            })
            .await?;
        // P-70: the ICM example answers access_token, token_type and expires_in only.
        if scope.contains(OPENID) {
            r.id_token = None;
        }
        Ok(r)
    }
}
