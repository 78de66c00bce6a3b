//! What can go wrong with an upload, typed: a kind, the upload session concerned (once one was
//! opened, so a caller can resume or clean up) and the underlying cause, if any. Each `Display`
//! says its own sentence; the cause is left to `source()`, so printing the chain says each thing
//! once.

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
    InvalidInput { detail: String },

    /// Reading the source failed (the cause is the I/O error).
    Source { context: String },

    /// The source ended before the declared size.
    SourceTooShort { declared: u64, got: u64 },

    /// The source has more bytes than declared.
    SourceTooLong { declared: u64 },

    /// The file changed under the upload: on resume, it is not the one the interrupted upload
    /// was reading; or during an upload, a part read again to be sent is not what was hashed
    /// (the file is shorter, its size or modification time changed, or the server found the
    /// part's digest wrong). `detail` starts with when ("since the interrupted upload" or
    /// "during the upload") and says what.
    SourceChanged { detail: String },

    /// An API call failed for good: a non-retryable answer, or retries used up (the cause is the
    /// [`CallError`], see [`UploadError::call_error`]).
    Api {
        operation: &'static str,
        attempts: u32,
    },

    /// The server's answer does not match what was sent (a part's offset, size or SHA-1, the
    /// committed file's size or SHA-1).
    Verification {
        operation: &'static str,
        detail: String,
    },

    /// The commit was still answered 202 when its deadline passed. The session is aborted
    /// unless it is kept (a state file is set: running the upload again resumes and commits).
    CommitTimeout { waited: Duration, pending: u32 },

    /// The state file could not be read or written (the cause, if any, is the I/O error).
    StateFile { path: PathBuf, detail: String },

    /// The upload was cancelled (its handle aborted or dropped).
    Cancelled,

    /// A task of the engine ended unexpectedly.
    Internal { detail: String },
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

    pub fn kind(&self) -> &UploadErrorKind {
        &self.kind
    }

    /// The upload session concerned, when one was opened.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The failed call, for [`UploadErrorKind::Api`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::calls::fake_answers::answer;

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
