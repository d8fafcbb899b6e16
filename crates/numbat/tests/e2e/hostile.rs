//! Hostile clients: forged identity headers at `/authorize` (only the TCP peer address, looked up
//! by the ingress, names the subscriber), and forged or misused tokens at the resource server and
//! the token endpoint.


use crate::common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

both_backends! {
    p_18_forged_identity_headers_from_an_unbound_device_get_login_required => forged_headers_unbound;
    p_18_forged_identity_headers_from_a_bound_device_are_ignored => forged_headers_bound;
}

/// Every way a client might try to claim another subscriber or another address.
fn forgeries() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        ("X-MSISDN", vec![("X-MSISDN", MSISDN_2)]),
        ("x-msisdn twice", vec![("x-msisdn", MSISDN_2), ("x-msisdn", MSISDN_2)]),
        ("x-msisdn twice, different", vec![("x-msisdn", MSISDN_2), ("X-Msisdn", "34600000002")]),
        ("MSISDN", vec![("MSISDN", MSISDN_2)]),
        ("X-Up-Calling-Line-Id", vec![("X-Up-Calling-Line-Id", "34600000002")]),
        ("X-Forwarded-For", vec![("X-Forwarded-For", "127.0.0.2")]),
        ("X-Forwarded-For chain", vec![("X-Forwarded-For", "127.0.0.2, 127.0.0.2")]),
        ("Forwarded", vec![("Forwarded", "for=127.0.0.2")]),
        ("Forwarded quoted", vec![("Forwarded", "for=\"127.0.0.2:1234\";proto=https")]),
        ("X-Real-IP", vec![("X-Real-IP", "127.0.0.2")]),
        ("True-Client-IP", vec![("True-Client-IP", "127.0.0.2")]),
        ("X-Client-IP", vec![("X-Client-IP", "127.0.0.2")]),
        ("CF-Connecting-IP", vec![("CF-Connecting-IP", "127.0.0.2")]),
        (
            "X-Numbat-Identity",
            vec![("X-Numbat-Identity", r#"{"msisdn":"+34600000002","amr":"nba","authenticated_at":0}"#)],
        ),
        (
            "all at once",
            vec![
                ("X-MSISDN", MSISDN_2),
                ("X-Forwarded-For", "127.0.0.2"),
                ("Forwarded", "for=127.0.0.2"),
                ("X-Real-IP", "127.0.0.2"),
            ],
        ),
    ]
}

async fn forged_headers_unbound(b: Backend) {
    let s = start(b).await;
    for (what, headers) in forgeries() {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let o = s.authorize_query(DEVICE_UNBOUND, &req.query(), &headers).await;
        assert_eq!(o.get("error"), Some("login_required"), "{what} from 127.0.0.3: {:?}", o.location);
        assert_redirect_error(&s, &o, &req, "login_required");
    }
    s.stop().await;
}

async fn forged_headers_bound(b: Backend) {
    let s = start(b).await;
    for (what, headers) in forgeries() {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let o = s.authorize_query(DEVICE_1, &req.query(), &headers).await;
        assert_success_redirect(&s, &o, &req);
        let r = s.redeem(&o.query["code"], &req.verifier).await;
        assert_eq!(r.status, 200, "{what}: {}", r.raw);
        let (st, v) = s.verify_number(r.access_token(), MSISDN_2).await;
        assert_eq!(
            (st, v["devicePhoneNumberVerified"].as_bool()),
            (200, Some(false)),
            "{what}: the token from 127.0.0.1 must be for +34600000001: {v}"
        );
    }
    // And the share API confirms whose token it is.
    let req = AuthRequest::new(SCOPE_SHARE);
    let o =
        s.authorize_query(DEVICE_1, &req.query(), &[("X-MSISDN", MSISDN_2), ("X-Forwarded-For", "127.0.0.2")]).await;
    let r = s.redeem(&o.query["code"], &req.verifier).await;
    let (st, v) = s.share(r.access_token()).await;
    assert_eq!((st, v), (200, json!({ "devicePhoneNumber": MSISDN_1 })));
    s.stop().await;
}

/// NVX-19: forged access tokens at the resource server: tampered claims, `alg: none`, HMAC with
/// the server's public key, another server's key, wrong scheme, empty token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nvx_19_forged_access_tokens_are_401() {
    let s = start(Backend::Memory).await;
    let good = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let parts: Vec<&str> = good.split('.').collect();
    let header = jwt_part(&good, 0);
    let mut claims = jwt_part(&good, 1);

    // Tampered payload, original signature.
    claims["scope"] =
        json!(format!("{PURPOSE} number-verification:verify number-verification:device-phone-number:read"));
    let tampered = format!("{}.{}.{}", parts[0], b64url(&serde_json::to_vec(&claims).unwrap()), parts[2]);
    let (st, v) = s.share(&tampered).await;
    assert_unauthenticated(st, &v);

    // alg none with the original claims.
    let mut h = header.clone();
    h["alg"] = json!("none");
    let none = format!("{}.{}.", b64url(&serde_json::to_vec(&h).unwrap()), parts[1]);
    let (st, v) = s.verify_number(&none, MSISDN_1).await;
    assert_unauthenticated(st, &v);

    // HS256 keyed with the server's own public key (JWK JSON).
    let jwks: Value = s.http.get(s.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let key_json = serde_json::to_string(&jwks["keys"][0]).unwrap();
    let mut hh = Header::new(Algorithm::HS256);
    hh.kid = header["kid"].as_str().map(str::to_owned);
    hh.typ = Some("at+jwt".into());
    let original_claims = jwt_part(&good, 1);
    let hs = jsonwebtoken::encode(&hh, &original_claims, &EncodingKey::from_secret(key_json.as_bytes())).unwrap();
    let (st, v) = s.verify_number(&hs, MSISDN_1).await;
    assert_unauthenticated(st, &v);

    // Same claims, ES256 by a key the server never published, same kid.
    let mut eh = Header::new(Algorithm::ES256);
    eh.kid = header["kid"].as_str().map(str::to_owned);
    eh.typ = Some("at+jwt".into());
    let foreign = jsonwebtoken::encode(&eh, &original_claims, &foreign_key()).unwrap();
    let (st, v) = s.verify_number(&foreign, MSISDN_1).await;
    assert_unauthenticated(st, &v);

    // Wrong scheme and empty token.
    for auth in [format!("Basic {good}"), format!("DPoP {good}"), "Bearer".into(), "Bearer ".into(), String::new()] {
        let r = s
            .http
            .post(s.url("/number-verification/v2/verify"))
            .header("authorization", auth.clone())
            .json(&json!({ "phoneNumber": MSISDN_1 }))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        assert_unauthenticated(st, &r.json().await.unwrap_or(Value::Null));
    }
    // The token in the query string is not a credential (RFC 6750 §2.3 is not offered).
    let r = s
        .http
        .post(format!("{}?access_token={good}", s.url("/number-verification/v2/verify")))
        .json(&json!({ "phoneNumber": MSISDN_1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // None of the above spent the genuine token.
    let (st, v) = s.verify_number(&good, MSISDN_1).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    s.stop().await;
}

/// The ID token is not an access token (RFC 9068 `typ`, audience).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_87_id_token_is_not_accepted_as_an_access_token() {
    let s = start(Backend::Memory).await;
    let r = s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_BOTH)).await;
    let id_token = r.json["id_token"].as_str().expect("id_token").to_owned();
    let (st, v) = s.verify_number(&id_token, MSISDN_1).await;
    assert_unauthenticated(st, &v);
    let (st, v) = s.share(&id_token).await;
    assert_unauthenticated(st, &v);
    s.stop().await;
}

/// A token from another numbat (another operator, other keys, other issuer) is worthless here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nvx_19_token_from_another_server_is_401() {
    let a = start(Backend::Memory).await;
    let b = start(Backend::Memory).await;
    let t = a.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, v) = b.verify_number(&t, MSISDN_1).await;
    assert_unauthenticated(st, &v);
    // Still good where it came from (b did not spend it).
    let (st, _) = a.verify_number(&t, MSISDN_1).await;
    assert_eq!(st, 200);
    a.stop().await;
    b.stop().await;
}

/// P-29: tokens numbat itself issued are not client assertions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_29_issued_tokens_are_not_client_assertions() {
    let s = start(Backend::Memory).await;
    let r = s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await;
    let at = r.access_token().to_owned();
    let id = r.json["id_token"].as_str().unwrap().to_owned();
    for (what, jwt) in [("access token", at), ("ID token", id)] {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let code = s.code_for(DEVICE_1, &req).await;
        let r = s.token_raw(&with_assertion(code_form(&code, &req.verifier), &jwt)).await;
        assert_eq!((r.status, r.error()), (401, Some("invalid_client")), "{what} as client_assertion: {}", r.raw);
    }
    s.stop().await;
}

/// A code is bound to its PKCE verifier: intercepting the redirect is not enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_33_intercepted_code_without_verifier_is_useless() {
    let s = start(Backend::Memory).await;
    let victim = AuthRequest::new(SCOPE_VERIFY);
    let code = s.code_for(DEVICE_1, &victim).await;
    let attacker = AuthRequest::new(SCOPE_VERIFY);
    let r = s.redeem(&code, &attacker.verifier).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_grant")), "{}", r.raw);
    s.stop().await;
}
