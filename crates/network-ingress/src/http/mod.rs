//! The actix adapter of the ingress. In the all-in-one process it wraps the whole app: every
//! request loses its client-supplied identity headers, and requests on identifying paths
//! (`/authorize`) carry the ingress's [`IdentityOutcome`] as a typed request extension. Only code
//! in this process can set an extension; no header can.
//!
//! The device's address is decided by [`crate::client_addr`] (issue 6 item 4): the peer
//! (`HttpRequest::peer_addr`, which the numbat binary sets from a trusted load balancer's PROXY
//! protocol header), or, when that peer is a trusted proxy, the right-most untrusted hop of the
//! configured forwarding header. A header-enrichment proxy's subscriber header counts only from
//! the configured enricher blocks; it is read before the strip and stripped from everyone.

use crate::client_addr::{self, Enriched};
use crate::Ingress;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use numbat_core::{Amr, Identity, IdentityOutcome};
use std::sync::Arc;

/// Register with `App::app_data(ingress_data(...))` so [`ingress_layer`] can find the ingress.
pub fn ingress_data(ingress: Arc<Ingress>) -> web::Data<Ingress> {
    web::Data::from(ingress)
}

/// `App::wrap(middleware::from_fn(ingress_layer))`.
///
/// Any `IdentityOutcome` already present is replaced: the verdict is always this ingress's own.
pub async fn ingress_layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(ingress) = req.app_data::<web::Data<Ingress>>().cloned() else {
        // Misconfigured wiring must not identify anyone.
        req.extensions_mut().insert(IdentityOutcome::NotIdentified);
        return next.call(req).await;
    };
    let cfg = &ingress.config().client_addr;
    let identifying = ingress.config().identify_paths.iter().any(|p| p == req.path());
    let peer = req.peer_addr();

    // Header enrichment (issue 6 item 4): read BEFORE the strip, and only for enricher peers.
    let enriched = match (&cfg.enrichment, identifying) {
        (Some(e), true) => {
            let values: Vec<&[u8]> = req.headers().get_all(e.header.as_str()).map(|v| v.as_bytes()).collect();
            client_addr::enrichment(cfg, peer, &values)
        }
        _ => Enriched::NotApplicable,
    };

    // Every client-supplied identity header goes, all instances, whatever the case; the
    // enrichment header too, whoever sent it.
    let enrichment_header = cfg.enrichment.as_ref().map(|e| e.header.as_str());
    for name in ingress.config().strip_headers.iter().map(String::as_str).chain(enrichment_header) {
        if let Ok(h) = HeaderName::from_bytes(name.as_bytes()) {
            if req.headers_mut().remove(&h).next().is_some() {
                tracing::debug!(header = %h, "stripped a client-supplied identity header");
            }
        }
    }

    let outcome = if !identifying {
        IdentityOutcome::NotIdentified
    } else {
        match enriched {
            Enriched::Subscriber(msisdn) => {
                IdentityOutcome::Identified(Identity { msisdn, amr: Amr::Nba, authenticated_at: ingress.clock().now() })
            }
            Enriched::Invalid => {
                tracing::debug!("the enrichment header is not one E.164 number: not identified");
                IdentityOutcome::NotIdentified
            }
            Enriched::NotApplicable => {
                let resolved = {
                    let fwd: Vec<&[u8]> =
                        req.headers().get_all(cfg.forwarding_header.name()).map(|v| v.as_bytes()).collect();
                    client_addr::resolve(cfg, peer, &fwd)
                };
                match resolved {
                    Ok(a) => ingress.identify(Some(a.ip), a.port).await,
                    Err(why) => {
                        tracing::debug!(reason = %why, "no client address: not identified");
                        IdentityOutcome::NotIdentified
                    }
                }
            }
        }
    };
    req.extensions_mut().insert(outcome);
    next.call(req).await
}

pub mod admin;
pub mod proxy;

#[cfg(test)]
mod tests;
