//! Publish behaviours first fixed for cargo's own test suite (`cargo xtask cargo-testsuite`),
//! tested here too, differentially: the real `cargo` and `cargo gantry` publish the same package
//! to the same stub registry, each with its own `CARGO_HOME`, and their exit codes and stderr
//! (paths and ports normalised) are compared. Covered: `Uploading` before the publish token is
//! asked for, one credential request per operation, a malformed token refused at the upload,
//! dependency checks before the metadata warnings, the status line of a failed upload as the
//! server sent it, the warning about both credentials files, and `[http]` config errors.
//! Each test here first showed a difference, fixed since; a new difference fails its test.

mod git_support;
mod peer_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gantry_test_support::cargo::CargoHome;
use git_support::GitRegistry;
use peer_support::diff::{Run, assert_cargo_lines_in_order, assert_same, both};
use peer_support::{GOOD_TOKEN, Peer, PeerStub, Tool, normalized_stderr, text};

const HOOK: &str = "__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS";

/// A `--cargo-plugin` credential provider that echoes each request to stderr (where both tools
/// let it through, so it lands between their own lines) and appends it to
/// `$CARGO_HOME/provider-calls`. It answers with a token (`$PROVIDER_TOKEN`, else [`GOOD_TOKEN`])
/// that is never cached, so each question a tool asks reaches it; with `$PUBLISH_TOKEN=none`, a
/// publish request is answered "not found".
fn echoing_provider(dir: &Path) -> PathBuf {
    let path = dir.join("provider.sh");
    std::fs::create_dir_all(dir).unwrap();
    let script = r#"#!/bin/sh
[ "$1" = --cargo-plugin ] || exit 3
echo '{"v":[1]}'
read -r request
printf '%s\n' "$request" >&2
printf '%s\n' "$request" >> "$CARGO_HOME/provider-calls"
case "$PUBLISH_TOKEN:$request" in
none:*'"operation":"publish"'*) echo '{"Err":{"kind":"not-found"}}' ;;
*) printf '{"Ok":{"kind":"get","token":"%s","cache":"never","operation_independent":false}}\n' "${PROVIDER_TOKEN:-DEFAULT}" ;;
esac
"#;
    std::fs::write(&path, script.replace("DEFAULT", GOOD_TOKEN)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

/// The `operation` of each request the provider got in `run`, in order.
fn provider_operations(scratch: &Path, run: &Run) -> Vec<String> {
    let calls = scratch.join(run.tool.label()).join("home/provider-calls");
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["operation"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

/// cargo asks the provider for a read token once (before packaging) and for the publish token once,
/// after saying `Uploading`; gantry asks the same questions at the same points.
#[test]
fn the_provider_is_asked_once_per_operation_and_after_uploading_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let provider = echoing_provider(tmp.path());
    let config = format!("credential-provider = [\"{}\"]\n", provider.display());
    let publish = ["publish", "--registry", "kellnr", "--no-verify"];
    let runs = both(tmp.path(), &stub, "kellnr", &config, &publish, &[], None);
    // The provider's lines sit among cargo's: the read request before `Packaging`, the publish
    // request right after `Uploading`.
    let cargo = &runs[0].stderr;
    let uploading = cargo.find("Uploading bare v0.1.0").expect(cargo);
    let publish_request = cargo.find("\"operation\":\"publish\"").expect(cargo);
    assert!(uploading < publish_request, "{cargo}");
    assert_asked_as_by_cargo(tmp.path(), &runs);
}

/// The same for crates.io's provider (`registry.credential-provider`), with cargo's test hook
/// pointing crates.io at the stub.
#[test]
fn the_crates_io_provider_is_asked_as_often_as_by_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let provider = echoing_provider(tmp.path());
    let config = format!(
        "[registry]\ncredential-provider = [\"{}\"]\n",
        provider.display()
    );
    let index = stub.index_url();
    let runs = Tool::BOTH.map(|tool| {
        stub.reset();
        let dir = tmp.path().join(tool.label());
        let pkg = package_with_metadata(&dir);
        peer_support::home(&dir.join("home"), None, &config);
        let env = [(HOOK, index.as_str())];
        let r = run(
            tool,
            &dir,
            &pkg,
            &["publish", "--no-verify"],
            &env,
            Some(stub.addr),
        );
        assert_eq!(stub.published(), ["bare"], "{}", text(&r.out));
        r
    });
    assert_asked_as_by_cargo(tmp.path(), &runs);
}

/// A gantry-registry advertises its rules, so gantry's preflight makes its remote checks
/// (ownership, with the read token) before uploading: the provider is still asked once per
/// operation, as by cargo (the read token it gave is reused). Each tool publishes to a registry of
/// its own.
#[test]
fn a_gantry_registry_provider_is_asked_as_often_as_by_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let provider = echoing_provider(tmp.path());
    let config = format!("credential-provider = [\"{}\"]\n", provider.display());
    let runs = Tool::BOTH.map(|tool| {
        let registry = crate::publish_support::Registry::start();
        let token = registry.token("alice");
        let index = registry.index_url();
        let addr = index["sparse+http://".len()..index.len() - "/index/".len()].parse();
        let dir = tmp.path().join(tool.label());
        let pkg = package_with_metadata(&dir);
        CargoHome::new()
            .registry("g", &index)
            .config(&config)
            .write(&dir.join("home"))
            .unwrap();
        let publish = ["publish", "--registry", "g", "--no-verify"];
        let env = [("PROVIDER_TOKEN", token.as_str())];
        let r = run(tool, &dir, &pkg, &publish, &env, addr.ok());
        assert_eq!(registry.versions("bare"), ["0.1.0"], "{}", text(&r.out));
        r
    });
    assert_asked_as_by_cargo(tmp.path(), &runs);
}

/// Both succeeded, cargo's lines are in gantry's stderr in the same order, and the provider was
/// asked once for reading and once for publishing by each.
fn assert_asked_as_by_cargo(scratch: &Path, runs: &[Run]) {
    for r in runs {
        assert!(
            r.out.status.success(),
            "{}: {}",
            r.tool.label(),
            text(&r.out)
        );
    }
    assert_cargo_lines_in_order(runs);
    for r in runs {
        let asked = provider_operations(scratch, r);
        assert_eq!(
            asked,
            ["read", "publish"],
            "{}: {}",
            r.tool.label(),
            r.stderr
        );
    }
}

/// `<dir>/bare`, a package with the metadata crates.io asks for.
fn package_with_metadata(dir: &Path) -> PathBuf {
    let metadata =
        "description = \"d\"\nlicense = \"MIT\"\nrepository = \"https://example.com/r\"\n";
    write(dir, "bare/Cargo.toml", &package_manifest("bare", metadata));
    write(dir, "bare/src/lib.rs", "");
    dir.join("bare")
}

/// A provider that gives a read token but no publish token: cargo has packaged and said
/// `Uploading` before it asks, and fails there; gantry gets as far, in the same order.
#[test]
fn a_missing_publish_token_fails_after_uploading_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let runs = without_publish_token(tmp.path(), &stub);
    let cargo = &runs[0].stderr;
    assert_eq!(runs[0].out.status.code(), Some(101), "{cargo}");
    assert!(
        cargo.contains("error: no token found for `kellnr`"),
        "{cargo}"
    );
    assert_eq!(runs[1].out.status.code(), Some(101), "{}", runs[1].stderr);
    // Everything up to the publish request is cargo's, line for line.
    let upto = |s: &str| {
        let end = s.find("\"operation\":\"publish\"").expect(s);
        s[..end].to_owned()
    };
    assert_eq!(upto(cargo), upto(&runs[1].stderr));
    assert!(cargo[..cargo.find("error:").unwrap()].contains("Uploading bare v0.1.0"));
    assert!(stub.requests().iter().all(|r| r.method != "PUT"));
    for r in &runs {
        assert_eq!(provider_operations(tmp.path(), r), ["read", "publish"]);
    }
}

/// cargo's error for a publish token the provider cannot give stands alone (`error: no token found
/// for `kellnr`` …), not under "failed to publish bare v0.1.0 to registry at …" (a malformed token,
/// which fails the upload itself, is).
#[test]
fn a_missing_publish_token_reads_as_cargos_error() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    assert_same(&without_publish_token(tmp.path(), &stub));
}

fn without_publish_token(scratch: &Path, stub: &PeerStub) -> Vec<Run> {
    let provider = echoing_provider(scratch);
    let config = format!("credential-provider = [\"{}\"]\n", provider.display());
    let publish = ["publish", "--registry", "kellnr", "--no-verify"];
    let env = [("PUBLISH_TOKEN", "none")];
    both(scratch, stub, "kellnr", &config, &publish, &env, None)
}

/// A token a header cannot carry (a control character, a line break, a non-Latin-1 byte) is not
/// refused when it is read but at the upload, after `Uploading`, in cargo's words; nothing is sent.
#[test]
fn a_malformed_token_is_refused_at_upload_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    for (i, token) in ["\u{16}", "a\nb", "tok\u{e9}n"].into_iter().enumerate() {
        let runs = both(
            &tmp.path().join(i.to_string()),
            &stub,
            "kellnr",
            "",
            &["publish", "--registry", "kellnr", "--no-verify"],
            &[("CARGO_REGISTRIES_KELLNR_TOKEN", token)],
            None,
        );
        let cargo = &runs[0].stderr;
        assert!(
            cargo.contains(
                "   Uploading bare v0.1.0 ([ROOT]/bare)\nerror: failed to publish bare v0.1.0 to registry at http://[ADDR]\n\nCaused by:\n  token contains invalid characters.\n  Only printable ISO-8859-1 characters are allowed as it is sent in a HTTPS header.\n"
            ),
            "{token:?}: {cargo}"
        );
        assert_same(&runs);
        assert!(stub.requests().iter().all(|r| r.method != "PUT"));
    }
}

/// A workspace of `a` (packaged first) and `b`, whose path dependency `c` has no version: cargo
/// checks every crate's dependencies before it packages any, so its error comes before any
/// `Packaging` line and any "manifest has no description …" warning.
#[test]
fn dependency_checks_come_before_the_metadata_warnings_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let index = stub.index_url();
    let mut runs = Vec::new();
    for tool in Tool::BOTH {
        stub.reset();
        let dir = tmp.path().join(tool.label());
        let ws = dir.join("ws");
        let manifests = [
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n",
            ),
            ("a/Cargo.toml", &package_manifest("a", "")),
            ("c/Cargo.toml", &package_manifest("c", "")),
            (
                "b/Cargo.toml",
                &package_manifest("b", "[dependencies]\nc = { path = \"../c\" }\n"),
            ),
        ];
        for (rel, contents) in manifests {
            write(&ws, rel, contents);
        }
        for member in ["a", "b", "c"] {
            write(&ws, &format!("{member}/src/lib.rs"), "");
        }
        peer_support::home(&dir.join("home"), None, "");
        let env = [("CARGO_REGISTRY_TOKEN", GOOD_TOKEN), (HOOK, index.as_str())];
        let publish = ["publish", "--workspace", "--no-verify"];
        runs.push(run(tool, &dir, &ws, &publish, &env, Some(stub.addr)));
    }
    let cargo = &runs[0].stderr;
    assert!(
        cargo.starts_with(
            "    Updating crates.io index\nerror: failed to verify manifest at `[ROOT]/ws/b/Cargo.toml`\n\nCaused by:\n  all dependencies must have a version requirement specified when publishing.\n  dependency `c` does not specify a version\n"
        ),
        "{cargo}"
    );
    assert_same(&runs);
    assert!(stub.requests().iter().all(|r| r.method != "PUT"));
}

fn package_manifest(name: &str, tables: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{tables}")
}

fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// A failed upload whose body is not a registry's JSON error shows the status line as the server
/// sent it: the canonical reason (`400 Bad Request`), a reason of the server's own (the peer stub
/// sends `418 Internal Server Error`), or none at all (`HTTP/1.1 400`).
#[test]
fn the_status_line_of_a_failed_upload_is_shown_as_sent_as_with_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let publish = ["publish", "--registry", "r", "--no-verify"];
    let token = [("CARGO_REGISTRIES_R_TOKEN", GOOD_TOKEN)];
    for (status, line) in [
        (400, "HTTP/1.1 400 Bad Request"),
        (418, "HTTP/1.1 418 Internal Server Error"),
    ] {
        let stub = PeerStub::start(Peer::Kellnr);
        stub.refuse_publish(status, "refused, in plain text");
        let runs = both(
            &tmp.path().join(status.to_string()),
            &stub,
            "r",
            "",
            &publish,
            &token,
            None,
        );
        assert_status_line_shown(&runs, line);
    }
    // A server that sends no reason phrase.
    let stub = RawStatusStub::start("HTTP/1.1 400");
    let runs = Tool::BOTH.map(|tool| {
        let dir = tmp.path().join("no-reason").join(tool.label());
        let pkg = peer_support::bare_package(&dir, "bare");
        CargoHome::new()
            .registry("r", &stub.index_url())
            .write(&dir.join("home"))
            .unwrap();
        run(tool, &dir, &pkg, &publish, &token, Some(stub.addr))
    });
    assert_status_line_shown(&runs, "HTTP/1.1 400");
}

fn assert_status_line_shown(runs: &[Run], line: &str) {
    let cargo = &runs[0].stderr;
    assert!(
        cargo.contains(&format!(
            "  failed to get a 200 OK response, got {}\n  headers:\n  \t{line}\n",
            &line[9..12]
        )),
        "{line}: {cargo}"
    );
    assert_same(runs);
}

/// A registry on 127.0.0.1 whose index has no crates and whose publish endpoint answers with the
/// status line it was given (header names lowercase, as hyper hands them to gantry), for status
/// lines the peer stub does not send.
struct RawStatusStub {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl RawStatusStub {
    fn start(status_line: &'static str) -> RawStatusStub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                std::thread::spawn(move || {
                    let _ = answer(conn, addr, status_line);
                });
            }
        });
        RawStatusStub { addr, stop }
    }

    fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }
}

impl Drop for RawStatusStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn answer(conn: TcpStream, addr: SocketAddr, status_line: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let (mut len, mut expect) = (0, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let Some((k, v)) = h.trim_end().split_once(':') else {
            break;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "content-length" {
            len = v.parse().unwrap_or(0);
        }
        expect |= k == "expect" && v.eq_ignore_ascii_case("100-continue");
    }
    let mut out = conn;
    if expect {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    reader.read_exact(&mut vec![0; len])?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match path {
        "/index/config.json" => (
            "HTTP/1.1 200 OK",
            format!(r#"{{"dl":"http://{addr}/dl","api":"http://{addr}"}}"#),
        ),
        "/api/v1/crates/new" => (status_line, "refused, in plain text".to_owned()),
        _ => ("HTTP/1.1 404 Not Found", "not found".to_owned()),
    };
    let head = format!(
        "{status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

/// Both `credentials` (the old name) and `credentials.toml` in `CARGO_HOME`: cargo warns once,
/// naming both, and uses `credentials`.
#[test]
fn both_credentials_files_are_warned_about_as_with_cargo() {
    let stub = PeerStub::start(Peer::Kellnr);
    let tmp = tempfile::tempdir().unwrap();
    let mut tokens = Vec::new();
    let mut runs = Vec::new();
    for tool in Tool::BOTH {
        stub.reset();
        let dir = tmp.path().join(tool.label());
        let pkg = peer_support::bare_package(&dir, "bare");
        let home = peer_support::home(&dir.join("home"), Some(("kellnr", &stub)), "");
        for (file, token) in [
            ("credentials", "old-name"),
            ("credentials.toml", "new-name"),
        ] {
            write(
                &home,
                file,
                &format!("[registries.kellnr]\ntoken = \"{token}\"\n"),
            );
        }
        let publish = ["publish", "--registry", "kellnr", "--no-verify"];
        runs.push(run(tool, &dir, &pkg, &publish, &[], Some(stub.addr)));
        let put = stub.requests().into_iter().find(|r| r.method == "PUT");
        tokens.push(put.and_then(|r| r.header("authorization").map(str::to_owned)));
    }
    let warning = "warning: both `[ROOT]/home/credentials` and `[ROOT]/home/credentials.toml` exist. Using `[ROOT]/home/credentials`\n";
    for r in &runs {
        assert!(
            r.out.status.success(),
            "{}: {}",
            r.tool.label(),
            text(&r.out)
        );
        assert_eq!(r.stderr.matches(warning).count(), 1, "{}", r.stderr);
    }
    assert_cargo_lines_in_order(&runs);
    let old = Some("old-name".to_owned());
    assert_eq!(tokens, [old.clone(), old]);
}

/// Invalid `[http]` values fail before anything is fetched, in cargo's words. Where cargo reads
/// them while updating a git index, its error is under "failed to update registry"; a TOML float
/// or datetime is refused when the configuration is loaded.
#[test]
fn http_config_errors_read_as_with_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let git = GitRegistry::start();
    let sparse = PeerStub::start(Peer::Kellnr);
    let cases = [
        (
            git.index_url(),
            "proxy = true",
            "failed to update registry `r`",
        ),
        (
            git.index_url(),
            "user-agent = true",
            "failed to update registry `r`",
        ),
        (
            sparse.index_url(),
            "proxy = 1.5",
            "unsupported TOML configuration type `float`",
        ),
        (
            sparse.index_url(),
            "timeout = 1979-05-27",
            "unsupported TOML configuration type `datetime`",
        ),
    ];
    for (i, (index, http, expected)) in cases.into_iter().enumerate() {
        let runs = http_config_runs(&tmp.path().join(i.to_string()), &index, http);
        assert!(
            runs[0].stderr.contains(expected),
            "{http}: {}",
            runs[0].stderr
        );
        assert_same(&runs);
    }
    assert!(sparse.requests().is_empty());
}

/// With a sparse index cargo reads `[http]` before any update, so its error is not under "failed
/// to update registry"; an `http.timeout` that is not an integer "expected an integer", and a
/// negative one is "could not load config key `http.timeout`" / "invalid value: integer `-1`,
/// expected u64".
#[test]
fn http_config_errors_with_a_sparse_index_read_as_with_cargo() {
    let tmp = tempfile::tempdir().unwrap();
    let git = GitRegistry::start();
    let sparse = PeerStub::start(Peer::Kellnr);
    let cases = [
        (sparse.index_url(), "proxy = true"),
        (sparse.index_url(), "timeout = \"x\""),
        (sparse.index_url(), "timeout = -1"),
        (git.index_url(), "timeout = \"x\""),
    ];
    for (i, (index, http)) in cases.into_iter().enumerate() {
        assert_same(&http_config_runs(
            &tmp.path().join(i.to_string()),
            &index,
            http,
        ));
    }
}

/// `publish` of a bare package to registry `r` at `index`, with `[http]` holding `http`.
fn http_config_runs(scratch: &Path, index: &str, http: &str) -> Vec<Run> {
    Tool::BOTH
        .into_iter()
        .map(|tool| {
            let dir = scratch.join(tool.label());
            let pkg = peer_support::bare_package(&dir, "bare");
            CargoHome::new()
                .registry("r", index)
                .config(&format!("[http]\n{http}\n"))
                .write(&dir.join("home"))
                .unwrap();
            let publish = ["publish", "--registry", "r", "--no-verify"];
            let token = [("CARGO_REGISTRIES_R_TOKEN", GOOD_TOKEN)];
            run(tool, &dir, &pkg, &publish, &token, None)
        })
        .collect()
}

/// Runs `args` with `tool` in `cwd`, with `<dir>/home` as `CARGO_HOME` and `<dir>/target` as the
/// target dir; stderr is normalised (`dir`'s parent, the scratch dir both tools' dirs are in, is
/// `[ROOT]`; `addr` is `[ADDR]`).
fn run(
    tool: Tool,
    dir: &Path,
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    addr: Option<SocketAddr>,
) -> Run {
    let mut cmd = tool.command(args[0]);
    cmd.args(&args[1..])
        .current_dir(cwd)
        .env("CARGO_HOME", dir.join("home"))
        .env("CARGO_TARGET_DIR", dir.join("target"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let mut stderr = normalized_stderr(&out, dir.parent().unwrap(), None);
    if let Some(addr) = addr {
        stderr = stderr.replace(&addr.to_string(), "[ADDR]");
    }
    Run { tool, out, stderr }
}
