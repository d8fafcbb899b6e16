//! Mutation-based robustness tests (a poor man's fuzzer) of the RADIUS accounting codec of the
//! network ingress (`radius::packet`, RFC 2865/2866), which reads bytes straight off the network,
//! and of the accounting handler behind it.
//!
//! The rule pinned (the brief): "every bad input gets the spec's error and never a 500, a panic,
//! or lost state". Here that means: no input makes the codec panic; whatever it accepts is
//! self-consistent; a packet whose authenticated octets were changed never verifies with the
//! right secret (and so never reaches the store).
//!
//! Every case is generated from its own 64-bit seed (`fuzz/mod.rs`, fully deterministic). A
//! failing case prints its seed and its input as hex; run that case alone with
//! `NUMBAT_FUZZ_SEED=0x… cargo test -p numbat-network-ingress --test radius_robustness`.
//! `NUMBAT_FUZZ_SCALE=10` runs ten times as many cases.

#[macro_use]
mod fuzz;
use fuzz::*;
use numbat_core::ManualClock;
use numbat_network_ingress::radius::packet::{
    self, accounting_request_authenticator, attr, decode, encode_accounting_request, encode_accounting_response,
    verify_accounting_request, AccountingRequest, Attribute, ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE, MAX_LEN, MIN_LEN,
};
use numbat_network_ingress::radius::{Accounting, AccountingConfig, Disposition, Dropped, RadiusClient};
use numbat_store::testing::OutageStore;
use numbat_store::SharedStore;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;


// ---------------------------------------------------------------------------------------------
// RADIUS: valid Accounting-Requests to start from
// ---------------------------------------------------------------------------------------------

/// FreeRADIUS radclient's Accounting-Request Start (the capture in `radius_packet.rs`): secret
/// `testing123`.
const RADCLIENT_START: &str = "
    04 d2 0089 cd067ff55725c960624428f93a36ff09
    28 06 00000001
    08 06 0a010203
    61 14 0040 20010db8000100020000000000000000
    1f 0d 3334363030303030303035
    2c 08 736573732d31
    04 06 c000020a
    55 06 00000258
    1a 17 000028af 01 11 323134303130313233343536373839
    1a 18 000028af 14 12 33353334393030363938373333323031
    21 05 616263";

struct RadiusSeed {
    raw: Vec<u8>,
    secret: &'static [u8],
}

/// Start, Interim-Update and Stop with Framed-IP-Address, Framed-IPv6-Prefix, the 3GPP IMSI and
/// IMEISV (apart and in one Vendor-Specific attribute), Proxy-State; plus the radclient capture.
fn radius_seeds() -> Vec<RadiusSeed> {
    let imsi = Attribute::vsa_3gpp(packet::VSA_3GPP_IMSI, b"214010123456789");
    let imeisv = Attribute::vsa_3gpp(packet::VSA_3GPP_IMEISV, b"3534900698733201");
    let mut both = packet::VENDOR_3GPP.to_be_bytes().to_vec();
    both.extend(unhex("01 11 323134303130313233343536373839"));
    both.extend(unhex("14 12 33353334393030363938373333323031"));
    let both = Attribute::new(attr::VENDOR_SPECIFIC, both);
    let session = |status: u32, v4: [u8; 4], v6: &str, len: u8, extra: Vec<Attribute>| {
        let mut a = vec![
            Attribute::u32(attr::ACCT_STATUS_TYPE, status),
            Attribute::ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::from(v4)),
            Attribute::ipv6_prefix(v6.parse::<Ipv6Addr>().unwrap(), len),
            Attribute::new(attr::CALLING_STATION_ID, b"+34600000005".to_vec()),
            Attribute::new(attr::ACCT_SESSION_ID, b"sess-42".to_vec()),
            Attribute::ipv4(attr::NAS_IP_ADDRESS, Ipv4Addr::new(192, 0, 2, 10)),
        ];
        a.extend(extra);
        a
    };
    let mut out = vec![RadiusSeed { raw: unhex(RADCLIENT_START), secret: b"testing123" }];
    let built: [(u8, Vec<Attribute>, &'static [u8]); 6] = [
        (1, session(1, [10, 1, 2, 3], "2001:db8:1:2::", 64, vec![imsi.clone(), imeisv.clone()]), b"s3cret"),
        (
            2,
            session(
                3,
                [10, 1, 2, 4],
                "2001:db8:1:3::",
                64,
                vec![
                    Attribute::u32(attr::ACCT_INTERIM_INTERVAL, 600),
                    Attribute::u32(attr::ACCT_SESSION_TIME, 1200),
                    both.clone(),
                ],
            ),
            b"s3cret",
        ),
        (
            3,
            session(
                2,
                [10, 1, 2, 5],
                "2001:db8:aa::",
                48,
                vec![imsi, Attribute::new(attr::PROXY_STATE, b"ps-1".to_vec())],
            ),
            b"another secret, longer than sixteen octets",
        ),
        (
            4,
            session(
                1,
                [100, 64, 0, 1],
                "2001:db8:1:4:5::",
                80,
                vec![
                    imeisv,
                    Attribute::new(
                        attr::NAS_IPV6_ADDRESS,
                        "2001:db8::10".parse::<Ipv6Addr>().unwrap().octets().to_vec(),
                    ),
                    Attribute::new(attr::NAS_IDENTIFIER, b"pgw-1".to_vec()),
                ],
            ),
            b"k",
        ),
        (
            5,
            vec![
                Attribute::u32(attr::ACCT_STATUS_TYPE, 7),
                Attribute::new(attr::NAS_IDENTIFIER, b"pgw-1".to_vec()),
                Attribute::new(attr::PROXY_STATE, vec![0xff; 40]),
            ],
            b"s3cret",
        ),
        // A packet near the largest attribute: a 253-octet Proxy-State and a full-length /128.
        (
            6,
            session(
                3,
                [10, 255, 255, 254],
                "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                128,
                vec![Attribute::new(attr::PROXY_STATE, vec![0x5a; 253]), both],
            ),
            b"s3cret",
        ),
    ];
    for (id, attrs, secret) in built {
        out.push(RadiusSeed { raw: encode_accounting_request(id, &attrs, secret), secret });
    }
    for s in &out {
        let p = decode(&s.raw).expect("seed decodes");
        assert!(verify_accounting_request(&p, s.secret), "seed verifies");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// RADIUS: mutations
// ---------------------------------------------------------------------------------------------

/// Start offsets of the attributes, as far as the chain is walkable.
fn attr_offsets(p: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = MIN_LEN;
    while i + 2 <= p.len() {
        out.push(i);
        let l = p[i + 1] as usize;
        if l < 2 {
            break;
        }
        i += l;
    }
    out
}

/// Set the header's Length to the buffer length (as a careless or hostile sender would after an
/// edit), so that the edit reaches the attribute walk instead of stopping at the Length check.
fn fix_length(p: &mut [u8]) {
    if p.len() >= 4 {
        let l = p.len().min(0xffff) as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
    }
}

const INTERESTING_U8: [u8; 14] = [0, 1, 2, 3, 4, 6, 8, 18, 19, 20, 0x7f, 0x80, 0xfe, 0xff];
const ATTR_TYPES: [u8; 14] = [
    attr::NAS_IP_ADDRESS,
    attr::FRAMED_IP_ADDRESS,
    attr::VENDOR_SPECIFIC,
    attr::CALLING_STATION_ID,
    attr::NAS_IDENTIFIER,
    attr::PROXY_STATE,
    attr::ACCT_STATUS_TYPE,
    attr::ACCT_SESSION_ID,
    attr::ACCT_SESSION_TIME,
    attr::ACCT_INTERIM_INTERVAL,
    attr::NAS_IPV6_ADDRESS,
    attr::FRAMED_IPV6_PREFIX,
    0,
    255,
];

/// A Vendor-Specific attribute whose inner (vendor) structure lies: sub-attribute lengths of 0,
/// 1, one too many or too few, sub-attributes running past the outer attribute, a wrong vendor.
fn hostile_vsa(rng: &mut Rng) -> Vec<u8> {
    let vendor: u32 = if rng.chance(80) { packet::VENDOR_3GPP } else { rng.next() as u32 };
    let mut v = vendor.to_be_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let typ = pick!(rng, [packet::VSA_3GPP_IMSI, packet::VSA_3GPP_IMEISV, 0, 2, 255]);
        let value: Vec<u8> = match rng.below(3) {
            0 => (0..rng.below(20)).map(|_| b'0' + rng.below(10) as u8).collect(),
            1 => {
                let k = rng.below(20);
                rng.bytes(k)
            }
            _ => b"214010123456789".to_vec(),
        };
        let honest = value.len() + 2;
        let inner = match rng.below(6) {
            0 => honest,
            1 => honest + 1,
            2 => honest.saturating_sub(1),
            3 => pick!(rng, [0, 1, 2, 3]),
            4 => 255,
            _ => rng.byte() as usize,
        };
        v.push(typ);
        v.push(inner as u8);
        v.extend(value);
    }
    if rng.chance(15) {
        v.truncate(rng.below(v.len() + 1)); // shorter than a vendor id, or a sub-header cut in half
    }
    v.truncate(253);
    let mut a = vec![attr::VENDOR_SPECIFIC, (v.len() + 2) as u8];
    a.extend(v);
    a
}

fn mutate_radius(rng: &mut Rng, p: &mut Vec<u8>) {
    let n = p.len();
    match rng.below(15) {
        // Bit flip.
        0 if n > 0 => {
            let i = rng.below(n);
            p[i] ^= 1 << rng.below(8);
        }
        // Byte overwrite, random or interesting.
        1 if n > 0 => {
            let i = rng.below(n);
            p[i] = rng.byte();
        }
        2 if n > 0 => {
            let i = rng.below(n);
            p[i] = *rng.pick(&INTERESTING_U8);
        }
        // Truncation.
        3 => p.truncate(rng.below(n + 1)),
        // Extension with random bytes (padding past Length, or a Length that then covers it).
        4 => {
            let k = 1 + rng.below(64);
            p.extend(rng.bytes(k));
        }
        // Header Length corrupted.
        5 if n >= 4 => {
            let cur = u16::from_be_bytes([p[2], p[3]]);
            let v = pick!(
                rng,
                [
                    0,
                    1,
                    19,
                    20,
                    21,
                    cur.wrapping_sub(1),
                    cur.wrapping_add(1),
                    n as u16,
                    (n as u16).wrapping_sub(1),
                    MAX_LEN as u16,
                    MAX_LEN as u16 + 1,
                    0x8000,
                    0xffff,
                    rng.next() as u16,
                ]
            );
            p[2..4].copy_from_slice(&v.to_be_bytes());
        }
        // An attribute's length corrupted.
        6 => {
            let offs = attr_offsets(p);
            if !offs.is_empty() {
                let o = offs[rng.below(offs.len())];
                let cur = p[o + 1];
                p[o + 1] = pick!(rng, [0, 1, 2, 3, cur.wrapping_sub(1), cur.wrapping_add(1), 255, rng.byte()]);
            }
        }
        // An attribute duplicated (somewhere else in the chain), Length fixed.
        7 => {
            let offs = attr_offsets(p);
            if !offs.is_empty() {
                let o = offs[rng.below(offs.len())];
                let end = (o + (p[o + 1] as usize).max(2)).min(n);
                let copy = p[o..end].to_vec();
                let at = if rng.chance(50) { n } else { *rng.pick(&offs) };
                p.splice(at..at, copy);
                if rng.chance(80) {
                    fix_length(p);
                }
            }
        }
        // A Vendor-Specific attribute with lying inner lengths inserted, Length fixed.
        8 => {
            let vsa = hostile_vsa(rng);
            let offs = attr_offsets(p);
            let at = if offs.is_empty() || rng.chance(40) { n } else { *rng.pick(&offs) };
            p.splice(at..at, vsa);
            if rng.chance(85) {
                fix_length(p);
            }
        }
        // The inner length (or vendor id) of an existing Vendor-Specific attribute corrupted.
        9 => {
            let vsas: Vec<usize> =
                attr_offsets(p).into_iter().filter(|&o| p[o] == attr::VENDOR_SPECIFIC && o + 8 <= n).collect();
            if !vsas.is_empty() {
                let o = *rng.pick(&vsas);
                if rng.chance(80) {
                    let cur = p[o + 7];
                    p[o + 7] = pick!(rng, [0, 1, 2, cur.wrapping_sub(1), cur.wrapping_add(1), 255, rng.byte()]);
                } else {
                    let i = o + 2 + rng.below(4);
                    p[i] = rng.byte();
                }
            }
        }
        // Random bytes inserted.
        10 => {
            let at = rng.below(n + 1);
            let k = 1 + rng.below(16);
            let b = rng.bytes(k);
            p.splice(at..at, b);
        }
        // A range deleted.
        11 if n > 0 => {
            let a = rng.below(n);
            let b = (a + 1 + rng.below(24)).min(n);
            p.drain(a..b);
        }
        // Length made to match the datagram.
        12 => fix_length(p),
        // A whole extra attribute, of a known type and any size, Length fixed.
        13 => {
            let k = rng.below(254);
            let mut a = vec![*rng.pick(&ATTR_TYPES), (k + 2).min(255) as u8];
            a.extend(rng.bytes(k.min(253)));
            let offs = attr_offsets(p);
            let at = if offs.is_empty() || rng.chance(50) { n } else { *rng.pick(&offs) };
            p.splice(at..at, a);
            fix_length(p);
        }
        // The code or identifier changed (outside the attributes, inside the authenticated part).
        _ if n >= 2 => {
            let i = rng.below(2);
            p[i] = pick!(rng, [ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE, 1, 2, 0, 255, rng.byte()]);
        }
        _ => {}
    }
}

/// One mutated datagram: a seed packet with 1 to 4 stacked mutations.
fn radius_case(rng: &mut Rng, seeds: &[RadiusSeed]) -> (usize, Vec<u8>) {
    let s = rng.below(seeds.len());
    let mut p = seeds[s].raw.clone();
    for _ in 0..1 + rng.below(4) {
        mutate_radius(rng, &mut p);
    }
    (s, p)
}

/// What any decoded packet must look like, and what reading it must not do.
fn check_decoded(buf: &[u8], p: &packet::Packet) {
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    assert!((MIN_LEN..=MAX_LEN).contains(&len) && len <= buf.len(), "accepted Length {len} of {} octets", buf.len());
    assert_eq!(p.raw, &buf[..len], "raw is the packet as Length delimits it");
    assert_eq!((p.code, p.identifier), (buf[0], buf[1]));
    assert_eq!(&p.authenticator[..], &buf[4..20]);
    let walked: usize = p.attributes.iter().map(|a| a.value.len() + 2).sum();
    assert_eq!(walked, len - MIN_LEN, "the attributes cover exactly the packet after the header");
    assert!(p.attributes.iter().all(|a| a.value.len() <= 253));

    let r = AccountingRequest::from_packet(p);
    let _ = format!("{r:?}");
    let _ = r.status();
    if let Some(imsi) = &r.imsi {
        assert!((5..=15).contains(&imsi.len()) && imsi.bytes().all(|b| b.is_ascii_digit()), "IMSI {imsi:?}");
    }
    if let Some(imeisv) = &r.imeisv {
        assert!((14..=16).contains(&imeisv.len()) && imeisv.bytes().all(|b| b.is_ascii_digit()), "IMEISV {imeisv:?}");
    }
    if let Some((_, plen)) = r.framed_ipv6_prefix {
        assert!(plen <= 128, "prefix length {plen}");
    }
    for t in [&r.session_id, &r.calling_station_id, &r.nas_identifier].into_iter().flatten() {
        assert!(!t.is_empty() && !t.chars().any(char::is_control), "text attribute {t:?}");
    }
}

#[test]
fn radius_mutated_accounting_requests_never_panic_and_never_verify() {
    let seeds = radius_seeds();
    let (mut decoded, mut unchanged) = (0u32, 0u32);
    for seed in seeds_of(0x5241_4431, 80_000) {
        let mut rng = Rng::new(seed);
        let (s, buf) = radius_case(&mut rng, &seeds);
        let (orig, secret) = (&seeds[s].raw, seeds[s].secret);
        case("RADIUS mutation", seed, &buf, || {
            let Ok(p) = decode(&buf) else { return };
            decoded += 1;
            check_decoded(&buf, &p);
            if p.raw == *orig {
                // Only octets past Length changed (padding, RFC 2865 §3): still the same packet.
                unchanged += 1;
                assert!(verify_accounting_request(&p, secret), "padding changed and the packet no longer verifies");
            } else {
                assert!(
                    !verify_accounting_request(&p, secret),
                    "octets covered by the Request Authenticator changed, and it still verifies"
                );
            }
            assert!(!verify_accounting_request(&p, b"not the secret"));
            let resp = encode_accounting_response(&p, secret);
            assert_eq!(u16::from_be_bytes([resp[2], resp[3]]) as usize, resp.len());
            assert!(resp.len() <= MAX_LEN && resp[0] == ACCOUNTING_RESPONSE && resp[1] == p.identifier);
        });
    }
    eprintln!("RADIUS mutations: {decoded} decoded, {unchanged} changed past Length only");
    // The mutations must reach past the Length check, or this test proves little.
    if std::env::var("NUMBAT_FUZZ_SEED").is_err() {
        assert!(decoded > 20_000, "only {decoded} mutated packets decoded");
        assert!(unchanged > 100, "only {unchanged} packets changed past Length only");
    }
}

/// The same mutations, then signed again with the right secret: authentic packets of any
/// structure. The attribute readers (3GPP vendor attributes above all) see hostile values that
/// passed the authenticator, as from a buggy or compromised gateway.
#[test]
fn radius_mutated_then_resigned_packets_decode_consistently() {
    let seeds = radius_seeds();
    let mut verified = 0u32;
    for seed in seeds_of(0x5241_4432, 20_000) {
        let mut rng = Rng::new(seed);
        let (s, mut buf) = radius_case(&mut rng, &seeds);
        let secret = seeds[s].secret;
        resign(&mut buf, secret);
        case("RADIUS re-signed mutation", seed, &buf, || {
            let Ok(p) = decode(&buf) else { return };
            check_decoded(&buf, &p);
            assert!(verify_accounting_request(&p, secret), "re-signed with the right secret");
            verified += 1;
        });
    }
    eprintln!("RADIUS re-signed mutations: {verified} decoded and verified");
    if std::env::var("NUMBAT_FUZZ_SEED").is_err() {
        assert!(verified > 5_000, "only {verified} re-signed packets decoded");
    }
}

/// Purely random datagrams, and random ones behind a plausible header.
#[test]
fn radius_random_datagrams_never_panic() {
    for seed in seeds_of(0x5241_4433, 20_000) {
        let mut rng = Rng::new(seed);
        let k = rng.below(600);
        let mut buf = rng.bytes(k);
        if rng.chance(50) && buf.len() >= 20 {
            buf[0] = ACCOUNTING_REQUEST;
            fix_length(&mut buf);
        }
        case("RADIUS random datagram", seed, &buf, || {
            if let Ok(p) = decode(&buf) {
                check_decoded(&buf, &p);
                assert!(!verify_accounting_request(&p, b"testing123"));
            }
        });
    }
}

/// Put a valid Request Authenticator on `buf` (if its Length is usable).
fn resign(buf: &mut [u8], secret: &[u8]) {
    if buf.len() < MIN_LEN {
        return;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    if !(MIN_LEN..=MAX_LEN).contains(&len) || len > buf.len() {
        return;
    }
    let auth = accounting_request_authenticator(&buf[..len], secret);
    buf[4..20].copy_from_slice(&auth);
}

// ---------------------------------------------------------------------------------------------
// RADIUS: through the accounting handler, store attached
// ---------------------------------------------------------------------------------------------

fn accounting(store: SharedStore, secrets: &[&'static [u8]]) -> Accounting {
    // One client block per secret, so each seed packet arrives from a source whose secret fits.
    let clients = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| RadiusClient { cidr: format!("10.9.{i}.0/24").parse().unwrap(), secret: s.to_vec() })
        .collect();
    let cfg = AccountingConfig { domain: "default".into(), clients, default_interim_s: 300 };
    Accounting::new(cfg, store, Arc::new(ManualClock::default()))
}

/// A mutated datagram whose authenticated octets changed is dropped before it reaches the store
/// (the store is down: any access would show as `Dropped(StoreError)`), without an answer. The
/// same mutations signed again are handled without a panic, and any answer is a well-formed
/// Accounting-Response to that packet.
#[test]
fn radius_mutated_packets_through_the_handler_never_touch_the_store_unless_authentic() {
    let seeds = radius_seeds();
    let secrets: Vec<&'static [u8]> = seeds.iter().map(|s| s.secret).collect();
    let outage = Arc::new(OutageStore::new());
    let acct = accounting(outage.clone(), &secrets);
    let mut answered = 0u32;
    for seed in seeds_of(0x5241_4434, 20_000) {
        let mut rng = Rng::new(seed);
        let (s, mut buf) = radius_case(&mut rng, &seeds);
        let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, s as u8, 1 + rng.below(200) as u8)), 1812);
        let resigned = rng.chance(50);
        if resigned {
            resign(&mut buf, seeds[s].secret);
        }
        let authentic = resigned || decode(&buf).is_ok_and(|p| p.raw == seeds[s].raw);
        outage.set_down(!authentic);
        let h = match catch_unwind(AssertUnwindSafe(|| futures_block(acct.handle(src, &buf)))) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("handler panicked. NUMBAT_FUZZ_SEED={seed:#018x} input: {}", hex(&buf));
                resume_unwind(e)
            }
        };
        case("RADIUS through the handler", seed, &buf, || {
            if !authentic {
                assert!(
                    matches!(
                        h.disposition,
                        Disposition::Dropped(
                            Dropped::Malformed | Dropped::NotAccountingRequest | Dropped::BadAuthenticator
                        )
                    ),
                    "a forged packet got {:?}",
                    h.disposition
                );
                assert_eq!(h.response, None);
            } else if let Some(resp) = &h.response {
                let req = decode(&buf).expect("answered, so it decoded");
                assert_eq!(u16::from_be_bytes([resp[2], resp[3]]) as usize, resp.len());
                assert_eq!((resp[0], resp[1]), (ACCOUNTING_RESPONSE, req.identifier));
                assert_eq!(*resp, encode_accounting_response(&req, seeds[s].secret));
                answered += 1;
            } else {
                assert!(matches!(h.disposition, Disposition::Dropped(_)), "no answer but {:?}", h.disposition);
            }
        });
    }
    eprintln!("RADIUS through the handler: {answered} authentic mutated packets answered");
    if std::env::var("NUMBAT_FUZZ_SEED").is_err() {
        assert!(answered > 2_000, "only {answered} authentic mutated packets were answered");
    }
}

/// The handler's future on this thread (the in-memory store never waits on I/O, and a panic
/// inside must be caught per case).
fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    futures_util::FutureExt::now_or_never(f).expect("the in-memory store completes at once")
}

