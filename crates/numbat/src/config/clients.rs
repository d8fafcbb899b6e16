//! `[clients_policy]`: what any client may be (issue 4 item 2): client secrets at all, where
//! `jwks_uri` may point and how it is fetched, and how often instances re-read the clients
//! registered through the admin API.

use super::{err, Config, ConfigError};
use numbat_authorization_server::jwks_uri::{JwksUriPolicy, RemoteJwksConfig};
use numbat_authorization_server::registry::ClientPolicy;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientsPolicySection {
    /// Accept clients with `client_secret_basic`/`client_secret_post` (never CAMARA ones: P-88).
    pub allow_client_secrets: bool,
    /// How often each instance re-reads the clients registered through the admin API, seconds.
    pub reload_s: u64,
    /// Hosts a `jwks_uri` may name with plain http and loopback/private addresses.
    pub jwks_uri_trusted_hosts: Vec<String>,
    /// Timeout of one `jwks_uri` fetch (connect to last byte), milliseconds.
    pub jwks_uri_timeout_ms: u64,
    /// Largest JWKS document accepted from a `jwks_uri`, bytes.
    pub jwks_uri_max_bytes: usize,
    /// How long fetched keys are used before they are fetched again, seconds.
    pub jwks_uri_cache_s: u64,
    /// At least this long between two fetches of one `jwks_uri` (unknown-`kid` refetches and
    /// retries included), seconds.
    pub jwks_uri_refetch_interval_s: u64,
}

impl Default for ClientsPolicySection {
    fn default() -> Self {
        ClientsPolicySection {
            allow_client_secrets: false,
            reload_s: 5,
            jwks_uri_trusted_hosts: vec![],
            jwks_uri_timeout_ms: 2000,
            jwks_uri_max_bytes: 64 * 1024,
            jwks_uri_cache_s: 300,
            jwks_uri_refetch_interval_s: 10,
        }
    }
}

impl Config {
    pub(super) fn validate_clients_policy(&self) -> Result<(), ConfigError> {
        let p = &self.clients_policy;
        if !(1..=60).contains(&p.reload_s) {
            return Err(err("clients_policy.reload_s", "1..=60"));
        }
        if !(100..=10_000).contains(&p.jwks_uri_timeout_ms) {
            return Err(err("clients_policy.jwks_uri_timeout_ms", "100..=10000"));
        }
        if !(1024..=1024 * 1024).contains(&p.jwks_uri_max_bytes) {
            return Err(err("clients_policy.jwks_uri_max_bytes", "1024..=1048576"));
        }
        if !(10..=86_400).contains(&p.jwks_uri_cache_s) {
            return Err(err("clients_policy.jwks_uri_cache_s", "10..=86400"));
        }
        if p.jwks_uri_refetch_interval_s > 3600 {
            return Err(err("clients_policy.jwks_uri_refetch_interval_s", "0..=3600"));
        }
        for (i, h) in p.jwks_uri_trusted_hosts.iter().enumerate() {
            let bare = h.trim_start_matches('[').trim_end_matches(']');
            let ip = bare.parse::<std::net::IpAddr>().is_ok();
            let domain = !bare.contains([':', '/', '@']) && matches!(url::Host::parse(bare), Ok(url::Host::Domain(_)));
            if !(ip || domain) {
                return Err(err(
                    format!("clients_policy.jwks_uri_trusted_hosts[{i}]"),
                    "a host name or IP address (no port, no scheme)",
                ));
            }
        }
        Ok(())
    }

    /// The registry's policy: `[clients_policy]` and the server's token lifetimes as maxima.
    pub fn client_policy(&self) -> ClientPolicy {
        ClientPolicy {
            allow_client_secrets: self.clients_policy.allow_client_secrets,
            jwks_uri: JwksUriPolicy {
                trusted_hosts: self
                    .clients_policy
                    .jwks_uri_trusted_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            },
            max_access_token_ttl_s: self.tokens.access_token_ttl_s,
            max_id_token_ttl_s: self.tokens.id_token_ttl_s,
        }
    }

    pub fn remote_jwks_config(&self) -> RemoteJwksConfig {
        RemoteJwksConfig {
            cache_ttl: Duration::from_secs(self.clients_policy.jwks_uri_cache_s),
            min_refetch: Duration::from_secs(self.clients_policy.jwks_uri_refetch_interval_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_policy_validation_names_the_key() {
        let mut c = Config::dev();
        c.clients_policy.reload_s = 0;
        assert_eq!(c.validate().unwrap_err().key, "clients_policy.reload_s");
        let mut c = Config::dev();
        c.clients_policy.jwks_uri_max_bytes = 10;
        assert_eq!(c.validate().unwrap_err().key, "clients_policy.jwks_uri_max_bytes");
        let mut c = Config::dev();
        c.clients_policy.jwks_uri_trusted_hosts = vec!["http://127.0.0.1:80".into()];
        assert_eq!(c.validate().unwrap_err().key, "clients_policy.jwks_uri_trusted_hosts[0]");
        let mut c = Config::dev();
        c.clients_policy.jwks_uri_trusted_hosts =
            vec!["127.0.0.1".into(), "::1".into(), "keys.internal.example".into()];
        c.validate().unwrap();
    }
}
