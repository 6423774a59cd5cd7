//! Git-index registries, differentially: the real `cargo` and `cargo gantry` each publish, yank,
//! change owners and package against their own copy of the same registry (a git index on disk,
//! `git_support`), and their exit codes and stderr (paths and ports normalised) are compared. Also
//! what only gantry does: re-runs that skip identical crates, the clone shared with cargo, offline
//! reads, git's plain-HTTP indexes through `net.git-fetch-with-cli`.

mod git_support;
mod peer_support;

use std::path::Path;
use std::process::Output;

use git_support::{GitRegistry, Side, chain_workspace, package};
use peer_support::{Tool, text, without_gantry_additions};

const TOKEN: (&str, &str) = ("CARGO_REGISTRIES_ALT_TOKEN", "t0k");

struct Ran {
    out: Output,
    stderr: String,
}

fn run(side: &Side, tool: Tool, cwd: &Path, args: &[&str]) -> Ran {
    run_with(side, tool, cwd, args, |_| {})
}

fn run_with(
    side: &Side,
    tool: Tool,
    cwd: &Path,
    args: &[&str],
    env: impl FnOnce(&mut std::process::Command),
) -> Ran {
    let mut cmd = tool.command(args[0]);
    env(&mut cmd);
    cmd.args(&args[1..])
        .current_dir(cwd)
        .env("CARGO_HOME", &side.home)
        .env("CARGO_TARGET_DIR", side.dir.join("target"))
        .env(TOKEN.0, TOKEN.1);
    let out = cmd.output().unwrap();
    let stderr = side.normalize(&out.stderr);
    Ran { out, stderr }
}

/// Runs `steps` with the real cargo, then with gantry, each with a fresh registry at the same path
/// (so lockfiles naming it, and the `.crate` bytes, can match) and its own `CARGO_HOME` whose
/// config also has `config`.
fn each_side<T>(
    scratch: &Path,
    config: &str,
    url: fn(&GitRegistry) -> String,
    steps: impl Fn(&Side, Tool) -> T,
) -> [T; 2] {
    [Tool::Cargo, Tool::Gantry].map(|tool| {
        let side = Side::new(scratch, tool.label(), config, url);
        steps(&side, tool)
    })
}

fn file_url(r: &GitRegistry) -> String {
    r.index_url()
}

fn assert_ok(label: &str, r: &Ran) {
    assert!(r.out.status.success(), "{label}: {}", text(&r.out));
}

fn assert_same(c: &Ran, g: &Ran) {
    assert_eq!(
        (c.out.status.code(), &c.stderr),
        (g.out.status.code(), &g.stderr),
        "cargo and gantry differ\n--- cargo\n{}\n--- gantry\n{}",
        text(&c.out),
        text(&g.out)
    );
    assert_eq!(c.out.stdout, g.out.stdout, "stdout differs");
}

/// `r` without the verification builds' lines (`Verifying`, `Compiling`, `Finished`, …).
fn without_builds(r: &Ran) -> Ran {
    let build = [
        "Verifying ",
        "Compiling ",
        "Unpacking ",
        "Finished ",
        "Downloading ",
        "Downloaded ",
    ];
    let stderr = r
        .stderr
        .lines()
        .filter(|l| !build.iter().any(|w| l.trim_start().starts_with(w)))
        .map(|l| format!("{l}\n"))
        .collect();
    Ran {
        out: r.out.clone(),
        stderr,
    }
}

/// Every line cargo printed is in gantry's stderr, in the same order.
fn assert_cargo_lines_in_order(c: &Ran, g: &Ran) {
    let gantry = without_gantry_additions(&g.stderr);
    let mut rest = gantry.lines();
    for line in c.stderr.lines() {
        assert!(
            rest.any(|l| l == line),
            "cargo's line {line:?} is missing (or out of order) in gantry's stderr\n--- cargo\n{}\n--- gantry\n{}",
            c.stderr,
            g.stderr
        );
    }
}

#[test]
fn publish_to_a_git_index_as_cargo_does_and_a_rerun_skips() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["publish", "--registry", "alt", "--no-verify"];
    let [(rc, cc, _), (rg, cg, again)] = each_side(tmp.path(), "", file_url, |side, tool| {
        let p = package(&side.dir, "solo", "");
        let first = run(side, tool, &p, &args);
        let cksum = side.reg.lines("solo").first().map(|l| l["cksum"].clone());
        // Again: cargo refuses (the version exists), gantry finds it identical and skips it.
        let commits = side.reg.commits();
        let again = (tool == Tool::Gantry).then(|| {
            let again = run(side, tool, &p, &args);
            assert_eq!(side.reg.commits(), commits, "nothing was sent again");
            again
        });
        (first, cksum, again)
    });
    assert_ok("cargo", &rc);
    assert_ok("gantry", &rg);
    assert!(
        rc.stderr.starts_with("    Updating `alt` index\n"),
        "{}",
        rc.stderr
    );
    assert_cargo_lines_in_order(&rc, &rg);
    // The same bytes landed: the index lines carry the same checksum.
    assert_eq!(cc, cg);
    let again = again.unwrap();
    assert_ok("gantry re-run", &again);
    assert!(
        again
            .stderr
            .contains("Skipping solo v0.1.0 (already published, identical): skip"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_workspace_chain_lands_in_one_run_and_a_consumer_builds_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["publish", "--workspace", "--registry", "alt"];
    let names = ["a", "b", "c"];
    let [(rc, cc, _), (rg, cg, rerun)] = each_side(tmp.path(), "", file_url, |side, tool| {
        let ws = chain_workspace(&side.dir);
        let first = run(side, tool, &ws, &args);
        let lines: Vec<_> = names.iter().map(|n| side.reg.lines(n)).collect();
        if tool == Tool::Cargo {
            return (first, lines, None);
        }
        let commits = side.reg.commits();
        let again = run(side, tool, &ws, &args);
        assert_eq!(side.reg.commits(), commits);
        // A consumer built by the real cargo from what gantry published.
        let consumer = package(
            &side.dir,
            "consumer",
            "a = { version = \"0.1\", registry = \"alt\" }\n",
        );
        std::fs::write(
            consumer.join("src/lib.rs"),
            "pub fn three() -> u32 { a::a() }\n",
        )
        .unwrap();
        let built = run(side, Tool::Cargo, &consumer, &["build"]);
        (first, lines, Some((again, built)))
    });
    assert_ok("cargo", &rc);
    assert_ok("gantry", &rg);
    // cargo verifies crate by crate, gantry all in one build: the builds' lines are left out, the
    // rest (packaging, uploads, waits) compared.
    assert_cargo_lines_in_order(&without_builds(&rc), &without_builds(&rg));
    // cargo waited for each crate in the fetched index; so did gantry.
    for r in [&rc, &rg] {
        assert!(
            r.stderr
                .contains("   Published c v0.1.0 at registry `alt`\n"),
            "{}",
            r.stderr
        );
    }
    // The same three versions with the same bytes.
    assert_eq!(cc, cg);
    assert!(cg.iter().all(|l| l.len() == 1), "{cg:?}");
    let (again, built) = rerun.unwrap();
    assert_ok("gantry re-run", &again);
    assert_eq!(
        again
            .stderr
            .matches("(already published, identical): skip")
            .count(),
        3,
        "{}",
        again.stderr
    );
    assert_ok("consumer build", &built);
    assert!(
        built
            .stderr
            .contains("Downloaded c v0.1.0 (registry `alt`)"),
        "{}",
        built.stderr
    );
}

/// A machine where git knows nobody (a CI user, a fresh container, cargo's own test suite): cargo
/// fetches the index all the same, so gantry must too (gitoxide refuses to write the reflog entry
/// of the fetched ref without a committer unless given one).
#[test]
fn a_git_index_is_fetched_where_git_has_no_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let nobody = tmp.path().join("nobody");
    std::fs::create_dir_all(&nobody).unwrap();
    let args = ["yank", "solo@0.1.0", "--registry", "alt"];
    let [c, g] = each_side(tmp.path(), "", file_url, |side, tool| {
        let p = package(&side.dir, "solo", "");
        let published = run(
            side,
            Tool::Cargo,
            &p,
            &["publish", "--registry", "alt", "--no-verify"],
        );
        assert_ok("setup", &published);
        // A fresh clone, fetched with no identity anywhere.
        std::fs::remove_dir_all(side.home.join("registry/index")).unwrap();
        run_with(side, tool, &side.dir, &args, |cmd| {
            // rustup's `cargo` finds its toolchains from HOME unless told where they are.
            if std::env::var_os("RUSTUP_HOME").is_none()
                && let Some(home) = std::env::var_os("HOME")
            {
                cmd.env("RUSTUP_HOME", Path::new(&home).join(".rustup"));
            }
            cmd.env("HOME", &nobody)
                .env("XDG_CONFIG_HOME", &nobody)
                .env("GIT_CONFIG_NOSYSTEM", "1");
            for var in ["NAME", "EMAIL"] {
                for who in ["AUTHOR", "COMMITTER"] {
                    cmd.env_remove(format!("GIT_{who}_{var}"));
                }
            }
            cmd.env_remove("EMAIL");
        })
    });
    assert_ok("cargo", &c);
    assert_same(&c, &g);
}

#[test]
fn yank_unyank_and_owners_on_a_git_index_read_as_with_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let commands = [
        &["yank", "solo@0.1.0", "--registry", "alt"][..],
        &["yank", "--undo", "solo@0.1.0", "--registry", "alt"],
        &["yank", "solo@9.9.9", "--registry", "alt"],
        &["owner", "--list", "solo", "--registry", "alt"],
        &["owner", "--add", "bob", "solo", "--registry", "alt"],
        &["owner", "--remove", "bob", "solo", "--registry", "alt"],
    ];
    let [(c, cl), (g, gl)] = each_side(tmp.path(), "", file_url, |side, tool| {
        let p = package(&side.dir, "solo", "");
        let published = run(
            side,
            Tool::Cargo,
            &p,
            &["publish", "--registry", "alt", "--no-verify"],
        );
        assert_ok("setup", &published);
        let runs: Vec<Ran> = commands
            .iter()
            .map(|a| run(side, tool, &side.dir, a))
            .collect();
        (runs, side.reg.lines("solo"))
    });
    for (rc, rg) in c.iter().zip(&g) {
        assert_same(rc, rg);
    }
    assert_eq!(cl, gl);
    assert_eq!(gl[0]["yanked"], false);
}

#[test]
fn packaging_with_a_dependency_from_a_git_index_matches_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let dep = "dep1 = { version = \"0.1\", registry = \"alt\" }\n";
    let [(rc, bc), (rg, bg)] = each_side(tmp.path(), "", file_url, |side, tool| {
        let d = package(&side.dir, "dep1", "");
        let published = run(
            side,
            Tool::Cargo,
            &d,
            &["publish", "--registry", "alt", "--no-verify"],
        );
        assert_ok("setup", &published);
        let user = package(&side.dir, "user", dep);
        let packaged = run(side, tool, &user, &["package", "--allow-dirty"]);
        let bytes = std::fs::read(side.dir.join("target/package/user-0.1.0.crate"));
        (packaged, bytes)
    });
    assert_ok("cargo", &rc);
    assert_same(&rc, &rg);
    assert_eq!(bc.unwrap(), bg.unwrap(), ".crate bytes differ");
}

/// The packaged lockfiles' check for yanked versions on a git index: the index is fetched once
/// per run (cargo's record of updated sources), by the first lockfile's check, and each lockfile
/// locking the yanked version gets its warning; a publish, which fetched the index already, does
/// not fetch it again.
#[test]
fn yanked_versions_in_packaged_lockfiles_of_a_git_index_match_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let dep = "dep1 = { version = \"0.1\", registry = \"alt\" }\n";
    let [(pc, uc), (pg, ug)] = each_side(tmp.path(), "", file_url, |side, tool| {
        let d = package(&side.dir, "dep1", "");
        let publish = ["publish", "--registry", "alt", "--no-verify"];
        assert_ok("setup", &run(side, Tool::Cargo, &d, &publish));
        let ws = side.dir.join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(
            ws.join("Cargo.toml"),
            "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
        )
        .unwrap();
        package(&ws, "a", dep);
        package(&ws, "b", dep);
        assert_ok("lock", &run(side, Tool::Cargo, &ws, &["generate-lockfile"]));
        let yank = ["yank", "dep1@0.1.0", "--registry", "alt"];
        assert_ok("yank", &run(side, Tool::Cargo, &ws, &yank));
        let packaged = run(
            side,
            tool,
            &ws,
            &["package", "--workspace", "--no-verify", "--allow-dirty"],
        );
        let dry_run = [
            "publish",
            "-p",
            "a",
            "--registry",
            "alt",
            "--dry-run",
            "--no-verify",
            "--allow-dirty",
        ];
        let published = run(side, tool, &ws, &dry_run);
        (packaged, published)
    });
    assert_ok("cargo", &pc);
    assert_same(&pc, &pg);
    let warning = "warning: package `dep1 v0.1.0 (registry `alt`)` in Cargo.lock is yanked in registry `alt`, consider updating to a version that is not yanked";
    assert_eq!(pc.stderr.matches(warning).count(), 2, "{}", pc.stderr);
    assert_eq!(
        pc.stderr.matches("Updating `alt` index").count(),
        1,
        "{}",
        pc.stderr
    );
    assert_ok("cargo publish", &uc);
    assert_eq!(uc.stderr.matches(warning).count(), 1, "{}", uc.stderr);
    assert_eq!(
        uc.stderr.matches("Updating `alt` index").count(),
        1,
        "{}",
        uc.stderr
    );
    let gantry = without_gantry_additions(&ug.stderr);
    assert_eq!(
        (uc.out.status.code(), uc.stderr.as_str()),
        (ug.out.status.code(), gantry.as_str())
    );
}

/// An index served over git's plain ("dumb") HTTP, as cargo-http-registry serves it: cargo reads it
/// only with `net.git-fetch-with-cli`, and so does gantry, running the same `git fetch`.
#[test]
fn git_fetch_with_cli_reads_a_dumb_http_index_as_cargo_does() {
    let tmp = tempfile::tempdir().unwrap();
    let config = "[net]\ngit-fetch-with-cli = true\n";
    let args = ["publish", "--registry", "alt", "--no-verify"];
    let [(rc, cc, _), (rg, cg, verbose)] = each_side(
        tmp.path(),
        config,
        |r| r.http_index_url(),
        |side, tool| {
            let p = package(&side.dir, "solo", "");
            let first = run(side, tool, &p, &args);
            let cksum = side.reg.lines("solo").first().map(|l| l["cksum"].clone());
            let owner = ["owner", "-v", "--list", "solo", "--registry", "alt"];
            (first, cksum, run(side, tool, &side.dir, &owner))
        },
    );
    assert_ok("cargo", &rc);
    assert_ok("gantry", &rg);
    assert_cargo_lines_in_order(&rc, &rg);
    assert_eq!(cc, cg);
    assert_ok("gantry -v", &verbose);
    assert!(
        verbose.stderr.contains("     Running `git fetch --no-tags --verbose --force --update-head-ok 'http://[ADDR]/git' '+HEAD:refs/remotes/origin/HEAD'`\n"),
        "{}",
        verbose.stderr
    );
}

/// Without the git program, a dumb-HTTP index cannot be fetched; the error names the index and says
/// what to set.
#[test]
fn a_dumb_http_index_without_the_git_program_says_what_to_set() {
    let tmp = tempfile::tempdir().unwrap();
    let g = Side::new(tmp.path(), "gantry", "[net]\nretry = 0\n", |r| {
        r.http_index_url()
    });
    let r = run(
        &g,
        Tool::Gantry,
        &g.dir,
        &["owner", "--list", "solo", "--registry", "alt"],
    );
    assert_eq!(r.out.status.code(), Some(101), "{}", text(&r.out));
    assert!(
        r.stderr.starts_with(
            "    Updating `alt` index\nerror: failed to update registry `alt`\n\nCaused by:\n  failed to fetch `http://[ADDR]/git`\n  help: if `git fetch` can fetch this URL (git also speaks plain \"dumb\" HTTP and uses its own credentials and proxy settings), set `net.git-fetch-with-cli = true`\n"
        ),
        "{}",
        r.stderr
    );
}

/// A fetch that fails is tried again as cargo tries it, with the same words (the `git` program's own
/// output passes through), and ends in cargo's error.
#[test]
fn a_failing_git_fetch_is_retried_and_reported_as_cargo_does() {
    let tmp = tempfile::tempdir().unwrap();
    let config = "[net]\ngit-fetch-with-cli = true\nretry = 1\n";
    let args = ["owner", "--list", "solo", "--registry", "alt"];
    let [rc, rg] = each_side(
        tmp.path(),
        config,
        |r| format!("file://{}/missing", r.root.display()),
        |side, tool| run(side, tool, &side.dir, &args),
    );
    assert_eq!(rc.out.status.code(), Some(101));
    assert!(
        rc.stderr.contains("warning: spurious network error (1 try remaining): process didn't exit successfully: `git fetch --no-tags --force --update-head-ok 'file://[REG]/missing' '+HEAD:refs/remotes/origin/HEAD'` (exit status: 128)\n"),
        "{}",
        rc.stderr
    );
    assert_same(&rc, &rg);
}

/// cargo and gantry keep the clone in the same place: what cargo fetched, gantry reads offline; with
/// no clone at all, offline is refused with what to do.
#[test]
fn the_clone_is_shared_with_cargo_and_read_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let g = Side::new(tmp.path(), "gantry", "", file_url);
    let owner = ["owner", "--list", "solo", "--registry", "alt", "--offline"];
    let refused = run(&g, Tool::Gantry, &g.dir, &owner);
    assert_eq!(refused.out.status.code(), Some(101));
    assert!(
        refused.stderr.contains("error: failed to update registry `alt`\n\nCaused by:\n  the index `file://[REG]/index` has not been fetched yet (no clone at `[ROOT]/home/registry/index/-"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("help: run the command once without `--offline` to fetch it"),
        "{}",
        refused.stderr
    );

    // The real cargo fetches the index (resolving a dependency from it) ...
    g.reg
        .add_line(git_support::existing_crate("there", "1.0.0"));
    let user = package(
        &g.dir,
        "user",
        "there = { version = \"1\", registry = \"alt\" }\n",
    );
    let locked = run(&g, Tool::Cargo, &user, &["generate-lockfile"]);
    assert_ok("cargo generate-lockfile", &locked);
    let clones: Vec<_> = std::fs::read_dir(g.home.join("registry/index"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(clones.len(), 1, "{clones:?}");

    // ... and gantry reads cargo's clone offline, without saying it updates it.
    let plan = run(
        &g,
        Tool::Gantry,
        &user,
        &[
            "publish",
            "--registry",
            "alt",
            "--dry-run",
            "--no-verify",
            "--offline",
            "--allow-dirty",
            // The plan (read from cargo's clone) is printed with `-v`.
            "-v",
        ],
    );
    assert!(!plan.stderr.contains("Updating"), "{}", plan.stderr);
    assert!(plan.stderr.contains("new crate"), "{}", text(&plan.out));
    let after: Vec<_> = std::fs::read_dir(g.home.join("registry/index"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(after, clones, "gantry made a clone of its own");
}

/// `login` reads `config.json` from the fetched index (to name the page with the token) and saves
/// the token; `logout` removes it; both as cargo does, with the token from stdin.
#[test]
fn login_and_logout_with_a_git_index_as_cargo_does() {
    let tmp = tempfile::tempdir().unwrap();
    let login = |side: &Side, tool: Tool| {
        let mut login = tool.command("login");
        login
            .args(["--registry", "alt"])
            .current_dir(&side.dir)
            .env("CARGO_HOME", &side.home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = login.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"s3cr3t-token\n").unwrap();
        let out = child.wait_with_output().unwrap();
        Ran {
            stderr: side.normalize(&out.stderr),
            out,
        }
    };
    let [c, g] = each_side(tmp.path(), "", file_url, |side, tool| {
        let logged_in = login(side, tool);
        let credentials = std::fs::read_to_string(side.home.join("credentials.toml"));
        let mut logout = tool.command("logout");
        logout
            .args(["--registry", "alt"])
            .current_dir(&side.dir)
            .env("CARGO_HOME", &side.home);
        let out = logout.output().unwrap();
        let logged_out = Ran {
            stderr: side.normalize(&out.stderr),
            out,
        };
        // Again, now that the index is cloned: cargo's login reads the clone as it is.
        let again = login(side, tool);
        (logged_in, credentials.ok(), logged_out, again)
    });
    assert_ok("cargo login", &c.0);
    assert!(
        c.0.stderr.starts_with("    Updating `alt` index\n"),
        "{}",
        c.0.stderr
    );
    assert_same(&c.0, &g.0);
    assert_eq!(c.1, g.1);
    assert!(g.1.unwrap().contains("s3cr3t-token"));
    assert_same(&c.2, &g.2);
    assert_ok("cargo login again", &c.3);
    assert!(!c.3.stderr.contains("Updating"), "{}", c.3.stderr);
    assert_same(&c.3, &g.3);
}
