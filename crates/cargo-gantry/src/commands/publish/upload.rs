//! Uploading in dependency waves and waiting for the index (spec §7, §9). Retries are safe: before
//! sending a crate again after an unknown outcome (no answer, 5xx) we ask the index whether it
//! already lists the version with our checksum, so a retry never publishes twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use gantry_client::webapi::{ApiError, WebApi};
use gantry_package::package::{PackagedCrate, pkg_id};
use gantry_package::report::Reporter;
use gantry_package::workspace::Workspace;
use gantry_protocol::PublishResponse;

use super::events::Events;
use super::join_list;
use crate::metadata::{self, RegistryContext};
use crate::remote::Remote;
use crate::shell::Shell;

/// How often one crate's upload is attempted before giving up.
const MAX_ATTEMPTS: u32 = 5;
/// Upper bound on a single `Retry-After` wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
const POLL_INTERVAL: Duration = Duration::from_secs(1);

pub struct Plan<'a> {
    pub crates: &'a [PackagedCrate],
    /// (a, b): member a depends on member b.
    pub edges: &'a [(usize, usize)],
    pub remote: &'a Remote,
    pub api: &'a WebApi,
    pub api_url: &'a str,
    pub dry_run: bool,
    pub wait: Duration,
    pub reg: RegistryContext<'a>,
    pub ws: &'a Workspace,
}

fn label(c: &PackagedCrate) -> String {
    format!("{} v{}", c.name, c.version)
}

pub fn run(plan: &Plan, shell: &Shell, events: &Events) -> anyhow::Result<()> {
    let registry = plan.remote.target.display().to_owned();
    let mut pending: Vec<usize> = (0..plan.crates.len()).collect();
    let mut confirmed: BTreeSet<usize> = BTreeSet::new(); // member indices
    let mut unconfirmed: Vec<usize> = Vec::new(); // crate indices
    let mut timed_out = false;
    while !pending.is_empty() || !unconfirmed.is_empty() {
        let (mut ready, rest): (Vec<usize>, Vec<usize>) = pending.iter().partition(|&&i| {
            let member = plan.crates[i].member;
            plan.edges
                .iter()
                .filter(|(a, _)| *a == member)
                .all(|(_, b)| confirmed.contains(b) || !plan.crates.iter().any(|c| c.member == *b))
        });
        ready.sort_by(|&a, &b| {
            let (ca, cb) = (&plan.crates[a], &plan.crates[b]);
            (&ca.name, &ca.version).cmp(&(&cb.name, &cb.version))
        });
        pending = rest;
        if ready.is_empty() && unconfirmed.is_empty() {
            bail!("cannot order the remaining crates for publishing (dependency cycle)");
        }
        for &i in &ready {
            let c = &plan.crates[i];
            shell.status("Uploading", &pkg_id(&plan.ws.members[c.member]));
            if plan.dry_run {
                shell.warning("aborting upload due to dry run");
                confirmed.insert(c.member);
                continue;
            }
            let started = Instant::now();
            let left: Vec<usize> = pending.clone();
            upload_one(plan, c, shell, events).map_err(|e| with_remaining(e, plan, &left))?;
            shell.status(
                "Uploaded",
                &format!("{} to registry `{registry}`", label(c)),
            );
            events.step(
                "uploaded",
                &c.name,
                &c.version,
                Some(&c.checksum),
                started.elapsed(),
            );
            unconfirmed.push(i);
        }
        if unconfirmed.is_empty() {
            continue;
        }
        if plan.wait.is_zero() {
            for i in unconfirmed.drain(..) {
                confirmed.insert(plan.crates[i].member);
            }
            continue;
        }
        match wait_for_any(plan, &unconfirmed, pending.len(), &registry, shell)? {
            Some(visible) => {
                let names: Vec<String> = visible.iter().map(|&i| label(&plan.crates[i])).collect();
                shell.status(
                    "Published",
                    &format!("{} at registry `{registry}`", join_list(&names, "and")),
                );
                for &i in &visible {
                    let c = &plan.crates[i];
                    events.step(
                        "confirmed",
                        &c.name,
                        &c.version,
                        Some(&c.checksum),
                        Duration::ZERO,
                    );
                    confirmed.insert(c.member);
                }
                unconfirmed.retain(|i| !visible.contains(i));
            }
            None => {
                let mut names: Vec<String> = unconfirmed
                    .iter()
                    .map(|&i| label(&plan.crates[i]))
                    .collect();
                names.sort();
                let msg = format!(
                    "timed out waiting for {} to be available in registry `{registry}`\n  |\n  = note: the registry may have a backlog that is delaying making the crate available. The crate should be available soon.",
                    join_list(&names, "or")
                );
                shell.warning(&msg);
                events.warning(None, &msg);
                if !pending.is_empty() {
                    bail!(
                        "unable to publish {} due to a timeout while waiting for published dependencies to be available.",
                        join_list(&names, "and")
                    );
                }
                unconfirmed.clear();
                timed_out = true;
            }
        }
    }
    if timed_out {
        // Cargo exits 0 here; a publish nobody can see yet is not a success for scripts.
        bail!(
            "the upload succeeded but the index did not show it within {} seconds",
            plan.wait.as_secs()
        );
    }
    Ok(())
}

fn with_remaining(e: anyhow::Error, plan: &Plan, left: &[usize]) -> anyhow::Error {
    if left.is_empty() {
        return e;
    }
    let ids: Vec<String> = left
        .iter()
        .map(|&i| format!("  {}", pkg_id(&plan.ws.members[plan.crates[i].member])))
        .collect();
    e.context(format!(
        "\n\nnote: the following crates have not been published yet:\n{}",
        ids.join("\n")
    ))
}

fn upload_one(
    plan: &Plan,
    c: &PackagedCrate,
    shell: &Shell,
    events: &Events,
) -> anyhow::Result<()> {
    let failed = || {
        format!(
            "failed to publish {} v{} to registry at {}",
            c.name, c.version, plan.api_url
        )
    };
    let krate = metadata::new_crate(&c.tmp_path, &c.manifest, &c.name, &c.version, &plan.reg)
        .with_context(failed)?;
    let json = serde_json::to_vec(&krate).context("failed to serialise the publish metadata")?;
    let tarball = std::fs::read(&c.tmp_path)
        .with_context(|| format!("failed to read `{}`", c.tmp_path.display()))?;
    let mut attempt = 0;
    let response = loop {
        attempt += 1;
        let result = plan
            .remote
            .runtime
            .block_on(plan.api.publish(&json, &tarball));
        let err = match result {
            Ok(r) => break r,
            Err(e) => e,
        };
        // After an earlier unknown outcome, a refusal may just mean our first try landed.
        if attempt > 1 && already_there(plan, c)? {
            shell.note(&format!(
                "{} is in the index with this checksum; an earlier attempt succeeded",
                label(c)
            ));
            break PublishResponse::default();
        }
        let retryable = err.status() == Some(429) || err.outcome_unknown();
        if !retryable || attempt >= MAX_ATTEMPTS {
            return Err(anyhow::Error::new(err).context(failed()));
        }
        if err.outcome_unknown() && already_there(plan, c)? {
            shell.note(&format!(
                "the registry answered with an error, but {} is in the index with this checksum",
                label(c)
            ));
            break PublishResponse::default();
        }
        let delay = delay_for(&err, attempt);
        let why = if err.status() == Some(429) {
            "the registry is rate limiting uploads".to_owned()
        } else {
            format!("upload failed ({})", first_line(&err))
        };
        let msg = format!(
            "{why}; retrying {} in {}s (attempt {} of {MAX_ATTEMPTS})",
            label(c),
            delay.as_secs().max(1),
            attempt + 1
        );
        shell.status("Waiting", &msg);
        events.warning(Some((&c.name, &c.version)), &msg);
        std::thread::sleep(delay);
    };
    for w in warnings(&response) {
        shell.warning(&w);
        events.warning(Some((&c.name, &c.version)), &w);
    }
    Ok(())
}

fn first_line(e: &ApiError) -> String {
    e.to_string().lines().next().unwrap_or("").to_owned()
}

fn delay_for(err: &ApiError, attempt: u32) -> Duration {
    if let Some(d) = err.retry_after() {
        return d.min(MAX_RETRY_AFTER).max(Duration::from_millis(100));
    }
    Duration::from_secs(1 << (attempt - 1).min(4))
}

/// Does the index list this exact version with our checksum?
fn already_there(plan: &Plan, c: &PackagedCrate) -> anyhow::Result<bool> {
    let entry = plan
        .remote
        .runtime
        .block_on(plan.remote.index.find(&c.name, &c.version))?;
    match entry {
        Some(e) if e.cksum == c.checksum => Ok(true),
        Some(_) => Err(anyhow!(
            "{} is in the index with a different checksum; it was published from other sources",
            label(c)
        )),
        None => Ok(false),
    }
}

fn warnings(r: &PublishResponse) -> Vec<String> {
    let mut out = Vec::new();
    let w = &r.warnings;
    if !w.invalid_categories.is_empty() {
        out.push(format!(
            "the following are not valid category slugs and were ignored: {}\n  |\n  = help: please see <https://crates.io/category_slugs> for the list of all category slugs",
            w.invalid_categories.join(", ")
        ));
    }
    if !w.invalid_badges.is_empty() {
        out.push(format!(
            "the following are not valid badges and were ignored: {}\n  |\n  = note: either the badge type specified is unknown or a required attribute is missing\n  = help: please see <https://doc.rust-lang.org/cargo/reference/manifest.html#package-metadata> for valid badge types and their required attributes",
            w.invalid_badges.join(", ")
        ));
    }
    out.extend(w.other.iter().cloned());
    out
}

/// Polls until at least one of `waiting` shows up with our checksum; None on timeout.
fn wait_for_any(
    plan: &Plan,
    waiting: &[usize],
    remaining: usize,
    registry: &str,
    shell: &Shell,
) -> anyhow::Result<Option<Vec<usize>>> {
    let mut names: Vec<String> = waiting.iter().map(|&i| label(&plan.crates[i])).collect();
    names.sort();
    let list = join_list(&names, "or");
    if remaining == 0 {
        shell.note(&format!(
            "waiting for {list} to be available at registry `{registry}`\nhelp: you may press ctrl-c to skip waiting; the crate should be available shortly"
        ));
    } else {
        shell.note(&format!(
            "waiting for {list} to be available at registry `{registry}`.\n      {remaining} remaining crate{} to be published",
            if remaining == 1 { "" } else { "s" }
        ));
    }
    let deadline = Instant::now() + plan.wait;
    loop {
        let mut visible = Vec::new();
        for &i in waiting {
            let c = &plan.crates[i];
            // A transient index error is just another poll that saw nothing.
            if let Ok(Some(e)) = plan
                .remote
                .runtime
                .block_on(plan.remote.index.find(&c.name, &c.version))
                && e.cksum == c.checksum
            {
                visible.push(i);
            }
        }
        if !visible.is_empty() {
            return Ok(Some(visible));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())));
    }
}
