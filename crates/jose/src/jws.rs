//! Compact JWS parsing and verification (RFC 7515), with an allow-list per use.

use crate::{b64, Alg, JoseError, KeySet};
use serde::Deserialize;

/// Nothing numbat verifies is larger than this (assertions, request objects, access tokens).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
    /// Present at all (even `null`): numbat understands no critical extension (RFC 7515 §4.1.11).
    #[serde(default, deserialize_with = "present")]
    crit: Option<serde_json::Value>,
}

/// `Some` whenever the member is there, `null` included (a plain `Option` reads `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// A JWS whose signature verified: its header and raw payload (the caller parses its claims).
#[derive(Debug)]
pub struct Verified {
    pub header: Header,
    pub alg: Alg,
    pub payload: Vec<u8>,
}

fn split(token: &str) -> Result<(&str, &str, &str), JoseError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JoseError::Malformed("too large"));
    }
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !s.is_empty() => Ok((h, p, s)),
        _ => Err(JoseError::Malformed("not a compact JWS")),
    }
}

/// Read the protected header without verifying anything (to pick a client's keys first).
pub fn decode_header(token: &str) -> Result<Header, JoseError> {
    let (h, _, _) = split(token)?;
    let bytes = b64::decode(h)?;
    // The header must be a JSON object (RFC 7515 §5.2): serde's derived struct visitor would
    // also accept a JSON array, filling the fields by position.
    if bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) != Some(&b'{') {
        return Err(JoseError::Malformed("header"));
    }
    // RFC 7515 §5.2 step 4: UTF-8 JSON throughout (serde_json does not check the bytes of members
    // it skips).
    let text = std::str::from_utf8(&bytes).map_err(|_| JoseError::Malformed("header"))?;
    let header: Header = serde_json::from_str(text).map_err(|_| JoseError::Malformed("header"))?;
    if header.crit.is_some() {
        return Err(JoseError::Crit);
    }
    Ok(header)
}

/// Verify `token` with `keys`, accepting only algorithms in `allowed`.
pub fn verify(token: &str, keys: &KeySet, allowed: &[Alg]) -> Result<Verified, JoseError> {
    let (h, p, s) = split(token)?;
    let header = decode_header(token)?;
    let alg = Alg::parse(&header.alg).ok_or(JoseError::UnsupportedAlg)?;
    if !allowed.contains(&alg) {
        return Err(JoseError::AlgNotAllowed);
    }
    let sig = b64::decode(s)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    let mut tried = false;
    let mut ok = false;
    for key in keys.candidates(header.kid.as_deref(), alg).take(8) {
        tried = true;
        if key.verify(alg, signing_input.as_bytes(), &sig).is_ok() {
            ok = true;
            break;
        }
    }
    if ok {
        let payload = b64::decode(p)?;
        return Ok(Verified { header, alg, payload });
    }
    Err(if tried { JoseError::BadSignature } else { JoseError::UnknownKey })
}
