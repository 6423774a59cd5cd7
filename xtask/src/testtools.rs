//! The servers the registry tests and benchmark start: s3s-fs (installed here on demand) and
//! Debian's PostgreSQL 15 (checked, never installed: that needs root and apt).
//!
//! The tests find s3s-fs through `GANTRY_S3S_FS`, then `PATH`, then
//! `<workspace>/target/test-tools/bin/s3s-fs` (crates/gantry-registry/tests/common/services.rs);
//! `ensure` installs it at the last of those places when none has it, and exports
//! `GANTRY_S3S_FS` for the commands it runs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The version the tests are written against; later releases need a newer rustc than ours.
pub const S3S_FS_VERSION: &str = "0.14.1";
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Where s3s-fs is, installing it into `target/test-tools` if it is nowhere to be found.
pub fn ensure_s3s_fs(repo: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("GANTRY_S3S_FS") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(format!(
            "GANTRY_S3S_FS={} is not a file; point it at an s3s-fs {S3S_FS_VERSION} binary or unset it",
            p.display()
        ));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("s3s-fs");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let root = repo.join("target/test-tools");
    let bin = root.join("bin/s3s-fs");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!(
        "== installing s3s-fs {S3S_FS_VERSION} into {} (one time, a few minutes)",
        root.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["install", "--root"])
        .arg(&root)
        .arg(format!("s3s-fs@{S3S_FS_VERSION}"))
        .args(["--features", "binary", "--locked"])
        .status()
        .map_err(|e| format!("running cargo install s3s-fs: {e}"))?;
    if !status.success() || !bin.is_file() {
        return Err(format!(
            "cargo install s3s-fs@{S3S_FS_VERSION} failed ({status}); it needs network access to \
             crates.io once. Or install it elsewhere and set GANTRY_S3S_FS to the binary"
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

/// Both servers ready; returns the environment the test and bench processes need.
pub fn prepare(repo: &Path) -> Result<Vec<(String, String)>, String> {
    check_postgres()?;
    let s3s = ensure_s3s_fs(repo)?;
    Ok(vec![("GANTRY_S3S_FS".into(), s3s.display().to_string())])
}

/// `cargo <args…>` with the test servers' environment; fails when cargo fails.
pub fn cargo_with_services(repo: &Path, args: &[String]) -> Result<(), String> {
    let env = prepare(repo)?;
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
