//! numbat-network-ingress: the only component that sees the device's network address, and the
//! only one that may say which subscriber a request comes from (design.md, "Who faces whom").
//!
//! - [`bindings`]: address → subscriber bindings in the store (static config, RADIUS accounting;
//!   provisioning adds to the same records later).
//! - [`Ingress`]: resolves a request's source address to an [`IdentityOutcome`], failing closed.
//! - [`http`]: the actix adapter: strips client-supplied identity headers and hands the outcome to
//!   the authorization server in-process, as a typed request extension nobody outside can set.
//! - [`radius`]: RADIUS accounting (RFC 2866) from the packet gateways, the live source of
//!   bindings.

pub mod bindings;
pub mod http;
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
}

impl Default for IngressConfig {
    fn default() -> Self {
        IngressConfig {
            domain: "default".into(),
            strip_headers: DEFAULT_STRIPPED_HEADERS.iter().map(|s| s.to_string()).collect(),
            identify_paths: vec!["/authorize".into()],
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

    /// Which subscriber sends from `addr`? Fails closed: no binding → `NotIdentified`; a store
    /// error → `Unavailable` (never a guess).
    pub async fn identify(&self, addr: Option<IpAddr>) -> IdentityOutcome {
        let Some(ip) = addr else { return IdentityOutcome::NotIdentified };
        match self.bindings.lookup(&self.cfg.domain, ip).await {
            Ok(Some(b)) => IdentityOutcome::Identified(Identity {
                msisdn: b.msisdn,
                amr: Amr::Nba,
                authenticated_at: self.clock.now(),
            }),
            Ok(None) => IdentityOutcome::NotIdentified,
            Err(e) => {
                tracing::warn!(error = %e, "binding lookup failed");
                IdentityOutcome::Unavailable
            }
        }
    }
}
