//! What the user is told around the work: the plan before it (each crate, its registry state,
//! the action), and the summary after it, whose result decides the exit code.

use std::time::Duration;

use anyhow::bail;
use gantry_package::PackagedCrate;
use gantry_package::Reporter;

use gantry_publish::plan::RegistryState;
use gantry_publish::schedule::Outcome;

use super::events::Events;
use crate::shell::Shell;

/// Prints each crate's registry state and what will happen to it, and the `plan` event.
pub(super) fn show_plan(
    crates: &[PackagedCrate],
    states: &[RegistryState],
    registry: &str,
    shell: &Shell,
    events: &Events,
) {
    let mut json = Vec::new();
    for (c, s) in crates.iter().zip(states) {
        let line = format!(
            "{} v{} ({}): {}",
            c.name,
            c.version,
            s.describe(),
            s.action()
        );
        // A skip changes what cargo would do (it would fail on the existing version), so it is
        // always said; the rest of the plan is what cargo does anyway, said with `-v` and in JSON.
        match s {
            RegistryState::Identical => shell.status("Skipping", &line),
            _ if shell.verbose() => shell.status("Planned", &line),
            _ => {}
        }
        json.push(serde_json::json!({
            "crate": c.name,
            "version": c.version,
            "checksum": c.checksum,
            "state": s.describe(),
            "action": s.action(),
        }));
        if *s == RegistryState::Identical {
            events.step(
                "skipped",
                &c.name,
                &c.version,
                Some(&c.checksum),
                Duration::ZERO,
            );
        }
    }
    events.plan(registry, json);
}

/// The final summary; `Ok` only when every planned crate is in the index with our checksum.
pub(super) fn report(
    crates: &[PackagedCrate],
    states: &[RegistryState],
    to_upload: &[usize],
    outcomes: &[Outcome],
    shell: &Shell,
    events: &Events,
    wait: Duration,
) -> anyhow::Result<()> {
    let id = |i: usize| format!("{} v{}", crates[i].name, crates[i].version);
    let skipped: Vec<String> = (0..crates.len())
        .filter(|&i| states[i] == RegistryState::Identical)
        .map(id)
        .collect();
    let mut published = Vec::new();
    let mut unconfirmed = Vec::new();
    let mut timed_out = Vec::new();
    let mut failed = Vec::new();
    let mut not_attempted = Vec::new();
    let mut dry = 0;
    for (&i, o) in to_upload.iter().zip(outcomes) {
        match o {
            Outcome::Confirmed => published.push(id(i)),
            Outcome::Uploaded => unconfirmed.push(id(i)),
            Outcome::TimedOut => timed_out.push(id(i)),
            Outcome::Failed(why) => failed.push((id(i), why.clone())),
            Outcome::NotAttempted(why) => not_attempted.push((id(i), why.clone())),
            Outcome::DryRun => dry += 1,
        }
    }
    let ok = failed.is_empty() && not_attempted.is_empty() && timed_out.is_empty();
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    events.summary(serde_json::json!({
        "success": ok,
        "published": published,
        "uploaded_not_waited_for": unconfirmed,
        "already_published": skipped,
        "timed_out": timed_out,
        "failed": names(&failed),
        "not_attempted": names(&not_attempted),
        "dry_run": dry,
    }));
    // Where every crate was published as planned, cargo's own lines already said so; for one
    // crate, so does the error (cargo's words, nothing to add).
    if !skipped.is_empty() || (crates.len() > 1 && (!ok || shell.verbose())) {
        let mut parts = Vec::new();
        for (n, word) in [
            (published.len(), "published"),
            (unconfirmed.len(), "uploaded (not waited for)"),
            (skipped.len(), "already published (identical)"),
            (dry, "checked (dry run)"),
            (timed_out.len(), "not yet visible in the index"),
            (failed.len(), "failed"),
            (not_attempted.len(), "not attempted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        shell.status("Summary", &parts.join(", "));
    }
    if ok {
        return Ok(());
    }
    if let ([(_, why)], [], []) = (&failed[..], &not_attempted[..], &timed_out[..]) {
        if crates.len() == 1 {
            // One crate: a re-run is the obvious next step, and cargo's error stands alone.
            bail!("{why}");
        }
        bail!(
            "{why}\n  = help: run the same command again once the cause is fixed; crates already published identically are skipped"
        );
    }
    let mut lines = Vec::new();
    for (n, why) in &failed {
        lines.push(format!("  failed: {n}: {why}"));
    }
    for n in &timed_out {
        lines.push(format!(
            "  not yet visible in the index after {}s: {n}",
            wait.as_secs()
        ));
    }
    for (n, why) in &not_attempted {
        lines.push(format!("  not attempted: {n}: {why}"));
    }
    let missing = failed.len() + timed_out.len() + not_attempted.len();
    bail!(
        "{missing} of {} planned crate{} {} not published\n{}\n  = help: run the same command again to finish: crates already in the index with the same checksum are skipped",
        crates.len(),
        if crates.len() == 1 { "" } else { "s" },
        if missing == 1 { "was" } else { "were" },
        lines.join("\n")
    )
}
