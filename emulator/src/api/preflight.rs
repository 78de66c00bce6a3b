//! The preflight check: `OPTIONS /files/content` and `OPTIONS /files/{id}/content`.
//! <https://developer.box.com/reference/options-files-content/>

use super::request::{read_json_object, JSON_LIMIT, JSON_MAX_VALUES};
use super::response::json_response;
use super::validate::{json_id, lookup_file, optional_name};
use super::{ApiResult, AppState};
use crate::body::BodyStream;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// Runs the checks an upload of a new file or of a new version would, without the content.
/// Box's preflight reference requires no field, so the checks run on what is given (a missing
/// parent means the root folder). Failures have the statuses and codes the upload itself
/// would answer; success gives an `upload_url` and an `upload_token` the upload may use.
pub(crate) async fn preflight(
    State(st): AppState,
    file_id: Option<Path<String>>,
    mut body: BodyStream,
) -> ApiResult {
    let req = read_json_object(&mut body, JSON_LIMIT, JSON_MAX_VALUES).await?;
    let name = optional_name(&req)?;
    let size = match req.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n <= i64::MAX as u64)
                .ok_or_else(|| ApiError::bad_request("'size' must be a non-negative integer"))?,
        ),
    };
    let catalog = st.catalog.lock().await;
    let upload_url = match file_id {
        None => {
            let folder_id = match req.get("parent") {
                None | Some(Value::Null) => "0".to_string(),
                Some(Value::Object(p)) => p
                    .get("id")
                    .and_then(json_id)
                    .ok_or_else(|| ApiError::not_found("The parent folder was not found"))?,
                Some(_) => return Err(ApiError::bad_request("'parent' must be an object")),
            };
            if st.folder_name(&folder_id).is_none() {
                return Err(ApiError::not_found("The parent folder was not found"));
            }
            if let Some(n) = &name {
                st.check_name_free(&catalog, &folder_id, n, None)?;
            }
            format!(
                "{}/files/content?upload_session_id={}",
                st.upload_base(),
                crate::error::new_request_id()
            )
        }
        Some(Path(id)) => {
            let f = lookup_file(&catalog, &id)?;
            if let Some(n) = &name {
                st.check_name_free(&catalog, &f.folder_id, n, Some(&f.id))?;
            }
            format!("{}/files/{}/content", st.upload_base(), f.id)
        }
    };
    if let Some(size) = size {
        st.check_size_limits(&catalog, size)?;
    }
    drop(catalog);
    Ok(json_response(
        StatusCode::OK,
        json!({"upload_url": upload_url, "upload_token": st.new_upload_token()}),
    ))
}
