//! The trash: `DELETE /files/{id}` (to the trash), `GET /files/{id}/trash`,
//! `DELETE /files/{id}/trash` (for good), `POST /files/{id}` (restore), and the same for
//! folders: `DELETE /folders/{id}` (to the trash, with `recursive=true` for a folder with
//! items), `GET` and `DELETE /folders/{id}/trash`, `POST /folders/{id}`.
//! <https://developer.box.com/reference/delete-files-id/>,
//! <https://developer.box.com/reference/get-files-id-trash/>,
//! <https://developer.box.com/reference/delete-files-id-trash/>,
//! <https://developer.box.com/reference/post-files-id/>,
//! <https://developer.box.com/reference/delete-folders-id/>

use super::request::{read_json_object, Fields, IfMatch, Query, JSON_LIMIT, JSON_MAX_VALUES};
use super::response::json_response;
use super::validate::{check_if_match, item_not_found, json_id, lookup_folder, optional_name};
use super::{ApiResult, AppState};
use crate::body::BodyStream;
use crate::error::ApiError;
use crate::state::Shared;
use crate::util;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use serde_json::Value;

/// `DELETE /files/{id}`: 204, the file is in the trash. `412 precondition_failed` when
/// `if-match` is not its etag; `404` for a file that is not there (or already trashed).
pub(crate) async fn delete_file(
    State(st): AppState,
    Path(file_id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> ApiResult {
    if !util::is_numeric_id(&file_id) {
        return Err(item_not_found());
    }
    let mut catalog = st.catalog.lock().await;
    check_if_match(&catalog, &file_id, if_match.as_deref())?;
    st.trash_file(&mut catalog, &file_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /files/{id}/trash`: the trashed file (`item_status` `trashed`, `trashed_at`,
/// `purged_at`, the Trash as `path_collection`). `404 not_found` for a file not in the trash,
/// or in it only with a folder above it (Box: only that folder can be read then).
pub(crate) async fn get_trashed_file(
    State(st): AppState,
    Path(file_id): Path<String>,
    fields: Fields,
) -> ApiResult {
    let f = st.trashed_file(&*st.catalog.lock().await, &file_id)?;
    Ok(json_response(
        StatusCode::OK,
        st.file_json(&f, fields.as_deref()),
    ))
}

/// `DELETE /files/{id}/trash`: 204, the file and its versions are gone for good.
pub(crate) async fn purge_file(State(st): AppState, Path(file_id): Path<String>) -> ApiResult {
    st.purge_file(&mut *st.catalog.lock().await, &file_id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A restore's body: `{"name": ..., "parent": {"id": ...}}`, both optional.
async fn restore_target(
    body: &mut BodyStream,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let m = read_json_object(body, JSON_LIMIT, JSON_MAX_VALUES).await?;
    let name = optional_name(&m)?;
    let parent = match m.get("parent") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => match p.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                json_id(v).ok_or_else(|| ApiError::not_found("The parent folder was not found"))?,
            ),
        },
        Some(_) => return Err(ApiError::bad_request("'parent' must be an object")),
    };
    Ok((name, parent))
}

/// `POST /files/{id}` with an optional `{"name": ..., "parent": {"id": ...}}`: 201 and the
/// restored file. `404 not_found` if the file is not in the trash (on its own), `409
/// item_name_in_use` if its name is taken where it goes back to.
pub(crate) async fn restore_file(
    State(st): AppState,
    Path(file_id): Path<String>,
    fields: Fields,
    body: BodyStream,
) -> ApiResult {
    restore(&st, Trashed::File, &file_id, &fields, body).await
}

/// `DELETE /folders/{id}[?recursive=true]`: 204, the folder and everything below it are in
/// the trash. `400 folder_not_empty` for a folder with items without `recursive=true`, `412
/// precondition_failed` when `if-match` is not its etag, `404` for a folder that is not
/// there.
pub(crate) async fn delete_folder(
    State(st): AppState,
    Path(folder_id): Path<String>,
    IfMatch(if_match): IfMatch,
    q: Query,
) -> ApiResult {
    let recursive = match q.get("recursive") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "Invalid value for 'recursive': {v:?}"
            )))
        }
    };
    let mut catalog = st.catalog.lock().await;
    let f = lookup_folder(&st, &folder_id)?;
    if let Some(m) = &if_match {
        if !util::etag_matches(m, &f.etag.to_string()) {
            return Err(ApiError::precondition_failed());
        }
    }
    st.trash_folder(&mut catalog, &folder_id, recursive).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /folders/{id}/trash`: the trashed folder (`item_status` `trashed`, the Trash as
/// `path_collection`). `404 not_found` for a folder not in the trash on its own.
pub(crate) async fn get_trashed_folder(
    State(st): AppState,
    Path(folder_id): Path<String>,
    fields: Fields,
) -> ApiResult {
    let f = st.trashed_folder(&folder_id)?;
    let catalog = st.catalog.lock().await;
    Ok(json_response(
        StatusCode::OK,
        st.folder_full_json(&catalog, &f, fields.as_deref()),
    ))
}

/// `DELETE /folders/{id}/trash`: 204, the folder and what went to the trash with it are gone
/// for good.
pub(crate) async fn purge_folder(State(st): AppState, Path(folder_id): Path<String>) -> ApiResult {
    st.purge_folder(&mut *st.catalog.lock().await, &folder_id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /folders/{id}` with an optional `{"name": ..., "parent": {"id": ...}}`: 201 and the
/// restored folder, with what went to the trash with it. `404 not_found` if the folder is
/// not in the trash (on its own), `409 item_name_in_use` if its name is taken where it goes
/// back to.
pub(crate) async fn restore_folder(
    State(st): AppState,
    Path(folder_id): Path<String>,
    fields: Fields,
    body: BodyStream,
) -> ApiResult {
    restore(&st, Trashed::Folder, &folder_id, &fields, body).await
}

/// Which kind of item a restore brings back.
#[derive(Clone, Copy)]
enum Trashed {
    File,
    Folder,
}

/// A restore of either kind: reads the target from the body, restores the item under the
/// catalog lock and answers 201 with the restored item.
async fn restore(
    st: &Shared,
    kind: Trashed,
    id: &str,
    fields: &Fields,
    mut body: BodyStream,
) -> ApiResult {
    let (name, parent) = restore_target(&mut body).await?;
    let (name, parent) = (name.as_deref(), parent.as_deref());
    let mut catalog = st.catalog.lock().await;
    let json = match kind {
        Trashed::File => {
            let f = st.restore_file(&mut catalog, id, name, parent).await?;
            st.file_json(&f, fields.as_deref())
        }
        Trashed::Folder => {
            let f = st.restore_folder(&mut catalog, id, name, parent).await?;
            st.folder_full_json(&catalog, &f, fields.as_deref())
        }
    };
    Ok(json_response(StatusCode::CREATED, json))
}
