//! The upload scheduler (spec §7, §9). A crate is uploaded as soon as every in-plan dependency is
//! confirmed in the index with the expected checksum; independent crates go concurrently, at most
//! [`Plan::jobs`] at a time. A 429 pauses only that crate and new uploads of the same rate-limit
//! bucket (new crate / new version, as crates.io counts them) for `Retry-After` (a wait longer
//! than the publish timeout stops the run instead, as cargo stops at any 429); everything else
//! continues. Retries are safe: after an unknown outcome (no answer, 5xx) the index is asked whether
//! it already lists our checksum before anything is sent again. The credential is fetched for each
//! upload, so a provider issuing short-lived tokens is asked afresh every time. The index is polled
//! once the uploads under way are answered, and their lines are shown as cargo's sequential uploads
//! show them ([`super::reel`]).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_client::webapi::{ApiError, PublishWarnings, WebApi};
use gantry_package::Reporter;
use gantry_package::workspace::Workspace;
use gantry_package::{PackagedCrate, pkg_id};

use super::events::Events;
use super::join_list;
use super::journal::{Journal, Step};
use super::progress::Progress;
use super::reel::{Line, Reel};
use crate::metadata::{self, RegistryContext};
use crate::remote::Remote;
use crate::shell::Shell;

/// How often one crate's upload is attempted after failures whose outcome is unknown.
const MAX_ATTEMPTS: u32 = 5;
/// How many 429 answers one crate may get before the run gives up on it (a re-run resumes).
const MAX_RATE_LIMITED: u32 = 10;
/// Upper bound on a single `Retry-After` wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// Index polls start fast (a strongly consistent registry shows a version at once) and slow down.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);
/// A git index is polled as cargo polls every index: each poll is a fetch, once a second.
const GIT_POLL: Duration = Duration::from_secs(1);
/// How long a crate uploaded by an earlier run, but never confirmed, is looked for in the index
/// before it is sent again.
const RECHECK_WAIT: Duration = Duration::from_secs(10);

pub struct Plan<'a> {
    /// The crates to upload (identical ones already left out), in packaging order.
    pub crates: &'a [PackagedCrate],
    /// Whether the registry already knows each crate's name (index `crates` order).
    pub name_known: &'a [bool],
    /// Crates uploaded by an earlier run but never confirmed: look before sending (indices).
    pub recheck: &'a BTreeSet<usize>,
    /// (a, b): member a depends on member b.
    pub edges: &'a [(usize, usize)],
    pub remote: &'a Remote,
    pub api_url: &'a str,
    /// The token for one upload.
    pub token: &'a dyn Fn(&PackagedCrate) -> anyhow::Result<String>,
    pub dry_run: bool,
    pub wait: Duration,
    pub jobs: usize,
    pub reg: RegistryContext<'a>,
    pub ws: &'a Workspace,
}

/// What became of one crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Confirmed,
    /// Uploaded; not waited for (`publish.timeout = 0`).
    Uploaded,
    /// Uploaded, but the index did not show it in time.
    TimedOut,
    Failed(String),
    NotAttempted(String),
    DryRun,
}

fn label(c: &PackagedCrate) -> String {
    format!("{} v{}", c.name, c.version)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bucket {
    NewCrate,
    NewVersion,
}

enum St {
    Waiting,
    /// Sent again no earlier than this.
    RetryAt(Instant),
    InFlight,
    /// In the registry's hands; poll the index until `deadline`.
    Unconfirmed {
        deadline: Instant,
        next_poll: Instant,
        polls: u32,
        /// An earlier run's upload being looked for: on timeout, send it.
        recheck: bool,
    },
    Done(Outcome),
}

struct Sched<'a, 'p> {
    plan: &'a Plan<'p>,
    shell: &'a Shell,
    events: &'a Events,
    journal: &'a Journal<'a>,
    progress: &'a Progress,
    registry: String,
    st: Vec<St>,
    attempts: Vec<u32>,
    limited: Vec<u32>,
    started: Vec<Option<Instant>>,
    bodies: Vec<Option<Body>>,
    paused: Vec<(Bucket, Instant)>,
    announced: Vec<usize>,
    reel: Reel,
}

type Answer = (usize, Result<PublishWarnings, ApiError>);
/// A crate's upload: metadata JSON and `.crate` bytes, built once, shared by retries.
type Body = (Arc<Vec<u8>>, Arc<Vec<u8>>);

pub fn run(
    plan: &Plan,
    shell: &Shell,
    events: &Events,
    journal: &Journal,
    progress: &Progress,
) -> Vec<Outcome> {
    if plan.dry_run {
        return plan
            .crates
            .iter()
            .map(|c| {
                shell.status("Uploading", &pkg_id(&plan.ws.members[c.member]));
                shell.warning("aborting upload due to dry run");
                Outcome::DryRun
            })
            .collect();
    }
    let n = plan.crates.len();
    let now = Instant::now();
    let st = (0..n)
        .map(|i| {
            if plan.recheck.contains(&i) {
                St::Unconfirmed {
                    deadline: now + plan.wait.min(RECHECK_WAIT),
                    next_poll: now,
                    polls: 0,
                    recheck: true,
                }
            } else {
                St::Waiting
            }
        })
        .collect();
    let mut s = Sched {
        plan,
        shell,
        events,
        journal,
        progress,
        registry: plan.remote.target.display().to_owned(),
        st,
        attempts: vec![0; n],
        limited: vec![0; n],
        started: vec![None; n],
        bodies: vec![None; n],
        paused: Vec::new(),
        announced: Vec::new(),
        reel: Reel::default(),
    };
    plan.remote.runtime.block_on(s.drive());
    progress.finish();
    s.st.into_iter()
        .map(|st| match st {
            St::Done(o) => o,
            // `drive` only returns once every crate is settled.
            _ => Outcome::NotAttempted("the scheduler stopped early".into()),
        })
        .collect()
}

impl Sched<'_, '_> {
    fn c(&self, i: usize) -> &PackagedCrate {
        &self.plan.crates[i]
    }

    fn say(&self, f: impl FnOnce(&Shell)) {
        self.progress.print(|| f(self.shell));
    }

    /// A line about upload `i`, shown in cargo's one-upload-at-a-time order (see [`Reel`]).
    fn show(&mut self, i: usize, line: Option<Line>, last: bool) {
        let lines = self.reel.line(i, line, last);
        if !lines.is_empty() {
            self.say(|sh| lines.iter().for_each(|l| l.print(sh)));
        }
    }

    /// Member indices whose crates count as available to dependents.
    fn available(&self, member: usize) -> bool {
        match self.plan.crates.iter().position(|c| c.member == member) {
            // Not in the upload list: identical-skipped or not selected; either way it is there.
            None => true,
            Some(j) => matches!(
                self.st[j],
                St::Done(Outcome::Confirmed) | St::Done(Outcome::Uploaded)
            ),
        }
    }

    fn deps(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let member = self.c(i).member;
        self.plan
            .edges
            .iter()
            .filter(move |(a, _)| *a == member)
            .map(|(_, b)| *b)
    }

    fn bucket(&self, i: usize) -> Bucket {
        if self.plan.name_known.get(i).copied().unwrap_or(false) {
            Bucket::NewVersion
        } else {
            Bucket::NewCrate
        }
    }

    fn settle(&mut self, i: usize, outcome: Outcome) {
        self.show(i, None, true);
        let c = &self.plan.crates[i];
        let took = self.started[i].map(|t| t.elapsed()).unwrap_or_default();
        match &outcome {
            Outcome::Confirmed => {
                self.events
                    .step("confirmed", &c.name, &c.version, Some(&c.checksum), took);
                self.journal
                    .record(&c.name, &c.version, Step::Confirmed, None);
            }
            Outcome::Uploaded => {}
            Outcome::TimedOut => {
                let msg = "uploaded, but not yet visible in the index";
                self.events
                    .settled_badly("timed-out", &c.name, &c.version, msg);
            }
            Outcome::Failed(why) => {
                self.events
                    .settled_badly("failed", &c.name, &c.version, why);
                self.journal
                    .record(&c.name, &c.version, Step::Failed, Some(why));
            }
            Outcome::NotAttempted(why) => {
                self.events
                    .settled_badly("not-attempted", &c.name, &c.version, why);
                self.journal
                    .record(&c.name, &c.version, Step::NotAttempted, Some(why));
            }
            Outcome::DryRun => {}
        }
        self.st[i] = St::Done(outcome);
        self.progress.settled();
    }

    /// Crates waiting on a dependency that will not arrive in this run are not attempted.
    fn give_up_on_orphans(&mut self) {
        loop {
            let mut changed = false;
            for i in 0..self.st.len() {
                if !matches!(self.st[i], St::Waiting | St::RetryAt(_)) {
                    continue;
                }
                let dead = self.deps(i).find(|&m| {
                    self.plan
                        .crates
                        .iter()
                        .position(|c| c.member == m)
                        .is_some_and(|j| {
                            matches!(
                                self.st[j],
                                St::Done(
                                    Outcome::Failed(_)
                                        | Outcome::TimedOut
                                        | Outcome::NotAttempted(_)
                                )
                            )
                        })
                });
                if let Some(m) = dead {
                    let why = format!(
                        "its dependency `{}` was not published in this run",
                        self.plan.ws.members[m].name
                    );
                    self.settle(i, Outcome::NotAttempted(why));
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    fn in_flight(&self) -> usize {
        self.st.iter().filter(|s| matches!(s, St::InFlight)).count()
    }

    fn ready(&self, now: Instant) -> Vec<usize> {
        let mut ready: Vec<usize> = (0..self.st.len())
            .filter(|&i| match self.st[i] {
                St::Waiting => true,
                St::RetryAt(at) => at <= now,
                _ => false,
            })
            .filter(|&i| self.deps(i).all(|m| self.available(m)))
            .filter(|&i| {
                let b = self.bucket(i);
                !self
                    .paused
                    .iter()
                    .any(|(pb, until)| *pb == b && *until > now)
            })
            .collect();
        ready.sort_by(|&a, &b| {
            let (ca, cb) = (self.c(a), self.c(b));
            (&ca.name, &ca.version).cmp(&(&cb.name, &cb.version))
        });
        ready
    }

    /// Builds the request body once per crate; a failure here is the crate's failure.
    fn body(&mut self, i: usize) -> Result<Body, String> {
        if let Some(b) = &self.bodies[i] {
            return Ok(b.clone());
        }
        let c = self.c(i);
        let build = || -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
            let krate = metadata::new_crate(
                &c.tmp_path,
                &c.manifest,
                &c.name,
                &c.version,
                &self.plan.reg,
            )?;
            let json = serde_json::to_vec(&krate)?;
            let tarball = std::fs::read(&c.tmp_path)
                .map_err(|e| anyhow::anyhow!("failed to read `{}`: {e}", c.tmp_path.display()))?;
            Ok((json, tarball))
        };
        let (json, tarball) =
            build().map_err(|e| format!("{:#}", e.context(self.failed_msg(i))))?;
        let pair = (Arc::new(json), Arc::new(tarball));
        self.bodies[i] = Some(pair.clone());
        Ok(pair)
    }

    fn failed_msg(&self, i: usize) -> String {
        let c = self.c(i);
        format!(
            "failed to publish {} v{} to registry at {}",
            c.name, c.version, self.plan.api_url
        )
    }

    fn start(&mut self, i: usize, set: &mut tokio::task::JoinSet<Answer>) {
        let (json, tarball) = match self.body(i) {
            Ok(b) => b,
            Err(e) => return self.settle(i, Outcome::Failed(e)),
        };
        let c = self.c(i);
        let id = pkg_id(&self.plan.ws.members[c.member]);
        self.reel.begin(i);
        // `Uploading` before the credential provider is asked for the publish token, as cargo.
        self.show(i, Some(Line::Status("Uploading", id)), false);
        let c = self.c(i);
        let token = match (self.plan.token)(c) {
            Ok(t) => t,
            Err(e) => {
                let msg = chain(self.failed_msg(i), e);
                return self.settle(i, Outcome::Failed(msg));
            }
        };
        self.started[i].get_or_insert_with(Instant::now);
        self.attempts[i] += 1;
        self.st[i] = St::InFlight;
        let api = WebApi::new(
            self.plan.remote.client.clone(),
            self.plan.api_url,
            Some(token),
        );
        set.spawn(async move { (i, api.publish(&json, &tarball).await) });
    }

    async fn our_checksum_listed(&self, i: usize) -> Result<bool, String> {
        let c = self.c(i);
        match self.plan.remote.index.find(&c.name, &c.version).await {
            Ok(Some(e)) if e.cksum == c.checksum => Ok(true),
            Ok(Some(e)) => Err(format!(
                "{} is in the index with a different checksum ({}, ours {}); it was published from other sources",
                label(c),
                e.cksum,
                c.checksum
            )),
            Ok(None) => Ok(false),
            // An index hiccup is not an answer; treat as "not seen yet".
            Err(_) => Ok(false),
        }
    }

    fn uploaded(&mut self, i: usize, response: &PublishWarnings) {
        let c = self.c(i);
        let label = label(c);
        let (name, version) = (c.name.clone(), c.version.clone());
        for w in response.messages() {
            self.events.warning(Some((&name, &version)), &w);
            self.show(i, Some(Line::Warning(w)), false);
        }
        let uploaded = format!("{label} to registry `{}`", self.registry);
        self.show(i, Some(Line::Status("Uploaded", uploaded)), true);
        let c = self.c(i);
        let took = self.started[i].map(|t| t.elapsed()).unwrap_or_default();
        self.events
            .step("uploaded", &c.name, &c.version, Some(&c.checksum), took);
        self.journal
            .record(&c.name, &c.version, Step::Uploaded, None);
        if self.plan.wait.is_zero() {
            self.settle(i, Outcome::Uploaded);
        } else {
            let now = Instant::now();
            self.st[i] = St::Unconfirmed {
                deadline: now + self.plan.wait,
                next_poll: now,
                polls: 0,
                recheck: false,
            };
        }
    }

    async fn answered(&mut self, i: usize, result: Result<PublishWarnings, ApiError>) {
        let err = match result {
            Ok(r) => return self.uploaded(i, &r),
            Err(e) => e,
        };
        let c = self.c(i).clone();
        // After an unknown outcome (now or earlier), a refusal may just mean an earlier try landed;
        // a 2xx whose body cannot be read (a proxy's HTML page) may have landed too.
        if err.outcome_unknown() || err.unreadable_success() || self.attempts[i] > 1 {
            // A failed fetch is no answer either way; the look below then says "not listed".
            let _ = self.plan.remote.index.refresh().await;
            match self.our_checksum_listed(i).await {
                Ok(true) => {
                    let note = format!(
                        "the registry answered with an error, but {} is in the index with this checksum",
                        label(&c)
                    );
                    self.show(i, Some(Line::Note(note)), false);
                    return self.uploaded(i, &PublishWarnings::default());
                }
                Ok(false) => {}
                Err(e) => return self.settle(i, Outcome::Failed(e)),
            }
        }
        let now = Instant::now();
        let rate_limited = err.status() == Some(429);
        let give_up = if rate_limited {
            self.limited[i] += 1;
            self.attempts[i] -= 1;
            // A registry that asks for a longer wait than the publish timeout (the time the user
            // agreed to wait for the index, 60 s by default) is not waited for: the run stops as
            // cargo's does, and a re-run resumes where this one stopped.
            self.limited[i] >= MAX_RATE_LIMITED
                || err.retry_after().is_some_and(|d| d > self.plan.wait)
        } else {
            !err.outcome_unknown() || self.attempts[i] >= MAX_ATTEMPTS
        };
        if give_up {
            let msg = chain(self.failed_msg(i), err);
            return self.settle(i, Outcome::Failed(msg));
        }
        let delay = delay_for(&err, self.attempts[i].max(1));
        let why = if rate_limited {
            let bucket = self.bucket(i);
            let until = now + delay;
            match self.paused.iter_mut().find(|(b, _)| *b == bucket) {
                Some((_, u)) => *u = (*u).max(until),
                None => self.paused.push((bucket, until)),
            }
            let kind = match bucket {
                Bucket::NewCrate => "new crates",
                Bucket::NewVersion => "new versions",
            };
            format!("the registry is rate limiting uploads of {kind}")
        } else {
            format!("upload failed ({})", first_line(&err))
        };
        let msg = format!(
            "{why}; retrying {} in {}s (other uploads continue)",
            label(&c),
            delay.as_secs_f64().ceil() as u64
        );
        self.events.warning(Some((&c.name, &c.version)), &msg);
        self.show(i, Some(Line::Status("Waiting", msg)), true);
        self.st[i] = St::RetryAt(now + delay);
    }

    /// Polls the index for every unconfirmed crate whose turn it is.
    async fn poll(&mut self) {
        let now = Instant::now();
        let due = self
            .st
            .iter()
            .any(|s| matches!(s, St::Unconfirmed { next_poll, .. } if *next_poll <= now));
        if due {
            // One fetch of a git index serves every crate looked for; a failed one is "not yet".
            let _ = self.plan.remote.index.refresh().await;
        }
        let mut visible = Vec::new();
        for i in 0..self.st.len() {
            let St::Unconfirmed {
                deadline,
                next_poll,
                polls,
                recheck,
            } = self.st[i]
            else {
                continue;
            };
            if next_poll > now {
                continue;
            }
            match self.our_checksum_listed(i).await {
                Ok(true) => {
                    visible.push(i);
                    continue;
                }
                Err(e) => {
                    self.settle(i, Outcome::Failed(e));
                    continue;
                }
                Ok(false) => {}
            }
            if Instant::now() < deadline {
                let step = if self.plan.remote.index.is_git() {
                    GIT_POLL
                } else {
                    (FIRST_POLL * 2u32.saturating_pow(polls.min(10))).min(MAX_POLL)
                };
                self.st[i] = St::Unconfirmed {
                    deadline,
                    next_poll: Instant::now() + step,
                    polls: polls + 1,
                    recheck,
                };
            } else if recheck {
                let note = format!(
                    "{} was uploaded by an earlier run but the index does not list it; sending it again",
                    label(self.c(i))
                );
                self.say(|sh| sh.note(&note));
                self.st[i] = St::Waiting;
            } else {
                let msg = format!(
                    "timed out waiting for {} to be available in registry `{}`\n  |\n  = note: the registry may have a backlog that is delaying making the crate available. The crate should be available soon.\n  = help: run the same command again to finish the publish once it is",
                    label(self.c(i)),
                    self.registry
                );
                self.say(|sh| sh.warning(&msg));
                self.settle(i, Outcome::TimedOut);
            }
        }
        if !visible.is_empty() {
            let mut names: Vec<String> = visible.iter().map(|&i| label(self.c(i))).collect();
            names.sort();
            let msg = format!(
                "{} at registry `{}`",
                join_list(&names, "and"),
                self.registry
            );
            self.say(|sh| sh.status("Published", &msg));
            for i in visible {
                self.settle(i, Outcome::Confirmed);
            }
        }
    }

    /// cargo's "waiting for … to be available" note, once per set of crates waited for, when the
    /// index is all that holds things up.
    fn announce_wait(&mut self) {
        let waiting: Vec<usize> = (0..self.st.len())
            .filter(|&i| matches!(self.st[i], St::Unconfirmed { .. }))
            .collect();
        if waiting.is_empty() || waiting == self.announced || self.in_flight() > 0 {
            return;
        }
        let mut names: Vec<String> = waiting.iter().map(|&i| label(self.c(i))).collect();
        names.sort();
        let list = join_list(&names, "or");
        let remaining = self
            .st
            .iter()
            .filter(|s| matches!(s, St::Waiting | St::RetryAt(_)))
            .count();
        let registry = &self.registry;
        let msg = if remaining == 0 {
            format!(
                "waiting for {list} to be available at registry `{registry}`\nhelp: you may press ctrl-c to skip waiting; the {} available shortly",
                if waiting.len() == 1 {
                    "crate should be"
                } else {
                    "crates should be"
                }
            )
        } else {
            format!(
                "waiting for {list} to be available at registry `{registry}`.\n      {remaining} remaining crate{} to be published",
                if remaining == 1 { "" } else { "s" }
            )
        };
        self.say(|sh| sh.note(&msg));
        self.announced = waiting;
    }

    /// When something next needs doing without an upload answer: a poll, a retry, a pause ending.
    fn next_wake(&self) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut at = |t: Instant| wake = Some(wake.map_or(t, |w: Instant| w.min(t)));
        for s in &self.st {
            match s {
                St::Unconfirmed { next_poll, .. } => at(*next_poll),
                St::RetryAt(t) => at(*t),
                _ => {}
            }
        }
        for (_, until) in &self.paused {
            if *until > Instant::now() {
                at(*until);
            }
        }
        wake
    }

    async fn drive(&mut self) {
        let mut set: tokio::task::JoinSet<Answer> = tokio::task::JoinSet::new();
        loop {
            self.give_up_on_orphans();
            let now = Instant::now();
            for i in self.ready(now) {
                if self.in_flight() >= self.plan.jobs.max(1) {
                    break;
                }
                self.start(i, &mut set);
            }
            let unconfirmed = self
                .st
                .iter()
                .filter(|s| matches!(s, St::Unconfirmed { .. }))
                .count();
            self.progress.message(self.in_flight(), unconfirmed);
            self.announce_wait();
            if set.is_empty() {
                match self.next_wake() {
                    Some(wake) => {
                        tokio::time::sleep_until(wake.into()).await;
                        self.poll().await;
                    }
                    None => break,
                }
                continue;
            }
            // The index is polled once the uploads under way are answered, as cargo waits for a
            // batch only after sending it: the crates found then are announced together.
            if let Some(Ok((i, result))) = set.join_next().await {
                self.answered(i, result).await;
            }
        }
        // Whatever is still waiting has a dependency cycle or a dependency that never settled.
        for i in 0..self.st.len() {
            if !matches!(self.st[i], St::Done(_)) {
                self.settle(
                    i,
                    Outcome::NotAttempted(
                        "its in-workspace dependencies could not be ordered (dependency cycle)"
                            .into(),
                    ),
                );
            }
        }
    }
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

/// `context`, then the error's causes under `Caused by:` as cargo prints a chain: the reason a
/// registry gave (a 403's detail, say) stays on its own line under the step that failed.
fn chain(context: String, err: impl Into<anyhow::Error>) -> String {
    let err = err.into().context(context);
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str("\n\nCaused by:");
        for line in cause.to_string().lines() {
            text.push('\n');
            if !line.is_empty() {
                text.push_str("  ");
                text.push_str(line);
            }
        }
    }
    text
}
