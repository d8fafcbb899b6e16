//! The UserInfo endpoint (OIDC Core §5.3). It answers `sub` only: the phone number is never a
//! claim here until the consent and legal-basis rules (a later issue) allow the `phone` scope.
//! Reading a token here does not spend it: Number Verification's single use is its own.

use crate::AuthorizationServer;
use numbat_core::scope::OPENID;
use numbat_core::{AccessTokenClaims, AccessTokenRecord, ACCESS_TOKEN_TYP};
use numbat_store::{keys, StoreError};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
}

/// RFC 6750 §3.1 errors.
#[derive(Debug, PartialEq, Eq)]
pub enum UserInfoError {
    /// No bearer token at all: `WWW-Authenticate: Bearer` without an error code.
    Missing,
    InvalidToken,
    InsufficientScope,
    Unavailable,
}

impl From<StoreError> for UserInfoError {
    fn from(_: StoreError) -> Self {
        UserInfoError::Unavailable
    }
}

impl AuthorizationServer {
    pub async fn userinfo(&self, bearer: Option<&str>) -> Result<UserInfo, UserInfoError> {
        let token = bearer.filter(|t| !t.is_empty()).ok_or(UserInfoError::Missing)?;
        let v = self.keys.verify(token, &[self.cfg.access_token_alg]).map_err(|_| UserInfoError::InvalidToken)?;
        if v.header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(UserInfoError::InvalidToken);
        }
        let c: AccessTokenClaims = serde_json::from_slice(&v.payload).map_err(|_| UserInfoError::InvalidToken)?;
        if c.iss != self.cfg.issuer || c.exp <= self.clock.now() {
            return Err(UserInfoError::InvalidToken);
        }
        let rec = self
            .store
            .get(&keys::access_token(&c.jti))
            .await?
            .and_then(|b| AccessTokenRecord::decode(&b))
            .ok_or(UserInfoError::InvalidToken)?;
        if rec.msisdn.is_none() || !rec.has_scope(OPENID) {
            return Err(UserInfoError::InsufficientScope);
        }
        Ok(UserInfo { sub: c.sub })
    }
}
