//! What can go wrong at the resource server, in domain terms. The wire form (CAMARA ErrorInfo,
//! status, `WWW-Authenticate`, `x-correlator`) is decided in one place only: `http::errors`.

/// Why a request is not authenticated. Both answer the same generic 401 `UNAUTHENTICATED`
/// (C-04: no detail leak); they differ only in the `WWW-Authenticate` challenge (RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No bearer credentials at all (no `Authorization`, or another scheme such as `Basic`).
    NoCredentials,
    /// Bearer credentials that are malformed, invalid, expired, used or revoked.
    InvalidToken,
}

/// Every outcome of a Number Verification request other than the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NvError {
    /// NVE-02 / C-16: missing, invalid, expired or already used token (NVR-05).
    #[error("request not authenticated")]
    Unauthenticated(AuthFailure),
    /// NVE-03 / C-17: the scope is missing (NVR-07) or no subscriber is bound (NVR-08).
    #[error("permission denied")]
    PermissionDenied,
    /// NVE-04: the subscriber was not authenticated by the mobile network (NVR-06).
    #[error("not authenticated by the mobile network")]
    NotAuthenticatedByMobileNetwork,
    /// NVE-01 / C-10: body, schema or header syntax (NVB-01..05, NVC-03).
    #[error("invalid argument")]
    InvalidArgument,
    /// C-15: `Content-Type` is not `application/json` (NVB-06).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// C-14: `Accept` excludes JSON (NVB-06).
    #[error("not acceptable")]
    NotAcceptable,
    /// C-13: wrong HTTP method on a known path (NVB-06); `allow` lists the one that works.
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    /// C-20: unknown path under the API base path.
    #[error("not found")]
    NotFound,
    /// C-40: a dependency (the store, the published keys) is unreachable; never a 500, never a guess.
    #[error("service unavailable")]
    Unavailable,
}
