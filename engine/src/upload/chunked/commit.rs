//! The commit: the parts in offset order with the whole file's SHA-1, waiting out Box's 202
//! ("not ready yet", <https://developer.box.com/reference/post-files-upload-sessions-id-commit/>)
//! until the commit deadline, then the stored file checked against what was sent.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::upload::api::{CommitOutcome, PartRecord, SessionInfo, UploadApi};
use crate::upload::digest::Sha1Digest;
use crate::upload::engine::{stored_by_earlier_attempt, verify_file, Ctx, Job};
use crate::upload::error::{UploadError, UploadErrorKind};
use crate::upload::progress::{Phase, ProgressEvent};
use crate::upload::retry::{jittered, RetryPolicy, Step};

/// `parts_mismatch` answers tolerated: right after the last part is stored, Box may not list it
/// yet.
const PARTS_MISMATCH_RETRIES: u32 = 5;

/// Shortest wait between two commits answered 202.
const COMMIT_POLL_FLOOR: Duration = Duration::from_millis(50);

/// Commits `parts` and checks the file: waits out 202s until the commit deadline, tolerates a
/// few `parts_mismatch`, retries other transient failures, and takes an `item_name_in_use`
/// naming a file with our SHA-1, after an ambiguous failure, as the earlier commit's success.
pub(super) async fn commit<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    session: &SessionInfo,
    parts: Vec<PartRecord>,
    whole: Sha1Digest,
    size: u64,
) -> Result<A::File, UploadError> {
    const OPERATION: &str = "commit_upload_session";
    ctx.reporter.update(|p| p.phase = Phase::Committing);
    let policy = RetryPolicy {
        deadline: job.commit_deadline,
        ..job.retry.clone()
    };
    // Shared with every attempt's future; atomics because those futures must be `Send`.
    let (pending, mismatches) = (AtomicU32::new(0), AtomicU32::new(0));
    let (policy, parts, pending, mismatches) = (&policy, &parts, &pending, &mismatches);
    let file = ctx
        .retry(policy)
        .run(OPERATION, move |attempt| async move {
            let answer = ctx
                .api
                .commit(
                    &session.endpoints.commit,
                    parts.clone(),
                    whole.header(),
                    job.if_match.clone(),
                )
                .await;
            let err = match answer {
                Ok(CommitOutcome::Committed(file)) => return Step::Done(file),
                Ok(CommitOutcome::Pending { retry_after }) => {
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
                    let event = ProgressEvent::CommitPending {
                        attempt: pending,
                        wait,
                    };
                    return Step::Wait { wait, event };
                }
                Err(err) => err,
            };
            if attempt.after_ambiguous_failure() {
                if let Some(file) = stored_by_earlier_attempt::<A>(&err, &whole) {
                    tracing::info!(
                        "an earlier commit stored the file (name in use with the same SHA-1)"
                    );
                    return Step::Done(file);
                }
            }
            if err.is_code("parts_mismatch")
                && mismatches.load(Ordering::Relaxed) < PARTS_MISMATCH_RETRIES
            {
                let mismatches = mismatches.fetch_add(1, Ordering::Relaxed) + 1;
                let wait = jittered(policy.backoff(mismatches));
                if attempt.elapsed().saturating_add(wait) > job.commit_deadline {
                    return Step::Stop(UploadError::api(OPERATION, attempt.number, err));
                }
                let event = ProgressEvent::Retry {
                    operation: OPERATION,
                    attempt: attempt.number,
                    reason: err.reason(),
                    wait,
                };
                return Step::Wait { wait, event };
            }
            Step::Failed(err)
        })
        .await?;
    let facts = A::file_facts(&file);
    verify_file(OPERATION, &facts, size, &whole)?;
    ctx.reporter
        .event(ProgressEvent::Committed { file_id: facts.id });
    Ok(file)
}
