//! Chunked uploads through an upload session
//! (<https://developer.box.com/guides/uploads/chunked/>): open or resume the session
//! ([`open`]), read, hash and upload the parts in parallel from a fixed buffer pool, checking
//! every answer ([`parts`]), then commit with the whole-file digest and verify the file
//! ([`commit`]). A failed upload's session is aborted unless it is kept for resume.

mod commit;
mod open;
mod parts;

use std::time::Duration;

use crate::retry::{RetryContext, RetryPolicy, Step};
use crate::upload::calls::{SessionInfo, UploadCalls};
use crate::upload::context::{Ctx, Job};
use crate::upload::error::{Chain, UploadError};
use crate::upload::progress::ProgressEvent;
use crate::upload::resume;
use crate::upload::source::OpenedSource;

/// Aborts the session when the upload is dropped (cancelled) without deciding otherwise.
struct SessionGuard<A: UploadCalls> {
    api: A,
    abort_url: String,
    session_id: String,
    armed: bool,
}

impl<A: UploadCalls> Drop for SessionGuard<A> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let api = self.api.clone();
            let url = std::mem::take(&mut self.abort_url);
            let id = std::mem::take(&mut self.session_id);
            handle.spawn(async move {
                abort_with_retries(&api, &url, &id).await;
            });
        }
    }
}

pub(crate) async fn run<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    opened: OpenedSource,
) -> Result<A::File, UploadError> {
    let identity = opened.identity.clone();
    let (session, stored) =
        match open::open_or_resume(ctx, job, opened.size, identity.as_ref()).await? {
            open::OpenOutcome::Session(opened) => *opened,
            open::OpenOutcome::Committed(file) => {
                let facts = A::file_facts(&file);
                ctx.reporter
                    .event(ProgressEvent::Committed { file_id: facts.id });
                remove_state(job).await;
                return Ok(file);
            }
        };
    let keep = job.keep_session_on_failure || job.state_file.is_some();
    // Until told otherwise, a dropped upload discards its session (unless it is to be kept).
    let mut guard = SessionGuard {
        api: ctx.api.clone(),
        abort_url: session.endpoints.abort.clone(),
        session_id: session.id.clone(),
        armed: !keep,
    };
    let size = opened.size;
    let result = match parts::upload_all(ctx, job, opened, &session, stored).await {
        Ok((parts, whole)) => {
            // Recorded before the commit, so that a run after a crash between the commit and
            // the removal of the state file can find the committed file by it.
            let recorded = match &job.state_file {
                Some(path) => {
                    let done = parts.iter().map(|p| (p.offset, p.clone())).collect();
                    let source = (size, identity.as_ref());
                    open::save_state(path, job, source, &session, &done, Some(&whole)).await
                }
                None => Ok(()),
            };
            match recorded {
                Ok(()) => commit::commit(ctx, job, &session, parts, whole, size).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(file) => {
            guard.armed = false;
            remove_state(job).await;
            Ok(file)
        }
        Err(err) => {
            let explicit_abort = err.is_cancelled() && ctx.cancel.is_cancelled();
            // Stay armed while aborting: if the upload is dropped meanwhile, the guard does it.
            guard.armed = explicit_abort || !keep;
            if guard.armed {
                abort_session(ctx, &session).await;
                guard.armed = false;
                if explicit_abort {
                    if let Some(path) = &job.state_file {
                        let p2 = path.clone();
                        let _ = resume::blocking(path, move || resume::remove(&p2)).await;
                    }
                }
            }
            Err(err.with_session(&session.id))
        }
    }
}

/// Removes the state file of a committed upload.
async fn remove_state(job: &Job) {
    if let Some(path) = &job.state_file {
        let p2 = path.clone();
        if let Err(e) = resume::blocking(path, move || resume::remove(&p2)).await {
            tracing::warn!(error = %Chain(&e), "the upload is committed but its state file could not be removed");
        }
    }
}

async fn abort_session<A: UploadCalls>(ctx: &Ctx<A>, session: &SessionInfo) {
    if abort_with_retries(&ctx.api, &session.endpoints.abort, &session.id).await {
        ctx.reporter.event(ProgressEvent::SessionAborted {
            session_id: session.id.clone(),
        });
    }
}

/// Aborts a session, retrying transient failures (a pooled connection may have been broken by
/// the cancelled part uploads). True when the session is gone.
async fn abort_with_retries<A: UploadCalls>(api: &A, url: &str, session_id: &str) -> bool {
    // Patient on purpose: a session left behind holds storage until it expires (7 days), and
    // the call that failed may have failed from a rate limit that also answers this one.
    let patient = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(5),
        deadline: Duration::from_secs(60),
    };
    let aborted = RetryContext::new(&patient)
        .run("abort_upload_session", |_| async move {
            match api.abort(url).await {
                Ok(()) => Step::Done(()),
                // Already gone (aborted, expired, committed by an earlier attempt): nothing to do.
                Err(e) if matches!(e.status(), Some(404) | Some(410)) => Step::Done(()),
                Err(e) => Step::Failed(e),
            }
        })
        .await;
    match aborted {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(session_id, error = %Chain(&e), "could not abort the upload session");
            false
        }
    }
}
