//! Configuration: one TOML file plus environment overrides (`NUMBAT_<SECTION>__<KEY>`).
//! Without `--config` the dev defaults (`config/dev.toml`, compiled in) apply. Every key is
//! documented in `config/reference.toml`. [`Config::validate`] refuses to start on any error and
//! names the key.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DEV_CONFIG: &str = include_str!("../../../config/dev.toml");
pub const DEV_CLIENT_KEY: &str = include_str!("../../../config/dev/demo-app.key.pem");

mod client_address;
mod clients;
mod consent;
mod handoff;
pub use client_address::ClientAddressSection;
pub use clients::ClientsPolicySection;
pub use consent::{ConsentSection, RefreshSection};
pub use handoff::{HandoffSection, TrustedIngressConfig, MODE_ASSERTION, MODE_IN_PROCESS};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub tokens: TokensConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub ingress: IngressSection,
    pub ciba: CibaSection,
    pub keys: KeysSection,
    pub ts43: Ts43Section,
    /// Legal bases per purpose, consent records and the consent page (`config/consent.rs`).
    pub consent: ConsentSection,
    /// Refresh-token lifetimes (`config/consent.rs`).
    pub refresh: RefreshSection,
    /// What any client may be; how store clients are re-read (`config/clients.rs`).
    pub clients_policy: ClientsPolicySection,
    pub clients: Vec<ClientConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysSection {
    /// How often each authorization-server instance re-reads the shared signing keys (picks up
    /// `numbat keys rotate`), seconds.
    pub reload_s: u64,
}

impl Default for KeysSection {
    fn default() -> Self {
        KeysSection { reload_s: 30 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CibaSection {
    /// `expires_in` of backchannel requests, seconds.
    pub expires_in_s: i64,
    /// Minimum polling interval, seconds (P-46).
    pub interval_s: i64,
    /// Purposes whose legal basis is consent: their CIBA requests wait for a decision.
    pub consent_purposes: Vec<String>,
    /// Enable POST /test/ciba/decide (admin token) for automated conformance runs. Never in production.
    pub test_approval: bool,
    /// Authentication-device channel: empty = log (dev); else a webhook URL.
    pub webhook_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ts43Section {
    /// Where operator tokens are validated: "store" (numbat issues them) or an http(s) URL of
    /// the operator's entitlement server.
    pub validator: String,
    /// Timeout of the entitlement-server call, milliseconds.
    pub timeout_ms: u64,
    /// Lifetime of tokens numbat issues, seconds.
    pub token_ttl_s: i64,
}

impl Default for Ts43Section {
    fn default() -> Self {
        Ts43Section { validator: "store".into(), timeout_ms: 1500, token_ttl_s: 300 }
    }
}

impl Default for CibaSection {
    fn default() -> Self {
        CibaSection { expires_in_s: 120, interval_s: 2, consent_purposes: vec![], test_approval: false, webhook_url: String::new() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub issuer: String,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Serve /metrics (on the admin listener when there is one).
    pub metrics: bool,
    /// A listener of its own for `/admin/*` and `/metrics` (empty: everything on `listen`).
    pub admin_listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub url: String,
    pub prefix: String,
    /// PEM CA bundle trusted for `rediss://` instead of the system roots (empty: system roots).
    pub tls_ca_file: String,
    /// PEM client certificate and key for a Redis that requires them (both or neither).
    pub tls_cert_file: String,
    pub tls_key_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    pub access_token_ttl_s: i64,
    pub id_token_ttl_s: i64,
    pub code_ttl_s: i64,
    pub clock_skew_s: i64,
    /// `aud` of access tokens; empty = `{issuer}/number-verification/v2`.
    pub access_token_audience: String,
    pub pairwise_secret: String,
    pub pairwise_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    pub token: String,
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `numbat=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngressSection {
    pub domain: String,
    /// Extra header names to strip, besides the built-in list.
    pub strip_headers: Vec<String>,
    pub static_bindings: Vec<StaticBinding>,
    /// RADIUS accounting from the packet gateways (`[ingress.radius]`).
    pub radius: RadiusSection,
    /// Split deployment: edge ingress → authorization server by signed assertion (issue 6 item 5).
    pub handoff: HandoffSection,
    /// Trusted proxies, PROXY protocol, header enrichment (issue 6 item 4).
    pub client_address: ClientAddressSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RadiusSection {
    /// Run the RADIUS accounting listener (components `all` and `authorization`).
    pub enabled: bool,
    /// UDP address of the accounting listener (port 0 picks a free port).
    pub listen: String,
    /// Interim interval assumed when a packet carries no Acct-Interim-Interval, seconds.
    pub default_interim_s: u32,
    /// Gateways allowed to send accounting, by source address block, with their shared secrets.
    pub clients: Vec<RadiusClientConfig>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadiusClientConfig {
    pub cidr: String,
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

impl std::fmt::Debug for RadiusClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadiusClientConfig")
            .field("cidr", &self.cidr)
            .field("secret", &"<redacted>")
            .field("secret_file", &self.secret_file)
            .finish()
    }
}

impl Default for RadiusSection {
    fn default() -> Self {
        RadiusSection { enabled: false, listen: "127.0.0.1:1813".into(), default_interim_s: 300, clients: vec![] }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticBinding {
    pub address: String,
    pub msisdn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    #[serde(default = "default_id_alg")]
    pub id_token_signed_response_alg: String,
    #[serde(default)]
    pub sector_identifier: Option<String>,
    #[serde(default = "yes")]
    pub require_pkce: bool,
    /// A `dpv:` purpose added when a request names none (conformance-suite clients only).
    #[serde(default)]
    pub default_purpose: Option<String>,
    /// JWT-bearer subjects the client may assert: "operatortoken" and/or "tel" (P-72).
    #[serde(default)]
    pub jwt_bearer_subjects: Vec<String>,
    /// CIBA login_hint kinds the client may use: "tel", "ipport", "operatortoken".
    #[serde(default)]
    pub ciba_login_hints: Vec<String>,
    /// A JWKS, as a JSON string or a TOML table.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Where the client publishes its JWKS instead (https; `[clients_policy]`).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// argon2 PHC hash of the secret of a `client_secret_basic`/`_post` client
    /// (`numbat client hash-secret`); needs `[clients_policy] allow_client_secrets`.
    #[serde(default)]
    pub client_secret_hash: Option<String>,
    /// This client's access- and ID-token lifetimes, at most the server's.
    #[serde(default)]
    pub access_token_ttl_s: Option<i64>,
    #[serde(default)]
    pub id_token_ttl_s: Option<i64>,
}

fn default_grants() -> Vec<String> {
    vec!["authorization_code".into()]
}
fn default_auth_method() -> String {
    "private_key_jwt".into()
}
/// OIDC Registration: RS256 when a client registers none (S-03).
fn default_id_alg() -> String {
    "RS256".into()
}
fn yes() -> bool {
    true
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            issuer: "http://127.0.0.1:8080".into(),
            workers: 0,
            metrics: true,
            admin_listen: String::new(),
        }
    }
}
impl StoreConfig {
    /// The TLS files of `[store]`, read at start (like every other file the configuration names)
    /// for [`numbat_store::open_with_tls`].
    pub fn tls(&self) -> Result<numbat_store::StoreTls, ConfigError> {
        let read = |key: &str, path: &str| -> Result<Option<Vec<u8>>, ConfigError> {
            if path.is_empty() {
                return Ok(None);
            }
            std::fs::read(path).map(Some).map_err(|e| err(key, format!("{path}: {e}")))
        };
        let tls = numbat_store::StoreTls {
            root_ca_pem: read("store.tls_ca_file", &self.tls_ca_file)?,
            client_cert_pem: read("store.tls_cert_file", &self.tls_cert_file)?,
            client_key_pem: read("store.tls_key_file", &self.tls_key_file)?,
        };
        if tls.client_cert_pem.is_some() != tls.client_key_pem.is_some() {
            return Err(err("store.tls_cert_file", "tls_cert_file and tls_key_file go together"));
        }
        Ok(tls)
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "memory".into(),
            prefix: "numbat:".into(),
            tls_ca_file: String::new(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
        }
    }
}
impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            access_token_ttl_s: 300,
            id_token_ttl_s: 300,
            code_ttl_s: 60,
            clock_skew_s: 5,
            access_token_audience: String::new(),
            pairwise_secret: String::new(),
            pairwise_secret_file: None,
        }
    }
}
impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { token: String::new(), token_file: None }
    }
}
impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: "text".into(), level: "info".into() }
    }
}
impl Default for IngressSection {
    fn default() -> Self {
        IngressSection {
            domain: "default".into(),
            strip_headers: vec![],
            static_bindings: vec![],
            radius: RadiusSection::default(),
            handoff: HandoffSection::default(),
            client_address: ClientAddressSection::default(),
        }
    }
}
impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            tokens: TokensConfig::default(),
            admin: AdminConfig::default(),
            log: LogConfig::default(),
            ingress: IngressSection::default(),
            ciba: CibaSection::default(),
            keys: KeysSection::default(),
            ts43: Ts43Section::default(),
            consent: ConsentSection::default(),
            refresh: RefreshSection::default(),
            clients_policy: ClientsPolicySection::default(),
            clients: vec![],
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

fn err(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError { key: key.into(), reason: reason.into() }
}

impl Config {
    /// Built-in defaults, then the file (or the dev defaults when none is given), then the
    /// environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        fig = match path {
            Some(p) => {
                if !p.exists() {
                    return Err(err("--config", format!("{} does not exist", p.display())));
                }
                fig.merge(Toml::file(p))
            }
            None => fig.merge(Toml::string(DEV_CONFIG)),
        };
        // Only `SECTION__KEY` variables are configuration; NUMBAT_ADMIN_TOKEN and friends are not.
        fig = fig.merge(Env::prefixed("NUMBAT_").filter(|k| k.as_str().contains("__")).split("__"));
        fig.extract().map_err(|e| err(e.path.join("."), e.to_string()))
    }

    /// The dev defaults alone (tests and `numbat demo`).
    pub fn dev() -> Config {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(DEV_CONFIG))
            .extract()
            .expect("config/dev.toml is valid")
    }

    pub fn access_token_audience(&self) -> String {
        if self.tokens.access_token_audience.is_empty() {
            format!("{}/number-verification/v2", self.server.issuer)
        } else {
            self.tokens.access_token_audience.clone()
        }
    }

    pub fn pairwise_secret(&self) -> Result<Vec<u8>, ConfigError> {
        let s = match &self.tokens.pairwise_secret_file {
            Some(f) => std::fs::read_to_string(f)
                .map_err(|e| err("tokens.pairwise_secret_file", e.to_string()))?
                .trim()
                .to_owned(),
            None => self.tokens.pairwise_secret.clone(),
        };
        if s.len() < 32 {
            return Err(err("tokens.pairwise_secret", "at least 32 characters are required (P-85)"));
        }
        Ok(s.into_bytes())
    }

    /// The admin token (file wins); empty disables the admin APIs.
    pub fn admin_token(&self) -> Result<String, ConfigError> {
        match &self.admin.token_file {
            Some(f) => Ok(std::fs::read_to_string(f).map_err(|e| err("admin.token_file", e.to_string()))?.trim().to_owned()),
            None => Ok(self.admin.token.clone()),
        }
    }

    /// The RADIUS accounting clients with their secrets (files read), in configuration order.
    pub fn radius_clients(&self) -> Result<Vec<numbat_network_ingress::radius::RadiusClient>, ConfigError> {
        let mut out = Vec::new();
        for (i, c) in self.ingress.radius.clients.iter().enumerate() {
            let key = format!("ingress.radius.clients[{i}]");
            let cidr = c.cidr.parse().map_err(|e| err(format!("{key}.cidr"), format!("{e}")))?;
            let secret = match (&c.secret_file, c.secret.is_empty()) {
                (Some(f), true) => std::fs::read_to_string(f)
                    .map_err(|e| err(format!("{key}.secret_file"), e.to_string()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                (None, false) => c.secret.clone(),
                (Some(_), false) => return Err(err(format!("{key}.secret"), "give secret or secret_file, not both")),
                (None, true) => return Err(err(format!("{key}.secret"), "a shared secret (secret or secret_file) is required")),
            };
            if secret.is_empty() {
                return Err(err(format!("{key}.secret_file"), "the file holds an empty secret"));
            }
            out.push(numbat_network_ingress::radius::RadiusClient { cidr, secret: secret.into_bytes() });
        }
        Ok(out)
    }

    /// Check everything that can be checked without I/O to the store.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let issuer = url::Url::parse(&self.server.issuer).map_err(|e| err("server.issuer", e.to_string()))?;
        if issuer.query().is_some() || issuer.fragment().is_some() || self.server.issuer.ends_with('/') {
            return Err(err("server.issuer", "no query, fragment or trailing slash"));
        }
        if issuer.scheme() != "https" && !matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
            return Err(err("server.issuer", "plain http is allowed only on loopback (P-01)"));
        }
        self.server.listen.parse::<std::net::SocketAddr>().map_err(|e| err("server.listen", e.to_string()))?;
        if !self.server.admin_listen.is_empty() {
            let admin = self.server.admin_listen.parse::<std::net::SocketAddr>().map_err(|e| err("server.admin_listen", e.to_string()))?;
            if admin.port() != 0 && self.server.admin_listen == self.server.listen {
                return Err(err("server.admin_listen", "must differ from server.listen"));
            }
        }
        let t = &self.tokens;
        if !(1..=3600).contains(&t.access_token_ttl_s) {
            return Err(err("tokens.access_token_ttl_s", "1..=3600"));
        }
        if !(1..=3600).contains(&t.id_token_ttl_s) {
            return Err(err("tokens.id_token_ttl_s", "1..=3600"));
        }
        if !(1..=60).contains(&t.code_ttl_s) {
            return Err(err("tokens.code_ttl_s", "1..=60 (design.md)"));
        }
        if !(0..=30).contains(&t.clock_skew_s) {
            return Err(err("tokens.clock_skew_s", "0..=30 (O-04)"));
        }
        if self.ts43.validator != "store" {
            let u = url::Url::parse(&self.ts43.validator).map_err(|e| err("ts43.validator", format!("\"store\" or a URL: {e}")))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(err("ts43.validator", "\"store\" or an http(s) URL"));
            }
        }
        if !(100..=10_000).contains(&self.ts43.timeout_ms) {
            return Err(err("ts43.timeout_ms", "100..=10000"));
        }
        if !(30..=3600).contains(&self.ts43.token_ttl_s) {
            return Err(err("ts43.token_ttl_s", "30..=3600"));
        }
        if !self.ciba.webhook_url.is_empty() && url::Url::parse(&self.ciba.webhook_url).is_err() {
            return Err(err("ciba.webhook_url", "not a URL"));
        }
        if !(1..=60).contains(&self.keys.reload_s) {
            return Err(err("keys.reload_s", "1..=60 (rotation publishes keys 120 s ahead)"));
        }
        if !(30..=600).contains(&self.ciba.expires_in_s) {
            return Err(err("ciba.expires_in_s", "30..=600"));
        }
        if !(1..=60).contains(&self.ciba.interval_s) {
            return Err(err("ciba.interval_s", "1..=60"));
        }
        for (i, p) in self.ciba.consent_purposes.iter().enumerate() {
            if !numbat_core::dpv::is_known_purpose(p) {
                return Err(err(format!("ciba.consent_purposes[{i}]"), "not a DPV purpose (dpv:...)"));
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(err("log.format", "text or json"));
        }
        for (i, b) in self.ingress.static_bindings.iter().enumerate() {
            b.address
                .parse::<std::net::IpAddr>()
                .map_err(|e| err(format!("ingress.static_bindings[{i}].address"), e.to_string()))?;
            numbat_core::Msisdn::parse(&b.msisdn)
                .map_err(|e| err(format!("ingress.static_bindings[{i}].msisdn"), e.to_string()))?;
        }
        let r = &self.ingress.radius;
        if r.enabled {
            r.listen.parse::<std::net::SocketAddr>().map_err(|e| err("ingress.radius.listen", e.to_string()))?;
            use numbat_network_ingress::radius::accounting::{MAX_INTERIM_S, MIN_INTERIM_S};
            if !(MIN_INTERIM_S..=MAX_INTERIM_S).contains(&r.default_interim_s) {
                return Err(err("ingress.radius.default_interim_s", format!("{MIN_INTERIM_S}..={MAX_INTERIM_S}")));
            }
            if r.clients.is_empty() {
                return Err(err("ingress.radius.clients", "at least one {cidr, secret} is required when RADIUS is enabled"));
            }
            self.radius_clients()?;
        }
        self.validate_handoff()?;
        self.validate_consent()?;
        self.validate_client_address()?;
        self.validate_clients_policy()?;
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            if !seen.insert(&c.client_id) {
                return Err(err(format!("clients[{i}].client_id"), "duplicate client_id"));
            }
            let client = self.client(c).map_err(|e| err(format!("clients[{i}]"), e.to_string()))?;
            use numbat_authorization_server::registry::{ClientSource, RegisteredClient};
            RegisteredClient::with_policy(client, &self.client_policy(), ClientSource::Config)
                .map_err(|e| err(format!("clients[{i}]"), e.reason))?;
        }
        Ok(())
    }

    /// Turn a client entry into the domain's `Client`.
    pub fn client(&self, c: &ClientConfig) -> Result<numbat_core::Client, String> {
        if c.client_id.is_empty() || c.client_id.len() > 128 {
            return Err("client_id must be 1..=128 characters".into());
        }
        let mut grant_types = Vec::new();
        for g in &c.grant_types {
            grant_types.push(numbat_core::GrantType::parse(g).ok_or_else(|| format!("unknown grant type {g}"))?);
        }
        let jwks = match (&c.jwks, &c.jwks_file) {
            (Some(serde_json::Value::String(s)), None) => serde_json::from_str(s).map_err(|e| format!("jwks: {e}"))?,
            (Some(v), None) => v.clone(),
            (None, Some(f)) => {
                let s = std::fs::read_to_string(f).map_err(|e| format!("jwks_file: {e}"))?;
                serde_json::from_str(&s).map_err(|e| format!("jwks_file: {e}"))?
            }
            (None, None) if c.jwks_uri.is_some() || c.token_endpoint_auth_method != "private_key_jwt" => serde_json::Value::Null,
            (None, None) => return Err("jwks, jwks_file or jwks_uri is required for private_key_jwt".into()),
            (Some(_), Some(_)) => return Err("give jwks or jwks_file, not both".into()),
        };
        let sector = match &c.sector_identifier {
            Some(s) => s.clone(),
            None => numbat_authorization_server::client_admin::default_sector(&c.redirect_uris)?,
        };
        // default_purpose, jwt_bearer_subjects and ciba_login_hints are checked where every
        // client is, config or store: `RegisteredClient::with_policy` (validate() and start).
        Ok(numbat_core::Client {
            client_id: c.client_id.clone(),
            redirect_uris: c.redirect_uris.clone(),
            grant_types,
            scopes: c.scopes.clone(),
            token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
            id_token_signed_response_alg: c.id_token_signed_response_alg.clone(),
            sector_identifier: sector,
            require_pkce: c.require_pkce,
            default_purpose: c.default_purpose.clone(),
            jwt_bearer_subjects: c.jwt_bearer_subjects.clone(),
            ciba_login_hints: c.ciba_login_hints.clone(),
            jwks,
            jwks_uri: c.jwks_uri.clone(),
            client_secret_hash: c.client_secret_hash.clone(),
            access_token_ttl_s: c.access_token_ttl_s,
            id_token_ttl_s: c.id_token_ttl_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_config_is_valid() {
        Config::dev().validate().unwrap();
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = Config::dev();
        c.tokens.code_ttl_s = 600;
        assert_eq!(c.validate().unwrap_err().key, "tokens.code_ttl_s");
        let mut c = Config::dev();
        c.ingress.static_bindings[1].msisdn = "34600".into();
        assert_eq!(c.validate().unwrap_err().key, "ingress.static_bindings[1].msisdn");
        let mut c = Config::dev();
        c.server.issuer = "http://example.com".into();
        assert_eq!(c.validate().unwrap_err().key, "server.issuer");
    }

    /// Config clients get the registry's checks (P-72, P-79, P-85) before the server starts.
    #[test]
    fn client_metadata_errors_name_the_client() {
        let bad: [fn(&mut ClientConfig); 4] = [
            |c| c.jwt_bearer_subjects = vec!["ipport".into()],
            |c| c.ciba_login_hints = vec!["imsi".into()],
            |c| c.default_purpose = Some("dpv:NotAPurpose".into()),
            |c| {
                c.sector_identifier = None;
                c.redirect_uris = vec!["https://a.example/cb".into(), "https://b.example/cb".into()];
            },
        ];
        for f in bad {
            let mut c = Config::dev();
            f(&mut c.clients[0]);
            assert_eq!(c.validate().unwrap_err().key, "clients[0]");
        }
    }

    #[test]
    fn radius_validation_names_the_key() {
        let c = Config::dev();
        assert!(c.ingress.radius.enabled, "dev runs the RADIUS listener");
        assert_eq!(c.radius_clients().unwrap().len(), 1);
        let mut c = Config::dev();
        c.ingress.radius.clients[0].cidr = "127.0.0.0/33".into();
        assert_eq!(c.validate().unwrap_err().key, "ingress.radius.clients[0].cidr");
        let mut c = Config::dev();
        c.ingress.radius.clients[0].secret = String::new();
        assert_eq!(c.validate().unwrap_err().key, "ingress.radius.clients[0].secret");
        let mut c = Config::dev();
        c.ingress.radius.clients[0].secret_file = Some("/nonexistent/radius-secret".into());
        assert_eq!(c.validate().unwrap_err().key, "ingress.radius.clients[0].secret");
        c.ingress.radius.clients[0].secret = String::new();
        assert_eq!(c.validate().unwrap_err().key, "ingress.radius.clients[0].secret_file");
        let mut c = Config::dev();
        c.ingress.radius.default_interim_s = 1;
        assert_eq!(c.validate().unwrap_err().key, "ingress.radius.default_interim_s");
        let mut c = Config::dev();
        c.ingress.radius.listen = "localhost".into();
        assert_eq!(c.validate().unwrap_err().key, "ingress.radius.listen");
        let mut c = Config::dev();
        c.ingress.radius.clients.clear();
        assert_eq!(c.validate().unwrap_err().key, "ingress.radius.clients");
        c.ingress.radius.enabled = false;
        c.validate().unwrap();
    }
}
