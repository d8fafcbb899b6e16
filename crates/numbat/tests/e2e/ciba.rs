//! CIBA poll mode (issue 5 item 3; P-37..P-52, E-CB-01..07, E-TK-20..24, NVX-08).


use crate::common::*;
use serde_json::{json, Value};

const CIBA: &str = "urn:openid:params:grant-type:ciba";
const SCOPE: &str = "openid dpv:FraudPreventionAndDetection number-verification:verify";

impl TestServer {
    async fn bc_authorize(&self, params: &[(&str, &str)]) -> TokenReply {
        let now = self.now();
        let a = sign_client_jwt(&json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": self.url("/bc-authorize"),
            "jti": random_b64(16), "iat": now, "exp": now + 60}));
        let mut form: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        form = with_assertion(form, &a);
        read_token_reply(self.http.post(self.url("/bc-authorize")).form(&form).send().await.unwrap()).await
    }

    async fn poll(&self, id: &str) -> TokenReply {
        let form = vec![("grant_type".to_string(), CIBA.to_string()), ("auth_req_id".to_string(), id.to_string())];
        self.token_raw(&with_assertion(form, &self.assertion())).await
    }

    async fn ciba_token(&self, hint: &str) -> TokenReply {
        let r = self.bc_authorize(&[("scope", SCOPE), ("login_hint", hint)]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        self.poll(r.json["auth_req_id"].as_str().unwrap()).await
    }

    async fn decide(&self, id: &str, action: &str) -> u16 {
        self.http
            .post(self.url("/test/ciba/decide"))
            .bearer_auth("dev-admin-token")
            .json(&json!({"auth_req_id": id, "action": action}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

async fn nvx_08_operator_token_route(b: Backend) {
    let s = start(b).await;
    let r = device(DEVICE_1)
        .get(s.url("/entitlement/v1?app=ap2009&operation=AcquireTemporaryToken&operation_targets=VerifyPhoneNumber"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let tok = v["TemporaryToken"].as_str().unwrap();
    let r = s.bc_authorize(&[("scope", SCOPE), ("login_hint", &format!("operatortoken:{tok}"))]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.json["expires_in"].as_i64().unwrap() > 0 && r.json["interval"].as_i64().unwrap() > 0, "P-46");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let id = r.json["auth_req_id"].as_str().unwrap().to_owned();
    // No consent needed for this purpose: the first poll returns the tokens (P-47).
    let t = s.poll(&id).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert!(t.json["id_token"].is_string(), "openid → ID token");
    assert_eq!(jwt_part(t.access_token(), 1)["amr"], json!(["sim"]));
    assert_eq!(s.verify_number(t.access_token(), MSISDN_1).await.1["devicePhoneNumberVerified"], json!(true));
    // Redeemed once (E-TK-21).
    assert_eq!(s.poll(&id).await.error(), Some("invalid_grant"));
    s.stop().await;
}

both_backends! { nvx_08 => nvx_08_operator_token_route; }

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nvr_06_tel_and_ipport_ciba_tokens_are_refused_by_number_verification() {
    let s = start(Backend::Memory).await;
    for hint in ["tel:+34600000001", "ipport:127.0.0.1", "ipport:127.0.0.1:40000"] {
        let t = s.ciba_token(hint).await;
        assert_eq!(t.status, 200, "{hint}: {}", t.raw);
        assert_eq!(jwt_part(t.access_token(), 1)["amr"], json!(["asserted"]), "{hint}: P-19");
        let (st, body) = s.verify_number(t.access_token(), MSISDN_1).await;
        assert_eq!((st, body["code"].as_str()), (403, Some("NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK")), "{hint}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_cb_backchannel_errors() {
    let s = start(Backend::Memory).await;
    let cases: Vec<(Vec<(&str, &str)>, u16, &str)> = vec![
        (vec![("scope", SCOPE)], 400, "invalid_request"),
        (vec![("scope", SCOPE), ("login_hint_token", "x")], 400, "invalid_request"),
        (vec![("scope", SCOPE), ("login_hint", "tel:+34600000001"), ("id_token_hint", "x")], 400, "invalid_request"),
        (vec![("scope", SCOPE), ("login_hint", "mailto:a@b")], 400, "invalid_request"),
        (vec![("scope", SCOPE), ("login_hint", "tel:12345")], 400, "invalid_request"),
        (vec![("scope", SCOPE), ("login_hint", "ipport:[::1")], 400, "invalid_request"),
        (vec![("scope", SCOPE), ("login_hint", "ipport:127.0.0.3")], 400, "unknown_user_id"),
        (vec![("scope", SCOPE), ("login_hint", "operatortoken:forged")], 400, "unknown_user_id"),
        (vec![("scope", "dpv:FraudPreventionAndDetection number-verification:verify"), ("login_hint", "tel:+34600000001")], 400, "invalid_request"),
        (vec![("scope", "openid number-verification:verify"), ("login_hint", "tel:+34600000001")], 400, "invalid_scope"),
        (vec![("scope", SCOPE), ("login_hint", "tel:+34600000001"), ("binding_message", "hi"), ("user_code", "1"), ("requested_expiry", "30")], 200, ""),
    ];
    for (params, status, error) in cases {
        let r = s.bc_authorize(&params).await;
        assert_eq!(r.status, status, "{params:?}: {}", r.raw);
        if !error.is_empty() {
            assert_eq!(r.error(), Some(error), "{params:?}");
        }
    }
    // E-CB-06: no client authentication.
    let r = s.http.post(s.url("/bc-authorize")).form(&[("scope", SCOPE), ("login_hint", "tel:+34600000001")]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Unknown or foreign auth_req_id (E-TK-21).
    assert_eq!(s.poll("nope").await.error(), Some("invalid_grant"));
    s.stop().await;

    // E-CB-02 and E-CB-07.
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        c.clients[0].ciba_login_hints = vec!["operatortoken".into()];
    }))
    .await;
    let r = s.bc_authorize(&[("scope", SCOPE), ("login_hint", "tel:+34600000001")]).await;
    assert_eq!((r.status, r.error()), (403, Some("access_denied")), "{}", r.raw);
    s.stop().await;
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.clients[0].grant_types = vec!["authorization_code".into()])).await;
    let r = s.bc_authorize(&[("scope", SCOPE), ("login_hint", "tel:+34600000001")]).await;
    assert_eq!((r.status, r.error()), (400, Some("unauthorized_client")), "{}", r.raw);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p47_pending_slow_down_decision_and_expiry() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        c.ciba.consent_purposes = vec!["dpv:FraudPreventionAndDetection".into()];
        c.ciba.test_approval = true;
        c.ciba.interval_s = 2;
    }))
    .await;
    let r = s.bc_authorize(&[("scope", SCOPE), ("login_hint", "tel:+34600000002")]).await;
    let id = r.json["auth_req_id"].as_str().unwrap().to_owned();
    assert_eq!(s.poll(&id).await.error(), Some("authorization_pending"), "E-TK-22");
    assert_eq!(s.poll(&id).await.error(), Some("slow_down"), "E-TK-23: faster than the interval");
    assert_eq!(s.decide(&id, "allow").await, 204);
    assert_eq!(s.decide(&id, "allow").await, 404, "decided once");
    let t = s.poll(&id).await;
    assert_eq!(t.status, 200, "{}", t.raw);

    let r = s.bc_authorize(&[("scope", SCOPE), ("login_hint", "tel:+34600000002")]).await;
    let id = r.json["auth_req_id"].as_str().unwrap().to_owned();
    assert_eq!(s.decide(&id, "deny").await, 204);
    assert_eq!(s.poll(&id).await.error(), Some("access_denied"), "E-TK-20");

    let r = s.bc_authorize(&[("scope", SCOPE), ("login_hint", "tel:+34600000002")]).await;
    let id = r.json["auth_req_id"].as_str().unwrap().to_owned();
    s.clock.advance(121);
    assert_eq!(s.poll(&id).await.error(), Some("expired_token"), "E-TK-24");
    // The approval endpoint needs the admin token.
    let st = s.http.post(s.url("/test/ciba/decide")).json(&json!({"auth_req_id": id, "action": "allow"})).send().await.unwrap().status();
    assert_eq!(st, 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ciba_test_approval_is_off_by_default() {
    let s = start(Backend::Memory).await;
    assert_eq!(s.decide("x", "allow").await, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p40_signed_ciba_request() {
    let s = start(Backend::Memory).await;
    let now = s.now();
    let obj = |aud: &str| {
        sign_client_jwt(&json!({"iss": CLIENT_ID, "aud": aud, "iat": now, "exp": now + 60, "nbf": now,
            "jti": random_b64(8), "scope": SCOPE, "login_hint": "tel:+34600000001"}))
    };
    let good = obj(&s.url("/bc-authorize"));
    let r = s.bc_authorize(&[("request", &good)]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = s.bc_authorize(&[("request", &good)]).await;
    assert_eq!(r.error(), Some("invalid_request_object"), "replayed");
    let r = s.bc_authorize(&[("request", &obj("https://other.example/bc"))]).await;
    assert_eq!(r.error(), Some("invalid_request_object"), "P-41 foreign aud");
    s.stop().await;
}
