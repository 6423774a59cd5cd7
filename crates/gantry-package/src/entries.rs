//! From the listed source files to the archive's entry list (spec §2.6): name checks, reserved names,
//! the manifest pair (`Cargo.toml.orig` + generated `Cargo.toml`), generated `Cargo.lock` and
//! `.cargo_vcs_info.json`, readme/license files from outside the package, and build-script checks.
//! Generated contents are filled in later ([`EntryPlan::into_entries`]) because the normalised
//! manifest depends on which on-disk files made it into the list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::archive::{ArchiveEntry, EntrySource, cargo_path_order};
use crate::report::Reporter;

pub(crate) const VCS_INFO_FILE: &str = ".cargo_vcs_info.json";
pub(crate) const ORIGINAL_MANIFEST_FILE: &str = "Cargo.toml.orig";

const SPECIAL_CHARS: [char; 9] = ['/', '\\', '<', '>', ':', '"', '|', '?', '*'];
const WINDOWS_RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("path does not have a unicode filename which may not unpack on all platforms: {0}")]
    NonUnicodeName(String),
    #[error("cannot package a filename with a special character `{ch}`: {rel}")]
    SpecialCharacter { ch: char, rel: String },
    #[error("non-utf8 path in source directory: {0}")]
    NonUtf8Path(String),
    #[error("invalid inclusion of reserved file name {0} in package source")]
    ReservedName(String),
    /// Readme and license problems are reported together, license first, one per line.
    #[error("{}", .0.join("\n"))]
    MissingFiles(Vec<String>),
    #[error(
        "{problem}\nThis may cause issue during packaging, as modules resolution and resources included via macros are often relative to the path of source files.\nPlease update the `build` setting in the manifest at `{}` and point to a path inside the root of the package.",
        manifest.display()
    )]
    BuildScript { problem: String, manifest: PathBuf },
}

/// Which generated file an entry will hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    Manifest,
    Lockfile,
    VcsInfo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedSource {
    OnDisk(PathBuf),
    Generated(Generated),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    pub rel: String,
    pub source: PlannedSource,
}

/// A package file referenced by the manifest (`readme`, `license-file`).
#[derive(Debug, Clone)]
pub struct ReferencedFile<'a> {
    /// The value as written in the manifest (used in messages).
    pub value: &'a str,
    /// `root.join(value)`, lexically normalised.
    pub abs: &'a Path,
}

pub struct EntryInputs<'a> {
    pub name: &'a str,
    pub root: &'a Path,
    pub manifest_path: &'a Path,
    /// Absolute paths from file listing.
    pub files: &'a [PathBuf],
    pub include_lockfile: bool,
    pub has_vcs_info: bool,
    pub license_file: Option<ReferencedFile<'a>>,
    pub readme: Option<ReferencedFile<'a>>,
    pub build_scripts: &'a [PathBuf],
}

/// The sorted archive plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPlan {
    pub entries: Vec<PlannedEntry>,
}

impl EntryPlan {
    /// Package-relative paths of on-disk entries (what the manifest normaliser checks targets against).
    pub fn on_disk_paths(&self) -> BTreeSet<String> {
        self.entries
            .iter()
            .filter(|e| matches!(e.source, PlannedSource::OnDisk(_)))
            .map(|e| e.rel.clone())
            .collect()
    }

    pub fn rel_paths(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.rel.as_str())
    }

    /// Fills generated entries with their bytes.
    pub fn into_entries(
        self,
        manifest: &str,
        lockfile: Option<&str>,
        vcs_info: Option<&str>,
    ) -> Vec<ArchiveEntry> {
        self.entries
            .into_iter()
            .filter_map(|e| {
                let source = match e.source {
                    PlannedSource::OnDisk(p) => EntrySource::OnDisk(p),
                    PlannedSource::Generated(Generated::Manifest) => {
                        EntrySource::Generated(manifest.as_bytes().to_vec())
                    }
                    PlannedSource::Generated(Generated::Lockfile) => {
                        EntrySource::Generated(lockfile?.as_bytes().to_vec())
                    }
                    PlannedSource::Generated(Generated::VcsInfo) => {
                        EntrySource::Generated(vcs_info?.as_bytes().to_vec())
                    }
                };
                Some(ArchiveEntry { rel: e.rel, source })
            })
            .collect()
    }
}

/// Builds the entry list (spec §2.6 steps 1–13). Warnings go to `reporter` in listing order.
pub fn plan_entries(input: &EntryInputs, reporter: &dyn Reporter) -> Result<EntryPlan, EntryError> {
    // Grouped by ASCII-lowercased relative path, as cargo does, so `cargo.toml` is caught below.
    let mut groups: BTreeMap<String, Vec<PlannedEntry>> = BTreeMap::new();
    for file in input.files {
        let rel_path = file.strip_prefix(input.root).unwrap_or(file);
        check_file_name(rel_path)?;
        let rel = rel_string(rel_path)?;
        if is_windows_reserved(rel_path) {
            reporter.warning(&format!(
                "file {rel} is a reserved Windows filename, it will not work on Windows platforms"
            ));
        }
        if rel == "Cargo.lock" {
            continue;
        }
        if rel == VCS_INFO_FILE || rel == ORIGINAL_MANIFEST_FILE {
            return Err(EntryError::ReservedName(rel));
        }
        groups
            .entry(rel.to_ascii_lowercase())
            .or_default()
            .push(PlannedEntry {
                rel,
                source: PlannedSource::OnDisk(file.clone()),
            });
    }

    if groups.remove("cargo.toml").is_none() {
        reporter.warning(&format!(
            "no `Cargo.toml` file found when packaging `{}` (note the case of the file name).",
            input.name
        ));
    }
    let mut add_generated = |rel: &str, source: PlannedSource| {
        groups
            .entry(rel.to_ascii_lowercase())
            .or_default()
            .push(PlannedEntry {
                rel: rel.to_owned(),
                source,
            });
    };
    add_generated(
        ORIGINAL_MANIFEST_FILE,
        PlannedSource::OnDisk(input.manifest_path.to_owned()),
    );
    add_generated("Cargo.toml", PlannedSource::Generated(Generated::Manifest));
    if input.include_lockfile {
        add_generated("Cargo.lock", PlannedSource::Generated(Generated::Lockfile));
    }
    if input.has_vcs_info {
        add_generated(VCS_INFO_FILE, PlannedSource::Generated(Generated::VcsInfo));
    }

    let mut missing = Vec::new();
    for (kind, file) in [
        ("license-file", &input.license_file),
        ("readme", &input.readme),
    ] {
        if let Some(file) = file {
            add_referenced_file(kind, file, input, &mut groups, &mut missing, reporter);
        }
    }
    if !missing.is_empty() {
        return Err(EntryError::MissingFiles(missing));
    }
    for script in input.build_scripts {
        check_build_script(script, input)?;
    }

    let mut entries: Vec<PlannedEntry> = groups.into_values().flatten().collect();
    sort_planned(&mut entries);
    Ok(EntryPlan { entries })
}

fn sort_planned(entries: &mut [PlannedEntry]) {
    entries.sort_by(|a, b| cargo_path_order(&a.rel, &b.rel));
}

fn check_file_name(rel: &Path) -> Result<(), EntryError> {
    let Some(name) = rel.file_name() else {
        return Ok(());
    };
    let Some(name) = name.to_str() else {
        return Err(EntryError::NonUnicodeName(rel.display().to_string()));
    };
    // Reported for the first offending character in this list's order, as cargo does.
    if let Some(ch) = SPECIAL_CHARS.iter().copied().find(|c| name.contains(*c)) {
        return Err(EntryError::SpecialCharacter {
            ch,
            rel: rel.display().to_string(),
        });
    }
    Ok(())
}

fn rel_string(rel: &Path) -> Result<String, EntryError> {
    let mut out = String::new();
    for component in rel.components() {
        let Component::Normal(part) = component else {
            continue;
        };
        let part = part
            .to_str()
            .ok_or_else(|| EntryError::NonUtf8Path(rel.display().to_string()))?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part);
    }
    Ok(out)
}

fn is_windows_reserved(rel: &Path) -> bool {
    rel.components().any(|c| {
        let Component::Normal(part) = c else {
            return false;
        };
        let part = part.to_string_lossy();
        let stem = part.split('.').next().unwrap_or("");
        WINDOWS_RESERVED
            .iter()
            .any(|r| r.eq_ignore_ascii_case(stem))
    })
}

fn add_referenced_file(
    kind: &str,
    file: &ReferencedFile,
    input: &EntryInputs,
    groups: &mut BTreeMap<String, Vec<PlannedEntry>>,
    missing: &mut Vec<String>,
    reporter: &dyn Reporter,
) {
    if !file.abs.is_file() {
        let relative = if Path::new(file.value).is_absolute() {
            String::new()
        } else {
            format!(" (relative to `{}`)", input.root.display())
        };
        missing.push(format!(
            "{kind} `{}` does not appear to exist{relative}.\nPlease update the {kind} setting in the manifest at `{}`.",
            file.value,
            input.manifest_path.display()
        ));
        return;
    }
    if let Ok(inside) = file.abs.strip_prefix(input.root) {
        let Ok(rel) = rel_string(inside) else { return };
        let group = groups.entry(rel.to_ascii_lowercase()).or_default();
        if !group.iter().any(|e| e.rel == rel) {
            group.push(PlannedEntry {
                rel,
                source: PlannedSource::OnDisk(file.abs.to_owned()),
            });
        }
        return;
    }
    let Some(name) = file.abs.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let group = groups.entry(name.to_ascii_lowercase()).or_default();
    if group.iter().any(|e| e.rel == name) {
        reporter.warning(&format!(
            "{kind} `{}` appears to be a path outside of the package, but there is already a file named `{name}` in the root of the package. The archived crate will contain the copy in the root of the package. Update the {kind} to point to the path relative to the root of the package to remove this warning.",
            file.value
        ));
    } else {
        group.push(PlannedEntry {
            rel: name.to_owned(),
            source: PlannedSource::OnDisk(file.abs.to_owned()),
        });
    }
}

fn check_build_script(script: &Path, input: &EntryInputs) -> Result<(), EntryError> {
    let problem = if !script.is_file() {
        "the source file of build script doesn't appear to exist.".to_owned()
    } else if !script.starts_with(input.root) {
        format!(
            "the source file of build script doesn't appear to be a path inside of the package.\nIt is at `{}`, whereas the root the package is `{}`.",
            script.display(),
            input.root.display()
        )
    } else {
        return Ok(());
    };
    Err(EntryError::BuildScript {
        problem,
        manifest: input.manifest_path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Recorder;

    fn inputs<'a>(root: &'a Path, manifest: &'a Path, files: &'a [PathBuf]) -> EntryInputs<'a> {
        EntryInputs {
            name: "foo",
            root,
            manifest_path: manifest,
            files,
            include_lockfile: true,
            has_vcs_info: true,
            license_file: None,
            readme: None,
            build_scripts: &[],
        }
    }

    #[test]
    fn manifest_pair_lock_and_vcs_are_added_and_sorted() {
        let root = Path::new("/p");
        let manifest = root.join("Cargo.toml");
        let files = vec![
            root.join("src/lib.rs"),
            root.join("Cargo.toml"),
            root.join("Cargo.lock"),
        ];
        let rec = Recorder::new(false);
        let plan = plan_entries(&inputs(root, &manifest, &files), &rec).unwrap();
        let rels: Vec<_> = plan.rel_paths().collect();
        assert_eq!(
            rels,
            [
                ".cargo_vcs_info.json",
                "Cargo.lock",
                "Cargo.toml",
                "Cargo.toml.orig",
                "src/lib.rs"
            ]
        );
        assert!(rec.warnings().is_empty());
        assert_eq!(
            plan.on_disk_paths(),
            ["Cargo.toml.orig".to_string(), "src/lib.rs".to_string()].into()
        );
    }

    #[test]
    fn wrong_case_manifest_is_dropped_and_a_missing_one_warns() {
        let root = Path::new("/p");
        let manifest = root.join("Cargo.toml");
        let files = vec![root.join("cargo.toml"), root.join("Cargo.toml")];
        let rec = Recorder::new(false);
        let plan = plan_entries(&inputs(root, &manifest, &files), &rec).unwrap();
        assert!(!plan.rel_paths().any(|r| r == "cargo.toml"));
        assert!(rec.warnings().is_empty());

        let plan = plan_entries(&inputs(root, &manifest, &[]), &rec).unwrap();
        assert!(plan.rel_paths().any(|r| r == "Cargo.toml"));
        assert_eq!(
            rec.warnings(),
            ["no `Cargo.toml` file found when packaging `foo` (note the case of the file name)."]
        );
    }

    #[test]
    fn special_characters_and_reserved_names() {
        let root = Path::new("/p");
        let manifest = root.join("Cargo.toml");
        let rec = Recorder::new(false);
        let files = vec![root.join("src/:foo")];
        let err = plan_entries(&inputs(root, &manifest, &files), &rec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot package a filename with a special character `:`: src/:foo"
        );

        let files = vec![root.join("Cargo.toml.orig")];
        let err = plan_entries(&inputs(root, &manifest, &files), &rec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid inclusion of reserved file name Cargo.toml.orig in package source"
        );

        let files = vec![
            root.join("Cargo.toml"),
            root.join("src/aux/mod.rs"),
            root.join("src/con.rs"),
        ];
        plan_entries(&inputs(root, &manifest, &files), &rec).unwrap();
        assert_eq!(
            rec.warnings(),
            [
                "file src/aux/mod.rs is a reserved Windows filename, it will not work on Windows platforms",
                "file src/con.rs is a reserved Windows filename, it will not work on Windows platforms",
            ]
        );
    }

    #[test]
    fn missing_license_and_readme_are_reported_together_license_first() {
        let root = Path::new("/p");
        let manifest = root.join("Cargo.toml");
        let files = vec![root.join("Cargo.toml")];
        let lic = root.join("LICENSE");
        let readme = root.join("README.md");
        let mut input = inputs(root, &manifest, &files);
        input.license_file = Some(ReferencedFile {
            value: "LICENSE",
            abs: &lic,
        });
        input.readme = Some(ReferencedFile {
            value: "README.md",
            abs: &readme,
        });
        let err = plan_entries(&input, &Recorder::new(false))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "license-file `LICENSE` does not appear to exist (relative to `/p`).\nPlease update the license-file setting in the manifest at `/p/Cargo.toml`.\nreadme `README.md` does not appear to exist (relative to `/p`).\nPlease update the readme setting in the manifest at `/p/Cargo.toml`."
        );
    }
}
