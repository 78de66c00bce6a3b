//! A client-side rate limiter: two token buckets (API requests, file uploads) shared by every
//! call of a tree upload, slowed down for the whole run by any 429. As the retry loop's
//! [`Throttle`], it spaces each attempt of a plain API call as one request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use crate::retry::Throttle;

/// A rate: `count` per `per`, with bursts of at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// In how long.
    pub per: Duration,
    /// Tokens that may be spent at once after a quiet spell (at least 1). Keep `burst` plus one
    /// window's `count` under the server's limit for that window.
    pub burst: u32,
}

impl Rate {
    /// `count` per `per`, bursts of one.
    pub fn new(count: u32, per: Duration) -> Self {
        Rate {
            count,
            per,
            burst: 1,
        }
    }

    /// With bursts of `burst`.
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    fn per_second(&self) -> f64 {
        f64::from(self.count.max(1)) / self.per.as_secs_f64().max(1e-3)
    }
}

/// The two limits Box applies per user (box-auth §4): about 1000 API requests a minute and 240
/// file uploads a minute. An upload counts toward both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Every API request. Default 1000 a minute.
    pub requests: Rate,
    /// Uploads (a direct upload, or opening an upload session). Default 240 a minute.
    pub uploads: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests: Rate::new(1000, Duration::from_secs(60)).with_burst(10),
            uploads: Rate::new(240, Duration::from_secs(60)).with_burst(4),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    configured: f64,
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: Rate, now: Instant) -> Self {
        let r = rate.per_second();
        Bucket {
            configured: r,
            rate: r,
            capacity: f64::from(rate.burst.max(1)),
            tokens: f64::from(rate.burst.max(1)),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.capacity);
        // Recover towards the configured rate: back to it in about 20 s without a 429.
        self.rate = (self.rate + dt * self.configured / 20.0).min(self.configured);
        self.last = now;
    }

    /// Takes `n` tokens, or says how long until they are there.
    fn take(&mut self, n: f64, now: Instant) -> Option<Duration> {
        self.refill(now);
        let n = n.min(self.capacity);
        if self.tokens >= n {
            self.tokens -= n;
            None
        } else {
            Some(Duration::from_secs_f64((n - self.tokens) / self.rate))
        }
    }
}

#[derive(Debug)]
struct State {
    requests: Bucket,
    uploads: Bucket,
    paused_until: Instant,
    throttled: u64,
}

/// Token buckets for requests and uploads. Cheap to clone; clones share the buckets.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    state: Arc<Mutex<State>>,
}

impl RateLimiter {
    /// A limiter keeping under `limits`.
    pub fn new(limits: RateLimits) -> Self {
        let now = Instant::now();
        RateLimiter {
            state: Arc::new(Mutex::new(State {
                requests: Bucket::new(limits.requests, now),
                uploads: Bucket::new(limits.uploads, now),
                paused_until: now,
                throttled: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `requests` API requests may be sent (of which `uploads` are uploads).
    pub async fn acquire(&self, requests: u32, uploads: u32) {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                if s.paused_until > now {
                    Some(s.paused_until - now)
                } else {
                    let u = if uploads > 0 {
                        s.uploads.take(f64::from(uploads), now)
                    } else {
                        None
                    };
                    match u {
                        Some(w) => Some(w),
                        None => match s.requests.take(f64::from(requests), now) {
                            None => None,
                            Some(w) => {
                                // Give the upload tokens back: taken again on the next round.
                                if uploads > 0 {
                                    s.uploads.tokens += f64::from(uploads).min(s.uploads.capacity);
                                }
                                Some(w)
                            }
                        },
                    }
                }
            };
            match wait {
                None => return,
                Some(w) => tokio::time::sleep(w.max(Duration::from_millis(1))).await,
            }
        }
    }

    /// A 429 was answered: every caller waits `retry_after` (at least a second), and both
    /// rates are halved (they recover over about 20 s).
    pub fn throttled(&self, retry_after: Option<Duration>) {
        let mut guard = self.lock();
        let s = &mut *guard;
        let now = Instant::now();
        s.throttled += 1;
        let until = now
            + retry_after
                .unwrap_or(Duration::from_secs(1))
                .max(Duration::from_millis(200));
        if until > s.paused_until {
            s.paused_until = until;
        }
        for b in [&mut s.requests, &mut s.uploads] {
            b.refill(now);
            b.rate = (b.rate / 2.0).max(b.configured / 10.0);
            b.tokens = 0.0;
        }
    }

    /// 429s reported so far.
    pub fn throttled_count(&self) -> u64 {
        self.lock().throttled
    }
}

/// Each attempt of a plain API call (a listing, a folder made) is one request; a 429 answer to
/// any of them slows every call that shares the limiter.
impl Throttle for RateLimiter {
    fn acquire(&self) -> BoxFuture<'_, ()> {
        Box::pin(RateLimiter::acquire(self, 1, 0))
    }

    fn failed(&self, status: Option<u16>, retry_after: Option<Duration>) {
        if status == Some(429) {
            self.throttled(retry_after);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn acquire_spaces_calls_at_the_configured_rate() {
        let limiter = RateLimiter::new(RateLimits {
            requests: Rate::new(10, Duration::from_secs(1)),
            uploads: Rate::new(2, Duration::from_secs(1)),
        });
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire(1, 1).await;
        }
        // One at once (burst 1), then one every 500 ms.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_caller_and_slows_the_rate() {
        let limiter = RateLimiter::new(RateLimits {
            requests: Rate::new(10, Duration::from_secs(1)),
            uploads: Rate::new(10, Duration::from_secs(1)),
        });
        limiter.acquire(1, 0).await;
        let start = Instant::now();
        limiter.throttled(Some(Duration::from_secs(3)));
        limiter.acquire(1, 0).await;
        assert!(start.elapsed() >= Duration::from_secs(3));
        assert_eq!(limiter.throttled_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn as_a_throttle_each_attempt_is_a_request_and_only_a_429_slows_the_run() {
        let limiter = RateLimiter::new(RateLimits {
            requests: Rate::new(2, Duration::from_secs(1)),
            uploads: Rate::new(1, Duration::from_secs(60)),
        });
        let throttle: &dyn Throttle = &limiter;
        let start = Instant::now();
        for _ in 0..3 {
            throttle.acquire().await;
        }
        // One at once, then one every 500 ms; the upload bucket is left alone.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        throttle.failed(Some(500), Some(Duration::from_secs(9)));
        throttle.failed(None, None);
        assert_eq!(limiter.throttled_count(), 0);
        throttle.failed(Some(429), Some(Duration::from_secs(3)));
        assert_eq!(limiter.throttled_count(), 1);
        let paused = Instant::now();
        throttle.acquire().await;
        assert!(paused.elapsed() >= Duration::from_secs(3));
    }
}
