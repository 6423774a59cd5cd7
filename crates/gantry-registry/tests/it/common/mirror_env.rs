//! The real `cargo` building through a mirror: a `CARGO_HOME` whose crates.io is replaced by a
//! sparse registry, `.crate` files with dependencies for an upstream, and reading `/metrics`.
#![allow(dead_code)]

use gantry_test_support::cargo::CargoHome;
use std::path::{Path, PathBuf};

use crate::common::{CargoEnv, Entry, TestRegistry, body, http, metadata, tar_gz};

/// A fresh `CARGO_HOME` + target dir where crates.io is replaced by `registry` (a sparse URL).
pub fn replaced_env(registry: &str) -> CargoEnv {
    CargoEnv::with_home(CargoHome::new().config(&format!(
        "[source.crates-io]\nreplace-with = \"replacement\"\n\n[source.replacement]\n\
         registry = \"{registry}\"\n\n"
    )))
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
