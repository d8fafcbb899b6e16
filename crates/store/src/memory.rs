//! In-memory backend: the default, so one command runs the whole system with nothing installed.
//! Same semantics as Redis, expiry included (lazy on access plus a periodic sweep).

use crate::{check_ttl, RateDecision, Store, StoreError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SHARDS: usize = 16;
const SWEEP_EVERY: u64 = 4096;

struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

type Shard = Mutex<HashMap<String, Entry>>;

pub struct MemoryStore {
    shards: Vec<Shard>,
    writes: AtomicU64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(), writes: AtomicU64::new(0) }
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

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut m = self.shard(key).lock();
        let now = Instant::now();
        Ok(m.remove(key).is_some_and(|e| e.expires > now))
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
}
