//! The identity the network ingress hands to the authorization server (design.md, step 1).

use crate::msisdn::Msisdn;
use serde::{Deserialize, Serialize};

/// How the subscriber behind a token was established (P-19, O-05).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Amr {
    /// Network-based authentication: the mobile network identified the device (`nba`).
    #[serde(rename = "nba")]
    Nba,
    /// SIM-based authentication, proven by a GSMA TS.43 temporary token.
    #[serde(rename = "sim")]
    Sim,
    /// The subscriber was only asserted by the client (e.g. a `tel:` JWT-bearer subject).
    #[serde(rename = "asserted")]
    Asserted,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Nba => "nba",
            Amr::Sim => "sim",
            Amr::Asserted => "asserted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nba" => Some(Amr::Nba),
            "sim" => Some(Amr::Sim),
            "asserted" => Some(Amr::Asserted),
            _ => None,
        }
    }

    /// NVR-06: only network- or SIM-based authentication satisfies Number Verification.
    pub fn is_mobile_network(self) -> bool {
        matches!(self, Amr::Nba | Amr::Sim)
    }
}

/// A subscriber identified by the network, how, and when (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub msisdn: Msisdn,
    pub amr: Amr,
    pub authenticated_at: i64,
}

/// What the ingress concluded about a request. Absent = `NotIdentified` (fail closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityOutcome {
    Identified(Identity),
    /// No binding, expired or ambiguous binding: never a best guess.
    NotIdentified,
    /// The binding store could not be reached; the answer is "try later", never "someone".
    Unavailable,
}
