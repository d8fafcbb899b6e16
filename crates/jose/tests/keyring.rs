//! Store-backed key ring and JWKS cache: instances sharing one store agree on the signing keys,
//! the published JWKS is public-only, and verifiers use it.
//!
//! `KeyRing::load_or_create` creates an ES256 key (access tokens), an RS256 key (OIDC ID tokens)
//! and PS256 and EdDSA keys (ID tokens of clients that register them) when the store has none; "the same kid" below means the same kid for every algorithm.

use jsonwebtoken as jwt;
use numbat_jose::{Alg, JoseError, JwksCache, KeyRing, KeyRingError, KeySet, SigningKey, VerifyError};
use numbat_store::{keys, MemoryStore, RateDecision, SharedStore, Store, StoreError};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What `load_or_create` creates on an empty store: ES256, RS256, PS256 and EdDSA.
use numbat_jose::DEFAULT_ALGS;

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn fresh_store() -> SharedStore {
    Arc::new(MemoryStore::new())
}

fn claims() -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    json!({"iss": "https://numbat.example", "sub": "alice", "exp": now + 300, "iat": now})
}

async fn published(store: &SharedStore) -> Value {
    let bytes = store.get(keys::PUBLIC_KEYS).await.unwrap().expect("a published JWKS");
    serde_json::from_slice(&bytes).unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

fn es256_kid(ring: &KeyRing) -> String {
    ring.signer(Alg::ES256).expect("an ES256 signer").kid().to_owned()
}

/// (alg, kid) of the signing key of every algorithm the ring has.
fn signer_kids(ring: &KeyRing) -> Vec<(Alg, String)> {
    ring.algorithms().into_iter().map(|a| (a, ring.signer(a).unwrap().kid().to_owned())).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn load_or_create_twice_on_the_same_store_gives_the_same_kid() {
    let store = fresh_store();
    let a = KeyRing::load_or_create(&store).await.unwrap();
    let b = KeyRing::load_or_create(&store).await.unwrap();
    assert_eq!(a.algorithms(), DEFAULT_ALGS.to_vec());
    assert!(!es256_kid(&a).is_empty());
    assert_eq!(es256_kid(&a), es256_kid(&b));
    assert_eq!(signer_kids(&a), signer_kids(&b));
    assert_eq!(a.jwks(), b.jwks());
    // Same private keys, not just the same kids: B verifies what A signed.
    let keys = KeySet::from_jwks(&b.jwks()).unwrap();
    for alg in DEFAULT_ALGS {
        let t = a.signer(alg).unwrap().sign("JWT", &claims()).unwrap();
        numbat_jose::verify(&t, &keys, &[alg]).unwrap();
        b.verify(&t, &[alg]).unwrap();
        assert_eq!(a.signer(alg).unwrap().pkcs8_der(), b.signer(alg).unwrap().pkcs8_der());
    }
    // Another store is other keys.
    let c = KeyRing::load_or_create(&fresh_store()).await.unwrap();
    assert_ne!(es256_kid(&c), es256_kid(&a));
}

#[tokio::test]
async fn load_or_create_with_es256_only_then_default_keeps_the_es256_key_and_adds_rs256() {
    // Upgrade path (sequential): a store written by an ES256-only instance.
    let store = fresh_store();
    let old = KeyRing::load_or_create_with(&store, &[Alg::ES256]).await.unwrap();
    assert_eq!(old.algorithms(), vec![Alg::ES256]);
    let kid = es256_kid(&old);
    let token = old.signer(Alg::ES256).unwrap().sign("JWT", &claims()).unwrap();

    let new = KeyRing::load_or_create(&store).await.unwrap();
    assert_eq!(new.algorithms(), DEFAULT_ALGS.to_vec());
    assert_eq!(es256_kid(&new), kid, "the existing ES256 key must survive the upgrade");
    new.verify(&token, &[Alg::ES256]).unwrap();
    let mut want = vec![kid.clone()];
    want.extend([Alg::RS256, Alg::PS256, Alg::EdDSA].map(|a| new.signer(a).unwrap().kid().to_owned()));
    assert_eq!(sorted(kids(&published(&store).await)), sorted(want));
    // A third instance agrees with the second.
    assert_eq!(signer_kids(&KeyRing::load_or_create(&store).await.unwrap()), signer_kids(&new));
    // And an ES256-only instance started later still sees (and publishes) all of them.
    let later = KeyRing::load_or_create_with(&store, &[Alg::ES256]).await.unwrap();
    assert_eq!(signer_kids(&later), signer_kids(&new));
}

#[tokio::test]
async fn published_jwks_in_store_contains_the_kid_and_no_private_member() {
    let store = fresh_store();
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    let jwks = published(&store).await;
    let expected: Vec<String> = signer_kids(&ring).into_iter().map(|(_, k)| k).collect();
    assert!(kids(&jwks).contains(&es256_kid(&ring)));
    assert_eq!(sorted(kids(&jwks)), sorted(expected));
    for k in jwks["keys"].as_array().unwrap() {
        let obj = k.as_object().unwrap();
        for m in PRIVATE_MEMBERS {
            assert!(!obj.contains_key(m), "private member {m} published: {k}");
        }
        assert!(obj["kid"].as_str().is_some_and(|s| !s.is_empty()), "{k}");
        assert_eq!(obj["use"], "sig");
        match obj["alg"].as_str().unwrap() {
            "ES256" => {
                assert_eq!(obj["kty"], "EC");
                assert_eq!(obj["crv"], "P-256");
            }
            "RS256" | "PS256" => {
                assert_eq!(obj["kty"], "RSA");
                assert!(obj["n"].as_str().unwrap().len() >= 342, "RSA modulus under 2048 bits: {k}");
            }
            "EdDSA" => {
                assert_eq!(obj["kty"], "OKP");
                assert_eq!(obj["crv"], "Ed25519");
            }
            other => panic!("unexpected alg {other}"),
        }
    }
    // The strict parser for untrusted JWKS accepts what numbat publishes.
    let set = KeySet::from_jwks_value(&jwks).unwrap();
    assert!(set.has_kid(&es256_kid(&ring)));
    // The published document is what the ring reports.
    assert_eq!(serde_json::to_value(ring.jwks()).unwrap(), jwks);
    // The private record (a separate store key) holds the PKCS#8; none of it leaks.
    let private = store.get(keys::SIGNING_KEYS).await.unwrap().expect("a private key record");
    let private: Value = serde_json::from_slice(&private).unwrap();
    let public_text = String::from_utf8(store.get(keys::PUBLIC_KEYS).await.unwrap().unwrap()).unwrap();
    assert!(!public_text.contains("pkcs8"));
    for k in private["keys"].as_array().unwrap() {
        let pkcs8_b64 = k["pkcs8"].as_str().unwrap();
        assert!(!pkcs8_b64.is_empty());
        assert!(!public_text.contains(pkcs8_b64));
    }
}

async fn race_8_instances(store: &SharedStore, required: &'static [Alg]) -> Vec<(Alg, String)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let ring = KeyRing::load_or_create_with(&store, required).await.unwrap();
            signer_kids(&ring)
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "instances disagree: {seen:?}");
    seen.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_load_or_create_from_8_tasks_agrees_on_one_kid() {
    // Several rounds, each on a fresh store, to give the race a real chance.
    for _round in 0..6 {
        let store = fresh_store();
        let agreed = race_8_instances(&store, &DEFAULT_ALGS).await;
        assert_eq!(agreed.iter().map(|(a, _)| *a).collect::<Vec<_>>(), DEFAULT_ALGS.to_vec());
        // The published JWKS names exactly those keys, and a later instance agrees too.
        let want: Vec<String> = agreed.iter().map(|(_, k)| k.clone()).collect();
        assert_eq!(sorted(kids(&published(&store).await)), sorted(want));
        assert_eq!(signer_kids(&KeyRing::load_or_create(&store).await.unwrap()), agreed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_load_or_create_es256_only_agrees_on_one_kid() {
    // Cheap keys (no RSA generation), so many more rounds.
    for _round in 0..64 {
        let store = fresh_store();
        let agreed = race_8_instances(&store, &[Alg::ES256]).await;
        assert_eq!(agreed.len(), 1);
        assert_eq!(kids(&published(&store).await), vec![agreed[0].1.clone()]);
    }
}

#[tokio::test]
async fn jwks_cache_verifies_a_token_signed_by_the_ring_signer() {
    let store = fresh_store();
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    let signer = ring.signer(Alg::ES256).unwrap();
    let claims = claims();
    let token = signer.sign("at+jwt", &claims).unwrap();

    // A verifier on another "instance": only the store is shared.
    let cache = JwksCache::new(store.clone());
    let v = cache.verify(&token, &[Alg::ES256]).await.unwrap();
    assert_eq!(v.alg, Alg::ES256);
    assert_eq!(v.header.kid.as_deref(), Some(signer.kid()));
    assert_eq!(v.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(serde_json::from_slice::<Value>(&v.payload).unwrap(), claims);
    // Second call is served from the cache.
    cache.verify(&token, &[Alg::ES256]).await.unwrap();
    // The allow-list still applies.
    match cache.verify(&token, &[Alg::RS256]).await {
        Err(VerifyError::Invalid(JoseError::AlgNotAllowed)) => {}
        other => panic!("expected Invalid(AlgNotAllowed), got {other:?}"),
    }
}

#[tokio::test]
async fn jwks_cache_rejects_a_token_signed_by_an_unrelated_key() {
    let store = fresh_store();
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    let cache = JwksCache::new(store.clone());

    // Unrelated key, its own kid: nothing published matches.
    let stranger = SigningKey::generate_es256().unwrap();
    let t = stranger.sign("at+jwt", &claims()).unwrap();
    match cache.verify(&t, &[Alg::ES256]).await {
        Err(VerifyError::Invalid(JoseError::UnknownKey)) => {}
        other => panic!("expected Invalid(UnknownKey), got {other:?}"),
    }

    // Unrelated key claiming the ring's kid: the signature does not verify.
    let der = SigningKey::generate_es256().unwrap().pkcs8_der().to_vec();
    let impostor = SigningKey::from_pkcs8(es256_kid(&ring), Alg::ES256, &der).unwrap();
    assert_eq!(impostor.kid(), es256_kid(&ring));
    let t = impostor.sign("at+jwt", &claims()).unwrap();
    match cache.verify(&t, &[Alg::ES256]).await {
        Err(VerifyError::Invalid(JoseError::BadSignature)) => {}
        other => panic!("expected Invalid(BadSignature), got {other:?}"),
    }

    // Garbage is Invalid too, never Unavailable.
    match cache.verify("not.a.token", &[Alg::ES256]).await {
        Err(VerifyError::Invalid(_)) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn jwks_cache_on_a_store_without_published_keys_is_unknown_key() {
    let store = fresh_store();
    let cache = JwksCache::new(store);
    let t = SigningKey::generate_es256().unwrap().sign("JWT", &claims()).unwrap();
    match cache.verify(&t, &[Alg::ES256]).await {
        Err(VerifyError::Invalid(JoseError::UnknownKey)) => {}
        other => panic!("expected Invalid(UnknownKey), got {other:?}"),
    }
}

#[tokio::test]
async fn jwks_cache_refetches_on_unknown_kid_after_the_minimum_interval() {
    let store = fresh_store();
    let cache = JwksCache::new(store.clone());
    // The cache fetches (nothing published yet) and remembers the empty set.
    let early = SigningKey::generate_es256().unwrap().sign("JWT", &claims()).unwrap();
    assert!(matches!(cache.verify(&early, &[Alg::ES256]).await, Err(VerifyError::Invalid(JoseError::UnknownKey))));

    // Keys get published; right away, the unknown kid does not trigger a refetch (rate limit).
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    let token = ring.signer(Alg::ES256).unwrap().sign("JWT", &claims()).unwrap();
    assert!(matches!(cache.verify(&token, &[Alg::ES256]).await, Err(VerifyError::Invalid(JoseError::UnknownKey))));

    // After the minimum refetch interval (2 s), an unknown kid refreshes the cache.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    cache.verify(&token, &[Alg::ES256]).await.unwrap();
}

#[tokio::test]
async fn from_keys_publishes_configured_keys_and_first_key_of_each_alg_signs() {
    let store = fresh_store();
    let rs = SigningKey::generate_rs256().unwrap();
    let rs = SigningKey::from_pkcs8(String::from("rs-1"), Alg::RS256, rs.pkcs8_der()).unwrap();
    let es1 = SigningKey::generate_es256().unwrap();
    let es2 = SigningKey::generate_es256().unwrap();
    let (es1_kid, es2_kid) = (es1.kid().to_owned(), es2.kid().to_owned());
    let ring = KeyRing::from_keys(&store, vec![rs, es1, es2]).await.unwrap();

    assert_eq!(ring.algorithms(), vec![Alg::RS256, Alg::ES256]);
    assert_eq!(ring.signer(Alg::ES256).unwrap().kid(), es1_kid);
    assert_eq!(ring.signer(Alg::RS256).unwrap().kid(), "rs-1");
    assert!(ring.signer(Alg::PS256).is_none());
    assert!(ring.signer(Alg::EdDSA).is_none());

    let jwks = published(&store).await;
    assert_eq!(kids(&jwks), vec!["rs-1".to_owned(), es1_kid.clone(), es2_kid]);
    KeySet::from_jwks_value(&jwks).unwrap();

    let cache = JwksCache::new(store.clone());
    for alg in [Alg::RS256, Alg::ES256] {
        let t = ring.signer(alg).unwrap().sign("JWT", &claims()).unwrap();
        assert_eq!(cache.verify(&t, &[alg]).await.unwrap().alg, alg);
    }
}

#[tokio::test]
async fn ring_tokens_verify_in_jsonwebtoken_with_the_published_jwks() {
    let store = fresh_store();
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    let bytes = store.get(keys::PUBLIC_KEYS).await.unwrap().unwrap();
    let set: jwt::jwk::JwkSet = serde_json::from_slice(&bytes).unwrap();
    for (alg, jalg) in [(Alg::ES256, jwt::Algorithm::ES256), (Alg::RS256, jwt::Algorithm::RS256)] {
        let token = ring.signer(alg).unwrap().sign("JWT", &claims()).unwrap();
        let kid = jwt::decode_header(&token).unwrap().kid.unwrap();
        let dk = jwt::DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
        let mut validation = jwt::Validation::new(jalg);
        validation.validate_aud = false;
        jwt::decode::<Value>(&token, &dk, &validation).unwrap();
    }
}

#[tokio::test]
async fn key_ring_verify_accepts_own_tokens_and_refuses_others() {
    let store = fresh_store();
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    for alg in DEFAULT_ALGS {
        let t = ring.signer(alg).unwrap().sign("JWT", &claims()).unwrap();
        assert_eq!(ring.verify(&t, &[alg]).unwrap().alg, alg);
        assert_eq!(ring.verify(&t, &[]).unwrap_err(), JoseError::AlgNotAllowed);
    }
    let stranger = SigningKey::generate_es256().unwrap().sign("JWT", &claims()).unwrap();
    assert_eq!(ring.verify(&stranger, &[Alg::ES256]).unwrap_err(), JoseError::UnknownKey);
    let der = SigningKey::generate_es256().unwrap().pkcs8_der().to_vec();
    let impostor = SigningKey::from_pkcs8(es256_kid(&ring), Alg::ES256, &der).unwrap();
    let t = impostor.sign("JWT", &claims()).unwrap();
    assert_eq!(ring.verify(&t, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
}

#[tokio::test]
async fn corrupt_signing_key_record_is_reported_not_replaced() {
    let store = fresh_store();
    store.put(keys::SIGNING_KEYS, b"{not json", Duration::from_secs(60)).await.unwrap();
    match KeyRing::load_or_create(&store).await {
        Err(KeyRingError::Corrupt(_)) => {}
        Err(e) => panic!("expected Corrupt, got {e:?}"),
        Ok(_) => panic!("expected Corrupt, got a key ring"),
    }
    // The record was left alone (no silent key replacement).
    assert_eq!(store.get(keys::SIGNING_KEYS).await.unwrap().unwrap(), b"{not json");

    let store = fresh_store();
    let rec = json!({"v": 1, "keys": [{"kid": "x", "alg": "HS256", "pkcs8": ""}]});
    store.put(keys::SIGNING_KEYS, &serde_json::to_vec(&rec).unwrap(), Duration::from_secs(60)).await.unwrap();
    assert!(matches!(KeyRing::load_or_create(&store).await, Err(KeyRingError::Corrupt(_))));
}

// ---------------------------------------------------------------------------------------------
// A store wrapper that can fail or order operations (the `Store` trait is `#[async_trait]`;
// its methods are written out desugared here so no extra dev-dependency is needed).
// ---------------------------------------------------------------------------------------------

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Default)]
struct Gates {
    /// Every `get` fails (store unreachable).
    fail_gets: AtomicBool,
    /// Race script for the signing-key record, when set.
    race: Option<RaceScript>,
}

/// Forces this interleaving between two instances A and B on `keys::SIGNING_KEYS`:
/// A get, B get (both see the old record) → first put → its re-read → second put → its re-read.
struct RaceScript {
    gets: AtomicUsize,
    puts: AtomicUsize,
    both_read: tokio::sync::Barrier,
    first_reread_done: tokio::sync::Semaphore,
}

struct GatedStore {
    inner: SharedStore,
    gates: Gates,
}

impl Store for GatedStore {
    fn put<'a, 'b, 'c, 'at>(&'a self, key: &'b str, value: &'c [u8], ttl: Duration) -> Fut<'at, ()>
    where
        'a: 'at,
        'b: 'at,
        'c: 'at,
        Self: 'at,
    {
        Box::pin(async move {
            if let (Some(r), true) = (&self.gates.race, key == keys::SIGNING_KEYS) {
                if r.puts.fetch_add(1, Ordering::SeqCst) == 1 {
                    r.first_reread_done.acquire().await.unwrap().forget();
                }
            }
            self.inner.put(key, value, ttl).await
        })
    }

    fn get<'a, 'b, 'at>(&'a self, key: &'b str) -> Fut<'at, Option<Vec<u8>>>
    where
        'a: 'at,
        'b: 'at,
        Self: 'at,
    {
        Box::pin(async move {
            if self.gates.fail_gets.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("gated".into()));
            }
            if let (Some(r), true) = (&self.gates.race, key == keys::SIGNING_KEYS) {
                let n = r.gets.fetch_add(1, Ordering::SeqCst);
                // Read first, then wait: both instances hold the old record before either goes on.
                let v = self.inner.get(key).await;
                if n < 2 {
                    r.both_read.wait().await;
                }
                if n == 2 {
                    r.first_reread_done.add_permits(1);
                }
                return v;
            }
            self.inner.get(key).await
        })
    }

    fn delete<'a, 'b, 'at>(&'a self, key: &'b str) -> Fut<'at, bool>
    where
        'a: 'at,
        'b: 'at,
        Self: 'at,
    {
        self.inner.delete(key)
    }

    fn take<'a, 'b, 'at>(&'a self, key: &'b str) -> Fut<'at, Option<Vec<u8>>>
    where
        'a: 'at,
        'b: 'at,
        Self: 'at,
    {
        self.inner.take(key)
    }

    fn put_if_absent<'a, 'b, 'c, 'at>(&'a self, key: &'b str, value: &'c [u8], ttl: Duration) -> Fut<'at, bool>
    where
        'a: 'at,
        'b: 'at,
        'c: 'at,
        Self: 'at,
    {
        self.inner.put_if_absent(key, value, ttl)
    }

    fn delete_if<'a, 'b, 'c, 'at>(&'a self, key: &'b str, expected: &'c [u8]) -> Fut<'at, bool>
    where
        'a: 'at,
        'b: 'at,
        'c: 'at,
        Self: 'at,
    {
        self.inner.delete_if(key, expected)
    }

    fn rate_limit<'a, 'b, 'at>(&'a self, key: &'b str, limit: u64, window: Duration) -> Fut<'at, RateDecision>
    where
        'a: 'at,
        'b: 'at,
        Self: 'at,
    {
        self.inner.rate_limit(key, limit, window)
    }

    fn ping<'a, 'at>(&'a self) -> Fut<'at, ()>
    where
        'a: 'at,
        Self: 'at,
    {
        self.inner.ping()
    }
}

#[tokio::test]
async fn jwks_cache_reports_unavailable_store_as_unavailable_not_invalid() {
    let inner = fresh_store();
    let ring = KeyRing::load_or_create(&inner).await.unwrap();
    let gated = Arc::new(GatedStore { inner, gates: Gates::default() });
    gated.gates.fail_gets.store(true, Ordering::SeqCst);
    let store: SharedStore = gated.clone();
    let cache = JwksCache::new(store);
    let t = ring.signer(Alg::ES256).unwrap().sign("JWT", &claims()).unwrap();
    match cache.verify(&t, &[Alg::ES256]).await {
        Err(VerifyError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Once the store answers again, the same cache verifies.
    gated.gates.fail_gets.store(false, Ordering::SeqCst);
    cache.verify(&t, &[Alg::ES256]).await.unwrap();
}

/// Two instances upgrading the same store (an ES256-only record; RS256 now required) at once.
/// `load_or_create_with` writes the grown record with a plain `put` (last writer wins) and then
/// re-reads it; when one instance's re-read happens before the other's write, the two
/// instances keep different RS256 keys, and only one of them is in the stored/published keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upgrade_adding_rs256_agrees_on_one_rs256_key() {
    let inner = fresh_store();
    let old = KeyRing::load_or_create_with(&inner, &[Alg::ES256]).await.unwrap();
    let es_kid = es256_kid(&old);
    let store: SharedStore = Arc::new(GatedStore {
        inner: inner.clone(),
        gates: Gates {
            fail_gets: AtomicBool::new(false),
            race: Some(RaceScript {
                gets: AtomicUsize::new(0),
                puts: AtomicUsize::new(0),
                both_read: tokio::sync::Barrier::new(2),
                first_reread_done: tokio::sync::Semaphore::new(0),
            }),
        },
    });
    let (a, b) = tokio::join!(
        tokio::spawn({
            let s = store.clone();
            async move { KeyRing::load_or_create(&s).await.unwrap() }
        }),
        tokio::spawn({
            let s = store.clone();
            async move { KeyRing::load_or_create(&s).await.unwrap() }
        }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(es256_kid(&a), es_kid);
    assert_eq!(es256_kid(&b), es_kid);
    let published = kids(&published(&inner).await);
    for ring in [&a, &b] {
        let rs = ring.signer(Alg::RS256).unwrap().kid().to_owned();
        assert!(published.contains(&rs), "RS256 key {rs} signs but is not published ({published:?})");
    }
    assert_eq!(signer_kids(&a), signer_kids(&b), "instances sign ID tokens with different RS256 keys");
}

/// Issue 4 item 1: a new key is published before it signs, and a retired key stays published
/// until every token it signed has expired.
#[tokio::test]
async fn rotation_publishes_before_signing_and_retires_after_expiry() {
    let store = fresh_store();
    let t0 = 1_000_000_000;
    let ring = KeyRing::load_or_create_with(&store, &[Alg::ES256]).await.unwrap();
    ring.reload(&store, t0).await.unwrap();
    let old = ring.signer(Alg::ES256).unwrap().kid().to_owned();
    let old_token = ring.signer(Alg::ES256).unwrap().sign("JWT", &claims()).unwrap();

    let policy = numbat_jose::RotationPolicy { publish_ahead_s: 100, retire_after_s: 500 };
    let new = KeyRing::rotate(&store, &[Alg::ES256], t0, policy).await.unwrap().remove(0);
    assert_ne!(new, old);
    // Published at once, before it signs.
    assert!(kids(&published(&store).await).contains(&new), "published right away");
    ring.reload(&store, t0 + 99).await.unwrap();
    assert_eq!(ring.signer(Alg::ES256).unwrap().kid(), old, "not signing before activation");
    // Signing after activation; the old key stays published.
    ring.reload(&store, t0 + 100).await.unwrap();
    assert_eq!(ring.signer(Alg::ES256).unwrap().kid(), new);
    let jwks = kids(&published(&store).await);
    assert!(jwks.contains(&old) && jwks.contains(&new));
    ring.verify(&old_token, &[Alg::ES256]).unwrap();
    // Retired after activation + retire_after.
    ring.reload(&store, t0 + 600).await.unwrap();
    assert_eq!(kids(&published(&store).await), vec![new.clone()]);
    assert!(ring.verify(&old_token, &[Alg::ES256]).is_err());

    // A second instance loading now agrees on the signer.
    let other = KeyRing::load_or_create_with(&store, &[Alg::ES256]).await.unwrap();
    other.reload(&store, t0 + 600).await.unwrap();
    assert_eq!(other.signer(Alg::ES256).unwrap().kid(), new);
}

/// Issue 4 item 1: a fresh store gets one signing key per algorithm (ES256, RS256, PS256,
/// EdDSA), each published with its `alg`, each signing tokens that verify against the JWKS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue4_fresh_store_gets_es256_rs256_ps256_and_eddsa_keys() {
    let store = fresh_store();
    let started = std::time::Instant::now();
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    eprintln!("first start with key generation: {:?}", started.elapsed());
    assert_eq!(ring.algorithms(), vec![Alg::ES256, Alg::RS256, Alg::PS256, Alg::EdDSA]);
    let jwks = published(&store).await;
    let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, vec!["ES256", "RS256", "PS256", "EdDSA"]);
    let keys = KeySet::from_jwks_value(&jwks).unwrap();
    for alg in DEFAULT_ALGS {
        let t = ring.signer(alg).unwrap().sign("JWT", &claims()).unwrap();
        assert_eq!(numbat_jose::verify(&t, &keys, &[alg]).unwrap().alg, alg);
        // A key serves one algorithm only: no other algorithm's verifier accepts its tokens.
        let others: Vec<Alg> = DEFAULT_ALGS.into_iter().filter(|a| *a != alg).collect();
        assert!(numbat_jose::verify(&t, &keys, &others).is_err(), "{alg:?} token verified as another alg");
    }
    // The RS256 and PS256 keys are distinct RSA keys (one key, one algorithm).
    let n = |kid: &str| jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["n"].clone();
    assert_ne!(n(ring.signer(Alg::RS256).unwrap().kid()), n(ring.signer(Alg::PS256).unwrap().kid()));
    // A second start generates nothing and is fast.
    let started = std::time::Instant::now();
    let again = KeyRing::load_or_create(&store).await.unwrap();
    eprintln!("second start: {:?}", started.elapsed());
    assert_eq!(signer_kids(&again), signer_kids(&ring));
}

/// Issue 4 item 1: `numbat keys rotate` with every algorithm replaces each signer after the
/// publish-ahead delay, and the old keys stay published until retirement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue4_rotation_of_all_four_algorithms() {
    let store = fresh_store();
    let t0 = 1_000_000_000;
    let ring = KeyRing::load_or_create(&store).await.unwrap();
    ring.reload(&store, t0).await.unwrap();
    let before = signer_kids(&ring);
    let policy = numbat_jose::RotationPolicy { publish_ahead_s: 100, retire_after_s: 500 };
    let new = KeyRing::rotate(&store, &DEFAULT_ALGS, t0, policy).await.unwrap();
    assert_eq!(new.len(), 4);
    let jwks = kids(&published(&store).await);
    assert_eq!(jwks.len(), 8, "old and new keys published: {jwks:?}");
    ring.reload(&store, t0 + 100).await.unwrap();
    let after = signer_kids(&ring);
    assert_eq!(after.iter().map(|(a, _)| *a).collect::<Vec<_>>(), DEFAULT_ALGS.to_vec());
    assert_eq!(after.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>(), new);
    ring.reload(&store, t0 + 601).await.unwrap();
    let left = kids(&published(&store).await);
    assert!(before.iter().all(|(_, k)| !left.contains(k)), "retired keys left");
    assert_eq!(sorted(left), sorted(new));
}

/// OIDC `at_hash` for EdDSA (Ed25519) is the left half of SHA-512, as the OIDF suite,
/// node-oidc-provider and the `openidconnect` crate compute it; SHA-256 for the others.
#[test]
fn issue4_at_hash_follows_the_id_token_algorithm() {
    use numbat_jose::{left_half_hash, left_half_hash_for};
    let at = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    for alg in [Alg::ES256, Alg::RS256, Alg::PS256] {
        assert_eq!(left_half_hash_for(alg, at), left_half_hash(at));
    }
    let h = left_half_hash_for(Alg::EdDSA, at);
    let full = ring::digest::digest(&ring::digest::SHA512, at.as_bytes());
    assert_eq!(h, base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &full.as_ref()[..32]));
    assert_eq!(h.len(), 43);
}
