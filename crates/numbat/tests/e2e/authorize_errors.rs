//! `/authorize` errors (camara-profile.md §15.1, E-AZ-00..10, and the P-xx rules they enforce).
//! Requests come from the bound device 127.0.0.1, so any failure is the request's own fault.
//! Every error redirect must carry `state` (when sent) and `iss`, and never a `code`.


use crate::common::*;

both_backends! {
    e_az_00_bad_client_or_redirect_uri_gets_an_error_page => bad_client_or_redirect_uri;
    e_az_01_invalid_request_redirects => invalid_request_redirects;
    e_az_05_p_80_p_81_invalid_scope_redirects => invalid_scope_redirects;
}

/// E-AZ-00: never redirect while the client or its redirect URI is in doubt.
async fn bad_client_or_redirect_uri(b: Backend) {
    let s = start(b).await;
    let cases: Vec<(&str, AuthRequest)> = vec![
        ("unknown client_id", AuthRequest::new(SCOPE_VERIFY).set("client_id", "evil-app")),
        ("missing client_id", AuthRequest::new(SCOPE_VERIFY).remove("client_id")),
        ("empty client_id", AuthRequest::new(SCOPE_VERIFY).set("client_id", "")),
        ("client_id differing in case", AuthRequest::new(SCOPE_VERIFY).set("client_id", "Demo-App")),
        ("duplicated client_id", AuthRequest::new(SCOPE_VERIFY).add("client_id", CLIENT_ID)),
        ("duplicated client_id, other value", AuthRequest::new(SCOPE_VERIFY).add("client_id", "evil-app")),
        ("missing redirect_uri", AuthRequest::new(SCOPE_VERIFY).remove("redirect_uri")),
        ("duplicated redirect_uri", AuthRequest::new(SCOPE_VERIFY).add("redirect_uri", REDIRECT_URI)),
        ("unregistered redirect_uri", AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "https://evil.example/cb")),
        (
            "prefix of the registered URI",
            AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9999/call"),
        ),
        (
            "registered URI plus a path",
            AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9999/callback/evil"),
        ),
        ("trailing slash", AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9999/callback/")),
        ("extra query", AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9999/callback?x=1")),
        ("other port", AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9998/callback")),
        (
            "other case in the path",
            AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9999/Callback"),
        ),
        (
            "localhost for 127.0.0.1",
            AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://localhost:9999/callback"),
        ),
        (
            "userinfo trick",
            AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9999@evil.example/callback"),
        ),
        ("fragment", AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "http://127.0.0.1:9999/callback#x")),
    ];
    for (what, req) in cases {
        let o = s.authorize(DEVICE_1, &req).await;
        assert!(o.headers.get("location").is_none(), "{what}: redirected to {:?}", o.location);
        assert_error_page(&o);
    }
    // Even with other errors in the request, a bad redirect URI wins: still no redirect.
    let req = AuthRequest::new("nonsense").set("response_type", "token").set("redirect_uri", "https://evil.example/cb");
    assert_error_page(&s.authorize(DEVICE_1, &req).await);
    // From an unbound device too: the page, not login_required at the attacker's URI.
    let req = AuthRequest::new(SCOPE_VERIFY).set("redirect_uri", "https://evil.example/cb");
    assert_error_page(&s.authorize(DEVICE_UNBOUND, &req).await);
    s.stop().await;
}

async fn invalid_request_redirects(b: Backend) {
    let s = start(b).await;
    let challenge = pkce_challenge(&random_b64(32));
    let cases: Vec<(&str, AuthRequest, &str)> = vec![
        ("duplicated scope", AuthRequest::new(SCOPE_VERIFY).add("scope", SCOPE_VERIFY), "invalid_request"),
        ("duplicated state", AuthRequest::new(SCOPE_VERIFY).add("state", "other"), "invalid_request"),
        ("duplicated response_type", AuthRequest::new(SCOPE_VERIFY).add("response_type", "code"), "invalid_request"),
        (
            "duplicated code_challenge",
            AuthRequest::new(SCOPE_VERIFY).add("code_challenge", &challenge),
            "invalid_request",
        ),
        (
            "response_type=token",
            AuthRequest::new(SCOPE_VERIFY).set("response_type", "token"),
            "unsupported_response_type",
        ),
        (
            "response_type=code id_token",
            AuthRequest::new(SCOPE_VERIFY).set("response_type", "code id_token"),
            "unsupported_response_type",
        ),
        ("missing response_type", AuthRequest::new(SCOPE_VERIFY).remove("response_type"), "invalid_request"),
        (
            "P-33 no code_challenge",
            AuthRequest::new(SCOPE_VERIFY).remove("code_challenge").remove("code_challenge_method"),
            "invalid_request",
        ),
        (
            "S-01 code_challenge_method=plain",
            AuthRequest::new(SCOPE_VERIFY).set("code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            "S-01 method omitted (defaults to plain)",
            AuthRequest::new(SCOPE_VERIFY).remove("code_challenge_method"),
            "invalid_request",
        ),
        (
            "P-02 code_challenge_method=s256 (case-sensitive)",
            AuthRequest::new(SCOPE_VERIFY).set("code_challenge_method", "s256"),
            "invalid_request",
        ),
        ("malformed code_challenge", AuthRequest::new(SCOPE_VERIFY).set("code_challenge", "short"), "invalid_request"),
        ("missing scope", AuthRequest::new(SCOPE_VERIFY).remove("scope"), "invalid_request"),
        (
            "P-76 profile without openid",
            AuthRequest::new("profile dpv:FraudPreventionAndDetection number-verification:verify"),
            "invalid_request",
        ),
        ("S-02 prompt=none login", AuthRequest::new(SCOPE_VERIFY).set("prompt", "none login"), "invalid_request"),
        (
            "E-AZ-10 request_uri",
            AuthRequest::new(SCOPE_VERIFY).set("request_uri", "https://client.example/request.jwt"),
            "request_uri_not_supported",
        ),
    ];
    for (what, req, error) in cases {
        let o = s.authorize(DEVICE_1, &req).await;
        assert_eq!(o.get("error"), Some(error), "{what}: {:?} {}", o.location, o.body);
        assert_redirect_error(&s, &o, &req, error);
    }
    s.stop().await;
}

async fn invalid_scope_redirects(b: Backend) {
    let s = start(b).await;
    let cases: Vec<(&str, &str)> = vec![
        ("P-80 no purpose", "openid number-verification:verify"),
        ("P-80 two purposes", "openid dpv:FraudPreventionAndDetection dpv:Marketing number-verification:verify"),
        ("P-80 unknown purpose", "openid dpv:X number-verification:verify"),
        ("unknown scope", "openid dpv:FraudPreventionAndDetection number-verification:verify foo:bar"),
        ("P-81 dpv:X#scope", "openid dpv:X#number-verification:verify"),
        ("P-81 retired purpose#scope form", "openid dpv:FraudPreventionAndDetection#number-verification:verify"),
        ("NVS-01 legacy scope name", "openid dpv:FraudPreventionAndDetection number-verification-verify-read"),
    ];
    for (what, scope) in cases {
        let req = AuthRequest::new(scope);
        let o = s.authorize(DEVICE_1, &req).await;
        assert_eq!(o.get("error"), Some("invalid_scope"), "{what} ({scope}): {:?}", o.location);
        assert_redirect_error(&s, &o, &req, "invalid_scope");
    }
    s.stop().await;
}

/// P-73: `acr_values` is ignored; the same request with it succeeds as without.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_73_acr_values_are_ignored() {
    let s = start(Backend::Memory).await;
    for acr in ["urn:camara:acr:nba", "urn:some:unknown:acr", "1 2"] {
        let req = AuthRequest::new(SCOPE_VERIFY).set("acr_values", acr);
        let r = s.token_reply_for(DEVICE_1, &req).await;
        let (st, v) = s.verify_number(r.access_token(), MSISDN_1).await;
        assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "acr_values={acr}: {v}");
    }
    s.stop().await;
}

/// P-22: other `prompt` values on an NV request are overridden by the implied `none`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p_22_prompt_values_are_overridden_by_implied_none() {
    let s = start(Backend::Memory).await;
    for prompt in [None, Some("none"), Some("login"), Some("consent"), Some("select_account")] {
        let req = match prompt {
            Some(p) => AuthRequest::new(SCOPE_VERIFY).set("prompt", p),
            None => AuthRequest::new(SCOPE_VERIFY).remove("prompt"),
        };
        let o = s.authorize(DEVICE_1, &req).await;
        assert_success_redirect(&s, &o, &req);
    }
    s.stop().await;
}

/// E-AZ-01: an oversized parameter is `invalid_request`, and never yields a code. A huge value
/// may make the request unreadable (then the error page), a too-long `state` is redirected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn e_az_01_oversized_parameters_are_invalid_request() {
    let s = start(Backend::Memory).await;
    for name in ["nonce", "login_hint", "state", "scope", "code_challenge"] {
        let req = AuthRequest::new(SCOPE_VERIFY).set(name, &"a".repeat(10_000));
        let o = s.authorize(DEVICE_1, &req).await;
        assert_eq!(o.get("code"), None, "{name}: a code for an oversized request");
        match o.status {
            302 => {
                assert_eq!(o.get("error"), Some("invalid_request"), "{name}: {:?}", o.location);
                assert_eq!(o.get("iss"), Some(s.base.as_str()), "{name}: iss missing");
                assert!(o.get("state").is_none_or(|st| st.len() < 10_000), "{name}: the huge state echoed");
            }
            400 => {
                assert_error_page(&o);
                assert!(o.body.contains("invalid_request"), "{name}: page without invalid_request: {}", o.body);
            }
            other => panic!("{name}: unexpected status {other} {}", o.body),
        }
    }
    // A state over the limit but well under the parser's bound is redirected as invalid_request.
    let req = AuthRequest::new(SCOPE_VERIFY).set("state", &"s".repeat(3000));
    let o = s.authorize(DEVICE_1, &req).await;
    assert_eq!((o.status, o.get("error")), (302, Some("invalid_request")), "{:?}", o.location);
    assert_eq!(o.get("code"), None);
    assert_eq!(o.get("iss"), Some(s.base.as_str()));
    s.stop().await;
}

/// `state` is echoed byte for byte, even with characters that need encoding, and it cannot
/// inject parameters into the redirect.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_02_state_is_echoed_exactly_and_cannot_inject_parameters() {
    let s = start(Backend::Memory).await;
    let tricky = "a b&code=evil&error=none#frag?x=1+é";
    let req = AuthRequest::new(SCOPE_VERIFY).set("state", tricky);
    let o = s.authorize(DEVICE_1, &req).await;
    assert_eq!(o.status, 302);
    assert_eq!(o.get("state"), Some(tricky));
    assert_eq!(o.counts.get("code"), Some(&1), "{:?}", o.location);
    assert_eq!(o.get("error"), None);
    assert_ne!(o.get("code"), Some("evil"));
    // And on an error redirect.
    let req = AuthRequest::new(SCOPE_VERIFY).set("state", tricky).set("response_type", "token");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_redirect_error(&s, &o, &req, "unsupported_response_type");
    assert_eq!(o.counts.get("code"), None);
    // Without state, no state comes back.
    let req = AuthRequest::new(SCOPE_VERIFY).remove("state");
    let o = s.authorize(DEVICE_1, &req).await;
    assert_eq!(o.status, 302);
    assert!(o.get("code").is_some());
    assert_eq!(o.get("state"), None);
    assert_eq!(o.get("iss"), Some(s.base.as_str()));
    s.stop().await;
}

/// Authorization requests may also be POSTed as a form (OIDC Core §3.1.2.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_02_authorize_by_post_form() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let r = device(DEVICE_1).post(s.url("/authorize")).form(&req.params).send().await.unwrap();
    let o = read_outcome(r).await;
    assert_success_redirect(&s, &o, &req);
    let r = s.redeem(&o.query["code"], &req.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    // The unbound device gets login_required by POST as well.
    let r = device(DEVICE_UNBOUND).post(s.url("/authorize")).form(&req.params).send().await.unwrap();
    assert_redirect_error(&s, &read_outcome(r).await, &req, "login_required");
    s.stop().await;
}
