//! Further CAMARA profile rules seen from outside: P-07 (the negotiated flow is enforced), P-09
//! (a DPoP header never makes a non-DPoP server fail), RFC 6749 error-parameter syntax, S-03
//! `auth_time` with `max_age`.


use crate::common::*;
use numbat::Config;
use serde_json::{json, Value};

const CC_APP: &str = "cc-app";
const CC_REDIRECT: &str = "http://127.0.0.1:9999/cc";

/// The dev config plus `cc-app`: same keys, registered for client credentials only.
async fn with_cc_app() -> TestServer {
    start_spec(Spec::new(Backend::Memory).tweak(|c: &mut Config| {
        let mut cc = c.clients[0].clone();
        cc.client_id = CC_APP.into();
        cc.redirect_uris = vec![CC_REDIRECT.into()];
        cc.grant_types = vec!["client_credentials".into()];
        c.clients.push(cc);
    }))
    .await
}

/// P-07 / E-AZ-02: a client onboarded without the authorization code flow gets
/// `unauthorized_client` at its (verified) redirect URI.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_07_e_az_02_client_without_code_flow_is_unauthorized_client() {
    let s = with_cc_app().await;
    let req = AuthRequest::new(SCOPE_VERIFY).set("client_id", CC_APP).set("redirect_uri", CC_REDIRECT);
    let o = s.authorize(DEVICE_1, &req).await;
    assert_eq!(o.status, 302, "{}", o.body);
    assert!(o.location.as_ref().unwrap().as_str().starts_with(CC_REDIRECT), "{:?}", o.location);
    assert_eq!(o.get("error"), Some("unauthorized_client"), "{:?}", o.location);
    assert_eq!(o.get("state"), Some(req.state.as_str()));
    assert_eq!(o.get("iss"), Some(s.base.as_str()));
    assert_eq!(o.get("code"), None);
    // E-AZ-00: demo-app's redirect URI is not cc-app's, and the other way round.
    let req = AuthRequest::new(SCOPE_VERIFY).set("client_id", CC_APP);
    assert_error_page(&s.authorize(DEVICE_1, &req).await);
    let req = AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", CC_REDIRECT);
    assert_error_page(&s.authorize(DEVICE_1, &req).await);
    s.stop().await;
}

/// P-07 / E-TK-02: cc-app redeeming a (demo-app) code with the authorization_code grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_07_e_tk_02_authorization_code_grant_for_a_client_without_it() {
    let s = with_cc_app().await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let mut claims = s.assertion_claims();
    claims["iss"] = CC_APP.into();
    claims["sub"] = CC_APP.into();
    let r = s.token_raw(&with_assertion(code_form(&code, &req.verifier), &sign_client_jwt(&claims))).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(matches!(r.error(), Some("unauthorized_client" | "invalid_grant")), "{}", r.raw);
    assert!(r.json.get("access_token").is_none());
    s.stop().await;
}

/// A DPoP proof for the token endpoint, signed with a fresh P-256 key (RFC 9449 §4.2).
fn dpop_proof(htu: &str, iat: i64) -> String {
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let public = kp.public_key().as_ref();
    let jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64url(&public[1..33]), "y": b64url(&public[33..65]) });
    let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": jwk });
    let claims = json!({ "jti": random_b64(16), "htm": "POST", "htu": htu, "iat": iat });
    let input =
        format!("{}.{}", b64url(&serde_json::to_vec(&header).unwrap()), b64url(&serde_json::to_vec(&claims).unwrap()));
    let sig = kp.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", b64url(sig.as_ref()))
}

/// P-09 / P-12: a token request carrying a valid `DPoP` proof never fails because of it. Without
/// DPoP support (nothing in the metadata) the answer is a Bearer token; with support it may be a
/// DPoP-bound token or, the server's choice, a Bearer one (P-09).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_09_p_12_dpop_header_never_fails_the_token_request() {
    let s = start(Backend::Memory).await;
    let meta: Value = s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let supported = meta.get("dpop_signing_alg_values_supported").is_some();
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let form = with_assertion(code_form(&code, &req.verifier), &s.assertion());
    let r = read_token_reply(
        s.http
            .post(s.token_endpoint())
            .header("DPoP", dpop_proof(&s.token_endpoint(), s.now()))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "P-09: a DPoP header must not fail the request: {}", r.raw);
    let token_type = r.json["token_type"].as_str().unwrap_or_default();
    if !supported {
        assert_eq!(token_type, "Bearer", "P-12: no DPoP support, so a Bearer token");
    } else {
        assert!(matches!(token_type, "Bearer" | "DPoP"), "token_type {token_type}");
    }
    if token_type == "Bearer" {
        let (st, v) = s.verify_number(r.access_token(), MSISDN_1).await;
        assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    }
    s.stop().await;
}

/// RFC 6749 §4.1.2.1 / §5.2: `error_description` values use only %x20-21 / %x23-5B / %x5D-7E.
fn assert_description_charset(what: &str, d: Option<&str>) {
    if let Some(d) = d {
        let bad: Vec<char> =
            d.chars().filter(|c| !matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)).collect();
        assert!(bad.is_empty(), "{what}: error_description {d:?} has characters RFC 6749 forbids: {bad:?}");
    }
}

/// A request may repeat a parameter with any name; the error must still be well-formed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_az_01_e_tk_01_error_description_keeps_the_rfc_6749_charset() {
    let s = start(Backend::Memory).await;
    for name in ["x\"y", "back\\slash", "caf\u{e9}", "new\nline", "tab\there"] {
        let req = AuthRequest::new(SCOPE_VERIFY).add(name, "1").add(name, "2");
        let o = s.authorize(DEVICE_1, &req).await;
        assert_redirect_error(&s, &o, &req, "invalid_request");
        assert_description_charset(&format!("/authorize, {name:?} repeated"), o.get("error_description"));

        let req = AuthRequest::new(SCOPE_VERIFY);
        let code = s.code_for(DEVICE_1, &req).await;
        let mut form = with_assertion(code_form(&code, &req.verifier), &s.assertion());
        form.push((name.into(), "1".into()));
        form.push((name.into(), "2".into()));
        let r = s.token_raw(&form).await;
        assert_eq!((r.status, r.error()), (400, Some("invalid_request")), "{}", r.raw);
        assert_description_charset(&format!("/token, {name:?} repeated"), r.json["error_description"].as_str());
    }
    s.stop().await;
}

/// S-03: `auth_time` when `max_age` was requested; a malformed `max_age` is `invalid_request`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_03_max_age_gives_auth_time() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY).set("max_age", "0");
    let r = s.token_reply_for(DEVICE_1, &req).await;
    let c = jwt_part(r.json["id_token"].as_str().unwrap(), 1);
    let auth_time = c["auth_time"].as_i64().unwrap_or_else(|| panic!("no auth_time with max_age: {c}"));
    assert!((auth_time - s.now()).abs() <= 5, "auth_time {auth_time}");
    for bad in ["-1", "soon", "1.5"] {
        let req = AuthRequest::new(SCOPE_VERIFY).set("max_age", bad);
        let o = s.authorize(DEVICE_1, &req).await;
        assert_redirect_error(&s, &o, &req, "invalid_request");
    }
    s.stop().await;
}

async fn id_token_auth_time(s: &TestServer, req: &AuthRequest) -> i64 {
    let r = s.token_reply_for(DEVICE_1, req).await;
    let c = jwt_part(r.json["id_token"].as_str().expect("id_token"), 1);
    c["auth_time"].as_i64().unwrap_or_else(|| panic!("no auth_time: {c}"))
}

/// S-02, S-03 (OIDC Core §2, §3.1.2.1): `auth_time` is the network's authentication of the data
/// session, stable across authorizations of the session (what the OIDF modules
/// `oidcc-prompt-none-logged-in`, `oidcc-id-token-hint` and `oidcc-max-age-10000` compare); a
/// `max_age` that has run out, or `prompt=login`, is a fresh authentication by this request, and
/// later `max_age` requests measure from it. On both stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_03_auth_time_is_the_sessions_authentication_and_max_age_refreshes_it() {
    for backend in [Backend::Memory, Backend::Redis] {
        let s = start(backend).await;
        let plain = || AuthRequest::new(SCOPE_VERIFY);
        let session = id_token_auth_time(&s, &plain()).await;
        assert!(session <= s.now(), "{backend:?}: auth_time {session} is not in the future");
        assert_eq!(id_token_auth_time(&s, &plain().set("prompt", "none")).await, session, "{backend:?}: prompt=none");

        s.clock.advance(100);
        for max_age in ["15000", "10000"] {
            let got = id_token_auth_time(&s, &plain().set("max_age", max_age)).await;
            assert_eq!(got, session, "{backend:?}: max_age={max_age} has not run out");
        }
        let fresh = id_token_auth_time(&s, &plain().set("max_age", "50")).await;
        assert!(fresh >= session + 100 && fresh <= s.now(), "{backend:?}: max_age=50 ran out: a fresh auth_time, got {fresh}");
        s.clock.advance(30);
        let again = id_token_auth_time(&s, &plain().set("max_age", "50")).await;
        assert_eq!(again, fresh, "{backend:?}: measured from the re-authentication, 30 s ago");

        s.clock.advance(5);
        // P-22: on a Number Verification request the implied prompt=none overrides login...
        let nv_login = id_token_auth_time(&s, &plain().set("prompt", "login")).await;
        assert_eq!(nv_login, session, "{backend:?}: prompt=login on Number Verification");
        // ...while on a plain OIDC request prompt=login is a fresh authentication.
        let oidc = AuthRequest::new("openid dpv:FraudPreventionAndDetection").set("prompt", "login");
        let login = id_token_auth_time(&s, &oidc).await;
        assert!(login >= fresh + 35 && login <= s.now(), "{backend:?}: prompt=login is a fresh authentication, got {login}");
        s.stop().await;
    }
}

/// S-03: a client that registered no `id_token_signed_response_alg` gets RS256 ID tokens, which
/// verify against the published JWKS; access tokens stay ES256.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_03_default_client_gets_rs256_id_tokens() {
    const RS_REDIRECT: &str = "http://127.0.0.1:9999/rs";
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c: &mut Config| {
        let mut rs = c.clients[0].clone();
        rs.client_id = "rs-app".into();
        rs.redirect_uris = vec![RS_REDIRECT.into()];
        rs.id_token_signed_response_alg = "RS256".into();
        c.clients.push(rs);
    }))
    .await;
    let req = AuthRequest::new(SCOPE_VERIFY).set("client_id", "rs-app").set("redirect_uri", RS_REDIRECT);
    let o = s.authorize(DEVICE_1, &req).await;
    let code = o.get("code").unwrap_or_else(|| panic!("no code: {:?} {}", o.location, o.body)).to_owned();
    let mut claims = s.assertion_claims();
    claims["iss"] = "rs-app".into();
    claims["sub"] = "rs-app".into();
    let mut form = code_form(&code, &req.verifier);
    form.retain(|(k, _)| k != "redirect_uri");
    form.push(("redirect_uri".into(), RS_REDIRECT.into()));
    let r = s.token_raw(&with_assertion(form, &sign_client_jwt(&claims))).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.json["id_token"].as_str().unwrap();
    let h = jsonwebtoken::decode_header(id).unwrap();
    assert_eq!(h.alg, jsonwebtoken::Algorithm::RS256);
    let set: jsonwebtoken::jwk::JwkSet = s.http.get(s.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let jwk = set.find(h.kid.as_deref().expect("kid")).expect("RS256 kid in the JWKS");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["rs-app"]);
    v.set_issuer(&[s.base.as_str()]);
    jsonwebtoken::decode::<Value>(id, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
        .expect("RS256 ID token verifies");
    assert_eq!(jwt_part(r.access_token(), 0)["alg"], "ES256");
    s.stop().await;
}
