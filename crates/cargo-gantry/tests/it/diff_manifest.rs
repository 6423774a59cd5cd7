//! Differential tests of the normalised `Cargo.toml` (spec §3, §12.1 "Normalised manifest"):
//! target discovery and exclusion, dependency tables, inheritance, resolver, profiles.

mod support;
use support::*;

const NV: &[&str] = &["--no-verify", "--offline"];

fn same(checks: &mut Checks, fx: &Fixture, cwd: &str) {
    checks.run(Case::new(fx).cwd(cwd).args(&["--list", "--offline"]));
    checks.run(Case::new(fx).cwd(cwd).args(NV));
}

#[test]
fn generated_manifest_rich() {
    // `generated_manifest`, `ignore_workspace_specifier`, `edition_with_metadata`,
    // `package_with_resolver_and_metadata`, `deterministic_build_targets`
    let fx = Fixture::new();
    fx.file(
        "pkg/Cargo.toml",
        r#"cargo-features = []

[package]
name = "foo"
version = "0.0.1"
edition = "2021"
authors = ["Zed <z@example.com>", "Ann"]
license = "MIT"
description = "a \"quoted\" description with 'single' quotes and unicode ✓"
documentation = "https://docs.example.com"
homepage = "https://example.com"
repository = "https://example.com/repo"
keywords = ["a", "b"]
categories = ["development-tools"]
workspace = ".."
links = "foo"
default-run = "zbin"
publish = true
rust-version = "1.70"
autobenches = true

[package.metadata]
docs.rs.all-features = true
foo = "bar"
nested = { a = 1, b = [1, 2, { c = "d" }] }

[badges]
maintenance = { status = "actively-developed" }

[[bin]]
name = "zbin"
path = "src/main.rs"

[[bin]]
name = "abin"
path = "src/bin/abin.rs"
required-features = ["extra"]

[lib]
name = "foo"
crate-type = ["rlib", "cdylib"]
doctest = false

[[example]]
name = "ex"

[dependencies]
zed = { path = "../zed", version = "0.1.0", features = ["x"], default-features = false }
bar = { path = "../bar", version = "=0.1.0", optional = true, package = "bar" }
renamed = { path = "../ren", version = "0.1", package = "ren" }
devonly = { path = "../devonly", optional = true, version = "0.1.0" }

[build-dependencies]
bar = { path = "../bar", version = "0.1.0" }

[dev-dependencies]
unversioned = { path = "../unversioned" }
bar = { path = "../bar", version = "0.1.0" }

[target.'cfg(unix)'.dependencies]
zed = { path = "../zed", version = "0.1.0" }

[target.'cfg(windows)'.dev-dependencies]
unversioned = { path = "../unversioned" }

[features]
default = ["extra"]
extra = ["bar", "dep:devonly", "zed/x"]
test-util = ["unversioned/thing"]

[profile.release]
opt-level = "s"
lto = true
debug = 1

[profile.dev.package.bar]
opt-level = 3

[lints.rust]
unsafe_code = "forbid"

[patch.crates-io]
zed = { path = "../zed" }
"#,
    )
    .file("pkg/src/lib.rs", "")
    .file("pkg/src/main.rs", "fn main() {}\n")
    .file("pkg/src/bin/abin.rs", "fn main() {}\n")
    .file("pkg/src/bin/other.rs", "fn main() {}\n")
    .file("pkg/examples/ex.rs", "fn main() {}\n")
    .file("pkg/examples/ex2.rs", "fn main() {}\n")
    .file("pkg/tests/t.rs", "")
    .file("pkg/benches/b.rs", "")
    .file("pkg/build.rs", "fn main() {}\n")
    .file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"pkg\", \"zed\", \"bar\", \"ren\", \"devonly\", \"unversioned\"]\nresolver = \"2\"\n",
    )
    .file("zed/Cargo.toml", &manifest("zed", METADATA, "[features]\nx = []\ndefault = []\n"))
    .file("zed/src/lib.rs", "")
    .basic("bar", "bar")
    .basic("ren", "ren")
    .basic("devonly", "devonly")
    .file("unversioned/Cargo.toml", &manifest("unversioned", METADATA, "[features]\nthing = []\n"))
    .file("unversioned/src/lib.rs", "");
    Case::new(&fx)
        .cwd("pkg")
        .args(&["--no-verify", "--offline", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .cwd("pkg")
        .args(&["--list", "--offline"])
        .assert_same();
    Case::new(&fx)
        .args(&[
            "--no-verify",
            "--offline",
            "--workspace",
            "--exclude",
            "unversioned",
        ])
        .assert_same();
}

#[test]
fn workspace_inheritance() {
    // §3.9 example: full inheritance, workspace.dependencies, lints, readme/license outside
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        r#"[workspace]
members = ["crates/*"]
resolver = "2"

[workspace.package]
version = "1.2.3"
authors = ["A <a@a>"]
edition = "2021"
rust-version = "1.75"
license = "MIT OR Apache-2.0"
description = "inherited"
homepage = "https://h.example"
repository = "https://r.example"
documentation = "https://d.example"
keywords = ["k1", "k2"]
categories = ["parsing"]
readme = "README.md"
publish = true
exclude = ["*.bak"]
include = []
license-file = "LICENSE"

[workspace.dependencies]
core-a = { path = "crates/core-a", version = "1.2.3", features = ["fa"] }
util-b = { path = "crates/util-b", version = "1.2.3" }

[workspace.lints.rust]
unsafe_code = "deny"

[workspace.lints.clippy]
all = { level = "warn", priority = -1 }

[profile.release]
codegen-units = 1
"#,
    )
    .file("README.md", "workspace readme\n")
    .file("LICENSE", "license text\n")
    .file(
        "crates/core-a/Cargo.toml",
        r#"[package]
name = "core-a"
version.workspace = true
authors.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
description.workspace = true
homepage.workspace = true
repository.workspace = true
keywords.workspace = true
categories.workspace = true
readme.workspace = true
publish.workspace = true
exclude.workspace = true

[features]
fa = []

[lints]
workspace = true
"#,
    )
    .file("crates/core-a/src/lib.rs", "")
    .file("crates/core-a/old.bak", "")
    .file(
        "crates/util-b/Cargo.toml",
        r#"[package]
name = "util-b"
version.workspace = true
edition.workspace = true
license-file.workspace = true
description = "own description"
documentation.workspace = true

[dependencies]
core-a = { workspace = true, optional = true, features = ["fa"] }

[dev-dependencies]
core-a.workspace = true

[features]
default = ["core-a"]
"#,
    )
    .file("crates/util-b/src/lib.rs", "")
    .file(
        "crates/app/Cargo.toml",
        r#"[package]
name = "app"
version.workspace = true
edition.workspace = true
description = "app"
license = "MIT"
repository.workspace = true

[dependencies]
util-b.workspace = true
core-a = { workspace = true, features = ["fa"] }
"#,
    )
    .file("crates/app/src/main.rs", "fn main() {}\n");
    let p = Case::new(&fx)
        .args(&["--no-verify", "--offline", "--workspace"])
        .assert_same();
    p.cargo_ok().crates_are(&[
        "app-1.2.3.crate",
        "core-a-1.2.3.crate",
        "util-b-1.2.3.crate",
    ]);
    Case::new(&fx)
        .args(&["--list", "--offline", "--workspace"])
        .assert_same();
    Case::new(&fx)
        .args(&[
            "--no-verify",
            "--offline",
            "--workspace",
            "--exclude-lockfile",
        ])
        .fresh_target()
        .assert_same();
}

#[test]
fn workspace_overrides_resolver() {
    // `workspace_overrides_resolver`
    let fx = Fixture::new();
    fx.file("Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"1\"\n")
        .file("a/Cargo.toml", "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\nrepository = \"r\"\n")
        .file("a/src/lib.rs", "")
        .file("b/Cargo.toml", "[package]\nname = \"b\"\nversion = \"0.1.0\"\nedition = \"2015\"\ndescription = \"d\"\nlicense = \"MIT\"\nrepository = \"r\"\n")
        .file("b/src/lib.rs", "");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--workspace"])
        .assert_same()
        .cargo_ok();
    for (edition, resolver) in [("2024", "2"), ("2021", "3"), ("2024", "3")] {
        let fx = Fixture::new();
        fx.file(
            "Cargo.toml",
            &format!("[workspace]\nmembers = [\"a\"]\nresolver = \"{resolver}\"\n"),
        )
        .file(
            "a/Cargo.toml",
            &format!(
                "[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"{edition}\"\n{METADATA}"
            ),
        )
        .file("a/src/lib.rs", "");
        Case::new(&fx).cwd("a").args(NV).assert_same().cargo_ok();
    }
}

#[test]
fn discovery_build_rs() {
    // `discovery_inferred_build_rs_included/_excluded`, `discovery_explicit_build_rs_included/_excluded`
    let mut checks = Checks::new();
    for (keys, files) in [
        (
            "include = [\"src/lib.rs\", \"build.rs\"]\n",
            &["build.rs"][..],
        ),
        ("include = [\"src/lib.rs\"]\n", &["build.rs"][..]),
        (
            "build = \"build.rs\"\ninclude = [\"src/lib.rs\", \"build.rs\"]\n",
            &["build.rs"][..],
        ),
        (
            "build = \"build.rs\"\ninclude = [\"src/lib.rs\"]\n",
            &["build.rs"][..],
        ),
        ("build = false\n", &["build.rs"][..]),
        ("build = \"tools/gen.rs\"\n", &["tools/gen.rs"][..]),
        ("build = [\"a.rs\", \"b.rs\"]\n", &["a.rs", "b.rs"][..]),
    ] {
        let fx = Fixture::new();
        fx.package("", "foo", &format!("{METADATA}{keys}"), "");
        for f in files {
            fx.file(f, "fn main() {}\n");
        }
        same(&mut checks, &fx, "");
    }
    checks.finish();
}

#[test]
fn discovery_targets() {
    // `discovery_inferred_lib_*`, `discovery_explicit_lib_*`, `discovery_inferred_other_*`,
    // `discovery_explicit_other_*`, `normalize_case` (unix part)
    let targets = [
        "src/lib.rs",
        "src/main.rs",
        "src/bin/a.rs",
        "src/bin/multi/main.rs",
        "examples/ex.rs",
        "examples/dir/main.rs",
        "tests/t.rs",
        "tests/dir/main.rs",
        "benches/b.rs",
    ];
    let mut checks = Checks::new();
    for (keys, extra) in [
        ("", ""),
        ("include = [\"src/lib.rs\"]\n", ""),
        ("include = [\"src/main.rs\", \"src/lib.rs\"]\n", ""),
        ("include = [\"src/bin/\", \"tests/\"]\n", ""),
        (
            "autobins = false\nautoexamples = false\nautotests = false\nautobenches = false\n",
            "",
        ),
        ("autolib = false\n", ""),
        (
            "",
            "[lib]\npath = \"src/lib.rs\"\n\n[[bin]]\nname = \"zz\"\npath = \"src/main.rs\"\n\n[[bin]]\nname = \"aa\"\npath = \"src/bin/a.rs\"\n\n[[example]]\nname = \"ex\"\n\n[[test]]\nname = \"t\"\nharness = false\n\n[[bench]]\nname = \"b\"\n",
        ),
        (
            "include = [\"src/lib.rs\"]\n",
            "[lib]\npath = \"src/lib.rs\"\n\n[[bin]]\nname = \"foo\"\npath = \"src/main.rs\"\n\n[[example]]\nname = \"ex\"\n\n[[test]]\nname = \"t\"\n\n[[bench]]\nname = \"b\"\n",
        ),
    ] {
        let fx = Fixture::new();
        fx.file(
            "Cargo.toml",
            &manifest("foo", &format!("{METADATA}{keys}"), extra),
        );
        for t in targets {
            fx.file(t, "fn main() {}\n");
        }
        same(&mut checks, &fx, "");
    }
    // Capitalised file names (`normalize_case` on a case-sensitive FS)
    let fx = Fixture::new();
    fx.file("Cargo.toml", &manifest("foo", METADATA, ""))
        .file("src/Main.rs", "fn main() {}\n")
        .file("Build.rs", "fn main() {}\n")
        .file("src/lib.rs", "");
    same(&mut checks, &fx, "");
    checks.finish();
}

#[test]
fn dependency_forms() {
    // `path_dependency_no_version`, `git_dependency_no_version`, `list_with_path_and_lock`,
    // `unpublished_cyclic_dev_dependencies`, `unpublished_dependency`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            METADATA,
            "[dependencies]\nbar = { path = \"../bar\" }\n",
        ),
    )
    .file("src/lib.rs", "")
    .file("../bar/Cargo.toml", &manifest("bar", METADATA, ""))
    .file("../bar/src/lib.rs", "");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("does not specify a version");
    Case::new(&fx)
        .args(&["--list", "--offline"])
        .assert_same()
        .cargo_ok();
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            METADATA,
            "[dependencies]\nbar = { git = \"https://example.com/bar\" }\n",
        ),
    )
    .file("src/lib.rs", "");
    Case::new(&fx)
        .args(NV)
        .assert_same()
        .cargo_fails_with("does not specify a version");
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            METADATA,
            "[dev-dependencies]\nfoo = { path = \".\", version = \"0.1.0\" }\n",
        ),
    )
    .file("src/lib.rs", "");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok();
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            METADATA,
            "[dependencies]\nbar = { path = \"bar\", version = \"0.1.0\" }\n",
        ),
    )
    .file("src/lib.rs", "")
    .basic("bar", "bar");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn registry_dependency_fields_no_lockfile() {
    // Normalisation of registry deps without needing the registry (`--exclude-lockfile`).
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "foo",
            METADATA,
            "[dependencies]\nserde = \"1.0\"\nrand = { version = \"0.8\", default_features = false, features = [\"std\"] }\nlog = { version = \"0.4\", optional = true }\nmy-cfg = { package = \"cfg-if\", version = \"1\" }\n\n[target.'cfg(target_os = \"linux\")'.dependencies]\nlibc = \"0.2\"\n\n[features]\nlogging = [\"dep:log\"]\n",
        ),
    )
    .file("src/lib.rs", "");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok();
}
