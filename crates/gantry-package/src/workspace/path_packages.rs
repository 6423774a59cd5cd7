//! The packages a workspace knows by path, as cargo maps the source-less entries of a `Cargo.lock`
//! to directories: the members, the path dependencies of every path package (transitively), and
//! the root manifest's `[patch]` entries with a `path`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cargo_util_schemas::manifest::TomlDependency;

use super::inherit::InheritSource;
use super::paths::normalize_path;
use super::{Package, Workspace, package, read_manifest};

/// One package found by path: its name, version and directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPackage {
    pub name: String,
    pub version: semver::Version,
    pub root: PathBuf,
}

impl Workspace {
    /// Every package this workspace reaches by path (see the module docs). A path dependency or
    /// patch whose manifest does not load is left out, as cargo leaves it out of this mapping.
    pub fn path_packages(&self) -> Vec<PathPackage> {
        let mut walk = Walk {
            ws: self,
            seen: BTreeSet::new(),
            found: Vec::new(),
        };
        for member in &self.members {
            walk.seen.insert(member.root.clone());
            walk.found.push(PathPackage {
                name: member.name.clone(),
                version: member.version.clone(),
                root: member.root.clone(),
            });
        }
        for member in &self.members {
            walk.dependencies_of(member);
        }
        if let Ok(root) = read_manifest(&self.root_manifest) {
            for patches in root.patch.iter().flat_map(|p| p.values()) {
                for dep in patches.values() {
                    if let TomlDependency::Detailed(d) = dep
                        && let Some(path) = &d.path
                    {
                        walk.visit(&normalize_path(&self.root_dir.join(path)));
                    }
                }
            }
        }
        walk.found
    }
}

struct Walk<'a> {
    ws: &'a Workspace,
    seen: BTreeSet<PathBuf>,
    found: Vec<PathPackage>,
}

impl Walk<'_> {
    fn dependencies_of(&mut self, pkg: &Package) {
        for path in pkg.dependencies.iter().filter_map(|d| d.path.as_ref()) {
            self.visit(path);
        }
    }

    fn visit(&mut self, dir: &Path) {
        if !self.seen.insert(dir.to_path_buf()) {
            return;
        }
        let manifest = dir.join("Cargo.toml");
        let Ok(raw) = read_manifest(&manifest) else {
            return;
        };
        let src = InheritSource {
            workspace: self.ws.config.as_ref(),
            root_dir: &self.ws.root_dir,
        };
        let Ok(pkg) = package::build(&manifest, raw, &src) else {
            return;
        };
        self.found.push(PathPackage {
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            root: pkg.root.clone(),
        });
        self.dependencies_of(&pkg);
    }
}
