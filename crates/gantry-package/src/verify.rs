//! Verification (spec §6): unpack each archive **outside the source repository** — so a path that
//! escapes the package (`include_str!("../../README.md")`) cannot silently resolve against the real
//! checkout — build it with the installed cargo into the workspace's target dir (dependencies are
//! reused), and fail if a build script changed the unpacked sources.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use sha2::{Digest, Sha256};

use crate::cargo_cmd::CargoInvocation;
use crate::overlay::Overlay;
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

pub struct VerifyRequest<'a> {
    pub crate_file: &'a Path,
    pub name: &'a str,
    pub version: &'a str,
    /// Where archives are unpacked (outside the repository).
    pub unpack_root: &'a Path,
    pub target_dir: &'a Path,
    /// `<build-dir>/package`, where `cargo package` unpacks for its own verification.
    pub cargo_package_dir: &'a Path,
    pub overlay: Option<&'a Overlay>,
    pub cargo: &'a CargoInvocation,
    pub flags: &'a BuildFlags,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Overlay(#[from] crate::overlay::OverlayError),
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
    #[error("build failed: `cargo build` exited with {status}")]
    Build { status: String },
    #[error("{0}")]
    SourceModified(String),
}

/// Unpacks and builds one archive; returns the unpacked directory.
pub fn verify(req: &VerifyRequest) -> Result<PathBuf, VerifyError> {
    forget_cargo_unpack(req)?;
    let dir = unpack_crate(req.crate_file, req.unpack_root, req.name, req.version)?;
    let before = snapshot(&dir)?;
    let lock_path = dir.join("Cargo.lock");
    let saved_lock = fs::read(&lock_path).ok();

    let manifest_text = fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    let overlay_args = match req.overlay {
        Some(o) => Some(o.config_args_for(&manifest_text, true)?).filter(|a| !a.is_empty()),
        None => None,
    };
    // With the overlay, cargo re-resolves the patched siblings and rewrites Cargo.lock; the lock we
    // packaged was resolved moments ago under the user's --locked, so only offline-ness carries over.
    let cargo = if overlay_args.is_some() {
        req.cargo.unlocked()
    } else {
        req.cargo.clone()
    };
    let manifest = dir.join("Cargo.toml");
    let mut cmd = cargo.command("build", &manifest);
    cmd.arg("--target-dir").arg(req.target_dir);
    add_build_flags(&mut cmd, req.flags);
    for arg in overlay_args.iter().flatten() {
        cmd.arg("--config").arg(arg);
    }
    let spawn_err = |source| VerifyError::Spawn {
        program: req.cargo.program.display().to_string(),
        source,
    };
    let status = match (overlay_args.is_some(), req.overlay) {
        (true, Some(overlay)) => run_filtered(cmd, overlay.root()).map_err(spawn_err)?,
        _ => cmd.status().map_err(spawn_err)?,
    };
    if overlay_args.is_some()
        && let Some(saved) = &saved_lock
    {
        fs::write(&lock_path, saved).map_err(|source| VerifyError::Io {
            path: lock_path.clone(),
            source,
        })?;
    }
    if !status.success() {
        return Err(VerifyError::Build {
            status: status.to_string(),
        });
    }
    let after = snapshot(&dir)?;
    if let Some(report) = describe_changes(&before, &after) {
        return Err(VerifyError::SourceModified(report));
    }
    Ok(dir)
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

/// A package that is its own workspace root gets the same artifact hash wherever it lives, so our
/// unpacked copy shares its fingerprint with `cargo package`'s own verification build. That
/// fingerprint's dep-info points into cargo's unpack directory (`<build-dir>/package/<name>-<ver>`),
/// whose old files would make cargo call our new sources fresh and skip building them. Cargo
/// recreates that directory on every run; removing it makes the fingerprint stale, so the archive
/// we just wrote is really compiled.
fn forget_cargo_unpack(req: &VerifyRequest) -> Result<(), VerifyError> {
    forget_unpack_of(req.cargo_package_dir, req.name, req.version)
}

pub(crate) fn forget_unpack_of(
    cargo_package_dir: &Path,
    name: &str,
    version: &str,
) -> Result<(), VerifyError> {
    let dir = cargo_package_dir.join(format!("{name}-{version}"));
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(VerifyError::Io { path: dir, source }),
    }
}

/// Runs the build, passing its output through except cargo's lockfile bookkeeping about the patched
/// overlay crates (`Locking 1 package…`, `Adding b v0.2.0 (<overlay>)`), which `cargo package` never
/// shows because its overlay is a registry, not a patch.
pub(crate) fn run_filtered(mut cmd: Command, overlay_root: &Path) -> io::Result<ExitStatus> {
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let overlay = overlay_root.display().to_string();
    if let Some(stderr) = child.stderr.take() {
        let mut out = io::stderr();
        for line in BufReader::new(stderr).split(b'\n') {
            let line = line?;
            let text = String::from_utf8_lossy(&line);
            let plain = strip_ansi(&text);
            let word = plain.split_whitespace().next().unwrap_or("");
            let bookkeeping = (word == "Locking" && plain.contains(" package"))
                || (matches!(word, "Adding" | "Updating" | "Removing") && plain.contains(&overlay));
            if !bookkeeping {
                out.write_all(&line)?;
                out.write_all(b"\n")?;
            }
        }
    }
    child.wait()
}

pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequences end with a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_is_stripped_for_matching() {
        assert_eq!(
            strip_ansi("\u{1b}[1m\u{1b}[32m     Locking\u{1b}[0m 1 package"),
            "     Locking 1 package"
        );
    }

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
