//! Broad differential sweep over the crates in the local cargo registry cache: re-packaging an
//! already published crate must give cargo's bytes too. Environment-dependent, hence `#[ignore]`
//! (run with `cargo test -p gantry-package --test it -- manifest_registry_corpus --ignored`).
//! `GANTRY_CORPUS_LIMIT` caps the number of crates (default 60).

use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let Ok(meta) = std::fs::symlink_metadata(&src) else {
            continue;
        };
        if meta.is_dir() {
            copy_tree(&src, &dst);
        } else if meta.is_file() {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

fn corpus() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let src = home.join(".cargo/registry/src");
    let mut out = Vec::new();
    for index in std::fs::read_dir(&src).into_iter().flatten().flatten() {
        for krate in std::fs::read_dir(index.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if krate.path().join("Cargo.toml").is_file() {
                out.push(krate.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
#[ignore]
fn registry_crates_round_trip() {
    let limit: usize = std::env::var("GANTRY_CORPUS_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let all = corpus();
    let step = (all.len() / limit.max(1)).max(1);
    let mut failures = Vec::new();
    for dir in all.iter().step_by(step).take(limit) {
        let fx = crate::manifest_common::fixture(&[]);
        let pkg_dir = fx.path("pkg");
        copy_tree(dir, &pkg_dir);
        // Published crates carry the original manifest; only the normalised one is input here.
        let _ = std::fs::remove_file(pkg_dir.join("Cargo.toml.orig"));
        let _ = std::fs::remove_file(pkg_dir.join(".cargo_vcs_info.json"));
        let Ok(ws) = gantry_package::load_workspace(&pkg_dir.join("Cargo.toml")) else {
            failures.push(format!("{}: load failed", dir.display()));
            continue;
        };
        let pkg = &ws.members[0];
        let (name, version) = (pkg.name.clone(), pkg.version.to_string());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::manifest_common::check_fx(&fx, "pkg/Cargo.toml", &name, &version);
        }));
        if result.is_err() {
            failures.push(dir.display().to_string());
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}
