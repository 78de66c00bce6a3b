//! The handle of a running upload: progress, `join()`, `pause()`, `abort()`; dropping it cancels
//! the upload. Also the upload's side of the stop switch ([`Cancellation`]): whether it was
//! asked to stop, and whether to keep its session (a pause) or discard it (an abort).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::calls::Target;
use super::error::UploadError;
use super::progress::{Progress, ProgressEvent, Reporter};
use crate::retry::CancelSignal;

/// A running upload, started with `Uploader::start_upload`.
///
/// - [`UploadHandle::join`] waits for the committed file.
/// - [`UploadHandle::pause`] stops the upload within one part and keeps its session and state
///   file: the same upload started again with the same state file resumes it.
/// - [`UploadHandle::abort`] stops the upload within one part and discards its session and
///   state file.
/// - Dropping the handle cancels the upload too: in-flight parts are dropped; the session is
///   discarded unless it is kept for resume (a state file is set, or
///   `keep_session_on_failure`).
///
/// A folder tree's `TreeHandle` has the same methods.
///
/// ```no_run
/// # async fn demo(uploader: box_uploads::upload::Uploader) -> Result<(), box_uploads::upload::UploadError> {
/// use box_uploads::upload::Upload;
///
/// let upload = Upload::new_file("0", "big.iso").from_path("big.iso").state_file("big.iso.upload");
/// let handle = uploader.start_upload(upload);
/// // ... the service is shutting down: keep what was sent for the next run.
/// if let Some(file) = handle.pause().await? {
///     println!("committed before the pause: {}", file.id);
/// }
/// # Ok(()) }
/// ```
#[must_use = "dropping an UploadHandle cancels the upload"]
pub struct UploadHandle<F = crate::models::FileFull> {
    task: Option<JoinHandle<Result<F, UploadError>>>,
    reporter: Reporter,
    stop: StopSwitch,
    /// The upload's target, to name an API failure by what a caller acts on
    /// ([`UploadError::named`]); none for the engine's own tests, which see the raw kinds.
    target: Option<Target>,
}

impl<F> std::fmt::Debug for UploadHandle<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadHandle")
            .field("progress", &*self.reporter.subscribe().borrow())
            .finish_non_exhaustive()
    }
}

impl<F> UploadHandle<F> {
    pub(crate) fn new(
        task: JoinHandle<Result<F, UploadError>>,
        reporter: Reporter,
        stop: StopSwitch,
    ) -> Self {
        UploadHandle {
            task: Some(task),
            reporter,
            stop,
            target: None,
        }
    }

    /// Names the failures of an upload to `target` by what a caller acts on.
    pub(crate) fn naming_failures_for(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// The latest progress; `changed().await` on the receiver wakes on every update.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.reporter.subscribe()
    }

    /// Events from now on (retries and their reasons, 202 waits, parts done...). A receiver that
    /// falls more than 1024 events behind loses the oldest.
    pub fn events(&self) -> broadcast::Receiver<ProgressEvent> {
        self.reporter.events()
    }

    /// A cheap, cloneable way to abort the upload from elsewhere (a signal handler, another
    /// task) while this handle is being joined. The upload then ends with
    /// [`UploadErrorKind::Cancelled`](super::UploadErrorKind::Cancelled) after discarding its
    /// session and state file.
    pub fn aborter(&self) -> Aborter {
        Aborter {
            stop: self.stop.clone(),
        }
    }

    /// Waits for the upload to finish: the committed file, or why it failed (any
    /// [`UploadErrorKind`](super::UploadErrorKind)).
    pub async fn join(mut self) -> Result<F, UploadError> {
        let result = match self.task.take() {
            Some(task) => flatten(task.await),
            None => Err(UploadError::internal("upload already joined")),
        };
        result.map_err(|e| self.name(e))
    }

    /// Stops the upload (within one part) and keeps its session and state file, so that the
    /// same upload started again with the same state file resumes it and sends only the parts
    /// not stored yet. Without a state file there is nothing to resume from: the session is
    /// discarded unless `keep_session_on_failure(true)` was asked for. Returns `Ok(Some(file))`
    /// if the upload had already committed before the pause took effect, `Ok(None)` once
    /// paused, and the upload's error if it failed first.
    pub async fn pause(mut self) -> Result<Option<F>, UploadError> {
        self.stop.stop(Stop::Pause);
        self.stopped().await
    }

    /// Stops the upload (within one part) and discards its session and state file. Returns
    /// `Ok(Some(file))` if the upload had already committed before the abort took effect,
    /// `Ok(None)` once aborted, and the upload's error if it failed first.
    pub async fn abort(mut self) -> Result<Option<F>, UploadError> {
        self.stop.stop(Stop::Abort);
        self.stopped().await
    }

    async fn stopped(&mut self) -> Result<Option<F>, UploadError> {
        match self.task.take() {
            Some(task) => match flatten(task.await) {
                Ok(file) => Ok(Some(file)),
                Err(e) if e.is_cancelled() => Ok(None),
                Err(e) => Err(self.name(e)),
            },
            None => Ok(None),
        }
    }

    fn name(&self, err: UploadError) -> UploadError {
        match &self.target {
            Some(target) => {
                let size = self.reporter.subscribe().borrow().total_bytes;
                err.named(target, size)
            }
            None => err,
        }
    }
}

/// Aborts an upload; see [`UploadHandle::aborter`].
#[derive(Debug, Clone)]
pub struct Aborter {
    stop: StopSwitch,
}

impl Aborter {
    /// Asks the upload to stop (within one part) and discard its session.
    pub fn abort(&self) {
        self.stop.stop(Stop::Abort);
    }
}

/// How an upload is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Keep the session and the state file for a later resume.
    Pause,
    /// Discard them.
    Abort,
}

/// The handle's side of the stop switch: asks the upload to stop, saying how.
#[derive(Debug, Clone)]
pub(crate) struct StopSwitch {
    tx: watch::Sender<bool>,
    pausing: Arc<AtomicBool>,
}

impl StopSwitch {
    fn stop(&self, how: Stop) {
        // Said before the stop itself, so the upload reads how once it sees the stop. An abort
        // after a pause wins.
        self.pausing.store(how == Stop::Pause, Ordering::SeqCst);
        self.tx.send_replace(true);
    }
}

/// The upload's side of the stop switch: whether, when and how the upload was asked to stop.
#[derive(Debug, Clone)]
pub(crate) struct Cancellation {
    rx: watch::Receiver<bool>,
    pausing: Arc<AtomicBool>,
}

impl Cancellation {
    /// A switch and the upload's side of it.
    pub(crate) fn channel() -> (StopSwitch, Cancellation) {
        let (tx, rx) = watch::channel(false);
        let pausing = Arc::new(AtomicBool::new(false));
        (
            StopSwitch {
                tx,
                pausing: pausing.clone(),
            },
            Cancellation { rx, pausing },
        )
    }

    /// Resolves when the upload is asked to stop (paused or aborted) through its handle.
    pub(crate) async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            // The handle is gone: the task is being aborted, and the session guard decides
            // what happens to the session. Never resolve here, or a dropped handle would race
            // its own cancellation.
            std::future::pending::<()>().await;
        }
    }

    /// Whether the upload was aborted through its handle: then its session and state file are
    /// discarded. A paused upload is not (it keeps them for a resume).
    pub(crate) fn is_cancelled(&self) -> bool {
        *self.rx.borrow() && !self.pausing.load(Ordering::SeqCst)
    }
}

/// A stop through the handle stops the upload's calls too, while made or waited for.
impl CancelSignal for Cancellation {
    fn cancelled(&self) -> BoxFuture<'_, ()> {
        Cancellation::cancelled(self).boxed()
    }
}

fn flatten<F>(
    joined: Result<Result<F, UploadError>, tokio::task::JoinError>,
) -> Result<F, UploadError> {
    match joined {
        Ok(result) => result,
        Err(e) if e.is_cancelled() => Err(UploadError::cancelled()),
        Err(e) => Err(UploadError::internal("upload task failed").with_source(e)),
    }
}

impl<F> Drop for UploadHandle<F> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_retry_loop_is_stopped_by_a_stop_through_the_handle() {
        for how in [Stop::Pause, Stop::Abort] {
            let (switch, cancel) = Cancellation::channel();
            let signal: &dyn CancelSignal = &cancel;
            let early = tokio::time::timeout(Duration::from_millis(20), signal.cancelled()).await;
            assert!(early.is_err(), "{how:?}: not stopped yet");
            switch.stop(how);
            let fired = tokio::time::timeout(Duration::from_secs(5), signal.cancelled()).await;
            assert!(fired.is_ok(), "{how:?}: stopped");
            assert_eq!(cancel.is_cancelled(), how == Stop::Abort, "{how:?}");
        }
    }
}
