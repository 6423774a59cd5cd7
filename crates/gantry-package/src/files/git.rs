//! Git-based listing (spec §2.1, §2.4): git's view of tracked and untracked-not-ignored files,
//! plus files tracked under the root `target/`, with sub-repositories listed recursively.

use std::path::{Path, PathBuf};

use gix::bstr::{BString, ByteSlice, ByteVec};
use gix::dir::entry::{Kind, Status};

use super::{FilesError, Filter, walk};
use crate::report::Reporter;

/// A repository whose index tracks (or stages) the package's `Cargo.toml`.
pub(super) struct ListingRepo {
    pub repo: gix::Repository,
    /// The package root relative to the workdir, `/`-separated, `""` at the workdir root.
    pub pkg_rel: BString,
}

/// Finds the repository above `root` and returns it only if it should decide the listing.
pub(super) fn discover_listing_repo(root: &Path) -> Option<ListingRepo> {
    let repo = gix::discover(root).ok()?;
    let workdir = repo.workdir()?;
    let pkg_rel = repo_relative(root, workdir)?;
    let index = repo.index_or_empty().ok()?;
    let mut manifest = pkg_rel.clone();
    if !manifest.is_empty() {
        manifest.push(b'/');
    }
    manifest.push_str("Cargo.toml");
    index.entry_index_by_path(manifest.as_bstr()).ok()?;
    Some(ListingRepo { repo, pkg_rel })
}

/// `path` relative to `base` with `/` separators, compared canonically like cargo does (either
/// may be spelled through symlinks); falls back to the paths as given if they can't be resolved.
pub(crate) fn repo_relative(path: &Path, base: &Path) -> Option<BString> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let rel = canon(path).strip_prefix(canon(base)).ok()?.to_path_buf();
    let mut out = BString::default();
    for (i, comp) in rel.components().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.push_str(gix::path::into_bstr(Path::new(comp.as_os_str())).as_ref());
    }
    Some(out)
}

/// Appends the package files of `repo` to `out`.
///
/// `base` is where the repository's `pkg_rel` directory lives as spelled by the caller, so that
/// listed paths start with the package root as given (also through symlinks).
pub(super) fn list(
    repo: &gix::Repository,
    base: &Path,
    pkg_rel: &BString,
    filter: &Filter,
    out: &mut Vec<PathBuf>,
    reporter: &dyn Reporter,
) -> Result<(), FilesError> {
    let git_err = |e: &dyn std::fmt::Display| FilesError::Git(e.to_string());
    let options = repo
        .dirwalk_options()
        .map_err(|e| git_err(&e))?
        .emit_untracked(gix::dir::walk::EmissionMode::Matching)
        .emit_ignored(None)
        .emit_tracked(true)
        .recurse_repositories(false)
        .symlinks_to_directories_are_ignored_like_directories(true)
        .emit_empty_directories(false);
    let index = repo.index_or_empty().map_err(|e| git_err(&e))?;
    let mut target_prefix = pkg_rel.clone();
    if !target_prefix.is_empty() {
        target_prefix.push(b'/');
    }
    target_prefix.push_str("target/");
    let mut include = BString::from(":(top)");
    include.push_str(pkg_rel.as_slice());
    let mut exclude = BString::from(":!(exclude,top)");
    exclude.push_str(target_prefix.as_slice());

    let walk = repo
        .dirwalk_iter(
            index.clone(),
            vec![include, exclude],
            Default::default(),
            options,
        )
        .map_err(|e| git_err(&e))?;
    let walked = walk.filter_map(|item| match item {
        Ok(item) => {
            let entry = item.entry;
            // An untracked lockfile is regenerated anyway; never list it.
            let untracked_lock =
                entry.status == Status::Untracked && entry.rela_path == "Cargo.lock";
            (!untracked_lock).then_some(Ok((entry.rela_path, entry.disk_kind)))
        }
        Err(e) => Some(Err(FilesError::Git(e.to_string()))),
    });
    let tracked_target = index
        .prefixed_entries(target_prefix.as_bstr())
        .unwrap_or_default()
        .iter()
        .filter(|e| e.stage_raw() == 0)
        .map(|e| Ok((e.path(&index).to_owned(), None)));

    let mut files: Vec<PathBuf> = Vec::new();
    let mut subpackages: Vec<PathBuf> = Vec::new();
    for item in walked.chain(tracked_target) {
        let (rela_path, kind) = item?;
        let Some(file_path) = to_listed_path(base, pkg_rel, &rela_path) else {
            continue;
        };
        if let Some(dir) = file_path.parent().filter(|dir| {
            file_path.file_name().is_some_and(|n| n == "Cargo.toml") && *dir != filter.root()
        }) {
            files.retain(|p| !p.starts_with(dir));
            subpackages.push(dir.to_path_buf());
            continue;
        }
        if subpackages.iter().any(|p| file_path.starts_with(p)) {
            continue;
        }
        let is_dir = match kind {
            Some(Kind::Symlink) => file_path.is_dir(),
            Some(Kind::Directory | Kind::Repository) => true,
            _ => false,
        };
        if is_dir {
            // Submodules and nested repositories are listed with git so their ignore rules
            // apply and their `.git` stays out; plain (symlinked) directories are walked.
            match gix::open(&file_path) {
                Ok(sub) => {
                    // Like cargo, name the files after the sub-repository's own workdir, which
                    // gix resolves (a symlink to a submodule lists the submodule's path).
                    let sub_base = sub.workdir().unwrap_or(&file_path).to_path_buf();
                    list(
                        &sub,
                        &sub_base,
                        &BString::default(),
                        filter,
                        &mut files,
                        reporter,
                    )?
                }
                Err(_) => walk::walk(&file_path, false, filter, &mut files, reporter)?,
            }
        } else if kind != Some(Kind::Untrackable) && filter.accepts(&file_path, false) {
            files.push(file_path);
        }
    }
    out.extend(files);
    Ok(())
}

/// Maps a workdir-relative git path to the listed path under `base` (which stands for `pkg_rel`).
fn to_listed_path(base: &Path, pkg_rel: &BString, rela_path: &BString) -> Option<PathBuf> {
    let inner: &[u8] = if pkg_rel.is_empty() {
        rela_path.as_slice()
    } else {
        let rest = rela_path.strip_prefix(pkg_rel.as_slice())?;
        match rest {
            [] => &[],
            [b'/', rest @ ..] => rest,
            _ => return None,
        }
    };
    let inner = gix::path::try_from_byte_slice(inner).ok()?;
    Some(base.join(inner))
}
