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
    canonical(url).as_str().hash(&mut hasher);
    let hash = Hasher::finish(&hasher);
    let hex: String = hash
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{hex}", url.host_str().unwrap_or(""))
}

/// The URL as cargo compares (and hashes) registry URLs: without a trailing slash, GitHub's in
/// lower case over `https`, and without a `.git` suffix.
fn canonical(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    if url.path().ends_with('/')
        && let Ok(mut segments) = url.path_segments_mut()
    {
        segments.pop_if_empty();
    }
    if url.host_str() == Some("github.com")
        && let Ok(mut https) =
            url::Url::parse(&format!("https{}", &url[url::Position::AfterScheme..]))
    {
        let path = https.path().to_lowercase();
        https.set_path(&path);
        url = https;
    }
    if let Some(stem) = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .and_then(|last| last.strip_suffix(".git"))
        .map(str::to_owned)
        && let Ok(mut segments) = url.path_segments_mut()
    {
        segments.pop().push(&stem);
    }
    url
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
    fn urls_are_hashed_in_cargos_canonical_form() {
        // `[registries.local] index = "sparse+http://127.0.0.1:45109/index/"`: cargo 1.95 cached
        // it in `registry/index/127.0.0.1-1467f67a5b73f8fc` (the hash is of `…/index`).
        assert_eq!(
            name("sparse+http://127.0.0.1:45109/index/"),
            "127.0.0.1-1467f67a5b73f8fc"
        );
        assert_eq!(
            name("sparse+http://127.0.0.1:45109/index/"),
            name("sparse+http://127.0.0.1:45109/index")
        );
        assert_eq!(name("file:///tmp/gx/reg.git"), name("file:///tmp/gx/reg"));
        assert_eq!(
            name("https://github.com/Rust-Lang/Crates.io-Index.git"),
            name("https://github.com/rust-lang/crates.io-index")
        );
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
