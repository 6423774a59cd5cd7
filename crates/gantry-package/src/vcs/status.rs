//! One `git status` per repository (and per initialised submodule), reduced to the set of paths
//! that count as dirty for packaging (spec §5.2).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use gix::bstr::{BString, ByteSlice};

use super::VcsError;

/// Paths (absolute, under the canonical workdir) that differ from `HEAD`, are untracked or ignored.
/// Collapsed untracked/ignored directories appear as the directory path.
#[derive(Debug, Default)]
pub(super) struct DirtySet {
    pub paths: HashSet<PathBuf>,
    /// Workdir-relative paths reported as ignored (for the "manifest is ignored" check).
    pub ignored: Vec<BString>,
}

impl DirtySet {
    /// Whether `path` or one of its ancestors (down to `stop`) is dirty.
    pub(super) fn covers(&self, path: &Path, stop: &Path) -> bool {
        if self.paths.is_empty() {
            return false;
        }
        path.ancestors()
            .take_while(|p| p.starts_with(stop) && *p != stop)
            .any(|p| self.paths.contains(p))
    }
}

/// Adds the status of `repo` limited to `patterns` (empty = whole repo) to `out`.
pub(super) fn collect(
    repo: &gix::Repository,
    workdir: &Path,
    patterns: Vec<BString>,
    out: &mut DirtySet,
) -> Result<(), VcsError> {
    use gix::status::{Item, index_worktree::Item as Iw};
    let err = |e: &dyn std::fmt::Display| VcsError::Git(e.to_string());
    let iter = repo
        .status(gix::progress::Discard)
        .map_err(|e| err(&e))?
        .untracked_files(gix::status::UntrackedFiles::Collapsed)
        // Submodules are checked by recursing into them, file by file.
        .index_worktree_submodules(None)
        .index_worktree_rewrites(None)
        .tree_index_track_renames(gix::status::tree_index::TrackRenames::Disabled)
        .dirwalk_options(|o| o.emit_ignored(Some(gix::dir::walk::EmissionMode::CollapseDirectory)))
        .into_iter(patterns)
        .map_err(|e| err(&e))?;
    for item in iter {
        let item = item.map_err(|e| err(&e))?;
        let rela: &[u8] = match &item {
            Item::IndexWorktree(iw) => match iw {
                Iw::DirectoryContents { entry, .. } => match entry.status {
                    gix::dir::entry::Status::Untracked => entry.rela_path.as_slice(),
                    gix::dir::entry::Status::Ignored(_) => {
                        // An ignored lockfile is fine: cargo generates its own.
                        if entry.rela_path.ends_with(b"Cargo.lock") {
                            continue;
                        }
                        out.ignored.push(entry.rela_path.clone());
                        entry.rela_path.as_slice()
                    }
                    _ => continue,
                },
                other => {
                    if other.summary().is_none() {
                        continue;
                    }
                    other.rela_path().as_bytes()
                }
            },
            // A submodule whose entry differs between `HEAD` and the index (added, or moved to
            // another commit, and not yet committed in this repository) is dirty as a whole: its
            // path covers every file under it, as in cargo, whatever the submodule's own status
            // says about them.
            Item::TreeIndex(change) => change.location().as_bytes(),
        };
        if let Ok(rel) = gix::path::try_from_byte_slice(rela) {
            out.paths.insert(workdir.join(rel));
        }
    }
    Ok(())
}

/// Adds the full status of every initialised submodule (recursively) to `out`.
pub(super) fn collect_submodules(
    repo: &gix::Repository,
    out: &mut DirtySet,
) -> Result<(), VcsError> {
    let Ok(Some(submodules)) = repo.submodules() else {
        return Ok(());
    };
    for sm in submodules {
        // Uninitialised submodules don't open; if their files were needed, verification fails.
        let Ok(Some(sub)) = sm.open() else { continue };
        let Some(workdir) = sub.workdir().and_then(|w| w.canonicalize().ok()) else {
            continue;
        };
        collect_submodules(&sub, out)?;
        let mut sub_set = DirtySet::default();
        collect(&sub, &workdir, Vec::new(), &mut sub_set)?;
        out.paths.extend(sub_set.paths);
    }
    Ok(())
}
