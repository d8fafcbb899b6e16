//! The out-of-band confirmation code a consent approval needs (P-21): the operator's channel,
//! the code, and its check (see the module doc of [`super`]).

use super::{ct_eq, PendingConsent};
use crate::error::{AuthorizeError, ErrorCode, OAuthError};
use crate::AuthorizationServer;
use numbat_core::Msisdn;
use numbat_store::{keys, StoreError};
use std::time::Duration;

/// Digits of a consent confirmation code (P-21).
pub const CODE_DIGITS: usize = 6;
/// Tries at the confirmation code per consent page; the last wrong one destroys the page.
pub const MAX_CODE_ATTEMPTS: u64 = 3;

/// A confirmation code could not be handed to the operator's channel (the page is not shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationError(pub String);

impl std::fmt::Display for ConfirmationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The operator's out-of-band channel to the subscriber (SMS, USSD, app push), which the app
/// that made the request can neither read nor drive (P-21). Implemented by the binary.
#[async_trait::async_trait]
pub trait ConfirmationChannel: Send + Sync {
    /// Deliver `code` to the subscriber `to`, naming the client and the purpose asked for.
    /// `reference` is the consent page's pending id (for logs only; never the MSISDN in a log).
    async fn send_code(
        &self,
        to: &Msisdn,
        code: &str,
        client_id: &str,
        purpose: &str,
        reference: &str,
    ) -> Result<(), ConfirmationError>;
}

/// A uniformly random code of [`CODE_DIGITS`] digits.
pub(super) fn random_code() -> String {
    let rng = ring::rand::SystemRandom::new();
    let modulus = 10u32.pow(CODE_DIGITS as u32);
    // Rejection sampling: no modulo bias.
    let limit = u32::MAX - u32::MAX % modulus;
    loop {
        let mut b = [0u8; 4];
        ring::rand::SecureRandom::fill(&rng, &mut b).expect("system RNG");
        let n = u32::from_le_bytes(b);
        if n < limit {
            return format!("{:0width$}", n % modulus, width = CODE_DIGITS);
        }
    }
}

/// The code as typed: spaces and dashes dropped; anything but digits of the right length is
/// simply wrong.
pub(super) fn typed_code(v: &str) -> Option<String> {
    if v.len() > 32 {
        return None;
    }
    let c: String = v.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (c.len() == CODE_DIGITS && c.bytes().all(|b| b.is_ascii_digit())).then_some(c)
}

impl AuthorizationServer {
    /// MAC of a confirmation code, bound to its pending record.
    pub(super) fn confirmation_mac(&self, pending_id: &str, code: &str) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.derive_key);
        ctx.update(b"consent-confirmation\n");
        ctx.update(pending_id.as_bytes());
        ctx.update(b"\n");
        ctx.update(code.as_bytes());
        numbat_jose::b64_encode(ctx.sign().as_ref())
    }

    /// P-21: an approval carries the code the operator sent out of band. Every try counts
    /// (atomically, in the store); a wrong one shows the page again, the last wrong one destroys
    /// the pending record.
    pub(super) async fn check_confirmation(
        &self,
        id: &str,
        rec: &PendingConsent,
        csrf: &str,
        cookie: &str,
        typed: Option<&str>,
        now: i64,
    ) -> Result<(), AuthorizeError> {
        let store_err = |e: StoreError| AuthorizeError::ErrorPage(e.into());
        let remaining_s = (rec.exp - now).max(1);
        let tries = self
            .store
            .rate_limit(
                &keys::consent_attempts(id),
                MAX_CODE_ATTEMPTS,
                Duration::from_secs(self.consent_cfg.page_ttl_s.max(1) as u64),
            )
            .await
            .map_err(store_err)?;
        let right = tries.allowed
            && typed
                .and_then(typed_code)
                .is_some_and(|c| ct_eq(&self.confirmation_mac(id, &c), &rec.confirm));
        if right {
            return Ok(());
        }
        let left = MAX_CODE_ATTEMPTS.saturating_sub(tries.count);
        if left == 0 {
            self.store
                .delete(&keys::consent_pending(id))
                .await
                .map_err(store_err)?;
            tracing::warn!(client_id = %rec.code.client_id, "consent request closed after too many wrong confirmation codes");
            return Err(AuthorizeError::ErrorPage(OAuthError::new(
                ErrorCode::AccessDenied,
                "too many wrong confirmation codes; this consent request is closed (P-21)",
            )));
        }
        let notice = format!(
            "That is not the confirmation code we sent you. {left} attempt{} left.",
            if left == 1 { "" } else { "s" }
        );
        Err(AuthorizeError::Consent(Box::new(self.prompt_for(
            &rec.code,
            id,
            csrf,
            cookie,
            remaining_s,
            Some(notice),
        ))))
    }
}
