//! The servers the tests and benchmark start: s3s-fs and ktra (installed here on demand) and
//! Debian's PostgreSQL 15 (checked, never installed: that needs root and apt).
//!
//! Which versions, and where the tests look for them (`$GANTRY_S3S_FS` / `$GANTRY_KTRA`, then
//! `PATH`, then `<workspace>/target/test-tools/bin/`), is `gantry_test_support::tools`, shared with
//! the tests so the pins cannot drift apart. `prepare` installs a tool at the last of those places
//! when none has it, and exports the variables for the commands it runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_test_support::tools::{self, KTRA, S3S_FS, Tool, ToolError};

/// Where the tool is, installing it into `target/test-tools` if it is nowhere to be found.
fn ensure(repo: &Path, tool: &Tool) -> Result<PathBuf, String> {
    match tools::find(tool) {
        Ok(p) => return Ok(p),
        Err(ToolError::Missing { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    let root = repo.join("target/test-tools");
    let bin = root.join("bin").join(tool.bin);
    eprintln!(
        "== installing {} {} into {} (one time, a few minutes)",
        tool.bin,
        tool.version,
        root.display()
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let args = tool.install_args();
    let status = Command::new(cargo)
        .args(["install", "--root"])
        .arg(&root)
        .args(&args)
        .status()
        .map_err(|e| format!("running cargo install {}: {e}", tool.bin))?;
    if !status.success() || !bin.is_file() {
        return Err(format!(
            "`cargo install --root {} {}` failed ({status}); it needs network access to crates.io \
             once. Or install it elsewhere and set {} to the binary",
            root.display(),
            args.join(" "),
            tool.env
        ));
    }
    Ok(bin)
}

/// The servers ready (ktra only for the test suite: the benchmark does not run it); returns the
/// environment the test and bench processes need.
pub(crate) fn prepare(repo: &Path, with_ktra: bool) -> Result<Vec<(String, String)>, String> {
    tools::check_postgres().map_err(|e| e.to_string())?;
    let s3s = ensure(repo, &S3S_FS)?;
    let mut env = vec![(S3S_FS.env.into(), s3s.display().to_string())];
    if with_ktra {
        let ktra = ensure(repo, &KTRA)?;
        env.push((KTRA.env.into(), ktra.display().to_string()));
    }
    Ok(env)
}

/// `cargo <args…>` with the test servers' environment; fails when cargo fails.
pub(crate) fn cargo_with_services(
    repo: &Path,
    args: &[String],
    with_ktra: bool,
) -> Result<(), String> {
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
