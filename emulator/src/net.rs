//! Network shaping: a round trip before each request is handled, and token buckets (one per
//! connection, one for the whole link, each direction apart) on request and response bodies,
//! so that loopback behaves like a network with latency and limited bandwidth. All waiting is
//! on `tokio::time`, so a paused clock drives it.
//!
//! A bucket is kept as its "theoretical arrival time" (GCRA): the instant at which everything
//! reserved so far has gone through at the configured rate. Reserving `n` bytes pushes it
//! `n / rate` further and the bytes are handed on when it is reached, so `N` bytes take `N / R`
//! seconds. A connection's chunk reserves on its own bucket and on the link's at the same
//! instant and waits for the later of the two, so the slower limit governs and connections
//! share the link in the order they ask. Timer lateness (tokio's timer has millisecond
//! granularity) is forgiven up to [`SLACK`], so it does not cost throughput; a bucket left
//! idle longer than that starts again from now (no saved-up burst).

use crate::units::{self, Bare};
use axum::body::Body;
use axum::http::Method;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use serde::{Deserialize, Serialize};
use std::future::Future as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The longest round trip or server time accepted: one hour.
const MAX_DELAY_MS: u64 = 3_600_000;
/// How late a bucket may be served (timer granularity) before it counts as idle.
const SLACK: Duration = Duration::from_millis(5);
/// Bodies move in pieces of at most `rate / CHUNKS_PER_SEC` bytes (20 ms worth).
const CHUNKS_PER_SEC: u64 = 50;

/// Network shaping settings ([`crate::Config::net`], [`crate::Emulator::set_net`],
/// `--net`, `PUT /_emulator/net`). `None` (the default for every field) is unlimited; the
/// default config shapes nothing and costs nothing.
///
/// Construct with `..Default::default()`: fields may be added in later versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetConfig {
    /// Round-trip time in milliseconds: every request (except `/_emulator/*`) waits this long
    /// before it is handled.
    pub rtt_ms: Option<u64>,
    /// Bytes per second each connection's request bodies (and, apart, its response bodies)
    /// may flow at.
    pub conn_bytes_per_sec: Option<u64>,
    /// Bytes per second all connections' request bodies together (and, apart, all response
    /// bodies together) may flow at.
    pub link_bytes_per_sec: Option<u64>,
    /// Processing time in milliseconds added to each part upload and each commit, after the
    /// handler and before the answer goes out.
    pub server_ms: Option<u64>,
}

/// An invalid `--net` spec or network setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid network spec {spec:?}: {reason}")]
pub struct NetSpecError {
    /// The spec (or the field) as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

impl NetConfig {
    /// Parses `rtt=DUR,conn=RATE,link=RATE,server=DUR` (each key optional, in any order), e.g.
    /// `rtt=40ms,conn=12MiB/s,link=120MiB/s`. `RATE` is bytes per second, a size as
    /// [`crate::units::parse_size`] reads it (`KiB`, `MiB`, `GiB` binary; `KB`, `MB`, `GB`
    /// decimal) with an optional `/s` (`500KiB/s`, `100MB/s`, `1.5GiB/s`); `DUR` is a duration
    /// as [`crate::units::parse_duration`] reads it (`40ms`, `1s`, `1.5s`, `1m`; a bare number
    /// is milliseconds). Zero or negative rates are refused; a zero duration means none.
    pub fn from_spec(spec: &str) -> Result<NetConfig, NetSpecError> {
        let err = |reason: String| NetSpecError {
            spec: spec.to_string(),
            reason,
        };
        let mut c = NetConfig::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| err(format!("{item:?}: expected KEY=VALUE")))?;
            let value = value.trim();
            match key.trim() {
                "rtt" => c.rtt_ms = parse_ms(value).map_err(err)?,
                "server" => c.server_ms = parse_ms(value).map_err(err)?,
                "conn" => c.conn_bytes_per_sec = Some(parse_rate(value).map_err(err)?),
                "link" => c.link_bytes_per_sec = Some(parse_rate(value).map_err(err)?),
                other => {
                    return Err(err(format!(
                        "unknown key {other:?} (rtt, conn, link, server)"
                    )))
                }
            }
        }
        Ok(c)
    }

    /// True when nothing is shaped.
    pub fn is_off(&self) -> bool {
        *self == NetConfig::default()
    }

    /// The same settings if they are usable: rates positive, delays at most an hour. Zero
    /// delays read as none.
    pub fn validated(self) -> Result<NetConfig, String> {
        for (name, r) in [
            ("conn_bytes_per_sec", self.conn_bytes_per_sec),
            ("link_bytes_per_sec", self.link_bytes_per_sec),
        ] {
            if r == Some(0) {
                return Err(format!("{name} must be positive (null is unlimited)"));
            }
        }
        for (name, d) in [("rtt_ms", self.rtt_ms), ("server_ms", self.server_ms)] {
            if d.is_some_and(|d| d > MAX_DELAY_MS) {
                return Err(format!("{name} is more than an hour ({MAX_DELAY_MS})"));
            }
        }
        Ok(self.normalized())
    }

    /// Zero delays and zero rates read as none (unlimited); delays are capped at an hour.
    pub(crate) fn normalized(self) -> NetConfig {
        let ms = |d: Option<u64>| d.filter(|&d| d > 0).map(|d| d.min(MAX_DELAY_MS));
        let rate = |r: Option<u64>| r.filter(|&r| r > 0);
        NetConfig {
            rtt_ms: ms(self.rtt_ms),
            conn_bytes_per_sec: rate(self.conn_bytes_per_sec),
            link_bytes_per_sec: rate(self.link_bytes_per_sec),
            server_ms: ms(self.server_ms),
        }
    }

    fn has_rates(&self) -> bool {
        self.conn_bytes_per_sec.is_some() || self.link_bytes_per_sec.is_some()
    }
}

/// Parses a byte rate: a size ([`crate::units::parse_size`]) with an optional `/s`:
/// `12MiB/s`, `500KiB/s`, `1GiB/s`, `100MB/s`, `1.5MiB`, `4096`. At least 1 byte/s.
pub(crate) fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let per_sec = t.strip_suffix("/s").unwrap_or(t);
    let v = units::parse_size(per_sec).map_err(|e| format!("rate {s:?}: {e}"))?;
    if v == 0 {
        return Err(format!("rate {s:?} must be at least 1 byte/s"));
    }
    Ok(v)
}

/// Parses a delay into milliseconds ([`crate::units::parse_duration`]; a bare number is
/// milliseconds): `40ms`, `1s`, `1.5s`, `1m`, `25`. At most an hour; zero is `None`.
pub(crate) fn parse_ms(s: &str) -> Result<Option<u64>, String> {
    let d = units::parse_duration(s, Bare::Millis)?;
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms > MAX_DELAY_MS {
        return Err(format!("duration {s:?} must be between 0 and an hour"));
    }
    Ok((ms > 0).then_some(ms))
}

/// Which way a body flows: client to server (request bodies) or back (response bodies).
/// Each has its own buckets, as a full-duplex link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Up = 0,
    Down = 1,
}

/// One token bucket, as the instant its reservations run out (`None`: never used).
#[derive(Debug, Default)]
pub(crate) struct Bucket(Mutex<Option<Instant>>);

impl Bucket {
    /// Reserves `n` bytes at `rate` bytes/s as of `now`; returns when they have gone through.
    /// `fresh` (a body's first piece) takes no credit for lateness: a body of N bytes never
    /// takes less than N / rate.
    pub(crate) fn reserve(&self, n: u64, rate: u64, now: Instant, fresh: bool) -> Instant {
        let mut tat = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let base = match *tat {
            Some(t) if t >= now => t,
            Some(t) if t + SLACK >= now && !fresh => t,
            _ => now,
        };
        let nanos = (u128::from(n) * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
        let next = base + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        *tat = Some(next);
        next
    }
}

/// A connection's buckets, made when it is accepted and shared by its requests.
#[derive(Debug, Default)]
pub(crate) struct ConnBuckets([Bucket; 2]);

/// The emulator's network: its settings and the link's buckets.
#[derive(Debug, Default)]
pub(crate) struct Net {
    config: RwLock<NetConfig>,
    link: [Bucket; 2],
}

impl Net {
    pub(crate) fn new(config: NetConfig) -> Net {
        Net {
            config: RwLock::new(config.normalized()),
            link: Default::default(),
        }
    }

    pub(crate) fn config(&self) -> NetConfig {
        *self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_config(&self, config: NetConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config.normalized();
    }

    /// The shaper for one body of one request on `conn`, or `None` when no rate is set.
    pub(crate) fn shaper(
        self: &Arc<Self>,
        config: &NetConfig,
        conn: &Arc<ConnBuckets>,
        dir: Dir,
    ) -> Option<Shaper> {
        if !config.has_rates() {
            return None;
        }
        let slowest = config
            .conn_bytes_per_sec
            .into_iter()
            .chain(config.link_bytes_per_sec)
            .min()
            .unwrap_or(u64::MAX);
        Some(Shaper {
            net: self.clone(),
            conn: conn.clone(),
            dir,
            conn_rate: config.conn_bytes_per_sec,
            link_rate: config.link_bytes_per_sec,
            max_chunk: usize::try_from((slowest / CHUNKS_PER_SEC).max(1)).unwrap_or(usize::MAX),
        })
    }
}

/// Whether a request gets the server time ([`NetConfig::server_ms`]): a part upload
/// (`PUT .../files/upload_sessions/ID`) or a commit (`POST .../upload_sessions/ID/commit`),
/// on either base.
pub(crate) fn is_server_timed(method: &Method, path: &str) -> bool {
    let Some(rest) = path
        .strip_prefix("/api/2.0/files/upload_sessions/")
        .or_else(|| path.strip_prefix("/2.0/files/upload_sessions/"))
    else {
        return false;
    };
    match rest.split_once('/') {
        None => method == Method::PUT && !rest.is_empty(),
        Some((id, "commit")) => method == Method::POST && !id.is_empty(),
        Some(_) => false,
    }
}

/// The rates one body is shaped at, and the buckets it draws on.
pub(crate) struct Shaper {
    net: Arc<Net>,
    conn: Arc<ConnBuckets>,
    dir: Dir,
    conn_rate: Option<u64>,
    link_rate: Option<u64>,
    max_chunk: usize,
}

impl Shaper {
    /// Reserves `n` bytes on the connection's and the link's buckets; returns when they may
    /// be handed on.
    fn reserve(&self, n: usize, now: Instant, fresh: bool) -> Instant {
        let n = n as u64;
        let d = self.dir as usize;
        let mut at = now;
        if let Some(r) = self.conn_rate {
            at = at.max(self.conn.0[d].reserve(n, r, now, fresh));
        }
        if let Some(r) = self.link_rate {
            at = at.max(self.net.link[d].reserve(n, r, now, fresh));
        }
        at
    }

    /// `body`, flowing no faster than this shaper allows.
    pub(crate) fn wrap<B>(self, body: B) -> Body
    where
        B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<axum::BoxError>,
    {
        Body::new(ShapedBody {
            inner: body,
            shaper: self,
            pending: Bytes::new(),
            ready: None,
            sleep: None,
            fresh: true,
        })
    }
}

/// A body whose data frames are cut into pieces of at most [`Shaper::max_chunk`] bytes, each
/// handed on when its reservation has gone through. Other frames (trailers) and errors pass as
/// they are; the size hint is the inner body's, so `content-length` is kept.
pub(crate) struct ShapedBody<B> {
    inner: B,
    shaper: Shaper,
    /// Data taken from `inner` and not yet reserved.
    pending: Bytes,
    /// A piece reserved and waiting for `sleep`.
    ready: Option<Bytes>,
    /// Reused for every wait of this body.
    sleep: Option<Pin<Box<Sleep>>>,
    /// No piece reserved yet.
    fresh: bool,
}

impl<B> HttpBody for ShapedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        loop {
            if this.ready.is_some() {
                if let Some(s) = this.sleep.as_mut() {
                    std::task::ready!(s.as_mut().poll(cx));
                }
                let piece = this.ready.take().unwrap_or_default();
                return Poll::Ready(Some(Ok(Frame::data(piece))));
            }
            if !this.pending.is_empty() {
                let n = this.pending.len().min(this.shaper.max_chunk);
                let piece = this.pending.split_to(n);
                let now = Instant::now();
                let at = this.shaper.reserve(n, now, this.fresh);
                this.fresh = false;
                if at <= now {
                    return Poll::Ready(Some(Ok(Frame::data(piece))));
                }
                match this.sleep.as_mut() {
                    Some(s) => s.as_mut().reset(at),
                    None => this.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                this.ready = Some(piece);
                continue;
            }
            match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.pending = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ready.is_none() && self.pending.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let held = (self.pending.len() + self.ready.as_ref().map_or(0, Bytes::len)) as u64;
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(held));
        if let Some(u) = inner.upper() {
            hint.set_upper(u.saturating_add(held));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;

    const MIB: u64 = 1 << 20;

    #[test]
    fn parses_specs() {
        let c = NetConfig::from_spec("rtt=40ms,conn=12MiB/s,link=120MiB/s").unwrap();
        assert_eq!(
            c,
            NetConfig {
                rtt_ms: Some(40),
                conn_bytes_per_sec: Some(12 * MIB),
                link_bytes_per_sec: Some(120 * MIB),
                server_ms: None,
            }
        );
        let c = NetConfig::from_spec(" link=1GiB/s , server=1s,conn=500KiB/s ").unwrap();
        assert_eq!(c.link_bytes_per_sec, Some(1 << 30));
        assert_eq!(c.conn_bytes_per_sec, Some(500 * 1024));
        assert_eq!(c.server_ms, Some(1000));
        assert_eq!(c.rtt_ms, None);
        assert_eq!(parse_rate("100MB/s").unwrap(), 100_000_000);
        assert_eq!(parse_rate("1.5KiB/s").unwrap(), 1536);
        assert_eq!(parse_rate("4096").unwrap(), 4096);
        assert_eq!(parse_rate("10KB").unwrap(), 10_000);
        assert_eq!(parse_ms("1.5s").unwrap(), Some(1500));
        assert_eq!(parse_ms("1m").unwrap(), Some(60_000));
        assert_eq!(parse_ms("0ms").unwrap(), None);
        assert_eq!(parse_ms("25").unwrap(), Some(25));
        assert!(NetConfig::from_spec("").unwrap().is_off());
        for bad in [
            "rtt",
            "rtt=fast",
            "conn=0",
            "conn=0MiB/s",
            "conn=-1MiB/s",
            "link=12XiB/s",
            "jitter=5ms",
            "rtt=-5ms",
            "server=2h",
        ] {
            assert!(NetConfig::from_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validates_and_normalizes() {
        let zero_rate = NetConfig {
            conn_bytes_per_sec: Some(0),
            ..Default::default()
        };
        assert!(zero_rate.validated().is_err());
        assert!(zero_rate.normalized().is_off());
        let zero_rtt = NetConfig {
            rtt_ms: Some(0),
            ..Default::default()
        };
        assert!(zero_rtt.validated().unwrap().is_off());
        assert!(NetConfig {
            server_ms: Some(MAX_DELAY_MS + 1),
            ..Default::default()
        }
        .validated()
        .is_err());
    }

    #[test]
    fn server_timed_routes() {
        let put = Method::PUT;
        let post = Method::POST;
        assert!(is_server_timed(&put, "/api/2.0/files/upload_sessions/ABC"));
        assert!(is_server_timed(&put, "/2.0/files/upload_sessions/ABC"));
        assert!(is_server_timed(
            &post,
            "/api/2.0/files/upload_sessions/ABC/commit"
        ));
        assert!(!is_server_timed(
            &Method::GET,
            "/api/2.0/files/upload_sessions/ABC"
        ));
        assert!(!is_server_timed(&post, "/api/2.0/files/upload_sessions"));
        assert!(!is_server_timed(&put, "/api/2.0/files/upload_sessions/"));
        assert!(!is_server_timed(
            &post,
            "/api/2.0/files/upload_sessions/ABC/parts"
        ));
        assert!(!is_server_timed(&post, "/api/2.0/files/content"));
    }

    /// Reserving N bytes in pieces at R bytes/s ends N/R after the first reservation.
    #[tokio::test(start_paused = true)]
    async fn bucket_arithmetic() {
        let b = Bucket::default();
        let t0 = Instant::now();
        let mut at = t0;
        for _ in 0..100 {
            at = b.reserve(10_000, 1_000_000, Instant::now(), false);
            tokio::time::sleep_until(at).await;
        }
        // 1,000,000 bytes at 1 MB/s: one second.
        assert_eq!(at - t0, Duration::from_secs(1));
        let elapsed = t0.elapsed();
        assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(1010), "{elapsed:?}");
        // Idle for longer than the slack: no saved-up burst, it starts again from now.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let now = Instant::now();
        assert_eq!(
            b.reserve(500, 1000, now, false) - now,
            Duration::from_millis(500)
        );
    }

    async fn drain(body: Body) -> (u64, usize) {
        let mut s = body.into_data_stream();
        let (mut bytes, mut pieces) = (0u64, 0usize);
        while let Some(c) = s.next().await {
            bytes += c.unwrap().len() as u64;
            pieces += 1;
        }
        (bytes, pieces)
    }

    fn shaped(net: &Arc<Net>, conn: &Arc<ConnBuckets>, dir: Dir, len: usize) -> Body {
        let cfg = net.config();
        let s = net.shaper(&cfg, conn, dir).expect("rates set");
        s.wrap(Body::from(vec![7u8; len]))
    }

    /// One body of S bytes under conn=C takes S/C of virtual time, in pieces of C/50 bytes,
    /// and keeps its size hint.
    #[tokio::test(start_paused = true)]
    async fn body_at_conn_rate() {
        let net = Arc::new(Net::new(NetConfig {
            conn_bytes_per_sec: Some(MIB),
            ..Default::default()
        }));
        let conn = Arc::new(ConnBuckets::default());
        let body = shaped(&net, &conn, Dir::Up, 2 * MIB as usize);
        assert_eq!(body.size_hint().exact(), Some(2 * MIB));
        let t0 = Instant::now();
        let (bytes, pieces) = drain(body).await;
        let elapsed = t0.elapsed();
        assert_eq!(bytes, 2 * MIB);
        assert!(pieces >= 100, "{pieces} pieces");
        assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(2050), "{elapsed:?}");
    }

    /// Two connections on a link of L: each alone would go at its conn rate (2L), together
    /// they share L, so 2 x S bytes take 2S/L.
    #[tokio::test(start_paused = true)]
    async fn two_connections_share_the_link() {
        let net = Arc::new(Net::new(NetConfig {
            conn_bytes_per_sec: Some(2 * MIB),
            link_bytes_per_sec: Some(MIB),
            ..Default::default()
        }));
        let (a, b) = (
            Arc::new(ConnBuckets::default()),
            Arc::new(ConnBuckets::default()),
        );
        let t0 = Instant::now();
        let (ra, rb) = tokio::join!(
            drain(shaped(&net, &a, Dir::Up, MIB as usize)),
            drain(shaped(&net, &b, Dir::Up, MIB as usize)),
        );
        let elapsed = t0.elapsed();
        assert_eq!((ra.0, rb.0), (MIB, MIB));
        assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(2050), "{elapsed:?}");

        // The link is per direction: an upload and a download at the same time each get L.
        let t0 = Instant::now();
        tokio::join!(
            drain(shaped(&net, &a, Dir::Up, MIB as usize)),
            drain(shaped(&net, &b, Dir::Down, MIB as usize)),
        );
        let elapsed = t0.elapsed();
        assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1050), "{elapsed:?}");
    }

    /// Two bodies on one connection share its conn rate.
    #[tokio::test(start_paused = true)]
    async fn one_connection_shares_its_rate() {
        let net = Arc::new(Net::new(NetConfig {
            conn_bytes_per_sec: Some(MIB),
            ..Default::default()
        }));
        let conn = Arc::new(ConnBuckets::default());
        let t0 = Instant::now();
        tokio::join!(
            drain(shaped(&net, &conn, Dir::Up, MIB as usize / 2)),
            drain(shaped(&net, &conn, Dir::Up, MIB as usize / 2)),
        );
        let elapsed = t0.elapsed();
        assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1050), "{elapsed:?}");
    }

    #[test]
    fn no_rates_no_shaper() {
        let net = Arc::new(Net::new(NetConfig {
            rtt_ms: Some(40),
            ..Default::default()
        }));
        let conn = Arc::new(ConnBuckets::default());
        assert!(net.shaper(&net.config(), &conn, Dir::Up).is_none());
    }
}
