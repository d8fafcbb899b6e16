//! The operator's channels for consent confirmation codes (P-21; the authorization server's
//! [`ConfirmationChannel`]): the code reaches the subscriber out of band, where the app that
//! made the request can neither read nor script it.
//!
//! - [`WebhookConfirmation`] (`[consent] confirmation_channel = "webhook"`): `POST {url}` with
//!   `{"msisdn", "code", "client_id", "purpose"}` to the operator's SMS / USSD / app-push
//!   gateway. Anything but a 2xx within the timeout is a failure, and numbat fails closed (no
//!   consent page).
//! - [`LogConfirmation`] (`"log"`): DEV ONLY. Writes the code and the page's pending id to the
//!   server log (never the MSISDN), so the demo page can be approved by reading the log. Anyone
//!   who can read the log can approve: never in production.

use numbat_authorization_server::consent::{ConfirmationChannel, ConfirmationError};
use numbat_core::Msisdn;
use std::time::Duration;

/// Confirmation codes through the operator's gateway (a webhook).
pub struct WebhookConfirmation {
    url: String,
    client: reqwest::Client,
}

impl WebhookConfirmation {
    pub fn new(url: String, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(WebhookConfirmation { url, client })
    }
}

#[async_trait::async_trait]
impl ConfirmationChannel for WebhookConfirmation {
    async fn send_code(
        &self,
        to: &Msisdn,
        code: &str,
        client_id: &str,
        purpose: &str,
        _reference: &str,
    ) -> Result<(), ConfirmationError> {
        let body = serde_json::json!({
            "msisdn": to.as_str(),
            "code": code,
            "client_id": client_id,
            "purpose": purpose,
        });
        match self.client.post(&self.url).json(&body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(ConfirmationError(format!(
                "confirmation gateway answered {}",
                r.status().as_u16()
            ))),
            // Without the URL: it is configuration, and reqwest's message may repeat it.
            Err(e) => Err(ConfirmationError(if e.is_timeout() {
                "confirmation gateway timed out".into()
            } else {
                "confirmation gateway unreachable".into()
            })),
        }
    }
}

/// DEV ONLY: the confirmation code in the server log, next to the page's pending id.
pub struct LogConfirmation;

#[async_trait::async_trait]
impl ConfirmationChannel for LogConfirmation {
    async fn send_code(
        &self,
        _to: &Msisdn,
        code: &str,
        client_id: &str,
        purpose: &str,
        reference: &str,
    ) -> Result<(), ConfirmationError> {
        tracing::warn!(
            pending = reference,
            code,
            client_id,
            purpose,
            "DEV ONLY consent confirmation code (consent.confirmation_channel = \"log\")"
        );
        Ok(())
    }
}
