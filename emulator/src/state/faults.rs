//! Injected faults and rate limits: the settings in force, the seeded draws that decide
//! each fault reproducibly, the rate-limit windows, and the answers they give.

use super::{lock, Shared};
use crate::config::{FaultConfig, RateLimit};
use crate::counters::InjectedCounters;
use crate::error::ApiError;
use crate::util;
use axum::http::{header, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// The request-level faults: each is drawn from (seed, its kind, how many times it was drawn
/// before), so the same requests in the same order meet the same faults. Each has its
/// probability in [`FaultConfig`], its counter in [`InjectedCounters`] and its answer, all
/// named here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestFault {
    Request503 = 0,
    Request502 = 1,
    NameTemporarilyReserved = 2,
    OperationBlocked = 3,
    Direct500AfterStore = 4,
    Write503AfterStore = 5,
    CommitDropAfterStore = 6,
}

/// The number of [`RequestFault`] kinds.
const REQUEST_FAULT_KINDS: usize = 7;

impl RequestFault {
    /// How likely the fault is under `f`.
    fn probability(self, f: &FaultConfig) -> f64 {
        match self {
            RequestFault::Request503 => f.request_503,
            RequestFault::Request502 => f.request_502,
            RequestFault::NameTemporarilyReserved => f.name_temporarily_reserved,
            RequestFault::OperationBlocked => f.operation_blocked,
            RequestFault::Direct500AfterStore => f.direct_500_after_store,
            RequestFault::Write503AfterStore => f.write_503_after_store,
            RequestFault::CommitDropAfterStore => f.commit_drop_after_store,
        }
    }

    /// The counter of the fault in [`InjectedCounters`].
    fn counter(self, c: &mut InjectedCounters) -> &mut u64 {
        match self {
            RequestFault::Request503 => &mut c.request_503,
            RequestFault::Request502 => &mut c.request_502,
            RequestFault::NameTemporarilyReserved => &mut c.name_temporarily_reserved,
            RequestFault::OperationBlocked => &mut c.operation_blocked,
            RequestFault::Direct500AfterStore => &mut c.direct_500_after_store,
            RequestFault::Write503AfterStore => &mut c.write_503_after_store,
            RequestFault::CommitDropAfterStore => &mut c.commit_drop_after_store,
        }
    }

    /// Box's answer when the fault fires (the messages of Box's common-errors guide). A
    /// dropped commit gets none: its connection is dropped (a 500 where it cannot be).
    fn answer(self, f: &FaultConfig) -> ApiError {
        match self {
            RequestFault::Request503 | RequestFault::Write503AfterStore => {
                ApiError::unavailable(f.retry_after_503_secs)
            }
            RequestFault::Request502 => {
                ApiError::new(StatusCode::BAD_GATEWAY, "bad_gateway", "Bad Gateway")
            }
            RequestFault::NameTemporarilyReserved => ApiError::new(
                StatusCode::CONFLICT,
                "name_temporarily_reserved",
                "The item name is reserved by another processing item. Wait and then retry the request, or wait and check the parent folder to see if the name is in use.",
            ),
            RequestFault::OperationBlocked => ApiError::new(
                StatusCode::CONFLICT,
                "operation_blocked_temporary",
                "The operation is blocked by another ongoing operation",
            ),
            RequestFault::Direct500AfterStore | RequestFault::CommitDropAfterStore => {
                ApiError::internal("Internal Server Error")
            }
        }
    }
}

/// The fault a part upload meets, drawn per attempt by [`part_fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PartFault {
    None,
    ResetMidBody,
    Fail500Before,
    Fail500After,
    DropAfter,
}

impl PartFault {
    /// The counter of the fault in [`InjectedCounters`] (none for [`PartFault::None`]).
    fn counter(self, c: &mut InjectedCounters) -> Option<&mut u64> {
        match self {
            PartFault::None => None,
            PartFault::ResetMidBody => Some(&mut c.part_reset_mid_body),
            PartFault::Fail500Before => Some(&mut c.part_500_before_store),
            PartFault::Fail500After => Some(&mut c.part_500_after_store),
            PartFault::DropAfter => Some(&mut c.part_drop_after_store),
        }
    }
}

/// Draws the fault for one attempt at one part. Keyed by (seed, session sequence number,
/// part index, attempt number), so the outcome does not depend on arrival order.
pub(crate) fn part_fault(
    seed: u64,
    f: &FaultConfig,
    seq: u64,
    index: u64,
    attempt: u32,
) -> PartFault {
    let draw =
        |kind: u64| util::unit_float(util::mix(&[seed, kind, seq, index, u64::from(attempt)]));
    if f.part_reset_mid_body > 0.0 && draw(1) < f.part_reset_mid_body {
        PartFault::ResetMidBody
    } else if f.part_500_before_store > 0.0 && draw(2) < f.part_500_before_store {
        PartFault::Fail500Before
    } else if f.part_500_after_store > 0.0 && draw(3) < f.part_500_after_store {
        PartFault::Fail500After
    } else if f.part_drop_after_store > 0.0 && draw(4) < f.part_drop_after_store {
        PartFault::DropAfter
    } else {
        PartFault::None
    }
}

/// Fixed-window rate limiter state.
struct RateWindow {
    start: tokio::time::Instant,
    count: u64,
}

impl RateWindow {
    fn new() -> Mutex<RateWindow> {
        Mutex::new(RateWindow {
            start: tokio::time::Instant::now(),
            count: 0,
        })
    }
}

/// The fault settings in force and what their draws and windows have counted so far.
pub(crate) struct FaultState {
    settings: RwLock<FaultConfig>,
    /// How many times each request-level fault was drawn.
    draws: [AtomicU64; REQUEST_FAULT_KINDS],
    /// The window of `rate_limit` (every API request).
    rate: Mutex<RateWindow>,
    /// The window of `rate_limit_uploads` (direct uploads and session creations).
    upload_rate: Mutex<RateWindow>,
    /// API requests still to let through before `expire-tokens` fires.
    expire_countdown: Mutex<Option<u64>>,
}

impl FaultState {
    pub(super) fn new(settings: FaultConfig) -> FaultState {
        FaultState {
            settings: RwLock::new(settings),
            draws: Default::default(),
            rate: RateWindow::new(),
            upload_rate: RateWindow::new(),
            expire_countdown: Mutex::new(None),
        }
    }
}

impl Shared {
    /// The fault settings in force.
    pub fn faults(&self) -> FaultConfig {
        self.faults
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the fault settings. `expire_tokens: Some(0)` runs at once and is cleared;
    /// `Some(N)` starts its countdown. Both rate-limit windows start afresh.
    pub fn set_faults(&self, mut faults: FaultConfig) {
        for window in [&self.faults.rate, &self.faults.upload_rate] {
            let mut w = lock(window);
            w.start = tokio::time::Instant::now();
            w.count = 0;
        }
        let mut countdown = lock(&self.faults.expire_countdown);
        *countdown = faults.expire_tokens;
        if faults.expire_tokens == Some(0) {
            faults.expire_tokens = None;
            *countdown = None;
            self.expire_tokens();
        }
        *self
            .faults
            .settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// Counts one API request against a pending `expire-tokens=N`, firing it when due.
    pub fn tick_expire_countdown(&self) {
        let mut countdown = lock(&self.faults.expire_countdown);
        match *countdown {
            None => {}
            Some(0) => {
                *countdown = None;
                self.expire_tokens();
                self.faults
                    .settings
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .expire_tokens = None;
            }
            Some(n) => *countdown = Some(n - 1),
        }
    }

    /// Whether request fault `kind` fires this time, counted when it does. Drawn from (seed,
    /// kind, how many times it was drawn before); a probability of 0 draws nothing.
    pub fn fires(&self, kind: RequestFault, faults: &FaultConfig) -> bool {
        let p = kind.probability(faults);
        if p <= 0.0 {
            return false;
        }
        let n = self.faults.draws[kind as usize].fetch_add(1, Ordering::Relaxed);
        let fired =
            p >= 1.0 || util::unit_float(util::mix(&[self.config.seed, 100 + kind as u64, n])) < p;
        if fired {
            *kind.counter(&mut self.counters().injected) += 1;
        }
        fired
    }

    /// Request fault `kind`'s answer if it fires this time.
    pub fn inject(&self, kind: RequestFault, faults: &FaultConfig) -> Result<(), ApiError> {
        if self.fires(kind, faults) {
            return Err(kind.answer(faults));
        }
        Ok(())
    }

    /// Counts part fault `fault` as acted on (when its part upload meets it).
    pub fn count_part_fault(&self, fault: PartFault) {
        if let Some(n) = fault.counter(&mut self.counters().injected) {
            *n += 1;
        }
    }

    /// The injected `502`/`503` answered to any API request (after authentication and the rate
    /// limit, before the request does anything). On Box these come from its front end;
    /// whether they precede authentication there is unknown, and it makes no difference to a
    /// client that has a valid token.
    pub fn check_gateway_faults(&self, faults: &FaultConfig) -> Result<(), ApiError> {
        self.inject(RequestFault::Request503, faults)?;
        self.inject(RequestFault::Request502, faults)
    }

    /// The injected `409`s of a request that writes into a folder: `name_temporarily_reserved`
    /// (direct uploads and session creations: Box's answer while a duplicate request for the
    /// name is in flight) when `name_reserved` is set, and `operation_blocked_temporary`
    /// (those and commits: a move or copy holds the folder). Nothing has been stored.
    pub fn check_folder_faults(
        &self,
        faults: &FaultConfig,
        name_reserved: bool,
    ) -> Result<(), ApiError> {
        if name_reserved {
            self.inject(RequestFault::NameTemporarilyReserved, faults)?;
        }
        self.inject(RequestFault::OperationBlocked, faults)
    }

    /// The request limit (`rate_limit`): every API request counts.
    pub fn check_rate(&self, faults: &FaultConfig) -> Result<(), ApiError> {
        let Some(rl) = faults.rate_limit else {
            return Ok(());
        };
        take_from_window(&self.faults.rate, rl).inspect_err(|_| {
            let mut c = self.counters();
            c.injected.rate_limited += 1;
            c.injected.rate_limited_requests += 1;
        })
    }

    /// The upload limit (`rate_limit_uploads`), checked by direct uploads and session
    /// creations after the request limit (so an upload also counts toward the request
    /// limit, and a request refused by that one does not count here). Box's rate-limit guide:
    /// "240 file upload requests per minute per user"; which requests it counts is not
    /// documented beyond that (whether parts do is unconfirmed), and the emulator counts the
    /// requests that start an upload.
    pub fn check_upload_rate(&self, faults: &FaultConfig) -> Result<(), ApiError> {
        let Some(rl) = faults.rate_limit_uploads else {
            return Ok(());
        };
        take_from_window(&self.faults.upload_rate, rl).inspect_err(|_| {
            let mut c = self.counters();
            c.injected.rate_limited += 1;
            c.injected.rate_limited_uploads += 1;
        })
    }
}

/// Counts one request in a fixed window of `rl`: Box's `429 rate_limit_exceeded` (its
/// rate-limit guide's body) with `retry-after` in whole seconds, rounded up, until the window
/// ends, when the limit is reached.
fn take_from_window(window: &Mutex<RateWindow>, rl: RateLimit) -> Result<(), ApiError> {
    let length = Duration::from_millis(rl.window_ms.max(1));
    let now = tokio::time::Instant::now();
    let retry_after = {
        let mut w = lock(window);
        if now.duration_since(w.start) >= length {
            w.start = now;
            w.count = 0;
        }
        w.count += 1;
        if w.count <= u64::from(rl.max_requests) {
            return Ok(());
        }
        let remaining = length.saturating_sub(now.duration_since(w.start));
        (remaining.as_secs_f64().ceil() as u64).max(1)
    };
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "Request rate limit exceeded, please try again later",
    )
    .with_header(header::RETRY_AFTER, &retry_after.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const REQUEST_FAULTS: [RequestFault; REQUEST_FAULT_KINDS] = [
        RequestFault::Request503,
        RequestFault::Request502,
        RequestFault::NameTemporarilyReserved,
        RequestFault::OperationBlocked,
        RequestFault::Direct500AfterStore,
        RequestFault::Write503AfterStore,
        RequestFault::CommitDropAfterStore,
    ];

    /// Nothing fires at probability 0; at 1 every fault fires and is counted once, in a
    /// counter of its own that `injected_total` includes. Part faults likewise.
    #[tokio::test]
    async fn each_fault_counts_in_its_own_counter() {
        let dir = tempfile::tempdir().unwrap();
        let st = Shared::open(Config::default(), dir.path().to_path_buf())
            .await
            .unwrap();
        let none = FaultConfig::default();
        for kind in REQUEST_FAULTS {
            assert!(!st.fires(kind, &none), "{kind:?}");
        }
        assert_eq!(st.counters().injected, InjectedCounters::default());
        let all = FaultConfig {
            request_503: 1.0,
            request_502: 1.0,
            name_temporarily_reserved: 1.0,
            operation_blocked: 1.0,
            direct_500_after_store: 1.0,
            write_503_after_store: 1.0,
            commit_drop_after_store: 1.0,
            ..Default::default()
        };
        let mut fired = 0;
        for kind in REQUEST_FAULTS {
            assert!(st.fires(kind, &all), "{kind:?}");
            fired += 1;
            let mut c = st.counters().clone();
            assert_eq!(c.injected_total(), fired, "{kind:?}");
            assert_eq!(*kind.counter(&mut c.injected), 1, "{kind:?}");
        }
        let parts = [
            PartFault::ResetMidBody,
            PartFault::Fail500Before,
            PartFault::Fail500After,
            PartFault::DropAfter,
        ];
        st.count_part_fault(PartFault::None);
        for fault in parts {
            st.count_part_fault(fault);
            fired += 1;
            let mut c = st.counters().clone();
            assert_eq!(c.injected_total(), fired, "{fault:?}");
            assert_eq!(
                fault.counter(&mut c.injected).copied(),
                Some(1),
                "{fault:?}"
            );
        }
    }
}
