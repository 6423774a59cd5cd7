//! Several real `gantry-registry serve` processes on one PostgreSQL database and one S3 bucket, as
//! behind a load balancer: what one instance accepts, every instance serves, byte for byte (the
//! accepting instance at once, the others as soon as they see the change in the log).

use std::sync::{Arc, Barrier};

use crate::common::*;

/// Three instances on a fresh PostgreSQL database + bucket, and an admin token.
fn cluster(dir: &tempfile::TempDir, n: usize) -> (Storage, Vec<ServeProcess>, String) {
    let storage = Storage::fresh(Backend::PostgresS3, dir.path().join("data"));
    admin(&storage, &["migrate"]);
    let token = admin_token(&storage, "alice");
    let instances = (0..n).map(|_| ServeProcess::start(&storage, &[])).collect();
    (storage, instances, token)
}

/// How long other instances may take to evict a file one instance changed (PostgreSQL pushes the
/// change at commit; this only bounds a test on a busy machine).
const PROPAGATION_BOUND: std::time::Duration = std::time::Duration::from_secs(10);

/// The crate's index file from every instance once they agree (same bytes and ETag; each cached
/// copy is evicted when the change log shows the change), and each honours the others' ETag.
fn same_index_everywhere(instances: &[ServeProcess], name: &str) -> String {
    let deadline = std::time::Instant::now() + PROPAGATION_BOUND;
    loop {
        match agree(instances, name) {
            Ok(text) => return text,
            Err(why) if std::time::Instant::now() > deadline => panic!("{why}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

fn agree(instances: &[ServeProcess], name: &str) -> Result<String, String> {
    let path = format!("/index/{}", gantry_protocol::index_path(name));
    let first = instances[0].http("GET", &path, &[], b"");
    assert_eq!(first.status, 200, "{name} on instance 0: {}", first.text());
    let etag = first.header("etag").expect("index files carry an ETag");
    for (i, inst) in instances.iter().enumerate().skip(1) {
        let r = inst.http("GET", &path, &[], b"");
        assert_eq!(r.status, 200, "{name} on instance {i}: {}", r.text());
        if r.body != first.body || r.header("etag") != Some(etag) {
            return Err(format!(
                "index of {name} differs on instance {i}: {} vs {}",
                r.text(),
                first.text()
            ));
        }
        // A conditional GET with another instance's ETag is answered 304. A 200 here means the
        // file changed between the two requests (both instances had served the old one, and this
        // one has just seen the change): not agreed yet, look again.
        let r = inst.http("GET", &path, &[("If-None-Match", etag)], b"");
        if r.status != 304 {
            return Err(format!(
                "instance {i} answered {} to instance 0's ETag for {name}",
                r.status
            ));
        }
    }
    Ok(first.text())
}

#[test]
fn cargo_publishes_through_one_instance_and_builds_through_another() {
    let dir = tempfile::tempdir().unwrap();
    let (_storage, inst, token) = cluster(&dir, 2);
    let via_a = CargoEnv::new(&inst[0].index_url, &token, false);
    let via_b = CargoEnv::new(&inst[1].index_url, &token, false);
    let work = tempfile::tempdir().unwrap();
    let root = work.path();

    let lib = project(root, "mi-lib", "0.1.0", &[], "pub fn v() -> u32 { 40 }\n");
    let out = via_a.ok(&lib, &["publish", "--no-verify", "--registry", "gantry"]);
    assert!(out.contains("Published mi-lib v0.1.0"), "{out}");
    let app = project(
        root,
        "mi-app",
        "0.1.0",
        &[("mi-lib", "0.1")],
        "pub fn w() -> u32 { mi_lib::v() + 2 }\n",
    );
    via_b.ok(&app, &["build"]);
    let lock = std::fs::read_to_string(app.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"mi-lib\"\nversion = \"0.1.0\""),
        "{lock}"
    );
    assert!(
        lock.contains(&format!("source = \"{}\"", inst[1].index_url)),
        "{lock}"
    );
    // The download went through B, which read the blob A wrote.
    let dl = inst[1].http("GET", "/api/v1/crates/mi-lib/0.1.0/download", &[], b"");
    assert_eq!(dl.status, 200);
    let dl_a = inst[0].http("GET", "/api/v1/crates/mi-lib/0.1.0/download", &[], b"");
    assert_eq!(dl.body, dl_a.body);
    // cargo's republish pre-check through B sees A's version.
    let again = via_b.cargo(&lib, &["publish", "--no-verify", "--registry", "gantry"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    same_index_everywhere(&inst, "mi-lib");
}

#[test]
fn concurrent_duplicate_publishes_across_instances_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, inst, token) = cluster(&dir, 3);
    let addrs: Vec<_> = inst.iter().map(|i| i.addr).collect();
    const RACERS: usize = 12;
    for round in 0..3 {
        let name = format!("race-{round}");
        let barrier = Arc::new(Barrier::new(RACERS));
        let handles: Vec<_> = (0..RACERS)
            .map(|i| {
                // Different bytes per racer (distinct descriptions), same name and version.
                let mut meta = metadata(&name, "1.0.0");
                meta["description"] = format!("racer {i}").into();
                let body = body(&meta, &crate_file(&name, "1.0.0"));
                let (barrier, token, addr) = (barrier.clone(), token.clone(), addrs[i % 3]);
                std::thread::spawn(move || {
                    barrier.wait();
                    http(
                        addr,
                        "PUT",
                        "/api/v1/crates/new",
                        &[("Authorization", &token)],
                        &body,
                    )
                })
            })
            .collect();
        let results: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners = results.iter().filter(|r| r.status == 200).count();
        assert_eq!(
            winners,
            1,
            "statuses: {:?}",
            results
                .iter()
                .map(|r| (r.status, r.text()))
                .collect::<Vec<_>>()
        );
        for r in results.iter().filter(|r| r.status != 200) {
            assert_eq!(r.status, 400, "{}", r.text());
            assert_eq!(r.detail(), "crate version `1.0.0` is already uploaded");
        }
        let text = same_index_everywhere(&inst, &name);
        assert_eq!(text.lines().count(), 1, "{text}");
        // The one index line's checksum is the blob every instance serves.
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let cksum = line["cksum"].as_str().unwrap();
        for i in &inst {
            let dl = i.http(
                "GET",
                &format!("/api/v1/crates/{name}/1.0.0/download"),
                &[],
                b"",
            );
            assert_eq!(dl.status, 200);
            assert_eq!(sha256_hex(&dl.body), cksum);
        }
    }
    // Losers may leave content-addressed blobs behind, but never more than one per racer.
    assert!(storage.blob_count() >= 3);
}

#[test]
fn yank_through_one_instance_is_seen_by_all() {
    let dir = tempfile::tempdir().unwrap();
    let (_storage, inst, token) = cluster(&dir, 3);
    for v in ["0.1.0", "0.2.0"] {
        let r = inst[0].http(
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", &token)],
            &publish_body("yanky", v),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let before = same_index_everywhere(&inst, "yanky");
    let r = inst[1].http(
        "DELETE",
        "/api/v1/crates/yanky/0.2.0/yank",
        &[("Authorization", &token)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let after = same_index_everywhere(&inst, "yanky");
    assert_ne!(before, after);
    let yanked: Vec<bool> = after
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["yanked"] == true)
        .collect();
    assert_eq!(yanked, [false, true]);
    let r = inst[2].http(
        "PUT",
        "/api/v1/crates/yanky/0.2.0/unyank",
        &[("Authorization", &token)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(same_index_everywhere(&inst, "yanky"), before);
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}
