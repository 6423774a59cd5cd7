//! The `.crate` byte stream: a GNU tar of the entry list, gzip'd at level 9 with zlib-rs, laid out
//! exactly as cargo 1.95 does (spec §4.4–4.5). Every header field here is load-bearing for the
//! sha256: generated entries keep all-NUL uid/gid/dev fields while on-disk entries get `0000000\0`,
//! because that is what the tar crate produces for the two header constructions cargo uses.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use tar::{Builder, EntryType, Header, HeaderMode};

/// tar-rs' "deterministic" mtime, which cargo also sets on generated entries.
pub(crate) const DETERMINISTIC_MTIME: u64 = 1153704088;

/// Where the bytes of one archive entry come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    /// A file on disk, read at archive time (symlinks are followed).
    OnDisk(PathBuf),
    /// A file Gantry generated (normalised `Cargo.toml`, `Cargo.lock`, `.cargo_vcs_info.json`).
    Generated(Vec<u8>),
}

/// One file in the archive, at `<name>-<version>/<rel>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Package-relative path with `/` separators.
    pub rel: String,
    pub source: EntrySource,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to open for archiving: `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not archive source file `{}`", path.display())]
    Archive {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not write the archive for `{rel}`")]
    Generated {
        rel: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What was written: the uncompressed content size (the `Packaged … X` figure: file contents only,
/// no tar headers) and the compressed archive size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveStats {
    pub files: usize,
    pub uncompressed: u64,
    pub compressed: u64,
}

/// Writes the `.crate` for `name`/`version` to `out` (any writer; usually a fresh file).
///
/// `on_entry` is called with each entry's relative path just before it is written (for the verbose
/// `Archiving` status line).
pub(crate) fn write_crate<W: Write>(
    out: W,
    name: &str,
    version: &str,
    entries: &[ArchiveEntry],
    on_entry: &mut dyn FnMut(&str),
) -> Result<(W, ArchiveStats), ArchiveError> {
    let base = format!("{name}-{version}");
    let gz = GzBuilder::new()
        .filename(format!("{base}.crate"))
        .write(CountingWriter::new(out), Compression::best());
    let mut tar = Builder::new(gz);
    tar.sparse(false);
    let mut uncompressed = 0u64;
    for entry in entries {
        on_entry(&entry.rel);
        let path = format!("{base}/{}", entry.rel);
        match &entry.source {
            EntrySource::OnDisk(disk) => {
                uncompressed += append_disk_file(&mut tar, &path, disk)?;
            }
            EntrySource::Generated(bytes) => {
                let mut header = Header::new_gnu();
                header.set_entry_type(EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                header.set_mtime(DETERMINISTIC_MTIME);
                tar.append_data(&mut header, &path, bytes.as_slice())
                    .map_err(|source| ArchiveError::Generated {
                        rel: entry.rel.clone(),
                        source,
                    })?;
                uncompressed += bytes.len() as u64;
            }
        }
    }
    let finish = |source| ArchiveError::Generated {
        rel: String::from("<end of archive>"),
        source,
    };
    let gz = tar.into_inner().map_err(finish)?;
    let counting = gz.finish().map_err(finish)?;
    let compressed = counting.count;
    Ok((
        counting.inner,
        ArchiveStats {
            files: entries.len(),
            uncompressed,
            compressed,
        },
    ))
}

fn append_disk_file<W: Write>(
    tar: &mut Builder<W>,
    path: &str,
    disk: &Path,
) -> Result<u64, ArchiveError> {
    let open_err = |source| ArchiveError::Open {
        path: disk.to_owned(),
        source,
    };
    let mut file = File::open(disk).map_err(open_err)?;
    let metadata = file.metadata().map_err(open_err)?;
    let mut header = Header::new_gnu();
    header.set_metadata_in_mode(&metadata, HeaderMode::Deterministic);
    // The header's size must match the bytes we stream; a file growing under us would corrupt the
    // archive, so stream exactly `len` bytes and fail if the file is shorter.
    let len = metadata.len();
    header.set_size(len);
    let archive_err = |source| ArchiveError::Archive {
        path: disk.to_owned(),
        source,
    };
    let mut limited = ExactReader {
        inner: (&mut file).take(len),
        remaining: len,
    };
    tar.append_data(&mut header, path, &mut limited)
        .map_err(archive_err)?;
    Ok(len)
}

/// Fails with `UnexpectedEof` if the file shrank between `stat` and read.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file changed size while it was being archived",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W> CountingWriter<W> {
    fn new(inner: W) -> Self {
        CountingWriter { inner, count: 0 }
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The order of entries in cargo's archives: by path components, so `a/b` comes before `a-b/c`
/// (a plain string order would put `-` before `/`).
pub(crate) fn cargo_path_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(rel: &str, text: &str) -> ArchiveEntry {
        ArchiveEntry {
            rel: rel.into(),
            source: EntrySource::Generated(text.as_bytes().to_vec()),
        }
    }

    #[test]
    fn component_order_differs_from_string_order() {
        let mut entries = [
            generated("a-b/c", ""),
            generated("a/b", ""),
            generated("a.rs", ""),
        ];
        entries.sort_by(|a, b| cargo_path_order(&a.rel, &b.rel));
        let order: Vec<_> = entries.iter().map(|e| e.rel.as_str()).collect();
        assert_eq!(order, ["a/b", "a-b/c", "a.rs"]);
    }

    #[test]
    fn gzip_header_and_generated_tar_header_bytes() {
        let entries = vec![generated("Cargo.toml", "[package]\n")];
        let (bytes, stats) =
            write_crate(Vec::new(), "foo", "0.1.0", &entries, &mut |_| {}).unwrap();
        assert_eq!(&bytes[..10], &[0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 2, 0xff]);
        assert_eq!(&bytes[10..26], b"foo-0.1.0.crate\0");
        assert_eq!(
            stats,
            ArchiveStats {
                files: 1,
                uncompressed: 10,
                compressed: bytes.len() as u64
            }
        );

        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(
            tar.len(),
            512 * 4,
            "header, one data block, two zero blocks"
        );
        let h = &tar[..512];
        assert_eq!(&h[..20], b"foo-0.1.0/Cargo.toml");
        assert_eq!(&h[100..108], b"0000644\0");
        assert_eq!(
            &h[108..124],
            &[0u8; 16],
            "generated entries keep NUL uid/gid"
        );
        assert_eq!(&h[124..136], b"00000000012\0");
        assert_eq!(&h[136..148], b"10461020230\0");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar  \0");
        assert!(tar[1024..].iter().all(|&b| b == 0));
    }

    #[test]
    fn long_paths_get_a_gnu_longlink_entry() {
        let rel = format!("src/{}.rs", "x".repeat(120));
        let entries = vec![generated(&rel, "")];
        let (bytes, _) = write_crate(Vec::new(), "foo", "0.1.0", &entries, &mut |_| {}).unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(&tar[..13], b"././@LongLink");
        assert_eq!(tar[156], b'L');
        assert_eq!(&tar[136..148], b"00000000000\0", "LongLink mtime is zero");
        let full = format!("foo-0.1.0/{rel}");
        assert_eq!(&tar[512..512 + full.len()], full.as_bytes());
        assert_eq!(tar[512 + full.len()], 0);
        assert_eq!(&tar[1024..1124], &full.as_bytes()[..100]);
    }

    #[test]
    fn disk_files_are_deterministic_and_keep_only_the_owner_exec_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        let entries = vec![ArchiveEntry {
            rel: "run.sh".into(),
            source: EntrySource::OnDisk(script),
        }];
        let (bytes, _) = write_crate(Vec::new(), "foo", "0.1.0", &entries, &mut |_| {}).unwrap();
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(&tar[100..108], b"0000755\0");
        assert_eq!(
            &tar[108..124],
            b"0000000\x000000000\x00",
            "on-disk entries get zero octal uid/gid"
        );
        assert_eq!(&tar[136..148], b"10461020230\0");
    }

    /// Pseudo-random Rust-ish text; seed 1 at 100 kB is an input on which zlib-rs 0.6.8 deflates
    /// differently from 0.6.0, the version cargo 1.95 ships.
    fn varied_text(seed: u64, len: usize) -> String {
        const WORDS: &[&str] = &[
            "fn",
            "let",
            "mut",
            "impl",
            "struct",
            "enum",
            "match",
            "self",
            "return",
            "where",
            "pub",
            "use",
            "crate",
            "mod",
            "const",
            "static",
            "trait",
            "for",
            "while",
            "loop",
            "if",
            "else",
            "Some",
            "None",
            "Ok",
            "Err",
            "Vec",
            "String",
            "usize",
            "u64",
            "&str",
            "=>",
            "{",
            "}",
            "(",
            ")",
            ";",
            "::",
            "0",
            "42",
            "0x1f",
            "// note",
            "/// docs",
            "#[derive(Debug)]",
        ];
        let mut state = seed;
        let mut next = |n: u64| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        };
        let (mut text, mut col) = (String::new(), 0);
        while text.len() < len {
            let w = WORDS[next(WORDS.len() as u64) as usize];
            text.push_str(w);
            col += w.len() + 1;
            if col > 80 {
                text.push('\n');
                col = 0;
            } else {
                text.push(' ');
            }
        }
        text
    }

    #[test]
    fn deflate_backend_is_the_one_cargo_ships() {
        use sha2::{Digest, Sha256};
        let input = varied_text(1, 100_000);
        assert_eq!(
            hex::encode(Sha256::digest(input.as_bytes())),
            "bf4f7ca97025f49f0176c419701593e04d98b9ff45d29684ce7097cc0da5fff2"
        );
        let mut gz = GzBuilder::new()
            .filename("x.crate")
            .write(Vec::new(), Compression::best());
        gz.write_all(input.as_bytes()).unwrap();
        let out = gz.finish().unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&out)),
            "e121194b9e38169428eda1f60be884d8544b0e73031317c48b0b40a263092e72",
            "the deflate backend changed: cargo 1.95's .crate bytes need zlib-rs 0.6.0 (see Cargo.toml)"
        );
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let entries = vec![ArchiveEntry {
            rel: "gone.rs".into(),
            source: EntrySource::OnDisk(PathBuf::from("/nonexistent/gone.rs")),
        }];
        let err = write_crate(Vec::new(), "foo", "0.1.0", &entries, &mut |_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to open for archiving: `/nonexistent/gone.rs`"
        );
    }
}
