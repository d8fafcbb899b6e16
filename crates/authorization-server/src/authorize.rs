//! `/authorize`: the authorization code flow with network-based authentication (P-18..P-36,
//! E-AZ-00..10). The subscriber comes only from the ingress's [`IdentityOutcome`].

use crate::code::{valid_challenge, CodeRecord};
use crate::error::{invalid_request, invalid_scope, AuthorizeError, ErrorCode, OAuthError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::AuthorizationServer;
use numbat_core::scope::OPENID;
use numbat_core::{GrantType, IdentityOutcome, ScopeSet};
use numbat_store::keys;
use std::time::Duration;

/// OIDC standard-claim scopes that need `openid` (P-76).
const OIDC_CLAIM_SCOPES: [&str; 4] = ["profile", "email", "phone", "address"];
const OFFLINE_ACCESS: &str = "offline_access";
const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;

/// The successful outcome: where to send the user agent (`redirect_uri?code=…&state=…&iss=…`).
#[derive(Debug)]
pub struct AuthorizeRedirect {
    pub location: String,
}

pub(crate) fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        // Registered URIs are validated at load; this cannot happen for a registered one.
        Err(_) => redirect_uri.to_owned(),
    }
}

impl AuthorizationServer {
    pub async fn authorize(&self, p: &Params, identity: IdentityOutcome) -> Result<AuthorizeRedirect, AuthorizeError> {
        let page = |code: ErrorCode, d: &str| AuthorizeError::ErrorPage(OAuthError::new(code, d));

        // E-AZ-00: until client and redirect URI are verified, errors never redirect.
        if p.oversized {
            return Err(page(ErrorCode::InvalidRequest, "request too large"));
        }
        if p.is_duplicated("client_id") || p.is_duplicated("redirect_uri") {
            return Err(page(ErrorCode::InvalidRequest, "client_id or redirect_uri repeated"));
        }
        let client_id = p.get("client_id").ok_or_else(|| page(ErrorCode::InvalidRequest, "client_id missing"))?;
        let client = self.registry.get(client_id).ok_or_else(|| page(ErrorCode::InvalidClient, "unknown client"))?;
        // RFC 9126 §4: a pushed request (PAR) counts alone, with client_id (par.rs).
        if p.get("request_uri").is_some_and(crate::par::is_pushed_request_uri) {
            return self.authorize_pushed(&client, p, identity).await;
        }
        let redirect_uri =
            p.get("redirect_uri").ok_or_else(|| page(ErrorCode::InvalidRequest, "redirect_uri missing"))?;
        if !client.client.has_redirect_uri(redirect_uri) {
            return Err(page(ErrorCode::InvalidRequest, "redirect_uri is not registered for this client"));
        }

        // From here on errors go back to the verified redirect URI (E-AZ-01..10).
        let outer_state = p.get("state").filter(|s| s.len() <= MAX_STATE && !p.is_duplicated("state"));
        let redirect_outer = |error: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: outer_state.map(str::to_owned),
            issuer: self.cfg.issuer.clone(),
            error,
        };
        if let Some(d) = p.duplicates.first() {
            return Err(redirect_outer(crate::error::repeated_param(d)));
        }
        if p.get("request_uri").is_some() {
            let e = if p.get("request").is_some() {
                invalid_request("request and request_uri must not both be sent")
            } else {
                OAuthError::new(ErrorCode::RequestUriNotSupported, "request_uri is not supported")
            };
            return Err(redirect_outer(e));
        }
        if p.get("request").is_some() {
            // P-26: from here on only the signed parameters (and the mirrored four) count.
            let inner = self.resolve_request_object(p, &client).await.map_err(&redirect_outer)?;
            return self.authorize_checked(&client, redirect_uri, &inner, identity).await;
        }
        self.authorize_checked(&client, redirect_uri, p, identity).await
    }

    /// Everything after the client and its redirect URI are verified.
    pub(crate) async fn authorize_checked(
        &self,
        client: &RegisteredClient,
        redirect_uri: &str,
        p: &Params,
        identity: IdentityOutcome,
    ) -> Result<AuthorizeRedirect, AuthorizeError> {
        let state = p.get("state").filter(|s| s.len() <= MAX_STATE);
        let redirect = |error: OAuthError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            issuer: self.cfg.issuer.clone(),
            error,
        };
        if p.oversized {
            return Err(redirect(invalid_request("request too large")));
        }
        if p.get("state").is_some_and(|s| s.len() > MAX_STATE) {
            return Err(redirect(invalid_request("state too long")));
        }
        match p.get("response_type") {
            None => return Err(redirect(invalid_request("response_type missing"))),
            Some("code") => {}
            Some(_) => {
                return Err(redirect(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported")))
            }
        }
        if let Some(m) = p.get("response_mode") {
            if m != "query" {
                return Err(redirect(invalid_request("only response_mode=query is supported")));
            }
        }
        if !client.client.allows_grant(GrantType::AuthorizationCode) {
            return Err(redirect(OAuthError::new(ErrorCode::UnauthorizedClient, "client may not use the authorization code flow")));
        }

        let scope = self.authorize_scope(p, &client.client).map_err(&redirect)?;

        // P-22 / NVR-02: Number Verification implies prompt=none. Network-based authentication
        // never needs interaction, so every valid prompt value is satisfied without a UI; the
        // values are still checked (S-02).
        if let Some(prompt) = p.get("prompt") {
            let values: Vec<&str> = prompt.split(' ').collect();
            if values.iter().any(|v| !matches!(*v, "none" | "login" | "consent" | "select_account")) {
                return Err(redirect(invalid_request("unknown prompt value")));
            }
            if values.contains(&"none") && values.len() > 1 {
                return Err(redirect(invalid_request("prompt=none cannot be combined (S-02)")));
            }
        }
        let max_age = match p.get("max_age").map(str::parse::<u64>) {
            None => None,
            Some(Ok(m)) => Some(m),
            Some(Err(_)) => return Err(redirect(invalid_request("max_age must be a non-negative integer"))),
        };
        let nonce = p.get("nonce");
        if nonce.is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(redirect(invalid_request("nonce too long")));
        }

        // P-33, P-36: PKCE with S256.
        let challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
            (Some(c), Some("S256")) if valid_challenge(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => return Err(redirect(invalid_request("code_challenge is malformed"))),
            (Some(_), _) => return Err(redirect(invalid_request("code_challenge_method must be S256"))),
            (None, Some(_)) => return Err(redirect(invalid_request("code_challenge_method without code_challenge"))),
            (None, None) if client.client.require_pkce => {
                return Err(redirect(invalid_request("PKCE is required: send code_challenge with S256")))
            }
            (None, None) => None,
        };

        // P-18, O-01: the network names the subscriber, or nobody.
        let identity = match identity {
            IdentityOutcome::Identified(i) => i,
            IdentityOutcome::NotIdentified => {
                return Err(redirect(OAuthError::new(
                    ErrorCode::LoginRequired,
                    "the device could not be identified by the mobile network",
                )))
            }
            IdentityOutcome::Unavailable => {
                return Err(redirect(OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again later")))
            }
        };

        // P-20, P-22, E-AZ-06, OIDC Core §11: the consent step. Number Verification never
        // interacts (implied prompt=none); other requests get the consent page unless prompt=none.
        let prompts: Vec<&str> = p.get("prompt").map(|v| v.split(' ').collect()).unwrap_or_default();
        let nv = scope.has_number_verification();
        let interactive = !nv && !prompts.contains(&"none");
        let gate = self
            .consent_gate(&client.client.client_id, &identity.msisdn, scope, interactive, prompts.contains(&"consent"))
            .await
            .map_err(|e| redirect(e.into()))?;
        let (scope, ask) = match gate {
            crate::consent::Gate::Proceed(s) => (s, false),
            crate::consent::Gate::Ask(s) => (s, true),
            crate::consent::Gate::Refuse(e) => return Err(redirect(e)),
        };

        // S-02, S-03: auth_time is the network session's authentication, or now where the
        // request asks for a fresh one (authn_time.rs).
        // P-22: on a Number Verification request the implied prompt=none overrides login.
        let freshness = crate::authn_time::Freshness { max_age, login: !nv && prompts.contains(&"login") };
        let auth_time = self.auth_time(&identity, freshness).await.map_err(|e| redirect(e.into()))?;

        let rec = CodeRecord {
            v: CodeRecord::VERSION,
            client_id: client.client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: challenge,
            nonce: nonce.map(str::to_owned),
            scope,
            msisdn: identity.msisdn,
            amr: identity.amr,
            auth_time,
            exp: 0, // set when the code is minted
        };
        if ask {
            let prompt = self.pending_consent(rec, state).await.map_err(&redirect)?;
            return Err(AuthorizeError::Consent(Box::new(prompt)));
        }
        self.mint_code(rec, state).await.map_err(|e| redirect(e.into()))
    }

    /// Store the code record (≤ 60 s, design.md step 1) and build the success redirect.
    pub(crate) async fn mint_code(&self, mut rec: CodeRecord, state: Option<&str>) -> Result<AuthorizeRedirect, numbat_store::StoreError> {
        let code = self.random_token();
        rec.exp = self.clock.now() + self.cfg.code_ttl_s;
        self.store.put(&keys::auth_code(&code), &rec.encode(), Duration::from_secs(self.cfg.code_ttl_s as u64)).await?;
        let mut pairs: Vec<(&str, &str)> = vec![("code", &code)];
        if let Some(s) = state {
            pairs.push(("state", s));
        }
        pairs.push(("iss", &self.cfg.issuer));
        Ok(AuthorizeRedirect { location: redirect_with(&rec.redirect_uri, &pairs) })
    }

    /// Scope and purpose rules (P-74..P-81, NVR-03).
    pub(crate) fn authorize_scope(&self, p: &Params, client: &numbat_core::Client) -> Result<ScopeSet, OAuthError> {
        let raw = p.get("scope").ok_or_else(|| invalid_request("scope missing"))?;
        let requested = ScopeSet::parse(raw).map_err(|_| invalid_scope("scope is malformed"))?;
        let has_openid = requested.contains(OPENID);
        // P-76: OIDC claims need openid.
        if !has_openid && (p.get("claims").is_some() || OIDC_CLAIM_SCOPES.iter().any(|s| requested.contains(s))) {
            return Err(invalid_request("OIDC claims requested without the openid scope (P-76)"));
        }
        // P-53..P-55, P-58, NVR-03: offline_access stays only where a refresh token may follow
        // (a client allowed the refresh grant and the scope, no Number Verification scope); it
        // is ignored otherwise (OIDC Core §11). Whether it is honoured needs consent (consent.rs).
        let offline_ok = !requested.has_number_verification()
            && client.allows_grant(GrantType::RefreshToken)
            && client.allows_scope(OFFLINE_ACCESS);
        let mut kept: Vec<&str> = requested.iter().filter(|s| *s != OFFLINE_ACCESS || offline_ok).collect();
        if let Some(dp) = client.default_purpose.as_deref() {
            if requested.purpose_values().next().is_none() {
                kept.push(dp);
            }
        }
        let scope = ScopeSet::parse(&kept.join(" ")).map_err(|_| invalid_scope("scope is empty"))?;
        for s in scope.iter() {
            if s.contains('#') && s.starts_with("dpv:") {
                return Err(invalid_scope("the dpv:<purpose>#<scope> form is retired (P-81)"));
            }
            if !client.allows_scope(s) {
                return Err(invalid_scope(format!("scope {s} is not allowed for this client")));
            }
        }
        // P-78, P-80: a three-legged request declares exactly one purpose.
        scope.single_purpose().map_err(|e| invalid_scope(format!("{e} (P-80)")))?;
        if !scope.iter().any(|s| s != OPENID && !s.starts_with("dpv:")) && !has_openid {
            return Err(invalid_scope("no API scope requested"));
        }
        Ok(scope)
    }
}
