//! Folders: create one, read one, list its items.
//! <https://developer.box.com/reference/post-folders/>,
//! <https://developer.box.com/reference/get-folders-id/>,
//! <https://developer.box.com/reference/get-folders-id-items/>

use super::request::{read_json_object, Fields, IfNoneMatch, Query, JSON_LIMIT, JSON_MAX_VALUES};
use super::response::{json_response, not_modified};
use super::validate::{check_name, item_not_found, json_id, lookup_folder};
use super::{ApiResult, AppState};
use crate::body::BodyStream;
use crate::error::ApiError;
use crate::state::{Item, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{json, Value};

/// Box's largest `limit` for folder items.
const MAX_LIMIT: u64 = 1000;
/// Box's default `limit` for folder items.
const DEFAULT_LIMIT: u64 = 100;
/// Box: "Queries with offset parameter value exceeding 10000 will be rejected with a 400
/// response."
const MAX_OFFSET: u64 = 10_000;

/// `POST /2.0/folders` with `{"name": ..., "parent": {"id": ...}}`: 201 and the Folder.
///
/// Errors: a missing or non-string `name`, a missing `parent` or `parent.id`, or a body that
/// is not a JSON object: `400 bad_request`; the name rules of files (`400 item_name_invalid`,
/// `item_name_too_long`); a parent that does not exist (or a malformed parent id, which
/// cannot name one): `404 not_found`; a name already held in the parent by a file or a
/// folder, case-insensitively: `409 item_name_in_use` with `context_info.conflicts` an array
/// holding that item's mini form. Box does not document the order of these checks; the
/// emulator checks the body, then the name's syntax, then the parent, then the conflict.
pub(crate) async fn create_folder(
    State(st): AppState,
    fields: Fields,
    mut body: BodyStream,
) -> ApiResult {
    let m = read_json_object(&mut body, JSON_LIMIT, JSON_MAX_VALUES).await?;
    let name = match m.get("name") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("'name' is required")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::bad_request("'name' must be a string")),
    };
    let parent_id = match m.get("parent") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("'parent' is required")),
        Some(Value::Object(p)) => match p.get("id") {
            None | Some(Value::Null) => {
                return Err(ApiError::bad_request("'parent.id' is required"))
            }
            Some(v) => json_id(v).ok_or_else(item_not_found)?,
        },
        Some(_) => return Err(ApiError::bad_request("'parent' must be an object")),
    };
    check_name(&name)?;
    let mut catalog = st.catalog.lock().await;
    let f = st.create_folder(&mut catalog, &parent_id, &name).await?;
    Ok(json_response(
        StatusCode::CREATED,
        st.folder_full_json(&catalog, &f, fields.as_deref()),
    ))
}

/// `GET /2.0/folders/{id}`: the Folder (`0` is "All Files", with null `parent`, `etag`,
/// `sequence_id`, `created_at` and `modified_at`); `fields` gives the mini form plus the
/// fields asked for. `404 not_found` for a folder that does not exist, `404 trashed` for one
/// in the trash; `304` with no body for `if-none-match` on its current etag.
pub(crate) async fn get_folder(
    State(st): AppState,
    Path(folder_id): Path<String>,
    IfNoneMatch(inm): IfNoneMatch,
    fields: Fields,
) -> ApiResult {
    let f = lookup_folder(&st, &folder_id)?;
    let etag = f.mini_json()["etag"].as_str().map(str::to_string);
    if let Some(resp) = not_modified(inm.as_deref(), etag.as_deref()) {
        return Ok(resp);
    }
    let catalog = st.catalog.lock().await;
    Ok(json_response(
        StatusCode::OK,
        st.folder_full_json(&catalog, &f, fields.as_deref()),
    ))
}

/// A marker: where the next page starts, as the sort key of its first item, opaque to the
/// client (base64url of `rank/id/name key`).
fn encode_marker(key: &(u8, String, u64)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}/{}/{}", key.0, key.2, key.1))
}

fn decode_marker(marker: &str) -> Option<(u8, String, u64)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (rank, rest) = text.split_once('/')?;
    let (id, name) = rest.split_once('/')?;
    Some((rank.parse().ok()?, name.to_string(), id.parse().ok()?))
}

/// `GET /2.0/folders/{id}/items`: the folder's subfolders and files, folders first, then by
/// name (case-insensitively), then by id.
///
/// Each entry is the mini form (`type`, `id`, `sequence_id`, `etag`, `name`, and for a file
/// `sha1` and `file_version`); `fields=a,b` adds those fields (a file's `size`,
/// `modified_at`, `content_modified_at`, `created_at`, `content_created_at`, `parent`,
/// `path_collection`, ...), as Box's `fields` parameter does.
///
/// Offset paging (default): `offset` (default 0; above 10000 `400 bad_request`, as Box's
/// reference says) and `limit` (default 100, at most 1000; more is clamped to 1000) give
/// `{"total_count", "entries", "offset", "limit", "order"}`. Marker paging: `usemarker=true`
/// and `marker` (absent or `0` for the first page) give `{"entries", "limit", "next_marker",
/// "prev_marker"}`, `next_marker` null on the last page, `prev_marker` null on the first; a
/// marker the emulator did not make is `400 bad_request` (Box's answer to one is not
/// documented; the stricter choice). `limit=0` is `400 bad_request` too (Box's answer
/// undocumented). `sort` and `direction` are not modelled: the order is always the one
/// above.
pub(crate) async fn list_folder_items(
    State(st): AppState,
    Path(folder_id): Path<String>,
    q: Query,
) -> ApiResult {
    lookup_folder(&st, &folder_id)?;
    let fields = q.fields();
    let limit = q.u64("limit", DEFAULT_LIMIT)?.min(MAX_LIMIT);
    if limit == 0 {
        return Err(ApiError::bad_request("'limit' must be at least 1"));
    }
    let usemarker = match q.get("usemarker") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "Invalid value for 'usemarker': {v:?}"
            )))
        }
    };
    let catalog = st.catalog.lock().await;
    let items = st.folder_items(&catalog, &folder_id);
    let fields = fields.as_deref();
    let page = if usemarker {
        marker_page(&st, &items, q.get("marker"), limit, fields)?
    } else {
        offset_page(&st, &items, q.u64("offset", 0)?, limit, fields)?
    };
    Ok(json_response(StatusCode::OK, page))
}

/// A page of marker paging: from the item `marker` names, `limit` items.
fn marker_page(
    st: &Shared,
    items: &[Item],
    marker: Option<&str>,
    limit: u64,
    fields: Option<&[String]>,
) -> Result<Value, ApiError> {
    // Box's marker guide: the first page is asked for without a marker, or with `0`.
    let start = match marker.filter(|m| !m.is_empty() && *m != "0") {
        None => 0,
        Some(m) => {
            let key = decode_marker(m)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid marker: {m:?}")))?;
            items.partition_point(|i| i.sort_key() < key)
        }
    };
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
        .min(items.len());
    let entries: Vec<Value> = items[start..end]
        .iter()
        .map(|i| st.item_json(i, fields))
        .collect();
    let next_marker = items.get(end).map(|i| encode_marker(&i.sort_key()));
    // Box's Items schema also has `prev_marker`: here the start of the page before
    // (null on the first page).
    let prev_marker = (start > 0).then(|| {
        let prev = start.saturating_sub(usize::try_from(limit).unwrap_or(usize::MAX));
        encode_marker(&items[prev].sort_key())
    });
    Ok(
        json!({"entries": entries, "limit": limit, "next_marker": next_marker,
              "prev_marker": prev_marker}),
    )
}

/// A page of offset paging: `limit` items from `offset`, with the total count.
fn offset_page(
    st: &Shared,
    items: &[Item],
    offset: u64,
    limit: u64,
    fields: Option<&[String]>,
) -> Result<Value, ApiError> {
    if offset > MAX_OFFSET {
        // Box's reference gives 10000; Box was seen (2020, box community) to refuse offsets
        // above 300000 with this body. The documented, stricter limit is kept.
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_request", "Bad Request")
            .with_context(json!({"errors": [{
                "reason": "invalid_parameter",
                "name": "offset",
                "message": format!(
                    "Invalid value '{offset}'. The offset must not exceed the maximum offset of {MAX_OFFSET}"
                ),
            }]})));
    }
    let entries: Vec<Value> = items
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|i| st.item_json(i, fields))
        .collect();
    Ok(json!({
        "total_count": items.len(),
        "entries": entries,
        "offset": offset,
        "limit": limit,
        "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
    }))
}
