//! `[ingress.handoff]`: the split deployment (issue 6 item 5). An ingress started with
//! `--component ingress` proxies to `upstream` and signs identity assertions with its own key; an
//! authorization server in `mode = "assertion"` accepts identities only from those assertions,
//! verified with the keys of the `trusted` ingresses. Documented in `config/reference.toml`.

use super::{err, Config, ConfigError};
use numbat_authorization_server::identity_assertion::{AssertionConfig, AssertionVerifier, TrustedIngress};
use numbat_core::handoff::MAX_ASSERTION_LIFETIME_S;
use numbat_core::Clock;
use numbat_jose::{Alg, KeySet, SigningKey};
use numbat_network_ingress::handoff::{HandoffConfig, HandoffSigner};
use numbat_network_ingress::http::proxy::ProxyConfig;
use numbat_store::SharedStore;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const MODE_IN_PROCESS: &str = "in-process";
pub const MODE_ASSERTION: &str = "assertion";

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffSection {
    /// How `--component authorization` learns identities: "in-process" (its own ingress reads
    /// the TCP peer) or "assertion" (only from a split ingress's signed assertions).
    pub mode: String,
    /// `iss` of this ingress's assertions.
    pub ingress_id: String,
    /// This ingress's private key, PKCS#8 PEM (P-256 or Ed25519); prefer `signing_key_file`.
    pub signing_key: String,
    pub signing_key_file: Option<PathBuf>,
    /// `kid` of the signing key; empty = its RFC 7638 thumbprint.
    pub kid: String,
    /// The authorization server the ingress forwards to (`scheme://host[:port]`).
    pub upstream: String,
    /// Extra CA certificates (PEM) for an https upstream.
    pub upstream_ca_file: Option<PathBuf>,
    /// Timeout of one upstream exchange, milliseconds.
    pub timeout_ms: u64,
    /// Assertion lifetime (`exp - iat`), seconds; also the longest the authorization server accepts.
    pub lifetime_s: i64,
    /// Ingresses the authorization server accepts assertions from.
    pub trusted: Vec<TrustedIngressConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIngressConfig {
    pub id: String,
    /// Public keys (JWKS) as a JSON string or a TOML table; several for rotation.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
}

impl Default for HandoffSection {
    fn default() -> Self {
        HandoffSection {
            mode: MODE_IN_PROCESS.into(),
            ingress_id: "numbat-ingress".into(),
            signing_key: String::new(),
            signing_key_file: None,
            kid: String::new(),
            upstream: String::new(),
            upstream_ca_file: None,
            timeout_ms: 5000,
            lifetime_s: MAX_ASSERTION_LIFETIME_S,
            trusted: vec![],
        }
    }
}

impl std::fmt::Debug for HandoffSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoffSection")
            .field("mode", &self.mode)
            .field("ingress_id", &self.ingress_id)
            .field("signing_key", &if self.signing_key.is_empty() { "" } else { "<redacted>" })
            .field("signing_key_file", &self.signing_key_file)
            .field("kid", &self.kid)
            .field("upstream", &self.upstream)
            .field("timeout_ms", &self.timeout_ms)
            .field("lifetime_s", &self.lifetime_s)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

const K: &str = "ingress.handoff";

fn key(name: &str) -> String {
    format!("{K}.{name}")
}

impl Config {
    /// Whether `--component authorization` takes identities only from assertions.
    pub fn handoff_by_assertion(&self) -> bool {
        self.ingress.handoff.mode == MODE_ASSERTION
    }

    /// Everything in `[ingress.handoff]` that is given must be usable, whichever component
    /// runs; what a component needs but is missing is named when that component starts.
    pub(super) fn validate_handoff(&self) -> Result<(), ConfigError> {
        let h = &self.ingress.handoff;
        if !matches!(h.mode.as_str(), MODE_IN_PROCESS | MODE_ASSERTION) {
            return Err(err(key("mode"), "\"in-process\" or \"assertion\""));
        }
        if h.ingress_id.is_empty() || h.ingress_id.len() > 128 {
            return Err(err(key("ingress_id"), "1..=128 characters"));
        }
        if h.kid.len() > 128 {
            return Err(err(key("kid"), "at most 128 characters"));
        }
        if !(1..=MAX_ASSERTION_LIFETIME_S).contains(&h.lifetime_s) {
            return Err(err(
                key("lifetime_s"),
                format!("1..={MAX_ASSERTION_LIFETIME_S} (short-lived, issue 6 item 5)"),
            ));
        }
        if !(100..=60_000).contains(&h.timeout_ms) {
            return Err(err(key("timeout_ms"), "100..=60000"));
        }
        if !h.upstream.is_empty() {
            self.handoff_upstream()?;
        }
        if !h.signing_key.is_empty() || h.signing_key_file.is_some() {
            self.handoff_signing_key()?;
        }
        self.trusted_ingresses()?;
        Ok(())
    }

    fn handoff_upstream(&self) -> Result<reqwest::Url, ConfigError> {
        let raw = &self.ingress.handoff.upstream;
        if raw.is_empty() {
            return Err(err(
                key("upstream"),
                "the authorization server to forward to is required for --component ingress",
            ));
        }
        let u = reqwest::Url::parse(raw).map_err(|e| err(key("upstream"), e.to_string()))?;
        let origin_only =
            matches!(u.path(), "" | "/") && u.query().is_none() && u.fragment().is_none() && u.username().is_empty();
        if !origin_only || !matches!(u.scheme(), "http" | "https") {
            return Err(err(key("upstream"), "an http(s) origin: scheme://host[:port], no path, query or credentials"));
        }
        // The hop carries subscriber identities: TLS unless it never leaves the machine.
        let loopback = match u.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        if u.scheme() != "https" && !loopback {
            return Err(err(key("upstream"), "https is required except on loopback (the hop carries identities)"));
        }
        Ok(u)
    }

    fn handoff_signing_key(&self) -> Result<SigningKey, ConfigError> {
        let h = &self.ingress.handoff;
        let (pem, name) = match (&h.signing_key_file, h.signing_key.is_empty()) {
            (Some(f), true) => (
                std::fs::read_to_string(f).map_err(|e| err(key("signing_key_file"), e.to_string()))?,
                "signing_key_file",
            ),
            (None, false) => (h.signing_key.clone(), "signing_key"),
            (Some(_), false) => return Err(err(key("signing_key"), "give signing_key or signing_key_file, not both")),
            (None, true) => {
                return Err(err(
                    key("signing_key"),
                    "the ingress's private key (signing_key or signing_key_file) is required for --component ingress",
                ))
            }
        };
        let kid = (!h.kid.is_empty()).then(|| h.kid.clone());
        SigningKey::from_pkcs8_pem(kid.clone(), Alg::ES256, &pem)
            .or_else(|_| SigningKey::from_pkcs8_pem(kid, Alg::EdDSA, &pem))
            .map_err(|_| err(key(name), "not a PKCS#8 PEM P-256 or Ed25519 private key"))
    }

    /// The trusted ingresses with their parsed keys (empty when none are configured).
    fn trusted_ingresses(&self) -> Result<Vec<TrustedIngress>, ConfigError> {
        let mut out: Vec<TrustedIngress> = Vec::new();
        for (i, t) in self.ingress.handoff.trusted.iter().enumerate() {
            let k = |f: &str| key(&format!("trusted[{i}].{f}"));
            if t.id.is_empty() || t.id.len() > 128 {
                return Err(err(k("id"), "1..=128 characters"));
            }
            if out.iter().any(|o| o.id == t.id) {
                return Err(err(k("id"), "duplicate ingress id"));
            }
            let jwks = match (&t.jwks, &t.jwks_file) {
                (Some(serde_json::Value::String(s)), None) => {
                    serde_json::from_str(s).map_err(|e| err(k("jwks"), e.to_string()))?
                }
                (Some(v), None) => v.clone(),
                (None, Some(f)) => {
                    let s = std::fs::read_to_string(f).map_err(|e| err(k("jwks_file"), e.to_string()))?;
                    serde_json::from_str(&s).map_err(|e| err(k("jwks_file"), e.to_string()))?
                }
                (None, None) => {
                    return Err(err(k("jwks"), "the ingress's public keys (jwks or jwks_file) are required"))
                }
                (Some(_), Some(_)) => return Err(err(k("jwks"), "give jwks or jwks_file, not both")),
            };
            let keys = KeySet::from_jwks_value(&jwks).map_err(|e| err(k("jwks"), e.to_string()))?;
            if keys.is_empty() {
                return Err(err(k("jwks"), "no key"));
            }
            out.push(TrustedIngress { id: t.id.clone(), keys });
        }
        Ok(out)
    }

    /// The split ingress's assertion signer (`--component ingress`), addressed to `server.issuer`.
    pub fn handoff_signer(&self) -> Result<HandoffSigner, ConfigError> {
        let h = &self.ingress.handoff;
        let cfg = HandoffConfig {
            ingress_id: h.ingress_id.clone(),
            audience: self.server.issuer.clone(),
            lifetime_s: h.lifetime_s,
        };
        HandoffSigner::new(cfg, self.handoff_signing_key()?).map_err(|e| err(key("signing_key"), e.to_string()))
    }

    /// The split ingress's reverse-proxy settings (`--component ingress`).
    pub fn handoff_proxy(&self, strip_headers: Vec<String>) -> Result<ProxyConfig, ConfigError> {
        let h = &self.ingress.handoff;
        let ca_pem = match &h.upstream_ca_file {
            Some(f) => Some(std::fs::read(f).map_err(|e| err(key("upstream_ca_file"), e.to_string()))?),
            None => None,
        };
        Ok(ProxyConfig {
            upstream: self.handoff_upstream()?,
            timeout: Duration::from_millis(h.timeout_ms),
            ca_pem,
            strip_headers,
        })
    }

    /// The verifier of a split authorization server (`mode = "assertion"`).
    pub fn assertion_verifier(
        &self,
        store: SharedStore,
        clock: Arc<dyn Clock>,
    ) -> Result<AssertionVerifier, ConfigError> {
        let trusted = self.trusted_ingresses()?;
        if trusted.is_empty() {
            return Err(err(key("trusted"), "mode = \"assertion\" needs at least one trusted ingress {id, jwks}"));
        }
        let cfg = AssertionConfig {
            audience: self.server.issuer.clone(),
            lifetime_s: self.ingress.handoff.lifetime_s,
            clock_skew_s: self.tokens.clock_skew_s,
        };
        AssertionVerifier::new(cfg, trusted, store, clock).map_err(|e| err(key("trusted"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_handoff_is_consistent() {
        let c = Config::dev();
        c.validate_handoff().unwrap();
        let signer = c.handoff_signer().unwrap();
        assert_eq!(signer.kid(), "dev-ingress-1");
        let t = c.trusted_ingresses().unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].id, c.ingress.handoff.ingress_id);
        assert!(t[0].keys.has_kid(signer.kid()), "the dev AS trusts the dev ingress key");
        assert!(!c.handoff_by_assertion(), "dev runs all-in-one");
    }

    #[test]
    fn handoff_validation_names_the_key() {
        let bad = |f: fn(&mut Config), want: &str| {
            let mut c = Config::dev();
            f(&mut c);
            assert_eq!(c.validate().unwrap_err().key, want);
        };
        bad(|c| c.ingress.handoff.mode = "header".into(), "ingress.handoff.mode");
        bad(|c| c.ingress.handoff.lifetime_s = 31, "ingress.handoff.lifetime_s");
        bad(|c| c.ingress.handoff.upstream = "http://10.0.0.1:8080".into(), "ingress.handoff.upstream");
        bad(|c| c.ingress.handoff.upstream = "https://as.internal/numbat".into(), "ingress.handoff.upstream");
        bad(
            |c| c.ingress.handoff.signing_key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----".into(),
            "ingress.handoff.signing_key",
        );
        bad(|c| c.ingress.handoff.signing_key_file = Some("/nonexistent".into()), "ingress.handoff.signing_key");
        bad(
            |c| {
                c.ingress.handoff.trusted[0].jwks = Some(serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
            },
            "ingress.handoff.trusted[0].jwks",
        );
        bad(|c| c.ingress.handoff.trusted.push(c.ingress.handoff.trusted[0].clone()), "ingress.handoff.trusted[1].id");
        let mut c = Config::dev();
        c.ingress.handoff.upstream = "https://as.internal:8443".into();
        c.validate().unwrap();
        c.ingress.handoff.upstream = String::new();
        assert_eq!(c.handoff_proxy(vec![]).unwrap_err().key, "ingress.handoff.upstream");
        c.ingress.handoff.trusted.clear();
        let store: SharedStore = Arc::new(numbat_store::MemoryStore::new());
        let e = c.assertion_verifier(store, Arc::new(numbat_core::SystemClock)).unwrap_err();
        assert_eq!(e.key, "ingress.handoff.trusted");
        c.ingress.handoff.signing_key = String::new();
        assert_eq!(c.handoff_signer().unwrap_err().key, "ingress.handoff.signing_key");
    }
}
