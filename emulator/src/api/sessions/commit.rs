//! `POST /files/upload_sessions/{id}/commit`: checks the parts list (parts uploaded, and
//! for a new version parts of the current version reused, see [`super::reuse`]), then the
//! whole-file digest over the file the parts were written (or copied) into (see
//! [`super::assemble`]), links that file into the store and
//! answers 201 with it (or 202 with `retry-after` while another commit of the session is
//! still checking it).
//! <https://developer.box.com/reference/post-files-upload-sessions-id-commit/>

use super::assemble::{assemble, Assembled};
use super::commit_body::{
    check_commit_target, check_parts_list, parse_commit_body, parts_mismatch, CommitAction,
    CommitRequest,
};
use super::hash_ahead;
use super::headers::digest_header;
use super::reuse::{Reuse, ReuseHold};
use crate::api::gate::Faults;
use crate::api::request::{
    header_str, read_json_object, Fields, COMMIT_JSON_LIMIT, COMMIT_VALUES_PER_PART, JSON_LIMIT,
    JSON_MAX_VALUES,
};
use crate::api::response::{json_response, with_header};
use crate::api::{ApiResult, AppState};
use crate::auth::Caller;
use crate::body::BodyStream;
use crate::config::FaultConfig;
use crate::error::ApiError;
use crate::state::{
    io_err, lock, write_json_atomic, CommittedInfo, FileRecord, NewContent, PartRecord,
    RequestFault, Session, SessionMeta, SessionTarget, Shared,
};
use crate::util;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Commits the session.
///
/// A committed session is closed (Box: commit "closes the session"): a repeated commit (say,
/// after the answer to the first was lost) is `404 not_found`, as status, parts and list
/// calls on it are, not the file again. What Box answers a second commit is not documented;
/// 404 is the stricter answer: a client that lost the answer must look for the file (the
/// folder, or the file's versions), as it must after a 5xx on commit. (An abort of a
/// committed session answers 204: see `abort_session`.)
pub(crate) async fn commit(
    State(st): AppState,
    Path(sid): Path<String>,
    caller: Caller,
    faults: Faults,
    headers: HeaderMap,
    fields: Fields,
    mut body: BodyStream,
) -> ApiResult {
    let session = st.owned_session(&sid, &caller)?;
    lock(&session.inner).check_live()?;
    st.check_folder_faults(&faults, false)?;
    let digest = digest_header(header_str(&headers, "digest"), "whole file")?;
    let (limit, max_values) = body_limits(lock(&session.inner).meta.total_parts);
    let req = parse_commit_body(
        read_json_object(&mut body, limit, max_values).await?,
        &headers,
    )?;

    // Phase 1: checks, under the catalog lock and then the session lock (always that order).
    let Some((meta, reused, hold)) = check(&st, &session, &faults, &req).await? else {
        return Ok(accepted(faults.commit_retry_after_secs));
    };
    let _guard = CommittingGuard {
        st: &st,
        session: &session,
    };
    // Declared last, so dropped first: the reused parts' places are free again before the
    // session stops committing.
    let mut hold = hold;

    // Phase 2: the uploaded parts are already in place in the data file (every one is
    // stored, and the reused parts' places are held, so no request writes to it now); the
    // reused parts' bytes are copied in from the current version's content while the file
    // is hashed, as Box checks the whole-file digest (blocking I/O on blocking threads),
    // from where the hash ahead of the parts got.
    let assembled = assemble(&session, &meta, &reused, hold.take_copies(), |v| {
        st.blob_path(v)
    })
    .await?;
    st.counters().commit_bytes_hashed += assembled.hashed;
    let actual = assembled.sha1;
    if actual != digest || assembled.size != meta.file_size {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "digest_mismatch",
            format!(
                "File digest was incorrect. Actual: {} Expected: {}",
                util::b64(&actual),
                util::b64(&digest)
            ),
        ));
    }

    // Phase 3: store, re-checking what may have changed meanwhile.
    let f = store(&st, &session, &meta, &req, &reused, assembled).await?;
    if st.fires(RequestFault::CommitDropAfterStore, &faults) {
        return Err(faults.drop_connection().await);
    }
    st.inject(RequestFault::Write503AfterStore, &faults)?;
    Ok(json_response(
        StatusCode::CREATED,
        st.files_json(&f, fields.as_deref()),
    ))
}

/// Room for the session's parts list (about 100 bytes a part) and attributes, no more:
/// the body's byte limit and value limit.
fn body_limits(total_parts: u64) -> (u64, usize) {
    let limit = total_parts
        .saturating_mul(512)
        .saturating_add(JSON_LIMIT)
        .min(COMMIT_JSON_LIMIT);
    let max_values = total_parts
        .saturating_mul(COMMIT_VALUES_PER_PART)
        .saturating_add(JSON_MAX_VALUES as u64);
    (limit, usize::try_from(max_values).unwrap_or(usize::MAX))
}

/// What a commit goes ahead with: the session, the parts it reuses and their places held.
type Checked<'a> = (SessionMeta, Vec<Reuse>, ReuseHold<'a>);

/// The checks before the file is hashed, and the injected `parts_mismatch` and 202s: the
/// session, marked committing, to go ahead with, or `None` to answer 202 (another commit is
/// checking the file, or an injected `commit_202`).
async fn check<'a>(
    st: &Shared,
    session: &'a Session,
    faults: &FaultConfig,
    req: &CommitRequest,
) -> Result<Option<Checked<'a>>, ApiError> {
    let catalog = st.catalog.lock().await;
    let mut inner = lock(&session.inner);
    inner.check_live()?;
    if inner.committing {
        return Ok(None);
    }
    let complete = inner.parts.len() as u64 == inner.meta.total_parts;
    if faults.commit_parts_mismatch_once && complete && !inner.mismatch_fired {
        inner.mismatch_fired = true;
        st.counters().injected.commit_parts_mismatch += 1;
        return Err(parts_mismatch(
            "The parts list does not match the parts uploaded (injected fault)",
        ));
    }
    // The current version's parts, which a new version's list may name instead of uploads.
    let held = match &inner.meta.target {
        SessionTarget::NewVersion { file_id, .. } => {
            catalog.files.get(file_id).and_then(FileRecord::current)
        }
        SessionTarget::NewFile { .. } => None,
    };
    let reused = check_parts_list(&inner, held, &req.parts)?;
    if inner.commit_attempts < faults.commit_202 {
        inner.commit_attempts += 1;
        st.counters().injected.commit_202 += 1;
        return Ok(None);
    }
    check_commit_target(st, &catalog, &inner.meta, req)?;
    inner.committing = true;
    let hold = ReuseHold::take(session, &mut inner, &reused);
    Ok(Some((inner.meta.clone(), reused, hold)))
}

/// Clears the session's `committing` flag when the commit ends, however it ends, and lets
/// the hash ahead go on if the session is still open (the commit stopped it).
struct CommittingGuard<'a> {
    st: &'a Arc<Shared>,
    session: &'a Arc<Session>,
}

impl Drop for CommittingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.session.inner).committing = false;
        hash_ahead::kick(self.st, self.session);
    }
}

fn accepted(retry_after: u64) -> Response {
    with_header(
        StatusCode::ACCEPTED.into_response(),
        header::RETRY_AFTER,
        &retry_after.to_string(),
    )
}

/// Stores the assembled file as a new file or version with the parts it was made of (kept
/// for a later version to reuse, each with the file's SHA-1 state after it), marks the
/// session committed and removes its parts and data.
async fn store(
    st: &Arc<Shared>,
    session: &Session,
    meta: &SessionMeta,
    req: &CommitRequest,
    reused: &[Reuse],
    assembled: Assembled,
) -> Result<FileRecord, ApiError> {
    let Assembled {
        sha1, size, states, ..
    } = assembled;
    let sha1 = util::hex(&sha1);
    let mut catalog = st.catalog.lock().await;
    if lock(&session.inner).gone {
        return Err(ApiError::session_not_found());
    }
    let action = check_commit_target(st, &catalog, meta, req)?;
    // The data file becomes the version's blob: a hard link in tmp/ that the store renames
    // into blobs/ (if storing fails, the link goes and the session keeps its data).
    let tmp = st.temp_path();
    tokio::fs::hard_link(session.data_path(), tmp.path())
        .await
        .map_err(io_err("storing file content"))?;
    let content = NewContent {
        tmp,
        sha1: sha1.clone(),
        size,
    };
    let f = match action {
        CommitAction::Create { folder_id, name } => {
            st.create_file(
                &mut catalog,
                &folder_id,
                &name,
                content,
                req.content_created_at,
                req.content_modified_at,
            )
            .await?
        }
        CommitAction::Version { file_id, name } => {
            st.add_version(
                &mut catalog,
                &file_id,
                name.as_deref(),
                content,
                req.content_modified_at,
            )
            .await?
        }
    };
    let version_id = f.current().map(|v| v.id.clone()).unwrap_or_default();
    let mut parts: Vec<PartRecord> = lock(&session.inner).parts.values().cloned().collect();
    parts.extend(reused.iter().map(|r| r.part.clone()));
    parts.sort_by_key(|p| p.offset);
    for p in &mut parts {
        p.sha1_state = states
            .get((p.offset / meta.part_size.max(1)) as usize)
            .cloned()
            .flatten();
    }
    // The version is stored whether or not its parts are kept: without them, a later
    // version has nothing to reuse, no more.
    let f = match st
        .record_parts(&mut catalog, &f.id, &version_id, parts)
        .await
    {
        Ok(Some(saved)) => {
            // The parts' SHA-512s a later plan matches by, computed now in the background.
            if let Some(v) = saved.current() {
                st.hash_part_sha512s(&saved.id, &version_id, &v.parts);
            }
            saved
        }
        Ok(None) => f,
        Err(e) => {
            tracing::warn!("keeping the parts of version {version_id}: {}", e.message);
            f
        }
    };
    let mut done_meta = meta.clone();
    done_meta.committed = Some(CommittedInfo {
        file_id: f.id.clone(),
        version_id,
        sha1,
    });
    if let Err(e) = write_json_atomic(&session.meta_path(), &done_meta).await {
        tracing::warn!("saving committed session {}: {e}", session.id);
    }
    {
        let mut inner = lock(&session.inner);
        inner.meta.committed = done_meta.committed;
        inner.parts.clear();
    }
    drop(catalog);
    if let Err(e) = tokio::fs::remove_dir_all(session.parts_dir()).await {
        tracing::warn!("removing parts of committed session {}: {e}", session.id);
    }
    if let Err(e) = tokio::fs::remove_file(session.data_path()).await {
        tracing::warn!("removing data of committed session {}: {e}", session.id);
    }
    let mut c = st.counters();
    c.sessions_committed += 1;
    c.committed_bytes += size;
    c.parts_reused += reused.len() as u64;
    c.part_bytes_reused += reused.iter().map(|r| r.part.size).sum::<u64>();
    Ok(f)
}
