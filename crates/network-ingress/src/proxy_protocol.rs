//! The PROXY protocol, versions 1 and 2 (HAProxy, "The PROXY protocol", proxy-protocol.txt),
//! receiver side: a trusted load balancer opens each connection with a header naming the
//! client's original source address and port, so the ingress sees the device's address (and the
//! source port a CGNAT lookup needs) although the TCP peer is the load balancer (issue 6 item 4).
//!
//! Pure: [`parse`] looks at the bytes received so far and says either what the header says and
//! how long it was, or how many bytes it needs at least before it can say more. The caller reads
//! exactly that many, so it never consumes a byte of the HTTP request that follows.
//!
//! Fail closed: anything that is not a well-formed header is an error, and the connection is to
//! be closed (spec §2: "the receiver must not try to guess"; a non-PROXY peer in a trusted block
//! is never read as plain HTTP). A header with no usable source address (`UNKNOWN`, `AF_UNSPEC`,
//! `AF_UNIX`) yields [`Header::Unknown`]: the connection is served, but nobody is identified.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature (spec §2.2).
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8] = b"PROXY ";
/// Spec §2.1: a v1 line is at most 107 bytes, CRLF included.
pub const V1_MAX_LEN: usize = 107;
/// The shortest v1 line, `PROXY UNKNOWN\r\n`; reading this much first never over-reads.
const V1_MIN_LEN: usize = 15;
/// Most bytes after the 16-byte v2 header accepted (addresses and TLVs). The largest address
/// block (AF_UNIX) is 216 bytes; load balancers add TLVs (AWS, GCP, Azure ids) of a few dozen.
/// Longer is refused rather than buffered (the length field allows 65535).
pub const V2_MAX_PAYLOAD: usize = 4096;

/// What a complete header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The load balancer relays a client connection from `source` (to `destination`).
    Proxied { source: SocketAddr, destination: SocketAddr },
    /// v2 `LOCAL`: the load balancer speaks for itself (health checks). Spec §2.2: the receiver
    /// must use the real connection endpoints.
    Local,
    /// v1 `UNKNOWN`, v2 `AF_UNSPEC` or `AF_UNIX`: a relayed connection whose source is no IP
    /// address. Served, never identified.
    Unknown,
}

/// The outcome of looking at the bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header of `len` bytes; the HTTP stream starts right after it.
    Complete { header: Header, len: usize },
    /// Call again with at least `need` bytes in total (always more than given).
    Incomplete { need: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("the connection does not begin with a PROXY protocol signature")]
    NoSignature,
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(&'static str),
    #[error("PROXY protocol header too long")]
    TooLong,
}

/// Look at the first bytes of a connection.
pub fn parse(buf: &[u8]) -> Result<Parsed, ProxyError> {
    if buf.is_empty() {
        // Either version: the shortest header of both is a v1 `PROXY UNKNOWN\r\n`.
        return Ok(Parsed::Incomplete { need: V1_MIN_LEN });
    }
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] == V2_SIGNATURE[..n] {
        return parse_v2(buf);
    }
    let n = buf.len().min(V1_PREFIX.len());
    if buf[..n] == V1_PREFIX[..n] {
        return parse_v1(buf);
    }
    Err(ProxyError::NoSignature)
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, ProxyError> {
    if buf.len() < V1_MIN_LEN {
        return Ok(Parsed::Incomplete { need: V1_MIN_LEN });
    }
    let Some(cr) = buf.iter().position(|b| *b == b'\r' || *b == b'\n') else {
        if buf.len() >= V1_MAX_LEN {
            return Err(ProxyError::TooLong);
        }
        return Ok(Parsed::Incomplete { need: buf.len() + 1 });
    };
    if buf[cr] != b'\r' {
        return Err(ProxyError::Malformed("v1 line ends without CR"));
    }
    match buf.get(cr + 1) {
        None if cr + 2 <= V1_MAX_LEN => return Ok(Parsed::Incomplete { need: cr + 2 }),
        None => return Err(ProxyError::TooLong),
        Some(b'\n') => {}
        Some(_) => return Err(ProxyError::Malformed("v1 CR without LF")),
    }
    let len = cr + 2;
    if len > V1_MAX_LEN {
        return Err(ProxyError::TooLong);
    }
    let line = std::str::from_utf8(&buf[..cr]).map_err(|_| ProxyError::Malformed("v1 line is not ASCII"))?;
    let mut f = line.split(' ');
    f.next(); // "PROXY"
    let header = match f.next() {
        // Spec §2.1: after UNKNOWN the receiver must ignore everything up to the CRLF.
        Some("UNKNOWN") => Header::Unknown,
        Some(proto @ ("TCP4" | "TCP6")) => {
            let fields: Vec<&str> = f.collect();
            let [src, dst, sport, dport] = fields[..] else {
                return Err(ProxyError::Malformed("v1 needs source, destination and two ports"));
            };
            let (src, dst) = if proto == "TCP4" {
                (v1_addr::<Ipv4Addr>(src)?.into(), v1_addr::<Ipv4Addr>(dst)?.into())
            } else {
                (v1_addr::<Ipv6Addr>(src)?.into(), v1_addr::<Ipv6Addr>(dst)?.into())
            };
            let source = SocketAddr::new(src, v1_port(sport)?);
            let destination = SocketAddr::new(dst, v1_port(dport)?);
            Header::Proxied { source, destination }
        }
        _ => return Err(ProxyError::Malformed("v1 protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    Ok(Parsed::Complete { header, len })
}

fn v1_addr<T: std::str::FromStr>(s: &str) -> Result<T, ProxyError> {
    // No zone ids, no brackets: the address parsers of std accept neither for a bare address.
    s.parse().map_err(|_| ProxyError::Malformed("v1 address"))
}

/// A decimal port, 0..=65535, without sign or leading zeros.
fn v1_port(s: &str) -> Result<u16, ProxyError> {
    let ok =
        !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(ProxyError::Malformed("v1 port"));
    }
    s.parse().map_err(|_| ProxyError::Malformed("v1 port"))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, ProxyError> {
    if buf.len() < 16 {
        return Ok(Parsed::Incomplete { need: 16 });
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::Malformed("v2 version is not 2"));
    }
    let payload = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if payload > V2_MAX_PAYLOAD {
        return Err(ProxyError::TooLong);
    }
    let len = 16 + payload;
    if buf.len() < len {
        return Ok(Parsed::Incomplete { need: len });
    }
    let body = &buf[16..len];
    let fam = buf[13];
    let header = match ver_cmd & 0x0f {
        // LOCAL: the address block (whatever the family) and the TLVs are skipped.
        0x0 => Header::Local,
        0x1 => match fam {
            // AF_UNSPEC: spec §2.2, "the receiver should ignore address information".
            0x00 => Header::Unknown,
            // AF_INET, STREAM: 4 + 4 + 2 + 2 bytes.
            0x11 => {
                let a = body.get(..12).ok_or(ProxyError::Malformed("v2 AF_INET block too short"))?;
                let ip = |o: usize| IpAddr::from([a[o], a[o + 1], a[o + 2], a[o + 3]]);
                let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
                Header::Proxied {
                    source: SocketAddr::new(ip(0), port(8)),
                    destination: SocketAddr::new(ip(4), port(10)),
                }
            }
            // AF_INET6, STREAM: 16 + 16 + 2 + 2 bytes.
            0x21 => {
                let a = body.get(..36).ok_or(ProxyError::Malformed("v2 AF_INET6 block too short"))?;
                let ip = |o: usize| {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&a[o..o + 16]);
                    IpAddr::from(b)
                };
                let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
                Header::Proxied {
                    source: SocketAddr::new(ip(0), port(32)),
                    destination: SocketAddr::new(ip(16), port(34)),
                }
            }
            // AF_UNIX, STREAM or DGRAM: 108 + 108 bytes of paths, no IP address to identify.
            0x31 | 0x32 => {
                if body.len() < 216 {
                    return Err(ProxyError::Malformed("v2 AF_UNIX block too short"));
                }
                Header::Unknown
            }
            // DGRAM or UNSPEC transport over IP is no TCP connection; other families are undefined.
            _ => return Err(ProxyError::Malformed("v2 family/transport is not TCP over IPv4/IPv6, UNIX or UNSPEC")),
        },
        _ => return Err(ProxyError::Malformed("v2 command is not LOCAL or PROXY")),
    };
    // Whatever follows the address block is TLVs (spec §2.2.7): none changes the source, but a
    // PP2_TYPE_CRC32C among them is verified (spec §2.2.5).
    verify_v2_crc32c(&buf[..len])?;
    Ok(Parsed::Complete { header, len })
}

/// `PP2_TYPE_CRC32C` (spec §2.2.5): a 4-byte big-endian CRC32c of the whole header.
const PP2_TYPE_CRC32C: u8 = 0x03;

/// Spec §2.2.5: when a v2 header carries a `PP2_TYPE_CRC32C` TLV, "the receiver MUST verify the
/// checksum": its value is the CRC32c ([`crc32c`]) of the whole header (signature to last TLV)
/// computed with the 4 value bytes set to zero. A header may carry at most one; one whose length
/// is not 4 is malformed. `header` is exactly the complete v2 header.
///
/// The TLVs start after the address block, whose size the family byte gives (AF_UNSPEC 0,
/// AF_INET 12, AF_INET6 36, AF_UNIX 216), for `PROXY` and `LOCAL` alike. The walk is as tolerant
/// as the parser always was: a `LOCAL` header with an undefined family or a short address
/// block, or a TLV chain that runs past the end (a TLV whose length overruns, trailing bytes too
/// short for a TLV header), is still accepted; the walk stops there, so a CRC32C TLV after that
/// point cannot be located and is not verified. A CRC32C TLV that itself overruns the header is
/// malformed.
fn verify_v2_crc32c(header: &[u8]) -> Result<(), ProxyError> {
    let addr_len = match header[13] >> 4 {
        0x0 => 0,
        0x1 => 12,
        0x2 => 36,
        0x3 => 216,
        _ => return Ok(()),
    };
    let mut at = 16 + addr_len;
    let mut crc_at = None;
    // A TLV is a type byte, a big-endian u16 length and that many value bytes.
    while let Some(&[ty, hi, lo]) = header.get(at..at + 3) {
        let value = at + 3;
        let end = value + u16::from_be_bytes([hi, lo]) as usize;
        if ty == PP2_TYPE_CRC32C {
            if end - value != 4 {
                return Err(ProxyError::Malformed("v2 CRC32C TLV length is not 4"));
            }
            if end > header.len() {
                return Err(ProxyError::Malformed("v2 CRC32C TLV overruns the header"));
            }
            if crc_at.replace(value).is_some() {
                return Err(ProxyError::Malformed("v2 header carries more than one CRC32C TLV"));
            }
        }
        if end > header.len() {
            break;
        }
        at = end;
    }
    let Some(at) = crc_at else {
        return Ok(());
    };
    let expected = u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    let mut crc = crc32c_update(!0, &header[..at]);
    crc = crc32c_update(crc, &[0; 4]);
    crc = !crc32c_update(crc, &header[at + 4..]);
    if crc != expected {
        return Err(ProxyError::Malformed("v2 CRC32C checksum mismatch"));
    }
    Ok(())
}

/// The CRC32c (Castagnoli) lookup table: polynomial 0x1EDC6F41, bit-reflected 0x82F63B78;
/// entry `i` is the remainder of byte `i` shifted through 8 rounds. Built at compile time.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// Feed `data` into a running, not yet finalised (inverted) CRC32c register.
fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    data.iter().fold(crc, |c, &b| CRC32C_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8))
}

/// CRC32c (Castagnoli; iSCSI, SCTP, the PROXY protocol's `PP2_TYPE_CRC32C`): reflected,
/// initial value and final XOR 0xFFFFFFFF, one table lookup per byte. Check value:
/// `crc32c(b"123456789") == 0xE3069283`.
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

/// Encode a v2 `PROXY` header (for tests and load generators).
pub fn encode_v2(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x21);
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend([0x11, 0, 12]);
            out.extend(s.octets());
            out.extend(d.octets());
        }
        (s, d) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            out.extend([0x21, 0, 36]);
            out.extend(v6(s).octets());
            out.extend(v6(d).octets());
        }
    }
    out.extend(source.port().to_be_bytes());
    out.extend(destination.port().to_be_bytes());
    out
}

#[cfg(test)]
#[path = "proxy_protocol_tests.rs"]
mod tests;
