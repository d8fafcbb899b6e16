//! The public HTTP listener, with the PROXY protocol from trusted load balancers (issue 6 item 4).
//!
//! actix-web's `HttpServer` starts HTTP on the first byte of a connection, so it cannot read a
//! PROXY protocol header first. This module builds the same server by hand (what
//! `HttpServer::listen` does in actix-web 4: an actix-server listener whose per-connection service
//! feeds `actix_http::HttpService`), with one step in front of HTTP:
//!
//! - A connection from outside the configured load-balancer blocks is plain HTTP; its peer is the
//!   TCP peer (as with `HttpServer`).
//! - A connection from inside them must begin with a PROXY protocol v2 or v1 header, complete
//!   within the timeout; otherwise it is closed without an answer (no guessing, and no falling
//!   back to the load balancer's own address). The header is read exactly (never a byte of
//!   HTTP) by the pure parser [`numbat_network_ingress::proxy_protocol`], and its source
//!   address:port becomes the connection's peer, i.e. what `HttpRequest::peer_addr()` returns to
//!   the ingress layer, source port included (CGNAT lookups need it). `LOCAL` (the balancer's
//!   own health checks) keeps the real peer (spec §2.2); `UNKNOWN`/`AF_UNSPEC`/`AF_UNIX` leave
//!   the peer unknown: served, never identified.
//!
//! No relay, no second socket: the parsed stream goes on to HTTP in the same task, so the cost
//! is one or two reads per connection (measured in `tests/e2e/client_address.rs`).

use actix_http::{HttpService, Protocol, Request, Response};
use actix_service::{fn_service, map_config, IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server};
use numbat_network_ingress::cidr::{any_contains, Cidr};
use numbat_network_ingress::proxy_protocol::{self, Header, Parsed};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use std::{fmt, io};
use tokio::net::TcpStream;

/// How the public listener runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    pub keep_alive: Duration,
    pub shutdown_timeout_s: u64,
    /// Load balancers whose connections must begin with a PROXY protocol header.
    pub proxy_from: Vec<Cidr>,
    /// How long such a header may take to arrive.
    pub proxy_timeout: Duration,
}

/// Serve the app `factory` on `listener` (the bound public socket), like
/// `HttpServer::new(factory).listen(listener)?.run()`, with the PROXY protocol step.
pub fn serve<F, I, S, B>(factory: F, listener: TcpListener, opts: ServeOptions) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let mut builder = Server::build().backlog(1024).shutdown_timeout(opts.shutdown_timeout_s);
    if opts.workers > 0 {
        builder = builder.workers(opts.workers);
    }
    let shutdown = builder.graceful_shutdown_signal();
    let proxy = Arc::new((opts.proxy_from, opts.proxy_timeout));
    let keep_alive = opts.keep_alive;
    let builder = builder.listen(format!("numbat-http-{addr}"), listener, move || {
        let shutdown = shutdown.clone();
        let proxy = proxy.clone();
        // The settings `HttpServer` applies by default (actix-web 4: 5 s to send the request
        // head, 1 s to close), and its graceful shutdown of idle keep-alive connections.
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let s = shutdown.clone();
                async move { s.notified().await }
            })
            .keep_alive(keep_alive)
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .h1_allow_half_closed(true)
            .local_addr(addr);
        let app = factory().into_factory().map_err(|e| e.into().error_response());
        // `AppConfig::new` is crate-private in actix-web; this is the constructor actix-test uses.
        let http = http.finish(map_config(app, move |_| AppConfig::__priv_test_new(false, addr.to_string(), addr)));
        fn_service(move |io: TcpStream| {
            let proxy = proxy.clone();
            async move {
                let peer =
                    connection_peer(&io, &proxy.0, proxy.1).await.map_err(actix_http::error::DispatchError::Io)?;
                Ok((io, Protocol::Http1, peer))
            }
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// The peer the ingress sees: the TCP peer, or what a trusted load balancer's PROXY header says.
async fn connection_peer(io: &TcpStream, proxy_from: &[Cidr], timeout: Duration) -> io::Result<Option<SocketAddr>> {
    let tcp_peer = io.peer_addr()?;
    if !any_contains(proxy_from, tcp_peer.ip()) {
        return Ok(Some(tcp_peer));
    }
    let header = match tokio::time::timeout(timeout, read_proxy_header(io)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            tracing::debug!(peer = %tcp_peer, error = %e, "closing a load-balancer connection without a valid PROXY header");
            return Err(e);
        }
        Err(_) => {
            tracing::debug!(peer = %tcp_peer, "closing a load-balancer connection: no PROXY header in time");
            return Err(io::ErrorKind::TimedOut.into());
        }
    };
    Ok(match header {
        Header::Proxied { source, .. } => Some(source),
        Header::Local => Some(tcp_peer),
        Header::Unknown => None,
    })
}

/// Read a PROXY protocol header, exactly: never a byte of what follows.
pub async fn read_proxy_header(io: &TcpStream) -> io::Result<Header> {
    let mut buf = Vec::with_capacity(64);
    loop {
        match proxy_protocol::parse(&buf) {
            Ok(Parsed::Complete { header, len }) if len == buf.len() => return Ok(header),
            // Only a malformed line can end inside the first read; never hand HTTP a partial view.
            Ok(Parsed::Complete { .. }) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "PROXY header shorter than read"))
            }
            Ok(Parsed::Incomplete { need }) => {
                let have = buf.len();
                let want = if buf.starts_with(b"PROXY ") && need == have + 1 {
                    // A v1 line past its first 15 bytes ends at its first LF: take what has
                    // arrived up to there (peek, then read exactly that), not a byte per read.
                    let mut ahead = [0u8; proxy_protocol::V1_MAX_LEN];
                    let room = proxy_protocol::V1_MAX_LEN.saturating_sub(have).max(1);
                    let n = io.peek(&mut ahead[..room]).await?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    ahead[..n].iter().position(|b| *b == b'\n').map_or(n, |i| i + 1)
                } else {
                    need - have
                };
                buf.resize(have + want, 0);
                read_exact(io, &mut buf[have..]).await?;
            }
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    }
}

async fn read_exact(io: &TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        io.readable().await?;
        match io.try_read(&mut buf[filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
