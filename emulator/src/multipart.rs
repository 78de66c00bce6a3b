//! A streaming `multipart/form-data` reader (RFC 7578 / RFC 2046).
//!
//! Memory stays bounded: part bodies are handed out chunk by chunk as they arrive, and only
//! a tail shorter than the delimiter is kept back between chunks. Part headers are capped.

use crate::body::{BodyError, BodyStream};
use bytes::{Buf as _, Bytes, BytesMut};

const MAX_HEADER_BLOCK: usize = 16 * 1024;
const MAX_PREAMBLE: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum MultipartError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("malformed multipart body: {0}")]
    Malformed(&'static str),
}

/// The headers of one part that matter here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PartInfo {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    AfterDelimiter,
    Headers,
    Body,
    Done,
}

pub(crate) struct Multipart<'a> {
    body: &'a mut BodyStream,
    buf: BytesMut,
    delimiter: Vec<u8>,
    state: State,
    preamble_seen: u64,
}

/// Extracts the boundary from a `content-type: multipart/form-data; boundary=...` value.
pub(crate) fn boundary_from_content_type(ct: &str) -> Option<String> {
    let mut parts = ct.split(';');
    let mime = parts.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim().trim_matches('"');
            if v.is_empty() || v.len() > 200 {
                return None;
            }
            return Some(v.to_string());
        }
    }
    None
}

impl<'a> Multipart<'a> {
    pub fn new(body: &'a mut BodyStream, boundary: &str) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        // The first delimiter has no CRLF before it; pretend it had one.
        let mut buf = BytesMut::with_capacity(64 * 1024);
        buf.extend_from_slice(b"\r\n");
        Multipart {
            body,
            buf,
            delimiter,
            state: State::Preamble,
            preamble_seen: 0,
        }
    }

    /// Reads one more chunk into the buffer; false at the end of the body.
    async fn fill(&mut self) -> Result<bool, MultipartError> {
        match self.body.next_chunk().await? {
            Some(chunk) => {
                self.buf.extend_from_slice(&chunk);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Moves to the next part and returns its headers; `None` after the closing delimiter.
    /// Whatever was left of the current part's body is skipped.
    pub async fn next_part(&mut self) -> Result<Option<PartInfo>, MultipartError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Body => while self.next_chunk().await?.is_some() {},
                State::Preamble => {
                    if let Some(pos) = memchr::memmem::find(&self.buf, &self.delimiter) {
                        self.buf.advance(pos + self.delimiter.len());
                        self.state = State::AfterDelimiter;
                        continue;
                    }
                    let keep = self.delimiter.len() - 1;
                    if self.buf.len() > keep {
                        let drop = self.buf.len() - keep;
                        self.preamble_seen += drop as u64;
                        self.buf.advance(drop);
                    }
                    if self.preamble_seen > MAX_PREAMBLE {
                        return Err(MultipartError::Malformed("no boundary found"));
                    }
                    if !self.fill().await? {
                        return Err(MultipartError::Malformed("no boundary found"));
                    }
                }
                State::AfterDelimiter => {
                    // Either "--" (close delimiter) or optional whitespace then CRLF.
                    while self.buf.len() < 2 {
                        if !self.fill().await? {
                            return Err(MultipartError::Malformed("truncated after boundary"));
                        }
                    }
                    if &self.buf[..2] == b"--" {
                        self.state = State::Done;
                        self.buf.clear();
                        return Ok(None);
                    }
                    loop {
                        if let Some(pos) = memchr::memmem::find(&self.buf, b"\r\n") {
                            if self.buf[..pos].iter().any(|b| *b != b' ' && *b != b'\t') {
                                return Err(MultipartError::Malformed(
                                    "unexpected bytes after boundary",
                                ));
                            }
                            self.buf.advance(pos + 2);
                            break;
                        }
                        if self.buf.len() > 1024 {
                            return Err(MultipartError::Malformed("boundary line too long"));
                        }
                        if !self.fill().await? {
                            return Err(MultipartError::Malformed("truncated after boundary"));
                        }
                    }
                    self.state = State::Headers;
                }
                State::Headers => {
                    let end = loop {
                        if self.buf.starts_with(b"\r\n") {
                            break 0;
                        }
                        if let Some(pos) = memchr::memmem::find(&self.buf, b"\r\n\r\n") {
                            break pos + 2;
                        }
                        if self.buf.len() > MAX_HEADER_BLOCK {
                            return Err(MultipartError::Malformed("part headers too large"));
                        }
                        if !self.fill().await? {
                            return Err(MultipartError::Malformed("truncated part headers"));
                        }
                    };
                    let block = self.buf.split_to(end);
                    self.buf.advance(2); // the empty line
                    let info = parse_part_headers(&block)?;
                    self.state = State::Body;
                    return Ok(Some(info));
                }
            }
        }
    }

    /// The next chunk of the current part's body; `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        if self.state != State::Body {
            return Ok(None);
        }
        loop {
            if let Some(pos) = memchr::memmem::find(&self.buf, &self.delimiter) {
                if pos > 0 {
                    return Ok(Some(self.buf.split_to(pos).freeze()));
                }
                self.buf.advance(self.delimiter.len());
                self.state = State::AfterDelimiter;
                return Ok(None);
            }
            // Everything except a tail that could begin a delimiter is part data.
            let keep = self.delimiter.len() - 1;
            if self.buf.len() > keep {
                let n = self.buf.len() - keep;
                return Ok(Some(self.buf.split_to(n).freeze()));
            }
            if !self.fill().await? {
                return Err(MultipartError::Malformed("truncated part body"));
            }
        }
    }

    /// Reads the rest of the current part into memory, refusing more than `limit` bytes.
    pub async fn read_part_limited(
        &mut self,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, MultipartError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            if out.len() + chunk.len() > limit {
                return Ok(None);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(out))
    }
}

fn parse_part_headers(block: &[u8]) -> Result<PartInfo, MultipartError> {
    let text = std::str::from_utf8(block)
        .map_err(|_| MultipartError::Malformed("part headers are not UTF-8"))?;
    let mut info = PartInfo::default();
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(MultipartError::Malformed("bad part header line"));
        };
        let name = name.trim();
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            let (name, filename) = parse_content_disposition(value);
            info.name = name;
            info.filename = filename;
        } else if name.eq_ignore_ascii_case("content-type") {
            info.content_type = Some(value.to_string());
        }
    }
    Ok(info)
}

/// Returns the `name` and `filename` parameters of `form-data; name="x"; filename="y"`.
pub(crate) fn parse_content_disposition(value: &str) -> (Option<String>, Option<String>) {
    let mut name = None;
    let mut filename = None;
    let mut rest = value;
    // Skip the disposition type.
    match rest.find(';') {
        Some(i) => rest = &rest[i + 1..],
        None => return (None, None),
    }
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let val;
        if let Some(after) = rest.strip_prefix('"') {
            // Quoted string with backslash escapes.
            let mut out = String::new();
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            val = out;
            rest = &after[end.min(after.len())..];
            match rest.find(';') {
                Some(i) => rest = &rest[i + 1..],
                None => rest = "",
            }
        } else {
            match rest.find(';') {
                Some(i) => {
                    val = rest[..i].trim().to_string();
                    rest = &rest[i + 1..];
                }
                None => {
                    val = rest.trim().to_string();
                    rest = "";
                }
            }
        }
        match key.as_str() {
            "name" => name = Some(val),
            "filename" => filename = Some(val),
            _ => {}
        }
    }
    (name, filename)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition() {
        assert_eq!(
            parse_content_disposition(r#"form-data; name="file"; filename="a \"b\".txt""#),
            (Some("file".into()), Some("a \"b\".txt".into()))
        );
        assert_eq!(
            parse_content_disposition("form-data; name=attributes"),
            (Some("attributes".into()), None)
        );
        assert_eq!(parse_content_disposition("form-data"), (None, None));
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary_from_content_type("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary_from_content_type("Multipart/Form-Data; charset=x; Boundary=\"a b\"")
                .as_deref(),
            Some("a b")
        );
        assert_eq!(boundary_from_content_type("application/json"), None);
    }

    async fn parse_all(
        body: Vec<Vec<u8>>,
        boundary: &str,
    ) -> Result<Vec<(PartInfo, Vec<u8>)>, String> {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            body.into_iter().map(|c| Ok(Bytes::from(c))).collect();
        let stream = futures_util::stream::iter(chunks);
        let mut bs = BodyStream::new(axum::body::Body::from_stream(stream));
        let mut mp = Multipart::new(&mut bs, boundary);
        let mut out = Vec::new();
        while let Some(info) = mp.next_part().await.map_err(|e| e.to_string())? {
            let mut data = Vec::new();
            while let Some(c) = mp.next_chunk().await.map_err(|e| e.to_string())? {
                data.extend_from_slice(&c);
            }
            out.push((info, data));
        }
        Ok(out)
    }

    #[tokio::test]
    async fn parses_in_any_chunking() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attributes\"\r\n\r\n{\"name\":\"a\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--Xy\r\n-\r\n--XyZ--\r\nepilogue".to_vec();
        for size in [1usize, 2, 3, 7, 16, 1000] {
            let chunks: Vec<Vec<u8>> = body.chunks(size).map(|c| c.to_vec()).collect();
            let parts = parse_all(chunks, "XyZ").await.unwrap();
            assert_eq!(parts.len(), 2, "chunk size {size}");
            assert_eq!(parts[0].0.name.as_deref(), Some("attributes"));
            assert_eq!(parts[0].1, b"{\"name\":\"a\"}");
            assert_eq!(parts[1].0.filename.as_deref(), Some("a"));
            assert_eq!(parts[1].1, b"hello\r\n--Xy\r\n-");
        }
    }

    #[tokio::test]
    async fn truncated_body_is_an_error() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc".to_vec();
        assert!(parse_all(vec![body], "b").await.is_err());
    }
}
