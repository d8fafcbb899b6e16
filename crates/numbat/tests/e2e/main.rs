//! numbat's end-to-end tests, seen from outside: real HTTP servers on loopback, the in-memory and a
//! real Redis store, real protocol peers (`radclient`, the `openidconnect` crate as the relying
//! party). One test binary with a module per area (one link instead of ~30, a fraction of the
//! disk and build time); `cargo test -p numbat --test e2e <module>::` runs one area.

#[macro_use]
mod common;
mod consent_flow;

mod admin_listener;
mod as_endpoints;
mod authorize_errors;
mod bindings_migrate;
mod cgnat;
mod ciba;
mod client_address;
mod client_auth;
mod clients;
mod conformance_config;
mod consent;
mod discovery;
mod e2e_flow;
mod hostile;
mod key_rotation;
mod par;
mod profile_rules;
mod profile_rules_more;
mod provisioning;
mod radius_e2e;
mod redis_cluster;
mod refresh_tokens;
mod rp_openidconnect;
mod split_ingress;
mod split_mode;
mod store_outage;
mod token_errors;
mod tokens;
mod ts43_external;
mod ts43_jwt_bearer;
