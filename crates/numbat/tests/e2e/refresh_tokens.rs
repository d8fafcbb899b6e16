//! Refresh tokens and offline access (issue 4 item 4; P-53..P-58, NVR-03, E-TK-40, OIDC Core
//! §11/§12, RFC 7009 S-10, RFC 7662 S-09).


use crate::common::*;
use crate::consent_flow::*;
use serde_json::json;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// P-53, P-54, P-57: offline_access (consented on the page) → a refresh token; every use rotates
/// it; presenting a rotated-out one revokes the whole grant, its access tokens included.
async fn p53_p57_rotation_and_reuse_detection(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| offline_client(c, "contract"))).await;
    let t0 = approved_tokens(&s, DEVICE_1, OFFLINE_SCOPE).await;
    let rt1 = t0.json["refresh_token"].as_str().expect("P-53: a refresh token with offline_access").to_owned();
    assert!(t0.json["scope"].as_str().unwrap().contains("offline_access"), "{}", t0.raw);
    assert!(t0.json["id_token"].is_string());

    // P-57: rotation on every use; OIDC §12.2: an ID token may come along.
    let t1 = refresh(&s, &rt1).await;
    assert_eq!(t1.status, 200, "{}", t1.raw);
    assert_eq!(t1.header("cache-control"), Some("no-store"));
    let rt2 = t1.json["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "P-57: rotated");
    assert_ne!(t1.access_token(), t0.access_token());
    let (st, info) = userinfo(&s, t1.access_token()).await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["sub"], jwt_part(t0.json["id_token"].as_str().unwrap(), 1)["sub"], "same pairwise sub");

    let t2 = refresh(&s, &rt2).await;
    assert_eq!(t2.status, 200, "{}", t2.raw);
    let rt3 = t2.json["refresh_token"].as_str().unwrap().to_owned();
    let v = introspect(&s, &rt3).await;
    assert_eq!((v["active"].as_bool(), v["token_type"].as_str()), (Some(true), Some("refresh_token")), "S-09: {v}");
    assert!(!v.to_string().contains("600000001"), "no MSISDN in introspection: {v}");
    assert_eq!(introspect(&s, &rt1).await["active"], false, "a rotated-out token is inactive");

    // P-57: rt1 again → invalid_grant, and the whole grant is gone.
    let again = refresh(&s, &rt1).await;
    assert_eq!((again.status, again.error()), (400, Some("invalid_grant")), "E-TK-40: {}", again.raw);
    let r = refresh(&s, &rt3).await;
    assert_eq!(r.error(), Some("invalid_grant"), "P-57: the live token of the grant is revoked too");
    assert_eq!(introspect(&s, t2.access_token()).await["active"], false, "its access tokens too");
    assert_eq!(userinfo(&s, t2.access_token()).await.0, 401);
    s.stop().await;
}

/// NVR-03, P-58: never a refresh token beside a Number Verification scope; P-55: never for
/// client credentials or JWT bearer; a client without the refresh grant cannot use it.
async fn p55_p58_where_refresh_tokens_never_come(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| {
        offline_client(c, "contract");
        c.clients[0].grant_types.push("client_credentials".into());
        c.clients[0].scopes.push("sim-swap:check".into());
    }))
    .await;
    let nv = AuthRequest::new(&format!("{SCOPE_VERIFY} offline_access"));
    let r = s.token_reply_for(DEVICE_1, &nv).await;
    assert!(r.json.get("refresh_token").is_none(), "NVR-03 / NVX-06: {}", r.raw);
    assert!(!r.json["scope"].as_str().unwrap().contains("offline_access"), "NVR-03: ignored: {}", r.raw);

    // P-55: client credentials refuses offline_access (P-59: it has no user).
    let form = vec![
        ("grant_type".to_string(), "client_credentials".to_string()),
        ("scope".to_string(), "sim-swap:check offline_access".to_string()),
    ];
    let r = s.token_raw(&with_assertion(form, &s.assertion())).await;
    assert_eq!(r.error(), Some("invalid_scope"), "{}", r.raw);
    assert!(r.json.get("refresh_token").is_none());

    // P-55: JWT bearer ignores it and never answers a refresh token.
    let now = s.now();
    let a = sign_client_jwt(&json!({"iss": CLIENT_ID, "sub": "tel:+34600000001", "aud": s.token_endpoint(), "iat": now,
        "exp": now + 60, "jti": random_b64(12), "scope": "dpv:FraudPreventionAndDetection number-verification:verify offline_access"}));
    let r = s.token_raw(&[("grant_type".into(), JWT_BEARER.into()), ("assertion".into(), a)]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.json.get("refresh_token").is_none(), "P-55: {}", r.raw);
    s.stop().await;

    // P-07: a client not allowed the refresh grant.
    let s = start(b).await;
    let r = refresh(&s, "whatever").await;
    assert_eq!(r.error(), Some("unauthorized_client"), "{}", r.raw);
    s.stop().await;
}

both_backends! {
    p53_p57_rotation => p53_p57_rotation_and_reuse_detection;
    p55_p58_never => p55_p58_where_refresh_tokens_never_come;
}

/// E-TK-40: another client's refresh token is invalid_grant, and not spent by the attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_40_another_clients_refresh_token() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        offline_client(c, "contract");
        let mut other = c.clients[0].clone();
        other.client_id = "other-app".into();
        c.clients.push(other);
    }))
    .await;
    let rt = approved_tokens(&s, DEVICE_1, OFFLINE_SCOPE).await.json["refresh_token"].as_str().unwrap().to_owned();
    let now = s.now();
    let other = sign_client_jwt(&json!({"iss": "other-app", "sub": "other-app", "aud": s.token_endpoint(),
        "jti": random_b64(16), "iat": now, "exp": now + 60}));
    let r = refresh_with(&s, &[("refresh_token", &rt)], &other).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_grant")), "{}", r.raw);
    let r = refresh(&s, &rt).await;
    assert_eq!(r.status, 200, "the owner's token still works: {}", r.raw);
    // Garbage, oversized and missing tokens.
    for bad in ["nope", &"x".repeat(5000)] {
        assert_eq!(refresh(&s, bad).await.error(), Some("invalid_grant"), "{}", bad.len());
    }
    let r = refresh_with(&s, &[], &s.assertion()).await;
    assert_eq!(r.error(), Some("invalid_request"), "{}", r.raw);
    s.stop().await;
}

/// RFC 6749 §6: a narrower scope may be asked for on refresh, never a wider one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rfc6749_6_refresh_scope_can_only_narrow() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "contract"))).await;
    let rt = approved_tokens(&s, DEVICE_1, OFFLINE_SCOPE).await.json["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh_with(&s, &[("refresh_token", &rt), ("scope", "openid dpv:ServiceProvision phone sim-swap:check")], &s.assertion()).await;
    assert_eq!(r.error(), Some("invalid_scope"), "E-TK-04: {}", r.raw);
    // A refused request does not spend the token.
    let r = refresh_with(&s, &[("refresh_token", &rt), ("scope", "openid dpv:ServiceProvision")], &s.assertion()).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json["scope"], "openid dpv:ServiceProvision");
    assert!(r.json["refresh_token"].is_string());
    s.stop().await;
}

/// S-10: revoking a refresh token revokes its grant and the grant's access tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s10_revoking_a_refresh_token_revokes_the_grant() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "contract"))).await;
    let t = approved_tokens(&s, DEVICE_1, OFFLINE_SCOPE).await;
    let rt = t.json["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&s, t.access_token()).await["active"], true);
    assert_eq!(revoke(&s, &rt).await, 200);
    assert_eq!(refresh(&s, &rt).await.error(), Some("invalid_grant"));
    assert_eq!(introspect(&s, t.access_token()).await["active"], false, "the grant's access token");
    assert_eq!(introspect(&s, &rt).await["active"], false);
    s.stop().await;
}

/// RFC 6749 §4.1.2: a replayed code revokes what it produced, the refresh-token grant included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s02_replayed_code_revokes_the_grant() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "contract"))).await;
    let req = interactive(OFFLINE_SCOPE);
    let code = approved_code(&s, DEVICE_1, &req).await;
    let t = s.redeem(&code, &req.verifier).await;
    let rt = t.json["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(s.redeem(&code, &req.verifier).await.error(), Some("invalid_grant"));
    assert_eq!(refresh(&s, &rt).await.error(), Some("invalid_grant"), "the grant died with the replay");
    s.stop().await;
}

/// P-54 / OIDC Core §11: offline_access without consent and without interaction is ignored;
/// with the consent on record it is honoured under prompt=none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p54_offline_access_needs_consent() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "contract"))).await;
    let r = s.token_reply_for(DEVICE_1, &AuthRequest::new(OFFLINE_SCOPE)).await;
    assert!(r.json.get("refresh_token").is_none(), "P-54: no consent, no refresh token: {}", r.raw);
    assert!(!r.json["scope"].as_str().unwrap().contains("offline_access"), "{}", r.raw);
    approved_tokens(&s, DEVICE_1, OFFLINE_SCOPE).await;
    let r = s.token_reply_for(DEVICE_1, &AuthRequest::new(OFFLINE_SCOPE)).await;
    assert!(r.json["refresh_token"].is_string(), "consent on record: {}", r.raw);
    // Another subscriber has not consented.
    let r = s.token_reply_for(DEVICE_2, &AuthRequest::new(OFFLINE_SCOPE)).await;
    assert!(r.json.get("refresh_token").is_none(), "{}", r.raw);
    s.stop().await;
}

/// P-56: a withdrawn consent stops refresh (invalid_grant) and new tokens (consent_required).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p56_revoked_consent_stops_refresh() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "consent"))).await;
    let t = approved_tokens(&s, DEVICE_1, OFFLINE_SCOPE).await;
    let rt = t.json["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh(&s, &rt).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let rt = r.json["refresh_token"].as_str().unwrap().to_owned();
    let (st, v) = admin_consents(&s, "revoke", serde_json::json!({"msisdn": MSISDN_1, "client_id": CLIENT_ID})).await;
    assert_eq!((st, v["revoked"].as_u64()), (200, Some(1)), "{v}");
    let r = refresh(&s, &rt).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_grant")), "P-56 / E-TK-40: {}", r.raw);
    let req = AuthRequest::new(OFFLINE_SCOPE);
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "consent_required");
    s.stop().await;
}

/// CIBA (P-53): offline_access in the backchannel request, approved on the authentication
/// device, brings a refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p53_ciba_offline_access() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        offline_client(c, "contract");
        c.ciba.test_approval = true;
    }))
    .await;
    let now = s.now();
    let a = sign_client_jwt(&json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": s.url("/bc-authorize"),
        "jti": random_b64(16), "iat": now, "exp": now + 60}));
    let form = with_assertion(
        vec![("scope".into(), "openid dpv:ServiceProvision offline_access".into()), ("login_hint".into(), "tel:+34600000001".into())],
        &a,
    );
    let r = read_token_reply(s.http.post(s.url("/bc-authorize")).form(&form).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let id = r.json["auth_req_id"].as_str().unwrap().to_owned();
    let poll = |id: String| {
        let s = &s;
        async move {
            let form = vec![("grant_type".to_string(), "urn:openid:params:grant-type:ciba".to_string()), ("auth_req_id".to_string(), id)];
            s.token_raw(&with_assertion(form, &s.assertion())).await
        }
    };
    assert_eq!(poll(id.clone()).await.error(), Some("authorization_pending"), "P-54: offline access waits for consent");
    let st = s
        .http
        .post(s.url("/test/ciba/decide"))
        .bearer_auth(ADMIN)
        .json(&json!({"auth_req_id": id, "action": "allow"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 204);
    s.clock.advance(3);
    let t = poll(id).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let rt = t.json["refresh_token"].as_str().expect("P-53: CIBA refresh token").to_owned();
    assert_eq!(refresh(&s, &rt).await.status, 200);
    s.stop().await;
}
