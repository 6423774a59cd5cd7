//! What cargo last fetched of a sparse index, read from its cache under
//! `$CARGO_HOME/registry/index/<dir>/.cache/`: offline, cargo answers index questions from there,
//! and so must anything that stands in for cargo offline. Nothing is written; a cache file cargo
//! 1.95 would not read itself (another cache or index schema version) counts as absent.
//!
//! A cache file is: one byte of cache version (3), the index schema version (2) as a little-endian
//! `u32`, the version of the index file it was made from, and then pairs of a crate version and its
//! index line; every string is followed by a NUL byte.

use std::path::Path;

use gantry_protocol::{IndexEntry, index_path};

use crate::git::index_dir_name;

const CACHE_VERSION: u8 = 3;
const INDEX_SCHEMA: u32 = 2;

/// The entries cargo has cached for `name` from the sparse index at `index_url` (`sparse+…`);
/// `None` when there is no readable cache of it.
pub fn cached_entries(cargo_home: &Path, index_url: &str, name: &str) -> Option<Vec<IndexEntry>> {
    let url = url::Url::parse(index_url).ok()?;
    let path = cargo_home
        .join("registry/index")
        .join(index_dir_name(&url))
        .join(".cache")
        .join(index_path(name));
    parse(&std::fs::read(path).ok()?)
}

fn parse(data: &[u8]) -> Option<Vec<IndexEntry>> {
    let (&version, rest) = data.split_first()?;
    let schema = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    if version != CACHE_VERSION || schema != INDEX_SCHEMA {
        return None;
    }
    let mut fields = rest[4..].split(|&b| b == 0);
    fields.next()?; // the index file's version (ETag or Last-Modified)
    let mut entries = Vec::new();
    while let (Some(_version), Some(line)) = (fields.next(), fields.next()) {
        // Lines of a newer schema are skipped, as cargo skips them.
        if let Ok(entry) = serde_json::from_slice::<IndexEntry>(line) {
            entries.push(entry);
        }
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(vers: &str, yanked: bool) -> String {
        format!(
            r#"{{"name":"bar","vers":"{vers}","deps":[],"cksum":"{}","features":{{}},"yanked":{yanked}}}"#,
            "0".repeat(64)
        )
    }

    fn cache_file(version: u8, schema: u32, lines: &[(&str, String)]) -> Vec<u8> {
        let mut out = vec![version];
        out.extend(schema.to_le_bytes());
        out.extend(b"etag: \"1\"\0");
        for (vers, l) in lines {
            out.extend(vers.as_bytes());
            out.push(0);
            out.extend(l.as_bytes());
            out.push(0);
        }
        out
    }

    #[test]
    fn entries_are_read_from_cargos_cache_layout() {
        let home = tempfile::tempdir().unwrap();
        let url = "sparse+http://127.0.0.1:1/index/";
        let dir = home
            .path()
            .join("registry/index")
            .join(index_dir_name(&url::Url::parse(url).unwrap()))
            .join(".cache/3/b");
        std::fs::create_dir_all(&dir).unwrap();
        let data = cache_file(
            3,
            2,
            &[
                ("0.1.0", line("0.1.0", true)),
                ("0.1.1", line("0.1.1", false)),
            ],
        );
        std::fs::write(dir.join("bar"), data).unwrap();
        let entries = cached_entries(home.path(), url, "bar").unwrap();
        let got: Vec<(&str, bool)> = entries
            .iter()
            .map(|e| (e.vers.as_str(), e.yanked))
            .collect();
        assert_eq!(got, [("0.1.0", true), ("0.1.1", false)]);
        assert!(cached_entries(home.path(), url, "baz").is_none());
    }

    #[test]
    fn other_cache_versions_are_not_read() {
        let lines = [("0.1.0", line("0.1.0", true))];
        assert!(parse(&cache_file(3, 2, &lines)).is_some());
        assert!(parse(&cache_file(2, 2, &lines)).is_none());
        assert!(parse(&cache_file(3, 1, &lines)).is_none());
        assert!(parse(&[3]).is_none());
        assert!(parse(&[]).is_none());
    }
}
