//! A registered API consumer (application), as onboarded by the operator (P-07).

use serde::{Deserialize, Serialize};

/// Grant types a client may be allowed to use (P-03, P-07).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GrantType {
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
    #[serde(rename = "urn:openid:params:grant-type:ciba")]
    Ciba,
    #[serde(rename = "refresh_token")]
    RefreshToken,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            GrantType::Ciba => "urn:openid:params:grant-type:ciba",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            GrantType::AuthorizationCode,
            GrantType::ClientCredentials,
            GrantType::JwtBearer,
            GrantType::Ciba,
            GrantType::RefreshToken,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// Client metadata. Keys are carried as JWKS JSON here and parsed once by the authorization
/// server's registry (core does no cryptography).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    /// Exact-match redirect URIs (S-02).
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may request, purposes included (P-80).
    pub scopes: Vec<String>,
    /// `private_key_jwt` (P-88). `client_secret_basic`/`client_secret_post` only for clients
    /// explicitly configured so, where the operator allows secrets at all (CAMARA clients must
    /// not: P-88).
    pub token_endpoint_auth_method: String,
    /// JWS algorithm for ID tokens (OIDC Registration `id_token_signed_response_alg`).
    pub id_token_signed_response_alg: String,
    /// Pairwise `sub` sector (P-85); the redirect URIs' host when not set.
    pub sector_identifier: String,
    /// P-33: PKCE S256 required.
    pub require_pkce: bool,
    /// A `dpv:` purpose added when a request names none. Off by default: P-80 wants exactly one
    /// purpose per request; this exists for clients that cannot send one (the OIDF conformance
    /// suite always sends `scope=openid`).
    #[serde(default)]
    pub default_purpose: Option<String>,
    /// JWT-bearer subject kinds this client may assert: `operatortoken` (TS.43) and/or `tel`
    /// (P-64, P-72: `tel:` only where the operator says so).
    #[serde(default)]
    pub jwt_bearer_subjects: Vec<String>,
    /// CIBA `login_hint` kinds this client may use: `tel`, `ipport`, `operatortoken` (P-49..P-51).
    #[serde(default)]
    pub ciba_login_hints: Vec<String>,
    /// Public keys (a JWKS document) for `private_key_jwt` and signed requests; `null` when the
    /// keys come from `jwks_uri` (or the client authenticates with a secret).
    #[serde(default)]
    pub jwks: serde_json::Value,
    /// Where the client publishes its JWKS (https; fetched, cached, refetched on an unknown `kid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The client secret as an argon2 PHC string (`client_secret_basic`/`_post` only); the plain
    /// secret is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_hash: Option<String>,
    /// Access-token lifetime for this client, seconds; at most the server's (default: the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl_s: Option<i64>,
    /// ID-token lifetime for this client, seconds; at most the server's (default: the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_ttl_s: Option<i64>,
}

impl Client {
    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
}
