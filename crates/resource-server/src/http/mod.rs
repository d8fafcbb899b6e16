//! The actix adapter: routes under `/number-verification/v2`, header and body plumbing. Handlers
//! are thin: they collect raw header values, call the domain in NVR-09 order and hand the
//! result to [`errors`], the one place that renders errors.

mod errors;

use crate::number_verification::{self, Body, MAX_BODY_BYTES};
use crate::{Correlator, Credentials, NvError, Operation, ResourceServer};
use actix_web::http::header::{HeaderName, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use std::sync::Arc;

/// The API base path (number-verification.md §1).
pub const BASE_PATH: &str = "/number-verification/v2";

/// Mount the Number Verification API under [`BASE_PATH`]: `POST /verify`,
/// `GET /device-phone-number`; other methods there → 405, other paths → 404 (CAMARA bodies).
pub fn configure(cfg: &mut web::ServiceConfig, rs: Arc<ResourceServer>) {
    cfg.service(
        web::scope(BASE_PATH)
            .app_data(web::Data::from(rs))
            .service(web::resource("/verify").route(web::post().to(verify)).default_service(web::to(
                |req: HttpRequest| async move { reject(&req, NvError::MethodNotAllowed { allow: "POST" }) },
            )))
            .service(web::resource("/device-phone-number").route(web::get().to(device_phone_number)).default_service(
                web::to(|req: HttpRequest| async move { reject(&req, NvError::MethodNotAllowed { allow: "GET" }) }),
            ))
            .default_service(web::to(|req: HttpRequest| async move { reject(&req, NvError::NotFound) })),
    );
}

fn header_values<'r>(req: &'r HttpRequest, name: &HeaderName) -> Vec<&'r [u8]> {
    req.headers().get_all(name).map(|v| v.as_bytes()).collect()
}

fn correlator(req: &HttpRequest) -> Correlator {
    Correlator::from_header_values(&header_values(req, &errors::X_CORRELATOR))
}

fn reject(req: &HttpRequest, err: NvError) -> HttpResponse {
    errors::error_response(&err, &correlator(req))
}

fn respond<T: Serialize>(result: Result<T, NvError>, correlator: &Correlator) -> HttpResponse {
    match result {
        Ok(body) => errors::builder(StatusCode::OK, correlator).json(body),
        Err(e) => errors::error_response(&e, correlator),
    }
}

enum ReadBody {
    Read(Bytes),
    TooLarge,
    Unreadable,
}

/// NVB-05: read at most [`MAX_BODY_BYTES`]; a larger declared or actual body is not read on.
async fn read_body(req: &HttpRequest, payload: web::Payload) -> ReadBody {
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return ReadBody::TooLarge;
    }
    match payload.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(bytes)) => ReadBody::Read(bytes),
        Ok(Err(_)) => ReadBody::Unreadable,
        Err(_) => ReadBody::TooLarge,
    }
}

/// `POST /verify` (phoneNumberVerify).
async fn verify(req: HttpRequest, payload: web::Payload, rs: web::Data<ResourceServer>) -> HttpResponse {
    let correlator = correlator(&req);
    let result = async {
        let grant = rs
            .authorize(Credentials::from_header_values(&header_values(&req, &AUTHORIZATION)), Operation::Verify)
            .await?;
        correlator.check()?;
        let read = read_body(&req, payload).await;
        let body = match &read {
            ReadBody::Read(b) => Body::Read(b),
            ReadBody::TooLarge => Body::TooLarge,
            ReadBody::Unreadable => Body::Unreadable,
        };
        number_verification::verify(&grant, &header_values(&req, &CONTENT_TYPE), &header_values(&req, &ACCEPT), body)
    }
    .await;
    respond(result, &correlator)
}

/// `GET /device-phone-number` (phoneNumberShare). A request body is never read (NVB-07).
async fn device_phone_number(req: HttpRequest, rs: web::Data<ResourceServer>) -> HttpResponse {
    let correlator = correlator(&req);
    let result = async {
        let grant = rs
            .authorize(Credentials::from_header_values(&header_values(&req, &AUTHORIZATION)), Operation::Share)
            .await?;
        correlator.check()?;
        number_verification::share(&grant, &header_values(&req, &ACCEPT))
    }
    .await;
    respond(result, &correlator)
}
