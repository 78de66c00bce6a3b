//! The calls the engine makes, behind a small crate-private trait. The generated `Client`
//! implements it (`client_impl.rs`); unit tests implement it with an in-memory fake. The engine's
//! logic (retries, verification, resume) is thereby independent of the generated types.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use box_uploads_runtime::OperationError;

use crate::digest::Sha1Digest;

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
    /// Where the parts go (`PUT`).
    pub upload_part: String,
    /// Commit (`POST`).
    pub commit: String,
    /// Abort (`DELETE`).
    pub abort: String,
    /// List the parts stored (`GET`).
    pub list_parts: String,
    /// The session itself (`GET`).
    pub status: String,
    /// Part reuse's plan (since September 2026); absent from state files written before it.
    #[serde(default)]
    pub plan: String,
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
    /// Box's id of the part, listed in the commit.
    pub part_id: String,
    /// Offset of the part's first byte in the file.
    pub offset: u64,
    /// Length of the part in bytes.
    pub size: u64,
    /// Hex SHA-1, as the server returned it.
    pub sha1: String,
}

/// A part as a plan asks about it (`part_id` `None`), and as the plan answers it: a hit carries
/// the `part_id` of the part Box holds (list it in the commit, do not upload it), a miss none.
/// Recorded in the state file, so a resumed upload does not ask again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PlanEntry {
    pub offset: u64,
    pub size: u64,
    /// 128 lower-case hex digits.
    pub sha512: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_id: Option<String>,
}

/// One entry of a commit's parts list: a part sent (with its SHA-1), or a part the plan found
/// Box holding (by `part_id`, without SHA-1). `sha512` is given on every entry or on none (Box
/// refuses a mix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitPart {
    /// Box's id of the part.
    pub part_id: String,
    /// Where it starts in the file.
    pub offset: u64,
    /// Its size in bytes.
    pub size: u64,
    pub sha1: Option<String>,
    pub sha512: Option<String>,
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

/// The source file's dates, sent to Box as the content's dates (`content_modified_at`,
/// `content_created_at`) so the file keeps them
/// (<https://developer.box.com/reference/post-files-content/>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FileDates {
    pub modified: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Only where the platform records a creation time, and never for a new version (Box takes
    /// no creation time for one).
    pub created: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// Box's 409s that mean "not now" rather than "no": another request for the same name is in
/// flight (`name_temporarily_reserved`), or a move or copy holds the folder
/// (`operation_blocked_temporary`). Both are waited out and retried
/// (<https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/>).
pub(crate) const TEMPORARY_CONFLICTS: [&str; 2] =
    ["name_temporarily_reserved", "operation_blocked_temporary"];

/// What the engine checks on the file an upload produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileFacts {
    pub id: String,
    pub size: Option<u64>,
    pub sha1: Option<String>,
    /// Changes with every write: an `if_match` etag still current means the write did not
    /// happen.
    pub etag: Option<String>,
    pub name: Option<String>,
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
    /// No usable token (see [`CallError::credentials_error`]): the token endpoint refused the
    /// grant or could not be reached, or the server refused a token renewed after a 401.
    Credentials,
}

/// A failed API call: the API's answer, kept as the operation's typed error (see
/// [`CallError::api_error`]), or the transport failure. Carried by
/// [`crate::upload::UploadError`] as its source.
///
/// Transparent: it displays its cause's sentence and hands on its cause's own source, so an
/// error chain says each thing once.
#[derive(Debug)]
pub struct CallError {
    kind: CallErrorKind,
    cause: Cause,
}

#[derive(Debug)]
enum Cause {
    /// The API's answer, as the generated per-operation error.
    Answer(Box<dyn Answer>),
    /// A transport or decode failure of the runtime.
    Failure(Box<dyn std::error::Error + Send + Sync>),
    /// A failure the engine found itself (a timeout, an answer without a field it needs).
    Message(String),
}

/// An [`OperationError`] viewed both as itself and as a plain error (to downcast it to its
/// generated type without trait upcasting, which the crate's minimum Rust lacks).
trait Answer: OperationError {
    fn as_operation_error(&self) -> &dyn OperationError;
    fn as_error(&self) -> &(dyn std::error::Error + 'static);
}

impl<E: OperationError> Answer for E {
    fn as_operation_error(&self) -> &dyn OperationError {
        self
    }
    fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        self
    }
}

impl CallError {
    /// The API answered `err`.
    pub(crate) fn answer(err: impl OperationError) -> Self {
        CallError {
            kind: CallErrorKind::Api,
            cause: Cause::Answer(Box::new(err)),
        }
    }

    /// The call failed around the API (transport, decode).
    pub(crate) fn failure(
        kind: CallErrorKind,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        CallError {
            kind,
            cause: Cause::Failure(Box::new(err)),
        }
    }

    /// A failure described by the engine.
    pub(crate) fn new(kind: CallErrorKind, message: impl Into<String>) -> Self {
        CallError {
            kind,
            cause: Cause::Message(message.into()),
        }
    }

    pub(crate) fn timeout(after: Duration) -> Self {
        CallError::new(
            CallErrorKind::Timeout,
            format!("no answer within {after:?}"),
        )
    }

    /// What kind of failure it was.
    /// What kind of failure it was.
    pub fn kind(&self) -> CallErrorKind {
        self.kind
    }

    /// The API's answer, when there was one: its status, Box's code, message, request id,
    /// `retry-after` and raw body through the [`OperationError`] accessors.
    pub fn api_error(&self) -> Option<&dyn OperationError> {
        match &self.cause {
            Cause::Answer(e) => Some(e.as_operation_error()),
            _ => None,
        }
    }

    /// The API's answer as the operation's generated error enum (such as
    /// [`crate::errors::UploadFileError`]), to match on its variants; `None` when there was no
    /// answer or it belongs to another operation.
    pub fn downcast_api_error<E: OperationError>(&self) -> Option<&E> {
        match &self.cause {
            Cause::Answer(e) => e.as_error().downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The credentials failure that stopped the call, when that is what happened.
    pub fn credentials_error(&self) -> Option<&box_uploads_runtime::CredentialsError> {
        match &self.cause {
            Cause::Failure(e) => e.downcast_ref(),
            _ => None,
        }
    }

    /// 429, 5xx, timeouts, broken connections and an unreachable token endpoint: the same
    /// request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match (&self.cause, self.kind) {
            (Cause::Answer(e), _) => e.is_retryable() || self.is_temporary_conflict(),
            (_, CallErrorKind::Credentials) => {
                self.credentials_error().is_some_and(|c| c.is_retryable())
            }
            (_, CallErrorKind::Timeout | CallErrorKind::Connect | CallErrorKind::Connection) => {
                true
            }
            _ => false,
        }
    }

    /// A 409 that Box means as "retry later" ([`TEMPORARY_CONFLICTS`]).
    pub(crate) fn is_temporary_conflict(&self) -> bool {
        self.status() == Some(409) && TEMPORARY_CONFLICTS.iter().any(|c| self.is_code(c))
    }

    /// The request may have taken effect although no success answer arrived: a 5xx (Box's guide
    /// warns that even a 503 may have stored the write), a timeout or a broken connection, or a
    /// `name_temporarily_reserved` (the request holding the name may be an earlier attempt of
    /// ours whose answer was lost). Never a 429 (refused before any work) or a connect failure
    /// (nothing was sent).
    pub fn may_have_taken_effect(&self) -> bool {
        match (&self.cause, self.kind) {
            (Cause::Answer(e), _) => e.status() >= 500 || self.is_code("name_temporarily_reserved"),
            (_, CallErrorKind::Timeout | CallErrorKind::Connection) => true,
            _ => false,
        }
    }

    /// The HTTP status, when the API answered.
    pub(crate) fn status(&self) -> Option<u16> {
        self.api_error().map(|e| e.status())
    }

    pub(crate) fn is_code(&self, code: &str) -> bool {
        self.api_error().and_then(|e| e.code()) == Some(code)
    }

    /// How long the server asked to wait, if it did.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.api_error()
            .and_then(|e| e.retry_after())
            .and_then(box_uploads_runtime::retry_after::parse)
    }

    /// The item or part the answer says it clashed with (`context_info.conflicting_part` or
    /// `context_info.conflicts`), as JSON. Read from the raw body: its shape varies by operation.
    pub(crate) fn conflict(&self) -> Option<serde_json::Value> {
        let body: serde_json::Value = serde_json::from_str(self.api_error()?.raw_body()).ok()?;
        let info = body.get("context_info")?;
        info.get("conflicting_part")
            .or_else(|| info.get("conflicts"))
            .cloned()
    }

    /// A short reason for progress events and logs.
    pub(crate) fn reason(&self) -> String {
        if let Some(e) = self.api_error() {
            return match e.code() {
                Some(code) => format!("HTTP {} {code}", e.status()),
                None => format!("HTTP {}", e.status()),
            };
        }
        match self.kind {
            CallErrorKind::Timeout => "timeout",
            CallErrorKind::Connect => "connect failed",
            CallErrorKind::Connection => "connection broken",
            CallErrorKind::Decode => "undecodable answer",
            CallErrorKind::InvalidRequest => "invalid request",
            CallErrorKind::Credentials => "no usable token",
            CallErrorKind::Api => "API error",
        }
        .to_string()
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            // The answer's fields, without the operation's name the generated error adds: the
            // upload error this one is the source of names the operation already.
            Cause::Answer(e) => e.fields().fmt(f),
            Cause::Failure(e) => e.fmt(f),
            Cause::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Answer(e) => e.as_error().source(),
            Cause::Failure(e) => e.source(),
            Cause::Message(_) => None,
        }
    }
}

/// The calls of a chunked or direct upload.
pub(crate) trait UploadCalls: Clone + Send + Sync + 'static {
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

    /// Part reuse: which of `parts` (`part_id` `None`) Box already holds for the file. Answers
    /// each part asked once, as a hit (with its `part_id`) or a miss. Writes nothing.
    fn plan(
        &self,
        url: &str,
        parts: Vec<PlanEntry>,
    ) -> impl Future<Output = Result<Vec<PlanEntry>, CallError>> + Send;

    fn commit(
        &self,
        url: &str,
        parts: Vec<CommitPart>,
        digest: String,
        if_match: Option<String>,
        dates: Option<FileDates>,
    ) -> impl Future<Output = Result<CommitOutcome<Self::File>, CallError>> + Send;

    fn abort(&self, url: &str) -> impl Future<Output = Result<(), CallError>> + Send;

    /// A single-request upload of a new file or a new version.
    fn upload_direct(
        &self,
        target: &Target,
        body: crate::upload::progress::CountedBody,
        sha1: Sha1Digest,
        if_match: Option<String>,
        dates: Option<FileDates>,
    ) -> impl Future<Output = Result<Self::File, CallError>> + Send;

    /// The item that already holds the target's name, as Box's preflight check names it
    /// (`409 item_name_in_use` with `context_info.conflicts`), to learn whether an upload whose
    /// answer was lost was stored. `None` when the name is free or the target is not a new file
    /// (a new version is looked up with [`file_info`](Self::file_info)).
    fn existing_item(
        &self,
        target: &Target,
        size: u64,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, CallError>> + Send;

    /// The file as it is now (Box's get-file-info), with at least its SHA-1, size, etag and
    /// name: to learn whether a new version whose answer was lost was stored, and to read the
    /// whole file a conflict names.
    fn file_info(
        &self,
        file_id: &str,
    ) -> impl Future<Output = Result<Self::File, CallError>> + Send;

    fn file_facts(file: &Self::File) -> FileFacts;

    /// Whether the credentials can renew a token the server refused (a 401): then a call whose
    /// streamed body could not be replayed is tried once more, with the renewed token.
    fn can_refresh_credentials(&self) -> bool {
        false
    }

    /// The file an error said already exists (`context_info.conflicts`), if it can be read as one,
    /// once its SHA-1 was found to be that of our `size` bytes: the same content, so the same
    /// size, which Box's conflict does not say. Used only when get-file-info could not be
    /// asked for the whole file.
    fn file_from_conflict(conflict: &serde_json::Value, size: u64) -> Option<Self::File>;
}

/// API answers made up for unit tests, as the generated errors would carry them.
#[cfg(test)]
pub(crate) mod fake_answers {
    use box_uploads_runtime::{ApiError, ApiErrorFields, OperationError};

    use super::CallError;

    #[derive(Debug)]
    pub(crate) struct FakeAnswer(ApiError<serde_json::Value>);

    impl std::fmt::Display for FakeAnswer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fake_operation: {}", self.0)
        }
    }

    impl std::error::Error for FakeAnswer {}

    impl OperationError for FakeAnswer {
        fn fields(&self) -> &dyn ApiErrorFields {
            &self.0
        }
    }

    /// An answer with `status` and Box's `code`.
    pub(crate) fn answer(status: u16, code: Option<&str>) -> CallError {
        answer_with(status, code, None, None)
    }

    /// An answer with a `retry-after` header and a `context_info` in its body.
    pub(crate) fn answer_with(
        status: u16,
        code: Option<&str>,
        retry_after: Option<&str>,
        context_info: Option<serde_json::Value>,
    ) -> CallError {
        let body = serde_json::json!({
            "type": "error",
            "status": status,
            "code": code,
            "context_info": context_info,
        });
        CallError::answer(FakeAnswer(ApiError {
            status,
            code: code.map(str::to_owned),
            message: None,
            request_id: None,
            retry_after: retry_after.map(str::to_owned),
            date: None,
            raw: body.to_string(),
            body: Some(body),
        }))
    }
}
