//! Differential tests with git: git-based listing, dirty checks, `.cargo_vcs_info.json`,
//! submodules and symlinks inside repos (spec §2.4, §5, §12.1 "Dirty checks / VCS info",
//! "Symlinks and submodules").

mod support;
use support::*;

const NV: &[&str] = &["--no-verify", "--offline"];
const NVD: &[&str] = &["--no-verify", "--offline", "--allow-dirty"];

fn same_archive_and_list(fx: &Fixture, cwd: &str, args: &[&str]) -> Pair {
    Case::new(fx)
        .cwd(cwd)
        .args(&["--list", "--offline"])
        .args(&args[2..])
        .assert_same();
    Case::new(fx).cwd(cwd).args(args).assert_same()
}

#[test]
fn clean_repo_vcs_info_and_verbose() {
    // `package_verbose`: sha1 and path_in_vcs "" and "a/a"
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file(".gitignore", "/target\n")
        .file("a/a/Cargo.toml", &manifest("a", METADATA, ""))
        .file("a/a/src/lib.rs", "")
        .git_commit_all("");
    let p = Case::new(&fx)
        .args(&["--no-verify", "--offline", "-v"])
        .assert_same();
    p.cargo_ok().entries_are(
        "foo-0.1.0.crate",
        &[
            ".cargo_vcs_info.json",
            ".gitignore",
            "Cargo.lock",
            "Cargo.toml",
            "Cargo.toml.orig",
            "src/lib.rs",
        ],
    );
    let info = String::from_utf8(
        p.cargo
            .entry("foo-0.1.0.crate", "foo-0.1.0/.cargo_vcs_info.json"),
    )
    .unwrap();
    assert!(info.contains(&fx.head("")), "{info}");
    Case::new(&fx).cwd("a/a").args(NV).assert_same().cargo_ok();
    Case::new(&fx)
        .cwd("a/a")
        .args(&["--list", "--offline"])
        .assert_same();
}

#[test]
fn exclude_patterns_git_mode() {
    // `exclude` (20 pattern forms in a git repo)
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            &format!(
                "{METADATA}exclude = [\"*.txt\", \"file_root_1\", \"/file_root_2\", \"file_root_3/\", \"file_root_4/*\", \
                 \"file_root_5/**\", \"dir_root_1\", \"/dir_root_2\", \"dir_root_3/\", \"dir_root_4/*\", \
                 \"dir_root_5/**\", \"file_deep_1\", \"/file_deep_2\", \"file_deep_3/\", \"file_deep_4/*\", \
                 \"dir_deep_1\", \"/dir_deep_2\", \"dir_deep_3/\", \"dir_deep_4/*\", \"dir_deep_5/**\"]\n"
            ),
            "",
        ),
    )
    .file("src/main.rs", "fn main() {}\n");
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
        "some_dir/file_deep_1",
        "some_dir/file_deep_2",
        "some_dir/file_deep_3",
        "some_dir/file_deep_4",
        "some_dir/dir_deep_1/some_dir/file",
        "some_dir/dir_deep_2/some_dir/file",
        "some_dir/dir_deep_3/some_dir/file",
        "some_dir/dir_deep_4/some_dir/file",
        "some_dir/dir_deep_5/some_dir/file",
        ".env",
    ] {
        fx.file(f, "x\n");
    }
    fx.git_commit_all("");
    same_archive_and_list(&fx, "", NV).cargo_ok();
}

#[test]
fn gitignore_target_nested_and_untracked() {
    // `include_files_called_target_git`, `finds_git_in_parent`, `ignore_nested`, `deleted_git_working_tree`,
    // `no_duplicates_from_modified_tracked_files`
    let fx = Fixture::new();
    fx.file(".gitignore", "*.log\n")
        .basic("pkg", "foo")
        .file("pkg/.gitignore", "ignored/\n")
        .file("pkg/target/foo.txt", "tracked in target\n")
        .file("pkg/data/target/x", "")
        .file("pkg/src/deleted.rs", "")
        .file("pkg/src/deleted_staged.rs", "")
        .file("pkg/src/modified.rs", "v1\n")
        .basic("pkg/nested", "nested")
        .file("pkg/.env", "TRACKED=1\n")
        .git_commit_all("");
    fx.file("pkg/target/untracked.txt", "")
        .file("pkg/.gitignore", "ignored/\ntarget/\n")
        .file("pkg/ignored/x", "")
        .file("pkg/x.log", "")
        .file("pkg/untracked.rs", "")
        .file("pkg/src/modified.rs", "v2\n")
        .remove("pkg/src/deleted.rs");
    fx.git("", &["rm", "-q", "pkg/src/deleted_staged.rs"]);
    same_archive_and_list(&fx, "pkg", NVD).cargo_ok();
    // dirty without --allow-dirty: error listing files relative to cwd
    Case::new(&fx)
        .cwd("pkg")
        .args(NV)
        .assert_same()
        .cargo_fails_with("contain changes that were not yet committed");
    Case::new(&fx)
        .cwd("pkg/src")
        .args(NV)
        .assert_same()
        .cargo_fails_with("../untracked.rs");
}

#[test]
fn dirty_manifest_and_clean_allow_dirty() {
    // `do_not_package_if_repository_is_dirty`, `issue_13695_allow_dirty_vcs_info`,
    // `issue_13695_allowing_dirty_vcs_info_but_clean`
    let fx = Fixture::new();
    fx.basic("", "foo").git_commit_all("");
    Case::new(&fx).args(NVD).assert_same().cargo_ok();
    fx.file("Cargo.toml", &manifest("foo", METADATA, "# change\n"));
    Case::new(&fx)
        .cwd("src")
        .args(NV)
        .assert_same()
        .cargo_fails_with("../Cargo.toml");
    Case::new(&fx).args(NVD).assert_same().cargo_ok();
    Case::new(&fx)
        .args(&["--list", "--offline", "--allow-dirty"])
        .assert_same();
    Case::new(&fx).args(&["--list", "--offline"]).assert_same();
}

#[test]
fn dirty_ignored_file_that_is_included() {
    // `dirty_ignored`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            &format!("{METADATA}include = [\"src\", \"build\"]\n"),
            "",
        ),
    )
    .file("src/lib.rs", "")
    .file(".gitignore", "build\n")
    .git_commit_all("");
    fx.file("build/mod.rs", "");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("build/mod.rs");
    Case::new(&fx).args(NVD).assert_same().cargo_ok();
    fx.git("", &["add", "-f", "build/mod.rs"]).to_string();
    fx.git_commit("", "add build");
    Case::new(&fx).args(NV).assert_same().cargo_ok();
}

#[test]
fn workspace_members_dirty_independently() {
    // `vcs_status_check_for_each_workspace_member`,
    // `dirty_untracked_file_when_packaged_from_workspace_member`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"isengard\", \"mordor\"]\nresolver = \"2\"\n",
    )
    .basic("isengard", "isengard")
    .basic("mordor", "mordor")
    .git_commit_all("");
    fx.file("mordor/src/lib.rs", "// changed\n")
        .file("mordor/untracked.txt", "");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--workspace", "--allow-dirty"])
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--workspace"])
        .assert_same()
        .cargo_fails_with("mordor");
    Case::new(&fx)
        .cwd("mordor")
        .args(NV)
        .assert_same()
        .cargo_fails_with("untracked.txt");
    Case::new(&fx)
        .cwd("isengard")
        .args(NV)
        .fresh_target()
        .assert_same()
        .cargo_ok();
}

#[test]
fn dirty_files_outside_package_root() {
    // `dirty_file_outside_pkg_root_considered_dirty`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"isengard\"]\nresolver = \"2\"\n[workspace.package]\nedition = \"2021\"\n",
    )
    .file("LICENSE", "orig\n")
    .file("README.md", "orig\n")
    .file("original-dir/file", "orig\n")
    .file("original-file", "orig\n")
    .file(
        "isengard/Cargo.toml",
        "[package]\nname = \"isengard\"\nversion = \"0.1.0\"\nedition.workspace = true\ndescription = \"d\"\nlicense-file = \"../LICENSE\"\nreadme = \"../README.md\"\n",
    )
    .file("isengard/src/lib.rs", "")
    .symlink("../original-dir", "isengard/symlink-dir")
    .symlink("../original-file", "isengard/symlink-file")
    .git_commit_all("");
    for f in ["LICENSE", "README.md", "original-dir/file", "original-file"] {
        fx.file(f, "changed\n");
    }
    fx.file("Cargo.toml", "[workspace]\nmembers = [\"isengard\"]\nresolver = \"2\"\n[workspace.package]\nedition = \"2021\"\n# changed\n");
    // Note: the installed cargo did not report these as dirty in this layout (spec §5.2 (3) says it
    // should); the harness only demands that gantry agrees with cargo.
    Case::new(&fx).cwd("isengard").args(NV).assert_same();
    Case::new(&fx)
        .cwd("isengard")
        .args(NVD)
        .assert_same()
        .cargo_ok();
}

#[test]
fn unborn_head_and_unstaged_manifest() {
    // `issue_14354_allowing_dirty_bare_commit`, §2.1 consequences
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file(".gitignore", "/target\n")
        .git_init("");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("not yet committed");
    same_archive_and_list(&fx, "", NVD).cargo_ok();
    fx.git("", &["add", "Cargo.toml"]);
    same_archive_and_list(&fx, "", NVD).cargo_ok();
    fx.git_add_all("");
    same_archive_and_list(&fx, "", NVD).cargo_ok();
}

#[test]
fn ignored_manifest_skips_vcs() {
    let fx = Fixture::new();
    fx.file(".gitignore", "pkg/\n")
        .basic("pkg", "foo")
        .git_commit_all("");
    same_archive_and_list(&fx, "pkg", NV).cargo_ok();
}

#[test]
fn include_bypasses_git_listing() {
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            &format!("{METADATA}include = [\"src/\", \"*.md\", \".gitignore\"]\n"),
            "",
        ),
    )
    .file("src/lib.rs", "")
    .file(".gitignore", "*.md\n")
    .file("README.md", "ignored by git, included by include\n")
    .git_commit_all("");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("README.md");
    same_archive_and_list(&fx, "", NVD).cargo_ok();
}

#[test]
fn submodule_files_are_packaged() {
    // `package_git_submodule`, `package_symlink_to_submodule`,
    // `dirty_file_outside_pkg_root_inside_submodule`
    let fx = Fixture::new();
    fx.file("subrepo/Makefile", "all:\n")
        .file("subrepo/dir/file.txt", "x\n")
        .git_commit_all("subrepo");
    fx.basic("main", "foo").git_commit_all("main");
    fx.submodule_add("main", "subrepo", "bar");
    fx.symlink("bar", "main/to-bar");
    fx.git_commit_all("main");
    same_archive_and_list(&fx, "main", NV).cargo_ok();
    fx.file("main/bar/Makefile", "changed:\n");
    Case::new(&fx)
        .cwd("main")
        .args(NV)
        .assert_same()
        .cargo_fails_with("bar/Makefile");
    same_archive_and_list(&fx, "main", NVD).cargo_ok();
}

#[test]
fn submodule_not_yet_committed_in_superproject_is_dirty() {
    // `git::dirty_submodule`: a submodule added (or moved to another commit) and staged, but not
    // committed in the superproject, makes all its files dirty, even ones committed in the
    // submodule itself.
    let fx = Fixture::new();
    fx.file("subrepo/lib.rs", "pub fn f() {}\n")
        .git_commit_all("subrepo");
    fx.file("main/Cargo.toml", &manifest("foo", METADATA, ""))
        .file("main/.gitignore", "/target\n")
        .git_commit_all("main");
    fx.submodule_add("main", "subrepo", "src");
    Case::new(&fx)
        .cwd("main")
        .args(NV)
        .assert_same()
        .cargo_fails_with("2 files in the working directory contain changes that were not yet committed into git:\n\n.gitmodules\nsrc/lib.rs\n");
    fx.git_commit("main", "add the submodule");
    same_archive_and_list(&fx, "main", NV).cargo_ok();
    // A new commit in the submodule, staged in the superproject only.
    fx.file("main/src/more.rs", "").git_commit_all("main/src");
    fx.git("main", &["add", "src"]);
    Case::new(&fx)
        .cwd("main")
        .args(NV)
        .assert_same()
        .cargo_fails_with("2 files in the working directory contain changes that were not yet committed into git:\n\nsrc/lib.rs\nsrc/more.rs\n");
    fx.git_commit("main", "move the submodule");
    same_archive_and_list(&fx, "main", NV).cargo_ok();
}

#[test]
fn gitignored_symlinked_dirs() {
    // `gitignore_symlink_dir`, `gitignore_symlink_dir_dirty`
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("src/file.rs", "")
        .symlink("src", "src1")
        .symlink("src", "src2")
        .symlink("src", "src3")
        .symlink("src", "src4")
        .file(".gitignore", "/src1\n/src2/\nsrc3\nsrc4/\n")
        .git_commit_all("");
    same_archive_and_list(&fx, "", NV).cargo_ok();
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file(".gitignore", "/src1\n/src2/\nsrc3\nsrc4/\n")
        .git_commit_all("");
    for l in ["src1", "src2", "src3", "src4"] {
        fx.symlink("src", l);
    }
    same_archive_and_list(&fx, "", NV).cargo_ok();
}

#[test]
fn symlinks_in_git_repo() {
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("real/file.txt", "hello\n")
        .symlink("real", "symdir")
        .symlink("real/file.txt", "link.txt")
        .exec("script.sh", "#!/bin/sh\n")
        .git_commit_all("");
    same_archive_and_list(&fx, "", NV).cargo_ok();
}

#[test]
fn core_symlinks_false() {
    // `git_core_symlinks_false`: links checked out as plain text files.
    let fx = Fixture::new();
    fx.basic("src-repo", "foo")
        .file("src-repo/real.txt", "real\n")
        .symlink("real.txt", "src-repo/link.txt")
        .git_commit_all("src-repo");
    let out = git_cmd(&fx.root())
        .args([
            "-c",
            "core.symlinks=false",
            "clone",
            "-q",
            "src-repo",
            "clone",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    fx.git("clone", &["config", "core.symlinks", "false"]);
    same_archive_and_list(&fx, "clone", NV)
        .cargo_ok()
        .stderr_contains("found symbolic links");
}

#[test]
fn fifo_and_long_names_in_git() {
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file(&format!("src/{}/{}.rs", "x".repeat(70), "y".repeat(70)), "")
        .git_commit_all("");
    fx.fifo("fifo");
    same_archive_and_list(&fx, "", NVD).cargo_ok();
}

#[test]
fn walk_mode_when_repo_does_not_track_package() {
    // Repo above the package that tracks nothing of it: walk mode plus dirty check.
    let fx = Fixture::new();
    fx.file("README", "top\n").git_commit_all("");
    fx.basic("pkg", "foo").file("pkg/.hidden", "");
    Case::new(&fx)
        .cwd("pkg")
        .args(NV)
        .assert_same()
        .cargo_fails_with("not yet committed");
    same_archive_and_list(&fx, "pkg", NVD).cargo_ok();
}

#[test]
fn symlink_into_changed_submodule_file() {
    // `dirty_file_outside_pkg_root_inside_submodule`
    let fx = Fixture::new();
    fx.file("subrepo/file.txt", "v1\n")
        .git_commit_all("subrepo");
    fx.file("main/.gitignore", "/target\n")
        .git_commit_all("main");
    fx.submodule_add("main", "subrepo", "sub");
    fx.basic("main/pkg", "foo")
        .symlink("../sub/file.txt", "main/pkg/link.txt");
    fx.git_commit_all("main");
    same_archive_and_list(&fx, "main/pkg", NV).cargo_ok();
    fx.file("main/sub/file.txt", "v2\n");
    Case::new(&fx).cwd("main/pkg").args(NV).assert_same();
    same_archive_and_list(&fx, "main/pkg", NVD).cargo_ok();
}
