//! Token-endpoint errors of the authorization-code grant and of the request itself
//! (camara-profile.md §15.3: E-TK-01..05, E-TK-10; S-02 code replay; S-12). Client
//! authentication errors are in `client_auth.rs`. Every error is JSON with `error` and
//! `Cache-Control: no-store`.


use crate::common::*;
use numbat::Config;

both_backends! {
    s_02_e_tk_10_replayed_code_is_invalid_grant_and_revokes_the_token => replayed_code;
    e_tk_10_code_expired_after_61_s => code_expired;
}

/// Status, JSON `error`, `Cache-Control: no-store`, and no token.
fn assert_token_error(r: &TokenReply, status: u16, errors: &[&str], what: &str) {
    assert_eq!(r.status, status, "{what}: {} {}", r.status, r.raw);
    let e = r.error().unwrap_or_else(|| panic!("{what}: no JSON error in {}", r.raw));
    assert!(errors.contains(&e), "{what}: error {e}, expected one of {errors:?} ({})", r.raw);
    let cc = r.header("cache-control").unwrap_or_default();
    assert!(cc.contains("no-store"), "{what}: Cache-Control {cc:?}");
    assert!(r.json.get("access_token").is_none(), "{what}: a token with an error");
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{what}: content type {ct}");
}

async fn replayed_code(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let first = s.redeem(&code, &req.verifier).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    let token = first.access_token().to_owned();

    let second = s.redeem(&code, &req.verifier).await;
    assert_token_error(&second, 400, &["invalid_grant"], "replayed code");
    // RFC 6749 §4.1.2 (S-02): the token from the first redemption is revoked.
    let (st, v) = s.verify_number(&token, MSISDN_1).await;
    assert_unauthenticated(st, &v);
    // A third attempt is refused as well.
    let third = s.redeem(&code, &req.verifier).await;
    assert_token_error(&third, 400, &["invalid_grant"], "code used a third time");
    s.stop().await;
}

async fn code_expired(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    s.clock.advance(61);
    // The assertion is made at the server's (advanced) time, so only the code is stale.
    let r = s.redeem(&code, &req.verifier).await;
    assert_token_error(&r, 400, &["invalid_grant"], "code redeemed after 61 s");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_10_code_just_under_60_s_is_still_good() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    s.clock.advance(55);
    let r = s.redeem(&code, &req.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_10_p_36_wrong_code_verifier_is_invalid_grant() {
    let s = start(Backend::Memory).await;
    // Another well-formed verifier.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let r = s.redeem(&code, &random_b64(32)).await;
    assert_token_error(&r, 400, &["invalid_grant"], "wrong code_verifier");
    // The challenge itself sent as verifier (a `plain` downgrade).
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let challenge = pkce_challenge(&req.verifier);
    let r = s.redeem(&code, &challenge).await;
    assert_token_error(&r, 400, &["invalid_grant"], "challenge as verifier");
    // No verifier at all.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let mut form = code_form(&code, "x");
    form.retain(|(k, _)| k != "code_verifier");
    let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
    assert_token_error(&r, 400, &["invalid_grant", "invalid_request"], "no code_verifier");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_10_redirect_uri_mismatch_is_invalid_grant() {
    let s = start(Backend::Memory).await;
    for other in ["http://127.0.0.1:9999/callback/", "http://127.0.0.1:9999/other", "https://evil.example/cb"] {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let code = s.code_for(DEVICE_1, &req).await;
        let mut form = code_form(&code, &req.verifier);
        form.retain(|(k, _)| k != "redirect_uri");
        form.push(("redirect_uri".into(), other.into()));
        let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
        assert_token_error(&r, 400, &["invalid_grant"], &format!("redirect_uri {other}"));
    }
    // Missing redirect_uri although the authorization request had one (RFC 6749 §4.1.3).
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let mut form = code_form(&code, &req.verifier);
    form.retain(|(k, _)| k != "redirect_uri");
    let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
    assert_token_error(&r, 400, &["invalid_grant", "invalid_request"], "missing redirect_uri");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_10_unknown_code_is_invalid_grant() {
    let s = start(Backend::Memory).await;
    for code in [random_b64(32), "x".into(), "a".repeat(500)] {
        let r = s.redeem(&code, &random_b64(32)).await;
        assert_token_error(&r, 400, &["invalid_grant"], "unknown code");
    }
    s.stop().await;
}

/// E-TK-10: a code issued to another client is `invalid_grant` for this one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_10_code_issued_to_another_client_is_invalid_grant() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c: &mut Config| {
        let mut other = c.clients[0].clone();
        other.client_id = "other-app".into();
        other.redirect_uris = vec!["http://127.0.0.2:9999/cb".into()];
        c.clients.push(other);
    }))
    .await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let mut claims = s.assertion_claims();
    claims["iss"] = "other-app".into();
    claims["sub"] = "other-app".into();
    let r = s.token_raw(&with_assertion(code_form(&code, &req.verifier), &sign_client_jwt(&claims))).await;
    assert_token_error(&r, 400, &["invalid_grant"], "code of demo-app redeemed by other-app");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_03_unknown_grant_type_is_unsupported_grant_type() {
    let s = start(Backend::Memory).await;
    for g in ["password", "implicit", "urn:example:custom", "AUTHORIZATION_CODE"] {
        let form = vec![("grant_type".to_string(), g.to_string())];
        let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
        assert_token_error(&r, 400, &["unsupported_grant_type"], g);
    }
    s.stop().await;
}

/// E-TK-02 / E-TK-03: demo-app may not use client credentials; either error is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_02_e_tk_03_client_credentials_not_allowed_for_demo_app() {
    let s = start(Backend::Memory).await;
    let form = vec![
        ("grant_type".to_string(), "client_credentials".to_string()),
        ("scope".to_string(), "dpv:FraudPreventionAndDetection number-verification:verify".to_string()),
    ];
    let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
    assert_token_error(&r, 400, &["unsupported_grant_type", "unauthorized_client"], "client_credentials");
    eprintln!("client_credentials for demo-app answered: {}", r.error().unwrap_or_default());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_01_missing_grant_type_is_invalid_request() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let mut form = code_form(&code, &req.verifier);
    form.retain(|(k, _)| k != "grant_type");
    let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
    assert_token_error(&r, 400, &["invalid_request"], "missing grant_type");
    // Missing code.
    let mut form = code_form("x", &req.verifier);
    form.retain(|(k, _)| k != "code");
    let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
    assert_token_error(&r, 400, &["invalid_request"], "missing code");
    s.stop().await;
}

/// E-TK-01 / S-12: a repeated parameter is `invalid_request`, and the code is not redeemed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_01_duplicated_parameter_is_invalid_request() {
    let s = start(Backend::Memory).await;
    for dup in ["code", "grant_type", "redirect_uri", "code_verifier", "client_assertion", "client_assertion_type"] {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let code = s.code_for(DEVICE_1, &req).await;
        let mut form = with_assertion(code_form(&code, &req.verifier), &s.assertion());
        let value = form.iter().find(|(k, _)| k == dup).unwrap().1.clone();
        form.push((dup.into(), value));
        let r = s.token_raw(&form).await;
        assert_token_error(&r, 400, &["invalid_request"], &format!("{dup} twice"));
    }
    s.stop().await;
}

/// E-TK-01: the token endpoint takes `application/x-www-form-urlencoded` only (S-12).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_01_json_body_is_invalid_request() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let form = with_assertion(code_form(&code, &req.verifier), &s.assertion());
    let obj: serde_json::Map<String, serde_json::Value> =
        form.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    let r = read_token_reply(s.http.post(s.token_endpoint()).json(&obj).send().await.unwrap()).await;
    assert_token_error(&r, 400, &["invalid_request"], "JSON body");
    // A form body labelled text/plain is not a form either.
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
    let r = read_token_reply(
        s.http.post(s.token_endpoint()).header("content-type", "text/plain").body(body).send().await.unwrap(),
    )
    .await;
    assert_token_error(&r, 400, &["invalid_request"], "text/plain body");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_get_token_is_405() {
    let s = start(Backend::Memory).await;
    let r = s.http.get(s.token_endpoint()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let allow = r.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(allow.contains("POST"), "Allow: {allow}");
    let cc = r.headers().get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cc.contains("no-store"), "Cache-Control {cc}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].is_string(), "{v}");
    // With the parameters in the query string: still no token.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let form = with_assertion(code_form(&code, &req.verifier), &s.assertion());
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
    let r = s.http.get(format!("{}?{q}", s.token_endpoint())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    s.stop().await;
}

/// S-12: `application/x-www-form-urlencoded` with a charset parameter is still a form.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_12_form_with_charset_is_accepted() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    let form = with_assertion(code_form(&code, &req.verifier), &s.assertion());
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
    let r = read_token_reply(
        s.http
            .post(s.token_endpoint())
            .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.header("pragma"), Some("no-cache"), "S-12 legacy Pragma");
    s.stop().await;
}
