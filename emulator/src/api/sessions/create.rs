//! `POST /files/upload_sessions` (a session for a new file) and
//! `POST /files/{id}/upload_sessions` (for a new version of file `id`).
//! <https://developer.box.com/reference/post-files-upload-sessions/> and
//! <https://developer.box.com/reference/post-files-id-upload-sessions/>

use crate::api::request::{read_json_object, JSON_LIMIT, JSON_MAX_VALUES};
use crate::api::response::json_response;
use crate::api::validate::{check_name, item_not_found};
use crate::api::{ApiResult, AppState};
use crate::auth::Caller;
use crate::body::BodyStream;
use crate::error::ApiError;
use crate::state::{lock, Session, SessionTarget, Shared};
use crate::util;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Creates the session; answers 201 with it.
pub(crate) async fn create_session(
    State(st): AppState,
    file_id: Option<Path<String>>,
    caller: Caller,
    mut body: BodyStream,
) -> ApiResult {
    let m = read_json_object(&mut body, JSON_LIMIT, JSON_MAX_VALUES).await?;
    let session = match file_id {
        None => for_new_file(&st, &m, &caller).await?,
        Some(Path(id)) => for_new_version(&st, &id, &m, &caller).await?,
    };
    let meta = lock(&session.inner).meta.clone();
    Ok(json_response(
        StatusCode::CREATED,
        st.session_json(&meta, 0),
    ))
}

async fn for_new_file(
    st: &Shared,
    m: &Map<String, Value>,
    caller: &Caller,
) -> Result<Arc<Session>, ApiError> {
    let folder_id = match m.get("folder_id") {
        None | Some(Value::Null) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_destination",
                "The folder_id field is required",
            ))
        }
        Some(Value::String(s)) if util::is_numeric_id(s) => s.clone(),
        Some(Value::Number(n)) if n.as_u64().is_some() => n.to_string(),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_folder_id",
                "The folder_id field is not a valid folder id",
            ))
        }
    };
    let name = file_name_field(m, true)?.unwrap_or_default();
    let size = file_size_field(st.config.min_chunked_size, m)?;
    if st.folder_name(&folder_id).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_parameter",
            "The folder_id refers to a folder that does not exist or cannot be accessed",
        ));
    }
    let mut catalog = st.catalog.lock().await;
    st.check_size_limits(&catalog, size)?;
    st.check_name_free(&catalog, &folder_id, &name, None)?;
    st.create_session(
        &mut catalog,
        SessionTarget::NewFile { folder_id, name },
        size,
        &caller.user,
    )
    .await
}

async fn for_new_version(
    st: &Shared,
    id: &str,
    m: &Map<String, Value>,
    caller: &Caller,
) -> Result<Arc<Session>, ApiError> {
    if !util::is_numeric_id(id) {
        return Err(item_not_found());
    }
    let size = file_size_field(st.config.min_chunked_size, m)?;
    let name = file_name_field(m, false)?;
    let mut catalog = st.catalog.lock().await;
    let folder = catalog
        .files
        .get(id)
        .map(|f| f.folder_id.clone())
        .ok_or_else(item_not_found)?;
    st.check_size_limits(&catalog, size)?;
    if let Some(n) = &name {
        st.check_name_free(&catalog, &folder, n, Some(id))?;
    }
    st.create_session(
        &mut catalog,
        SessionTarget::NewVersion {
            file_id: id.to_string(),
            name,
        },
        size,
        &caller.user,
    )
    .await
}

/// Parses `file_size` of a create-session body.
pub(crate) fn file_size_field(
    min_chunked_size: u64,
    m: &Map<String, Value>,
) -> Result<u64, ApiError> {
    let size = match m.get("file_size") {
        None | Some(Value::Null) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_file_size",
                "The file_size field is required",
            ))
        }
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_file_size",
                    "The file_size field must be a non-negative integer",
                )
            })?,
    };
    if size < min_chunked_size {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "file_size_too_small",
            format!(
                "File size {size} is less than the minimum of {min_chunked_size} bytes for a chunked upload"
            ),
        ));
    }
    Ok(size)
}

/// Parses `file_name` of a create-session body (required for a new file).
pub(crate) fn file_name_field(
    m: &Map<String, Value>,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match m.get("file_name") {
        None | Some(Value::Null) if required => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_file_name",
            "The file_name field is required",
        )),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            check_name(s)?;
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "item_name_invalid",
            "The file_name field must be a string",
        )),
    }
}
