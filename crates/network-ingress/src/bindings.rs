//! Address → subscriber bindings, kept in the store (design.md: "bindings in the store").
//!
//! An IPv4 address binds exactly; an IPv6 address binds by its /64 (a mobile device owns its
//! prefix). Lookups return one binding or none: never a best guess.

use numbat_core::Msisdn;
use numbat_store::{keys, SharedStore, StoreError};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// Where a binding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Static,
    Provisioning,
    Radius,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub v: u8,
    pub msisdn: Msisdn,
    pub source: Source,
    /// Unix seconds when the binding was learnt.
    pub since: i64,
}

impl Binding {
    pub fn new(msisdn: Msisdn, source: Source, since: i64) -> Self {
        Binding { v: 1, msisdn, source, since }
    }
}

/// The store key an address is bound under: IPv4 exact, IPv6 by its /64 prefix.
fn key_for(domain: &str, ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => keys::binding_ip(domain, ip),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            keys::binding_ip(domain, IpAddr::V6(prefix))
        }
    }
}

/// IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`, dual-stack sockets) are IPv4 devices.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[derive(Clone)]
pub struct Bindings {
    store: SharedStore,
}

impl Bindings {
    pub fn new(store: SharedStore) -> Self {
        Bindings { store }
    }

    pub async fn upsert(&self, domain: &str, ip: IpAddr, b: &Binding, ttl: Duration) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(b).map_err(|e| StoreError::Config(e.to_string()))?;
        self.store.put(&key_for(domain, canonical(ip)), &bytes, ttl).await
    }

    pub async fn lookup(&self, domain: &str, ip: IpAddr) -> Result<Option<Binding>, StoreError> {
        let Some(bytes) = self.store.get(&key_for(domain, canonical(ip))).await? else { return Ok(None) };
        match serde_json::from_slice::<Binding>(&bytes) {
            Ok(b) if b.v == 1 => Ok(Some(b)),
            _ => {
                // An unreadable record identifies nobody (fail closed).
                tracing::warn!("unreadable binding record ignored");
                Ok(None)
            }
        }
    }

    pub async fn delete(&self, domain: &str, ip: IpAddr) -> Result<bool, StoreError> {
        self.store.delete(&key_for(domain, canonical(ip))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use numbat_store::MemoryStore;
    use std::sync::Arc;

    fn m(s: &str) -> Msisdn {
        Msisdn::parse(s).unwrap()
    }

    #[tokio::test]
    async fn ipv4_exact_and_ipv6_by_prefix() {
        let b = Bindings::new(Arc::new(MemoryStore::new()));
        let ttl = Duration::from_secs(60);
        b.upsert("d", "10.0.0.1".parse().unwrap(), &Binding::new(m("+34600000001"), Source::Static, 0), ttl).await.unwrap();
        b.upsert("d", "2001:db8:1:2::".parse().unwrap(), &Binding::new(m("+34600000007"), Source::Static, 0), ttl).await.unwrap();
        assert_eq!(b.lookup("d", "10.0.0.1".parse().unwrap()).await.unwrap().unwrap().msisdn, m("+34600000001"));
        assert!(b.lookup("d", "10.0.0.2".parse().unwrap()).await.unwrap().is_none());
        assert!(b.lookup("other", "10.0.0.1".parse().unwrap()).await.unwrap().is_none(), "domains are separate");
        let dev = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(b.lookup("d", dev).await.unwrap().unwrap().msisdn, m("+34600000007"));
        assert!(b.lookup("d", "2001:db8:1:3::1".parse().unwrap()).await.unwrap().is_none());
        let mapped = "::ffff:10.0.0.1".parse().unwrap();
        assert!(b.lookup("d", mapped).await.unwrap().is_some(), "IPv4-mapped peers are IPv4");
    }
}
