//! Discovery metadata (S-11, RFC 8414, OIDC Discovery) and the operational endpoints
//! (/health, /ready, /metrics).


use crate::common::*;
use serde_json::{json, Value};

both_backends! {
    s_11_discovery_documents => discovery_documents;
    ops_health_ready_metrics => health_ready_metrics;
}

async fn get_json(s: &TestServer, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = s.http.get(s.url(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

async fn discovery_documents(b: Backend) {
    let s = start(b).await;
    let (st, h, oidc) = get_json(&s, "/.well-known/openid-configuration").await;
    assert_eq!(st, 200);
    assert!(h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().starts_with("application/json"));
    let (st, _, oauth) = get_json(&s, "/.well-known/oauth-authorization-server").await;
    assert_eq!(st, 200, "RFC 8414 metadata is served too");
    assert_eq!(oidc, oauth, "both documents describe the same server");

    for m in [&oidc, &oauth] {
        assert_eq!(m["issuer"], s.base.as_str(), "S-11: issuer equals the URL the document was fetched from");
        assert_eq!(m["authorization_endpoint"], s.url("/authorize"));
        assert_eq!(m["token_endpoint"], s.url("/token"));
        assert_eq!(m["jwks_uri"], s.url("/jwks"));
        assert_eq!(m["request_uri_parameter_supported"], json!(false), "must be explicit (default is true)");
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["private_key_jwt"]), "P-88");
        let subject_types = m["subject_types_supported"].as_array().expect("subject_types_supported");
        assert!(subject_types.contains(&json!("pairwise")), "P-85");
        let scopes = m["scopes_supported"].as_array().expect("scopes_supported");
        for want in ["openid", "number-verification:verify", "number-verification:device-phone-number:read"] {
            assert!(scopes.contains(&json!(want)), "scopes_supported lacks {want}");
        }
        let grants: Vec<&str> =
            m["grant_types_supported"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(grants.contains(&"authorization_code"));
        for never in ["implicit", "password", "urn:ietf:params:oauth:grant-type:device_code"] {
            assert!(!grants.contains(&never), "P-03: {never} advertised");
        }
        for list in ["token_endpoint_auth_signing_alg_values_supported", "id_token_signing_alg_values_supported"] {
            let algs: Vec<&str> =
                m[list].as_array().unwrap_or_else(|| panic!("{list}")).iter().filter_map(Value::as_str).collect();
            assert!(!algs.is_empty(), "{list} empty");
            for bad in ["none", "HS256", "HS384", "HS512"] {
                assert!(!algs.contains(&bad), "{list} advertises {bad}");
            }
        }
        let id_algs = m["id_token_signing_alg_values_supported"].as_array().unwrap();
        assert!(id_algs.contains(&json!("ES256")), "demo-app's ES256 ID tokens must be advertised");
    }
    s.stop().await;
}

/// S-03 / S-11 (OIDC Discovery 1.0 §3): "The algorithm RS256 MUST be included" in
/// `id_token_signing_alg_values_supported`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_03_discovery_lists_rs256_for_id_tokens() {
    let s = start(Backend::Memory).await;
    let (_, _, m) = get_json(&s, "/.well-known/openid-configuration").await;
    let algs = m["id_token_signing_alg_values_supported"].as_array().expect("id_token_signing_alg_values_supported");
    assert!(algs.contains(&json!("RS256")), "RS256 MUST appear in id_token_signing_alg_values_supported: {algs:?}");
    s.stop().await;
}

async fn health_ready_metrics(b: Backend) {
    let s = start(b).await;
    let r = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = s.http.get(s.url("/ready")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "the store is reachable, so ready");

    // A full round, so that the metrics have something to count.
    let t = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, _) = s.verify_number(&t, MSISDN_1).await;
    assert_eq!(st, 200);

    // Unknown paths do not become label values (bounded cardinality).
    let probe = format!("/probe-{}", uuid::Uuid::new_v4().simple());
    assert_eq!(s.http.get(s.url(&probe)).send().await.unwrap().status().as_u16(), 404);

    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(ct.starts_with("text/plain"), "metrics content type {ct}");
    let text = r.text().await.unwrap();
    assert!(text.contains("numbat_http_requests_total"), "{text}");
    // Labels are route patterns: no query string, no code, no number.
    for leak in ["600000001", "code=", "state=", "Bearer", "eyJ", &probe[1..]] {
        assert!(!text.contains(leak), "metrics contain {leak:?}");
    }
    s.stop().await;
}
