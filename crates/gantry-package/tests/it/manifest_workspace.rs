//! Differential tests for workspaces: inheritance, members, resolver, lints.

use crate::manifest_common::check;

const WS_ROOT: &str = r#"[workspace]
members = ["foo", "crates/*"]
exclude = ["crates/skipped"]
resolver = "2"

[workspace.package]
version = "1.2.3"
authors = ["A <a@example.com>", "B"]
edition = "2021"
rust-version = "1.70"
description = "ws desc"
homepage = "https://example.com"
documentation = "https://docs.rs/foo"
readme = "README.md"
keywords = ["a", "b"]
categories = ["development-tools"]
license = "MIT OR Apache-2.0"
license-file = "LICENSE-OUTSIDE"
repository = "https://github.com/x/y"
publish = true
exclude = ["*.bak"]

[workspace.dependencies]
bar = { path = "crates/bar", version = "1.2.3", registry = "alt", default-features = false }
cfg-if = "1"
serde = { version = "1", features = ["derive"] }
renamed = { package = "real", version = "0.5" }
baz2 = { path = "crates/baz2" }

[workspace.lints.rust]
unsafe_code = "forbid"

[workspace.lints.clippy]
pedantic = { level = "warn", priority = -1 }

[profile.release]
lto = true
"#;

const FOO: &str = r#"[package]
name = "foo"
version.workspace = true
authors.workspace = true
edition.workspace = true
rust-version.workspace = true
description.workspace = true
homepage.workspace = true
documentation.workspace = true
readme.workspace = true
keywords.workspace = true
categories.workspace = true
license.workspace = true
license-file.workspace = true
repository.workspace = true
publish.workspace = true
exclude.workspace = true
links = "foo"
build = "build.rs"

[package.metadata.docs.rs]
all-features = true

[badges]
maintenance = { status = "actively-developed" }

[features]
default = ["std"]
std = []
dev-only = ["baz2/foo"]
with-renamed = ["dep:renamed", "bar/x"]

[dependencies]
bar = { workspace = true, features = ["x"], default-features = true }
serde = { workspace = true, features = ["rc"], optional = true }
renamed = { workspace = true, optional = true }

[dev-dependencies]
baz2 = { workspace = true }

[target.'cfg(unix)'.dependencies]
cfg-if.workspace = true

[lints]
workspace = true
"#;

fn ws_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Cargo.toml", WS_ROOT),
        ("README.md", "readme"),
        ("LICENSE-OUTSIDE", "license"),
        ("foo/Cargo.toml", FOO),
        ("foo/build.rs", "fn main() {}"),
        ("foo/src/lib.rs", ""),
        ("foo/src/main.rs", ""),
        (
            "crates/bar/Cargo.toml",
            "[package]\nname = \"bar\"\nversion = \"1.2.3\"\nedition = \"2015\"\n\n[features]\nx = []\n",
        ),
        ("crates/bar/src/lib.rs", ""),
        (
            "crates/baz2/Cargo.toml",
            "[package]\nname = \"baz2\"\nversion = \"0.1.0\"\nedition.workspace = true\n\n[features]\nfoo = []\n",
        ),
        ("crates/baz2/src/lib.rs", ""),
        (
            "crates/skipped/Cargo.toml",
            "[package]\nname = \"skipped\"\nversion = \"0.1.0\"\n",
        ),
        ("crates/skipped/src/lib.rs", ""),
    ]
}

#[test]
fn full_inheritance_member() {
    check(&ws_files(), "foo/Cargo.toml", "foo", "1.2.3");
}

#[test]
fn edition_2015_member_gets_resolver() {
    check(&ws_files(), "crates/bar/Cargo.toml", "bar", "1.2.3");
}

#[test]
fn inherited_edition_member() {
    check(&ws_files(), "crates/baz2/Cargo.toml", "baz2", "0.1.0");
}

#[test]
fn virtual_workspace_default_resolver_1() {
    check(
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\nworkspace = \"..\"\n\n[profile.dev]\nopt-level = 1\n",
            ),
            ("a/src/lib.rs", ""),
        ],
        "a/Cargo.toml",
        "a",
        "0.1.0",
    );
}

#[test]
fn root_package_workspace_with_path_dep_member() {
    check(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"root\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n[workspace.package]\nlicense = \"MIT\"\n\n[dependencies]\nsub = { path = \"sub\", version = \"0.1\" }\n",
            ),
            ("src/main.rs", ""),
            (
                "sub/Cargo.toml",
                "[package]\nname = \"sub\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense.workspace = true\nreadme = false\n",
            ),
            ("sub/src/lib.rs", ""),
            ("sub/README.md", ""),
        ],
        "sub/Cargo.toml",
        "sub",
        "0.1.0",
    );
}

#[test]
fn workspace_loading_members_and_defaults() {
    let fx = crate::manifest_common::fixture(&ws_files());
    let ws = gantry_package::load_workspace(&fx.path("foo/Cargo.toml")).expect("load");
    let names: Vec<&str> = ws.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["foo", "bar", "baz2"]);
    assert!(ws.is_virtual);
    assert_eq!(ws.current, Some(0));
    assert_eq!(ws.resolver, "2");
    assert_eq!(ws.root_dir, fx.dir.path());
    assert_eq!(ws.lockfile_path(), fx.path("Cargo.lock"));
    assert_eq!(ws.member_by_root(&fx.path("crates/bar")), Some(1));
    let foo = &ws.members[0];
    assert_eq!(
        foo.readme.as_ref().map(|r| r.value.as_str()),
        Some("../README.md")
    );
    assert_eq!(
        foo.readme.as_ref().map(|r| r.abs.clone()),
        Some(fx.path("README.md"))
    );
    assert_eq!(
        foo.license_file.as_ref().map(|r| r.value.as_str()),
        Some("../LICENSE-OUTSIDE")
    );
    assert_eq!(foo.build_script, Some(fx.path("foo/build.rs")));
    let bar = foo
        .dependencies
        .iter()
        .find(|d| d.name_in_toml == "bar")
        .expect("bar");
    assert_eq!(bar.path, Some(fx.path("crates/bar")));
    assert_eq!(bar.registry.as_deref(), Some("alt"));
    assert!(bar.default_features);
    let serde = foo
        .dependencies
        .iter()
        .find(|d| d.name_in_toml == "serde")
        .expect("serde");
    assert_eq!(serde.features, ["derive", "rc"]);
    assert!(serde.optional);

    let root = gantry_package::load_workspace(&fx.path("Cargo.toml")).expect("load");
    assert_eq!(root.current, None);
    assert_eq!(root.default_members, [0, 1, 2]);
}

/// Members and default members as `cargo metadata` reports them (names, sorted like cargo).
fn cargo_members(
    fx: &crate::manifest_common::Fixture,
    manifest: &str,
) -> (Vec<String>, Vec<String>) {
    let out = std::process::Command::new("cargo")
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(fx.path(manifest))
        .env("CARGO_HOME", fx.cargo_home.path())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let name_of = |id: &serde_json::Value| -> String {
        v["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["id"] == *id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let list = |key: &str| -> Vec<String> {
        let mut names: Vec<String> = v[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(name_of)
            .collect();
        names.sort();
        names
    };
    (list("workspace_members"), list("workspace_default_members"))
}

fn ours(fx: &crate::manifest_common::Fixture, manifest: &str) -> (Vec<String>, Vec<String>) {
    let ws = gantry_package::load_workspace(&fx.path(manifest)).expect("load");
    let mut members: Vec<String> = ws.members.iter().map(|m| m.name.clone()).collect();
    members.sort();
    let mut defaults: Vec<String> = ws
        .default_members
        .iter()
        .map(|&i| ws.members[i].name.clone())
        .collect();
    defaults.sort();
    (members, defaults)
}

#[test]
fn members_and_default_members_match_cargo_metadata() {
    let fx = crate::manifest_common::fixture(&[
        (
            "Cargo.toml",
            "[package]\nname=\"root\"\nversion=\"0.1.0\"\n[workspace]\nmembers=[\"m/*\"]\nexclude=[\"m/ex\"]\ndefault-members=[\"m/b\"]\n[dependencies]\nz={path=\"z\"}\n",
        ),
        ("src/lib.rs", ""),
        (
            "m/a/Cargo.toml",
            "[package]\nname=\"a\"\nversion=\"0.1.0\"\n[dependencies]\nb={path=\"../b\"}\n",
        ),
        ("m/a/src/lib.rs", ""),
        (
            "m/b/Cargo.toml",
            "[package]\nname=\"b\"\nversion=\"0.1.0\"\n",
        ),
        ("m/b/src/lib.rs", ""),
        (
            "m/.hidden/Cargo.toml",
            "[package]\nname=\"hidden\"\nversion=\"0.1.0\"\n",
        ),
        ("m/.hidden/src/lib.rs", ""),
        (
            "m/ex/Cargo.toml",
            "[package]\nname=\"ex\"\nversion=\"0.1.0\"\n[workspace]\n",
        ),
        ("m/ex/src/lib.rs", ""),
        ("m/notes.txt", ""),
        ("z/Cargo.toml", "[package]\nname=\"z\"\nversion=\"0.1.0\"\n"),
        ("z/src/lib.rs", ""),
    ]);
    for manifest in ["Cargo.toml", "m/a/Cargo.toml", "z/Cargo.toml"] {
        assert_eq!(
            cargo_members(&fx, manifest),
            ours(&fx, manifest),
            "from {manifest}"
        );
    }
}

#[test]
fn virtual_members_match_cargo_metadata() {
    let fx = crate::manifest_common::fixture(&[
        ("Cargo.toml", "[workspace]\nmembers=[\"x\", \"y\"]\n"),
        ("x/Cargo.toml", "[package]\nname=\"x\"\nversion=\"0.1.0\"\n"),
        ("x/src/lib.rs", ""),
        ("y/Cargo.toml", "[package]\nname=\"y\"\nversion=\"0.1.0\"\n"),
        ("y/src/main.rs", ""),
    ]);
    for manifest in ["Cargo.toml", "y/Cargo.toml"] {
        assert_eq!(
            cargo_members(&fx, manifest),
            ours(&fx, manifest),
            "from {manifest}"
        );
    }
}

#[test]
fn inherited_readme_true_and_pointer_root() {
    check(
        &[
            (
                "ws/Cargo.toml",
                "[workspace]\nmembers = [\"../pkg\"]\n[workspace.package]\nreadme = true\nversion = \"3.0.0\"\npublish = [\"alt\"]\nkeywords = []\n",
            ),
            (
                "pkg/Cargo.toml",
                "[package]\nname = \"pkg\"\nworkspace = \"../ws\"\nversion.workspace = true\nreadme.workspace = true\npublish.workspace = true\nkeywords.workspace = true\n",
            ),
            ("pkg/src/lib.rs", ""),
            ("ws/README.md", ""),
        ],
        "pkg/Cargo.toml",
        "pkg",
        "3.0.0",
    );
}

#[test]
fn default_features_merging_edition_2015() {
    check(
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers=[\"m\"]\n[workspace.dependencies]\na=\"1\"\nb={version=\"1\",default-features=true}\nc={version=\"1\", default_features=false, features=[\"w\"]}\nd={version=\"1\", default-features=false}\n",
            ),
            (
                "m/Cargo.toml",
                "[package]\nname=\"m\"\nversion=\"0.1.0\"\n[dependencies]\na={workspace=true,default-features=false}\nb={workspace=true,default-features=false}\nc={workspace=true,default-features=true,features=[\"m\"]}\nd={workspace=true,optional=true}\n[features]\nx=[\"d/y\"]\n",
            ),
            ("m/src/lib.rs", ""),
        ],
        "m/Cargo.toml",
        "m",
        "0.1.0",
    );
}

#[cfg(unix)]
#[test]
fn symlinked_directory_keeps_user_spelling() {
    let fx = crate::manifest_common::fixture(&[
        (
            "real/Cargo.toml",
            "[workspace]\nmembers = [\"m\"]\n[workspace.package]\nreadme = \"README.md\"\n",
        ),
        ("real/README.md", ""),
        (
            "real/m/Cargo.toml",
            "[package]\nname = \"m\"\nversion = \"0.1.0\"\nreadme.workspace = true\n",
        ),
        ("real/m/src/lib.rs", ""),
    ]);
    std::os::unix::fs::symlink(fx.path("real"), fx.path("link")).expect("symlink");
    let ws = crate::manifest_common::check_fx(&fx, "link/m/Cargo.toml", "m", "0.1.0");
    assert_eq!(ws.root_manifest, fx.path("link/Cargo.toml"));
    assert_eq!(ws.members[0].manifest_path, fx.path("link/m/Cargo.toml"));
    assert_eq!(
        ws.members[0].readme.as_ref().map(|r| r.abs.clone()),
        Some(fx.path("link/README.md"))
    );
}

#[test]
fn root_package_drops_workspace_patch_replace_keeps_profile() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "rootpkg"
version = "0.2.0"
edition = "2021"
build = true

[workspace]
members = ["."]
resolver = "1"

[workspace.metadata.x]
y = 1

[patch.crates-io]
serde = { path = "vendored/serde" }

[profile.dev]
debug = 1
incremental = false

[dependencies]
serde = "1"
"#,
            ),
            ("src/lib.rs", ""),
            ("build.rs", "fn main() {}"),
        ],
        "Cargo.toml",
        "rootpkg",
        "0.2.0",
    );
}

#[test]
fn root_package_with_inherited_edition_sets_resolver() {
    check(
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"r\"\nversion = \"0.1.0\"\nedition.workspace = true\n\n[workspace]\nmembers = [\"m\"]\n\n[workspace.package]\nedition = \"2024\"\n",
            ),
            ("src/lib.rs", ""),
            (
                "m/Cargo.toml",
                "[package]\nname = \"m\"\nversion = \"0.1.0\"\nedition = \"2018\"\n",
            ),
            ("m/src/lib.rs", ""),
        ],
        "m/Cargo.toml",
        "m",
        "0.1.0",
    );
}
