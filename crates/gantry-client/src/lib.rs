//! Everything the Gantry client needs to know about the user's cargo setup and registries: cargo
//! configuration discovery (`.cargo/config.toml` files, `--config`, `CARGO_*` variables), registry
//! selection, credentials, and the registry Web API and index clients.
//!
//! It never packages anything and never depends on the registry server crate.

pub mod auth;
pub mod cargo_cache;
pub mod config;
pub mod credentials;
pub mod file_api;
pub mod git;
pub mod http;
pub mod index;
pub mod response;
pub mod sparse;
pub mod trustpub;
pub mod webapi;
