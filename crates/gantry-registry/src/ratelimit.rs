//! crates.io-style token buckets per user and action: the numbers, the refill arithmetic and the
//! refusal text. The buckets themselves live in the database (`store/hardening.rs`), so every
//! instance behind a load balancer spends from the same ones; rate limits are off unless
//! configured.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::PublishKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    PublishNew,
    PublishUpdate,
    YankUnyank,
}

impl Action {
    /// The bucket's key in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::PublishNew => "publish-new",
            Action::PublishUpdate => "publish-update",
            Action::YankUnyank => "yank",
        }
    }

    pub fn publish(kind: PublishKind) -> Self {
        match kind {
            PublishKind::New => Action::PublishNew,
            PublishKind::Update => Action::PublishUpdate,
        }
    }

    /// crates.io's wording for a refused action, completed with the retry date.
    pub fn message(self, retry_at: SystemTime) -> String {
        let what = match self {
            Action::PublishNew => "published too many new crates",
            Action::PublishUpdate => "published too many updates to existing crates",
            Action::YankUnyank => "yanked or unyanked too many versions",
        };
        format!(
            "You have {what} in a short period of time. Please try again after {} and see https://crates.io/docs/rate-limits for more details.",
            httpdate::fmt_http_date(retry_at)
        )
    }
}

/// `t` rounded up to a whole second: the resolution of an HTTP date (`Retry-After`), which must
/// not name a moment before the token is back.
pub fn round_up_to_second(t: SystemTime) -> SystemTime {
    let Ok(since) = t.duration_since(UNIX_EPOCH) else {
        return t;
    };
    if since.subsec_nanos() == 0 {
        return t;
    }
    UNIX_EPOCH + Duration::from_secs(since.as_secs().saturating_add(1))
}

/// One token per `refill`, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub refill: Duration,
    pub burst: u32,
}

/// A bucket as stored: whole tokens, and when the last one was added (Unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    pub tokens: i64,
    pub last_refill_ms: i64,
}

impl Bucket {
    fn refill_ms(self) -> i64 {
        i64::try_from(self.refill.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// A bucket nobody has used yet: full.
    pub fn full(self, now_ms: i64) -> BucketState {
        BucketState {
            tokens: i64::from(self.burst),
            last_refill_ms: now_ms,
        }
    }

    /// Adds the tokens earned since the last refill, then takes one if there is one. Returns the
    /// new state and, when empty, the time the next token arrives. Partial progress towards the
    /// next token is kept (the refill time moves by whole periods), except when the bucket is full.
    pub fn take(self, state: BucketState, now_ms: i64) -> (BucketState, Result<(), SystemTime>) {
        let period = self.refill_ms();
        let burst = i64::from(self.burst);
        let earned = (now_ms.saturating_sub(state.last_refill_ms) / period).max(0);
        let mut tokens = state.tokens.saturating_add(earned).min(burst);
        let last_refill_ms = if tokens >= burst {
            now_ms.max(state.last_refill_ms)
        } else {
            state
                .last_refill_ms
                .saturating_add(earned.saturating_mul(period))
        };
        if tokens >= 1 {
            tokens -= 1;
            let state = BucketState {
                tokens,
                last_refill_ms,
            };
            return (state, Ok(()));
        }
        let next = last_refill_ms.saturating_add(period);
        let state = BucketState {
            tokens,
            last_refill_ms,
        };
        (state, Err(from_ms(next)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub publish_new: Bucket,
    pub publish_update: Bucket,
    pub yank: Bucket,
}

impl RateLimits {
    /// crates.io's defaults (`src/rate_limiter.rs`): a new crate every 10 minutes after a burst of
    /// 5, a new version every minute after 30, a yank or unyank every minute after 100.
    pub const CRATES_IO: RateLimits = RateLimits {
        publish_new: Bucket {
            refill: Duration::from_secs(600),
            burst: 5,
        },
        publish_update: Bucket {
            refill: Duration::from_secs(60),
            burst: 30,
        },
        yank: Bucket {
            refill: Duration::from_secs(60),
            burst: 100,
        },
    };

    pub fn bucket(&self, action: Action) -> Bucket {
        match action {
            Action::PublishNew => self.publish_new,
            Action::PublishUpdate => self.publish_update,
            Action::YankUnyank => self.yank,
        }
    }
}

/// The current time in Unix milliseconds, as bucket rows hold it.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Parses `BURST/PERIOD` (e.g. `5/10m`: up to 5 at once, then one per 10 minutes).
pub fn parse_bucket(s: &str) -> Result<Bucket, String> {
    let (burst, period) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}`: expected BURST/PERIOD, e.g. 5/10m"))?;
    let burst: u32 = burst
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: the burst `{burst}` is not a whole number"))?;
    let refill = crate::config::parse_duration(period.trim()).map_err(|e| format!("`{s}`: {e}"))?;
    if burst == 0 || refill.is_zero() {
        return Err(format!("`{s}`: burst and period must be above zero"));
    }
    Ok(Bucket { refill, burst })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_dates_round_up_to_the_next_second() {
        let whole = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(round_up_to_second(whole), whole);
        let just_after = whole + Duration::from_millis(1);
        assert_eq!(
            round_up_to_second(just_after),
            whole + Duration::from_secs(1)
        );
        let late = whole + Duration::from_millis(999);
        assert_eq!(round_up_to_second(late), whole + Duration::from_secs(1));
        // The formatted date is never before the refill.
        let at = whole + Duration::from_millis(1_600);
        let sent =
            httpdate::parse_http_date(&httpdate::fmt_http_date(round_up_to_second(at))).unwrap();
        assert!(sent >= at);
    }

    const B: Bucket = Bucket {
        refill: Duration::from_secs(60),
        burst: 2,
    };

    #[test]
    fn burst_then_refused_then_refilled() {
        let t0 = 1_000_000;
        let s = B.full(t0);
        let (s, r) = B.take(s, t0);
        assert!(r.is_ok());
        let (s, r) = B.take(s, t0 + 1);
        assert!(r.is_ok());
        let (s, r) = B.take(s, t0 + 2);
        assert_eq!(r, Err(from_ms(t0 + 60_000)));
        // Partial progress is kept: 59 s later still nothing, at 60 s one token.
        let (s, r) = B.take(s, t0 + 59_999);
        assert!(r.is_err());
        let (s, r) = B.take(s, t0 + 60_000);
        assert!(r.is_ok());
        assert_eq!(s.tokens, 0);
        // A long pause fills the bucket to the burst, not beyond.
        let (s, r) = B.take(s, t0 + 3_600_000);
        assert!(r.is_ok());
        assert_eq!(s.tokens, 1);
    }

    #[test]
    fn clock_going_backwards_earns_nothing() {
        let s = BucketState {
            tokens: 0,
            last_refill_ms: 10_000,
        };
        assert!(B.take(s, 5_000).1.is_err());
    }

    #[test]
    fn bucket_flags() {
        assert_eq!(
            parse_bucket("5/10m").unwrap(),
            RateLimits::CRATES_IO.publish_new
        );
        assert!(parse_bucket("5").is_err());
        assert!(parse_bucket("0/1m").is_err());
        assert!(parse_bucket("x/1m").is_err());
    }
}
