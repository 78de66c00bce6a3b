//! Helpers called by generated operation code. Stable enough to be used by hand, but meant for
//! `cargo xtask codegen` output: each function is one step of sending a request or reading an answer.

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};

use crate::{Body, DecodeError, Error, FilePart, TransportError};

/// Error bodies are read up to this many bytes; the rest is dropped (a hostile or broken server
/// must not make the client buffer without bound).
pub const MAX_ERROR_BODY: usize = 1 << 20;

/// Success bodies decoded as JSON are read up to this many bytes.
pub const MAX_JSON_BODY: usize = 64 << 20;

/// How much of one operation's answers is read, and whether an answer that does not decode may
/// be quoted in the error. Generated code reads an operation whose success answer carries
/// secrets (a token answer) with [`AnswerLimits::CREDENTIALS`], every other one with
/// [`AnswerLimits::DEFAULT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerLimits {
    /// A success body longer than this is a [`DecodeError`], not read further.
    pub max_success: usize,
    /// An error body is read up to this many bytes; the rest is dropped.
    pub max_error: usize,
    /// A [`DecodeError`] may quote the start of the body ([`DecodeError::body_start`]). Never
    /// for an answer that may carry a secret: the error would show it.
    pub quote_body: bool,
}

impl AnswerLimits {
    /// Most operations: success bodies up to [`MAX_JSON_BODY`], error bodies up to
    /// [`MAX_ERROR_BODY`], a decode error quotes the body's start.
    pub const DEFAULT: AnswerLimits = AnswerLimits {
        max_success: MAX_JSON_BODY,
        max_error: MAX_ERROR_BODY,
        quote_body: true,
    };

    /// An answer that carries credentials (a token endpoint's): small (a token answer is well
    /// under 4 KiB; 64 KiB is read at most, success or error), and never quoted.
    pub const CREDENTIALS: AnswerLimits = AnswerLimits {
        max_success: 64 << 10,
        max_error: 64 << 10,
        quote_body: false,
    };
}

impl Default for AnswerLimits {
    fn default() -> Self {
        AnswerLimits::DEFAULT
    }
}

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes a path parameter so it stays one segment, whatever it contains (`/`, spaces, `?`).
/// `.` and `..` are refused: URL parsing treats them (even percent-encoded) as dot segments and
/// would send the request to another path.
pub fn encode_path<E>(value: &str) -> Result<String, Error<E>> {
    if value == "." || value == ".." || value.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "path parameter {value:?} cannot be sent as a URL segment"
        )));
    }
    Ok(utf8_percent_encode(value, PATH_SEGMENT).to_string())
}

/// The base URL for `key`: the caller's override if set, else the spec's default.
pub fn base_url<'a>(core: &'a crate::Core, key: &str, default: &'a str) -> &'a str {
    core.server_override(key).unwrap_or(default)
}

/// Parses a URL built from a base and an encoded path.
pub fn parse_url<E>(url: &str) -> Result<reqwest::Url, Error<E>> {
    reqwest::Url::parse(url).map_err(|e| Error::InvalidRequest(format!("invalid URL {url:?}: {e}")))
}

/// Parses an absolute URL handed back by the API (such as a session endpoint); only http(s).
pub fn absolute_url<E>(url: &str) -> Result<reqwest::Url, Error<E>> {
    let parsed = parse_url(url)?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(Error::InvalidRequest(format!(
            "endpoint URL scheme {other:?} is not http(s)"
        ))),
    }
}

/// Appends query parameters (already rendered as strings) to `url`; `None` values are skipped.
pub fn add_query(url: &mut reqwest::Url, params: &[(&str, Option<String>)]) {
    if params.iter().all(|(_, v)| v.is_none()) {
        return;
    }
    let mut pairs = url.query_pairs_mut();
    for (name, value) in params {
        if let Some(value) = value {
            pairs.append_pair(name, value);
        }
    }
}

/// Renders a query array with `explode: false` (`a,b,c`).
pub fn join_csv<T: std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Adds a header, refusing a value that is not a valid header value instead of panicking.
pub fn header<E>(
    builder: reqwest::RequestBuilder,
    name: &'static str,
    value: &str,
) -> Result<reqwest::RequestBuilder, Error<E>> {
    let value = HeaderValue::from_str(value).map_err(|_| {
        Error::InvalidRequest(format!("header {name}: value is not a valid header value"))
    })?;
    Ok(builder.header(HeaderName::from_static(name), value))
}

/// Sets an `application/octet-stream` body, with `content-length` when the length is known.
pub fn octet_stream(builder: reqwest::RequestBuilder, body: Body) -> reqwest::RequestBuilder {
    let (inner, len) = body.into_parts();
    let builder = builder.header(CONTENT_TYPE, "application/octet-stream");
    let builder = match len {
        Some(len) => builder.header(CONTENT_LENGTH, len),
        None => builder,
    };
    builder.body(inner)
}

/// Sets an `application/x-www-form-urlencoded` body: the struct's fields as `name=value` pairs,
/// `None` fields left out (generated form types skip them). Kept in memory, so a request with it
/// can be sent again after a renewed token.
pub fn form<T: serde::Serialize, E>(
    builder: reqwest::RequestBuilder,
    body: &T,
) -> Result<reqwest::RequestBuilder, Error<E>> {
    // The encoder's message names the unsupported shape, never a value.
    let text = serde_urlencoded::to_string(body)
        .map_err(|e| Error::InvalidRequest(format!("cannot encode the form body: {e}")))?;
    Ok(builder
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(text))
}

/// Builds a `multipart/form-data` body part by part, in the order the parts are added.
#[derive(Debug)]
pub struct Multipart {
    form: reqwest::multipart::Form,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    /// An empty form.
    pub fn new() -> Self {
        Multipart {
            form: reqwest::multipart::Form::new(),
        }
    }

    /// A non-binary part: the value as JSON text (as `curl -F name='{...}'` sends it).
    pub fn json_part<T: serde::Serialize, E>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Self, Error<E>> {
        let text = serde_json::to_string(value).map_err(|e| {
            Error::InvalidRequest(format!("part {name}: cannot encode as JSON: {e}"))
        })?;
        Ok(Multipart {
            form: self.form.text(name, text),
        })
    }

    /// A binary part, streamed.
    pub fn file_part<E>(self, name: &'static str, file: FilePart) -> Result<Self, Error<E>> {
        let (inner, len) = file.body.into_parts();
        let mut part = match len {
            Some(len) => reqwest::multipart::Part::stream_with_length(inner, len),
            None => reqwest::multipart::Part::stream(inner),
        };
        part = part.file_name(file.file_name.unwrap_or_else(|| name.to_string()));
        let mime = file
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        part = part.mime_str(mime).map_err(|_| {
            Error::InvalidRequest(format!("part {name}: invalid content type {mime:?}"))
        })?;
        Ok(Multipart {
            form: self.form.part(name, part),
        })
    }

    /// Sets the form as the request's body.
    pub fn apply(self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        builder.multipart(self.form)
    }
}

/// An answer reduced to what error handling needs.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The request id header (`box-request-id`, `x-request-id` or `request-id`), if any.
    pub request_id: Option<String>,
    /// The `retry-after` header, if any.
    pub retry_after: Option<String>,
    /// The `Date` header as sent, if any.
    pub date: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A response header as text, looked up without regard to case (as HTTP requires).
pub fn header_string(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The error code of a JSON error body: its `code` field, else OAuth 2.0's `error` field
/// (RFC 6749 section 5.2: `{"error": "invalid_grant", "error_description": "..."}`), if either
/// is a string.
pub fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    text("code").or_else(|| text("error"))
}

/// Reads an answer's status, ids and (capped) body.
pub async fn raw_response(response: reqwest::Response) -> Result<RawResponse, TransportError> {
    raw_response_limited(response, AnswerLimits::DEFAULT).await
}

/// Reads an answer's status, ids and body, the body up to `limits.max_error` bytes.
pub async fn raw_response_limited(
    mut response: reqwest::Response,
    limits: AnswerLimits,
) -> Result<RawResponse, TransportError> {
    let status = response.status().as_u16();
    let request_id = ["box-request-id", "x-request-id", "request-id"]
        .iter()
        .find_map(|name| header_string(&response, name));
    let retry_after = header_string(&response, "retry-after");
    let date = header_string(&response, "date");
    let body = read_capped(&mut response, limits.max_error).await?;
    Ok(RawResponse {
        status,
        request_id,
        retry_after,
        date,
        body,
    })
}

/// Reads and drops up to [`MAX_ERROR_BODY`] bytes of an answer nobody needs, so that its
/// connection can be reused; a failure only costs that connection.
pub(crate) async fn discard_capped(mut response: reqwest::Response) {
    let _ = read_capped(&mut response, MAX_ERROR_BODY).await;
}

async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Bytes, TransportError> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(TransportError::from)? {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= cap {
            break;
        }
    }
    Ok(Bytes::from(out))
}

/// Decodes a success body as `T` ([`AnswerLimits::DEFAULT`]).
pub async fn decode_json<T: serde::de::DeserializeOwned, E>(
    response: reqwest::Response,
) -> Result<T, Error<E>> {
    decode_json_limited(response, AnswerLimits::DEFAULT).await
}

/// Decodes a success body as `T`, reading at most `limits.max_success` bytes (a longer body is a
/// [`DecodeError`] saying so) and quoting the body in a decode error only when
/// `limits.quote_body`.
pub async fn decode_json_limited<T: serde::de::DeserializeOwned, E>(
    mut response: reqwest::Response,
    limits: AnswerLimits,
) -> Result<T, Error<E>> {
    let status = response.status().as_u16();
    // One byte more than allowed tells a body of exactly the cap from a longer one.
    let body = read_capped(&mut response, limits.max_success.saturating_add(1)).await?;
    if body.len() > limits.max_success {
        return Err(Error::Decode(DecodeError {
            status,
            message: format!(
                "the answer is larger than the {} bytes this operation reads",
                limits.max_success
            ),
            body_start: String::new(),
        }));
    }
    decode_bytes_limited(status, &body, limits)
}

/// Decodes bytes as `T`, reporting where it failed. An empty body (a 204, or any 2xx without
/// content, where the spec documents a JSON body) is a decode error that says so, with the status
/// that came back.
pub fn decode_bytes<T: serde::de::DeserializeOwned, E>(
    status: u16,
    body: &[u8],
) -> Result<T, Error<E>> {
    decode_bytes_limited(status, body, AnswerLimits::DEFAULT)
}

/// [`decode_bytes`], quoting the body in the error only when `limits.quote_body`. Without it the
/// message is serde_json's only when that names a field (`missing field`), which comes from the
/// schema; its other messages may quote a value (`invalid type: string "..."`), so they are
/// reduced to what failed and where.
pub fn decode_bytes_limited<T: serde::de::DeserializeOwned, E>(
    status: u16,
    body: &[u8],
    limits: AnswerLimits,
) -> Result<T, Error<E>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Decode(DecodeError {
            status,
            message: "the body is empty, but the documented success answer has a JSON body".into(),
            body_start: String::new(),
        }));
    }
    serde_json::from_slice(body).map_err(|e| {
        if limits.quote_body {
            return Error::Decode(DecodeError {
                status,
                message: e.to_string(),
                body_start: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            });
        }
        Error::Decode(DecodeError {
            status,
            message: unquoted_message(&e),
            body_start: String::new(),
        })
    })
}

/// What a decode error says of a body that must not be quoted: serde_json's message when it
/// names a field, else the kind of failure and its position.
fn unquoted_message(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("missing field") || message.starts_with("duplicate field") {
        return message;
    }
    let what = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            "the body is not JSON"
        }
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            "the body does not match the documented schema"
        }
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

/// Reads and discards a success body that the spec says is empty (so the connection is reused).
pub async fn discard_body<E>(mut response: reqwest::Response) -> Result<(), Error<E>> {
    while response
        .chunk()
        .await
        .map_err(TransportError::from)?
        .is_some()
    {}
    Ok(())
}

/// Parses a declared integer response header.
pub fn header_i64(response: &reqwest::Response, name: &str) -> Option<i64> {
    header_string(response, name).and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_stay_one_segment() {
        assert_eq!(
            encode_path::<()>("abc-1_2.3~").ok().as_deref(),
            Some("abc-1_2.3~")
        );
        assert_eq!(
            encode_path::<()>("a/b c?d").ok().as_deref(),
            Some("a%2Fb%20c%3Fd")
        );
        let url = parse_url::<()>(&format!(
            "http://h/files/{}/content",
            encode_path::<()>("../x").expect("encodes")
        ))
        .expect("url");
        assert_eq!(url.path(), "/files/..%2Fx/content");
        for bad in [".", "..", ""] {
            assert!(
                matches!(encode_path::<()>(bad), Err(Error::InvalidRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn query_arrays_are_joined_and_none_skipped() {
        let mut url = reqwest::Url::parse("http://h/x").expect("url");
        add_query(
            &mut url,
            &[("fields", Some(join_csv(&["id", "name"]))), ("limit", None)],
        );
        assert_eq!(url.query(), Some("fields=id%2Cname"));
    }

    #[test]
    fn absolute_urls_must_be_http() {
        assert!(absolute_url::<()>("http://127.0.0.1:1/api/2.0/files/upload_sessions/X").is_ok());
        assert!(matches!(
            absolute_url::<()>("file:///etc/passwd"),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            absolute_url::<()>("not a url"),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn an_empty_body_is_a_decode_error_naming_the_status() {
        for body in [&b""[..], b"  \r\n"] {
            match decode_bytes::<serde_json::Value, ()>(204, body) {
                Err(Error::Decode(d)) => {
                    assert_eq!(d.status, 204);
                    assert!(d.message.contains("body is empty"), "{}", d.message);
                    assert!(d.to_string().starts_with("HTTP 204 "), "{d}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn decode_failure_keeps_status_and_body_start() {
        let err = decode_bytes::<Vec<u8>, ()>(201, b"{\"oops\":1}").expect_err("not an array");
        match err {
            Error::Decode(d) => {
                assert_eq!(d.status, 201);
                assert!(d.body_start.contains("oops"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // Read by serde only.
    struct Token {
        access_token: String,
        expires_in: i64,
    }

    #[test]
    fn a_credentials_answer_is_never_quoted() {
        let limits = AnswerLimits::CREDENTIALS;
        for (body, says) in [
            (
                &br#"{"access_token":"LEAKED-TOKEN"}"#[..],
                "missing field `expires_in`",
            ),
            (
                br#"{"access_token":"LEAKED-TOKEN","expires_in":"LEAKED-TOO"}"#,
                "does not match",
            ),
            (br#"{"access_token":"LEAKED-TOKEN""#, "not JSON"),
        ] {
            match decode_bytes_limited::<Token, ()>(200, body, limits) {
                Err(Error::Decode(d)) => {
                    let shown = format!("{d} {d:?}");
                    assert!(!shown.contains("LEAKED"), "{shown}");
                    assert!(d.body_start.is_empty(), "{shown}");
                    assert!(d.message.contains(says), "{shown}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // The default limits quote, as before.
        match decode_bytes::<Token, ()>(200, br#"{"access_token":"T"}"#) {
            Err(Error::Decode(d)) => assert!(d.body_start.contains("access_token")),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A one-answer HTTP server on loopback, for reading real responses.
    async fn answered(body: &'static str) -> reqwest::Response {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(answer.as_bytes()).await;
        });
        reqwest::get(format!("http://{addr}/"))
            .await
            .expect("answered")
    }

    #[tokio::test]
    async fn an_answer_over_the_operations_cap_is_a_decode_error_read_no_further() {
        let limits = AnswerLimits {
            max_success: 16,
            ..AnswerLimits::CREDENTIALS
        };
        let long = r#"{"access_token":"LEAKED-TOKEN","expires_in":1}"#;
        match decode_json_limited::<Token, ()>(answered(long).await, limits).await {
            Err(Error::Decode(d)) => {
                assert!(d.message.contains("larger than the 16 bytes"), "{d}");
                assert!(!format!("{d:?}").contains("LEAKED"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let exact = r#"{"access_token":"A","expires_in":1}"#;
        let limits = AnswerLimits {
            max_success: exact.len(),
            ..limits
        };
        let token: Token = decode_json_limited::<_, ()>(answered(exact).await, limits)
            .await
            .expect("a body of exactly the cap is read");
        assert_eq!(token.expires_in, 1);
    }
}
