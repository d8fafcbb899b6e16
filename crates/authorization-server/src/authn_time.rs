//! `auth_time`: when the subscriber was authenticated (OIDC Core §2, §3.1.2.1 `max_age` and
//! `prompt=login`; S-02, S-03).
//!
//! numbat authenticates through the mobile network. The network authenticated the SIM when the
//! device's data session started (the binding's `since`: RADIUS session start, provisioning time),
//! and the ingress confirms at every `/authorize` that the request comes from that session. So the
//! data session plays the part of an OP's login session: `auth_time` is its start, the same for
//! every authorization of one session (the OIDF modules `oidcc-prompt-none-logged-in`,
//! `oidcc-id-token-hint` and `oidcc-max-age-10000` compare it across two authorizations).
//!
//! A request with `prompt=login`, or whose `max_age` has run out since the last authentication,
//! asks the OP to re-authenticate. The live network confirmation of this very request is that
//! re-authentication, so its `auth_time` is now; the time is recorded for the data session
//! (`authn:{subject}:{since}`, one write, only on this path) so that a later `max_age` request in
//! the same session measures from it. Requests with neither parameter never touch the store: the
//! Number Verification hot path stays as it was (and on Number Verification requests the implied
//! `prompt=none` overrides `login`, P-22).
//!
//! So a request without `max_age` reports the session's start even after a re-authentication:
//! an older time than one already issued, never a newer one than the truth (reading the record
//! there would cost every request a store round trip). An identity vouched for at this very
//! request (header enrichment: the session starts now) is fresh by itself and records nothing.

use crate::AuthorizationServer;
use numbat_core::Identity;
use numbat_store::{keys, StoreError};
use std::time::Duration;

/// How long a re-authentication is remembered. Past this a `max_age` request measures from the
/// data session's start again, which can only make numbat re-authenticate more often, never less.
const REAUTH_TTL: Duration = Duration::from_secs(24 * 3600);

/// What the request asks of the authentication's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Freshness {
    /// `max_age` in seconds (already checked to be a non-negative integer).
    pub max_age: Option<u64>,
    /// `prompt` contains `login`.
    pub login: bool,
}

impl AuthorizationServer {
    /// The `auth_time` of an authorization for `identity` (see the module docs).
    pub(crate) async fn auth_time(&self, identity: &Identity, want: Freshness) -> Result<i64, StoreError> {
        let now = self.clock.now();
        // The network's authentication of the data session; never in the future.
        let session_start = identity.authenticated_at.min(now);
        if (!want.login && want.max_age.is_none()) || session_start == now {
            return Ok(session_start);
        }
        let key = keys::authn_reauth(&self.subject_key(&identity.msisdn), session_start);
        if let (false, Some(max_age)) = (want.login, want.max_age) {
            let last = self
                .store
                .get(&key)
                .await?
                .and_then(|v| std::str::from_utf8(&v).ok().and_then(|s| s.parse::<i64>().ok()))
                .filter(|t| *t <= now)
                .map_or(session_start, |t| t.max(session_start));
            if now.saturating_sub(last) <= i64::try_from(max_age).unwrap_or(i64::MAX) {
                return Ok(last);
            }
        }
        self.store.put(&key, now.to_string().as_bytes(), REAUTH_TTL).await?;
        Ok(now)
    }
}
