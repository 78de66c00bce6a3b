//! A session's status (`GET`), abort (`DELETE`), parts list (`GET .../parts`) and log
//! events (`POST .../log`).

use crate::api::request::{Query, JSON_LIMIT};
use crate::api::response::{json_response, page_response};
use crate::api::{ApiResult, AppState};
use crate::auth::Caller;
use crate::body::BodyStream;
use crate::error::ApiError;
use crate::state::{lock, PartRecord};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;

/// The UploadSession, with the number of parts stored so far.
pub(crate) async fn get_session(
    State(st): AppState,
    Path(sid): Path<String>,
    caller: Caller,
) -> ApiResult {
    let session = st.owned_session(&sid, &caller)?;
    let (meta, processed) = {
        let inner = lock(&session.inner);
        inner.check_live()?;
        (inner.meta.clone(), inner.parts.len() as u64)
    };
    Ok(json_response(
        StatusCode::OK,
        st.session_json(&meta, processed),
    ))
}

/// `DELETE`: discards the session and its parts. Works on an expired session too (there is
/// nothing else a client can do with it); a later use answers 404.
///
/// On a committed session it answers 204 and changes nothing (the file stays; the session
/// stays committed, so other calls still answer 404): Box's own SDK integration tests
/// (box-node-sdk `testChunkedManualProcessById` and its siblings in the other generated SDKs,
/// run against Box) delete the session right after committing it and expect success. An
/// aborted session stays 404 (what Box answers a second abort is not documented).
pub(crate) async fn abort_session(
    State(st): AppState,
    Path(sid): Path<String>,
    caller: Caller,
) -> ApiResult {
    let session = st.owned_session(&sid, &caller)?;
    {
        let mut inner = lock(&session.inner);
        if inner.gone {
            return Err(ApiError::session_not_found());
        }
        if inner.meta.committed.is_some() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        inner.gone = true;
    }
    st.remove_session(&sid);
    if let Err(e) = tokio::fs::remove_dir_all(&session.dir).await {
        tracing::warn!("removing aborted session {}: {e}", session.dir.display());
    }
    st.counters().sessions_aborted += 1;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The parts stored, in offset order, offset paged (`offset` at most 10000, `limit` at most
/// 1000).
pub(crate) async fn list_parts(
    State(st): AppState,
    Path(sid): Path<String>,
    caller: Caller,
    q: Query,
) -> ApiResult {
    let session = st.owned_session(&sid, &caller)?;
    let offset = q.u64("offset", 0)?;
    if offset > 10_000 {
        return Err(ApiError::bad_request(
            "The offset must not be greater than 10000",
        ));
    }
    // The spec caps limit at 1000; larger values are clamped.
    let limit = q.u64("limit", 1000)?.min(1000);
    let (entries, total) = {
        let inner = lock(&session.inner);
        inner.check_live()?;
        let entries: Vec<Value> = inner
            .parts
            .values()
            .skip(offset as usize)
            .take(limit as usize)
            .map(PartRecord::json)
            .collect();
        (entries, inner.parts.len())
    };
    Ok(page_response(entries, total, offset, limit, Some("offset")))
}

/// `session_endpoints.log_event` has no operation in Box's spec; it is accepted and ignored.
pub(crate) async fn log_event(
    State(st): AppState,
    Path(sid): Path<String>,
    caller: Caller,
    mut body: BodyStream,
) -> ApiResult {
    let session = st.owned_session(&sid, &caller)?;
    lock(&session.inner).check_live()?;
    body.drain(JSON_LIMIT).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
