//! Authorization-server endpoints beyond the code flow: signed request objects (P-23..P-30),
//! client credentials (P-59..P-62, NVR-08), introspection (S-09, NVX-27), revocation (S-10),
//! userinfo, and the per-client default purpose.


use crate::common::*;
use serde_json::{json, Value};

impl TestServer {
    /// Outer query: the four mirrored parameters and `request`.
    fn signed_request(&self, req: &AuthRequest, jwt: &str) -> AuthRequest {
        let keep = ["scope", "response_type", "client_id", "redirect_uri"];
        let mut outer = req.clone_params(&keep);
        outer.params.push(("request".into(), jwt.into()));
        outer
    }
}

trait CloneParams {
    fn clone_params(&self, keep: &[&str]) -> AuthRequest;
}

impl CloneParams for AuthRequest {
    fn clone_params(&self, keep: &[&str]) -> AuthRequest {
        let mut r = AuthRequest::new(SCOPE_VERIFY);
        r.params = self.params.iter().filter(|(k, _)| keep.contains(&k.as_str())).cloned().collect();
        r.verifier = self.verifier.clone();
        r.state = self.state.clone();
        r.nonce = self.nonce.clone();
        r
    }
}

async fn p23_signed_request_object_flow(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let jwt = s.request_object(&req, json!({}));
    let outer = s.signed_request(&req, &jwt);
    let o = s.authorize(DEVICE_1, &outer).await;
    // state and nonce came only from the signed object (P-26).
    assert_success_redirect(&s, &o, &req);
    let code = o.get("code").unwrap().to_owned();
    let t = s.redeem(&code, &req.verifier).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let id = jwt_part(t.json["id_token"].as_str().unwrap(), 1);
    assert_eq!(id["nonce"], json!(req.nonce), "nonce from the request object");
    assert_eq!(s.verify_number(t.access_token(), MSISDN_1).await.1["devicePhoneNumberVerified"], json!(true));

    // P-30: the same object again is refused. Its state is not echoed: a rejected object's
    // contents are not trusted, and the outer query carries none.
    let o = s.authorize(DEVICE_1, &outer).await;
    assert_redirect_error(&s, &o, &outer, "invalid_request_object");
    s.stop().await;
}

both_backends! { p23_request_object => p23_signed_request_object_flow; }

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p24_to_p28_request_object_rules() {
    let s = start(Backend::Memory).await;
    let now = s.now();
    let req = AuthRequest::new(SCOPE_VERIFY);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("P-28 aud of another server", json!({"aud": "https://other.example/authorize"}), "invalid_request_object"),
        ("P-28 aud list of two", json!({"aud": [s.url("/authorize"), "https://x"]}), "invalid_request_object"),
        ("P-25 no exp", json!({"exp": null}), "invalid_request_object"),
        ("P-25 no iat", json!({"iat": null}), "invalid_request_object"),
        ("P-25 no jti", json!({"jti": null}), "invalid_request_object"),
        ("P-27 iat in the future", json!({"iat": now + 60, "exp": now + 120}), "invalid_request_object"),
        ("P-27 exp - iat > 300", json!({"iat": now, "exp": now + 301}), "invalid_request_object"),
        ("expired", json!({"iat": now - 200, "exp": now - 100}), "invalid_request_object"),
        ("iss not the client", json!({"iss": "someone-else"}), "invalid_request_object"),
        ("P-24 inner scope differs", json!({"scope": SCOPE_SHARE}), "invalid_request_object"),
        ("P-24 inner redirect_uri missing", json!({"redirect_uri": null}), "invalid_request_object"),
    ];
    for (name, extra, want) in cases {
        let jwt = s.request_object(&req, extra);
        let o = s.authorize(DEVICE_1, &s.signed_request(&req, &jwt)).await;
        assert_eq!(o.status, 302, "{name}: {}", o.body);
        assert_eq!(o.get("error"), Some(want), "{name}");
        assert!(o.get("code").is_none(), "{name}");
    }
    // Signed by a key the client does not have.
    let now = s.now();
    let mut claims = json!({"iss": CLIENT_ID, "aud": s.url("/authorize"), "iat": now, "exp": now + 60, "jti": "x1"});
    for (k, v) in &req.params {
        claims[k] = json!(v);
    }
    let forged = jsonwebtoken::encode(&es256_header(), &claims, &foreign_key()).unwrap();
    let o = s.authorize(DEVICE_1, &s.signed_request(&req, &forged)).await;
    assert_eq!(o.get("error"), Some("invalid_request_object"));
    // alg=none.
    let o = s.authorize(DEVICE_1, &s.signed_request(&req, &alg_none_jwt(&claims, ""))).await;
    assert_eq!(o.get("error"), Some("invalid_request_object"));
    // P-24: a mirrored parameter missing from the query.
    let jwt = s.request_object(&req, json!({}));
    let mut outer = s.signed_request(&req, &jwt);
    outer.params.retain(|(k, _)| k != "scope");
    let o = s.authorize(DEVICE_1, &outer).await;
    assert_eq!(o.get("error"), Some("invalid_request"));
    s.stop().await;
}

async fn client_credentials_form(s: &TestServer, scope: Option<&str>) -> TokenReply {
    let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
    if let Some(sc) = scope {
        form.push(("scope".into(), sc.into()));
    }
    s.token_raw(&with_assertion(form, &s.assertion())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p59_to_p62_client_credentials() {
    // demo-app is not onboarded for client_credentials: E-TK-02.
    let s = start(Backend::Memory).await;
    let r = client_credentials_form(&s, Some("number-verification:verify")).await;
    assert_eq!((r.status, r.error()), (400, Some("unauthorized_client")), "{}", r.raw);
    s.stop().await;

    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        c.clients[0].grant_types.push("client_credentials".into());
        c.clients[0].scopes.push("quality-on-demand:sessions:read".into());
    }))
    .await;
    let r = client_credentials_form(&s, Some("number-verification:verify")).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_scope")), "NVX-22 / NVR-08: {}", r.raw);
    let r = client_credentials_form(&s, None).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_request")), "P-60 / O-02: {}", r.raw);
    let r = client_credentials_form(&s, Some("openid quality-on-demand:sessions:read")).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_scope")), "no user, no openid: {}", r.raw);
    let r = client_credentials_form(&s, Some("quality-on-demand:sessions:read")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.json.get("id_token").is_none() && r.json.get("refresh_token").is_none(), "P-62");
    // A two-legged token has no subscriber: Number Verification refuses it (NVR-08).
    let (st, body) = s.verify_number(r.access_token(), MSISDN_1).await;
    assert_eq!(st, 403, "{body}");
    s.stop().await;
}

impl TestServer {
    async fn post_form(&self, path: &str, mut form: Vec<(String, String)>, aud: &str) -> (u16, Value) {
        let now = self.now();
        let claims = json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": aud, "jti": random_b64(16), "iat": now, "exp": now + 60});
        form = with_assertion(form, &sign_client_jwt(&claims));
        let r = self.http.post(self.url(path)).form(&form).send().await.unwrap();
        let st = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (st, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn s09_s10_introspection_and_revocation(b: Backend) {
    let s = start(b).await;
    let at = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let form = vec![("token".to_string(), at.clone())];
    let (st, v) = s.post_form("/introspect", form.clone(), &s.url("/introspect")).await;
    assert_eq!(st, 200);
    assert_eq!(v["active"], json!(true));
    assert_eq!(v["client_id"], json!(CLIENT_ID));
    assert!(!v.to_string().contains("600000001"), "no MSISDN in introspection: {v}");
    // Unauthenticated callers are refused.
    let r = s.http.post(s.url("/introspect")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // NVX-27: spent by Number Verification -> inactive.
    assert_eq!(s.verify_number(&at, MSISDN_1).await.0, 200);
    let (_, v) = s.post_form("/introspect", form.clone(), &s.url("/introspect")).await;
    assert_eq!(v, json!({"active": false}));
    let (_, v) = s.post_form("/introspect", vec![("token".into(), "garbage".into())], &s.issuer()).await;
    assert_eq!(v, json!({"active": false}));

    // S-10: a revoked token is refused by the resource server from then on.
    let at = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, _) = s.post_form("/revoke", vec![("token".into(), at.clone())], &s.url("/revoke")).await;
    assert_eq!(st, 200);
    assert_eq!(s.verify_number(&at, MSISDN_1).await.0, 401);
    let (st, _) = s.post_form("/revoke", vec![("token".into(), "unknown".into())], &s.url("/revoke")).await;
    assert_eq!(st, 200, "RFC 7009: unknown tokens are fine");
    s.stop().await;
}

both_backends! { s09_s10 => s09_s10_introspection_and_revocation; }

impl TestServer {
    fn issuer(&self) -> String {
        self.base.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn userinfo_answers_sub_and_does_not_spend_the_token() {
    let s = start(Backend::Memory).await;
    let t = s.token_reply_for(DEVICE_1, &AuthRequest::new(SCOPE_VERIFY)).await;
    let at = t.access_token().to_owned();
    let id = jwt_part(t.json["id_token"].as_str().unwrap(), 1);
    let r = s.http.get(s.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"sub": id["sub"]}), "sub only, equal to the ID token's");
    assert_eq!(s.verify_number(&at, MSISDN_1).await.0, 200, "userinfo did not spend the NV token");
    let r = s.http.get(s.url("/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = s.http.get(s.url("/userinfo")).bearer_auth("x.y.z").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A token without openid: 403 insufficient_scope.
    let at = s.access_token(DEVICE_1, "dpv:FraudPreventionAndDetection number-verification:verify").await;
    let r = s.http.get(s.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(r.status(), 403);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p80_default_purpose_only_where_configured() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new("openid number-verification:verify");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "invalid_scope");
    s.stop().await;

    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        c.clients[0].default_purpose = Some(PURPOSE.into());
    }))
    .await;
    let t = s.token_reply_for(DEVICE_1, &AuthRequest::new("openid")).await;
    assert!(t.json["scope"].as_str().unwrap().contains(PURPOSE), "{}", t.raw);
    s.stop().await;
}
