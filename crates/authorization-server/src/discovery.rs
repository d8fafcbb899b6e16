//! Discovery metadata (OIDC Discovery 1.0, RFC 8414; S-11): exactly what is supported.

use crate::grant::GrantHandler;
use crate::registry::ClientRegistry;
use crate::AsConfig;
use numbat_jose::{Alg, KeyRing};
use serde_json::{json, Value};

pub fn metadata(cfg: &AsConfig, keys: &KeyRing, registry: &ClientRegistry, grants: &[Box<dyn GrantHandler>]) -> Value {
    let mut scopes: Vec<String> = vec!["openid".into()];
    for c in registry.all() {
        for s in &c.client.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
    }
    scopes.sort();
    let signing: Vec<&str> = keys.algorithms().iter().map(|a| a.as_str()).collect();
    let verify: Vec<&str> = Alg::ALL.iter().map(|a| a.as_str()).collect();
    let grant_types: Vec<&str> = grants.iter().map(|g| g.grant_type().as_str()).collect();
    // private_key_jwt (P-88), plus the secret methods only where the operator allows them.
    let auth_methods = registry.token_endpoint_auth_methods();
    json!({
        "issuer": cfg.issuer,
        "authorization_endpoint": cfg.authorization_endpoint(),
        "token_endpoint": cfg.token_endpoint(),
        "jwks_uri": cfg.jwks_uri(),
        "userinfo_endpoint": cfg.userinfo_endpoint(),
        "backchannel_authentication_endpoint": format!("{}/bc-authorize", cfg.issuer),
        "backchannel_token_delivery_modes_supported": ["poll"],
        "backchannel_authentication_request_signing_alg_values_supported": verify,
        "backchannel_user_code_parameter_supported": false,
        "introspection_endpoint": cfg.introspection_endpoint(),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint": cfg.revocation_endpoint(),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grant_types,
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": signing,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": verify,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "at_hash"],
        "claims_parameter_supported": false,
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": verify,
        // request_uri only from PAR (par.rs): never fetched by reference (RFC 9126 §5).
        "request_uri_parameter_supported": false,
        "pushed_authorization_request_endpoint": cfg.pushed_authorization_request_endpoint(),
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "amr_values_supported": ["nba", "sim", "asserted"],
    })
}
