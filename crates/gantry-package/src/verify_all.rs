//! Verification of many archives in **one** cargo build (issue 5): every archive is unpacked where
//! cargo unpacks it for its own verification (`<build-dir>/package/<name>-<version>`), and a
//! synthetic workspace whose root manifest sits beside them (`<build-dir>/package/Cargo.toml`, the
//! nearest place cargo accepts as the root of those members; it is removed afterwards) lists them
//! all, so a single `cargo build --workspace` lets cargo's own scheduler compile every crate in
//! parallel into the workspace's build dir, reusing dependencies already built. Siblings that
//! depend on each other resolve through the same overlay as the packaged lockfiles: each archive is
//! one more candidate beside the target registry's versions.
//!
//! Differences from verifying each archive on its own, as `cargo publish` does (by design, the price
//! of one build):
//! - One resolution for all crates. The synthetic workspace's `Cargo.lock` is seeded from the real
//!   workspace's lockfile, which is what every packaged `Cargo.lock` was generated from, so registry
//!   dependencies get the versions the archives ship; a crate's own packaged lockfile is not read.
//! - Features of shared dependencies are unified across all crates (cargo's stable resolver has no
//!   per-package unification), so a crate that forgot to enable a dependency feature another crate
//!   enables is not caught here; the real workspace has the same unification.
//!
//! A workspace member's own `[profile]`, `[patch]` and `[replace]` tables are ignored by cargo, so
//! crates that carry them are not handed to this module: the caller verifies those on their own
//! ([`needs_own_build`]).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::build_output::{self, CargoError};
use crate::cargo_cmd::CargoInvocation;
use crate::overlay::Overlay;
use crate::registry_names::RegistryNames;
use crate::unpack::unpack_crate;
use crate::verify::{
    BuildFlags, BuildGuard, VerifyError, add_build_dirs, add_build_flags, describe_changes,
    snapshot,
};

/// One archive to verify.
pub(crate) struct Archive<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub crate_file: &'a Path,
}

pub(crate) struct AllRequest<'a> {
    pub archives: &'a [Archive<'a>],
    /// The real workspace's build dir: archives are unpacked into its `package/`, built into it.
    pub build_dir: &'a Path,
    /// The real workspace's `resolver` (a virtual workspace must state one).
    pub resolver: &'a str,
    pub overlay: Option<&'a Overlay>,
    /// `publish --dry-run`: overlay crates replace same-version registry ones.
    pub dry_run: bool,
    /// The real workspace's `Cargo.lock`, if it has one.
    pub workspace_lock: Option<&'a Path>,
    pub cargo: &'a CargoInvocation,
    pub flags: &'a BuildFlags,
    /// Configured registries, which the members' manifests name as cargo would during the build.
    pub names: &'a RegistryNames,
}

/// Why the one build failed, naming the crates involved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AllError {
    /// Preparing the synthetic workspace or running cargo failed.
    #[error(transparent)]
    Setup(#[from] VerifyError),
    /// Cargo has printed the diagnostics; `crates` are the `name vX.Y.Z` it named as failing (empty
    /// when its output named none, e.g. a resolution error about the whole graph), `error` its
    /// closing error.
    #[error("build failed")]
    Build {
        crates: Vec<String>,
        /// `None` when cargo has shown why already.
        error: Option<VerifyError>,
    },
    /// A build script changed the unpacked sources of `krate`.
    #[error("{report}")]
    SourceModified { krate: String, report: String },
}

/// Whether a publish-form manifest has tables cargo ignores in a workspace member, so that the
/// crate must be verified on its own to be verified as cargo verifies it.
pub(crate) fn needs_own_build(manifest: &str) -> bool {
    manifest
        .parse::<toml::Table>()
        .map(|t| {
            ["profile", "patch", "replace"]
                .iter()
                .any(|k| t.contains_key(*k))
        })
        .unwrap_or(true)
}

/// Unpacks every archive, builds them all at once and checks that no build script touched the
/// sources. Returns the unpacked directories, in the order of `req.archives`.
pub(crate) fn verify_all(req: &AllRequest) -> Result<Vec<PathBuf>, AllError> {
    let root = req.build_dir.join("package");
    let root_manifest = root.join("Cargo.toml");
    let root_lock = root.join("Cargo.lock");
    let result = build_all(req, &root, &root_manifest, &root_lock);
    // The synthetic root is ours alone; what cargo verifies (the unpacked crates) stays, as cargo
    // leaves its own.
    for file in [&root_manifest, &root_lock] {
        let _ = fs::remove_file(file);
    }
    result
}

fn build_all(
    req: &AllRequest,
    root: &Path,
    root_manifest: &Path,
    root_lock: &Path,
) -> Result<Vec<PathBuf>, AllError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| VerifyError::Io { path, source }
    };
    fs::create_dir_all(root).map_err(io_err(root))?;
    let mut dirs = Vec::with_capacity(req.archives.len());
    let mut before = Vec::with_capacity(req.archives.len());
    for a in req.archives {
        let dir = unpack_crate(a.crate_file, root, a.name, a.version).map_err(VerifyError::from)?;
        before.push(snapshot(&dir)?);
        dirs.push(dir);
    }
    let mut guards = Vec::with_capacity(dirs.len());
    for dir in &dirs {
        guards.push(BuildGuard::enter(dir, false, req.names)?);
    }
    let result = build(req, root_manifest, root_lock, &dirs);
    for guard in guards {
        guard.leave()?;
    }
    result?;
    for ((a, dir), before) in req.archives.iter().zip(&dirs).zip(&before) {
        let after = snapshot(dir)?;
        if let Some(report) = describe_changes(before, &after) {
            return Err(AllError::SourceModified {
                krate: format!("{} v{}", a.name, a.version),
                report,
            });
        }
    }
    Ok(dirs)
}

/// Writes the synthetic workspace and runs the one build.
fn build(
    req: &AllRequest,
    root_manifest: &Path,
    root_lock: &Path,
    dirs: &[PathBuf],
) -> Result<(), AllError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| VerifyError::Io { path, source }
    };
    fs::write(root_manifest, workspace_manifest(req)).map_err(io_err(root_manifest))?;
    match req.workspace_lock {
        Some(lock) => {
            let text = fs::read_to_string(lock).map_err(io_err(lock))?;
            let text = match req.overlay {
                Some(o) if req.dry_run => o.adopt_checksums(&text),
                _ => text,
            };
            fs::write(root_lock, text).map_err(io_err(root_lock))?;
        }
        None => match fs::remove_file(root_lock) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err(root_lock)(e).into());
            }
            _ => {}
        },
    }

    // The seeded lockfile is adjusted to the synthetic workspace (members that are not verified
    // drop out), so `--locked` cannot hold here; packaging already enforced it on the real one.
    let mut cmd = req.cargo.unlocked().command("build", root_manifest);
    cmd.arg("--workspace");
    add_build_dirs(&mut cmd, req.build_dir);
    // The unpacked copies are built once and thrown away: incremental state for them is pure
    // overhead (a from-scratch incremental build is slower and writes a query cache no later build
    // of the user's reads). The code generated, and so what verification proves, is the same. A
    // user's own CARGO_INCREMENTAL still wins.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    add_build_flags(&mut cmd, req.flags);
    if let Some(o) = req.overlay {
        o.apply(&mut cmd);
    }
    let members: BTreeMap<&str, &str> = req.archives.iter().map(|a| (a.name, a.version)).collect();
    let mut crates: Vec<String> = Vec::new();
    let mut blame = |line: &str| {
        if let Some(name) = failing_package(line) {
            let krate = match members.get(name.as_str()) {
                Some(version) => format!("{name} v{version}"),
                None => name,
            };
            if !crates.contains(&krate) {
                crates.push(krate);
            }
        }
        crate::verify::shown(line, req.names)
    };
    // One `Finished` line per crate, each when that crate was done, as cargo's builds per crate.
    let outcome = build_output::run_members(cmd, &req.build_dir.join("package"), dirs, &mut blame)
        .map_err(|source| VerifyError::Spawn {
            program: req.cargo.program.display().to_string(),
            source,
        })?;
    if !outcome.status.success() {
        let error = outcome
            .error
            .map(|text| VerifyError::Build(CargoError::parse(&text)));
        return Err(AllError::Build { crates, error });
    }
    Ok(())
}

/// The synthetic workspace: every unpacked archive is a member.
fn workspace_manifest(req: &AllRequest) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut text = String::from(
        "# Generated by gantry to verify packaged crates in one build; removed when it is done.\n[workspace]\nmembers = [\n",
    );
    for a in req.archives {
        text.push_str(&format!(
            "    {},\n",
            quote(&format!("{}-{}", a.name, a.version))
        ));
    }
    text.push_str(&format!("]\nresolver = {}\n", quote(req.resolver)));
    text
}

/// The package a cargo error line blames, if any.
fn failing_package(line: &str) -> Option<String> {
    const MARKERS: [&str; 3] = [
        "could not compile `",
        "failed to run custom build command for `",
        "required by package `",
    ];
    MARKERS.iter().find_map(|marker| {
        let rest = &line[line.find(marker)? + marker.len()..];
        let quoted = &rest[..rest.find('`')?];
        // `name` alone, or `name v1.2.3 (/path)`.
        quoted.split_whitespace().next().map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_packages_are_read_from_cargo_errors() {
        assert_eq!(
            failing_package("error: could not compile `b` (lib) due to 1 previous error")
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            failing_package("could not compile `b` (lib) due to 1 previous error").as_deref(),
            Some("b")
        );
        assert_eq!(
            failing_package("failed to run custom build command for `c v0.2.0 (/tmp/x/c-0.2.0)`")
                .as_deref(),
            Some("c")
        );
        assert_eq!(
            failing_package("    ... required by package `a v0.1.0 (/tmp/x/a-0.1.0)`").as_deref(),
            Some("a")
        );
        assert_eq!(failing_package("error[E0425]: cannot find value `x`"), None);
    }

    #[test]
    fn members_and_resolver() {
        let archives = [
            Archive {
                name: "a",
                version: "0.1.0",
                crate_file: Path::new("a.crate"),
            },
            Archive {
                name: "b",
                version: "0.2.0",
                crate_file: Path::new("b.crate"),
            },
        ];
        let flags = BuildFlags::default();
        let cargo = CargoInvocation::default();
        let names = RegistryNames::default();
        let req = AllRequest {
            archives: &archives,
            build_dir: Path::new("/t"),
            resolver: "2",
            overlay: None,
            dry_run: false,
            workspace_lock: None,
            cargo: &cargo,
            flags: &flags,
            names: &names,
        };
        assert_eq!(
            workspace_manifest(&req),
            "# Generated by gantry to verify packaged crates in one build; removed when it is done.\n[workspace]\nmembers = [\n    \"a-0.1.0\",\n    \"b-0.2.0\",\n]\nresolver = \"2\"\n"
        );
    }

    #[test]
    fn crates_with_tables_a_member_cannot_have_build_alone() {
        assert!(!needs_own_build("[package]\nname = \"a\"\n"));
        assert!(needs_own_build(
            "[package]\nname = \"a\"\n\n[profile.dev]\nopt-level = 3\n"
        ));
        assert!(needs_own_build("[patch.crates-io.x]\npath = \"x\"\n"));
    }
}
