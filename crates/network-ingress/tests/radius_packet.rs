//! RADIUS codec against hand-made RFC 2866 packets and one captured from FreeRADIUS's radclient
//! (an independent implementation of the Request Authenticator).

use numbat_network_ingress::radius::packet::{
    self, attr, decode, encode_accounting_request, encode_accounting_response, verify_accounting_request,
    AccountingRequest, Attribute, PacketError, StatusType, ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE,
};
use std::net::{Ipv4Addr, Ipv6Addr};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// `radclient 127.0.0.1:18131 acct testing123` (freeradius-utils 3.2.1) sending:
/// Acct-Status-Type = Start, Framed-IP-Address = 10.1.2.3, Framed-IPv6-Prefix = 2001:db8:1:2::/64,
/// Calling-Station-Id = "34600000005", Acct-Session-Id = "sess-1", NAS-IP-Address = 192.0.2.10,
/// Acct-Interim-Interval = 600, 3GPP-IMSI = "214010123456789", 3GPP-IMEISV = "3534900698733201",
/// Proxy-State = 0x616263.
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

#[test]
fn radclient_packet_decodes_and_verifies() {
    let raw = hex(RADCLIENT_START);
    assert_eq!(raw.len(), 137);
    let p = decode(&raw).unwrap();
    assert_eq!((p.code, p.identifier), (ACCOUNTING_REQUEST, 0xd2));
    assert_eq!(p.attributes.len(), 10);
    assert!(verify_accounting_request(&p, b"testing123"), "radclient's Request Authenticator");
    assert!(!verify_accounting_request(&p, b"testing124"), "another secret");

    let r = AccountingRequest::from_packet(&p);
    assert_eq!(r.status(), Some(StatusType::Start));
    assert_eq!(r.framed_ip, Some(Ipv4Addr::new(10, 1, 2, 3)));
    assert_eq!(r.framed_ipv6_prefix, Some(("2001:db8:1:2::".parse::<Ipv6Addr>().unwrap(), 64)));
    assert_eq!(r.calling_station_id.as_deref(), Some("34600000005"));
    assert_eq!(r.session_id.as_deref(), Some("sess-1"));
    assert_eq!(r.nas_ip, Some(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(r.interim_interval, Some(600));
    assert_eq!(r.imsi.as_deref(), Some("214010123456789"));
    assert_eq!(r.imeisv.as_deref(), Some("3534900698733201"));
    let dbg = format!("{r:?}");
    assert!(!dbg.contains("34600000005") && !dbg.contains("2140101") && !dbg.contains("35349006"), "{dbg}");
}

#[test]
fn any_changed_octet_breaks_the_authenticator() {
    let raw = hex(RADCLIENT_START);
    for i in [0usize, 1, 4, 19, 20, 60, 136] {
        let mut bad = raw.clone();
        bad[i] ^= 0x01;
        if let Ok(p) = decode(&bad) {
            assert!(!verify_accounting_request(&p, b"testing123"), "octet {i} changed and still verifies");
        }
    }
}

/// RFC 2866 §3, written out: MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret).
#[test]
fn hand_made_accounting_on_matches_the_rfc_formula() {
    // Accounting-On (Acct-Status-Type = 7) from NAS-Identifier "pgw-1", Identifier 7.
    let attrs = hex("28 06 00000007  20 07 7067772d31");
    let mut unsigned = hex("04 07 0021");
    unsigned.extend([0u8; 16]);
    unsigned.extend(&attrs);
    let mut signed_input = unsigned.clone();
    signed_input.extend(b"s3cret");
    let auth = md5::compute(&signed_input).0;

    let built = encode_accounting_request(
        7,
        &[Attribute::u32(attr::ACCT_STATUS_TYPE, 7), Attribute::new(attr::NAS_IDENTIFIER, b"pgw-1".to_vec())],
        b"s3cret",
    );
    assert_eq!(built.len(), 0x21);
    assert_eq!(&built[..4], &unsigned[..4]);
    assert_eq!(&built[4..20], &auth);
    assert_eq!(&built[20..], &attrs[..]);
    let p = decode(&built).unwrap();
    assert!(verify_accounting_request(&p, b"s3cret"));
    let r = AccountingRequest::from_packet(&p);
    assert_eq!(r.status(), Some(StatusType::AccountingOn));
    assert_eq!(r.nas_identifier.as_deref(), Some("pgw-1"));
}

/// RFC 2866 §3: Response Authenticator = MD5(Code + Identifier + Length + Request Authenticator +
/// Attributes + Secret); RFC 2865 §5.33: Proxy-State copied unmodified.
#[test]
fn accounting_response_authenticator_and_proxy_state() {
    let raw = hex(RADCLIENT_START);
    let p = decode(&raw).unwrap();
    let resp = encode_accounting_response(&p, b"testing123");
    assert_eq!(resp[0], ACCOUNTING_RESPONSE);
    assert_eq!(resp[1], 0xd2);
    assert_eq!(u16::from_be_bytes([resp[2], resp[3]]) as usize, resp.len());
    assert_eq!(&resp[20..], &hex("21 05 616263")[..], "only Proxy-State is echoed");
    let mut input = resp[..4].to_vec();
    input.extend(&raw[4..20]);
    input.extend(&resp[20..]);
    input.extend(b"testing123");
    assert_eq!(&resp[4..20], &md5::compute(&input).0);

    let plain = decode(&encode_accounting_request(9, &[Attribute::u32(attr::ACCT_STATUS_TYPE, 1)], b"k")).unwrap();
    assert_eq!(encode_accounting_response(&plain, b"k").len(), 20, "no attributes without Proxy-State");
}

#[test]
fn malformed_packets_are_refused() {
    let good = hex(RADCLIENT_START);
    assert_eq!(decode(&good[..19]), Err(PacketError::TooShort));
    let mut long = good.clone();
    long[2..4].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(decode(&long), Err(PacketError::BadLength), "Length beyond the datagram");
    let mut short = good.clone();
    short[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(decode(&short), Err(PacketError::BadLength));
    let mut huge = vec![0u8; 4097];
    huge[..4].copy_from_slice(&[4, 1, 0x10, 0x01]);
    assert_eq!(decode(&huge), Err(PacketError::BadLength), "over 4096 octets");
    for bad_attr in ["28 01", "28 00 00", "28 09 00000001", "28"] {
        let mut p = hex("04 01 0000 00000000000000000000000000000000");
        p.extend(hex(bad_attr));
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(decode(&p), Err(PacketError::BadAttribute), "{bad_attr}");
    }
    // Octets past Length are padding (RFC 2865 §3): ignored, and the packet still verifies.
    let mut padded = good.clone();
    padded.extend([0xff; 7]);
    let p = decode(&padded).unwrap();
    assert_eq!(p.raw.len(), 137);
    assert!(verify_accounting_request(&p, b"testing123"));
}

#[test]
fn attribute_values_are_checked() {
    let p = |attrs: Vec<Attribute>| AccountingRequest::from_packet(&decode(&encode_accounting_request(1, &attrs, b"k")).unwrap());
    // Framed-IPv6-Prefix with only the significant octets (RFC 3162 §2.3).
    let r = p(vec![Attribute::ipv6_prefix("2001:db8:aa:bb::".parse().unwrap(), 64)]);
    assert_eq!(r.framed_ipv6_prefix, Some(("2001:db8:aa:bb::".parse().unwrap(), 64)));
    // A prefix length that the octets cannot hold, or over 128: ignored.
    assert_eq!(p(vec![Attribute::new(attr::FRAMED_IPV6_PREFIX, hex("00 40 20010db8"))]).framed_ipv6_prefix, None);
    assert_eq!(p(vec![Attribute::new(attr::FRAMED_IPV6_PREFIX, hex("00 81 20010db8"))]).framed_ipv6_prefix, None);
    // Framed-IP-Address of the wrong size: ignored.
    assert_eq!(p(vec![Attribute::new(attr::FRAMED_IP_ADDRESS, hex("0a0102"))]).framed_ip, None);
    // IMSI / IMEISV must be digits of the right length; other vendors are not 3GPP.
    let r = p(vec![
        Attribute::vsa_3gpp(packet::VSA_3GPP_IMSI, b"21401x123456789"),
        Attribute::vsa_3gpp(packet::VSA_3GPP_IMEISV, b"12"),
    ]);
    assert_eq!((r.imsi, r.imeisv), (None, None));
    let mut other_vendor = 9u32.to_be_bytes().to_vec();
    other_vendor.extend(hex("01 11 323134303130313233343536373839"));
    assert_eq!(p(vec![Attribute::new(attr::VENDOR_SPECIFIC, other_vendor)]).imsi, None);
    // Several 3GPP sub-attributes in one Vendor-Specific attribute.
    let mut both = packet::VENDOR_3GPP.to_be_bytes().to_vec();
    both.extend(hex("01 11 323134303130313233343536373839"));
    both.extend(hex("14 12 33353334393030363938373333323031"));
    let r = p(vec![Attribute::new(attr::VENDOR_SPECIFIC, both)]);
    assert_eq!(r.imsi.as_deref(), Some("214010123456789"));
    assert_eq!(r.imeisv.as_deref(), Some("3534900698733201"));
    assert_eq!(StatusType::from_u32(8), StatusType::AccountingOff);
    assert_eq!(StatusType::from_u32(3), StatusType::InterimUpdate);
}
