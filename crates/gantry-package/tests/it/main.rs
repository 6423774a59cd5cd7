//! gantry-package's integration tests, one binary: a full `cargo test` links it once instead of
//! once per file. Each module is one former test file; run one with
//! `cargo test -p gantry-package --test it MODULE::` (e.g. `manifest_edge::`).
#![allow(unreachable_pub)] // a test binary has no API; its modules share items with `pub`

// Shared helpers, declared once for every module below.
mod files_common;
mod manifest_common;

mod files_list;
mod manifest_edge;
mod manifest_errors;
mod manifest_normalize;
mod manifest_registry_corpus;
mod manifest_selfhost;
mod manifest_workspace;
mod vcs_check;
mod verify_all;
