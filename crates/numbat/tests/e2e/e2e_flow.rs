//! The Number Verification round end to end, as the issue's "done when" describes it: a device
//! on mobile data authorizes, the app backend redeems the code with private_key_jwt and calls the
//! resource server. Each scenario runs on the memory and on the Redis store.


use crate::common::*;
use serde_json::json;

both_backends! {
    issue_done_when_device_1_verifies_plain_and_hashed => done_when_device_1;
    nv_02_nv_03_device_2_verifies_its_own_number => device_2_own_number;
    nvx_21_o_01_unbound_device_gets_login_required => unbound_device_login_required;
    nvx_01_same_token_twice_on_verify_second_is_401 => single_use_on_verify;
    nvx_02_same_token_twice_on_share_second_is_401 => single_use_on_share;
    nv_17_share_returns_the_device_number => share_returns_the_number;
    nvx_03_both_scopes_verify_then_share_is_401 => both_scopes_single_use;
    nvx_04_fifty_concurrent_uses_exactly_one_200 => concurrent_uses;
    nvx_05_nv_11_nv_19_token_rejected_after_301_s => token_expiry;
}

async fn done_when_device_1(b: Backend) {
    let s = start(b).await;
    // Test vector of number-verification.md §4: the harness hashes what the spec hashes.
    assert_eq!(sha256_hex(MSISDN_1), "eb491b384e4fda4281634daa211e6e54a4cf7f82baa33a9f35980329e4ad95f3");

    // NV-02: the device's own number.
    assert!(s.verified(DEVICE_1, json!({ "phoneNumber": MSISDN_1 })).await, "own number must verify");
    // NV-03: another valid number (another subscriber of the operator, and a foreign one).
    assert!(!s.verified(DEVICE_1, json!({ "phoneNumber": MSISDN_2 })).await);
    assert!(!s.verified(DEVICE_1, json!({ "phoneNumber": OTHER_MSISDN })).await);
    // NV-04: SHA-256 hex of "+34600000001", lowercase; NVX-10: uppercase.
    assert!(s.verified(DEVICE_1, json!({ "hashedPhoneNumber": sha256_hex(MSISDN_1) })).await);
    assert!(s.verified(DEVICE_1, json!({ "hashedPhoneNumber": sha256_hex(MSISDN_1).to_uppercase() })).await);
    // NV-05: hash of another number; NVX-11: hash without the leading '+'.
    assert!(!s.verified(DEVICE_1, json!({ "hashedPhoneNumber": sha256_hex(OTHER_MSISDN) })).await);
    assert!(!s.verified(DEVICE_1, json!({ "hashedPhoneNumber": sha256_hex("34600000001") })).await);
    s.stop().await;
}

async fn device_2_own_number(b: Backend) {
    let s = start(b).await;
    assert!(s.verified(DEVICE_2, json!({ "phoneNumber": MSISDN_2 })).await, "127.0.0.2 is +34600000002");
    assert!(!s.verified(DEVICE_2, json!({ "phoneNumber": MSISDN_1 })).await, "127.0.0.2 is not +34600000001");
    assert!(s.verified(DEVICE_2, json!({ "hashedPhoneNumber": sha256_hex(MSISDN_2) })).await);
    s.stop().await;
}

async fn unbound_device_login_required(b: Backend) {
    let s = start(b).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    // Without prompt=none the implied prompt=none (P-22) still gives login_required, no UI.
    let req = AuthRequest::new(SCOPE_VERIFY).remove("prompt");
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    let req = AuthRequest::new(SCOPE_VERIFY).set("prompt", "login");
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    s.stop().await;
}

async fn single_use_on_verify(b: Backend) {
    let s = start(b).await;
    let t = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, v) = s.verify_number(&t, MSISDN_1).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    let (st, v) = s.verify_number(&t, MSISDN_1).await;
    assert_unauthenticated(st, &v);
    // Still spent for any later body, right or wrong.
    let (st, v) = s.verify_number(&t, OTHER_MSISDN).await;
    assert_unauthenticated(st, &v);
    s.stop().await;
}

async fn single_use_on_share(b: Backend) {
    let s = start(b).await;
    let t = s.access_token(DEVICE_1, SCOPE_SHARE).await;
    let (st, v) = s.share(&t).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s.share(&t).await;
    assert_unauthenticated(st, &v);
    s.stop().await;
}

async fn share_returns_the_number(b: Backend) {
    let s = start(b).await;
    let t = s.access_token(DEVICE_1, SCOPE_SHARE).await;
    let (st, v) = s.share(&t).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v, json!({ "devicePhoneNumber": MSISDN_1 }));
    let t = s.access_token(DEVICE_2, SCOPE_SHARE).await;
    let (st, v) = s.share(&t).await;
    assert_eq!((st, v), (200, json!({ "devicePhoneNumber": MSISDN_2 })));
    s.stop().await;
}

async fn both_scopes_single_use(b: Backend) {
    let s = start(b).await;
    let t = s.access_token(DEVICE_1, SCOPE_BOTH).await;
    let (st, v) = s.verify_number(&t, MSISDN_1).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    let (st, v) = s.share(&t).await;
    assert_unauthenticated(st, &v);

    // And the other way round: share first, then verify.
    let t = s.access_token(DEVICE_1, SCOPE_BOTH).await;
    let (st, v) = s.share(&t).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s.verify_number(&t, MSISDN_1).await;
    assert_unauthenticated(st, &v);
    s.stop().await;
}

async fn concurrent_uses(b: Backend) {
    let s = start(b).await;
    let t = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let body = json!({ "phoneNumber": MSISDN_1 });
    let calls = (0..50).map(|_| s.verify(&t, &body));
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|(st, _)| *st == 200).count();
    let unauth = results.iter().filter(|(st, v)| *st == 401 && v["code"] == "UNAUTHENTICATED").count();
    assert_eq!(ok, 1, "exactly one of 50 concurrent uses may succeed: {results:?}");
    assert_eq!(unauth, 49, "all others are 401 UNAUTHENTICATED: {results:?}");
    s.stop().await;
}

async fn token_expiry(b: Backend) {
    let s = start(b).await;
    let early = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let late = s.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let late_share = s.access_token(DEVICE_1, SCOPE_SHARE).await;
    // NVR-04: still valid just before 300 s.
    s.clock.advance(295);
    let (st, v) = s.verify_number(&early, MSISDN_1).await;
    assert_eq!(st, 200, "a token 295 s old is still valid: {v}");
    // NVX-05 / NV-11 / NV-19: rejected after 300 s.
    s.clock.advance(6);
    let (st, v) = s.verify_number(&late, MSISDN_1).await;
    assert_unauthenticated(st, &v);
    let (st, v) = s.share(&late_share).await;
    assert_unauthenticated(st, &v);
    s.stop().await;
}
