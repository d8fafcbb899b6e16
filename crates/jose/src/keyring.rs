//! Keys shared through the store: the authorization server's [`KeyRing`] (private, for signing)
//! and every verifier's [`JwksCache`] (public, cached in memory, refetched on an unknown `kid`).
//!
//! The private key record lets several stateless authorization-server instances sign with the
//! same keys; `numbat keys rotate` (a later issue) rewrites both records.

use crate::{b64, Alg, JoseError, Jwks, KeySet, SigningKey, Verified};
use numbat_store::{keys, SharedStore, StoreError};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Key records outlive any token by far; rotation rewrites them.
/// The algorithms an authorization server signs with unless configured otherwise.
pub const DEFAULT_ALGS: [Alg; 2] = [Alg::ES256, Alg::RS256];

const KEY_RECORD_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    alg: String,
    pkcs8: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    v: u8,
    keys: Vec<StoredKey>,
}

struct Ring {
    signers: Vec<Arc<SigningKey>>,
    jwks: Jwks,
    /// The same public keys, parsed once for verifying numbat's own tokens.
    verify: KeySet,
}

/// The authorization server's signing keys. The first key of each algorithm signs.
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

impl KeyRing {
    /// Keys given in configuration: published to the store for verifiers, not generated.
    pub async fn from_keys(store: &SharedStore, keys: Vec<SigningKey>) -> Result<Self, KeyRingError> {
        let ring = Self::build(keys.into_iter().map(Arc::new).collect());
        publish(store, &ring.jwks).await?;
        Ok(KeyRing { inner: RwLock::new(Arc::new(ring)) })
    }

    /// Load the shared keys from the store, creating the missing ones (ES256 for access tokens,
    /// RS256 because OIDC requires it for ID tokens). Concurrent first starts agree: the first
    /// writer wins and every instance then uses what the store holds.
    pub async fn load_or_create(store: &SharedStore) -> Result<Self, KeyRingError> {
        Self::load_or_create_with(store, &DEFAULT_ALGS).await
    }

    pub async fn load_or_create_with(store: &SharedStore, required: &[Alg]) -> Result<Self, KeyRingError> {
        let mut rec = read_record(store).await?;
        // Adding keys is read-modify-write; a short lock (set-if-absent) makes instances that
        // start together take turns, so every one ends with the keys the store holds.
        let mut attempts = 0;
        while !missing(&rec, required).is_empty() {
            attempts += 1;
            if attempts > 200 {
                return Err(KeyRingError::Corrupt("timed out waiting for the signing-key lock".into()));
            }
            if store.put_if_absent(SIGNING_LOCK, b"1", Duration::from_secs(30)).await? {
                let result = async {
                    let mut rec = read_record(store).await?;
                    for alg in missing(&rec, required) {
                        let key = SigningKey::generate(alg)?;
                        tracing::info!(kid = key.kid(), alg = alg.as_str(), "generated a signing key");
                        rec.keys.push(StoredKey {
                            kid: key.kid().to_owned(),
                            alg: alg.as_str().to_owned(),
                            pkcs8: b64::encode(key.pkcs8_der()),
                        });
                    }
                    let bytes = serde_json::to_vec(&rec).map_err(|e| KeyRingError::Corrupt(e.to_string()))?;
                    store.put(keys::SIGNING_KEYS, &bytes, KEY_RECORD_TTL).await?;
                    Ok::<(), KeyRingError>(())
                }
                .await;
                store.delete(SIGNING_LOCK).await?;
                result?;
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            rec = read_record(store).await?;
        }
        let mut signers = Vec::new();
        for k in rec.keys {
            let alg = Alg::parse(&k.alg).ok_or_else(|| KeyRingError::Corrupt(format!("alg {}", k.alg)))?;
            signers.push(Arc::new(SigningKey::from_pkcs8(k.kid, alg, &b64::decode(&k.pkcs8)?)?));
        }
        let ring = Self::build(signers);
        publish(store, &ring.jwks).await?;
        Ok(KeyRing { inner: RwLock::new(Arc::new(ring)) })
    }

    fn build(signers: Vec<Arc<SigningKey>>) -> Ring {
        let jwks = Jwks { keys: signers.iter().map(|k| k.public_jwk()).collect() };
        // Our own public keys always parse; an error here would be a bug, so say so loudly.
        let verify = KeySet::from_jwks(&jwks).unwrap_or_else(|e| {
            tracing::error!(error = %e, "own JWKS does not parse; own tokens cannot be verified");
            KeySet::default()
        });
        Ring { signers, jwks, verify }
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
