//! Lockfiles that need no resolver. A package with no dependencies of any kind has exactly one
//! resolution, itself; writing it here saves a `cargo` process per package, which dominates the time
//! of packaging a large workspace. As soon as there is a dependency — even on a sibling packaged in
//! the same run — the registry may offer other candidates (a newer compatible version beside the
//! sibling's new archive), so cargo's resolver decides.

use crate::publish_deps::publish_deps;

/// The lockfile body (without the leading comment lines) for `name`/`version`, or `None` when a
/// real resolution is needed. `lock_version` is the format to write.
pub(super) fn direct_lock(
    name: &str,
    version: &str,
    manifest: &str,
    lock_version: u32,
) -> Option<String> {
    if lock_version < 3 || !publish_deps(name, manifest).ok()?.is_empty() {
        return None;
    }
    Some(format!(
        "version = {lock_version}\n\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
    ))
}

/// The lockfile format cargo writes: the existing workspace lockfile's, else derived from the
/// package's `rust-version` (none → 4). `None` for formats this module does not write.
pub(super) fn lock_version(
    workspace_lock: Option<&str>,
    rust_version: Option<&str>,
) -> Option<u32> {
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
            direct_lock("foo", "0.1.0", "[package]\nname = \"foo\"\n", 4).as_deref(),
            Some("version = 4\n\n[[package]]\nname = \"foo\"\nversion = \"0.1.0\"\n")
        );
        let with_dep = "[dependencies.serde]\nversion = \"1\"\n";
        assert_eq!(direct_lock("foo", "0.1.0", with_dep, 4), None);
        let dev_dep = "[dev-dependencies.sibling]\nversion = \"0.1\"\n";
        assert_eq!(direct_lock("foo", "0.1.0", dev_dep, 4), None);
        assert_eq!(direct_lock("foo", "0.1.0", "", 2), None);
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
