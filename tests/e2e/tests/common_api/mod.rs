//! Helpers shared by the `api_*` tests: the generated client pointed at an in-process
//! `box-emulator` on 127.0.0.1, deterministic test data, digests, raw requests for the few
//! cases the typed client cannot express, and assertions on Box error answers.
//!
//! (tests/e2e/tests/common/ belongs to the upload-engine tests; this module is separate.)

#![allow(dead_code, unused_imports, unused_macros)]

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use sha1::{Digest as _, Sha1};

pub use box_emulator::{Config, Counters, Emulator, FaultConfig, Operation, RateLimit};
pub use box_uploads::errors::*;
pub use box_uploads::models::*;
pub use box_uploads::operations::*;
pub use box_uploads::runtime::support::{raw_response, RawResponse};
pub use box_uploads::{ApiError, Body, Client, ClientBuilder, Error, FilePart};

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Emulator and client

/// An emulator for tests: small parts (64 KiB) and no chunked minimum, so sessions stay tiny.
pub fn small_config() -> Config {
    Config {
        part_size: Some(64 * KIB),
        min_chunked_size: 1,
        ..Default::default()
    }
}

pub async fn start(config: Config) -> Emulator {
    Emulator::start(config).await.expect("start emulator")
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

/// A plain reqwest client for reading back what the emulator stored.
pub fn http() -> reqwest::Client {
    reqwest::ClientBuilder::new()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

// ---------------------------------------------------------------------------------------
// Test data

/// Deterministic pseudo-random bytes addressable by offset, so a test can produce any
/// range of a large file (and check any downloaded chunk) without holding the file.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    pub seed: u64,
}

/// Granularity of [`Pattern`]: every block is generated from (seed, block index).
pub const PATTERN_BLOCK: u64 = 64 * KIB;

impl Pattern {
    pub fn new(seed: u64) -> Self {
        Pattern { seed }
    }

    fn block(&self, index: u64) -> Vec<u8> {
        let mut b = vec![0u8; PATTERN_BLOCK as usize];
        let key = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        fastrand::Rng::with_seed(key).fill(&mut b);
        b
    }

    /// The bytes `[offset, offset + len)`.
    pub fn bytes(&self, offset: u64, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        let end = offset + len;
        let mut pos = offset;
        while pos < end {
            let index = pos / PATTERN_BLOCK;
            let start = (pos % PATTERN_BLOCK) as usize;
            let take = (PATTERN_BLOCK as usize - start).min((end - pos) as usize);
            out.extend_from_slice(&self.block(index)[start..start + take]);
            pos += take as u64;
        }
        out
    }

    /// The range `[offset, offset + len)` as a stream of at most 64 KiB chunks, generated as
    /// they are polled.
    pub fn stream(
        &self,
        offset: u64,
        len: u64,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let this = *self;
        let end = offset + len;
        let starts: Vec<u64> = {
            let mut v = Vec::new();
            let mut pos = offset;
            while pos < end {
                v.push(pos);
                pos = (pos / PATTERN_BLOCK + 1) * PATTERN_BLOCK;
            }
            v
        };
        futures_util::stream::iter(starts).map(move |pos| {
            let next = ((pos / PATTERN_BLOCK + 1) * PATTERN_BLOCK).min(end);
            Ok(Bytes::from(this.bytes(pos, next - pos)))
        })
    }

    /// SHA-1 of `[offset, offset + len)`, computed block by block.
    pub fn sha1(&self, offset: u64, len: u64) -> [u8; 20] {
        let mut h = Sha1::new();
        let end = offset + len;
        let mut pos = offset;
        while pos < end {
            let n = (MIB).min(end - pos);
            h.update(self.bytes(pos, n));
            pos += n;
        }
        h.finalize().into()
    }
}

/// Small deterministic data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    Pattern::new(seed).bytes(0, len as u64)
}

// ---------------------------------------------------------------------------------------
// Digests and ranges

pub fn sha1_raw(d: &[u8]) -> [u8; 20] {
    Sha1::digest(d).into()
}

pub fn hex(raw: &[u8]) -> String {
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha1_hex(d: &[u8]) -> String {
    hex(&sha1_raw(d))
}

pub fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// `digest` header value (`sha=<base64 SHA-1>`) of some bytes.
pub fn digest(d: &[u8]) -> String {
    digest_of(&sha1_raw(d))
}

pub fn digest_of(raw: &[u8; 20]) -> String {
    format!("sha={}", b64(raw))
}

/// `content-range` for `len` bytes at `first` of a `total`-byte file.
pub fn content_range(first: u64, len: u64, total: u64) -> String {
    format!("bytes {first}-{}/{total}", first + len - 1)
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

pub async fn create_session(client: &Client, folder: &str, name: &str, size: u64) -> UploadSession {
    client
        .create_upload_session(CreateUploadSessionRequest::new(CreateUploadSessionBody {
            folder_id: folder.to_string(),
            file_size: size as i64,
            file_name: name.to_string(),
        }))
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

/// Opens a session for `content`, uploads every part and commits; returns the file.
pub async fn chunked_upload(client: &Client, folder: &str, name: &str, content: &[u8]) -> FileFull {
    let s = create_session(client, folder, name, content.len() as u64).await;
    let ep = Endpoints::of(&s);
    let parts = put_all_parts(client, &ep, content).await;
    commit(client, &ep, &sha1_raw(content), parts).await
}

// ---------------------------------------------------------------------------------------
// Reading back (not part of the ten operations: plain reqwest)

/// `GET {api}/files/{id}/content[?version=V]`, whole body.
pub async fn download(emu: &Emulator, file_id: &str, version: Option<&str>) -> Vec<u8> {
    let mut url = format!("{}/files/{file_id}/content", emu.api_url());
    if let Some(v) = version {
        url.push_str(&format!("?version={v}"));
    }
    let resp = http()
        .get(url)
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), 200, "download {file_id}");
    resp.bytes().await.expect("download body").to_vec()
}

/// `GET {api}/files/{id}` as JSON.
pub async fn get_file_json(emu: &Emulator, file_id: &str) -> serde_json::Value {
    let resp = http()
        .get(format!("{}/files/{file_id}", emu.api_url()))
        .bearer_auth(emu.token())
        .send()
        .await
        .expect("get file");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("file json")
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
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["message"].as_str(), e.message.as_deref(), "{v}");
    assert_eq!(
        v["help_url"],
        "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"
    );
    let id = e.request_id.as_deref().expect("box-request-id header");
    assert_eq!(v["request_id"], id, "header and body request ids differ");
}

/// Unwraps `Err(Error::Api(Enum::Variant(api)))`, checks status and code with [`check_api`],
/// and evaluates to the `ApiError`; anything else fails the test with what came instead.
macro_rules! expect_api {
    ($result:expr, $enum:ident :: $variant:ident, $status:expr, $code:expr) => {{
        match $result {
            Err(::box_uploads::Error::Api($enum::$variant(api))) => {
                $crate::common_api::check_api(&api, $status, $code);
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
    ($raw:expr, $enum:ident :: $variant:ident, $status:expr, $code:expr) => {{
        match $enum::from_raw($raw) {
            $enum::$variant(api) => {
                $crate::common_api::check_api(&api, $status, $code);
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

/// A unique temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "box-uploads-e2e-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
