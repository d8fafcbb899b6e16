//! Client secrets for `client_secret_basic` / `client_secret_post` (issue 4 item 2).
//!
//! CAMARA consumers MUST use `private_key_jwt` (P-88); secrets exist only for clients an
//! operator configures for them explicitly, and only where `[clients_policy]
//! allow_client_secrets` is on. numbat keeps argon2id PHC strings, never a plain secret:
//! the admin API and the CLI accept (or generate) a secret once and store only its hash.
//! Hashing and verification are deliberately slow, so they run on the blocking pool, a few at a
//! time, never on the async workers.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// Shortest secret accepted from an operator (generated ones have 43 characters).
pub const MIN_SECRET_LEN: usize = 32;
pub const MAX_SECRET_LEN: usize = 512;
/// Longest PHC string accepted in configuration or the store.
const MAX_PHC_LEN: usize = 512;

/// At most this many argon2 computations at once: a flood of wrong secrets queues here instead
/// of taking every core.
static SLOTS: Semaphore = Semaphore::const_new(4);
/// How long a verification waits for a slot before the answer is "busy" (503), so a flood
/// cannot queue legitimate clients without bound.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// No argon2 slot became free within [`SLOT_WAIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A fresh random secret (256 bits, base64url).
pub fn generate() -> String {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("system RNG");
    numbat_jose::b64_encode(&b)
}

/// Is `secret` acceptable as a client secret?
pub fn check_secret(secret: &str) -> Result<(), String> {
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) {
        return Err(format!("client_secret must be {MIN_SECRET_LEN}..={MAX_SECRET_LEN} characters"));
    }
    if secret.chars().any(|c| c.is_control()) {
        return Err("client_secret must not contain control characters".into());
    }
    Ok(())
}

/// argon2id (the crate's defaults: OWASP's m=19 MiB, t=2, p=1) with a random salt. Slow: call
/// from blocking code or through [`hash_blocking`].
pub fn hash(secret: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt).map_err(|_| "system RNG")?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(secret.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// [`hash`] on the blocking pool.
pub async fn hash_blocking(secret: String) -> Result<String, String> {
    let _slot = SLOTS.acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || hash(&secret)).await.map_err(|e| e.to_string())?
}

/// Is `phc` a usable argon2 PHC string?
pub fn check_phc(phc: &str) -> Result<(), String> {
    if phc.len() > MAX_PHC_LEN {
        return Err("client_secret_hash is too long".into());
    }
    let h = PasswordHash::new(phc).map_err(|e| format!("client_secret_hash is not a PHC string: {e}"))?;
    if !matches!(h.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") {
        return Err("client_secret_hash must be an argon2 hash ($argon2id$...)".into());
    }
    if h.hash.is_none() {
        return Err("client_secret_hash has no hash".into());
    }
    Ok(())
}

/// Verify `secret` against `phc` on the blocking pool. Comparison of the derived hashes is
/// constant-time inside the argon2 crate. [`Busy`] when no slot frees up within [`SLOT_WAIT`].
pub async fn verify(phc: String, secret: String) -> Result<bool, Busy> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Ok(false);
    }
    let _slot = match tokio::time::timeout(SLOT_WAIT, SLOTS.acquire()).await {
        Ok(Ok(slot)) => slot,
        Ok(Err(_)) | Err(_) => return Err(Busy),
    };
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_never_hold_the_secret() {
        let s = generate();
        assert!(check_secret(&s).is_ok());
        let h = hash_blocking(s.clone()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains(&s));
        check_phc(&h).unwrap();
        assert_eq!(verify(h.clone(), s.clone()).await, Ok(true));
        assert_eq!(verify(h.clone(), format!("{s}x")).await, Ok(false));
        assert_eq!(verify(h, String::new()).await, Ok(false));
        assert_eq!(verify("not-a-phc".into(), s).await, Ok(false));
    }

    #[test]
    fn bad_inputs() {
        assert!(check_secret("short").is_err());
        assert!(check_secret(&"a".repeat(600)).is_err());
        assert!(check_secret(&format!("{}\n", "a".repeat(40))).is_err());
        assert!(check_phc("plain-text-secret").is_err());
        assert!(check_phc("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA").is_err());
    }
}
