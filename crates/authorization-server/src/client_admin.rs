//! The clients admin API in domain terms (issue 4 item 2): create, list, show, replace and
//! remove store clients. Configuration clients are listed and shown but read-only (409).
//! `http/admin_clients.rs` adapts these to HTTP; `http/errors.rs` maps [`ClientAdminError`].
//!
//! Input is RFC 7591-shaped client metadata ([`ClientRequest`]); a client secret is accepted
//! once (or generated and returned once) and only its argon2 hash is kept.

use crate::client_secret;
use crate::registry::{check_redirect_uri, client_id_ok, AuthMethod, ClientSource, RegisteredClient};
use crate::registry_store::{ModifyError, StoredClient, MAX_STORE_CLIENTS};
use crate::AuthorizationServer;
use numbat_core::{Client, GrantType};
use numbat_store::StoreError;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAdminError {
    /// The admin token is missing or wrong.
    Unauthorized,
    NotFound,
    /// The client exists already, or is a configuration client (read-only).
    Conflict(String),
    /// RFC 7591 `invalid_client_metadata`.
    InvalidMetadata(String),
    /// RFC 7591 `invalid_redirect_uri`.
    InvalidRedirectUri(String),
    /// The metadata is larger than the API accepts.
    TooLarge,
    Unavailable,
}

impl From<StoreError> for ClientAdminError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store error (clients admin)");
        ClientAdminError::Unavailable
    }
}

impl<E: Into<ClientAdminError>> From<ModifyError<E>> for ClientAdminError {
    fn from(e: ModifyError<E>) -> Self {
        match e {
            ModifyError::Store(e) => e.into(),
            ModifyError::Busy => ClientAdminError::Unavailable,
            ModifyError::Rejected(e) => e.into(),
        }
    }
}

fn invalid(d: impl Into<String>) -> ClientAdminError {
    ClientAdminError::InvalidMetadata(d.into())
}

/// Client metadata as the admin API takes it (the shape of `[[clients]]` in the configuration).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    /// Generated when absent on create; must equal the path's on replace.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default = "default_grants")]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    #[serde(default = "default_id_alg")]
    pub id_token_signed_response_alg: String,
    #[serde(default)]
    pub sector_identifier: Option<String>,
    #[serde(default = "yes")]
    pub require_pkce: bool,
    #[serde(default)]
    pub default_purpose: Option<String>,
    #[serde(default)]
    pub jwt_bearer_subjects: Vec<String>,
    #[serde(default)]
    pub ciba_login_hints: Vec<String>,
    /// A JWKS object (or the same as a JSON string).
    #[serde(default)]
    pub jwks: Option<Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// A plain secret for `client_secret_*` clients, hashed at once; generated when absent.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub access_token_ttl_s: Option<i64>,
    #[serde(default)]
    pub id_token_ttl_s: Option<i64>,
}

fn default_grants() -> Vec<String> {
    vec!["authorization_code".into()]
}
fn default_auth_method() -> String {
    "private_key_jwt".into()
}
/// OIDC Registration: RS256 when a client registers none (S-03).
fn default_id_alg() -> String {
    "RS256".into()
}
fn yes() -> bool {
    true
}

/// The pairwise sector when none is given: the one host of the redirect URIs (P-85).
pub fn default_sector(redirect_uris: &[String]) -> Result<String, String> {
    let hosts: std::collections::BTreeSet<String> = redirect_uris
        .iter()
        .filter_map(|u| url::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_owned)))
        .collect();
    if hosts.len() != 1 {
        return Err("sector_identifier is required unless the redirect URIs share one host (P-85)".into());
    }
    Ok(hosts.into_iter().next().unwrap_or_default())
}

/// The view of a client the admin API shows: its metadata without the secret hash.
pub fn client_view(c: &Client, source: ClientSource, stored: Option<&StoredClient>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("client_secret_hash");
        if o.get("jwks").is_some_and(Value::is_null) {
            o.remove("jwks");
        }
        o.insert("source".into(), source.as_str().into());
        if let Some(s) = stored {
            o.insert("created_at".into(), s.created_at.into());
            o.insert("updated_at".into(), s.updated_at.into());
        }
    }
    v
}

impl AuthorizationServer {
    fn admin_check(&self, bearer: Option<&str>) -> Result<(), ClientAdminError> {
        if self.admin_token_ok(bearer) {
            Ok(())
        } else {
            Err(ClientAdminError::Unauthorized)
        }
    }

    /// Turn a request into a validated client. `existing_hash` keeps a replaced client's secret
    /// when no new one is given. Returns the client and the secret to show once (generated).
    async fn client_from_request(
        &self,
        r: ClientRequest,
        client_id: String,
        existing_hash: Option<String>,
    ) -> Result<(RegisteredClient, Option<String>), ClientAdminError> {
        if !client_id_ok(&client_id) {
            return Err(invalid("client_id must be 1..=128 characters of A-Z a-z 0-9 . _ ~ -"));
        }
        let mut grant_types = Vec::new();
        for g in &r.grant_types {
            grant_types.push(GrantType::parse(g).ok_or_else(|| invalid(format!("unknown grant type {g:.64}")))?);
        }
        for uri in &r.redirect_uris {
            check_redirect_uri(uri).map_err(ClientAdminError::InvalidRedirectUri)?;
        }
        let sector = match r.sector_identifier {
            Some(s) => s,
            None => default_sector(&r.redirect_uris).map_err(invalid)?,
        };
        let jwks = match r.jwks {
            None => Value::Null,
            Some(Value::String(s)) => serde_json::from_str(&s).map_err(|e| invalid(format!("jwks: {e}")))?,
            Some(v) => v,
        };
        let method = AuthMethod::parse(&r.token_endpoint_auth_method).ok_or_else(|| {
            invalid(format!("token_endpoint_auth_method {:.64} is not supported", r.token_endpoint_auth_method))
        })?;
        let (client_secret_hash, shown) = match (method.uses_secret(), r.client_secret) {
            (false, Some(_)) => {
                return Err(invalid("client_secret is only for client_secret_basic/client_secret_post"))
            }
            (false, None) => (None, None),
            (true, _) if !self.registry.policy().allow_client_secrets => {
                return Err(invalid("client secrets are off on this server; CAMARA clients use private_key_jwt (P-88)"))
            }
            (true, Some(s)) => {
                client_secret::check_secret(&s).map_err(invalid)?;
                (Some(client_secret::hash_blocking(s).await.map_err(|_| ClientAdminError::Unavailable)?), None)
            }
            (true, None) => match existing_hash {
                Some(h) => (Some(h), None),
                None => {
                    let s = client_secret::generate();
                    (
                        Some(client_secret::hash_blocking(s.clone()).await.map_err(|_| ClientAdminError::Unavailable)?),
                        Some(s),
                    )
                }
            },
        };
        let client = Client {
            client_id,
            redirect_uris: r.redirect_uris,
            grant_types,
            scopes: r.scopes,
            token_endpoint_auth_method: method.as_str().into(),
            id_token_signed_response_alg: r.id_token_signed_response_alg,
            sector_identifier: sector,
            require_pkce: r.require_pkce,
            default_purpose: r.default_purpose,
            jwt_bearer_subjects: r.jwt_bearer_subjects,
            ciba_login_hints: r.ciba_login_hints,
            jwks,
            jwks_uri: r.jwks_uri,
            client_secret_hash,
            access_token_ttl_s: r.access_token_ttl_s,
            id_token_ttl_s: r.id_token_ttl_s,
        };
        let reg = RegisteredClient::with_policy(client, self.registry.policy(), ClientSource::Store)
            .map_err(|e| invalid(e.reason))?;
        if self.keys.signer(reg.id_token_alg).is_none() {
            return Err(invalid(format!("no {} signing key is configured for ID tokens", reg.id_token_alg.as_str())));
        }
        Ok((reg, shown))
    }

    fn parse_request(body: &[u8]) -> Result<ClientRequest, ClientAdminError> {
        serde_json::from_slice(body).map_err(|e| invalid(format!("client metadata: {e}")))
    }

    /// `POST /admin/clients`: register a store client. The answer shows a generated secret once.
    pub async fn admin_create_client(&self, bearer: Option<&str>, body: &[u8]) -> Result<Value, ClientAdminError> {
        self.admin_check(bearer)?;
        let r = Self::parse_request(body)?;
        let id = r.client_id.clone().unwrap_or_else(|| self.random_token()[..22].to_owned());
        if self.registry.is_fixed(&id) {
            return Err(ClientAdminError::Conflict(format!("client {id} is a configuration client")));
        }
        let (reg, shown) = self.client_from_request(r, id.clone(), None).await?;
        let now = self.clock.now();
        let client = reg.client;
        let stored = self
            .modify_clients(|doc| {
                if doc.clients.contains_key(&id) {
                    return Err(ClientAdminError::Conflict(format!("client {id} exists")));
                }
                if doc.clients.len() >= MAX_STORE_CLIENTS {
                    return Err(invalid(format!("at most {MAX_STORE_CLIENTS} clients")));
                }
                let s = StoredClient { client, created_at: now, updated_at: now };
                doc.clients.insert(id.clone(), s.clone());
                Ok(s)
            })
            .await?;
        tracing::info!(client_id = %id, "client registered");
        let mut v = client_view(&stored.client, ClientSource::Store, Some(&stored));
        if let Some(s) = shown {
            v["client_secret"] = Value::String(s);
        }
        Ok(v)
    }

    /// `PUT /admin/clients/{id}`: replace a store client's metadata.
    pub async fn admin_replace_client(
        &self,
        bearer: Option<&str>,
        id: &str,
        body: &[u8],
    ) -> Result<Value, ClientAdminError> {
        self.admin_check(bearer)?;
        if self.registry.is_fixed(id) {
            return Err(ClientAdminError::Conflict(format!("client {id} is a configuration client (read-only)")));
        }
        let r = Self::parse_request(body)?;
        if r.client_id.as_deref().is_some_and(|c| c != id) {
            return Err(invalid("client_id differs from the one in the path"));
        }
        let doc = self.read_clients_doc().await?;
        let old = doc.clients.get(id).ok_or(ClientAdminError::NotFound)?;
        let (reg, shown) = self.client_from_request(r, id.to_owned(), old.client.client_secret_hash.clone()).await?;
        let now = self.clock.now();
        let client = reg.client;
        let stored = self
            .modify_clients(|doc| {
                let s = doc.clients.get_mut(id).ok_or(ClientAdminError::NotFound)?;
                s.client = client;
                s.updated_at = now;
                Ok::<_, ClientAdminError>(s.clone())
            })
            .await?;
        tracing::info!(client_id = %id, "client replaced");
        let mut v = client_view(&stored.client, ClientSource::Store, Some(&stored));
        if let Some(s) = shown {
            v["client_secret"] = Value::String(s);
        }
        Ok(v)
    }

    /// `DELETE /admin/clients/{id}`.
    pub async fn admin_delete_client(&self, bearer: Option<&str>, id: &str) -> Result<(), ClientAdminError> {
        self.admin_check(bearer)?;
        if self.registry.is_fixed(id) {
            return Err(ClientAdminError::Conflict(format!("client {id} is a configuration client (read-only)")));
        }
        self.modify_clients(|doc| doc.clients.remove(id).map(|_| ()).ok_or(ClientAdminError::NotFound)).await?;
        tracing::info!(client_id = %id, "client removed");
        Ok(())
    }

    /// `GET /admin/clients/{id}`.
    pub async fn admin_get_client(&self, bearer: Option<&str>, id: &str) -> Result<Value, ClientAdminError> {
        self.admin_check(bearer)?;
        if let Some(c) = self.registry.get(id).filter(|c| c.source == ClientSource::Config) {
            return Ok(client_view(&c.client, ClientSource::Config, None));
        }
        let doc = self.read_clients_doc().await?;
        let s = doc.clients.get(id).ok_or(ClientAdminError::NotFound)?;
        Ok(client_view(&s.client, ClientSource::Store, Some(s)))
    }

    /// `GET /admin/clients`: configuration and store clients, by id.
    pub async fn admin_list_clients(&self, bearer: Option<&str>) -> Result<Value, ClientAdminError> {
        self.admin_check(bearer)?;
        let mut out: Vec<(String, Value)> = self
            .registry
            .all()
            .into_iter()
            .filter(|c| c.source == ClientSource::Config)
            .map(|c| (c.client.client_id.clone(), client_view(&c.client, ClientSource::Config, None)))
            .collect();
        let doc = self.read_clients_doc().await?;
        out.extend(
            doc.clients
                .iter()
                .filter(|(id, _)| !self.registry.is_fixed(id))
                .map(|(id, s)| (id.clone(), client_view(&s.client, ClientSource::Store, Some(s)))),
        );
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(serde_json::json!({ "clients": out.into_iter().map(|(_, v)| v).collect::<Vec<_>>() }))
    }
}
