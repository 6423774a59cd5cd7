//! Running the installed `cargo` for the two jobs Gantry leaves to it: dependency resolution (the
//! packaged `Cargo.lock`) and the verification build. Flags the user gave that change how cargo
//! resolves or fetches (`--offline`, `--locked`, `--frozen`, `--config`) are passed on unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Default)]
pub struct CargoInvocation {
    /// The cargo binary: `$CARGO` when cargo started us, else `cargo` from PATH.
    pub program: PathBuf,
    pub offline: bool,
    pub locked: bool,
    pub frozen: bool,
    /// `--config` arguments, forwarded verbatim.
    pub config_args: Vec<String>,
    /// `--color` value, forwarded so nested output matches the user's choice.
    pub color: Option<String>,
    pub verbose: u8,
    pub quiet: bool,
    /// Working directory for cargo (the user's), so the same `.cargo/config.toml` files apply.
    pub cwd: PathBuf,
    /// Variables set for cargo alone (a run's trusted-publishing token, which cargo needs to read
    /// an index that requires authentication).
    pub env: SecretEnv,
}

/// Environment variables whose values are secrets: `Debug` shows only their names.
#[derive(Clone, Default)]
pub struct SecretEnv(pub Vec<(String, String)>);

impl std::fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl CargoInvocation {
    /// The cargo to run: `$CARGO` (set when invoked as `cargo gantry`), else `cargo`.
    pub fn default_program() -> PathBuf {
        std::env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("cargo"))
    }

    /// A command for `cargo <subcommand>` with the user's global flags applied.
    pub fn command(&self, subcommand: &str, manifest_path: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg(subcommand)
            .arg("--manifest-path")
            .arg(manifest_path)
            .current_dir(&self.cwd);
        if self.frozen {
            cmd.arg("--frozen");
        } else {
            if self.offline {
                cmd.arg("--offline");
            }
            if self.locked {
                cmd.arg("--locked");
            }
        }
        for c in &self.config_args {
            cmd.arg("--config").arg(c);
        }
        if let Some(color) = &self.color {
            cmd.arg("--color").arg(color);
        }
        if self.quiet {
            cmd.arg("--quiet");
        }
        for _ in 0..self.verbose {
            cmd.arg("-v");
        }
        cmd.envs(self.env.0.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Same as [`command`](Self::command) but never `--locked`: used where Gantry itself produced the
    /// lockfile moments ago and cargo is only asked to apply the local overlay.
    pub fn unlocked(&self) -> CargoInvocation {
        let mut c = self.clone();
        if c.frozen {
            c.frozen = false;
            c.offline = true;
        }
        c.locked = false;
        c
    }
}
