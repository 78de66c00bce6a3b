//! When to try a call again, and how long to wait first.
//!
//! Retried: 429, 5xx, timeouts, connection failures. Never another 4xx. The wait is the
//! server's `retry-after` when it sent one (parsed without regard to header case, seconds or
//! HTTP-date, by `box_uploads_runtime::retry_after`), else a capped exponential back-off with
//! jitter. A call stops being retried when its attempt budget OR its total deadline is used up.

use std::time::{Duration, Instant};

use super::api::CallError;

/// Retry settings for one API call (one part, one commit answer, one session creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Default 8.
    pub max_attempts: u32,
    /// Back-off before the second attempt. Default 500 ms.
    pub initial_backoff: Duration,
    /// Longest back-off between two attempts (a `retry-after` may ask for more, up to the
    /// deadline). Default 30 s.
    pub max_backoff: Duration,
    /// Time allowed for one call, all attempts and waits included. Default 15 min.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            deadline: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The back-off before attempt `attempt + 1` (after `attempt` failures, from 1), without
    /// jitter: `initial * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
    }
}

/// "Equal jitter": half the back-off fixed, half random, so waits spread out but never collapse
/// to zero.
pub(crate) fn jittered(base: Duration) -> Duration {
    let half = base / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(fastrand::u64(0..=nanos))
}

/// The retry state of one call.
#[derive(Debug)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
}

/// Why a call is not retried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    NotRetryable,
    AttemptsUsed,
    DeadlinePassed,
}

impl Retrier {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        Retrier {
            policy: policy.clone(),
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// Counts an attempt about to be made.
    pub(crate) fn attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// How long to wait before trying again after `err`, or why not to.
    pub(crate) fn next_wait(&self, err: &CallError) -> Result<Duration, GiveUp> {
        if !err.is_retryable() {
            return Err(GiveUp::NotRetryable);
        }
        self.wait_for(err.retry_after())
    }

    /// As [`Retrier::next_wait`] for a failure known to be transient (`retry_after` if the
    /// server gave one).
    pub(crate) fn wait_for(&self, retry_after: Option<Duration>) -> Result<Duration, GiveUp> {
        if self.attempts >= self.policy.max_attempts {
            return Err(GiveUp::AttemptsUsed);
        }
        let wait = match retry_after {
            Some(wait) => wait,
            None => jittered(self.policy.backoff(self.attempts.max(1))),
        };
        if self.started.elapsed().saturating_add(wait) > self.policy.deadline {
            return Err(GiveUp::DeadlinePassed);
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::api::CallErrorKind;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            deadline: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let p = policy();
        let waits: Vec<u128> = (1..=5).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350, 350]);
        assert_eq!(
            RetryPolicy::default().backoff(u32::MAX),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        for _ in 0..1000 {
            let j = jittered(Duration::from_millis(200));
            assert!(
                j >= Duration::from_millis(100) && j <= Duration::from_millis(200),
                "{j:?}"
            );
        }
    }

    #[test]
    fn retries_429_5xx_and_transport_never_other_4xx() {
        let mut r = Retrier::new(&policy());
        r.attempt();
        for retryable in [
            CallError::api(429, Some("rate_limit_exceeded"), "x"),
            CallError::api(500, None, "x"),
            CallError::api(503, None, "x"),
            CallError::timeout(Duration::from_secs(1)),
            CallError::new(CallErrorKind::Connection, "reset"),
            CallError::new(CallErrorKind::Connect, "refused"),
        ] {
            assert!(r.next_wait(&retryable).is_ok(), "{retryable:?}");
        }
        for fatal in [400, 401, 403, 404, 409, 412, 416] {
            assert_eq!(
                r.next_wait(&CallError::api(fatal, None, "x")),
                Err(GiveUp::NotRetryable)
            );
        }
        assert_eq!(
            r.next_wait(&CallError::new(CallErrorKind::Decode, "bad json")),
            Err(GiveUp::NotRetryable)
        );
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let mut r = Retrier::new(&policy());
        r.attempt();
        let e = CallError::api(429, None, "x").with_retry_after(Some(Duration::from_secs(7)));
        assert_eq!(r.next_wait(&e), Ok(Duration::from_secs(7)));
    }

    #[test]
    fn attempt_budget_and_deadline_both_stop_retries() {
        let mut r = Retrier::new(&policy());
        let e = CallError::api(500, None, "x");
        for _ in 0..4 {
            r.attempt();
        }
        assert_eq!(r.next_wait(&e), Err(GiveUp::AttemptsUsed));

        let mut r = Retrier::new(&RetryPolicy {
            deadline: Duration::from_secs(5),
            ..policy()
        });
        r.attempt();
        let slow = CallError::api(503, None, "x").with_retry_after(Some(Duration::from_secs(10)));
        assert_eq!(r.next_wait(&slow), Err(GiveUp::DeadlinePassed));
    }
}
