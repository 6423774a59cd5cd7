//! The baseline: what each candidate test does with the real cargo (its outcome, the commands it
//! ran, whether it used nightly features), cached in `baseline/<key>.json` so it is computed once
//! per cargo/rustc version, shim and candidate list.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::libtest::Outcome;
use super::shim::{self, Calls};
use super::{Env, fetch, report};

/// What the baseline says about one candidate.
#[derive(Debug, Clone)]
pub(super) struct Baseline {
    pub outcome: Outcome,
    pub calls: Calls,
}

impl Baseline {
    /// Runs one of the six commands, no nightly features, and passes with the real cargo.
    pub(super) fn in_scope(&self) -> bool {
        self.outcome == Outcome::Passed && self.calls.runs_gantry_command() && !self.calls.nightly
    }
}

pub(super) type Baselines = BTreeMap<String, Baseline>;

pub(super) fn from_run(
    candidates: &BTreeSet<String>,
    mut outcomes: BTreeMap<String, Outcome>,
    mut calls: BTreeMap<String, Calls>,
) -> Baselines {
    candidates
        .iter()
        .map(|n| {
            let b = Baseline {
                outcome: outcomes.remove(n).unwrap_or(Outcome::NoResult),
                calls: calls.remove(n).unwrap_or_default(),
            };
            (n.clone(), b)
        })
        .collect()
}

/// The baseline depends on the cargo and rustc that ran it, the shim, and the candidate set.
pub(super) fn key(env: &Env, candidates: &BTreeSet<String>) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "shim v{}\ncargo crate {}\n{}\n{}\n",
        shim::SHIM_VERSION,
        fetch::CARGO_CRATE_VERSION,
        env.cargo_version,
        env.rustc_version
    ));
    for c in candidates {
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..8])
}

pub(super) fn save(path: &Path, key: &str, b: &Baselines) -> Result<(), String> {
    let tests: serde_json::Map<String, Value> = b
        .iter()
        .map(|(n, b)| {
            let v = json!({
                "outcome": report::outcome_word(&b.outcome),
                "ignore_reason": match &b.outcome { Outcome::Ignored(r) => r.as_str(), _ => "" },
                "commands": b.calls.subcommands,
                "nightly": b.calls.nightly,
            });
            (n.clone(), v)
        })
        .collect();
    let text = serde_json::to_string_pretty(&json!({ "key": key, "tests": tests }))
        .map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    fetch::write(path, &text)
}

pub(super) fn load(path: &Path) -> Option<Baselines> {
    let v: Value = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
    v["tests"]
        .as_object()?
        .iter()
        .map(|(n, t)| {
            let outcome = match t["outcome"].as_str()? {
                "passed" => Outcome::Passed,
                "failed" => Outcome::Failed,
                "ignored" => Outcome::Ignored(t["ignore_reason"].as_str()?.to_owned()),
                _ => Outcome::NoResult,
            };
            let subcommands = t["commands"]
                .as_array()?
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
            let calls = Calls {
                subcommands,
                nightly: t["nightly"].as_bool()?,
            };
            Some((n.clone(), Baseline { outcome, calls }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_survive_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b/k.json");
        let calls = |cmds: &[&str], nightly| Calls {
            subcommands: cmds.iter().map(|c| c.to_string()).collect(),
            nightly,
        };
        let b: Baselines = [
            (
                "publish::a",
                Outcome::Passed,
                calls(&["publish", "build"], false),
            ),
            ("package::b", Outcome::Failed, calls(&["package"], true)),
            (
                "login::c",
                Outcome::Ignored("requires nightly".into()),
                calls(&[], false),
            ),
        ]
        .into_iter()
        .map(|(n, outcome, calls)| (n.to_owned(), Baseline { outcome, calls }))
        .collect();
        save(&path, "k", &b).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.len(), 3);
        assert!(back["publish::a"].in_scope());
        assert!(!back["package::b"].in_scope());
        assert!(back["package::b"].calls.nightly);
        assert_eq!(
            back["login::c"].outcome,
            Outcome::Ignored("requires nightly".into())
        );
    }
}
