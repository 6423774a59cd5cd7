//! [`BlobStore`] in a local directory, durable across power loss.
//!
//! A `.crate` is written to a temp file in its final directory, `fsync`ed, renamed into place, and
//! the directory is `fsync`ed; only then does the put return, and only then may the publish commit
//! its version row. Without the two `fsync`s a power cut after the (fully synced) SQLite commit
//! could leave a visible version whose file is empty or missing. Temp files are hidden
//! (`.NAME.tmp.RANDOM`) and never listed; a crash leaves them behind, and [`LocalBlobStore::new`]
//! removes those old enough that no live write can own them.
//!
//! Keys map to paths below the root unchanged (`crates/ab/<sha256>.crate`), the layout earlier
//! versions wrote through `object_store`. Downloads read the opened file in chunks
//! ([`BlobStore::open`]), never the whole file at once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::task::Poll;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use rand::Rng;
use tokio::io::AsyncRead;

use super::{BlobError, BlobMeta, BlobReader, BlobStore, BoxFut, CRATES_PREFIX, Stored};

/// A temp file older than this cannot belong to a write still running (a publish is bounded by the
/// request timeout); start-up and `gc` remove such files.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(15 * 60);

const TEMP_MARK: &str = ".tmp.";

/// Bytes read from a blob file per streamed chunk.
const READ_CHUNK: usize = 64 * 1024;

pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Uses `root`, creating it if missing, and removes stale temp files an interrupted write left.
    pub fn new(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root).map_err(|source| BlobError::Dir {
            path: root.to_owned(),
            source,
        })?;
        let store = LocalBlobStore {
            root: root.to_owned(),
        };
        let removed = store.remove_stale_temp_files(STALE_TEMP_AGE)?;
        if removed > 0 {
            tracing::info!(removed, root = %root.display(), "removed temp files of interrupted blob writes");
        }
        Ok(store)
    }

    fn io_error(&self, what: &str, key: &str, source: std::io::Error) -> BlobError {
        BlobError::Io {
            context: format!("{what} `{key}` in {}", self.root.display()),
            source,
        }
    }

    /// The file of `key`; keys are ours (`crates/…`), but never let one leave the root.
    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        let bad = key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == ".." || c.starts_with('.'));
        if bad {
            return Err(self.io_error(
                "refusing",
                key,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a blob key"),
            ));
        }
        Ok(self.root.join(key))
    }

    /// Removes temp files (ours, and `object_store`'s `NAME#N` staging files from earlier versions)
    /// older than `age`; returns how many.
    pub fn remove_stale_temp_files(&self, age: Duration) -> Result<usize, BlobError> {
        let dir_error = |source| BlobError::Dir {
            path: self.root.clone(),
            source,
        };
        let mut removed = 0;
        for file in walk_files(&self.root.join(CRATES_PREFIX)).map_err(dir_error)? {
            let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let is_temp = (name.starts_with('.') && name.contains(TEMP_MARK))
                || name
                    .rsplit_once('#')
                    .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if is_temp && age_of(&file).is_some_and(|a| a >= age) {
                match std::fs::remove_file(&file) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(dir_error(e)),
                }
            }
        }
        Ok(removed)
    }
}

fn age_of(path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default(),
    )
}

/// Every regular file below `dir` (none when `dir` does not exist).
fn walk_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    Ok(out)
}

/// Makes a directory entry change (a created file, a rename) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `dir` and its missing parents below `root`, syncing each parent that gained an entry.
fn create_dirs(root: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(root);
    if parent != root {
        create_dirs(root, parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        // Another writer created it; it synced the parent.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The durable write: temp file, `fsync`, rename, directory `fsync`.
fn write_durably(root: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<Stored> {
    // Content-addressed: a complete file of this length already holds these bytes. (A shorter one
    // is what a power cut did to a write before writes were synced; it is replaced.)
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64) {
        return Ok(Stored::Existed);
    }
    let dir = path.parent().unwrap_or(root);
    create_dirs(root, dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
    let tmp = dir.join(format!(
        ".{name}{TEMP_MARK}{:016x}",
        rand::rng().random::<u64>()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        // Two writers of one key hold the same bytes, so replacing is harmless.
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)?;
    Ok(Stored::Created)
}

/// An open blob file as a stream of chunks. The file was opened before the stream starts, so a
/// rename over its path (a rewrite of a truncated blob) does not change what is read.
fn file_stream(
    file: tokio::fs::File,
    context: String,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    let mut file = Some(file);
    let mut buf = vec![0u8; READ_CHUNK];
    Box::pin(futures_util::stream::poll_fn(move |cx| {
        let Some(f) = file.as_mut() else {
            return Poll::Ready(None);
        };
        let mut read = tokio::io::ReadBuf::new(&mut buf);
        match std::pin::Pin::new(f).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) if read.filled().is_empty() => {
                file = None;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(read.filled())))),
            Poll::Ready(Err(source)) => {
                file = None;
                Poll::Ready(Some(Err(BlobError::Io {
                    context: context.clone(),
                    source,
                })))
            }
        }
    }))
}

impl BlobStore for LocalBlobStore {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFut<'a, Result<Stored, BlobError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let root = self.root.clone();
            tokio::task::spawn_blocking(move || write_durably(&root, &path, &bytes))
                .await
                .map_err(|e| self.io_error("storing", key, std::io::Error::other(e)))?
                .map_err(|e| self.io_error("storing", key, e))
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>> {
        Box::pin(async move {
            match tokio::fs::read(self.path(key)?).await {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(self.io_error("reading", key, e)),
            }
        })
    }

    fn list_crates(&self) -> BoxFut<'_, Result<Vec<BlobMeta>, BlobError>> {
        Box::pin(async move {
            let root = self.root.clone();
            let files = tokio::task::spawn_blocking(move || {
                walk_files(&root.join(CRATES_PREFIX)).map(|files| {
                    files
                        .into_iter()
                        .filter_map(|p| {
                            let key = p.strip_prefix(&root).ok()?.to_str()?.to_owned();
                            let meta = std::fs::metadata(&p).ok()?;
                            Some(BlobMeta {
                                key,
                                last_modified: meta.modified().ok()?,
                                size: meta.len(),
                            })
                        })
                        .filter(|b| super::is_crate_key(&b.key))
                        .collect::<Vec<_>>()
                })
            })
            .await
            .map_err(|e| self.io_error("listing", CRATES_PREFIX, std::io::Error::other(e)))?;
            files.map_err(|e| self.io_error("listing", CRATES_PREFIX, e))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<(), BlobError>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.io_error("deleting", key, e)),
            }
        })
    }

    fn open<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<BlobReader>, BlobError>> {
        Box::pin(async move {
            let file = match tokio::fs::File::open(self.path(key)?).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(self.io_error("reading", key, e)),
            };
            let size = file
                .metadata()
                .await
                .map_err(|e| self.io_error("reading", key, e))?
                .len();
            let context = format!("reading `{key}` in {}", self.root.display());
            Ok(Some(BlobReader {
                size,
                stream: file_stream(file, context),
            }))
        })
    }

    fn remove_stale_temp(&self, age: Duration) -> BoxFut<'_, Result<usize, BlobError>> {
        Box::pin(async move { self.remove_stale_temp_files(age) })
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
        assert_eq!(
            store.put(&key, b"first".to_vec()).await.unwrap(),
            Stored::Created
        );
        // Same key again is success and leaves the stored bytes alone (content-addressed keys
        // mean a second writer has the same bytes; nothing is ever rewritten).
        assert_eq!(
            store.put(&key, b"other".to_vec()).await.unwrap(),
            Stored::Existed
        );
        assert_eq!(store.get(&key).await.unwrap().unwrap(), b"first");
        assert_eq!(store.get("crates/zz/none.crate").await.unwrap(), None);
        // No temp file is left next to the blob.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("blobs/crates/ab"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["ab12.crate"]);
    }

    #[tokio::test]
    async fn open_streams_the_file_in_chunks() {
        use futures_util::TryStreamExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(&dir.path().join("blobs")).unwrap();
        let key = crate_key("ab34");
        // More than two chunks, not a multiple of the chunk size.
        let bytes: Vec<u8> = (0..READ_CHUNK * 2 + 123).map(|i| (i % 251) as u8).collect();
        store.put(&key, bytes.clone()).await.unwrap();
        let reader = store.open(&key).await.unwrap().unwrap();
        assert_eq!(reader.size, bytes.len() as u64);
        let chunks: Vec<Bytes> = reader.stream.try_collect().await.unwrap();
        assert!(
            chunks
                .iter()
                .all(|c| !c.is_empty() && c.len() <= READ_CHUNK)
        );
        assert_eq!(chunks.concat(), bytes);
        assert!(store.open("crates/zz/none.crate").await.unwrap().is_none());
        assert!(store.open("../outside").await.is_err());
    }

    #[tokio::test]
    async fn a_truncated_blob_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(&dir.path().join("blobs")).unwrap();
        let key = crate_key("cd34");
        std::fs::create_dir_all(dir.path().join("blobs/crates/cd")).unwrap();
        std::fs::write(dir.path().join("blobs").join(&key), b"").unwrap();
        assert_eq!(
            store.put(&key, b"whole".to_vec()).await.unwrap(),
            Stored::Created
        );
        assert_eq!(store.get(&key).await.unwrap().unwrap(), b"whole");
    }

    #[tokio::test]
    async fn stale_temp_files_are_removed_at_start_up_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let sub = root.join("crates/ef");
        std::fs::create_dir_all(&sub).unwrap();
        let old = sub.join(".ef56.crate.tmp.0123456789abcdef");
        let legacy = sub.join("ef56.crate#3");
        let fresh = sub.join(".ef56.crate.tmp.fedcba9876543210");
        for f in [&old, &legacy, &fresh] {
            std::fs::write(f, b"partial").unwrap();
        }
        let long_ago = SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60);
        for f in [&old, &legacy] {
            std::fs::File::options()
                .write(true)
                .open(f)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        let store = LocalBlobStore::new(&root).unwrap();
        assert!(!old.exists() && !legacy.exists());
        assert!(fresh.exists(), "a temp file of a running write must stay");
        assert!(store.list_crates().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(&dir.path().join("blobs")).unwrap();
        for key in ["../x", "/etc/passwd", "crates//x", "crates/.hidden", ""] {
            assert!(store.get(key).await.is_err(), "{key}");
        }
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
