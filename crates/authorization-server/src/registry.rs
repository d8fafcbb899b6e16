//! The client registry: each client's metadata with its keys parsed once, at load.

use numbat_core::Client;
use numbat_jose::{Alg, KeySet};
use std::collections::HashMap;
use std::sync::Arc;

/// A client ready for requests: metadata plus parsed verifying keys.
#[derive(Debug)]
pub struct RegisteredClient {
    pub client: Client,
    pub keys: KeySet,
    /// Algorithms accepted for this client's `private_key_jwt` assertions.
    pub auth_algs: Vec<Alg>,
    /// Algorithm numbat signs this client's ID tokens with.
    pub id_token_alg: Alg,
}

#[derive(Debug, thiserror::Error)]
#[error("client {client_id}: {reason}")]
pub struct ClientConfigError {
    pub client_id: String,
    pub reason: String,
}

impl RegisteredClient {
    pub fn new(client: Client) -> Result<Self, ClientConfigError> {
        let err = |reason: String| ClientConfigError { client_id: client.client_id.clone(), reason };
        if client.token_endpoint_auth_method != "private_key_jwt" {
            return Err(err(format!(
                "token_endpoint_auth_method {} is not supported (private_key_jwt, P-88)",
                client.token_endpoint_auth_method
            )));
        }
        let keys = KeySet::from_jwks_value(&client.jwks).map_err(|e| err(format!("jwks: {e}")))?;
        if keys.is_empty() {
            return Err(err("jwks: private_key_jwt needs at least one key".into()));
        }
        for uri in &client.redirect_uris {
            let u = url::Url::parse(uri).map_err(|e| err(format!("redirect URI {uri}: {e}")))?;
            if u.fragment().is_some() {
                return Err(err(format!("redirect URI {uri} must not have a fragment")));
            }
        }
        let id_token_alg = Alg::parse(&client.id_token_signed_response_alg)
            .ok_or_else(|| err(format!("id_token_signed_response_alg {} not supported", client.id_token_signed_response_alg)))?;
        Ok(RegisteredClient { client, keys, auth_algs: Alg::ALL.to_vec(), id_token_alg })
    }
}

#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: HashMap<String, Arc<RegisteredClient>>,
}

impl ClientRegistry {
    pub fn new(clients: Vec<RegisteredClient>) -> Self {
        ClientRegistry { clients: clients.into_iter().map(|c| (c.client.client_id.clone(), Arc::new(c))).collect() }
    }

    pub fn get(&self, client_id: &str) -> Option<Arc<RegisteredClient>> {
        self.clients.get(client_id).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<RegisteredClient>> {
        self.clients.values()
    }
}
