//! cargo's check of a packaged `Cargo.lock` for yanked packages (`cargo package` and `cargo
//! publish` alike): each registry the lockfile locks packages from is asked again — a sparse index
//! afresh every time, a git index fetched once per run — with cargo's `Updating … index` line, and
//! every locked version that registry lists as yanked gets a warning. It runs between `Packaging`
//! and `Packaged`, through [`gantry_package::lock_check`]'s seam.
//!
//! Where cargo would not go to the network, neither does this: a directory source (`cargo vendor`)
//! never has yanked versions, a local registry is read from disk, and offline (`--offline`,
//! `--frozen`, `net.offline`) a git index is read as its clone is and a sparse index from cargo's
//! cache of it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;

use anyhow::Context as _;
use gantry_client::cargo_cache::cached_entries;
use gantry_client::credentials::CRATES_IO;
use gantry_client::index::IndexError;
use gantry_package::RegistryNames;
use gantry_package::Reporter;
use gantry_package::{LockCheck, LockCheckError, LockedPackage, PackagedLock, registry_packages};
use gantry_protocol::IndexEntry;

use crate::context::Context;
use crate::remote::{self, IndexFallback, Remote, Target};
use crate::shell::Shell;

/// How a lockfile names crates.io, whatever index this run reads it through.
const CRATES_IO_SOURCE: &str = "registry+https://github.com/rust-lang/crates.io-index";

const HINT: &str = "consider updating to a version that is not yanked";

/// The check for one run of `package` or `publish`.
pub(crate) struct YankCheck<'a> {
    ctx: &'a Context,
    shell: &'a Shell,
    /// `--offline`/`--frozen` (`net.offline` is read from the configuration).
    offline: bool,
    /// Where a registry that requires authentication gets a token when no credential provider
    /// has one (a publish's trusted-publishing exchange).
    index_token: Option<&'a IndexFallback<'a>>,
}

impl<'a> YankCheck<'a> {
    pub(crate) fn new(ctx: &'a Context, offline: bool, shell: &'a Shell) -> Self {
        YankCheck {
            ctx,
            shell,
            offline,
            index_token: None,
        }
    }

    /// Reads indexes that require authentication with `fallback`'s token when the credential
    /// providers have none (see [`Remote::connect_with`]).
    pub(crate) fn with_index_token(mut self, fallback: &'a IndexFallback<'a>) -> Self {
        self.index_token = Some(fallback);
        self
    }

    fn offline(&self) -> anyhow::Result<bool> {
        Ok(self.offline || self.ctx.config.get_bool("net.offline")?.unwrap_or(false))
    }

    fn run(&self, lock: &PackagedLock, reporter: &dyn Reporter) -> anyhow::Result<()> {
        let names = lock.names;
        let packages =
            registry_packages(lock.text).context("failed to read the packaged Cargo.lock")?;
        // Every registry is updated first (in the order its first package appears, as cargo asks
        // them), then the warnings follow in lockfile order.
        let mut sources: Vec<&str> = Vec::new();
        for p in &packages {
            if !sources.contains(&p.source.as_str()) {
                sources.push(&p.source);
            }
        }
        let mut readers = Vec::with_capacity(sources.len());
        for source in &sources {
            readers.push(self.reader(source, lock)?);
        }
        // Each registry's index files, once per name and many at a time (cargo's resolver asks
        // for them together too; one after another, a lockfile of hundreds took minutes).
        let cargo_home = self.ctx.config.cargo_home();
        let mut entries = Vec::with_capacity(sources.len());
        for (source, reader) in sources.iter().zip(&readers) {
            let names: BTreeSet<&str> = packages
                .iter()
                .filter(|p| p.source == *source)
                .map(|p| p.name.as_str())
                .collect();
            entries.push(match reader {
                Some(reader) => reader.entries_of(&names, cargo_home)?,
                None => HashMap::new(),
            });
        }
        let mut yanked = Vec::new();
        for p in &packages {
            let Some(at) = sources.iter().position(|s| *s == p.source) else {
                continue;
            };
            if entries[at]
                .get(p.name.as_str())
                .is_some_and(|listed| lists_as_yanked(listed, p))
            {
                yanked.push(p);
            }
        }
        let crates_io = |source: &str| self.is_crates_io(source);
        for p in yanked {
            let registry = registry_display_name(&p.source, names, &crates_io);
            // cargo's package id: the source follows unless it is crates.io.
            let source = if crates_io(&p.source) {
                String::new()
            } else {
                format!(" (registry `{registry}`)")
            };
            reporter.warning(&format!(
                "package `{} v{}{source}` in Cargo.lock is yanked in registry `{registry}`, {HINT}",
                p.name, p.version,
            ));
        }
        Ok(())
    }

    /// Whether cargo takes a lockfile source for crates.io: its own index URLs, or the one cargo's
    /// test hook puts in its place.
    fn is_crates_io(&self, source: &str) -> bool {
        let url = source.strip_prefix("registry+").unwrap_or(source);
        source == CRATES_IO_SOURCE
            || url == remote::CRATES_IO_SPARSE
            || self
                .ctx
                .config
                .crates_io_test_index()
                .is_some_and(|hook| hook == url || hook == source)
    }

    /// How `source`'s packages are looked up; `None` when they cannot be yanked.
    fn reader(&self, source: &str, lock: &PackagedLock) -> anyhow::Result<Option<Reader>> {
        if source == CRATES_IO_SOURCE {
            return self.crates_io_reader(lock);
        }
        let url = source.strip_prefix("registry+").unwrap_or(source);
        if let Some(with) = self.ctx.config.registry_replaced_with(url) {
            let crates_io = |s: &str| self.is_crates_io(s);
            let name = registry_display_name(source, lock.names, &crates_io);
            return self.replacement_reader(with, &format!("registry `{name}`"), lock);
        }
        let target = match lock.names.name_of(url) {
            Some(name) => Target {
                name: Some(name.to_owned()),
                index_url: self
                    .ctx
                    .registry_index(name)
                    .unwrap_or_else(|| url.to_owned()),
            },
            None => remote::index_target(self.ctx, url),
        };
        self.connect(target, None, lock)
    }

    /// crates.io, or what `[source.crates-io] replace-with` puts in its place.
    fn crates_io_reader(&self, lock: &PackagedLock) -> anyhow::Result<Option<Reader>> {
        let config = &self.ctx.config;
        let Some((with, _)) = config.crates_io_replace_with()? else {
            return self.connect(remote::named(self.ctx, CRATES_IO)?, None, lock);
        };
        self.replacement_reader(with, "registry `crates-io`", lock)
    }

    /// What `[source.WITH]`, put in place of the registry cargo names `replaces`, is read
    /// through: nothing for a directory (vendored crates are never yanked), the index files of a
    /// local registry, or the index of a registry.
    fn replacement_reader(
        &self,
        with: String,
        replaces: &str,
        lock: &PackagedLock,
    ) -> anyhow::Result<Option<Reader>> {
        let config = &self.ctx.config;
        if config
            .get_path(&format!("source.{with}.directory"))?
            .is_some()
        {
            return Ok(None);
        }
        if let Some(dir) = config.get_path(&format!("source.{with}.local-registry"))? {
            return Ok(Some(Reader::Local(dir)));
        }
        let url = match config.get_string(&format!("source.{with}.registry"))? {
            Some((url, _)) => Some(url),
            None => self.ctx.registry_index(&with),
        };
        // Any other kind of replacement (git, …) holds no registry versions to yank.
        let Some(index_url) = url else {
            return Ok(None);
        };
        let target = Target {
            name: Some(with),
            index_url,
        };
        self.connect(target, Some(replaces), lock)
    }

    /// Opens `target`'s index as cargo's check does: a sparse index is asked afresh for every
    /// lockfile (and says `Updating` unless resolving this lockfile already did); a git index is
    /// fetched once per run. `replaces` names the source it stands in for, which cargo puts in
    /// front of an update failure.
    fn connect(
        &self,
        target: Target,
        replaces: Option<&str>,
        lock: &PackagedLock,
    ) -> anyhow::Result<Option<Reader>> {
        let sparse = target.index_url.starts_with("sparse+");
        let offline = self.offline()?;
        if sparse && offline {
            return Ok(Some(Reader::Cache(target.index_url)));
        }
        let describe = target.describe();
        // For a git index this records the update (once per run, as cargo's record of updated
        // sources); a git index already updated in this run is read as it is.
        let announce = lock.names.show_index_update(&describe)
            && !(sparse && lock.updated.contains(&describe));
        let remote = Remote::connect_to_read(
            self.ctx,
            target,
            offline,
            announce,
            self.shell,
            self.index_token,
        )
        .map_err(|e| update_error(e, replaces))?;
        Ok(Some(Reader::Remote(Box::new(remote))))
    }
}

impl LockCheck for YankCheck<'_> {
    fn check(&self, lock: &PackagedLock, reporter: &dyn Reporter) -> Result<(), LockCheckError> {
        self.run(lock, reporter).map_err(Into::into)
    }
}

/// cargo's update failures here carry no "failed to update registry" line of their own (that is
/// the resolver's); a replaced source's failure says which source it replaces.
fn update_error(e: anyhow::Error, replaces: Option<&str>) -> anyhow::Error {
    let e = match e.downcast::<IndexError>() {
        Ok(index) => anyhow::Error::new(index),
        Err(other) => other,
    };
    match replaces {
        Some(what) => e.context(format!("failed to update replaced source {what}")),
        None => e,
    }
}

/// Where one registry's entries are read.
enum Reader {
    Remote(Box<Remote>),
    /// A local registry (`local-registry = "<dir>"`): its index files under `<dir>/index`.
    Local(PathBuf),
    /// A sparse index offline: what cargo last fetched of it (nothing, if it never did).
    Cache(String),
}

/// How many index files of one registry are asked for at a time.
const CONCURRENT_FETCHES: usize = 16;

impl Reader {
    /// The registry's entries for each of `names` (none for a name it does not know).
    fn entries_of<'n>(
        &self,
        names: &BTreeSet<&'n str>,
        cargo_home: &Path,
    ) -> anyhow::Result<HashMap<&'n str, Vec<IndexEntry>>> {
        match self {
            Reader::Remote(remote) => {
                let index = &remote.index;
                let fetched = remote.runtime.block_on(
                    futures_util::stream::iter(
                        names
                            .iter()
                            .map(|&name| async move { (name, index.entries(name).await) }),
                    )
                    .buffer_unordered(CONCURRENT_FETCHES)
                    .collect::<Vec<_>>(),
                );
                fetched
                    .into_iter()
                    .map(|(name, listed)| {
                        let listed = listed.with_context(|| {
                            format!("failed to read the index file of `{name}`")
                        })?;
                        Ok((name, listed))
                    })
                    .collect()
            }
            Reader::Local(dir) => names
                .iter()
                .map(|&name| Ok((name, local_entries(dir, name)?)))
                .collect(),
            Reader::Cache(url) => Ok(names
                .iter()
                .map(|&name| {
                    let listed = cached_entries(cargo_home, url, name).unwrap_or_default();
                    (name, listed)
                })
                .collect()),
        }
    }
}

/// Whether `listed` (a registry's entries for `p`'s name) has `p`'s exact version, build metadata
/// aside, as yanked.
fn lists_as_yanked(listed: &[IndexEntry], p: &LockedPackage) -> bool {
    let want = semver::Version::parse(&p.version).ok();
    listed.iter().any(|e| {
        let same = e.vers == p.version
            || want.as_ref().is_some_and(|w| {
                semver::Version::parse(&e.vers).is_ok_and(|v| v.cmp_precedence(w).is_eq())
            });
        same && e.yanked
    })
}

/// A local registry's entries for `name`; none when it has no file for it.
fn local_entries(dir: &Path, name: &str) -> anyhow::Result<Vec<IndexEntry>> {
    let path = dir.join("index").join(gantry_protocol::index_path(name));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("failed to read `{}`", path.display()))
            );
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<IndexEntry>(l).ok())
        .collect())
}

/// The registry as cargo names a lockfile source in this warning: `crates-io`, a configured
/// registry's name, else its URL (a `file://` one as its path).
fn registry_display_name(
    source: &str,
    names: &RegistryNames,
    crates_io: &dyn Fn(&str) -> bool,
) -> String {
    if crates_io(source) {
        return CRATES_IO.to_owned();
    }
    let url = source.strip_prefix("registry+").unwrap_or(source);
    if let Some(name) = names.name_of(url) {
        return name.to_owned();
    }
    match url.strip_prefix("file://") {
        Some(path) if path.starts_with('/') => path.to_owned(),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn registries_are_named_as_cargo_names_them() {
        let names = RegistryNames::new(BTreeMap::from([(
            "sparse+http://127.0.0.1:1/index/".to_owned(),
            "alt".to_owned(),
        )]));
        let crates_io = |s: &str| s == CRATES_IO_SOURCE;
        let name = |source: &str| registry_display_name(source, &names, &crates_io);
        assert_eq!(name(CRATES_IO_SOURCE), "crates-io");
        assert_eq!(name("sparse+http://127.0.0.1:1/index/"), "alt");
        assert_eq!(name("registry+file:///tmp/reg"), "/tmp/reg");
        assert_eq!(name("sparse+http://other/"), "sparse+http://other/");
    }

    #[test]
    fn a_local_registry_is_read_from_its_index_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("index/3/b/bar");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            concat!(
                r#"{"name":"bar","vers":"0.1.0","deps":[],"cksum":"0000000000000000000000000000000000000000000000000000000000000000","features":{},"yanked":true}"#,
                "\n",
                r#"{"name":"bar","vers":"0.1.1","deps":[],"cksum":"0000000000000000000000000000000000000000000000000000000000000000","features":{},"yanked":false}"#,
                "\n",
            ),
        )
        .unwrap();
        let reader = Reader::Local(dir.path().to_owned());
        let bar = |version: &str| LockedPackage {
            name: "bar".into(),
            version: version.into(),
            source: CRATES_IO_SOURCE.into(),
        };
        let names = ["bar", "baz"].into_iter().collect();
        let entries = reader.entries_of(&names, dir.path()).unwrap();
        let yanked = |p: &LockedPackage| {
            entries
                .get(p.name.as_str())
                .is_some_and(|listed| lists_as_yanked(listed, p))
        };
        assert!(yanked(&bar("0.1.0")));
        assert!(!yanked(&bar("0.1.1")));
        assert!(!yanked(&bar("0.2.0")));
        let unknown = LockedPackage {
            name: "baz".into(),
            ..bar("0.1.0")
        };
        assert!(entries["baz"].is_empty());
        assert!(!yanked(&unknown));
    }
}
