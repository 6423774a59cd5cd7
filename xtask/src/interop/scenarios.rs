//! What `cargo xtask interop kellnr` compares: the same steps, in the same order, by the real cargo
//! against one kellnr and by cargo gantry against another, each with its own `CARGO_HOME` and
//! packages; exit codes and stderr (ports and paths normalised) side by side.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::kellnr::Kellnr;
use crate::common::{Tool, Tools};

/// Where a step runs.
#[derive(Clone, Copy)]
enum Dir {
    /// A crate with description and license.
    Solo,
    /// Another one, only ever dry-run.
    DryRun,
    /// A workspace `a → b → c` (path dependencies with versions, from registry `kellnr`).
    Chain,
    /// A crate without license or description (what private registries accept).
    NoLicense,
    /// The side's scratch dir (yank, owner, login).
    Scratch,
}

pub(super) struct Step {
    pub name: &'static str,
    dir: Dir,
    args: &'static [&'static str],
    /// The token on stdin (login) instead of in the environment.
    login: bool,
}

const fn step(name: &'static str, dir: Dir, args: &'static [&'static str]) -> Step {
    Step {
        name,
        dir,
        args,
        login: false,
    }
}

pub(super) const STEPS: &[Step] = &[
    step(
        "publish single crate",
        Dir::Solo,
        &["publish", "--registry", "kellnr", "--no-verify"],
    ),
    step(
        "re-run single crate",
        Dir::Solo,
        &["publish", "--registry", "kellnr", "--no-verify"],
    ),
    step(
        "dry-run",
        Dir::DryRun,
        &["publish", "--registry", "kellnr", "--dry-run"],
    ),
    step(
        "publish 3-crate chain",
        Dir::Chain,
        &["publish", "--workspace", "--registry", "kellnr"],
    ),
    step(
        "re-run 3-crate chain",
        Dir::Chain,
        &["publish", "--workspace", "--registry", "kellnr"],
    ),
    step(
        "yank",
        Dir::Scratch,
        &["yank", "solo@0.1.0", "--registry", "kellnr"],
    ),
    step(
        "unyank",
        Dir::Scratch,
        &["yank", "--undo", "solo@0.1.0", "--registry", "kellnr"],
    ),
    step(
        "owner --list",
        Dir::Scratch,
        &["owner", "--list", "solo", "--registry", "kellnr"],
    ),
    step(
        "owner --add",
        Dir::Scratch,
        &["owner", "--add", "bob", "solo", "--registry", "kellnr"],
    ),
    step(
        "owner --remove",
        Dir::Scratch,
        &["owner", "--remove", "bob", "solo", "--registry", "kellnr"],
    ),
    Step {
        name: "login",
        dir: Dir::Scratch,
        args: &["login", "--registry", "kellnr"],
        login: true,
    },
    Step {
        name: "logout",
        dir: Dir::Scratch,
        args: &["logout", "--registry", "kellnr"],
        login: true,
    },
    step(
        "crate without license",
        Dir::NoLicense,
        &["publish", "--registry", "kellnr", "--no-verify"],
    ),
];

/// One tool's side: its kellnr, token and files.
pub(super) struct Side<'a> {
    pub tool: Tool,
    pub kellnr: &'a Kellnr,
    pub token: String,
    pub dir: PathBuf,
}

pub(super) struct Outcome {
    pub code: Option<i32>,
    pub stderr: String,
    pub stdout: String,
}

impl Side<'_> {
    /// Writes the packages and the `CARGO_HOME` this side's steps use.
    pub(super) fn prepare(&self) -> Result<(), String> {
        let w = |p: PathBuf, text: String| -> Result<(), String> {
            std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")))
                .and_then(|()| std::fs::write(&p, text))
                .map_err(|e| format!("writing {}: {e}", p.display()))
        };
        w(
            self.dir.join("home/config.toml"),
            format!(
                "[registries.kellnr]\nindex = \"{}\"\n",
                self.kellnr.index_url()
            ),
        )?;
        let meta = "description = \"interop\"\nlicense = \"MIT\"\n";
        for (dir, name, meta) in [
            ("solo", "solo", meta),
            ("dry", "dry", meta),
            ("nolicense", "nolicense", ""),
        ] {
            w(
                self.dir.join(dir).join("Cargo.toml"),
                format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{meta}"
                ),
            )?;
            w(self.dir.join(dir).join("src/lib.rs"), String::new())?;
        }
        let ws = self.dir.join("chain");
        w(
            ws.join("Cargo.toml"),
            "[workspace]\nmembers = [\"a\", \"b\", \"c\"]\nresolver = \"2\"\n".into(),
        )?;
        for (name, dep) in [("a", Some("b")), ("b", Some("c")), ("c", None)] {
            let mut toml = format!(
                "[package]\nname = \"chain-{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{meta}"
            );
            if let Some(dep) = dep {
                toml.push_str(&format!(
                    "\n[dependencies]\nchain-{dep} = {{ path = \"../{dep}\", version = \"0.1.0\", registry = \"kellnr\" }}\n"
                ));
            }
            w(ws.join(name).join("Cargo.toml"), toml)?;
            w(ws.join(name).join("src/lib.rs"), String::new())?;
        }
        Ok(())
    }

    fn cwd(&self, dir: Dir) -> PathBuf {
        match dir {
            Dir::Solo => self.dir.join("solo"),
            Dir::DryRun => self.dir.join("dry"),
            Dir::Chain => self.dir.join("chain"),
            Dir::NoLicense => self.dir.join("nolicense"),
            Dir::Scratch => self.dir.clone(),
        }
    }

    pub(super) fn run(&self, tools: &Tools, step: &Step) -> Result<Outcome, String> {
        let mut cmd = command(tools, self.tool);
        cmd.args(step.args)
            .current_dir(self.cwd(step.dir))
            .env("CARGO_HOME", self.dir.join("home"))
            .env("CARGO_TARGET_DIR", self.dir.join("target"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if step.login {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        if !step.login {
            cmd.env("CARGO_REGISTRIES_KELLNR_TOKEN", &self.token);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("running {}: {e}", self.tool.label()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(self.token.as_bytes())
                .map_err(|e| format!("writing the token to {}: {e}", self.tool.label()))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for {}: {e}", self.tool.label()))?;
        Ok(Outcome {
            code: out.status.code(),
            stderr: self.normalize(&String::from_utf8_lossy(&out.stderr)),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        })
    }

    fn normalize(&self, text: &str) -> String {
        let mut s = text.replace(&self.kellnr.port.to_string(), "[PORT]");
        for p in [
            self.dir.clone(),
            self.dir.canonicalize().unwrap_or_default(),
        ] {
            if let Some(p) = p.to_str().filter(|p| !p.is_empty()) {
                s = s.replace(p, "[ROOT]");
            }
        }
        s.lines().map(mask_elapsed).collect::<Vec<_>>().join("\n")
            + if s.ends_with('\n') { "\n" } else { "" }
    }
}

/// `… in 0.52s` or `… in 1m 02s` (cargo's `Finished` line) as `… in [ELAPSED]`: the one part of a step's output
/// that differs from run to run whoever runs it.
fn mask_elapsed(line: &str) -> String {
    if let Some((head, tail)) = line.rsplit_once(" in ")
        && let Some(secs) = tail.strip_suffix('s')
        && secs.starts_with(|c: char| c.is_ascii_digit())
        && secs
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'm' | 'h' | ' '))
    {
        return format!("{head} in [ELAPSED]");
    }
    line.to_owned()
}

/// `cargo …` or `cargo-gantry gantry …`, without the calling cargo's variables.
fn command(tools: &Tools, tool: Tool) -> Command {
    let mut c = match tool {
        Tool::Cargo => Command::new(&tools.cargo),
        Tool::Gantry => {
            let mut c = Command::new(&tools.gantry);
            c.arg("gantry");
            c
        }
    };
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if (k.starts_with("CARGO") && k != "CARGO")
            || k.starts_with("__CARGO")
            || k.starts_with("RUSTC")
        {
            c.env_remove(k);
        }
    }
    c.env("CARGO", &tools.cargo)
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_PROGRESS_WHEN", "never");
    c
}

/// How the two outputs compare, in a few words for the table.
pub(super) fn verdict(c: &Outcome, g: &Outcome) -> &'static str {
    if c.code == g.code && c.stderr == g.stderr && c.stdout == g.stdout {
        return "identical";
    }
    let mut rest = g.stderr.lines();
    let all_there = c.stderr.lines().all(|l| rest.any(|m| m == l));
    match (c.code == g.code, all_there) {
        (true, true) => "same exit; cargo's lines all in gantry's",
        (true, false) => "same exit; output differs",
        (false, _) => "exit differs",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_times_are_masked_and_nothing_else() {
        assert_eq!(
            mask_elapsed("    Finished `dev` profile [unoptimized + debuginfo] target(s) in 0.52s"),
            "    Finished `dev` profile [unoptimized + debuginfo] target(s) in [ELAPSED]"
        );
        assert_eq!(
            mask_elapsed("    Finished `dev` profile target(s) in 1m 02s"),
            "    Finished `dev` profile target(s) in [ELAPSED]"
        );
        for kept in [
            "   Uploaded solo v0.1.0 to registry `kellnr`",
            "found in s",
            "in  s",
        ] {
            assert_eq!(mask_elapsed(kept), kept);
        }
    }

    #[test]
    fn verdicts_tell_identical_from_contained_from_different() {
        let out = |code, stderr: &str| Outcome {
            code: Some(code),
            stderr: stderr.into(),
            stdout: String::new(),
        };
        assert_eq!(verdict(&out(0, "a\nb\n"), &out(0, "a\nb\n")), "identical");
        assert_eq!(
            verdict(&out(0, "a\nb\n"), &out(0, "a\nx\nb\n")),
            "same exit; cargo's lines all in gantry's"
        );
        assert_eq!(
            verdict(&out(0, "a\nb\n"), &out(0, "b\na\n")),
            "same exit; output differs"
        );
        assert_eq!(verdict(&out(0, "a\n"), &out(101, "a\n")), "exit differs");
    }
}
