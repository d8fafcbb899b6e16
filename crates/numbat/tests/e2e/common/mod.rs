//! Shared harness of the end-to-end tests: start the real numbat server (the very `numbat::start`
//! the binary runs) on a loopback port with a [`ManualClock`], act as the device (a reqwest client
//! bound to 127.0.0.1/.2/.3) and as the app backend (client assertions signed with `jsonwebtoken`,
//! an implementation independent of numbat's own JOSE code).
//!
//! Every main scenario runs against both store backends through [`both_backends!`]. The Redis run
//! needs a Redis at `NUMBAT_TEST_REDIS` (default `redis://127.0.0.1:6379`); a missing Redis fails
//! the test with a message saying so, it is never skipped.

#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use numbat::{Component, Config, Options, Running};
use numbat_core::{Clock, ManualClock};
use reqwest::redirect::Policy;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

pub const CLIENT_ID: &str = "demo-app";
pub const KID: &str = "demo-app-1";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9999/callback";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const PURPOSE: &str = "dpv:FraudPreventionAndDetection";
pub const SCOPE_VERIFY: &str = "openid dpv:FraudPreventionAndDetection number-verification:verify";
pub const SCOPE_SHARE: &str = "openid dpv:FraudPreventionAndDetection number-verification:device-phone-number:read";
pub const SCOPE_BOTH: &str =
    "openid dpv:FraudPreventionAndDetection number-verification:verify number-verification:device-phone-number:read";
pub const MSISDN_1: &str = "+34600000001";
pub const MSISDN_2: &str = "+34600000002";
pub const OTHER_MSISDN: &str = "+34666666666";
/// Bound to MSISDN_1 in config/dev.toml.
pub const DEVICE_1: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// Bound to MSISDN_2.
pub const DEVICE_2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Deliberately without a binding.
pub const DEVICE_UNBOUND: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// Public half of config/dev/demo-app.key.pem (config/dev.toml).
pub const CLIENT_X: &str = "EgMEe16Xy5bVFKLwu5Gb0vj8T_tbye_VNfqgfSw_7Uo";
pub const CLIENT_Y: &str = "izHnk64M7vzATcbAgvOCUyhPQDBlLs0k_1bKYqYYckg";

/// Runs `async fn scenario(Backend)` once per store backend, as two tests `<name>::memory` and
/// `<name>::redis` (so `cargo test nvx_01` selects both). Use with `#[macro_use] mod common;`.
#[allow(unused_macros)]
macro_rules! both_backends {
    ($($name:ident => $scenario:ident;)+) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn memory() {
                    super::$scenario(crate::common::Backend::Memory).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn redis() {
                    super::$scenario(crate::common::Backend::Redis).await
                }
            }
        )+
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

pub fn redis_url() -> String {
    std::env::var("NUMBAT_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// One Redis key namespace (a unique prefix), shared by the servers of a split-mode test and
/// deleted when the last of them is dropped.
pub struct RedisNamespace {
    pub url: String,
    pub prefix: String,
}

impl RedisNamespace {
    pub fn new() -> Arc<Self> {
        Arc::new(RedisNamespace { url: redis_url(), prefix: format!("numbat-e2e:{}:", uuid::Uuid::new_v4()) })
    }

    /// A namespace on the test Redis Cluster (`NUMBAT_TEST_REDIS_CLUSTER`, which `scripts/test`
    /// sets up): `url` is the `redis+cluster://` seed list.
    pub fn on_cluster() -> Arc<Self> {
        let url = std::env::var("NUMBAT_TEST_REDIS_CLUSTER").unwrap_or_else(|_| {
            panic!("set NUMBAT_TEST_REDIS_CLUSTER=redis+cluster://h:p,... or run scripts/test, which starts a test cluster")
        });
        Arc::new(RedisNamespace { url, prefix: format!("numbat-e2e:{}:", uuid::Uuid::new_v4()) })
    }
}

impl Drop for RedisNamespace {
    fn drop(&mut self) {
        // Best effort: the signing keys live 400 days, do not leave them behind. On a cluster
        // each seed is asked for the keys it holds.
        let nodes: Vec<String> = match self.url.strip_prefix("redis+cluster://") {
            Some(seeds) => seeds.split(',').map(|h| format!("redis://{h}")).collect(),
            None => vec![self.url.clone()],
        };
        for node in nodes {
            let Ok(client) = redis::Client::open(node.as_str()) else { continue };
            let Ok(mut con) = client.get_connection_with_timeout(std::time::Duration::from_secs(2)) else { continue };
            let keys: Vec<String> = match redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut con) {
                Ok(k) => k,
                Err(_) => continue,
            };
            for k in keys {
                let _: Result<i64, _> = redis::cmd("DEL").arg(k).query(&mut con);
            }
        }
    }
}

pub struct TestServer {
    /// `http://127.0.0.1:<port>`: also the issuer of an authorization server.
    pub base: String,
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    /// The app backend's HTTP client (no redirects followed).
    pub http: reqwest::Client,
    pub backend: Backend,
    running: Option<Running>,
    pub namespace: Option<Arc<RedisNamespace>>,
}

/// A last change to the configuration of a server under test.
pub type Tweak = Box<dyn FnOnce(&mut Config) + Send>;

pub struct Spec {
    pub backend: Backend,
    pub component: Component,
    /// Share this Redis namespace (split mode); a fresh one otherwise.
    pub namespace: Option<Arc<RedisNamespace>>,
    /// Last changes to the configuration (after issuer, workers and store are set).
    pub tweak: Option<Tweak>,
}

impl Spec {
    pub fn new(backend: Backend) -> Self {
        Spec { backend, component: Component::All, namespace: None, tweak: None }
    }
    pub fn component(mut self, c: Component) -> Self {
        self.component = c;
        self
    }
    pub fn namespace(mut self, ns: Arc<RedisNamespace>) -> Self {
        self.namespace = Some(ns);
        self
    }
    pub fn tweak(mut self, f: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.tweak = Some(Box::new(f));
        self
    }
}

/// Start a server; the error is returned (for the tests of refused starts).
pub async fn try_start(spec: Spec) -> Result<TestServer, numbat::server::StartError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = l.local_addr().expect("local addr");
    let base = format!("http://127.0.0.1:{}", addr.port());
    let mut cfg = Config::dev();
    cfg.server.issuer = base.clone();
    cfg.server.workers = 2;
    // Each server gets its own UDP port for RADIUS accounting (the dev default is 1813).
    cfg.ingress.radius.listen = "127.0.0.1:0".into();
    let namespace = match spec.backend {
        Backend::Memory => {
            cfg.store.url = "memory".into();
            None
        }
        Backend::Redis => {
            let ns = spec.namespace.unwrap_or_else(RedisNamespace::new);
            cfg.store.url = ns.url.clone();
            cfg.store.prefix = ns.prefix.clone();
            Some(ns)
        }
    };
    if let Some(t) = spec.tweak {
        t(&mut cfg);
    }
    let clock = Arc::new(ManualClock::default());
    let running =
        numbat::start(cfg, Options { component: spec.component, clock: clock.clone(), listener: Some(l) }).await?;
    assert_eq!(running.addr, addr);
    let http = reqwest::Client::builder().redirect(Policy::none()).build().expect("http client");
    Ok(TestServer { base, addr, clock, http, backend: spec.backend, running: Some(running), namespace })
}

/// Start a server or fail the test; a Redis that cannot be reached is named in the message.
pub async fn start_spec(spec: Spec) -> TestServer {
    let backend = spec.backend;
    match try_start(spec).await {
        Ok(s) => s,
        Err(e) if backend == Backend::Redis => panic!(
            "the Redis backend of this end-to-end test needs a Redis at {} (set NUMBAT_TEST_REDIS; \
             scripts/test starts one). numbat refused to start: {e}",
            redis_url()
        ),
        Err(e) => panic!("numbat did not start: {e}"),
    }
}

/// An authorization server and `n` resource servers configured for its issuer, all on one Redis
/// namespace (split deployment: design.md "More instances"; a cluster namespace for Redis
/// Cluster).
pub async fn split_on(ns: Arc<RedisNamespace>, n: usize) -> (TestServer, Vec<TestServer>) {
    let authz =
        start_spec(Spec::new(Backend::Redis).component(numbat::Component::Authorization).namespace(ns.clone())).await;
    let mut rs = Vec::new();
    for _ in 0..n {
        let issuer = authz.base.clone();
        let spec = Spec::new(Backend::Redis)
            .component(numbat::Component::Resource)
            .namespace(Arc::clone(&ns))
            .tweak(move |c| c.server.issuer = issuer);
        rs.push(start_spec(spec).await);
    }
    (authz, rs)
}

pub async fn start(backend: Backend) -> TestServer {
    start_spec(Spec::new(backend)).await
}

impl TestServer {
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// The server's store (shared with every component of this server).
    pub fn store(&self) -> numbat_store::SharedStore {
        self.running.as_ref().expect("running").store.clone()
    }

    /// The admin listener's address (`server.admin_listen`), when there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.running.as_ref().expect("running").admin.as_ref().map(|a| a.addr)
    }

    /// The bound RADIUS accounting address, when the listener runs.
    pub fn radius_addr(&self) -> Option<SocketAddr> {
        self.running.as_ref().expect("running").radius_addr
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn token_endpoint(&self) -> String {
        self.url("/token")
    }
}

/// An HTTP client that connects from `ip`, as a device on mobile data would. Never follows
/// redirects: the tests read `Location`.
pub fn device(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip).redirect(Policy::none()).build().expect("device client")
}

// ---------------------------------------------------------------------------------------------
// Helpers: randomness, hashes, JWT parts
// ---------------------------------------------------------------------------------------------

pub fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("rng");
    URL_SAFE_NO_PAD.encode(b)
}

pub fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Header (0) or payload (1) of a compact JWS, unverified.
pub fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).unwrap_or_else(|| panic!("JWT without part {i}: {jwt}"));
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url part")).expect("JSON part")
}

// ---------------------------------------------------------------------------------------------
// Client authentication (private_key_jwt, signed with jsonwebtoken)
// ---------------------------------------------------------------------------------------------

/// The dev client's PKCS#8 PEM, without the two comment lines before `-----BEGIN`.
pub fn client_key_pem() -> String {
    let pem = numbat::config::DEV_CLIENT_KEY;
    let start = pem.find("-----BEGIN").expect("PEM begin line");
    pem[start..].to_owned()
}

pub fn client_key() -> EncodingKey {
    EncodingKey::from_ec_pem(client_key_pem().as_bytes()).expect("dev client key")
}

/// The dev client's public key as SPKI PEM (what an HMAC-confusion attacker would use as secret).
pub fn client_public_pem() -> String {
    let mut der = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    der.push(0x04);
    der.extend(URL_SAFE_NO_PAD.decode(CLIENT_X).unwrap());
    der.extend(URL_SAFE_NO_PAD.decode(CLIENT_Y).unwrap());
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
}

/// A freshly generated P-256 key the server does not know.
pub fn foreign_key() -> EncodingKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("generate key");
    EncodingKey::from_ec_der(pkcs8.as_ref())
}

pub fn es256_header() -> Header {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(KID.into());
    h.typ = Some("JWT".into());
    h
}

/// Sign `claims` as the dev client would (ES256, kid demo-app-1).
pub fn sign_client_jwt(claims: &Value) -> String {
    jsonwebtoken::encode(&es256_header(), claims, &client_key()).expect("sign assertion")
}

/// An unsigned JWT (`alg: none`), with the given signature part (empty = the canonical form).
pub fn alg_none_jwt(claims: &Value, signature: &str) -> String {
    let h = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let p = b64url(serde_json::to_vec(claims).unwrap().as_slice());
    format!("{h}.{p}.{signature}")
}

impl TestServer {
    /// Valid assertion claims at the server's current time: aud = token endpoint, exp = now + 60.
    pub fn assertion_claims(&self) -> Value {
        let now = self.now();
        json!({
            "iss": CLIENT_ID, "sub": CLIENT_ID, "aud": self.token_endpoint(),
            "jti": random_b64(16), "iat": now, "exp": now + 60,
        })
    }

    pub fn assertion(&self) -> String {
        sign_client_jwt(&self.assertion_claims())
    }
}

// ---------------------------------------------------------------------------------------------
// /authorize
// ---------------------------------------------------------------------------------------------

/// A valid authorization request (PKCE S256, state, nonce, prompt=none) that tests may modify.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub params: Vec<(String, String)>,
    pub verifier: String,
    pub state: String,
    pub nonce: String,
}

impl AuthRequest {
    pub fn new(scope: &str) -> Self {
        let verifier = random_b64(32);
        let state = random_b64(12);
        let nonce = random_b64(12);
        let params = [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", &state),
            ("nonce", &nonce),
            ("prompt", "none"),
            ("code_challenge", &pkce_challenge(&verifier)),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        AuthRequest { params, verifier, state, nonce }
    }

    /// Replace (or add) a parameter.
    pub fn set(mut self, k: &str, v: &str) -> Self {
        self.params.retain(|(n, _)| n != k);
        self.params.push((k.into(), v.into()));
        self
    }

    pub fn remove(mut self, k: &str) -> Self {
        self.params.retain(|(n, _)| n != k);
        self
    }

    /// Add one more occurrence (a repeated parameter).
    pub fn add(mut self, k: &str, v: &str) -> Self {
        self.params.push((k.into(), v.into()));
        self
    }

    pub fn query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// What `/authorize` answered.
#[derive(Debug)]
pub struct AuthOutcome {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub location: Option<url::Url>,
    /// Query parameters of `Location` (empty without a redirect).
    pub query: HashMap<String, String>,
    /// How often each parameter appears in `Location`.
    pub counts: HashMap<String, usize>,
    pub body: String,
}

impl AuthOutcome {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }
}

pub async fn read_outcome(r: reqwest::Response) -> AuthOutcome {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let location = headers
        .get("location")
        .map(|v| url::Url::parse(v.to_str().expect("ASCII Location")).expect("absolute Location"));
    let mut query = HashMap::new();
    let mut counts = HashMap::new();
    if let Some(l) = &location {
        for (k, v) in l.query_pairs() {
            *counts.entry(k.to_string()).or_insert(0) += 1;
            query.insert(k.into_owned(), v.into_owned());
        }
    }
    let body = r.text().await.unwrap_or_default();
    AuthOutcome { status, headers, location, query, counts, body }
}

impl TestServer {
    /// `GET /authorize?<query>` from `from`, with extra request headers.
    pub async fn authorize_query(&self, from: IpAddr, query: &str, headers: &[(&str, &str)]) -> AuthOutcome {
        let mut rb = device(from).get(format!("{}/authorize?{query}", self.base));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        read_outcome(rb.send().await.expect("GET /authorize")).await
    }

    pub async fn authorize(&self, from: IpAddr, req: &AuthRequest) -> AuthOutcome {
        self.authorize_query(from, &req.query(), &[]).await
    }

    /// Run `/authorize` and return the code, asserting a well-formed success redirect.
    pub async fn code_for(&self, from: IpAddr, req: &AuthRequest) -> String {
        let o = self.authorize(from, req).await;
        assert_success_redirect(self, &o, req);
        o.query["code"].clone()
    }
}

/// 302 to the registered redirect URI with `code`, the request's `state` and `iss`, no `error`.
pub fn assert_success_redirect(s: &TestServer, o: &AuthOutcome, req: &AuthRequest) {
    assert_eq!(o.status, 302, "expected a redirect, got {} {}", o.status, o.body);
    let l = o.location.as_ref().expect("Location");
    assert!(l.as_str().starts_with(REDIRECT_URI), "redirect to {l}");
    assert_eq!(o.get("error"), None, "unexpected error: {:?}", o.query);
    assert!(o.get("code").is_some_and(|c| !c.is_empty()), "no code in {l}");
    assert_eq!(o.get("state"), Some(req.state.as_str()), "state not echoed");
    assert_eq!(o.get("iss"), Some(s.base.as_str()), "iss missing or wrong (RFC 9207)");
}

/// 302 to the registered redirect URI with `error`, the request's `state` (when it sent one)
/// and `iss`; never a `code`.
pub fn assert_redirect_error(s: &TestServer, o: &AuthOutcome, req: &AuthRequest, error: &str) {
    assert_eq!(o.status, 302, "expected an error redirect ({error}), got {} {}", o.status, o.body);
    let l = o.location.as_ref().expect("Location");
    assert!(l.as_str().starts_with(REDIRECT_URI), "error redirected to {l}");
    assert_eq!(o.get("error"), Some(error), "redirect {l}");
    assert_eq!(o.get("code"), None, "an error redirect carries a code: {l}");
    let sent: Vec<&str> = req.params.iter().filter(|(k, _)| k == "state").map(|(_, v)| v.as_str()).collect();
    match sent.as_slice() {
        [] => assert_eq!(o.get("state"), None, "state invented on {l}"),
        [st] => assert_eq!(o.get("state"), Some(*st), "state not echoed on the error redirect {l}"),
        // A repeated state is ambiguous: echoing none of them (or one of them) is fine.
        several => assert!(o.get("state").is_none_or(|st| several.contains(&st)), "state on {l}"),
    }
    assert_eq!(o.get("iss"), Some(s.base.as_str()), "iss missing on the error redirect {l}");
    assert_eq!(o.counts.get("error"), Some(&1), "error repeated in {l}");
}

/// E-AZ-00: an HTML error page with 400, and no redirect at all.
pub fn assert_error_page(o: &AuthOutcome) {
    assert_eq!(o.status, 400, "expected the 400 error page, got {} {:?} {}", o.status, o.location, o.body);
    assert!(o.headers.get("location").is_none(), "E-AZ-00 must not redirect: {:?}", o.location);
    let ct = o.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(ct.starts_with("text/html"), "error page content type {ct}");
    assert!(!o.body.contains("code="), "the error page carries a code: {}", o.body);
}

// ---------------------------------------------------------------------------------------------
// /token
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct TokenReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
    pub raw: String,
}

impl TokenReply {
    pub fn error(&self) -> Option<&str> {
        self.json.get("error").and_then(Value::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn access_token(&self) -> &str {
        self.json["access_token"].as_str().unwrap_or_else(|| panic!("no access_token: {} {}", self.status, self.raw))
    }
}

pub async fn read_token_reply(r: reqwest::Response) -> TokenReply {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let raw = r.text().await.unwrap_or_default();
    let json = serde_json::from_str(&raw).unwrap_or(Value::Null);
    TokenReply { status, headers, json, raw }
}

/// The form of an authorization-code token request, without client authentication.
pub fn code_form(code: &str, verifier: &str) -> Vec<(String, String)> {
    vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code.into()),
        ("redirect_uri".into(), REDIRECT_URI.into()),
        ("code_verifier".into(), verifier.into()),
    ]
}

pub fn with_assertion(mut form: Vec<(String, String)>, assertion: &str) -> Vec<(String, String)> {
    form.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
    form.push(("client_assertion".into(), assertion.into()));
    form
}

impl TestServer {
    pub async fn token_raw(&self, form: &[(String, String)]) -> TokenReply {
        read_token_reply(self.http.post(self.token_endpoint()).form(form).send().await.expect("POST /token")).await
    }

    /// Redeem a code with a fresh, valid client assertion.
    pub async fn redeem(&self, code: &str, verifier: &str) -> TokenReply {
        self.token_raw(&with_assertion(code_form(code, verifier), &self.assertion())).await
    }

    /// The whole flow from `from`: authorize, then redeem. Asserts success.
    pub async fn token_reply_for(&self, from: IpAddr, req: &AuthRequest) -> TokenReply {
        let code = self.code_for(from, req).await;
        let r = self.redeem(&code, &req.verifier).await;
        assert_eq!(r.status, 200, "token request failed: {}", r.raw);
        r
    }

    /// An access token for the subscriber behind `from`, with `scope`.
    pub async fn access_token(&self, from: IpAddr, scope: &str) -> String {
        self.token_reply_for(from, &AuthRequest::new(scope)).await.access_token().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Number Verification
// ---------------------------------------------------------------------------------------------

/// `POST {base}/number-verification/v2/verify` with a JSON body.
pub async fn verify_at(http: &reqwest::Client, base: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = http
        .post(format!("{base}/number-verification/v2/verify"))
        .bearer_auth(token)
        .header("x-correlator", "e2e-test")
        .json(body)
        .send()
        .await
        .expect("POST /verify");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn share_at(http: &reqwest::Client, base: &str, token: &str) -> (u16, Value) {
    let r = http
        .get(format!("{base}/number-verification/v2/device-phone-number"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /device-phone-number");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

impl TestServer {
    pub async fn verify(&self, token: &str, body: &Value) -> (u16, Value) {
        verify_at(&self.http, &self.base, token, body).await
    }

    pub async fn verify_number(&self, token: &str, number: &str) -> (u16, Value) {
        self.verify(token, &json!({ "phoneNumber": number })).await
    }

    pub async fn share(&self, token: &str) -> (u16, Value) {
        share_at(&self.http, &self.base, token).await
    }

    /// Verify with a fresh token from `from` and return `devicePhoneNumberVerified`.
    pub async fn verified(&self, from: IpAddr, body: Value) -> bool {
        let t = self.access_token(from, SCOPE_VERIFY).await;
        let (status, v) = self.verify(&t, &body).await;
        assert_eq!(status, 200, "verify {body}: {v}");
        v["devicePhoneNumberVerified"].as_bool().unwrap_or_else(|| panic!("no devicePhoneNumberVerified: {v}"))
    }
}

/// A CAMARA 401 `UNAUTHENTICATED` answer.
pub fn assert_unauthenticated(status: u16, body: &Value) {
    assert_eq!(status, 401, "expected 401 UNAUTHENTICATED, got {status} {body}");
    assert_eq!(body["code"], "UNAUTHENTICATED", "{body}");
    assert_eq!(body["status"], 401, "{body}");
}

impl TestServer {
    /// A request object signed by the demo client over `req`'s parameters (aud = the
    /// authorization endpoint, P-28), with `extra` claims set (a `null` removes the claim).
    pub fn request_object(&self, req: &AuthRequest, extra: Value) -> String {
        let now = self.now();
        let mut claims = json!({
            "iss": CLIENT_ID, "aud": self.url("/authorize"), "iat": now, "exp": now + 120,
            "jti": random_b64(12),
        });
        for (k, v) in &req.params {
            claims[k] = json!(v);
        }
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        sign_client_jwt(&claims)
    }
}
