//! Verification (spec §6), where and as cargo verifies: each archive is unpacked into
//! `<build-dir>/package/<name>-<version>` and built on its own with the installed cargo into the
//! build dir (so dependency artifacts are reused and `Compiling` lines name the same path), with the
//! overlay of freshly packaged siblings layered over the target registry; then the unpacked sources
//! must be as the archive left them.
//!
//! Cargo builds the unpacked crate as an in-memory ephemeral workspace; the `cargo` binary can only
//! be handed a manifest, so for the duration of the build the unpacked `Cargo.toml` gets a
//! `[workspace]` table (the crate is its own workspace root wherever the build dir lives, as in
//! cargo) and is put back before the sources are compared. An ephemeral workspace never writes its
//! lockfile, so neither may the build: the archive's own `Cargo.lock` is put back as it was, and
//! one the build created (`--exclude-lockfile`) is removed.
//!
//! A path in the crate that escapes the package (`include_str!("../../README.md")`) is not checked
//! for: cargo does not check it either, and from `<build-dir>/package/<name>-<version>` such a path
//! points into the build dir, where it rarely resolves.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::build_output::{self, CargoError};
use crate::cargo_cmd::CargoInvocation;
use crate::overlay::Overlay;
use crate::registry_names::RegistryNames;
use crate::unpack::{UnpackError, unpack_crate};

#[derive(Debug, Clone, Default)]
pub struct BuildFlags {
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub targets: Vec<String>,
    pub jobs: Option<String>,
    pub keep_going: bool,
}

pub(crate) struct VerifyRequest<'a> {
    pub crate_file: &'a Path,
    pub name: &'a str,
    pub version: &'a str,
    /// The workspace's build dir: archives are unpacked into its `package/` and built into it.
    pub build_dir: &'a Path,
    pub overlay: Option<&'a Overlay>,
    pub cargo: &'a CargoInvocation,
    pub flags: &'a BuildFlags,
    /// Configured registries, which the build manifest names as cargo would.
    pub names: &'a RegistryNames,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error("failed to inspect `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not run `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// The build failed; cargo's closing error, which it prints under "failed to verify package
    /// tarball".
    #[error(transparent)]
    Build(CargoError),
    /// The build failed and cargo has already shown why (a compilation failure), or had nothing to
    /// say (it was killed, say).
    #[error("`cargo build` exited with {status}")]
    BuildShown { status: String },
    #[error("{0}")]
    SourceModified(String),
}

/// Appended to the unpacked manifest during the build: the crate is its own workspace root.
const OWN_WORKSPACE: &str = "\n[workspace]\n";

/// Unpacks and builds one archive; returns the unpacked directory.
pub(crate) fn verify(req: &VerifyRequest) -> Result<PathBuf, VerifyError> {
    let dir = unpack_crate(
        req.crate_file,
        &req.build_dir.join("package"),
        req.name,
        req.version,
    )?;
    let before = snapshot(&dir)?;
    let manifest = dir.join("Cargo.toml");
    let guard = BuildGuard::enter(&dir, true, req.names)?;
    let mut cmd = req.cargo.unlocked().command("build", &manifest);
    add_build_dirs(&mut cmd, req.build_dir);
    add_build_flags(&mut cmd, req.flags);
    if let Some(o) = req.overlay {
        o.apply(&mut cmd);
    }
    let outcome = build_output::run(cmd, &req.build_dir.join("package"), &mut |line| {
        shown(line, req.names)
    })
    .map_err(|source| VerifyError::Spawn {
        program: req.cargo.program.display().to_string(),
        source,
    });
    guard.leave()?;
    let outcome = outcome?;
    if !outcome.status.success() {
        return Err(match outcome.error {
            Some(text) => VerifyError::Build(CargoError::parse(&text)),
            None => VerifyError::BuildShown {
                status: outcome.status.to_string(),
            },
        });
    }
    let after = snapshot(&dir)?;
    if let Some(report) = describe_changes(&before, &after) {
        return Err(VerifyError::SourceModified(report));
    }
    Ok(dir)
}

/// Cargo builds verified crates with the original workspace's build dir as both target and build
/// dir.
pub(crate) fn add_build_dirs(cmd: &mut Command, build_dir: &Path) {
    let quoted = toml::Value::String(build_dir.to_string_lossy().into_owned()).to_string();
    cmd.arg("--target-dir")
        .arg(build_dir)
        .arg("--config")
        .arg(format!("build.build-dir={quoted}"));
}

/// What a verification build may change in an unpacked crate only for its own sake, undone
/// afterwards so that the source comparison sees what a build script did: the manifest (a
/// `[workspace]` table when `own_workspace`, registries named as cargo names them, see
/// [`RegistryNames`]) and the lockfile.
pub(crate) struct BuildGuard {
    manifest: PathBuf,
    /// The archive's manifest and the one the build sees, when they differ.
    original_manifest: Option<(Vec<u8>, Vec<u8>)>,
    lock: PathBuf,
    original_lock: Option<Vec<u8>>,
}

impl BuildGuard {
    pub(crate) fn enter(
        dir: &Path,
        own_workspace: bool,
        names: &RegistryNames,
    ) -> Result<Self, VerifyError> {
        let manifest = dir.join("Cargo.toml");
        let lock = dir.join("Cargo.lock");
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| VerifyError::Io { path, source }
        };
        let text = fs::read_to_string(&manifest).map_err(io_err(&manifest))?;
        let mut for_build = names.name_dependencies(&text);
        if own_workspace {
            for_build.push_str(OWN_WORKSPACE);
        }
        let original_manifest = if for_build != text {
            fs::write(&manifest, &for_build).map_err(io_err(&manifest))?;
            Some((text.into_bytes(), for_build.into_bytes()))
        } else {
            None
        };
        let original_lock = match fs::read(&lock) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&lock)(e)),
        };
        Ok(BuildGuard {
            manifest,
            original_manifest,
            lock,
            original_lock,
        })
    }

    /// Puts back what [`enter`](Self::enter) and the build changed; a manifest a build script
    /// rewrote is left as it is, for the comparison to report.
    pub(crate) fn leave(self) -> Result<(), VerifyError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| VerifyError::Io { path, source }
        };
        if let Some((original, ours)) = &self.original_manifest
            && fs::read(&self.manifest).ok().as_ref() == Some(ours)
        {
            fs::write(&self.manifest, original).map_err(io_err(&self.manifest))?;
        }
        match &self.original_lock {
            Some(bytes) => {
                if fs::read(&self.lock).ok().as_ref() != Some(bytes) {
                    fs::write(&self.lock, bytes).map_err(io_err(&self.lock))?;
                }
            }
            None => match fs::remove_file(&self.lock) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_err(&self.lock)(e));
                }
                _ => {}
            },
        }
        Ok(())
    }
}

/// The user's build flags, passed on to the verification build.
pub(crate) fn add_build_flags(cmd: &mut Command, flags: &BuildFlags) {
    if !flags.features.is_empty() {
        cmd.arg("--features").arg(flags.features.join(","));
    }
    if flags.all_features {
        cmd.arg("--all-features");
    }
    if flags.no_default_features {
        cmd.arg("--no-default-features");
    }
    for t in &flags.targets {
        cmd.arg("--target").arg(t);
    }
    if let Some(j) = &flags.jobs {
        cmd.arg("--jobs").arg(j);
    }
    if flags.keep_going {
        cmd.arg("--keep-going");
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fingerprint {
    File([u8; 32]),
    Symlink(PathBuf),
    Dir,
}

/// Every path under `dir` except a top-level `target` (the build's own output).
pub(crate) fn snapshot(dir: &Path) -> Result<BTreeMap<PathBuf, Fingerprint>, VerifyError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let io_err = |source| VerifyError::Io {
            path: current.clone(),
            source,
        };
        for entry in fs::read_dir(&current).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let path = entry.path();
            if current == dir && entry.file_name() == "target" {
                continue;
            }
            let file_type = entry.file_type().map_err(io_err)?;
            let fp = if file_type.is_symlink() {
                Fingerprint::Symlink(fs::read_link(&path).map_err(io_err)?)
            } else if file_type.is_dir() {
                stack.push(path.clone());
                Fingerprint::Dir
            } else {
                Fingerprint::File(hash_file(&path)?)
            };
            out.insert(path, fp);
        }
    }
    Ok(out)
}

fn hash_file(path: &Path) -> Result<[u8; 32], VerifyError> {
    let io_err = |source| VerifyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Cargo's report (spec §6): Changed/Added/Removed sections, sorted, later entries tab-indented.
pub(crate) fn describe_changes(
    before: &BTreeMap<PathBuf, Fingerprint>,
    after: &BTreeMap<PathBuf, Fingerprint>,
) -> Option<String> {
    let changed: Vec<_> = before
        .iter()
        .filter(|(p, fp)| after.get(*p).is_some_and(|a| a != *fp))
        .map(|(p, _)| p)
        .collect();
    let added: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    let removed: Vec<_> = before.keys().filter(|p| !after.contains_key(*p)).collect();
    if changed.is_empty() && added.is_empty() && removed.is_empty() {
        return None;
    }
    let mut text = String::from(
        "Source directory was modified by build.rs during cargo publish. Build scripts should not modify anything outside of OUT_DIR.",
    );
    for (label, paths) in [("Changed", changed), ("Added", added), ("Removed", removed)] {
        if paths.is_empty() {
            continue;
        }
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        text.push_str(&format!("\n{label}: {}", list.join("\n\t")));
    }
    text.push_str("\n\nTo proceed despite this, pass the `--no-verify` flag.");
    Some(text)
}

/// Whether a line of a verification build is shown: all but a git index's repeated `Updating`.
pub(crate) fn shown(line: &str, names: &RegistryNames) -> bool {
    match line.trim_start().strip_prefix("Updating ") {
        Some(message) if message.ends_with(" index") => names.show_index_update(message),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_report_layout() {
        let mut before = BTreeMap::new();
        before.insert(PathBuf::from("/u/src/lib.rs"), Fingerprint::File([0; 32]));
        before.insert(PathBuf::from("/u/gone"), Fingerprint::Dir);
        let mut after = BTreeMap::new();
        after.insert(PathBuf::from("/u/src/lib.rs"), Fingerprint::File([1; 32]));
        after.insert(PathBuf::from("/u/a"), Fingerprint::Dir);
        after.insert(PathBuf::from("/u/b"), Fingerprint::Dir);
        assert_eq!(
            describe_changes(&before, &after).unwrap(),
            "Source directory was modified by build.rs during cargo publish. Build scripts should not modify anything outside of OUT_DIR.\nChanged: /u/src/lib.rs\nAdded: /u/a\n\t/u/b\nRemoved: /u/gone\n\nTo proceed despite this, pass the `--no-verify` flag."
        );
        assert_eq!(describe_changes(&before, &before), None);
    }
}
