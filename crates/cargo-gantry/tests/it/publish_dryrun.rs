//! `cargo gantry publish --dry-run` against a real in-process `gantry-registry`: every problem the
//! registry would refuse is reported at once, nothing is uploaded, and each finding matches what the
//! registry answers to a real publish.

mod dryrun_support;
mod publish_support;

use std::path::Path;

use dryrun_support::{
    Registry, cargo, cargo_home, gantry, incompressible, package, registry, stderr, text, write,
};

/// The registry's upload limit in these tests: far below crates.io's, so a small crate can break it.
const SMALL_LIMIT: u32 = 8 * 1024;

/// Publishes one standalone crate for `token`'s user (the registry's state before a dry-run).
fn seed(reg: &Registry, home: &Path, dir: &Path, name: &str, version: &str, token: &str) {
    package(dir, name, version, "", "");
    let out = gantry(
        &dir.join(name),
        home,
        Some(token),
        &["publish", "--registry", "g", "--no-verify"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(reg.versions(name), [version]);
}

/// A workspace breaking many rules at once (one rule per crate, except `owned`, which breaks a
/// metadata rule AND is owned by someone else, so ownership must be found behind the first refusal).
fn bad_workspace(root: &Path) {
    let members = [
        "kw", "cat", "lic", "desc", "big", "a", "b", "owned", "taken", "private",
    ];
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    write(
        root,
        "Cargo.toml",
        format!(
            "[workspace]\nmembers = [{}]\nresolver = \"2\"\n",
            list.join(", ")
        )
        .as_bytes(),
    );
    package(root, "kw", "0.1.0", "keywords = [\"not ok!\"]", "");
    package(
        root,
        "cat",
        "0.1.0",
        "categories = [\"no-such-category\"]",
        "",
    );
    package(root, "lic", "0.1.0", "license = \"Nope-1.0\"", "");
    let long = "x".repeat(1001);
    package(
        root,
        "desc",
        "0.1.0",
        &format!("description = \"{long}\""),
        "",
    );
    package(root, "big", "0.1.0", "", "");
    write(
        root,
        "big/data.bin",
        &incompressible(3 * SMALL_LIMIT as usize),
    );
    package(
        root,
        "a",
        "0.1.0",
        "",
        "[dependencies]\nb = { path = \"../b\", version = \"0.1\", registry = \"g\" }\n",
    );
    package(root, "b", "0.2.0", "", "");
    package(root, "owned", "0.2.0", "keywords = [\"bad keyword\"]", "");
    package(root, "taken", "0.2.0", "", "");
    package(root, "private", "0.1.0", "publish = false", "");
}

/// The message of the `error: {krate}: …` line(s) of a dry-run, without the help footer.
fn finding(err: &str, krate: &str, starts: &str) -> String {
    let head = format!("error: {krate}: {starts}");
    let at = err
        .find(&head)
        .unwrap_or_else(|| panic!("no `{head}` in:\n{err}"));
    let rest = &err[at + "error: ".len() + krate.len() + 2..];
    let end = rest
        .find("\n  |\n  = help:")
        .or_else(|| rest.find("\nerror:"))
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

struct Setup {
    reg: Registry,
    _tmp: tempfile::TempDir,
    home: std::path::PathBuf,
    root: std::path::PathBuf,
    bob: String,
}

/// A registry where alice owns `owned` and `taken`, bob owns `b` 0.1.0; the bad workspace.
fn setup() -> Setup {
    let reg = registry(SMALL_LIMIT);
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &reg.index_url());
    let (alice, bob) = (reg.token("alice"), reg.token("bob"));
    let seeds = tmp.path().join("seeds");
    seed(&reg, &home, &seeds, "owned", "0.1.0", &alice);
    seed(&reg, &home, &seeds, "taken", "0.1.0", &alice);
    seed(&reg, &home, &seeds, "b", "0.1.0", &bob);
    let root = tmp.path().join("ws");
    bad_workspace(&root);
    Setup {
        reg,
        _tmp: tmp,
        home,
        root,
        bob,
    }
}

const DRY_RUN: &[&str] = &[
    "publish",
    "--workspace",
    "--registry",
    "g",
    "--dry-run",
    "--no-verify",
];

fn assert_nothing_uploaded(reg: &Registry) {
    for new in ["kw", "cat", "lic", "desc", "big", "a", "private"] {
        assert!(reg.versions(new).is_empty(), "{new} was uploaded");
    }
    assert_eq!(reg.versions("b"), ["0.1.0"]);
    assert_eq!(reg.versions("owned"), ["0.1.0"]);
    assert_eq!(reg.versions("taken"), ["0.1.0"]);
}

#[test]
fn dry_run_reports_every_problem_and_uploads_nothing() {
    let s = setup();
    let out = gantry(&s.root, &s.home, Some(&s.bob), DRY_RUN);
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    let expected = [
        ("kw v0.1.0", "\"not ok!\" is an invalid keyword"),
        (
            "cat v0.1.0",
            "The following category slugs are not currently supported on crates.io: no-such-category",
        ),
        ("lic v0.1.0", "unknown or invalid license expression"),
        ("desc v0.1.0", "The `description` is too long."),
        ("big v0.1.0", "max upload size is: 8192"),
        (
            "a v0.1.0",
            "dependency `b` requires version `0.1`, but this publish contains `b` v0.2.0",
        ),
        ("owned v0.2.0", "\"bad keyword\" is an invalid keyword"),
        (
            "owned v0.2.0",
            "this crate exists but you don't seem to be an owner.",
        ),
        (
            "taken v0.2.0",
            "this crate exists but you don't seem to be an owner.",
        ),
    ];
    for (krate, msg) in expected {
        finding(&err, krate, msg);
    }
    assert_eq!(
        err.matches("\nerror: ").count() + usize::from(err.starts_with("error: ")),
        10,
        "{err}"
    );
    assert!(
        err.contains(
            "error: dry run found 9 problems that the registry would refuse; nothing was uploaded"
        ),
        "{err}"
    );
    assert!(!err.contains("private v"), "{err}");
    assert!(
        err.contains(&format!(
            "  = help: fix `package.keywords` in `{}`",
            s.root.join("kw/Cargo.toml").display()
        )),
        "{err}"
    );
    assert_nothing_uploaded(&s.reg);

    // Without a token: the same local findings, plus the missing authentication.
    let out = gantry(&s.root, &s.home, None, DRY_RUN);
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    // Like cargo, a dry run needs no token; the checks that need one are named as not run.
    assert!(
        err.contains("note: dry run: checks that could not run: authentication and ownership (no token for registry `g`)"),
        "{err}"
    );
    finding(&err, "kw v0.1.0", "\"not ok!\" is an invalid keyword");
    finding(&err, "a v0.1.0", "dependency `b` requires version `0.1`");
    assert!(err.contains("error: dry run found 6 problems"), "{err}");
    assert_nothing_uploaded(&s.reg);
}

/// For each server rule: the dry-run's finding is the registry's own answer to the real publish.
#[test]
fn dry_run_findings_match_the_registry_answers() {
    let s = setup();
    let out = gantry(&s.root, &s.home, Some(&s.bob), DRY_RUN);
    assert!(!out.status.success(), "{}", text(&out));
    let dry = stderr(&out);
    let cases = [
        ("kw", "kw v0.1.0", "\"not ok!\""),
        ("cat", "cat v0.1.0", "The following category"),
        ("lic", "lic v0.1.0", "unknown or invalid license"),
        ("desc", "desc v0.1.0", "The `description`"),
        ("big", "big v0.1.0", "max upload size"),
        ("owned", "owned v0.2.0", "\"bad keyword\""),
        ("taken", "taken v0.2.0", "this crate exists"),
    ];
    for (name, krate, starts) in cases {
        let local = finding(&dry, krate, starts);
        // Gantry's own real publish stops at the same preflight findings before any upload, so
        // the registry's answer comes from real cargo sending the same crate.
        let out = cargo(
            &s.root,
            &s.home,
            Some(&s.bob),
            &["publish", "-p", name, "--registry", "g", "--no-verify"],
        );
        let real = stderr(&out);
        assert!(!out.status.success(), "{name}: {}", text(&out));
        assert!(
            real.contains("the remote server responded with an error"),
            "{name}: {real}"
        );
        // The client indents the lines of a cause; compare line by line without indentation.
        let flat = |t: &str| t.lines().map(str::trim).collect::<Vec<_>>().join("\n");
        assert!(
            flat(&real).contains(&flat(&local)),
            "{name}: the registry said something else than the dry-run.\ndry-run: {local}\nregistry:\n{real}"
        );
    }
    assert_nothing_uploaded(&s.reg);
}

#[test]
fn clean_workspace_passes_dry_run_then_publishes() {
    let reg = registry(SMALL_LIMIT);
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &reg.index_url());
    let token = reg.token("carol");
    let root = tmp.path().join("ws");
    write(
        &root,
        "Cargo.toml",
        b"[workspace]\nmembers = [\"x\", \"y\"]\nresolver = \"2\"\n",
    );
    package(&root, "x", "0.1.0", "keywords = [\"fine\"]", "");
    package(
        &root,
        "y",
        "0.1.0",
        "categories = [\"development-tools\"]",
        "[dependencies]\nx = { path = \"../x\", version = \"0.1\", registry = \"g\" }\n",
    );
    let out = gantry(&root, &home, Some(&token), DRY_RUN);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(!err.contains("error:"), "{err}");
    assert!(
        err.contains("warning: aborting upload due to dry run"),
        "{err}"
    );
    assert!(reg.versions("x").is_empty() && reg.versions("y").is_empty());

    let out = gantry(
        &root,
        &home,
        Some(&token),
        &["publish", "--workspace", "--registry", "g", "--no-verify"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(reg.versions("x"), ["0.1.0"]);
    assert_eq!(reg.versions("y"), ["0.1.0"]);
}

/// A registry without validate-only (crates.io, others) gets read-only calls: the token's user from
/// `/api/v1/me`, the owners of each existing crate; nothing is PUT. This stub does not advertise
/// crates.io's rules, so what it answers is advice (a warning), not a refusal: another registry may
/// let a user publish who is not listed (kellnr's admins).
#[test]
fn other_registries_get_read_only_ownership_checks() {
    let stub = dryrun_support::ReadOnlyStub::start();
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &stub.index_url());
    let root = tmp.path().join("ws");
    write(
        &root,
        "Cargo.toml",
        b"[workspace]\nmembers = [\"taken\", \"fresh\"]\nresolver = \"2\"\n",
    );
    package(&root, "taken", "0.2.0", "", "");
    package(&root, "fresh", "0.1.0", "", "");

    let out = gantry(&root, &home, Some("bob-token"), DRY_RUN);
    let err = stderr(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        err.contains("warning: taken v0.2.0: `bob` is not listed among the owners (alice); registry `g` may refuse the publish"),
        "{err}"
    );

    let out = gantry(&root, &home, Some("stale-token"), DRY_RUN);
    let err = stderr(&out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        err.contains("warning: registry `g` refused the token for `/api/v1/me` (the remote server responded with an error (status 403 Forbidden): authentication failed); ownership was not checked"),
        "{err}"
    );
    assert!(
        err.contains("note: dry run: checks that could not run: ownership (the token was refused for `/api/v1/me`)"),
        "{err}"
    );

    let requests = stub.requests();
    assert!(
        requests.iter().all(|(m, _)| m == "GET"),
        "a dry-run must not write: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|(_, p)| p == "/api/v1/crates/taken/owners"),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|(_, p)| p == "/api/v1/crates/fresh/owners"),
        "a crate that does not exist yet has no owners to ask about: {requests:?}"
    );
}

/// Versioned dev- and build-dependencies on a crate of the plan are held to the same rule.
#[test]
fn dev_and_build_requirements_must_accept_the_published_version() {
    let reg = registry(SMALL_LIMIT);
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &reg.index_url());
    let token = reg.token("dana");
    seed(&reg, &home, &tmp.path().join("seeds"), "d", "0.1.0", &token);
    let root = tmp.path().join("ws");
    write(
        &root,
        "Cargo.toml",
        b"[workspace]\nmembers = [\"c\", \"d\"]\nresolver = \"2\"\n",
    );
    package(&root, "d", "0.2.0", "", "");
    package(
        &root,
        "c",
        "0.1.0",
        "",
        "[dev-dependencies]\nd = { path = \"../d\", version = \"0.1\", registry = \"g\" }\n\n[build-dependencies]\nd = { path = \"../d\", version = \"0.1\", registry = \"g\" }\n",
    );
    let out = gantry(&root, &home, Some(&token), DRY_RUN);
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", text(&out));
    finding(
        &err,
        "c v0.1.0",
        "dev-dependency `d` requires version `0.1`, but this publish contains `d` v0.2.0",
    );
    finding(
        &err,
        "c v0.1.0",
        "build-dependency `d` requires version `0.1`, but this publish contains `d` v0.2.0",
    );
    assert!(err.contains("error: dry run found 2 problems"), "{err}");
    assert_eq!(reg.versions("d"), ["0.1.0"]);
    assert!(reg.versions("c").is_empty());
}
