//! `[ingress.client_address]`: how the ingress decides a device's address (issue 6 item 4):
//! trusted proxies and their forwarding header, the PROXY protocol from trusted load balancers,
//! and header enrichment. Documented in `config/reference.toml`.

use super::{err, Config, ConfigError};
use numbat_network_ingress::cidr::Cidr;
use numbat_network_ingress::client_addr::{ClientAddrConfig, Enrichment, ForwardingHeader};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientAddressSection {
    /// Peers (address blocks) whose forwarding header names the client.
    pub trusted_proxies: Vec<String>,
    /// The forwarding header those proxies write: "x-forwarded-for" or "forwarded" (RFC 7239).
    pub forwarding_header: String,
    /// Load balancers (address blocks) whose connections must begin with a PROXY protocol header.
    pub proxy_protocol_from: Vec<String>,
    /// How long that header may take to arrive, milliseconds.
    pub proxy_protocol_timeout_ms: u64,
    /// The header an operator enrichment proxy puts the subscriber number (E.164) in; empty = off.
    pub enrichment_header: String,
    /// Enrichment proxies (address blocks) whose `enrichment_header` is believed.
    pub enrichment_from: Vec<String>,
}

impl Default for ClientAddressSection {
    fn default() -> Self {
        ClientAddressSection {
            trusted_proxies: vec![],
            forwarding_header: "x-forwarded-for".into(),
            proxy_protocol_from: vec![],
            proxy_protocol_timeout_ms: 3000,
            enrichment_header: String::new(),
            enrichment_from: vec![],
        }
    }
}

const KEY: &str = "ingress.client_address";

fn cidrs(list: &[String], key: &str) -> Result<Vec<Cidr>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, c)| c.parse().map_err(|e| err(format!("{KEY}.{key}[{i}]"), format!("{c:?}: {e}"))))
        .collect()
}

/// An HTTP field name (RFC 9110 §5.1: a token).
fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Config {
    /// The ingress's client-address rules.
    pub fn client_addr_config(&self) -> Result<ClientAddrConfig, ConfigError> {
        let s = &self.ingress.client_address;
        let forwarding_header: ForwardingHeader =
            s.forwarding_header.parse().map_err(|e: String| err(format!("{KEY}.forwarding_header"), e))?;
        let from = cidrs(&s.enrichment_from, "enrichment_from")?;
        let enrichment = match (s.enrichment_header.is_empty(), from.is_empty()) {
            (true, true) => None,
            (false, false) => {
                let header = s.enrichment_header.to_ascii_lowercase();
                if !is_field_name(&header) {
                    return Err(err(format!("{KEY}.enrichment_header"), "not an HTTP header name"));
                }
                if header == forwarding_header.name()
                    || matches!(header.as_str(), "host" | "forwarded" | "x-forwarded-for")
                {
                    return Err(err(
                        format!("{KEY}.enrichment_header"),
                        "a dedicated header, not Host or a forwarding header",
                    ));
                }
                Some(Enrichment { header, from })
            }
            (true, false) => {
                return Err(err(format!("{KEY}.enrichment_header"), "required when enrichment_from is set"))
            }
            (false, true) => {
                return Err(err(
                    format!("{KEY}.enrichment_from"),
                    "at least one enrichment proxy block when enrichment_header is set",
                ))
            }
        };
        Ok(ClientAddrConfig {
            trusted_proxies: cidrs(&s.trusted_proxies, "trusted_proxies")?,
            forwarding_header,
            enrichment,
        })
    }

    /// Load balancers that must speak the PROXY protocol, and how long they may take.
    pub fn proxy_protocol(&self) -> Result<(Vec<Cidr>, Duration), ConfigError> {
        let s = &self.ingress.client_address;
        Ok((cidrs(&s.proxy_protocol_from, "proxy_protocol_from")?, Duration::from_millis(s.proxy_protocol_timeout_ms)))
    }

    pub(super) fn validate_client_address(&self) -> Result<(), ConfigError> {
        self.client_addr_config()?;
        self.proxy_protocol()?;
        if !(100..=10_000).contains(&self.ingress.client_address.proxy_protocol_timeout_ms) {
            return Err(err(format!("{KEY}.proxy_protocol_timeout_ms"), "100..=10000"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_trusts_127_0_0_10_only_and_validation_names_the_key() {
        let c = Config::dev();
        let a = c.client_addr_config().unwrap();
        assert!(a.is_trusted_proxy("127.0.0.10".parse().unwrap()));
        assert!(!a.is_trusted_proxy("127.0.0.1".parse().unwrap()));
        assert_eq!(a.forwarding_header, ForwardingHeader::XForwardedFor);
        assert_eq!(a.enrichment, None);
        assert!(c.proxy_protocol().unwrap().0.is_empty());

        let key = |f: fn(&mut ClientAddressSection)| {
            let mut c = Config::dev();
            f(&mut c.ingress.client_address);
            c.validate().unwrap_err().key
        };
        assert_eq!(key(|s| s.trusted_proxies.push("10.0.0.0/33".into())), "ingress.client_address.trusted_proxies[1]");
        assert_eq!(key(|s| s.forwarding_header = "x-real-ip".into()), "ingress.client_address.forwarding_header");
        assert_eq!(key(|s| s.proxy_protocol_from = vec!["lb".into()]), "ingress.client_address.proxy_protocol_from[0]");
        assert_eq!(key(|s| s.proxy_protocol_timeout_ms = 0), "ingress.client_address.proxy_protocol_timeout_ms");
        assert_eq!(key(|s| s.enrichment_header = "x-msisdn".into()), "ingress.client_address.enrichment_from");
        assert_eq!(key(|s| s.enrichment_from = vec!["10.9.0.0/24".into()]), "ingress.client_address.enrichment_header");
        assert_eq!(
            key(|s| {
                s.enrichment_header = "x msisdn".into();
                s.enrichment_from = vec!["10.9.0.0/24".into()];
            }),
            "ingress.client_address.enrichment_header"
        );
        assert_eq!(
            key(|s| {
                s.enrichment_header = "X-Forwarded-For".into();
                s.enrichment_from = vec!["10.9.0.0/24".into()];
            }),
            "ingress.client_address.enrichment_header"
        );

        let mut c = Config::dev();
        c.ingress.client_address.enrichment_header = "X-MSISDN".into();
        c.ingress.client_address.enrichment_from = vec!["10.9.0.0/24".into()];
        c.validate().unwrap();
        let e = c.client_addr_config().unwrap().enrichment.unwrap();
        assert_eq!(e.header, "x-msisdn", "names are case-insensitive, kept lowercase");
    }
}
