//! Lexical path helpers. Cargo never canonicalises manifest paths (a symlinked directory must keep
//! its spelling in messages), so everything here works on path components only.

use std::path::{Component, Path, PathBuf};

/// Removes `.` components and resolves `..` against the preceding normal component, without
/// touching the file system (cargo's `normalize_path`).
pub fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(p) => out.push(p.as_os_str()),
            Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                let popped = matches!(out.components().next_back(), Some(Component::Normal(_)));
                if popped {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            Component::Normal(c) => out.push(c),
        }
    }
    out
}

/// cargo's test hook (cargo-util's `PathAncestors`): cargo's own test suite sets
/// `__CARGO_TEST_ROOT` to the directory holding its test projects, and cargo's upward searches
/// (workspace root, manifest, `.cargo/config.toml`) end there, so tests placed under some other
/// workspace stay alone. Users never set it; without it this is `dir.ancestors()`.
pub const TEST_ROOT_HOOK: &str = "__CARGO_TEST_ROOT";

/// `dir` and its ancestors, up to and including the test hook's root when `dir` is below it.
pub fn ancestors(dir: &Path) -> impl Iterator<Item = &Path> {
    ancestors_until(dir, std::env::var_os(TEST_ROOT_HOOK).map(PathBuf::from))
}

/// [`ancestors`] with an explicit stop directory.
pub fn ancestors_until(dir: &Path, stop: Option<PathBuf>) -> impl Iterator<Item = &Path> {
    let mut past_stop = false;
    dir.ancestors().take_while(move |p| {
        let take = !past_stop;
        past_stop |= stop.as_deref() == Some(*p);
        take
    })
}

/// `path` expressed relative to `base` (both absolute and normalised), e.g. `../README.md`.
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path
        .iter()
        .zip(base.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &path[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// A relative path with `/` separators, as cargo writes paths into the published manifest.
pub fn slash_string(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Package-relative `/` path of `abs` if it lies inside `root`.
pub fn rel_inside(abs: &Path, root: &Path) -> Option<String> {
    abs.strip_prefix(root).ok().map(slash_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_end_at_the_test_root() {
        let dir = Path::new("/a/root/t/foo");
        let all: Vec<&Path> = ancestors_until(dir, None).collect();
        assert_eq!(all.len(), 5);
        let stopped: Vec<&Path> = ancestors_until(dir, Some("/a/root".into())).collect();
        assert_eq!(stopped, [dir, Path::new("/a/root/t"), Path::new("/a/root")]);
        let elsewhere: Vec<&Path> = ancestors_until(dir, Some("/b".into())).collect();
        assert_eq!(elsewhere.len(), 5);
    }

    #[test]
    fn normalizes_dots() {
        assert_eq!(
            normalize_path(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize_path(Path::new("../x")), PathBuf::from("../x"));
    }

    #[test]
    fn relative() {
        assert_eq!(
            relative_to(Path::new("/ws/README.md"), Path::new("/ws/foo")),
            PathBuf::from("../README.md")
        );
        assert_eq!(
            relative_to(Path::new("/ws/foo/x"), Path::new("/ws/foo")),
            PathBuf::from("x")
        );
    }
}
