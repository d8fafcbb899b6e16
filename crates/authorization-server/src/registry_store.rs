//! Store clients (issue 4 item 2): the clients registered through the admin API live in the
//! shared store as one versioned document (`keys::CLIENTS`) with a revision key
//! (`keys::CLIENTS_REV`). Writers take `keys::CLIENTS_LOCK` (`put_if_absent`, short TTL), read,
//! change, write the document and a new revision, and release; every instance polls the revision
//! every few seconds and re-reads the document only when it changed, then swaps its in-memory
//! snapshot ([`crate::registry::ClientRegistry`]), re-using the parsed keys of clients that did
//! not change.
//!
//! Every store value has a TTL: the document is rewritten with a fresh 400-day TTL by every
//! change and, when it has not changed for 30 days, by the next instance that notices.

use crate::registry::{ClientSource, RegisteredClient};
use crate::AuthorizationServer;
use numbat_core::Client;
use numbat_store::{keys, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const DOC_VERSION: u32 = 1;
const DOC_TTL: Duration = Duration::from_secs(400 * 24 * 3600);
/// A document not rewritten for this long is rewritten (its TTL renewed).
const REFRESH_AFTER_S: i64 = 30 * 24 * 3600;
const LOCK_TTL: Duration = Duration::from_secs(5);
const LOCK_TRIES: usize = 100;
/// At most this many clients in the store.
pub const MAX_STORE_CLIENTS: usize = 10_000;

/// One client as the admin API registered it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredClient {
    pub client: Client,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientsDoc {
    pub v: u32,
    pub rev: u64,
    pub written_at: i64,
    pub clients: BTreeMap<String, StoredClient>,
}

/// A failed change of the store clients, before it is mapped to an admin error.
#[derive(Debug)]
pub(crate) enum ModifyError<E> {
    Store(StoreError),
    /// Another writer held the lock for too long.
    Busy,
    Rejected(E),
}

impl<E> From<StoreError> for ModifyError<E> {
    fn from(e: StoreError) -> Self {
        ModifyError::Store(e)
    }
}

fn random_rev() -> u64 {
    let mut b = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("system RNG");
    u64::from_le_bytes(b)
}

impl AuthorizationServer {
    /// The store clients' document (empty when none was ever written).
    pub(crate) async fn read_clients_doc(&self) -> Result<ClientsDoc, StoreError> {
        match self.store.get(keys::CLIENTS).await? {
            None => Ok(ClientsDoc { v: DOC_VERSION, ..Default::default() }),
            Some(b) => {
                let doc: ClientsDoc = serde_json::from_slice(&b)
                    .map_err(|e| StoreError::Unavailable(format!("stored clients unreadable: {e}")))?;
                if doc.v != DOC_VERSION {
                    return Err(StoreError::Unavailable(format!("stored clients have version {}", doc.v)));
                }
                Ok(doc)
            }
        }
    }

    async fn write_clients_doc(&self, doc: &ClientsDoc) -> Result<(), StoreError> {
        let body = serde_json::to_vec(doc).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.store.put(keys::CLIENTS, &body, DOC_TTL).await?;
        self.store.put(keys::CLIENTS_REV, doc.rev.to_string().as_bytes(), DOC_TTL).await
    }

    /// Change the store clients under the writers' lock, then apply the result here at once.
    pub(crate) async fn modify_clients<T, E>(
        &self,
        f: impl FnOnce(&mut ClientsDoc) -> Result<T, E>,
    ) -> Result<T, ModifyError<E>> {
        let token = self.random_token();
        let mut tries = 0;
        while !self.store.put_if_absent(keys::CLIENTS_LOCK, token.as_bytes(), LOCK_TTL).await? {
            tries += 1;
            if tries >= LOCK_TRIES {
                return Err(ModifyError::Busy);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let result = async {
            let mut doc = self.read_clients_doc().await?;
            let out = f(&mut doc).map_err(ModifyError::Rejected)?;
            doc.v = DOC_VERSION;
            doc.rev = random_rev();
            doc.written_at = self.clock.now();
            self.write_clients_doc(&doc).await?;
            Ok::<_, ModifyError<E>>((out, doc))
        }
        .await;
        if let Err(e) = self.store.delete_if(keys::CLIENTS_LOCK, token.as_bytes()).await {
            tracing::warn!(error = %e, "client registry lock not released; it expires on its own");
        }
        let (out, doc) = result?;
        let _order = self.registry.apply_lock.lock().await;
        self.apply_clients_doc(&doc);
        Ok(out)
    }

    /// Build the snapshot of store clients from `doc`: parsed once, re-used while unchanged;
    /// an invalid one (e.g. a policy tightened since) is skipped with a warning, and a
    /// configuration client of the same id wins.
    fn apply_clients_doc(&self, doc: &ClientsDoc) {
        let current = self.registry.dynamic_snapshot();
        let policy = self.registry.policy();
        let mut map = HashMap::with_capacity(doc.clients.len());
        for (id, stored) in &doc.clients {
            if self.registry.is_fixed(id) {
                tracing::warn!(client_id = %id, "a store client has the id of a configuration client; the configuration wins");
                continue;
            }
            if let Some(c) = current.get(id).filter(|c| c.client == stored.client) {
                map.insert(id.clone(), c.clone());
                continue;
            }
            match RegisteredClient::with_policy(stored.client.clone(), policy, ClientSource::Store) {
                Ok(c) => {
                    map.insert(id.clone(), Arc::new(c));
                }
                Err(e) => tracing::warn!(error = %e, "store client skipped"),
            }
        }
        self.registry.replace_dynamic(map, Some(doc.rev));
    }

    /// Re-read the store clients if their revision changed (every instance, every few seconds).
    /// True when the snapshot was rebuilt.
    pub async fn reload_clients(&self) -> Result<bool, StoreError> {
        let _order = self.registry.apply_lock.lock().await;
        let rev = self.store.get(keys::CLIENTS_REV).await?;
        let rev = rev.and_then(|b| std::str::from_utf8(&b).ok().and_then(|s| s.parse::<u64>().ok()));
        let due = self.registry.full_read_due();
        if rev.is_some() && rev == self.registry.known_rev() && !due {
            return Ok(false);
        }
        let doc = self.read_clients_doc().await?;
        self.registry.note_full_read();
        let changed = Some(doc.rev) != self.registry.known_rev();
        if changed {
            self.apply_clients_doc(&doc);
        }
        drop(_order);
        if !doc.clients.is_empty() && self.clock.now() - doc.written_at > REFRESH_AFTER_S {
            // Renew the TTL of a document nobody changed for a month (rewrite it as it is).
            if let Err(ModifyError::Store(e)) = self.modify_clients(|_| Ok::<(), ()>(())).await {
                return Err(e);
            }
        }
        Ok(changed)
    }
}
