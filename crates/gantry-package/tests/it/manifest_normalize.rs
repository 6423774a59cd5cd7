//! Differential tests: our normalised Cargo.toml vs the installed cargo's, byte for byte.

use crate::manifest_common::check;

#[test]
fn simple_lib_bin_test_and_profile() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "a-b"
version = "0.1.0"
authors = []

[dependencies]
x = { path = "x", version = "1" }

[target.'cfg(unix)'.dev-dependencies]
y = { path = "y" }

[dev-dependencies]
z = { path = "z" }

[profile.release]
debug = false
"#,
            ),
            ("src/lib.rs", ""),
            ("src/main.rs", ""),
            ("tests/t.rs", ""),
            ("src/bin/multi/main.rs", ""),
            ("src/bin/single.rs", ""),
            ("examples/ex1.rs", ""),
            ("examples/ex2/main.rs", ""),
            ("benches/b.rs", ""),
            ("build.rs", "fn main() {}"),
            ("README.md", "hi"),
        ],
        "Cargo.toml",
        "a-b",
        "0.1.0",
    );
}

#[test]
fn excluded_targets_and_build_script() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "foo"
version = "0.1.0"
edition = "2021"
include = ["src/lib.rs", "src/bin/keep.rs"]
"#,
            ),
            ("src/lib.rs", ""),
            ("src/main.rs", ""),
            ("src/bin/keep.rs", ""),
            ("src/bin/drop.rs", ""),
            ("examples/ex.rs", ""),
            ("tests/t.rs", ""),
            ("benches/b.rs", ""),
            ("build.rs", "fn main() {}"),
        ],
        "Cargo.toml",
        "foo",
        "0.1.0",
    );
}

#[test]
fn explicit_targets_sorted_and_fields_kept() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "foo"
version = "0.1.0"
edition = "2018"
build = "tools/gen.rs"
autoexamples = false

[lib]
name = "mylib"
path = "src/./mylib.rs"
crate-type = ["rlib", "cdylib"]
doctest = false

[[bin]]
name = "zzz"
path = "src/zzz.rs"
required-features = ["f"]

[[bin]]
name = "aaa"
path = "src/aaa.rs"
test = false

[[example]]
name = "only"
path = "examples/only.rs"

[[test]]
name = "it"
harness = false

[features]
f = []
"#,
            ),
            ("src/mylib.rs", ""),
            ("src/zzz.rs", ""),
            ("src/aaa.rs", ""),
            ("src/main.rs", ""),
            ("examples/only.rs", ""),
            ("examples/other.rs", ""),
            ("tests/it.rs", ""),
            ("tests/more.rs", ""),
            ("tools/gen.rs", "fn main() {}"),
        ],
        "Cargo.toml",
        "foo",
        "0.1.0",
    );
}

#[test]
fn dependencies_all_forms() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "deps"
version = "1.0.0"
edition = "2021"
description = "d"
license = "MIT"

[dependencies]
serde = "1"
renamed = { package = "real-name", version = "0.3", optional = true, default_features = false }
gitdep = { git = "https://example.com/x.git", branch = "main", version = "0.1" }
alt = { version = "2", registry = "alt", features = ["a", "b"] }
pathdep = { path = "pathdep", version = "0.1.0" }
art = { version = "1", default-features = false, features = ["x"] }

[dev-dependencies]
devver = "1"
devpath = { path = "devpath" }
devboth = { path = "devpath2", version = "0.2" }

[build_dependencies]
cc = "1"

[target.'cfg(target_os = "linux")'.dependencies]
libc = "0.2"

[target."cfg(unix)".build-dependencies]
bb = "1"

[target."cfg(unix)".dev-dependencies]
dd = { path = "dd" }
de = "3"

[target.x86_64-unknown-linux-gnu.dependencies]
plain = "1"

[features]
default = ["dep-syntax"]
dev-only = ["devpath/foo", "devver/bar"]
weak = ["renamed?/x"]
dep-syntax = ["dep:renamed"]
"feat.with.dots" = []
"#,
            ),
            ("src/lib.rs", ""),
        ],
        "Cargo.toml",
        "deps",
        "1.0.0",
    );
}

#[test]
fn versionless_package_and_metadata() {
    check(
        &[
            (
                "Cargo.toml",
                r#"[package]
name = "nover"
edition = "2024"
keywords = ["one"]
categories = ["a", "b"]
default-run = "nover"
links = "z"
build = "build.rs"

[package.metadata.docs.rs]
all-features = true
targets = ["x86_64-unknown-linux-gnu"]

[package.metadata]
inline = { a = 1, b = "two" }

[badges]
maintenance = { status = "actively-developed" }

[lints.rust]
unsafe_code = "forbid"

[lints.clippy]
all = { level = "warn", priority = -1 }
"#,
            ),
            ("src/main.rs", ""),
            ("build.rs", "fn main() {}"),
            ("README.txt", ""),
        ],
        "Cargo.toml",
        "nover",
        "0.0.0",
    );
}

#[test]
fn readme_and_license_variants() {
    check(
        &[
            (
                "pkg/Cargo.toml",
                r#"[package]
name = "rl"
version = "0.1.0"
readme = "docs/../docs/READ.md"
license-file = "../LICENSE-OUT"
"#,
            ),
            ("pkg/src/lib.rs", ""),
            ("pkg/docs/READ.md", "x"),
            ("LICENSE-OUT", "x"),
        ],
        "pkg/Cargo.toml",
        "rl",
        "0.1.0",
    );
}
