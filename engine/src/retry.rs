//! When to try a call again, how long to wait first, and the one loop that does it
//! ([`RetryContext::run`]), modelled on object_store's `client/retry.rs`. Uploads, the folder
//! tree's calls and the token endpoint all go through it.
//!
//! What is retried is the failure's to say ([`Failure::is_retryable`]); for the API's calls
//! (`CallError`): 429, 5xx, timeouts, connection failures, an unreachable token endpoint, and
//! Box's "try later" 409s (`name_temporarily_reserved`, `operation_blocked_temporary`). Never
//! another 4xx, except a 401 when the credentials can renew the token: the HTTP core renews it
//! on the 401 but cannot replay a streamed body (a part, a direct upload), so the call is made
//! again at once with a new body from the same bytes, outside the attempt budget; a 401 right
//! after such a retry is final (the renewed token was refused too). The wait is the
//! server's `retry-after` when it sent one (parsed without regard to header case, seconds or
//! HTTP-date, by `box_uploads_runtime::retry_after`), else a capped exponential back-off with
//! jitter ([`RetryPolicy::jittered_backoff`], the one back-off of the crate). A call stops being
//! retried when its attempt budget OR its total deadline is used up.
//!
//! A [`Throttle`] (the folder tree's rate limiter) is asked before every attempt and told of
//! every failure, so that one 429 slows every call that shares it.
//!
//! The loop knows no caller: what it reports ([`RetryEvent`]) goes to a [`RetryObserver`], and
//! what cancels it is a [`CancelSignal`]; the upload's progress reporter and cancellation
//! implement them, so this module imports nothing of `upload` (which imports it).

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;

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

    /// [`backoff`](Self::backoff) with jitter: what is really waited after `attempt` failures
    /// when the server said nothing.
    pub(crate) fn jittered_backoff(&self, attempt: u32) -> Duration {
        jittered(self.backoff(attempt))
    }
}

/// "Equal jitter": half the back-off fixed, half random, so waits spread out but never collapse
/// to zero.
fn jittered(base: Duration) -> Duration {
    let half = base / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(fastrand::u64(0..=nanos))
}

/// A failed attempt, as the retry loop sees it. Implemented by the API calls' `CallError` (the
/// uploads and the folder tree) and by the token endpoint's failures.
pub(crate) trait Failure: Sized {
    /// What a call ends in when it fails for good.
    type Final;

    /// The same request may succeed later.
    fn is_retryable(&self) -> bool;
    /// How long the server asked to wait, if it did.
    fn retry_after(&self) -> Option<Duration>;
    /// The HTTP status, when the server answered.
    fn status(&self) -> Option<u16>;
    /// The request may have done what was asked although no success answer arrived.
    fn may_have_taken_effect(&self) -> bool {
        false
    }
    /// A short reason for progress events and logs.
    fn reason(&self) -> String;
    /// The error of a call that gave up with this failure after `attempts` attempts.
    fn gave_up(self, operation: &'static str, attempts: u32) -> Self::Final;
    /// The error of a call cancelled while it was being made or waited for.
    fn cancelled() -> Self::Final;
}

/// What the retry loop reports before it waits. The upload reports it as a progress event of
/// the same name and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RetryEvent {
    /// A failed attempt is tried again after `wait`.
    Retry {
        /// The API call.
        operation: &'static str,
        /// The attempt that failed, from 1.
        attempt: u32,
        /// Why it failed.
        reason: String,
        /// The wait before the next attempt.
        wait: Duration,
    },
    /// Not done yet (a commit answered 202): tried again after `wait`.
    CommitPending {
        /// The waits of this kind so far.
        attempt: u32,
        /// The wait before trying again.
        wait: Duration,
    },
}

/// Logs a retry as a debug event with separate fields (`operation`, `attempt`, `reason`,
/// `wait_ms`, and `wait` as its `Debug` text) and a readable message, so a subscriber reads the
/// fields instead of parsing the text. Logged under the current span (an upload's `part` or
/// `commit`), by the retry loop and by an upload's progress alike.
pub(crate) fn log_retry(operation: &str, attempt: u32, reason: &str, wait: Duration) {
    tracing::debug!(
        operation,
        attempt,
        reason,
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        wait = ?wait,
        "attempt {attempt} of {operation} failed ({reason}); retrying in {wait:?}"
    );
}

/// Where a [`RetryContext`] reports its retries and waits (an upload's progress reporter).
pub(crate) trait RetryObserver: Sync {
    /// A retry or a wait is about to start.
    fn retrying(&self, event: RetryEvent);
}

/// What stops a [`RetryContext`] (an upload's cancellation): during an attempt, a throttle's
/// wait or a back-off.
pub(crate) trait CancelSignal: Sync {
    /// Resolves once the call is to stop (and never, if it is not).
    fn cancelled(&self) -> BoxFuture<'_, ()>;
}

/// Spaces the calls that share it (the folder tree's rate limiter): asked before every attempt,
/// told of every failure.
pub(crate) trait Throttle: Send + Sync {
    /// Resolves when the next attempt may be sent.
    fn acquire(&self) -> BoxFuture<'_, ()>;
    /// An attempt failed: with the answer's `status` (`None`: no answer) and the `retry-after`
    /// the server sent. A 429 should slow every call that shares the throttle.
    fn failed(&self, status: Option<u16>, retry_after: Option<Duration>);
}

/// The budget of one call: the attempts made and the time spent, against the policy.
#[derive(Debug)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
    /// The longest `retry-after` honoured (longer ones are waited this long).
    max_retry_after: Option<Duration>,
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
            max_retry_after: None,
        }
    }

    /// Counts an attempt made.
    pub(crate) fn attempt(&mut self) {
        self.attempts += 1;
    }

    /// How long to wait before trying again after `err`, or why not to.
    pub(crate) fn next_wait<E: Failure>(&self, err: &E) -> Result<Duration, GiveUp> {
        if !err.is_retryable() {
            return Err(GiveUp::NotRetryable);
        }
        if self.attempts >= self.policy.max_attempts {
            return Err(GiveUp::AttemptsUsed);
        }
        let wait = match err.retry_after() {
            Some(wait) => self.max_retry_after.map_or(wait, |cap| wait.min(cap)),
            None => self.policy.jittered_backoff(self.attempts.max(1)),
        };
        if self.started.elapsed().saturating_add(wait) > self.policy.deadline {
            return Err(GiveUp::DeadlinePassed);
        }
        Ok(wait)
    }
}

/// How calls are retried: under which policy, where retries are reported, what spaces the
/// attempts and what cancels the waiting. Cheap to copy; each [`RetryContext::run`] is one call
/// with a budget of its own.
#[derive(Clone, Copy)]
pub(crate) struct RetryContext<'a> {
    policy: &'a RetryPolicy,
    reporter: Option<&'a dyn RetryObserver>,
    cancel: Option<&'a dyn CancelSignal>,
    throttle: Option<&'a dyn Throttle>,
    /// The credentials can renew a refused token: a 401 is worth one more attempt.
    renewing: bool,
    max_retry_after: Option<Duration>,
}

/// One attempt at a call, as [`RetryContext::run`] hands it to the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// 1 for the first call, counting every call made (waits included).
    pub number: u32,
    started: Instant,
    /// The last attempt whose failure may have taken effect (see
    /// [`Failure::may_have_taken_effect`]).
    last_ambiguous: Option<u32>,
}

impl Attempt {
    /// Time since the first attempt started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Some earlier attempt failed in a way that may have done what was asked: a success may
    /// already be stored.
    pub(crate) fn after_ambiguous_failure(&self) -> bool {
        self.last_ambiguous.is_some()
    }

    /// The attempt just before this one failed in a way that may have done what was asked.
    pub(crate) fn right_after_ambiguous_failure(&self) -> bool {
        self.last_ambiguous.is_some_and(|n| n + 1 == self.number)
    }
}

/// What an attempt came to. `E` is the call's failure (for an API call, `CallError`, which gives
/// up with an `UploadError`).
pub(crate) enum Step<T, E: Failure> {
    /// Done: the call succeeded, or its effect was found.
    Done(T),
    /// The call failed: tried again if the failure is transient and the budget allows.
    Failed(E),
    /// Not done, but not a failure either (a commit answered 202): tried again after `wait`,
    /// outside the attempt budget, once `event` is reported.
    Wait { wait: Duration, event: RetryEvent },
    /// Failed for good, whatever the budget.
    Stop(E::Final),
}

impl<T, E: Failure> From<Result<T, E>> for Step<T, E> {
    fn from(result: Result<T, E>) -> Self {
        match result {
            Ok(v) => Step::Done(v),
            Err(e) => Step::Failed(e),
        }
    }
}

impl<'a> RetryContext<'a> {
    /// Retries under `policy`, silently, unthrottled, and never cancelled.
    pub(crate) fn new(policy: &'a RetryPolicy) -> Self {
        RetryContext {
            policy,
            reporter: None,
            cancel: None,
            throttle: None,
            renewing: false,
            max_retry_after: None,
        }
    }

    /// Tries a call that was answered 401 once more (the core renewed the token meanwhile), when
    /// `renewing`: the credentials can renew tokens.
    pub(crate) fn renewing_credentials(self, renewing: bool) -> Self {
        RetryContext { renewing, ..self }
    }

    /// Reports every retry and wait to `reporter`.
    pub(crate) fn reporting(self, reporter: &'a dyn RetryObserver) -> Self {
        RetryContext {
            reporter: Some(reporter),
            ..self
        }
    }

    /// Stops with [`Failure::cancelled`] as soon as `cancel` fires, during an attempt, a
    /// throttle's wait or a back-off.
    pub(crate) fn cancellable(self, cancel: &'a dyn CancelSignal) -> Self {
        RetryContext {
            cancel: Some(cancel),
            ..self
        }
    }

    /// Waits for `throttle` before every attempt and tells it of every failure.
    pub(crate) fn throttled(self, throttle: &'a dyn Throttle) -> Self {
        RetryContext {
            throttle: Some(throttle),
            ..self
        }
    }

    /// Waits at most `cap` when the server's `retry-after` asks for more (for calls that some
    /// caller is waiting on, such as a token request).
    pub(crate) fn retry_after_at_most(self, cap: Duration) -> Self {
        RetryContext {
            max_retry_after: Some(cap),
            ..self
        }
    }

    /// Makes a plain call to `operation` until it succeeds, is not retryable, or the budget is
    /// used.
    pub(crate) async fn call<T, E, F, Fut>(
        self,
        operation: &'static str,
        mut call: F,
    ) -> Result<T, E::Final>
    where
        E: Failure,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run(operation, |_| call().map(Step::from)).await
    }

    /// Runs `fut` unless the context is cancelled first.
    async fn unless_cancelled<R, E: Failure>(
        &self,
        fut: impl Future<Output = R>,
    ) -> Result<R, E::Final> {
        match self.cancel {
            Some(cancel) => tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(E::cancelled()),
                r = fut => Ok(r),
            },
            None => Ok(fut.await),
        }
    }

    /// The retry loop: an attempt (after the throttle's leave); on a transient failure, the wait
    /// (the server's `retry-after` or the back-off), a [`RetryEvent::Retry`], and a sleep;
    /// again. Gives up with [`Failure::gave_up`] naming `operation` and the calls made (for an
    /// API call: [`UploadErrorKind::Api`](crate::upload::UploadErrorKind::Api)).
    ///
    /// Each attempt is a future of its own, owning what it needs (not borrowing from `attempt`):
    /// futures borrowing from an async closure cannot yet be proven `Send` when spawned.
    pub(crate) async fn run<T, E, F, Fut>(
        self,
        operation: &'static str,
        mut attempt: F,
    ) -> Result<T, E::Final>
    where
        E: Failure,
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Step<T, E>>,
    {
        let mut budget = Retrier::new(self.policy);
        budget.max_retry_after = self.max_retry_after;
        let mut this = Attempt {
            number: 0,
            started: budget.started,
            last_ambiguous: None,
        };
        // The previous attempt was the retry of a 401: another 401 now is final.
        let mut retried_unauthorized = false;
        loop {
            this.number += 1;
            let step = self
                .unless_cancelled::<_, E>(async {
                    if let Some(throttle) = self.throttle {
                        throttle.acquire().await;
                    }
                    attempt(this).await
                })
                .await?;
            if let (Step::Failed(err), Some(throttle)) = (&step, self.throttle) {
                throttle.failed(err.status(), err.retry_after());
            }
            let (wait, event) = match step {
                Step::Done(v) => return Ok(v),
                Step::Stop(e) => return Err(e),
                Step::Wait { wait, event } => {
                    retried_unauthorized = false;
                    (wait, event)
                }
                Step::Failed(err) if self.renewing && err.status() == Some(401) => {
                    if retried_unauthorized {
                        return Err(err.gave_up(operation, this.number));
                    }
                    retried_unauthorized = true;
                    tracing::debug!(
                        operation,
                        attempt = this.number,
                        "HTTP 401: the token was renewed; sending again"
                    );
                    let event = RetryEvent::Retry {
                        operation,
                        attempt: this.number,
                        reason: err.reason(),
                        wait: Duration::ZERO,
                    };
                    (Duration::ZERO, event)
                }
                Step::Failed(err) => {
                    retried_unauthorized = false;
                    budget.attempt();
                    let Ok(wait) = budget.next_wait(&err) else {
                        return Err(err.gave_up(operation, this.number));
                    };
                    if err.may_have_taken_effect() {
                        this.last_ambiguous = Some(this.number);
                    }
                    let event = RetryEvent::Retry {
                        operation,
                        attempt: this.number,
                        reason: err.reason(),
                        wait,
                    };
                    (wait, event)
                }
            };
            match self.reporter {
                Some(reporter) => reporter.retrying(event),
                None => match &event {
                    RetryEvent::Retry {
                        operation,
                        attempt,
                        reason,
                        wait,
                    } => log_retry(operation, *attempt, reason, *wait),
                    RetryEvent::CommitPending { .. } => tracing::debug!(?event, "retrying"),
                },
            }
            if !wait.is_zero() {
                self.unless_cancelled::<_, E>(tokio::time::sleep(wait))
                    .await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::fake_answers::{answer, answer_with};
    use crate::upload::{CallError, CallErrorKind};

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
            answer(429, Some("rate_limit_exceeded")),
            answer(500, None),
            answer(503, None),
            CallError::timeout(Duration::from_secs(1)),
            CallError::new(CallErrorKind::Connection, "reset"),
            CallError::new(CallErrorKind::Connect, "refused"),
        ] {
            assert!(r.next_wait(&retryable).is_ok(), "{retryable:?}");
        }
        for fatal in [400, 401, 403, 404, 409, 412, 416] {
            assert_eq!(r.next_wait(&answer(fatal, None)), Err(GiveUp::NotRetryable));
        }
        assert_eq!(
            r.next_wait(&CallError::new(CallErrorKind::Decode, "bad json")),
            Err(GiveUp::NotRetryable)
        );
    }

    #[test]
    fn box_409s_that_mean_later_are_retried_other_409s_are_not() {
        let mut r = Retrier::new(&policy());
        r.attempt();
        for later in ["name_temporarily_reserved", "operation_blocked_temporary"] {
            assert!(r.next_wait(&answer(409, Some(later))).is_ok(), "{later}");
        }
        assert_eq!(
            r.next_wait(&answer(409, Some("item_name_in_use"))),
            Err(GiveUp::NotRetryable)
        );
        assert!(answer(409, Some("name_temporarily_reserved")).may_have_taken_effect());
        assert!(!answer(409, Some("operation_blocked_temporary")).may_have_taken_effect());
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let mut r = Retrier::new(&policy());
        r.attempt();
        let e = answer_with(429, None, Some("7"), None);
        assert_eq!(r.next_wait(&e), Ok(Duration::from_secs(7)));
    }

    #[test]
    fn attempt_budget_and_deadline_both_stop_retries() {
        let mut r = Retrier::new(&policy());
        let e = answer(500, None);
        for _ in 0..4 {
            r.attempt();
        }
        assert_eq!(r.next_wait(&e), Err(GiveUp::AttemptsUsed));

        let mut r = Retrier::new(&RetryPolicy {
            deadline: Duration::from_secs(5),
            ..policy()
        });
        r.attempt();
        let slow = answer_with(503, None, Some("10"), None);
        assert_eq!(r.next_wait(&slow), Err(GiveUp::DeadlinePassed));
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
            deadline: Duration::from_secs(30),
        }
    }

    /// Records what a retry context reports, in order.
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<RetryEvent>>);

    impl RetryObserver for Recorder {
        fn retrying(&self, event: RetryEvent) {
            self.events().push(event);
        }
    }

    impl Recorder {
        fn events(&self) -> std::sync::MutexGuard<'_, Vec<RetryEvent>> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    fn retries_reported(events: &Recorder) -> Vec<u32> {
        let mut attempts = Vec::new();
        for e in events.events().iter() {
            if let RetryEvent::Retry { attempt, .. } = e {
                attempts.push(*attempt);
            }
        }
        attempts
    }

    /// Fires once `true` is sent; never if the sender is dropped first.
    struct Switch(tokio::sync::watch::Receiver<bool>);

    impl CancelSignal for Switch {
        fn cancelled(&self) -> BoxFuture<'_, ()> {
            let mut rx = self.0.clone();
            async move {
                if rx.wait_for(|c| *c).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn run_reports_each_retry_and_gives_up_naming_the_calls_made() {
        let reporter = Recorder::default();
        let policy = quick();
        let err = RetryContext::new(&policy)
            .reporting(&reporter)
            .call("op", || async { Err::<(), _>(answer(500, None)) })
            .await
            .expect_err("always 500");
        assert_eq!(
            err.kind(),
            &crate::upload::UploadErrorKind::Api {
                operation: "op",
                attempts: 3
            }
        );
        assert_eq!(err.status(), Some(500));
        assert_eq!(retries_reported(&reporter), [1, 2]);
    }

    #[tokio::test]
    async fn a_fatal_answer_is_not_retried() {
        let policy = quick();
        let mut calls = 0;
        let err = RetryContext::new(&policy)
            .call("op", || {
                calls += 1;
                async { Err::<(), _>(answer(404, Some("not_found"))) }
            })
            .await
            .expect_err("404");
        assert_eq!((calls, err.code()), (1, Some("not_found")));
    }

    #[tokio::test]
    async fn waits_are_reported_but_do_not_spend_the_budget() {
        let reporter = Recorder::default();
        let policy = RetryPolicy {
            max_attempts: 1,
            ..quick()
        };
        let mut calls = 0;
        let done = RetryContext::new(&policy)
            .reporting(&reporter)
            .run("op", |attempt| {
                calls += 1;
                let step: Step<u32, CallError> = if attempt.number < 4 {
                    Step::Wait {
                        wait: Duration::from_millis(1),
                        event: RetryEvent::CommitPending {
                            attempt: attempt.number,
                            wait: Duration::from_millis(1),
                        },
                    }
                } else {
                    Step::Done(attempt.number)
                };
                async move { step }
            })
            .await
            .expect("done after the waits");
        assert_eq!((done, calls), (4, 4));
        let mut pending = 0;
        for e in reporter.events().iter() {
            pending += u32::from(matches!(e, RetryEvent::CommitPending { .. }));
        }
        assert_eq!(pending, 3);
    }

    #[tokio::test]
    async fn attempts_learn_whether_an_earlier_failure_may_have_taken_effect() {
        let policy = quick();
        let mut seen = Vec::new();
        RetryContext::new(&policy)
            .run("op", |attempt| {
                seen.push((
                    attempt.after_ambiguous_failure(),
                    attempt.right_after_ambiguous_failure(),
                ));
                let step = match attempt.number {
                    1 => Step::Failed(answer(503, None)),
                    2 => Step::Failed(answer(429, None)),
                    _ => Step::Done(()),
                };
                async move { step }
            })
            .await
            .expect("third time lucky");
        assert_eq!(seen, [(false, false), (true, true), (true, false)]);
    }

    #[tokio::test]
    async fn a_401_is_tried_once_more_when_the_token_can_be_renewed() {
        let reporter = Recorder::default();
        let policy = RetryPolicy {
            max_attempts: 1,
            ..quick()
        };
        let mut calls = 0;
        let done = RetryContext::new(&policy)
            .reporting(&reporter)
            .renewing_credentials(true)
            .run("upload_part", |attempt| {
                calls += 1;
                let step = match attempt.number {
                    1 => Step::Failed(answer(401, None)),
                    _ => Step::Done("stored"),
                };
                async move { step }
            })
            .await
            .expect("the second attempt, with the renewed token, works");
        assert_eq!((done, calls), ("stored", 2));
        assert_eq!(retries_reported(&reporter), [1], "outside the budget of 1");
    }

    #[tokio::test]
    async fn a_401_right_after_a_401_retry_is_final() {
        let policy = quick();
        let mut calls = 0;
        let err = RetryContext::new(&policy)
            .renewing_credentials(true)
            .call("upload_file", || {
                calls += 1;
                async { Err::<(), _>(answer(401, Some("unauthorized"))) }
            })
            .await
            .expect_err("refused twice");
        assert_eq!((calls, err.status()), (2, Some(401)));
    }

    #[tokio::test]
    async fn a_401_after_other_failures_is_tried_again() {
        let policy = RetryPolicy {
            max_attempts: 5,
            ..quick()
        };
        let mut calls = 0;
        RetryContext::new(&policy)
            .renewing_credentials(true)
            .run("upload_part", |attempt| {
                calls += 1;
                let step = match attempt.number {
                    1 | 3 => Step::Failed(answer(401, None)),
                    2 => Step::Failed(answer(503, None)),
                    _ => Step::Done(()),
                };
                async move { step }
            })
            .await
            .expect("each 401 follows something else");
        assert_eq!(calls, 4);
    }

    #[tokio::test]
    async fn a_401_is_final_when_the_token_cannot_be_renewed() {
        let policy = quick();
        let mut calls = 0;
        let err = RetryContext::new(&policy)
            .call("upload_file", || {
                calls += 1;
                async { Err::<(), _>(answer(401, None)) }
            })
            .await
            .expect_err("a fixed token");
        assert_eq!((calls, err.status()), (1, Some(401)));
    }

    #[tokio::test]
    async fn an_unreachable_token_endpoint_is_retried_a_refused_grant_is_not() {
        use box_uploads_runtime::{CredentialsError, CredentialsErrorKind};
        let policy = quick();
        for (kind, expected_calls) in [
            (CredentialsErrorKind::Unavailable, 3),
            (CredentialsErrorKind::Refused, 1),
            (CredentialsErrorKind::Rejected, 1),
        ] {
            let mut calls = 0;
            let err = RetryContext::new(&policy)
                .renewing_credentials(true)
                .call("upload_part", || {
                    calls += 1;
                    let e = CallError::failure(
                        CallErrorKind::Credentials,
                        CredentialsError::new(kind, "no token"),
                    );
                    async { Err::<(), _>(e) }
                })
                .await
                .expect_err("never a token");
            assert_eq!(calls, expected_calls, "{kind:?}");
            let call = err.call_error().expect("the call error");
            assert_eq!(call.credentials_error().map(|c| c.kind()), Some(kind));
        }
    }

    #[tokio::test]
    async fn a_cancel_cuts_the_wait_short() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let cancel = Switch(rx);
        let policy = quick();
        let started = Instant::now();
        let run = RetryContext::new(&policy)
            .cancellable(&cancel)
            .call("op", || async {
                Err::<(), _>(answer_with(429, None, Some("10"), None))
            });
        let cancel_soon = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = tx.send(true);
        };
        let (result, ()) = tokio::join!(run, cancel_soon);
        assert!(result.expect_err("cancelled").is_cancelled());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// Counts what a throttle is asked and told.
    #[derive(Default)]
    struct Counting {
        acquired: std::sync::atomic::AtomicU32,
        failures: std::sync::Mutex<Vec<(Option<u16>, Option<Duration>)>>,
    }

    impl Throttle for Counting {
        fn acquire(&self) -> BoxFuture<'_, ()> {
            self.acquired
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::pin(async {})
        }
        fn failed(&self, status: Option<u16>, retry_after: Option<Duration>) {
            self.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((status, retry_after));
        }
    }

    #[tokio::test]
    async fn a_throttle_is_asked_before_every_attempt_and_told_every_failure() {
        let throttle = Counting::default();
        let policy = quick();
        RetryContext::new(&policy)
            .throttled(&throttle)
            .run("list_folder_items", |attempt| {
                let step = match attempt.number {
                    1 => Step::Failed(answer_with(429, None, Some("0"), None)),
                    2 => Step::Failed(CallError::timeout(Duration::from_secs(1))),
                    _ => Step::Done(()),
                };
                async move { step }
            })
            .await
            .expect("third time lucky");
        assert_eq!(
            throttle.acquired.load(std::sync::atomic::Ordering::Relaxed),
            3
        );
        let failures = throttle.failures.lock().expect("failures").clone();
        assert_eq!(failures, [(Some(429), Some(Duration::ZERO)), (None, None)]);
    }

    #[tokio::test]
    async fn a_long_retry_after_can_be_capped() {
        let policy = RetryPolicy {
            max_attempts: 2,
            ..quick()
        };
        let started = tokio::time::Instant::now();
        tokio::time::pause();
        RetryContext::new(&policy)
            .retry_after_at_most(Duration::from_secs(2))
            .run("request_access_token", |attempt| {
                let step = match attempt.number {
                    1 => Step::Failed(answer_with(429, None, Some("600"), None)),
                    _ => Step::Done(()),
                };
                async move { step }
            })
            .await
            .expect("after the capped wait");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }
}
