//! Backup and restore, on both backends: a database dump plus a copy of the blob objects, restored
//! into a fresh database and bucket (or data dir), serves the same index bytes and downloads, and
//! accepts new publishes.
//!
//! The procedure is the one crates/gantry-registry/README.md documents, database first, blobs second:
//!
//! * SQLite + local: `VACUUM INTO` a copy while the registry runs, then copy `blobs/`.
//! * PostgreSQL + S3: `pg_dump -Fc`, then copy every object of the bucket through the S3 API;
//!   restore with `pg_restore` into a new database, the objects into a new bucket, and `migrate`.
//!
//! A publish between the dump and the blob copy must leave the restored registry consistent (its
//! blob is merely unreferenced).

use std::path::Path;

use crate::common::*;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;

const CRATES: &[(&str, &[&str])] = &[
    ("bk-alpha", &["0.1.0", "0.2.0", "1.0.0"]),
    ("bk_beta", &["1.0.0"]),
    ("bk-gamma", &["0.0.1", "0.0.2"]),
];

fn s3(endpoint: &str, bucket: &str) -> object_store::aws::AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_region(services::S3_REGION)
        .with_access_key_id(services::S3_ACCESS_KEY)
        .with_secret_access_key(services::S3_SECRET_KEY)
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .build()
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// Takes a backup of `reg`'s storage and restores it into fresh storage under `dir`; `between` runs
/// after the database copy and before the blob copy.
fn backup_and_restore(reg: &TestRegistry, dir: &Path, between: impl FnOnce()) -> Storage {
    let src = &reg.storage;
    let restored = Storage::fresh(src.backend, dir.join("data"));
    match &src.pg_s3 {
        None => {
            // Online: VACUUM INTO writes a consistent copy while the registry keeps serving.
            std::fs::create_dir_all(&restored.data_dir).unwrap();
            let from = src.data_dir.join("registry.sqlite");
            let to = restored.data_dir.join("registry.sqlite");
            reg.rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::sqlite::SqliteConnection::connect(&format!(
                    "sqlite://{}",
                    from.display()
                ))
                .await
                .unwrap();
                sqlx::query("VACUUM INTO ?")
                    .bind(to.display().to_string())
                    .execute(&mut conn)
                    .await
                    .unwrap();
            });
            between();
            copy_dir(&src.blob_dir(), &restored.blob_dir());
        }
        Some(from) => {
            let svc = services::services();
            let to = restored.pg_s3.as_ref().unwrap();
            let dump = dir.join("registry.dump");
            let out = svc
                .pg_tool("pg_dump")
                .args(["-Fc", "--no-owner", "-d", &from.database, "-f"])
                .arg(&dump)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            between();
            let objects = dir.join("objects");
            reg.rt.block_on(async {
                let a = s3(&from.s3_endpoint, &from.bucket);
                for key in list_all(&a).await {
                    let bytes = a.get(&key).await.unwrap().bytes().await.unwrap();
                    let file = objects.join(key.as_ref());
                    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                    std::fs::write(file, bytes).unwrap();
                }
            });
            // Restore.
            let out = svc
                .pg_tool("pg_restore")
                .args(["--no-owner", "--exit-on-error", "-d", &to.database])
                .arg(&dump)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "pg_restore: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            reg.rt.block_on(async {
                let b = s3(&to.s3_endpoint, &to.bucket);
                for file in walk(&objects) {
                    let key = file
                        .strip_prefix(&format!("{}/", objects.display()))
                        .unwrap();
                    let bytes = std::fs::read(&file).unwrap();
                    b.put(&ObjPath::from(key), bytes.into()).await.unwrap();
                }
            });
            admin(&restored, &["migrate"]);
        }
    }
    restored
}

/// Every key in the bucket (`list_with_delimiter` walks the tree without a stream-combinator crate).
async fn list_all(store: &dyn ObjectStore) -> Vec<ObjPath> {
    let mut out = vec![];
    let mut dirs = vec![None::<ObjPath>];
    while let Some(prefix) = dirs.pop() {
        let res = store.list_with_delimiter(prefix.as_ref()).await.unwrap();
        out.extend(res.objects.into_iter().map(|o| o.location));
        dirs.extend(res.common_prefixes.into_iter().map(Some));
    }
    out
}

fn restored_registry_serves_the_same_bytes(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let token = reg.token("alice");
    for (name, versions) in CRATES {
        for v in *versions {
            let r = reg.publish(&token, &publish_body(name, v));
            assert_eq!(r.status, 200, "{name}@{v}: {}", r.text());
        }
    }
    let r = reg.http(
        "DELETE",
        "/api/v1/crates/bk-alpha/0.2.0/yank",
        &[("Authorization", &token)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let snapshot = |r: &dyn Fn(&str) -> Resp| -> Vec<(String, Vec<u8>, Option<String>)> {
        let mut out = vec![];
        for (name, versions) in CRATES {
            let f = r(&format!("/index/{}", gantry_protocol::index_path(name)));
            assert_eq!(f.status, 200);
            out.push((
                name.to_string(),
                f.body.clone(),
                f.header("etag").map(str::to_owned),
            ));
            for v in *versions {
                let d = r(&format!("/api/v1/crates/{name}/{v}/download"));
                assert_eq!(d.status, 200, "{name}@{v}");
                out.push((format!("{name}@{v}"), d.body, None));
            }
        }
        out
    };
    let before = snapshot(&|p| reg.http("GET", p, &[], b""));

    let dir = tempfile::tempdir().unwrap();
    let restored = backup_and_restore(&reg, dir.path(), || {
        // Published after the database copy: not in the restored registry, its blob harmless.
        let r = reg.publish(&token, &publish_body("bk-late", "0.1.0"));
        assert_eq!(r.status, 200, "{}", r.text());
    });
    drop(reg);

    let fresh = TestRegistry::start_on(restored, dir, |_| {});
    let after = snapshot(&|p| fresh.http("GET", p, &[], b""));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.0, a.0);
        assert!(b.1 == a.1, "{} differs after restore", b.0);
        assert_eq!(b.2, a.2, "ETag of {} differs after restore", b.0);
    }
    assert_eq!(fresh.index_file("bk-late").status, 404);
    // The restored database keeps working: its tokens, owners and id sequences are intact.
    let r = fresh.publish(&token, &publish_body("bk-alpha", "1.1.0"));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = fresh.publish(&token, &publish_body("bk-delta", "0.1.0"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(fresh.index_lines("bk-alpha").len(), 4);
    // 6 restored + 1 unreferenced (bk-late) + 2 new.
    assert_eq!(fresh.storage.blob_count(), 9);
}

backend_tests!(restored_registry_serves_the_same_bytes);
