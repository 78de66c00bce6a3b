//! The upload engine: one call puts a file into Box, whatever its size and whatever the network
//! does.
//!
//! - Below the chunked cutoff (default 50 MiB; never chunked below Box's 20,000,000-byte
//!   minimum), a single request with the file's SHA-1 in `content-md5`.
//! - Above it, an upload session: one ordered reader fills part buffers from a fixed pool of
//!   `concurrency + 1` buffers, hashing every byte once into both the whole-file SHA-1 and the
//!   part's SHA-1; parts upload in parallel (default 4, shared by every upload of one
//!   [`Uploader`]); every answer is checked (offset, size, SHA-1); the commit lists the parts in
//!   offset order with the whole-file digest, waits out 202s until its deadline, and the stored
//!   file's size and SHA-1 are checked against the local ones.
//! - Faults: 429, 5xx, timeouts and broken connections are retried with capped exponential
//!   back-off and jitter, honouring `retry-after`, under an attempt budget and a deadline; other
//!   4xx are not. A part whose upload failed ambiguously is looked up (list parts) before being
//!   sent again; an overlap answer for a part with our offset and SHA-1 is success.
//! - Resume: with a state file, a killed upload started again with the same state file resumes
//!   its session, verifies the stored parts against the local data and uploads only the rest.
//!
//! ```no_run
//! # async fn demo(client: box_uploads::Client) -> Result<(), box_uploads::upload::UploadError> {
//! use box_uploads::upload::{Upload, Uploader};
//!
//! let uploader = Uploader::new(client);
//! let file = uploader
//!     .upload(Upload::new_file("0", "report.pdf").from_path("report.pdf"))
//!     .await?;
//! println!("stored as file {}", file.id);
//!
//! // A new version, only if nobody changed the file since we saw etag "3".
//! let file = uploader
//!     .upload(Upload::new_version(&file.id).if_match("3").from_bytes(b"new content".to_vec()))
//!     .await?;
//! # let _ = file; Ok(()) }
//! ```

mod api;
mod chunked;
mod client_impl;
mod digest;
mod direct;
mod engine;
mod error;
mod handle;
mod layout;
mod pool;
mod progress;
mod reader;
mod resume;
mod retry;
mod source;
#[cfg(test)]
mod tests;
mod uploader;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncRead;

pub use api::{CallError, CallErrorKind, PartRecord, SessionEndpoints};
pub(crate) use client_impl::call_error;
pub use digest::Sha1Digest;
pub use error::{UploadError, UploadErrorKind};
pub use handle::{Aborter, UploadHandle};
pub use layout::{PartLayout, PartSpan};
pub use progress::{Phase, Progress, ProgressEvent};
pub(crate) use retry::jittered;
pub use retry::RetryPolicy;
pub use source::{Source, SourceIdentity};
pub use uploader::Uploader;

use api::Target;

/// Box's smallest chunked upload, in bytes (decimal, as Box's SDKs use it).
pub const BOX_MIN_CHUNKED_SIZE: u64 = 20_000_000;
/// Default size above which uploads are chunked: 50 MiB.
pub const DEFAULT_CHUNKED_CUTOFF: u64 = 50 * 1024 * 1024;

/// One upload: what to create and where the bytes come from.
///
/// ```
/// use box_uploads::upload::Upload;
/// use std::time::Duration;
///
/// let new_file = Upload::new_file("0", "video.mp4")
///     .from_path("/data/video.mp4")
///     .state_file("/tmp/video.upload.json"); // resumable after a crash
///
/// let new_version = Upload::new_version("12345")
///     .if_match("7")
///     .rename("video-v2.mp4")
///     .from_reader(tokio::io::empty(), 0)
///     .commit_deadline(Duration::from_secs(600));
/// # let _ = (new_file, new_version);
/// ```
#[derive(Debug)]
pub struct Upload {
    pub(crate) target: Target,
    pub(crate) source: Option<Source>,
    pub(crate) if_match: Option<String>,
    pub(crate) chunked_cutoff: Option<u64>,
    pub(crate) state_file: Option<PathBuf>,
    pub(crate) keep_session_on_failure: bool,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) commit_deadline: Option<Duration>,
    pub(crate) preserve_dates: bool,
}

impl Upload {
    fn with_target(target: Target) -> Self {
        Upload {
            target,
            source: None,
            if_match: None,
            chunked_cutoff: None,
            state_file: None,
            keep_session_on_failure: false,
            retry: None,
            commit_deadline: None,
            preserve_dates: true,
        }
    }

    /// A new file called `name` in folder `folder_id` (`"0"` is the root folder).
    pub fn new_file(folder_id: impl Into<String>, name: impl Into<String>) -> Self {
        Upload::with_target(Target::NewFile {
            folder_id: folder_id.into(),
            name: name.into(),
        })
    }

    /// A new version of file `file_id`; the file keeps its name unless [`Upload::rename`]d.
    /// Its earlier versions are kept by Box.
    pub fn new_version(file_id: impl Into<String>) -> Self {
        Upload::with_target(Target::NewVersion {
            file_id: file_id.into(),
            name: None,
        })
    }

    /// For a new version: store it under this new name.
    pub fn rename(mut self, name: impl Into<String>) -> Self {
        if let Target::NewVersion { name: slot, .. } = &mut self.target {
            *slot = Some(name.into());
        }
        self
    }

    /// For a new version: only if the file's etag is still `etag` (else HTTP 412,
    /// [`UploadError::is_precondition_failed`], on the direct and the chunked path alike). A 412
    /// to a retry after a lost answer is no failure when the file now holds this content (the
    /// lost attempt stored the version and so changed the etag): the upload returns the file. A
    /// new file has no etag: an upload of one with `if_match` is refused as invalid input.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// The content: a file on disk.
    pub fn from_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = Some(Source::path(path));
        self
    }

    /// The content: a reader yielding exactly `size` bytes (fewer or more is an error and
    /// nothing is committed).
    pub fn from_reader<R>(mut self, reader: R, size: u64) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.source = Some(Source::reader(reader, size));
        self
    }

    /// The content: bytes in memory.
    pub fn from_bytes(mut self, bytes: impl Into<Bytes>) -> Self {
        self.source = Some(Source::bytes(bytes));
        self
    }

    /// The content, from a [`Source`].
    pub fn from_source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// Size above which this upload is chunked (default: the uploader's,
    /// [`DEFAULT_CHUNKED_CUTOFF`]). Never chunked below the uploader's minimum chunked size.
    pub fn chunked_cutoff(mut self, bytes: u64) -> Self {
        self.chunked_cutoff = Some(bytes);
        self
    }

    /// Records the session and the parts stored in this file (atomically, after every part), so
    /// that running the same upload again after a crash resumes it. Removed after the commit.
    /// A chunked upload with a state file keeps its session on failure.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Keep the upload session on a fatal error instead of aborting it (the error carries the
    /// session id).
    pub fn keep_session_on_failure(mut self, keep: bool) -> Self {
        self.keep_session_on_failure = keep;
        self
    }

    /// Retry policy for this upload's calls (default: the uploader's).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// How long the commit may keep answering 202 (default: the uploader's, 10 minutes).
    pub fn commit_deadline(mut self, deadline: Duration) -> Self {
        self.commit_deadline = Some(deadline);
        self
    }

    /// For a [`from_path`](Upload::from_path) source: send the file's modification time (and
    /// its creation time, where the platform records one; never for a new version) as the
    /// content's dates, so the file keeps them in Box. Default on; other sources have no dates.
    pub fn preserve_dates(mut self, preserve: bool) -> Self {
        self.preserve_dates = preserve;
        self
    }
}

/// Settings of an [`Uploader`], shared by all its uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadConfig {
    /// Parts in flight at once, across every upload of the uploader. Default 4 (Box
    /// recommends 3 to 5).
    pub concurrency: usize,
    /// Memory for part buffers of one upload: the concurrency of an upload is lowered so that
    /// `(concurrency + 1) x part_size` fits (never below 1). Default 256 MiB.
    pub memory_cap: u64,
    /// Size above which uploads are chunked. Default 50 MiB.
    pub chunked_cutoff: u64,
    /// Smallest size ever chunked. Default Box's 20,000,000 bytes; lower it only for a server
    /// that accepts smaller sessions (such as a test emulator).
    pub min_chunked_size: u64,
    /// Retry policy of every call. Default [`RetryPolicy::default`].
    pub retry: RetryPolicy,
    /// How long a commit may keep answering 202. Default 10 minutes.
    pub commit_deadline: Duration,
    /// Time allowed for one request before its transfer time. Default 60 s.
    pub request_timeout_base: Duration,
    /// Slowest acceptable throughput, in bytes per second: an attempt at sending `n` bytes
    /// times out after `request_timeout_base + n / min_throughput`. Default 32 KiB/s.
    pub min_throughput: u64,
    /// Commits answered `400 parts_mismatch` (Box not listing the last parts yet) that are
    /// tried again, within the commit deadline. Default 100, as rclone's `commit_retries`.
    pub parts_mismatch_retries: u32,
    /// Longest wait between two commits answered `parts_mismatch`: the waits grow from the
    /// retry policy's first back-off to this. Default 10 s (rclone's wait).
    pub parts_mismatch_max_wait: Duration,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            concurrency: 4,
            memory_cap: 256 * 1024 * 1024,
            chunked_cutoff: DEFAULT_CHUNKED_CUTOFF,
            min_chunked_size: BOX_MIN_CHUNKED_SIZE,
            retry: RetryPolicy::default(),
            commit_deadline: Duration::from_secs(600),
            request_timeout_base: Duration::from_secs(60),
            min_throughput: 32 * 1024,
            parts_mismatch_retries: 100,
            parts_mismatch_max_wait: Duration::from_secs(10),
        }
    }
}
