//! The upload engine: one call puts a file into Box, whatever its size and whatever the network
//! does.
//!
//! - Below the chunked cutoff (default 50 MiB; never chunked below Box's 20,000,000-byte
//!   minimum), a single request with the file's SHA-1 in `content-md5`.
//! - Above it, an upload session: one ordered reader hashes every byte once into both the
//!   whole-file SHA-1 and the part's SHA-1. A file on disk is then sent part by part from the
//!   buffers it was hashed in while [`UploadConfig::memory_cap`] holds them, the other parts
//!   with positioned re-reads in 1 MiB pieces (a file changed before the commit fails
//!   [`UploadErrorKind::SourceChanged`], nothing committed); bytes in memory are sent as slices; a reader's parts
//!   wait in a fixed pool of `parts in flight + 1` buffers within the memory cap. Parts upload
//!   in parallel under one budget shared by every upload of an [`Uploader`]: by default
//!   adaptive ([`Concurrency`]: it grows while each added part adds throughput, and backs off
//!   on 429s, 5xx, timeouts and a full link), or pinned.
//!   Every answer is checked (offset, size, SHA-1); the commit lists the parts in offset order
//!   with the whole-file digest, waits out 202s until its deadline, and the stored file's size
//!   and SHA-1 are checked against the local ones.
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

mod adaptive;
mod calls;
mod chunked;
mod client_impl;
mod conflict;
mod context;
mod direct;
mod engine;
mod error;
mod failure;
mod handle;
mod identity;
mod layout;
mod limits;
mod naming;
mod part_memory;
mod pool;
mod progress;
mod reader;
mod reread;
mod resume;
mod source;
mod stored;
#[cfg(test)]
mod tests;
mod uploader;

use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncRead;

pub use crate::conflict::OnConflict;
pub use crate::digest::Sha1Digest;
pub use crate::retry::RetryPolicy;
pub use adaptive::ParallelismStats;
#[cfg(test)]
pub(crate) use calls::fake_answers;
pub use calls::{CallError, CallErrorKind, PartRecord, SessionEndpoints};
pub(crate) use client_impl::call_error;
pub use conflict::{OutcomeReceiver, UploadOutcome, Uploaded};
pub use error::{ExistingItem, Missing, SizeLimit, UploadError, UploadErrorKind};
pub use handle::{Aborter, UploadHandle};
pub use identity::SourceIdentity;
pub use layout::{PartLayout, PartSpan};
pub use progress::{Phase, Progress, ProgressEvent};
pub use source::Source;
pub use uploader::Uploader;

use calls::Target;

/// Box's smallest chunked upload, in bytes (decimal, as Box's SDKs use it).
pub const BOX_MIN_CHUNKED_SIZE: u64 = 20_000_000;
/// Default size above which uploads are chunked: 50 MiB.
pub const DEFAULT_CHUNKED_CUTOFF: u64 = 50 * 1024 * 1024;

/// One upload: what to create and where the bytes come from.
///
/// The target is in the type: [`Upload::new_file`] gives an `Upload<NewFile>`,
/// [`Upload::new_version`] an `Upload<NewVersion>`, and only the latter has
/// [`rename`](Upload::rename) and [`if_match`](Upload::if_match). Either converts into an
/// `Upload<AnyTarget>` (plain `Upload`) with `.into()`, for code that builds one or the other.
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
///
/// // One type for either, when the choice is made at run time.
/// let either: Vec<Upload> = vec![new_file.into(), new_version.into()];
/// # let _ = either;
/// ```
///
/// A new file has no earlier name to change nor etag to compare:
///
/// ```compile_fail
/// let upload = box_uploads::upload::Upload::new_file("0", "a.txt").rename("b.txt");
/// ```
///
/// ```compile_fail
/// let upload = box_uploads::upload::Upload::new_file("0", "a.txt").if_match("3");
/// ```
///
/// and neither has an upload whose target was chosen at run time:
///
/// ```compile_fail
/// use box_uploads::upload::Upload;
/// let upload: Upload = Upload::new_version("12345").into();
/// let upload = upload.if_match("3");
/// ```
#[derive(Debug)]
pub struct Upload<T = AnyTarget> {
    pub(crate) target: Target,
    pub(crate) source: Option<Source>,
    pub(crate) if_match: Option<String>,
    pub(crate) chunked_cutoff: Option<u64>,
    pub(crate) state_file: Option<PathBuf>,
    pub(crate) keep_session_on_failure: bool,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) commit_deadline: Option<Duration>,
    pub(crate) preserve_dates: bool,
    pub(crate) reuse_parts: Option<bool>,
    /// A new file's conflict policy, when one was given.
    pub(crate) on_conflict: Option<OnConflict>,
    pub(crate) kind: PhantomData<fn() -> T>,
}

/// The target of an [`Upload<NewFile>`](Upload): a new file in a folder.
#[derive(Debug, Clone, Copy)]
pub enum NewFile {}

/// The target of an [`Upload<NewVersion>`](Upload): a new version of a file.
#[derive(Debug, Clone, Copy)]
pub enum NewVersion {}

/// The target of an [`Upload<AnyTarget>`](Upload) (plain `Upload`): a new file or a new
/// version, chosen at run time.
#[derive(Debug, Clone, Copy)]
pub enum AnyTarget {}

/// What an [`Upload`] creates: [`NewFile`], [`NewVersion`] or [`AnyTarget`] (sealed).
pub trait UploadTarget: sealed::Sealed {}
impl UploadTarget for NewFile {}
impl UploadTarget for NewVersion {}
impl UploadTarget for AnyTarget {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NewFile {}
    impl Sealed for super::NewVersion {}
    impl Sealed for super::AnyTarget {}
}

impl<T> Upload<T> {
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
            reuse_parts: None,
            on_conflict: None,
            kind: PhantomData,
        }
    }

    /// The same upload, with its target known only at run time.
    pub(crate) fn into_any(self) -> Upload<AnyTarget> {
        Upload {
            target: self.target,
            source: self.source,
            if_match: self.if_match,
            chunked_cutoff: self.chunked_cutoff,
            state_file: self.state_file,
            keep_session_on_failure: self.keep_session_on_failure,
            retry: self.retry,
            commit_deadline: self.commit_deadline,
            preserve_dates: self.preserve_dates,
            reuse_parts: self.reuse_parts,
            on_conflict: self.on_conflict,
            kind: PhantomData,
        }
    }
}

impl From<Upload<NewFile>> for Upload<AnyTarget> {
    fn from(upload: Upload<NewFile>) -> Self {
        upload.into_any()
    }
}

impl From<Upload<NewVersion>> for Upload<AnyTarget> {
    fn from(upload: Upload<NewVersion>) -> Self {
        upload.into_any()
    }
}

impl Upload<NewFile> {
    /// A new file called `name` in folder `folder_id` (`"0"` is the root folder).
    pub fn new_file(folder_id: impl Into<String>, name: impl Into<String>) -> Self {
        Upload::with_target(Target::NewFile {
            folder_id: folder_id.into(),
            name: name.into(),
        })
    }

    /// What to do when Box already holds the name in the folder: the policy trees use
    /// ([`OnConflict`]; its default, [`OnConflict::Version`], is the one trees and the command
    /// line apply). The name is looked up before any byte is sent, and the content is skipped
    /// whatever the policy when the file holding the name has the same size and SHA-1 (a file
    /// or bytes are hashed to compare; a reader cannot be read twice and is never found the
    /// same). [`Version`](OnConflict::Version) uploads a new version of that file (only over
    /// the etag looked up), [`Skip`](OnConflict::Skip) leaves it, [`Rename`](OnConflict::Rename)
    /// skips if a renamed copy `name (n).ext` has the same content and else takes the first
    /// free `name (n).ext`, and [`Fail`](OnConflict::Fail) fails with
    /// [`UploadErrorKind::Conflict`] naming the file (its id and name) and the policies that
    /// would go ahead. [`Uploader::upload`] returns the file committed or, for a skip, the one
    /// Box holds; [`Uploader::upload_with_outcome`] also says which ([`UploadOutcome`]).
    ///
    /// Without a policy nothing is looked up: a name in use fails with
    /// [`UploadErrorKind::Conflict`] as Box answers it, which callers matching on it rely on,
    /// and no request is added to an upload whose name is free (a lookup costs one, two for a
    /// rename). Give `OnConflict::default()` for the trees' behaviour.
    ///
    /// ```no_run
    /// # async fn demo(uploader: box_uploads::upload::Uploader) -> Result<(), box_uploads::upload::UploadError> {
    /// use box_uploads::upload::{OnConflict, Upload, UploadOutcome};
    ///
    /// let up = Upload::new_file("0", "notes.txt")
    ///     .on_conflict(OnConflict::Version)
    ///     .from_path("notes.txt");
    /// let done = uploader.upload_with_outcome(up).await?;
    /// if done.outcome == UploadOutcome::SkippedIdentical {
    ///     println!("Box holds it already as file {}", done.file.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn on_conflict(mut self, policy: OnConflict) -> Self {
        self.on_conflict = Some(policy);
        self
    }

    /// Chunked, when the conflict policy makes a new version: ask Box which parts of the file
    /// it holds already and send only the others (default: the uploader's
    /// [`UploadConfig::reuse_parts`], on), as a new version's `reuse_parts`.
    pub fn reuse_parts(mut self, reuse: bool) -> Self {
        self.reuse_parts = Some(reuse);
        self
    }
}

impl Upload<NewVersion> {
    /// A new version of file `file_id`; the file keeps its name unless [`Upload::rename`]d.
    /// Its earlier versions are kept by Box.
    pub fn new_version(file_id: impl Into<String>) -> Self {
        Upload::with_target(Target::NewVersion {
            file_id: file_id.into(),
            name: None,
        })
    }

    /// Store the new version under this new name.
    pub fn rename(mut self, name: impl Into<String>) -> Self {
        if let Target::NewVersion { name: slot, .. } = &mut self.target {
            *slot = Some(name.into());
        }
        self
    }

    /// Only if the file's etag is still `etag` (else HTTP 412,
    /// [`UploadError::is_precondition_failed`], on the direct and the chunked path alike). A 412
    /// to a retry after a lost answer is no failure when the file now holds this content (the
    /// lost attempt stored the version and so changed the etag): the upload returns the file.
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Chunked: ask Box which parts of the file it holds already (same offset, size and
    /// SHA-512) and send only the others (default: the uploader's
    /// [`UploadConfig::reuse_parts`], on). Off: every part is sent, as before Box's plan.
    pub fn reuse_parts(mut self, reuse: bool) -> Self {
        self.reuse_parts = Some(reuse);
        self
    }
}

impl<T> Upload<T> {
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

/// How many part uploads (and single-request uploads) an [`Uploader`] keeps in flight at once,
/// across all its uploads.
///
/// The default is [`Concurrency::Adaptive`] with a `max` of [`Concurrency::DEFAULT_MAX`] (32).
/// One connection to Box carries far less than a good link, so a link is filled by about
/// `link / per-connection rate` parts plus one or two to cover each part's round trips. A
/// 40 ms, 12 MiB/s-per-connection path to a 120 MiB/s link needs about 11; a 150 ms, 4 MiB/s
/// path to a 40 MiB/s link about 12. The controller starts at [`Concurrency::ADAPTIVE_START`]
/// (8) and goes above only while the answered parts show that another part adds throughput;
/// it halves on every 429 and takes a quarter off on a 5xx or a timeout. Request rate is
/// bounded by throughput / part size whatever the parallelism, so more parts on a full link do
/// not send requests faster. The end of a chunked upload goes past the controller's limit, up
/// to `max`: once an upload has at most `max` parts left, they all go in flight, share the link
/// and finish together, rather than the last ones running one by one at a connection's rate
/// while the link idles. Why 32: a file of up to 32 parts (1 GiB in Box's 32 MiB parts,
/// 256 MiB in 8 MiB parts) goes whole from its start; on the two paths above, against the
/// emulator, the default kept about 80% of the link busy end to end with a `max` of 16 and
/// about 88% with 32. Each part in flight beyond the parts held in memory
/// ([`UploadConfig::memory_cap`]) costs about 2 MiB while it is read again and sent: at most
/// 64 MiB for 32.
///
/// Parse `"auto"` (the default) or a number `N` (pinned to `N`) with [`str::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Concurrency {
    /// Start at [`Concurrency::ADAPTIVE_START`] (at most `max`) and adjust to the network: grow
    /// while each added part adds throughput, shrink on 429s, 5xx, timeouts, or when the link
    /// is full. Never above `max` (at least 1), nor above what the memory cap allows for
    /// sources that are held in memory.
    Adaptive {
        /// The most parts ever in flight.
        max: usize,
    },
    /// Exactly this many parts in flight at most (at least 1), as pinned.
    Fixed(usize),
}

impl Concurrency {
    /// The default `max` of [`Concurrency::Adaptive`] (see the type's documentation).
    pub const DEFAULT_MAX: usize = 32;
    /// Where the adaptive controller starts. Box's guide suggests 3 to 5 parts at once for SDKs
    /// that hold every part in memory; parts of a file on disk are streamed from it here, so
    /// more cost little. Nothing is learnt until the first parts are answered, so the start
    /// decides the first round of a file of more than `max` parts (a smaller one goes whole):
    /// on a 4 MiB/s-per-connection path to a 40 MiB/s link, each part fewer than 10 at the
    /// start leaves a tenth of that link idle for the first round (2 s with 8 MiB parts). In the
    /// controller's model of that path, 64 parts of 8 MiB take 13.8 s with a `max` of 16
    /// against 12.8 s at the link's limit (`the_end_of_a_longer_file_goes_together` in
    /// `adaptive.rs` prints the figures), and a 256 MiB file (32 parts) 6.4 s at the default
    /// settings against 16 s pinned at 4 (`a_far_link_fills_within_a_256_mib_file`).
    pub const ADAPTIVE_START: usize = 8;

    /// The most parts this setting ever allows in flight (at least 1).
    pub fn ceiling(&self) -> usize {
        match *self {
            Concurrency::Adaptive { max } => max.max(1),
            Concurrency::Fixed(n) => n.max(1),
        }
    }

    /// How many parts go in flight before anything is measured (at least 1).
    pub fn initial(&self) -> usize {
        match *self {
            Concurrency::Adaptive { max } => Concurrency::ADAPTIVE_START.min(max.max(1)),
            Concurrency::Fixed(n) => n.max(1),
        }
    }

    /// Whether the setting adapts to the network.
    pub fn is_adaptive(&self) -> bool {
        matches!(self, Concurrency::Adaptive { .. })
    }
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency::Adaptive {
            max: Concurrency::DEFAULT_MAX,
        }
    }
}

impl From<usize> for Concurrency {
    /// A pinned parallelism.
    fn from(n: usize) -> Self {
        Concurrency::Fixed(n)
    }
}

impl std::fmt::Display for Concurrency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Concurrency::Adaptive { max } if *max == Concurrency::DEFAULT_MAX => {
                f.write_str("auto")
            }
            Concurrency::Adaptive { max } => write!(f, "auto (at most {max})"),
            Concurrency::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// A `concurrency` that is neither `auto` nor a positive number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid concurrency {0:?}: expected `auto` or a number of parts from 1")]
pub struct ParseConcurrencyError(String);

impl std::str::FromStr for Concurrency {
    type Err = ParseConcurrencyError;

    /// `auto` (adaptive, default max) or `N` (pinned to `N`, at least 1).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(Concurrency::default());
        }
        match t.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Concurrency::Fixed(n)),
            _ => Err(ParseConcurrencyError(s.to_string())),
        }
    }
}

/// Settings of an [`Uploader`], shared by all its uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadConfig {
    /// Parts in flight at once, across every upload of the uploader (and its tree uploads).
    /// Default [`Concurrency::Adaptive`] (see [`Concurrency`] for why its max is 16); a number
    /// (`Concurrency::Fixed`, or `n.into()`) pins it.
    pub concurrency: Concurrency,
    /// Memory for part buffers of one upload. Default 256 MiB.
    ///
    /// What each source holds in memory during a chunked upload:
    /// - a file on disk ([`Upload::from_path`]): hashed in one ordered pass that never waits for
    ///   the uploads; a part goes from the buffer it was hashed in while the cap holds such
    ///   buffers (`memory_cap / part_size - 1` of them, beside the buffer the pass hashes the
    ///   others in), so each of its bytes is read once; the other parts are read again from the
    ///   file as they are sent, in 1 MiB pieces (about 2 MiB, and the HTTP client's buffers,
    ///   per such part in flight). At most the cap, plus 2 MiB per part read again in flight;
    ///   the cap does not lower the parallelism;
    /// - bytes in memory ([`Upload::from_bytes`]): parts are slices of them, nothing is copied;
    ///   the cap does not apply;
    /// - a reader ([`Upload::from_reader`]), which cannot be read twice: at most `(parts in
    ///   flight + 1) x part_size`, within this cap; its parts in flight are lowered so that this
    ///   fits (never below 1).
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
    /// A chunked new version asks Box which parts it holds already (Box's plan, since
    /// September 2026) and sends only the others; per upload, [`Upload::reuse_parts`]. Default on.
    pub reuse_parts: bool,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            concurrency: Concurrency::default(),
            memory_cap: 256 * 1024 * 1024,
            chunked_cutoff: DEFAULT_CHUNKED_CUTOFF,
            min_chunked_size: BOX_MIN_CHUNKED_SIZE,
            retry: RetryPolicy::default(),
            commit_deadline: Duration::from_secs(600),
            request_timeout_base: Duration::from_secs(60),
            min_throughput: 32 * 1024,
            parts_mismatch_retries: 100,
            parts_mismatch_max_wait: Duration::from_secs(10),
            reuse_parts: true,
        }
    }
}
