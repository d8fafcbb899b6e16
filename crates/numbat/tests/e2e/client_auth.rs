//! Client authentication at the token endpoint: `private_key_jwt` only (P-88..P-91, S-05,
//! E-TK-05). Assertions are signed with `jsonwebtoken` (independent of numbat's JOSE code) at the
//! server's clock. Every failure must be 401 `invalid_client`, JSON, `Cache-Control: no-store`,
//! and must not hand out a token.


use base64::Engine;
use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

both_backends! {
    p_91_s_05_replayed_jti_is_invalid_client => replayed_jti;
    p_88_valid_assertion_variants_are_accepted => valid_variants;
}

fn assert_invalid_client(r: &TokenReply, what: &str) {
    let raw: String = r.raw.chars().take(160).collect();
    assert_eq!(r.status, 401, "{what}: expected 401 invalid_client, got {} {raw}…", r.status);
    assert_eq!(r.error(), Some("invalid_client"), "{what}: {}", r.raw);
    let cc = r.header("cache-control").unwrap_or_default();
    assert!(cc.contains("no-store"), "{what}: Cache-Control {cc:?}");
    assert!(r.json.get("access_token").is_none(), "{what}: token issued");
}

/// A fresh code from device 1 and the form to redeem it, without client authentication.
async fn fresh_form(s: &TestServer) -> Vec<(String, String)> {
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &req).await;
    code_form(&code, &req.verifier)
}

/// Redeem a fresh code with `assertion` and expect 401 invalid_client.
async fn expect_rejected(s: &TestServer, assertion: &str, what: &str) {
    let r = s.token_raw(&with_assertion(fresh_form(s).await, assertion)).await;
    assert_invalid_client(&r, what);
}

/// The default valid claims with some changed (`null` removes a claim).
fn claims_with(s: &TestServer, changes: Value) -> Value {
    let mut c = s.assertion_claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_05_no_client_authentication_is_invalid_client() {
    let s = start(Backend::Memory).await;
    let r = s.token_raw(&fresh_form(&s).await).await;
    assert_invalid_client(&r, "no client authentication");
    // client_id alone (a public client's way) is not authentication either.
    let mut form = fresh_form(&s).await;
    form.push(("client_id".into(), CLIENT_ID.into()));
    assert_invalid_client(&s.token_raw(&form).await, "client_id only");
    // An assertion type without an assertion.
    let mut form = fresh_form(&s).await;
    form.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
    assert_invalid_client(&s.token_raw(&form).await, "client_assertion_type only");
    s.stop().await;
}

/// RFC 6749 §5.2 (P-91): HTTP Basic is not a method this client may use; the 401 carries
/// `WWW-Authenticate` because the client tried HTTP authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_05_basic_auth_is_invalid_client_with_www_authenticate() {
    let s = start(Backend::Memory).await;
    let basic = base64::engine::general_purpose::STANDARD.encode("demo-app:secret");
    let form = fresh_form(&s).await;
    let r = read_token_reply(
        s.http
            .post(s.token_endpoint())
            .header("authorization", format!("Basic {basic}"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_invalid_client(&r, "Basic");
    assert!(r.header("www-authenticate").is_some(), "401 after HTTP auth needs WWW-Authenticate: {:?}", r.headers);
    // Basic next to a valid assertion: two methods at once are refused too (RFC 6749 §2.3).
    let form = with_assertion(fresh_form(&s).await, &s.assertion());
    let r = read_token_reply(
        s.http
            .post(s.token_endpoint())
            .header("authorization", format!("Basic {basic}"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(matches!(r.status, 400 | 401), "{}", r.raw);
    assert!(matches!(r.error(), Some("invalid_client" | "invalid_request")), "{}", r.raw);
    assert!(r.json.get("access_token").is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_91_wrong_or_missing_client_assertion_type_is_invalid_client() {
    let s = start(Backend::Memory).await;
    for t in [
        Some("urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        Some("jwt-bearer"),
        None,
    ] {
        let mut form = fresh_form(&s).await;
        if let Some(t) = t {
            form.push(("client_assertion_type".into(), t.into()));
        }
        form.push(("client_assertion".into(), s.assertion()));
        assert_invalid_client(&s.token_raw(&form).await, &format!("client_assertion_type {t:?}"));
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_91_assertion_signed_by_another_key_is_invalid_client() {
    let s = start(Backend::Memory).await;
    let claims = s.assertion_claims();
    let forged = jsonwebtoken::encode(&es256_header(), &claims, &foreign_key()).unwrap();
    expect_rejected(&s, &forged, "foreign key, kid demo-app-1").await;
    // No kid: the server must still not find a key that verifies it.
    let mut h = Header::new(Algorithm::ES256);
    h.kid = None;
    let forged = jsonwebtoken::encode(&h, &s.assertion_claims(), &foreign_key()).unwrap();
    expect_rejected(&s, &forged, "foreign key, no kid").await;
    // A valid signature over other claims, with a tampered payload.
    let good = s.assertion();
    let parts: Vec<&str> = good.split('.').collect();
    let mut payload = jwt_part(&good, 1);
    payload["exp"] = json!(s.now() + 120);
    let tampered = format!("{}.{}.{}", parts[0], b64url(&serde_json::to_vec(&payload).unwrap()), parts[2]);
    expect_rejected(&s, &tampered, "payload changed after signing").await;
    // Garbage.
    expect_rejected(&s, "not-a-jwt", "not a JWT").await;
    expect_rejected(&s, "a.b.c", "three garbage parts").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_91_alg_none_is_invalid_client() {
    let s = start(Backend::Memory).await;
    expect_rejected(&s, &alg_none_jwt(&s.assertion_claims(), ""), "alg none, empty signature").await;
    expect_rejected(&s, &alg_none_jwt(&s.assertion_claims(), "AAAA"), "alg none, junk signature").await;
    // Signature of a valid assertion kept, header switched to none.
    let good = s.assertion();
    let parts: Vec<&str> = good.split('.').collect();
    let h = b64url(br#"{"alg":"none","kid":"demo-app-1"}"#);
    expect_rejected(&s, &format!("{h}.{}.{}", parts[1], parts[2]), "header switched to none").await;
    s.stop().await;
}

/// Algorithm confusion: HS256 keyed with the client's public key (as PEM and as JWK JSON).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_91_hs256_signed_with_the_public_key_is_invalid_client() {
    let s = start(Backend::Memory).await;
    let jwk = format!(r#"{{"kty":"EC","crv":"P-256","x":"{CLIENT_X}","y":"{CLIENT_Y}"}}"#);
    for (what, secret) in [("PEM", client_public_pem()), ("JWK", jwk)] {
        for alg in [Algorithm::HS256, Algorithm::HS512] {
            let mut h = Header::new(alg);
            h.kid = Some(KID.into());
            let t =
                jsonwebtoken::encode(&h, &s.assertion_claims(), &EncodingKey::from_secret(secret.as_bytes())).unwrap();
            expect_rejected(&s, &t, &format!("{alg:?} keyed with the public key as {what}")).await;
        }
    }
    s.stop().await;
}

/// P-90: `aud` names this server (token endpoint, receiving endpoint, issuer), alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_90_wrong_audience_is_invalid_client() {
    let s = start(Backend::Memory).await;
    let te = s.token_endpoint();
    let cases: Vec<(&str, Value)> = vec![
        ("other server", json!("https://evil.example/token")),
        ("authorization endpoint", json!(s.url("/authorize"))),
        ("resource server", json!(s.url("/number-verification/v2"))),
        ("token endpoint with a trailing slash", json!(format!("{te}/"))),
        ("two values", json!([te, "https://evil.example/token"])),
        ("two values, both ours", json!([te, s.base])),
        ("empty array", json!([])),
        ("number", json!(1)),
        ("missing", Value::Null),
    ];
    for (what, aud) in cases {
        let c = claims_with(&s, json!({ "aud": aud }));
        expect_rejected(&s, &sign_client_jwt(&c), &format!("aud {what}")).await;
    }
    s.stop().await;
}

/// P-89: no assertion lives longer than 300 s; plus the standard time checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_89_assertion_lifetime_and_time_window() {
    let s = start(Backend::Memory).await;
    let now = s.now();
    let cases: Vec<(&str, Value)> = vec![
        ("exp more than 300 s after receipt, no iat", json!({ "iat": null, "exp": now + 400 })),
        ("exp more than 300 s after receipt, with iat", json!({ "iat": now, "exp": now + 360 })),
        ("exp - iat > 300", json!({ "iat": now - 100, "exp": now + 250 })),
        ("iat in the future", json!({ "iat": now + 60, "exp": now + 120 })),
        ("expired", json!({ "iat": now - 200, "exp": now - 60 })),
        ("exp missing", json!({ "exp": null })),
        ("exp a string", json!({ "exp": (now + 60).to_string() })),
        ("nbf in the future", json!({ "nbf": now + 60 })),
    ];
    for (what, changes) in cases {
        expect_rejected(&s, &sign_client_jwt(&claims_with(&s, changes)), what).await;
    }
    s.stop().await;
}

/// P-89 and camara-profile.md "How to read": the clock skew may be allowed only where a rule
/// says "later than receipt" and must never widen the 300 s maxima. An assertion whose `exp` is
/// 303 s after receipt (no `iat`) is more than 300 s after receipt, skew or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_89_exp_limit_is_not_widened_by_clock_skew() {
    let s = start(Backend::Memory).await;
    // The server reads its clock after us: `exp - receipt` is 302 or 303 s, both over 300.
    let c = claims_with(&s, json!({ "iat": null, "exp": s.now() + 303 }));
    expect_rejected(&s, &sign_client_jwt(&c), "exp 303 s after receipt, no iat").await;
    s.stop().await;
}

/// P-91 / S-05: `iss` = `sub` = client_id of a registered client, `jti` present.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_91_claims_identify_the_client() {
    let s = start(Backend::Memory).await;
    let cases: Vec<(&str, Value)> = vec![
        ("jti missing", json!({ "jti": null })),
        ("jti empty", json!({ "jti": "" })),
        ("sub differs from iss", json!({ "sub": "someone-else" })),
        ("sub missing", json!({ "sub": null })),
        ("iss missing", json!({ "iss": null })),
        ("unknown client", json!({ "iss": "evil-app", "sub": "evil-app" })),
        ("iss differs in case", json!({ "iss": "Demo-App", "sub": "Demo-App" })),
    ];
    for (what, changes) in cases {
        expect_rejected(&s, &sign_client_jwt(&claims_with(&s, changes)), what).await;
    }
    // client_id sent beside the assertion must name the same client.
    let mut form = with_assertion(fresh_form(&s).await, &s.assertion());
    form.push(("client_id".into(), "other-app".into()));
    assert_invalid_client(&s.token_raw(&form).await, "client_id differs from the assertion");
    s.stop().await;
}

async fn replayed_jti(b: Backend) {
    let s = start(b).await;
    let assertion = s.assertion();
    let r = s.token_raw(&with_assertion(fresh_form(&s).await, &assertion)).await;
    assert_eq!(r.status, 200, "first use of the assertion: {}", r.raw);
    let r = s.token_raw(&with_assertion(fresh_form(&s).await, &assertion)).await;
    assert_invalid_client(&r, "same assertion twice");
    // Same jti in a newly signed assertion.
    let jti = jwt_part(&assertion, 1)["jti"].clone();
    let again = sign_client_jwt(&claims_with(&s, json!({ "jti": jti })));
    let r = s.token_raw(&with_assertion(fresh_form(&s).await, &again)).await;
    assert_invalid_client(&r, "same jti, new signature");
    s.stop().await;
}

/// What P-89/P-90 allow must work: `aud` = issuer, `aud` = [token endpoint], no `iat`,
/// a lifetime of exactly 300 s.
async fn valid_variants(b: Backend) {
    let s = start(b).await;
    let now = s.now();
    let cases: Vec<(&str, Value)> = vec![
        ("aud = issuer", json!({ "aud": s.base })),
        ("aud = [token endpoint]", json!({ "aud": [s.token_endpoint()] })),
        ("no iat", json!({ "iat": null })),
        ("exp - iat = 300", json!({ "iat": now, "exp": now + 300 })),
        ("unknown extra claim", json!({ "foo": "bar" })),
    ];
    for (what, changes) in cases {
        let a = sign_client_jwt(&claims_with(&s, changes));
        let r = s.token_raw(&with_assertion(fresh_form(&s).await, &a)).await;
        assert_eq!(r.status, 200, "{what}: {}", r.raw);
        assert!(r.json["access_token"].is_string(), "{what}");
    }
    s.stop().await;
}
