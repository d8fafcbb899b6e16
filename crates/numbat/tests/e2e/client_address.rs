//! The client address end to end (issue 6 item 4), over real HTTP on loopback: trusted proxies
//! and their forwarding headers, the PROXY protocol from trusted load balancers (the source port
//! survives, so a CGNAT binding is found), header enrichment only from enricher blocks, and
//! spoofed headers from anyone else changing nothing ("done when": "a spoofed X-Forwarded-For or
//! X-MSISDN from an untrusted peer changes nothing").
//!
//! Loopback addresses: 127.0.0.1/.2 are bound devices, .3 is not, .10 is the dev trusted proxy,
//! .11 a second trusted proxy (tests only), .20 a load balancer speaking the PROXY protocol,
//! .30 an enrichment proxy, .40 a CGNAT public address (ports 40000-40255 → +34600000006).


use crate::common::*;
use numbat_network_ingress::proxy_protocol::encode_v2;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10));
const PROXY_2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11));
const LB: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 20));
const ENRICHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 30));
const CGNAT: &str = "127.0.0.40";
const MSISDN_6: &str = "+34600000006";

both_backends! {
    issue_6_item_4_spoofed_forwarding_and_identity_headers_from_untrusted_peers_change_nothing => spoofs_change_nothing;
    issue_6_item_4_trusted_proxy_x_forwarded_for_names_the_device => trusted_proxy_xff;
    issue_6_item_4_forwarded_with_port_reaches_a_cgnat_binding => forwarded_with_port;
    issue_6_item_4_proxy_protocol_from_a_trusted_load_balancer_carries_address_and_port => proxy_protocol;
    issue_6_item_4_enrichment_header_only_from_enricher_blocks => enrichment;
}

/// `/authorize` from `from` with `headers`, then the share API: whose number the network gave
/// the token, or `None` for `login_required`.
async fn number_via(s: &TestServer, from: IpAddr, headers: &[(&str, &str)]) -> Option<String> {
    let req = AuthRequest::new(SCOPE_SHARE);
    let o = s.authorize_query(from, &req.query(), headers).await;
    finish(s, &req, o.status, o.location).await
}

async fn finish(s: &TestServer, req: &AuthRequest, status: u16, location: Option<url::Url>) -> Option<String> {
    assert_eq!(status, 302, "expected a redirect, got {status} {location:?}");
    let l = location.expect("Location");
    assert!(l.as_str().starts_with(REDIRECT_URI), "redirected to {l}");
    let q: std::collections::HashMap<String, String> = l.query_pairs().into_owned().collect();
    if let Some(e) = q.get("error") {
        assert_eq!(e, "login_required", "{l}");
        return None;
    }
    assert_eq!(q.get("state"), Some(&req.state));
    let r = s.redeem(&q["code"], &req.verifier).await;
    assert_eq!(r.status, 200, "token: {}", r.raw);
    let (st, v) = s.share(r.access_token()).await;
    assert_eq!(st, 200, "share: {v}");
    Some(v["devicePhoneNumber"].as_str().expect("devicePhoneNumber").to_owned())
}

fn some(m: &str) -> Option<String> {
    Some(m.to_owned())
}

/// A CGNAT binding: 127.0.0.40, ports 40000-40255 → +34600000006 (admin API, issue 6 item 3).
async fn bind_cgnat(s: &TestServer) {
    let r = s
        .http
        .put(s.url("/admin/bindings"))
        .bearer_auth("dev-admin-token")
        .json(&json!({ "msisdn": MSISDN_6, "public_ipv4": CGNAT, "ports": "40000-40255" }))
        .send()
        .await
        .expect("PUT /admin/bindings");
    assert!(r.status().is_success(), "CGNAT binding: {} {}", r.status(), r.text().await.unwrap_or_default());
}

async fn spoofs_change_nothing(b: Backend) {
    // Enrichment on (for 127.0.0.30 only), so X-MSISDN is a live header here, not just stripped.
    let s = start_spec(Spec::new(b).tweak(|c| {
        c.ingress.client_address.enrichment_header = "X-MSISDN".into();
        c.ingress.client_address.enrichment_from = vec!["127.0.0.30".into()];
    }))
    .await;
    let spoofs: &[&[(&str, &str)]] = &[
        &[("X-Forwarded-For", "127.0.0.2")],
        &[("X-Forwarded-For", "127.0.0.10, 127.0.0.2")],
        &[("X-Forwarded-For", "127.0.0.2"), ("X-Forwarded-For", "127.0.0.2")],
        &[("Forwarded", "for=127.0.0.2")],
        &[("Forwarded", "for=\"127.0.0.2:1234\";proto=https")],
        &[("X-MSISDN", MSISDN_2)],
        &[("x-msisdn", MSISDN_2), ("X-Msisdn", MSISDN_2)],
        &[("X-MSISDN", MSISDN_2), ("X-Forwarded-For", "127.0.0.30"), ("Forwarded", "for=127.0.0.30")],
    ];
    for h in spoofs {
        assert_eq!(number_via(&s, DEVICE_UNBOUND, h).await, None, "127.0.0.3 with {h:?}");
        assert_eq!(number_via(&s, DEVICE_1, h).await, some(MSISDN_1), "127.0.0.1 with {h:?}");
    }
    // A PROXY header from a peer that is no configured load balancer is not believed either.
    let req = AuthRequest::new(SCOPE_SHARE);
    let prefix = encode_v2("127.0.0.2:5555".parse().unwrap(), s.addr);
    if let Some((status, location)) = raw_authorize(&s, DEVICE_UNBOUND, &prefix, &req).await {
        assert!(
            location.is_none_or(|l| !l.as_str().contains("code=")),
            "a PROXY header from 127.0.0.3 identified: {status}"
        );
    }
    s.stop().await;
}

async fn trusted_proxy_xff(b: Backend) {
    let s =
        start_spec(Spec::new(b).tweak(|c| c.ingress.client_address.trusted_proxies.push("127.0.0.11".into()))).await;
    // The dev default: 127.0.0.10 is a trusted proxy; its X-Forwarded-For names the device.
    assert_eq!(number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.2")]).await, some(MSISDN_2));
    assert_eq!(number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.1")]).await, some(MSISDN_1));
    assert_eq!(number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.3")]).await, None);
    // Walked right to left, skipping trusted proxies: the right-most untrusted hop is the device,
    // whatever the client wrote to its left.
    assert_eq!(number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.1, 127.0.0.2, 127.0.0.11")]).await, some(MSISDN_2));
    assert_eq!(number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.2, 127.0.0.3, 127.0.0.11")]).await, None);
    assert_eq!(
        number_via(&s, PROXY_2, &[("X-Forwarded-For", "127.0.0.2"), ("X-Forwarded-For", "127.0.0.10")]).await,
        some(MSISDN_2)
    );
    // Fail closed: no header, only trusted hops, obfuscated, malformed, oversized.
    let long = format!("{}127.0.0.2", "127.0.0.11, ".repeat(40));
    for h in [
        vec![],
        vec![("X-Forwarded-For", "127.0.0.11, 127.0.0.10")],
        vec![("X-Forwarded-For", "unknown")],
        vec![("X-Forwarded-For", "127.0.0.2, garbage")],
        vec![("X-Forwarded-For", "127.0.0.2,")],
        vec![("X-Forwarded-For", long.as_str())],
        // Forwarded is not the configured header: as good as no header.
        vec![("Forwarded", "for=127.0.0.2")],
    ] {
        assert_eq!(number_via(&s, PROXY, &h).await, None, "{h:?}");
    }
    // Only the configured header (X-Forwarded-For) counts: a Forwarded beside it changes nothing.
    assert_eq!(
        number_via(&s, PROXY, &[("Forwarded", "for=127.0.0.1"), ("X-Forwarded-For", "127.0.0.2")]).await,
        some(MSISDN_2)
    );
    // Identity headers through a trusted proxy are stripped as from anyone.
    assert_eq!(number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.3"), ("X-MSISDN", MSISDN_2)]).await, None);
    s.stop().await;
}

async fn forwarded_with_port(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| c.ingress.client_address.forwarding_header = "forwarded".into())).await;
    bind_cgnat(&s).await;
    assert_eq!(number_via(&s, PROXY, &[("Forwarded", "for=127.0.0.2;proto=https")]).await, some(MSISDN_2));
    // The port in `for` is the source port: a shared CGNAT address is found with it ...
    assert_eq!(number_via(&s, PROXY, &[("Forwarded", "for=\"127.0.0.40:40001\"")]).await, some(MSISDN_6));
    assert_eq!(
        number_via(&s, PROXY, &[("forwarded", "for=\"127.0.0.40:40255\", for=127.0.0.10")]).await,
        some(MSISDN_6)
    );
    // ... and never without it, nor with a port outside the block.
    assert_eq!(number_via(&s, PROXY, &[("Forwarded", "for=127.0.0.40")]).await, None);
    assert_eq!(number_via(&s, PROXY, &[("Forwarded", "for=\"127.0.0.40:39999\"")]).await, None);
    assert_eq!(number_via(&s, PROXY, &[("Forwarded", "for=\"127.0.0.40:_hidden\"")]).await, None);
    // X-Forwarded-For is not the configured header now; malformed and obfuscated fail closed.
    for h in [
        ("X-Forwarded-For", "127.0.0.2"),
        ("Forwarded", "for=127.0.0.40:40001"),
        ("Forwarded", "for=_hidden"),
        ("Forwarded", "for=unknown"),
        ("Forwarded", "for=127.0.0.2;for=127.0.0.1"),
        ("Forwarded", "proto=https"),
    ] {
        assert_eq!(number_via(&s, PROXY, &[h]).await, None, "{h:?}");
    }
    // From an untrusted peer the same header is ignored: 127.0.0.1 stays itself.
    assert_eq!(number_via(&s, DEVICE_1, &[("Forwarded", "for=\"127.0.0.40:40001\"")]).await, some(MSISDN_1));
    s.stop().await;
}

/// Send `prefix` and then `GET /authorize` over one raw connection from `from`. `None` when the
/// server closed the connection without an answer; else the status and `Location`.
async fn raw_authorize(
    s: &TestServer,
    from: IpAddr,
    prefix: &[u8],
    req: &AuthRequest,
) -> Option<(u16, Option<url::Url>)> {
    let head = format!("GET /authorize?{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", req.query(), s.addr);
    let raw = raw_exchange(from, s.addr, &[prefix, head.as_bytes()].concat()).await?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let location = text
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
        .map(|l| url::Url::parse(l.trim()).expect("absolute Location"));
    Some((status, location))
}

/// Connect from `from`, send `bytes`, read until the server closes. `None` if it answered nothing.
async fn raw_exchange(from: IpAddr, to: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(from, 0)).expect("bind a loopback source");
    let mut io = sock.connect(to).await.expect("connect");
    // A closed connection may refuse the write; that is an unanswered connection too.
    if io.write_all(bytes).await.is_err() {
        return None;
    }
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), io.read_to_end(&mut out))
        .await
        .expect("the server answers or closes");
    match read {
        Ok(_) if !out.is_empty() => Some(out),
        _ => None,
    }
}

async fn proxy_protocol(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| {
        c.ingress.client_address.proxy_protocol_from = vec!["127.0.0.20".into()];
        c.ingress.client_address.proxy_protocol_timeout_ms = 300;
    }))
    .await;
    bind_cgnat(&s).await;
    let via_lb = |prefix: Vec<u8>| {
        let s = &s;
        async move {
            let req = AuthRequest::new(SCOPE_SHARE);
            match raw_authorize(s, LB, &prefix, &req).await {
                Some((status, location)) => finish(s, &req, status, location).await,
                None => panic!("the server closed a connection with a valid PROXY header"),
            }
        }
    };
    let v2 = |src: &str| encode_v2(src.parse().unwrap(), s.addr);
    // v2 carries the address, and the source port: the CGNAT binding needs it.
    assert_eq!(via_lb(v2("127.0.0.2:5555")).await, some(MSISDN_2));
    assert_eq!(via_lb(v2("127.0.0.40:40001")).await, some(MSISDN_6));
    assert_eq!(via_lb(v2("127.0.0.40:50000")).await, None);
    assert_eq!(via_lb(v2("[::ffff:127.0.0.1]:5555")).await, some(MSISDN_1), "IPv4-mapped over AF_INET6");
    assert_eq!(via_lb(v2("127.0.0.3:5555")).await, None);
    // v1 too.
    let v1 = format!("PROXY TCP4 127.0.0.40 127.0.0.1 40200 {}\r\n", s.addr.port());
    assert_eq!(via_lb(v1.into_bytes()).await, some(MSISDN_6));
    // The announced source is the peer for everything after: a trusted proxy behind the load
    // balancer still has its X-Forwarded-For read (and nobody else's).
    let req = AuthRequest::new(SCOPE_SHARE);
    let head = format!(
        "GET /authorize?{} HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: 127.0.0.2\r\nConnection: close\r\n\r\n",
        req.query(),
        s.addr
    );
    let raw = raw_exchange(LB, s.addr, &[v2("127.0.0.10:1000"), head.into_bytes()].concat()).await.expect("answer");
    let text = String::from_utf8_lossy(&raw);
    let l = text.lines().find_map(|l| l.strip_prefix("location: ")).expect("Location");
    assert!(l.contains("code="), "127.0.0.10 behind the load balancer: {l}");
    // LOCAL (health checks) is served as the load balancer itself: nobody identified.
    let mut local = numbat_network_ingress::proxy_protocol::V2_SIGNATURE.to_vec();
    local.extend([0x20, 0x00, 0, 0]);
    assert_eq!(via_lb(local.clone()).await, None);
    // A relayed connection without an IP source (AF_UNSPEC): served, never identified.
    let mut unspec = numbat_network_ingress::proxy_protocol::V2_SIGNATURE.to_vec();
    unspec.extend([0x21, 0x00, 0, 0]);
    assert_eq!(via_lb(unspec).await, None);
    let health = raw_exchange(
        LB,
        s.addr,
        &[local, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec()].concat(),
    )
    .await;
    assert!(String::from_utf8_lossy(&health.expect("answer")).starts_with("HTTP/1.1 200"));
    // From the load balancer without a valid header: closed, never served as the balancer.
    let req = AuthRequest::new(SCOPE_SHARE);
    assert_eq!(raw_authorize(&s, LB, b"", &req).await, None, "plain HTTP from a load balancer");
    assert_eq!(raw_authorize(&s, LB, b"PROXY TCP4 127.0.0.2 127.0.0.1 5555\r\n", &req).await, None);
    let mut bad = v2("127.0.0.2:5555");
    bad[12] = 0x31;
    assert_eq!(raw_authorize(&s, LB, &bad, &req).await, None, "v2 version 3");
    let mut big = v2("127.0.0.2:5555");
    big[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(raw_authorize(&s, LB, &big, &req).await, None, "oversized length");
    // A load balancer that sends nothing is cut off after the timeout.
    let t = Instant::now();
    assert_eq!(raw_exchange(LB, s.addr, b"").await, None);
    assert!(t.elapsed() < Duration::from_secs(5), "closed after {:?}", t.elapsed());
    // Other peers keep speaking plain HTTP.
    assert_eq!(number_via(&s, DEVICE_2, &[]).await, some(MSISDN_2));
    s.stop().await;
}

async fn enrichment(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| {
        c.ingress.client_address.enrichment_header = "X-Operator-MSISDN".into();
        c.ingress.client_address.enrichment_from = vec!["127.0.0.30/32".into()];
    }))
    .await;
    // From the enrichment proxy, its header names the subscriber (127.0.0.30 has no binding).
    assert_eq!(number_via(&s, ENRICHER, &[("X-Operator-MSISDN", MSISDN_2)]).await, some(MSISDN_2));
    assert_eq!(number_via(&s, ENRICHER, &[("x-operator-msisdn", MSISDN_1)]).await, some(MSISDN_1));
    // Not one E.164 number: not identified, never a guess; no header: the address decides.
    for h in [
        vec![("X-Operator-MSISDN", "34600000002")],
        vec![("X-Operator-MSISDN", "+34600000002, +34600000001")],
        vec![("X-Operator-MSISDN", MSISDN_2), ("X-Operator-MSISDN", MSISDN_2)],
        vec![("X-Operator-MSISDN", "")],
        vec![],
    ] {
        assert_eq!(number_via(&s, ENRICHER, &h).await, None, "{h:?}");
    }
    // Only under the configured name: X-MSISDN from the enricher is an ordinary stripped header.
    assert_eq!(number_via(&s, ENRICHER, &[("X-MSISDN", MSISDN_2)]).await, None);
    // From anyone else the header means nothing.
    assert_eq!(number_via(&s, DEVICE_UNBOUND, &[("X-Operator-MSISDN", MSISDN_2)]).await, None);
    assert_eq!(number_via(&s, DEVICE_1, &[("X-Operator-MSISDN", MSISDN_2)]).await, some(MSISDN_1));
    assert_eq!(number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.3"), ("X-Operator-MSISDN", MSISDN_2)]).await, None);
    assert_eq!(
        number_via(&s, PROXY, &[("X-Forwarded-For", "127.0.0.30"), ("X-Operator-MSISDN", MSISDN_2)]).await,
        None
    );
    s.stop().await;
}

/// Latency of the PROXY step: fresh connections (`GET /health`, `Connection: close`) through the
/// stock actix-web `HttpServer` and through numbat's listener, plain and with PROXY v2 / v1
/// headers. Figures, not a timed test: `cargo test -p numbat --test client_address --
/// --ignored --nocapture proxy_protocol_latency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn proxy_protocol_latency() {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let app = || App::new().route("/health", web::get().to(|| async { HttpResponse::Ok().body("ok") }));
    let stock_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stock_addr = stock_l.local_addr().unwrap();
    let stock = HttpServer::new(app).workers(2).listen(stock_l).unwrap().run();
    let stock_handle = stock.handle();
    tokio::spawn(stock);
    let ours_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ours_addr = ours_l.local_addr().unwrap();
    let opts = numbat::proxy_listener::ServeOptions {
        workers: 2,
        keep_alive: Duration::from_secs(30),
        shutdown_timeout_s: 1,
        proxy_from: vec!["127.0.0.20".parse().unwrap()],
        proxy_timeout: Duration::from_secs(3),
    };
    let ours = numbat::proxy_listener::serve(app, ours_l, opts).unwrap();
    let ours_handle = ours.handle();
    tokio::spawn(ours);
    let get = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec();
    let v1 = format!("PROXY TCP4 127.0.0.2 127.0.0.1 5555 {}\r\n", ours_addr.port()).into_bytes();
    let cases: Vec<(&str, IpAddr, SocketAddr, Vec<u8>)> = vec![
        ("stock HttpServer, plain", DEVICE_1, stock_addr, get.clone()),
        ("numbat listener, plain", DEVICE_1, ours_addr, get.clone()),
        (
            "numbat listener, PROXY v2",
            LB,
            ours_addr,
            [encode_v2("127.0.0.2:5555".parse().unwrap(), ours_addr), get.clone()].concat(),
        ),
        ("numbat listener, PROXY v1", LB, ours_addr, [v1, get.clone()].concat()),
    ];
    const N: usize = 2000;
    for round in 0..2 {
        for (name, from, to, bytes) in &cases {
            let mut us = Vec::with_capacity(N);
            for _ in 0..N {
                let t = Instant::now();
                let r = raw_exchange(*from, *to, bytes).await.expect("answer");
                us.push(t.elapsed().as_micros() as u64);
                assert!(r.starts_with(b"HTTP/1.1 200"), "{name}");
            }
            us.sort_unstable();
            if round == 1 {
                println!("{name:28} n={N} p50={}us p90={}us p99={}us", us[N / 2], us[N * 9 / 10], us[N * 99 / 100]);
            }
        }
    }
    stock_handle.stop(false).await;
    ours_handle.stop(false).await;
}
