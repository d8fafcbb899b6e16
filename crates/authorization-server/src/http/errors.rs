//! The one place where authorization-server errors become HTTP (camara-profile.md §15):
//! error page vs redirect for `/authorize`, JSON with the right status and `WWW-Authenticate`
//! for `/token`.

use crate::authorize::redirect_with;
use crate::error::{AuthorizeError, ErrorCode, OAuthError, TokenError};
use crate::ts43::EntitlementError;
use crate::userinfo::UserInfoError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    error: &'a str,
    description: &'a str,
}

fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// E-AZ-00: a bad client or redirect URI gets a page, never a redirect.
fn error_page(e: &OAuthError) -> HttpResponse {
    let html = ErrorPage { error: e.code.as_str(), description: &e.description }
        .render()
        .unwrap_or_else(|_| "invalid request".to_owned());
    let status = match e.code {
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
        ))
        .body(html)
}

pub fn authorize_error(e: AuthorizeError) -> HttpResponse {
    match e {
        AuthorizeError::ErrorPage(e) => error_page(&e),
        AuthorizeError::Consent(prompt) => super::consent::consent_page(&prompt),
        AuthorizeError::Redirect { redirect_uri, state, issuer, error } => {
            let mut pairs: Vec<(&str, &str)> = vec![("error", error.code.as_str())];
            if !error.description.is_empty() {
                pairs.push(("error_description", &error.description));
            }
            if let Some(s) = &state {
                pairs.push(("state", s));
            }
            pairs.push(("iss", &issuer));
            HttpResponse::Found()
                .insert_header((header::LOCATION, redirect_with(&redirect_uri, &pairs)))
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .finish()
        }
    }
}

pub fn token_error(e: TokenError) -> HttpResponse {
    let status = status_of(e.error.code);
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    b.insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
    if status == StatusCode::UNAUTHORIZED && e.http_auth {
        b.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"numbat\"")));
    }
    b.json(serde_json::json!({"error": e.error.code.as_str(), "error_description": e.error.description}))
}

/// RFC 9126 §2.3: a pushed request beyond the size bound.
pub fn payload_too_large() -> HttpResponse {
    HttpResponse::PayloadTooLarge()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(serde_json::json!({"error": "invalid_request", "error_description": "request too large"}))
}

pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, HeaderValue::from_static(allow)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(serde_json::json!({"error": "invalid_request", "error_description": "method not allowed"}))
}

/// RFC 6750 §3: bearer-token errors in `WWW-Authenticate`.
pub fn userinfo_error(e: UserInfoError) -> HttpResponse {
    let (status, challenge, code) = match e {
        UserInfoError::Missing => (StatusCode::UNAUTHORIZED, "Bearer", "invalid_request"),
        UserInfoError::InvalidToken => (StatusCode::UNAUTHORIZED, "Bearer error=\"invalid_token\"", "invalid_token"),
        UserInfoError::InsufficientScope => {
            (StatusCode::FORBIDDEN, "Bearer error=\"insufficient_scope\", scope=\"openid\"", "insufficient_scope")
        }
        UserInfoError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Bearer", "temporarily_unavailable"),
    };
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(serde_json::json!({"error": code}))
}

/// Entitlement and admin-mint errors: JSON `{error, error_description}`.
pub fn entitlement_error(e: EntitlementError) -> HttpResponse {
    let (status, code, d) = match e {
        EntitlementError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
        EntitlementError::NotIdentified => {
            (StatusCode::FORBIDDEN, "login_required", "the device could not be identified by the mobile network")
        }
        EntitlementError::Forbidden => (StatusCode::UNAUTHORIZED, "invalid_token", "admin token required"),
        EntitlementError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again later"),
    };
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if status == StatusCode::UNAUTHORIZED {
        b.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    b.json(serde_json::json!({"error": code, "error_description": d}))
}

/// Backchannel errors (E-CB-01..07): as at the token endpoint, except that a policy refusal
/// before any interaction is 403 `access_denied` (E-CB-07).
pub fn ciba_error(e: TokenError) -> HttpResponse {
    if e.error.code == ErrorCode::AccessDenied {
        return HttpResponse::Forbidden()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(serde_json::json!({"error": "access_denied", "error_description": e.error.description}));
    }
    token_error(e)
}

/// Consent admin API errors: JSON `{error, error_description}`, `WWW-Authenticate: Bearer` on 401.
pub fn consent_admin_error(e: crate::consent::ConsentAdminError) -> HttpResponse {
    use crate::consent::ConsentAdminError as E;
    let (status, code, d) = match e {
        E::Forbidden => (StatusCode::UNAUTHORIZED, "invalid_token", "admin token required"),
        E::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
        E::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such consent or client"),
        E::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again later"),
    };
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if status == StatusCode::UNAUTHORIZED {
        b.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    b.json(serde_json::json!({"error": code, "error_description": d}))
}

/// Clients admin API errors (RFC 7591 error codes for bad metadata): JSON
/// `{error, error_description}`, `WWW-Authenticate: Bearer` on 401.
pub fn client_admin_error(e: crate::client_admin::ClientAdminError) -> HttpResponse {
    use crate::client_admin::ClientAdminError as E;
    let (status, code, d) = match e {
        E::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid_token", "admin token required".to_owned()),
        E::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such client".to_owned()),
        E::Conflict(d) => (StatusCode::CONFLICT, "conflict", d),
        E::InvalidMetadata(d) => (StatusCode::BAD_REQUEST, "invalid_client_metadata", d),
        E::InvalidRedirectUri(d) => (StatusCode::BAD_REQUEST, "invalid_redirect_uri", d),
        E::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_client_metadata", "client metadata too large".to_owned()),
        E::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "try again later".to_owned()),
    };
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    if status == StatusCode::UNAUTHORIZED {
        b.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
    }
    b.json(serde_json::json!({"error": code, "error_description": d}))
}
