//! Moving IPv4 bindings stored under the key layout before the hash tag (see
//! [`crate::keys::legacy_binding_key`]) to their current names, for an upgrade
//! (`numbat bindings migrate-keys`; `deploy/redis-cluster/README.md`). Run it with every numbat
//! instance stopped: it is not atomic against writers.
//!
//! Every master is scanned (`SCAN … MATCH`, a cluster's masters from `CLUSTER NODES`); each
//! legacy key is copied with its remaining TTL (`DUMP`, `PTTL`, `RESTORE`, which also works
//! across cluster slots) and then deleted. A current key that already exists is newer and wins:
//! the legacy one is only deleted.

use crate::redis_backend::{unavailable, Conn, RedisStore};
use crate::StoreError;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Value};

/// What a migration did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// Legacy keys copied to their current names (then deleted).
    pub moved: u64,
    /// Legacy keys whose current name already held a binding (deleted, not copied).
    pub superseded: u64,
}

impl RedisStore {
    /// Move every legacy IPv4 binding key under this store's prefix to its current name.
    pub async fn migrate_legacy_binding_keys(&self) -> Result<Migrated, StoreError> {
        let mut done = Migrated::default();
        let pattern = format!("{}bind:*:v4*:*", self.prefix);
        for node in self.masters().await? {
            let mut cursor = "0".to_owned();
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(&cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
                let (next, keys): (String, Vec<String>) = redis::from_redis_value(self.on_node(&scan, node.as_ref()).await?)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                for full in keys {
                    let Some(current) = full.strip_prefix(&self.prefix).and_then(crate::keys::legacy_binding_key) else {
                        continue;
                    };
                    self.move_key(&full, &format!("{}{current}", self.prefix), &mut done).await?;
                }
                if next == "0" {
                    break;
                }
                cursor = next;
            }
        }
        Ok(done)
    }

    async fn move_key(&self, from: &str, to: &str, done: &mut Migrated) -> Result<(), StoreError> {
        let payload: Option<Vec<u8>> = self.query(redis::cmd("DUMP").arg(from)).await?;
        let Some(payload) = payload else { return Ok(()) };
        let pttl: i64 = self.query(redis::cmd("PTTL").arg(from)).await?;
        if pttl == -2 {
            return Ok(()); // expired meanwhile
        }
        // RESTORE's 0 means "no expiry"; every numbat key has one, so -1 cannot come from numbat.
        let restored: Result<Value, StoreError> =
            self.query(redis::cmd("RESTORE").arg(to).arg(pttl.max(1)).arg(payload)).await;
        match restored {
            Ok(_) => done.moved += 1,
            Err(StoreError::Unavailable(e)) if e.contains("BUSYKEY") => done.superseded += 1,
            Err(e) => return Err(e),
        }
        let _: i64 = self.query(redis::cmd("DEL").arg(from)).await?;
        Ok(())
    }

    /// `None` for a single node; each master's address on a cluster.
    async fn masters(&self) -> Result<Vec<Option<(String, u16)>>, StoreError> {
        if matches!(self.conn, Conn::Single(_)) {
            return Ok(vec![None]);
        }
        let nodes: String = self.query(&redis::cmd("CLUSTER").arg("NODES").to_owned()).await?;
        let mut masters = Vec::new();
        for line in nodes.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() < 3 || !f[2].split(',').any(|x| x == "master") || f[2].contains("fail") || f[2].contains("noaddr") {
                continue;
            }
            let addr = f[1].split('@').next().unwrap_or_default();
            if let Some((host, port)) = addr.rsplit_once(':') {
                if let Ok(port) = port.parse() {
                    masters.push(Some((host.to_owned(), port)));
                }
            }
        }
        if masters.is_empty() {
            return Err(StoreError::Unavailable("CLUSTER NODES listed no master".into()));
        }
        Ok(masters)
    }

    async fn on_node(&self, cmd: &Cmd, node: Option<&(String, u16)>) -> Result<Value, StoreError> {
        match (self.conn.clone(), node) {
            (Conn::Cluster(mut c), Some((host, port))) => {
                let to = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port });
                c.route_command(cmd.clone(), to).await.map_err(unavailable)
            }
            _ => self.query(cmd).await,
        }
    }
}
