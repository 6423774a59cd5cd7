//! The publish metadata JSON (spec §7.2), derived from the archive itself: its normalised
//! `Cargo.toml` is the publish form cargo derives the metadata from, and the readme it names is the
//! file the archive carries, so what we describe is exactly what we upload.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use gantry_package::{CRATES_IO_INDEX, same_index};
use gantry_package::{DepKind, publish_deps};
use gantry_protocol::{DependencyKind, NewCrate, NewCrateDependency};
use toml::{Table, Value};

/// The entries of the archive at `path` whose package-relative paths are in `wanted`; the scan
/// stops once all are found, so a large archive is not decompressed for nothing.
fn read_entries(
    path: &Path,
    name: &str,
    version: &str,
    wanted: &BTreeSet<String>,
) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut found = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    let failed = || format!("failed to read `{}`", path.display());
    let file = std::fs::File::open(path)
        .with_context(|| format!("failed to open `{}`", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let prefix = format!("{name}-{version}/");
    for entry in archive.entries().with_context(failed)? {
        let mut entry = entry.with_context(failed)?;
        let entry_path = entry.path()?.to_string_lossy().into_owned();
        let Some(rel) = entry_path.strip_prefix(&prefix) else {
            continue;
        };
        if !wanted.contains(rel) {
            continue;
        }
        let rel = rel.to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).with_context(failed)?;
        found.insert(rel, bytes);
        if found.len() == wanted.len() {
            break;
        }
    }
    Ok(found)
}

/// How dependencies' registries are spelt relative to the registry being published to.
pub(crate) struct RegistryContext<'a> {
    /// Index URL of the target (as configured, `sparse+` kept).
    pub target_index: &'a str,
    pub target_is_crates_io: bool,
}

impl<'a> RegistryContext<'a> {
    /// The context of a publish to `target`.
    pub(crate) fn of(target: &'a crate::remote::Target) -> Self {
        RegistryContext {
            target_index: target.canonical_url(),
            target_is_crates_io: target.is_crates_io(),
        }
    }
}

/// Builds the `NewCrate` for the archive at `crate_path`, whose `Cargo.toml` is `manifest_text`.
pub(crate) fn new_crate(
    crate_path: &Path,
    manifest_text: &str,
    name: &str,
    version: &str,
    reg: &RegistryContext,
) -> anyhow::Result<NewCrate> {
    let manifest: Table = toml::from_str(manifest_text)
        .with_context(|| format!("failed to parse the packaged manifest of {name}"))?;
    let empty = Table::new();
    let package = manifest
        .get("package")
        .and_then(Value::as_table)
        .unwrap_or(&empty);
    let string = |key: &str| package.get(key).and_then(Value::as_str).map(str::to_owned);
    let strings = |key: &str| -> Vec<String> {
        package
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let readme_file = string("readme");
    let license_file = string("license-file");
    let in_archive = |p: &String| p.trim_start_matches("./").to_owned();
    let wanted: BTreeSet<String> = readme_file
        .iter()
        .chain(license_file.iter())
        .map(in_archive)
        .collect();
    let files = read_entries(crate_path, name, version, &wanted)?;
    let readme = match &readme_file {
        Some(path) => Some(
            files
                .get(path.trim_start_matches("./"))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .ok_or_else(|| {
                    anyhow!("failed to read `readme` file for package `{name} v{version}`")
                })?,
        ),
        None => None,
    };
    if let Some(lf) = &license_file
        && !files.contains_key(lf.trim_start_matches("./"))
    {
        bail!("the license file `{lf}` does not exist");
    }
    Ok(NewCrate {
        name: name.to_owned(),
        vers: version.to_owned(),
        deps: dependencies(name, manifest_text, reg)?,
        features: string_lists(manifest.get("features")),
        authors: strings("authors"),
        description: string("description"),
        documentation: string("documentation"),
        homepage: string("homepage"),
        readme,
        readme_file,
        keywords: strings("keywords"),
        categories: strings("categories"),
        license: string("license"),
        license_file,
        repository: string("repository"),
        badges: badges(manifest.get("badges")),
        links: string("links"),
        rust_version: string("rust-version"),
    })
}

fn string_lists(value: Option<&Value>) -> BTreeMap<String, Vec<String>> {
    let Some(table) = value.and_then(Value::as_table) else {
        return BTreeMap::new();
    };
    table
        .iter()
        .map(|(k, v)| {
            let list = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            (k.clone(), list)
        })
        .collect()
}

fn badges(value: Option<&Value>) -> BTreeMap<String, BTreeMap<String, String>> {
    let Some(table) = value.and_then(Value::as_table) else {
        return BTreeMap::new();
    };
    table
        .iter()
        .filter_map(|(k, v)| {
            let inner = v.as_table()?;
            let attrs = inner
                .iter()
                .filter_map(|(a, s)| Some((a.clone(), s.as_str()?.to_owned())))
                .collect();
            Some((k.clone(), attrs))
        })
        .collect()
}

/// The publish metadata's dependencies: the archive's manifest as a registry sees it (shared with
/// the overlay's index lines), with each dependency's registry spelt relative to the target.
fn dependencies(
    name: &str,
    manifest_text: &str,
    reg: &RegistryContext,
) -> anyhow::Result<Vec<NewCrateDependency>> {
    let deps = publish_deps(name, manifest_text)?;
    Ok(deps
        .into_iter()
        .map(|d| NewCrateDependency {
            optional: d.optional,
            default_features: d.default_features,
            name: d.package,
            features: d.features,
            version_req: d.req,
            target: d.target,
            kind: match d.kind {
                DepKind::Normal => DependencyKind::Normal,
                DepKind::Dev => DependencyKind::Dev,
                DepKind::Build => DependencyKind::Build,
            },
            registry: match d.registry_index {
                Some(url) if same_index(&url, reg.target_index) => None,
                Some(url) => Some(url),
                None if reg.target_is_crates_io => None,
                None => Some(CRATES_IO_INDEX.to_owned()),
            },
            explicit_name_in_toml: d.rename,
            artifact: d.artifact,
            bindep_target: d.bindep_target,
            lib: d.lib,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_sent_as_cargo_platform_renders_it() {
        let reg = RegistryContext {
            target_index: "sparse+http://r/index/",
            target_is_crates_io: false,
        };
        let manifest = "[target.'cfg(target_os=\"hermit\")'.dependencies.h]\nversion = \"1\"\n\n[dependencies.a]\nversion = \"0.1\"\nregistry-index = \"sparse+http://r/index\"\n";
        let deps = dependencies("p", manifest, &reg).unwrap();
        assert_eq!(deps[0].name, "a");
        assert_eq!(deps[0].registry, None);
        assert_eq!(
            deps[1].target.as_deref(),
            Some("cfg(target_os = \"hermit\")")
        );
        assert_eq!(deps[1].registry.as_deref(), Some(CRATES_IO_INDEX));
    }
}
