//! Which in-workspace dependencies order the uploads: a crate goes only after the crates it needs
//! are in the registry.

use std::collections::BTreeSet;

use gantry_package::workspace::{DepKind, Workspace};

/// The packaging edges (cargo's: versioned dev-dependencies count) minus the dev-only edges that
/// would close a cycle: a dev-dependency is not needed to build the dependent, so when two crates
/// dev-depend on each other through a normal dependency, the normal edge decides the order.
pub fn upload_edges(ws: &Workspace, selected: &[usize]) -> Vec<(usize, usize)> {
    let all = gantry_package::local_edges(ws, selected);
    let dev_only = |(a, b): (usize, usize)| {
        ws.members[a]
            .dependencies
            .iter()
            .filter(|d| d.path.as_ref().and_then(|p| ws.member_by_root(p)) == Some(b))
            .all(|d| d.kind == DepKind::Dev)
    };
    let (dev, mut kept): (Vec<_>, Vec<_>) = all.into_iter().partition(|&e| dev_only(e));
    let reaches = |edges: &[(usize, usize)], from: usize, to: usize| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n) {
                stack.extend(edges.iter().filter(|(x, _)| *x == n).map(|(_, y)| *y));
            }
        }
        false
    };
    for (a, b) in dev {
        if !reaches(&kept, b, a) {
            kept.push((a, b));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use gantry_package::load_workspace;

    use super::*;

    /// A workspace of `members` (name, extra manifest text), all at version 0.1.0.
    fn workspace(dir: &Path, members: &[(&str, &str)]) -> Workspace {
        let names: Vec<String> = members.iter().map(|(n, _)| format!("\"{n}\"")).collect();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[workspace]\nmembers = [{}]\n", names.join(", ")),
        )
        .unwrap();
        for (name, extra) in members {
            std::fs::create_dir_all(dir.join(name).join("src")).unwrap();
            std::fs::write(dir.join(name).join("src/lib.rs"), "").unwrap();
            std::fs::write(
                dir.join(name).join("Cargo.toml"),
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{extra}"
                ),
            )
            .unwrap();
        }
        load_workspace(&dir.join("Cargo.toml")).unwrap()
    }

    fn named(ws: &Workspace, edges: &[(usize, usize)]) -> Vec<(String, String)> {
        let name = |i: usize| ws.members[i].name.to_string();
        edges.iter().map(|&(a, b)| (name(a), name(b))).collect()
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn a_dev_dependency_that_would_close_a_cycle_does_not_order_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(
            dir.path(),
            &[
                (
                    "app",
                    "[dependencies]\ncore = { path = \"../core\", version = \"0.1\" }\n",
                ),
                (
                    "core",
                    "[dev-dependencies]\napp = { path = \"../app\", version = \"0.1\" }\n",
                ),
            ],
        );
        let all: Vec<usize> = (0..ws.members.len()).collect();
        assert_eq!(named(&ws, &upload_edges(&ws, &all)), [pair("app", "core")]);
    }

    #[test]
    fn a_dev_dependency_without_a_cycle_still_orders_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(
            dir.path(),
            &[
                (
                    "tests-only",
                    "[dev-dependencies]\nlib = { path = \"../lib\", version = \"0.1\" }\n",
                ),
                ("lib", ""),
            ],
        );
        let all: Vec<usize> = (0..ws.members.len()).collect();
        assert_eq!(
            named(&ws, &upload_edges(&ws, &all)),
            [pair("tests-only", "lib")]
        );
        // Members not selected are no edges.
        let lib = ws.members.iter().position(|m| m.name == "lib").unwrap();
        let tests_only = 1 - lib;
        assert!(upload_edges(&ws, &[tests_only]).is_empty());
    }
}
