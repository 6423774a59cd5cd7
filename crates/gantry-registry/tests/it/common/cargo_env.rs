//! The real `cargo` with its own `CARGO_HOME` pointed at a test registry, and fixture projects.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gantry_test_support::cargo::{CargoHome, cargo_command};

/// The real cargo with a `CARGO_HOME` and target dir of its own (in a temp dir that lives as long
/// as this), the test process's environment scrubbed (`gantry_test_support::cargo::isolate`).
pub struct CargoEnv {
    home: PathBuf,
    target: PathBuf,
    _dir: tempfile::TempDir,
}

impl CargoEnv {
    /// A fresh `CARGO_HOME` pointing registry `gantry` at `reg` with `token`.
    pub fn new(index_url: &str, token: &str, credential_provider: bool) -> Self {
        let mut home = CargoHome::new()
            .registry("gantry", index_url)
            .token("gantry", token);
        if credential_provider {
            home = home.config("[registry]\nglobal-credential-providers = [\"cargo:token\"]\n");
        }
        Self::with_home(home)
    }

    /// A fresh `CARGO_HOME` as `home` describes it, never retrying a failed request.
    pub fn with_home(home: CargoHome) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = home
            .config("[net]\nretry = 0\n")
            .write(&dir.path().join("cargo-home"))
            .unwrap();
        let target = dir.path().join("target");
        CargoEnv {
            home,
            target,
            _dir: dir,
        }
    }

    /// `cargo ARGS` in `cwd`, ready to run (add environment first if the test needs it).
    pub fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = cargo_command();
        cmd.args(args)
            .current_dir(cwd)
            .env("CARGO_HOME", &self.home)
            .env("CARGO_TARGET_DIR", &self.target);
        cmd
    }

    pub fn cargo(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command(cwd, args).output().unwrap()
    }

    /// Runs cargo and asserts success; returns stdout + stderr.
    pub fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.cargo(cwd, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "cargo {args:?} failed:\n{text}");
        text
    }
}

pub fn project(
    root: &Path,
    name: &str,
    version: &str,
    deps: &[(&str, &str)],
    lib: &str,
) -> PathBuf {
    let dir = root.join(format!("{name}-{version}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let mut toml = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"{name} fixture\"\nlicense = \"MIT\"\n\n[dependencies]\n"
    );
    for (dep, req) in deps {
        toml.push_str(&format!(
            "{dep} = {{ version = \"{req}\", registry = \"gantry\" }}\n"
        ));
    }
    std::fs::write(dir.join("Cargo.toml"), toml).unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    dir
}
