//! Where the mirror (issue 15) meets the hardening work (issue 12), on both backends.
//!
//! * `gc`: the `.crate` files the mirror fetched share the blob store and its keys with hosted
//!   ones, and `gc` must never remove them, neither once they are recorded nor while a fetch is
//!   storing one. Every download after a gc happens with the upstream stopped, so only the
//!   mirror's own copy can answer it.
//! * `--auth-required` guards the mirror's routes as it guards the hosted ones, before anything is
//!   asked of the upstream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::common::hardening::sha256_hex;
use crate::common::*;
use crate::mirror_env::publish_crate;
use gantry_registry::blob::{
    BlobError, BlobMeta, BlobReader, BlobStore, BoxFut, Stored, crate_key,
};
use gantry_registry::gc::{GcOptions, GcReport};
use gantry_registry::mirror::{MirrorConfig, UpstreamUrl};
use gantry_registry::store::MetaStore;

const DOWNLOAD: &str = "/mirror/crates/gc-mirrored/1.0.0/download";

/// An upstream registry (SQLite, in-process) holding `gc-mirrored 1.0.0`.
fn upstream() -> TestRegistry {
    let up = TestRegistry::start(Backend::SqliteLocal, false);
    let token = up.token("upstream-owner");
    publish_crate(&up, &token, "gc-mirrored", "1.0.0", &[], "pub fn f() {}\n");
    up
}

fn mirror_config(up: &TestRegistry) -> MirrorConfig {
    MirrorConfig {
        upstream: UpstreamUrl::parse(&up.index_url()).unwrap(),
        ttl: Duration::from_secs(3600),
        upstream_timeout: Duration::from_secs(5),
    }
}

fn stop(reg: &mut TestRegistry) {
    if let Some(s) = reg.server.take() {
        reg.rt.block_on(s.stop()).unwrap();
    }
}

/// `gc --grace 0s` removes an orphan beside a mirrored crate and keeps the mirrored one, which
/// then downloads from the mirror's own store with the upstream gone.
fn gc_keeps_mirrored_crates(backend: Backend) {
    let mut up = upstream();
    let m = TestRegistry::start_with(backend, |c| c.mirror = Some(mirror_config(&up)));
    let first = m.http("GET", DOWNLOAD, &[], b"");
    assert_eq!(first.status, 200, "{}", first.text());
    let mirrored_key = crate_key(&sha256_hex(&first.body));

    let orphan = crate_file("gc-orphan", "0.1.0");
    let orphan_key = crate_key(&sha256_hex(&orphan));
    let blobs = m.server.as_ref().unwrap().app.blobs.clone();
    m.rt.block_on(blobs.put(&orphan_key, orphan)).unwrap();
    assert_eq!(m.blob_count(), 2);

    stop(&mut up);
    let out = admin(&m.storage, &["gc", "--grace", "0s"]);
    assert!(out.contains(&format!("removed {orphan_key}")), "{out}");
    assert!(!out.contains(&mirrored_key), "{out}");
    assert!(out.contains("2 .crate files: 1 in use"), "{out}");
    assert_eq!(m.blob_count(), 1);

    let again = m.http("GET", DOWNLOAD, &[], b"");
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.body, first.body);
    assert_eq!(
        crate::mirror_env::metric(
            m.addr,
            "gantry_mirror_crate_downloads_total{result=\"hit\"}"
        ),
        1
    );
}

/// A blob store that runs a whole `gc` (grace 0) right after every put: the mirror's fetch has
/// stored its `.crate` but not recorded it yet, the one moment only its claim protects the blob.
struct GcAfterPut {
    inner: Arc<dyn BlobStore>,
    store: Arc<dyn MetaStore>,
    reports: Mutex<Vec<GcReport>>,
}

impl BlobStore for GcAfterPut {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFut<'a, Result<Stored, BlobError>> {
        Box::pin(async move {
            let stored = self.inner.put(key, bytes).await?;
            let opts = GcOptions {
                grace: Duration::ZERO,
                dry_run: false,
            };
            // A second ahead, so the blob just written is past even a zero grace period.
            let now = SystemTime::now() + Duration::from_secs(1);
            let report =
                gantry_registry::gc::collect(self.store.as_ref(), self.inner.as_ref(), opts, now)
                    .await
                    .unwrap();
            self.reports.lock().unwrap().push(report);
            Ok(stored)
        })
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>> {
        self.inner.get(key)
    }
    fn list_crates(&self) -> BoxFut<'_, Result<Vec<BlobMeta>, BlobError>> {
        self.inner.list_crates()
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<(), BlobError>> {
        self.inner.delete(key)
    }
    fn open<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<BlobReader>, BlobError>> {
        self.inner.open(key)
    }
}

fn gc_during_a_mirror_fetch_keeps_its_blob(backend: Backend) {
    let mut up = upstream();
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    let mut config = storage.config();
    config.mirror = Some(mirror_config(&up));
    let rt = runtime();
    let (store, blobs) = rt
        .block_on(gantry_registry::app::open_storage(&config))
        .unwrap();
    let racing = Arc::new(GcAfterPut {
        inner: blobs.clone(),
        store: store.clone(),
        reports: Mutex::new(Vec::new()),
    });
    let server = rt
        .block_on(gantry_registry::server::start_with_storage(
            config,
            store,
            racing.clone(),
            None::<std::future::Pending<()>>,
        ))
        .unwrap();

    let first = http(server.addr, "GET", DOWNLOAD, &[], b"");
    assert_eq!(first.status, 200, "{}", first.text());
    let reports = racing.reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        (reports[0].kept_in_use, reports[0].removed.len()),
        (1, 0),
        "{reports:?}"
    );
    let key = crate_key(&sha256_hex(&first.body));
    assert_eq!(
        rt.block_on(blobs.get(&key)).unwrap().as_deref(),
        Some(&first.body[..])
    );

    // The stored copy answers without the upstream.
    stop(&mut up);
    let again = http(server.addr, "GET", DOWNLOAD, &[], b"");
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.body, first.body);
    rt.block_on(server.stop()).unwrap();
}

fn auth_required_guards_the_mirror(backend: Backend) {
    let up = upstream();
    let m = TestRegistry::start_with(backend, |c| {
        c.auth_required = true;
        c.mirror = Some(mirror_config(&up));
    });
    let index = format!(
        "/mirror/index/{}",
        gantry_protocol::index_path("gc-mirrored")
    );
    let paths = ["/mirror/index/config.json", index.as_str(), DOWNLOAD];
    for path in paths {
        let r = m.http("GET", path, &[], b"");
        assert_eq!(r.status, 401, "{path}: {}", r.text());
    }
    // Refused before the upstream was asked for anything.
    let misses = "gantry_mirror_index_requests_total{result=\"miss\"}";
    assert_eq!(crate::mirror_env::metric(m.addr, misses), 0);
    assert_eq!(m.blob_count(), 0);

    let token = m.token("reader");
    for path in paths {
        let r = m.http("GET", path, &[("Authorization", &token)], b"");
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    assert_eq!(m.blob_count(), 1);
}

backend_tests!(
    gc_keeps_mirrored_crates,
    gc_during_a_mirror_fetch_keeps_its_blob,
    auth_required_guards_the_mirror,
);
