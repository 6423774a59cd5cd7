//! The include/exclude predicate shared by both listing modes (spec §2.2, §2.5).

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::FilesError;

/// Decides whether a path under the package root belongs to the package.
#[derive(Debug)]
pub(crate) struct Filter {
    root: PathBuf,
    rules: Rules,
}

#[derive(Debug)]
enum Rules {
    /// `include` given: a file is kept iff it (or a parent) matches; directories always pass.
    Include(Gitignore),
    /// No `include`: a path is dropped iff it (or a parent) matches `exclude`.
    Exclude(Gitignore),
}

impl Filter {
    /// `walk_mode` adds the implicit `.*` exclude cargo uses when git does not decide the listing.
    pub(crate) fn new(
        root: &Path,
        include: &[String],
        exclude: &[String],
        walk_mode: bool,
    ) -> Result<Filter, FilesError> {
        let rules = if include.is_empty() {
            let implicit: &[&str] = if walk_mode { &[".*"] } else { &[] };
            let patterns = implicit
                .iter()
                .copied()
                .chain(exclude.iter().map(String::as_str));
            Rules::Exclude(build(root, patterns)?)
        } else {
            Rules::Include(build(root, include.iter().map(String::as_str))?)
        };
        Ok(Filter {
            root: root.to_path_buf(),
            rules,
        })
    }

    /// The package root the filter is anchored at.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `path` (absolute, as listed) is part of the package.
    pub(crate) fn accepts(&self, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return false;
        };
        if rel.as_os_str() == "Cargo.lock" || rel.as_os_str() == "Cargo.toml" {
            return true;
        }
        self.accepts_relative(rel, is_dir)
    }

    /// Like [`Filter::accepts`] for a path already relative to the package root.
    pub(crate) fn accepts_relative(&self, rel: &Path, is_dir: bool) -> bool {
        if rel.as_os_str().is_empty() {
            return true;
        }
        match &self.rules {
            Rules::Exclude(m) => !m.matched_path_or_any_parents(rel, is_dir).is_ignore(),
            Rules::Include(m) => is_dir || m.matched_path_or_any_parents(rel, false).is_ignore(),
        }
    }
}

fn build<'a>(
    root: &Path,
    patterns: impl Iterator<Item = &'a str>,
) -> Result<Gitignore, FilesError> {
    let mut builder = GitignoreBuilder::new(root);
    for pattern in patterns {
        builder
            .add_line(None, pattern)
            .map_err(|e| FilesError::Pattern(e.to_string()))?;
    }
    builder
        .build()
        .map_err(|e| FilesError::Pattern(e.to_string()))
}
