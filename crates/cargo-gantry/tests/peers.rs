//! The real `cargo` and `cargo gantry` against stubs that answer as peer registries do (kellnr,
//! JFrog Artifactory, a registry challenging with `Basic, Bearer`): the same commands, compared by
//! exit code and stderr (paths and ports normalised). Each stub's behaviour is cited in
//! `peer_support`. Every run gets its own `CARGO_HOME`; `--no-verify` keeps the builds out.

mod peer_support;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use peer_support::{
    GOOD_TOKEN, Peer, PeerStub, Tool, bare_package, home, normalized_stderr, text,
    without_gantry_additions,
};

struct Run {
    tool: Tool,
    out: Output,
    stderr: String,
}

/// Runs `args` with each tool in its own scratch dir and `CARGO_HOME` (made by `config`), after
/// `prepare` (e.g. a package); the stub is reset between the two runs.
fn both(
    scratch: &Path,
    stub: &PeerStub,
    registry: &str,
    config: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Vec<Run> {
    Tool::BOTH
        .iter()
        .map(|&tool| {
            stub.reset();
            let dir = scratch.join(tool.label());
            let pkg = bare_package(&dir, "bare");
            let home = home(&dir.join("home"), Some((registry, stub)), config);
            let mut cmd = tool.command(args[0]);
            cmd.args(&args[1..])
                .current_dir(&pkg)
                .env("CARGO_HOME", &home)
                .env("CARGO_TARGET_DIR", dir.join("target"));
            for (k, v) in env {
                cmd.env(k, v);
            }
            let out = match stdin {
                None => cmd.output().unwrap(),
                Some(input) => {
                    let mut child = cmd
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
                    child.wait_with_output().unwrap()
                }
            };
            let stderr = normalized_stderr(&out, scratch, Some(stub));
            Run { tool, out, stderr }
        })
        .collect()
}

fn assert_same(runs: &[Run]) {
    let (c, g) = (&runs[0], &runs[1]);
    assert_eq!(
        (c.out.status.code(), &c.stderr),
        (g.out.status.code(), &g.stderr),
        "cargo and gantry differ\n--- cargo\n{}\n--- gantry\n{}",
        text(&c.out),
        text(&g.out)
    );
    assert_eq!(c.out.stdout, g.out.stdout, "stdout differs");
}

/// Every line of cargo's stderr appears in gantry's, in the same order (gantry adds its plan and
/// summary lines around them).
fn assert_cargo_lines_in_order(runs: &[Run]) {
    let (c, g) = (&runs[0], &runs[1]);
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

const TOKEN_ENV: (&str, &str) = ("CARGO_REGISTRIES_KELLNR_TOKEN", "t0k");

#[test]
fn kellnr_publish_without_license_succeeds_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let runs = both(
        tmp.path(),
        &stub,
        "kellnr",
        "",
        &["publish", "--registry", "kellnr", "--no-verify"],
        &[TOKEN_ENV],
        None,
    );
    for r in &runs {
        assert!(
            r.out.status.success(),
            "{}: {}",
            r.tool.label(),
            text(&r.out)
        );
    }
    assert_eq!(stub.published(), ["bare"], "gantry stored nothing");
    assert_cargo_lines_in_order(&runs);
    let g = &runs[1].stderr;
    // `{"warnings":null}` is a success; kellnr's missing `/api/v1/me` is said once, in one line.
    assert!(!g.contains("invalid response"), "{g}");
    let me: Vec<&str> = g.lines().filter(|l| l.contains("/api/v1/me")).collect();
    assert_eq!(me.len(), 1, "{g}");
    assert!(
        me[0].starts_with("warning: registry `kellnr` has no usable `/api/v1/me`"),
        "{g}"
    );
}

#[test]
fn kellnr_dry_run_says_which_checks_could_not_run() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let runs = both(
        tmp.path(),
        &stub,
        "kellnr",
        "",
        &[
            "publish",
            "--registry",
            "kellnr",
            "--no-verify",
            "--dry-run",
        ],
        &[TOKEN_ENV],
        None,
    );
    for r in &runs {
        assert!(
            r.out.status.success(),
            "{}: {}",
            r.tool.label(),
            text(&r.out)
        );
    }
    assert_cargo_lines_in_order(&runs);
    assert!(
        runs[1].stderr.contains(
            "note: dry run: checks that could not run: ownership (no usable `/api/v1/me`)"
        ),
        "{}",
        runs[1].stderr
    );
    assert!(stub.published().is_empty());
}

#[test]
fn kellnr_owner_and_yank_answer_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    for (i, args) in [
        &["owner", "--list", "bare", "--registry", "kellnr"][..],
        &["owner", "--add", "bob", "bare", "--registry", "kellnr"],
        &["owner", "--remove", "bob", "bare", "--registry", "kellnr"],
        &["yank", "bare@0.1.0", "--registry", "kellnr"],
        &["yank", "--undo", "bare@0.1.0", "--registry", "kellnr"],
    ]
    .into_iter()
    .enumerate()
    {
        let runs = both(
            &tmp.path().join(i.to_string()),
            &stub,
            "kellnr",
            "",
            args,
            &[TOKEN_ENV],
            None,
        );
        assert!(runs[0].out.status.success(), "{}", text(&runs[0].out));
        assert_same(&runs);
    }
}

#[test]
fn artifactory_first_publish_works_where_cargo_stops() {
    let stub = PeerStub::start(Peer::Artifactory);
    let tmp = tempfile::tempdir().unwrap();
    let runs = both(
        tmp.path(),
        &stub,
        "art",
        "",
        &["publish", "--registry", "art", "--no-verify"],
        &[("CARGO_REGISTRIES_ART_TOKEN", "t0k")],
        None,
    );
    // cargo ≥ 1.83 stops at its pre-publish check (rust-lang/cargo#15028) ...
    assert_eq!(runs[0].out.status.code(), Some(101));
    assert!(
        runs[0]
            .stderr
            .contains("error: download of ba/re/bare failed")
            && runs[0].stderr.contains("(127.0.0.1), got 400"),
        "{}",
        runs[0].stderr
    );
    // ... gantry reads the 400 as "no such crate" and publishes.
    assert!(runs[1].out.status.success(), "{}", text(&runs[1].out));
    assert_eq!(stub.published(), ["bare"]);
}

#[test]
fn artifactory_owners_of_an_unknown_crate_fail_as_with_cargo() {
    let stub = PeerStub::start(Peer::Artifactory);
    let tmp = tempfile::tempdir().unwrap();
    let runs = both(
        tmp.path(),
        &stub,
        "art",
        "",
        &["owner", "--list", "bare", "--registry", "art"],
        &[("CARGO_REGISTRIES_ART_TOKEN", "t0k")],
        None,
    );
    // JFrog's error body has no `detail`: the whole answer is shown, headers and all.
    assert!(
        runs[0].stderr.contains(
            "failed to get a 200 OK response, got 400\n  headers:\n  \tHTTP/1.1 400 Bad Request"
        ),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
}

#[test]
fn basic_bearer_registry_needs_a_provider_and_a_token_as_with_cargo() {
    let stub = PeerStub::start(Peer::BasicBearer);
    let tmp = tempfile::tempdir().unwrap();
    let publish = ["publish", "--registry", "priv", "--no-verify"];
    let token = [("CARGO_REGISTRIES_PRIV_TOKEN", GOOD_TOKEN)];
    let providers = "[registry]\nglobal-credential-providers = [\"cargo:token\"]\n";
    // No provider configured: cargo refuses to send a token to an authenticated index.
    let runs = both(
        &tmp.path().join("a"),
        &stub,
        "priv",
        "",
        &publish,
        &token,
        None,
    );
    assert!(
        runs[0]
            .stderr
            .contains("authenticated registries require a credential-provider"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
    // A provider but no token.
    let runs = both(
        &tmp.path().join("b"),
        &stub,
        "priv",
        providers,
        &publish,
        &[],
        None,
    );
    assert!(
        runs[0].stderr.contains("no token found for `priv`"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
    // A token the registry refuses.
    let bad = [("CARGO_REGISTRIES_PRIV_TOKEN", "wrong")];
    let runs = both(
        &tmp.path().join("c"),
        &stub,
        "priv",
        providers,
        &publish,
        &bad,
        None,
    );
    assert!(
        runs[0].stderr.contains("token rejected for `priv`"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
    // The right one.
    let runs = both(
        &tmp.path().join("d"),
        &stub,
        "priv",
        providers,
        &publish,
        &token,
        None,
    );
    for r in &runs {
        assert!(
            r.out.status.success(),
            "{}: {}",
            r.tool.label(),
            text(&r.out)
        );
    }
    assert_eq!(stub.published(), ["bare"]);
    assert_cargo_lines_in_order(&runs);
}

/// A provider written as a TOML array with arguments, asked for the index read after the 401, with
/// `{index_url}` substituted; and the same provider through `[credential-alias]`.
#[test]
fn token_from_stdout_as_array_and_alias_as_with_cargo() {
    let stub = PeerStub::start(Peer::CargoChallenge);
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        "test \"$1\" = \"$CARGO_REGISTRY_INDEX_URL\" && test \"$CARGO_REGISTRY_NAME_OPT\" = priv && echo {GOOD_TOKEN}"
    );
    let argv = format!(
        "[\"cargo:token-from-stdout\", \"sh\", \"-c\", '{script}', \"sh\", \"{{index_url}}\"]"
    );
    let publish = ["publish", "--registry", "priv", "--no-verify"];
    // `home` opens the `[registries.priv]` table; a bare key continues it.
    for (i, config) in [
        format!("credential-provider = {argv}\n"),
        format!(
            "[registry]\nglobal-credential-providers = [\"cargo:token\", \"mine\"]\n[credential-alias]\nmine = {argv}\n"
        ),
    ]
    .iter()
    .enumerate()
    {
        let dir = tmp.path().join(i.to_string());
        let runs = both(&dir, &stub, "priv", config, &publish, &[], None);
        for r in &runs {
            assert!(r.out.status.success(), "{}: {}", r.tool.label(), text(&r.out));
        }
        assert_eq!(stub.published(), ["bare"]);
        assert_cargo_lines_in_order(&runs);
    }
}

/// Built-in providers that cannot work here fail with cargo's words: libsecret without the library
/// or a Secret Service, paseto without `-Zasymmetric-token`, another platform's keychain.
#[test]
fn unusable_builtin_providers_fail_as_with_cargo() {
    let stub = PeerStub::start(Peer::BasicBearer);
    let tmp = tempfile::tempdir().unwrap();
    for provider in ["cargo:libsecret", "cargo:paseto", "cargo:wincred"] {
        let config = format!("credential-provider = \"{provider}\"\n");
        let runs = both(
            &tmp.path().join(provider.replace(':', "-")),
            &stub,
            "priv",
            &config,
            &["publish", "--registry", "priv", "--no-verify"],
            &[],
            None,
        );
        assert_eq!(
            runs[0].out.status.code(),
            Some(101),
            "{}",
            text(&runs[0].out)
        );
        assert_same(&runs);
    }
}

#[test]
fn login_and_logout_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    // Nothing on stdin: the prompt names `<api>/me` from config.json, then the empty token fails.
    let runs = both(
        &tmp.path().join("a"),
        &stub,
        "kellnr",
        "",
        &["login", "--registry", "kellnr"],
        &[],
        None,
    );
    assert!(
        runs[0]
            .stderr
            .contains("please paste the token found on http://[ADDR]/me below"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
    // A token on stdin is saved where cargo saves it, then logout removes it, then there is none.
    let runs = both(
        &tmp.path().join("b"),
        &stub,
        "kellnr",
        "",
        &["login", "--registry", "kellnr"],
        &[],
        Some("cargo login s3cret\n"),
    );
    assert!(runs[0].out.status.success(), "{}", text(&runs[0].out));
    assert_same(&runs);
    let creds = |tool: Tool| {
        std::fs::read_to_string(
            tmp.path()
                .join("b")
                .join(tool.label())
                .join("home/credentials.toml"),
        )
        .unwrap()
    };
    assert_eq!(creds(Tool::Cargo), creds(Tool::Gantry));
    for tool in Tool::BOTH {
        let dir = tmp.path().join("b").join(tool.label());
        for _ in 0..2 {
            let out = tool
                .command("logout")
                .args(["--registry", "kellnr"])
                .current_dir(&dir)
                .env("CARGO_HOME", dir.join("home"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out));
        }
    }
    assert_eq!(creds(Tool::Cargo), creds(Tool::Gantry));
}

#[test]
fn login_uses_the_login_url_of_a_cargo_challenge() {
    let stub = PeerStub::start(Peer::CargoChallenge);
    let tmp = tempfile::tempdir().unwrap();
    let providers = "[registry]\nglobal-credential-providers = [\"cargo:token\"]\n";
    let runs = both(
        tmp.path(),
        &stub,
        "priv",
        providers,
        &["login", "--registry", "priv"],
        &[],
        None,
    );
    assert!(
        runs[0]
            .stderr
            .contains("please paste the token found on http://[ADDR]/me below"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
}

#[test]
fn a_403_reason_is_printed_under_caused_by() {
    let stub = PeerStub::start(Peer::Kellnr);
    stub.refuse_publish(
        403,
        r#"{"errors":[{"detail":"you are not an owner of this crate"}]}"#,
    );
    let tmp = tempfile::tempdir().unwrap();
    let runs = both(
        tmp.path(),
        &stub,
        "kellnr",
        "",
        &["publish", "--registry", "kellnr", "--no-verify"],
        &[TOKEN_ENV],
        None,
    );
    let block = "error: failed to publish bare v0.1.0 to registry at http://[ADDR]\n\nCaused by:\n  the remote server responded with an error (status 403 Forbidden): you are not an owner of this crate\n";
    for r in &runs {
        assert_eq!(r.out.status.code(), Some(101));
        assert!(r.stderr.contains(block), "{}: {}", r.tool.label(), r.stderr);
    }
}

/// `--index` with the URL of a configured registry: when its credentials are needed (here for the
/// index of a registry that requires authentication), the registry is found by URL, with cargo's
/// note; two registries with that URL are cargo's error. `yank --index` needs `--token`.
#[test]
fn index_url_finds_the_configured_registry_as_with_cargo() {
    let stub = PeerStub::start(Peer::CargoChallenge);
    let tmp = tempfile::tempdir().unwrap();
    let url = stub.index_url();
    let providers = "[registry]\nglobal-credential-providers = [\"cargo:token\"]\n";
    let token = [("CARGO_REGISTRIES_PRIV_TOKEN", GOOD_TOKEN)];
    let dry_run = [
        "publish",
        "--index",
        url.as_str(),
        "--dry-run",
        "--no-verify",
    ];
    let runs = both(
        &tmp.path().join("a"),
        &stub,
        "priv",
        providers,
        &dry_run,
        &token,
        None,
    );
    assert!(
        runs[0].stderr.contains(
            "note: name of alternative registry `sparse+http://[ADDR]/index/` set to `priv`"
        ),
        "{}",
        runs[0].stderr
    );
    for r in &runs {
        assert!(
            r.out.status.success(),
            "{}: {}",
            r.tool.label(),
            text(&r.out)
        );
    }
    assert_cargo_lines_in_order(&runs);
    let twice = format!("{providers}[registries.other]\nindex = \"{url}\"\n");
    let runs = both(
        &tmp.path().join("b"),
        &stub,
        "priv",
        &twice,
        &dry_run,
        &token,
        None,
    );
    assert!(
        runs[0]
            .stderr
            .contains("multiple registries are configured with the same index url"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
    let yank = ["yank", "bare@0.1.0", "--index", url.as_str()];
    let runs = both(
        &tmp.path().join("c"),
        &stub,
        "priv",
        providers,
        &yank,
        &token,
        None,
    );
    assert!(
        runs[0]
            .stderr
            .contains("command-line argument --index requires --token to be specified"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
}

/// Answers cargo cannot read as the API's are errors with cargo's words: an HTML page with 200 (a
/// proxy or a web UI in front of the API) and a 400 with a text body (headers and body shown; a 5xx
/// would read the same, after gantry's retries).
#[test]
fn unreadable_and_failed_publish_answers_read_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    for (i, (status, body, expected)) in [
        (
            200,
            "<!DOCTYPE html><html></html>",
            "Caused by:\n  expected value at line 1 column 1\n",
        ),
        (
            400,
            "bad manifest",
            "Caused by:\n  failed to get a 200 OK response, got 400\n  headers:\n  \tHTTP/1.1 400 Bad Request\n  \tcontent-length: 12\n  \tconnection: close\n  \t\n  body:\n  bad manifest\n",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        stub.refuse_publish(status, body);
        let runs = both(
            &tmp.path().join(i.to_string()),
            &stub,
            "kellnr",
            "",
            &["publish", "--registry", "kellnr", "--no-verify"],
            &[TOKEN_ENV],
            None,
        );
        for r in &runs {
            assert_eq!(r.out.status.code(), Some(101), "{}", text(&r.out));
            assert!(
                r.stderr.contains(&format!(
                    "error: failed to publish bare v0.1.0 to registry at http://[ADDR]\n\n{expected}"
                )),
                "{}: {}",
                r.tool.label(),
                r.stderr
            );
        }
    }
}

/// An external provider (cargo's `--cargo-plugin` JSON-lines protocol) gets the same requests from
/// both tools: the index's `read` after its 401 (with that answer's headers), the API's `read`,
/// then the `publish` with name, version and checksum.
#[test]
fn external_provider_gets_what_cargo_sends() {
    let stub = PeerStub::start(Peer::BasicBearer);
    let tmp = tempfile::tempdir().unwrap();
    let provider = tmp.path().join("provider.sh");
    std::fs::write(
        &provider,
        format!(
            "#!/bin/sh\n[ \"$1\" = --cargo-plugin ] || exit 3\necho '{{\"v\":[1]}}'\nread -r request\nprintf '%s\\n' \"$request\" >> \"$(dirname \"$0\")/requests-$TOOL\"\necho '{{\"Ok\":{{\"kind\":\"get\",\"token\":\"{GOOD_TOKEN}\",\"cache\":\"never\",\"operation_independent\":false}}}}'\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&provider, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = format!(
        "credential-provider = [\"{}\", \"--flag\"]\n",
        provider.display()
    );
    let mut requests = Vec::new();
    for tool in Tool::BOTH {
        stub.reset();
        let dir = tmp.path().join(tool.label());
        let pkg = bare_package(&dir, "bare");
        let home = home(&dir.join("home"), Some(("priv", &stub)), &config);
        let out = tool
            .command("publish")
            .args(["--registry", "priv", "--no-verify"])
            .current_dir(&pkg)
            .env("CARGO_HOME", &home)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("TOOL", tool.label())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", tool.label(), text(&out));
        let recorded =
            std::fs::read_to_string(tmp.path().join(format!("requests-{}", tool.label()))).unwrap();
        // How often each is asked differs (cargo asks per index request, gantry once per use);
        // what is asked must not.
        let mut distinct: Vec<String> = recorded
            .replace(&stub.addr.to_string(), "[ADDR]")
            .lines()
            .map(str::to_owned)
            .collect();
        distinct.sort();
        distinct.dedup();
        requests.push(distinct.join("\n"));
    }
    assert!(
        requests[0].contains("\"operation\":\"read\"")
            && requests[0].contains("\"operation\":\"publish\"")
            && requests[0].contains("www-authenticate: Basic, Bearer"),
        "{}",
        requests[0]
    );
    assert_eq!(requests[0], requests[1]);
}

/// A dry run to a registry that needs no token asks no provider in cargo; in gantry the provider is
/// asked only for advice, so one that fails (paseto without `-Zasymmetric-token`) does not stop it.
#[test]
fn a_failing_provider_does_not_stop_a_dry_run() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let runs = both(
        tmp.path(),
        &stub,
        "kellnr",
        "credential-provider = \"cargo:paseto\"\n",
        &[
            "publish",
            "--registry",
            "kellnr",
            "--no-verify",
            "--dry-run",
        ],
        &[],
        None,
    );
    for r in &runs {
        assert!(
            r.out.status.success(),
            "{}: {}",
            r.tool.label(),
            text(&r.out)
        );
    }
    assert_cargo_lines_in_order(&runs);
    assert!(
        runs[1].stderr.contains(
            "warning: no token to check authentication and ownership with: cargo:paseto requires -Zasymmetric-token"
        ),
        "{}",
        runs[1].stderr
    );
}

/// A spurious failure of the index (a 503) is tried again after cargo's warning.
#[test]
fn a_spurious_index_failure_is_retried_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    stub.flaky_index(503, "busy");
    let tmp = tempfile::tempdir().unwrap();
    let runs = both(
        tmp.path(),
        &stub,
        "kellnr",
        "",
        &["owner", "--list", "bare", "--registry", "kellnr"],
        &[TOKEN_ENV],
        None,
    );
    assert!(
        runs[0].stderr.contains("warning: spurious network error (3 tries remaining): failed to get successful HTTP response from `http://[ADDR]/index/config.json` (127.0.0.1), got 503\nbody:\nbusy\n"),
        "{}",
        runs[0].stderr
    );
    assert_same(&runs);
}
