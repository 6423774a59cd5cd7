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
