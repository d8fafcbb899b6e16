//! Unit tests of the identity-assertion verifier (issue 6 item 5).

use super::*;
use numbat_core::handoff::request_binding;
use numbat_core::ManualClock;
use numbat_jose::{b64_encode, Jwks, SigningKey};
use numbat_store::{MemoryStore, RateDecision, Store, StoreError};
use serde_json::{json, Value};

const AUD: &str = "https://id.example";

struct Fixture {
    edge: SigningKey,
    edge_next: SigningKey,
    other: SigningKey,
    clock: Arc<ManualClock>,
    verifier: AssertionVerifier,
}

fn keyset(keys: &[&SigningKey]) -> KeySet {
    KeySet::from_jwks(&Jwks { keys: keys.iter().map(|k| k.public_jwk()).collect() }).unwrap()
}

fn fixture_with(store: SharedStore) -> Fixture {
    let (edge, edge_next, other) = (
        SigningKey::generate_es256().unwrap(),
        SigningKey::generate_ed25519().unwrap(),
        SigningKey::generate_es256().unwrap(),
    );
    let clock = Arc::new(ManualClock::default());
    let trusted = vec![
        TrustedIngress { id: "edge-1".into(), keys: keyset(&[&edge, &edge_next]) },
        TrustedIngress { id: "edge-2".into(), keys: keyset(&[&other]) },
    ];
    let cfg = AssertionConfig { audience: AUD.into(), lifetime_s: 30, clock_skew_s: 5 };
    let verifier = AssertionVerifier::new(cfg, trusted, store, clock.clone()).unwrap();
    Fixture { edge, edge_next, other, clock, verifier }
}

fn fixture() -> Fixture {
    fixture_with(Arc::new(MemoryStore::new()))
}

fn req() -> String {
    request_binding("GET", "/authorize", "client_id=demo-app&state=s", b"")
}

fn claims(now: i64) -> Value {
    json!({
        "iss": "edge-1", "aud": AUD, "iat": now, "exp": now + 30, "jti": random(),
        "req_hash": req(), "outcome": "identified", "sub": "tel:+34600000001", "amr": ["nba"], "auth_time": now,
    })
}

fn random() -> String {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
    b64_encode(&b)
}

fn sign(k: &SigningKey, c: &Value) -> String {
    k.sign(ASSERTION_TYP, c).unwrap()
}

/// A JWS with an arbitrary header and signature part.
fn raw(header: &Value, c: &Value, sig: &str) -> String {
    format!("{}.{}.{sig}", b64_encode(header.to_string().as_bytes()), b64_encode(c.to_string().as_bytes()))
}

async fn check(f: &Fixture, token: &str) -> Result<IdentityOutcome, Rejection> {
    f.verifier.check(token, &req()).await
}

#[tokio::test]
async fn valid_assertion_identifies_once() {
    let f = fixture();
    let t = sign(&f.edge, &claims(f.clock.now()));
    match check(&f, &t).await {
        Ok(IdentityOutcome::Identified(i)) => assert_eq!(i.msisdn.as_str(), "+34600000001"),
        other => panic!("{other:?}"),
    }
    assert_eq!(check(&f, &t).await, Err(Rejection::Replayed));
    assert_eq!(f.verifier.outcome(Some(&t), &req()).await, IdentityOutcome::NotIdentified);
    assert_eq!(f.verifier.outcome(None, &req()).await, IdentityOutcome::NotIdentified);
}

#[tokio::test]
async fn rotated_keys_of_one_ingress_both_verify() {
    let f = fixture();
    let t = sign(&f.edge_next, &claims(f.clock.now()));
    assert!(matches!(check(&f, &t).await, Ok(IdentityOutcome::Identified(_))));
}

#[tokio::test]
async fn unavailable_is_carried() {
    let f = fixture();
    let mut c = claims(f.clock.now());
    c["outcome"] = json!("unavailable");
    for k in ["sub", "amr", "auth_time"] {
        c.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(check(&f, &sign(&f.edge, &c)).await, Ok(IdentityOutcome::Unavailable));
}

#[tokio::test]
async fn forged_and_confused_signatures_are_refused() {
    let f = fixture();
    let now = f.clock.now();
    // A key nobody trusts, under its own kid and under the trusted kid.
    let stranger = SigningKey::generate_es256().unwrap();
    assert_eq!(check(&f, &sign(&stranger, &claims(now))).await, Err(Rejection::UnknownKey));
    let der = stranger.pkcs8_der().to_vec();
    let impostor = SigningKey::from_pkcs8(f.edge.kid().to_owned(), Alg::ES256, &der).unwrap();
    assert_eq!(check(&f, &sign(&impostor, &claims(now))).await, Err(Rejection::BadSignature));
    // alg none, with or without a signature part.
    let none = json!({"alg": "none", "typ": ASSERTION_TYP, "kid": f.edge.kid()});
    assert!(check(&f, &raw(&none, &claims(now), "")).await.is_err());
    assert_eq!(check(&f, &raw(&none, &claims(now), "AAAA")).await, Err(Rejection::AlgNotAllowed));
    // HS256 keyed with the public key (algorithm confusion).
    let hs = json!({"alg": "HS256", "typ": ASSERTION_TYP, "kid": f.edge.kid()});
    let input = raw(&hs, &claims(now), "x");
    let input = input.rsplit_once('.').unwrap().0;
    let secret = serde_json::to_vec(&f.edge.public_jwk()).unwrap();
    let mac = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret), input.as_bytes());
    assert_eq!(check(&f, &format!("{input}.{}", b64_encode(mac.as_ref()))).await, Err(Rejection::AlgNotAllowed));
    // Another JWT type signed by the right key (e.g. something else the ingress signs one day).
    let other_typ = f.edge.sign("JWT", &claims(now)).unwrap();
    assert_eq!(check(&f, &other_typ).await, Err(Rejection::WrongType));
    // Without kid.
    let no_kid = json!({"alg": "ES256", "typ": ASSERTION_TYP});
    assert_eq!(check(&f, &raw(&no_kid, &claims(now), "AAAA")).await, Err(Rejection::Malformed("no kid")));
    // Garbage and oversize.
    assert!(matches!(check(&f, "not-a-jwt").await, Err(Rejection::Malformed(_))));
    assert_eq!(check(&f, &"a".repeat(MAX_ASSERTION_BYTES + 1)).await, Err(Rejection::TooLarge));
}

#[tokio::test]
async fn issuer_must_be_the_ingress_whose_key_signed() {
    let f = fixture();
    // edge-2's key, claiming to be edge-1.
    assert_eq!(check(&f, &sign(&f.other, &claims(f.clock.now()))).await, Err(Rejection::WrongIssuer));
    let mut c = claims(f.clock.now());
    c["iss"] = json!("edge-2");
    assert!(matches!(check(&f, &sign(&f.other, &c)).await, Ok(IdentityOutcome::Identified(_))));
}

#[tokio::test]
async fn audience_time_window_and_lifetime() {
    let f = fixture();
    let now = f.clock.now();
    let mut c = claims(now);
    c["aud"] = json!("https://other.example");
    assert_eq!(check(&f, &sign(&f.edge, &c)).await, Err(Rejection::WrongAudience));
    let mut c = claims(now);
    c["aud"] = json!([AUD]);
    assert_eq!(check(&f, &sign(&f.edge, &c)).await, Err(Rejection::Malformed("claims")));

    let t = sign(&f.edge, &claims(now));
    f.clock.advance(36);
    assert_eq!(check(&f, &t).await, Err(Rejection::Expired));

    let now = f.clock.now();
    let mut c = claims(now + 10);
    c["auth_time"] = json!(now + 10);
    assert_eq!(check(&f, &sign(&f.edge, &c)).await, Err(Rejection::NotYetValid));
    let mut c = claims(now);
    c["exp"] = json!(now + 300);
    assert_eq!(check(&f, &sign(&f.edge, &c)).await, Err(Rejection::Lifetime));
    let mut c = claims(now);
    c["exp"] = json!(now);
    assert!(check(&f, &sign(&f.edge, &c)).await.is_err());
    // Within the skew: still fine.
    let c = claims(now - 33);
    assert!(matches!(check(&f, &sign(&f.edge, &c)).await, Ok(IdentityOutcome::Identified(_))));
}

#[tokio::test]
async fn bound_to_its_request() {
    let f = fixture();
    let t = sign(&f.edge, &claims(f.clock.now()));
    let other = request_binding("GET", "/authorize", "client_id=evil-app&state=s", b"");
    assert_eq!(f.verifier.check(&t, &other).await, Err(Rejection::RequestMismatch));
    // Refused before the jti is spent: the legitimate request still goes through.
    assert!(matches!(check(&f, &t).await, Ok(IdentityOutcome::Identified(_))));
}

#[tokio::test]
async fn identified_needs_a_network_identity() {
    let f = fixture();
    let now = f.clock.now();
    for (k, v) in [
        ("amr", json!(["sim"])),
        ("sub", json!("+34600000001")),
        ("sub", json!("tel:34600000001")),
        ("auth_time", json!(now + 3600)),
        ("auth_time", json!(0)),
    ] {
        let mut c = claims(now);
        c[k] = v;
        assert_eq!(check(&f, &sign(&f.edge, &c)).await, Err(Rejection::BadIdentity), "{k}");
    }
    let mut c = claims(now);
    c["jti"] = json!("");
    assert_eq!(check(&f, &sign(&f.edge, &c)).await, Err(Rejection::Malformed("jti")));
}

struct DownStore;

#[async_trait::async_trait]
impl Store for DownStore {
    async fn put(&self, _: &str, _: &[u8], _: Duration) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn delete(&self, _: &str) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn take(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn put_if_absent(&self, _: &str, _: &[u8], _: Duration) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn delete_if(&self, _: &str, _: &[u8]) -> Result<bool, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn rate_limit(&self, _: &str, _: u64, _: Duration) -> Result<RateDecision, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn store_failure_is_unavailable_not_a_guess() {
    let f = fixture_with(Arc::new(DownStore));
    let t = sign(&f.edge, &claims(f.clock.now()));
    assert_eq!(check(&f, &t).await, Err(Rejection::StoreUnavailable));
    assert_eq!(f.verifier.outcome(Some(&t), &req()).await, IdentityOutcome::Unavailable);
}

#[test]
fn trust_list_must_be_usable() {
    let store: SharedStore = Arc::new(MemoryStore::new());
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::default());
    let cfg = AssertionConfig { audience: AUD.into(), lifetime_s: 30, clock_skew_s: 5 };
    assert!(AssertionVerifier::new(cfg.clone(), vec![], store.clone(), clock.clone()).is_err());
    let k = SigningKey::generate_es256().unwrap();
    let two = vec![
        TrustedIngress { id: "a".into(), keys: keyset(&[&k]) },
        TrustedIngress { id: "a".into(), keys: keyset(&[&k]) },
    ];
    assert!(AssertionVerifier::new(cfg.clone(), two, store.clone(), clock.clone()).is_err());
    let long = AssertionConfig { lifetime_s: 31, ..cfg };
    assert!(AssertionVerifier::new(long, vec![TrustedIngress { id: "a".into(), keys: keyset(&[&k]) }], store, clock)
        .is_err());
}
