//! Chunked uploads through an upload session: open (or resume) the session, read and hash the
//! parts in order, upload them in parallel from a fixed buffer pool, verify every answer, commit
//! with the whole-file digest, verify the file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::api::{CallError, CommitOutcome, PartRecord, SessionInfo, UploadApi};
use super::digest::Sha1Digest;
use super::engine::{stored_by_earlier_attempt, verify_file, Ctx, Job};
use super::error::UploadError;
use super::layout::{PartLayout, PartSpan};
use super::pool::BufferPool;
use super::progress::{CountedBody, Phase, ProgressEvent};
use super::reader::{read_parts, ReadMsg};
use super::resume::{self, UploadState};
use super::retry::{Retrier, RetryPolicy};
use super::source::{OpenedSource, SourceIdentity};

/// Parts per list_parts page (Box's maximum).
const LIST_PAGE: u64 = 1000;
/// Box rejects list_parts offsets above this.
const LIST_MAX_OFFSET: u64 = 10_000;
/// `parts_mismatch` answers to a commit tolerated (they are transient right after the last part).
const PARTS_MISMATCH_RETRIES: u32 = 5;

/// Shortest wait between two commits answered 202.
const COMMIT_POLL_FLOOR: Duration = Duration::from_millis(50);

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Aborts the session when the upload is dropped (cancelled) without deciding otherwise.
struct SessionGuard<A: UploadApi> {
    api: A,
    abort_url: String,
    session_id: String,
    armed: bool,
}

impl<A: UploadApi> Drop for SessionGuard<A> {
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

pub(crate) async fn run<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    opened: OpenedSource,
) -> Result<A::File, UploadError> {
    let (session, stored) = open_or_resume(ctx, job, opened.size, opened.identity.as_ref()).await?;
    let keep = job.keep_session_on_failure || job.state_file.is_some();
    // Until told otherwise, a dropped upload discards its session (unless it is to be kept).
    let mut guard = SessionGuard {
        api: ctx.api.clone(),
        abort_url: session.endpoints.abort.clone(),
        session_id: session.id.clone(),
        armed: !keep,
    };
    let result = drive(ctx, job, opened, &session, stored).await;
    match result {
        Ok(file) => {
            guard.armed = false;
            if let Some(path) = &job.state_file {
                let path = path.clone();
                let p2 = path.clone();
                if let Err(e) = resume::blocking(&path, move || resume::remove(&p2)).await {
                    tracing::warn!(error = %e, "the upload is committed but its state file could not be removed");
                }
            }
            Ok(file)
        }
        Err(err) => {
            let explicit_abort = matches!(err, UploadError::Cancelled { .. }) && ctx.is_cancelled();
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

async fn abort_session<A: UploadApi>(ctx: &Ctx<A>, session: &SessionInfo) {
    if abort_with_retries(&ctx.api, &session.endpoints.abort, &session.id).await {
        ctx.reporter.event(ProgressEvent::SessionAborted {
            session_id: session.id.clone(),
        });
    }
}

/// Aborts a session, retrying transient failures a few times (a pooled connection may have
/// been broken by the cancelled part uploads). True when the session is gone.
async fn abort_with_retries<A: UploadApi>(api: &A, url: &str, session_id: &str) -> bool {
    // Patient on purpose: a session left behind holds storage until it expires (7 days), and
    // the call that failed may have failed from a rate limit that also answers this one.
    let mut retrier = Retrier::new(&RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(5),
        deadline: Duration::from_secs(60),
    });
    loop {
        retrier.attempt();
        match api.abort(url).await {
            Ok(()) => return true,
            // Already gone (aborted, expired, committed by an earlier attempt): nothing to do.
            Err(e) if matches!(e.status(), Some(404) | Some(410)) => return true,
            Err(e) => match retrier.next_wait(&e) {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(_) => {
                    tracing::warn!(session_id, error = %e, "could not abort the upload session");
                    return false;
                }
            },
        }
    }
}

/// Calls `call` under `retry` until it succeeds, is not retryable, or the budget is used.
async fn with_retries<A, T, F, Fut>(
    ctx: &Ctx<A>,
    retry: &RetryPolicy,
    operation: &'static str,
    mut call: F,
) -> Result<T, (CallError, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut retrier = Retrier::new(retry);
    loop {
        let attempt = retrier.attempt();
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) => match retrier.next_wait(&e) {
                Ok(wait) => {
                    ctx.reporter.event(ProgressEvent::Retry {
                        operation,
                        attempt,
                        reason: e.reason(),
                        wait,
                    });
                    tokio::time::sleep(wait).await;
                }
                Err(_) => return Err((e, attempt)),
            },
        }
    }
}

fn api_error<'a>(
    operation: &'static str,
    session_id: Option<&'a str>,
) -> impl FnOnce((CallError, u32)) -> UploadError + 'a {
    move |(source, attempts)| UploadError::Api {
        operation,
        attempts,
        session_id: session_id.map(str::to_owned),
        source,
    }
}

/// Opens a new session, or resumes the one named by the state file.
async fn open_or_resume<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    size: u64,
    identity: Option<&SourceIdentity>,
) -> Result<(SessionInfo, BTreeMap<u64, PartRecord>), UploadError> {
    if let Some(path) = &job.state_file {
        let p2 = path.clone();
        if let Some(state) = resume::blocking(path, move || resume::load(&p2)).await? {
            if let Some(resumed) = resume_session(ctx, job, size, identity, path, state).await? {
                return Ok(resumed);
            }
        }
    }
    let session = with_retries(ctx, &job.retry, "create_upload_session", || {
        ctx.api.create_session(&job.target, size)
    })
    .await
    .map_err(api_error("create_upload_session", None))?;
    let mut checked = check_session(&session, size);
    if let (Ok(()), Some(path)) = (&checked, &job.state_file) {
        checked = save_state(path, job, (size, identity), &session, &BTreeMap::new()).await;
    }
    if let Err(e) = checked {
        // An unusable session, or one that could not be recorded for resume: discard it.
        abort_session(ctx, &session).await;
        return Err(e.with_session(&session.id));
    }
    Ok((session, BTreeMap::new()))
}

/// Resumes the session of `state`; `Ok(None)` when it is gone and a new one must be opened.
async fn resume_session<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    size: u64,
    identity: Option<&SourceIdentity>,
    path: &Path,
    state: UploadState,
) -> Result<Option<(SessionInfo, BTreeMap<u64, PartRecord>)>, UploadError> {
    let session_id = Some(state.session_id.clone());
    if state.target != job.target {
        return Err(UploadError::StateFile {
            path: path.to_path_buf(),
            detail: format!(
                "it records an upload to {:?}, not {:?}; use another state file or delete this one",
                state.target, job.target
            ),
            source: None,
        });
    }
    if state.file_size != size {
        return Err(UploadError::SourceChanged {
            detail: format!(
                "the source was {} bytes, it is now {} bytes",
                state.file_size, size
            ),
            session_id,
        });
    }
    if let (Some(then), Some(now)) = (&state.source, identity) {
        if let Some(detail) = then.difference(now) {
            return Err(UploadError::SourceChanged { detail, session_id });
        }
    }
    let restart = |reason: String| {
        ctx.reporter.event(ProgressEvent::SessionRestarted {
            old_session_id: state.session_id.clone(),
            reason,
        });
        Ok(None)
    };
    if let Some(expires) = state.session_expires_at {
        if expires <= chrono::Utc::now() {
            return restart("the session expired".into());
        }
    }
    let fetched = with_retries(ctx, &job.retry, "get_upload_session", || {
        ctx.api.get_session(&state.endpoints.status)
    })
    .await;
    let mut session = match fetched {
        Ok(s) => s,
        Err((e, _)) if matches!(e.status(), Some(404) | Some(410)) => {
            return restart(format!("the session is gone ({})", e.reason()));
        }
        Err(e) => return Err(api_error("get_upload_session", Some(&state.session_id))(e)),
    };
    if session.id.is_empty() {
        session.id = state.session_id.clone();
    }
    if let Some(expires) = session.expires_at {
        if expires <= chrono::Utc::now() {
            return restart("the session expired".into());
        }
    }
    if session.part_size != state.part_size {
        return restart(format!(
            "the session's part size is {}, the state file says {}",
            session.part_size, state.part_size
        ));
    }
    check_session(&session, size).map_err(|e| e.with_session(&session.id))?;
    let layout = layout_of(&session, size)?;
    let listed = list_all_parts(ctx, &job.retry, &session).await?;
    let mut stored = BTreeMap::new();
    for part in listed {
        match layout.part_at(part.offset) {
            Some(span) if span.len == part.size => {
                stored.insert(part.offset, part);
            }
            _ => {
                return Err(UploadError::Verification {
                    operation: "list_upload_parts",
                    detail: format!(
                        "stored part at offset {} of {} bytes is not a part of this layout",
                        part.offset, part.size
                    ),
                    session_id: Some(session.id.clone()),
                })
            }
        }
    }
    ctx.reporter.event(ProgressEvent::SessionResumed {
        session_id: session.id.clone(),
        parts_stored: stored.len() as u64,
    });
    Ok(Some((session, stored)))
}

fn layout_of(session: &SessionInfo, size: u64) -> Result<PartLayout, UploadError> {
    PartLayout::new(size, session.part_size).ok_or_else(|| UploadError::Verification {
        operation: "create_upload_session",
        detail: "the session's part size is 0".into(),
        session_id: Some(session.id.clone()),
    })
}

fn check_session(session: &SessionInfo, size: u64) -> Result<(), UploadError> {
    let layout = layout_of(session, size)?;
    if let Some(total) = session.total_parts {
        if total != layout.total_parts() {
            return Err(UploadError::Verification {
                operation: "create_upload_session",
                detail: format!(
                    "the session expects {total} parts, but {size} bytes in parts of {} make {}",
                    session.part_size,
                    layout.total_parts()
                ),
                session_id: Some(session.id.clone()),
            });
        }
    }
    Ok(())
}

async fn save_state(
    path: &Path,
    job: &Job,
    source: (u64, Option<&SourceIdentity>),
    session: &SessionInfo,
    parts: &BTreeMap<u64, PartRecord>,
) -> Result<(), UploadError> {
    let state = UploadState {
        version: resume::FORMAT_VERSION,
        target: job.target.clone(),
        session_id: session.id.clone(),
        endpoints: session.endpoints.clone(),
        part_size: session.part_size,
        file_size: source.0,
        session_expires_at: session.expires_at,
        source: source.1.cloned(),
        parts: parts.values().cloned().collect(),
    };
    let p2 = path.to_path_buf();
    resume::blocking(path, move || resume::save(&p2, &state)).await
}

/// Every part the session holds, through all pages.
async fn list_all_parts<A: UploadApi>(
    ctx: &Ctx<A>,
    retry: &RetryPolicy,
    session: &SessionInfo,
) -> Result<Vec<PartRecord>, UploadError> {
    let mut all = Vec::new();
    let mut index = 0u64;
    loop {
        let page = with_retries(ctx, retry, "list_upload_parts", || {
            ctx.api
                .list_parts(&session.endpoints.list_parts, index, LIST_PAGE)
        })
        .await
        .map_err(api_error("list_upload_parts", Some(&session.id)))?;
        let n = page.entries.len() as u64;
        all.extend(page.entries);
        index += n;
        let more = match page.total_count {
            Some(total) => index < total,
            None => n == LIST_PAGE,
        };
        if n == 0 || !more || index > LIST_MAX_OFFSET {
            return Ok(all);
        }
    }
}

/// The part the session holds at `offset`, if any (one pass over the pages).
async fn find_part<A: UploadApi>(
    ctx: &Ctx<A>,
    retry: &RetryPolicy,
    list_url: &str,
    offset: u64,
) -> Result<Option<PartRecord>, CallError> {
    let mut index = 0u64;
    loop {
        let page = with_retries(ctx, retry, "list_upload_parts", || {
            ctx.api.list_parts(list_url, index, LIST_PAGE)
        })
        .await
        .map_err(|(e, _)| e)?;
        let n = page.entries.len() as u64;
        if let Some(found) = page.entries.into_iter().find(|p| p.offset == offset) {
            return Ok(Some(found));
        }
        index += n;
        let more = match page.total_count {
            Some(total) => index < total,
            None => n == LIST_PAGE,
        };
        if n == 0 || !more || index > LIST_MAX_OFFSET {
            return Ok(None);
        }
    }
}

/// Pairs up local data and a stored part: same offset, size and SHA-1.
fn matches(record: &PartRecord, span: &PartSpan, sha1: &Sha1Digest) -> bool {
    record.offset == span.offset && record.size == span.len && sha1.matches_hex(&record.sha1)
}

fn effective_concurrency(
    ctx_concurrency: usize,
    memory_cap: u64,
    part_size: u64,
    total_parts: u64,
) -> usize {
    // The pool holds concurrency + 1 buffers: lower the concurrency until that fits the cap.
    let fit = (memory_cap / part_size.max(1)).saturating_sub(1).max(1);
    let fit = usize::try_from(fit).unwrap_or(usize::MAX);
    let parts = usize::try_from(total_parts.max(1)).unwrap_or(usize::MAX);
    ctx_concurrency.max(1).min(fit).min(parts)
}

async fn drive<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    opened: OpenedSource,
    session: &SessionInfo,
    stored: BTreeMap<u64, PartRecord>,
) -> Result<A::File, UploadError> {
    let size = opened.size;
    let layout = layout_of(session, size)?;
    let part_size = usize::try_from(session.part_size).map_err(|_| {
        UploadError::InvalidInput(format!(
            "part size {} does not fit in memory",
            session.part_size
        ))
    })?;
    let concurrency = effective_concurrency(
        ctx.config.concurrency,
        ctx.config.memory_cap,
        session.part_size,
        layout.total_parts(),
    );
    ctx.reporter.event(ProgressEvent::SessionOpened {
        session_id: session.id.clone(),
        part_size: session.part_size,
        total_parts: layout.total_parts(),
        concurrency,
    });
    ctx.reporter.update(|p| p.phase = Phase::Uploading);

    let pool = BufferPool::new(part_size, concurrency + 1);
    let (tx, mut rx) = mpsc::channel(1);
    let identity = opened.identity.clone();
    let _reader = AbortOnDrop(tokio::spawn(read_parts(opened.reader, layout, pool, tx)));

    let mut inflight: JoinSet<Result<(PartSpan, PartRecord), UploadError>> = JoinSet::new();
    let mut done: BTreeMap<u64, PartRecord> = BTreeMap::new();
    let mut whole: Option<Sha1Digest> = None;
    let mut reading = true;
    while reading || !inflight.is_empty() {
        tokio::select! {
            biased;
            _ = ctx.cancelled() => return Err(UploadError::Cancelled { session_id: None }),
            Some(joined) = inflight.join_next(), if !inflight.is_empty() => {
                let (span, record) = joined.map_err(|e| UploadError::Internal {
                    detail: format!("part upload task failed: {e}"),
                    session_id: None,
                })??;
                done.insert(span.offset, record);
                ctx.reporter.event(ProgressEvent::PartDone { index: span.index, offset: span.offset, size: span.len });
                if let Some(path) = &job.state_file {
                    save_state(path, job, (size, identity.as_ref()), session, &done).await?;
                }
            }
            msg = rx.recv(), if reading && inflight.len() < concurrency => match msg {
                Some(ReadMsg::Part { span, data, sha1 }) => {
                    if let Some(record) = stored.get(&span.offset) {
                        if !matches(record, &span, &sha1) {
                            return Err(UploadError::SourceChanged {
                                detail: format!(
                                    "the stored part at offset {} has SHA-1 {}, the local data has {sha1}",
                                    span.offset, record.sha1
                                ),
                                session_id: None,
                            });
                        }
                        done.insert(span.offset, record.clone());
                        ctx.reporter.add_sent(span.len);
                        ctx.reporter.event(ProgressEvent::PartAlreadyStored { index: span.index, offset: span.offset, size: span.len });
                    } else {
                        inflight.spawn(upload_part(ctx.clone(), job.retry.clone(), session.endpoints.clone(), span, size, data, sha1));
                    }
                }
                Some(ReadMsg::Finished { whole: digest }) => whole = Some(digest),
                Some(ReadMsg::Failed(e)) => return Err(e),
                None => reading = false,
            },
        }
    }
    let Some(whole) = whole else {
        return Err(UploadError::Internal {
            detail: "the reader stopped without a digest".into(),
            session_id: None,
        });
    };
    // Every part of the layout, in offset order, and nothing else.
    let expected: Vec<u64> = layout.parts().map(|p| p.offset).collect();
    let have: Vec<u64> = done.keys().copied().collect();
    if expected != have {
        return Err(UploadError::Internal {
            detail: format!("{} parts expected, {} done", expected.len(), have.len()),
            session_id: None,
        });
    }
    ctx.reporter.update(|p| p.phase = Phase::Committing);
    let parts: Vec<PartRecord> = done.into_values().collect();
    let file = commit(ctx, job, session, parts, whole).await?;
    let facts = A::file_facts(&file);
    verify_file("commit_upload_session", &facts, size, &whole)?;
    ctx.reporter
        .event(ProgressEvent::Committed { file_id: facts.id });
    Ok(file)
}

/// Uploads one part, retrying; after an ambiguous failure, looks the part up before resending.
async fn upload_part<A: UploadApi>(
    ctx: Ctx<A>,
    retry: RetryPolicy,
    endpoints: super::api::SessionEndpoints,
    span: PartSpan,
    total: u64,
    data: Bytes,
    sha1: Sha1Digest,
) -> Result<(PartSpan, PartRecord), UploadError> {
    let range = span.content_range(total);
    let digest = sha1.header();
    let mut retrier = Retrier::new(&retry);
    let mut maybe_stored = false;
    let fail = |attempts: u32, source: CallError| UploadError::Api {
        operation: "upload_part",
        attempts,
        session_id: None,
        source,
    };
    loop {
        if maybe_stored {
            // The last attempt may have stored the part: look before sending it again (a second
            // copy would be refused as an overlap anyway, but this saves the bytes).
            match find_part(&ctx, &retry, &endpoints.list_parts, span.offset).await {
                Ok(Some(found)) if matches(&found, &span, &sha1) => {
                    tracing::debug!(
                        offset = span.offset,
                        "part found stored after an ambiguous failure"
                    );
                    ctx.reporter.add_sent(span.len);
                    return Ok((span, found));
                }
                Ok(Some(found)) => return Err(different_part(&found, &span, &sha1)),
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "list parts failed; sending the part again"),
            }
            maybe_stored = false;
        }
        let attempt = retrier.attempt();
        let counted = Arc::new(AtomicU64::new(0));
        let body = CountedBody::new(data.clone(), Some(ctx.reporter.clone()), counted.clone());
        let timeout = ctx.transfer_timeout(span.len);
        let result = {
            let _permit = ctx.permits.acquire().await;
            let call =
                ctx.api
                    .upload_part(&endpoints.upload_part, body, range.clone(), digest.clone());
            tokio::time::timeout(timeout, call)
                .await
                .unwrap_or_else(|_| Err(CallError::timeout(timeout)))
        };
        let err = match result {
            Ok(record) if matches(&record, &span, &sha1) => return Ok((span, record)),
            Ok(record) => {
                return Err(UploadError::Verification {
                    operation: "upload_part",
                    detail: format!(
                        "sent offset {} size {} SHA-1 {sha1}, the server stored offset {} size {} SHA-1 {}",
                        span.offset, span.len, record.offset, record.size, record.sha1
                    ),
                    session_id: None,
                })
            }
            Err(err) => err,
        };
        ctx.reporter.take_back_sent(counted.load(Ordering::Relaxed));
        if err.is_code("range_overlaps_existing_part") || err.status() == Some(409) {
            // A part is already stored over this range: ours (an earlier attempt or a hedge) if
            // offset, size and SHA-1 match.
            let named = err
                .conflict()
                .and_then(|v| serde_json::from_value::<PartRecord>(v.clone()).ok());
            let found = match named {
                Some(part) if part.offset == span.offset => Some(part),
                _ => find_part(&ctx, &retry, &endpoints.list_parts, span.offset)
                    .await
                    .map_err(|e| fail(attempt, e))?,
            };
            return match found {
                Some(part) if matches(&part, &span, &sha1) => {
                    ctx.reporter.add_sent(span.len);
                    Ok((span, part))
                }
                Some(part) => Err(different_part(&part, &span, &sha1)),
                None => Err(fail(attempt, err)),
            };
        }
        match retrier.next_wait(&err) {
            Ok(wait) => {
                maybe_stored |= err.may_have_taken_effect();
                ctx.reporter.event(ProgressEvent::Retry {
                    operation: "upload_part",
                    attempt,
                    reason: err.reason(),
                    wait,
                });
                tokio::time::sleep(wait).await;
            }
            Err(_) => return Err(fail(attempt, err)),
        }
    }
}

fn different_part(found: &PartRecord, span: &PartSpan, sha1: &Sha1Digest) -> UploadError {
    UploadError::Verification {
        operation: "upload_part",
        detail: format!(
            "the session already holds a different part at offset {} (size {}, SHA-1 {}); ours has size {} and SHA-1 {sha1}",
            found.offset, found.size, found.sha1, span.len
        ),
        session_id: None,
    }
}

/// Commits, waiting out 202s until the commit deadline, tolerating a few `parts_mismatch`, and
/// retrying other transient failures.
async fn commit<A: UploadApi>(
    ctx: &Ctx<A>,
    job: &Job,
    session: &SessionInfo,
    parts: Vec<PartRecord>,
    whole: Sha1Digest,
) -> Result<A::File, UploadError> {
    let started = Instant::now();
    let policy = RetryPolicy {
        deadline: job.commit_deadline,
        ..job.retry.clone()
    };
    let mut retrier = Retrier::new(&policy);
    let mut pending = 0u32;
    let mut mismatches = 0u32;
    let mut maybe_committed = false;
    let mut calls = 0u32;
    let fail = |attempts: u32, source: CallError| UploadError::Api {
        operation: "commit_upload_session",
        attempts,
        session_id: None,
        source,
    };
    loop {
        calls += 1;
        let answer = tokio::select! {
            biased;
            _ = ctx.cancelled() => return Err(UploadError::Cancelled { session_id: None }),
            a = ctx.api.commit(&session.endpoints.commit, parts.clone(), whole.header(), job.if_match.clone()) => a,
        };
        let err = match answer {
            Ok(CommitOutcome::Committed(file)) => return Ok(file),
            Ok(CommitOutcome::Pending { retry_after }) => {
                pending += 1;
                // Follow retry-after; without one, back off from 1 s. Never spin: a
                // `retry-after: 0` still waits COMMIT_POLL_FLOOR.
                let wait = retry_after
                    .unwrap_or_else(|| policy.backoff(pending).max(Duration::from_secs(1)))
                    .max(COMMIT_POLL_FLOOR);
                if started.elapsed().saturating_add(wait) > job.commit_deadline {
                    return Err(UploadError::CommitTimeout {
                        session_id: session.id.clone(),
                        waited: started.elapsed(),
                        pending,
                    });
                }
                ctx.reporter.event(ProgressEvent::CommitPending {
                    attempt: pending,
                    wait,
                });
                sleep_or_cancel(ctx, wait).await?;
                continue;
            }
            Err(err) => err,
        };
        if maybe_committed {
            if let Some(file) = stored_by_earlier_attempt::<A>(&err, &whole) {
                tracing::info!(
                    "an earlier commit stored the file (name in use with the same SHA-1)"
                );
                return Ok(file);
            }
        }
        if err.is_code("parts_mismatch") && mismatches < PARTS_MISMATCH_RETRIES {
            mismatches += 1;
            let wait = super::retry::jittered(policy.backoff(mismatches));
            if started.elapsed().saturating_add(wait) > job.commit_deadline {
                return Err(fail(calls, err));
            }
            ctx.reporter.event(ProgressEvent::Retry {
                operation: "commit_upload_session",
                attempt: calls,
                reason: err.reason(),
                wait,
            });
            sleep_or_cancel(ctx, wait).await?;
            continue;
        }
        retrier.attempt();
        match retrier.next_wait(&err) {
            Ok(wait) => {
                maybe_committed |= err.may_have_taken_effect();
                ctx.reporter.event(ProgressEvent::Retry {
                    operation: "commit_upload_session",
                    attempt: calls,
                    reason: err.reason(),
                    wait,
                });
                sleep_or_cancel(ctx, wait).await?;
            }
            Err(_) => return Err(fail(calls, err)),
        }
    }
}

async fn sleep_or_cancel<A>(ctx: &Ctx<A>, wait: Duration) -> Result<(), UploadError> {
    tokio::select! {
        _ = tokio::time::sleep(wait) => Ok(()),
        _ = ctx.cancelled() => Err(UploadError::Cancelled { session_id: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cap_lowers_concurrency_but_never_below_one() {
        const MIB: u64 = 1 << 20;
        assert_eq!(effective_concurrency(4, 256 * MIB, 8 * MIB, 100), 4);
        assert_eq!(effective_concurrency(4, 256 * MIB, 64 * MIB, 100), 3);
        assert_eq!(effective_concurrency(4, 100 * MIB, 64 * MIB, 100), 1);
        assert_eq!(
            effective_concurrency(8, 256 * MIB, 8 * MIB, 2),
            2,
            "no more workers than parts"
        );
        assert_eq!(effective_concurrency(0, 256 * MIB, 8 * MIB, 5), 1);
    }
}
