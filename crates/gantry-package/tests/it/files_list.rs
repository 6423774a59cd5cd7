//! Differential tests: our file listing against `cargo package --list` (spec §2, §12.1).

use crate::files_common::*;

fn exclude_tree(f: &Fixture) {
    for p in [
        "file_root_1",
        "file_root_2",
        "file_root_3",
        "file_root_4",
        "file_root_5",
        "some_dir/file_deep_1",
        "some_dir/file_deep_2",
        "some_dir/file_deep_3",
        "some_dir/file_deep_4",
        "some_dir/file_deep_5",
        "some_dir/file_deep_6",
        "dir_root_1/some_dir/file",
        "dir_root_2/some_dir/file",
        "dir_root_3/some_dir/file",
        "dir_root_4/some_dir/file",
        "dir_root_5/some_dir/file",
        "some_dir/dir_deep_1/some_dir/file",
        "some_dir/dir_deep_2/some_dir/file",
        "some_dir/dir_deep_3/some_dir/file",
        "some_dir/dir_deep_4/some_dir/file",
        "some_dir/dir_deep_5/some_dir/file",
        "some_dir/dir_deep_6/file",
        "exclude_me",
        "a.txt",
        "src/a.txt",
        "important!",
        "!important",
        "b/x.rs",
    ] {
        f.file(p, "x");
    }
}

const EXCLUDES: &[&str] = &[
    "*.txt",
    "file_root_1",
    "/file_root_2",
    "file_root_3/",
    "file_root_4/*",
    "file_root_5/**",
    "file_deep_1",
    "/file_deep_2",
    "file_deep_3/",
    "file_deep_4/*",
    "file_deep_5/**",
    "dir_root_1",
    "/dir_root_2",
    "dir_root_3/",
    "dir_root_4/*",
    "dir_root_5/**",
    "dir_deep_1",
    "/dir_deep_2",
    "dir_deep_3/",
    "dir_deep_4/*",
    "dir_deep_5/**",
    "\\!important",
];

#[test]
fn exclude_forms_git() {
    let f = Fixture::new();
    f.package("", "foo", &format!("exclude = {}", toml_array(EXCLUDES)));
    exclude_tree(&f);
    f.git_init().commit_all();
    let list = assert_same_list(&f.root(), &[], EXCLUDES);
    assert!(list.contains(&"important!".to_owned()));
    assert!(!list.contains(&"!important".to_owned()));
}

#[test]
fn exclude_forms_walk() {
    let f = Fixture::new();
    f.package("", "foo", &format!("exclude = {}", toml_array(EXCLUDES)));
    exclude_tree(&f);
    f.file(".dotfile", "")
        .file("sub/.hidden/x", "")
        .file("sub/.env", "");
    assert_same_list(&f.root(), &[], EXCLUDES);
}

#[test]
fn include_with_dotfiles_and_exclude_ignored() {
    let f = Fixture::new();
    let inc = ["foo.txt", "**/*.rs", "Cargo.toml", ".dotfile"];
    f.package(
        "",
        "foo",
        &format!("include = {}\nexclude = ['*.txt']", toml_array(&inc)),
    );
    f.file("foo.txt", "")
        .file(".dotfile", "")
        .file("bar.txt", "")
        .file("src/main.rs", "");
    f.file("a/.hidden.rs", "").file("other", "");
    assert_same_list(&f.root(), &inc, &["*.txt"]);
    f.git_init().commit_all();
    assert_same_list(&f.root(), &inc, &["*.txt"]);
}

#[test]
fn include_gitignore_only_syntax_and_negation() {
    let f = Fixture::new();
    let inc = [
        "Cargo.toml",
        "src/abc**",
        "src/lib.rs",
        "docs/",
        "!docs/skip.md",
        "\\!lit",
    ];
    f.package("", "foo", &format!("include = {}", toml_array(&inc)));
    f.file("src/abcd.rs", "")
        .file("src/abc/x.rs", "")
        .file("src/xabc.rs", "");
    f.file("docs/a.md", "")
        .file("docs/skip.md", "")
        .file("docs/d/skip.md", "");
    f.file("!lit", "").file("lit", "");
    assert_same_list(&f.root(), &inc, &[]);
}

#[test]
fn gitignore_pattern_table() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["foo"], &[]),
        (&["/foo"], &[]),
        (&["foo/"], &[]),
        (&["[ab]"], &[]),
        (&["a/**/b"], &[]),
        (&["foo/**"], &[]),
        (&["**/foo/bar"], &[]),
        (&[], &["foo"]),
        (&[], &["/foo"]),
        (&[], &["foo/"]),
        (&[], &["*.rs", "!src/lib.rs"]),
        (&[], &["x?z", "[x-z]"]),
    ];
    for (inc, exc) in cases {
        let f = Fixture::new();
        let mut extra = String::new();
        let mut inc_v: Vec<&str> = inc.to_vec();
        if !inc.is_empty() {
            inc_v.push("Cargo.toml");
            extra += &format!("include = {}\n", toml_array(&inc_v));
        }
        if !exc.is_empty() {
            extra += &format!("exclude = {}\n", toml_array(exc));
        }
        f.package("", "foo", &extra);
        for p in [
            "foo",
            "a/foo",
            "a/c/foo",
            "x/foo/y",
            "bar/foo/z",
            "b",
            "c",
            "a/b",
            "a/x/b",
            "a/x/y/b",
            "q/foo/bar",
            "r/foo",
            "xyz",
            "x",
            "y",
            "src/other.rs",
            "m/b/n",
        ] {
            if !f.path(p).exists() {
                f.file(p, "");
            }
        }
        assert_same_list(&f.root(), &inc_v, exc);
    }
}

#[test]
fn nested_packages_and_target_dirs_walk() {
    let f = Fixture::new();
    f.package("", "foo", "");
    f.package("nested", "nested", "");
    f.file("nested/other.rs", "");
    f.file("deep/a/Cargo.toml", "")
        .file("deep/a/b.rs", "")
        .file("deep/c.rs", "");
    f.file("target/foo.txt", "")
        .file("data/target", "")
        .file("derp/target/foo.txt", "");
    f.file(".git_not/x", "");
    assert_same_list(&f.root(), &[], &[]);
}

#[test]
fn git_listing_target_nested_and_untracked() {
    let f = Fixture::new();
    f.package("", "foo", "");
    f.file(".gitignore", "ignored/\n*.log\n/target2\n");
    f.file("target/tracked.txt", "")
        .file("data/target", "")
        .file("derp/target/foo.txt", "");
    f.file(".env", "x").file("ignored/a", "").file("x.log", "");
    f.package("nested", "nested", "");
    f.git_init();
    f.git(&["add", "-A"]);
    f.git(&["add", "-f", "target/tracked.txt"]);
    f.git(&["commit", "-q", "-m", "c"]);
    f.file("target/untracked.txt", "")
        .file("untracked.rs", "")
        .file("Cargo.lock", "");
    f.file("target2/x", "").file("z/.hidden", "");
    f.file(".gitignore", "ignored/\n*.log\n/target2\ntarget/\n");
    let list = assert_same_list(&f.root(), &[], &[]);
    assert!(list.contains(&"target/tracked.txt".to_owned()), "{list:?}");
}

#[test]
fn finds_git_in_parent_with_both_gitignores() {
    let f = Fixture::new();
    f.file(".gitignore", "/foo/ignored-by-root\n");
    f.package("foo", "foo", "");
    f.file("foo/.gitignore", "ignored-by-pkg\n");
    f.file("foo/ignored-by-root", "")
        .file("foo/ignored-by-pkg", "")
        .file("foo/src/x.rs", "");
    f.file("other/file", "");
    f.git_init().commit_all();
    f.file("foo/untracked", "");
    assert_same_list(&f.path("foo"), &[], &[]);
}

#[test]
fn deleted_and_modified_tracked_files() {
    let f = Fixture::new();
    f.package("", "foo", "");
    f.file("src/a.rs", "")
        .file("src/b.rs", "")
        .file("src/c.rs", "");
    f.git_init().commit_all();
    std::fs::remove_file(f.path("src/a.rs")).unwrap();
    f.git(&["rm", "-q", "src/b.rs"]);
    f.file("src/c.rs", "changed");
    let list = assert_same_list(&f.root(), &[], &[]);
    assert_eq!(list.iter().filter(|p| *p == "src/c.rs").count(), 1);
}

#[test]
fn staged_but_uncommitted_manifest_uses_git_listing() {
    let f = Fixture::new();
    f.package("", "foo", "");
    f.file(".gitignore", "/target\n");
    f.git_init();
    assert_same_list(&f.root(), &[], &[]);
    f.git(&["add", "Cargo.toml"]);
    let list = assert_same_list(&f.root(), &[], &[]);
    assert!(list.contains(&".gitignore".to_owned()));
}

#[test]
fn exclude_applies_on_top_of_git() {
    let f = Fixture::new();
    f.package("", "foo", "exclude = ['*.txt', 'docs/']");
    f.file("a.txt", "")
        .file("docs/x.md", "")
        .file("keep.md", "");
    f.git_init().commit_all();
    assert_same_list(&f.root(), &[], &["*.txt", "docs/"]);
}

#[cfg(unix)]
#[test]
fn symlinks_walk_mode() {
    let f = Fixture::new();
    f.package("", "foo", "");
    f.file("real/file.txt", "").file("real/sub/x.rs", "");
    f.symlink("real", "symdir");
    f.symlink("real/file.txt", "symfile");
    f.symlink("does-not-exist", "broken");
    f.symlink("nowhere", "excluded_broken");
    f.symlink("..", "loop/up");
    std::fs::remove_file(f.path("Cargo.toml")).unwrap();
    f.package("", "foo", "exclude = ['excluded_broken']");
    let (ours, rec) = our_list(&f.root(), &[], &["excluded_broken"]);
    assert!(ours.contains(&"broken".to_owned()), "{ours:?}");
    assert!(!ours.contains(&"excluded_broken".to_owned()));
    assert!(ours.contains(&"symdir/file.txt".to_owned()));
    let warnings = rec.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("File system loop found: "),
        "{warnings:?}"
    );
    // cargo fails on the broken link when archiving but still lists it.
    let out = cargo(&f.root(), &["package", "--list", "--allow-dirty"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("File system loop found"), "{stderr}");
    let mut expected: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !matches!(
                *l,
                "Cargo.toml.orig" | "Cargo.lock" | ".cargo_vcs_info.json"
            )
        })
        .map(str::to_owned)
        .collect();
    sort_components(&mut expected);
    assert_eq!(ours, expected);
    let ours_warning = format!("warning: {}", warnings[0]);
    assert!(
        stderr.contains(&ours_warning),
        "{stderr}\nvs {ours_warning}"
    );
}

#[cfg(unix)]
#[test]
fn fifo_skipped() {
    let f = Fixture::new();
    f.package("", "foo", "");
    let status = std::process::Command::new("mkfifo")
        .arg(f.path("blocks-when-read"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_same_list(&f.root(), &[], &[]);
    f.git_init().commit_all();
    assert_same_list(&f.root(), &[], &[]);
}

#[cfg(unix)]
#[test]
fn symlinked_dirs_git_ignored_forms() {
    for committed in [true, false] {
        let f = Fixture::new();
        f.package("", "foo", "");
        f.file("src/main.rs", "");
        f.file(".gitignore", "/src1\n/src2/\nsrc3\nsrc4/\n");
        for n in ["src1", "src2", "src3", "src4", "src5"] {
            f.symlink("src", n);
        }
        f.git_init();
        if committed {
            f.git(&["add", "-A"]);
            f.git(&["add", "-f", "src1", "src2", "src3", "src4"]);
        } else {
            f.git(&["add", "Cargo.toml", "src", ".gitignore"]);
        }
        f.git(&["commit", "-q", "-m", "c"]);
        let list = assert_same_list(&f.root(), &[], &[]);
        assert!(list.contains(&"src5/lib.rs".to_owned()), "{list:?}");
    }
}

#[cfg(unix)]
#[test]
fn symlinks_git_mode() {
    let f = Fixture::new();
    f.package("", "foo", "exclude = ['excluded_broken']");
    f.file("real/file.txt", "");
    f.symlink("real", "symdir");
    f.symlink("real/file.txt", "symfile");
    f.symlink("nowhere", "excluded_broken");
    f.git_init().commit_all();
    f.symlink("does-not-exist", "broken");
    assert_same_list(&f.root(), &[], &["excluded_broken"]);
}

#[test]
fn submodules_and_symlink_to_submodule() {
    let sub = Fixture::new();
    sub.file("Makefile", "all:\n")
        .file("src/x.c", "")
        .file(".gitignore", "*.o\n");
    sub.git_init().commit_all();
    sub.file("built.o", "");
    let f = Fixture::new();
    f.package("", "foo", "");
    f.git_init();
    f.git(&[
        "submodule",
        "add",
        "-q",
        sub.root().to_str().unwrap(),
        "bar",
    ]);
    f.commit_all();
    f.file("bar/built.o", "").file("bar/new.txt", "");
    #[cfg(unix)]
    f.symlink("bar", "link-to-bar");
    let list = assert_same_list(&f.root(), &[], &[]);
    assert!(list.contains(&"bar/Makefile".to_owned()), "{list:?}");
}

#[test]
fn untracked_cargo_lock_is_not_listed() {
    let f = Fixture::new();
    f.package("", "foo", "");
    f.git_init().commit_all();
    f.file("Cargo.lock", "# junk\n");
    let (ours, _) = our_list(&f.root(), &[], &[]);
    assert!(!ours.contains(&"Cargo.lock".to_owned()));
    assert_same_list(&f.root(), &[], &[]);
}

#[cfg(unix)]
#[test]
fn package_root_spelled_through_a_symlink() {
    let f = Fixture::new();
    f.package("real/foo", "foo", "");
    f.file("real/foo/src/extra.rs", "")
        .file("real/foo/.gitignore", "ignored\n");
    f.file("real/foo/ignored", "");
    f.symlink("real", "link");
    let spelled = f.path("link/foo");
    let (ours, _) = our_list(&spelled, &[], &[]);
    assert_eq!(ours, cargo_list(&spelled));
    f.git_init().commit_all();
    let (ours, _) = our_list(&spelled, &[], &[]);
    assert_eq!(ours, cargo_list(&spelled));
    assert!(ours.contains(&".gitignore".to_owned()), "{ours:?}");
}

#[test]
fn gitignore_negate_in_git_repo() {
    let f = Fixture::new();
    let exc = ["*.rs", "!foo.rs", "\\!important"];
    f.package("", "foo", &format!("exclude = {}", toml_array(&exc)));
    f.file("foo.rs", "")
        .file("bar.rs", "")
        .file("src/foo.rs", "")
        .file("!important", "");
    f.file("docs/x.md", "");
    f.git_init().commit_all();
    assert_same_list(&f.root(), &[], &exc);
    let g = Fixture::new();
    let inc = ["Cargo.toml", "src/", "!src/foo.rs", "docs/**", "!docs/x.md"];
    g.package("", "foo", &format!("include = {}", toml_array(&inc)));
    g.file("src/foo.rs", "")
        .file("src/bar.rs", "")
        .file("docs/x.md", "")
        .file("docs/y.md", "");
    g.git_init().commit_all();
    assert_same_list(&g.root(), &inc, &[]);
}

#[test]
fn odd_patterns_behave_like_cargo() {
    for pat in ["a/[b", "", "#comment", "  ", "**", "src/*.rs\\ ", "/"] {
        let f = Fixture::new();
        f.package("", "foo", &format!("exclude = {}", toml_array(&[pat])));
        f.file("a/[b", "")
            .file("a/b", "")
            .file("src/x.rs", "")
            .file("#comment", "");
        assert_same_list(&f.root(), &[], &[pat]);
    }
}

#[cfg(unix)]
#[test]
fn loop_warning_in_git_mode_matches_cargo() {
    let f = Fixture::new();
    f.package("", "foo", "");
    f.file("real/a.txt", "");
    f.git_init().commit_all();
    f.symlink("real", "link");
    f.symlink("..", "real/up");
    let out = cargo(&f.root(), &["package", "--list", "--allow-dirty"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (ours, rec) = our_list(&f.root(), &[], &[]);
    let mut expected: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !matches!(
                *l,
                "Cargo.toml.orig" | "Cargo.lock" | ".cargo_vcs_info.json"
            )
        })
        .map(str::to_owned)
        .collect();
    sort_components(&mut expected);
    assert_eq!(ours, expected, "{stderr}");
    let cargo_warnings: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .filter(|l| l.starts_with("File system loop"))
        .collect();
    let mut ours_w = rec.warnings();
    ours_w.sort();
    let mut cargo_w: Vec<String> = cargo_warnings.iter().map(|s| s.to_string()).collect();
    cargo_w.sort();
    assert_eq!(ours_w, cargo_w);
}

#[test]
fn submodule_that_is_a_package_is_skipped() {
    let sub = Fixture::new();
    sub.package("", "inner", "");
    sub.git_init().commit_all();
    let f = Fixture::new();
    f.package("", "foo", "");
    f.git_init();
    f.git(&[
        "submodule",
        "add",
        "-q",
        sub.root().to_str().unwrap(),
        "inner",
    ]);
    f.commit_all();
    let list = assert_same_list(&f.root(), &[], &[]);
    assert!(!list.iter().any(|p| p.starts_with("inner/")), "{list:?}");
}
