//! `POST /files/upload_sessions/{id}/commit`: checks the parts list, then the whole-file
//! digest over the file the parts were written into, links that file into the store and
//! answers 201 with it (or 202 with `retry-after` while another commit of the session is
//! still checking it).
//! <https://developer.box.com/reference/post-files-upload-sessions-id-commit/>

use super::commit_body::{
    check_commit_target, check_parts_list, parse_commit_body, parts_mismatch, CommitAction,
    CommitRequest,
};
use super::headers::digest_header;
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
    hash_file, io_err, lock, write_json_atomic, CommittedInfo, FileRecord, NewContent,
    RequestFault, Session, SessionMeta, Shared,
};
use crate::util;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

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
    let Some(meta) = check(&st, &session, &faults, &req).await? else {
        return Ok(accepted(faults.commit_retry_after_secs));
    };
    let _guard = CommittingGuard(&session);

    // Phase 2: the parts are already in place in the data file (every one is stored, so no
    // request writes to it now): hash it, as Box checks the whole-file digest. Nothing is
    // copied (blocking reads on a blocking thread).
    let data = session.data_path();
    let (actual, size) = tokio::task::spawn_blocking(move || hash_file(&data))
        .await
        .map_err(|e| ApiError::internal(format!("Internal Server Error ({e})")))?
        .map_err(io_err("reading the assembled file"))?;
    if actual != digest || size != meta.file_size {
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
    let f = store(&st, &session, &meta, &req, util::hex(&actual), size).await?;
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

/// The checks before the file is hashed, and the injected `parts_mismatch` and 202s: the
/// session, marked committing, to go ahead with, or `None` to answer 202 (another commit is
/// checking the file, or an injected `commit_202`).
async fn check(
    st: &Shared,
    session: &Session,
    faults: &FaultConfig,
    req: &CommitRequest,
) -> Result<Option<SessionMeta>, ApiError> {
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
    check_parts_list(&inner, &req.parts)?;
    if inner.commit_attempts < faults.commit_202 {
        inner.commit_attempts += 1;
        st.counters().injected.commit_202 += 1;
        return Ok(None);
    }
    check_commit_target(st, &catalog, &inner.meta, req)?;
    inner.committing = true;
    Ok(Some(inner.meta.clone()))
}

/// Clears the session's `committing` flag when the commit ends, however it ends.
struct CommittingGuard<'a>(&'a Session);

impl Drop for CommittingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.0.inner).committing = false;
    }
}

fn accepted(retry_after: u64) -> Response {
    with_header(
        StatusCode::ACCEPTED.into_response(),
        header::RETRY_AFTER,
        &retry_after.to_string(),
    )
}

/// Stores the assembled file as a new file or version, marks the session committed and
/// removes its parts and data.
async fn store(
    st: &Shared,
    session: &Session,
    meta: &SessionMeta,
    req: &CommitRequest,
    sha1: String,
    size: u64,
) -> Result<FileRecord, ApiError> {
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
    let mut done_meta = meta.clone();
    done_meta.committed = Some(CommittedInfo {
        file_id: f.id.clone(),
        version_id: f.current().map(|v| v.id.clone()).unwrap_or_default(),
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
    Ok(f)
}
