//! RADIUS accounting end to end (issue 6 item 2, "done when"): the real `radclient` of
//! FreeRADIUS (Debian package `freeradius-utils`) reports sessions to the running server, and a
//! device on that address is verifiable at once, and no longer after the Stop.
//!
//! Each test runs its own server with its own UDP port, on the memory and on the Redis store.


use crate::common::*;
use serde_json::json;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

const SECRET: &str = "testing123";
const MSISDN_5: &str = "+34600000005";
const MSISDN_6: &str = "+34600000006";

both_backends! {
    radius_start_makes_127_0_0_3_verifiable_and_stop_ends_it => start_then_stop;
    radius_late_stop_of_an_old_session_leaves_the_new_owner => late_stop_keeps_new_owner;
    radius_accounting_on_voids_the_gateways_bindings => accounting_on_voids;
    radius_wrong_secret_gets_no_answer_and_binds_nothing => wrong_secret;
    radius_start_for_a_shared_cgnat_address_binds_nothing => shared_cgnat_address_untouched;
    radius_ipv6_prefix_identifies_every_device_address_in_its_64 => ipv6_device_by_its_64;
    radius_auth_time_is_the_data_sessions_start => auth_time_is_session_start;
}

/// A server whose RADIUS listener runs on a free UDP port of its own (the test servers bind
/// `127.0.0.1:0`).
async fn start_with_radius(b: Backend) -> (TestServer, SocketAddr) {
    let s = start_spec(Spec::new(b).tweak(|c| c.ingress.radius.enabled = true)).await;
    let addr = s.radius_addr().expect("the RADIUS listener runs");
    (s, addr)
}

/// Send one Accounting-Request with `radclient` (`attrs` in its "Name = value, ..." form), sent
/// again up to `retries` (>= 1) times after 2 s without an answer. True when an
/// Accounting-Response with a valid Response Authenticator came back (radclient checks it).
async fn radclient(to: SocketAddr, secret: &str, attrs: &str, retries: u32) -> bool {
    let (secret, attrs) = (secret.to_owned(), attrs.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("radclient")
            .args(["-x", "-t", "2", "-r", &retries.to_string(), &to.to_string(), "acct", &secret])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("radclient is needed (Debian/Ubuntu: apt-get install freeradius-utils)");
        child.stdin.take().expect("stdin").write_all(attrs.as_bytes()).expect("write to radclient");
        let out = child.wait_with_output().expect("radclient ran");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("Sent Accounting-Request"), "radclient sent nothing: {stdout} {}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            eprintln!(
                "radclient: {}\n{}\n{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    })
    .await
    .expect("radclient task")
}

fn session(status: &str, session_id: &str, calling: &str) -> String {
    format!(
        "Acct-Status-Type = {status}, Framed-IP-Address = 127.0.0.3, Calling-Station-Id = {calling}, \
         Acct-Session-Id = {session_id}, NAS-IP-Address = 127.0.0.1"
    )
}

/// The `auth_time` of an ID token for the device on 127.0.0.3.
async fn auth_time_of_unbound_device(s: &TestServer) -> i64 {
    let r = s.token_reply_for(DEVICE_UNBOUND, &AuthRequest::new(SCOPE_VERIFY)).await;
    jwt_part(r.json["id_token"].as_str().expect("id_token"), 1)["auth_time"].as_i64().expect("auth_time")
}

/// S-03 and the network's authentication: `auth_time` is when the data session started (the
/// network authenticated the SIM then), the same for every authorization of the session, and
/// steady across Interim-Updates; a new session starts a new authentication.
async fn auth_time_is_session_start(b: Backend) {
    let (s, radius) = start_with_radius(b).await;
    let attrs = |status: &str, id: &str, secs: u32| format!("{}, Acct-Session-Time = {secs}", session(status, id, "34600000005"));
    assert!(radclient(radius, SECRET, &attrs("Interim-Update", "s1", 3600), 2).await);
    let first = auth_time_of_unbound_device(&s).await;
    assert!((first - (s.now() - 3600)).abs() <= 3, "auth_time {first} is the session start, an hour ago");
    assert_eq!(auth_time_of_unbound_device(&s).await, first, "the same session, the same authentication");
    // Acct-Session-Time rounds to whole seconds: a later Interim-Update keeps the recorded start.
    assert!(radclient(radius, SECRET, &attrs("Interim-Update", "s1", 3600 + 7), 2).await);
    assert_eq!(auth_time_of_unbound_device(&s).await, first, "an Interim-Update is no new authentication");
    // A new session on the address is a new authentication by the network.
    assert!(radclient(radius, SECRET, &attrs("Start", "s2", 0), 2).await);
    let second = auth_time_of_unbound_device(&s).await;
    assert!(second > first + 3000 && (second - s.now()).abs() <= 3, "auth_time {second} of the new session");
    s.stop().await;
}

async fn assert_login_required(s: &TestServer) {
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(s, &o, &req, "login_required");
}

async fn start_then_stop(b: Backend) {
    let (s, radius) = start_with_radius(b).await;
    assert_login_required(&s).await;

    assert!(radclient(radius, SECRET, &session("Start", "s1", "34600000005"), 2).await, "Start acknowledged");
    // The answer comes only once the binding is stored: the very next request is identified.
    assert!(s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": MSISDN_5 })).await, "127.0.0.3 is +34600000005");
    assert!(!s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": MSISDN_1 })).await);
    // The static bindings are untouched.
    assert!(s.verified(DEVICE_1, json!({ "phoneNumber": MSISDN_1 })).await);

    assert!(radclient(radius, SECRET, &session("Stop", "s1", "34600000005"), 2).await, "Stop acknowledged");
    assert_login_required(&s).await;
    // A late Interim-Update of the stopped session is acknowledged but does not bring it back.
    assert!(radclient(radius, SECRET, &session("Interim-Update", "s1", "34600000005"), 2).await);
    assert_login_required(&s).await;
    s.stop().await;
}

async fn late_stop_keeps_new_owner(b: Backend) {
    let (s, radius) = start_with_radius(b).await;
    assert!(radclient(radius, SECRET, &session("Start", "old", "34600000005"), 2).await);
    // The address moves to another subscriber before the old session's Stop arrives.
    assert!(radclient(radius, SECRET, &session("Start", "new", "+34600000006"), 2).await);
    assert!(radclient(radius, SECRET, &session("Stop", "old", "34600000005"), 2).await, "a late Stop is acknowledged");
    assert!(s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": MSISDN_6 })).await, "the new owner stays");
    assert!(!s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": MSISDN_5 })).await);
    assert!(radclient(radius, SECRET, &session("Stop", "new", "+34600000006"), 2).await);
    assert_login_required(&s).await;
    s.stop().await;
}

async fn accounting_on_voids(b: Backend) {
    let (s, radius) = start_with_radius(b).await;
    assert!(radclient(radius, SECRET, &session("Start", "s1", "34600000005"), 2).await);
    assert!(s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": MSISDN_5 })).await);
    // The gateway restarted: every session it reported before is gone.
    assert!(radclient(radius, SECRET, "Acct-Status-Type = Accounting-On, NAS-IP-Address = 127.0.0.1", 2).await);
    assert_login_required(&s).await;
    assert!(s.verified(DEVICE_1, json!({ "phoneNumber": MSISDN_1 })).await, "static bindings stay");
    // Its new sessions bind again.
    assert!(radclient(radius, SECRET, &session("Start", "s2", "34600000006"), 2).await);
    assert!(s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": MSISDN_6 })).await);
    s.stop().await;
}

async fn wrong_secret(b: Backend) {
    let (s, radius) = start_with_radius(b).await;
    assert!(
        !radclient(radius, "not-the-secret", &session("Start", "s1", "34600000005"), 1).await,
        "a packet with a wrong Request Authenticator is dropped without an answer"
    );
    assert_login_required(&s).await;
    s.stop().await;
}

/// Issue 6, review finding 2, on both stores: a Start whose Framed-IP-Address is a provisioned
/// CGNAT public address used to delete its port blocks and bind it whole, so every device behind
/// it became that subscriber. Now it is acknowledged and changes nothing.
async fn shared_cgnat_address_untouched(b: Backend) {
    use numbat_network_ingress::bindings::{Binding, BindingAddr, Bindings, Source};
    let (s, radius) = start_with_radius(b).await;
    let public: std::net::Ipv4Addr = "127.0.0.3".parse().unwrap();
    let bindings = Bindings::new(s.store());
    let msisdn = |n: &str| numbat_core::Msisdn::parse(n).unwrap();
    // Blocks below Linux's ephemeral ports (32768-60999), so the test client's own connection
    // from 127.0.0.3 can never fall into one (it did, now and then, with 40000-40511).
    for ((lo, hi), n) in [((20400, 20655), MSISDN_6), ((20656, 20911), "+34600000008")] {
        let addr = BindingAddr::port_block(public, lo, hi).unwrap();
        let rec = Binding::new(msisdn(n), Source::Provisioning, s.now());
        bindings.upsert("default", addr, &rec, std::time::Duration::from_secs(600)).await.unwrap();
    }
    assert!(radclient(radius, SECRET, &session("Start", "cg", "34600000009"), 2).await, "acknowledged");
    let at = |port: u16| {
        let (bindings, now) = (bindings.clone(), s.now());
        async move { bindings.lookup("default", public.into(), Some(port), now).await.unwrap().map(|b| b.msisdn) }
    };
    assert_eq!(at(20401).await, Some(msisdn(MSISDN_6)), "the blocks are intact");
    assert_eq!(at(20700).await, Some(msisdn("+34600000008")));
    assert_eq!(at(21000).await, None);
    // The device on the shared address from a port no block holds (reqwest's ephemeral port).
    assert_login_required(&s).await;
    s.stop().await;
}

/// Issue 6 "done when": IPv6 devices are identified by their /64. The gateway reports the
/// device's prefix (radclient, Framed-IPv6-Prefix); the device then arrives with any address of
/// it, here through the dev trusted proxy 127.0.0.10 (X-Forwarded-For), since the test machine's
/// loopback is IPv4.
async fn ipv6_device_by_its_64(b: Backend) {
    const PROXY: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 10));
    const MSISDN_7: &str = "+34600000007";
    async fn verified_from(s: &TestServer, device: &str, number: &str) -> Option<bool> {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let o = s.authorize_query(PROXY, &req.query(), &[("X-Forwarded-For", device)]).await;
        if o.get("error") == Some("login_required") {
            return None;
        }
        assert_success_redirect(s, &o, &req);
        let t = s.redeem(&o.query["code"], &req.verifier).await;
        assert_eq!(t.status, 200, "{}", t.raw);
        let (status, v) = s.verify_number(t.access_token(), number).await;
        assert_eq!(status, 200, "{v}");
        v["devicePhoneNumberVerified"].as_bool()
    }
    let (s, radius) = start_with_radius(b).await;
    let v6 = |status: &str| {
        format!(
            "Acct-Status-Type = {status}, Framed-IPv6-Prefix = 2001:db8:1:2::/64, Calling-Station-Id = 34600000007, \
             Acct-Session-Id = v6, NAS-IP-Address = 127.0.0.1"
        )
    };
    assert_eq!(verified_from(&s, "2001:db8:1:2::99", MSISDN_7).await, None, "not bound yet");
    assert!(radclient(radius, SECRET, &v6("Start"), 2).await, "Start acknowledged");
    for device in ["2001:db8:1:2::99", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "[2001:db8:1:2::1]"] {
        assert_eq!(verified_from(&s, device, MSISDN_7).await, Some(true), "{device} is in the /64");
    }
    assert_eq!(verified_from(&s, "2001:db8:1:2::99", MSISDN_5).await, Some(false));
    assert_eq!(verified_from(&s, "2001:db8:1:3::99", MSISDN_7).await, None, "the next /64 is someone else's");
    assert!(radclient(radius, SECRET, &v6("Stop"), 2).await, "Stop acknowledged");
    assert_eq!(verified_from(&s, "2001:db8:1:2::99", MSISDN_7).await, None, "unbound after Stop");
    s.stop().await;
}
