//! Target auto-discovery: the lib, bins, examples, tests and benches cargo would build for a
//! package, combining explicit `[lib]`/`[[bin]]`/… tables with files found in the conventional
//! places. The published manifest lists every one of them explicitly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cargo_util_schemas::manifest::{PathValue, TomlPackageBuild, TomlTarget};

use super::paths::normalize_path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKind {
    Lib,
    Bin,
    Example,
    Test,
    Bench,
}

impl TargetKind {
    /// The word cargo uses in "ignoring <kind> `x` …" warnings.
    pub fn description(self) -> &'static str {
        match self {
            TargetKind::Lib => "library",
            TargetKind::Bin => "binary",
            TargetKind::Example => "example",
            TargetKind::Test => "test",
            TargetKind::Bench => "benchmark",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub kind: TargetKind,
    pub name: String,
    /// Absolute, lexically normalised.
    pub path: PathBuf,
    pub required_features: Vec<String>,
    /// The target table as cargo would write it (explicit fields kept, `name` filled); `path` is
    /// replaced with the package-relative form when publishing.
    pub toml: TomlTarget,
}

/// What target discovery needs from a (resolved) manifest.
pub(super) struct TargetInputs<'a> {
    pub root: &'a Path,
    pub package_name: &'a str,
    pub edition: &'a str,
    pub lib: Option<&'a TomlTarget>,
    pub bins: Option<&'a [TomlTarget]>,
    pub examples: Option<&'a [TomlTarget]>,
    pub tests: Option<&'a [TomlTarget]>,
    pub benches: Option<&'a [TomlTarget]>,
    pub autolib: Option<bool>,
    pub autobins: Option<bool>,
    pub autoexamples: Option<bool>,
    pub autotests: Option<bool>,
    pub autobenches: Option<bool>,
}

/// One target kind's explicit tables and its `auto*` switch.
type KindInputs<'a> = (TargetKind, Option<&'a [TomlTarget]>, Option<bool>);

/// Discovers all targets. Errors are cargo's texts for targets whose file cannot be inferred.
pub(super) fn discover(inp: &TargetInputs<'_>) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    if let Some(lib) = discover_lib(inp)? {
        out.push(lib);
    }
    let legacy = inp.edition == "2015";
    let kinds: [KindInputs<'_>; 4] = [
        (TargetKind::Bin, inp.bins, inp.autobins),
        (TargetKind::Example, inp.examples, inp.autoexamples),
        (TargetKind::Test, inp.tests, inp.autotests),
        (TargetKind::Bench, inp.benches, inp.autobenches),
    ];
    for (kind, explicit, auto) in kinds {
        let explicit = explicit.unwrap_or(&[]);
        // Edition 2015 turns discovery off as soon as any target of the kind is listed.
        let auto = auto.unwrap_or(!legacy || explicit.is_empty());
        out.extend(discover_kind(inp, kind, explicit, auto)?);
    }
    Ok(out)
}

fn discover_lib(inp: &TargetInputs<'_>) -> Result<Option<Target>, String> {
    let default = inp.root.join("src").join("lib.rs");
    let default_exists = default.is_file() && inp.autolib.unwrap_or(true);
    let mut toml = match inp.lib {
        Some(lib) => lib.clone(),
        None if default_exists => TomlTarget::new(),
        None => return Ok(None),
    };
    let path = match toml.path.as_ref() {
        Some(p) => normalize_path(&inp.root.join(&p.0)),
        None if default.is_file() => default,
        None => {
            let name = toml
                .name
                .clone()
                .unwrap_or_else(|| lib_name(inp.package_name));
            return Err(format!(
                "can't find library `{name}`, rename file to `src/lib.rs` or specify lib.path"
            ));
        }
    };
    let name = toml
        .name
        .clone()
        .unwrap_or_else(|| lib_name(inp.package_name));
    toml.name = Some(name.clone());
    toml.path = Some(PathValue(path.clone()));
    Ok(Some(Target {
        kind: TargetKind::Lib,
        name,
        path,
        required_features: toml.required_features.clone().unwrap_or_default(),
        toml,
    }))
}

fn lib_name(package: &str) -> String {
    package.replace('-', "_")
}

fn kind_dir(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Bin => "src/bin",
        TargetKind::Example => "examples",
        TargetKind::Test => "tests",
        TargetKind::Bench => "benches",
        TargetKind::Lib => "src",
    }
}

/// Files cargo infers for one kind: `(name, absolute path)`, sorted by name.
fn infer(inp: &TargetInputs<'_>, kind: TargetKind) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    if kind == TargetKind::Bin {
        let main = inp.root.join("src").join("main.rs");
        if main.is_file() {
            found.push((inp.package_name.to_string(), main));
        }
    }
    let dir = inp.root.join(kind_dir(kind));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return found;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // Hidden files (editor backups, `.DS_Store`) are never targets.
        if file_name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            let main = path.join("main.rs");
            if main.is_file() {
                found.push((file_name, main));
            }
        } else if let Some(stem) = file_name.strip_suffix(".rs")
            && path.is_file()
        {
            found.push((stem.to_string(), path));
        }
    }
    found
}

fn discover_kind(
    inp: &TargetInputs<'_>,
    kind: TargetKind,
    explicit: &[TomlTarget],
    auto: bool,
) -> Result<Vec<Target>, String> {
    let inferred = infer(inp, kind);
    let mut out = Vec::new();
    for t in explicit {
        let Some(name) = t.name.clone() else {
            return Err(format!(
                "{} target {}.name is required",
                kind.description(),
                kind_key(kind)
            ));
        };
        let path = match t.path.as_ref() {
            Some(p) => normalize_path(&inp.root.join(&p.0)),
            None => match inferred.iter().find(|(n, _)| *n == name) {
                Some((_, p)) => p.clone(),
                // Cargo only insists for binaries; a test, example or bench whose file cannot be
                // inferred is dropped without a word when packaging (published crates often
                // exclude them).
                None if kind != TargetKind::Bin => continue,
                None => return Err(missing_target(kind, &name)),
            },
        };
        let mut toml = t.clone();
        toml.path = Some(PathValue(path.clone()));
        out.push(Target {
            kind,
            name,
            path,
            required_features: t.required_features.clone().unwrap_or_default(),
            toml,
        });
    }
    if auto {
        let names: BTreeSet<String> = out.iter().map(|t| t.name.clone()).collect();
        let paths: BTreeSet<PathBuf> = out.iter().map(|t| t.path.clone()).collect();
        for (name, path) in inferred {
            if names.contains(&name) || paths.contains(&path) {
                continue;
            }
            let toml = TomlTarget {
                name: Some(name.clone()),
                path: Some(PathValue(path.clone())),
                ..TomlTarget::new()
            };
            out.push(Target {
                kind,
                name,
                path,
                required_features: Vec::new(),
                toml,
            });
        }
    }
    Ok(out)
}

fn kind_key(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Lib => "lib",
        TargetKind::Bin => "bin",
        TargetKind::Example => "example",
        TargetKind::Test => "test",
        TargetKind::Bench => "bench",
    }
}

fn missing_target(kind: TargetKind, name: &str) -> String {
    let dir = kind_dir(kind);
    let key = kind_key(kind);
    format!(
        "can't find `{name}` {key} at `{dir}/{name}.rs` or `{dir}/{name}/main.rs`. Please specify {key}.path if you want to use a non-default path."
    )
}

/// The build script cargo would run: `build = "x"` or an existing `build.rs` in the root.
pub(super) fn build_script(root: &Path, build: Option<&TomlPackageBuild>) -> Option<PathBuf> {
    match build {
        Some(TomlPackageBuild::Auto(false)) => None,
        Some(TomlPackageBuild::Auto(true)) => Some(root.join("build.rs")),
        Some(TomlPackageBuild::SingleScript(s)) => Some(normalize_path(&root.join(s))),
        Some(TomlPackageBuild::MultipleScript(v)) => {
            v.first().map(|s| normalize_path(&root.join(s)))
        }
        None => {
            let p = root.join("build.rs");
            p.is_file().then_some(p)
        }
    }
}
