//! Box's rules on what clients send, shared by the handlers: item names, ids given in JSON,
//! `if-match` on a file, and looking a file up by its id.

use crate::error::ApiError;
use crate::state::{Catalog, FileRecord, FolderRecord, Shared};
use crate::util::{self, NameProblem};
use axum::http::StatusCode;
use serde_json::{Map, Value};

fn name_error(p: NameProblem) -> ApiError {
    match p {
        NameProblem::TooLong => ApiError::new(
            StatusCode::BAD_REQUEST,
            "item_name_too_long",
            "Item name exceeds the 255 character limit",
        ),
        NameProblem::Invalid(why) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "item_name_invalid",
            format!("Item name invalid: {why}"),
        ),
    }
}

/// `400 item_name_invalid` or `item_name_too_long` for a name that breaks Box's rules.
pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    util::check_file_name(name).map_err(name_error)
}

/// `404 not_found` for a file (or folder) that does not exist.
pub(crate) fn item_not_found() -> ApiError {
    ApiError::not_found("Could not find the specified resource")
}

/// A folder or file id taken from JSON: a string of digits (a JSON number is accepted too).
pub(crate) fn json_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if util::is_numeric_id(s) => Some(s.clone()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// `if-match` on a file: the request goes ahead only if the file's current etag matches,
/// otherwise Box answers `412 precondition_failed`; a file that does not exist cannot match,
/// so an `if-match` for it is 412 too, and without one it is `404 not_found`.
/// <https://developer.box.com/guides/api-calls/ensure-consistency/>
pub(crate) fn check_if_match(
    catalog: &Catalog,
    file_id: &str,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    match (catalog.files.get(file_id), if_match) {
        (Some(f), Some(m)) if !util::etag_matches(m, &f.etag_str()) => {
            Err(ApiError::precondition_failed())
        }
        (Some(_), _) => Ok(()),
        (None, Some(_)) => Err(ApiError::precondition_failed()),
        (None, None) => Err(item_not_found()),
    }
}

/// `404 trashed` for an item in the trash. Box's common errors list this code; which
/// operations answer it rather than `not_found` is not documented, and clients go by the 404.
pub(crate) fn item_trashed() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "trashed", "The item is in the trash")
}

/// Live file `file_id`, or `404 not_found` (also for an id that is not a string of digits),
/// `404 trashed` for a file in the trash.
pub(crate) fn lookup_file(catalog: &Catalog, file_id: &str) -> Result<FileRecord, ApiError> {
    if !util::is_numeric_id(file_id) {
        return Err(item_not_found());
    }
    if catalog.trash.contains_key(file_id) {
        return Err(item_trashed());
    }
    catalog
        .files
        .get(file_id)
        .cloned()
        .ok_or_else(item_not_found)
}

/// Live folder `id`, or `404 not_found` (also for an id that is not a string of digits),
/// `404 trashed` for a folder in the trash.
pub(crate) fn lookup_folder(st: &Shared, id: &str) -> Result<FolderRecord, ApiError> {
    if !util::is_numeric_id(id) {
        return Err(item_not_found());
    }
    if st.folders().trash.contains_key(id) {
        return Err(item_trashed());
    }
    st.folder(id).ok_or_else(item_not_found)
}

/// The `name` field, when given: a string that follows Box's name rules.
pub(crate) fn optional_name(m: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match m.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            check_name(s)?;
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ApiError::bad_request("'name' must be a string")),
    }
}
