//! The handle of a running upload: progress, `join()`, `abort()`; dropping it cancels the upload.

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::error::UploadError;
use super::progress::{Progress, ProgressEvent, Reporter};

/// A running upload, started with `Uploader::start_upload`.
///
/// - [`UploadHandle::join`] waits for the committed file.
/// - [`UploadHandle::abort`] stops the upload within one part and discards its session.
/// - Dropping the handle cancels the upload too: in-flight parts are dropped; the session is
///   discarded unless it is kept for resume (a state file is set, or
///   `keep_session_on_failure`).
#[must_use = "dropping an UploadHandle cancels the upload"]
pub struct UploadHandle<F = crate::models::FileFull> {
    task: Option<JoinHandle<Result<F, UploadError>>>,
    reporter: Reporter,
    cancel: watch::Sender<bool>,
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
        cancel: watch::Sender<bool>,
    ) -> Self {
        UploadHandle {
            task: Some(task),
            reporter,
            cancel,
        }
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
            cancel: self.cancel.clone(),
        }
    }

    /// Waits for the upload to finish.
    pub async fn join(mut self) -> Result<F, UploadError> {
        match self.task.take() {
            Some(task) => flatten(task.await),
            None => Err(UploadError::internal("upload already joined")),
        }
    }

    /// Stops the upload (within one part) and discards its session and state file. Returns
    /// `Ok(Some(file))` if the upload had already committed before the abort took effect.
    pub async fn abort(mut self) -> Result<Option<F>, UploadError> {
        let _ = self.cancel.send(true);
        match self.task.take() {
            Some(task) => match flatten(task.await) {
                Ok(file) => Ok(Some(file)),
                Err(e) if e.is_cancelled() => Ok(None),
                Err(e) => Err(e),
            },
            None => Ok(None),
        }
    }
}

/// Aborts an upload; see [`UploadHandle::aborter`].
#[derive(Debug, Clone)]
pub struct Aborter {
    cancel: watch::Sender<bool>,
}

impl Aborter {
    /// Asks the upload to stop (within one part) and discard its session.
    pub fn abort(&self) {
        let _ = self.cancel.send(true);
    }
}

/// The upload's side of [`Aborter`]: whether, and when, the upload was asked to stop.
#[derive(Debug, Clone)]
pub(crate) struct Cancellation(watch::Receiver<bool>);

impl Cancellation {
    pub(crate) fn new(rx: watch::Receiver<bool>) -> Self {
        Cancellation(rx)
    }

    /// Resolves when the upload is cancelled through its handle.
    pub(crate) async fn cancelled(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            // The handle is gone: the task is being aborted, and the session guard decides
            // what happens to the session. Never resolve here, or a dropped handle would race
            // its own cancellation.
            std::future::pending::<()>().await;
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        *self.0.borrow()
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
