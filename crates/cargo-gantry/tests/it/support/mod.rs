//! Differential harness: runs `cargo package` and `cargo-gantry gantry package` on the same tree
//! and demands identical outcomes (exit code, `.crate` bytes, stdout, normalised stderr).
//!
//! Environment knobs:
//! * `GANTRY_DIFF_SELF_CHECK=1` — the second tool is cargo again (checks the harness and the
//!   fixtures' determinism; must always pass).
//! * `GANTRY_DIFF_CARGO=/path/to/cargo` — the reference cargo (default: `$CARGO`, else `cargo`).
//! * `GANTRY_DIFF_KEEP=1` — keep the scratch directories of failing cases and print their path.
#![allow(dead_code)]

pub mod archive;
pub mod fixture;
pub mod registry;

pub use fixture::*;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_test_support::cargo::isolate;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    Cargo,
    Gantry,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Cargo => "cargo",
            Side::Gantry => "gantry",
        }
    }
}

/// How gantry is invoked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Invocation {
    /// `cargo-gantry gantry package …` (what `cargo gantry package` does).
    Subcommand,
    /// `cargo-gantry package …`.
    Direct,
    /// `cargo gantry package …` through cargo's external-subcommand lookup (the binary's
    /// directory is put first on `PATH`).
    ViaCargo,
}

pub fn self_check() -> bool {
    std::env::var_os("GANTRY_DIFF_SELF_CHECK").is_some_and(|v| !v.is_empty() && v != "0")
}

pub use gantry_test_support::cargo::reference_cargo;

pub fn gantry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-gantry"))
}

/// What one tool did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub side: Side,
    pub code: Option<i32>,
    pub stdout: String,
    /// stderr with temp paths and timings normalised.
    pub stderr: String,
    /// `.crate` files in `<target-dir>/package/`, by file name.
    pub crates: BTreeMap<String, Vec<u8>>,
    pub target_dir: PathBuf,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The `error:` block of stderr (from the first `error:` line to the end).
    pub fn error_block(&self) -> String {
        match self.stderr.find("error:") {
            Some(i) if i == 0 || self.stderr[..i].ends_with('\n') => self.stderr[i..].to_string(),
            _ => self
                .stderr
                .split_inclusive('\n')
                .skip_while(|l| !l.starts_with("error:"))
                .collect(),
        }
    }

    pub fn crate_bytes(&self, file: &str) -> &[u8] {
        self.crates.get(file).unwrap_or_else(|| {
            panic!(
                "{} produced no {file}; has {:?}",
                self.side.label(),
                self.crates.keys()
            )
        })
    }

    /// Entry paths of one produced `.crate`.
    pub fn entries(&self, file: &str) -> Vec<String> {
        archive::list(self.crate_bytes(file))
    }

    /// Content of one entry of one produced `.crate`.
    pub fn entry(&self, file: &str, path: &str) -> Vec<u8> {
        let tar = archive::gunzip(self.crate_bytes(file)).expect("gzip");
        let (entries, _) = archive::read_entries(&tar).expect("tar");
        entries
            .into_iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("no entry {path} in {file}"))
            .raw
            .data
    }
}

/// The pair of outcomes of one differential case, returned when they agree. Tests use the cargo
/// side to assert that the fixture really exercises the intended scenario.
pub struct Pair {
    pub cargo: Outcome,
    pub gantry: Outcome,
    /// Set when the source tree after gantry differs from the tree after cargo (both runs start
    /// from the same tree).
    pub tree_difference: Option<String>,
}

impl Pair {
    pub fn cargo_ok(&self) -> &Self {
        assert!(
            self.cargo.ok(),
            "cargo was expected to succeed:\n{}",
            self.cargo.stderr
        );
        self
    }
    pub fn cargo_fails_with(&self, needle: &str) -> &Self {
        assert_eq!(
            self.cargo.code,
            Some(101),
            "cargo was expected to fail:\n{}",
            self.cargo.stderr
        );
        assert!(
            self.cargo.stderr.contains(needle),
            "cargo's stderr lacks {needle:?}:\n{}",
            self.cargo.stderr
        );
        self
    }
    pub fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.cargo.stderr.contains(needle),
            "cargo's stderr lacks {needle:?}:\n{}",
            self.cargo.stderr
        );
        self
    }
    pub fn stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.cargo.stdout.contains(needle),
            "cargo's stdout lacks {needle:?}:\n{}",
            self.cargo.stdout
        );
        self
    }
    /// Asserts that cargo's `file` archive contains exactly these entries (relative to the
    /// `name-version/` prefix).
    pub fn entries_are(&self, file: &str, expected: &[&str]) -> &Self {
        let prefix = format!("{}/", file.trim_end_matches(".crate"));
        let got: Vec<String> = self
            .cargo
            .entries(file)
            .into_iter()
            .map(|p| p.strip_prefix(&prefix).map(str::to_string).unwrap_or(p))
            .collect();
        assert_eq!(
            got, expected,
            "cargo's archive {file} has unexpected entries"
        );
        self
    }
    pub fn crates_are(&self, expected: &[&str]) -> &Self {
        let got: Vec<&str> = self.cargo.crates.keys().map(String::as_str).collect();
        assert_eq!(got, expected, "cargo produced unexpected .crate files");
        self
    }
}

/// One differential case: a working directory inside a fixture and `cargo package` flags.
pub struct Case<'a> {
    fx: &'a Fixture,
    cwd: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    invocation: Invocation,
    fresh_target: bool,
}

impl<'a> Case<'a> {
    pub fn new(fx: &'a Fixture) -> Self {
        Case {
            fx,
            cwd: fx.root(),
            args: Vec::new(),
            env: Vec::new(),
            invocation: Invocation::Subcommand,
            fresh_target: false,
        }
    }

    /// Working directory relative to the fixture root.
    pub fn cwd(mut self, rel: &str) -> Self {
        self.cwd = self.fx.path(rel);
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn invocation(mut self, inv: Invocation) -> Self {
        self.invocation = inv;
        self
    }

    /// Delete both target directories before running.
    pub fn fresh_target(mut self) -> Self {
        self.fresh_target = true;
        self
    }

    fn dirs(&self, side: Side) -> (PathBuf, PathBuf) {
        let s = self.fx.scratch();
        (
            s.join(format!("home-{}", side.label())),
            s.join(format!("target-{}", side.label())),
        )
    }

    pub fn run_side(&self, side: Side) -> Outcome {
        let (home, target) = self.dirs(side);
        std::fs::create_dir_all(&home).expect("mkdir home");
        if self.fresh_target {
            let _ = std::fs::remove_dir_all(&target);
        }
        let real_cargo = reference_cargo();
        let mut cmd = match side {
            Side::Gantry if !self_check() && self.invocation == Invocation::ViaCargo => {
                let bin_dir = gantry_bin().parent().expect("binary dir").to_path_buf();
                let path = std::env::var_os("PATH").unwrap_or_default();
                let mut paths = vec![bin_dir];
                paths.extend(std::env::split_paths(&path));
                let mut c = Command::new(&real_cargo);
                c.env("PATH", std::env::join_paths(paths).expect("PATH"));
                c.args(["gantry", "package"]);
                c
            }
            Side::Gantry if !self_check() => {
                let mut c = Command::new(gantry_bin());
                if self.invocation == Invocation::Subcommand {
                    c.arg("gantry");
                }
                c.arg("package");
                c
            }
            _ => {
                let mut c = Command::new(&real_cargo);
                c.arg("package");
                c
            }
        };
        cmd.args(&self.args)
            .arg("--target-dir")
            .arg(&target)
            .current_dir(&self.cwd);
        isolate(&mut cmd)
            .env("CARGO_HOME", &home)
            .env("CARGO", &real_cargo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("failed to spawn {side:?} ({:?}): {e}", cmd.get_program()));
        let stderr = normalize(
            &String::from_utf8_lossy(&out.stderr),
            &home,
            &target,
            self.fx.scratch(),
        );
        Outcome {
            side,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
            crates: read_crates(&target.join("package")),
            target_dir: target,
        }
    }

    /// Runs both tools and returns both outcomes without judging them.
    pub fn run(&self) -> Pair {
        let root = self.fx.root();
        let before = snapshot(&root);
        let cargo = self.run_side(Side::Cargo);
        let after_cargo = snapshot(&root);
        if after_cargo != before {
            restore(&before, &after_cargo);
        }
        let gantry = self.run_side(Side::Gantry);
        let after_gantry = snapshot(&root);
        let tree_difference =
            (after_cargo != after_gantry).then(|| snapshot_diff(&after_cargo, &after_gantry));
        Pair {
            cargo,
            gantry,
            tree_difference,
        }
    }

    /// Runs both tools and panics with a detailed report unless they agree.
    pub fn assert_same(&self) -> Pair {
        self.check().unwrap_or_else(|msg| panic!("{msg}"))
    }

    /// Runs both tools; `Err` carries the detailed report when they disagree.
    pub fn check(&self) -> Result<Pair, String> {
        let pair = self.run();
        let mut report = compare(&pair.cargo, &pair.gantry).unwrap_or_default();
        if let Some(changed) = &pair.tree_difference {
            let _ = writeln!(
                report,
                "the source tree after gantry differs from the tree after cargo:{changed}"
            );
        }
        if report.is_empty() {
            return Ok(pair);
        }
        let mut msg = format!(
            "cargo and {} disagree for `package {}` in {}\n{report}",
            if self_check() {
                "cargo (self-check)"
            } else {
                "gantry"
            },
            self.args.join(" "),
            self.cwd.display()
        );
        if std::env::var_os("GANTRY_DIFF_KEEP").is_some() {
            let path = keep_forever(self.fx.scratch());
            let _ = writeln!(msg, "scratch kept at {}", path.display());
        }
        Err(msg)
    }
}

/// Collects the outcome of many cases (table-driven tests) and fails once at the end with every
/// disagreement, so one early mismatch does not hide the others.
#[derive(Default)]
pub struct Checks {
    failures: Vec<String>,
    total: usize,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the case; returns the pair when both tools agree.
    pub fn run(&mut self, case: Case<'_>) -> Option<Pair> {
        self.total += 1;
        match case.check() {
            Ok(p) => Some(p),
            Err(msg) => {
                self.failures.push(msg);
                None
            }
        }
    }

    pub fn finish(self) {
        if !self.failures.is_empty() {
            panic!(
                "{} of {} cases disagree:\n\n{}",
                self.failures.len(),
                self.total,
                self.failures
                    .join("\n----------------------------------------\n")
            );
        }
    }
}

fn keep_forever(path: &Path) -> PathBuf {
    // Copy the scratch dir aside: the fixture's TempDir deletes the original.
    let dest = PathBuf::from(format!("{}-kept", path.display()));
    let _ = Command::new("cp").arg("-a").arg(path).arg(&dest).status();
    dest
}

/// Removes variables that `cargo test` (or the user's shell) sets and that would change either
/// tool's behaviour.
/// Replaces what legitimately differs between the two runs: each tool's private directories and
/// build timings. Everything else in stderr is compared verbatim.
pub fn normalize(stderr: &str, home: &Path, target: &Path, scratch: &Path) -> String {
    let mut s = stderr.to_string();
    for (p, token) in [(target, "[TARGET]"), (home, "[CARGO_HOME]")] {
        if let Ok(c) = p.canonicalize() {
            s = s.replace(c.to_str().unwrap_or("\u{0}"), token);
        }
        s = s.replace(p.to_str().unwrap_or("\u{0}"), token);
    }
    let _ = scratch;
    // Usage lines name the command as invoked: `cargo gantry package` is how gantry is run.
    let s = s.replace("Usage: cargo gantry ", "Usage: cargo ");
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with("Blocking ") {
            continue; // lock contention is timing, not behaviour
        }
        if t.starts_with("Finished ")
            && let Some(i) = line.rfind(" in ")
        {
            out.push_str(&line[..i]);
            out.push_str(" in [ELAPSED]");
            if line.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Everything in the tree except git internals: path → file bytes or symlink target.
type Snapshot = BTreeMap<PathBuf, SnapEntry>;

#[derive(PartialEq, Eq, Clone, Debug)]
enum SnapEntry {
    File(Vec<u8>),
    Link(PathBuf),
    Other,
}

fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let ft = md.file_type();
            let entry = if ft.is_dir() {
                if e.file_name() != ".git" {
                    stack.push(p);
                }
                continue;
            } else if ft.is_symlink() {
                SnapEntry::Link(std::fs::read_link(&p).unwrap_or_default())
            } else if ft.is_file() {
                SnapEntry::File(std::fs::read(&p).unwrap_or_default())
            } else {
                SnapEntry::Other
            };
            out.insert(p, entry);
        }
    }
    out
}

/// Puts regular files back as they were in `before` (cargo may legitimately write into the tree,
/// e.g. update the workspace `Cargo.lock`; gantry must then start from the same state and is
/// expected to make the same change).
fn restore(before: &Snapshot, after: &Snapshot) {
    for (p, e) in after {
        if !before.contains_key(p) && matches!(e, SnapEntry::File(_)) {
            let _ = std::fs::remove_file(p);
        }
    }
    for (p, e) in before {
        if let SnapEntry::File(bytes) = e
            && after.get(p) != Some(e)
        {
            let _ = std::fs::write(p, bytes);
        }
    }
}

fn snapshot_diff(a: &Snapshot, b: &Snapshot) -> String {
    let mut s = String::new();
    for (p, v) in b {
        match a.get(p) {
            None => {
                let _ = write!(s, "\n  only after gantry: {}", p.display());
            }
            Some(w) if w != v => {
                let _ = write!(s, "\n  differs: {}", p.display());
                if let (SnapEntry::File(x), SnapEntry::File(y)) = (w, v) {
                    let _ = write!(s, "\n{}", archive::content_diff(x, y));
                }
            }
            _ => {}
        }
    }
    for p in a.keys().filter(|p| !b.contains_key(*p)) {
        let _ = write!(s, "\n  only after cargo: {}", p.display());
    }
    s
}

fn read_crates(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".crate") && e.path().is_file() {
                out.insert(name, std::fs::read(e.path()).expect("read .crate"));
            }
        }
    }
    out
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `None` when the outcomes agree; otherwise a report of every difference found.
pub fn compare(cargo: &Outcome, gantry: &Outcome) -> Option<String> {
    let mut r = String::new();
    if cargo.code != gantry.code {
        let _ = writeln!(
            r,
            "exit code: cargo {:?}, gantry {:?}",
            cargo.code, gantry.code
        );
    }
    if !cargo.ok() {
        let (e, g) = (cargo.error_block(), gantry.error_block());
        if e != g {
            let _ = writeln!(r, "error block differs:\n{}", text_diff(&e, &g));
        }
    }
    // .crate files: same set, same bytes.
    let names_c: Vec<&String> = cargo.crates.keys().collect();
    let names_g: Vec<&String> = gantry.crates.keys().collect();
    if names_c != names_g {
        let _ = writeln!(
            r,
            ".crate files differ: cargo {names_c:?}, gantry {names_g:?}"
        );
        if !cargo.ok() && cargo.crates.is_empty() {
            let _ = writeln!(r, "gantry left .crate files behind after an error");
        }
    }
    for (name, c) in &cargo.crates {
        let Some(g) = gantry.crates.get(name) else {
            continue;
        };
        if let Some(why) = archive::explain_difference(c, g) {
            let _ = writeln!(
                r,
                "{name}: sha256 cargo {} gantry {}\n{why}",
                sha256(c),
                sha256(g)
            );
        }
    }
    if cargo.stdout != gantry.stdout {
        let _ = writeln!(
            r,
            "stdout differs:\n{}",
            text_diff(&cargo.stdout, &gantry.stdout)
        );
    }
    if cargo.stderr != gantry.stderr {
        let _ = writeln!(
            r,
            "stderr differs (normalised):\n{}",
            text_diff(&cargo.stderr, &gantry.stderr)
        );
    }
    (!r.is_empty()).then_some(r)
}

/// Shows the first differing line with context, then both texts in full.
pub fn text_diff(expected: &str, actual: &str) -> String {
    let mut s = archive::content_diff(expected.as_bytes(), actual.as_bytes());
    let _ = writeln!(s, "  --- cargo ---\n{}", indent(expected));
    let _ = writeln!(s, "  --- gantry ---\n{}", indent(actual));
    s
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  | {l}\n")).collect()
}
