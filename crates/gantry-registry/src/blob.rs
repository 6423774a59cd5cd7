//! Blob storage for `.crate` files, content-addressed by SHA-256 so concurrent uploads of different
//! bytes for one version can never overwrite each other's file.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
#[error("blob store: {0}")]
pub struct BlobError(String);

impl BlobError {
    pub fn new(msg: impl Into<String>) -> Self {
        BlobError(msg.into())
    }
}

/// Where `.crate` bytes live. Puts must be atomic (readers see all bytes or nothing).
/// Keys are content-addressed ([`crate_key`]), so a put of an existing key carries the same bytes and
/// succeeds without rewriting anything.
pub trait BlobStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFut<'a, Result<(), BlobError>>;
    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>>;
    /// A cheap round trip proving the store answers (readiness probe). The default reads a key
    /// that never exists: a reachable store answers "not found".
    fn ping(&self) -> BoxFut<'_, Result<(), BlobError>> {
        Box::pin(async move { self.get(PROBE_KEY).await.map(|_| ()) })
    }
}

/// A key no `.crate` ever has (see [`crate_key`]); probes read it.
pub const PROBE_KEY: &str = "gantry-ready-probe";

/// Key of a `.crate` with the given SHA-256 hex.
pub fn crate_key(cksum: &str) -> String {
    let prefix = cksum.get(..2).unwrap_or("xx");
    format!("crates/{prefix}/{cksum}.crate")
}

/// Local directory through `object_store` (writes go to a temp file and are renamed into place).
pub struct LocalBlobStore {
    inner: Arc<LocalFileSystem>,
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn new(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root).map_err(|e| BlobError(e.to_string()))?;
        let fs = LocalFileSystem::new_with_prefix(root).map_err(|e| BlobError(e.to_string()))?;
        Ok(LocalBlobStore {
            inner: Arc::new(fs),
            root: root.to_owned(),
        })
    }
}

impl BlobStore for LocalBlobStore {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFut<'a, Result<(), BlobError>> {
        Box::pin(async move {
            let path = ObjPath::from(key);
            let opts = PutOptions::from(PutMode::Create);
            match self
                .inner
                .put_opts(&path, PutPayload::from(bytes), opts)
                .await
            {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(BlobError(e.to_string())),
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>> {
        Box::pin(async move {
            let path = ObjPath::from(key);
            match self.inner.get(&path).await {
                Ok(r) => Ok(Some(
                    r.bytes()
                        .await
                        .map_err(|e| BlobError(e.to_string()))?
                        .to_vec(),
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(BlobError(e.to_string())),
            }
        })
    }

    /// The directory must still be there (a read of a missing key cannot tell).
    fn ping(&self) -> BoxFut<'_, Result<(), BlobError>> {
        Box::pin(async move {
            match tokio::fs::metadata(&self.root).await {
                Ok(m) if m.is_dir() => Ok(()),
                Ok(_) => Err(BlobError(format!(
                    "{} is not a directory",
                    self.root.display()
                ))),
                Err(e) => Err(BlobError(format!(
                    "blob directory {}: {e}",
                    self.root.display()
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_puts_are_write_once_and_repeatable() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(&dir.path().join("blobs")).unwrap();
        let key = crate_key("ab12");
        store.put(&key, b"first".to_vec()).await.unwrap();
        // Same key again is success and leaves the stored bytes alone (content-addressed keys
        // mean a second writer has the same bytes; nothing is ever rewritten).
        store.put(&key, b"second".to_vec()).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap().unwrap(), b"first");
        assert_eq!(store.get("crates/zz/none.crate").await.unwrap(), None);
    }

    #[tokio::test]
    async fn local_ping_notices_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let store = LocalBlobStore::new(&root).unwrap();
        store.ping().await.unwrap();
        std::fs::remove_dir(&root).unwrap();
        let e = store.ping().await.unwrap_err().to_string();
        assert!(e.contains(&root.display().to_string()), "{e}");
    }
}
