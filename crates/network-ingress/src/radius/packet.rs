//! RADIUS packet codec for accounting (RFC 2865 §3 packet format, RFC 2866 accounting).
//!
//! MD5 appears here only because RADIUS mandates it for the Request and Response
//! Authenticators; it protects nothing else in numbat.
//!
//! Pure: bytes in, bytes out, no I/O.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ACCOUNTING_REQUEST: u8 = 4;
pub const ACCOUNTING_RESPONSE: u8 = 5;

/// The smallest and largest packet RFC 2865 §3 allows.
pub const MIN_LEN: usize = 20;
pub const MAX_LEN: usize = 4096;

/// Attribute types used by the accounting logic.
pub mod attr {
    pub const NAS_IP_ADDRESS: u8 = 4;
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    pub const VENDOR_SPECIFIC: u8 = 26;
    pub const CALLING_STATION_ID: u8 = 31;
    pub const NAS_IDENTIFIER: u8 = 32;
    pub const PROXY_STATE: u8 = 33;
    pub const ACCT_STATUS_TYPE: u8 = 40;
    pub const ACCT_SESSION_ID: u8 = 44;
    pub const ACCT_SESSION_TIME: u8 = 46;
    pub const ACCT_INTERIM_INTERVAL: u8 = 85;
    pub const NAS_IPV6_ADDRESS: u8 = 95;
    pub const FRAMED_IPV6_PREFIX: u8 = 97;
}

/// 3GPP vendor-specific attributes (TS 29.061 §16.4.7).
pub const VENDOR_3GPP: u32 = 10415;
pub const VSA_3GPP_IMSI: u8 = 1;
pub const VSA_3GPP_IMEISV: u8 = 20;

/// Acct-Status-Type values (RFC 2866 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusType {
    Start,
    Stop,
    InterimUpdate,
    AccountingOn,
    AccountingOff,
    Other(u32),
}

impl StatusType {
    pub fn from_u32(v: u32) -> StatusType {
        match v {
            1 => StatusType::Start,
            2 => StatusType::Stop,
            3 => StatusType::InterimUpdate,
            7 => StatusType::AccountingOn,
            8 => StatusType::AccountingOff,
            n => StatusType::Other(n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("shorter than a RADIUS header")]
    TooShort,
    #[error("Length field out of range or beyond the datagram")]
    BadLength,
    #[error("malformed attribute")]
    BadAttribute,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub typ: u8,
    pub value: Vec<u8>,
}

/// A decoded packet. `raw` is the packet exactly as its Length field delimits it (octets past
/// Length are padding and ignored, RFC 2865 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub code: u8,
    pub identifier: u8,
    pub authenticator: [u8; 16],
    pub attributes: Vec<Attribute>,
    pub raw: Vec<u8>,
}

pub fn decode(buf: &[u8]) -> Result<Packet, PacketError> {
    if buf.len() < MIN_LEN {
        return Err(PacketError::TooShort);
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    if !(MIN_LEN..=MAX_LEN).contains(&len) || len > buf.len() {
        return Err(PacketError::BadLength);
    }
    let raw = buf[..len].to_vec();
    let mut authenticator = [0u8; 16];
    authenticator.copy_from_slice(&raw[4..20]);
    let mut attributes = Vec::new();
    let mut i = MIN_LEN;
    while i < len {
        if i + 2 > len {
            return Err(PacketError::BadAttribute);
        }
        let (typ, alen) = (raw[i], raw[i + 1] as usize);
        if alen < 2 || i + alen > len {
            return Err(PacketError::BadAttribute);
        }
        attributes.push(Attribute { typ, value: raw[i + 2..i + alen].to_vec() });
        i += alen;
    }
    Ok(Packet { code: raw[0], identifier: raw[1], authenticator, attributes, raw })
}

/// Request Authenticator of an Accounting-Request (RFC 2866 §3):
/// MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret).
pub fn accounting_request_authenticator(raw: &[u8], secret: &[u8]) -> [u8; 16] {
    let mut ctx = md5::Context::new();
    ctx.consume(&raw[..4]);
    ctx.consume([0u8; 16]);
    ctx.consume(&raw[20..]);
    ctx.consume(secret);
    ctx.finalize().0
}

/// Does the packet's Request Authenticator prove knowledge of `secret`? (Constant time.)
pub fn verify_accounting_request(p: &Packet, secret: &[u8]) -> bool {
    let expected = accounting_request_authenticator(&p.raw, secret);
    expected.iter().zip(p.authenticator.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Encode a packet with `authenticator` as given and the Length computed.
fn encode(code: u8, identifier: u8, authenticator: &[u8; 16], attributes: &[Attribute]) -> Vec<u8> {
    let mut out = vec![code, identifier, 0, 0];
    out.extend_from_slice(authenticator);
    for a in attributes {
        out.push(a.typ);
        out.push((a.value.len() + 2) as u8);
        out.extend_from_slice(&a.value);
    }
    let len = out.len() as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
    out
}

/// A signed Accounting-Request (what a gateway sends; used by tests and tools).
pub fn encode_accounting_request(identifier: u8, attributes: &[Attribute], secret: &[u8]) -> Vec<u8> {
    let mut out = encode(ACCOUNTING_REQUEST, identifier, &[0u8; 16], attributes);
    let auth = accounting_request_authenticator(&out, secret);
    out[4..20].copy_from_slice(&auth);
    out
}

/// The Accounting-Response to `req` (RFC 2866 §3/§4.2): Proxy-State attributes copied in order,
/// Response Authenticator = MD5(Code + Identifier + Length + Request Authenticator + Attributes
/// + Secret).
pub fn encode_accounting_response(req: &Packet, secret: &[u8]) -> Vec<u8> {
    let proxy: Vec<Attribute> = req.attributes.iter().filter(|a| a.typ == attr::PROXY_STATE).cloned().collect();
    let mut out = encode(ACCOUNTING_RESPONSE, req.identifier, &req.authenticator, &proxy);
    let mut ctx = md5::Context::new();
    ctx.consume(&out);
    ctx.consume(secret);
    out[4..20].copy_from_slice(&ctx.finalize().0);
    out
}

/// Attribute builders (tests, tools).
impl Attribute {
    pub fn new(typ: u8, value: impl Into<Vec<u8>>) -> Attribute {
        Attribute { typ, value: value.into() }
    }
    pub fn u32(typ: u8, v: u32) -> Attribute {
        Attribute::new(typ, v.to_be_bytes().to_vec())
    }
    pub fn ipv4(typ: u8, ip: Ipv4Addr) -> Attribute {
        Attribute::new(typ, ip.octets().to_vec())
    }
    /// Framed-IPv6-Prefix (RFC 3162 §2.3): reserved, prefix length, the prefix's significant octets.
    pub fn ipv6_prefix(prefix: Ipv6Addr, len: u8) -> Attribute {
        let octets = (len as usize).div_ceil(8).min(16);
        let mut v = vec![0, len];
        v.extend_from_slice(&prefix.octets()[..octets]);
        Attribute::new(attr::FRAMED_IPV6_PREFIX, v)
    }
    /// One 3GPP vendor-specific sub-attribute inside a Vendor-Specific attribute.
    pub fn vsa_3gpp(vendor_type: u8, value: &[u8]) -> Attribute {
        let mut v = VENDOR_3GPP.to_be_bytes().to_vec();
        v.push(vendor_type);
        v.push((value.len() + 2) as u8);
        v.extend_from_slice(value);
        Attribute::new(attr::VENDOR_SPECIFIC, v)
    }
}

/// The accounting attributes numbat reads, decoded. Unknown or malformed attributes are left
/// out (a gateway may send many more); the first occurrence of each wins.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AccountingRequest {
    pub status_type: Option<u32>,
    pub session_id: Option<String>,
    /// Raw Calling-Station-Id (validated by the accounting logic).
    pub calling_station_id: Option<String>,
    pub framed_ip: Option<Ipv4Addr>,
    /// Framed-IPv6-Prefix: the prefix (zero-padded) and its length.
    pub framed_ipv6_prefix: Option<(Ipv6Addr, u8)>,
    pub interim_interval: Option<u32>,
    pub session_time: Option<u32>,
    pub nas_ip: Option<Ipv4Addr>,
    pub nas_ipv6: Option<Ipv6Addr>,
    pub nas_identifier: Option<String>,
    pub imsi: Option<String>,
    pub imeisv: Option<String>,
}

impl std::fmt::Debug for AccountingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No subscriber data: Calling-Station-Id, IMSI and IMEISV are only said to be present.
        f.debug_struct("AccountingRequest")
            .field("status_type", &self.status_type)
            .field("calling_station_id", &self.calling_station_id.is_some())
            .field("framed_ip", &self.framed_ip.is_some())
            .field("framed_ipv6_prefix", &self.framed_ipv6_prefix.is_some())
            .field("interim_interval", &self.interim_interval)
            .field("imsi", &self.imsi.is_some())
            .field("imeisv", &self.imeisv.is_some())
            .finish_non_exhaustive()
    }
}

fn text(v: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(v).ok()?;
    (!s.is_empty() && !s.chars().any(char::is_control)).then(|| s.to_owned())
}

fn u32_of(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

fn ipv6_prefix(v: &[u8]) -> Option<(Ipv6Addr, u8)> {
    // RFC 3162 §2.3: Reserved (1), Prefix-Length (1, 0..=128), Prefix (0..=16 octets).
    if v.len() < 2 || v.len() > 18 || v[1] > 128 {
        return None;
    }
    let len = v[1];
    if v.len() - 2 < (len as usize).div_ceil(8) {
        return None;
    }
    let mut o = [0u8; 16];
    o[..v.len() - 2].copy_from_slice(&v[2..]);
    Some((Ipv6Addr::from(o), len))
}

/// The digits-only values of 3GPP-IMSI (5..=15 digits) and 3GPP-IMEISV (14..=16 digits).
fn digits(v: &[u8], range: std::ops::RangeInclusive<usize>) -> Option<String> {
    (range.contains(&v.len()) && v.iter().all(u8::is_ascii_digit)).then(|| String::from_utf8_lossy(v).into_owned())
}

fn vendor_specific(v: &[u8], req: &mut AccountingRequest) {
    if v.len() < 4 || u32::from_be_bytes([v[0], v[1], v[2], v[3]]) != VENDOR_3GPP {
        return;
    }
    let mut i = 4;
    while i + 2 <= v.len() {
        let (typ, len) = (v[i], v[i + 1] as usize);
        if len < 2 || i + len > v.len() {
            return;
        }
        let value = &v[i + 2..i + len];
        match typ {
            VSA_3GPP_IMSI if req.imsi.is_none() => req.imsi = digits(value, 5..=15),
            VSA_3GPP_IMEISV if req.imeisv.is_none() => req.imeisv = digits(value, 14..=16),
            _ => {}
        }
        i += len;
    }
}

impl AccountingRequest {
    pub fn from_packet(p: &Packet) -> AccountingRequest {
        let mut r = AccountingRequest::default();
        for a in &p.attributes {
            let v = a.value.as_slice();
            match a.typ {
                attr::ACCT_STATUS_TYPE if r.status_type.is_none() => r.status_type = u32_of(v),
                attr::ACCT_SESSION_ID if r.session_id.is_none() => r.session_id = text(v),
                attr::CALLING_STATION_ID if r.calling_station_id.is_none() => r.calling_station_id = text(v),
                attr::FRAMED_IP_ADDRESS if r.framed_ip.is_none() => {
                    r.framed_ip = <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from)
                }
                attr::FRAMED_IPV6_PREFIX if r.framed_ipv6_prefix.is_none() => r.framed_ipv6_prefix = ipv6_prefix(v),
                attr::ACCT_INTERIM_INTERVAL if r.interim_interval.is_none() => r.interim_interval = u32_of(v),
                attr::ACCT_SESSION_TIME if r.session_time.is_none() => r.session_time = u32_of(v),
                attr::NAS_IP_ADDRESS if r.nas_ip.is_none() => r.nas_ip = <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from),
                attr::NAS_IPV6_ADDRESS if r.nas_ipv6.is_none() => {
                    r.nas_ipv6 = <[u8; 16]>::try_from(v).ok().map(Ipv6Addr::from)
                }
                attr::NAS_IDENTIFIER if r.nas_identifier.is_none() => r.nas_identifier = text(v),
                attr::VENDOR_SPECIFIC => vendor_specific(v, &mut r),
                _ => {}
            }
        }
        r
    }

    pub fn status(&self) -> Option<StatusType> {
        self.status_type.map(StatusType::from_u32)
    }
}
