//! Blob storage for `.crate` files, content-addressed by SHA-256 so concurrent uploads of different
//! bytes for one version can never overwrite each other's file: a local directory (`local.rs`) or
//! an S3-compatible bucket (`s3.rs`).

mod local;
mod s3;

use std::path::PathBuf;

use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use crate::BoxFut;
pub use local::LocalBlobStore;
pub use s3::{CRATE_CACHE_CONTROL, CRATE_CONTENT_TYPE, S3BlobStore};

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// A request to the object store failed; `context` says what was done where, and what to check.
    #[error("{context}")]
    Store {
        context: String,
        #[source]
        source: object_store::Error,
    },
    /// The local blob directory cannot be used.
    #[error("blob directory {}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Where `.crate` bytes live. Puts must be atomic (readers see all bytes or nothing).
/// Keys are content-addressed ([`crate_key`]), so a put of an existing key carries the same bytes and
/// succeeds without rewriting anything.
pub trait BlobStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFut<'a, Result<(), BlobError>>;
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>>;
    /// Opens a blob for streaming (`None` when missing), so a download never holds the whole file.
    /// The default reads it whole; the real stores stream it.
    fn open<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<BlobReader>, BlobError>> {
        Box::pin(async move { Ok(self.get(key).await?.map(BlobReader::whole)) })
    }
    /// A cheap round trip proving the store answers (readiness probe). The default reads a key
    /// that never exists: a reachable store answers "not found".
    fn ping(&self) -> BoxFut<'_, Result<(), BlobError>> {
        Box::pin(async move { self.get(PROBE_KEY).await.map(|_| ()) })
    }
}

/// A blob being read: its size, and its bytes as they arrive.
pub struct BlobReader {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, BlobError>>,
}

impl BlobReader {
    /// A reader over bytes already in memory.
    pub fn whole(bytes: Vec<u8>) -> Self {
        let size = bytes.len() as u64;
        let chunk: Result<Bytes, BlobError> = Ok(Bytes::from(bytes));
        BlobReader {
            size,
            stream: Box::pin(futures_util::stream::once(async move { chunk })),
        }
    }
}

/// A key no `.crate` ever has (see [`crate_key`]); probes read it.
pub const PROBE_KEY: &str = "gantry-ready-probe";

/// Key of a `.crate` with the given SHA-256 hex.
pub fn crate_key(cksum: &str) -> String {
    let prefix = cksum.get(..2).unwrap_or("xx");
    format!("crates/{prefix}/{cksum}.crate")
}
