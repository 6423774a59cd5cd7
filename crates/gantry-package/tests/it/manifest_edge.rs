//! Differential tests for legacy spellings, odd values and target-discovery corners.

use crate::manifest_common::check;

#[test]
fn legacy_project_and_underscore_spellings() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[project]
name = "legacy"
version = "0.1.0"

[lib]
crate_type = ["rlib"]
proc_macro = false

[dependencies]
a = { version = "1", default_features = false }

[dev_dependencies]
b = "1"

[target.'cfg(windows)'.dev_dependencies]
c = "1"

[target.'cfg(windows)'.build_dependencies]
d = "1"
"#,
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        "legacy",
        "0.1.0",
    );
}

#[test]
fn edition_2015_explicit_bin_disables_discovery() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "old"
version = "0.1.0"

[[bin]]
name = "old"

[[example]]
name = "e1"
"#,
            ),
            ("src/main.rs", ""),
            ("src/bin/other.rs", ""),
            ("examples/e1.rs", ""),
            ("examples/e2.rs", ""),
            ("tests/t.rs", ""),
        ],
        "Cargo.toml",
        "old",
        "0.1.0",
    );
}

#[test]
fn readme_true_license_inside_build_false_empty_deps() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "odd"
version = "1.0.0-alpha.1+build.5"
edition = "2021"
readme = true
license-file = "./legal/LICENSE"
build = false
description = """
multi
line "quoted"
"""
homepage = "it's \"quoted\""
documentation = "tab\there ünïcode"
resolver = "2"

[dependencies]

[[bin]]
name = "tool"
path = "src/bin/tool/main.rs"
"#,
            ),
            ("src/main.rs", ""),
            ("src/bin/tool/main.rs", ""),
            ("README.md", ""),
            ("legal/LICENSE", ""),
            ("build.rs", "fn main() {}"),
        ],
        "Cargo.toml",
        "odd",
        "1.0.0-alpha.1+build.5",
    );
}

#[test]
fn excluded_lib_and_explicit_build_excluded() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "exl"
version = "0.1.0"
edition = "2021"
build = "gen/build.rs"
exclude = ["src/lib.rs", "gen/"]

[lib]
path = "src/lib.rs"
"#,
            ),
            ("src/lib.rs", ""),
            ("src/main.rs", ""),
            ("gen/build.rs", "fn main() {}"),
        ],
        "Cargo.toml",
        "exl",
        "0.1.0",
    );
}

#[test]
fn profiles_and_metadata_structures() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "prof"
version = "0.1.0"
edition = "2024"
authors = ["Ünï <u@example.com>"]

[package.metadata.x]
list = [1, 2, 3]
nested = { deep = { deeper = true } }
arr = [{ a = 1 }, { b = 2 }]
empty = []

[profile.release]
lto = "fat"
opt-level = "s"
codegen-units = 1
debug = "line-tables-only"
strip = true
panic = "abort"

[profile.release.package."*"]
opt-level = 3

[profile.dev.build-override]
opt-level = 0

[profile.custom]
inherits = "release"
debug = true
"#,
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        "prof",
        "0.1.0",
    );
}

#[test]
fn nested_member_inherits_paths_and_ws_path_deps() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[workspace]
members = ["crates/deep/*"]
resolver = "3"

[workspace.package]
readme = "docs/README.md"
license-file = "crates/LICENSE"
edition = "2021"
include = ["src/**", "build.rs"]

[workspace.dependencies]
sib = { path = "crates/deep/sib", version = "0.2", features = ["a"] }
"#,
            ),
            ("docs/README.md", ""),
            ("crates/LICENSE", ""),
            (
                "crates/deep/one/Cargo.toml",
                r#"[package]
name = "one"
version = "0.1.0"
edition.workspace = true
readme.workspace = true
license-file.workspace = true
include.workspace = true

[dependencies]
sib = { workspace = true, features = ["b"], default-features = false }

[dev-dependencies]
sib2 = { path = "../sib", package = "sib" }
"#,
            ),
            ("crates/deep/one/src/lib.rs", ""),
            ("crates/deep/one/src/main.rs", ""),
            ("crates/deep/one/examples/ex.rs", ""),
            (
                "crates/deep/sib/Cargo.toml",
                "[package]\nname = \"sib\"\nversion = \"0.2.0\"\n[features]\na = []\nb = []\n",
            ),
            ("crates/deep/sib/src/lib.rs", ""),
        ],
        "crates/deep/one/Cargo.toml",
        "one",
        "0.1.0",
    );
}

#[test]
fn explicit_other_targets_excluded() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "ex"
version = "0.1.0"
edition = "2021"
exclude = ["src/bin/b.rs", "examples/", "tests/", "benches/bb.rs"]

[[bin]]
name = "b"
path = "src/bin/b.rs"

[[bin]]
name = "a"
path = "src/bin/a.rs"

[[example]]
name = "e"
path = "examples/e.rs"

[[test]]
name = "t"

[[bench]]
name = "bb"

[[bench]]
name = "ba"
"#,
            ),
            ("src/lib.rs", ""),
            ("src/bin/a.rs", ""),
            ("src/bin/b.rs", ""),
            ("examples/e.rs", ""),
            ("tests/t.rs", ""),
            ("benches/ba.rs", ""),
            ("benches/bb.rs", ""),
        ],
        "Cargo.toml",
        "ex",
        "0.1.0",
    );
}

#[test]
fn autobins_false_and_dot_files_in_target_dirs() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "ab"
version = "0.1.0"
edition = "2021"
autobins = false
autotests = false

[[test]]
name = "explicit"
path = "tests/explicit.rs"
"#,
            ),
            ("src/lib.rs", ""),
            ("src/main.rs", ""),
            ("src/bin/x.rs", ""),
            ("tests/explicit.rs", ""),
            ("tests/other.rs", ""),
            ("examples/.hidden.rs", ""),
            ("examples/notes.txt", ""),
            ("examples/dir/notmain.rs", ""),
            ("examples/real.rs", ""),
        ],
        "Cargo.toml",
        "ab",
        "0.1.0",
    );
}

#[test]
fn hints_and_platform_only_stripped_dev_deps() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "hi"
version = "0.1.0"
edition = "2021"

[hints]
mostly-unused = true

[target.'cfg(unix)'.dev-dependencies]
local = { path = "local" }

[target.'cfg(unix)'.dependencies]
real = "1"
"#,
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        "hi",
        "0.1.0",
    );
}

#[test]
fn target_outside_package_root_is_dropped() {
    check(
        &[
            (
                "pkg/Cargo.toml",
                r#"[package]
name = "outside"
version = "0.1.0"
edition = "2021"

[[bin]]
name = "shared"
path = "../shared/main.rs"

[[example]]
name = "dotted"
path = "./examples/../examples/dotted.rs"

[dependencies]
x = { version = "1", features = [] }
"#,
            ),
            ("pkg/src/lib.rs", ""),
            ("pkg/examples/dotted.rs", ""),
            ("shared/main.rs", ""),
        ],
        "pkg/Cargo.toml",
        "outside",
        "0.1.0",
    );
}
