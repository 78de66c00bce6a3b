//! What can go wrong with an upload, typed: a kind that names what a caller acts on (refused
//! credentials, a missing folder or file, a name in use and by which file, too large, gave up
//! on transient failures, the source changed, cancelled, verification failed), the upload
//! session concerned (once one was opened, so a caller can resume or clean up) and the
//! underlying cause, if any (the API's typed answer stays reachable through
//! [`UploadError::api_error`]). Each `Display` says its own sentence; the cause is left to
//! `source()`, so printing the chain says each thing once.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use box_uploads_runtime::OperationError;

use super::calls::CallError;

/// The failure of an upload. Nothing was committed unless the kind says otherwise: the engine
/// commits only after every byte was read, counted, hashed and acknowledged.
///
/// ```
/// # fn demo(err: box_uploads::upload::UploadError) {
/// use box_uploads::upload::UploadErrorKind;
///
/// match err.kind() {
///     UploadErrorKind::Conflict { existing, .. } => {
///         eprintln!("the name is taken by file {} ({})", existing.id, existing.name)
///     }
///     UploadErrorKind::NotFound { missing, .. } => eprintln!("no such {missing}"),
///     UploadErrorKind::CredentialsRefused { .. } => eprintln!("renew the app's credentials"),
///     UploadErrorKind::GaveUp { attempts, last, .. } => eprintln!("{attempts} tries, last: {last}"),
///     UploadErrorKind::Api { operation, .. } => eprintln!("{operation}: HTTP {:?}", err.status()),
///     UploadErrorKind::Cancelled => {}
///     _ => eprintln!("{err}"),
/// }
/// if let Some(id) = err.session_id() {
///     eprintln!("upload session {id}");
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct UploadError {
    kind: UploadErrorKind,
    session_id: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What kind of failure an [`UploadError`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadErrorKind {
    /// The request itself is not acceptable (an empty name, a directory instead of a file...).
    InvalidInput {
        /// What is wrong.
        detail: String,
    },

    /// Reading the source failed (the cause is the I/O error).
    Source {
        /// Where reading failed.
        context: String,
    },

    /// The source ended before the declared size.
    SourceTooShort {
        /// The size declared.
        declared: u64,
        /// The bytes the source had.
        got: u64,
    },

    /// The source has more bytes than declared.
    SourceTooLong {
        /// The size declared.
        declared: u64,
    },

    /// The file changed under the upload: on resume, it is not the one the interrupted upload
    /// was reading; or during an upload, a part read again to be sent is not what was hashed
    /// (the file is shorter, its size or modification time changed, or the server found the
    /// part's digest wrong). `detail` starts with when ("since the interrupted upload" or
    /// "during the upload") and says what.
    SourceChanged {
        /// When, and what changed.
        detail: String,
    },

    /// Box refused the credentials (HTTP 401, or the token endpoint refused the grant) or what
    /// they may do (HTTP 403, other than a size limit): renew or fix the app's credentials or
    /// rights; trying again as is will not help.
    CredentialsRefused {
        /// The call refused.
        operation: &'static str,
        /// Calls made.
        attempts: u32,
        /// The HTTP status, when Box answered (none when the token endpoint refused).
        status: Option<u16>,
    },

    /// What the upload goes into is not there (HTTP 404): the folder of a new file, the file of
    /// a new version, or the upload session (expired, or aborted elsewhere).
    NotFound {
        /// The call answered 404.
        operation: &'static str,
        /// Calls made.
        attempts: u32,
        /// What is missing.
        missing: Missing,
    },

    /// The name is in use in the folder (HTTP 409 `item_name_in_use`, on a direct and a
    /// chunked upload alike): `existing` is the item Box holds under it (upload a new version
    /// of it, or choose another name).
    Conflict {
        /// The call answered 409.
        operation: &'static str,
        /// Calls made.
        attempts: u32,
        /// The item holding the name, from the answer's `context_info.conflicts` (boxed, to
        /// keep every `Result<_, UploadError>` small).
        existing: Box<ExistingItem>,
    },

    /// The file is larger than a limit allows (HTTP 403 `file_size_limit_exceeded` or
    /// `storage_limit_exceeded`, HTTP 413).
    TooLarge {
        /// The call refused.
        operation: &'static str,
        /// Calls made.
        attempts: u32,
        /// The upload's size in bytes.
        size: u64,
        /// Which limit it is over (Box's answers do not state the limit's value).
        limit: SizeLimit,
    },

    /// Every attempt met a transient failure (429, 5xx, a timeout, a broken connection) until
    /// the retry policy's budget was spent: the same upload may succeed later.
    GaveUp {
        /// The call given up on.
        operation: &'static str,
        /// Calls made.
        attempts: u32,
        /// The last failure, in a few words (`HTTP 503 unavailable`, `timeout`...).
        last: String,
    },

    /// An API call failed for good with an answer no other kind names (such as HTTP 412 to
    /// `if_match`, see [`UploadError::is_precondition_failed`]; the cause is the
    /// [`CallError`], see [`UploadError::call_error`]).
    Api {
        /// The call that failed.
        operation: &'static str,
        /// Calls made.
        attempts: u32,
    },

    /// The server's answer does not match what was sent (a part's offset, size or SHA-1, the
    /// committed file's size or SHA-1).
    Verification {
        /// The call whose answer does not match.
        operation: &'static str,
        /// What differs.
        detail: String,
    },

    /// The commit was still answered 202 when its deadline passed. The session is aborted
    /// unless it is kept (a state file is set: running the upload again resumes and commits).
    CommitTimeout {
        /// How long the commit was waited for.
        waited: Duration,
        /// Commits answered 202.
        pending: u32,
    },

    /// The state file could not be read or written (the cause, if any, is the I/O error).
    StateFile {
        /// The state file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// The upload was cancelled (its handle aborted or dropped).
    Cancelled,

    /// A task of the engine ended unexpectedly.
    Internal {
        /// What ended.
        detail: String,
    },
}

impl fmt::Display for UploadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadErrorKind::InvalidInput { detail } => write!(f, "invalid upload: {detail}"),
            UploadErrorKind::Source { context } => {
                write!(f, "reading the source failed: {context}")
            }
            UploadErrorKind::SourceTooShort { declared, got } => write!(
                f,
                "the source ended after {got} bytes but {declared} were declared; nothing was committed"
            ),
            UploadErrorKind::SourceTooLong { declared } => write!(
                f,
                "the source has more than the {declared} bytes declared; nothing was committed"
            ),
            UploadErrorKind::SourceChanged { detail } => write!(
                f,
                "the source changed {detail}; nothing was committed"
            ),
            UploadErrorKind::CredentialsRefused { operation, .. } => write!(
                f,
                "{operation}: Box refused the credentials or what they may do"
            ),
            UploadErrorKind::NotFound {
                operation, missing, ..
            } => write!(f, "{operation}: {missing} not found"),
            UploadErrorKind::Conflict {
                operation,
                existing,
                ..
            } => write!(
                f,
                "{operation}: the name is in use by {} {} ({:?})",
                existing.kind, existing.id, existing.name
            ),
            UploadErrorKind::TooLarge {
                operation,
                size,
                limit: SizeLimit::MaxUploadSize(max),
                ..
            } => write!(
                f,
                "{operation}: the file is {} ({size} bytes); this Box user may upload at most {} ({max} bytes)",
                human_size(*size),
                human_size(*max)
            ),
            UploadErrorKind::TooLarge {
                operation,
                size,
                limit,
                ..
            } => write!(f, "{operation}: {size} bytes are over {limit}"),
            UploadErrorKind::GaveUp {
                operation,
                attempts,
                last,
            } => write!(
                f,
                "{operation} gave up after {attempts} attempt(s) on transient failures (last: {last})"
            ),
            UploadErrorKind::Api {
                operation,
                attempts,
            } => write!(f, "{operation} failed after {attempts} attempt(s)"),
            UploadErrorKind::Verification { operation, detail } => write!(
                f,
                "{operation}: the server's answer does not match what was sent: {detail}"
            ),
            UploadErrorKind::CommitTimeout { waited, pending } => write!(
                f,
                "commit still pending after {waited:?} ({pending} answers 202)"
            ),
            UploadErrorKind::StateFile { path, detail } => {
                write!(f, "state file {}: {detail}", path.display())
            }
            UploadErrorKind::Cancelled => f.write_str("upload cancelled"),
            UploadErrorKind::Internal { detail } => write!(f, "internal error: {detail}"),
        }
    }
}

/// What a [`UploadErrorKind::NotFound`] did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Missing {
    /// The folder a new file was to go into.
    Folder {
        /// Its id.
        id: String,
    },
    /// The file a new version was for.
    File {
        /// Its id.
        id: String,
    },
    /// The upload session (expired, committed or aborted elsewhere).
    Session,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Folder { id } => write!(f, "folder {id}"),
            Missing::File { id } => write!(f, "file {id}"),
            Missing::Session => f.write_str("upload session"),
        }
    }
}

/// The item Box holds under a name an upload wanted ([`UploadErrorKind::Conflict`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExistingItem {
    /// Its id: for a file, upload a new version of it with `Upload::new_version(id)`.
    pub id: String,
    /// Its name as Box lists it (Box compares names without regard to case).
    pub name: String,
    /// What it is: `file`, `folder` or `web_link`.
    pub kind: String,
    /// Its SHA-1, for a file when the answer gives it.
    pub sha1: Option<String>,
}

impl ExistingItem {
    /// An item Box holds under a name.
    pub fn new(id: impl Into<String>, name: impl Into<String>, kind: impl Into<String>) -> Self {
        ExistingItem {
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
            sha1: None,
        }
    }

    /// Reads Box's `context_info.conflicts`: one object (file uploads) or a list of them
    /// (folder creation, some preflight answers); the first item with an id is the one.
    pub(crate) fn from_conflicts(conflicts: &serde_json::Value) -> Option<Self> {
        let item = match conflicts {
            serde_json::Value::Array(items) => items.iter().find(|i| i.get("id").is_some())?,
            item => item,
        };
        let text = |key: &str| item.get(key).and_then(|v| v.as_str()).map(str::to_string);
        Some(ExistingItem {
            id: text("id")?,
            name: text("name").unwrap_or_default(),
            kind: text("type").unwrap_or_else(|| "file".to_string()),
            sha1: text("sha1"),
        })
    }
}

/// Which limit a [`UploadErrorKind::TooLarge`] upload is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SizeLimit {
    /// The largest file the folder owner's account takes (`file_size_limit_exceeded`).
    FileSize,
    /// The account's storage is full (`storage_limit_exceeded`).
    Storage,
    /// The largest single request (HTTP 413): a chunked upload (a lower
    /// [`chunked_cutoff`](super::Upload::chunked_cutoff)) sends it in parts.
    Request,
    /// The user's `max_upload_size` (of `GET /users/me`), in bytes: found before anything was
    /// sent, so no call was refused.
    MaxUploadSize(u64),
}

impl fmt::Display for SizeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SizeLimit::FileSize => "the account's file size limit",
            SizeLimit::Storage => "the account's storage limit",
            SizeLimit::Request => "the largest single request",
            SizeLimit::MaxUploadSize(max) => {
                return write!(f, "this Box user's largest upload ({max} bytes)")
            }
        })
    }
}

impl From<UploadErrorKind> for UploadError {
    fn from(kind: UploadErrorKind) -> Self {
        UploadError {
            kind,
            session_id: None,
            source: None,
        }
    }
}

impl UploadError {
    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Names the session the failure happened in, unless one is named already.
    pub(crate) fn with_session(mut self, id: &str) -> Self {
        if self.session_id.is_none() {
            self.session_id = Some(id.to_string());
        }
        self
    }

    pub(crate) fn invalid_input(detail: impl Into<String>) -> Self {
        UploadErrorKind::InvalidInput {
            detail: detail.into(),
        }
        .into()
    }

    pub(crate) fn source_io(context: impl Into<String>, source: io::Error) -> Self {
        UploadError::from(UploadErrorKind::Source {
            context: context.into(),
        })
        .with_source(source)
    }

    /// `call` failed for good after `attempts` attempts.
    pub(crate) fn api(operation: &'static str, attempts: u32, call: CallError) -> Self {
        UploadError::from(UploadErrorKind::Api {
            operation,
            attempts,
        })
        .with_source(call)
    }

    /// The same error, session and cause, as another kind (`naming` names a call's failure).
    pub(super) fn with_kind(mut self, kind: UploadErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn verification(operation: &'static str, detail: impl Into<String>) -> Self {
        UploadErrorKind::Verification {
            operation,
            detail: detail.into(),
        }
        .into()
    }

    pub(crate) fn cancelled() -> Self {
        UploadErrorKind::Cancelled.into()
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        UploadErrorKind::Internal {
            detail: detail.into(),
        }
        .into()
    }

    /// What kind of failure this is: what a caller matches to decide what to do.
    pub fn kind(&self) -> &UploadErrorKind {
        &self.kind
    }

    /// The API call that failed for good, for the kinds that name one.
    pub fn operation(&self) -> Option<&'static str> {
        match &self.kind {
            UploadErrorKind::CredentialsRefused { operation, .. }
            | UploadErrorKind::NotFound { operation, .. }
            | UploadErrorKind::Conflict { operation, .. }
            | UploadErrorKind::TooLarge { operation, .. }
            | UploadErrorKind::GaveUp { operation, .. }
            | UploadErrorKind::Api { operation, .. } => Some(operation),
            _ => None,
        }
    }

    /// The calls made of [`operation`](Self::operation) before it failed for good.
    pub fn attempts(&self) -> Option<u32> {
        match &self.kind {
            UploadErrorKind::CredentialsRefused { attempts, .. }
            | UploadErrorKind::NotFound { attempts, .. }
            | UploadErrorKind::Conflict { attempts, .. }
            | UploadErrorKind::TooLarge { attempts, .. }
            | UploadErrorKind::GaveUp { attempts, .. }
            | UploadErrorKind::Api { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// The item holding the name, for a [`Conflict`](UploadErrorKind::Conflict).
    pub fn conflict(&self) -> Option<&ExistingItem> {
        match &self.kind {
            UploadErrorKind::Conflict { existing, .. } => Some(existing.as_ref()),
            _ => None,
        }
    }

    /// The upload session concerned, when one was opened.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The failed call, for the kinds that name an operation ([`UploadErrorKind::Api`],
    /// [`Conflict`](UploadErrorKind::Conflict), [`NotFound`](UploadErrorKind::NotFound)...).
    pub fn call_error(&self) -> Option<&CallError> {
        self.source.as_deref()?.downcast_ref::<CallError>()
    }

    /// The API's answer that ended the upload, if one did.
    pub fn api_error(&self) -> Option<&dyn OperationError> {
        self.call_error()?.api_error()
    }

    /// The HTTP status of the API answer that ended the upload, if one did.
    pub fn status(&self) -> Option<u16> {
        self.api_error().map(|e| e.status())
    }

    /// Box's error code of the answer that ended the upload, if any.
    pub fn code(&self) -> Option<&str> {
        self.api_error()?.code()
    }

    /// The file's etag did not match `if-match` (HTTP 412): someone else changed it.
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }

    /// The source did not yield exactly the declared bytes, or changed.
    pub fn is_source_error(&self) -> bool {
        matches!(
            self.kind,
            UploadErrorKind::Source { .. }
                | UploadErrorKind::SourceTooShort { .. }
                | UploadErrorKind::SourceTooLong { .. }
                | UploadErrorKind::SourceChanged { .. }
        )
    }

    /// The upload was cancelled through its handle.
    pub fn is_cancelled(&self) -> bool {
        self.kind == UploadErrorKind::Cancelled
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)?;
        if let Some(id) = &self.session_id {
            write!(f, " (upload session {id})")?;
        }
        Ok(())
    }
}

impl StdError for UploadError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Shows an error and its causes on one line, for logs (a log field shows only `Display`).
pub(crate) struct Chain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

/// A size for people: `6.2 GiB`, `5 GiB`, `512 KiB`, `100 bytes`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::calls::fake_answers::answer;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(100), "100 bytes");
        assert_eq!(human_size(1 << 20), "1 MiB");
        assert_eq!(human_size(5_368_709_120), "5 GiB");
        assert_eq!(human_size(6_657_199_308), "6.2 GiB");
        assert_eq!(human_size(1536), "1.5 KiB");
    }

    #[test]
    fn messages_name_the_session_once() {
        let e = UploadError::from(UploadErrorKind::SourceTooShort {
            declared: 10,
            got: 4,
        })
        .with_session("S1")
        .with_session("S2");
        assert_eq!(e.session_id(), Some("S1"));
        let text = e.to_string();
        assert!(text.contains("after 4 bytes but 10"), "{text}");
        assert_eq!(text.matches("upload session").count(), 1, "{text}");
        assert!(text.ends_with("(upload session S1)"), "{text}");
    }

    #[test]
    fn api_errors_expose_status_and_code() {
        let e = UploadError::api("commit", 1, answer(412, Some("precondition_failed")))
            .with_session("S2");
        assert!(e.is_precondition_failed());
        assert_eq!(e.code(), Some("precondition_failed"));
        assert!(matches!(
            e.kind(),
            UploadErrorKind::Api {
                operation: "commit",
                attempts: 1
            }
        ));
        assert_eq!(
            e.to_string(),
            "commit failed after 1 attempt(s) (upload session S2)"
        );
    }

    #[test]
    fn each_error_in_the_chain_says_its_own_sentence() {
        let e = UploadError::api("upload_file", 1, answer(404, Some("not_found")));
        let chain = Chain(&e).to_string();
        assert_eq!(
            chain,
            "upload_file failed after 1 attempt(s): HTTP 404 not_found"
        );
        assert_eq!(chain.matches("404").count(), 1, "{chain}");

        let e = UploadError::source_io("at byte 7", io::Error::other("disk on fire"));
        assert_eq!(
            Chain(&e).to_string(),
            "reading the source failed: at byte 7: disk on fire"
        );
    }
}
