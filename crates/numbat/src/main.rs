use clap::{Parser, Subcommand};
use numbat::config::Config;
use numbat::server::{self, Component, Options};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "numbat", version, about = "CAMARA Number Verification with an OIDC authorization server and a network ingress")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (all components by default, in-memory store, 127.0.0.1:8080).
    Serve {
        /// TOML configuration; without it the dev defaults (config/dev.toml) apply.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Store URL: `memory`, `redis://host:port`, `redis+cluster://h1:p1,h2:p2`.
        #[arg(long)]
        store: Option<String>,
        /// Run one component alone (needs a shared Redis store).
        #[arg(long, value_enum, default_value = "all")]
        component: Component,
        /// Listen address, overriding `server.listen`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Play the app against a running numbat and print each step.
    Demo {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Source address of the "device" (127.0.0.1 and 127.0.0.2 are bound in the dev defaults).
        #[arg(long, default_value = "127.0.0.1")]
        from: std::net::IpAddr,
        /// The number the app asks about.
        #[arg(long, default_value = "+34600000001")]
        number: String,
        /// Send the SHA-256 hash of the number instead.
        #[arg(long)]
        hashed: bool,
        #[arg(long, default_value = "demo-app")]
        client_id: String,
        #[arg(long, default_value = "http://127.0.0.1:9999/callback")]
        redirect_uri: String,
        /// The client's private key (PKCS#8 PEM); the dev key by default.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print a private_key_jwt client assertion signed with a client's key (for curl walkthroughs).
    Assertion {
        #[arg(long, default_value = "demo-app")]
        client_id: String,
        #[arg(long, default_value = "demo-app-1")]
        kid: String,
        /// Audience: the token endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8080/token")]
        aud: String,
        /// The client's private key (PKCS#8 PEM, ES256); the dev key by default.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Load-test the full Number Verification round (authorize + token + verify) against a
    /// running numbat with the dev client; prints latency percentiles and server CPU per flow.
    Bench {
        /// The server under load: numbat, or node oidc-provider (crates/numbat/bench/node-oidc-provider/) for
        /// the comparison.
        #[arg(long, value_enum, default_value = "numbat")]
        target: numbat::bench::Target,
        /// Base URL; http://127.0.0.1:8080 for numbat, http://127.0.0.1:3000 for oidc-provider.
        #[arg(long)]
        server: Option<String>,
        #[arg(long, default_value = "127.0.0.1")]
        from: std::net::IpAddr,
        #[arg(long, default_value_t = 5000)]
        flows: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// PID of the server process, to report its CPU time per flow.
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Measure the ingress (issue 6 item 6): bulk import rate, Redis memory per binding and
    /// lookups per second against a store, and, with --radius, accounting packets per second
    /// against a running server's RADIUS listener.
    BenchIngress {
        /// `redis://host:port` (memory per binding needs a single node) or `memory`.
        #[arg(long, default_value = "redis://127.0.0.1:6379")]
        store: String,
        #[arg(long, default_value_t = 1_000_000)]
        bindings: usize,
        #[arg(long, default_value_t = 200_000)]
        lookups: usize,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// A running server's RADIUS accounting listener, e.g. 127.0.0.1:1813.
        #[arg(long)]
        radius: Option<std::net::SocketAddr>,
        #[arg(long, default_value = "testing123")]
        radius_secret: String,
        #[arg(long, default_value_t = 50_000)]
        radius_packets: usize,
        #[arg(long, default_value_t = 64)]
        radius_window: usize,
    },
    /// Signing keys, shared by every instance through the store.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Provision bindings (address → subscriber) through a running server's admin API.
    Bindings {
        #[command(subcommand)]
        action: numbat::bindings_cli::BindingsAction,
    },
    /// Registered clients, through a running server's admin API (and `hash-secret`, offline).
    Client {
        #[command(subcommand)]
        action: numbat::client_cli::ClientAction,
    },
    /// GSMA TS.43 temporary tokens.
    Ts43 {
        #[command(subcommand)]
        action: Ts43Action,
    },
    /// Check a configuration and exit.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Ts43Action {
    /// Mint a temporary token for a subscriber through a running server's admin API.
    Mint {
        #[arg(long)]
        msisdn: String,
        #[arg(long, default_value = "ap2009")]
        app: String,
        /// Comma-separated operation targets.
        #[arg(long, default_value = "VerifyPhoneNumber")]
        operation_targets: String,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// Admin token (else NUMBAT_ADMIN_TOKEN, else the dev default).
        #[arg(long, env = "NUMBAT_ADMIN_TOKEN", default_value = "dev-admin-token", hide_env_values = true)]
        admin_token: String,
    },
}

async fn ts43_command(action: Ts43Action) -> Result<(), String> {
    let Ts43Action::Mint { msisdn, app, operation_targets, server, admin_token } = action;
    let r = reqwest::Client::new()
        .post(format!("{server}/admin/ts43/tokens"))
        .bearer_auth(admin_token)
        .json(&serde_json::json!({"msisdn": msisdn, "app": app, "operation_targets": operation_targets}))
        .send()
        .await
        .map_err(|e| format!("is numbat running at {server}? {e}"))?;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    println!("{body}");
    Ok(())
}

#[derive(Subcommand)]
enum KeysAction {
    /// Add a new key per algorithm: published now, signing after --publish-ahead-s, and retire
    /// the keys it replaces --retire-after-s later. Running instances pick it up on their own.
    Rotate {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        store: Option<String>,
        /// Algorithms to rotate (default: all four, ES256, RS256, PS256 and EdDSA).
        #[arg(long, value_delimiter = ',')]
        alg: Vec<String>,
        #[arg(long, default_value_t = 180)]
        publish_ahead_s: i64,
        #[arg(long, default_value_t = 3900)]
        retire_after_s: i64,
    },
    /// List the stored keys and which one signs.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        store: Option<String>,
    },
}

async fn keys_command(action: KeysAction) -> Result<(), String> {
    let (config, store) = match &action {
        KeysAction::Rotate { config, store, .. } | KeysAction::List { config, store } => (config.clone(), store.clone()),
    };
    let mut cfg = Config::load(config.as_deref()).map_err(|e| e.to_string())?;
    if let Some(s) = store {
        cfg.store.url = s;
    }
    if cfg.store.url.is_empty() || cfg.store.url.starts_with("memory") {
        return Err("keys live in the servers' shared store: give --store redis://... (or a config with one)".into());
    }
    let tls = cfg.store.tls().map_err(|e| e.to_string())?;
    let store = numbat_store::open_with_tls(&cfg.store.url, &cfg.store.prefix, &tls).await.map_err(|e| e.to_string())?;
    let now = numbat_core::Clock::now(&numbat_core::SystemClock);
    match action {
        KeysAction::Rotate { alg, publish_ahead_s, retire_after_s, .. } => {
            let algs: Vec<numbat_jose::Alg> = if alg.is_empty() {
                numbat_jose::DEFAULT_ALGS.to_vec()
            } else {
                alg.iter().map(|a| numbat_jose::Alg::parse(a).ok_or(format!("unknown algorithm {a}"))).collect::<Result<_, _>>()?
            };
            if publish_ahead_s < 120 {
                return Err("--publish-ahead-s must be at least 120 (verifier cache 60 s + instance reload 30 s)".into());
            }
            if retire_after_s < cfg.tokens.access_token_ttl_s.max(cfg.tokens.id_token_ttl_s) + cfg.tokens.clock_skew_s {
                return Err("--retire-after-s must outlast the longest token lifetime plus skew".into());
            }
            let policy = numbat_jose::RotationPolicy { publish_ahead_s, retire_after_s };
            let kids = numbat_jose::KeyRing::rotate(&store, &algs, now, policy).await.map_err(|e| e.to_string())?;
            for k in kids {
                println!("new key {k}: published now, signing from +{publish_ahead_s} s");
            }
        }
        KeysAction::List { .. } => {
            let ring = numbat_jose::KeyRing::load_or_create(&store).await.map_err(|e| e.to_string())?;
            ring.reload(&store, now).await.map_err(|e| e.to_string())?;
            for (kid, alg, activate, retire, signing) in ring.status() {
                let state = if signing { "signing" } else if activate > now { "published, not yet signing" } else { "published" };
                let retire = retire.map(|r| format!(", retires in {} s", r - now)).unwrap_or_default();
                println!("{kid} {} {state}{retire}", alg.as_str());
            }
        }
    }
    Ok(())
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NUMBAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    if cfg.log.format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Serve { config, store, component, listen } => {
            let mut cfg = match Config::load(config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("numbat: {e}");
                    std::process::exit(2);
                }
            };
            if let Some(s) = store {
                cfg.store.url = s;
            }
            if let Some(l) = listen {
                cfg.server.listen = l;
            }
            init_logging(&cfg);
            match server::start(cfg, Options { component, ..Options::default() }).await {
                Ok(running) => {
                    let handle = running.handle.clone();
                    tokio::spawn(async move {
                        let _ = tokio::signal::ctrl_c().await;
                        handle.stop(true).await;
                    });
                    match running.wait().await {
                        Ok(()) => 0,
                        Err(_) => 1,
                    }
                }
                Err(e) => {
                    eprintln!("numbat: {e}");
                    2
                }
            }
        }
        Command::Demo { server, from, number, hashed, client_id, redirect_uri, key } => {
            let key_pem = match key.map(std::fs::read_to_string).transpose() {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("numbat demo: --key: {e}");
                    std::process::exit(2);
                }
            };
            let args = numbat::demo::DemoArgs { server, from, number, hashed, client_id, redirect_uri, key_pem };
            match numbat::demo::run(args).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("numbat demo: {e}");
                    1
                }
            }
        }
        Command::Assertion { client_id, kid, aud, key } => {
            let pem = match key.map(std::fs::read_to_string).transpose() {
                Ok(k) => k.unwrap_or_else(|| numbat::config::DEV_CLIENT_KEY.to_owned()),
                Err(e) => {
                    eprintln!("numbat assertion: --key: {e}");
                    std::process::exit(2);
                }
            };
            match numbat::demo::client_assertion(&pem, &kid, &client_id, &aud) {
                Ok(jwt) => {
                    println!("{jwt}");
                    0
                }
                Err(e) => {
                    eprintln!("numbat assertion: {e}");
                    2
                }
            }
        }
        Command::Bench { target, server, from, flows, concurrency, server_pid } => {
            let server = server.unwrap_or_else(|| match target {
                numbat::bench::Target::Numbat => "http://127.0.0.1:8080".to_owned(),
                numbat::bench::Target::OidcProvider => "http://127.0.0.1:3000".to_owned(),
            });
            let args = numbat::bench::BenchArgs { target, server, from, flows, concurrency, server_pid };
            match numbat::bench::run(args).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("numbat bench: {e}");
                    1
                }
            }
        }
        Command::BenchIngress { store, bindings, lookups, concurrency, radius, radius_secret, radius_packets, radius_window } => {
            let args = numbat::bench_ingress::IngressBenchArgs {
                store,
                bindings,
                lookups,
                concurrency,
                radius,
                radius_secret,
                radius_packets,
                radius_window,
            };
            match numbat::bench_ingress::run(args).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("numbat bench-ingress: {e}");
                    1
                }
            }
        }
        Command::Bindings { action } => match numbat::bindings_cli::run(action).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("numbat bindings: {e}");
                1
            }
        },
        Command::Client { action } => match numbat::client_cli::run(action).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("numbat client: {e}");
                1
            }
        },
        Command::Ts43 { action } => match ts43_command(action).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("numbat ts43: {e}");
                1
            }
        },
        Command::Keys { action } => match keys_command(action).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("numbat keys: {e}");
                1
            }
        },
        Command::CheckConfig { config } => match Config::load(config.as_deref()).and_then(|c| c.validate().map(|_| c)) {
            Ok(_) => {
                println!("configuration ok");
                0
            }
            Err(e) => {
                eprintln!("numbat: {e}");
                2
            }
        },
    };
    std::process::exit(code);
}
