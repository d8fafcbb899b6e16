//! numbat-network-ingress: the only component that sees the device's network address, and the
//! only one that may say which subscriber a request comes from (design.md, "Who faces whom").
//!
//! - [`bindings`]: address → subscriber bindings in the store (static config, RADIUS accounting;
//!   provisioning adds to the same records later).
//! - [`Ingress`]: resolves a request's source address to an [`IdentityOutcome`], failing closed.
//! - [`http`]: the actix adapter: strips client-supplied identity headers and hands the outcome to
//!   the authorization server in-process, as a typed request extension nobody outside can set.
//! - [`handoff`], [`http::proxy`]: the split deployment (issue 6 item 5): a reverse proxy in front
//!   of the authorization server that hands the outcome on as a signed, single-use assertion.
//! - [`radius`]: RADIUS accounting (RFC 2866) from the packet gateways, the live source of
//!   bindings.
//! - [`provisioning`], [`http::admin`]: the admin API that upserts, bulk-imports, looks up and
//!   deletes bindings (issue 6 item 3).

pub mod bindings;
pub mod cidr;
pub mod client_addr;
pub mod handoff;
pub mod http;
pub mod provisioning;
pub mod proxy_protocol;
pub mod radius;

use bindings::Bindings;
use numbat_core::{Amr, Clock, Identity, IdentityOutcome};
use std::net::IpAddr;
use std::sync::Arc;

/// Headers that carry (or pretend to carry) a subscriber identity. Whatever a client sends
/// under these names is removed before any handler runs.
pub const DEFAULT_STRIPPED_HEADERS: &[&str] = &[
    "x-msisdn",
    "msisdn",
    "x-up-calling-line-id",
    "x-wap-msisdn",
    "x-nokia-msisdn",
    "x-h3g-msisdn",
    "x-forwarded-msisdn",
    "x-subscriber-id",
    "x-imsi",
    "x-numbat-identity",
];

#[derive(Debug, Clone)]
pub struct IngressConfig {
    /// Address domain (APN/VRF) of the devices this ingress serves.
    pub domain: String,
    /// Lowercase header names stripped from every request.
    pub strip_headers: Vec<String>,
    /// Paths whose requests are identified (the authorization endpoint).
    pub identify_paths: Vec<String>,
    /// Trusted proxies, the forwarding header they write, header enrichment (issue 6 item 4).
    pub client_addr: client_addr::ClientAddrConfig,
}

impl Default for IngressConfig {
    fn default() -> Self {
        IngressConfig {
            domain: "default".into(),
            strip_headers: DEFAULT_STRIPPED_HEADERS.iter().map(|s| s.to_string()).collect(),
            identify_paths: vec!["/authorize".into()],
            client_addr: client_addr::ClientAddrConfig::default(),
        }
    }
}

pub struct Ingress {
    cfg: IngressConfig,
    bindings: Bindings,
    clock: Arc<dyn Clock>,
}

impl Ingress {
    pub fn new(cfg: IngressConfig, bindings: Bindings, clock: Arc<dyn Clock>) -> Self {
        Ingress { cfg, bindings, clock }
    }

    pub fn config(&self) -> &IngressConfig {
        &self.cfg
    }

    pub fn bindings(&self) -> &Bindings {
        &self.bindings
    }

    /// The ingress's clock (header enrichment stamps its identities with it, issue 6 item 4).
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Which subscriber sends from `ip` (and source `port`, which a shared CGNAT address needs)?
    /// Fails closed: no binding, an ambiguous or expired one → `NotIdentified`; a store error →
    /// `Unavailable` (never a guess).
    pub async fn identify(&self, ip: Option<IpAddr>, port: Option<u16>) -> IdentityOutcome {
        let Some(ip) = ip else { return IdentityOutcome::NotIdentified };
        match self.bindings.lookup(&self.cfg.domain, ip, port, self.clock.now()).await {
            // The network authenticated the SIM when the data session started: that is the
            // subscriber's authentication time (`auth_time`, see the authorization server's
            // authn_time.rs), never later than now.
            Ok(Some(b)) => IdentityOutcome::Identified(Identity {
                msisdn: b.msisdn,
                amr: Amr::Nba,
                authenticated_at: b.since.clamp(1, self.clock.now().max(1)),
            }),
            Ok(None) => IdentityOutcome::NotIdentified,
            Err(e) => {
                tracing::warn!(error = %e, "binding lookup failed");
                IdentityOutcome::Unavailable
            }
        }
    }
}
