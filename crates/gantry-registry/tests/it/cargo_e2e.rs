//! The real `cargo` against an in-process registry: publish, build, yank, owner, search, and the
//! `--auth-required` flow with `cargo:token`.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn publish(env: &CargoEnv, dir: &Path) -> String {
    env.ok(dir, &["publish", "--no-verify", "--registry", "gantry"])
}

fn cargo_publish_build_yank_owner_search(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let alice = reg.token("alice");
    reg.user("bob");
    let env = CargoEnv::new(&reg.index_url(), &alice, false);
    let work = tempfile::tempdir().unwrap();
    let root = work.path();

    let a = project(root, "dep-a", "0.1.0", &[], "pub fn a() -> u32 { 1 }\n");
    let out = publish(&env, &a);
    assert!(out.contains("Published dep-a v0.1.0"), "{out}");
    let b = project(
        root,
        "dep-b",
        "0.1.0",
        &[("dep-a", "0.1")],
        "pub fn b() -> u32 { dep_a::a() + 1 }\n",
    );
    publish(&env, &b);
    let a2 = project(root, "dep-a", "0.1.1", &[], "pub fn a() -> u32 { 1 }\n");
    publish(&env, &a2);
    // cargo's own pre-check refuses a republish.
    let again = env.cargo(&a2, &["publish", "--no-verify", "--registry", "gantry"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let app = project(
        root,
        "app",
        "0.1.0",
        &[("dep-a", "0.1"), ("dep-b", "0.1")],
        "pub fn c() -> u32 { dep_a::a() + dep_b::b() }\n",
    );
    env.ok(&app, &["build"]);
    let lock = std::fs::read_to_string(app.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"dep-a\"\nversion = \"0.1.1\""),
        "{lock}"
    );
    assert!(
        lock.contains(&format!("source = \"{}\"", reg.index_url())),
        "{lock}"
    );

    let out = env.ok(root, &["yank", "dep-a@0.1.1", "--registry", "gantry"]);
    assert!(out.contains("Yank dep-a@0.1.1"), "{out}");
    // The existing lockfile still builds with the yanked version ...
    std::fs::write(
        app.join("src/lib.rs"),
        "pub fn c() -> u32 { dep_a::a() + dep_b::b() + 1 }\n",
    )
    .unwrap();
    env.ok(&app, &["build"]);
    assert!(
        std::fs::read_to_string(app.join("Cargo.lock"))
            .unwrap()
            .contains("version = \"0.1.1\"")
    );
    // ... while a fresh resolution skips it.
    let fresh = project(root, "fresh", "0.1.0", &[("dep-a", "0.1")], "");
    env.ok(&fresh, &["generate-lockfile"]);
    let lock = std::fs::read_to_string(fresh.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"dep-a\"\nversion = \"0.1.0\""),
        "{lock}"
    );
    env.ok(
        root,
        &["yank", "--undo", "dep-a@0.1.1", "--registry", "gantry"],
    );
    env.ok(&fresh, &["update"]);
    assert!(
        std::fs::read_to_string(fresh.join("Cargo.lock"))
            .unwrap()
            .contains("version = \"0.1.1\"")
    );

    let out = env.ok(
        root,
        &["owner", "--add", "bob", "dep-a", "--registry", "gantry"],
    );
    // crates.io's answer: bob is invited and owns the crate once he accepts.
    assert!(
        out.contains("Owner user bob has been invited to be an owner of crate dep-a"),
        "{out}"
    );
    let out = env.ok(root, &["owner", "--list", "dep-a", "--registry", "gantry"]);
    assert!(!out.contains("bob"), "{out}");
    let bob = reg.token("bob");
    let id = reg
        .http(
            "GET",
            "/api/v1/me/crate_owner_invitations",
            &[("Authorization", &bob)],
            b"",
        )
        .json()["crate_owner_invitations"][0]["crate_id"]
        .clone();
    let accepted = reg.http(
        "PUT",
        &format!("/api/v1/me/crate_owner_invitations/{id}"),
        &[("Authorization", &bob)],
        serde_json::json!({"crate_owner_invite": {"crate_id": id, "accepted": true}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let out = env.ok(root, &["owner", "--list", "dep-a", "--registry", "gantry"]);
    assert!(out.contains("alice") && out.contains("bob"), "{out}");
    env.ok(
        root,
        &["owner", "--remove", "bob", "dep-a", "--registry", "gantry"],
    );
    let out = env.ok(root, &["owner", "--list", "dep-a", "--registry", "gantry"]);
    assert!(out.contains("alice") && !out.contains("bob"), "{out}");

    let out = env.ok(root, &["search", "dep", "--registry", "gantry"]);
    assert!(
        out.contains("dep-a = \"0.1.1\"") && out.contains("dep-b = \"0.1.0\""),
        "{out}"
    );
}

fn cargo_with_auth_required_and_cargo_token_provider(backend: Backend) {
    let reg = TestRegistry::start(backend, true);
    let alice = reg.token("alice");
    let env = CargoEnv::new(&reg.index_url(), &alice, true);
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    let a = project(root, "priv-a", "1.0.0", &[], "pub fn a() -> u32 { 7 }\n");
    let out = publish(&env, &a);
    assert!(out.contains("Published priv-a v1.0.0"), "{out}");
    let app = project(
        root,
        "priv-app",
        "0.1.0",
        &[("priv-a", "1")],
        "pub fn c() -> u32 { priv_a::a() }\n",
    );
    env.ok(&app, &["build"]);
    let out = env.ok(root, &["search", "priv", "--registry", "gantry"]);
    assert!(out.contains("priv-a = \"1.0.0\""), "{out}");

    // A wrong token is rejected on the index with cargo's "token rejected" message.
    let bad = CargoEnv::new(&reg.index_url(), "gtyWRONGWRONGWRONG", true);
    let fresh = project(root, "priv-fresh", "0.1.0", &[("priv-a", "1")], "");
    let out = bad.cargo(&fresh, &["generate-lockfile"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("token rejected for `gantry`"), "{err}");
}

fn binary_admin_commands_serve_on_port_zero_and_stop_on_sigterm(backend: Backend) {
    use std::io::{BufRead, BufReader};
    let bin = env!("CARGO_BIN_EXE_gantry-registry");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    let run = |args: &[&str]| {
        let out = storage.command(bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["migrate"]);
    run(&["user", "add", "alice"]);
    assert!(run(&["user", "list"]).contains("alice"));
    let out = run(&[
        "token",
        "new",
        "--user",
        "alice",
        "--scope",
        "publish-new",
        "--crate",
        "bin-*",
    ]);
    let token = out.lines().last().unwrap().to_owned();
    assert!(token.starts_with("gty"));
    let listed = run(&["token", "list"]);
    assert!(
        listed.contains("scopes=publish-new") && !listed.contains(&token),
        "{listed}"
    );
    let bad = storage
        .command(bin)
        .args(["token", "new", "--user", "alice", "--scope", "nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let mut child = storage
        .command(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut index = String::new();
    let mut api = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("index: ") {
            index = u.to_owned();
        }
        if let Some(u) = line.strip_prefix("api: ") {
            api = u.to_owned();
            break;
        }
    }
    assert!(
        index.starts_with("sparse+http://127.0.0.1:") && index.ends_with("/index/"),
        "{index}"
    );
    let addr: std::net::SocketAddr = api.strip_prefix("http://").unwrap().parse().unwrap();
    let r = http(
        addr,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &token)],
        &publish_body("bin-crate", "0.1.0"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        http(addr, "GET", "/index/bi/n-/bin-crate", &[], b"").status,
        200
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // Data survives a restart: the token still works and the crate is still there.
    run(&["token", "revoke", "1"]);
    assert!(run(&["token", "list"]).contains("revoked"));
}

backend_tests!(
    cargo_publish_build_yank_owner_search,
    cargo_with_auth_required_and_cargo_token_provider,
    binary_admin_commands_serve_on_port_zero_and_stop_on_sigterm,
);
