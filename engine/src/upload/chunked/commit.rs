//! The commit: the parts in offset order with the whole file's SHA-1, waiting out Box's 202
//! ("not ready yet", <https://developer.box.com/reference/post-files-upload-sessions-id-commit/>)
//! until the commit deadline, then the stored file checked against what was sent. After an
//! answer was lost, it first finds out whether the commit went through: the session's status,
//! then the file at the target's name with our SHA-1 (for a new version, the file's SHA-1 and
//! size, read with get-file-info; a `412` then is our own commit having changed the etag).
//!
//! A 202 to a commit whose every part was reused (the plan's hits: the new version's content is
//! the file's already) is read two ways. Box's reference says 202 is "not ready yet"; Box's
//! 10.18 SDKs read it as "the file did not change" and stop, and no version is ever made. Both
//! are handled: after such a 202 the file is read (get-file-info), and if it already holds our
//! content (SHA-1 and size, and the new name if the upload renames it) the upload is done and
//! its result is the file as it is; otherwise the 202 is waited out as "not ready yet".

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tracing::Instrument as _;

use crate::digest::Sha1Digest;
use crate::retry::{RetryEvent, RetryPolicy, Step};
use crate::upload::calls::{CommitOutcome, CommitPart, SessionInfo, UploadCalls};
use crate::upload::context::{Ctx, Job};
use crate::upload::error::{UploadError, UploadErrorKind};
use crate::upload::progress::{Phase, ProgressEvent};
use crate::upload::stored::{find_stored, stored_by_earlier_attempt, unchanged, verify_file};

/// Shortest wait between two commits answered 202.
const COMMIT_POLL_FLOOR: Duration = Duration::from_millis(50);

/// What is committed.
pub(super) struct Sent {
    /// Every part, in offset order.
    pub parts: Vec<CommitPart>,
    /// Every part was reused (none sent): a 202 may mean "unchanged".
    pub all_reused: bool,
    /// The whole file's SHA-1 and size.
    pub whole: Sha1Digest,
    pub size: u64,
}

/// Commits `parts` and checks the file: waits out 202s until the commit deadline, tolerates
/// `parts_mismatch` (right after the last part Box may not list it yet;
/// [`UploadConfig::parts_mismatch_retries`](crate::upload::UploadConfig)), retries other
/// transient failures, and after an ambiguous failure takes a file at the target's name with our
/// SHA-1 as the earlier commit's success.
pub(super) async fn commit<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    session: &SessionInfo,
    sent: Sent,
) -> Result<A::File, UploadError> {
    // The commit's waits, retries and checks are logged under a span of their own.
    let span = tracing::info_span!("commit", parts = sent.parts.len(), size = sent.size);
    commit_in_span(ctx, job, session, sent)
        .instrument(span)
        .await
}

async fn commit_in_span<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    session: &SessionInfo,
    sent: Sent,
) -> Result<A::File, UploadError> {
    let Sent {
        parts,
        all_reused,
        whole,
        size,
    } = sent;
    const OPERATION: &str = "commit_upload_session";
    ctx.reporter.update(|p| p.phase = Phase::Committing);
    let policy = RetryPolicy {
        deadline: job.commit_deadline,
        ..job.retry.clone()
    };
    // `parts_mismatch` is waited out with the same back-off, up to its own longest wait.
    let mismatch_waits = &RetryPolicy {
        max_backoff: ctx.config.parts_mismatch_max_wait,
        ..policy.clone()
    };
    // Shared with every attempt's future; atomics because those futures must be `Send`.
    let (pending, mismatches) = (AtomicU32::new(0), AtomicU32::new(0));
    let (policy, parts, pending, mismatches) = (&policy, &parts, &pending, &mismatches);
    let file = ctx
        .retry(policy)
        .run(OPERATION, move |attempt| async move {
            if attempt.right_after_ambiguous_failure() {
                if let Some(file) = committed_already(ctx, job, session, size, &whole).await {
                    return Step::Done(file);
                }
            }
            let answer = ctx
                .api
                .commit(
                    &session.endpoints.commit,
                    parts.clone(),
                    whole.header(),
                    job.if_match.clone(),
                    job.dates,
                )
                .await;
            let err = match answer {
                Ok(CommitOutcome::Committed(file)) => return Step::Done(file),
                Ok(CommitOutcome::Pending { retry_after }) => {
                    if all_reused {
                        if let Some(file) = unchanged(ctx, job, size, &whole).await {
                            tracing::info!("every part reused and the file holds this content already: unchanged");
                            return Step::Done(file);
                        }
                    }
                    let pending = pending.fetch_add(1, Ordering::Relaxed) + 1;
                    // Follow retry-after; without one, back off from 1 s. Never spin: a
                    // `retry-after: 0` still waits COMMIT_POLL_FLOOR.
                    let wait = retry_after
                        .unwrap_or_else(|| policy.backoff(pending).max(Duration::from_secs(1)))
                        .max(COMMIT_POLL_FLOOR);
                    if attempt.elapsed().saturating_add(wait) > job.commit_deadline {
                        return Step::Stop(
                            UploadErrorKind::CommitTimeout {
                                waited: attempt.elapsed(),
                                pending,
                            }
                            .into(),
                        );
                    }
                    let event = RetryEvent::CommitPending {
                        attempt: pending,
                        wait,
                    };
                    return Step::Wait { wait, event };
                }
                Err(err) => err,
            };
            if attempt.after_ambiguous_failure() {
                if let Some(file) = stored_by_earlier_attempt(ctx, job, &err, size, &whole).await {
                    tracing::info!(
                        "an earlier commit stored the file (name in use with the same SHA-1)"
                    );
                    return Step::Done(file);
                }
                // The session is gone: the lost commit may have made the file. A 412: the
                // lost commit may have made the version, and changed the etag.
                if matches!(err.status(), Some(404) | Some(410) | Some(412)) {
                    if let Some(file) = find_stored(ctx, job, size, &whole).await {
                        return Step::Done(file);
                    }
                }
            }
            if err.is_code("parts_mismatch")
                && mismatches.load(Ordering::Relaxed) < ctx.config.parts_mismatch_retries
            {
                let mismatches = mismatches.fetch_add(1, Ordering::Relaxed) + 1;
                let wait = mismatch_waits.jittered_backoff(mismatches);
                if attempt.elapsed().saturating_add(wait) > job.commit_deadline {
                    return Step::Stop(UploadError::api(OPERATION, attempt.number, err));
                }
                let event = RetryEvent::Retry {
                    operation: OPERATION,
                    attempt: attempt.number,
                    reason: err.reason(),
                    wait,
                };
                return Step::Wait { wait, event };
            }
            Step::Failed(err)
        })
        .await;
    let file = match file {
        Ok(file) => file,
        // Giving up after a failure that may have committed: one last look.
        Err(e) if e.call_error().is_some_and(|c| c.may_have_taken_effect()) => {
            match find_stored(ctx, job, size, &whole).await {
                Some(file) => file,
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let facts = A::file_facts(&file);
    verify_file(OPERATION, &facts, size, &whole)?;
    ctx.reporter
        .event(ProgressEvent::Committed { file_id: facts.id });
    Ok(file)
}

/// Whether a commit whose answer was lost went through: the session still open means no (commit
/// again); a session Box no longer has (404, or 410) means it was committed or is gone, and the
/// file at the target's name tells which.
async fn committed_already<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    session: &SessionInfo,
    size: u64,
    whole: &Sha1Digest,
) -> Option<A::File> {
    match ctx.api.get_session(&session.endpoints.status).await {
        Err(e) if matches!(e.status(), Some(404) | Some(410)) => {
            find_stored(ctx, job, size, whole).await
        }
        _ => None,
    }
}
