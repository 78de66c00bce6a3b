//! A tree upload running on a task of its own ([`TreeHandle`]), and the [`Uploader`] methods
//! that start one.

use tokio::sync::watch;

use super::error::TreeError;
use super::options::TreeUpload;
use super::report::{TreeProgress, TreeReport};
use super::run::run;
use crate::upload::Uploader;

/// A tree upload running on a task of its own. Dropping the handle stops the run, as
/// [`abort`](Self::abort) does.
#[derive(Debug)]
#[must_use = "dropping a TreeHandle stops the tree upload"]
pub struct TreeHandle {
    progress: watch::Receiver<TreeProgress>,
    task: Option<tokio::task::JoinHandle<Result<TreeReport, TreeError>>>,
    aborter: TreeAborter,
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

    /// Stops the run: uploads in flight are cancelled (their sessions aborted). Files done are
    /// in Box (and in the journal); running the tree upload again finishes it.
    pub fn abort(&self) {
        self.aborter.abort();
    }

    /// Something that stops the run (as [`abort`](Self::abort)) while another task waits in
    /// [`join`](Self::join).
    pub fn aborter(&self) -> TreeAborter {
        self.aborter.clone()
    }
}

/// Stops a tree upload (see [`TreeHandle::aborter`]).
#[derive(Debug, Clone)]
pub struct TreeAborter(tokio::task::AbortHandle);

impl TreeAborter {
    pub fn abort(&self) {
        self.0.abort();
    }
}

impl Uploader {
    /// Starts a tree upload on a task of its own. Must be called within a Tokio runtime.
    pub fn start_tree(&self, tree: TreeUpload) -> TreeHandle {
        let (tx, rx) = watch::channel(TreeProgress::default());
        let uploader = self.clone();
        let task = tokio::spawn(run(uploader, tree, tx));
        TreeHandle {
            progress: rx,
            aborter: TreeAborter(task.abort_handle()),
            task: Some(task),
        }
    }

    /// Uploads a local directory tree into a Box folder and reports what became of each file
    /// (see [`crate::tree`]). One file's failure does not stop the others: look at
    /// [`TreeReport::failed`].
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
