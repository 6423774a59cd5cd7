//! The outside programs the tests run as real servers (s3s-fs, ktra, PostgreSQL 15): which
//! version, where to look for each, and the command that installs it. The single source of truth
//! for the tests (through [`crate::services`] and `find`) and for `cargo xtask test` / `bench
//! registry`, which install what is missing into [`test_tools_dir`]. This module has no
//! dependencies, so xtask can use it without building the rest of the crate (feature-less).

use std::path::{Path, PathBuf};

/// Where Debian's `postgresql-15` package puts its binaries (checked, never installed: that needs
/// root and apt).
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The PostgreSQL programs the tests and benchmarks run.
pub const PG_TOOLS: [&str; 7] = [
    "initdb",
    "postgres",
    "pg_ctl",
    "psql",
    "pg_isready",
    "pg_dump",
    "pg_restore",
];

/// A program the tests run: its name, the variable that points at it, the version the tests are
/// written against, and how `cargo install` gets it ([`Tool::install_args`]).
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub bin: &'static str,
    pub env: &'static str,
    /// The crate on crates.io that ships `bin`.
    pub krate: &'static str,
    pub version: &'static str,
    /// `cargo install` arguments after `<krate>@<version>`.
    pub install_flags: &'static [&'static str],
}

impl Tool {
    /// `cargo install` arguments after `--root DIR`: the exact pinned version, `--locked`.
    pub fn install_args(&self) -> Vec<String> {
        let mut args = vec![format!("{}@{}", self.krate, self.version)];
        args.extend(self.install_flags.iter().map(|f| f.to_string()));
        args
    }
}

/// s3s-fs, the S3-compatible server behind the registry's PostgreSQL+S3 runs. Pinned: later
/// releases need a newer rustc than ours.
pub const S3S_FS: Tool = Tool {
    bin: "s3s-fs",
    env: "GANTRY_S3S_FS",
    krate: "s3s-fs",
    version: "0.14.1",
    install_flags: &["--features", "binary", "--locked"],
};

/// ktra, the git-index registry of cargo-gantry's interop test (its latest release; it builds
/// with `--locked` on Rust 1.95).
pub const KTRA: Tool = Tool {
    bin: "ktra",
    env: "GANTRY_KTRA",
    krate: "ktra",
    version: "0.7.0",
    install_flags: &["--locked"],
};

/// Why a tool was not found.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{env}={} is not a file; point it at a {bin} {version} binary or unset it", path.display())]
    BadEnv {
        env: &'static str,
        bin: &'static str,
        version: &'static str,
        path: PathBuf,
    },
    #[error(
        "{} not found (looked at ${}, $PATH and {}). Run the tests with `cargo xtask test`, which \
         installs it there, or install it yourself: `{}`",
        tool.bin, tool.env, looked.display(), install_command(tool)
    )]
    Missing { tool: Tool, looked: PathBuf },
    #[error(
        "PostgreSQL 15 is missing ({} not found); install Debian's package: `apt-get install \
         postgresql-15`",
        .0.display()
    )]
    NoPostgres(PathBuf),
}

/// The workspace this crate sits in (`crates/gantry-test-support` is two levels below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/<name> is two levels below the workspace")
        .to_path_buf()
}

/// `<workspace>/target/test-tools`, where `cargo xtask test` installs missing tools.
pub fn test_tools_dir() -> PathBuf {
    workspace_root().join("target/test-tools")
}

/// The install command a person can run, for messages.
pub fn install_command(tool: &Tool) -> String {
    format!(
        "cargo install --root target/test-tools {}",
        tool.install_args().join(" ")
    )
}

/// The tool's binary: `$<env>` (which must then be a file), else the first `PATH` entry that has
/// it, else `<workspace>/target/test-tools/bin/<bin>`.
pub fn find(tool: &Tool) -> Result<PathBuf, ToolError> {
    if let Some(p) = std::env::var_os(tool.env) {
        let path = PathBuf::from(p);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(ToolError::BadEnv {
                env: tool.env,
                bin: tool.bin,
                version: tool.version,
                path,
            })
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(tool.bin);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let p = test_tools_dir().join("bin").join(tool.bin);
    if p.is_file() {
        Ok(p)
    } else {
        Err(ToolError::Missing {
            tool: *tool,
            looked: p,
        })
    }
}

/// Fails with the install instructions when one of [`PG_TOOLS`] is missing from [`PG_BIN`].
pub fn check_postgres() -> Result<(), ToolError> {
    for tool in PG_TOOLS {
        let p = Path::new(PG_BIN).join(tool);
        if !p.is_file() {
            return Err(ToolError::NoPostgres(p));
        }
    }
    Ok(())
}
