//! `GET /dl/{token}`: a download URL, as `GET /2.0/files/{id}/content` hands them out
//! ([`crate::state`]'s download URLs). No bearer token: the random path is the credential, as
//! on Box's download host. The bytes of one version, whole (200) or one `range: bytes=a-b`
//! (206 with `content-range`; 416 with `content-range: bytes */LEN` when it starts past the
//! end).

use super::request::header_str;
use super::{ApiResult, AppState};
use crate::error::ApiError;
use crate::state::io_err;
use crate::util;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

/// Serves a download URL: `404 not_found` for one that is unknown or expired (what Box's
/// download host answers then is not documented), and for one whose file went to the trash
/// or whose version is gone since the URL was made (the stricter answer).
pub(crate) async fn serve(
    State(st): AppState,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let gone = || ApiError::not_found("The download URL is not valid or has expired");
    let grant = st.download_grant(&token).ok_or_else(gone)?;
    let (version, etag) = {
        let catalog = st.catalog.lock().await;
        let f = catalog.files.get(&grant.file_id).ok_or_else(gone)?;
        let v = f.versions.iter().find(|v| v.id == grant.version_id);
        (v.cloned().ok_or_else(gone)?, f.etag_str())
    };
    let mut file = tokio::fs::File::open(st.blob_path(&version.id))
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
    {
        let mut c = st.counters();
        c.downloads_served += 1;
        c.download_bytes += count;
    }
    let mut resp = Response::new(file_body(file, count));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, count.into());
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", start + count - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
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

/// `len` bytes of `file` from where it stands, read 256 KiB at a time.
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
