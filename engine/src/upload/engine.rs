//! The engine-level client: shared concurrency, configuration, and the task that runs one upload
//! (choosing a direct or chunked upload).

use std::sync::Arc;

use tracing::field::Empty;
use tracing::Instrument as _;

use super::adaptive::Parallelism;
use super::calls::{Target, UploadCalls};
use super::conflict::{self, OutcomeSlot, Resolved, UploadOutcome, Uploaded};
use super::context::{Ctx, Job};
use super::error::UploadError;
use super::handle::{Cancellation, UploadHandle};
use super::limits::{peeked_size, UserLimits};
use super::progress::{Phase, Reporter};
use super::{chunked, direct, Upload, UploadConfig};

/// Runs uploads against one API: holds the configuration and the parallelism shared by every
/// upload started from it.
pub(crate) struct Engine<A> {
    pub(crate) api: A,
    pub(crate) config: Arc<UploadConfig>,
    pub(crate) parallelism: Parallelism,
    /// The user's upload limit, read once for every upload started from this engine and its
    /// clones; `None` checks nothing.
    pub(crate) limits: Option<Arc<UserLimits>>,
}

impl<A: Clone> Clone for Engine<A> {
    fn clone(&self) -> Self {
        Engine {
            api: self.api.clone(),
            config: self.config.clone(),
            parallelism: self.parallelism.clone(),
            limits: self.limits.clone(),
        }
    }
}

impl<A: UploadCalls> Engine<A> {
    pub(crate) fn new(api: A, config: UploadConfig) -> Self {
        let parallelism = Parallelism::new(config.concurrency);
        Engine {
            api,
            config: Arc::new(config),
            parallelism,
            limits: None,
        }
    }

    /// Checks every upload's size against `limits` before it sends anything.
    pub(crate) fn with_limits(mut self, limits: UserLimits) -> Self {
        self.limits = Some(Arc::new(limits));
        self
    }

    /// Starts `upload` on a task of its own.
    pub(crate) fn start<T>(&self, upload: Upload<T>) -> UploadHandle<A::File> {
        self.start_with_outcome(upload).0
    }

    /// Starts `upload` on a task of its own; the slot says what it did once it succeeded.
    pub(crate) fn start_with_outcome<T>(
        &self,
        upload: Upload<T>,
    ) -> (UploadHandle<A::File>, OutcomeSlot) {
        let upload = upload.into_any();
        let slot = OutcomeSlot::default();
        let outcome = slot.clone();
        let reporter = Reporter::new();
        let (stop, cancel) = Cancellation::channel();
        let ctx = Ctx {
            api: self.api.clone(),
            config: self.config.clone(),
            parallelism: self.parallelism.for_upload(),
            reporter: reporter.clone(),
            cancel,
        };
        let limits = self.limits.clone();
        let span = upload_span(&upload.target);
        let task = tokio::spawn(
            async move {
                let reporter = ctx.reporter.clone();
                let result = run(ctx, upload, &outcome, limits.as_deref()).await;
                reporter.update(|p| {
                    p.phase = if result.is_ok() {
                        Phase::Done
                    } else {
                        Phase::Failed
                    }
                });
                result
            }
            .instrument(span),
        );
        (UploadHandle::new(task, reporter, stop), slot)
    }

    /// What `upload` would do, found with read-only calls (a new file's conflict policy looks
    /// the name up): nothing is sent. `file` is the file a skip would return, or the one a
    /// version would be made of.
    pub(crate) async fn plan<T>(
        &self,
        upload: Upload<T>,
    ) -> Result<Uploaded<Option<A::File>>, UploadError> {
        let upload = upload.into_any();
        let (Target::NewFile { folder_id, name }, Some(policy), Some(source)) =
            (&upload.target, upload.on_conflict, &upload.source)
        else {
            return Ok(Uploaded {
                file: None,
                outcome: UploadOutcome::Uploaded,
            });
        };
        let (_stop, cancel) = Cancellation::channel();
        let ctx = Ctx {
            api: self.api.clone(),
            config: self.config.clone(),
            parallelism: self.parallelism.for_upload(),
            reporter: Reporter::new(),
            cancel,
        };
        let retry = upload
            .retry
            .clone()
            .unwrap_or_else(|| ctx.config.retry.clone());
        let peek = source.peek();
        let resolved = conflict::resolve(&ctx, &retry, folder_id, name, peek, policy).await;
        let size = ctx.reporter.subscribe().borrow().total_bytes;
        Ok(match resolved.map_err(|e| e.named(&upload.target, size))? {
            Resolved::Done { file, outcome } => Uploaded {
                file: Some(file),
                outcome,
            },
            Resolved::Send {
                target: Target::NewVersion { file_id, .. },
                outcome,
                ..
            } => Uploaded {
                file: Some(
                    ctx.retry(&retry)
                        .call("get_file_info", || ctx.api.file_info(&file_id))
                        .await?,
                ),
                outcome,
            },
            Resolved::Send { outcome, .. } => Uploaded {
                file: None,
                outcome,
            },
        })
    }
}

/// The span every event of one upload is logged under: the file and where it goes; the size
/// once the source is open, and the session once one exists (recorded by the chunked path).
/// Created where the upload starts, so it nests under the caller's span (a tree's `file`).
fn upload_span(target: &Target) -> tracing::Span {
    let span = tracing::info_span!(
        "upload",
        file = Empty,
        folder_id = Empty,
        file_id = Empty,
        size = Empty,
        session_id = Empty,
    );
    match target {
        Target::NewFile { folder_id, name } => {
            span.record("file", name.as_str());
            span.record("folder_id", folder_id.as_str());
        }
        Target::NewVersion { file_id, name } => {
            if let Some(name) = name {
                span.record("file", name.as_str());
            }
            span.record("file_id", file_id.as_str());
        }
    }
    span
}

async fn run<A: UploadCalls>(
    ctx: Ctx<A>,
    upload: Upload,
    outcome: &OutcomeSlot,
    limits: Option<&UserLimits>,
) -> Result<A::File, UploadError> {
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
        reuse_parts,
        on_conflict,
        kind: _,
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
    let retry = retry.unwrap_or_else(|| ctx.config.retry.clone());
    let cutoff = chunked_cutoff.unwrap_or(ctx.config.chunked_cutoff);
    // The user's upload limit, before anything is looked up or sent (a size that cannot be
    // read yet is checked by opening the source, which reports why).
    if let (Some(limits), Some(size)) = (limits, peeked_size(source.peek()).await) {
        let chunked = size > cutoff && size >= ctx.config.min_chunked_size;
        // Named after the call Box would refuse: the first one of the chosen path.
        let operation = match (&target, chunked) {
            (Target::NewFile { .. }, false) => "upload_file",
            (Target::NewFile { .. }, true) => "create_upload_session",
            (Target::NewVersion { .. }, false) => "upload_file_version",
            (Target::NewVersion { .. }, true) => "create_upload_session_for_file",
        };
        limits.check(operation, size).await?;
    }
    // A new file's conflict policy: the name looked up before anything is sent.
    let (target, if_match) = match (&target, on_conflict) {
        (Target::NewFile { folder_id, name }, Some(policy)) => {
            match conflict::resolve(&ctx, &retry, folder_id, name, source.peek(), policy).await? {
                Resolved::Done { file, outcome: o } => {
                    let _ = outcome.set(o);
                    return Ok(file);
                }
                Resolved::Send {
                    target,
                    if_match,
                    outcome: o,
                } => {
                    let _ = outcome.set(o);
                    (target, if_match)
                }
            }
        }
        _ => {
            let _ = outcome.set(UploadOutcome::Uploaded);
            (target, if_match)
        }
    };
    let is_version = matches!(target, Target::NewVersion { .. });
    let opened = source.open().await?;
    let size = opened.size;
    tracing::Span::current().record("size", size);
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
        retry,
        commit_deadline: commit_deadline.unwrap_or(ctx.config.commit_deadline),
        dates,
        reuse_parts: reuse_parts.unwrap_or(ctx.config.reuse_parts) && is_version,
    };
    if size > cutoff && size >= ctx.config.min_chunked_size {
        chunked::run(&ctx, &job, opened).await
    } else {
        direct::run(&ctx, &job, opened).await
    }
}
