//! Issue 4 item 1: keys rotate through the store while traffic runs, without a single failed
//! request: the new key is published before it signs, the old one stays until its tokens expire.


use crate::common::*;
use numbat_jose::{Alg, KeyRing, KeySet, RotationPolicy, DEFAULT_ALGS};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Clients of the four workers: one per ID-token algorithm (issue 4 item 1).
const CLIENTS: [(&str, &str); 4] = [(CLIENT_ID, "ES256"), ("rs-app", "RS256"), ("ps-app", "PS256"), ("ed-app", "EdDSA")];

/// Redeem `code` as `client_id` (same key as demo-app).
async fn redeem_as(s: &TestServer, client_id: &str, code: &str, verifier: &str) -> TokenReply {
    let mut a = s.assertion_claims();
    a["iss"] = json!(client_id);
    a["sub"] = json!(client_id);
    s.token_raw(&with_assertion(code_form(code, verifier), &sign_client_jwt(&a))).await
}

/// What an RP does with an ID token: verify it with its cached copy of `/jwks`, refetching the
/// JWKS once on failure (an unknown `kid`).
async fn rp_verifies(s: &TestServer, cache: &mut Option<KeySet>, id_token: &str, alg: Alg) -> bool {
    if let Some(keys) = cache.as_ref() {
        if numbat_jose::verify(id_token, keys, &[alg]).is_ok() {
            return true;
        }
    }
    let Ok(r) = s.http.get(s.url("/jwks")).send().await else { return false };
    let Ok(jwks) = r.json::<serde_json::Value>().await else { return false };
    let Ok(keys) = KeySet::from_jwks_value(&jwks) else { return false };
    let ok = numbat_jose::verify(id_token, &keys, &[alg]).is_ok();
    *cache = Some(keys);
    ok
}

async fn rotation_under_traffic(b: Backend) {
    let s = Arc::new(
        start_spec(Spec::new(b).tweak(|c| {
            c.keys.reload_s = 1;
            for (id, alg) in &CLIENTS[1..] {
                let mut o = c.clients[0].clone();
                o.client_id = id.to_string();
                o.id_token_signed_response_alg = alg.to_string();
                c.clients.push(o);
            }
        }))
        .await,
    );
    let old_kid = jwt_part(&s.access_token(DEVICE_1, SCOPE_VERIFY).await, 0)["kid"].as_str().unwrap().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    // The test jumps the server clock; a flow that spans the jump may see its 60 s code expire,
    // which says nothing about keys. Such flows are not counted.
    let epoch = Arc::new(AtomicUsize::new(0));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut workers = Vec::new();
    for (client_id, alg) in CLIENTS {
        let (s, stop, ok, failed, epoch) = (s.clone(), stop.clone(), ok.clone(), failed.clone(), epoch.clone());
        let alg = Alg::parse(alg).unwrap();
        workers.push(tokio::spawn(async move {
            let mut kids = Vec::new();
            let mut rp_jwks = None;
            while !stop.load(Ordering::Relaxed) {
                let started = epoch.load(Ordering::SeqCst);
                let req = AuthRequest::new(SCOPE_VERIFY).set("client_id", client_id);
                let code = s.code_for(DEVICE_1, &req).await;
                let t = redeem_as(&s, client_id, &code, &req.verifier).await;
                if t.status != 200 {
                    if epoch.load(Ordering::SeqCst) == started {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                }
                let id_token = t.json["id_token"].as_str().unwrap_or_default().to_owned();
                kids.push(jwt_part(&id_token, 0)["kid"].as_str().unwrap().to_owned());
                if !rp_verifies(&s, &mut rp_jwks, &id_token, alg).await {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                let at = t.access_token().to_owned();
                kids.push(jwt_part(&at, 0)["kid"].as_str().unwrap().to_owned());
                match s.verify_number(&at, MSISDN_1).await {
                    (200, v) if v["devicePhoneNumberVerified"] == json!(true) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
            kids
        }));
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    // `numbat keys rotate` does exactly this against the shared store.
    let store = s.store();
    let policy = RotationPolicy { publish_ahead_s: 120, retire_after_s: 400 };
    // All four algorithms; the two RSA keys are generated off the runtime while traffic runs.
    let new = KeyRing::rotate(&store, &DEFAULT_ALGS, s.now(), policy).await.unwrap();
    // Real time passes for verifiers' caches (as the 120 s publish-ahead does in production).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    epoch.fetch_add(1, Ordering::SeqCst);
    s.clock.advance(121);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut kids = Vec::new();
    for w in workers {
        kids.extend(w.await.unwrap());
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed during the rotation");
    assert!(ok.load(Ordering::Relaxed) > 10);
    assert!(kids.contains(&old_kid), "old key signed before activation");
    for k in &new {
        assert!(kids.contains(k), "new key {k} signs after activation (every algorithm)");
    }

    // The old key stays published until retirement, then leaves.
    let jwks: serde_json::Value = s.http.get(s.url("/jwks")).send().await.unwrap().json().await.unwrap();
    assert!(jwks.to_string().contains(&old_kid));
    s.clock.advance(401);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let jwks: serde_json::Value = s.http.get(s.url("/jwks")).send().await.unwrap().json().await.unwrap();
    assert!(!jwks.to_string().contains(&old_kid), "retired key left the JWKS: {jwks}");
    Arc::try_unwrap(s).ok().expect("workers done").stop().await;
}

both_backends! { issue4_rotation_under_traffic => rotation_under_traffic; }
