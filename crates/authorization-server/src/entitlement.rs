//! The TS.43 entitlement side (issue 5 item 1): `AcquireTemporaryToken` for a device the
//! network identified, and an admin API that mints a token for a given subscriber (for
//! operators whose own entitlement server did the SIM authentication).

use crate::params::Params;
use crate::ts43::{iso8601_utc, EntitlementError, TemporaryToken};
use crate::AuthorizationServer;
use numbat_core::{IdentityOutcome, Msisdn};

impl AuthorizationServer {
    /// `GET /entitlement/v1?app=…&operation=AcquireTemporaryToken&operation_targets=…`.
    pub async fn acquire_temporary_token(&self, p: &Params, identity: IdentityOutcome) -> Result<TemporaryToken, EntitlementError> {
        if p.has_problem() {
            return Err(EntitlementError::InvalidRequest("repeated or oversized parameter"));
        }
        if p.get("operation") != Some("AcquireTemporaryToken") {
            return Err(EntitlementError::InvalidRequest("operation must be AcquireTemporaryToken"));
        }
        let (app, targets) = self.ts43_cfg.check(p.get("app"), p.get("operation_targets"))?;
        let msisdn = match identity {
            IdentityOutcome::Identified(i) => i.msisdn,
            IdentityOutcome::NotIdentified => return Err(EntitlementError::NotIdentified),
            IdentityOutcome::Unavailable => return Err(EntitlementError::Unavailable),
        };
        self.mint_temporary_token(msisdn, &app, targets).await
    }

    /// The admin mint API (`POST /admin/ts43/tokens`), authenticated with the admin token.
    pub async fn admin_mint_temporary_token(
        &self,
        admin_bearer: Option<&str>,
        msisdn: &str,
        app: Option<&str>,
        targets: Option<&str>,
    ) -> Result<TemporaryToken, EntitlementError> {
        if !self.admin_token_ok(admin_bearer) {
            return Err(EntitlementError::Forbidden);
        }
        let msisdn = Msisdn::parse(msisdn).map_err(|_| EntitlementError::InvalidRequest("msisdn must be E.164"))?;
        let (app, targets) = self.ts43_cfg.check(app.or(Some("ap2009")), targets.or(Some("VerifyPhoneNumber")))?;
        self.mint_temporary_token(msisdn, &app, targets).await
    }

    async fn mint_temporary_token(&self, msisdn: Msisdn, app: &str, targets: Vec<String>) -> Result<TemporaryToken, EntitlementError> {
        let now = self.clock.now();
        let (token, exp) = self.ts43_tokens.issue(msisdn, app, targets.clone(), now, self.ts43_cfg.token_ttl_s).await?;
        Ok(TemporaryToken { token, expiry: iso8601_utc(exp), targets })
    }

    /// Constant-time comparison of SHA-256 digests (lengths never leak either).
    pub(crate) fn admin_token_ok(&self, presented: Option<&str>) -> bool {
        self.admin_token.verify(presented)
    }
}
