//! The plan: each packaged crate's state on the registry, decided by checksum, and what will happen
//! to it. Packaging is cheap and happens first, so "already there" can mean "identical bytes" and a
//! re-run of a half-finished publish simply skips what is done.

use gantry_client::index::{Index, IndexError};
use gantry_package::PackagedCrate;
use gantry_protocol::IndexEntry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryState {
    /// The version is not in the index; `name_known` when other versions of the crate are (this
    /// decides crates.io's rate-limit bucket: new crate or new version).
    Absent { name_known: bool },
    /// The same version with the same checksum: nothing to do.
    Identical,
    /// The same version with other bytes.
    Different { theirs: String },
    /// A version equal up to build metadata (`1.0.0+a` vs `1.0.0+b`): the same version to a registry.
    BuildTwin { theirs: String },
}

impl RegistryState {
    pub fn describe(&self) -> &'static str {
        match self {
            RegistryState::Absent { name_known: false } => "new crate",
            RegistryState::Absent { name_known: true } => "new version",
            RegistryState::Identical => "already published, identical",
            RegistryState::Different { .. } => "published with a different checksum",
            RegistryState::BuildTwin { .. } => "published with other build metadata",
        }
    }

    pub fn action(&self) -> &'static str {
        match self {
            RegistryState::Absent { .. } => "publish",
            RegistryState::Identical => "skip",
            RegistryState::Different { .. } | RegistryState::BuildTwin { .. } => "refuse",
        }
    }
}

/// Classifies `ours` against the index entries of its name.
pub fn classify(ours: &PackagedCrate, entries: &[IndexEntry]) -> RegistryState {
    let want = semver::Version::parse(&ours.version).ok();
    let same = |e: &IndexEntry| {
        e.vers == ours.version || (want.is_some() && semver::Version::parse(&e.vers).ok() == want)
    };
    if let Some(e) = entries.iter().find(|e| same(e)) {
        return if e.cksum == ours.checksum {
            RegistryState::Identical
        } else {
            RegistryState::Different {
                theirs: e.cksum.to_string(),
            }
        };
    }
    let twin = want.as_ref().and_then(|w| {
        entries.iter().find(|e| {
            semver::Version::parse(&e.vers).is_ok_and(|v| {
                v.major == w.major && v.minor == w.minor && v.patch == w.patch && v.pre == w.pre
            })
        })
    });
    match twin {
        Some(e) => RegistryState::BuildTwin {
            theirs: e.vers.clone(),
        },
        None => RegistryState::Absent {
            name_known: !entries.is_empty(),
        },
    }
}

/// Reads every crate's index file concurrently and classifies it.
pub fn read_states(
    runtime: &tokio::runtime::Runtime,
    index: &Index,
    crates: &[PackagedCrate],
) -> Result<Vec<RegistryState>, IndexError> {
    runtime.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, c) in crates.iter().enumerate() {
            let index = index.clone();
            let name = c.name.clone();
            set.spawn(async move { (i, index.entries(&name).await) });
        }
        let mut found: Vec<Option<Vec<IndexEntry>>> = vec![None; crates.len()];
        while let Some(joined) = set.join_next().await {
            // A panicking task is a bug in this program, not input; treat it as "no entries" would
            // hide it, so report it as an index error instead.
            let (i, entries) = joined.map_err(|e| IndexError::Task(e.to_string()))?;
            found[i] = Some(entries?);
        }
        Ok(crates
            .iter()
            .zip(found)
            .map(|(c, e)| classify(c, &e.unwrap_or_default()))
            .collect())
    })
}

/// The refusal for a version that exists with other bytes (all such crates at once).
pub fn refusal(c: &PackagedCrate, state: &RegistryState, registry: &str) -> Option<String> {
    match state {
        RegistryState::Different { theirs } => Some(format!(
            "crate {}@{} already exists on {registry} with a different checksum\n  registry checksum: {theirs}\n  local checksum:    {}\n  = help: a published version cannot be replaced; bump the version of `{}` in its Cargo.toml and publish again",
            c.name, c.version, c.checksum, c.name
        )),
        RegistryState::BuildTwin { theirs } => Some(format!(
            "crate {}@{} conflicts with version {theirs} already on {registry}: versions that differ only in build metadata (`+...`) are the same version to a registry\n  = help: bump the version of `{}` in its Cargo.toml",
            c.name, c.version, c.name
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(version: &str, cksum: &str) -> PackagedCrate {
        PackagedCrate {
            member: 0,
            name: "a".into(),
            version: version.into(),
            tmp_path: "a.crate".into(),
            path: "a.crate".into(),
            checksum: cksum.repeat(32),
            stats: gantry_package::ArchiveStats {
                files: 0,
                uncompressed: 0,
                compressed: 0,
            },
            manifest: String::new(),
        }
    }

    /// `cksum` is a two-digit hex pattern, repeated to a checksum's 64 characters.
    fn entry(vers: &str, cksum: &str) -> IndexEntry {
        serde_json::from_value(serde_json::json!({
            "name": "a", "vers": vers, "deps": [], "cksum": cksum.repeat(32), "features": {}
        }))
        .unwrap()
    }

    #[test]
    fn states_by_checksum() {
        let c = ours("1.0.0", "aa");
        assert_eq!(
            classify(&c, &[]),
            RegistryState::Absent { name_known: false }
        );
        assert_eq!(
            classify(&c, &[entry("0.9.0", "cc")]),
            RegistryState::Absent { name_known: true }
        );
        assert_eq!(
            classify(&c, &[entry("1.0.0", "aa")]),
            RegistryState::Identical
        );
        assert_eq!(
            classify(&c, &[entry("1.0.0", "bb")]),
            RegistryState::Different {
                theirs: "bb".repeat(32)
            }
        );
        assert_eq!(
            classify(&ours("1.0.0+x", "aa"), &[entry("1.0.0+y", "bb")]),
            RegistryState::BuildTwin {
                theirs: "1.0.0+y".into()
            }
        );
        assert_eq!(
            classify(&c, &[entry("1.0.0-rc.1", "bb")]),
            RegistryState::Absent { name_known: true }
        );
    }
}
