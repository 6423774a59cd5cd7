//! Lockfiles that need no resolver. When a package has no dependencies, or depends only on
//! workspace siblings that are being packaged with it (the overlay), there is exactly one possible
//! resolution; writing it here saves a `cargo` process per package, which dominates the time of
//! packaging a large workspace. Anything else (a registry dependency, a requirement the sibling
//! does not satisfy, an old lockfile format) returns `None` and goes to cargo.

use std::collections::{BTreeMap, BTreeSet};

use crate::overlay::{DepSpec, Overlay, dep_specs};

/// The lockfile body (without the leading comment lines) for `name`/`version`, or `None` when a
/// real resolution is needed. `lock_version` is the format to write.
pub fn direct_lock(
    name: &str,
    version: &str,
    manifest: &str,
    overlay: Option<&Overlay>,
    lock_version: u32,
) -> Option<String> {
    if lock_version < 3 {
        return None;
    }
    // (name, version) → its dependencies' package names.
    let mut packages: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let root_deps = resolve_deps(&dep_specs(manifest, true)?, overlay, name)?;
    let mut queue: Vec<(String, String)> = root_deps.iter().cloned().collect();
    packages.insert(
        (name.to_owned(), version.to_owned()),
        root_deps.into_iter().map(|(n, _)| n).collect(),
    );
    while let Some(key) = queue.pop() {
        if packages.contains_key(&key) {
            continue;
        }
        let overlay = overlay?;
        let (_, sibling_manifest) = overlay.candidates(&key.0).find(|(v, _)| *v == key.1)?;
        let deps = resolve_deps(&dep_specs(sibling_manifest, false)?, Some(overlay), name)?;
        queue.extend(deps.iter().cloned());
        packages.insert(key, deps.into_iter().map(|(n, _)| n).collect());
    }
    // One version per name: with several, cargo qualifies references by version and the simple
    // writer below would be wrong.
    let names: BTreeSet<&str> = packages.keys().map(|(n, _)| n.as_str()).collect();
    if names.len() != packages.len() {
        return None;
    }
    let mut out = format!("version = {lock_version}\n");
    for ((pkg, ver), deps) in &packages {
        out.push_str(&format!(
            "\n[[package]]\nname = \"{pkg}\"\nversion = \"{ver}\"\n"
        ));
        if !deps.is_empty() {
            out.push_str("dependencies = [\n");
            for d in deps {
                out.push_str(&format!(" \"{d}\",\n"));
            }
            out.push_str("]\n");
        }
    }
    Some(out)
}

/// Matches every dependency to exactly one overlay crate; `None` if any needs a registry.
fn resolve_deps(
    specs: &[DepSpec],
    overlay: Option<&Overlay>,
    root: &str,
) -> Option<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    for spec in specs {
        if spec.elsewhere || spec.package == root {
            return None;
        }
        let req = semver::VersionReq::parse(spec.req.as_deref()?).ok()?;
        let mut matching = overlay?
            .candidates(&spec.package)
            .filter(|(v, _)| semver::Version::parse(v).is_ok_and(|v| req.matches(&v)));
        let (version, _) = matching.next()?;
        if matching.next().is_some() {
            return None;
        }
        out.insert((spec.package.clone(), version.to_owned()));
    }
    Some(out)
}

/// The lockfile format cargo writes: the existing workspace lockfile's, else derived from the
/// package's `rust-version` (none → 4). `None` for formats this module does not write.
pub fn lock_version(workspace_lock: Option<&str>, rust_version: Option<&str>) -> Option<u32> {
    if let Some(text) = workspace_lock {
        // v1 and v2 lockfiles carry no `version` line.
        return text
            .lines()
            .find_map(|l| l.strip_prefix("version = "))
            .and_then(|v| v.trim().parse().ok());
    }
    let Some(rv) = rust_version else {
        return Some(4);
    };
    let mut parts = rv.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    Some(match (major, minor) {
        (1, m) if m >= 83 => 4,
        (1, m) if m >= 53 => 3,
        (1, m) if m >= 41 => 2,
        (0 | 1, _) => 1,
        _ => 4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_without_dependencies() {
        assert_eq!(
            direct_lock("foo", "0.1.0", "[package]\nname = \"foo\"\n", None, 4).as_deref(),
            Some("version = 4\n\n[[package]]\nname = \"foo\"\nversion = \"0.1.0\"\n")
        );
        let with_dep = "[dependencies.serde]\nversion = \"1\"\n";
        assert_eq!(direct_lock("foo", "0.1.0", with_dep, None, 4), None);
        assert_eq!(direct_lock("foo", "0.1.0", "", None, 2), None);
    }

    #[test]
    fn lock_versions() {
        assert_eq!(lock_version(None, None), Some(4));
        assert_eq!(lock_version(None, Some("1.70")), Some(3));
        assert_eq!(lock_version(None, Some("1.83.0")), Some(4));
        assert_eq!(lock_version(None, Some("1.45")), Some(2));
        assert_eq!(
            lock_version(Some("# x\nversion = 3\n"), Some("1.90")),
            Some(3)
        );
        assert_eq!(lock_version(Some("[[package]]\n"), None), None);
    }
}
