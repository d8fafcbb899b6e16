//! RADIUS accounting (RFC 2866) as an identity source: packet gateways report which subscriber
//! holds which address, and the ingress keeps the bindings in the store.
//!
//! - [`packet`]: the codec (pure).
//! - [`accounting`]: what a packet does to the bindings (pure over the [`numbat_store::Store`]
//!   trait and a clock; no sockets, so every rule is testable with the in-memory store).
//! - [`listener`]: the UDP socket.

pub mod accounting;
pub mod listener;
pub mod packet;

pub use accounting::{Accounting, AccountingConfig, Disposition, Dropped, Handled, Ignored};
pub use listener::RadiusListener;

use std::net::IpAddr;

/// Moved to [`crate::cidr`] (shared with client-address resolution, issue 6 item 4).
pub use crate::cidr::{Cidr, InvalidCidr};

/// One gateway (or block of gateways) allowed to send accounting, with its shared secret.
#[derive(Clone)]
pub struct RadiusClient {
    pub cidr: Cidr,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for RadiusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadiusClient").field("cidr", &self.cidr).field("secret", &"<redacted>").finish()
    }
}

/// The shared secret for a packet from `ip`: the most specific block that contains it.
pub fn secret_for(clients: &[RadiusClient], ip: IpAddr) -> Option<&[u8]> {
    clients
        .iter()
        .filter(|c| c.cidr.contains(ip))
        .max_by_key(|c| c.cidr.prefix_len())
        .map(|c| c.secret.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing_and_longest_match() {
        let c: Cidr = "127.0.0.0/8".parse().unwrap();
        assert!(c.contains("127.0.0.3".parse().unwrap()));
        assert!(c.contains("::ffff:127.0.0.3".parse().unwrap()), "IPv4-mapped sources are IPv4");
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        for bad in ["127.0.0.0/33", "::/129", "x/8", "10.0.0.0/", "10.0.0.0/+8", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!("2001:db8::/32".parse::<Cidr>().unwrap().contains("2001:db8:1::1".parse().unwrap()));
        let clients = vec![
            RadiusClient { cidr: "10.0.0.0/8".parse().unwrap(), secret: b"wide".to_vec() },
            RadiusClient { cidr: "10.1.0.0/16".parse().unwrap(), secret: b"narrow".to_vec() },
        ];
        assert_eq!(secret_for(&clients, "10.1.2.3".parse().unwrap()), Some(&b"narrow"[..]));
        assert_eq!(secret_for(&clients, "10.2.2.3".parse().unwrap()), Some(&b"wide"[..]));
        assert_eq!(secret_for(&clients, "192.0.2.1".parse().unwrap()), None);
        assert!(!format!("{clients:?}").contains("narrow"));
    }
}
