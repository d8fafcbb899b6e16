//! numbat: the binary's library half (configuration, wiring, HTTP serving, metrics, the demo
//! client), so that end-to-end tests start the very server the binary runs.

pub mod adapters;
pub mod bench;
pub mod bench_ingress;
pub mod bindings_cli;
pub mod client_cli;
pub mod config;
pub mod confirmation;
pub mod demo;
pub mod jwks_fetch;
pub mod listener_scope;
pub mod metrics;
pub mod proxy_listener;
pub mod server;

pub use config::Config;
pub use server::{start, Component, Options, Running};
