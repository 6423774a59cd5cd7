//! The real `cargo` and `cargo gantry` against registries that require authentication (a
//! `Basic, Bearer` challenge as kellnr sends, and cargo's own `Cargo login_url=` challenge): the 401
//! dance, credential providers (arrays with arguments, aliases, built-ins, external processes),
//! `login`/`logout`, and `--index` URLs, compared by exit code and stderr. Each stub's behaviour is
//! cited in `peer_support`.

mod peer_support;

use peer_support::diff::{assert_cargo_lines_in_order, assert_same, both};
use peer_support::{GOOD_TOKEN, Peer, PeerStub, Tool, bare_package, home, text};

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
