//! The UserInfo endpoint (OIDC Core §5.3). It answers `sub`, and `phone_number` /
//! `phone_number_verified` (OIDC Core §5.1) only when the token holds the `phone` scope AND the
//! legal basis of its purpose allows disclosing the number: `contract`, or `consent` with a
//! consent on record that names `phone` (checked now, so a withdrawn consent stops it).
//! `legitimate_interest` never discloses it (the purpose is e.g. fraud prevention, not sharing
//! the number). `phone_number_verified` is true only when the mobile network or the SIM
//! established the subscriber (`amr` nba/sim), never for an asserted `tel:` subject.
//! Reading a token here does not spend it: Number Verification's single use is its own.

use crate::consent::LegalBasis;
use crate::AuthorizationServer;
use numbat_core::scope::OPENID;
use numbat_core::{AccessTokenClaims, AccessTokenRecord, ACCESS_TOKEN_TYP};
use numbat_store::{keys, StoreError};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
}

/// The OIDC claim scope for `phone_number` and `phone_number_verified`.
pub const PHONE: &str = "phone";

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
        // P-57: a token of a revoked grant is dead with it.
        if let Some(g) = &rec.grant {
            if self.live_grant(g).await?.is_none() {
                return Err(UserInfoError::InvalidToken);
            }
        }
        let Some(msisdn) = rec.msisdn.as_ref().filter(|_| rec.has_scope(OPENID)) else {
            return Err(UserInfoError::InsufficientScope);
        };
        let mut info = UserInfo { sub: c.sub, phone_number: None, phone_number_verified: None };
        if rec.has_scope(PHONE) && self.may_disclose_phone(&rec.client_id, msisdn, &rec.scope).await? {
            info.phone_number = Some(msisdn.as_str().to_owned());
            info.phone_number_verified = Some(rec.amr.iter().any(|a| a.is_mobile_network()));
        }
        Ok(info)
    }

    /// The legal-basis rule for the phone claims (module docs).
    async fn may_disclose_phone(&self, client_id: &str, msisdn: &numbat_core::Msisdn, scope: &str) -> Result<bool, StoreError> {
        let Some(purpose) = scope.split(' ').find(|s| s.starts_with(numbat_core::scope::PURPOSE_PREFIX)) else {
            return Ok(false);
        };
        Ok(match self.legal_basis(purpose) {
            LegalBasis::Contract => true,
            LegalBasis::LegitimateInterest => false,
            LegalBasis::Consent => self
                .consent_on_record(client_id, msisdn, purpose)
                .await?
                .is_some_and(|r| r.scopes.iter().any(|s| s == PHONE)),
        })
    }
}
