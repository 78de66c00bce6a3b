//! Parts of a file on disk that no pool buffer holds are sent by reading them again: the ordered
//! reader hashed them in its scratch buffer, keeping nothing, and each such part's request body
//! reads its span from the file in pieces of [`PIECE`] as the HTTP client asks for them
//! (positioned reads, so any number of parts can read at once). Memory stays flat whatever the
//! parallelism; a retry reads the span again. (A part sent from the buffer it was hashed in
//! cannot differ from its hash: none of this applies to it.)
//!
//! The file may change between hashing and sending. A body finds it when the file's size or
//! modification time is not what it was when the upload opened it, or when the span ends early;
//! it then fails with `SourceChanged`, which the part upload stops on (the HTTP client would only
//! report a broken request). A server refusing the part's digest is checked by hashing the span
//! again: another SHA-1 also means the file changed.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;

use super::error::{UploadError, UploadErrorKind};
use super::identity::SourceIdentity;
use crate::digest::Sha1Digest;

/// Bytes read per step of a body: small enough that parts in flight cost little memory (a piece
/// being sent and the next one read, 2 MiB per part), large enough that the hops to the
/// blocking pool and the HTTP client's writes cost little CPU.
pub(crate) const PIECE: usize = 1024 * 1024;

/// A file opened for an upload, to read spans of again.
#[derive(Clone)]
pub(crate) struct Reread {
    file: Arc<std::fs::File>,
    identity: Arc<SourceIdentity>,
}

/// Where a body leaves the reason it failed for the part upload to find.
#[derive(Clone, Default)]
pub(crate) struct BodyFailure(Arc<Mutex<Option<UploadError>>>);

impl BodyFailure {
    fn set(&self, err: UploadError) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(err);
        }
    }

    /// The failure a body recorded, if any.
    pub(crate) fn take(&self) -> Option<UploadError> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

fn changed(detail: String) -> UploadError {
    UploadErrorKind::SourceChanged {
        detail: format!("during the upload: {detail}"),
    }
    .into()
}

impl Reread {
    /// `file` must be a handle of its own whose position nothing else relies on (positioned
    /// reads move it on some platforms); `identity` is the file as it was opened.
    pub(crate) fn new(file: std::fs::File, identity: SourceIdentity) -> Self {
        Reread {
            file: Arc::new(file),
            identity: Arc::new(identity),
        }
    }

    /// The `len` bytes at `offset`, as a stream of pieces read when asked for. A failure is
    /// also left in `failure`.
    pub(crate) fn stream(
        &self,
        offset: u64,
        len: u64,
        failure: BodyFailure,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let start = (self.clone(), offset, len, true);
        futures_util::stream::try_unfold(start, move |(this, pos, left, first)| {
            let failure = failure.clone();
            async move {
                if left == 0 {
                    return Ok(None);
                }
                let n = usize::try_from(left.min(PIECE as u64)).unwrap_or(PIECE);
                match this.piece(pos, n, first).await {
                    Ok(bytes) => Ok(Some((
                        bytes,
                        (this, pos + n as u64, left - n as u64, false),
                    ))),
                    Err(e) => {
                        let io = io::Error::other(e.to_string());
                        failure.set(e);
                        Err(io)
                    }
                }
            }
        })
    }

    /// Reads `n` bytes at `pos` on the blocking pool; the first piece of a body also checks
    /// that the file is still the one hashed.
    async fn piece(&self, pos: u64, n: usize, check: bool) -> Result<Bytes, UploadError> {
        let this = self.clone();
        let read = tokio::task::spawn_blocking(move || {
            if check {
                this.check_unchanged()?;
            }
            let mut buf = vec![0u8; n];
            let got = read_full_at(&this.file, &mut buf, pos)
                .map_err(|e| UploadError::source_io(format!("reading again at byte {pos}"), e))?;
            if got < n {
                return Err(changed(format!(
                    "{} ends at byte {}, it had {} bytes when hashed",
                    this.identity.path.display(),
                    pos + got as u64,
                    this.identity.size
                )));
            }
            Ok(Bytes::from(buf))
        })
        .await;
        read.map_err(|e| UploadError::internal("file reading task failed").with_source(e))?
    }

    /// Fails when the file's size or modification time moved since it was opened. Checked
    /// before each re-read body and once more before the commit: a part sent from the buffer it
    /// was hashed in is what was hashed, but a file changed since it was opened may have been
    /// read half old and half new, and a user who changed it is told rather than left with a
    /// version that is no longer the file on disk.
    pub(crate) fn check_unchanged(&self) -> Result<(), UploadError> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| UploadError::source_io("reading the file's metadata again", e))?;
        let now = SourceIdentity::from_metadata(&self.identity.path, &meta);
        let path = self.identity.path.display();
        if now.size != self.identity.size {
            return Err(changed(format!(
                "{path} has {} bytes, it had {} when hashed",
                now.size, self.identity.size
            )));
        }
        if now.mtime_ns != self.identity.mtime_ns {
            return Err(changed(format!("{path} was modified after it was hashed")));
        }
        Ok(())
    }

    /// Whether the span still has SHA-1 `sha1` (to tell a changed file from a damaged
    /// transfer when the server refuses a part's digest); a `SourceChanged` error if not.
    pub(crate) async fn confirm(
        &self,
        offset: u64,
        len: u64,
        sha1: Sha1Digest,
    ) -> Result<(), UploadError> {
        let this = self.clone();
        let hashed = tokio::task::spawn_blocking(move || -> Result<Sha1Digest, UploadError> {
            use sha1::Digest as _;
            let mut hasher = sha1::Sha1::new();
            let mut buf = vec![0u8; PIECE];
            let (mut pos, end) = (offset, offset + len);
            while pos < end {
                let n = usize::try_from((end - pos).min(PIECE as u64)).unwrap_or(PIECE);
                let got = read_full_at(&this.file, &mut buf[..n], pos)
                    .map_err(|e| UploadError::source_io(format!("reading at byte {pos}"), e))?;
                hasher.update(&buf[..got]);
                if got < n {
                    break;
                }
                pos += n as u64;
            }
            Ok(Sha1Digest(hasher.finalize().into()))
        })
        .await
        .map_err(|e| UploadError::internal("file hashing task failed").with_source(e))??;
        if hashed == sha1 {
            return Ok(());
        }
        Err(changed(format!(
            "the part at offset {offset} has SHA-1 {hashed} now, {sha1} when hashed"
        )))
    }
}

/// Fills `buf` from `offset` on, looping on short reads; fewer bytes only at the end of file.
fn read_full_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(file, &mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt as _;

    async fn opened(data: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, Reread) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.bin");
        std::fs::write(&path, data).expect("write");
        let file = std::fs::File::open(&path).expect("open");
        let meta = file.metadata().expect("meta");
        let identity = SourceIdentity::from_metadata(&path, &meta);
        (dir, path, Reread::new(file, identity))
    }

    #[tokio::test]
    async fn a_span_streams_in_pieces() {
        let data: Vec<u8> = (0..(PIECE * 2 + 100)).map(|i| (i % 251) as u8).collect();
        let (_dir, _path, file) = opened(&data).await;
        let pieces: Vec<Bytes> = file
            .stream(10, (PIECE + 50) as u64, BodyFailure::default())
            .try_collect()
            .await
            .expect("reads");
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].len(), PIECE);
        assert_eq!(pieces.concat(), &data[10..10 + PIECE + 50]);
        let sha1 = Sha1Digest::of(&data[5..1005]);
        file.confirm(5, 1000, sha1).await.expect("same bytes");
    }

    #[tokio::test]
    async fn a_changed_file_fails_source_changed() {
        let (_dir, path, file) = opened(&[7u8; 5000]).await;
        std::fs::write(&path, [8u8; 3000]).expect("rewrite shorter");
        let failure = BodyFailure::default();
        let read: io::Result<Vec<Bytes>> =
            file.stream(0, 5000, failure.clone()).try_collect().await;
        assert!(read.is_err());
        let err = failure.take().expect("recorded");
        assert!(
            matches!(err.kind(), UploadErrorKind::SourceChanged { .. }),
            "{err}"
        );
        let err = file
            .confirm(0, 1000, Sha1Digest::of(&[7u8; 1000]))
            .await
            .expect_err("other bytes now");
        assert!(matches!(err.kind(), UploadErrorKind::SourceChanged { .. }));
    }
}
