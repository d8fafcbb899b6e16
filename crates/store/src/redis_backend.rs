//! Redis backend: one node (`redis://`, `rediss://`) or Redis Cluster (`redis+cluster://a:p,b:p`).
//!
//! Each trait method is one round trip: plain commands where Redis has one (`SET … PX`,
//! `SET … NX PX`, `GETDEL`), a Lua script loaded once (EVALSHA) where it has none
//! (compare-and-delete, rate limit). Every script touches one key, so it is cluster-safe.

use crate::{check_ttl, RateDecision, Store, StoreError};
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Script};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

pub struct RedisStore {
    conn: Conn,
    prefix: String,
    delete_if: Script,
    rate_limit: Script,
}

const DELETE_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

const RATE_LIMIT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Connect and check the connection with a PING; fails when Redis cannot be reached.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let conn = if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
            let client = redis::cluster::ClusterClientBuilder::new(nodes)
                .connection_timeout(TIMEOUT)
                .response_timeout(TIMEOUT)
                .build()
                .map_err(|e| StoreError::Config(e.to_string()))?;
            Conn::Cluster(client.get_async_connection().await.map_err(unavailable)?)
        } else {
            let client = redis::Client::open(url).map_err(|e| StoreError::Config(e.to_string()))?;
            let cfg = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(TIMEOUT))
                .set_response_timeout(Some(TIMEOUT))
                .set_number_of_retries(2);
            let mgr = tokio::time::timeout(TIMEOUT * 2, client.get_connection_manager_with_config(cfg))
                .await
                .map_err(|_| StoreError::Unavailable("timed out connecting to Redis".into()))?
                .map_err(unavailable)?;
            Conn::Single(mgr)
        };
        let store = RedisStore {
            conn,
            prefix: prefix.to_owned(),
            delete_if: Script::new(DELETE_IF),
            rate_limit: Script::new(RATE_LIMIT),
        };
        store.ping().await?;
        Ok(store)
    }

    fn key(&self, k: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + k.len());
        s.push_str(&self.prefix);
        s.push_str(k);
        s
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        match self.conn.clone() {
            Conn::Single(mut c) => cmd.query_async(&mut c).await.map_err(unavailable),
            Conn::Cluster(mut c) => cmd.query_async(&mut c).await.map_err(unavailable),
        }
    }

    async fn script<T: FromRedisValue>(&self, script: &Script, key: &str, arg: &[u8]) -> Result<T, StoreError> {
        let mut inv = script.key(key);
        inv.arg(arg);
        match self.conn.clone() {
            Conn::Single(mut c) => inv.invoke_async(&mut c).await.map_err(unavailable),
            Conn::Cluster(mut c) => inv.invoke_async(&mut c).await.map_err(unavailable),
        }
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let ms = check_ttl(ttl)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("PX").arg(ms);
        self.query::<()>(&cmd).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.query(&cmd).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        Ok(self.query::<u64>(&cmd).await? > 0)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.key(key));
        self.query(&cmd).await
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let ms = check_ttl(ttl)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value).arg("NX").arg("PX").arg(ms);
        let r: Option<String> = self.query(&cmd).await?;
        Ok(r.is_some())
    }

    async fn delete_if(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        let n: u64 = self.script(&self.delete_if, &self.key(key), expected).await?;
        Ok(n > 0)
    }

    async fn rate_limit(&self, key: &str, limit: u64, window: Duration) -> Result<RateDecision, StoreError> {
        let ms = check_ttl(window)?;
        let count: u64 = self.script(&self.rate_limit, &self.key(key), ms.to_string().as_bytes()).await?;
        Ok(RateDecision { allowed: count <= limit, count })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let r: String = self.query(&redis::cmd("PING")).await?;
        if r == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!("unexpected PING answer {r}")))
        }
    }
}
