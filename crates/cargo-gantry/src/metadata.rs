//! The publish metadata JSON (spec §7.2), derived from the archive itself: its normalised
//! `Cargo.toml` is the publish form cargo derives the metadata from, and the readme it names is the
//! file the archive carries, so what we describe is exactly what we upload.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
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
pub struct RegistryContext<'a> {
    /// Index URL of the target (as configured, `sparse+` kept).
    pub target_index: &'a str,
    pub target_is_crates_io: bool,
}

/// Builds the `NewCrate` for the archive at `crate_path`, whose `Cargo.toml` is `manifest_text`.
pub fn new_crate(
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
        deps: dependencies(&manifest, reg)?,
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

fn dependencies(
    manifest: &Table,
    reg: &RegistryContext,
) -> anyhow::Result<Vec<NewCrateDependency>> {
    let mut out = Vec::new();
    let sections = |t: &Table, target: Option<&str>, kinds: &[(&str, DependencyKind)]| {
        let mut deps = Vec::new();
        for (key, kind) in kinds {
            if let Some(table) = t.get(*key).and_then(Value::as_table) {
                let mut names: Vec<&String> = table.keys().collect();
                names.sort();
                for n in names {
                    deps.push(dependency(n, &table[n], target, *kind, reg));
                }
            }
        }
        deps
    };
    use DependencyKind::{Build, Dev, Normal};
    for d in sections(
        manifest,
        None,
        &[
            ("dependencies", Normal),
            ("dev-dependencies", Dev),
            ("build-dependencies", Build),
        ],
    ) {
        out.push(d?);
    }
    if let Some(targets) = manifest.get("target").and_then(Value::as_table) {
        let mut platforms: Vec<&String> = targets.keys().collect();
        platforms.sort();
        for p in platforms {
            let Some(t) = targets[p].as_table() else {
                continue;
            };
            for d in sections(
                t,
                Some(p),
                &[
                    ("dependencies", Normal),
                    ("build-dependencies", Build),
                    ("dev-dependencies", Dev),
                ],
            ) {
                out.push(d?);
            }
        }
    }
    Ok(out)
}

fn dependency(
    key: &str,
    value: &Value,
    target: Option<&str>,
    kind: DependencyKind,
    reg: &RegistryContext,
) -> anyhow::Result<NewCrateDependency> {
    let empty = Table::new();
    let (version, table) = match value {
        Value::String(v) => (Some(v.as_str()), &empty),
        Value::Table(t) => (t.get("version").and_then(Value::as_str), t),
        _ => bail!("invalid dependency `{key}` in the packaged manifest"),
    };
    let req = version.unwrap_or("*");
    let version_req = semver::VersionReq::parse(req)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| req.to_owned());
    let get_bool = |k: &str| table.get(k).and_then(Value::as_bool);
    let package = table.get("package").and_then(Value::as_str);
    let registry = match table.get("registry-index").and_then(Value::as_str) {
        Some(url) if same_index(url, reg.target_index) => None,
        Some(url) => Some(url.to_owned()),
        None if reg.target_is_crates_io => None,
        None => Some(crate::remote::CRATES_IO_CANONICAL.to_owned()),
    };
    let artifact = match table.get("artifact") {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    };
    Ok(NewCrateDependency {
        optional: get_bool("optional").unwrap_or(false),
        default_features: get_bool("default-features")
            .or_else(|| get_bool("default_features"))
            .unwrap_or(true),
        name: package.unwrap_or(key).to_owned(),
        features: table
            .get("features")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        version_req,
        target: target.map(str::to_owned),
        kind,
        registry,
        explicit_name_in_toml: package.map(|_| key.to_owned()),
        bindep_target: artifact.as_ref().and(
            table
                .get("target")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        artifact,
        lib: get_bool("lib").unwrap_or(false),
    })
}

fn same_index(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim_start_matches("sparse+")
            .trim_start_matches("registry+")
            .trim_end_matches('/')
            .to_owned()
    };
    norm(a) == norm(b)
}
