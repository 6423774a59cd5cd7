//! Which files of a package go into its `.crate` (spec §2.1–2.5).
//!
//! Two listing modes exist, chosen like cargo does: when the package has no `include` list and its
//! `Cargo.toml` is in a git index, git decides (tracked + untracked-not-ignored files); otherwise the
//! directory tree is walked. Both modes then apply the same include/exclude filter, which uses
//! gitignore semantics via the `ignore` crate exactly as cargo does.

mod filter;
mod git;
pub(crate) use git::repo_relative as git_repo_relative;
mod walk;

use std::path::{Path, PathBuf};

use crate::report::Reporter;

pub(crate) use filter::Filter;

/// What [`list_files`] needs to know about a package.
#[derive(Debug, Clone, Copy)]
pub struct ListOptions<'a> {
    /// Directory of the package's `Cargo.toml`, as the user spelled it (never canonicalised for
    /// output: listed paths start with it).
    pub pkg_root: &'a Path,
    /// `package.include` patterns.
    pub include: &'a [String],
    /// `package.exclude` patterns (ignored when `include` is non-empty).
    pub exclude: &'a [String],
}

/// The source files of a package, before generated files are added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Absolute paths under `pkg_root` (files in symlinked directories appear under the link's
    /// path), in discovery order. Paths that will fail later (dangling symlinks) are kept.
    pub files: Vec<PathBuf>,
    /// `Some(workdir)` when git decided the listing.
    pub git_workdir: Option<PathBuf>,
}

/// Why the file list could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// An `include`/`exclude` entry is not a valid gitignore pattern.
    #[error("{0}")]
    Pattern(String),
    /// The directory walk failed on something that has no path to keep.
    #[error("{0}")]
    Walk(String),
    /// gix could not read the repository that holds the package.
    #[error("{0}")]
    Git(String),
}

/// Lists the files of a package (spec §2.1–2.5). Walk warnings ("File system loop found: …") go
/// to `reporter`.
pub fn list_files(opts: &ListOptions, reporter: &dyn Reporter) -> Result<Listing, FilesError> {
    let root = opts.pkg_root;
    let repo = if opts.include.is_empty() {
        git::discover_listing_repo(root)
    } else {
        None
    };
    let filter = Filter::new(root, opts.include, opts.exclude, repo.is_none())?;
    let mut files = Vec::new();
    match repo {
        Some(found) => {
            let workdir = found.repo.workdir().map(Path::to_path_buf);
            git::list(
                &found.repo,
                root,
                &found.pkg_rel,
                &filter,
                &mut files,
                reporter,
            )?;
            Ok(Listing {
                files,
                git_workdir: workdir,
            })
        }
        None => {
            walk::walk(root, true, &filter, &mut files, reporter)?;
            Ok(Listing {
                files,
                git_workdir: None,
            })
        }
    }
}
