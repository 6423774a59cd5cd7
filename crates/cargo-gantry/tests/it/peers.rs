//! The real `cargo` and `cargo gantry` against stubs that answer as peer registries do (kellnr, JFrog
//! Artifactory): publish, owner and yank, compared by exit code and stderr (paths and ports
//! normalised), and how each tool reads answers that are not the documented shape. Each stub's
//! behaviour is cited in `peer_support`. Every run gets its own `CARGO_HOME`; `--no-verify` keeps
//! the builds out.

mod peer_support;

use peer_support::diff::{assert_cargo_lines_in_order, assert_same, both};
use peer_support::{Peer, PeerStub, text};

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
    // `{"warnings":null}` is a success; kellnr's missing `/api/v1/me` only means ownership could
    // not be checked, which a real publish does not mention (cargo checks nothing of the kind; the
    // dry run says so, see below).
    assert!(!g.contains("invalid response"), "{g}");
    assert!(!g.contains("/api/v1/me"), "{g}");
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
    // kellnr has no usable `/api/v1/me`: an ownership check that cannot run is not a finding,
    // so the dry run says nothing cargo's would not (it is named with `--verbose`).
    assert!(!runs[1].stderr.contains("/api/v1/me"), "{}", runs[1].stderr);
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
