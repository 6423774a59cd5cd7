//! Differential tests: the real `cargo publish` and `cargo gantry publish` upload to the same
//! recording stub; the metadata JSON must match field by field and the tarballs byte for byte.

mod publish_support;

use std::path::Path;

use publish_support::{Stub, cargo, cargo_home, gantry, text, write};

const TOKEN: &str = "sekrit";

fn fixture(root: &Path, files: &[(&str, &str)]) {
    for (rel, contents) in files {
        write(root, rel, contents);
    }
}

/// Publishes the fixture (package at `pkg_rel`) with both tools and compares the uploads.
fn compare(files: &[(&str, &str)], pkg_rel: &str, seeds: &[(&str, &str, &str)]) {
    let a = Stub::start(Default::default());
    let b = Stub::start(Default::default());
    for (reg, name, vers) in seeds {
        match *reg {
            "a" => a.seed(name, vers),
            _ => b.seed(name, vers),
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut uploads = Vec::new();
    let mut raws = Vec::new();
    for tool in ["cargo", "gantry"] {
        let root = tmp.path().join(tool);
        fixture(&root, files);
        let home = cargo_home(
            &tmp.path().join(format!("home-{tool}")),
            &[("a", &a.index_url()), ("b", &b.index_url())],
        );
        let mut cmd = if tool == "cargo" { cargo() } else { gantry() };
        let out = cmd
            .args(["publish", "--registry", "a", "--no-verify"])
            .current_dir(root.join(pkg_rel))
            .env("CARGO_HOME", &home)
            .env("CARGO_REGISTRIES_A_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool} failed:\n{}", text(&out));
        let puts = a.publishes();
        assert_eq!(puts.len(), 1, "{tool}: {}", text(&out));
        assert_eq!(puts[0].header("authorization"), Some(TOKEN));
        assert_eq!(puts[0].header("content-type"), None, "{tool}");
        uploads.push(puts[0].publish_parts());
        raws.push(puts[0].raw_json());
        a.clear();
    }
    let (cargo_json, cargo_tar) = &uploads[0];
    let (gantry_json, gantry_tar) = &uploads[1];
    for (key, want) in cargo_json.as_object().unwrap() {
        assert_eq!(
            gantry_json.get(key),
            Some(want),
            "field `{key}` differs\ncargo:  {cargo_json}\ngantry: {gantry_json}"
        );
    }
    assert_eq!(cargo_json, gantry_json);
    assert_eq!(
        String::from_utf8_lossy(&raws[0]),
        String::from_utf8_lossy(&raws[1]),
        "JSON bytes (key order) differ"
    );
    assert!(cargo_tar == gantry_tar, "tarballs differ");
}

#[test]
fn metadata_fields() {
    compare(
        &[
            (
                "p/Cargo.toml",
                r#"[package]
name = "meta-all"
version = "0.3.1"
edition = "2021"
authors = ["A <a@example.com>", "B"]
description = "all the fields"
documentation = "https://docs.example.com"
homepage = "https://example.com"
repository = "https://example.com/repo"
readme = "README.md"
keywords = ["one", "two"]
categories = ["development-tools"]
license-file = "LICENSE.txt"
links = "foo"
rust-version = "1.70"

[badges]
maintenance = { status = "actively-developed" }

[features]
default = ["a"]
a = []
b = ["a"]
"#,
            ),
            ("p/README.md", "# Meta\n\nhello\n"),
            ("p/LICENSE.txt", "license text\n"),
            ("p/build.rs", "fn main() {}\n"),
            ("p/src/lib.rs", "pub fn f() {}\n"),
        ],
        "p",
        &[],
    );
}

#[test]
fn dependencies_of_every_kind() {
    compare(
        &[
            (
                "p/Cargo.toml",
                r#"[package]
name = "deps-all"
version = "1.0.0"
edition = "2021"
description = "deps"
license = "MIT"

[dependencies]
depa = { version = "1.0", registry = "a" }
renamed = { package = "depb", version = "1", registry = "b", features = ["x"], default-features = false }
opt = { package = "depc", version = ">=2, <3", registry = "b", optional = true }
exact = { package = "depd", version = "=1.2.3", registry = "a" }

[dev-dependencies]
devd = { version = "1", registry = "a" }

[build-dependencies]
buildd = { version = "1", registry = "b" }

[target.'cfg(unix)'.dependencies]
unixd = { version = "1", registry = "a" }

[target.'cfg(windows)'.build-dependencies]
wind = { version = "1", registry = "b" }

[target.'cfg(windows)'.dependencies]
wnorm = { version = "1", registry = "a" }

[features]
with-opt = ["dep:opt"]
x = ["renamed/x"]
"#,
            ),
            ("p/src/lib.rs", "pub fn f() {}\n"),
        ],
        "p",
        &[
            ("a", "depa", "1.0.0"),
            ("b", "depb", "1.0.0"),
            ("b", "depc", "2.1.0"),
            ("a", "depd", "1.2.3"),
            ("a", "devd", "1.0.0"),
            ("b", "buildd", "1.0.0"),
            ("a", "unixd", "1.0.0"),
            ("b", "wind", "1.0.0"),
            ("a", "wnorm", "1.0.0"),
        ],
    );
}

#[test]
fn readme_outside_the_package() {
    compare(
        &[
            ("README.md", "# Outside\n"),
            (
                "p/Cargo.toml",
                r#"[package]
name = "outside-readme"
version = "0.1.0"
edition = "2021"
description = "readme in the parent"
license = "MIT"
readme = "../README.md"
"#,
            ),
            ("p/src/lib.rs", "pub fn f() {}\n"),
        ],
        "p",
        &[],
    );
}
