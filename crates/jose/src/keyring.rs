//! Keys shared through the store: the authorization server's [`KeyRing`] (private, for signing)
//! and every verifier's [`JwksCache`] (public, cached in memory, refetched on an unknown `kid`).
//!
//! The private key record lets several stateless authorization-server instances sign with the
//! same keys. `numbat keys rotate` adds keys that are published before they sign and retires
//! old ones only after every token they signed has expired (see [`RotationPolicy`]).

use crate::{b64, Alg, JoseError, Jwks, KeySet, SigningKey, Verified};
use numbat_store::{keys, SharedStore, StoreError};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The algorithms an authorization server signs with unless configured otherwise (issue 4 item
/// 1): ES256 for access tokens, RS256 because OIDC requires it for ID tokens, PS256 and EdDSA
/// for clients that register them as `id_token_signed_response_alg`.
pub const DEFAULT_ALGS: [Alg; 4] = [Alg::ES256, Alg::RS256, Alg::PS256, Alg::EdDSA];

/// Key records outlive any token by far; rotation rewrites them.
const KEY_RECORD_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: String,
    pkcs8: String,
    /// Unix time from which the key signs (it is published from the moment it is stored).
    #[serde(default)]
    activate_at: i64,
    /// Unix time after which the key leaves the JWKS (every token it signed has expired).
    #[serde(default)]
    retire_at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    v: u8,
    keys: Vec<StoredKey>,
}

/// How a rotation schedules keys.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// Publish the new key this long before it signs: longer than any verifier's JWKS cache
    /// plus every instance's key reload interval.
    pub publish_ahead_s: i64,
    /// Keep a replaced key published this long after its successor starts signing: longer than
    /// the longest token lifetime plus clock skew.
    pub retire_after_s: i64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy { publish_ahead_s: 180, retire_after_s: 3600 + 300 }
    }
}

/// One key of the ring, parsed once.
struct Entry {
    key: Arc<SigningKey>,
    activate_at: i64,
    retire_at: Option<i64>,
}

struct Ring {
    entries: Vec<Entry>,
    signers: Vec<Arc<SigningKey>>,
    jwks: Jwks,
    /// The same public keys, parsed once for verifying numbat's own tokens.
    verify: KeySet,
}

/// The authorization server's signing keys, shared by every instance through the store. For
/// each algorithm the most recently activated key signs; every key not yet retired is published.
pub struct KeyRing {
    inner: RwLock<Arc<Ring>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] JoseError),
    #[error("stored key record is unreadable: {0}")]
    Corrupt(String),
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn stored(key: &SigningKey, activate_at: i64) -> StoredKey {
    StoredKey {
        kid: key.kid().to_owned(),
        alg: key.alg().as_str().to_owned(),
        pkcs8: b64::encode(key.pkcs8_der()),
        activate_at,
        retire_at: None,
    }
}

/// Take the store lock on the key record (set-if-absent with a TTL), so instances and `numbat
/// keys rotate` take turns on the read-modify-write. Release with [`unlock`].
async fn lock(store: &SharedStore) -> Result<(), KeyRingError> {
    for _ in 0..400 {
        if store.put_if_absent(SIGNING_LOCK, b"1", Duration::from_secs(30)).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(KeyRingError::Corrupt("timed out waiting for the signing-key lock".into()))
}

async fn unlock(store: &SharedStore) -> Result<(), KeyRingError> {
    store.delete(SIGNING_LOCK).await?;
    Ok(())
}

async fn write_record(store: &SharedStore, rec: &StoredKeys) -> Result<(), KeyRingError> {
    let bytes = serde_json::to_vec(rec).map_err(|e| KeyRingError::Corrupt(e.to_string()))?;
    store.put(keys::SIGNING_KEYS, &bytes, KEY_RECORD_TTL).await?;
    Ok(())
}

/// Run `f` on the key record under the store lock; write the record back when `f` says so.
async fn with_lock<F>(store: &SharedStore, f: F) -> Result<(), KeyRingError>
where
    F: FnOnce(&mut StoredKeys) -> Result<bool, KeyRingError>,
{
    lock(store).await?;
    let result = async {
        let mut rec = read_record(store).await?;
        if f(&mut rec)? {
            write_record(store, &rec).await?;
        }
        Ok::<(), KeyRingError>(())
    }
    .await;
    unlock(store).await?;
    result
}

/// Under the lock, generate the keys of `required` the record still lacks (off the async
/// runtime) and store them. Concurrent first starts: the first instance generates, the others
/// wait for the lock and find nothing missing, so a fleet pays for one RSA generation.
async fn add_missing(store: &SharedStore, required: &[Alg]) -> Result<(), KeyRingError> {
    lock(store).await?;
    let result = async {
        let mut rec = read_record(store).await?;
        let todo = missing(&rec, required);
        if todo.is_empty() {
            return Ok(());
        }
        for key in generate_off_runtime(&todo).await? {
            tracing::info!(kid = key.kid(), alg = key.alg().as_str(), "generated a signing key");
            rec.keys.push(stored(&key, 0));
        }
        write_record(store, &rec).await
    }
    .await;
    unlock(store).await?;
    result
}

impl KeyRing {
    /// Keys given in configuration: published to the store for verifiers, not generated.
    pub async fn from_keys(store: &SharedStore, keys: Vec<SigningKey>) -> Result<Self, KeyRingError> {
        let entries = keys.into_iter().map(|k| Entry { key: Arc::new(k), activate_at: 0, retire_at: None }).collect();
        let ring = Self::build(entries, unix_now());
        publish(store, &ring.jwks).await?;
        Ok(KeyRing { inner: RwLock::new(Arc::new(ring)) })
    }

    /// Load the shared keys from the store, creating the missing ones ([`DEFAULT_ALGS`]: ES256
    /// for access tokens, RS256 because OIDC requires it for ID tokens, PS256 and EdDSA for the
    /// ID tokens of clients that register them). Concurrent first starts agree: keys are
    /// generated once, under the store lock, and every instance uses what the store holds.
    pub async fn load_or_create(store: &SharedStore) -> Result<Self, KeyRingError> {
        Self::load_or_create_with(store, &DEFAULT_ALGS).await
    }

    pub async fn load_or_create_with(store: &SharedStore, required: &[Alg]) -> Result<Self, KeyRingError> {
        if !missing(&read_record(store).await?, required).is_empty() {
            add_missing(store, required).await?;
        }
        let ring = KeyRing { inner: RwLock::new(Arc::new(Self::build(vec![], 0))) };
        ring.reload(store, unix_now()).await?;
        Ok(ring)
    }

    /// Re-read the shared record (keys parsed once: known kids are reused) and recompute which
    /// key signs and which are published at `now`; publish that JWKS. Every instance runs this
    /// periodically, so rotations reach all of them.
    pub async fn reload(&self, store: &SharedStore, now: i64) -> Result<(), KeyRingError> {
        let rec = read_record(store).await?;
        let old = self.inner.read().clone();
        let mut entries = Vec::with_capacity(rec.keys.len());
        for k in rec.keys {
            let key = match old.entries.iter().find(|e| e.key.kid() == k.kid) {
                Some(e) => e.key.clone(),
                None => {
                    let alg = Alg::parse(&k.alg).ok_or_else(|| KeyRingError::Corrupt(format!("alg {}", k.alg)))?;
                    Arc::new(SigningKey::from_pkcs8(k.kid.clone(), alg, &b64::decode(&k.pkcs8)?)?)
                }
            };
            entries.push(Entry { key, activate_at: k.activate_at, retire_at: k.retire_at });
        }
        let ring = Self::build(entries, now);
        publish(store, &ring.jwks).await?;
        *self.inner.write() = Arc::new(ring);
        Ok(())
    }

    /// Rotate the keys of `algs` through the store: a new key per algorithm, published now and
    /// signing from `now + publish_ahead_s`; its predecessors retire `retire_after_s` later;
    /// keys already past retirement are dropped. Returns the new kids. Instances pick this up
    /// at their next [`reload`](Self::reload).
    pub async fn rotate(store: &SharedStore, algs: &[Alg], now: i64, policy: RotationPolicy) -> Result<Vec<String>, KeyRingError> {
        let mut kids = Vec::new();
        let fresh = generate_off_runtime(algs).await?;
        with_lock(store, |rec| {
            let activate = now + policy.publish_ahead_s;
            rec.keys.retain(|k| k.retire_at.is_none_or(|r| r > now));
            for key in &fresh {
                for k in rec.keys.iter_mut().filter(|k| k.alg == key.alg().as_str() && k.retire_at.is_none()) {
                    k.retire_at = Some(activate + policy.retire_after_s);
                }
                rec.keys.push(stored(key, activate));
                kids.push(key.kid().to_owned());
            }
            Ok(true)
        })
        .await?;
        // Publish at once, so verifiers know the new keys before anyone signs with them.
        let view = KeyRing { inner: RwLock::new(Arc::new(Self::build(vec![], 0))) };
        view.reload(store, now).await?;
        Ok(kids)
    }

    /// `(kid, alg, activate_at, retire_at, signing)` for each stored key, for `numbat keys list`.
    pub fn status(&self) -> Vec<(String, Alg, i64, Option<i64>, bool)> {
        let ring = self.inner.read().clone();
        ring.entries
            .iter()
            .map(|e| {
                let signing = ring.signers.iter().any(|s| s.kid() == e.key.kid());
                (e.key.kid().to_owned(), e.key.alg(), e.activate_at, e.retire_at, signing)
            })
            .collect()
    }

    fn build(entries: Vec<Entry>, now: i64) -> Ring {
        let live: Vec<&Entry> = entries.iter().filter(|e| e.retire_at.is_none_or(|r| r > now)).collect();
        // Per algorithm (in the order keys were stored), the latest-activated key signs; among
        // keys activated at the same time, the first stored.
        let mut chosen: Vec<&Entry> = Vec::new();
        for e in live.iter().filter(|e| e.activate_at <= now) {
            match chosen.iter_mut().find(|c| c.key.alg() == e.key.alg()) {
                Some(c) if e.activate_at > c.activate_at => *c = e,
                Some(_) => {}
                None => chosen.push(e),
            }
        }
        let signers: Vec<Arc<SigningKey>> = chosen.iter().map(|e| e.key.clone()).collect();
        let jwks = Jwks { keys: live.iter().map(|e| e.key.public_jwk()).collect() };
        // Our own public keys always parse; an error here would be a bug, so say so loudly.
        let verify = KeySet::from_jwks(&jwks).unwrap_or_else(|e| {
            tracing::error!(error = %e, "own JWKS does not parse; own tokens cannot be verified");
            KeySet::default()
        });
        Ring { entries, signers, jwks, verify }
    }

    /// The key that signs with `alg` now.
    pub fn signer(&self, alg: Alg) -> Option<Arc<SigningKey>> {
        self.inner.read().signers.iter().find(|k| k.alg() == alg).cloned()
    }

    pub fn algorithms(&self) -> Vec<Alg> {
        let mut v: Vec<Alg> = Vec::new();
        for k in &self.inner.read().signers {
            if !v.contains(&k.alg()) {
                v.push(k.alg());
            }
        }
        v
    }

    /// Verify a token this server signed (introspection, revocation, userinfo).
    pub fn verify(&self, token: &str, allowed: &[Alg]) -> Result<Verified, JoseError> {
        let ring = self.inner.read().clone();
        crate::verify(token, &ring.verify, allowed)
    }

    /// The published JWKS (public members only).
    pub fn jwks(&self) -> Jwks {
        self.inner.read().jwks.clone()
    }
}

const SIGNING_LOCK: &str = "keys:signing:lock";

/// A fresh key per algorithm, in the order given, generated on the blocking pool (in parallel:
/// two RSA keys cost one RSA key's time on two cores), never on an async worker thread.
async fn generate_off_runtime(algs: &[Alg]) -> Result<Vec<SigningKey>, KeyRingError> {
    let tasks: Vec<_> = algs
        .iter()
        .map(|a| {
            let alg = *a;
            tokio::task::spawn_blocking(move || SigningKey::generate(alg))
        })
        .collect();
    let mut keys = Vec::with_capacity(tasks.len());
    for t in tasks {
        let key = t.await.map_err(|e| KeyRingError::Corrupt(format!("key generation task failed: {e}")))??;
        keys.push(key);
    }
    Ok(keys)
}

async fn read_record(store: &SharedStore) -> Result<StoredKeys, KeyRingError> {
    match store.get(keys::SIGNING_KEYS).await? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| KeyRingError::Corrupt(e.to_string())),
        None => Ok(StoredKeys { v: 1, keys: vec![] }),
    }
}

fn missing(rec: &StoredKeys, required: &[Alg]) -> Vec<Alg> {
    required.iter().copied().filter(|a| !rec.keys.iter().any(|k| k.alg == a.as_str())).collect()
}

async fn publish(store: &SharedStore, jwks: &Jwks) -> Result<(), KeyRingError> {
    let bytes = serde_json::to_vec(jwks).map_err(|e| KeyRingError::Corrupt(e.to_string()))?;
    store.put(keys::PUBLIC_KEYS, &bytes, KEY_RECORD_TTL).await?;
    Ok(())
}

/// Why a token did not verify against the cached JWKS.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Invalid(#[from] JoseError),
    #[error("public keys unavailable: {0}")]
    Unavailable(StoreError),
}

struct Cached {
    keys: Arc<KeySet>,
    fetched: Option<Instant>,
}

/// A verifier's view of the published keys: read from the store, kept in memory, refreshed
/// every `max_age` and (at most every `min_refetch`) when a token names an unknown `kid`.
pub struct JwksCache {
    store: SharedStore,
    state: RwLock<Cached>,
    max_age: Duration,
    min_refetch: Duration,
}

impl JwksCache {
    pub fn new(store: SharedStore) -> Self {
        JwksCache {
            store,
            state: RwLock::new(Cached { keys: Arc::new(KeySet::default()), fetched: None }),
            max_age: Duration::from_secs(60),
            min_refetch: Duration::from_secs(2),
        }
    }

    async fn refresh(&self) -> Result<Arc<KeySet>, VerifyError> {
        let bytes = self.store.get(keys::PUBLIC_KEYS).await.map_err(VerifyError::Unavailable)?;
        let jwks: Jwks = match bytes {
            Some(b) => serde_json::from_slice(&b).map_err(|_| JoseError::KeyRejected("stored JWKS unreadable".into()))?,
            None => Jwks::default(),
        };
        let set = Arc::new(KeySet::from_jwks(&jwks)?);
        *self.state.write() = Cached { keys: set.clone(), fetched: Some(Instant::now()) };
        Ok(set)
    }

    async fn current(&self) -> Result<Arc<KeySet>, VerifyError> {
        let (keys, fetched) = {
            let s = self.state.read();
            (s.keys.clone(), s.fetched)
        };
        match fetched {
            Some(t) if t.elapsed() < self.max_age => Ok(keys),
            Some(_) => match self.refresh().await {
                Ok(k) => Ok(k),
                Err(VerifyError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "JWKS refresh failed; using cached keys");
                    Ok(keys)
                }
                Err(e) => Err(e),
            },
            None => self.refresh().await,
        }
    }

    /// Verify a JWS against numbat's published keys.
    pub async fn verify(&self, token: &str, allowed: &[Alg]) -> Result<Verified, VerifyError> {
        let keys = self.current().await?;
        match crate::verify(token, &keys, allowed) {
            Err(JoseError::UnknownKey) => {
                let stale = self.state.read().fetched.is_none_or(|t| t.elapsed() >= self.min_refetch);
                if stale {
                    let keys = self.refresh().await?;
                    Ok(crate::verify(token, &keys, allowed)?)
                } else {
                    Err(JoseError::UnknownKey.into())
                }
            }
            other => Ok(other?),
        }
    }
}
