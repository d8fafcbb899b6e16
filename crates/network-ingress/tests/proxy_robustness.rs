//! Mutation-based robustness tests (a poor man's fuzzer) of the PROXY protocol header parser of
//! the network ingress (`proxy_protocol`, proxy-protocol.txt v1 and v2), which reads bytes
//! straight off the network in front of HTTP.
//!
//! The rule pinned (the brief): "every bad input gets the spec's error and never a 500, a panic,
//! or lost state". Here that means: no input makes the parser panic; whatever it accepts is
//! self-consistent; more bytes never turn a refused header into an accepted one.
//!
//! Every case is generated from its own 64-bit seed (`fuzz/mod.rs`, fully deterministic). A
//! failing case prints its seed and its input as hex; run that case alone with
//! `NUMBAT_FUZZ_SEED=0x… cargo test -p numbat-network-ingress --test proxy_robustness`.
//! `NUMBAT_FUZZ_SCALE=10` runs ten times as many cases.

#[macro_use]
mod fuzz;
use fuzz::*;
use numbat_network_ingress::proxy_protocol::{
    self, crc32c, encode_v2, Header, Parsed, ProxyError, V1_MAX_LEN, V2_MAX_PAYLOAD, V2_SIGNATURE,
};
use std::net::{IpAddr, SocketAddr};


// ---------------------------------------------------------------------------------------------
// PROXY protocol: valid headers to start from
// ---------------------------------------------------------------------------------------------

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut b = V2_SIGNATURE.to_vec();
    b.push(cmd);
    b.push(fam);
    b.extend((body.len() as u16).to_be_bytes());
    b.extend(body);
    b
}

fn inet_body() -> Vec<u8> {
    let mut body = vec![198, 51, 100, 7, 203, 0, 113, 1];
    body.extend(40001u16.to_be_bytes());
    body.extend(443u16.to_be_bytes());
    body
}

/// Offsets of the v2 TLVs (type byte) as far as the chain is walkable.
fn tlv_offsets(h: &[u8]) -> Vec<usize> {
    let addr = match h.get(13).map(|f| f >> 4) {
        Some(0) => 0,
        Some(1) => 12,
        Some(2) => 36,
        Some(3) => 216,
        _ => return Vec::new(),
    };
    let end = h.len().min(16 + h.get(14..16).map_or(0, |l| u16::from_be_bytes([l[0], l[1]]) as usize));
    let mut out = Vec::new();
    let mut at = 16 + addr;
    while at + 3 <= end {
        out.push(at);
        at += 3 + u16::from_be_bytes([h[at + 1], h[at + 2]]) as usize;
    }
    out
}

/// If the header carries a CRC32C TLV (type 3, length 4) that the walk reaches, fill in the
/// right checksum: a mutation then gets past the checksum into the rest of the parser.
fn reseal(h: &mut [u8]) {
    if h.len() < 16 {
        return;
    }
    let len = (16 + u16::from_be_bytes([h[14], h[15]]) as usize).min(h.len());
    for at in tlv_offsets(&h[..len]) {
        if h[at] == 0x03 && h[at + 1..at + 3] == [0, 4] && at + 7 <= len {
            h[at + 3..at + 7].fill(0);
            let crc = crc32c(&h[..len]);
            h[at + 3..at + 7].copy_from_slice(&crc.to_be_bytes());
            return;
        }
    }
}

const CRC_TLV_ZEROED: [u8; 7] = [0x03, 0, 4, 0, 0, 0, 0];

fn proxy_seeds() -> Vec<Vec<u8>> {
    let http = b"GET /authorize HTTP/1.1\r\nHost: op.example\r\n\r\n".to_vec();
    let mut out: Vec<Vec<u8>> = vec![
        b"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n".to_vec(),
        b"PROXY TCP6 2001:db8::1 2001:db8::2 4711 443\r\n".to_vec(),
        b"PROXY TCP6 ::ffff:198.51.100.7 ::1 0 65535\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
            .to_vec(),
        b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
            .to_vec(),
        v2(0x21, 0x11, &inet_body()),
        encode_v2(sa("[2001:db8::1]:4711"), sa("[2001:db8::2]:443")),
        encode_v2(sa("127.0.0.2:5555"), sa("127.0.0.1:8080")),
        v2(0x20, 0x00, &[]),
        v2(0x20, 0x11, &inet_body()),
        v2(0x21, 0x00, &[1, 2, 3]),
        v2(0x21, 0x31, &[b'/'; 216]),
        v2(0x21, 0x32, &[b'/'; 216]),
    ];
    // AF_INET with TLVs: AUTHORITY, AWS, SSL with sub-TLVs, NOOP; the CRC32C first, in the
    // middle or last; and AF_INET6 and LOCAL with a CRC32C.
    let authority = [&[0x02u8, 0, 11][..], b"example.com"].concat();
    let noop = vec![0x04, 0, 2, 0x03, 0x03];
    let aws = vec![0xEA, 0, 5, 0x01, b'v', b'p', b'c', b'e'];
    let ssl = vec![0x20, 0, 9, 0x01, 0, 0, 0, 0, 0x21, 0, 1, b'3'];
    let crc = CRC_TLV_ZEROED.to_vec();
    for order in [
        vec![&authority, &aws],
        vec![&crc, &authority, &noop, &aws, &ssl],
        vec![&authority, &noop, &crc, &aws, &ssl],
        vec![&authority, &noop, &aws, &ssl, &crc],
    ] {
        let mut body = inet_body();
        for tlv in order {
            body.extend(tlv.iter());
        }
        let mut h = v2(0x21, 0x11, &body);
        reseal(&mut h);
        out.push(h);
    }
    let mut h6 = encode_v2(sa("[2001:db8::1]:4711"), sa("[2001:db8::2]:443"));
    h6.extend(CRC_TLV_ZEROED);
    h6[14..16].copy_from_slice(&(36u16 + 7).to_be_bytes());
    reseal(&mut h6);
    out.push(h6);
    let mut local = v2(0x20, 0x00, &CRC_TLV_ZEROED);
    reseal(&mut local);
    out.push(local);
    for s in &out {
        assert!(matches!(proxy_protocol::parse(s), Ok(Parsed::Complete { len, .. }) if len == s.len()), "seed {s:?}");
    }
    // The same headers followed by the HTTP request they precede.
    let with_http: Vec<Vec<u8>> = out.iter().map(|h| [h.clone(), http.clone()].concat()).collect();
    out.extend(with_http);
    out
}

// ---------------------------------------------------------------------------------------------
// PROXY protocol: mutations
// ---------------------------------------------------------------------------------------------

const V1_TOKENS: [&str; 30] = [
    "PROXY",
    "TCP4",
    "TCP6",
    "UNKNOWN",
    "UDP4",
    "tcp4",
    "0",
    "00",
    "65535",
    "65536",
    "99999",
    "-1",
    "+1",
    "1.2.3.4",
    "001.2.3.4",
    "256.1.1.1",
    "1.2.3",
    "::",
    "::1",
    "::ffff:1.2.3.4",
    "fe80::1%eth0",
    "[::1]",
    "2001:db8::1",
    "1:2:3:4:5:6:7:8:9",
    "",
    " ",
    "\r",
    "\n",
    "\r\n",
    "\0",
];

const INTERESTING_PROXY_BYTES: [u8; 20] = [
    0, 0x03, 0x0d, 0x0a, b' ', b':', b'.', b'0', b'9', b'%', 0x20, 0x21, 0x11, 0x12, 0x31, 0x32, 0x7f, 0x80, 0xff, 0x22,
];

fn mutate_proxy(rng: &mut Rng, p: &mut Vec<u8>) {
    let n = p.len();
    let is_v2 = p.starts_with(&V2_SIGNATURE);
    match rng.below(14) {
        0 if n > 0 => {
            let i = rng.below(n);
            p[i] ^= 1 << rng.below(8);
        }
        1 if n > 0 => {
            let i = rng.below(n);
            p[i] = rng.byte();
        }
        2 if n > 0 => {
            let i = rng.below(n);
            p[i] = *rng.pick(&INTERESTING_PROXY_BYTES);
        }
        3 => p.truncate(rng.below(n + 1)),
        4 => {
            let k = 1 + rng.below(64);
            p.extend(rng.bytes(k));
        }
        // v2: the length field (bytes 14..16) corrupted.
        5 if n >= 16 => {
            let cur = u16::from_be_bytes([p[14], p[15]]);
            let v = pick!(
                rng,
                [
                    0,
                    3,
                    11,
                    12,
                    35,
                    36,
                    215,
                    216,
                    cur.wrapping_sub(1),
                    cur.wrapping_add(1),
                    (n - 16) as u16,
                    V2_MAX_PAYLOAD as u16,
                    V2_MAX_PAYLOAD as u16 + 1,
                    0xffff,
                    rng.next() as u16,
                ]
            );
            p[14..16].copy_from_slice(&v.to_be_bytes());
        }
        // v2: command or family replaced.
        6 if n >= 14 => {
            p[12] = pick!(rng, [0x20, 0x21, 0x22, 0x2f, 0x11, 0x01, rng.byte()]);
            if rng.chance(60) {
                p[13] = pick!(rng, [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x10, 0x41, rng.byte()]);
            }
        }
        // v2: a TLV's length corrupted.
        7 if is_v2 => {
            let offs = tlv_offsets(p);
            if !offs.is_empty() {
                let o = *rng.pick(&offs);
                let cur = u16::from_be_bytes([p[o + 1], p[o + 2]]);
                let v =
                    pick!(rng, [0, 1, 3, 4, 5, cur.wrapping_sub(1), cur.wrapping_add(1), 0xffff, rng.next() as u16]);
                p[o + 1..o + 3].copy_from_slice(&v.to_be_bytes());
            }
        }
        // v2: a TLV duplicated, or a CRC32C TLV (zeroed) or random TLV inserted; length field fixed.
        8 if is_v2 && n >= 16 => {
            let offs = tlv_offsets(p);
            let tlv = match rng.below(3) {
                0 if !offs.is_empty() => {
                    let o = *rng.pick(&offs);
                    let end = (o + 3 + u16::from_be_bytes([p[o + 1], p[o + 2]]) as usize).min(n);
                    p[o..end].to_vec()
                }
                1 => CRC_TLV_ZEROED.to_vec(),
                _ => {
                    let k = rng.below(40);
                    let mut t = vec![rng.byte(), 0, k as u8];
                    t.extend(rng.bytes(k));
                    t
                }
            };
            let at = if offs.is_empty() || rng.chance(50) {
                (16 + u16::from_be_bytes([p[14], p[15]]) as usize).min(n)
            } else {
                *rng.pick(&offs)
            };
            p.splice(at..at, tlv.iter().copied());
            if rng.chance(85) {
                let payload = (u16::from_be_bytes([p[14], p[15]]) as usize + tlv.len()).min(0xffff) as u16;
                p[14..16].copy_from_slice(&payload.to_be_bytes());
            }
        }
        // v2: the CRC32C recomputed after the edits so far (reaching what lies behind it).
        9 if is_v2 => reseal(p),
        // v1: a field replaced by a hostile token, or spaces doubled/removed.
        10 if !is_v2 => {
            let end = p.windows(2).position(|w| w == b"\r\n").unwrap_or(n);
            let spaces: Vec<usize> = p[..end].iter().enumerate().filter(|(_, b)| **b == b' ').map(|(i, _)| i).collect();
            if spaces.is_empty() {
                return;
            }
            let s = *rng.pick(&spaces);
            match rng.below(3) {
                0 => {
                    let next = p[s + 1..end].iter().position(|b| *b == b' ').map_or(end, |k| s + 1 + k);
                    let tok = rng.pick(&V1_TOKENS).as_bytes().to_vec();
                    p.splice(s + 1..next, tok);
                }
                1 => p.insert(s, b' '),
                _ => {
                    p.remove(s);
                }
            }
        }
        // Random bytes inserted.
        11 => {
            let at = rng.below(n + 1);
            let k = 1 + rng.below(16);
            let b = rng.bytes(k);
            p.splice(at..at, b);
        }
        // A range deleted.
        12 if n > 0 => {
            let a = rng.below(n);
            let b = (a + 1 + rng.below(24)).min(n);
            p.drain(a..b);
        }
        // v1: the line made long (toward and past 107 bytes).
        13 if !is_v2 => {
            let at = rng.below(n.min(V1_MAX_LEN) + 1);
            let k = 1 + rng.below(110);
            p.splice(at..at, std::iter::repeat_n(pick!(rng, [b'f', b':', b'1', b' ']), k));
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// PROXY protocol: what every result must satisfy
// ---------------------------------------------------------------------------------------------

/// Feed `buf` the way the listener does, exactly `need` bytes at a time: the result and the
/// largest number of bytes ever asked for.
fn drive(buf: &[u8]) -> (Result<Parsed, ProxyError>, usize) {
    let mut have = 0;
    loop {
        match proxy_protocol::parse(&buf[..have]) {
            Ok(Parsed::Incomplete { need }) if need <= buf.len() => {
                assert!(need > have, "no progress: need {need} with {have}");
                have = need;
            }
            other => return (other, have),
        }
    }
}

fn check_proxy(buf: &[u8], rng: &mut Rng) {
    let r = proxy_protocol::parse(buf);
    assert_eq!(r, proxy_protocol::parse(buf), "deterministic");
    match r {
        Ok(Parsed::Incomplete { need }) => {
            assert!(need > buf.len(), "Incomplete must ask for more than it has: need {need}, have {}", buf.len());
            let max = if buf.first() == Some(&V2_SIGNATURE[0]) { 16 + V2_MAX_PAYLOAD } else { V1_MAX_LEN };
            assert!(need <= max, "need {need} over the largest header ({max})");
        }
        Ok(Parsed::Complete { header, len }) => {
            assert!(len > 0 && len <= buf.len(), "consumed {len} of {} bytes", buf.len());
            // The header is what its own bytes say: the same from exactly `len` bytes, whatever
            // follows, and when read the listener's way (never a byte past it).
            assert_eq!(proxy_protocol::parse(&buf[..len]), r, "Complete from exactly len bytes");
            let (driven, max_read) = drive(buf);
            assert_eq!(driven, r, "read need by need");
            assert!(max_read <= len, "read {max_read} bytes for a {len}-byte header");
            let mut more = buf[..len].to_vec();
            let k = rng.below(32);
            more.extend(rng.bytes(k));
            assert_eq!(proxy_protocol::parse(&more), r, "bytes after the header change nothing");
            if buf.starts_with(&V2_SIGNATURE) {
                let payload = u16::from_be_bytes([buf[14], buf[15]]) as usize;
                assert_eq!(len, 16 + payload);
                assert!(payload <= V2_MAX_PAYLOAD);
                assert_eq!(buf[12] >> 4, 2, "version 2");
                match header {
                    Header::Local => assert_eq!(buf[12], 0x20),
                    Header::Unknown => assert!(buf[12] == 0x21 && matches!(buf[13], 0x00 | 0x31 | 0x32)),
                    Header::Proxied { source, destination } => {
                        assert_eq!(buf[12], 0x21);
                        let (ip_len, port_at) = match buf[13] {
                            0x11 => (4, 16 + 8),
                            0x21 => (16, 16 + 32),
                            f => panic!("Proxied from family {f:#04x}"),
                        };
                        let ip = |at: usize| -> IpAddr {
                            if ip_len == 4 {
                                IpAddr::from(<[u8; 4]>::try_from(&buf[at..at + 4]).unwrap())
                            } else {
                                IpAddr::from(<[u8; 16]>::try_from(&buf[at..at + 16]).unwrap())
                            }
                        };
                        assert_eq!(source.ip(), ip(16));
                        assert_eq!(destination.ip(), ip(16 + ip_len));
                        assert_eq!(source.port(), u16::from_be_bytes([buf[port_at], buf[port_at + 1]]));
                        assert_eq!(destination.port(), u16::from_be_bytes([buf[port_at + 2], buf[port_at + 3]]));
                    }
                }
            } else {
                assert!(buf.starts_with(b"PROXY "), "Complete without a signature");
                assert!(len <= V1_MAX_LEN, "a {len}-byte v1 line");
                assert_eq!(&buf[len - 2..len], b"\r\n");
                let line = std::str::from_utf8(&buf[..len - 2]).expect("an accepted line is text");
                assert!(!line.contains(['\r', '\n']));
                let f: Vec<&str> = line.split(' ').collect();
                match header {
                    Header::Unknown => assert_eq!(f[1], "UNKNOWN"),
                    Header::Local => panic!("v1 has no LOCAL"),
                    Header::Proxied { source, destination } => {
                        assert_eq!(f.len(), 6, "{line:?}");
                        assert!(matches!((f[1], source.ip()), ("TCP4", IpAddr::V4(_)) | ("TCP6", IpAddr::V6(_))));
                        assert_eq!(source.ip(), f[2].parse::<IpAddr>().unwrap());
                        assert_eq!(destination.ip(), f[3].parse::<IpAddr>().unwrap());
                        assert_eq!(
                            (source.port().to_string(), destination.port().to_string()),
                            (f[4].into(), f[5].into())
                        );
                    }
                }
            }
        }
        Err(_) => {
            // Fail closed for good: no continuation turns a refused header into an accepted one.
            let mut more = buf.to_vec();
            let k = 1 + rng.below(64);
            more.extend(rng.bytes(k));
            assert!(proxy_protocol::parse(&more).is_err(), "refused, then accepted with more bytes");
        }
    }
    // Any prefix: a Complete or a refusal there is final.
    if !buf.is_empty() {
        let cut = rng.below(buf.len());
        match proxy_protocol::parse(&buf[..cut]) {
            Ok(Parsed::Complete { .. }) => assert_eq!(proxy_protocol::parse(&buf[..cut]), r, "prefix of {cut}"),
            Err(_) => assert!(r.is_err(), "prefix of {cut} refused, whole buffer accepted: {r:?}"),
            Ok(Parsed::Incomplete { need }) => assert!(need > cut),
        }
    }
}

#[test]
fn proxy_protocol_mutated_headers_never_panic_and_stay_consistent() {
    let seeds = proxy_seeds();
    let (mut complete, mut proxied) = (0u32, 0u32);
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    for seed in seeds_of(0x5050_5631, 100_000) {
        let mut rng = Rng::new(seed);
        let mut buf = rng.pick(&seeds).clone();
        for _ in 0..1 + rng.below(4) {
            mutate_proxy(&mut rng, &mut buf);
        }
        case("PROXY mutation", seed, &buf, || {
            check_proxy(&buf, &mut rng);
            let r = proxy_protocol::parse(&buf);
            if let Ok(Parsed::Complete { header, .. }) = r {
                complete += 1;
                proxied += matches!(header, Header::Proxied { .. }) as u32;
            }
            let outcome = match r {
                Ok(Parsed::Complete { header, .. }) => {
                    format!("{header:?}").split([' ', '{']).next().unwrap().to_owned()
                }
                Ok(Parsed::Incomplete { .. }) => "Incomplete".to_owned(),
                Err(e) => e.to_string(),
            };
            *outcomes.entry(outcome).or_default() += 1;
        });
    }
    eprintln!("PROXY mutations: {complete} complete headers, {proxied} with a source; outcomes {outcomes:?}");
    if std::env::var("NUMBAT_FUZZ_SEED").is_err() {
        assert!(
            complete > 10_000 && proxied > 5_000,
            "{complete} complete, {proxied} proxied: mutations too destructive"
        );
    }
}

#[test]
fn proxy_protocol_random_buffers_never_panic() {
    for seed in seeds_of(0x5050_5632, 50_000) {
        let mut rng = Rng::new(seed);
        let k = rng.below(600);
        let mut buf = rng.bytes(k);
        // Purely random for a third; behind a v1 or v2 signature for the rest (random bytes
        // hardly ever begin with one).
        match rng.below(3) {
            0 => {}
            1 => {
                let sig = b"PROXY ";
                let k = sig.len().min(buf.len());
                buf[..k].copy_from_slice(&sig[..k]);
            }
            _ => {
                let k = V2_SIGNATURE.len().min(buf.len());
                buf[..k].copy_from_slice(&V2_SIGNATURE[..k]);
                if buf.len() >= 16 && rng.chance(70) {
                    buf[12] = pick!(rng, [0x20, 0x21]);
                    let l = ((buf.len() - 16) as u16).min(rng.below(600) as u16);
                    buf[14..16].copy_from_slice(&l.to_be_bytes());
                }
            }
        }
        case("PROXY random buffer", seed, &buf, || check_proxy(&buf, &mut rng));
    }
}
