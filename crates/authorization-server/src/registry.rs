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
        // P-79/P-80: a client's purposes are DPV purposes, so every purpose it can request is.
        if let Some(p) = client.scopes.iter().find(|s| s.starts_with("dpv:") && !numbat_core::dpv::is_known_purpose(s)) {
            return Err(err(format!("scope {p} is not a DPV purpose (P-79)")));
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
}
