//! E.164 subscriber numbers (C-70: `^\+[1-9][0-9]{4,14}$`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A subscriber number in E.164 with the leading `+`, validated at construction.
///
/// `Debug` never prints the number (no MSISDN in logs); there is deliberately no `Display`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Msisdn(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an E.164 number (+ and 5 to 15 digits, first digit 1-9)")]
pub struct InvalidMsisdn;

impl Msisdn {
    /// Parse the strict CAMARA `PhoneNumber` form: `+`, then 5–15 digits, the first 1–9.
    pub fn parse(s: &str) -> Result<Self, InvalidMsisdn> {
        if is_e164(s) {
            Ok(Msisdn(s.to_owned()))
        } else {
            Err(InvalidMsisdn)
        }
    }

    /// The E.164 string with the leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `^\+[1-9][0-9]{4,14}$` without a regex engine.
pub fn is_e164(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 6 || b.len() > 16 || b[0] != b'+' {
        return false;
    }
    if !(b'1'..=b'9').contains(&b[1]) {
        return false;
    }
    b[2..].iter().all(u8::is_ascii_digit)
}

impl std::fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msisdn(<redacted>)")
    }
}

impl Serialize for Msisdn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Msisdn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Msisdn::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c70_accepts_e164() {
        for ok in ["+34600000001", "+12345", "+123456789012345"] {
            assert!(Msisdn::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn nvx14_rejects_malformed_numbers() {
        for bad in [
            "string_value",
            "1234567890",
            "+12334foo22222",
            "+00012230304913849",
            "123",
            "++49565456787",
            "+1234",
            "+1234567890123456",
            " +34600000001",
            "+34600000001 ",
            "+0123456",
            "",
            "+",
            "+٣٤٦٠٠٠٠٠٠٠١",
        ] {
            assert!(Msisdn::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_never_prints_the_number() {
        let m = Msisdn::parse("+34600000001").unwrap();
        assert!(!format!("{m:?}").contains("600000001"));
    }
}
