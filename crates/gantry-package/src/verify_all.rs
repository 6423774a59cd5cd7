//! Verification of many archives in **one** cargo build (issue 5): every archive is unpacked outside
//! the repository into the members of a synthetic workspace, siblings that depend on each other are
//! resolved from those unpacked archives (a `[patch]` over the target registry), and a single
//! `cargo build --workspace` lets cargo's own scheduler compile every crate in parallel, sharing the
//! workspace target dir so dependencies already built are reused.
//!
//! Differences from verifying each archive on its own, as `cargo publish` does (by design, the price
//! of one build):
//! - One resolution for all crates. The synthetic workspace's `Cargo.lock` is seeded from the real
//!   workspace's lockfile, which is what every packaged `Cargo.lock` was generated from, so registry
//!   dependencies get the versions the archives ship; a crate's own packaged lockfile is not read.
//! - Features of shared dependencies are unified across all crates (cargo's stable resolver has no
//!   per-package unification), so a crate that forgot to enable a dependency feature another crate
//!   enables is not caught here; the real workspace has the same unification.
//! - `[profile]` tables inside a member's own manifest are ignored, as in any workspace.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::cargo_cmd::CargoInvocation;
use crate::overlay::{dep_specs, toml_key};
use crate::unpack::unpack_crate;
use crate::verify::{
    BuildFlags, VerifyError, add_build_flags, describe_changes, forget_unpack_of, snapshot,
    strip_ansi,
};

/// One archive to verify.
pub struct Archive<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub crate_file: &'a Path,
}

pub struct AllRequest<'a> {
    pub archives: &'a [Archive<'a>],
    /// The synthetic workspace's directory (outside the repository); recreated on every run.
    pub root: &'a Path,
    /// The real workspace's `resolver` (a virtual workspace must state one).
    pub resolver: &'a str,
    /// How `[patch]` names the registry the archives are going to (`crates-io`, a registry name or
    /// an index URL); `None` when siblings must come from the registry itself.
    pub patch_key: Option<&'a str>,
    /// The real workspace's `Cargo.lock`, if it has one.
    pub workspace_lock: Option<&'a Path>,
    pub target_dir: &'a Path,
    /// `<build-dir>/package`, where `cargo package` unpacks for its own verification.
    pub cargo_package_dir: &'a Path,
    pub cargo: &'a CargoInvocation,
    pub flags: &'a BuildFlags,
}

/// Why the one build failed, naming the crates involved.
#[derive(Debug, thiserror::Error)]
pub enum AllError {
    /// Preparing the synthetic workspace or running cargo failed.
    #[error(transparent)]
    Setup(#[from] VerifyError),
    /// Cargo has printed the diagnostics; `crates` are the `name vX.Y.Z` it named as failing (empty
    /// when its output named none, e.g. a resolution error about the whole graph).
    #[error("build failed: `cargo build` exited with {status}")]
    Build { crates: Vec<String>, status: String },
    /// A build script changed the unpacked sources of `krate`.
    #[error("{report}")]
    SourceModified { krate: String, report: String },
}

/// Unpacks every archive, builds them all at once and checks that no build script touched the
/// sources. Returns the unpacked directories, in the order of `req.archives`.
pub fn verify_all(req: &AllRequest) -> Result<Vec<PathBuf>, AllError> {
    let root = req.root;
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| VerifyError::Io { path, source }
    };
    match fs::remove_dir_all(root) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(root)(e).into()),
    }
    fs::create_dir_all(root).map_err(io_err(root))?;

    let mut dirs = Vec::with_capacity(req.archives.len());
    let mut before = Vec::with_capacity(req.archives.len());
    let mut manifests = Vec::with_capacity(req.archives.len());
    for a in req.archives {
        forget_unpack_of(req.cargo_package_dir, a.name, a.version)?;
        let dir = unpack_crate(a.crate_file, root, a.name, a.version).map_err(VerifyError::from)?;
        let manifest = dir.join("Cargo.toml");
        manifests.push(fs::read_to_string(&manifest).map_err(io_err(&manifest))?);
        before.push(snapshot(&dir)?);
        dirs.push(dir);
    }

    let root_manifest = root.join("Cargo.toml");
    let text = workspace_manifest(req, &manifests);
    fs::write(&root_manifest, text).map_err(io_err(&root_manifest))?;
    if let Some(lock) = req.workspace_lock {
        let dest = root.join("Cargo.lock");
        fs::copy(lock, &dest).map_err(io_err(lock))?;
    }

    // The seeded lockfile is adjusted to the synthetic workspace (members that are not verified
    // drop out), so `--locked` cannot hold here; packaging already enforced it on the real one.
    let mut cmd = req.cargo.unlocked().command("build", &root_manifest);
    cmd.arg("--workspace")
        .arg("--target-dir")
        .arg(req.target_dir);
    // The unpacked copies are built once and thrown away: incremental state for them is pure
    // overhead (a from-scratch incremental build is slower and writes a query cache no later build
    // of the user's reads). The code generated, and so what verification proves, is the same. A
    // user's own CARGO_INCREMENTAL still wins.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    add_build_flags(&mut cmd, req.flags);
    let members: BTreeMap<&str, &str> = req.archives.iter().map(|a| (a.name, a.version)).collect();
    let (status, failing) = run_build(cmd).map_err(|source| VerifyError::Spawn {
        program: req.cargo.program.display().to_string(),
        source,
    })?;
    if !status.success() {
        let crates = failing
            .iter()
            .map(|name| match members.get(name.as_str()) {
                Some(version) => format!("{name} v{version}"),
                None => name.clone(),
            })
            .collect();
        return Err(AllError::Build {
            crates,
            status: status.to_string(),
        });
    }

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

/// The synthetic workspace: every unpacked archive is a member, and each member another member
/// depends on (from the target registry, with a requirement its new version meets) is patched to
/// its unpacked directory, as if already published. Patches nobody uses would draw cargo warnings,
/// so only used ones are written.
fn workspace_manifest(req: &AllRequest, manifests: &[String]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut text = String::from(
        "# Generated by gantry to verify packaged crates in one build; not part of any package.\n[workspace]\nmembers = [\n",
    );
    for a in req.archives {
        text.push_str(&format!(
            "    {},\n",
            quote(&format!("{}-{}", a.name, a.version))
        ));
    }
    text.push_str(&format!("]\nresolver = {}\n", quote(req.resolver)));
    let Some(key) = req.patch_key else {
        return text;
    };
    let mut wanted: BTreeSet<(&str, &str)> = BTreeSet::new();
    for manifest in manifests {
        // By name, not by registry: a publish-form manifest names an alternative registry by its
        // index URL, spelled however the user configured it, and a patch over one registry never
        // affects dependencies on another anyway.
        for dep in dep_specs(manifest, true).unwrap_or_default() {
            for a in req.archives.iter().filter(|a| a.name == dep.package) {
                if requirement_allows(dep.req.as_deref(), a.version) {
                    wanted.insert((a.name, a.version));
                }
            }
        }
    }
    // A workspace cannot hold two versions of one name, so a name is patched at most once.
    if !wanted.is_empty() {
        text.push_str(&format!("\n[patch.{}]\n", toml_key(key)));
        for (name, version) in wanted {
            text.push_str(&format!(
                "{} = {{ path = {} }}\n",
                toml_key(name),
                quote(&format!("{name}-{version}"))
            ));
        }
    }
    text
}

fn requirement_allows(req: Option<&str>, version: &str) -> bool {
    let Ok(version) = semver::Version::parse(version) else {
        return false;
    };
    match req {
        None => true,
        Some(req) => semver::VersionReq::parse(req).is_ok_and(|r| r.matches(&version)),
    }
}

/// Runs the build, passing cargo's messages through except its lockfile bookkeeping (adjusting the
/// seeded lockfile to the synthetic workspace is our business, not the user's), and collects the
/// package names cargo says failed.
fn run_build(mut cmd: Command) -> io::Result<(ExitStatus, Vec<String>)> {
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut failing = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        let mut out = io::stderr();
        for line in BufReader::new(stderr).split(b'\n') {
            let line = line?;
            let plain = strip_ansi(&String::from_utf8_lossy(&line));
            if is_lock_bookkeeping(&plain) {
                continue;
            }
            if let Some(name) = failing_package(&plain)
                && !failing.contains(&name)
            {
                failing.push(name);
            }
            out.write_all(&line)?;
            out.write_all(b"\n")?;
        }
    }
    Ok((child.wait()?, failing))
}

fn is_lock_bookkeeping(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let word = words.next().unwrap_or("");
    match word {
        "Locking" => line.contains(" package"),
        // `Updating crates.io index` is about fetching, not bookkeeping: keep it.
        "Adding" | "Updating" | "Removing" | "Downgrading" | "Unchanged" => {
            !line.trim_end().ends_with(" index")
        }
        _ => false,
    }
}

/// The package a cargo error line blames, if any.
fn failing_package(line: &str) -> Option<String> {
    const MARKERS: [&str; 3] = [
        "error: could not compile `",
        "error: failed to run custom build command for `",
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
            failing_package(
                "error: failed to run custom build command for `c v0.2.0 (/tmp/x/c-0.2.0)`"
            )
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
    fn lock_bookkeeping_is_recognised() {
        assert!(is_lock_bookkeeping(
            "     Locking 3 packages to latest compatible versions"
        ));
        assert!(is_lock_bookkeeping("    Removing old v0.1.0"));
        assert!(!is_lock_bookkeeping("    Updating crates.io index"));
        assert!(!is_lock_bookkeeping("   Compiling a v0.1.0 (/x)"));
    }

    #[test]
    fn only_used_patches_with_matching_requirements_are_written() {
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
            Archive {
                name: "c",
                version: "1.0.0",
                crate_file: Path::new("c.crate"),
            },
        ];
        let flags = BuildFlags::default();
        let cargo = CargoInvocation::default();
        let req = AllRequest {
            archives: &archives,
            root: Path::new("/r"),
            resolver: "2",
            patch_key: Some("sparse+http://127.0.0.1:1/index/"),
            workspace_lock: None,
            target_dir: Path::new("/t"),
            cargo_package_dir: Path::new("/p"),
            cargo: &cargo,
            flags: &flags,
        };
        let manifests = [
            "[package]\nname = \"a\"\n[dependencies.b]\nversion = \"0.2\"\n[dependencies.c]\nversion = \"0.9\"\n".to_owned(),
            "[package]\nname = \"b\"\n[dev-dependencies.a]\nversion = \"0.1.0\"\n".to_owned(),
            "[package]\nname = \"c\"\n[dependencies.b]\nversion = \"0.2.0\"\nregistry-index = \"sparse+http://127.0.0.1:1/index/\"\n".to_owned(),
        ];
        let text = workspace_manifest(&req, &manifests);
        assert_eq!(
            text,
            "# Generated by gantry to verify packaged crates in one build; not part of any package.\n[workspace]\nmembers = [\n    \"a-0.1.0\",\n    \"b-0.2.0\",\n    \"c-1.0.0\",\n]\nresolver = \"2\"\n\n[patch.\"sparse+http://127.0.0.1:1/index/\"]\na = { path = \"a-0.1.0\" }\nb = { path = \"b-0.2.0\" }\n"
        );
    }
}
