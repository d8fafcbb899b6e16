//! Adapters the binary plugs between components that may not know each other (design.md):
//! the authorization server's CIBA `ipport:` hints resolved through the ingress's bindings.

use numbat_authorization_server::ciba::AddressResolver;
use numbat_core::Msisdn;
use numbat_network_ingress::bindings::Bindings;
use numbat_store::StoreError;
use std::net::IpAddr;

pub struct BindingsResolver {
    pub bindings: Bindings,
    pub domain: String,
    pub clock: std::sync::Arc<dyn numbat_core::Clock>,
}

#[async_trait::async_trait]
impl AddressResolver for BindingsResolver {
    async fn resolve(&self, ip: IpAddr, port: Option<u16>) -> Result<Option<Msisdn>, StoreError> {
        Ok(self.bindings.lookup(&self.domain, ip, port, self.clock.now()).await?.map(|b| b.msisdn))
    }
}

use numbat_authorization_server::ciba::DecisionChannel;
use numbat_authorization_server::ts43::{OperatorTokenError, OperatorTokens};
use std::time::Duration;

/// Operator-token validation by the operator's own entitlement server (issue 5 item 1).
///
/// `POST {url}` with `{"token": "...", "operation_target": "VerifyPhoneNumber"}`; a 200 answer
/// `{"msisdn": "+E164"}` accepts the token (the server must consume it: single use is its job),
/// any other 4xx refuses it, and a timeout, a 5xx or an unreadable answer is "unavailable":
/// numbat fails closed and never guesses a subscriber.
pub struct HttpOperatorTokens {
    url: String,
    client: reqwest::Client,
}

impl HttpOperatorTokens {
    pub fn new(url: String, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        Ok(HttpOperatorTokens { url, client })
    }
}

#[async_trait::async_trait]
impl OperatorTokens for HttpOperatorTokens {
    async fn redeem(&self, token: &str, target: &str, _now: i64) -> Result<Msisdn, OperatorTokenError> {
        if token.is_empty() || token.len() > 512 {
            return Err(OperatorTokenError::Invalid);
        }
        let body = serde_json::json!({"token": token, "operation_target": target});
        let r = self.client.post(&self.url).json(&body).send().await.map_err(|e| {
            tracing::warn!(error = %e, "entitlement server unreachable");
            OperatorTokenError::Unavailable
        })?;
        let status = r.status();
        if status.is_server_error() {
            return Err(OperatorTokenError::Unavailable);
        }
        if !status.is_success() {
            return Err(OperatorTokenError::Invalid);
        }
        let v: serde_json::Value = r.json().await.map_err(|_| OperatorTokenError::Unavailable)?;
        v.get("msisdn").and_then(|m| m.as_str()).and_then(|m| Msisdn::parse(m).ok()).ok_or(OperatorTokenError::Unavailable)
    }
}

/// CIBA authentication-device channel over a webhook: `POST {url}` with
/// `{"auth_req_id", "client_id", "purpose"}`; the operator's channel reaches the subscriber and
/// reports the decision back through numbat's decision API.
pub struct WebhookChannel {
    url: String,
    client: reqwest::Client,
}

impl WebhookChannel {
    pub fn new(url: String, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        Ok(WebhookChannel { url, client })
    }
}

#[async_trait::async_trait]
impl DecisionChannel for WebhookChannel {
    async fn request_decision(&self, auth_req_id: &str, client_id: &str, purpose: &str) {
        let body = serde_json::json!({"auth_req_id": auth_req_id, "client_id": client_id, "purpose": purpose});
        match self.client.post(&self.url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(status = r.status().as_u16(), "CIBA webhook refused the decision request"),
            Err(e) => tracing::warn!(error = %e, "CIBA webhook unreachable; the request stays pending until it expires"),
        }
    }
}
