//! A commit's body (the parts list and `attributes`) and the checks a commit makes before
//! it stores anything: the parts list against the parts received, and the target (etags,
//! name, folder, limits) against the catalog.

use crate::api::request::header_str;
use crate::api::validate::{check_if_match, check_name};
use crate::error::ApiError;
use crate::state::{Catalog, PartRecord, SessionInner, SessionMeta, SessionTarget, Shared};
use crate::util;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// `400 parts_mismatch`: the parts list does not match the parts received.
pub(crate) fn parts_mismatch(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "parts_mismatch", message)
}

/// What a commit will do once the content is assembled.
pub(crate) enum CommitAction {
    Create {
        folder_id: String,
        name: String,
    },
    Version {
        file_id: String,
        name: Option<String>,
    },
}

/// What a commit asks for.
pub(crate) struct CommitRequest {
    pub parts: Vec<Value>,
    pub name: Option<String>,
    /// `attributes.parent.id`: the folder a new file goes into instead of the session's.
    pub parent_id: Option<String>,
    pub content_created_at: Option<chrono::DateTime<Utc>>,
    pub content_modified_at: Option<chrono::DateTime<Utc>>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

/// Parses the commit body; `if-match` and `if-none-match` come from `headers`.
pub(crate) fn parse_commit_body(
    mut m: Map<String, Value>,
    headers: &HeaderMap,
) -> Result<CommitRequest, ApiError> {
    let list = match m.remove("parts") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("The parts field is required"))
        }
        Some(_) => return Err(ApiError::bad_request("The parts field must be an array")),
    };
    let mut name = None;
    let mut parent_id = None;
    let mut content_created_at = None;
    let mut content_modified_at = None;
    match m.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) => {
            match a.get("name") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    check_name(s)?;
                    name = Some(s.clone());
                }
                Some(_) => return Err(ApiError::bad_request("'attributes.name' must be a string")),
            }
            match a.get("parent") {
                None | Some(Value::Null) => {}
                Some(Value::Object(p)) => match p.get("id") {
                    Some(Value::String(id)) => parent_id = Some(id.clone()),
                    _ => {
                        return Err(ApiError::bad_request(
                            "'attributes.parent.id' must be a string",
                        ))
                    }
                },
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "'attributes.parent' must be an object",
                    ))
                }
            }
            let time = |key: &str| match a.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => util::parse_rfc3339(s).map(Some).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "'attributes.{key}' must be an RFC 3339 date-time"
                    ))
                }),
                Some(_) => Err(ApiError::bad_request(format!(
                    "'attributes.{key}' must be an RFC 3339 date-time"
                ))),
            };
            content_created_at = time("content_created_at")?;
            content_modified_at = time("content_modified_at")?;
        }
        Some(_) => return Err(ApiError::bad_request("'attributes' must be an object")),
    }
    Ok(CommitRequest {
        parts: list,
        name,
        parent_id,
        content_created_at,
        content_modified_at,
        if_match: header_str(headers, "if-match").map(str::to_string),
        if_none_match: header_str(headers, "if-none-match").map(str::to_string),
    })
}

/// Checks the client's parts list against the parts received: same parts (by `part_id`,
/// with matching `offset`, `size` and `sha1` when given), each once, in offset order, and
/// all of the file's parts present.
pub(crate) fn check_parts_list(inner: &SessionInner, list: &[Value]) -> Result<(), ApiError> {
    let by_id: HashMap<&str, &PartRecord> = inner
        .parts
        .values()
        .map(|r| (r.part_id.as_str(), r))
        .collect();
    let mut seen = HashSet::new();
    let mut last_offset: Option<u64> = None;
    for (i, p) in list.iter().enumerate() {
        let obj = p
            .as_object()
            .ok_or_else(|| parts_mismatch(format!("parts[{i}] is not an object")))?;
        let part_id = obj
            .get("part_id")
            .and_then(Value::as_str)
            .ok_or_else(|| parts_mismatch(format!("parts[{i}] has no part_id")))?;
        let stored = by_id.get(part_id).copied().ok_or_else(|| {
            parts_mismatch(format!(
                "parts[{i}] (part_id {part_id}) was not uploaded to this session"
            ))
        })?;
        if let Some(o) = obj.get("offset") {
            if o.as_u64() != Some(stored.offset) {
                return Err(parts_mismatch(format!(
                    "parts[{i}] offset {o} does not match the uploaded part's offset {}",
                    stored.offset
                )));
            }
        }
        if let Some(s) = obj.get("size") {
            if s.as_u64() != Some(stored.size) {
                return Err(parts_mismatch(format!(
                    "parts[{i}] size {s} does not match the uploaded part's size {}",
                    stored.size
                )));
            }
        }
        if let Some(h) = obj.get("sha1") {
            let ok = h
                .as_str()
                .and_then(util::parse_hex_sha1)
                .map(|d| util::hex(&d) == stored.sha1)
                .unwrap_or(false);
            if !ok {
                return Err(parts_mismatch(format!(
                    "parts[{i}] sha1 {h} does not match the uploaded part's sha1 {}",
                    stored.sha1
                )));
            }
        }
        if !seen.insert(part_id) {
            return Err(parts_mismatch(format!(
                "parts[{i}] (part_id {part_id}) is listed twice"
            )));
        }
        if last_offset.is_some_and(|l| l >= stored.offset) {
            return Err(parts_mismatch(
                "The parts must be listed in order of offset",
            ));
        }
        last_offset = Some(stored.offset);
    }
    if (inner.parts.len() as u64) < inner.meta.total_parts {
        return Err(parts_mismatch(format!(
            "Only {} of {} parts have been uploaded",
            inner.parts.len(),
            inner.meta.total_parts
        )));
    }
    if seen.len() != inner.parts.len() {
        return Err(parts_mismatch(format!(
            "The parts list names {} parts but {} were uploaded",
            seen.len(),
            inner.parts.len()
        )));
    }
    Ok(())
}

/// Checks everything that depends on the catalog (etags, name, folder, limits).
pub(crate) fn check_commit_target(
    st: &Shared,
    catalog: &Catalog,
    meta: &SessionMeta,
    req: &CommitRequest,
) -> Result<CommitAction, ApiError> {
    let action = match &meta.target {
        SessionTarget::NewFile { folder_id, name } => {
            // No file exists yet: an if-match cannot match (ensure-consistency guide).
            if req.if_match.is_some() {
                return Err(ApiError::precondition_failed());
            }
            let folder_id = req.parent_id.as_ref().unwrap_or(folder_id);
            if st.folder_name(folder_id).is_none() {
                return Err(ApiError::not_found("The parent folder was not found"));
            }
            let name = req.name.clone().unwrap_or_else(|| name.clone());
            st.check_name_free(catalog, folder_id, &name, None)?;
            CommitAction::Create {
                folder_id: folder_id.clone(),
                name,
            }
        }
        SessionTarget::NewVersion { file_id, name } => {
            check_if_match(catalog, file_id, req.if_match.as_deref())?;
            if let (Some(inm), Some(f)) = (&req.if_none_match, catalog.files.get(file_id)) {
                if util::etag_matches(inm, &f.etag_str()) {
                    return Err(ApiError::new(
                        StatusCode::PRECONDITION_FAILED,
                        "precondition_failed",
                        "The resource matches the if-none-match etag",
                    ));
                }
            }
            let name = req.name.clone().or_else(|| name.clone());
            if let (Some(n), Some(f)) = (&name, catalog.files.get(file_id)) {
                st.check_name_free(catalog, &f.folder_id, n, Some(file_id))?;
            }
            CommitAction::Version {
                file_id: file_id.clone(),
                name,
            }
        }
    };
    st.check_size_limits(catalog, meta.file_size)?;
    Ok(action)
}
