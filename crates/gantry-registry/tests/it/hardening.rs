//! Issue 12 through HTTP, on both backends: durable blobs and gc, rate limits shared by instances,
//! downloads by key, the protocol rules (licences, categories, entry and PAX limits, pubtime) and
//! cargo >= 1.96 compatibility. Connection limits are in `connections.rs`.

use std::sync::Arc;
use std::time::Duration;

use crate::common::hardening::sha256_hex;
use crate::common::*;
use gantry_registry::blob::crate_key;
use gantry_registry::ratelimit::{Bucket, RateLimits};
use gantry_registry::store::NewToken;

/// Asserts a refused publish: status, detail prefix, and that nothing was stored.
fn refused(reg: &TestRegistry, token: &str, body: &[u8], status: u16, detail_prefix: &str) {
    let blobs = reg.blob_count();
    let r = reg.publish(token, body);
    assert_eq!(r.status, status, "{}", r.text());
    assert!(
        r.detail().starts_with(detail_prefix),
        "got {:?}, want prefix {detail_prefix:?}",
        r.detail()
    );
    assert_eq!(reg.blob_count(), blobs, "a refused publish stored a blob");
}

/// Every stored `.crate` holds exactly the bytes its name says, and no temp file is left.
fn blobs_are_whole(storage: &Storage) -> usize {
    let mut n = 0;
    for path in walk(&storage.blob_dir()) {
        let name = path.rsplit('/').next().unwrap();
        if let Some(cksum) = name.strip_suffix(".crate") {
            assert_eq!(
                sha256_hex(&std::fs::read(&path).unwrap()),
                cksum,
                "torn blob {path}"
            );
            n += 1;
        } else if storage.pg_s3.is_none() {
            panic!("unexpected file in the blob directory: {path}");
        }
    }
    n
}

fn durable_blobs_and_gc(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    assert_eq!(
        reg.publish(&tok, &publish_body("gc-kept", "1.0.0")).status,
        200
    );
    assert_eq!(blobs_are_whole(&reg.storage), 1);

    // An orphan, as a publish that failed after storing its file leaves it.
    let orphan = crate_file("gc-orphan", "0.1.0");
    let orphan_key = crate_key(&sha256_hex(&orphan));
    let blobs = reg.server.as_ref().unwrap().app.blobs.clone();
    reg.rt
        .block_on(blobs.put(&orphan_key, orphan.clone()))
        .unwrap();
    assert_eq!(reg.blob_count(), 2);

    // Younger than the default grace period: kept.
    let out = admin(&reg.storage, &["gc"]);
    assert!(
        out.contains("1 unreferenced but younger than 86400s"),
        "{out}"
    );
    assert_eq!(reg.blob_count(), 2);
    // A dry run names it and removes nothing.
    let out = admin(&reg.storage, &["gc", "--grace", "0s", "--dry-run"]);
    assert!(out.contains(&format!("would remove {orphan_key}")), "{out}");
    assert_eq!(reg.blob_count(), 2);

    // Claimed by a running publish: kept even though old and unreferenced.
    let store = reg.server.as_ref().unwrap().app.store.clone();
    let orphan_sum = sha256_hex(&orphan);
    let future = gantry_registry::store::now() + 3600;
    reg.rt
        .block_on(store.claim_blob(&orphan_sum, future))
        .unwrap();
    let out = admin(&reg.storage, &["gc", "--grace", "0s"]);
    assert!(out.contains("1 claimed by a running publish"), "{out}");
    assert_eq!(reg.blob_count(), 2);
    reg.rt.block_on(store.claim_blob(&orphan_sum, 0)).unwrap();

    let out = admin(&reg.storage, &["gc", "--grace", "0s"]);
    assert!(out.contains(&format!("removed {orphan_key}")), "{out}");
    assert_eq!(reg.blob_count(), 1);
    let dl = reg.http("GET", "/api/v1/crates/gc-kept/1.0.0/download", &[], b"");
    assert_eq!(dl.status, 200);

    // Publishing the orphan's bytes after all stores them again, whole.
    assert_eq!(
        reg.publish(&tok, &body(&metadata("gc-orphan", "0.1.0"), &orphan))
            .status,
        200
    );
    assert_eq!(blobs_are_whole(&reg.storage), 2);
    let dl = reg.http("GET", "/api/v1/crates/gc-orphan/0.1.0/download", &[], b"");
    assert_eq!(dl.body, orphan);
}

/// A publish whose bytes are already stored as an old orphan claims the blob, so a gc running at
/// the same time keeps it (the blob of a committed version is never removed).
fn reused_orphans_survive_gc_during_publish(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let app = reg.server.as_ref().unwrap().app.clone();
    let store = app.store.clone();
    let blobs = app.blobs.clone();
    for round in 0..6 {
        let vers = format!("0.{round}.0");
        let bytes = crate_file("gc-race", &vers);
        reg.rt
            .block_on(blobs.put(&crate_key(&sha256_hex(&bytes)), bytes.clone()))
            .unwrap();
        let addr = reg.addr;
        let (t, b) = (tok.clone(), body(&metadata("gc-race", &vers), &bytes));
        let publish = std::thread::spawn(move || {
            http(
                addr,
                "PUT",
                "/api/v1/crates/new",
                &[("Authorization", &t)],
                &b,
            )
            .status
        });
        // The in-process gc, racing the publish.
        let report = reg
            .rt
            .block_on(gantry_registry::gc::collect(
                store.as_ref(),
                blobs.as_ref(),
                gantry_registry::gc::GcOptions {
                    grace: Duration::ZERO,
                    dry_run: false,
                },
                std::time::SystemTime::now() + Duration::from_secs(1),
            ))
            .unwrap();
        assert_eq!(publish.join().unwrap(), 200);
        let dl = reg.http(
            "GET",
            &format!("/api/v1/crates/gc-race/{vers}/download"),
            &[],
            b"",
        );
        assert_eq!(dl.status, 200, "round {round}: {report:?}");
        assert_eq!(dl.body, bytes);
    }
}

fn rate_limits_are_shared_by_instances(backend: Backend) {
    let limits = RateLimits {
        publish_new: Bucket {
            refill: Duration::from_secs(600),
            burst: 2,
        },
        yank: Bucket {
            refill: Duration::from_secs(600),
            burst: 1,
        },
        ..RateLimits::CRATES_IO
    };
    let a = TestRegistry::start_with(backend, |c| c.rate_limits = Some(limits));
    let tok = a.token("alice");
    // A second instance on the same database and blob store.
    let mut config = a.storage.config();
    config.rate_limits = Some(limits);
    let b = a.rt.block_on(gantry_registry::start(config)).unwrap();
    let via_b = |body: &[u8]| {
        http(
            b.addr,
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", &tok)],
            body,
        )
    };
    assert_eq!(a.publish(&tok, &publish_body("rl-a", "0.1.0")).status, 200);
    assert_eq!(via_b(&publish_body("rl-b", "0.1.0")).status, 200);
    // Each instance alone would have a token left; together the bucket is empty.
    for r in [
        a.publish(&tok, &publish_body("rl-c", "0.1.0")),
        via_b(&publish_body("rl-c", "0.1.0")),
    ] {
        assert_eq!(r.status, 429, "{}", r.text());
        assert!(
            r.detail()
                .starts_with("You have published too many new crates")
        );
        assert!(httpdate::parse_http_date(r.header("retry-after").unwrap()).is_ok());
    }
    assert_eq!(a.index_file("rl-c").status, 404);
    assert_eq!(a.blob_count(), 2, "a rate-limited publish stored its file");
    // Updates have their own bucket; yanks theirs, shared as well.
    assert_eq!(a.publish(&tok, &publish_body("rl-a", "0.2.0")).status, 200);
    let yank = |addr, v: &str| {
        http(
            addr,
            "DELETE",
            &format!("/api/v1/crates/rl-a/{v}/yank"),
            &[("Authorization", &tok)],
            b"",
        )
    };
    assert_eq!(yank(a.addr, "0.1.0").status, 200);
    let r = yank(b.addr, "0.2.0");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(
        r.detail()
            .starts_with("You have yanked or unyanked too many versions")
    );
    a.rt.block_on(b.stop()).unwrap();
}

// The racing store wrapper is http_rules.rs's (one test binary holds both).
use crate::http_rules::LookupsMeet;

/// Three publishes of a new crate race; all pre-checks see "new". With one new-crate token, the
/// transaction that creates the crate spends it and the other two, which the transactions turn
/// into updates, spend update tokens: all three succeed. (Charging the pre-check's kind refused
/// two of them with 429; so did the early refusal from the pre-check's bucket, once the first
/// publish had spent the new-crate token: the wrapper makes the others wait for exactly that.)
fn raced_publishes_charge_the_bucket_the_transaction_decided(backend: Backend) {
    const RACERS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    let mut config = storage.config();
    config.rate_limits = Some(RateLimits {
        publish_new: Bucket {
            refill: Duration::from_secs(600),
            burst: 1,
        },
        ..RateLimits::CRATES_IO
    });
    let rt = runtime();
    let (store, blobs) = rt
        .block_on(gantry_registry::app::open_storage(&config))
        .unwrap();
    let user = rt.block_on(store.create_user("alice")).unwrap();
    let token = gantry_registry::auth::generate_token();
    let new = NewToken {
        user_id: user.id,
        name: "t".into(),
        hash: gantry_registry::auth::hash_token(&token),
        scopes: None,
        crate_patterns: vec![],
        expires_at: None,
    };
    rt.block_on(store.create_token(&new)).unwrap();
    let store = Arc::new(LookupsMeet::new(store, RACERS));
    let server = rt
        .block_on(gantry_registry::server::start_with_storage(
            config,
            store,
            blobs,
            None::<std::future::Pending<()>>,
        ))
        .unwrap();
    let addr = server.addr;
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let token = token.clone();
            std::thread::spawn(move || {
                let body = publish_body("rl-race", &format!("0.{i}.0"));
                let r = http(
                    addr,
                    "PUT",
                    "/api/v1/crates/new",
                    &[("Authorization", &token)],
                    &body,
                );
                (r.status, r.text())
            })
        })
        .collect();
    for r in racers {
        let (status, text) = r.join().unwrap();
        assert_eq!(status, 200, "{text}");
    }
    // The one new-crate token is gone: the next new crate is refused.
    let r = http(
        addr,
        "PUT",
        "/api/v1/crates/new",
        &[("Authorization", &token)],
        &publish_body("rl-other", "0.1.0"),
    );
    assert_eq!(r.status, 429, "{}", r.text());
    rt.block_on(server.stop()).unwrap();
}

/// Downloads and yanks find one version by key: the query uses the (crate_id, num) index, and a
/// crate with many versions serves each one's bytes.
fn downloads_look_versions_up_by_key(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let mut sums = Vec::new();
    for i in 0..40 {
        let vers = format!("1.0.{i}");
        let bytes = crate_file("many", &vers);
        sums.push(sha256_hex(&bytes));
        let r = reg.publish(&tok, &body(&metadata("many", &vers), &bytes));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    for i in [0, 17, 39] {
        let r = reg.http(
            "GET",
            &format!("/api/v1/crates/many/1.0.{i}/download"),
            &[],
            b"",
        );
        assert_eq!(r.status, 200);
        assert_eq!(sha256_hex(&r.body), sums[i]);
    }
    assert_eq!(
        reg.http("GET", "/api/v1/crates/many/9.9.9/download", &[], b"")
            .status,
        404
    );
    let sql = gantry_registry::store::VERSION_BY_NUM
        .replace("$1", "1")
        .replace("$2", "'1.0.17'");
    let plan = match &reg.storage.pg_s3 {
        None => {
            let db = reg.storage.data_dir.join("registry.sqlite");
            let out = std::process::Command::new("sqlite3")
                .arg(&db)
                .arg(format!("EXPLAIN QUERY PLAN {sql}"))
                .output();
            match out {
                Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
                // No sqlite3 CLI: ask through sqlx instead.
                _ => reg.rt.block_on(sqlite_plan(&db, &sql)),
            }
        }
        Some(p) => services::services().psql(
            &p.database,
            &format!("SET enable_seqscan = off; EXPLAIN {sql}"),
        ),
    };
    assert!(plan.contains("versions_crate_num"), "{plan}");
}

async fn sqlite_plan(db: &std::path::Path, sql: &str) -> String {
    use sqlx::{Connection, Row};
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(&mut c)
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cargo_196_uploads_and_symlinks(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    // cargo >= 1.96 labels the upload; cargo 1.95 sends no Content-Type. Both are publishes.
    let r = reg.http(
        "PUT",
        "/api/v1/crates/new",
        &[
            ("Authorization", &tok),
            ("Content-Type", "application/octet-stream"),
        ],
        &publish_body("ct-new", "0.1.0"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        reg.publish(&tok, &publish_body("ct-new", "0.2.0")).status,
        200
    );

    // cargo >= 1.96 refuses to unpack links (CVE-2026-5223): they are refused at publish.
    let m = manifest("ln", "0.1.0");
    for link in [
        Entry::Symlink("ln-0.1.0/src/lib.rs", "/etc/passwd"),
        Entry::Symlink("ln-0.1.0/README.md", "src/lib.rs"),
    ] {
        let t = tar_gz(&[Entry::File("ln-0.1.0/Cargo.toml", m.as_bytes()), link]);
        let blobs = reg.blob_count();
        let r = reg.publish(&tok, &body(&metadata("ln", "0.1.0"), &t));
        assert_eq!(r.status, 400);
        let d = r.detail();
        assert!(
            d.starts_with("unexpected tar entry type `Symlink` found: ln-0.1.0/"),
            "{d}"
        );
        assert!(
            d.contains("CVE-2026-5223") && d.contains("cargo 1.96"),
            "{d}"
        );
        assert_eq!(reg.blob_count(), blobs);
    }
}

fn new_index_lines_carry_pubtime(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let before = gantry_registry::store::now();
    assert_eq!(reg.publish(&tok, &publish_body("pt", "1.0.0")).status, 200);
    let after = gantry_registry::store::now();
    let line = &reg.index_lines("pt")[0];
    let pubtime = line["pubtime"].as_str().expect("pubtime");
    let candidates: Vec<String> = (before..=after)
        .map(gantry_protocol::format_pubtime)
        .collect();
    assert!(candidates.iter().any(|c| c == pubtime), "{pubtime}");
    assert_eq!(pubtime.len(), "2026-11-30T10:00:00Z".len());
    // A yank changes `yanked`, never `pubtime`.
    let r = reg.http(
        "DELETE",
        "/api/v1/crates/pt/1.0.0/yank",
        &[("Authorization", &tok)],
        b"",
    );
    assert_eq!(r.status, 200);
    let line = &reg.index_lines("pt")[0];
    assert_eq!(line["pubtime"].as_str(), Some(pubtime));
    assert_eq!(line["yanked"], true);
}

fn licence_and_category_rules(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let tok = reg.token("alice");
    let with = |license: &str, categories: &[&str]| {
        let mut meta = metadata("lic", "0.1.0");
        meta["license"] = license.into();
        meta["categories"] = categories.to_vec().into();
        body(&meta, &crate_file("lic", "0.1.0"))
    };
    for bad in [
        "MIT or Apache-2.0",
        "Apache2",
        "MIT license",
        "GPL-3.0 with Foo",
    ] {
        refused(
            &reg,
            &tok,
            &with(bad, &[]),
            400,
            "unknown or invalid license expression",
        );
    }
    refused(
        &reg,
        &tok,
        &with("MIT", &["no-std", "not-a-category"]),
        400,
        "The following category slugs are not currently supported on crates.io: not-a-category",
    );
    for (i, good) in [
        "MIT/Apache-2.0",
        "GPL-2.0+",
        "Zlib OR Unicode-3.0",
        "MPL-2.0",
    ]
    .iter()
    .enumerate()
    {
        let vers = format!("0.{i}.0");
        let mut meta = metadata("lic", &vers);
        meta["license"] = (*good).into();
        meta["categories"] = vec!["no-std", "development-tools::cargo-plugins"].into();
        let r = reg.publish(&tok, &body(&meta, &crate_file("lic", &vers)));
        assert_eq!(r.status, 200, "{good}: {}", r.text());
    }
}

fn tarball_entry_and_pax_limits(backend: Backend) {
    let reg = TestRegistry::start_with(backend, |c| c.max_tarball_entries = Some(3));
    let tok = reg.token("alice");
    let m = manifest("ent", "0.1.0");
    let three = tar_gz(&[
        Entry::File("ent-0.1.0/Cargo.toml", m.as_bytes()),
        Entry::File("ent-0.1.0/src/lib.rs", b""),
        Entry::File("ent-0.1.0/src/a.rs", b""),
    ]);
    let four = tar_gz(&[
        Entry::File("ent-0.1.0/Cargo.toml", m.as_bytes()),
        Entry::File("ent-0.1.0/src/lib.rs", b""),
        Entry::File("ent-0.1.0/src/a.rs", b""),
        Entry::File("ent-0.1.0/src/b.rs", b""),
    ]);
    refused(
        &reg,
        &tok,
        &body(&metadata("ent", "0.1.0"), &four),
        400,
        "uploaded tarball contains more than 3 entries",
    );
    assert_eq!(
        reg.publish(&tok, &body(&metadata("ent", "0.1.0"), &three))
            .status,
        200
    );

    // A PAX size record saying something else than the header.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(m.len() as u64);
    h.set_mode(0o644);
    b.append_data(
        &mut h,
        "ent-0.2.0/Cargo.toml",
        manifest("ent", "0.2.0").as_bytes(),
    )
    .unwrap();
    b.append_pax_extensions([("size", &b"2000"[..])]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_size(3);
    h.set_mode(0o644);
    b.append_data(&mut h, "ent-0.2.0/src/lib.rs", &b"abc"[..])
        .unwrap();
    let t = gz(&b.into_inner().unwrap());
    refused(
        &reg,
        &tok,
        &body(&metadata("ent", "0.2.0"), &t),
        400,
        "uploaded tarball is malformed",
    );
}

backend_tests!(
    durable_blobs_and_gc,
    reused_orphans_survive_gc_during_publish,
    rate_limits_are_shared_by_instances,
    raced_publishes_charge_the_bucket_the_transaction_decided,
    downloads_look_versions_up_by_key,
    cargo_196_uploads_and_symlinks,
    new_index_lines_carry_pubtime,
    licence_and_category_rules,
    tarball_entry_and_pax_limits,
);
