//! Request bodies that stream: a part of a file is never copied into a growing buffer.

use bytes::Bytes;
use futures_util::TryStream;
use tokio::io::AsyncRead;

/// An `application/octet-stream` body with its length, when known, so that `content-length`
/// can be sent instead of chunked transfer encoding.
#[derive(Debug)]
pub struct Body {
    inner: reqwest::Body,
    len: Option<u64>,
}

impl Body {
    /// A body from bytes already in memory (cheap to clone for a retry: `Bytes` is shared).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let len = bytes.len() as u64;
        Body {
            inner: reqwest::Body::from(bytes),
            len: Some(len),
        }
    }

    /// A body read from `reader` as it is sent; `len` is the number of bytes it will yield.
    pub fn from_reader<R>(reader: R, len: u64) -> Self
    where
        R: AsyncRead + Send + Sync + 'static,
    {
        let stream = tokio_util::io::ReaderStream::new(reader);
        Body {
            inner: reqwest::Body::wrap_stream(stream),
            len: Some(len),
        }
    }

    /// A body from a stream of chunks; `len` is the total if known.
    pub fn from_stream<S>(stream: S, len: Option<u64>) -> Self
    where
        S: TryStream + Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        Bytes: From<S::Ok>,
    {
        Body {
            inner: reqwest::Body::wrap_stream(stream),
            len,
        }
    }

    /// The declared length, if known.
    pub fn len(&self) -> Option<u64> {
        self.len
    }

    /// True when the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len == Some(0)
    }

    pub(crate) fn into_parts(self) -> (reqwest::Body, Option<u64>) {
        (self.inner, self.len)
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::from_bytes(bytes)
    }
}

/// A binary part of a `multipart/form-data` body.
#[derive(Debug)]
pub struct FilePart {
    /// The bytes.
    pub body: Body,
    /// The part's file name (default: the part's name).
    pub file_name: Option<String>,
    /// The part's content type (default `application/octet-stream`).
    pub content_type: Option<String>,
}

impl FilePart {
    /// A part of these bytes.
    pub fn new(body: impl Into<Body>) -> Self {
        FilePart {
            body: body.into(),
            file_name: None,
            content_type: None,
        }
    }

    /// Sets the part's file name.
    pub fn with_file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// Sets the part's content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

impl From<Body> for FilePart {
    fn from(body: Body) -> Self {
        FilePart::new(body)
    }
}
