//! Direct uploads: `POST /files/content` (a new file, answered 201) and
//! `POST /files/{id}/content` (a new version, answered 200), a multipart body with the
//! `attributes` part before the file part.
//! <https://developer.box.com/reference/post-files-content/> and
//! <https://developer.box.com/reference/post-files-id-content/>

use super::gate::Faults;
use super::request::{body_error, header_str, json_value_count, Fields, JSON_MAX_VALUES};
use super::response::json_response;
use super::validate::{check_if_match, item_not_found, json_id, optional_name};
use super::{ApiResult, AppState};
use crate::body::BodyStream;
use crate::error::ApiError;
use crate::multipart::{boundary_from_content_type, Multipart, MultipartError};
use crate::state::{io_err, Catalog, FileRecord, NewContent, RequestFault, Shared, TempPath};
use crate::util;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha1::{Digest as _, Sha1};
use tokio::io::AsyncWriteExt as _;

/// Largest `attributes` part accepted.
const ATTRIBUTES_LIMIT: usize = 1024 * 1024;

/// The validated `attributes` part.
pub(crate) struct Attributes {
    pub(crate) name: Option<String>,
    pub(crate) folder_id: Option<String>,
    pub(crate) content_created_at: Option<DateTime<Utc>>,
    pub(crate) content_modified_at: Option<DateTime<Utc>>,
}

/// The file part, received into `tmp/`.
struct Received {
    tmp: TempPath,
    sha1: [u8; 20],
    size: u64,
}

/// Uploads a file or a new version of file `id`. Answers the stored file as Files.
pub(crate) async fn upload_file(
    State(st): AppState,
    file_id: Option<Path<String>>,
    faults: Faults,
    headers: HeaderMap,
    fields: Fields,
    mut body: BodyStream,
) -> ApiResult {
    let file_id = file_id.as_ref().map(|Path(id)| id.as_str());
    let if_match = header_str(&headers, "if-match");
    if let Some(id) = file_id {
        if !util::is_numeric_id(id) {
            return Err(if if_match.is_some() {
                ApiError::precondition_failed()
            } else {
                item_not_found()
            });
        }
        check_if_match(&*st.catalog.lock().await, id, if_match)?;
    }
    // `content-md5` carries the hex SHA-1 of the file despite its name.
    let content_sha1 = match header_str(&headers, "content-md5") {
        None => None,
        Some(v) => Some(util::parse_hex_sha1(v).ok_or_else(bad_digest)?),
    };
    let boundary = header_str(&headers, "content-type")
        .and_then(boundary_from_content_type)
        .ok_or_else(|| {
            ApiError::bad_request("Expected a multipart/form-data body with a boundary")
        })?;
    let target = Target { file_id, if_match };
    let (attrs, file) = read_parts(&st, &mut body, &boundary, &target).await?;
    if content_sha1.is_some_and(|expected| expected != file.sha1) {
        return Err(bad_digest());
    }
    let size = file.size;
    let (status, f) = store(&st, &target, &attrs, file).await?;
    {
        let mut c = st.counters();
        c.direct_uploads += 1;
        c.direct_upload_bytes += size;
        c.bytes_stored += size;
    }
    // A write may persist despite a 5xx (Box warns of it for 503s).
    st.inject(RequestFault::Direct500AfterStore, &faults)?;
    st.inject(RequestFault::Write503AfterStore, &faults)?;
    Ok(json_response(status, st.files_json(&f, fields.as_deref())))
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

fn bad_digest() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_digest",
        "The specified content-md5 did not match what we received",
    )
}

/// What the upload writes: a new file (`file_id` none) or a version of file `file_id`.
struct Target<'a> {
    file_id: Option<&'a str>,
    if_match: Option<&'a str>,
}

/// Reads the multipart body: the `attributes` part (checked against the catalog as soon as
/// it arrives), then the file part, streamed to a temporary file.
async fn read_parts(
    st: &Shared,
    body: &mut BodyStream,
    boundary: &str,
    target: &Target<'_>,
) -> Result<(Attributes, Received), ApiError> {
    let mut mp = Multipart::new(body, boundary);
    let mut attrs: Option<Attributes> = None;
    let mut file: Option<Received> = None;
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
                let a = parse_attributes(&data, target.file_id.is_some())?;
                check_target(st, &*st.catalog.lock().await, &a, target)?;
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
                file = Some(receive_file_part(st, &mut mp).await?);
            }
        }
    }
    let attrs = attrs.ok_or_else(|| ApiError::bad_request("The 'attributes' part is required"))?;
    let file = file.ok_or_else(|| {
        ApiError::bad_request("The 'file' part (the file contents, after 'attributes') is required")
    })?;
    Ok((attrs, file))
}

/// Stores the upload, checking the catalog again under its lock: 201 and the new file, or
/// 200 and the file with its new version (Box answers 200 for a version).
async fn store(
    st: &Shared,
    target: &Target<'_>,
    attrs: &Attributes,
    file: Received,
) -> Result<(StatusCode, FileRecord), ApiError> {
    let mut catalog = st.catalog.lock().await;
    check_target(st, &catalog, attrs, target)?;
    st.check_size_limits(&catalog, file.size)?;
    let content = NewContent {
        tmp: file.tmp,
        sha1: util::hex(&file.sha1),
        size: file.size,
    };
    match target.file_id {
        None => {
            let folder = attrs.folder_id.as_deref().unwrap_or("0");
            let name = attrs.name.as_deref().unwrap_or_default();
            let f = st
                .create_file(
                    &mut catalog,
                    folder,
                    name,
                    content,
                    attrs.content_created_at,
                    attrs.content_modified_at,
                )
                .await?;
            Ok((StatusCode::CREATED, f))
        }
        Some(id) => {
            let f = st
                .add_version(
                    &mut catalog,
                    id,
                    attrs.name.as_deref(),
                    content,
                    attrs.content_modified_at,
                )
                .await?;
            Ok((StatusCode::OK, f))
        }
    }
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
    let name = optional_name(&m)?;
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

/// Checks what the upload's attributes say against the catalog (folder, name, etag).
fn check_target(
    st: &Shared,
    catalog: &Catalog,
    attrs: &Attributes,
    target: &Target<'_>,
) -> Result<(), ApiError> {
    match target.file_id {
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
            check_if_match(catalog, id, target.if_match)?;
            if let (Some(n), Some(f)) = (&attrs.name, catalog.files.get(id)) {
                st.check_name_free(catalog, &f.folder_id, n, Some(id))?;
            }
        }
    }
    Ok(())
}

/// Streams the file part to a temporary file, hashing it and enforcing the size limits.
async fn receive_file_part(st: &Shared, mp: &mut Multipart<'_>) -> Result<Received, ApiError> {
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
            return Err(ApiError::file_size_limit());
        }
        if size > max_direct {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_entity_too_large",
                "File is too large for a direct upload; use a chunked upload session",
            ));
        }
        if size > room {
            return Err(ApiError::storage_limit());
        }
        hasher.update(&chunk);
        w.write_all(&chunk)
            .await
            .map_err(io_err("writing temporary file"))?;
    }
    w.flush().await.map_err(io_err("writing temporary file"))?;
    Ok(Received {
        tmp,
        sha1: util::sha1_finish(hasher),
        size,
    })
}
