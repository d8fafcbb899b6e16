//! Hostile-input tests of the PROXY protocol parser (issue 6 item 4; proxy-protocol.txt).

use super::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Feed `bytes` the way the listener does: exactly `need` bytes at a time, never more.
fn drive(bytes: &[u8]) -> Result<(Header, usize), ProxyError> {
    let mut have = 0;
    loop {
        match parse(&bytes[..have])? {
            Parsed::Complete { header, len } => {
                assert_eq!(len, have, "a complete header is exactly what was read");
                return Ok((header, len));
            }
            Parsed::Incomplete { need } => {
                assert!(need > have, "progress: need {need} with {have}");
                if need > bytes.len() {
                    return Err(ProxyError::Malformed("<truncated: connection would time out>"));
                }
                have = need;
            }
        }
    }
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

#[test]
fn v2_proxy_inet_and_inet6_carry_the_source_port() {
    let h = v2(0x21, 0x11, &inet_body());
    let http = b"GET / HTTP/1.1\r\n\r\n";
    let stream = [h.clone(), http.to_vec()].concat();
    let (header, len) = drive(&stream).unwrap();
    assert_eq!(header, Header::Proxied { source: sa("198.51.100.7:40001"), destination: sa("203.0.113.1:443") });
    assert_eq!(len, 28, "16 + 12: never a byte of the HTTP request");
    assert_eq!(&stream[len..], http);

    let enc = encode_v2(sa("[2001:db8::1]:4711"), sa("[2001:db8::2]:443"));
    assert_eq!(
        drive(&enc).unwrap(),
        (Header::Proxied { source: sa("[2001:db8::1]:4711"), destination: sa("[2001:db8::2]:443") }, 52)
    );
    let enc4 = encode_v2(sa("127.0.0.2:5555"), sa("127.0.0.1:8080"));
    assert_eq!(
        drive(&enc4).unwrap().0,
        Header::Proxied { source: sa("127.0.0.2:5555"), destination: sa("127.0.0.1:8080") }
    );
}

#[test]
fn v2_tlvs_are_skipped() {
    let mut body = inet_body();
    // PP2_TYPE_AUTHORITY "example.com", PP2_TYPE_AWS (0xEA) vpce id, PP2_TYPE_NOOP, even a TLV
    // whose own length is wrong: TLVs never change the source.
    body.extend([0x02, 0, 11]);
    body.extend(b"example.com");
    body.extend([0xEA, 0, 5, 0x01, b'v', b'p', b'c', b'e']);
    body.extend([0x04, 0, 0]);
    body.extend([0x20, 0xff, 0xff]);
    let (header, len) = drive(&v2(0x21, 0x11, &body)).unwrap();
    assert_eq!(header, Header::Proxied { source: sa("198.51.100.7:40001"), destination: sa("203.0.113.1:443") });
    assert_eq!(len, 16 + body.len());
}

#[test]
fn v2_local_unspec_and_unix_identify_nobody() {
    // LOCAL (health checks): the real endpoints count (spec §2.2); any family, body skipped.
    assert_eq!(drive(&v2(0x20, 0x00, &[])).unwrap().0, Header::Local);
    assert_eq!(drive(&v2(0x20, 0x11, &inet_body())).unwrap().0, Header::Local);
    // PROXY over AF_UNSPEC: no address information.
    assert_eq!(drive(&v2(0x21, 0x00, &[])).unwrap().0, Header::Unknown);
    assert_eq!(drive(&v2(0x21, 0x00, &[1, 2, 3])).unwrap().0, Header::Unknown);
    // AF_UNIX: paths, no IP address.
    assert_eq!(drive(&v2(0x21, 0x31, &[b'/'; 216])).unwrap().0, Header::Unknown);
    assert_eq!(drive(&v2(0x21, 0x32, &[b'/'; 216])).unwrap().0, Header::Unknown);
    assert_eq!(drive(&v2(0x21, 0x31, &[b'/'; 100])), Err(ProxyError::Malformed("v2 AF_UNIX block too short")));
}

#[test]
fn v2_hostile_headers_are_refused() {
    // Wrong version, unknown commands, families and transports.
    for (cmd, fam) in [
        (0x11, 0x11),
        (0x31, 0x11),
        (0x01, 0x11),
        (0x22, 0x11),
        (0x2f, 0x11),
        (0x21, 0x12),
        (0x21, 0x10),
        (0x21, 0x22),
        (0x21, 0x20),
        (0x21, 0x41),
        (0x21, 0x13),
        (0x21, 0xff),
    ] {
        assert!(matches!(drive(&v2(cmd, fam, &[0; 40])), Err(ProxyError::Malformed(_))), "{cmd:#x} {fam:#x}");
    }
    // Address blocks shorter than the family needs.
    assert!(matches!(drive(&v2(0x21, 0x11, &[0; 11])), Err(ProxyError::Malformed(_))));
    assert!(matches!(drive(&v2(0x21, 0x21, &[0; 35])), Err(ProxyError::Malformed(_))));
    assert!(matches!(drive(&v2(0x21, 0x21, &[])), Err(ProxyError::Malformed(_))));
    // An oversized length is refused as soon as the fixed part is in, before buffering it.
    let mut big = v2(0x21, 0x11, &inet_body());
    big[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(parse(&big[..16]), Err(ProxyError::TooLong));
    big[14..16].copy_from_slice(&((V2_MAX_PAYLOAD + 1) as u16).to_be_bytes());
    assert_eq!(parse(&big[..16]), Err(ProxyError::TooLong));
    // A wrong signature, at any byte.
    let good = v2(0x21, 0x11, &inet_body());
    for i in 0..12 {
        let mut bad = good.clone();
        bad[i] ^= 0x40;
        assert_eq!(parse(&bad), Err(ProxyError::NoSignature), "byte {i}");
    }
}

#[test]
fn truncated_headers_ask_for_more_and_never_over_read() {
    let good = v2(0x21, 0x11, &inet_body());
    for cut in 0..good.len() {
        match parse(&good[..cut]).unwrap() {
            Parsed::Incomplete { need } => assert!(need > cut && need <= good.len(), "cut {cut}: need {need}"),
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    let line = b"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\n";
    for cut in 0..line.len() {
        match parse(&line[..cut]).unwrap() {
            Parsed::Incomplete { need } => assert!(need > cut && need <= line.len(), "cut {cut}: need {need}"),
            other => panic!("cut {cut}: {other:?}"),
        }
    }
    // The shortest line is read at once, exactly.
    assert_eq!(parse(b""), Ok(Parsed::Incomplete { need: 15 }));
    assert_eq!(parse(b"\r"), Ok(Parsed::Incomplete { need: 16 }));
    assert_eq!(parse(b"P"), Ok(Parsed::Incomplete { need: 15 }));
    assert_eq!(drive(b"PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n\r\n").unwrap(), (Header::Unknown, 15));
}

#[test]
fn v1_lines() {
    let (h, len) = drive(b"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\r\nGET /").unwrap();
    assert_eq!(h, Header::Proxied { source: sa("198.51.100.7:40001"), destination: sa("203.0.113.1:443") });
    assert_eq!(len, 47);
    let (h, _) = drive(b"PROXY TCP6 2001:db8::1 2001:db8::2 4711 443\r\n").unwrap();
    assert_eq!(h, Header::Proxied { source: sa("[2001:db8::1]:4711"), destination: sa("[2001:db8::2]:443") });
    assert_eq!(drive(b"PROXY UNKNOWN ffff:f...f:ffff 65535 65535\r\n").unwrap().0, Header::Unknown);
    // The longest TCP6 line, and the longest legal line (spec §2.1: 107 bytes, "UNKNOWN" with
    // two full IPv6 addresses).
    let tcp6 =
        b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert!(matches!(drive(tcp6).unwrap(), (Header::Proxied { .. }, 104)));
    let longest = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(longest.len(), V1_MAX_LEN);
    assert_eq!(drive(longest).unwrap(), (Header::Unknown, V1_MAX_LEN));
}

#[test]
fn v1_hostile_lines_are_refused() {
    for bad in [
        &b"PROXY TCP4 198.51.100.7 203.0.113.1 40001\r\n"[..],
        b"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443 9\r\n",
        b"PROXY TCP4  198.51.100.7 203.0.113.1 40001 443\r\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443 \r\n",
        b"PROXY TCP4 2001:db8::1 203.0.113.1 40001 443\r\n",
        b"PROXY TCP6 198.51.100.7 2001:db8::2 40001 443\r\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 65536 443\r\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 040001 443\r\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 0400 443\r\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 +4000 443\r\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 -1 443\r\n",
        b"PROXY TCP4 198.51.100.007 203.0.113.1 40001 443\r\n",
        b"PROXY TCP6 fe80::1%eth0 2001:db8::2 4711 443\r\n",
        b"PROXY TCP6 [2001:db8::1] 2001:db8::2 4711 443\r\n",
        b"PROXY UDP4 198.51.100.7 203.0.113.1 40001 443\r\n",
        b"PROXY tcp4 198.51.100.7 203.0.113.1 40001 443\r\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\n",
        b"PROXY TCP4 198.51.100.7 203.0.113.1 40001 443\rX",
        b"PROXY TCP4 198.51.100.\xff 203.0.113.1 40001 443\r\n",
        b"PROXY \r\n\r\n\r\n\r\n\r\n",
    ] {
        assert!(matches!(drive(bad), Err(ProxyError::Malformed(_))), "{}", String::from_utf8_lossy(bad));
    }
    // No CRLF within 107 bytes.
    let long = [b"PROXY UNKNOWN ".to_vec(), vec![b'a'; 200]].concat();
    assert_eq!(drive(&long), Err(ProxyError::TooLong));
    // Not PROXY at all: plain HTTP, TLS, lower case, empty-ish.
    for bad in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"\x16\x03\x01\x02\x00", b"proxy TCP4", b"PROXX", b"\0"] {
        assert_eq!(parse(bad), Err(ProxyError::NoSignature), "{}", String::from_utf8_lossy(bad));
    }
}
