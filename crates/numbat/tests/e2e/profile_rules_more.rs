//! Issue 4 items 7 and 8: one test per profile rule that had none by name yet
//! (camara-profile.md), plus the key ring's algorithms as discovery and `/jwks` show them (item 1).
//! Rules covered elsewhere by name are not repeated; the report lists where each one lives.


use crate::common::*;
use serde_json::{json, Value};

const SCOPE_CIBA: &str = "openid dpv:FraudPreventionAndDetection number-verification:verify";
const CC_SCOPE: &str = "quality-on-demand:sessions:read";

impl TestServer {
    /// A client assertion for `aud` (the endpoint receiving it).
    fn assertion_at(&self, aud: &str) -> String {
        let mut c = self.assertion_claims();
        c["aud"] = json!(aud);
        sign_client_jwt(&c)
    }

    async fn post_authenticated(&self, path: &str, params: &[(&str, &str)], headers: &[(&str, &str)]) -> TokenReply {
        let form: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let form = with_assertion(form, &self.assertion_at(&self.url(path)));
        let mut rb = self.http.post(self.url(path)).form(&form);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        read_token_reply(rb.send().await.unwrap()).await
    }

    async fn metadata(&self) -> Value {
        self.http.get(self.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap()
    }
}

/// demo-app also onboarded for client credentials (P-59) with a two-legged scope.
async fn with_client_credentials() -> TestServer {
    start_spec(Spec::new(Backend::Memory).tweak(|c| {
        c.clients[0].grant_types.push("client_credentials".into());
        c.clients[0].scopes.push(CC_SCOPE.into());
    }))
    .await
}

fn dpop_header(htu: &str, iat: i64) -> String {
    // Structurally a DPoP proof (RFC 9449 §4.2); numbat does not support DPoP, so it is ignored.
    let header =
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": CLIENT_X, "y": CLIENT_Y}});
    let claims = json!({"jti": random_b64(16), "htm": "POST", "htu": htu, "iat": iat});
    format!(
        "{}.{}.{}",
        b64url(&serde_json::to_vec(&header).unwrap()),
        b64url(&serde_json::to_vec(&claims).unwrap()),
        b64url(b"sig")
    )
}

// ---------------------------------------------------------------------------------------------
// Issue 4 item 1: algorithms
// ---------------------------------------------------------------------------------------------

/// Discovery lists exactly what numbat signs and verifies: ID tokens in ES256, RS256 (OIDC's
/// must), PS256 and EdDSA; request objects, client assertions and CIBA requests verified in the
/// same four; never `none` or HMAC. `/jwks` publishes a key for each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue4_discovery_and_jwks_list_es256_rs256_ps256_eddsa() {
    let s = start(Backend::Memory).await;
    let m = s.metadata().await;
    let all = json!(["ES256", "RS256", "PS256", "EdDSA"]);
    for list in [
        "id_token_signing_alg_values_supported",
        "request_object_signing_alg_values_supported",
        "token_endpoint_auth_signing_alg_values_supported",
        "backchannel_authentication_request_signing_alg_values_supported",
    ] {
        assert_eq!(m[list], all, "{list}");
    }
    let jwks: Value = s.http.get(s.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let mut algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, vec!["ES256", "EdDSA", "PS256", "RS256"], "one key per algorithm: {jwks}");
    s.stop().await;
}

/// S-03: a client that registers no `id_token_signed_response_alg` gets RS256; PS256 and EdDSA
/// clients get theirs; access tokens are ES256 for everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_03_id_tokens_follow_the_registered_algorithm_access_tokens_es256() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        for (id, alg) in [("ps-app", "PS256"), ("ed-app", "EdDSA")] {
            let mut o = c.clients[0].clone();
            o.client_id = id.into();
            o.id_token_signed_response_alg = alg.into();
            c.clients.push(o);
        }
    }))
    .await;
    for (id, alg) in [("ps-app", "PS256"), ("ed-app", "EdDSA"), (CLIENT_ID, "ES256")] {
        let req = AuthRequest::new(SCOPE_VERIFY).set("client_id", id);
        let code = s.code_for(DEVICE_1, &req).await;
        let mut a = s.assertion_claims();
        a["iss"] = json!(id);
        a["sub"] = json!(id);
        let t = s.token_raw(&with_assertion(code_form(&code, &req.verifier), &sign_client_jwt(&a))).await;
        assert_eq!(t.status, 200, "{id}: {}", t.raw);
        assert_eq!(jwt_part(t.json["id_token"].as_str().unwrap(), 0)["alg"], alg, "{id}");
        assert_eq!(jwt_part(t.access_token(), 0)["alg"], "ES256", "{id}");
    }
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// General rules
// ---------------------------------------------------------------------------------------------

/// P-01: plain HTTP only for a loopback issuer (the dev mode); anything else refuses to start.
#[test]
fn p_01_plain_http_issuer_only_on_loopback() {
    let mut cfg = numbat::Config::dev();
    cfg.server.issuer = "http://as.example.com".into();
    let e = cfg.validate().expect_err("plain http on a public name must be refused");
    assert_eq!(e.key, "server.issuer", "{e:?}");
    cfg.server.issuer = "https://as.example.com".into();
    cfg.validate().expect("https issuer");
    cfg.server.issuer = "http://127.0.0.1:8080".into();
    cfg.validate().expect("loopback dev issuer");
}

/// P-04..P-06: a two-legged token (client credentials) carries no subscriber, so the resource
/// server, which relies on the token alone, refuses it for Number Verification (personal data).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_04_p_05_p_06_two_legged_token_is_refused_for_personal_data() {
    let s = with_client_credentials().await;
    let r = s.post_authenticated("/token", &[("grant_type", "client_credentials"), ("scope", CC_SCOPE)], &[]).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let claims = jwt_part(r.access_token(), 1);
    assert!(claims.get("amr").is_none_or(|a| a.as_array().is_some_and(|v| v.is_empty())), "no user: {claims}");
    let (st, body) = s.verify_number(r.access_token(), MSISDN_1).await;
    assert!(st == 401 || st == 403, "P-05: {st} {body}");
    s.stop().await;
}

/// P-09: DPoP is optional and numbat does not support it; a `DPoP` header fails no request:
/// `/authorize`, `/par`, `/bc-authorize`, and the resource server with a Bearer token (the
/// token endpoint is covered by `p_09_p_12_…` in profile_rules.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_09_dpop_header_fails_no_request() {
    let s = start(Backend::Memory).await;
    let now = s.now();
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize_query(DEVICE_1, &req.query(), &[("DPoP", &dpop_header(&s.url("/authorize"), now))]).await;
    assert_success_redirect(&s, &o, &req);
    let params: Vec<(&str, &str)> = req.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = s.post_authenticated("/par", &params, &[("DPoP", &dpop_header(&s.url("/par"), now))]).await;
    assert_eq!(r.status, 201, "PAR with DPoP: {}", r.raw);
    let r = s
        .post_authenticated(
            "/bc-authorize",
            &[("scope", SCOPE_CIBA), ("login_hint", "tel:+34600000001")],
            &[("DPoP", &dpop_header(&s.url("/bc-authorize"), now))],
        )
        .await;
    assert_eq!(r.status, 200, "CIBA with DPoP: {}", r.raw);
    let at = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let r = s
        .http
        .post(s.url("/number-verification/v2/verify"))
        .bearer_auth(&at)
        .header("DPoP", dpop_header(&s.url("/number-verification/v2/verify"), now))
        .json(&json!({"phoneNumber": MSISDN_1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "RS with a Bearer token and a DPoP header");
    assert!(s.metadata().await.get("dpop_signing_alg_values_supported").is_none(), "P-10: not announced");
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Authorization code flow
// ---------------------------------------------------------------------------------------------

/// P-31: `login_hint` means nothing in the code flow: no error, and a `tel:` hint naming
/// another number changes nothing (the network decides; nothing is disclosed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_31_login_hint_is_ignored_in_the_code_flow() {
    let s = start(Backend::Memory).await;
    for hint in ["tel:+34666666666", "tel:+34600000001", "ipport:10.0.0.1", "whatever"] {
        let req = AuthRequest::new(SCOPE_VERIFY).set("login_hint", hint);
        let t = s.token_reply_for(DEVICE_1, &req).await;
        let (st, v) = s.verify_number(t.access_token(), MSISDN_1).await;
        assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{hint}: {v}");
    }
    s.stop().await;
}

/// P-32, P-34: a client registered without PKCE (the conformance-suite case) still gets CSRF
/// protection from `state` (echoed unchanged) and `nonce` (in the ID token).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_32_p_34_without_pkce_state_and_nonce_are_handled() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.clients[0].require_pkce = false)).await;
    let req = AuthRequest::new(SCOPE_VERIFY).remove("code_challenge").remove("code_challenge_method");
    let code = s.code_for(DEVICE_1, &req).await;
    let form: Vec<(String, String)> = code_form(&code, "").into_iter().filter(|(k, _)| k != "code_verifier").collect();
    let t = s.token_raw(&with_assertion(form, &s.assertion())).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert_eq!(jwt_part(t.json["id_token"].as_str().unwrap(), 1)["nonce"], json!(req.nonce), "P-34 nonce");
    s.stop().await;
}

/// P-74: the resource server grants access by scope: a `verify` token does not read the number,
/// a `device-phone-number:read` token does not verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_74_resource_server_grants_by_scope() {
    let s = start(Backend::Memory).await;
    let t = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, body) = s.share(&t).await;
    assert_eq!(st, 403, "verify-only token at device-phone-number: {body}");
    let t = s.access_token(DEVICE_1, SCOPE_SHARE).await;
    let (st, body) = s.verify_number(&t, MSISDN_1).await;
    assert_eq!(st, 403, "share-only token at verify: {body}");
    s.stop().await;
}

/// P-86: the authorization response reveals nothing about the subscriber: `code`, `state` and
/// `iss` only, and the code is an opaque random value (not a JWT, no number inside).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_86_authorization_response_reveals_nothing() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_1, &req).await;
    assert_success_redirect(&s, &o, &req);
    let mut names: Vec<&str> = o.query.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, vec!["code", "iss", "state"]);
    let code = o.get("code").unwrap();
    assert!(!code.contains('.') && !code.contains("600000001"), "{code}");
    s.stop().await;
}

/// E-AZ-04 and E-AZ-09 by name: `unsupported_response_type` and `invalid_request_object` go back
/// to the verified redirect URI with `state` and `iss`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_az_04_e_az_09_redirected_errors() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY).set("response_type", "id_token");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "unsupported_response_type");
    let req = AuthRequest::new(SCOPE_VERIFY).set("request", "not.a.jwt");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "invalid_request_object");
    s.stop().await;
}

/// P-27 hostile: a request object HS256-signed with the client's public key (PEM) is
/// `invalid_request_object`, redirected (E-AZ-09); `none` and HMAC are never accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_27_e_az_09_request_object_hs256_with_the_public_key() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let now = s.now();
    let mut claims = json!({"iss": CLIENT_ID, "aud": s.url("/authorize"), "iat": now, "exp": now + 60, "jti": "hs"});
    for (k, v) in &req.params {
        claims[k] = json!(v);
    }
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(KID.into());
    let key = jsonwebtoken::EncodingKey::from_secret(client_public_pem().as_bytes());
    let jwt = jsonwebtoken::encode(&h, &claims, &key).unwrap();
    let mut outer = AuthRequest::new(SCOPE_VERIFY);
    outer.params = req
        .params
        .iter()
        .filter(|(k, _)| ["scope", "response_type", "client_id", "redirect_uri"].contains(&k.as_str()))
        .cloned()
        .collect();
    outer.params.push(("request".into(), jwt));
    let o = s.authorize(DEVICE_1, &outer).await;
    assert_redirect_error(&s, &o, &outer, "invalid_request_object");
    s.stop().await;
}

/// S-04 / P-30: `request` and `request_uri` together are `invalid_request`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_04_request_and_request_uri_together_is_invalid_request() {
    let s = start(Backend::Memory).await;
    let req =
        AuthRequest::new(SCOPE_VERIFY).set("request", "a.b.c").set("request_uri", "https://client.example/request.jwt");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "invalid_request");
    s.stop().await;
}

/// P-78: every three-legged request declares a purpose: code flow (redirect) and CIBA (400)
/// without a `dpv:` scope are `invalid_scope`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_78_three_legged_requests_need_a_purpose() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new("openid number-verification:verify");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "invalid_scope");
    let r = s
        .post_authenticated(
            "/bc-authorize",
            &[("scope", "openid number-verification:verify"), ("login_hint", "tel:+34600000001")],
            &[],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_scope")), "{}", r.raw);
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// CIBA
// ---------------------------------------------------------------------------------------------

/// P-38, P-39: poll mode only: `client_notification_token` is ignored, and so are
/// `binding_message`, `user_code` and `requested_expiry`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_38_p_39_ciba_ignores_ping_push_and_unprofiled_parameters() {
    let s = start(Backend::Memory).await;
    let r = s
        .post_authenticated(
            "/bc-authorize",
            &[
                ("scope", SCOPE_CIBA),
                ("login_hint", "tel:+34600000001"),
                ("client_notification_token", "abc"),
                ("binding_message", "hello"),
                ("user_code", "1234"),
                ("requested_expiry", "30"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.json["auth_req_id"].as_str().is_some_and(|a| !a.is_empty()));
    assert_eq!(s.metadata().await["backchannel_token_delivery_modes_supported"], json!(["poll"]), "P-38");
    s.stop().await;
}

/// P-42, P-43, P-44, P-48 and E-CB-03..E-CB-05 by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_42_p_44_p_48_e_cb_03_to_05_backchannel_rules() {
    let s = start(Backend::Memory).await;
    let cases: Vec<(&str, Vec<(&str, &str)>, &str)> = vec![
        ("P-42 no hint", vec![("scope", SCOPE_CIBA)], "invalid_request"),
        ("P-42 id_token_hint", vec![("scope", SCOPE_CIBA), ("id_token_hint", "x")], "invalid_request"),
        (
            "P-44 / E-CB-03 unbound address",
            vec![("scope", SCOPE_CIBA), ("login_hint", "ipport:127.0.0.3")],
            "unknown_user_id",
        ),
        (
            "P-48 no openid",
            vec![
                ("scope", "dpv:FraudPreventionAndDetection number-verification:verify"),
                ("login_hint", "tel:+34600000001"),
            ],
            "invalid_request",
        ),
        (
            "E-CB-04 unknown scope",
            vec![("scope", "openid dpv:FraudPreventionAndDetection x:y"), ("login_hint", "tel:+34600000001")],
            "invalid_scope",
        ),
        ("E-CB-05 alg none", vec![("request", "eyJhbGciOiJub25lIn0.e30.")], "invalid_request_object"),
    ];
    for (what, params, error) in cases {
        let r = s.post_authenticated("/bc-authorize", &params, &[]).await;
        assert_eq!((r.status, r.error()), (400, Some(error)), "{what}: {}", r.raw);
    }
    // P-43: the client must authenticate (E-CB-06: 401).
    let r = s
        .http
        .post(s.url("/bc-authorize"))
        .form(&[("scope", SCOPE_CIBA), ("login_hint", "tel:+34600000001")])
        .send()
        .await
        .unwrap();
    let r = read_token_reply(r).await;
    assert_eq!((r.status, r.error()), (401, Some("invalid_client")), "P-43");
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------------------------

/// P-61 and E-TK-04: client credentials need client authentication (401 `invalid_client`),
/// and a scope the client may not have is 400 `invalid_scope`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_61_e_tk_04_client_credentials_authentication_and_scope() {
    let s = with_client_credentials().await;
    let r = s.token_raw(&[("grant_type".into(), "client_credentials".into()), ("scope".into(), CC_SCOPE.into())]).await;
    assert_eq!((r.status, r.error()), (401, Some("invalid_client")), "P-61: {}", r.raw);
    let r =
        s.post_authenticated("/token", &[("grant_type", "client_credentials"), ("scope", "sim-swap:check")], &[]).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_scope")), "E-TK-04: {}", r.raw);
    s.stop().await;
}

/// P-65: the JWT-bearer assertion authenticates the client; a `client_assertion` sent beside it
/// must name the same client. E-TK-30: an invalid assertion (expired, future `iat`) is
/// `invalid_grant`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_65_e_tk_30_jwt_bearer_assertion_and_client() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        c.clients[0].grant_types.push("urn:ietf:params:oauth:grant-type:jwt-bearer".into());
        c.clients[0].jwt_bearer_subjects = vec!["tel".into()];
        let mut other = c.clients[0].clone();
        other.client_id = "other-app".into();
        c.clients.push(other);
    }))
    .await;
    let now = s.now();
    let bearer = |extra: Value| {
        let mut c = json!({"iss": CLIENT_ID, "sub": "tel:+34600000001", "aud": s.token_endpoint(), "iat": now,
            "exp": now + 60, "jti": random_b64(12), "scope": "dpv:FraudPreventionAndDetection number-verification:verify"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign_client_jwt(&c)
    };
    let grant = |a: String| {
        vec![
            ("grant_type".to_string(), "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string()),
            ("assertion".to_string(), a),
        ]
    };
    let r = s.token_raw(&grant(bearer(json!({})))).await;
    assert_eq!(r.status, 200, "the assertion alone authenticates (P-65): {}", r.raw);
    // A client_assertion for another client beside it.
    let mut other = s.assertion_claims();
    other["iss"] = json!("other-app");
    other["sub"] = json!("other-app");
    let r = s.token_raw(&with_assertion(grant(bearer(json!({}))), &sign_client_jwt(&other))).await;
    assert!(r.status == 400 || r.status == 401, "P-65: {}", r.raw);
    assert!(matches!(r.error(), Some("invalid_client" | "invalid_grant" | "invalid_request")), "{}", r.raw);
    for (what, extra) in [
        ("expired", json!({"iat": now - 200, "exp": now - 100})),
        ("iat in the future", json!({"iat": now + 60, "exp": now + 120})),
        ("exp - iat > 300", json!({"iat": now, "exp": now + 301})),
    ] {
        let r = s.token_raw(&grant(bearer(extra))).await;
        assert_eq!((r.status, r.error()), (400, Some("invalid_grant")), "E-TK-30 {what}: {}", r.raw);
    }
    s.stop().await;
}

/// Hostile: oversized inputs at the token endpoint and `/par`: a body beyond 64 KiB, a value
/// beyond 8 KiB, a client assertion beyond the JWS size bound. Never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_tk_01_hostile_oversized_inputs() {
    let s = start(Backend::Memory).await;
    let huge = format!("grant_type=authorization_code&code={}", "x".repeat(70 * 1024));
    let r = s
        .http
        .post(s.token_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    let r = read_token_reply(r).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_request")), "{}", r.raw);
    let long = "x".repeat(9 * 1024);
    let r = s.token_raw(&with_assertion(code_form(&long, &random_b64(32)), &s.assertion())).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_request")), "{}", r.raw);
    let mut claims = s.assertion_claims();
    claims["pad"] = json!("y".repeat(7 * 1024));
    let r = s.token_raw(&with_assertion(code_form("abc", &random_b64(32)), &sign_client_jwt(&claims))).await;
    assert!(r.status == 400 || r.status == 401, "{}", r.raw);
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Open points
// ---------------------------------------------------------------------------------------------

/// O-04: the clock skew for "later than receipt" is configurable (default 5 s, at most 30 s):
/// a client assertion with `iat` 4 s ahead passes, 10 s ahead fails; a skew of 31 s is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn o_04_clock_skew_is_bounded_and_configurable() {
    let mut cfg = numbat::Config::dev();
    cfg.tokens.clock_skew_s = 31;
    assert_eq!(cfg.validate().expect_err("skew above 30 s").key, "tokens.clock_skew_s");
    let s = start(Backend::Memory).await;
    for (ahead, ok) in [(4, true), (10, false)] {
        let req = AuthRequest::new(SCOPE_VERIFY);
        let code = s.code_for(DEVICE_1, &req).await;
        let mut c = s.assertion_claims();
        c["iat"] = json!(s.now() + ahead);
        let r = s.token_raw(&with_assertion(code_form(&code, &req.verifier), &sign_client_jwt(&c))).await;
        assert_eq!(r.status == 200, ok, "iat +{ahead} s: {}", r.raw);
    }
    s.stop().await;
}

/// O-05: the `amr` values numbat uses are documented in discovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn o_05_amr_values_are_published() {
    let s = start(Backend::Memory).await;
    let m = s.metadata().await;
    assert_eq!(m["amr_values_supported"], json!(["nba", "sim", "asserted"]));
    assert!(m["claims_supported"].as_array().unwrap().contains(&json!("amr")));
    s.stop().await;
}
