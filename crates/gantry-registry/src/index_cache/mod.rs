//! The in-memory cache of rendered index files (hosted and mirrored), bounded by bytes, so that an
//! index request is answered without touching the database while nothing changed.
//!
//! Correctness rests on three rules:
//! - a publish or yank on this instance evicts the crate's file before it answers 200
//!   ([`IndexCache::invalidate`]), so the same instance never serves a stale line after that;
//! - every instance follows the database's change log (filled by triggers in the changing
//!   transaction; `watch.rs`) and evicts what other instances changed;
//! - a file rendered from a read that raced with an eviction is not stored: [`IndexCache::token`]
//!   is taken before the read, and [`IndexCache::insert`] drops the file if an eviction happened in
//!   its shard since (checked under the same lock that evictions take).

mod file;
pub mod watch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

pub use file::{
    CachedFile, INDEX_CONTENT_TYPE, Representation, accepts_gzip, etag_matches, respond,
};

/// The crate name in a canonical index path (`1/a`, `3/a/abc`, `ab/cd/abcd`: lowercase, directories
/// from the name), or `None` for any other path; the same answer as comparing with
/// [`gantry_protocol::index_path`], without allocating on the hot path.
pub fn name_in_index_path(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
    if !name.is_ascii() {
        return (gantry_protocol::index_path(name) == path).then_some(name);
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let dir = &path[..path.len() - name.len()];
    let ok = match name.len() {
        1 => dir == "1/",
        2 => dir == "2/",
        3 => {
            dir.len() == 4 && dir.starts_with("3/") && dir[2..3] == name[..1] && dir.ends_with('/')
        }
        _ => {
            dir.len() == 6
                && dir[..2] == name[..2]
                && &dir[2..3] == "/"
                && dir[3..5] == name[2..4]
                && dir.ends_with('/')
        }
    };
    ok.then_some(name)
}

/// Builds a cache entry for `body`; large bodies are hashed and compressed off the async threads.
pub async fn prepare(body: Bytes, fresh_until: Option<std::time::Instant>) -> CachedFile {
    const INLINE: usize = 64 * 1024;
    if body.len() <= INLINE {
        return CachedFile::found(body, fresh_until);
    }
    let copy = body.clone();
    tokio::task::spawn_blocking(move || CachedFile::found(copy, fresh_until))
        .await
        .unwrap_or_else(|_| CachedFile::found(body, fresh_until))
}

/// Default memory budget (`--index-cache-size`).
pub const DEFAULT_BUDGET: usize = 128 * 1024 * 1024;
const SHARDS: usize = 8;

/// Which index a cached file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// The hosted registry (`/index/`), keyed by canonical crate name: every spelling of a name
    /// (`foo-bar`, `foo_bar`) renders the same file.
    Hosted,
    /// The mirror (`/mirror/index/`), keyed by the lowercase name of the path.
    Mirror,
}

impl Namespace {
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Hosted => "hosted",
            Namespace::Mirror => "mirror",
        }
    }
}

type Map = HashMap<Box<str>, Arc<CachedFile>>;

struct Shard {
    map: RwLock<Map>,
    bytes: AtomicUsize,
    /// Bumped by every eviction of a changed file in this shard.
    epoch: AtomicU64,
}

/// Proof of when a fill began (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct FillToken(u64);

pub struct IndexCache {
    hosted: Box<[Shard]>,
    mirror: Box<[Shard]>,
    shard_budget: usize,
    /// Off while the change log cannot be followed: then nothing is served from memory.
    enabled: AtomicBool,
    pub stats: CacheStats,
}

#[derive(Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
    pub invalidations: AtomicU64,
}

fn shards() -> Box<[Shard]> {
    (0..SHARDS)
        .map(|_| Shard {
            map: RwLock::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
        })
        .collect()
}

fn shard_of(name: &str) -> usize {
    // FNV-1a: short names, no need for a keyed hash to pick a shard.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

impl IndexCache {
    /// A cache holding at most about `budget` bytes of index files; 0 disables it.
    pub fn new(budget: usize) -> Self {
        IndexCache {
            hosted: shards(),
            mirror: shards(),
            shard_budget: budget / SHARDS,
            enabled: AtomicBool::new(budget > 0),
            stats: CacheStats::default(),
        }
    }

    fn shard(&self, ns: Namespace, name: &str) -> &Shard {
        let shards = match ns {
            Namespace::Hosted => &self.hosted,
            Namespace::Mirror => &self.mirror,
        };
        &shards[shard_of(name)]
    }

    /// The cached file, if any (fresh or not: mirror callers check [`CachedFile::is_fresh`]).
    pub fn get(&self, ns: Namespace, name: &str) -> Option<Arc<CachedFile>> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let map = self
            .shard(ns, name)
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let found = map.get(name).cloned();
        drop(map);
        match &found {
            Some(f) => {
                // A plain load first: most hits find the bit already set and write nothing.
                if !f.referenced.load(Ordering::Relaxed) {
                    f.referenced.store(true, Ordering::Relaxed);
                }
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        found
    }

    /// Taken before reading what will be inserted under `name`.
    pub fn token(&self, ns: Namespace, name: &str) -> FillToken {
        FillToken(self.shard(ns, name).epoch.load(Ordering::Acquire))
    }

    /// Stores `file` unless an eviction happened since `token` (then the read may predate a
    /// change) or it is too big for the budget. Returns whether it was stored.
    pub fn insert(
        &self,
        ns: Namespace,
        name: &str,
        file: Arc<CachedFile>,
        token: FillToken,
    ) -> bool {
        let weight = file.weight();
        if !self.enabled.load(Ordering::Relaxed) || weight > self.shard_budget / 4 {
            return false;
        }
        let shard = self.shard(ns, name);
        let mut map = shard.map.write().unwrap_or_else(|p| p.into_inner());
        if shard.epoch.load(Ordering::Acquire) != token.0 {
            return false;
        }
        if let Some(old) = map.insert(name.into(), file) {
            shard.bytes.fetch_sub(old.weight(), Ordering::Relaxed);
        }
        let total = shard.bytes.fetch_add(weight, Ordering::Relaxed) + weight;
        if total > self.shard_budget {
            self.sweep(shard, &mut map);
        }
        true
    }

    /// Second-chance eviction down to 3/4 of the shard's budget: entries hit since the last sweep
    /// survive one more round.
    fn sweep(&self, shard: &Shard, map: &mut Map) {
        let target = self.shard_budget / 4 * 3;
        for _round in 0..2 {
            map.retain(|_, f| {
                if shard.bytes.load(Ordering::Relaxed) <= target {
                    return true;
                }
                if f.referenced.swap(false, Ordering::Relaxed) {
                    return true;
                }
                shard.bytes.fetch_sub(f.weight(), Ordering::Relaxed);
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                false
            });
            if shard.bytes.load(Ordering::Relaxed) <= target {
                break;
            }
        }
    }

    /// Evicts a file whose content changed (`*`: every file of the namespace).
    pub fn invalidate(&self, ns: Namespace, name: &str) {
        self.stats.invalidations.fetch_add(1, Ordering::Relaxed);
        if name == "*" {
            let shards = match ns {
                Namespace::Hosted => &self.hosted,
                Namespace::Mirror => &self.mirror,
            };
            for shard in shards.iter() {
                self.clear_shard(shard);
            }
            return;
        }
        let shard = self.shard(ns, name);
        let mut map = shard.map.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = map.remove(name) {
            shard.bytes.fetch_sub(old.weight(), Ordering::Relaxed);
        }
        // Inside the lock: a concurrent insert of this name either precedes the removal or sees
        // the new epoch.
        shard.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn clear_shard(&self, shard: &Shard) {
        let mut map = shard.map.write().unwrap_or_else(|p| p.into_inner());
        map.clear();
        shard.bytes.store(0, Ordering::Relaxed);
        shard.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops everything (the change log was not followed for too long).
    pub fn clear(&self) {
        for shard in self.hosted.iter().chain(self.mirror.iter()) {
            self.clear_shard(shard);
        }
    }

    /// Stops (false) or resumes (true) serving from memory; stopping also empties the cache.
    pub fn set_enabled(&self, on: bool) {
        if !on {
            self.enabled.store(false, Ordering::Relaxed);
            self.clear();
        } else if self.shard_budget > 0 {
            self.enabled.store(true, Ordering::Relaxed);
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.hosted
            .iter()
            .chain(self.mirror.iter())
            .map(|s| s.bytes.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize) -> Arc<CachedFile> {
        Arc::new(CachedFile::found(Bytes::from(vec![b'x'; n]), None))
    }

    #[test]
    fn index_paths_are_recognised_as_index_path_builds_them() {
        for name in ["a", "ab", "abc", "abcd", "serde_json", "my-crate", "x1"] {
            let path = gantry_protocol::index_path(name);
            assert_eq!(name_in_index_path(&path), Some(name), "{path}");
        }
        for bad in [
            "",
            "1/",
            "1/ab",
            "2/a",
            "3/b/abc",
            "3/abc",
            "ab/cd",
            "ab/ce/abcd",
            "ab/cd/Abcd",
            "Ab/cd/abcd",
            "x/ab/cd/abcd",
            "ab/cd/abcd/",
            "3/a/abc/abc",
        ] {
            assert_eq!(
                name_in_index_path(bad),
                None,
                "{bad} (index_path check: {:?})",
                bad.rsplit('/')
                    .next()
                    .map(|n| gantry_protocol::index_path(n) == bad)
            );
        }
    }

    #[test]
    fn a_fill_that_raced_an_eviction_is_not_stored() {
        let c = IndexCache::new(1 << 20);
        let before = c.token(Namespace::Hosted, "foo");
        c.invalidate(Namespace::Hosted, "foo");
        assert!(!c.insert(Namespace::Hosted, "foo", file(10), before));
        assert!(c.get(Namespace::Hosted, "foo").is_none());
        let after = c.token(Namespace::Hosted, "foo");
        assert!(c.insert(Namespace::Hosted, "foo", file(10), after));
        assert!(c.get(Namespace::Hosted, "foo").is_some());
        // Namespaces are apart.
        assert!(c.get(Namespace::Mirror, "foo").is_none());
        c.invalidate(Namespace::Hosted, "*");
        assert!(c.get(Namespace::Hosted, "foo").is_none());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn the_budget_holds_and_recently_used_files_survive() {
        let budget = SHARDS * 40_000;
        let c = IndexCache::new(budget);
        let names: Vec<String> = (0..400).map(|i| format!("crate-{i}")).collect();
        for n in &names {
            c.insert(
                Namespace::Hosted,
                n,
                file(2_000),
                c.token(Namespace::Hosted, n),
            );
            // Keep the first name hot.
            c.get(Namespace::Hosted, &names[0]);
        }
        assert!(c.bytes() <= budget, "{} > {budget}", c.bytes());
        assert!(c.get(Namespace::Hosted, &names[0]).is_some());
        assert!(c.stats.evictions.load(Ordering::Relaxed) > 0);
        // A file bigger than a quarter of a shard is never held.
        let t = c.token(Namespace::Hosted, "huge");
        assert!(!c.insert(Namespace::Hosted, "huge", file(budget), t));
    }

    #[test]
    fn a_disabled_cache_serves_nothing() {
        let c = IndexCache::new(1 << 20);
        c.insert(
            Namespace::Mirror,
            "a",
            file(1),
            c.token(Namespace::Mirror, "a"),
        );
        c.set_enabled(false);
        assert!(c.get(Namespace::Mirror, "a").is_none());
        assert!(!c.insert(
            Namespace::Mirror,
            "a",
            file(1),
            c.token(Namespace::Mirror, "a")
        ));
        c.set_enabled(true);
        assert!(
            c.get(Namespace::Mirror, "a").is_none(),
            "emptied when disabled"
        );
        assert!(IndexCache::new(0).get(Namespace::Hosted, "a").is_none());
    }
}
