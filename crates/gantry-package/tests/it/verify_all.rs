//! `verify_packaged`: several packaged crates verified in one cargo build (issue 5 item 4), unpacked
//! where cargo unpacks them (`<build-dir>/package/<name>-<version>`). Each test packages a small
//! workspace without verification, exactly as the publish flow does, then verifies the archives.
//! Offline: siblings are the only registry dependencies (crates.io, never contacted) and they
//! resolve from the overlay registry; cargo runs with its own `CARGO_HOME`.

use std::fs;
use std::path::PathBuf;

use gantry_package::CargoInvocation;
use gantry_package::RegistryNames;
use gantry_package::RegistryRequest;
use gantry_package::{BuildFlags, VerifyError};
use gantry_package::{Event, Recorder};
use gantry_package::{PackageError, PackageOptions, PackagedCrate, package, verify_packaged};
use gantry_package::{Workspace, load_workspace};

/// An alternative registry the tests configure by name; never contacted (offline).
const ALT_INDEX: &str = "sparse+http://127.0.0.1:9/index/";

struct Setup {
    _tmp: tempfile::TempDir,
    /// `Some("alt")`: packages go to the alternative registry `alt` instead of crates.io.
    registry: Option<&'static str>,
    ws_dir: PathBuf,
    target_dir: PathBuf,
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
            registry: None,
            target_dir: tmp.path().join("target"),
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
            registry: match self.registry {
                Some(name) => RegistryRequest::Name(name.into()),
                None => RegistryRequest::None,
            },
            registry_index: &|name| (name == "alt").then(|| ALT_INDEX.to_owned()),
            registry_name: &|_| None,
            crates_io_replacement: None,
            target_dir: self.target_dir.clone(),
            build_dir: self.target_dir.clone(),
            crates_io: gantry_package::Upstream::crates_io(),
            build: BuildFlags::default(),
            cargo: self.cargo.clone(),
            cwd: self.ws_dir.clone(),
            publishing: true,
            dry_run: false,
            names: RegistryNames::default(),
            list_sink: sink,
            lock_check: None,
        }
    }

    /// Packages every member without verification, then verifies all archives in one build.
    fn package_and_verify(&self) -> (Vec<PackagedCrate>, Recorder, Result<(), PackageError>) {
        let ws = self.workspace();
        let sink = |_: &str| {};
        let opts = self.options(&sink);
        let all: Vec<usize> = (0..ws.members.len()).collect();
        let packaging = Recorder::new(false);
        let packaged = package(&ws, &all, &opts, &packaging).unwrap();
        let rec = Recorder::new(false);
        let result = verify_packaged(
            &ws,
            &packaged.crates,
            packaged.overlay.as_ref(),
            &opts,
            &rec,
        );
        (packaged.crates, rec, result)
    }

    /// `<build-dir>/package`, where cargo unpacks what it verifies.
    fn package_dir(&self) -> PathBuf {
        self.target_dir.join("package")
    }

    /// Nothing of the synthetic workspace or the lockfile scratch space is left behind.
    fn assert_cleaned_up(&self) {
        for leftover in ["Cargo.toml", "Cargo.lock", "gantry-lock"] {
            assert!(
                !self.package_dir().join(leftover).exists(),
                "{leftover} left behind"
            );
        }
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

fn alt_sibling(name: &str) -> String {
    format!("{name} = {{ path = \"../{name}\", version = \"0.1.0\", registry = \"alt\" }}\n")
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
    // Every archive unpacked where cargo unpacks it, and offered through cargo's overlay registry.
    let root = setup.package_dir();
    for c in &crates {
        assert!(root.join(format!("{}-0.1.0/Cargo.toml", c.name)).is_file());
        assert!(
            root.join(format!("tmp-registry/{}-0.1.0.crate", c.name))
                .is_file()
        );
    }
    setup.assert_cleaned_up();
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

/// Siblings going to an alternative registry (named by index URL in the publish-form manifests)
/// are offered over that registry.
#[test]
fn alternative_registry_siblings_resolve_from_archives() {
    let members = [
        member("low", "", "", "pub fn low() -> u32 { 1 }\n"),
        member(
            "high",
            &alt_sibling("low"),
            "",
            "pub fn high() -> u32 { low::low() + 1 }\n",
        ),
    ];
    let mut files = workspace_files(&members);
    files.push((
        ".cargo/config.toml".into(),
        format!("[registries.alt]\nindex = \"{ALT_INDEX}\"\n"),
    ));
    let mut setup = Setup::new(&as_refs(&files));
    setup.registry = Some("alt");
    let (crates, _, result) = setup.package_and_verify();
    result.unwrap();
    let line = fs::read_to_string(setup.package_dir().join("tmp-registry/index/3/l/low")).unwrap();
    assert!(
        line.starts_with("{\"name\":\"low\",\"vers\":\"0.1.0\""),
        "{line}"
    );
    let high = crates.iter().find(|c| c.name == "high").unwrap();
    let low = crates.iter().find(|c| c.name == "low").unwrap();
    let lock = lock_of(high);
    assert!(
        lock.contains(&format!(
            "name = \"low\"\nversion = \"0.1.0\"\nsource = \"{ALT_INDEX}\"\nchecksum = \"{}\"\n",
            low.checksum
        )),
        "{lock}"
    );
    setup.assert_cleaned_up();
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
            // Cargo has shown the compiler's errors; there is no cause to add.
            assert!(source.is_none(), "{source:?}");
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
    let unpacked = setup.package_dir().join("dep-0.1.0");
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
    verify_packaged(&ws, &[], None, &setup.options(&sink), &rec).unwrap();
    assert!(rec.events().is_empty());
    assert!(!setup.package_dir().exists());
}

/// A crate's own `[profile]` is ignored in a workspace member, so such a crate is verified on its
/// own: here it only compiles with the `debug-assertions = false` its profile sets.
#[test]
fn a_crate_with_its_own_profile_is_built_with_it() {
    let mut files = workspace_files(&[
        member(
            "plain",
            "",
            "",
            "pub fn plain() {}
",
        ),
        member(
            "tuned",
            &sibling("plain"),
            "",
            "#[cfg(debug_assertions)]\ncompile_error!(\"built without the crate's own profile\");\npub fn tuned() { plain::plain() }\n",
        ),
    ]);
    for (path, text) in files.iter_mut() {
        if path == "tuned/Cargo.toml" {
            text.push_str("\n[profile.dev]\ndebug-assertions = false\n");
        }
    }
    let setup = Setup::new(&as_refs(&files));
    let (crates, rec, result) = setup.package_and_verify();
    result.unwrap();
    assert_eq!(crates.len(), 2);
    assert_eq!(verifying_lines(&rec).len(), 2);
    // Built as its own workspace root: its manifest and lockfile are back as the archive has them.
    let tuned = setup.package_dir().join("tuned-0.1.0");
    let manifest = fs::read_to_string(tuned.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("[workspace]"), "{manifest}");
    assert_eq!(
        fs::read_to_string(tuned.join("Cargo.lock")).unwrap(),
        lock_of(crates.iter().find(|c| c.name == "tuned").unwrap())
    );
    setup.assert_cleaned_up();
}

/// The `Cargo.lock` inside a packaged crate.
fn lock_of(c: &PackagedCrate) -> String {
    use std::io::Read;
    let file = fs::File::open(&c.tmp_path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let wanted = format!("{}-{}/Cargo.lock", c.name, c.version);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == wanted {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return text;
        }
    }
    panic!("no Cargo.lock in {}", c.tmp_path.display());
}
