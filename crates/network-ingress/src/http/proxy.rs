//! The reverse proxy of a split ingress (`numbat serve --component ingress`, issue 6 item 5): the
//! ingress runs at the mobile edge in front of the authorization server and hands the identity
//! on as a signed assertion ([`crate::handoff`]) instead of an in-process extension.
//!
//! It runs inside the same [`crate::http::ingress_layer`] as the all-in-one process: that layer
//! resolves the client address, strips client-supplied identity headers and puts its
//! [`IdentityOutcome`] on identifying paths (`/authorize`, `/entitlement/v1`). The proxy then
//! forwards method, path, query, end-to-end headers and body to the upstream authorization
//! server, adds the assertion when there is something to vouch for, and relays the answer
//! (status, `Location`, headers, body) unchanged. It never follows redirects: `/authorize`
//! answers 302/303 that are meant for the device.
//!
//! Every other path is proxied plainly (no assertion): devices on mobile data usually reach the
//! issuer's host through the ingress (split-horizon DNS), and the authorization server's other
//! pages must keep working for them. Nothing but the assertion can identify anyone at the
//! authorization server, and only identifying paths ever get one.
//!
//! Not forwarded: hop-by-hop headers (RFC 9110 §7.6.1) and those named in `Connection`, `Host`
//! (the upstream's), `Content-Length` (recomputed), `Expect`, every client-supplied identity
//! header, and forwarding headers (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`): the authorization
//! server never reads a device address (design.md).

use crate::handoff::HandoffSigner;
use actix_web::http::header::{HeaderMap, HeaderName, CACHE_CONTROL, CONNECTION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use numbat_core::handoff::{request_binding, ASSERTION_HEADER};
use numbat_core::{Clock, IdentityOutcome};
use std::sync::Arc;
use std::time::Duration;

/// Largest request body forwarded (the authorization server's forms are at most 64 KiB).
pub const MAX_REQUEST_BODY: usize = 256 * 1024;
/// Largest response body relayed (redirects and error pages are small).
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
const NOT_FORWARDED: [&str; 10] = [
    "host",
    "content-length",
    "expect",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
    ASSERTION_HEADER,
];

#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The authorization server's origin (`scheme://host[:port]`, no path).
    pub upstream: reqwest::Url,
    /// Whole-exchange timeout of one upstream request.
    pub timeout: Duration,
    /// Extra trust anchors for an https upstream (PEM), besides the Web PKI roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Identity headers to remove (the ingress's strip list), lowercase.
    pub strip_headers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("upstream must be an http(s) origin without path, query or fragment")]
    Upstream,
    #[error("upstream CA: {0}")]
    Ca(String),
    #[error("HTTP client: {0}")]
    Client(String),
}

pub struct Proxy {
    upstream: reqwest::Url,
    client: reqwest::Client,
    signer: HandoffSigner,
    clock: Arc<dyn Clock>,
    strip: Vec<String>,
}

impl Proxy {
    pub fn new(cfg: ProxyConfig, signer: HandoffSigner, clock: Arc<dyn Clock>) -> Result<Self, ProxyError> {
        let u = &cfg.upstream;
        if !matches!(u.scheme(), "http" | "https")
            || u.host_str().is_none()
            || !matches!(u.path(), "" | "/")
            || u.query().is_some()
            || u.fragment().is_some()
            || !u.username().is_empty()
            || u.password().is_some()
        {
            return Err(ProxyError::Upstream);
        }
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(3)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            // Never through an HTTP(S)_PROXY from the environment: the assertion stays on the hop
            // the operator configured.
            .no_proxy();
        if let Some(pem) = &cfg.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ProxyError::Ca(e.to_string()))?;
            if certs.is_empty() {
                return Err(ProxyError::Ca("no certificate in the file".into()));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| ProxyError::Client(e.to_string()))?;
        let mut strip: Vec<String> = cfg.strip_headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        strip.extend(HOP_BY_HOP.iter().chain(NOT_FORWARDED.iter()).map(|h| h.to_string()));
        Ok(Proxy { upstream: cfg.upstream, client, signer, clock, strip })
    }

    pub fn upstream(&self) -> &reqwest::Url {
        &self.upstream
    }

    /// Whether a request header goes upstream (`connection_listed`: names the request's own
    /// `Connection` header declares hop-by-hop).
    fn forwards(&self, name: &str, connection_listed: &[String]) -> bool {
        !self.strip.iter().any(|h| h == name) && !connection_listed.iter().any(|h| h == name)
    }
}

/// Mount the proxy as the default service: every path the ingress does not serve itself
/// (`/health`, `/ready`, `/metrics`) goes upstream.
pub fn configure(cfg: &mut web::ServiceConfig, proxy: Arc<Proxy>) {
    cfg.app_data(web::Data::from(proxy)).default_service(web::to(forward));
}

fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn plain(status: StatusCode, msg: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body(msg)
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, HttpResponse> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| plain(StatusCode::BAD_REQUEST, "unreadable request body"))?;
        if body.len() + chunk.len() > limit {
            return Err(plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn forward(req: HttpRequest, payload: web::Payload, proxy: web::Data<Proxy>) -> HttpResponse {
    let body = match read_body(payload, MAX_REQUEST_BODY).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "method not supported");
    };
    let mut url = proxy.upstream.clone();
    url.set_path(req.uri().path());
    url.set_query(req.uri().query());

    let listed = connection_listed(req.headers());
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in req.headers() {
        if !proxy.forwards(name.as_str(), &listed) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    // The ingress layer's verdict; absent (miswired) = not identified, fail closed.
    let outcome = req.extensions().get::<IdentityOutcome>().cloned().unwrap_or(IdentityOutcome::NotIdentified);
    // Bound to the request exactly as the authorization server will see it (the URL as sent).
    let req_hash = request_binding(method.as_str(), url.path(), url.query().unwrap_or(""), &body);
    match proxy.signer.assertion(&outcome, &req_hash, proxy.clock.now()) {
        Ok(Some(jwt)) => match reqwest::header::HeaderValue::from_str(&jwt) {
            Ok(mut v) => {
                v.set_sensitive(true);
                headers.insert(ASSERTION_HEADER, v);
            }
            Err(_) => return plain(StatusCode::SERVICE_UNAVAILABLE, "identity hand-off failed"),
        },
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "signing the identity assertion failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "identity hand-off failed");
        }
    }

    let sent = proxy.client.request(method.clone(), url).headers(headers).body(body).send().await;
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => {
            // Never the URL: its query is the client's request.
            let timeout = e.is_timeout();
            tracing::warn!(error = %e.without_url(), timeout, "upstream authorization server failed");
            return if timeout {
                plain(StatusCode::GATEWAY_TIMEOUT, "upstream timed out")
            } else {
                plain(StatusCode::BAD_GATEWAY, "upstream unavailable")
            };
        }
    };
    relay(upstream, method == reqwest::Method::HEAD).await
}

/// The upstream answer, as the device gets it.
async fn relay(mut upstream: reqwest::Response, head: bool) -> HttpResponse {
    let Ok(status) = StatusCode::from_u16(upstream.status().as_u16()) else {
        return plain(StatusCode::BAD_GATEWAY, "upstream answered an invalid status");
    };
    if upstream.content_length().is_some_and(|l| l > MAX_RESPONSE_BODY as u64) {
        return plain(StatusCode::BAD_GATEWAY, "upstream answer too large");
    }
    let listed: Vec<String> = upstream
        .headers()
        .get_all(reqwest::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let mut out = HttpResponse::build(status);
    for (name, value) in upstream.headers() {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || n == "content-length" || listed.iter().any(|h| h == n) {
            continue;
        }
        if let (Ok(n), Ok(v)) =
            (HeaderName::from_bytes(n.as_bytes()), actix_web::http::header::HeaderValue::from_bytes(value.as_bytes()))
        {
            out.append_header((n, v));
        }
    }
    if head {
        return out.finish();
    }
    let mut body = Vec::new();
    loop {
        match upstream.chunk().await {
            Ok(Some(c)) if body.len() + c.len() <= MAX_RESPONSE_BODY => body.extend_from_slice(&c),
            Ok(Some(_)) => return plain(StatusCode::BAD_GATEWAY, "upstream answer too large"),
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "reading the upstream answer failed");
                return plain(StatusCode::BAD_GATEWAY, "upstream answer unreadable");
            }
        }
    }
    out.body(body)
}
