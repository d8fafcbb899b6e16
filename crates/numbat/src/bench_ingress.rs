//! `numbat bench-ingress`: the ingress's figures (issue 6 item 6), measured, not asserted.
//!
//! - bulk import: bindings per second written through [`Bindings::upsert_many`] (pipelined);
//! - memory: Redis `used_memory` growth per binding (single node);
//! - lookups: [`Bindings::lookup`] per second and latency percentiles at a given concurrency,
//!   the exact path `/authorize` takes (the address, then for a CGNAT address its port block);
//! - RADIUS: Accounting-Requests per second end to end against a running server's listener
//!   (UDP, a window of requests in flight, each answered only after the store write).
//!
//! Everything it writes lives under its own key prefix and is deleted at the end. Figures are for
//! comparison on one machine; shared machines are noisy.

use numbat_network_ingress::bindings::{Binding, BindingAddr, Bindings, Source};
use numbat_network_ingress::radius::packet::{attr, decode, encode_accounting_request, Attribute, ACCOUNTING_RESPONSE};
use numbat_store::{keys, BatchOp, RedisStore, SharedStore};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct IngressBenchArgs {
    pub store: String,
    pub bindings: usize,
    pub lookups: usize,
    pub concurrency: usize,
    pub radius: Option<SocketAddr>,
    pub radius_secret: String,
    pub radius_packets: usize,
    pub radius_window: usize,
}

const DOMAIN: &str = "bench";
const CHUNK: usize = 10_000;
const TTL: Duration = Duration::from_secs(3600);

/// The i-th benchmark address: 8 in 10 a whole IPv4, 1 an IPv6 /64, 1 a CGNAT block of 256
/// ports (250 blocks per public address), as a mobile operator's mix might be.
fn addr(i: usize) -> BindingAddr {
    let n = i as u32;
    match i % 10 {
        8 => BindingAddr::ipv6_prefix(Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0, 0, 0, 0)),
        9 => {
            let block = (i / 10) as u32;
            let public = Ipv4Addr::from(0x6440_0000 + block / 250); // 100.64.0.0/10
            let lo = 1024 + (block % 250) as u16 * 256;
            BindingAddr::port_block(public, lo, lo + 255).expect("lo <= hi")
        }
        _ => BindingAddr::Ipv4(Ipv4Addr::from(0x0a00_0000 + n)), // 10.0.0.0/8
    }
}

/// A request source that `addr(i)` identifies.
fn source(i: usize) -> (IpAddr, Option<u16>) {
    match addr(i) {
        BindingAddr::Ipv4(ip) => (IpAddr::V4(ip), Some(50_000)),
        BindingAddr::Ipv6Prefix(p) => {
            let mut s = p.segments();
            s[7] = 1;
            (IpAddr::V6(s.into()), Some(50_000))
        }
        BindingAddr::PortBlock { public, lo, .. } => (IpAddr::V4(public), Some(lo + 7)),
    }
}

fn msisdn(i: usize) -> numbat_core::Msisdn {
    numbat_core::Msisdn::parse(&format!("+3461{:08}", i % 100_000_000)).expect("valid E.164")
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e6
}

fn rand_index(state: &mut u64, n: usize) -> usize {
    // xorshift64*: cheap and good enough to spread lookups over the bindings.
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
}

pub async fn run(a: IngressBenchArgs) -> Result<(), String> {
    if a.bindings == 0 || a.concurrency == 0 {
        return Err("--bindings and --concurrency must be at least 1".into());
    }
    let prefix = format!("nb:{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let redis = if a.store.starts_with("redis") { Some(RedisStore::connect(&a.store, &prefix, &Default::default()).await.map_err(|e| e.to_string())?) } else { None };
    let mem0 = match &redis {
        Some(r) => r.used_memory().await.ok(),
        None => None,
    };
    let store: SharedStore = match redis {
        Some(r) => Arc::new(r),
        None => Arc::new(numbat_store::MemoryStore::new()),
    };
    let bindings = Bindings::new(store.clone());
    let now = numbat_core::Clock::now(&numbat_core::SystemClock);

    let t = Instant::now();
    for start in (0..a.bindings).step_by(CHUNK) {
        let items: Vec<_> = (start..(start + CHUNK).min(a.bindings))
            .map(|i| (addr(i), Binding::new(msisdn(i), Source::Provisioning, now), TTL))
            .collect();
        bindings.upsert_many(DOMAIN, &items).await.map_err(|e| e.to_string())?;
    }
    let import = t.elapsed();
    println!(
        "bulk import: {} bindings in {:.2} s = {:.0} bindings/s ({})",
        a.bindings,
        import.as_secs_f64(),
        a.bindings as f64 / import.as_secs_f64(),
        a.store
    );
    if let Some(m0) = mem0 {
        if let Some(Ok(m1)) = store_memory(&a.store, &prefix).await {
            println!(
                "Redis memory: {:.1} MiB for {} bindings = {:.0} bytes per binding",
                (m1.saturating_sub(m0)) as f64 / 1048576.0,
                a.bindings,
                m1.saturating_sub(m0) as f64 / a.bindings as f64
            );
        }
    }

    let next = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..a.concurrency {
        let (bindings, next, total, n) = (bindings.clone(), next.clone(), a.lookups, a.bindings);
        tasks.push(tokio::spawn(async move {
            let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (w as u64 + 1);
            let mut lat = Vec::new();
            let mut misses = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let i = rand_index(&mut rng, n);
                let (ip, port) = source(i);
                let s = Instant::now();
                match bindings.lookup(DOMAIN, ip, port, now).await {
                    Ok(Some(b)) if b.msisdn == msisdn(i) => lat.push(s.elapsed()),
                    _ => misses += 1,
                }
            }
            (lat, misses)
        }));
    }
    let (mut lat, mut misses) = (Vec::with_capacity(a.lookups), 0);
    for task in tasks {
        let (l, m) = task.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        misses += m;
    }
    let wall = t.elapsed();
    lat.sort();
    println!(
        "lookups: {:.0}/s at concurrency {} ({} ok, {misses} wrong or missing); latency µs p50 {:.0} p99 {:.0}",
        lat.len() as f64 / wall.as_secs_f64(),
        a.concurrency,
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    // Clean up what the benchmark wrote.
    let mut ops = Vec::with_capacity(a.bindings);
    for i in 0..a.bindings {
        ops.push(BatchOp::Delete {
            key: match addr(i) {
                BindingAddr::Ipv4(ip) => keys::binding_ip(DOMAIN, IpAddr::V4(ip)),
                BindingAddr::Ipv6Prefix(p) => keys::binding_ip(DOMAIN, IpAddr::V6(p)),
                BindingAddr::PortBlock { public, .. } => keys::binding_ports(DOMAIN, public),
            },
        });
    }
    for chunk in ops.chunks(CHUNK) {
        store.batch(chunk).await.map_err(|e| e.to_string())?;
    }

    if let Some(to) = a.radius {
        radius(to, a.radius_secret.as_bytes(), a.radius_packets, a.radius_window).await?;
    }
    if misses > 0 {
        return Err(format!("{misses} lookups found no or the wrong subscriber"));
    }
    Ok(())
}

async fn store_memory(url: &str, prefix: &str) -> Option<Result<u64, numbat_store::StoreError>> {
    let r = RedisStore::connect(url, prefix, &Default::default()).await.ok()?;
    Some(r.used_memory().await)
}

/// Interim-Updates for distinct sessions, `window` in flight, each sent once: the rate at which
/// the server answers (it answers only after the store holds the binding).
async fn radius(to: SocketAddr, secret: &[u8], packets: usize, window: usize) -> Result<(), String> {
    let window = window.clamp(1, 255);
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let packet = |i: usize| {
        let attrs = [
            Attribute::u32(attr::ACCT_STATUS_TYPE, 3), // Interim-Update
            Attribute::ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::from(0x0b00_0000 + i as u32)),
            Attribute::new(attr::CALLING_STATION_ID, format!("3462{:08}", i % 100_000_000).into_bytes()),
            Attribute::new(attr::ACCT_SESSION_ID, format!("bench-{i}").into_bytes()),
            Attribute::ipv4(attr::NAS_IP_ADDRESS, Ipv4Addr::new(127, 0, 0, 1)),
        ];
        encode_accounting_request((i % 256) as u8, &attrs, secret)
    };
    let (mut sent, mut answered, mut in_flight) = (0usize, 0usize, 0usize);
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    while answered < packets {
        while in_flight < window && sent < packets {
            sock.send_to(&packet(sent), to).await.map_err(|e| e.to_string())?;
            sent += 1;
            in_flight += 1;
        }
        match tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) if decode(&buf[..n]).is_ok_and(|p| p.code == ACCOUNTING_RESPONSE) => {
                answered += 1;
                in_flight -= 1;
            }
            Ok(_) => {}
            Err(_) => return Err(format!("RADIUS: no answer for 2 s after {answered} of {packets} (is the listener at {to}, secret right?)")),
        }
    }
    let wall = t.elapsed();
    println!(
        "RADIUS accounting: {packets} Interim-Updates answered in {:.2} s = {:.0} packets/s ({window} in flight)",
        wall.as_secs_f64(),
        packets as f64 / wall.as_secs_f64()
    );
    Ok(())
}
