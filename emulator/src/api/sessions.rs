//! Chunked uploads: sessions, parts, commit.
//! <https://developer.box.com/guides/uploads/chunked/>

use super::files::{check_if_match, check_name};
use super::{
    body_error, fields_param, header_str, json_response, page_response, query_pairs, query_u64,
    read_json_object, with_header, ApiResult, AppState, RequestFault, COMMIT_JSON_LIMIT,
    COMMIT_VALUES_PER_PART, JSON_LIMIT, JSON_MAX_VALUES,
};
use crate::body::BodyStream;
use crate::config::FaultConfig;
use crate::counters::Operation;
use crate::error::ApiError;
use crate::server::kill_connection;
use crate::state::{
    io_err, lock, session_not_found, write_json_atomic, Catalog, CommittedInfo, NewContent,
    PartRecord, Region, Session, SessionInner, SessionMeta, SessionTarget, Shared,
};
use crate::util::{self, DigestError};
use axum::extract::Path;
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Map, Value};
use sha1::{Digest as _, Sha1};
use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt as _;

// ---------------------------------------------------------------------------------------
// Shared checks

/// 404 if the session was aborted or committed, 410 session_expired if it expired.
fn check_live(inner: &SessionInner) -> Result<(), ApiError> {
    if inner.gone || inner.meta.committed.is_some() {
        return Err(session_not_found());
    }
    if Utc::now() >= inner.meta.expires_at {
        return Err(ApiError::new(
            StatusCode::GONE,
            "session_expired",
            "The upload session has expired",
        ));
    }
    Ok(())
}

/// A 416 for a `content-range` that does not fit the session.
///
/// Box's reference for a part upload documents a 416 for a content range that does not match
/// a range the session expects, without naming an error code
/// (<https://developer.box.com/reference/put-files-upload-sessions-id/>);
/// `range_not_satisfiable` is the emulator's choice, used for syntax, alignment, size and
/// total errors alike.
fn range_error(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        message,
    )
}

fn size_mismatch(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "request_size_mismatch", message)
}

fn parts_mismatch(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "parts_mismatch", message)
}

/// Parses a required `digest: sha=<base64>` header.
fn required_digest(parts: &Parts, what: &str) -> Result<[u8; 20], ApiError> {
    digest_header(header_str(&parts.headers, "digest"), what)
}

/// Parses the value of a required `digest` header (`sha=<base64 SHA-1 of the {what}>`):
/// `400 bad_request` if it is missing, carries no SHA-1 or is not the base64 of 20 bytes.
pub(crate) fn digest_header(value: Option<&str>, what: &str) -> Result<[u8; 20], ApiError> {
    let v = value.ok_or_else(|| {
        ApiError::bad_request(format!(
            "Missing required header 'digest' (sha=<base64 SHA-1 of the {what}>)"
        ))
    })?;
    util::parse_digest_header(v).map_err(|e| {
        ApiError::bad_request(match e {
            DigestError::NoSha => {
                format!("The digest header must carry a SHA-1: sha=<base64 SHA-1 of the {what}>")
            }
            DigestError::BadBase64 => {
                "The digest header's sha value is not the base64 of a 20-byte SHA-1".to_string()
            }
        })
    })
}

/// Parses `file_size` of a create-session body.
pub(crate) fn file_size_field(
    min_chunked_size: u64,
    m: &Map<String, Value>,
) -> Result<u64, ApiError> {
    let size = match m.get("file_size") {
        None | Some(Value::Null) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_file_size",
                "The file_size field is required",
            ))
        }
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_file_size",
                    "The file_size field must be a non-negative integer",
                )
            })?,
    };
    if size < min_chunked_size {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "file_size_too_small",
            format!(
                "File size {size} is less than the minimum of {min_chunked_size} bytes for a chunked upload"
            ),
        ));
    }
    Ok(size)
}

pub(crate) fn file_name_field(
    m: &Map<String, Value>,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match m.get("file_name") {
        None | Some(Value::Null) if required => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_file_name",
            "The file_name field is required",
        )),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            check_name(s)?;
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "item_name_invalid",
            "The file_name field must be a string",
        )),
    }
}

/// Where a part goes in its session, from its `content-range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartSlot {
    /// Offset of the first byte.
    pub first: u64,
    /// Length in bytes (the last part of a file may be short).
    pub size: u64,
    /// Part index (`first / part_size`).
    pub index: u64,
}

/// Checks a part's `content-range` (and `content-length`, when sent) against its session:
/// `400 bad_request` if the range is missing; `416 range_not_satisfiable` if it is not
/// `bytes <first>-<last>/<total>`, its total is not the file size, it does not start at a
/// multiple of the part size or is not exactly one part long; `400 request_size_mismatch`
/// if the `content-length` differs from the range's length.
pub(crate) fn part_slot(
    content_range: Option<&str>,
    content_length: Option<&str>,
    file_size: u64,
    part_size: u64,
) -> Result<PartSlot, ApiError> {
    let range_h = content_range.ok_or_else(|| {
        ApiError::bad_request(
            "Missing required header 'content-range' (bytes <first>-<last>/<total>)",
        )
    })?;
    let range = util::parse_content_range(range_h).ok_or_else(|| {
        range_error(format!(
            "Invalid content-range {range_h:?}: expected bytes <first>-<last>/<total> with first <= last < total"
        ))
    })?;
    if range.total != file_size {
        return Err(range_error(format!(
            "The content-range total {} does not match the session's file size {file_size}",
            range.total
        )));
    }
    let part_size = part_size.max(1);
    if range.first % part_size != 0 {
        return Err(range_error(format!(
            "The range must start at a multiple of the part size {part_size}"
        )));
    }
    let size = range.last - range.first + 1;
    let expected_size = part_size.min(file_size - range.first);
    if size != expected_size {
        return Err(range_error(format!(
            "Every part must be exactly {part_size} bytes except the last; this part must be {expected_size} bytes"
        )));
    }
    if let Some(cl) = content_length {
        if cl.trim().parse::<u64>().ok() != Some(size) {
            return Err(size_mismatch(format!(
                "The content-length {cl} does not match the content-range size {size}"
            )));
        }
    }
    Ok(PartSlot {
        first: range.first,
        size,
        index: range.first / part_size,
    })
}

impl Shared {
    /// A session that `caller` may use: looked up as [`Shared::session`] does, then
    /// `403 forbidden` if another user created it. Box: "Only the user who initiated the upload
    /// session may upload to it" (common errors, `forbidden`, which has no documented message).
    /// Box documents this for part uploads; the emulator applies it to every operation on the
    /// session (status, parts, list, commit, abort, log), the stricter reading. It is checked
    /// before whether the session is still open, so another user learns nothing of its state.
    pub(crate) fn owned_session(
        &self,
        id: &str,
        caller: &crate::auth::Caller,
    ) -> Result<std::sync::Arc<Session>, ApiError> {
        let session = self.session(id)?;
        if lock(&session.inner).meta.owner != caller.user {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only the user who created the upload session may use it",
            ));
        }
        Ok(session)
    }
}

// ---------------------------------------------------------------------------------------
// Create

/// `POST /files/upload_sessions` (a session for a new file) and
/// `POST /files/{id}/upload_sessions` (for a new version of file `id`), answered 201 with the
/// session. <https://developer.box.com/reference/post-files-upload-sessions/> and
/// <https://developer.box.com/reference/post-files-id-upload-sessions/>
pub(crate) async fn create_session(
    axum::extract::State(st): AppState,
    file_id: Option<Path<String>>,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let file_id = file_id.as_ref().map(|Path(id)| id.as_str());
    let op = if file_id.is_some() {
        Operation::CreateUploadSessionForFile
    } else {
        Operation::CreateUploadSession
    };
    let (faults, caller) = st.begin_as(op, &parts.headers, false).await?;
    st.check_upload_rate(&faults)?;
    st.check_folder_faults(&faults, true)?;
    let m = read_json_object(&mut body, JSON_LIMIT, JSON_MAX_VALUES).await?;
    let session = match file_id {
        None => {
            let folder_id = match m.get("folder_id") {
                None | Some(Value::Null) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "missing_destination",
                        "The folder_id field is required",
                    ))
                }
                Some(Value::String(s)) if util::is_numeric_id(s) => s.clone(),
                Some(Value::Number(n)) if n.as_u64().is_some() => n.to_string(),
                Some(_) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_folder_id",
                        "The folder_id field is not a valid folder id",
                    ))
                }
            };
            let name = file_name_field(&m, true)?.unwrap_or_default();
            let size = file_size_field(st.config.min_chunked_size, &m)?;
            if st.folder_name(&folder_id).is_none() {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "invalid_parameter",
                    "The folder_id refers to a folder that does not exist or cannot be accessed",
                ));
            }
            let mut catalog = st.catalog.lock().await;
            st.check_size_limits(&catalog, size)?;
            st.check_name_free(&catalog, &folder_id, &name, None)?;
            st.create_session(
                &mut catalog,
                SessionTarget::NewFile { folder_id, name },
                size,
                &caller.user,
            )
            .await?
        }
        Some(id) => {
            if !util::is_numeric_id(id) {
                return Err(ApiError::not_found("Could not find the specified resource"));
            }
            let size = file_size_field(st.config.min_chunked_size, &m)?;
            let name = file_name_field(&m, false)?;
            let mut catalog = st.catalog.lock().await;
            let folder = catalog
                .files
                .get(id)
                .map(|f| f.folder_id.clone())
                .ok_or_else(|| ApiError::not_found("Could not find the specified resource"))?;
            st.check_size_limits(&catalog, size)?;
            if let Some(n) = &name {
                st.check_name_free(&catalog, &folder, n, Some(id))?;
            }
            st.create_session(
                &mut catalog,
                SessionTarget::NewVersion {
                    file_id: id.to_string(),
                    name,
                },
                size,
                &caller.user,
            )
            .await?
        }
    };
    let meta = lock(&session.inner).meta.clone();
    Ok(json_response(
        StatusCode::CREATED,
        st.session_json(&meta, 0),
    ))
}

// ---------------------------------------------------------------------------------------
// Status, abort, list parts, log

pub(crate) async fn get_session(
    axum::extract::State(st): AppState,
    Path(sid): Path<String>,
    parts: Parts,
) -> ApiResult {
    let (_, caller) = st
        .begin_as(Operation::GetUploadSession, &parts.headers, false)
        .await?;
    let session = st.owned_session(&sid, &caller)?;
    let (meta, processed) = {
        let inner = lock(&session.inner);
        check_live(&inner)?;
        (inner.meta.clone(), inner.parts.len() as u64)
    };
    Ok(json_response(
        StatusCode::OK,
        st.session_json(&meta, processed),
    ))
}

/// `DELETE`: discards the session and its parts. Works on an expired session too (there is
/// nothing else a client can do with it); a later use answers 404.
///
/// On a committed session it answers 204 and changes nothing (the file stays; the session
/// stays committed, so other calls still answer 404): Box's own SDK integration tests
/// (box-node-sdk `testChunkedManualProcessById` and its siblings in the other generated SDKs,
/// run against Box) delete the session right after committing it and expect success. An
/// aborted session stays 404 (what Box answers a second abort is not documented).
pub(crate) async fn abort_session(
    axum::extract::State(st): AppState,
    Path(sid): Path<String>,
    parts: Parts,
) -> ApiResult {
    let (_, caller) = st
        .begin_as(Operation::AbortUploadSession, &parts.headers, false)
        .await?;
    let session = st.owned_session(&sid, &caller)?;
    {
        let mut inner = lock(&session.inner);
        if inner.gone {
            return Err(session_not_found());
        }
        if inner.meta.committed.is_some() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        inner.gone = true;
    }
    st.remove_session(&sid);
    if let Err(e) = tokio::fs::remove_dir_all(&session.dir).await {
        tracing::warn!("removing aborted session {}: {e}", session.dir.display());
    }
    st.counters().sessions_aborted += 1;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list_parts(
    axum::extract::State(st): AppState,
    Path(sid): Path<String>,
    parts: Parts,
) -> ApiResult {
    let (_, caller) = st
        .begin_as(Operation::ListParts, &parts.headers, false)
        .await?;
    let session = st.owned_session(&sid, &caller)?;
    let q = query_pairs(&parts.uri);
    let offset = query_u64(&q, "offset", 0)?;
    if offset > 10_000 {
        return Err(ApiError::bad_request(
            "The offset must not be greater than 10000",
        ));
    }
    // The spec caps limit at 1000; larger values are clamped.
    let limit = query_u64(&q, "limit", 1000)?.min(1000);
    let (entries, total) = {
        let inner = lock(&session.inner);
        check_live(&inner)?;
        let entries: Vec<Value> = inner
            .parts
            .values()
            .skip(offset as usize)
            .take(limit as usize)
            .map(PartRecord::json)
            .collect();
        (entries, inner.parts.len())
    };
    Ok(page_response(entries, total, offset, limit, Some("offset")))
}

/// `session_endpoints.log_event` has no operation in Box's spec; it is accepted and ignored.
pub(crate) async fn log_event(
    axum::extract::State(st): AppState,
    Path(sid): Path<String>,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let (_, caller) = st
        .begin_as(Operation::LogEvent, &parts.headers, false)
        .await?;
    let session = st.owned_session(&sid, &caller)?;
    check_live(&lock(&session.inner))?;
    body.drain(JSON_LIMIT).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------
// Upload part

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PartFault {
    None,
    ResetMidBody,
    Fail500Before,
    Fail500After,
    DropAfter,
}

/// Draws the fault for one attempt at one part. Keyed by (seed, session sequence number,
/// part index, attempt number), so the outcome does not depend on arrival order.
fn part_fault(seed: u64, f: &FaultConfig, seq: u64, index: u64, attempt: u32) -> PartFault {
    let draw =
        |kind: u64| util::unit_float(util::mix(&[seed, kind, seq, index, u64::from(attempt)]));
    if f.part_reset_mid_body > 0.0 && draw(1) < f.part_reset_mid_body {
        PartFault::ResetMidBody
    } else if f.part_500_before_store > 0.0 && draw(2) < f.part_500_before_store {
        PartFault::Fail500Before
    } else if f.part_500_after_store > 0.0 && draw(3) < f.part_500_after_store {
        PartFault::Fail500After
    } else if f.part_drop_after_store > 0.0 && draw(4) < f.part_drop_after_store {
        PartFault::DropAfter
    } else {
        PartFault::None
    }
}

fn overlap_error(existing: &PartRecord) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_overlaps_existing_part",
        "Part range overlaps with a previously uploaded part",
    )
    .with_context(json!({"conflicting_part": existing.json()}))
}

/// Removes a reservation if the request ends before the part is recorded.
struct Reservation<'a> {
    session: &'a Session,
    index: u64,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.session.inner).reserved.remove(&self.index);
        }
    }
}

/// Where a part's body goes while it is received.
enum Sink {
    /// Into its region of the session's data file (this request owns the region).
    Direct(RegionWriter),
    /// Into a temporary file (another request owns the region).
    Temp(
        crate::state::TempPath,
        tokio::io::BufWriter<tokio::fs::File>,
    ),
    /// Nowhere (a 500-before fault: the part is never stored).
    Discard,
}

/// A received part that passed its checks: already in its region (still owned), or still in
/// a temporary file.
enum Placement {
    Written(RegionOwner),
    Pending(crate::state::TempPath),
}

/// Ownership of a part's region (see [`Region`]), given up when dropped.
struct RegionOwner {
    region: Arc<Region>,
    token: u64,
}

static REGION_TOKENS: AtomicU64 = AtomicU64::new(1);

impl RegionOwner {
    /// The region, if nobody owns it. Called under the session lock.
    fn try_take(region: &Arc<Region>) -> Option<RegionOwner> {
        let mut owner = lock(&region.owner);
        if owner.is_some() {
            return None;
        }
        let token = REGION_TOKENS.fetch_add(1, Ordering::Relaxed);
        *owner = Some(token);
        Some(RegionOwner {
            region: region.clone(),
            token,
        })
    }

    /// The region, whoever owned it: only for a part that holds its reservation. A write of
    /// the former owner in progress ends first (writes are made under the same lock).
    fn take_over(region: &Arc<Region>) -> RegionOwner {
        let token = REGION_TOKENS.fetch_add(1, Ordering::Relaxed);
        *lock(&region.owner) = Some(token);
        RegionOwner {
            region: region.clone(),
            token,
        }
    }

    /// Writes `data` at `at` if the region is still this owner's; false if it was taken over.
    fn write_at(&self, file: &std::fs::File, data: &[u8], at: u64) -> std::io::Result<bool> {
        use std::os::unix::fs::FileExt as _;
        let owner = lock(&self.region.owner);
        if *owner != Some(self.token) {
            return Ok(false);
        }
        file.write_all_at(data, at)?;
        Ok(true)
    }
}

impl Drop for RegionOwner {
    fn drop(&mut self) {
        let mut owner = lock(&self.region.owner);
        if *owner == Some(self.token) {
            *owner = None;
        }
    }
}

/// The answer to a part whose region was taken over by a good copy of the same part, reserved
/// or stored meanwhile.
fn taken_over(session: &Session, index: u64) -> ApiError {
    let inner = lock(&session.inner);
    match inner.parts.get(&index).or(inner.reserved.get(&index)) {
        Some(existing) => overlap_error(existing),
        None => {
            ApiError::internal("Internal Server Error (another upload of this part took its place)")
        }
    }
}

/// How a [`RegionWriter`] ended.
type WriterEnd = (std::io::Result<()>, Option<RegionOwner>);

/// Writes a part's chunks into its region of the data file with positioned writes, on a
/// blocking thread fed by a small channel (so hashing and writing overlap). The thread owns
/// the region: if the request is dropped mid-body, the region is given up only after the last
/// write queued has landed. If the region is taken over, the thread stops writing and hands
/// back no owner.
struct RegionWriter {
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    task: tokio::task::JoinHandle<WriterEnd>,
}

impl RegionWriter {
    fn start(path: PathBuf, offset: u64, owner: RegionOwner) -> RegionWriter {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let task = tokio::task::spawn_blocking(move || {
            let f = match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(f) => f,
                Err(e) => return (Err(e), Some(owner)),
            };
            let mut at = offset;
            while let Some(chunk) = rx.blocking_recv() {
                match owner.write_at(&f, &chunk, at) {
                    Ok(true) => at += chunk.len() as u64,
                    Ok(false) => return (Ok(()), None),
                    Err(e) => return (Err(e), Some(owner)),
                }
            }
            (Ok(()), Some(owner))
        });
        RegionWriter { tx, task }
    }

    /// Queues a chunk. If the writer stopped early (an I/O error, or the region was taken
    /// over), the chunk is dropped and [`RegionWriter::finish`] tells why.
    async fn send(&mut self, chunk: bytes::Bytes) {
        let _ = self.tx.send(chunk).await;
    }

    /// Waits for every queued write; hands the region back, or `None` if it was taken over.
    async fn finish(self) -> Result<Option<RegionOwner>, ApiError> {
        let RegionWriter { tx, task } = self;
        drop(tx);
        let (r, owner) = task
            .await
            .map_err(|e| ApiError::internal(format!("Internal Server Error ({e})")))?;
        r.map_err(io_err("writing part data"))?;
        Ok(owner)
    }
}

/// A part upload being handled, counted in `part_uploads_in_flight` (and its maximum) until
/// it is answered.
struct PartInFlight(Arc<Shared>);

impl PartInFlight {
    fn new(st: &Arc<Shared>) -> Self {
        let mut c = st.counters();
        c.part_uploads_in_flight += 1;
        c.part_uploads_max_in_flight = c.part_uploads_max_in_flight.max(c.part_uploads_in_flight);
        PartInFlight(st.clone())
    }
}

impl Drop for PartInFlight {
    fn drop(&mut self) {
        let mut c = self.0.counters();
        c.part_uploads_in_flight = c.part_uploads_in_flight.saturating_sub(1);
    }
}

/// `PUT /files/upload_sessions/{id}`: one part, streamed to disk and hashed as it arrives.
/// <https://developer.box.com/reference/put-files-upload-sessions-id/>
pub(crate) async fn upload_part(
    axum::extract::State(st): AppState,
    Path(sid): Path<String>,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let _in_flight = PartInFlight::new(&st);
    if parts.headers.get(header::CONTENT_LENGTH).is_none() {
        st.counters().part_uploads_without_length += 1;
    }
    let (faults, caller) = st
        .begin_as(Operation::UploadPart, &parts.headers, false)
        .await?;
    // Box's common errors: `411 length_required`, "content-length header was required, but
    // not provided." That is a part with no body framing at all: neither `content-length` nor
    // `transfer-encoding` (so, to HTTP/1.1, an empty body). A chunked part
    // (`transfer-encoding: chunked`, no content-length) is accepted, as Box accepts it: Box's
    // own Node SDK (box-node-sdk 10, `uploadFilePart` and `uploadBigFile`, run against Box in
    // its integration tests) sends every part as a Node stream, which fetch sends chunked.
    // Box documents no order between this and the session checks; it is checked first, as a
    // front end would.
    if parts.headers.get(header::CONTENT_LENGTH).is_none()
        && parts.headers.get(header::TRANSFER_ENCODING).is_none()
    {
        return Err(ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "content-length header was required, but not provided.",
        ));
    }
    let session = st.owned_session(&sid, &caller)?;
    let (file_size, part_size, seq) = {
        let inner = lock(&session.inner);
        check_live(&inner)?;
        (inner.meta.file_size, inner.meta.part_size, inner.meta.seq)
    };
    let expected_sha = required_digest(&parts, "part")?;
    let PartSlot { first, size, index } = part_slot(
        header_str(&parts.headers, "content-range"),
        header_str(&parts.headers, "content-length"),
        file_size,
        part_size,
    )?;
    // Parts are immutable: refuse a range that is already stored before reading the body.
    // The part's region is taken under the session lock, with that check: a request that gets
    // it knows the part was neither stored nor reserved then; only a request that reserves the
    // part can take the region from it (see `Region`).
    let (fault, region, direct) = {
        let mut inner = lock(&session.inner);
        check_live(&inner)?;
        if let Some(existing) = inner.parts.get(&index).or(inner.reserved.get(&index)) {
            return Err(overlap_error(existing));
        }
        let a = inner.attempts.entry(index).or_default();
        *a = a.saturating_add(1);
        let attempt = *a;
        let fault = part_fault(st.config.seed, &faults, seq, index, attempt);
        let region = inner.regions.entry(index).or_default().clone();
        let direct = match fault {
            PartFault::ResetMidBody | PartFault::Fail500Before => None,
            _ => RegionOwner::try_take(&region),
        };
        (fault, region, direct)
    };

    if fault == PartFault::ResetMidBody {
        st.counters().injected.part_reset_mid_body += 1;
        let half = size / 2;
        while body.bytes_read() < half {
            match body.next_chunk().await {
                Ok(Some(chunk)) => st.counters().file_bytes_received += chunk.len() as u64,
                _ => break,
            }
        }
        return Err(kill_connection(&parts.extensions).await);
    }

    // Where the body goes while it is hashed: straight into the part's region of the session's
    // data file when this request owns the region (the usual case), else (another request for
    // the same part is still streaming into it) a temporary file, copied into place once this
    // part is known good and reserved. Nothing is written for a 500-before fault.
    let mut sink = match direct {
        Some(owner) => Sink::Direct(RegionWriter::start(session.data_path(), first, owner)),
        None if fault == PartFault::Fail500Before => Sink::Discard,
        None => {
            let tmp = st.temp_path();
            let f = tokio::fs::File::create(tmp.path())
                .await
                .map_err(io_err("creating temporary file"))?;
            Sink::Temp(tmp, tokio::io::BufWriter::with_capacity(256 * 1024, f))
        }
    };
    let mut hasher = Sha1::new();
    let mut received = 0u64;
    while let Some(chunk) = body.next_chunk().await.map_err(body_error)? {
        received += chunk.len() as u64;
        st.counters().file_bytes_received += chunk.len() as u64;
        if received > size {
            // Cut off: the rest is neither read nor buffered; the connection is closed.
            return Err(size_mismatch(format!(
                "The body is longer than the {size} bytes given by content-range"
            ))
            .closing());
        }
        hasher.update(&chunk);
        match &mut sink {
            Sink::Direct(w) => w.send(chunk).await,
            Sink::Temp(_, w) => w
                .write_all(&chunk)
                .await
                .map_err(io_err("writing temporary file"))?,
            Sink::Discard => {}
        }
    }
    if received < size {
        return Err(size_mismatch(format!(
            "The body has {received} bytes but content-range says {size}"
        )));
    }
    if fault == PartFault::Fail500Before {
        st.counters().injected.part_500_before_store += 1;
        return Err(ApiError::internal("Internal Server Error"));
    }
    // Every byte written (or flushed) before the part is judged; the region stays owned.
    let held = match sink {
        Sink::Direct(w) => match w.finish().await? {
            Some(owner) => Placement::Written(owner),
            None => return Err(taken_over(&session, index)),
        },
        Sink::Temp(tmp, mut w) => {
            w.flush().await.map_err(io_err("writing temporary file"))?;
            Placement::Pending(tmp)
        }
        Sink::Discard => unreachable!("only a 500-before fault discards the body"),
    };
    let actual = util::sha1_finish(hasher);
    if actual != expected_sha {
        // Box documents a 412 for a part upload only as "a precondition was not met", and
        // names no status for a part whose bytes do not match its `digest` header; the
        // emulator answers such a part with 412 precondition_failed, the closest documented
        // status (https://developer.box.com/reference/put-files-upload-sessions-id/).
        return Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!(
                "The digest header (sha={}) does not match the part received (sha={})",
                util::b64(&expected_sha),
                util::b64(&actual)
            ),
        ));
    }

    let rec = PartRecord {
        part_id: st.part_id(seq, index),
        offset: first,
        size,
        sha1: util::hex(&actual),
    };
    {
        let mut inner = lock(&session.inner);
        if inner.gone || inner.meta.committed.is_some() {
            return Err(session_not_found());
        }
        if let Some(existing) = inner.parts.get(&index).or(inner.reserved.get(&index)) {
            return Err(overlap_error(existing));
        }
        inner.reserved.insert(index, rec.clone());
    }
    let mut reservation = Reservation {
        session: &session,
        index,
        armed: true,
    };
    // A part received in a temporary file is copied into place now: it is reserved, so it
    // takes the region over (a request still streaming into it, stalled or slow, is fenced out
    // and will not store its own).
    let _region_owner = match held {
        Placement::Written(owner) => owner,
        Placement::Pending(tmp) => {
            let data = session.data_path();
            let src = tmp.path().to_path_buf();
            // The copy owns the region, so a dropped request cannot free it while the copy
            // still writes to it.
            tokio::task::spawn_blocking(move || {
                let guard = RegionOwner::take_over(&region);
                let r = std::fs::File::open(&src).and_then(|s| {
                    let d = std::fs::OpenOptions::new().write(true).open(&data)?;
                    crate::state::copy_at(&s, &d, first, size)
                });
                drop(tmp);
                r.map(|()| guard)
            })
            .await
            .map_err(|e| ApiError::internal(format!("Internal Server Error ({e})")))?
            .map_err(|e| {
                if lock(&session.inner).gone {
                    session_not_found()
                } else {
                    ApiError::io("storing part", e)
                }
            })?
        }
    };
    if let Err(e) = write_json_atomic(&session.part_meta_path(index), &rec).await {
        if lock(&session.inner).gone {
            return Err(session_not_found());
        }
        return Err(ApiError::io("storing part", e));
    }
    {
        let mut inner = lock(&session.inner);
        inner.reserved.remove(&index);
        reservation.armed = false;
        if inner.gone {
            return Err(session_not_found());
        }
        inner.parts.insert(index, rec.clone());
    }
    {
        let mut c = st.counters();
        c.parts_stored += 1;
        c.part_bytes_stored += size;
        c.bytes_stored += size;
    }
    match fault {
        PartFault::Fail500After => {
            st.counters().injected.part_500_after_store += 1;
            Err(ApiError::internal("Internal Server Error"))
        }
        PartFault::DropAfter => {
            st.counters().injected.part_drop_after_store += 1;
            Err(kill_connection(&parts.extensions).await)
        }
        _ => Ok(json_response(StatusCode::OK, json!({"part": rec.json()}))),
    }
}

// ---------------------------------------------------------------------------------------
// Commit

/// What a commit will do once the content is assembled.
enum CommitAction {
    Create {
        folder_id: String,
        name: String,
    },
    Version {
        file_id: String,
        name: Option<String>,
    },
}

struct CommitRequest {
    parts: Vec<Value>,
    name: Option<String>,
    /// `attributes.parent.id`: the folder a new file goes into instead of the session's.
    parent_id: Option<String>,
    content_created_at: Option<chrono::DateTime<Utc>>,
    content_modified_at: Option<chrono::DateTime<Utc>>,
    if_match: Option<String>,
    if_none_match: Option<String>,
}

fn parse_commit_body(mut m: Map<String, Value>, parts: &Parts) -> Result<CommitRequest, ApiError> {
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
        if_match: header_str(&parts.headers, "if-match").map(str::to_string),
        if_none_match: header_str(&parts.headers, "if-none-match").map(str::to_string),
    })
}

/// Checks the client's parts list against the parts received: same parts (by `part_id`,
/// with matching `offset`, `size` and `sha1` when given), each once, in offset order, and
/// all of the file's parts present.
fn check_parts_list(inner: &SessionInner, list: &[Value]) -> Result<(), ApiError> {
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
fn check_commit_target(
    st: &Shared,
    catalog: &Catalog,
    meta: &SessionMeta,
    req: &CommitRequest,
) -> Result<CommitAction, ApiError> {
    let action = match &meta.target {
        SessionTarget::NewFile { folder_id, name } => {
            // No file exists yet: an if-match cannot match (ensure-consistency guide).
            if req.if_match.is_some() {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                    "The resource has been modified. Please retrieve the resource again and retry",
                ));
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

/// Clears the session's `committing` flag when the commit ends, however it ends.
struct CommittingGuard<'a>(&'a Session);

impl Drop for CommittingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.0.inner).committing = false;
    }
}

fn accepted(retry_after: u64) -> Response {
    with_header(
        StatusCode::ACCEPTED.into_response(),
        header::RETRY_AFTER,
        &retry_after.to_string(),
    )
}

/// `POST /files/upload_sessions/{id}/commit`: checks the parts list, then the whole-file digest
/// over the file the parts were written into, links that file into the store and answers 201
/// with it (or 202 with `retry-after` while another commit of the session is still checking it).
/// <https://developer.box.com/reference/post-files-upload-sessions-id-commit/>
pub(crate) async fn commit(
    axum::extract::State(st): AppState,
    Path(sid): Path<String>,
    parts: Parts,
    mut body: BodyStream,
) -> ApiResult {
    let (faults, caller) = st
        .begin_as(Operation::CommitUploadSession, &parts.headers, false)
        .await?;
    let session = st.owned_session(&sid, &caller)?;
    // A committed session is closed (Box: commit "closes the session"): a repeated commit (say,
    // after the answer to the first was lost) is `404 not_found`, as status, parts and list
    // calls on it are, not the file again. What Box answers a second commit is not
    // documented; 404 is the stricter answer: a client that lost the answer must look for the
    // file (the folder, or the file's versions), as it must after a 5xx on commit. (An abort
    // of a committed session answers 204: see `abort_session`.)
    check_live(&lock(&session.inner))?;
    st.check_folder_faults(&faults, false)?;
    let digest = required_digest(&parts, "whole file")?;
    // Room for the session's parts list (about 100 bytes a part) and attributes, no more.
    let (limit, max_values) = {
        let inner = lock(&session.inner);
        let total_parts = inner.meta.total_parts;
        let limit = total_parts
            .saturating_mul(512)
            .saturating_add(JSON_LIMIT)
            .min(COMMIT_JSON_LIMIT);
        let max_values = total_parts
            .saturating_mul(COMMIT_VALUES_PER_PART)
            .saturating_add(JSON_MAX_VALUES as u64);
        (limit, usize::try_from(max_values).unwrap_or(usize::MAX))
    };
    let req = parse_commit_body(
        read_json_object(&mut body, limit, max_values).await?,
        &parts,
    )?;
    let fields = fields_param(&query_pairs(&parts.uri));

    // Phase 1: checks, under the catalog lock and then the session lock (always that order).
    let catalog = st.catalog.lock().await;
    let (meta, plan) = {
        let mut inner = lock(&session.inner);
        check_live(&inner)?;
        if inner.committing {
            return Ok(accepted(faults.commit_retry_after_secs));
        }
        let complete = inner.parts.len() as u64 == inner.meta.total_parts;
        if faults.commit_parts_mismatch_once && complete && !inner.mismatch_fired {
            inner.mismatch_fired = true;
            st.counters().injected.commit_parts_mismatch += 1;
            return Err(parts_mismatch(
                "The parts list does not match the parts uploaded (injected fault)",
            ));
        }
        check_parts_list(&inner, &req.parts)?;
        if inner.commit_attempts < faults.commit_202 {
            inner.commit_attempts += 1;
            st.counters().injected.commit_202 += 1;
            return Ok(accepted(faults.commit_retry_after_secs));
        }
        check_commit_target(&st, &catalog, &inner.meta, &req)?;
        inner.committing = true;
        (inner.meta.clone(), session.data_path())
    };
    drop(catalog);
    let _guard = CommittingGuard(&session);

    // Phase 2: the parts are already in place in the data file (every one is stored, so no
    // request writes to it now): hash it, as Box checks the whole-file digest. Nothing is
    // copied (blocking reads on a blocking thread).
    let (actual, size) = tokio::task::spawn_blocking(move || hash_file(&plan))
        .await
        .map_err(|e| ApiError::internal(format!("Internal Server Error ({e})")))?
        .map_err(io_err("reading the assembled file"))?;
    if actual != digest || size != meta.file_size {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "digest_mismatch",
            format!(
                "File digest was incorrect. Actual: {} Expected: {}",
                util::b64(&actual),
                util::b64(&digest)
            ),
        ));
    }

    // Phase 3: store, re-checking what may have changed meanwhile.
    let mut catalog = st.catalog.lock().await;
    if lock(&session.inner).gone {
        return Err(session_not_found());
    }
    let action = check_commit_target(&st, &catalog, &meta, &req)?;
    // The data file becomes the version's blob: a hard link in tmp/ that the store renames
    // into blobs/ (if storing fails, the link goes and the session keeps its data).
    let tmp = st.temp_path();
    tokio::fs::hard_link(session.data_path(), tmp.path())
        .await
        .map_err(io_err("storing file content"))?;
    let sha1_hex = util::hex(&actual);
    let f = match action {
        CommitAction::Create { folder_id, name } => {
            st.create_file(
                &mut catalog,
                &folder_id,
                &name,
                NewContent {
                    tmp,
                    sha1: sha1_hex.clone(),
                    size,
                },
                req.content_created_at,
                req.content_modified_at,
            )
            .await?
        }
        CommitAction::Version { file_id, name } => {
            st.add_version(
                &mut catalog,
                &file_id,
                name.as_deref(),
                NewContent {
                    tmp,
                    sha1: sha1_hex.clone(),
                    size,
                },
                req.content_modified_at,
            )
            .await?
        }
    };
    let version_id = f.current().map(|v| v.id.clone()).unwrap_or_default();
    let mut done_meta = meta.clone();
    done_meta.committed = Some(CommittedInfo {
        file_id: f.id.clone(),
        version_id,
        sha1: sha1_hex,
    });
    if let Err(e) = write_json_atomic(&session.dir.join("session.json"), &done_meta).await {
        tracing::warn!("saving committed session {}: {e}", session.id);
    }
    {
        let mut inner = lock(&session.inner);
        inner.meta.committed = done_meta.committed.clone();
        inner.parts.clear();
    }
    drop(catalog);
    if let Err(e) = tokio::fs::remove_dir_all(session.parts_dir()).await {
        tracing::warn!("removing parts of committed session {}: {e}", session.id);
    }
    if let Err(e) = tokio::fs::remove_file(session.data_path()).await {
        tracing::warn!("removing data of committed session {}: {e}", session.id);
    }
    {
        let mut c = st.counters();
        c.sessions_committed += 1;
        c.committed_bytes += size;
    }
    if st.draw(
        RequestFault::CommitDropAfterStore,
        faults.commit_drop_after_store,
    ) {
        st.counters().injected.commit_drop_after_store += 1;
        return Err(kill_connection(&parts.extensions).await);
    }
    if st.draw(
        RequestFault::Write503AfterStore,
        faults.write_503_after_store,
    ) {
        st.counters().injected.write_503_after_store += 1;
        return Err(super::unavailable(faults.retry_after_503_secs));
    }
    Ok(json_response(
        StatusCode::CREATED,
        st.files_json(&f, fields.as_deref()),
    ))
}

/// The SHA-1 and size of the file at `path`, read once.
fn hash_file(path: &std::path::Path) -> std::io::Result<([u8; 20], u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((util::sha1_finish(hasher), total))
}
