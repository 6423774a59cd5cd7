//! The VCS side of packaging (spec §4.2, §5): the dirty check with cargo's error text and the data
//! of `.cargo_vcs_info.json`. Only git is recognised, as in cargo.

mod status;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use gix::bstr::{BString, ByteSlice, ByteVec};

use crate::files::git_repo_relative as repo_relative;
use crate::report::Reporter;
use status::DirtySet;

/// What [`check_vcs`] needs to know about one package.
#[derive(Debug, Clone, Copy)]
pub struct VcsOptions<'a> {
    pub pkg_root: &'a Path,
    pub manifest_path: &'a Path,
    /// Root manifest of the workspace: any change to it counts as dirty (§5.2.3).
    pub workspace_manifest: &'a Path,
    /// The listing from `list_files` (before generated files).
    pub files: &'a [PathBuf],
    /// `readme` / `license-file` paths (relative to `pkg_root` or absolute; may lie outside it).
    pub extra_paths: &'a [PathBuf],
    pub allow_dirty: bool,
    /// Dirty paths are printed relative to this.
    pub cwd: &'a Path,
}

/// The contents of `.cargo_vcs_info.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcsInfo {
    /// `HEAD` commit id, 40 hex digits.
    pub sha1: String,
    /// True only when the tree was dirty and `--allow-dirty` was given.
    pub dirty: bool,
    /// Manifest directory relative to the workdir, `/`-separated, `""` at the root.
    pub path_in_vcs: String,
}

impl VcsInfo {
    /// The exact bytes cargo writes (pretty JSON, two-space indent, no trailing newline).
    pub fn to_json(&self) -> String {
        let sha1 = serde_json::Value::String(self.sha1.clone());
        let path = serde_json::Value::String(self.path_in_vcs.clone());
        let dirty = if self.dirty {
            ",\n    \"dirty\": true"
        } else {
            ""
        };
        format!(
            "{{\n  \"git\": {{\n    \"sha1\": {sha1}{dirty}\n  }},\n  \"path_in_vcs\": {path}\n}}"
        )
    }
}

/// Why packaging must stop at the VCS check.
#[derive(Debug, thiserror::Error)]
pub enum VcsError {
    /// Uncommitted changes in packaged files and no `--allow-dirty`. `files` are relative to the
    /// cwd and sorted as cargo prints them.
    #[error(
        "{} files in the working directory contain changes that were not yet committed into git:\n\n{}\n\nto proceed despite this and include the uncommitted changes, pass the `--allow-dirty` flag",
        files.len(),
        files.join("\n")
    )]
    Dirty { files: Vec<String> },
    /// gix failed to read the repository.
    #[error("{0}")]
    Git(String),
}

/// Runs the dirty check for one package and returns what `.cargo_vcs_info.json` should hold
/// (`None`: no repo, bare repo, missing or ignored manifest, unborn `HEAD`).
pub fn check_vcs(opts: &VcsOptions, reporter: &dyn Reporter) -> Result<Option<VcsInfo>, VcsError> {
    let Ok(repo) = gix::discover(opts.pkg_root) else {
        if reporter.verbose() {
            reporter.warning(&format!(
                "no (git) VCS found for `{}`",
                opts.pkg_root.display()
            ));
        }
        return Ok(None);
    };
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Ok(None);
    };
    let workdir_shown = with_trailing_slash(&workdir);
    let Ok(canon_workdir) = workdir.canonicalize() else {
        return Ok(None);
    };
    let manifest_rel = repo_relative(opts.manifest_path, &workdir);
    let manifest_shown = match &manifest_rel {
        Some(rel) => rel.to_str_lossy().into_owned(),
        None => opts.manifest_path.display().to_string(),
    };
    let (Some(manifest_rel), true) = (manifest_rel, opts.manifest_path.exists()) else {
        if reporter.verbose() {
            reporter.warning(&format!(
                "Cargo.toml not found at `{manifest_shown}` in workdir `{}`",
                workdir.display()
            ));
        }
        return Ok(None);
    };
    let pkg_rel = parent_of(&manifest_rel);

    let mut dirty = DirtySet::default();
    let pathspec = if pkg_rel.is_empty() {
        Vec::new()
    } else {
        let mut spec = BString::from(":(top)");
        spec.push_str(pkg_rel.as_slice());
        vec![spec]
    };
    status::collect(&repo, &canon_workdir, pathspec, &mut dirty)?;

    let index = repo
        .index_or_empty()
        .map_err(|e| VcsError::Git(e.to_string()))?;
    let manifest_tracked = index.entry_index_by_path(manifest_rel.as_bstr()).is_ok();
    if !manifest_tracked && is_ignored(&dirty.ignored, &manifest_rel) {
        if reporter.verbose() {
            reporter.warning(&format!(
                "found (git) Cargo.toml ignored at `{manifest_shown}` in workdir `{}`",
                workdir.display()
            ));
        }
        return Ok(None);
    }

    warn_plain_text_symlinks(&repo, &index, opts, &pkg_rel, &workdir_shown, reporter);
    status::collect_submodules(&repo, &mut dirty)?;

    let canon_pkg_root = match gix::path::try_from_byte_slice(pkg_rel.as_slice()) {
        Ok(rel) if !pkg_rel.is_empty() => canon_workdir.join(rel),
        _ => canon_workdir.clone(),
    };
    let mut symlinks = SymlinkCache::default();
    let mut reported: Vec<String> = Vec::new();
    let mut outside: Vec<PathBuf> = Vec::new();
    for file in opts.files {
        let Ok(inner) = file.strip_prefix(opts.pkg_root) else {
            continue;
        };
        if symlinks.is_symlink_or_under(opts.pkg_root, inner) {
            let Ok(target) = file.canonicalize() else {
                continue;
            };
            if dirty.covers(&target, &canon_workdir) {
                reported.push(relative_to(file, opts.cwd));
            } else if !target.starts_with(&canon_pkg_root) {
                outside.push(target);
            }
        } else if dirty.covers(&canon_pkg_root.join(inner), &canon_workdir) {
            reported.push(relative_to(file, opts.cwd));
        }
    }
    for extra in opts.extra_paths {
        outside.push(normalize(&opts.pkg_root.join(extra)));
    }
    if let Some(ws_rel) = repo_relative(opts.workspace_manifest, &workdir)
        && let Ok(rel) = gix::path::try_from_byte_slice(ws_rel.as_slice())
    {
        outside.push(canon_workdir.join(rel));
    }
    // Cargo resolves each outside file's workdir-relative path against the current directory, so
    // these checks only bite when it runs from the workdir root (from the package directory they
    // look at `<cwd>/LICENSE` and friends instead). We reproduce that observed behaviour.
    let outside: Vec<PathBuf> = outside
        .into_iter()
        .filter_map(|p| {
            let canon = p.canonicalize().ok()?;
            let rel = canon.strip_prefix(&canon_workdir).ok()?.to_path_buf();
            Some(opts.cwd.join(rel))
        })
        .collect();
    for path in dirty_outside(&repo, &canon_workdir, &canon_pkg_root, outside)? {
        reported.push(relative_to(&path, opts.cwd));
    }

    let is_dirty = !reported.is_empty();
    if is_dirty && !opts.allow_dirty {
        reported.sort_unstable();
        return Err(VcsError::Dirty { files: reported });
    }
    let Ok(head) = repo.head_id() else {
        return Ok(None);
    };
    Ok(Some(VcsInfo {
        sha1: head.to_string(),
        dirty: is_dirty,
        path_in_vcs: pkg_rel.to_str_lossy().into_owned(),
    }))
}

/// Checks files outside the package root but inside the workdir (symlink targets, readme,
/// license, workspace manifest): any status at all makes them dirty. Returns them as
/// `<workdir>/<rel>`, without duplicates.
fn dirty_outside(
    repo: &gix::Repository,
    canon_workdir: &Path,
    canon_pkg_root: &Path,
    candidates: Vec<PathBuf>,
) -> Result<Vec<PathBuf>, VcsError> {
    let mut wanted: Vec<PathBuf> = Vec::new();
    for path in candidates {
        let Ok(canon) = path.canonicalize() else {
            continue;
        };
        if canon.starts_with(canon_pkg_root) || !canon.starts_with(canon_workdir) {
            continue;
        }
        if !wanted.contains(&canon) {
            wanted.push(canon);
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let patterns = wanted
        .iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(canon_workdir).ok()?;
            let mut spec = BString::from(":(top,literal)");
            spec.push_str(gix::path::into_bstr(rel).as_ref());
            Some(spec)
        })
        .collect();
    let mut dirty = DirtySet::default();
    status::collect(repo, canon_workdir, patterns, &mut dirty)?;
    Ok(wanted
        .into_iter()
        .filter(|p| dirty.covers(p, canon_workdir))
        .collect())
}

/// Emits the `core.symlinks = false` warning (§5.4) if a packaged file is recorded as a symlink
/// in the index but is a regular file on disk.
fn warn_plain_text_symlinks(
    repo: &gix::Repository,
    index: &gix::worktree::Index,
    opts: &VcsOptions,
    pkg_rel: &BString,
    workdir_shown: &str,
    reporter: &dyn Reporter,
) {
    let symlinks_off = repo.config_snapshot().boolean("core.symlinks") == Some(false);
    if !symlinks_off {
        return;
    }
    let mut prefix = pkg_rel.clone();
    if !prefix.is_empty() {
        prefix.push(b'/');
    }
    let listed: std::collections::HashSet<&Path> =
        opts.files.iter().map(PathBuf::as_path).collect();
    let found = index
        .prefixed_entries(prefix.as_bstr())
        .unwrap_or_default()
        .iter()
        .filter(|e| e.mode == gix::index::entry::Mode::SYMLINK)
        .filter_map(|e| {
            let rel = e.path(index).strip_prefix(prefix.as_slice())?;
            Some(
                opts.pkg_root
                    .join(gix::path::try_from_byte_slice(rel).ok()?),
            )
        })
        .any(|p| {
            listed.contains(p.as_path())
                && std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_file())
        });
    if found {
        reporter.warning(&format!(
            "found symbolic links that may be checked out as regular files for git repo at `{workdir_shown}`\n  |\n  = note: this might cause the `.crate` file to include incorrect or incomplete files\n  = help: to avoid this, set the Git config `core.symlinks` to `true`"
        ));
    }
}

/// Answers "is this listed file a symlink or inside a symlinked directory?" with one `read_dir`
/// per directory (the entry types come with the listing) instead of one `lstat` per file.
#[derive(Default)]
struct SymlinkCache {
    /// Per directory (relative to the package root): names of its entries that are symlinks.
    links: HashMap<PathBuf, std::collections::HashSet<std::ffi::OsString>>,
    /// Per directory (relative): whether it is, or lies under, a symlink.
    under: HashMap<PathBuf, bool>,
}

impl SymlinkCache {
    fn is_symlink_or_under(&mut self, root: &Path, inner: &Path) -> bool {
        let (Some(parent), Some(name)) = (inner.parent(), inner.file_name()) else {
            return false;
        };
        self.dir_is_link_or_under(root, parent) || self.names_in(root, parent).contains(name)
    }

    fn dir_is_link_or_under(&mut self, root: &Path, dir: &Path) -> bool {
        if let Some(&known) = self.under.get(dir) {
            return known;
        }
        let answer = match (dir.parent(), dir.file_name()) {
            (Some(parent), Some(name)) => {
                self.dir_is_link_or_under(root, parent)
                    || self.names_in(root, parent).contains(name)
            }
            _ => false,
        };
        self.under.insert(dir.to_path_buf(), answer);
        answer
    }

    fn names_in(
        &mut self,
        root: &Path,
        dir: &Path,
    ) -> &std::collections::HashSet<std::ffi::OsString> {
        self.links.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_dir(root.join(dir))
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
                        .map(|e| e.file_name())
                        .collect()
                })
                .unwrap_or_default()
        })
    }
}

fn is_ignored(ignored: &[BString], rel: &BString) -> bool {
    ignored.iter().any(|ig| {
        let ig = ig.strip_suffix(b"/").unwrap_or(ig.as_slice());
        rel.as_slice() == ig || (rel.starts_with(ig) && rel.get(ig.len()) == Some(&b'/'))
    })
}

fn parent_of(rel: &BString) -> BString {
    match rel.rfind_byte(b'/') {
        Some(i) => rel[..i].into(),
        None => BString::default(),
    }
}

fn with_trailing_slash(p: &Path) -> String {
    let s = p.display().to_string();
    if s.ends_with('/') { s } else { format!("{s}/") }
}

/// Lexical normalisation (`.` dropped, `..` pops), like cargo's `normalize_path`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `base` (with `..` as needed) for display; unchanged if that is impossible.
fn relative_to(path: &Path, base: &Path) -> String {
    diff_paths(path, base)
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

fn diff_paths(path: &Path, base: &Path) -> Option<PathBuf> {
    if path.is_absolute() != base.is_absolute() {
        return path.is_absolute().then(|| path.to_path_buf());
    }
    let mut ita = path.components();
    let mut itb = base.components();
    let mut comps: Vec<Component> = Vec::new();
    loop {
        match (ita.next(), itb.next()) {
            (None, None) => break,
            (Some(a), None) => {
                comps.push(a);
                comps.extend(ita.by_ref());
                break;
            }
            (None, _) => comps.push(Component::ParentDir),
            (Some(a), Some(b)) if comps.is_empty() && a == b => {}
            (Some(a), Some(Component::CurDir)) => comps.push(a),
            (Some(_), Some(Component::ParentDir)) => return None,
            (Some(a), Some(_)) => {
                comps.push(Component::ParentDir);
                for _ in itb {
                    comps.push(Component::ParentDir);
                }
                comps.push(a);
                comps.extend(ita.by_ref());
                break;
            }
        }
    }
    Some(comps.iter().map(|c| c.as_os_str()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_display_paths() {
        let r = |p: &str, b: &str| relative_to(Path::new(p), Path::new(b));
        assert_eq!(r("/w/Cargo.toml", "/w/src"), "../Cargo.toml");
        assert_eq!(r("/w/a/b.rs", "/w"), "a/b.rs");
        assert_eq!(r("/w/b/x", "/w/a/a"), "../../b/x");
        assert_eq!(r("/w", "/w"), "");
        assert_eq!(r("rel/x", "/w"), "rel/x");
    }

    #[test]
    fn json_bytes() {
        let info = VcsInfo {
            sha1: "a".repeat(40),
            dirty: true,
            path_in_vcs: "a/\"b\"".into(),
        };
        assert_eq!(
            info.to_json(),
            format!(
                "{{\n  \"git\": {{\n    \"sha1\": \"{}\",\n    \"dirty\": true\n  }},\n  \"path_in_vcs\": \"a/\\\"b\\\"\"\n}}",
                "a".repeat(40)
            )
        );
    }

    #[test]
    fn lexical_normalisation() {
        assert_eq!(
            normalize(Path::new("/p/pkg/../LICENSE")),
            Path::new("/p/LICENSE")
        );
        assert_eq!(normalize(Path::new("/p/./a/./b")), Path::new("/p/a/b"));
    }
}
