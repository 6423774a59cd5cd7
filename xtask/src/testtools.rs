//! The servers the tests and benchmark start: s3s-fs and ktra (installed here on demand) and
//! Debian's PostgreSQL 15 (checked, never installed: that needs root and apt).
//!
//! The tests find s3s-fs through `GANTRY_S3S_FS`, then `PATH`, then
//! `<workspace>/target/test-tools/bin/s3s-fs` (crates/gantry-registry/tests/common/services.rs),
//! and ktra, the git-index registry of the interop test, the same way through `GANTRY_KTRA`
//! (crates/cargo-gantry/tests/interop_ktra.rs). `prepare` installs each at the last of those places
//! when none has it, and exports the variables for the commands it runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The version the tests are written against; later releases need a newer rustc than ours.
pub const S3S_FS_VERSION: &str = "0.14.1";
/// The ktra release the interop test runs (its latest; it builds with `--locked` on Rust 1.95).
pub const KTRA_VERSION: &str = "0.7.0";
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A tool the tests run: where to look for it and how to install it.
struct Tool {
    bin: &'static str,
    env: &'static str,
    version: &'static str,
    /// `cargo install` arguments after `--root DIR`.
    install: &'static [&'static str],
}

const S3S_FS: Tool = Tool {
    bin: "s3s-fs",
    env: "GANTRY_S3S_FS",
    version: S3S_FS_VERSION,
    install: &["s3s-fs@0.14.1", "--features", "binary", "--locked"],
};

const KTRA: Tool = Tool {
    bin: "ktra",
    env: "GANTRY_KTRA",
    version: KTRA_VERSION,
    install: &["ktra", "--version", "=0.7.0", "--locked"],
};

/// Where s3s-fs is, installing it into `target/test-tools` if it is nowhere to be found.
pub fn ensure_s3s_fs(repo: &Path) -> Result<PathBuf, String> {
    ensure(repo, &S3S_FS)
}

/// Where ktra is, installing it into `target/test-tools` if it is nowhere to be found.
pub fn ensure_ktra(repo: &Path) -> Result<PathBuf, String> {
    ensure(repo, &KTRA)
}

fn ensure(repo: &Path, tool: &Tool) -> Result<PathBuf, String> {
    let Tool {
        bin: name,
        env,
        version,
        ..
    } = tool;
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(format!(
            "{env}={} is not a file; point it at a {name} {version} binary or unset it",
            p.display()
        ));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let root = repo.join("target/test-tools");
    let bin = root.join("bin").join(name);
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!(
        "== installing {name} {version} into {} (one time, a few minutes)",
        root.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["install", "--root"])
        .arg(&root)
        .args(tool.install)
        .status()
        .map_err(|e| format!("running cargo install {name}: {e}"))?;
    if !status.success() || !bin.is_file() {
        return Err(format!(
            "`cargo install --root {} {}` failed ({status}); it needs network access to crates.io \
             once. Or install it elsewhere and set {env} to the binary",
            root.display(),
            tool.install.join(" ")
        ));
    }
    Ok(bin)
}

/// PostgreSQL 15's server binaries, or how to get them.
pub fn check_postgres() -> Result<(), String> {
    for tool in [
        "initdb",
        "postgres",
        "pg_ctl",
        "psql",
        "pg_isready",
        "pg_dump",
        "pg_restore",
    ] {
        let p = Path::new(PG_BIN).join(tool);
        if !p.is_file() {
            return Err(format!(
                "PostgreSQL 15 is missing ({} not found); install Debian's package: `apt-get \
                 install postgresql-15`",
                p.display()
            ));
        }
    }
    Ok(())
}

/// The servers ready (ktra only for the test suite: the benchmark does not run it); returns the
/// environment the test and bench processes need.
pub fn prepare(repo: &Path, with_ktra: bool) -> Result<Vec<(String, String)>, String> {
    check_postgres()?;
    let s3s = ensure_s3s_fs(repo)?;
    let mut env = vec![(S3S_FS.env.into(), s3s.display().to_string())];
    if with_ktra {
        let ktra = ensure_ktra(repo)?;
        env.push((KTRA.env.into(), ktra.display().to_string()));
    }
    Ok(env)
}

/// `cargo <args…>` with the test servers' environment; fails when cargo fails.
pub fn cargo_with_services(repo: &Path, args: &[String], with_ktra: bool) -> Result<(), String> {
    let env = prepare(repo, with_ktra)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(repo);
    for (k, v) in env {
        cmd.env(k, v);
    }
    eprintln!("== cargo {}", args.join(" "));
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo {} failed ({status})", args.join(" ")))
    }
}
