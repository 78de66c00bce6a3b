//! How handlers answer: JSON bodies, pages of a list, extra headers.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub(crate) fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// Box's answer for one page of a list (offset paging): the page's `entries`, the list's
/// `total_count`, the `offset` and `limit` used, and for a sorted list its `order` (ascending
/// by `order_by`).
pub(crate) fn page_response(
    entries: Vec<Value>,
    total: usize,
    offset: u64,
    limit: u64,
    order_by: Option<&str>,
) -> Response {
    let mut page = serde_json::json!({
        "entries": entries,
        "total_count": total,
        "offset": offset,
        "limit": limit,
    });
    if let Some(by) = order_by {
        page["order"] = serde_json::json!([{"by": by, "direction": "ASC"}]);
    }
    json_response(StatusCode::OK, page)
}

/// `304 Not Modified` with an empty body when `if-none-match` names the item's current
/// `etag` (Box, `GET /files/{id}` and `GET /folders/{id}`); `None` to answer in full. An item
/// without an etag (the root folder) is never "not modified".
pub(crate) fn not_modified(if_none_match: Option<&str>, etag: Option<&str>) -> Option<Response> {
    let (Some(header), Some(etag)) = (if_none_match, etag) else {
        return None;
    };
    if !crate::util::etag_matches(header, etag) {
        return None;
    }
    let resp = StatusCode::NOT_MODIFIED.into_response();
    Some(with_header(
        resp,
        axum::http::header::ETAG,
        &format!("\"{etag}\""),
    ))
}

pub(crate) fn with_header(mut resp: Response, name: HeaderName, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}
