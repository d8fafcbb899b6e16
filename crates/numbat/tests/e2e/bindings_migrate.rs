//! The upgrade step for bindings stored before the binding keys' hash tag
//! (`numbat bindings migrate-keys`, deploy/redis-cluster/README.md): IPv4 bindings and CGNAT
//! port maps written under the old names (here written through the store itself, under the old
//! key names) are moved to the current names with their TTL, on one Redis and on a Redis
//! Cluster; a binding already stored under the current name is newer and stays.

use crate::common::*;
use numbat_core::Msisdn;
use numbat_network_ingress::bindings::{Binding, Source};
use numbat_store::keys;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const ADMIN: &str = "dev-admin-token";

fn binding(msisdn: &str) -> Vec<u8> {
    Binding::new(Msisdn::parse(msisdn).unwrap(), Source::Provisioning, 1).to_bytes().unwrap()
}

async fn migrate(ns: &RedisNamespace) -> String {
    let (url, prefix) = (ns.url.clone(), ns.prefix.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_numbat"))
            .args(["bindings", "migrate-keys", "--store", &url])
            .env("NUMBAT_STORE__PREFIX", prefix)
            .output()
            .expect("run numbat")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "migrate-keys: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn lookup(s: &TestServer, ip: &str, port: Option<u16>) -> (u16, Value) {
    let mut q = vec![("ip", ip.to_owned())];
    q.extend(port.map(|p| ("port", p.to_string())));
    let r = s.http.get(s.url("/admin/bindings")).bearer_auth(ADMIN).query(&q).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

async fn scenario(ns: Arc<RedisNamespace>) {
    let store = numbat_store::open(&ns.url, &ns.prefix).await.unwrap();
    let d = keys::digest("default");
    let ttl = Duration::from_secs(600);
    // The old layout: a whole address (the test device 127.0.0.3), a CGNAT port map, and an
    // address whose current key already holds a newer binding.
    store.put(&format!("bind:{d}:v4:127.0.0.3"), &binding("+34600000005"), ttl).await.unwrap();
    store.range_put(&format!("bind:{d}:v4p:198.51.100.9"), 1024, 2047, &binding("+34600000006"), ttl).await.unwrap();
    store.put(&format!("bind:{d}:v4:10.7.7.7"), &binding("+34600000001"), ttl).await.unwrap();
    store.put(&keys::binding_ip("default", IpAddr::V4(Ipv4Addr::new(10, 7, 7, 7))), &binding("+34600000002"), ttl).await.unwrap();

    let report = migrate(&ns).await;
    assert!(report.contains("moved 2 ") && report.contains("1 superseded"), "{report}");
    for old in [format!("bind:{d}:v4:127.0.0.3"), format!("bind:{d}:v4p:198.51.100.9"), format!("bind:{d}:v4:10.7.7.7")] {
        assert_eq!(store.get(&old).await.unwrap(), None, "{old} is gone");
        assert_eq!(store.range_count(&old).await.unwrap(), 0, "{old} is gone");
    }
    // Run again: nothing left to move.
    assert!(migrate(&ns).await.contains("moved 0 "), "a second run moves nothing");

    let s = start_spec(Spec::new(Backend::Redis).namespace(ns.clone())).await;
    assert!(s.verified(DEVICE_UNBOUND, json!({ "phoneNumber": "+34600000005" })).await, "the migrated device is identified");
    let (st, v) = lookup(&s, "198.51.100.9", Some(1500)).await;
    assert_eq!((st, &v["binding"]["msisdn"]), (200, &json!("+34600000006")), "{v}");
    let (st, _) = lookup(&s, "198.51.100.9", None).await;
    assert_eq!(st, 404, "the migrated CGNAT address is still shared");
    let (st, v) = lookup(&s, "10.7.7.7", None).await;
    assert_eq!((st, &v["binding"]["msisdn"]), (200, &json!("+34600000002")), "the newer binding stays: {v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_keys_moves_old_binding_keys_on_redis() {
    scenario(RedisNamespace::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_keys_moves_old_binding_keys_on_a_redis_cluster() {
    scenario(RedisNamespace::on_cluster()).await;
}
