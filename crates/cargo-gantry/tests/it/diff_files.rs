//! Differential tests: file selection without git (walk mode), include/exclude semantics,
//! symlinks, readme/license-file and build-script paths (spec §2, §12.1 "File selection",
//! "Symlinks", "readme / license-file").

mod support;
use support::*;

const NV: &[&str] = &["--no-verify", "--offline"];

fn with_package_keys(fx: &Fixture, keys: &str) {
    fx.file(
        "Cargo.toml",
        &manifest("foo", &format!("{METADATA}{keys}"), ""),
    );
    fx.file("src/lib.rs", "");
}

/// Both the archive and `--list` must agree.
fn same_archive_and_list(fx: &Fixture) -> Pair {
    Case::new(fx).args(&["--list", "--offline"]).assert_same();
    Case::new(fx).args(NV).assert_same()
}

#[test]
fn exclude_patterns_walk_mode() {
    // `exclude` (walk-mode variant; the git variant is in diff_git.rs)
    let fx = Fixture::new();
    with_package_keys(
        &fx,
        "exclude = [\"*.txt\", \"file_root_1\", \"/file_root_2\", \"file_root_3/\", \"file_root_4/*\", \
         \"file_root_5/**\", \"dir_root_1\", \"/dir_root_2\", \"dir_root_3/\", \"dir_root_4/*\", \
         \"dir_root_5/**\", \"dir_root_6/\", \"file_deep_1\", \"/file_deep_2\", \"file_deep_3/\", \
         \"file_deep_4/*\", \"dir_deep_1\", \"/dir_deep_2\", \"dir_deep_3/\", \"dir_deep_4/*\", \
         \"**/dir_deep_5\", \"src/abc**\"]\n",
    );
    for f in [
        "bar.txt",
        "src/bar.txt",
        "file_root_1",
        "file_root_2",
        "file_root_3",
        "file_root_4",
        "file_root_5",
        "dir_root_1/some_dir/file",
        "dir_root_2/some_dir/file",
        "dir_root_3/some_dir/file",
        "dir_root_4/some_dir/file",
        "dir_root_5/some_dir/file",
        "dir_root_6/file",
        "some_dir/file_deep_1",
        "some_dir/file_deep_2",
        "some_dir/file_deep_3",
        "some_dir/file_deep_4",
        "some_dir/dir_deep_1/some_dir/file",
        "some_dir/dir_deep_2/some_dir/file",
        "some_dir/dir_deep_3/some_dir/file",
        "some_dir/dir_deep_4/some_dir/file",
        "some_dir/dir_deep_5/some_dir/file",
        "src/abcdef.rs",
        "src/ab.rs",
        "keep/me.rs",
    ] {
        fx.file(f, "x\n");
    }
    same_archive_and_list(&fx).cargo_ok();
}

#[test]
fn include_with_dotfile_and_warning() {
    // `include`, `include_cargo_toml_implicit`, `package_include_ignore_only`
    let fx = Fixture::new();
    with_package_keys(
        &fx,
        "exclude = [\"*.txt\"]\ninclude = [\"foo.txt\", \"**/*.rs\", \".dotfile\", \"src/abc**\"]\n",
    );
    fx.file("foo.txt", "")
        .file(".dotfile", "")
        .file("src/abcxyz", "")
        .file("src/other.txt", "")
        .file("x/y.rs", "");
    same_archive_and_list(&fx)
        .cargo_ok()
        .stderr_contains("both package.include and package.exclude");
    let fx = Fixture::new();
    with_package_keys(&fx, "include = [\"src/lib.rs\"]\n");
    fx.file("Cargo.lock", "").file("other.rs", "");
    same_archive_and_list(&fx).cargo_ok();
}

#[test]
fn gitignore_pattern_table() {
    // `gitignore_patterns`, `gitignore_negate`
    let files = [
        "foo",
        "src/foo",
        "d/foo/x",
        "e/foo",
        "bar",
        "a/bar/c",
        "src/lib.rs",
        "ab",
        "b",
        "c",
        "x/y/z/w.rs",
        "!important",
        "src/foo.rs",
        "src/bar.rs",
        "notes.md",
        "deep/a/b/c/d",
    ];
    let patterns: &[&[&str]] = &[
        &["foo"],
        &["/foo"],
        &["foo/"],
        &["[ab]"],
        &["x/**/w.rs"],
        &["**/c/d"],
        &["*.md", "!notes.md"],
        &["\\!important"],
        &["src/", "!src/foo.rs"],
        &["deep/**"],
        &["?"],
        &["[a-b]*"],
    ];
    let mut checks = Checks::new();
    for pats in patterns {
        let list = pats
            .iter()
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        for key in ["exclude", "include"] {
            let fx = Fixture::new();
            with_package_keys(&fx, &format!("{key} = [{list}]\n"));
            for f in files {
                fx.file(f, "");
            }
            checks.run(Case::new(&fx).args(&["--list", "--offline"]));
            checks.run(Case::new(&fx).args(NV));
        }
    }
    checks.finish();
}

#[test]
fn dot_files_nested_packages_and_target_dirs() {
    // `exclude_dot_files_and_directories_by_default`, `ignore_nested`,
    // `include_files_called_target_project`
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file(".dotfile", "")
        .file(".dotdir/file", "")
        .file("src/.hidden.rs", "")
        .basic("nested", "foo")
        .basic("a/deeper", "deeper")
        .file("target/debug/junk", "")
        .file("data/target/keep", "")
        .file("derp/target/foo.txt", "")
        .file("src/target", "");
    same_archive_and_list(&fx).cargo_ok();
    let fx = Fixture::new();
    with_package_keys(&fx, "include = [\".dotfile\", \"src/**\", \".dotdir/\"]\n");
    fx.file(".dotfile", "")
        .file(".dotdir/x", "")
        .file("src/.hidden", "");
    same_archive_and_list(&fx).cargo_ok();
}

#[test]
fn symlink_to_file_and_dir() {
    // `package_symlink_to_dir`, `symlink_filesizes`; modes follow the target (§4.4)
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("real/file.txt", "in real dir\n")
        .exec("real/tool.sh", "#!/bin/sh\n")
        .symlink("real", "symdir")
        .symlink("real/file.txt", "link.txt")
        .symlink("real/tool.sh", "tool-link")
        .file("../outside/out.txt", "outside the package\n")
        .symlink("../outside/out.txt", "out-link.txt")
        .symlink("../outside", "outdir");
    same_archive_and_list(&fx).cargo_ok();
}

#[test]
fn broken_symlink_fails_and_excluded_one_is_ignored() {
    // `broken_symlink`, `broken_but_excluded_symlink`
    let fx = Fixture::new();
    fx.basic("", "foo").symlink("nowhere", "src/foo.rs");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("failed to open for archiving");
    Case::new(&fx).args(&["--list", "--offline"]).assert_same();
    let fx = Fixture::new();
    with_package_keys(&fx, "exclude = [\"src/foo.rs\"]\n");
    fx.symlink("nowhere", "src/foo.rs");
    same_archive_and_list(&fx).cargo_ok();
}

#[test]
fn filesystem_loop_warning() {
    // `filesystem_loop`
    let fx = Fixture::new();
    fx.basic("", "foo")
        .symlink("..", "a/b/c/d/foo")
        .symlink("../..", "a/b/loop");
    same_archive_and_list(&fx)
        .cargo_ok()
        .stderr_contains("File system loop found");
}

#[test]
fn symlink_manifest_path() {
    // `symlink_manifest_path`
    let fx = Fixture::new();
    fx.basic("foo-real", "foo")
        .symlink("foo-real", "foo-link")
        .dir("elsewhere");
    let mp = fx.path("foo-link/Cargo.toml");
    Case::new(&fx)
        .cwd("elsewhere")
        .args(NV)
        .arg("--manifest-path")
        .arg(mp.to_str().unwrap())
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .cwd("foo-link")
        .args(NV)
        .assert_same()
        .cargo_ok();
}

#[test]
fn readme_errors() {
    // `empty_readme_path`, `invalid_readme_path`, `readme_or_license_file_is_dir`,
    // `invalid_license_file_path`
    let mut checks = Checks::new();
    for keys in [
        "readme = \"\"\n",
        "readme = \"DOES-NOT-EXIST\"\n",
        "readme = \"./docs\"\nlicense-file = \"./docs\"\n",
        "license-file = \"LICENSE\"\n",
        "license-file = \"/nonexistent/LICENSE\"\n",
    ] {
        let fx = Fixture::new();
        fx.file("Cargo.toml", &format!("[package]\nname = \"foo\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\n{keys}"))
            .file("src/lib.rs", "")
            .dir("docs");
        if let Some(p) = checks.run(Case::new(&fx).args(NV)) {
            p.cargo_fails_with("does not appear to exist");
        }
        checks.run(Case::new(&fx).args(&["--list", "--offline"]));
    }
    checks.finish();
}

#[test]
fn readme_and_license_resolution() {
    // `license_file_implicit_include`, `relative_license_included`,
    // `relative_license_include_collision`, `workspace_noconflict_readme`, `workspace_conflict_readme`
    let fx = Fixture::new();
    fx.file("LICENSE", "top license\n")
        .file("README.md", "top readme\n");
    fx.file(
        "a/Cargo.toml",
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\nlicense-file = \"../LICENSE\"\nreadme = \"../README.md\"\ninclude = [\"src/\"]\n",
    )
    .file("a/src/lib.rs", "");
    fx.file(
        "b/Cargo.toml",
        "[package]\nname = \"b\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\nlicense-file = \"../LICENSE\"\nreadme = \"../README.md\"\n",
    )
    .file("b/src/lib.rs", "")
    .file("b/LICENSE", "inner license\n")
    .file("b/README.md", "inner readme\n");
    fx.file(
        "c/Cargo.toml",
        "[package]\nname = \"c\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\nlicense-file = \"LICENSE-X\"\nreadme = \"docs/README\"\ninclude = [\"src/\"]\n",
    )
    .file("c/src/lib.rs", "")
    .file("c/LICENSE-X", "x\n")
    .file("c/docs/README", "r\n");
    for dir in ["a", "b", "c"] {
        Case::new(&fx)
            .cwd(dir)
            .args(&["--list", "--offline"])
            .assert_same();
        Case::new(&fx).cwd(dir).args(NV).assert_same().cargo_ok();
    }
}

#[test]
fn readme_auto_detection() {
    for name in ["README.md", "README.txt", "README"] {
        let fx = Fixture::new();
        fx.basic("", "foo").file(name, "hi\n");
        same_archive_and_list(&fx).cargo_ok();
    }
    let fx = Fixture::new();
    with_package_keys(&fx, "readme = false\n");
    fx.file("README.md", "hi\n");
    same_archive_and_list(&fx).cargo_ok();
}

#[test]
fn build_script_outside_package_root() {
    // `build_script_outside_pkg_root`
    for build in ["build.rs", "../outside_build.rs", "custom/missing.rs"] {
        let fx = Fixture::new();
        fx.file("outside_build.rs", "fn main() {}\n");
        fx.file(
            "pkg/Cargo.toml",
            &manifest("foo", &format!("{METADATA}build = {build:?}\n"), ""),
        )
        .file("pkg/src/lib.rs", "");
        Case::new(&fx)
            .cwd("pkg")
            .args(NV)
            .assert_same()
            .cargo_fails_with("build script");
        Case::new(&fx)
            .cwd("pkg")
            .args(&["--list", "--offline"])
            .assert_same();
    }
}

#[test]
fn cargo_lock_on_disk_is_never_copied() {
    let fx = Fixture::new();
    with_package_keys(&fx, "include = [\"Cargo.lock\", \"src/\"]\n");
    fx.file("Cargo.lock", "garbage that is never archived\n");
    // The garbage lock makes cargo fail to parse it: both tools must agree on that too.
    Case::new(&fx).args(NV).assert_same();
    Case::new(&fx).args(&["--list", "--offline"]).assert_same();
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--exclude-lockfile"])
        .assert_same();
}
