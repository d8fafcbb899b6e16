//! The accounting rules over the in-memory store, without sockets: what each Accounting-Request
//! does to the bindings and whether it is answered.

use numbat_core::{Amr, Clock, IdentityOutcome, ManualClock, Msisdn};
use numbat_network_ingress::bindings::{Binding, Bindings, Source};
use numbat_network_ingress::radius::accounting::{binding_ttl, msisdn_from_calling_station_id};
use numbat_network_ingress::radius::packet::{
    self, attr, decode, encode_accounting_request, Attribute, ACCOUNTING_RESPONSE,
};
use numbat_network_ingress::radius::{Accounting, AccountingConfig, Disposition, Dropped, Ignored, RadiusClient};
use numbat_network_ingress::{Ingress, IngressConfig};
use numbat_store::testing::OutageStore;
use numbat_store::SharedStore;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &[u8] = b"testing123";
const DOMAIN: &str = "default";

struct Rig {
    acct: Accounting,
    bindings: Bindings,
    flaky: Arc<OutageStore>,
    clock: Arc<ManualClock>,
    next_id: std::sync::atomic::AtomicU8,
}

fn gw(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 0, last)), 40000 + last as u16)
}

fn rig() -> Rig {
    rig_with(&["10.9.0.0/24"])
}

/// A rig whose RADIUS clients are `blocks`, each its own entry (all with [`SECRET`]).
fn rig_with(blocks: &[&str]) -> Rig {
    let flaky = Arc::new(OutageStore::new());
    let store: SharedStore = flaky.clone();
    let clock = Arc::new(ManualClock::default());
    let cfg = AccountingConfig {
        domain: DOMAIN.into(),
        clients: blocks.iter().map(|b| RadiusClient { cidr: b.parse().unwrap(), secret: SECRET.to_vec() }).collect(),
        default_interim_s: 300,
    };
    Rig {
        acct: Accounting::new(cfg, store.clone(), clock.clone()),
        bindings: Bindings::new(store),
        flaky,
        clock,
        next_id: Default::default(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn m(s: &str) -> Msisdn {
    Msisdn::parse(s).unwrap()
}

/// Attributes of one session report.
fn session(status: u32, addr: &str, csid: &str, session_id: &str, nas: &str) -> Vec<Attribute> {
    vec![
        Attribute::u32(attr::ACCT_STATUS_TYPE, status),
        Attribute::ipv4(attr::FRAMED_IP_ADDRESS, addr.parse().unwrap()),
        Attribute::new(attr::CALLING_STATION_ID, csid.as_bytes().to_vec()),
        Attribute::new(attr::ACCT_SESSION_ID, session_id.as_bytes().to_vec()),
        Attribute::ipv4(attr::NAS_IP_ADDRESS, nas.parse().unwrap()),
    ]
}

const START: u32 = 1;
const STOP: u32 = 2;
const INTERIM: u32 = 3;
const ACCT_ON: u32 = 7;
const ACCT_OFF: u32 = 8;

impl Rig {
    fn packet(&self, attrs: &[Attribute]) -> Vec<u8> {
        encode_accounting_request(self.next_id.fetch_add(1, Ordering::SeqCst), attrs, SECRET)
    }

    /// Send from gateway `from`; assert an Accounting-Response came back and return the disposition.
    async fn send(&self, from: SocketAddr, attrs: &[Attribute]) -> Disposition {
        let pkt = self.packet(attrs);
        let h = self.acct.handle(from, &pkt).await;
        let resp = h.response.unwrap_or_else(|| panic!("no response ({:?})", h.disposition));
        assert_response_for(&pkt, &resp);
        h.disposition
    }

    async fn msisdn_at(&self, addr: &str) -> Option<Msisdn> {
        self.bindings.lookup(DOMAIN, ip(addr), None, self.clock.now()).await.unwrap().map(|b| b.msisdn)
    }
}

/// A well-formed Accounting-Response to `req` under the shared secret.
fn assert_response_for(req: &[u8], resp: &[u8]) {
    assert_eq!(resp[0], ACCOUNTING_RESPONSE);
    assert_eq!(resp[1], req[1], "Identifier echoed");
    let mut input = resp[..4].to_vec();
    input.extend(&req[4..20]);
    input.extend(&resp[20..]);
    input.extend(SECRET);
    assert_eq!(&resp[4..20], &md5::compute(&input).0, "Response Authenticator");
}

#[tokio::test]
async fn start_binds_and_the_ingress_identifies() {
    let r = rig();
    let d = r.send(gw(1), &session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Applied);
    let b = r.bindings.lookup(DOMAIN, ip("10.20.0.1"), None, r.clock.now()).await.unwrap().expect("bound");
    assert_eq!(b.msisdn, m("+34600000005"));
    assert_eq!(b.source, Source::Radius);
    assert_eq!(b.session_id.as_deref(), Some("s1"));
    assert_eq!(b.nas_id.as_deref(), Some("cidr:10.9.0.0/24|ip:10.9.0.1"), "the authenticating block, then the NAS");
    assert!(b.last_seen.is_some());

    let ingress = Ingress::new(
        IngressConfig::default(),
        r.bindings.clone(),
        r.clock.clone(),
    );
    match ingress.identify(Some(ip("10.20.0.1")), None).await {
        IdentityOutcome::Identified(id) => {
            assert_eq!(id.msisdn, m("+34600000005"));
            assert_eq!(id.amr, Amr::Nba);
        }
        other => panic!("not identified: {other:?}"),
    }
    // A leading "+" is accepted as well.
    r.send(gw(1), &session(START, "10.20.0.2", "+34600000006", "s2", "10.9.0.1")).await;
    assert_eq!(r.msisdn_at("10.20.0.2").await, Some(m("+34600000006")));
}

#[tokio::test]
async fn stop_with_the_wrong_session_leaves_the_new_owner() {
    let r = rig();
    r.send(gw(1), &session(START, "10.20.0.1", "34600000005", "old", "10.9.0.1")).await;
    r.send(gw(1), &session(START, "10.20.0.1", "34600000006", "new", "10.9.0.1")).await;
    let d = r.send(gw(1), &session(STOP, "10.20.0.1", "34600000005", "old", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Ignored(Ignored::NotOwner), "a late Stop is acknowledged");
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000006")), "the new owner stays");
    // The same session id from another gateway is another session.
    let d = r.send(gw(2), &session(STOP, "10.20.0.1", "34600000006", "new", "10.9.0.2")).await;
    assert_eq!(d, Disposition::Ignored(Ignored::NotOwner));
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000006")));
}

#[tokio::test]
async fn stop_with_the_right_session_removes() {
    let r = rig();
    r.send(gw(1), &session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    let d = r.send(gw(1), &session(STOP, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.1").await, None);
    assert!(r.bindings.lookup_raw(DOMAIN, ip("10.20.0.1")).await.unwrap().is_none(), "record deleted");
}

#[tokio::test]
async fn tombstone_blocks_a_late_interim_and_start_of_the_stopped_session() {
    let r = rig();
    r.send(gw(1), &session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    r.send(gw(1), &session(STOP, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    let d = r.send(gw(1), &session(INTERIM, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Ignored(Ignored::Tombstoned), "acknowledged, not applied");
    assert_eq!(r.msisdn_at("10.20.0.1").await, None, "a late Interim-Update does not resurrect it");
    let d = r.send(gw(1), &session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Ignored(Ignored::Tombstoned));
    // Another session on the same address is not affected by the tombstone.
    let d = r.send(gw(1), &session(START, "10.20.0.1", "34600000006", "s2", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000006")));
}

#[tokio::test]
async fn a_delayed_interim_of_an_older_session_does_not_take_the_address_back() {
    let r = rig();
    let mut new = session(START, "10.20.0.1", "34600000006", "new", "10.9.0.1");
    new.push(Attribute::u32(attr::ACCT_SESSION_TIME, 0));
    r.send(gw(1), &new).await;
    // "old" has been up for an hour: it started before "new".
    let mut late = session(INTERIM, "10.20.0.1", "34600000005", "old", "10.9.0.1");
    late.push(Attribute::u32(attr::ACCT_SESSION_TIME, 3600));
    assert_eq!(r.send(gw(1), &late).await, Disposition::Ignored(Ignored::StaleInterim));
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000006")));
    // An Interim-Update of the owning session refreshes it.
    let mut own = session(INTERIM, "10.20.0.1", "34600000006", "new", "10.9.0.1");
    own.push(Attribute::u32(attr::ACCT_SESSION_TIME, 300));
    assert_eq!(r.send(gw(1), &own).await, Disposition::Applied);
    // An Interim-Update creates the binding when the Start was lost.
    assert_eq!(r.send(gw(1), &session(INTERIM, "10.20.0.9", "34600000009", "s9", "10.9.0.1")).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.9").await, Some(m("+34600000009")));
}

#[tokio::test]
async fn accounting_on_purges_only_that_gateways_bindings() {
    let r = rig();
    r.send(gw(1), &session(START, "10.20.0.1", "34600000001", "a", "10.9.0.1")).await;
    r.send(gw(1), &session(START, "10.20.0.2", "34600000002", "b", "10.9.0.1")).await;
    r.send(gw(2), &session(START, "10.20.0.3", "34600000003", "c", "10.9.0.2")).await;
    r.bindings
        .upsert(DOMAIN, ip("10.20.0.4"), &Binding::new(m("+34600000004"), Source::Static, 0), Duration::from_secs(60))
        .await
        .unwrap();
    let on = [Attribute::u32(attr::ACCT_STATUS_TYPE, ACCT_ON), Attribute::ipv4(attr::NAS_IP_ADDRESS, "10.9.0.1".parse().unwrap())];
    assert_eq!(r.send(gw(1), &on).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.1").await, None);
    assert_eq!(r.msisdn_at("10.20.0.2").await, None);
    assert_eq!(r.msisdn_at("10.20.0.3").await, Some(m("+34600000003")), "another gateway's binding stays");
    assert_eq!(r.msisdn_at("10.20.0.4").await, Some(m("+34600000004")), "static bindings stay");
    // Sessions after the restart bind again.
    r.send(gw(1), &session(START, "10.20.0.1", "34600000011", "a2", "10.9.0.1")).await;
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000011")));
    // Accounting-Off of gateway 2 (by NAS-Identifier this time) ends its sessions too.
    r.send(gw(2), &{
        let mut s = session(START, "10.20.0.5", "34600000005", "e", "10.9.0.2");
        s.retain(|a| a.typ != attr::NAS_IP_ADDRESS);
        s.push(Attribute::new(attr::NAS_IDENTIFIER, b"pgw-2".to_vec()));
        s
    })
    .await;
    let off = [Attribute::u32(attr::ACCT_STATUS_TYPE, ACCT_OFF), Attribute::new(attr::NAS_IDENTIFIER, b"pgw-2".to_vec())];
    assert_eq!(r.send(gw(2), &off).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.5").await, None);
    assert_eq!(r.msisdn_at("10.20.0.3").await, Some(m("+34600000003")), "keyed by NAS-IP-Address: another gateway");
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000011")));
}

#[tokio::test]
async fn a_bad_authenticator_is_dropped() {
    let r = rig();
    let attrs = session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1");
    let forged = encode_accounting_request(1, &attrs, b"not-the-secret");
    let h = r.acct.handle(gw(1), &forged).await;
    assert_eq!(h.response, None);
    assert_eq!(h.disposition, Disposition::Dropped(Dropped::BadAuthenticator));
    let mut tampered = r.packet(&attrs);
    let n = tampered.len();
    tampered[n - 1] ^= 1; // NAS-IP-Address changed after signing
    assert_eq!(r.acct.handle(gw(1), &tampered).await.disposition, Disposition::Dropped(Dropped::BadAuthenticator));
    assert_eq!(r.msisdn_at("10.20.0.1").await, None);
}

#[tokio::test]
async fn unknown_sources_and_other_packets_are_dropped() {
    let r = rig();
    let pkt = r.packet(&session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1"));
    let stranger = SocketAddr::new(ip("10.9.1.1"), 1813);
    let h = r.acct.handle(stranger, &pkt).await;
    assert_eq!((h.response, h.disposition), (None, Disposition::Dropped(Dropped::UnknownSource)));
    assert_eq!(r.msisdn_at("10.20.0.1").await, None);
    let h = r.acct.handle(gw(1), &pkt[..30]).await;
    assert_eq!(h.disposition, Disposition::Dropped(Dropped::Malformed));
    let mut access_request = pkt.clone();
    access_request[0] = 1;
    let h = r.acct.handle(gw(1), &access_request).await;
    assert_eq!(h.disposition, Disposition::Dropped(Dropped::NotAccountingRequest));
    // An IPv4-mapped source is the IPv4 gateway.
    let mapped = SocketAddr::new(ip("::ffff:10.9.0.1"), 4000);
    assert!(r.acct.handle(mapped, &pkt).await.response.is_some());
}

#[tokio::test]
async fn retransmissions_are_answered_from_the_cache_without_reapplying() {
    let r = rig();
    let start = r.packet(&session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1"));
    let first = r.acct.handle(gw(1), &start).await;
    assert_eq!(first.disposition, Disposition::Applied);
    r.send(gw(1), &session(STOP, "10.20.0.1", "34600000005", "s1", "10.9.0.1")).await;
    // The Start again, byte for byte, from the same address and port: answered, not applied.
    let again = r.acct.handle(gw(1), &start).await;
    assert_eq!(again.disposition, Disposition::Duplicate);
    assert_eq!(again.response, first.response, "the cached response");
    assert_eq!(r.msisdn_at("10.20.0.1").await, None, "the retransmitted Start did not rebind");
    // The same octets from another port are another packet (and meet the tombstone).
    let other_port = SocketAddr::new(gw(1).ip(), 1);
    assert_eq!(r.acct.handle(other_port, &start).await.disposition, Disposition::Ignored(Ignored::Tombstoned));
}

#[tokio::test]
async fn no_response_while_the_store_fails_and_the_retransmission_applies() {
    let r = rig();
    let start = r.packet(&session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1"));
    r.flaky.set_down(true);
    let h = r.acct.handle(gw(1), &start).await;
    assert_eq!((h.response, h.disposition), (None, Disposition::Dropped(Dropped::StoreError)));
    r.flaky.set_down(false);
    let h = r.acct.handle(gw(1), &start).await;
    assert_eq!(h.disposition, Disposition::Applied, "the gateway's retransmission is applied");
    assert!(h.response.is_some());
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000005")));
    // A failing lookup fails closed for the ingress.
    r.flaky.set_down(true);
    assert!(r.bindings.lookup(DOMAIN, ip("10.20.0.1"), None, r.clock.now()).await.is_err());
}

#[tokio::test]
async fn an_invalid_calling_station_id_is_acknowledged_without_a_binding() {
    let r = rig();
    for (i, bad) in ["00-11-22-33-44-55", "+34 600000005", "tel:+34600000005", "0034600000005", "1234", "++34600000005", "34600000005x"]
        .iter()
        .enumerate()
    {
        let addr = format!("10.20.1.{i}");
        let d = r.send(gw(1), &session(START, &addr, bad, &format!("s{i}"), "10.9.0.1")).await;
        assert_eq!(d, Disposition::Ignored(Ignored::InvalidCallingStationId), "{bad}");
        assert_eq!(r.msisdn_at(&addr).await, None, "{bad}");
    }
    let mut no_csid = session(START, "10.20.2.1", "34600000005", "x", "10.9.0.1");
    no_csid.retain(|a| a.typ != attr::CALLING_STATION_ID);
    assert_eq!(r.send(gw(1), &no_csid).await, Disposition::Ignored(Ignored::InvalidCallingStationId));
    let mut no_addr = session(START, "10.20.2.2", "34600000005", "y", "10.9.0.1");
    no_addr.retain(|a| a.typ != attr::FRAMED_IP_ADDRESS);
    assert_eq!(r.send(gw(1), &no_addr).await, Disposition::Ignored(Ignored::NoAddress));
    let mut no_session = session(START, "10.20.2.3", "34600000005", "z", "10.9.0.1");
    no_session.retain(|a| a.typ != attr::ACCT_SESSION_ID);
    assert_eq!(r.send(gw(1), &no_session).await, Disposition::Ignored(Ignored::NoSessionId));
    assert_eq!(msisdn_from_calling_station_id("34600000005"), Some(m("+34600000005")));
    assert_eq!(msisdn_from_calling_station_id("+34600000005"), Some(m("+34600000005")));
    assert_eq!(msisdn_from_calling_station_id(""), None);
}

#[tokio::test]
async fn an_ipv6_prefix_is_bound_as_its_64() {
    let r = rig();
    let attrs = vec![
        Attribute::u32(attr::ACCT_STATUS_TYPE, START),
        Attribute::ipv6_prefix("2001:db8:5:6::".parse().unwrap(), 64),
        Attribute::new(attr::CALLING_STATION_ID, b"34600000007".to_vec()),
        Attribute::new(attr::ACCT_SESSION_ID, b"v6".to_vec()),
        Attribute::ipv4(attr::NAS_IP_ADDRESS, "10.9.0.1".parse().unwrap()),
    ];
    assert_eq!(r.send(gw(1), &attrs).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("2001:db8:5:6:1:2:3:4").await, Some(m("+34600000007")), "any address of the /64");
    assert_eq!(r.msisdn_at("2001:db8:5:6::").await, Some(m("+34600000007")));
    assert_eq!(r.msisdn_at("2001:db8:5:7::1").await, None, "the next /64 is not bound");
    let mut stop = attrs.clone();
    stop[0] = Attribute::u32(attr::ACCT_STATUS_TYPE, STOP);
    assert_eq!(r.send(gw(1), &stop).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("2001:db8:5:6:1:2:3:4").await, None);
}

#[tokio::test]
async fn imsi_and_imeisv_are_kept_in_the_binding() {
    let r = rig();
    let mut attrs = session(START, "10.20.0.1", "34600000005", "s1", "10.9.0.1");
    attrs.push(Attribute::vsa_3gpp(packet::VSA_3GPP_IMSI, b"214010123456789"));
    attrs.push(Attribute::vsa_3gpp(packet::VSA_3GPP_IMEISV, b"3534900698733201"));
    attrs.push(Attribute::u32(attr::ACCT_INTERIM_INTERVAL, 600));
    r.send(gw(1), &attrs).await;
    let b = r.bindings.lookup(DOMAIN, ip("10.20.0.1"), None, r.clock.now()).await.unwrap().unwrap();
    assert_eq!(b.imsi.as_deref(), Some("214010123456789"));
    assert_eq!(b.imeisv.as_deref(), Some("3534900698733201"));
    // Decodable from the stored bytes alone, version 1.
    let (raw, _) = r.bindings.lookup_raw(DOMAIN, ip("10.20.0.1")).await.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["v"], 1);
    assert_eq!(v["imsi"], "214010123456789");
}

#[test]
fn binding_ttl_is_twice_the_interim_interval_plus_30s_bounded() {
    assert_eq!(binding_ttl(300), Duration::from_secs(630));
    assert_eq!(binding_ttl(600), Duration::from_secs(1230));
    assert_eq!(binding_ttl(1), Duration::from_secs(2 * 10 + 30), "lower bound");
    assert_eq!(binding_ttl(u32::MAX), Duration::from_secs(2 * 86_400 + 30), "upper bound");
}

#[test]
fn responses_decode() {
    let req = encode_accounting_request(3, &[Attribute::u32(attr::ACCT_STATUS_TYPE, 1)], SECRET);
    let p = decode(&req).unwrap();
    let resp = packet::encode_accounting_response(&p, SECRET);
    assert_response_for(&req, &resp);
    assert_eq!(decode(&resp).unwrap().code, ACCOUNTING_RESPONSE);
}

/// A Start/Interim/Stop carrying Framed-IPv6-Prefix `prefix/len` (and no IPv4).
fn v6_session(status: u32, prefix: &str, len: u8, csid: &str, session_id: &str) -> Vec<Attribute> {
    vec![
        Attribute::u32(attr::ACCT_STATUS_TYPE, status),
        Attribute::ipv6_prefix(prefix.parse().unwrap(), len),
        Attribute::new(attr::CALLING_STATION_ID, csid.as_bytes().to_vec()),
        Attribute::new(attr::ACCT_SESSION_ID, session_id.as_bytes().to_vec()),
        Attribute::ipv4(attr::NAS_IP_ADDRESS, "10.9.0.1".parse().unwrap()),
    ]
}

/// Issue 6, review finding 1: a Framed-IPv6-Prefix longer than /64 names one address, not the
/// device's /64. Binding its /64 identified every other device there as this subscriber
/// (Start with 2001:db8:1:2::5/128 → 2001:db8:1:2::77 was +34600000009). Now nothing is bound
/// and the packet is acknowledged.
#[tokio::test]
async fn a_framed_ipv6_prefix_longer_than_64_binds_nothing() {
    let r = rig();
    for (i, len) in [128u8, 127, 96, 65].into_iter().enumerate() {
        let d = r.send(gw(1), &v6_session(START, "2001:db8:1:2::5", len, "34600000009", &format!("p{i}"))).await;
        assert_eq!(d, Disposition::Ignored(Ignored::UnusableIpv6Prefix), "/{len} is acknowledged, not applied");
        assert_eq!(r.msisdn_at("2001:db8:1:2::77").await, None, "/{len}: a neighbour in the /64 is nobody");
        assert_eq!(r.msisdn_at("2001:db8:1:2::5").await, None, "/{len}: not even the named address");
        let d = r.send(gw(1), &v6_session(INTERIM, "2001:db8:1:2::5", len, "34600000009", &format!("p{i}"))).await;
        assert_eq!(d, Disposition::Ignored(Ignored::UnusableIpv6Prefix));
        assert_eq!(r.msisdn_at("2001:db8:1:2::77").await, None);
    }
    // With a Framed-IP-Address as well, the IPv4 address binds and the IPv6 prefix still does not.
    let mut both = session(START, "10.20.0.9", "34600000009", "both", "10.9.0.1");
    both.push(Attribute::ipv6_prefix("2001:db8:1:2::5".parse().unwrap(), 128));
    assert_eq!(r.send(gw(1), &both).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.9").await, Some(m("+34600000009")));
    assert_eq!(r.msisdn_at("2001:db8:1:2::77").await, None);
    // Shorter than /16: nothing either.
    let d = r.send(gw(1), &v6_session(START, "2000::", 8, "34600000009", "wide")).await;
    assert_eq!(d, Disposition::Ignored(Ignored::UnusableIpv6Prefix));
    assert_eq!(r.msisdn_at("2000::1").await, None);
}

/// Issue 6, review finding 1, the deliberate choice for a shorter prefix: all of it is the
/// subscriber's, and only its first /64 is bound, so the rest fails closed.
#[tokio::test]
async fn a_shorter_framed_ipv6_prefix_binds_only_its_first_64() {
    let r = rig();
    let d = r.send(gw(1), &v6_session(START, "2001:db8:1:200::", 56, "34600000009", "pd")).await;
    assert_eq!(d, Disposition::Applied);
    assert_eq!(r.msisdn_at("2001:db8:1:200::77").await, Some(m("+34600000009")), "the first /64");
    assert_eq!(r.msisdn_at("2001:db8:1:201::77").await, None, "the other /64s of the /56 are not bound");
    assert_eq!(r.msisdn_at("2001:db8:1:2ff::1").await, None);
}

/// Issue 6, review finding 2: a RADIUS Start whose Framed-IP-Address is a provisioned CGNAT
/// public address deleted its port blocks and bound it whole: every device behind it became that
/// subscriber (fails open). Now RADIUS leaves a shared address alone.
#[tokio::test]
async fn radius_never_binds_a_shared_cgnat_address_whole() {
    let r = rig();
    let public: Ipv4Addr = "198.51.100.7".parse().unwrap();
    let ttl = Duration::from_secs(3600);
    let block = |lo, hi| numbat_network_ingress::bindings::BindingAddr::port_block(public, lo, hi).unwrap();
    r.bindings.upsert(DOMAIN, block(40000, 40255), &Binding::new(m("+34600000006"), Source::Provisioning, 0), ttl).await.unwrap();
    r.bindings.upsert(DOMAIN, block(40256, 40511), &Binding::new(m("+34600000008"), Source::Provisioning, 0), ttl).await.unwrap();
    let at = |port: u16| {
        let b = &r.bindings;
        let now = r.clock.now();
        async move { b.lookup(DOMAIN, IpAddr::V4(public), Some(port), now).await.unwrap().map(|b| b.msisdn) }
    };
    let unchanged = || async {
        assert_eq!(at(40001).await, Some(m("+34600000006")));
        assert_eq!(at(40255).await, Some(m("+34600000006")));
        assert_eq!(at(40300).await, Some(m("+34600000008")));
        assert_eq!(at(41000).await, None, "a port outside every block is nobody's");
        assert_eq!(r.msisdn_at("198.51.100.7").await, None, "a shared address without a port is nobody's");
    };
    unchanged().await;
    for status in [START, INTERIM] {
        let d = r.send(gw(1), &session(status, "198.51.100.7", "34600000009", "cg", "10.9.0.1")).await;
        assert_eq!(d, Disposition::Ignored(Ignored::SharedAddress), "acknowledged, not applied");
        unchanged().await;
    }
    // A Stop for it deletes nothing either.
    let d = r.send(gw(1), &session(STOP, "198.51.100.7", "34600000009", "cg", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Ignored(Ignored::NotOwner));
    unchanged().await;
    // An IPv6 /64 in the same packet still binds.
    let mut both = session(START, "198.51.100.7", "34600000009", "cg2", "10.9.0.1");
    both.push(Attribute::ipv6_prefix("2001:db8:9::".parse().unwrap(), 64));
    assert_eq!(r.send(gw(1), &both).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("2001:db8:9::1").await, Some(m("+34600000009")));
    unchanged().await;
    // Once provisioning removes the blocks the address is an ordinary one again.
    assert!(r.bindings.delete(DOMAIN, block(40000, 40255)).await.unwrap());
    assert!(r.bindings.delete(DOMAIN, block(40256, 40511)).await.unwrap());
    let d = r.send(gw(1), &session(START, "198.51.100.7", "34600000009", "cg3", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Applied);
    assert_eq!(r.msisdn_at("198.51.100.7").await, Some(m("+34600000009")));
}

/// Issue 6, review finding 3: the gateway identity came from packet attributes only, so a client
/// of one block could name itself another block's gateway (NAS-IP-Address) and void its
/// bindings with an Accounting-On or end its sessions with a Stop. The identity now starts with
/// the block that authenticated the packet.
#[tokio::test]
async fn a_client_of_one_block_cannot_act_as_a_gateway_of_another() {
    let r = rig_with(&["10.9.0.0/24", "10.8.0.0/24"]);
    let victim = gw(1); // 10.9.0.1, in 10.9.0.0/24
    let intruder = SocketAddr::new(ip("10.8.0.66"), 1813);
    r.send(victim, &session(START, "10.20.0.1", "34600000001", "a", "10.9.0.1")).await;
    let mut by_id = session(START, "10.20.0.2", "34600000002", "b", "10.9.0.1");
    by_id.retain(|a| a.typ != attr::NAS_IP_ADDRESS);
    by_id.push(Attribute::new(attr::NAS_IDENTIFIER, b"pgw-1".to_vec()));
    r.send(victim, &by_id).await;
    // Accounting-On/Off claiming the victim's NAS-IP-Address and NAS-Identifier: acknowledged
    // (it restarts the intruder's own namesake), the victim's bindings stay.
    for claim in [Attribute::ipv4(attr::NAS_IP_ADDRESS, "10.9.0.1".parse().unwrap()), Attribute::new(attr::NAS_IDENTIFIER, b"pgw-1".to_vec())] {
        for status in [ACCT_ON, ACCT_OFF] {
            let on = [Attribute::u32(attr::ACCT_STATUS_TYPE, status), claim.clone()];
            assert_eq!(r.send(intruder, &on).await, Disposition::Applied);
            assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000001")), "another block's Accounting-On/Off voids nothing");
            assert_eq!(r.msisdn_at("10.20.0.2").await, Some(m("+34600000002")));
        }
    }
    // A Stop of the victim's session under the victim's name: not the owner.
    let d = r.send(intruder, &session(STOP, "10.20.0.1", "34600000001", "a", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Ignored(Ignored::NotOwner));
    assert_eq!(r.msisdn_at("10.20.0.1").await, Some(m("+34600000001")), "another block's Stop ends nothing");
    // ... and its tombstone does not block the victim's own Interim-Update.
    let d = r.send(victim, &session(INTERIM, "10.20.0.1", "34600000001", "a", "10.9.0.1")).await;
    assert_eq!(d, Disposition::Applied);
    // The victim itself still can.
    let on = [Attribute::u32(attr::ACCT_STATUS_TYPE, ACCT_ON), Attribute::ipv4(attr::NAS_IP_ADDRESS, "10.9.0.1".parse().unwrap())];
    assert_eq!(r.send(victim, &on).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.1").await, None);
    assert_eq!(r.msisdn_at("10.20.0.2").await, Some(m("+34600000002")), "NAS-Identifier pgw-1 is another gateway of the block");
    r.send(victim, &session(START, "10.20.0.3", "34600000003", "c", "10.9.0.1")).await;
    assert_eq!(r.send(victim, &session(STOP, "10.20.0.3", "34600000003", "c", "10.9.0.1")).await, Disposition::Applied);
    assert_eq!(r.msisdn_at("10.20.0.3").await, None);
}
