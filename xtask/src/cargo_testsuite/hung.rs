//! A per-test time limit for a suite that runs all its tests in one process: libtest says when a
//! test "has been running for over 60 seconds"; once such a test passes the limit, the commands it
//! started (found by the `HOME` cargo-test-support gives them, `<test root>/home`) are killed, so
//! the test fails with their output instead of holding up the whole run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// libtest's notice comes this long after a test started.
const NOTICE_AFTER: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(super) struct Hung {
    /// Tests libtest reported as long-running, with when it did.
    noticed: Mutex<BTreeMap<String, Instant>>,
    killed: Mutex<BTreeSet<String>>,
}

impl Hung {
    /// Reads one line of libtest's output.
    pub(super) fn observe(&self, line: &str) {
        let running = line
            .strip_prefix("test ")
            .and_then(|l| l.split_once(" has been running for over"));
        if let Some((name, _)) = running {
            lock(&self.noticed).insert(name.to_owned(), Instant::now());
        } else if let Some((name, _)) = line
            .strip_prefix("test ")
            .and_then(|l| l.split_once(" ... "))
        {
            lock(&self.noticed).remove(name);
        }
    }

    /// Kills the commands of every test that has run longer than `limit`.
    pub(super) fn reap(&self, limit: Duration) {
        let grace = limit.saturating_sub(NOTICE_AFTER);
        let overdue: Vec<String> = lock(&self.noticed)
            .iter()
            .filter(|(_, at)| at.elapsed() >= grace)
            .map(|(n, _)| n.clone())
            .collect();
        for name in overdue {
            let home = format!("/cit/testsuite/{}/home", name.replace("::", "/"));
            let pids = processes_with_env(|env| {
                env.split('\0')
                    .filter_map(|kv| kv.strip_prefix("HOME="))
                    .any(|h| h.ends_with(&home))
            });
            if !pids.is_empty() {
                eprintln!("   {name}: over the {limit:?} per-test limit, killing {pids:?}");
                for pid in pids {
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
                lock(&self.killed).insert(name.clone());
            }
            // Look again after another full limit if it still does not finish.
            lock(&self.noticed).insert(name, Instant::now() + NOTICE_AFTER);
        }
    }

    pub(super) fn killed(&self) -> BTreeSet<String> {
        lock(&self.killed).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pids whose environment (`/proc/<pid>/environ`, NUL-separated) satisfies `pred`.
fn processes_with_env(pred: impl Fn(&str) -> bool) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| pred(&String::from_utf8_lossy(&env)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_running_tests_are_tracked_until_they_finish() {
        let hung = Hung::default();
        hung.observe("test publish::slow has been running for over 60 seconds");
        hung.observe("test publish::other has been running for over 60 seconds");
        hung.observe("test publish::other ... ok");
        let noticed: Vec<String> = lock(&hung.noticed).keys().cloned().collect();
        assert_eq!(noticed, ["publish::slow"]);
        // Nothing in /proc belongs to this made-up test: nothing to kill.
        hung.reap(Duration::ZERO);
        assert!(hung.killed().is_empty());
    }
}
