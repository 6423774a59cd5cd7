//! Which registry a package run targets (spec §8.3): `--registry`/`--index`, `registry.default`, or
//! inference from the selected packages' `package.publish` lists; and the check that every package
//! may go there.

use std::collections::BTreeSet;

use crate::overlay::Upstream;

/// crates.io's registry name; a copy of `gantry_protocol::crates_io::REGISTRY_NAME`, the home of
/// crates.io's constants (this crate depends on no Gantry crate).
pub const CRATES_IO: &str = "crates-io";

/// What the user asked for on the command line or in config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryRequest {
    /// `--registry NAME` (or `registry.default`).
    Name(String),
    /// `--index URL`.
    Index(String),
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRegistry {
    /// Registry name, `crates-io` for crates.io, `None` for `--index`.
    pub name: Option<String>,
    /// How the overlay and lockfile name this registry.
    pub upstream: Upstream,
    /// True when the metadata warning applies (crates.io rules).
    pub is_crates_io: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("registry index was not found in any configuration: `{0}`")]
    UnknownRegistry(String),
    #[error(
        "crates-io is replaced with non-remote-registry source {0};\ninclude `--registry crates-io` to use crates.io"
    )]
    CratesIoReplaced(String),
    #[error("--registry is required to disambiguate between {0} registries")]
    Ambiguous(String),
    #[error("conflicts between `package.publish` fields in the selected packages")]
    Conflict,
    #[error("--registry is required because not all `package.publish` settings agree")]
    Disagree,
    #[error(
        "`{package}` cannot be {verb}.\nThe registry `{registry}` is not listed in the `package.publish` value in Cargo.toml."
    )]
    NotAllowed {
        package: String,
        registry: String,
        verb: &'static str,
    },
}

/// One selected package's `publish` setting.
pub struct PublishSetting<'a> {
    pub name: &'a str,
    /// None = any registry; Some(empty) = `publish = false`.
    pub publish: Option<&'a [String]>,
}

/// Resolves the target. `index_of` maps a registry name to its configured index URL.
/// `crates_io_replacement`: how the user's `[source]` config replaces crates.io, if it does; a
/// packaging run that needs crates.io without `--registry crates-io` is refused then, as cargo does.
pub fn resolve_target(
    request: &RegistryRequest,
    packages: &[PublishSetting],
    index_of: &dyn Fn(&str) -> Option<String>,
    crates_io_replacement: Option<&str>,
    verb: &'static str,
) -> Result<TargetRegistry, RegistryError> {
    let name = match request {
        RegistryRequest::Index(url) => {
            return Ok(TargetRegistry {
                name: None,
                upstream: Upstream::url(url),
                is_crates_io: false,
            });
        }
        RegistryRequest::Name(n) => Some(n.clone()),
        RegistryRequest::None => infer(packages)?,
    };
    let registry = name.clone().unwrap_or_else(|| CRATES_IO.to_owned());
    // Cargo checks the `package.publish` lists before it looks the registry up in the config.
    for p in packages {
        // `cargo package` lets packages with an empty list through; `cargo publish` splits those off
        // before it gets here.
        if let Some(list) = p.publish
            && !list.is_empty()
            && !list.contains(&registry)
        {
            return Err(RegistryError::NotAllowed {
                package: p.name.to_owned(),
                registry,
                verb,
            });
        }
    }
    if registry == CRATES_IO {
        if let (RegistryRequest::None, Some(replacement)) = (request, crates_io_replacement) {
            return Err(RegistryError::CratesIoReplaced(replacement.to_owned()));
        }
        return Ok(TargetRegistry {
            name: Some(registry),
            upstream: Upstream::crates_io(),
            is_crates_io: true,
        });
    }
    let index =
        index_of(&registry).ok_or_else(|| RegistryError::UnknownRegistry(registry.clone()))?;
    Ok(TargetRegistry {
        upstream: Upstream::named(&registry, &index),
        name: Some(registry),
        is_crates_io: false,
    })
}

fn infer(packages: &[PublishSetting]) -> Result<Option<String>, RegistryError> {
    let publishable: Vec<&PublishSetting> = packages
        .iter()
        .filter(|p| p.publish.is_none_or(|l| !l.is_empty()))
        .collect();
    let Some(first) = publishable.first() else {
        return Ok(None);
    };
    if publishable.iter().all(|p| p.publish == first.publish) {
        return match first.publish {
            None => Ok(None),
            Some([one]) => Ok(Some(one.clone())),
            Some(list) => {
                let names: BTreeSet<&str> = list.iter().map(String::as_str).collect();
                Err(RegistryError::Ambiguous(quoted_or(
                    &names.into_iter().collect::<Vec<_>>(),
                )))
            }
        };
    }
    let mut common: Option<BTreeSet<&str>> = None;
    for list in publishable.iter().filter_map(|p| p.publish) {
        let set: BTreeSet<&str> = list.iter().map(String::as_str).collect();
        common = Some(match common {
            None => set,
            Some(c) => c.intersection(&set).copied().collect(),
        });
    }
    if common.is_some_and(|c| c.is_empty()) {
        Err(RegistryError::Conflict)
    } else {
        Err(RegistryError::Disagree)
    }
}

/// `"a", "b" or "c"`
fn quoted_or(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(name: &str) -> Option<String> {
        (name != "nope").then(|| format!("sparse+http://{name}/"))
    }

    #[test]
    fn inference_rules() {
        let alt = vec!["alt".to_string()];
        let two = vec!["a".to_string(), "b".to_string()];
        let none: Vec<String> = vec![];
        let p = |publish| PublishSetting {
            name: "foo",
            publish,
        };
        let t = resolve_target(
            &RegistryRequest::None,
            &[p(Some(&alt))],
            &idx,
            None,
            "packaged",
        )
        .unwrap();
        assert_eq!(t.name.as_deref(), Some("alt"));
        assert!(!t.is_crates_io);
        let t = resolve_target(
            &RegistryRequest::None,
            &[p(None), p(Some(&none))],
            &idx,
            None,
            "packaged",
        )
        .unwrap();
        assert!(t.is_crates_io);
        assert_eq!(
            resolve_target(
                &RegistryRequest::None,
                &[p(Some(&two))],
                &idx,
                None,
                "packaged"
            )
            .unwrap_err()
            .to_string(),
            "--registry is required to disambiguate between \"a\" or \"b\" registries"
        );
        assert_eq!(
            resolve_target(
                &RegistryRequest::None,
                &[p(Some(&alt)), p(Some(&two))],
                &idx,
                None,
                "packaged"
            )
            .unwrap_err(),
            RegistryError::Conflict
        );
        assert_eq!(
            resolve_target(
                &RegistryRequest::None,
                &[p(Some(&alt)), p(None)],
                &idx,
                None,
                "packaged"
            )
            .unwrap_err(),
            RegistryError::Disagree
        );
        assert_eq!(
            resolve_target(
                &RegistryRequest::Name("b".into()),
                &[p(Some(&alt))],
                &idx,
                None,
                "packaged"
            )
            .unwrap_err()
            .to_string(),
            "`foo` cannot be packaged.\nThe registry `b` is not listed in the `package.publish` value in Cargo.toml."
        );
        assert_eq!(
            resolve_target(
                &RegistryRequest::Name("nope".into()),
                &[],
                &idx,
                None,
                "packaged"
            )
            .unwrap_err(),
            RegistryError::UnknownRegistry("nope".into())
        );
    }
}
