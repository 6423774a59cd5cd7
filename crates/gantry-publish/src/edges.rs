//! Which in-workspace dependencies order the uploads: a crate goes only after the crates it needs
//! are in the registry.

use std::collections::BTreeSet;

use gantry_package::select;
use gantry_package::workspace::{DepKind, Workspace};

/// The packaging edges (cargo's: versioned dev-dependencies count) minus the dev-only edges that
/// would close a cycle: a dev-dependency is not needed to build the dependent, so when two crates
/// dev-depend on each other through a normal dependency, the normal edge decides the order.
pub fn upload_edges(ws: &Workspace, selected: &[usize]) -> Vec<(usize, usize)> {
    let all = select::local_edges(ws, selected);
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
