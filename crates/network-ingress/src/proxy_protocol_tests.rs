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

// PP2_TYPE_CRC32C (spec §2.2.5): the receiver must verify the checksum when it is present.

const CRC_TLV_ZEROED: [u8; 7] = [0x03, 0, 4, 0, 0, 0, 0];

/// Fill in the CRC32C value at `at` (its 4 value bytes): the CRC32c of the whole header with the
/// field zeroed.
fn seal(mut h: Vec<u8>, at: usize) -> Vec<u8> {
    h[at..at + 4].fill(0);
    let crc = crc32c(&h);
    h[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    h
}

/// Where the value of the (first) CRC32C TLV of an AF_INET PROXY header built by [`v2`] is.
fn crc_value_at(h: &[u8]) -> usize {
    let mut at = 16 + 12;
    while h[at] != 0x03 {
        at += 3 + u16::from_be_bytes([h[at + 1], h[at + 2]]) as usize;
    }
    at + 3
}

/// AF_INET addresses, PP2_TYPE_AUTHORITY "example.com", the CRC32C TLV, a 3-byte PP2_TYPE_NOOP.
fn inet_with_tlvs_and_crc() -> Vec<u8> {
    let mut body = inet_body();
    body.extend([0x02, 0, 11]);
    body.extend(b"example.com");
    body.extend(CRC_TLV_ZEROED);
    body.extend([0x04, 0, 3, 0, 0, 0]);
    let h = v2(0x21, 0x11, &body);
    let at = crc_value_at(&h);
    seal(h, at)
}

fn inet_proxied() -> Header {
    Header::Proxied { source: sa("198.51.100.7:40001"), destination: sa("203.0.113.1:443") }
}

#[test]
fn crc32c_matches_the_standard_check_values() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
    // RFC 3720 (iSCSI) appendix B.4.
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    assert_eq!(crc32c(&(0u8..32).collect::<Vec<_>>()), 0x46DD_794E);
}

#[test]
fn v2_crc32c_tlv_with_the_right_checksum_is_accepted() {
    let mut body = inet_body();
    body.extend(CRC_TLV_ZEROED);
    let h = seal(v2(0x21, 0x11, &body), 28 + 3);
    let http = b"GET / HTTP/1.1\r\n\r\n";
    let stream = [h.clone(), http.to_vec()].concat();
    let (header, len) = drive(&stream).unwrap();
    assert_eq!(header, inet_proxied());
    assert_eq!(len, h.len(), "16 + 12 + 7: never a byte of the HTTP request");
    assert_eq!(&stream[len..], http);

    // AF_INET6 (TLVs after 36 bytes of addresses) and LOCAL (verified too; still identifies nobody).
    let mut h6 = encode_v2(sa("[2001:db8::1]:4711"), sa("[2001:db8::2]:443"));
    h6.extend(CRC_TLV_ZEROED);
    h6[14..16].copy_from_slice(&(36u16 + 7).to_be_bytes());
    let h6 = seal(h6, 52 + 3);
    assert_eq!(
        drive(&h6).unwrap(),
        (Header::Proxied { source: sa("[2001:db8::1]:4711"), destination: sa("[2001:db8::2]:443") }, 59)
    );
    let mut bad6 = h6.clone();
    bad6[20] ^= 0x01;
    assert_eq!(drive(&bad6), Err(ProxyError::Malformed("v2 CRC32C checksum mismatch")));
    let local = seal(v2(0x20, 0x00, &CRC_TLV_ZEROED), 16 + 3);
    assert_eq!(drive(&local).unwrap(), (Header::Local, 23));
    let mut bad_local = local.clone();
    bad_local[22] ^= 0x80;
    assert_eq!(drive(&bad_local), Err(ProxyError::Malformed("v2 CRC32C checksum mismatch")));
}

#[test]
fn v2_crc32c_tlv_rejects_a_flipped_bit_in_the_address_or_another_tlv() {
    let good = inet_with_tlvs_and_crc();
    assert_eq!(drive(&good).unwrap(), (inet_proxied(), good.len()));
    let crc_at = crc_value_at(&good);
    // Every bit of the address block (16..28) and of the AUTHORITY value (31..42), and of the
    // NOOP value after the checksum.
    let noop_value = crc_at + 4 + 3;
    assert_eq!(&good[noop_value - 3..noop_value], &[0x04, 0, 3]);
    for i in (16..28).chain(31..42).chain(noop_value..good.len()) {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[i] ^= 1 << bit;
            assert_eq!(drive(&bad), Err(ProxyError::Malformed("v2 CRC32C checksum mismatch")), "byte {i} bit {bit}");
        }
    }
    // The AUTHORITY TLV's type turned into another type is caught too.
    let mut bad = good.clone();
    assert_eq!(bad[28], 0x02);
    bad[28] = 0x05;
    assert_eq!(drive(&bad), Err(ProxyError::Malformed("v2 CRC32C checksum mismatch")));
}

#[test]
fn v2_crc32c_tlv_with_a_wrong_checksum_is_rejected() {
    let good = inet_with_tlvs_and_crc();
    let at = crc_value_at(&good);
    let right = u32::from_be_bytes(good[at..at + 4].try_into().unwrap());
    for wrong in [0, right ^ 1, right ^ 0x8000_0000, right.swap_bytes(), !right, crc32c(&good[..at - 3])] {
        assert_ne!(wrong, right);
        let mut bad = good.clone();
        bad[at..at + 4].copy_from_slice(&wrong.to_be_bytes());
        assert_eq!(drive(&bad), Err(ProxyError::Malformed("v2 CRC32C checksum mismatch")), "{wrong:#010x}");
    }
    // The checksum of the header with the field not zeroed is not the checksum either.
    let mut bad = good.clone();
    let unzeroed = crc32c(&good);
    bad[at..at + 4].copy_from_slice(&unzeroed.to_be_bytes());
    assert_ne!(unzeroed, right);
    assert_eq!(drive(&bad), Err(ProxyError::Malformed("v2 CRC32C checksum mismatch")));
}

#[test]
fn v2_crc32c_tlv_whose_length_is_not_4_is_malformed() {
    for n in [0usize, 1, 2, 3, 5, 8] {
        let mut body = inet_body();
        body.extend([0x03, 0, n as u8]);
        body.extend(vec![0u8; n]);
        let h = v2(0x21, 0x11, &body);
        // Even with a "checksum" that would match over its first 4 (or fewer) bytes.
        let h = if n >= 4 { seal(h, 31) } else { h };
        assert_eq!(drive(&h), Err(ProxyError::Malformed("v2 CRC32C TLV length is not 4")), "length {n}");
    }
    // A CRC32C TLV among others, with length 3 and 5.
    for n in [3u8, 5] {
        let mut body = inet_body();
        body.extend([0x02, 0, 1, b'x']);
        body.extend([0x03, 0, n]);
        body.extend(vec![0u8; n as usize]);
        body.extend([0x04, 0, 0]);
        assert_eq!(
            drive(&v2(0x21, 0x11, &body)),
            Err(ProxyError::Malformed("v2 CRC32C TLV length is not 4")),
            "length {n}"
        );
    }
    // Length 4, but the header ends first.
    let mut body = inet_body();
    body.extend([0x03, 0, 4, 0, 0]);
    assert_eq!(drive(&v2(0x21, 0x11, &body)), Err(ProxyError::Malformed("v2 CRC32C TLV overruns the header")));
}

#[test]
fn v2_crc32c_tlv_among_other_tlvs_is_verified() {
    // Computed once, independently of `crc32c`, with a bitwise CRC32c in Python over the exact
    // bytes below with the value zeroed:
    //   def crc32c(d):
    //       c = 0xffffffff
    //       for b in d:
    //           c ^= b
    //           for _ in range(8): c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    //       return c ^ 0xffffffff
    let mut expected = V2_SIGNATURE.to_vec();
    expected.extend([0x21, 0x11, 0, 39]);
    expected.extend([198, 51, 100, 7, 203, 0, 113, 1, 0x9c, 0x41, 0x01, 0xbb]);
    expected.extend([0x02, 0, 11]);
    expected.extend(b"example.com");
    expected.extend([0x03, 0, 4, 0x55, 0xbb, 0x56, 0x76]);
    expected.extend([0x04, 0, 3, 0, 0, 0]);
    assert_eq!(expected.len(), 55);
    let built = inet_with_tlvs_and_crc();
    assert_eq!(built, expected, "crc32c agrees with the Python reference");
    assert_eq!(drive(&expected).unwrap(), (inet_proxied(), 55));

    // The checksum first, in the middle or last; with an AWS TLV and an SSL TLV carrying
    // sub-TLVs (a 0x03 byte inside a value is no CRC32C TLV).
    let authority = [&[0x02u8, 0, 11][..], b"example.com"].concat();
    let noop = vec![0x04, 0, 2, 0x03, 0x03];
    let aws = vec![0xEA, 0, 5, 0x01, b'v', b'p', b'c', b'e'];
    let ssl = vec![0x20, 0, 9, 0x01, 0, 0, 0, 0, 0x21, 0, 1, b'3'];
    let crc = CRC_TLV_ZEROED.to_vec();
    for order in [
        vec![&crc, &authority, &noop, &aws, &ssl],
        vec![&authority, &noop, &crc, &aws, &ssl],
        vec![&authority, &noop, &aws, &ssl, &crc],
    ] {
        let mut body = inet_body();
        for tlv in &order {
            body.extend(tlv.iter());
        }
        let h = v2(0x21, 0x11, &body);
        let at = crc_value_at(&h);
        let good = seal(h, at);
        assert_eq!(drive(&good).unwrap(), (inet_proxied(), good.len()));
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 0x04;
        assert_eq!(drive(&bad), Err(ProxyError::Malformed("v2 CRC32C checksum mismatch")));
    }
}

#[test]
fn v2_crc32c_tlv_at_most_one() {
    let mut body = inet_body();
    body.extend(CRC_TLV_ZEROED);
    body.extend(CRC_TLV_ZEROED);
    let h = seal(v2(0x21, 0x11, &body), 31);
    assert_eq!(drive(&h), Err(ProxyError::Malformed("v2 header carries more than one CRC32C TLV")));
}
