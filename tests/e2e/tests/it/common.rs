//! Helpers shared by the end-to-end tests: the generated client and the upload engine pointed
//! at an in-process `box-emulator` on 127.0.0.1, the operations done the way a caller of the
//! generated client does them, raw requests for the few cases the typed client cannot express,
//! and assertions on Box error answers.
//!
//! What concerns the emulator alone (starting one, test data, digests, reading back what was
//! stored, Box's error body) is `box_emulator::testing`, re-exported here.

use bytes::Bytes;
use futures_util::StreamExt as _;
use std::time::Duration;

pub use box_emulator::testing::*;
pub use box_emulator::{Config, Emulator, FaultConfig, Operation, RateLimit};
pub use box_uploads::errors::*;
pub use box_uploads::models::*;
pub use box_uploads::operations::*;
pub use box_uploads::runtime::support::{raw_response, RawResponse};
pub use box_uploads::upload::{RetryPolicy, UploadConfig, Uploader};
pub use box_uploads::{ApiError, Body, Client, ClientBuilder, Error, FilePart, OperationError};

// ---------------------------------------------------------------------------------------
// Emulator and client

/// An emulator for tests: small parts (64 KiB) and no chunked minimum, so sessions stay tiny.
pub fn small_config() -> Config {
    config(64 * KIB)
}

/// The generated client pointed at the emulator (the README's ClientBuilder lines).
pub fn client(emu: &Emulator) -> Client {
    client_with_token(emu, emu.token())
}

pub fn client_with_token(emu: &Emulator, token: &str) -> Client {
    ClientBuilder::new()
        .token(token)
        .api_url(emu.api_url())
        .upload_url(emu.upload_url())
        .build()
        .expect("build client")
}

/// Retries quick enough for tests (the emulator's retry-after still applies).
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 12,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(200),
        deadline: Duration::from_secs(120),
    }
}

/// An uploader that chunks files above `cutoff` bytes, with fast retries.
pub fn uploader(emu: &Emulator, cutoff: u64) -> Uploader {
    let mut config = UploadConfig::default();
    config.chunked_cutoff = cutoff;
    config.min_chunked_size = 1;
    config.retry = fast_retries();
    config.commit_deadline = Duration::from_secs(120);
    Uploader::with_config(client(emu), config)
}

/// A plain reqwest client, for what is read over HTTP rather than through the client.
pub fn http() -> reqwest::Client {
    reqwest::ClientBuilder::new()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// The range `[offset, offset + len)` of `data` as a stream of at most 64 KiB chunks, made as
/// they are polled (a body that is never held whole).
pub fn stream(
    data: TestData,
    offset: u64,
    len: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    const CHUNK: u64 = 64 * KIB;
    let end = offset + len;
    let starts = (offset..end).step_by(CHUNK as usize);
    futures_util::stream::iter(starts)
        .map(move |pos| Ok(Bytes::from(data.bytes(pos, CHUNK.min(end - pos)))))
}

// ---------------------------------------------------------------------------------------
// Operations, done the way a caller of the generated client does them

/// Direct upload of a new file into `folder`; returns the file.
pub async fn upload_file(client: &Client, folder: &str, name: &str, content: &[u8]) -> FileFull {
    let attrs = UploadFileAttributes {
        name: name.to_string(),
        parent: UploadFileAttributesParent {
            id: folder.to_string(),
        },
        content_created_at: None,
        content_modified_at: None,
    };
    let files = client
        .upload_file(UploadFileRequest::new(
            attrs,
            Body::from_bytes(content.to_vec()),
        ))
        .await
        .expect("upload_file");
    only_entry(files)
}

/// The single entry of an upload's or commit's `Files`.
pub fn only_entry(files: Files) -> FileFull {
    assert_eq!(files.total_count, Some(1), "{files:?}");
    let mut entries = files.entries.expect("entries");
    assert_eq!(entries.len(), 1);
    entries.remove(0)
}

/// The request for a session for a new file `name` of `size` bytes in `folder`.
pub fn new_file_session(folder: &str, name: &str, size: i64) -> CreateUploadSessionRequest {
    CreateUploadSessionRequest::new(CreateUploadSessionBody {
        folder_id: folder.into(),
        file_size: size,
        file_name: name.into(),
    })
}

/// The request for a session for a new version of `file_id` of `size` bytes (renamed to
/// `name` if given).
pub fn new_version_session(
    file_id: &str,
    size: i64,
    name: Option<&str>,
) -> CreateUploadSessionForFileRequest {
    CreateUploadSessionForFileRequest::new(
        file_id,
        CreateUploadSessionForFileBody {
            file_size: size,
            file_name: name.map(str::to_string),
        },
    )
}

pub async fn create_session(client: &Client, folder: &str, name: &str, size: u64) -> UploadSession {
    client
        .create_upload_session(new_file_session(folder, name, size as i64))
        .await
        .expect("create_upload_session")
}

/// The absolute URLs of a session, as the emulator returned them.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub id: String,
    pub upload_part: String,
    pub commit: String,
    pub abort: String,
    pub list_parts: String,
    pub status: String,
    pub part_size: u64,
    pub total_parts: u64,
}

impl Endpoints {
    pub fn of(s: &UploadSession) -> Self {
        let e = s.session_endpoints.clone().expect("session_endpoints");
        Endpoints {
            id: s.id.clone().expect("session id"),
            upload_part: e.upload_part.expect("upload_part url"),
            commit: e.commit.expect("commit url"),
            abort: e.abort.expect("abort url"),
            list_parts: e.list_parts.expect("list_parts url"),
            status: e.status.expect("status url"),
            part_size: s.part_size.expect("part_size") as u64,
            total_parts: s.total_parts.expect("total_parts") as u64,
        }
    }

    /// `(offset, len)` of part `index` of a `total`-byte file.
    pub fn part_range(&self, index: u64, total: u64) -> (u64, u64) {
        let first = index * self.part_size;
        (first, self.part_size.min(total - first))
    }
}

/// Uploads part `index` of `content` (the whole file, in memory) at the session's URL.
pub async fn put_part(client: &Client, ep: &Endpoints, content: &[u8], index: u64) -> UploadPart {
    let total = content.len() as u64;
    let (first, len) = ep.part_range(index, total);
    let bytes = &content[first as usize..(first + len) as usize];
    let uploaded = client
        .upload_part(
            UploadPartRequest::new(
                &ep.id,
                digest(bytes),
                content_range(first, len, total),
                Body::from_bytes(bytes.to_vec()),
            )
            .with_endpoint(&ep.upload_part),
        )
        .await
        .unwrap_or_else(|e| panic!("upload_part {index}: {e:?}"));
    let part = uploaded.part.expect("the {\"part\": ...} wrapper");
    assert_eq!(part.offset, Some(first as i64));
    assert_eq!(part.size, Some(len as i64));
    assert_eq!(part.sha1.as_deref(), Some(sha1_hex(bytes).as_str()));
    part
}

/// Uploads every part of `content`, in offset order.
pub async fn put_all_parts(client: &Client, ep: &Endpoints, content: &[u8]) -> Vec<UploadPart> {
    let mut parts = Vec::new();
    for i in 0..ep.total_parts {
        parts.push(put_part(client, ep, content, i).await);
    }
    parts
}

pub fn commit_request(
    ep: &Endpoints,
    whole: &[u8; 20],
    parts: Vec<UploadPart>,
) -> CommitUploadSessionRequest {
    CommitUploadSessionRequest::new(
        &ep.id,
        digest_of(whole),
        CommitUploadSessionBody {
            parts,
            attributes: None,
        },
    )
    .with_endpoint(&ep.commit)
}

/// Commits and expects 201.
pub async fn commit(
    client: &Client,
    ep: &Endpoints,
    whole: &[u8; 20],
    parts: Vec<UploadPart>,
) -> FileFull {
    match client
        .commit_upload_session(commit_request(ep, whole, parts))
        .await
        .expect("commit_upload_session")
    {
        CommitUploadSessionResponse::Committed(files) => only_entry(files),
        other => panic!("expected 201 Committed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Raw requests, for what the typed client cannot send (a missing required field, parts in
// the wrong order); the answers are still sorted by the generated error enums' `from_raw`.

pub async fn raw_json(
    emu: &Emulator,
    method: reqwest::Method,
    url: &str,
    body: serde_json::Value,
) -> RawResponse {
    let resp = http()
        .request(method, url)
        .bearer_auth(emu.token())
        .json(&body)
        .send()
        .await
        .expect("raw request");
    raw_response(resp).await.expect("raw response")
}

/// A multipart POST whose parts are sent in exactly the given order.
pub async fn raw_multipart(emu: &Emulator, url: &str, parts: &[(&str, Vec<u8>)]) -> RawResponse {
    let mut form = reqwest::multipart::Form::new();
    for (name, content) in parts {
        let part = if *name == "file" {
            reqwest::multipart::Part::bytes(content.clone()).file_name("file")
        } else {
            reqwest::multipart::Part::bytes(content.clone())
        };
        form = form.part(name.to_string(), part);
    }
    let resp = http()
        .post(url)
        .bearer_auth(emu.token())
        .multipart(form)
        .send()
        .await
        .expect("raw multipart");
    raw_response(resp).await.expect("raw response")
}

// ---------------------------------------------------------------------------------------
// Error assertions

/// Asserts Box's error shape on a typed API error: status, code, a message, a request id equal
/// to the body's, `type: error`, the help URL, and a body that decoded as the documented schema.
pub fn check_api<T: std::fmt::Debug>(e: &ApiError<T>, status: u16, code: &str) {
    assert_eq!(e.status, status, "status; raw body {}", e.raw);
    assert_eq!(e.code.as_deref(), Some(code), "code; raw body {}", e.raw);
    assert!(
        e.message.as_deref().is_some_and(|m| !m.is_empty()),
        "message; raw body {}",
        e.raw
    );
    assert!(
        e.body.is_some(),
        "the body did not decode as the documented schema: {}",
        e.raw
    );
    let v: serde_json::Value = serde_json::from_str(&e.raw).expect("error body is JSON");
    assert_eq!(v["message"].as_str(), e.message.as_deref(), "{v}");
    assert!(e.request_id.is_some(), "box-request-id header");
    assert_error_body(&v, status, code, e.request_id.as_deref());
}

/// Unwraps `Err(Error::Api(Enum::Variant(api)))`, checks status and code with [`check_api`],
/// and evaluates to the `ApiError`; anything else fails the test with what came instead.
macro_rules! expect_api {
    ($result:expr, $enum:ident :: $variant:ident, $status:expr, $code:expr) => {{
        match $result {
            Err(::box_uploads::Error::Api($enum::$variant(api))) => {
                $crate::common::check_api(&api, $status, $code);
                api
            }
            other => panic!(
                "expected {}::{} ({} {}), got {:?}",
                stringify!($enum),
                stringify!($variant),
                $status,
                $code,
                other
            ),
        }
    }};
}

/// Like [`expect_api!`] for an error enum built by hand from a raw answer with `from_raw`.
macro_rules! expect_raw {
    ($raw:expr, $enum:ident :: $variant:ident, $status:expr, $code:expr) => {
        expect_api!(
            Err::<(), _>(::box_uploads::Error::Api($enum::from_raw($raw))),
            $enum::$variant,
            $status,
            $code
        )
    };
}

/// The `context_info.conflicts` of a 409 as the single object file uploads send.
pub fn single_conflict(api: &ApiError<ConflictError>) -> FileConflict {
    let ctx = api
        .body
        .as_ref()
        .and_then(|b| b.context_info.clone())
        .expect("context_info");
    match ctx.conflicts.expect("context_info.conflicts") {
        ConflictErrorContextInfoConflicts::FileConflict(f) => f,
        other => panic!("expected conflicts as one object, got {other:?}"),
    }
}

/// The `context_info.conflicting_part` of a part range error.
pub fn conflicting_part(api: &ApiError<PartConflictError>) -> UploadPart {
    api.body
        .as_ref()
        .and_then(|b| b.context_info.clone())
        .and_then(|c| c.conflicting_part)
        .expect("context_info.conflicting_part")
}
