//! Number Verification proper: what each operation needs (scope), the request checks of step 5
//! of NVR-09 (media type 415, `Accept` 406, body 400), and the answers (NVM-01..05).
//!
//! The number compared against is always the one bound to the token (NVM-01), never taken from
//! the request. Both comparisons run in constant time over the compared bytes (`subtle`).

use crate::{Grant, NvError};
use numbat_core::msisdn::is_e164;
use numbat_core::scope::{NV_SHARE, NV_VERIFY};
use numbat_core::Msisdn;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// NVB-05 `[impl]`: request bodies larger than this are refused with 400 `INVALID_ARGUMENT`.
pub const MAX_BODY_BYTES: usize = 4096;

/// The two operations of the API (number-verification.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /verify` (`phoneNumberVerify`).
    Verify,
    /// `GET /device-phone-number` (`phoneNumberShare`).
    Share,
}

impl Operation {
    /// NVR-07: the scope each operation requires (current names only, NVS-01).
    pub fn scope(self) -> &'static str {
        match self {
            Operation::Verify => NV_VERIFY,
            Operation::Share => NV_SHARE,
        }
    }
}

/// The request body as the HTTP layer read it, within [`MAX_BODY_BYTES`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    Read(&'a [u8]),
    /// Over [`MAX_BODY_BYTES`] (NVB-05).
    TooLarge,
    /// The payload could not be read (broken transfer or content encoding).
    Unreadable,
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Read(b) => write!(f, "Read({} bytes)", b.len()),
            Body::TooLarge => f.write_str("TooLarge"),
            Body::Unreadable => f.write_str("Unreadable"),
        }
    }
}

/// A schema-valid `NumberVerificationRequestBody`: exactly one of the two properties.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyInput {
    /// `phoneNumber`, matching `^\+[1-9][0-9]{4,14}$`.
    PhoneNumber(String),
    /// `hashedPhoneNumber`, matching `^[a-fA-F0-9]{64}$`, normalised to lowercase.
    HashedPhoneNumber(String),
}

impl std::fmt::Debug for VerifyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VerifyInput::PhoneNumber(_) => "PhoneNumber(<redacted>)",
            VerifyInput::HashedPhoneNumber(_) => "HashedPhoneNumber(<redacted>)",
        })
    }
}

/// `NumberVerificationMatchResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MatchResponse {
    #[serde(rename = "devicePhoneNumberVerified")]
    pub device_phone_number_verified: bool,
}

/// `NumberVerificationShareResponse` (NVM-05). `Debug` does not print the number.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ShareResponse {
    #[serde(rename = "devicePhoneNumber")]
    pub device_phone_number: Msisdn,
}

impl std::fmt::Debug for ShareResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareResponse(<redacted>)")
    }
}

/// `POST /verify` after the token checks: 415 → 406 → 400 → the answer (NVR-09 step 5, 6).
pub fn verify(
    grant: &Grant,
    content_type: &[&[u8]],
    accept: &[&[u8]],
    body: Body<'_>,
) -> Result<MatchResponse, NvError> {
    let body_empty = matches!(body, Body::Read(b) if b.is_empty());
    check_content_type(content_type, body_empty)?;
    check_accept(accept)?;
    let bytes = match body {
        Body::Read(b) => b,
        Body::TooLarge => return Err(bad_body("body larger than 4 KiB")),
        Body::Unreadable => return Err(bad_body("body unreadable")),
    };
    let input = parse_verify_body(bytes)?;
    Ok(MatchResponse { device_phone_number_verified: matches(&input, &grant.msisdn) })
}

/// `GET /device-phone-number` after the token checks: 406 → the answer. A body is ignored (NVB-07).
pub fn share(grant: &Grant, accept: &[&[u8]]) -> Result<ShareResponse, NvError> {
    check_accept(accept)?;
    Ok(ShareResponse { device_phone_number: grant.msisdn.clone() })
}

fn bad_body(reason: &'static str) -> NvError {
    tracing::debug!(reason, "request body rejected");
    NvError::InvalidArgument
}

/// NVB-06: `Content-Type` must be `application/json` (essence compared case-insensitively;
/// parameters allowed, a `charset` other than UTF-8 is not, C-61). NV-06: a request with
/// neither a body nor a `Content-Type` is a missing body (400), not a media-type error.
pub fn check_content_type(values: &[&[u8]], body_empty: bool) -> Result<(), NvError> {
    let value = match values {
        [] if body_empty => return Ok(()),
        [one] => std::str::from_utf8(one).ok(),
        _ => None,
    };
    let ok = value.is_some_and(|v| {
        let mut parts = v.split(';');
        let essence = parts.next().unwrap_or("").trim_matches([' ', '\t']);
        essence.eq_ignore_ascii_case("application/json")
            && parts.all(|p| match p.split_once('=') {
                Some((k, v)) if k.trim_matches([' ', '\t']).eq_ignore_ascii_case("charset") => {
                    v.trim_matches([' ', '\t']).trim_matches('"').eq_ignore_ascii_case("utf-8")
                }
                _ => true,
            })
    });
    if ok {
        Ok(())
    } else {
        tracing::debug!(reason = "Content-Type is not application/json", "request rejected");
        Err(NvError::UnsupportedMediaType)
    }
}

/// How specifically a media range names `application/json`: 3 exact, 2 `application/*`,
/// 1 `*/*`, 0 not at all.
fn json_specificity(range: &str) -> u8 {
    match range.split_once('/') {
        Some((t, s)) if t.eq_ignore_ascii_case("application") && s.eq_ignore_ascii_case("json") => 3,
        Some((t, "*")) if t.eq_ignore_ascii_case("application") => 2,
        Some(("*", "*")) => 1,
        _ => 0,
    }
}

/// NVB-06: 406 when `Accept` rules JSON out. Absent or empty accepts anything; otherwise the
/// most specific range naming JSON decides (RFC 9110 §12.5.1), and `q=0` excludes it.
pub fn check_accept(values: &[&[u8]]) -> Result<(), NvError> {
    let mut any_range = false;
    let mut best: Option<(u8, f32)> = None;
    for raw in values {
        let Ok(value) = std::str::from_utf8(raw) else {
            return Err(not_acceptable());
        };
        for element in value.split(',') {
            let mut parts = element.split(';');
            let range = parts.next().unwrap_or("").trim_matches([' ', '\t']);
            if range.is_empty() {
                continue;
            }
            any_range = true;
            let spec = json_specificity(range);
            if spec == 0 {
                continue;
            }
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim_matches([' ', '\t']).eq_ignore_ascii_case("q"))
                .map(|(_, v)| v.trim_matches([' ', '\t']).parse::<f32>().unwrap_or(1.0))
                .unwrap_or(1.0);
            best = match best {
                Some((s, bq)) if s > spec || (s == spec && bq >= q) => Some((s, bq)),
                _ => Some((spec, q)),
            };
        }
    }
    match best {
        _ if !any_range => Ok(()),
        Some((_, q)) if q > 0.0 => Ok(()),
        _ => Err(not_acceptable()),
    }
}

fn not_acceptable() -> NvError {
    tracing::debug!(reason = "Accept excludes application/json", "request rejected");
    NvError::NotAcceptable
}

/// The wire shape. `deny_unknown_fields` rejects other properties (NVB-03, C-60); the derived
/// visitor rejects a repeated property (NVB-05); a wrong JSON type fails (NVB-04).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    #[serde(rename = "phoneNumber")]
    phone_number: Option<String>,
    #[serde(rename = "hashedPhoneNumber")]
    hashed_phone_number: Option<String>,
}

/// `^[a-fA-F0-9]{64}$`.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// NVB-01..05: the body must be a JSON object with exactly one valid property.
pub fn parse_verify_body(body: &[u8]) -> Result<VerifyInput, NvError> {
    // A derived struct would also accept a JSON array (serde's sequence form): require an object.
    match body.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        Some(b'{') => {}
        None => return Err(bad_body("body missing")),
        Some(_) => return Err(bad_body("body is not a JSON object")),
    }
    let parsed: RequestBody = serde_json::from_slice(body).map_err(|_| bad_body("body does not match the schema"))?;
    match (parsed.phone_number, parsed.hashed_phone_number) {
        (Some(p), None) if is_e164(&p) => Ok(VerifyInput::PhoneNumber(p)),
        (None, Some(h)) if is_sha256_hex(&h) => Ok(VerifyInput::HashedPhoneNumber(h.to_ascii_lowercase())),
        (None, None) => Err(bad_body("neither phoneNumber nor hashedPhoneNumber")),
        (Some(_), Some(_)) => Err(bad_body("both phoneNumber and hashedPhoneNumber")),
        _ => Err(bad_body("number does not match its pattern")),
    }
}

/// NVM-03: lowercase hex of SHA-256 over the E.164 number including the `+`.
pub fn hash_msisdn(msisdn: &Msisdn) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, msisdn.as_str().as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest.as_ref() {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0x0f) as usize] as char);
    }
    out
}

/// NVM-02/03/04: does the input name the token's number? Constant time over the compared bytes.
pub fn matches(input: &VerifyInput, msisdn: &Msisdn) -> bool {
    match input {
        VerifyInput::PhoneNumber(p) => p.as_bytes().ct_eq(msisdn.as_str().as_bytes()).into(),
        VerifyInput::HashedPhoneNumber(h) => h.as_bytes().ct_eq(hash_msisdn(msisdn).as_bytes()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Msisdn {
        Msisdn::parse(s).unwrap()
    }

    #[test]
    fn nvm_03_test_vectors() {
        let cases = [
            ("+123456789", "b49f9168e8a886ffd61a090b51a26e117717f5f6fa804af49ea67043a2bfa4f0"),
            ("+34600000001", "eb491b384e4fda4281634daa211e6e54a4cf7f82baa33a9f35980329e4ad95f3"),
            ("+34600000002", "b354219549f603261ed4245369d7a16851c11f34cd1e17e8b0855a592d160908"),
            ("+34666666666", "3ffdd5fed312a04d147a2f4bece733bf77cb35528112fd83cd5e01590dfb616b"),
        ];
        for (n, h) in cases {
            assert_eq!(hash_msisdn(&m(n)), h);
        }
    }

    #[test]
    fn nvx_11_hash_without_plus_is_false() {
        let input = parse_verify_body(
            br#"{"hashedPhoneNumber":"15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"}"#,
        )
        .unwrap();
        assert!(!matches(&input, &m("+123456789")));
    }

    #[test]
    fn nvx_10_uppercase_hash_matches() {
        let body = r#"{"hashedPhoneNumber":"B49F9168E8A886FFD61A090B51A26E117717F5F6FA804AF49EA67043A2BFA4F0"}"#;
        assert!(matches(&parse_verify_body(body.as_bytes()).unwrap(), &m("+123456789")));
    }

    #[test]
    fn nvb_01_to_05_bodies_rejected() {
        for bad in [
            "",
            "   ",
            "{}",
            "null",
            "[]",
            r#"["+34600000001", null]"#,
            r#""+34600000001""#,
            "42",
            "{",
            r#"{"phoneNumber":null}"#,
            r#"{"phoneNumber":34600000001}"#,
            r#"{"phoneNumber":"+34600000001","hashedPhoneNumber":"eb491b384e4fda4281634daa211e6e54a4cf7f82baa33a9f35980329e4ad95f3"}"#,
            r#"{"phoneNumber":"+34600000001","x":1}"#,
            r#"{"phoneNumber":"+34600000001","phoneNumber":"+34600000001"}"#,
            r#"{"phoneNumber":"+34600000001"} x"#,
            r#"{"additional_property":"foo_value"}"#,
        ] {
            assert_eq!(parse_verify_body(bad.as_bytes()), Err(NvError::InvalidArgument), "{bad}");
        }
    }

    #[test]
    fn nvb_06_content_type() {
        let ok: [&[u8]; 4] = [
            b"application/json",
            b"Application/JSON",
            b"application/json; charset=utf-8",
            b"application/json;charset=\"UTF-8\"",
        ];
        for v in ok {
            assert!(check_content_type(&[v], false).is_ok());
        }
        for v in [&b"text/plain"[..], b"application/jsonx", b"application/json; charset=iso-8859-1", b""] {
            assert_eq!(check_content_type(&[v], false), Err(NvError::UnsupportedMediaType));
        }
        assert!(check_content_type(&[], true).is_ok());
        assert_eq!(check_content_type(&[], false), Err(NvError::UnsupportedMediaType));
        assert_eq!(
            check_content_type(&[b"application/json", b"text/plain"], false),
            Err(NvError::UnsupportedMediaType)
        );
    }

    #[test]
    fn nvb_06_accept() {
        for ok in [
            &b""[..],
            b"*/*",
            b"application/*",
            b"application/json",
            b"text/html, */*;q=0.1",
            b"application/json;q=0.5",
        ] {
            assert!(check_accept(&[ok]).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
        assert!(check_accept(&[]).is_ok());
        for bad in [
            &b"text/html"[..],
            b"application/xml",
            b"application/json;q=0",
            b"*/*, application/json;q=0",
            b"application/*;q=0",
        ] {
            assert_eq!(check_accept(&[bad]), Err(NvError::NotAcceptable), "{}", String::from_utf8_lossy(bad));
        }
    }
}
