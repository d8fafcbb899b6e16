//! numbat-core: protocol and domain types shared by every component. No I/O lives here.
//!
//! - [`Msisdn`]: an E.164 subscriber number, validated once (C-70).
//! - [`Identity`]/[`IdentityOutcome`]: what the network ingress hands to the authorization server.
//! - [`handoff`]: the signed identity assertion of a split ingress (issue 6 item 5).
//! - [`Amr`]: how the subscriber was authenticated (P-19).
//! - [`scope`]: scope sets and `dpv:` purposes (P-74..P-81).
//! - [`Client`]: a registered API consumer's metadata.
//! - [`Clock`]: the time source every rule with a time window reads.

pub mod admin;
pub mod client;
pub mod clock;
pub mod dpv;
pub mod handoff;
pub mod identity;
pub mod msisdn;
pub mod scope;
pub mod token;

pub use admin::{bearer_token, AdminToken};
pub use client::{Client, GrantType};
pub use clock::{Clock, ManualClock, SystemClock};
pub use identity::{Amr, Identity, IdentityOutcome};
pub use msisdn::{InvalidMsisdn, Msisdn};
pub use scope::{Purpose, ScopeError, ScopeSet};
pub use token::{AccessTokenClaims, AccessTokenRecord, ACCESS_TOKEN_TYP};
