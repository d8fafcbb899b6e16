//! Client keys published at a `jwks_uri` (issue 4 item 2): which URIs may be fetched at all, and
//! an in-memory cache of the parsed keys, refetched when it ages out or when a JWS names a `kid`
//! it does not hold (client key rotation), at most once per interval per URI, so a caller sending
//! random `kid`s cannot make numbat hammer the URI.
//!
//! The fetching itself (HTTP, DNS, size and time bounds) sits behind [`JwksFetcher`]; the binary
//! plugs in the HTTP implementation. This module does no I/O of its own.

use numbat_jose::{Alg, JoseError, KeySet, Verified};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest `jwks_uri` accepted.
pub const MAX_URI_LEN: usize = 2048;
/// At most this many URIs are cached; beyond it the cache starts afresh.
const MAX_ENTRIES: usize = 10_000;

/// Where `jwks_uri` may point: https only, and never at loopback, private, link-local or other
/// non-global addresses, except for the hosts the operator trusts explicitly (its own network,
/// or tests serving a JWKS on loopback).
#[derive(Debug, Clone, Default)]
pub struct JwksUriPolicy {
    /// Host names or IP literals (lower case, IPv6 without brackets) exempt from both rules.
    pub trusted_hosts: Vec<String>,
}

impl JwksUriPolicy {
    pub fn host_trusted(&self, host: &str) -> bool {
        let h = host.trim_start_matches('[').trim_end_matches(']');
        self.trusted_hosts.iter().any(|t| t.trim_start_matches('[').trim_end_matches(']').eq_ignore_ascii_case(h))
    }

    /// Check a `jwks_uri` when a client is registered (and again before every fetch). DNS names
    /// are checked against the address rules at fetch time, by the fetcher.
    pub fn check_url(&self, uri: &str) -> Result<url::Url, String> {
        if uri.len() > MAX_URI_LEN {
            return Err(format!("jwks_uri longer than {MAX_URI_LEN} characters"));
        }
        let u = url::Url::parse(uri).map_err(|e| format!("jwks_uri: {e}"))?;
        let host = match u.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("jwks_uri needs a host".into()),
        };
        if !u.username().is_empty() || u.password().is_some() {
            return Err("jwks_uri must not carry credentials".into());
        }
        if u.fragment().is_some() {
            return Err("jwks_uri must not have a fragment".into());
        }
        let trusted = self.host_trusted(&host);
        match u.scheme() {
            "https" => {}
            "http" if trusted => {}
            _ => return Err("jwks_uri must use https".into()),
        }
        if !trusted {
            let literal = match u.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if literal.is_some_and(is_forbidden_ip) || host == "localhost" || host.ends_with(".localhost") {
                return Err("jwks_uri must not point at a loopback, private or link-local address".into());
            }
        }
        Ok(u)
    }
}

/// Addresses numbat never fetches from unless the host is trusted: everything that is not a
/// global unicast address (loopback, RFC 1918, CGNAT, link-local, ULA, multicast, reserved,
/// documentation, and IPv4 embedded in IPv6 forms of those).
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: would reach IPv4 behind it
        || (s[0] == 0x2002) // 6to4
        || ip.to_ipv4().is_some() // IPv4-compatible ::a.b.c.d
}

/// Fetches a JWKS document. Implementations bound the size and time, refuse redirects, and
/// enforce [`JwksUriPolicy`] on every address the host resolves to.
#[async_trait::async_trait]
pub trait JwksFetcher: Send + Sync {
    async fn fetch(&self, uri: &str) -> Result<Vec<u8>, String>;
}

/// Why a client's keys could not verify a JWS.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientKeyError {
    #[error(transparent)]
    Jose(#[from] JoseError),
    #[error("client keys unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Copy)]
pub struct RemoteJwksConfig {
    /// Keys older than this are refetched before use.
    pub cache_ttl: Duration,
    /// At most one fetch per URI per this interval (unknown-`kid` refetches and retries after a
    /// failure included).
    pub min_refetch: Duration,
}

impl Default for RemoteJwksConfig {
    fn default() -> Self {
        RemoteJwksConfig { cache_ttl: Duration::from_secs(300), min_refetch: Duration::from_secs(10) }
    }
}

#[derive(Default)]
struct Entry {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

/// The cache of keys fetched from `jwks_uri`s (the default has no fetcher: `jwks_uri` clients
/// cannot authenticate).
#[derive(Default)]
pub struct RemoteJwks {
    fetcher: Option<Arc<dyn JwksFetcher>>,
    cfg: RemoteJwksConfig,
    entries: parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks").field("cfg", &self.cfg).field("fetcher", &self.fetcher.is_some()).finish()
    }
}

impl RemoteJwks {
    pub fn new(fetcher: Arc<dyn JwksFetcher>, cfg: RemoteJwksConfig) -> Self {
        RemoteJwks { fetcher: Some(fetcher), cfg, entries: Default::default() }
    }

    pub fn enabled(&self) -> bool {
        self.fetcher.is_some()
    }

    fn slot(&self, uri: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut m = self.entries.lock();
        if m.len() >= MAX_ENTRIES && !m.contains_key(uri) {
            m.clear();
        }
        m.entry(uri.to_owned()).or_default().clone()
    }

    /// Forget a URI (its client was removed or changed).
    pub fn forget(&self, uri: &str) {
        self.entries.lock().remove(uri);
    }

    /// Fetch into `e` unless a fetch of this URI was attempted within `min_refetch`. On failure
    /// the keys already held stay in use.
    async fn refresh(&self, e: &mut Entry, uri: &str) {
        let Some(fetcher) = &self.fetcher else { return };
        let now = Instant::now();
        if e.attempted_at.is_some_and(|t| now.duration_since(t) < self.cfg.min_refetch) {
            return;
        }
        e.attempted_at = Some(now);
        let parsed = match fetcher.fetch(uri).await {
            Ok(body) => serde_json::from_slice::<serde_json::Value>(&body)
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(|v| KeySet::from_jwks_value(&v).map_err(|e| e.to_string())),
            Err(e) => Err(e),
        };
        match parsed {
            Ok(keys) => {
                e.keys = Some(Arc::new(keys));
                e.fetched_at = Some(Instant::now());
            }
            // The URI is the client's; the reason may name it, never anything of a subscriber.
            Err(reason) => tracing::warn!(jwks_uri = %uri, %reason, "client jwks_uri fetch failed"),
        }
    }

    /// Verify `jwt` with the keys at `uri`, fetching them when absent or stale, and refetching
    /// once when the JWS names a key the cached set lacks.
    pub async fn verify(&self, uri: &str, jwt: &str, algs: &[Alg]) -> Result<Verified, ClientKeyError> {
        if self.fetcher.is_none() {
            return Err(ClientKeyError::Unavailable("jwks_uri fetching is not configured".into()));
        }
        let slot = self.slot(uri);
        let keys = {
            let mut e = slot.lock().await;
            let stale = e.fetched_at.is_none_or(|t| t.elapsed() >= self.cfg.cache_ttl);
            if stale {
                self.refresh(&mut e, uri).await;
            }
            e.keys.clone()
        };
        let keys =
            keys.ok_or_else(|| ClientKeyError::Unavailable("the client's jwks_uri could not be fetched".into()))?;
        match numbat_jose::verify(jwt, &keys, algs) {
            Err(JoseError::UnknownKey) => {
                let fresh = {
                    let mut e = slot.lock().await;
                    // Another request may have refetched meanwhile.
                    if e.keys.as_ref().is_some_and(|k| Arc::ptr_eq(k, &keys)) {
                        self.refresh(&mut e, uri).await;
                    }
                    e.keys.clone()
                };
                match fresh {
                    Some(k) if !Arc::ptr_eq(&k, &keys) => Ok(numbat_jose::verify(jwt, &k, algs)?),
                    _ => Err(JoseError::UnknownKey.into()),
                }
            }
            r => Ok(r?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn forbidden_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(is_forbidden_ip(a.parse().unwrap()), "{a} must be refused");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_forbidden_ip(a.parse().unwrap()), "{a} is global");
        }
    }

    #[test]
    fn url_rules() {
        let p = JwksUriPolicy::default();
        assert!(p.check_url("https://app.example/jwks.json").is_ok());
        for bad in [
            "http://app.example/jwks.json",
            "https://127.0.0.1/jwks",
            "https://[::1]/jwks",
            "https://10.0.0.8/jwks",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/jwks",
            "https://user:pw@app.example/jwks",
            "https://app.example/jwks#frag",
            "ftp://app.example/jwks",
            "not a url",
        ] {
            assert!(p.check_url(bad).is_err(), "{bad} accepted");
        }
        assert!(p.check_url(&format!("https://app.example/{}", "a".repeat(MAX_URI_LEN))).is_err());
        let t = JwksUriPolicy { trusted_hosts: vec!["127.0.0.1".into(), "[::1]".into()] };
        assert!(t.check_url("http://127.0.0.1:8123/jwks").is_ok());
        assert!(t.check_url("http://[::1]:8123/jwks").is_ok());
        assert!(t.check_url("http://10.0.0.8/jwks").is_err());
    }

    /// Serves one JWKS per call from a list (the last one repeats), counting calls.
    struct Fake {
        docs: Vec<serde_json::Value>,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl JwksFetcher for Fake {
        async fn fetch(&self, _uri: &str) -> Result<Vec<u8>, String> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let d = self.docs.get(n).or(self.docs.last()).ok_or("down")?;
            Ok(serde_json::to_vec(d).unwrap())
        }
    }

    fn key(kid: &str) -> (ring::signature::EcdsaKeyPair, serde_json::Value) {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let pt = kp.public_key().as_ref();
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": kid,
            "x": numbat_jose::b64_encode(&pt[1..33]), "y": numbat_jose::b64_encode(&pt[33..65])});
        (kp, jwk)
    }

    fn sign(kp: &ring::signature::EcdsaKeyPair, kid: &str) -> String {
        let h = numbat_jose::b64_encode(serde_json::json!({"alg": "ES256", "kid": kid}).to_string().as_bytes());
        let p = numbat_jose::b64_encode(b"{\"iss\":\"c\"}");
        let sig = kp.sign(&ring::rand::SystemRandom::new(), format!("{h}.{p}").as_bytes()).unwrap();
        format!("{h}.{p}.{}", numbat_jose::b64_encode(sig.as_ref()))
    }

    #[tokio::test]
    async fn unknown_kid_refetches_once_per_interval() {
        let (k1, j1) = key("k1");
        let (k2, j2) = key("k2");
        let fake = Arc::new(Fake {
            docs: vec![serde_json::json!({"keys": [j1.clone()]}), serde_json::json!({"keys": [j1, j2]})],
            calls: AtomicUsize::new(0),
        });
        let cfg = RemoteJwksConfig { cache_ttl: Duration::from_secs(300), min_refetch: Duration::from_millis(200) };
        let r = RemoteJwks::new(fake.clone(), cfg);
        let uri = "https://app.example/jwks";
        r.verify(uri, &sign(&k1, "k1"), &[Alg::ES256]).await.unwrap();
        r.verify(uri, &sign(&k1, "k1"), &[Alg::ES256]).await.unwrap();
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "cached");
        // Within the interval an unknown kid does not refetch: random kids cannot hammer the URI.
        for i in 0..20 {
            let e = r.verify(uri, &sign(&k2, &format!("rand-{i}")), &[Alg::ES256]).await.unwrap_err();
            assert!(matches!(e, ClientKeyError::Jose(JoseError::UnknownKey)), "{e}");
        }
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "rate limited");
        tokio::time::sleep(Duration::from_millis(250)).await;
        // The client rotated: k2 is new at the URI, found by one refetch.
        r.verify(uri, &sign(&k2, "k2"), &[Alg::ES256]).await.unwrap();
        assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn fetch_failure_keeps_cached_keys_and_is_unavailable_without_any() {
        struct Down;
        #[async_trait::async_trait]
        impl JwksFetcher for Down {
            async fn fetch(&self, _uri: &str) -> Result<Vec<u8>, String> {
                Err("timeout".into())
            }
        }
        let r = RemoteJwks::new(Arc::new(Down), RemoteJwksConfig::default());
        let (k1, _) = key("k1");
        let e = r.verify("https://x.example/j", &sign(&k1, "k1"), &[Alg::ES256]).await.unwrap_err();
        assert!(matches!(e, ClientKeyError::Unavailable(_)));
        let bad = Fake {
            docs: vec![serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})],
            calls: AtomicUsize::new(0),
        };
        let r = RemoteJwks::new(Arc::new(bad), RemoteJwksConfig::default());
        let e = r.verify("https://x.example/j", &sign(&k1, "k1"), &[Alg::ES256]).await.unwrap_err();
        assert!(matches!(e, ClientKeyError::Unavailable(_)), "symmetric keys at a jwks_uri are refused");
    }
}
