//! Turns a Cargo source tree into `.crate` archives that are byte-identical to what `cargo package`
//! 1.95 produces: workspace and manifest loading, publish-normalised `Cargo.toml`, file selection (git
//! or directory walk), `Cargo.lock`, `.cargo_vcs_info.json`, the deterministic tar+gzip stream, and the
//! verification build.
//!
//! This crate never talks to a registry over the network and never prints: everything a user should
//! see goes through a [`Reporter`], so the CLI decides how (human lines or JSON events).
//! It calls the `cargo` binary only where cargo itself would call its resolver or the compiler.

mod archive;
mod build_output;
mod cargo_cmd;
mod entries;
mod files;
mod human;
mod lock_check;
mod lockfile;
mod normalize;
mod overlay;
mod package;
mod publish_deps;
mod registry;
mod registry_names;
mod report;
mod select;
mod unpack;
mod vcs;
mod verify;
mod verify_all;
/// The manifest model: a loaded workspace, its packages, their dependencies and targets, and the
/// errors loading reports (with cargo's texts).
pub mod workspace;

// The API, by step of the flow. Everything else is private to the crate.

// Loading (more in [`workspace`]).
pub use workspace::{DepKind, ManifestError, Package, Workspace, load_workspace};
// Choosing packages (`-p`, `--workspace`, `--exclude`) and their order.
pub use select::{Selection, local_edges};
// Which registry a publish goes to, and what each package allows.
pub use registry::{CRATES_IO, PublishSetting, RegistryError, RegistryRequest, resolve_target};
pub use registry_names::RegistryNames;
// Packaging: the files, the normalised manifest, the archive.
pub use archive::ArchiveStats;
pub use entries::{EntryInputs, ReferencedFile, plan_entries};
pub use files::{ListOptions, list_files};
pub use normalize::{PublishInputs, check_dependency_versions, publish_manifest};
pub use package::{
    PackageError, PackageOptions, Packaged, PackagedCrate, package, pkg_id, uplift, verify_packaged,
};
pub use publish_deps::{PublishDep, publish_deps};
pub use vcs::{VcsError, VcsInfo, VcsOptions, check_vcs};
// The seam through which the CLI checks a packaged `Cargo.lock` (for yanked versions) while
// packaging, with what it needs from the registry.
pub use lock_check::{
    LockCheck, LockCheckError, LockedPackage, PackagedLock, UpdateRecorder, registry_packages,
};
// Verifying: the build cargo would run, through the local overlay of not-yet-published crates.
pub use cargo_cmd::CargoInvocation;
pub use overlay::{CRATES_IO_INDEX, Overlay, Upstream, same_index};
pub use verify::{BuildFlags, VerifyError};
// Telling the user: the CLI renders events as human lines or JSON.
pub use report::{Event, Recorder, Reporter};
