//! gantry-registry's integration tests, one binary: a full `cargo test` links it once instead of
//! once per file, and the PostgreSQL and s3s-fs servers (gantry-test-support's `services`) start
//! once for all of them. Each module is one former test file; run one with
//! `cargo test -p gantry-registry --test it MODULE::` (e.g. `web_browser::`).
// A test binary has no API (its modules share items with `pub`), and the crash and property
// trials report their figures on stderr.
#![allow(unreachable_pub, clippy::print_stderr)]

// Shared helpers, declared once for every module below (the load benchmark includes `common` too).
#[macro_use]
mod common;
#[path = "common/mirror_env.rs"]
mod mirror_env;
#[path = "common/static_upstream.rs"]
mod static_upstream;
#[path = "common/trustpub.rs"]
mod trustpub_common;

mod backup_restore;
mod cargo_e2e;
mod connections;
mod crash;
mod hardening;
mod http_rules;
mod mirror;
mod mirror_hardening;
mod mirror_index_cache;
mod multi_instance;
mod properties;
mod services;
mod trustpub;
mod trustpub_cargo;
mod trustpub_issuers;
mod web;
mod web_browser;
