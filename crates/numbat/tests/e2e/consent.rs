//! Consent (issue 4 item 5; P-20, P-21, P-22, P-45, P-56, P-69, E-AZ-03, E-AZ-06, E-TK-20,
//! E-TK-30) and userinfo's phone claims (issue 4 item 6, P-76).


use crate::common::*;
use crate::consent_flow::*;
use serde_json::json;

const SP_SCOPE: &str = "openid dpv:ServiceProvision phone";

/// P-20, P-21: the consent page (headers, anti-framing, cookie); approval records the consent
/// and gives a code; from then on prompt=none needs no page; the admin API lists it.
async fn p20_p21_consent_page_and_approval(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| offline_client(c, "consent"))).await;
    let req = interactive(SP_SCOPE);
    let f = consent_page(&s, DEVICE_1, &req).await;
    assert!(f.header("content-type").starts_with("text/html"));
    assert_eq!(f.header("x-frame-options"), "DENY", "P-21: no framing");
    let csp = f.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self' http://127.0.0.1:9999"), "{csp}");
    assert_eq!(f.header("cache-control"), "no-store");
    let cookie = f.header("set-cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(f.body.contains(SP) && f.body.contains("phone"), "{}", f.body);
    assert!(!f.body.contains("600000001"), "no MSISDN on the page");
    // P-21: the confirmation code went to the operator's gateway, not into the page.
    assert_eq!(f.sent, json!({"msisdn": MSISDN_1, "code": f.code, "client_id": CLIENT_ID, "purpose": SP}));
    assert!(f.code.len() == 6 && f.code.bytes().all(|b| b.is_ascii_digit()), "{}", f.code);
    assert!(f.body.contains("name=\"confirmation\"") && !f.body.contains(&f.code), "{}", f.body);

    s.clock.advance(2);
    let o = decide(&s, DEVICE_1, &f, "approve").await;
    let code = assert_code(&s, &o, &req);
    let t = s.redeem(&code, &req.verifier).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert!(t.json.get("refresh_token").is_none(), "no offline_access asked");

    // On record now: prompt=none goes straight through (P-20).
    s.token_reply_for(DEVICE_1, &AuthRequest::new(SP_SCOPE)).await;
    // A wider request (a scope not consented to) needs consent again.
    let wider = AuthRequest::new("openid dpv:ServiceProvision phone offline_access");
    let o = s.authorize(DEVICE_1, &wider).await;
    assert_success_redirect(&s, &o, &wider); // only offline_access is missing: ignored (OIDC §11)
    let (st, v) = admin_consents(&s, "search", json!({"msisdn": MSISDN_1})).await;
    assert_eq!(st, 200, "{v}");
    let list = v["consents"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!((list[0]["client_id"].as_str(), list[0]["purpose"].as_str()), (Some(CLIENT_ID), Some(SP)));
    assert_eq!(list[0]["legal_basis"], "consent");
    assert!(!v.to_string().contains("600000001"), "{v}");
    let (_, v) = admin_consents(&s, "search", json!({"msisdn": MSISDN_2})).await;
    assert_eq!(v["consents"], json!([]), "another subscriber");
    s.stop().await;
}

/// E-AZ-06, P-22: where consent is needed and not on record, prompt=none and every Number
/// Verification request (implied prompt=none) get consent_required, never a page.
async fn e_az_06_consent_required_without_interaction(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| {
        offline_client(c, "consent");
        c.consent.legal_basis.insert(PURPOSE.into(), "consent".into());
    }))
    .await;
    let req = AuthRequest::new(SP_SCOPE);
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "consent_required");
    for nv in [AuthRequest::new(SCOPE_VERIFY), interactive(SCOPE_VERIFY), interactive(SCOPE_VERIFY).set("prompt", "consent")] {
        let o = s.authorize(DEVICE_1, &nv).await;
        assert_redirect_error(&s, &o, &nv, "consent_required");
    }
    s.stop().await;
}

both_backends! {
    p20_p21_consent_page => p20_p21_consent_page_and_approval;
    e_az_06_consent_required => e_az_06_consent_required_without_interaction;
    p21_bot_on_the_device_needs_the_code => p21_app_on_the_device_cannot_approve_without_the_code;
}

/// E-AZ-03: a refusal redirects with access_denied and records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_az_03_denied_consent() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "consent"))).await;
    let req = interactive(SP_SCOPE);
    let f = consent_page(&s, DEVICE_1, &req).await;
    s.clock.advance(2);
    let o = decide(&s, DEVICE_1, &f, "deny").await;
    assert_redirect_error(&s, &o, &req, "access_denied");
    let o = decide(&s, DEVICE_1, &f, "approve").await;
    assert_error_page(&o); // decided once
    let again = AuthRequest::new(SP_SCOPE);
    assert_redirect_error(&s, &s.authorize(DEVICE_1, &again).await, &again, "consent_required");
    s.stop().await;
}

/// P-21: what a hostile page or app could try: no CSRF token, a forged one, no cookie, a
/// cross-site POST, another device, an instant decision, a replay. None completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p21_consent_cannot_be_forged_or_automated() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "consent"))).await;
    let req = interactive(SP_SCOPE);
    let f = consent_page(&s, DEVICE_1, &req).await;
    let cookie = format!("numbat_consent={}", f.cookie);
    let good_headers = [("cookie", cookie.as_str()), ("origin", s.base.as_str())];
    let (p, c) = (f.pending.as_str(), f.csrf.as_str());

    // Too fast: the minimum human delay (nothing is spent).
    let o = post_consent(&s, DEVICE_1, &[("pending", p), ("csrf", c), ("decision", "approve")], &good_headers).await;
    assert_error_page(&o);
    s.clock.advance(2);
    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Fields, Fields)> = vec![
        ("no CSRF token", vec![("pending", p), ("decision", "approve")], good_headers.to_vec()),
        ("forged CSRF token", vec![("pending", p), ("csrf", "forged"), ("decision", "approve")], good_headers.to_vec()),
        ("pending id of nothing", vec![("pending", "nope"), ("csrf", c), ("decision", "approve")], good_headers.to_vec()),
        ("no cookie", vec![("pending", p), ("csrf", c), ("decision", "approve")], vec![("origin", s.base.as_str())]),
        ("cross-site Origin", vec![("pending", p), ("csrf", c), ("decision", "approve")],
            vec![("cookie", cookie.as_str()), ("origin", "https://evil.example")]),
        ("Sec-Fetch-Site cross-site", vec![("pending", p), ("csrf", c), ("decision", "approve")],
            vec![("cookie", cookie.as_str()), ("sec-fetch-site", "cross-site")]),
        ("no decision", vec![("pending", p), ("csrf", c)], good_headers.to_vec()),
        ("repeated field", vec![("pending", p), ("csrf", c), ("csrf", c), ("decision", "approve")], good_headers.to_vec()),
    ];
    for (name, fields, headers) in cases {
        let o = post_consent(&s, DEVICE_1, &fields, &headers).await;
        assert_error_page(&o);
        assert!(o.location.is_none(), "{name}");
    }
    // Another device (another subscriber) cannot decide for this one; an unidentified one neither.
    for dev in [DEVICE_2, DEVICE_UNBOUND] {
        let o = post_consent(&s, dev, &[("pending", p), ("csrf", c), ("decision", "approve")], &good_headers).await;
        assert_eq!(o.status, 400, "{dev}: {}", o.body);
        assert!(o.location.is_none());
    }
    // The genuine decision still works after all that, once.
    let o = decide(&s, DEVICE_1, &f, "approve").await;
    assert_code(&s, &o, &req);
    let o = decide(&s, DEVICE_1, &f, "approve").await;
    assert_error_page(&o); // reused CSRF token / pending record
    // The page expires.
    let f = consent_page(&s, DEVICE_1, &interactive("openid dpv:ServiceProvision").set("prompt", "consent")).await;
    s.clock.advance(301);
    assert_error_page(&decide(&s, DEVICE_1, &f, "approve").await);
    // GET on the decision endpoint is not a decision.
    let r = device(DEVICE_1).get(s.url("/authorize/consent")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    s.stop().await;
}

/// P-21, the review's scenario: a script on the subscriber's own device loads the page, keeps
/// the cookie, scrapes the pending id and CSRF token, sends no Origin / Sec-Fetch-Site, waits,
/// and approves. Without the code the operator sent out of band it cannot complete: no code,
/// a wrong one, another page's, a spent one, and after 3 tries the page is gone. The subscriber
/// with the code can; denying needs none.
async fn p21_app_on_the_device_cannot_approve_without_the_code(b: Backend) {
    let s = start_spec(Spec::new(b).tweak(|c| offline_client(c, "consent"))).await;
    let req = interactive(SP_SCOPE);
    let a = consent_page(&s, DEVICE_1, &req).await;
    let b = consent_page(&s, DEVICE_1, &req).await;
    s.clock.advance(2);
    let bot = |f: &ConsentForm, code: Option<String>| {
        let cookie = format!("numbat_consent={}", f.cookie);
        let (p, c) = (f.pending.clone(), f.csrf.clone());
        let s = &s;
        async move {
            let mut fields = vec![("pending", p.as_str()), ("csrf", c.as_str()), ("decision", "approve")];
            if let Some(code) = &code {
                fields.push(("confirmation", code.as_str()));
            }
            post_consent(s, DEVICE_1, &fields, &[("cookie", cookie.as_str())]).await
        }
    };
    // Page A: no code, then B's code (bound to B's record), then a wrong one: closed.
    let other = if b.code != a.code { b.code.clone() } else { wrong_code(&a.code) };
    for (i, code) in [None, Some(other), Some(wrong_code(&a.code))].into_iter().enumerate() {
        let o = bot(&a, code).await;
        assert_error_page(&o);
        assert!(o.location.is_none(), "P-21: try {i} approved without the code");
        if i < 2 {
            assert!(o.body.contains(&format!("{} attempt", 2 - i)) && o.body.contains(&a.pending), "page again: {}", o.body);
        } else {
            assert!(o.body.contains("too many"), "{}", o.body);
        }
    }
    let o = bot(&a, Some(a.code.clone())).await;
    assert_error_page(&o);
    assert!(o.body.contains("unknown, expired or already decided"), "P-21: the page is destroyed: {}", o.body);
    let silent = AuthRequest::new(SP_SCOPE);
    assert_redirect_error(&s, &s.authorize(DEVICE_1, &silent).await, &silent, "consent_required");

    // Page B: the subscriber mistypes once, then enters the code: approved, once.
    let o = decide_with(&s, DEVICE_1, &b, "approve", Some(&wrong_code(&b.code))).await;
    assert_error_page(&o);
    assert!(o.body.contains("2 attempts left"), "{}", o.body);
    let spaced = format!("{} {}", &b.code[..3], &b.code[3..]);
    let code = assert_code(&s, &decide_with(&s, DEVICE_1, &b, "approve", Some(&spaced)).await, &req);
    assert_eq!(s.redeem(&code, &req.verifier).await.status, 200);
    let o = decide(&s, DEVICE_1, &b, "approve").await;
    assert_error_page(&o); // the code is spent with its page
    s.token_reply_for(DEVICE_1, &AuthRequest::new(SP_SCOPE)).await;

    // A spent code does not open the next page; denying needs no code.
    let c = consent_page(&s, DEVICE_1, &interactive(SP_SCOPE).set("prompt", "consent")).await;
    s.clock.advance(2);
    if c.code != b.code {
        assert!(bot(&c, Some(b.code.clone())).await.location.is_none(), "reused code");
    }
    let o = decide_with(&s, DEVICE_1, &c, "deny", None).await;
    assert_eq!(o.get("error"), Some("access_denied"), "{}", o.body);
    s.stop().await;
}

/// P-21: without the operator's confirmation channel nothing can be approved on the device, so
/// no page is shown: consent_required (E-AZ-06); only offline_access missing is ignored (OIDC
/// Core §11). A gateway that fails, or too many codes for one subscriber: no page either.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p21_no_confirmation_channel_means_no_consent_page() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        offline_client(c, "consent");
        c.consent.confirmation_channel = "none".into();
        c.consent.confirmation_webhook_url.clear();
    }))
    .await;
    for req in [interactive(SP_SCOPE), interactive(SP_SCOPE).set("prompt", "consent")] {
        assert_redirect_error(&s, &s.authorize(DEVICE_1, &req).await, &req, "consent_required");
    }
    s.stop().await;
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "contract"))).await;
    let g = gateway(&s);
    g.status.store(503, std::sync::atomic::Ordering::SeqCst);
    let req = interactive(OFFLINE_SCOPE);
    assert_redirect_error(&s, &s.authorize(DEVICE_1, &req).await, &req, "temporarily_unavailable");
    assert_eq!(g.received().len(), 1, "the gateway was asked");
    s.stop().await;
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        offline_client(c, "contract");
        c.consent.confirmation_channel = "none".into();
        c.consent.confirmation_webhook_url.clear();
    }))
    .await;
    let o = s.authorize(DEVICE_1, &req).await;
    assert_success_redirect(&s, &o, &req);
    let t = s.redeem(o.get("code").unwrap(), &req.verifier).await;
    assert!(t.status == 200 && t.json.get("refresh_token").is_none(), "{}", t.raw);
    s.stop().await;
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        offline_client(c, "consent");
        c.consent.confirmation_max_per_hour = 2;
    }))
    .await;
    let req = interactive(SP_SCOPE);
    consent_page(&s, DEVICE_1, &req).await;
    consent_page(&s, DEVICE_1, &req).await;
    assert_redirect_error(&s, &s.authorize(DEVICE_1, &req).await, &req, "temporarily_unavailable");
    consent_page(&s, DEVICE_2, &req).await; // another subscriber's own budget
    s.stop().await;
}

/// P-20: prompt=consent shows the page even with consent on record (not for NV: P-22).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p20_prompt_consent_asks_again() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "legitimate_interest"))).await;
    // legitimate_interest: no page without prompt=consent…
    let req = interactive("openid dpv:ServiceProvision");
    assert_success_redirect(&s, &s.authorize(DEVICE_1, &req).await, &req);
    // …but prompt=consent asks.
    let f = consent_page(&s, DEVICE_1, &interactive("openid dpv:ServiceProvision").set("prompt", "consent")).await;
    assert_eq!(f.status, 200);
    s.stop().await;
}

/// P-45, E-TK-20: CIBA under a consent basis waits for the decision; a refusal is access_denied;
/// an approval records the consent, so the next request completes at once (P-47). P-69,
/// E-TK-30: JWT bearer without consent is invalid_grant; with it, tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p45_p69_ciba_and_jwt_bearer_check_consent() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        c.consent.legal_basis.insert(PURPOSE.into(), "consent".into());
        c.ciba.test_approval = true;
    }))
    .await;
    let jwt_bearer = |s: &TestServer| {
        let now = s.now();
        let a = sign_client_jwt(&json!({"iss": CLIENT_ID, "sub": "tel:+34600000002", "aud": s.token_endpoint(), "iat": now,
            "exp": now + 60, "jti": random_b64(12), "scope": "dpv:FraudPreventionAndDetection number-verification:verify"}));
        vec![("grant_type".to_string(), "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string()), ("assertion".to_string(), a)]
    };
    let r = s.token_raw(&jwt_bearer(&s)).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_grant")), "P-69 / E-TK-30: {}", r.raw);
    assert!(r.json["error_description"].as_str().unwrap().contains("consent"), "{}", r.raw);

    let bc = |s: &TestServer| {
        let now = s.now();
        let a = sign_client_jwt(&json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": s.url("/bc-authorize"),
            "jti": random_b64(16), "iat": now, "exp": now + 60}));
        with_assertion(vec![("scope".into(), SCOPE_VERIFY.into()), ("login_hint".into(), "tel:+34600000002".into())], &a)
    };
    let poll = |s: &TestServer, id: &str| {
        with_assertion(
            vec![("grant_type".into(), "urn:openid:params:grant-type:ciba".into()), ("auth_req_id".into(), id.into())],
            &s.assertion(),
        )
    };
    let decide = |id: String, action: &'static str| {
        s.http.post(s.url("/test/ciba/decide")).bearer_auth(ADMIN).json(&json!({"auth_req_id": id, "action": action})).send()
    };
    let start_ciba = || async {
        let r = read_token_reply(s.http.post(s.url("/bc-authorize")).form(&bc(&s)).send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        r.json["auth_req_id"].as_str().unwrap().to_owned()
    };
    let id = start_ciba().await;
    assert_eq!(s.token_raw(&poll(&s, &id)).await.error(), Some("authorization_pending"), "P-45: waits for consent");
    assert_eq!(decide(id.clone(), "deny").await.unwrap().status(), 204);
    assert_eq!(s.token_raw(&poll(&s, &id)).await.error(), Some("access_denied"), "E-TK-20");

    let id = start_ciba().await;
    assert_eq!(decide(id.clone(), "allow").await.unwrap().status(), 204);
    assert_eq!(s.token_raw(&poll(&s, &id)).await.status, 200);
    // Consent on record now: the next request completes on the first poll (P-47), and JWT
    // bearer passes (P-69).
    let id = start_ciba().await;
    let t = s.token_raw(&poll(&s, &id)).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let r = s.token_raw(&jwt_bearer(&s)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    // Revoked: JWT bearer refused again.
    let (st, _) = admin_consents(&s, "revoke", json!({"msisdn": MSISDN_2, "client_id": CLIENT_ID, "purpose": PURPOSE})).await;
    assert_eq!(st, 200);
    assert_eq!(s.token_raw(&jwt_bearer(&s)).await.error(), Some("invalid_grant"));
    s.stop().await;
}

/// The admin API: the admin token, the JSON body (the MSISDN never in a URL), list and revoke.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_consents_api() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| offline_client(c, "consent"))).await;
    let post = |action: &str, token: Option<&str>| {
        let rb = s.http.post(s.url(&format!("/admin/consents/{action}"))).json(&json!({"msisdn": MSISDN_1}));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
        .send()
    };
    for action in ["search", "revoke"] {
        assert_eq!(post(action, None).await.unwrap().status(), 401);
        assert_eq!(post(action, Some("wrong")).await.unwrap().status(), 401);
    }
    assert_eq!(admin_consents(&s, "search", json!({})).await.0, 400, "msisdn required");
    assert_eq!(admin_consents(&s, "search", json!({"msisdn": "34600"})).await.0, 400, "E.164");
    assert_eq!(admin_consents(&s, "search", json!({"msisdn": MSISDN_1, "nope": 1})).await.0, 400, "unknown field");
    assert_eq!(admin_consents(&s, "search", json!({"msisdn": MSISDN_1, "client_id": "nobody"})).await.0, 404);
    assert_eq!(admin_consents(&s, "revoke", json!({"msisdn": MSISDN_1})).await.0, 400, "client_id required");
    assert_eq!(admin_consents(&s, "revoke", json!({"msisdn": MSISDN_1, "client_id": CLIENT_ID})).await.0, 404, "nothing to revoke");
    let form = s.http.post(s.url("/admin/consents/search")).bearer_auth(ADMIN).form(&[("msisdn", MSISDN_1)]).send().await.unwrap();
    assert_eq!(form.status(), 400, "JSON only");
    assert_eq!(s.http.get(s.url("/admin/consents/search")).bearer_auth(ADMIN).send().await.unwrap().status(), 405);
    // The query form is gone (design.md: the MSISDN never appears in a URL).
    let m: String = url::form_urlencoded::byte_serialize(MSISDN_1.as_bytes()).collect();
    let old = s.url(&format!("/admin/consents?msisdn={m}&client_id={CLIENT_ID}"));
    assert_eq!(s.http.get(&old).bearer_auth(ADMIN).send().await.unwrap().status(), 404);
    assert_eq!(s.http.delete(&old).bearer_auth(ADMIN).send().await.unwrap().status(), 404);

    approved_tokens(&s, DEVICE_1, SP_SCOPE).await;
    let (st, v) = admin_consents(&s, "search", json!({"msisdn": MSISDN_1, "client_id": CLIENT_ID})).await;
    assert_eq!((st, v["consents"].as_array().map(Vec::len)), (200, Some(1)), "{v}");
    let (st, v) = admin_consents(&s, "revoke", json!({"msisdn": MSISDN_1, "client_id": CLIENT_ID, "purpose": SP})).await;
    assert_eq!((st, v["revoked"].as_u64()), (200, Some(1)), "{v}");
    let (_, v) = admin_consents(&s, "search", json!({"msisdn": MSISDN_1})).await;
    assert_eq!(v["consents"], json!([]));
    let req = AuthRequest::new(SP_SCOPE);
    assert_redirect_error(&s, &s.authorize(DEVICE_1, &req).await, &req, "consent_required");
    s.stop().await;
}

/// userinfo: `phone_number` only with the phone scope and a basis that allows it (contract,
/// or consent naming phone); never under legitimate_interest; P-76: phone needs openid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn userinfo_phone_claims_follow_the_legal_basis() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        offline_client(c, "contract");
        c.clients[0].scopes.push("dpv:IdentityVerification".into());
        c.consent.legal_basis.insert("dpv:IdentityVerification".into(), "consent".into());
    }))
    .await;
    // contract: disclosed, verified by the network.
    let t = s.access_token(DEVICE_1, SP_SCOPE).await;
    let (st, v) = userinfo(&s, &t).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["phone_number"].as_str(), v["phone_number_verified"].as_bool()), (Some(MSISDN_1), Some(true)), "{v}");
    // Without the phone scope: sub only.
    let t = s.access_token(DEVICE_1, "openid dpv:ServiceProvision").await;
    let (_, v) = userinfo(&s, &t).await;
    assert!(v.get("phone_number").is_none() && v["sub"].is_string(), "{v}");
    // legitimate_interest: never.
    let t = s.access_token(DEVICE_1, "openid dpv:FraudPreventionAndDetection phone").await;
    let (_, v) = userinfo(&s, &t).await;
    assert!(v.get("phone_number").is_none(), "{v}");
    // consent naming phone: disclosed while the consent stands.
    let t = approved_tokens(&s, DEVICE_2, "openid dpv:IdentityVerification phone").await;
    let (_, v) = userinfo(&s, t.access_token()).await;
    assert_eq!(v["phone_number"], MSISDN_2, "{v}");
    admin_consents(&s, "revoke", json!({"msisdn": MSISDN_2, "client_id": CLIENT_ID})).await;
    let (st, v) = userinfo(&s, t.access_token()).await;
    assert_eq!(st, 200);
    assert!(v.get("phone_number").is_none(), "withdrawn consent: {v}");
    // Userinfo never spends a Number Verification token.
    let nv = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    assert_eq!(userinfo(&s, &nv).await.0, 200);
    let (st, _) = s.verify_number(&nv, MSISDN_1).await;
    assert_eq!(st, 200);
    // P-76: phone without openid.
    let req = AuthRequest::new("dpv:ServiceProvision phone");
    assert_redirect_error(&s, &s.authorize(DEVICE_1, &req).await, &req, "invalid_request");
    s.stop().await;
}
