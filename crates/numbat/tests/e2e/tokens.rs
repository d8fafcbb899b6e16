//! What the token endpoint hands out (S-12, P-75, P-82..P-87, NVR-03/04, NVX-06, NVX-26), checked
//! with `jsonwebtoken` against the published JWKS (an independent JOSE implementation).


use crate::common::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use numbat::Config;
use serde_json::{json, Value};

both_backends! {
    s_12_nvr_04_token_response_shape => token_response_shape;
    nvx_06_nvr_03_no_refresh_token_with_offline_access => no_refresh_token;
    p_75_no_id_token_without_openid => no_id_token_without_openid;
    p_83_p_84_id_token_claims => id_token_claims;
    p_87_access_token_claims_and_no_msisdn => access_token_claims;
}

async fn jwks(s: &TestServer) -> (Value, JwkSet) {
    let raw: Value = s.http.get(s.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let set: JwkSet = serde_json::from_value(raw.clone()).expect("JWKS parses with jsonwebtoken");
    (raw, set)
}

/// Verify a JWS numbat issued against its JWKS, with `jsonwebtoken`; returns the claims.
async fn verify_issued(s: &TestServer, jwt: &str, aud: &str) -> Value {
    let (_, set) = jwks(s).await;
    let header = jsonwebtoken::decode_header(jwt).expect("JOSE header");
    let kid = header.kid.clone().expect("issued tokens carry a kid");
    let jwk = set.find(&kid).unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let key = DecodingKey::from_jwk(jwk).expect("JWK usable");
    let mut v = Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[s.base.as_str()]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v.leeway = 0;
    jsonwebtoken::decode::<Value>(jwt, &key, &v).expect("signature and registered claims verify").claims
}

fn assert_no_msisdn(what: &str, text: &str) {
    for m in [MSISDN_1, MSISDN_2] {
        let digits = m.trim_start_matches('+');
        assert!(!text.contains(&digits[2..]), "{what} contains the MSISDN digits: {text}");
        assert!(!text.to_lowercase().contains(&sha256_hex(m)), "{what} contains the MSISDN hash");
    }
}

async fn token_response_shape(b: Backend) {
    let s = start(b).await;
    let r = s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await;
    assert!(r.header("cache-control").unwrap_or_default().contains("no-store"), "{:?}", r.headers);
    assert!(r.header("content-type").unwrap_or_default().starts_with("application/json"));
    assert_eq!(r.json["token_type"], "Bearer", "{}", r.raw);
    let exp = r.json["expires_in"].as_i64().expect("expires_in is an integer");
    assert!((1..=300).contains(&exp), "NVR-04: expires_in {exp}");
    assert!(r.json.get("refresh_token").is_none(), "NVR-03: {}", r.raw);
    assert!(r.json["id_token"].is_string(), "P-83: openid was requested: {}", r.raw);
    assert!(r.json["access_token"].as_str().is_some_and(|t| t.split('.').count() == 3), "RFC 9068 JWT");
    if let Some(scope) = r.json.get("scope") {
        let granted: Vec<&str> = scope.as_str().expect("scope is a string").split(' ').collect();
        for want in SCOPE_VERIFY.split(' ') {
            assert!(granted.contains(&want), "scope {scope} lacks {want}");
        }
    }
    // The access token's own lifetime agrees with expires_in.
    let c = jwt_part(r.access_token(), 1);
    let life = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!(life <= 300 && (life - exp).abs() <= 1, "exp - iat = {life}, expires_in = {exp}");
    s.stop().await;
}

async fn no_refresh_token(b: Backend) {
    let s = start(b).await;
    for scope in [format!("{SCOPE_VERIFY} offline_access"), format!("offline_access {SCOPE_BOTH}")] {
        let req = AuthRequest::new(&scope);
        let r = s.token_reply_for(DEVICE_1, &req).await;
        assert!(r.json.get("refresh_token").is_none(), "{scope}: {}", r.raw);
        let granted =
            r.json["scope"].as_str().unwrap_or_else(|| panic!("P-82: a narrowed grant names its scope: {}", r.raw));
        assert!(!granted.split(' ').any(|s| s == "offline_access"), "offline_access granted: {granted}");
        // The token still works once.
        let (st, v) = s.verify_number(r.access_token(), MSISDN_1).await;
        assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    }
    s.stop().await;
}

async fn no_id_token_without_openid(b: Backend) {
    let s = start(b).await;
    let scope = "dpv:FraudPreventionAndDetection number-verification:verify";
    let req = AuthRequest::new(scope);
    let r = s.token_reply_for(DEVICE_1, &req).await;
    assert!(r.json.get("id_token").is_none(), "P-75: no ID token without openid: {}", r.raw);
    let (st, v) = s.verify_number(r.access_token(), MSISDN_1).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    s.stop().await;
}

async fn id_token_claims(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let r = s.token_reply_for(DEVICE_1, &req).await;
    let id = r.json["id_token"].as_str().expect("id_token").to_owned();
    let at = r.access_token().to_owned();
    let h = jwt_part(&id, 0);
    assert_eq!(h["alg"], "ES256", "demo-app registered ES256: {h}");
    let c = verify_issued(&s, &id, CLIENT_ID).await;
    assert_eq!(c["iss"], s.base.as_str());
    assert_eq!(c["aud"], CLIENT_ID, "aud is the client_id");
    assert_eq!(c["nonce"], req.nonce.as_str(), "nonce echoed");
    assert_eq!(c["amr"], json!(["nba"]), "P-19");
    let sub = c["sub"].as_str().expect("sub");
    assert!(!sub.is_empty() && sub.len() <= 255 && sub.is_ascii(), "S-03 sub {sub}");
    assert_ne!(sub, MSISDN_1);
    assert_no_msisdn("ID token", &serde_json::to_string(&c).unwrap());
    // OIDC §3.1.3.6: at_hash = base64url(left half of SHA-256(access token)).
    let d = ring::digest::digest(&ring::digest::SHA256, at.as_bytes());
    assert_eq!(c["at_hash"], b64url(&d.as_ref()[..16]), "at_hash");
    let iat = c["iat"].as_i64().unwrap();
    assert!((iat - s.now()).abs() <= 5, "iat {iat} vs now {}", s.now());
    // Without a nonce in the request, none in the ID token.
    let req = AuthRequest::new(SCOPE_VERIFY).remove("nonce");
    let r = s.token_reply_for(DEVICE_1, &req).await;
    let c = jwt_part(r.json["id_token"].as_str().unwrap(), 1);
    assert!(c.get("nonce").is_none(), "{c}");
    s.stop().await;
}

async fn access_token_claims(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_1, &req).await;
    assert_no_msisdn("the authorize redirect", o.location.as_ref().unwrap().as_str());
    let r = s.redeem(&o.query["code"], &req.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_no_msisdn("the token response", &r.raw);
    let at = r.access_token();
    let h = jwt_part(at, 0);
    assert_eq!(h["typ"].as_str().map(str::to_ascii_lowercase).as_deref(), Some("at+jwt"), "RFC 9068 typ: {h}");
    let c = verify_issued(&s, at, &s.url("/number-verification/v2")).await;
    assert_eq!(c["client_id"], CLIENT_ID);
    assert_eq!(c["amr"], json!(["nba"]));
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()), "jti: {c}");
    let scope: Vec<&str> = c["scope"].as_str().expect("scope").split(' ').collect();
    assert!(scope.contains(&PURPOSE) && scope.contains(&"number-verification:verify"), "P-87 scope {scope:?}");
    let life = c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap();
    assert!((1..=300).contains(&life), "NVR-04: lifetime {life}");
    assert_ne!(c["sub"], MSISDN_1);
    s.stop().await;
}

/// P-87 / issue item 5: the JWKS publishes only public keys, each with a `kid`, and the `kid`
/// of every issued token is among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_87_jwks_keys_have_kid_no_private_parts_and_cover_issued_tokens() {
    let s = start(Backend::Memory).await;
    let (raw, _) = jwks(&s).await;
    let keys = raw["keys"].as_array().expect("keys array");
    assert!(!keys.is_empty());
    let mut kids = Vec::new();
    for k in keys {
        let kid = k["kid"].as_str().unwrap_or_else(|| panic!("key without kid: {k}"));
        assert!(!kid.is_empty());
        assert!(!kids.contains(&kid), "kid {kid} repeated");
        kids.push(kid);
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(k.get(private).is_none(), "JWKS key {kid} publishes {private}");
        }
        assert!(k["kty"].is_string());
    }
    let r = s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await;
    for jwt in [r.access_token(), r.json["id_token"].as_str().unwrap()] {
        let kid = jwt_part(jwt, 0)["kid"].as_str().expect("token header kid").to_owned();
        assert!(kids.contains(&kid.as_str()), "token kid {kid} not in JWKS {kids:?}");
    }
    // The discovery document points at the same JWKS.
    let meta: Value =
        s.http.get(s.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let via_meta: Value = s.http.get(meta["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    assert_eq!(via_meta, raw);
    s.stop().await;
}

/// P-84/P-85, NVX-26: pairwise `sub`: stable for one subscriber and client, different between
/// subscribers, and different for a client of another sector.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_85_nvx_26_sub_is_pairwise() {
    const OTHER_REDIRECT: &str = "http://127.0.0.2:9999/cb";
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c: &mut Config| {
        let mut other = c.clients[0].clone();
        other.client_id = "other-app".into();
        other.redirect_uris = vec![OTHER_REDIRECT.into()];
        c.clients.push(other);
    }))
    .await;
    let sub_of = |r: &TokenReply| jwt_part(r.json["id_token"].as_str().unwrap(), 1)["sub"].as_str().unwrap().to_owned();
    let a1 = sub_of(&s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await);
    let a2 = sub_of(&s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_SHARE)).await);
    let b1 = sub_of(&s.token_reply_for(DEVICE_2, &AuthRequest::new(SCOPE_VERIFY)).await);
    assert_eq!(a1, a2, "stable for one subscriber and client");
    assert_ne!(a1, b1, "different subscribers, different subs");

    // The same subscriber through other-app (sector 127.0.0.2).
    let req = AuthRequest::new(SCOPE_VERIFY).set("client_id", "other-app").set("redirect_uri", OTHER_REDIRECT);
    let o = s.authorize(DEVICE_1, &req).await;
    assert_eq!(o.status, 302, "{}", o.body);
    let code = o.get("code").unwrap_or_else(|| panic!("other-app got no code: {:?}", o.location)).to_owned();
    let mut claims = s.assertion_claims();
    claims["iss"] = "other-app".into();
    claims["sub"] = "other-app".into();
    let mut form = code_form(&code, &req.verifier);
    form.retain(|(k, _)| k != "redirect_uri");
    form.push(("redirect_uri".into(), OTHER_REDIRECT.into()));
    let r = s.token_raw(&with_assertion(form, &sign_client_jwt(&claims))).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let c = jwt_part(r.json["id_token"].as_str().unwrap(), 1);
    assert_eq!(c["aud"], "other-app");
    assert_ne!(c["sub"].as_str().unwrap(), a1, "NVX-26: another sector sees another sub");
    s.stop().await;
}

/// ID-token algorithm is the client's registered one and nothing else (no `none`, no HMAC).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_03_id_token_uses_the_registered_algorithm() {
    let s = start(Backend::Memory).await;
    let r = s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await;
    let h = jsonwebtoken::decode_header(r.json["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(h.alg, Algorithm::ES256);
    s.stop().await;
}
