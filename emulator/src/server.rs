//! The accept loop: hyper connections serving the axum router, plain HTTP/1.1 or, with
//! [`crate::Config::tls`], HTTPS with HTTP/2 or HTTP/1.1 as ALPN settles it.
//!
//! axum's own `serve` gives handlers no way to drop their connection, which fault
//! injection needs (a reset mid-body, a part stored and then no answer). Here each
//! connection gets a [`ConnControl`] in the request extensions; a handler that takes a
//! [`Connection`] and kills it makes the connection task drop the socket at once (over
//! HTTP/2 that ends every stream of the connection).
//!
//! A connection that ends otherwise closes with a lingering close ([`linger`]), so that an
//! answer sent before the request body ended reaches a client that is still sending.

use crate::error::{ApiError, ErrorCode, REQUEST_ID_HEADER};
use crate::net::{ConnBuckets, Dir, Net, NetConfig};
use crate::state::Shared;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Largest request head (request line and headers) accepted, in bytes.
pub(crate) const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// A lingering close reads and discards at most this much of what the client still sends
/// (enough for a client that sends a whole 1 GiB body before it reads the answer)...
pub(crate) const LINGER_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// ...for at most this long, and gives up when nothing arrives for [`LINGER_IDLE`] (nginx's
/// `lingering_time` and `lingering_timeout` defaults).
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(30);
const LINGER_IDLE: Duration = Duration::from_secs(5);
/// How long a client may take over its TLS handshake before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Lets a handler drop the connection its request came on.
#[derive(Clone, Default)]
pub(crate) struct ConnControl {
    kill: Arc<Notify>,
}

/// The connection a request came on, as a handler argument: lets the handler drop it.
pub(crate) struct Connection(Option<ConnControl>);

impl<S: Send + Sync> FromRequestParts<S> for Connection {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Connection(parts.extensions.get::<ConnControl>().cloned()))
    }
}

impl Connection {
    /// Drops the connection: the client sees the socket close (a reset if it was still
    /// sending) and never gets an answer. Never returns when the request came through
    /// [`serve`]; otherwise answers a plain 500.
    pub(crate) async fn kill(&self) -> ApiError {
        if let Some(c) = &self.0 {
            c.kill.notify_one();
            std::future::pending::<()>().await;
        }
        ApiError::internal("Internal Server Error")
    }
}

pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    net: Arc<Net>,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                shared.counters().connections_opened += 1;
                // The connection's own token buckets (used only while rates are set), shared
                // by every request on it, HTTP/2 streams included.
                let buckets = Arc::new(ConnBuckets::default());
                conns.spawn(serve_connection(
                    stream,
                    tls.clone(),
                    router.clone(),
                    shared.clone(),
                    (net.clone(), buckets),
                    shutdown.clone(),
                ));
                while conns.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// Box accepts an operation's path with one trailing slash (`/2.0/files/upload_sessions/`)
/// as well as without; so does the emulator, by routing the path without it. Only one slash
/// is dropped: `//` at the end still names no route.
fn strip_trailing_slash<B>(req: &mut Request<B>) {
    let path = req.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let trimmed = &path[..path.len() - 1];
    let pq = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    match pq.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return,
    }
    if let Ok(uri) = axum::http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// The HTTP version a connection speaks, as ALPN settled it (plain connections: HTTP/1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Http1,
    Http2,
}

async fn serve_connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    router: Router,
    shared: Arc<Shared>,
    (net, buckets): (Arc<Net>, Arc<ConnBuckets>),
    mut shutdown: watch::Receiver<bool>,
) {
    let ctl = ConnControl::default();
    let Some(acceptor) = tls else {
        let svc = service(router, shared, (net, buckets), ctl.clone());
        return drive(stream, Proto::Http1, svc, ctl, shutdown).await;
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        _ = shutdown.changed() => return,
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake failed: {e}");
                shared.counters().tls_handshakes_failed += 1;
                return;
            }
            Err(_) => {
                shared.counters().tls_handshakes_failed += 1;
                return;
            }
        },
    };
    let proto = match stream.get_ref().1.alpn_protocol() {
        Some(p) if p == crate::tls::ALPN_H2 => Proto::Http2,
        _ => Proto::Http1,
    };
    let svc = service(router, shared, (net, buckets), ctl.clone());
    drive(stream, proto, svc, ctl, shutdown).await
}

/// Serves one connection's requests until it ends, is killed or the server shuts down; a
/// connection that ended by itself (its last answer sent, or the client gone) closes
/// lingering, a killed one is dropped at once (that is the fault).
async fn drive<S, Svc>(
    mut stream: S,
    proto: Proto,
    svc: Svc,
    ctl: ConnControl,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    Svc: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    Svc::Future: Send + 'static,
{
    let io = TokioIo::new(&mut stream);
    let ended = match proto {
        Proto::Http1 => {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                // A request head (request line and headers) over 64 KiB is answered 431
                // instead of being buffered (hyper's default lets a head grow to about 400 KiB
                // per connection).
                .max_header_size(MAX_REQUEST_HEAD)
                .serve_connection(io, svc);
            until_killed(conn, &ctl, &mut shutdown).await
        }
        Proto::Http2 => {
            // The same 64 KiB bound on a request's headers.
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_header_list_size(MAX_REQUEST_HEAD as u32)
                .serve_connection(io, svc);
            until_killed(conn, &ctl, &mut shutdown).await
        }
    };
    if ended {
        tokio::select! {
            _ = linger(&mut stream) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Runs a connection; true if it ended by itself, false if it was killed or the server is
/// shutting down.
async fn until_killed<F: Future>(
    conn: F,
    ctl: &ConnControl,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        biased;
        _ = ctl.kill.notified() => false,
        _ = shutdown.changed() => false,
        _ = conn => true,
    }
}

/// The service every request of one connection goes through: the connection's controls in
/// the request's extensions, network shaping, counters and a request id, around the router.
fn service(
    router: Router,
    shared: Arc<Shared>,
    (net, buckets): (Arc<Net>, Arc<ConnBuckets>),
    ctl: ConnControl,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send + 'static,
> + Clone
       + Send
       + 'static {
    hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ctl.clone());
        let http2 = req.version() == axum::http::Version::HTTP_2;
        strip_trailing_slash(&mut req);
        let mut router = router.clone();
        let shared = shared.clone();
        let internal = req.uri().path().starts_with("/_emulator");
        // Network shaping (`crate::net`): the controls are never shaped; with shaping off
        // nothing below wraps or waits.
        let cfg = if internal {
            req.extensions_mut().insert(net.clone());
            NetConfig::default()
        } else {
            net.config()
        };
        let (req, shaping) = if cfg.is_off() {
            (req.map(Body::new), None)
        } else {
            let server_ms = cfg
                .server_ms
                .filter(|_| crate::net::is_server_timed(req.method(), req.uri().path()));
            let req = match net.shaper(&cfg, &buckets, Dir::Up) {
                Some(up) => req.map(|b| up.wrap(b)),
                None => req.map(Body::new),
            };
            let down = net.shaper(&cfg, &buckets, Dir::Down);
            (req, Some((cfg.rtt_ms, server_ms, down)))
        };
        async move {
            {
                let mut c = shared.counters();
                c.requests_total += 1;
                if http2 {
                    c.http2_requests += 1;
                } else {
                    c.http1_requests += 1;
                }
            }
            let (rtt_ms, server_ms, down) = shaping.unwrap_or_default();
            if let Some(ms) = rtt_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let mut resp = match tower_service::Service::call(&mut router, req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if let Some(ms) = server_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if let Some(down) = down {
                resp = resp.map(|b| down.wrap(b));
            }
            if !resp.headers().contains_key(REQUEST_ID_HEADER) {
                if let Ok(v) = HeaderValue::from_str(&crate::error::new_request_id()) {
                    resp.headers_mut()
                        .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
                }
            }
            if !internal {
                let code = resp.extensions().get::<ErrorCode>().map(|c| c.0.clone());
                let mut c = shared.counters();
                *c.responses
                    .entry(resp.status().as_u16().to_string())
                    .or_default() += 1;
                if let Some(code) = code {
                    *c.errors.entry(code).or_default() += 1;
                }
            }
            Ok::<_, Infallible>(resp)
        }
    })
}

/// A lingering close, as HTTP servers do it: once hyper has sent the last answer and shut
/// the connection's sending side (FIN), whatever the client still sends is read and
/// discarded until it stops (end of stream), up to [`LINGER_BYTES`] and [`LINGER_TIME`]. A
/// socket closed with unread data in it sends a reset instead, and a reset makes the
/// client's system drop the answer it has received but not yet read: a client still sending
/// a body the emulator refused early (a part longer than its range, sent chunked) would see
/// "connection reset" instead of the 4xx.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // hyper has shut the sending side down already when it ended the connection; again is
    // harmless (and covers a connection that ended on an error).
    let _ = stream.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut buf = vec![0u8; 64 * 1024];
    let mut discarded = 0u64;
    while discarded < LINGER_BYTES {
        let idle = (tokio::time::Instant::now() + LINGER_IDLE).min(deadline);
        match tokio::time::timeout_at(idle, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => discarded += n as u64,
            _ => return,
        }
    }
}
