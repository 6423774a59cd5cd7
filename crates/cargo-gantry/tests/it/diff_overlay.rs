//! Real-workspace differential fixtures for what the overlay, the resolver and verification must do
//! as cargo does: a sibling the registry already has in a newer compatible version, a sibling version
//! already published with another checksum, a committed lockfile (and the index updates it causes),
//! members with only tests, a crate's own `[profile]`, `--exclude-lockfile` with verification and
//! `build.build-dir`. The registry is a local sparse registry both tools read (`support::registry`).

mod support;
use support::registry::LocalRegistry;
use support::*;

/// `publish = ["local"]` plus complete metadata.
const LOCAL: &str = "description = \"d\"\nlicense = \"MIT\"\nrepository = \"https://example.com/r\"\npublish = [\"local\"]\n";

/// `a` depends on sibling `b` (path + version, from `local`); `b` is 0.1.0 in the workspace.
fn a_uses_b(fx: &Fixture, reg: &LocalRegistry) {
    fx.file(".cargo/config.toml", &reg.config("local"))
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
        )
        .package(
            "a",
            "a",
            LOCAL,
            "[dependencies]\nb = { path = \"../b\", version = \"0.1.0\", registry = \"local\" }\n",
        )
        .file("a/src/lib.rs", "pub fn g() -> u32 { b::f() + 1 }\n")
        .package("b", "b", LOCAL, "");
}

/// The packaged `Cargo.lock` of `file` in cargo's outcome.
fn cargo_lock(pair: &Pair, file: &str) -> String {
    let prefix = file.trim_end_matches(".crate");
    String::from_utf8(pair.cargo.entry(file, &format!("{prefix}/Cargo.lock"))).unwrap()
}

#[test]
fn newer_compatible_sibling_on_the_registry_wins() {
    // regex's workspace: the registry has regex-automata 0.4.19, the workspace 0.4.16; cargo locks
    // the registry's newer version into the dependent's lockfile and verifies against it.
    let reg = LocalRegistry::start();
    reg.publish("b", "0.1.0", &[], "pub fn f() -> u32 { 0 }\n");
    reg.publish("b", "0.1.5", &[], "pub fn f() -> u32 { 5 }\n");
    let fx = Fixture::new();
    a_uses_b(&fx, &reg);
    let pair = Case::new(&fx).args(&["--workspace"]).assert_same();
    pair.cargo_ok()
        .crates_are(&["a-0.1.0.crate", "b-0.1.0.crate"])
        .stderr_contains("Downloaded b v0.1.5 (registry `local`)");
    let lock = cargo_lock(&pair, "a-0.1.0.crate");
    assert!(
        lock.contains("name = \"b\"\nversion = \"0.1.5\""),
        "cargo locked the registry's newer sibling:\n{lock}"
    );
}

#[test]
fn unpublished_sibling_comes_from_the_overlay() {
    // Nothing compatible on the registry: the sibling's new archive is the only candidate, and the
    // verification build unpacks it from cargo's overlay.
    let reg = LocalRegistry::start();
    reg.publish("b", "0.0.9", &[], "pub fn f() -> u32 { 0 }\n");
    let fx = Fixture::new();
    a_uses_b(&fx, &reg);
    let pair = Case::new(&fx).args(&["--workspace"]).assert_same();
    pair.cargo_ok().stderr_contains("/package/tmp-registry`)");
    assert!(cargo_lock(&pair, "a-0.1.0.crate").contains("name = \"b\"\nversion = \"0.1.0\""));
}

#[test]
fn committed_lockfile_and_its_index_updates() {
    // With a committed lockfile cargo resolves the workspace first (`Updating `local` index`), keeps
    // what is locked (b 0.1.0 stays, although 0.1.5 exists) and says so once.
    let reg = LocalRegistry::start();
    reg.publish("b", "0.1.5", &[], "pub fn f() -> u32 { 5 }\n");
    reg.publish("c", "1.0.0", &[], "pub fn c() {}\n");
    let fx = Fixture::new();
    a_uses_b(&fx, &reg);
    fx.file(
        "a/Cargo.toml",
        &manifest(
            "a",
            LOCAL,
            "[dependencies]\nb = { path = \"../b\", version = \"0.1.0\", registry = \"local\" }\nc = { version = \"1\", registry = \"local\" }\n",
        ),
    );
    lock_workspace(&fx);
    let pair = Case::new(&fx)
        .args(&["--workspace", "--no-verify"])
        .assert_same();
    pair.cargo_ok().stderr_contains("Updating `local` index");
    let lock = cargo_lock(&pair, "a-0.1.0.crate");
    assert!(lock.contains("name = \"c\"\nversion = \"1.0.0\""), "{lock}");
    // (Verifying here would compile b and c in cargo's unordered parallel schedule; the
    // verification of registry siblings is covered above.)
}

#[test]
fn sibling_published_with_another_checksum() {
    // cargo's `checksum_changed`: the lockfile already has dep 1.0.0 from the registry (through
    // `transitive`), and the freshly packaged dep 1.0.0 has another checksum.
    let reg = LocalRegistry::start();
    reg.publish("dep", "1.0.0", &[], "");
    reg.publish("transitive", "1.0.0", &[("dep", "1.0.0")], "");
    let fx = Fixture::new();
    fx.file(".cargo/config.toml", &reg.config("local"))
        .file(
            "Cargo.toml",
            &format!(
                "[workspace]\nmembers = [\"dep\"]\n\n{}[dependencies]\ndep = {{ path = \"./dep\", version = \"1.0.0\", registry = \"local\" }}\ntransitive = {{ version = \"1.0.0\", registry = \"local\" }}\n",
                manifest("foo", LOCAL, "")
            ),
        )
        .file("src/lib.rs", "")
        .file(
            "dep/Cargo.toml",
            &manifest("dep", LOCAL, "").replace("version = \"0.1.0\"", "version = \"1.0.0\""),
        )
        .file("dep/src/lib.rs", "");
    lock_workspace(&fx);
    Case::new(&fx)
        .args(&["--workspace"])
        .assert_same()
        .cargo_fails_with(
            "checksum for `dep v1.0.0 (registry `local`)` changed between lock files",
        );
}

#[test]
fn test_and_bench_only_members() {
    // Members with nothing but `[[test]]` / `[[bench]]` targets load, package and verify.
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"lib\", \"it\", \"perf\"]\nresolver = \"2\"\n",
    )
    .basic("lib", "lib")
    .file("it/Cargo.toml", &manifest("it", METADATA, ""))
    .file("it/tests/smoke.rs", "#[test]\nfn smoke() {}\n")
    .file(
        "perf/Cargo.toml",
        &manifest(
            "perf",
            METADATA,
            "[[bench]]\nname = \"speed\"\nharness = false\n",
        ),
    )
    .file("perf/benches/speed.rs", "fn main() {}\n");
    Case::new(&fx)
        .args(&["--workspace", "--offline"])
        .assert_same()
        .cargo_ok()
        .crates_are(&["it-0.1.0.crate", "lib-0.1.0.crate", "perf-0.1.0.crate"]);
    Case::new(&fx)
        .args(&["-p", "lib", "--list", "--offline"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn a_crates_own_profile_is_verified() {
    // The verified crate is built with its own `[profile]`: here it only compiles without debug
    // assertions, which its dev profile turns off.
    let fx = Fixture::new();
    fx.package(
        "",
        "foo",
        METADATA,
        "[profile.dev]\ndebug-assertions = false\nopt-level = 1\n",
    )
    .file(
        "src/lib.rs",
        "#[cfg(debug_assertions)]\ncompile_error!(\"verified without the crate's profile\");\npub fn f() {}\n",
    );
    Case::new(&fx)
        .args(&["--offline"])
        .assert_same()
        .cargo_ok()
        .stderr_contains("Finished `dev` profile [optimized + debuginfo]");
}

#[test]
fn exclude_lockfile_verifies() {
    // The build writes a Cargo.lock into the unpacked crate; cargo's ephemeral workspace never
    // does, so this is not a source modification.
    let reg = LocalRegistry::start();
    reg.publish("b", "0.1.5", &[], "pub fn f() -> u32 { 5 }\n");
    let fx = Fixture::new();
    a_uses_b(&fx, &reg);
    Case::new(&fx)
        .args(&["--workspace", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok()
        .entries_are(
            "a-0.1.0.crate",
            &["Cargo.toml", "Cargo.toml.orig", "src/lib.rs"],
        );
    let fx = Fixture::new();
    fx.basic("", "foo");
    Case::new(&fx)
        .args(&["--offline", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn build_dir_with_a_template() {
    // `build.build-dir` named by template: the overlay, the unpacked crates and their build all go
    // there, for both tools alike (each tool has its own CARGO_HOME, so its own build dir).
    let reg = LocalRegistry::start();
    let fx = Fixture::new();
    a_uses_b(&fx, &reg);
    fx.file(
        ".cargo/config.toml",
        &format!(
            "{}\n[build]\nbuild-dir = \"{{cargo-cache-home}}/build\"\n",
            reg.config("local")
        ),
    );
    Case::new(&fx)
        .args(&["--workspace"])
        .assert_same()
        .cargo_ok()
        .stderr_contains("([CARGO_HOME]/build/package/a-0.1.0)");
    assert!(
        fx.scratch()
            .join("home-gantry/build/package/tmp-registry/index/1/b")
            .is_file()
    );
    // `{workspace-path-hash}`, cargo's own hash of the workspace path.
    fx.file(
        ".cargo/config.toml",
        &format!(
            "{}\n[build]\nbuild-dir = \"{{cargo-cache-home}}/build/{{workspace-path-hash}}\"\n",
            reg.config("local")
        ),
    );
    Case::new(&fx)
        .args(&["--workspace"])
        .assert_same()
        .cargo_ok()
        .stderr_contains("([CARGO_HOME]/build/");
}

#[test]
fn verbose_notes_packages_the_packaged_lock_takes_from_elsewhere() {
    // cargo's `note_resolve_changes`: a path dependency with a version and a `[patch]`ed package
    // are locked by path in the workspace and from the registry in the packaged lockfile; `-v`
    // notes both with the directory they came from. A registry package that stays is not noted.
    let reg = LocalRegistry::start();
    for (name, version) in [
        ("multi", "0.1.0"),
        ("updated", "1.0.0"),
        ("patched", "1.0.0"),
    ] {
        reg.publish(name, version, &[], "");
    }
    let fx = Fixture::new();
    fx.file(".cargo/config.toml", &reg.config("local"))
        .package(
            "",
            "foo",
            LOCAL,
            "[dependencies]\nmulti = { path = \"multi\", version = \"0.1\", registry = \"local\" }\nupdated = { version = \"1.0\", registry = \"local\" }\npatched = { version = \"1.0\", registry = \"local\" }\n\n[patch.local]\npatched = { path = \"patched\" }\n",
        )
        .package("multi", "multi", LOCAL, "")
        .package("patched", "patched", LOCAL, "");
    fx.file(
        "patched/Cargo.toml",
        &manifest("patched", LOCAL, "").replace("version = \"0.1.0\"", "version = \"1.0.0\""),
    );
    lock_workspace(&fx);
    reg.publish("updated", "1.0.1", &[], "");
    let pair = Case::new(&fx).args(&["--no-verify", "-v"]).assert_same();
    let root = fx.root();
    for name in ["multi", "patched"] {
        let version = if name == "multi" { "0.1.0" } else { "1.0.0" };
        pair.cargo_ok().stderr_contains(&format!(
            "note: package `{name} v{version} (registry `local`)` added to the packaged Cargo.lock file, was originally sourced from `{}`\n",
            root.join(name).display()
        ));
    }
    assert!(
        !pair.cargo.stderr.contains("`updated"),
        "{}",
        pair.cargo.stderr
    );
}

/// Commits a lockfile for the fixture's workspace, resolved by cargo against the fixture's
/// registries with a scratch `CARGO_HOME`.
fn lock_workspace(fx: &Fixture) {
    let home = fx.scratch().join("home-lock");
    let out = gantry_test_support::cargo::cargo_command()
        .arg("generate-lockfile")
        .current_dir(fx.root())
        .env("CARGO_HOME", &home)
        .output()
        .expect("cargo generate-lockfile");
    assert!(
        out.status.success(),
        "cargo generate-lockfile failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
