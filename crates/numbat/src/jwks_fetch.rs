//! Fetching client JWKS from `jwks_uri` (issue 4 item 2), plugged into the authorization
//! server's key cache (`numbat_authorization_server::jwks_uri`).
//!
//! Bounded and fenced: https only (except trusted hosts), no redirects, no proxies from the
//! environment, a total timeout, a size cap enforced while streaming, and every address the
//! host resolves to checked against loopback/private/link-local and the other non-global ranges
//! (the resolver only hands reqwest the allowed addresses, so a DNS answer cannot aim numbat at
//! its own network between the check and the connection).

use numbat_authorization_server::jwks_uri::{is_forbidden_ip, JwksFetcher, JwksUriPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Resolves like the system resolver, dropping forbidden addresses of untrusted hosts.
struct GuardedResolver {
    policy: JwksUriPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let trusted = self.policy.host_trusted(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| trusted || !is_forbidden_ip(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves only to loopback, private or other non-global addresses").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

pub struct HttpJwksFetcher {
    client: reqwest::Client,
    policy: JwksUriPolicy,
    max_bytes: usize,
}

impl HttpJwksFetcher {
    pub fn new(policy: JwksUriPolicy, timeout: Duration, max_bytes: usize) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { policy: policy.clone() }))
            .user_agent(concat!("numbat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpJwksFetcher { client, policy, max_bytes })
    }
}

#[async_trait::async_trait]
impl JwksFetcher for HttpJwksFetcher {
    async fn fetch(&self, uri: &str) -> Result<Vec<u8>, String> {
        // Scheme, credentials and IP-literal hosts (which never reach the resolver).
        let url = self.policy.check_url(uri)?;
        let mut r = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| {
                format!("fetch failed: {}", if e.is_timeout() { "timeout".to_owned() } else { e.to_string() })
            })?;
        if !r.status().is_success() {
            return Err(format!("status {}", r.status().as_u16()));
        }
        if r.content_length().is_some_and(|n| n > self.max_bytes as u64) {
            return Err(format!("larger than {} bytes", self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) =
            r.chunk().await.map_err(|e| if e.is_timeout() { "timeout".to_owned() } else { e.to_string() })?
        {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(format!("larger than {} bytes", self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
