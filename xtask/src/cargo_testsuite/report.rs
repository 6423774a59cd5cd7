//! What a run says: the per-module table and the closing `N/M cargo testsuite tests passed` line on
//! the terminal; `summary.json` and one file per failing test (libtest's captured output) under
//! `results/`; and the verdict against the pass-rate floor and CONFORMANCE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use super::baseline::Baselines;
use super::conformance;
use super::libtest::{Outcome, RunResult};

pub(super) struct Summary<'a> {
    pub candidates: &'a BTreeSet<String>,
    pub baseline: &'a Baselines,
    pub gantry: &'a RunResult,
    /// In-scope tests that failed in the parallel run and passed when run again alone (counted
    /// as passed, and named so that flaky tests stay visible).
    pub passed_on_retry: &'a BTreeSet<String>,
    pub allowed: &'a BTreeMap<String, String>,
    /// `--only`: CONFORMANCE.md entries outside the selection are not judged.
    pub only: Option<&'a str>,
    pub min_pass_rate: f64,
}

/// snapbox colours its diffs; the files are for reading and grepping.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters… final byte in @..~
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn outcome_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Ignored(_) => "ignored",
        Outcome::NoResult => "no result",
    }
}

#[derive(Default)]
struct Row {
    candidates: usize,
    nightly: usize,
    in_scope: usize,
    passed: usize,
    failed: usize,
}

impl Summary<'_> {
    fn module(name: &str) -> &str {
        name.split("::").next().unwrap_or(name)
    }

    fn passed(&self, name: &str) -> bool {
        self.gantry.outcomes.get(name) == Some(&Outcome::Passed)
    }

    fn in_scope(&self) -> impl Iterator<Item = &String> {
        self.baseline
            .iter()
            .filter(|(_, b)| b.in_scope())
            .map(|(n, _)| n)
    }

    /// Tests that run a publishing command only with `-Z` or as nightly cargo.
    fn nightly(&self) -> Vec<&String> {
        self.baseline
            .iter()
            .filter(|(_, b)| b.calls.nightly && b.calls.runs_gantry_command())
            .map(|(n, _)| n)
            .collect()
    }

    /// Tests that run a publishing command, stable-only, and fail with the real cargo too.
    fn cargo_fails(&self) -> Vec<&String> {
        self.baseline
            .iter()
            .filter(|(_, b)| {
                b.calls.runs_gantry_command()
                    && !b.calls.nightly
                    && matches!(b.outcome, Outcome::Failed | Outcome::NoResult)
            })
            .map(|(n, _)| n)
            .collect()
    }

    fn ignored(&self) -> BTreeMap<&String, &str> {
        self.baseline
            .iter()
            .filter_map(|(n, b)| match &b.outcome {
                Outcome::Ignored(r) => Some((n, r.as_str())),
                _ => None,
            })
            .collect()
    }

    fn rows(&self) -> BTreeMap<&str, Row> {
        let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
        for name in self.candidates {
            rows.entry(Self::module(name)).or_default().candidates += 1;
        }
        for name in self.nightly() {
            rows.entry(Self::module(name)).or_default().nightly += 1;
        }
        for name in self.in_scope() {
            let row = rows.entry(Self::module(name)).or_default();
            row.in_scope += 1;
            if self.passed(name) {
                row.passed += 1;
            } else {
                row.failed += 1;
            }
        }
        rows.retain(|_, r| r.in_scope > 0 || r.nightly > 0);
        rows
    }

    fn unlisted_failures(&self) -> Vec<&String> {
        self.in_scope()
            .filter(|n| !self.passed(n) && !self.allowed.contains_key(*n))
            .collect()
    }

    /// Entries of CONFORMANCE.md whose test passes, or is not an in-scope test at all.
    fn stale_entries(&self) -> Vec<(&String, &'static str)> {
        let scope: BTreeSet<&String> = self.in_scope().collect();
        self.allowed
            .keys()
            .filter(|n| self.only.is_none_or(|o| n.contains(o)))
            .filter_map(|n| {
                if !scope.contains(n) {
                    Some((n, "not an in-scope test"))
                } else if self.passed(n) {
                    Some((n, "passes now"))
                } else {
                    None
                }
            })
            .collect()
    }

    fn totals(&self) -> (usize, usize) {
        let total = self.in_scope().count();
        let passed = self.in_scope().filter(|n| self.passed(n)).count();
        (passed, total)
    }

    fn rate(&self) -> f64 {
        let (passed, total) = self.totals();
        if total == 0 {
            0.0
        } else {
            100.0 * passed as f64 / total as f64
        }
    }

    /// Prints the table and writes `summary.json` and `failures/*.txt` below `results`.
    pub(super) fn write(&self, results: &Path, meta: Value) -> Result<(), String> {
        self.print();
        let failures = results.join("failures");
        if failures.exists() {
            fs::remove_dir_all(&failures).map_err(|e| format!("{}: {e}", failures.display()))?;
        }
        fs::create_dir_all(&failures).map_err(|e| format!("{}: {e}", failures.display()))?;
        for name in self.in_scope().filter(|n| !self.passed(n)) {
            let output = self
                .gantry
                .failure_output
                .get(name)
                .map(String::as_str)
                .unwrap_or("(no output: the test did not finish before the time limit)\n");
            let listed = self
                .allowed
                .get(name)
                .map(|r| format!("CONFORMANCE.md: {r}\n"))
                .unwrap_or_default();
            let listed = if self.gantry.killed.contains(name) {
                format!("{listed}its commands were killed for passing the per-test time limit\n")
            } else {
                listed
            };
            let path = failures.join(format!("{}.txt", name.replace("::", "__")));
            let text = format!("{name}\n{listed}\n{}", strip_ansi(output));
            fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let json = self.json(meta);
        let path = results.join("summary.json");
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!(
            "   results: {} (failing tests' output in {})",
            path.display(),
            failures.display()
        );
        Ok(())
    }

    fn json(&self, meta: Value) -> Value {
        let (passed, total) = self.totals();
        let tests: serde_json::Map<String, Value> = self
            .in_scope()
            .map(|n| {
                let v = json!({
                    "gantry": outcome_word(self.gantry.outcomes.get(n).unwrap_or(&Outcome::NoResult)),
                    "commands": self.baseline[n].calls.subcommands,
                    "conformance": self.allowed.get(n),
                });
                (n.clone(), v)
            })
            .collect();
        let modules: Vec<Value> = self
            .rows()
            .iter()
            .map(|(m, r)| {
                json!({ "module": m, "candidates": r.candidates, "in_scope": r.in_scope,
                        "passed": r.passed, "failed": r.failed, "excluded_nightly": r.nightly })
            })
            .collect();
        json!({
            "meta": meta,
            "candidates": self.candidates.len(),
            "in_scope": total,
            "passed": passed,
            "failed": total - passed,
            "pass_rate": self.rate(),
            "min_pass_rate": self.min_pass_rate,
            "timed_out": self.gantry.timed_out,
            "killed_for_time": self.gantry.killed,
            "passed_on_retry": self.passed_on_retry,
            "modules": modules,
            "tests": tests,
            "excluded_nightly": self.nightly(),
            "fail_with_cargo": self.cargo_fails(),
            "ignored": self.ignored(),
            "unlisted_failures": self.unlisted_failures(),
            "stale_conformance_entries": self.stale_entries().iter()
                .map(|(n, why)| json!({ "test": n, "why": why })).collect::<Vec<_>>(),
        })
    }

    fn print(&self) {
        println!();
        println!(
            "{:<28} {:>8} {:>8} {:>8} {:>8}",
            "module", "in scope", "passed", "failed", "-Z only"
        );
        for (m, r) in self.rows() {
            println!(
                "{m:<28} {:>8} {:>8} {:>8} {:>8}",
                r.in_scope, r.passed, r.failed, r.nightly
            );
        }
        println!();
        let nightly = self.nightly();
        if !nightly.is_empty() {
            println!(
                "out of scope, run a publishing command only with -Z or as nightly cargo ({}):",
                nightly.len()
            );
            for n in nightly {
                println!("    {n}");
            }
        }
        let cargo_fails = self.cargo_fails();
        if !cargo_fails.is_empty() {
            println!(
                "out of scope, fail with the real cargo too ({}):",
                cargo_fails.len()
            );
            for n in cargo_fails {
                println!("    {n}");
            }
        }
        let ignored = self.ignored();
        if !ignored.is_empty() {
            println!(
                "not run, ignored by the suite itself here (nightly-only, missing tool…) ({}):",
                ignored.len()
            );
            for (n, reason) in ignored {
                println!("    {n}: {reason}");
            }
        }
        let unlisted = self.unlisted_failures();
        if !unlisted.is_empty() {
            println!(
                "failing and not listed in {} ({}):",
                conformance::PATH,
                unlisted.len()
            );
            for n in unlisted {
                println!("    {n}");
            }
        }
        if !self.passed_on_retry.is_empty() {
            println!(
                "passed only when run again alone, counted as passed (flaky?) ({}):",
                self.passed_on_retry.len()
            );
            for n in self.passed_on_retry {
                println!("    {n}");
            }
        }
        for (n, why) in self.stale_entries() {
            println!("{} lists `{n}`, which {why}", conformance::PATH);
        }
        if self.gantry.timed_out {
            println!("the gantry run was stopped by the time limit");
        }
        let (passed, total) = self.totals();
        println!("{passed}/{total} cargo testsuite tests passed");
    }

    /// Ok when the pass rate reaches the floor and CONFORMANCE.md matches the failures exactly.
    pub(super) fn verdict(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        let (passed, total) = self.totals();
        if total == 0 {
            problems.push("no test is in scope".to_owned());
        } else if self.rate() < self.min_pass_rate {
            problems.push(format!(
                "{passed}/{total} ({:.1}%) is below the required {}%",
                self.rate(),
                self.min_pass_rate
            ));
        }
        let unlisted = self.unlisted_failures().len();
        if unlisted > 0 {
            problems.push(format!(
                "{unlisted} failing tests are not listed in {}",
                conformance::PATH
            ));
        }
        let stale = self.stale_entries().len();
        if stale > 0 {
            problems.push(format!(
                "{stale} entries of {} are stale",
                conformance::PATH
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[31m-\u{1b}[0m a \u{1b}[4m\u{1b}[32mb"),
            "- a b"
        );
    }
}
