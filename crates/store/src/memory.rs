//! In-memory backend: the default, so one command runs the whole system with nothing installed.
//! Same semantics as Redis, expiry included (lazy on access plus a periodic sweep).

use crate::{check_range, check_ttl, now_unix_ms, RangeEntry, RateDecision, Store, StoreError};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SHARDS: usize = 16;
const SWEEP_EVERY: u64 = 4096;

struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

type Shard = Mutex<HashMap<String, Entry>>;

/// A range map: entries by `lo`, each `(hi, expires at unix ms, value)`; never overlapping.
struct RangeMap {
    expires: Instant,
    entries: BTreeMap<u32, (u32, u64, Vec<u8>)>,
}

pub struct MemoryStore {
    shards: Vec<Shard>,
    ranges: Mutex<HashMap<String, RangeMap>>,
    writes: AtomicU64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            ranges: Mutex::new(HashMap::new()),
            writes: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &str) -> &Shard {
        // FNV-1a: cheap and stable; keys are already digests or server-built strings.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in key.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        &self.shards[(h as usize) % SHARDS]
    }

    fn after_write(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let now = Instant::now();
            for s in &self.shards {
                s.lock().retain(|_, e| e.expires > now);
            }
            self.ranges.lock().retain(|_, r| r.expires > now);
        }
    }

    /// Number of live entries (for tests and metrics).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.shards.iter().map(|s| s.lock().values().filter(|e| e.expires > now).count()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn live(map: &mut HashMap<String, Entry>, key: &str, now: Instant) -> bool {
    match map.get(key) {
        Some(e) if e.expires > now => true,
        Some(_) => {
            map.remove(key);
            false
        }
        None => false,
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        check_ttl(ttl)?;
        let e = Entry { value: value.to_vec(), expires: Instant::now() + ttl };
        self.shard(key).lock().insert(key.to_owned(), e);
        self.after_write();
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut m = self.shard(key).lock();
        let now = Instant::now();
        Ok(if live(&mut m, key, now) { m.get(key).map(|e| e.value.clone()) } else { None })
    }

    /// Deletes a value or a range map (one key space, as on Redis).
    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let now = Instant::now();
        let value = self.shard(key).lock().remove(key).is_some_and(|e| e.expires > now);
        let map = self.ranges.lock().remove(key).is_some_and(|r| r.expires > now);
        Ok(value || map)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut m = self.shard(key).lock();
        let now = Instant::now();
        Ok(m.remove(key).filter(|e| e.expires > now).map(|e| e.value))
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        check_ttl(ttl)?;
        let stored = {
            let mut m = self.shard(key).lock();
            let now = Instant::now();
            if live(&mut m, key, now) {
                false
            } else {
                m.insert(key.to_owned(), Entry { value: value.to_vec(), expires: now + ttl });
                true
            }
        };
        if stored {
            self.after_write();
        }
        Ok(stored)
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        let mut m = self.shard(key).lock();
        let now = Instant::now();
        if live(&mut m, key, now) && m.get(key).is_some_and(|e| e.value == expected) {
            m.remove(key);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn rate_limit(&self, key: &str, limit: u64, window: Duration) -> Result<RateDecision, StoreError> {
        check_ttl(window)?;
        let mut m = self.shard(key).lock();
        let now = Instant::now();
        let count = if live(&mut m, key, now) {
            let e = m.get_mut(key).expect("live entry");
            let n = u64::from_le_bytes(e.value.as_slice().try_into().unwrap_or([0; 8])) + 1;
            e.value = n.to_le_bytes().to_vec();
            n
        } else {
            m.insert(key.to_owned(), Entry { value: 1u64.to_le_bytes().to_vec(), expires: now + window });
            1
        };
        Ok(RateDecision { allowed: count <= limit, count })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn range_put(&self, key: &str, lo: u32, hi: u32, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let ms = check_ttl(ttl)?;
        check_range(lo, hi)?;
        {
            let mut all = self.ranges.lock();
            let now = Instant::now();
            let map = all.entry(key.to_owned()).or_insert_with(|| RangeMap { expires: now, entries: BTreeMap::new() });
            if map.expires <= now {
                map.entries.clear();
            }
            // The entry starting below `lo` overlaps when it reaches `lo`; every entry starting
            // inside [lo, hi] overlaps.
            if let Some((&plo, &(phi, _, _))) = map.entries.range(..lo).next_back() {
                if phi >= lo {
                    map.entries.remove(&plo);
                }
            }
            let inside: Vec<u32> = map.entries.range(lo..=hi).map(|(k, _)| *k).collect();
            for k in inside {
                map.entries.remove(&k);
            }
            map.entries.insert(lo, (hi, now_unix_ms() + ms, value.to_vec()));
            map.expires = map.expires.max(now + ttl);
        }
        self.after_write();
        Ok(())
    }

    async fn range_find(&self, key: &str, at: u32) -> Result<Option<RangeEntry>, StoreError> {
        let all = self.ranges.lock();
        let Some(map) = all.get(key).filter(|m| m.expires > Instant::now()) else { return Ok(None) };
        let now_ms = now_unix_ms();
        Ok(map
            .entries
            .range(..=at)
            .next_back()
            .filter(|(_, (hi, exp, _))| *hi >= at && *exp > now_ms)
            .map(|(lo, (hi, _, v))| RangeEntry { lo: *lo, hi: *hi, value: v.clone() }))
    }

    async fn range_delete(&self, key: &str, lo: u32, hi: u32, expected: Option<&[u8]>) -> Result<bool, StoreError> {
        let mut all = self.ranges.lock();
        let Some(map) = all.get_mut(key).filter(|m| m.expires > Instant::now()) else { return Ok(false) };
        let now_ms = now_unix_ms();
        let matches = map
            .entries
            .get(&lo)
            .is_some_and(|(h, exp, v)| *h == hi && *exp > now_ms && expected.is_none_or(|e| e == v.as_slice()));
        if matches {
            map.entries.remove(&lo);
        }
        Ok(matches)
    }

    async fn put_unless_range(&self, key: &str, value: &[u8], ttl: Duration, range_key: &str) -> Result<bool, StoreError> {
        check_ttl(ttl)?;
        {
            // The range maps' lock is held across the put: a range_put waits for it (lock order
            // ranges -> shard, as nowhere the other way round).
            let ranges = self.ranges.lock();
            let now = Instant::now();
            if ranges.get(range_key).filter(|m| m.expires > now).is_some_and(|m| !m.entries.is_empty()) {
                return Ok(false);
            }
            let e = Entry { value: value.to_vec(), expires: now + ttl };
            self.shard(key).lock().insert(key.to_owned(), e);
        }
        self.after_write();
        Ok(true)
    }

    /// Every entry of a live map, expired ones included: the same count as Redis's `ZCARD`.
    async fn range_count(&self, key: &str) -> Result<u64, StoreError> {
        let all = self.ranges.lock();
        Ok(all.get(key).filter(|m| m.expires > Instant::now()).map_or(0, |m| m.entries.len() as u64))
    }
}
