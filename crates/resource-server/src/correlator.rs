//! The `x-correlator` header (NVC-01..04, C-50..53).
//!
//! NVC-01: pattern `^[a-zA-Z0-9-_:;.\/<>{}]{0,256}$`, checked here as an explicit byte set
//! rather than a ported regex (the `0-9-_` class is engine-dependent).

use crate::NvError;

/// NVC-01: at most 256 characters.
pub const MAX_LEN: usize = 256;

/// NVC-01: one byte of the allowed set: letters, digits and `- _ : ; . / < > { }`.
pub fn is_allowed_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b';' | b'.' | b'/' | b'<' | b'>' | b'{' | b'}')
}

/// NVC-01: the whole value matches the pattern (the empty string does).
pub fn is_valid(value: &[u8]) -> bool {
    value.len() <= MAX_LEN && value.iter().all(|&b| is_allowed_byte(b))
}

/// The request's correlator and the value every response carries.
///
/// - absent or empty → a generated UUID v4 (NVC-04), valid;
/// - one valid non-empty value → echoed unchanged (NVC-02);
/// - invalid, or several `x-correlator` headers → a generated UUID is sent instead and
///   [`Correlator::check`] fails with 400 (NVC-03: an invalid value is never echoed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlator {
    value: String,
    valid: bool,
}

impl Correlator {
    /// From the raw values of every `x-correlator` header of a request (name case-insensitive,
    /// C-53: the HTTP layer collects them).
    pub fn from_header_values(values: &[&[u8]]) -> Self {
        match values {
            [] => Self::generated(true),
            [[]] => Self::generated(true),
            [v] if is_valid(v) => match std::str::from_utf8(v) {
                Ok(s) => Correlator { value: s.to_owned(), valid: true },
                Err(_) => Self::generated(false),
            },
            [_] => {
                tracing::debug!(reason = "x-correlator does not match the pattern", "request rejected");
                Self::generated(false)
            }
            _ => {
                tracing::debug!(reason = "several x-correlator headers", "request rejected");
                Self::generated(false)
            }
        }
    }

    fn generated(valid: bool) -> Self {
        Correlator { value: uuid::Uuid::new_v4().to_string(), valid }
    }

    /// The value to send in the response's `x-correlator` header (always pattern-valid).
    pub fn response_value(&self) -> &str {
        &self.value
    }

    /// NVC-03: 400 `INVALID_ARGUMENT` when the request's value did not match the pattern.
    /// Step 4 of NVR-09: call it after the token, scope and `amr` checks.
    pub fn check(&self) -> Result<(), NvError> {
        if self.valid {
            Ok(())
        } else {
            Err(NvError::InvalidArgument)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvc_01_byte_set() {
        let allowed = b"abcxyzABCXYZ0189-_:;./<>{}";
        assert!(allowed.iter().all(|&b| is_allowed_byte(b)));
        for b in b" #%+=,\"'\\|?!@$&*()[]~`^\t\r\n\x00\x7f".iter() {
            assert!(!is_allowed_byte(*b), "{:?}", *b as char);
        }
        assert!((0x80u8..=0xff).all(|b| !is_allowed_byte(b)));
    }

    #[test]
    fn nvc_01_length() {
        assert!(is_valid(b""));
        assert!(is_valid(&[b'a'; 256]));
        assert!(!is_valid(&[b'a'; 257]));
    }

    #[test]
    fn nvc_02_valid_value_echoed() {
        let c = Correlator::from_header_values(&[b"a:b;c.d/e<f>{g}_-"]);
        assert_eq!(c.response_value(), "a:b;c.d/e<f>{g}_-");
        assert!(c.check().is_ok());
    }

    #[test]
    fn nvc_03_invalid_value_never_echoed() {
        for bad in [&b"with space"[..], b"hash#", &[b'x'; 257], "caf\u{e9}".as_bytes()] {
            let c = Correlator::from_header_values(&[bad]);
            assert_eq!(c.check(), Err(NvError::InvalidArgument));
            assert_ne!(c.response_value().as_bytes(), bad);
            assert!(is_valid(c.response_value().as_bytes()));
        }
    }

    #[test]
    fn nvc_03_several_headers_rejected() {
        let c = Correlator::from_header_values(&[b"a", b"b"]);
        assert_eq!(c.check(), Err(NvError::InvalidArgument));
    }

    #[test]
    fn nvc_04_absent_or_empty_gets_a_uuid() {
        for c in [Correlator::from_header_values(&[]), Correlator::from_header_values(&[b""])] {
            assert!(c.check().is_ok());
            assert!(uuid::Uuid::parse_str(c.response_value()).is_ok());
        }
    }
}
