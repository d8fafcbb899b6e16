//! `POST /par`: pushed authorization requests (RFC 9126), the HTTP side of `par.rs`.

use super::{is_form, read_limited, MAX_FORM_BYTES};
use crate::error::invalid_request;
use crate::params::Params;
use crate::AuthorizationServer;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

/// The `/par` resource, for `http::configure`.
pub fn resource() -> actix_web::Resource {
    web::resource("/par")
        .route(web::post().to(push))
        .default_service(web::to(|| async { super::errors::method_not_allowed("POST") }))
}

/// RFC 9126 §2: 201 with `{request_uri, expires_in}`; errors as at the token endpoint (§2.3),
/// 413 for an oversized body.
async fn push(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let Some(body) = read_limited(payload, MAX_FORM_BYTES).await else {
        return super::errors::payload_too_large();
    };
    if !is_form(&req) {
        let e = invalid_request("content type must be application/x-www-form-urlencoded");
        return super::errors::token_error(e.into());
    }
    let authz = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("?").to_owned());
    match s.push_authorization_request(&Params::parse(&body), authz.as_deref()).await {
        Ok(r) => {
            HttpResponse::Created().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(r)
        }
        Err(e) => super::errors::token_error(e),
    }
}
