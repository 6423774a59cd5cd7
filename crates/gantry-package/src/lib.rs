//! Turns a Cargo source tree into `.crate` archives that are byte-identical to what `cargo package`
//! 1.95 produces: workspace and manifest loading, publish-normalised `Cargo.toml`, file selection (git
//! or directory walk), `Cargo.lock`, `.cargo_vcs_info.json`, the deterministic tar+gzip stream, and the
//! verification build.
//!
//! This crate never talks to a registry over the network and never prints: everything a user should
//! see goes through a [`report::Reporter`], so the CLI decides how (human lines or JSON events).
//! It calls the `cargo` binary only where cargo itself would call its resolver or the compiler.

pub mod archive;
pub mod build_output;
pub mod cargo_cmd;
pub mod entries;
pub mod files;
pub mod human;
pub mod lock_check;
pub mod lockfile;
pub mod normalize;
pub mod overlay;
pub mod package;
pub mod publish_deps;
pub mod registry;
pub mod registry_names;
pub mod report;
pub mod select;
pub mod unpack;
pub mod vcs;
pub mod verify;
pub mod verify_all;
pub mod workspace;
