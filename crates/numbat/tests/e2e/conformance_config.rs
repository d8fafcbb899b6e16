//! Black-box check of the OpenID Foundation conformance setup in `conformance/`: numbat is started
//! from `conformance/numbat-conformance.toml` itself (through numbat's own config loader; only
//! the issuer becomes the loopback base URL and the store memory), and the `openidconnect` crate
//! plays the suite's OIDCC modules the way the suite does: discovery, `scope=openid` and nothing
//! else (the suite overwrites the client's scope), no PKCE, `state` + `nonce`, the device's
//! request from the address the conformance file binds, the code exchanged with the suite's
//! client authentication using the credentials of the suite's plan configs
//! (`oidcc-basic-private_key_jwt.json`: PRIVATE keys; `oidcc-basic-client_secret.json`: secrets),
//! the ID token verified by the crate, then userinfo with the access token.
//!
//! When numbat changes in a way that breaks a conformance run (a purpose rule, client
//! authentication, userinfo, discovery), this test fails instead of the README going stale.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use numbat::{Config, Options};
use openidconnect::core::{
    CoreClient, CoreIdTokenVerifier, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, RedirectUrl, TokenResponse,
};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The purpose the conformance file adds to the suite's `scope=openid` (default_purpose).
const PURPOSE: &str = "dpv:FraudPreventionAndDetection";
/// The test subscriber the conformance file binds to the proxy's address.
const TEST_MSISDN: &str = "+34600000042";
/// A loopback address the conformance file does not bind.
const UNBOUND: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

fn conformance_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance").join(name)
}

fn plan_config(name: &str) -> Value {
    let path = conformance_file(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load_conformance_config() -> Config {
    let path = conformance_file("numbat-conformance.toml");
    let cfg = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    cfg.validate().unwrap_or_else(|e| panic!("{} does not validate: {e}", path.display()));
    cfg
}

/// numbat as configured by the conformance file, on a loopback port.
struct Server {
    base: String,
    running: Option<numbat::Running>,
}

impl Server {
    async fn start(mut cfg: Config) -> Server {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let base = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
        cfg.server.issuer = base.clone();
        cfg.store.url = "memory".into();
        let running = numbat::start(cfg, Options { listener: Some(l), ..Options::default() })
            .await
            .unwrap_or_else(|e| panic!("numbat refused conformance/numbat-conformance.toml: {e}"));
        Server { base, running: Some(running) }
    }

    async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// The address the conformance file binds for a proxy on numbat's own host: the suite's
/// "device" as numbat sees it. The test's device connects from there.
fn bound_loopback(cfg: &Config) -> IpAddr {
    let bound: Vec<(IpAddr, &str)> = cfg
        .ingress
        .static_bindings
        .iter()
        .map(|b| (b.address.parse::<IpAddr>().expect("binding address"), b.msisdn.as_str()))
        .collect();
    let (ip, msisdn) =
        bound.iter().find(|(ip, _)| ip.is_loopback()).copied().expect("the conformance file binds a loopback address");
    assert_eq!(ip, IpAddr::V4(Ipv4Addr::LOCALHOST), "README: a proxy on numbat's host connects from 127.0.0.1");
    assert_eq!(msisdn, TEST_MSISDN);
    assert!(
        bound.iter().any(|(ip, _)| *ip == IpAddr::V4(Ipv4Addr::new(172, 29, 0, 10))),
        "the Caddy container of compose.yaml (172.29.0.10) is bound too"
    );
    assert!(!bound.iter().any(|(ip, _)| *ip == UNBOUND));
    ip
}

fn device(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("device client")
}

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("RP client")
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A `private_key_jwt` assertion signed with a plan config's PRIVATE JWK (EC P-256, ES256),
/// with `ring` directly: independent of numbat's JOSE code.
fn client_assertion(jwk: &Value, client_id: &str, aud: &str) -> String {
    let b64 = |k: &str| URL_SAFE_NO_PAD.decode(jwk[k].as_str().unwrap_or_else(|| panic!("JWK without {k}"))).unwrap();
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")), "{jwk}");
    let mut public = vec![4u8];
    public.extend(b64("x"));
    public.extend(b64("y"));
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &b64("d"),
        &public,
        &rng,
    )
    .expect("the plan config's private JWK is a valid P-256 key pair");
    let header = json!({"alg": "ES256", "kid": jwk["kid"], "typ": "JWT"});
    let t = now();
    let mut jti = [0u8; 16];
    ring::rand::SecureRandom::fill(&rng, &mut jti).unwrap();
    let claims = json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": t, "exp": t + 60,
        "jti": URL_SAFE_NO_PAD.encode(jti)});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(&rng, input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// How a suite client authenticates at the token endpoint.
#[derive(Clone)]
enum Auth {
    PrivateKeyJwt(Value),
    SecretBasic(String),
    SecretPost(String),
}

/// One suite client, as a plan config names it.
#[derive(Clone)]
struct SuiteClient {
    label: String,
    client_id: String,
    auth: Auth,
}

fn suite_client(label: &str, c: &Value, method: &str) -> SuiteClient {
    let client_id = c["client_id"].as_str().unwrap_or_else(|| panic!("{label}: client_id")).to_owned();
    let secret = || c["client_secret"].as_str().unwrap_or_else(|| panic!("{label}: client_secret")).to_owned();
    let auth = match method {
        "private_key_jwt" => {
            let keys = c["jwks"]["keys"].as_array().unwrap_or_else(|| panic!("{label}: jwks"));
            assert_eq!(keys.len(), 1, "{label}: one key");
            Auth::PrivateKeyJwt(keys[0].clone())
        }
        "client_secret_basic" => Auth::SecretBasic(secret()),
        "client_secret_post" => Auth::SecretPost(secret()),
        m => panic!("{m}"),
    };
    SuiteClient { label: label.to_owned(), client_id, auth }
}

/// The files agree with each other: discovery URL = issuer, the plan configs' clients are
/// registered with the method their plan uses, the private keys match the registered public
/// ones, and the redirect URIs carry the plan's alias.
fn check_files_agree(cfg: &Config, plans: &[(&str, &Value)], clients: &[SuiteClient]) {
    for (name, plan) in plans {
        assert_eq!(
            plan["server"]["discoveryUrl"].as_str(),
            Some(format!("{}/.well-known/openid-configuration", cfg.server.issuer).as_str()),
            "{name}: server.discoveryUrl must be the conformance file's issuer"
        );
        let alias = plan["alias"].as_str().expect("alias");
        for c in clients.iter().filter(|c| c.label.starts_with(name)) {
            let reg = cfg.clients.iter().find(|r| r.client_id == c.client_id);
            let reg = reg.unwrap_or_else(|| panic!("{}: {} is not in numbat-conformance.toml", c.label, c.client_id));
            assert!(
                reg.redirect_uris.iter().all(|u| u.ends_with(&format!("/test/a/{alias}/callback"))),
                "{}: redirect URIs must use the plan alias {alias}",
                c.label
            );
            assert_eq!(reg.default_purpose.as_deref(), Some(PURPOSE), "{}: the suite sends scope=openid only", c.label);
            assert!(!reg.require_pkce, "{}: the OIDCC modules send no PKCE", c.label);
            assert_eq!(reg.id_token_signed_response_alg, "RS256", "{}", c.label);
            let method = match &c.auth {
                Auth::PrivateKeyJwt(private) => {
                    let jwks = match reg.jwks.as_ref().expect("registered jwks") {
                        Value::String(s) => serde_json::from_str::<Value>(s).unwrap(),
                        v => v.clone(),
                    };
                    let public = &jwks["keys"][0];
                    for k in ["kid", "kty", "crv", "x", "y"] {
                        assert_eq!(public[k], private[k], "{}: registered public JWK {k}", c.label);
                    }
                    assert!(public.get("d").is_none(), "{}: only the public key in numbat's config", c.label);
                    "private_key_jwt"
                }
                Auth::SecretBasic(_) => "client_secret_basic",
                Auth::SecretPost(_) => "client_secret_post",
            };
            assert_eq!(reg.token_endpoint_auth_method, method, "{}", c.label);
        }
    }
}

/// Discovery as the suite reads it: what decides which modules run or are skipped.
async fn check_discovery(s: &Server) {
    let meta: Value = reqwest::get(format!("{}/.well-known/openid-configuration", s.base))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery JSON");
    assert_eq!(
        meta["userinfo_endpoint"],
        json!(format!("{}/userinfo", s.base)),
        "userinfo is mandatory for certification"
    );
    let methods = meta["token_endpoint_auth_methods_supported"].as_array().expect("auth methods");
    for m in ["private_key_jwt", "client_secret_basic", "client_secret_post"] {
        assert!(methods.contains(&json!(m)), "{m} in token_endpoint_auth_methods_supported: {meta}");
    }
    let algs = meta["id_token_signing_alg_values_supported"].as_array().expect("algs");
    assert!(algs.contains(&json!("RS256")), "{meta}");
    assert!(!algs.contains(&json!("none")), "README: oidcc-idtoken-unsigned is skipped");
    assert!(!meta["request_object_signing_alg_values_supported"].as_array().unwrap().contains(&json!("none")));
    let scopes = meta["scopes_supported"].as_array().expect("scopes_supported");
    // README: refresh modules are skipped (no offline_access), scope modules are skipped.
    for absent in ["offline_access", "profile", "email", "address", "phone"] {
        assert!(!scopes.contains(&json!(absent)), "README expects {absent} not in scopes_supported: {scopes:?}");
    }
    assert_eq!(meta["request_uri_parameter_supported"], json!(false));
    assert_eq!(meta["subject_types_supported"], json!(["pairwise"]));
}

/// One OIDCC "oidcc-server" round as the suite plays it. Returns the ID token's `sub`.
async fn suite_round(
    s: &Server,
    meta: &CoreProviderMetadata,
    c: &SuiteClient,
    from: IpAddr,
    code_reuse: bool,
) -> (String, i64) {
    let label = c.label.as_str();
    let http = rp_http();
    let redirect = "https://localhost.emobix.co.uk:8443/test/a/numbat/callback";
    let (secret, auth_type) = match &c.auth {
        Auth::PrivateKeyJwt(_) => (None, AuthType::RequestBody),
        Auth::SecretBasic(x) => (Some(ClientSecret::new(x.clone())), AuthType::BasicAuth),
        Auth::SecretPost(x) => (Some(ClientSecret::new(x.clone())), AuthType::RequestBody),
    };
    let client = CoreClient::from_provider_metadata(meta.clone(), ClientId::new(c.client_id.clone()), secret)
        .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap())
        .set_auth_type(auth_type);

    // The crate adds `openid` itself; nothing else, no PKCE: exactly the suite's request.
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let q: Vec<(String, String)> = auth_url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert!(q.contains(&("scope".into(), "openid".into())), "{label}: {auth_url}");
    assert!(!q.iter().any(|(k, _)| k.starts_with("code_challenge")), "{label}: no PKCE");

    let r = device(from).get(auth_url.as_str()).send().await.expect("GET /authorize");
    assert_eq!(r.status().as_u16(), 302, "{label}: {:?}", r.text().await);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).expect("Location");
    assert!(location.as_str().starts_with(redirect), "{label}: {location}");
    let back: std::collections::HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(back.get("error"), None, "{label}: {location}");
    assert_eq!(back.get("state"), Some(csrf.secret()), "{label}: state");
    assert_eq!(back.get("iss"), Some(&s.base), "{label}: RFC 9207 iss");
    let code = back.get("code").unwrap_or_else(|| panic!("{label}: no code in {location}")).clone();

    let exchange = |code: String| {
        let mut req = client.exchange_code(AuthorizationCode::new(code)).expect("token endpoint from discovery");
        if let Auth::PrivateKeyJwt(jwk) = &c.auth {
            // The suite's assertion: aud = the token endpoint.
            let aud = format!("{}/token", s.base);
            req = req
                .add_extra_param("client_assertion_type", ASSERTION_TYPE)
                .add_extra_param("client_assertion", client_assertion(jwk, &c.client_id, &aud));
        }
        req
    };
    let token = exchange(code.clone())
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("{label}: code exchange failed: {e:?}"));
    let granted: Vec<String> =
        token.scopes().expect("scope in the token response").iter().map(|s| s.to_string()).collect();
    assert!(
        granted.contains(&"openid".to_owned()) && granted.contains(&PURPOSE.to_owned()),
        "{label}: default_purpose {granted:?}"
    );
    assert!(token.refresh_token().is_none(), "{label}: no offline_access, no refresh token");

    let verifier: CoreIdTokenVerifier =
        client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let id_token = token.id_token().unwrap_or_else(|| panic!("{label}: an ID token for openid"));
    assert_eq!(
        id_token.signing_alg().unwrap(),
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        "{label}: registered RS256"
    );
    let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("{label}: ID token rejected: {e:?}"));
    assert_eq!(claims.issuer().as_str(), s.base);
    assert!(claims.audiences().iter().any(|a| **a == c.client_id), "{label}: aud");
    assert_eq!(claims.nonce().map(|n| n.secret().as_str()), Some(nonce.secret().as_str()), "{label}: nonce");
    let auth_time = claims.auth_time().unwrap_or_else(|| panic!("{label}: auth_time")).timestamp();
    let expected_hash = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).expect("signing key"),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "{label}: at_hash");
    let amr: Vec<String> = claims.auth_method_refs().expect("amr").iter().map(|a| a.to_string()).collect();
    assert_eq!(amr, vec!["nba".to_owned()], "{label}: network-based authentication");
    let sub = claims.subject().to_string();
    assert!(!sub.contains("600000042"), "{label}: pairwise sub {sub}");

    // Userinfo (oidcc-userinfo-get, then -post-header): sub only (no phone scope), and reading
    // it twice spends nothing.
    for _ in 0..2 {
        let info: CoreUserInfoClaims = client
            .user_info(token.access_token().clone(), Some(claims.subject().clone()))
            .expect("userinfo endpoint from discovery")
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{label}: userinfo failed: {e:?}"));
        assert_eq!(info.subject(), claims.subject(), "{label}");
        assert!(info.phone_number().is_none(), "{label}: no phone scope, legitimate_interest");
    }
    let post = reqwest::Client::new()
        .post(format!("{}/userinfo", s.base))
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .expect("POST /userinfo");
    assert_eq!(post.status().as_u16(), 200, "{label}: oidcc-userinfo-post-header");
    let body: Value = post.json().await.unwrap();
    assert_eq!(body, json!({"sub": sub}), "{label}");

    if code_reuse {
        // oidcc-codereuse(-30seconds): the replay is refused and the first token dies with it.
        let replay = exchange(code).request_async(&http).await;
        let err = format!("{:?}", replay.expect_err("a replayed code must be refused"));
        assert!(err.contains("invalid_grant") || err.contains("InvalidGrant"), "{label}: {err}");
        let r = reqwest::Client::new()
            .get(format!("{}/userinfo", s.base))
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{label}: the token of a replayed code is revoked");
    }
    (sub, auth_time)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_files_run_the_suites_code_flow_with_both_plans() {
    let cfg = load_conformance_config();
    assert!(cfg.clients_policy.allow_client_secrets, "the Basic OP plan needs client secrets");
    let device_ip = bound_loopback(&cfg);

    let pkjwt = plan_config("oidcc-basic-private_key_jwt.json");
    let basic = plan_config("oidcc-basic-client_secret.json");
    let post_override = &basic["override"]["oidcc-server-client-secret-post"]["client"];
    let clients = vec![
        suite_client("oidcc-basic-private_key_jwt.json client", &pkjwt["client"], "private_key_jwt"),
        suite_client("oidcc-basic-private_key_jwt.json client2", &pkjwt["client2"], "private_key_jwt"),
        suite_client("oidcc-basic-client_secret.json client", &basic["client"], "client_secret_basic"),
        suite_client("oidcc-basic-client_secret.json client2", &basic["client2"], "client_secret_basic"),
        suite_client(
            "oidcc-basic-client_secret.json override oidcc-server-client-secret-post",
            post_override,
            "client_secret_post",
        ),
    ];
    check_files_agree(
        &cfg,
        &[("oidcc-basic-private_key_jwt.json", &pkjwt), ("oidcc-basic-client_secret.json", &basic)],
        &clients,
    );

    let s = Server::start(cfg).await;
    check_discovery(&s).await;
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &rp_http())
        .await
        .unwrap_or_else(|e| panic!("openidconnect could not discover numbat: {e:?}"));

    let mut subs = Vec::new();
    let mut auth_times = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let (sub, auth_time) = suite_round(&s, &meta, c, device_ip, i == 0 || i == 2).await;
        subs.push(sub);
        auth_times.push(auth_time);
    }
    // One sector for all suite clients: the same subscriber has the same pairwise sub.
    assert!(subs.windows(2).all(|w| w[0] == w[1]), "one sector_identifier, one sub: {subs:?}");
    // CheckIdTokenAuthTimeClaimsSameIfPresent (oidcc-prompt-none-logged-in, -id-token-hint,
    // -max-age-10000): one data session of the device, one authentication time.
    assert!(auth_times.windows(2).all(|w| w[0] == w[1]), "one session, one auth_time: {auth_times:?}");
    s.stop().await;
}

/// A wrong secret or an assertion signed with the other client's key is `invalid_client`; a
/// secret client cannot switch methods (the reason the Basic plan's client_secret_post module
/// gets its own client through the plan's override).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_clients_authenticate_only_as_registered() {
    let cfg = load_conformance_config();
    let device_ip = bound_loopback(&cfg);
    let pkjwt = plan_config("oidcc-basic-private_key_jwt.json");
    let basic = plan_config("oidcc-basic-client_secret.json");
    assert_eq!(cfg.admin.token, "conformance-only-admin-token", "README's binding recipe uses this token");
    let admin_token = cfg.admin.token.clone();
    let s = Server::start(cfg).await;
    let redirect = "https://localhost.emobix.co.uk:8443/test/a/numbat/callback";

    let code_for = |client_id: &str| {
        let url = format!(
            "{}/authorize?response_type=code&scope=openid&client_id={client_id}&redirect_uri={}&state=s1&nonce=n1",
            s.base,
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        );
        async move {
            let r = device(device_ip).get(url).send().await.unwrap();
            let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
            loc.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no code: {loc}"))
        }
    };
    let token = |form: Vec<(&'static str, String)>, basic_auth: Option<(String, String)>| {
        let mut req = reqwest::Client::new().post(format!("{}/token", s.base)).form(&form);
        if let Some((u, p)) = basic_auth {
            req = req.basic_auth(u, Some(p));
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let grant = |code: String| {
        vec![("grant_type", "authorization_code".to_owned()), ("code", code), ("redirect_uri", redirect.to_owned())]
    };

    // client_secret_basic client, wrong secret.
    let id = basic["client"]["client_id"].as_str().unwrap().to_owned();
    let code = code_for(&id).await;
    let (st, v) = token(grant(code), Some((id.clone(), "TEST-ONLY-wrong-secret-0123456789abcdefghij".into()))).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("invalid_client")), "{v}");

    // The same client with its right secret, but in the body (client_secret_post).
    let code = code_for(&id).await;
    let mut form = grant(code);
    form.push(("client_id", id.clone()));
    form.push(("client_secret", basic["client"]["client_secret"].as_str().unwrap().to_owned()));
    let (st, v) = token(form, None).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("invalid_client")), "{v}");

    // private_key_jwt client 1 with client 2's key.
    let id = pkjwt["client"]["client_id"].as_str().unwrap().to_owned();
    let code = code_for(&id).await;
    let mut form = grant(code);
    form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
    form.push((
        "client_assertion",
        client_assertion(&pkjwt["client2"]["jwks"]["keys"][0], &id, &format!("{}/token", s.base)),
    ));
    let (st, v) = token(form, None).await;
    assert_eq!((st, v["error"].as_str()), (401, Some("invalid_client")), "{v}");

    // oidcc-prompt-none-not-logged-in: from an address the file does not bind, login_required
    // (the README's recipe for that module removes the proxy's binding for exactly this).
    let url = format!(
        "{}/authorize?response_type=code&scope=openid&client_id={id}&redirect_uri={}&state=s2&nonce=n2&prompt=none",
        s.base,
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    let prompt_none_error = |from: IpAddr| {
        let url = url.clone();
        async move {
            let r = device(from).get(url).send().await.unwrap();
            let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
            let back: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
            assert_eq!(back.get("state").map(String::as_str), Some("s2"), "{loc}");
            back.get("error").cloned()
        }
    };
    assert_eq!(prompt_none_error(UNBOUND).await.as_deref(), Some("login_required"));
    // The bound device is "logged in" (the module fails with the binding in place) ...
    assert_eq!(prompt_none_error(device_ip).await, None);
    // ... until the README's recipe deletes the binding through the admin API
    // (`numbat bindings delete --ip ... --admin-token conformance-only-admin-token`).
    let r = reqwest::Client::new()
        .delete(format!("{}/admin/bindings", s.base))
        .bearer_auth(&admin_token)
        .query(&[("ip", device_ip.to_string())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "DELETE /admin/bindings: {} {:?}", r.status(), r.text().await);
    assert_eq!(prompt_none_error(device_ip).await.as_deref(), Some("login_required"));
    s.stop().await;
}
