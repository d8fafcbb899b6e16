//! The consent page and the consent admin API over HTTP (P-20, P-21; `consent.rs` decides).
//!
//! - The page (served by `/authorize` when consent must be asked for) refuses every framing
//!   (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`), may post only to numbat and the
//!   client's redirect target (CSP `form-action`), is never cached, and sets a
//!   `SameSite=Strict; HttpOnly` cookie bound to the pending request: a form auto-submitted from
//!   another site carries neither that cookie nor the CSRF token it cannot read.
//! - `POST /authorize/consent`: the decision (the ingress identifies the device here too).
//! - `GET /admin/consents?msisdn=..[&client_id=..]`, `DELETE /admin/consents?msisdn=..&client_id=..[&purpose=..]`
//!   with `Authorization: Bearer <admin token>`.

use super::errors::{authorize_error, consent_admin_error, method_not_allowed};
use super::{bearer, is_form, read_limited};
use crate::consent::{ConsentAdminError, ConsentPrompt, ConsentSubmission, CONSENT_COOKIE};
use crate::error::{invalid_request, AuthorizeError};
use crate::params::Params;
use crate::AuthorizationServer;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use numbat_core::IdentityOutcome;

/// The consent form is three short fields.
const MAX_CONSENT_FORM: usize = 4096;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_id: &'a str,
    purpose: &'a str,
    scopes: &'a [String],
    offline_access: bool,
    pending_id: &'a str,
    csrf_token: &'a str,
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/authorize/consent")
            .route(web::post().to(consent_post))
            .default_service(web::to(|| async { method_not_allowed("POST") })),
    )
    .service(
        web::resource("/admin/consents")
            .route(web::get().to(admin_list))
            .route(web::delete().to(admin_revoke))
            .default_service(web::to(|| async { method_not_allowed("GET, DELETE") })),
    );
}

/// The page itself, with its anti-framing, no-cache and cookie headers (P-21).
pub(super) fn consent_page(p: &ConsentPrompt) -> HttpResponse {
    let page = ConsentPage {
        client_id: &p.client_id,
        purpose: &p.purpose,
        scopes: &p.scopes,
        offline_access: p.offline_access,
        pending_id: &p.pending_id,
        csrf_token: &p.csrf_token,
    };
    let Ok(html) = page.render() else {
        return authorize_error(AuthorizeError::ErrorPage(crate::error::OAuthError::new(
            crate::error::ErrorCode::ServerError,
            "the consent page could not be shown",
        )));
    };
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {}; frame-ancestors 'none'; base-uri 'none'",
        p.redirect_source
    );
    let cookie = format!(
        "{CONSENT_COOKIE}={}; Path=/authorize/consent; Max-Age={}; HttpOnly; SameSite=Strict{}",
        p.cookie,
        p.ttl_s,
        if p.secure_cookie { "; Secure" } else { "" }
    );
    let mut b = HttpResponse::Ok();
    b.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    ))
    .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
    .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
    .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        b.insert_header((header::CONTENT_SECURITY_POLICY, v));
    } else {
        b.insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ));
    }
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        b.insert_header((header::SET_COOKIE, v));
    }
    b.body(html)
}

/// The consent cookie's value, from the request's `Cookie` headers.
fn consent_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == CONSENT_COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// False when the browser tells us the POST came from elsewhere (`Sec-Fetch-Site`, `Origin`).
fn same_origin(req: &HttpRequest, issuer: &str) -> bool {
    let h = |n: &str| req.headers().get(n).map(|v| v.to_str().unwrap_or("?"));
    if let Some(site) = h("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    match h("origin") {
        None => true,
        Some(o) => url::Url::parse(issuer).is_ok_and(|u| u.origin().ascii_serialization() == o),
    }
}

async fn consent_post(
    s: web::Data<AuthorizationServer>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let form = match read_limited(payload, MAX_CONSENT_FORM).await {
        Some(body) if is_form(&req) => Params::parse(&body),
        Some(_) => {
            return authorize_error(AuthorizeError::ErrorPage(invalid_request(
                "the consent form must be form-encoded",
            )))
        }
        None => {
            return authorize_error(AuthorizeError::ErrorPage(invalid_request(
                "request too large",
            )))
        }
    };
    // The ingress identifies the device on this path too; nothing a client sends can.
    let identity = req
        .extensions()
        .get::<IdentityOutcome>()
        .cloned()
        .unwrap_or(IdentityOutcome::NotIdentified);
    let cookie = consent_cookie(&req);
    let sub = ConsentSubmission {
        form: &form,
        cookie: cookie.as_deref(),
        same_origin: same_origin(&req, &s.config().issuer),
        identity,
    };
    match s.consent_decision(sub).await {
        Ok(r) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, r.location))
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .insert_header((
                header::SET_COOKIE,
                HeaderValue::from_static("numbat_consent=; Path=/authorize/consent; Max-Age=0; HttpOnly; SameSite=Strict"),
            ))
            .finish(),
        Err(e) => authorize_error(e),
    }
}

fn admin_query(s: &AuthorizationServer, req: &HttpRequest) -> Result<Params, ConsentAdminError> {
    if !s.admin_token_ok(bearer(req)) {
        return Err(ConsentAdminError::Forbidden);
    }
    let q = Params::parse(req.query_string().as_bytes());
    if q.oversized || !q.duplicates.is_empty() {
        return Err(ConsentAdminError::InvalidRequest(
            "malformed or repeated query parameter",
        ));
    }
    Ok(q)
}

async fn admin_list(s: web::Data<AuthorizationServer>, req: HttpRequest) -> HttpResponse {
    let q = match admin_query(&s, &req) {
        Ok(q) => q,
        Err(e) => return consent_admin_error(e),
    };
    match s
        .admin_list_consents(bearer(&req), q.get("msisdn"), q.get("client_id"))
        .await
    {
        Ok(list) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(serde_json::json!({ "consents": list })),
        Err(e) => consent_admin_error(e),
    }
}

async fn admin_revoke(s: web::Data<AuthorizationServer>, req: HttpRequest) -> HttpResponse {
    let q = match admin_query(&s, &req) {
        Ok(q) => q,
        Err(e) => return consent_admin_error(e),
    };
    match s
        .admin_revoke_consents(
            bearer(&req),
            q.get("msisdn"),
            q.get("client_id"),
            q.get("purpose"),
        )
        .await
    {
        Ok(n) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(serde_json::json!({ "revoked": n })),
        Err(e) => consent_admin_error(e),
    }
}
