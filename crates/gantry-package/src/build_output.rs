//! Running a verification build and passing its output on as `cargo package` shows its own
//! in-process build: compiler output streams through live, while what only a separate `cargo build`
//! process prints is held back —
//!
//! - lockfile bookkeeping (`Locking 3 packages…`, `Adding …`): cargo verifies in an ephemeral
//!   workspace, which never writes or reports a lockfile;
//! - the build's closing `error: …` block when it is not a compilation failure (a resolution or
//!   download error, say): cargo prints those *under* "failed to verify package tarball" as its
//!   cause, so it is returned for the caller to nest. Compilation failures (`could not compile`,
//!   `failed to run custom build command`) cargo prints as they happen, and then only "failed to
//!   verify package tarball"; those pass through.
//!
//! Cargo builds a verified crate as a workspace of its own, where manifest warnings name no file;
//! our builds go through a real workspace (the unpacked crate's `[workspace]`, or the synthetic one
//! of a multi-crate verification), where cargo prefixes each with `<manifest path>: `. The prefix
//! is dropped for manifests under `unpacked` (`<build-dir>/package`), so the warning reads as cargo's.

mod finishes;

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use finishes::Finishes;

/// What a finished build left to report.
#[derive(Debug)]
pub(crate) struct BuildOutcome {
    pub status: ExitStatus,
    /// The closing error block (plain text, without the `error: ` prefix) when the build failed for
    /// a reason other than a compilation failure, which was shown already.
    pub error: Option<String>,
}

/// Runs `cmd`, streaming its stderr to ours as described in the module doc; `on_line` sees every
/// line (without colours) and says whether it may be shown (it returns false for a git index's
/// `Updating` line this run has shown already, see [`crate::registry_names`]).
pub(crate) fn run(
    cmd: Command,
    unpacked: &Path,
    on_line: &mut dyn FnMut(&str) -> bool,
) -> io::Result<BuildOutcome> {
    run_with(cmd, unpacked, None, on_line)
}

/// [`run`] for a build of several crates being verified (their directories are `members`): its
/// closing `Finished …` line is shown once per member, as cargo's build per crate shows it (see
/// [`finishes`]). Adds `--message-format=json-render-diagnostics` to `cmd`.
pub(crate) fn run_members(
    mut cmd: Command,
    unpacked: &Path,
    members: &[PathBuf],
    on_line: &mut dyn FnMut(&str) -> bool,
) -> io::Result<BuildOutcome> {
    cmd.arg("--message-format=json-render-diagnostics");
    run_with(cmd, unpacked, Some(members), on_line)
}

fn run_with(
    mut cmd: Command,
    unpacked: &Path,
    members: Option<&[PathBuf]>,
    on_line: &mut dyn FnMut(&str) -> bool,
) -> io::Result<BuildOutcome> {
    let unpacked = unpacked.to_string_lossy().into_owned();
    cmd.stderr(Stdio::piped());
    if members.is_some() {
        cmd.stdout(Stdio::piped());
    }
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let finishes = match (members, child.stdout.take()) {
        (Some(members), Some(stdout)) => Some(Finishes::track(stdout, members, start)),
        _ => None,
    };
    // The build's own closing line, held back while `finishes` can replace it.
    let mut finished: Option<Vec<u8>> = None;
    let mut held: Vec<Vec<u8>> = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        let mut out = io::stderr();
        for line in BufReader::new(stderr).split(b'\n') {
            let mut line = line?;
            let mut plain = strip_ansi(&String::from_utf8_lossy(&line));
            if plain.starts_with("warning: ")
                && let Some(shorter) = without_manifest_prefix(&line, unpacked.as_bytes())
            {
                line = shorter;
                plain = strip_ansi(&String::from_utf8_lossy(&line));
            }
            if !on_line(&plain) || is_lock_bookkeeping(&plain) {
                continue;
            }
            if plain.starts_with("error: ") {
                // A later error means the held one was a diagnostic, not the closing block.
                flush(&mut out, &mut held)?;
                held.push(line);
                continue;
            }
            if !held.is_empty() && continues_block(&plain) {
                held.push(line);
                continue;
            }
            flush(&mut out, &mut held)?;
            if finishes.is_some()
                && is_status_line(&plain)
                && plain.trim_start().starts_with("Finished ")
            {
                finished = Some(line);
                continue;
            }
            out.write_all(&line)?;
            out.write_all(b"\n")?;
        }
        let status = child.wait()?;
        match (finished, finishes) {
            (Some(line), finishes) => {
                let lines = finishes
                    .and_then(|f| f.lines(&line))
                    .unwrap_or_else(|| vec![line]);
                for line in lines {
                    out.write_all(&line)?;
                    out.write_all(b"\n")?;
                }
            }
            (None, Some(finishes)) => finishes.wait(),
            (None, None) => {}
        }
        if status.success() {
            flush(&mut out, &mut held)?;
            return Ok(BuildOutcome {
                status,
                error: None,
            });
        }
        let text: Vec<String> = held
            .iter()
            .map(|l| strip_ansi(&String::from_utf8_lossy(l)))
            .collect();
        let text = text.join("\n");
        let error = text
            .strip_prefix("error: ")
            .filter(|t| !shown_as_it_happens(t))
            .map(|t| t.trim_end().to_owned());
        if error.is_none() {
            flush(&mut out, &mut held)?;
        }
        return Ok(BuildOutcome { status, error });
    }
    Ok(BuildOutcome {
        status: child.wait()?,
        error: None,
    })
}

/// `line` without the `<unpacked>/…/Cargo.toml: ` that names the manifest a warning is about.
fn without_manifest_prefix(line: &[u8], unpacked: &[u8]) -> Option<Vec<u8>> {
    const TAIL: &[u8] = b"/Cargo.toml: ";
    let start = find(line, unpacked)?;
    let end = start + find(&line[start..], TAIL)? + TAIL.len();
    // `<name>-<version>` (or the synthetic workspace's dir) between them, not a sentence.
    if line[start + unpacked.len()..end - TAIL.len()].contains(&b' ') {
        return None;
    }
    let mut out = line[..start].to_vec();
    out.extend_from_slice(&line[end..]);
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn flush(out: &mut impl Write, held: &mut Vec<Vec<u8>>) -> io::Result<()> {
    for line in held.drain(..) {
        out.write_all(&line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Errors of cargo's job queue, which it prints when they happen rather than as the cause of the
/// command's error.
fn shown_as_it_happens(error: &str) -> bool {
    [
        "could not compile `",
        "failed to run custom build command for `",
    ]
    .iter()
    .any(|p| error.starts_with(p))
}

/// Lines that continue a held error block: cargo's own errors run on at column 0 (`location
/// searched: …`), so anything but a new status line or warning does.
fn continues_block(line: &str) -> bool {
    !(line.starts_with("warning") || line.starts_with("error[") || is_status_line(line))
}

/// `   Compiling foo v0.1.0 (…)`: a word right-aligned in cargo's 12 columns, then a space.
fn is_status_line(line: &str) -> bool {
    let Some((word, rest)) = line.split_at_checked(12) else {
        return false;
    };
    let word = word.trim_start();
    rest.starts_with(' ')
        && !word.is_empty()
        && !word.contains(' ')
        && word.starts_with(|c: char| c.is_ascii_uppercase())
}

/// `Locking 3 packages to latest compatible versions`, `Adding foo v1.0.0`, … but not index updates.
pub(crate) fn is_lock_bookkeeping(line: &str) -> bool {
    let mut words = line.split_whitespace();
    match words.next().unwrap_or("") {
        "Locking" => line.contains(" package"),
        "Adding" | "Updating" | "Removing" | "Downgrading" | "Unchanged" => {
            !line.trim_end().ends_with(" index")
        }
        _ => false,
    }
}

pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequences end with a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A cargo error and its `Caused by:` chain, so it nests under our own error like any other cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoError {
    message: String,
    cause: Option<Box<CargoError>>,
}

impl CargoError {
    /// Parses cargo's rendering (`message`, then per cause an empty line, `Caused by:` and the
    /// cause indented by two spaces).
    pub fn parse(text: &str) -> Self {
        let mut parts = text.split("\n\nCaused by:\n");
        let message = parts.next().unwrap_or_default().to_owned();
        let causes: Vec<String> = parts
            .map(|p| {
                p.lines()
                    .map(|l| l.strip_prefix("  ").unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect();
        let cause = causes.into_iter().rev().fold(None, |inner, message| {
            Some(Box::new(CargoError {
                message,
                cause: inner,
            }))
        });
        CargoError { message, cause }
    }
}

impl std::fmt::Display for CargoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CargoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_prefix_of_an_unpacked_crate_is_dropped() {
        let unpacked = b"/w/target/package";
        let line = b"\x1b[33mwarning\x1b[0m: /w/target/package/bar-1.2.3/Cargo.toml: only one of `license`";
        assert_eq!(
            without_manifest_prefix(line, unpacked).as_deref(),
            Some(&b"\x1b[33mwarning\x1b[0m: only one of `license`"[..])
        );
        assert_eq!(
            without_manifest_prefix(b"warning: /w/src/Cargo.toml: x", unpacked),
            None
        );
        assert_eq!(
            without_manifest_prefix(
                b"warning: see /w/target/package and a/Cargo.toml: x",
                unpacked
            ),
            None
        );
    }

    #[test]
    fn bookkeeping_and_ansi() {
        assert!(is_lock_bookkeeping(
            "     Locking 3 packages to latest compatible versions"
        ));
        assert!(is_lock_bookkeeping("    Removing old v0.1.0"));
        assert!(!is_lock_bookkeeping("    Updating crates.io index"));
        assert!(!is_lock_bookkeeping("   Compiling a v0.1.0 (/x)"));
        assert_eq!(
            strip_ansi("\u{1b}[1m\u{1b}[32m     Locking\u{1b}[0m 1 package"),
            "     Locking 1 package"
        );
    }

    #[test]
    fn cargo_error_chains_nest() {
        let e = CargoError::parse(
            "failed to run custom build command for `c v0.2.0`\n\nCaused by:\n  process didn't exit successfully\n  --- stderr\n\n  boom",
        );
        assert_eq!(
            e.to_string(),
            "failed to run custom build command for `c v0.2.0`"
        );
        let cause = std::error::Error::source(&e).unwrap();
        assert_eq!(
            cause.to_string(),
            "process didn't exit successfully\n--- stderr\n\nboom"
        );
        assert!(cause.source().is_none());
    }

    fn run_script(stderr: &str) -> BuildOutcome {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("printf '%s' '{stderr}' >&2; exit 101"));
        run(cmd, Path::new("/nowhere"), &mut |_| true).unwrap()
    }

    #[test]
    fn a_closing_resolution_error_is_held_back() {
        let outcome = run_script(
            "    Updating crates.io index\nerror: no matching package named `b` found\nlocation searched: crates.io index\n",
        );
        assert!(!outcome.status.success());
        assert_eq!(
            outcome.error.as_deref(),
            Some("no matching package named `b` found\nlocation searched: crates.io index")
        );
    }

    #[test]
    fn status_lines() {
        assert!(is_status_line("   Compiling foo v0.1.0 (/x)"));
        assert!(is_status_line("    Finished `dev` profile"));
        assert!(!is_status_line("location searched: crates.io index"));
        assert!(!is_status_line("  |"));
    }

    #[test]
    fn compilation_failures_pass_through() {
        let outcome = run_script(
            "error: expected item\n --> src/lib.rs\n\nerror: could not compile `a` (lib) due to 1 previous error\n",
        );
        assert_eq!(outcome.error, None);
    }
}
