//! CIBA, poll mode (P-37..P-52, E-CB-01..07): `/bc-authorize` starts a backchannel request for
//! the subscriber named by `login_hint`; the token endpoint's CIBA grant (`grant/ciba.rs`)
//! polls it. A decision comes at once where the purpose needs no consent, else through an
//! authentication-device channel ([`DecisionChannel`]) and [`AuthorizationServer::ciba_decide`].

use crate::client_auth::Audience;
use crate::error::{invalid_request, ErrorCode, OAuthError, TokenError};
use crate::params::Params;
use crate::registry::RegisteredClient;
use crate::ts43::{OperatorTokenError, GET_PHONE_NUMBER, VERIFY_PHONE_NUMBER};
use crate::{AuthorizationServer, MAX_LIFETIME_S};
use numbat_core::scope::{NV_SHARE, OPENID};
use numbat_core::{Amr, Msisdn, ScopeSet};
use numbat_store::{keys, StoreError};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Resolves an `ipport:` hint to a subscriber (the network ingress's bindings, wired by the
/// binary: the authorization server never depends on the ingress crate).
#[async_trait::async_trait]
pub trait AddressResolver: Send + Sync {
    /// `Ok(None)`: nobody, or the address is shared and needs a port (fail closed).
    async fn resolve(&self, ip: IpAddr, port: Option<u16>) -> Result<Option<Msisdn>, StoreError>;
}

/// Where a pending request's decision is asked for (the user's authentication device).
#[async_trait::async_trait]
pub trait DecisionChannel: Send + Sync {
    async fn request_decision(&self, auth_req_id: &str, client_id: &str, purpose: &str);
}

/// The dev channel: logs that a decision is pending (never the subscriber).
pub struct LogChannel;

#[async_trait::async_trait]
impl DecisionChannel for LogChannel {
    async fn request_decision(&self, _auth_req_id: &str, client_id: &str, purpose: &str) {
        tracing::info!(client_id, purpose, "CIBA request awaits the subscriber's decision");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Denied,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CibaRecord {
    pub v: u8,
    pub client_id: String,
    pub msisdn: Msisdn,
    pub amr: Amr,
    pub scope: ScopeSet,
    pub status: Status,
    pub exp: i64,
    pub interval: i64,
    pub auth_time: i64,
}

/// CIBA settings.
#[derive(Debug, Clone)]
pub struct CibaConfig {
    pub expires_in_s: i64,
    pub interval_s: i64,
    /// Purposes whose legal basis is consent: their requests wait for a decision.
    pub consent_purposes: Vec<String>,
}

impl Default for CibaConfig {
    fn default() -> Self {
        CibaConfig { expires_in_s: 120, interval_s: 2, consent_purposes: vec![] }
    }
}

#[derive(Debug, Serialize)]
pub struct BackchannelResponse {
    pub auth_req_id: String,
    pub expires_in: i64,
    pub interval: i64,
}

pub(crate) fn record_key(auth_req_id: &str) -> String {
    format!("ciba:{}", keys::digest(auth_req_id))
}

pub(crate) fn poll_key(auth_req_id: &str) -> String {
    format!("ciba-poll:{}", keys::digest(auth_req_id))
}

fn err(code: ErrorCode, d: impl Into<String>) -> TokenError {
    OAuthError::new(code, d).into()
}

/// `ipport:` (P-50): IPv4 `a.b.c.d[:port]`, IPv6 only in brackets `[addr][:port]`, port 1..=65535.
pub fn parse_ipport(s: &str) -> Option<(IpAddr, Option<u16>)> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let ip: std::net::Ipv6Addr = addr.parse().ok()?;
        match after {
            "" => Some((IpAddr::V6(ip), None)),
            a => Some((IpAddr::V6(ip), Some(port(a.strip_prefix(':')?)?))),
        }
    } else {
        let (addr, p) = match s.split_once(':') {
            Some((a, p)) => (a, Some(port(p)?)),
            None => (s, None),
        };
        Some((IpAddr::V4(addr.parse().ok()?), p))
    }
}

impl AuthorizationServer {
    pub fn ciba_endpoint(&self) -> String {
        format!("{}/bc-authorize", self.cfg.issuer)
    }

    /// `POST /bc-authorize`.
    pub async fn backchannel_authenticate(&self, outer: &Params, authz: Option<&str>) -> Result<BackchannelResponse, TokenError> {
        if let Some(d) = outer.duplicates.first() {
            return Err(crate::error::repeated_param(d).into());
        }
        let client = self.authenticate_client(outer, authz, &self.ciba_endpoint()).await?;
        if !client.client.allows_grant(numbat_core::GrantType::Ciba) {
            return Err(err(ErrorCode::UnauthorizedClient, "client may not use CIBA (E-CB-02)"));
        }
        let signed;
        let p = match outer.get("request") {
            Some(jwt) => {
                signed = self.ciba_request_object(jwt, &client).await?;
                &signed
            }
            None => outer,
        };
        // P-42: login_hint, and only login_hint.
        if p.get("login_hint_token").is_some() || p.get("id_token_hint").is_some() {
            return Err(invalid_request("only login_hint is supported (P-42)").into());
        }
        let hint = p.get("login_hint").ok_or_else(|| invalid_request("login_hint is required (P-42)"))?;
        // P-48: openid, then the purpose rules of the authorization endpoint.
        let scope = self.authorize_scope(p, &client.client)?;
        if !scope.contains(OPENID) {
            return Err(invalid_request("scope must contain openid (P-48)").into());
        }
        let purpose = scope.single_purpose().map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
        let now = self.clock.now();
        let (msisdn, amr) = self.resolve_hint(hint, &client, &scope, now).await?;

        // P-45, P-47: a decision on the authentication device where the purpose asks for one
        // (`ciba.consent_purposes`), where its legal basis is consent and none covering the
        // request is on record, or for offline access not yet consented to (P-54). Otherwise
        // the first poll returns the tokens.
        let needs_consent = self.ciba_cfg.consent_purposes.iter().any(|c| c == purpose.as_str())
            || self.consent_need(&client.client.client_id, &msisdn, &scope).await? != crate::consent::ConsentNeed::Satisfied;
        let auth_req_id = self.random_token();
        let rec = CibaRecord {
            v: 1,
            client_id: client.client.client_id.clone(),
            msisdn,
            amr,
            scope,
            status: if needs_consent { Status::Pending } else { Status::Approved },
            exp: now + self.ciba_cfg.expires_in_s,
            interval: self.ciba_cfg.interval_s,
            auth_time: now,
        };
        let bytes = serde_json::to_vec(&rec).map_err(|e| StoreError::Config(e.to_string()))?;
        // Kept a little past expiry, so a late poll hears expired_token rather than invalid_grant.
        let ttl = Duration::from_secs((self.ciba_cfg.expires_in_s + 60) as u64);
        self.store.put(&record_key(&auth_req_id), &bytes, ttl).await?;
        if needs_consent {
            self.ciba_channel.request_decision(&auth_req_id, &rec.client_id, purpose.as_str()).await;
        }
        Ok(BackchannelResponse { auth_req_id, expires_in: self.ciba_cfg.expires_in_s, interval: self.ciba_cfg.interval_s })
    }

    /// P-44, P-49..P-52: the subscriber behind a hint, and how it was established.
    async fn resolve_hint(&self, hint: &str, client: &RegisteredClient, scope: &ScopeSet, now: i64) -> Result<(Msisdn, Amr), TokenError> {
        let allowed = |k: &str| client.client.ciba_login_hints.iter().any(|h| h == k);
        let unknown = || err(ErrorCode::UnknownUserId, "login_hint does not identify a subscriber (P-44)");
        if let Some(num) = hint.strip_prefix("tel:") {
            let m = Msisdn::parse(num).map_err(|_| invalid_request("tel: hint is not E.164 (P-49)"))?;
            if !allowed("tel") {
                return Err(err(ErrorCode::AccessDenied, "this client may not use tel: hints (E-CB-07)"));
            }
            Ok((m, Amr::Asserted))
        } else if let Some(rest) = hint.strip_prefix("ipport:") {
            let (ip, port) = parse_ipport(rest).ok_or_else(|| invalid_request("ipport: hint is malformed (P-50)"))?;
            if !allowed("ipport") {
                return Err(err(ErrorCode::AccessDenied, "this client may not use ipport: hints (E-CB-07)"));
            }
            let resolver = self.address_resolver.as_ref().ok_or_else(unknown)?;
            match resolver.resolve(ip, port).await? {
                Some(m) => Ok((m, Amr::Asserted)),
                None => Err(unknown()),
            }
        } else if let Some(tok) = hint.strip_prefix("operatortoken:") {
            if tok.is_empty() {
                return Err(invalid_request("operatortoken: hint is empty").into());
            }
            if !allowed("operatortoken") {
                return Err(err(ErrorCode::AccessDenied, "this client may not use operatortoken: hints (E-CB-07)"));
            }
            let target = if scope.contains(NV_SHARE) { GET_PHONE_NUMBER } else { VERIFY_PHONE_NUMBER };
            match self.operator_tokens.redeem(tok, target, now).await {
                Ok(m) => Ok((m, Amr::Sim)),
                Err(OperatorTokenError::Invalid) => Err(unknown()),
                Err(OperatorTokenError::Unavailable) => Err(err(ErrorCode::TemporarilyUnavailable, "try again later")),
            }
        } else {
            Err(invalid_request("login_hint must be tel:, ipport: or operatortoken: (P-52)").into())
        }
    }

    /// CIBA §7.1.1 signed request: every parameter from the object.
    async fn ciba_request_object(&self, jwt: &str, client: &RegisteredClient) -> Result<Params, TokenError> {
        let bad = |d: &str| err(ErrorCode::InvalidRequestObject, d.to_owned());
        let v = self.registry.verify_jwt(client, jwt).await.map_err(|_| bad("request signature is invalid"))?;
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&v.payload).map_err(|_| bad("request is not a JSON object"))?;
        let client_id = client.client.client_id.as_str();
        if claims.get("iss").and_then(|v| v.as_str()) != Some(client_id) {
            return Err(bad("iss must be the client_id"));
        }
        let aud: Option<Audience> = claims.get("aud").cloned().and_then(|a| serde_json::from_value(a).ok());
        let aud_ok = aud.as_ref().and_then(Audience::single).is_some_and(|a| a == self.ciba_endpoint() || a == self.cfg.issuer);
        if !aud_ok {
            return Err(bad("aud must be the backchannel endpoint or the issuer (P-41)"));
        }
        let num = |k: &str| claims.get(k).and_then(|v| v.as_i64());
        let now = self.clock.now();
        let skew = self.cfg.clock_skew_s;
        let (Some(iat), Some(exp), Some(jti)) = (num("iat"), num("exp"), claims.get("jti").and_then(|v| v.as_str())) else {
            return Err(bad("iat, exp and jti are required"));
        };
        if iat > now + skew || exp - iat > MAX_LIFETIME_S || exp + skew <= now || num("nbf").is_some_and(|n| n > now + skew) {
            return Err(bad("request is outside its validity window"));
        }
        let key = keys::client_jti(client_id, &format!("ciba-request:{jti}"));
        if !self.store.put_if_absent(&key, b"1", Duration::from_secs((exp - now + skew + 1).max(1) as u64)).await? {
            return Err(bad("request jti was already used"));
        }
        let pairs = claims
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "iss" | "aud" | "iat" | "exp" | "nbf" | "jti" | "sub"))
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k.clone(), s.clone())),
                serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
                _ => None,
            });
        Ok(Params::from_pairs(pairs))
    }

    /// Record the subscriber's decision on a pending request (the authentication-device
    /// channel, or the test-only approval endpoint). False when there is no such pending request.
    pub async fn ciba_decide(&self, auth_req_id: &str, allow: bool) -> Result<bool, StoreError> {
        let key = record_key(auth_req_id);
        let Some(bytes) = self.store.get(&key).await? else { return Ok(false) };
        let Ok(mut rec) = serde_json::from_slice::<CibaRecord>(&bytes) else { return Ok(false) };
        let now = self.clock.now();
        if rec.status != Status::Pending || rec.exp <= now {
            return Ok(false);
        }
        rec.status = if allow { Status::Approved } else { Status::Denied };
        let new = serde_json::to_vec(&rec).map_err(|e| StoreError::Config(e.to_string()))?;
        // Compare-and-delete, then write: a concurrent poll that took the record wins.
        if !self.store.delete_if(&key, &bytes).await? {
            return Ok(false);
        }
        self.store.put(&key, &new, Duration::from_secs((rec.exp - now + 60).max(1) as u64)).await?;
        // The approval is the consent captured in-band (P-45): record it where consent counts.
        let counts = rec.scope.contains(crate::consent::OFFLINE_ACCESS)
            || rec.scope.single_purpose().is_ok_and(|p| self.legal_basis(p.as_str()) == crate::consent::LegalBasis::Consent);
        if allow && counts {
            self.record_consent(&rec.client_id, &rec.msisdn, &rec.scope).await?;
        }
        Ok(true)
    }

    pub fn with_ciba(mut self, cfg: CibaConfig, channel: Arc<dyn DecisionChannel>) -> Self {
        self.ciba_cfg = cfg;
        self.ciba_channel = channel;
        self
    }

    pub fn with_address_resolver(mut self, r: Arc<dyn AddressResolver>) -> Self {
        self.address_resolver = Some(r);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ipport;

    #[test]
    fn p50_ipport_forms() {
        assert_eq!(parse_ipport("80.90.34.2:16790"), Some(("80.90.34.2".parse().unwrap(), Some(16790))));
        assert_eq!(parse_ipport("80.90.34.2"), Some(("80.90.34.2".parse().unwrap(), None)));
        assert_eq!(parse_ipport("[2001:db8::1]:8080"), Some(("2001:db8::1".parse().unwrap(), Some(8080))));
        assert_eq!(parse_ipport("[2001:db8::1]"), Some(("2001:db8::1".parse().unwrap(), None)));
        for bad in ["2001:db8::1", "80.90.34.2:0", "80.90.34.2:70000", "[2001:db8::1]8080", "x", "", "1.2.3:4"] {
            assert_eq!(parse_ipport(bad), None, "{bad}");
        }
    }
}
