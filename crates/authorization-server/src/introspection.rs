//! Token introspection (RFC 7662, S-09) and revocation (RFC 7009, S-10) for numbat's own access
//! tokens. Callers authenticate as clients and see only their own tokens; anything else, and
//! any spent single-use token (NVR-05), is simply `{"active": false}`.

use crate::client_auth::required;
use crate::error::{ErrorCode, OAuthError, TokenError};
use crate::params::Params;
use crate::AuthorizationServer;
use numbat_core::{AccessTokenClaims, AccessTokenRecord, ACCESS_TOKEN_TYP};
use numbat_store::keys;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<ActiveDetails>,
}

#[derive(Debug, Serialize)]
pub struct ActiveDetails {
    pub scope: String,
    pub client_id: String,
    pub token_type: &'static str,
    pub exp: i64,
    pub iat: i64,
    pub sub: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub aud: String,
    pub iss: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub jti: String,
}

const INACTIVE: Introspection = Introspection { active: false, details: None };

impl AuthorizationServer {
    /// The claims of a token this server issued and that is still within its lifetime.
    fn own_token_claims(&self, token: &str) -> Option<AccessTokenClaims> {
        let v = self.keys.verify(token, &[self.cfg.access_token_alg]).ok()?;
        if v.header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return None;
        }
        let c: AccessTokenClaims = serde_json::from_slice(&v.payload).ok()?;
        (c.iss == self.cfg.issuer && c.exp > self.clock.now()).then_some(c)
    }

    fn check_hint(p: &Params) -> Result<(), TokenError> {
        match p.get("token_type_hint") {
            None | Some("access_token") | Some("refresh_token") => Ok(()),
            Some(_) => Err(OAuthError::new(ErrorCode::InvalidRequest, "unknown token_type_hint").into()),
        }
    }

    pub async fn introspect(&self, p: &Params, authorization_header: Option<&str>) -> Result<Introspection, TokenError> {
        if let Some(d) = p.duplicates.first() {
            return Err(crate::error::repeated_param(d).into());
        }
        let client = self.authenticate_client(p, authorization_header, &self.cfg.introspection_endpoint()).await?;
        let token = required(p, "token")?;
        Self::check_hint(p)?;
        let Some(c) = self.own_token_claims(token) else {
            return self.introspect_refresh_token(&client, token).await;
        };
        if c.client_id != client.client.client_id {
            return Ok(INACTIVE);
        }
        // The record is the truth: gone once spent (NVR-05, NVX-27) or revoked.
        let Some(bytes) = self.store.get(&keys::access_token(&c.jti)).await? else { return Ok(INACTIVE) };
        let Some(rec) = AccessTokenRecord::decode(&bytes) else { return Ok(INACTIVE) };
        // P-57: a token of a revoked grant is dead with it.
        if let Some(g) = &rec.grant {
            if self.live_grant(g).await?.is_none() {
                return Ok(INACTIVE);
            }
        }
        Ok(Introspection {
            active: true,
            details: Some(ActiveDetails {
                scope: c.scope,
                client_id: c.client_id,
                token_type: "Bearer",
                exp: c.exp,
                iat: c.iat,
                sub: c.sub,
                aud: c.aud,
                iss: c.iss,
                jti: c.jti,
            }),
        })
    }

    /// RFC 7009: 200 whatever the token was; a client can revoke only its own tokens.
    pub async fn revoke(&self, p: &Params, authorization_header: Option<&str>) -> Result<(), TokenError> {
        if let Some(d) = p.duplicates.first() {
            return Err(crate::error::repeated_param(d).into());
        }
        let client = self.authenticate_client(p, authorization_header, &self.cfg.revocation_endpoint()).await?;
        let token = required(p, "token")?;
        Self::check_hint(p)?;
        if let Some(c) = self.own_token_claims(token) {
            if c.client_id == client.client.client_id {
                self.store.delete(&keys::access_token(&c.jti)).await?;
            }
        } else if let Some((rt, _)) = self.refresh_token_grant(&client.client.client_id, token).await? {
            // S-10, P-57: revoking a refresh token (live or rotated out) revokes its whole
            // grant, the access tokens minted under it included.
            self.revoke_grant(&rt.grant_id).await?;
            self.store.delete(&keys::refresh_token(&client.client.client_id, token)).await?;
        }
        Ok(())
    }

    /// RFC 7662 for a refresh token of the calling client: active while live and its grant is.
    async fn introspect_refresh_token(&self, client: &crate::registry::RegisteredClient, token: &str) -> Result<Introspection, TokenError> {
        let Some((rt, true)) = self.refresh_token_grant(&client.client.client_id, token).await? else { return Ok(INACTIVE) };
        let now = self.clock.now();
        let Some(g) = self.live_grant(&rt.grant_id).await?.filter(|_| rt.exp > now) else { return Ok(INACTIVE) };
        Ok(Introspection {
            active: true,
            details: Some(ActiveDetails {
                scope: g.scope.to_scope_string(),
                sub: self.pairwise.subject(&client.client.sector_identifier, &g.msisdn),
                client_id: g.client_id,
                token_type: "refresh_token",
                exp: rt.exp,
                iat: rt.iat,
                aud: String::new(),
                iss: self.cfg.issuer.clone(),
                jti: String::new(),
            }),
        })
    }
}
