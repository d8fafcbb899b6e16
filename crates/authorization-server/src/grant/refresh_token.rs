//! `grant_type=refresh_token` (RFC 6749 §6, OIDC Core §12, P-55..P-57, E-TK-40).
//!
//! Rotation on every use: the presented token is `take`n (single use, atomically; read first so
//! a request refused for its scope does not spend it) and a new one issued. A token that is gone but whose family mark remains was rotated out: presenting it
//! revokes the whole grant, access tokens included (P-57). Every failure is `invalid_grant`.

use super::GrantHandler;
use crate::client_auth::required;
use crate::consent::ConsentNeed;
use crate::error::{invalid_grant, invalid_scope, TokenError};
use crate::params::Params;
use crate::refresh::{RefreshRecord, MAX_REFRESH_TOKEN};
use crate::registry::RegisteredClient;
use crate::tokens::{Issue, TokenResponse};
use crate::AuthorizationServer;
use numbat_core::{GrantType, ScopeSet};
use numbat_store::keys;
use std::sync::Arc;

pub struct RefreshToken;

/// The presented token is not live. If its family mark remains it was rotated out (or used
/// concurrently): revoke its whole grant (P-57). Either way `invalid_grant` (E-TK-40).
async fn reused(
    s: &AuthorizationServer,
    client_id: &str,
    token: &str,
) -> Result<TokenError, TokenError> {
    if let Some(f) = s
        .store
        .get(&keys::refresh_family(client_id, token))
        .await?
        .and_then(|b| RefreshRecord::decode(&b))
    {
        if s.revoke_grant(&f.grant_id).await? {
            tracing::warn!(
                client_id,
                "rotated-out refresh token presented again; its grant was revoked (P-57)"
            );
        }
    }
    Ok(
        invalid_grant("refresh token is invalid, expired, revoked or already used (E-TK-40)")
            .into(),
    )
}

#[async_trait::async_trait]
impl GrantHandler for RefreshToken {
    fn grant_type(&self) -> GrantType {
        GrantType::RefreshToken
    }

    async fn handle(
        &self,
        s: &AuthorizationServer,
        client: &Arc<RegisteredClient>,
        p: &Params,
    ) -> Result<TokenResponse, TokenError> {
        let token = required(p, "refresh_token")?;
        let client_id = client.client.client_id.as_str();
        if token.len() > MAX_REFRESH_TOKEN {
            return Err(invalid_grant("refresh token is invalid (E-TK-40)").into());
        }
        // Scoped by client: another client's token is simply not found, and not spent (E-TK-40).
        // Read first, so a request refused for its scope does not spend the token; the `take`
        // below is the single-use gate.
        let key = keys::refresh_token(client_id, token);
        let Some(bytes) = s.store.get(&key).await? else {
            return Err(reused(s, client_id, token).await?);
        };
        let rt = RefreshRecord::decode(&bytes)
            .ok_or_else(|| invalid_grant("refresh token is invalid"))?;
        let now = s.clock.now();
        let Some(grant) = s
            .live_grant(&rt.grant_id)
            .await?
            .filter(|g| g.client_id == client_id && rt.exp > now)
        else {
            return Err(invalid_grant("the grant was revoked or has expired (E-TK-40)").into());
        };
        // P-56: the client's standing for this access, and the subscriber's consent, today.
        if !grant.scope.iter().all(|v| client.client.allows_scope(v)) {
            s.revoke_grant(&rt.grant_id).await?;
            return Err(invalid_grant("the client may no longer obtain this scope (P-56)").into());
        }
        if s.consent_need(client_id, &grant.msisdn, &grant.scope)
            .await?
            != ConsentNeed::Satisfied
        {
            s.revoke_grant(&rt.grant_id).await?;
            return Err(invalid_grant(
                "consent was withdrawn; a new authorization is needed (P-56)",
            )
            .into());
        }
        // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
        let scope = match p.get("scope") {
            None => grant.scope.clone(),
            Some(raw) => {
                let asked =
                    ScopeSet::parse(raw).map_err(|_| invalid_scope("scope is malformed"))?;
                if let Some(v) = asked.iter().find(|v| !grant.scope.contains(v)) {
                    return Err(
                        invalid_scope(format!("scope {v} was not granted (E-TK-04)")).into(),
                    );
                }
                if asked.single_purpose().is_err() {
                    return Err(invalid_scope("exactly one purpose is required (P-80)").into());
                }
                asked
            }
        };
        // Single use, atomically: of two concurrent uses one proceeds; the other is a reuse.
        if s.store.take(&key).await?.is_none() {
            return Err(reused(s, client_id, token).await?);
        }
        let mut r = s
            .issue(Issue {
                client,
                msisdn: Some(&grant.msisdn),
                amr: vec![grant.amr],
                scope: &scope,
                auth_time: Some(grant.auth_time),
                nonce: None,
                jti: s.random_token(),
                grant: Some(rt.grant_id.clone()),
            })
            .await?;
        // P-57: rotation on every use.
        r.refresh_token = Some(
            s.mint_refresh_token(client_id, &rt.grant_id, grant.exp)
                .await?,
        );
        Ok(r)
    }
}
