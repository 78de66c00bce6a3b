//! The engine-level client: shared concurrency, configuration, and the task that runs one upload
//! (choosing a direct or chunked upload).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::adaptive::{congestion_of, Parallelism};
use super::api::{CallError, FileDates, FileFacts, Target, UploadApi};
use super::digest::Sha1Digest;
use super::error::UploadError;
use super::handle::{Cancellation, UploadHandle};
use super::progress::{Phase, Reporter};
use super::{chunked, direct, Upload, UploadConfig};
use crate::retry::{RetryContext, RetryPolicy};

/// Runs uploads against one API: holds the configuration and the parallelism shared by every
/// upload started from it.
pub(crate) struct Engine<A> {
    pub(crate) api: A,
    pub(crate) config: Arc<UploadConfig>,
    pub(crate) parallelism: Parallelism,
}

impl<A: Clone> Clone for Engine<A> {
    fn clone(&self) -> Self {
        Engine {
            api: self.api.clone(),
            config: self.config.clone(),
            parallelism: self.parallelism.clone(),
        }
    }
}

/// Everything one upload needs, resolved from the [`Upload`] and the engine's defaults.
pub(crate) struct Job {
    pub target: Target,
    pub if_match: Option<String>,
    pub state_file: Option<PathBuf>,
    pub keep_session_on_failure: bool,
    pub retry: RetryPolicy,
    pub commit_deadline: Duration,
    /// The content's dates sent with the upload, if any.
    pub dates: Option<FileDates>,
}

/// What the running upload shares with its parts.
pub(crate) struct Ctx<A> {
    pub api: A,
    pub config: Arc<UploadConfig>,
    pub parallelism: Parallelism,
    pub reporter: Reporter,
    pub cancel: Cancellation,
}

impl<A: Clone> Clone for Ctx<A> {
    fn clone(&self) -> Self {
        Ctx {
            api: self.api.clone(),
            config: self.config.clone(),
            parallelism: self.parallelism.clone(),
            reporter: self.reporter.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

impl<A: UploadApi> Engine<A> {
    pub(crate) fn new(api: A, config: UploadConfig) -> Self {
        let parallelism = Parallelism::new(config.concurrency);
        Engine {
            api,
            config: Arc::new(config),
            parallelism,
        }
    }

    /// Starts `upload` on a task of its own.
    pub(crate) fn start(&self, upload: Upload) -> UploadHandle<A::File> {
        let reporter = Reporter::new();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let ctx = Ctx {
            api: self.api.clone(),
            config: self.config.clone(),
            parallelism: self.parallelism.clone(),
            reporter: reporter.clone(),
            cancel: Cancellation::new(cancel_rx),
        };
        let task = tokio::spawn(async move {
            let reporter = ctx.reporter.clone();
            let result = run(ctx, upload).await;
            reporter.update(|p| {
                p.phase = if result.is_ok() {
                    Phase::Done
                } else {
                    Phase::Failed
                }
            });
            result
        });
        UploadHandle::new(task, reporter, cancel_tx)
    }
}

async fn run<A: UploadApi>(ctx: Ctx<A>, upload: Upload) -> Result<A::File, UploadError> {
    let Upload {
        target,
        source,
        if_match,
        chunked_cutoff,
        state_file,
        keep_session_on_failure,
        retry,
        commit_deadline,
        preserve_dates,
    } = upload;
    match &target {
        Target::NewFile { folder_id, name } => {
            // An etag belongs to an existing file. Box answers a chunked commit of a new file
            // carrying if-match 412, while its direct upload of a new file takes no if-match:
            // refused here, so both paths answer alike.
            if if_match.is_some() {
                return Err(UploadError::invalid_input(
                    "if_match applies to a new version, not to a new file",
                ));
            }
            if folder_id.is_empty() {
                return Err(UploadError::invalid_input("the folder id is empty"));
            }
            if name.is_empty() {
                return Err(UploadError::invalid_input("the file name is empty"));
            }
        }
        Target::NewVersion { file_id, name } => {
            if file_id.is_empty() {
                return Err(UploadError::invalid_input("the file id is empty"));
            }
            if name.as_deref() == Some("") {
                return Err(UploadError::invalid_input("the new file name is empty"));
            }
        }
    }
    let source = source.ok_or_else(|| {
        UploadError::invalid_input("no content: call from_path, from_reader or from_bytes")
    })?;
    let opened = source.open().await?;
    let size = opened.size;
    let dates = opened.dates.filter(|_| preserve_dates).map(|mut d| {
        // Box takes no creation time for a new version.
        if matches!(target, Target::NewVersion { .. }) {
            d.created = None;
        }
        d
    });
    ctx.reporter.update(|p| p.total_bytes = size);
    let job = Job {
        target,
        if_match,
        state_file,
        keep_session_on_failure,
        retry: retry.unwrap_or_else(|| ctx.config.retry.clone()),
        commit_deadline: commit_deadline.unwrap_or(ctx.config.commit_deadline),
        dates,
    };
    let cutoff = chunked_cutoff.unwrap_or(ctx.config.chunked_cutoff);
    if size > cutoff && size >= ctx.config.min_chunked_size {
        chunked::run(&ctx, &job, opened).await
    } else {
        direct::run(&ctx, &job, opened).await
    }
}

impl<A: UploadApi> Ctx<A> {
    /// How the calls of the upload are retried: reported as progress, stopped by a cancel, and
    /// tried once more after a 401 when the credentials could renew the token.
    pub(crate) fn retry<'a>(&'a self, policy: &'a RetryPolicy) -> RetryContext<'a> {
        RetryContext::new(policy)
            .reporting(&self.reporter)
            .cancellable(&self.cancel)
            .renewing_credentials(self.api.can_refresh_credentials())
    }
}

impl<A> Ctx<A> {
    /// The time allowed for one attempt at sending `len` bytes.
    pub(crate) fn transfer_timeout(&self, len: u64) -> Duration {
        let per_byte = self.config.min_throughput.max(1);
        self.config.request_timeout_base + Duration::from_secs(len / per_byte)
    }

    /// Sends one request carrying `len` bytes of file content (a part, or a whole direct
    /// upload): in a place of the uploader's parallelism, within the transfer timeout, and
    /// telling the parallelism how it went (a sample when answered, a back-off on congestion).
    pub(crate) async fn send_content<T>(
        &self,
        len: u64,
        call: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let permit = self.parallelism.acquire().await;
        let _in_flight = self.reporter.in_flight();
        let timeout = self.transfer_timeout(len);
        let result = tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| Err(CallError::timeout(timeout)));
        match &result {
            Ok(_) => permit.completed(len),
            Err(e) => {
                if let Some(why) = congestion_of(e) {
                    permit.congested(why);
                }
            }
        }
        result
    }
}

/// Checks the file the server says it stored against what was sent.
pub(crate) fn verify_file(
    operation: &'static str,
    facts: &FileFacts,
    size: u64,
    sha1: &Sha1Digest,
) -> Result<(), UploadError> {
    if let Some(stored) = facts.size {
        if stored != size {
            return Err(UploadError::verification(
                operation,
                format!("file {} has {stored} bytes, {size} were sent", facts.id),
            ));
        }
    } else {
        tracing::warn!(file_id = %facts.id, "the server did not say the stored file's size");
    }
    match &facts.sha1 {
        Some(stored) if !sha1.matches_hex(stored) => Err(UploadError::verification(
            operation,
            format!(
                "file {} has SHA-1 {stored}, the content sent has {sha1}",
                facts.id
            ),
        )),
        Some(_) => Ok(()),
        None => {
            tracing::warn!(file_id = %facts.id, "the server did not say the stored file's SHA-1");
            Ok(())
        }
    }
}

/// The item of `conflict` (`context_info.conflicts`: one object on file uploads, an array
/// elsewhere) whose SHA-1 is `sha1`.
fn same_content<'c>(
    conflict: &'c serde_json::Value,
    sha1: &Sha1Digest,
) -> Option<&'c serde_json::Value> {
    let items = match conflict {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items.into_iter().find(|item| {
        item.get("sha1")
            .and_then(|v| v.as_str())
            .is_some_and(|theirs| sha1.matches_hex(theirs))
    })
}

/// The file a conflict names with our SHA-1, read whole with get-file-info and checked: its
/// SHA-1 and size must be ours. When get-file-info cannot be had, the conflict itself, with our
/// size (the same content has the same size; Box's conflict does not say it).
async fn conflicting_file<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    item: &serde_json::Value,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    let id = item.get("id").and_then(|v| v.as_str())?;
    let info = ctx
        .retry(&job.retry)
        .call("get_file_info", || ctx.api.file_info(id))
        .await;
    match info {
        Ok(file) => holds_content::<A>(&file, size, sha1).then_some(file),
        Err(e) => {
            tracing::debug!(error = %super::error::Chain(&e), "could not read the conflicting file");
            A::file_from_conflict(item, size)
        }
    }
}

/// Whether `file` holds `size` bytes with SHA-1 `sha1` (both must be given).
fn holds_content<A: UploadApi>(file: &A::File, size: u64, sha1: &Sha1Digest) -> bool {
    let facts = A::file_facts(file);
    facts.size == Some(size) && facts.sha1.as_deref().is_some_and(|s| sha1.matches_hex(s))
}

/// After a failure that may have stored the upload, an `item_name_in_use` answer naming a file
/// with our SHA-1 means the earlier attempt worked.
pub(crate) async fn stored_by_earlier_attempt<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    err: &CallError,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    if !err.is_code("item_name_in_use") {
        return None;
    }
    let conflict = err.conflict()?;
    let item = same_content(&conflict, sha1)?;
    conflicting_file(ctx, job, item, size, sha1).await
}

/// After an answer was lost (a timeout, a reset, a 5xx that may have come after the write was
/// stored): the file the upload would have made, if it holds our content. Box's guide says a
/// 5xx write may still have been persisted
/// (<https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/>). A
/// lookup that fails (after the upload's retries) counts as "not found": the caller goes on as it
/// would have.
///
/// A new file is looked for at the target's name with Box's preflight check, a new version with
/// get-file-info: the version is ours when the file's SHA-1 and size are those of our content,
/// its name is the one the upload gives it, and its etag is no longer the `if_match` the upload
/// was sent with (a write changes it). Without `if_match`, a file that already held this content
/// cannot be told from one our write gave it: it counts as stored (sending it again would only
/// add a copy of the same version).
pub(crate) async fn find_stored<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    if let Target::NewVersion { file_id, name } = &job.target {
        return version_stored(ctx, job, file_id, name.as_deref(), size, sha1).await;
    }
    let found = ctx
        .retry(&job.retry)
        .call("preflight_upload", || {
            ctx.api.existing_item(&job.target, size)
        })
        .await;
    let conflict = match found {
        Ok(Some(item)) => item,
        Ok(None) => return None,
        Err(e) => {
            tracing::debug!(error = %super::error::Chain(&e), "could not look for the stored file");
            return None;
        }
    };
    let found = conflicting_file(ctx, job, same_content(&conflict, sha1)?, size, sha1).await;
    if found.is_some() {
        tracing::info!("the upload whose answer was lost is stored (same name and SHA-1)");
    }
    found
}

/// Whether the new version of `file_id` whose answer was lost is stored (see [`find_stored`]).
async fn version_stored<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    file_id: &str,
    name: Option<&str>,
    size: u64,
    sha1: &Sha1Digest,
) -> Option<A::File> {
    let info = ctx
        .retry(&job.retry)
        .call("get_file_info", || ctx.api.file_info(file_id))
        .await;
    let file = match info {
        Ok(file) => file,
        Err(e) => {
            tracing::debug!(error = %super::error::Chain(&e), "could not read the file");
            return None;
        }
    };
    let facts = A::file_facts(&file);
    let unchanged = job.if_match.is_some() && facts.etag == job.if_match;
    let other_name = name.is_some_and(|n| facts.name.as_deref().is_some_and(|m| m != n));
    if unchanged || other_name || !holds_content::<A>(&file, size, sha1) {
        return None;
    }
    tracing::info!(
        file_id,
        "the version whose answer was lost is stored (same SHA-1 and size)"
    );
    Some(file)
}
