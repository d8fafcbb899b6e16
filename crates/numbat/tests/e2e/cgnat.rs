//! CGNAT over real TCP (issue 6 item 1 and "done when": "a CGNAT address without a port is never
//! identified"). Devices behind a carrier-grade NAT share one public address; each holds a block
//! of its source ports. The test device opens `/authorize` from a chosen source port of
//! 127.0.0.3 (a raw HTTP/1.1 request over a socket bound to that port) so the server sees exactly
//! the address and port a CGNAT would give it.


use crate::common::*;
use numbat_network_ingress::bindings::{Binding, BindingAddr, Bindings, Source};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_backends! {
    cgnat_port_block_identifies_only_ports_inside_it => port_block_identifies_only_its_ports;
    cgnat_block_outside_its_validity_window_identifies_nobody => validity_window;
    cgnat_a_whole_address_binding_is_replaced_by_port_blocks => blocks_replace_whole_address;
}

const PUBLIC: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const MSISDN_5: &str = "+34600000005";
const MSISDN_6: &str = "+34600000006";
/// Below Linux's ephemeral range (32768-60999), so no other connection of the machine takes them.
const BLOCK_A: (u16, u16) = (20_000, 20_099);
const BLOCK_B: (u16, u16) = (20_100, 20_199);

fn bindings(s: &TestServer) -> Bindings {
    Bindings::new(s.store())
}

async fn bind_block(s: &TestServer, (lo, hi): (u16, u16), msisdn: &str, window: Option<(i64, i64)>) {
    let mut b = Binding::new(numbat_core::Msisdn::parse(msisdn).unwrap(), Source::Provisioning, s.now());
    if let Some((from, until)) = window {
        b.valid_from = Some(from);
        b.valid_until = Some(until);
    }
    let addr = BindingAddr::port_block(PUBLIC, lo, hi).unwrap();
    bindings(s).upsert("default", addr, &b, Duration::from_secs(600)).await.unwrap();
}

/// `GET /authorize` from `127.0.0.3:<port>` over a socket bound to that port.
async fn authorize_from_port(s: &TestServer, port: u16, req: &AuthRequest) -> AuthOutcome {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_reuseaddr(true).unwrap();
    sock.bind(SocketAddr::from((PUBLIC, port))).unwrap_or_else(|e| panic!("bind 127.0.0.3:{port}: {e}"));
    let server: SocketAddr = s.base.trim_start_matches("http://").parse().expect("http://ip:port");
    let mut stream = sock.connect(server).await.expect("connect");
    let request = format!("GET /authorize?{} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n", req.query());
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let mut lines = head.lines();
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    for l in lines {
        let (k, v) = l.split_once(':').unwrap();
        headers.append(reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(), v.trim().parse().unwrap());
    }
    let location = headers.get("location").map(|v| url::Url::parse(v.to_str().unwrap()).unwrap());
    let (mut query, mut counts) = (HashMap::new(), HashMap::new());
    if let Some(l) = &location {
        for (k, v) in l.query_pairs() {
            *counts.entry(k.to_string()).or_insert(0) += 1;
            query.insert(k.into_owned(), v.into_owned());
        }
    }
    AuthOutcome { status, headers, location, query, counts, body: body.to_owned() }
}

/// The whole round from a CGNAT source port: is the device's number `number`?
async fn verified_from_port(s: &TestServer, port: u16, number: &str) -> bool {
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = authorize_from_port(s, port, &req).await;
    assert_success_redirect(s, &o, &req);
    let t = s.redeem(&o.query["code"], &req.verifier).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let (status, v) = s.verify_number(t.access_token(), number).await;
    assert_eq!(status, 200, "{v}");
    v["devicePhoneNumberVerified"].as_bool().unwrap()
}

async fn port_block_identifies_only_its_ports(b: Backend) {
    let s = start(b).await;
    bind_block(&s, BLOCK_A, MSISDN_5, None).await;
    bind_block(&s, BLOCK_B, MSISDN_6, None).await;
    // Inside a block: that block's subscriber, and only them.
    assert!(verified_from_port(&s, 20_050, MSISDN_5).await);
    assert!(!verified_from_port(&s, 20_051, MSISDN_6).await, "port 20051 is not in B's block");
    assert!(verified_from_port(&s, 20_199, MSISDN_6).await, "a block's last port");
    // The shared address from a port no block holds (and from reqwest's ephemeral port): nobody.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = authorize_from_port(&s, 20_300, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    // Deleting a block ends it at once; its neighbour stays.
    assert!(bindings(&s).delete("default", BindingAddr::port_block(PUBLIC, BLOCK_A.0, BLOCK_A.1).unwrap()).await.unwrap());
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = authorize_from_port(&s, 20_050, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    assert!(verified_from_port(&s, 20_150, MSISDN_6).await);
    s.stop().await;
}

async fn validity_window(b: Backend) {
    let s = start(b).await;
    let now = s.now();
    bind_block(&s, BLOCK_A, MSISDN_5, Some((now - 600, now - 1))).await;
    bind_block(&s, BLOCK_B, MSISDN_6, Some((now + 60, now + 600))).await;
    for port in [20_010, 20_110] {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let o = authorize_from_port(&s, port, &req).await;
        assert_redirect_error(&s, &o, &req, "login_required");
    }
    bind_block(&s, BLOCK_A, MSISDN_5, Some((now - 1, now + 600))).await;
    assert!(verified_from_port(&s, 20_010, MSISDN_5).await, "inside its window");
    s.stop().await;
}

async fn blocks_replace_whole_address(b: Backend) {
    let s = start(b).await;
    let whole = Binding::new(numbat_core::Msisdn::parse(MSISDN_5).unwrap(), Source::Provisioning, s.now());
    bindings(&s).upsert("default", std::net::IpAddr::V4(PUBLIC), &whole, Duration::from_secs(600)).await.unwrap();
    assert!(verified_from_port(&s, 20_300, MSISDN_5).await, "a whole address answers on any port");
    // Now the operator puts the address behind CGNAT: it is shared, and only blocks identify.
    bind_block(&s, BLOCK_B, MSISDN_6, None).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = authorize_from_port(&s, 20_300, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    assert!(verified_from_port(&s, 20_120, MSISDN_6).await);
    s.stop().await;
}
