//! `[server] admin_listen`: the operator's APIs (`/admin/*`) and `/metrics` on a listener of
//! their own, unreachable through the public listener in any spelling; the public API not on
//! the admin listener; the health probes on both.

use crate::common::*;
use serde_json::json;

const ADMIN: &str = "dev-admin-token";

async fn status(http: &reqwest::Client, url: &str, token: Option<&str>) -> u16 {
    let mut r = http.get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap_or_else(|e| panic!("GET {url}: {e}")).status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_listener_keeps_admin_apis_off_the_public_listener() {
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.server.admin_listen = "127.0.0.1:0".into())).await;
    let admin = format!("http://{}", s.admin_addr().expect("an admin listener"));
    let public = &s.base;
    let http = &s.http;

    // The admin APIs answer on the admin listener...
    assert_eq!(status(http, &format!("{admin}/admin/clients"), Some(ADMIN)).await, 200);
    assert_eq!(status(http, &format!("{admin}/admin/clients"), None).await, 401, "still needs the admin token");
    assert_eq!(status(http, &format!("{admin}/admin/bindings?ip=127.0.0.1"), Some(ADMIN)).await, 200);
    assert_eq!(status(http, &format!("{admin}/metrics"), None).await, 200);
    let r = http
        .put(format!("{admin}/admin/bindings"))
        .bearer_auth(ADMIN)
        .json(&json!({"msisdn": "+34600000009", "ipv4": "127.0.0.3"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "provisioning on the admin listener: {}", r.status());

    // ...and on the public listener not at all, however the path is spelt.
    for path in [
        "/admin/clients",
        "/admin/bindings?ip=127.0.0.1",
        "/%61dmin/clients",
        "/admin%2Fclients",
        "//admin/clients",
        "/metrics",
        "/%6detrics",
    ] {
        assert_eq!(status(http, &format!("{public}{path}"), Some(ADMIN)).await, 404, "public {path}");
    }
    let r = http
        .put(format!("{public}/admin/bindings"))
        .bearer_auth(ADMIN)
        .json(&json!({"msisdn": "+34600000008", "ipv4": "127.0.0.3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "no provisioning through the public listener");

    // The public API is the public listener's alone; the probes are on both.
    assert_eq!(status(http, &format!("{public}/.well-known/openid-configuration"), None).await, 200);
    assert_eq!(status(http, &format!("{admin}/.well-known/openid-configuration"), None).await, 404);
    assert_eq!(status(http, &format!("{admin}/authorize"), None).await, 404);
    for probe in ["/health", "/ready"] {
        assert_eq!(status(http, &format!("{public}{probe}"), None).await, 200, "public {probe}");
        assert_eq!(status(http, &format!("{admin}{probe}"), None).await, 200, "admin {probe}");
    }

    // The binding provisioned on the admin listener identifies the device (and the one refused
    // on the public listener does not).
    assert!(s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": "+34600000009" })).await);
    s.stop().await;
}

/// Without `admin_listen` (the development default) one listener serves everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_admin_listener_one_listener_serves_all() {
    let s = start(Backend::Memory).await;
    assert!(s.admin_addr().is_none());
    assert_eq!(status(&s.http, &s.url("/admin/clients"), Some(ADMIN)).await, 200);
    assert_eq!(status(&s.http, &s.url("/metrics"), None).await, 200);
    s.stop().await;
}

/// An admin listener that cannot bind refuses the start, naming the key (the public listener,
/// already serving, is stopped again rather than left behind); a server starts fine after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_listener_that_cannot_bind_refuses_the_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let e = try_start(Spec::new(Backend::Memory).tweak(move |c| c.server.admin_listen = busy))
        .await
        .err()
        .expect("a busy admin port refuses the start")
        .to_string();
    assert!(e.contains("server.admin_listen"), "{e}");
    let s = start(Backend::Memory).await;
    assert_eq!(s.http.get(s.url("/health")).send().await.unwrap().status().as_u16(), 200);
    s.stop().await;
}
