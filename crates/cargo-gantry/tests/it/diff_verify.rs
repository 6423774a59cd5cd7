//! Differential tests with verification on (spec §6, §12.1 "Verification"): a representative
//! few, since each one compiles the packaged crate twice (once per tool).

mod support;
use support::*;

const V: &[&str] = &["--offline"];

#[test]
fn verify_lib() {
    // `package_verification`
    let fx = Fixture::new();
    fx.basic("", "foo");
    Case::new(&fx)
        .args(V)
        .assert_same()
        .cargo_ok()
        .stderr_contains("Verifying foo");
}

#[test]
fn verify_lib_with_bin_in_git() {
    // `package_lib_with_bin`, verification from a committed repo
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("src/main.rs", "fn main() { foo::f(); }\n")
        .file(".gitignore", "/target\n")
        .git_commit_all("");
    Case::new(&fx).args(V).assert_same().cargo_ok();
}

#[test]
fn verify_build_script() {
    let fx = Fixture::new();
    fx.basic("", "foo").file(
        "build.rs",
        "fn main() {\n    let out = std::env::var(\"OUT_DIR\").unwrap();\n    std::fs::write(format!(\"{out}/gen.rs\"), \"pub const X: u32 = 7;\").unwrap();\n}\n",
    )
    .file("src/lib.rs", "include!(concat!(env!(\"OUT_DIR\"), \"/gen.rs\"));\n");
    Case::new(&fx).args(V).assert_same().cargo_ok();
}

#[test]
fn verify_workspace_chain() {
    // `workspace_with_local_deps` with verification; `package_should_use_build_cache`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"level1\", \"level2\", \"level3\"]\nresolver = \"2\"\n",
    )
    .package(
        "level1",
        "level1",
        METADATA,
        "[dependencies]\nlevel2 = { path = \"../level2\", version = \"0.1.0\" }\n",
    )
    .file("level1/src/main.rs", "fn main() { level2::f(); }\n")
    .package(
        "level2",
        "level2",
        METADATA,
        "[dependencies]\nlevel3 = { path = \"../level3\", version = \"0.1.0\" }\n",
    )
    .file("level2/src/lib.rs", "pub fn f() { level3::f(); }\n")
    .basic("level3", "level3");
    Case::new(&fx)
        .args(&["--offline", "--workspace"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn verify_feature_flags() {
    // `package_with_select_features`, `package_with_all_features`, `package_no_default_features`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest("foo", METADATA, "[features]\ndefault = [\"required\"]\nrequired = []\nextra = []\n"),
    )
    .file(
        "src/main.rs",
        "#[cfg(not(feature = \"required\"))]\ncompile_error!(\"required missing\");\n#[cfg(feature = \"extra\")]\nfn extra() {}\nfn main() {\n    #[cfg(feature = \"extra\")]\n    extra();\n}\n",
    );
    Case::new(&fx)
        .args(&["--offline", "--features", "extra"])
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&["--offline", "--all-features"])
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&["--offline", "--no-default-features"])
        .assert_same()
        .cargo_fails_with("failed to verify package tarball");
    Case::new(&fx)
        .args(&["--offline", "-F", "required,extra", "--no-default-features"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn verify_compile_error() {
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("src/lib.rs", "pub fn f() -> u32 { \"nope\" }\n");
    Case::new(&fx)
        .args(V)
        .assert_same()
        .cargo_fails_with("failed to verify package tarball");
    Case::new(&fx)
        .args(&["--offline", "--no-verify"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn source_modifying_build_script() {
    // `do_not_package_if_src_was_modified`: Changed / Added / Removed report.
    let fx = Fixture::new();
    fx.basic("", "foo")
        .file("dir/foo.txt", "")
        .file("bar.txt", "")
        .file(
            "build.rs",
            r#"use std::fs;
fn main() {
    fs::write("src/generated.txt", "Hello, world of generated files.").unwrap();
    fs::write("bar.txt", "changed").unwrap();
    fs::remove_file("dir/foo.txt").unwrap();
    fs::create_dir_all("new-dir").unwrap();
}
"#,
        );
    Case::new(&fx)
        .args(V)
        .assert_same()
        .cargo_fails_with("Source directory was modified by build.rs");
    Case::new(&fx)
        .args(&["--offline", "--no-verify"])
        .fresh_target()
        .assert_same()
        .cargo_ok();
}

#[test]
fn verify_with_configured_build_dir() {
    // §4.8: scratch files, the overlay and the verification unpack dir live in `build.build-dir`.
    let fx = Fixture::new();
    let build_dir = fx.scratch().join("build-dir");
    fx.basic("", "foo").file(
        ".cargo/config.toml",
        &format!("[build]\nbuild-dir = {:?}\n", build_dir.to_str().unwrap()),
    );
    Case::new(&fx).args(V).assert_same().cargo_ok();
    assert!(
        build_dir.join("package").exists(),
        "cargo should have used build.build-dir"
    );
    // Both tools tag a build dir they create as a cache (`build_dir_legacy` in cargo's suite).
    for side in [Side::Cargo, Side::Gantry] {
        std::fs::remove_dir_all(&build_dir).unwrap();
        let out = Case::new(&fx)
            .args(&["--offline", "--no-verify"])
            .run_side(side);
        assert!(out.ok(), "{}", out.error_block());
        assert!(
            build_dir.join("CACHEDIR.TAG").is_file(),
            "{side:?} left no CACHEDIR.TAG in the build dir"
        );
    }
}
