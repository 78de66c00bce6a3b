//! How many parts are in flight at once: one [`Parallelism`] per `Uploader`, shared by all its
//! uploads (and its tree uploads). Pinned (`Concurrency::Fixed`) it is a plain semaphore.
//! Adaptive, it is a controller in the manner of TCP Vegas, fed by whole parts:
//!
//! - Each part answered gives one sample: its rate (bytes over the time from its permit to its
//!   answer) and how many parts were in flight on average meanwhile. Only whole parts count:
//!   the bytes a body hands to the HTTP client say little, as socket buffers take several MiB
//!   at once before the network has carried any of it.
//! - `best` is the best rate one part has had: what a connection carries when nothing else
//!   is shared. `parts x (1 - rate / best)` is then how many parts' worth of throughput the
//!   parts in flight did not get: about 0 while each connection is the bottleneck (another
//!   part adds its full rate), and growing by one per part added once a shared link is full.
//! - Below [`QUEUE_LOW`] the limit grows, while parts are waiting for a place (otherwise the
//!   source, hashing or a reader's buffers, is the bound and more places mean nothing): by one
//!   per answered part at first (slow start: the limit doubles per round of parts), then by one
//!   per round. Above [`QUEUE_HIGH`] it shrinks by one, not below the starting value: on a
//!   full link a few extra parts cost nothing (parts of a file on disk are streamed from the
//!   file, not held in memory) and keep it full while others start. Down at the starting
//!   value and still shared, the network got slower: `best` is learnt again.
//! - A 429 halves it, a 5xx or a timeout takes a quarter off (at least 1, once per burst of
//!   failures), and it does not grow again for [`HOLD`].
//! - The end of an upload goes past the limit (never past `max`): once an upload that has a
//!   part in flight has no more than `max` parts left to answer, and no other upload's part
//!   waits for a place, its waiting parts go in flight at once. Parts started together share
//!   the link and finish together, where parts started one by one as places free up leave the
//!   last ones alone on an idle link, each at one connection's rate (a 32 MiB part at 12 MiB/s is 2.7 s of a mostly idle link). A
//!   file of at most `max` parts goes whole, so its first round does not wait for the
//!   controller either. Not while a back-off holds; samples of parts that shared the network
//!   with such parts decide nothing (they measure the tail's crowd, not the limit). Each part
//!   past the limit costs what any part in flight costs: a connection, and for a part of a
//!   file beyond the memory cap about 2 MiB of buffers while it is re-read and sent.
//!
//! The limit changes the permits of one semaphore: growing adds permits, shrinking takes idle
//! ones and owes the rest, which are forgotten as parts finish.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;

use super::Concurrency;

/// Below this many parts' worth of throughput lost to sharing, the limit grows.
const QUEUE_LOW: f64 = 1.0;
/// Above this, the link is full and the limit shrinks by one.
const QUEUE_HIGH: f64 = 3.0;
/// Requests smaller than this say more about round trips than about throughput: their rate is
/// not a sample.
const MIN_SAMPLE: u64 = 64 * 1024;
/// No growth for this long after a back-off on a 429, 5xx or timeout.
pub(crate) const HOLD: Duration = Duration::from_secs(2);

/// Why a part's request says the server or the path is overloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Congestion {
    /// 429: halve.
    RateLimited,
    /// 5xx or a timeout: a quarter fewer.
    Overloaded,
}

/// The congestion a failed call signals, if any: 429, 5xx, or no answer in time.
pub(crate) fn congestion_of(err: &super::calls::CallError) -> Option<Congestion> {
    match err.status() {
        Some(429) => Some(Congestion::RateLimited),
        Some(s) if s >= 500 => Some(Congestion::Overloaded),
        Some(_) => None,
        None => {
            (err.kind() == super::calls::CallErrorKind::Timeout).then_some(Congestion::Overloaded)
        }
    }
}

/// What the parallelism of an uploader is now and has been.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParallelismStats {
    /// Whether it adapts ([`Concurrency::Adaptive`]).
    pub adaptive: bool,
    /// Parts allowed in flight now (the end of an upload may go past it, never past `max`).
    pub limit: usize,
    /// The highest the limit has been.
    pub peak_limit: usize,
    /// Parts (and single-request uploads) in flight now.
    pub in_flight: usize,
    /// The most that were in flight at once.
    pub peak_in_flight: usize,
    /// Times the limit was lowered on a 429, a 5xx or a timeout.
    pub backoffs: u64,
}

/// The shared budget, as one upload holds it ([`Parallelism::for_upload`]). Cheap to clone:
/// clones are the same upload's.
#[derive(Clone)]
pub(crate) struct Parallelism {
    inner: Arc<Inner>,
    upload: Arc<Upload>,
}

/// One upload's parts: in flight, and waiting for a place.
#[derive(Default)]
struct Upload {
    in_flight: AtomicUsize,
    waiting: AtomicUsize,
}

struct Inner {
    permits: Arc<Semaphore>,
    adaptive: bool,
    max: usize,
    /// The delay-based shrink stops here (errors go below it).
    floor: usize,
    state: Mutex<State>,
    /// Told whenever a part leaves the flight or stops waiting: a part waiting may now go past
    /// the limit.
    freed: Notify,
}

struct State {
    limit: usize,
    peak_limit: usize,
    /// Permits to forget as parts finish (the limit was lowered below what is in flight).
    debt: usize,
    in_flight: usize,
    peak_in_flight: usize,
    /// Parts waiting for a place: demand beyond the limit.
    waiting: usize,
    /// Part-seconds in flight since the start, up to `area_at`.
    area: f64,
    area_at: Instant,
    /// Best rate of one whole part, bytes per second (0: none yet).
    best: f64,
    slow_start: bool,
    /// Good samples since the last additive step.
    credit: usize,
    hold_until: Option<Instant>,
    /// Raised by each back-off: failures of parts started before it belong to the same burst.
    epoch: u64,
    backoffs: u64,
    /// Parts in flight past the limit (the ends of uploads).
    past: usize,
    /// Parts that have gone past the limit so far: a sample of a part that saw this change
    /// shared the network with them.
    past_total: u64,
}

impl Parallelism {
    pub(crate) fn new(concurrency: Concurrency) -> Self {
        let initial = concurrency.initial();
        Parallelism {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(initial)),
                adaptive: concurrency.is_adaptive(),
                max: concurrency.ceiling(),
                floor: initial,
                state: Mutex::new(State {
                    limit: initial,
                    peak_limit: initial,
                    debt: 0,
                    in_flight: 0,
                    peak_in_flight: 0,
                    waiting: 0,
                    area: 0.0,
                    area_at: Instant::now(),
                    best: 0.0,
                    slow_start: true,
                    credit: 0,
                    hold_until: None,
                    epoch: 0,
                    backoffs: 0,
                    past: 0,
                    past_total: 0,
                }),
                freed: Notify::new(),
            }),
            upload: Arc::default(),
        }
    }

    /// A handle of the same budget for one upload: its parts in flight are counted apart, so
    /// its end may go past the limit.
    pub(crate) fn for_upload(&self) -> Parallelism {
        Parallelism {
            inner: self.inner.clone(),
            upload: Arc::default(),
        }
    }

    /// Waits for a place in flight (first come, first served), for a request that is not part
    /// of an upload's end.
    #[cfg(test)]
    pub(crate) async fn acquire(&self) -> Permit {
        self.acquire_part(|| None).await
    }

    /// Waits for a place in flight for a part of this upload; `parts_left` says how many of the
    /// upload's parts are not answered yet (`None`: not a chunked upload). First come, first
    /// served, unless the upload's end may go past the limit (see the module's documentation).
    pub(crate) async fn acquire_part(&self, parts_left: impl Fn() -> Option<u64>) -> Permit {
        let inner = &self.inner;
        let freed = inner.freed.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        match inner.permits.clone().try_acquire_owned() {
            Ok(permit) => return self.enter(Some(permit)),
            // The semaphore is never closed; should it be, the part goes without a permit.
            Err(TryAcquireError::Closed) => return self.enter(None),
            Err(TryAcquireError::NoPermits) => {}
        }
        if let Some(permit) = self.pass(&parts_left) {
            return permit;
        }
        let _waiting = Waiting::new(inner, &self.upload);
        let permit = inner.permits.clone().acquire_owned();
        tokio::pin!(permit);
        loop {
            tokio::select! {
                biased;
                permit = &mut permit => return self.enter(permit.ok()),
                () = &mut freed => {
                    freed.set(inner.freed.notified());
                    freed.as_mut().enable();
                    if let Some(permit) = self.pass(&parts_left) {
                        return permit;
                    }
                }
            }
        }
    }

    /// A place past the limit for a part of this upload, if it may have one: the upload has a
    /// part in flight already and no more than `max` parts left, no other upload's part is
    /// waiting (the link has other work then: the limit shares it), fewer than `max` are in
    /// flight, and no back-off holds.
    fn pass(&self, parts_left: &impl Fn() -> Option<u64>) -> Option<Permit> {
        let inner = &self.inner;
        if !inner.adaptive || self.upload.in_flight.load(Ordering::Relaxed) == 0 {
            return None;
        }
        if parts_left().is_none_or(|left| left > inner.max as u64) {
            return None;
        }
        let now = Instant::now();
        let mut st = inner.lock();
        let held = st.hold_until.is_some_and(|t| now < t);
        let others_wait = st.waiting > self.upload.waiting.load(Ordering::Relaxed);
        if st.in_flight >= inner.max || st.debt > 0 || held || others_wait {
            return None;
        }
        st.past += 1;
        st.past_total += 1;
        Some(self.enter_locked(&mut st, now, None, true))
    }

    fn enter(&self, permit: Option<OwnedSemaphorePermit>) -> Permit {
        let now = Instant::now();
        let mut st = self.inner.lock();
        self.enter_locked(&mut st, now, permit, false)
    }

    fn enter_locked(
        &self,
        st: &mut State,
        now: Instant,
        permit: Option<OwnedSemaphorePermit>,
        past: bool,
    ) -> Permit {
        st.account(now);
        st.in_flight += 1;
        st.peak_in_flight = st.peak_in_flight.max(st.in_flight);
        self.upload.in_flight.fetch_add(1, Ordering::Relaxed);
        Permit {
            inner: self.inner.clone(),
            upload: self.upload.clone(),
            permit,
            past,
            epoch: st.epoch,
            started: now,
            area_at_start: st.area,
            past_at_start: st.past_total,
        }
    }

    pub(crate) fn stats(&self) -> ParallelismStats {
        let st = self.inner.lock();
        ParallelismStats {
            adaptive: self.inner.adaptive,
            limit: st.limit,
            peak_limit: st.peak_limit,
            in_flight: st.in_flight,
            peak_in_flight: st.peak_in_flight,
            backoffs: st.backoffs,
        }
    }
}

/// Counts a part waiting for a place while it waits (also when the wait is cancelled), in all
/// and for its upload (under the same lock).
struct Waiting<'a>(&'a Inner, &'a Upload);

impl<'a> Waiting<'a> {
    fn new(inner: &'a Inner, upload: &'a Upload) -> Self {
        let mut st = inner.lock();
        st.waiting += 1;
        upload.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(inner, upload)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        {
            let mut st = self.0.lock();
            st.waiting = st.waiting.saturating_sub(1);
            self.1.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        // One upload's part fewer waiting: another upload's end may go now.
        self.0.freed.notify_waiters();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One decision on a whole part: it moved at `rate` bytes per second while `parts` were in
    /// flight on average.
    fn decide(&self, st: &mut State, now: Instant, rate: f64, parts: f64) {
        st.best = st.best.max(rate);
        let queue = (parts * (1.0 - rate / st.best)).max(0.0);
        tracing::trace!(
            limit = st.limit,
            parts,
            rate,
            best = st.best,
            queue,
            waiting = st.waiting,
            "parallelism sample"
        );
        if queue > QUEUE_HIGH {
            st.slow_start = false;
            if st.limit <= self.floor {
                // As few parts as we start with, and still each gets less than it once did:
                // the network got slower. Learn its rate again.
                st.best = rate;
            } else {
                let limit = st.limit - 1;
                self.resize(st, limit);
            }
        } else if queue < QUEUE_LOW {
            let held = st.hold_until.is_some_and(|t| now < t);
            if held || st.waiting == 0 || st.limit >= self.max {
                return;
            }
            if st.slow_start {
                let limit = st.limit + 1;
                self.resize(st, limit);
            } else {
                st.credit += 1;
                if st.credit >= st.limit {
                    let limit = st.limit + 1;
                    self.resize(st, limit);
                }
            }
        } else {
            st.slow_start = false;
        }
    }

    /// A part of `epoch` met congestion: back off, once per burst.
    fn back_off(&self, epoch: u64, why: Congestion) {
        if !self.adaptive {
            return;
        }
        let now = Instant::now();
        let mut st = self.lock();
        if epoch != st.epoch {
            return;
        }
        st.epoch += 1;
        st.backoffs += 1;
        st.slow_start = false;
        st.hold_until = Some(now + HOLD);
        let limit = match why {
            Congestion::RateLimited => st.limit / 2,
            Congestion::Overloaded => st.limit - st.limit / 4,
        };
        tracing::debug!(
            ?why,
            from = st.limit,
            to = limit.max(1),
            "parallelism backs off"
        );
        self.resize(&mut st, limit.max(1));
    }

    /// Sets the limit, adding permits or taking them back (idle ones now, the rest as parts
    /// finish).
    fn resize(&self, st: &mut State, limit: usize) {
        let limit = limit.clamp(1, self.max);
        if limit > st.limit {
            let more = limit - st.limit;
            let repaid = more.min(st.debt);
            st.debt -= repaid;
            self.permits.add_permits(more - repaid);
        } else {
            let mut fewer = st.limit - limit;
            while fewer > 0 {
                match self.permits.clone().try_acquire_owned() {
                    Ok(idle) => {
                        idle.forget();
                        fewer -= 1;
                    }
                    Err(_) => break,
                }
            }
            st.debt += fewer;
        }
        if limit != st.limit {
            tracing::debug!(from = st.limit, to = limit, "parallelism");
        }
        st.credit = 0;
        st.limit = limit;
        st.peak_limit = st.peak_limit.max(limit);
    }
}

impl State {
    /// Adds the part-seconds in flight up to `now`.
    fn account(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.area_at).as_secs_f64();
        self.area += self.in_flight as f64 * dt;
        self.area_at = now;
    }
}

/// A place in flight, given back when dropped.
pub(crate) struct Permit {
    inner: Arc<Inner>,
    /// The upload whose part it is.
    upload: Arc<Upload>,
    permit: Option<OwnedSemaphorePermit>,
    /// A place past the limit, at an upload's end.
    past: bool,
    epoch: u64,
    started: Instant,
    /// Part-seconds in flight when this one started: the difference at its answer, over its
    /// duration, is how many parts it shared the network with on average (itself included).
    area_at_start: f64,
    /// `past_total` when this one started.
    past_at_start: u64,
}

impl Permit {
    /// The request carried `bytes` and was answered: a sample for the controller.
    pub(crate) fn completed(&self, bytes: u64) {
        if !self.inner.adaptive || bytes < MIN_SAMPLE {
            return;
        }
        let now = Instant::now();
        let secs = now.duration_since(self.started).as_secs_f64();
        if secs <= 0.0 {
            return;
        }
        let mut st = self.inner.lock();
        st.account(now);
        if st.past > 0 || st.past_total != self.past_at_start {
            // It shared the network with parts past the limit: says nothing of the limit.
            return;
        }
        let parts = ((st.area - self.area_at_start) / secs).max(1.0);
        self.inner.decide(&mut st, now, bytes as f64 / secs, parts);
    }

    /// The request met congestion (429, 5xx, timeout).
    pub(crate) fn congested(&self, why: Congestion) {
        self.inner.back_off(self.epoch, why);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        {
            let mut st = self.inner.lock();
            st.account(Instant::now());
            st.in_flight = st.in_flight.saturating_sub(1);
            if self.past {
                st.past = st.past.saturating_sub(1);
            }
            if let Some(permit) = self.permit.take() {
                if st.debt > 0 {
                    st.debt -= 1;
                    permit.forget();
                }
            }
        }
        self.upload.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.inner.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;
    const TICK: Duration = Duration::from_millis(10);

    /// A fluid model of the network the parts cross: each connection carries at most `conn`
    /// bytes/s, all of them together at most `link`. Parts of `part` bytes are sent by as many
    /// workers as the controller lets in; every tick, each part in flight moves its share.
    struct Net {
        conn: f64,
        link: f64,
        part: f64,
    }

    impl Net {
        /// 8 MiB parts at 4 MiB/s per connection on a link no number of parts here fills.
        fn per_connection_bound() -> Net {
            Net {
                conn: 4.0 * MIB,
                link: 1000.0 * MIB,
                part: 8.0 * MIB,
            }
        }

        /// The benchmark's `far` profile: 4 MiB/s per connection, 40 MiB/s link, 8 MiB parts.
        fn far() -> Net {
            Net {
                conn: 4.0 * MIB,
                link: 40.0 * MIB,
                part: 8.0 * MIB,
            }
        }
    }

    struct Flight {
        permit: Permit,
        left: f64,
        /// Whose part it is (of several uploads at once).
        file: usize,
    }

    /// A part waiting for a place (the source always has one more ready).
    type Demand = Option<futures_util::future::BoxFuture<'static, Permit>>;

    /// Runs `secs` seconds of the model with `flights` in flight and one more part always
    /// waiting for a place (the source is never the bound here).
    async fn run(
        p: &Parallelism,
        net: &Net,
        flights: &mut Vec<Flight>,
        demand: &mut Demand,
        secs: f64,
    ) {
        use futures_util::FutureExt as _;
        let ticks = (secs / TICK.as_secs_f64()).round() as usize;
        for _ in 0..ticks {
            loop {
                let p = p.clone();
                let waiting =
                    demand.get_or_insert_with(|| async move { p.acquire().await }.boxed());
                match waiting.now_or_never() {
                    Some(permit) => {
                        *demand = None;
                        flights.push(Flight {
                            permit,
                            left: net.part,
                            file: 0,
                        });
                    }
                    None => break,
                }
            }
            tick(net, flights).await;
        }
    }

    /// One tick of the model: each part in flight moves its share; finished parts are answered.
    async fn tick(net: &Net, flights: &mut Vec<Flight>) {
        tokio::time::advance(TICK).await;
        let n = flights.len() as f64;
        let each = net.conn.min(net.link / n.max(1.0)) * TICK.as_secs_f64();
        for f in flights.iter_mut() {
            f.left -= each.min(f.left);
            if f.left <= 0.0 {
                f.permit.completed(net.part as u64);
            }
        }
        flights.retain(|f| f.left > 0.0);
    }

    fn adaptive(max: usize) -> Parallelism {
        Parallelism::new(Concurrency::Adaptive { max })
    }

    #[tokio::test(start_paused = true)]
    async fn grows_to_max_while_each_connection_is_the_bound() {
        let p = adaptive(16);
        assert_eq!(p.stats().limit, Concurrency::ADAPTIVE_START);
        let net = Net::per_connection_bound();
        let mut flights = Vec::new();
        let mut demand: Demand = None;
        // Nothing is decided before a part is answered (8 MiB at 4 MiB/s: 2 s).
        run(&p, &net, &mut flights, &mut demand, 1.5).await;
        assert_eq!(p.stats().limit, Concurrency::ADAPTIVE_START);
        // Then one more place per answered part: the limit doubles per round of parts.
        run(&p, &net, &mut flights, &mut demand, 5.0).await;
        let s = p.stats();
        assert_eq!(s.limit, 16, "slow start doubles per round of parts: {s:?}");
        run(&p, &net, &mut flights, &mut demand, 10.0).await;
        assert_eq!(p.stats().limit, 16, "and stays there");
        assert_eq!(p.stats().peak_in_flight, 16);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_near_the_link_once_it_is_full() {
        // 40 MiB/s over 4 MiB/s connections: 10 parts fill it.
        let p = adaptive(32);
        let net = Net::far();
        let mut flights = Vec::new();
        let mut demand: Demand = None;
        run(&p, &net, &mut flights, &mut demand, 30.0).await;
        let s = p.stats();
        // Slow start overshoots by at most one round (to 16); then each part answered with
        // more than 3 parts' worth lost to sharing takes one place off, down to where 1 to 3
        // parts queue: link / conn + 1..=3.
        assert!(
            (11..=13).contains(&s.limit),
            "settles just past link / conn = 10, not at max: {s:?}"
        );
        assert!(s.peak_limit <= 16, "never ran to max: {s:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn halves_on_429_once_per_burst_then_recovers() {
        let p = adaptive(16);
        let net = Net::per_connection_bound();
        let mut flights = Vec::new();
        let mut demand: Demand = None;
        run(&p, &net, &mut flights, &mut demand, 5.0).await;
        assert_eq!(p.stats().limit, 16);
        // Every part in flight is answered 429: one halving, not one per part.
        for f in &flights {
            f.permit.congested(Congestion::RateLimited);
        }
        let s = p.stats();
        assert_eq!((s.limit, s.backoffs), (8, 1), "{s:?}");
        // A part started after the back-off meets another 429: halved again.
        flights.clear();
        let later = p.acquire().await;
        later.congested(Congestion::RateLimited);
        drop(later);
        assert_eq!(p.stats().limit, 4);
        // No growth while held, then one place per round of parts (a round is 2 s here).
        run(
            &p,
            &net,
            &mut flights,
            &mut demand,
            HOLD.as_secs_f64() - 0.1,
        )
        .await;
        assert_eq!(p.stats().limit, 4, "held after the back-off");
        run(&p, &net, &mut flights, &mut demand, 40.0).await;
        assert_eq!(p.stats().limit, 16, "recovered once the 429s stopped");
        assert!(
            flights.len() <= 16,
            "in flight never above the limit: {}",
            flights.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn errors_go_below_the_start_but_never_below_one() {
        let p = adaptive(16);
        for _ in 0..5 {
            let permit = p.acquire().await;
            permit.congested(Congestion::RateLimited);
        }
        assert_eq!(p.stats().limit, 1);
        let permit = p.acquire().await;
        permit.congested(Congestion::Overloaded);
        assert_eq!(p.stats().limit, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shrink_below_what_is_in_flight_is_paid_as_parts_finish() {
        let p = adaptive(16);
        let start = Concurrency::ADAPTIVE_START;
        let held: Vec<Permit> =
            futures_util::future::join_all((0..start).map(|_| p.acquire())).await;
        held[0].congested(Congestion::RateLimited);
        assert_eq!(p.stats().limit, start / 2);
        assert_eq!(p.stats().in_flight, start);
        drop(held);
        let again: Vec<Permit> =
            futures_util::future::join_all((0..start / 2).map(|_| p.acquire())).await;
        let one_more = tokio::time::timeout(Duration::from_secs(1), p.acquire()).await;
        assert!(
            one_more.is_err(),
            "only {} places after the shrink",
            start / 2
        );
        drop(again);
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_never_changes() {
        let p = Parallelism::new(Concurrency::Fixed(3));
        let net = Net::per_connection_bound();
        let mut flights = Vec::new();
        let mut demand: Demand = None;
        run(&p, &net, &mut flights, &mut demand, 5.0).await;
        flights[0].permit.congested(Congestion::RateLimited);
        let s = p.stats();
        assert_eq!((s.limit, s.peak_in_flight, s.backoffs), (3, 3, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_grow_when_the_source_is_the_bound() {
        let p = adaptive(16);
        let net = Net::per_connection_bound();
        // Only two parts ever wanted at once (say, a reader under a memory cap).
        let mut flights = Vec::new();
        for _ in 0..400 {
            while flights.len() < 2 {
                flights.push(Flight {
                    permit: p.acquire().await,
                    left: net.part,
                    file: 0,
                });
            }
            tokio::time::advance(TICK).await;
            for f in flights.iter_mut() {
                let moved = (net.conn * TICK.as_secs_f64()).min(f.left);
                f.left -= moved;
                if f.left <= 0.0 {
                    f.permit.completed(net.part as u64);
                }
            }
            flights.retain(|f| f.left > 0.0);
        }
        assert_eq!(p.stats().limit, Concurrency::ADAPTIVE_START);
    }

    /// Model seconds to send one upload's `parts` parts of `net`, its end going past the limit
    /// as the engine's do.
    async fn time_to_send(p: &Parallelism, net: &Net, parts: usize) -> f64 {
        send_file(p, net, parts, true).await
    }

    /// Model seconds to send one upload's `parts` parts of `net`; `counted`: the parts left are
    /// told to the parallelism (as the engine does for a chunked upload), so the upload's end
    /// may go past the limit.
    async fn send_file(p: &Parallelism, net: &Net, parts: usize, counted: bool) -> f64 {
        send_files(p, net, &[parts], counted).await[0]
    }

    /// Model seconds until each of several uploads (of `files[i]` parts) is sent, all at once
    /// through `p` and over the same network, as a tree upload sends them.
    async fn send_files(p: &Parallelism, net: &Net, files: &[usize], counted: bool) -> Vec<f64> {
        use futures_util::FutureExt as _;
        use std::sync::atomic::AtomicU64;
        struct File {
            upload: Parallelism,
            parts: usize,
            started: usize,
            left: Arc<AtomicU64>,
            done: Option<f64>,
        }
        impl File {
            fn parts_left(&self, counted: bool) -> impl Fn() -> Option<u64> + Send + 'static {
                let left = self.left.clone();
                move || counted.then(|| left.load(Ordering::Relaxed))
            }
        }
        let mut files: Vec<File> = files
            .iter()
            .map(|&parts| File {
                upload: p.for_upload(),
                parts,
                started: 0,
                left: Arc::new(AtomicU64::new(parts as u64)),
                done: None,
            })
            .collect();
        let start = Instant::now();
        let mut flights = Vec::<Flight>::new();
        while files.iter().any(|f| f.done.is_none()) {
            let mut waiters = Vec::new();
            for (i, f) in files.iter_mut().enumerate() {
                while f.started < f.parts {
                    match f.upload.acquire_part(f.parts_left(counted)).now_or_never() {
                        Some(permit) => {
                            f.started += 1;
                            flights.push(Flight {
                                permit,
                                left: net.part,
                                file: i,
                            });
                        }
                        None => break,
                    }
                }
                // A part beyond the limit waits (counted as demand) while the others move.
                if f.started < f.parts {
                    let (upload, parts_left) = (f.upload.clone(), f.parts_left(counted));
                    waiters.push(tokio::spawn(async move {
                        upload.acquire_part(parts_left).await
                    }));
                }
            }
            tick(net, &mut flights).await;
            for (i, f) in files.iter_mut().enumerate() {
                let answered = f.started - flights.iter().filter(|x| x.file == i).count();
                f.left.store((f.parts - answered) as u64, Ordering::Relaxed);
                if answered == f.parts && f.done.is_none() {
                    f.done = Some(start.elapsed().as_secs_f64());
                }
            }
            for waiter in waiters {
                waiter.abort();
                if let Ok(permit) = waiter.await {
                    drop(permit);
                }
            }
        }
        files.iter().map(|f| f.done.unwrap_or_default()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_far_link_fills_within_a_256_mib_file() {
        // The benchmark's `far` profile: 150 ms, 4 MiB/s per connection, 40 MiB/s link; a
        // 256 MiB file is 32 parts of 8 MiB, at best 6.4 s on the link. At the default settings
        // it goes whole (32 parts, at most `max`).
        let net = Net::far();
        let ideal = 32.0 * net.part / net.link;
        let default = Parallelism::new(Concurrency::default());
        let adaptive_secs = time_to_send(&default, &net, 32).await;
        let pinned_secs = time_to_send(&Parallelism::new(Concurrency::Fixed(4)), &net, 32).await;
        eprintln!("far 256 MiB: ideal {ideal:.1} s, adaptive {adaptive_secs:.1} s, pinned 4 {pinned_secs:.1} s");
        assert!(
            adaptive_secs < pinned_secs * 0.6,
            "{adaptive_secs} vs {pinned_secs}"
        );
        assert!(adaptive_secs <= ideal * 1.02, "{adaptive_secs} vs {ideal}");
    }

    /// The benchmark's `wan` profile: 12 MiB/s per connection, 120 MiB/s link, 32 MiB parts.
    fn wan() -> Net {
        Net {
            conn: 12.0 * MIB,
            link: 120.0 * MIB,
            part: 32.0 * MIB,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_of_at_most_max_parts_goes_whole() {
        // 1 GiB in 32 parts of 32 MiB: 8.5 s on the link. Started at 8, the first round fills
        // 80% of it; then one by one, the last parts end alone.
        for (name, net) in [("wan", wan()), ("far", Net::far())] {
            let ideal = 32.0 * net.part / net.link;
            let whole = send_file(&adaptive(32), &net, 32, true).await;
            let limited = send_file(&adaptive(32), &net, 32, false).await;
            eprintln!(
                "{name}: ideal {ideal:.2} s, whole {whole:.2} s, by the limit {limited:.2} s"
            );
            assert!(whole <= ideal * 1.02, "{name}: {whole} s vs {ideal} s");
            assert!(whole < limited * 0.9, "{name}: {whole} s vs {limited} s");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_a_longer_file_goes_together() {
        // 64 parts with at most 16 in flight: the limit runs the first 48, the last 16 go
        // together and the link stays full to the end.
        for (name, net) in [("wan", wan()), ("far", Net::far())] {
            let ideal = 64.0 * net.part / net.link;
            let p = adaptive(16);
            let together = send_file(&p, &net, 64, true).await;
            let s = p.stats();
            let limited = send_file(&adaptive(16), &net, 64, false).await;
            eprintln!(
                "{name}: ideal {ideal:.2} s, end together {together:.2} s, by the limit {limited:.2} s"
            );
            assert!(
                together <= ideal * 1.15,
                "{name}: {together} s vs {ideal} s"
            );
            assert!(together < limited, "{name}: {together} s vs {limited} s");
            assert!(s.peak_in_flight <= 16, "never past max: {s:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_end_of_a_chunked_upload_passes_the_limit() {
        let p = adaptive(16);
        let start = Concurrency::ADAPTIVE_START;
        let upload = p.for_upload();
        let held: Vec<Permit> =
            futures_util::future::join_all((0..start).map(|_| upload.acquire_part(|| Some(40))))
                .await;
        let wait = Duration::from_secs(1);
        // 40 parts left: more than max, it waits for the limit.
        let far_from_the_end = tokio::time::timeout(wait, upload.acquire_part(|| Some(40))).await;
        assert!(far_from_the_end.is_err());
        // A request of no chunked upload, or of an upload with nothing in flight yet (a direct
        // upload of a tree's next file), waits too.
        let not_chunked = tokio::time::timeout(wait, upload.acquire_part(|| None)).await;
        assert!(not_chunked.is_err());
        let other = p.for_upload();
        let first_of_other = tokio::time::timeout(wait, other.acquire_part(|| Some(2))).await;
        assert!(first_of_other.is_err());
        // While another upload's part waits for a place, the link has other work: this
        // upload's end waits for the limit as well.
        let other_waits = tokio::spawn({
            let other = other.clone();
            async move { other.acquire_part(|| None).await }
        });
        tokio::task::yield_now().await;
        let while_other_waits = tokio::time::timeout(wait, upload.acquire_part(|| Some(12))).await;
        assert!(while_other_waits.is_err());
        other_waits.abort();
        assert!(other_waits.await.is_err(), "still waiting when aborted");
        // 12 left, at most 16: the end goes past the limit, up to max and no further.
        let mut end = Vec::new();
        for _ in 0..16 - start {
            end.push(upload.acquire_part(|| Some(12)).await);
        }
        let s = p.stats();
        assert_eq!((s.limit, s.in_flight), (start, 16), "{s:?}");
        let past_max = tokio::time::timeout(wait, upload.acquire_part(|| Some(12))).await;
        assert!(past_max.is_err(), "never past max");
        drop((held, end));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_end_goes_once_a_part_leaves_but_not_while_a_back_off_holds() {
        let p = adaptive(16);
        let start = Concurrency::ADAPTIVE_START;
        let upload = p.for_upload();
        let mut held: Vec<Permit> =
            futures_util::future::join_all((0..start).map(|_| upload.acquire_part(|| Some(10))))
                .await;
        // A 429: halved, and held.
        held[0].congested(Congestion::RateLimited);
        let waiting = tokio::spawn({
            let upload = upload.clone();
            async move { upload.acquire_part(|| Some(10)).await }
        });
        tokio::time::sleep(HOLD / 2).await;
        // The parts over the halved limit leave (their places are forgotten): no pass while
        // held, and no place under the limit either.
        held.truncate(start / 2);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiting.is_finished(), "no pass while the back-off holds");
        tokio::time::sleep(HOLD).await;
        // Held no more: the next part to leave lets the waiting end go past the limit.
        held.truncate(start / 2 - 1);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(waiting.is_finished(), "{:?}", p.stats());
        let permit = waiting.await.expect("the waiting part got a place");
        assert_eq!(p.stats().limit, start / 2);
        drop(permit);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tree_of_files_shares_max() {
        // Three files of 24 parts at once through one uploader (a tree upload): each file's end
        // goes past the limit, all of them together never past max, and the link stays full.
        let net = Net::far();
        let ideal = 3.0 * 24.0 * net.part / net.link;
        let p = adaptive(16);
        let ends = send_files(&p, &net, &[24, 24, 24], true).await;
        let s = p.stats();
        let limited = send_files(&adaptive(16), &net, &[24, 24, 24], false).await;
        eprintln!("three files of 24 far parts: ideal {ideal:.2} s, ends past the limit {ends:.2?} s, by the limit {limited:.2?} s; {s:?}");
        assert!(s.peak_in_flight <= 16, "{s:?}");
        let last = ends.iter().copied().fold(0.0, f64::max);
        let last_limited = limited.iter().copied().fold(0.0, f64::max);
        assert!(last <= ideal * 1.1, "{last} s vs {ideal} s");
        assert!(last <= last_limited, "{last} s vs {last_limited} s");
    }
}
