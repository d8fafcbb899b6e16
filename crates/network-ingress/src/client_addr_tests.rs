//! Hostile-input tests of client-address resolution (issue 6 item 4; RFC 7239).

use super::*;

fn cfg(header: ForwardingHeader) -> ClientAddrConfig {
    ClientAddrConfig {
        trusted_proxies: vec![
            "127.0.0.10".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8:ffff::/48".parse().unwrap(),
        ],
        forwarding_header: header,
        enrichment: None,
    }
}

fn sa(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

fn xff(values: &[&str]) -> Result<ClientAddr, Unresolved> {
    let v: Vec<&[u8]> = values.iter().map(|s| s.as_bytes()).collect();
    resolve(&cfg(ForwardingHeader::XForwardedFor), sa("127.0.0.10:5000"), &v)
}

fn fwd(values: &[&str]) -> Result<ClientAddr, Unresolved> {
    let v: Vec<&[u8]> = values.iter().map(|s| s.as_bytes()).collect();
    resolve(&cfg(ForwardingHeader::Forwarded), sa("127.0.0.10:5000"), &v)
}

fn at(ip: &str, port: Option<u16>) -> Result<ClientAddr, Unresolved> {
    Ok(ClientAddr { ip: ip.parse().unwrap(), port })
}

#[test]
fn an_untrusted_peer_is_the_client_and_its_forwarding_headers_are_ignored() {
    // issue 6 item 4: a spoofed X-Forwarded-For from an untrusted peer changes nothing.
    let c = cfg(ForwardingHeader::XForwardedFor);
    for h in ["127.0.0.2", "garbage,,", "unknown", ""] {
        assert_eq!(resolve(&c, sa("127.0.0.3:4242"), &[h.as_bytes()]), at("127.0.0.3", Some(4242)), "{h}");
    }
    assert_eq!(resolve(&c, sa("127.0.0.3:4242"), &[]), at("127.0.0.3", Some(4242)));
    // IPv4-mapped sources are IPv4 (a dual-stack listener).
    assert_eq!(resolve(&c, sa("[::ffff:127.0.0.3]:1"), &[b"127.0.0.2"]), at("127.0.0.3", Some(1)));
    // ... and a mapped trusted proxy is still trusted.
    assert_eq!(resolve(&c, sa("[::ffff:127.0.0.10]:1"), &[b"127.0.0.2"]), at("127.0.0.2", None));
    assert_eq!(resolve(&c, None, &[b"127.0.0.2"]), Err(Unresolved::NoPeer));
    // Without any trusted proxy configured nobody's header counts.
    let none = ClientAddrConfig::default();
    assert_eq!(resolve(&none, sa("127.0.0.10:9"), &[b"127.0.0.2"]), at("127.0.0.10", Some(9)));
}

#[test]
fn x_forwarded_for_is_walked_right_to_left_skipping_trusted_proxies() {
    assert_eq!(xff(&["127.0.0.2"]), at("127.0.0.2", None));
    assert_eq!(xff(&[" 127.0.0.2 "]), at("127.0.0.2", None));
    // The left-most entries are the client's own words: the right-most untrusted hop wins.
    assert_eq!(xff(&["203.0.113.9, 198.51.100.7, 10.0.0.2"]), at("198.51.100.7", None));
    assert_eq!(xff(&["127.0.0.1, 127.0.0.2, 10.1.1.1,10.2.2.2"]), at("127.0.0.2", None));
    // All instances, concatenated in order.
    assert_eq!(xff(&["198.51.100.1", "10.0.0.1, 10.0.0.2"]), at("198.51.100.1", None));
    assert_eq!(xff(&["10.0.0.1", "198.51.100.2"]), at("198.51.100.2", None));
    // Ports and IPv6.
    assert_eq!(xff(&["198.51.100.7:40001"]), at("198.51.100.7", Some(40001)));
    assert_eq!(xff(&["[2001:db8::1]:4711"]), at("2001:db8::1", Some(4711)));
    assert_eq!(xff(&["2001:db8::1"]), at("2001:db8::1", None));
    assert_eq!(xff(&["[2001:db8::1]"]), at("2001:db8::1", None));
    assert_eq!(xff(&["2001:db8::1, 2001:db8:ffff::1"]), at("2001:db8::1", None));
    assert_eq!(xff(&["::ffff:198.51.100.7"]), at("198.51.100.7", None), "mapped addresses are canonical");
    // Obfuscated or unknown hops left of the client do not matter; at the client they do.
    assert_eq!(xff(&["unknown, 198.51.100.7"]), at("198.51.100.7", None));
    assert_eq!(xff(&["198.51.100.7, unknown, 10.0.0.1"]), Err(Unresolved::Obfuscated));
    assert_eq!(xff(&["_hidden"]), Err(Unresolved::Obfuscated));
    assert_eq!(xff(&["UNKNOWN"]), Err(Unresolved::Obfuscated));
    // Only trusted proxies, or no header at all: nobody to identify.
    assert_eq!(xff(&["10.0.0.1, 127.0.0.10"]), Err(Unresolved::OnlyTrustedHops));
    assert_eq!(xff(&[]), Err(Unresolved::NoForwardingHeader));
}

#[test]
fn malformed_x_forwarded_for_fails_closed() {
    for bad in [
        "",
        " ",
        "127.0.0.2,",
        ",127.0.0.2",
        "127.0.0.1,,127.0.0.2",
        "not-an-address",
        "127.0.0.2 127.0.0.1",
        "127.0.0.2;",
        "300.1.1.1",
        "127.000.0.2",
        "127.0.0.2:0",
        "127.0.0.2:65536",
        "127.0.0.2:",
        "127.0.0.2:-1",
        "127.0.0.2:+80",
        "[2001:db8::1",
        "[2001:db8::1]:",
        "[127.0.0.2]",
        "fe80::1%eth0",
        "[fe80::1%2]:80",
        "\"127.0.0.2\"",
        "for=127.0.0.2",
        "_",
        "_bad!",
        "127.0.0.2\u{a0}",
    ] {
        assert_eq!(xff(&[bad]), Err(Unresolved::Malformed), "{bad:?}");
        // Malformed anywhere, even left of the client, fails closed.
        assert_eq!(xff(&[bad, "198.51.100.7"]), Err(Unresolved::Malformed), "{bad:?} left of a client");
    }
    let v: Vec<&[u8]> = vec![b"127.0.0.\xff"];
    assert_eq!(resolve(&cfg(ForwardingHeader::XForwardedFor), sa("127.0.0.10:1"), &v), Err(Unresolved::Malformed));
}

#[test]
fn forwarding_work_is_bounded() {
    let hops = |n: usize| vec!["10.0.0.1"; n].join(",");
    assert_eq!(xff(&[&hops(MAX_HOPS)]), Err(Unresolved::OnlyTrustedHops));
    assert_eq!(xff(&[&hops(MAX_HOPS + 1)]), Err(Unresolved::TooLarge));
    let fwd_hops = |n: usize| vec!["for=10.0.0.1"; n].join(",");
    assert_eq!(fwd(&[&fwd_hops(MAX_HOPS)]), Err(Unresolved::OnlyTrustedHops));
    assert_eq!(fwd(&[&fwd_hops(MAX_HOPS + 1)]), Err(Unresolved::TooLarge));
    let long = format!("{}198.51.100.7", " ".repeat(MAX_FORWARDING_BYTES));
    assert_eq!(xff(&[&long]), Err(Unresolved::TooLarge));
    let many: Vec<&str> = vec!["10.0.0.1"; 1000];
    assert_eq!(xff(&many), Err(Unresolved::TooLarge));
    let huge = "x".repeat(1 << 20);
    assert_eq!(fwd(&[&huge]), Err(Unresolved::TooLarge));
    // Just at the limit is parsed.
    let edge = format!("{}198.51.100.7", " ".repeat(MAX_FORWARDING_BYTES - 12));
    assert_eq!(edge.len(), MAX_FORWARDING_BYTES);
    assert_eq!(xff(&[&edge]), at("198.51.100.7", None));
}

#[test]
fn forwarded_rfc7239_nodes_and_ports() {
    // RFC 7239 §4 and §7.1 examples.
    assert_eq!(fwd(&["for=192.0.2.60;proto=http;by=203.0.113.43"]), at("192.0.2.60", None));
    assert_eq!(fwd(&["for=192.0.2.43, for=198.51.100.17"]), at("198.51.100.17", None));
    assert_eq!(fwd(&["for=192.0.2.43, for=10.0.0.17"]), at("192.0.2.43", None));
    assert_eq!(fwd(&["For=\"[2001:db8:cafe::17]:4711\""]), at("2001:db8:cafe::17", Some(4711)));
    assert_eq!(fwd(&["for=\"198.51.100.7:40001\""]), at("198.51.100.7", Some(40001)));
    assert_eq!(fwd(&["for=\"[2001:db8::1]\""]), at("2001:db8::1", None));
    assert_eq!(fwd(&["for=\"198.51.100.7\""]), at("198.51.100.7", None));
    // An obfuscated port: the address is known, the port is not.
    assert_eq!(fwd(&["for=\"198.51.100.7:_p1\""]), at("198.51.100.7", None));
    // Parameter names are case-insensitive; OWS around separators is tolerated.
    assert_eq!(fwd(&["FOR=198.51.100.7 ; proto=https , for=10.0.0.1"]), at("198.51.100.7", None));
    assert_eq!(fwd(&["proto=https;for=198.51.100.7;host=\"example.com:443\""]), at("198.51.100.7", None));
    // Quoted-pair escapes are unescaped.
    assert_eq!(fwd(&["for=\"1\\98.51.100.7\""]), at("198.51.100.7", None));
    // Several instances, in order; a trusted proxy with its own port is skipped.
    assert_eq!(fwd(&["for=198.51.100.7", "for=\"10.0.0.1:80\""]), at("198.51.100.7", None));
    // Obfuscated, unknown, or an element without `for` at the client hop: not identified.
    for hidden in [
        "for=unknown",
        "for=_hidden",
        "for=\"_gazonk\"",
        "for=\"unknown:40001\"",
        "proto=https",
        "by=10.0.0.1;proto=http",
    ] {
        assert_eq!(fwd(&[hidden]), Err(Unresolved::Obfuscated), "{hidden}");
        assert_eq!(fwd(&[hidden, "for=10.0.0.9"]), Err(Unresolved::Obfuscated), "{hidden}");
    }
    assert_eq!(fwd(&["for=unknown, for=198.51.100.7"]), at("198.51.100.7", None));
    assert_eq!(fwd(&["for=10.0.0.1"]), Err(Unresolved::OnlyTrustedHops));
}

#[test]
fn malformed_forwarded_fails_closed() {
    for bad in [
        "",
        "for",
        "for=",
        "=198.51.100.7",
        "for=198.51.100.7,",
        ",for=198.51.100.7",
        "for=198.51.100.7;",
        ";for=198.51.100.7",
        "for=198.51.100.7,,for=198.51.100.8",
        // §6: a port or an IPv6 address needs quotes (":" and "[" are not token characters).
        "for=198.51.100.7:40001",
        "for=[2001:db8::1]",
        "for=\"2001:db8::1\"",
        "for=\"[2001:db8::1\"",
        "for=\"[2001:db8::1]x\"",
        "for=\"[2001:db8::1]:\"",
        "for=\"[fe80::1%25eth0]\"",
        "for=\"198.51.100.7:0\"",
        "for=\"198.51.100.7:65536\"",
        "for=\"198.51.100.7:123456\"",
        "for=\"198.51.100.7:\"",
        "for=\"198.51.100.7:1:2\"",
        "for=\"unknown:99999\"",
        "for=\"_\"",
        "for=\"_x!\"",
        "for=\"198.51.100.7",
        "for=\"198.51.100.7\\",
        "for=\"198.51.100.7\"junk",
        "for=198.51.100.7 junk",
        "for=1.2.3.4;for=198.51.100.7",
        "for=1.2.3.4;FOR=198.51.100.7",
        "proto=http;proto=https;for=198.51.100.7",
        "for=host.example",
        "for=300.1.1.1",
        "for=\"x\ty\"",
        "for=\"\x01\"",
        "for=198.51.100.7\x00",
    ] {
        assert_eq!(fwd(&[bad]), Err(Unresolved::Malformed), "{bad:?}");
        assert_eq!(fwd(&[bad, "for=198.51.100.9"]), Err(Unresolved::Malformed), "{bad:?} left of a client");
    }
    let v: Vec<&[u8]> = vec![b"for=\"198.51.100.7\xe9\""];
    assert_eq!(resolve(&cfg(ForwardingHeader::Forwarded), sa("127.0.0.10:1"), &v), Err(Unresolved::Malformed));
}

#[test]
fn only_the_configured_forwarding_header_is_read() {
    // The adapter passes the configured header's values only; the parsers do not accept each
    // other's syntax, so a mix-up could not silently identify anyone either.
    assert_eq!(xff(&["for=127.0.0.2"]), Err(Unresolved::Malformed));
    assert_eq!(fwd(&["127.0.0.2"]), Err(Unresolved::Malformed));
    assert_eq!("X-Forwarded-For".parse::<ForwardingHeader>(), Ok(ForwardingHeader::XForwardedFor));
    assert_eq!("forwarded".parse::<ForwardingHeader>(), Ok(ForwardingHeader::Forwarded));
    assert!("x-real-ip".parse::<ForwardingHeader>().is_err());
    assert_eq!(ForwardingHeader::default().name(), "x-forwarded-for");
}

#[test]
fn enrichment_only_from_enricher_blocks_and_only_one_e164_number() {
    let mut c = cfg(ForwardingHeader::XForwardedFor);
    assert_eq!(enrichment(&c, sa("10.9.0.1:1"), &[b"+34600000002"]), Enriched::NotApplicable, "not configured");
    c.enrichment = Some(Enrichment { header: "x-msisdn".into(), from: vec!["10.9.0.0/24".parse().unwrap()] });
    let m = Msisdn::parse("+34600000002").unwrap();
    assert_eq!(enrichment(&c, sa("10.9.0.1:1"), &[b"+34600000002"]), Enriched::Subscriber(m.clone()));
    assert_eq!(enrichment(&c, sa("[::ffff:10.9.0.1]:1"), &[b" +34600000002 "]), Enriched::Subscriber(m));
    // Anyone else: the header means nothing (the adapter strips it).
    assert_eq!(enrichment(&c, sa("10.9.1.1:1"), &[b"+34600000002"]), Enriched::NotApplicable);
    assert_eq!(enrichment(&c, sa("127.0.0.10:1"), &[b"+34600000002"]), Enriched::NotApplicable);
    assert_eq!(enrichment(&c, None, &[b"+34600000002"]), Enriched::NotApplicable);
    // An enricher that did not enrich: the address decides.
    assert_eq!(enrichment(&c, sa("10.9.0.1:1"), &[]), Enriched::NotApplicable);
    // Anything but exactly one E.164 number: not identified, never a guess.
    for bad in
        [&b"34600000002"[..], b"+34 600 000 002", b"", b"+34600000002,+34600000001", b"\xff", b"tel:+34600000002"]
    {
        assert_eq!(enrichment(&c, sa("10.9.0.1:1"), &[bad]), Enriched::Invalid, "{bad:?}");
    }
    assert_eq!(enrichment(&c, sa("10.9.0.1:1"), &[b"+34600000002", b"+34600000002"]), Enriched::Invalid, "duplicates");
}
