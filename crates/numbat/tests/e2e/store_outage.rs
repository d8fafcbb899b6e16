//! Store outage (camara-profile.md §15.3 `[impl]`, number-verification.md §7 `[impl]`, design.md
//! "fails closed"): numbat talks to Redis through a TCP proxy the test can cut. While the store
//! is unreachable every component answers "try later" (503 / `temporarily_unavailable`), never
//! 500 and never a guess; nothing is spent by a failed request; service resumes with the store.


use crate::common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP forwarder to Redis that can be cut (listener closed, every connection dropped) and
/// restored on the same port.
struct Proxy {
    port: u16,
    target: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Arc<Proxy> {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let p = Arc::new(Proxy {
            port: l.local_addr().unwrap().port(),
            target,
            accept: Mutex::new(None),
            conns: Arc::new(Mutex::new(Vec::new())),
        });
        p.serve(l);
        p
    }

    fn serve(&self, l: TcpListener) {
        let (target, conns) = (self.target, self.conns.clone());
        let h = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = l.accept().await {
                let c = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(c);
            }
        });
        *self.accept.lock().unwrap() = Some(h);
    }

    fn cut(&self) {
        if let Some(h) = self.accept.lock().unwrap().take() {
            h.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    async fn restore(&self) {
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => return self.serve(l),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not re-bind the proxy port {}: {last:?}", self.port);
    }
}

async fn status_of(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("request");
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_outage_is_503_everywhere_spends_nothing_and_recovers() {
    let ns = RedisNamespace::new();
    let mut redis = url::Url::parse(&ns.url).unwrap();
    let target: SocketAddr = format!("{}:{}", redis.host_str().unwrap(), redis.port().unwrap_or(6379))
        .parse()
        .expect("NUMBAT_TEST_REDIS must name an IP address for this test");
    let proxy = Proxy::start(target).await;
    redis.set_port(Some(proxy.port)).unwrap();
    let proxied = redis.to_string();
    let s = start_spec(Spec::new(Backend::Redis).namespace(ns.clone()).tweak(move |c| c.store.url = proxied)).await;

    // Before the outage: a token, and a code waiting to be redeemed.
    let token = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;

    proxy.cut();

    let health = s.http.get(s.url("/health")).send().await.unwrap().status().as_u16();
    assert_eq!(health, 200, "liveness does not depend on the store");
    let (st, _) = status_of(s.http.get(s.url("/ready"))).await;
    assert_eq!(st, 503, "not ready without the store");

    // /authorize: the ingress cannot look the device up: E-AZ-08, not login_required, not a code.
    let areq = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_1, &areq).await;
    assert_ne!(o.status, 500, "{}", o.body);
    assert_redirect_error(&s, &o, &areq, "temporarily_unavailable");

    // /token: 503 temporarily_unavailable, JSON, no-store.
    let r = s.redeem(&code, &req.verifier).await;
    assert_eq!((r.status, r.error()), (503, Some("temporarily_unavailable")), "{}", r.raw);
    assert!(r.header("cache-control").unwrap_or_default().contains("no-store"));

    // Resource server: 503 UNAVAILABLE, CAMARA body.
    let (st, v) = s.verify_number(&token, MSISDN_1).await;
    assert_eq!((st, &v["code"], &v["status"]), (503, &json!("UNAVAILABLE"), &json!(503)), "{v}");

    // The store comes back: the token and the code were not spent by the failed requests.
    proxy.restore().await;
    let mut ready = false;
    for _ in 0..100 {
        if status_of(s.http.get(s.url("/ready"))).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "numbat did not recover when the store came back");
    let (st, v) = s.verify_number(&token, MSISDN_1).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "token lost in the outage: {v}");
    let r = s.redeem(&code, &req.verifier).await;
    assert_eq!(r.status, 200, "code lost in the outage: {}", r.raw);
    assert!(s.verified(DEVICE_1, json!({ "phoneNumber": MSISDN_1 })).await);

    s.stop().await;
    proxy.cut();
}

/// `[store] tls_*` (rediss://): a TLS file that cannot be read, or TLS files with a plain
/// `redis://` URL, refuse the start with the key named; numbat never falls back to plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_tls_settings_refuse_a_plain_text_or_unreadable_start() {
    let missing = Spec::new(Backend::Redis).tweak(|c| c.store.tls_ca_file = "/nonexistent/ca.pem".into());
    let e = try_start(missing).await.err().expect("an unreadable CA file refuses the start").to_string();
    assert!(e.contains("store.tls_ca_file"), "{e}");

    let ca = std::env::temp_dir().join(format!("numbat-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
    let path = ca.to_string_lossy().into_owned();
    let plain = Spec::new(Backend::Redis).tweak(move |c| c.store.tls_ca_file = path);
    let e = try_start(plain).await.err().expect("TLS files with redis:// refuse the start").to_string();
    assert!(e.contains("rediss://"), "{e}");

    let cert = path_of(&ca);
    let half = Spec::new(Backend::Redis).tweak(move |c| c.store.tls_cert_file = cert);
    let e = try_start(half).await.err().expect("a certificate without its key refuses the start").to_string();
    assert!(e.contains("tls_key_file"), "{e}");
    let _ = std::fs::remove_file(ca);
}

fn path_of(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}
