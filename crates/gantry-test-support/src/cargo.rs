//! The real `cargo` (and `cargo gantry`) as the tests run them: with the developer's or CI's
//! environment scrubbed, and with a `CARGO_HOME` of the test's own.
//!
//! Every crate's tests used to carry a copy of this, and the copies had drifted: some kept
//! `RUSTC_WRAPPER`, `GIT_DIR` or GitHub's `ACTIONS_*` variables, so a test's outcome could depend
//! on the shell it was started from.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo the tests compare against and build with: `$GANTRY_DIFF_CARGO` (to diff against
/// another cargo), else `$CARGO` (the cargo running the tests), else `cargo` on `PATH`.
pub fn reference_cargo() -> PathBuf {
    std::env::var_os("GANTRY_DIFF_CARGO")
        .or_else(|| std::env::var_os("CARGO"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// Whether a variable of the test process's environment would change what cargo or gantry does,
/// and so must not reach them: cargo's configuration (`CARGO_*`, `__CARGO*`, but not `CARGO`
/// itself, which names the toolchain's cargo), compiler settings (`RUSTC*`, `RUSTFLAGS`,
/// `RUSTDOCFLAGS`), git's repository overrides (`GIT_*`), reproducible-build dates, gantry's own
/// settings, and the ID-token request variables of a GitHub Actions job (trusted publishing).
pub fn leaks_into_cargo(name: &str) -> bool {
    (name.starts_with("CARGO") && name != "CARGO")
        || name.starts_with("__CARGO")
        || name.starts_with("RUSTC")
        || name == "RUSTFLAGS"
        || name == "RUSTDOCFLAGS"
        || name.starts_with("GIT_")
        || name == "SOURCE_DATE_EPOCH"
        || name.starts_with("GANTRY_")
        || name.starts_with("ACTIONS_")
}

/// Removes every variable [`leaks_into_cargo`] names from `cmd`'s environment, and asks for plain
/// output (no colour, no progress bar). Set what the test needs after this.
pub fn isolate(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str().filter(|n| leaks_into_cargo(n)) {
            cmd.env_remove(name);
        }
    }
    cmd.env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
}

/// The reference cargo ([`reference_cargo`]), [`isolate`]d.
pub fn cargo_command() -> Command {
    let mut cmd = Command::new(reference_cargo());
    isolate(&mut cmd);
    cmd
}

/// A `CARGO_HOME` for one test: `config.toml` naming registries (and any extra configuration),
/// `credentials.toml` holding tokens. Written by [`CargoHome::write`].
#[derive(Debug, Clone, Default)]
pub struct CargoHome {
    registries: Vec<(String, String)>,
    tokens: Vec<(String, String)>,
    config: String,
}

impl CargoHome {
    pub fn new() -> Self {
        Self::default()
    }

    /// `[registries.NAME] index = "INDEX_URL"`.
    pub fn registry(mut self, name: &str, index_url: &str) -> Self {
        self.registries.push((name.into(), index_url.into()));
        self
    }

    /// A token for registry `name` in `credentials.toml`.
    pub fn token(mut self, name: &str, token: &str) -> Self {
        self.tokens.push((name.into(), token.into()));
        self
    }

    /// TOML appended to `config.toml` after the registries.
    pub fn config(mut self, toml: &str) -> Self {
        self.config.push_str(toml);
        self
    }

    /// Creates `dir` and writes the files; returns `dir`, the value for `CARGO_HOME`.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let mut config = String::new();
        for (name, url) in &self.registries {
            let _ = writeln!(config, "[registries.{name}]\nindex = \"{url}\"\n");
        }
        config.push_str(&self.config);
        std::fs::write(dir.join("config.toml"), config)?;
        if !self.tokens.is_empty() {
            let mut credentials = String::new();
            for (name, token) in &self.tokens {
                let _ = writeln!(credentials, "[registries.{name}]\ntoken = \"{token}\"\n");
            }
            std::fs::write(dir.join("credentials.toml"), credentials)?;
        }
        Ok(dir.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_leaks_and_what_stays() {
        for name in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_REGISTRY_TOKEN",
            "__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS",
            "RUSTC_WRAPPER",
            "RUSTFLAGS",
            "GIT_DIR",
            "GANTRY_DIFF_CARGO",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "SOURCE_DATE_EPOCH",
        ] {
            assert!(leaks_into_cargo(name), "{name}");
        }
        for name in ["CARGO", "PATH", "HOME", "RUSTUP_TOOLCHAIN", "TMPDIR"] {
            assert!(!leaks_into_cargo(name), "{name}");
        }
    }

    #[test]
    fn a_home_with_a_registry_and_its_token() {
        let dir = tempfile::tempdir().unwrap();
        let home = CargoHome::new()
            .registry("g", "sparse+http://127.0.0.1:1/index/")
            .token("g", "t0ken")
            .config("[net]\nretry = 0\n")
            .write(&dir.path().join("home"))
            .unwrap();
        let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
        let parsed: toml::Table = config.parse().unwrap();
        assert_eq!(
            parsed["registries"]["g"]["index"].as_str(),
            Some("sparse+http://127.0.0.1:1/index/")
        );
        assert_eq!(parsed["net"]["retry"].as_integer(), Some(0));
        let credentials: toml::Table = std::fs::read_to_string(home.join("credentials.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            credentials["registries"]["g"]["token"].as_str(),
            Some("t0ken")
        );
    }

    #[test]
    fn no_credentials_file_without_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let home = CargoHome::new().write(dir.path()).unwrap();
        assert!(!home.join("credentials.toml").exists());
        assert_eq!(
            std::fs::read_to_string(home.join("config.toml")).unwrap(),
            ""
        );
    }
}
