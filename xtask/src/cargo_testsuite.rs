//! `cargo xtask cargo-testsuite`: cargo 1.95's own test suite, run against `cargo gantry`.
//!
//! 1. fetch the `cargo` crate (cargo 1.95.0's source and tests) and build its `testsuite` binary
//!    under `target/cargo-testsuite/` (once; [`fetch`]);
//! 2. pick the tests that may run one of the six publishing commands ([`select`]);
//! 3. baseline: run them with a shim that sends everything to the real cargo and logs what each
//!    test ran ([`shim`]); in scope are the tests that ran one of the six commands, used no `-Z`
//!    or nightly masquerade, and passed (cached per cargo/rustc version);
//! 4. run the in-scope tests with the shim sending the six commands to cargo-gantry;
//! 5. report per module, against `crates/cargo-gantry/CONFORMANCE.md` ([`report`]).
//!
//! Both runs happen in a loopback-only network namespace ([`libtest`]).

mod conformance;
mod fetch;
mod hung;
mod libtest;
mod report;
mod select;
mod shim;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use libtest::Outcome;
use shim::{Calls, Mode, ShimPaths};

pub struct Options {
    pub work: PathBuf,
    pub gantry: Option<PathBuf>,
    pub min_pass_rate: f64,
    pub threads: usize,
    pub timeout: Duration,
    pub test_timeout: Duration,
    /// Only candidates whose name contains this.
    pub only: Option<String>,
    pub rerun_baseline: bool,
}

/// The reference toolchain, and commands that run it outside the `cargo run` environment.
pub struct Env {
    pub real_cargo: PathBuf,
    pub cargo_version: String,
    pub rustc_version: String,
}

impl Env {
    fn detect() -> Result<Env, String> {
        let real_cargo = real_cargo()?;
        let cargo_version = capture(Command::new(&real_cargo).arg("-Vv"))?;
        let rustc_version = capture(Command::new("rustc").arg("-Vv"))?;
        Ok(Env {
            real_cargo,
            cargo_version,
            rustc_version,
        })
    }

    /// The real cargo, without the `CARGO_*` variables `cargo run` set for xtask (`CARGO_HOME`
    /// stays: downloads are shared with the user's cache).
    pub fn cargo_cmd(&self) -> Command {
        let mut cmd = Command::new(&self.real_cargo);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("CARGO") && k != "CARGO_HOME" {
                cmd.env_remove(&*k);
            }
        }
        cmd
    }
}

/// `$CARGO` (the toolchain's cargo, as `cargo xtask` runs us), else `rustup which cargo`, else
/// `cargo` on `PATH`: always an absolute path, which goes into the shim.
fn real_cargo() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CARGO").map(PathBuf::from)
        && p.is_absolute()
        && p.is_file()
    {
        return Ok(p);
    }
    if let Ok(out) = capture(Command::new("rustup").args(["which", "cargo"])) {
        return Ok(PathBuf::from(out.trim()));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("cargo"))
        .find(|p| p.is_file())
        .ok_or_else(|| "no cargo found ($CARGO, rustup, PATH)".to_owned())
}

/// Runs a command that must succeed and returns its stdout.
pub fn capture(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{:?}: {e}", cmd.get_program()))
}

/// What the baseline says about one candidate.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub outcome: Outcome,
    pub calls: Calls,
}

pub fn run(repo: &Path, opts: &Options) -> Result<(), String> {
    let env = Env::detect()?;
    let results = opts.work.join("results");
    fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
    let unshare = libtest::namespace_command()?;

    let t = Instant::now();
    let built = fetch::prepare(&opts.work, &env)?;
    let gantry = match &opts.gantry {
        Some(p) => p.clone(),
        None => build_gantry(repo, &env)?,
    };
    let prepare_time = t.elapsed();
    eprintln!("   fetch and build: {:.0?}", prepare_time);

    let all = libtest::list(&built.test_exe)?;
    let mut candidates = select::candidates(&built.src.join("tests/testsuite"), &all)?;
    if let Some(only) = &opts.only {
        candidates.retain(|t| t.contains(only.as_str()));
    }
    eprintln!(
        "== {} of the suite's {} tests may run package/publish/login/logout/yank/owner",
        candidates.len(),
        all.len()
    );

    let run_with = |mode: Mode, tests: &BTreeSet<String>, label: &str| {
        let calls_log = results.join(format!("{label}-calls.tsv"));
        let _ = fs::remove_file(&calls_log);
        let paths = ShimPaths {
            real_cargo: &env.real_cargo,
            gantry: &gantry,
            log: &calls_log,
        };
        shim::install(&built.cargo_bin, mode, &paths)?;
        eprintln!(
            "== {label}: {} tests, {} threads, loopback-only network namespace",
            tests.len(),
            opts.threads
        );
        let result = libtest::run(&libtest::RunSpec {
            test_exe: &built.test_exe,
            tests,
            threads: opts.threads,
            timeout: opts.timeout,
            test_timeout: opts.test_timeout,
            log: &results.join(format!("{label}.log")),
            unshare: &unshare,
            label,
        })?;
        let calls = shim::read_log(&calls_log, tests)?;
        eprintln!("   {label}: {:.0?}", result.elapsed);
        Ok::<_, String>((result, calls))
    };

    let t = Instant::now();
    let key = baseline_key(&env, &candidates);
    let cache = opts.work.join("baseline").join(format!("{key}.json"));
    let baseline = match (opts.rerun_baseline, load_baseline(&cache)) {
        (false, Some(b)) => {
            eprintln!("== baseline: cached ({})", cache.display());
            b
        }
        _ => {
            let (result, calls) = run_with(Mode::Cargo, &candidates, "baseline")?;
            if result.timed_out {
                return Err("the baseline run with the real cargo hit the time limit".into());
            }
            let b = baseline_from(&candidates, result.outcomes, calls);
            save_baseline(&cache, &key, &b)?;
            b
        }
    };
    let baseline_time = t.elapsed();

    let in_scope: BTreeSet<String> = baseline
        .iter()
        .filter(|(_, b)| in_scope(b))
        .map(|(n, _)| n.clone())
        .collect();
    let t = Instant::now();
    let (result, _) = run_with(Mode::Gantry, &in_scope, "gantry")?;
    let gantry_time = t.elapsed();

    let allowed = conformance::read(repo)?;
    let summary = report::Summary {
        candidates: &candidates,
        baseline: &baseline,
        gantry: &result,
        allowed: &allowed,
        only: opts.only.as_deref(),
        min_pass_rate: opts.min_pass_rate,
    };
    let meta = json!({
        "cargo_crate": fetch::CARGO_CRATE_VERSION,
        "cargo": env.cargo_version.lines().next().unwrap_or_default(),
        "rustc": env.rustc_version.lines().next().unwrap_or_default(),
        "gantry": gantry,
        "test_threads": opts.threads,
        "seconds": {
            "fetch_and_build": prepare_time.as_secs_f64(),
            "baseline": baseline_time.as_secs_f64(),
            "gantry_run": gantry_time.as_secs_f64(),
        },
    });
    summary.write(&results, meta)?;
    eprintln!(
        "   times: fetch+build {:.0?}, baseline {:.0?}, gantry run {:.0?}",
        prepare_time, baseline_time, gantry_time
    );
    summary.verdict()
}

/// Runs one of the six commands, no nightly features, and passes with the real cargo.
fn in_scope(b: &Baseline) -> bool {
    b.outcome == Outcome::Passed && b.calls.runs_gantry_command() && !b.calls.nightly
}

/// The debug cargo-gantry as `cargo test --workspace` builds it: after the workspace's tests (as in
/// CI) this is a no-op, where `cargo build -p cargo-gantry` would unify features differently and
/// rebuild dozens of dependencies.
fn build_gantry(repo: &Path, env: &Env) -> Result<PathBuf, String> {
    eprintln!("== building cargo-gantry (debug, with the workspace's test build)");
    let status = env
        .cargo_cmd()
        .args(["test", "--workspace", "--locked", "--no-run"])
        .current_dir(repo)
        .status()
        .map_err(|e| format!("cargo test --workspace --no-run: {e}"))?;
    if !status.success() {
        return Err(format!("building cargo-gantry failed ({status})"));
    }
    Ok(repo.join("target/debug/cargo-gantry"))
}

fn baseline_from(
    candidates: &BTreeSet<String>,
    mut outcomes: BTreeMap<String, Outcome>,
    mut calls: BTreeMap<String, Calls>,
) -> BTreeMap<String, Baseline> {
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
fn baseline_key(env: &Env, candidates: &BTreeSet<String>) -> String {
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

fn save_baseline(path: &Path, key: &str, b: &BTreeMap<String, Baseline>) -> Result<(), String> {
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

fn load_baseline(path: &Path) -> Option<BTreeMap<String, Baseline>> {
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
