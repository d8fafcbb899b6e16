//! `numbat demo`: plays the app (device + app backend) against a running numbat and prints each
//! step of a Number Verification round, as the README walks through it with curl.

use crate::config::DEV_CLIENT_KEY;
use numbat_jose::{b64_encode, Alg, SigningKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};
use std::net::IpAddr;

pub struct DemoArgs {
    pub server: String,
    pub from: IpAddr,
    pub number: String,
    pub hashed: bool,
    pub client_id: String,
    pub redirect_uri: String,
    pub key_pem: Option<String>,
}

fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    SystemRandom::new().fill(&mut b).expect("rng");
    b64_encode(&b)
}

fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn short(t: &str) -> String {
    if t.len() > 40 {
        format!("{}…({} chars)", &t[..40], t.len())
    } else {
        t.to_owned()
    }
}

/// A `private_key_jwt` client assertion (P-88..P-91): iss = sub = client_id, 60 s lifetime.
pub fn client_assertion(pem: &str, kid: &str, client_id: &str, aud: &str) -> Result<String, String> {
    let key = SigningKey::from_pkcs8_pem(Some(kid.to_owned()), Alg::ES256, pem).map_err(|e| e.to_string())?;
    key.sign(
        "JWT",
        &json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": random(16), "iat": now(), "exp": now() + 60}),
    )
    .map_err(|e| e.to_string())
}

/// The app backend's token request for an authorization code, with a client assertion.
pub async fn redeem_code(
    backend: &reqwest::Client,
    token_endpoint: &str,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    assertion: &str,
) -> Result<Value, String> {
    backend
        .post(token_endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

pub async fn run(a: DemoArgs) -> Result<(), String> {
    let pem = a.key_pem.clone().unwrap_or_else(|| DEV_CLIENT_KEY.to_owned());
    let device = reqwest::Client::builder()
        .local_address(a.from)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let backend = reqwest::Client::new();

    println!("1. discovery: GET {}/.well-known/openid-configuration", a.server);
    let meta: Value = backend
        .get(format!("{}/.well-known/openid-configuration", a.server))
        .send()
        .await
        .map_err(|e| format!("is numbat running at {}? {e}", a.server))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let authz = meta["authorization_endpoint"].as_str().ok_or("no authorization_endpoint")?.to_owned();
    let token_ep = meta["token_endpoint"].as_str().ok_or("no token_endpoint")?.to_owned();
    println!("   issuer {}", meta["issuer"]);

    let verifier = random(32);
    let challenge = b64_encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    let state = random(16);
    let nonce = random(16);
    let scope = "openid dpv:FraudPreventionAndDetection number-verification:verify";
    let mut url = url::Url::parse(&authz).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &a.client_id)
        .append_pair("redirect_uri", &a.redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("prompt", "none")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    println!("2. device on mobile data ({}): GET /authorize (PKCE S256, prompt=none)", a.from);
    let r = device.get(url).send().await.map_err(|e| e.to_string())?;
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).ok_or("no redirect from /authorize")?;
    let back = url::Url::parse(location).map_err(|e| e.to_string())?;
    let q: std::collections::HashMap<String, String> = back.query_pairs().into_owned().collect();
    if let Some(err) = q.get("error") {
        println!("   redirected with error={err} ({})", q.get("error_description").cloned().unwrap_or_default());
        return Err(format!("authorization failed: {err}"));
    }
    if q.get("state") != Some(&state) {
        return Err("state mismatch".into());
    }
    let code = q.get("code").ok_or("no code")?;
    println!("   302 to {} with code={} state ok", a.redirect_uri, short(code));

    let assertion = client_assertion(&pem, "demo-app-1", &a.client_id, &token_ep)?;
    println!("3. app backend: POST /token (authorization_code, private_key_jwt)");
    let resp = redeem_code(&backend, &token_ep, code, &verifier, &a.redirect_uri, &assertion).await?;
    let at = resp["access_token"].as_str().ok_or_else(|| format!("token error: {resp}"))?;
    println!(
        "   access_token={} expires_in={} id_token={}",
        short(at),
        resp["expires_in"],
        resp["id_token"].as_str().map(short).unwrap_or_default()
    );

    let body = if a.hashed { json!({"hashedPhoneNumber": sha256_hex(&a.number)}) } else { json!({"phoneNumber": a.number}) };
    println!("4. app backend: POST /number-verification/v2/verify {body}");
    let r = backend
        .post(format!("{}/number-verification/v2/verify", a.server))
        .bearer_auth(at)
        .header("x-correlator", "numbat-demo")
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let v: Value = r.json().await.map_err(|e| e.to_string())?;
    println!("   {status} {v}");
    println!("5. the same token again (single use, NVR-05)");
    let r = backend
        .post(format!("{}/number-verification/v2/verify", a.server))
        .bearer_auth(at)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    println!("   {} {}", r.status(), r.text().await.unwrap_or_default());
    Ok(())
}
