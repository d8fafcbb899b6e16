//! The actix adapter: thin handlers that parse HTTP, call the domain, and hand errors to
//! `errors.rs` (the only place that maps them to the wire).

mod admin_clients;
mod consent;
mod errors;
mod identity_assertion;
mod par;

use crate::params::Params;
use crate::AuthorizationServer;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use errors::{authorize_error, ciba_error, entitlement_error, method_not_allowed, token_error, userinfo_error};
use futures_util::StreamExt;
use numbat_core::IdentityOutcome;
use std::sync::Arc;

// Split deployment (issue 6 item 5): the edge ingress's signed assertion as identity source.
pub use identity_assertion::{assertion_data, identity_assertion_layer};

/// Form bodies larger than this are refused (`invalid_request`).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Mount the authorization server's endpoints at the root of the issuer.
pub fn configure(cfg: &mut web::ServiceConfig, server: Arc<AuthorizationServer>) {
    cfg.app_data(web::Data::from(server))
        .service(web::resource("/.well-known/openid-configuration").route(web::get().to(metadata)))
        .service(web::resource("/.well-known/oauth-authorization-server").route(web::get().to(metadata)))
        .service(web::resource("/jwks").route(web::get().to(jwks)))
        .service(par::resource())
        .service(
            web::resource("/authorize")
                .route(web::get().to(authorize_get))
                .route(web::post().to(authorize_post))
                .default_service(web::to(|| async { method_not_allowed("GET, POST") })),
        )
        .service(
            web::resource("/token")
                .route(web::post().to(token))
                .default_service(web::to(|| async { method_not_allowed("POST") })),
        )
        .service(
            web::resource("/bc-authorize")
                .route(web::post().to(bc_authorize))
                .default_service(web::to(|| async { method_not_allowed("POST") })),
        )
        .service(
            web::resource("/test/ciba/decide")
                .route(web::post().to(ciba_test_decide))
                .default_service(web::to(|| async { method_not_allowed("POST") })),
        )
        .service(
            web::resource("/entitlement/v1")
                .route(web::get().to(entitlement))
                .default_service(web::to(|| async { method_not_allowed("GET") })),
        )
        .service(
            web::resource("/admin/ts43/tokens")
                .route(web::post().to(admin_mint))
                .default_service(web::to(|| async { method_not_allowed("POST") })),
        )
        .service(
            web::resource("/userinfo")
                .route(web::get().to(userinfo))
                .route(web::post().to(userinfo))
                .default_service(web::to(|| async { method_not_allowed("GET, POST") })),
        )
        .service(
            web::resource("/introspect")
                .route(web::post().to(introspect))
                .default_service(web::to(|| async { method_not_allowed("POST") })),
        )
        .service(
            web::resource("/revoke")
                .route(web::post().to(revoke))
                .default_service(web::to(|| async { method_not_allowed("POST") })),
        );
    admin_clients::configure(cfg);
    consent::configure(cfg);
}

fn json_ok(body: Vec<u8>, cache: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static(cache)))
        .body(body)
}

async fn metadata(s: web::Data<AuthorizationServer>) -> HttpResponse {
    json_ok(s.metadata_json().to_vec(), "public, max-age=300")
}

async fn jwks(s: web::Data<AuthorizationServer>) -> HttpResponse {
    json_ok(s.jwks_json(), "public, max-age=60")
}

/// Read a body up to `limit` bytes; `None` when larger.
async fn read_limited(mut payload: web::Payload, limit: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// Why an admin request's JSON body was not read.
enum AdminBody {
    Unauthorized,
    NotJson,
    TooLarge,
}

/// The admin token first (nothing of the body is read for an unauthenticated caller), then an
/// `application/json` body of at most `limit` bytes. Each admin API maps the refusal to its own
/// errors.
async fn admin_json_body(
    s: &AuthorizationServer,
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, AdminBody> {
    if !s.admin_token_ok(bearer(req)) {
        return Err(AdminBody::Unauthorized);
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AdminBody::NotJson);
    }
    read_limited(payload, limit).await.ok_or(AdminBody::TooLarge)
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

async fn run_authorize(s: &AuthorizationServer, req: &HttpRequest, params: Params) -> HttpResponse {
    // The ingress put its verdict here; nothing a client sends can (design.md step 1).
    let identity = req.extensions().get::<IdentityOutcome>().cloned().unwrap_or(IdentityOutcome::NotIdentified);
    match s.authorize(&params, identity).await {
        Ok(r) => HttpResponse::Found()
            .insert_header((header::LOCATION, r.location))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .finish(),
        Err(e) => authorize_error(e),
    }
}

async fn authorize_get(s: web::Data<AuthorizationServer>, req: HttpRequest) -> HttpResponse {
    let params = Params::parse(req.query_string().as_bytes());
    run_authorize(&s, &req, params).await
}

async fn authorize_post(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    use crate::error::{invalid_request, AuthorizeError};
    let params = match read_limited(payload, MAX_FORM_BYTES).await {
        Some(body) if is_form(&req) => Params::parse(&body),
        Some(_) => {
            let e = invalid_request("content type must be application/x-www-form-urlencoded");
            return authorize_error(AuthorizeError::ErrorPage(e));
        }
        None => return authorize_error(AuthorizeError::ErrorPage(invalid_request("request too large"))),
    };
    run_authorize(&s, &req, params).await
}

/// A form POST to a client-authenticated endpoint: its parameters and `Authorization` header.
async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<(Params, Option<String>), HttpResponse> {
    if req.method() != Method::POST {
        return Err(method_not_allowed("POST"));
    }
    let Some(body) = read_limited(payload, MAX_FORM_BYTES).await else {
        return Err(token_error(crate::error::invalid_request("request body too large").into()));
    };
    if !is_form(req) {
        return Err(token_error(
            crate::error::invalid_request("content type must be application/x-www-form-urlencoded").into(),
        ));
    }
    let authz = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("?").to_owned());
    Ok((Params::parse(&body), authz))
}

async fn introspect(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (params, authz) = match read_form(&req, payload).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.introspect(&params, authz.as_deref()).await {
        Ok(r) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(r),
        Err(e) => token_error(e),
    }
}

async fn revoke(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (params, authz) = match read_form(&req, payload).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.revoke(&params, authz.as_deref()).await {
        Ok(()) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).finish(),
        Err(e) => token_error(e),
    }
}

async fn token(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (params, authz) = match read_form(&req, payload).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.token(&params, authz.as_deref()).await {
        Ok(r) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
            .json(r),
        Err(e) => token_error(e),
    }
}

/// OIDC Core §5.3: the access token in the `Authorization` header (RFC 6750 §2.1).
async fn userinfo(s: web::Data<AuthorizationServer>, req: HttpRequest) -> HttpResponse {
    match s.userinfo(bearer(&req)).await {
        Ok(u) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(u),
        Err(e) => userinfo_error(e),
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(numbat_core::bearer_token)
}

/// TS.43 `AcquireTemporaryToken` for the device the ingress identified.
async fn entitlement(s: web::Data<AuthorizationServer>, req: HttpRequest) -> HttpResponse {
    let identity = req.extensions().get::<IdentityOutcome>().cloned().unwrap_or(IdentityOutcome::NotIdentified);
    let params = Params::parse(req.query_string().as_bytes());
    match s.acquire_temporary_token(&params, identity).await {
        Ok(t) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(t),
        Err(e) => entitlement_error(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    msisdn: String,
    app: Option<String>,
    operation_targets: Option<String>,
}

/// Admin: mint a TS.43 temporary token for a subscriber.
async fn admin_mint(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    use crate::ts43::EntitlementError;
    let Some(body) = read_limited(payload, 4096).await else {
        return entitlement_error(EntitlementError::InvalidRequest("body too large"));
    };
    if !s.admin_token_ok(bearer(&req)) {
        return entitlement_error(EntitlementError::Forbidden);
    }
    let Ok(m) = serde_json::from_slice::<MintRequest>(&body) else {
        return entitlement_error(EntitlementError::InvalidRequest("body must be {msisdn, app?, operation_targets?}"));
    };
    match s.admin_mint_temporary_token(bearer(&req), &m.msisdn, m.app.as_deref(), m.operation_targets.as_deref()).await {
        Ok(t) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(t),
        Err(e) => entitlement_error(e),
    }
}

/// CIBA backchannel authentication (poll mode).
async fn bc_authorize(s: web::Data<AuthorizationServer>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (params, authz) = match read_form(&req, payload).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.backchannel_authenticate(&params, authz.as_deref()).await {
        Ok(r) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store"))).json(r),
        Err(e) => ciba_error(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    auth_req_id: String,
    action: String,
}

/// Test-only approval of a pending CIBA request (issue 5 item 5): 404 unless enabled by config;
/// then it still needs the admin token.
async fn ciba_test_decide(s: web::Data<AuthorizationServer>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !s.ciba_test_approval {
        return HttpResponse::NotFound().finish();
    }
    if !s.admin_token_ok(bearer(&req)) {
        return entitlement_error(crate::ts43::EntitlementError::Forbidden);
    }
    let Ok(d) = serde_json::from_slice::<Decision>(&body) else {
        return entitlement_error(crate::ts43::EntitlementError::InvalidRequest("body must be {auth_req_id, action}"));
    };
    let allow = match d.action.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return entitlement_error(crate::ts43::EntitlementError::InvalidRequest("action must be allow or deny")),
    };
    match s.ciba_decide(&d.auth_req_id, allow).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => HttpResponse::NotFound().json(serde_json::json!({"error": "no pending request"})),
        Err(_) => entitlement_error(crate::ts43::EntitlementError::Unavailable),
    }
}
