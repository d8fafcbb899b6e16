//! Address → subscriber bindings, kept in the store (design.md: "bindings in the store").
//!
//! Three kinds of address, each in an address domain (APN/VRF), issue 6 item 1:
//! - an IPv4 address one subscriber holds alone (exact match);
//! - an IPv6 /64 (a mobile device owns its prefix; any address inside matches);
//! - a port block `[lo, hi]` of a public IPv4 shared through CGNAT: only a request whose source
//!   port is inside the block matches, so a shared address without a port identifies nobody.
//!
//! A whole IPv4 address or an IPv6 /64 is one store value; a shared address's port blocks are one
//! store range map. Only provisioning changes an address's shape: its latest write decides
//! whether a public IPv4 is shared (RADIUS never deletes port blocks and never binds a shared
//! address whole: [`Bindings::upsert_if_not_shared`], issue 6 review finding 2). Binding it whole
//! removes its port blocks and binding a block removes the whole-address binding, in the same
//! round trip (not atomically across the two keys: only two writers racing on one address could
//! leave both, and then the whole-address binding answers). A lookup reads the whole address
//! first (one round trip for every device not behind CGNAT), then, with a source port, the block
//! holding it; it returns the most specific live binding or none: never a best guess. (One
//! range map per IPv4 address, whole = `[0, 65535]`, was measured first: one round trip always,
//! but a sorted set per address costs Redis about 1 KiB per binding instead of about 300 B.)
//! A binding may carry a validity window (`valid_from`, `valid_until`), outside which it
//! identifies nobody.

use numbat_core::Msisdn;
use numbat_store::{keys, BatchOp, SharedStore, StoreError};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// What a binding is keyed by (besides its domain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindingAddr {
    /// One IPv4 address, one subscriber.
    Ipv4(Ipv4Addr),
    /// An IPv6 /64, kept as its prefix (the lower 64 bits zero).
    Ipv6Prefix(Ipv6Addr),
    /// CGNAT: the ports `lo..=hi` of a shared public IPv4.
    PortBlock { public: Ipv4Addr, lo: u16, hi: u16 },
}

impl BindingAddr {
    /// A port block; `None` when `lo > hi`.
    pub fn port_block(public: Ipv4Addr, lo: u16, hi: u16) -> Option<BindingAddr> {
        (lo <= hi).then_some(BindingAddr::PortBlock { public, lo, hi })
    }

    /// The /64 holding `ip`.
    pub fn ipv6_prefix(ip: Ipv6Addr) -> BindingAddr {
        let s = ip.segments();
        BindingAddr::Ipv6Prefix(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
    }
}

/// IPv4 (and IPv4-mapped IPv6) → the whole address; IPv6 → its /64.
impl From<IpAddr> for BindingAddr {
    fn from(ip: IpAddr) -> BindingAddr {
        match canonical(ip) {
            IpAddr::V4(v4) => BindingAddr::Ipv4(v4),
            IpAddr::V6(v6) => BindingAddr::ipv6_prefix(v6),
        }
    }
}

impl std::fmt::Display for BindingAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindingAddr::Ipv4(ip) => write!(f, "{ip}"),
            BindingAddr::Ipv6Prefix(p) => write!(f, "{p}/64"),
            BindingAddr::PortBlock { public, lo, hi } => write!(f, "{public}:{lo}-{hi}"),
        }
    }
}

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
    /// The packet gateway that reported the session: the RADIUS client block that authenticated
    /// the packet, then what the packet says (`cidr:<block>|ip:<NAS-IP-Address>`,
    /// `…|ip:<NAS-IPv6-Address>`, `…|id:<NAS-Identifier>` or `…|src:<source address>`; see
    /// [`crate::radius::accounting::gateway_of`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas_id: Option<String>,
    /// Unix seconds of the last accounting packet that confirmed the binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<i64>,
    /// The gateway's accounting generation when the binding was written (see
    /// [`Bindings::lookup`]); `None` before the gateway's first Accounting-On/Off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// Unix seconds from which the binding identifies (CGNAT port-block allocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
    /// Unix seconds until which the binding identifies (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
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
            .field("valid_from", &self.valid_from)
            .field("valid_until", &self.valid_until)
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
            valid_from: None,
            valid_until: None,
        }
    }

    /// Inside its validity window at `now` (unix seconds)?
    pub fn valid_at(&self, now: i64) -> bool {
        self.valid_from.is_none_or(|f| now >= f) && self.valid_until.is_none_or(|u| now < u)
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

/// Where a binding of `addr` lives: one value (whole IPv4, IPv6 /64) or one block of a shared
/// address's port map.
enum Slot {
    Value { key: String },
    Ports { key: String, lo: u32, hi: u32 },
}

fn slot(domain: &str, addr: &BindingAddr) -> Slot {
    match *addr {
        BindingAddr::Ipv4(v4) => Slot::Value { key: keys::binding_ip(domain, IpAddr::V4(v4)) },
        BindingAddr::Ipv6Prefix(p) => Slot::Value { key: keys::binding_ip(domain, IpAddr::V6(p)) },
        BindingAddr::PortBlock { public, lo, hi } => Slot::Ports { key: keys::binding_ports(domain, public), lo: lo.into(), hi: hi.into() },
    }
}

/// The writes that bind `addr` to `value`: its own, and the removal of the other form of a
/// public IPv4 (whole vs port blocks), so one address is not both. Provisioning only: it is the
/// one writer allowed to change an address's shape (see [`Bindings::upsert_if_not_shared`]).
fn write_ops(domain: &str, addr: &BindingAddr, value: Vec<u8>, ttl: Duration, ops: &mut Vec<BatchOp>) {
    match (slot(domain, addr), *addr) {
        (Slot::Value { key }, BindingAddr::Ipv4(v4)) => {
            ops.push(BatchOp::Put { key, value, ttl });
            ops.push(BatchOp::Delete { key: keys::binding_ports(domain, v4) });
        }
        (Slot::Value { key }, _) => ops.push(BatchOp::Put { key, value, ttl }),
        (Slot::Ports { key, lo, hi }, _) => {
            ops.push(BatchOp::RangePut { key, lo, hi, value, ttl });
            if let BindingAddr::PortBlock { public, .. } = addr {
                ops.push(BatchOp::Delete { key: keys::binding_ip(domain, IpAddr::V4(*public)) });
            }
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

/// What [`Bindings::upsert_if_not_shared`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Written,
    /// The address has CGNAT port blocks: nothing written, the blocks untouched.
    Shared,
}

#[derive(Clone)]
pub struct Bindings {
    store: SharedStore,
}

impl Bindings {
    pub fn new(store: SharedStore) -> Self {
        Bindings { store }
    }

    /// Bind `addr` (an `IpAddr` converts: IPv4 whole, IPv6 by /64) for `ttl`, replacing what
    /// was there, the other form of a public IPv4 included (a whole address drops its port
    /// blocks, a block drops the whole-address binding). One round trip on Redis. Provisioning
    /// and static configuration only: RADIUS writes through [`Bindings::upsert_if_not_shared`].
    pub async fn upsert(&self, domain: &str, addr: impl Into<BindingAddr>, b: &Binding, ttl: Duration) -> Result<(), StoreError> {
        let mut ops = Vec::with_capacity(2);
        write_ops(domain, &addr.into(), b.to_bytes()?, ttl, &mut ops);
        self.store.batch(&ops).await
    }

    /// The RADIUS write path (issue 6, review finding 2): bind `ip` (IPv4 whole, IPv6 by /64)
    /// unless it is a shared CGNAT address, and never touch a port map.
    ///
    /// Only provisioning may change an address's shape. A gateway reporting a Framed-IP that is
    /// a provisioned CGNAT public address must not turn it into a single-subscriber address
    /// (every device behind it would become that subscriber: fails open), so an IPv4 address
    /// whose port map holds any entry is not written ([`Upserted::Shared`]): one atomic step
    /// over both keys (`put_unless_range`, one round trip), so a provisioning import that makes
    /// the address shared either lands first (nothing is written) or finds this binding and
    /// replaces it. A count may include expired blocks: fail closed.
    pub async fn upsert_if_not_shared(&self, domain: &str, ip: IpAddr, b: &Binding, ttl: Duration) -> Result<Upserted, StoreError> {
        let addr = BindingAddr::from(ip);
        let Slot::Value { key } = slot(domain, &addr) else { unreachable!("an IpAddr binds as one value") };
        let value = b.to_bytes()?;
        let BindingAddr::Ipv4(v4) = addr else {
            // An IPv6 /64: never shared.
            self.store.put(&key, &value, ttl).await?;
            return Ok(Upserted::Written);
        };
        let ports = keys::binding_ports(domain, v4);
        Ok(if self.store.put_unless_range(&key, &value, ttl, &ports).await? {
            Upserted::Written
        } else {
            Upserted::Shared
        })
    }

    /// Many bindings in as few round trips as the store allows (bulk import). Not atomic as a
    /// whole: on an error, a prefix may have landed (re-importing is idempotent).
    pub async fn upsert_many(&self, domain: &str, items: &[(BindingAddr, Binding, Duration)]) -> Result<(), StoreError> {
        let mut ops = Vec::with_capacity(items.len() * 2);
        for (addr, b, ttl) in items {
            write_ops(domain, addr, b.to_bytes()?, *ttl, &mut ops);
        }
        self.store.batch(&ops).await
    }

    /// The binding of a request from `ip` (source `port`) at `now`, or none (fail closed).
    ///
    /// The whole address (IPv4) or the /64 (IPv6) first; failing that, for IPv4 with a source
    /// port, the CGNAT block holding the port. Without a port a shared address is never
    /// identified. A binding outside its validity window identifies nobody. A RADIUS binding
    /// counts only while its gateway's accounting generation is the one it was written under:
    /// an Accounting-On/Off renews the generation and so ends every binding of that gateway at
    /// once (one more read, for RADIUS bindings only).
    pub async fn lookup(&self, domain: &str, ip: IpAddr, port: Option<u16>, now: i64) -> Result<Option<Binding>, StoreError> {
        let addr = BindingAddr::from(ip);
        let mut bytes = self.raw(domain, &addr).await?;
        if let (None, BindingAddr::Ipv4(v4), Some(port)) = (&bytes, addr, port) {
            bytes = self.store.range_find(&keys::binding_ports(domain, v4), port.into()).await?.map(|e| e.value);
        }
        let Some(bytes) = bytes else { return Ok(None) };
        let Some(b) = Binding::from_bytes(&bytes) else {
            // An unreadable record identifies nobody (fail closed).
            tracing::warn!("unreadable binding record ignored");
            return Ok(None);
        };
        if !b.valid_at(now) {
            tracing::debug!("binding outside its validity window ignored");
            return Ok(None);
        }
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

    /// The bytes stored under exactly `addr`.
    async fn raw(&self, domain: &str, addr: &BindingAddr) -> Result<Option<Vec<u8>>, StoreError> {
        match slot(domain, addr) {
            Slot::Value { key } => self.store.get(&key).await,
            Slot::Ports { key, lo, hi } => {
                Ok(self.store.range_find(&key, lo).await?.filter(|e| (e.lo, e.hi) == (lo, hi)).map(|e| e.value))
            }
        }
    }

    /// The record stored under exactly `addr` (admin API), whatever its validity; `None` when
    /// absent or unreadable.
    pub async fn get(&self, domain: &str, addr: &BindingAddr) -> Result<Option<Binding>, StoreError> {
        Ok(self.raw(domain, addr).await?.as_deref().and_then(Binding::from_bytes))
    }

    /// The stored bytes of `ip`'s binding (IPv4 whole address, IPv6 /64; for compare-and-delete)
    /// and their reading, without validity or generation checks.
    pub async fn lookup_raw(&self, domain: &str, ip: IpAddr) -> Result<Option<(Vec<u8>, Option<Binding>)>, StoreError> {
        let Some(bytes) = self.raw(domain, &BindingAddr::from(ip)).await? else { return Ok(None) };
        let b = Binding::from_bytes(&bytes);
        Ok(Some((bytes, b)))
    }

    /// Delete `ip`'s binding only if it still is exactly `expected` (compare-and-delete).
    pub async fn delete_exact(&self, domain: &str, ip: IpAddr, expected: &[u8]) -> Result<bool, StoreError> {
        match slot(domain, &BindingAddr::from(ip)) {
            Slot::Value { key } => self.store.delete_if(&key, expected).await,
            Slot::Ports { key, lo, hi } => self.store.range_delete(&key, lo, hi, Some(expected)).await,
        }
    }

    /// Remove the binding stored under exactly `addr`; true when there was one.
    pub async fn delete(&self, domain: &str, addr: impl Into<BindingAddr>) -> Result<bool, StoreError> {
        match slot(domain, &addr.into()) {
            Slot::Value { key } => self.store.delete(&key).await,
            Slot::Ports { key, lo, hi } => self.store.range_delete(&key, lo, hi, None).await,
        }
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
        b.upsert("d", "10.0.0.1".parse::<IpAddr>().unwrap(), &Binding::new(m("+34600000001"), Source::Static, 0), ttl).await.unwrap();
        b.upsert("d", "2001:db8:1:2::".parse::<IpAddr>().unwrap(), &Binding::new(m("+34600000007"), Source::Static, 0), ttl).await.unwrap();
        assert_eq!(b.lookup("d", "10.0.0.1".parse().unwrap(), None, 0).await.unwrap().unwrap().msisdn, m("+34600000001"));
        assert!(b.lookup("d", "10.0.0.2".parse().unwrap(), None, 0).await.unwrap().is_none());
        assert!(b.lookup("other", "10.0.0.1".parse().unwrap(), None, 0).await.unwrap().is_none(), "domains are separate");
        let dev = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(b.lookup("d", dev, None, 0).await.unwrap().unwrap().msisdn, m("+34600000007"));
        assert!(b.lookup("d", "2001:db8:1:3::1".parse().unwrap(), None, 0).await.unwrap().is_none());
        let mapped = "::ffff:10.0.0.1".parse().unwrap();
        assert!(b.lookup("d", mapped, None, 0).await.unwrap().is_some(), "IPv4-mapped peers are IPv4");
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

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// Issue 6 item 1 / "done when": a CGNAT address without a port is never identified; with a
    /// port, exactly the block holding it.
    #[tokio::test]
    async fn cgnat_needs_the_port_and_matches_the_block() {
        let b = Bindings::new(Arc::new(MemoryStore::new()));
        let ttl = Duration::from_secs(60);
        let public = v4("198.51.100.7");
        let a = BindingAddr::port_block(public, 40000, 40255).unwrap();
        let c = BindingAddr::port_block(public, 40256, 40511).unwrap();
        b.upsert("d", a, &Binding::new(m("+34600000006"), Source::Provisioning, 0), ttl).await.unwrap();
        b.upsert("d", c, &Binding::new(m("+34600000008"), Source::Provisioning, 0), ttl).await.unwrap();
        let ip = IpAddr::V4(public);
        assert!(b.lookup("d", ip, None, 0).await.unwrap().is_none(), "shared address without a port");
        assert_eq!(b.lookup("d", ip, Some(40001), 0).await.unwrap().unwrap().msisdn, m("+34600000006"));
        assert_eq!(b.lookup("d", ip, Some(40255), 0).await.unwrap().unwrap().msisdn, m("+34600000006"));
        assert_eq!(b.lookup("d", ip, Some(40256), 0).await.unwrap().unwrap().msisdn, m("+34600000008"));
        assert!(b.lookup("d", ip, Some(39999), 0).await.unwrap().is_none(), "a port outside every block");
        assert!(b.lookup("d", ip, Some(40600), 0).await.unwrap().is_none());
        let mapped = "::ffff:198.51.100.7".parse().unwrap();
        assert!(b.lookup("d", mapped, Some(40001), 0).await.unwrap().is_some(), "IPv4-mapped peers are IPv4");
        assert_eq!(b.get("d", &a).await.unwrap().unwrap().msisdn, m("+34600000006"));
        assert!(b.get("d", &BindingAddr::port_block(public, 40000, 40254).unwrap()).await.unwrap().is_none());
        assert!(b.delete("d", a).await.unwrap());
        assert!(b.lookup("d", ip, Some(40001), 0).await.unwrap().is_none(), "deleted block");
        assert!(b.lookup("d", ip, Some(40300), 0).await.unwrap().is_some(), "the neighbour block stays");
        assert!(BindingAddr::port_block(public, 2, 1).is_none());
    }

    /// The latest write decides whether a public address is shared: never both forms at once.
    #[tokio::test]
    async fn whole_address_and_port_blocks_exclude_each_other() {
        let b = Bindings::new(Arc::new(MemoryStore::new()));
        let ttl = Duration::from_secs(60);
        let public = v4("198.51.100.9");
        let ip = IpAddr::V4(public);
        b.upsert("d", ip, &Binding::new(m("+34600000001"), Source::Provisioning, 0), ttl).await.unwrap();
        assert!(b.lookup("d", ip, None, 0).await.unwrap().is_some());
        assert!(b.lookup("d", ip, Some(5000), 0).await.unwrap().is_some(), "a whole address matches any port");
        let block = BindingAddr::port_block(public, 1024, 2047).unwrap();
        b.upsert("d", block, &Binding::new(m("+34600000002"), Source::Provisioning, 0), ttl).await.unwrap();
        assert!(b.lookup("d", ip, None, 0).await.unwrap().is_none(), "now shared: the whole-address binding went");
        assert!(b.lookup("d", ip, Some(5000), 0).await.unwrap().is_none(), "no block holds 5000");
        assert_eq!(b.lookup("d", ip, Some(1500), 0).await.unwrap().unwrap().msisdn, m("+34600000002"));
        b.upsert("d", ip, &Binding::new(m("+34600000003"), Source::Provisioning, 0), ttl).await.unwrap();
        assert_eq!(b.lookup("d", ip, Some(1500), 0).await.unwrap().unwrap().msisdn, m("+34600000003"), "blocks went");
    }

    /// Issue 6 item 1: a binding outside its validity window identifies nobody (fail closed).
    #[tokio::test]
    async fn validity_window_is_enforced() {
        let b = Bindings::new(Arc::new(MemoryStore::new()));
        let public = v4("198.51.100.8");
        let mut rec = Binding::new(m("+34600000006"), Source::Provisioning, 0);
        rec.valid_from = Some(1_000);
        rec.valid_until = Some(2_000);
        let block = BindingAddr::port_block(public, 0, 65535).unwrap();
        b.upsert("d", block, &rec, Duration::from_secs(60)).await.unwrap();
        let ip = IpAddr::V4(public);
        assert!(b.lookup("d", ip, Some(1), 999).await.unwrap().is_none(), "not yet valid");
        assert!(b.lookup("d", ip, Some(1), 1_000).await.unwrap().is_some());
        assert!(b.lookup("d", ip, Some(1), 1_999).await.unwrap().is_some());
        assert!(b.lookup("d", ip, Some(1), 2_000).await.unwrap().is_none(), "window over");
    }

    /// Issue 6, review finding 2: the RADIUS write path never deletes port blocks and never binds
    /// a shared address whole (it used to: one Start for 198.51.100.7 made every port of it
    /// +34600000009); provisioning's whole-address write still replaces the blocks.
    #[tokio::test]
    async fn the_radius_write_path_leaves_shared_addresses_alone() {
        let b = Bindings::new(Arc::new(MemoryStore::new()));
        let ttl = Duration::from_secs(60);
        let public = v4("198.51.100.7");
        let ip = IpAddr::V4(public);
        let rec = |n: &str, s| Binding::new(m(n), s, 0);
        b.upsert("d", BindingAddr::port_block(public, 40000, 40255).unwrap(), &rec("+34600000006", Source::Provisioning), ttl).await.unwrap();
        b.upsert("d", BindingAddr::port_block(public, 40256, 40511).unwrap(), &rec("+34600000008", Source::Provisioning), ttl).await.unwrap();
        assert_eq!(b.upsert_if_not_shared("d", ip, &rec("+34600000009", Source::Radius), ttl).await.unwrap(), Upserted::Shared);
        let mapped = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(b.upsert_if_not_shared("d", mapped, &rec("+34600000009", Source::Radius), ttl).await.unwrap(), Upserted::Shared);
        assert!(b.lookup("d", ip, None, 0).await.unwrap().is_none(), "still shared: no port, nobody");
        assert_eq!(b.lookup("d", ip, Some(40001), 0).await.unwrap().unwrap().msisdn, m("+34600000006"));
        assert_eq!(b.lookup("d", ip, Some(40300), 0).await.unwrap().unwrap().msisdn, m("+34600000008"));
        // Another domain's blocks do not make this address shared there.
        assert_eq!(b.upsert_if_not_shared("e", ip, &rec("+34600000009", Source::Radius), ttl).await.unwrap(), Upserted::Written);
        assert_eq!(b.lookup("e", ip, Some(40001), 0).await.unwrap().unwrap().msisdn, m("+34600000009"));
        // Unshared addresses and /64s are written as before.
        let other = "10.0.0.1".parse().unwrap();
        assert_eq!(b.upsert_if_not_shared("d", other, &rec("+34600000001", Source::Radius), ttl).await.unwrap(), Upserted::Written);
        assert_eq!(b.lookup("d", other, None, 0).await.unwrap().unwrap().msisdn, m("+34600000001"));
        let v6 = "2001:db8:1:2::5".parse().unwrap();
        assert_eq!(b.upsert_if_not_shared("d", v6, &rec("+34600000007", Source::Radius), ttl).await.unwrap(), Upserted::Written);
        assert_eq!(b.lookup("d", "2001:db8:1:2::77".parse().unwrap(), None, 0).await.unwrap().unwrap().msisdn, m("+34600000007"));
        // Provisioning still changes the shape: a whole-address write replaces the blocks.
        b.upsert("d", ip, &rec("+34600000003", Source::Provisioning), ttl).await.unwrap();
        assert_eq!(b.lookup("d", ip, Some(40001), 0).await.unwrap().unwrap().msisdn, m("+34600000003"));
        // And then RADIUS may rebind the (no longer shared) address.
        assert_eq!(b.upsert_if_not_shared("d", ip, &rec("+34600000009", Source::Radius), ttl).await.unwrap(), Upserted::Written);
    }

    /// Issue 6 review finding 2, the race: a RADIUS write of a whole address and a provisioning
    /// import of a port block of that address, concurrently, many times. Whichever lands first,
    /// the address ends shared (blocks only): never a whole-address binding beside port blocks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_radius_write_racing_a_port_block_import_never_leaves_both() {
        let public = v4("198.51.100.9");
        let ip = IpAddr::V4(public);
        let ttl = Duration::from_secs(60);
        // Each order on its own first (deterministic), then both at once, 300 times.
        for radius_first in [true, false] {
            let store: numbat_store::SharedStore = Arc::new(MemoryStore::new());
            let b = Bindings::new(store.clone());
            let block = BindingAddr::port_block(public, 1024, 2047).unwrap();
            let (rb, pb) = (Binding::new(m("+34600000009"), Source::Radius, 0), Binding::new(m("+34600000006"), Source::Provisioning, 0));
            let radius = || b.upsert_if_not_shared("d", ip, &rb, ttl);
            let provision = || b.upsert("d", block, &pb, ttl);
            if radius_first {
                assert_eq!(radius().await.unwrap(), Upserted::Written);
                provision().await.unwrap();
            } else {
                provision().await.unwrap();
                assert_eq!(radius().await.unwrap(), Upserted::Shared);
            }
            assert!(store.get(&keys::binding_ip("d", ip)).await.unwrap().is_none(), "radius first: {radius_first}");
            assert_eq!(b.lookup("d", ip, Some(1500), 0).await.unwrap().unwrap().msisdn, m("+34600000006"));
        }
        let mut radius_won = 0;
        for _ in 0..300 {
            let store: numbat_store::SharedStore = Arc::new(MemoryStore::new());
            let (radius, provisioning) = (Bindings::new(store.clone()), Bindings::new(store.clone()));
            let r = tokio::spawn(async move {
                radius.upsert_if_not_shared("d", ip, &Binding::new(m("+34600000009"), Source::Radius, 0), ttl).await
            });
            let p = tokio::spawn(async move {
                let block = BindingAddr::port_block(public, 1024, 2047).unwrap();
                provisioning.upsert("d", block, &Binding::new(m("+34600000006"), Source::Provisioning, 0), ttl).await
            });
            if r.await.unwrap().unwrap() == Upserted::Written {
                radius_won += 1;
            }
            p.await.unwrap().unwrap();
            let b = Bindings::new(store.clone());
            assert!(store.get(&keys::binding_ip("d", ip)).await.unwrap().is_none(), "a whole-address binding beside port blocks");
            assert!(b.lookup("d", ip, Some(5000), 0).await.unwrap().is_none(), "a port outside the block is nobody's");
            assert_eq!(b.lookup("d", ip, Some(1500), 0).await.unwrap().unwrap().msisdn, m("+34600000006"));
        }
        eprintln!("RADIUS landed first in {radius_won} of 300 concurrent rounds");
    }

    #[tokio::test]
    async fn bulk_upsert_binds_every_kind() {
        let b = Bindings::new(Arc::new(MemoryStore::new()));
        let ttl = Duration::from_secs(60);
        let rec = |n: &str| Binding::new(m(n), Source::Provisioning, 0);
        let items = vec![
            (BindingAddr::Ipv4(v4("10.1.2.3")), rec("+34600000005"), ttl),
            (BindingAddr::port_block(v4("198.51.100.7"), 40000, 40255).unwrap(), rec("+34600000006"), ttl),
            (BindingAddr::ipv6_prefix("2001:db8:1:2::".parse().unwrap()), rec("+34600000007"), ttl),
        ];
        b.upsert_many("d", &items).await.unwrap();
        let at = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(b.lookup("d", at("10.1.2.3"), None, 0).await.unwrap().unwrap().msisdn, m("+34600000005"));
        assert_eq!(b.lookup("d", at("198.51.100.7"), Some(40100), 0).await.unwrap().unwrap().msisdn, m("+34600000006"));
        assert_eq!(b.lookup("d", at("2001:db8:1:2::99"), None, 0).await.unwrap().unwrap().msisdn, m("+34600000007"));
        assert_eq!(BindingAddr::ipv6_prefix("2001:db8:1:2:3:4:5:6".parse().unwrap()).to_string(), "2001:db8:1:2::/64");
    }
}
