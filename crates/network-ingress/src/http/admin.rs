//! The admin API of the ingress (issue 6 item 3): provisioning bindings over HTTP. The actix
//! adapter of [`crate::provisioning`]; [`error_response`] is the one place its errors meet the
//! wire (`{"error", "error_description"}`, `WWW-Authenticate: Bearer` on 401).
//!
//! - `PUT /admin/bindings`: one record, a JSON object as on an NDJSON import line.
//! - `POST /admin/bindings/import[?domain=D]`: NDJSON (`application/x-ndjson`) or CSV
//!   (`text/csv`), all or nothing; `domain` replaces the ingress's default for lines naming none.
//! - `GET /admin/bindings?ip=..[&port=..][&domain=..]`: the binding a device at that source would
//!   get (as the ingress resolves it), or `?ipv4=` / `?public_ipv4=&ports=` / `?ipv6_prefix=` for
//!   one exact record. The only answer that shows an MSISDN (it is the admin API).
//! - `DELETE /admin/bindings?...`: the same exact forms, or `ip` (an IPv4 address, or the /64 of
//!   an IPv6 one).
//!
//! Every route needs `Authorization: Bearer <admin token>`, checked before the body is read.

use crate::bindings::BindingAddr;
use crate::provisioning::{AddressQuery, Format, Provisioner, ProvisioningError, RecordError, MAX_BATCH_BYTES};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use std::sync::Arc;

/// Body limit of `PUT /admin/bindings` (one record).
const MAX_RECORD_BYTES: usize = 4096;

/// Register the admin routes (with the provisioner as app data).
pub fn configure(cfg: &mut web::ServiceConfig, p: Arc<Provisioner>) {
    cfg.app_data(web::Data::from(p))
        .service(
            web::resource("/admin/bindings")
                .route(web::put().to(put_binding))
                .route(web::get().to(get_binding))
                .route(web::delete().to(delete_binding))
                .default_service(web::to(|| async {
                    error_response(ProvisioningError::MethodNotAllowed("GET, PUT, DELETE"))
                })),
        )
        .service(
            web::resource("/admin/bindings/import")
                .route(web::post().to(import))
                .default_service(web::to(|| async { error_response(ProvisioningError::MethodNotAllowed("POST")) })),
        );
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(numbat_core::bearer_token)
        .filter(|t| !t.is_empty())
}

/// Read at most `limit` bytes of body (413 beyond, told by `Content-Length` before reading).
async fn body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<web::Bytes, ProvisioningError> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ProvisioningError::TooLarge(limit));
    }
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(RecordError::Syntax("the request body could not be read".into()).into()),
        Err(_) => Err(ProvisioningError::TooLarge(limit)),
    }
}

fn query(req: &HttpRequest) -> Result<AddressQuery, ProvisioningError> {
    web::Query::<AddressQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| RecordError::Syntax(format!("query: {e}")).into())
}

fn format(req: &HttpRequest) -> Result<Format, ProvisioningError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match ct.as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/x-jsonlines" => {
            Ok(Format::Ndjson)
        }
        "text/csv" => Ok(Format::Csv),
        _ => Err(ProvisioningError::UnsupportedMediaType),
    }
}

fn addr_json(a: &BindingAddr) -> serde_json::Value {
    match a {
        BindingAddr::Ipv4(ip) => json!({"ipv4": ip.to_string()}),
        BindingAddr::PortBlock { public, lo, hi } => {
            json!({"public_ipv4": public.to_string(), "ports": format!("{lo}-{hi}")})
        }
        BindingAddr::Ipv6Prefix(p) => json!({"ipv6_prefix": format!("{p}/64")}),
    }
}

fn ok(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(body)
}

async fn put_binding(p: web::Data<Provisioner>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let run = async {
        p.authenticate(bearer(&req))?;
        let b = body(&req, payload, MAX_RECORD_BYTES).await?;
        let done = p.upsert_json(&b).await?;
        let mut out = addr_json(&done.addr);
        out["domain"] = json!(done.domain);
        out["ttl_s"] = json!(done.ttl.as_secs());
        Ok(ok(StatusCode::OK, json!({"upserted": 1, "binding": out})))
    };
    run.await.unwrap_or_else(error_response)
}

async fn import(p: web::Data<Provisioner>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let run = async {
        p.authenticate(bearer(&req))?;
        let q = query(&req)?;
        if q.ip.is_some()
            || q.port.is_some()
            || q.ipv4.is_some()
            || q.public_ipv4.is_some()
            || q.ports.is_some()
            || q.ipv6_prefix.is_some()
        {
            return Err(RecordError::Syntax("query: only domain is accepted on an import".into()).into());
        }
        let fmt = format(&req)?;
        let b = body(&req, payload, MAX_BATCH_BYTES).await?;
        let report = p.import(b, fmt, q.domain.as_deref()).await?;
        Ok(ok(StatusCode::OK, serde_json::to_value(report).unwrap_or_default()))
    };
    run.await.unwrap_or_else(error_response)
}

async fn get_binding(p: web::Data<Provisioner>, req: HttpRequest) -> HttpResponse {
    let run = async {
        p.authenticate(bearer(&req))?;
        let (domain, b) = p.find(&query(&req)?).await?;
        Ok(ok(StatusCode::OK, json!({"domain": domain, "binding": b})))
    };
    run.await.unwrap_or_else(error_response)
}

async fn delete_binding(p: web::Data<Provisioner>, req: HttpRequest) -> HttpResponse {
    let run = async {
        p.authenticate(bearer(&req))?;
        p.delete(&query(&req)?).await?;
        Ok(ok(StatusCode::OK, json!({"deleted": 1})))
    };
    run.await.unwrap_or_else(error_response)
}

/// The one mapping of provisioning errors to HTTP.
pub fn error_response(e: ProvisioningError) -> HttpResponse {
    let (status, code) = match &e {
        ProvisioningError::Disabled | ProvisioningError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ProvisioningError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "invalid_token"),
        ProvisioningError::Invalid(_) | ProvisioningError::Batch { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
        ProvisioningError::TooLarge(_) | ProvisioningError::TooManyLines => {
            (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request")
        }
        ProvisioningError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request"),
        ProvisioningError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
        ProvisioningError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
    };
    let description = match &e {
        // Store details stay in the log.
        ProvisioningError::Store(err) => {
            tracing::warn!(error = %err, "provisioning: store unavailable");
            "the binding store is unavailable; retry (an import may be partly written: upserts are idempotent)"
                .to_owned()
        }
        _ => e.to_string(),
    };
    let mut body = json!({"error": code, "error_description": description});
    if let ProvisioningError::Batch { errors, bad } = &e {
        body["bad_lines"] = json!(bad);
        body["lines"] = json!(errors);
    }
    let mut r = HttpResponse::build(status);
    r.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    match e {
        ProvisioningError::Unauthorized { presented: true } => {
            r.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="numbat-admin", error="invalid_token""#));
        }
        ProvisioningError::Unauthorized { presented: false } => {
            r.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="numbat-admin""#));
        }
        ProvisioningError::MethodNotAllowed(allow) => {
            r.insert_header((header::ALLOW, allow));
        }
        _ => {}
    }
    r.json(body)
}
