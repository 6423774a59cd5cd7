//! The upload schedule: one [`Slot`] per crate to upload and the rate-limit pauses, with the pure
//! decisions the upload driver asks for — which crates may go now ([`Schedule::ready`]), which can
//! no longer go because a dependency failed ([`Schedule::orphans`]), and when something next needs
//! doing ([`Schedule::next_wake`]). Every method takes the time as an argument and reads no clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry_client::http::RetryPolicy;

/// The retries of one crate's upload.
pub const UPLOAD_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    // A re-run resumes where a run that gave up stopped.
    max_rate_limited: 10,
    max_retry_after: Duration::from_secs(600),
};
/// Index polls start fast (a strongly consistent registry shows a version at once) and slow down.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);
/// A git index is polled as cargo polls every index: each poll is a fetch, once a second.
const GIT_POLL: Duration = Duration::from_secs(1);

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

impl Outcome {
    /// Dependents may go: the crate is in the registry's hands.
    fn is_available(&self) -> bool {
        matches!(self, Outcome::Confirmed | Outcome::Uploaded)
    }

    /// Dependents cannot go in this run.
    fn is_dead(&self) -> bool {
        matches!(
            self,
            Outcome::Failed(_) | Outcome::TimedOut | Outcome::NotAttempted(_)
        )
    }
}

/// The rate-limit buckets crates.io counts separately: a 429 for one does not hold up the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bucket {
    /// The registry does not know the crate's name yet.
    NewCrate,
    /// A new version of a crate the registry knows.
    NewVersion,
}

/// Where one crate's upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
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

/// What the driver knows about a failed upload, as the schedule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadFailure {
    /// The registry answered 429.
    pub rate_limited: bool,
    /// No answer, or a 5xx: the upload may have landed.
    pub outcome_unknown: bool,
    /// The registry's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
}

/// What becomes of a crate after a failed upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Stop trying in this run (a re-run resumes).
    GiveUp,
    /// Sent again after this long (and, for a 429, no upload of its bucket before then).
    After(Duration),
}

/// A crate's upload request, built once and shared by its retries.
#[derive(Debug, Clone)]
pub struct Body {
    /// The publish metadata JSON.
    pub metadata: Arc<Vec<u8>>,
    /// The `.crate` bytes.
    pub tarball: Arc<Vec<u8>>,
}

/// What the schedule needs to know about one crate to upload.
#[derive(Debug, Clone)]
pub struct SlotSpec {
    pub name: String,
    pub version: String,
    pub bucket: Bucket,
    /// Slots (indices into the schedule) this crate depends on. Dependencies that are not being
    /// uploaded in this run (already in the registry, or not selected) are simply not listed.
    pub deps: Vec<usize>,
    /// Uploaded by an earlier run but never confirmed: look in the index before sending.
    pub recheck: bool,
}

/// One crate's upload.
#[derive(Debug)]
pub struct Slot {
    spec: SlotSpec,
    state: State,
    /// Tries whose outcome was not a 429.
    attempts: u32,
    /// 429 answers so far.
    rate_limited: u32,
    /// When the first try started.
    started: Option<Instant>,
    body: Option<Body>,
}

/// The uploads of one run.
#[derive(Debug)]
pub struct Schedule {
    slots: Vec<Slot>,
    /// Buckets the registry asked us to leave alone until the given time.
    paused: BTreeMap<Bucket, Instant>,
}

impl Schedule {
    /// Every crate starts waiting, except those to recheck: they are looked for in the index
    /// (starting at `now`) for `recheck_wait` before they are sent again.
    pub fn new(specs: Vec<SlotSpec>, now: Instant, recheck_wait: Duration) -> Self {
        let slots = specs
            .into_iter()
            .map(|spec| Slot {
                state: if spec.recheck {
                    State::Unconfirmed {
                        deadline: now + recheck_wait,
                        next_poll: now,
                        polls: 0,
                        recheck: true,
                    }
                } else {
                    State::Waiting
                },
                spec,
                attempts: 0,
                rate_limited: 0,
                started: None,
                body: None,
            })
            .collect();
        Schedule {
            slots,
            paused: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn state(&self, i: usize) -> &State {
        &self.slots[i].state
    }

    pub fn bucket(&self, i: usize) -> Bucket {
        self.slots[i].spec.bucket
    }

    /// Tries of slot `i` whose outcome was not a 429.
    pub fn attempts(&self, i: usize) -> u32 {
        self.slots[i].attempts
    }

    /// When slot `i`'s first try started.
    pub fn started(&self, i: usize) -> Option<Instant> {
        self.slots[i].started
    }

    pub fn body(&self, i: usize) -> Option<&Body> {
        self.slots[i].body.as_ref()
    }

    pub fn keep_body(&mut self, i: usize, body: Body) {
        self.slots[i].body = Some(body);
    }

    /// Slots that may be sent at `now`, in name and version order: waiting (or due for a
    /// retry), every dependency available, and their bucket not paused.
    pub fn ready(&self, now: Instant) -> Vec<usize> {
        let mut ready: Vec<usize> =
            (0..self.slots.len())
                .filter(|&i| match self.slots[i].state {
                    State::Waiting => true,
                    State::RetryAt(at) => at <= now,
                    _ => false,
                })
                .filter(|&i| {
                    self.slots[i].spec.deps.iter().all(
                        |&d| matches!(&self.slots[d].state, State::Done(o) if o.is_available()),
                    )
                })
                .filter(|&i| !self.is_paused(self.bucket(i), now))
                .collect();
        ready.sort_by(|&a, &b| {
            let (a, b) = (&self.slots[a].spec, &self.slots[b].spec);
            (&a.name, &a.version).cmp(&(&b.name, &b.version))
        });
        ready
    }

    fn is_paused(&self, bucket: Bucket, now: Instant) -> bool {
        self.paused.get(&bucket).is_some_and(|until| *until > now)
    }

    /// Slots still to be sent whose dependency will not arrive in this run, as `(slot, the
    /// dependency's slot)`, in the order a settling pass meets them: pass after pass in slot order,
    /// a slot found here counting as dead for the slots after it, until a pass finds nothing.
    pub fn orphans(&self) -> Vec<(usize, usize)> {
        let mut dead: Vec<bool> = self
            .slots
            .iter()
            .map(|s| matches!(&s.state, State::Done(o) if o.is_dead()))
            .collect();
        let mut found = Vec::new();
        loop {
            let mut changed = false;
            for (i, slot) in self.slots.iter().enumerate() {
                if dead[i] || !matches!(slot.state, State::Waiting | State::RetryAt(_)) {
                    continue;
                }
                if let Some(&d) = slot.spec.deps.iter().find(|&&d| dead[d]) {
                    dead[i] = true;
                    found.push((i, d));
                    changed = true;
                }
            }
            if !changed {
                return found;
            }
        }
    }

    /// Slot `i` is sent at `now`: one more try.
    pub fn start(&mut self, i: usize, now: Instant) {
        let slot = &mut self.slots[i];
        slot.started.get_or_insert(now);
        slot.attempts += 1;
        slot.state = State::InFlight;
    }

    /// Slot `i` got a 429: it counts against the rate-limit cap, not against the attempts.
    /// Returns the number of 429s so far.
    pub fn rate_limited(&mut self, i: usize) -> u32 {
        let slot = &mut self.slots[i];
        slot.rate_limited += 1;
        slot.attempts = slot.attempts.saturating_sub(1);
        slot.rate_limited
    }

    /// No new upload of `bucket` before `until` (a later pause already set is kept).
    pub fn pause(&mut self, bucket: Bucket, until: Instant) {
        let at = self.paused.entry(bucket).or_insert(until);
        *at = (*at).max(until);
    }

    /// Slot `i`'s upload failed at `now`: give up, or schedule the retry (after a 429 the
    /// slot's whole bucket pauses too). A registry that asks for a longer wait than `wait` (the
    /// publish timeout: the time the user agreed to wait for the index, 60 s by default) is not
    /// waited for: the run stops as cargo's does, and a re-run resumes where this one stopped.
    pub fn upload_failed(
        &mut self,
        i: usize,
        failure: &UploadFailure,
        wait: Duration,
        now: Instant,
    ) -> Retry {
        let give_up = if failure.rate_limited {
            let limited = self.rate_limited(i);
            UPLOAD_RETRIES.rate_limits_exhausted(limited)
                || failure.retry_after.is_some_and(|d| d > wait)
        } else {
            !failure.outcome_unknown || UPLOAD_RETRIES.attempts_exhausted(self.attempts(i))
        };
        if give_up {
            return Retry::GiveUp;
        }
        let delay = UPLOAD_RETRIES.delay(failure.retry_after, self.attempts(i).max(1));
        if failure.rate_limited {
            self.pause(self.bucket(i), now + delay);
        }
        self.retry_at(i, now + delay);
        Retry::After(delay)
    }

    /// Slot `i` is sent again no earlier than `at`.
    pub fn retry_at(&mut self, i: usize, at: Instant) {
        self.slots[i].state = State::RetryAt(at);
    }

    /// The registry accepted slot `i` at `now`: look for it in the index until `now + wait`.
    pub fn await_index(&mut self, i: usize, now: Instant, wait: Duration) {
        self.slots[i].state = State::Unconfirmed {
            deadline: now + wait,
            next_poll: now,
            polls: 0,
            recheck: false,
        };
    }

    /// Slot `i` was not in the index at its poll: poll again at `at`.
    pub fn poll_again(&mut self, i: usize, at: Instant) {
        if let State::Unconfirmed {
            next_poll, polls, ..
        } = &mut self.slots[i].state
        {
            *next_poll = at;
            *polls += 1;
        }
    }

    /// An earlier run's upload of slot `i` never showed up: send it.
    pub fn resend(&mut self, i: usize) {
        self.slots[i].state = State::Waiting;
    }

    pub fn settle(&mut self, i: usize, outcome: Outcome) {
        self.slots[i].state = State::Done(outcome);
    }

    /// Slots whose index poll is due at `now`.
    pub fn polls_due(&self, now: Instant) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| {
                matches!(self.slots[i].state, State::Unconfirmed { next_poll, .. } if next_poll <= now)
            })
            .collect()
    }

    pub fn in_flight(&self) -> usize {
        self.count(|s| matches!(s, State::InFlight))
    }

    /// Slots uploaded (or being rechecked) and not yet seen in the index.
    pub fn unconfirmed(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| matches!(self.slots[i].state, State::Unconfirmed { .. }))
            .collect()
    }

    /// Slots not sent yet: waiting, or waiting for a retry.
    pub fn remaining(&self) -> usize {
        self.count(|s| matches!(s, State::Waiting | State::RetryAt(_)))
    }

    /// Slots without an outcome yet.
    pub fn unsettled(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| !matches!(self.slots[i].state, State::Done(_)))
            .collect()
    }

    fn count(&self, f: impl Fn(&State) -> bool) -> usize {
        self.slots.iter().filter(|s| f(&s.state)).count()
    }

    /// When something next needs doing without an upload answer: a poll, a retry, or the end of
    /// a pause that has not ended by `now`.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        let states = self.slots.iter().filter_map(|s| match s.state {
            State::Unconfirmed { next_poll, .. } => Some(next_poll),
            State::RetryAt(at) => Some(at),
            _ => None,
        });
        let pauses = self.paused.values().copied().filter(|until| *until > now);
        states.chain(pauses).min()
    }

    /// Every slot's outcome; a slot never settled (which the driver does not leave) reads as not
    /// attempted.
    pub fn into_outcomes(self) -> Vec<Outcome> {
        self.slots
            .into_iter()
            .map(|s| match s.state {
                State::Done(o) => o,
                _ => Outcome::NotAttempted("the scheduler stopped early".into()),
            })
            .collect()
    }
}

/// The wait after an index poll that did not find the crate: doubling from 50 ms up to 1 s for a
/// sparse index, a steady second for a git index (each poll is a fetch).
pub fn poll_interval(polls: u32, git_index: bool) -> Duration {
    if git_index {
        GIT_POLL
    } else {
        (FIRST_POLL * 2u32.saturating_pow(polls.min(10))).min(MAX_POLL)
    }
}

#[cfg(test)]
mod tests;
