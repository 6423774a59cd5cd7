//! Running the `testsuite` binary: listing its tests, and running a chosen set inside a network
//! namespace that has only a loopback interface (the suite's registries listen on 127.0.0.1, and
//! nothing may reach the real crates.io), then reading libtest's plain-text report.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::capture;
use super::hung::Hung;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Passed,
    Failed,
    /// `#[ignore]`d on this machine (nightly-only, a missing tool, …), with libtest's reason.
    Ignored(String),
    /// No result: the run was stopped by the time limit before this test finished.
    NoResult,
}

pub(super) struct RunResult {
    pub outcomes: BTreeMap<String, Outcome>,
    /// libtest's captured output of each failed test.
    pub failure_output: BTreeMap<String, String>,
    pub elapsed: Duration,
    pub timed_out: bool,
    /// Tests whose commands were killed for passing the per-test limit.
    pub killed: BTreeSet<String>,
}

/// Every test the binary has (`--list`), e.g. `publish::simple`.
pub(super) fn list(test_exe: &Path) -> Result<BTreeSet<String>, String> {
    let out = capture(Command::new(test_exe).args(["--list", "--format", "terse"]))?;
    Ok(out
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// How this process may enter a loopback-only network namespace: `unshare -n` as root, else a
/// user namespace (`unshare -rn`) where the kernel allows one. Refuses rather than run outside.
pub(super) fn namespace_command() -> Result<Vec<&'static str>, String> {
    for args in [vec!["unshare", "-n"], vec!["unshare", "-rn"]] {
        let ok = Command::new(args[0])
            .args(&args[1..])
            .args(["ip", "link", "set", "lo", "up"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(args);
        }
    }
    Err(
        "cannot enter a network namespace with `unshare -n` (needs root) or `unshare -rn` \
         (needs unprivileged user namespaces), or `ip` (iproute2) is missing; the suite is only \
         run where no test can reach the real crates.io"
            .into(),
    )
}

pub(super) struct RunSpec<'a> {
    pub test_exe: &'a Path,
    pub tests: &'a BTreeSet<String>,
    pub threads: usize,
    pub timeout: Duration,
    /// Per test: its commands are killed past this.
    pub test_timeout: Duration,
    /// libtest's full output goes here.
    pub log: &'a Path,
    pub unshare: &'a [&'a str],
    pub label: &'a str,
}

/// Runs `tests` (exact names) in one process, in a fresh loopback-only network namespace.
pub(super) fn run(spec: &RunSpec) -> Result<RunResult, String> {
    let start = Instant::now();
    // Inside the namespace: bring loopback up, make sure nothing else is there, then become the
    // test binary.
    let guard = r#"ip link set lo up || exit 96
if ip -o link show | grep -v ': lo:' | grep -q .; then
  echo 'the network namespace has an interface besides lo' >&2; exit 97
fi
exec "$0" "$@""#;
    let mut cmd = Command::new(spec.unshare[0]);
    cmd.args(&spec.unshare[1..])
        .args(["sh", "-c", guard])
        .arg(spec.test_exe)
        .args(["--exact", "--color", "never", "--test-threads"])
        .arg(spec.threads.to_string())
        .args(spec.tests)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    scrub_env(&mut cmd);
    // The panic message names the test's line; a backtrace per failure is only noise.
    cmd.env("RUST_BACKTRACE", "0");
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("running {}: {e}", spec.test_exe.display()))?;
    let hung = std::sync::Arc::new(Hung::default());
    let reader = spawn_reader(
        &mut child,
        spec.log.to_owned(),
        spec.tests.len(),
        spec.label,
        hung.clone(),
    )?;
    let timed_out = wait_with_deadline(&mut child, spec.timeout, || hung.reap(spec.test_timeout))?;
    let text = reader
        .join()
        .map_err(|_| "the output reader panicked".to_owned())??;
    let (mut outcomes, failure_output) = parse(&text);
    for t in spec.tests {
        outcomes.entry(t.clone()).or_insert(Outcome::NoResult);
    }
    if !timed_out && outcomes.values().all(|o| *o == Outcome::NoResult) {
        return Err(format!(
            "{} produced no test results; see {}",
            spec.test_exe.display(),
            spec.log.display()
        ));
    }
    Ok(RunResult {
        outcomes,
        failure_output,
        elapsed: start.elapsed(),
        timed_out,
        killed: hung.killed(),
    })
}

/// The suite clears `CARGO_*` for the cargo it spawns, but the test process itself should not see
/// the variables `cargo run` gave xtask either.
fn scrub_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO") || k.starts_with("__CARGO") || k == "RUSTFLAGS" {
            cmd.env_remove(&*k);
        }
    }
}

/// Copies the child's stdout and stderr into the log, printing progress now and then; returns
/// stdout's text.
fn spawn_reader(
    child: &mut Child,
    log: PathBuf,
    total: usize,
    label: &str,
    hung: std::sync::Arc<Hung>,
) -> Result<std::thread::JoinHandle<Result<String, String>>, String> {
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let err_log = log.with_extension("stderr.log");
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::copy(&mut BufReader::new(stderr), &mut buf);
        let _ = fs::write(err_log, buf);
    });
    let label = label.to_owned();
    Ok(std::thread::spawn(move || {
        let mut file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut text = String::new();
        let (mut done, mut failed) = (0usize, 0usize);
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading the test output: {e}"))?;
            writeln!(file, "{line}").map_err(|e| format!("{}: {e}", log.display()))?;
            hung.observe(&line);
            if let Some((_, outcome)) = result_line(&line) {
                done += 1;
                failed += usize::from(outcome == Outcome::Failed);
                if done % 50 == 0 || done == total {
                    eprintln!("   {label}: {done}/{total} finished, {failed} failed");
                }
            } else if line.contains("has been running for over") {
                eprintln!("   {label}: {}", line.trim());
            }
            text.push_str(&line);
            text.push('\n');
        }
        Ok(text)
    }))
}

/// Waits for the child, calling `tick` now and then; past `timeout` kills its whole process group
/// and says so.
fn wait_with_deadline(
    child: &mut Child,
    timeout: Duration,
    tick: impl Fn(),
) -> Result<bool, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            return Ok(false);
        }
        if Instant::now() >= deadline {
            eprintln!("   time limit of {timeout:?} reached; stopping the test run");
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            return Ok(true);
        }
        tick();
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `test NAME ... ok|FAILED|ignored[, reason]`.
fn result_line(line: &str) -> Option<(&str, Outcome)> {
    let rest = line.strip_prefix("test ")?;
    let (name, verdict) = rest.split_once(" ... ")?;
    let outcome = match verdict {
        "ok" => Outcome::Passed,
        "FAILED" => Outcome::Failed,
        v if v.starts_with("ignored") => Outcome::Ignored(
            v.trim_start_matches("ignored")
                .trim_start_matches(", ")
                .into(),
        ),
        _ => return None,
    };
    Some((name, outcome))
}

type Parsed = (BTreeMap<String, Outcome>, BTreeMap<String, String>);

/// Results per test, and the `---- NAME stdout ----` sections libtest prints for failures.
fn parse(text: &str) -> Parsed {
    let mut outcomes = BTreeMap::new();
    let mut outputs: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            current = Some(name.to_owned());
            outputs.entry(name.to_owned()).or_default();
            continue;
        }
        if line == "failures:" {
            current = None;
            continue;
        }
        if let Some(name) = &current {
            let out = outputs.get_mut(name).expect("inserted above");
            out.push_str(line);
            out.push('\n');
        } else if let Some((name, outcome)) = result_line(line) {
            outcomes.insert(name.to_owned(), outcome);
        }
    }
    (outcomes, outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_report_is_parsed() {
        let text = "\nrunning 4 tests\n\
            test publish::a ... ok\n\
            test publish::b ... FAILED\n\
            test package::c ... ignored, requires nightly\n\
            test package::d ... ignored\n\n\
            failures:\n\n\
            ---- publish::b stdout ----\n\
            expected foo\n\
            test publish::z ... ok (not a result inside output)\n\n\
            failures:\n    publish::b\n\n\
            test result: FAILED. 1 passed; 1 failed; 2 ignored\n";
        let (outcomes, outputs) = parse(text);
        assert_eq!(outcomes.len(), 4);
        assert_eq!(outcomes["publish::a"], Outcome::Passed);
        assert_eq!(outcomes["publish::b"], Outcome::Failed);
        assert_eq!(
            outcomes["package::c"],
            Outcome::Ignored("requires nightly".into())
        );
        assert_eq!(outcomes["package::d"], Outcome::Ignored(String::new()));
        assert!(outputs["publish::b"].starts_with("expected foo\n"));
    }
}
