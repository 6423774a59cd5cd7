//! The pull-through mirror of a sparse registry (crates.io by default), served read-only at
//! `/mirror/index/` beside the hosted registry.
//!
//! Index files are kept in the database with the upstream's validators and answered from memory
//! while younger than the TTL; older ones are revalidated with a conditional request, and when the
//! upstream is slow or down the stored copy is answered anyway (serve-stale). `.crate` files are
//! fetched on first download, checked against the checksum of the upstream's index line before
//! anyone receives them, and stored write-once in the blob store under their checksum. Concurrent
//! requests for one missing file share one upstream request ([`coalesce`]). All state lives in the
//! shared database and blob store, so any number of instances serve one mirror.

mod coalesce;
pub mod config;
mod crates;
pub mod handlers;
mod index;
pub mod lockfile;
pub mod metrics;
pub mod prefetch;
mod upstream;

use std::sync::Arc;

use bytes::Bytes;

pub use config::{MirrorConfig, UpstreamUrl};
pub use metrics::MirrorMetrics;

use crate::blob::{BlobError, BlobStore};
use crate::index_cache::{CachedFile, IndexCache};
use crate::store::{MetaStore, StoreError};
use coalesce::Coalescer;
use upstream::Upstream;

/// Why the mirror could not answer from the upstream.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("cannot set up the HTTP client for the mirror's upstream")]
    Client(#[source] reqwest::Error),
    #[error("the upstream could not be reached at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the upstream answered HTTP {status} for {url}")]
    Status { url: String, status: u16 },
    #[error("{url} is larger than the mirror accepts ({limit} bytes)")]
    TooLarge { url: String, limit: u64 },
    #[error("the upstream's config.json at {url} is not usable: {why}")]
    Config { url: String, why: String },
    #[error(
        "the upstream served a .crate for `{name}` {version} whose SHA-256 is {got}, but its index \
         entry says {expected}; refused and not stored"
    )]
    Checksum {
        name: String,
        version: String,
        expected: String,
        got: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("an upstream fetch ended without an answer")]
    Lost,
}

impl MirrorError {
    /// Errors of the upstream (as opposed to this registry's own storage).
    pub fn is_upstream(&self) -> bool {
        matches!(
            self,
            MirrorError::Unreachable { .. }
                | MirrorError::Status { .. }
                | MirrorError::TooLarge { .. }
                | MirrorError::Config { .. }
                | MirrorError::Checksum { .. }
        )
    }
}

type IndexFlight = Result<(Arc<CachedFile>, index::Freshness), Arc<MirrorError>>;
type CrateFlight = Result<Bytes, Arc<MirrorError>>;

pub struct Mirror {
    pub config: MirrorConfig,
    upstream: Upstream,
    store: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    cache: Arc<IndexCache>,
    pub metrics: MirrorMetrics,
    index_flights: Coalescer<String, IndexFlight>,
    crate_flights: Coalescer<String, CrateFlight>,
}

impl Mirror {
    pub fn new(
        config: MirrorConfig,
        store: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        cache: Arc<IndexCache>,
    ) -> Result<Self, MirrorError> {
        Ok(Mirror {
            upstream: Upstream::new(&config)?,
            config,
            store,
            blobs,
            cache,
            metrics: MirrorMetrics::default(),
            index_flights: Coalescer::default(),
            crate_flights: Coalescer::default(),
        })
    }
}

/// Whether `name` can be a crate name on a sparse registry (ASCII letters, digits, `-`, `_`; at
/// most 64 characters), checked before anything is asked of the upstream.
pub fn plausible_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
