//! [`BlobStore`] in a local directory, through `object_store` (writes go to a temp file and are
//! renamed into place).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use futures_util::TryStreamExt;

use super::{BlobError, BlobReader, BlobStore, BoxFut};

pub struct LocalBlobStore {
    inner: Arc<LocalFileSystem>,
    root: PathBuf,
}

impl LocalBlobStore {
    /// Uses `root`, creating it if missing.
    pub fn new(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root).map_err(|source| BlobError::Dir {
            path: root.to_owned(),
            source,
        })?;
        let fs = LocalFileSystem::new_with_prefix(root).map_err(|source| BlobError::Store {
            context: format!("opening blob directory {}", root.display()),
            source,
        })?;
        Ok(LocalBlobStore {
            inner: Arc::new(fs),
            root: root.to_owned(),
        })
    }

    fn failed(&self, what: &str, key: &str, source: object_store::Error) -> BlobError {
        BlobError::Store {
            context: format!("{what} `{key}` in {}", self.root.display()),
            source,
        }
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
                Err(e) => Err(self.failed("storing", key, e)),
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>> {
        Box::pin(async move {
            let path = ObjPath::from(key);
            match self.inner.get(&path).await {
                Ok(r) => match r.bytes().await {
                    Ok(b) => Ok(Some(b.to_vec())),
                    Err(e) => Err(self.failed("reading", key, e)),
                },
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.failed("reading", key, e)),
            }
        })
    }

    fn open<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<BlobReader>, BlobError>> {
        Box::pin(async move {
            let path = ObjPath::from(key);
            match self.inner.get(&path).await {
                Ok(r) => {
                    let context = format!("reading `{key}` in {}", self.root.display());
                    let size = r.meta.size;
                    let stream = r.into_stream().map_err(move |source| BlobError::Store {
                        context: context.clone(),
                        source,
                    });
                    Ok(Some(BlobReader {
                        size,
                        stream: Box::pin(stream),
                    }))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.failed("reading", key, e)),
            }
        })
    }

    /// The directory must still be there (a read of a missing key cannot tell).
    fn ping(&self) -> BoxFut<'_, Result<(), BlobError>> {
        Box::pin(async move {
            let dir_error = |source| BlobError::Dir {
                path: self.root.clone(),
                source,
            };
            match tokio::fs::metadata(&self.root).await {
                Ok(m) if m.is_dir() => Ok(()),
                Ok(_) => Err(dir_error(std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    "not a directory",
                ))),
                Err(e) => Err(dir_error(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::crate_key;

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
