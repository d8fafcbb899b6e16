//! `numbat bench`: a load generator for the full Number Verification round (authorize + token +
//! verify), run against a live server. It reports flow latency percentiles, throughput and, when
//! given the server's PID, server CPU time per flow (from /proc). Figures are for comparison on
//! one machine (ratios and medians); shared machines are noisy.

use crate::demo::{client_assertion, redeem_code};
use crate::config::DEV_CLIENT_KEY;
use numbat_jose::b64_encode;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct BenchArgs {
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

async fn one_flow(device: &reqwest::Client, backend: &reqwest::Client, server: &str, pem: &str) -> Result<(), String> {
    let mut v = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut v).map_err(|_| "rng")?;
    let verifier = b64_encode(&v);
    let challenge = b64_encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
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

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

pub async fn run(a: BenchArgs) -> Result<(), String> {
    let device = reqwest::Client::builder()
        .local_address(a.from)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    let backend = reqwest::Client::builder().pool_max_idle_per_host(a.concurrency).build().map_err(|e| e.to_string())?;
    let pem = Arc::new(DEV_CLIENT_KEY.to_owned());
    // Warm up connections and caches.
    for _ in 0..a.concurrency.min(32) {
        one_flow(&device, &backend, &a.server, &pem).await?;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = a.server_pid.and_then(cpu_ticks);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (device, backend, server, pem, next) = (device.clone(), backend.clone(), a.server.clone(), pem.clone(), next.clone());
        let flows = a.flows;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < flows {
                let t = Instant::now();
                match one_flow(&device, &backend, &server, &pem).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::with_capacity(a.flows);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.map_err(|e| e.to_string())?;
        all.extend(l);
        errors += e;
    }
    let wall = start.elapsed();
    let cpu1 = a.server_pid.and_then(cpu_ticks);
    all.sort();
    println!("flows: {} ok, {errors} failed, concurrency {}", all.len(), a.concurrency);
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
        println!("server CPU: {:.3} ms per flow ({secs:.2} s over {} flows)", secs * 1000.0 / all.len().max(1) as f64, all.len());
    }
    if errors > 0 {
        return Err(format!("{errors} flows failed"));
    }
    Ok(())
}
