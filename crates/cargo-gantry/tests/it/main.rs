//! cargo-gantry's integration tests, one binary: a full `cargo test` links it once instead of once
//! per file. Each module is one former test file, moved unchanged; run one with
//! `cargo test -p cargo-gantry --test it MODULE::` (e.g. `diff_` for every differential file).
//!
//! Every module is declared with `#[path]` because rustc treats a `#[path]` file like a `mod.rs`:
//! the `mod support;` (and the other `*_support`) each former file declares still names the
//! directory beside it, so the files did not change. Each file that declares a support module has
//! its own copy of it, as when it was its own binary.
// A test binary has no API (its modules share items with `pub`), and its diff harness reports
// on stderr.
#![allow(unreachable_pub, clippy::print_stdout, clippy::print_stderr)]
// Those copies are deliberate (see above): the files stay as they were.
#![allow(clippy::duplicate_mod)]

// `dryrun_support` reaches the publish tests' registry as `crate::publish_support`, which as its
// own binary `publish_dryrun` had at its root.
mod publish_support;

#[path = "cli_help.rs"]
mod cli_help;
#[path = "diff_basic.rs"]
mod diff_basic;
#[path = "diff_files.rs"]
mod diff_files;
#[path = "diff_git.rs"]
mod diff_git;
#[path = "diff_harness.rs"]
mod diff_harness;
#[path = "diff_manifest.rs"]
mod diff_manifest;
#[path = "diff_overlay.rs"]
mod diff_overlay;
#[path = "diff_vendored.rs"]
mod diff_vendored;
#[path = "diff_verify.rs"]
mod diff_verify;
#[path = "diff_workspace.rs"]
mod diff_workspace;
#[path = "diff_yanked.rs"]
mod diff_yanked;
#[path = "git_index.rs"]
mod git_index;
#[path = "interop_ktra.rs"]
mod interop_ktra;
#[path = "peers.rs"]
mod peers;
#[path = "peers_auth.rs"]
mod peers_auth;
#[path = "publish_conformance.rs"]
mod publish_conformance;
#[path = "publish_diff.rs"]
mod publish_diff;
#[path = "publish_dryrun.rs"]
mod publish_dryrun;
#[path = "publish_e2e.rs"]
mod publish_e2e;
#[path = "publish_workspace.rs"]
mod publish_workspace;
#[path = "trustpub_e2e.rs"]
mod trustpub_e2e;
#[path = "trustpub_wire.rs"]
mod trustpub_wire;
