//! Integration tests for compact JWS sign/verify, JWKS hygiene and `left_half_hash`.
//!
//! `jsonwebtoken` is used as an independent implementation: it signs tokens the way a client
//! application would, and it checks that numbat's signatures verify outside numbat. Hostile
//! tokens that should be refused because of their *header* are signed validly (with ring
//! directly), so a refusal proves the header rule, not a bad signature, did the work.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken as jwt;
use numbat_jose::{
    decode_header, left_half_hash, verify, Alg, JoseError, Jwk, Jwks, KeySet, SigningKey, MAX_TOKEN_BYTES,
};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Fixed test material, generated once with OpenSSL 3.0 when these tests were written:
//   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.pem
//   openssl pkey -in rsa2048.pem -pubout
//   openssl rsa -in rsa2048.pem -noout -modulus   (hex → base64url)
// TEST KEY ONLY. Never use it for anything else.
// ---------------------------------------------------------------------------------------------

const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDRWY0tvUrXbzPW
UhO24Qwutl1jQCfuwnfL84gZI2vlkVd5MJ0qyl+pZztXtmN7LUs76xC+CXZ4m/zR
NHfhGBfw+gLQ+2Om8Nqbb/FrEBmNPN9tbD+gI3sby0LgHkhbqDS6ErONMicbIuro
qtYipaUnfS1BX7OCPWz1GRbT8Qgu4hJ5lHQuD0Z0s4kTmY2rp0jpPgbfwBU4mxp+
S5ziTl/nBUoPqRFuk33vWH1DoEDNiB2tYB3yBm5montsJe0PP1dUhXCFqIyOgZNb
XcGi5gecMn9sY2wmC92Wt4D93MzNpc3TqIziigRncoWhByv28q3hxCboxn/43MJD
mI+Si44RAgMBAAECggEAGCXbvoxonxwBHzYddwlTdensMMAcOxKsbdab+sZWskbH
D8AXSPHKAgjZ0/7CT9mEJZeyOTFvPG9FxL3oHAtC67Vy8LcmogGDPc22S7KyN9Pv
M7h6SFb/Ys/Z2W80ynnHBzWUB3PjBeLLtOXLyHhR6hGq0DEhTCMYt9bahrz1RC7z
H93H5x1RvT/U1j93WBDBiWqDIZy3MosxS4QaV6nnid6CeCUL3no9kq054Wjhothf
JDxvF7gp5+SDjhRHcqLaT+QIQbyL3cDUak+rryS2b6m3LaqF23g0irMFA25/ty2D
irGhoHwL62s+vjGiSL+38uwzdHbkY2uiVtnaF+OjRwKBgQDwTCwMLxUOx7CAmF8s
uV3JIGif1EHgXCd1sNOrD60NnLcsU2AsOzhJRzGeBXHiSZa02lNFcE9ZTgv8DZt0
thbeqh+5B1pm7QJbY5S/1oxpC5Mj/cmW7pmJnUdaN723npAw0qC+X4ZZtnc9nfY1
D+JCkhm3Tf9D4BK9rXue8jwkQwKBgQDfB6s6o0gCdIXvIYb15i1WVAyzsYC4C0pR
QFufIhXTdTFwMNRZfbgpmlMumaQHzBdn9Qw5m8PuB/81eTKxJGdXxldJEYnhfCeN
4LhuMDzH6vw4LtOwm/AZ3aZpktmSDc37aWVDJ5uR66WDdqaLo+S6IF5hSoqFN43u
5YTsXjcpGwKBgAiyeRWnzpdOWvEMksVHoEFbTu4Z/JhmPXdhAwg59QV9GpQcIGr5
abwdO4qAn/KUv0Okc0ccHYMZ9A0XYP0Eaid8+ND1lywKf/9Wx1d6KHLU3Gp9EQLJ
d/0nGCIHynIO5yEdPnwlcPNmS0KLqRGalZHbP9sGk6qdPZBn6wWBtvOJAoGAVPEW
xb5qLoUyfWDHhd+kZLyeGdIAtBeYtllMi87vgRmhOpleRrca7L1Z8OWTE2UnhPBP
N6GbfYyOJk+CfvTeZw+jLrD/UmF2rxJnK5AzlfBpHvy2owzA5RkFyC+lrXqUeKwr
ZOgw1+JnpyoJRCWndzvctjEtkI8X/2Rqu5smZwECgYBImb/twwDfm93QRddQzjk6
L1B5RAe6uhEczBclzijcnvQa0w8NjEZcm1TxoOFVkthGoGaz7kAJYha32PXqU8nu
f8cc33UcLNpSXpTeBbmMHocJdn4eXiXI8Km0hyjoqgPovoVq5lHYEb9Hn11C5tl9
vr3DTqVzv3t1TaJJ4XHjCQ==
-----END PRIVATE KEY-----
";

const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0VmNLb1K128z1lITtuEM
LrZdY0An7sJ3y/OIGSNr5ZFXeTCdKspfqWc7V7Zjey1LO+sQvgl2eJv80TR34RgX
8PoC0PtjpvDam2/xaxAZjTzfbWw/oCN7G8tC4B5IW6g0uhKzjTInGyLq6KrWIqWl
J30tQV+zgj1s9RkW0/EILuISeZR0Lg9GdLOJE5mNq6dI6T4G38AVOJsafkuc4k5f
5wVKD6kRbpN971h9Q6BAzYgdrWAd8gZuZqJ7bCXtDz9XVIVwhaiMjoGTW13BouYH
nDJ/bGNsJgvdlreA/dzMzaXN06iM4ooEZ3KFoQcr9vKt4cQm6MZ/+NzCQ5iPkouO
EQIDAQAB
-----END PUBLIC KEY-----
";

/// `n` of RSA_PRIVATE_PEM as printed by `openssl rsa -modulus`, base64url.
const RSA_N: &str = "0VmNLb1K128z1lITtuEMLrZdY0An7sJ3y_OIGSNr5ZFXeTCdKspfqWc7V7Zjey1LO-sQvgl2eJv80TR34RgX8PoC0PtjpvDam2_xaxAZjTzfbWw_oCN7G8tC4B5IW6g0uhKzjTInGyLq6KrWIqWlJ30tQV-zgj1s9RkW0_EILuISeZR0Lg9GdLOJE5mNq6dI6T4G38AVOJsafkuc4k5f5wVKD6kRbpN971h9Q6BAzYgdrWAd8gZuZqJ7bCXtDz9XVIVwhaiMjoGTW13BouYHnDJ_bGNsJgvdlreA_dzMzaXN06iM4ooEZ3KFoQcr9vKt4cQm6MZ_-NzCQ5iPkouOEQ";
const RSA_E: &str = "AQAB";
/// RFC 7638 thumbprint of RSA_PRIVATE_PEM's public key, computed with Python's hashlib over
/// `{"e":"AQAB","kty":"RSA","n":"<RSA_N>"}`.
const RSA_THUMBPRINT: &str = "dTOHX5Wz01pMOrHhMcbdjGBBLyojkK_k0-wjMenp_rw";

/// `n` of a real 1024-bit RSA key (openssl genpkey ... rsa_keygen_bits:1024): too small.
const RSA1024_N: &str = "pTQSsUVHtjbK6kgsMAJM_MMVpLzV5z_Ro5zLSJ6_ybW0xrZ79biXRcxU4WJCMOCgrvGYyWdEGE9CSWMHAnsRaWP8LBzuUYo4bbTfrugwKFVhiaiQVyPM2o1uU2cumobManuWc5y2Xx8_zyOBSwg6MoDMkEUmOPWL0dtHR4r2IDU";

/// x, y of a real P-384 public key (openssl genpkey ... ec_paramgen_curve:P-384).
const P384_X: &str = "Hjw64fqc19xO0mBeZTTp-2rUpmpXtBYpmGQ1bqeMzPp56Xxlq5Pti3ssOGVhU5NR";
const P384_Y: &str = "34yq2HQ0iF9QP5-9lIvw6NwXVIuF6k4y7cWCyg9AzMwQk4fMeC9Q-xFV8f0yW0gy";

/// SubjectPublicKeyInfo prefix for an uncompressed P-256 point (checked against
/// `openssl pkey -pubout -outform DER`).
const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

/// Every member a published public JWK may carry.
const PUBLIC_MEMBERS: [&str; 9] = ["kty", "kid", "alg", "use", "crv", "x", "y", "n", "e"];
/// Members that only private or symmetric JWKs carry (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

// ---------------------------------------------------------------------------------------------
// Helpers (independent of numbat: ring, base64 and serde_json directly)
// ---------------------------------------------------------------------------------------------

fn b64u(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn b64u_json(v: &Value) -> String {
    b64u(&serde_json::to_vec(v).unwrap())
}

fn unb64u(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims() -> Value {
    json!({
        "iss": "https://client.example.org",
        "sub": "s6BhdRkqt3",
        "aud_hint": "numbat",
        "exp": now() + 600,
        "iat": now(),
        "jti": "0b1a6c6e-6f5e-4c2c-9a3b-7e1d2c3b4a59",
        "nested": {"array": [1, 2, 3], "unicode": "ünïcødé ✓"}
    })
}

fn payload_json(v: &numbat_jose::Verified) -> Value {
    serde_json::from_slice(&v.payload).unwrap()
}

fn all_algs() -> &'static [Alg] {
    &Alg::ALL
}

/// An ES256 key held outside numbat (ring directly), to sign tokens with arbitrary headers.
struct RawEc {
    pkcs8: Vec<u8>,
    pair: EcdsaKeyPair,
    kid: String,
}

impl RawEc {
    fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pkcs8 = doc.as_ref().to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
        RawEc { pkcs8, pair, kid: kid.to_owned() }
    }

    fn point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    fn x(&self) -> String {
        b64u(&self.point()[1..33])
    }

    fn y(&self) -> String {
        b64u(&self.point()[33..65])
    }

    fn pem(&self) -> String {
        pem_wrap("PRIVATE KEY", &self.pkcs8)
    }

    fn public_pem(&self) -> String {
        let mut spki = hex(P256_SPKI_PREFIX);
        spki.extend_from_slice(self.point());
        pem_wrap("PUBLIC KEY", &spki)
    }

    fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x(), "y": self.y(), "kid": self.kid, "use": "sig", "alg": "ES256"})
    }

    fn keyset(&self) -> KeySet {
        KeySet::from_jwks_value(&json!({"keys": [self.jwk()]})).unwrap()
    }

    fn sign_raw(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec()
    }

    /// A validly signed compact JWS with exactly this header and this (already encoded) payload.
    fn token(&self, header: &Value, payload_b64: &str) -> String {
        let input = format!("{}.{}", b64u_json(header), payload_b64);
        let sig = self.sign_raw(input.as_bytes());
        format!("{input}.{}", b64u(&sig))
    }

    fn es256_header(&self) -> Value {
        json!({"alg": "ES256", "typ": "JWT", "kid": self.kid})
    }
}

fn rsa_pkcs8() -> Vec<u8> {
    pem_body(RSA_PRIVATE_PEM)
}

/// (n, e) of the fixed RSA key, via ring on the PKCS#8 DER (not via numbat).
fn rsa_public_components() -> (String, String) {
    let pair = RsaKeyPair::from_pkcs8(&rsa_pkcs8()).unwrap();
    let c: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    (b64u(&c.n), b64u(&c.e))
}

fn rsa_jwk(kid: &str, alg: Option<&str>) -> Value {
    let (n, e) = rsa_public_components();
    let mut v = json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "use": "sig"});
    if let Some(a) = alg {
        v["alg"] = json!(a);
    }
    v
}

fn numbat_keyset(key: &SigningKey) -> KeySet {
    KeySet::from_jwks(&Jwks { keys: vec![key.public_jwk()] }).unwrap()
}

fn jwt_validation(alg: jwt::Algorithm) -> jwt::Validation {
    let mut v = jwt::Validation::new(alg);
    v.validate_aud = false;
    v
}

fn jwt_header(alg: jwt::Algorithm, kid: &str) -> jwt::Header {
    let mut h = jwt::Header::new(alg);
    h.kid = Some(kid.to_owned());
    h
}

/// Replace the header segment, keeping payload and signature.
fn with_header(token: &str, header: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", b64u_json(header), parts[1], parts[2])
}

fn with_signature(token: &str, sig: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], parts[1], sig)
}

fn assert_malformed(r: Result<numbat_jose::Verified, JoseError>, what: &str) {
    match r {
        Err(JoseError::Malformed(_)) => {}
        other => panic!("{what}: expected Malformed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips inside numbat
// ---------------------------------------------------------------------------------------------

#[test]
fn es256_generated_key_signs_and_verifies_with_its_public_jwk() {
    let key = SigningKey::generate_es256().unwrap();
    assert_eq!(key.alg(), Alg::ES256);
    let keys = KeySet::from_jwks(&Jwks { keys: vec![key.public_jwk()] }).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();

    let v = verify(&token, &keys, &[Alg::ES256]).unwrap();
    assert_eq!(v.alg, Alg::ES256);
    assert_eq!(v.header.alg, "ES256");
    assert_eq!(v.header.kid.as_deref(), Some(key.kid()));
    assert_eq!(v.header.typ.as_deref(), Some("JWT"));
    assert_eq!(payload_json(&v), claims);
    // The payload bytes are exactly the signed segment.
    assert_eq!(b64u(&v.payload), token.split('.').nth(1).unwrap());
    // ES256 signatures are the fixed 64-byte r||s form (RFC 7518 §3.4), not DER.
    assert_eq!(unb64u(token.split('.').nth(2).unwrap()).len(), 64);
}

#[test]
fn eddsa_generated_key_signs_and_verifies_with_its_public_jwk() {
    let key = SigningKey::generate_ed25519().unwrap();
    assert_eq!(key.alg(), Alg::EdDSA);
    let keys = KeySet::from_jwks(&Jwks { keys: vec![key.public_jwk()] }).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();

    let v = verify(&token, &keys, &[Alg::EdDSA]).unwrap();
    assert_eq!(v.alg, Alg::EdDSA);
    assert_eq!(v.header.kid.as_deref(), Some(key.kid()));
    assert_eq!(payload_json(&v), claims);
    assert_eq!(unb64u(token.split('.').nth(2).unwrap()).len(), 64);
}

#[test]
fn round_trip_through_serialized_jwks_and_from_jwks_value() {
    // What a verifier does with a JWKS it fetched: JSON text → KeySet::from_jwks_value.
    let es = SigningKey::generate_es256().unwrap();
    let ed = SigningKey::generate_ed25519().unwrap();
    let rs = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let ps = SigningKey::from_pkcs8_pem(Some("ps".into()), Alg::PS256, RSA_PRIVATE_PEM).unwrap();
    let jwks = Jwks { keys: vec![es.public_jwk(), ed.public_jwk(), rs.public_jwk(), ps.public_jwk()] };
    let text = serde_json::to_string(&jwks).unwrap();
    let keys = KeySet::from_jwks_value(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(keys.len(), 4);
    for k in [&es, &ed, &rs, &ps] {
        assert!(keys.has_kid(k.kid()));
        let t = k.sign("JWT", &json!({"who": k.kid()})).unwrap();
        let v = verify(&t, &keys, all_algs()).unwrap();
        assert_eq!(v.alg, k.alg());
        assert_eq!(payload_json(&v), json!({"who": k.kid()}));
    }
}

#[test]
fn token_without_kid_verifies_against_keys_of_the_right_type() {
    let ec = RawEc::new("only");
    let t = ec.token(&json!({"alg": "ES256"}), &b64u_json(&json!({"a": 1})));
    let v = verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap();
    assert_eq!(v.header.kid, None);
    // ... but a key of another party, still without kid, does not verify it.
    let other = RawEc::new("other");
    assert_eq!(verify(&t, &other.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn empty_payload_round_trips() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), "");
    let v = verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap();
    assert!(v.payload.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Interop with jsonwebtoken
// ---------------------------------------------------------------------------------------------

#[test]
fn jsonwebtoken_es256_token_from_ring_pkcs8_pem_verifies_in_numbat() {
    let ec = RawEc::new("client-es256");
    let pem = ec.pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let claims = claims();
    let token = jwt::encode(
        &jwt_header(jwt::Algorithm::ES256, &ec.kid),
        &claims,
        &jwt::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();

    let v = verify(&token, &ec.keyset(), &[Alg::ES256]).unwrap();
    assert_eq!(v.alg, Alg::ES256);
    assert_eq!(v.header.kid.as_deref(), Some("client-es256"));
    assert_eq!(payload_json(&v), claims);
}

#[test]
fn jsonwebtoken_rs256_token_verifies_in_numbat() {
    let claims = claims();
    let token = jwt::encode(
        &jwt_header(jwt::Algorithm::RS256, "client-rsa"),
        &claims,
        &jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    // RSA JWK without `alg`: serves RS256 and PS256.
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", None)]})).unwrap();
    let v = verify(&token, &keys, &[Alg::RS256]).unwrap();
    assert_eq!(v.alg, Alg::RS256);
    assert_eq!(payload_json(&v), claims);
    // Pinned to RS256 works too.
    let pinned = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", Some("RS256"))]})).unwrap();
    assert!(verify(&token, &pinned, &[Alg::RS256]).is_ok());
}

#[test]
fn jsonwebtoken_ps256_token_verifies_in_numbat() {
    let claims = claims();
    let token = jwt::encode(
        &jwt_header(jwt::Algorithm::PS256, "client-rsa"),
        &claims,
        &jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", None)]})).unwrap();
    let v = verify(&token, &keys, &[Alg::PS256]).unwrap();
    assert_eq!(v.alg, Alg::PS256);
    assert_eq!(payload_json(&v), claims);
    let pinned = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("client-rsa", Some("PS256"))]})).unwrap();
    assert!(verify(&token, &pinned, &[Alg::PS256]).is_ok());
}

#[test]
fn jsonwebtoken_eddsa_token_verifies_in_numbat() {
    let rng = SystemRandom::new();
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let token =
        jwt::encode(&jwt_header(jwt::Algorithm::EdDSA, "ed"), &claims(), &jwt::EncodingKey::from_ed_der(doc.as_ref()))
            .unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(pair.public_key().as_ref()), "kid": "ed"});
    let keys = KeySet::from_jwks_value(&json!({"keys": [jwk]})).unwrap();
    assert_eq!(verify(&token, &keys, &[Alg::EdDSA]).unwrap().alg, Alg::EdDSA);
}

#[test]
fn numbat_es256_token_verifies_in_jsonwebtoken_from_ec_components() {
    let key = SigningKey::generate_es256().unwrap();
    let jwk = key.public_jwk();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();

    let dk = jwt::DecodingKey::from_ec_components(jwk.x.as_deref().unwrap(), jwk.y.as_deref().unwrap()).unwrap();
    let data = jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::ES256)).unwrap();
    assert_eq!(data.claims, claims);
    assert_eq!(data.header.alg, jwt::Algorithm::ES256);
    assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
}

#[test]
fn numbat_public_jwks_parse_in_jsonwebtoken_and_verify_numbat_tokens() {
    // jsonwebtoken's own JWK parser accepts numbat's published JWKs (format check).
    let es = SigningKey::generate_es256().unwrap();
    let ed = SigningKey::generate_ed25519().unwrap();
    let rs = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let text = serde_json::to_string(&Jwks { keys: vec![es.public_jwk(), ed.public_jwk(), rs.public_jwk()] }).unwrap();
    let set: jwt::jwk::JwkSet = serde_json::from_str(&text).unwrap();
    for (key, alg) in [(&es, jwt::Algorithm::ES256), (&ed, jwt::Algorithm::EdDSA), (&rs, jwt::Algorithm::RS256)] {
        let jwk = set.find(key.kid()).expect("kid in jsonwebtoken's view of the JWKS");
        let dk = jwt::DecodingKey::from_jwk(jwk).unwrap();
        let token = key.sign("JWT", &claims()).unwrap();
        jwt::decode::<Value>(&token, &dk, &jwt_validation(alg)).unwrap();
    }
}

#[test]
fn numbat_eddsa_token_verifies_in_jsonwebtoken() {
    let key = SigningKey::generate_ed25519().unwrap();
    let jwk = key.public_jwk();
    let token = key.sign("JWT", &claims()).unwrap();
    let dk = jwt::DecodingKey::from_ed_components(jwk.x.as_deref().unwrap()).unwrap();
    jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::EdDSA)).unwrap();
}

#[test]
fn from_pkcs8_pem_loads_rsa_key_and_public_jwk_matches_openssl() {
    let key = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let jwk = key.public_jwk();
    assert_eq!(jwk.kty, "RSA");
    assert_eq!(jwk.n.as_deref(), Some(RSA_N));
    assert_eq!(jwk.e.as_deref(), Some(RSA_E));
    // Without an explicit kid, the kid is the RFC 7638 thumbprint.
    assert_eq!(key.kid(), RSA_THUMBPRINT);
    assert_eq!(key.thumbprint(), RSA_THUMBPRINT);
    assert_eq!(key.pkcs8_der(), rsa_pkcs8().as_slice());
}

#[test]
fn from_pkcs8_pem_loads_ec_key_with_explicit_or_thumbprint_kid() {
    let ec = RawEc::new("unused");
    let named = SigningKey::from_pkcs8_pem(Some("my-kid".into()), Alg::ES256, &ec.pem()).unwrap();
    assert_eq!(named.kid(), "my-kid");
    let jwk = named.public_jwk();
    assert_eq!(jwk.x.as_deref(), Some(ec.x().as_str()));
    assert_eq!(jwk.y.as_deref(), Some(ec.y().as_str()));

    let anon = SigningKey::from_pkcs8_pem(None, Alg::ES256, &ec.pem()).unwrap();
    let canon = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, ec.x(), ec.y());
    let expected = b64u(ring::digest::digest(&ring::digest::SHA256, canon.as_bytes()).as_ref());
    assert_eq!(anon.kid(), expected);

    // A token signed by the PEM-loaded numbat key verifies with the independent JWK.
    let mut jwk = ec.jwk();
    jwk["kid"] = json!("my-kid");
    let keys = KeySet::from_jwks_value(&json!({"keys": [jwk]})).unwrap();
    verify(&named.sign("JWT", &claims()).unwrap(), &keys, &[Alg::ES256]).unwrap();
}

#[test]
fn from_pkcs8_pem_refuses_garbage_and_mismatched_key_types() {
    let ec = RawEc::new("k");
    let cases: Vec<(Alg, String)> = vec![
        (Alg::ES256, String::new()),
        (Alg::ES256, "not a pem at all".into()),
        (Alg::ES256, "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".into()),
        (Alg::ES256, RSA_PRIVATE_PEM.into()),
        (Alg::EdDSA, RSA_PRIVATE_PEM.into()),
        (Alg::RS256, ec.pem()),
        (Alg::PS256, ec.pem()),
        (Alg::RS256, RSA_PUBLIC_PEM.into()),
    ];
    for (alg, pem) in cases {
        match SigningKey::from_pkcs8_pem(None, alg, &pem) {
            Err(JoseError::KeyRejected(_)) => {}
            other => panic!("{alg:?} with {pem:?}: expected KeyRejected, got {other:?}"),
        }
    }
}

#[test]
fn numbat_rs256_token_from_pem_key_verifies_in_jsonwebtoken() {
    let key = SigningKey::from_pkcs8_pem(Some("rsa-1".into()), Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();
    let jwk = key.public_jwk();
    for dk in [
        jwt::DecodingKey::from_rsa_components(jwk.n.as_deref().unwrap(), jwk.e.as_deref().unwrap()).unwrap(),
        jwt::DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap(),
    ] {
        let data = jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::RS256)).unwrap();
        assert_eq!(data.claims, claims);
        assert_eq!(data.header.kid.as_deref(), Some("rsa-1"));
    }
    // RS256 (PKCS#1 v1.5) is deterministic: over numbat's own signing input, jsonwebtoken
    // computes the very same signature.
    let (h, p) = {
        let mut it = token.split('.');
        (it.next().unwrap(), it.next().unwrap())
    };
    let input = format!("{h}.{p}");
    let expected = jwt::crypto::sign(
        input.as_bytes(),
        &jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap(),
        jwt::Algorithm::RS256,
    )
    .unwrap();
    assert_eq!(token.split('.').nth(2).unwrap(), expected);
}

#[test]
fn numbat_ps256_token_from_pem_key_verifies_in_jsonwebtoken() {
    let key = SigningKey::from_pkcs8_pem(Some("rsa-pss".into()), Alg::PS256, RSA_PRIVATE_PEM).unwrap();
    let claims = claims();
    let token = key.sign("JWT", &claims).unwrap();
    let dk = jwt::DecodingKey::from_rsa_components(RSA_N, RSA_E).unwrap();
    let data = jwt::decode::<Value>(&token, &dk, &jwt_validation(jwt::Algorithm::PS256)).unwrap();
    assert_eq!(data.claims, claims);
    assert_eq!(data.header.alg, jwt::Algorithm::PS256);
    // And it is really PSS: an RS256 verifier refuses it.
    let mut as_rs = jwt_validation(jwt::Algorithm::RS256);
    as_rs.algorithms = vec![jwt::Algorithm::RS256];
    let forged = with_header(&token, &json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-pss"}));
    assert!(jwt::decode::<Value>(&forged, &dk, &as_rs).is_err());
}

// ---------------------------------------------------------------------------------------------
// Hostile tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn alg_none_with_empty_signature_is_refused() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    for header in
        [json!({"alg": "none"}), json!({"alg": "none", "kid": "k"}), json!({"alg": "None"}), json!({"alg": "NONE"})]
    {
        let t = format!("{}.{}.", b64u_json(&header), b64u_json(&claims()));
        let r = verify(&t, &keys, all_algs());
        assert!(r.is_err(), "{header}: alg none must never verify");
        assert!(matches!(r, Err(JoseError::Malformed(_))), "{header}: {r:?}");
    }
}

#[test]
fn alg_none_with_bogus_signature_is_refused() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    for header in [json!({"alg": "none"}), json!({"alg": "none", "kid": "k"})] {
        let t = format!("{}.{}.{}", b64u_json(&header), b64u_json(&claims()), b64u(b"bogus-signature"));
        assert_eq!(verify(&t, &keys, all_algs()).unwrap_err(), JoseError::UnsupportedAlg);
        // Even an ES256-length bogus signature.
        let t = format!("{}.{}.{}", b64u_json(&header), b64u_json(&claims()), b64u(&[7u8; 64]));
        assert_eq!(verify(&t, &keys, all_algs()).unwrap_err(), JoseError::UnsupportedAlg);
    }
}

/// Sign an HS256 token with `secret` (as an attacker holding only public material would).
fn hs256(kid: &str, secret: &[u8]) -> String {
    jwt::encode(&jwt_header(jwt::Algorithm::HS256, kid), &claims(), &jwt::EncodingKey::from_secret(secret)).unwrap()
}

#[test]
fn hs256_key_confusion_with_ec_public_key_material_never_verifies() {
    let ec = RawEc::new("ec-1");
    let keys = ec.keyset();
    let jwk_json = serde_json::to_vec(&ec.jwk()).unwrap();
    let jwks_json = serde_json::to_vec(&json!({"keys": [ec.jwk()]})).unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("jwk json", jwk_json),
        ("jwks json", jwks_json),
        ("uncompressed point", ec.point().to_vec()),
        ("x||y", ec.point()[1..].to_vec()),
        ("public pem", ec.public_pem().into_bytes()),
        ("public pem der", pem_body(&ec.public_pem())),
        ("x b64url", ec.x().into_bytes()),
    ];
    for (what, secret) in secrets {
        let t = hs256("ec-1", &secret);
        for allowed in [all_algs(), &[Alg::ES256][..]] {
            let r = verify(&t, &keys, allowed);
            assert!(r.is_err(), "HS256 with {what} as secret verified: {r:?}");
            assert_eq!(r.unwrap_err(), JoseError::UnsupportedAlg, "{what}");
        }
        // Relabelled as ES256 (keeping the HMAC bytes) it is just a bad signature.
        let relabelled = with_header(&t, &json!({"alg": "ES256", "kid": "ec-1"}));
        assert!(verify(&relabelled, &keys, all_algs()).is_err(), "{what}");
    }
}

#[test]
fn hs256_key_confusion_with_rsa_public_key_material_never_verifies() {
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("rsa-1", None)]})).unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("jwk json", serde_json::to_vec(&rsa_jwk("rsa-1", None)).unwrap()),
        ("public pem", RSA_PUBLIC_PEM.as_bytes().to_vec()),
        ("public pem without trailing newline", RSA_PUBLIC_PEM.trim_end().as_bytes().to_vec()),
        ("spki der", pem_body(RSA_PUBLIC_PEM)),
        ("modulus", unb64u(RSA_N)),
    ];
    for (what, secret) in secrets {
        for alg in [jwt::Algorithm::HS256, jwt::Algorithm::HS384, jwt::Algorithm::HS512] {
            let t = jwt::encode(&jwt_header(alg, "rsa-1"), &claims(), &jwt::EncodingKey::from_secret(&secret)).unwrap();
            let r = verify(&t, &keys, all_algs());
            assert!(r.is_err(), "{alg:?} with {what} as secret verified: {r:?}");
            assert_eq!(r.unwrap_err(), JoseError::UnsupportedAlg, "{alg:?} {what}");
        }
    }
}

#[test]
fn alg_outside_the_allow_list_is_alg_not_allowed() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &claims()).unwrap();
    assert_eq!(verify(&t, &keys, &[Alg::RS256]).unwrap_err(), JoseError::AlgNotAllowed);
    assert_eq!(verify(&t, &keys, &[Alg::RS256, Alg::PS256, Alg::EdDSA]).unwrap_err(), JoseError::AlgNotAllowed);
    assert_eq!(verify(&t, &keys, &[]).unwrap_err(), JoseError::AlgNotAllowed);
    assert!(verify(&t, &keys, &[Alg::RS256, Alg::ES256]).is_ok());
}

#[test]
fn unsupported_algorithms_are_refused() {
    let ec = RawEc::new("k");
    for alg in ["ES384", "ES512", "RS384", "RS512", "PS384", "HS256", "es256", "ES256 ", "", "ES256K", "Ed25519"] {
        let t = ec.token(&json!({"alg": alg, "kid": "k"}), &b64u_json(&claims()));
        assert_eq!(verify(&t, &ec.keyset(), all_algs()).unwrap_err(), JoseError::UnsupportedAlg, "{alg:?}");
    }
}

#[test]
fn unknown_kid_is_unknown_key() {
    let key = SigningKey::generate_es256().unwrap();
    let ec = RawEc::new("known");
    let t = key.sign("JWT", &claims()).unwrap();
    assert_eq!(verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::UnknownKey);
    // Empty key set.
    assert_eq!(verify(&t, &KeySet::default(), &[Alg::ES256]).unwrap_err(), JoseError::UnknownKey);
}

#[test]
fn kid_of_a_key_of_another_type_is_refused() {
    // The key set holds an EC key "ec" and an RSA key "rsa". A token signed with the RSA key
    // but naming the EC key's kid must not verify, nor one naming the RSA kid with ES256.
    let ec = RawEc::new("ec");
    let keys = KeySet::from_jwks_value(&json!({"keys": [ec.jwk(), rsa_jwk("rsa", None)]})).unwrap();
    let rsa_enc = jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();

    let rs_with_ec_kid = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "ec"), &claims(), &rsa_enc).unwrap();
    let r = verify(&rs_with_ec_kid, &keys, all_algs());
    assert_eq!(r.unwrap_err(), JoseError::UnknownKey);

    let ps_with_ec_kid = jwt::encode(&jwt_header(jwt::Algorithm::PS256, "ec"), &claims(), &rsa_enc).unwrap();
    assert_eq!(verify(&ps_with_ec_kid, &keys, all_algs()).unwrap_err(), JoseError::UnknownKey);

    let es_with_rsa_kid = ec.token(&json!({"alg": "ES256", "kid": "rsa"}), &b64u_json(&claims()));
    assert_eq!(verify(&es_with_rsa_kid, &keys, all_algs()).unwrap_err(), JoseError::UnknownKey);

    let ed_with_ec_kid = with_header(&es_with_rsa_kid, &json!({"alg": "EdDSA", "kid": "ec"}));
    assert_eq!(verify(&ed_with_ec_kid, &keys, all_algs()).unwrap_err(), JoseError::UnknownKey);

    // Sanity: with the right kids they verify.
    let good = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "rsa"), &claims(), &rsa_enc).unwrap();
    assert!(verify(&good, &keys, all_algs()).is_ok());
}

#[test]
fn rsa_key_pinned_to_one_alg_refuses_the_other() {
    let rsa_enc = jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    let pinned_rs = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("r", Some("RS256"))]})).unwrap();
    let ps = jwt::encode(&jwt_header(jwt::Algorithm::PS256, "r"), &claims(), &rsa_enc).unwrap();
    assert_eq!(verify(&ps, &pinned_rs, all_algs()).unwrap_err(), JoseError::UnknownKey);

    let pinned_ps = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("r", Some("PS256"))]})).unwrap();
    let rs = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "r"), &claims(), &rsa_enc).unwrap();
    assert_eq!(verify(&rs, &pinned_ps, all_algs()).unwrap_err(), JoseError::UnknownKey);
}

#[test]
fn rs256_signature_relabelled_as_ps256_is_bad_signature() {
    let keys = KeySet::from_jwks_value(&json!({"keys": [rsa_jwk("r", None)]})).unwrap();
    let rsa_enc = jwt::EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).unwrap();
    let rs = jwt::encode(&jwt_header(jwt::Algorithm::RS256, "r"), &claims(), &rsa_enc).unwrap();
    let parts: Vec<&str> = rs.split('.').collect();
    // Re-sign nothing: swap the header to PS256; the signature (over the old input) must fail.
    let relabelled = format!("{}.{}.{}", b64u_json(&json!({"alg": "PS256", "kid": "r"})), parts[1], parts[2]);
    assert_eq!(verify(&relabelled, &keys, all_algs()).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn tampered_payload_is_bad_signature() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &json!({"sub": "alice", "admin": false})).unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let evil = b64u_json(&json!({"sub": "alice", "admin": true}));
    let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
    assert_eq!(verify(&tampered, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Dropping the payload.
    let dropped = format!("{}..{}", parts[0], parts[2]);
    assert_eq!(verify(&dropped, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);

    let ed = SigningKey::generate_ed25519().unwrap();
    let t = ed.sign("JWT", &json!({"sub": "alice"})).unwrap();
    let parts: Vec<&str> = t.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64u_json(&json!({"sub": "mallory"})), parts[2]);
    assert_eq!(verify(&tampered, &numbat_keyset(&ed), &[Alg::EdDSA]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn tampered_header_is_refused() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &claims()).unwrap();
    // Same alg and kid, different typ: signing input changed.
    let tampered = with_header(&t, &json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid()}));
    assert_eq!(verify(&tampered, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Same members, reordered (raw bytes; `json!` would sort them back): a different signing
    // input, so the signature no longer matches.
    let original = decode_header(&t).unwrap();
    assert_eq!(original.kid.as_deref(), Some(key.kid()));
    let parts: Vec<&str> = t.split('.').collect();
    let raw = format!(r#"{{"typ":"JWT","kid":"{}","alg":"ES256"}}"#, key.kid());
    assert_ne!(b64u(raw.as_bytes()), parts[0]);
    let reordered = format!("{}.{}.{}", b64u(raw.as_bytes()), parts[1], parts[2]);
    assert_eq!(verify(&reordered, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Header with an extra embedded key.
    let extra =
        with_header(&t, &json!({"alg": "ES256", "typ": "JWT", "kid": key.kid(), "jku": "https://evil.example/jwks"}));
    assert_eq!(verify(&extra, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
    // Kid changed to one that does not exist.
    let other_kid = with_header(&t, &json!({"alg": "ES256", "typ": "JWT", "kid": "nope"}));
    assert_eq!(verify(&other_kid, &keys, &[Alg::ES256]).unwrap_err(), JoseError::UnknownKey);
}

#[test]
fn embedded_jwk_header_is_ignored() {
    // The attacker signs with their own key and embeds its public JWK in the header.
    let legit = RawEc::new("legit");
    let attacker = RawEc::new("legit");
    let header = json!({"alg": "ES256", "kid": "legit", "jwk": attacker.jwk(), "jku": "https://evil.example/jwks", "x5u": "https://evil.example/cert"});
    let t = attacker.token(&header, &b64u_json(&claims()));
    assert_eq!(verify(&t, &legit.keyset(), all_algs()).unwrap_err(), JoseError::BadSignature);
    let no_kid = attacker.token(&json!({"alg": "ES256", "jwk": attacker.jwk()}), &b64u_json(&claims()));
    assert_eq!(verify(&no_kid, &legit.keyset(), all_algs()).unwrap_err(), JoseError::BadSignature);
    // Sanity: the attacker's token is valid for the attacker's own key.
    assert!(verify(&t, &attacker.keyset(), all_algs()).is_ok());
}

#[test]
fn signature_of_the_wrong_length_is_bad_signature() {
    let key = SigningKey::generate_es256().unwrap();
    let keys = numbat_keyset(&key);
    let t = key.sign("JWT", &claims()).unwrap();
    let sig = unb64u(t.split('.').nth(2).unwrap());
    assert_eq!(sig.len(), 64);

    let mut longer = sig.clone();
    longer.push(0);
    let mut zero_prefixed = vec![0u8];
    zero_prefixed.extend_from_slice(&sig);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated by one", sig[..63].to_vec()),
        ("half", sig[..32].to_vec()),
        ("one byte", vec![sig[0]]),
        ("extended by one", longer),
        ("zero prefixed", zero_prefixed),
        ("doubled", [sig.clone(), sig.clone()].concat()),
        ("der-ish", {
            let mut der = vec![0x30, 0x44, 0x02, 0x20];
            der.extend_from_slice(&sig[..32]);
            der.extend_from_slice(&[0x02, 0x20]);
            der.extend_from_slice(&sig[32..]);
            der
        }),
    ];
    for (what, s) in cases {
        let bad = with_signature(&t, &b64u(&s));
        assert_eq!(verify(&bad, &keys, &[Alg::ES256]).unwrap_err(), JoseError::BadSignature, "{what}");
    }

    let ed = SigningKey::generate_ed25519().unwrap();
    let t = ed.sign("JWT", &claims()).unwrap();
    let sig = unb64u(t.split('.').nth(2).unwrap());
    let bad = with_signature(&t, &b64u(&sig[..63]));
    assert_eq!(verify(&bad, &numbat_keyset(&ed), &[Alg::EdDSA]).unwrap_err(), JoseError::BadSignature);

    let rs = SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap();
    let t = rs.sign("JWT", &claims()).unwrap();
    let sig = unb64u(t.split('.').nth(2).unwrap());
    assert_eq!(sig.len(), 256);
    let bad = with_signature(&t, &b64u(&sig[..255]));
    assert_eq!(verify(&bad, &numbat_keyset(&rs), &[Alg::RS256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn ecdsa_zero_signature_is_bad_signature() {
    // CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
    let key = SigningKey::generate_es256().unwrap();
    let t = key.sign("JWT", &claims()).unwrap();
    let bad = with_signature(&t, &b64u(&[0u8; 64]));
    assert_eq!(verify(&bad, &numbat_keyset(&key), &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn signature_from_another_key_with_the_same_kid_is_bad_signature() {
    let legit = RawEc::new("same");
    let other = RawEc::new("same");
    let t = other.token(&other.es256_header(), &b64u_json(&claims()));
    assert_eq!(verify(&t, &legit.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::BadSignature);
}

#[test]
fn crit_header_is_refused() {
    let ec = RawEc::new("k");
    let payload = b64u_json(&claims());
    for header in [
        json!({"alg": "ES256", "kid": "k", "crit": ["exp"], "exp": 1}),
        json!({"alg": "ES256", "kid": "k", "crit": ["b64"], "b64": false}),
        json!({"alg": "ES256", "kid": "k", "crit": []}),
        json!({"alg": "ES256", "kid": "k", "crit": "exp"}),
    ] {
        let t = ec.token(&header, &payload);
        assert_eq!(verify(&t, &ec.keyset(), &[Alg::ES256]).unwrap_err(), JoseError::Crit, "{header}");
        assert_eq!(decode_header(&t).unwrap_err(), JoseError::Crit, "{header}");
    }
    // Sanity: the same token without crit verifies.
    assert!(verify(&ec.token(&ec.es256_header(), &payload), &ec.keyset(), &[Alg::ES256]).is_ok());
}

#[test]
fn jwe_shaped_five_part_token_is_malformed() {
    let ec = RawEc::new("k");
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        b64u_json(&json!({"alg": "RSA-OAEP", "enc": "A256GCM"})),
        b64u(&[1u8; 256]),
        b64u(&[2u8; 12]),
        b64u(b"ciphertext"),
        b64u(&[3u8; 16])
    );
    assert_malformed(verify(&jwe, &ec.keyset(), all_algs()), "JWE");
    assert!(matches!(decode_header(&jwe), Err(JoseError::Malformed(_))));
    // A valid JWS with extra segments appended.
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    assert_malformed(verify(&format!("{t}.{}", b64u(b"x")), &ec.keyset(), all_algs()), "JWS + 1 segment");
    assert_malformed(verify(&format!("{t}.x.y"), &ec.keyset(), all_algs()), "JWS + 2 segments");
}

#[test]
fn two_part_token_is_malformed() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let two = t.rsplit_once('.').unwrap().0.to_owned();
    assert_eq!(two.matches('.').count(), 1);
    assert_malformed(verify(&two, &ec.keyset(), all_algs()), "two parts");
    assert_malformed(verify(&format!("{two}."), &ec.keyset(), all_algs()), "empty signature");
    assert_malformed(verify(t.split('.').next().unwrap(), &ec.keyset(), all_algs()), "one part");
}

#[test]
fn empty_string_and_dots_only_are_malformed() {
    let keys = RawEc::new("k").keyset();
    for t in ["", ".", "..", "...", "....", " ", "\n"] {
        assert_malformed(verify(t, &keys, all_algs()), &format!("{t:?}"));
    }
}

#[test]
fn four_dots_are_malformed() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let parts: Vec<&str> = t.split('.').collect();
    for s in [
        format!("{}.{}.{}..", parts[0], parts[1], parts[2]),
        format!("{}..{}.{}.", parts[0], parts[1], parts[2]),
        format!("{}.{}..{}.", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[1], parts[2]),
    ] {
        assert_eq!(s.matches('.').count(), 4);
        assert_malformed(verify(&s, &ec.keyset(), all_algs()), &s);
    }
}

#[test]
fn non_base64url_characters_are_malformed() {
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let parts: Vec<&str> = t.split('.').collect();
    // In the header.
    for bad in ["+", "/", "!", " ", "%", "\u{e9}", "\0"] {
        let s = format!("{}{bad}.{}.{}", parts[0], parts[1], parts[2]);
        assert_malformed(verify(&s, &ec.keyset(), all_algs()), &format!("header + {bad:?}"));
    }
    // In the signature.
    for bad in ["+", "/", "*", " "] {
        let s = format!("{}.{}.{}{bad}", parts[0], parts[1], &parts[2][..parts[2].len() - 1]);
        assert_malformed(verify(&s, &ec.keyset(), all_algs()), &format!("signature + {bad:?}"));
    }
    // Standard (not url-safe) alphabet header: sign a header whose base64 has '+' or '/'.
    // `{"alg":"ES256","kid":"k?>"}` style: find one whose standard encoding differs.
    let mut found = false;
    for i in 0..200u32 {
        let header = json!({"alg": "ES256", "kid": "k", "n": format!("~~~{i}???")});
        let bytes = serde_json::to_vec(&header).unwrap();
        let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        if std.contains('+') || std.contains('/') {
            let input = format!("{std}.{}", b64u_json(&claims()));
            let s = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
            assert_malformed(verify(&s, &ec.keyset(), all_algs()), "standard base64 alphabet in header");
            found = true;
            break;
        }
    }
    assert!(found);
}

#[test]
fn base64_padding_is_malformed() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    // Pick a header and payload whose lengths are not multiples of 3, so padding appears.
    let mut header = ec.es256_header();
    while !URL_SAFE.encode(serde_json::to_vec(&header).unwrap()).ends_with('=') {
        header["typ"] = json!(format!("{}x", header["typ"].as_str().unwrap()));
    }
    let header_padded = URL_SAFE.encode(serde_json::to_vec(&header).unwrap());
    assert!(header_padded.ends_with('='));
    let mut payload = claims();
    while !URL_SAFE.encode(serde_json::to_vec(&payload).unwrap()).ends_with('=') {
        payload["pad"] = json!(format!("{}x", payload["pad"].as_str().unwrap_or("")));
    }
    let payload_padded = URL_SAFE.encode(serde_json::to_vec(&payload).unwrap());
    assert!(payload_padded.ends_with('='));

    // Padded header, validly signed over the padded form.
    let input = format!("{header_padded}.{}", b64u_json(&payload));
    let t = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
    assert_malformed(verify(&t, &keys, all_algs()), "padded header");

    // Padded payload, validly signed over the padded form: the signature verifies, the payload
    // does not decode.
    let t = ec.token(&header, &payload_padded);
    assert_malformed(verify(&t, &keys, all_algs()), "padded payload");

    // Padded signature (ES256: 64 bytes → 86 chars + "==").
    let t = ec.token(&header, &b64u_json(&payload));
    let sig = unb64u(t.split('.').nth(2).unwrap());
    let padded_sig = URL_SAFE.encode(&sig);
    assert!(padded_sig.ends_with("=="));
    assert_malformed(verify(&with_signature(&t, &padded_sig), &keys, all_algs()), "padded signature");
    // Sanity: unpadded, it verifies.
    assert!(verify(&t, &keys, all_algs()).is_ok());
}

#[test]
fn non_canonical_base64url_trailing_bits_are_malformed() {
    // 64-byte signature → 86 chars; the last char carries 2 unused bits. Flipping them gives a
    // different string for the same bytes: strict decoders refuse it.
    let ec = RawEc::new("k");
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    let sig = t.split('.').nth(2).unwrap();
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let tweaked = alphabet.chars().nth(idx ^ 1).unwrap();
    let s = with_signature(&t, &format!("{}{tweaked}", &sig[..sig.len() - 1]));
    assert_malformed(verify(&s, &ec.keyset(), all_algs()), "non-canonical trailing bits");
}

#[test]
fn oversized_token_is_malformed_even_when_validly_signed() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    let big = json!({"sub": "x", "blob": "a".repeat(MAX_TOKEN_BYTES)});
    let t = ec.token(&ec.es256_header(), &b64u_json(&big));
    assert!(t.len() > MAX_TOKEN_BYTES);
    match verify(&t, &keys, all_algs()) {
        Err(JoseError::Malformed(m)) => assert!(m.contains("large"), "{m}"),
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(matches!(decode_header(&t), Err(JoseError::Malformed(_))));
    // A megabyte of garbage is refused before anything else.
    assert_malformed(verify(&"A".repeat(1 << 20), &keys, all_algs()), "1 MiB");
}

#[test]
fn token_of_exactly_max_token_bytes_is_accepted_and_one_more_is_not() {
    let ec = RawEc::new("k");
    let keys = ec.keyset();
    let h = b64u_json(&ec.es256_header());
    // ES256 signature: 86 chars. Find a payload whose encoded length fills the token exactly.
    let target_payload_b64 = MAX_TOKEN_BYTES - h.len() - 2 - 86;
    let mut exact = None;
    for n in target_payload_b64.saturating_sub(64) * 3 / 4..target_payload_b64 * 3 / 4 + 8 {
        let p = b64u_json(&json!({"pad": "b".repeat(n)}));
        if p.len() == target_payload_b64 {
            exact = Some(p);
            break;
        }
    }
    let p = exact.expect("a payload of the exact length");
    let t = ec.token(&ec.es256_header(), &p);
    assert_eq!(t.len(), MAX_TOKEN_BYTES);
    assert!(verify(&t, &keys, all_algs()).is_ok());

    // A slightly longer header (a longer typ) tips it over.
    let header = ec.es256_header();
    let mut over = None;
    for extra in 0..8 {
        let mut hh = header.clone();
        hh["typ"] = json!(format!("JWT{}", "x".repeat(extra + 1)));
        let t = ec.token(&hh, &p);
        if t.len() > MAX_TOKEN_BYTES {
            over = Some(t);
            break;
        }
    }
    assert_malformed(verify(&over.unwrap(), &keys, all_algs()), "one over");
}

#[test]
fn header_that_is_not_json_is_malformed() {
    let ec = RawEc::new("k");
    let payload = b64u_json(&claims());
    for raw in [
        &b"not json"[..],
        b"",
        b"{",
        b"{\"alg\":\"ES256\"",
        b"{\"alg\":\"ES256\"} trailing",
        b"\xff\xfe",
        b"null",
        b"\"ES256\"",
        b"42",
        // A JSON array is not a JOSE header, even though a derived serde struct would accept
        // it positionally (alg, kid, typ, crit).
        b"[\"ES256\"]",
        b"[\"ES256\",\"k\",\"JWT\"]",
        b" [\"ES256\",\"k\"]",
    ] {
        // (An empty header segment is refused by the splitter before anything is decoded.)
        let input = format!("{}.{payload}", b64u(raw));
        let t = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
        assert_malformed(verify(&t, &ec.keyset(), all_algs()), &format!("{raw:?}"));
    }
}

#[test]
fn header_json_without_alg_is_malformed() {
    let ec = RawEc::new("k");
    let payload = b64u_json(&claims());
    for header in [
        json!({}),
        json!({"kid": "k"}),
        json!({"typ": "JWT", "kid": "k"}),
        json!({"ALG": "ES256", "kid": "k"}),
        json!({"alg": null, "kid": "k"}),
        json!({"alg": 7, "kid": "k"}),
        json!({"alg": ["ES256"], "kid": "k"}),
        json!({"alg": "ES256", "kid": 7}),
    ] {
        let t = ec.token(&header, &payload);
        assert_malformed(verify(&t, &ec.keyset(), all_algs()), &header.to_string());
    }
}

#[test]
fn header_with_duplicate_alg_is_malformed() {
    // {"alg":"HS256","alg":"ES256"}: parsers disagreeing on which one wins is how confusion starts.
    let ec = RawEc::new("k");
    for raw in [
        r#"{"alg":"HS256","alg":"ES256","kid":"k"}"#,
        r#"{"alg":"ES256","alg":"ES256","kid":"k"}"#,
        r#"{"alg":"ES256","kid":"k","kid":"other"}"#,
    ] {
        let input = format!("{}.{}", b64u(raw.as_bytes()), b64u_json(&claims()));
        let t = format!("{input}.{}", b64u(&ec.sign_raw(input.as_bytes())));
        assert_malformed(verify(&t, &ec.keyset(), all_algs()), raw);
    }
}

#[test]
fn decode_header_reads_without_verifying() {
    let key = SigningKey::generate_es256().unwrap();
    let t = key.sign("client-authentication+jwt", &claims()).unwrap();
    let h = decode_header(&t).unwrap();
    assert_eq!(h.alg, "ES256");
    assert_eq!(h.kid.as_deref(), Some(key.kid()));
    assert_eq!(h.typ.as_deref(), Some("client-authentication+jwt"));
    // Also for tokens with bad signatures: it does not verify anything.
    assert!(decode_header(&with_signature(&t, "AAAA")).is_ok());
}

#[test]
fn invalid_curve_point_never_verifies() {
    // A JWK whose x/y is not on P-256: either refused at load or never verifies.
    let ec = RawEc::new("k");
    let mut y = unb64u(&ec.y());
    y[31] ^= 1;
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": ec.x(), "y": b64u(&y), "kid": "k"});
    let t = ec.token(&ec.es256_header(), &b64u_json(&claims()));
    if let Ok(keys) = KeySet::from_jwks_value(&json!({"keys": [jwk]})) {
        assert!(verify(&t, &keys, all_algs()).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// JWKS hygiene
// ---------------------------------------------------------------------------------------------

fn assert_rejected(v: Value, what: &str) {
    match KeySet::from_jwks_value(&v) {
        Err(JoseError::KeyRejected(_)) => {}
        other => panic!("{what}: expected KeyRejected, got {other:?}"),
    }
}

#[test]
fn jwks_refuses_private_ec_key_with_d() {
    let ec = RawEc::new("k");
    let mut jwk = ec.jwk();
    jwk["d"] = json!(b64u(&[1u8; 32]));
    assert_rejected(json!({"keys": [jwk]}), "EC with d");
    // Also when it is the second key.
    let mut jwk2 = RawEc::new("k2").jwk();
    jwk2["d"] = json!("");
    assert_rejected(json!({"keys": [ec.jwk(), jwk2]}), "second EC with empty d");
    // Also an OKP private key.
    assert_rejected(
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64u(&[9u8; 32]), "d": b64u(&[1u8; 32])}]}),
        "OKP with d",
    );
}

#[test]
fn jwks_refuses_oct_keys() {
    assert_rejected(json!({"keys": [{"kty": "oct", "k": b64u(b"secret"), "kid": "h", "alg": "HS256"}]}), "oct with k");
    assert_rejected(json!({"keys": [{"kty": "oct", "kid": "h"}]}), "oct without k");
    // `k` is refused whatever kty claims to be.
    let mut jwk = RawEc::new("k").jwk();
    jwk["k"] = json!(b64u(b"secret"));
    assert_rejected(json!({"keys": [jwk]}), "EC with k");
}

#[test]
fn jwks_refuses_rsa_private_members() {
    for member in ["p", "q", "d", "dp", "dq", "qi"] {
        let mut jwk = rsa_jwk("r", None);
        jwk[member] = json!(b64u(&[5u8; 128]));
        assert_rejected(json!({"keys": [jwk]}), &format!("RSA with {member}"));
    }
    let mut both = rsa_jwk("r", None);
    both["p"] = json!(b64u(&[5u8; 128]));
    both["q"] = json!(b64u(&[6u8; 128]));
    assert_rejected(json!({"keys": [both]}), "RSA with p and q");
}

#[test]
fn jwks_refuses_rsa_under_2048_bits() {
    assert_rejected(json!({"keys": [{"kty": "RSA", "n": RSA1024_N, "e": "AQAB", "kid": "small"}]}), "RSA 1024");
    // 2040 bits (255 bytes).
    let n = unb64u(RSA_N);
    assert_rejected(json!({"keys": [{"kty": "RSA", "n": b64u(&n[1..]), "e": "AQAB"}]}), "RSA 2040");
    // Sanity: the 2048-bit key is accepted.
    assert!(KeySet::from_jwks_value(&json!({"keys": [{"kty": "RSA", "n": RSA_N, "e": "AQAB"}]})).is_ok());
}

#[test]
fn jwks_refuses_ec_keys_on_other_curves() {
    assert_rejected(json!({"keys": [{"kty": "EC", "crv": "P-384", "x": P384_X, "y": P384_Y, "kid": "p384"}]}), "P-384");
    let ec = RawEc::new("k");
    for crv in ["P-521", "secp256k1", "p-256", "", "Ed25519"] {
        let mut jwk = ec.jwk();
        jwk["crv"] = json!(crv);
        assert_rejected(json!({"keys": [jwk]}), crv);
    }
    let mut no_crv = ec.jwk();
    no_crv.as_object_mut().unwrap().remove("crv");
    assert_rejected(json!({"keys": [no_crv]}), "EC without crv");
    // P-256 coordinates of the wrong length.
    let mut short = ec.jwk();
    short["x"] = json!(b64u(&unb64u(&ec.x())[1..]));
    assert_rejected(json!({"keys": [short]}), "31-byte x");
}

#[test]
fn jwks_refuses_use_enc() {
    let mut jwk = RawEc::new("k").jwk();
    jwk["use"] = json!("enc");
    assert_rejected(json!({"keys": [jwk]}), "EC use=enc");
    let mut rsa = rsa_jwk("r", None);
    rsa["use"] = json!("enc");
    assert_rejected(json!({"keys": [rsa]}), "RSA use=enc");
    let mut weird = RawEc::new("k").jwk();
    weird["use"] = json!("SIG");
    assert_rejected(json!({"keys": [weird]}), "use=SIG");
}

#[test]
fn jwks_refuses_alg_that_does_not_fit_kty() {
    let ec = RawEc::new("k");
    for alg in ["RS256", "PS256", "EdDSA"] {
        let mut jwk = ec.jwk();
        jwk["alg"] = json!(alg);
        assert_rejected(json!({"keys": [jwk]}), &format!("EC with {alg}"));
    }
    for alg in ["ES256", "EdDSA"] {
        assert_rejected(json!({"keys": [rsa_jwk("r", Some(alg))]}), &format!("RSA with {alg}"));
    }
    let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(&[9u8; 32]), "alg": "ES256"});
    assert_rejected(json!({"keys": [okp]}), "OKP with ES256");
    // Algorithms numbat does not support at all.
    for alg in ["ES384", "HS256", "none", "RSA-OAEP"] {
        let mut jwk = ec.jwk();
        jwk["alg"] = json!(alg);
        assert_rejected(json!({"keys": [jwk]}), &format!("EC with {alg}"));
    }
}

#[test]
fn jwks_refuses_more_than_32_keys() {
    let keys: Vec<Value> = (0..33).map(|i| RawEc::new(&format!("k{i}")).jwk()).collect();
    assert_rejected(json!({"keys": keys}), "33 keys");
    let keys: Vec<Value> = (0..32).map(|i| RawEc::new(&format!("k{i}")).jwk()).collect();
    assert_eq!(KeySet::from_jwks_value(&json!({"keys": keys})).unwrap().len(), 32);
}

#[test]
fn jwks_refuses_missing_or_wrongly_typed_keys() {
    let ec = RawEc::new("k");
    for v in [
        json!({}),
        json!({"key": [ec.jwk()]}),
        json!({"keys": ec.jwk()}),
        json!({"keys": null}),
        json!({"keys": "[]"}),
        json!([ec.jwk()]),
        json!(null),
        json!({"keys": [42]}),
        json!({"keys": [{"kty": "EC"}]}),
        json!({"keys": [{"crv": "P-256", "x": ec.x(), "y": ec.y()}]}),
        json!({"keys": [{"kty": "RSA", "n": RSA_N}]}),
    ] {
        assert_rejected(v.clone(), &v.to_string());
    }
    // An empty set is a valid (useless) JWKS.
    assert!(KeySet::from_jwks_value(&json!({"keys": []})).unwrap().is_empty());
}

#[test]
fn public_jwk_of_every_numbat_key_has_kid_use_sig_alg_and_no_private_member() {
    let keys = vec![
        SigningKey::generate_es256().unwrap(),
        SigningKey::generate_ed25519().unwrap(),
        SigningKey::from_pkcs8_pem(None, Alg::RS256, RSA_PRIVATE_PEM).unwrap(),
        SigningKey::from_pkcs8_pem(Some("ps".into()), Alg::PS256, RSA_PRIVATE_PEM).unwrap(),
        SigningKey::from_pkcs8_pem(None, Alg::ES256, &RawEc::new("x").pem()).unwrap(),
    ];
    for key in &keys {
        let v = serde_json::to_value(key.public_jwk()).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.get("kid").and_then(Value::as_str), Some(key.kid()), "{v}");
        assert!(!key.kid().is_empty());
        assert_eq!(obj.get("use").and_then(Value::as_str), Some("sig"), "{v}");
        assert_eq!(obj.get("alg").and_then(Value::as_str), Some(key.alg().as_str()), "{v}");
        for m in PRIVATE_MEMBERS {
            assert!(!obj.contains_key(m), "private member {m} in {v}");
        }
        for m in obj.keys() {
            assert!(PUBLIC_MEMBERS.contains(&m.as_str()), "unexpected member {m} in {v}");
        }
        let expected: &[&str] = match key.alg() {
            Alg::ES256 => &["kty", "kid", "alg", "use", "crv", "x", "y"],
            Alg::EdDSA => &["kty", "kid", "alg", "use", "crv", "x"],
            Alg::RS256 | Alg::PS256 => &["kty", "kid", "alg", "use", "n", "e"],
        };
        let mut got: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want = expected.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{v}");
        // The private key bytes appear nowhere in the published JSON.
        let text = serde_json::to_string(&key.public_jwk()).unwrap();
        assert!(!text.contains(&b64u(key.pkcs8_der())));
        // It is accepted by numbat's own strict JWKS parser.
        KeySet::from_jwks_value(&json!({"keys": [v]})).unwrap();
    }
}

#[test]
fn jwk_type_has_no_private_members_when_deserialized() {
    // Deserializing a private JWK into `Jwk` drops the private members (they are not
    // representable), so re-serialization never republishes them.
    let mut v = RawEc::new("k").jwk();
    v["d"] = json!(b64u(&[1u8; 32]));
    let jwk: Jwk = serde_json::from_value(v).unwrap();
    let out = serde_json::to_value(&jwk).unwrap();
    assert!(out.get("d").is_none());
}

// ---------------------------------------------------------------------------------------------
// left_half_hash (OIDC at_hash / c_hash)
// ---------------------------------------------------------------------------------------------

fn independent_left_half(value: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

#[test]
fn left_half_hash_matches_oidc_at_hash_example() {
    // OpenID Connect Core 1.0, Appendix A.4 (RS256 → SHA-256). Checked independently when
    // writing this test: sha256(value)[..16] → base64url = 77QmUPtjPfzWtF2AnpK9RQ (Python
    // hashlib and `openssl dgst -sha256` agree).
    let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    assert_eq!(independent_left_half(access_token), "77QmUPtjPfzWtF2AnpK9RQ");
    assert_eq!(left_half_hash(access_token), "77QmUPtjPfzWtF2AnpK9RQ");
}

#[test]
fn left_half_hash_matches_oidc_c_hash_example() {
    // OpenID Connect Core 1.0, Appendix A.4: code → c_hash (checked with Python hashlib).
    let code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
    assert_eq!(left_half_hash(code), "LDktKdoQak3Pk0cnXxCltA");
}

#[test]
fn left_half_hash_is_16_bytes_of_sha256_base64url() {
    for v in ["", "a", "ünïcødé", "x".repeat(1000).as_str()] {
        let h = left_half_hash(v);
        assert_eq!(h, independent_left_half(v));
        assert_eq!(h.len(), 22);
        assert_eq!(unb64u(&h).len(), 16);
    }
}
