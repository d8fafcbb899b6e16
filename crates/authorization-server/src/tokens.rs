//! Minting: the RFC 9068 access token, its server-side record, and the ID token (P-83..P-87).

use crate::error::{ErrorCode, OAuthError};
use crate::registry::RegisteredClient;
use crate::{AuthorizationServer, MAX_LIFETIME_S};
use numbat_core::scope::OPENID;
use numbat_core::{AccessTokenClaims, AccessTokenRecord, Amr, Msisdn, ScopeSet, ACCESS_TOKEN_TYP};
use numbat_store::keys;
use serde::Serialize;
use std::time::Duration;

/// What a grant hands to the minter.
pub struct Issue<'a> {
    pub client: &'a RegisteredClient,
    /// The subscriber, for three-legged grants.
    pub msisdn: Option<&'a Msisdn>,
    pub amr: Vec<Amr>,
    pub scope: &'a ScopeSet,
    pub auth_time: Option<i64>,
    pub nonce: Option<&'a str>,
    /// The access token's `jti` (grants may derive it, see the authorization-code grant).
    pub jti: String,
    /// The refresh-token grant the token belongs to (`refresh.rs`); `None` for most tokens.
    pub grant: Option<String>,
}

/// RFC 6749 §5.1 / OIDC §3.1.3.3 token response.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Only with `offline_access` from the code or CIBA grant (P-53..P-58, `refresh.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Amr]>::is_empty")]
    amr: &'a [Amr],
    at_hash: String,
}

fn server_error(d: &str) -> OAuthError {
    OAuthError::new(ErrorCode::ServerError, d)
}

impl AuthorizationServer {
    pub(crate) async fn issue(&self, i: Issue<'_>) -> Result<TokenResponse, OAuthError> {
        let now = self.clock.now();
        // The client's own lifetime (issue 4 item 2), never beyond the server's.
        let mut ttl = i.client.client.access_token_ttl_s.map_or(self.cfg.access_token_ttl_s, |t| t.min(self.cfg.access_token_ttl_s));
        if i.scope.has_number_verification() {
            ttl = ttl.min(MAX_LIFETIME_S); // NVR-04
        }
        let client_id = i.client.client.client_id.as_str();
        let sub = match i.msisdn {
            Some(m) => self.pairwise.subject(&i.client.client.sector_identifier, m),
            None => client_id.to_owned(),
        };
        let scope = i.scope.to_scope_string();
        let claims = AccessTokenClaims {
            iss: self.cfg.issuer.clone(),
            sub: sub.clone(),
            aud: self.cfg.access_token_audience.clone(),
            exp: now + ttl,
            iat: now,
            jti: i.jti.clone(),
            client_id: client_id.to_owned(),
            scope: scope.clone(),
            amr: i.amr.clone(),
            auth_time: i.auth_time,
        };
        let signer = self
            .keys
            .signer(self.cfg.access_token_alg)
            .ok_or_else(|| server_error("no access-token signing key"))?;
        let access_token = signer.sign(ACCESS_TOKEN_TYP, &claims).map_err(|_| server_error("signing failed"))?;

        let id_token = if i.scope.contains(OPENID) {
            let signer = self.keys.signer(i.client.id_token_alg).ok_or_else(|| server_error("no ID-token signing key"))?;
            let c = IdTokenClaims {
                iss: &self.cfg.issuer,
                sub: &sub,
                aud: client_id,
                exp: now + i.client.client.id_token_ttl_s.map_or(self.cfg.id_token_ttl_s, |t| t.min(self.cfg.id_token_ttl_s)),
                iat: now,
                auth_time: i.auth_time,
                nonce: i.nonce,
                amr: &i.amr,
                at_hash: numbat_jose::left_half_hash_for(signer.alg(), &access_token),
            };
            Some(signer.sign("JWT", &c).map_err(|_| server_error("signing failed"))?)
        } else {
            None // P-75: no ID token without openid.
        };

        // The record keeps what the token must not carry (the MSISDN), until the token expires.
        let rec = AccessTokenRecord {
            v: AccessTokenRecord::VERSION,
            client_id: client_id.to_owned(),
            msisdn: i.msisdn.cloned(),
            scope: scope.clone(),
            amr: i.amr,
            exp: now + ttl,
            grant: i.grant,
        };
        let rec_ttl = Duration::from_secs((ttl + self.cfg.clock_skew_s) as u64);
        self.store.put(&keys::access_token(&i.jti), &rec.encode(), rec_ttl).await?;

        Ok(TokenResponse { access_token, token_type: "Bearer", expires_in: ttl, id_token, refresh_token: None, scope })
    }
}
