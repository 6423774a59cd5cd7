//! The schedule's decisions, with made-up instants: no clock, no network.

use super::*;

fn t0() -> Instant {
    Instant::now()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn spec(name: &str, bucket: Bucket, deps: &[usize]) -> SlotSpec {
    SlotSpec {
        name: name.into(),
        version: "1.0.0".into(),
        bucket,
        deps: deps.to_vec(),
        recheck: false,
    }
}

/// `b` and `c` depend on `a`; `d` depends on `c`. All new crates unless named otherwise.
fn chain(now: Instant) -> Schedule {
    Schedule::new(
        vec![
            spec("a", Bucket::NewCrate, &[]),
            spec("b", Bucket::NewCrate, &[0]),
            spec("c", Bucket::NewCrate, &[0]),
            spec("d", Bucket::NewCrate, &[2]),
        ],
        now,
        secs(10),
    )
}

#[test]
fn ready_in_name_then_version_order_not_slot_order() {
    let now = t0();
    let mut zeta = spec("zeta", Bucket::NewCrate, &[]);
    zeta.version = "0.1.0".into();
    let mut alpha2 = spec("alpha", Bucket::NewCrate, &[]);
    alpha2.version = "2.0.0".into();
    let alpha1 = spec("alpha", Bucket::NewVersion, &[]);
    let s = Schedule::new(vec![zeta, alpha2, alpha1], now, secs(10));
    assert_eq!(s.ready(now), [2, 1, 0]);
}

#[test]
fn a_crate_waits_until_its_dependencies_are_in_the_registry() {
    let now = t0();
    let mut s = chain(now);
    assert_eq!(s.ready(now), [0]);
    s.start(0, now);
    assert_eq!(
        s.ready(now),
        Vec::<usize>::new(),
        "in flight is not available"
    );
    s.await_index(0, now, secs(60));
    assert!(s.ready(now).is_empty(), "unconfirmed is not available");
    s.settle(0, Outcome::Confirmed);
    assert_eq!(s.ready(now), [1, 2]);
    s.start(2, now);
    s.settle(2, Outcome::Uploaded);
    assert_eq!(
        s.ready(now),
        [1, 3],
        "uploaded without waiting counts as there"
    );
}

#[test]
fn a_failed_crate_orphans_its_dependents_transitively_in_pass_order() {
    let now = t0();
    let mut s = chain(now);
    s.start(0, now);
    s.settle(0, Outcome::Failed("refused".into()));
    // b and c in the first pass; d, whose dependency c was found in the same pass, too.
    assert_eq!(s.orphans(), [(1, 0), (2, 0), (3, 2)]);
    assert!(s.ready(now).is_empty());
}

#[test]
fn orphans_found_late_in_a_pass_are_picked_up_by_the_next_pass() {
    let now = t0();
    // Slot 0 depends on slot 1, which depends on the failed slot 2.
    let mut s = Schedule::new(
        vec![
            spec("x", Bucket::NewCrate, &[1]),
            spec("y", Bucket::NewCrate, &[2]),
            spec("z", Bucket::NewCrate, &[]),
        ],
        now,
        secs(10),
    );
    s.settle(2, Outcome::TimedOut);
    assert_eq!(s.orphans(), [(1, 2), (0, 1)]);
}

#[test]
fn only_waiting_crates_are_orphaned_and_not_by_live_dependencies() {
    let now = t0();
    let mut s = chain(now);
    s.settle(0, Outcome::NotAttempted("cycle".into()));
    s.start(1, now); // already sent: its own answer decides
    s.retry_at(2, now + secs(5));
    assert_eq!(s.orphans(), [(2, 0), (3, 2)]);
    let mut s = chain(now);
    s.start(0, now);
    assert!(s.orphans().is_empty());
    s.settle(0, Outcome::Confirmed);
    assert!(s.orphans().is_empty());
}

#[test]
fn a_rate_limit_pauses_only_its_bucket() {
    let now = t0();
    let mut s = Schedule::new(
        vec![
            spec("fresh", Bucket::NewCrate, &[]),
            spec("known", Bucket::NewVersion, &[]),
            spec("other-fresh", Bucket::NewCrate, &[]),
        ],
        now,
        secs(10),
    );
    s.start(0, now);
    assert_eq!(s.rate_limited(0), 1);
    s.pause(Bucket::NewCrate, now + secs(30));
    s.retry_at(0, now + secs(30));
    assert_eq!(s.ready(now), [1], "updates go on; new crates wait");
    assert_eq!(s.ready(now + secs(29)), [1]);
    assert_eq!(
        s.ready(now + secs(30)),
        [0, 1, 2],
        "the pause ends at its instant"
    );
}

#[test]
fn a_shorter_pause_does_not_cut_a_longer_one() {
    let now = t0();
    let mut s = Schedule::new(vec![spec("a", Bucket::NewVersion, &[])], now, secs(10));
    s.pause(Bucket::NewVersion, now + secs(60));
    s.pause(Bucket::NewVersion, now + secs(5));
    assert!(s.ready(now + secs(59)).is_empty());
    assert_eq!(s.ready(now + secs(60)), [0]);
}

#[test]
fn rate_limits_count_apart_from_attempts() {
    let now = t0();
    let mut s = chain(now);
    s.start(0, now);
    s.start(0, now + secs(1));
    assert_eq!(s.attempts(0), 2);
    assert_eq!(s.rate_limited(0), 1);
    assert_eq!(s.rate_limited(0), 2);
    assert_eq!(s.attempts(0), 0, "a 429 hands its attempt back");
    assert_eq!(s.started(0), Some(now), "the first try's start is kept");
}

#[test]
fn a_retry_is_ready_at_its_instant_and_not_before() {
    let now = t0();
    let mut s = chain(now);
    s.start(0, now);
    s.retry_at(0, now + secs(2));
    assert!(s.ready(now + secs(1)).is_empty());
    assert_eq!(s.remaining(), 4);
    assert_eq!(s.ready(now + secs(2)), [0]);
}

#[test]
fn rechecked_crates_are_looked_for_before_they_are_sent() {
    let now = t0();
    let mut b = spec("b", Bucket::NewVersion, &[]);
    b.recheck = true;
    let mut s = Schedule::new(vec![spec("a", Bucket::NewCrate, &[]), b], now, secs(10));
    assert_eq!(
        *s.state(1),
        State::Unconfirmed {
            deadline: now + secs(10),
            next_poll: now,
            polls: 0,
            recheck: true
        }
    );
    assert_eq!(s.ready(now), [0]);
    assert_eq!(s.polls_due(now), [1]);
    assert_eq!(s.unconfirmed(), [1]);
    s.resend(1);
    assert_eq!(s.ready(now), [0, 1]);
}

#[test]
fn polls_come_due_at_their_instant_and_count_up() {
    let now = t0();
    let mut s = chain(now);
    s.start(0, now);
    s.await_index(0, now, secs(60));
    assert_eq!(s.polls_due(now), [0]);
    s.poll_again(0, now + Duration::from_millis(50));
    assert!(s.polls_due(now).is_empty());
    assert_eq!(s.polls_due(now + Duration::from_millis(50)), [0]);
    assert!(matches!(
        s.state(0),
        State::Unconfirmed { polls: 1, deadline, .. } if *deadline == now + secs(60)
    ));
}

#[test]
fn next_wake_is_the_earliest_poll_retry_or_pause_still_ahead() {
    let now = t0();
    let mut s = chain(now);
    assert_eq!(
        s.next_wake(now),
        None,
        "nothing timed: the driver is done or waits for answers"
    );
    s.pause(Bucket::NewCrate, now + secs(30));
    assert_eq!(s.next_wake(now), Some(now + secs(30)));
    assert_eq!(
        s.next_wake(now + secs(30)),
        None,
        "a pause that has ended wakes nobody"
    );
    s.start(0, now);
    s.retry_at(0, now + secs(8));
    assert_eq!(s.next_wake(now), Some(now + secs(8)));
    s.start(1, now);
    s.await_index(1, now, secs(60));
    s.poll_again(1, now + secs(1));
    assert_eq!(s.next_wake(now), Some(now + secs(1)));
}

#[test]
fn counts_and_outcomes() {
    let now = t0();
    let mut s = chain(now);
    s.start(0, now);
    s.start(1, now);
    s.await_index(1, now, secs(1));
    assert_eq!(s.in_flight(), 1);
    assert_eq!(s.unconfirmed(), [1]);
    assert_eq!(s.remaining(), 2);
    assert_eq!(s.unsettled(), [0, 1, 2, 3]);
    s.settle(0, Outcome::Confirmed);
    s.settle(1, Outcome::TimedOut);
    s.settle(2, Outcome::DryRun);
    assert_eq!(s.unsettled(), [3]);
    let outcomes = s.into_outcomes();
    assert_eq!(
        outcomes[..3],
        [Outcome::Confirmed, Outcome::TimedOut, Outcome::DryRun]
    );
    assert!(matches!(outcomes[3], Outcome::NotAttempted(_)));
}

#[test]
fn bodies_are_kept_for_retries() {
    let now = t0();
    let mut s = chain(now);
    assert!(s.body(0).is_none());
    let body = Body {
        metadata: Arc::new(b"{}".to_vec()),
        tarball: Arc::new(vec![0x1f, 0x8b]),
    };
    s.keep_body(0, body);
    assert_eq!(s.body(0).map(|b| b.tarball.len()), Some(2));
}

#[test]
fn poll_interval_doubles_to_a_second_and_git_is_steady() {
    let ms: Vec<u128> = (0..7)
        .map(|p| poll_interval(p, false).as_millis())
        .collect();
    assert_eq!(ms, [50, 100, 200, 400, 800, 1000, 1000]);
    assert_eq!(poll_interval(u32::MAX, false), Duration::from_secs(1));
    assert_eq!(poll_interval(0, true), Duration::from_secs(1));
}

#[test]
fn upload_retries_match_the_documented_caps() {
    assert_eq!(UPLOAD_RETRIES.max_attempts, 5);
    assert_eq!(UPLOAD_RETRIES.max_rate_limited, 10);
    assert_eq!(UPLOAD_RETRIES.delay(Some(secs(3600)), 1), secs(600));
}

const UNKNOWN: UploadFailure = UploadFailure {
    rate_limited: false,
    outcome_unknown: true,
    retry_after: None,
};

fn too_many(retry_after: Option<u64>) -> UploadFailure {
    UploadFailure {
        rate_limited: true,
        outcome_unknown: false,
        retry_after: retry_after.map(secs),
    }
}

#[test]
fn a_refusal_is_not_retried() {
    let now = t0();
    let mut s = chain(now);
    s.start(0, now);
    let refused = UploadFailure {
        outcome_unknown: false,
        ..UNKNOWN
    };
    assert_eq!(s.upload_failed(0, &refused, secs(60), now), Retry::GiveUp);
}

#[test]
fn unknown_outcomes_back_off_until_the_attempts_run_out() {
    let now = t0();
    let mut s = chain(now);
    let mut delays = Vec::new();
    for _ in 0..5 {
        s.start(0, now);
        delays.push(s.upload_failed(0, &UNKNOWN, secs(60), now));
    }
    let after = |n| Retry::After(secs(n));
    assert_eq!(
        delays,
        [after(1), after(2), after(4), after(8), Retry::GiveUp]
    );
    assert_eq!(s.attempts(0), 5);
}

#[test]
fn a_retry_waits_for_its_instant_and_pauses_nobody_else() {
    let now = t0();
    let mut s = Schedule::new(
        vec![
            spec("a", Bucket::NewCrate, &[]),
            spec("b", Bucket::NewCrate, &[]),
        ],
        now,
        secs(10),
    );
    s.start(0, now);
    assert_eq!(
        s.upload_failed(0, &UNKNOWN, secs(60), now),
        Retry::After(secs(1))
    );
    assert_eq!(s.ready(now), [1], "a 5xx holds up only its own crate");
    assert_eq!(s.ready(now + secs(1)), [0, 1]);
}

#[test]
fn a_429_pauses_the_bucket_for_the_clamped_retry_after() {
    let now = t0();
    let mut s = Schedule::new(
        vec![
            spec("a", Bucket::NewCrate, &[]),
            spec("b", Bucket::NewCrate, &[]),
        ],
        now,
        secs(10),
    );
    s.start(0, now);
    let answer = s.upload_failed(0, &too_many(Some(0)), secs(60), now);
    assert_eq!(answer, Retry::After(Duration::from_millis(100)));
    assert_eq!(s.attempts(0), 0, "a 429 is not an attempt");
    assert!(s.ready(now).is_empty(), "b waits with a: same bucket");
    assert_eq!(s.ready(now + Duration::from_millis(100)), [0, 1]);
    // Without a Retry-After, the backoff of the (handed back) first attempt.
    s.start(1, now);
    assert_eq!(
        s.upload_failed(1, &too_many(None), secs(60), now),
        Retry::After(secs(1))
    );
}

#[test]
fn a_429_asking_longer_than_the_publish_timeout_stops_the_crate() {
    let now = t0();
    let mut s = chain(now);
    s.start(0, now);
    assert_eq!(
        s.upload_failed(0, &too_many(Some(61)), secs(60), now),
        Retry::GiveUp
    );
    // Within the timeout, a wait above the policy's ceiling is cut to it.
    let mut s = chain(now);
    s.start(0, now);
    assert_eq!(
        s.upload_failed(0, &too_many(Some(3600)), secs(7200), now),
        Retry::After(secs(600))
    );
}

#[test]
fn the_tenth_429_stops_the_crate() {
    let now = t0();
    let mut s = chain(now);
    let mut answers = Vec::new();
    for _ in 0..10 {
        s.start(0, now);
        answers.push(s.upload_failed(0, &too_many(Some(1)), secs(60), now));
    }
    assert!(answers[..9].iter().all(|a| *a == Retry::After(secs(1))));
    assert_eq!(answers[9], Retry::GiveUp);
}
