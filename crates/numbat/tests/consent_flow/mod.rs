//! Helpers of the consent and refresh-token tests: configurations with a consent-based or
//! contract purpose, the consent page (P-20, P-21), refresh and admin calls.
#![allow(dead_code)]

use crate::common::*;
use numbat::Config;
use serde_json::{json, Value};
use std::net::IpAddr;

/// A purpose the tests give a legal basis of their choosing (the dev purpose stays
/// legitimate_interest, so the dev flows need no consent).
pub const SP: &str = "dpv:ServiceProvision";
pub const ADMIN: &str = "dev-admin-token";
pub const OFFLINE_SCOPE: &str = "openid dpv:ServiceProvision offline_access phone";

/// demo-app may also use refresh tokens, `offline_access`, `phone` and [`SP`], whose legal
/// basis is `basis`.
pub fn offline_client(c: &mut Config, basis: &str) {
    let d = &mut c.clients[0];
    d.grant_types.push("refresh_token".into());
    d.scopes
        .extend(["offline_access", "phone", SP].map(String::from));
    c.consent.legal_basis.insert(SP.into(), basis.into());
}

/// An interactive request (no `prompt=none`).
pub fn interactive(scope: &str) -> AuthRequest {
    AuthRequest::new(scope).remove("prompt")
}

/// The consent page as served, and what its form needs.
pub struct ConsentForm {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub pending: String,
    pub csrf: String,
    pub cookie: String,
}

impl ConsentForm {
    pub fn header(&self, n: &str) -> &str {
        self.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

/// `GET /authorize` that must answer with the consent page.
pub async fn consent_page(s: &TestServer, from: IpAddr, req: &AuthRequest) -> ConsentForm {
    let r = device(from)
        .get(format!("{}/authorize?{}", s.base, req.query()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "expected the consent page: {headers:?} {body}");
    let set_cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("consent cookie")
        .to_owned();
    let cookie = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    ConsentForm {
        status,
        pending: hidden(&body, "pending"),
        csrf: hidden(&body, "csrf"),
        cookie,
        headers,
        body,
    }
}

/// `POST /authorize/consent` from `from` with these fields and extra headers.
pub async fn post_consent(
    s: &TestServer,
    from: IpAddr,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> AuthOutcome {
    let mut rb = device(from).post(s.url("/authorize/consent")).form(fields);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    read_outcome(rb.send().await.unwrap()).await
}

/// The regular decision of the page `f` (after the minimum human delay).
pub async fn decide(s: &TestServer, from: IpAddr, f: &ConsentForm, decision: &str) -> AuthOutcome {
    let cookie = format!("numbat_consent={}", f.cookie);
    let fields = [
        ("pending", f.pending.as_str()),
        ("csrf", f.csrf.as_str()),
        ("decision", decision),
    ];
    post_consent(
        s,
        from,
        &fields,
        &[
            ("cookie", &cookie),
            ("origin", &s.base),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await
}

/// 303 to the client with a code and the request's state.
pub fn assert_code(s: &TestServer, o: &AuthOutcome, req: &AuthRequest) -> String {
    assert_eq!(
        o.status, 303,
        "expected 303 to the client, got {} {}",
        o.status, o.body
    );
    assert!(o
        .location
        .as_ref()
        .unwrap()
        .as_str()
        .starts_with(REDIRECT_URI));
    assert_eq!(o.get("error"), None, "{:?}", o.query);
    assert_eq!(o.get("state"), Some(req.state.as_str()));
    assert_eq!(o.get("iss"), Some(s.base.as_str()));
    o.get("code").expect("code").to_owned()
}

/// Consent page, wait the human delay, approve: the code.
pub async fn approved_code(s: &TestServer, from: IpAddr, req: &AuthRequest) -> String {
    let f = consent_page(s, from, req).await;
    s.clock.advance(2);
    let o = decide(s, from, &f, "approve").await;
    assert_code(s, &o, req)
}

/// The whole interactive flow with approval: the token response.
pub async fn approved_tokens(s: &TestServer, from: IpAddr, scope: &str) -> TokenReply {
    let req = interactive(scope);
    let code = approved_code(s, from, &req).await;
    let r = s.redeem(&code, &req.verifier).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r
}

pub async fn refresh(s: &TestServer, rt: &str) -> TokenReply {
    let form = vec![
        ("grant_type".to_string(), "refresh_token".to_string()),
        ("refresh_token".to_string(), rt.to_string()),
    ];
    s.token_raw(&with_assertion(form, &s.assertion())).await
}

pub async fn refresh_with(s: &TestServer, extra: &[(&str, &str)], assertion: &str) -> TokenReply {
    let mut form = vec![("grant_type".to_string(), "refresh_token".to_string())];
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    s.token_raw(&with_assertion(form, assertion)).await
}

/// A client assertion for `/introspect` or `/revoke`.
pub fn endpoint_assertion(s: &TestServer, path: &str) -> String {
    let now = s.now();
    sign_client_jwt(
        &json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": s.url(path), "jti": random_b64(16), "iat": now, "exp": now + 60}),
    )
}

pub async fn introspect(s: &TestServer, token: &str) -> Value {
    let form = with_assertion(
        vec![("token".into(), token.into())],
        &endpoint_assertion(s, "/introspect"),
    );
    let r = s
        .http
        .post(s.url("/introspect"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub async fn revoke(s: &TestServer, token: &str) -> u16 {
    let form = with_assertion(
        vec![("token".into(), token.into())],
        &endpoint_assertion(s, "/revoke"),
    );
    s.http
        .post(s.url("/revoke"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn userinfo(s: &TestServer, token: &str) -> (u16, Value) {
    let r = s
        .http
        .get(s.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

/// `GET`/`DELETE /admin/consents?<query>` with the admin token.
pub async fn admin_consents(s: &TestServer, method: reqwest::Method, query: &str) -> (u16, Value) {
    let r = s
        .http
        .request(method, s.url(&format!("/admin/consents?{query}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

pub fn q(msisdn: &str, rest: &str) -> String {
    let m: String = url::form_urlencoded::byte_serialize(msisdn.as_bytes()).collect();
    format!("msisdn={m}{rest}")
}
