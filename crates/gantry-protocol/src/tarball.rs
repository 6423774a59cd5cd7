//! Checks on an uploaded `.crate` (gzip + tar): paths, entry types, the one `Cargo.toml`, its name and
//! version, no `[patch]`, PAX sizes that agree with the headers, and limits on the decompressed size
//! and the number of entries. The registry runs them on every upload and a
//! client's dry-run runs the same code on its archives. Pure and synchronous (CPU-bound: a server
//! runs it off its async runtime).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{self, Read};

use flate2::read::GzDecoder;

/// The largest `Cargo.toml` accepted (10 MiB); a larger one is refused, never read in part.
pub const MAX_MANIFEST_SIZE: u64 = 10 * 1024 * 1024;
/// crates.io's floor for the decompressed size of a `.crate` (512 MiB).
pub const MIN_UNPACKED_LIMIT: u64 = 512 * 1024 * 1024;
/// The entry limit [`verify`] applies. crates.io sets none by default (`MAX_TARBALL_ENTRIES`);
/// Gantry's registry bounds it so that the per-upload record of paths stays small. The largest
/// crates on crates.io hold a few ten thousand files.
pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;

/// How much a `.crate` may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarballLimits {
    /// Decompressed bytes.
    pub max_unpacked: u64,
    /// Entries of any kind; `None`: unlimited.
    pub max_entries: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarballError {
    #[error("uploaded tarball is malformed or too large when decompressed")]
    TooLargeOrMalformed,
    #[error("uploaded tarball is malformed")]
    Malformed,
    #[error("invalid path found: {0}")]
    InvalidPath(String),
    #[error(
        "unexpected tar entry type `{kind}` found: {path}\n\nOnly regular files and directories may \
         be published: cargo 1.96 and later refuse to unpack a crate holding anything else \
         (CVE-2026-5223). Replace the link with the file it points to."
    )]
    UnexpectedEntryType { kind: String, path: String },
    #[error("uploaded tarball contains more than {0} entries")]
    TooManyEntries(u64),
    /// Two entries that an unpacker writes to the same place (`a/b`, `a/./b`, `a//b`, `a/b/`):
    /// the later one would silently replace what was checked.
    #[error(
        "uploaded tarball contains more than one entry for `{path}`: `{earlier}` and `{later}`"
    )]
    DuplicateEntry {
        path: String,
        earlier: String,
        later: String,
    },
    #[error("uploaded tarball is missing a `Cargo.toml` manifest file")]
    MissingManifest,
    #[error("uploaded tarball contains more than one `Cargo.toml` manifest file: {0}, {1}")]
    MultipleManifests(String, String),
    #[error("uploaded tarball contains an incorrectly cased `Cargo.toml` manifest file: {0}")]
    IncorrectlyCasedManifest(String),
    /// A directory spelled like the manifest (`cargo.toml/` beside `Cargo.toml`): on a
    /// case-insensitive file system it collides with the manifest, so what unpacks is not what was
    /// checked.
    #[error("uploaded tarball contains a directory named like the `Cargo.toml` manifest file: {0}")]
    ManifestNamedDirectory(String),
    #[error(
        "the `Cargo.toml` manifest file {path} is larger than the limit of {MAX_MANIFEST_SIZE} bytes"
    )]
    ManifestTooLarge { path: String },
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

/// Validates a `.crate` for `name`@`vers` (both as given in the metadata), with at most
/// [`DEFAULT_MAX_ENTRIES`] entries.
pub fn verify(
    tarball: &[u8],
    name: &str,
    vers: &str,
    max_unpacked: u64,
) -> Result<(), TarballError> {
    let limits = TarballLimits {
        max_unpacked,
        max_entries: Some(DEFAULT_MAX_ENTRIES),
    };
    verify_with(tarball, name, vers, &limits)
}

/// [`verify`] with explicit limits.
pub fn verify_with(
    tarball: &[u8],
    name: &str,
    vers: &str,
    limits: &TarballLimits,
) -> Result<(), TarballError> {
    if !tarball.starts_with(&[0x1f, 0x8b]) {
        return Err(TarballError::TooLargeOrMalformed);
    }
    let mut reader = Limited {
        inner: GzDecoder::new(tarball),
        left: limits.max_unpacked,
        exceeded: false,
    };
    let result = find_manifest(&mut reader, &format!("{name}-{vers}"), limits.max_entries);
    if reader.exceeded {
        return Err(TarballError::TooLargeOrMalformed);
    }
    let manifest = result?.ok_or(TarballError::MissingManifest)?;
    check_manifest(&manifest, name, vers)
}

/// Walks the archive, checking every entry's path and type, and returns the text of the one
/// `Cargo.toml` at the package root (if any).
fn find_manifest(
    reader: impl Read,
    root: &str,
    max_entries: Option<u64>,
) -> Result<Option<String>, TarballError> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|_| TarballError::Malformed)?;
    // Normalised path → the path as written, to name both sides of a duplicate.
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut manifest: Option<(String, String)> = None;
    for (count, entry) in (1u64..).zip(entries) {
        if let Some(max) = max_entries
            && count > max
        {
            return Err(TarballError::TooManyEntries(max));
        }
        let mut entry = entry.map_err(|_| TarballError::Malformed)?;
        check_pax_size(&mut entry)?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        let rel = match package_relative(&path, root) {
            // A file cannot be the package directory itself.
            Some(rel) if !(rel.is_empty() && kind.is_file()) => rel,
            _ => return Err(TarballError::InvalidPath(path)),
        };
        if !(kind.is_file() || kind.is_dir()) {
            return Err(TarballError::UnexpectedEntryType {
                kind: format!("{kind:?}"),
                path,
            });
        }
        match seen.entry(rel) {
            Entry::Occupied(e) => {
                return Err(TarballError::DuplicateEntry {
                    path: format!("{root}/{}", e.key()),
                    earlier: e.get().clone(),
                    later: path,
                });
            }
            Entry::Vacant(e) => {
                let rel = e.key().clone();
                e.insert(path.clone());
                if !rel.eq_ignore_ascii_case("cargo.toml") {
                    continue;
                }
                if !kind.is_file() {
                    return Err(TarballError::ManifestNamedDirectory(path));
                }
                // Case-insensitively, so that no file system can end up with another manifest
                // than the one checked here.
                if let Some((earlier, _)) = manifest {
                    return Err(TarballError::MultipleManifests(earlier, path));
                }
                if rel != "Cargo.toml" && rel != "cargo.toml" {
                    return Err(TarballError::IncorrectlyCasedManifest(path));
                }
                let text = read_manifest(&mut entry, &path)?;
                manifest = Some((path, text));
            }
        }
    }
    Ok(manifest.map(|(_, text)| text))
}

/// A PAX `size` record must agree with the size in the entry's own header. Unpackers disagree on
/// which of the two wins (the tar crate takes the PAX one; others take the header), so a mismatch
/// lets one archive show different contents to different tools: the registry would check one
/// file list and a user could unpack another.
fn check_pax_size<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<(), TarballError> {
    let header_size = entry
        .header()
        .entry_size()
        .map_err(|_| TarballError::Malformed)?;
    let Some(extensions) = entry
        .pax_extensions()
        .map_err(|_| TarballError::Malformed)?
    else {
        return Ok(());
    };
    for ext in extensions {
        let ext = ext.map_err(|_| TarballError::Malformed)?;
        if ext.key_bytes() == b"size" {
            let pax_size = std::str::from_utf8(ext.value_bytes())
                .ok()
                .and_then(|v| v.parse::<u64>().ok());
            if pax_size != Some(header_size) {
                return Err(TarballError::Malformed);
            }
        }
    }
    Ok(())
}

/// The part of an entry path below `root/`, normalised the way an unpacker resolves it: empty and
/// `.` components dropped, so `a/b`, `a//b`, `a/./b` and `a/b/` are all `a/b`. `None` when the path
/// does not start with `root/` (absolute, `./`-prefixed or another directory) or contains `..`.
fn package_relative(path: &str, root: &str) -> Option<String> {
    let mut components = path.split('/');
    if components.next() != Some(root) {
        return None;
    }
    let mut rel: Vec<&str> = Vec::new();
    for c in components {
        match c {
            "" | "." => {}
            // A backslash separates components for unpackers on Windows.
            c if c.split('\\').any(|part| part == "..") => return None,
            c => rel.push(c),
        }
    }
    Some(rel.join("/"))
}

/// Reads a manifest whole; one over [`MAX_MANIFEST_SIZE`] is refused rather than checked in part.
fn read_manifest<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    path: &str,
) -> Result<String, TarballError> {
    // The entry's size (from its header, or a PAX record) bounds what it yields.
    let size = entry.size();
    if size > MAX_MANIFEST_SIZE {
        return Err(TarballError::ManifestTooLarge {
            path: path.to_owned(),
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|_| TarballError::Malformed)?;
    String::from_utf8(bytes)
        .map_err(|_| TarballError::InvalidManifest("manifest is not UTF-8".into()))
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

    use super::*;

    const MANIFEST: &[u8] = b"[package]\nname = \"x\"\nversion = \"0.1.0\"\n";

    /// A `.crate` whose entries keep their paths byte for byte (the tar crate's own path setter
    /// would normalise `./` away). `(path, kind, data)`.
    fn crate_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(*kind);
            h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    fn files(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let e: Vec<_> = entries
            .iter()
            .map(|(p, d)| (*p, tar::EntryType::Regular, *d))
            .collect();
        crate_of(&e)
    }

    fn check(tarball: &[u8]) -> Result<(), TarballError> {
        verify(tarball, "x", "0.1.0", MIN_UNPACKED_LIMIT)
    }

    #[test]
    fn paths_are_normalised_before_they_are_compared() {
        assert_eq!(check(&files(&[("x-0.1.0/Cargo.toml", MANIFEST)])), Ok(()));
        assert_eq!(check(&files(&[("x-0.1.0/./Cargo.toml", MANIFEST)])), Ok(()));
        for second in [
            "x-0.1.0/./Cargo.toml",
            "x-0.1.0/Cargo.toml/",
            "x-0.1.0//Cargo.toml",
            "x-0.1.0/./Cargo.toml/.",
        ] {
            let t = files(&[("x-0.1.0/Cargo.toml", MANIFEST), (second, b"[patch]")]);
            assert_eq!(
                check(&t),
                Err(TarballError::DuplicateEntry {
                    path: "x-0.1.0/Cargo.toml".into(),
                    earlier: "x-0.1.0/Cargo.toml".into(),
                    later: second.into(),
                }),
                "{second}"
            );
        }
        // Any file, and a directory over a file, count as well.
        let t = files(&[
            ("x-0.1.0/Cargo.toml", MANIFEST),
            ("x-0.1.0/src/lib.rs", b""),
            ("x-0.1.0/src//lib.rs", b"evil"),
        ]);
        assert!(matches!(
            check(&t),
            Err(TarballError::DuplicateEntry { .. })
        ));
        let t = crate_of(&[
            ("x-0.1.0/Cargo.toml", tar::EntryType::Regular, MANIFEST),
            ("x-0.1.0/Cargo.toml/", tar::EntryType::Directory, b""),
        ]);
        assert!(matches!(
            check(&t),
            Err(TarballError::DuplicateEntry { .. })
        ));
    }

    #[test]
    fn a_directory_spelled_like_the_manifest_is_refused() {
        // Found by the property test: beside `Cargo.toml`, a `cargo.toml/` directory would take
        // the manifest's place on a case-insensitive file system.
        let t = crate_of(&[
            ("x-0.1.0/Cargo.toml", tar::EntryType::Regular, MANIFEST),
            ("x-0.1.0/cargo.toml", tar::EntryType::Directory, b""),
        ]);
        assert_eq!(
            check(&t),
            Err(TarballError::ManifestNamedDirectory(
                "x-0.1.0/cargo.toml".into()
            ))
        );
    }

    #[test]
    fn manifests_differing_only_by_case_are_refused() {
        let t = files(&[
            ("x-0.1.0/Cargo.toml", MANIFEST),
            ("x-0.1.0/./CARGO.TOML", MANIFEST),
        ]);
        let e = check(&t).unwrap_err();
        assert_eq!(
            e.to_string(),
            "uploaded tarball contains more than one `Cargo.toml` manifest file: \
             x-0.1.0/Cargo.toml, x-0.1.0/./CARGO.TOML"
        );
        let t = files(&[("x-0.1.0//CARGO.toml", MANIFEST)]);
        assert_eq!(
            check(&t),
            Err(TarballError::IncorrectlyCasedManifest(
                "x-0.1.0//CARGO.toml".into()
            ))
        );
        // Only the root's manifest is the package's.
        let t = files(&[
            ("x-0.1.0/Cargo.toml", MANIFEST),
            ("x-0.1.0/sub/Cargo.toml", b"not toml ["),
        ]);
        assert_eq!(check(&t), Ok(()));
    }

    #[test]
    fn paths_outside_the_package_directory_are_refused() {
        for bad in [
            "./x-0.1.0/Cargo.toml",
            "/x-0.1.0/Cargo.toml",
            "x-0.1.0/../x-0.1.0/Cargo.toml",
            "x-0.1.0/a\\..\\b",
            "x-0.1.00/Cargo.toml",
            "x-0.1.0",
            "x-0.1.0/.",
        ] {
            let t = files(&[("x-0.1.0/Cargo.toml", MANIFEST), (bad, b"")]);
            assert_eq!(
                check(&t),
                Err(TarballError::InvalidPath(bad.into())),
                "{bad}"
            );
        }
        // The package directory itself, as a directory entry, is fine.
        let t = crate_of(&[
            ("x-0.1.0/", tar::EntryType::Directory, b""),
            ("x-0.1.0/Cargo.toml", tar::EntryType::Regular, MANIFEST),
        ]);
        assert_eq!(check(&t), Ok(()));
    }

    #[test]
    fn entry_count_is_limited() {
        let many: Vec<(String, &[u8])> = (0..5)
            .map(|i| (format!("x-0.1.0/src/f{i}.rs"), &b""[..]))
            .chain([("x-0.1.0/Cargo.toml".to_owned(), MANIFEST)])
            .collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(p, d)| (p.as_str(), *d)).collect();
        let t = files(&refs);
        let limits = |max| TarballLimits {
            max_unpacked: MIN_UNPACKED_LIMIT,
            max_entries: Some(max),
        };
        assert_eq!(verify_with(&t, "x", "0.1.0", &limits(6)), Ok(()));
        let e = verify_with(&t, "x", "0.1.0", &limits(5)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "uploaded tarball contains more than 5 entries"
        );
        let unlimited = TarballLimits {
            max_unpacked: MIN_UNPACKED_LIMIT,
            max_entries: None,
        };
        assert_eq!(verify_with(&t, "x", "0.1.0", &unlimited), Ok(()));
    }

    /// A `.crate` whose `src/lib.rs` carries a PAX `size` record.
    fn with_pax_size(pax: &[u8], real: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(MANIFEST.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "x-0.1.0/Cargo.toml", MANIFEST)
            .unwrap();
        b.append_pax_extensions([("size", pax)]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(real.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "x-0.1.0/src/lib.rs", real).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn pax_sizes_must_match_the_header() {
        assert_eq!(check(&with_pax_size(b"3", b"abc")), Ok(()));
        for pax in [&b"700"[..], b"0", b"x", b""] {
            assert_eq!(
                check(&with_pax_size(pax, b"abc")),
                Err(TarballError::Malformed),
                "{pax:?}"
            );
        }
    }

    #[test]
    fn symlinks_are_refused_with_the_reason() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(MANIFEST.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "x-0.1.0/Cargo.toml", MANIFEST)
            .unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "x-0.1.0/src/lib.rs", "/etc/passwd")
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        let e = check(&gz.finish().unwrap()).unwrap_err().to_string();
        assert!(
            e.starts_with("unexpected tar entry type `Symlink` found: x-0.1.0/src/lib.rs\n"),
            "{e}"
        );
        assert!(e.contains("CVE-2026-5223"), "{e}");
    }

    #[test]
    fn oversized_manifests_are_refused_not_truncated() {
        // Valid TOML within the limit, `[patch]` after it: reading a prefix would accept it.
        let mut m = MANIFEST.to_vec();
        m.push(b'#');
        m.resize(MAX_MANIFEST_SIZE as usize, b' ');
        m.extend_from_slice(b"\n[patch.crates-io]\n");
        let e = check(&files(&[("x-0.1.0/Cargo.toml", &m)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the `Cargo.toml` manifest file x-0.1.0/Cargo.toml is larger than the limit of \
             10485760 bytes"
        );
        // Exactly at the limit is read whole.
        m.truncate(MAX_MANIFEST_SIZE as usize);
        assert_eq!(check(&files(&[("x-0.1.0/Cargo.toml", &m)])), Ok(()));
    }
}
