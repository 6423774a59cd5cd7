//! The dependencies of a publish-form `Cargo.toml` (the one inside the archive) as a registry sees
//! them: the publish metadata (spec §7.2) and the index line of the local overlay (spec §9) are both
//! derived from this one list, in cargo's order (top-level normal, dev, build; then each platform,
//! sorted by its key: normal, build, dev; names sorted within a table).

use toml::{Table, Value};

use crate::workspace::DepKind;

/// One dependency of a published package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishDep {
    /// The real package name.
    pub package: String,
    /// The key in the manifest when it differs from the package name (a renamed dependency).
    pub rename: Option<String>,
    /// The requirement in semver's rendering (`^1.0`), `*` when none was written.
    pub req: String,
    pub features: Vec<String>,
    pub optional: bool,
    pub default_features: bool,
    /// The platform as cargo renders it (`cfg(target_os = "hermit")`), whatever the spelling in
    /// the manifest.
    pub target: Option<String>,
    pub kind: DepKind,
    /// `registry-index` of the publish form: set when the dependency comes from a registry other
    /// than crates.io, spelt as configured.
    pub registry_index: Option<String>,
    pub artifact: Option<Vec<String>>,
    pub bindep_target: Option<String>,
    pub lib: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishDepError {
    #[error("failed to parse the packaged manifest of `{name}`: {why}")]
    Parse { name: String, why: String },
    #[error("invalid dependency `{key}` in the packaged manifest of `{name}`")]
    Invalid { name: String, key: String },
    #[error("invalid platform `{platform}` in the packaged manifest of `{name}`: {why}")]
    Platform {
        name: String,
        platform: String,
        why: String,
    },
}

/// Every dependency of the publish-form manifest `text` of package `name`.
pub fn publish_deps(name: &str, text: &str) -> Result<Vec<PublishDep>, PublishDepError> {
    let manifest: Table = toml::from_str(text).map_err(|e| PublishDepError::Parse {
        name: name.to_owned(),
        why: e.message().to_owned(),
    })?;
    use DepKind::{Build, Dev, Normal};
    let mut out = Vec::new();
    section_deps(
        name,
        &manifest,
        None,
        &[
            ("dependencies", Normal),
            ("dev-dependencies", Dev),
            ("build-dependencies", Build),
        ],
        &mut out,
    )?;
    if let Some(targets) = manifest.get("target").and_then(Value::as_table) {
        let mut platforms: Vec<&String> = targets.keys().collect();
        platforms.sort();
        for key in platforms {
            let Some(table) = targets[key].as_table() else {
                continue;
            };
            let platform = key
                .parse::<cargo_platform::Platform>()
                .map_err(|e| PublishDepError::Platform {
                    name: name.to_owned(),
                    platform: key.clone(),
                    why: e.to_string(),
                })?
                .to_string();
            section_deps(
                name,
                table,
                Some(&platform),
                &[
                    ("dependencies", Normal),
                    ("build-dependencies", Build),
                    ("dev-dependencies", Dev),
                ],
                &mut out,
            )?;
        }
    }
    Ok(out)
}

fn section_deps(
    name: &str,
    table: &Table,
    target: Option<&str>,
    kinds: &[(&str, DepKind)],
    out: &mut Vec<PublishDep>,
) -> Result<(), PublishDepError> {
    for (section, kind) in kinds {
        let Some(deps) = table.get(*section).and_then(Value::as_table) else {
            continue;
        };
        let mut keys: Vec<&String> = deps.keys().collect();
        keys.sort();
        for key in keys {
            out.push(dependency(name, key, &deps[key], target, *kind)?);
        }
    }
    Ok(())
}

fn dependency(
    name: &str,
    key: &str,
    value: &Value,
    target: Option<&str>,
    kind: DepKind,
) -> Result<PublishDep, PublishDepError> {
    let empty = Table::new();
    let (version, table) = match value {
        Value::String(v) => (Some(v.as_str()), &empty),
        Value::Table(t) => (t.get("version").and_then(Value::as_str), t),
        _ => {
            return Err(PublishDepError::Invalid {
                name: name.to_owned(),
                key: key.to_owned(),
            });
        }
    };
    let req = version.unwrap_or("*");
    let req = semver::VersionReq::parse(req)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| req.to_owned());
    let get_bool = |k: &str| table.get(k).and_then(Value::as_bool);
    let strings = |v: Option<&Value>| -> Option<Vec<String>> {
        match v? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        }
    };
    let package = table.get("package").and_then(Value::as_str);
    let artifact = strings(table.get("artifact"));
    Ok(PublishDep {
        package: package.unwrap_or(key).to_owned(),
        rename: package.map(|_| key.to_owned()),
        req,
        features: strings(table.get("features")).unwrap_or_default(),
        optional: get_bool("optional").unwrap_or(false),
        default_features: get_bool("default-features")
            .or_else(|| get_bool("default_features"))
            .unwrap_or(true),
        target: target.map(str::to_owned),
        kind,
        registry_index: table
            .get("registry-index")
            .and_then(Value::as_str)
            .map(str::to_owned),
        bindep_target: artifact.as_ref().and(
            table
                .get("target")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        artifact,
        lib: get_bool("lib").unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_are_rendered_as_cargo_renders_them() {
        let text = "[target.'cfg(target_os=\"hermit\")'.dependencies.h]\nversion = \"1\"\n\n[target.x86_64-unknown-linux-gnu.build-dependencies.t]\nversion = \"=2.0\"\n";
        let deps = publish_deps("p", text).unwrap();
        assert_eq!(
            deps[0].target.as_deref(),
            Some("cfg(target_os = \"hermit\")")
        );
        assert_eq!(deps[0].req, "^1");
        assert_eq!(deps[1].target.as_deref(), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(deps[1].kind, DepKind::Build);
        assert_eq!(deps[1].req, "=2.0");
    }

    #[test]
    fn order_renames_and_flags() {
        let text = "[dependencies.z]\nversion = \"1\"\n\n[dependencies.a]\nversion = \"0.2\"\npackage = \"real-a\"\noptional = true\ndefault-features = false\nfeatures = [\"x\"]\n\n[build-dependencies.b]\nversion = \"1\"\n\n[dev-dependencies.d]\nversion = \"1\"\nregistry-index = \"sparse+http://r/\"\n";
        let deps = publish_deps("p", text).unwrap();
        let names: Vec<(&str, DepKind)> =
            deps.iter().map(|d| (d.package.as_str(), d.kind)).collect();
        assert_eq!(
            names,
            [
                ("real-a", DepKind::Normal),
                ("z", DepKind::Normal),
                ("d", DepKind::Dev),
                ("b", DepKind::Build)
            ]
        );
        assert_eq!(deps[0].rename.as_deref(), Some("a"));
        assert!(deps[0].optional && !deps[0].default_features);
        assert_eq!(deps[0].features, ["x"]);
        assert_eq!(deps[2].registry_index.as_deref(), Some("sparse+http://r/"));
    }

    #[test]
    fn a_bad_platform_names_the_package() {
        let err =
            publish_deps("p", "[target.'cfg(('.dependencies.h]\nversion = \"1\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid platform `cfg((` in the packaged manifest of `p`")
        );
    }
}
