//! Consent (P-20, P-21, P-45, P-54, P-56, P-69; E-AZ-03, E-AZ-06, E-TK-20/30/40).
//!
//! - Each `dpv:` purpose has a legal basis from configuration: `contract`, `legitimate_interest`
//!   or `consent` ([`LegalBasis`]). Only `consent` needs a consent on record; `offline_access`
//!   (a refresh token, OIDC Core §11, P-54) needs one whatever the basis.
//! - A consent is recorded per (client, subscriber, purpose) under `keys::consent`, the
//!   subscriber as an opaque server-keyed digest (never the MSISDN in a key). It names the
//!   scopes consented to and whether offline access was; it lives `ttl_s`.
//! - Where consent is needed and not on record: `prompt=none` (and every Number Verification
//!   request, P-22) → `consent_required` (E-AZ-06); otherwise the consent page, whose decision
//!   comes back through [`AuthorizationServer::consent_decision`] (`http/consent.rs`).
//! - The consent page cannot be completed by a hostile page or app in the background (P-21):
//!   the decision needs the pending record's id and CSRF token (only in the page, unreadable
//!   cross-origin), a `SameSite=Strict` cookie set with the page, the same subscriber identified
//!   by the network on the POST as on the GET, a minimum human delay, and the page refuses to
//!   be framed (`X-Frame-Options: DENY`, `frame-ancestors 'none'`). The pending record is
//!   single use (`take`) and short-lived.
//! - None of that stops a script on the subscriber's own device (it can load the page, keep the
//!   cookie, read the token and wait), so an approval also needs proof of a human through a
//!   channel the requesting app can neither read nor script (P-21): when the page is served, the
//!   operator sends the subscriber a one-time confirmation code out of band
//!   ([`ConfirmationChannel`]: SMS, USSD or app push behind a webhook). The code is
//!   [`CODE_DIGITS`] digits, kept only as a MAC bound to the pending record, compared in
//!   constant time, single use with the record, expires with the page, and after
//!   [`MAX_CODE_ATTEMPTS`] wrong tries the record is destroyed. Codes sent per subscriber are
//!   rate-limited (`max_codes_per_hour`). Denying needs no code. Without a channel nothing can
//!   be asked: a request that needs consent gets `consent_required` (E-AZ-06).
//! - A revoked consent (admin API) stops new tokens (consent_required / access_denied /
//!   invalid_grant) and refresh (P-56) at once.

use crate::code::CodeRecord;
use crate::error::{AuthorizeError, ErrorCode, OAuthError};
use crate::params::Params;
use crate::AuthorizationServer;
use numbat_core::scope::OPENID;
use numbat_core::{IdentityOutcome, Msisdn, ScopeSet};
use numbat_store::{keys, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

mod admin;
mod confirmation;
use confirmation::random_code;

pub use admin::{ConsentAdminError, ConsentAdminRequest, ConsentView};
pub use confirmation::{ConfirmationChannel, ConfirmationError, CODE_DIGITS, MAX_CODE_ATTEMPTS};

pub const OFFLINE_ACCESS: &str = "offline_access";

/// Why the operator may process data for a purpose (P-20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    Contract,
    LegitimateInterest,
    Consent,
}

impl LegalBasis {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "contract" => Some(LegalBasis::Contract),
            "legitimate_interest" => Some(LegalBasis::LegitimateInterest),
            "consent" => Some(LegalBasis::Consent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Contract => "contract",
            LegalBasis::LegitimateInterest => "legitimate_interest",
            LegalBasis::Consent => "consent",
        }
    }
}

/// Consent settings (`[consent]`).
#[derive(Debug, Clone)]
pub struct ConsentConfig {
    /// Legal basis per `dpv:` purpose.
    pub bases: HashMap<String, LegalBasis>,
    /// The basis of a purpose not listed.
    pub default_basis: LegalBasis,
    /// How long a recorded consent lasts, seconds.
    pub ttl_s: i64,
    /// How long the consent page stays answerable, seconds.
    pub page_ttl_s: i64,
    /// The earliest a decision is accepted after the page was served, seconds (P-21).
    pub min_decision_s: i64,
    /// Mark the consent cookie `Secure` (an https issuer).
    pub secure_cookie: bool,
    /// Confirmation codes sent to one subscriber per hour, at most (P-21).
    pub max_codes_per_hour: u64,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig {
            bases: HashMap::new(),
            default_basis: LegalBasis::Consent,
            ttl_s: 365 * 24 * 3600,
            page_ttl_s: 300,
            min_decision_s: 1,
            secure_cookie: false,
            max_codes_per_hour: 10,
        }
    }
}

/// A recorded consent (the value under `keys::consent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub v: u8,
    pub client_id: String,
    pub purpose: String,
    /// The API and claim scopes consented to (never `openid`, the purpose or `offline_access`).
    pub scopes: Vec<String>,
    /// Offline access (a refresh token, OIDC Core §11) was consented to.
    pub offline_access: bool,
    pub granted_at: i64,
    pub exp: i64,
}

impl ConsentRecord {
    pub const VERSION: u8 = 1;

    fn decode(b: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(b)
            .ok()
            .filter(|r| r.v == Self::VERSION)
    }

    /// Every consentable scope of `scope` is consented, and offline access where asked.
    pub fn covers(&self, scope: &ScopeSet) -> bool {
        scope
            .iter()
            .filter(|s| consentable(s))
            .all(|s| self.scopes.iter().any(|c| c == s))
            && (!scope.contains(OFFLINE_ACCESS) || self.offline_access)
    }
}

/// The scope values a consent names: not `openid`, the purpose or `offline_access`.
fn consentable(s: &str) -> bool {
    s != OPENID && s != OFFLINE_ACCESS && !s.starts_with(numbat_core::scope::PURPOSE_PREFIX)
}

/// What a request needs before tokens may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentNeed {
    /// Nothing more: the basis is not consent (and no offline access), or consent is on record.
    Satisfied,
    /// Only `offline_access` lacks consent: without interaction it is ignored (OIDC Core §11).
    OfflineOnly,
    /// The purpose's basis is consent and no consent covering the request is on record.
    Required,
}

/// How an interactive-capable request goes on after the consent check.
pub(crate) enum Gate {
    Proceed(ScopeSet),
    Ask(ScopeSet),
    Refuse(OAuthError),
}

/// What the consent page shows and binds (rendered by `http/consent.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPrompt {
    pub pending_id: String,
    pub csrf_token: String,
    /// Value of the `SameSite=Strict` cookie the decision must carry.
    pub cookie: String,
    pub client_id: String,
    pub purpose: String,
    pub scopes: Vec<String>,
    pub offline_access: bool,
    /// CSP `form-action` source of the redirect URI: browsers check the redirect that follows
    /// the form submission against it.
    pub redirect_source: String,
    pub ttl_s: i64,
    pub secure_cookie: bool,
    /// Why the page is shown again (a wrong confirmation code), or nothing.
    pub notice: Option<String>,
}

/// The name of the consent-page cookie.
pub const CONSENT_COOKIE: &str = "numbat_consent";

const PENDING_VERSION: u8 = 2;

/// The authorization request waiting on the consent page (value of `keys::consent_pending`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingConsent {
    v: u8,
    /// Everything the code will hold once approved (its `exp` is set then).
    code: CodeRecord,
    state: Option<String>,
    issuer: String,
    /// SHA-256 of the CSRF token and of the cookie value.
    csrf: String,
    cookie: String,
    /// MAC of the confirmation code sent out of band, bound to this record (P-21).
    confirm: String,
    not_before: i64,
    exp: i64,
}

/// What the consent form sent, as read by the HTTP adapter.
pub struct ConsentSubmission<'a> {
    pub form: &'a Params,
    pub cookie: Option<&'a str>,
    /// False when the browser says the POST came from another origin (`Origin`, `Sec-Fetch-Site`).
    pub same_origin: bool,
    pub identity: IdentityOutcome,
}

fn sha256_b64(s: &str) -> String {
    numbat_jose::b64_encode(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref())
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// CSP source for the redirect URI: its origin (http/https) or its scheme (app schemes).
fn redirect_source(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u.origin().ascii_serialization(),
        Ok(u) => format!("{}:", u.scheme()),
        Err(_) => "'none'".into(),
    }
}

impl AuthorizationServer {
    pub fn with_consent(mut self, cfg: ConsentConfig) -> Self {
        self.consent_cfg = cfg;
        self
    }

    /// The operator's channel for consent confirmation codes (P-21). Without one, requests that
    /// need consent get `consent_required`: nothing can be approved on the device alone.
    pub fn with_confirmation_channel(mut self, c: Arc<dyn ConfirmationChannel>) -> Self {
        self.consent_channel = Some(c);
        self
    }

    /// The legal basis of a purpose (P-20).
    pub fn legal_basis(&self, purpose: &str) -> LegalBasis {
        self.consent_cfg
            .bases
            .get(purpose)
            .copied()
            .unwrap_or(self.consent_cfg.default_basis)
    }

    /// An opaque, stable key for a subscriber (server-keyed HMAC; not reversible without the
    /// server secret, unlike a plain hash of a phone number).
    pub(crate) fn subject_key(&self, msisdn: &Msisdn) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.derive_key);
        ctx.update(b"consent-subject\n");
        ctx.update(msisdn.as_str().as_bytes());
        numbat_jose::b64_encode(&ctx.sign().as_ref()[..24])
    }

    fn consent_key(&self, client_id: &str, msisdn: &Msisdn, purpose: &str) -> String {
        keys::consent(client_id, &self.subject_key(msisdn), purpose)
    }

    pub(crate) async fn consent_on_record(
        &self,
        client_id: &str,
        msisdn: &Msisdn,
        purpose: &str,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .get(&self.consent_key(client_id, msisdn, purpose))
            .await?
            .and_then(|b| ConsentRecord::decode(&b))
            .filter(|r| r.exp > now && r.client_id == client_id && r.purpose == purpose))
    }

    /// What `scope` needs for this client and subscriber. No store read unless the purpose's
    /// basis is consent or offline access is asked for (the Number Verification path with a
    /// non-consent basis stays at its cost).
    pub async fn consent_need(
        &self,
        client_id: &str,
        msisdn: &Msisdn,
        scope: &ScopeSet,
    ) -> Result<ConsentNeed, StoreError> {
        let Ok(purpose) = scope.single_purpose() else {
            return Ok(ConsentNeed::Required);
        };
        let basis = self.legal_basis(purpose.as_str());
        let offline = scope.contains(OFFLINE_ACCESS);
        if basis != LegalBasis::Consent && !offline {
            return Ok(ConsentNeed::Satisfied);
        }
        let rec = self
            .consent_on_record(client_id, msisdn, purpose.as_str())
            .await?;
        Ok(match rec {
            Some(r) if r.covers(scope) => ConsentNeed::Satisfied,
            _ if basis != LegalBasis::Consent => ConsentNeed::OfflineOnly,
            Some(r) if r.covers(&without_offline(scope)) => ConsentNeed::OfflineOnly,
            _ => ConsentNeed::Required,
        })
    }

    /// Record (or widen) the consent for `scope`'s purpose.
    pub(crate) async fn record_consent(
        &self,
        client_id: &str,
        msisdn: &Msisdn,
        scope: &ScopeSet,
    ) -> Result<(), StoreError> {
        let Ok(purpose) = scope.single_purpose() else {
            return Ok(());
        };
        let now = self.clock.now();
        let previous = self
            .consent_on_record(client_id, msisdn, purpose.as_str())
            .await?;
        let mut scopes: Vec<String> = previous
            .as_ref()
            .map(|r| r.scopes.clone())
            .unwrap_or_default();
        for s in scope.iter().filter(|s| consentable(s)) {
            if !scopes.iter().any(|c| c == s) {
                scopes.push(s.to_owned());
            }
        }
        let rec = ConsentRecord {
            v: ConsentRecord::VERSION,
            client_id: client_id.to_owned(),
            purpose: purpose.as_str().to_owned(),
            scopes,
            offline_access: scope.contains(OFFLINE_ACCESS)
                || previous.is_some_and(|r| r.offline_access),
            granted_at: now,
            exp: now + self.consent_cfg.ttl_s,
        };
        let bytes = serde_json::to_vec(&rec).map_err(|e| StoreError::Config(e.to_string()))?;
        let ttl = Duration::from_secs(self.consent_cfg.ttl_s.max(1) as u64);
        self.store
            .put(
                &self.consent_key(client_id, msisdn, purpose.as_str()),
                &bytes,
                ttl,
            )
            .await
    }

    /// The consent step of `/authorize` (P-20, P-22, E-AZ-06, OIDC Core §11).
    /// `interactive`: the user may be asked (not NV, no `prompt=none`); `force`: `prompt=consent`.
    pub(crate) async fn consent_gate(
        &self,
        client_id: &str,
        msisdn: &Msisdn,
        scope: ScopeSet,
        interactive: bool,
        force: bool,
    ) -> Result<Gate, StoreError> {
        // P-21: without the operator's confirmation channel the page could be approved by the
        // device alone, so it is never shown.
        let can_ask = interactive && self.consent_channel.is_some();
        let no_channel = || {
            Gate::Refuse(OAuthError::new(
                ErrorCode::ConsentRequired,
                "the subscriber's consent is needed and no confirmation channel is configured to ask for it (E-AZ-06)",
            ))
        };
        if interactive && force {
            return Ok(if can_ask {
                Gate::Ask(scope)
            } else {
                no_channel()
            });
        }
        Ok(match (self.consent_need(client_id, msisdn, &scope).await?, can_ask) {
            (ConsentNeed::Satisfied, _) => Gate::Proceed(scope),
            (_, true) => Gate::Ask(scope),
            (ConsentNeed::OfflineOnly, false) => Gate::Proceed(without_offline(&scope)),
            (ConsentNeed::Required, false) if interactive => no_channel(),
            (ConsentNeed::Required, false) => Gate::Refuse(OAuthError::new(
                ErrorCode::ConsentRequired,
                "the subscriber's consent is needed and cannot be asked for without interaction (E-AZ-06)",
            )),
        })
    }

    /// What the page shows for a pending request (first served, or again after a wrong code).
    fn prompt_for(
        &self,
        code: &CodeRecord,
        pending_id: &str,
        csrf_token: &str,
        cookie: &str,
        ttl_s: i64,
        notice: Option<String>,
    ) -> ConsentPrompt {
        ConsentPrompt {
            pending_id: pending_id.to_owned(),
            csrf_token: csrf_token.to_owned(),
            cookie: cookie.to_owned(),
            client_id: code.client_id.clone(),
            purpose: code
                .scope
                .single_purpose()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            scopes: code
                .scope
                .iter()
                .filter(|s| consentable(s))
                .map(str::to_owned)
                .collect(),
            offline_access: code.scope.contains(OFFLINE_ACCESS),
            redirect_source: redirect_source(&code.redirect_uri),
            ttl_s,
            secure_cookie: self.consent_cfg.secure_cookie,
            notice,
        }
    }

    /// Park an authorization request for the consent page (single use, `page_ttl_s`) and send
    /// the subscriber its confirmation code out of band (P-21). Fails closed: no channel, too
    /// many codes for this subscriber, or a channel that cannot take the code — no page.
    pub(crate) async fn pending_consent(
        &self,
        code: CodeRecord,
        state: Option<&str>,
    ) -> Result<ConsentPrompt, OAuthError> {
        let Some(channel) = self.consent_channel.clone() else {
            return Err(OAuthError::new(
                ErrorCode::ConsentRequired,
                "no confirmation channel is configured to ask for consent (E-AZ-06)",
            ));
        };
        let now = self.clock.now();
        let sent = self
            .store
            .rate_limit(
                &keys::consent_codes(&self.subject_key(&code.msisdn)),
                self.consent_cfg.max_codes_per_hour,
                Duration::from_secs(3600),
            )
            .await?;
        if !sent.allowed {
            tracing::warn!(client_id = %code.client_id, "consent confirmation codes rate-limited for a subscriber");
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many consent confirmations for this subscriber; try again later",
            ));
        }
        let (pending_id, csrf_token, cookie) = (
            self.random_token(),
            self.random_token(),
            self.random_token(),
        );
        let confirmation = random_code();
        let prompt = self.prompt_for(
            &code,
            &pending_id,
            &csrf_token,
            &cookie,
            self.consent_cfg.page_ttl_s,
            None,
        );
        let (msisdn, client_id) = (code.msisdn.clone(), code.client_id.clone());
        let rec = PendingConsent {
            v: PENDING_VERSION,
            code,
            state: state.map(str::to_owned),
            issuer: self.cfg.issuer.clone(),
            csrf: sha256_b64(&csrf_token),
            cookie: sha256_b64(&cookie),
            confirm: self.confirmation_mac(&pending_id, &confirmation),
            not_before: now + self.consent_cfg.min_decision_s,
            exp: now + self.consent_cfg.page_ttl_s,
        };
        let bytes = serde_json::to_vec(&rec).map_err(|e| StoreError::Config(e.to_string()))?;
        let ttl = Duration::from_secs(self.consent_cfg.page_ttl_s.max(1) as u64);
        let key = keys::consent_pending(&pending_id);
        self.store.put(&key, &bytes, ttl).await?;
        if let Err(e) = channel
            .send_code(
                &msisdn,
                &confirmation,
                &client_id,
                &prompt.purpose,
                &pending_id,
            )
            .await
        {
            tracing::warn!(client_id = %client_id, error = %e, "consent confirmation code not sent; no consent page");
            let _ = self.store.delete(&key).await;
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the confirmation code could not be sent; try again later",
            ));
        }
        Ok(prompt)
    }

    /// `POST /authorize/consent`: the subscriber's decision (P-20, P-21, E-AZ-03).
    pub async fn consent_decision(
        &self,
        sub: ConsentSubmission<'_>,
    ) -> Result<crate::authorize::AuthorizeRedirect, AuthorizeError> {
        let page = |code: ErrorCode, d: &str| AuthorizeError::ErrorPage(OAuthError::new(code, d));
        let p = sub.form;
        if p.oversized || !p.duplicates.is_empty() {
            return Err(page(ErrorCode::InvalidRequest, "malformed consent form"));
        }
        if !sub.same_origin {
            return Err(page(
                ErrorCode::InvalidRequest,
                "the consent form was submitted from another site (P-21)",
            ));
        }
        let id = p
            .get("pending")
            .filter(|v| v.len() <= 128)
            .ok_or_else(|| page(ErrorCode::InvalidRequest, "consent request missing"))?;
        let key = keys::consent_pending(id);
        let unknown = || {
            page(
                ErrorCode::InvalidRequest,
                "this consent request is unknown, expired or already decided",
            )
        };
        let bytes = self
            .store
            .get(&key)
            .await
            .map_err(|e| AuthorizeError::ErrorPage(e.into()))?
            .ok_or_else(unknown)?;
        let rec: PendingConsent = serde_json::from_slice(&bytes).map_err(|_| unknown())?;
        let now = self.clock.now();
        if rec.v != PENDING_VERSION || rec.exp <= now {
            return Err(unknown());
        }
        // P-21: the CSRF token from the page and the cookie set with it, in constant time.
        let csrf = p
            .get("csrf")
            .filter(|t| t.len() <= 128 && ct_eq(&sha256_b64(t), &rec.csrf));
        let cookie = sub
            .cookie
            .filter(|c| c.len() <= 128 && ct_eq(&sha256_b64(c), &rec.cookie));
        let (Some(csrf), Some(cookie)) = (csrf, cookie) else {
            return Err(page(
                ErrorCode::InvalidRequest,
                "the consent form's CSRF token is missing or invalid (P-21)",
            ));
        };
        // The device deciding is the subscriber the request was made for (identified again by the network).
        let same_device = match &sub.identity {
            IdentityOutcome::Identified(i) => ct_eq(i.msisdn.as_str(), rec.code.msisdn.as_str()),
            _ => false,
        };
        if !same_device {
            return Err(page(
                ErrorCode::AccessDenied,
                "the decision must come from the device the request was made on",
            ));
        }
        let approve = match p.get("decision") {
            Some("approve") => true,
            Some("deny") => false,
            _ => {
                return Err(page(
                    ErrorCode::InvalidRequest,
                    "decision must be approve or deny",
                ))
            }
        };
        if now < rec.not_before {
            return Err(page(
                ErrorCode::InvalidRequest,
                "decided too quickly; go back and decide again (P-21)",
            ));
        }
        if approve {
            self.check_confirmation(id, &rec, csrf, cookie, p.get("confirmation"), now)
                .await?;
        }
        // Single use: of two concurrent decisions exactly one proceeds.
        let taken = self
            .store
            .take(&key)
            .await
            .map_err(|e| AuthorizeError::ErrorPage(e.into()))?;
        if taken.is_none() {
            return Err(unknown());
        }
        let PendingConsent {
            code,
            state,
            issuer,
            ..
        } = rec;
        if !approve {
            return Err(AuthorizeError::Redirect {
                redirect_uri: code.redirect_uri,
                state,
                issuer,
                error: OAuthError::new(ErrorCode::AccessDenied, "the subscriber refused (E-AZ-03)"),
            });
        }
        let redirect_err = |e: StoreError| AuthorizeError::Redirect {
            redirect_uri: code.redirect_uri.clone(),
            state: state.clone(),
            issuer: issuer.clone(),
            error: e.into(),
        };
        self.record_consent(&code.client_id, &code.msisdn, &code.scope)
            .await
            .map_err(redirect_err)?;
        self.mint_code(code.clone(), state.as_deref())
            .await
            .map_err(redirect_err)
    }

}

/// `scope` without `offline_access` (OIDC Core §11: ignored when it cannot be honoured).
pub(crate) fn without_offline(scope: &ScopeSet) -> ScopeSet {
    let kept: Vec<&str> = scope.iter().filter(|s| *s != OFFLINE_ACCESS).collect();
    ScopeSet::parse(&kept.join(" ")).unwrap_or_else(|_| scope.clone())
}

#[cfg(test)]
mod tests {
    use super::confirmation::typed_code;
    use super::*;

    fn rec(scopes: &[&str], offline: bool) -> ConsentRecord {
        ConsentRecord {
            v: 1,
            client_id: "c".into(),
            purpose: "dpv:ServiceProvision".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            offline_access: offline,
            granted_at: 0,
            exp: 10,
        }
    }

    #[test]
    fn p20_consent_covers_scopes_and_offline_access() {
        let s = ScopeSet::parse("openid dpv:ServiceProvision phone offline_access").unwrap();
        assert!(rec(&["phone"], true).covers(&s));
        assert!(
            !rec(&["phone"], false).covers(&s),
            "P-54: offline access needs its own consent"
        );
        assert!(rec(&["phone"], false).covers(&without_offline(&s)));
        assert!(!rec(&[], true).covers(&s), "a scope not consented to");
    }

    #[test]
    fn p20_legal_basis_values() {
        for b in [
            LegalBasis::Contract,
            LegalBasis::LegitimateInterest,
            LegalBasis::Consent,
        ] {
            assert_eq!(LegalBasis::parse(b.as_str()), Some(b));
        }
        assert_eq!(LegalBasis::parse("Consent"), None, "case-sensitive (P-02)");
    }

    #[test]
    fn p21_confirmation_codes() {
        for _ in 0..200 {
            let c = random_code();
            assert_eq!(c.len(), CODE_DIGITS);
            assert_eq!(typed_code(&c).as_deref(), Some(c.as_str()));
        }
        assert_eq!(typed_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(typed_code("123-456").as_deref(), Some("123456"));
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "１２３４５６",
            &"1".repeat(40),
        ] {
            assert_eq!(typed_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn p21_form_action_allows_the_redirect_target() {
        assert_eq!(
            redirect_source("http://127.0.0.1:9999/callback"),
            "http://127.0.0.1:9999"
        );
        assert_eq!(redirect_source("com.example.app:/cb"), "com.example.app:");
    }
}
