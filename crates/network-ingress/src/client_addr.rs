//! The client address (issue 6 item 4): which network address a request comes from, and
//! whether an operator enrichment proxy vouches for the subscriber directly. Pure: no actix
//! types, only the peer's socket address and the raw values of the relevant headers; the actix
//! adapter ([`crate::http`]) feeds it.
//!
//! Rules, all failing closed (an unresolved address is "not identified", never a fallback to a
//! value the client could have written):
//!
//! - The peer is the TCP peer, or the source a trusted load balancer announced in a PROXY
//!   protocol header ([`crate::proxy_protocol`]; the binary resolves it before HTTP starts).
//! - A peer that is not a configured trusted proxy is the client. Its forwarding headers are
//!   ignored entirely: a spoofed `X-Forwarded-For` or `Forwarded` changes nothing.
//! - From a trusted proxy, exactly one forwarding header is read, the configured one
//!   ([`ForwardingHeader`]; `X-Forwarded-For` by default); the other is ignored even when
//!   present. Why not "`Forwarded` wins when present": a proxy that appends only to
//!   `X-Forwarded-For` passes a client's own `Forwarded` through untouched, and preferring it
//!   would let that client name any address. Only the header the proxies really write counts.
//! - All instances of that header are concatenated in order and walked right to left, skipping
//!   trusted proxies; the first untrusted hop is the client. A port on that hop
//!   (`Forwarded: for="198.51.100.7:40001"`, `for="[2001:db8::1]:4711"`, or `ip:port` in
//!   `X-Forwarded-For`) is the source port, which CGNAT lookups need (issue 6 item 1).
//! - Malformed syntax anywhere in the header, an obfuscated or `unknown` node (RFC 7239 §6) on the
//!   walk, a chain of trusted proxies only, or no header at all → not identified.
//! - Bounded work: at most [`MAX_FORWARDING_BYTES`] bytes and [`MAX_HOPS`] hops are parsed;
//!   longer → not identified.
//! - Header enrichment: only from a peer inside the configured enricher blocks, and only under the
//!   configured header name, does a subscriber number in a header count ([`enrichment`]).
//!
//! Header enrichment trusts the enricher's *address*, not the request, so its safety rests on a
//! deployment rule (issue 6, review finding 4): the enricher must be the TLS-terminating hop
//! that strips any client copy of the header and writes its own on every request it forwards.
//! A forward proxy that passes HTTPS through CONNECT tunnels breaks it: the device's own TLS
//! session, tunnelled, arrives from the enricher's address carrying an `X-MSISDN` the device
//! chose, and nothing in the request tells it apart. CONNECT-tunnelled traffic from an enricher
//! address must therefore never reach numbat (block CONNECT to numbat at the proxy, or give the
//! enricher a source address or listener tunnels cannot use); where the edge can, PROXY protocol
//! and bindings are preferable. `config/reference.toml` says the same at `enrichment_header`.

use crate::bindings::canonical;
use crate::cidr::{any_contains, Cidr};
use numbat_core::Msisdn;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Most bytes of forwarding header (all instances together) that are parsed (issue 6 item 4:
/// bound the work). A longer header is not identified.
pub const MAX_FORWARDING_BYTES: usize = 4096;
/// Most hops (list elements) that are parsed.
pub const MAX_HOPS: usize = 32;

/// Which forwarding header the trusted proxies write. Only that one is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (de-facto standard).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardingHeader {
    /// The lowercase header name.
    pub fn name(self) -> &'static str {
        match self {
            ForwardingHeader::XForwardedFor => "x-forwarded-for",
            ForwardingHeader::Forwarded => "forwarded",
        }
    }
}

impl FromStr for ForwardingHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("x-forwarded-for") {
            Ok(ForwardingHeader::XForwardedFor)
        } else if s.eq_ignore_ascii_case("forwarded") {
            Ok(ForwardingHeader::Forwarded)
        } else {
            Err("\"x-forwarded-for\" or \"forwarded\"".into())
        }
    }
}

/// Header enrichment by the operator's own HTTP proxy (issue 6 item 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrichment {
    /// Lowercase header name carrying the subscriber number (E.164), e.g. `x-msisdn`.
    pub header: String,
    /// Peers (after PROXY protocol resolution) allowed to set it.
    pub from: Vec<Cidr>,
}

/// How the client address is decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientAddrConfig {
    /// Peers whose forwarding header is believed. Empty: the peer is always the client.
    pub trusted_proxies: Vec<Cidr>,
    /// The forwarding header those proxies write.
    pub forwarding_header: ForwardingHeader,
    /// Header enrichment, when configured.
    pub enrichment: Option<Enrichment>,
}

impl ClientAddrConfig {
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        any_contains(&self.trusted_proxies, ip)
    }
}

/// The device's address as far as the network can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// Source port, where known (needed to look up a shared CGNAT address).
    pub port: Option<u16>,
}

/// Why no client address was decided (for debug logs; every case means "not identified").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    #[error("the connection's source address is unknown")]
    NoPeer,
    #[error("a trusted proxy sent no forwarding header")]
    NoForwardingHeader,
    #[error("the forwarding header names trusted proxies only")]
    OnlyTrustedHops,
    #[error("the client hop is obfuscated or unknown")]
    Obfuscated,
    #[error("the forwarding header is malformed")]
    Malformed,
    #[error("the forwarding header is too long")]
    TooLarge,
}

/// Decide the client address. `peer`: the TCP peer (or the PROXY protocol source); `forwarding`:
/// every instance, in order, of the configured forwarding header (ignored unless the peer is a
/// trusted proxy).
pub fn resolve(
    cfg: &ClientAddrConfig,
    peer: Option<SocketAddr>,
    forwarding: &[&[u8]],
) -> Result<ClientAddr, Unresolved> {
    let peer = peer.ok_or(Unresolved::NoPeer)?;
    let ip = canonical(peer.ip());
    if !cfg.is_trusted_proxy(ip) {
        // An untrusted peer is the client; whatever it wrote in forwarding headers is ignored.
        return Ok(ClientAddr { ip, port: Some(peer.port()) });
    }
    if forwarding.is_empty() {
        return Err(Unresolved::NoForwardingHeader);
    }
    let total = forwarding.iter().map(|v| v.len() + 1).sum::<usize>();
    if total > MAX_FORWARDING_BYTES + 1 {
        return Err(Unresolved::TooLarge);
    }
    // All instances form one list, in order (RFC 9110 §5.3).
    let joined = forwarding.join(&b","[..]);
    let hops = match cfg.forwarding_header {
        ForwardingHeader::XForwardedFor => parse_x_forwarded_for(&joined)?,
        ForwardingHeader::Forwarded => parse_forwarded(&joined)?,
    };
    for hop in hops.iter().rev() {
        match *hop {
            Node::Addr(ip, _) if cfg.is_trusted_proxy(ip) => continue,
            Node::Addr(ip, port) => return Ok(ClientAddr { ip: canonical(ip), port }),
            Node::Hidden => return Err(Unresolved::Obfuscated),
        }
    }
    Err(Unresolved::OnlyTrustedHops)
}

/// One hop of a forwarding header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Addr(IpAddr, Option<u16>),
    /// `unknown`, an obfuscated identifier (`_hidden`), or an element without `for`.
    Hidden,
}

/// OWS (RFC 9110 §5.6.3).
fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |e| e + 1);
    &s[start..end]
}

/// `X-Forwarded-For: 192.0.2.1, 2001:db8::1, 198.51.100.7:40001, [2001:db8::2]:4711`.
fn parse_x_forwarded_for(v: &[u8]) -> Result<Vec<Node>, Unresolved> {
    let mut hops = Vec::new();
    for entry in v.split(|b| *b == b',') {
        if hops.len() == MAX_HOPS {
            return Err(Unresolved::TooLarge);
        }
        let e = std::str::from_utf8(trim_ows(entry)).map_err(|_| Unresolved::Malformed)?;
        hops.push(parse_xff_entry(e)?);
    }
    Ok(hops)
}

fn parse_xff_entry(e: &str) -> Result<Node, Unresolved> {
    if e.eq_ignore_ascii_case("unknown") || (e.starts_with('_') && is_obf(e)) {
        return Ok(Node::Hidden);
    }
    // Zone ids (`%eth0`) name an interface of the proxy, never a device.
    if e.contains('%') {
        return Err(Unresolved::Malformed);
    }
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Ok(Node::Addr(ip, None));
    }
    if let Ok(sa) = e.parse::<SocketAddr>() {
        return match sa.port() {
            0 => Err(Unresolved::Malformed),
            p => Ok(Node::Addr(sa.ip(), Some(p))),
        };
    }
    if let Some(inner) = e.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().map(|ip| Node::Addr(IpAddr::V6(ip), None)).map_err(|_| Unresolved::Malformed);
    }
    Err(Unresolved::Malformed)
}

/// RFC 7239 §4: `Forwarded = 1#forwarded-element`, `forwarded-element = forwarded-pair *( ";"
/// forwarded-pair )`, `forwarded-pair = token "=" value`, `value = token / quoted-string`. One
/// node per element: its `for` (an element without `for` is an unknown hop). Strict: a syntax
/// error anywhere, an empty element or pair, or a repeated parameter (§4: "MUST NOT occur more
/// than once") makes the whole header malformed.
fn parse_forwarded(v: &[u8]) -> Result<Vec<Node>, Unresolved> {
    let mut p = Cursor { s: v, i: 0 };
    let mut hops = Vec::new();
    loop {
        if hops.len() == MAX_HOPS {
            return Err(Unresolved::TooLarge);
        }
        let mut node: Option<Node> = None;
        let mut seen: Vec<String> = Vec::new();
        // One element: pairs separated by ";".
        loop {
            p.skip_ows();
            let name = p.token().ok_or(Unresolved::Malformed)?.to_ascii_lowercase();
            if !p.eat(b'=') {
                return Err(Unresolved::Malformed);
            }
            let value = if p.peek() == Some(b'"') {
                p.quoted_string()?
            } else {
                p.token().ok_or(Unresolved::Malformed)?.to_owned()
            };
            if seen.contains(&name) {
                return Err(Unresolved::Malformed);
            }
            if name == "for" {
                node = Some(parse_node(&value)?);
            }
            seen.push(name);
            p.skip_ows();
            match p.next() {
                Some(b';') => continue,
                Some(b',') => break,
                None => {
                    hops.push(node.unwrap_or(Node::Hidden));
                    return Ok(hops);
                }
                Some(_) => return Err(Unresolved::Malformed),
            }
        }
        hops.push(node.unwrap_or(Node::Hidden));
    }
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    /// `token = 1*tchar` (RFC 9110 §5.6.2).
    fn token(&mut self) -> Option<&str> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // tchars are ASCII.
        (self.i > start).then(|| std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default())
    }
    /// `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE` (RFC 9110 §5.6.4), without
    /// obs-text (no address has any).
    fn quoted_string(&mut self) -> Result<String, Unresolved> {
        if !self.eat(b'"') {
            return Err(Unresolved::Malformed);
        }
        let mut out = String::new();
        loop {
            match self.next().ok_or(Unresolved::Malformed)? {
                b'"' => return Ok(out),
                b'\\' => match self.next() {
                    Some(c) if c == b'\t' || (0x20..0x7f).contains(&c) => out.push(c as char),
                    _ => return Err(Unresolved::Malformed),
                },
                c if c == b'\t' || (0x20..0x7f).contains(&c) => out.push(c as char),
                _ => return Err(Unresolved::Malformed),
            }
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `obfnode = "_" 1*( ALPHA / DIGIT / "." / "_" / "-")` (RFC 7239 §6.3), also `obfport`.
fn is_obf(s: &str) -> bool {
    s.len() > 1 && s.starts_with('_') && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// RFC 7239 §6: `node = nodename [ ":" node-port ]`, `nodename = IPv4address / "[" IPv6address
/// "]" / "unknown" / obfnode`, `node-port = port / obfport`.
fn parse_node(v: &str) -> Result<Node, Unresolved> {
    let (ip, port) = if let Some(rest) = v.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or(Unresolved::Malformed)?;
        let ip = inner.parse::<Ipv6Addr>().map_err(|_| Unresolved::Malformed)?;
        let port = match after {
            "" => None,
            a => Some(a.strip_prefix(':').ok_or(Unresolved::Malformed)?),
        };
        (IpAddr::V6(ip), port)
    } else {
        let (n, port) = match v.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (v, None),
        };
        if n.eq_ignore_ascii_case("unknown") || is_obf(n) {
            // Still check the port's syntax: malformed beats hidden.
            if let Some(p) = port {
                parse_port(p)?;
            }
            return Ok(Node::Hidden);
        }
        (IpAddr::V4(n.parse::<Ipv4Addr>().map_err(|_| Unresolved::Malformed)?), port)
    };
    let port = match port {
        Some(p) => parse_port(p)?,
        None => None,
    };
    Ok(Node::Addr(ip, port))
}

/// `port = 1*5DIGIT` (1..=65535), or an `obfport` (port unknown).
fn parse_port(p: &str) -> Result<Option<u16>, Unresolved> {
    if is_obf(p) {
        return Ok(None);
    }
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Unresolved::Malformed);
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(Unresolved::Malformed),
        Ok(n) => Ok(Some(n)),
    }
}

/// What header enrichment says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enriched {
    /// Enrichment is off, the peer is no enricher, or the enricher sent no header: the address
    /// decides.
    NotApplicable,
    /// The enricher named this subscriber.
    Subscriber(Msisdn),
    /// The enricher's header is not one E.164 number (several instances, bad syntax): not
    /// identified, never a guess.
    Invalid,
}

/// Header enrichment (issue 6 item 4): only when `peer` (after PROXY protocol resolution) lies
/// in the configured enricher blocks are `values` (every instance of the configured header)
/// believed. The caller strips the header from every request afterwards, whoever sent it. Safe
/// only behind a TLS-terminating enricher that overwrites the header on every request and lets
/// no CONNECT tunnel through to numbat (module doc, issue 6 review finding 4).
pub fn enrichment(cfg: &ClientAddrConfig, peer: Option<SocketAddr>, values: &[&[u8]]) -> Enriched {
    let Some(e) = &cfg.enrichment else { return Enriched::NotApplicable };
    let Some(peer) = peer else { return Enriched::NotApplicable };
    if !any_contains(&e.from, peer.ip()) {
        return Enriched::NotApplicable;
    }
    match values {
        [] => Enriched::NotApplicable,
        [one] => match std::str::from_utf8(one).ok().map(|s| Msisdn::parse(trim_ows_str(s))) {
            Some(Ok(m)) => Enriched::Subscriber(m),
            _ => Enriched::Invalid,
        },
        _ => Enriched::Invalid,
    }
}

fn trim_ows_str(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
#[path = "client_addr_tests.rs"]
mod tests;
