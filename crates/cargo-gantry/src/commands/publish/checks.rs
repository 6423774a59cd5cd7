//! The checks around selection that cargo makes before packaging: unpublishable members,
//! versions a dry run finds already published, and crates.io's rule against dependencies from
//! other registries. Each says what cargo says.

use anyhow::bail;
use gantry_package::Reporter;
use gantry_package::workspace::{DepKind, Package, Workspace};

use crate::remote::{Remote, Target};
use crate::shell::Shell;

/// cargo's dry-run warning, before packaging, for each selected version already in the index (by
/// version alone; the checksum comparison comes after packaging). An index that cannot be read
/// here is read again, with its error, after packaging.
pub(super) fn warn_existing_versions(
    ws: &Workspace,
    selected: &[usize],
    remote: &Remote,
    target: &Target,
    shell: &Shell,
) {
    for &i in selected {
        let m = &ws.members[i];
        let version = m.version.to_string();
        if let Ok(Some(_)) = remote
            .runtime
            .block_on(remote.index.find(&m.name, &version))
        {
            shell.warning(&format!(
                "crate {}@{version} already exists on {}",
                m.name,
                target.describe()
            ));
        }
    }
}

/// crates.io cannot hold a crate whose dependencies live in another registry (spec §8.3).
pub(super) fn check_no_foreign_deps(m: &Package) -> anyhow::Result<()> {
    for dep in &m.dependencies {
        if dep.kind == DepKind::Dev && dep.version_req.is_none() {
            continue; // stripped from the published manifest
        }
        if let Some(reg) = dep
            .registry
            .as_deref()
            .filter(|r| *r != gantry_package::CRATES_IO)
        {
            return Err(anyhow::anyhow!(
                "crates cannot be published to crates.io with dependencies sourced from other\nregistries. `{}` needs to be published to crates.io before publishing this crate.\n(crate `{}` is pulled from registry `{reg}`)",
                dep.package,
                dep.package
            )
            .context(format!(
                "failed to verify manifest at `{}`",
                m.manifest_path.display()
            )));
        }
    }
    Ok(())
}

/// Drops `publish = false` (and versionless) packages; errors when the user named them.
pub(super) fn split_unpublishable(
    ws: &Workspace,
    selected: &[usize],
    explicit: bool,
    shell: &Shell,
) -> anyhow::Result<Option<Vec<usize>>> {
    let unpublishable = |i: &usize| {
        let m = &ws.members[*i];
        !m.version_declared || m.publish.as_ref().is_some_and(Vec::is_empty)
    };
    let (blocked, ok): (Vec<usize>, Vec<usize>) = selected.iter().partition(|i| unpublishable(i));
    if !blocked.is_empty() && explicit {
        let names: Vec<String> = blocked
            .iter()
            .map(|&i| format!("`{}`", ws.members[i].name))
            .collect();
        bail!(
            "{} cannot be published.\n`package.publish` must be set to `true` or a non-empty list in Cargo.toml to publish.",
            names.join(", ")
        );
    }
    if ok.is_empty() {
        let n = blocked.len();
        shell.warning(&format!(
            "nothing to publish, but found {n} unpublishable package{}\n  |\n  = help: to publish packages, set `package.publish` to `true` or a non-empty list",
            if n == 1 { "" } else { "s" }
        ));
        return Ok(None);
    }
    Ok(Some(ok))
}
