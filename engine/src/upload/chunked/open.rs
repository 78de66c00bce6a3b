//! Opening the upload session: a new one, or the one a state file names (resumed only if it is
//! still there, for the same target and the same unchanged source, with parts that fit its
//! layout).

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::TryStreamExt as _;

use super::abort::{abort_session, abort_with_retries};
use super::done::Tally;
use super::listing;
use super::state::{layout_of, save_state, Known};
use crate::digest::Sha1Digest;
use crate::retry::RetryContext;
use crate::upload::calls::{PartRecord, SessionInfo, UploadCalls};
use crate::upload::context::{Ctx, Job};
use crate::upload::error::{UploadError, UploadErrorKind};
use crate::upload::identity::SourceIdentity;
use crate::upload::progress::ProgressEvent;
use crate::upload::resume::{self, UploadState};
use crate::upload::stored::find_stored;

/// An open session, the parts it already holds and the plan's answers recorded for it.
pub(super) type Opened = (SessionInfo, Known);

/// What opening found.
pub(super) enum OpenOutcome<F> {
    /// A session to upload the missing parts to, then commit.
    Session(Box<Opened>),
    /// The state file's upload was committed already (a crash came before the state file was
    /// removed): this is its file.
    Committed(F),
}

/// Retries while opening are reported but not cut short by a cancel: the session being opened is
/// not the upload's yet, so a cancel takes effect just after, when the upload can discard it.
fn opening<'a, A: UploadCalls>(ctx: &'a Ctx<A>, job: &'a Job) -> RetryContext<'a> {
    RetryContext::new(&job.retry)
        .reporting(&ctx.reporter)
        .renewing_credentials(ctx.api.can_refresh_credentials())
}

/// Opens a new session, or resumes the one named by the state file.
pub(super) async fn open_or_resume<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    size: u64,
    identity: Option<&SourceIdentity>,
) -> Result<OpenOutcome<A::File>, UploadError> {
    if let Some(path) = &job.state_file {
        let p2 = path.clone();
        if let Some(state) = resume::blocking(path, move || resume::load(&p2)).await? {
            if let Some(resumed) = resume_session(ctx, job, size, identity, path, state).await? {
                return Ok(resumed);
            }
        }
    }
    let session = opening(ctx, job)
        .call("create_upload_session", || {
            ctx.api.create_session(&job.target, size)
        })
        .await?;
    record_session(&session.id);
    let mut checked = check_session(&session, size);
    if let (Ok(()), Some(path)) = (&checked, &job.state_file) {
        checked = save_state(
            path,
            job,
            (size, identity),
            &session,
            &Tally::default(),
            None,
        )
        .await;
    }
    if let Err(e) = checked {
        // An unusable session, or one that could not be recorded for resume: discard it.
        abort_session(ctx, &session).await;
        return Err(e.with_session(&session.id));
    }
    let known = Known {
        stored: BTreeMap::new(),
        plan: BTreeMap::new(),
    };
    Ok(OpenOutcome::Session(Box::new((session, known))))
}

/// Names the session on the upload's span (opened with its `session_id` empty), so every later
/// event of the upload carries it.
fn record_session(session_id: &str) {
    tracing::Span::current().record("session_id", session_id);
}

/// Gives up the state file's session for a new one: reported, and the old session aborted
/// unless Box no longer has it (`gone`), so it holds no storage until it expires.
async fn restart<A: UploadCalls>(
    ctx: &Ctx<A>,
    state: &UploadState,
    reason: String,
    gone: bool,
) -> Result<Option<OpenOutcome<A::File>>, UploadError> {
    ctx.reporter.event(ProgressEvent::SessionRestarted {
        old_session_id: state.session_id.clone(),
        reason,
    });
    if !gone && abort_with_retries(&ctx.api, &state.endpoints.abort, &state.session_id).await {
        ctx.reporter.event(ProgressEvent::SessionAborted {
            session_id: state.session_id.clone(),
        });
    }
    Ok(None)
}

/// Resumes the session of `state`; `Ok(None)` when it is gone and a new one must be opened.
async fn resume_session<A: UploadCalls>(
    ctx: &Ctx<A>,
    job: &Job,
    size: u64,
    identity: Option<&SourceIdentity>,
    path: &Path,
    state: UploadState,
) -> Result<Option<OpenOutcome<A::File>>, UploadError> {
    if state.target != job.target {
        return Err(UploadErrorKind::StateFile {
            path: path.to_path_buf(),
            detail: format!(
                "it records an upload to {:?}, not {:?}; use another state file or delete this one",
                state.target, job.target
            ),
        }
        .into());
    }
    let changed = |detail: String| {
        let detail =
            format!("since the interrupted upload: {detail}; delete the state file to start over");
        UploadError::from(UploadErrorKind::SourceChanged { detail }).with_session(&state.session_id)
    };
    if state.file_size != size {
        return Err(changed(format!(
            "the source was {} bytes, it is now {} bytes",
            state.file_size, size
        )));
    }
    if let (Some(then), Some(now)) = (&state.source, identity) {
        if let Some(detail) = then.difference(now) {
            return Err(changed(detail));
        }
    }
    // Every part was read and the commit was under way when the last run stopped: if Box no
    // longer has the session, the commit may have gone through; the file at the target's name
    // with the recorded SHA-1 is the upload's.
    let recorded_sha1 = state.sha1.as_deref().and_then(Sha1Digest::from_hex);
    if let Some(expires) = state.session_expires_at {
        if expires <= chrono::Utc::now() {
            if let Some(sha1) = &recorded_sha1 {
                if let Some(file) = find_stored(ctx, job, size, sha1).await {
                    return Ok(Some(OpenOutcome::Committed(file)));
                }
            }
            return restart(ctx, &state, "the session expired".into(), true).await;
        }
    }
    let fetched = opening(ctx, job)
        .call("get_upload_session", || {
            ctx.api.get_session(&state.endpoints.status)
        })
        .await;
    let mut session = match fetched {
        Ok(s) => s,
        // Gone (404), expired (`410 session_expired`) or broken (`410 upload_failed`): Box
        // will not take this session's commit
        // (<https://developer.box.com/guides/uploads/chunked/>).
        Err(e) if matches!(e.status(), Some(404) | Some(410)) => {
            if let Some(sha1) = &recorded_sha1 {
                if let Some(file) = find_stored(ctx, job, size, sha1).await {
                    return Ok(Some(OpenOutcome::Committed(file)));
                }
            }
            let reason = e.call_error().map(|c| c.reason()).unwrap_or_default();
            return restart(ctx, &state, format!("the session is gone ({reason})"), true).await;
        }
        Err(e) => return Err(e.with_session(&state.session_id)),
    };
    if session.id.is_empty() {
        session.id = state.session_id.clone();
    }
    if let Some(expires) = session.expires_at {
        if expires <= chrono::Utc::now() {
            return restart(ctx, &state, "the session expired".into(), false).await;
        }
    }
    if session.part_size != state.part_size {
        let reason = format!(
            "the session's part size is {}, the state file says {}",
            session.part_size, state.part_size
        );
        return restart(ctx, &state, reason, false).await;
    }
    check_session(&session, size).map_err(|e| e.with_session(&session.id))?;
    let layout = layout_of(&session, size)?;
    let listed: Vec<PartRecord> =
        listing::stored_parts(opening(ctx, job), &ctx.api, &session.endpoints.list_parts)
            .try_collect()
            .await
            .map_err(|e| e.with_session(&session.id))?;
    let mut stored = BTreeMap::new();
    for part in listed {
        match layout.part_at(part.offset) {
            Some(span) if span.len == part.size => {
                stored.insert(part.offset, part);
            }
            _ => {
                return Err(UploadError::verification(
                    "list_upload_parts",
                    format!(
                        "stored part at offset {} of {} bytes is not a part of this layout",
                        part.offset, part.size
                    ),
                )
                .with_session(&session.id))
            }
        }
    }
    record_session(&session.id);
    ctx.reporter.event(ProgressEvent::SessionResumed {
        session_id: session.id.clone(),
        parts_stored: stored.len() as u64,
    });
    // The plan's answers for this session: those for parts of this layout.
    let plan = state
        .plan
        .into_iter()
        .filter(|a| layout.part_at(a.offset).is_some_and(|s| s.len == a.size))
        .map(|a| (a.offset, a))
        .collect();
    let known = Known { stored, plan };
    Ok(Some(OpenOutcome::Session(Box::new((session, known)))))
}

/// The session's part size and part count agree with the size to upload.
fn check_session(session: &SessionInfo, size: u64) -> Result<(), UploadError> {
    let layout = layout_of(session, size)?;
    if let Some(total) = session.total_parts {
        if total != layout.total_parts() {
            return Err(UploadError::verification(
                "create_upload_session",
                format!(
                    "the session expects {total} parts, but {size} bytes in parts of {} make {}",
                    session.part_size,
                    layout.total_parts()
                ),
            )
            .with_session(&session.id));
        }
    }
    Ok(())
}
