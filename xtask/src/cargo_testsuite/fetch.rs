//! Getting cargo's own test suite: the `cargo` crate's source (tests included) comes from
//! crates.io through a throwaway project and `cargo fetch`, is copied under the work dir and built
//! there with its own `Cargo.lock` (`--locked`). A stamp makes the next run skip all of it.
//!
//! Nothing of it is linked into gantry or committed: it is an external oracle that lives in
//! `target/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use super::{Env, capture};

/// The crate whose source is cargo 1.95.0 (its `.cargo_vcs_info.json` names this commit).
pub(super) const CARGO_CRATE_VERSION: &str = "0.96.0";
const CARGO_COMMIT_PREFIX: &str = "f2d3ce0bd";

/// A built test suite.
pub(super) struct Built {
    /// The unpacked crate (`tests/testsuite/` is read to select tests).
    pub src: PathBuf,
    /// The `testsuite` test binary.
    pub test_exe: PathBuf,
    /// Where the suite spawns "cargo": cargo-test-support's tests use
    /// `snapbox::cmd::cargo_bin!("cargo")`, i.e. `env!("CARGO_BIN_EXE_cargo")` baked in at compile
    /// time, which is the `cargo` binary of the same build. The shim goes here.
    pub cargo_bin: PathBuf,
}

/// Fetches and builds the suite unless the stamp says this toolchain already did.
pub(super) fn prepare(work: &Path, env: &Env) -> Result<Built, String> {
    let stamp = work.join("build-stamp.json");
    let key = format!(
        "cargo {CARGO_CRATE_VERSION}, no debuginfo\n{}",
        env.rustc_version
    );
    if let Some(built) = read_stamp(&stamp, &key) {
        eprintln!(
            "== cargo test suite: cached build ({})",
            built.test_exe.display()
        );
        return Ok(built);
    }
    let src = fetch_source(work, env)?;
    let built = build(&src, &work.join("build"), env)?;
    let json = serde_json::json!({
        "key": key,
        "src": built.src,
        "test_exe": built.test_exe,
        "cargo_bin": built.cargo_bin,
    });
    fs::write(&stamp, json.to_string()).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(built)
}

fn read_stamp(stamp: &Path, key: &str) -> Option<Built> {
    let v: Value = serde_json::from_slice(&fs::read(stamp).ok()?).ok()?;
    if v["key"].as_str()? != key {
        return None;
    }
    let path = |k: &str| v[k].as_str().map(PathBuf::from);
    let built = Built {
        src: path("src")?,
        test_exe: path("test_exe")?,
        cargo_bin: path("cargo_bin")?,
    };
    (built.test_exe.is_file() && built.src.join("tests/testsuite").is_dir()).then_some(built)
}

/// Downloads `cargo = "=VERSION"` with cargo itself (checksums verified against the index) and
/// copies its unpacked source to `<work>/cargo-VERSION`.
fn fetch_source(work: &Path, env: &Env) -> Result<PathBuf, String> {
    eprintln!(
        "== fetching the cargo {CARGO_CRATE_VERSION} crate (cargo 1.95.0's source and tests)"
    );
    let project = work.join("fetch");
    fs::create_dir_all(project.join("src")).map_err(|e| format!("{}: {e}", project.display()))?;
    let manifest = format!(
        "[package]\nname = \"fetch-cargo-testsuite\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\ncargo = \"={CARGO_CRATE_VERSION}\"\n\n\
         # Not a member of the gantry workspace this directory sits in.\n[workspace]\n"
    );
    write(&project.join("Cargo.toml"), &manifest)?;
    write(&project.join("src/lib.rs"), "")?;
    let manifest_path = project.join("Cargo.toml");
    let status = env
        .cargo_cmd()
        .arg("fetch")
        .arg("--manifest-path")
        .arg(&manifest_path)
        .status()
        .map_err(|e| format!("cargo fetch: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo fetch of cargo@{CARGO_CRATE_VERSION} failed ({status}); it needs crates.io once"
        ));
    }
    let out = capture(
        env.cargo_cmd()
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(&manifest_path),
    )?;
    let meta: Value = serde_json::from_str(&out).map_err(|e| format!("cargo metadata: {e}"))?;
    let registry_dir = meta["packages"]
        .as_array()
        .and_then(|ps| {
            ps.iter().find(|p| {
                p["name"] == "cargo"
                    && p["version"] == CARGO_CRATE_VERSION
                    && p["source"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
            })
        })
        .and_then(|p| p["manifest_path"].as_str())
        .and_then(|m| Path::new(m).parent().map(Path::to_owned))
        .ok_or("cargo metadata does not list the registry package cargo")?;
    check_commit(&registry_dir)?;

    let dest = work.join(format!("cargo-{CARGO_CRATE_VERSION}"));
    if dest.exists() {
        fs::remove_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    copy_tree(&registry_dir, &dest)?;
    // The copy lives inside gantry's `target/`, below gantry's workspace root: an empty
    // `[workspace]` keeps cargo from treating it as a stray member of that workspace.
    let manifest = dest.join("Cargo.toml");
    let mut text =
        fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    text.push_str("\n[workspace]\n");
    write(&manifest, &text)?;
    keep_mtime(&registry_dir.join("Cargo.toml"), &manifest)?;
    Ok(dest)
}

fn check_commit(dir: &Path) -> Result<(), String> {
    let path = dir.join(".cargo_vcs_info.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match v["git"]["sha1"].as_str() {
        Some(sha) if sha.starts_with(CARGO_COMMIT_PREFIX) => Ok(()),
        other => Err(format!(
            "{} names commit {other:?}, expected cargo 1.95.0's {CARGO_COMMIT_PREFIX}",
            path.display()
        )),
    }
}

/// `cargo test --test testsuite --no-run --locked` with the crate's own lockfile.
fn build(src: &Path, target_dir: &Path, env: &Env) -> Result<Built, String> {
    eprintln!(
        "== building cargo's test suite in {} (once; long on a small machine)",
        src.display()
    );
    let mut child = env
        .cargo_cmd()
        .args(["test", "--test", "testsuite", "--no-run", "--locked"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--target-dir")
        .arg(target_dir)
        // A one-time build whose failures are read from assertion messages, not debuggers: no
        // debuginfo and no incremental state make it faster and a fraction of the size.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env("CARGO_INCREMENTAL", "0")
        .current_dir(src)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cargo test --no-run: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut test_exe = None;
    let mut cargo_bin = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let exe = msg["executable"].as_str().map(PathBuf::from);
        let target = &msg["target"];
        let is_bin = target["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "bin"));
        if target["name"] == "testsuite" && msg["profile"]["test"] == true {
            test_exe = exe;
        } else if target["name"] == "cargo" && is_bin {
            cargo_bin = exe;
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cargo test --no-run: {e}"))?;
    if !status.success() {
        return Err(format!("building cargo's test suite failed ({status})"));
    }
    Ok(Built {
        src: src.to_owned(),
        test_exe: test_exe.ok_or("cargo did not report the testsuite test binary")?,
        cargo_bin: cargo_bin.ok_or("cargo did not report its own cargo binary")?,
    })
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let entries = fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", src.display()))?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| format!("{}: {e}", src.display()))?;
            keep_mtime(&src, &dst)?;
        }
    }
    Ok(())
}

/// Copies keep their source's modification time, so fetching again does not make cargo rebuild.
fn keep_mtime(src: &Path, dst: &Path) -> Result<(), String> {
    let mtime = fs::metadata(src)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{}: {e}", src.display()))?;
    fs::File::options()
        .write(true)
        .open(dst)
        .and_then(|f| f.set_modified(mtime))
        .map_err(|e| format!("{}: {e}", dst.display()))
}

pub(super) fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
