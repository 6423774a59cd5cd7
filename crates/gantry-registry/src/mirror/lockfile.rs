//! The packages a `Cargo.lock` names from one registry, for `gantry-registry mirror fetch`.

use std::path::{Path, PathBuf};

use super::config::UpstreamUrl;

/// One registry package of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Locked {
    pub name: String,
    pub version: String,
    /// The lockfile's `checksum`, when it has one.
    pub checksum: Option<String>,
}

/// What a lockfile holds for the mirror.
#[derive(Debug, Default)]
pub struct LockedSet {
    /// Packages from the mirrored registry.
    pub packages: Vec<Locked>,
    /// Packages from elsewhere (path, git, other registries), left alone.
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a Cargo.lock", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
}

#[derive(serde::Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(serde::Deserialize)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// Reads `path` and keeps the packages the mirror serves ([`UpstreamUrl::is_source`]).
pub fn read(path: &Path, upstream: &UpstreamUrl) -> Result<LockedSet, LockfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| LockfileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, upstream).map_err(|source| LockfileError::Parse {
        path: path.to_owned(),
        source,
    })
}

pub fn parse(text: &str, upstream: &UpstreamUrl) -> Result<LockedSet, toml::de::Error> {
    let lock: Lock = toml::from_str(text)?;
    let mut set = LockedSet::default();
    for p in lock.package {
        match &p.source {
            Some(s) if upstream.is_source(s) => set.packages.push(Locked {
                name: p.name,
                version: p.version,
                checksum: p.checksum,
            }),
            _ => set.skipped += 1,
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_mirrored_registrys_packages() {
        let lock = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["serde"]

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "other"
version = "0.2.0"
source = "sparse+https://example.com/index/"
checksum = "bbbb"

[[package]]
name = "gitdep"
version = "0.3.0"
source = "git+https://example.com/x#0123"
"#;
        let up = UpstreamUrl::parse(super::super::config::CRATES_IO_SPARSE).unwrap();
        let set = parse(lock, &up).unwrap();
        assert_eq!(
            set.packages,
            vec![Locked {
                name: "serde".into(),
                version: "1.0.200".into(),
                checksum: Some("aaaa".into())
            }]
        );
        assert_eq!(set.skipped, 3);
        let other = UpstreamUrl::parse("sparse+https://example.com/index/").unwrap();
        let names: Vec<_> = parse(lock, &other)
            .unwrap()
            .packages
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["serde", "other"]);
        assert!(parse("[[package]]\nname = 1", &up).is_err());
    }
}
