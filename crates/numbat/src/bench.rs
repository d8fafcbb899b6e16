//! `numbat bench`: a load generator for the full Number Verification round (authorize + token +
//! verify), run against a live server. It reports flow latency percentiles, throughput and, when
//! given the server's PID, server CPU time per flow (from /proc). Figures are for comparison on
//! one machine (ratios and medians); shared machines are noisy.
//!
//! `--target oidc-provider` runs the same round against panva's node oidc-provider configured as
//! in `crates/numbat/bench/node-oidc-provider/` (authorize with PKCE, state and nonce → token with a
//! private_key_jwt ES256 assertion → userinfo), each virtual user with its own cookie jar: the
//! first flow of each goes through the interaction (login and consent, granted without a page)
//! before measuring, later flows get the code from the session cookie.

use crate::config::DEV_CLIENT_KEY;
use crate::demo::{client_assertion, redeem_code};
use numbat_jose::b64_encode;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which server the load is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// numbat: /authorize → /token → /number-verification/v2/verify.
    Numbat,
    /// node oidc-provider (crates/numbat/bench/node-oidc-provider): authorize → token → userinfo, endpoints from
    /// discovery, a session cookie per virtual user.
    OidcProvider,
}

pub struct BenchArgs {
    pub target: Target,
    pub server: String,
    pub from: IpAddr,
    pub flows: usize,
    pub concurrency: usize,
    pub server_pid: Option<u32>,
}

/// utime + stime of a process, in clock ticks (Linux /proc).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn ticks_per_second() -> f64 {
    // CLK_TCK is 100 on every Linux this runs on; /proc reports in those ticks.
    100.0
}

fn random(n: usize) -> Result<String, String> {
    let mut v = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut v).map_err(|_| "rng")?;
    Ok(b64_encode(&v))
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> Result<(String, String), String> {
    let verifier = random(32)?;
    let challenge = b64_encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
    Ok((verifier, challenge))
}

async fn one_flow(device: &reqwest::Client, backend: &reqwest::Client, server: &str, pem: &str) -> Result<(), String> {
    let (verifier, challenge) = pkce()?;
    let url = format!(
        "{server}/authorize?response_type=code&client_id=demo-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcallback\
         &scope=openid%20dpv%3AFraudPreventionAndDetection%20number-verification%3Averify&state=s&nonce=n\
         &code_challenge={challenge}&code_challenge_method=S256"
    );
    let r = device.get(url).send().await.map_err(|e| e.to_string())?;
    let loc = r.headers().get("location").and_then(|l| l.to_str().ok()).ok_or("no redirect")?;
    let code = url::Url::parse(loc)
        .map_err(|e| e.to_string())?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("no code in {loc}"))?;
    let assertion = client_assertion(pem, "demo-app-1", "demo-app", &format!("{server}/token"))?;
    let token_ep = format!("{server}/token");
    let t = redeem_code(backend, &token_ep, &code, &verifier, "http://127.0.0.1:9999/callback", &assertion).await?;
    let at = t["access_token"].as_str().ok_or_else(|| format!("token error {t}"))?;
    let r = backend
        .post(format!("{server}/number-verification/v2/verify"))
        .bearer_auth(at)
        .json(&serde_json::json!({"phoneNumber": "+34600000001"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!("verify answered {}", r.status()));
    }
    Ok(())
}

const REDIRECT_URI: &str = "http://127.0.0.1:9999/callback";
const SCOPE: &str = "openid dpv:FraudPreventionAndDetection number-verification:verify";

/// oidc-provider's endpoints, from its discovery document.
struct Endpoints {
    authorization: url::Url,
    token: String,
    userinfo: String,
}

async fn discover(backend: &reqwest::Client, server: &str) -> Result<Endpoints, String> {
    let meta: serde_json::Value = backend
        .get(format!("{server}/.well-known/openid-configuration"))
        .send()
        .await
        .map_err(|e| format!("is the server running at {server}? {e}"))?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let get = |k: &str| meta[k].as_str().map(str::to_owned).ok_or_else(|| format!("discovery has no {k}"));
    Ok(Endpoints {
        authorization: url::Url::parse(&get("authorization_endpoint")?).map_err(|e| e.to_string())?,
        token: get("token_endpoint")?,
        userinfo: get("userinfo_endpoint")?,
    })
}

/// A virtual user's cookies, kept by hand (name, value, path): enough for oidc-provider's
/// session and interaction cookies, which always carry a path and are all host-only.
#[derive(Default)]
struct Jar(Vec<(String, String, String)>);

impl Jar {
    fn store(&mut self, headers: &reqwest::header::HeaderMap) {
        for h in headers.get_all(reqwest::header::SET_COOKIE) {
            let Ok(h) = h.to_str() else { continue };
            let mut parts = h.split(';').map(str::trim);
            let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else { continue };
            let mut path = "/".to_owned();
            let mut expired = value.is_empty();
            for attr in parts {
                let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
                if k.eq_ignore_ascii_case("path") {
                    path = v.to_owned();
                } else if (k.eq_ignore_ascii_case("expires") && v.contains("1970"))
                    || (k.eq_ignore_ascii_case("max-age") && v.parse::<i64>().is_ok_and(|s| s <= 0))
                {
                    expired = true;
                }
            }
            self.0.retain(|(n, _, p)| !(n == name && *p == path));
            if !expired {
                self.0.push((name.to_owned(), value.to_owned(), path));
            }
        }
    }

    /// The Cookie header for a request path (RFC 6265 path-match).
    fn header(&self, req_path: &str) -> Option<String> {
        let matches = |p: &str| {
            req_path == p
                || (req_path.starts_with(p) && (p.ends_with('/') || req_path.as_bytes().get(p.len()) == Some(&b'/')))
        };
        let v: Vec<String> = self.0.iter().filter(|(_, _, p)| matches(p)).map(|(n, v, _)| format!("{n}={v}")).collect();
        (!v.is_empty()).then(|| v.join("; "))
    }
}

/// One oidc-provider round for a virtual user. Returns how many interaction redirects the device
/// had to follow (0 once its session cookie is set).
async fn oidc_provider_flow(
    device: &reqwest::Client,
    backend: &reqwest::Client,
    ep: &Endpoints,
    pem: &str,
    jar: &mut Jar,
) -> Result<usize, String> {
    let (verifier, challenge) = pkce()?;
    let (state, nonce) = (random(16)?, random(16)?);
    let mut url = ep.authorization.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "demo-app")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", SCOPE)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    // The device follows the provider's redirects (interaction, resume) until the callback.
    let mut hops = 0;
    let callback = loop {
        let mut req = device.get(url.clone());
        if let Some(c) = jar.header(url.path()) {
            req = req.header(reqwest::header::COOKIE, c);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        jar.store(r.headers());
        if !r.status().is_redirection() {
            return Err(format!("authorize step {} answered {}", url.path(), r.status()));
        }
        let loc = r.headers().get("location").and_then(|l| l.to_str().ok()).ok_or("no redirect")?;
        let next = url.join(loc).map_err(|e| e.to_string())?;
        if next.as_str().starts_with(REDIRECT_URI) {
            break next;
        }
        hops += 1;
        if hops > 4 {
            return Err(format!("too many redirects, last to {next}"));
        }
        url = next;
    };
    let q: std::collections::HashMap<_, _> = callback.query_pairs().into_owned().collect();
    if let Some(e) = q.get("error") {
        return Err(format!("authorization error {e}: {}", q.get("error_description").cloned().unwrap_or_default()));
    }
    if q.get("state") != Some(&state) {
        return Err("state mismatch".into());
    }
    let code = q.get("code").ok_or_else(|| format!("no code in {callback}"))?;
    let assertion = client_assertion(pem, "demo-app-1", "demo-app", &ep.token)?;
    let t = redeem_code(backend, &ep.token, code, &verifier, REDIRECT_URI, &assertion).await?;
    let at = t["access_token"].as_str().ok_or_else(|| format!("token error {t}"))?;
    if t["id_token"].as_str().is_none_or(str::is_empty) {
        return Err(format!("no id_token in {t}"));
    }
    let r = backend.get(&ep.userinfo).bearer_auth(at).send().await.map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!("userinfo answered {}", r.status()));
    }
    let u: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    if u["sub"].as_str().is_none() {
        return Err(format!("userinfo without sub: {u}"));
    }
    Ok(hops)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// What the virtual users of one run share.
struct Shared {
    device: reqwest::Client,
    backend: reqwest::Client,
    server: String,
    pem: String,
    endpoints: Option<Endpoints>,
}

/// A virtual user: numbat needs no state, an oidc-provider user keeps its cookies.
enum Vu {
    Numbat,
    OidcProvider(Jar),
}

impl Vu {
    /// One flow; Ok(number of interaction redirects followed).
    async fn flow(&mut self, s: &Shared) -> Result<usize, String> {
        match self {
            Vu::Numbat => one_flow(&s.device, &s.backend, &s.server, &s.pem).await.map(|()| 0),
            Vu::OidcProvider(jar) => {
                let ep = s.endpoints.as_ref().ok_or("no endpoints")?;
                oidc_provider_flow(&s.device, &s.backend, ep, &s.pem, jar).await
            }
        }
    }
}

pub async fn run(a: BenchArgs) -> Result<(), String> {
    let device = reqwest::Client::builder()
        .local_address(a.from)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let backend =
        reqwest::Client::builder().pool_max_idle_per_host(a.concurrency).build().map_err(|e| e.to_string())?;
    let endpoints = match a.target {
        Target::Numbat => None,
        Target::OidcProvider => Some(discover(&backend, &a.server).await?),
    };
    let shared =
        Arc::new(Shared { device, backend, server: a.server.clone(), pem: DEV_CLIENT_KEY.to_owned(), endpoints });
    let mut vus: Vec<Vu> = Vec::with_capacity(a.concurrency);
    match a.target {
        Target::Numbat => {
            // Warm up connections and caches.
            let mut vu = Vu::Numbat;
            for _ in 0..a.concurrency.min(32) {
                vu.flow(&shared).await?;
            }
            vus.resize_with(a.concurrency, || Vu::Numbat);
        }
        Target::OidcProvider => {
            // Each virtual user's first flow goes through the interaction and sets its session
            // cookie; it is not measured.
            for _ in 0..a.concurrency {
                let mut vu = Vu::OidcProvider(Jar::default());
                let hops = vu.flow(&shared).await?;
                if hops == 0 {
                    return Err("the first flow needed no interaction: is this oidc-provider?".into());
                }
                vus.push(vu);
            }
        }
    }
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = a.server_pid.and_then(cpu_ticks);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut vu in vus {
        let (shared, next) = (shared.clone(), next.clone());
        let flows = a.flows;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut errors, mut hops, mut first_error) = (0usize, 0usize, None);
            while next.fetch_add(1, Ordering::Relaxed) < flows {
                let t = Instant::now();
                match vu.flow(&shared).await {
                    Ok(h) => {
                        lat.push(t.elapsed());
                        hops += h;
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, hops, first_error)
        }));
    }
    let mut all = Vec::with_capacity(a.flows);
    let (mut errors, mut hops, mut first_error) = (0, 0, None);
    for t in tasks {
        let (l, e, h, f) = t.await.map_err(|e| e.to_string())?;
        all.extend(l);
        errors += e;
        hops += h;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let wall = start.elapsed();
    let cpu1 = a.server_pid.and_then(cpu_ticks);
    all.sort();
    println!("flows: {} ok, {errors} failed, concurrency {}", all.len(), a.concurrency);
    if a.target == Target::OidcProvider {
        println!("interaction redirects in measured flows: {hops} (0: /auth answered with the code directly)");
    }
    println!("throughput: {:.0} flows/s", all.len() as f64 / wall.as_secs_f64());
    println!(
        "flow latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(&all, 0.5),
        pct(&all, 0.9),
        pct(&all, 0.99),
        pct(&all, 1.0)
    );
    if let (Some(c0), Some(c1)) = (cpu0, cpu1) {
        let secs = (c1 - c0) as f64 / ticks_per_second();
        println!(
            "server CPU: {:.3} ms per flow ({secs:.2} s over {} flows)",
            secs * 1000.0 / all.len().max(1) as f64,
            all.len()
        );
    }
    if errors > 0 {
        if let Some(e) = first_error {
            eprintln!("first error: {e}");
        }
        return Err(format!("{errors} flows failed"));
    }
    Ok(())
}
