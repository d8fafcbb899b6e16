//! Redis backend: one node (`redis://`, `rediss://`) or Redis Cluster (`redis+cluster://a:p,b:p`).
//!
//! Each trait method is one round trip: plain commands where Redis has one (`SET … PX`,
//! `SET … NX PX`, `GETDEL`), a Lua script loaded once (EVALSHA) where it has none
//! (compare-and-delete, rate limit). Every script touches one key, so it is cluster-safe, but
//! `put_unless_range`, whose two keys share a hash tag (one slot).

use crate::{check_range, check_ttl, now_unix_ms, BatchOp, RangeEntry, RateDecision, Store, StoreError, StoreTls};
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Script};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

pub struct RedisStore {
    pub(crate) conn: Conn,
    pub(crate) prefix: String,
    delete_if: Script,
    rate_limit: Script,
    range_put: Script,
    range_delete: Script,
    put_unless_range: Script,
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

/// Range maps are sorted sets scored by `lo`; a member is `hi` (10 digits), the entry's expiry
/// (unix ms, 15 digits) and the value, so one ZREVRANGEBYSCORE finds the entry holding a point.
/// Put: drop the entry below `lo` that reaches into the range and every entry starting inside
/// it, add the new one, and stretch the key's TTL to the longest entry.
const RANGE_PUT: &str = r"
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
local p = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '-inf', 'LIMIT', 0, 1)
if #p > 0 and tonumber(string.sub(p[1], 1, 10)) >= lo then redis.call('ZREM', KEYS[1], p[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], lo, hi)
redis.call('ZADD', KEYS[1], lo, ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1";

/// Delete the live entry `[lo, hi]` (ARGV: lo, hi as 10 digits, now ms, '1' + expected value
/// or '0').
const RANGE_DELETE: &str = r"
local m = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1])
if #m == 0 then return 0 end
local e = m[1]
if string.sub(e, 1, 10) ~= ARGV[2] then return 0 end
if tonumber(string.sub(e, 11, 25)) <= tonumber(ARGV[3]) then return 0 end
if ARGV[4] == '1' and string.sub(e, 26) ~= ARGV[5] then return 0 end
return redis.call('ZREM', KEYS[1], e)";

/// Put KEYS[1] = ARGV[1] for ARGV[2] ms unless the range map KEYS[2] has any member.
const PUT_UNLESS_RANGE: &str = r"
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1";

const MEMBER_HEAD: usize = 25;

fn range_member(hi: u32, expires_ms: u64, value: &[u8]) -> Vec<u8> {
    let mut m = format!("{hi:010}{expires_ms:015}").into_bytes();
    m.extend_from_slice(value);
    m
}

/// `(hi, expires ms, value)` of a member; `None` for anything else (fail closed).
fn parse_member(m: &[u8]) -> Option<(u32, u64, &[u8])> {
    if m.len() < MEMBER_HEAD {
        return None;
    }
    let hi = std::str::from_utf8(&m[..10]).ok()?.parse().ok()?;
    let exp = std::str::from_utf8(&m[10..MEMBER_HEAD]).ok()?.parse().ok()?;
    Some((hi, exp, &m[MEMBER_HEAD..]))
}

/// The redis crate's form of [`StoreTls`]; a certificate without its key (or the reverse) is a
/// configuration error.
fn tls_certificates(tls: &StoreTls) -> Result<redis::TlsCertificates, StoreError> {
    let client_tls = match (&tls.client_cert_pem, &tls.client_key_pem) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig { client_cert: cert.clone(), client_key: key.clone() }),
        (None, None) => None,
        _ => return Err(StoreError::Config("a client certificate for Redis needs both the certificate and its key".into())),
    };
    Ok(redis::TlsCertificates { client_tls, root_cert: tls.root_ca_pem.clone() })
}

pub(crate) fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Connect and check the connection with a PING; fails when Redis cannot be reached.
    pub async fn connect(url: &str, prefix: &str, tls: &StoreTls) -> Result<Self, StoreError> {
        let cluster = match (url.strip_prefix("redis+cluster://"), url.strip_prefix("rediss+cluster://")) {
            (Some(nodes), _) => Some((nodes, "redis")),
            (_, Some(nodes)) => Some((nodes, "rediss")),
            _ => None,
        };
        let secure = url.starts_with("rediss://") || url.starts_with("rediss+cluster://");
        if !tls.is_empty() && !secure {
            return Err(StoreError::Config("TLS files are set but the store URL is not rediss:// or rediss+cluster://".into()));
        }
        let certs = (!tls.is_empty()).then(|| tls_certificates(tls)).transpose()?;
        if secure {
            // rustls picks its process-wide provider here; an error means one is installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let conn = if let Some((nodes, scheme)) = cluster {
            let nodes: Vec<String> = nodes.split(',').map(|n| format!("{scheme}://{n}")).collect();
            let mut builder =
                redis::cluster::ClusterClientBuilder::new(nodes).connection_timeout(TIMEOUT).response_timeout(TIMEOUT);
            if let Some(c) = certs {
                builder = builder.certs(c);
            }
            let client = builder.build().map_err(|e| StoreError::Config(e.to_string()))?;
            Conn::Cluster(client.get_async_connection().await.map_err(unavailable)?)
        } else {
            let client = match certs {
                Some(c) => redis::Client::build_with_tls(url, c),
                None => redis::Client::open(url),
            }
            .map_err(|e| StoreError::Config(e.to_string()))?;
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
            range_put: Script::new(RANGE_PUT),
            range_delete: Script::new(RANGE_DELETE),
            put_unless_range: Script::new(PUT_UNLESS_RANGE),
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

    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        match self.conn.clone() {
            Conn::Single(mut c) => cmd.query_async(&mut c).await.map_err(unavailable),
            Conn::Cluster(mut c) => cmd.query_async(&mut c).await.map_err(unavailable),
        }
    }

    async fn script<T: FromRedisValue>(&self, script: &Script, key: &str, arg: &[u8]) -> Result<T, StoreError> {
        self.script_args(script, key, &[arg]).await
    }

    async fn script_args<T: FromRedisValue>(&self, script: &Script, key: &str, args: &[&[u8]]) -> Result<T, StoreError> {
        let mut inv = script.key(key);
        for a in args {
            inv.arg(*a);
        }
        self.invoke(&inv).await
    }

    async fn invoke<T: FromRedisValue>(&self, inv: &redis::ScriptInvocation<'_>) -> Result<T, StoreError> {
        match self.conn.clone() {
            Conn::Single(mut c) => inv.invoke_async(&mut c).await.map_err(unavailable),
            Conn::Cluster(mut c) => inv.invoke_async(&mut c).await.map_err(unavailable),
        }
    }
}

impl RedisStore {
    /// `used_memory` of a single Redis node (INFO memory), for benchmarks; not on a cluster.
    pub async fn used_memory(&self) -> Result<u64, StoreError> {
        if matches!(self.conn, Conn::Cluster(_)) {
            return Err(StoreError::Config("used_memory reads one node; not on a cluster".into()));
        }
        let info: String = self.query(redis::cmd("INFO").arg("memory")).await?;
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| StoreError::Unavailable("INFO memory without used_memory".into()))
    }

    fn pipeline(&self, ops: &[BatchOp]) -> Result<redis::Pipeline, StoreError> {
        let mut pipe = redis::pipe();
        let now = now_unix_ms();
        for op in ops {
            match op {
                BatchOp::Put { key, value, ttl } => {
                    pipe.cmd("SET").arg(self.key(key)).arg(value.as_slice()).arg("PX").arg(check_ttl(*ttl)?).ignore();
                }
                BatchOp::RangePut { key, lo, hi, value, ttl } => {
                    let ms = check_ttl(*ttl)?;
                    check_range(*lo, *hi)?;
                    pipe.cmd("EVALSHA")
                        .arg(self.range_put.get_hash())
                        .arg(1)
                        .arg(self.key(key))
                        .arg(*lo)
                        .arg(*hi)
                        .arg(range_member(*hi, now + ms, value))
                        .arg(ms)
                        .ignore();
                }
                BatchOp::Delete { key } => {
                    pipe.cmd("DEL").arg(self.key(key)).ignore();
                }
            }
        }
        Ok(pipe)
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

    async fn range_put(&self, key: &str, lo: u32, hi: u32, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let ms = check_ttl(ttl)?;
        check_range(lo, hi)?;
        let member = range_member(hi, now_unix_ms() + ms, value);
        let (lo, hi, ms) = (lo.to_string(), hi.to_string(), ms.to_string());
        let args: [&[u8]; 4] = [lo.as_bytes(), hi.as_bytes(), &member, ms.as_bytes()];
        self.script_args::<i64>(&self.range_put, &self.key(key), &args).await.map(drop)
    }

    async fn range_find(&self, key: &str, at: u32) -> Result<Option<RangeEntry>, StoreError> {
        let mut cmd = redis::cmd("ZREVRANGEBYSCORE");
        cmd.arg(self.key(key)).arg(at).arg("-inf").arg("WITHSCORES").arg("LIMIT").arg(0).arg(1);
        let found: Vec<(Vec<u8>, u32)> = self.query(&cmd).await?;
        let Some((member, lo)) = found.into_iter().next() else { return Ok(None) };
        Ok(match parse_member(&member) {
            Some((hi, exp, value)) if hi >= at && exp > now_unix_ms() => Some(RangeEntry { lo, hi, value: value.to_vec() }),
            Some(_) => None,
            None => {
                tracing::warn!("unreadable range-map entry ignored");
                None
            }
        })
    }

    async fn range_delete(&self, key: &str, lo: u32, hi: u32, expected: Option<&[u8]>) -> Result<bool, StoreError> {
        check_range(lo, hi)?;
        let (lo, hi, now) = (lo.to_string(), format!("{hi:010}"), now_unix_ms().to_string());
        let mut args: Vec<&[u8]> = vec![lo.as_bytes(), hi.as_bytes(), now.as_bytes()];
        match expected {
            Some(e) => args.extend([&b"1"[..], e]),
            None => args.push(b"0"),
        }
        Ok(self.script_args::<i64>(&self.range_delete, &self.key(key), &args).await? > 0)
    }

    /// One script over both keys (they share a hash tag: one slot on a cluster).
    async fn put_unless_range(&self, key: &str, value: &[u8], ttl: Duration, range_key: &str) -> Result<bool, StoreError> {
        let ms = check_ttl(ttl)?.to_string();
        let mut inv = self.put_unless_range.key(self.key(key));
        inv.key(self.key(range_key)).arg(value).arg(ms.as_bytes());
        Ok(self.invoke::<i64>(&inv).await? == 1)
    }

    /// `ZCARD`: one round trip; entries past their own expiry count until their map expires.
    async fn range_count(&self, key: &str) -> Result<u64, StoreError> {
        let mut cmd = redis::cmd("ZCARD");
        cmd.arg(self.key(key));
        self.query(&cmd).await
    }

    /// One node: one pipeline per 1000 ops (EVALSHA for range puts, the script loaded first). Cluster: the ops run concurrently, 256 at a time, each
    /// routed to its slot's node.
    async fn batch(&self, ops: &[BatchOp]) -> Result<(), StoreError> {
        match self.conn.clone() {
            Conn::Single(mut c) => {
                if ops.iter().any(|op| matches!(op, BatchOp::RangePut { .. })) {
                    // SCRIPT LOAD is idempotent: one round trip makes every EVALSHA below safe.
                    self.range_put.prepare_invoke().load_async(&mut c).await.map_err(unavailable)?;
                }
                for chunk in ops.chunks(1000) {
                    self.pipeline(chunk)?.query_async::<()>(&mut c).await.map_err(unavailable)?;
                }
                Ok(())
            }
            Conn::Cluster(_) => {
                // Ops of different slots run concurrently; ops of one slot run in their order
                // (a shape change of an address is a range put then a delete of the other form,
                // and `put_unless_range` must never see the delete before the put).
                for chunk in ops.chunks(256) {
                    let mut by_slot: Vec<(u16, Vec<&BatchOp>)> = Vec::new();
                    for op in chunk {
                        let key = match op {
                            BatchOp::Put { key, .. } | BatchOp::RangePut { key, .. } | BatchOp::Delete { key } => key,
                        };
                        let slot = crate::keys::cluster_slot(&self.key(key));
                        match by_slot.iter_mut().find(|(s, _)| *s == slot) {
                            Some((_, group)) => group.push(op),
                            None => by_slot.push((slot, vec![op])),
                        }
                    }
                    futures_util::future::try_join_all(by_slot.into_iter().map(|(_, group)| async move {
                        for op in group {
                            match op {
                                BatchOp::Put { key, value, ttl } => self.put(key, value, *ttl).await?,
                                BatchOp::RangePut { key, lo, hi, value, ttl } => self.range_put(key, *lo, *hi, value, *ttl).await?,
                                BatchOp::Delete { key } => self.delete(key).await.map(drop)?,
                            }
                        }
                        Ok::<(), StoreError>(())
                    }))
                    .await?;
                }
                Ok(())
            }
        }
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
