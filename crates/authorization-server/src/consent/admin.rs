//! The consent admin API's domain side (list and revoke; `http/consent.rs` is the adapter):
//! the subscriber comes in a JSON body, never in a URL.

use crate::AuthorizationServer;
use numbat_core::Msisdn;
use numbat_store::StoreError;
use serde::{Deserialize, Serialize};

/// The body of `POST /admin/consents/search` and `/admin/consents/revoke` (the MSISDN never in
/// a URL).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentAdminRequest {
    pub msisdn: Option<String>,
    pub client_id: Option<String>,
    pub purpose: Option<String>,
}

/// An entry of the admin listing (the subscriber is the one asked about; not repeated).
#[derive(Debug, Serialize)]
pub struct ConsentView {
    pub client_id: String,
    pub purpose: String,
    pub legal_basis: &'static str,
    pub scopes: Vec<String>,
    pub offline_access: bool,
    pub granted_at: i64,
    pub expires_at: i64,
}

/// Admin API failures (mapped to the wire in `http/errors.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentAdminError {
    Forbidden,
    InvalidRequest(&'static str),
    NotFound,
    Unavailable,
}

impl From<StoreError> for ConsentAdminError {
    fn from(_: StoreError) -> Self {
        ConsentAdminError::Unavailable
    }
}

impl AuthorizationServer {
    fn admin_msisdn(
        &self,
        bearer: Option<&str>,
        msisdn: Option<&str>,
    ) -> Result<Msisdn, ConsentAdminError> {
        if !self.admin_token_ok(bearer) {
            return Err(ConsentAdminError::Forbidden);
        }
        let m = msisdn.ok_or(ConsentAdminError::InvalidRequest("msisdn is required"))?;
        Msisdn::parse(m).map_err(|_| ConsentAdminError::InvalidRequest("msisdn must be E.164"))
    }

    /// The (client, purpose) pairs to look at: one client's purposes, or every client's.
    fn consent_slots(
        &self,
        client_id: Option<&str>,
    ) -> Result<Vec<(String, String)>, ConsentAdminError> {
        let clients: Vec<_> = match client_id {
            Some(id) => vec![self.registry.get(id).ok_or(ConsentAdminError::NotFound)?],
            None => self.registry.all(),
        };
        Ok(clients
            .iter()
            .flat_map(|c| {
                c.client
                    .scopes
                    .iter()
                    .filter(|s| s.starts_with(numbat_core::scope::PURPOSE_PREFIX))
                    .map(|p| (c.client.client_id.clone(), p.clone()))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Admin: the consents a subscriber gave (to one client or to any).
    pub async fn admin_list_consents(
        &self,
        bearer: Option<&str>,
        msisdn: Option<&str>,
        client_id: Option<&str>,
    ) -> Result<Vec<ConsentView>, ConsentAdminError> {
        let m = self.admin_msisdn(bearer, msisdn)?;
        let mut out = Vec::new();
        for (client, purpose) in self.consent_slots(client_id)? {
            if let Some(r) = self.consent_on_record(&client, &m, &purpose).await? {
                out.push(ConsentView {
                    legal_basis: self.legal_basis(&r.purpose).as_str(),
                    client_id: r.client_id,
                    purpose: r.purpose,
                    scopes: r.scopes,
                    offline_access: r.offline_access,
                    granted_at: r.granted_at,
                    expires_at: r.exp,
                });
            }
        }
        Ok(out)
    }

    /// Admin: revoke a subscriber's consents to a client (one purpose or all). Tokens already
    /// issued run out; refresh stops at once (P-56), new requests need consent again.
    /// Returns how many were revoked; none is `NotFound`.
    pub async fn admin_revoke_consents(
        &self,
        bearer: Option<&str>,
        msisdn: Option<&str>,
        client_id: Option<&str>,
        purpose: Option<&str>,
    ) -> Result<usize, ConsentAdminError> {
        let m = self.admin_msisdn(bearer, msisdn)?;
        let client_id =
            client_id.ok_or(ConsentAdminError::InvalidRequest("client_id is required"))?;
        let mut n = 0;
        for (client, p) in self.consent_slots(Some(client_id))? {
            if purpose.is_some_and(|want| want != p) {
                continue;
            }
            if self
                .store
                .delete(&self.consent_key(&client, &m, &p))
                .await?
            {
                n += 1;
            }
        }
        if n == 0 {
            return Err(ConsentAdminError::NotFound);
        }
        tracing::info!(client_id, revoked = n, "consent revoked by the operator");
        Ok(n)
    }
}
