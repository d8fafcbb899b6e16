//! The authorization server's errors, in OAuth/OIDC terms. The mapping to HTTP (status codes,
//! JSON bodies, redirects, the error page, `WWW-Authenticate`) lives only in `http/errors.rs`.

use numbat_store::StoreError;

/// OAuth 2.0 / OIDC / CIBA error codes (camara-profile.md §15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    InvalidRequestObject,
    /// OIDC §3.1.2.6: a pushed request's `request_uri` is unknown, spent, expired or another client's.
    InvalidRequestUri,
    RequestNotSupported,
    RequestUriNotSupported,
    ServerError,
    TemporarilyUnavailable,
    UnknownUserId,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::UnknownUserId => "unknown_user_id",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
        }
    }
}

/// An OAuth error with a description safe to show to the client (no secrets, no MSISDN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError { code, description: description.into() }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store error");
        OAuthError::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable")
    }
}

/// A failed `/authorize` request: either the redirect target is in doubt (error page, never a
/// redirect: E-AZ-00) or it is verified and the error goes back to the client (E-AZ-01..10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    ErrorPage(OAuthError),
    Redirect { redirect_uri: String, state: Option<String>, issuer: String, error: OAuthError },
    /// Not a failure to report: the subscriber must be asked first, so the answer is the consent
    /// page (P-20, `consent.rs`). It travels here so every path through `/authorize` (request
    /// objects, PAR) carries it unchanged.
    Consent(Box<crate::consent::ConsentPrompt>),
}

/// A failed token-endpoint request. `http_auth` records whether the client tried HTTP
/// `Authorization` authentication, which decides `WWW-Authenticate` on 401 (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub error: OAuthError,
    pub http_auth: bool,
}

impl From<OAuthError> for TokenError {
    fn from(error: OAuthError) -> Self {
        TokenError { error, http_auth: false }
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        OAuthError::from(e).into()
    }
}

pub fn invalid_request(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, d)
}

pub fn invalid_client(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, d)
}

pub fn invalid_grant(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, d)
}

pub fn invalid_scope(d: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidScope, d)
}

/// `invalid_request` for a repeated parameter. The name is the client's, so it appears in
/// `error_description` only when it stays within RFC 6749's charset and a sane shape.
pub fn repeated_param(name: &str) -> OAuthError {
    let safe = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if safe {
        invalid_request(format!("parameter {name} repeated"))
    } else {
        invalid_request("a parameter is repeated")
    }
}
