//! Workspace publishing that can always be finished: order (chains, diamonds, a versioned
//! dev-dependency cycle, `publish = false` members), the identical-skip, the different-checksum
//! refusal, resume after a failure at each stage, 429 handling and exit codes. Against the
//! recording stub (order, injected failures) and a real in-process `gantry-registry`.

mod publish_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use publish_support::{Behaviour, Registry, Stub, cargo_home, gantry, text, write};

/// One member: name, normal deps (in-workspace), versioned dev-deps, publishable, extra manifest.
struct M<'a> {
    name: &'a str,
    deps: &'a [&'a str],
    dev: &'a [&'a str],
    publish: bool,
    extra: &'a str,
}

fn m<'a>(name: &'a str, deps: &'a [&'a str]) -> M<'a> {
    M {
        name,
        deps,
        dev: &[],
        publish: true,
        extra: "",
    }
}

fn workspace(root: &Path, members: &[M]) -> PathBuf {
    let names: Vec<String> = members.iter().map(|m| format!("\"{}\"", m.name)).collect();
    write(
        root,
        "Cargo.toml",
        &format!(
            "[workspace]\nmembers = [{}]\nresolver = \"2\"\n",
            names.join(", ")
        ),
    );
    for m in members {
        let dir = root.join(m.name);
        let dep = |d: &&str| {
            format!("{d} = {{ path = \"../{d}\", version = \"0.1.0\", registry = \"g\" }}\n")
        };
        let deps: String = m.deps.iter().map(dep).collect();
        let dev: String = m.dev.iter().map(dep).collect();
        write(
            &dir,
            "Cargo.toml",
            &format!(
                "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\n{}{}\n[dependencies]\n{deps}\n[dev-dependencies]\n{dev}",
                m.name,
                if m.publish { "" } else { "publish = false\n" },
                m.extra
            ),
        );
        write(&dir, "src/lib.rs", "pub fn f() -> u32 {\n    1\n}\n");
    }
    root.to_owned()
}

fn publish_cmd(root: &Path, home: &Path, extra: &[&str]) -> Command {
    let mut cmd = gantry();
    cmd.args(["publish", "--workspace", "--registry", "g"])
        .args(extra)
        .env("CARGO_REGISTRIES_G_TOKEN", "tok")
        .env("CARGO_HOME", home)
        .current_dir(root);
    cmd
}

fn publish(root: &Path, home: &Path, extra: &[&str]) -> Output {
    publish_cmd(root, home, extra).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn pos(order: &[String], name: &str) -> usize {
    order
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name} not published: {order:?}"))
}

fn events(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

struct Setup {
    stub: Stub,
    _tmp: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
}

fn setup(behaviour: Behaviour, members: &[M]) -> Setup {
    let stub = Stub::start(behaviour);
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &[("g", &stub.index_url())]);
    let root = workspace(&tmp.path().join("ws"), members);
    Setup {
        stub,
        _tmp: tmp,
        home,
        root,
    }
}

#[test]
fn order_chain_diamond_dev_edge_and_unpublishable_then_identical_rerun() {
    let s = setup(
        Behaviour::default(),
        &[
            m("base", &[]),
            m("left", &["base"]),
            m("right", &["base"]),
            m("top", &["left", "right"]),
            m("tip", &["top"]),
            m("dv-lib", &[]),
            M {
                dev: &["dv-lib"],
                ..m("dv-user", &[])
            },
            M {
                publish: false,
                ..m("private", &["base"])
            },
        ],
    );
    let out = publish(
        &s.root,
        &s.home,
        &["--no-verify", "--message-format", "json", "--verbose"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let order = s.stub.stored_order();
    assert_eq!(order.len(), 7, "{order:?}");
    assert!(!order.contains(&"private".to_owned()));
    assert!(pos(&order, "base") < pos(&order, "left"));
    assert!(pos(&order, "base") < pos(&order, "right"));
    assert!(pos(&order, "left") < pos(&order, "top"));
    assert!(pos(&order, "right") < pos(&order, "top"));
    assert!(pos(&order, "top") < pos(&order, "tip"));
    // A versioned dev-dependency is an edge too (the registry needs the name to exist).
    assert!(pos(&order, "dv-lib") < pos(&order, "dv-user"));
    let err = stderr(&out);
    assert!(
        err.contains("Planned base v0.1.0 (new crate): publish"),
        "{err}"
    );
    assert!(err.contains("Summary 7 published"), "{err}");
    let ev = events(&out);
    let plan = ev
        .iter()
        .find(|e| e["event"] == "plan")
        .expect("plan event");
    assert_eq!(plan["crates"].as_array().unwrap().len(), 7);
    assert!(
        plan["crates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] == "publish" && c["checksum"].as_str().unwrap().len() == 64)
    );
    let confirmed = ev.iter().filter(|e| e["event"] == "confirmed").count();
    assert_eq!(confirmed, 7);
    let summary = ev.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["success"], true);
    assert_eq!(summary["published"].as_array().unwrap().len(), 7);
    // The plan comes before any upload.
    let plan_at = ev.iter().position(|e| e["event"] == "plan").unwrap();
    let first_upload = ev.iter().position(|e| e["event"] == "uploaded").unwrap();
    assert!(plan_at < first_upload);

    // Same command again: everything identical, nothing sent, success.
    let before = s.stub.publishes().len();
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(s.stub.publishes().len(), before);
    let err = stderr(&out);
    assert!(
        err.contains("Skipping base v0.1.0 (already published, identical): skip"),
        "{err}"
    );
    assert!(
        err.contains("Summary 7 already published (identical)"),
        "{err}"
    );
    // The first run finished: nothing to say about it.
    assert!(!err.contains("did not finish"), "{err}");
}

#[test]
fn real_registry_skips_identical_and_refuses_a_different_checksum() {
    let reg = Registry::start();
    let token = reg.token("alice");
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &[("g", &reg.index_url())]);
    let root = workspace(
        &tmp.path().join("ws"),
        &[m("ra", &[]), m("rb", &["ra"]), m("rc", &["rb"])],
    );
    let run = |extra: &[&str]| {
        let mut cmd = publish_cmd(&root, &home, extra);
        cmd.env("CARGO_REGISTRIES_G_TOKEN", &token);
        cmd.output().unwrap()
    };
    let out = run(&["--no-verify", "--message-format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let old = events(&out)
        .iter()
        .find(|e| e["event"] == "confirmed" && e["crate"] == "rc")
        .map(|e| e["checksum"].as_str().unwrap().to_owned())
        .expect("rc confirmed");

    let out = run(&["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("Summary 3 already published (identical)"),
        "{}",
        text(&out)
    );

    // Change rc without bumping its version: refused, both checksums named, nothing uploaded.
    write(
        &root.join("rc"),
        "src/lib.rs",
        "pub fn f() -> u32 {\n    2\n}\n",
    );
    let out = run(&["--no-verify"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("crate rc@0.1.0 already exists on `g` index with a different checksum"),
        "{err}"
    );
    assert!(err.contains(&format!("registry checksum: {old}")), "{err}");
    assert!(err.contains("local checksum:    "), "{err}");
    assert!(err.contains("bump the version"), "{err}");
    assert!(!err.contains("Uploading"), "{err}");
}

#[test]
fn upload_failure_on_one_crate_then_resume() {
    let s = setup(
        Behaviour {
            refuse_once: Some("mid".into()),
            ..Default::default()
        },
        &[
            m("base", &[]),
            m("mid", &["base"]),
            m("top", &["mid"]),
            m("solo", &[]),
        ],
    );
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert_eq!(out.status.code(), Some(101), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("2 of 4 planned crates were not published"),
        "{err}"
    );
    assert!(
        err.contains("failed: mid v0.1.0: failed to publish mid v0.1.0"),
        "{err}"
    );
    assert!(err.contains("refused once on purpose"), "{err}");
    assert!(
        err.contains("not attempted: top v0.1.0: its dependency `mid` was not published"),
        "{err}"
    );
    let mut order = s.stub.stored_order();
    order.sort();
    assert_eq!(order, ["base", "solo"]);

    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("a previous publish of this workspace to this registry did not finish"),
        "{err}"
    );
    assert!(err.contains("last time mid v0.1.0 failed"), "{err}");
    assert!(
        err.contains("Summary 2 published, 2 already published (identical)"),
        "{err}"
    );
    // The plan is said with `-v` only: cargo's own lines already tell what is published.
    assert!(!err.contains("Planned "), "{err}");
    let order = s.stub.stored_order();
    assert_eq!(order[2..], ["mid", "top"]);
}

#[test]
fn packaging_error_uploads_nothing_then_resume() {
    let s = setup(
        Behaviour::default(),
        &[
            m("pa", &[]),
            M {
                extra: "license-file = \"MISSING-LICENSE\"\n",
                ..m("pb", &["pa"])
            },
        ],
    );
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("MISSING-LICENSE"), "{}", text(&out));
    assert!(s.stub.publishes().is_empty());

    write(&s.root.join("pb"), "MISSING-LICENSE", "MIT\n");
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(s.stub.stored_order(), ["pa", "pb"]);
}

#[test]
fn verification_failure_names_the_crate_and_uploads_nothing() {
    let s = setup(Behaviour::default(), &[m("va", &[]), m("vb", &[])]);
    write(
        &s.root.join("vb"),
        "src/lib.rs",
        "pub fn f() -> u32 {\n    \"not a number\"\n}\n",
    );
    let out = publish(&s.root, &s.home, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("failed to verify package tarball of `vb v0.1.0`"),
        "{err}"
    );
    assert!(!err.contains("of `va v0.1.0`"), "{err}");
    assert!(s.stub.publishes().is_empty(), "{err}");

    write(
        &s.root.join("vb"),
        "src/lib.rs",
        "pub fn f() -> u32 {\n    2\n}\n",
    );
    let out = publish(&s.root, &s.home, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let mut order = s.stub.stored_order();
    order.sort();
    assert_eq!(order, ["va", "vb"]);
}

#[test]
fn index_timeout_is_nonzero_then_resume_finishes() {
    let s = setup(
        Behaviour {
            hide_published: true,
            ..Default::default()
        },
        &[m("ta", &[]), m("tb", &["ta"])],
    );
    let out = publish(&s.root, &s.home, &["--no-verify", "--publish-timeout", "1"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: timed out waiting for ta v0.1.0 to be available in registry `g`"),
        "{err}"
    );
    assert!(err.contains("run the same command again"), "{err}");
    assert!(err.contains("not attempted: tb v0.1.0"), "{err}");
    assert_eq!(s.stub.stored_order(), ["ta"]);

    // The registry catches up; the re-run skips ta (identical) and finishes tb.
    s.stub.set_hide_published(false);
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("uploaded but not confirmed: ta v0.1.0"),
        "{}",
        text(&out)
    );
    assert_eq!(s.stub.stored_order(), ["ta", "tb"]);
}

#[test]
fn uploaded_but_unconfirmed_is_rechecked_before_being_sent_again() {
    let s = setup(
        Behaviour {
            hide_published: true,
            ..Default::default()
        },
        &[m("ua", &[])],
    );
    let out = publish(&s.root, &s.home, &["--no-verify", "--publish-timeout", "1"]);
    assert!(!out.status.success(), "{}", text(&out));
    // Still invisible: the journal says it was sent, so it is looked for first, then re-sent.
    let out = publish(&s.root, &s.home, &["--no-verify", "--publish-timeout", "1"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ua v0.1.0 was uploaded by an earlier run but the index does not list it; sending it again"),
        "{err}"
    );
}

#[test]
fn killed_mid_run_then_resume() {
    let s = setup(
        Behaviour {
            hang_on: Some("kc".into()),
            ..Default::default()
        },
        &[m("ka", &[]), m("kb", &["ka"]), m("kc", &["kb"])],
    );
    let mut child = publish_cmd(&s.root, &s.home, &["--no-verify"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // ka and kb are confirmed once kc's upload has started.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !s
        .stub
        .requests()
        .iter()
        .any(|r| r.method == "PUT" && r.publish_parts().0["name"] == "kc")
    {
        assert!(Instant::now() < deadline, "kc's upload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(s.stub.stored_order(), ["ka", "kb"]);

    s.stub.set_hang_on(None);
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("a previous publish of this workspace to this registry did not finish"),
        "{err}"
    );
    assert!(
        err.contains("Summary 1 published, 2 already published (identical)"),
        "{err}"
    );
    assert_eq!(s.stub.stored_order(), ["ka", "kb", "kc"]);
}

#[test]
fn rate_limit_pauses_only_that_crate() {
    let s = setup(
        Behaviour {
            rate_limit_crate_once: Some(("slow".into(), 2)),
            ..Default::default()
        },
        &[m("slow", &[]), m("fast", &[]), m("fast-top", &["fast"])],
    );
    // Older versions make `fast` and `fast-top` new versions (another rate-limit bucket).
    s.stub.seed("fast", "0.0.1");
    s.stub.seed("fast-top", "0.0.1");
    let started = Instant::now();
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(started.elapsed() >= Duration::from_secs(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "Waiting the registry is rate limiting uploads of new crates; retrying slow v0.1.0 in 2s"
        ),
        "{err}"
    );
    // Both of the other bucket went through while `slow` waited.
    assert_eq!(s.stub.stored_order(), ["fast", "fast-top", "slow"]);
}

/// cargo stops at a 429; gantry waits only when `Retry-After` fits in the publish timeout.
#[test]
fn rate_limit_longer_than_the_publish_timeout_stops_the_run() {
    let s = setup(
        Behaviour {
            rate_limit_crate_once: Some(("slow".into(), 3600)),
            ..Default::default()
        },
        &[m("slow", &[])],
    );
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("failed to publish slow v0.1.0"), "{err}");
    assert!(!err.contains("retrying slow"), "{err}");
    assert!(s.stub.stored_order().is_empty());
}

#[test]
fn dry_run_uploads_nothing_and_reports_every_refusal() {
    let s = setup(Behaviour::default(), &[m("da", &[]), m("db", &["da"])]);
    let out = publish(&s.root, &s.home, &["--no-verify", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        stderr(&out)
            .matches("warning: aborting upload due to dry run")
            .count(),
        2,
        "{}",
        text(&out)
    );
    assert!(s.stub.publishes().is_empty());

    // Both crates exist with other bytes: both refusals at once.
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    for c in ["da", "db"] {
        write(&s.root.join(c), "src/lib.rs", "pub fn g() {}\n");
    }
    // As cargo's, the dry run warns (before packaging) and succeeds; `-v` adds the checksums.
    let out = publish(&s.root, &s.home, &["--no-verify", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    for c in ["da", "db"] {
        let warning = format!("warning: crate {c}@0.1.0 already exists on `g` index");
        let at = err.find(&warning).expect(&err);
        assert!(at < err.find("Packaging").expect(&err), "{err}");
    }
    assert!(!err.contains("different checksum"), "{err}");
    let out = publish(&s.root, &s.home, &["--no-verify", "--dry-run", "-v"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out)
            .contains("crate da@0.1.0 already exists on `g` index with a different checksum"),
        "{}",
        text(&out)
    );
    // The real publish refuses both at once, before any upload.
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("crate da@0.1.0 already exists"), "{err}");
    assert!(err.contains("crate db@0.1.0 already exists"), "{err}");
    assert!(!err.contains("Uploading"), "{err}");
}

#[test]
fn one_verification_build_closes_once_per_crate() {
    // The crates are verified in one build; as after cargo's build per crate, each gets its own
    // `Finished` line, with the time that crate was done, in the order they were done. The JSON
    // messages those times come from stay off stdout, which carries gantry's own events.
    let s = setup(
        Behaviour::default(),
        &[m("va", &[]), m("vb", &["va"]), m("vc", &["vb"])],
    );
    let out = publish(&s.root, &s.home, &["--dry-run", "--message-format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().map(str::trim_start).collect();
    let finished: Vec<usize> = (0..lines.len())
        .filter(|&n| {
            lines[n].starts_with("Finished `dev` profile [unoptimized + debuginfo] target(s) in ")
        })
        .collect();
    assert_eq!(finished.len(), 3, "{err}");
    // Each crate's line comes after that crate was compiled: the first after `va`'s `Compiling`
    // line, the last after `vc`'s (cargo compiles them in dependency order).
    for (n, name) in finished.iter().zip(["va", "vb", "vc"]) {
        let compiled = lines
            .iter()
            .position(|l| l.starts_with(&format!("Compiling {name} v0.1.0")))
            .expect(&err);
        assert!(compiled < *n, "{name}: {err}");
    }
    // gantry's own JSON events are on stdout, cargo's build messages are not.
    let events = events(&out);
    assert!(!events.is_empty(), "{}", text(&out));
    assert!(
        events.iter().all(|e| e.get("reason").is_none()),
        "cargo's messages reached stdout: {}",
        text(&out)
    );
}

#[test]
fn versioned_dev_dependency_cycle_fails_before_any_upload() {
    // cargo cannot package this either: the first crate's lockfile needs the other, unpublished.
    let s = setup(
        Behaviour::default(),
        &[
            M {
                dev: &["cyc-b"],
                ..m("cyc-a", &[])
            },
            m("cyc-b", &["cyc-a"]),
        ],
    );
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no matching package named `cyc-a` found"),
        "{err}"
    );
    assert!(err.contains("required by package `cyc-b v0.1.0"), "{err}");
    assert!(s.stub.publishes().is_empty());
}

#[test]
fn credential_provider_is_asked_per_upload_with_the_checksum() {
    let s = setup(Behaviour::default(), &[m("pa", &[]), m("pb", &["pa"])]);
    let script = s.home.join("provider.sh");
    let log = s.home.join("requests.jsonl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = --cargo-plugin ] || exit 3\necho '{{\"v\":[1]}}'\nread req\necho \"$req\" >> '{}'\necho '{{\"Ok\":{{\"kind\":\"get\",\"token\":\"short-lived\",\"cache\":\"never\",\"operation_independent\":false}}}}'\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut config = std::fs::read_to_string(s.home.join("config.toml")).unwrap();
    config.push_str(&format!(
        "\n[registry]\nglobal-credential-providers = [\"{}\"]\n",
        script.display()
    ));
    std::fs::write(s.home.join("config.toml"), config).unwrap();
    let out = publish_cmd(
        &s.root,
        &s.home,
        &["--no-verify", "--message-format", "json"],
    )
    .env_remove("CARGO_REGISTRIES_G_TOKEN")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let checksums: Vec<(String, String)> = events(&out)
        .iter()
        .filter(|e| e["event"] == "uploaded")
        .map(|e| {
            (
                e["crate"].as_str().unwrap().to_owned(),
                e["checksum"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(checksums.len(), 2);
    let asked: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["operation"] == "publish")
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    for (name, cksum) in &checksums {
        assert!(
            asked.iter().any(|r| r["name"] == name.as_str()
                && r["vers"] == "0.1.0"
                && r["cksum"] == cksum.as_str()),
            "{name}: {asked:?}"
        );
    }
    assert!(
        s.stub
            .publishes()
            .iter()
            .all(|r| r.header("authorization") == Some("short-lived"))
    );
}

#[test]
fn real_registry_rate_limit_pauses_new_crates_while_an_update_proceeds() {
    use gantry_registry::ratelimit::{Bucket, RateLimits};
    let reg = Registry::start_with(|c| {
        c.rate_limits = Some(RateLimits {
            publish_new: Bucket {
                refill: Duration::from_secs(2),
                burst: 1,
            },
            publish_update: Bucket {
                refill: Duration::from_secs(1),
                burst: 100,
            },
            yank: Bucket {
                refill: Duration::from_secs(1),
                burst: 100,
            },
        });
    });
    let token = reg.token("alice");
    let tmp = tempfile::tempdir().unwrap();
    let home = cargo_home(&tmp.path().join("home"), &[("g", &reg.index_url())]);
    let root = workspace(
        &tmp.path().join("ws"),
        &[m("rl-old", &[]), m("rl-n1", &[]), m("rl-n2", &[])],
    );
    let run = |extra: &[&str]| {
        let mut cmd = publish_cmd(&root, &home, extra);
        cmd.env("CARGO_REGISTRIES_G_TOKEN", &token);
        cmd.output().unwrap()
    };
    // rl-old exists (0.1.0); its 0.2.0 is an update, another bucket than the two new crates.
    let out = run(&["--no-verify", "--exclude", "rl-n1", "--exclude", "rl-n2"]);
    assert!(out.status.success(), "{}", text(&out));
    let manifest = root.join("rl-old/Cargo.toml");
    let text_old = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text_old.replacen("version = \"0.1.0\"", "version = \"0.2.0\"", 1),
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(2)); // the new-crate bucket refills

    let out = run(&["--no-verify", "--verbose"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the registry is rate limiting uploads of new crates; retrying rl-n"),
        "{err}"
    );
    assert!(err.contains("Summary 3 published"), "{err}");
    let waiting = err.find("rate limiting uploads of new crates").unwrap();
    let last_new = err
        .rfind("Uploaded rl-n1 v0.1.0")
        .max(err.rfind("Uploaded rl-n2 v0.1.0"))
        .unwrap();
    let old = err.find("Uploaded rl-old v0.2.0").expect(&err);
    // The update did not wait for the new crates' pause.
    assert!(old < last_new, "{err}");
    assert!(waiting < last_new, "{err}");
}

#[test]
fn corrupt_journal_warns_and_starts_fresh() {
    let s = setup(Behaviour::default(), &[m("ja", &[]), m("jb", &["ja"])]);
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let dir = s.root.join("target/package/gantry-publish");
    let journals: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(journals.len(), 1, "{journals:?}");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&journals[0]).unwrap()).unwrap();
    let states: Vec<&str> = written["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["confirmed", "confirmed"]);
    // As if the process died in the middle of a write (it cannot, thanks to the rename, but a
    // disk can): half a file.
    std::fs::write(&journals[0], b"{\"format\":1,\"crates\":[{\"na").unwrap();
    let out = publish(&s.root, &s.home, &["--no-verify"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("is not a valid publish journal"), "{err}");
    assert!(err.contains("starting a fresh journal"), "{err}");
    assert!(
        err.contains("Summary 2 already published (identical)"),
        "{err}"
    );
}
