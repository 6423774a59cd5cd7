//! Which workspace members a command acts on (`-p` with globs, `--workspace`, `--exclude`, default
//! selection) and the order they are packaged in: dependencies first, ties by package id.

use std::collections::BTreeSet;

use crate::workspace::{DepKind, Workspace};

#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub packages: Vec<String>,
    pub workspace: bool,
    pub exclude: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectError {
    #[error("package ID specification `{spec}` did not match any packages{}", similar_help(.similar))]
    NoMatch {
        spec: String,
        similar: Option<String>,
    },
    #[error("package pattern(s) `{0}` not found in workspace `{1}`")]
    NoGlobMatch(String, String),
    /// `-p` names next to `--workspace` that no member has (cargo checks them even though
    /// `--workspace` selects every member anyway).
    #[error("package(s) `{0}` not found in workspace `{1}`")]
    NotInWorkspace(String, String),
}

fn similar_help(similar: &Option<String>) -> String {
    match similar {
        Some(s) => format!("\n\nhelp: a package with a similar name exists: `{s}`"),
        None => String::new(),
    }
}

impl Selection {
    /// Whether the user named packages explicitly (cargo then refuses unpublishable ones instead of
    /// skipping them silently).
    pub fn is_explicit(&self, ws: &Workspace) -> bool {
        !self.packages.is_empty() || (!self.workspace && !ws.is_virtual)
    }

    /// Indices into `ws.members`, in member order.
    pub fn resolve(&self, ws: &Workspace) -> Result<Vec<usize>, SelectError> {
        let all: Vec<usize> = (0..ws.members.len()).collect();
        let chosen: BTreeSet<usize> = if self.workspace {
            self.check_named_members(ws)?;
            let mut set: BTreeSet<usize> = all.iter().copied().collect();
            for pattern in &self.exclude {
                set.retain(|&i| {
                    !spec_matches(pattern, &ws.members[i].name, &ws.members[i].version)
                });
            }
            set
        } else if !self.packages.is_empty() {
            let mut set = BTreeSet::new();
            for spec in &self.packages {
                let hits: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|&i| spec_matches(spec, &ws.members[i].name, &ws.members[i].version))
                    .collect();
                if hits.is_empty() {
                    if is_glob(spec) {
                        return Err(SelectError::NoGlobMatch(
                            spec.clone(),
                            ws.root_dir.display().to_string(),
                        ));
                    }
                    let similar = closest(spec, ws.members.iter().map(|m| m.name.as_str()));
                    return Err(SelectError::NoMatch {
                        spec: spec.clone(),
                        similar,
                    });
                }
                set.extend(hits);
            }
            set
        } else {
            // Already the current member inside a member, and `default-members` (when declared)
            // at the root, as cargo chooses.
            ws.default_members.iter().copied().collect()
        };
        Ok(chosen.into_iter().collect())
    }

    /// Every `-p` given with `--workspace` must still name a member: names first, then patterns.
    fn check_named_members(&self, ws: &Workspace) -> Result<(), SelectError> {
        let unmatched = |glob: bool| -> Vec<&str> {
            self.packages
                .iter()
                .filter(|spec| is_glob(spec) == glob)
                .filter(|spec| {
                    !ws.members
                        .iter()
                        .any(|m| spec_matches(spec, &m.name, &m.version))
                })
                .map(String::as_str)
                .collect()
        };
        let root = || ws.root_dir.display().to_string();
        let names = unmatched(false);
        if !names.is_empty() {
            return Err(SelectError::NotInWorkspace(names.join(", "), root()));
        }
        let patterns = unmatched(true);
        if !patterns.is_empty() {
            return Err(SelectError::NoGlobMatch(patterns.join(", "), root()));
        }
        Ok(())
    }
}

fn is_glob(spec: &str) -> bool {
    spec.contains(['*', '?', '['])
}

/// `name`, `name@version`, `name:version`, or a glob over names.
fn spec_matches(spec: &str, name: &str, version: &semver::Version) -> bool {
    if is_glob(spec) {
        return globset::Glob::new(spec)
            .map(|g| g.compile_matcher().is_match(name))
            .unwrap_or(false);
    }
    let (spec_name, spec_version) = match spec.split_once(['@', ':']) {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    spec_name == name
        && spec_version.is_none_or(|v| {
            let v = v.trim_start_matches('=');
            version.to_string() == v || version.to_string().starts_with(&format!("{v}."))
        })
}

/// The member name closest to `spec` by edit distance, if close enough to be a typo.
fn closest<'a>(spec: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    names
        .map(|n| (edit_distance(spec, n), n))
        // Cargo suggests any member within three edits (`nope` → `e`).
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Edges between selected packages: `a` → `b` when `a` has a path dependency on `b`'s directory
/// that is not an unversioned dev-dependency (those are stripped from the published manifest).
pub fn local_edges(ws: &Workspace, selected: &[usize]) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    for &a in selected {
        for dep in &ws.members[a].dependencies {
            let Some(path) = &dep.path else { continue };
            if dep.kind == DepKind::Dev && dep.version_req.is_none() {
                continue;
            }
            if let Some(b) = ws.member_by_root(path)
                && b != a
                && selected.contains(&b)
                && !edges.contains(&(a, b))
            {
                edges.push((a, b));
            }
        }
    }
    edges
}

/// Dependencies first; ties broken by (name, version), depth-first post-order like cargo.
pub(crate) fn packaging_order(
    ws: &Workspace,
    selected: &[usize],
    edges: &[(usize, usize)],
) -> Vec<usize> {
    let mut ids: Vec<usize> = selected.to_vec();
    ids.sort_by(|&a, &b| {
        let (pa, pb) = (&ws.members[a], &ws.members[b]);
        (&pa.name, &pa.version).cmp(&(&pb.name, &pb.version))
    });
    let mut done = BTreeSet::new();
    let mut order = Vec::new();
    fn visit(
        n: usize,
        ids: &[usize],
        edges: &[(usize, usize)],
        done: &mut BTreeSet<usize>,
        order: &mut Vec<usize>,
    ) {
        if !done.insert(n) {
            return;
        }
        for &d in ids {
            if edges.contains(&(n, d)) {
                visit(d, ids, edges, done, order);
            }
        }
        order.push(n);
    }
    for &n in &ids {
        visit(n, &ids, edges, &mut done, &mut order);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let v = semver::Version::new(1, 2, 3);
        assert!(spec_matches("foo", "foo", &v));
        assert!(spec_matches("foo@1.2.3", "foo", &v));
        assert!(spec_matches("foo:1.2", "foo", &v));
        assert!(!spec_matches("foo@1.3", "foo", &v));
        assert!(spec_matches("f*", "foo", &v));
        assert!(!spec_matches("fo", "foo", &v));
    }

    #[test]
    fn similar_names() {
        assert_eq!(
            closest("fooo", ["foo", "bar"].into_iter()).as_deref(),
            Some("foo")
        );
        assert_eq!(closest("nope", ["e"].into_iter()).as_deref(), Some("e"));
        assert_eq!(closest("zzzzz", ["foo", "bar"].into_iter()), None);
    }
}
