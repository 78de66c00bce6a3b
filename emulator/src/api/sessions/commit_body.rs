//! A commit's body (the parts list and `attributes`) and the checks a commit makes before
//! it stores anything: the parts list against the parts received (and the parts of the
//! file's current version it reuses), and the target (etags, name, folder, limits) against
//! the catalog.

use super::reuse::Reuse;
use crate::api::request::header_str;
use crate::api::validate::{check_if_match, check_name};
use crate::error::ApiError;
use crate::state::{
    Catalog, PartRecord, SessionInner, SessionMeta, SessionTarget, Shared, VersionRecord,
};
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

/// Checks the client's parts list against the parts received and, for a new version, the
/// parts of the file's current version (`held`): every entry names a part uploaded to this
/// session or a part of `held` (by `part_id`, with matching `offset`, `size`, `sha1` and
/// `sha512` when given), each once, in offset order; every part uploaded is listed, and
/// together they make the whole file. Returns the parts taken from `held`.
///
/// Box: a part reused from the current version (a plan's hit) is listed as
/// `{part_id, offset, size}`, and `sha512` goes in every entry or in none: a list mixing
/// entries with and without it is refused. Box names no code for that refusal; it is
/// `400 bad_request` here, not `parts_mismatch`, which clients take as "list the parts and
/// try again" and which this list would fail again.
pub(crate) fn check_parts_list(
    inner: &SessionInner,
    held: Option<&VersionRecord>,
    list: &[Value],
) -> Result<Vec<Reuse>, ApiError> {
    let with_sha512 = list
        .iter()
        .filter(|p| p.get("sha512").is_some_and(|v| !v.is_null()))
        .count();
    if with_sha512 != 0 && with_sha512 != list.len() {
        return Err(ApiError::bad_request(format!(
            "Either every part listed has a sha512 or none has: {with_sha512} of {} have one",
            list.len()
        )));
    }
    let by_id: HashMap<&str, &PartRecord> = inner
        .parts
        .values()
        .map(|r| (r.part_id.as_str(), r))
        .collect();
    let mut reused = Vec::new();
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
        let offset = obj.get("offset").map(Value::as_u64);
        let uploaded = by_id.get(part_id).copied();
        // An uploaded part first; a part of the current version when no uploaded part has
        // that id at that offset (ids are unique within a session only).
        let reuse = match uploaded {
            Some(u) if offset.is_none_or(|o| o == Some(u.offset)) => None,
            _ => held.and_then(|v| held_part(v, part_id, offset).map(|r| (v, r))),
        };
        let (stored, kind) = match (reuse, uploaded) {
            (Some((_, r)), _) => (r, "reused part"),
            (None, Some(u)) => (u, "uploaded part"),
            (None, None) => {
                return Err(parts_mismatch(format!(
                    "parts[{i}] (part_id {part_id}) was not uploaded to this session{}",
                    if held.is_some() {
                        " and is not a part of the file's current version"
                    } else {
                        ""
                    }
                )))
            }
        };
        check_entry(i, obj, stored, kind)?;
        if !seen.insert((reuse.is_some(), part_id)) {
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
        if let Some((v, r)) = reuse {
            reused.push(fit_reuse(inner, i, v, r)?);
        }
    }
    let covered = inner.parts.len() + reused.len();
    if (covered as u64) < inner.meta.total_parts {
        return Err(parts_mismatch(if reused.is_empty() {
            format!(
                "Only {} of {} parts have been uploaded",
                inner.parts.len(),
                inner.meta.total_parts
            )
        } else {
            format!(
                "Only {} of {} parts have been uploaded or reused ({} reused)",
                covered,
                inner.meta.total_parts,
                reused.len()
            )
        }));
    }
    let listed_uploaded = seen.len() - reused.len();
    if listed_uploaded != inner.parts.len() {
        return Err(parts_mismatch(format!(
            "The parts list names {} parts but {} were uploaded",
            listed_uploaded,
            inner.parts.len()
        )));
    }
    Ok(reused)
}

/// The part of version `v` with id `part_id` (at `offset`, when the entry gives one).
fn held_part<'a>(
    v: &'a VersionRecord,
    part_id: &str,
    offset: Option<Option<u64>>,
) -> Option<&'a PartRecord> {
    match offset {
        Some(o) => {
            let o = o?;
            let i = v.parts.binary_search_by_key(&o, |p| p.offset).ok()?;
            Some(&v.parts[i]).filter(|p| p.part_id == part_id)
        }
        None => v.parts.iter().find(|p| p.part_id == part_id),
    }
}

/// Checks an entry's `offset`, `size`, `sha1` and `sha512`, when given, against the part it
/// names (`kind`: "uploaded part" or "reused part").
fn check_entry(
    i: usize,
    obj: &Map<String, Value>,
    stored: &PartRecord,
    kind: &str,
) -> Result<(), ApiError> {
    if let Some(o) = obj.get("offset") {
        if o.as_u64() != Some(stored.offset) {
            return Err(parts_mismatch(format!(
                "parts[{i}] offset {o} does not match the {kind}'s offset {}",
                stored.offset
            )));
        }
    }
    if let Some(s) = obj.get("size") {
        if s.as_u64() != Some(stored.size) {
            return Err(parts_mismatch(format!(
                "parts[{i}] size {s} does not match the {kind}'s size {}",
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
                "parts[{i}] sha1 {h} does not match the {kind}'s sha1 {}",
                stored.sha1
            )));
        }
    }
    // A part recorded without its SHA-512 (uploaded with `sha=` alone) is not checked.
    if let (Some(h), Some(known)) = (obj.get("sha512").filter(|v| !v.is_null()), &stored.sha512) {
        if h.as_str() != Some(known.as_str()) {
            return Err(parts_mismatch(format!(
                "parts[{i}] sha512 {h} does not match the {kind}'s sha512 {known}"
            )));
        }
    }
    Ok(())
}

/// A part of the current version, checked to be one of this session's parts (same offset
/// and size as the session expects there) and not uploaded or being uploaded here.
fn fit_reuse(
    inner: &SessionInner,
    i: usize,
    v: &VersionRecord,
    r: &PartRecord,
) -> Result<Reuse, ApiError> {
    let (file_size, part_size) = (inner.meta.file_size, inner.meta.part_size.max(1));
    let fits = r.offset % part_size == 0
        && r.offset < file_size
        && r.size == part_size.min(file_size - r.offset);
    if !fits {
        return Err(parts_mismatch(format!(
            "parts[{i}] (part_id {}, offset {}, size {}) is not one of this session's parts \
             (part size {part_size}, file size {file_size})",
            r.part_id, r.offset, r.size
        )));
    }
    let index = r.offset / part_size;
    if inner.part_at(index).is_some() {
        return Err(parts_mismatch(format!(
            "parts[{i}] (part_id {}) is reused at offset {}, where this session has an uploaded part",
            r.part_id, r.offset
        )));
    }
    Ok(Reuse {
        index,
        part: r.clone(),
        version_id: v.id.clone(),
    })
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
            // A file moved to the trash (or purged) while the session was open is not among
            // the live files: the commit fails `404 not_found` (412 with an `if-match`).
            // What Box does then is not documented; this is the stricter answer, and the
            // trashed file is left as it was.
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
