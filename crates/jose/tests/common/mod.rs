//! Test material and helpers shared by the JWS test files.
#![allow(dead_code, unused_imports)]

pub use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
pub use base64::Engine;
pub use jsonwebtoken as jwt;
pub use numbat_jose::{
    decode_header, left_half_hash, verify, Alg, JoseError, Jwk, Jwks, KeySet, SigningKey, MAX_TOKEN_BYTES,
};
pub use ring::rand::SystemRandom;
pub use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED_SIGNING};
pub use serde_json::{json, Value};
pub use std::time::{SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Fixed test material, generated once with OpenSSL 3.0 when these tests were written:
//   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.pem
//   openssl pkey -in rsa2048.pem -pubout
//   openssl rsa -in rsa2048.pem -noout -modulus   (hex → base64url)
// TEST KEY ONLY. Never use it for anything else.
// ---------------------------------------------------------------------------------------------

pub const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
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

pub const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
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
pub const RSA_N: &str = "0VmNLb1K128z1lITtuEMLrZdY0An7sJ3y_OIGSNr5ZFXeTCdKspfqWc7V7Zjey1LO-sQvgl2eJv80TR34RgX8PoC0PtjpvDam2_xaxAZjTzfbWw_oCN7G8tC4B5IW6g0uhKzjTInGyLq6KrWIqWlJ30tQV-zgj1s9RkW0_EILuISeZR0Lg9GdLOJE5mNq6dI6T4G38AVOJsafkuc4k5f5wVKD6kRbpN971h9Q6BAzYgdrWAd8gZuZqJ7bCXtDz9XVIVwhaiMjoGTW13BouYHnDJ_bGNsJgvdlreA_dzMzaXN06iM4ooEZ3KFoQcr9vKt4cQm6MZ_-NzCQ5iPkouOEQ";
pub const RSA_E: &str = "AQAB";
/// RFC 7638 thumbprint of RSA_PRIVATE_PEM's public key, computed with Python's hashlib over
/// `{"e":"AQAB","kty":"RSA","n":"<RSA_N>"}`.
pub const RSA_THUMBPRINT: &str = "dTOHX5Wz01pMOrHhMcbdjGBBLyojkK_k0-wjMenp_rw";

/// `n` of a real 1024-bit RSA key (openssl genpkey ... rsa_keygen_bits:1024): too small.
pub const RSA1024_N: &str = "pTQSsUVHtjbK6kgsMAJM_MMVpLzV5z_Ro5zLSJ6_ybW0xrZ79biXRcxU4WJCMOCgrvGYyWdEGE9CSWMHAnsRaWP8LBzuUYo4bbTfrugwKFVhiaiQVyPM2o1uU2cumobManuWc5y2Xx8_zyOBSwg6MoDMkEUmOPWL0dtHR4r2IDU";

/// x, y of a real P-384 public key (openssl genpkey ... ec_paramgen_curve:P-384).
pub const P384_X: &str = "Hjw64fqc19xO0mBeZTTp-2rUpmpXtBYpmGQ1bqeMzPp56Xxlq5Pti3ssOGVhU5NR";
pub const P384_Y: &str = "34yq2HQ0iF9QP5-9lIvw6NwXVIuF6k4y7cWCyg9AzMwQk4fMeC9Q-xFV8f0yW0gy";

/// SubjectPublicKeyInfo prefix for an uncompressed P-256 point (checked against
/// `openssl pkey -pubout -outform DER`).
pub const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

/// Every member a published public JWK may carry.
pub const PUBLIC_MEMBERS: [&str; 9] = ["kty", "kid", "alg", "use", "crv", "x", "y", "n", "e"];
/// Members that only private or symmetric JWKs carry (RFC 7518 §6).
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

// ---------------------------------------------------------------------------------------------
// Helpers (independent of numbat: ring, base64 and serde_json directly)
// ---------------------------------------------------------------------------------------------

pub fn b64u(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

pub fn b64u_json(v: &Value) -> String {
    b64u(&serde_json::to_vec(v).unwrap())
}

pub fn unb64u(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

pub fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn claims() -> Value {
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

pub fn payload_json(v: &numbat_jose::Verified) -> Value {
    serde_json::from_slice(&v.payload).unwrap()
}

pub fn all_algs() -> &'static [Alg] {
    &Alg::ALL
}

/// An ES256 key held outside numbat (ring directly), to sign tokens with arbitrary headers.
pub struct RawEc {
    pub pkcs8: Vec<u8>,
    pub pair: EcdsaKeyPair,
    pub kid: String,
}

impl RawEc {
    pub fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pkcs8 = doc.as_ref().to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
        RawEc { pkcs8, pair, kid: kid.to_owned() }
    }

    pub fn point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub fn x(&self) -> String {
        b64u(&self.point()[1..33])
    }

    pub fn y(&self) -> String {
        b64u(&self.point()[33..65])
    }

    pub fn pem(&self) -> String {
        pem_wrap("PRIVATE KEY", &self.pkcs8)
    }

    pub fn public_pem(&self) -> String {
        let mut spki = hex(P256_SPKI_PREFIX);
        spki.extend_from_slice(self.point());
        pem_wrap("PUBLIC KEY", &spki)
    }

    pub fn jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": self.x(), "y": self.y(), "kid": self.kid, "use": "sig", "alg": "ES256"})
    }

    pub fn keyset(&self) -> KeySet {
        KeySet::from_jwks_value(&json!({"keys": [self.jwk()]})).unwrap()
    }

    pub fn sign_raw(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec()
    }

    /// A validly signed compact JWS with exactly this header and this (already encoded) payload.
    pub fn token(&self, header: &Value, payload_b64: &str) -> String {
        let input = format!("{}.{}", b64u_json(header), payload_b64);
        let sig = self.sign_raw(input.as_bytes());
        format!("{input}.{}", b64u(&sig))
    }

    pub fn es256_header(&self) -> Value {
        json!({"alg": "ES256", "typ": "JWT", "kid": self.kid})
    }
}

pub fn rsa_pkcs8() -> Vec<u8> {
    pem_body(RSA_PRIVATE_PEM)
}

/// (n, e) of the fixed RSA key, via ring on the PKCS#8 DER (not via numbat).
pub fn rsa_public_components() -> (String, String) {
    let pair = RsaKeyPair::from_pkcs8(&rsa_pkcs8()).unwrap();
    let c: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    (b64u(&c.n), b64u(&c.e))
}

pub fn rsa_jwk(kid: &str, alg: Option<&str>) -> Value {
    let (n, e) = rsa_public_components();
    let mut v = json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "use": "sig"});
    if let Some(a) = alg {
        v["alg"] = json!(a);
    }
    v
}

pub fn numbat_keyset(key: &SigningKey) -> KeySet {
    KeySet::from_jwks(&Jwks { keys: vec![key.public_jwk()] }).unwrap()
}

pub fn jwt_validation(alg: jwt::Algorithm) -> jwt::Validation {
    let mut v = jwt::Validation::new(alg);
    v.validate_aud = false;
    v
}

pub fn jwt_header(alg: jwt::Algorithm, kid: &str) -> jwt::Header {
    let mut h = jwt::Header::new(alg);
    h.kid = Some(kid.to_owned());
    h
}

/// Replace the header segment, keeping payload and signature.
pub fn with_header(token: &str, header: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", b64u_json(header), parts[1], parts[2])
}

pub fn with_signature(token: &str, sig: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], parts[1], sig)
}

pub fn assert_malformed(r: Result<numbat_jose::Verified, JoseError>, what: &str) {
    match r {
        Err(JoseError::Malformed(_)) => {}
        other => panic!("{what}: expected Malformed, got {other:?}"),
    }
}

