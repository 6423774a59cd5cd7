//! What every command derives from the command line and the user's cargo configuration: the
//! manifest, the target and build directories, the registry request, how to run cargo.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use gantry_client::config::CargoConfig;
use gantry_package::CargoInvocation;
use gantry_package::RegistryRequest;
use gantry_package::Upstream;

use crate::cli::{GlobalArgs, ManifestArgs};

pub(crate) struct Context {
    pub cwd: PathBuf,
    pub config: CargoConfig,
    /// `--config` arguments, for the cargo run that answers what only cargo computes.
    config_args: Vec<String>,
}

impl Context {
    pub(crate) fn new(global: &GlobalArgs) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("could not read the current directory")?;
        let config = CargoConfig::load(&cwd, &global.config)?;
        Ok(Context {
            cwd,
            config,
            config_args: global.config.clone(),
        })
    }

    /// `--manifest-path`, else the nearest `Cargo.toml` from the current directory upward.
    pub(crate) fn manifest_path(&self, args: &ManifestArgs) -> anyhow::Result<PathBuf> {
        if let Some(p) = &args.manifest_path {
            return check_manifest_path(&self.cwd, p);
        }
        for dir in gantry_package::workspace::paths::ancestors(&self.cwd) {
            let candidate = dir.join("Cargo.toml");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        bail!(
            "could not find `Cargo.toml` in `{}` or any parent directory",
            self.cwd.display()
        )
    }

    /// `--target-dir`, `CARGO_TARGET_DIR`, `build.target-dir`, else `<workspace>/target`.
    pub(crate) fn target_dir(&self, cli: Option<&Path>, ws_root: &Path) -> anyhow::Result<PathBuf> {
        if let Some(dir) = cli {
            return Ok(self.cwd.join(dir));
        }
        if let Some(dir) = self
            .config
            .env_var("CARGO_TARGET_DIR")
            .filter(|d| !d.is_empty())
        {
            return Ok(self.cwd.join(dir));
        }
        if let Some(dir) = self.config.get_path("build.target-dir")? {
            return Ok(dir);
        }
        Ok(ws_root.join("target"))
    }

    /// `build.build-dir` (with its `{workspace-root}`/`{cargo-cache-home}` templates), else the
    /// target dir.
    pub(crate) fn build_dir(&self, target_dir: &Path, ws_root: &Path) -> anyhow::Result<PathBuf> {
        let Some((value, _)) = self.config.get_string("build.build-dir")? else {
            return Ok(target_dir.to_owned());
        };
        let expanded = value
            .replace("{workspace-root}", &ws_root.display().to_string())
            .replace(
                "{cargo-cache-home}",
                &self.config.cargo_home().display().to_string(),
            );
        if expanded.contains("{workspace-path-hash}") {
            // A hash of the workspace path in cargo's own stable hashing: asked of cargo itself.
            return self.cargo_build_dir(ws_root);
        }
        if expanded == value {
            // No template: a plain path, relative to where it was configured.
            return Ok(self
                .config
                .get_path("build.build-dir")?
                .unwrap_or_else(|| self.cwd.join(&value)));
        }
        Ok(self.cwd.join(expanded))
    }

    /// crates.io as cargo reaches it for this run: through cargo's test hook when it is set, else
    /// its git index when `registries.crates-io.protocol = "git"`, else its sparse index.
    pub(crate) fn crates_io_upstream(&self) -> anyhow::Result<Upstream> {
        if let Some(url) = self.config.crates_io_test_index() {
            return Ok(Upstream::crates_io_at(url));
        }
        Ok(if self.crates_io_git()? {
            Upstream::crates_io_git()
        } else {
            Upstream::crates_io()
        })
    }

    /// Whether crates.io is reached through its git index (`registries.crates-io.protocol`).
    pub(crate) fn crates_io_git(&self) -> anyhow::Result<bool> {
        Ok(self
            .config
            .get_string("registries.crates-io.protocol")?
            .is_some_and(|(p, _)| p == "git"))
    }

    /// The configured registries by index URL (cargo shows them by name).
    pub(crate) fn registry_names(&self) -> gantry_package::RegistryNames {
        let names = self
            .config
            .registry_names()
            .into_iter()
            .filter_map(|name| Some((self.registry_index(&name)?, name)))
            .collect();
        let crates_io_git = self
            .crates_io_upstream()
            .is_ok_and(|u| !u.overlay_key.starts_with("sparse+"));
        gantry_package::RegistryNames::new(names).with_crates_io_git(crates_io_git)
    }

    /// The build directory as `cargo metadata` reports it.
    fn cargo_build_dir(&self, ws_root: &Path) -> anyhow::Result<PathBuf> {
        let mut cmd = std::process::Command::new(CargoInvocation::default_program());
        cmd.args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(ws_root.join("Cargo.toml"))
        .current_dir(&self.cwd)
        .stdin(std::process::Stdio::null());
        for c in &self.config_args {
            cmd.arg("--config").arg(c);
        }
        let out = cmd
            .output()
            .context("could not run `cargo metadata` to learn `build.build-dir`")?;
        if !out.status.success() {
            bail!(
                "`cargo metadata` could not resolve `build.build-dir`:\n{}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
            .context("`cargo metadata` printed something other than JSON")?;
        match meta.get("build_directory").and_then(|d| d.as_str()) {
            Some(dir) => Ok(PathBuf::from(dir)),
            None => bail!("`cargo metadata` did not report a `build_directory`"),
        }
    }

    /// `--registry`/`--index`, else `registry.default`.
    pub(crate) fn registry_request(
        &self,
        registry: Option<&str>,
        index: Option<&str>,
    ) -> anyhow::Result<RegistryRequest> {
        if let Some(name) = registry {
            gantry_protocol::RegistryName::new(name)?;
            return Ok(RegistryRequest::Name(name.to_owned()));
        }
        if let Some(url) = index {
            validate_index_url(url)?;
            return Ok(RegistryRequest::Index(url.to_owned()));
        }
        match self.config.get_string("registry.default")? {
            Some((name, _)) => {
                validate_registry_name(&name)?;
                Ok(RegistryRequest::Name(name))
            }
            None => Ok(RegistryRequest::None),
        }
    }

    pub(crate) fn registry_index(&self, name: &str) -> Option<String> {
        self.config.registry_index(name).ok().flatten()
    }

    /// The configured registry whose index URL is `url`, if any.
    pub(crate) fn registry_name(&self, url: &str) -> Option<String> {
        self.config
            .registry_names()
            .into_iter()
            .find(|name| self.registry_index(name).as_deref() == Some(url))
    }

    pub(crate) fn cargo(
        &self,
        global: &GlobalArgs,
        manifest: &ManifestArgs,
        color: Option<&str>,
    ) -> CargoInvocation {
        let offline = manifest.offline
            || self
                .config
                .get_bool("net.offline")
                .ok()
                .flatten()
                .unwrap_or(false);
        CargoInvocation {
            program: CargoInvocation::default_program(),
            offline,
            locked: manifest.locked,
            frozen: manifest.frozen,
            config_args: global.config.clone(),
            color: color.map(str::to_owned),
            verbose: global.verbose,
            quiet: global.quiet,
            cwd: self.cwd.clone(),
            env: Default::default(),
        }
    }
}

/// Cargo's registry-name rule (`--registry`, `registry.default`): Unicode XID characters and `-`,
/// not starting with a digit, in cargo's words ([`gantry_protocol::RegistryName`]).
pub(crate) fn validate_registry_name(name: &str) -> anyhow::Result<()> {
    gantry_protocol::RegistryName::new(name)?;
    Ok(())
}

/// An `--index` URL must be a URL: cargo checks this before it asks for a token or reads anything.
pub(crate) fn validate_index_url(url: &str) -> anyhow::Result<()> {
    let bare = url.strip_prefix("sparse+").unwrap_or(url);
    reqwest::Url::parse(bare).map_err(|e| anyhow::anyhow!("invalid url `{url}`: {e}"))?;
    Ok(())
}

/// `--manifest-path` checked in cargo's order, with cargo's words: what does not exist is named
/// first, then a directory (pointing at its `Cargo.toml` when it has one), then a file that is not a
/// `Cargo.toml` (a `.rs` or extension-less file is a cargo script, which needs nightly `-Zscript`).
fn check_manifest_path(cwd: &Path, given: &Path) -> anyhow::Result<PathBuf> {
    let abs = gantry_package::workspace::paths::normalize_path(&cwd.join(given));
    if abs.file_name().is_some_and(|n| n == "Cargo.toml") {
        if !abs.exists() {
            bail!("manifest path `{}` does not exist", given.display());
        }
        return Ok(abs);
    }
    if !abs.exists() {
        bail!("manifest path `{}` does not exist", given.display());
    }
    if abs.is_dir() {
        let inner = abs.join("Cargo.toml");
        if inner.is_file() {
            bail!(
                "manifest path `{}` is a directory but expected a file\nhelp: {} exists",
                given.display(),
                inner.display()
            );
        }
        bail!(
            "manifest path `{}` is a directory but expected a file",
            given.display()
        );
    }
    if abs.extension().is_none_or(|e| e == "rs") {
        bail!("embedded manifest `{}` requires `-Zscript`", abs.display());
    }
    bail!(
        "the manifest-path must be a path to a Cargo.toml file: `{}`",
        abs.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_and_index_urls_are_checked_with_cargos_words() {
        assert!(validate_registry_name("my-registry_2").is_ok());
        assert_eq!(
            validate_registry_name("bad name").unwrap_err().to_string(),
            "invalid character ` ` in registry name: `bad name`, characters must be Unicode XID characters (numbers, `-`, `_`, or most letters)"
        );
        assert!(
            validate_registry_name("1st")
                .unwrap_err()
                .to_string()
                .contains("the name cannot start with a digit")
        );
        assert!(validate_index_url("sparse+https://index.example/").is_ok());
        assert!(validate_index_url("file:///srv/index").is_ok());
        assert_eq!(
            validate_index_url("index_url").unwrap_err().to_string(),
            "invalid url `index_url`: relative URL without a base"
        );
    }
}
