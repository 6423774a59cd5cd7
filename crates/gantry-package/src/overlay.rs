//! The local overlay of freshly packaged workspace crates (spec §9): when `a` depends on sibling `b`
//! and both are being packaged, `a`'s lockfile and verification build must see `b` exactly as its
//! new archive, "as if published" to the target registry.
//!
//! Cargo does this with an internal overlay source. The `cargo` binary offers no such source, so we
//! give it `[patch.<registry>]` entries pointing at each unpacked archive and then rewrite the
//! resulting lockfile so those packages carry the upstream registry source and the archive's
//! checksum — which is precisely what cargo's overlay produces.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::unpack::{UnpackError, unpack_crate};

/// The registry the overlay stands in front of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// How `[patch]` names it: `crates-io`, a registry name, or an index URL.
    pub patch_key: String,
    /// The lockfile `source` of packages from it, e.g.
    /// `registry+https://github.com/rust-lang/crates.io-index` or `sparse+http://host/index/`.
    pub lock_source: String,
}

impl Upstream {
    pub fn crates_io() -> Self {
        Upstream {
            patch_key: "crates-io".into(),
            lock_source: "registry+https://github.com/rust-lang/crates.io-index".into(),
        }
    }

    /// An alternative registry named `name` whose index URL is `index` (as configured).
    pub fn named(name: &str, index: &str) -> Self {
        Upstream {
            patch_key: name.to_owned(),
            lock_source: lock_source_for_index(index),
        }
    }

    /// A registry given by `--index URL`.
    pub fn url(index: &str) -> Self {
        Upstream {
            patch_key: index.to_owned(),
            lock_source: lock_source_for_index(index),
        }
    }
}

/// Lockfiles record sparse registries with their `sparse+` URL and git ones as `registry+URL`.
pub fn lock_source_for_index(index: &str) -> String {
    if index.starts_with("sparse+") || index.starts_with("registry+") {
        index.to_owned()
    } else {
        format!("registry+{index}")
    }
}

#[derive(Debug, Clone)]
struct OverlayCrate {
    checksum: String,
    crate_file: PathBuf,
    /// Unpacked on first use: only a cargo-run resolution or build needs the files.
    dir: OnceCell<PathBuf>,
    /// Package names of its normal and build dependencies (dev-dependencies of a dependency never
    /// take part in resolution).
    deps: Vec<String>,
    /// Its publish-form manifest, for building lockfiles without a resolver.
    manifest: String,
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
    Unpack(#[from] UnpackError),
}

#[derive(Debug, Clone)]
pub struct Overlay {
    upstream: Upstream,
    root: PathBuf,
    crates: BTreeMap<(String, String), OverlayCrate>,
}

impl Overlay {
    /// An empty overlay whose crates are unpacked (when needed) under `root`.
    pub fn new(upstream: Upstream, root: PathBuf) -> Result<Self, OverlayError> {
        fs::create_dir_all(&root).map_err(|source| OverlayError::Io {
            path: root.clone(),
            source,
        })?;
        Ok(Overlay {
            upstream,
            root,
            crates: BTreeMap::new(),
        })
    }

    /// Where the overlay's crates are unpacked.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn is_empty(&self) -> bool {
        self.crates.is_empty()
    }

    /// Adds a freshly written archive and its publish-form manifest (the archive's `Cargo.toml`).
    pub fn add(
        &mut self,
        name: &str,
        version: &str,
        crate_file: &Path,
        checksum: &str,
        manifest: &str,
    ) {
        self.crates.insert(
            (name.to_owned(), version.to_owned()),
            OverlayCrate {
                checksum: checksum.to_owned(),
                crate_file: crate_file.to_owned(),
                dir: OnceCell::new(),
                deps: dependency_names(manifest, false),
                manifest: manifest.to_owned(),
            },
        );
    }

    /// `--config` arguments that make cargo resolve overlay crates from their unpacked archives, for
    /// a package whose publish-form manifest is `manifest`. Only crates reachable from it are
    /// patched: cargo warns about (and records) patches that end up unused.
    pub fn config_args_for(
        &self,
        manifest: &str,
        include_dev: bool,
    ) -> Result<Vec<String>, OverlayError> {
        let mut wanted: Vec<String> = dependency_names(manifest, include_dev);
        let mut chosen: BTreeMap<&(String, String), &OverlayCrate> = BTreeMap::new();
        while let Some(name) = wanted.pop() {
            for (key, c) in self.crates.iter().filter(|(k, _)| k.0 == name) {
                if chosen.insert(key, c).is_none() {
                    wanted.extend(c.deps.iter().cloned());
                }
            }
        }
        let patch = toml_key(&self.upstream.patch_key);
        let mut args = Vec::with_capacity(chosen.len());
        for ((name, version), c) in chosen {
            let dir = match c.dir.get() {
                Some(dir) => dir.clone(),
                None => {
                    let dir = unpack_crate(&c.crate_file, &self.root, name, version)?;
                    c.dir.get_or_init(|| dir).clone()
                }
            };
            let path = toml::Value::String(dir.to_string_lossy().into_owned());
            args.push(format!("patch.{patch}.{}.path={path}", toml_key(name)));
        }
        Ok(args)
    }

    /// Overlay crates named `name`: (version, publish-form manifest).
    pub fn candidates<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.crates
            .iter()
            .filter(move |(k, _)| k.0 == name)
            .map(|(k, c)| (k.1.as_str(), c.manifest.as_str()))
    }

    /// Rewrites a lockfile resolved with [`config_args_for`](Self::config_args_for) into what cargo's overlay
    /// produces: overlay packages get the upstream `source` and their archive's `checksum`, and the
    /// `[[patch.unused]]` bookkeeping (an artefact of patching) is dropped.
    pub fn rewrite_lock(&self, lock: &str, root_name: &str) -> String {
        let mut out = String::with_capacity(lock.len() + 256);
        for block in split_blocks(lock) {
            if block.starts_with("[[patch.unused]]") {
                continue;
            }
            if block.starts_with("[[package]]")
                && !block.contains("\nsource = ")
                && let Some(fixed) = self.add_source(block, root_name)
            {
                out.push_str(&fixed);
                continue;
            }
            out.push_str(block);
        }
        // Dropping a trailing block can leave a double blank line at the end.
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }

    fn add_source(&self, block: &str, root_name: &str) -> Option<String> {
        let name = field(block, "name")?;
        let version = field(block, "version")?;
        if name == root_name {
            return None;
        }
        let krate = self.crates.get(&(name.to_owned(), version.to_owned()))?;
        let version_line = format!("version = \"{version}\"\n");
        let at = block.find(&version_line)? + version_line.len();
        let mut fixed = String::with_capacity(block.len() + 128);
        fixed.push_str(&block[..at]);
        fixed.push_str(&format!("source = \"{}\"\n", self.upstream.lock_source));
        fixed.push_str(&format!("checksum = \"{}\"\n", krate.checksum));
        fixed.push_str(&block[at..]);
        Some(fixed)
    }
}

/// One dependency entry of a publish-form manifest.
pub(crate) struct DepSpec {
    pub package: String,
    pub req: Option<String>,
    /// Declared against another registry: never served by the overlay.
    pub elsewhere: bool,
}

/// Every dependency of a publish-form manifest, from the top-level and per-target tables (renames
/// resolved through `package = …`); dev-dependencies only when asked, since a dependency's own
/// dev-dependencies never take part in resolution. `None` if the manifest does not parse.
pub(crate) fn dep_specs(manifest: &str, include_dev: bool) -> Option<Vec<DepSpec>> {
    let doc: toml::Table = manifest.parse().ok()?;
    let mut kinds = vec!["dependencies", "build-dependencies", "build_dependencies"];
    if include_dev {
        kinds.extend(["dev-dependencies", "dev_dependencies"]);
    }
    let per_target = doc
        .get("target")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flat_map(|t| t.values().filter_map(toml::Value::as_table));
    let mut specs = Vec::new();
    for table in std::iter::once(&doc).chain(per_target) {
        for kind in &kinds {
            let Some(deps) = table.get(*kind).and_then(toml::Value::as_table) else {
                continue;
            };
            for (key, value) in deps {
                specs.push(match value {
                    toml::Value::String(req) => DepSpec {
                        package: key.clone(),
                        req: Some(req.clone()),
                        elsewhere: false,
                    },
                    toml::Value::Table(t) => DepSpec {
                        package: t
                            .get("package")
                            .and_then(|p| p.as_str())
                            .unwrap_or(key)
                            .to_owned(),
                        req: t.get("version").and_then(|v| v.as_str()).map(str::to_owned),
                        elsewhere: t.contains_key("registry-index") || t.contains_key("registry"),
                    },
                    _ => return None,
                });
            }
        }
    }
    Some(specs)
}

/// Package names a manifest depends on, sorted and deduplicated (see [`dep_specs`]).
pub fn dependency_names(manifest: &str, include_dev: bool) -> Vec<String> {
    let mut names: Vec<String> = dep_specs(manifest, include_dev)
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.package)
        .collect();
    names.sort();
    names.dedup();
    names
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

/// A dotted-key segment: bare when TOML allows, else quoted.
pub(crate) fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_owned()
    } else {
        toml::Value::String(key.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"b\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"0.2.0\"\n\n[[patch.unused]]\nname = \"c\"\nversion = \"0.3.0\"\n";

    #[test]
    fn overlay_packages_get_upstream_source_and_checksum() {
        let tmp = tempfile::tempdir().unwrap();
        let mut overlay = Overlay::new(Upstream::crates_io(), tmp.path().join("o")).unwrap();
        overlay.crates.insert(
            ("b".into(), "0.2.0".into()),
            OverlayCrate {
                checksum: "ab12".into(),
                crate_file: PathBuf::new(),
                dir: OnceCell::from(tmp.path().join("o/b-0.2.0")),
                deps: vec![],
                manifest: String::new(),
            },
        );
        let fixed = overlay.rewrite_lock(LOCK, "a");
        assert_eq!(
            fixed,
            "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"b\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ab12\"\n"
        );
        let args = overlay
            .config_args_for("[dependencies.b]\nversion = \"0.2\"\n", false)
            .unwrap();
        assert!(
            overlay
                .config_args_for("[dev-dependencies.b]\nversion = \"0.2\"\n", false)
                .unwrap()
                .is_empty()
        );
        assert!(
            overlay
                .config_args_for("[package]\nname = \"b\"\n", true)
                .unwrap()
                .is_empty()
        );
        assert_eq!(args.len(), 1);
        assert!(
            args[0].starts_with("patch.crates-io.b.path=\""),
            "{}",
            args[0]
        );
    }

    #[test]
    fn dependency_names_follow_renames_and_targets() {
        let m = "[dependencies.x]\nversion = \"1\"\npackage = \"real\"\n\n[dev-dependencies.d]\nversion = \"1\"\n\n[target.\"cfg(unix)\".build-dependencies.t]\nversion = \"1\"\n";
        assert_eq!(dependency_names(m, false), ["real", "t"]);
        assert_eq!(dependency_names(m, true), ["d", "real", "t"]);
    }

    #[test]
    fn index_urls_are_quoted_patch_keys() {
        assert_eq!(
            toml_key("sparse+http://x/index/"),
            "\"sparse+http://x/index/\""
        );
        assert_eq!(
            lock_source_for_index("https://example.com/git-index"),
            "registry+https://example.com/git-index"
        );
        assert_eq!(
            lock_source_for_index("sparse+http://x/"),
            "sparse+http://x/"
        );
    }
}
