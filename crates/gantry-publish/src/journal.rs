//! The publish journal: one JSON file per (workspace, registry) under the target dir recording the
//! plan and every step of every crate, rewritten atomically (temporary file + rename) after each
//! step. The registry's index stays the source of truth for what is published; the journal tells
//! the user what happened last time, notices that the sources changed since, and lets a crate that
//! was uploaded but never confirmed be re-checked in the index instead of being sent again.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use gantry_package::PackagedCrate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped when the file layout changes; other versions are ignored (start fresh).
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Planned,
    Packaged,
    /// Already in the index with the identical checksum.
    Skipped,
    Verified,
    Uploaded,
    Confirmed,
    Failed,
    NotAttempted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub step: Step,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub version: String,
    pub checksum: Option<String>,
    /// The last step reached.
    pub state: Step,
    pub steps: Vec<Record>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Data {
    pub format: u32,
    pub registry: String,
    pub started_ms: u64,
    pub crates: Vec<Entry>,
}

impl Data {
    pub fn entry(&self, name: &str, version: &str) -> Option<&Entry> {
        self.crates
            .iter()
            .find(|e| e.name == name && e.version == version)
    }
}

/// One crate of this run's plan, as the journal keys and compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCrate {
    pub name: String,
    pub version: String,
    pub checksum: String,
}

/// The journal's view of the packaged crates.
pub fn planned(crates: &[PackagedCrate]) -> Vec<PlannedCrate> {
    crates
        .iter()
        .map(|c| PlannedCrate {
            name: c.name.clone(),
            version: c.version.clone(),
            checksum: c.checksum.clone(),
        })
        .collect()
}

pub struct Journal<'a> {
    /// None: a dry run, which records nothing.
    path: Option<PathBuf>,
    data: RefCell<Data>,
    /// A journal that cannot be written is reported once; the publish itself goes on.
    write_failed: Cell<bool>,
    warn: Box<dyn Fn(&str) + 'a>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `<target-dir>/package/gantry-publish/<hash>.json`; the hash keys workspace root and registry,
/// so runs against different registries keep separate journals.
pub fn path_for(build_dir: &Path, workspace_root: &Path, index_url: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(workspace_root.to_string_lossy().as_bytes());
    h.update([0]);
    h.update(index_url.as_bytes());
    let digest = hex::encode(h.finalize());
    build_dir
        .join("package")
        .join("gantry-publish")
        .join(format!("{}.json", &digest[..16]))
}

/// The previous run's journal. A missing file is `Ok(None)`; an unreadable or corrupt one is an
/// `Err` with the reason, which callers report as a warning before starting fresh: a crash in the
/// middle of a write must never block the next run.
pub fn load(path: &Path) -> Result<Option<Data>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let data: Data = serde_json::from_slice(&bytes)
        .map_err(|e| format!("`{}` is not a valid publish journal: {e}", path.display()))?;
    if data.format != FORMAT {
        return Err(format!(
            "`{}` was written by another version of cargo-gantry (format {})",
            path.display(),
            data.format
        ));
    }
    Ok(Some(data))
}

impl<'a> Journal<'a> {
    /// A journal that records nothing (dry runs leave the real run's journal alone).
    pub fn discard() -> Journal<'a> {
        Journal {
            path: None,
            data: RefCell::new(Data {
                format: FORMAT,
                registry: String::new(),
                started_ms: 0,
                crates: Vec::new(),
            }),
            write_failed: Cell::new(false),
            warn: Box::new(|_| {}),
        }
    }

    /// A fresh journal for this run's plan; written immediately.
    pub fn start(
        path: PathBuf,
        registry: &str,
        planned: &[PlannedCrate],
        warn: Box<dyn Fn(&str) + 'a>,
    ) -> Journal<'a> {
        let at_ms = now_ms();
        let crates = planned
            .iter()
            .map(|c| Entry {
                name: c.name.clone(),
                version: c.version.clone(),
                checksum: Some(c.checksum.clone()),
                state: Step::Planned,
                steps: vec![Record {
                    step: Step::Planned,
                    at_ms,
                    detail: None,
                }],
            })
            .collect();
        let journal = Journal {
            path: Some(path),
            data: RefCell::new(Data {
                format: FORMAT,
                registry: registry.to_owned(),
                started_ms: at_ms,
                crates,
            }),
            write_failed: Cell::new(false),
            warn,
        };
        journal.save();
        journal
    }

    /// Records `step` for a crate and rewrites the file.
    pub fn record(&self, name: &str, version: &str, step: Step, detail: Option<&str>) {
        {
            let mut data = self.data.borrow_mut();
            let Some(entry) = data
                .crates
                .iter_mut()
                .find(|e| e.name == name && e.version == version)
            else {
                return;
            };
            entry.state = step;
            entry.steps.push(Record {
                step,
                at_ms: now_ms(),
                detail: detail.map(str::to_owned),
            });
        }
        self.save();
    }

    fn save(&self) {
        let Some(path) = &self.path else { return };
        if let Err(e) = self.try_save(path)
            && !self.write_failed.replace(true)
        {
            (self.warn)(&format!(
                "cannot write the publish journal `{}`: {e}; the publish goes on, but a re-run will not know what this run did",
                path.display()
            ));
        }
    }

    fn try_save(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let bytes =
            serde_json::to_vec_pretty(&*self.data.borrow()).map_err(std::io::Error::other)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// What the previous run tells this one, as notes for the user, plus the crates (name, version)
/// that were uploaded last time without being confirmed: those are re-checked, not re-sent.
pub struct Previous {
    pub notes: Vec<String>,
    pub recheck: Vec<(String, String)>,
}

impl Previous {
    /// Whether `name` `version` was uploaded last time without being confirmed.
    pub fn wants_recheck(&self, name: &str, version: &str) -> bool {
        self.recheck.iter().any(|(n, v)| n == name && v == version)
    }
}

/// Compares the previous journal with this run's plan.
pub fn compare(prev: &Data, planned: &[PlannedCrate]) -> Previous {
    let mut notes = Vec::new();
    let mut recheck = Vec::new();
    // A run that stopped before its uploads (a packaging, verification or preflight error) left
    // nothing on the registry: this run starts over as cargo would, and says nothing about it.
    let uploads_began = prev.crates.iter().any(|e| {
        matches!(
            e.state,
            Step::Uploaded | Step::Confirmed | Step::Failed | Step::NotAttempted
        )
    });
    if !uploads_began {
        return Previous { notes, recheck };
    }
    let list = |step: Step| -> Vec<String> {
        prev.crates
            .iter()
            .filter(|e| e.state == step)
            .map(|e| format!("{} v{}", e.name, e.version))
            .collect()
    };
    let mut summary = Vec::new();
    for (step, word) in [
        (Step::Confirmed, "published"),
        (Step::Skipped, "already published"),
        (Step::Uploaded, "uploaded but not confirmed"),
        (Step::Failed, "failed"),
        (Step::NotAttempted, "not attempted"),
        (Step::Planned, "not reached"),
        (Step::Packaged, "packaged only"),
        (Step::Verified, "verified only"),
    ] {
        let names = list(step);
        if !names.is_empty() {
            summary.push(format!("{word}: {}", names.join(", ")));
        }
    }
    // A run whose every crate ended published (or already was) finished; only a run that left
    // something behind is worth a note.
    let finished = prev
        .crates
        .iter()
        .all(|e| matches!(e.state, Step::Confirmed | Step::Skipped));
    // Failures alone (nothing uploaded) left nothing to resume: cargo's re-run says nothing either.
    let reached = prev
        .crates
        .iter()
        .any(|e| matches!(e.state, Step::Uploaded | Step::Confirmed));
    if reached && !finished && !summary.is_empty() {
        notes.push(format!(
            "a previous publish of this workspace to this registry did not finish\n  {}",
            summary.join("\n  ")
        ));
    }
    for e in prev
        .crates
        .iter()
        .filter(|e| reached && e.state == Step::Failed)
    {
        if let Some(reason) = e.steps.last().and_then(|r| r.detail.as_deref()) {
            let first = reason.lines().next().unwrap_or(reason);
            notes.push(format!(
                "last time {} v{} failed: {first}",
                e.name, e.version
            ));
        }
    }
    for PlannedCrate {
        name,
        version,
        checksum,
    } in planned
    {
        let Some(e) = prev.entry(name, version) else {
            continue;
        };
        match &e.checksum {
            Some(old) if old != checksum => notes.push(format!(
                "{name} v{version} changed since the last run (checksum {old} then, {checksum} now); it is planned afresh"
            )),
            Some(_) if e.state == Step::Uploaded => recheck.push((name.clone(), version.clone())),
            _ => {}
        }
    }
    Previous { notes, recheck }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pc(name: &str, checksum: &str) -> PlannedCrate {
        PlannedCrate {
            name: name.into(),
            version: "1.0.0".into(),
            checksum: checksum.into(),
        }
    }

    fn planned(c: &str) -> Vec<PlannedCrate> {
        vec![pc("a", c)]
    }

    #[test]
    fn a_run_stopped_before_uploading_leaves_no_notes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let j = Journal::start(path.clone(), "g", &planned("aa"), Box::new(|_| {}));
        j.record("a", "1.0.0", Step::Verified, None);
        let prev = load(&path).unwrap().unwrap();
        let p = compare(&prev, &planned("bb"));
        assert!(p.notes.is_empty(), "{:?}", p.notes);
        assert!(p.recheck.is_empty());
    }

    #[test]
    fn a_run_whose_only_upload_was_refused_leaves_no_notes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let j = Journal::start(path.clone(), "g", &planned("aa"), Box::new(|_| {}));
        j.record("a", "1.0.0", Step::Failed, Some("401 unauthorized"));
        let prev = load(&path).unwrap().unwrap();
        let p = compare(&prev, &planned("aa"));
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn round_trip_and_compare() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j").join("x.json");
        let j = Journal::start(path.clone(), "g", &planned("aa"), Box::new(|_| {}));
        j.record("a", "1.0.0", Step::Uploaded, None);
        let prev = load(&path).unwrap().unwrap();
        assert_eq!(prev.crates[0].state, Step::Uploaded);
        let same = compare(&prev, &planned("aa"));
        assert_eq!(same.recheck, [("a".to_owned(), "1.0.0".to_owned())]);
        assert!(same.wants_recheck("a", "1.0.0"));
        assert!(!same.wants_recheck("a", "1.0.1"));
        let changed = compare(&prev, &planned("bb"));
        assert!(changed.recheck.is_empty());
        assert!(
            changed
                .notes
                .iter()
                .any(|n| n.contains("changed since the last run")),
            "{:?}",
            changed.notes
        );
    }

    #[test]
    fn a_finished_publish_leaves_no_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        let plan = [pc("a", "aa"), pc("b", "bb")];
        let j = Journal::start(path.clone(), "g", &plan, Box::new(|_| {}));
        j.record("a", "1.0.0", Step::Skipped, None);
        j.record("b", "1.0.0", Step::Uploaded, None);
        j.record("b", "1.0.0", Step::Confirmed, None);
        let prev = compare(&load(&path).unwrap().unwrap(), &plan);
        assert!(prev.notes.is_empty(), "{:?}", prev.notes);
        assert!(prev.recheck.is_empty());
        // One crate left unconfirmed: the run did not finish.
        j.record("b", "1.0.0", Step::Uploaded, None);
        let prev = compare(&load(&path).unwrap().unwrap(), &plan);
        assert!(
            prev.notes[0].starts_with(
                "a previous publish of this workspace to this registry did not finish"
            )
        );
    }

    #[test]
    fn corrupt_journal_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, b"{\"format\":1,\"registry\":").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.contains("not a valid publish journal"), "{err}");
        assert!(load(&dir.path().join("missing.json")).unwrap().is_none());
    }
}
