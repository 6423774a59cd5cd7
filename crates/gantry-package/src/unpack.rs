//! Unpacking a `.crate` we just wrote (for the overlay and for verification). Even though the
//! archive is ours, every path is checked to stay inside `<dest>/<name>-<version>/`.

use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("failed to unpack `{}` into `{}`", archive.display(), dest.display())]
    Io {
        archive: PathBuf,
        dest: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid path `{path}` in `{}`: entries must stay under `{prefix}/`", archive.display())]
    BadPath {
        archive: PathBuf,
        path: String,
        prefix: String,
    },
}

/// Unpacks `archive` into `dest/<name>-<version>/` (removed first) and returns that directory.
pub(crate) fn unpack_crate(
    archive: &Path,
    dest: &Path,
    name: &str,
    version: &str,
) -> Result<PathBuf, UnpackError> {
    let prefix = format!("{name}-{version}");
    let dir = dest.join(&prefix);
    let io_err = |source| UnpackError::Io {
        archive: archive.to_owned(),
        dest: dir.clone(),
        source,
    };
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io_err)?;
    }
    fs::create_dir_all(&dir).map_err(io_err)?;
    let file = File::open(archive).map_err(io_err)?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    // Fresh mtimes, as cargo unpacks: the archive's fixed 2006 timestamps would make cargo treat a
    // previous build of the same path as up to date and skip verifying the new sources.
    tar.set_preserve_mtime(false);
    for entry in tar.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let path = entry.path().map_err(io_err)?.into_owned();
        let bad = || UnpackError::BadPath {
            archive: archive.to_owned(),
            path: path.display().to_string(),
            prefix: prefix.clone(),
        };
        let rel = path.strip_prefix(&prefix).map_err(|_| bad())?;
        if rel.components().any(|c| !matches!(c, Component::Normal(_)))
            || rel.as_os_str().is_empty()
        {
            return Err(bad());
        }
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_err)?;
        }
        entry.unpack(&target).map_err(io_err)?;
    }
    Ok(dir)
}
