//! When each member of a multi-crate verification build was finished. Cargo verifies one crate per
//! build and closes each with `Finished `<profile>` profile [...] target(s) in <time>`; the one
//! build of [`crate::verify_all`] closes once. Cargo's JSON messages on the build's stdout
//! (`--message-format=json-render-diagnostics`, which leaves the human output on stderr exactly as
//! it is) say when each unit of each member was done, so the one closing line can be given once per
//! member, each with the time that member's last unit was done (a member with nothing to build is
//! done when the build is), in the order they were done.

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ChildStdout;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Reads the build's stdout: JSON messages are noted, anything else (a build script's output under
/// `-vv`, which cargo prints to stdout) is passed on to ours.
pub(super) struct Finishes {
    reader: JoinHandle<Vec<Option<Duration>>>,
    start: Instant,
}

impl Finishes {
    /// `members`: the directories of the crates being verified.
    pub(super) fn track(stdout: ChildStdout, members: &[PathBuf], start: Instant) -> Self {
        let members: Vec<PathBuf> = members.iter().map(|m| canonical(m)).collect();
        let reader = std::thread::spawn(move || {
            let mut done: Vec<Option<Duration>> = vec![None; members.len()];
            let mut out = io::stdout();
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                match serde_json::from_slice::<serde_json::Value>(&line) {
                    Ok(msg) if msg.get("reason").is_some() => {
                        let dir = msg
                            .get("manifest_path")
                            .and_then(|m| m.as_str())
                            .and_then(|m| Path::new(m).parent())
                            .map(canonical);
                        if let Some(i) = dir.and_then(|d| members.iter().position(|m| *m == d)) {
                            done[i] = Some(start.elapsed());
                        }
                    }
                    _ => {
                        let _ = out.write_all(&line);
                        let _ = out.write_all(b"\n");
                    }
                }
            }
            done
        });
        Finishes { reader, start }
    }

    /// Waits for the build's stdout to end (a build that failed has no closing line to repeat).
    pub(super) fn wait(self) {
        let _ = self.reader.join();
    }

    /// Cargo's closing `finished` line (as it printed it, colours included) once per member, each
    /// ending in the time that member was done; `None` if the reader failed.
    pub(super) fn lines(self, finished: &[u8]) -> Option<Vec<Vec<u8>>> {
        let whole = self.start.elapsed();
        let mut times: Vec<Duration> = self
            .reader
            .join()
            .ok()?
            .into_iter()
            .map(|t| t.unwrap_or(whole))
            .collect();
        times.sort();
        let cut = finished.windows(4).rposition(|w| w == b" in ")?;
        Some(
            times
                .into_iter()
                .map(|t| {
                    let mut line = finished[..cut + 4].to_vec();
                    line.extend_from_slice(elapsed(t).as_bytes());
                    line
                })
                .collect(),
        )
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

/// A duration as cargo shows build times: `0.52s`, `1m 05s`.
pub(super) fn elapsed(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}.{:02}s", secs, d.subsec_nanos() / 10_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_cargo_writes_them() {
        assert_eq!(elapsed(Duration::from_millis(523)), "0.52s");
        assert_eq!(elapsed(Duration::from_millis(12_070)), "12.07s");
        assert_eq!(elapsed(Duration::from_secs(65)), "1m 05s");
    }
}
