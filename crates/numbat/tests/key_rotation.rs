//! Issue 4 item 1: keys rotate through the store while traffic runs, without a single failed
//! request: the new key is published before it signs, the old one stays until its tokens expire.

#[macro_use]
mod common;

use common::*;
use numbat_jose::{Alg, KeyRing, RotationPolicy};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn rotation_under_traffic(b: Backend) {
    let s = Arc::new(start_spec(Spec::new(b).tweak(|c| c.keys.reload_s = 1)).await);
    let old_kid = jwt_part(&s.access_token(DEVICE_1, SCOPE_VERIFY).await, 0)["kid"].as_str().unwrap().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    // The test jumps the server clock; a flow that spans the jump may see its 60 s code expire,
    // which says nothing about keys. Such flows are not counted.
    let epoch = Arc::new(AtomicUsize::new(0));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (s, stop, ok, failed, epoch) = (s.clone(), stop.clone(), ok.clone(), failed.clone(), epoch.clone());
        workers.push(tokio::spawn(async move {
            let mut kids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = epoch.load(Ordering::SeqCst);
                let req = AuthRequest::new(SCOPE_VERIFY);
                let code = s.code_for(DEVICE_1, &req).await;
                let t = s.redeem(&code, &req.verifier).await;
                if t.status != 200 {
                    if epoch.load(Ordering::SeqCst) == started {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
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
    let new = KeyRing::rotate(&store, &[Alg::ES256, Alg::RS256], s.now(), policy).await.unwrap();
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
    assert!(kids.iter().any(|k| new.contains(k)), "new key signs after activation");

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
