//! `grant_type=urn:openid:params:grant-type:ciba` (poll mode, P-46, P-47, E-TK-20..24).

use super::GrantHandler;
use crate::ciba::{poll_key, record_key, CibaRecord, Status};
use crate::client_auth::required;
use crate::error::{invalid_grant, ErrorCode, OAuthError, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::tokens::{Issue, TokenResponse};
use crate::AuthorizationServer;
use numbat_core::GrantType;
use std::sync::Arc;
use std::time::Duration;

pub struct Ciba;

fn e(code: ErrorCode, d: &str) -> TokenError {
    OAuthError::new(code, d).into()
}

#[async_trait::async_trait]
impl GrantHandler for Ciba {
    fn grant_type(&self) -> GrantType {
        GrantType::Ciba
    }

    async fn handle(&self, s: &AuthorizationServer, client: &Arc<RegisteredClient>, p: &Params) -> Result<TokenResponse, TokenError> {
        let id = required(p, "auth_req_id")?;
        if id.len() > 128 {
            return Err(invalid_grant("auth_req_id is invalid").into());
        }
        let key = record_key(id);
        let Some(bytes) = s.store.get(&key).await? else {
            return Err(invalid_grant("auth_req_id is unknown, used or expired (E-TK-21)").into());
        };
        let rec: CibaRecord = serde_json::from_slice(&bytes).map_err(|_| invalid_grant("auth_req_id is invalid"))?;
        if rec.client_id != client.client.client_id {
            return Err(invalid_grant("auth_req_id was issued to another client (E-TK-21)").into());
        }
        let now = s.clock.now();
        if rec.exp <= now {
            return Err(e(ErrorCode::ExpiredToken, "the authentication request expired (E-TK-24)"));
        }
        match rec.status {
            Status::Pending => {
                // One poll per interval: a mark that lives `interval` seconds (E-TK-23).
                let fresh = s.store.put_if_absent(&poll_key(id), b"1", Duration::from_secs(rec.interval.max(1) as u64)).await?;
                if fresh {
                    Err(e(ErrorCode::AuthorizationPending, "the subscriber has not decided yet (E-TK-22)"))
                } else {
                    Err(e(ErrorCode::SlowDown, "polling faster than the interval (E-TK-23)"))
                }
            }
            Status::Denied => {
                s.store.delete(&key).await?;
                Err(e(ErrorCode::AccessDenied, "the request was denied (E-TK-20)"))
            }
            Status::Approved => {
                // Single use: of two concurrent polls, one gets the tokens.
                let Some(taken) = s.store.take(&key).await? else {
                    return Err(invalid_grant("auth_req_id was already redeemed (E-TK-21)").into());
                };
                let rec: CibaRecord = serde_json::from_slice(&taken).map_err(|_| invalid_grant("auth_req_id is invalid"))?;
                // P-53, P-55: offline_access in a CIBA request may bring a refresh token.
                let grant = s.offline_grant(client, &rec.msisdn, rec.amr, &rec.scope, rec.auth_time).map(|g| (s.random_token(), g));
                Ok(s
                    .issue_with_grant(
                        Issue {
                            client,
                            msisdn: Some(&rec.msisdn),
                            amr: vec![rec.amr],
                            scope: &rec.scope,
                            auth_time: Some(rec.auth_time),
                            nonce: None,
                            jti: s.random_token(),
                            grant: None,
                        },
                        grant,
                    )
                    .await?)
            }
        }
    }
}
