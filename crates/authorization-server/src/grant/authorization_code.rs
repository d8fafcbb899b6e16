//! `grant_type=authorization_code` (RFC 6749 §4.1.3, E-TK-10, P-36).

use super::GrantHandler;
use crate::client_auth::required;
use crate::code::{pkce_matches, valid_verifier, CodeRecord};
use crate::error::{invalid_grant, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::tokens::{Issue, TokenResponse};
use crate::AuthorizationServer;
use numbat_core::GrantType;
use numbat_store::keys;
use std::sync::Arc;

pub struct AuthorizationCode;

impl AuthorizationServer {
    /// The access token's `jti` is derived from the code (HMAC with a server secret), so a
    /// replayed code can find and revoke the token it produced (RFC 6749 §4.1.2) without a
    /// second write on the happy path.
    fn jti_for_code(&self, code: &str) -> String {
        let tag = ring::hmac::sign(&self.derive_key, code.as_bytes());
        numbat_jose::b64_encode(&tag.as_ref()[..24])
    }

    /// The refresh-token grant's id, derived from the code the same way (a replayed code
    /// revokes the grant too, P-57).
    fn grant_id_for_code(&self, code: &str) -> String {
        let tag = ring::hmac::sign(&self.derive_key, format!("grant\n{code}").as_bytes());
        numbat_jose::b64_encode(&tag.as_ref()[..24])
    }
}

#[async_trait::async_trait]
impl GrantHandler for AuthorizationCode {
    fn grant_type(&self) -> GrantType {
        GrantType::AuthorizationCode
    }

    async fn handle(&self, s: &AuthorizationServer, client: &Arc<RegisteredClient>, p: &Params) -> Result<TokenResponse, TokenError> {
        let code = required(p, "code")?;
        let redirect_uri = required(p, "redirect_uri")?;
        if code.len() > 128 {
            return Err(invalid_grant("code is invalid").into());
        }
        // Single use, atomically: of two concurrent redemptions exactly one gets the record.
        let Some(bytes) = s.store.take(&keys::auth_code(code)).await? else {
            // Unknown, expired or already used. If it was used, revoke what it produced.
            let revoked = s.store.delete(&keys::access_token(&s.jti_for_code(code))).await?;
            let revoked_grant = s.revoke_grant(&s.grant_id_for_code(code)).await?;
            if revoked || revoked_grant {
                tracing::warn!(client_id = %client.client.client_id, "authorization code replayed; its tokens were revoked");
            }
            return Err(invalid_grant("code is invalid, expired or already used").into());
        };
        let rec = CodeRecord::decode(&bytes).ok_or_else(|| invalid_grant("code is invalid"))?;
        let now = s.clock.now();
        if rec.exp < now {
            return Err(invalid_grant("code expired").into());
        }
        if rec.client_id != client.client.client_id {
            return Err(invalid_grant("code was issued to another client").into());
        }
        if rec.redirect_uri != redirect_uri {
            return Err(invalid_grant("redirect_uri differs from the authorization request").into());
        }
        match (&rec.code_challenge, p.get("code_verifier")) {
            (Some(ch), Some(v)) if valid_verifier(v) && pkce_matches(v, ch) => {}
            (Some(_), _) => return Err(invalid_grant("code_verifier does not match (P-36)").into()),
            (None, Some(_)) => return Err(invalid_grant("code_verifier sent but no code_challenge was").into()),
            (None, None) => {}
        }
        // P-53..P-58: a refresh token only with offline_access (consented at /authorize).
        let grant = s.offline_grant(client, &rec.msisdn, rec.amr, &rec.scope, rec.auth_time).map(|g| (s.grant_id_for_code(code), g));
        let r = s
            .issue_with_grant(
                Issue {
                    client,
                    msisdn: Some(&rec.msisdn),
                    amr: vec![rec.amr],
                    scope: &rec.scope,
                    auth_time: Some(rec.auth_time),
                    nonce: rec.nonce.as_deref(),
                    jti: s.jti_for_code(code),
                    grant: None,
                },
                grant,
            )
            .await?;
        Ok(r)
    }
}
