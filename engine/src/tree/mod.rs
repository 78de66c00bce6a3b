//! Folder trees: one call uploads a local directory tree into a Box folder, creating the
//! folders that are missing, skipping what Box already holds, and staying under Box's rate
//! limits.
//!
//! - Each Box folder is created at most once however many files wait for it (a single-flight
//!   per path; a `409 item_name_in_use` means it is there, and names it) and listed once, all
//!   pages, to learn what it holds.
//! - Per file: a new name is uploaded; an existing one with the same size and SHA-1 is skipped
//!   (the local file is hashed to compare, and no byte is sent), else [`OnConflict`] decides.
//! - Files and their parts share the [`Uploader`]'s concurrency budget: many small files go at
//!   once, a big one takes several permits for its parts.
//! - A [`RateLimiter`] (by default Box's 240 uploads and 1000 requests a minute) spaces the
//!   calls, and a 429 anywhere slows the whole run.
//! - With a journal ([`TreeUpload::journal`]), a killed run started again skips every file
//!   done without hashing or listing it again, and creates no duplicate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use box_uploads::tree::{OnConflict, TreeUpload};
//! use box_uploads::upload::Uploader;
//! use box_uploads::ClientBuilder;
//!
//! let uploader = Uploader::new(ClientBuilder::new().token("ACCESS_TOKEN").build()?);
//! let tree = TreeUpload::new("photos/", "0")
//!     .on_conflict(OnConflict::Version)
//!     .exclude("**/.DS_Store")
//!     .journal("photos.journal");
//! let report = uploader.upload_tree(tree).await?;
//! println!(
//!     "{} uploaded, {} skipped, {} failed",
//!     report.uploaded(),
//!     report.skipped(),
//!     report.failed()
//! );
//! for file in report.failures() {
//!     eprintln!("{}: {:?}", file.path, file.outcome);
//! }
//! # Ok(()) }
//! ```

mod glob;
mod journal;
mod limiter;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use box_uploads_runtime::{self as rt, OperationError};
use sha1::{Digest as _, Sha1};
use tokio::sync::{watch, OnceCell, Semaphore};
use tokio::task::JoinSet;

pub use glob::Glob;
pub use limiter::{Rate, RateLimiter, RateLimits};

use crate::models::{CreateFolderBody, CreateFolderBodyParent, FileFull, Item, ItemType};
use crate::operations::{CreateFolderRequest, ListFolderItemsRequest};
use crate::upload::{
    call_error, CallError, Concurrency, ProgressEvent, Upload, UploadError, UploadErrorKind,
    Uploader,
};
use journal::{Entry, Journal};

/// What to do with a local file whose name a file in the Box folder already has. In every
/// case a file with the same size and SHA-1 is skipped: its bytes are never sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnConflict {
    /// Leave the file in Box as it is.
    Skip,
    /// Upload the local file as a new version of it (only if its etag is the one listed).
    #[default]
    Version,
    /// Report the file as failed.
    Fail,
    /// Upload the local file under a new name: `name (1).ext`, `name (2).ext`...
    Rename,
}

/// A folder tree to upload: a local directory into a Box folder, and how.
#[derive(Debug, Clone)]
pub struct TreeUpload {
    root: PathBuf,
    folder_id: String,
    on_conflict: OnConflict,
    exclude: Vec<Glob>,
    follow_symlinks: bool,
    journal: Option<PathBuf>,
    dry_run: bool,
    files_in_flight: Option<usize>,
    limiter: Option<RateLimiter>,
    limits: RateLimits,
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
    /// tree upload run again after a crash skips them without hashing or listing.
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

/// Why a file was not uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Box holds a file of that name with the same size and SHA-1.
    SameContent,
    /// Box holds a file of that name with other content, and [`OnConflict::Skip`].
    Exists,
    /// The journal says an earlier run uploaded it, and its size and mtime are unchanged.
    Journal,
    /// A symbolic link, not followed.
    Symlink,
}

/// What a dry run would do with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlannedAction {
    Upload,
    Version,
    Rename,
    Skip,
    Fail,
}

/// What became of one file.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileOutcome {
    /// Uploaded as a new file.
    Uploaded { file_id: String },
    /// Uploaded as a new version of the file of that name.
    Versioned { file_id: String },
    /// Uploaded as a new file under another name.
    Renamed { file_id: String, name: String },
    /// Not uploaded; `file_id` is the Box file it matches, when known.
    Skipped {
        reason: SkipReason,
        file_id: Option<String>,
    },
    /// Dry run: what would be done.
    Planned { action: PlannedAction },
    /// Failed; the other files went on.
    Failed(TreeFileError),
}

/// One file of the tree and what became of it.
#[derive(Debug)]
pub struct FileReport {
    /// Path relative to the tree's root, names joined with `/`.
    pub path: String,
    /// Local size in bytes.
    pub size: u64,
    pub outcome: FileOutcome,
}

impl FileReport {
    /// Whether the file's bytes were sent (uploaded, versioned or renamed).
    pub fn is_sent(&self) -> bool {
        matches!(
            self.outcome,
            FileOutcome::Uploaded { .. }
                | FileOutcome::Versioned { .. }
                | FileOutcome::Renamed { .. }
        )
    }

    pub fn is_failed(&self) -> bool {
        matches!(self.outcome, FileOutcome::Failed(_))
    }
}

/// Why one file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeFileError {
    /// The upload failed (see the [`UploadError`]).
    #[error("the upload failed")]
    Upload(#[source] UploadError),
    /// [`OnConflict::Fail`], or a folder holds the name: Box has another item of this name.
    #[error("Box already holds {name:?} ({kind} {existing_id}) with other content")]
    Conflict {
        name: String,
        kind: String,
        existing_id: String,
    },
    /// The Box folder for the file could not be created or listed.
    #[error("the Box folder for {folder:?} could not be created or listed")]
    Folder {
        folder: String,
        #[source]
        source: Arc<UploadError>,
    },
    /// Reading the local file (to hash it, or its metadata) failed.
    #[error("reading the local file failed")]
    Io(#[source] std::io::Error),
    /// The file was uploaded but the journal could not record it.
    #[error("the journal could not be written")]
    Journal(#[source] std::io::Error),
}

impl TreeFileError {
    /// The upload error behind this one, if any.
    pub fn upload_error(&self) -> Option<&UploadError> {
        match self {
            TreeFileError::Upload(e) => Some(e),
            TreeFileError::Folder { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a whole tree upload failed before its files were tried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The local tree could not be read.
    #[error("reading the local tree {} failed", path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be read or opened.
    #[error("the journal {} could not be opened", path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The target Box folder could not be listed.
    #[error("the Box folder {folder_id} could not be listed")]
    Folder {
        folder_id: String,
        #[source]
        source: Arc<UploadError>,
    },
    /// The run was aborted.
    #[error("the tree upload was cancelled")]
    Cancelled,
    /// The run's task ended unexpectedly.
    #[error("the tree upload's task failed: {0}")]
    Internal(String),
}

/// The result of a tree upload: every file, in path order.
#[derive(Debug, Default)]
pub struct TreeReport {
    pub files: Vec<FileReport>,
    /// Box folders created.
    pub folders_created: u64,
    /// 429 answers seen (each slowed the run down).
    pub throttled: u64,
}

impl TreeReport {
    /// Files uploaded as new files (renamed ones included).
    pub fn uploaded(&self) -> usize {
        self.count(|o| {
            matches!(
                o,
                FileOutcome::Uploaded { .. } | FileOutcome::Renamed { .. }
            )
        })
    }
    /// Files uploaded as new versions.
    pub fn versioned(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Versioned { .. }))
    }
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Skipped { .. }))
    }
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Failed(_)))
    }
    /// Bytes of the files whose content was sent.
    pub fn bytes_sent(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| f.is_sent())
            .map(|f| f.size)
            .sum()
    }
    /// The files that failed.
    pub fn failures(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.is_failed())
    }
    /// No file failed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }
    fn count(&self, f: impl Fn(&FileOutcome) -> bool) -> usize {
        self.files.iter().filter(|r| f(&r.outcome)).count()
    }
}

/// Where a tree upload is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeProgress {
    /// Files found (once the local tree is read).
    pub files_total: u64,
    /// Files finished, whatever the outcome.
    pub files_done: u64,
    pub files_failed: u64,
    /// Bytes of all files found.
    pub bytes_total: u64,
    /// Bytes of the files finished.
    pub bytes_done: u64,
}

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

/// The fields a listing asks for.
const LIST_FIELDS: &[&str] = &["type", "id", "name", "sha1", "size", "etag", "modified_at"];

/// A local file to upload.
#[derive(Debug)]
struct LocalFile {
    rel: String,
    abs: PathBuf,
    size: u64,
    mtime_ns: i64,
}

#[derive(Debug, Default)]
struct Walked {
    dirs: Vec<String>,
    files: Vec<LocalFile>,
    symlinks: Vec<String>,
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

fn walk(root: &Path, exclude: &[Glob], follow: bool) -> std::io::Result<Walked> {
    fn go(
        dir: &Path,
        prefix: &str,
        exclude: &[Glob],
        follow: bool,
        depth: u32,
        out: &mut Walked,
    ) -> std::io::Result<()> {
        let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if exclude.iter().any(|g| g.matches(&rel)) {
                continue;
            }
            let path = e.path();
            let mut meta = std::fs::symlink_metadata(&path)?;
            if meta.file_type().is_symlink() {
                if !follow {
                    out.symlinks.push(rel);
                    continue;
                }
                meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(_) => {
                        out.symlinks.push(rel);
                        continue;
                    }
                };
            }
            if meta.is_dir() {
                if depth >= 64 {
                    out.symlinks.push(rel);
                    continue;
                }
                out.dirs.push(rel.clone());
                go(&path, &rel, exclude, follow, depth + 1, out)?;
            } else if meta.is_file() {
                out.files.push(LocalFile {
                    rel,
                    abs: path,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                });
            }
        }
        Ok(())
    }
    let mut out = Walked::default();
    go(root, "", exclude, follow, 0, &mut out)?;
    Ok(out)
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((n, hex))
}

/// The item a `409 item_name_in_use` answer names (`context_info.conflicts`: one object or an
/// array of one).
fn conflict_item(err: &UploadError) -> Option<Item> {
    let conflict = err.call_error()?.conflict()?;
    let item = match conflict {
        serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        other => other,
    };
    serde_json::from_value(item).ok()
}

fn api_failure(operation: &'static str, attempts: u32, err: CallError) -> UploadError {
    UploadError::from(UploadErrorKind::Api {
        operation,
        attempts,
    })
    .with_source(err)
}

/// A Box folder as the run knows it.
#[derive(Debug)]
struct FolderState {
    /// `None` in a dry run for a folder that does not exist yet.
    id: Option<String>,
    /// Items by lowercased name (Box compares names without regard to case).
    items: HashMap<String, Item>,
}

type FolderResult = Result<Arc<FolderState>, Arc<UploadError>>;

struct Run {
    uploader: Uploader,
    limiter: RateLimiter,
    root_id: String,
    on_conflict: OnConflict,
    dry_run: bool,
    journal: Option<Journal>,
    journal_files: HashMap<String, (u64, i64, String, String)>,
    journal_folders: HashMap<String, String>,
    folders: Mutex<HashMap<String, Arc<OnceCell<FolderResult>>>>,
    /// Names taken by renamed uploads, per folder id (lowercased).
    taken: Mutex<HashSet<(String, String)>>,
    folders_created: std::sync::atomic::AtomicU64,
    progress: watch::Sender<TreeProgress>,
}

fn split_parent(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", rel),
    }
}

impl Run {
    /// One API call, spaced by the limiter and retried as the uploads' calls are (429, 5xx,
    /// timeouts). A 429 slows the whole run.
    async fn call<T, E, F, Fut>(&self, mut f: F) -> Result<T, (u32, CallError)>
    where
        E: OperationError + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, rt::Error<E>>>,
    {
        let policy = self.uploader.config().retry.clone();
        let mut attempt = 0u32;
        loop {
            self.limiter.acquire(1, 0).await;
            attempt += 1;
            let err = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => call_error(e),
            };
            if err.status() == Some(429) {
                self.limiter.throttled(err.retry_after());
            }
            if !err.is_retryable() || attempt >= policy.max_attempts {
                return Err((attempt, err));
            }
            let wait = err
                .retry_after()
                .unwrap_or_else(|| crate::upload::jittered(policy.backoff(attempt)));
            tokio::time::sleep(wait).await;
        }
    }

    async fn list(&self, folder_id: &str) -> Result<HashMap<String, Item>, UploadError> {
        let client = self.uploader.client();
        let mut items = HashMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .call(|| {
                    let mut req = ListFolderItemsRequest::new(folder_id)
                        .with_fields(LIST_FIELDS.iter().map(|s| s.to_string()).collect())
                        .with_usemarker(true)
                        .with_limit(1000);
                    if let Some(m) = &marker {
                        req = req.with_marker(m.clone());
                    }
                    client.list_folder_items(req)
                })
                .await
                .map_err(|(n, e)| api_failure("list_folder_items", n, e))?;
            for item in page.entries.unwrap_or_default() {
                if let Some(name) = &item.name {
                    items.insert(name.to_lowercase(), item);
                }
            }
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(m) => marker = Some(m),
                None => return Ok(items),
            }
        }
    }

    fn resolve<'a>(
        &'a self,
        path: &'a str,
    ) -> Pin<Box<dyn Future<Output = FolderResult> + Send + 'a>> {
        Box::pin(async move {
            let cell = {
                let mut map = self.folders.lock().unwrap_or_else(|e| e.into_inner());
                map.entry(path.to_string()).or_default().clone()
            };
            cell.get_or_init(|| async {
                self.resolve_uncached(path)
                    .await
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .await
            .clone()
        })
    }

    fn record_folder(&self, path: &str, id: &str) {
        if let Some(j) = &self.journal {
            if !path.is_empty() && !self.journal_folders.contains_key(path) {
                // A lost folder line only costs a listing next time.
                let _ = j.append(&Entry::Folder {
                    folder: path.to_string(),
                    id: id.to_string(),
                    root: self.root_id.clone(),
                });
            }
        }
    }

    async fn listed(&self, path: &str, id: String) -> Result<FolderState, UploadError> {
        let items = self.list(&id).await?;
        self.record_folder(path, &id);
        Ok(FolderState {
            id: Some(id),
            items,
        })
    }

    async fn resolve_uncached(&self, path: &str) -> Result<FolderState, UploadError> {
        if path.is_empty() {
            return self.listed(path, self.root_id.clone()).await;
        }
        if let Some(id) = self.journal_folders.get(path) {
            return self.listed(path, id.clone()).await;
        }
        let (parent_path, name) = split_parent(path);
        let parent = self.resolve(parent_path).await.map_err(|e| {
            UploadError::from(UploadErrorKind::InvalidInput {
                detail: format!("the parent folder {parent_path:?} is not available: {e}"),
            })
        })?;
        if let Some(item) = parent.items.get(&name.to_lowercase()) {
            if item.r#type == ItemType::Folder {
                return self.listed(path, item.id.clone()).await;
            }
            return Err(UploadError::from(UploadErrorKind::InvalidInput {
                detail: format!("Box holds a file {name:?} where the folder {path:?} should be"),
            }));
        }
        let Some(parent_id) = parent.id.clone().filter(|_| !self.dry_run) else {
            return Ok(FolderState {
                id: None,
                items: HashMap::new(),
            });
        };
        let client = self.uploader.client();
        let created = self
            .call(|| {
                let body = CreateFolderBody {
                    name: name.to_string(),
                    parent: CreateFolderBodyParent {
                        id: parent_id.clone(),
                    },
                };
                client.create_folder(CreateFolderRequest::new(body).with_fields(vec!["id".into()]))
            })
            .await;
        match created {
            Ok(folder) => {
                self.folders_created
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.record_folder(path, &folder.id);
                Ok(FolderState {
                    id: Some(folder.id),
                    items: HashMap::new(),
                })
            }
            Err((n, e)) => {
                // 409 item_name_in_use: made meanwhile (by a retry whose answer was lost, or
                // by someone else); the answer names it.
                if e.is_code("item_name_in_use") {
                    let conflict = e.conflict();
                    let item = match &conflict {
                        Some(serde_json::Value::Array(a)) => a.first(),
                        other => other.as_ref(),
                    };
                    let is_folder =
                        item.and_then(|i| i.get("type")).and_then(|t| t.as_str()) == Some("folder");
                    if let Some(id) = item.and_then(|i| i.get("id")).and_then(|v| v.as_str()) {
                        if is_folder {
                            return self.listed(path, id.to_string()).await;
                        }
                    }
                }
                Err(api_failure("create_folder", n, e))
            }
        }
    }

    /// An upload, spaced by the limiter (one upload; its requests estimated from its size),
    /// whose 429s slow the whole run.
    async fn upload(&self, upload: Upload, size: u64) -> Result<FileFull, UploadError> {
        let config = self.uploader.config();
        let requests = if size > config.chunked_cutoff && size >= config.min_chunked_size {
            // Create, parts (Box's smallest part is 8 MiB), commit.
            u32::try_from(size.div_ceil(8 * 1024 * 1024) + 2).unwrap_or(u32::MAX)
        } else {
            1
        };
        self.limiter.acquire(requests, 1).await;
        let handle = self.uploader.start_upload(upload);
        let mut events = handle.events();
        let limiter = self.limiter.clone();
        let watcher = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ProgressEvent::Retry { reason, wait, .. })
                        if reason.starts_with("HTTP 429") =>
                    {
                        limiter.throttled(Some(wait));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let progress = handle.progress();
        let result = handle.join().await;
        watcher.abort();
        // Parts beyond the estimate are charged now: later calls wait for them.
        let parts = progress.borrow().total_parts;
        let made = u32::try_from(parts.saturating_add(2)).unwrap_or(u32::MAX);
        if parts > 1 && made > requests {
            self.limiter.acquire(made - requests, 0).await;
        }
        result
    }

    fn journal_file(&self, f: &LocalFile, sha1: &str, file_id: &str) -> Result<(), TreeFileError> {
        match &self.journal {
            None => Ok(()),
            Some(j) => j
                .append(&Entry::File {
                    path: f.rel.clone(),
                    size: f.size,
                    mtime_ns: f.mtime_ns,
                    sha1: sha1.to_ascii_lowercase(),
                    file_id: file_id.to_string(),
                    root: self.root_id.clone(),
                })
                .map_err(TreeFileError::Journal),
        }
    }

    fn free_name(&self, folder_id: &str, folder: &FolderState, name: &str) -> String {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
            _ => (name, String::new()),
        };
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        for n in 1u32.. {
            let candidate = format!("{stem} ({n}){ext}");
            let key = (folder_id.to_string(), candidate.to_lowercase());
            if !folder.items.contains_key(&key.1) && !taken.contains(&key) {
                taken.insert(key);
                return candidate;
            }
        }
        unreachable!("u32 names run out")
    }

    async fn file(&self, f: LocalFile) -> FileReport {
        let outcome = self.file_outcome(&f).await;
        let failed = matches!(outcome, FileOutcome::Failed(_));
        self.progress.send_modify(|p| {
            p.files_done += 1;
            p.bytes_done += f.size;
            if failed {
                p.files_failed += 1;
            }
        });
        FileReport {
            path: f.rel,
            size: f.size,
            outcome,
        }
    }

    async fn file_outcome(&self, f: &LocalFile) -> FileOutcome {
        if let Some((size, mtime, _, id)) = self.journal_files.get(&f.rel) {
            if *size == f.size && *mtime == f.mtime_ns {
                return FileOutcome::Skipped {
                    reason: SkipReason::Journal,
                    file_id: Some(id.clone()),
                };
            }
        }
        let (parent_path, name) = split_parent(&f.rel);
        let folder = match self.resolve(parent_path).await {
            Ok(folder) => folder,
            Err(source) => {
                return FileOutcome::Failed(TreeFileError::Folder {
                    folder: parent_path.to_string(),
                    source,
                })
            }
        };
        let Some(folder_id) = folder.id.clone() else {
            // Dry run, folder to be made.
            return FileOutcome::Planned {
                action: PlannedAction::Upload,
            };
        };
        let existing = match folder.items.get(&name.to_lowercase()) {
            Some(item) => item.clone(),
            None => {
                if self.dry_run {
                    return FileOutcome::Planned {
                        action: PlannedAction::Upload,
                    };
                }
                let up = Upload::new_file(&folder_id, name).from_path(&f.abs);
                match self.upload(up, f.size).await {
                    Ok(file) => {
                        return self.done(f, &file, |file_id| FileOutcome::Uploaded { file_id })
                    }
                    // The name was taken since the listing (another client, or an upload of
                    // a killed run that landed late): the answer names the file; go on as
                    // if the listing had shown it.
                    Err(e) if e.code() == Some("item_name_in_use") => match conflict_item(&e) {
                        Some(item) => item,
                        None => return FileOutcome::Failed(TreeFileError::Upload(e)),
                    },
                    Err(e) => return FileOutcome::Failed(TreeFileError::Upload(e)),
                }
            }
        };
        self.existing_outcome(f, &folder, &folder_id, name, &existing)
            .await
    }

    /// A file whose name Box already holds in its folder.
    async fn existing_outcome(
        &self,
        f: &LocalFile,
        folder: &FolderState,
        folder_id: &str,
        name: &str,
        existing: &Item,
    ) -> FileOutcome {
        let is_file = existing.r#type == ItemType::File;
        let same = is_file
            && match existing.size {
                Some(s) if u64::try_from(s).ok() != Some(f.size) => false,
                _ => {
                    let path = f.abs.clone();
                    match tokio::task::spawn_blocking(move || hash_file(&path)).await {
                        Ok(Ok((n, sha1))) => {
                            n == f.size
                                && existing
                                    .sha1
                                    .as_deref()
                                    .is_some_and(|s| s.eq_ignore_ascii_case(&sha1))
                        }
                        Ok(Err(e)) => return FileOutcome::Failed(TreeFileError::Io(e)),
                        Err(e) => {
                            return FileOutcome::Failed(TreeFileError::Io(std::io::Error::other(
                                e.to_string(),
                            )))
                        }
                    }
                }
            };
        if same {
            if !self.dry_run {
                if let Some(sha1) = &existing.sha1 {
                    if let Err(e) = self.journal_file(f, sha1, &existing.id) {
                        return FileOutcome::Failed(e);
                    }
                }
            }
            return FileOutcome::Skipped {
                reason: SkipReason::SameContent,
                file_id: Some(existing.id.clone()),
            };
        }
        let conflict = || {
            FileOutcome::Failed(TreeFileError::Conflict {
                name: name.to_string(),
                kind: match &existing.r#type {
                    ItemType::File => "file".into(),
                    ItemType::Folder => "folder".into(),
                    ItemType::WebLink => "web link".into(),
                    other => format!("{other:?}"),
                },
                existing_id: existing.id.clone(),
            })
        };
        let action = match (self.on_conflict, is_file) {
            (OnConflict::Rename, _) => PlannedAction::Rename,
            (OnConflict::Skip, _) => PlannedAction::Skip,
            (OnConflict::Version, true) => PlannedAction::Version,
            _ => PlannedAction::Fail,
        };
        if self.dry_run {
            return FileOutcome::Planned { action };
        }
        match action {
            PlannedAction::Skip => FileOutcome::Skipped {
                reason: SkipReason::Exists,
                file_id: Some(existing.id.clone()),
            },
            PlannedAction::Fail => conflict(),
            PlannedAction::Version => {
                let mut up = Upload::new_version(&existing.id).from_path(&f.abs);
                if let Some(etag) = &existing.etag {
                    up = up.if_match(etag);
                }
                match self.upload(up, f.size).await {
                    Ok(file) => self.done(f, &file, |file_id| FileOutcome::Versioned { file_id }),
                    Err(e) => FileOutcome::Failed(TreeFileError::Upload(e)),
                }
            }
            PlannedAction::Rename | PlannedAction::Upload => {
                let new_name = self.free_name(folder_id, folder, name);
                let up = Upload::new_file(folder_id, &new_name).from_path(&f.abs);
                match self.upload(up, f.size).await {
                    Ok(file) => self.done(f, &file, |file_id| FileOutcome::Renamed {
                        file_id,
                        name: new_name.clone(),
                    }),
                    Err(e) => FileOutcome::Failed(TreeFileError::Upload(e)),
                }
            }
        }
    }

    fn done(
        &self,
        f: &LocalFile,
        file: &FileFull,
        outcome: impl FnOnce(String) -> FileOutcome,
    ) -> FileOutcome {
        if let Some(sha1) = &file.sha1 {
            if let Err(e) = self.journal_file(f, sha1, &file.id) {
                return FileOutcome::Failed(e);
            }
        }
        outcome(file.id.clone())
    }
}

async fn run(
    uploader: Uploader,
    tree: TreeUpload,
    progress: watch::Sender<TreeProgress>,
) -> Result<TreeReport, TreeError> {
    let root = tree.root.clone();
    let (exclude, follow) = (tree.exclude.clone(), tree.follow_symlinks);
    let walked = tokio::task::spawn_blocking(move || walk(&root, &exclude, follow))
        .await
        .map_err(|e| TreeError::Internal(e.to_string()))?
        .map_err(|source| TreeError::Walk {
            path: tree.root.clone(),
            source,
        })?;
    let (journal, loaded) = match &tree.journal {
        None => (None, journal::Loaded::default()),
        Some(path) => {
            let (j, l) = Journal::open(path, &tree.folder_id, !tree.dry_run).map_err(|source| {
                TreeError::Journal {
                    path: path.clone(),
                    source,
                }
            })?;
            tracing::debug!(journal = %path.display(), files = l.files.len(), "journal read");
            (j, l)
        }
    };
    progress.send_modify(|p| {
        p.files_total = walked.files.len() as u64;
        p.bytes_total = walked.files.iter().map(|f| f.size).sum();
    });
    let files_in_flight = tree
        .files_in_flight
        .unwrap_or(match uploader.config().concurrency {
            Concurrency::Fixed(n) => n.max(1) * 8,
            Concurrency::Adaptive { .. } => 32,
        });
    let run = Arc::new(Run {
        limiter: tree
            .limiter
            .clone()
            .unwrap_or_else(|| RateLimiter::new(tree.limits)),
        uploader,
        root_id: tree.folder_id.clone(),
        on_conflict: tree.on_conflict,
        dry_run: tree.dry_run,
        journal,
        journal_files: loaded.files,
        journal_folders: loaded.folders,
        folders: Mutex::new(HashMap::new()),
        taken: Mutex::new(HashSet::new()),
        folders_created: std::sync::atomic::AtomicU64::new(0),
        progress,
    });
    let throttled_before = run.limiter.throttled_count();
    // The target folder must be there: without it nothing can go anywhere.
    let all_journaled = walked.files.iter().all(|f| {
        run.journal_files
            .get(&f.rel)
            .is_some_and(|(s, m, _, _)| *s == f.size && *m == f.mtime_ns)
    });
    if !all_journaled || walked.files.is_empty() {
        run.resolve("").await.map_err(|source| TreeError::Folder {
            folder_id: tree.folder_id.clone(),
            source,
        })?;
    }

    let mut reports: Vec<FileReport> = walked
        .symlinks
        .iter()
        .map(|rel| FileReport {
            path: rel.clone(),
            size: 0,
            outcome: FileOutcome::Skipped {
                reason: SkipReason::Symlink,
                file_id: None,
            },
        })
        .collect();
    let slots = Arc::new(Semaphore::new(files_in_flight));
    let mut set = JoinSet::new();
    for f in walked.files {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let run = run.clone();
        set.spawn(async move {
            let report = run.file(f).await;
            drop(permit);
            report
        });
        while let Some(done) = set.try_join_next() {
            reports.push(done.map_err(|e| TreeError::Internal(e.to_string()))?);
        }
    }
    while let Some(done) = set.join_next().await {
        reports.push(done.map_err(|e| TreeError::Internal(e.to_string()))?);
    }
    // Empty directories are made too (the others already are).
    for dir in &walked.dirs {
        if !run.journal_folders.contains_key(dir) {
            let _ = run.resolve(dir).await;
        }
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(TreeReport {
        files: reports,
        folders_created: run
            .folders_created
            .load(std::sync::atomic::Ordering::Relaxed),
        throttled: run.limiter.throttled_count() - throttled_before,
    })
}
