//! Differential tests of the dirty check and `.cargo_vcs_info.json` against cargo (spec §4.2, §5).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::files_common::*;
use gantry_package::Recorder;
use gantry_package::{ListOptions, list_files};
use gantry_package::{VcsError, VcsInfo, VcsOptions, check_vcs};

struct Pkg<'a> {
    root: PathBuf,
    ws_manifest: PathBuf,
    include: &'a [&'a str],
    exclude: &'a [&'a str],
    extra: Vec<PathBuf>,
}

impl<'a> Pkg<'a> {
    fn single(root: PathBuf) -> Self {
        Pkg {
            ws_manifest: root.join("Cargo.toml"),
            root,
            include: &[],
            exclude: &[],
            extra: Vec::new(),
        }
    }
    fn member(root: PathBuf, ws_root: &Path) -> Self {
        Pkg {
            ws_manifest: ws_root.join("Cargo.toml"),
            root,
            include: &[],
            exclude: &[],
            extra: Vec::new(),
        }
    }

    fn check(
        &self,
        allow_dirty: bool,
        cwd: &Path,
        rec: &Recorder,
    ) -> Result<Option<VcsInfo>, VcsError> {
        let include: Vec<String> = self.include.iter().map(|s| s.to_string()).collect();
        let exclude: Vec<String> = self.exclude.iter().map(|s| s.to_string()).collect();
        let listing = list_files(
            &ListOptions {
                pkg_root: &self.root,
                include: &include,
                exclude: &exclude,
            },
            rec,
        )
        .unwrap();
        check_vcs(
            &VcsOptions {
                pkg_root: &self.root,
                manifest_path: &self.root.join("Cargo.toml"),
                workspace_manifest: &self.ws_manifest,
                files: &listing.files,
                extra_paths: &self.extra,
                allow_dirty,
                cwd,
            },
            rec,
        )
    }
}

/// cargo's dirty error (text after `error: `), or None when `--list` succeeds.
fn cargo_dirty_error(cwd: &Path, args: &[&str]) -> Option<String> {
    let mut all = vec!["package", "--list"];
    all.extend_from_slice(args);
    let out = cargo(cwd, &all);
    if out.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let at = stderr
        .find("error: ")
        .unwrap_or_else(|| panic!("no error in {stderr}"));
    Some(stderr[at + 7..].trim_end().to_owned())
}

/// The `.cargo_vcs_info.json` cargo writes for `name` (None when absent).
fn cargo_vcs_json(cwd: &Path, name: &str, args: &[&str]) -> Option<String> {
    let home = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("cargo")
        .current_dir(cwd)
        .args([
            "package",
            "--no-verify",
            "--allow-dirty",
            "--exclude-lockfile",
            "--offline",
        ])
        .args(args)
        .env("CARGO_HOME", home.path())
        .env("CARGO_TARGET_DIR", target.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let krate = target.path().join(format!("package/{name}-0.1.0.crate"));
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(krate).unwrap());
    let mut ar = tar::Archive::new(gz);
    for entry in ar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        if path.ends_with(".cargo_vcs_info.json") {
            let mut s = String::new();
            entry.read_to_string(&mut s).unwrap();
            return Some(s);
        }
    }
    None
}

fn assert_same_error(pkg: &Pkg, cwd: &Path, cargo_args: &[&str]) -> String {
    let expected = cargo_dirty_error(cwd, cargo_args).expect("cargo reports dirty");
    let rec = Recorder::new(false);
    let ours = pkg
        .check(false, cwd, &rec)
        .expect_err("we report dirty")
        .to_string();
    assert_eq!(ours, expected);
    ours
}

fn assert_same_json(pkg: &Pkg, cwd: &Path, name: &str, cargo_args: &[&str]) -> Option<String> {
    let expected = cargo_vcs_json(cwd, name, cargo_args);
    let rec = Recorder::new(false);
    let ours = pkg
        .check(true, cwd, &rec)
        .expect("allow-dirty never fails")
        .map(|i| i.to_json());
    assert_eq!(ours, expected);
    ours
}

fn basic_repo() -> Fixture {
    let f = Fixture::new();
    f.package("", "foo", "description = 'd'\nlicense = 'MIT'");
    f.file(".gitignore", "/target\n");
    f.git_init().commit_all();
    f
}

#[test]
fn clean_repo_vcs_info_and_allow_dirty_without_dirty_key() {
    let f = basic_repo();
    let pkg = Pkg::single(f.root());
    assert_eq!(cargo_dirty_error(&f.root(), &[]), None);
    let rec = Recorder::new(false);
    let info = pkg.check(false, &f.root(), &rec).unwrap().unwrap();
    assert!(!info.dirty);
    assert_eq!(info.path_in_vcs, "");
    let json = assert_same_json(&pkg, &f.root(), "foo", &[]).unwrap();
    assert!(!json.contains("dirty"));
}

#[test]
fn modified_manifest_paths_relative_to_cwd() {
    let f = basic_repo();
    f.file(
        "Cargo.toml",
        &(std::fs::read_to_string(f.path("Cargo.toml")).unwrap() + "\n# x\n"),
    );
    f.file("untracked.txt", "");
    let pkg = Pkg::single(f.root());
    let msg = assert_same_error(&pkg, &f.root(), &[]);
    assert!(msg.starts_with("2 files in the working directory"), "{msg}");
    let msg = assert_same_error(&pkg, &f.path("src"), &[]);
    assert!(msg.contains("\n../Cargo.toml\n"), "{msg}");
    let json = assert_same_json(&pkg, &f.root(), "foo", &[]).unwrap();
    assert!(json.contains("\"dirty\": true"));
}

#[test]
fn staged_deleted_and_untracked_dir() {
    let f = basic_repo();
    f.file("src/a.rs", "").file("src/b.rs", "");
    f.commit_all();
    f.file("src/a.rs", "changed");
    f.git(&["add", "src/a.rs"]);
    std::fs::remove_file(f.path("src/b.rs")).unwrap();
    f.file("newdir/x/y.rs", "").file("newdir/z.rs", "");
    let pkg = Pkg::single(f.root());
    assert_same_error(&pkg, &f.root(), &[]);
}

#[test]
fn ignored_but_included_file_is_dirty_and_ignored_lock_is_not() {
    let f = Fixture::new();
    let inc = ["Cargo.toml", "src/**"];
    f.package("", "foo", &format!("include = {}", toml_array(&inc)));
    f.file(".gitignore", "/target\nsrc/gen/\nCargo.lock\n");
    f.git_init().commit_all();
    f.file("src/gen/out.rs", "").file("Cargo.lock", "");
    let mut pkg = Pkg::single(f.root());
    pkg.include = &inc;
    assert_same_error(&pkg, &f.root(), &[]);
    std::fs::remove_dir_all(f.path("src/gen")).unwrap();
    assert_eq!(cargo_dirty_error(&f.root(), &[]), None);
    let rec = Recorder::new(false);
    assert!(pkg.check(false, &f.root(), &rec).unwrap().is_some());
}

#[test]
fn unborn_head_has_no_vcs_info_and_unstaged_manifest_is_dirty() {
    let f = Fixture::new();
    f.package("", "foo", "description = 'd'\nlicense = 'MIT'");
    f.git_init();
    let pkg = Pkg::single(f.root());
    assert_same_error(&pkg, &f.root(), &[]);
    // Staged but never committed: still dirty, and no vcs info even with --allow-dirty.
    f.git(&["add", "-A"]);
    assert_same_error(&pkg, &f.root(), &[]);
    assert_eq!(assert_same_json(&pkg, &f.root(), "foo", &[]), None);
}

#[test]
fn no_repo_and_ignored_package() {
    let f = Fixture::new();
    f.package("", "foo", "");
    let rec = Recorder::new(true);
    let pkg = Pkg::single(f.root());
    assert!(pkg.check(false, &f.root(), &rec).unwrap().is_none());
    assert_eq!(
        rec.warnings(),
        vec![format!("no (git) VCS found for `{}`", f.root().display())]
    );

    let g = Fixture::new();
    g.file(".gitignore", "bar/\n").file("keep", "");
    g.git_init().commit_all();
    g.package("bar", "bar", "");
    let pkg = Pkg::single(g.path("bar"));
    let rec = Recorder::new(true);
    assert!(pkg.check(false, &g.root(), &rec).unwrap().is_none());
    assert_eq!(cargo_dirty_error(&g.path("bar"), &[]), None);
    let out = cargo(&g.path("bar"), &["package", "--list", "-v"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let w = rec.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        stderr.contains(&format!("warning: {}", w[0])),
        "{stderr}\n{w:?}"
    );
}

fn workspace() -> Fixture {
    let f = Fixture::new();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = ['a/a', 'b']\nresolver = '2'\n",
    );
    f.file(".gitignore", "/target\nCargo.lock\n");
    f.package("a/a", "a", "description = 'd'\nlicense = 'MIT'");
    f.package("b", "b", "description = 'd'\nlicense = 'MIT'");
    f.git_init().commit_all();
    f
}

#[test]
fn dirty_per_workspace_member_and_path_in_vcs() {
    let f = workspace();
    f.file("a/a/src/lib.rs", "// changed");
    f.file("b/untracked.rs", "");
    let a = Pkg::member(f.path("a/a"), &f.root());
    let b = Pkg::member(f.path("b"), &f.root());
    assert_same_error(&a, &f.root(), &["-p", "a"]);
    assert_same_error(&b, &f.path("b"), &["-p", "b"]);
    let json = assert_same_json(&a, &f.root(), "a", &["-p", "a"]).unwrap();
    assert!(json.contains("\"path_in_vcs\": \"a/a\""), "{json}");
    std::fs::remove_file(f.path("b/untracked.rs")).unwrap();
    assert_eq!(cargo_dirty_error(&f.root(), &["-p", "b"]), None);
    let json = assert_same_json(&b, &f.root(), "b", &["-p", "b"]).unwrap();
    assert!(!json.contains("dirty"));
}

#[test]
fn workspace_root_manifest_change_is_dirty_for_members() {
    let f = workspace();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = ['a/a', 'b']\nresolver = '2'\n# x\n",
    );
    let b = Pkg::member(f.path("b"), &f.root());
    let msg = assert_same_error(&b, &f.root(), &["-p", "b"]);
    assert!(msg.contains("\nCargo.toml\n"), "{msg}");
    // Observed cargo 1.95 behaviour: from inside a member the root manifest is not checked,
    // but `<cwd>/Cargo.toml` is (the workdir-relative path is resolved against the cwd).
    assert_eq!(cargo_dirty_error(&f.path("b"), &["-p", "b"]), None);
    let rec = Recorder::new(false);
    assert!(b.check(false, &f.path("b"), &rec).is_ok());
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = ['a/a', 'b']\nresolver = '2'\n",
    );
    f.file(
        "a/a/Cargo.toml",
        &(std::fs::read_to_string(f.path("a/a/Cargo.toml")).unwrap() + "# y\n"),
    );
    let msg = assert_same_error(&b, &f.path("a/a"), &["-p", "b"]);
    assert!(msg.contains("\nCargo.toml\n"), "{msg}");
}

#[cfg(unix)]
#[test]
fn dirty_files_outside_package_root() {
    let f = Fixture::new();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = ['isengard']\nresolver = '2'\n",
    );
    f.file(".gitignore", "/target\nCargo.lock\n");
    f.file("LICENSE", "orig").file("README.md", "orig");
    f.file("original-dir/file", "orig")
        .file("original-file", "orig");
    f.package(
        "isengard",
        "isengard",
        "description = 'd'\nlicense-file = '../LICENSE'\nreadme = '../README.md'",
    );
    f.symlink("../original-dir", "isengard/symlink-dir");
    f.symlink("../original-file", "isengard/symlink-file");
    f.git_init().commit_all();
    for p in ["LICENSE", "README.md", "original-dir/file", "original-file"] {
        f.file(p, "changed");
    }
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = ['isengard']\nresolver = '2'\n# x\n",
    );
    let mut pkg = Pkg::member(f.path("isengard"), &f.root());
    pkg.extra = vec!["../LICENSE".into(), "../README.md".into()];
    let msg = assert_same_error(&pkg, &f.root(), &["-p", "isengard"]);
    assert!(msg.starts_with("5 files"), "{msg}");
}

#[cfg(unix)]
#[test]
fn symlink_into_changed_submodule_is_dirty() {
    let sub = Fixture::new();
    sub.file("lib.rs", "orig");
    sub.git_init().commit_all();
    let f = Fixture::new();
    f.package("", "foo", "description = 'd'\nlicense = 'MIT'");
    f.git_init();
    f.git(&[
        "submodule",
        "add",
        "-q",
        sub.root().to_str().unwrap(),
        "submodule",
    ]);
    f.symlink("submodule/lib.rs", "src/sub.rs");
    f.commit_all();
    f.file("submodule/lib.rs", "changed");
    let pkg = Pkg::single(f.root());
    assert_same_error(&pkg, &f.root(), &[]);
}

#[cfg(unix)]
#[test]
fn symlinked_dirs_ignored_by_git_are_not_dirty() {
    let f = Fixture::new();
    f.package("", "foo", "description = 'd'\nlicense = 'MIT'");
    f.file("src/main.rs", "");
    f.file(".gitignore", "/target\n/src1\n/src2/\nsrc3\nsrc4/\n");
    f.git_init().commit_all();
    for n in ["src1", "src2", "src3", "src4"] {
        f.symlink("src", n);
    }
    assert_eq!(cargo_dirty_error(&f.root(), &[]), None);
    let rec = Recorder::new(false);
    assert!(
        Pkg::single(f.root())
            .check(false, &f.root(), &rec)
            .unwrap()
            .is_some()
    );
}

#[cfg(unix)]
#[test]
fn core_symlinks_false_warning() {
    let f = Fixture::new();
    f.package("", "foo", "description = 'd'\nlicense = 'MIT'");
    f.file("target.txt", "hello");
    f.symlink("target.txt", "link.txt");
    f.git_init().commit_all();
    f.git(&["config", "core.symlinks", "false"]);
    std::fs::remove_file(f.path("link.txt")).unwrap();
    f.git(&["checkout", "--", "link.txt"]);
    assert!(f.path("link.txt").symlink_metadata().unwrap().is_file());
    let out = cargo(&f.root(), &["package", "--list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rec = Recorder::new(false);
    Pkg::single(f.root()).check(false, &f.root(), &rec).unwrap();
    let w = rec.warnings();
    assert_eq!(w.len(), 1, "{w:?}\n{stderr}");
    assert!(
        stderr.contains(&format!("warning: {}", w[0])),
        "{stderr}\n{w:?}"
    );
}

#[test]
fn modified_file_inside_submodule_is_reported() {
    let sub = Fixture::new();
    sub.file("Makefile", "all:\n").file("src/x.c", "");
    sub.git_init().commit_all();
    let f = Fixture::new();
    f.package("", "foo", "description = 'd'\nlicense = 'MIT'");
    f.git_init();
    f.git(&[
        "submodule",
        "add",
        "-q",
        sub.root().to_str().unwrap(),
        "bar",
    ]);
    f.commit_all();
    f.file("bar/Makefile", "changed:\n").file("bar/new.c", "");
    let pkg = Pkg::single(f.root());
    let msg = assert_same_error(&pkg, &f.root(), &[]);
    assert!(msg.contains("bar/Makefile"), "{msg}");
    assert_same_json(&pkg, &f.root(), "foo", &[]);
}

#[test]
fn nested_untracked_repository_in_package() {
    let f = basic_repo();
    let inner = f.path("vendor/inner");
    std::fs::create_dir_all(&inner).unwrap();
    git_in(&inner, &["init", "-q"]);
    f.file("vendor/inner/a.txt", "")
        .file("vendor/inner/.gitignore", "*.tmp\n");
    f.file("vendor/inner/b.tmp", "");
    assert_same_list(&f.root(), &[], &[]);
    let pkg = Pkg::single(f.root());
    assert_same_error(&pkg, &f.root(), &[]);
}

#[test]
fn untracked_file_from_workspace_root_and_member_cwd() {
    let f = workspace();
    f.file("b/src/untracked.rs", "");
    let b = Pkg::member(f.path("b"), &f.root());
    let msg = assert_same_error(&b, &f.root(), &["-p", "b"]);
    assert!(msg.contains("\nb/src/untracked.rs\n"), "{msg}");
    let msg = assert_same_error(&b, &f.path("b/src"), &["-p", "b"]);
    assert!(msg.contains("\nuntracked.rs\n"), "{msg}");
    let msg = assert_same_error(&b, &f.path("a/a"), &["-p", "b"]);
    assert!(msg.contains("\n../../b/src/untracked.rs\n"), "{msg}");
}

#[test]
fn dirty_files_not_packaged_do_not_count() {
    let f = Fixture::new();
    f.package(
        "",
        "foo",
        "description = 'd'\nlicense = 'MIT'\nexclude = ['notes/']",
    );
    f.file(".gitignore", "/target\n").file("notes/a.md", "");
    f.git_init().commit_all();
    f.file("notes/a.md", "changed").file("notes/new.md", "");
    assert_eq!(cargo_dirty_error(&f.root(), &[]), None);
    let mut pkg = Pkg::single(f.root());
    pkg.exclude = &["notes/"];
    let rec = Recorder::new(false);
    let info = pkg.check(false, &f.root(), &rec).unwrap().unwrap();
    assert!(!info.dirty);
    assert_same_json(&pkg, &f.root(), "foo", &[]);
}

#[test]
fn verbose_warning_for_missing_repo_matches_cargo() {
    let f = Fixture::new();
    f.package("", "foo", "description = 'd'\nlicense = 'MIT'");
    let out = cargo(&f.root(), &["package", "--list", "-v"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rec = Recorder::new(true);
    Pkg::single(f.root()).check(false, &f.root(), &rec).unwrap();
    let w = rec.warnings();
    assert_eq!(w.len(), 1);
    assert!(
        stderr.contains(&format!("warning: {}", w[0])),
        "{stderr}\n{w:?}"
    );
}

#[cfg(unix)]
#[test]
fn package_root_spelled_through_a_symlink() {
    let f = Fixture::new();
    f.package("real/foo", "foo", "description = 'd'\nlicense = 'MIT'");
    f.file(".gitignore", "target/\n");
    f.symlink("real", "link");
    f.git_init().commit_all();
    let spelled = f.path("link/foo");
    let pkg = Pkg::single(spelled.clone());
    let json = assert_same_json(&pkg, &spelled, "foo", &[]).unwrap();
    assert!(json.contains("\"path_in_vcs\": \"real/foo\""), "{json}");
    f.file("real/foo/src/lib.rs", "// changed");
    assert_same_error(&pkg, &spelled, &[]);
}

#[test]
fn sibling_with_common_name_prefix_does_not_leak() {
    let f = Fixture::new();
    f.file(
        "Cargo.toml",
        "[workspace]\nmembers = ['foo', 'foobar']\nresolver = '2'\n",
    );
    f.file(".gitignore", "/target\nCargo.lock\n");
    f.package("foo", "foo", "description = 'd'\nlicense = 'MIT'");
    f.package("foobar", "foobar", "description = 'd'\nlicense = 'MIT'");
    f.git_init().commit_all();
    f.file("foobar/untracked.rs", "")
        .file("foobar/src/lib.rs", "// x");
    let foo = Pkg::member(f.path("foo"), &f.root());
    assert_eq!(cargo_dirty_error(&f.root(), &["-p", "foo"]), None);
    assert_eq!(
        cargo_list(&f.path("foo")),
        our_list(&f.path("foo"), &[], &[]).0
    );
    let rec = Recorder::new(false);
    assert!(!foo.check(false, &f.root(), &rec).unwrap().unwrap().dirty);
    let foobar = Pkg::member(f.path("foobar"), &f.root());
    assert_same_error(&foobar, &f.root(), &["-p", "foobar"]);
}
