//! The pull-through mirror with the real `cargo`: an upstream started by the test (another
//! gantry-registry, or a static file server laid out as a sparse registry), a mirror on each
//! storage backend, and builds through `[source.crates-io] replace-with`.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::mirror_env::*;
use crate::static_upstream::StaticUpstream;
use gantry_registry::mirror::{MirrorConfig, UpstreamUrl};
use sha2::Digest;

/// An upstream registry (SQLite, in-process) with a token to publish.
fn upstream() -> (TestRegistry, String) {
    let up = TestRegistry::start(Backend::SqliteLocal, false);
    let token = up.token("upstream-owner");
    (up, token)
}

fn mirror_config(upstream: &str, ttl: Duration) -> MirrorConfig {
    MirrorConfig {
        upstream: UpstreamUrl::parse(upstream).unwrap(),
        ttl,
        upstream_timeout: Duration::from_secs(5),
    }
}

/// A mirror registry on `backend` in front of `upstream`.
fn mirror(backend: Backend, upstream: &str, ttl: Duration) -> TestRegistry {
    TestRegistry::start_with(backend, |c| c.mirror = Some(mirror_config(upstream, ttl)))
}

/// A second instance on the same storage as `reg` (its own process state, shared stores).
fn second_instance(reg: &TestRegistry, upstream: &str, ttl: Duration) -> TestRegistry {
    let dir = tempfile::tempdir().unwrap();
    TestRegistry::start_on(reg.storage.clone(), dir, |c| {
        c.mirror = Some(mirror_config(upstream, ttl))
    })
}

fn mirror_url(reg: &TestRegistry) -> String {
    format!("sparse+http://{}/mirror/index/", reg.addr)
}

fn stop(reg: &mut TestRegistry) {
    if let Some(s) = reg.server.take() {
        reg.rt.block_on(s.stop()).unwrap();
    }
}

/// Publishes `mdep-a` and `mdep-b` (which uses `mdep-a`) upstream.
fn publish_pair(up: &TestRegistry, token: &str) {
    publish_crate(
        up,
        token,
        "mdep-a",
        "0.1.0",
        &[],
        "pub fn a() -> u32 { 40 }\n",
    );
    publish_crate(
        up,
        token,
        "mdep-b",
        "0.1.0",
        &[("mdep-a", "^0.1")],
        "pub fn b() -> u32 { mdep_a::a() + 2 }\n",
    );
}

const USES_B: &str = "pub fn c() -> u32 { mdep_b::b() }\n";

fn first_build_fetches_then_builds_without_the_upstream(backend: Backend) {
    let (mut up, token) = upstream();
    publish_pair(&up, &token);
    // TTL 0: every index request after the first asks the upstream, so its absence shows.
    let m = mirror(backend, &up.index_url(), Duration::ZERO);
    let work = tempfile::tempdir().unwrap();
    let app = consumer(work.path(), "app", &[("mdep-b", "0.1")], USES_B);
    replaced_env(&mirror_url(&m)).ok(&app, &["build"]);
    assert_eq!(m.blob_count(), 2, "both .crate files are kept");
    assert_eq!(
        metric(
            m.addr,
            "gantry_mirror_crate_downloads_total{result=\"miss\"}"
        ),
        2
    );
    assert!(
        metric(
            m.addr,
            "gantry_mirror_index_requests_total{result=\"miss\"}"
        ) >= 2
    );
    let lock = std::fs::read_to_string(app.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("source = \"registry+https://github.com/rust-lang/crates.io-index\""),
        "{lock}"
    );

    stop(&mut up);
    // Another instance on the same stores, a fresh CARGO_HOME and target dir, no lockfile: the
    // whole resolution and both downloads come from the shared state.
    let m2 = second_instance(&m, &up.index_url(), Duration::ZERO);
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    let out = replaced_env(&mirror_url(&m2)).ok(&app, &["build"]);
    assert!(out.contains("mdep-b v0.1.0"), "{out}");
    assert!(metric(m2.addr, "gantry_mirror_stale_answers_total") >= 2);
    assert!(
        metric(
            m2.addr,
            "gantry_mirror_upstream_errors_total{kind=\"index\"}"
        ) >= 1
    );
    assert_eq!(
        metric(
            m2.addr,
            "gantry_mirror_crate_downloads_total{result=\"hit\"}"
        ),
        2
    );
    // A crate never fetched cannot come from anywhere: a clear 502, not a 404.
    let r = m2.http("GET", "/mirror/index/ne/ve/never", &[], b"");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(
        r.detail().contains("could not be reached"),
        "{}",
        r.detail()
    );
}

fn a_crate_that_does_not_match_its_index_line_is_refused(backend: Backend) {
    let up = StaticUpstream::start();
    let good = crate_file("tampered", "1.0.0");
    let cksum = hex::encode(sha2::Sha256::digest(&good));
    up.add("tampered", "1.0.0", &cksum, b"not the published bytes");
    let m = mirror(backend, &up.index_url(), Duration::from_secs(3600));

    let r = m.http("GET", "/mirror/crates/tampered/1.0.0/download", &[], b"");
    assert_eq!(r.status, 502, "{}", r.text());
    let detail = r.detail();
    assert!(
        detail.contains("`tampered` 1.0.0")
            && detail.contains(&cksum)
            && detail.contains("refused"),
        "{detail}"
    );
    assert_eq!(m.blob_count(), 0, "a mismatching file is never stored");
    assert_eq!(metric(m.addr, "gantry_mirror_checksum_mismatches_total"), 1);

    // Real cargo refuses to build with it too, and names the crate.
    let work = tempfile::tempdir().unwrap();
    let app = consumer(work.path(), "app", &[("tampered", "1")], "");
    let out = replaced_env(&mirror_url(&m)).cargo(&app, &["build"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tampered") && err.contains("502"), "{err}");
    assert_eq!(m.blob_count(), 0);

    // Nothing bad was remembered: once the upstream serves the right bytes, it works.
    up.put("crates/tampered-1.0.0.crate", &good);
    let r = m.http("GET", "/mirror/crates/tampered/1.0.0/download", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, good);
    assert_eq!(m.blob_count(), 1);
}

fn concurrent_downloads_of_a_missing_crate_make_one_upstream_request(backend: Backend) {
    let up = StaticUpstream::start();
    let bytes = crate_file("popular", "2.0.0");
    let cksum = hex::encode(sha2::Sha256::digest(&bytes));
    up.add("popular", "2.0.0", &cksum, &bytes);
    let m = mirror(backend, &up.index_url(), Duration::from_secs(3600));
    // Index first, so every request below goes straight for the .crate.
    assert_eq!(
        m.http("GET", "/mirror/index/po/pu/popular", &[], b"")
            .status,
        200
    );
    let path = "/crates/popular-2.0.0.crate";
    up.hold(path);
    const CLIENTS: usize = 6;
    let addr = m.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                http(
                    addr,
                    "GET",
                    "/mirror/crates/popular/2.0.0/download",
                    &[],
                    b"",
                )
            })
        })
        .collect();
    // The upstream holds the one request it got until every client is waiting on it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(addr, "gantry_mirror_coalesced_requests_total") < (CLIENTS - 1) as u64 {
        assert!(
            Instant::now() < deadline,
            "clients did not all reach the mirror"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    up.release();
    for c in clients {
        let r = c.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.body, bytes);
    }
    assert_eq!(
        up.hits(path),
        1,
        "one upstream request for {CLIENTS} downloads"
    );
    assert_eq!(m.blob_count(), 1);
}

fn a_version_published_upstream_appears_after_the_ttl(backend: Backend) {
    let (up, token) = upstream();
    publish_crate(&up, &token, "ttl-crate", "0.1.0", &[], "");
    let ttl = Duration::from_secs(2);
    let m = mirror(backend, &up.index_url(), ttl);
    let path = "/mirror/index/tt/l-/ttl-crate";
    let first = m.http("GET", path, &[], b"");
    let fetched = Instant::now();
    assert_eq!(first.status, 200);
    assert_eq!(first.text().lines().count(), 1);
    publish_crate(&up, &token, "ttl-crate", "0.2.0", &[], "");
    // Within the TTL the mirror answers its copy without asking.
    let again = m.http("GET", path, &[], b"");
    if fetched.elapsed() < ttl {
        assert_eq!(
            again.body, first.body,
            "answered from the copy within the TTL"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let r = m.http("GET", path, &[], b"");
        if r.text().contains("\"vers\":\"0.2.0\"") {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "0.2.0 never appeared: {}",
            r.text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        fetched.elapsed() >= ttl,
        "the new version appeared before the TTL ran out"
    );
    assert_eq!(seen.text().lines().count(), 2);
    assert_eq!(
        metric(
            m.addr,
            "gantry_mirror_revalidations_total{outcome=\"changed\"}"
        ),
        1
    );
    // Once more after the TTL, nothing changed upstream: a 304 from it, same ETag to the client.
    std::thread::sleep(ttl);
    let etag = seen.header("etag").unwrap().to_owned();
    let r = m.http("GET", path, &[("If-None-Match", &etag)], b"");
    assert_eq!(r.status, 304);
    assert_eq!(
        metric(
            m.addr,
            "gantry_mirror_revalidations_total{outcome=\"not_modified\"}"
        ),
        1
    );
}

fn mirror_fetch_from_lockfiles_then_build_with_the_upstream_down(backend: Backend) {
    let (mut up, token) = upstream();
    publish_pair(&up, &token);
    let work = tempfile::tempdir().unwrap();
    let app = consumer(work.path(), "app", &[("mdep-b", "0.1")], USES_B);
    // The lockfile comes from resolving against the upstream itself.
    replaced_env(&up.index_url()).ok(&app, &["generate-lockfile"]);
    let lockfile = app.join("Cargo.lock");

    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    let upstream_url = up.index_url();
    let fetch = |expect_ok: bool| {
        let out = storage
            .command(env!("CARGO_BIN_EXE_gantry-registry"))
            .args(["mirror", "fetch", "--mirror-upstream", &upstream_url])
            .arg("--lockfile")
            .arg(&lockfile)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(out.status.success(), expect_ok, "{stdout}{stderr}");
        (stdout, stderr)
    };
    let (stdout, stderr) = fetch(true);
    assert!(stdout.starts_with("2 fetched ("), "{stdout}");
    assert!(
        stdout.contains("), 0 already present, 0 failed"),
        "{stdout}"
    );
    assert!(
        stderr.contains("fetched mdep-a 0.1.0") && stderr.contains("[2/2]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 lockfile entries from elsewhere"),
        "{stderr}"
    );

    stop(&mut up);
    // Again with the upstream gone: both are already there (their index files too).
    let (stdout, _) = fetch(true);
    assert!(stdout.starts_with("0 fetched"), "{stdout}");
    assert!(stdout.contains("2 already present"), "{stdout}");

    let m = TestRegistry::start_on(storage, dir, |c| {
        c.mirror = Some(mirror_config(&upstream_url, Duration::from_secs(3600)))
    });
    let out = replaced_env(&mirror_url(&m)).ok(&app, &["build", "--locked"]);
    assert!(out.contains("Compiling mdep-a v0.1.0"), "{out}");
    assert_eq!(
        metric(
            m.addr,
            "gantry_mirror_crate_downloads_total{result=\"hit\"}"
        ),
        2
    );
}

fn publishing_to_the_mirror_is_refused_with_the_hosted_index(backend: Backend) {
    let up = StaticUpstream::start();
    let m = mirror(backend, &up.index_url(), Duration::from_secs(60));
    let token = m.token("alice");
    let cfg = m.http("GET", "/mirror/index/config.json", &[], b"").json();
    assert_eq!(cfg["dl"], format!("http://{}/mirror/crates", m.addr));
    assert_eq!(cfg["api"], format!("http://{}/mirror", m.addr));
    for (method, path) in [
        ("PUT", "/mirror/api/v1/crates/new"),
        ("DELETE", "/mirror/api/v1/crates/x/1.0.0/yank"),
        ("PUT", "/mirror/api/v1/crates/x/owners"),
    ] {
        let r = m.http(
            method,
            path,
            &[("Authorization", &token)],
            &publish_body("x", "1.0.0"),
        );
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
        let d = r.detail();
        assert!(d.contains("read-only mirror"), "{d}");
        assert!(d.contains(&m.index_url()), "names the hosted index: {d}");
    }
    // The hosted registry beside it takes the publish.
    assert_eq!(m.publish(&token, &publish_body("x", "1.0.0")).status, 200);
    assert_eq!(m.index_lines("x").len(), 1);
    // And the mirror does not see hosted crates (nor the other way round).
    assert_eq!(m.http("GET", "/mirror/index/1/x", &[], b"").status, 404);
}

backend_tests!(
    first_build_fetches_then_builds_without_the_upstream,
    a_crate_that_does_not_match_its_index_line_is_refused,
    concurrent_downloads_of_a_missing_crate_make_one_upstream_request,
    a_version_published_upstream_appears_after_the_ttl,
    mirror_fetch_from_lockfiles_then_build_with_the_upstream_down,
    publishing_to_the_mirror_is_refused_with_the_hosted_index,
);

/// Mirrors a few real crates.io crates (needs the network; run with `--ignored`).
#[test]
#[ignore]
fn mirrors_real_crates_from_crates_io() {
    let m = TestRegistry::start_with(Backend::SqliteLocal, |c| {
        c.mirror = Some(MirrorConfig::default())
    });
    let work = tempfile::tempdir().unwrap();
    let app = consumer(
        work.path(),
        "real-app",
        &[("itoa", "1"), ("cfg-if", "1"), ("memchr", "2")],
        "pub fn f(n: u64) -> String { itoa::Buffer::new().format(n).to_owned() }\n",
    );
    let out = replaced_env(&mirror_url(&m)).ok(&app, &["build"]);
    assert!(out.contains("Compiling itoa"), "{out}");
    assert!(m.blob_count() >= 3);
    assert_eq!(metric(m.addr, "gantry_mirror_checksum_mismatches_total"), 0);
}
