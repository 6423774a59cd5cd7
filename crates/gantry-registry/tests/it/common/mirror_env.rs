//! The real `cargo` building through a mirror: a `CARGO_HOME` whose crates.io is replaced by a
//! sparse registry, `.crate` files with dependencies for an upstream, and reading `/metrics`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{Entry, TestRegistry, body, http, metadata, tar_gz};

/// A fresh `CARGO_HOME` + target dir where crates.io is replaced by `registry` (a sparse URL).
pub struct ReplacedEnv {
    home: PathBuf,
    target: PathBuf,
    _dir: tempfile::TempDir,
}

impl ReplacedEnv {
    pub fn new(registry: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("cargo-home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join("config.toml"),
            format!(
                "[source.crates-io]\nreplace-with = \"replacement\"\n\n[source.replacement]\n\
                 registry = \"{registry}\"\n\n[net]\nretry = 0\n"
            ),
        )
        .unwrap();
        let target = dir.path().join("target");
        ReplacedEnv {
            home,
            target,
            _dir: dir,
        }
    }

    pub fn cargo(&self, cwd: &Path, args: &[&str]) -> Output {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        std::process::Command::new(cargo)
            .args(args)
            .current_dir(cwd)
            .env("CARGO_HOME", &self.home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never")
            .env_remove("CARGO_REGISTRY_TOKEN")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .unwrap()
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

/// A consumer project depending on crates.io crates (`deps`: name, requirement).
pub fn consumer(root: &Path, name: &str, deps: &[(&str, &str)], lib: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let mut toml = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n"
    );
    for (d, req) in deps {
        toml.push_str(&format!("{d} = \"{req}\"\n"));
    }
    std::fs::write(dir.join("Cargo.toml"), toml).unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    dir
}

/// Publishes `name@vers` to a test registry with crates.io-style dependencies (`deps`: name,
/// requirement), as the `.crate`'s own manifest and the publish metadata both say.
pub fn publish_crate(
    reg: &TestRegistry,
    token: &str,
    name: &str,
    vers: &str,
    deps: &[(&str, &str)],
    lib: &str,
) {
    let mut manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{vers}\"\nedition = \"2021\"\n\
         description = \"d\"\nlicense = \"MIT\"\n\n[dependencies]\n"
    );
    for (d, req) in deps {
        manifest.push_str(&format!("{d} = \"{req}\"\n"));
    }
    let p = format!("{name}-{vers}");
    let tarball = tar_gz(&[
        Entry::File(&format!("{p}/Cargo.toml"), manifest.as_bytes()),
        Entry::File(&format!("{p}/src/lib.rs"), lib.as_bytes()),
    ]);
    let mut meta = metadata(name, vers);
    meta["deps"] = deps
        .iter()
        .map(|(d, req)| {
            serde_json::json!({
                "name": d, "version_req": req, "features": [], "optional": false,
                "default_features": true, "target": null, "kind": "normal"
            })
        })
        .collect();
    let r = reg.publish(token, &body(&meta, &tarball));
    assert_eq!(r.status, 200, "publishing {name} {vers}: {}", r.text());
}

/// The value of one sample line of `/metrics` (0 when absent).
pub fn metric(addr: std::net::SocketAddr, series: &str) -> u64 {
    let text = http(addr, "GET", "/metrics", &[], b"").text();
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}
