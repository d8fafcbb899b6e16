//! TS.43 temporary tokens and the JWT-bearer grant (issue 5 items 1, 2, 4; P-51, P-63..P-72,
//! NVR-01, NVR-06, NVX-07, NVX-09).


use crate::common::*;
use serde_json::{json, Value};
use std::net::IpAddr;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const NV_SCOPE: &str = "dpv:FraudPreventionAndDetection number-verification:verify";

impl TestServer {
    /// `AcquireTemporaryToken` from a device; returns (status, body).
    async fn acquire(&self, from: IpAddr, query: &str) -> (u16, Value) {
        let r = device(from).get(self.url(&format!("/entitlement/v1?{query}"))).send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    async fn operator_token(&self, from: IpAddr) -> String {
        let (st, v) = self.acquire(from, "app=ap2009&operation=AcquireTemporaryToken&operation_targets=VerifyPhoneNumber").await;
        assert_eq!(st, 200, "{v}");
        v["TemporaryToken"].as_str().unwrap().to_owned()
    }

    fn bearer_assertion(&self, sub: &str, extra: Value) -> String {
        let now = self.now();
        let mut c = json!({"iss": CLIENT_ID, "sub": sub, "aud": self.token_endpoint(), "iat": now, "exp": now + 60,
            "jti": random_b64(12), "scope": NV_SCOPE});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        sign_client_jwt(&c)
    }

    async fn jwt_bearer(&self, assertion: &str) -> TokenReply {
        self.token_raw(&[("grant_type".into(), JWT_BEARER.into()), ("assertion".into(), assertion.into())]).await
    }
}

async fn nvx_09_operator_token_over_wifi(b: Backend) {
    let s = start(b).await;
    // The device, on mobile data, gets a TS.43 token; later the app backend uses it over any network.
    let (st, v) = s.acquire(DEVICE_1, "app=ap2009&operation=AcquireTemporaryToken&operation_targets=VerifyPhoneNumber").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["OperationTargets"], json!(["VerifyPhoneNumber"]));
    assert!(v["TemporaryTokenExpiry"].as_str().unwrap().ends_with('Z'), "ISO 8601 UTC: {v}");
    let tok = v["TemporaryToken"].as_str().unwrap();
    let t = s.jwt_bearer(&s.bearer_assertion(&format!("operatortoken:{tok}"), json!({}))).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert!(t.json.get("refresh_token").is_none() && t.json.get("id_token").is_none(), "P-70");
    let amr = jwt_part(t.access_token(), 1)["amr"].clone();
    assert_eq!(amr, json!(["sim"]), "P-19: SIM-based");
    assert_eq!(s.verify_number(t.access_token(), MSISDN_1).await.1["devicePhoneNumberVerified"], json!(true));
    // Wrong number with a fresh token: false.
    let tok = s.operator_token(DEVICE_1).await;
    let t = s.jwt_bearer(&s.bearer_assertion(&format!("operatortoken:{tok}"), json!({}))).await;
    assert_eq!(s.verify_number(t.access_token(), OTHER_MSISDN).await.1["devicePhoneNumberVerified"], json!(false));
    // The operator token is single use (P-51).
    let t = s.jwt_bearer(&s.bearer_assertion(&format!("operatortoken:{tok}"), json!({}))).await;
    assert_eq!((t.status, t.error()), (400, Some("invalid_grant")), "{}", t.raw);
    s.stop().await;
}

both_backends! { nvx_09 => nvx_09_operator_token_over_wifi; }

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nvx_07_tel_subject_is_refused_by_number_verification() {
    let s = start(Backend::Memory).await;
    let t = s.jwt_bearer(&s.bearer_assertion("tel:+34600000001", json!({}))).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert_eq!(jwt_part(t.access_token(), 1)["amr"], json!(["asserted"]), "P-72: never nba/sim");
    let (st, body) = s.verify_number(t.access_token(), MSISDN_1).await;
    assert_eq!(st, 403);
    assert_eq!(body["code"], json!("NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p51_entitlement_requires_an_identified_device_and_valid_parameters() {
    let s = start(Backend::Memory).await;
    let ok = "app=ap2009&operation=AcquireTemporaryToken&operation_targets=VerifyPhoneNumber";
    assert_eq!(s.acquire(DEVICE_UNBOUND, ok).await.0, 403, "not on mobile data");
    let r = device(DEVICE_UNBOUND)
        .get(s.url(&format!("/entitlement/v1?{ok}")))
        .header("X-MSISDN", MSISDN_1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a forged identity header changes nothing");
    for bad in [
        "app=ap9999&operation=AcquireTemporaryToken&operation_targets=VerifyPhoneNumber",
        "app=ap2009&operation=Other&operation_targets=VerifyPhoneNumber",
        "app=ap2009&operation=AcquireTemporaryToken&operation_targets=Nope",
        "app=ap2009&operation=AcquireTemporaryToken",
        "app=ap2009&app=ap2006&operation=AcquireTemporaryToken&operation_targets=VerifyPhoneNumber",
    ] {
        assert_eq!(s.acquire(DEVICE_1, bad).await.0, 400, "{bad}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_mint_needs_the_admin_token() {
    let s = start(Backend::Memory).await;
    let body = json!({"msisdn": MSISDN_2});
    let r = s.http.post(s.url("/admin/ts43/tokens")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.http.post(s.url("/admin/ts43/tokens")).bearer_auth("wrong").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.http.post(s.url("/admin/ts43/tokens")).bearer_auth("dev-admin-token").json(&json!({"msisdn": "34600"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = s.http.post(s.url("/admin/ts43/tokens")).bearer_auth("dev-admin-token").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let tok = v["TemporaryToken"].as_str().unwrap();
    let t = s.jwt_bearer(&s.bearer_assertion(&format!("operatortoken:{tok}"), json!({}))).await;
    assert_eq!(s.verify_number(t.access_token(), MSISDN_2).await.1["devicePhoneNumberVerified"], json!(true));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p63_to_p71_jwt_bearer_errors() {
    let s = start(Backend::Memory).await;
    let now = s.now();
    let tel = "tel:+34600000001";
    let cases: Vec<(&str, String, &str)> = vec![
        ("P-63 no scope claim", s.bearer_assertion(tel, json!({"scope": null})), "invalid_grant"),
        ("P-80 no purpose", s.bearer_assertion(tel, json!({"scope": "number-verification:verify"})), "invalid_scope"),
        ("scope not allowed", s.bearer_assertion(tel, json!({"scope": "dpv:FraudPreventionAndDetection kyc-match:match"})), "invalid_scope"),
        ("P-64 ipport: subject", s.bearer_assertion("ipport:127.0.0.1", json!({})), "invalid_grant"),
        ("P-49 bad tel", s.bearer_assertion("tel:34600", json!({})), "invalid_grant"),
        ("P-64 no sub", s.bearer_assertion(tel, json!({"sub": null})), "invalid_grant"),
        ("P-64 wrong aud", s.bearer_assertion(tel, json!({"aud": "https://other.example/token"})), "invalid_grant"),
        ("P-67 exp > 300 s", s.bearer_assertion(tel, json!({"iat": now, "exp": now + 301})), "invalid_grant"),
        ("P-67 iat in the future", s.bearer_assertion(tel, json!({"iat": now + 60, "exp": now + 120})), "invalid_grant"),
        ("expired", s.bearer_assertion(tel, json!({"iat": now - 200, "exp": now - 100})), "invalid_grant"),
        ("no jti", s.bearer_assertion(tel, json!({"jti": null})), "invalid_grant"),
        ("forged operator token", s.bearer_assertion("operatortoken:forged", json!({})), "invalid_grant"),
    ];
    for (name, a, want) in cases {
        let t = s.jwt_bearer(&a).await;
        assert_eq!((t.status, t.error()), (400, Some(want)), "{name}: {}", t.raw);
    }
    // P-63: a scope request parameter is refused.
    let a = s.bearer_assertion(tel, json!({}));
    let t = s
        .token_raw(&[("grant_type".into(), JWT_BEARER.into()), ("assertion".into(), a), ("scope".into(), NV_SCOPE.into())])
        .await;
    assert_eq!((t.status, t.error()), (400, Some("invalid_request")), "{}", t.raw);
    // P-71: replayed assertion.
    let a = s.bearer_assertion(tel, json!({}));
    assert_eq!(s.jwt_bearer(&a).await.status, 200);
    assert_eq!(s.jwt_bearer(&a).await.error(), Some("invalid_grant"));
    // P-66: signed by another key.
    let c = jwt_part(&s.bearer_assertion(tel, json!({})), 1);
    let forged = jsonwebtoken::encode(&es256_header(), &c, &foreign_key()).unwrap();
    assert_eq!(s.jwt_bearer(&forged).await.error(), Some("invalid_grant"));
    // alg=none.
    assert_eq!(s.jwt_bearer(&alg_none_jwt(&c, "")).await.error(), Some("invalid_grant"));
    // Unknown client.
    let mut c2 = c.clone();
    c2["iss"] = json!("nobody");
    let t = s.jwt_bearer(&sign_client_jwt(&c2)).await;
    assert_eq!((t.status, t.error()), (401, Some("invalid_client")));
    s.stop().await;

    // P-68 / P-72: a client not allowed tel: subjects.
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.clients[0].jwt_bearer_subjects = vec!["operatortoken".into()])).await;
    let t = s.jwt_bearer(&s.bearer_assertion(tel, json!({}))).await;
    assert_eq!(t.error(), Some("invalid_grant"), "{}", t.raw);
    s.stop().await;
    // P-68: a client not onboarded for the grant.
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.clients[0].grant_types = vec!["authorization_code".into()])).await;
    let t = s.jwt_bearer(&s.bearer_assertion(tel, json!({}))).await;
    assert_eq!(t.error(), Some("unauthorized_client"), "{}", t.raw);
    s.stop().await;
}
