use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// base64url without padding (RFC 7515 §2).
pub fn encode(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// Strict base64url without padding; anything else is an error.
pub fn decode(s: &str) -> Result<Vec<u8>, crate::JoseError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| crate::JoseError::Malformed("base64url"))
}
