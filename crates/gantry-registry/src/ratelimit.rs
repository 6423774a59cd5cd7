//! crates.io-style token buckets per user and action (in memory; off unless configured).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    PublishNew,
    PublishUpdate,
    YankUnyank,
}

impl Action {
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

/// One token per `refill`, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub refill: Duration,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub publish_new: Bucket,
    pub publish_update: Bucket,
    pub yank: Bucket,
}

impl RateLimits {
    /// crates.io's defaults.
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

    fn bucket(&self, action: Action) -> Bucket {
        match action {
            Action::PublishNew => self.publish_new,
            Action::PublishUpdate => self.publish_update,
            Action::YankUnyank => self.yank,
        }
    }
}

pub struct RateLimiter {
    limits: Option<RateLimits>,
    // (tokens, last refill) per user and action.
    state: Mutex<HashMap<(i64, Action), (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(limits: Option<RateLimits>) -> Self {
        RateLimiter {
            limits,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, or says when the next one will be there.
    pub fn check(&self, user_id: i64, action: Action) -> Result<(), SystemTime> {
        let Some(limits) = self.limits else {
            return Ok(());
        };
        let bucket = limits.bucket(action);
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = state
            .entry((user_id, action))
            .or_insert((f64::from(bucket.burst), now));
        let refill = bucket.refill.as_secs_f64().max(f64::MIN_POSITIVE);
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() / refill)
            .min(f64::from(bucket.burst));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = Duration::from_secs_f64((1.0 - *tokens) * refill);
            Err(SystemTime::now() + wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused() {
        let limits = RateLimits {
            publish_new: Bucket {
                refill: Duration::from_secs(600),
                burst: 2,
            },
            ..RateLimits::CRATES_IO
        };
        let rl = RateLimiter::new(Some(limits));
        assert!(rl.check(1, Action::PublishNew).is_ok());
        assert!(rl.check(1, Action::PublishNew).is_ok());
        let at = rl.check(1, Action::PublishNew).unwrap_err();
        assert!(at > SystemTime::now() + Duration::from_secs(500));
        assert!(
            rl.check(2, Action::PublishNew).is_ok(),
            "buckets are per user"
        );
        assert!(rl.check(1, Action::PublishUpdate).is_ok(), "and per action");
        assert!(RateLimiter::new(None).check(1, Action::PublishNew).is_ok());
    }
}
