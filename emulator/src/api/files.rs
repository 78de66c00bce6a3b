//! Reading files back: `GET /files/{id}` (`304` for `if-none-match` on the current etag),
//! `GET /files/{id}/versions`, and `GET /files/{id}/content`, which redirects to a download
//! URL ([`super::download`]).

use super::request::{Fields, IfNoneMatch, Query};
use super::response::{json_response, not_modified, page_response, with_header};
use super::validate::{item_not_found, lookup_file};
use super::{ApiResult, AppState};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse as _;
use serde_json::Value;

/// The File (or its mini form plus `fields`).
pub(crate) async fn get_file(
    State(st): AppState,
    Path(file_id): Path<String>,
    IfNoneMatch(inm): IfNoneMatch,
    fields: Fields,
) -> ApiResult {
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
    if let Some(resp) = not_modified(inm.as_deref(), Some(&f.etag_str())) {
        return Ok(resp);
    }
    Ok(json_response(
        StatusCode::OK,
        st.file_json(&f, fields.as_deref()),
    ))
}

/// The previous versions (not the current one), newest first, offset paged.
pub(crate) async fn list_versions(
    State(st): AppState,
    Path(file_id): Path<String>,
    q: Query,
) -> ApiResult {
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
    let offset = q.u64("offset", 0)?;
    let limit = q.u64("limit", 1000)?.min(1000);
    let older: Vec<Value> = f.versions.iter().rev().skip(1).map(|v| v.json()).collect();
    let total = older.len();
    let entries: Vec<Value> = older
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(1000))
        .collect();
    Ok(page_response(entries, total, offset, limit, None))
}

/// `GET /files/{id}/content[?version=ID]`: `302` with `location` on a download URL for the
/// current version (or version `ID`), as Box answers; the client follows it, with its `range`
/// header if it has one. `404` for a file or version that is not there. (Box may answer `202`
/// with `retry-after` for a file uploaded a moment ago; the emulator's files are ready at
/// once.)
pub(crate) async fn download(
    State(st): AppState,
    Path(file_id): Path<String>,
    q: Query,
) -> ApiResult {
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
    let version = match q.get("version") {
        None => f.current(),
        Some(v) => f.versions.iter().find(|x| x.id == v),
    }
    .ok_or_else(item_not_found)?;
    let url = st.new_download_url(&f.id, &version.id);
    Ok(with_header(
        StatusCode::FOUND.into_response(),
        header::LOCATION,
        &url,
    ))
}
