//! Blob storage for `.crate` files, content-addressed by SHA-256 so concurrent uploads of different
//! bytes for one version can never overwrite each other's file: a local directory (`local.rs`) or
//! an S3-compatible bucket (`s3.rs`).

mod local;
mod s3;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use crate::BoxFut;
pub use local::{LocalBlobStore, STALE_TEMP_AGE};
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
    /// A file operation in the local blob directory failed; `context` says which and where.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
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

/// What a put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The object was written by this put.
    Created,
    /// The object was already there (same key, so same bytes); nothing was written.
    Existed,
}

/// One stored object, as `gc` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub last_modified: SystemTime,
    pub size: u64,
}

/// Where `.crate` bytes live. Puts must be atomic (readers see all bytes or nothing) and durable
/// when they return: a publish commits its version row only after its put returned.
/// Keys are content-addressed ([`crate_key`]), so a put of an existing key carries the same bytes and
/// succeeds without rewriting anything.
pub trait BlobStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFut<'a, Result<Stored, BlobError>>;
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>>;
    /// Every `.crate` object ([`is_crate_key`]) with its age and size, for `gc`.
    fn list_crates(&self) -> BoxFut<'_, Result<Vec<BlobMeta>, BlobError>>;
    /// Removes an object; a missing one is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<(), BlobError>>;
    /// Removes what interrupted writes left behind, if older than `age` (a local directory's temp
    /// files; an S3 put is atomic and leaves nothing). Returns how many were removed.
    fn remove_stale_temp(&self, age: Duration) -> BoxFut<'_, Result<usize, BlobError>> {
        let _ = age;
        Box::pin(async { Ok(0) })
    }
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

/// Where `.crate` objects live; `gc` never looks at anything else in the store.
pub const CRATES_PREFIX: &str = "crates";

/// Key of a `.crate` with the given SHA-256 hex.
pub fn crate_key(cksum: &str) -> String {
    let prefix = cksum.get(..2).unwrap_or("xx");
    format!("{CRATES_PREFIX}/{prefix}/{cksum}.crate")
}

/// The SHA-256 hex a `.crate` key names, when `key` is exactly what [`crate_key`] makes of a
/// SHA-256 (lowercase hex, 64 digits).
pub fn cksum_of_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(CRATES_PREFIX)?.strip_prefix('/')?;
    let (prefix, file) = rest.split_once('/')?;
    let cksum = file.strip_suffix(".crate")?;
    let hex = cksum.len() == 64
        && cksum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex && cksum.get(..2) == Some(prefix)).then_some(cksum)
}

/// Whether `key` is a `.crate` object this registry wrote.
pub fn is_crate_key(key: &str) -> bool {
    cksum_of_key(key).is_some()
}
