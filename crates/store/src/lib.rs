//! numbat-store: the one narrow storage interface every component shares (design.md, "The store").
//!
//! Every operation the protocol needs is atomic in one round trip: `take` (read-and-delete) for
//! codes and single-use tokens, `put_if_absent` for `jti` replay caches, `delete_if` for
//! compare-and-delete, and a fixed-window rate-limit step. Two backends keep the same semantics,
//! expiry included: [`MemoryStore`] (the default, nothing to install) and [`RedisStore`]
//! (single node or Redis Cluster). [`contract`] is the suite both must pass.

use std::sync::Arc;
use std::time::Duration;

pub mod contract;
pub mod keys;
pub mod testing;
mod memory;
mod migrate;
mod redis_backend;

pub use memory::MemoryStore;
pub use migrate::Migrated;
pub use redis_backend::RedisStore;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or answered an error. Callers map this to 503
    /// (`temporarily_unavailable` / CAMARA `UNAVAILABLE`), never to 500 and never to a guess.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store configuration: {0}")]
    Config(String),
}

/// The outcome of one rate-limit step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Requests counted in the current window, this one included.
    pub count: u64,
}

/// One entry of a range map (CGNAT port blocks): the inclusive range `[lo, hi]` and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeEntry {
    pub lo: u32,
    pub hi: u32,
    pub value: Vec<u8>,
}

/// One write of a [`Store::batch`].
#[derive(Debug, Clone)]
pub enum BatchOp {
    Put { key: String, value: Vec<u8>, ttl: Duration },
    RangePut { key: String, lo: u32, hi: u32, value: Vec<u8>, ttl: Duration },
    Delete { key: String },
}

/// One narrow interface: each method is atomic and, on Redis, one round trip.
///
/// Keys are logical (see [`keys`]); each backend prepends its configured prefix. Every value
/// has a TTL (at least one millisecond).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// True when something was deleted.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;
    /// Read and delete at once: of N concurrent takers exactly one gets the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Set only when absent; true when this call stored the value.
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError>;
    /// Compare-and-delete: delete only when the current value equals `expected`.
    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError>;
    /// Fixed-window counter: count this request in `key`'s window; allowed while count <= limit.
    async fn rate_limit(&self, key: &str, limit: u64, window: Duration) -> Result<RateDecision, StoreError>;
    /// Liveness of the backend, for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Range maps (CGNAT port blocks of one shared address). Put `[lo, hi] → value` into the
    /// map at `key`, first removing every entry that overlaps `[lo, hi]` (a block reassigned
    /// with other bounds never leaves two owners for one port). The entry lives `ttl`; the map
    /// lives as long as its longest-lived entry. `lo <= hi`.
    async fn range_put(&self, key: &str, lo: u32, hi: u32, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let _ = (key, lo, hi, value, ttl);
        Err(StoreError::Config("this store has no range maps".into()))
    }
    /// The live entry of the map at `key` whose range holds `at`, if any.
    async fn range_find(&self, key: &str, at: u32) -> Result<Option<RangeEntry>, StoreError> {
        let _ = (key, at);
        Err(StoreError::Config("this store has no range maps".into()))
    }
    /// Remove the live entry with exactly the range `[lo, hi]`; with `expected`, only while its
    /// value is exactly that (compare-and-delete). True when something was removed.
    async fn range_delete(&self, key: &str, lo: u32, hi: u32, expected: Option<&[u8]>) -> Result<bool, StoreError> {
        let _ = (key, lo, hi, expected);
        Err(StoreError::Config("this store has no range maps".into()))
    }
    /// How many entries the range map at `key` holds (0 when there is no map). An upper bound
    /// of the live entries: an entry past its own expiry may still be counted while its map
    /// lives (Redis: `ZCARD`), so "0" is exact and a positive count may be stale. Callers asking
    /// "is this address shared?" therefore fail closed.
    async fn range_count(&self, key: &str) -> Result<u64, StoreError> {
        let _ = key;
        Err(StoreError::Config("this store has no range maps".into()))
    }
    /// Put `key` unless the range map at `range_key` holds any entry (counted as
    /// [`Store::range_count`] counts, so fail closed); true when written. Atomic over both keys:
    /// a range put that lands first wins, one that lands later finds the value written. On
    /// Redis Cluster both keys must share a hash tag (one slot), as [`keys::binding_ip`] and
    /// [`keys::binding_ports`] do for an IPv4 address.
    async fn put_unless_range(&self, key: &str, value: &[u8], ttl: Duration, range_key: &str) -> Result<bool, StoreError> {
        let _ = (key, value, ttl, range_key);
        Err(StoreError::Config("this store has no range maps".into()))
    }
    /// Many writes in as few round trips as the backend allows (bulk imports). Each op is
    /// atomic on its own; the batch is not (a failure may leave a prefix applied). Ops on one key,
    /// or on keys of one hash tag, apply in their order.
    async fn batch(&self, ops: &[BatchOp]) -> Result<(), StoreError> {
        for op in ops {
            match op {
                BatchOp::Put { key, value, ttl } => self.put(key, value, *ttl).await?,
                BatchOp::RangePut { key, lo, hi, value, ttl } => self.range_put(key, *lo, *hi, value, *ttl).await?,
                BatchOp::Delete { key } => {
                    self.delete(key).await?;
                }
            }
        }
        Ok(())
    }
}

fn check_range(lo: u32, hi: u32) -> Result<(), StoreError> {
    if lo > hi {
        return Err(StoreError::Config(format!("empty range {lo}..={hi}")));
    }
    Ok(())
}

/// Milliseconds since the Unix epoch: range-map entries carry their expiry as a wall-clock time
/// (they share one store key, so the key's TTL cannot expire them one by one).
fn now_unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub type SharedStore = Arc<dyn Store>;

/// Open a store from a URL: `memory:` (or empty), `redis://…`/`rediss://…` for one node,
/// `redis+cluster://host:port,host:port` (`rediss+cluster://…` over TLS) for Redis Cluster.
/// `prefix` is prepended to every key. TLS trusts the system's roots.
pub async fn open(url: &str, prefix: &str) -> Result<SharedStore, StoreError> {
    open_with_tls(url, prefix, &StoreTls::default()).await
}

/// [`open`], with TLS material for `rediss://` and `rediss+cluster://`.
pub async fn open_with_tls(url: &str, prefix: &str, tls: &StoreTls) -> Result<SharedStore, StoreError> {
    if url.is_empty() || url == "memory" || url.starts_with("memory:") {
        if !tls.is_empty() {
            return Err(StoreError::Config("TLS files are set but the store is in memory".into()));
        }
        return Ok(Arc::new(MemoryStore::new()));
    }
    Ok(Arc::new(RedisStore::connect(url, prefix, tls).await?))
}

/// TLS material for a Redis reached over TLS (PEM bytes): a CA bundle to trust instead of the
/// system roots (a private CA), and a client certificate with its key where Redis requires them
/// (`tls-auth-clients yes`). Empty: the system roots, no client certificate.
#[derive(Clone, Default)]
pub struct StoreTls {
    pub root_ca_pem: Option<Vec<u8>>,
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
}

impl StoreTls {
    pub fn is_empty(&self) -> bool {
        self.root_ca_pem.is_none() && self.client_cert_pem.is_none() && self.client_key_pem.is_none()
    }
}

impl std::fmt::Debug for StoreTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |o: &Option<Vec<u8>>| if o.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("StoreTls")
            .field("root_ca_pem", &set(&self.root_ca_pem))
            .field("client_cert_pem", &set(&self.client_cert_pem))
            .field("client_key_pem", &"<redacted>")
            .finish()
    }
}

fn check_ttl(ttl: Duration) -> Result<u64, StoreError> {
    let ms = ttl.as_millis();
    if ms == 0 || ms > u64::MAX as u128 {
        return Err(StoreError::Config("every value needs a TTL of at least 1 ms".into()));
    }
    Ok(ms as u64)
}
