//! The key schema. Every key any component writes is built here, so the layout is in one place.
//!
//! Rules:
//! - Anything a client chooses (a `jti`, a code) is hashed (SHA-256, base64url) before it becomes
//!   part of a key: keys stay bounded, and a client cannot aim at a Redis Cluster hash tag or
//!   read a live code from a key listing.
//! - Every atomic step in numbat touches exactly one key, except one: RADIUS binds a whole IPv4
//!   address only while it has no CGNAT port blocks (`put_unless_range`), so
//!   [`binding_ip`] (IPv4) and [`binding_ports`] share the hash tag `{domain digest:address}`
//!   and live in one Redis Cluster slot. Any further multi-key step must do the same.
//! - The backend adds its configured prefix (e.g. `numbat:`) in front of these.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::net::IpAddr;

/// SHA-256 of `s`, base64url: the form client-chosen values take inside a key.
pub fn digest(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()))
}

/// An authorization code record (single use: `take`). The code itself is never a key.
pub fn auth_code(code: &str) -> String {
    format!("code:{}", digest(code))
}

/// An issued access token's server-side record (holds the MSISDN; single use for NV: `take`).
pub fn access_token(jti: &str) -> String {
    format!("at:{}", digest(jti))
}

/// Replay cache for a client's JWT `jti` (client assertions, request objects, JWT-bearer).
pub fn client_jti(client_id: &str, jti: &str) -> String {
    format!("jti:{}:{}", digest(client_id), digest(jti))
}

/// A pushed authorization request (RFC 9126), single use (`take`), by its `request_uri`.
pub fn pushed_request(request_uri: &str) -> String {
    format!("par:{}", digest(request_uri))
}

/// Single-use mark of an ingress identity assertion's `jti` (issue 6 item 5), per ingress.
pub fn ingress_jti(ingress_id: &str, jti: &str) -> String {
    format!("ijti:{}:{}", digest(ingress_id), digest(jti))
}

/// Address → subscriber binding in an address domain (APN/VRF): a whole IPv4 address or an
/// IPv6 /64 prefix.
pub fn binding_ip(domain: &str, ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("bind:{{{}:{}}}:v4", digest(domain), v4),
        IpAddr::V6(v6) => format!("bind:{}:v6:{}", digest(domain), v6),
    }
}

/// The CGNAT port blocks of one shared public IPv4 address (a range map: port → subscriber), in
/// the same cluster slot as the address's [`binding_ip`].
pub fn binding_ports(domain: &str, ip: std::net::Ipv4Addr) -> String {
    format!("bind:{{{}:{}}}:v4p", digest(domain), ip)
}

/// Tombstone of an ended RADIUS accounting session (30 s after its Stop): a late Start or
/// Interim-Update of that session must not bring the binding back. `gateway` is the gateway's
/// identity as the ingress names it (`cidr:<client block>|ip:…`, `…|id:…`); the session id is
/// gateway-chosen, so hashed.
pub fn binding_tombstone(domain: &str, gateway: &str, session_id: &str) -> String {
    format!("bind-tomb:{}:{}", digest(domain), digest(&format!("{gateway}\n{session_id}")))
}

/// The current accounting generation of one packet gateway (renewed by Accounting-On/Off): a
/// RADIUS binding learnt under an older generation identifies nobody.
pub fn gateway_generation(domain: &str, gateway: &str) -> String {
    format!("bind-gw:{}:{}", digest(domain), digest(gateway))
}

/// De-duplication of RADIUS retransmissions: one Accounting-Request from one source address and
/// port, by Identifier and Request Authenticator.
pub fn radius_dedup(source: std::net::SocketAddr, identifier: u8, authenticator: &[u8]) -> String {
    let auth: String = authenticator.iter().map(|b| format!("{b:02x}")).collect();
    format!("radius-dup:{}", digest(&format!("{source}/{identifier}/{auth}")))
}

/// A refresh-token grant (P-53..P-57): its existence is what keeps its refresh tokens and the
/// access tokens minted under it alive; revoking the grant is deleting this key.
pub fn grant(grant_id: &str) -> String {
    format!("grant:{}", digest(grant_id))
}

/// A live refresh token of a client (single use, `take` on rotation). Scoped by client, so
/// another client presenting it finds nothing and spends nothing (E-TK-40).
pub fn refresh_token(client_id: &str, token: &str) -> String {
    format!("rt:{}:{}", digest(client_id), digest(token))
}

/// The family mark of a refresh token (its grant), kept as long as the token could live: a
/// token presented again after rotation is found here and revokes its grant (P-57).
pub fn refresh_family(client_id: &str, token: &str) -> String {
    format!("rtf:{}:{}", digest(client_id), digest(token))
}

/// A subscriber's consent to a client for one purpose (P-20). `subject_key` is an opaque
/// server-keyed digest of the subscriber, never the MSISDN.
pub fn consent(client_id: &str, subject_key: &str, purpose: &str) -> String {
    format!("consent:{}:{}:{}", digest(client_id), subject_key, digest(purpose))
}

/// The last re-authentication (`prompt=login`, or `max_age` run out) of a subscriber's data
/// session, which `since` (the session's start) names; `subject_key` as in [`consent`].
pub fn authn_reauth(subject_key: &str, since: i64) -> String {
    format!("authn:{subject_key}:{since}")
}

/// An authorization request waiting on the consent page (single use, short TTL, P-21).
pub fn consent_pending(id: &str) -> String {
    format!("consent-pending:{}", digest(id))
}

/// Tries at the confirmation code of one consent page (a rate-limit counter, P-21).
pub fn consent_attempts(id: &str) -> String {
    format!("consent-attempts:{}", digest(id))
}

/// Consent confirmation codes sent to one subscriber (a rate-limit counter, P-21);
/// `subject_key` is the opaque digest of [`consent`], never the MSISDN.
pub fn consent_codes(subject_key: &str) -> String {
    format!("consent-codes:{subject_key}")
}

/// The clients registered through the admin API: one versioned document (the registry is small
/// and read whole by every instance), rewritten under [`CLIENTS_LOCK`] by each change.
pub const CLIENTS: &str = "clients:registry";
/// The revision of [`CLIENTS`], polled by every instance (the document is read only on change).
pub const CLIENTS_REV: &str = "clients:rev";
/// Writers' mutual exclusion on [`CLIENTS`] (`put_if_absent` with a short TTL).
pub const CLIENTS_LOCK: &str = "clients:lock";

/// The public signing keys (JWKS) every verifier reads.
pub const PUBLIC_KEYS: &str = "keys:public";
/// The private signing keys shared by authorization-server instances.
pub const SIGNING_KEYS: &str = "keys:signing";

/// The current name of an IPv4 binding key written under the layout before the hash tag
/// (`bind:<domain digest>:v4:<ip>`, `bind:<domain digest>:v4p:<ip>`); `None` for any other key.
pub fn legacy_binding_key(key: &str) -> Option<String> {
    let mut parts = key.strip_prefix("bind:")?.split(':');
    let (digest, kind, ip) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || digest.is_empty() || digest.contains(['{', '}']) {
        return None;
    }
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let tag = format!("{{{digest}:{ip}}}");
    match kind {
        "v4" => Some(format!("bind:{tag}:v4")),
        "v4p" => Some(format!("bind:{tag}:v4p")),
        _ => None,
    }
}

/// The Redis Cluster slot of a full key (prefix included): CRC16-XMODEM of the key, or of its
/// hash tag (the part between the first `{` and the next `}`, when not empty), mod 16384.
pub fn cluster_slot(key: &str) -> u16 {
    let b = key.as_bytes();
    let hashed = match b.iter().position(|&c| c == b'{') {
        Some(open) => match b[open + 1..].iter().position(|&c| c == b'}') {
            Some(len) if len > 0 => &b[open + 1..open + 1 + len],
            _ => b,
        },
        None => b,
    };
    let mut crc: u16 = 0;
    for &byte in hashed {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_chosen_parts_are_hashed() {
        let k = client_jti("demo-app", "{evil}tag");
        assert!(!k.contains('{'));
        assert_eq!(auth_code("abc").len(), "code:".len() + 43);
    }

    /// Redis's own examples (cluster spec): CRC16("123456789") = 0x31C3; "foo" is slot 12182;
    /// a hash tag decides alone, an empty one does not count.
    #[test]
    fn cluster_slot_is_redis_cluster_s() {
        assert_eq!(cluster_slot("123456789"), 0x31C3);
        assert_eq!(cluster_slot("foo"), 12182);
        assert_eq!(cluster_slot("{user1000}.following"), cluster_slot("{user1000}.followers"));
        assert_eq!(cluster_slot("{user1000}.following"), cluster_slot("user1000"));
        assert_eq!(cluster_slot("foo{}{bar}"), cluster_slot("foo{}{bar}"));
        assert_ne!(cluster_slot("foo{}{bar}"), cluster_slot("bar"), "an empty tag: the whole key");
    }

    #[test]
    fn legacy_binding_keys_map_to_the_current_names() {
        let v4: std::net::Ipv4Addr = "10.1.2.3".parse().unwrap();
        let d = digest("default");
        assert_eq!(legacy_binding_key(&format!("bind:{d}:v4:10.1.2.3")), Some(binding_ip("default", IpAddr::V4(v4))));
        assert_eq!(legacy_binding_key(&format!("bind:{d}:v4p:10.1.2.3")), Some(binding_ports("default", v4)));
        for current_or_other in [
            binding_ip("default", IpAddr::V4(v4)),
            binding_ports("default", v4),
            binding_ip("default", "2001:db8::".parse().unwrap()),
            format!("bind:{d}:v6:2001:db8::"),
            format!("bind:{d}:v4:10.1.2.3:x"),
            format!("bind:{d}:v4:not-an-ip"),
            "bind-gw:x:y".into(),
        ] {
            assert_eq!(legacy_binding_key(&current_or_other), None, "{current_or_other}");
        }
    }

    /// `put_unless_range` on Redis Cluster: an IPv4 address's whole-address binding and its
    /// port map must be in one slot, whatever the configured prefix (which has no braces).
    #[test]
    fn an_addresss_binding_keys_share_a_slot() {
        for (domain, ip) in [("default", "10.1.2.3"), ("internet.apn", "198.51.100.7"), ("", "0.0.0.0")] {
            let v4: std::net::Ipv4Addr = ip.parse().unwrap();
            let (whole, ports) = (binding_ip(domain, IpAddr::V4(v4)), binding_ports(domain, v4));
            for prefix in ["numbat:", "numbat-e2e:123:", ""] {
                assert_eq!(cluster_slot(&format!("{prefix}{whole}")), cluster_slot(&format!("{prefix}{ports}")), "{domain} {ip}");
            }
        }
        // And different addresses spread (not one tag for all bindings).
        let a = binding_ip("default", "10.1.2.3".parse().unwrap());
        let b = binding_ip("default", "10.1.2.4".parse().unwrap());
        assert_ne!(cluster_slot(&a), cluster_slot(&b));
    }
}
