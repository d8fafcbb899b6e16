//! `numbat bindings import|lookup|delete|generate` (issue 6 item 3): a client of a running
//! server's admin API (`/admin/bindings`, see `numbat_network_ingress::http::admin`).
//!
//! `import` checks the whole file locally first (the same validation the server runs, including
//! duplicates and overlapping port blocks across the whole file), so a bad line refuses the file
//! before anything is sent; then it sends the file in batches of `--batch` records and prints
//! bindings per second. `generate` writes synthetic NDJSON for benchmarks.

use clap::{Args, Subcommand, ValueEnum};
use numbat_network_ingress::provisioning::{self, BatchError, Format, ImportReport, LineError};
use serde_json::Value;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct AdminArgs {
    /// Base URL of the numbat server whose admin API to use.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Admin token (else NUMBAT_ADMIN_TOKEN, else the dev default).
    #[arg(long, env = "NUMBAT_ADMIN_TOKEN", default_value = "dev-admin-token", hide_env_values = true)]
    pub admin_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Ndjson,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenKind {
    Ipv4,
    Cgnat,
    Ipv6,
    /// One third each.
    Mixed,
}

#[derive(Subcommand, Debug)]
pub enum BindingsAction {
    /// Import bindings from an NDJSON (one JSON object per line) or CSV file: all lines are
    /// checked first, then sent in batches.
    Import {
        /// NDJSON or CSV file of bindings.
        file: PathBuf,
        /// File format (default: csv for *.csv, else ndjson).
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
        /// Address domain for lines that name none (default: the server's ingress domain).
        #[arg(long)]
        domain: Option<String>,
        /// Records per request (at most 100000).
        #[arg(long, default_value_t = 20_000)]
        batch: usize,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Which subscriber a device sending from this address (and source port) is, as the ingress
    /// resolves it.
    Lookup {
        /// The device's source address.
        #[arg(long)]
        ip: IpAddr,
        /// Source port (needed behind CGNAT).
        #[arg(long)]
        port: Option<u16>,
        /// Address domain (default: the server's ingress domain).
        #[arg(long)]
        domain: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Delete one binding: an address (IPv6: its /64), a CGNAT port block, or an IPv6 prefix.
    #[command(group(clap::ArgGroup::new("address").required(true).args(["ip", "public_ipv4", "ipv6_prefix"])))]
    Delete {
        /// An IPv4 address bound whole, or any address of a bound IPv6 /64.
        #[arg(long)]
        ip: Option<IpAddr>,
        /// A CGNAT public address (with --ports).
        #[arg(long, requires = "ports")]
        public_ipv4: Option<Ipv4Addr>,
        /// The port block, `LO-HI` (with --public-ipv4).
        #[arg(long, requires = "public_ipv4")]
        ports: Option<String>,
        /// `2001:db8:1:2::/64`
        #[arg(long)]
        ipv6_prefix: Option<String>,
        /// Address domain (default: the server's ingress domain).
        #[arg(long)]
        domain: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Upgrade step: move IPv4 bindings stored by a build before the binding keys' hash tag to
    /// their current names, directly in the store (every numbat instance stopped first).
    MigrateKeys {
        /// Configuration with the store (`[store]`: URL, prefix, TLS files).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The store URL (overrides the configuration's).
        #[arg(long)]
        store: Option<String>,
    },
    /// Print synthetic bindings as NDJSON (benchmarks): distinct addresses, MSISDNs +347NNNNNNNN.
    Generate {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, value_enum, default_value = "mixed")]
        kind: GenKind,
    },
}

pub async fn run(action: BindingsAction) -> Result<(), String> {
    match action {
        BindingsAction::Import { file, format, domain, batch, admin } => {
            import(&file, format, domain, batch, &admin).await
        }
        BindingsAction::Lookup { ip, port, domain, admin } => {
            let mut q = vec![("ip", ip.to_string())];
            q.extend(port.map(|p| ("port", p.to_string())));
            q.extend(domain.map(|d| ("domain", d)));
            let (status, body) = send(&admin, reqwest::Method::GET, &q).await?;
            if status == 404 {
                let at = port.map(|p| format!(" port {p}")).unwrap_or_default();
                return Err(format!("no binding for {ip}{at} ({})", describe(status, &body)));
            }
            println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
            Ok(())
        }
        BindingsAction::Delete { ip, public_ipv4, ports, ipv6_prefix, domain, admin } => {
            let mut q = Vec::new();
            q.extend(ip.map(|v| ("ip", v.to_string())));
            q.extend(public_ipv4.map(|v| ("public_ipv4", v.to_string())));
            q.extend(ports.map(|v| ("ports", v)));
            q.extend(ipv6_prefix.map(|v| ("ipv6_prefix", v)));
            q.extend(domain.map(|d| ("domain", d)));
            let (status, body) = send(&admin, reqwest::Method::DELETE, &q).await?;
            if status == 404 {
                return Err(describe(status, &body));
            }
            println!("deleted");
            Ok(())
        }
        BindingsAction::Generate { count, kind } => generate(count, kind).map_err(|e| format!("writing: {e}")),
        BindingsAction::MigrateKeys { config, store } => migrate_keys(config, store).await,
    }
}

async fn migrate_keys(config: Option<PathBuf>, store: Option<String>) -> Result<(), String> {
    let mut cfg = crate::Config::load(config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(s) = store {
        cfg.store.url = s;
    }
    if !cfg.store.url.starts_with("redis") {
        return Err("bindings are migrated in a Redis store: give --store redis://... (or a config with one)".into());
    }
    let tls = cfg.store.tls().map_err(|e| e.to_string())?;
    let redis = numbat_store::RedisStore::connect(&cfg.store.url, &cfg.store.prefix, &tls).await.map_err(|e| e.to_string())?;
    let done = redis.migrate_legacy_binding_keys().await.map_err(|e| e.to_string())?;
    println!("moved {} binding keys to their current names; {} superseded by newer ones (deleted)", done.moved, done.superseded);
    Ok(())
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder().timeout(Duration::from_secs(300)).build().map_err(|e| e.to_string())
}

/// A GET or DELETE on `/admin/bindings`; non-2xx other than 404 is an error naming the server's
/// `error_description`.
async fn send(admin: &AdminArgs, method: reqwest::Method, q: &[(&str, String)]) -> Result<(u16, Value), String> {
    let r = client()?
        .request(method, format!("{}/admin/bindings", admin.server.trim_end_matches('/')))
        .bearer_auth(&admin.admin_token)
        .query(q)
        .send()
        .await
        .map_err(|e| format!("is numbat running at {}? {e}", admin.server))?;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status != 404 && !(200..300).contains(&status) {
        return Err(describe(status, &body));
    }
    Ok((status, body))
}

fn describe(status: u16, body: &Value) -> String {
    let d = body["error_description"].as_str().or(body["error"].as_str()).unwrap_or("no description");
    format!("{status}: {d}")
}

/// Lines of `text` grouped into request bodies of at most `batch` records and ~16 MiB, each
/// with the file line number of its first record line (CSV: every body repeats the header).
fn batches(text: &[u8], format: Format, batch: usize) -> Vec<(usize, Vec<u8>)> {
    const MAX_BODY: usize = 16 << 20;
    let mut lines = text.split_inclusive(|&b| b == b'\n').enumerate().peekable();
    let mut header: Vec<u8> = Vec::new();
    if format == Format::Csv {
        // The header is the first non-blank line; blank lines before it are dropped.
        for (_, l) in lines.by_ref() {
            if !l.iter().all(u8::is_ascii_whitespace) {
                header = l.to_vec();
                if !header.ends_with(b"\n") {
                    header.push(b'\n');
                }
                break;
            }
        }
    }
    let mut out = Vec::new();
    while lines.peek().is_some() {
        let first = lines.peek().map(|(i, _)| i + 1).unwrap_or(0);
        let mut body = header.clone();
        let mut records = 0;
        while let Some((_, l)) = lines.peek() {
            let blank = l.iter().all(u8::is_ascii_whitespace);
            if !blank && (records == batch || body.len() + l.len() > MAX_BODY) {
                break;
            }
            records += usize::from(!blank);
            body.extend_from_slice(l);
            lines.next();
        }
        if records > 0 {
            out.push((first, body));
        }
    }
    out
}

fn print_line_errors(errors: &[LineError], bad: usize, map: impl Fn(usize) -> usize) {
    for e in errors {
        eprintln!("  line {}: {}", map(e.line), e.error);
    }
    if bad > errors.len() {
        eprintln!("  … and {} more bad line(s)", bad - errors.len());
    }
}

async fn import(
    file: &PathBuf,
    format: Option<FileFormat>,
    domain: Option<String>,
    batch: usize,
    admin: &AdminArgs,
) -> Result<(), String> {
    if batch == 0 || batch > provisioning::MAX_BATCH_LINES {
        return Err(format!("--batch must be 1..={}", provisioning::MAX_BATCH_LINES));
    }
    let format = match format {
        Some(FileFormat::Csv) => Format::Csv,
        Some(FileFormat::Ndjson) => Format::Ndjson,
        None if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) => Format::Csv,
        None => Format::Ndjson,
    };
    let text = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;

    // 1. The whole file, as the server will see it (its default domain stands in for "no domain").
    let now = numbat_core::Clock::now(&numbat_core::SystemClock);
    let check_domain = domain.as_deref().unwrap_or("(server default)");
    if let Some(d) = &domain {
        provisioning::check_domain(d).map_err(|e| format!("--domain: {e}"))?;
    }
    let total = match provisioning::parse_lines(&text, format, check_domain, now, usize::MAX) {
        Ok(v) => v.len(),
        Err(BatchError::Lines { errors, bad }) => {
            eprintln!("{}: {bad} bad line(s); nothing was imported:", file.display());
            print_line_errors(&errors, bad, |l| l);
            return Err("the file was refused".into());
        }
        Err(BatchError::TooManyLines) => unreachable!("no record limit on a local check"),
    };
    if total == 0 {
        println!("{}: no records", file.display());
        return Ok(());
    }

    // 2. Batches, one request each.
    let http = client()?;
    let url = format!("{}/admin/bindings/import", admin.server.trim_end_matches('/'));
    let content_type = if format == Format::Csv { "text/csv" } else { "application/x-ndjson" };
    let parts = batches(&text, format, batch);
    let started = Instant::now();
    let (mut done, mut store_ms) =
        (ImportReport { imported: 0, ipv4: 0, port_blocks: 0, ipv6_prefixes: 0, store_ms: 0, bindings_per_s: 0 }, 0u64);
    for (n, (first, body)) in parts.iter().enumerate() {
        let mut rb =
            http.post(&url).bearer_auth(&admin.admin_token).header("content-type", content_type).body(body.clone());
        if let Some(d) = &domain {
            rb = rb.query(&[("domain", d)]);
        }
        let r = rb.send().await.map_err(|e| format!("is numbat running at {}? {e}", admin.server))?;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status != 200 {
            let first = *first;
            // Server line numbers count from the start of the request body.
            let map = |l: usize| {
                if format == Format::Csv {
                    if l == 1 {
                        1
                    } else {
                        first + l - 2
                    }
                } else {
                    first + l - 1
                }
            };
            if let Ok(errors) = serde_json::from_value::<Vec<LineError>>(v["lines"].clone()) {
                print_line_errors(&errors, v["bad_lines"].as_u64().unwrap_or(0) as usize, map);
            }
            return Err(format!(
                "batch {} of {} (from line {first}) refused: {}; {} binding(s) of earlier batches were imported \
                 (importing again is safe: upserts are idempotent)",
                n + 1,
                parts.len(),
                describe(status, &v),
                done.imported
            ));
        }
        let rep: ImportReport = serde_json::from_value(v).map_err(|e| format!("unexpected answer: {e}"))?;
        done.imported += rep.imported;
        done.ipv4 += rep.ipv4;
        done.port_blocks += rep.port_blocks;
        done.ipv6_prefixes += rep.ipv6_prefixes;
        store_ms += rep.store_ms;
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = done.imported as f64 / secs.max(1e-9);
    let store_rate =
        if store_ms > 0 { format!("{:.0}", done.imported as f64 * 1000.0 / store_ms as f64) } else { "n/a".into() };
    println!(
        "imported {} binding(s) ({} ipv4, {} port blocks, {} ipv6 prefixes) in {} request(s), {:.2} s: \
         {:.0} bindings/s end to end ({} bindings/s into the store)",
        done.imported,
        done.ipv4,
        done.port_blocks,
        done.ipv6_prefixes,
        parts.len(),
        secs,
        rate,
        store_rate
    );
    Ok(())
}

fn generate(count: usize, kind: GenKind) -> std::io::Result<()> {
    if count > 99_999_999 {
        return Err(std::io::Error::other("--count is at most 99999999"));
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // CGNAT: 252 blocks of 256 ports (1024-65535) per public address in 198.18.0.0/15 (RFC 2544).
    const BLOCKS: usize = 252;
    for i in 0..count {
        let k = match kind {
            GenKind::Mixed => i % 3,
            GenKind::Ipv4 => 0,
            GenKind::Cgnat => 1,
            GenKind::Ipv6 => 2,
        };
        let j = if kind == GenKind::Mixed { i / 3 } else { i };
        let m = format!("+347{i:08}");
        match k {
            0 => {
                let a = Ipv4Addr::from(0x0a00_0000u32 + j as u32);
                writeln!(out, r#"{{"msisdn":"{m}","ipv4":"{a}"}}"#)?
            }
            1 => {
                let a = Ipv4Addr::from(0xc612_0000u32 + (j / BLOCKS) as u32);
                let lo = 1024 + (j % BLOCKS) * 256;
                writeln!(out, r#"{{"msisdn":"{m}","public_ipv4":"{a}","ports":"{lo}-{}"}}"#, lo + 255)?
            }
            _ => writeln!(out, r#"{{"msisdn":"{m}","ipv6_prefix":"2001:db8:{:x}:{:x}::/64"}}"#, j >> 16, j & 0xffff)?,
        }
    }
    out.flush()
}
