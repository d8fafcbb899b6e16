//! Pushed authorization requests (PAR, RFC 9126): the client pushes its authorization request
//! to `/par` over an authenticated back channel and gets a single-use `request_uri`
//! (`urn:ietf:params:oauth:request_uri:<random>`, at most 60 s) that `/authorize` accepts with
//! `client_id` alone (RFC 9126 §4).
//!
//! Choices (issue 4 item 3):
//! - Client authentication is the token endpoint's (`private_key_jwt`, P-88..P-91); `aud` may be
//!   the PAR endpoint, the token endpoint or the issuer (P-90, RFC 9126 §2).
//! - The pushed request is validated at push time as far as possible without the device (client,
//!   exact redirect URI, response type, grant, scope and purpose, PKCE, a signed `request` with
//!   every P-23..P-30 rule): errors are JSON (RFC 9126 §2.3). Everything is checked again when
//!   `/authorize` uses it, where the device is known.
//! - With a signed `request`, the parameters come only from the object (P-26); the outer copies
//!   of P-24's four parameters are optional here (RFC 9126 §3 pushes the object alone) but must
//!   equal the signed values when sent.
//! - `/authorize` with a pushed `request_uri` ignores every other parameter except `client_id`
//!   (RFC 9126 §4). An unknown, spent, expired or other client's `request_uri` gets the error
//!   page with `invalid_request_uri` (OIDC §3.1.2.6): the redirect URI of such a request is not
//!   verified, so it never redirects (E-AZ-00).
//! - Discovery: `pushed_authorization_request_endpoint`, `require_pushed_authorization_requests:
//!   false`, and `request_uri_parameter_supported` stays `false`: numbat never fetches a
//!   `request_uri` by reference (OIDC Core §6.2); RFC 9126 §5 says PAR's `request_uri` works
//!   whatever that flag says.

use crate::authorize::AuthorizeRedirect;
use crate::code::valid_challenge;
use crate::error::{invalid_request, AuthorizeError, ErrorCode, OAuthError, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::request_object::Mirror;
use crate::{AsConfig, AuthorizationServer};
use numbat_core::{GrantType, IdentityOutcome};
use numbat_store::keys;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// RFC 9126 §2.2: the `request_uri` of a pushed request.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Lifetime of a pushed request (RFC 9126 §2.2 suggests 5 to 600 s; numbat keeps it as short as
/// an authorization code).
pub const PAR_TTL_S: i64 = 60;
/// Client-authentication parameters: they authenticate the push and are not stored.
const AUTH_PARAMS: [&str; 3] = ["client_assertion", "client_assertion_type", "client_secret"];

impl AsConfig {
    pub fn pushed_authorization_request_endpoint(&self) -> String {
        format!("{}/par", self.issuer)
    }
}

/// RFC 9126 §2.2: the 201 answer.
#[derive(Debug, Serialize)]
pub struct ParResponse {
    pub request_uri: String,
    pub expires_in: i64,
}

#[derive(Serialize, Deserialize)]
struct PushedRecord {
    v: u8,
    client_id: String,
    exp: i64,
    params: Vec<(String, String)>,
}

impl PushedRecord {
    const VERSION: u8 = 1;
}

impl AuthorizationServer {
    /// `POST /par`: authenticate the client, validate its authorization request and store it
    /// for one use at `/authorize`.
    pub async fn push_authorization_request(
        &self,
        p: &Params,
        authorization_header: Option<&str>,
    ) -> Result<ParResponse, TokenError> {
        if p.oversized {
            return Err(invalid_request("request too large").into());
        }
        if let Some(d) = p.duplicates.first() {
            return Err(crate::error::repeated_param(d).into());
        }
        let endpoint = self.cfg.pushed_authorization_request_endpoint();
        let client = self.authenticate_client(p, authorization_header, &endpoint).await?;
        // RFC 9126 §2.1: a pushed request must not itself point to another one.
        if p.get("request_uri").is_some() {
            return Err(invalid_request("request_uri must not be pushed (RFC 9126 §2.1)").into());
        }
        let params = match p.get("request") {
            Some(_) => self.resolve_request_object_in(p, &client, Mirror::IfPresent).await?,
            None => Params::from_pairs(
                p.pairs().filter(|(k, _)| !AUTH_PARAMS.contains(k)).map(|(k, v)| (k.to_owned(), v.to_owned())),
            ),
        };
        self.check_pushed(&params, &client)?;

        let now = self.clock.now();
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", self.random_token());
        let rec = PushedRecord {
            v: PushedRecord::VERSION,
            client_id: client.client.client_id.clone(),
            exp: now + PAR_TTL_S,
            params: params.pairs().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        };
        let bytes = serde_json::to_vec(&rec).map_err(|_| OAuthError::new(ErrorCode::ServerError, "encoding failed"))?;
        self.store.put(&keys::pushed_request(&request_uri), &bytes, Duration::from_secs(PAR_TTL_S as u64)).await?;
        Ok(ParResponse { request_uri, expires_in: PAR_TTL_S })
    }

    /// What can be checked without the device; `/authorize` checks everything again.
    fn check_pushed(&self, p: &Params, client: &RegisteredClient) -> Result<(), OAuthError> {
        if p.oversized {
            return Err(invalid_request("request too large"));
        }
        if p.get("client_id").is_some_and(|c| c != client.client.client_id) {
            return Err(invalid_request("client_id is not the authenticated client"));
        }
        if p.get("request").is_some() {
            return Err(OAuthError::new(ErrorCode::InvalidRequestObject, "a request object must not nest another"));
        }
        let redirect_uri = p.get("redirect_uri").ok_or_else(|| invalid_request("redirect_uri missing"))?;
        if !client.client.has_redirect_uri(redirect_uri) {
            return Err(invalid_request("redirect_uri is not registered for this client"));
        }
        match p.get("response_type") {
            None => return Err(invalid_request("response_type missing")),
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported"))
            }
        }
        if !client.client.allows_grant(GrantType::AuthorizationCode) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "client may not use the authorization code flow",
            ));
        }
        self.authorize_scope(p, &client.client)?;
        match (p.get("code_challenge"), p.get("code_challenge_method")) {
            (Some(c), Some("S256")) if valid_challenge(c) => Ok(()),
            (Some(_), Some("S256")) => Err(invalid_request("code_challenge is malformed")),
            (Some(_), _) => Err(invalid_request("code_challenge_method must be S256")),
            (None, Some(_)) => Err(invalid_request("code_challenge_method without code_challenge")),
            (None, None) if client.client.require_pkce => {
                Err(invalid_request("PKCE is required: send code_challenge with S256"))
            }
            (None, None) => Ok(()),
        }
    }

    /// `/authorize?client_id=…&request_uri=urn:ietf:params:oauth:request_uri:…` for a verified
    /// client: use the pushed request once (RFC 9126 §4).
    pub(crate) async fn authorize_pushed(
        &self,
        client: &RegisteredClient,
        p: &Params,
        identity: IdentityOutcome,
    ) -> Result<AuthorizeRedirect, AuthorizeError> {
        let page = |code: ErrorCode, d: &str| AuthorizeError::ErrorPage(OAuthError::new(code, d));
        if p.is_duplicated("request_uri") || p.get("request").is_some() {
            return Err(page(ErrorCode::InvalidRequest, "send request_uri once, without request"));
        }
        let uri = p.get("request_uri").unwrap_or_default();
        let bad_uri = || page(ErrorCode::InvalidRequestUri, "request_uri is unknown, expired or already used");
        // Read, check the client, then take: a client that learns another's request_uri (it
        // passes through the browser) must not be able to spend it. The take decides single use.
        let key = keys::pushed_request(uri);
        let unavailable = |e: numbat_store::StoreError| AuthorizeError::ErrorPage(e.into());
        let peeked = self.store.get(&key).await.map_err(unavailable)?.ok_or_else(bad_uri)?;
        let rec: PushedRecord = serde_json::from_slice(&peeked).map_err(|_| bad_uri())?;
        if rec.v != PushedRecord::VERSION || rec.client_id != client.client.client_id || rec.exp <= self.clock.now() {
            return Err(bad_uri());
        }
        if self.store.take(&key).await.map_err(unavailable)?.as_deref() != Some(peeked.as_slice()) {
            return Err(bad_uri());
        }
        let params = Params::from_pairs(rec.params.into_iter());
        let redirect_uri = params.get("redirect_uri").unwrap_or_default().to_owned();
        // The client's registration may have changed since the push.
        if !client.client.has_redirect_uri(&redirect_uri) {
            return Err(page(ErrorCode::InvalidRequest, "redirect_uri is not registered for this client"));
        }
        self.authorize_checked(client, &redirect_uri, &params, identity).await
    }
}

/// Whether `/authorize` should treat `request_uri` as a pushed request's.
pub(crate) fn is_pushed_request_uri(uri: &str) -> bool {
    uri.starts_with(REQUEST_URI_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_auth_parameters_are_not_stored() {
        assert!(AUTH_PARAMS.contains(&"client_assertion") && AUTH_PARAMS.contains(&"client_assertion_type"));
        assert!(is_pushed_request_uri("urn:ietf:params:oauth:request_uri:abc"));
        assert!(!is_pushed_request_uri("https://client.example/request.jwt"));
    }
}
