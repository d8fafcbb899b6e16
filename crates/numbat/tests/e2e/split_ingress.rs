//! Split deployment of the ingress (issue 6 item 5): `--component ingress` at the mobile edge as a
//! reverse proxy in front of an authorization server in `mode = "assertion"`, both on loopback
//! in this test process and sharing one Redis namespace. The device (a client bound to
//! 127.0.0.1 → +34600000001) talks to the ingress; the app backend to the authorization server.
//!
//! Hostile cases: the authorization server reached directly (no assertion, an identity header, a
//! forged, expired, replayed, `alg: none`, HMAC-confused, wrongly addressed or re-bound
//! assertion) never identifies anyone; an `X-Numbat-Identity` a client sends through the ingress
//! is replaced by the ingress's own verdict.


use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use numbat::server::StartError;
use numbat::{Component, Config};
use numbat_core::handoff::request_binding;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IDENTITY_HEADER: &str = "X-Numbat-Identity";
const TYP: &str = "numbat-identity+jwt";
const ENTITLEMENT: &str =
    "/entitlement/v1?app=ap2009&operation=AcquireTemporaryToken&operation_targets=VerifyPhoneNumber";

/// An authorization server in assertion mode and an ingress proxying to `upstream` (the
/// authorization server unless a test puts a spy there); the ingress signs for the AS's issuer.
struct Split {
    authz: TestServer,
    ingress: TestServer,
    ns: Arc<RedisNamespace>,
}

async fn split_with_upstream(upstream: Option<String>) -> Split {
    let ns = RedisNamespace::new();
    let authz = start_spec(
        Spec::new(Backend::Redis)
            .component(Component::Authorization)
            .namespace(ns.clone())
            .tweak(|c| c.ingress.handoff.mode = "assertion".into()),
    )
    .await;
    let issuer = authz.base.clone();
    let upstream = upstream.unwrap_or_else(|| authz.base.clone());
    let ingress =
        start_spec(Spec::new(Backend::Redis).component(Component::Ingress).namespace(ns.clone()).tweak(move |c| {
            c.server.issuer = issuer;
            c.ingress.handoff.upstream = upstream;
        }))
        .await;
    Split { authz, ingress, ns }
}

async fn split() -> Split {
    split_with_upstream(None).await
}

impl Split {
    async fn stop(self) {
        self.authz.stop().await;
        self.ingress.stop().await;
    }
}

// --- assertions crafted by the test, with jsonwebtoken (independent of numbat's JOSE code) ---

fn dev_ingress_key() -> EncodingKey {
    let pem = Config::dev().ingress.handoff.signing_key;
    EncodingKey::from_ec_pem(pem.trim().as_bytes()).expect("dev ingress key")
}

fn header(alg: Algorithm) -> Header {
    let mut h = Header::new(alg);
    h.kid = Some("dev-ingress-1".into());
    h.typ = Some(TYP.into());
    h
}

/// The binding of `GET {base}/authorize?{query}` as the authorization server will see it.
fn authorize_binding(base: &str, query: &str) -> String {
    let u = url::Url::parse(&format!("{base}/authorize?{query}")).unwrap();
    request_binding("GET", u.path(), u.query().unwrap_or(""), b"")
}

/// Valid claims for `GET /authorize?{query}` at the authorization server, identifying `msisdn`.
fn claims(authz: &TestServer, query: &str, msisdn: &str) -> Value {
    let now = authz.now();
    json!({
        "iss": "dev-ingress", "aud": authz.base, "iat": now, "exp": now + 30, "jti": random_b64(16),
        "req_hash": authorize_binding(&authz.base, query), "outcome": "identified",
        "sub": format!("tel:{msisdn}"), "amr": ["nba"], "auth_time": now,
    })
}

fn sign_with(key: &EncodingKey, c: &Value) -> String {
    jsonwebtoken::encode(&header(Algorithm::ES256), c, key).unwrap()
}

fn sign(c: &Value) -> String {
    sign_with(&dev_ingress_key(), c)
}

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// `GET /authorize` at the authorization server itself, with an assertion header.
async fn direct(authz: &TestServer, from: IpAddr, req: &AuthRequest, assertion: &str) -> AuthOutcome {
    authz.authorize_query(from, &req.query(), &[(IDENTITY_HEADER, assertion)]).await
}

// --- a spy upstream: records what the ingress forwards, answers like /authorize would ---

#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

struct Spy {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: actix_web::dev::ServerHandle,
}

const SPY_LOCATION: &str = "http://127.0.0.1:9999/callback?code=from-spy&state=s";

async fn spy() -> Spy {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let record = record.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let record = record.clone();
            async move {
                let headers =
                    req.headers().iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_owned())).collect();
                record.lock().unwrap().push(Seen { target: req.uri().to_string(), headers });
                HttpResponse::SeeOther()
                    .insert_header(("Location", SPY_LOCATION))
                    .insert_header(("X-Upstream", "spy"))
                    .finish()
            }
        }))
    })
    .workers(1)
    .listen(l)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Spy { base, seen, handle }
}

impl Spy {
    fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().expect("the ingress forwarded nothing")
    }
}

// ---------------------------------------------------------------------------------------------

/// A full Number Verification round with the device behind the split ingress.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_ingress_full_number_verification_round() {
    let s = split().await;
    let issuer = s.authz.base.clone();
    let rs = start_spec(
        Spec::new(Backend::Redis)
            .component(Component::Resource)
            .namespace(s.ns.clone())
            .tweak(move |c| c.server.issuer = issuer),
    )
    .await;

    for (device, msisdn) in [(DEVICE_1, MSISDN_1), (DEVICE_2, MSISDN_2)] {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let o = s.ingress.authorize(device, &req).await;
        assert_success_redirect(&s.authz, &o, &req);
        let t = s.authz.redeem(&o.query["code"], &req.verifier).await;
        assert_eq!(t.status, 200, "{}", t.raw);
        let (st, v) = verify_at(&rs.http, &rs.base, t.access_token(), &json!({ "phoneNumber": msisdn })).await;
        assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    }
    // Identified by the network: the other number is not this device's.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = {
        let o = s.ingress.authorize(DEVICE_1, &req).await;
        assert_success_redirect(&s.authz, &o, &req);
        o.query["code"].clone()
    };
    let t = s.authz.redeem(&code, &req.verifier).await;
    let (st, v) = verify_at(&rs.http, &rs.base, t.access_token(), &json!({ "phoneNumber": MSISDN_2 })).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(false)), "{v}");

    // A device without a binding, through the ingress: login_required.
    let req = AuthRequest::new(SCOPE_VERIFY);
    assert_redirect_error(&s.authz, &s.ingress.authorize(DEVICE_UNBOUND, &req).await, &req, "login_required");

    // TS.43 entitlement is identified through the ingress too, and only there.
    let r = device(DEVICE_1).get(s.ingress.url(ENTITLEMENT)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "entitlement through the ingress");
    assert!(r.json::<Value>().await.unwrap()["TemporaryToken"].is_string());
    let r = device(DEVICE_1).get(s.authz.url(ENTITLEMENT)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403, "entitlement directly at the authorization server");

    // Other paths are proxied plainly; the ingress serves its own health and readiness.
    let r = device(DEVICE_1).get(s.ingress.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["issuer"], s.authz.base.as_str());
    for p in ["/health", "/ready"] {
        assert_eq!(device(DEVICE_1).get(s.ingress.url(p)).send().await.unwrap().status().as_u16(), 200, "{p}");
    }
    rs.stop().await;
    s.stop().await;
}

/// The authorization server in assertion mode never uses its TCP peer or an identity header.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_authorization_server_without_assertion_is_login_required() {
    let s = split().await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    // 127.0.0.1 is bound to +34600000001, yet the AS alone identifies nobody.
    assert_redirect_error(&s.authz, &s.authz.authorize(DEVICE_1, &req).await, &req, "login_required");
    let o = s
        .authz
        .authorize_query(DEVICE_1, &req.query(), &[("X-MSISDN", MSISDN_1), ("X-Forwarded-For", "127.0.0.2")])
        .await;
    assert_redirect_error(&s.authz, &o, &req, "login_required");
    s.stop().await;
}

/// Control first (a correctly crafted assertion works), then each defect on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_authorization_server_refuses_forged_expired_and_confused_assertions() {
    let s = split().await;
    let a = &s.authz;

    let req = AuthRequest::new(SCOPE_VERIFY);
    assert_success_redirect(a, &direct(a, DEVICE_UNBOUND, &req, &sign(&claims(a, &req.query(), MSISDN_1))).await, &req);

    type Make<'a> = Box<dyn Fn(&AuthRequest) -> String + 'a>;
    fn refused<'a>(name: &'static str, make: impl Fn(&AuthRequest) -> String + 'a) -> (&'static str, Make<'a>) {
        (name, Box::new(make))
    }
    let cases = vec![
        refused("foreign key", |r| sign_with(&foreign_key(), &claims(a, &r.query(), MSISDN_1))),
        refused("alg none", |r| {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": TYP, "kid": "dev-ingress-1"}).to_string());
            let p = URL_SAFE_NO_PAD.encode(claims(a, &r.query(), MSISDN_1).to_string());
            format!("{h}.{p}.")
        }),
        refused("HS256 keyed with the public key", |r| {
            let jwks = &Config::dev().ingress.handoff.trusted[0].jwks;
            let secret = jwks.as_ref().unwrap().as_str().unwrap().as_bytes().to_vec();
            jsonwebtoken::encode(
                &header(Algorithm::HS256),
                &claims(a, &r.query(), MSISDN_1),
                &EncodingKey::from_secret(&secret),
            )
            .unwrap()
        }),
        refused("expired", |r| {
            let mut c = claims(a, &r.query(), MSISDN_1);
            let now = a.now();
            c["iat"] = json!(now - 60);
            c["exp"] = json!(now - 30);
            c["auth_time"] = json!(now - 60);
            sign(&c)
        }),
        refused("too long-lived", |r| {
            let mut c = claims(a, &r.query(), MSISDN_1);
            c["exp"] = json!(a.now() + 300);
            sign(&c)
        }),
        refused("wrong audience", |r| {
            let mut c = claims(a, &r.query(), MSISDN_1);
            c["aud"] = json!("https://other-issuer.example");
            sign(&c)
        }),
        refused("iss of another ingress", |r| {
            let mut c = claims(a, &r.query(), MSISDN_1);
            c["iss"] = json!("other-ingress");
            sign(&c)
        }),
        refused("not network-authenticated", |r| {
            let mut c = claims(a, &r.query(), MSISDN_1);
            c["amr"] = json!(["sim"]);
            sign(&c)
        }),
        refused("untyped JWT", |r| {
            let mut h = header(Algorithm::ES256);
            h.typ = Some("JWT".into());
            jsonwebtoken::encode(&h, &claims(a, &r.query(), MSISDN_1), &dev_ingress_key()).unwrap()
        }),
        refused("garbage", |_| "not.a.jws".into()),
    ];
    for (name, make) in cases {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let o = direct(a, DEVICE_1, &req, &make(&req)).await;
        assert_eq!(o.get("error"), Some("login_required"), "{name}: {} {:?}", o.status, o.location);
        assert_redirect_error(a, &o, &req, "login_required");
    }
    // Two assertion headers: ambiguous, refused (even though each would verify).
    let req = AuthRequest::new(SCOPE_VERIFY);
    let (x, y) = (sign(&claims(a, &req.query(), MSISDN_1)), sign(&claims(a, &req.query(), MSISDN_2)));
    let o = a.authorize_query(DEVICE_1, &req.query(), &[(IDENTITY_HEADER, &x), (IDENTITY_HEADER, &y)]).await;
    assert_redirect_error(a, &o, &req, "login_required");
    s.stop().await;
}

/// An assertion the real ingress minted, lifted off the internal hop (here: a spy upstream):
/// worthless on another request, usable once on its own, then replayed in vain; and expired
/// once the authorization server's clock passes `exp` + skew.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_lifted_assertions_are_bound_single_use_and_short_lived() {
    let spy = spy().await;
    let s = split_with_upstream(Some(spy.base.clone())).await;
    let a = &s.authz;

    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.ingress.authorize(DEVICE_1, &req).await;
    // The upstream's redirect is relayed as is (never followed).
    assert_eq!((o.status, o.location.as_ref().map(|l| l.as_str())), (303, Some(SPY_LOCATION)));
    assert_eq!(o.headers.get("x-upstream").and_then(|v| v.to_str().ok()), Some("spy"));
    let seen = spy.last();
    assert_eq!(seen.target, format!("/authorize?{}", req.query()), "path and query forwarded unchanged");
    let lifted = seen.all(IDENTITY_HEADER);
    assert_eq!(lifted.len(), 1, "exactly one assertion: {seen:?}");
    let lifted = lifted[0].to_owned();
    let p = payload(&lifted);
    assert_eq!(
        (p["iss"].as_str(), p["aud"].as_str(), p["amr"].clone()),
        (Some("dev-ingress"), Some(a.base.as_str()), json!(["nba"]))
    );
    assert!(p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap() <= 30);

    // Onto another request (another state, or another client's redirect): refused.
    let other = req.clone().set("state", "attacker-state");
    assert_redirect_error(a, &direct(a, DEVICE_UNBOUND, &other, &lifted).await, &other, "login_required");
    // On its own request: once (the device's real request never reached the AS), then never.
    assert_success_redirect(a, &direct(a, DEVICE_UNBOUND, &req, &lifted).await, &req);
    assert_redirect_error(a, &direct(a, DEVICE_UNBOUND, &req, &lifted).await, &req, "login_required");

    // Another one, presented too late.
    let req = AuthRequest::new(SCOPE_VERIFY);
    s.ingress.authorize(DEVICE_1, &req).await;
    let late = spy.last().all(IDENTITY_HEADER)[0].to_owned();
    a.clock.advance(36);
    assert_redirect_error(a, &direct(a, DEVICE_UNBOUND, &req, &late).await, &req, "login_required");
    s.stop().await;
    spy.handle.stop(true).await;
}

/// What a client sends as `X-Numbat-Identity` (even a validly signed one) never reaches the
/// authorization server through the ingress: the ingress's own verdict replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_client_identity_header_is_stripped_or_replaced_at_the_ingress() {
    let s = split().await;
    let a = &s.authz;
    // A validly signed assertion for exactly this request, sent by an unbound device.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let forged = sign(&claims(a, &req.query(), MSISDN_2));
    let o = s
        .ingress
        .authorize_query(DEVICE_UNBOUND, &req.query(), &[(IDENTITY_HEADER, &forged), ("X-MSISDN", MSISDN_2)])
        .await;
    assert_redirect_error(a, &o, &req, "login_required");
    s.stop().await;

    // Through a spy: a bound device's forged header is replaced by the ingress's own assertion,
    // and no identity or forwarding header leaves the ingress.
    let spy = spy().await;
    let s = split_with_upstream(Some(spy.base.clone())).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let forged = sign(&claims(&s.authz, &req.query(), MSISDN_2));
    s.ingress
        .authorize_query(
            DEVICE_1,
            &req.query(),
            &[
                (IDENTITY_HEADER, &forged),
                ("x-numbat-identity", "second"),
                ("X-MSISDN", MSISDN_2),
                ("X-Forwarded-For", "127.0.0.2"),
            ],
        )
        .await;
    let seen = spy.last();
    let sent = seen.all(IDENTITY_HEADER);
    assert_eq!(sent.len(), 1, "{seen:?}");
    assert_ne!(sent[0], forged);
    assert_eq!(payload(sent[0])["sub"], format!("tel:{MSISDN_1}"));
    for h in ["x-msisdn", "x-forwarded-for", "forwarded"] {
        assert!(seen.all(h).is_empty(), "{h} forwarded: {seen:?}");
    }
    // An unbound device: no assertion at all.
    s.ingress.authorize_query(DEVICE_UNBOUND, &req.query(), &[(IDENTITY_HEADER, &forged)]).await;
    assert!(spy.last().all(IDENTITY_HEADER).is_empty());
    s.stop().await;
    spy.handle.stop(true).await;
}

/// Start refused, naming the key, when a split component lacks what it needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_components_refuse_to_start_without_their_handoff_config() {
    let key_of = |r: Result<TestServer, StartError>| match r {
        Err(StartError::Config(e)) => e.key,
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("started"),
    };
    let ingress = |f: fn(&mut Config)| Spec::new(Backend::Redis).component(Component::Ingress).tweak(f);
    assert_eq!(
        key_of(try_start(ingress(|c| c.ingress.handoff.upstream = String::new())).await),
        "ingress.handoff.upstream"
    );
    assert_eq!(
        key_of(try_start(ingress(|c| c.ingress.handoff.signing_key = String::new())).await),
        "ingress.handoff.signing_key"
    );
    let authz = Spec::new(Backend::Redis).component(Component::Authorization).tweak(|c| {
        c.ingress.handoff.mode = "assertion".into();
        c.ingress.handoff.trusted.clear();
    });
    assert_eq!(key_of(try_start(authz).await), "ingress.handoff.trusted");
    let memory = Spec::new(Backend::Memory).component(Component::Ingress);
    assert_eq!(key_of(try_start(memory).await), "store.url");
}

/// An unreachable authorization server: 502 from the ingress, never a 500 or a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_ingress_answers_502_when_the_upstream_is_down() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let s = split_with_upstream(Some(dead)).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.ingress.authorize(DEVICE_1, &req).await;
    assert_eq!(o.status, 502, "{}", o.body);
    s.stop().await;
}

/// All-in-one: the hand-off stays in-process, and a client's `X-Numbat-Identity` (even one
/// signed with the trusted dev ingress key, for exactly this request) is stripped unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_in_one_ignores_identity_assertions_from_clients() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let forged = sign(&claims(&s, &req.query(), MSISDN_1));
    let o = s.authorize_query(DEVICE_UNBOUND, &req.query(), &[(IDENTITY_HEADER, &forged)]).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    // And the in-process identity of a bound device still works.
    let req = AuthRequest::new(SCOPE_VERIFY);
    assert_success_redirect(&s, &s.authorize(DEVICE_1, &req).await, &req);
    s.stop().await;
}

fn percentiles_us(mut v: Vec<Duration>) -> (u128, u128) {
    v.sort();
    (v[v.len() / 2].as_micros(), v[v.len() * 9 / 10].as_micros())
}

/// Added latency of the split hand-off: `/authorize` (success, Redis store) all-in-one; at the
/// split authorization server directly with a pre-signed assertion (verification + jti write, no
/// hop); and through the split ingress (hop + signing + verification). Sequential, after a
/// warm-up. Run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "measurement, not a test"]
async fn measure_split_ingress_added_latency() {
    const N: usize = 1000;
    const WARM: usize = 100;
    let allinone = start(Backend::Redis).await;
    let s = split().await;
    let client = device(DEVICE_1);
    for (name, server, issuer, presign) in [
        ("all-in-one             ", &allinone, &allinone, false),
        ("AS direct, assertion   ", &s.authz, &s.authz, true),
        ("through split ingress  ", &s.ingress, &s.authz, false),
    ] {
        let mut times = Vec::with_capacity(N);
        for i in 0..N + WARM {
            let req = AuthRequest::new(SCOPE_VERIFY);
            let mut rb = client.get(format!("{}/authorize?{}", server.base, req.query()));
            if presign {
                rb = rb.header(IDENTITY_HEADER, sign(&claims(issuer, &req.query(), MSISDN_1)));
            }
            let t0 = Instant::now();
            let o = read_outcome(rb.send().await.unwrap()).await;
            if i >= WARM {
                times.push(t0.elapsed());
            }
            assert_success_redirect(issuer, &o, &req);
        }
        let (p50, p90) = percentiles_us(times);
        println!("{name}: /authorize p50 {p50} µs, p90 {p90} µs (n = {N})");
    }
    allinone.stop().await;
    s.stop().await;
}
