//! A tree upload running on a task of its own ([`TreeHandle`]: progress, `join`, `pause`,
//! `abort`, as an upload's handle has), and the [`Uploader`] methods that start one.

use std::path::PathBuf;

use tokio::sync::watch;

use super::error::TreeError;
use super::options::TreeUpload;
use super::report::{TreeProgress, TreeReport};
use super::run::run;
use crate::upload::Uploader;

/// A tree upload running on a task of its own, with the methods of an
/// [`UploadHandle`](crate::upload::UploadHandle):
///
/// - [`join`](Self::join) waits for the report;
/// - [`pause`](Self::pause) stops the run and keeps the journal: running the same tree upload
///   again goes on where it stopped;
/// - [`abort`](Self::abort) stops the run and removes the journal: a later run checks every
///   file again (files already in Box are skipped by their size and SHA-1).
///
/// Files in flight are stopped within one part and their sessions discarded; files done are in
/// Box. Dropping the handle stops the run too (keeping the journal).
///
/// ```no_run
/// # async fn demo(uploader: box_uploads::upload::Uploader) -> Result<(), box_uploads::tree::TreeError> {
/// use box_uploads::tree::TreeUpload;
///
/// let handle = uploader.start_tree(TreeUpload::new("photos/", "0").journal("photos.journal"));
/// // ... the service is shutting down: the next run goes on from the journal.
/// if let Some(report) = handle.pause().await? {
///     println!("finished before the pause: {} uploaded", report.uploaded());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "dropping a TreeHandle stops the tree upload"]
pub struct TreeHandle {
    progress: watch::Receiver<TreeProgress>,
    task: Option<tokio::task::JoinHandle<Result<TreeReport, TreeError>>>,
    aborter: TreeAborter,
    journal: Option<PathBuf>,
}

impl Drop for TreeHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.aborter.abort();
        }
    }
}

impl TreeHandle {
    /// The latest [`TreeProgress`].
    pub fn progress(&self) -> watch::Receiver<TreeProgress> {
        self.progress.clone()
    }

    /// Waits for the report.
    pub async fn join(mut self) -> Result<TreeReport, TreeError> {
        let Some(task) = self.task.take() else {
            return Err(TreeError::Internal("the run was already joined".into()));
        };
        match task.await {
            Ok(r) => r,
            Err(e) if e.is_cancelled() => Err(TreeError::Cancelled),
            Err(e) => Err(TreeError::Internal(e.to_string())),
        }
    }

    /// Stops the run and keeps the journal, so that the same tree upload run again goes on
    /// where this one stopped. Returns `Ok(Some(report))` if the run had finished before the
    /// pause took effect, `Ok(None)` once paused, and the run's error if it failed first.
    pub async fn pause(mut self) -> Result<Option<TreeReport>, TreeError> {
        self.aborter.abort();
        self.stopped().await
    }

    /// Stops the run and removes the journal: a later run checks every file again. Returns
    /// `Ok(Some(report))` if the run had finished before the abort took effect, `Ok(None)`
    /// once aborted, and the run's error if it failed first (or
    /// [`TreeError::Journal`] if the journal could not be removed).
    pub async fn abort(mut self) -> Result<Option<TreeReport>, TreeError> {
        self.aborter.abort();
        let stopped = self.stopped().await;
        if let (Ok(None), Some(path)) = (&stopped, self.journal.take()) {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(TreeError::Journal { path, source }),
            }
        }
        stopped
    }

    async fn stopped(&mut self) -> Result<Option<TreeReport>, TreeError> {
        match self.task.take() {
            Some(task) => match task.await {
                Ok(Ok(report)) => Ok(Some(report)),
                Ok(Err(TreeError::Cancelled)) => Ok(None),
                Ok(Err(e)) => Err(e),
                Err(e) if e.is_cancelled() => Ok(None),
                Err(e) => Err(TreeError::Internal(e.to_string())),
            },
            None => Ok(None),
        }
    }

    /// Something that stops the run while another task waits in [`join`](Self::join) (the
    /// journal is kept, as [`pause`](Self::pause) keeps it).
    pub fn aborter(&self) -> TreeAborter {
        self.aborter.clone()
    }
}

/// Stops a tree upload (see [`TreeHandle::aborter`]).
#[derive(Debug, Clone)]
pub struct TreeAborter(tokio::task::AbortHandle);

impl TreeAborter {
    /// Stops the run; its [`join`](TreeHandle::join) returns [`TreeError::Cancelled`].
    pub fn abort(&self) {
        self.0.abort();
    }
}

impl Uploader {
    /// Starts a tree upload on a task of its own (progress, `join`, `pause`, `abort`). Must be
    /// called within a Tokio runtime.
    pub fn start_tree(&self, tree: TreeUpload) -> TreeHandle {
        let (tx, rx) = watch::channel(TreeProgress::default());
        let uploader = self.clone();
        let journal = tree.journal.clone();
        let task = tokio::spawn(run(uploader, tree, tx));
        TreeHandle {
            journal,
            progress: rx,
            aborter: TreeAborter(task.abort_handle()),
            task: Some(task),
        }
    }

    /// Uploads a local directory tree into a Box folder and reports what became of each file
    /// (see [`crate::tree`]). One file's failure does not stop the others: look at
    /// [`TreeReport::failed`]; each failed file's [`TreeFileError::kind`](super::TreeFileError::kind)
    /// is an [`UploadErrorKind`](crate::upload::UploadErrorKind), as a single upload's is (a
    /// name in use is a `Conflict` naming the existing item). The run as a whole fails only
    /// before its files are tried: the local tree or the journal cannot be read, or the target
    /// folder cannot be listed ([`TreeError`]).
    ///
    /// ```no_run
    /// # async fn demo(uploader: box_uploads::upload::Uploader) -> Result<(), box_uploads::tree::TreeError> {
    /// use box_uploads::tree::{OnConflict, TreeUpload};
    ///
    /// let report = uploader
    ///     .upload_tree(TreeUpload::new("site/", "12345").on_conflict(OnConflict::Skip))
    ///     .await?;
    /// assert!(report.is_success());
    /// # Ok(()) }
    /// ```
    pub async fn upload_tree(&self, tree: TreeUpload) -> Result<TreeReport, TreeError> {
        self.start_tree(tree).join().await
    }
}
