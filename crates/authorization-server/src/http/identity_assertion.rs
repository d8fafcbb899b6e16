//! The actix layer of the split authorization server (issue 6 item 5): the signed identity
//! assertion a network ingress at the edge put in `X-Numbat-Identity` becomes the request's
//! [`IdentityOutcome`] extension, which `/authorize` and `/entitlement/v1` read exactly as in
//! the all-in-one process. The layer consumes the header (no handler or log after it sees the
//! token) and replaces any outcome already present: in split mode the assertion is the only
//! identity source there is.

use crate::identity_assertion::{AssertionVerifier, Rejection};
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use futures_util::StreamExt;
use numbat_core::handoff::{request_binding, ASSERTION_HEADER};
use numbat_core::IdentityOutcome;
use std::sync::Arc;

/// Bodies are read to bind the assertion to them; the authorization server's own limit is
/// 64 KiB, so anything beyond this is refused by the handler anyway.
const MAX_BOUND_BODY: usize = 64 * 1024;

/// Register with `App::app_data(assertion_data(...))` so [`identity_assertion_layer`] finds it.
pub fn assertion_data(verifier: Arc<AssertionVerifier>) -> web::Data<AssertionVerifier> {
    web::Data::from(verifier)
}

/// `App::wrap(middleware::from_fn(identity_assertion_layer))`, in split mode only.
pub async fn identity_assertion_layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let name = HeaderName::from_static(ASSERTION_HEADER);
    let mut values = req.headers_mut().remove(&name);
    let first = values.next();
    let several = values.next().is_some();
    let Some(verifier) = req.app_data::<web::Data<AssertionVerifier>>().cloned() else {
        // Misconfigured wiring must not identify anyone.
        req.extensions_mut().insert(IdentityOutcome::NotIdentified);
        return next.call(req).await;
    };
    let outcome = match (first, several) {
        (None, _) => verifier.outcome(None, "").await,
        (Some(_), true) => {
            tracing::warn!(reason = %Rejection::Duplicate, "identity assertion refused (issue 6 item 5)");
            IdentityOutcome::NotIdentified
        }
        (Some(v), false) => match v.to_str() {
            Ok(token) => {
                let body = take_body(&mut req).await;
                let req_hash = request_binding(req.method().as_str(), req.path(), req.query_string(), &body);
                req.set_payload(Payload::from(web::Bytes::from(body)));
                verifier.outcome(Some(token), &req_hash).await
            }
            Err(_) => {
                tracing::warn!(reason = %Rejection::Malformed("header value"), "identity assertion refused (issue 6 item 5)");
                IdentityOutcome::NotIdentified
            }
        },
    };
    req.extensions_mut().insert(outcome);
    next.call(req).await
}

/// The request body, read up to just beyond [`MAX_BOUND_BODY`] (the handler then refuses the
/// request as too large); a broken body reads as what arrived before the error.
async fn take_body(req: &mut ServiceRequest) -> Vec<u8> {
    let mut payload = req.take_payload();
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else { break };
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BOUND_BODY {
            break;
        }
    }
    body
}
