//! What `cargo package -v` notes about the packaged `Cargo.lock`: each package it locks that the
//! workspace's lockfile did not lock (same name, version and source), with where that package came
//! from before — typically a path dependency with a version, or a `[patch]`, which the packaged
//! lock takes from the registry instead. Cargo prints these only when verbose.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::overlay::CRATES_IO_INDEX;
use crate::registry_names::RegistryNames;
use crate::workspace::PathPackage;

/// Where a locked package comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    /// A lockfile `source` (`registry+…`, `sparse+…`, `git+…`), without a git commit fragment,
    /// which does not make a different source.
    Locked(String),
    /// A package the workspace reaches by path (no `source` in the lockfile).
    Path(PathBuf),
    /// A source-less entry the workspace does not reach by path: nothing truthful to name.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Locked {
    name: String,
    version: String,
    source: Source,
    /// The `source` as written, for display.
    raw: Option<String>,
}

/// The notes, in cargo's order (by name, version and source of the added package). `current` is
/// the package being packaged (`name`, `version`), whose source always changes and is skipped.
pub(crate) fn notes(
    orig_lock: &str,
    packaged_lock: &str,
    current: (&str, &str),
    paths: &[PathPackage],
    names: &RegistryNames,
) -> Vec<String> {
    let (Some(orig), Some(new)) = (entries(orig_lock, paths), entries(packaged_lock, &[])) else {
        return Vec::new();
    };
    let same =
        |a: &Locked, b: &Locked| a.name == b.name && a.version == b.version && a.source == b.source;
    let removed: Vec<&Locked> = orig
        .iter()
        .filter(|o| !new.iter().any(|n| same(o, n)))
        .collect();
    let mut notes = Vec::new();
    for added in new.iter().filter(|n| !orig.iter().any(|o| same(o, n))) {
        if (added.name.as_str(), added.version.as_str()) == current {
            continue;
        }
        let candidates: Vec<&&Locked> = removed
            .iter()
            .filter(|o| o.name == added.name && o.version == added.version)
            .collect();
        if candidates.iter().any(|c| c.source == Source::Unknown) {
            continue;
        }
        let extra = match candidates.as_slice() {
            [] => previous_versions(&removed, &added.name),
            [one] => format!(", was originally sourced from `{}`", display(one, names)),
            many => format!(
                ", was originally sourced from one of these sources: {}",
                many.iter()
                    .map(|c| format!("`{}`", display(c, names)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        notes.push(format!(
            "package `{}` added to the packaged Cargo.lock file{extra}",
            package_id(added, names)
        ));
    }
    notes
}

fn previous_versions(removed: &[&Locked], name: &str) -> String {
    let versions: Vec<&str> = removed
        .iter()
        .filter(|o| o.name == name)
        .map(|o| o.version.as_str())
        .collect();
    match versions.as_slice() {
        [] => String::new(),
        [one] => format!(", previous version was `{one}`"),
        many => format!(
            ", previous versions were: {}",
            many.iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `name vX`, followed by ` (<source>)` unless the source is crates.io.
fn package_id(p: &Locked, names: &RegistryNames) -> String {
    let id = format!("{} v{}", p.name, p.version);
    match &p.raw {
        Some(raw) if is_crates_io(raw) => id,
        _ => format!("{id} ({})", display(p, names)),
    }
}

fn is_crates_io(raw: &str) -> bool {
    raw.strip_prefix("registry+")
        .is_some_and(|url| url.trim_end_matches('/') == CRATES_IO_INDEX)
        || raw.trim_end_matches('/') == "sparse+https://index.crates.io"
}

/// A source as cargo names it: a directory, `registry `name``, or a git URL with its reference and
/// the first 8 characters of the commit.
fn display(p: &Locked, names: &RegistryNames) -> String {
    match (&p.source, p.raw.as_deref()) {
        (Source::Path(dir), _) => dir.display().to_string(),
        (_, Some(raw)) if is_crates_io(raw) => "registry `crates-io`".to_owned(),
        (_, Some(raw)) => {
            if let Some(git) = raw.strip_prefix("git+") {
                match git.split_once('#') {
                    Some((url, commit)) => {
                        format!("{url}#{}", commit.get(..8).unwrap_or(commit))
                    }
                    None => git.to_owned(),
                }
            } else {
                let url = raw.strip_prefix("registry+").unwrap_or(raw);
                let name = names.name_of(url).unwrap_or(url);
                format!("registry `{name}`")
            }
        }
        (_, None) => String::new(),
    }
}

/// The `[[package]]` entries of a lockfile, sorted; `None` when it does not parse.
fn entries(lock: &str, paths: &[PathPackage]) -> Option<BTreeSet<Locked>> {
    let doc: toml::Table = toml::from_str(lock).ok()?;
    let packages = doc.get("package").and_then(|p| p.as_array())?;
    let mut out = BTreeSet::new();
    for p in packages {
        let field = |key: &str| p.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            continue;
        };
        let raw = field("source");
        let source = match &raw {
            Some(s) => Source::Locked(s.split('#').next().unwrap_or(s).to_owned()),
            None => path_of(paths, &name, &version),
        };
        out.insert(Locked {
            name,
            version,
            source,
            raw,
        });
    }
    Some(out)
}

/// The directory of a source-less entry: the only path package of that name, else the one of that
/// name and version (cargo's rule for mapping lockfile entries to path packages).
fn path_of(paths: &[PathPackage], name: &str, version: &str) -> Source {
    let named: Vec<&PathPackage> = paths.iter().filter(|p| p.name == name).collect();
    let found = match named.as_slice() {
        [one] => Some(*one),
        _ => named
            .iter()
            .copied()
            .find(|p| p.version.to_string() == version),
    };
    found.map_or(Source::Unknown, |p| Source::Path(p.root.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

    fn lock(entries: &[(&str, &str, Option<&str>)]) -> String {
        let mut s = String::from("version = 4\n");
        for (name, version, source) in entries {
            s.push_str(&format!(
                "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
            ));
            if let Some(src) = source {
                s.push_str(&format!("source = \"{src}\"\n"));
            }
        }
        s
    }

    fn path(name: &str, version: &str, root: &str) -> PathPackage {
        PathPackage {
            name: name.into(),
            version: version.parse().unwrap(),
            root: root.into(),
        }
    }

    #[test]
    fn path_and_patched_packages_name_their_directory() {
        let orig = lock(&[
            ("foo", "0.0.1", None),
            ("multi", "0.1.0", None),
            ("patched", "1.0.0", None),
            ("updated", "1.0.0", Some(CRATES_IO)),
        ]);
        let new = lock(&[
            ("foo", "0.0.1", None),
            ("multi", "0.1.0", Some(CRATES_IO)),
            ("patched", "1.0.0", Some(CRATES_IO)),
            ("updated", "1.0.0", Some(CRATES_IO)),
        ]);
        let paths = [
            path("foo", "0.0.1", "/w/foo"),
            path("multi", "0.1.0", "/w/foo/multi"),
            path("patched", "1.0.0", "/w/foo/patched"),
        ];
        assert_eq!(
            notes(
                &orig,
                &new,
                ("foo", "0.0.1"),
                &paths,
                &RegistryNames::default()
            ),
            [
                "package `multi v0.1.0` added to the packaged Cargo.lock file, was originally sourced from `/w/foo/multi`",
                "package `patched v1.0.0` added to the packaged Cargo.lock file, was originally sourced from `/w/foo/patched`",
            ]
        );
    }

    #[test]
    fn other_versions_and_registries_are_named_as_cargo_names_them() {
        let alt = "sparse+http://127.0.0.1:1/index/";
        let orig = lock(&[
            ("a", "1.0.0", Some(CRATES_IO)),
            ("a", "1.1.0", Some(CRATES_IO)),
        ]);
        let new = lock(&[("a", "1.2.0", Some(CRATES_IO)), ("b", "2.0.0", Some(alt))]);
        let names = RegistryNames::new([(alt.to_owned(), "alt".to_owned())].into());
        assert_eq!(
            notes(&orig, &new, ("foo", "0.1.0"), &[], &names),
            [
                "package `a v1.2.0` added to the packaged Cargo.lock file, previous versions were: `1.0.0`, `1.1.0`",
                "package `b v2.0.0 (registry `alt`)` added to the packaged Cargo.lock file",
            ]
        );
    }

    #[test]
    fn an_entry_with_no_known_directory_gets_no_note() {
        let orig = lock(&[("x", "0.1.0", None)]);
        let new = lock(&[("x", "0.1.0", Some(CRATES_IO))]);
        assert!(
            notes(
                &orig,
                &new,
                ("foo", "0.1.0"),
                &[],
                &RegistryNames::default()
            )
            .is_empty()
        );
    }
}
