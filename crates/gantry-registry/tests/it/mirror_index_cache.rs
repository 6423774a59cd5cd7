//! The in-memory index cache (issue 15): a publish or yank is visible on the instance that took it
//! as soon as it answered 200, and on another instance of the same database once it has read the
//! change log; bytes and ETags are those the registry always sent, and gzip is offered.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::common::*;
use sha2::Digest;

/// Bounds a wait for another instance on a busy machine (PostgreSQL pushes changes at commit,
/// SQLite instances poll every 100 ms).
const PROPAGATION_BOUND: Duration = Duration::from_secs(10);

fn versions(reg: &TestRegistry, name: &str) -> Vec<(String, bool)> {
    reg.index_lines(name)
        .iter()
        .map(|l| {
            (
                l["vers"].as_str().unwrap().to_owned(),
                l["yanked"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn v(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|(s, y)| (s.to_string(), *y)).collect()
}

fn publish_and_yank_are_seen_at_once_on_the_same_instance(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let token = reg.token("alice");
    // A cached 404 goes away with the first publish.
    assert_eq!(reg.index_file("cached").status, 404);
    assert_eq!(
        reg.publish(&token, &publish_body("cached", "0.1.0")).status,
        200
    );
    assert_eq!(versions(&reg, "cached"), v(&[("0.1.0", false)]));
    // Every read from here is a cache hit until a change; each change shows immediately.
    for (i, vers) in ["0.2.0", "0.3.0", "0.4.0"].iter().enumerate() {
        assert_eq!(versions(&reg, "cached").len(), i + 1);
        assert_eq!(
            reg.publish(&token, &publish_body("cached", vers)).status,
            200
        );
        assert_eq!(
            versions(&reg, "cached").len(),
            i + 2,
            "after publishing {vers}"
        );
    }
    let yank = reg.http(
        "DELETE",
        "/api/v1/crates/cached/0.3.0/yank",
        &[("Authorization", &token)],
        b"",
    );
    assert_eq!(yank.status, 200);
    assert_eq!(
        versions(&reg, "cached"),
        v(&[
            ("0.1.0", false),
            ("0.2.0", false),
            ("0.3.0", true),
            ("0.4.0", false)
        ])
    );
    let unyank = reg.http(
        "PUT",
        "/api/v1/crates/cached/0.3.0/unyank",
        &[("Authorization", &token)],
        b"",
    );
    assert_eq!(unyank.status, 200);
    assert!(versions(&reg, "cached").iter().all(|(_, y)| !y));
    // Once the instance has also read its own changes from the log, reads are memory hits.
    let deadline = Instant::now() + PROPAGATION_BOUND;
    loop {
        assert_eq!(reg.index_file("cached").status, 200);
        let metrics = reg.http("GET", "/metrics", &[], b"").text();
        let hits = metrics
            .lines()
            .find_map(|l| l.strip_prefix("gantry_index_memory_cache_total{event=\"hit\"} "))
            .unwrap_or("0");
        if hits != "0" {
            break;
        }
        assert!(Instant::now() < deadline, "no cache hit:\n{metrics}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn bytes_etags_and_gzip(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let token = reg.token("alice");
    for i in 0..6 {
        let r = reg.publish(&token, &publish_body("gz-crate", &format!("1.0.{i}")));
        assert_eq!(r.status, 200);
    }
    let miss = reg.index_file("gz-crate");
    let hit = reg.index_file("gz-crate");
    assert_eq!(miss.body, hit.body);
    let etag = format!("\"{}\"", hex::encode(sha2::Sha256::digest(&miss.body)));
    assert_eq!(
        miss.header("etag"),
        Some(etag.as_str()),
        "the ETag is the body's SHA-256"
    );
    assert_eq!(hit.header("etag"), Some(etag.as_str()));
    assert_eq!(
        hit.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(hit.header("content-encoding").is_none());
    let path = "/index/gz/-c/gz-crate";
    // Asked for as cargo asks: gzip, with a weak ETag (same content, other encoding).
    let gz = reg.http("GET", path, &[("Accept-Encoding", "deflate, gzip")], b"");
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("accept-encoding"));
    let weak = format!("W/{etag}");
    assert_eq!(gz.header("etag"), Some(weak.as_str()));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, miss.body);
    // Either form of the tag revalidates either representation.
    for (tag, enc) in [(&etag, "gzip"), (&weak, "identity"), (&etag, "identity")] {
        let r = reg.http(
            "GET",
            path,
            &[("If-None-Match", tag), ("Accept-Encoding", enc)],
            b"",
        );
        assert_eq!(r.status, 304, "{tag} {enc}");
        assert!(r.body.is_empty());
    }
}

/// Two instances of one registry (one SQLite file, or one PostgreSQL database and bucket).
fn another_instance_sees_changes_through_the_change_log(backend: Backend) {
    let a = TestRegistry::start(backend, false);
    let dir = tempfile::tempdir().unwrap();
    let b = TestRegistry::start_on(a.storage.clone(), dir, |_| {});
    let token = a.token("alice");
    assert_eq!(
        a.publish(&token, &publish_body("shared", "1.0.0")).status,
        200
    );
    // B caches the file (twice: miss, then hit).
    assert_eq!(versions(&b, "shared"), v(&[("1.0.0", false)]));
    assert_eq!(versions(&b, "shared"), v(&[("1.0.0", false)]));
    assert_eq!(
        a.publish(&token, &publish_body("shared", "1.1.0")).status,
        200
    );
    wait_until(&b, "shared", &v(&[("1.0.0", false), ("1.1.0", false)]));
    let yank = a.http(
        "DELETE",
        "/api/v1/crates/shared/1.0.0/yank",
        &[("Authorization", &token)],
        b"",
    );
    assert_eq!(yank.status, 200);
    wait_until(&b, "shared", &v(&[("1.0.0", true), ("1.1.0", false)]));
    // Same bytes and ETag on both once they agree.
    let (ra, rb) = (a.index_file("shared"), b.index_file("shared"));
    assert_eq!(ra.body, rb.body);
    assert_eq!(ra.header("etag"), rb.header("etag"));
}

fn wait_until(reg: &TestRegistry, name: &str, want: &[(String, bool)]) {
    let deadline = Instant::now() + PROPAGATION_BOUND;
    loop {
        let got = versions(reg, name);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {got:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

backend_tests!(
    publish_and_yank_are_seen_at_once_on_the_same_instance,
    bytes_etags_and_gzip,
    another_instance_sees_changes_through_the_change_log,
);
