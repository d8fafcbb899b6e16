//! One handler per grant type behind one trait (fosite style). The token endpoint dispatches
//! by `grant_type`; adding a grant adds a module and a line in [`default_grants`].

mod authorization_code;
mod ciba;
mod client_credentials;
mod jwt_bearer;
mod refresh_token;

use crate::client_auth::required;
use crate::error::{invalid_request, ErrorCode, OAuthError, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::tokens::TokenResponse;
use crate::AuthorizationServer;
use numbat_core::GrantType;
use std::sync::Arc;

#[async_trait::async_trait]
pub trait GrantHandler: Send + Sync {
    fn grant_type(&self) -> GrantType;

    /// Who is asking. Most grants use the token endpoint's client authentication; a grant whose
    /// request authenticates the client itself (the JWT-bearer assertion, P-65) overrides this.
    async fn client(
        &self,
        server: &AuthorizationServer,
        params: &Params,
        authorization_header: Option<&str>,
    ) -> Result<Arc<RegisteredClient>, TokenError> {
        server.authenticate_client(params, authorization_header, &server.cfg.token_endpoint()).await
    }

    /// Handle a request from an authenticated client that may use this grant.
    async fn handle(
        &self,
        server: &AuthorizationServer,
        client: &Arc<RegisteredClient>,
        params: &Params,
    ) -> Result<TokenResponse, TokenError>;
}

pub fn default_grants() -> Vec<Box<dyn GrantHandler>> {
    vec![
        Box::new(authorization_code::AuthorizationCode),
        Box::new(client_credentials::ClientCredentials),
        Box::new(jwt_bearer::JwtBearer),
        Box::new(ciba::Ciba),
        Box::new(refresh_token::RefreshToken),
    ]
}

impl AuthorizationServer {
    /// The token endpoint (E-TK-01..05 and each grant's own errors).
    pub async fn token(&self, p: &Params, authorization_header: Option<&str>) -> Result<TokenResponse, TokenError> {
        if p.oversized {
            return Err(invalid_request("request too large").into());
        }
        if let Some(d) = p.duplicates.first() {
            return Err(crate::error::repeated_param(d).into());
        }
        let grant_type = required(p, "grant_type")?;
        let handler = self
            .grants
            .iter()
            .find(|g| g.grant_type().as_str() == grant_type)
            .ok_or_else(|| OAuthError::new(ErrorCode::UnsupportedGrantType, "grant_type not supported"))?;
        let client = handler.client(self, p, authorization_header).await?;
        if !client.client.allows_grant(handler.grant_type()) {
            return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "client may not use this grant type (P-07)").into());
        }
        handler.handle(self, &client, p).await
    }
}
