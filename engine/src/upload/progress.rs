//! Progress as data: a [`Progress`] snapshot on a `watch` channel (always the latest state) and
//! [`ProgressEvent`]s on a `broadcast` channel (what happened, in order; a slow listener loses the
//! oldest events, never slows the upload).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use tokio::sync::{broadcast, watch};

use crate::retry::{RetryEvent, RetryObserver};

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Phase {
    /// Opening the source, and the session of a chunked upload.
    #[default]
    Starting,
    /// Sending the content (the parts, or the single request).
    Uploading,
    /// Every part is stored; committing.
    Committing,
    /// The file is stored (or the upload found it stored).
    Done,
    /// The upload ended in an error.
    Failed,
}

/// The latest state of an upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Where the upload is.
    pub phase: Phase,
    /// The declared size of the source.
    pub total_bytes: u64,
    /// Bytes handed to the network for attempts still under way or acknowledged (a retried
    /// attempt's bytes are taken back). Moves smoothly; good for a progress bar (with
    /// `bytes_reused`: together they reach `total_bytes`).
    pub bytes_sent: u64,
    /// Bytes of parts not sent because Box held them already (a new version's parts that the
    /// plan found unchanged). Never in `bytes_sent`; in `bytes_done`.
    pub bytes_reused: u64,
    /// Bytes of parts the server acknowledged and the engine verified (or found stored on
    /// resume, or reused).
    pub bytes_done: u64,
    /// Parts done, and the number of parts (0 and 1 for a single-request upload).
    pub parts_done: u64,
    /// The number of parts (1 for a single-request upload).
    pub total_parts: u64,
    /// Calls that were tried again.
    pub retries: u64,
    /// Commit answers 202 ("not ready yet") waited out.
    pub commit_waits: u64,
    /// The upload session, once opened.
    pub session_id: Option<String>,
    /// This upload's part requests (or its single request) in flight now.
    pub parts_in_flight: u64,
    /// The most of this upload's part requests that were in flight at once.
    pub max_parts_in_flight: u64,
}

/// Something that happened during an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A single-request upload of `size` bytes started.
    DirectStarted {
        /// The bytes sent in the one request.
        size: u64,
    },
    /// A chunked upload opened its session. `concurrency` is the most parts this upload may
    /// have in flight: the uploader's ceiling (the adaptive `max`, or the pinned number), lowered
    /// by the memory cap for a reader and by the number of parts.
    SessionOpened {
        /// The session's id.
        session_id: String,
        /// The session's part size.
        part_size: u64,
        /// The parts of the file at that size.
        total_parts: u64,
        /// The most parts in flight for this upload.
        concurrency: usize,
    },
    /// A chunked upload resumed a session from its state file; `parts_stored` were already there.
    SessionResumed {
        /// The session's id.
        session_id: String,
        /// The parts it held already.
        parts_stored: u64,
    },
    /// The state file named a session that is gone or expired; a new one is opened.
    SessionRestarted {
        /// The session given up.
        old_session_id: String,
        /// Why it could not be resumed.
        reason: String,
    },
    /// A part was stored and verified.
    PartDone {
        /// The part's position, from 0.
        index: u64,
        /// Its first byte's offset in the file.
        offset: u64,
        /// Its length.
        size: u64,
    },
    /// A part already stored (resume, or found after an ambiguous failure) was verified and kept.
    PartAlreadyStored {
        /// The part's position, from 0.
        index: u64,
        /// Its first byte's offset in the file.
        offset: u64,
        /// Its length.
        size: u64,
    },
    /// A part Box holds for the file already (the plan's hit): committed by its id, not sent.
    PartReused {
        /// The part's position, from 0.
        index: u64,
        /// Its first byte's offset in the file.
        offset: u64,
        /// Its length.
        size: u64,
    },
    /// A call failed and will be tried again after `wait`.
    Retry {
        /// The call (the generated operation's name).
        operation: &'static str,
        /// The attempt that failed, from 1.
        attempt: u32,
        /// Why, in short (`HTTP 503`, `timeout`).
        reason: String,
        /// The wait before the next attempt.
        wait: Duration,
    },
    /// The commit was answered 202; waiting `wait` before committing again.
    CommitPending {
        /// The 202s so far.
        attempt: u32,
        /// The wait before committing again.
        wait: Duration,
    },
    /// The file is stored.
    Committed {
        /// The file's id.
        file_id: String,
    },
    /// The session was aborted (its parts discarded) after a failure or on request.
    SessionAborted {
        /// The session's id.
        session_id: String,
    },
}

impl From<RetryEvent> for ProgressEvent {
    fn from(event: RetryEvent) -> Self {
        match event {
            RetryEvent::Retry {
                operation,
                attempt,
                reason,
                wait,
            } => ProgressEvent::Retry {
                operation,
                attempt,
                reason,
                wait,
            },
            RetryEvent::CommitPending { attempt, wait } => {
                ProgressEvent::CommitPending { attempt, wait }
            }
        }
    }
}

/// The sending side, held by the engine.
#[derive(Clone)]
pub(crate) struct Reporter {
    state: Arc<watch::Sender<Progress>>,
    events: broadcast::Sender<ProgressEvent>,
}

impl Reporter {
    pub(crate) fn new() -> Self {
        let (state, _) = watch::channel(Progress::default());
        let (events, _) = broadcast::channel(1024);
        Reporter {
            state: Arc::new(state),
            events,
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Progress> {
        self.state.subscribe()
    }

    /// The parts not answered yet (in flight, waiting, or still to be read), once a chunked
    /// session says how many there are.
    pub(crate) fn parts_left(&self) -> Option<u64> {
        let p = self.state.borrow();
        (p.total_parts > 0).then(|| p.total_parts.saturating_sub(p.parts_done))
    }

    pub(crate) fn events(&self) -> broadcast::Receiver<ProgressEvent> {
        self.events.subscribe()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Progress)) {
        self.state.send_modify(f);
    }

    pub(crate) fn event(&self, event: ProgressEvent) {
        match &event {
            ProgressEvent::Retry {
                operation,
                attempt,
                reason,
                wait,
            } => crate::retry::log_retry(operation, *attempt, reason, *wait),
            _ => tracing::debug!(?event, "upload progress"),
        }
        self.state.send_modify(|p| match &event {
            ProgressEvent::Retry { .. } => p.retries += 1,
            ProgressEvent::CommitPending { .. } => p.commit_waits += 1,
            ProgressEvent::PartDone { size, .. }
            | ProgressEvent::PartAlreadyStored { size, .. } => {
                p.parts_done += 1;
                p.bytes_done += size;
            }
            ProgressEvent::PartReused { size, .. } => {
                p.parts_done += 1;
                p.bytes_done += size;
                p.bytes_reused += size;
            }
            ProgressEvent::SessionOpened {
                session_id,
                total_parts,
                ..
            } => {
                p.session_id = Some(session_id.clone());
                p.total_parts = *total_parts;
            }
            ProgressEvent::SessionResumed { session_id, .. } => {
                p.session_id = Some(session_id.clone())
            }
            _ => {}
        });
        // No listener is fine.
        let _ = self.events.send(event);
    }

    pub(crate) fn add_sent(&self, n: u64) {
        self.state
            .send_modify(|p| p.bytes_sent = p.bytes_sent.saturating_add(n));
    }

    pub(crate) fn take_back_sent(&self, n: u64) {
        self.state
            .send_modify(|p| p.bytes_sent = p.bytes_sent.saturating_sub(n));
    }

    /// Counts a request of this upload in flight until the guard is dropped.
    pub(crate) fn in_flight(&self) -> InFlight {
        self.state.send_modify(|p| {
            p.parts_in_flight += 1;
            p.max_parts_in_flight = p.max_parts_in_flight.max(p.parts_in_flight);
        });
        InFlight(self.clone())
    }
}

/// The retries and waits of an upload's calls are progress events like any other.
impl RetryObserver for Reporter {
    fn retrying(&self, event: RetryEvent) {
        self.event(event.into());
    }
}

/// One request of an upload in flight (see [`Reporter::in_flight`]).
pub(crate) struct InFlight(Reporter);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .state
            .send_modify(|p| p.parts_in_flight = p.parts_in_flight.saturating_sub(1));
    }
}

/// A part's bytes on their way to the network, counting what the HTTP client has taken (for
/// progress): slices of a buffer in memory (no copy), or pieces read again from a file.
pub(crate) struct CountedBody {
    content: Content,
    counter: Option<(Reporter, Arc<AtomicU64>)>,
}

enum Content {
    Bytes(Bytes),
    Stream {
        pieces: BoxStream<'static, std::io::Result<Bytes>>,
        len: u64,
    },
}

/// Slices handed to the HTTP client.
const SLICE: usize = 256 * 1024;

impl CountedBody {
    pub(crate) fn new(bytes: Bytes, reporter: Option<Reporter>, counted: Arc<AtomicU64>) -> Self {
        CountedBody {
            content: Content::Bytes(bytes),
            counter: reporter.map(|r| (r, counted)),
        }
    }

    /// A body of exactly `len` bytes coming as `pieces` (a part read again from its file).
    pub(crate) fn from_stream(
        pieces: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
        len: u64,
        reporter: Option<Reporter>,
        counted: Arc<AtomicU64>,
    ) -> Self {
        CountedBody {
            content: Content::Stream {
                pieces: pieces.boxed(),
                len,
            },
            counter: reporter.map(|r| (r, counted)),
        }
    }

    /// The declared length (the request's `content-length`).
    pub(crate) fn len(&self) -> u64 {
        match &self.content {
            Content::Bytes(b) => b.len() as u64,
            Content::Stream { len, .. } => *len,
        }
    }

    /// All the bytes (for fakes in tests); an error when the body fails, as a request would.
    #[cfg(test)]
    pub(crate) async fn collect(self) -> std::io::Result<Bytes> {
        let pieces: Vec<Bytes> = self.pieces().try_collect().await?;
        Ok(Bytes::from(pieces.concat()))
    }

    /// The body's pieces, counted as they are taken.
    fn pieces(self) -> BoxStream<'static, std::io::Result<Bytes>> {
        let counter = self.counter;
        let count = move |piece: &Bytes| {
            let n = piece.len() as u64;
            if let Some((reporter, counted)) = &counter {
                counted.fetch_add(n, Ordering::Relaxed);
                reporter.add_sent(n);
            }
        };
        let pieces = match self.content {
            Content::Bytes(bytes) => {
                let slices = (0..bytes.len())
                    .step_by(SLICE)
                    .map(move |start| Ok(bytes.slice(start..(start + SLICE).min(bytes.len()))));
                futures_util::stream::iter(slices).boxed()
            }
            Content::Stream { pieces, .. } => pieces,
        };
        pieces.inspect_ok(count).boxed()
    }

    /// Converts into a streaming request body with a known length (sent as `content-length`).
    pub(crate) fn into_body(self) -> box_uploads_runtime::Body {
        let len = self.len();
        box_uploads_runtime::Body::from_stream(self.pieces(), Some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_and_waits_are_progress_events_of_the_same_fields() {
        let r = Reporter::new();
        let rx = r.subscribe();
        let mut events = r.events();
        let observer: &dyn RetryObserver = &r;
        observer.retrying(RetryEvent::Retry {
            operation: "upload_part",
            attempt: 2,
            reason: "HTTP 503".into(),
            wait: Duration::from_millis(7),
        });
        observer.retrying(RetryEvent::CommitPending {
            attempt: 1,
            wait: Duration::from_secs(1),
        });
        assert_eq!(
            events.try_recv().ok(),
            Some(ProgressEvent::Retry {
                operation: "upload_part",
                attempt: 2,
                reason: "HTTP 503".into(),
                wait: Duration::from_millis(7),
            })
        );
        assert_eq!(
            events.try_recv().ok(),
            Some(ProgressEvent::CommitPending {
                attempt: 1,
                wait: Duration::from_secs(1),
            })
        );
        let p = rx.borrow().clone();
        assert_eq!((p.retries, p.commit_waits), (1, 1));
    }

    #[test]
    fn events_update_the_snapshot() {
        let r = Reporter::new();
        let rx = r.subscribe();
        let mut events = r.events();
        r.event(ProgressEvent::SessionOpened {
            session_id: "S".into(),
            part_size: 10,
            total_parts: 3,
            concurrency: 2,
        });
        r.event(ProgressEvent::PartDone {
            index: 0,
            offset: 0,
            size: 10,
        });
        r.event(ProgressEvent::Retry {
            operation: "upload_part",
            attempt: 1,
            reason: "HTTP 500".into(),
            wait: Duration::ZERO,
        });
        r.event(ProgressEvent::CommitPending {
            attempt: 1,
            wait: Duration::ZERO,
        });
        r.event(ProgressEvent::PartReused {
            index: 1,
            offset: 10,
            size: 7,
        });
        let p = rx.borrow().clone();
        assert_eq!(
            (p.bytes_reused, p.bytes_sent),
            (7, 0),
            "reused bytes are not sent"
        );
        assert_eq!(
            (
                p.parts_done,
                p.bytes_done,
                p.total_parts,
                p.retries,
                p.commit_waits
            ),
            (2, 17, 3, 1, 1)
        );
        assert_eq!(p.session_id.as_deref(), Some("S"));
        assert!(matches!(
            events.try_recv(),
            Ok(ProgressEvent::SessionOpened { .. })
        ));
    }
}
