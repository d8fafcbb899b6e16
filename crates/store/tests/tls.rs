//! `rediss://`: the Redis store over TLS, against a real `redis-server` with TLS on loopback and
//! certificates made by the `openssl` command for each run (a private CA, a server certificate
//! for 127.0.0.1, a client certificate; another CA nobody should trust). `scripts/test` installs
//! both tools when missing.
//!
//! Pinned: the contract holds over TLS with the configured CA; a server certificate from a CA
//! numbat was not told to trust is refused (and so is one checked against the system roots);
//! a Redis that requires client certificates takes numbat's and refuses a connection without;
//! TLS files with a plain `redis://` URL, or a certificate without its key, are configuration
//! errors, not a silent plain-text connection.

use numbat_store::{contract, open_with_tls, StoreError, StoreTls};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed for this test (Debian: apt-get install openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate (IP 127.0.0.1) and a client certificate it signed, and an
/// unrelated CA, in a fresh directory.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!("numbat-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(&dir, &[
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", &format!("/CN=numbat test {ca}"), "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.crt"),
            ]);
        }
        std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n").unwrap();
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n").unwrap();
        for leaf in ["server", "client"] {
            openssl(&dir, &[
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                &format!("/CN=numbat test {leaf}"), "-keyout", &format!("{leaf}.key"), "-out", &format!("{leaf}.csr"),
            ]);
            openssl(&dir, &[
                "x509", "-req", "-in", &format!("{leaf}.csr"), "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", &format!("{leaf}.ext"), "-out", &format!("{leaf}.crt"),
            ]);
        }
        Pki { dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn pem(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `redis-server` speaking only TLS on a free loopback port; killed on drop.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl TlsRedis {
    fn start(pki: &Pki, require_client_cert: bool) -> TlsRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--tls-cert-file", &pki.file("server.crt"), "--tls-key-file", &pki.file("server.key")])
            .args(["--tls-ca-cert-file", &pki.file("ca.crt")])
            .args(["--tls-auth-clients", if require_client_cert { "yes" } else { "no" }])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is needed for this test (scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server with TLS did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsRedis { child, port }
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prefix() -> String {
    format!("numbat-tls-test:{}:", uuid::Uuid::new_v4())
}

async fn refused(url: &str, tls: &StoreTls) -> StoreError {
    let started = Instant::now();
    let r = open_with_tls(url, &prefix(), tls).await;
    assert!(started.elapsed() < Duration::from_secs(10), "a refused TLS connection must not hang");
    match r {
        Ok(_) => panic!("{url} with {tls:?} must be refused"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rediss_with_the_configured_ca_keeps_the_contract() {
    let pki = Pki::new();
    let redis = TlsRedis::start(&pki, false);
    let tls = StoreTls { root_ca_pem: Some(pki.pem("ca.crt")), ..Default::default() };
    let s = open_with_tls(&redis.url(), &prefix(), &tls).await.unwrap_or_else(|e| panic!("rediss:// with the CA: {e}"));
    contract::run_all(s, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rediss_refuses_a_server_certificate_from_an_untrusted_ca() {
    let pki = Pki::new();
    let redis = TlsRedis::start(&pki, false);
    let other = StoreTls { root_ca_pem: Some(pki.pem("other-ca.crt")), ..Default::default() };
    assert!(matches!(refused(&redis.url(), &other).await, StoreError::Unavailable(_)));
    // The system roots do not know the private CA either.
    assert!(matches!(refused(&redis.url(), &StoreTls::default()).await, StoreError::Unavailable(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rediss_presents_the_client_certificate_where_redis_requires_one() {
    let pki = Pki::new();
    let redis = TlsRedis::start(&pki, true);
    let ca_only = StoreTls { root_ca_pem: Some(pki.pem("ca.crt")), ..Default::default() };
    assert!(matches!(refused(&redis.url(), &ca_only).await, StoreError::Unavailable(_)), "no client certificate");
    let mtls = StoreTls {
        root_ca_pem: Some(pki.pem("ca.crt")),
        client_cert_pem: Some(pki.pem("client.crt")),
        client_key_pem: Some(pki.pem("client.key")),
    };
    let s = open_with_tls(&redis.url(), &prefix(), &mtls).await.unwrap_or_else(|e| panic!("mTLS: {e}"));
    s.put("k", b"v", Duration::from_secs(5)).await.unwrap();
    assert_eq!(s.take("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn tls_files_never_fall_back_to_plain_text() {
    let ca = StoreTls { root_ca_pem: Some(b"-----BEGIN CERTIFICATE-----".to_vec()), ..Default::default() };
    for url in ["redis://127.0.0.1:6379", "redis+cluster://127.0.0.1:7000", "memory"] {
        assert!(matches!(refused(url, &ca).await, StoreError::Config(_)), "{url}");
    }
    let half = StoreTls { client_cert_pem: Some(b"cert".to_vec()), ..Default::default() };
    assert!(matches!(refused("rediss://127.0.0.1:6379", &half).await, StoreError::Config(_)));
}

/// `rediss+cluster://`: a three-master Redis Cluster speaking only TLS (`tls-cluster yes`),
/// formed with `redis-cli --tls --cluster create`; the contract holds over it with the CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rediss_cluster_keeps_the_contract() {
    let pki = Pki::new();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        // The cluster bus listens on port + 10000: take ports whose bus port is free too.
        let port = loop {
            let p = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
                break p;
            }
        };
        let conf = pki.file(&format!("nodes-{port}.conf"));
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--cluster-enabled", "yes", "--cluster-config-file", &conf, "--tls-cluster", "yes"])
            .args(["--tls-cert-file", &pki.file("server.crt"), "--tls-key-file", &pki.file("server.key")])
            .args(["--tls-ca-cert-file", &pki.file("ca.crt"), "--tls-auth-clients", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        nodes.push(TlsRedis { child, port });
    }
    for n in &nodes {
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", n.port)).is_err() {
            assert!(Instant::now() < deadline, "cluster node {} did not listen", n.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let seeds: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    let mut create = Command::new("redis-cli")
        .args(["--tls", "--cacert", &pki.file("ca.crt"), "--cluster", "create"])
        .args(&seeds)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli is needed for this test (Debian: redis-tools)");
    // redis-cli waits for the nodes to meet over the TLS bus; never forever.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = create.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = create.kill();
            panic!("redis-cli --cluster create did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "redis-cli --cluster create: {status}");
    let url = format!("rediss+cluster://{}", seeds.join(","));
    let tls = StoreTls { root_ca_pem: Some(pki.pem("ca.crt")), ..Default::default() };
    // The cluster needs a moment to agree that every slot is served.
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        match open_with_tls(&url, &prefix(), &tls).await {
            Ok(s) if s.put("probe", b"1", Duration::from_secs(5)).await.is_ok() => break s,
            r => {
                assert!(Instant::now() < deadline, "the TLS cluster did not come up: {:?}", r.err());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    contract::run_all(s, "c").await;
    let other = StoreTls { root_ca_pem: Some(pki.pem("other-ca.crt")), ..Default::default() };
    assert!(matches!(refused(&url, &other).await, StoreError::Unavailable(_)), "untrusted CA on the cluster");
}
