//! numbat-authorization-server: OIDC authorization code flow with network-based authentication,
//! private_key_jwt client authentication, pairwise subjects and RFC 9068 access tokens.
//!
//! Domain modules know nothing of HTTP: each endpoint is a method here returning a domain
//! result or error; `http` adapts them to actix, and `http/errors.rs` alone maps errors to the
//! wire. Grants sit behind one trait ([`grant::GrantHandler`]); adding one touches no other.

pub mod authn_time;
pub mod authorize;
pub mod ciba;
pub mod client_admin;
pub mod client_auth;
pub mod client_secret;
pub mod code;
pub mod consent;
pub mod discovery;
pub mod entitlement;
pub mod error;
pub mod grant;
pub mod http;
pub mod identity_assertion;
pub mod introspection;
pub mod jwks_uri;
pub mod pairwise;
pub mod par;
pub mod params;
pub mod refresh;
pub mod registry;
pub mod registry_store;
pub mod request_object;
pub mod tokens;
pub mod ts43;
pub mod userinfo;

use grant::GrantHandler;
use numbat_core::Clock;
use numbat_jose::{Alg, KeyRing};
use numbat_store::SharedStore;
use pairwise::PairwiseSubjects;
use registry::ClientRegistry;
use std::sync::Arc;

/// P-27, P-67, P-89, NVR-04: no assertion, request object or NV access token lives longer.
pub const MAX_LIFETIME_S: i64 = 300;

#[derive(Debug, Clone)]
pub struct AsConfig {
    /// Issuer identifier, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub issuer: String,
    /// `aud` of access tokens: the resource server's identifier.
    pub access_token_audience: String,
    /// Access-token lifetime; capped at 300 s for Number Verification scopes (NVR-04).
    pub access_token_ttl_s: i64,
    pub id_token_ttl_s: i64,
    /// Authorization-code lifetime (design.md: at most 60 s).
    pub code_ttl_s: i64,
    /// Tolerance for "later than receipt" checks (O-04, default 5 s, at most 30 s).
    pub clock_skew_s: i64,
    /// Algorithm access tokens are signed with.
    pub access_token_alg: Alg,
}

impl AsConfig {
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.issuer)
    }
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }
    pub fn userinfo_endpoint(&self) -> String {
        format!("{}/userinfo", self.issuer)
    }
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.issuer)
    }
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/revoke", self.issuer)
    }
}

pub struct AuthorizationServer {
    pub(crate) cfg: AsConfig,
    pub(crate) registry: ClientRegistry,
    pub(crate) store: SharedStore,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) pairwise: PairwiseSubjects,
    pub(crate) grants: Vec<Box<dyn GrantHandler>>,
    /// Where `operatortoken:` subjects are validated (P-51).
    pub(crate) operator_tokens: Arc<dyn ts43::OperatorTokens>,
    pub(crate) ts43_tokens: ts43::StoreOperatorTokens,
    pub(crate) ts43_cfg: ts43::Ts43Config,
    pub(crate) ciba_cfg: ciba::CibaConfig,
    pub(crate) ciba_channel: Arc<dyn ciba::DecisionChannel>,
    pub(crate) address_resolver: Option<Arc<dyn ciba::AddressResolver>>,
    /// The test-only CIBA approval endpoint (issue 5 item 5), enabled only by configuration.
    pub(crate) ciba_test_approval: bool,
    /// SHA-256 of the admin token; `None` disables the admin APIs.
    pub(crate) admin_token: numbat_core::AdminToken,
    /// Legal bases per purpose and the consent page (`consent.rs`).
    pub(crate) consent_cfg: consent::ConsentConfig,
    /// The operator's channel for consent confirmation codes (P-21); none: no consent page.
    pub(crate) consent_channel: Option<Arc<dyn consent::ConfirmationChannel>>,
    /// Refresh-token lifetimes (`refresh.rs`).
    pub(crate) refresh_cfg: refresh::RefreshConfig,
    /// The discovery document, recomputed when the client registry changes (`scopes_supported`).
    metadata: parking_lot::Mutex<(u64, Arc<[u8]>)>,
    /// Secret for values derived from codes (the access-token `jti`), so a replayed code can
    /// revoke what it produced without storing anything more on the happy path.
    pub(crate) derive_key: ring::hmac::Key,
}

impl AuthorizationServer {
    pub fn new(
        cfg: AsConfig,
        registry: ClientRegistry,
        store: SharedStore,
        keys: Arc<KeyRing>,
        clock: Arc<dyn Clock>,
        pairwise_secret: &[u8],
    ) -> Self {
        let grants = grant::default_grants();
        let metadata = discovery::metadata(&cfg, &keys, &registry, &grants);
        let metadata_gen = registry.generation();
        let derive_key = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &[pairwise_secret, b"/numbat/code-derivations"].concat(),
        );
        let operator_tokens: Arc<dyn ts43::OperatorTokens> = Arc::new(ts43::StoreOperatorTokens::new(store.clone()));
        AuthorizationServer {
            cfg,
            registry,
            operator_tokens,
            ts43_tokens: ts43::StoreOperatorTokens::new(store.clone()),
            ts43_cfg: ts43::Ts43Config::default(),
            admin_token: numbat_core::AdminToken::default(),
            consent_cfg: consent::ConsentConfig::default(),
            consent_channel: None,
            refresh_cfg: refresh::RefreshConfig::default(),
            ciba_cfg: ciba::CibaConfig::default(),
            ciba_channel: Arc::new(ciba::LogChannel),
            address_resolver: None,
            ciba_test_approval: false,
            store,
            keys,
            clock,
            pairwise: PairwiseSubjects::new(pairwise_secret),
            grants,
            metadata: parking_lot::Mutex::new((metadata_gen, serde_json::to_vec(&metadata).expect("metadata serializes").into())),
            derive_key,
        }
    }

    /// Validate operator tokens somewhere else (an operator's own entitlement server).
    pub fn with_operator_tokens(mut self, t: Arc<dyn ts43::OperatorTokens>) -> Self {
        self.operator_tokens = t;
        self
    }

    pub fn with_ciba_test_approval(mut self, on: bool) -> Self {
        self.ciba_test_approval = on;
        self
    }

    pub fn with_ts43_config(mut self, c: ts43::Ts43Config) -> Self {
        self.ts43_cfg = c;
        self
    }

    /// Enable the admin APIs with this bearer token (kept only as a SHA-256 digest).
    pub fn with_admin_token(mut self, token: &str) -> Self {
        self.admin_token = numbat_core::AdminToken::new(token);
        self
    }

    pub fn config(&self) -> &AsConfig {
        &self.cfg
    }

    /// The discovery document (OIDC Discovery / RFC 8414), serialized once per registry change.
    pub fn metadata_json(&self) -> Arc<[u8]> {
        let generation = self.registry.generation();
        let mut m = self.metadata.lock();
        if m.0 != generation {
            let v = discovery::metadata(&self.cfg, &self.keys, &self.registry, &self.grants);
            *m = (generation, serde_json::to_vec(&v).expect("metadata serializes").into());
        }
        m.1.clone()
    }

    /// The published JWKS as JSON.
    pub fn jwks_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.keys.jwks()).expect("jwks serializes")
    }

    pub(crate) fn random_token(&self) -> String {
        let mut b = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("system RNG");
        numbat_jose::b64_encode(&b)
    }
}
