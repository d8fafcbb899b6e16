//! `grant_type=client_credentials` (P-59..P-62, NVR-08, O-02): two-legged tokens, no subscriber.

use super::GrantHandler;
use crate::error::{invalid_request, invalid_scope, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::tokens::{Issue, TokenResponse};
use crate::AuthorizationServer;
use numbat_core::scope::OPENID;
use numbat_core::{GrantType, ScopeSet};
use std::sync::Arc;

pub struct ClientCredentials;

#[async_trait::async_trait]
impl GrantHandler for ClientCredentials {
    fn grant_type(&self) -> GrantType {
        GrantType::ClientCredentials
    }

    async fn handle(&self, s: &AuthorizationServer, client: &Arc<RegisteredClient>, p: &Params) -> Result<TokenResponse, TokenError> {
        // P-60 / O-02: scope is required; missing is invalid_request.
        let raw = p.get("scope").ok_or_else(|| invalid_request("scope is required for client_credentials (P-60)"))?;
        let scope = ScopeSet::parse(raw).map_err(|_| invalid_scope("scope is malformed"))?;
        for v in scope.iter() {
            if v == OPENID || v == "offline_access" {
                return Err(invalid_scope(format!("{v} needs a user; client_credentials has none (P-59)")).into());
            }
            if numbat_core::scope::NV_SCOPES.contains(&v) {
                return Err(invalid_scope("Number Verification needs a three-legged token (NVR-08)").into());
            }
            if !client.client.allows_scope(v) {
                return Err(invalid_scope(format!("scope {v} is not allowed for this client")).into());
            }
        }
        // P-62: a purpose is optional here, but at most one and well-formed.
        if scope.purpose_values().next().is_some() {
            scope.single_purpose().map_err(|e| invalid_scope(format!("{e} (P-80)")))?;
        }
        if !scope.iter().any(|v| !v.starts_with("dpv:")) {
            return Err(invalid_scope("no API scope requested").into());
        }
        Ok(s
            .issue(Issue {
                client,
                msisdn: None,
                amr: vec![],
                scope: &scope,
                auth_time: None,
                nonce: None,
                jti: s.random_token(),
                grant: None, // P-55: never a refresh token
            })
            .await?)
    }
}
