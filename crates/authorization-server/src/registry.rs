//! The client registry: each client's metadata with its keys parsed once, at load.
//!
//! Two sources (issue 4 item 2): clients from the configuration (read-only) and clients
//! registered through the admin API, kept in the store (`registry_store.rs`) and mirrored here
//! as an in-memory snapshot, so [`ClientRegistry::get`] on the hot path is a map lookup under a
//! read lock and never touches the store. Every instance re-reads the store's clients every few
//! seconds, so all instances converge.

use crate::jwks_uri::{ClientKeyError, JwksUriPolicy, RemoteJwks};
use numbat_core::{Client, GrantType};
use numbat_jose::{Alg, KeySet, Verified};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Longest client id; ids are `[A-Za-z0-9._~-]` (URL-safe: they appear in admin API paths).
pub const MAX_CLIENT_ID: usize = 128;
const MAX_REDIRECT_URIS: usize = 32;
const MAX_URI_LEN: usize = 2048;
const MAX_SCOPES: usize = 64;
const MAX_SCOPE_LEN: usize = 256;

/// How a client authenticates at the token, introspection, revocation and backchannel endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// P-88: what every CAMARA consumer uses.
    PrivateKeyJwt,
    /// RFC 6749 §2.3.1 HTTP Basic; only for clients configured so, where secrets are allowed.
    ClientSecretBasic,
    /// RFC 6749 §2.3.1 form parameters; likewise.
    ClientSecretPost,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn uses_secret(self) -> bool {
        self != AuthMethod::PrivateKeyJwt
    }
}

/// Where a client was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// `[[clients]]` in the configuration: read-only for the admin API.
    Config,
    /// The admin API (kept in the store).
    Store,
}

impl ClientSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientSource::Config => "config",
            ClientSource::Store => "store",
        }
    }
}

/// What the operator allows any client to be.
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    /// Accept `client_secret_basic`/`client_secret_post` clients at all (off by default: P-88).
    pub allow_client_secrets: bool,
    pub jwks_uri: JwksUriPolicy,
    /// The server's access- and ID-token lifetimes: a client's own may only be shorter.
    pub max_access_token_ttl_s: i64,
    pub max_id_token_ttl_s: i64,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        ClientPolicy {
            allow_client_secrets: false,
            jwks_uri: JwksUriPolicy::default(),
            max_access_token_ttl_s: 3600,
            max_id_token_ttl_s: 3600,
        }
    }
}

/// A client ready for requests: metadata plus parsed verifying keys.
#[derive(Debug)]
pub struct RegisteredClient {
    pub client: Client,
    /// Inline keys (`jwks`); empty when the client's keys live at `jwks_uri`.
    pub keys: KeySet,
    /// Algorithms accepted for this client's `private_key_jwt` assertions.
    pub auth_algs: Vec<Alg>,
    /// Algorithm numbat signs this client's ID tokens with.
    pub id_token_alg: Alg,
    pub auth_method: AuthMethod,
    pub source: ClientSource,
}

#[derive(Debug, thiserror::Error)]
#[error("client {client_id}: {reason}")]
pub struct ClientConfigError {
    pub client_id: String,
    pub reason: String,
}

/// RFC 6749 §3.3 scope-token characters.
fn scope_token_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SCOPE_LEN
        && s.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

pub fn client_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

/// Exact-match redirect URIs (S-02): absolute, no fragment, no credentials, not a script.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("redirect URI longer than {MAX_URI_LEN} characters"));
    }
    let u = url::Url::parse(uri).map_err(|e| format!("redirect URI {uri}: {e}"))?;
    if u.fragment().is_some() {
        return Err(format!("redirect URI {uri} must not have a fragment"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!("redirect URI {uri} must not carry credentials"));
    }
    if matches!(u.scheme(), "javascript" | "data" | "vbscript" | "file" | "blob") {
        return Err(format!("redirect URI scheme {} is not allowed", u.scheme()));
    }
    Ok(())
}

impl RegisteredClient {
    /// A configuration client under the default policy (no secrets, no `jwks_uri` exemptions).
    pub fn new(client: Client) -> Result<Self, ClientConfigError> {
        Self::with_policy(client, &ClientPolicy::default(), ClientSource::Config)
    }

    /// Validate `client` completely and parse its keys once.
    pub fn with_policy(client: Client, policy: &ClientPolicy, source: ClientSource) -> Result<Self, ClientConfigError> {
        let err = |reason: String| ClientConfigError { client_id: client.client_id.clone(), reason };
        if !client_id_ok(&client.client_id) {
            return Err(err(format!("client_id must be 1..={MAX_CLIENT_ID} characters of A-Z a-z 0-9 . _ ~ -")));
        }
        let m = &client.token_endpoint_auth_method;
        let auth_method = AuthMethod::parse(m).ok_or_else(|| {
            err(format!("token_endpoint_auth_method {m} is not supported (private_key_jwt, P-88; client_secret_basic, client_secret_post)"))
        })?;
        if auth_method.uses_secret() {
            if !policy.allow_client_secrets {
                return Err(err(format!(
                    "token_endpoint_auth_method {m}: client secrets are off ([clients_policy] allow_client_secrets); CAMARA clients use private_key_jwt (P-88)"
                )));
            }
            let phc =
                client.client_secret_hash.as_deref().ok_or_else(|| err(format!("{m} needs client_secret_hash")))?;
            crate::client_secret::check_phc(phc).map_err(err)?;
        } else if client.client_secret_hash.is_some() {
            return Err(err("client_secret_hash is only for client_secret_basic/client_secret_post".into()));
        }
        let inline = !client.jwks.is_null();
        let keys = match (&client.jwks_uri, inline) {
            (Some(_), true) => return Err(err("give jwks or jwks_uri, not both".into())),
            (Some(uri), false) => {
                policy.jwks_uri.check_url(uri).map_err(err)?;
                KeySet::default()
            }
            (None, true) => KeySet::from_jwks_value(&client.jwks).map_err(|e| err(format!("jwks: {e}")))?,
            (None, false) => KeySet::default(),
        };
        if auth_method == AuthMethod::PrivateKeyJwt && keys.is_empty() && client.jwks_uri.is_none() {
            return Err(err("jwks: private_key_jwt needs at least one key (jwks or jwks_uri)".into()));
        }
        if client.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(err(format!("at most {MAX_REDIRECT_URIS} redirect URIs")));
        }
        for uri in &client.redirect_uris {
            check_redirect_uri(uri).map_err(err)?;
        }
        if client.allows_grant(GrantType::AuthorizationCode) && client.redirect_uris.is_empty() {
            return Err(err("authorization_code needs at least one redirect URI".into()));
        }
        if client.scopes.len() > MAX_SCOPES {
            return Err(err(format!("at most {MAX_SCOPES} scopes")));
        }
        if let Some(s) = client.scopes.iter().find(|s| !scope_token_ok(s)) {
            return Err(err(format!("scope {s:?} is not a valid scope token")));
        }
        // P-79/P-80: a client's purposes are DPV purposes, so every purpose it can request is.
        if let Some(p) = client.scopes.iter().find(|s| s.starts_with("dpv:") && !numbat_core::dpv::is_known_purpose(s))
        {
            return Err(err(format!("scope {p} is not a DPV purpose (P-79)")));
        }
        if let Some(p) = &client.default_purpose {
            if !numbat_core::dpv::is_known_purpose(p) || !client.allows_scope(p) {
                return Err(err("default_purpose must be a DPV purpose among the client's scopes".into()));
            }
        }
        if client.sector_identifier.is_empty() || client.sector_identifier.len() > 255 {
            return Err(err("sector_identifier must be 1..=255 characters (P-85)".into()));
        }
        if let Some(k) = client.jwt_bearer_subjects.iter().find(|k| !matches!(k.as_str(), "tel" | "operatortoken")) {
            return Err(err(format!("jwt_bearer_subjects: {k} is not tel or operatortoken")));
        }
        if let Some(k) =
            client.ciba_login_hints.iter().find(|k| !matches!(k.as_str(), "tel" | "ipport" | "operatortoken"))
        {
            return Err(err(format!("ciba_login_hints: {k} is not tel, ipport or operatortoken")));
        }
        if let Some(t) = client.access_token_ttl_s {
            if !(1..=policy.max_access_token_ttl_s).contains(&t) {
                return Err(err(format!("access_token_ttl_s must be 1..={}", policy.max_access_token_ttl_s)));
            }
        }
        if let Some(t) = client.id_token_ttl_s {
            if !(1..=policy.max_id_token_ttl_s).contains(&t) {
                return Err(err(format!("id_token_ttl_s must be 1..={}", policy.max_id_token_ttl_s)));
            }
        }
        let id_token_alg = Alg::parse(&client.id_token_signed_response_alg).ok_or_else(|| {
            err(format!("id_token_signed_response_alg {} not supported", client.id_token_signed_response_alg))
        })?;
        Ok(RegisteredClient { client, keys, auth_algs: Alg::ALL.to_vec(), id_token_alg, auth_method, source })
    }
}

type Snapshot = Arc<HashMap<String, Arc<RegisteredClient>>>;

#[derive(Debug, Default)]
pub struct ClientRegistry {
    /// Configuration clients: fixed for the life of the process.
    fixed: HashMap<String, Arc<RegisteredClient>>,
    /// Store clients: replaced whole on reload, one entry at a time by the admin API.
    dynamic: parking_lot::RwLock<Snapshot>,
    /// Bumped on every change of `dynamic` (discovery recomputes its metadata then).
    generation: AtomicU64,
    policy: ClientPolicy,
    remote: RemoteJwks,
    /// The store revision the snapshot was built from.
    known_rev: parking_lot::Mutex<Option<u64>>,
    /// When the store document was last read whole (it is re-read at least hourly).
    last_full_read: parking_lot::Mutex<Option<std::time::Instant>>,
    /// Orders snapshot rebuilds (a reload reading an older document must not land after a write).
    pub(crate) apply_lock: tokio::sync::Mutex<()>,
}

impl ClientRegistry {
    pub fn new(clients: Vec<RegisteredClient>) -> Self {
        ClientRegistry {
            fixed: clients.into_iter().map(|c| (c.client.client_id.clone(), Arc::new(c))).collect(),
            ..Default::default()
        }
    }

    pub fn with_policy(mut self, policy: ClientPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Fetch `jwks_uri` keys with this cache (without one, `jwks_uri` clients cannot authenticate).
    pub fn with_remote_jwks(mut self, remote: RemoteJwks) -> Self {
        self.remote = remote;
        self
    }

    pub fn policy(&self) -> &ClientPolicy {
        &self.policy
    }

    /// The hot path: a configuration client, else a store client.
    pub fn get(&self, client_id: &str) -> Option<Arc<RegisteredClient>> {
        if let Some(c) = self.fixed.get(client_id) {
            return Some(c.clone());
        }
        self.dynamic.read().get(client_id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<RegisteredClient>> {
        let mut v: Vec<_> = self.fixed.values().cloned().collect();
        v.extend(self.dynamic.read().values().cloned());
        v
    }

    pub fn is_fixed(&self, client_id: &str) -> bool {
        self.fixed.contains_key(client_id)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Discovery's `token_endpoint_auth_methods_supported` (and the introspection and revocation
    /// lists): `private_key_jwt`, plus the secret methods exactly when the operator allows them.
    /// Fixed for the life of the process, so the document never goes stale when clients change.
    pub fn token_endpoint_auth_methods(&self) -> Vec<&'static str> {
        if self.policy.allow_client_secrets {
            vec!["private_key_jwt", "client_secret_basic", "client_secret_post"]
        } else {
            vec!["private_key_jwt"]
        }
    }

    /// The store client currently in the snapshot (to reuse its parsed keys when unchanged).
    pub(crate) fn dynamic_snapshot(&self) -> Snapshot {
        self.dynamic.read().clone()
    }

    pub(crate) fn known_rev(&self) -> Option<u64> {
        *self.known_rev.lock()
    }

    pub(crate) fn note_full_read(&self) {
        *self.last_full_read.lock() = Some(std::time::Instant::now());
    }

    pub(crate) fn full_read_due(&self) -> bool {
        self.last_full_read.lock().is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(3600))
    }

    /// Replace the store clients (a reload), built from store revision `rev`. Configuration
    /// clients always win over a store client with the same id.
    pub(crate) fn replace_dynamic(&self, map: HashMap<String, Arc<RegisteredClient>>, rev: Option<u64>) {
        *self.known_rev.lock() = rev;
        *self.last_full_read.lock() = Some(std::time::Instant::now());
        let old = std::mem::replace(&mut *self.dynamic.write(), Arc::new(map));
        let new = self.dynamic.read().clone();
        for (id, c) in old.iter() {
            if let Some(uri) = &c.client.jwks_uri {
                if new.get(id).is_none_or(|n| n.client.jwks_uri.as_ref() != Some(uri)) {
                    self.remote.forget(uri);
                }
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Verify a JWS signed by `client` (assertion, request object, JWT-bearer grant, CIBA
    /// request): with its inline keys, or with the keys at its `jwks_uri` (cached, refetched on
    /// an unknown `kid`).
    pub async fn verify_jwt(&self, client: &RegisteredClient, jwt: &str) -> Result<Verified, ClientKeyError> {
        match &client.client.jwks_uri {
            Some(uri) => self.remote.verify(uri, jwt, &client.auth_algs).await,
            None => Ok(numbat_jose::verify(jwt, &client.keys, &client.auth_algs)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(scopes: &[&str]) -> Client {
        Client {
            client_id: "c".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![numbat_core::GrantType::AuthorizationCode],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            token_endpoint_auth_method: "private_key_jwt".into(),
            id_token_signed_response_alg: "ES256".into(),
            sector_identifier: "app.example".into(),
            require_pkce: true,
            default_purpose: None,
            jwt_bearer_subjects: vec![],
            ciba_login_hints: vec![],
            jwks: serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k",
                "x": "EgMEe16Xy5bVFKLwu5Gb0vj8T_tbye_VNfqgfSw_7Uo", "y": "izHnk64M7vzATcbAgvOCUyhPQDBlLs0k_1bKYqYYckg"}]}),
            jwks_uri: None,
            client_secret_hash: None,
            access_token_ttl_s: None,
            id_token_ttl_s: None,
        }
    }

    #[test]
    fn p79_client_purposes_must_be_dpv_purposes() {
        assert!(RegisteredClient::new(client(&["openid", "dpv:FraudPreventionAndDetection"])).is_ok());
        let e = RegisteredClient::new(client(&["openid", "dpv:MadeUpPurpose"])).unwrap_err();
        assert!(e.reason.contains("P-79"), "{e}");
    }

    #[test]
    fn p88_private_keys_in_client_jwks_are_refused() {
        let mut c = client(&["openid"]);
        c.jwks["keys"][0]["d"] = serde_json::json!("AAAA");
        assert!(RegisteredClient::new(c).is_err());
    }

    #[test]
    fn hostile_metadata_is_refused() {
        type Change = Box<dyn Fn(&mut Client)>;
        let cases: Vec<(&str, Change)> = vec![
            ("fragment", Box::new(|c| c.redirect_uris = vec!["https://app.example/cb#x".into()])),
            ("relative", Box::new(|c| c.redirect_uris = vec!["/cb".into()])),
            ("javascript", Box::new(|c| c.redirect_uris = vec!["javascript:alert(1)".into()])),
            ("credentials", Box::new(|c| c.redirect_uris = vec!["https://u:p@app.example/cb".into()])),
            ("no redirect", Box::new(|c| c.redirect_uris.clear())),
            ("client id", Box::new(|c| c.client_id = "a/b".into())),
            ("long id", Box::new(|c| c.client_id = "a".repeat(129))),
            ("auth method", Box::new(|c| c.token_endpoint_auth_method = "none".into())),
            ("scope token", Box::new(|c| c.scopes = vec!["bad\"scope".into()])),
            ("ttl", Box::new(|c| c.access_token_ttl_s = Some(0))),
            ("ttl max", Box::new(|c| c.id_token_ttl_s = Some(100_000))),
            ("both keys", Box::new(|c| c.jwks_uri = Some("https://app.example/jwks".into()))),
            (
                "http jwks_uri",
                Box::new(|c| {
                    c.jwks = serde_json::Value::Null;
                    c.jwks_uri = Some("http://app.example/jwks".into());
                }),
            ),
            (
                "loopback jwks_uri",
                Box::new(|c| {
                    c.jwks = serde_json::Value::Null;
                    c.jwks_uri = Some("https://127.0.0.1/jwks".into());
                }),
            ),
            ("no keys", Box::new(|c| c.jwks = serde_json::Value::Null)),
            ("hint kind", Box::new(|c| c.ciba_login_hints = vec!["imsi".into()])),
            ("default purpose", Box::new(|c| c.default_purpose = Some("dpv:FraudPreventionAndDetection".into()))),
        ];
        for (name, f) in cases {
            let mut c = client(&["openid"]);
            f(&mut c);
            assert!(RegisteredClient::new(c).is_err(), "{name} accepted");
        }
    }

    #[test]
    fn p88_client_secrets_only_where_allowed() {
        let mut c = client(&["openid"]);
        c.jwks = serde_json::Value::Null;
        c.token_endpoint_auth_method = "client_secret_basic".into();
        c.client_secret_hash = Some(crate::client_secret::hash(&"s".repeat(32)).unwrap());
        let e = RegisteredClient::new(c.clone()).unwrap_err();
        assert!(e.reason.contains("P-88"), "{e}");
        let allow = ClientPolicy { allow_client_secrets: true, ..ClientPolicy::default() };
        let r = RegisteredClient::with_policy(c.clone(), &allow, ClientSource::Store).unwrap();
        assert_eq!(r.auth_method, AuthMethod::ClientSecretBasic);
        c.client_secret_hash = Some("plain".into());
        assert!(RegisteredClient::with_policy(c.clone(), &allow, ClientSource::Store).is_err());
        c.client_secret_hash = None;
        assert!(RegisteredClient::with_policy(c, &allow, ClientSource::Store).is_err());
        let mut k = client(&["openid"]);
        k.client_secret_hash = Some(crate::client_secret::hash(&"s".repeat(32)).unwrap());
        assert!(
            RegisteredClient::with_policy(k, &allow, ClientSource::Store).is_err(),
            "a secret on a private_key_jwt client"
        );
    }

    #[test]
    fn config_clients_win_and_discovery_methods_follow_the_policy() {
        let reg = ClientRegistry::new(vec![RegisteredClient::new(client(&["openid"])).unwrap()]);
        assert_eq!(reg.token_endpoint_auth_methods(), vec!["private_key_jwt"]);
        let mut other = client(&["openid"]);
        other.client_id = "d".into();
        let mut same = client(&["openid", "dpv:FraudPreventionAndDetection"]);
        same.client_id = "c".into();
        let g = reg.generation();
        let store = |c: Client| {
            Arc::new(RegisteredClient::with_policy(c, &ClientPolicy::default(), ClientSource::Store).unwrap())
        };
        reg.replace_dynamic(
            [("d".to_string(), store(other)), ("c".to_string(), store(same))].into_iter().collect(),
            Some(1),
        );
        assert!(reg.generation() > g);
        assert_eq!(reg.get("c").unwrap().source, ClientSource::Config);
        assert_eq!(reg.get("d").unwrap().source, ClientSource::Store);
        assert!(reg.is_fixed("c") && !reg.is_fixed("d"));
        let allow =
            ClientRegistry::default().with_policy(ClientPolicy { allow_client_secrets: true, ..Default::default() });
        assert_eq!(allow.token_endpoint_auth_methods().len(), 3);
    }
}
