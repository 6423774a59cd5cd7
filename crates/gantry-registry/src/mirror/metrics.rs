//! The mirror's and the index cache's counters, appended to `/metrics` in Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::index_cache::IndexCache;

#[derive(Default)]
pub struct MirrorMetrics {
    /// Index files answered without asking the upstream.
    pub index_hits: AtomicU64,
    /// Index files the mirror had no copy of, fetched from the upstream.
    pub index_misses: AtomicU64,
    /// Conditional requests answered 304 by the upstream.
    pub revalidated_unchanged: AtomicU64,
    /// Conditional requests answered with a new file.
    pub revalidated_changed: AtomicU64,
    /// Answers from a copy older than the TTL because the upstream was slow or down.
    pub stale_answers: AtomicU64,
    pub upstream_errors_index: AtomicU64,
    pub upstream_errors_crate: AtomicU64,
    /// `.crate` downloads answered from the blob store.
    pub crate_hits: AtomicU64,
    /// `.crate` files fetched from the upstream (verified and stored).
    pub crate_misses: AtomicU64,
    /// `.crate` files refused because their checksum differed from the index entry's.
    pub checksum_mismatches: AtomicU64,
    /// Requests that waited for a fetch another request had already started.
    pub coalesced: AtomicU64,
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

impl MirrorMetrics {
    pub fn render(&self, out: &mut String) {
        let n = "gantry_mirror_index_requests_total";
        header(
            out,
            n,
            "counter",
            "Mirror index files answered, by how: hit (no upstream request), miss (fetched), \
             revalidated (conditional request), stale (upstream slow or down).",
        );
        let rows = [
            ("hit", get(&self.index_hits)),
            ("miss", get(&self.index_misses)),
            (
                "revalidated",
                get(&self.revalidated_unchanged) + get(&self.revalidated_changed),
            ),
            ("stale", get(&self.stale_answers)),
        ];
        for (result, v) in rows {
            let _ = writeln!(out, "{n}{{result=\"{result}\"}} {v}");
        }
        let n = "gantry_mirror_revalidations_total";
        header(
            out,
            n,
            "counter",
            "Conditional requests to the upstream, by answer.",
        );
        let _ = writeln!(
            out,
            "{n}{{outcome=\"not_modified\"}} {}",
            get(&self.revalidated_unchanged)
        );
        let _ = writeln!(
            out,
            "{n}{{outcome=\"changed\"}} {}",
            get(&self.revalidated_changed)
        );
        let n = "gantry_mirror_stale_answers_total";
        header(
            out,
            n,
            "counter",
            "Index files answered from a copy older than --mirror-ttl because the upstream was \
             slow or down.",
        );
        let _ = writeln!(out, "{n} {}", get(&self.stale_answers));
        let n = "gantry_mirror_upstream_errors_total";
        header(
            out,
            n,
            "counter",
            "Upstream requests that failed (unreachable, timeout, unexpected status), by kind.",
        );
        let _ = writeln!(
            out,
            "{n}{{kind=\"index\"}} {}",
            get(&self.upstream_errors_index)
        );
        let _ = writeln!(
            out,
            "{n}{{kind=\"crate\"}} {}",
            get(&self.upstream_errors_crate)
        );
        let n = "gantry_mirror_crate_downloads_total";
        header(
            out,
            n,
            "counter",
            "Mirror .crate downloads: hit (in the blob store), miss (fetched from the upstream and \
             verified).",
        );
        let _ = writeln!(out, "{n}{{result=\"hit\"}} {}", get(&self.crate_hits));
        let _ = writeln!(out, "{n}{{result=\"miss\"}} {}", get(&self.crate_misses));
        let n = "gantry_mirror_checksum_mismatches_total";
        header(
            out,
            n,
            "counter",
            "Upstream .crate files refused because their SHA-256 differed from the index entry.",
        );
        let _ = writeln!(out, "{n} {}", get(&self.checksum_mismatches));
        let n = "gantry_mirror_coalesced_requests_total";
        header(
            out,
            n,
            "counter",
            "Requests that waited for an upstream fetch already in progress instead of starting one.",
        );
        let _ = writeln!(out, "{n} {}", get(&self.coalesced));
    }
}

/// The index cache's counters (hosted and mirror files together).
pub fn render_cache(cache: &IndexCache, out: &mut String) {
    let s = &cache.stats;
    let n = "gantry_index_memory_cache_total";
    header(
        out,
        n,
        "counter",
        "In-memory index cache lookups and removals: hit, miss, eviction (budget), invalidation \
         (a publish, yank or mirror update changed the file).",
    );
    for (event, v) in [
        ("hit", get(&s.hits)),
        ("miss", get(&s.misses)),
        ("eviction", get(&s.evictions)),
        ("invalidation", get(&s.invalidations)),
    ] {
        let _ = writeln!(out, "{n}{{event=\"{event}\"}} {v}");
    }
    let n = "gantry_index_memory_cache_bytes";
    header(out, n, "gauge", "Bytes of index files held in memory.");
    let _ = writeln!(out, "{n} {}", cache.bytes());
}
