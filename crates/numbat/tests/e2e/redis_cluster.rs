//! numbat on a real Redis Cluster (design.md: "where one machine is not enough, it scales out on
//! Redis Cluster with stateless server instances"): an authorization server and two resource
//! servers as separate instances on one `redis+cluster://` store (three masters, started by
//! `scripts/test`), with the single-use and revocation rules holding across instances, and a
//! bulk binding import spread over every slot.

use crate::common::*;
use serde_json::json;

const ADMIN: &str = "dev-admin-token";

async fn on_cluster(n_resource: usize) -> (TestServer, Vec<TestServer>) {
    split_on(RedisNamespace::on_cluster(), n_resource).await
}

/// NV-xx flows, NVX-01/NVX-04 single use and S-02 code-replay revocation, across instances on
/// the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_number_verification_across_instances() {
    let (authz, rs) = on_cluster(2).await;
    let body = json!({ "phoneNumber": MSISDN_1 });

    let t = authz.access_token(DEVICE_1, SCOPE_VERIFY).await;
    let (st, v) = verify_at(&rs[0].http, &rs[0].base, &t, &body).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(true)), "{v}");
    let (st, v) = verify_at(&rs[1].http, &rs[1].base, &t, &body).await;
    assert_unauthenticated(st, &v);

    let t = authz.access_token(DEVICE_2, SCOPE_VERIFY).await;
    let (st, v) = verify_at(&rs[1].http, &rs[1].base, &t, &body).await;
    assert_eq!((st, v["devicePhoneNumberVerified"].as_bool()), (200, Some(false)), "{v}");

    // NVX-04: 60 parallel calls with one token over both instances: exactly one 200.
    let t = authz.access_token(DEVICE_1, SCOPE_BOTH).await;
    let calls = (0..60).map(|i| {
        let (r, t, body) = (&rs[i % 2], t.clone(), body.clone());
        async move { verify_at(&r.http, &r.base, &t, &body).await }
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|(st, _)| *st == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(results.iter().all(|(st, _)| *st == 200 || *st == 401), "{results:?}");

    // S-02: a replayed code revokes the token the resource servers would accept.
    let req = AuthRequest::new(SCOPE_VERIFY);
    let code = authz.code_for(DEVICE_1, &req).await;
    let first = authz.redeem(&code, &req.verifier).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert_eq!(authz.redeem(&code, &req.verifier).await.error(), Some("invalid_grant"));
    let (st, v) = verify_at(&rs[0].http, &rs[0].base, first.access_token(), &body).await;
    assert_unauthenticated(st, &v);

    for s in std::iter::once(&authz).chain(rs.iter()) {
        assert_eq!(s.http.get(s.url("/ready")).send().await.unwrap().status().as_u16(), 200, "ready on the cluster");
    }
    authz.stop().await;
    for r in rs {
        r.stop().await;
    }
}

/// A bulk import lands on every master (the batch runs per slot on a cluster), and each record
/// is found again; a device whose binding came through the import is identified.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_bulk_binding_import_spans_the_slots() {
    let (authz, _) = on_cluster(0).await;
    let mut ndjson = String::new();
    for i in 0..500u32 {
        ndjson.push_str(&format!("{{\"msisdn\":\"+3461{:07}\",\"ipv4\":\"10.9.{}.{}\"}}\n", i, i / 250, i % 250 + 1));
    }
    for i in 0..20u32 {
        let lo = 1024 + i * 64;
        ndjson.push_str(&format!(
            "{{\"msisdn\":\"+3462{:07}\",\"public_ipv4\":\"198.51.100.{}\",\"ports\":\"{}-{}\"}}\n",
            i,
            i % 4 + 1,
            lo,
            lo + 63
        ));
    }
    ndjson.push_str("{\"msisdn\":\"+34600000005\",\"ipv4\":\"127.0.0.3\"}\n");
    let r = authz
        .http
        .post(authz.url("/admin/bindings/import"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let report: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], json!(521), "{report}");

    let lookup = |query: Vec<(String, String)>| {
        let rb = authz.http.get(authz.url("/admin/bindings")).bearer_auth(ADMIN).query(&query);
        async move {
            let r = rb.send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    for i in [0u32, 1, 137, 249, 250, 499] {
        let ip = format!("10.9.{}.{}", i / 250, i % 250 + 1);
        let (st, v) = lookup(vec![("ip".into(), ip.clone())]).await;
        assert_eq!(st, 200, "{ip}: {v}");
        assert_eq!(v["binding"]["msisdn"], json!(format!("+3461{:07}", i)), "{ip}: {v}");
    }
    for i in [0u32, 7, 19] {
        let port = (1024 + i * 64 + 10).to_string();
        let (st, v) = lookup(vec![("ip".into(), format!("198.51.100.{}", i % 4 + 1)), ("port".into(), port)]).await;
        assert_eq!(st, 200, "block {i}: {v}");
        assert_eq!(v["binding"]["msisdn"], json!(format!("+3462{:07}", i)), "block {i}: {v}");
    }
    // The shared addresses without a port identify nobody.
    let (st, _) = lookup(vec![("ip".into(), "198.51.100.1".into())]).await;
    assert_eq!(st, 404);
    // The imported device is identified (an unbound one gets login_required instead of a code).
    let t = authz.access_token(DEVICE_UNBOUND, SCOPE_SHARE).await;
    assert!(!t.is_empty());

    // The records are spread over every master of the cluster, not piled on one node.
    let ns = authz.namespace.clone().expect("a Redis namespace");
    let seeds = ns.url.strip_prefix("redis+cluster://").expect("a cluster URL").to_owned();
    for node in seeds.split(',') {
        let mut con = redis::Client::open(format!("redis://{node}")).unwrap().get_connection().unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}bind:*", ns.prefix)).query(&mut con).unwrap();
        assert!(keys.len() > 50, "master {node} holds {} of the bindings", keys.len());
    }
    authz.stop().await;
}
