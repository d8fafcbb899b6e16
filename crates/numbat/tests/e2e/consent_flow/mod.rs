//! Helpers of the consent and refresh-token tests: configurations with a consent-based or
//! contract purpose, the consent page (P-20, P-21) with the operator's confirmation-code
//! webhook (a loopback HTTP server), refresh and admin calls.
#![allow(dead_code)]

use crate::common::*;
use numbat::Config;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A purpose the tests give a legal basis of their choosing (the dev purpose stays
/// legitimate_interest, so the dev flows need no consent).
pub const SP: &str = "dpv:ServiceProvision";
pub const ADMIN: &str = "dev-admin-token";
pub const OFFLINE_SCOPE: &str = "openid dpv:ServiceProvision offline_access phone";

/// demo-app may also use refresh tokens, `offline_access`, `phone` and [`SP`], whose legal
/// basis is `basis`; confirmation codes go to a loopback webhook ([`confirmation_webhook`]).
pub fn offline_client(c: &mut Config, basis: &str) {
    let d = &mut c.clients[0];
    d.grant_types.push("refresh_token".into());
    d.scopes
        .extend(["offline_access", "phone", SP].map(String::from));
    c.consent.legal_basis.insert(SP.into(), basis.into());
    confirmation_webhook(c);
}

/// The operator's confirmation gateway as the tests see it: every POST it received, and the
/// status it answers with.
pub struct Gateway {
    pub received: Mutex<Vec<Value>>,
    pub status: AtomicU16,
}

impl Gateway {
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

fn gateways() -> &'static Mutex<HashMap<String, Arc<Gateway>>> {
    static G: OnceLock<Mutex<HashMap<String, Arc<Gateway>>>> = OnceLock::new();
    G.get_or_init(Default::default)
}

/// A loopback HTTP server standing for the operator's SMS gateway, configured as the server's
/// confirmation channel (`[consent] confirmation_channel = "webhook"`), found again by issuer.
pub fn confirmation_webhook(c: &mut Config) -> Arc<Gateway> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the webhook");
    let url = format!("http://{}/sms", l.local_addr().unwrap());
    let g = Arc::new(Gateway {
        received: Mutex::new(vec![]),
        status: AtomicU16::new(204),
    });
    let gw = g.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let _ = serve_one(conn, &gw);
        }
    });
    c.consent.confirmation_channel = "webhook".into();
    c.consent.confirmation_webhook_url = url;
    gateways()
        .lock()
        .unwrap()
        .insert(c.server.issuer.clone(), g.clone());
    g
}

/// One request per connection: read it, record the JSON body, answer and close.
fn serve_one(conn: std::net::TcpStream, g: &Gateway) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let (mut line, mut len, mut request_line) = (String::new(), 0usize, String::new());
    r.read_line(&mut request_line)?;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    assert!(request_line.starts_with("POST /sms "), "{request_line}");
    g.received
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    let st = g.status.load(Ordering::SeqCst);
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {st} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    w.flush()
}

/// The confirmation gateway of this server.
pub fn gateway(s: &TestServer) -> Arc<Gateway> {
    gateways()
        .lock()
        .unwrap()
        .get(&s.base)
        .cloned()
        .expect("the server has a test confirmation webhook")
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
    /// The confirmation code the operator's gateway received for this page (P-21).
    pub code: String,
    /// What the gateway received: `{msisdn, code, client_id, purpose}`.
    pub sent: Value,
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

/// `GET /authorize` that must answer with the consent page; the code from the gateway.
pub async fn consent_page(s: &TestServer, from: IpAddr, req: &AuthRequest) -> ConsentForm {
    let g = gateway(s);
    let before = g.received().len();
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
    let received = g.received();
    assert_eq!(
        received.len(),
        before + 1,
        "one code sent with the page: {received:?}"
    );
    let sent = received[before].clone();
    ConsentForm {
        status,
        pending: hidden(&body, "pending"),
        csrf: hidden(&body, "csrf"),
        cookie,
        code: sent["code"].as_str().expect("a code").to_owned(),
        sent,
        headers,
        body,
    }
}

/// A code of the right shape that is not `code`.
pub fn wrong_code(code: &str) -> String {
    let first = (code.as_bytes()[0] - b'0' + 1) % 10;
    format!("{first}{}", &code[1..])
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

/// The regular decision of the page `f` (after the minimum human delay), with its code.
pub async fn decide(s: &TestServer, from: IpAddr, f: &ConsentForm, decision: &str) -> AuthOutcome {
    decide_with(s, from, f, decision, Some(&f.code)).await
}

/// A decision of the page `f` with this confirmation code (or none).
pub async fn decide_with(
    s: &TestServer,
    from: IpAddr,
    f: &ConsentForm,
    decision: &str,
    code: Option<&str>,
) -> AuthOutcome {
    let cookie = format!("numbat_consent={}", f.cookie);
    let mut fields = vec![
        ("pending", f.pending.as_str()),
        ("csrf", f.csrf.as_str()),
        ("decision", decision),
    ];
    if let Some(c) = code {
        fields.push(("confirmation", c));
    }
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

/// `POST /admin/consents/{search|revoke}` with this JSON body and the admin token.
pub async fn admin_consents(s: &TestServer, action: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .post(s.url(&format!("/admin/consents/{action}")))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}
