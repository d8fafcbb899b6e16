//! GSMA TS.43 temporary tokens (P-51): issued to a device the network identified, bound to the
//! subscriber and to the app and operation targets they were issued for, short-lived and
//! single-use. A valid token proves prior SIM-based authentication (`amr` `sim`, P-19, P-72).
//!
//! Validation goes through [`OperatorTokens`]; [`StoreOperatorTokens`] is the built-in one (an
//! HTTP adapter to an operator's own entitlement server implements the same trait).

use numbat_core::Msisdn;
use numbat_store::{SharedStore, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// TS.43 operation targets numbat knows.
pub const VERIFY_PHONE_NUMBER: &str = "VerifyPhoneNumber";
pub const GET_PHONE_NUMBER: &str = "GetPhoneNumber";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorTokenRecord {
    pub v: u8,
    pub msisdn: Msisdn,
    pub app: String,
    pub targets: Vec<String>,
    pub exp: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum OperatorTokenError {
    /// Unknown, expired, already used, or not issued for this operation target.
    Invalid,
    Unavailable,
}

impl From<StoreError> for OperatorTokenError {
    fn from(_: StoreError) -> Self {
        OperatorTokenError::Unavailable
    }
}

#[async_trait::async_trait]
pub trait OperatorTokens: Send + Sync {
    /// Consume `token` for `target` and return its subscriber. Single use whatever the outcome.
    async fn redeem(&self, token: &str, target: &str, now: i64) -> Result<Msisdn, OperatorTokenError>;
}

fn key(token: &str) -> String {
    format!("ts43:{}", numbat_store::keys::digest(token))
}

pub struct StoreOperatorTokens {
    store: SharedStore,
}

impl StoreOperatorTokens {
    pub fn new(store: SharedStore) -> Self {
        StoreOperatorTokens { store }
    }

    /// Issue a token for `msisdn`, valid `ttl_s` seconds. Returns the token and its expiry.
    pub async fn issue(
        &self,
        msisdn: Msisdn,
        app: &str,
        targets: Vec<String>,
        now: i64,
        ttl_s: i64,
    ) -> Result<(String, i64), StoreError> {
        let mut b = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("system RNG");
        let token = numbat_jose::b64_encode(&b);
        let rec = OperatorTokenRecord { v: 1, msisdn, app: app.to_owned(), targets, exp: now + ttl_s };
        let bytes = serde_json::to_vec(&rec).map_err(|e| StoreError::Config(e.to_string()))?;
        self.store.put(&key(&token), &bytes, Duration::from_secs(ttl_s.max(1) as u64)).await?;
        Ok((token, rec.exp))
    }
}

#[async_trait::async_trait]
impl OperatorTokens for StoreOperatorTokens {
    async fn redeem(&self, token: &str, target: &str, now: i64) -> Result<Msisdn, OperatorTokenError> {
        if token.is_empty() || token.len() > 512 {
            return Err(OperatorTokenError::Invalid);
        }
        let bytes = self.store.take(&key(token)).await?.ok_or(OperatorTokenError::Invalid)?;
        let rec: OperatorTokenRecord = serde_json::from_slice(&bytes).map_err(|_| OperatorTokenError::Invalid)?;
        if rec.v != 1 || rec.exp <= now || !rec.targets.iter().any(|t| t == target) {
            return Err(OperatorTokenError::Invalid);
        }
        Ok(rec.msisdn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use numbat_store::MemoryStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn p51_tokens_are_single_use_and_bound_to_their_target() {
        let t = StoreOperatorTokens::new(Arc::new(MemoryStore::new()));
        let m = Msisdn::parse("+34600000001").unwrap();
        let (tok, _) = t.issue(m.clone(), "ap2009", vec![VERIFY_PHONE_NUMBER.into()], 1000, 60).await.unwrap();
        assert_eq!(t.redeem(&tok, VERIFY_PHONE_NUMBER, 1001).await.unwrap(), m);
        assert_eq!(t.redeem(&tok, VERIFY_PHONE_NUMBER, 1001).await, Err(OperatorTokenError::Invalid), "reused");
        let (tok, _) = t.issue(m.clone(), "ap2009", vec![GET_PHONE_NUMBER.into()], 1000, 60).await.unwrap();
        assert_eq!(t.redeem(&tok, VERIFY_PHONE_NUMBER, 1001).await, Err(OperatorTokenError::Invalid), "other target");
        let (tok, _) = t.issue(m, "ap2009", vec![VERIFY_PHONE_NUMBER.into()], 1000, 60).await.unwrap();
        assert_eq!(t.redeem(&tok, VERIFY_PHONE_NUMBER, 1061).await, Err(OperatorTokenError::Invalid), "expired");
        assert_eq!(t.redeem("forged", VERIFY_PHONE_NUMBER, 1001).await, Err(OperatorTokenError::Invalid));
    }
}

/// Which apps and operation targets the entitlement endpoint serves, and token lifetime.
#[derive(Debug, Clone)]
pub struct Ts43Config {
    /// ODSA app ids, e.g. `ap2009`, `ap2006`.
    pub apps: Vec<String>,
    pub targets: Vec<String>,
    pub token_ttl_s: i64,
}

impl Default for Ts43Config {
    fn default() -> Self {
        Ts43Config {
            apps: vec!["ap2009".into(), "ap2006".into()],
            targets: vec![VERIFY_PHONE_NUMBER.into(), GET_PHONE_NUMBER.into()],
            token_ttl_s: 300,
        }
    }
}

/// The `AcquireTemporaryToken` answer (TS.43 field names).
#[derive(Debug, Serialize)]
pub struct TemporaryToken {
    #[serde(rename = "TemporaryToken")]
    pub token: String,
    /// ISO 8601 UTC.
    #[serde(rename = "TemporaryTokenExpiry")]
    pub expiry: String,
    #[serde(rename = "OperationTargets")]
    pub targets: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum EntitlementError {
    /// Bad or missing `app`, `operation` or `operation_targets`.
    InvalidRequest(&'static str),
    /// The network did not identify the device.
    NotIdentified,
    /// The admin token is missing or wrong (mint API).
    Forbidden,
    Unavailable,
}

impl From<StoreError> for EntitlementError {
    fn from(_: StoreError) -> Self {
        EntitlementError::Unavailable
    }
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
pub fn iso8601_utc(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

impl Ts43Config {
    /// Check `app` and the comma-separated `operation_targets`.
    pub fn check(&self, app: Option<&str>, targets: Option<&str>) -> Result<(String, Vec<String>), EntitlementError> {
        let app = app.ok_or(EntitlementError::InvalidRequest("app missing"))?;
        if !self.apps.iter().any(|a| a == app) {
            return Err(EntitlementError::InvalidRequest("app not served"));
        }
        let raw = targets.ok_or(EntitlementError::InvalidRequest("operation_targets missing"))?;
        let mut out: Vec<String> = Vec::new();
        for t in raw.split(',').map(str::trim) {
            if !self.targets.iter().any(|k| k == t) {
                return Err(EntitlementError::InvalidRequest("unknown operation target"));
            }
            if !out.iter().any(|o| o == t) {
                out.push(t.to_owned());
            }
        }
        Ok((app.to_owned(), out))
    }
}

#[cfg(test)]
mod time_tests {
    use super::iso8601_utc;

    #[test]
    fn iso8601() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
