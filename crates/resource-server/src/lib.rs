//! numbat-resource-server: the CAMARA Number Verification v2 resource server (design.md, step 3).
//!
//! The RS trusts only tokens. A request to `/verify` or `/device-phone-number` goes through the
//! checks in the order NVR-09 fixes:
//!
//! 1. [`access`]: `Authorization: Bearer <at+jwt>`, signature against the store-backed JWKS,
//!    `iss`/`aud`/`exp`/`iat`, then `take(at:{jti})` — single use (NVR-05) and the MSISDN in one
//!    round trip → 401 `UNAUTHENTICATED` (or 503 `UNAVAILABLE` when the store is down);
//! 2. scope (NVR-07) and a bound subscriber (NVR-08) → 403 `PERMISSION_DENIED`;
//! 3. `amr` (NVR-06) → 403 `NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK`;
//! 4. [`correlator`]: `x-correlator` syntax (NVC-01) → 400 `INVALID_ARGUMENT`;
//! 5. [`number_verification`]: media type, `Accept`, body → 415 / 406 / 400;
//! 6. the answer, compared in constant time (NVM-02, NVM-03).
//!
//! Domain modules speak [`NvError`]; [`http`] is the only module that knows actix and the only
//! place that turns an error into a CAMARA `{status, code, message}` body.

pub mod access;
pub mod correlator;
pub mod error;
pub mod http;
pub mod number_verification;

pub use access::{Credentials, Grant};
pub use correlator::Correlator;
pub use error::{AuthFailure, NvError};
pub use number_verification::{Operation, VerifyInput};

use numbat_core::Clock;
use numbat_jose::{Alg, JwksCache};
use numbat_store::SharedStore;
use std::sync::Arc;

/// What the resource server checks access tokens against.
#[derive(Debug, Clone)]
pub struct ResourceServerConfig {
    /// Expected `iss` of access tokens.
    pub issuer: String,
    /// Expected `aud` of access tokens (this resource server).
    pub audience: String,
    /// JWS algorithms accepted on access tokens (never `none`, never HMAC: `numbat_jose::Alg`).
    pub access_token_algs: Vec<Alg>,
    /// Tolerated clock difference for `iat` in the future, in seconds.
    pub clock_skew_s: i64,
}

/// The Number Verification resource server: configuration, the shared store (token records),
/// the published keys and the clock. Cheap to share behind an `Arc`.
pub struct ResourceServer {
    pub(crate) cfg: ResourceServerConfig,
    pub(crate) store: SharedStore,
    pub(crate) jwks: Arc<JwksCache>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl ResourceServer {
    pub fn new(cfg: ResourceServerConfig, store: SharedStore, jwks: Arc<JwksCache>, clock: Arc<dyn Clock>) -> Self {
        ResourceServer { cfg, store, jwks, clock }
    }

    pub fn config(&self) -> &ResourceServerConfig {
        &self.cfg
    }
}
