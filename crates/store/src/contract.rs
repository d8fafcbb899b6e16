//! The contract every backend must keep. `tests/contract.rs` runs it against the in-memory store
//! and a real Redis; a new backend adds one line there.
//!
//! Each check panics with a message naming the broken promise.

use crate::{SharedStore, Store};
use std::sync::Arc;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(30);

/// Run every check. `ns` keeps keys of concurrent runs apart.
pub async fn run_all(store: SharedStore, ns: &str) {
    put_get_delete(&*store, ns).await;
    take_is_read_and_delete(&*store, ns).await;
    take_is_atomic_under_contention(store.clone(), ns).await;
    put_if_absent_sets_once(store.clone(), ns).await;
    delete_if_compares(&*store, ns).await;
    expiry(&*store, ns).await;
    rate_limit_window(&*store, ns).await;
    zero_ttl_refused(&*store, ns).await;
    binary_values(&*store, ns).await;
}

pub async fn put_get_delete(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:pgd");
    assert_eq!(s.get(&k).await.unwrap(), None, "absent key reads as None");
    s.put(&k, b"v1", TTL).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"v1"[..]));
    s.put(&k, b"v2", TTL).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"v2"[..]), "put overwrites");
    assert!(s.delete(&k).await.unwrap(), "delete reports a deletion");
    assert!(!s.delete(&k).await.unwrap(), "second delete finds nothing");
    assert_eq!(s.get(&k).await.unwrap(), None);
}

pub async fn take_is_read_and_delete(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:take");
    s.put(&k, b"code-record", TTL).await.unwrap();
    assert_eq!(s.take(&k).await.unwrap().as_deref(), Some(&b"code-record"[..]));
    assert_eq!(s.take(&k).await.unwrap(), None, "a taken value is gone (single use)");
    assert_eq!(s.get(&k).await.unwrap(), None);
}

/// Of many concurrent takers exactly one wins (authorization codes, NV tokens: NVR-05, NVX-04).
pub async fn take_is_atomic_under_contention(s: SharedStore, ns: &str) {
    for round in 0..5 {
        let k = format!("{ns}:race:{round}");
        s.put(&k, b"x", TTL).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let s = Arc::clone(&s);
            let k = k.clone();
            tasks.push(tokio::spawn(async move { s.take(&k).await.unwrap().is_some() }));
        }
        let mut wins = 0;
        for t in tasks {
            if t.await.unwrap() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1, "exactly one concurrent take gets the value");
    }
}

/// `jti` replay caches and single-use marks.
pub async fn put_if_absent_sets_once(s: SharedStore, ns: &str) {
    let k = format!("{ns}:nx");
    assert!(s.put_if_absent(&k, b"first", TTL).await.unwrap());
    assert!(!s.put_if_absent(&k, b"second", TTL).await.unwrap(), "second set is refused");
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"first"[..]), "first value kept");

    let k2 = format!("{ns}:nx-race");
    let mut tasks = Vec::new();
    for i in 0..32u8 {
        let s = Arc::clone(&s);
        let k2 = k2.clone();
        tasks.push(tokio::spawn(async move { s.put_if_absent(&k2, &[i], TTL).await.unwrap() }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one concurrent put_if_absent wins");
}

/// A late RADIUS Stop must not erase the next owner's binding.
pub async fn delete_if_compares(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:cad");
    s.put(&k, b"session-B", TTL).await.unwrap();
    assert!(!s.delete_if(&k, b"session-A").await.unwrap(), "a different value is not deleted");
    assert_eq!(s.get(&k).await.unwrap().as_deref(), Some(&b"session-B"[..]));
    assert!(s.delete_if(&k, b"session-B").await.unwrap());
    assert_eq!(s.get(&k).await.unwrap(), None);
    assert!(!s.delete_if(&k, b"session-B").await.unwrap(), "absent key: nothing deleted");
}

pub async fn expiry(s: &dyn Store, ns: &str) {
    let short = Duration::from_millis(150);
    let k = format!("{ns}:exp");
    s.put(&k, b"v", short).await.unwrap();
    let nx = format!("{ns}:exp-nx");
    assert!(s.put_if_absent(&nx, b"v", short).await.unwrap());
    let t = format!("{ns}:exp-take");
    s.put(&t, b"v", short).await.unwrap();
    assert!(s.get(&k).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.get(&k).await.unwrap(), None, "expired values are gone");
    assert_eq!(s.take(&t).await.unwrap(), None, "expired values cannot be taken");
    assert!(s.put_if_absent(&nx, b"again", TTL).await.unwrap(), "an expired mark can be set again");
    assert!(!s.delete_if(&k, b"v").await.unwrap(), "an expired value cannot be compare-deleted");
}

pub async fn rate_limit_window(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:rl");
    let w = Duration::from_millis(300);
    for i in 1..=3 {
        let d = s.rate_limit(&k, 3, w).await.unwrap();
        assert!(d.allowed, "request {i} within the limit");
        assert_eq!(d.count, i);
    }
    assert!(!s.rate_limit(&k, 3, w).await.unwrap().allowed, "4th request over the limit");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = s.rate_limit(&k, 3, w).await.unwrap();
    assert!(d.allowed && d.count == 1, "a new window starts after expiry");
}

pub async fn zero_ttl_refused(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:zero");
    assert!(s.put(&k, b"v", Duration::ZERO).await.is_err(), "every value needs a TTL");
    assert!(s.put_if_absent(&k, b"v", Duration::ZERO).await.is_err());
}

pub async fn binary_values(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:bin");
    let v: Vec<u8> = (0..=255u8).collect();
    s.put(&k, &v, TTL).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap(), Some(v));
}
