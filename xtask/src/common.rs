//! Running the two packagers on a tree and comparing what they produced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../crates/cargo-gantry/tests/it/support/archive.rs"]
#[allow(dead_code)]
pub(crate) mod archive;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tool {
    Cargo,
    Gantry,
}

impl Tool {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Tool::Cargo => "cargo",
            Tool::Gantry => "gantry",
        }
    }
}

/// Where the two tools come from.
pub(crate) struct Tools {
    pub cargo: PathBuf,
    pub gantry: PathBuf,
    /// `GANTRY_DIFF_SELF_CHECK=1`: the "gantry" side is cargo again (checks the harness).
    pub self_check: bool,
}

impl Tools {
    /// `$CARGO` (set by `cargo run`) for the reference; gantry from `--gantry PATH`,
    /// `$GANTRY_BIN`, or built here in release mode.
    pub(crate) fn locate(gantry: Option<PathBuf>, repo: &Path) -> Result<Tools, String> {
        let cargo = std::env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| "cargo".into());
        let self_check =
            std::env::var_os("GANTRY_DIFF_SELF_CHECK").is_some_and(|v| !v.is_empty() && v != "0");
        if self_check {
            eprintln!("self-check: comparing cargo against cargo");
            return Ok(Tools {
                gantry: cargo.clone(),
                cargo,
                self_check,
            });
        }
        let gantry = match gantry.or_else(|| std::env::var_os("GANTRY_BIN").map(PathBuf::from)) {
            Some(p) => p,
            None => {
                eprintln!("building cargo-gantry (release)…");
                let st = Command::new(&cargo)
                    .args(["build", "--release", "-p", "cargo-gantry"])
                    .current_dir(repo)
                    .status()
                    .map_err(|e| format!("cargo build: {e}"))?;
                if !st.success() {
                    return Err("building cargo-gantry failed".into());
                }
                repo.join("target/release/cargo-gantry")
            }
        };
        Ok(Tools {
            cargo,
            gantry,
            self_check,
        })
    }

    pub(crate) fn command(&self, tool: Tool) -> Command {
        let mut c = match tool {
            Tool::Cargo => Command::new(&self.cargo),
            Tool::Gantry if self.self_check => Command::new(&self.cargo),
            Tool::Gantry => {
                let mut c = Command::new(&self.gantry);
                c.arg("gantry");
                c
            }
        };
        c.arg("package").env("CARGO", &self.cargo);
        for (k, _) in std::env::vars_os() {
            let Some(k) = k.to_str() else { continue };
            if (k.starts_with("CARGO") && k != "CARGO" && k != "CARGO_HOME")
                || k.starts_with("__CARGO")
                || k.starts_with("RUSTC")
                || k == "RUSTFLAGS"
                || k.starts_with("GIT_")
            {
                c.env_remove(k);
            }
        }
        c.env("CARGO_TERM_COLOR", "never");
        c
    }
}

pub(crate) struct Run {
    pub code: Option<i32>,
    pub stderr: String,
    pub crates: BTreeMap<String, Vec<u8>>,
    pub elapsed: Duration,
}

/// Runs one tool with `args` in `cwd`, a fresh `<target>/package`, and the given `CARGO_HOME`.
pub(crate) fn run(
    tools: &Tools,
    tool: Tool,
    cwd: &Path,
    args: &[&str],
    home: &Path,
    target: &Path,
) -> Run {
    let _ = std::fs::remove_dir_all(target.join("package"));
    let mut cmd = tools.command(tool);
    cmd.args(args)
        .arg("--target-dir")
        .arg(target)
        .current_dir(cwd)
        .env("CARGO_HOME", home);
    let start = Instant::now();
    let out = cmd.output();
    let elapsed = start.elapsed();
    match out {
        Ok(out) => Run {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            crates: read_crates(&target.join("package")),
            elapsed,
        },
        Err(e) => Run {
            code: None,
            stderr: format!("failed to spawn {}: {e}", tool.label()),
            crates: BTreeMap::new(),
            elapsed,
        },
    }
}

fn read_crates(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".crate")
                && let Ok(b) = std::fs::read(e.path())
            {
                out.insert(name, b);
            }
        }
    }
    out
}

/// Verdict of one comparison.
pub(crate) enum Verdict {
    Identical(usize),
    BothFailed(String),
    Mismatch(String),
}

pub(crate) fn judge(c: &Run, g: &Run) -> Verdict {
    if c.code != g.code {
        return Verdict::Mismatch(format!(
            "exit code cargo {:?} gantry {:?}: {}",
            c.code,
            g.code,
            first_error(if c.code == Some(0) {
                &g.stderr
            } else {
                &c.stderr
            })
        ));
    }
    if c.code != Some(0) {
        return if first_error(&c.stderr) == first_error(&g.stderr) {
            Verdict::BothFailed(first_error(&c.stderr))
        } else {
            Verdict::Mismatch(format!(
                "both failed, differently: cargo `{}` gantry `{}`",
                first_error(&c.stderr),
                first_error(&g.stderr)
            ))
        };
    }
    if c.crates.keys().ne(g.crates.keys()) {
        return Verdict::Mismatch(format!(
            ".crate files cargo {:?} gantry {:?}",
            c.crates.keys().collect::<Vec<_>>(),
            g.crates.keys().collect::<Vec<_>>()
        ));
    }
    for (name, cb) in &c.crates {
        if let Some(why) = archive::explain_difference(cb, &g.crates[name]) {
            let first = why.lines().next().unwrap_or("").to_string();
            return Verdict::Mismatch(format!("{name}: {first}"));
        }
    }
    Verdict::Identical(c.crates.len())
}

/// The `error:` line plus its innermost cause, shortened to one line.
pub(crate) fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let first = lines.iter().position(|l| l.starts_with("error"));
    let mut s = match first {
        Some(i) => {
            let mut s = lines[i].to_string();
            if let Some(cause) = lines[i + 1..]
                .iter()
                .rev()
                .find(|l| l.starts_with("  ") && !l.trim_start().starts_with("Caused by"))
            {
                s.push_str(" … ");
                s.push_str(cause.trim());
            }
            s
        }
        None => lines.last().copied().unwrap_or("").to_string(),
    };
    if s.len() > 240 {
        let mut cut = 240;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// `git init` + add + commit with a fixed identity and dates (deterministic commit ids).
pub(crate) fn git_commit_all(dir: &Path) -> Result<(), String> {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"][..],
        &["commit", "-q", "--allow-empty", "-m", "import"][..],
    ] {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00+00:00")
            .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00+00:00")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .map_err(|e| format!("git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    if v.is_empty() {
        Duration::ZERO
    } else {
        v[v.len() / 2]
    }
}
