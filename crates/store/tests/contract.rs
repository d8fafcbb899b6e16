//! design.md "The store": one contract, both backends. The Redis run needs a real Redis:
//! `NUMBAT_TEST_REDIS` (default `redis://127.0.0.1:6379`); `scripts/test` starts one if needed,
//! and a three-master Redis Cluster for the cluster run (`NUMBAT_TEST_REDIS_CLUSTER`).

use numbat_store::{contract, MemoryStore, SharedStore};
use std::sync::Arc;

fn ns() -> String {
    format!("contract-{}", uuid::Uuid::new_v4())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_backend_keeps_the_contract() {
    let s: SharedStore = Arc::new(MemoryStore::new());
    contract::run_all(s, &ns()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_backend_keeps_the_contract() {
    let url = std::env::var("NUMBAT_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("numbat-test:{}:", uuid::Uuid::new_v4());
    let s = numbat_store::open(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} is required for this test (scripts/test starts one): {e}"));
    contract::run_all(s, "c").await;
}

/// The same contract on a real Redis Cluster (design.md: scale-out is Redis Cluster): every
/// script, range map and batch across slots on three masters. `NUMBAT_TEST_REDIS_CLUSTER`
/// (`redis+cluster://h:p,h:p,...`); `scripts/test` starts a throw-away cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_backend_keeps_the_contract() {
    let url = std::env::var("NUMBAT_TEST_REDIS_CLUSTER").unwrap_or_else(|_| {
        panic!("set NUMBAT_TEST_REDIS_CLUSTER=redis+cluster://h:p,... or run scripts/test, which starts a test cluster")
    });
    let prefix = format!("numbat-test:{}:", uuid::Uuid::new_v4());
    let s = numbat_store::open(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis Cluster at {url} is required for this test (scripts/test starts one): {e}"));
    contract::run_all(s, "c").await;
}

#[tokio::test]
async fn unreachable_redis_is_an_error_not_a_hang() {
    let r = numbat_store::open("redis://127.0.0.1:1", "x:").await;
    assert!(matches!(r, Err(numbat_store::StoreError::Unavailable(_))));
}
