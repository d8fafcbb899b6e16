//! The consent page and the consent admin API over HTTP (P-20, P-21; `consent.rs` decides).
//!
//! - The page (served by `/authorize` when consent must be asked for) refuses every framing
//!   (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`), may post only to numbat and the
//!   client's redirect target (CSP `form-action`), is never cached, and sets a
//!   `SameSite=Strict; HttpOnly` cookie bound to the pending request: a form auto-submitted from
//!   another site carries neither that cookie nor the CSRF token it cannot read.
//! - The page carries an input for the confirmation code the operator sent out of band when
//!   the page was served (P-21; `consent.rs`); a wrong code shows the page again with a notice.
//! - `POST /authorize/consent`: the decision (the ingress identifies the device here too).
//! - `POST /admin/consents/search` `{msisdn, client_id?}` and `POST /admin/consents/revoke`
//!   `{msisdn, client_id, purpose?}` (JSON: the MSISDN never in a URL), with
//!   `Authorization: Bearer <admin token>`.

use super::errors::{authorize_error, consent_admin_error, method_not_allowed};
use super::{admin_json_body, bearer, is_form, read_limited, AdminBody};
use crate::consent::{
    ConsentAdminError, ConsentAdminRequest, ConsentPrompt, ConsentSubmission, CODE_DIGITS,
    CONSENT_COOKIE,
};
use crate::error::{invalid_request, AuthorizeError};
use crate::params::Params;
use crate::AuthorizationServer;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use numbat_core::IdentityOutcome;

/// The consent form is four short fields.
const MAX_CONSENT_FORM: usize = 4096;
/// An admin request body is three short fields.
const MAX_ADMIN_BODY: usize = 4096;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_id: &'a str,
    purpose: &'a str,
    scopes: &'a [String],
    offline_access: bool,
    pending_id: &'a str,
    csrf_token: &'a str,
    code_digits: usize,
    notice: Option<&'a str>,
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/authorize/consent")
            .route(web::post().to(consent_post))
            .default_service(web::to(|| async { method_not_allowed("POST") })),
    )
    .service(
        web::resource("/admin/consents/search")
            .route(web::post().to(admin_list))
            .default_service(web::to(|| async { method_not_allowed("POST") })),
    )
    .service(
        web::resource("/admin/consents/revoke")
            .route(web::post().to(admin_revoke))
            .default_service(web::to(|| async { method_not_allowed("POST") })),
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
        code_digits: CODE_DIGITS,
        notice: p.notice.as_deref(),
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
    // Shown again after a wrong confirmation code: still the page, but not a success.
    let mut b = if p.notice.is_some() {
        HttpResponse::BadRequest()
    } else {
        HttpResponse::Ok()
    };
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

/// The admin token, then a bounded JSON body (`super::admin_json_body`).
async fn admin_body(
    s: &AuthorizationServer,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<ConsentAdminRequest, ConsentAdminError> {
    let body = admin_json_body(s, req, payload, MAX_ADMIN_BODY).await.map_err(|e| match e {
        AdminBody::Unauthorized => ConsentAdminError::Forbidden,
        AdminBody::NotJson => ConsentAdminError::InvalidRequest("content type must be application/json"),
        AdminBody::TooLarge => ConsentAdminError::InvalidRequest("request too large"),
    })?;
    serde_json::from_slice(&body).map_err(|_| {
        ConsentAdminError::InvalidRequest(
            "the body must be a JSON object {msisdn, client_id, purpose}",
        )
    })
}

async fn admin_list(
    s: web::Data<AuthorizationServer>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let q = match admin_body(&s, &req, payload).await {
        Ok(q) => q,
        Err(e) => return consent_admin_error(e),
    };
    if q.purpose.is_some() {
        return consent_admin_error(ConsentAdminError::InvalidRequest(
            "search takes msisdn and client_id",
        ));
    }
    match s
        .admin_list_consents(bearer(&req), q.msisdn.as_deref(), q.client_id.as_deref())
        .await
    {
        Ok(list) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(serde_json::json!({ "consents": list })),
        Err(e) => consent_admin_error(e),
    }
}

async fn admin_revoke(
    s: web::Data<AuthorizationServer>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let q = match admin_body(&s, &req, payload).await {
        Ok(q) => q,
        Err(e) => return consent_admin_error(e),
    };
    match s
        .admin_revoke_consents(
            bearer(&req),
            q.msisdn.as_deref(),
            q.client_id.as_deref(),
            q.purpose.as_deref(),
        )
        .await
    {
        Ok(n) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .json(serde_json::json!({ "revoked": n })),
        Err(e) => consent_admin_error(e),
    }
}
