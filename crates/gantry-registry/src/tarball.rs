//! Checks on the uploaded `.crate` (gzip + tar): paths, entry types, the one `Cargo.toml`, its name and
//! version, no `[patch]`, and a decompression limit. Pure and synchronous; run it off the async runtime.

use std::io::{self, Read};

use flate2::read::GzDecoder;

/// A manifest larger than this is not a real Cargo.toml.
const MAX_MANIFEST_SIZE: u64 = 10 * 1024 * 1024;

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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rand::Rng;

    use super::*;

    fn valid() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let m = b"[package]\nname = \"x\"\nversion = \"1.0.0\"\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(m.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "x-1.0.0/Cargo.toml", &m[..]).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn accepts_valid() {
        assert_eq!(verify(&valid(), "x", "1.0.0", 1 << 20), Ok(()));
    }

    /// Random corruption never panics; it is accepted or refused.
    #[test]
    fn mutations_never_panic() {
        let base = valid();
        let mut rng = rand::rng();
        for _ in 0..3000 {
            let mut t = base.clone();
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..t.len());
                t[i] = rng.random();
            }
            if rng.random_bool(0.2) {
                t.truncate(rng.random_range(0..t.len()));
            }
            let _ = verify(&t, "x", "1.0.0", 1 << 20);
        }
    }
}
