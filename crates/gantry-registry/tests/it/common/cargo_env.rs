//! The real `cargo` with its own `CARGO_HOME` pointed at a test registry, and fixture projects.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct CargoEnv {
    home: PathBuf,
    target: PathBuf,
    _dir: tempfile::TempDir,
}

impl CargoEnv {
    /// A fresh `CARGO_HOME` pointing registry `gantry` at `reg` with `token`.
    pub fn new(index_url: &str, token: &str, credential_provider: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("cargo-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut config = format!(
            "[registries.gantry]\nindex = \"{}\"\n\n[net]\nretry = 0\n",
            index_url
        );
        if credential_provider {
            config.push_str("\n[registry]\nglobal-credential-providers = [\"cargo:token\"]\n");
        }
        std::fs::write(home.join("config.toml"), config).unwrap();
        std::fs::write(
            home.join("credentials.toml"),
            format!("[registries.gantry]\ntoken = \"{token}\"\n"),
        )
        .unwrap();
        let target = dir.path().join("target");
        CargoEnv {
            home,
            target,
            _dir: dir,
        }
    }

    pub fn cargo(&self, cwd: &Path, args: &[&str]) -> Output {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(args)
            .current_dir(cwd)
            .env("CARGO_HOME", &self.home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never")
            .env_remove("CARGO_REGISTRY_TOKEN")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_TARGET");
        cmd.output().unwrap()
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
