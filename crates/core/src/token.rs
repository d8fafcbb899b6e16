//! What the authorization server issues and the resource server consumes. They share no code
//! but these types: the access-token claims (RFC 9068) and the server-side token record.

use crate::identity::Amr;
use crate::msisdn::Msisdn;
use serde::{Deserialize, Serialize};

/// JOSE `typ` of access tokens (RFC 9068 §2.1); verifiers require it, so an ID token or a
/// client assertion can never pass as an access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 9068 access-token claims (P-87). `sub` is pairwise; the MSISDN is never here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<Amr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// The server-side record of an access token, stored under `keys::access_token(jti)` until the
/// token expires. It holds what must never travel in the token: the subscriber's MSISDN.
/// Number Verification `take`s it (single use, NVR-05); revocation deletes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// Record format version.
    pub v: u8,
    pub client_id: String,
    /// The subscriber for three-legged tokens; `None` for client credentials (NVR-08).
    pub msisdn: Option<Msisdn>,
    pub scope: String,
    pub amr: Vec<Amr>,
    pub exp: i64,
    /// The refresh-token grant this token was minted under (P-57): the token is void once
    /// `keys::grant(id)` is gone (grant revoked, refresh token reused). `None` for every token
    /// without a refresh token, Number Verification included (NVR-03), so checking it costs
    /// nothing on their path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
}

impl AccessTokenRecord {
    pub const VERSION: u8 = 1;

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("token record serializes")
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(bytes).ok().filter(|r| r.v == Self::VERSION)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}
