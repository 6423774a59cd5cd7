//! Load benchmark for the registry as deployed: real `gantry-registry serve` processes on
//! 127.0.0.1, driven by client threads with one connection per request.
//!
//! 1. Throughput and latency (req/s, p50, p99) of publishes and index-file GETs for SQLite+local and
//!    PostgreSQL+S3, with 1 and 3 instances on one database and bucket (clients round-robin).
//! 2. Publish latency with 1,000 vs 100,000 existing versions in the database, seeded by a bulk
//!    loader (multi-row INSERTs straight into the schema, one transaction; the same SQL on both
//!    engines), to show it stays flat.
//!
//! 3. Crate page, start page and search latency with 10,000 crates in the database (`pages`).
//!
//! Run with `cargo xtask bench registry` (`cargo xtask bench registry pages` for part 3 alone) (finds or installs s3s-fs, checks PostgreSQL 15), or
//! `cargo bench -p gantry-registry --bench load` when GANTRY_S3S_FS or PATH has s3s-fs.
//! Without `--bench` (e.g. `cargo test --benches`) it runs a tiny version as a smoke test.
// A benchmark is a program that prints its figures; it has no API.
#![allow(unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/it/common/mod.rs"]
mod common;
#[path = "load/pages.rs"]
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use sqlx::Connection;

const CLIENTS: usize = 8;
const TIME_LIMIT: Duration = Duration::from_secs(30);

struct Stats {
    n: usize,
    wall: Duration,
    p50: Duration,
    p99: Duration,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.n as f64 / self.wall.as_secs_f64()
    }
    fn cells(&self) -> String {
        format!(
            "{:>8.1} {:>8.2} {:>8.2}",
            self.rps(),
            ms(self.p50),
            ms(self.p99)
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `total` jobs over `CLIENTS` threads (stopping at the time limit).
fn drive(total: usize, job: impl Fn(usize) -> (u16, String) + Send + Sync + 'static) -> Stats {
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
                    let (status, text) = job(i);
                    assert_eq!(status, 200, "request {i} failed: {text}");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let wall = start.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    Stats {
        n: lat.len(),
        wall,
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn publish_job(
    addrs: Vec<SocketAddr>,
    token: String,
    bodies: Vec<Vec<u8>>,
) -> impl Fn(usize) -> (u16, String) + Send + Sync + 'static {
    move |i| {
        let r = http(
            addrs[i % addrs.len()],
            "PUT",
            "/api/v1/crates/new",
            &[("Authorization", &token)],
            &bodies[i],
        );
        (r.status, r.text())
    }
}

fn label(b: Backend) -> &'static str {
    match b {
        Backend::SqliteLocal => "sqlite+local",
        Backend::PostgresS3 => "postgres+s3",
    }
}

/// Part 1: one row of the throughput table.
fn throughput(backend: Backend, instances: usize, publishes: usize, gets: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    admin(&storage, &["migrate"]);
    let token = admin_token(&storage, "bench");
    let servers: Vec<ServeProcess> = (0..instances)
        .map(|_| ServeProcess::start(&storage, &[]))
        .collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    const CRATES: usize = 50;
    let bodies: Vec<Vec<u8>> = (0..publishes)
        .map(|i| publish_body(&format!("bench-{}", i % CRATES), &format!("1.0.{i}")))
        .collect();
    let publish = drive(publishes, publish_job(addrs.clone(), token, bodies));
    let paths: Vec<String> = (0..CRATES.min(publishes))
        .map(|i| {
            format!(
                "/index/{}",
                gantry_protocol::index_path(&format!("bench-{i}"))
            )
        })
        .collect();
    let get_addrs = addrs.clone();
    let index = drive(gets, move |i| {
        let r = http(
            get_addrs[i % get_addrs.len()],
            "GET",
            &paths[i % paths.len()],
            &[],
            b"",
        );
        (r.status, String::new())
    });
    drop(servers);
    format!(
        "{:<14} {:>4} | {} | {}",
        label(backend),
        instances,
        index.cells(),
        publish.cells()
    )
}

/// A database connection for the bulk loader; the SQL is the same on both engines.
enum Db {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Db {
    async fn open(storage: &Storage) -> Db {
        match &storage.pg_s3 {
            None => Db::Sqlite(
                sqlx::SqliteConnection::connect(&format!(
                    "sqlite://{}",
                    storage.data_dir.join("registry.sqlite").display()
                ))
                .await
                .unwrap(),
            ),
            Some(p) => Db::Pg(sqlx::PgConnection::connect(&p.database_url).await.unwrap()),
        }
    }
    async fn exec(&mut self, sql: &str) {
        let r = match self {
            Db::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Db::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        };
        if let Err(e) = r {
            panic!("bulk load failed: {e}\n{}", &sql[..sql.len().min(300)]);
        }
    }
}

/// Seeds `versions` versions (10 per crate, all owned by `bench`) with multi-row INSERTs in one
/// transaction. Every crate keeps 10 versions, so only the database's size changes between runs.
async fn bulk_load(db: &mut Db, versions: usize) {
    const PER_CRATE: usize = 10;
    const BATCH: usize = 1000;
    let crates = versions / PER_CRATE;
    db.exec("BEGIN").await;
    for chunk in (0..crates).collect::<Vec<_>>().chunks(BATCH) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|c| format!("('seed-{c}', 'seed_{c}', 'seeded', 0)"))
            .collect();
        db.exec(&format!(
            "INSERT INTO crates (name, canon_name, description, created_at) VALUES {}",
            rows.join(",")
        ))
        .await;
    }
    db.exec(
        "INSERT INTO crate_owners (crate_id, user_id) \
         SELECT c.id, u.id FROM crates c, users u WHERE u.login = 'bench'",
    )
    .await;
    let all: Vec<(usize, usize)> = (0..crates)
        .flat_map(|c| (0..PER_CRATE).map(move |v| (c, v)))
        .collect();
    for chunk in all.chunks(BATCH) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|(c, v)| {
                let cksum = format!("{:064x}", c * PER_CRATE + v);
                let line = format!(
                    r#"{{"name":"seed-{c}","vers":"0.0.{v}","deps":[],"cksum":"{cksum}","features":{{}},"yanked":false}}"#
                );
                format!("('seed_{c}', '0.0.{v}', '{cksum}', '{line}')")
            })
            .collect();
        // VALUES columns are column1.. on both engines.
        db.exec(&format!(
            "INSERT INTO versions (crate_id, num, num_no_build, cksum, index_line, created_at) \
             SELECT c.id, v.column2, v.column2, v.column3, v.column4, 0 \
             FROM (VALUES {}) AS v JOIN crates c ON c.canon_name = v.column1",
            rows.join(",")
        ))
        .await;
    }
    db.exec("COMMIT").await;
}

/// Part 2: publish latency on a database that already holds `existing` versions.
fn publish_at_scale(backend: Backend, existing: usize, publishes: usize) -> (Stats, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    admin(&storage, &["migrate"]);
    let token = admin_token(&storage, "bench");
    let rt = runtime();
    let t = Instant::now();
    rt.block_on(async {
        let mut db = Db::open(&storage).await;
        bulk_load(&mut db, existing).await;
        if let Db::Pg(c) = &mut db {
            // What autovacuum would do shortly after a bulk load; the planner needs the statistics.
            sqlx::raw_sql("ANALYZE").execute(c).await.unwrap();
        }
    });
    let seed = t.elapsed();
    let server = ServeProcess::start(&storage, &[]);
    // Half new versions of seeded crates spread over the whole table, half brand-new crates.
    let crates = existing / 10;
    let bodies: Vec<Vec<u8>> = (0..publishes)
        .map(|i| {
            if i % 2 == 0 {
                let c = (i * 7919) % crates;
                publish_body(&format!("seed-{c}"), &format!("1.0.{i}"))
            } else {
                publish_body(&format!("fresh-{i}"), "1.0.0")
            }
        })
        .collect();
    let stats = drive(publishes, publish_job(vec![server.addr], token, bodies));
    (stats, seed)
}

fn main() {
    // `cargo bench` passes `--bench`; any other run (e.g. `cargo test --benches`) is a quick smoke run.
    let quick = !std::env::args().any(|a| a == "--bench");
    if std::env::args().any(|a| a == "pages") {
        pages::run(quick);
        return;
    }
    let (publishes, gets, scale) = if quick {
        (20, 100, [100, 1000])
    } else {
        (1000, 20000, [1_000, 100_000])
    };
    println!(
        "gantry-registry load bench: {CLIENTS} client threads, one connection per request, \
         `gantry-registry serve` processes on 127.0.0.1, round-robin over instances"
    );
    println!();
    println!("{:<19} | {:<26} | {:<26}", "", "index GET", "publish");
    println!(
        "{:<14} {:>4} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8}",
        "backend", "inst", "req/s", "p50 ms", "p99 ms", "req/s", "p50 ms", "p99 ms"
    );
    for backend in [Backend::SqliteLocal, Backend::PostgresS3] {
        for instances in [1, 3] {
            println!("{}", throughput(backend, instances, publishes, gets));
        }
    }
    let scale_publishes = if quick { 20 } else { 500 };
    println!();
    println!(
        "publish latency with existing versions ({scale_publishes} publishes, 1 instance, bulk-loaded seed):"
    );
    println!(
        "{:<14} {:>9} | {:>8} {:>8} {:>8} | {:>9}",
        "backend", "existing", "req/s", "p50 ms", "p99 ms", "seed s"
    );
    for backend in [Backend::SqliteLocal, Backend::PostgresS3] {
        for existing in scale {
            let (stats, seed) = publish_at_scale(backend, existing, scale_publishes);
            println!(
                "{:<14} {:>9} | {} | {:>9.2}",
                label(backend),
                existing,
                stats.cells(),
                seed.as_secs_f64()
            );
        }
    }
    pages::run(quick);
}
