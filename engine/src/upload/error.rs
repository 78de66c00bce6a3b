//! What can go wrong with an upload, typed. Every error that happens after a session was opened
//! carries its id (see [`UploadError::session_id`]), so a caller can resume or clean up.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::api::CallError;

/// The failure of an upload. Nothing was committed unless the variant says otherwise: the
/// engine commits only after every byte was read, counted, hashed and acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The request itself is not acceptable (an empty name, a directory instead of a file...).
    #[error("invalid upload: {0}")]
    InvalidInput(String),

    /// Reading the source failed.
    #[error("reading the source failed: {context}: {source}")]
    Source {
        context: String,
        #[source]
        source: io::Error,
        session_id: Option<String>,
    },

    /// The source ended before the declared size.
    #[error("the source ended after {got} bytes but {declared} were declared; nothing was committed{}", session(.session_id))]
    SourceTooShort {
        declared: u64,
        got: u64,
        session_id: Option<String>,
    },

    /// The source has more bytes than declared.
    #[error("the source has more than the {declared} bytes declared; nothing was committed{}", session(.session_id))]
    SourceTooLong {
        declared: u64,
        session_id: Option<String>,
    },

    /// On resume: the file is not the one the interrupted upload was reading.
    #[error("the source changed since the interrupted upload: {detail}; nothing was committed{} (delete the state file to start over)", session(.session_id))]
    SourceChanged {
        detail: String,
        session_id: Option<String>,
    },

    /// An API call failed for good: a non-retryable answer, or retries used up.
    #[error("{operation} failed after {attempts} attempt(s){}: {source}", session(.session_id))]
    Api {
        operation: &'static str,
        attempts: u32,
        session_id: Option<String>,
        #[source]
        source: CallError,
    },

    /// The server's answer does not match what was sent (a part's offset, size or SHA-1, the
    /// committed file's size or SHA-1).
    #[error("{operation}: the server's answer does not match what was sent: {detail}{}", session(.session_id))]
    Verification {
        operation: &'static str,
        detail: String,
        session_id: Option<String>,
    },

    /// The commit was still answered 202 when its deadline passed. The session is aborted
    /// unless it is kept (a state file is set: running the upload again resumes and commits).
    #[error("commit still pending after {waited:?} ({pending} answers 202) (upload session {session_id})")]
    CommitTimeout {
        session_id: String,
        waited: Duration,
        pending: u32,
    },

    /// The state file could not be read or written.
    #[error("state file {}: {detail}", path.display())]
    StateFile {
        path: PathBuf,
        detail: String,
        #[source]
        source: Option<io::Error>,
    },

    /// The upload was cancelled (its handle aborted or dropped).
    #[error("upload cancelled{}", session(.session_id))]
    Cancelled { session_id: Option<String> },

    /// A task of the engine ended unexpectedly.
    #[error("internal error: {detail}{}", session(.session_id))]
    Internal {
        detail: String,
        session_id: Option<String>,
    },
}

fn session(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" (upload session {id})"),
        None => String::new(),
    }
}

impl UploadError {
    pub(crate) fn source_io(context: impl Into<String>, source: io::Error) -> Self {
        UploadError::Source {
            context: context.into(),
            source,
            session_id: None,
        }
    }

    /// The upload session concerned, when one was opened.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            UploadError::Source { session_id, .. }
            | UploadError::SourceTooShort { session_id, .. }
            | UploadError::SourceTooLong { session_id, .. }
            | UploadError::SourceChanged { session_id, .. }
            | UploadError::Api { session_id, .. }
            | UploadError::Verification { session_id, .. }
            | UploadError::Cancelled { session_id }
            | UploadError::Internal { session_id, .. } => session_id.as_deref(),
            UploadError::CommitTimeout { session_id, .. } => Some(session_id),
            UploadError::InvalidInput(_) | UploadError::StateFile { .. } => None,
        }
    }

    /// Attaches the session id to an error that happened while a session was open.
    pub(crate) fn with_session(mut self, id: &str) -> Self {
        match &mut self {
            UploadError::Source { session_id, .. }
            | UploadError::SourceTooShort { session_id, .. }
            | UploadError::SourceTooLong { session_id, .. }
            | UploadError::SourceChanged { session_id, .. }
            | UploadError::Api { session_id, .. }
            | UploadError::Verification { session_id, .. }
            | UploadError::Cancelled { session_id }
            | UploadError::Internal { session_id, .. } => {
                if session_id.is_none() {
                    *session_id = Some(id.to_string());
                }
            }
            UploadError::CommitTimeout { .. }
            | UploadError::InvalidInput(_)
            | UploadError::StateFile { .. } => {}
        }
        self
    }

    /// The failed call, for [`UploadError::Api`].
    pub fn call_error(&self) -> Option<&CallError> {
        match self {
            UploadError::Api { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The HTTP status of the API answer that ended the upload, if one did.
    pub fn status(&self) -> Option<u16> {
        self.call_error().and_then(CallError::status)
    }

    /// Box's error code of the answer that ended the upload, if any.
    pub fn code(&self) -> Option<&str> {
        self.call_error().and_then(CallError::code)
    }

    /// The file's etag did not match `if-match` (HTTP 412): someone else changed it.
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }

    /// The source did not yield exactly the declared bytes, or changed.
    pub fn is_source_error(&self) -> bool {
        matches!(
            self,
            UploadError::Source { .. }
                | UploadError::SourceTooShort { .. }
                | UploadError::SourceTooLong { .. }
                | UploadError::SourceChanged { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_session() {
        let e = UploadError::SourceTooShort {
            declared: 10,
            got: 4,
            session_id: None,
        }
        .with_session("S1");
        assert_eq!(e.session_id(), Some("S1"));
        let text = e.to_string();
        assert!(text.contains("after 4 bytes but 10"), "{text}");
        assert!(text.contains("upload session S1"), "{text}");
    }

    #[test]
    fn api_errors_expose_status_and_code() {
        let e = UploadError::Api {
            operation: "commit",
            attempts: 1,
            session_id: Some("S2".into()),
            source: CallError::api(
                412,
                Some("precondition_failed"),
                "HTTP 412 precondition_failed",
            ),
        };
        assert!(e.is_precondition_failed());
        assert_eq!(e.code(), Some("precondition_failed"));
        assert!(
            e.to_string()
                .starts_with("commit failed after 1 attempt(s) (upload session S2)"),
            "{e}"
        );
    }
}
