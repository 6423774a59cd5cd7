//! Where cargo keeps a registry's local files: `$CARGO_HOME/registry/index/<host>-<hash>`, the hash
//! being cargo's stable hash of the registry's source id. Gantry computes the same name so cargo and
//! gantry share one clone of a git index (fetched once, by whichever runs first).
//!
//! cargo (≥ 1.85) hashes a registry source id with rustc's stable 128-bit SipHash: first the
//! position of the source kind among cargo's kinds (`Git, Path, Registry, SparseRegistry, …`,
//! written as an `isize` by the derived `Hash`), then the URL's serialisation as a `str`. The
//! 64-bit result is printed as the hex of its little-endian bytes. The unit tests pin this to
//! directory names cargo 1.95 created.

use std::hash::{Hash, Hasher};

use rustc_stable_hash::StableSipHasher128;

/// cargo's `SourceKind::Registry` (a git index).
const KIND_GIT_REGISTRY: isize = 2;
/// cargo's `SourceKind::SparseRegistry`.
const KIND_SPARSE_REGISTRY: isize = 3;

/// The name of the directory under `registry/index/` cargo uses for the index at `url` (a git
/// index URL, or a sparse one with its `sparse+` prefix).
pub fn index_dir_name(url: &url::Url) -> String {
    let kind = if url.scheme().starts_with("sparse+") {
        KIND_SPARSE_REGISTRY
    } else {
        KIND_GIT_REGISTRY
    };
    let mut hasher = StableSipHasher128::new();
    hasher.write_isize(kind);
    url.as_str().hash(&mut hasher);
    let hash = Hasher::finish(&hasher);
    let hex: String = hash
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{hex}", url.host_str().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(url: &str) -> String {
        index_dir_name(&url::Url::parse(url).unwrap())
    }

    #[test]
    fn names_match_the_directories_cargo_1_95_creates() {
        // `~/.cargo/registry/{index,cache,src}/index.crates.io-1949cf8c6b5b557f`, made by cargo 1.95.
        assert_eq!(
            name("sparse+https://index.crates.io/"),
            "index.crates.io-1949cf8c6b5b557f"
        );
        // `[registries.alt] index = "file:///tmp/gx/reg"`: cargo 1.95 cloned into
        // `registry/index/-950b06fded4d00e5` (a file URL has no host).
        assert_eq!(name("file:///tmp/gx/reg"), "-950b06fded4d00e5");
    }

    #[test]
    fn the_host_names_the_directory() {
        assert!(name("https://git.example.com/index.git").starts_with("git.example.com-"));
        assert_ne!(
            name("https://git.example.com/a.git"),
            name("https://git.example.com/b.git")
        );
    }
}
