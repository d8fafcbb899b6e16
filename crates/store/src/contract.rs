//! The contract every backend must keep. `tests/contract.rs` runs it against the in-memory store
//! and a real Redis; a new backend adds one line there.
//!
//! Each check panics with a message naming the broken promise.

use crate::{BatchOp, RangeEntry, SharedStore, Store};
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
    range_maps(&*store, ns).await;
    range_expiry(&*store, ns).await;
    range_count(&*store, ns).await;
    put_unless_range(&*store, ns).await;
    batch_writes(&*store, ns).await;
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

/// CGNAT port blocks (issue 6 item 1): the block holding a port, overlap replaced, exact delete.
pub async fn range_maps(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:ports");
    assert_eq!(s.range_find(&k, 40000).await.unwrap(), None, "absent map finds nothing");
    s.range_put(&k, 40000, 40255, b"A", TTL).await.unwrap();
    s.range_put(&k, 40256, 40511, b"B", TTL).await.unwrap();
    let a = RangeEntry { lo: 40000, hi: 40255, value: b"A".to_vec() };
    for p in [40000, 40100, 40255] {
        assert_eq!(s.range_find(&k, p).await.unwrap(), Some(a.clone()), "port {p} is in block A");
    }
    assert_eq!(s.range_find(&k, 40256).await.unwrap().unwrap().value, b"B");
    assert_eq!(s.range_find(&k, 39999).await.unwrap(), None, "below every block");
    assert_eq!(s.range_find(&k, 40512).await.unwrap(), None, "above every block: a gap is nobody's");
    // A block reassigned with other bounds replaces every block it overlaps.
    s.range_put(&k, 40200, 40300, b"C", TTL).await.unwrap();
    assert_eq!(s.range_find(&k, 40100).await.unwrap(), None, "A overlapped C and is gone");
    assert_eq!(s.range_find(&k, 40400).await.unwrap(), None, "B overlapped C and is gone");
    assert_eq!(s.range_find(&k, 40250).await.unwrap().unwrap().value, b"C");
    // Exact delete, compare-and-delete.
    assert!(!s.range_delete(&k, 40200, 40299, None).await.unwrap(), "bounds must match exactly");
    assert!(!s.range_delete(&k, 40200, 40300, Some(b"other")).await.unwrap(), "a different value stays");
    assert!(s.range_delete(&k, 40200, 40300, Some(b"C")).await.unwrap());
    assert_eq!(s.range_find(&k, 40250).await.unwrap(), None);
    assert!(!s.range_delete(&k, 40200, 40300, None).await.unwrap(), "nothing left to delete");
    // Binary values and the whole u16 range.
    let v: Vec<u8> = (0..=255u8).collect();
    s.range_put(&k, 0, 65535, &v, TTL).await.unwrap();
    assert_eq!(s.range_find(&k, 65535).await.unwrap().unwrap().value, v);
    assert!(s.range_put(&k, 10, 9, b"x", TTL).await.is_err(), "an empty range is refused");
    assert!(s.delete(&k).await.unwrap(), "delete removes a whole range map");
    assert_eq!(s.range_find(&k, 65535).await.unwrap(), None);
    assert!(s.range_put(&k, 1, 2, b"x", Duration::ZERO).await.is_err(), "every entry needs a TTL");
}

/// Entries expire one by one; a long-lived entry keeps the map.
pub async fn range_expiry(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:ports-exp");
    s.range_put(&k, 1000, 1999, b"short", Duration::from_millis(150)).await.unwrap();
    s.range_put(&k, 2000, 2999, b"long", TTL).await.unwrap();
    assert!(s.range_find(&k, 1500).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.range_find(&k, 1500).await.unwrap(), None, "an expired block holds no port");
    assert!(!s.range_delete(&k, 1000, 1999, None).await.unwrap(), "an expired block cannot be deleted");
    assert_eq!(s.range_find(&k, 2500).await.unwrap().unwrap().value, b"long");
    let k2 = format!("{ns}:ports-exp2");
    s.range_put(&k2, 1, 2, b"x", Duration::from_millis(150)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.range_find(&k2, 1).await.unwrap(), None, "the map expires with its last entry");
    s.range_put(&k2, 1, 2, b"y", TTL).await.unwrap();
    assert_eq!(s.range_find(&k2, 2).await.unwrap().unwrap().value, b"y", "and can be written again");
}

/// Issue 6 (review finding 2): "is this public address shared?" — RADIUS must not bind a whole
/// address that has CGNAT port blocks. 0 exactly when the map holds nothing; an entry past its
/// own expiry may still count while its map lives (fail closed), the same on every backend.
pub async fn range_count(s: &dyn Store, ns: &str) {
    let k = format!("{ns}:ports-count");
    assert_eq!(s.range_count(&k).await.unwrap(), 0, "no map: no entry");
    s.range_put(&k, 40000, 40255, b"A", TTL).await.unwrap();
    assert_eq!(s.range_count(&k).await.unwrap(), 1);
    s.range_put(&k, 40256, 40511, b"B", TTL).await.unwrap();
    assert_eq!(s.range_count(&k).await.unwrap(), 2);
    s.range_put(&k, 40200, 40300, b"C", TTL).await.unwrap();
    assert_eq!(s.range_count(&k).await.unwrap(), 1, "C replaced both blocks it overlaps");
    assert!(s.range_delete(&k, 40200, 40300, None).await.unwrap());
    assert_eq!(s.range_count(&k).await.unwrap(), 0, "the last entry deleted: nothing left");
    s.range_put(&k, 1, 2, b"x", TTL).await.unwrap();
    assert!(s.delete(&k).await.unwrap());
    assert_eq!(s.range_count(&k).await.unwrap(), 0, "a deleted map holds nothing");
    // An expired entry of a live map may count (an upper bound); a wholly expired map does not.
    s.range_put(&k, 1000, 1999, b"short", Duration::from_millis(150)).await.unwrap();
    s.range_put(&k, 2000, 2999, b"long", TTL).await.unwrap();
    let k2 = format!("{ns}:ports-count2");
    s.range_put(&k2, 1, 2, b"x", Duration::from_millis(150)).await.unwrap();
    assert_eq!(s.range_count(&k2).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(s.range_count(&k).await.unwrap() >= 1, "the live entry counts");
    assert_eq!(s.range_count(&k2).await.unwrap(), 0, "the map expired with its last entry");
}

/// RADIUS binds a whole IPv4 address only while it has no port blocks: one atomic step over the
/// value and the range map (the keys share a hash tag, as the binding keys do).
pub async fn put_unless_range(s: &dyn Store, ns: &str) {
    let (v, r) = (format!("{{{ns}-pur}}:whole"), format!("{{{ns}-pur}}:ports"));
    assert!(s.put_unless_range(&v, b"one", TTL, &r).await.unwrap(), "no map: written");
    assert_eq!(s.get(&v).await.unwrap().as_deref(), Some(&b"one"[..]));
    assert!(s.put_unless_range(&v, b"two", TTL, &r).await.unwrap(), "rewritten while no map");
    assert_eq!(s.get(&v).await.unwrap().as_deref(), Some(&b"two"[..]));
    s.range_put(&r, 40000, 40255, b"A", TTL).await.unwrap();
    assert!(!s.put_unless_range(&v, b"three", TTL, &r).await.unwrap(), "a map with an entry: refused");
    assert_eq!(s.get(&v).await.unwrap().as_deref(), Some(&b"two"[..]), "a refused put changes nothing");
    assert!(s.range_delete(&r, 40000, 40255, None).await.unwrap());
    assert!(s.put_unless_range(&v, b"four", Duration::from_millis(150), &r).await.unwrap(), "map emptied: written");
    assert!(s.put_unless_range(&v, b"x", Duration::ZERO, &r).await.is_err(), "a zero TTL is refused");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.get(&v).await.unwrap(), None, "the value expires with its TTL");
}

/// Bulk imports: every op of a batch lands.
pub async fn batch_writes(s: &dyn Store, ns: &str) {
    let mut ops = Vec::new();
    for i in 0..2500u32 {
        ops.push(BatchOp::Put { key: format!("{ns}:batch:{i}"), value: i.to_le_bytes().to_vec(), ttl: TTL });
    }
    let rk = format!("{ns}:batch-ports");
    for b in 0..10u32 {
        ops.push(BatchOp::RangePut { key: rk.clone(), lo: b * 100, hi: b * 100 + 99, value: vec![b as u8], ttl: TTL });
    }
    ops.push(BatchOp::Delete { key: format!("{ns}:batch:7") });
    s.batch(&ops).await.unwrap();
    assert_eq!(s.get(&format!("{ns}:batch:2499")).await.unwrap(), Some(2499u32.to_le_bytes().to_vec()));
    assert_eq!(s.get(&format!("{ns}:batch:0")).await.unwrap(), Some(0u32.to_le_bytes().to_vec()));
    assert_eq!(s.get(&format!("{ns}:batch:7")).await.unwrap(), None, "ops apply in order");
    assert_eq!(s.range_find(&rk, 950).await.unwrap().unwrap().value, vec![9]);
    s.batch(&[]).await.unwrap();
    // Ops of one key or hash tag apply in their order (on a cluster too, where other slots run
    // concurrently): a put then a delete leaves nothing, a delete then a put leaves the value.
    let mut ops = Vec::new();
    for i in 0..200u32 {
        let (a, b) = (format!("{{{ns}-ord-{i}}}:a"), format!("{{{ns}-ord-{i}}}:b"));
        ops.push(BatchOp::RangePut { key: a.clone(), lo: 1, hi: 2, value: b"r".to_vec(), ttl: TTL });
        ops.push(BatchOp::Put { key: b.clone(), value: b"x".to_vec(), ttl: TTL });
        ops.push(BatchOp::Delete { key: b.clone() });
        ops.push(BatchOp::Delete { key: a.clone() });
        ops.push(BatchOp::Put { key: a, value: b"last".to_vec(), ttl: TTL });
    }
    s.batch(&ops).await.unwrap();
    for i in 0..200u32 {
        assert_eq!(s.get(&format!("{{{ns}-ord-{i}}}:b")).await.unwrap(), None, "put then delete, in order ({i})");
        assert_eq!(s.get(&format!("{{{ns}-ord-{i}}}:a")).await.unwrap().as_deref(), Some(&b"last"[..]), "delete then put ({i})");
    }
}
