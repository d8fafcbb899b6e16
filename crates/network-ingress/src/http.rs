//! The actix adapter of the ingress. In the all-in-one process it wraps the whole app: every
//! request loses its client-supplied identity headers, and requests on identifying paths
//! (`/authorize`) carry the ingress's [`IdentityOutcome`] as a typed request extension. Only code
//! in this process can set an extension; no header can.

use crate::bindings::canonical;
use crate::Ingress;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use numbat_core::IdentityOutcome;
use std::sync::Arc;

/// Register with `App::app_data(ingress_data(...))` so [`ingress_layer`] can find the ingress.
pub fn ingress_data(ingress: Arc<Ingress>) -> web::Data<Ingress> {
    web::Data::from(ingress)
}

/// `App::wrap(middleware::from_fn(ingress_layer))`.
///
/// Any `IdentityOutcome` already present is replaced: the verdict is always this ingress's own.
/// The address is the TCP peer, never a forwarding header (trusted proxies come with the
/// network-ingress issue).
pub async fn ingress_layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(ingress) = req.app_data::<web::Data<Ingress>>().cloned() else {
        // Misconfigured wiring must not identify anyone.
        req.extensions_mut().insert(IdentityOutcome::NotIdentified);
        return next.call(req).await;
    };
    for name in &ingress.config().strip_headers {
        if let Ok(h) = HeaderName::from_bytes(name.as_bytes()) {
            if req.headers_mut().remove(&h).next().is_some() {
                tracing::debug!(header = %h, "stripped a client-supplied identity header");
            }
        }
    }
    let outcome = if ingress.config().identify_paths.iter().any(|p| p == req.path()) {
        let peer = req.peer_addr().map(|a| canonical(a.ip()));
        ingress.identify(peer).await
    } else {
        IdentityOutcome::NotIdentified
    };
    req.extensions_mut().insert(outcome);
    next.call(req).await
}
