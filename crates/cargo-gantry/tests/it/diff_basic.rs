//! Differential tests: basics, status output, reserved and weird file names (spec §12.1
//! "Basics / status output" and "Reserved names / collisions / weird files").

mod support;
use support::*;

const NV: &[&str] = &["--no-verify", "--offline"];

#[test]
fn simple_bin_with_exclude() {
    // package.rs `simple`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest("foo", &format!("{METADATA}exclude = [\"*.txt\"]\n"), ""),
    )
    .file("src/main.rs", "fn main() { println!(\"hello\"); }\n")
    .file("src/bar.txt", "excluded\n");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_ok()
        .entries_are(
            "foo-0.1.0.crate",
            &["Cargo.lock", "Cargo.toml", "Cargo.toml.orig", "src/main.rs"],
        );
    Case::new(&fx)
        .args(&["--list", "--offline"])
        .assert_same()
        .stdout_contains("src/main.rs");
    Case::new(&fx).args(&["-l", "--offline"]).assert_same();
}

#[test]
fn metadata_warnings() {
    // package.rs `metadata_warning`: three manifests with different missing groups, then none.
    for extra in [
        "",
        "license = \"MIT\"\n",
        "license = \"MIT\"\ndescription = \"foo\"\n",
        "license = \"\"\ndescription = \"\"\nhomepage = \"\"\n",
        METADATA,
    ] {
        let fx = Fixture::new();
        fx.package("", "foo", extra, "");
        Case::new(&fx).args(NV).assert_same().cargo_ok();
    }
    // `empty_license_file_path`: metadata warning plus the license-file error.
    let fx = Fixture::new();
    fx.package("", "foo", "license-file = \"\"\n", "");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("license-file `` does not appear to exist");
    let fx = Fixture::new();
    fx.package("", "foo", "", "");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--no-metadata"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn verbose_archiving_lines() {
    // package.rs `package_verbose` (walk mode; the git variant is in diff_git.rs)
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("src/a.rs", "")
        .file("README.md", "hi\n");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-v"])
        .assert_same()
        .stderr_contains("Archiving");
}

#[test]
fn versionless_package() {
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[package]\nname = \"foo\"\nedition = \"2021\"\ndescription = \"d\"\n",
    )
    .file("src/main.rs", "fn main() {}\n");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_ok()
        .crates_are(&["foo-0.0.0.crate"]);
}

#[test]
fn prerelease_and_build_metadata_version() {
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &format!("[package]\nname = \"strs\"\nversion = \"0.1.0-alpha.1+build.5\"\nedition = \"2021\"\n{METADATA}"),
    )
    .file("src/lib.rs", "");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_ok()
        .crates_are(&["strs-0.1.0-alpha.1+build.5.crate"]);
}

#[test]
fn lib_with_bin_and_two_kinds_of_deps() {
    // `package_lib_with_bin`, `package_two_kinds_of_deps` (path deps within a workspace)
    let fx = Fixture::new();
    fx.file("Cargo.toml", "[workspace]\nmembers = [\"foo\", \"other\", \"other1\"]\nresolver = \"2\"\n")
        .package(
            "foo",
            "foo",
            METADATA,
            "[dependencies]\nother = { path = \"../other\", version = \"0.1.0\" }\n\n[dependencies.other1]\npath = \"../other1\"\nversion = \"0.1\"\n",
        )
        .file("foo/src/main.rs", "fn main() { foo::f(); }\n")
        .basic("other", "other")
        .basic("other1", "other1");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--workspace"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn repackage_on_source_change_and_smaller_crate() {
    // `repackage_on_source_change`, `repackage_smaller_crate_has_trailing_garbage`,
    // `package_dir_not_excluded_from_backups`
    let fx = Fixture::new();
    fx.basic("", "foo")
        .bytes("src/big.rs", &vec![b'/'; 300_000]);
    Case::new(&fx).args(NV).assert_same().cargo_ok();
    fx.remove("src/big.rs").file("src/foo.rs", "// new\n");
    let pair = Case::new(&fx).args(NV).assert_same();
    pair.cargo_ok();
    assert!(pair.cargo.target_dir.join("CACHEDIR.TAG").exists());
    assert!(
        pair.gantry.target_dir.join("CACHEDIR.TAG").exists(),
        "gantry must write <target-dir>/CACHEDIR.TAG"
    );
}

#[test]
fn exclude_lockfile() {
    let fx = Fixture::new();
    fx.basic("", "foo");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok()
        .entries_are(
            "foo-0.1.0.crate",
            &["Cargo.toml", "Cargo.toml.orig", "src/lib.rs"],
        );
    Case::new(&fx)
        .args(&["--list", "--offline", "--exclude-lockfile"])
        .assert_same();
}

#[test]
fn existing_lockfile_is_regenerated_and_version_kept() {
    // §4.3: a v3 workspace lock stays v3, extra comment lines are kept, the on-disk lock is not copied.
    let fx = Fixture::new();
    fx.basic("", "foo").file(
        "Cargo.lock",
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\n# extra comment\nversion = 3\n\n[[package]]\nname = \"foo\"\nversion = \"0.1.0\"\n",
    );
    Case::new(&fx).args(NV).assert_same().cargo_ok();
}

#[test]
fn lockfile_version_from_rust_version() {
    for rv in ["1.56", "1.82", "1.83", "1.95"] {
        let fx = Fixture::new();
        fx.package(
            "",
            "foo",
            &format!("{METADATA}rust-version = \"{rv}\"\n"),
            "",
        );
        Case::new(&fx).args(NV).assert_same().cargo_ok();
    }
}

#[test]
fn package_not_found_and_direct_invocation() {
    // `package_in_workspace_not_found`, plus the `cargo-gantry package` spelling.
    let fx = Fixture::new();
    fx.file("Cargo.toml", "[workspace]\nmembers = [\"foo\"]\n")
        .basic("foo", "foo");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "doesnt-exist"])
        .assert_same()
        .cargo_fails_with("did not match any packages");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "fo"])
        .assert_same();
    // Named next to `--workspace` (cargo's `nonexistence_package_together_with_workspace`).
    for spec in ["nonexistence", "nonpattern*"] {
        Case::new(&fx)
            .args(&["--no-verify", "--offline", "--workspace", "-p", spec])
            .assert_same()
            .cargo_fails_with("not found in workspace");
    }
    Case::new(&fx)
        .args(NV)
        .invocation(Invocation::Direct)
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(NV)
        .invocation(Invocation::ViaCargo)
        .fresh_target()
        .assert_same()
        .cargo_ok();
}

#[test]
fn bad_flags() {
    let fx = Fixture::new();
    fx.basic("", "foo");
    Case::new(&fx)
        .args(&["--message-format", "json", "--list", "--offline"])
        .assert_same();
    Case::new(&fx)
        .args(&["--registry", "bad name", "--offline"])
        .assert_same();
    Case::new(&fx)
        .args(&["--manifest-path", "nope/Cargo.toml", "--offline"])
        .assert_same();
}

#[test]
fn bad_manifest_paths() {
    // cargo's `bad_manifest_path` cases, plus a file that is not a manifest and a cargo script.
    let fx = Fixture::new();
    fx.basic("foo", "foo")
        .dir("empty")
        .file("notes.txt", "")
        .file("script.rs", "fn main() {}\n");
    for path in [
        "foo",
        "foo/bar",
        "foo/bar/baz",
        "foo/bar/baz/Cargo.toml",
        "empty",
        "notes.txt",
        "script.rs",
        "foo/../foo/Cargo.toml",
    ] {
        Case::new(&fx)
            .args(&["--no-verify", "--offline", "--manifest-path", path])
            .assert_same();
    }
}

#[test]
fn manifest_path_from_elsewhere() {
    let fx = Fixture::new();
    fx.basic("pkg", "foo").dir("elsewhere");
    let mp = fx.path("pkg/Cargo.toml");
    Case::new(&fx)
        .cwd("elsewhere")
        .args(NV)
        .arg("--manifest-path")
        .arg(mp.to_str().unwrap())
        .assert_same()
        .cargo_ok();
}

#[test]
fn vcs_info_collision() {
    let fx = Fixture::new();
    fx.basic("", "foo").file(".cargo_vcs_info.json", "{}");
    Case::new(&fx)
        .args(&["--no-verify", "--offline"])
        .assert_same()
        .cargo_ok(); // walk mode drops dotfiles, so no collision
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            &format!("{METADATA}include = [\"src/\", \".cargo_vcs_info.json\"]\n"),
            "",
        ),
    );
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("reserved file name");
}

#[test]
fn orig_file_collision() {
    let fx = Fixture::new();
    fx.basic("", "foo").file("Cargo.toml.orig", "oops\n");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("invalid inclusion of reserved file name Cargo.toml.orig");
    Case::new(&fx).args(&["--list", "--offline"]).assert_same();
}

#[test]
fn weird_characters() {
    // `package_weird_characters`
    let mut checks = Checks::new();
    for name in [
        "src/:foo",
        "src/a<b",
        "src/q?",
        "src/star*",
        "src/back\\slash",
        "src/pi|pe",
        "src/quo\"te",
    ] {
        let fx = Fixture::new();
        fx.basic("", "foo").file(name, "");
        if let Some(p) = checks.run(Case::new(&fx).args(NV)) {
            p.cargo_fails_with("special character");
        }
        checks.run(Case::new(&fx).args(&["--list", "--offline"]));
    }
    checks.finish();
}

#[test]
fn non_utf8_file_name() {
    use std::os::unix::ffi::OsStrExt;
    let fx = Fixture::new();
    fx.basic("", "foo");
    let p = fx
        .path("src")
        .join(std::ffi::OsStr::from_bytes(b"bad\xff.rs"));
    if std::fs::write(&p, "").is_err() {
        return; // file system refuses non-UTF-8 names
    }
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("unicode filename");
    let fx = Fixture::new();
    fx.basic("", "foo");
    let d = fx.path("src").join(std::ffi::OsStr::from_bytes(b"d\xfe"));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("x.rs"), "").unwrap();
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("non-utf8 path");
}

#[test]
fn restricted_windows_names() {
    // `package_restricted_windows`
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("src/con.rs", "")
        .file("src/aux/mod.rs", "")
        .file("src/COM1.txt.bak", "")
        .file("src/lpt9", "")
        .file("src/nul.d/x.rs", "")
        .file("src/console.rs", "");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_ok()
        .stderr_contains("reserved Windows filename");
}

#[test]
fn mixed_case_manifest() {
    // `mixed_case`
    let fx = Fixture::new();
    fx.basic("", "foo").file("cargo.toml", "[package]\n");
    Case::new(&fx).args(NV).assert_same().cargo_ok();
    Case::new(&fx).args(&["--list", "--offline"]).assert_same();
}

#[test]
fn long_file_names() {
    // `long_file_names`: >100-byte entry paths use GNU LongLink; exactly 100 bytes does not.
    let fx = Fixture::new();
    fx.basic("", "foo");
    let prefix = "foo-0.1.0/src/".len();
    let exact = format!("src/{}", "a".repeat(100 - prefix));
    let long = format!("src/{}.txt", "b".repeat(180));
    let deep = format!("src/{}/{}/x.rs", "c".repeat(60), "d".repeat(60));
    let over = format!("src/{}", "o".repeat(101 - prefix));
    fx.file(&over, "one over\n");
    fx.file(&exact, "exact\n")
        .file(&long, "long\n")
        .file(&deep, "deep\n");
    Case::new(&fx).args(NV).assert_same().cargo_ok();
    Case::new(&fx).args(&["--list", "--offline"]).assert_same();
}

#[test]
fn fifo_is_skipped() {
    // `simple_with_fifo`
    let fx = Fixture::new();
    fx.basic("", "foo").fifo("blocked");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_ok()
        .entries_are(
            "foo-0.1.0.crate",
            &["Cargo.lock", "Cargo.toml", "Cargo.toml.orig", "src/lib.rs"],
        );
}

#[test]
fn executables_modes_and_sizes() {
    // `reproducible_output`, `basic_filesizes`, `larger_filesizes`; §4.4 modes.
    let fx = Fixture::new();
    fx.basic("", "foo")
        .exec("run.sh", "#!/bin/sh\n")
        .file("private.txt", "p\n")
        .chmod("private.txt", 0o600)
        .file("grp.txt", "g\n")
        .chmod("grp.txt", 0o744)
        .file("empty.txt", "")
        .bytes(
            "data/blob.bin",
            &(0..200_000u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        )
        .file("README.md", &"readme line\n".repeat(100))
        .file("a/b", "")
        .file("a-b/c", "")
        .file("a.b", "")
        .bytes("pad/511", &[b'x'; 511])
        .bytes("pad/512", &[b'y'; 512])
        .bytes("pad/513", &[b'z'; 513])
        .bytes("pad/1024", &[0u8; 1024]);
    Case::new(&fx).args(NV).assert_same().cargo_ok();
    Case::new(&fx).args(&["--list", "--offline"]).assert_same();
}

#[test]
fn source_date_epoch_is_ignored() {
    let fx = Fixture::new();
    fx.basic("", "foo");
    Case::new(&fx)
        .args(NV)
        .env("SOURCE_DATE_EPOCH", "12345")
        .assert_same()
        .cargo_ok();
}

#[test]
fn edition_parsing() {
    // `test_edition`, `test_edition_malformed`, `test_edition_from_the_future`
    for edition in ["2015", "2018", "2024", "chicken", "2038"] {
        let fx = Fixture::new();
        fx.file(
            "Cargo.toml",
            &format!("[package]\nname = \"foo\"\nversion = \"0.1.0\"\nedition = \"{edition}\"\n{METADATA}"),
        )
        .file("src/lib.rs", "");
        Case::new(&fx).args(NV).assert_same();
    }
}

#[test]
fn other_accepted_flags() {
    // Flags that must be accepted and must not change the archive.
    let fx = Fixture::new();
    fx.basic("", "foo");
    for extra in [
        &["-j", "1"][..],
        &["--keep-going"][..],
        &["--locked"][..],
        &["--frozen"][..],
        &["-q"][..],
        &["-vv"][..],
        &["--color", "never"][..],
        &["--target", "x86_64-unknown-linux-gnu"][..],
    ] {
        Case::new(&fx).args(NV).args(extra).assert_same();
    }
    Case::new(&fx)
        .args(&[
            "--offline",
            "--index",
            "sparse+http://127.0.0.1:9/i/",
            "--registry",
            "x",
        ])
        .assert_same();
    Case::new(&fx)
        .args(&["--offline", "--no-verify", "--bogus-flag"])
        .assert_same();
    Case::new(&fx)
        .args(&[
            "--offline",
            "--no-verify",
            "--index",
            "sparse+http://127.0.0.1:9/i/",
        ])
        .assert_same();
}

#[test]
fn package_name_with_capitals_and_underscores() {
    let fx = Fixture::new();
    fx.package("", "Foo_Bar-baz", METADATA, "");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_ok()
        .crates_are(&["Foo_Bar-baz-0.1.0.crate"]);
}
