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
use gantry_publish::journal::{Journal, Step};
use gantry_publish::schedule::{
    self, Body, Bucket, Outcome, Retry, Schedule, SlotSpec, State, UploadFailure,
};

use super::events::Events;
use super::messages::{self as msg, label};
use super::progress::Progress;
use super::reel::{Line, Reel};
use crate::metadata::{self, RegistryContext};
use crate::remote::Remote;
use crate::shell::Shell;

/// How long a crate uploaded by an earlier run, but never confirmed, is looked for in the index
/// before it is sent again.
const RECHECK_WAIT: Duration = Duration::from_secs(10);

pub(super) struct Plan<'a> {
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

impl Plan<'_> {
    /// The schedule's view of each crate: its bucket, and its dependencies among the crates to
    /// upload (a dependency not being uploaded is identical-skipped or not selected: it is there).
    fn slot_specs(&self) -> Vec<SlotSpec> {
        let slot_of = |member: usize| self.crates.iter().position(|c| c.member == member);
        self.crates
            .iter()
            .enumerate()
            .map(|(i, c)| SlotSpec {
                name: c.name.clone(),
                version: c.version.clone(),
                bucket: if self.name_known.get(i).copied().unwrap_or(false) {
                    Bucket::NewVersion
                } else {
                    Bucket::NewCrate
                },
                deps: self
                    .edges
                    .iter()
                    .filter(|(a, _)| *a == c.member)
                    .filter_map(|(_, b)| slot_of(*b))
                    .collect(),
                recheck: self.recheck.contains(&i),
            })
            .collect()
    }
}

/// Drives the uploads of one run.
struct Driver<'a, 'p> {
    plan: &'a Plan<'p>,
    shell: &'a Shell,
    events: &'a Events,
    journal: &'a Journal<'a>,
    progress: &'a Progress,
    registry: String,
    sched: Schedule,
    announced: Vec<usize>,
    reel: Reel,
    /// Which slot each running upload task is for, to settle the slot if its task panics.
    tasks: std::collections::HashMap<tokio::task::Id, usize>,
}

/// One upload's answer, for slot `.0`.
type Answer = (usize, Result<PublishWarnings, ApiError>);

pub(super) fn run(
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
                shell.warning(msg::DRY_RUN_ABORT);
                Outcome::DryRun
            })
            .collect();
    }
    let sched = Schedule::new(
        plan.slot_specs(),
        Instant::now(),
        plan.wait.min(RECHECK_WAIT),
    );
    let mut d = Driver {
        plan,
        shell,
        events,
        journal,
        progress,
        registry: plan.remote.target.display().to_owned(),
        sched,
        announced: Vec::new(),
        reel: Reel::default(),
        tasks: std::collections::HashMap::new(),
    };
    plan.remote.runtime.block_on(d.drive());
    progress.finish();
    d.sched.into_outcomes()
}

impl Driver<'_, '_> {
    fn krate(&self, i: usize) -> &PackagedCrate {
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

    fn settle(&mut self, i: usize, outcome: Outcome) {
        self.show(i, None, true);
        let c = &self.plan.crates[i];
        let took = self
            .sched
            .started(i)
            .map(|t| t.elapsed())
            .unwrap_or_default();
        match &outcome {
            Outcome::Confirmed => {
                self.events
                    .step("confirmed", &c.name, &c.version, Some(&c.checksum), took);
                self.journal
                    .record(&c.name, &c.version, Step::Confirmed, None);
            }
            Outcome::Uploaded => {}
            Outcome::TimedOut => {
                self.events
                    .settled_badly("timed-out", &c.name, &c.version, msg::TIMED_OUT_EVENT);
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
        self.sched.settle(i, outcome);
        self.progress.settled();
    }

    /// Crates waiting on a dependency that will not arrive in this run are not attempted.
    fn give_up_on_orphans(&mut self) {
        for (i, dep) in self.sched.orphans() {
            let name = &self.plan.ws.members[self.krate(dep).member].name;
            let why = msg::dependency_not_published(name);
            self.settle(i, Outcome::NotAttempted(why));
        }
    }

    /// Builds the request body once per crate; a failure here is the crate's failure.
    fn body(&mut self, i: usize) -> Result<Body, String> {
        if let Some(b) = self.sched.body(i) {
            return Ok(b.clone());
        }
        let c = self.krate(i);
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
        let body = Body {
            metadata: Arc::new(json),
            tarball: Arc::new(tarball),
        };
        self.sched.keep_body(i, body.clone());
        Ok(body)
    }

    fn failed_msg(&self, i: usize) -> String {
        msg::failed_to_publish(self.krate(i), self.plan.api_url)
    }

    fn start(&mut self, i: usize, set: &mut tokio::task::JoinSet<Answer>) {
        let body = match self.body(i) {
            Ok(b) => b,
            Err(e) => return self.settle(i, Outcome::Failed(e)),
        };
        let c = self.krate(i);
        let id = pkg_id(&self.plan.ws.members[c.member]);
        self.reel.begin(i);
        // `Uploading` before the credential provider is asked for the publish token, as cargo.
        self.show(i, Some(Line::Status("Uploading", id)), false);
        let c = self.krate(i);
        let token = match (self.plan.token)(c) {
            Ok(t) => t,
            // cargo asks for the token before its upload, so a missing one stands alone; it checks
            // the token while uploading, so a malformed one fails `failed to publish …`.
            Err(e) => {
                let malformed = e
                    .downcast_ref::<gantry_client::credentials::CredentialsError>()
                    .is_some();
                let msg = if malformed {
                    msg::chain(self.failed_msg(i), e)
                } else {
                    msg::render(e)
                };
                return self.settle(i, Outcome::Failed(msg));
            }
        };
        self.sched.start(i, Instant::now());
        let api = WebApi::new(
            self.plan.remote.client.clone(),
            self.plan.api_url,
            Some(token),
        );
        let task = set.spawn(async move { (i, api.publish(&body.metadata, &body.tarball).await) });
        self.tasks.insert(task.id(), i);
    }

    async fn our_checksum_listed(&self, i: usize) -> Result<bool, String> {
        let c = self.krate(i);
        match self.plan.remote.index.find(&c.name, &c.version).await {
            Ok(Some(e)) if e.cksum == c.checksum => Ok(true),
            Ok(Some(e)) => Err(msg::listed_with_other_checksum(c, &e.cksum)),
            Ok(None) => Ok(false),
            // An index hiccup is not an answer; treat as "not seen yet".
            Err(_) => Ok(false),
        }
    }

    fn uploaded(&mut self, i: usize, response: &PublishWarnings) {
        let c = self.krate(i);
        let (name, version) = (c.name.clone(), c.version.clone());
        for w in response.messages() {
            self.events.warning(Some((&name, &version)), &w);
            self.show(i, Some(Line::Warning(w)), false);
        }
        let uploaded = msg::uploaded(self.krate(i), &self.registry);
        self.show(i, Some(Line::Status("Uploaded", uploaded)), true);
        let c = self.krate(i);
        let took = self
            .sched
            .started(i)
            .map(|t| t.elapsed())
            .unwrap_or_default();
        self.events
            .step("uploaded", &c.name, &c.version, Some(&c.checksum), took);
        self.journal
            .record(&c.name, &c.version, Step::Uploaded, None);
        if self.plan.wait.is_zero() {
            self.settle(i, Outcome::Uploaded);
        } else {
            self.sched.await_index(i, Instant::now(), self.plan.wait);
        }
    }

    async fn answered(&mut self, i: usize, result: Result<PublishWarnings, ApiError>) {
        let err = match result {
            Ok(r) => return self.uploaded(i, &r),
            Err(e) => e,
        };
        let c = self.krate(i).clone();
        // After an unknown outcome (now or earlier), a refusal may just mean an earlier try landed;
        // a 2xx whose body cannot be read (a proxy's HTML page) may have landed too.
        if err.outcome_unknown() || err.unreadable_success() || self.sched.attempts(i) > 1 {
            // A failed fetch is no answer either way; the look below then says "not listed".
            let _ = self.plan.remote.index.refresh().await;
            match self.our_checksum_listed(i).await {
                Ok(true) => {
                    let note = msg::landed_despite_error(&c);
                    self.show(i, Some(Line::Note(note)), false);
                    return self.uploaded(i, &PublishWarnings::default());
                }
                Ok(false) => {}
                Err(e) => return self.settle(i, Outcome::Failed(e)),
            }
        }
        let failure = UploadFailure {
            rate_limited: err.status() == Some(429),
            outcome_unknown: err.outcome_unknown(),
            retry_after: err.retry_after(),
        };
        let Retry::After(delay) =
            self.sched
                .upload_failed(i, &failure, self.plan.wait, Instant::now())
        else {
            let msg = msg::chain(self.failed_msg(i), err);
            return self.settle(i, Outcome::Failed(msg));
        };
        let why = if failure.rate_limited {
            msg::rate_limited(match self.sched.bucket(i) {
                Bucket::NewCrate => "new crates",
                Bucket::NewVersion => "new versions",
            })
        } else {
            msg::upload_failed(&msg::first_line(&err))
        };
        let msg = msg::retrying(&why, &c, delay.as_secs_f64().ceil() as u64);
        self.events.warning(Some((&c.name, &c.version)), &msg);
        self.show(i, Some(Line::Status("Waiting", msg)), true);
    }

    /// Polls the index for every unconfirmed crate whose turn it is.
    async fn poll(&mut self) {
        let due = self.sched.polls_due(Instant::now());
        if !due.is_empty() {
            // One fetch of a git index serves every crate looked for; a failed one is "not yet".
            let _ = self.plan.remote.index.refresh().await;
        }
        let mut visible = Vec::new();
        for i in due {
            let State::Unconfirmed {
                deadline,
                polls,
                recheck,
                ..
            } = *self.sched.state(i)
            else {
                continue;
            };
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
                let step = schedule::poll_interval(polls, self.plan.remote.index.is_git());
                self.sched.poll_again(i, Instant::now() + step);
            } else if recheck {
                let note = msg::sending_again(self.krate(i));
                self.say(|sh| sh.note(&note));
                self.sched.resend(i);
            } else {
                let msg = msg::timed_out(self.krate(i), &self.registry);
                self.say(|sh| sh.warning(&msg));
                self.settle(i, Outcome::TimedOut);
            }
        }
        if !visible.is_empty() {
            let labels = visible.iter().map(|&i| label(self.krate(i))).collect();
            let msg = msg::published(labels, &self.registry);
            self.say(|sh| sh.status("Published", &msg));
            for i in visible {
                self.settle(i, Outcome::Confirmed);
            }
        }
    }

    /// cargo's "waiting for … to be available" note, once per set of crates waited for, when the
    /// index is all that holds things up.
    fn announce_wait(&mut self) {
        let waiting = self.sched.unconfirmed();
        if waiting.is_empty() || waiting == self.announced || self.sched.in_flight() > 0 {
            return;
        }
        let labels = waiting.iter().map(|&i| label(self.krate(i))).collect();
        let msg = msg::waiting_for(labels, self.sched.remaining(), &self.registry);
        self.say(|sh| sh.note(&msg));
        self.announced = waiting;
    }

    async fn drive(&mut self) {
        let mut set: tokio::task::JoinSet<Answer> = tokio::task::JoinSet::new();
        loop {
            self.give_up_on_orphans();
            for i in self.sched.ready(Instant::now()) {
                if self.sched.in_flight() >= self.plan.jobs.max(1) {
                    break;
                }
                self.start(i, &mut set);
            }
            let unconfirmed = self.sched.unconfirmed().len();
            self.progress.message(self.sched.in_flight(), unconfirmed);
            self.announce_wait();
            if set.is_empty() {
                match self.sched.next_wake(Instant::now()) {
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
            match set.join_next_with_id().await {
                Some(Ok((id, (i, result)))) => {
                    self.tasks.remove(&id);
                    self.answered(i, result).await;
                }
                // A task that panicked has no answer: its crate failed, and says why.
                Some(Err(e)) => {
                    if let Some(i) = self.tasks.remove(&e.id()) {
                        let msg = format!("{}: the upload task failed: {e}", self.failed_msg(i));
                        self.settle(i, Outcome::Failed(msg));
                    }
                }
                None => {}
            }
        }
        // Whatever is still waiting has a dependency cycle or a dependency that never settled.
        for i in self.sched.unsettled() {
            self.settle(i, Outcome::NotAttempted(msg::DEPENDENCY_CYCLE.into()));
        }
    }
}
