//! Workspace loading: finds the workspace root the way cargo does (a `[workspace]` table in the
//! manifest itself, a `package.workspace` pointer, or the nearest ancestor workspace that does not
//! exclude the package), expands `members`/`default-members`, pulls in path dependencies under
//! the root, and loads every member with workspace inheritance resolved.
//!
//! Paths are never canonicalised: the user's spelling (e.g. through a symlinked directory) is what
//! cargo shows in messages, so it is what we keep.

mod error;
mod inherit;
mod package;
mod path_packages;
pub mod paths;
mod targets;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cargo_util_schemas::manifest::{TomlManifest, TomlWorkspace};

pub use error::{Cause, ManifestError, TomlSyntax};
pub use package::{DepKind, Dependency, ManifestPath, Metadata, Package, own_resolver};
pub use path_packages::PathPackage;
pub use targets::{Target, TargetKind};

use inherit::InheritSource;
use paths::normalize_path;

#[derive(Debug, Clone)]
pub struct Workspace {
    pub root_manifest: PathBuf,
    pub root_dir: PathBuf,
    pub is_virtual: bool,
    /// In cargo's member order (glob order of `members`, each followed by its path dependencies
    /// inside the root, then the root package).
    pub members: Vec<Package>,
    /// Indices into `members`: what cargo selects without `-p`/`--workspace`.
    pub default_members: Vec<usize>,
    /// The member whose manifest is the one the user pointed at (None for a virtual root).
    pub current: Option<usize>,
    /// Effective workspace resolver: "1", "2" or "3".
    pub resolver: String,
    /// The root's `[workspace]` table, if any (for callers that need `workspace.metadata` etc.).
    pub config: Option<TomlWorkspace>,
}

impl Workspace {
    /// The warnings cargo prints while loading this workspace, in its order: per non-root member,
    /// ignored `[profile]` and `[patch]` tables; then, for a virtual workspace without `resolver`,
    /// the note that it defaults to resolver 1 although a member's edition implies a newer one.
    pub fn load_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for member in &self.members {
            if member.manifest_path == self.root_manifest {
                continue;
            }
            let ignored = [
                ("profiles", member.resolved.profile.is_some()),
                ("patch", member.resolved.patch.is_some()),
                ("replace", member.resolved.replace.is_some()),
            ];
            for (what, present) in ignored {
                if present {
                    warnings.push(format!(
                        "{what} for the non root package will be ignored, specify {what} at the workspace root:\npackage:   {}\nworkspace: {}",
                        member.manifest_path.display(),
                        self.root_manifest.display()
                    ));
                }
            }
        }
        let explicit_resolver = self.config.as_ref().is_some_and(|w| w.resolver.is_some());
        if self.is_virtual && !explicit_resolver {
            let newest = self
                .members
                .iter()
                .filter_map(|m| match m.edition.as_str() {
                    "2021" => Some(("2021", "2")),
                    "2024" => Some(("2024", "3")),
                    _ => None,
                })
                .max();
            if let Some((edition, resolver)) = newest {
                warnings.push(format!(
                    "virtual workspace defaulting to `resolver = \"1\"` despite one or more workspace members being on edition {edition} which implies `resolver = \"{resolver}\"`\n  |\n  = note: to keep the current resolver, specify `workspace.resolver = \"1\"` in the workspace root's manifest\n  = note: to use the edition {edition} resolver, specify `workspace.resolver = \"{resolver}\"` in the workspace root's manifest\n  = note: for more details see https://doc.rust-lang.org/cargo/reference/resolver.html#resolver-versions"
                ));
            }
        }
        warnings
    }

    pub fn lockfile_path(&self) -> PathBuf {
        self.root_dir.join("Cargo.lock")
    }

    pub fn member_by_root(&self, dir: &Path) -> Option<usize> {
        let dir = normalize_path(dir);
        self.members.iter().position(|m| m.root == dir)
    }
}

/// Reads and parses one manifest; legacy `[project]` is folded into `package`.
pub(crate) fn read_manifest(path: &Path) -> Result<TomlManifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_manifest(path, &text)
}

pub(crate) fn parse_manifest(path: &Path, text: &str) -> Result<TomlManifest, ManifestError> {
    let mut manifest: TomlManifest =
        toml::from_str(text).map_err(|e| syntax_error(path, text, &e))?;
    if manifest.package.is_none() {
        manifest.package = manifest.project.take();
    } else if manifest.project.is_some() {
        return Err(ManifestError::parse(
            path,
            "manifest contains both `project` and `package`, this is unsupported",
        ));
    }
    if manifest.workspace.is_some()
        && manifest
            .package
            .as_ref()
            .is_some_and(|p| p.workspace.is_some())
    {
        return Err(ManifestError::parse(
            path,
            "cannot configure both `package.workspace` and `[workspace]`, only one can be specified",
        ));
    }
    if manifest.patch.is_some() && manifest.replace.is_some() {
        return Err(ManifestError::parse(
            path,
            "cannot specify both [replace] and [patch]",
        ));
    }
    if manifest.package.is_none() && manifest.workspace.is_none() {
        return Err(ManifestError::parse(
            path,
            "manifest is missing either a `[package]` or a `[workspace]`",
        ));
    }
    Ok(manifest)
}

/// cargo 1.95 shows TOML errors as a snippet pointing at the offending span.
fn syntax_error(path: &Path, text: &str, e: &toml::de::Error) -> ManifestError {
    let Some(span) = e.span() else {
        return ManifestError::parse(path, e.to_string().trim_end());
    };
    let start = span.start.min(text.len());
    // Spans come from the parser and should sit on char boundaries; never slice if they don't.
    if !text.is_char_boundary(start) {
        return ManifestError::parse(path, e.to_string().trim_end());
    }
    let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[start..]
        .find('\n')
        .map(|i| start + i)
        .unwrap_or(text.len());
    let line_text = text[line_start..line_end].trim_end_matches('\r');
    let column = text[line_start..start].chars().count() + 1;
    let end = span.end.clamp(start, line_end);
    let carets = text.get(start..end).map(|s| s.chars().count()).unwrap_or(1);
    ManifestError::Syntax(Box::new(error::TomlSyntax {
        path: path.to_path_buf(),
        message: e.message().trim_end().to_string(),
        line: text[..line_start].matches('\n').count() + 1,
        column,
        line_text: line_text.to_string(),
        carets,
    }))
}

/// Loads the workspace containing `manifest_path` (see the module docs).
pub fn load_workspace(manifest_path: &Path) -> Result<Workspace, ManifestError> {
    // Relative paths are anchored at the current directory (without resolving symlinks).
    let manifest_path = if manifest_path.is_relative() {
        let cwd = std::env::current_dir().map_err(|source| ManifestError::Read {
            path: manifest_path.to_path_buf(),
            source,
        })?;
        normalize_path(&cwd.join(manifest_path))
    } else {
        normalize_path(manifest_path)
    };
    let current_raw = read_manifest(&manifest_path)?;
    let root_manifest = find_root(&manifest_path, &current_raw)?;
    let (root_raw, root_is_current) = match &root_manifest {
        Some(r) if *r != manifest_path => (read_manifest(r)?, false),
        _ => (current_raw.clone(), true),
    };
    let root_manifest = root_manifest.unwrap_or_else(|| manifest_path.clone());
    let Some(ws_config) = root_raw.workspace.clone() else {
        if !root_is_current {
            return Err(ManifestError::Workspace(format!(
                "package `{}` believes it's in a workspace when it's not:\nthe manifest at `{}` has no `[workspace]` table",
                manifest_path.display(),
                root_manifest.display()
            )));
        }
        return single_package(&manifest_path, current_raw);
    };
    let root_dir = parent(&root_manifest);
    // cargo loads the current package before the members, so its own errors are not wrapped in
    // "failed to load manifest for workspace member".
    let prebuilt = match current_raw.package {
        Some(_) => {
            let src = InheritSource {
                workspace: Some(&ws_config),
                root_dir: &root_dir,
            };
            Some(package::build(&manifest_path, current_raw.clone(), &src)?)
        }
        None => None,
    };
    let mut loader = Loader {
        root_manifest: root_manifest.clone(),
        root_dir,
        ws: ws_config,
        seen: BTreeSet::new(),
        members: Vec::new(),
        root_raw: root_raw.clone(),
        prebuilt,
        deferred: None,
    };
    let member_dirs = loader.expand(loader.ws.members.clone().unwrap_or_default())?;
    for dir in &member_dirs {
        let path = dir.join("Cargo.toml");
        loader
            .find_path_deps(&path, false)
            .map_err(|e| ManifestError::Member {
                member: dir.clone(),
                root: root_manifest.clone(),
                source: Box::new(e),
            })?;
    }
    let is_virtual = root_raw.package.is_none();
    if !is_virtual {
        loader.find_path_deps(&root_manifest, false)?;
    }
    if let Some(e) = loader.deferred.take() {
        return Err(e);
    }
    let current = loader
        .members
        .iter()
        .position(|m| m.manifest_path == manifest_path);
    if current.is_none() && current_raw.package.is_some() {
        return Err(not_a_member(&manifest_path, &root_manifest));
    }
    let default_members = loader.default_members(&member_dirs, is_virtual, current)?;
    // The root package's edition may itself be inherited, so use its resolved manifest.
    let root_resolved = loader
        .members
        .iter()
        .find(|m| m.manifest_path == root_manifest)
        .map(|m| &m.resolved)
        .unwrap_or(&root_raw);
    let resolver = effective_resolver(&loader.ws, root_resolved);
    Ok(Workspace {
        root_dir: loader.root_dir.clone(),
        root_manifest,
        is_virtual,
        members: loader.members,
        default_members,
        current,
        resolver,
        config: Some(loader.ws),
    })
}

fn parent(manifest: &Path) -> PathBuf {
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// A package that is its own (implicit) workspace.
fn single_package(manifest_path: &Path, raw: TomlManifest) -> Result<Workspace, ManifestError> {
    let src = InheritSource {
        workspace: None,
        root_dir: &parent(manifest_path),
    };
    let pkg = package::build(manifest_path, raw.clone(), &src)?;
    let resolver = package::own_resolver(&raw);
    Ok(Workspace {
        root_manifest: manifest_path.to_path_buf(),
        root_dir: parent(manifest_path),
        is_virtual: false,
        members: vec![pkg],
        default_members: vec![0],
        current: Some(0),
        resolver,
        config: None,
    })
}

/// The workspace root for `manifest_path`, or None when the package stands alone.
fn find_root(manifest_path: &Path, raw: &TomlManifest) -> Result<Option<PathBuf>, ManifestError> {
    if raw.workspace.is_some() {
        return Ok(Some(manifest_path.to_path_buf()));
    }
    let dir = parent(manifest_path);
    if let Some(pointer) = raw.package.as_ref().and_then(|p| p.workspace.as_ref()) {
        return Ok(Some(normalize_path(&dir.join(pointer).join("Cargo.toml"))));
    }
    for ancestor in paths::ancestors(&dir).skip(1) {
        let candidate = ancestor.join("Cargo.toml");
        if !candidate.is_file() {
            continue;
        }
        let anc = read_manifest(&candidate)?;
        if let Some(ws) = anc.workspace.as_ref() {
            if !is_excluded(ws, ancestor, manifest_path) {
                return Ok(Some(candidate));
            }
        } else if let Some(pointer) = anc.package.as_ref().and_then(|p| p.workspace.as_ref()) {
            return Ok(Some(normalize_path(
                &ancestor.join(pointer).join("Cargo.toml"),
            )));
        }
    }
    Ok(None)
}

/// cargo: excluded when under an `exclude` path and not under an explicit (non-glob) member path.
fn is_excluded(ws: &TomlWorkspace, root_dir: &Path, manifest_path: &Path) -> bool {
    let excluded = ws
        .exclude
        .iter()
        .flatten()
        .any(|ex| manifest_path.starts_with(normalize_path(&root_dir.join(ex))));
    let explicit = ws
        .members
        .iter()
        .flatten()
        .filter(|m| !has_glob(m))
        .any(|m| manifest_path.starts_with(normalize_path(&root_dir.join(m))));
    !explicit && excluded
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', ']'])
}

fn not_a_member(manifest_path: &Path, root_manifest: &Path) -> ManifestError {
    let root_dir = parent(root_manifest);
    let member_dir = parent(manifest_path);
    let rel = paths::slash_string(&paths::relative_to(&member_dir, &root_dir));
    ManifestError::Workspace(format!(
        "current package believes it's in a workspace when it's not:\n\
         current:   {}\n\
         workspace: {}\n\n\
         this may be fixable by adding `{}` to the `workspace.members` array of the manifest located at: {}\n\
         Alternatively, to keep it out of the workspace, add the package to the `workspace.exclude` array, or add an empty `[workspace]` table to the package's manifest.",
        manifest_path.display(),
        root_manifest.display(),
        rel,
        root_manifest.display()
    ))
}

/// resolver: `workspace.resolver`, else the root package's own (explicit or edition default),
/// else "1" for a virtual workspace.
fn effective_resolver(ws: &TomlWorkspace, root: &TomlManifest) -> String {
    if let Some(r) = ws.resolver.clone() {
        return r;
    }
    if root.package.is_some() {
        return package::own_resolver(root);
    }
    "1".to_string()
}

struct Loader {
    root_manifest: PathBuf,
    root_dir: PathBuf,
    ws: TomlWorkspace,
    seen: BTreeSet<PathBuf>,
    members: Vec<Package>,
    root_raw: TomlManifest,
    prebuilt: Option<Package>,
    /// A validation error cargo reports only once all members are known.
    deferred: Option<ManifestError>,
}

impl Loader {
    /// Expands member globs to directories, in glob (sorted) order per pattern. Paths are spelt
    /// the way cargo names them in errors: a plain entry as written (`<root>/.`), and a glob
    /// that matches nothing as the pattern itself (cargo then fails to load `<root>/crates/*`).
    fn expand(&self, patterns: Vec<String>) -> Result<Vec<PathBuf>, ManifestError> {
        let mut out = Vec::new();
        for pat in patterns {
            if has_glob(&pat) {
                let found = glob_dirs(&self.root_dir, &pat).map_err(|e| {
                    ManifestError::Workspace(format!("could not parse pattern `{pat}`: {e}"))
                })?;
                if found.is_empty() {
                    out.push(self.root_dir.join(&pat));
                }
                out.extend(found);
            } else {
                out.push(self.root_dir.join(&pat));
            }
        }
        Ok(out)
    }

    fn find_path_deps(&mut self, manifest: &Path, is_path_dep: bool) -> Result<(), ManifestError> {
        let manifest = normalize_path(manifest);
        if self.seen.contains(&manifest) {
            return Ok(());
        }
        let dir = parent(&manifest);
        if is_path_dep && !dir.starts_with(&self.root_dir) {
            // cargo still reads a path dependency outside the root to find its workspace: it is
            // a member only if it points back at this root.
            let raw = read_manifest(&manifest)?;
            let pointer = raw.package.as_ref().and_then(|p| p.workspace.as_ref());
            let points_here = pointer.is_some_and(|p| {
                normalize_path(&dir.join(p).join("Cargo.toml")) == self.root_manifest
            });
            if !points_here {
                return Ok(());
            }
        }
        if is_excluded(&self.ws, &self.root_dir, &manifest) {
            return Ok(());
        }
        self.seen.insert(manifest.clone());
        if let Some(pkg) = self.prebuilt.take_if(|p| p.manifest_path == manifest) {
            return self.push_member(pkg);
        }
        let raw = if manifest == self.root_manifest {
            self.root_raw.clone()
        } else {
            read_manifest(&manifest)?
        };
        if raw.package.is_none() {
            return Ok(());
        }
        if let Some(pointer) = raw.package.as_ref().and_then(|p| p.workspace.as_ref()) {
            let actual = normalize_path(&dir.join(pointer).join("Cargo.toml"));
            // cargo validates membership after discovery, so the error is not wrapped.
            if actual != self.root_manifest && self.deferred.is_none() {
                self.deferred = Some(ManifestError::Workspace(format!(
                    "package `{}` is a member of the wrong workspace\nexpected: {}\nactual:   {}",
                    manifest.display(),
                    self.root_manifest.display(),
                    actual.display()
                )));
            }
        }
        let src = InheritSource {
            workspace: Some(&self.ws),
            root_dir: &self.root_dir,
        };
        let pkg = package::build(&manifest, raw, &src)?;
        self.push_member(pkg)
    }

    fn push_member(&mut self, pkg: Package) -> Result<(), ManifestError> {
        let deps: Vec<(PathBuf, String)> = pkg
            .dependencies
            .iter()
            .filter_map(|d| d.path.clone().map(|p| (p, d.package.clone())))
            .collect();
        self.members.push(pkg);
        for (dep, name) in deps {
            self.find_path_deps(&dep.join("Cargo.toml"), true)
                .map_err(|e| ManifestError::Dependency {
                    name,
                    source: Box::new(e),
                })?;
        }
        Ok(())
    }

    fn default_members(
        &self,
        member_dirs: &[PathBuf],
        is_virtual: bool,
        current: Option<usize>,
    ) -> Result<Vec<usize>, ManifestError> {
        let _ = member_dirs;
        // Inside a member (not the root) cargo's default selection is that member, whatever
        // `default-members` says.
        if let Some(c) = current
            && self.members[c].manifest_path != self.root_manifest
        {
            return Ok(vec![c]);
        }
        if let Some(defaults) = self.ws.default_members.clone() {
            let mut out = Vec::new();
            for dir in self.expand(defaults)? {
                let dir = normalize_path(&dir);
                let manifest = dir.join("Cargo.toml");
                match self
                    .members
                    .iter()
                    .position(|m| m.manifest_path == manifest)
                {
                    Some(i) => out.push(i),
                    None => {
                        return Err(ManifestError::Workspace(format!(
                            "package `{}` is listed in default-members but is not a member\nfor workspace at `{}`.",
                            dir.display(),
                            self.root_manifest.display()
                        )));
                    }
                }
            }
            return Ok(out);
        }
        if is_virtual {
            return Ok((0..self.members.len()).collect());
        }
        Ok(current.into_iter().collect())
    }
}

/// Expands a relative glob against `root` to existing directories, sorted like the `glob` crate.
fn glob_dirs(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let mut current = vec![root.to_path_buf()];
    for comp in pattern.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let mut next = Vec::new();
        if comp == ".." {
            next = current
                .iter()
                .map(|p| normalize_path(&p.join("..")))
                .collect();
        } else if has_glob(comp) {
            let matcher = globset::GlobBuilder::new(comp)
                .literal_separator(true)
                .build()
                .map_err(|e| e.to_string())?
                .compile_matcher();
            for dir in &current {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut names: Vec<_> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name())
                    // The glob crate's default options let `*` match a leading dot too.
                    .filter(|n| matcher.is_match(n.to_string_lossy().as_ref()))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| dir.join(n)));
            }
        } else {
            next = current
                .iter()
                .map(|p| p.join(comp))
                .filter(|p| p.exists())
                .collect();
        }
        current = next;
    }
    Ok(current.into_iter().filter(|p| p.is_dir()).collect())
}
