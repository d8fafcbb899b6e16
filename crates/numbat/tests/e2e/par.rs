//! Issue 4 item 3: pushed authorization requests (PAR, RFC 9126). The app backend pushes its
//! authorization request (plain parameters or a signed `request`, P-23..P-30) to `/par` with
//! `private_key_jwt` (P-88..P-91); the device then opens `/authorize?client_id=…&request_uri=…`.


use crate::common::*;
use serde_json::{json, Value};

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

impl TestServer {
    fn par_endpoint(&self) -> String {
        self.url("/par")
    }

    /// A client assertion with `aud` = `aud`.
    fn assertion_for(&self, aud: &str) -> String {
        let mut c = self.assertion_claims();
        c["aud"] = json!(aud);
        sign_client_jwt(&c)
    }

    /// `POST /par` with `form` as is (no client authentication added).
    async fn par_raw(&self, form: &[(String, String)]) -> TokenReply {
        read_token_reply(self.http.post(self.par_endpoint()).form(form).send().await.expect("POST /par")).await
    }

    /// Push `params` with a fresh client assertion whose `aud` is the PAR endpoint.
    async fn push(&self, params: &[(String, String)]) -> TokenReply {
        self.par_raw(&with_assertion(params.to_vec(), &self.assertion_for(&self.par_endpoint()))).await
    }

    /// Push and return the `request_uri`, asserting RFC 9126 §2.2's 201 answer.
    async fn pushed_uri(&self, params: &[(String, String)]) -> String {
        let r = self.push(params).await;
        assert_eq!(r.status, 201, "PAR refused: {}", r.raw);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let uri = r.json["request_uri"].as_str().expect("request_uri").to_owned();
        assert!(uri.starts_with(PREFIX) && uri.len() > PREFIX.len() + 30, "{uri}");
        let expires = r.json["expires_in"].as_i64().expect("expires_in");
        assert!((1..=60).contains(&expires), "expires_in {expires}");
        uri
    }

    async fn authorize_pushed(&self, client_id: &str, uri: &str, extra: &[(&str, &str)]) -> AuthOutcome {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", client_id).append_pair("request_uri", uri);
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        self.authorize_query(DEVICE_1, &q.finish(), &[]).await
    }
}

fn invalid_request_uri_page(o: &AuthOutcome, what: &str) {
    assert_error_page(o);
    assert!(o.body.contains("invalid_request_uri"), "{what}: {}", o.body);
}

/// The whole flow with a pushed request, once; the `request_uri` is single use.
async fn par_code_flow(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let uri = s.pushed_uri(&req.params).await;
    let o = s.authorize_pushed(CLIENT_ID, &uri, &[]).await;
    assert_success_redirect(&s, &o, &req);
    let t = s.redeem(o.get("code").unwrap(), &req.verifier).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert_eq!(jwt_part(t.json["id_token"].as_str().unwrap(), 1)["nonce"], json!(req.nonce));
    assert_eq!(s.verify_number(t.access_token(), MSISDN_1).await.1["devicePhoneNumberVerified"], json!(true));
    // RFC 9126 §4 / §7.3: one use only; no redirect for a request_uri that is not (any more) valid.
    invalid_request_uri_page(&s.authorize_pushed(CLIENT_ID, &uri, &[]).await, "reused request_uri");
    s.stop().await;
}

/// A pushed signed request object (P-23): parameters only from the object (P-26), its `jti`
/// single use at push time (P-30), the other rules applied at push time.
async fn par_signed_request_object(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let jwt = s.request_object(&req, json!({}));
    // RFC 9126 §3: the object alone (plus client authentication).
    let uri = s.pushed_uri(&[("request".into(), jwt.clone())]).await;
    let o = s.authorize_pushed(CLIENT_ID, &uri, &[]).await;
    assert_success_redirect(&s, &o, &req);
    let t = s.redeem(o.get("code").unwrap(), &req.verifier).await;
    assert_eq!(jwt_part(t.json["id_token"].as_str().unwrap(), 1)["nonce"], json!(req.nonce), "P-26");

    // P-30: the same object pushed again.
    let r = s.push(&[("request".into(), jwt)]).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_request_object")), "{}", r.raw);
    s.stop().await;
}

both_backends! {
    issue4_par_code_flow => par_code_flow;
    issue4_par_signed_request_object => par_signed_request_object;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p23_to_p30_request_object_rules_apply_at_push_time() {
    let s = start(Backend::Memory).await;
    let now = s.now();
    let req = AuthRequest::new(SCOPE_VERIFY);
    let cases: Vec<(&str, Value, Vec<(&str, &str)>)> = vec![
        ("P-24 outer scope differs", json!({}), vec![("scope", SCOPE_SHARE)]),
        ("P-24 inner redirect_uri missing", json!({"redirect_uri": null}), vec![]),
        ("P-25 no jti", json!({"jti": null}), vec![]),
        ("P-25 no exp", json!({"exp": null}), vec![]),
        ("P-27 iat in the future", json!({"iat": now + 60, "exp": now + 120}), vec![]),
        ("P-27 exp - iat > 300", json!({"iat": now, "exp": now + 301}), vec![]),
        ("P-27 expired", json!({"iat": now - 200, "exp": now - 100}), vec![]),
        ("P-28 aud of another server", json!({"aud": "https://other.example/authorize"}), vec![]),
        ("iss not the client", json!({"iss": "someone-else"}), vec![]),
    ];
    for (what, extra, outer) in cases {
        let mut claims = extra.clone();
        // `null` removes a claim: rebuild without it.
        let jwt = {
            let mut base = json!({"iss": CLIENT_ID, "aud": s.url("/authorize"), "iat": now, "exp": now + 120,
                "jti": random_b64(12)});
            for (k, v) in &req.params {
                base[k] = json!(v);
            }
            for (k, v) in claims.as_object_mut().unwrap().iter() {
                if v.is_null() {
                    base.as_object_mut().unwrap().remove(k);
                } else {
                    base[k] = v.clone();
                }
            }
            sign_client_jwt(&base)
        };
        let mut form: Vec<(String, String)> = vec![("request".into(), jwt)];
        form.extend(outer.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let r = s.push(&form).await;
        assert_eq!((r.status, r.error()), (400, Some("invalid_request_object")), "{what}: {}", r.raw);
    }
    // Hostile: alg none, and an object signed by a key the client never registered.
    let mut claims = json!({"iss": CLIENT_ID, "aud": s.url("/authorize"), "iat": now, "exp": now + 60, "jti": "n"});
    for (k, v) in &req.params {
        claims[k] = json!(v);
    }
    let none = alg_none_jwt(&claims, "");
    let foreign = jsonwebtoken::encode(&es256_header(), &claims, &foreign_key()).unwrap();
    // Algorithm confusion: HS256 keyed with the client's public key.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(KID.into());
    let hs = jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_secret(client_public_pem().as_bytes()))
        .unwrap();
    for (what, jwt) in [("alg none", none), ("foreign key", foreign), ("HS256 with the public key", hs)] {
        let r = s.push(&[("request".into(), jwt)]).await;
        assert_eq!((r.status, r.error()), (400, Some("invalid_request_object")), "{what}: {}", r.raw);
    }
    s.stop().await;
}

/// P-88..P-91 at `/par`: `aud` may be the PAR endpoint, the issuer or the token endpoint (P-90,
/// RFC 9126 §2); anything else, no authentication or HTTP Basic is 401 `invalid_client`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p90_par_client_authentication() {
    let s = start(Backend::Memory).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    for aud in [s.par_endpoint(), s.base.clone(), s.token_endpoint()] {
        let r = s.par_raw(&with_assertion(req.params.clone(), &s.assertion_for(&aud))).await;
        assert_eq!(r.status, 201, "aud {aud}: {}", r.raw);
    }
    for aud in [s.url("/authorize"), "https://other.example/par".to_owned()] {
        let r = s.par_raw(&with_assertion(req.params.clone(), &s.assertion_for(&aud))).await;
        assert_eq!((r.status, r.error()), (401, Some("invalid_client")), "aud {aud}: {}", r.raw);
    }
    // P-91: the same assertion twice (replayed jti).
    let a = s.assertion_for(&s.par_endpoint());
    assert_eq!(s.par_raw(&with_assertion(req.params.clone(), &a)).await.status, 201);
    let r = s.par_raw(&with_assertion(req.params.clone(), &a)).await;
    assert_eq!((r.status, r.error()), (401, Some("invalid_client")), "{}", r.raw);
    // No client authentication at all.
    let r = s.par_raw(&req.params).await;
    assert_eq!((r.status, r.error()), (401, Some("invalid_client")), "{}", r.raw);
    // HTTP Basic: 401 with WWW-Authenticate (RFC 6749 §5.2).
    let r = read_token_reply(
        s.http.post(s.par_endpoint()).basic_auth(CLIENT_ID, Some("x")).form(&req.params).send().await.unwrap(),
    )
    .await;
    assert_eq!((r.status, r.error()), (401, Some("invalid_client")), "{}", r.raw);
    assert!(r.header("www-authenticate").is_some(), "WWW-Authenticate on 401 after HTTP auth");
    s.stop().await;
}

/// RFC 9126 §2.3: the pushed request is validated at push time; errors are JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rfc9126_par_errors() {
    let s = start(Backend::Memory).await;
    let base = AuthRequest::new(SCOPE_VERIFY);
    let cases: Vec<(&str, AuthRequest, u16, &str)> = vec![
        (
            "request_uri pushed",
            base.clone().set("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            400,
            "invalid_request",
        ),
        (
            "redirect_uri not registered",
            base.clone().set("redirect_uri", "https://evil.example/cb"),
            400,
            "invalid_request",
        ),
        ("redirect_uri missing", base.clone().remove("redirect_uri"), 400, "invalid_request"),
        ("response_type token", base.clone().set("response_type", "token"), 400, "unsupported_response_type"),
        ("P-80 no purpose", base.clone().set("scope", "openid number-verification:verify"), 400, "invalid_scope"),
        ("P-33 no PKCE", base.clone().remove("code_challenge").remove("code_challenge_method"), 400, "invalid_request"),
        ("S-01 plain PKCE", base.clone().set("code_challenge_method", "plain"), 400, "invalid_request"),
        ("E-TK-01 repeated parameter", base.clone().add("scope", SCOPE_SHARE), 400, "invalid_request"),
        ("client_id of another client", base.clone().set("client_id", "other-app"), 401, "invalid_client"),
    ];
    for (what, req, status, error) in cases {
        let r = s.push(&req.params).await;
        assert_eq!((r.status, r.error()), (status, Some(error)), "{what}: {}", r.raw);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    }
    // Method, content type, size (RFC 9126 §2.3: 405, 400, 413).
    let r = s.http.get(s.par_endpoint()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = read_token_reply(s.http.post(s.par_endpoint()).json(&json!({"a": 1})).send().await.unwrap()).await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_request")));
    let big = format!("state={}", "x".repeat(70 * 1024));
    let r = s
        .http
        .post(s.par_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    s.stop().await;
}

/// RFC 9126 §4 at `/authorize`: only `client_id` and `request_uri` count; the `request_uri` must
/// be this client's, unexpired and unused, else the error page with `invalid_request_uri`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rfc9126_authorize_with_request_uri() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| {
        let mut other = c.clients[0].clone();
        other.client_id = "other-app".into();
        c.clients.push(other);
    }))
    .await;
    let req = AuthRequest::new(SCOPE_VERIFY);

    // Other parameters in the query are ignored (a different redirect URI and scope included).
    let uri = s.pushed_uri(&req.params).await;
    let o = s
        .authorize_pushed(
            CLIENT_ID,
            &uri,
            &[("redirect_uri", "https://evil.example/cb"), ("scope", "openid"), ("state", "x")],
        )
        .await;
    assert_success_redirect(&s, &o, &req);

    // Another client's request_uri: refused, and not spent (a client that learns another's
    // request_uri from the browser cannot burn it).
    let uri = s.pushed_uri(&req.params).await;
    invalid_request_uri_page(&s.authorize_pushed("other-app", &uri, &[]).await, "other client");
    assert_success_redirect(&s, &s.authorize_pushed(CLIENT_ID, &uri, &[]).await, &req);
    invalid_request_uri_page(&s.authorize_pushed(CLIENT_ID, &uri, &[]).await, "used once");
    // Expired (60 s).
    let uri = s.pushed_uri(&req.params).await;
    s.clock.advance(61);
    invalid_request_uri_page(&s.authorize_pushed(CLIENT_ID, &uri, &[]).await, "expired");
    // Unknown.
    invalid_request_uri_page(&s.authorize_pushed(CLIENT_ID, &format!("{PREFIX}nope"), &[]).await, "unknown");
    // Unknown client: E-AZ-00 error page, never a redirect.
    let uri = s.pushed_uri(&req.params).await;
    assert_error_page(&s.authorize_pushed("nobody", &uri, &[]).await);
    // Both request and request_uri.
    let o = s.authorize_pushed(CLIENT_ID, &uri, &[("request", "a.b.c")]).await;
    assert_error_page(&o);
    // E-AZ-10: a request_uri by reference (not from PAR) is still not supported.
    let by_ref = req.clone().set("request_uri", "https://client.example/request.jwt");
    let o = s.authorize(DEVICE_1, &by_ref).await;
    assert_redirect_error(&s, &o, &by_ref, "request_uri_not_supported");
    // An unbound device with a valid pushed request: login_required to the pushed redirect URI.
    let uri = s.pushed_uri(&req.params).await;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", CLIENT_ID).append_pair("request_uri", &uri);
    let o = s.authorize_query(DEVICE_UNBOUND, &q.finish(), &[]).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    s.stop().await;
}

/// Discovery (RFC 9126 §5): the PAR endpoint; `request_uri_parameter_supported` stays false
/// (no request_uri by reference); PAR is not required.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rfc9126_discovery() {
    let s = start(Backend::Memory).await;
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let m: Value = s.http.get(s.url(path)).send().await.unwrap().json().await.unwrap();
        assert_eq!(m["pushed_authorization_request_endpoint"], json!(s.par_endpoint()), "{path}");
        assert_eq!(m["require_pushed_authorization_requests"], json!(false));
        assert_eq!(m["request_uri_parameter_supported"], json!(false));
    }
    s.stop().await;
}
