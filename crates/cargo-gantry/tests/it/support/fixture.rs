//! Builds package trees in temporary directories: files, executables, symlinks, FIFOs, git repos,
//! submodules and workspaces. Everything is deterministic so that two tools (or two runs) see
//! byte-identical inputs, including git commit ids.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fixed dates so that commit ids (and hence `.cargo_vcs_info.json`) are reproducible.
const GIT_DATE: &str = "2024-01-01T00:00:00+00:00";

/// A scratch directory holding the package tree under `tree/`; tools get their own sibling
/// directories (`home-*`, `target-*`) so nothing they write lands inside the tree.
pub struct Fixture {
    tmp: tempfile::TempDir,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("gantry-diff-")
            .tempdir()
            .expect("tempdir");
        fs::create_dir(tmp.path().join("tree")).expect("mkdir tree");
        Fixture { tmp }
    }

    /// The tree root (where packages live).
    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("tree")
    }

    /// The scratch directory that holds the tree and the tools' private directories.
    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn file(&self, rel: &str, contents: &str) -> &Self {
        self.bytes(rel, contents.as_bytes())
    }

    pub fn bytes(&self, rel: &str, contents: &[u8]) -> &Self {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir -p");
        }
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    /// A file with mode 0755.
    pub fn exec(&self, rel: &str, contents: &str) -> &Self {
        self.file(rel, contents);
        self.chmod(rel, 0o755)
    }

    pub fn chmod(&self, rel: &str, mode: u32) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(self.path(rel), fs::Permissions::from_mode(mode)).expect("chmod");
        self
    }

    pub fn dir(&self, rel: &str) -> &Self {
        fs::create_dir_all(self.path(rel)).expect("mkdir -p");
        self
    }

    /// `link` (relative to the root) pointing at `target` (written verbatim, may be relative,
    /// dangling or form a loop).
    pub fn symlink(&self, target: &str, link: &str) -> &Self {
        let p = self.path(link);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir -p");
        }
        std::os::unix::fs::symlink(target, &p).expect("symlink");
        self
    }

    pub fn fifo(&self, rel: &str) -> &Self {
        let st = Command::new("mkfifo")
            .arg(self.path(rel))
            .status()
            .expect("mkfifo");
        assert!(st.success(), "mkfifo failed");
        self
    }

    pub fn remove(&self, rel: &str) -> &Self {
        let p = self.path(rel);
        if p.is_dir() && !p.is_symlink() {
            fs::remove_dir_all(p).expect("rm -r");
        } else {
            fs::remove_file(p).expect("rm");
        }
        self
    }

    /// A minimal library package `name` at `dir` (`""` = the root) with extra `[package]` lines and
    /// extra manifest sections.
    pub fn package(&self, dir: &str, name: &str, extra_package: &str, extra: &str) -> &Self {
        self.file(
            &join(dir, "Cargo.toml"),
            &manifest(name, extra_package, extra),
        );
        self.file(&join(dir, "src/lib.rs"), "pub fn f() -> u32 {\n    1\n}\n")
    }

    /// Like [`Fixture::package`] with a full set of metadata so that no metadata warning is printed.
    pub fn basic(&self, dir: &str, name: &str) -> &Self {
        self.package(dir, name, METADATA, "")
    }

    // ----- git -----

    /// Runs `git` in `dir` (relative to the root) with a fixed identity and dates.
    pub fn git(&self, dir: &str, args: &[&str]) -> String {
        let out = git_cmd(&self.path(dir))
            .args(args)
            .output()
            .expect("failed to run git");
        assert!(
            out.status.success(),
            "git {args:?} failed in {dir:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn git_init(&self, dir: &str) -> &Self {
        self.dir(dir);
        self.git(dir, &["init", "-q", "-b", "main"]);
        self
    }

    pub fn git_add_all(&self, dir: &str) -> &Self {
        self.git(dir, &["add", "-A"]);
        self
    }

    pub fn git_commit(&self, dir: &str, msg: &str) -> &Self {
        self.git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
        self
    }

    /// `git init` + `git add -A` + commit.
    pub fn git_commit_all(&self, dir: &str) -> &Self {
        if !self.path(dir).join(".git").exists() {
            self.git_init(dir);
        }
        self.git_add_all(dir);
        self.git_commit(dir, "initial")
    }

    /// Adds the repo at `sub_repo` (relative to the root, must be committed) as a submodule at
    /// `path` of the repo in `dir`.
    pub fn submodule_add(&self, dir: &str, sub_repo: &str, path: &str) -> &Self {
        let url = self.path(sub_repo);
        self.git(
            dir,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                url.to_str().expect("utf-8 temp path"),
                path,
            ],
        );
        self
    }

    pub fn head(&self, dir: &str) -> String {
        self.git(dir, &["rev-parse", "HEAD"]).trim().to_string()
    }
}

/// A `git` command with identity and dates fixed and the user's configuration ignored.
pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(["-c", "core.autocrlf=false", "-c", "commit.gpgsign=false"])
        .env("GIT_AUTHOR_DATE", GIT_DATE)
        .env("GIT_COMMITTER_DATE", GIT_DATE)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    c
}

/// Complete crates.io metadata (no "manifest has no …" warning).
pub const METADATA: &str =
    "description = \"d\"\nlicense = \"MIT\"\nrepository = \"https://example.com/r\"\n";

pub fn manifest(name: &str, extra_package: &str, extra: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{extra_package}\n{extra}"
    )
}

pub fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() || dir == "." {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    }
}
