//! Box's error body (`ClientError`,
//! <https://developer.box.com/reference/resources/client-error/>) and the request-id header.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) const HELP_URL: &str =
    "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/";

/// Header carrying the request id (Box sends `box-request-id`).
pub(crate) const REQUEST_ID_HEADER: &str = "box-request-id";

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// A process-unique request id: a counter mixed with the process id and start time, in hex.
pub(crate) fn new_request_id() -> String {
    static SALT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let salt = *SALT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        crate::util::mix(&[nanos, u64::from(std::process::id())])
    });
    let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:012x}{:06x}",
        crate::util::mix(&[salt, n]) >> 16,
        n & 0xff_ffff
    )
}

/// The Box error code of an error response, left in the response extensions so the server
/// can count errors by code.
#[derive(Clone, Debug)]
pub(crate) struct ErrorCode(pub String);

/// The body an [`ApiError`] is answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorShape {
    /// Box's `ClientError` JSON (the API).
    Box,
    /// The token endpoint's `{"error": code, "error_description": message}`.
    OAuth,
    /// No body at all (Box's 401 for an expired or revoked access token).
    Empty,
}

/// An error answered in Box's shape:
/// `{"type":"error","status":N,"code":"...","message":"...","context_info":...,"help_url":...,"request_id":...}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub context_info: Option<Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Close the connection after answering (the rest of the request body is not read).
    pub close: bool,
    /// The body's shape (Box's error JSON unless set otherwise).
    pub shape: ErrorShape,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            context_info: None,
            headers: Vec::new(),
            close: false,
            shape: ErrorShape::Box,
        }
    }

    /// A token-endpoint error: `400 {"error": code, "error_description": description}`.
    pub fn oauth(code: &str, description: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, code, description);
        e.shape = ErrorShape::OAuth;
        e
    }

    /// The error answered with an empty body (its code still counts in the counters).
    pub fn empty_body(mut self) -> Self {
        self.shape = ErrorShape::Empty;
        self
    }

    /// Marks the error as one after which the connection is closed instead of the rest of
    /// the request body being read.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    pub fn with_context(mut self, ctx: Value) -> Self {
        self.context_info = Some(ctx);
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }

    /// A failure of the emulator's own disk I/O. The cause goes into the message as well as
    /// the log: a test that meets this 500 usually has no log subscriber, and "no space left
    /// on device" is the answer its reader needs. (Box's own 500s say nothing of the cause;
    /// this one is the emulator's fault, not an answer it plays back.)
    pub fn io(context: &str, e: std::io::Error) -> Self {
        tracing::error!("{context}: {e}");
        Self::internal(format!("Internal Server Error ({context}: {e})"))
    }

    /// `404 not_found` for an upload session that is unknown, aborted or committed.
    pub fn session_not_found() -> Self {
        Self::not_found("The upload session was not found")
    }

    /// `403 file_size_limit_exceeded`: over the per-file limit.
    pub fn file_size_limit() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "file_size_limit_exceeded",
            "File size exceeds the folder owner's file size limit",
        )
    }

    /// `403 storage_limit_exceeded`: the account's storage is full.
    pub fn storage_limit() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "storage_limit_exceeded",
            "Account storage limit reached",
        )
    }

    /// `409 item_name_in_use`, with the item(s) holding the name as `context_info.conflicts`
    /// (one object for file uploads, an array for folder creation, as Box answers).
    pub fn name_in_use(conflicts: Value) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "item_name_in_use",
            "Item with the same name already exists",
        )
        .with_context(json!({ "conflicts": conflicts }))
    }

    /// `412 precondition_failed`: an `if-match` that does not match.
    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "The resource has been modified. Please retrieve the resource again and retry",
        )
    }

    /// Box's `503 unavailable` (common errors): retry after `retry-after` seconds.
    pub fn unavailable(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Unavailable",
        )
        .with_header(
            axum::http::header::RETRY_AFTER,
            &retry_after_secs.to_string(),
        )
    }

    pub fn body_json(&self, request_id: &str) -> Value {
        json!({
            "type": "error",
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
            "context_info": self.context_info,
            "help_url": HELP_URL,
            "request_id": request_id,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = new_request_id();
        let mut resp = match self.shape {
            ErrorShape::Box => {
                (self.status, axum::Json(self.body_json(&request_id))).into_response()
            }
            ErrorShape::OAuth => (
                self.status,
                axum::Json(json!({"error": self.code, "error_description": self.message})),
            )
                .into_response(),
            ErrorShape::Empty => self.status.into_response(),
        };
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
        }
        for (name, value) in self.headers {
            h.insert(name, value);
        }
        if self.close {
            h.insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
        }
        resp.extensions_mut().insert(ErrorCode(self.code));
        resp
    }
}
