//! Part 3 of the load bench: crate pages (`GET /crates/{name}`) with 10,000 crates in the
//! database. The seed is the bulk loader's (10 versions per crate), plus what pages read: stored
//! details for every version (a README of a few KiB on each crate's newest), a dependency of each
//! newest version on another crate (so reverse dependencies are found), and a download row per
//! version. Pages are fetched at random over all crates by the same client threads; the start
//! page and a search page are measured alongside for scale.

use super::{CLIENTS, Db, Stats, bulk_load, drive, label};
use crate::common::*;

/// The README every crate's newest version carries (~3 KiB of typical Markdown; no quotes, so it
/// goes into SQL as it is).
fn readme() -> String {
    let mut s = String::from(
        "# Seed crate\n\nA crate seeded for the page benchmark. It has *emphasis*, `code`, \
         [links](docs/guide.md) and ![images](img/logo.png).\n\n## Usage\n\n```rust\n\
         fn main() {\n    println!(1 + 1);\n}\n```\n\n| feature | meaning |\n|---|---|\n\
         | default | the usual set |\n| fast | the quick path |\n\n",
    );
    for i in 0..20 {
        s.push_str(&format!(
            "### Section {i}\n\nSome prose about section {i}, with a list:\n\n- one\n- two\n- three\n\n"
        ));
    }
    s
}

async fn seed_page_data(db: &mut Db, crates: usize) {
    db.exec("BEGIN").await;
    db.exec(&format!(
        "INSERT INTO version_details (version_id, readme, metadata) \
         SELECT id, CASE WHEN num = '0.0.9' THEN '{}' ELSE NULL END, \
         '{{\"description\":\"seeded\",\"license\":\"MIT\",\"repository\":\"https://github.com/example/seed\"}}' \
         FROM versions",
        readme()
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO dependencies (version_id, dep_canon_name, req, kind) \
         SELECT id, 'seed_' || ((crate_id * 7) % {crates}), '^0.0', 'normal' \
         FROM versions WHERE num = '0.0.9'"
    ))
    .await;
    db.exec(
        "INSERT INTO version_downloads (version_id, day, downloads) \
         SELECT id, 20000, id % 1000 FROM versions",
    )
    .await;
    db.exec("COMMIT").await;
}

/// Crate page, start page and search latency with `crates` crates in the database.
fn pages_at_scale(backend: Backend, crates: usize, requests: usize) -> Vec<(String, Stats)> {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fresh(backend, dir.path().join("data"));
    admin(&storage, &["migrate"]);
    admin(&storage, &["user", "add", "bench"]);
    let rt = runtime();
    rt.block_on(async {
        let mut db = Db::open(&storage).await;
        bulk_load(&mut db, crates * 10).await;
        seed_page_data(&mut db, crates).await;
        if let Db::Pg(c) = &mut db {
            use sqlx::Executor;
            c.execute("ANALYZE").await.unwrap();
        }
    });
    let server = ServeProcess::start(&storage, &[]);
    let addr = server.addr;
    // Warm up (and check) one page before timing.
    let first = http(addr, "GET", "/crates/seed-0", &[], b"");
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(first.text().contains("<h1>Seed crate</h1>"));
    let mut out = Vec::new();
    let page = drive(requests, move |i| {
        let c = (i * 7919) % crates;
        let r = http(addr, "GET", &format!("/crates/seed-{c}"), &[], b"");
        (r.status, String::new())
    });
    out.push(("crate page".to_owned(), page));
    let home = drive(requests / 4, move |_| {
        let r = http(addr, "GET", "/", &[], b"");
        (r.status, String::new())
    });
    out.push(("start page".to_owned(), home));
    let search = drive(requests / 4, move |i| {
        let r = http(
            addr,
            "GET",
            &format!("/search?q=seed-{}", i % 100),
            &[],
            b"",
        );
        (r.status, String::new())
    });
    out.push(("search page".to_owned(), search));
    drop(server);
    out
}

pub fn run(quick: bool) {
    let (crates, requests) = if quick { (100, 40) } else { (10_000, 4000) };
    println!();
    println!(
        "pages with {crates} crates ({} versions) in the database, 1 instance, {CLIENTS} client threads:",
        crates * 10
    );
    println!(
        "{:<14} {:<12} | {:>8} {:>8} {:>8}",
        "backend", "page", "req/s", "p50 ms", "p99 ms"
    );
    for backend in [Backend::SqliteLocal, Backend::PostgresS3] {
        for (what, stats) in pages_at_scale(backend, crates, requests) {
            println!("{:<14} {:<12} | {}", label(backend), what, stats.cells());
        }
    }
}
