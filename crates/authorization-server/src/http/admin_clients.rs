//! The clients admin API over HTTP (issue 4 item 2): `/admin/clients` and
//! `/admin/clients/{id}`, bearer admin token. Thin: the domain is `client_admin.rs`, the wire
//! form of its errors is `errors.rs`.

use super::errors::{client_admin_error, method_not_allowed};
use super::{admin_json_body, bearer, AdminBody};
use crate::client_admin::ClientAdminError;
use crate::AuthorizationServer;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

/// Client metadata larger than this is refused (413).
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/clients")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(web::to(|| async { method_not_allowed("GET, POST") })),
    )
    .service(
        web::resource("/admin/clients/{id}")
            .route(web::get().to(show))
            .route(web::put().to(replace))
            .route(web::delete().to(remove))
            .default_service(web::to(|| async { method_not_allowed("GET, PUT, DELETE") })),
    );
}

fn json(status: actix_web::http::StatusCode, v: &serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(v)
}

/// The admin token, then a bounded JSON body (`super::admin_json_body`).
async fn body(s: &AuthorizationServer, req: &HttpRequest, payload: web::Payload) -> Result<Vec<u8>, HttpResponse> {
    admin_json_body(s, req, payload, MAX_METADATA_BYTES).await.map_err(|e| {
        client_admin_error(match e {
            AdminBody::Unauthorized => ClientAdminError::Unauthorized,
            AdminBody::NotJson => ClientAdminError::InvalidMetadata("content type must be application/json".into()),
            AdminBody::TooLarge => ClientAdminError::TooLarge,
        })
    })
}

async fn list(s: web::Data<AuthorizationServer>, req: HttpRequest) -> HttpResponse {
    match s.admin_list_clients(bearer(&req)).await {
        Ok(v) => json(actix_web::http::StatusCode::OK, &v),
        Err(e) => client_admin_error(e),
    }
}

async fn create(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let b = match body(&s, &req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match s.admin_create_client(bearer(&req), &b).await {
        Ok(v) => json(actix_web::http::StatusCode::CREATED, &v),
        Err(e) => client_admin_error(e),
    }
}

async fn show(s: web::Data<AuthorizationServer>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    match s.admin_get_client(bearer(&req), &id).await {
        Ok(v) => json(actix_web::http::StatusCode::OK, &v),
        Err(e) => client_admin_error(e),
    }
}

async fn replace(
    s: web::Data<AuthorizationServer>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let b = match body(&s, &req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match s.admin_replace_client(bearer(&req), &id, &b).await {
        Ok(v) => json(actix_web::http::StatusCode::OK, &v),
        Err(e) => client_admin_error(e),
    }
}

async fn remove(s: web::Data<AuthorizationServer>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    match s.admin_delete_client(bearer(&req), &id).await {
        Ok(()) => HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .finish(),
        Err(e) => client_admin_error(e),
    }
}
