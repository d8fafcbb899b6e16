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

/// One address → subscriber record (JSON, `v: 1`). Fields added after the first version are
/// optional with serde defaults, so records written by older instances still read.
///
/// `Debug` prints no subscriber data (MSISDN, IMSI, IMEISV).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub v: u8,
    pub msisdn: Msisdn,
    pub source: Source,
    /// Unix seconds when the binding was learnt (RADIUS: when the session started).
    pub since: i64,
    /// 3GPP-IMSI of the session (RADIUS), when the gateway sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imsi: Option<String>,
    /// 3GPP-IMEISV of the session (RADIUS), when the gateway sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imeisv: Option<String>,
    /// Acct-Session-Id of the RADIUS session that owns the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The packet gateway that reported the session (`ip:<NAS-IP-Address>`,
    /// `ip:<NAS-IPv6-Address>`, `id:<NAS-Identifier>` or `src:<source address>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_id: Option<String>,
    /// Unix seconds of the last accounting packet that confirmed the binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<i64>,
    /// The gateway's accounting generation when the binding was written (see
    /// [`Bindings::lookup`]); `None` before the gateway's first Accounting-On/Off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binding")
            .field("v", &self.v)
            .field("source", &self.source)
            .field("since", &self.since)
            .field("imsi", &self.imsi.as_ref().map(|_| "<redacted>"))
            .field("imeisv", &self.imeisv.as_ref().map(|_| "<redacted>"))
            .field("session_id", &self.session_id)
            .field("nas_id", &self.nas_id)
            .field("last_seen", &self.last_seen)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Binding {
    pub fn new(msisdn: Msisdn, source: Source, since: i64) -> Self {
        Binding {
            v: 1,
            msisdn,
            source,
            since,
            imsi: None,
            imeisv: None,
            session_id: None,
            nas_id: None,
            last_seen: None,
            generation: None,
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self).map_err(|e| StoreError::Config(e.to_string()))
    }

    /// A stored record, or `None` when it is unreadable or of an unknown version.
    pub fn from_bytes(bytes: &[u8]) -> Option<Binding> {
        match serde_json::from_slice::<Binding>(bytes) {
            Ok(b) if b.v == 1 => Some(b),
            _ => None,
        }
    }
}

/// The store key an address is bound under: IPv4 exact, IPv6 by its /64 prefix.
pub fn key_for(domain: &str, ip: IpAddr) -> String {
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
        self.store.put(&key_for(domain, canonical(ip)), &b.to_bytes()?, ttl).await
    }

    /// The binding of `ip`, or none. A RADIUS binding counts only while its gateway's
    /// accounting generation is the one it was written under: an Accounting-On/Off renews the
    /// generation and so ends every binding of that gateway at once (one more read, for RADIUS
    /// bindings only).
    pub async fn lookup(&self, domain: &str, ip: IpAddr) -> Result<Option<Binding>, StoreError> {
        let Some((_, b)) = self.lookup_raw(domain, ip).await? else { return Ok(None) };
        let Some(b) = b else {
            // An unreadable record identifies nobody (fail closed).
            tracing::warn!("unreadable binding record ignored");
            return Ok(None);
        };
        if let (Source::Radius, Some(gw)) = (b.source, &b.nas_id) {
            let current = self.store.get(&keys::gateway_generation(domain, gw)).await?;
            if let Some(current) = current {
                if b.generation.as_deref().map(str::as_bytes) != Some(current.as_slice()) {
                    tracing::debug!("binding of a gateway that restarted since ignored");
                    return Ok(None);
                }
            }
        }
        Ok(Some(b))
    }

    /// The stored bytes of `ip`'s binding (for compare-and-delete) and their reading, without
    /// the generation check.
    pub async fn lookup_raw(&self, domain: &str, ip: IpAddr) -> Result<Option<(Vec<u8>, Option<Binding>)>, StoreError> {
        let Some(bytes) = self.store.get(&key_for(domain, canonical(ip))).await? else { return Ok(None) };
        let b = Binding::from_bytes(&bytes);
        Ok(Some((bytes, b)))
    }

    /// Delete `ip`'s binding only if it still is exactly `expected` (compare-and-delete).
    pub async fn delete_exact(&self, domain: &str, ip: IpAddr, expected: &[u8]) -> Result<bool, StoreError> {
        self.store.delete_if(&key_for(domain, canonical(ip)), expected).await
    }

    pub async fn delete(&self, domain: &str, ip: IpAddr) -> Result<bool, StoreError> {
        self.store.delete(&key_for(domain, canonical(ip))).await
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
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

    #[test]
    fn first_version_records_still_read() {
        let old = br#"{"v":1,"msisdn":"+34600000001","source":"static","since":5}"#;
        let b = Binding::from_bytes(old).expect("v1 record without the RADIUS fields");
        assert_eq!(b.session_id, None);
        assert_eq!(b.since, 5);
        let mut r = Binding::new(m("+34600000001"), Source::Radius, 1);
        r.imsi = Some("214010123456789".into());
        r.imeisv = Some("3534900698733201".into());
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("600000001") && !dbg.contains("2140101") && !dbg.contains("35349006"), "{dbg}");
        assert_eq!(Binding::from_bytes(&r.to_bytes().unwrap()), Some(r));
    }
}
