//! Differential fixtures for cargo's check of the packaged `Cargo.lock` for yanked versions: each
//! registry the lockfile locks packages from is updated between `Packaging` and `Packaged` and a
//! locked version it lists as yanked gets a warning — by the registry's own name, or `crates-io`
//! when `[source]` puts a registry in crates.io's place. The registry is a local sparse registry
//! both tools read (`support::registry`), with a version yanked after the lockfile was written.

mod support;
use support::registry::LocalRegistry;
use support::*;

/// Depends on `bar = "0.1"` from `registry` (`None`: crates.io).
fn foo_uses_bar(fx: &Fixture, config: &str, registry: Option<&str>) {
    let dep = match registry {
        Some(name) => format!("bar = {{ version = \"0.1\", registry = \"{name}\" }}\n"),
        None => "bar = \"0.1\"\n".to_owned(),
    };
    fx.file(".cargo/config.toml", config).file(
        "Cargo.toml",
        &manifest("foo", METADATA, &format!("[dependencies]\n{dep}")),
    );
    fx.file("src/main.rs", "fn main() {}\n");
}

/// `cargo generate-lockfile` with a `CARGO_HOME` of its own, as a committed lockfile would be.
fn lock_workspace(fx: &Fixture) {
    let out = std::process::Command::new(reference_cargo())
        .arg("generate-lockfile")
        .current_dir(fx.root())
        .env("CARGO_HOME", fx.scratch().join("home-lock"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo generate-lockfile");
    assert!(
        out.status.success(),
        "cargo generate-lockfile failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lines of cargo's stderr from `Packaging` on: what the check adds sits in this stretch.
fn from_packaging(pair: &Pair) -> Vec<&str> {
    pair.cargo
        .stderr
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Packaging"))
        .collect()
}

const WARNING: &str = "warning: package `bar v0.1.0 (registry `local`)` in Cargo.lock is yanked in registry `local`, consider updating to a version that is not yanked";

#[test]
fn a_locked_version_yanked_since_is_warned_about() {
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    let fx = Fixture::new();
    foo_uses_bar(&fx, &reg.config("local"), Some("local"));
    lock_workspace(&fx);
    reg.yank("bar", "0.1.0");
    // The lockfile keeps the yanked version although a newer compatible one exists.
    reg.publish("bar", "0.1.1", &[], "");
    let pair = Case::new(&fx).args(&["--no-verify"]).assert_same();
    pair.cargo_ok();
    let lines = from_packaging(&pair);
    assert_eq!(
        lines.iter().map(|l| l.trim_start()).collect::<Vec<_>>()[..3],
        [lines[0].trim_start(), "Updating `local` index", WARNING],
        "{}",
        pair.cargo.stderr
    );
    assert!(lines[3].trim_start().starts_with("Packaged"));
}

#[test]
fn nothing_is_said_when_nothing_is_yanked() {
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    reg.publish("bar", "0.1.1", &[], "");
    reg.yank("bar", "0.1.1");
    let fx = Fixture::new();
    foo_uses_bar(&fx, &reg.config("local"), Some("local"));
    lock_workspace(&fx);
    let pair = Case::new(&fx).args(&["--no-verify"]).assert_same();
    pair.cargo_ok().stderr_contains("Updating `local` index");
    assert!(
        !pair.cargo.stderr.contains("yanked"),
        "{}",
        pair.cargo.stderr
    );
}

#[test]
fn a_replaced_crates_io_is_named_crates_io_in_the_warning() {
    // cargo's own test suite setup: crates.io replaced by a registry. The update names the
    // replacement, the warning the source the lockfile records.
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    let fx = Fixture::new();
    let config = format!(
        "[source.crates-io]\nreplace-with = \"dummy\"\n\n{}",
        reg.config("dummy")
    );
    foo_uses_bar(&fx, &config, None);
    lock_workspace(&fx);
    reg.yank("bar", "0.1.0");
    let pair = Case::new(&fx).args(&["--no-verify"]).assert_same();
    pair.cargo_ok()
        .stderr_contains("Updating `dummy` index")
        .stderr_contains(
            "warning: package `bar v0.1.0` in Cargo.lock is yanked in registry `crates-io`, consider updating to a version that is not yanked",
        );
}

#[test]
fn a_sparse_index_is_asked_again_for_every_packaged_lockfile() {
    // Two members lock the same yanked version: each packaged lockfile has its own check, and a
    // sparse index is asked (and says so) for each.
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    let fx = Fixture::new();
    let dep = "[dependencies]\nbar = { version = \"0.1\", registry = \"local\" }\n";
    fx.file(".cargo/config.toml", &reg.config("local"))
        .file(
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
        )
        .package("a", "a", METADATA, dep)
        .package("b", "b", METADATA, dep);
    lock_workspace(&fx);
    reg.yank("bar", "0.1.0");
    let pair = Case::new(&fx)
        .args(&["--workspace", "--no-verify"])
        .assert_same();
    pair.cargo_ok();
    let lines = from_packaging(&pair);
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("Updating `local` index"), 2, "{}", pair.cargo.stderr);
    assert_eq!(count(WARNING), 2, "{}", pair.cargo.stderr);
}

#[test]
fn without_a_packaged_lockfile_there_is_no_check() {
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    let fx = Fixture::new();
    foo_uses_bar(&fx, &reg.config("local"), Some("local"));
    lock_workspace(&fx);
    reg.yank("bar", "0.1.0");
    let pair = Case::new(&fx)
        .args(&["--no-verify", "--exclude-lockfile"])
        .assert_same();
    pair.cargo_ok();
    assert!(
        !pair.cargo.stderr.contains("yanked"),
        "{}",
        pair.cargo.stderr
    );
}

#[test]
fn an_unreachable_index_fails_the_packaging() {
    // A first run fills both tools' index caches; with the registry gone, the resolution still
    // works from them, and the check's update fails the packaging (cargo's curl and gantry's HTTP
    // client word the innermost cause differently; everything above it is the same).
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    let fx = Fixture::new();
    let config = format!("{}\n[net]\nretry = 0\n", reg.config("local"));
    foo_uses_bar(&fx, &config, Some("local"));
    lock_workspace(&fx);
    Case::new(&fx)
        .args(&["--no-verify"])
        .assert_same()
        .cargo_ok();
    drop(reg);
    let pair = Case::new(&fx).args(&["--no-verify"]).run();
    assert_eq!(pair.cargo.code, Some(101), "{}", pair.cargo.stderr);
    assert_eq!(pair.gantry.code, pair.cargo.code, "{}", pair.gantry.stderr);
    let head = |o: &Outcome| -> Vec<String> {
        let lines: Vec<String> = o.stderr.lines().map(str::to_owned).collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("error: "))
            .unwrap_or(lines.len());
        // Everything before the error, the error, and its first two causes (`download of
        // config.json failed`, `failed to download from <url>`).
        lines.into_iter().take(at + 7).collect()
    };
    assert_eq!(
        head(&pair.gantry),
        head(&pair.cargo),
        "\n--- cargo ---\n{}\n--- gantry ---\n{}",
        pair.cargo.stderr,
        pair.gantry.stderr
    );
    assert!(
        pair.cargo
            .stderr
            .contains("error: failed to prepare local package for uploading"),
        "{}",
        pair.cargo.stderr
    );
    assert!(pair.gantry.crates.is_empty() || pair.gantry.crates == pair.cargo.crates);
}

#[test]
fn offline_the_answer_comes_from_cargos_cache_of_the_index() {
    // A first run fetches the index (the version is yanked by then) into each tool's cache;
    // offline, cargo answers from that cache without an `Updating` line, and so does gantry.
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    let fx = Fixture::new();
    foo_uses_bar(&fx, &reg.config("local"), Some("local"));
    lock_workspace(&fx);
    reg.yank("bar", "0.1.0");
    Case::new(&fx)
        .args(&["--no-verify"])
        .assert_same()
        .stderr_contains(WARNING);
    drop(reg);
    for offline in [&["--offline"][..], &["--frozen"]] {
        let pair = Case::new(&fx)
            .args(&["--no-verify"])
            .args(offline)
            .assert_same();
        pair.cargo_ok().stderr_contains(WARNING);
        assert!(
            !pair.cargo.stderr.contains("Updating"),
            "{}",
            pair.cargo.stderr
        );
    }
}

#[test]
fn vendored_registry_crates_are_not_looked_up() {
    // `cargo vendor` replaces the registry with a directory: cargo never asks the registry (here
    // gone) whether a vendored version is yanked, and neither does gantry.
    let reg = LocalRegistry::start();
    reg.publish("bar", "0.1.0", &[], "");
    let fx = Fixture::new();
    foo_uses_bar(&fx, &reg.config("local"), Some("local"));
    lock_workspace(&fx);
    let out = std::process::Command::new(reference_cargo())
        .arg("vendor")
        .current_dir(fx.root())
        .env("CARGO_HOME", fx.scratch().join("home-lock"))
        .output()
        .expect("cargo vendor");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vendored = String::from_utf8(out.stdout).unwrap();
    assert!(vendored.contains("replace-with"), "{vendored}");
    fx.file(
        ".cargo/config.toml",
        &format!("{}\n{vendored}", reg.config("local")),
    );
    reg.yank("bar", "0.1.0");
    drop(reg);
    let pair = Case::new(&fx).args(&["--no-verify"]).assert_same();
    pair.cargo_ok();
    assert!(
        !pair.cargo.stderr.contains("Updating"),
        "{}",
        pair.cargo.stderr
    );
    assert!(
        !pair.cargo.stderr.contains("yanked"),
        "{}",
        pair.cargo.stderr
    );
}
