//! Progress as data: a [`Progress`] snapshot on a `watch` channel (always the latest state) and
//! [`ProgressEvent`]s on a `broadcast` channel (what happened, in order; a slow listener loses the
//! oldest events, never slows the upload).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, watch};

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Phase {
    #[default]
    Starting,
    /// Sending the content (the parts, or the single request).
    Uploading,
    /// Every part is stored; committing.
    Committing,
    Done,
    Failed,
}

/// The latest state of an upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    pub phase: Phase,
    /// The declared size of the source.
    pub total_bytes: u64,
    /// Bytes handed to the network for attempts still under way or acknowledged (a retried
    /// attempt's bytes are taken back). Moves smoothly; good for a progress bar.
    pub bytes_sent: u64,
    /// Bytes of parts the server acknowledged and the engine verified (or found stored on resume).
    pub bytes_done: u64,
    /// Parts done, and the number of parts (0 and 1 for a single-request upload).
    pub parts_done: u64,
    pub total_parts: u64,
    /// Calls that were tried again.
    pub retries: u64,
    /// Commit answers 202 ("not ready yet") waited out.
    pub commit_waits: u64,
    /// The upload session, once opened.
    pub session_id: Option<String>,
}

/// Something that happened during an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A single-request upload started.
    DirectStarted { size: u64 },
    /// A chunked upload opened its session.
    SessionOpened {
        session_id: String,
        part_size: u64,
        total_parts: u64,
        concurrency: usize,
    },
    /// A chunked upload resumed a session from its state file; `parts_stored` were already there.
    SessionResumed {
        session_id: String,
        parts_stored: u64,
    },
    /// The state file named a session that is gone or expired; a new one is opened.
    SessionRestarted {
        old_session_id: String,
        reason: String,
    },
    /// A part was stored and verified.
    PartDone { index: u64, offset: u64, size: u64 },
    /// A part already stored (resume, or found after an ambiguous failure) was verified and kept.
    PartAlreadyStored { index: u64, offset: u64, size: u64 },
    /// A call failed and will be tried again after `wait`.
    Retry {
        operation: &'static str,
        attempt: u32,
        reason: String,
        wait: Duration,
    },
    /// The commit was answered 202; waiting `wait` before committing again.
    CommitPending { attempt: u32, wait: Duration },
    /// The file is stored.
    Committed { file_id: String },
    /// The session was aborted (its parts discarded) after a failure or on request.
    SessionAborted { session_id: String },
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

    pub(crate) fn events(&self) -> broadcast::Receiver<ProgressEvent> {
        self.events.subscribe()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Progress)) {
        self.state.send_modify(f);
    }

    pub(crate) fn event(&self, event: ProgressEvent) {
        tracing::debug!(?event, "upload progress");
        self.state.send_modify(|p| match &event {
            ProgressEvent::Retry { .. } => p.retries += 1,
            ProgressEvent::CommitPending { .. } => p.commit_waits += 1,
            ProgressEvent::PartDone { size, .. }
            | ProgressEvent::PartAlreadyStored { size, .. } => {
                p.parts_done += 1;
                p.bytes_done += size;
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
}

/// A part's bytes on their way to the network: streamed in slices of the shared buffer (no copy),
/// counting what the HTTP client has taken.
pub(crate) struct CountedBody {
    bytes: Bytes,
    counter: Option<(Reporter, Arc<AtomicU64>)>,
}

/// Slices handed to the HTTP client.
const SLICE: usize = 256 * 1024;

impl CountedBody {
    pub(crate) fn new(bytes: Bytes, reporter: Option<Reporter>, counted: Arc<AtomicU64>) -> Self {
        CountedBody {
            bytes,
            counter: reporter.map(|r| (r, counted)),
        }
    }

    /// The bytes (for fakes in tests).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Converts into a streaming request body with a known length.
    pub(crate) fn into_body(self) -> box_uploads_runtime::Body {
        let len = self.bytes.len() as u64;
        let bytes = self.bytes;
        let counter = self.counter;
        let stream =
            futures_util::stream::iter((0..bytes.len()).step_by(SLICE).map(move |start| {
                let end = (start + SLICE).min(bytes.len());
                if let Some((reporter, counted)) = &counter {
                    let n = (end - start) as u64;
                    counted.fetch_add(n, Ordering::Relaxed);
                    reporter.add_sent(n);
                }
                Ok::<Bytes, std::io::Error>(bytes.slice(start..end))
            }));
        box_uploads_runtime::Body::from_stream(stream, Some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let p = rx.borrow().clone();
        assert_eq!(
            (
                p.parts_done,
                p.bytes_done,
                p.total_parts,
                p.retries,
                p.commit_waits
            ),
            (1, 10, 3, 1, 1)
        );
        assert_eq!(p.session_id.as_deref(), Some("S"));
        assert!(matches!(
            events.try_recv(),
            Ok(ProgressEvent::SessionOpened { .. })
        ));
    }
}
