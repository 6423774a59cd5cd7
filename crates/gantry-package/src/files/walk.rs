//! Walk-based listing (spec §2.3): follows symlinks, prunes nested packages and the root `target/`.

use std::path::Path;

use super::{FilesError, Filter};
use crate::report::Reporter;

/// Appends the files under `dir` that pass `filter` to `out`.
///
/// `is_root` is true when `dir` is the package root itself; git-based listing also calls this for
/// directories it cannot list with git (symlinked dirs), where `dir` is filtered like any entry.
pub(super) fn walk(
    dir: &Path,
    is_root: bool,
    filter: &Filter,
    out: &mut Vec<std::path::PathBuf>,
    reporter: &dyn Reporter,
) -> Result<(), FilesError> {
    let entries = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .contents_first(false)
        .into_iter()
        .filter_entry(|entry| {
            let path = entry.path();
            let at_root = is_root && entry.depth() == 0;
            let is_dir = entry.file_type().is_dir();
            if !at_root && !filter.accepts(path, is_dir) {
                return false;
            }
            if !is_dir {
                return true;
            }
            // A directory with its own manifest is another package.
            if !at_root && path.join("Cargo.toml").exists() {
                return false;
            }
            // Only the root `target` is cargo's output; others are ordinary sources.
            !(is_root && entry.depth() == 1 && entry.file_name() == "target")
        });
    for entry in entries {
        match entry {
            Ok(entry) => {
                let ty = entry.file_type();
                if ty.is_file() || ty.is_symlink() {
                    out.push(entry.into_path());
                }
            }
            Err(err) if err.loop_ancestor().is_some() => reporter.warning(&err.to_string()),
            Err(err) => match err.path() {
                // Excluded paths may fail as they like (a dangling but excluded symlink).
                Some(path) if !filter.accepts(path, path.is_dir()) => {}
                // Kept so that archiving reports the real I/O error for it.
                Some(path) => out.push(path.to_path_buf()),
                None => return Err(FilesError::Walk(err.to_string())),
            },
        }
    }
    Ok(())
}
