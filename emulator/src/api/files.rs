//! Preflight, direct uploads (multipart), and reading files back.

use super::{
    body_error, fields_param, header_str, json_response, json_value_count, page_response,
    query_get, query_pairs, query_u64, read_json_object, ApiResult, AppState, RequestFault,
    JSON_LIMIT, JSON_MAX_VALUES,
};
use crate::body::BodyStream;
use crate::counters::Operation;
use crate::error::ApiError;
use crate::multipart::{boundary_from_content_type, Multipart, MultipartError};
use crate::state::{
    file_size_limit_error, io_err, storage_limit_error, Catalog, FileRecord, NewContent, Shared,
};
use crate::util::{self, NameProblem};
use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, request::Parts, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

/// Largest `attributes` part accepted.
const ATTRIBUTES_LIMIT: usize = 1024 * 1024;

pub(crate) fn name_error(p: NameProblem) -> ApiError {
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

pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    util::check_file_name(name).map_err(name_error)
}

fn file_not_found() -> ApiError {
    ApiError::not_found("Could not find the specified resource")
}

fn precondition_failed() -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        "The resource has been modified. Please retrieve the resource again and retry",
    )
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
        (Some(f), Some(m)) if !util::etag_matches(m, &f.etag_str()) => Err(precondition_failed()),
        (Some(_), _) => Ok(()),
        (None, Some(_)) => Err(precondition_failed()),
        (None, None) => Err(file_not_found()),
    }
}

fn lookup_file(catalog: &Catalog, file_id: &str) -> Result<FileRecord, ApiError> {
    if !util::is_numeric_id(file_id) {
        return Err(file_not_found());
    }
    catalog
        .files
        .get(file_id)
        .cloned()
        .ok_or_else(file_not_found)
}

// ---------------------------------------------------------------------------------------
// Preflight

/// `OPTIONS /files/content` and `OPTIONS /files/{id}/content`: run the checks an upload of a
/// new file or of a new version would, without the content. Box's preflight reference
/// (<https://developer.box.com/reference/options-files-content/>) requires no field, so the
/// checks run on what is given (a missing parent means the root folder). Failures have the
/// statuses and codes the upload itself would answer.
pub(crate) async fn preflight(
    axum::extract::State(st): AppState,
    file_id: Option<Path<String>>,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let file_id = file_id.as_ref().map(|Path(id)| id.as_str());
    st.begin(Operation::Preflight, &parts.headers, false)
        .await?;
    let req = read_json_object(&mut body, JSON_LIMIT, JSON_MAX_VALUES).await?;
    let name = match req.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            check_name(s)?;
            Some(s.clone())
        }
        Some(_) => return Err(ApiError::bad_request("'name' must be a string")),
    };
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
        Some(id) => {
            let f = lookup_file(&catalog, id)?;
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

// ---------------------------------------------------------------------------------------
// Direct upload

/// The validated `attributes` part.
pub(crate) struct Attributes {
    pub(crate) name: Option<String>,
    pub(crate) folder_id: Option<String>,
    pub(crate) content_created_at: Option<DateTime<Utc>>,
    pub(crate) content_modified_at: Option<DateTime<Utc>>,
}

fn parse_time(m: &Map<String, Value>, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => util::parse_rfc3339(s)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("'{key}' must be an RFC 3339 date-time"))),
        Some(_) => Err(ApiError::bad_request(format!(
            "'{key}' must be an RFC 3339 date-time"
        ))),
    }
}

pub(crate) fn parse_attributes(data: &[u8], for_version: bool) -> Result<Attributes, ApiError> {
    if json_value_count(data) > JSON_MAX_VALUES {
        return Err(ApiError::bad_request(format!(
            "The 'attributes' part holds too many values (more than {JSON_MAX_VALUES})"
        )));
    }
    let m = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(ApiError::bad_request(
                "The 'attributes' part must be a JSON object",
            ))
        }
    };
    let name = match m.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            check_name(s)?;
            Some(s.clone())
        }
        Some(_) => return Err(ApiError::bad_request("'name' must be a string")),
    };
    let mut folder_id = None;
    if !for_version {
        if name.is_none() {
            return Err(ApiError::bad_request("'attributes.name' is required"));
        }
        let parent = m
            .get("parent")
            .and_then(Value::as_object)
            .ok_or_else(|| ApiError::bad_request("'attributes.parent' is required"))?;
        let id = parent
            .get("id")
            .ok_or_else(|| ApiError::bad_request("'attributes.parent.id' is required"))?;
        // A malformed id cannot name an existing folder: Box answers 404 for both.
        folder_id = Some(
            json_id(id).ok_or_else(|| ApiError::not_found("The parent folder was not found"))?,
        );
    }
    Ok(Attributes {
        name,
        folder_id,
        content_created_at: if for_version {
            None
        } else {
            parse_time(&m, "content_created_at")?
        },
        content_modified_at: parse_time(&m, "content_modified_at")?,
    })
}

pub(crate) fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::Body(b) => body_error(b),
        MultipartError::Malformed(why) => {
            ApiError::bad_request(format!("Malformed multipart body: {why}"))
        }
    }
}

/// Checks the parts of the request that concern the catalog (folder, name, etag).
fn check_upload_target(
    st: &Shared,
    catalog: &Catalog,
    attrs: &Attributes,
    file_id: Option<&str>,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    match file_id {
        None => {
            let folder = attrs.folder_id.as_deref().unwrap_or("0");
            if st.folder_name(folder).is_none() {
                return Err(ApiError::not_found("The parent folder was not found"));
            }
            if let Some(n) = &attrs.name {
                st.check_name_free(catalog, folder, n, None)?;
            }
        }
        Some(id) => {
            check_if_match(catalog, id, if_match)?;
            if let (Some(n), Some(f)) = (&attrs.name, catalog.files.get(id)) {
                st.check_name_free(catalog, &f.folder_id, n, Some(id))?;
            }
        }
    }
    Ok(())
}

/// `POST /files/content` (a new file, answered 201) and `POST /files/{id}/content` (a new
/// version, answered 200): a multipart body, the `attributes` part before the `file` part.
/// <https://developer.box.com/reference/post-files-content/> and
/// <https://developer.box.com/reference/post-files-id-content/>
pub(crate) async fn upload_file(
    axum::extract::State(st): AppState,
    file_id: Option<Path<String>>,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let file_id = file_id.as_ref().map(|Path(id)| id.as_str());
    let op = if file_id.is_some() {
        Operation::UploadFileVersion
    } else {
        Operation::UploadFile
    };
    let faults = st.begin(op, &parts.headers, true).await?;
    st.check_upload_rate(&faults)?;
    st.check_folder_faults(&faults, true)?;
    let if_match = header_str(&parts.headers, "if-match");
    if let Some(id) = file_id {
        if !util::is_numeric_id(id) {
            return Err(if if_match.is_some() {
                precondition_failed()
            } else {
                file_not_found()
            });
        }
        check_if_match(&*st.catalog.lock().await, id, if_match)?;
    }
    // `content-md5` carries the hex SHA-1 of the file despite its name.
    let content_sha1 = match header_str(&parts.headers, "content-md5") {
        None => None,
        Some(v) => Some(util::parse_hex_sha1(v).ok_or_else(bad_digest)?),
    };
    let boundary = header_str(&parts.headers, "content-type")
        .and_then(boundary_from_content_type)
        .ok_or_else(|| {
            ApiError::bad_request("Expected a multipart/form-data body with a boundary")
        })?;

    let mut mp = Multipart::new(&mut body, &boundary);
    let mut attrs: Option<Attributes> = None;
    let mut file: Option<(crate::state::TempPath, [u8; 20], u64)> = None;
    while let Some(info) = mp.next_part().await.map_err(multipart_error)? {
        match info.name.as_deref() {
            Some("attributes") => {
                if file.is_some() {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "metadata_after_file_contents",
                        "Metadata (the attributes part) must be sent before the file contents",
                    ));
                }
                if attrs.is_some() {
                    return Err(ApiError::bad_request(
                        "Only one 'attributes' part is allowed",
                    ));
                }
                let data = mp
                    .read_part_limited(ATTRIBUTES_LIMIT)
                    .await
                    .map_err(multipart_error)?
                    .ok_or_else(|| ApiError::bad_request("The 'attributes' part is too large"))?;
                let a = parse_attributes(&data, file_id.is_some())?;
                check_upload_target(&st, &*st.catalog.lock().await, &a, file_id, if_match)?;
                attrs = Some(a);
            }
            // Box takes the file part whatever its field name (its guide and SDKs call it
            // `file`; other clients send `content` and the like): every part but `attributes`
            // is the file, so a part before `attributes` makes it arrive after the file
            // (`metadata_after_file_contents` above). A second file part is refused: what Box
            // does with one is not documented, and this is the stricter answer.
            _ => {
                if file.is_some() {
                    return Err(ApiError::bad_request(
                        "Only one file part is allowed (after the 'attributes' part)",
                    ));
                }
                file = Some(receive_file_part(&st, &mut mp).await?);
            }
        }
    }
    let attrs = attrs.ok_or_else(|| ApiError::bad_request("The 'attributes' part is required"))?;
    let (tmp, sha1, size) = file.ok_or_else(|| {
        ApiError::bad_request("The 'file' part (the file contents, after 'attributes') is required")
    })?;
    if let Some(expected) = content_sha1 {
        if expected != sha1 {
            return Err(bad_digest());
        }
    }
    let sha1_hex = util::hex(&sha1);

    let mut catalog = st.catalog.lock().await;
    check_upload_target(&st, &catalog, &attrs, file_id, if_match)?;
    st.check_size_limits(&catalog, size)?;
    let fields = fields_param(&query_pairs(&parts.uri));
    let (status, f) = match file_id {
        None => {
            let folder = attrs.folder_id.as_deref().unwrap_or("0");
            let name = attrs.name.as_deref().unwrap_or_default();
            let f = st
                .create_file(
                    &mut catalog,
                    folder,
                    name,
                    NewContent {
                        tmp,
                        sha1: sha1_hex,
                        size,
                    },
                    attrs.content_created_at,
                    attrs.content_modified_at,
                )
                .await?;
            (StatusCode::CREATED, f)
        }
        Some(id) => {
            let f = st
                .add_version(
                    &mut catalog,
                    id,
                    attrs.name.as_deref(),
                    NewContent {
                        tmp,
                        sha1: sha1_hex,
                        size,
                    },
                    attrs.content_modified_at,
                )
                .await?;
            // Box answers 200 (not 201) for a new version.
            (StatusCode::OK, f)
        }
    };
    drop(catalog);
    {
        let mut c = st.counters();
        c.direct_uploads += 1;
        c.direct_upload_bytes += size;
        c.bytes_stored += size;
    }
    if st.draw(
        RequestFault::Direct500AfterStore,
        faults.direct_500_after_store,
    ) {
        st.counters().injected.direct_500_after_store += 1;
        return Err(ApiError::internal("Internal Server Error"));
    }
    if st.draw(
        RequestFault::Write503AfterStore,
        faults.write_503_after_store,
    ) {
        st.counters().injected.write_503_after_store += 1;
        return Err(super::unavailable(faults.retry_after_503_secs));
    }
    Ok(json_response(status, st.files_json(&f, fields.as_deref())))
}

fn bad_digest() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_digest",
        "The specified content-md5 did not match what we received",
    )
}

/// `POST /2.0/files/content` and `POST /2.0/files/{id}/content` on the API base: Box serves
/// direct uploads on the upload host only (`upload.box.com/api/2.0`; every upload guide says
/// so, and the reference's cURL examples were corrected to it in box/box-openapi#417 and
/// #420). What `api.box.com` answers to an upload is not documented; the one report found
/// (box/box-node-sdk#794, uploads sent to the API host) saw `404 Not Found`, so the emulator
/// answers as it does for any path it does not serve: `404 not_found`, before authentication,
/// and nothing is stored. (A 405 would suggest another method works there.) The body is taken
/// so that the rest of it is drained and the client sees the answer.
pub(crate) async fn upload_on_api_base(_body: BodyStream) -> ApiResult {
    Err(ApiError::not_found("Not Found"))
}

/// Streams the `file` part to a temporary file, hashing it and enforcing the size limits.
async fn receive_file_part(
    st: &Shared,
    mp: &mut Multipart<'_>,
) -> Result<(crate::state::TempPath, [u8; 20], u64), ApiError> {
    let room = match st.config.storage_limit {
        Some(limit) => limit.saturating_sub(st.catalog.lock().await.used_bytes),
        None => u64::MAX,
    };
    let max_file = st.config.max_file_size.unwrap_or(u64::MAX);
    let max_direct = st.config.max_direct_upload_size.unwrap_or(u64::MAX);
    let tmp = st.temp_path();
    let f = tokio::fs::File::create(tmp.path())
        .await
        .map_err(io_err("creating temporary file"))?;
    let mut w = tokio::io::BufWriter::with_capacity(256 * 1024, f);
    let mut hasher = Sha1::new();
    let mut size = 0u64;
    while let Some(chunk) = mp.next_chunk().await.map_err(multipart_error)? {
        size += chunk.len() as u64;
        st.counters().file_bytes_received += chunk.len() as u64;
        if size > max_file {
            return Err(file_size_limit_error());
        }
        if size > max_direct {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_entity_too_large",
                "File is too large for a direct upload; use a chunked upload session",
            ));
        }
        if size > room {
            return Err(storage_limit_error());
        }
        hasher.update(&chunk);
        w.write_all(&chunk)
            .await
            .map_err(io_err("writing temporary file"))?;
    }
    w.flush().await.map_err(io_err("writing temporary file"))?;
    Ok((tmp, util::sha1_finish(hasher), size))
}

// ---------------------------------------------------------------------------------------
// Reading back

pub(crate) async fn get_file(
    axum::extract::State(st): AppState,
    Path(file_id): Path<String>,
    parts: Parts,
) -> ApiResult {
    st.begin(Operation::GetFile, &parts.headers, false).await?;
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
    let fields = fields_param(&query_pairs(&parts.uri));
    Ok(json_response(
        StatusCode::OK,
        st.file_json(&f, fields.as_deref()),
    ))
}

pub(crate) async fn list_versions(
    axum::extract::State(st): AppState,
    Path(file_id): Path<String>,
    parts: Parts,
) -> ApiResult {
    st.begin(Operation::ListFileVersions, &parts.headers, false)
        .await?;
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
    let q = query_pairs(&parts.uri);
    let offset = query_u64(&q, "offset", 0)?;
    let limit = query_u64(&q, "limit", 1000)?.min(1000);
    // Box lists the previous versions (not the current one), newest first.
    let older: Vec<Value> = f
        .versions
        .iter()
        .rev()
        .skip(1)
        .map(|v| {
            json!({
                "type": "file_version",
                "id": v.id,
                "sha1": v.sha1,
                "name": v.name,
                "size": v.size,
                "created_at": util::rfc3339(v.created_at),
                "modified_at": util::rfc3339(v.created_at),
                "trashed_at": null,
                "purged_at": null,
            })
        })
        .collect();
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
    axum::extract::State(st): AppState,
    Path(file_id): Path<String>,
    parts: Parts,
) -> ApiResult {
    st.begin(Operation::DownloadFile, &parts.headers, false)
        .await?;
    let f = lookup_file(&*st.catalog.lock().await, &file_id)?;
    let q = query_pairs(&parts.uri);
    let version = match query_get(&q, "version") {
        None => f.current(),
        Some(v) => f.versions.iter().find(|x| x.id == v),
    }
    .cloned()
    .ok_or_else(file_not_found)?;
    let path = st.blob_path(&version.id);
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(io_err("opening file content"))?;
    let len = version.size;
    let range = header_str(&parts.headers, "range").and_then(|r| parse_range(r, len));
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
