//! Differential tests for multi-package runs: dependency order, the overlay registry, generated
//! lockfiles with sibling checksums, `-p`/`--exclude` selection and registry inference
//! (spec §9, §8.3, §12.1 "Workspaces / overlay registry / registry selection").

mod support;
use support::*;

const NVW: &[&str] = &["--no-verify", "--offline", "--workspace"];

/// level1 -> level2 -> level3 (path + version deps), like cargo's `workspace_with_local_deps`.
fn chain(fx: &Fixture) {
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"level1\", \"level2\", \"level3\"]\nresolver = \"2\"\n",
    )
    .package(
        "level1",
        "level1",
        METADATA,
        "[dependencies]\nlevel2 = { path = \"../level2\", version = \"0.1.0\" }\n",
    )
    .file("level1/src/main.rs", "fn main() { level2::f(); }\n")
    .package(
        "level2",
        "level2",
        METADATA,
        "[dependencies]\nlevel3 = { path = \"../level3\", version = \"0.1.0\" }\n",
    )
    .file("level2/src/lib.rs", "pub fn f() { level3::f(); }\n")
    .basic("level3", "level3");
}

/// Cargo's overlay (`<target>/package/tmp-registry`) serves each sibling exactly as its archive, and
/// the lockfile checksums of dependents come from there. Gantry hands cargo the same overlay, so the
/// two directories must hold the same files, byte for byte (index lines included).
fn same_tmp_registry(pair: &Pair) {
    let files = |target: &std::path::Path| {
        let root = target.join("package/tmp-registry");
        let mut out = std::collections::BTreeMap::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("a tmp-registry").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if entry.file_name() != ".cargo-lock" {
                    let rel = path.strip_prefix(&root).unwrap().display().to_string();
                    out.insert(rel, std::fs::read(&path).unwrap());
                }
            }
        }
        out
    };
    let cargo = files(&pair.cargo.target_dir);
    let gantry = files(&pair.gantry.target_dir);
    assert!(
        cargo.keys().any(|k| k.ends_with(".crate")),
        "cargo's overlay was empty: the fixture does not exercise it"
    );
    assert_eq!(
        cargo.keys().collect::<Vec<_>>(),
        gantry.keys().collect::<Vec<_>>(),
        "the overlays hold different files"
    );
    for (rel, bytes) in &cargo {
        assert!(
            gantry[rel] == *bytes,
            "{rel} differs:\ncargo:  {}\ngantry: {}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&gantry[rel])
        );
    }
}

#[test]
fn workspace_with_local_deps() {
    // `workspace_with_local_deps`, `in_workspace`, `workspace_with_local_deps_list`
    let fx = Fixture::new();
    chain(&fx);
    let p = Case::new(&fx).args(NVW).assert_same();
    p.cargo_ok().crates_are(&[
        "level1-0.1.0.crate",
        "level2-0.1.0.crate",
        "level3-0.1.0.crate",
    ]);
    same_tmp_registry(&p);
    Case::new(&fx)
        .args(&["--list", "--offline", "--workspace"])
        .assert_same();
    // `repackage_smaller_local_dep_tmp_registry_checksum_match`
    fx.file("level3/src/lib.rs", "");
    let p = Case::new(&fx).args(NVW).assert_same();
    same_tmp_registry(&p);
}

#[test]
fn workspace_with_local_deps_in_git() {
    let fx = Fixture::new();
    chain(&fx);
    fx.file(".gitignore", "/target\n").git_commit_all("");
    Case::new(&fx).args(NVW).assert_same().cargo_ok();
    fx.file(
        "level2/src/lib.rs",
        "pub fn f() { level3::f(); } // dirty\n",
    );
    Case::new(&fx)
        .args(NVW)
        .assert_same()
        .cargo_fails_with("level2/src/lib.rs");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--workspace", "--allow-dirty"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn package_selection() {
    // `workspace_with_local_deps_packaging_one_fails`, `_one_with_needed_deps`,
    // `in_package_workspace_with_members_with_features_old` (-p globs), --exclude
    let fx = Fixture::new();
    chain(&fx);
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "level1"])
        .assert_same()
        .cargo_fails_with("no matching package named `level2` found");
    Case::new(&fx)
        .args(&[
            "--no-verify",
            "--offline",
            "-p",
            "level1",
            "-p",
            "level2",
            "-p",
            "level3",
        ])
        .fresh_target()
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "level2", "-p", "level3"])
        .fresh_target()
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "level*"])
        .fresh_target()
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&[
            "--no-verify",
            "--offline",
            "--workspace",
            "--exclude",
            "level1",
        ])
        .fresh_target()
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&[
            "--no-verify",
            "--offline",
            "-p",
            "level1",
            "--exclude-lockfile",
        ])
        .fresh_target()
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .cwd("level3")
        .args(&["--no-verify", "--offline"])
        .fresh_target()
        .assert_same()
        .cargo_ok();
    // Virtual workspace default selection = all members.
    Case::new(&fx)
        .args(&["--no-verify", "--offline"])
        .fresh_target()
        .assert_same()
        .cargo_ok();
}

#[test]
fn root_package_workspace() {
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        &manifest(
            "root",
            METADATA,
            "[workspace]\nmembers = [\"li\", \"other\"]\n\n[dependencies]\nli = { path = \"li\", version = \"0.1.0\" }\n",
        ),
    )
    .file("src/main.rs", "fn main() {}\n")
    .basic("li", "li")
    .basic("other", "other");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "li"])
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&["--no-verify", "--offline"])
        .fresh_target()
        .assert_same();
    Case::new(&fx)
        .args(NVW)
        .fresh_target()
        .assert_same()
        .cargo_ok();
}

#[test]
fn local_dev_deps_renamed_capitalized_and_dot_rs_members() {
    // `workspace_with_local_dev_deps`, `workspace_with_renamed_member`,
    // `workspace_with_capitalized_member`, `workspace_with_dot_rs_dir`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"main\", \"Dev\", \"ren.rs\", \"u\"]\nresolver = \"2\"\n",
    )
    .package(
        "main",
        "main",
        METADATA,
        "[dependencies]\nrenamed = { path = \"../ren.rs\", version = \"0.1.0\", package = \"ren\" }\n\n[dev-dependencies]\nDev = { path = \"../Dev\", version = \"0.1.0\" }\nu = { path = \"../u\" }\n",
    )
    .basic("Dev", "Dev")
    .basic("ren.rs", "ren")
    .basic("u", "u");
    let p = Case::new(&fx).args(NVW).assert_same();
    p.cargo_ok();
    same_tmp_registry(&p);
}

#[test]
fn unpublishable_dependency() {
    // `unpublishable_dependency`, `registry_inference_ignores_unpublishable`
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"main\", \"dep\"]\nresolver = \"2\"\n",
    )
    .package(
        "main",
        "main",
        METADATA,
        "[dependencies]\ndep = { path = \"../dep\", version = \"0.1.0\" }\n",
    )
    .package("dep", "dep", &format!("{METADATA}publish = false\n"), "");
    Case::new(&fx)
        .args(NVW)
        .assert_same()
        .cargo_fails_with("no matching package named `dep` found");
    Case::new(&fx)
        .args(&[
            "--no-verify",
            "--offline",
            "--workspace",
            "--exclude-lockfile",
        ])
        .fresh_target()
        .assert_same()
        .cargo_ok();
}

/// Alternative registries declared in the tree's `.cargo/config.toml` (seen by both tools). No
/// request is ever sent: every case here fails or finishes before needing the index.
const REGISTRIES: &str = "[registries.alternative]\nindex = \"sparse+http://127.0.0.1:9/index/\"\n\n[registries.test]\nindex = \"sparse+http://127.0.0.1:9/test-index/\"\n";

#[test]
fn registry_selection_errors() {
    // `registry_not_in_publish_list`, `registry_not_inferred_because_of_conflict`,
    // `registry_not_inferred_because_of_multiple_options`, `registry_not_inferred_because_of_mismatch`
    let fx = Fixture::new();
    fx.file(".cargo/config.toml", REGISTRIES).package(
        "",
        "foo",
        &format!("{METADATA}publish = [\"test\"]\n"),
        "",
    );
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--registry", "alternative"])
        .assert_same()
        .cargo_fails_with("cannot be packaged");
    Case::new(&fx)
        .args(&["--list", "--offline", "--registry", "alternative"])
        .assert_same();

    for (a, b) in [
        ("[\"test\"]", "[\"alternative\"]"),
        ("[\"test\", \"alternative\"]", "[\"test\", \"alternative\"]"),
        ("[\"test\"]", "true"),
    ] {
        let fx = Fixture::new();
        fx.file(".cargo/config.toml", REGISTRIES)
            .file(
                "Cargo.toml",
                "[workspace]\nmembers = [\"main\", \"dep\"]\nresolver = \"2\"\n",
            )
            .package(
                "main",
                "main",
                &format!("{METADATA}publish = {a}\n"),
                "[dependencies]\ndep = { path = \"../dep\", version = \"0.1.0\" }\n",
            )
            .package("dep", "dep", &format!("{METADATA}publish = {b}\n"), "");
        Case::new(&fx).args(NVW).assert_same();
        Case::new(&fx)
            .args(&[
                "--no-verify",
                "--offline",
                "--workspace",
                "--exclude-lockfile",
            ])
            .fresh_target()
            .assert_same();
        Case::new(&fx)
            .args(&[
                "--no-verify",
                "--offline",
                "--workspace",
                "--registry",
                "nope",
            ])
            .fresh_target()
            .assert_same();
    }
}

#[test]
fn many_members_no_interdependencies() {
    let fx = Fixture::new();
    let members: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    fx.file(
        "Cargo.toml",
        &format!("[workspace]\nmembers = {members:?}\nresolver = \"2\"\n"),
    );
    for m in &members {
        fx.basic(m, m);
    }
    Case::new(&fx).args(NVW).assert_same().cargo_ok();
    Case::new(&fx)
        .args(&["--list", "--offline", "--workspace"])
        .assert_same();
}

#[test]
#[ignore = "needs crates.io"]
fn workspace_with_local_and_remote_deps_crates_io() {
    // `workspace_with_local_and_remote_deps` (real registry dependency next to a local one)
    let fx = Fixture::new();
    fx.file("Cargo.toml", "[workspace]\nmembers = [\"main\", \"dep\"]\nresolver = \"2\"\n")
        .package(
            "main",
            "main",
            METADATA,
            "[dependencies]\ndep = { path = \"../dep\", version = \"0.1.0\" }\ncfg-if = \"1\"\nremote = { package = \"cfg-if\", version = \"0.1\" }\n",
        )
        .basic("dep", "dep");
    Case::new(&fx)
        .args(&["--no-verify", "--workspace"])
        .assert_same()
        .cargo_ok();
}

#[test]
#[ignore = "needs crates.io"]
fn registry_dependency_lockfile_crates_io() {
    // Packaged Cargo.lock with real registry dependencies and a pinned workspace lock (§4.3).
    let fx = Fixture::new();
    fx.package("", "foo", METADATA, "[dependencies]\ncfg-if = \"1\"\n");
    Case::new(&fx)
        .args(&["--no-verify"])
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&[])
        .fresh_target()
        .assert_same()
        .cargo_ok();
}

#[test]
fn alternative_registry_dependency_is_rewritten() {
    // `generated_manifest`: `registry = "alternative"` becomes `registry-index` (no lockfile, so no
    // request is needed).
    let fx = Fixture::new();
    fx.file(".cargo/config.toml", REGISTRIES).package(
        "",
        "foo",
        METADATA,
        "[dependencies]\nalt-dep = { version = \"1\", registry = \"alternative\" }\n\n[dev-dependencies]\nother = { version = \"0.2\", registry = \"test\", package = \"real-other\" }\n",
    );
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "--exclude-lockfile"])
        .assert_same()
        .cargo_ok();
    Case::new(&fx)
        .args(&["--no-verify", "--offline"])
        .assert_same();
}

#[test]
fn dirty_member_from_workspace_root() {
    // `dirty_untracked_file_when_packaged_from_workspace_member` (from the root with -p)
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
    )
    .basic("a", "a")
    .basic("b", "b")
    .git_commit_all("");
    fx.file("a/untracked.txt", "");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "a"])
        .assert_same()
        .cargo_fails_with("a/untracked.txt");
    Case::new(&fx)
        .args(&["--no-verify", "--offline", "-p", "b"])
        .assert_same()
        .cargo_ok();
}

#[test]
fn root_package_with_default_members() {
    // cargo's `with_duplicate_spec_in_members`: at the root of a workspace whose root is a package,
    // declared `default-members` are what is selected, not the root package.
    let fx = Fixture::new();
    fx.file(
        "Cargo.toml",
        "[package]\nname = \"foo\"\nversion = \"0.1.0\"\nedition = \"2015\"\n\n[workspace]\nmembers = [\"li\", \"bar\"]\ndefault-members = [\"li\", \"bar\"]\n",
    )
    .file("src/main.rs", "fn main() {}\n")
    .basic("li", "li")
    .basic("bar", "bar");
    Case::new(&fx)
        .args(&["--no-verify", "--offline"])
        .assert_same()
        .cargo_ok()
        .stderr_contains("Packaging bar v");
}
