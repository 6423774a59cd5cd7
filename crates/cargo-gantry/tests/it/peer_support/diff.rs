//! Running one command with the real cargo and with cargo gantry against the same stub, and
//! comparing what they said.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use super::{
    PeerStub, Tool, bare_package, home, normalized_stderr, text, without_gantry_additions,
};

/// What one tool did, stderr normalised.
pub struct Run {
    pub tool: Tool,
    pub out: Output,
    pub stderr: String,
}

/// Runs `args` with each tool in its own scratch dir, in a package without description or license,
/// with its own `CARGO_HOME` (registry `registry` at `stub`, plus `config`); the stub is reset
/// before each run, and `stdin` (when given) is piped in.
pub fn both(
    scratch: &Path,
    stub: &PeerStub,
    registry: &str,
    config: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Vec<Run> {
    Tool::BOTH
        .iter()
        .map(|&tool| {
            stub.reset();
            let dir = scratch.join(tool.label());
            let pkg = bare_package(&dir, "bare");
            let home = home(&dir.join("home"), Some((registry, stub)), config);
            let mut cmd = tool.command(args[0]);
            cmd.args(&args[1..])
                .current_dir(&pkg)
                .env("CARGO_HOME", &home)
                .env("CARGO_TARGET_DIR", dir.join("target"));
            for (k, v) in env {
                cmd.env(k, v);
            }
            let out = match stdin {
                None => cmd.output().unwrap(),
                Some(input) => {
                    let mut child = cmd
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    child
                        .stdin
                        .take()
                        .unwrap()
                        .write_all(input.as_bytes())
                        .unwrap();
                    child.wait_with_output().unwrap()
                }
            };
            let stderr = normalized_stderr(&out, scratch, Some(stub));
            Run { tool, out, stderr }
        })
        .collect()
}

pub fn assert_same(runs: &[Run]) {
    let (c, g) = (&runs[0], &runs[1]);
    assert_eq!(
        (c.out.status.code(), &c.stderr),
        (g.out.status.code(), &g.stderr),
        "cargo and gantry differ\n--- cargo\n{}\n--- gantry\n{}",
        text(&c.out),
        text(&g.out)
    );
    assert_eq!(c.out.stdout, g.out.stdout, "stdout differs");
}

/// Every line of cargo's stderr appears in gantry's, in the same order (gantry adds its plan and
/// summary lines around them).
pub fn assert_cargo_lines_in_order(runs: &[Run]) {
    let (c, g) = (&runs[0], &runs[1]);
    let gantry = without_gantry_additions(&g.stderr);
    let mut rest = gantry.lines();
    for line in c.stderr.lines() {
        assert!(
            rest.any(|l| l == line),
            "cargo's line {line:?} is missing (or out of order) in gantry's stderr\n--- cargo\n{}\n--- gantry\n{}",
            c.stderr,
            g.stderr
        );
    }
}
