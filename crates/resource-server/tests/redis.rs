//! The resource server over a real Redis (`NUMBAT_TEST_REDIS`, default `redis://127.0.0.1:6379`;
//! `scripts/test` starts one). No Redis → these tests fail with a message, they never skip.
//! Each test uses its own key prefix, so runs side by side on one Redis do not interfere.

mod common;

use common::*;
use numbat_store::SharedStore;

async fn redis_store() -> SharedStore {
    let url = std::env::var("NUMBAT_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("rs-test:{}:", uuid::Uuid::new_v4());
    numbat_store::open(&url, &prefix).await.unwrap_or_else(|e| {
        panic!("Redis at {url} is required for this test (set NUMBAT_TEST_REDIS or run scripts/test): {e}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_nv_02_and_nv_17_happy_path() {
    let rs = start_with(redis_store().await).await;
    let t = rs.mint(&Tok::verify()).await;
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
    let t = rs.mint(&Tok::verify()).await;
    expect_verified(rs.verify(&t, serde_json::json!({ "hashedPhoneNumber": MSISDN_HASH })).await, true).await;
    let t = rs.mint(&Tok::share()).await;
    let (_, body) = expect_ok(rs.share(&t).await).await;
    assert_eq!(body, serde_json::json!({ "devicePhoneNumber": MSISDN }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_nvx_01_single_use() {
    let rs = start_with(redis_store().await).await;
    let t = rs.mint(&Tok::both()).await;
    expect_verified(rs.verify_number(&t, MSISDN).await, true).await;
    expect_error(rs.verify_number(&t, MSISDN).await, 401, UNAUTHENTICATED).await;
    expect_error(rs.share(&t).await, 401, UNAUTHENTICATED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_nvx_04_parallel_requests_one_token_two_instances() {
    let store = redis_store().await;
    let rs = start_with(store.clone()).await;
    race(store, &rs).await;
}
