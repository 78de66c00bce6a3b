//! What handlers read from a request: query parameters (as extractors), headers, and JSON
//! bodies with bounded size and value counts.

use crate::body::{BodyError, BodyStream};
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Map, Value};
use std::convert::Infallible;

/// Largest JSON body accepted (create session, preflight).
pub(crate) const JSON_LIMIT: u64 = 1024 * 1024;
/// Largest commit body (a parts list of 10000 parts is about 1 MiB).
pub(crate) const COMMIT_JSON_LIMIT: u64 = 16 * 1024 * 1024;
/// Most values a JSON body (or the `attributes` part) may hold. A body is parsed into a tree
/// that costs 30 to 100 bytes a value, so a 1 MiB body of `[0,0,0,...]` would otherwise take
/// tens of MiB; this keeps the memory a request can cost bounded whatever the body's shape.
pub(crate) const JSON_MAX_VALUES: usize = 10_000;
/// Values allowed per part in a commit body (a part entry has 5), beyond [`JSON_MAX_VALUES`].
pub(crate) const COMMIT_VALUES_PER_PART: u64 = 8;

/// The decoded query string, as a handler argument (an unparsable query reads as empty).
pub(crate) struct Query(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Query(query_pairs(&parts.uri)))
    }
}

impl Query {
    pub fn get(&self, key: &str) -> Option<&str> {
        query_get(&self.0, key)
    }

    /// An `offset`/`limit` style value (`default` when absent).
    pub fn u64(&self, key: &str, default: u64) -> Result<u64, ApiError> {
        query_u64(&self.0, key, default)
    }

    /// The `fields` parameter.
    pub fn fields(&self) -> Option<Vec<String>> {
        fields_param(&self.0)
    }
}

/// The `fields` query parameter (`fields=id,type,name`), as a handler argument.
pub(crate) struct Fields(pub Option<Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Fields {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Fields(fields_param(&query_pairs(&parts.uri))))
    }
}

impl Fields {
    pub fn as_deref(&self) -> Option<&[String]> {
        self.0.as_deref()
    }
}

/// The `if-match` header (a value that is not text reads as `"\u{fffd}"`, matching no etag),
/// as a handler argument.
pub(crate) struct IfMatch(pub Option<String>);

/// The `if-none-match` header, as a handler argument.
pub(crate) struct IfNoneMatch(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(IfMatch(
            header_str(&parts.headers, "if-match").map(str::to_string),
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(IfNoneMatch(
            header_str(&parts.headers, "if-none-match").map(str::to_string),
        ))
    }
}

/// Decoded query pairs (an unparsable query reads as empty).
pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The `fields` query parameter (`fields=id,type,name`).
pub(crate) fn fields_param(pairs: &[(String, String)]) -> Option<Vec<String>> {
    query_get(pairs, "fields").map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// Parses an `offset`/`limit` style query value.
pub(crate) fn query_u64(
    pairs: &[(String, String)],
    key: &str,
    default: u64,
) -> Result<u64, ApiError> {
    match query_get(pairs, key) {
        None => Ok(default),
        Some(v) => crate::util::parse_u64_digits(v.trim())
            .ok_or_else(|| ApiError::bad_request(format!("Invalid value for '{key}': {v:?}"))),
    }
}

/// A header's value as text (one that is not text reads as `"\u{fffd}"`).
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

/// Box's answer to a body that could not be read.
pub(crate) fn body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge(limit) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_entity_too_large",
            format!("Request body is larger than {limit} bytes"),
        ),
        BodyError::Timeout => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            e.to_string(),
        )
        .closing(),
        BodyError::Transport(_) => ApiError::bad_request(e.to_string()).closing(),
    }
}

/// Reads a JSON object body of at most `limit` bytes and `max_values` values (see
/// [`json_value_count`]). An empty body reads as `{}`.
pub(crate) async fn read_json_object(
    body: &mut BodyStream,
    limit: u64,
    max_values: usize,
) -> Result<Map<String, Value>, ApiError> {
    let data = body.read_limited(limit).await.map_err(body_error)?;
    parse_json_object(&data, max_values)
}

/// Parses a JSON object body: `400 bad_request` if it is not JSON, not an object, nested
/// too deeply (serde_json's limit of 128 levels) or holds more than `max_values` values.
/// Blank input reads as `{}`.
pub(crate) fn parse_json_object(
    data: &[u8],
    max_values: usize,
) -> Result<Map<String, Value>, ApiError> {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    if json_value_count(data) > max_values {
        return Err(ApiError::bad_request(format!(
            "The JSON body holds too many values (more than {max_values})"
        )));
    }
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!("Invalid JSON body: {e}"))),
    }
}

/// The number of values in a JSON text plus one per empty array or object (so never less
/// than the values serde_json would build), found without parsing it: one, plus one per
/// `[`, `{` and `,` outside strings.
pub(crate) fn json_value_count(data: &[u8]) -> usize {
    let mut count = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in data {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' | b',' => count += 1,
                _ => {}
            }
        }
    }
    count
}
