//! Request bodies read as a stream of chunks, never buffered whole, and what happens to the
//! unread rest of a body when a handler answers an error.

use crate::error::ErrorCode;
use crate::state::lock;
use axum::body::{Body, BodyDataStream, HttpBody as _};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a body may stall between two chunks before the request is given up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// At most this many bytes of an unwanted body are read and discarded before an error is
/// answered (so the client sees the error rather than a reset while it is still sending).
pub(crate) const DRAIN_CAP: u64 = 256 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("reading the request body failed: {0}")]
    Transport(String),
    #[error("the request body stalled")]
    Timeout,
    #[error("the request body is too large (limit {0} bytes)")]
    TooLarge(u64),
}

/// A request body read chunk by chunk. As a handler argument (the last one) it is taken from
/// the request; when the handler is done with it, a body not read to its end goes back to
/// [`drain_after_error`].
pub(crate) struct BodyStream {
    inner: BodyDataStream,
    done: bool,
    read: u64,
    /// The length the client declared (`content-length`), if it did.
    declared: Option<u64>,
    /// Where the unread rest goes when this is dropped.
    unread: Option<Unread>,
}

impl BodyStream {
    pub fn new(body: Body) -> Self {
        let declared = body.size_hint().exact();
        BodyStream {
            inner: body.into_data_stream(),
            done: false,
            read: 0,
            declared,
            unread: None,
        }
    }

    /// Bytes the client declared it would still send (`None` for a chunked body).
    fn declared_remaining(&self) -> Option<u64> {
        self.declared.map(|d| d.saturating_sub(self.read))
    }

    /// Next chunk, `None` at the end of the body.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        if self.done {
            return Ok(None);
        }
        loop {
            match tokio::time::timeout(IDLE_TIMEOUT, self.inner.next()).await {
                Err(_) => return Err(BodyError::Timeout),
                Ok(None) => {
                    self.done = true;
                    return Ok(None);
                }
                Ok(Some(Err(e))) => {
                    self.done = true;
                    return Err(BodyError::Transport(e.to_string()));
                }
                Ok(Some(Ok(b))) => {
                    if b.is_empty() {
                        continue;
                    }
                    self.read += b.len() as u64;
                    return Ok(Some(b));
                }
            }
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads the whole body into memory, refusing more than `limit` bytes.
    /// A body whose declared length is over the limit is refused before any of it is read.
    pub async fn read_limited(&mut self, limit: u64) -> Result<Vec<u8>, BodyError> {
        if self.declared.is_some_and(|d| d > limit) {
            return Err(BodyError::TooLarge(limit));
        }
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            if out.len() as u64 + chunk.len() as u64 > limit {
                return Err(BodyError::TooLarge(limit));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Reads and discards the rest of the body, up to `cap` bytes and a few seconds.
    /// Returns true if the body was read to its end; false at once (nothing read) if the
    /// client declared more than `cap` bytes still to come.
    pub async fn drain(&mut self, cap: u64) -> bool {
        if self.done {
            return true;
        }
        if self.declared_remaining().is_some_and(|r| r > cap) {
            return false;
        }
        let start = self.read;
        let deadline = tokio::time::Instant::now() + DRAIN_TIME;
        while !self.done {
            if self.read - start > cap || tokio::time::Instant::now() > deadline {
                return false;
            }
            match tokio::time::timeout_at(deadline, self.next_chunk()).await {
                Ok(Ok(_)) => {}
                _ => return false,
            }
        }
        true
    }
}

impl<S: Send + Sync> FromRequest<S> for BodyStream {
    type Rejection = Infallible;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Infallible> {
        Ok(BodyStream::of_request(req))
    }
}

impl BodyStream {
    /// The request's body, whose unread rest goes back to [`drain_after_error`].
    fn of_request(req: Request) -> Self {
        let unread = req.extensions().get::<Unread>().cloned();
        let mut body = BodyStream::new(req.into_body());
        body.unread = unread;
        body
    }
}

/// Hands the body of a request answered before its handler ran (a middleware refused it) to
/// [`drain_after_error`], as a handler hands back what it left unread.
pub(crate) fn hand_back(req: Request) {
    drop(BodyStream::of_request(req));
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        let Some(unread) = self.unread.take() else {
            return;
        };
        if !self.done {
            let inner = std::mem::replace(&mut self.inner, Body::empty().into_data_stream());
            *lock(&unread.0) = Some(BodyStream {
                inner,
                done: false,
                read: self.read,
                declared: self.declared,
                unread: None,
            });
        }
    }
}

/// The rest of a request body that its handler did not read, handed back by [`BodyStream`].
#[derive(Clone, Default)]
struct Unread(Arc<Mutex<Option<BodyStream>>>);

/// Middleware: when a handler answers an error without having read all of its request body,
/// reads and discards the rest (up to [`DRAIN_CAP`]) before the answer goes out, so that a
/// client still sending sees the error instead of a reset. If the rest cannot be read (too
/// long, too slow, broken), the answer closes the connection instead. An error that already
/// closes the connection (a body cut off on purpose) is sent as it is, and so is any answer
/// of a handler that never took the body.
pub(crate) async fn drain_after_error(mut req: Request, next: Next) -> Response {
    let unread = Unread::default();
    req.extensions_mut().insert(unread.clone());
    let mut resp = next.run(req).await;
    let rest = lock(&unread.0).take();
    let Some(mut rest) = rest else {
        return resp;
    };
    let is_error = resp.extensions().get::<ErrorCode>().is_some();
    let closing = resp
        .headers()
        .get(header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    if is_error && !closing && !rest.drain(DRAIN_CAP).await {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
