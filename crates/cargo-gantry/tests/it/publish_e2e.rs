//! End-to-end: `cargo gantry publish/login/logout/yank/owner` against a real in-process
//! `gantry-registry` and against a stub that misbehaves on purpose.

mod publish_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use publish_support::{Behaviour, Registry, Stub, cargo, cargo_home, gantry, text, write};

fn package(root: &Path, name: &str, version: &str, extra: &str) -> PathBuf {
    let dir = root.join(name);
    write(
        &dir,
        "Cargo.toml",
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\n{extra}"
        ),
    );
    write(&dir, "src/lib.rs", "pub fn f() -> u32 {\n    1\n}\n");
    dir
}

fn run(mut cmd: Command, dir: &Path, home: &Path) -> Output {
    cmd.current_dir(dir)
        .env("CARGO_HOME", home)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn publish_to_gantry_registry() {
    let reg = Registry::start();
    let token = reg.token("alice");
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &[("g", &reg.index_url())]);
    let dir = package(tmp.path(), "e2e-one", "0.1.0", "");

    // No token: refused before anything is packaged.
    let out = run(
        gantry()
            .args(["publish", "--registry", "g"])
            .arg("--no-verify")
            .tap(),
        &dir,
        &home,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error: no token found for `g`, please run `cargo login --registry g`\nor use environment variable CARGO_REGISTRIES_G_TOKEN"),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("Packaging"), "{}", text(&out));

    // Wrong token: found by the preflight (the registry's validate-only publish) before any build
    // or upload, naming the crate and what to check.
    let mut cmd = gantry();
    cmd.args(["publish", "--registry", "g", "--no-verify"])
        .env("CARGO_REGISTRIES_G_TOKEN", "wrong");
    let out = run(cmd, &dir, &home);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("error: e2e-one v0.1.0: authentication failed"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("nothing was built or uploaded"),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("Uploading"), "{}", text(&out));

    // Dry run: everything but the upload (with a token: a dry run checks authentication too).
    let mut cmd = gantry();
    cmd.args(["publish", "--registry", "g", "--dry-run"])
        .env("CARGO_REGISTRIES_G_TOKEN", &token);
    let out = run(cmd, &dir, &home);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("warning: aborting upload due to dry run"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("Verifying e2e-one v0.1.0"),
        "{}",
        text(&out)
    );

    // The real thing, with JSON events, verified.
    let mut cmd = gantry();
    cmd.args(["publish", "--registry", "g", "--message-format", "json"])
        .env("CARGO_REGISTRIES_G_TOKEN", &token);
    let out = run(cmd, &dir, &home);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Uploaded e2e-one v0.1.0 to registry `g`"),
        "{err}"
    );
    assert!(
        err.contains("Published e2e-one v0.1.0 at registry `g`"),
        "{err}"
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "packaged",
            "plan",
            "verified",
            "uploaded",
            "confirmed",
            "summary"
        ]
    );
    assert_eq!(events[3]["crate"], "e2e-one");
    assert_eq!(events[3]["checksum"].as_str().unwrap().len(), 64);
    assert_eq!(events[5]["success"], true);

    // Again: the same bytes are already there, so this is a skip, not an error (cargo refuses
    // here; a re-run must be able to finish a publish), in a real run and in a dry run.
    let mut cmd = gantry();
    cmd.args(["publish", "--registry", "g", "--no-verify"])
        .env("CARGO_REGISTRIES_G_TOKEN", &token);
    let out = run(cmd, &dir, &home);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("Skipping e2e-one v0.1.0 (already published, identical): skip"),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("Uploading"), "{}", text(&out));
    let out = run(
        gantry()
            .args(["publish", "--registry", "g", "--dry-run", "--no-verify"])
            .tap(),
        &dir,
        &home,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("Skipping e2e-one v0.1.0 (already published, identical): skip"),
        "{}",
        text(&out)
    );

    // The real cargo can depend on what we published.
    let consumer = package(
        tmp.path(),
        "consumer",
        "0.1.0",
        "\n[dependencies]\ne2e-one = { version = \"0.1\", registry = \"g\" }\n",
    );
    let out = run(cargo().args(["generate-lockfile"]).tap(), &consumer, &home);
    assert!(out.status.success(), "{}", text(&out));
    let lock = std::fs::read_to_string(consumer.join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"e2e-one\""), "{lock}");

    // Yank: fresh resolution refuses it.
    let mut cmd = gantry();
    cmd.args(["yank", "--registry", "g", "e2e-one@0.1.0"])
        .env("CARGO_REGISTRIES_G_TOKEN", &token);
    let out = run(cmd, &dir, &home);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("Yank e2e-one@0.1.0"),
        "{}",
        text(&out)
    );
    std::fs::remove_file(consumer.join("Cargo.lock")).unwrap();
    let out = run(cargo().args(["generate-lockfile"]).tap(), &consumer, &home);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn refusals_before_any_network() {
    let tmp = tempfile::tempdir().unwrap();
    let stub = Stub::start(Behaviour::default());
    let home = cargo_home(&tmp.path().join("home"), &[("g", &stub.index_url())]);
    let off = package(tmp.path(), "off", "0.1.0", "publish = false\n");
    let out = run(
        gantry().args(["publish", "--registry", "g"]).tap(),
        &off,
        &home,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("error: `off` cannot be published.\n`package.publish` must be set to `true` or a non-empty list in Cargo.toml to publish."), "{}", text(&out));

    let other = package(tmp.path(), "other", "0.1.0", "publish = [\"elsewhere\"]\n");
    let out = run(
        gantry().args(["publish", "--registry", "g"]).tap(),
        &other,
        &home,
    );
    assert!(stderr(&out).contains("error: `other` cannot be published.\nThe registry `g` is not listed in the `package.publish` value in Cargo.toml."), "{}", text(&out));

    let ok = package(tmp.path(), "okpkg", "0.1.0", "");
    let out = run(
        gantry()
            .args(["publish", "--index", &stub.index_url()])
            .tap(),
        &ok,
        &home,
    );
    assert!(
        stderr(&out)
            .contains("error: command-line argument --index requires --token to be specified"),
        "{}",
        text(&out)
    );
    assert!(stub.publishes().is_empty());
}

fn stub_publish(behaviour: Behaviour, extra_args: &[&str]) -> (Stub, Output) {
    let stub = Stub::start(behaviour);
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &[("g", &stub.index_url())]);
    let dir = package(tmp.path(), "flaky", "0.2.0", "");
    let mut cmd = gantry();
    cmd.args(["publish", "--registry", "g", "--no-verify"])
        .args(extra_args)
        .env("CARGO_REGISTRIES_G_TOKEN", "tok");
    let out = run(cmd, &dir, &home);
    (stub, out)
}

#[test]
fn rate_limited_once_then_retried() {
    let (stub, out) = stub_publish(
        Behaviour {
            rate_limit_once: true,
            ..Default::default()
        },
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stub.publishes().len(), 2);
    assert!(
        stderr(&out)
            .contains("Waiting the registry is rate limiting uploads of new crates; retrying flaky v0.2.0 in 1s"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("Published flaky v0.2.0"),
        "{}",
        text(&out)
    );
}

#[test]
fn stored_then_500_is_detected_through_the_index() {
    let (stub, out) = stub_publish(
        Behaviour {
            fail_after_store_once: true,
            ..Default::default()
        },
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stub.publishes().len(),
        1,
        "published twice:\n{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("is in the index with this checksum"),
        "{}",
        text(&out)
    );
}

#[test]
fn index_timeout_is_a_failure() {
    let (_stub, out) = stub_publish(
        Behaviour {
            hide_published: true,
            ..Default::default()
        },
        &["--publish-timeout", "2"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "warning: timed out waiting for flaky v0.2.0 to be available in registry `g`"
        ),
        "{}",
        text(&out)
    );
}

/// What a registry sees of one request: method, path, Authorization, Content-Type, body.
type Seen = (String, String, Option<String>, Option<String>, Vec<u8>);

/// Same requests from cargo and cargo-gantry, compared on what a registry sees.
fn api_requests(args: &[&str], stdin: Option<&str>) -> Vec<Vec<Seen>> {
    let mut all = Vec::new();
    for tool in ["cargo", "gantry"] {
        let stub = Stub::start(Behaviour::default());
        let tmp = tempfile::tempdir().unwrap();
        let home = cargo_home(&tmp.path().join("home"), &[("g", &stub.index_url())]);
        let mut cmd = if tool == "cargo" { cargo() } else { gantry() };
        cmd.args(args)
            .current_dir(tmp.path())
            .env("CARGO_HOME", &home)
            .env("CARGO_REGISTRIES_G_TOKEN", "tok")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{tool}: {}", text(&out));
        all.push(
            stub.api_requests()
                .into_iter()
                .map(|r| {
                    (
                        r.method.clone(),
                        r.path.clone(),
                        r.header("authorization").map(str::to_owned),
                        r.header("content-type").map(str::to_owned),
                        r.body.clone(),
                    )
                })
                .collect(),
        );
    }
    all
}

#[test]
fn yank_and_owner_requests_match_cargo() {
    for args in [
        &["yank", "--registry", "g", "qq@0.1.2"][..],
        &[
            "yank",
            "--registry",
            "g",
            "qq",
            "--version",
            "0.1.2",
            "--undo",
        ],
        &["owner", "--registry", "g", "--add", "bob", "qq"],
        &["owner", "--registry", "g", "--remove", "bob", "qq"],
        &["owner", "--registry", "g", "--list", "qq"],
    ] {
        let r = api_requests(args, None);
        assert_eq!(r[0], r[1], "{args:?}");
        assert_eq!(r[0].len(), 1, "{args:?}");
    }
}

#[test]
fn login_logout_files_match_cargo() {
    let mut files = Vec::new();
    for tool in ["cargo", "gantry"] {
        let stub = Stub::start(Behaviour::default());
        let tmp = tempfile::tempdir().unwrap();
        let home = cargo_home(&tmp.path().join("home"), &[("g", &stub.index_url())]);
        let login = |args: &[&str], input: &str| {
            let mut cmd = if tool == "cargo" { cargo() } else { gantry() };
            let mut child = cmd
                .args(args)
                .current_dir(tmp.path())
                .env("CARGO_HOME", &home)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{tool} {args:?}: {}", text(&out));
            out
        };
        let out = login(&["login", "--registry", "g"], "tok-g\n");
        assert!(
            stderr(&out).contains("Login token for `g` saved"),
            "{tool}: {}",
            text(&out)
        );
        let after_login = std::fs::read_to_string(home.join("credentials.toml")).unwrap();
        let out = login(&["logout", "--registry", "g"], "");
        let after_logout = std::fs::read_to_string(home.join("credentials.toml")).unwrap();
        files.push((after_login, after_logout, stderr(&out)));
    }
    assert_eq!(files[0], files[1]);
}

/// `Command::args` returns `&mut Command`; this turns it back into an owned one for `run`.
trait Tap {
    fn tap(&mut self) -> Command;
}

impl Tap for Command {
    fn tap(&mut self) -> Command {
        let mut c = Command::new(self.get_program());
        c.args(self.get_args());
        for (k, v) in self.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }
}

#[test]
fn workspace_is_uploaded_in_dependency_waves() {
    let stub = Stub::start(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &[("g", &stub.index_url())]);
    let root = tmp.path().join("ws");
    write(
        &root,
        "Cargo.toml",
        "[workspace]\nmembers = [\"base\", \"top\"]\nresolver = \"2\"\n",
    );
    package(&root, "base", "0.1.0", "");
    package(
        &root,
        "top",
        "0.1.0",
        "\n[dependencies]\nbase = { path = \"../base\", version = \"0.1.0\", registry = \"g\" }\n",
    );
    let mut cmd = gantry();
    cmd.args(["publish", "--workspace", "--registry", "g", "--no-verify"])
        .env("CARGO_REGISTRIES_G_TOKEN", "tok");
    let out = run(cmd, &root, &home);
    assert!(out.status.success(), "{}", text(&out));
    let names: Vec<String> = stub
        .publishes()
        .iter()
        .map(|r| r.publish_parts().0["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["base", "top"]);
    let err = stderr(&out);
    let published_base = err.find("Published base v0.1.0").expect(&err);
    let uploading_top = err.find("Uploading top v0.1.0").expect(&err);
    assert!(published_base < uploading_top, "{err}");
    assert!(
        err.contains("note: waiting for base v0.1.0 to be available at registry `g`.\n      1 remaining crate to be published"),
        "{err}"
    );
    let (top, _) = stub.publishes()[1].publish_parts();
    assert_eq!(top["deps"][0]["name"], "base");
    assert!(top["deps"][0].get("registry").is_none(), "{top}");
}

#[test]
fn external_credential_provider_supplies_the_token() {
    let stub = Stub::start(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &[("g", &stub.index_url())]);
    let script = tmp.path().join("provider.sh");
    let log = tmp.path().join("request.json");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = --cargo-plugin ] || exit 3\necho '{{\"v\":[1]}}'\nread req\necho \"$req\" > '{}'\necho '{{\"Ok\":{{\"kind\":\"get\",\"token\":\"from-provider\",\"cache\":\"session\",\"operation_independent\":true}}}}'\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    config.push_str(&format!(
        "\n[registry]\nglobal-credential-providers = [\"cargo:token\", \"{} extra-arg\"]\n",
        script.display()
    ));
    std::fs::write(home.join("config.toml"), config).unwrap();
    let out = run(
        gantry().args(["yank", "--registry", "g", "qq@1.0.0"]).tap(),
        tmp.path(),
        &home,
    );
    assert!(out.status.success(), "{}", text(&out));
    let reqs = stub.api_requests();
    assert_eq!(reqs[0].header("authorization"), Some("from-provider"));
    let sent: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    assert_eq!(sent["operation"], "yank");
    assert_eq!(sent["name"], "qq");
    assert_eq!(sent["vers"], "1.0.0");
    assert_eq!(sent["args"], serde_json::json!(["extra-arg"]));
    assert_eq!(sent["registry"]["name"], "g");
}
