//! What one Accounting-Request does to the bindings (RFC 2866). Pure over the store and a
//! clock: [`Accounting::handle`] takes the source address and the datagram and returns the
//! Accounting-Response to send, if any.
//!
//! Rules:
//! - A packet from a source outside every configured client block, a malformed packet, a
//!   packet that is not an Accounting-Request and one whose Request Authenticator does not
//!   verify are dropped without an answer (debug log).
//! - An Accounting-Response is sent only after the store accepted the change: a store error
//!   means no answer, so the gateway retransmits.
//! - Retransmissions (same source address and port, Identifier and Request Authenticator within
//!   [`DEDUP_TTL`]) get the cached response again and change nothing: `put_if_absent` on a
//!   de-duplication key marks the packet in flight, then holds the response.
//! - Start and Interim-Update write the binding with TTL = 2 × interim interval + 30 s
//!   (Acct-Interim-Interval when present, else the configured default; bounded).
//! - Stop deletes a binding only while it belongs to the stopped session (compare-and-delete
//!   on the exact bytes read), and leaves a tombstone for [`TOMBSTONE_TTL`] so a late Start or
//!   Interim-Update of that session does not bring it back.
//! - Accounting-On/Off renews the gateway's generation: every binding that gateway wrote before
//!   stops identifying anyone at once (see [`crate::bindings::Bindings::lookup`]).
//! - A gateway is named by the RADIUS client block that authenticated the packet first, then by
//!   what the packet says ([`gateway_of`]): a client of one block can never stop another block's
//!   sessions or void its bindings (issue 6, review finding 3).
//! - IPv4: Framed-IP-Address is bound whole, unless the address has CGNAT port blocks: RADIUS
//!   never changes an address's shape (only provisioning does) and never deletes port blocks, so
//!   such a report is acknowledged and not applied (issue 6, review finding 2).
//! - IPv6: a device owns its /64 (3GPP, RFC 6459). Framed-IPv6-Prefix /64 binds that /64; a
//!   shorter prefix (/16../63, the subscriber owns all of it) binds only its first /64, so the
//!   others fail closed; a longer one (/65../128) or shorter than /16 binds nothing: binding its
//!   /64 would name this subscriber for every other device in that /64 (issue 6, review
//!   finding 1; provisioning refuses anything but /64 for the same reason).
//! - No MSISDN, IMSI or IMEISV is ever logged.

use super::packet::{self, AccountingRequest, Packet, StatusType};
use super::{Cidr, RadiusClient};
use crate::bindings::{canonical, Binding, Bindings, Source, Upserted};
use numbat_core::{Clock, Msisdn};
use numbat_store::{keys, SharedStore, StoreError};
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a retransmission is recognised (and its response cached).
pub const DEDUP_TTL: Duration = Duration::from_secs(30);
/// How long a packet being applied blocks its own retransmissions (the retransmission is
/// dropped; the gateway tries again). Short, so a crash mid-packet does not wedge it.
pub const IN_FLIGHT_TTL: Duration = Duration::from_secs(5);
/// How long a stopped session cannot be revived by a late Start or Interim-Update.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(30);
/// Bounds of the interim interval a gateway may announce (or the default), seconds.
/// The longest Acct-Session-Time believed (a year); a larger one dates the session from now.
pub const MAX_SESSION_TIME_S: i64 = 366 * 86_400;
pub const MIN_INTERIM_S: u32 = 10;
pub const MAX_INTERIM_S: u32 = 86_400;
/// The longest life of a RADIUS binding: 2 × [`MAX_INTERIM_S`] + 30 s.
pub const MAX_BINDING_TTL: Duration = Duration::from_secs(2 * MAX_INTERIM_S as u64 + 30);
/// A gateway generation outlives every binding written under the one before it.
pub const GENERATION_TTL: Duration = Duration::from_secs(2 * MAX_INTERIM_S as u64 + 30 + 60);

/// Binding lifetime for an interim interval: 2 × interval + 30 s, the interval bounded to
/// [`MIN_INTERIM_S`]..=[`MAX_INTERIM_S`].
pub fn binding_ttl(interim_s: u32) -> Duration {
    let i = interim_s.clamp(MIN_INTERIM_S, MAX_INTERIM_S) as u64;
    Duration::from_secs(2 * i + 30)
}

#[derive(Debug, Clone)]
pub struct AccountingConfig {
    /// Address domain (APN/VRF) the bindings are written in.
    pub domain: String,
    /// Gateways allowed to send accounting, with their shared secrets.
    pub clients: Vec<RadiusClient>,
    /// Interim interval assumed when a packet carries no Acct-Interim-Interval, seconds.
    pub default_interim_s: u32,
}

/// What became of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The store was changed (binding written or deleted, gateway generation renewed).
    Applied,
    /// Acknowledged, but nothing was written.
    Ignored(Ignored),
    /// A retransmission: the cached response was sent again, nothing re-applied.
    Duplicate,
    /// No response.
    Dropped(Dropped),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// Start/Interim-Update of a session stopped moments ago.
    Tombstoned,
    /// Calling-Station-Id missing or not an international number.
    InvalidCallingStationId,
    /// Neither Framed-IP-Address nor Framed-IPv6-Prefix.
    NoAddress,
    /// Framed-IPv6-Prefix longer than /64 (or shorter than /16) and no other address: nothing
    /// bound (review finding 1).
    UnusableIpv6Prefix,
    /// Framed-IP-Address is a CGNAT public address with port blocks: RADIUS does not bind a
    /// shared address whole (review finding 2).
    SharedAddress,
    NoSessionId,
    /// Stop of a session that does not own the address (any more).
    NotOwner,
    /// Interim-Update of a session older than the one that owns the address now.
    StaleInterim,
    /// Acct-Status-Type missing or one numbat does not act on.
    OtherStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    UnknownSource,
    Malformed,
    NotAccountingRequest,
    BadAuthenticator,
    /// The store failed: no answer, the gateway retransmits.
    StoreError,
    /// The same packet is being applied right now.
    InFlight,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub response: Option<Vec<u8>>,
    pub disposition: Disposition,
}

impl Handled {
    fn dropped(d: Dropped) -> Handled {
        Handled { response: None, disposition: Disposition::Dropped(d) }
    }
}

pub struct Accounting {
    cfg: AccountingConfig,
    bindings: Bindings,
    store: SharedStore,
    clock: Arc<dyn Clock>,
}

const MARK_IN_FLIGHT: &[u8] = b"P";
const MARK_DONE: u8 = b'R';

/// E.164 from a Calling-Station-Id: international digits with an optional leading `+`.
pub fn msisdn_from_calling_station_id(s: &str) -> Option<Msisdn> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Msisdn::parse(&format!("+{digits}")).ok()
}

/// The RADIUS client entry a packet from `ip` is authenticated with: the most specific block
/// that contains it (the same choice as [`super::secret_for`]).
fn client_for(clients: &[RadiusClient], ip: IpAddr) -> Option<&RadiusClient> {
    clients.iter().filter(|c| c.cidr.contains(ip)).max_by_key(|c| c.cidr.prefix_len())
}

/// The gateway a packet speaks for (issue 6, review finding 3): the client block that
/// authenticated it, then NAS-IP-Address, NAS-IPv6-Address, NAS-Identifier, else the source
/// address — `cidr:10.9.0.0/24|ip:10.9.0.1`.
///
/// The NAS attributes are the sender's own claim, so alone they would let any client of any
/// block name itself another gateway and stop that gateway's sessions or void its bindings with
/// an Accounting-On. Prefixed with the block whose shared secret verified the packet, a claim
/// reaches only gateways of that block. Gateways of one block share a secret and so can still
/// speak for one another: give each gateway its own `[[ingress.radius.clients]]` entry to keep
/// them apart. Records written before this format (`ip:…`, `id:…`, `src:…`) no longer match any
/// gateway: a Stop or Accounting-On does not reach them, they end with their TTL
/// (2 × interim + 30 s) or when a new Start for the address replaces them.
pub fn gateway_of(client: &Cidr, req: &AccountingRequest, src: IpAddr) -> String {
    let claimed = if let Some(ip) = req.nas_ip {
        format!("ip:{ip}")
    } else if let Some(ip) = req.nas_ipv6 {
        format!("ip:{ip}")
    } else if let Some(id) = &req.nas_identifier {
        format!("id:{id}")
    } else {
        format!("src:{}", canonical(src))
    };
    format!("cidr:{client}|{claimed}")
}

/// The shortest Framed-IPv6-Prefix accepted (a shorter one binds nothing).
pub const MIN_IPV6_PREFIX_LEN: u8 = 16;

/// The addresses a session holds: Framed-IP-Address, and the /64 of Framed-IPv6-Prefix when
/// its length is [`MIN_IPV6_PREFIX_LEN`]..=64 (see the module rules). The flag is true when a
/// Framed-IPv6-Prefix was refused.
fn addresses(req: &AccountingRequest) -> (Vec<IpAddr>, bool) {
    let mut out = Vec::new();
    let mut refused_v6 = false;
    if let Some(v4) = req.framed_ip {
        if !v4.is_unspecified() && !v4.is_broadcast() {
            out.push(IpAddr::V4(v4));
        }
    }
    if let Some((prefix, len)) = req.framed_ipv6_prefix {
        if (MIN_IPV6_PREFIX_LEN..=64).contains(&len) {
            // A device owns its /64; of a shorter prefix (all of it this subscriber's) only the
            // first /64 is bound, so its other /64s fail closed.
            let s = prefix.segments();
            out.push(IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)));
        } else {
            // Longer than /64: the gateway names one address (or a sub-/64), not the device's
            // /64, and the /64 may hold other subscribers. Binding it would identify them all
            // as this subscriber: fail closed. (Shorter than /16 is no device's prefix either.)
            refused_v6 = true;
        }
    }
    (out, refused_v6)
}

/// A fresh, unique gateway generation (uniqueness only; nothing secret).
fn new_generation(now: i64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_i64(now);
    format!("{now}-{:016x}", h.finish())
}

impl Accounting {
    pub fn new(cfg: AccountingConfig, store: SharedStore, clock: Arc<dyn Clock>) -> Self {
        Accounting { cfg, bindings: Bindings::new(store.clone()), store, clock }
    }

    pub fn config(&self) -> &AccountingConfig {
        &self.cfg
    }

    /// One datagram from `src`: the response to send (if any) and what happened.
    pub async fn handle(&self, src: SocketAddr, datagram: &[u8]) -> Handled {
        let Some(client) = client_for(&self.cfg.clients, src.ip()) else {
            tracing::debug!(source = %src.ip(), "RADIUS packet from an unknown source dropped");
            return Handled::dropped(Dropped::UnknownSource);
        };
        let secret = client.secret.as_slice();
        let pkt = match packet::decode(datagram) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(source = %src.ip(), error = %e, "malformed RADIUS packet dropped");
                return Handled::dropped(Dropped::Malformed);
            }
        };
        if pkt.code != packet::ACCOUNTING_REQUEST {
            tracing::debug!(source = %src.ip(), code = pkt.code, "not an Accounting-Request; dropped");
            return Handled::dropped(Dropped::NotAccountingRequest);
        }
        if !packet::verify_accounting_request(&pkt, secret) {
            tracing::debug!(source = %src.ip(), "RADIUS Request Authenticator does not verify (wrong secret?); dropped");
            return Handled::dropped(Dropped::BadAuthenticator);
        }
        let response = packet::encode_accounting_response(&pkt, secret);
        let dedup = keys::radius_dedup(src, pkt.identifier, &pkt.authenticator);
        match self.store.put_if_absent(&dedup, MARK_IN_FLIGHT, IN_FLIGHT_TTL).await {
            Ok(true) => {}
            Ok(false) => return self.retransmission(&dedup).await,
            Err(e) => {
                tracing::warn!(error = %e, "RADIUS accounting: store unavailable; no response");
                return Handled::dropped(Dropped::StoreError);
            }
        }
        match self.apply(&client.cidr, src, &pkt).await {
            Ok(disposition) => {
                let mut cached = vec![MARK_DONE];
                cached.extend_from_slice(&response);
                if let Err(e) = self.store.put(&dedup, &cached, DEDUP_TTL).await {
                    // The change is stored: answer anyway. A retransmission after the in-flight
                    // mark expires is applied again, which is harmless.
                    tracing::warn!(error = %e, "RADIUS accounting: caching the response failed");
                }
                Handled { response: Some(response), disposition }
            }
            Err(e) => {
                tracing::warn!(error = %e, "RADIUS accounting: store write failed; no response, the gateway retransmits");
                let _ = self.store.delete(&dedup).await;
                Handled::dropped(Dropped::StoreError)
            }
        }
    }

    async fn retransmission(&self, dedup: &str) -> Handled {
        match self.store.get(dedup).await {
            Ok(Some(v)) if v.first() == Some(&MARK_DONE) => {
                tracing::debug!("RADIUS retransmission answered from the cache");
                Handled { response: Some(v[1..].to_vec()), disposition: Disposition::Duplicate }
            }
            Ok(_) => Handled::dropped(Dropped::InFlight),
            Err(_) => Handled::dropped(Dropped::StoreError),
        }
    }

    async fn apply(&self, client: &Cidr, src: SocketAddr, pkt: &Packet) -> Result<Disposition, StoreError> {
        let req = AccountingRequest::from_packet(pkt);
        let gateway = gateway_of(client, &req, src.ip());
        let status = req.status();
        tracing::debug!(source = %src.ip(), %gateway, status = ?status, identifier = pkt.identifier, "RADIUS accounting");
        match status {
            Some(StatusType::Start) => self.upsert(&req, &gateway, false).await,
            Some(StatusType::InterimUpdate) => self.upsert(&req, &gateway, true).await,
            Some(StatusType::Stop) => self.stop(&req, &gateway).await,
            Some(StatusType::AccountingOn | StatusType::AccountingOff) => {
                let key = keys::gateway_generation(&self.cfg.domain, &gateway);
                self.store.put(&key, new_generation(self.clock.now()).as_bytes(), GENERATION_TTL).await?;
                tracing::info!(%gateway, status = ?status, "gateway accounting restarted: its bindings are void");
                Ok(Disposition::Applied)
            }
            Some(StatusType::Other(_)) | None => Ok(Disposition::Ignored(Ignored::OtherStatus)),
        }
    }

    async fn upsert(&self, req: &AccountingRequest, gateway: &str, interim: bool) -> Result<Disposition, StoreError> {
        let Some(session) = &req.session_id else {
            tracing::info!(%gateway, "accounting packet without Acct-Session-Id; no binding");
            return Ok(Disposition::Ignored(Ignored::NoSessionId));
        };
        let Some(msisdn) = req.calling_station_id.as_deref().and_then(msisdn_from_calling_station_id) else {
            tracing::info!(%gateway, "Calling-Station-Id missing or not an international number; no binding");
            return Ok(Disposition::Ignored(Ignored::InvalidCallingStationId));
        };
        let (addrs, refused_v6) = addresses(req);
        if refused_v6 {
            // Never the prefix itself next to the gateway: it names one subscriber's device.
            tracing::warn!(%gateway, "Framed-IPv6-Prefix not /16../64 (a device owns a /64; a longer prefix would bind its neighbours too); IPv6 not bound");
        }
        if addrs.is_empty() {
            tracing::info!(%gateway, "accounting packet without a usable Framed-IP-Address/Framed-IPv6-Prefix; no binding");
            let why = if refused_v6 { Ignored::UnusableIpv6Prefix } else { Ignored::NoAddress };
            return Ok(Disposition::Ignored(why));
        }
        let domain = &self.cfg.domain;
        // Both reads at once: pipelined on one connection (or sent to two nodes), one round trip.
        let (tombstone, generation_key) = (keys::binding_tombstone(domain, gateway, session), keys::gateway_generation(domain, gateway));
        let (tombstone, generation) = tokio::join!(self.store.get(&tombstone), self.store.get(&generation_key));
        if tombstone?.is_some() {
            tracing::debug!(%gateway, "Start/Interim-Update of a session stopped moments ago ignored");
            return Ok(Disposition::Ignored(Ignored::Tombstoned));
        }
        let generation = generation?.map(|g| String::from_utf8_lossy(&g).into_owned());
        let now = self.clock.now();
        let interval = req.interim_interval.filter(|i| *i > 0).unwrap_or(self.cfg.default_interim_s);
        let ttl = binding_ttl(interval);
        // Acct-Session-Time dates the session's start (the network's authentication, `auth_time`);
        // a value over a year is a gateway fault, not a session: the start is then taken as now.
        let session_time = match req.session_time {
            Some(t) if i64::from(t) > MAX_SESSION_TIME_S => {
                tracing::warn!(%gateway, seconds = t, "Acct-Session-Time over a year ignored");
                0
            }
            t => i64::from(t.unwrap_or(0)),
        };
        let mut b = Binding::new(msisdn, Source::Radius, now - session_time);
        b.imsi = req.imsi.clone();
        b.imeisv = req.imeisv.clone();
        b.session_id = Some(session.clone());
        b.nas_id = Some(gateway.to_owned());
        b.last_seen = Some(now);
        b.generation = generation;
        let (mut written, mut shared) = (0, 0);
        for ip in addrs {
            if interim {
                // A delayed Interim-Update of an older session must not take the address back
                // from the session that holds it now.
                if let Some((_, Some(cur))) = self.bindings.lookup_raw(domain, ip).await? {
                    let other = cur.session_id != b.session_id || cur.nas_id != b.nas_id;
                    if cur.source == Source::Radius && other && cur.since > b.since {
                        tracing::debug!(%gateway, "Interim-Update of an older session ignored");
                        continue;
                    }
                    if cur.source == Source::Radius && !other && cur.generation == b.generation {
                        // The same session: keep the start first recorded, so that `since`
                        // (the subscriber's authentication time) does not jitter by the
                        // rounding of Acct-Session-Time from one Interim-Update to the next.
                        let mut same = b.clone();
                        same.since = cur.since;
                        match self.bindings.upsert_if_not_shared(domain, ip, &same, ttl).await? {
                            Upserted::Written => written += 1,
                            Upserted::Shared => shared += 1,
                        }
                        continue;
                    }
                }
            }
            match self.bindings.upsert_if_not_shared(domain, ip, &b, ttl).await? {
                Upserted::Written => written += 1,
                Upserted::Shared => {
                    // A gateway must not turn a CGNAT public address into one subscriber's.
                    tracing::warn!(%gateway, address = %ip, "Framed-IP-Address is a shared (CGNAT) address with port blocks; not bound");
                    shared += 1;
                }
            }
        }
        Ok(if written > 0 {
            Disposition::Applied
        } else if shared > 0 {
            Disposition::Ignored(Ignored::SharedAddress)
        } else {
            Disposition::Ignored(Ignored::StaleInterim)
        })
    }

    async fn stop(&self, req: &AccountingRequest, gateway: &str) -> Result<Disposition, StoreError> {
        let Some(session) = &req.session_id else {
            return Ok(Disposition::Ignored(Ignored::NoSessionId));
        };
        let domain = &self.cfg.domain;
        // Tombstone first: an Interim-Update racing with this Stop finds it.
        self.store.put(&keys::binding_tombstone(domain, gateway, session), b"1", TOMBSTONE_TTL).await?;
        let (addrs, refused_v6) = addresses(req);
        if addrs.is_empty() {
            let why = if refused_v6 { Ignored::UnusableIpv6Prefix } else { Ignored::NoAddress };
            return Ok(Disposition::Ignored(why));
        }
        let mut deleted = 0;
        for ip in addrs {
            // Compare-and-delete on the exact bytes read: if the record changed in between
            // (an Interim-Update of this session refreshed it), read again.
            for _ in 0..3 {
                let Some((bytes, Some(cur))) = self.bindings.lookup_raw(domain, ip).await? else { break };
                let owner = cur.source == Source::Radius
                    && cur.session_id.as_deref() == Some(session.as_str())
                    && cur.nas_id.as_deref() == Some(gateway);
                if !owner {
                    tracing::debug!(%gateway, "Stop of a session that does not own the address; binding kept");
                    break;
                }
                if self.bindings.delete_exact(domain, ip, &bytes).await? {
                    deleted += 1;
                    break;
                }
            }
        }
        Ok(if deleted > 0 { Disposition::Applied } else { Disposition::Ignored(Ignored::NotOwner) })
    }
}
