//! One loaded package: the inheritance-resolved manifest plus the facts packaging needs
//! (targets, dependencies, readme/license paths, build script).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cargo_util_schemas::manifest::{
    InheritableDependency, PackageName, StringOrBool, TomlDependency, TomlManifest, TomlPackage,
    TomlPackageBuild, VecStringOrBool,
};

use super::error::ManifestError;
use super::inherit::{self, InheritSource};
use super::paths::normalize_path;
use super::targets::{self, Target, TargetInputs};

#[derive(Debug, Clone)]
pub struct Package {
    pub manifest_path: PathBuf,
    pub root: PathBuf,
    pub name: String,
    /// 0.0.0 when the manifest has no version.
    pub version: semver::Version,
    pub version_declared: bool,
    /// None = any registry; Some(vec![]) = `publish = false` (also implied by a missing version).
    pub publish: Option<Vec<String>>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub readme: Option<ManifestPath>,
    pub license_file: Option<ManifestPath>,
    /// Absolute, lexically normalised.
    pub build_script: Option<PathBuf>,
    pub targets: Vec<Target>,
    pub dependencies: Vec<Dependency>,
    pub metadata: Metadata,
    pub rust_version: Option<String>,
    pub edition: String,
    pub links: Option<String>,
    /// The manifest with all workspace inheritance resolved (`[project]` folded into `package`).
    pub resolved: TomlManifest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPath {
    /// As written, after inheritance re-expression (e.g. `../README.md`).
    pub value: String,
    /// `root.join(value)`, lexically normalised.
    pub abs: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub description: Option<String>,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub documentation: Option<String>,
    pub homepage: Option<String>,
    pub repository: Option<String>,
}

/// How a dependency is used (which table of `Cargo.toml` it is in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DepKind {
    Normal,
    Dev,
    Build,
}

impl DepKind {
    /// The word registries use (publish metadata, index lines).
    pub fn as_str(self) -> &'static str {
        match self {
            DepKind::Normal => "normal",
            DepKind::Dev => "dev",
            DepKind::Build => "build",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name_in_toml: String,
    pub package: String,
    pub kind: DepKind,
    pub target: Option<String>,
    pub version_req: Option<String>,
    /// Absolute, lexically normalised.
    pub path: Option<PathBuf>,
    pub git: Option<String>,
    pub registry: Option<String>,
    pub optional: bool,
    pub features: Vec<String>,
    pub default_features: bool,
}

/// The resolver a package implies by itself: explicit `package.resolver`, else the edition's.
pub fn own_resolver(manifest: &TomlManifest) -> String {
    let pkg = manifest.package.as_deref();
    if let Some(r) = pkg.and_then(|p| p.resolver.clone()) {
        return r;
    }
    let edition = pkg
        .and_then(|p| p.edition.as_ref())
        .and_then(|e| e.as_value().cloned())
        .unwrap_or_else(|| "2015".to_string());
    edition_resolver(&edition).to_string()
}

fn edition_resolver(edition: &str) -> &'static str {
    match edition {
        "2015" | "2018" => "1",
        "2021" => "2",
        _ => "3",
    }
}

/// Builds a [`Package`] from a parsed manifest, resolving inheritance against `src`.
pub(super) fn build(
    manifest_path: &Path,
    mut toml: TomlManifest,
    src: &InheritSource<'_>,
) -> Result<Package, ManifestError> {
    let root = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    inherit::resolve(&mut toml, &root, src).map_err(|e| ManifestError::parse(manifest_path, e))?;
    let Some(pkg) = toml.package.as_deref() else {
        return Err(ManifestError::parse(
            manifest_path,
            "manifest is missing a `[package]`",
        ));
    };
    let Some(name) = pkg.name.as_ref().map(|n| n.to_string()) else {
        return Err(ManifestError::parse(
            manifest_path,
            "missing field `package.name`",
        ));
    };
    let version = pkg.version.as_ref().and_then(|v| v.as_value().cloned());
    let version_declared = version.is_some();
    let publish = match pkg.publish.as_ref().and_then(|p| p.as_value()) {
        Some(VecStringOrBool::Bool(true)) => None,
        Some(VecStringOrBool::Bool(false)) => Some(Vec::new()),
        Some(VecStringOrBool::VecString(v)) => Some(v.clone()),
        // A package without a version can never be published.
        None if !version_declared => Some(Vec::new()),
        None => None,
    };
    let edition = value_string(&pkg.edition).unwrap_or_else(|| "2015".to_string());
    validate(pkg, &edition, version_declared)
        .map_err(|e| ManifestError::parse(manifest_path, e))?;
    let targets = targets::discover(&TargetInputs {
        root: &root,
        package_name: &name,
        edition: &edition,
        lib: toml.lib.as_ref(),
        bins: toml.bin.as_deref(),
        examples: toml.example.as_deref(),
        tests: toml.test.as_deref(),
        benches: toml.bench.as_deref(),
        autolib: pkg.autolib,
        autobins: pkg.autobins,
        autoexamples: pkg.autoexamples,
        autotests: pkg.autotests,
        autobenches: pkg.autobenches,
    })
    .map_err(|e| ManifestError::parse(manifest_path, e))?;
    // Cargo refuses only a package with no target at all (a build script is not one): a member
    // with nothing but `[[test]]` or `[[bench]]` targets is loaded like any other.
    if targets.is_empty() {
        return Err(ManifestError::parse(
            manifest_path,
            "no targets specified in the manifest\neither src/lib.rs, src/main.rs, a [lib] section, or [[bin]] section must be present",
        ));
    }
    if let Some(TomlPackageBuild::MultipleScript(_)) = pkg.build.as_ref() {
        return Err(ManifestError::parse(
            manifest_path,
            unstable_feature("multiple-build-scripts"),
        ));
    }
    let build_script = targets::build_script(&root, pkg.build.as_ref());
    if let (Some(links), None) = (&pkg.links, &build_script) {
        return Err(ManifestError::parse(
            manifest_path,
            format!(
                "package specifies that it links to `{links}` but does not have a custom build script"
            ),
        ));
    }
    let dependencies = dependencies(&toml, &root);
    validate_features(&toml, &dependencies).map_err(|e| ManifestError::parse(manifest_path, e))?;
    let package = Package {
        manifest_path: manifest_path.to_path_buf(),
        name,
        version: version.unwrap_or_else(|| semver::Version::new(0, 0, 0)),
        version_declared,
        publish,
        include: value_vec(&pkg.include),
        exclude: value_vec(&pkg.exclude),
        readme: readme(pkg, &root),
        license_file: value_string(&pkg.license_file).map(|v| manifest_path_of(&root, v)),
        build_script,
        targets,
        dependencies,
        metadata: metadata(pkg),
        rust_version: pkg
            .rust_version
            .as_ref()
            .and_then(|r| r.as_value())
            .map(|r| r.to_string()),
        edition,
        links: pkg.links.clone(),
        root,
        resolved: toml.clone(),
    };
    Ok(package)
}

/// Checks cargo performs while parsing that decide whether a manifest loads at all. Errors are
/// the cause text under "failed to parse manifest at …" (chains as `\n\nCaused by:\n  `).
fn validate(pkg: &TomlPackage, edition: &str, version_declared: bool) -> Result<(), String> {
    if !matches!(edition, "2015" | "2018" | "2021" | "2024") {
        let future = edition
            .parse::<u16>()
            .is_ok_and(|y| (2025..2050).contains(&y));
        let why = if future {
            format!(
                "this version of Cargo is older than the `{edition}` edition, and only supports `2015`, `2018`, `2021`, and `2024` editions."
            )
        } else {
            format!(
                "supported edition values are `2015`, `2018`, `2021`, or `2024`, but `{edition}` is unknown"
            )
        };
        return Err(format!(
            "failed to parse the `edition` key\n\nCaused by:\n  {why}"
        ));
    }
    if pkg.publish.is_some() && !version_declared {
        return Err("`package.publish` requires `package.version` be specified".to_string());
    }
    Ok(())
}

/// The `[features]` checks that make cargo refuse to load a manifest (first problem wins, in
/// feature-name order).
fn validate_features(toml: &TomlManifest, deps: &[Dependency]) -> Result<(), String> {
    let Some(features) = toml.features.as_ref() else {
        return Ok(());
    };
    let optional = |name: &str| deps.iter().any(|d| d.name_in_toml == name && d.optional);
    let exists = |name: &str| deps.iter().any(|d| d.name_in_toml == name);
    const ADD_OPTIONAL: &str = "A non-optional dependency of the same name is defined; consider adding `optional = true` to its definition.";
    for (feature, values) in features {
        for value in values {
            if let Some(dep) = value.strip_prefix("dep:") {
                if !exists(dep) {
                    return Err(format!(
                        "feature `{feature}` includes `{value}`, but `{dep}` is not listed as a dependency"
                    ));
                }
                if !optional(dep) {
                    return Err(format!(
                        "feature `{feature}` includes `{value}`, but `{dep}` is not an optional dependency\n{ADD_OPTIONAL}"
                    ));
                }
            } else if let Some((dep, _)) = value.split_once('/') {
                if let Some(dep) = dep.strip_suffix('?')
                    && exists(dep)
                    && !optional(dep)
                {
                    return Err(format!(
                        "feature `{feature}` includes `{value}` with a `?`, but `{dep}` is not an optional dependency\nA non-optional dependency of the same name is defined; consider removing the `?` or changing the dependency to be optional"
                    ));
                }
            } else if !features.contains_key(value.as_str())
                && optional(value)
                && features
                    .values()
                    .flatten()
                    .any(|v| v.strip_prefix("dep:") == Some(value.as_str()))
            {
                // Using `dep:x` anywhere removes the implicit feature `x`.
                return Err(format!(
                    "feature `{feature}` includes `{value}`, but `{value}` is an optional dependency without an implicit feature\nUse `dep:{value}` to enable the dependency."
                ));
            } else if !features.contains_key(value.as_str()) && !optional(value) {
                if exists(value) {
                    return Err(format!(
                        "feature `{feature}` includes `{value}`, but `{value}` is not an optional dependency\n{ADD_OPTIONAL}"
                    ));
                }
                return Err(format!(
                    "feature `{feature}` includes `{value}` which is neither a dependency nor another feature"
                ));
            }
        }
    }
    Ok(())
}

fn value_string(field: &Option<cargo_util_schemas::manifest::InheritableString>) -> Option<String> {
    field.as_ref().and_then(|f| f.as_value().cloned())
}

fn value_vec(field: &Option<cargo_util_schemas::manifest::InheritableVecString>) -> Vec<String> {
    field
        .as_ref()
        .and_then(|f| f.as_value().cloned())
        .unwrap_or_default()
}

fn manifest_path_of(root: &Path, value: String) -> ManifestPath {
    let abs = normalize_path(&root.join(&value));
    ManifestPath { value, abs }
}

/// cargo's readme rules: unset → first existing README.md/README.txt/README; `true` → README.md.
pub(super) fn readme(pkg: &TomlPackage, root: &Path) -> Option<ManifestPath> {
    match pkg.readme.as_ref().and_then(|r| r.as_value()) {
        Some(StringOrBool::String(s)) => Some(manifest_path_of(root, s.clone())),
        Some(StringOrBool::Bool(true)) => Some(manifest_path_of(root, "README.md".to_string())),
        Some(StringOrBool::Bool(false)) => None,
        None => ["README.md", "README.txt", "README"]
            .into_iter()
            .find(|f| root.join(f).is_file())
            .map(|f| manifest_path_of(root, f.to_string())),
    }
}

fn metadata(pkg: &TomlPackage) -> Metadata {
    Metadata {
        description: value_string(&pkg.description),
        license: value_string(&pkg.license),
        license_file: value_string(&pkg.license_file),
        documentation: value_string(&pkg.documentation),
        homepage: value_string(&pkg.homepage),
        repository: value_string(&pkg.repository),
    }
}

type DepTable = BTreeMap<PackageName, InheritableDependency>;

/// Every dependency in cargo's table order: normal, dev, build, then per platform.
fn dependencies(toml: &TomlManifest, root: &Path) -> Vec<Dependency> {
    let mut out = Vec::new();
    let mut push = |table: Option<&DepTable>, kind: DepKind, target: Option<&String>| {
        for (name, dep) in table.into_iter().flatten() {
            if let InheritableDependency::Value(dep) = dep {
                out.push(convert(name.as_str(), dep, kind, target.cloned(), root));
            }
        }
    };
    push(toml.dependencies.as_ref(), DepKind::Normal, None);
    push(toml.dev_dependencies(), DepKind::Dev, None);
    push(toml.build_dependencies(), DepKind::Build, None);
    for (cfg, platform) in toml.target.iter().flatten() {
        push(platform.dependencies.as_ref(), DepKind::Normal, Some(cfg));
        push(platform.dev_dependencies(), DepKind::Dev, Some(cfg));
        push(platform.build_dependencies(), DepKind::Build, Some(cfg));
    }
    out
}

fn convert(
    name: &str,
    dep: &TomlDependency,
    kind: DepKind,
    target: Option<String>,
    root: &Path,
) -> Dependency {
    let mut d = Dependency {
        name_in_toml: name.to_string(),
        package: name.to_string(),
        kind,
        target,
        version_req: None,
        path: None,
        git: None,
        registry: None,
        optional: false,
        features: Vec::new(),
        default_features: true,
    };
    match dep {
        TomlDependency::Simple(v) => d.version_req = Some(v.clone()),
        TomlDependency::Detailed(t) => {
            d.version_req = t.version.clone();
            d.path = t.path.as_ref().map(|p| normalize_path(&root.join(p)));
            d.git = t.git.clone();
            d.registry = t.registry.as_ref().map(|r| r.to_string());
            d.optional = t.optional.unwrap_or(false);
            d.features = t.features.clone().unwrap_or_default();
            d.default_features = t.default_features().unwrap_or(true);
            if let Some(p) = t.package.as_ref() {
                d.package = p.to_string();
            }
        }
    }
    d
}

/// The cargo version whose behaviour Gantry mirrors, as cargo names itself in feature-gate errors.
const MIRRORED_CARGO: &str = "1.95.0 (f2d3ce0bd 2026-03-21)";

/// Cargo's error for a manifest that needs a nightly-only feature.
fn unstable_feature(feature: &str) -> String {
    format!(
        "feature `{feature}` is required\n\nThe package requires the Cargo feature called `{feature}`, but that feature is not stabilized in this version of Cargo ({MIRRORED_CARGO}).\nConsider trying a newer version of Cargo (this may require the nightly release).\nSee https://doc.rust-lang.org/nightly/cargo/reference/unstable.html#{feature} for more information about the status of this feature."
    )
}
