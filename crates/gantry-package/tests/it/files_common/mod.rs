//! Fixture trees and cargo-as-oracle helpers shared by the file-selection and VCS tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gantry_package::Recorder;
use gantry_package::{ListOptions, list_files};

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn file(&self, rel: &str, contents: &str) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
        self
    }

    #[cfg(unix)]
    pub fn symlink(&self, target: &str, link: &str) -> &Self {
        let p = self.path(link);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    /// A package manifest at `dir` (relative; "" = root) with extra `[package]` lines.
    pub fn package(&self, dir: &str, name: &str, extra: &str) -> &Self {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.file(
            &format!("{prefix}Cargo.toml"),
            &format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{extra}\n"
            ),
        );
        self.file(&format!("{prefix}src/lib.rs"), "")
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.root(), args)
    }

    pub fn git_init(&self) -> &Self {
        self.git(&["init", "-q", "-b", "main"]);
        self
    }

    pub fn commit_all(&self) -> &Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "c", "--allow-empty"]);
        self
    }
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args([
            "-c",
            "protocol.file.allow=always",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the real cargo with a private `CARGO_HOME`, `--offline`.
pub fn cargo(cwd: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    Command::new("cargo")
        .current_dir(cwd)
        .args(args)
        .arg("--offline")
        .env("CARGO_HOME", home.path())
        .env("CARGO_TARGET_DIR", target.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("CARGO_TERM_COLOR")
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("cargo runs")
}

/// cargo's `--list` for the package at `pkg`, minus generated entries.
pub fn cargo_list(pkg: &Path) -> Vec<String> {
    let out = cargo(pkg, &["package", "--list", "--allow-dirty"]);
    assert!(
        out.status.success(),
        "cargo package --list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !matches!(
                *l,
                "Cargo.toml.orig" | "Cargo.lock" | ".cargo_vcs_info.json"
            )
        })
        .map(str::to_owned)
        .collect();
    sort_components(&mut v);
    v
}

/// Our listing for `pkg`, mapped the way cargo maps it for `--list` (Cargo.lock never copied).
pub fn our_list(pkg: &Path, include: &[&str], exclude: &[&str]) -> (Vec<String>, Recorder) {
    let include: Vec<String> = include.iter().map(|s| s.to_string()).collect();
    let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
    let rec = Recorder::new(false);
    let listing = list_files(
        &ListOptions {
            pkg_root: pkg,
            include: &include,
            exclude: &exclude,
        },
        &rec,
    )
    .expect("list_files");
    let mut v: Vec<String> = listing
        .files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(pkg).expect("under pkg root");
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .filter(|r| r != "Cargo.lock")
        .collect();
    sort_components(&mut v);
    (v, rec)
}

pub fn sort_components(v: &mut [String]) {
    v.sort_by(|a, b| a.split('/').cmp(b.split('/')));
}

/// Asserts our listing equals cargo's for `pkg`, returning the list.
pub fn assert_same_list(pkg: &Path, include: &[&str], exclude: &[&str]) -> Vec<String> {
    let expected = cargo_list(pkg);
    let (ours, _) = our_list(pkg, include, exclude);
    assert_eq!(
        ours,
        expected,
        "listing differs from cargo's for {}",
        pkg.display()
    );
    ours
}

/// TOML array literal for include/exclude lines.
pub fn toml_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}
