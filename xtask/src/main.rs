//! Project automation for gantry. `cargo run -p xtask -- <command>` (or `cargo xtask` with the
//! alias from xtask/README.md):
//!
//! * `corpus [--count N] [--git] [--online] [--only SUBSTR] [--gantry PATH] [--work DIR]`
//! * `corpus --workspaces`
//! * `demo` (quick start: registry + publish + consume + yank)
//! * `bench package [--runs N] [--files N] [--gantry PATH]`
//! * `bench registry [ARGS…]` (the registry load benchmark, release build; servers as for `test`)
//! * `test [ARGS…]` (the whole test suite: `cargo test --workspace --locked ARGS…`, after making sure
//!   s3s-fs and PostgreSQL 15 are there for the registry's PostgreSQL+S3 runs)
//! * `bench publish-workspace [--crates N] [--items N] [--gantry PATH --registry-bin PATH]`
//! * `cargo-testsuite [--min-pass-rate P] [--test-threads N] [--only SUBSTR] [--rerun-baseline]
//!   [--timeout-minutes M] [--test-timeout SECS] [--gantry PATH] [--work DIR]` (cargo 1.95's own
//!   tests against gantry)
//! * `bench index [--crates N] [--versions N] [--rounds N] [--seconds N] [--threads N]
//!   [--connections N] [--registry-bin PATH]` (gantry-registry's sparse index beside nginx, wrk)
//! * `interop kellnr [--gantry PATH]` (cargo and cargo gantry against a real kellnr, built once)
//!
//! It never asserts on timings and never edits the repository (scratch work goes to temp dirs and
//! `target/xtask/`).
// The developers' task runner reports on the terminal: it is the terminal's program.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod bench_index;
mod bench_publish;
mod cargo_testsuite;
mod common;
mod corpus;
mod demo;
mod interop;
mod testtools;
mod workspaces;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  cargo xtask corpus [--count N] [--git] [--online] [--only SUBSTR] [--gantry PATH] [--work DIR]
  cargo xtask corpus --workspaces [--gantry PATH] [--work DIR]
  cargo xtask bench package [--runs N] [--files N] [--gantry PATH]
  cargo xtask bench registry [ARGS...]
  cargo xtask test [ARGS...]
  cargo xtask bench publish-workspace [--crates N] [--items N] [--gantry PATH --registry-bin PATH]
  cargo xtask cargo-testsuite [--min-pass-rate P] [--test-threads N] [--only SUBSTR]
                              [--rerun-baseline] [--timeout-minutes M] [--test-timeout SECS]
                              [--gantry PATH] [--work DIR]
  cargo xtask bench index [--crates N] [--versions N] [--rounds N] [--seconds N] [--threads N] [--connections N] [--registry-bin PATH]
  cargo xtask demo
  cargo xtask interop kellnr [--gantry PATH]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Flags {
    rest: Vec<String>,
}

impl Flags {
    fn take_flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        before != self.rest.len()
    }
    fn take_value(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(i) = self.rest.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.rest.len() {
            return Err(format!("{name} needs a value"));
        }
        let v = self.rest.remove(i + 1);
        self.rest.remove(i);
        Ok(Some(v))
    }
    fn take_number(&mut self, name: &str, default: usize) -> Result<usize, String> {
        match self.take_value(name)? {
            Some(v) => v.parse().map_err(|_| format!("{name}: not a number: {v}")),
            None => Ok(default),
        }
    }
    fn finish(self) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected arguments {:?}\n{USAGE}", self.rest))
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is one level below the root")
        .to_path_buf()
}

fn run(args: Vec<String>) -> Result<(), String> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(USAGE.into());
    };
    // These pass every argument through to cargo.
    match cmd.as_str() {
        "test" => {
            let mut args: Vec<String> = ["test", "--workspace", "--locked"]
                .map(String::from)
                .to_vec();
            args.extend(rest.iter().cloned());
            return testtools::cargo_with_services(&repo_root(), &args, true);
        }
        "bench" if rest.first().map(String::as_str) == Some("registry") => {
            let mut args: Vec<String> = [
                "bench",
                "--locked",
                "-p",
                "gantry-registry",
                "--bench",
                "load",
            ]
            .map(String::from)
            .to_vec();
            if rest.len() > 1 {
                args.push("--".into());
                args.extend(rest[1..].iter().cloned());
            }
            return testtools::cargo_with_services(&repo_root(), &args, false);
        }
        _ => {}
    }
    let mut f = Flags {
        rest: rest.to_vec(),
    };
    let gantry = f.take_value("--gantry")?.map(PathBuf::from);
    let repo = repo_root();
    match cmd.as_str() {
        "corpus" => {
            let work = f
                .take_value("--work")?
                .map(PathBuf::from)
                .unwrap_or_else(|| repo.join("target/xtask/corpus"));
            if f.take_flag("--workspaces") {
                f.finish()?;
                let tools = common::Tools::locate(gantry, &repo)?;
                let home = corpus::fetch_corpus(&tools, &work)?;
                return workspaces::run(&tools, &home);
            }
            let opts = corpus::Options {
                count: f.take_number("--count", 200)?,
                git: f.take_flag("--git"),
                online: f.take_flag("--online"),
                only: f.take_value("--only")?,
                work,
            };
            f.finish()?;
            let tools = common::Tools::locate(gantry, &repo)?;
            corpus::run(&tools, &opts)
        }
        "bench" if f.take_flag("publish-workspace") => {
            let opts = bench_publish::Options {
                crates: f.take_number("--crates", 30)?,
                items: f.take_number("--items", 150)?,
                gantry,
                registry: f.take_value("--registry-bin")?.map(PathBuf::from),
            };
            f.finish()?;
            bench_publish::run(&repo, &opts)
        }
        "bench" if f.take_flag("index") => {
            let opts = bench_index::Options {
                crates: f.take_number("--crates", 300)?,
                versions: f.take_number("--versions", 3)?,
                rounds: f.take_number("--rounds", 3)?,
                seconds: f.take_number("--seconds", 10)? as u64,
                threads: f.take_number("--threads", 2)?,
                connections: f.take_number("--connections", 32)?,
                registry: f.take_value("--registry-bin")?.map(PathBuf::from),
            };
            f.finish()?;
            bench_index::run(&repo, &opts)
        }
        "bench" => {
            if !f.take_flag("package") {
                return Err(format!(
                    "unknown benchmark (package, registry, publish-workspace or index)\n{USAGE}"
                ));
            }
            let opts = bench::Options {
                runs: f.take_number("--runs", 5)?,
                files: f.take_number("--files", 4000)?,
            };
            f.finish()?;
            let tools = common::Tools::locate(gantry, &repo)?;
            bench::run(&tools, &opts)
        }
        "cargo-testsuite" => {
            let min_pass_rate = match f.take_value("--min-pass-rate")? {
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| format!("--min-pass-rate: not a percentage: {v}"))?,
                None => 97.0,
            };
            let default_threads = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
            let opts = cargo_testsuite::Options {
                work: f
                    .take_value("--work")?
                    .map(PathBuf::from)
                    .unwrap_or_else(|| repo.join("target/cargo-testsuite")),
                gantry,
                min_pass_rate,
                threads: f.take_number("--test-threads", default_threads)?,
                timeout: std::time::Duration::from_secs(
                    60 * f.take_number("--timeout-minutes", 40)? as u64,
                ),
                test_timeout: std::time::Duration::from_secs(
                    f.take_number("--test-timeout", 180)? as u64
                ),
                only: f.take_value("--only")?,
                rerun_baseline: f.take_flag("--rerun-baseline"),
            };
            f.finish()?;
            cargo_testsuite::run(&repo, &opts)
        }
        "demo" => {
            f.finish()?;
            demo::run(&repo)
        }
        "interop" => {
            let Some(peer) = f.rest.first().cloned() else {
                return Err(USAGE.into());
            };
            f.rest.retain(|a| *a != peer);
            f.finish()?;
            interop::run(&repo, &peer, gantry)
        }
        _ => Err(USAGE.into()),
    }
}
