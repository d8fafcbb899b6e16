//! The actix adapter (issue 6 item 4): what the handlers behind [`ingress_layer`] see: no
//! client-supplied identity header in any case or number, the enrichment header read before the
//! strip and only from enricher peers, forwarding headers only from trusted proxies.

use super::*;
use crate::bindings::{Binding, Bindings, Source};
use crate::client_addr::{ClientAddrConfig, Enrichment};
use crate::IngressConfig;
use actix_web::middleware::from_fn;
use actix_web::{test, App, HttpRequest, HttpResponse};
use numbat_core::{Clock, ManualClock, Msisdn};
use std::time::Duration;

/// Echoes what reached it: the identity outcome and the header names left.
async fn echo(req: HttpRequest) -> HttpResponse {
    let outcome = match req.extensions().get::<IdentityOutcome>() {
        Some(IdentityOutcome::Identified(i)) => format!("identified {} {}", i.msisdn.as_str(), i.amr.as_str()),
        Some(IdentityOutcome::NotIdentified) => "not identified".into(),
        Some(IdentityOutcome::Unavailable) => "unavailable".into(),
        None => "none".into(),
    };
    let mut names: Vec<String> = req.headers().keys().map(|k| k.as_str().to_owned()).collect();
    names.sort();
    HttpResponse::Ok().body(format!("{outcome}|{}", names.join(",")))
}

async fn ingress() -> Arc<Ingress> {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
    let bindings = Bindings::new(Arc::new(numbat_store::MemoryStore::new()));
    let b = Binding::new(Msisdn::parse("+34600000002").unwrap(), Source::Static, clock.now());
    bindings
        .upsert("default", "127.0.0.2".parse::<std::net::IpAddr>().unwrap(), &b, Duration::from_secs(60))
        .await
        .unwrap();
    let cfg = IngressConfig {
        strip_headers: {
            let mut s = crate::IngressConfig::default().strip_headers;
            s.push("x-custom-id".into());
            s
        },
        client_addr: ClientAddrConfig {
            trusted_proxies: vec!["127.0.0.10".parse().unwrap()],
            enrichment: Some(Enrichment {
                header: "x-operator-msisdn".into(),
                from: vec!["127.0.0.30".parse().unwrap()],
            }),
            ..ClientAddrConfig::default()
        },
        ..IngressConfig::default()
    };
    Arc::new(Ingress::new(cfg, bindings, clock))
}

async fn call(path: &str, peer: &str, headers: &[(&str, &str)]) -> String {
    let app = test::init_service(
        App::new().app_data(ingress_data(ingress().await)).wrap(from_fn(ingress_layer)).default_service(web::to(echo)),
    )
    .await;
    let mut req = test::TestRequest::get().uri(path).peer_addr(peer.parse().unwrap());
    for (k, v) in headers {
        req = req.append_header((*k, *v));
    }
    let body = test::call_and_read_body(&app, req.to_request()).await;
    String::from_utf8(body.to_vec()).unwrap()
}

#[actix_web::test]
async fn identity_headers_are_stripped_in_every_case_and_number() {
    let h = [
        ("X-MSISDN", "+34600000002"),
        ("x-msisdn", "+34600000002"),
        ("X-Msisdn", "x"),
        ("X-Custom-ID", "1"),
        ("X-Operator-MSISDN", "+34600000002"),
        ("accept", "*/*"),
    ];
    for path in ["/authorize", "/other"] {
        for peer in ["127.0.0.3:1", "127.0.0.10:1", "127.0.0.30:1"] {
            let out = call(path, peer, &h).await;
            let names = out.split('|').nth(1).unwrap();
            assert_eq!(names, "accept", "{path} from {peer}: {out}");
        }
    }
}

#[actix_web::test]
async fn enrichment_is_read_before_the_strip_and_only_from_enrichers() {
    let h = [("X-Operator-MSISDN", "+34600000002")];
    assert_eq!(call("/authorize", "127.0.0.30:1", &h).await, "identified +34600000002 nba|");
    assert_eq!(call("/authorize", "[::ffff:127.0.0.30]:1", &h).await, "identified +34600000002 nba|");
    // Not on other paths, from nobody else, and never from the default X-MSISDN.
    assert_eq!(call("/other", "127.0.0.30:1", &h).await, "not identified|");
    assert_eq!(call("/authorize", "127.0.0.3:1", &h).await, "not identified|");
    assert_eq!(call("/authorize", "127.0.0.30:1", &[("X-MSISDN", "+34600000002")]).await, "not identified|");
    assert_eq!(call("/authorize", "127.0.0.30:1", &[("X-Operator-MSISDN", "34600000002")]).await, "not identified|");
}

#[actix_web::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let h = [("X-Forwarded-For", "127.0.0.2")];
    assert!(call("/authorize", "127.0.0.10:1", &h).await.starts_with("identified +34600000002 nba|"));
    assert!(call("/authorize", "127.0.0.3:1", &h).await.starts_with("not identified|"));
    assert!(call("/authorize", "127.0.0.2:1", &[]).await.starts_with("identified +34600000002 nba|"));
    assert!(call("/authorize", "127.0.0.10:1", &[("X-Forwarded-For", "127.0.0.2, bogus")])
        .await
        .starts_with("not identified|"));
    assert!(call("/authorize", "127.0.0.10:1", &[("Forwarded", "for=127.0.0.2")]).await.starts_with("not identified|"));
    // Forwarding headers themselves are no identity headers: they pass on.
    assert!(call("/other", "127.0.0.3:1", &h).await.ends_with("|x-forwarded-for"));
}
