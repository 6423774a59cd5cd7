//! crates.io's fixed names and addresses, written once for every Gantry crate.
//!
//! `gantry-package` depends on no Gantry crate and keeps its own copies of [`GIT_INDEX`] and
//! [`REGISTRY_NAME`] (`overlay.rs`, `registry.rs`); they point back here.

/// The name cargo gives crates.io in config and credentials (`[registry]`, `--registry crates-io`).
pub const REGISTRY_NAME: &str = "crates-io";

/// The sparse index cargo reads crates.io from (the default since cargo 1.70).
pub const SPARSE_INDEX: &str = "sparse+https://index.crates.io/";

/// crates.io's canonical index URL: the git index, the name crates.io keeps in lockfiles and in the
/// `registry` field of a publish request's dependencies, whichever protocol cargo actually used.
pub const GIT_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

/// How a lockfile's `source` names crates.io: `registry+` and [`GIT_INDEX`].
pub const GIT_SOURCE: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// The Web API host (`api` in the index's `config.json`; requests go to `{API}/api/v1/…`).
pub const API: &str = "https://crates.io";

/// Where `.crate` files are downloaded from (`dl` in the index's `config.json`).
pub const DOWNLOAD: &str = "https://static.crates.io/crates";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_agree() {
        assert_eq!(GIT_SOURCE, format!("registry+{GIT_INDEX}"));
        assert!(SPARSE_INDEX.starts_with("sparse+https://") && SPARSE_INDEX.ends_with('/'));
        crate::IndexUrl::parse(SPARSE_INDEX).unwrap();
        crate::IndexUrl::parse(GIT_INDEX).unwrap();
        crate::RegistryName::new(REGISTRY_NAME).unwrap();
    }
}
