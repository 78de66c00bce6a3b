//! Reading files back: `GET /files/{id}`, `GET /files/{id}/versions` and
//! `GET /files/{id}/content`.

use super::request::{header_str, Fields, Query};
use super::response::{json_response, page_response};
use super::validate::{item_not_found, lookup_file};
use super::{ApiResult, AppState};
use crate::error::ApiError;
use crate::state::io_err;
use crate::util;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

/// The File (or its mini form plus `fields`).
pub(crate) async fn get_file(
    State(st): AppState,
    Path(file_id): Path<String>,
    fields: Fields,
) -> ApiResult {
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
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

/// `GET /files/{id}/content[?version=ID]`. Box answers with a redirect to a download host;
/// the emulator serves the bytes itself (200, or 206 for a single `range: bytes=a-b`).
pub(crate) async fn download(
    State(st): AppState,
    Path(file_id): Path<String>,
    q: Query,
    headers: HeaderMap,
) -> ApiResult {
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
    let version = match q.get("version") {
        None => f.current(),
        Some(v) => f.versions.iter().find(|x| x.id == v),
    }
    .cloned()
    .ok_or_else(item_not_found)?;
    let path = st.blob_path(&version.id);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(io_err("opening file content"))?;
    let len = version.size;
    let range = header_str(&headers, "range").and_then(|r| parse_range(r, len));
    let (status, start, count) = match range {
        None => (StatusCode::OK, 0, len),
        Some(Err(())) => {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "requested_range_not_satisfiable",
                "The requested range is not satisfiable",
            )
            .with_header(header::CONTENT_RANGE, &format!("bytes */{len}")))
        }
        Some(Ok((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
    };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io_err("reading file content"))?;
    }
    let mut resp = Response::new(file_body(file, count));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, count.into());
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) =
            header::HeaderValue::from_str(&format!("bytes {start}-{}/{len}", start + count - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if let Ok(v) = header::HeaderValue::from_str(&format!("\"{}\"", f.etag_str())) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

/// Parses a single `bytes=` range against a length: `None` to ignore the header,
/// `Some(Err)` if unsatisfiable, `Some(Ok((first, last)))` otherwise.
pub(crate) fn parse_range(h: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n = util::parse_u64_digits(b)?;
        if n == 0 || len == 0 {
            Err(())
        } else {
            Ok((len.saturating_sub(n), len - 1))
        }
    } else {
        let first = util::parse_u64_digits(a)?;
        let last = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            util::parse_u64_digits(b)?.min(len.saturating_sub(1))
        };
        if first >= len || first > last {
            Err(())
        } else {
            Ok((first, last))
        }
    };
    Some(r)
}

fn file_body(file: tokio::fs::File, len: u64) -> Body {
    let stream = futures_util::stream::unfold((file, len), |(mut f, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        let want = remaining.min(256 * 1024) as usize;
        let mut buf = vec![0u8; want];
        match f.read(&mut buf).await {
            Ok(0) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "file content is shorter than recorded",
                )),
                (f, 0),
            )),
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (f, remaining - n as u64)))
            }
            Err(e) => Some((Err(e), (f, 0))),
        }
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=95-200", 100), Some(Ok((95, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
