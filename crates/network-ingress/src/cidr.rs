//! Address blocks (`10.0.0.0/8`, `2001:db8::/32`, or one address): who may send RADIUS
//! accounting, which peers are trusted proxies, load balancers or enrichment proxies
//! (issue 6 items 2 and 4).

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
            Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().map_err(|_| InvalidCidr)?
            }
            Some(_) => return Err(InvalidCidr),
            None => max,
        };
        if len > max {
            return Err(InvalidCidr);
        }
        Ok(Cidr { net: mask(ip, len), len })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

impl Cidr {
    /// IPv4-mapped IPv6 sources (`::ffff:a.b.c.d`) count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = crate::bindings::canonical(ip);
        ip.is_ipv4() == self.net.is_ipv4() && mask(ip, self.len) == self.net
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }
}

/// Whether any block of `blocks` contains `ip`.
pub fn any_contains(blocks: &[Cidr], ip: IpAddr) -> bool {
    blocks.iter().any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_round_trips() {
        for s in ["10.0.0.0/8", "127.0.0.10/32", "2001:db8::/32", "::/0"] {
            assert_eq!(s.parse::<Cidr>().unwrap().to_string(), s);
        }
        assert_eq!("10.1.2.3/8".parse::<Cidr>().unwrap().to_string(), "10.0.0.0/8", "host bits are masked");
        assert!(any_contains(&["10.0.0.0/8".parse().unwrap()], "10.9.9.9".parse().unwrap()));
        assert!(!any_contains(&[], "10.9.9.9".parse().unwrap()));
    }
}
