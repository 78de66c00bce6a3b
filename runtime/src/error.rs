//! Errors: the API's own answers (typed per operation by generated code) and everything else.

use std::fmt;
use std::time::Duration;

use crate::CredentialsError;

/// What every generated per-operation error enum can tell about itself. Generated enums
/// implement [`OperationError::fields`]; everything else follows from it.
pub trait OperationError: std::error::Error + Send + Sync + 'static {
    /// The answer's fields, whatever the variant.
    fn fields(&self) -> &dyn ApiErrorFields;
    /// The HTTP status of the answer.
    /// The HTTP status.
    fn status(&self) -> u16 {
        self.fields().status()
    }
    /// The API's error code (`item_name_in_use`), if the body had one.
    fn code(&self) -> Option<&str> {
        self.fields().code()
    }
    /// The API's message, if the body had one.
    fn message(&self) -> Option<&str> {
        self.fields().message()
    }
    /// The API's request id, to quote to its support, if the body had one.
    fn request_id(&self) -> Option<&str> {
        self.fields().request_id()
    }
    /// The raw `retry-after` header of the answer, if any.
    fn retry_after(&self) -> Option<&str> {
        self.fields().retry_after()
    }
    /// The raw `Date` header of the answer (the server's clock), if any.
    fn date(&self) -> Option<&str> {
        self.fields().date()
    }
    /// The body as received.
    fn raw_body(&self) -> &str {
        self.fields().raw()
    }
    /// 429 and 5xx: the same request may succeed later.
    fn is_retryable(&self) -> bool {
        let status = self.status();
        status == 429 || status >= 500
    }
}

/// The fields every [`ApiError`] has, whatever its body type: lets generated error enums answer
/// `status()`, `code()`... with one `match` instead of one per accessor.
pub trait ApiErrorFields: fmt::Display {
    /// The HTTP status.
    fn status(&self) -> u16;
    /// The API's error code, if the body had one.
    fn code(&self) -> Option<&str>;
    /// The API's message, if the body had one.
    fn message(&self) -> Option<&str>;
    /// The API's request id, if the body had one.
    fn request_id(&self) -> Option<&str>;
    /// The raw `retry-after` header, if any.
    fn retry_after(&self) -> Option<&str>;
    /// The raw `Date` header; `None` by default for implementations that do not keep it.
    fn date(&self) -> Option<&str> {
        None
    }
    /// The body as received.
    fn raw(&self) -> &str;
}

impl<T> ApiErrorFields for ApiError<T> {
    fn status(&self) -> u16 {
        self.status
    }
    fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
    fn retry_after(&self) -> Option<&str> {
        self.retry_after.as_deref()
    }
    fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }
    fn raw(&self) -> &str {
        &self.raw
    }
}

/// One error answer of the API: the status, what the body said, and the body itself, decoded as the
/// schema the spec documents for that status (`body`) and kept raw (`raw`) for anything else.
#[derive(Clone)]
pub struct ApiError<T> {
    /// The HTTP status.
    pub status: u16,
    /// The API's error code, if the body had one.
    pub code: Option<String>,
    /// The API's message, if the body had one.
    pub message: Option<String>,
    /// The API's request id, if the body had one.
    pub request_id: Option<String>,
    /// The raw `retry-after` header, if any.
    pub retry_after: Option<String>,
    /// The answer's `Date` header as sent (an HTTP-date): the server's clock, which a JWT
    /// assertion refused for clock skew is re-signed from.
    pub date: Option<String>,
    /// The body decoded as the documented schema; `None` when it did not match (see `raw`).
    pub body: Option<T>,
    /// The body as received (capped at [`crate::support::MAX_ERROR_BODY`] bytes), lossily UTF-8.
    pub raw: String,
}

impl<T: fmt::Debug> fmt::Debug for ApiError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .field("request_id", &self.request_id)
            .field("retry_after", &self.retry_after)
            .field("date", &self.date)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for ApiError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl<T> ApiError<T> {
    /// Builds the error from a raw answer, decoding the body as `T` where it fits.
    pub fn from_raw(raw: crate::support::RawResponse) -> Self
    where
        T: serde::de::DeserializeOwned,
    {
        let value: Option<serde_json::Value> = serde_json::from_slice(&raw.body).ok();
        let field = |name: &str| {
            value
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        // OAuth 2.0 errors (RFC 6749 section 5.2) say `error` and `error_description` instead.
        let code = field("code").or_else(|| field("error"));
        let message = field("message").or_else(|| field("error_description"));
        let request_id = field("request_id").or(raw.request_id);
        let body = value.and_then(|v| serde_json::from_value(v).ok());
        ApiError {
            status: raw.status,
            code,
            message,
            request_id,
            retry_after: raw.retry_after,
            date: raw.date,
            body,
            raw: String::from_utf8_lossy(&raw.body).into_owned(),
        }
    }

    /// The `Date` header of the answer, when present.
    pub fn date(&self) -> Option<&str> {
        self.date.as_deref()
    }

    /// `retry-after` as a duration from now, when present and valid.
    pub fn retry_after_duration(&self) -> Option<Duration> {
        self.retry_after
            .as_deref()
            .and_then(crate::retry_after::parse)
    }
}

/// A failure to exchange a request and response: connecting, timing out, a broken body.
/// Opaque on purpose: inspect it with the `is_*` predicates, which stay stable across versions.
/// `Display` says which kind of failure; the HTTP library's error is its `source()`.
#[derive(Debug)]
pub struct TransportError {
    inner: reqwest::Error,
}

impl TransportError {
    /// No answer in time.
    pub fn is_timeout(&self) -> bool {
        self.inner.is_timeout()
    }

    /// No connection could be made.
    pub fn is_connect(&self) -> bool {
        self.inner.is_connect()
    }

    /// The request or response body failed mid-way (a reset connection, say).
    pub fn is_body(&self) -> bool {
        self.inner.is_body() || self.inner.is_request() || self.inner.is_decode()
    }

    /// A request that could not even be built (bad URL, bad header): retrying will not help.
    pub fn is_builder(&self) -> bool {
        self.inner.is_builder()
    }
}

impl From<reqwest::Error> for TransportError {
    fn from(inner: reqwest::Error) -> Self {
        // Never keep the URL: session URLs are harmless, but a caller-built URL might carry a token.
        TransportError {
            inner: inner.without_url(),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_timeout() {
            "timed out"
        } else if self.is_connect() {
            "could not connect"
        } else if self.is_builder() {
            "could not build the request"
        } else {
            "connection failed"
        };
        f.write_str(kind)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// A success status whose body does not match the documented schema.
#[derive(Debug, Clone)]
pub struct DecodeError {
    /// The success status.
    pub status: u16,
    /// What did not match.
    pub message: String,
    /// The start of the body that failed to decode.
    pub body_start: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} answer did not match the documented schema: {} (body starts {:?})",
            self.status, self.message, self.body_start
        )
    }
}

impl std::error::Error for DecodeError {}

/// The result of calling one operation: the API's typed error `E`, or a failure around it.
#[derive(Debug)]
pub enum Error<E> {
    /// The API answered with an error status.
    Api(E),
    /// No usable answer arrived.
    Transport(TransportError),
    /// A success answer could not be decoded.
    Decode(DecodeError),
    /// The request was refused before sending (an invalid header value, a bad URL).
    InvalidRequest(String),
    /// No usable token: the credentials failed to give one, or the server refused the one they
    /// renewed after a 401.
    Credentials(CredentialsError),
}

impl<E: OperationError> Error<E> {
    /// Whether sending the same request again may succeed: 429, 5xx, timeouts, broken
    /// connections and an unreachable token endpoint; never another 4xx, a decode failure, an
    /// invalid request or refused credentials.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Transport(t) => !t.is_builder(),
            Error::Credentials(c) => c.is_retryable(),
            Error::Decode(_) | Error::InvalidRequest(_) => false,
        }
    }

    /// The API's answer, if there was one.
    pub fn api(&self) -> Option<&E> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of the API's answer, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.api().map(OperationError::status)
    }

    /// The API's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        self.api().and_then(OperationError::code)
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api()
            .and_then(OperationError::retry_after)
            .and_then(crate::retry_after::parse)
    }
}

/// One sentence per kind; the details are in `source()`, so that printing the chain (`{:#}` with
/// anyhow, say) shows each text once.
impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(_) => f.write_str("the API answered with an error"),
            Error::Transport(_) => f.write_str("the HTTP exchange failed"),
            Error::Decode(_) => f.write_str("the answer could not be decoded"),
            Error::InvalidRequest(why) => write!(f, "invalid request: {why}"),
            Error::Credentials(_) => f.write_str("authentication failed"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Api(e) => Some(e),
            Error::Transport(e) => Some(e),
            Error::Decode(e) => Some(e),
            Error::Credentials(e) => Some(e),
            Error::InvalidRequest(_) => None,
        }
    }
}

impl<E> From<TransportError> for Error<E> {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// Every text of the chain, outermost first.
    fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut out = vec![e.to_string()];
        let mut source = e.source();
        while let Some(cause) = source {
            out.push(cause.to_string());
            source = cause.source();
        }
        out
    }

    /// No text in the chain contains the next one.
    fn assert_no_repeats(e: &(dyn std::error::Error + 'static)) {
        let texts = chain(e);
        for pair in texts.windows(2) {
            assert!(!pair[0].contains(&pair[1]), "repeated: {texts:?}");
        }
    }

    #[derive(Debug)]
    struct Answer;

    impl fmt::Display for Answer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("op: HTTP 409 conflict")
        }
    }

    impl std::error::Error for Answer {}

    #[test]
    fn an_api_error_is_the_source_not_the_message() {
        let e: Error<Answer> = Error::Api(Answer);
        assert_eq!(
            chain(&e),
            ["the API answered with an error", "op: HTTP 409 conflict"]
        );
    }

    #[test]
    fn a_decode_error_is_the_source_not_the_message() {
        let e: Error<Answer> = Error::Decode(DecodeError {
            status: 200,
            message: "missing field `id`".into(),
            body_start: "{}".into(),
        });
        assert_no_repeats(&e);
        assert_eq!(chain(&e).len(), 2);
        assert!(chain(&e)[1].contains("missing field `id`"));
    }

    #[test]
    fn a_transport_error_keeps_the_http_error_as_its_source() {
        let built = reqwest::Client::new().get("not a url").build();
        let Err(inner) = built else {
            panic!("a relative URL must not build")
        };
        let t = TransportError::from(inner);
        assert_eq!(t.to_string(), "could not build the request");
        assert!(t.source().is_some());
        let e: Error<Answer> = Error::Transport(t);
        assert_no_repeats(&e);
        assert!(chain(&e).len() >= 3, "{:?}", chain(&e));
    }

    fn raw(status: u16, body: &'static [u8]) -> crate::support::RawResponse {
        crate::support::RawResponse {
            status,
            request_id: None,
            retry_after: None,
            date: None,
            body: bytes::Bytes::from_static(body),
        }
    }

    #[test]
    fn an_oauth_error_body_gives_the_code_and_message() {
        let body: &[u8] =
            br#"{"error":"invalid_grant","error_description":"Grant credentials are invalid"}"#;
        let e: ApiError<serde_json::Value> = ApiError::from_raw(raw(400, body));
        assert_eq!(e.code.as_deref(), Some("invalid_grant"));
        assert_eq!(e.message.as_deref(), Some("Grant credentials are invalid"));
        assert_eq!(
            crate::support::error_code(body).as_deref(),
            Some("invalid_grant")
        );
    }

    #[test]
    fn a_code_field_wins_over_an_error_field() {
        let body: &[u8] = br#"{"code":"item_name_in_use","error":"x","message":"taken"}"#;
        let e: ApiError<serde_json::Value> = ApiError::from_raw(raw(409, body));
        assert_eq!(e.code.as_deref(), Some("item_name_in_use"));
        assert_eq!(e.message.as_deref(), Some("taken"));
        // A non-string `error` (some APIs nest an object there) is no code.
        assert_eq!(crate::support::error_code(br#"{"error":{"code":1}}"#), None);
    }

    #[derive(Debug)]
    struct Op(ApiError<serde_json::Value>);

    impl fmt::Display for Op {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fmt(f)
        }
    }

    impl std::error::Error for Op {}

    impl OperationError for Op {
        fn fields(&self) -> &dyn ApiErrorFields {
            &self.0
        }
    }

    #[test]
    fn a_credentials_error_is_the_source_and_retryable_only_when_unavailable() {
        use crate::CredentialsErrorKind as Kind;
        let e: Error<Op> = Error::Credentials(CredentialsError::new(
            Kind::Refused,
            "the token endpoint refused the grant",
        ));
        assert_eq!(
            chain(&e),
            [
                "authentication failed",
                "the token endpoint refused the grant"
            ]
        );
        assert!(!e.is_retryable());
        let e: Error<Op> =
            Error::Credentials(CredentialsError::new(Kind::Unavailable, "no answer"));
        assert!(e.is_retryable());
    }
}
