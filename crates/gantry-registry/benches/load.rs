//! Load benchmark: starts the registry in-process on 127.0.0.1:0 and drives bounded load from client
//! threads (separate from the server's runtime): publishes, then index-file GETs. Prints requests/s and
//! p50/p99 latency. Run with `cargo bench -p gantry-registry --bench load`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

const CLIENTS: usize = 4;
const TIME_LIMIT: Duration = Duration::from_secs(20);

/// Runs `total` jobs over `CLIENTS` threads (stopping at the time limit); returns latencies and wall time.
fn drive(
    total: usize,
    job: impl Fn(usize) -> u16 + Send + Sync + 'static,
) -> (Vec<Duration>, Duration) {
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (job, next) = (job.clone(), next.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || start.elapsed() > TIME_LIMIT {
                        break;
                    }
                    let t = Instant::now();
                    let status = job(i);
                    assert_eq!(status, 200, "request {i} failed");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    (all, start.elapsed())
}

fn report(what: &str, (lat, wall): (Vec<Duration>, Duration)) {
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{what:<18} {:>6} requests in {:>6.2}s  {:>8.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other run (e.g. `cargo test --benches`) just checks it starts.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (publishes, gets) = if quick { (20, 200) } else { (500, 5000) };
    let reg = TestRegistry::start(false);
    let token = reg.token("bench");
    let addr = reg.addr;
    println!(
        "gantry-registry load bench: {CLIENTS} client threads, one connection per request, 127.0.0.1"
    );

    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..publishes)
            .map(|i| publish_body(&format!("bench-{}", i % 50), &format!("1.0.{i}")))
            .collect(),
    );
    let tok = token.clone();
    let b = bodies.clone();
    report(
        "publish",
        drive(publishes, move |i| {
            http(
                addr,
                "PUT",
                "/api/v1/crates/new",
                &[("Authorization", &tok)],
                &b[i],
            )
            .status
        }),
    );
    let paths: Arc<Vec<String>> = Arc::new(
        (0..50)
            .map(|i| {
                format!(
                    "/index/{}",
                    gantry_protocol::index_path(&format!("bench-{i}"))
                )
            })
            .collect(),
    );
    let p = paths.clone();
    report(
        "index GET",
        drive(gets, move |i| {
            http(addr, "GET", &p[i % p.len()], &[], b"").status
        }),
    );
    let p = paths.clone();
    let etags: Arc<Vec<String>> = Arc::new(
        p.iter()
            .map(|path| {
                http(addr, "GET", path, &[], b"")
                    .header("etag")
                    .unwrap()
                    .to_owned()
            })
            .collect(),
    );
    report(
        "index GET (304)",
        drive(gets, move |i| {
            let s = http(
                addr,
                "GET",
                &p[i % p.len()],
                &[("If-None-Match", &etags[i % etags.len()])],
                b"",
            )
            .status;
            if s == 304 { 200 } else { s }
        }),
    );
}
