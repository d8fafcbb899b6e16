//! The harness of `jws_mutation.rs`: deterministic randomness, case bookkeeping and the fixed
//! keys and tokens the mutations start from.
#![allow(dead_code)]

use crate::common::*;
use ring::signature::Ed25519KeyPair;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

// ---------------------------------------------------------------------------------------------
// Deterministic randomness and case bookkeeping
// ---------------------------------------------------------------------------------------------

/// xorshift64* (Vigna), seeded through splitmix64 so that neighbouring seeds diverge at once.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }
}

/// One element of an array literal that may itself draw from `rng` (evaluated first).
macro_rules! pick {
    ($rng:expr, [$($x:expr),* $(,)?]) => {{
        let xs = [$($x),*];
        let i = $rng.below(xs.len());
        xs.into_iter().nth(i).unwrap()
    }};
}

/// The seeds of one fuzz stream: `stream << 32 | i`, or only the seed in `NUMBAT_FUZZ_SEED` (when
/// it belongs to this stream).
pub fn seeds(stream: u32, n: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("NUMBAT_FUZZ_SEED") {
        let s = s.trim();
        let seed = match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse(),
        }
        .expect("NUMBAT_FUZZ_SEED: a decimal or 0x-hex u64");
        return if seed >> 32 == stream as u64 { vec![seed] } else { vec![] };
    }
    let scale: u64 = std::env::var("NUMBAT_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    (0..n * scale.max(1)).map(|i| ((stream as u64) << 32) | i).collect()
}

pub fn fuzzing_all() -> bool {
    std::env::var("NUMBAT_FUZZ_SEED").is_err()
}

/// Run one case; if it panics (a verifier panic or a failed assertion), name the seed and the
/// token before failing the test.
pub fn case<R>(what: &str, seed: u64, token: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => {
            let shown: String = token.chars().take(3000).collect();
            eprintln!(
                "{what}: case failed. Reproduce with NUMBAT_FUZZ_SEED={seed:#018x}\n  token ({} bytes): {shown:?}{}",
                token.len(),
                if shown.len() < token.len() { " …" } else { "" }
            );
            resume_unwind(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed keys and tokens
// ---------------------------------------------------------------------------------------------

/// P-256 key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, PKCS#8).
/// TEST KEY ONLY.
pub const EC_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1ESg4Hn1xZa7vj3V
u60CUPJr8uetheDhUKTIrbWw5cyhRANCAARj74vp2Gc3TDNrIyqCGw8IO9saRKOx
s73kxfT9wmuYfBnn1WcVRF2oEB3ZYFFqLNgxVwMK3flo3NQ8iKkmRgSW
-----END PRIVATE KEY-----
";

/// Ed25519 key (`openssl genpkey -algorithm ED25519`, PKCS#8 v1). TEST KEY ONLY.
pub const ED_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINQgTcGsU791vUkl9ixK5sMLVWVa2d/DDgqFd/O9JS89
-----END PRIVATE KEY-----
";

/// Tokens made once with `SigningKey::sign` (ES256 and PS256 signatures are randomised, so they
/// are fixed here for reproducible cases): `es` over [`claims_fixed`], `es` over `{}`, `ps` over
/// [`claims_fixed`].
pub const ES256_TOKEN: &str = concat!(
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVzIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL29wLmV4YW1wbGUiLCJleHAi",
    "OjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMCwiaXNzIjoiaHR0cHM6Ly9jbGllbnQuZXhhbXBsZS5vcmciLCJqdGkiOiIw",
    "YjFhNmM2ZS02ZjVlLTRjMmMtOWEzYi03ZTFkMmMzYjRhNTkiLCJuZXN0ZWQiOnsiYXJyYXkiOlsxLDIsM10sInVuaWNvZGUi",
    "OiLDvG7Dr2PDuGTDqSDinJMifSwic3ViIjoiczZCaGRSa3F0MyJ9.DXkicjC4XVzI_93PKpmRXSwtQJp3tiitGk7GBr2mRAB",
    "ljrzNZIuBwOEvgBGfo1pER6jMFQNKhgIuHNyViK4T7Q",
);
pub const ES256_EMPTY_TOKEN: &str = concat!(
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVzIiwidHlwIjoiSldUIn0.e30.lnWXsNjOOYrBOKC71QivWg36JDyPdBXuUPNfCr4B",
    "ZAa5xzRI6AlNzvjUXk9JGlpTjGLRego7GkOGo-fKdf87wA",
);
pub const PS256_TOKEN: &str = concat!(
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InBzIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL29wLmV4YW1wbGUiLCJleHAi",
    "OjQxMDI0NDQ4MDAsImlhdCI6MTcwMDAwMDAwMCwiaXNzIjoiaHR0cHM6Ly9jbGllbnQuZXhhbXBsZS5vcmciLCJqdGkiOiIw",
    "YjFhNmM2ZS02ZjVlLTRjMmMtOWEzYi03ZTFkMmMzYjRhNTkiLCJuZXN0ZWQiOnsiYXJyYXkiOlsxLDIsM10sInVuaWNvZGUi",
    "OiLDvG7Dr2PDuGTDqSDinJMifSwic3ViIjoiczZCaGRSa3F0MyJ9.JkAo0uH_shc9ix1kTGm4GXVhKvD9bLzfGw8Sc1-c-2_",
    "jn3Ou1Kv7Zun_P1J8Ydol45ERmLuaLxxBbuWJVaCsefXwGsPjZSm3hjYbKDUT9UZG-u_74uLMjAU_XuiWbC3PZXM1Deytmtd",
    "_ig2oLdd_o8ICzmTNo30pewCtHlZCJfb6iCg5sqTIq8lXNhhsvpozQZ5YQf95x0bNbY28NsmbCJs3CJhW31j2C6piFhrRHqC",
    "sI6je1gffc7xp7vrVELW0eFGlxNKmpO8UoyP2zgGciTam3tR0C6jEvMRB6HokCZRY-pXjftHZTZye8FJxp3duRIoCAyEP2hB",
    "gQYYdTDxhMQ",
);

/// Claims without a clock (`verify` checks signatures, not times).
pub fn claims_fixed() -> Value {
    json!({
        "iss": "https://client.example.org",
        "sub": "s6BhdRkqt3",
        "aud": "https://op.example",
        "exp": 4_102_444_800u64,
        "iat": 1_700_000_000u64,
        "jti": "0b1a6c6e-6f5e-4c2c-9a3b-7e1d2c3b4a59",
        "nested": {"array": [1, 2, 3], "unicode": "ünïcødé ✓"}
    })
}

pub fn claims_large() -> Value {
    json!({"sub": "+34600000005", "amr": ["nba"], "pad": "x".repeat(3000)})
}

pub struct Fixture {
    pub keys: KeySet,
    /// Validly signed tokens with the algorithm that signed them.
    pub legit: Vec<(String, Alg)>,
    /// Tokens that must never verify, even unchanged (alg none, HS256 keyed with public material).
    pub hostile: Vec<String>,
    /// For the validly re-signed stream: the Ed25519 key `ed` in the key set.
    pub ed: Ed25519KeyPair,
}

pub fn key(kid: &str, alg: Alg, pem: &str) -> SigningKey {
    SigningKey::from_pkcs8_pem(Some(kid.into()), alg, pem).unwrap()
}

pub fn fixture() -> Fixture {
    let es = key("es", Alg::ES256, EC_PEM);
    let ed = key("ed", Alg::EdDSA, ED_PEM);
    let rs = key("rs", Alg::RS256, RSA_PRIVATE_PEM);
    let ps = key("ps", Alg::PS256, RSA_PRIVATE_PEM);
    let keys =
        KeySet::from_jwks(&Jwks { keys: [&es, &ed, &rs, &ps].iter().map(|k| k.public_jwk()).collect() }).unwrap();
    let legit = vec![
        (ES256_TOKEN.to_owned(), Alg::ES256),
        (ES256_EMPTY_TOKEN.to_owned(), Alg::ES256),
        (PS256_TOKEN.to_owned(), Alg::PS256),
        // Ed25519 and RSASSA-PKCS1-v1_5 signatures are deterministic: signed here.
        (ed.sign("JWT", &claims_fixed()).unwrap(), Alg::EdDSA),
        (ed.sign("at+jwt", &claims_large()).unwrap(), Alg::EdDSA),
        (rs.sign("JWT", &claims_fixed()).unwrap(), Alg::RS256),
        (rs.sign("JWT", &json!({})).unwrap(), Alg::RS256),
    ];
    for (t, alg) in &legit {
        let v = verify(t, &keys, &Alg::ALL).unwrap_or_else(|e| panic!("seed token {alg:?} does not verify: {e:?}"));
        assert_eq!(v.alg, *alg);
    }
    let public_jwk = serde_json::to_vec(&es.public_jwk()).unwrap();
    let hs = |alg, secret: &[u8]| {
        jwt::encode(&jwt_header(alg, "es"), &claims_fixed(), &jwt::EncodingKey::from_secret(secret)).unwrap()
    };
    let hostile = vec![
        format!("{}.{}.", b64u_json(&json!({"alg": "none"})), b64u_json(&claims_fixed())),
        format!("{}.{}.{}", b64u_json(&json!({"alg": "none", "kid": "es"})), b64u_json(&claims_fixed()), b64u(b"x")),
        hs(jwt::Algorithm::HS256, &public_jwk),
        hs(jwt::Algorithm::HS512, &unb64u(es.public_jwk().x.as_deref().unwrap())),
    ];
    let ed_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pem_body(ED_PEM)).unwrap();
    Fixture { keys, legit, hostile, ed: ed_pair }
}

// ---------------------------------------------------------------------------------------------
// Character-level mutations of a compact JWS
// ---------------------------------------------------------------------------------------------

