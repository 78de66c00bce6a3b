//! The calls the engine makes, behind a small crate-private trait. The generated `Client`
//! implements it (`client_impl.rs`); unit tests implement it with an in-memory fake. The engine's
//! logic (retries, verification, resume) is thereby independent of the generated types.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::digest::Sha1Digest;

/// What the upload creates: a new file in a folder, or a new version of a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Target {
    NewFile {
        folder_id: String,
        name: String,
    },
    NewVersion {
        file_id: String,
        name: Option<String>,
    },
}

/// The absolute URLs of a session's operations, as Box returned them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionEndpoints {
    pub upload_part: String,
    pub commit: String,
    pub abort: String,
    pub list_parts: String,
    pub status: String,
}

/// An upload session, reduced to what the engine needs.
#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    pub id: String,
    pub part_size: u64,
    pub total_parts: Option<u64>,
    pub expires_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub endpoints: SessionEndpoints,
}

/// A part the server holds (as returned by upload_part and list_parts, sent back on commit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartRecord {
    pub part_id: String,
    pub offset: u64,
    pub size: u64,
    /// Hex SHA-1, as the server returned it.
    pub sha1: String,
}

/// One page of list_parts.
#[derive(Debug, Clone)]
pub(crate) struct PartsPage {
    pub entries: Vec<PartRecord>,
    pub total_count: Option<u64>,
}

/// The answer to a commit.
#[derive(Debug)]
pub(crate) enum CommitOutcome<F> {
    Committed(F),
    Pending { retry_after: Option<Duration> },
}

/// What the engine checks on the file an upload produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileFacts {
    pub id: String,
    pub size: Option<u64>,
    pub sha1: Option<String>,
}

/// What kind of failure a call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallErrorKind {
    /// The API answered with an error status.
    Api,
    /// No answer in time.
    Timeout,
    /// Could not connect.
    Connect,
    /// The connection broke mid-way (reset, closed), or another transport failure.
    Connection,
    /// A success answer whose body did not match the documented schema.
    Decode,
    /// The request could not be built or was refused before sending.
    InvalidRequest,
}

/// A failed API call: the status and Box's code when the API answered, or the transport failure.
/// Carried by [`crate::upload::UploadError`] as its source.
pub struct CallError {
    inner: Box<Inner>,
}

struct Inner {
    kind: CallErrorKind,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    /// The item or part an error says it clashed with (`context_info.conflicts` or
    /// `context_info.conflicting_part`), as JSON.
    conflict: Option<serde_json::Value>,
    detail: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CallError {
    pub(crate) fn new(kind: CallErrorKind, detail: impl Into<String>) -> Self {
        CallError {
            inner: Box::new(Inner {
                kind,
                status: None,
                code: None,
                message: None,
                request_id: None,
                retry_after: None,
                conflict: None,
                detail: detail.into(),
                source: None,
            }),
        }
    }

    /// An API answer with `status` and optional `code`.
    pub(crate) fn api(status: u16, code: Option<&str>, detail: impl Into<String>) -> Self {
        let mut e = CallError::new(CallErrorKind::Api, detail);
        e.inner.status = Some(status);
        e.inner.code = code.map(str::to_owned);
        e
    }

    pub(crate) fn timeout(after: Duration) -> Self {
        CallError::new(
            CallErrorKind::Timeout,
            format!("no answer within {after:?}"),
        )
    }

    pub(crate) fn with_message(mut self, message: Option<&str>) -> Self {
        self.inner.message = message.map(str::to_owned);
        self
    }

    pub(crate) fn with_request_id(mut self, id: Option<&str>) -> Self {
        self.inner.request_id = id.map(str::to_owned);
        self
    }

    pub(crate) fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.inner.retry_after = wait;
        self
    }

    pub(crate) fn with_conflict(mut self, conflict: Option<serde_json::Value>) -> Self {
        self.inner.conflict = conflict;
        self
    }

    pub(crate) fn with_source(mut self, source: Box<dyn std::error::Error + Send + Sync>) -> Self {
        self.inner.source = Some(source);
        self
    }

    /// The item or part the error says it clashed with, as JSON.
    pub(crate) fn conflict(&self) -> Option<&serde_json::Value> {
        self.inner.conflict.as_ref()
    }

    pub fn kind(&self) -> CallErrorKind {
        self.inner.kind
    }

    /// The HTTP status, when the API answered.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// Box's error code (`item_name_in_use`), when the answer had one.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    pub fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }

    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// How long the server asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// 429, 5xx, timeouts and broken connections: the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self.inner.kind {
            CallErrorKind::Api => matches!(self.inner.status, Some(s) if s == 429 || s >= 500),
            CallErrorKind::Timeout | CallErrorKind::Connect | CallErrorKind::Connection => true,
            CallErrorKind::Decode | CallErrorKind::InvalidRequest => false,
        }
    }

    /// The request may have taken effect although no success answer arrived: a 5xx (Box's guide
    /// warns that even a 503 may have stored the write), a timeout or a broken connection. Never
    /// a 429 (refused before any work) or a connect failure (nothing was sent).
    pub fn may_have_taken_effect(&self) -> bool {
        match self.inner.kind {
            CallErrorKind::Api => matches!(self.inner.status, Some(s) if s >= 500),
            CallErrorKind::Timeout | CallErrorKind::Connection => true,
            _ => false,
        }
    }

    pub(crate) fn is_code(&self, code: &str) -> bool {
        self.inner.code.as_deref() == Some(code)
    }

    /// A short reason for progress events and logs.
    pub(crate) fn reason(&self) -> String {
        match (self.inner.status, &self.inner.code) {
            (Some(s), Some(c)) => format!("HTTP {s} {c}"),
            (Some(s), None) => format!("HTTP {s}"),
            _ => match self.inner.kind {
                CallErrorKind::Timeout => "timeout".to_string(),
                CallErrorKind::Connect => "connect failed".to_string(),
                CallErrorKind::Connection => "connection broken".to_string(),
                CallErrorKind::Decode => "undecodable answer".to_string(),
                CallErrorKind::InvalidRequest => "invalid request".to_string(),
                CallErrorKind::Api => "API error".to_string(),
            },
        }
    }
}

impl fmt::Debug for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("CallError")
            .field("kind", &i.kind)
            .field("status", &i.status)
            .field("code", &i.code)
            .field("message", &i.message)
            .field("request_id", &i.request_id)
            .field("detail", &i.detail)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.detail)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The calls of a chunked or direct upload.
pub(crate) trait UploadApi: Clone + Send + Sync + 'static {
    /// The file type the API returns for a committed upload.
    type File: Send + 'static;

    fn create_session(
        &self,
        target: &Target,
        file_size: u64,
    ) -> impl Future<Output = Result<SessionInfo, CallError>> + Send;

    fn get_session(
        &self,
        status_url: &str,
    ) -> impl Future<Output = Result<SessionInfo, CallError>> + Send;

    fn upload_part(
        &self,
        url: &str,
        body: crate::upload::progress::CountedBody,
        content_range: String,
        digest: String,
    ) -> impl Future<Output = Result<PartRecord, CallError>> + Send;

    fn list_parts(
        &self,
        url: &str,
        offset: u64,
        limit: u64,
    ) -> impl Future<Output = Result<PartsPage, CallError>> + Send;

    fn commit(
        &self,
        url: &str,
        parts: Vec<PartRecord>,
        digest: String,
        if_match: Option<String>,
    ) -> impl Future<Output = Result<CommitOutcome<Self::File>, CallError>> + Send;

    fn abort(&self, url: &str) -> impl Future<Output = Result<(), CallError>> + Send;

    /// A single-request upload of a new file or a new version.
    fn upload_direct(
        &self,
        target: &Target,
        body: crate::upload::progress::CountedBody,
        sha1: Sha1Digest,
        if_match: Option<String>,
    ) -> impl Future<Output = Result<Self::File, CallError>> + Send;

    fn file_facts(file: &Self::File) -> FileFacts;

    /// The file an error said already exists (`context_info.conflicts`), if it can be read as one.
    fn file_from_conflict(conflict: &serde_json::Value) -> Option<Self::File>;
}
