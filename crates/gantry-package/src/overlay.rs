//! The local overlay of freshly packaged workspace crates (spec §9): when `a` depends on sibling `b`
//! and both are being packaged, `a`'s lockfile and verification build must see `b`'s new archive "as
//! if published" to the target registry — as **one more candidate** beside the versions the registry
//! already has, so a newer compatible version on the registry still wins, and a published version
//! with another checksum still trips cargo's "checksum … changed between lock files".
//!
//! # How: cargo's own overlay, reached through its environment hook
//!
//! `cargo package` builds a local registry at `<build-dir>/package/tmp-registry` (an `index/` tree
//! plus the `.crate` files) and layers it over the upstream source in-process. We can only drive the
//! `cargo` binary, so we write exactly that registry and ask the binary to layer it the same way
//! through `__CARGO_TEST_DEPENDENCY_CONFUSION_VULNERABILITY_DO_NOT_USE_THIS=<source url>=<dir>`, the
//! hook cargo (1.83 and later, 1.95 included) reads when it builds any workspace's package registry.
//! It is a test hook of cargo's, not a documented interface; it is used here because it is the
//! only way to get cargo's resolution rather than an imitation of it:
//!
//! - `[patch]` (what Gantry used before) always beats the registry's versions and leaks
//!   "patch … was not used" warnings and `[[patch.unused]]` entries;
//! - a loopback sparse-index server with source replacement would need the upstream index files
//!   (fetched again, or read from cargo's private cache format), and replaced sources keep their
//!   own download cache and source directories, so every verification build would download and
//!   rebuild every registry dependency again;
//! - a `local-registry`/`directory` replacement cannot hold the rest of the registry at all.
//!
//! With the hook, the upstream is the genuine source with its own index and download caches (so it
//! works offline exactly as cargo does), cargo's resolver sees the same candidates as in `cargo
//! package`, and lockfiles carry the upstream `source` and the archive's checksum with no rewriting.
//! Should a future cargo drop the hook, [`Overlay::check_lock`] turns the symptom (a sibling locked
//! with the registry's checksum instead of its archive's) into an error instead of a wrong lockfile.
//! The variable reaches build scripts of a verification build too; cargo's in-process overlay does
//! not, which matters only to a build script that runs cargo against the target registry itself.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_util_schemas::index::{IndexPackage, RegistryDependency};

use crate::publish_deps::{PublishDepError, publish_deps};

/// The variable through which cargo layers a local registry over a source (see the module doc).
pub(crate) const OVERLAY_ENV: &str =
    "__CARGO_TEST_DEPENDENCY_CONFUSION_VULNERABILITY_DO_NOT_USE_THIS";

/// crates.io's index as cargo names it in lockfiles and in the publish metadata. The home of
/// crates.io's constants is `gantry_protocol::crates_io` (`GIT_INDEX`); this crate depends on no
/// Gantry crate, so it keeps this copy.
pub const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

/// The registry the overlay stands in front of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The lockfile `source` of packages from it, e.g.
    /// `registry+https://github.com/rust-lang/crates.io-index` or `sparse+http://host/index/`.
    pub lock_source: String,
    /// The source cargo layers the overlay on: crates.io is reached through its sparse index unless
    /// `registries.crates-io.protocol = "git"`.
    pub overlay_key: String,
    /// Index URL as the publish metadata spells it (`registry` of a dependency from elsewhere).
    pub index: String,
    pub is_crates_io: bool,
}

impl Upstream {
    pub fn crates_io() -> Self {
        Upstream {
            lock_source: format!("registry+{CRATES_IO_INDEX}"),
            overlay_key: "sparse+https://index.crates.io/".into(),
            index: CRATES_IO_INDEX.into(),
            is_crates_io: true,
        }
    }

    /// crates.io reached through its git index (`registries.crates-io.protocol = "git"`).
    pub fn crates_io_git() -> Self {
        Upstream {
            overlay_key: format!("registry+{CRATES_IO_INDEX}"),
            ..Self::crates_io()
        }
    }

    /// crates.io served from `index` by cargo's test hook `__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS`
    /// (cargo's own test suite; no user sets it): cargo still names it crates.io in lockfiles and
    /// metadata, but reads it, and layers the overlay over it, at `index`.
    pub fn crates_io_at(index: &str) -> Self {
        Upstream {
            overlay_key: lock_source_for_index(index),
            ..Self::crates_io()
        }
    }

    /// An alternative registry named `name` whose index URL is `index` (as configured).
    pub fn named(_name: &str, index: &str) -> Self {
        Self::url(index)
    }

    /// A registry given by `--index URL`.
    pub fn url(index: &str) -> Self {
        Upstream {
            lock_source: lock_source_for_index(index),
            overlay_key: lock_source_for_index(index),
            index: index.to_owned(),
            is_crates_io: false,
        }
    }
}

/// Lockfiles record sparse registries with their `sparse+` URL and git ones as `registry+URL`.
pub(crate) fn lock_source_for_index(index: &str) -> String {
    if index.starts_with("sparse+") || index.starts_with("registry+") {
        index.to_owned()
    } else {
        format!("registry+{index}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("failed to prepare the local overlay registry at `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Deps(#[from] PublishDepError),
    #[error(
        "the installed cargo did not take `{name} v{version}` from the local overlay registry (its lockfile entry has checksum {found}, the archive {expected}); this cargo does not support Gantry's workspace packaging, use cargo 1.95"
    )]
    NotApplied {
        name: String,
        version: String,
        found: String,
        expected: String,
    },
}

/// `<build-dir>/package/tmp-registry`, laid out as cargo lays it out.
#[derive(Debug, Clone)]
pub struct Overlay {
    upstream: Upstream,
    root: PathBuf,
    /// (name, version) → the archive's checksum.
    checksums: BTreeMap<(String, String), String>,
}

impl Overlay {
    /// An empty overlay at `root`; an index left by an earlier run (ours or cargo's) is removed.
    pub fn new(upstream: Upstream, root: PathBuf) -> Result<Self, OverlayError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| OverlayError::Io { path, source }
        };
        let index = root.join("index");
        match fs::remove_dir_all(&index) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&index)(e)),
            _ => {}
        }
        fs::create_dir_all(&index).map_err(io_err(&index))?;
        Ok(Overlay {
            upstream,
            root,
            checksums: BTreeMap::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    pub fn is_empty(&self) -> bool {
        self.checksums.is_empty()
    }

    /// Publishes a freshly written archive into the overlay: the `.crate` beside the index and one
    /// index line built from its publish-form manifest (the archive's `Cargo.toml`).
    pub fn add(
        &mut self,
        name: &str,
        version: &str,
        crate_file: &Path,
        checksum: &str,
        manifest: &str,
    ) -> Result<(), OverlayError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| OverlayError::Io { path, source }
        };
        let line = index_line(name, version, checksum, manifest, &self.upstream)?;
        let dest = self.root.join(format!("{name}-{version}.crate"));
        fs::copy(crate_file, &dest).map_err(io_err(&dest))?;
        let file = self.root.join("index").join(index_path(name));
        if let Some(dir) = file.parent() {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        fs::write(&file, line).map_err(io_err(&file))?;
        self.checksums
            .insert((name.to_owned(), version.to_owned()), checksum.to_owned());
        Ok(())
    }

    /// The variable and value that make cargo layer this overlay over the upstream.
    pub fn env(&self) -> (&'static str, OsString) {
        let mut value = OsString::from(format!("{}=", self.upstream.overlay_key));
        value.push(self.root.as_os_str());
        (OVERLAY_ENV, value)
    }

    /// Sets [`env`](Self::env) on `cmd` when there is anything to overlay.
    pub fn apply(&self, cmd: &mut Command) {
        if !self.is_empty() {
            let (key, value) = self.env();
            cmd.env(key, value);
        }
    }

    /// `publish --dry-run` lets overlay crates replace same-version registry ones: in the previous
    /// lockfile their checksums become the archives' (as cargo does), so an unbumped version does
    /// not fail with "checksum changed".
    pub fn adopt_checksums(&self, lock: &str) -> String {
        let mut out = String::with_capacity(lock.len());
        for block in split_blocks(lock) {
            match self.ours(block) {
                Some(ours) if block.contains("\nchecksum = \"") => {
                    for line in block.split_inclusive('\n') {
                        if line.starts_with("checksum = \"") {
                            out.push_str(&format!("checksum = \"{ours}\"\n"));
                        } else {
                            out.push_str(line);
                        }
                    }
                }
                _ => out.push_str(block),
            }
        }
        out
    }

    /// Fails when a lockfile resolved with the overlay locks an overlay crate (same name, version
    /// and upstream source) with a checksum other than its archive's: the cargo that resolved it did
    /// not apply the overlay.
    pub fn check_lock(&self, lock: &str) -> Result<(), OverlayError> {
        for block in split_blocks(lock) {
            let (Some(ours), Some(found)) = (self.ours(block), field(block, "checksum")) else {
                continue;
            };
            if found != ours {
                return Err(OverlayError::NotApplied {
                    name: field(block, "name").unwrap_or_default().to_owned(),
                    version: field(block, "version").unwrap_or_default().to_owned(),
                    found: found.to_owned(),
                    expected: ours.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// The archive checksum for a lockfile `[[package]]` block that names an overlay crate from the
    /// upstream.
    fn ours(&self, block: &str) -> Option<&str> {
        if !block.starts_with("[[package]]") || field(block, "source")? != self.upstream.lock_source
        {
            return None;
        }
        let key = (
            field(block, "name")?.to_owned(),
            field(block, "version")?.to_owned(),
        );
        self.checksums.get(&key).map(String::as_str)
    }
}

/// The overlay's index line for one crate: what cargo writes into its tmp-registry.
fn index_line(
    name: &str,
    version: &str,
    checksum: &str,
    manifest: &str,
    upstream: &Upstream,
) -> Result<String, OverlayError> {
    let parse_err = |why: String| PublishDepError::Parse {
        name: name.to_owned(),
        why,
    };
    let doc: toml::Table = manifest
        .parse()
        .map_err(|e: toml::de::Error| parse_err(e.message().to_owned()))?;
    let deps = publish_deps(name, manifest)?;
    let deps = deps
        .into_iter()
        .map(|d| {
            // Relative to the source the overlay stands in for: crates.io reached through its
            // sparse index is not the git-index crates.io that dependencies name, so cargo spells
            // crates.io out there too.
            let registry = match &d.registry_index {
                Some(url) if same_index(url, &upstream.overlay_key) => None,
                Some(url) => Some(url.clone()),
                None if same_index(CRATES_IO_INDEX, &upstream.overlay_key) => None,
                None => Some(CRATES_IO_INDEX.to_owned()),
            };
            RegistryDependency {
                name: d.rename.clone().unwrap_or_else(|| d.package.clone()).into(),
                req: d.req.into(),
                features: d.features.into_iter().map(Into::into).collect(),
                optional: d.optional,
                default_features: d.default_features,
                target: d.target.map(Into::into),
                kind: Some(d.kind.as_str().into()),
                registry: registry.map(Into::into),
                package: d.rename.map(|_| d.package.into()),
                public: None,
                artifact: d.artifact.map(|a| a.into_iter().map(Into::into).collect()),
                bindep_target: d.bindep_target.map(Into::into),
                lib: d.lib,
            }
        })
        .collect();
    let features = doc
        .get("features")
        .and_then(toml::Value::as_table)
        .map(|t| {
            t.iter()
                .map(|(k, v)| {
                    let list = v
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(toml::Value::as_str)
                        .map(|s| s.to_owned().into())
                        .collect();
                    (k.clone().into(), list)
                })
                .collect()
        })
        .unwrap_or_default();
    let links = doc
        .get("package")
        .and_then(|p| p.get("links"))
        .and_then(toml::Value::as_str)
        .map(|s| s.to_owned().into());
    let vers = semver::Version::parse(version).map_err(|e| parse_err(e.to_string()))?;
    let line = IndexPackage {
        name: name.into(),
        vers,
        deps,
        features,
        features2: None,
        cksum: checksum.to_owned(),
        yanked: None,
        links,
        rust_version: None,
        pubtime: None,
        v: Some(2),
    };
    serde_json::to_string(&line).map_err(|e| parse_err(e.to_string()).into())
}

/// Where a crate's index file lives: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…` (lowercased).
fn index_path(name: &str) -> String {
    let name = name.to_lowercase();
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

/// Whether two spellings name the same index (`sparse+`/`registry+` and a trailing `/` aside).
pub fn same_index(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim_start_matches("sparse+")
            .trim_start_matches("registry+")
            .trim_end_matches('/')
            .to_owned()
    };
    norm(a) == norm(b)
}

/// Splits a lockfile into blocks that each start at a line beginning with `[`, keeping all bytes.
fn split_blocks(text: &str) -> Vec<&str> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with('[') && offset != 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(text.len());
    starts.windows(2).map(|w| &text[w[0]..w[1]]).collect()
}

fn field<'a>(block: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("{key} = \"");
    block
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.strip_suffix('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"b\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"99\"\n\n[[package]]\nname = \"b\"\nversion = \"0.3.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"77\"\n";

    fn overlay(dir: &Path) -> Overlay {
        let mut o = Overlay::new(Upstream::crates_io(), dir.join("tmp-registry")).unwrap();
        let krate = dir.join("b.crate");
        fs::write(&krate, b"bytes").unwrap();
        o.add(
            "b",
            "0.2.0",
            &krate,
            "ab12",
            "[package]\nname = \"b\"\nversion = \"0.2.0\"\n\n[features]\ndefault = [\"x\"]\nx = []\n\n[dependencies.serde]\nversion = \"1\"\n\n[target.'cfg(unix)'.dependencies.alt]\nversion = \"0.1\"\nregistry-index = \"sparse+http://r/index/\"\n",
        )
        .unwrap();
        o
    }

    #[test]
    fn crates_are_laid_out_as_cargo_lays_them_out() {
        let tmp = tempfile::tempdir().unwrap();
        let o = overlay(tmp.path());
        let root = tmp.path().join("tmp-registry");
        assert_eq!(fs::read(root.join("b-0.2.0.crate")).unwrap(), b"bytes");
        assert_eq!(
            fs::read_to_string(root.join("index/1/b")).unwrap(),
            r#"{"name":"b","vers":"0.2.0","deps":[{"name":"serde","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"https://github.com/rust-lang/crates.io-index","package":null,"public":null,"artifact":null,"bindep_target":null,"lib":false},{"name":"alt","req":"^0.1","features":[],"optional":false,"default_features":true,"target":"cfg(unix)","kind":"normal","registry":"sparse+http://r/index/","package":null,"public":null,"artifact":null,"bindep_target":null,"lib":false}],"features":{"default":["x"],"x":[]},"features2":null,"cksum":"ab12","yanked":null,"links":null,"rust_version":null,"pubtime":null,"v":2}"#
        );
        let (key, value) = o.env();
        assert_eq!(key, OVERLAY_ENV);
        assert_eq!(
            value,
            OsString::from(format!(
                "sparse+https://index.crates.io/={}",
                root.display()
            ))
        );
        // A new run starts from an empty index.
        Overlay::new(Upstream::crates_io(), root.clone()).unwrap();
        assert!(!root.join("index/1/b").exists());
    }

    #[test]
    fn lock_checks_and_dry_run_checksums() {
        let tmp = tempfile::tempdir().unwrap();
        let o = overlay(tmp.path());
        let err = o.check_lock(LOCK).unwrap_err();
        assert!(matches!(err, OverlayError::NotApplied { ref found, .. } if found == "99"));
        let adopted = o.adopt_checksums(LOCK);
        assert_eq!(
            adopted,
            LOCK.replace("checksum = \"99\"", "checksum = \"ab12\"")
        );
        o.check_lock(&adopted).unwrap();
    }

    #[test]
    fn index_paths() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("Abc"), "3/a/abc");
        assert_eq!(index_path("serde"), "se/rd/serde");
    }
}
