//! `verify_packaged`: several packaged crates verified in one cargo build outside the repository
//! (issue 5 item 4). Each test packages a small workspace without verification, exactly as the
//! publish flow does, then verifies the archives. Offline: siblings are the only registry
//! dependencies (crates.io, never contacted) and they resolve from their archives; cargo runs with
//! its own `CARGO_HOME`.

use std::fs;
use std::path::PathBuf;

use gantry_package::cargo_cmd::CargoInvocation;
use gantry_package::package::{
    PackageError, PackageOptions, PackagedCrate, package, verify_packaged,
};
use gantry_package::registry::RegistryRequest;
use gantry_package::report::{Event, Recorder};
use gantry_package::verify::{BuildFlags, VerifyError};
use gantry_package::workspace::{Workspace, load_workspace};

struct Setup {
    _tmp: tempfile::TempDir,
    ws_dir: PathBuf,
    target_dir: PathBuf,
    verify_dir: PathBuf,
    cargo: CargoInvocation,
}

impl Setup {
    /// A workspace from `(relative path, contents)` pairs, outside any git repository.
    fn new(files: &[(&str, &str)]) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let ws_dir = tmp.path().join("ws");
        for (rel, text) in files {
            let path = ws_dir.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        // The library runs `cargo` by path; a wrapper gives every cargo it starts this test's own
        // CARGO_HOME without touching the test process's environment.
        let home = tmp.path().join("cargo-home");
        fs::create_dir_all(&home).unwrap();
        let wrapper = tmp.path().join("cargo-wrapper");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nCARGO_HOME='{}' exec '{}' \"$@\"\n",
                home.display(),
                cargo
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let cargo = CargoInvocation {
            program: wrapper,
            offline: true,
            quiet: true,
            cwd: ws_dir.clone(),
            ..CargoInvocation::default()
        };
        Setup {
            target_dir: tmp.path().join("target"),
            verify_dir: tmp.path().join("verify"),
            ws_dir,
            cargo,
            _tmp: tmp,
        }
    }

    fn generate_lockfile(&self) {
        let status = self
            .cargo
            .command("generate-lockfile", &self.ws_dir.join("Cargo.toml"))
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn workspace(&self) -> Workspace {
        load_workspace(&self.ws_dir.join("Cargo.toml")).unwrap()
    }

    fn options<'a>(&self, sink: &'a dyn Fn(&str)) -> PackageOptions<'a> {
        PackageOptions {
            list: false,
            verify: false,
            check_metadata: false,
            allow_dirty: true,
            include_lockfile: true,
            registry: RegistryRequest::None,
            registry_index: &|_| None,
            registry_name: &|_| None,
            crates_io_replacement: None,
            target_dir: self.target_dir.clone(),
            build_dir: self.target_dir.clone(),
            verify_dir: self.verify_dir.clone(),
            build: BuildFlags::default(),
            cargo: self.cargo.clone(),
            cwd: self.ws_dir.clone(),
            publishing: true,
            list_sink: sink,
        }
    }

    /// Packages every member without verification, then verifies all archives in one build.
    fn package_and_verify(&self) -> (Vec<PackagedCrate>, Recorder, Result<(), PackageError>) {
        let ws = self.workspace();
        let sink = |_: &str| {};
        let opts = self.options(&sink);
        let all: Vec<usize> = (0..ws.members.len()).collect();
        let packaging = Recorder::new(false);
        let crates = package(&ws, &all, &opts, &packaging).unwrap();
        let rec = Recorder::new(false);
        let result = verify_packaged(&ws, &crates, &opts, &rec);
        (crates, rec, result)
    }
}

fn member(name: &str, deps: &str, dev_deps: &str, lib: &str) -> [(String, String); 2] {
    [
        (
            format!("{name}/Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\ndescription = \"test\"\n\n[dependencies]\n{deps}\n[dev-dependencies]\n{dev_deps}"
            ),
        ),
        (format!("{name}/src/lib.rs"), lib.to_owned()),
    ]
}

fn sibling(name: &str) -> String {
    format!("{name} = {{ path = \"../{name}\", version = \"0.1.0\" }}\n")
}

fn workspace_files(members: &[[(String, String); 2]]) -> Vec<(String, String)> {
    let names: Vec<String> = members
        .iter()
        .map(|m| format!("\"{}\"", m[0].0.trim_end_matches("/Cargo.toml")))
        .collect();
    let mut files = vec![(
        "Cargo.toml".to_owned(),
        format!(
            "[workspace]\nmembers = [{}]\nresolver = \"2\"\n",
            names.join(", ")
        ),
    )];
    files.extend(members.iter().flatten().cloned());
    files
}

fn as_refs(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

fn verifying_lines(rec: &Recorder) -> Vec<String> {
    rec.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Status { word, message } if word == "Verifying" => {
                Some(message.split(" (").next().unwrap_or("").to_owned())
            }
            _ => None,
        })
        .collect()
}

/// A chain (`top` → `mid` → `base`) and a diamond (`top` → `left`/`right` → `base`) verify in one
/// build of one synthetic workspace.
#[test]
fn chain_and_diamond_verify_in_one_build() {
    let members = [
        member("base", "", "", "pub fn base() -> u32 { 1 }\n"),
        member(
            "mid",
            &sibling("base"),
            "",
            "pub fn mid() -> u32 { base::base() + 1 }\n",
        ),
        member(
            "left",
            &sibling("base"),
            "",
            "pub fn left() -> u32 { base::base() * 2 }\n",
        ),
        member(
            "right",
            &sibling("base"),
            "",
            "pub fn right() -> u32 { base::base() * 3 }\n",
        ),
        member(
            "top",
            &format!("{}{}{}", sibling("mid"), sibling("left"), sibling("right")),
            "",
            "pub fn top() -> u32 { mid::mid() + left::left() + right::right() }\n",
        ),
    ];
    let files = workspace_files(&members);
    let setup = Setup::new(&as_refs(&files));
    setup.generate_lockfile();
    let (crates, rec, result) = setup.package_and_verify();
    result.unwrap();

    assert_eq!(crates.len(), 5);
    let mut verified = verifying_lines(&rec);
    verified.sort();
    assert_eq!(
        verified,
        [
            "base v0.1.0",
            "left v0.1.0",
            "mid v0.1.0",
            "right v0.1.0",
            "top v0.1.0"
        ]
    );
    // One synthetic workspace holding every archive, siblings patched to their unpacked copies.
    let root = setup.verify_dir.join("workspace");
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for c in &crates {
        assert!(
            manifest.contains(&format!("\"{}-0.1.0\"", c.name)),
            "{manifest}"
        );
        assert!(root.join(format!("{}-0.1.0/Cargo.toml", c.name)).is_file());
    }
    assert!(manifest.contains("[patch.crates-io]"), "{manifest}");
    // The build's lockfile (seeded from the workspace's) resolved every sibling from its archive.
    let lock = fs::read_to_string(root.join("Cargo.lock")).unwrap();
    assert!(!lock.contains("source = "), "{lock}");
    // Everything was compiled into the shared target dir.
    let deps = fs::read_dir(setup.target_dir.join("debug/deps")).unwrap();
    let rlibs: Vec<String> = deps
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".rlib"))
        .collect();
    for name in ["base", "mid", "left", "right", "top"] {
        assert!(
            rlibs.iter().any(|r| r.starts_with(&format!("lib{name}-"))),
            "{name} not built: {rlibs:?}"
        );
    }
}

/// When one crate does not compile, the error names it (and only it).
#[test]
fn a_crate_that_fails_to_compile_is_named() {
    let members = [
        member("good", "", "", "pub fn good() -> u32 { 1 }\n"),
        member(
            "broken",
            &sibling("good"),
            "",
            "pub fn broken() -> u32 { good::good() + \"one\" }\n",
        ),
    ];
    let files = workspace_files(&members);
    let setup = Setup::new(&as_refs(&files));
    let (_, _, result) = setup.package_and_verify();
    match result {
        Err(PackageError::VerifyFailed { crates, source }) => {
            assert_eq!(crates, ["broken v0.1.0"]);
            assert!(matches!(source, Some(VerifyError::Build { .. })));
        }
        other => panic!("expected a named verification failure, got {other:?}"),
    }
    let err = PackageError::VerifyFailed {
        crates: vec!["broken v0.1.0".into()],
        source: None,
    };
    assert_eq!(
        err.to_string(),
        "failed to verify package tarball of `broken v0.1.0`"
    );
}

/// A build script that writes into its package's sources is caught, and the crate named.
#[test]
fn build_script_modifying_sources_is_caught() {
    let mut files = workspace_files(&[
        member("clean", "", "", "pub fn clean() {}\n"),
        member("dirty", "", "", "pub fn dirty() {}\n"),
    ]);
    files.push((
        "dirty/build.rs".into(),
        "fn main() {\n    let dir = std::env::var(\"CARGO_MANIFEST_DIR\").unwrap();\n    std::fs::write(std::path::Path::new(&dir).join(\"src/generated.rs\"), \"// generated\\n\").unwrap();\n}\n".into(),
    ));
    let setup = Setup::new(&as_refs(&files));
    let (_, _, result) = setup.package_and_verify();
    match result {
        Err(PackageError::VerifyFailed {
            crates,
            source: Some(VerifyError::SourceModified(report)),
        }) => {
            assert_eq!(crates, ["dirty v0.1.0"]);
            assert!(
                report.contains("Added: ") && report.contains("dirty-0.1.0/src/generated.rs"),
                "{report}"
            );
        }
        other => panic!("expected a source-modified failure, got {other:?}"),
    }
}

/// The sibling a crate depends on is built from its archive, not the repository: `dep`'s build
/// script reports whether an excluded file is present, and `user` refuses at compile time to build
/// against a copy that has it.
#[test]
fn unpublished_sibling_resolves_from_its_archive() {
    let mut files = workspace_files(&[
        member(
            "dep",
            "",
            "",
            "pub const FROM_REPO: &str = env!(\"DEP_FROM_REPO\");\n",
        ),
        member(
            "user",
            &sibling("dep"),
            "",
            "const _: () = assert!(dep::FROM_REPO.len() == 2, \"built against the repository copy of dep\");\n",
        ),
    ]);
    for (path, text) in files.iter_mut() {
        if path == "dep/Cargo.toml" {
            text.push_str("\n");
            *text = text.replace(
                "description = \"test\"\n",
                "description = \"test\"\nexclude = [\"repo-only.txt\"]\n",
            );
        }
    }
    files.push((
        "dep/repo-only.txt".into(),
        "only in the repository\n".into(),
    ));
    files.push((
        "dep/build.rs".into(),
        "fn main() {\n    let dir = std::env::var(\"CARGO_MANIFEST_DIR\").unwrap();\n    let here = std::path::Path::new(&dir).join(\"repo-only.txt\").exists();\n    println!(\"cargo:rustc-env=DEP_FROM_REPO={}\", if here { \"yes!\" } else { \"no\" });\n}\n".into(),
    ));
    let setup = Setup::new(&as_refs(&files));
    // Sanity: in the repository, `user` really does not build.
    let mut build = setup
        .cargo
        .command("build", &setup.ws_dir.join("Cargo.toml"));
    build
        .arg("--target-dir")
        .arg(setup.target_dir.join("repo"))
        .stderr(std::process::Stdio::null());
    assert!(!build.status().unwrap().success());

    let (_, _, result) = setup.package_and_verify();
    result.unwrap();
    let unpacked = setup.verify_dir.join("workspace/dep-0.1.0");
    assert!(unpacked.join("build.rs").is_file());
    assert!(!unpacked.join("repo-only.txt").exists());
}

/// Nothing to verify is not an error and runs no build.
#[test]
fn no_crates_is_a_no_op() {
    let files = workspace_files(&[member("solo", "", "", "")]);
    let setup = Setup::new(&as_refs(&files));
    let ws = setup.workspace();
    let sink = |_: &str| {};
    let rec = Recorder::new(false);
    verify_packaged(&ws, &[], &setup.options(&sink), &rec).unwrap();
    assert!(rec.events().is_empty());
    assert!(!setup.verify_dir.join("workspace").exists());
}
