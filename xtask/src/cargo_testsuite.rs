//! `cargo xtask cargo-testsuite`: cargo 1.95's own test suite, run against `cargo gantry`.
//!
//! 1. fetch the `cargo` crate (cargo 1.95.0's source and tests) and build its `testsuite` binary
//!    under `target/cargo-testsuite/` (once; [`fetch`]);
//! 2. pick the tests that may run one of the six publishing commands ([`select`]);
//! 3. baseline: run them with a shim that sends everything to the real cargo and logs what each
//!    test ran ([`shim`]); in scope are the tests that ran one of the six commands, used no `-Z`
//!    or nightly masquerade, and passed (cached per cargo/rustc version; [`baseline`]);
//! 4. run the in-scope tests with the shim sending the six commands to cargo-gantry;
//! 5. report per module, against `crates/cargo-gantry/CONFORMANCE.md` ([`report`]).
//!
//! Both runs happen in a loopback-only network namespace ([`libtest`]).

mod baseline;
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

use serde_json::json;

use baseline::Baselines;
use libtest::RunResult;
use shim::{Calls, Mode, ShimPaths};

#[derive(Clone)]
pub(crate) struct Options {
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
pub(crate) struct Env {
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
    pub(crate) fn cargo_cmd(&self) -> Command {
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
pub(crate) fn capture(cmd: &mut Command) -> Result<String, String> {
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

pub(crate) fn run(repo: &Path, opts: &Options) -> Result<(), String> {
    let env = Env::detect()?;
    let results = opts.work.join("results");
    fs::create_dir_all(&results).map_err(|e| format!("{}: {e}", results.display()))?;
    let unshare = libtest::namespace_command()?;

    let t = Instant::now();
    let built = fetch::prepare(&opts.work, &env)?;
    let gantry = locate_gantry(repo, &env, opts.gantry.as_deref())?;
    let prepare_time = t.elapsed();
    eprintln!("   fetch and build: {prepare_time:.0?}");

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
    let runner = Runner {
        env: &env,
        built: &built,
        gantry: &gantry,
        results: &results,
        unshare: &unshare,
        opts,
    };

    let t = Instant::now();
    let baselines = runner.baseline(&candidates)?;
    let baseline_time = t.elapsed();

    let in_scope: BTreeSet<String> = baselines
        .iter()
        .filter(|(_, b)| b.in_scope())
        .map(|(n, _)| n.clone())
        .collect();
    let t = Instant::now();
    let (mut result, _) = runner.run(Mode::Gantry, &in_scope, "gantry")?;
    let gantry_time = t.elapsed();
    let t = Instant::now();
    let passed_on_retry = runner.retry_failures(&mut result)?;
    let retry_time = t.elapsed();

    let allowed = conformance::read(repo)?;
    let summary = report::Summary {
        candidates: &candidates,
        baseline: &baselines,
        gantry: &result,
        passed_on_retry: &passed_on_retry,
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
            "gantry_retry": retry_time.as_secs_f64(),
        },
    });
    summary.write(&results, meta)?;
    eprintln!(
        "   times: fetch+build {prepare_time:.0?}, baseline {baseline_time:.0?}, gantry run {gantry_time:.0?}, retries {retry_time:.0?}"
    );
    summary.verdict()
}

/// Everything a run of the suite needs.
struct Runner<'a> {
    env: &'a Env,
    built: &'a fetch::Built,
    gantry: &'a Path,
    results: &'a Path,
    unshare: &'a [&'a str],
    opts: &'a Options,
}

impl Runner<'_> {
    /// Runs `tests` with the shim in `mode`; returns libtest's results and what each test ran.
    fn run(
        &self,
        mode: Mode,
        tests: &BTreeSet<String>,
        label: &str,
    ) -> Result<(RunResult, BTreeMap<String, Calls>), String> {
        let calls_log = self.results.join(format!("{label}-calls.tsv"));
        let _ = fs::remove_file(&calls_log);
        let paths = ShimPaths {
            real_cargo: &self.env.real_cargo,
            gantry: self.gantry,
            log: &calls_log,
        };
        shim::install(&self.built.cargo_bin, mode, &paths)?;
        eprintln!(
            "== {label}: {} tests, {} threads, loopback-only network namespace",
            tests.len(),
            self.opts.threads
        );
        let result = libtest::run(&libtest::RunSpec {
            test_exe: &self.built.test_exe,
            tests,
            threads: self.opts.threads,
            timeout: self.opts.timeout,
            test_timeout: self.opts.test_timeout,
            log: &self.results.join(format!("{label}.log")),
            unshare: self.unshare,
            label,
        })?;
        let calls = shim::read_log(&calls_log, tests)?;
        eprintln!("   {label}: {:.0?}", result.elapsed);
        Ok((result, calls))
    }

    /// Runs every test of `result` that failed (or had no result) once more, one test at a time,
    /// so that a test that failed only under the load of the parallel run (a timing-sensitive test
    /// on a busy 2-core machine) is not counted as failed. Such tests are returned by name, so the
    /// report shows them instead of hiding the flake; a test that fails again keeps its failure,
    /// with the output of the run where it had the machine to itself.
    fn retry_failures(&self, result: &mut RunResult) -> Result<BTreeSet<String>, String> {
        let failed: BTreeSet<String> = result
            .outcomes
            .iter()
            .filter(|(_, o)| matches!(o, libtest::Outcome::Failed | libtest::Outcome::NoResult))
            .map(|(n, _)| n.clone())
            .collect();
        if failed.is_empty() {
            return Ok(BTreeSet::new());
        }
        let single = Options {
            threads: 1,
            ..self.opts.clone()
        };
        let runner = Runner {
            opts: &single,
            ..*self
        };
        let (retry, _) = runner.run(Mode::Gantry, &failed, "gantry-retry")?;
        let mut passed = BTreeSet::new();
        for name in &failed {
            match retry.outcomes.get(name) {
                Some(libtest::Outcome::Passed) => {
                    result
                        .outcomes
                        .insert(name.clone(), libtest::Outcome::Passed);
                    result.failure_output.remove(name);
                    result.killed.remove(name);
                    passed.insert(name.clone());
                }
                Some(libtest::Outcome::Failed) => {
                    result
                        .outcomes
                        .insert(name.clone(), libtest::Outcome::Failed);
                    if let Some(output) = retry.failure_output.get(name) {
                        result.failure_output.insert(name.clone(), output.clone());
                    }
                }
                _ => {}
            }
        }
        if !passed.is_empty() {
            eprintln!(
                "   {} failed in the parallel run and passed alone: {}",
                passed.len(),
                passed.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(passed)
    }

    /// The cached baseline for these candidates, or a fresh run with the real cargo.
    fn baseline(&self, candidates: &BTreeSet<String>) -> Result<Baselines, String> {
        let key = baseline::key(self.env, candidates);
        let cache = self.opts.work.join("baseline").join(format!("{key}.json"));
        if !self.opts.rerun_baseline
            && let Some(b) = baseline::load(&cache)
        {
            eprintln!("== baseline: cached ({})", cache.display());
            return Ok(b);
        }
        let (result, calls) = self.run(Mode::Cargo, candidates, "baseline")?;
        if result.timed_out {
            return Err("the baseline run with the real cargo hit the time limit".into());
        }
        let b = baseline::from_run(candidates, result.outcomes, calls);
        baseline::save(&cache, &key, &b)?;
        Ok(b)
    }
}

/// `--gantry PATH`, else the workspace's debug build; absolute, since the shim runs it from the
/// tests' own directories.
fn locate_gantry(repo: &Path, env: &Env, given: Option<&Path>) -> Result<PathBuf, String> {
    let gantry = match given {
        Some(p) => p.to_owned(),
        None => build_gantry(repo, env)?,
    };
    if !gantry.is_file() {
        return Err(format!("cargo-gantry not found at {}", gantry.display()));
    }
    std::path::absolute(&gantry).map_err(|e| format!("{}: {e}", gantry.display()))
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
