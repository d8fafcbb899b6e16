//! Test harness: a real actix `HttpServer` on 127.0.0.1:0 with `http::configure`, a store, the
//! authorization server's key ring (to mint access tokens as the AS would) and a reqwest client.
#![allow(dead_code)]

use actix_web::{App, HttpServer};
use numbat_core::scope::{NV_SHARE, NV_VERIFY};
use numbat_core::{AccessTokenClaims, AccessTokenRecord, Amr, Clock, ManualClock, Msisdn, ACCESS_TOKEN_TYP};
use numbat_jose::{Alg, JwksCache, KeyRing, SigningKey};
use numbat_resource_server::{http, ResourceServer, ResourceServerConfig};
use numbat_store::{keys, MemoryStore, SharedStore};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub const ISSUER: &str = "https://as.numbat.test";
pub const AUDIENCE: &str = "https://api.numbat.test";
pub const CLIENT: &str = "demo-app";
/// The number bound to every minted token.
pub const MSISDN: &str = "+34600000001";
/// Another valid number, not the subscriber's.
pub const OTHER: &str = "+34600000002";
/// SHA-256 hex of `+34600000001` / `+34600000002` (number-verification.md §4 test vectors).
pub const MSISDN_HASH: &str = "eb491b384e4fda4281634daa211e6e54a4cf7f82baa33a9f35980329e4ad95f3";
pub const OTHER_HASH: &str = "b354219549f603261ed4245369d7a16851c11f34cd1e17e8b0855a592d160908";
pub const VERIFY: &str = "/number-verification/v2/verify";
pub const SHARE: &str = "/number-verification/v2/device-phone-number";
pub const CORRELATOR: &str = "b4333c46-49c0-4f62-80d7-f0ef930f1c46";

pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const PERMISSION_DENIED: &str = "PERMISSION_DENIED";
pub const NOT_MOBILE: &str = "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK";
pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";

pub fn config() -> ResourceServerConfig {
    ResourceServerConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        access_token_algs: vec![Alg::ES256],
        clock_skew_s: 60,
    }
}

/// One resource-server instance listening on loopback; returns its base URL.
pub async fn spawn_instance(store: SharedStore, clock: Arc<dyn Clock>) -> String {
    let jwks = Arc::new(JwksCache::new(store.clone()));
    let rs = Arc::new(ResourceServer::new(config(), store, jwks, clock));
    let server = HttpServer::new(move || {
        let rs = rs.clone();
        App::new().configure(move |c| http::configure(c, rs))
    })
    .workers(2)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind 127.0.0.1:0");
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    format!("http://{addr}")
}

/// A running resource server and what a test needs around it.
pub struct Rs {
    pub base: String,
    pub store: SharedStore,
    pub ring: KeyRing,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
}

pub async fn start() -> Rs {
    start_with(Arc::new(MemoryStore::new())).await
}

pub async fn start_with(store: SharedStore) -> Rs {
    let ring = KeyRing::load_or_create(&store).await.expect("key ring");
    let clock = Arc::new(ManualClock::default());
    let base = spawn_instance(store.clone(), clock.clone()).await;
    Rs { base, store, ring, clock, http: client() }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("reqwest client")
}

/// What the authorization server would issue; every field can be bent by a test.
#[derive(Clone)]
pub struct Tok {
    pub typ: &'static str,
    pub iss: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub amr: Vec<Amr>,
    pub exp_in: i64,
    pub iat_offset: i64,
    /// Extra claims merged into the payload (e.g. `cnf`).
    pub extra: Option<Value>,
    /// Write the `at:{jti}` record (the AS always does; "record missing" tests do not).
    pub store_record: bool,
    pub record_client_id: Option<String>,
    pub record_msisdn: Option<String>,
    /// The refresh-token grant of the record (P-57): the token dies with `keys::grant(id)`.
    pub record_grant: Option<String>,
}

impl Tok {
    pub fn with_scope(scope: &str) -> Self {
        Tok {
            typ: ACCESS_TOKEN_TYP,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            client_id: CLIENT.into(),
            scope: format!("openid dpv:FraudPreventionAndDetection {scope}"),
            amr: vec![Amr::Nba],
            exp_in: 300,
            iat_offset: 0,
            extra: None,
            store_record: true,
            record_client_id: None,
            record_msisdn: Some(MSISDN.into()),
            record_grant: None,
        }
    }

    pub fn verify() -> Self {
        Self::with_scope(NV_VERIFY)
    }

    pub fn share() -> Self {
        Self::with_scope(NV_SHARE)
    }

    pub fn both() -> Self {
        Self::with_scope(&format!("{NV_VERIFY} {NV_SHARE}"))
    }
}

impl Rs {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The claims of `t` as JSON, and the `at:{jti}` record written when `t.store_record`.
    pub async fn claims(&self, t: &Tok) -> Value {
        let now = self.clock.now();
        let claims = AccessTokenClaims {
            iss: t.iss.clone(),
            sub: format!("pairwise-{}", uuid::Uuid::new_v4()),
            aud: t.aud.clone(),
            exp: now + t.exp_in,
            iat: now + t.iat_offset,
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: t.client_id.clone(),
            scope: t.scope.clone(),
            amr: t.amr.clone(),
            auth_time: Some(now),
        };
        if t.store_record {
            let rec = AccessTokenRecord {
                v: AccessTokenRecord::VERSION,
                client_id: t.record_client_id.clone().unwrap_or_else(|| t.client_id.clone()),
                msisdn: t.record_msisdn.as_deref().map(|m| Msisdn::parse(m).expect("test msisdn")),
                scope: t.scope.clone(),
                amr: t.amr.clone(),
                exp: claims.exp,
                grant: t.record_grant.clone(),
            };
            self.store
                .put(&keys::access_token(&claims.jti), &rec.encode(), Duration::from_secs(300))
                .await
                .expect("store token record");
        }
        let mut v = serde_json::to_value(&claims).expect("claims");
        if let (Some(Value::Object(extra)), Value::Object(map)) = (&t.extra, &mut v) {
            map.extend(extra.clone());
        }
        v
    }

    pub fn signer(&self) -> Arc<SigningKey> {
        self.ring.signer(Alg::ES256).expect("ES256 signer")
    }

    /// Mint an access token as the AS would (signed by the published ES256 key).
    pub async fn mint(&self, t: &Tok) -> String {
        let claims = self.claims(t).await;
        self.signer().sign(t.typ, &claims).expect("sign")
    }

    /// `POST /verify` with a JSON body and a valid correlator.
    pub async fn verify(&self, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(VERIFY))
            .bearer_auth(token)
            .header("x-correlator", CORRELATOR)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn verify_number(&self, token: &str, number: &str) -> reqwest::Response {
        self.verify(token, json!({ "phoneNumber": number })).await
    }

    /// `GET /device-phone-number` with a valid correlator.
    pub async fn share(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(SHARE))
            .bearer_auth(token)
            .header("x-correlator", CORRELATOR)
            .send()
            .await
            .expect("request")
    }
}

/// NVX-04: 100 parallel requests with one token, spread over two instances sharing one
/// store: exactly one 200, all others 401.
pub async fn race(store: SharedStore, rs: &Rs) {
    let second = spawn_instance(store, Arc::new(ManualClock::default())).await;
    let t = rs.mint(&Tok::both()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let http = rs.http.clone();
        let base = if i % 2 == 0 { rs.base.clone() } else { second.clone() };
        let t = t.clone();
        tasks.spawn(async move {
            let req = if i % 3 == 0 {
                http.get(format!("{base}{SHARE}")).bearer_auth(&t)
            } else {
                http.post(format!("{base}{VERIFY}")).bearer_auth(&t).json(&json!({ "phoneNumber": MSISDN }))
            };
            req.send().await.expect("request").status().as_u16()
        });
    }
    let (mut ok, mut unauth, mut other) = (0, 0, Vec::new());
    while let Some(r) = tasks.join_next().await {
        match r.expect("task") {
            200 => ok += 1,
            401 => unauth += 1,
            s => other.push(s),
        }
    }
    assert_eq!((ok, unauth, other), (1, 99, vec![]), "exactly one request may use the token");
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn common_headers(h: &HeaderMap) {
    let ct = header(h, "content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
    assert_eq!(header(h, "cache-control"), Some("no-store"));
    let corr = header(h, "x-correlator").expect("x-correlator on every response");
    assert!(!corr.is_empty() && corr.len() <= 256, "x-correlator {corr:?}");
}

/// 200 with the common headers; the JSON body.
pub async fn expect_ok(resp: reqwest::Response) -> (HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.expect("JSON body");
    assert_eq!(status, 200, "body {body}");
    common_headers(&headers);
    (headers, body)
}

/// An error with the CAMARA body (C-01, NVX-25): `status` equals the HTTP status, `code`,
/// a non-empty `message`, JSON, no-store and an `x-correlator`.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> (HeaderMap, Value) {
    let got = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    assert_eq!(got, status, "body {body}");
    common_headers(&headers);
    assert_eq!(body["status"], json!(status), "body {body}");
    assert_eq!(body["code"], json!(code), "body {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "body {body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "exactly status, code, message: {body}");
    (headers, body)
}

pub fn correlator_of(h: &HeaderMap) -> &str {
    header(h, "x-correlator").unwrap_or_default()
}

pub fn www_authenticate(h: &HeaderMap) -> Option<&str> {
    header(h, "www-authenticate")
}

pub async fn expect_verified(resp: reqwest::Response, expected: bool) {
    let (h, body) = expect_ok(resp).await;
    assert_eq!(body, json!({ "devicePhoneNumberVerified": expected }));
    assert_eq!(correlator_of(&h), CORRELATOR);
}

/// A raw HTTP/1.1 exchange (for what reqwest will not send, e.g. no `Accept` at all):
/// returns the status and the full response text.
pub async fn raw(base: &str, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}
