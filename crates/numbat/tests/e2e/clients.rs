//! Issue 4 item 2, end to end over HTTP: the client registry managed through the admin API and
//! `numbat client`, `jwks_uri` clients served by a loopback JWKS server, client secrets (argon2)
//! only where configured, per-client token lifetimes, and the hostile inputs.


use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_backends! {
    admin_api_client_runs_the_code_flow_with_an_rp_and_removal_is_invalid_client => admin_client_full_flow;
    jwks_uri_client_key_rotation_is_found_by_an_unknown_kid_refetch => jwks_uri_rotation;
    client_secret_basic_client_works_and_a_wrong_secret_is_401_with_www_authenticate => secret_basic_flow;
}

const ADMIN: &str = "dev-admin-token";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A fresh P-256 client key: the signing half for jsonwebtoken and the public JWK.
struct TestKey {
    enc: EncodingKey,
    jwk: Value,
    kid: String,
}

fn new_key(kid: &str) -> TestKey {
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let pt = kp.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": b64url(&pt[1..33]), "y": b64url(&pt[33..65])});
    TestKey { enc: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk, kid: kid.into() }
}

fn assertion_for(s: &TestServer, client_id: &str, key: &TestKey) -> String {
    let now = s.now();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": s.token_endpoint(),
        "jti": random_b64(16), "iat": now, "exp": now + 60});
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&h, &claims, &key.enc).unwrap()
}

/// Metadata of a Number Verification client using the dev redirect URI.
fn nv_client(id: &str) -> Value {
    json!({
        "client_id": id,
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code"],
        "scopes": ["openid", PURPOSE, "number-verification:verify"],
        "id_token_signed_response_alg": "ES256",
    })
}

async fn admin_send(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut rb = s.http.request(method, s.url(path));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let r = rb.send().await.expect("admin request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

async fn create(s: &TestServer, body: &Value) -> (u16, Value) {
    let (st, v, _) = admin_send(s, reqwest::Method::POST, "/admin/clients", Some(body), Some(ADMIN)).await;
    (st, v)
}

async fn create_ok(s: &TestServer, body: &Value) -> Value {
    let (st, v) = create(s, body).await;
    assert_eq!(st, 201, "client not created: {v}");
    v
}

/// A Number Verification authorization request of `client_id`.
fn nv_request(client_id: &str) -> AuthRequest {
    AuthRequest::new(SCOPE_VERIFY).set("client_id", client_id)
}

/// Redeem a code with extra client-authentication form fields and headers.
async fn redeem_with(
    s: &TestServer,
    code: &str,
    verifier: &str,
    extra: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> TokenReply {
    let mut form = code_form(code, verifier);
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut rb = s.http.post(s.token_endpoint()).form(&form);
    if let Some((u, p)) = basic {
        rb = rb.basic_auth(u, Some(p));
    }
    read_token_reply(rb.send().await.unwrap()).await
}

async fn redeem_assertion(s: &TestServer, client_id: &str, key: &TestKey) -> TokenReply {
    let req = nv_request(client_id);
    let code = s.code_for(DEVICE_1, &req).await;
    let a = assertion_for(s, client_id, key);
    redeem_with(s, &code, &req.verifier, &[("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &a)], None)
        .await
}

fn assert_invalid_client(r: &TokenReply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.raw);
    assert_eq!(r.error(), Some("invalid_client"), "{what}: {}", r.raw);
    assert!(r.json.get("access_token").is_none(), "{what}");
}

/// What the loopback JWKS server answers.
#[derive(Clone)]
enum Serve {
    Jwks(Value),
    /// A body of this many bytes (no Content-Length: the bound must hold while streaming).
    Huge(usize),
    /// Answer only after this long.
    Slow(Duration),
}

/// A loopback HTTP server standing in for a client's `jwks_uri`.
struct JwksServer {
    addr: SocketAddr,
    serve: Arc<parking_lot_free::Mutex<Serve>>,
    hits: Arc<AtomicUsize>,
}

/// std's Mutex under a short name (the crate has no parking_lot).
mod parking_lot_free {
    pub struct Mutex<T>(std::sync::Mutex<T>);
    impl<T: Clone> Mutex<T> {
        pub fn new(t: T) -> Self {
            Mutex(std::sync::Mutex::new(t))
        }
        pub fn get(&self) -> T {
            self.0.lock().unwrap().clone()
        }
        pub fn set(&self, t: T) {
            *self.0.lock().unwrap() = t;
        }
    }
}

impl JwksServer {
    async fn start(serve: Serve) -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let serve = Arc::new(parking_lot_free::Mutex::new(serve));
        let hits = Arc::new(AtomicUsize::new(0));
        let (sv, h) = (serve.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = l.accept().await {
                let (sv, h) = (sv.clone(), h.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut n = 0;
                    while n < buf.len() {
                        match sock.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => n += k,
                        }
                        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let body = match sv.get() {
                        Serve::Jwks(v) => v.to_string().into_bytes(),
                        Serve::Huge(n) => {
                            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
                            let _ = sock.write_all(head.as_bytes()).await;
                            let chunk = vec![b' '; 16 * 1024];
                            let mut sent = 0;
                            while sent < n {
                                if sock.write_all(&chunk).await.is_err() {
                                    return;
                                }
                                sent += chunk.len();
                            }
                            return;
                        }
                        Serve::Slow(d) => {
                            tokio::time::sleep(d).await;
                            b"{\"keys\":[]}".to_vec()
                        }
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                });
            }
        });
        JwksServer { addr, serve, hits }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/jwks.json", self.addr.port())
    }
}

fn trust_loopback(c: &mut numbat::Config) {
    c.clients_policy.jwks_uri_trusted_hosts = vec!["127.0.0.1".into()];
    c.clients_policy.jwks_uri_refetch_interval_s = 0;
    c.clients_policy.jwks_uri_timeout_ms = 500;
}

// ---------------------------------------------------------------------------------------------
// Scenarios on both backends
// ---------------------------------------------------------------------------------------------

/// Issue 4 item 2: a client added through the admin API is a full OIDC client at once (the
/// `openidconnect` RP discovers, authorizes and verifies its ID token); its own token lifetimes
/// apply; discovery's scopes follow the registry; removed, it is `invalid_client` (P-91).
async fn admin_client_full_flow(b: Backend) {
    use openidconnect::core::{
        CoreAuthPrompt, CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata,
        CoreResponseType,
    };
    use openidconnect::{
        AuthType, AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
        PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };

    let s = start(b).await;
    let key = new_key("rp-1");
    let mut meta = nv_client("rp-app");
    meta["jwks"] = json!({"keys": [key.jwk]});
    meta["scopes"].as_array_mut().unwrap().push("dpv:IdentityVerification".into());
    meta["access_token_ttl_s"] = json!(120);
    meta["id_token_ttl_s"] = json!(60);
    let v = create_ok(&s, &meta).await;
    assert_eq!(v["source"], "store");
    assert!(v.get("client_secret").is_none() && v.get("client_secret_hash").is_none(), "{v}");

    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let provider = CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &http).await.unwrap();
    let scopes: Vec<String> = provider.scopes_supported().unwrap().iter().map(|s| s.as_str().to_owned()).collect();
    assert!(scopes.contains(&"dpv:IdentityVerification".to_owned()), "discovery follows the registry: {scopes:?}");
    let rp = CoreClient::from_provider_metadata(provider, ClientId::new("rp-app".into()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap())
        .set_auth_type(AuthType::RequestBody);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _csrf, nonce) = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new(PURPOSE.into()))
        .add_scope(Scope::new("number-verification:verify".into()))
        .add_prompt(CoreAuthPrompt::None)
        .set_pkce_challenge(challenge)
        .url();
    let o = read_outcome(device(DEVICE_1).get(url.as_str()).send().await.unwrap()).await;
    assert_eq!((o.status, o.get("error")), (302, None), "{:?} {}", o.location, o.body);
    let token = rp
        .exchange_code(AuthorizationCode::new(o.get("code").unwrap().to_owned()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .add_extra_param("client_assertion_type", ASSERTION_TYPE)
        .add_extra_param("client_assertion", assertion_for(&s, "rp-app", &key))
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"));
    assert_eq!(token.expires_in(), Some(Duration::from_secs(120)), "the client's access_token_ttl_s");
    let idv: CoreIdTokenVerifier =
        rp.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let id_token = token.id_token().expect("ID token");
    let claims = id_token.claims(&idv, &nonce).unwrap_or_else(|e| panic!("RP rejected the ID token: {e:?}"));
    assert!(claims.audiences().iter().any(|a| a.as_str() == "rp-app"));
    assert_eq!((claims.expiration() - claims.issue_time()).num_seconds(), 60, "the client's id_token_ttl_s");
    let at = jwt_part(token.access_token().secret(), 1);
    assert_eq!(at["client_id"], "rp-app");

    // Pairwise: another sector, another sub for the same subscriber (P-85).
    let demo = s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await;
    assert_eq!(jwt_part(demo.access_token(), 1)["sub"], at["sub"], "same sector (same redirect host) → same sub");

    // Removed: the client is gone everywhere on this instance at once.
    let (st, _, _) = admin_send(&s, reqwest::Method::DELETE, "/admin/clients/rp-app", None, Some(ADMIN)).await;
    assert_eq!(st, 204);
    let (st, _, _) = admin_send(&s, reqwest::Method::GET, "/admin/clients/rp-app", None, Some(ADMIN)).await;
    assert_eq!(st, 404);
    let form = with_assertion(
        vec![("grant_type".into(), "client_credentials".into()), ("scope".into(), PURPOSE.into())],
        &assertion_for(&s, "rp-app", &key),
    );
    assert_invalid_client(&s.token_raw(&form).await, "removed client");
    assert_error_page(&s.authorize(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY).set("client_id", "rp-app")).await);
    let (st, _, _) = admin_send(&s, reqwest::Method::DELETE, "/admin/clients/rp-app", None, Some(ADMIN)).await;
    assert_eq!(st, 404, "removing twice");
    s.stop().await;
}

/// `jwks_uri`: keys fetched from the client's URI (a loopback server, trusted in this test);
/// the client rotates its key at the URI and the next assertion's unknown `kid` refetches.
async fn jwks_uri_rotation(b: Backend) {
    let k1 = new_key("uri-k1");
    let k2 = new_key("uri-k2");
    let jwks = JwksServer::start(Serve::Jwks(json!({"keys": [k1.jwk]}))).await;
    let s = start_spec(Spec::new(b).tweak(trust_loopback)).await;
    let mut meta = nv_client("uri-app");
    meta["jwks_uri"] = json!(jwks.uri());
    create_ok(&s, &meta).await;

    let r = redeem_assertion(&s, "uri-app", &k1).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = redeem_assertion(&s, "uri-app", &k1).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 1, "keys are cached");

    jwks.serve.set(Serve::Jwks(json!({"keys": [k2.jwk]})));
    let r = redeem_assertion(&s, "uri-app", &k2).await;
    assert_eq!(r.status, 200, "rotated key found by refetch: {}", r.raw);
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 2);
    // The retired key no longer authenticates.
    assert_invalid_client(&redeem_assertion(&s, "uri-app", &k1).await, "key removed at the URI");
    s.stop().await;
}

/// `client_secret_basic` for a client configured for it, where secrets are allowed: the
/// generated secret is shown once and stored as an argon2 hash; a wrong secret is 401
/// `invalid_client` with `WWW-Authenticate` (P-91, RFC 6749 §5.2); other methods are refused.
async fn secret_basic_flow(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| c.clients_policy.allow_client_secrets = true)).await;
    let mut meta = nv_client("basic-app");
    meta["token_endpoint_auth_method"] = json!("client_secret_basic");
    let v = create_ok(&s, &meta).await;
    let secret = v["client_secret"].as_str().expect("a generated secret, shown once").to_owned();
    let (_, shown, _) = admin_send(&s, reqwest::Method::GET, "/admin/clients/basic-app", None, Some(ADMIN)).await;
    assert!(shown.get("client_secret").is_none() && shown.get("client_secret_hash").is_none(), "{shown}");
    assert!(!shown.to_string().contains(&secret));
    if b == Backend::Redis {
        let raw = s.store().get(numbat_store::keys::CLIENTS).await.unwrap().unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("$argon2id$") && !raw.contains(&secret), "only the hash is stored");
    }

    let req = nv_request("basic-app");
    let code = s.code_for(DEVICE_1, &req).await;
    let r = redeem_with(&s, &code, &req.verifier, &[], Some(("basic-app", &secret))).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let (st, v) = s.verify_number(r.access_token(), MSISDN_1).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");

    // Wrong secret: 401 with the Basic challenge.
    let req = nv_request("basic-app");
    let code = s.code_for(DEVICE_1, &req).await;
    let r = redeem_with(&s, &code, &req.verifier, &[], Some(("basic-app", &format!("{secret}x")))).await;
    assert_invalid_client(&r, "wrong secret");
    assert!(r.header("www-authenticate").is_some_and(|h| h.starts_with("Basic")), "{:?}", r.headers);
    // The right secret in the form: not this client's method.
    let r =
        redeem_with(&s, &code, &req.verifier, &[("client_id", "basic-app"), ("client_secret", &secret)], None).await;
    assert_invalid_client(&r, "client_secret_post for a basic client");
    // Discovery lists the secret methods because this server allows them.
    let meta: Value =
        s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let methods = meta["token_endpoint_auth_methods_supported"].as_array().unwrap();
    assert!(
        methods.contains(&json!("client_secret_basic")) && methods.contains(&json!("private_key_jwt")),
        "{methods:?}"
    );
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Memory-only scenarios
// ---------------------------------------------------------------------------------------------

/// P-88: a private_key_jwt client (demo-app) presenting a secret, by Basic or in the form, is
/// `invalid_client` even where secrets are allowed for other clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_88_private_key_jwt_client_trying_a_secret_is_invalid_client() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.clients_policy.allow_client_secrets = true)).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let secret = "a".repeat(40);
    let r = redeem_with(&s, &code, &req.verifier, &[], Some((CLIENT_ID, &secret))).await;
    assert_invalid_client(&r, "Basic for a private_key_jwt client");
    assert!(r.header("www-authenticate").is_some());
    let r = redeem_with(&s, &code, &req.verifier, &[("client_id", CLIENT_ID), ("client_secret", &secret)], None).await;
    assert_invalid_client(&r, "client_secret for a private_key_jwt client");
    // The code survived the failed authentications; the right method still works.
    assert_eq!(s.redeem(&code, &req.verifier).await.status, 200);
    s.stop().await;
}

/// P-88: where secrets are off (the default), no secret client can be registered and discovery
/// lists private_key_jwt alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_88_secret_clients_are_refused_when_secrets_are_off() {
    let s = start(Backend::Memory).await;
    let mut meta = nv_client("secret-app");
    meta["token_endpoint_auth_method"] = json!("client_secret_post");
    meta["client_secret"] = json!("x".repeat(40));
    let (st, v) = create(&s, &meta).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_client_metadata")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("P-88"), "{v}");
    let meta: Value =
        s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["token_endpoint_auth_methods_supported"], json!(["private_key_jwt"]));
    s.stop().await;
}

/// `client_secret_post` with an operator-chosen secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_secret_post_client_with_a_chosen_secret() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.clients_policy.allow_client_secrets = true)).await;
    let secret = random_b64(32);
    let mut meta = nv_client("post-app");
    meta["token_endpoint_auth_method"] = json!("client_secret_post");
    meta["client_secret"] = json!(secret);
    let v = create_ok(&s, &meta).await;
    assert!(v.get("client_secret").is_none(), "a chosen secret is not echoed");
    let req = nv_request("post-app");
    let code = s.code_for(DEVICE_1, &req).await;
    let r = redeem_with(
        &s,
        &code,
        &req.verifier,
        &[("client_id", "post-app"), ("client_secret", "wrong-secret-wrong-secret-wrong-secret")],
        None,
    )
    .await;
    assert_invalid_client(&r, "wrong post secret");
    assert!(r.header("www-authenticate").is_none(), "no HTTP auth attempted");
    let r = redeem_with(&s, &code, &req.verifier, &[("client_id", "post-app"), ("client_secret", &secret)], None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    s.stop().await;
}

/// Configuration clients are listed and shown, never changed or removed by the admin API.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn config_clients_are_read_only_and_the_api_needs_the_admin_token() {
    let s = start(Backend::Memory).await;
    let (st, v, _) = admin_send(&s, reqwest::Method::GET, "/admin/clients", None, Some(ADMIN)).await;
    assert_eq!(st, 200);
    let demo =
        v["clients"].as_array().unwrap().iter().find(|c| c["client_id"] == CLIENT_ID).expect("demo-app listed").clone();
    assert_eq!(demo["source"], "config");
    let (st, _, _) = admin_send(&s, reqwest::Method::DELETE, "/admin/clients/demo-app", None, Some(ADMIN)).await;
    assert_eq!(st, 409);
    let (st, _, _) =
        admin_send(&s, reqwest::Method::PUT, "/admin/clients/demo-app", Some(&nv_client(CLIENT_ID)), Some(ADMIN)).await;
    assert_eq!(st, 409);
    let mut m = nv_client(CLIENT_ID);
    m["jwks"] = json!({"keys": [new_key("x").jwk]});
    assert_eq!(create(&s, &m).await.0, 409);
    assert_eq!(
        s.redeem(&s.code_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await, "x").await.error(),
        Some("invalid_grant"),
        "demo-app intact"
    );

    for token in [None, Some("wrong"), Some("")] {
        for (method, path) in [
            (reqwest::Method::GET, "/admin/clients"),
            (reqwest::Method::GET, "/admin/clients/demo-app"),
            (reqwest::Method::DELETE, "/admin/clients/x"),
            (reqwest::Method::POST, "/admin/clients"),
        ] {
            let (st, v, h) = admin_send(&s, method.clone(), path, Some(&json!({})), token).await;
            assert_eq!(st, 401, "{method} {path} with {token:?}: {v}");
            assert!(h.get("www-authenticate").is_some());
        }
    }
    s.stop().await;
}

/// Hostile metadata: every one refused with an RFC 7591 error, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_client_metadata_is_refused() {
    let s = start(Backend::Memory).await;
    let good = {
        let mut m = nv_client("h-app");
        m["jwks"] = json!({"keys": [new_key("h").jwk]});
        m
    };
    let with = |k: &str, v: Value| {
        let mut m = good.clone();
        m[k] = v;
        m
    };
    let cases = [
        ("fragment redirect", with("redirect_uris", json!(["http://127.0.0.1:9999/cb#frag"])), "invalid_redirect_uri"),
        ("relative redirect", with("redirect_uris", json!(["/cb"])), "invalid_redirect_uri"),
        ("javascript redirect", with("redirect_uris", json!(["javascript:alert(1)"])), "invalid_redirect_uri"),
        ("unknown grant", with("grant_types", json!(["password"])), "invalid_client_metadata"),
        ("implicit grant", with("grant_types", json!(["implicit"])), "invalid_client_metadata"),
        ("non-DPV purpose (P-79)", with("scopes", json!(["openid", "dpv:MadeUp"])), "invalid_client_metadata"),
        ("unknown field", with("logo_uri", json!("https://x")), "invalid_client_metadata"),
        ("bad client id", with("client_id", json!("../../etc")), "invalid_client_metadata"),
        (
            "private key in jwks",
            with("jwks", json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})),
            "invalid_client_metadata",
        ),
        ("no keys", with("jwks", Value::Null), "invalid_client_metadata"),
        ("ttl above the server's", with("access_token_ttl_s", json!(100_000)), "invalid_client_metadata"),
        ("jwks_uri on loopback", with("jwks_uri", json!("https://127.0.0.1/jwks")), "invalid_client_metadata"),
        ("unknown auth method", with("token_endpoint_auth_method", json!("none")), "invalid_client_metadata"),
        ("secret on private_key_jwt", with("client_secret", json!("s".repeat(40))), "invalid_client_metadata"),
        ("not an object", json!(["client"]), "invalid_client_metadata"),
    ];
    for (name, body, error) in cases {
        let (st, v) = create(&s, &body).await;
        assert_eq!((st, v["error"].as_str()), (400, Some(error)), "{name}: {v}");
    }
    // jwks_uri with plain http or on loopback without the operator's say-so.
    let mut m = with("jwks", Value::Null);
    m["jwks_uri"] = json!("http://127.0.0.1:1/jwks");
    assert_eq!(create(&s, &m).await.0, 400, "loopback jwks_uri is refused unless trusted");
    // Oversized metadata: 413 before parsing.
    let big = with("scopes", json!(vec!["openid"; 20_000]));
    let (st, v) = create(&s, &big).await;
    assert_eq!((st, v["error"].as_str()), (413, Some("invalid_client_metadata")), "{v}");
    // Not JSON.
    let r = s
        .http
        .post(s.url("/admin/clients"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = s.http.post(s.url("/admin/clients")).bearer_auth(ADMIN).body(good.to_string()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "content type must be JSON");
    // Duplicates and unknown ids.
    create_ok(&s, &good).await;
    assert_eq!(create(&s, &good).await.0, 409);
    let (st, _, _) = admin_send(&s, reqwest::Method::PUT, "/admin/clients/nope", Some(&good), Some(ADMIN)).await;
    assert_eq!(st, 400, "client_id differs from the path");
    let mut other = good.clone();
    other.as_object_mut().unwrap().remove("client_id");
    let (st, _, _) = admin_send(&s, reqwest::Method::PUT, "/admin/clients/nope", Some(&other), Some(ADMIN)).await;
    assert_eq!(st, 404);
    // PUT replaces: narrower scopes apply at once.
    let mut narrower = good.clone();
    narrower["scopes"] = json!(["openid", PURPOSE]);
    let (st, v, _) = admin_send(&s, reqwest::Method::PUT, "/admin/clients/h-app", Some(&narrower), Some(ADMIN)).await;
    assert_eq!(st, 200, "{v}");
    let req = nv_request("h-app");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "invalid_scope");
    s.stop().await;
}

/// `jwks_uri` bounded in size and time: a huge JWKS and a URI that answers too slowly both end
/// in `invalid_client`, quickly; numbat stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jwks_uri_huge_or_slow_is_invalid_client() {
    let key = new_key("k");
    let huge = JwksServer::start(Serve::Huge(2 * 1024 * 1024)).await;
    let slow = JwksServer::start(Serve::Slow(Duration::from_secs(10))).await;
    let s = start_spec(Spec::new(Backend::Memory).tweak(trust_loopback)).await;
    for (id, srv) in [("huge-app", &huge), ("slow-app", &slow)] {
        let mut m = nv_client(id);
        m["jwks_uri"] = json!(srv.uri());
        create_ok(&s, &m).await;
        let t = Instant::now();
        assert_invalid_client(&redeem_assertion(&s, id, &key).await, id);
        assert!(t.elapsed() < Duration::from_secs(5), "{id} took {:?}", t.elapsed());
    }
    assert!(huge.hits.load(Ordering::SeqCst) >= 1 && slow.hits.load(Ordering::SeqCst) >= 1);
    s.stop().await;
}

/// Never to loopback unless allowed: the same loopback JWKS server as above, but not trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jwks_uri_to_loopback_is_refused_unless_allowed() {
    let key = new_key("k");
    let jwks = JwksServer::start(Serve::Jwks(json!({"keys": [key.jwk]}))).await;
    let s = start(Backend::Memory).await;
    let mut m = nv_client("loop-app");
    m["jwks_uri"] = json!(jwks.uri());
    let (st, v) = create(&s, &m).await;
    assert_eq!(st, 400, "{v}");
    m["jwks_uri"] = json!(jwks.uri().replace("http://", "https://"));
    assert_eq!(create(&s, &m).await.0, 400);
    m["jwks_uri"] = json!(format!("https://localhost:{}/jwks.json", jwks.addr.port()));
    assert_eq!(create(&s, &m).await.0, 400);
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 0, "nothing was fetched");
    s.stop().await;
}

/// A store client added on one instance reaches another through the store (Redis).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_clients_reach_every_instance() {
    let ns = RedisNamespace::new();
    let fast = |c: &mut numbat::Config| c.clients_policy.reload_s = 1;
    let a = start_spec(Spec::new(Backend::Redis).namespace(ns.clone()).tweak(fast)).await;
    let b = start_spec(Spec::new(Backend::Redis).namespace(ns.clone()).tweak(fast)).await;
    let key = new_key("multi");
    let mut m = nv_client("multi-app");
    m["jwks"] = json!({"keys": [key.jwk]});
    create_ok(&a, &m).await;
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let (st, _, _) = admin_send(&b, reqwest::Method::GET, "/admin/clients/multi-app", None, Some(ADMIN)).await;
        let o = b.authorize(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY).set("client_id", "multi-app")).await;
        if st == 200 && o.status == 302 {
            break;
        }
        assert!(Instant::now() < until, "instance b never saw the client");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(redeem_assertion(&b, "multi-app", &key).await.status, 200);
    let (st, _, _) = admin_send(&a, reqwest::Method::DELETE, "/admin/clients/multi-app", None, Some(ADMIN)).await;
    assert_eq!(st, 204);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_error_page(&b.authorize(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY).set("client_id", "multi-app")).await);
    a.stop().await;
    b.stop().await;
}

/// `numbat client add|list|show|remove` against a running server, as an operator would.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_client_add_list_show_remove() {
    let s = start(Backend::Memory).await;
    let dir = std::env::temp_dir().join(format!("numbat-clients-{}", random_b64(6)));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("client.json");
    let mut m = nv_client("cli-app");
    m["jwks"] = json!({"keys": [new_key("cli").jwk]});
    std::fs::write(&file, m.to_string()).unwrap();
    let base = s.base.clone();
    let run = move |args: Vec<String>| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_numbat"))
                .arg("client")
                .args(&args)
                .args(["--server", &base])
                .env("NUMBAT_ADMIN_TOKEN", ADMIN)
                .output()
                .expect("run numbat");
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
    };
    let (code, out, err) = run(vec!["add".into(), "--file".into(), file.display().to_string()]).await.unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("\"cli-app\""), "{out}");
    let (code, out, _) = run(vec!["list".into()]).await.unwrap();
    assert_eq!(code, Some(0));
    assert!(out.lines().any(|l| l.starts_with("cli-app\tstore\tprivate_key_jwt")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("demo-app\tconfig")), "{out}");
    let (code, out, _) = run(vec!["show".into(), "cli-app".into()]).await.unwrap();
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["redirect_uris"], json!([REDIRECT_URI]));
    let (code, _, err) = run(vec!["add".into(), "--file".into(), file.display().to_string()]).await.unwrap();
    assert_eq!(code, Some(1), "a second add is refused");
    assert!(err.contains("409"), "{err}");
    let (code, _, err) = run(vec!["remove".into(), "demo-app".into()]).await.unwrap();
    assert_eq!(code, Some(1), "configuration clients are read-only: {err}");
    let (code, out, _) = run(vec!["remove".into(), "cli-app".into()]).await.unwrap();
    assert_eq!(code, Some(0), "{out}");
    let (code, _, err) = run(vec!["show".into(), "cli-app".into()]).await.unwrap();
    assert_eq!(code, Some(1));
    assert!(err.contains("404"), "{err}");
    let (code, _, err) = run(vec!["show".into(), "../admin".into()]).await.unwrap();
    assert_eq!(code, Some(1), "{err}");
    std::fs::remove_dir_all(&dir).ok();
    s.stop().await;
}
