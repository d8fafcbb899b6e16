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
use std::str::FromStr;

/// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address (`/32`, `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an address block (a.b.c.d/n or x::/n)")]
pub struct InvalidCidr;

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = if len == 0 { 0 } else { u128::MAX << (128 - len as u32) };
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

impl FromStr for Cidr {
    type Err = InvalidCidr;
    fn from_str(s: &str) -> Result<Cidr, InvalidCidr> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let ip: IpAddr = a.parse().map_err(|_| InvalidCidr)?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => l.parse::<u8>().map_err(|_| InvalidCidr)?,
            Some(_) => return Err(InvalidCidr),
            None => max,
        };
        if len > max {
            return Err(InvalidCidr);
        }
        Ok(Cidr { net: mask(ip, len), len })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = crate::bindings::canonical(ip);
        ip.is_ipv4() == self.net.is_ipv4() && mask(ip, self.len) == self.net
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }
}

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
