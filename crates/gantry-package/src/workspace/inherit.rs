//! Workspace inheritance: replaces every `key.workspace = true` in a member manifest with the value
//! from the root's `[workspace.package]`, `[workspace.dependencies]` and `[workspace.lints]`.
//!
//! Path-valued fields (`readme`, `license-file`, dependency `path`) are written relative to the
//! workspace root there, so they are re-expressed relative to the member, as cargo does.

use std::collections::BTreeMap;
use std::path::Path;

use cargo_util_schemas::manifest::{
    InheritableDependency, InheritableField, InheritableLints, StringOrBool, TomlDependency,
    TomlDetailedDependency, TomlInheritedDependency, TomlManifest, TomlPlatform, TomlWorkspace,
};

use super::paths::{normalize_path, relative_to, slash_string};

/// What a member may inherit from: the root's `[workspace]` table and the root directory.
pub(super) struct InheritSource<'a> {
    pub workspace: Option<&'a TomlWorkspace>,
    pub root_dir: &'a Path,
}

/// cargo's wording: the outer line names the key, the cause says what was missing.
pub(super) fn missing(key: &str, inner: &str) -> String {
    format!(
        "error inheriting `{key}` from workspace root manifest's `workspace.{inner}`\n\nCaused by:\n  `workspace.{inner}` was not defined"
    )
}

fn no_workspace(key: &str) -> String {
    format!(
        "error inheriting `{key}` from workspace root manifest's `workspace.package.{key}`\n\nCaused by:\n  failed to find a workspace root"
    )
}

macro_rules! inherit_field {
    ($pkg:expr, $src:expr, $field:ident, $key:literal) => {
        if let Some(InheritableField::Inherit(_)) = &$pkg.$field {
            let ws = $src.workspace.ok_or_else(|| no_workspace($key))?;
            let value = ws
                .package
                .as_ref()
                .and_then(|p| p.$field.clone())
                .ok_or_else(|| missing($key, concat!("package.", $key)))?;
            $pkg.$field = Some(InheritableField::Value(value));
        }
    };
}

/// Resolves all inheritance in `manifest` (member directory `member_root`). Errors are the text
/// cargo puts under `failed to parse manifest at …`.
pub(super) fn resolve(
    manifest: &mut TomlManifest,
    member_root: &Path,
    src: &InheritSource<'_>,
) -> Result<(), String> {
    if let Some(pkg) = manifest.package.as_mut() {
        inherit_field!(pkg, src, edition, "edition");
        inherit_field!(pkg, src, rust_version, "rust-version");
        inherit_field!(pkg, src, version, "version");
        inherit_field!(pkg, src, authors, "authors");
        inherit_field!(pkg, src, exclude, "exclude");
        inherit_field!(pkg, src, include, "include");
        inherit_field!(pkg, src, publish, "publish");
        inherit_field!(pkg, src, description, "description");
        inherit_field!(pkg, src, homepage, "homepage");
        inherit_field!(pkg, src, documentation, "documentation");
        inherit_field!(pkg, src, keywords, "keywords");
        inherit_field!(pkg, src, categories, "categories");
        inherit_field!(pkg, src, license, "license");
        inherit_field!(pkg, src, repository, "repository");
        if let Some(InheritableField::Inherit(_)) = &pkg.readme {
            let ws = src.workspace.ok_or_else(|| no_workspace("readme"))?;
            let value = ws
                .package
                .as_ref()
                .and_then(|p| p.readme.clone())
                .ok_or_else(|| missing("readme", "package.readme"))?;
            let value = match value {
                StringOrBool::String(s) => {
                    StringOrBool::String(rebase(&s, src.root_dir, member_root))
                }
                // `true` means the root's README.md, so it is rebased like a string.
                StringOrBool::Bool(true) => {
                    StringOrBool::String(rebase("README.md", src.root_dir, member_root))
                }
                b => b,
            };
            pkg.readme = Some(InheritableField::Value(value));
        }
        if let Some(InheritableField::Inherit(_)) = &pkg.license_file {
            let ws = src.workspace.ok_or_else(|| no_workspace("license-file"))?;
            let value = ws
                .package
                .as_ref()
                .and_then(|p| p.license_file.clone())
                .ok_or_else(|| missing("license-file", "package.license-file"))?;
            pkg.license_file = Some(InheritableField::Value(rebase(
                &value,
                src.root_dir,
                member_root,
            )));
        }
    }
    let edition = manifest
        .package
        .as_ref()
        .and_then(|p| p.edition.as_ref())
        .and_then(|e| e.as_value().cloned())
        .unwrap_or_else(|| "2015".to_string());
    // Since 2024 a member can no longer silently fail to turn default features off.
    let strict = matches!(edition.as_str(), "2024") || edition.as_str() > "2024";
    let ctx = DepCtx {
        member_root,
        src,
        strict,
    };
    for table in [
        &mut manifest.dependencies,
        &mut manifest.dev_dependencies,
        &mut manifest.dev_dependencies2,
        &mut manifest.build_dependencies,
        &mut manifest.build_dependencies2,
    ] {
        resolve_deps(table, &ctx)?;
    }
    if let Some(targets) = manifest.target.as_mut() {
        for platform in targets.values_mut() {
            resolve_platform(platform, &ctx)?;
        }
    }
    if let Some(lints) = manifest.lints.as_mut()
        && lints.workspace
    {
        let ws = src.workspace.ok_or_else(|| {
            "error inheriting `lints` from workspace root manifest's `workspace.lints`\n\nCaused by:\n  failed to find a workspace root".to_string()
        })?;
        let ws_lints = ws.lints.clone().ok_or_else(|| missing("lints", "lints"))?;
        *lints = InheritableLints {
            workspace: false,
            lints: ws_lints,
        };
    }
    Ok(())
}

struct DepCtx<'a> {
    member_root: &'a Path,
    src: &'a InheritSource<'a>,
    strict: bool,
}

fn resolve_platform(platform: &mut TomlPlatform, ctx: &DepCtx<'_>) -> Result<(), String> {
    for table in [
        &mut platform.dependencies,
        &mut platform.dev_dependencies,
        &mut platform.dev_dependencies2,
        &mut platform.build_dependencies,
        &mut platform.build_dependencies2,
    ] {
        resolve_deps(table, ctx)?;
    }
    Ok(())
}

type DepTable = Option<BTreeMap<cargo_util_schemas::manifest::PackageName, InheritableDependency>>;

fn resolve_deps(table: &mut DepTable, ctx: &DepCtx<'_>) -> Result<(), String> {
    let Some(table) = table.as_mut() else {
        return Ok(());
    };
    for (name, dep) in table.iter_mut() {
        if let InheritableDependency::Inherit(member) = dep {
            let merged = merge_dep(name.as_str(), member, ctx)?;
            *dep = InheritableDependency::Value(merged);
        }
    }
    Ok(())
}

fn merge_dep(
    name: &str,
    member: &TomlInheritedDependency,
    ctx: &DepCtx<'_>,
) -> Result<TomlDependency, String> {
    let (member_root, src) = (ctx.member_root, ctx.src);
    let ws = src.workspace.ok_or_else(|| {
        format!(
            "error inheriting `{name}` from workspace root manifest's `workspace.dependencies.{name}`\n\nCaused by:\n  failed to find a workspace root"
        )
    })?;
    let ws_deps = ws.dependencies.as_ref().ok_or_else(|| {
        format!(
            "error inheriting `{name}` from workspace root manifest's `workspace.dependencies.{name}`\n\nCaused by:\n  `workspace.dependencies` was not defined"
        )
    })?;
    let ws_dep = ws_deps.get(name).ok_or_else(|| {
            format!(
                "error inheriting `{name}` from workspace root manifest's `workspace.dependencies.{name}`\n\nCaused by:\n  `dependency.{name}` was not found in `workspace.dependencies`"
            )
        })?;
    let mut d: TomlDetailedDependency = match ws_dep {
        TomlDependency::Simple(v) => TomlDetailedDependency {
            version: Some(v.clone()),
            ..Default::default()
        },
        TomlDependency::Detailed(d) => d.clone(),
    };
    // `path` in [workspace.dependencies] is relative to the root; the member needs it relative
    // to itself (it is removed on publish, but path deps are resolved from it).
    if let Some(p) = d.path.as_ref() {
        d.path = Some(rebase(p, src.root_dir, member_root));
    }
    d.features = match (d.features.take(), member.features.clone()) {
        (Some(ws_f), Some(m_f)) => Some(ws_f.into_iter().chain(m_f).collect()),
        (Some(ws_f), None) => Some(ws_f),
        (None, Some(m_f)) => Some(m_f),
        (None, None) => None,
    };
    if member.optional.is_some() {
        d.optional = member.optional;
    }
    if member.public.is_some() {
        d.public = member.public;
    }
    // A member can turn default features back on, never off (cargo warns about the latter).
    match (member.default_features(), d.default_features()) {
        (Some(true), Some(false)) => d.default_features = Some(true),
        (Some(false), Some(true) | None) if ctx.strict => {
            return Err(format!(
                "error inheriting `{name}` from workspace root manifest's `workspace.dependencies.{name}`\n\nCaused by:\n  `default-features = false` cannot override workspace's `default-features`"
            ));
        }
        _ => {}
    }
    Ok(TomlDependency::Detailed(d))
}

/// Re-expresses `value` (relative to `from`) relative to `to`, with `/` separators.
fn rebase(value: &str, from: &Path, to: &Path) -> String {
    let abs = normalize_path(&from.join(value));
    slash_string(&relative_to(&abs, &normalize_path(to)))
}
