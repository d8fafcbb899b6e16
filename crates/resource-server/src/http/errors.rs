//! The one place where an [`NvError`] becomes a response: CAMARA `ErrorInfo` `{status, code,
//! message}` (C-01), `Content-Type: application/json`, `Cache-Control: no-store`, the
//! `x-correlator` header (C-06, NVC-02), `WWW-Authenticate` on 401 (RFC 6750 §3) and `Allow`
//! on 405 (RFC 9110 §15.5.6). Messages are the texts of number-verification.md §7 for the codes
//! the NV API documents, and of commonalities.md §2 for the others.

use crate::{AuthFailure, Correlator, NvError};
use actix_web::http::header::{HeaderName, HeaderValue, ALLOW, CACHE_CONTROL, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde::Serialize;

pub(crate) const X_CORRELATOR: HeaderName = HeaderName::from_static("x-correlator");

#[derive(Serialize)]
struct ErrorInfo {
    status: u16,
    code: &'static str,
    message: &'static str,
}

/// Status, `code` and `message` of each error (NVE-01..04, C-13..C-16, C-20, C-40).
fn describe(err: &NvError) -> (StatusCode, &'static str, &'static str) {
    match err {
        NvError::InvalidArgument => (
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Client specified an invalid argument, request body or query param",
        ),
        NvError::Unauthenticated(_) => (
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request not authenticated due to missing, invalid, or expired credentials. A new authentication is required.",
        ),
        NvError::PermissionDenied => (
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Client does not have sufficient permissions to perform this action.",
        ),
        NvError::NotAuthenticatedByMobileNetwork => (
            StatusCode::FORBIDDEN,
            "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK",
            "Client must authenticate via the mobile network to use this service",
        ),
        NvError::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND", "The specified resource is not found."),
        NvError::MethodNotAllowed { .. } => (
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "The requested method is not allowed/supported on the target resource.",
        ),
        NvError::NotAcceptable => (
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
            "The server cannot produce a response matching the content requested by the client through `Accept-*` headers.",
        ),
        NvError::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "The server refuses to accept the request because the payload format is in an unsupported format.",
        ),
        NvError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "Service Unavailable."),
    }
}

/// A response builder with the headers every NV response carries, success or error.
pub(crate) fn builder(status: StatusCode, correlator: &Correlator) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")));
    // The correlator is pattern-valid (visible ASCII) by construction; never echo anything else.
    if let Ok(v) = HeaderValue::from_str(correlator.response_value()) {
        b.insert_header((X_CORRELATOR, v));
    }
    b
}

/// The wire form of `err`.
pub(crate) fn error_response(err: &NvError, correlator: &Correlator) -> HttpResponse {
    let (status, code, message) = describe(err);
    let mut b = builder(status, correlator);
    match err {
        NvError::Unauthenticated(AuthFailure::NoCredentials) => {
            b.insert_header((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        NvError::Unauthenticated(AuthFailure::InvalidToken) => {
            b.insert_header((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\"")));
        }
        NvError::MethodNotAllowed { allow } => {
            b.insert_header((ALLOW, HeaderValue::from_static(allow)));
        }
        _ => {}
    }
    b.json(ErrorInfo { status: status.as_u16(), code, message })
}
