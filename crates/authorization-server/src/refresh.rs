//! Refresh-token grants (P-53..P-58, NVR-03, OIDC Core §11/§12, RFC 6749 §6, RFC 7009).
//!
//! Store layout (keys.rs):
//! - `grant:{id}` → [`GrantRecord`]: client, subscriber, scope, purpose, `amr`, `auth_time`,
//!   legal basis, absolute expiry. Its existence is the grant: revoking is deleting it, which
//!   voids at once its refresh tokens and the access tokens minted under it (their record names
//!   the grant; introspection, userinfo and the resource server check it).
//! - `rt:{client}:{token}` → [`RefreshRecord`] (grant id, expiry): the live refresh token,
//!   `take`n on use (rotation on every use, P-57, single use atomically).
//! - `rtf:{client}:{token}` → the same record, written with the token and living as long: the
//!   token's family. A token presented when `rt:` is gone but `rtf:` is not was rotated out
//!   (or raced): the whole grant is revoked (P-57).
//!
//! Only the authorization code and CIBA grants start one (P-55), only when `offline_access`
//! was granted (P-53, consent: P-54) and never beside a Number Verification scope (P-58, NVR-03).

use crate::consent::{LegalBasis, OFFLINE_ACCESS};
use crate::registry::RegisteredClient;
use crate::tokens::{Issue, TokenResponse};
use crate::AuthorizationServer;
use numbat_core::{Amr, GrantType, Msisdn, ScopeSet};
use numbat_store::{keys, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Refresh settings (`[refresh]`).
#[derive(Debug, Clone)]
pub struct RefreshConfig {
    /// Lifetime of one refresh token (idle timeout: each use rotates it), seconds.
    pub token_ttl_s: i64,
    /// Absolute lifetime of a grant from the first authorization, seconds.
    pub grant_ttl_s: i64,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            token_ttl_s: 14 * 24 * 3600,
            grant_ttl_s: 90 * 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantRecord {
    pub v: u8,
    pub client_id: String,
    pub msisdn: Msisdn,
    /// The scope granted (with `offline_access`); refreshes may narrow it, never widen it.
    pub scope: ScopeSet,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    pub amr: Amr,
    pub auth_time: i64,
    pub created_at: i64,
    pub exp: i64,
}

impl GrantRecord {
    pub const VERSION: u8 = 1;

    pub fn decode(b: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(b)
            .ok()
            .filter(|r| r.v == Self::VERSION)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub v: u8,
    pub grant_id: String,
    pub iat: i64,
    pub exp: i64,
}

impl RefreshRecord {
    pub fn decode(b: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(b).ok().filter(|r| r.v == 1)
    }
}

/// Refresh tokens are opaque random strings of this length at most (anything longer is invalid).
pub(crate) const MAX_REFRESH_TOKEN: usize = 128;

fn ttl(secs: i64) -> Duration {
    Duration::from_secs(secs.max(1) as u64)
}

impl AuthorizationServer {
    pub fn with_refresh(mut self, cfg: RefreshConfig) -> Self {
        self.refresh_cfg = cfg;
        self
    }

    /// A grant to start for these tokens, if a refresh token may come with them: the client may
    /// use the refresh grant, `offline_access` was granted, no NV scope (P-55, P-58, NVR-03).
    pub(crate) fn offline_grant(
        &self,
        client: &RegisteredClient,
        msisdn: &Msisdn,
        amr: Amr,
        scope: &ScopeSet,
        auth_time: i64,
    ) -> Option<GrantRecord> {
        if !scope.contains(OFFLINE_ACCESS)
            || scope.has_number_verification()
            || !client.client.allows_grant(GrantType::RefreshToken)
        {
            return None;
        }
        let purpose = scope.single_purpose().ok()?.as_str().to_owned();
        let now = self.clock.now();
        Some(GrantRecord {
            v: GrantRecord::VERSION,
            client_id: client.client.client_id.clone(),
            msisdn: msisdn.clone(),
            scope: scope.clone(),
            legal_basis: self.legal_basis(&purpose),
            purpose,
            amr,
            auth_time,
            created_at: now,
            exp: now + self.refresh_cfg.grant_ttl_s,
        })
    }

    /// Mint tokens; with a grant, store it first, bind the access token to it and add a refresh
    /// token. `grant_id` may be derived (the code grant derives it from the code, so a replayed
    /// code can revoke it, RFC 6749 §4.1.2).
    pub(crate) async fn issue_with_grant(
        &self,
        mut i: Issue<'_>,
        grant: Option<(String, GrantRecord)>,
    ) -> Result<TokenResponse, crate::error::OAuthError> {
        let Some((id, g)) = grant else {
            return self.issue(i).await;
        };
        let now = self.clock.now();
        // Kept past its end by an access-token lifetime, so tokens minted at the end live out.
        let keep = g.exp - now + self.cfg.access_token_ttl_s + self.cfg.clock_skew_s;
        let bytes = serde_json::to_vec(&g).map_err(|e| StoreError::Config(e.to_string()))?;
        self.store.put(&keys::grant(&id), &bytes, ttl(keep)).await?;
        i.grant = Some(id.clone());
        let mut r = self.issue(i).await?;
        r.refresh_token = Some(self.mint_refresh_token(&g.client_id, &id, g.exp).await?);
        Ok(r)
    }

    /// A new refresh token of a grant: the live record and its family mark, same lifetime.
    pub(crate) async fn mint_refresh_token(
        &self,
        client_id: &str,
        grant_id: &str,
        grant_exp: i64,
    ) -> Result<String, StoreError> {
        let now = self.clock.now();
        let exp = (now + self.refresh_cfg.token_ttl_s).min(grant_exp);
        let token = self.random_token();
        let rec = RefreshRecord {
            v: 1,
            grant_id: grant_id.to_owned(),
            iat: now,
            exp,
        };
        let bytes = serde_json::to_vec(&rec).map_err(|e| StoreError::Config(e.to_string()))?;
        // The family mark first: a token must never be live without it.
        self.store
            .put(
                &keys::refresh_family(client_id, &token),
                &bytes,
                ttl(exp - now),
            )
            .await?;
        self.store
            .put(
                &keys::refresh_token(client_id, &token),
                &bytes,
                ttl(exp - now),
            )
            .await?;
        Ok(token)
    }

    /// Revoke a whole grant: its refresh tokens and its access tokens (P-57, S-10).
    pub(crate) async fn revoke_grant(&self, grant_id: &str) -> Result<bool, StoreError> {
        self.store.delete(&keys::grant(grant_id)).await
    }

    /// The live grant `grant_id`, if not revoked or expired.
    pub(crate) async fn live_grant(
        &self,
        grant_id: &str,
    ) -> Result<Option<GrantRecord>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .get(&keys::grant(grant_id))
            .await?
            .and_then(|b| GrantRecord::decode(&b))
            .filter(|g| g.exp > now))
    }

    /// The grant behind a refresh token of `client_id`, live or rotated out (for RFC 7009
    /// revocation and RFC 7662 introspection). `live` tells which.
    pub(crate) async fn refresh_token_grant(
        &self,
        client_id: &str,
        token: &str,
    ) -> Result<Option<(RefreshRecord, bool)>, StoreError> {
        if token.is_empty() || token.len() > MAX_REFRESH_TOKEN {
            return Ok(None);
        }
        if let Some(b) = self
            .store
            .get(&keys::refresh_token(client_id, token))
            .await?
        {
            return Ok(RefreshRecord::decode(&b).map(|r| (r, true)));
        }
        Ok(self
            .store
            .get(&keys::refresh_family(client_id, token))
            .await?
            .and_then(|b| RefreshRecord::decode(&b))
            .map(|r| (r, false)))
    }
}
