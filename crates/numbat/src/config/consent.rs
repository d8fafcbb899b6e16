//! `[consent]` (legal bases per purpose, consent records, the consent page: P-20, P-21) and
//! `[refresh]` (refresh-token lifetimes: P-53..P-57). Documented in `config/reference.toml`.

use super::{err, Config, ConfigError};
use crate::confirmation::{LogConfirmation, WebhookConfirmation};
use numbat_authorization_server::consent::{ConfirmationChannel, ConsentConfig, LegalBasis};
use numbat_authorization_server::refresh::RefreshConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentSection {
    /// Legal basis of a purpose not listed in `legal_basis`: "contract", "legitimate_interest"
    /// or "consent".
    pub default_legal_basis: String,
    /// Legal basis per `dpv:` purpose, e.g. `"dpv:FraudPreventionAndDetection" = "legitimate_interest"`.
    pub legal_basis: BTreeMap<String, String>,
    /// How long a recorded consent lasts, days.
    pub ttl_days: i64,
    /// How long the consent page can be answered, seconds.
    pub page_ttl_s: i64,
    /// The earliest a decision is accepted after the page was served, seconds (anti-automation, P-21).
    pub min_decision_s: i64,
    /// How the subscriber gets the confirmation code an approval needs (P-21): "none" (no
    /// consent page: consent_required), "webhook" (the operator's gateway) or "log" (DEV ONLY).
    pub confirmation_channel: String,
    /// The operator's gateway for "webhook": receives POST {msisdn, code, client_id, purpose}.
    pub confirmation_webhook_url: String,
    /// Timeout of one webhook call, milliseconds.
    pub confirmation_timeout_ms: u64,
    /// Confirmation codes sent to one subscriber per hour, at most.
    pub confirmation_max_per_hour: u64,
}

impl Default for ConsentSection {
    fn default() -> Self {
        ConsentSection {
            default_legal_basis: "consent".into(),
            legal_basis: BTreeMap::new(),
            ttl_days: 365,
            page_ttl_s: 300,
            min_decision_s: 1,
            confirmation_channel: "none".into(),
            confirmation_webhook_url: String::new(),
            confirmation_timeout_ms: 3000,
            confirmation_max_per_hour: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefreshSection {
    /// Lifetime of one refresh token, seconds (each use rotates it: an idle timeout).
    pub token_ttl_s: i64,
    /// Absolute lifetime of a grant from the authorization, seconds.
    pub grant_ttl_s: i64,
}

impl Default for RefreshSection {
    fn default() -> Self {
        let d = RefreshConfig::default();
        RefreshSection {
            token_ttl_s: d.token_ttl_s,
            grant_ttl_s: d.grant_ttl_s,
        }
    }
}

fn basis(key: &str, v: &str) -> Result<LegalBasis, ConfigError> {
    LegalBasis::parse(v).ok_or_else(|| err(key, "contract, legitimate_interest or consent"))
}

impl Config {
    /// Check `[consent]` and `[refresh]`.
    pub fn validate_consent(&self) -> Result<(), ConfigError> {
        self.consent_config()?;
        self.confirmation_channel()?;
        let r = &self.refresh;
        if !(60..=400 * 24 * 3600).contains(&r.token_ttl_s) {
            return Err(err("refresh.token_ttl_s", "60..=34560000 (400 days)"));
        }
        if !(r.token_ttl_s..=400 * 24 * 3600).contains(&r.grant_ttl_s) {
            return Err(err(
                "refresh.grant_ttl_s",
                "refresh.token_ttl_s..=34560000 (400 days)",
            ));
        }
        Ok(())
    }

    /// The authorization server's consent settings.
    pub fn consent_config(&self) -> Result<ConsentConfig, ConfigError> {
        let c = &self.consent;
        let mut bases = std::collections::HashMap::new();
        for (purpose, v) in &c.legal_basis {
            let key = format!("consent.legal_basis.\"{purpose}\"");
            if !numbat_core::dpv::is_known_purpose(purpose) {
                return Err(err(key, "not a DPV purpose (dpv:...)"));
            }
            bases.insert(purpose.clone(), basis(&key, v)?);
        }
        if !(1..=3650).contains(&c.ttl_days) {
            return Err(err("consent.ttl_days", "1..=3650"));
        }
        if !(30..=3600).contains(&c.page_ttl_s) {
            return Err(err("consent.page_ttl_s", "30..=3600"));
        }
        if !(0..=30).contains(&c.min_decision_s) || c.min_decision_s >= c.page_ttl_s {
            return Err(err(
                "consent.min_decision_s",
                "0..=30, below consent.page_ttl_s",
            ));
        }
        Ok(ConsentConfig {
            bases,
            default_basis: basis("consent.default_legal_basis", &c.default_legal_basis)?,
            ttl_s: c.ttl_days * 24 * 3600,
            page_ttl_s: c.page_ttl_s,
            min_decision_s: c.min_decision_s,
            secure_cookie: self.server.issuer.starts_with("https://"),
            max_codes_per_hour: c.confirmation_max_per_hour,
        })
    }

    /// The channel for consent confirmation codes (P-21); `None`: no consent page at all.
    pub fn confirmation_channel(
        &self,
    ) -> Result<Option<Arc<dyn ConfirmationChannel>>, ConfigError> {
        let c = &self.consent;
        if !(100..=10_000).contains(&c.confirmation_timeout_ms) {
            return Err(err("consent.confirmation_timeout_ms", "100..=10000"));
        }
        if !(1..=1000).contains(&c.confirmation_max_per_hour) {
            return Err(err("consent.confirmation_max_per_hour", "1..=1000"));
        }
        let url_key = "consent.confirmation_webhook_url";
        if c.confirmation_channel != "webhook" && !c.confirmation_webhook_url.is_empty() {
            return Err(err(
                url_key,
                "only with consent.confirmation_channel = \"webhook\"",
            ));
        }
        match c.confirmation_channel.as_str() {
            "none" => Ok(None),
            "log" => Ok(Some(Arc::new(LogConfirmation))),
            "webhook" => {
                let u = url::Url::parse(&c.confirmation_webhook_url)
                    .map_err(|e| err(url_key, format!("an http(s) URL: {e}")))?;
                let loopback = u.host().is_some_and(|h| match h {
                    url::Host::Ipv4(a) => a.is_loopback(),
                    url::Host::Ipv6(a) => a.is_loopback(),
                    url::Host::Domain(d) => d == "localhost",
                });
                if !(u.scheme() == "https" || (u.scheme() == "http" && loopback)) {
                    return Err(err(
                        url_key,
                        "https (plain http only to a loopback gateway): it carries the MSISDN and the code",
                    ));
                }
                let timeout = std::time::Duration::from_millis(c.confirmation_timeout_ms);
                let w = WebhookConfirmation::new(c.confirmation_webhook_url.clone(), timeout)
                    .map_err(|e| err(url_key, e))?;
                Ok(Some(Arc::new(w)))
            }
            _ => Err(err(
                "consent.confirmation_channel",
                "none, webhook or log (dev only)",
            )),
        }
    }

    pub fn refresh_config(&self) -> RefreshConfig {
        RefreshConfig {
            token_ttl_s: self.refresh.token_ttl_s,
            grant_ttl_s: self.refresh.grant_ttl_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn p20_dev_purpose_is_not_consent_based() {
        let c = Config::dev().consent_config().unwrap();
        assert_eq!(
            c.bases.get("dpv:FraudPreventionAndDetection"),
            Some(&numbat_authorization_server::consent::LegalBasis::LegitimateInterest)
        );
    }

    #[test]
    fn consent_validation_names_the_key() {
        let mut c = Config::dev();
        c.consent
            .legal_basis
            .insert("dpv:ServiceProvision".into(), "maybe".into());
        assert_eq!(
            c.validate().unwrap_err().key,
            "consent.legal_basis.\"dpv:ServiceProvision\""
        );
        let mut c = Config::dev();
        c.consent
            .legal_basis
            .insert("dpv:NotAPurpose".into(), "consent".into());
        assert_eq!(
            c.validate().unwrap_err().key,
            "consent.legal_basis.\"dpv:NotAPurpose\""
        );
        let mut c = Config::dev();
        c.consent.default_legal_basis = "opt_out".into();
        assert_eq!(c.validate().unwrap_err().key, "consent.default_legal_basis");
        let mut c = Config::dev();
        c.refresh.grant_ttl_s = 10;
        assert_eq!(c.validate().unwrap_err().key, "refresh.grant_ttl_s");
    }

    /// P-21: the confirmation channel's keys.
    #[test]
    fn p21_confirmation_channel_validation_names_the_key() {
        let c = Config::dev();
        assert_eq!(
            c.consent.confirmation_channel, "log",
            "the dev page is usable"
        );
        assert!(c.confirmation_channel().unwrap().is_some());
        let mut c = Config::dev();
        c.consent.confirmation_channel = "none".into();
        assert!(c.confirmation_channel().unwrap().is_none());
        let key = |f: &dyn Fn(&mut Config)| {
            let mut c = Config::dev();
            f(&mut c);
            c.validate().unwrap_err().key
        };
        assert_eq!(
            key(&|c| c.consent.confirmation_channel = "sms".into()),
            "consent.confirmation_channel"
        );
        assert_eq!(
            key(&|c| c.consent.confirmation_channel = "webhook".into()),
            "consent.confirmation_webhook_url"
        );
        assert_eq!(
            key(&|c| {
                c.consent.confirmation_channel = "webhook".into();
                c.consent.confirmation_webhook_url = "http://gateway.example/sms".into();
            }),
            "consent.confirmation_webhook_url",
            "plain http off loopback"
        );
        assert_eq!(
            key(&|c| c.consent.confirmation_webhook_url = "https://gateway.example/sms".into()),
            "consent.confirmation_webhook_url",
            "a URL with another channel"
        );
        assert_eq!(
            key(&|c| c.consent.confirmation_timeout_ms = 0),
            "consent.confirmation_timeout_ms"
        );
        assert_eq!(
            key(&|c| c.consent.confirmation_max_per_hour = 0),
            "consent.confirmation_max_per_hour"
        );
        let mut c = Config::dev();
        c.consent.confirmation_channel = "webhook".into();
        c.consent.confirmation_webhook_url = "https://gateway.example/sms".into();
        c.validate().unwrap();
    }
}
