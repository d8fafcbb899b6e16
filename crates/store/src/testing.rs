//! A store for outage tests in every crate: a [`MemoryStore`] that can be switched off, after
//! which every call fails with [`StoreError::Unavailable`] (as an unreachable Redis would).

use crate::{BatchOp, MemoryStore, RangeEntry, RateDecision, Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct OutageStore {
    inner: MemoryStore,
    down: AtomicBool,
}

impl OutageStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Switch the outage on (`true`) or off.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("connection refused (test outage)".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl Store for OutageStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.get(key).await
    }
    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete(key).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.take(key).await
    }
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.put_if_absent(key, value, ttl).await
    }
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_if(key, expected).await
    }
    async fn rate_limit(&self, key: &str, limit: u64, window: Duration) -> Result<RateDecision, StoreError> {
        self.check()?;
        self.inner.rate_limit(key, limit, window).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }
    async fn range_put(&self, key: &str, lo: u32, hi: u32, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.check()?;
        self.inner.range_put(key, lo, hi, value, ttl).await
    }
    async fn range_find(&self, key: &str, at: u32) -> Result<Option<RangeEntry>, StoreError> {
        self.check()?;
        self.inner.range_find(key, at).await
    }
    async fn range_delete(&self, key: &str, lo: u32, hi: u32, expected: Option<&[u8]>) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.range_delete(key, lo, hi, expected).await
    }
    async fn range_count(&self, key: &str) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.range_count(key).await
    }
    async fn put_unless_range(&self, key: &str, value: &[u8], ttl: Duration, range_key: &str) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.put_unless_range(key, value, ttl, range_key).await
    }
    async fn batch(&self, ops: &[BatchOp]) -> Result<(), StoreError> {
        self.check()?;
        self.inner.batch(ops).await
    }
}
