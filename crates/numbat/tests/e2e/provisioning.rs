//! Provisioning bindings over the admin API and `numbat bindings`, end to end (issue 6 item 3):
//! an import of all three address kinds makes a device verifiable within one request, a delete
//! makes it unverifiable, a bad line refuses the whole batch, and nothing works without the admin
//! token.


use crate::common::*;
use serde_json::{json, Value};
use std::process::Command;

const ADMIN: &str = "dev-admin-token";
const NDJSON: &str = "application/x-ndjson";

/// The three kinds of the issue, with 127.0.0.3 (unbound in the dev defaults) as the IPv4 one.
const IMPORT: &str = r#"{"msisdn":"+34600000005","ipv4":"127.0.0.3","imsi":"214010000000005"}
{"msisdn":"+34600000006","public_ipv4":"198.51.100.7","ports":"40000-40255"}

{"msisdn":"+34600000007","ipv6_prefix":"2001:db8:1:2::/64","ttl_s":3600}
"#;

impl TestServer {
    fn admin(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, self.url(path));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn import(&self, content_type: &str, body: &str) -> (u16, Value) {
        let r = self
            .admin(reqwest::Method::POST, "/admin/bindings/import", Some(ADMIN))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("POST import");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn lookup(&self, query: &[(&str, &str)]) -> (u16, Value) {
        let r =
            self.admin(reqwest::Method::GET, "/admin/bindings", Some(ADMIN)).query(query).send().await.expect("GET");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, query: &[(&str, &str)]) -> u16 {
        let r = self.admin(reqwest::Method::DELETE, "/admin/bindings", Some(ADMIN)).query(query).send().await;
        r.expect("DELETE").status().as_u16()
    }

    async fn put_binding(&self, body: Value) -> (u16, Value) {
        let r = self.admin(reqwest::Method::PUT, "/admin/bindings", Some(ADMIN)).json(&body).send().await;
        let r = r.expect("PUT");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

async fn import_then_identify(backend: Backend) {
    let s = start(backend).await;
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");

    let (status, report) = s.import(NDJSON, IMPORT).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (&report["imported"], &report["ipv4"], &report["port_blocks"], &report["ipv6_prefixes"]),
        (&json!(3), &json!(1), &json!(1), &json!(1))
    );
    assert!(report["bindings_per_s"].is_u64(), "{report}");

    // The device at 127.0.0.3 is now identified, within one request, and verifiable.
    assert!(s.verified(DEVICE_UNBOUND, json!({"phoneNumber": "+34600000005"})).await);

    // Lookups as the ingress resolves them; the admin API shows the MSISDN, no-store.
    let (st, b) = s.lookup(&[("ip", "127.0.0.3")]).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((&b["domain"], &b["binding"]["msisdn"]), (&json!("default"), &json!("+34600000005")));
    assert_eq!((&b["binding"]["source"], &b["binding"]["imsi"]), (&json!("provisioning"), &json!("214010000000005")));
    let (st, b) = s.lookup(&[("ip", "198.51.100.7"), ("port", "40100")]).await;
    assert_eq!((st, &b["binding"]["msisdn"]), (200, &json!("+34600000006")));
    assert_eq!(s.lookup(&[("ip", "198.51.100.7")]).await.0, 404, "a CGNAT address without a port is nobody");
    assert_eq!(s.lookup(&[("ip", "198.51.100.7"), ("port", "40256")]).await.0, 404);
    let (st, b) = s.lookup(&[("ip", "2001:db8:1:2:aaaa:bbbb:cccc:dddd")]).await;
    assert_eq!((st, &b["binding"]["msisdn"]), (200, &json!("+34600000007")), "IPv6 by its /64");
    assert_eq!(s.lookup(&[("ip", "2001:db8:1:3::1")]).await.0, 404);
    assert_eq!(s.lookup(&[("ip", "127.0.0.3"), ("domain", "other-apn")]).await.0, 404, "domains are separate");
    let (st, b) = s.lookup(&[("public_ipv4", "198.51.100.7"), ("ports", "40000-40255")]).await;
    assert_eq!((st, &b["binding"]["msisdn"]), (200, &json!("+34600000006")), "the exact record");
    let r = s.admin(reqwest::Method::GET, "/admin/bindings", Some(ADMIN)).query(&[("ip", "127.0.0.3")]);
    let r = r.send().await.unwrap();
    assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));

    // PUT rebinds the address to another subscriber.
    let (st, b) = s.put_binding(json!({"msisdn": "+34600000008", "ipv4": "127.0.0.3", "ttl_s": 600})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["binding"], json!({"ipv4": "127.0.0.3", "domain": "default", "ttl_s": 600}));
    assert!(s.verified(DEVICE_UNBOUND, json!({"phoneNumber": "+34600000008"})).await);
    assert!(!s.verified(DEVICE_UNBOUND, json!({"phoneNumber": "+34600000005"})).await);

    // Delete: unverifiable at once; a second delete finds nothing.
    assert_eq!(s.delete(&[("ip", "127.0.0.3")]).await, 200);
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    assert_eq!(s.delete(&[("ip", "127.0.0.3")]).await, 404);
    assert_eq!(s.delete(&[("public_ipv4", "198.51.100.7"), ("ports", "40000-40255")]).await, 200);
    assert_eq!(s.lookup(&[("ip", "198.51.100.7"), ("port", "40100")]).await.0, 404);
    assert_eq!(s.delete(&[("ipv6_prefix", "2001:db8:1:2::/64")]).await, 200);
    assert_eq!(s.lookup(&[("ip", "2001:db8:1:2::1")]).await.0, 404);
    // The dev bindings are untouched.
    assert!(s.verified(DEVICE_1, json!({"phoneNumber": MSISDN_1})).await);
    s.stop().await;
}

async fn bad_line_refuses_the_batch(backend: Backend) {
    let s = start(backend).await;
    let body = "{\"msisdn\":\"+34600000005\",\"ipv4\":\"127.0.0.3\"}\n\
                {\"msisdn\":\"+34600000006\",\"public_ipv4\":\"198.51.100.7\",\"ports\":\"40255-40000\"}\n\
                {\"msisdn\":\"+34600000007\",\"ipv6_prefix\":\"2001:db8:1::/48\"}\n\
                {\"msisdn\":\"+34600000008\",\"ipv4\":\"127.0.0.4\",\"ipv6_prefix\":\"2001:db8:1:2::/64\"}\n";
    let (st, b) = s.import(NDJSON, body).await;
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["error"], "invalid_request");
    assert_eq!(b["bad_lines"], 3);
    let lines: Vec<u64> = b["lines"].as_array().unwrap().iter().map(|l| l["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 3, 4], "{b}");
    assert!(b["lines"][0]["error"].as_str().unwrap().contains("reversed"), "{b}");
    assert!(b["lines"][1]["error"].as_str().unwrap().contains("/48"), "{b}");
    assert!(!b.to_string().contains("600000005"), "no number is echoed: {b}");
    // Nothing of the batch landed: the good first line is not bound.
    assert_eq!(s.lookup(&[("ip", "127.0.0.3")]).await.0, 404);
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");

    // CSV comes too, under its own content type; other types are refused.
    let csv = "msisdn,ipv4,public_ipv4,ports\n+34600000005,127.0.0.3,,\n+34600000006,,198.51.100.7,40000\n";
    let (st, b) = s.import("text/csv; charset=utf-8", csv).await;
    assert_eq!((st, &b["imported"]), (200, &json!(2)), "{b}");
    assert_eq!(s.import("application/json", IMPORT).await.0, 415);
    assert_eq!(s.import(NDJSON, "").await.1["imported"], 0);
    let (st, b) = s.import(NDJSON, "{\"msisdn\":\"+34600000005\",\"ipv4\":\"127.0.0.9\",\"owner\":\"x\"}").await;
    assert_eq!(st, 400);
    assert!(b["lines"][0]["error"].as_str().unwrap().contains("unknown field"), "{b}");

    // PUT: one record, the same validation, a small body.
    let (st, b) = s.put_binding(json!({"msisdn": "34600000005", "ipv4": "127.0.0.3"})).await;
    assert_eq!(st, 400, "{b}");
    assert!(b["error_description"].as_str().unwrap().starts_with("msisdn:"), "{b}");
    let big = json!({"msisdn": "+34600000005", "ipv4": "127.0.0.3", "domain": "a".repeat(5000)});
    assert_eq!(s.put_binding(big).await.0, 413);
    assert_eq!(s.lookup(&[("ip", "127.0.0.3"), ("port", "x")]).await.0, 400);
    assert_eq!(s.lookup(&[("ip", "127.0.0.3"), ("ipv4", "127.0.0.3")]).await.0, 400);
    s.stop().await;
}

both_backends! {
    import_makes_devices_verifiable => import_then_identify;
    a_bad_line_refuses_the_batch => bad_line_refuses_the_batch;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_token_is_required() {
    let s = start(Backend::Memory).await;
    for (method, path) in [
        (reqwest::Method::PUT, "/admin/bindings"),
        (reqwest::Method::GET, "/admin/bindings?ip=127.0.0.1"),
        (reqwest::Method::DELETE, "/admin/bindings?ip=127.0.0.1"),
        (reqwest::Method::POST, "/admin/bindings/import"),
    ] {
        for token in [None, Some("wrong-token"), Some(""), Some("dev-admin-token-and-more")] {
            let r =
                s.admin(method.clone(), path, token).header("content-type", NDJSON).body(IMPORT).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{method} {path} with {token:?}");
            let www = r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            assert!(www.starts_with("Bearer"), "{www}");
            assert_eq!(www.contains("invalid_token"), token.is_some_and(|t| !t.is_empty()), "{www}");
            let b: Value = r.json().await.unwrap();
            assert!(b["error"].is_string() && b["error_description"].is_string(), "{b}");
        }
        // Basic authentication with the right secret is not a bearer token.
        let r = s.http.request(method.clone(), s.url(path)).basic_auth(ADMIN, Some(ADMIN)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    // Nothing was imported by the refused requests; the dev binding is still there.
    let (st, b) = s.lookup(&[("ip", "127.0.0.1")]).await;
    assert_eq!((st, &b["binding"]["msisdn"]), (200, &json!(MSISDN_1)));
    assert_eq!(s.lookup(&[("ip", "127.0.0.3")]).await.0, 404);
    let r = s.http.patch(s.url("/admin/bindings")).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    s.stop().await;

    // Without an admin token configured the admin API is off.
    let s = start_spec(Spec::new(Backend::Memory).tweak(|c| c.admin.token = String::new())).await;
    assert_eq!(s.lookup(&[("ip", "127.0.0.1")]).await.0, 404);
    let r = s.admin(reqwest::Method::GET, "/admin/bindings?ip=127.0.0.1", Some("")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    s.stop().await;
}

/// Run the `numbat` binary (blocking, off the runtime's workers).
async fn numbat(args: Vec<String>, token: Option<&str>) -> (i32, String, String) {
    let token = token.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_numbat"));
        c.args(&args).env_remove("NUMBAT_ADMIN_TOKEN");
        if let Some(t) = token {
            c.env("NUMBAT_ADMIN_TOKEN", t);
        }
        let out = c.output().expect("run numbat");
        let s = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        (out.status.code().unwrap_or(-1), s(out.stdout), s(out.stderr))
    })
    .await
    .unwrap()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

async fn cli(backend: Backend) {
    let s = start(backend).await;
    let dir = std::env::temp_dir().join(format!("numbat-provisioning-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    };
    let server = s.base.clone();

    // A bad line refuses the whole file before anything is sent.
    let bad = file("bad.ndjson", &format!("{IMPORT}{{\"msisdn\":\"+34600000009\",\"ipv4\":\"127.0.0.3\"}}\n"));
    let (code, _, err) = numbat(args(&["bindings", "import", &bad, "--server", &server]), None).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 5: the same address as line 1"), "{err}");
    assert_eq!(s.lookup(&[("ip", "127.0.0.3")]).await.0, 404);

    // Import in batches of one record (three requests), with the dev token by default.
    let good = file("good.ndjson", IMPORT);
    let (code, out, err) =
        numbat(args(&["bindings", "import", &good, "--server", &server, "--batch", "1"]), None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 3 binding(s) (1 ipv4, 1 port blocks, 1 ipv6 prefixes) in 3 request(s)"), "{out}");
    assert!(out.contains("bindings/s"), "{out}");
    assert!(s.verified(DEVICE_UNBOUND, json!({"phoneNumber": "+34600000005"})).await);

    let (code, out, err) =
        numbat(args(&["bindings", "lookup", "--ip", "198.51.100.7", "--port", "40001", "--server", &server]), None)
            .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("+34600000006"), "{out}");
    let (code, _, err) = numbat(args(&["bindings", "lookup", "--ip", "198.51.100.7", "--server", &server]), None).await;
    assert_eq!(code, 1);
    assert!(err.contains("no binding for 198.51.100.7"), "{err}");

    // The token from the environment, or --admin-token; a wrong one is refused.
    let lookup = args(&["bindings", "lookup", "--ip", "127.0.0.3", "--server", &server]);
    assert_eq!(numbat(lookup.clone(), Some(ADMIN)).await.0, 0);
    let (code, _, err) = numbat(lookup.clone(), Some("not-the-token")).await;
    assert_eq!(code, 1);
    assert!(err.contains("401"), "{err}");
    let mut with_flag = lookup.clone();
    with_flag.extend(args(&["--admin-token", ADMIN]));
    assert_eq!(numbat(with_flag, Some("not-the-token")).await.0, 0, "--admin-token wins over the environment");

    // Delete by each address form.
    let (code, out, err) = numbat(args(&["bindings", "delete", "--ip", "127.0.0.3", "--server", &server]), None).await;
    assert_eq!((code, out.trim()), (0, "deleted"), "{err}");
    let req = AuthRequest::new(SCOPE_VERIFY);
    let o = s.authorize(DEVICE_UNBOUND, &req).await;
    assert_redirect_error(&s, &o, &req, "login_required");
    let del = ["bindings", "delete", "--public-ipv4", "198.51.100.7", "--ports", "40000-40255", "--server", &server];
    assert_eq!(numbat(args(&del), None).await.0, 0);
    assert_eq!(numbat(args(&del), None).await.0, 1, "already gone");
    let del = ["bindings", "delete", "--ipv6-prefix", "2001:db8:1:2::/64", "--server", &server];
    assert_eq!(numbat(args(&del), None).await.0, 0);
    let (code, _, err) = numbat(args(&["bindings", "delete", "--server", &server]), None).await;
    assert_eq!(code, 2, "an address is required: {err}");

    // CSV by extension, into another domain.
    let csv = file("b.csv", "msisdn,ipv4\n+34600000005,127.0.0.3\n");
    let (code, out, err) =
        numbat(args(&["bindings", "import", &csv, "--domain", "ims", "--server", &server]), None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(s.lookup(&[("ip", "127.0.0.3"), ("domain", "ims")]).await.0, 200);
    assert_eq!(s.lookup(&[("ip", "127.0.0.3")]).await.0, 404);

    // generate | import
    let (code, gen, _) = numbat(args(&["bindings", "generate", "--count", "3000"]), None).await;
    assert_eq!((code, gen.lines().count()), (0, 3000));
    let g = file("gen.ndjson", &gen);
    let (code, out, err) =
        numbat(args(&["bindings", "import", &g, "--server", &server, "--batch", "1000"]), None).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("imported 3000 binding(s) (1000 ipv4, 1000 port blocks, 1000 ipv6 prefixes) in 3 request(s)"),
        "{out}"
    );

    std::fs::remove_dir_all(&dir).ok();
    s.stop().await;
}

both_backends! {
    numbat_bindings_cli => cli;
}
