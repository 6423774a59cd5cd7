//! Differential harness: the installed `cargo` packages a fixture, we normalise the same fixture,
//! and the two `Cargo.toml` texts (and the "ignoring …" warnings) must be identical.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_package::Recorder;
use gantry_package::load_workspace;
use gantry_package::{PublishInputs, publish_manifest};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub cargo_home: tempfile::TempDir,
}

/// Writes `files` (path, contents) under a fresh temp dir. An empty content for a path ending in
/// `/` creates a directory.
pub fn fixture(files: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, contents) in files {
        let p = dir.path().join(path);
        if path.ends_with('/') {
            std::fs::create_dir_all(&p).expect("mkdir");
            continue;
        }
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, contents).expect("write");
    }
    Fixture {
        dir,
        cargo_home: tempfile::tempdir().expect("tempdir"),
    }
}

pub const ALT_INDEX: &str = "sparse+http://127.0.0.1:1/index/";

impl Fixture {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cargo(&self, manifest: &str, extra: &[&str]) -> std::process::Output {
        let target = self.cargo_home.path().join("target");
        Command::new("cargo")
            .arg("package")
            .args([
                "--no-verify",
                "--exclude-lockfile",
                "--allow-dirty",
                "--offline",
            ])
            .arg("--config")
            .arg(format!("registries.alt.index=\"{ALT_INDEX}\""))
            .arg("--manifest-path")
            .arg(self.path(manifest))
            .arg("--target-dir")
            .arg(&target)
            .args(extra)
            .env("CARGO_HOME", self.cargo_home.path())
            .env_remove("CARGO_TARGET_DIR")
            .env("CARGO_TERM_COLOR", "never")
            .current_dir(self.dir.path())
            .output()
            .expect("run cargo")
    }

    /// Cargo's normalised Cargo.toml, the archived file list, and cargo's stderr.
    pub fn cargo_manifest(
        &self,
        manifest: &str,
        name: &str,
        version: &str,
    ) -> (String, BTreeSet<String>, String) {
        let out = self.cargo(manifest, &["-p", name]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "cargo package failed:\n{stderr}");
        let list = self.cargo(manifest, &["-p", name, "--list"]);
        let listed: BTreeSet<String> = String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|l| {
                !matches!(
                    *l,
                    "Cargo.toml" | "Cargo.toml.orig" | "Cargo.lock" | ".cargo_vcs_info.json"
                )
            })
            .map(str::to_owned)
            .collect();
        let crate_file = self
            .cargo_home
            .path()
            .join("target/package")
            .join(format!("{name}-{version}.crate"));
        let bytes = std::fs::read(&crate_file).expect("read .crate");
        let gz = flate2::read::GzDecoder::new(&bytes[..]);
        let mut ar = tar::Archive::new(gz);
        let want = format!("{name}-{version}/Cargo.toml");
        for entry in ar.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            if entry.path().expect("path").to_string_lossy() == want {
                let mut s = String::new();
                entry.read_to_string(&mut s).expect("read");
                return (s, listed, stderr);
            }
        }
        panic!("no {want} in archive");
    }
}

pub fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    let n = e.len().max(a.len());
    for i in 0..n {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    out
}

/// Packages `manifest` (package `name`) with cargo and with us; asserts identical text and
/// identical "ignoring …" warnings.
pub fn check(files: &[(&str, &str)], manifest: &str, name: &str, version: &str) {
    check_fx(&fixture(files), manifest, name, version);
}

/// [`check`] on an already prepared fixture (e.g. one with symlinks); returns our workspace.
pub fn check_fx(
    fx: &Fixture,
    manifest: &str,
    name: &str,
    version: &str,
) -> gantry_package::workspace::Workspace {
    let (expected, included, stderr) = fx.cargo_manifest(manifest, name, version);
    let ws = load_workspace(&fx.path(manifest)).unwrap_or_else(|e| panic!("load: {:?}", e.chain()));
    let idx = ws
        .members
        .iter()
        .position(|m| m.name == name)
        .unwrap_or_else(|| panic!("no member {name}"));
    let rec = Recorder::new(false);
    let registry = |r: &str| (r == "alt").then(|| ALT_INDEX.to_string());
    let inputs = PublishInputs {
        included: &included,
        registry_index: &registry,
    };
    let got = publish_manifest(&ws, &ws.members[idx], &inputs, &rec)
        .unwrap_or_else(|e| panic!("publish_manifest: {:?}", e.chain()));
    assert!(
        expected == got.text,
        "normalised Cargo.toml differs (- cargo, + gantry):\n{}",
        diff(&expected, &got.text)
    );
    let cargo_warnings: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .filter(|l| l.starts_with("ignoring "))
        .map(str::to_owned)
        .collect();
    let ours: Vec<String> = rec
        .warnings()
        .into_iter()
        .filter(|w| w.starts_with("ignoring "))
        .collect();
    assert_eq!(cargo_warnings, ours, "warnings differ");
    ws
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
