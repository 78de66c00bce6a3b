//! Chunked uploads through an upload session
//! (<https://developer.box.com/guides/uploads/chunked/>): open or resume the session
//! ([`open`]), read, hash and upload the parts in parallel from a fixed buffer pool, checking
//! every answer ([`parts`]), sending for a new version only the parts Box does not hold already
//! ([`plan`]), then commit with the whole-file digest and verify the file
//! ([`commit`]). A failed upload's session is aborted unless it is kept for resume. What opening
//! and the parts both need of the session (its layout, what it holds, its state file record)
//! is in [`state`].

mod abort;
mod commit;
mod done;
mod listing;
mod open;
mod parts;
mod plan;
mod state;

use abort::{abort_session, SessionGuard};

use crate::upload::calls::UploadCalls;
use crate::upload::context::{Ctx, Job};
use crate::upload::error::{Chain, UploadError};
use crate::upload::progress::ProgressEvent;
use crate::upload::resume;
use crate::upload::source::OpenedSource;

pub(crate) async fn run<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    opened: OpenedSource,
) -> Result<A::File, UploadError> {
    let identity = opened.identity.clone();
    let (session, known) =
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
    let file = opened.reread.clone();
    let uploaded = parts::upload_all(ctx, job, opened, &session, known)
        .await
        // Nothing is committed from a file that changed while it was being uploaded.
        .and_then(|sent| match &file {
            Some(file) => file.check_unchanged().map(|()| sent),
            None => Ok(sent),
        });
    let result = match uploaded {
        Ok((done, whole)) => {
            // Recorded before the commit, so that a run after a crash between the commit and
            // the removal of the state file can find the committed file by it.
            let recorded = match &job.state_file {
                Some(path) => {
                    let source = (size, identity.as_ref());
                    state::save_state(path, job, source, &session, &done, Some(&whole)).await
                }
                None => Ok(()),
            };
            let sent = commit::Sent {
                parts: done.commit_parts(),
                all_reused: done.all_reused(),
                whole,
                size,
            };
            match recorded {
                Ok(()) => commit::commit(ctx, job, &session, sent).await,
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
