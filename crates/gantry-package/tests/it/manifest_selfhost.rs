//! Differential test on a real workspace: a copy of Gantry's own sources (inheritance from
//! `[workspace.package]`/`[workspace.dependencies]`, several members, tests directories).

use std::path::Path;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

#[test]
fn gantry_workspace_members_match_cargo() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fx = crate::manifest_common::fixture(&[]);
    std::fs::copy(repo.join("Cargo.toml"), fx.path("Cargo.toml")).expect("copy root");
    for member_dir in ["crates", "xtask"] {
        copy_tree(&repo.join(member_dir), &fx.path(member_dir));
    }
    let ws = gantry_package::load_workspace(&fx.path("Cargo.toml")).expect("load");
    assert!(!ws.members.is_empty());
    for m in &ws.members {
        let rel = m.manifest_path.strip_prefix(fx.dir.path()).expect("inside");
        crate::manifest_common::check_fx(
            &fx,
            &rel.to_string_lossy(),
            &m.name,
            &m.version.to_string(),
        );
    }
}
