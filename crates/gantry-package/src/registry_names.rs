//! The names of configured registries, by index URL. A publish-form manifest names a dependency's
//! registry by its index URL (`registry-index`), and so does the overlay; cargo, whose process still
//! knows the `registry = "name"` the workspace wrote, shows such a registry by name (`` `local`
//! index ``, ``(registry `local`)``) in status lines and errors. The manifests Gantry hands to a
//! cargo process (the lockfile scratch package, a crate being verified) therefore say `registry =
//! "name"` for every registry the configuration names, which is the same dependency to cargo.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::overlay::same_index;

/// Index URL (as configured) → registry name, and which index updates this run has shown.
#[derive(Debug, Clone, Default)]
pub struct RegistryNames {
    by_index: BTreeMap<String, String>,
    /// crates.io is read through a git index (its own with `protocol = "git"`, or cargo's test
    /// suite's stand-in).
    crates_io_git: bool,
    /// `Updating …` messages of git indexes already shown; shared by every clone, as cargo's record
    /// of updated sources is shared by its whole process.
    shown: Arc<Mutex<BTreeSet<String>>>,
}

impl RegistryNames {
    pub fn new(by_index: BTreeMap<String, String>) -> Self {
        RegistryNames {
            by_index,
            ..Default::default()
        }
    }

    /// Says that crates.io is read through a git index.
    pub fn with_crates_io_git(mut self, git: bool) -> Self {
        self.crates_io_git = git;
        self
    }

    /// The configured name of the registry whose index is `url`.
    pub fn name_of(&self, url: &str) -> Option<&str> {
        self.by_index
            .iter()
            .find(|(index, _)| same_index(index, url))
            .map(|(_, name)| name.as_str())
    }

    /// Whether `Updating <message>` (`crates.io index`, `` `name` index ``, `` `<url>` index ``)
    /// is to be shown. Cargo fetches a git index once per process and says so once; a sparse index
    /// is asked afresh by every resolution and says so each time. Gantry runs several cargo
    /// processes where cargo runs one, so the repeats of a git index's update are dropped.
    pub fn show_index_update(&self, message: &str) -> bool {
        if !self.is_git_index(message) {
            return true;
        }
        // A poisoned lock only means another thread panicked while printing; show the line.
        self.shown
            .lock()
            .map_or(true, |mut shown| shown.insert(message.to_owned()))
    }

    fn is_git_index(&self, message: &str) -> bool {
        if message == "crates.io index" {
            return self.crates_io_git;
        }
        let Some(inner) = message
            .strip_prefix('`')
            .and_then(|m| m.strip_suffix("` index"))
        else {
            return false;
        };
        let url = if inner.contains("://") {
            Some(inner)
        } else {
            self.by_index
                .iter()
                .find(|(_, name)| *name == inner)
                .map(|(url, _)| url.as_str())
        };
        url.is_some_and(|u| !u.starts_with("sparse+"))
    }

    /// `` `<url>` index `` → `` `name` index `` for a configured registry; anything else unchanged.
    pub fn display_index(&self, message: &str) -> String {
        if let Some(url) = message
            .strip_prefix('`')
            .and_then(|m| m.strip_suffix("` index"))
            && let Some(name) = self.name_of(url)
        {
            return format!("`{name}` index");
        }
        message.to_owned()
    }

    /// `manifest` with every `registry-index = "<url>"` of a configured registry replaced by
    /// `registry = "<name>"`; unchanged when there is nothing to replace or it does not parse.
    pub fn name_dependencies(&self, manifest: &str) -> String {
        if self.by_index.is_empty() {
            return manifest.to_owned();
        }
        let Ok(mut doc) = manifest.parse::<toml_edit::DocumentMut>() else {
            return manifest.to_owned();
        };
        let mut changed = false;
        let root = doc.as_table_mut();
        changed |= self.name_in(root);
        if let Some(targets) = root.get_mut("target").and_then(|t| t.as_table_like_mut()) {
            for (_, platform) in targets.iter_mut() {
                if let Some(platform) = platform.as_table_like_mut() {
                    changed |= self.name_in(platform);
                }
            }
        }
        if changed {
            doc.to_string()
        } else {
            manifest.to_owned()
        }
    }

    fn name_in(&self, table: &mut dyn toml_edit::TableLike) -> bool {
        let mut changed = false;
        for kind in [
            "dependencies",
            "dev-dependencies",
            "build-dependencies",
            "dev_dependencies",
            "build_dependencies",
        ] {
            let Some(deps) = table.get_mut(kind).and_then(|d| d.as_table_like_mut()) else {
                continue;
            };
            for (_, dep) in deps.iter_mut() {
                let Some(dep) = dep.as_table_like_mut() else {
                    continue;
                };
                let Some(name) = dep
                    .get("registry-index")
                    .and_then(|v| v.as_str())
                    .and_then(|url| self.name_of(url))
                    .map(str::to_owned)
                else {
                    continue;
                };
                dep.remove("registry-index");
                dep.insert("registry", toml_edit::value(name));
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> RegistryNames {
        RegistryNames::new(BTreeMap::from([(
            "sparse+http://127.0.0.1:1/index/".to_owned(),
            "local".to_owned(),
        )]))
    }

    #[test]
    fn index_updates_are_shown_by_name() {
        assert_eq!(
            names().display_index("`sparse+http://127.0.0.1:1/index/` index"),
            "`local` index"
        );
        assert_eq!(names().display_index("crates.io index"), "crates.io index");
    }

    #[test]
    fn a_git_index_update_is_shown_once_per_run() {
        let names = RegistryNames::new(BTreeMap::from([
            ("file:///r/git".to_owned(), "g".to_owned()),
            (
                "sparse+http://127.0.0.1:1/index/".to_owned(),
                "s".to_owned(),
            ),
        ]))
        .with_crates_io_git(true);
        let other = names.clone();
        for message in ["crates.io index", "`g` index", "`https://x/idx` index"] {
            assert!(names.show_index_update(message), "{message}");
            assert!(!other.show_index_update(message), "{message}");
        }
        for message in ["`s` index", "`sparse+http://x/` index", "`unknown` index"] {
            assert!(names.show_index_update(message), "{message}");
            assert!(names.show_index_update(message), "{message}");
        }
        assert!(RegistryNames::default().show_index_update("crates.io index"));
        assert!(RegistryNames::default().show_index_update("crates.io index"));
    }

    #[test]
    fn dependencies_name_configured_registries() {
        let manifest = "[package]\nname = \"a\"\n\n[dependencies.b]\nversion = \"0.1\"\nregistry-index = \"sparse+http://127.0.0.1:1/index/\"\n\n[target.'cfg(unix)'.dev-dependencies]\nc = { version = \"1\", registry-index = \"sparse+http://127.0.0.1:1/index\" }\nd = { version = \"1\", registry-index = \"sparse+http://elsewhere/\" }\n";
        let named = names().name_dependencies(manifest);
        assert_eq!(
            named,
            "[package]\nname = \"a\"\n\n[dependencies.b]\nversion = \"0.1\"\nregistry = \"local\"\n\n[target.'cfg(unix)'.dev-dependencies]\nc = { version = \"1\", registry = \"local\" }\nd = { version = \"1\", registry-index = \"sparse+http://elsewhere/\" }\n"
        );
        assert_eq!(
            RegistryNames::default().name_dependencies(manifest),
            manifest
        );
    }
}
