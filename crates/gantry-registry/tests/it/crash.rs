//! A real `gantry-registry serve` is killed (SIGKILL) while clients publish concurrently, then
//! restarted on the same storage: every acknowledged version must be there with its checksum and
//! its bytes, and every other one absent or whole. A bounded number of trials per backend; what
//! they saw is printed (`--nocapture`) for the record.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::hardening::{sha256_hex, try_http};
use crate::common::*;

/// Acknowledged publishes after which each trial's server is killed.
const KILL_AFTER: [usize; 4] = [1, 5, 12, 25];
const CLIENTS: usize = 4;
/// Only a broken server takes this long to acknowledge a few publishes.
const EVENTUALLY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Acked,
    /// Answered, but not 200 (should not happen before the kill).
    Refused(u16),
    /// No whole answer: the process died under it.
    Unknown,
}

#[derive(Debug, Default)]
struct Totals {
    kills: usize,
    attempts: usize,
    acked: usize,
    unknown_present: usize,
    unknown_absent: usize,
    lost: usize,
    torn: usize,
}

fn kill_during_concurrent_publishes(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    admin(&storage, &["migrate"]);
    let token = admin_token(&storage, "alice");
    let mut totals = Totals::default();
    for (trial, &kill_after) in KILL_AFTER.iter().enumerate() {
        let name = format!("crash-{trial}");
        let server = ServeProcess::start(&storage, &[]);
        let addr = server.addr;
        let acked = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // version → (cksum, outcome)
        let log: Arc<Mutex<HashMap<String, (String, Outcome)>>> = Arc::default();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (acked, stop, log) = (acked.clone(), stop.clone(), log.clone());
                let (name, token) = (name.clone(), token.clone());
                std::thread::spawn(move || {
                    for n in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let vers = format!("{c}.{n}.0");
                        let tarball = crate_file(&name, &vers);
                        let cksum = sha256_hex(&tarball);
                        let body = body(&metadata(&name, &vers), &tarball);
                        let r = try_http(
                            addr,
                            "PUT",
                            "/api/v1/crates/new",
                            &[("Authorization", &token)],
                            &body,
                        );
                        let outcome = match r {
                            // Never reached the server: not an attempt.
                            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                            Ok(r) if r.status == 200 => Outcome::Acked,
                            Ok(r) => Outcome::Refused(r.status),
                            Err(_) => Outcome::Unknown,
                        };
                        log.lock().unwrap().insert(vers, (cksum, outcome));
                        match outcome {
                            Outcome::Acked => {
                                acked.fetch_add(1, Ordering::SeqCst);
                            }
                            Outcome::Unknown => break,
                            Outcome::Refused(_) => {}
                        }
                    }
                })
            })
            .collect();
        let start = Instant::now();
        while acked.load(Ordering::SeqCst) < kill_after {
            assert!(
                start.elapsed() < EVENTUALLY,
                "publishes are not acknowledged"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut server = server;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        // Its Drop would signal a pid that may already belong to another process.
        std::mem::forget(server);
        stop.store(true, Ordering::SeqCst);
        for c in clients {
            c.join().unwrap();
        }
        totals.kills += 1;

        let server = ServeProcess::start(&storage, &[]);
        let path = format!("/index/{}", gantry_protocol::index_path(&name));
        let index = server.http("GET", &path, &[], b"");
        let lines: HashMap<String, String> = if index.status == 404 {
            HashMap::new()
        } else {
            assert_eq!(index.status, 200, "{}", index.text());
            index
                .text()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    (
                        v["vers"].as_str().unwrap().to_owned(),
                        v["cksum"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        // Every indexed version downloads whole.
        for (vers, cksum) in &lines {
            let dl = server.http(
                "GET",
                &format!("/api/v1/crates/{name}/{vers}/download"),
                &[],
                b"",
            );
            if dl.status != 200 || sha256_hex(&dl.body) != *cksum {
                totals.torn += 1;
            }
        }
        let log = log.lock().unwrap();
        for (vers, (cksum, outcome)) in log.iter() {
            totals.attempts += 1;
            match (outcome, lines.get(vers)) {
                (Outcome::Acked, Some(c)) if c == cksum => totals.acked += 1,
                (Outcome::Acked, _) => {
                    totals.acked += 1;
                    totals.lost += 1;
                }
                (_, Some(c)) if c == cksum => totals.unknown_present += 1,
                (_, Some(_)) => totals.torn += 1,
                (_, None) => totals.unknown_absent += 1,
            }
            if let Outcome::Refused(status) = outcome {
                panic!("{vers} refused with {status} before the kill");
            }
        }
        if backend == Backend::SqliteLocal {
            // No torn file on disk either (temp files of the killed writes may remain).
            for p in walk(&storage.blob_dir()) {
                let file = p.rsplit('/').next().unwrap();
                if let Some(sum) = file.strip_suffix(".crate")
                    && !file.starts_with('.')
                {
                    assert_eq!(sha256_hex(&std::fs::read(&p).unwrap()), sum, "torn {p}");
                }
            }
        }
        drop(server);
    }
    eprintln!(
        "crash trials on {backend:?}: {} kills, {} publishes attempted, {} acknowledged, {} lost, \
         {} torn; unacknowledged: {} present and whole, {} absent",
        totals.kills,
        totals.attempts,
        totals.acked,
        totals.lost,
        totals.torn,
        totals.unknown_present,
        totals.unknown_absent
    );
    assert_eq!(totals.lost, 0, "{totals:?}");
    assert_eq!(totals.torn, 0, "{totals:?}");
}

backend_tests!(kill_during_concurrent_publishes);
