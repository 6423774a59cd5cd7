//! Bad manifests and workspaces: our error chain must match cargo's `error:` line and causes.

use crate::manifest_common::fixture;

use gantry_package::check_dependency_versions;
use gantry_package::{ManifestError, load_workspace};

/// cargo's stderr as a chain: the `error:` text, then each `Caused by:` block (dedented).
fn cargo_chain(stderr: &str) -> Vec<String> {
    let Some(start) = stderr.find("error: ") else {
        panic!("no error in cargo output:\n{stderr}");
    };
    let text = &stderr[start + "error: ".len()..];
    let mut parts: Vec<String> = Vec::new();
    for (i, block) in text.split("\n\nCaused by:\n").enumerate() {
        let block = block.trim_end_matches('\n');
        if i == 0 {
            parts.push(block.to_string());
        } else {
            let lines: Vec<&str> = block
                .lines()
                .map(|l| l.strip_prefix("  ").unwrap_or(l))
                .collect();
            parts.push(lines.join("\n"));
        }
    }
    parts
}

fn compare_load(files: &[(&str, &str)], manifest: &str, depth: usize) {
    let fx = fixture(files);
    let out = fx.cargo(manifest, &[]);
    assert!(!out.status.success(), "cargo unexpectedly succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = cargo_chain(&stderr);
    let err = load_workspace(&fx.path(manifest)).expect_err("we unexpectedly succeeded");
    let ours = match &err {
        ManifestError::Syntax(s) => s.render(Some(fx.dir.path())),
        _ => err.chain().join("\n\nCaused by:\n"),
    };
    let ours = cargo_chain(&format!("error: {ours}"));
    let n = depth.min(expected.len());
    assert_eq!(
        expected[..n],
        ours[..n.min(ours.len())],
        "\ncargo:\n{stderr}\nours:\n{ours:#?}"
    );
}

#[test]
fn toml_syntax_error() {
    compare_load(
        &[
            ("Cargo.toml", "[package\nname = \"x\"\n"),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn schema_error_bad_version() {
    compare_load(
        &[
            ("Cargo.toml", "[package]\nname = \"x\"\nversion = \"one\"\n"),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn missing_workspace_pointer_target() {
    compare_load(
        &[
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nworkspace = \"../nope\"\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        1,
    );
}

#[test]
fn member_not_in_workspace() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = []\n"),
            (
                "sub/Cargo.toml",
                "[package]\nname = \"sub\"\nversion = \"0.1.0\"\n",
            ),
            ("sub/src/lib.rs", ""),
        ],
        "sub/Cargo.toml",
        1,
    );
}

#[test]
fn missing_member_manifest() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\", \"gone\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        2,
    );
}

#[test]
fn inherit_undefined_key() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"a\"]\n[workspace.package]\nversion = \"1.0.0\"\n",
            ),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion.workspace = true\nlicense.workspace = true\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        3,
    );
}

#[test]
fn inherit_undefined_dependency() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[dependencies]\nfoo.workspace = true\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        3,
    );
}

fn compare_versions(files: &[(&str, &str)], manifest: &str) {
    let fx = fixture(files);
    let out = fx.cargo(manifest, &[]);
    assert!(!out.status.success(), "cargo unexpectedly succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = cargo_chain(&stderr);
    let ws = load_workspace(&fx.path(manifest)).expect("load");
    let pkg = &ws.members[ws.current.expect("current")];
    let err = check_dependency_versions(pkg, false).expect_err("should fail");
    assert_eq!(expected, err.chain(), "\ncargo:\n{stderr}");
}

#[test]
fn path_dependency_without_version() {
    compare_versions(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"foo\"\nversion = \"0.1.0\"\nlicense = \"MIT\"\ndescription = \"d\"\n[dependencies]\nbar = { path = \"bar\" }\n",
            ),
            ("src/lib.rs", ""),
            (
                "bar/Cargo.toml",
                "[package]\nname = \"bar\"\nversion = \"0.1.0\"\n",
            ),
            ("bar/src/lib.rs", ""),
        ],
        "Cargo.toml",
    );
}

#[test]
fn git_build_dependency_without_version() {
    compare_versions(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"foo\"\nversion = \"0.1.0\"\n[build-dependencies]\nbar = { git = \"https://example.com/bar\" }\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
    );
}

#[test]
fn dev_path_dependency_without_version_is_fine() {
    let fx = fixture(&[
        (
            "Cargo.toml",
            "[package]\nname = \"foo\"\nversion = \"0.1.0\"\n[dev-dependencies]\nbar = { path = \"bar\" }\n",
        ),
        ("src/lib.rs", ""),
        (
            "bar/Cargo.toml",
            "[package]\nname = \"bar\"\nversion = \"0.1.0\"\n",
        ),
        ("bar/src/lib.rs", ""),
    ]);
    let ws = load_workspace(&fx.path("Cargo.toml")).expect("load");
    let pkg = &ws.members[ws.current.expect("current")];
    check_dependency_versions(pkg, true).expect("dev deps need no version");
}

#[test]
fn alt_registry_path_dependency_without_version() {
    compare_versions(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"foo\"\nversion = \"0.1.0\"\n[dependencies]\nbar = { path = \"bar\", registry = \"alt\" }\n",
            ),
            ("src/lib.rs", ""),
            (
                "bar/Cargo.toml",
                "[package]\nname = \"bar\"\nversion = \"0.1.0\"\n",
            ),
            ("bar/src/lib.rs", ""),
        ],
        "Cargo.toml",
    );
}

#[test]
fn renamed_target_specific_path_dependency_without_version() {
    compare_versions(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"foo\"\nversion = \"0.1.0\"\n[target.'cfg(unix)'.dependencies]\nren = { path = \"bar\", package = \"bar\" }\n",
            ),
            ("src/lib.rs", ""),
            (
                "bar/Cargo.toml",
                "[package]\nname = \"bar\"\nversion = \"0.1.0\"\n",
            ),
            ("bar/src/lib.rs", ""),
        ],
        "Cargo.toml",
    );
}

#[test]
fn links_without_build_script() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\nlinks = \"z\"\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn publish_without_version() {
    compare_load(
        &[
            ("Cargo.toml", "[package]\nname = \"x\"\npublish = true\n"),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn missing_package_name() {
    compare_load(
        &[
            ("Cargo.toml", "[package]\nversion = \"0.1.0\"\n"),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn unknown_edition() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\nedition = \"2099\"\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn no_targets() {
    compare_load(
        &[(
            "Cargo.toml",
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
        )],
        "Cargo.toml",
        2,
    );
}

#[test]
fn missing_explicit_bin_file() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\n[[bin]]\nname = \"nope\"\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn empty_manifest() {
    compare_load(&[("Cargo.toml", "")], "Cargo.toml", 2);
}

#[test]
fn edition_2024_member_cannot_disable_inherited_default_features() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"m\"]\n[workspace.dependencies]\na = \"1\"\n",
            ),
            (
                "m/Cargo.toml",
                "[package]\nname = \"m\"\nversion = \"0.1.0\"\nedition = \"2024\"\n[dependencies]\na = { workspace = true, default-features = false }\n",
            ),
            ("m/src/lib.rs", ""),
        ],
        "m/Cargo.toml",
        4,
    );
}

#[test]
fn both_package_workspace_and_workspace_table() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\nworkspace = \".\"\n[workspace]\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn default_member_not_a_member() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"a\"]\ndefault-members = [\"b\"]\n",
            ),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\n",
            ),
            ("a/src/lib.rs", ""),
            (
                "b/Cargo.toml",
                "[package]\nname = \"b\"\nversion = \"0.1.0\"\n",
            ),
            ("b/src/lib.rs", ""),
        ],
        "Cargo.toml",
        2,
    );
}

#[test]
fn two_workspace_roots_pointer_mismatch() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nworkspace = \"../other\"\n",
            ),
            ("a/src/lib.rs", ""),
            ("other/Cargo.toml", "[workspace]\n"),
        ],
        "a/Cargo.toml",
        2,
    );
}

#[test]
fn member_of_the_wrong_workspace() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nworkspace = \"../other\"\n",
            ),
            ("a/src/lib.rs", ""),
            ("other/Cargo.toml", "[workspace]\n"),
        ],
        "Cargo.toml",
        2,
    );
}

fn feature_case(features: &str) {
    let manifest = format!(
        "[package]\nname = \"h\"\nversion = \"0.1.0\"\n[dependencies]\na = \"1\"\nb = {{ version = \"1\", optional = true }}\n[features]\n{features}\n"
    );
    compare_load(
        &[("Cargo.toml", &manifest), ("src/lib.rs", "")],
        "Cargo.toml",
        2,
    );
}

#[test]
fn feature_neither_dep_nor_feature() {
    feature_case("x = [\"nope\"]");
}

#[test]
fn feature_plain_non_optional_dep() {
    feature_case("default = [\"a\"]");
}

#[test]
fn feature_dep_syntax_unknown_dep() {
    feature_case("x = [\"dep:nope\"]");
}

#[test]
fn feature_dep_syntax_non_optional() {
    feature_case("x = [\"b\", \"dep:a\"]");
}

#[test]
fn feature_weak_non_optional() {
    feature_case("x = [\"a?/f\"]");
}

#[test]
fn feature_optional_dep_without_implicit_feature() {
    feature_case("x = [\"b\", \"a/f\", \"y\"]\ny = [\"dep:b\"]");
}

#[test]
fn valid_features_load() {
    let fx = fixture(&[
        (
            "Cargo.toml",
            "[package]\nname = \"h\"\nversion = \"0.1.0\"\n[dependencies]\na = \"1\"\nb = { version = \"1\", optional = true }\n[features]\nx = [\"b\", \"a/f\", \"b?/g\", \"y\"]\ny = [\"b/h\"]\n",
        ),
        ("src/lib.rs", ""),
    ]);
    let out = fx.cargo("Cargo.toml", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    load_workspace(&fx.path("Cargo.toml")).expect("valid features");
}

#[test]
fn inherit_lints_without_workspace_lints() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[lints]\nworkspace = true\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        3,
    );
}

#[test]
fn inherit_without_any_workspace() {
    compare_load(
        &[
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion.workspace = true\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        3,
    );
}

#[test]
fn inherit_readme_from_missing_workspace_package() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nreadme.workspace = true\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        3,
    );
}

#[test]
fn toml_error_after_non_ascii_text() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\ndescription = \"héllo wörld\" oops\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        1,
    );
}

#[test]
fn schema_error_wrong_type_on_later_line() {
    compare_load(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n\n\n\n\n\nauthors = \"me\"\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        1,
    );
}

fn compare_paths(files: &[(&str, &str)], manifest: &str) {
    let fx = fixture(files);
    let out = fx.cargo(manifest, &[]);
    assert!(!out.status.success(), "cargo unexpectedly succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = cargo_chain(&stderr);
    let ws = load_workspace(&fx.path(manifest)).expect("load");
    let pkg = &ws.members[ws.current.expect("current")];
    // These checks happen while the archive's entry list is planned (spec §2.6 steps 10–12).
    fn file(
        p: &Option<gantry_package::workspace::ManifestPath>,
    ) -> Option<gantry_package::ReferencedFile<'_>> {
        p.as_ref().map(|p| gantry_package::ReferencedFile {
            value: &p.value,
            abs: &p.abs,
        })
    }
    let build_scripts: Vec<_> = pkg.build_script.iter().cloned().collect();
    let err = gantry_package::plan_entries(
        &gantry_package::EntryInputs {
            name: &pkg.name,
            root: &pkg.root,
            manifest_path: &pkg.manifest_path,
            files: &[],
            include_lockfile: true,
            has_vcs_info: false,
            license_file: file(&pkg.license_file),
            readme: file(&pkg.readme),
            build_scripts: &build_scripts,
        },
        &gantry_package::Recorder::new(false),
    )
    .expect_err("should fail");
    assert_eq!(expected, vec![err.to_string()], "\ncargo:\n{stderr}");
}

#[test]
fn missing_readme_and_license_joined() {
    compare_paths(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\nreadme = \"nope.md\"\nlicense-file = \"docs\"\n",
            ),
            ("docs/", ""),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
    );
}

#[test]
fn empty_readme_path() {
    compare_paths(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\nreadme = \"\"\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
    );
}

#[test]
fn build_script_missing() {
    compare_paths(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\nbuild = \"nope.rs\"\n",
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
    );
}

#[test]
fn build_script_outside_root() {
    compare_paths(
        &[
            (
                "pkg/Cargo.toml",
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\nbuild = \"../build.rs\"\n",
            ),
            ("pkg/src/lib.rs", ""),
            ("build.rs", "fn main() {}"),
        ],
        "pkg/Cargo.toml",
    );
}

#[test]
fn missing_path_dependency_outside_root() {
    compare_load(
        &[
            ("ws/Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "ws/a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[dependencies]\nout = { path = \"../../outside\" }\n",
            ),
            ("ws/a/src/lib.rs", ""),
        ],
        "ws/a/Cargo.toml",
        3,
    );
}

#[test]
fn missing_path_dependency_inside_root() {
    compare_load(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\n[dependencies]\nren = { path = \"../inner\", package = \"inner\", version = \"1\" }\n",
            ),
            ("a/src/lib.rs", ""),
            ("inner/", ""),
        ],
        "a/Cargo.toml",
        3,
    );
}
