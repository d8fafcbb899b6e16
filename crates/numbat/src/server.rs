//! Wiring: build the components from the configuration and serve them over HTTP.

use crate::config::{Config, ConfigError};
use crate::listener_scope::{self, ListenerScope};
use crate::metrics::{self, Metrics};
use actix_web::middleware::{from_fn, Condition, DefaultHeaders};
use actix_web::{web, App, HttpResponse};
use numbat_authorization_server::ciba::{CibaConfig, LogChannel};
use numbat_authorization_server::ts43::Ts43Config;
use numbat_authorization_server::registry::{ClientRegistry, ClientSource, RegisteredClient};
use numbat_authorization_server::{AsConfig, AuthorizationServer};
use numbat_core::{Clock, Msisdn, SystemClock};
use numbat_jose::{Alg, JwksCache, KeyRing};
use numbat_authorization_server::identity_assertion::AssertionVerifier;
use numbat_authorization_server::jwks_uri::RemoteJwks;
use numbat_network_ingress::bindings::{Binding, Bindings, Source};
use numbat_network_ingress::http::proxy::Proxy;
use numbat_network_ingress::provisioning::Provisioner;
use numbat_network_ingress::radius::{Accounting, AccountingConfig, RadiusListener};
use numbat_network_ingress::{http as ingress_http, Ingress, IngressConfig, DEFAULT_STRIPPED_HEADERS};
use numbat_resource_server::{ResourceServer, ResourceServerConfig};
use numbat_store::SharedStore;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// Static bindings are re-written at every start; this only bounds their life in the store.
const STATIC_BINDING_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Component {
    /// Ingress, authorization server and resource server in one process.
    All,
    /// The authorization server (with the in-process ingress, or, with
    /// `ingress.handoff.mode = "assertion"`, taking identities only from a split ingress).
    Authorization,
    /// The Number Verification resource server.
    Resource,
    /// The network ingress alone, at the mobile edge: a reverse proxy in front of the
    /// authorization server that hands identities on as signed assertions (issue 6 item 5).
    Ingress,
}

pub struct Options {
    pub component: Component,
    pub clock: Arc<dyn Clock>,
    /// A listener bound by the caller (tests bind port 0); else `server.listen`.
    pub listener: Option<TcpListener>,
}

impl Default for Options {
    fn default() -> Self {
        Options { component: Component::All, clock: Arc::new(SystemClock), listener: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] numbat_store::StoreError),
    #[error("keys: {0}")]
    Keys(#[from] numbat_jose::KeyRingError),
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Running {
    pub addr: SocketAddr,
    pub store: SharedStore,
    pub handle: actix_web::dev::ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The bound RADIUS accounting address (`[ingress.radius]`), when the listener runs.
    pub radius_addr: Option<SocketAddr>,
    pub radius_task: Option<tokio::task::JoinHandle<()>>,
    /// The admin listener (`server.admin_listen`), when there is one.
    pub admin: Option<AdminListener>,
}

/// The listener of `/admin/*` and `/metrics` when they have their own (`server.admin_listen`).
pub struct AdminListener {
    pub addr: SocketAddr,
    pub handle: actix_web::dev::ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.wait().await;
    }

    /// Until the main listener stops (the binary: on SIGINT/SIGTERM); then the rest stops too.
    pub async fn wait(self) -> std::io::Result<()> {
        let result = self.task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Some(t) = &self.radius_task {
            t.abort();
        }
        if let Some(a) = self.admin {
            a.handle.stop(true).await;
            let _ = a.task.await;
        }
        result
    }
}

/// Bind the RADIUS accounting socket when `[ingress.radius]` enables it (before anything is
/// served, so a busy port refuses the start).
async fn bind_radius(
    cfg: &Config,
    store: &SharedStore,
    clock: &Arc<dyn Clock>,
) -> Result<Option<(RadiusListener, Arc<Accounting>)>, StartError> {
    let r = &cfg.ingress.radius;
    if !r.enabled {
        return Ok(None);
    }
    let addr: SocketAddr = r.listen.parse().map_err(|e| cfg_err("ingress.radius.listen", e))?;
    let listener = RadiusListener::bind(addr)
        .await
        .map_err(|e| cfg_err("ingress.radius.listen", format!("cannot bind UDP {addr}: {e}")))?;
    let accounting = Accounting::new(
        AccountingConfig {
            domain: cfg.ingress.domain.clone(),
            clients: cfg.radius_clients()?,
            default_interim_s: r.default_interim_s,
        },
        store.clone(),
        clock.clone(),
    );
    Ok(Some((listener, Arc::new(accounting))))
}

fn cfg_err(key: &str, reason: impl ToString) -> ConfigError {
    ConfigError { key: key.into(), reason: reason.to_string() }
}

async fn build_authorization(
    cfg: &Config,
    store: &SharedStore,
    clock: &Arc<dyn Clock>,
) -> Result<(Arc<AuthorizationServer>, Arc<Ingress>), StartError> {
    let keys = Arc::new(KeyRing::load_or_create(store).await?);
    keys.reload(store, clock.now()).await?;
    // Every instance re-reads the shared keys, so `numbat keys rotate` reaches all of them.
    {
        let (keys, store, clock) = (Arc::downgrade(&keys), store.clone(), clock.clone());
        let every = Duration::from_secs(cfg.keys.reload_s);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(k) = keys.upgrade() else { break };
                if let Err(e) = k.reload(&store, clock.now()).await {
                    tracing::warn!(error = %e, "signing-key reload failed; keeping the current keys");
                }
            }
        });
    }
    let mut clients = Vec::new();
    let policy = cfg.client_policy();
    for (i, c) in cfg.clients.iter().enumerate() {
        let client = cfg.client(c).map_err(|e| cfg_err(&format!("clients[{i}]"), e))?;
        let reg = RegisteredClient::with_policy(client, &policy, ClientSource::Config)
            .map_err(|e| cfg_err(&format!("clients[{i}]"), e))?;
        if keys.signer(reg.id_token_alg).is_none() {
            return Err(cfg_err(
                &format!("clients[{i}].id_token_signed_response_alg"),
                format!("no {} signing key is configured", reg.id_token_alg.as_str()),
            )
            .into());
        }
        clients.push(reg);
    }
    let as_cfg = AsConfig {
        issuer: cfg.server.issuer.clone(),
        access_token_audience: cfg.access_token_audience(),
        access_token_ttl_s: cfg.tokens.access_token_ttl_s,
        id_token_ttl_s: cfg.tokens.id_token_ttl_s,
        code_ttl_s: cfg.tokens.code_ttl_s,
        clock_skew_s: cfg.tokens.clock_skew_s,
        access_token_alg: Alg::ES256,
    };
    let timeout = Duration::from_millis(cfg.ts43.timeout_ms);
    let channel: Arc<dyn numbat_authorization_server::ciba::DecisionChannel> = if cfg.ciba.webhook_url.is_empty() {
        Arc::new(LogChannel)
    } else {
        Arc::new(crate::adapters::WebhookChannel::new(cfg.ciba.webhook_url.clone(), timeout).map_err(|e| cfg_err("ciba.webhook_url", e))?)
    };
    // Clients from the configuration, plus those of the admin API (store), with `jwks_uri` keys
    // fetched over HTTP under `[clients_policy]` (issue 4 item 2).
    let cp = &cfg.clients_policy;
    let fetcher = crate::jwks_fetch::HttpJwksFetcher::new(
        policy.jwks_uri.clone(),
        Duration::from_millis(cp.jwks_uri_timeout_ms),
        cp.jwks_uri_max_bytes,
    )
    .map_err(|e| cfg_err("clients_policy", e))?;
    let registry = ClientRegistry::new(clients)
        .with_policy(policy)
        .with_remote_jwks(RemoteJwks::new(Arc::new(fetcher), cfg.remote_jwks_config()));
    let server = AuthorizationServer::new(
        as_cfg,
        registry,
        store.clone(),
        keys,
        clock.clone(),
        &cfg.pairwise_secret()?,
    )
    .with_admin_token(&cfg.admin_token()?)
    .with_ciba(
        CibaConfig {
            expires_in_s: cfg.ciba.expires_in_s,
            interval_s: cfg.ciba.interval_s,
            consent_purposes: cfg.ciba.consent_purposes.clone(),
        },
        channel,
    )
    .with_ciba_test_approval(cfg.ciba.test_approval)
    .with_consent(cfg.consent_config()?)
    .with_refresh(cfg.refresh_config())
    .with_address_resolver(Arc::new(crate::adapters::BindingsResolver {
        bindings: Bindings::new(store.clone()),
        domain: cfg.ingress.domain.clone(),
        clock: clock.clone(),
    }))
    .with_ts43_config(Ts43Config { token_ttl_s: cfg.ts43.token_ttl_s, ..Ts43Config::default() });
    let server = if cfg.ts43.validator == "store" {
        server
    } else {
        let v = crate::adapters::HttpOperatorTokens::new(cfg.ts43.validator.clone(), timeout).map_err(|e| cfg_err("ts43.validator", e))?;
        server.with_operator_tokens(Arc::new(v))
    };
    // P-21: a consent page only with the operator's out-of-band confirmation channel.
    let server = match cfg.confirmation_channel()? {
        Some(c) => {
            if cfg.consent.confirmation_channel == "log" {
                tracing::warn!("consent.confirmation_channel = \"log\": confirmation codes go to the server log (DEV ONLY)");
            }
            server.with_confirmation_channel(c)
        }
        None => server,
    };

    let ingress = build_ingress(cfg, store, clock).await?;
    let server = Arc::new(server);
    server.reload_clients().await?;
    // Every instance re-reads the store's clients, so an admin-API change reaches all of them.
    {
        let (weak, every) = (Arc::downgrade(&server), Duration::from_secs(cfg.clients_policy.reload_s));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(s) = weak.upgrade() else { break };
                if let Err(e) = s.reload_clients().await {
                    tracing::warn!(error = %e, "client registry reload failed; keeping the current clients");
                }
            }
        });
    }
    Ok((server, ingress))
}

/// The network ingress: in-process with `all`/`authorization`, alone with `ingress`.
async fn build_ingress(cfg: &Config, store: &SharedStore, clock: &Arc<dyn Clock>) -> Result<Arc<Ingress>, StartError> {
    let bindings = Bindings::new(store.clone());
    let now = clock.now();
    for (i, b) in cfg.ingress.static_bindings.iter().enumerate() {
        let key = format!("ingress.static_bindings[{i}]");
        let ip: std::net::IpAddr = b.address.parse().map_err(|e| cfg_err(&key, e))?;
        let msisdn = Msisdn::parse(&b.msisdn).map_err(|e| cfg_err(&key, e))?;
        bindings.upsert(&cfg.ingress.domain, ip, &Binding::new(msisdn, Source::Static, now), STATIC_BINDING_TTL).await?;
    }
    let mut strip: Vec<String> = DEFAULT_STRIPPED_HEADERS.iter().map(|s| s.to_string()).collect();
    strip.extend(cfg.ingress.strip_headers.iter().map(|h| h.to_ascii_lowercase()));
    let ingress_cfg = IngressConfig {
        domain: cfg.ingress.domain.clone(),
        strip_headers: strip,
        // The authorization endpoint (and its consent decision, which must come from the same
        // subscriber) and the TS.43 entitlement endpoint identify the device.
        identify_paths: vec!["/authorize".into(), "/authorize/consent".into(), "/entitlement/v1".into()],
        client_addr: cfg.client_addr_config()?,
    };
    let ingress = Arc::new(Ingress::new(ingress_cfg, bindings, clock.clone()));
    Ok(ingress)
}

type SplitParts = (Option<Arc<Proxy>>, Option<Arc<AssertionVerifier>>);

/// issue 6 item 5: the reverse proxy of `--component ingress`, and the assertion verifier of
/// `--component authorization` with `ingress.handoff.mode = "assertion"`.
fn split_handoff(
    cfg: &Config,
    component: Component,
    ingress: Option<&Arc<Ingress>>,
    store: &SharedStore,
    clock: &Arc<dyn Clock>,
) -> Result<SplitParts, StartError> {
    match (component, ingress) {
        (Component::Ingress, Some(i)) => {
            let proxy_cfg = cfg.handoff_proxy(i.config().strip_headers.clone())?;
            let proxy = Proxy::new(proxy_cfg, cfg.handoff_signer()?, clock.clone())
                .map_err(|e| cfg_err("ingress.handoff.upstream", e))?;
            tracing::info!(upstream = %proxy.upstream(), "ingress: proxying to the authorization server with signed identity assertions");
            Ok((Some(Arc::new(proxy)), None))
        }
        (Component::Authorization, _) if cfg.handoff_by_assertion() => {
            let v = cfg.assertion_verifier(store.clone(), clock.clone())?;
            tracing::info!("authorization server: identities only from signed ingress assertions");
            Ok((None, Some(Arc::new(v))))
        }
        (Component::All, _) if cfg.handoff_by_assertion() => {
            tracing::warn!("ingress.handoff.mode = \"assertion\" applies to --component authorization; all-in-one hands off in-process");
            Ok((None, None))
        }
        _ => Ok((None, None)),
    }
}

/// Build everything and start serving. Returns once the listener is bound.
pub async fn start(cfg: Config, opts: Options) -> Result<Running, StartError> {
    cfg.validate()?;
    let store = numbat_store::open_with_tls(&cfg.store.url, &cfg.store.prefix, &cfg.store.tls()?).await?;
    let shared = !(cfg.store.url.is_empty() || cfg.store.url.starts_with("memory"));
    if opts.component != Component::All && !shared {
        return Err(cfg_err("store.url", "a single component needs a shared store (redis://...) to share state").into());
    }

    let (authz, ingress) = match opts.component {
        Component::All | Component::Authorization => {
            let (a, i) = build_authorization(&cfg, &store, &opts.clock).await?;
            (Some(a), Some(i))
        }
        Component::Ingress => (None, Some(build_ingress(&cfg, &store, &opts.clock).await?)),
        Component::Resource => (None, None),
    };
    // Split deployment (issue 6 item 5): the edge ingress proxies with signed assertions; the
    // authorization server in assertion mode trusts nothing else (not even its TCP peer).
    let (proxy, verifier) = split_handoff(&cfg, opts.component, ingress.as_ref(), &store, &opts.clock)?;
    // The ingress learns bindings from RADIUS wherever it runs.
    let radius = match opts.component {
        Component::All | Component::Authorization | Component::Ingress => bind_radius(&cfg, &store, &opts.clock).await?,
        Component::Resource => None,
    };
    // The ingress's admin API wherever the ingress runs: provisioning bindings (issue 6 item 3).
    let admin_token = cfg.admin_token()?;
    let provisioner = ingress.as_ref().map(|i| {
        Arc::new(Provisioner::new(i.bindings().clone(), i.config().domain.clone(), opts.clock.clone(), &admin_token))
    });
    let resource = match opts.component {
        Component::All | Component::Resource => Some(Arc::new(ResourceServer::new(
            ResourceServerConfig {
                issuer: cfg.server.issuer.clone(),
                audience: cfg.access_token_audience(),
                access_token_algs: vec![Alg::ES256],
                clock_skew_s: cfg.tokens.clock_skew_s,
            },
            store.clone(),
            Arc::new(JwksCache::new(store.clone())),
            opts.clock.clone(),
        ))),
        Component::Authorization | Component::Ingress => None,
    };

    let metrics = web::Data::new(Metrics::new());
    let ready_store = store.clone();
    let serve_metrics = cfg.server.metrics;
    let app = move |scope: ListenerScope| {
        let ready_store = ready_store.clone();
        let authz = authz.clone();
        let resource = resource.clone();
        let provisioner = provisioner.clone();
        let proxy = proxy.clone();
        let mut app = App::new()
            .app_data(metrics.clone())
            .app_data(web::Data::new(scope))
            .wrap(Condition::new(verifier.is_some(), from_fn(numbat_authorization_server::http::identity_assertion_layer)))
            .wrap(Condition::new(verifier.is_none(), from_fn(ingress_http::ingress_layer)))
            .wrap(from_fn(metrics::observe))
            // Outermost: a path this listener does not serve is 404 before anything else runs.
            .wrap(from_fn(listener_scope::enforce))
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "no-referrer")),
            );
        if let Some(i) = &ingress {
            app = app.app_data(ingress_http::ingress_data(i.clone()));
        }
        if let Some(v) = &verifier {
            app = app.app_data(numbat_authorization_server::http::assertion_data(v.clone()));
        }
        app.configure(move |c| {
            if let Some(a) = authz {
                numbat_authorization_server::http::configure(c, a);
            }
            if let Some(r) = resource {
                numbat_resource_server::http::configure(c, r);
            }
            if let Some(p) = provisioner {
                numbat_network_ingress::http::admin::configure(c, p);
            }
            c.route("/health", web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({"status": "ok"})) }));
            c.route(
                "/ready",
                web::get().to(move || {
                    let s = ready_store.clone();
                    async move {
                        match s.ping().await {
                            Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
                            Err(_) => HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "store unavailable"})),
                        }
                    }
                }),
            );
            if serve_metrics {
                c.route("/metrics", web::get().to(metrics::metrics_endpoint));
            }
            if let Some(p) = proxy {
                numbat_network_ingress::http::proxy::configure(c, p);
            }
        })
    };

    let listener = match opts.listener {
        Some(l) => l,
        None => TcpListener::bind(&cfg.server.listen)?,
    };
    let addr = listener.local_addr()?;
    let radius_addr = match &radius {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    // HttpServer's setup, plus a PROXY protocol header first from trusted load balancers
    // (issue 6 item 4), so the device's address and source port reach the ingress layer.
    let (proxy_from, proxy_timeout) = cfg.proxy_protocol()?;
    let serve = crate::proxy_listener::ServeOptions {
        workers: cfg.server.workers,
        keep_alive: Duration::from_secs(30),
        shutdown_timeout_s: 5,
        proxy_from,
        proxy_timeout,
    };
    let public_scope = if cfg.server.admin_listen.is_empty() { ListenerScope::All } else { ListenerScope::Public };
    let admin_app = app.clone();
    let server = crate::proxy_listener::serve(move || app(public_scope), listener, serve)?;
    let handle = server.handle();
    let task = tokio::spawn(server);
    let admin = if cfg.server.admin_listen.is_empty() {
        None
    } else {
        // The operator's APIs on a listener of their own: no proxies, no PROXY protocol, two
        // workers; stopped by the main listener's shutdown (`Running::wait`), not by signals.
        // Bound after the public listener, which is stopped again if this fails.
        let bound = actix_web::HttpServer::new(move || admin_app(ListenerScope::Admin))
            .workers(2)
            .disable_signals()
            .shutdown_timeout(5)
            .bind(&cfg.server.admin_listen)
            .and_then(|s| s.addrs().first().copied().map(|a| (s, a)).ok_or_else(|| std::io::Error::other("bound no address")));
        let (server, addr) = match bound {
            Ok(b) => b,
            Err(e) => {
                handle.stop(false).await;
                let _ = task.await;
                return Err(cfg_err("server.admin_listen", format!("cannot listen on {}: {e}", cfg.server.admin_listen)).into());
            }
        };
        let server = server.run();
        let admin_handle = server.handle();
        tracing::info!(%addr, "admin APIs and metrics listening");
        Some(AdminListener { addr, handle: admin_handle, task: tokio::spawn(server) })
    };
    let radius_task = radius.map(|(listener, accounting)| listener.spawn(accounting));
    if let Some(a) = radius_addr {
        tracing::info!(addr = %a, "RADIUS accounting listening");
    }
    tracing::info!(%addr, component = ?opts.component, store = if shared { "redis" } else { "memory" }, "numbat serving");
    Ok(Running { addr, store, handle, task, radius_addr, radius_task, admin })
}
