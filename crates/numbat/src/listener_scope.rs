//! Which paths a listener answers when the operator's APIs have a listener of their own
//! (`[server] admin_listen`): `/admin/*` (clients, consents, bindings, TS.43 tokens) and
//! `/metrics` only there, and only those there; `/health` and `/ready` on both. Without
//! `admin_listen` one listener serves everything (the development default).
//!
//! The check runs before routing, on the path the router will match (percent-decoded the way
//! actix's router decodes it), with repeated slashes folded and case ignored, so no spelling of
//! an admin path reaches an admin route on the public listener.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerScope {
    /// One listener for everything.
    All,
    /// The public listener of a server with an admin listener: everything but the admin paths.
    Public,
    /// The admin listener: the admin paths and the health probes.
    Admin,
}

impl ListenerScope {
    /// Does a listener of this scope answer `path` (as the router sees it)?
    pub fn serves(self, path: &str) -> bool {
        if self == ListenerScope::All {
            return true;
        }
        let mut folded = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && folded.ends_with('/')) {
                folded.push(c.to_ascii_lowercase());
            }
        }
        let admin = folded.starts_with("/admin") || folded.starts_with("/metrics");
        let probe = matches!(folded.as_str(), "/health" | "/ready");
        match self {
            ListenerScope::All => true,
            ListenerScope::Public => !admin,
            ListenerScope::Admin => admin || probe,
        }
    }
}

/// `App::wrap(from_fn(enforce))` with a `web::Data<ListenerScope>` in the app: a path the
/// listener does not serve is 404, as if no such route existed.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let scope = req.app_data::<web::Data<ListenerScope>>().map(|d| *d.get_ref()).unwrap_or(ListenerScope::All);
    if scope == ListenerScope::All {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    // `match_info().as_str()` is the path the router matches (actix re-quotes it: `%61dmin`
    // is `admin` there), not the raw request target.
    if !scope.serves(req.match_info().as_str()) || !scope.serves(req.path()) {
        return Ok(req.into_response(HttpResponse::NotFound().finish()).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::ListenerScope::*;

    #[test]
    fn admin_paths_only_on_the_admin_listener() {
        for p in ["/admin/clients", "/admin/clients/x", "/admin/bindings/import", "/metrics", "//admin/clients", "/ADMIN/clients", "/Metrics"] {
            assert!(!Public.serves(p), "public serves {p}");
            assert!(Admin.serves(p), "admin refuses {p}");
            assert!(All.serves(p));
        }
        for p in ["/authorize", "/token", "/jwks", "/.well-known/openid-configuration", "/number-verification/v2/verify", "/"] {
            assert!(Public.serves(p), "public refuses {p}");
            assert!(!Admin.serves(p), "admin serves {p}");
        }
        for p in ["/health", "/ready"] {
            assert!(Public.serves(p) && Admin.serves(p), "{p} on both");
        }
    }
}
