//! Checks on an uploaded `.crate` (gzip + tar): paths, entry types, the one `Cargo.toml`, its name and
//! version, no `[patch]`, and a decompression limit. The registry runs them on every upload and a
//! client's dry-run runs the same code on its archives. Pure and synchronous (CPU-bound: a server
//! runs it off its async runtime).

use std::io::{self, Read};

use flate2::read::GzDecoder;

/// A manifest larger than this is not a real Cargo.toml.
const MAX_MANIFEST_SIZE: u64 = 10 * 1024 * 1024;
/// crates.io's floor for the decompressed size of a `.crate` (512 MiB).
pub const MIN_UNPACKED_LIMIT: u64 = 512 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarballError {
    #[error("uploaded tarball is malformed or too large when decompressed")]
    TooLargeOrMalformed,
    #[error("uploaded tarball is malformed")]
    Malformed,
    #[error("invalid path found: {0}")]
    InvalidPath(String),
    #[error("unexpected tar entry type `{kind}` found: {path}")]
    UnexpectedEntryType { kind: String, path: String },
    #[error("uploaded tarball is missing a `Cargo.toml` manifest file")]
    MissingManifest,
    #[error("uploaded tarball contains more than one `Cargo.toml` manifest file")]
    MultipleManifests,
    #[error("uploaded tarball contains an incorrectly cased `Cargo.toml` manifest file: {0}")]
    IncorrectlyCasedManifest(String),
    #[error("failed to parse `Cargo.toml` manifest file\n\n{0}")]
    InvalidManifest(String),
    #[error("crates cannot be published with `[patch]` tables")]
    Patch,
    #[error("failed to parse `Cargo.toml` manifest file\n\nvalue from workspace hasn't been set")]
    Workspace,
    #[error("metadata name `{0}` does not match manifest name `{1}`")]
    NameMismatch(String, String),
    #[error("metadata version `{0}` does not match manifest version `{1}`")]
    VersionMismatch(String, String),
}

/// Counts decompressed bytes and fails once the limit is crossed.
struct Limited<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(io::Error::other("decompression limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Validates a `.crate` for `name`@`vers` (both as given in the metadata).
pub fn verify(
    tarball: &[u8],
    name: &str,
    vers: &str,
    max_unpacked: u64,
) -> Result<(), TarballError> {
    if !tarball.starts_with(&[0x1f, 0x8b]) {
        return Err(TarballError::TooLargeOrMalformed);
    }
    let prefix = format!("{name}-{vers}/");
    let mut reader = Limited {
        inner: GzDecoder::new(tarball),
        left: max_unpacked,
        exceeded: false,
    };
    let mut manifest: Option<String> = None;
    let result = (|| {
        let mut archive = tar::Archive::new(&mut reader);
        let entries = archive.entries().map_err(|_| TarballError::Malformed)?;
        for entry in entries {
            let mut entry = entry.map_err(|_| TarballError::Malformed)?;
            let raw = entry.path_bytes();
            let path = String::from_utf8_lossy(&raw).into_owned();
            let Some(rel) = path.strip_prefix(&prefix) else {
                return Err(TarballError::InvalidPath(path));
            };
            if rel.split(['/', '\\']).any(|c| c == "..") || rel.starts_with('/') {
                return Err(TarballError::InvalidPath(path));
            }
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_dir()) {
                return Err(TarballError::UnexpectedEntryType {
                    kind: format!("{kind:?}"),
                    path,
                });
            }
            if kind.is_file() && rel.eq_ignore_ascii_case("cargo.toml") {
                if manifest.is_some() {
                    return Err(TarballError::MultipleManifests);
                }
                if rel != "Cargo.toml" && rel != "cargo.toml" {
                    return Err(TarballError::IncorrectlyCasedManifest(path));
                }
                let mut text = String::new();
                entry
                    .by_ref()
                    .take(MAX_MANIFEST_SIZE)
                    .read_to_string(&mut text)
                    .map_err(|_| TarballError::InvalidManifest("manifest is not UTF-8".into()))?;
                manifest = Some(text);
            }
        }
        Ok(())
    })();
    if reader.exceeded {
        return Err(TarballError::TooLargeOrMalformed);
    }
    result?;
    let manifest = manifest.ok_or(TarballError::MissingManifest)?;
    check_manifest(&manifest, name, vers)
}

fn check_manifest(text: &str, name: &str, vers: &str) -> Result<(), TarballError> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| TarballError::InvalidManifest(e.to_string()))?;
    if table.contains_key("patch") {
        return Err(TarballError::Patch);
    }
    let package = table
        .get("package")
        .and_then(|p| p.as_table())
        .ok_or_else(|| TarballError::InvalidManifest("missing field `package`".into()))?;
    let field = |key: &str| match package.get(key) {
        Some(toml::Value::String(s)) => Ok(s.clone()),
        Some(toml::Value::Table(_)) => Err(TarballError::Workspace),
        _ => Err(TarballError::InvalidManifest(format!(
            "missing field `{key}`"
        ))),
    };
    let (m_name, m_vers) = (field("name")?, field("version")?);
    if m_name != name {
        return Err(TarballError::NameMismatch(name.to_owned(), m_name));
    }
    if m_vers != vers {
        return Err(TarballError::VersionMismatch(vers.to_owned(), m_vers));
    }
    Ok(())
}
