//! The UDP side of RADIUS accounting: receive datagrams, hand each to [`Accounting::handle`] on
//! its own task (a slow store never stalls the socket), send back whatever it answers.

use super::accounting::Accounting;
use super::packet::MAX_LEN;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

/// Packets handled at once; beyond this, datagrams are dropped and the gateways retransmit.
pub const MAX_IN_FLIGHT: usize = 1024;

pub struct RadiusListener {
    socket: UdpSocket,
}

impl RadiusListener {
    /// Bind the accounting socket (`127.0.0.1:0` picks a free port; see [`Self::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<RadiusListener> {
        Ok(RadiusListener { socket: UdpSocket::bind(addr).await? })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serve until the task is aborted.
    pub fn spawn(self, accounting: Arc<Accounting>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(accounting))
    }

    async fn run(self, accounting: Arc<Accounting>) {
        let socket = Arc::new(self.socket);
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut buf = vec![0u8; MAX_LEN + 1];
        loop {
            let (n, src) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors of earlier sends surface here on some systems; keep serving.
                    tracing::debug!(error = %e, "RADIUS socket receive error");
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::warn!("RADIUS accounting overloaded; packet dropped (the gateway retransmits)");
                continue;
            };
            let datagram = buf[..n].to_vec();
            let (socket, accounting) = (socket.clone(), accounting.clone());
            tokio::spawn(async move {
                let handled = accounting.handle(src, &datagram).await;
                if let Some(resp) = handled.response {
                    if let Err(e) = socket.send_to(&resp, src).await {
                        tracing::debug!(error = %e, "RADIUS response not sent");
                    }
                }
                drop(permit);
            });
        }
    }
}
