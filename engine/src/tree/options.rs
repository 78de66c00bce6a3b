//! What a tree upload is asked to do: the local root, the Box folder, and the options
//! ([`TreeUpload`], a builder).

use std::path::PathBuf;

use super::glob::Glob;
use super::limiter::{RateLimiter, RateLimits};
use crate::conflict::OnConflict;

/// A folder tree to upload: a local directory into a Box folder, and how.
#[derive(Debug, Clone)]
pub struct TreeUpload {
    pub(super) root: PathBuf,
    pub(super) folder_id: String,
    pub(super) on_conflict: OnConflict,
    pub(super) exclude: Vec<Glob>,
    pub(super) follow_symlinks: bool,
    pub(super) journal: Option<PathBuf>,
    pub(super) dry_run: bool,
    pub(super) files_in_flight: Option<usize>,
    pub(super) limiter: Option<RateLimiter>,
    pub(super) limits: RateLimits,
}

impl TreeUpload {
    /// The contents of local directory `root` into Box folder `folder_id` (`"0"` is the root
    /// folder): `root/a/b.txt` becomes `b.txt` in a folder `a` of that folder.
    pub fn new(root: impl Into<PathBuf>, folder_id: impl Into<String>) -> Self {
        TreeUpload {
            root: root.into(),
            folder_id: folder_id.into(),
            on_conflict: OnConflict::default(),
            exclude: Vec::new(),
            follow_symlinks: false,
            journal: None,
            dry_run: false,
            files_in_flight: None,
            limiter: None,
            limits: RateLimits::default(),
        }
    }

    /// What to do with a name that exists with other content (default [`OnConflict::Version`]).
    pub fn on_conflict(mut self, on_conflict: OnConflict) -> Self {
        self.on_conflict = on_conflict;
        self
    }

    /// Leaves out files and directories matching `pattern` (see [`Glob`]); may be repeated.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.exclude.push(Glob::new(pattern));
        self
    }

    /// Follow symbolic links (default: no; a link is reported as skipped).
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }

    /// Records each file done (and each folder found or made) in this file, so that the same
    /// tree upload run again after a crash skips them without hashing or listing. It may be kept
    /// inside the tree: it and the files beside it named after it are reported as skipped
    /// ([`SkipReason::JournalFile`](super::SkipReason::JournalFile)), never uploaded.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }

    /// Only say what would be done: Box folders are listed, nothing is created or uploaded.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Files handled at once (hashing, waiting for a permit). Requests in flight are bounded
    /// by the uploader's [`concurrency`](crate::upload::UploadConfig::concurrency), shared
    /// with the parts of chunked uploads. Default: 32 for an adaptive concurrency, 8 x n
    /// for `Fixed(n)`.
    pub fn files_in_flight(mut self, n: usize) -> Self {
        self.files_in_flight = Some(n.max(1));
        self
    }

    /// The client-side rate limits (default [`RateLimits::default`]: Box's).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Share a [`RateLimiter`] with other work of the same user (replaces
    /// [`rate_limits`](Self::rate_limits)).
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }
}
