//! Where the bytes of an upload come from: a file path, any `AsyncRead` with a declared size, or
//! bytes in memory. Every source yields exactly its declared size; fewer or more bytes is an error,
//! found before anything is committed.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::calls::FileDates;
use super::error::UploadError;
use super::identity::SourceIdentity;
use super::reread::Reread;

/// A file's dates as Box takes them: RFC 3339, to the second (Box's own examples carry no
/// fractions). The creation time only where the platform records one.
pub(crate) fn file_dates(meta: &std::fs::Metadata) -> FileDates {
    let at = |t: io::Result<std::time::SystemTime>| {
        let t: chrono::DateTime<chrono::Utc> = t.ok()?.into();
        let whole = chrono::DateTime::from_timestamp(t.timestamp(), 0)?;
        Some(whole.fixed_offset())
    };
    FileDates {
        modified: at(meta.modified()),
        created: at(meta.created()),
    }
}

/// A [`Source`] seen without being read.
pub(crate) enum Peek {
    Path(PathBuf),
    Reader { size: u64 },
    Bytes(Bytes),
}

/// The content of an upload.
pub struct Source {
    kind: SourceKind,
}

enum SourceKind {
    Path(PathBuf),
    Reader {
        reader: Box<dyn AsyncRead + Send + Unpin>,
        size: u64,
    },
    Bytes(Bytes),
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SourceKind::Path(p) => f.debug_tuple("Source::Path").field(p).finish(),
            SourceKind::Reader { size, .. } => f
                .debug_struct("Source::Reader")
                .field("size", size)
                .finish(),
            SourceKind::Bytes(b) => f
                .debug_struct("Source::Bytes")
                .field("len", &b.len())
                .finish(),
        }
    }
}

impl Source {
    /// A file on disk. Its size is taken when the upload starts; the file must not change during
    /// the upload (a change is detected through the hashes, and on resume through size and mtime).
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Source {
            kind: SourceKind::Path(path.into()),
        }
    }

    /// Any reader that yields exactly `size` bytes. Fewer or more is an error, and nothing is
    /// committed.
    pub fn reader<R>(reader: R, size: u64) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        Source {
            kind: SourceKind::Reader {
                reader: Box::new(reader),
                size,
            },
        }
    }

    /// Bytes already in memory.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        Source {
            kind: SourceKind::Bytes(bytes.into()),
        }
    }

    /// The path, for a file source.
    pub fn as_path(&self) -> Option<&Path> {
        match &self.kind {
            SourceKind::Path(p) => Some(p),
            _ => None,
        }
    }

    /// What the source is, without reading it (a conflict policy looks before sending); bytes
    /// are shared, not copied.
    pub(crate) fn peek(&self) -> Peek {
        match &self.kind {
            SourceKind::Path(p) => Peek::Path(p.clone()),
            SourceKind::Reader { size, .. } => Peek::Reader { size: *size },
            SourceKind::Bytes(b) => Peek::Bytes(b.clone()),
        }
    }

    /// Opens the source: for a file, opens it and reads its size and identity.
    pub(crate) async fn open(self) -> Result<OpenedSource, UploadError> {
        match self.kind {
            SourceKind::Path(path) => {
                let opened = {
                    let path = path.clone();
                    tokio::task::spawn_blocking(
                        move || -> io::Result<(std::fs::File, std::fs::Metadata)> {
                            let file = std::fs::File::open(&path)?;
                            let meta = file.metadata()?;
                            Ok((file, meta))
                        },
                    )
                    .await
                };
                let (file, meta) = match opened {
                    Ok(Ok(pair)) => pair,
                    Ok(Err(e)) => {
                        return Err(UploadError::source_io(
                            format!("cannot open {}", path.display()),
                            e,
                        ))
                    }
                    Err(join) => {
                        return Err(UploadError::source_io(
                            format!("cannot open {}", path.display()),
                            io::Error::other(join.to_string()),
                        ))
                    }
                };
                if !meta.is_file() {
                    return Err(UploadError::invalid_input(format!(
                        "{} is not a regular file",
                        path.display()
                    )));
                }
                let identity = SourceIdentity::from_metadata(&path, &meta);
                let again = second_handle(&file, &path).map_err(|e| {
                    UploadError::source_io(format!("cannot open {}", path.display()), e)
                })?;
                Ok(OpenedSource {
                    size: meta.len(),
                    identity: Some(identity.clone()),
                    dates: Some(file_dates(&meta)),
                    reader: PartReader::File(Some(file)),
                    reread: Some(Reread::new(again, identity)),
                })
            }
            SourceKind::Reader { reader, size } => Ok(OpenedSource {
                size,
                identity: None,
                dates: None,
                reader: PartReader::Async(reader),
                reread: None,
            }),
            SourceKind::Bytes(bytes) => Ok(OpenedSource {
                size: bytes.len() as u64,
                identity: None,
                dates: None,
                reader: PartReader::Bytes { bytes, pos: 0 },
                reread: None,
            }),
        }
    }
}

/// A handle on the same file for positioned re-reads, whose position the ordered reader's
/// handle does not share where positioned reads move it: on Unix a duplicate (the same file
/// even if the path is replaced meanwhile), elsewhere the path opened again.
fn second_handle(file: &std::fs::File, path: &Path) -> io::Result<std::fs::File> {
    if cfg!(unix) {
        file.try_clone()
    } else {
        std::fs::File::open(path)
    }
}

/// An opened source: its declared size, its identity (files only) and the reader.
pub(crate) struct OpenedSource {
    pub size: u64,
    pub identity: Option<SourceIdentity>,
    /// The file's modification and (where the platform has one) creation time.
    pub dates: Option<FileDates>,
    pub reader: PartReader,
    /// For a file: the parts are sent by reading them again, not from memory.
    pub reread: Option<Reread>,
}

/// What a part is read into: a `Vec` or a [`PartMemory`](super::part_memory::PartMemory),
/// moved to the blocking pool and back (`Default`: the empty buffer left by a failed hop).
pub(crate) trait Buffer:
    std::ops::DerefMut<Target = [u8]> + Default + Send + 'static
{
}

impl<B: std::ops::DerefMut<Target = [u8]> + Default + Send + 'static> Buffer for B {}

/// A file is read into a part's buffer this much at a time, each piece handed to a
/// [`PieceSink`] while it is still in the cache (a piece this size stays in L2 while it is
/// hashed; a whole part, megabytes, would be read back from memory).
const PIECE: usize = 1024 * 1024;

/// What a part's bytes go through as they are read ([`PartReader::fill_then`]): each piece as
/// it arrives, in order, then the whole part once it is read.
pub(crate) trait PieceSink: Send + 'static {
    /// What the sink gives back.
    type Out: Send + 'static;
    /// The next piece of the part.
    fn piece(&mut self, bytes: &[u8]);
    /// Instead of [`PieceSink::piece`], two feeds of every piece: the first on the reading
    /// thread, the second on a thread beside it (`None`: everything in `piece`). For a part
    /// whose work on each piece splits in two (its own SHA-1, and the whole file's), so that
    /// the part is read and hashed in the time of the reading and one of them.
    fn split(&mut self) -> Option<(&mut dyn PieceFeed, &mut (dyn PieceFeed + Send))> {
        None
    }
    /// The part is read: all of it (the pieces together).
    fn finish(self, part: &[u8]) -> Self::Out;
    /// A part already whole (bytes in memory): one piece, then the end.
    fn all_at_once(mut self, part: &[u8]) -> Self::Out
    where
        Self: Sized,
    {
        self.piece(part);
        self.finish(part)
    }
}

/// One of the two feeds of [`PieceSink::split`].
pub(crate) trait PieceFeed {
    /// The next piece of the part.
    fn feed_piece(&mut self, bytes: &[u8]);
}

/// Reading alone.
impl PieceSink for () {
    type Out = ();
    fn piece(&mut self, _: &[u8]) {}
    fn finish(self, _: &[u8]) {}
}

/// Reads a source in order into caller-provided buffers, filling each one completely (looping on
/// short reads) unless the source ends. Never appends to a growing buffer.
pub(crate) enum PartReader {
    /// A file, read with blocking reads on the blocking pool: one hop per part (its hashing
    /// included, with [`PartReader::fill_then`]), not per 2 MiB.
    File(Option<std::fs::File>),
    Async(Box<dyn AsyncRead + Send + Unpin>),
    /// Bytes in memory: the ordered reader hands out slices of them ([`PartReader::slice`]).
    Bytes {
        bytes: Bytes,
        pos: usize,
    },
}

impl PartReader {
    /// Fills `buf[..len]` from the source. Returns the buffer and how many bytes were read: fewer
    /// than `len` only when the source ended.
    pub(crate) async fn fill<B: Buffer>(&mut self, buf: B, len: usize) -> (B, io::Result<usize>) {
        if let PartReader::File(_) = self {
            let (buf, read) = self.fill_then(buf, len, ()).await;
            return (buf, read.map(|(n, ())| n));
        }
        self.fill_here(buf, len).await
    }

    /// [`PartReader::fill`] for the sources read on the async threads (all but a file).
    async fn fill_here<B: Buffer>(&mut self, mut buf: B, len: usize) -> (B, io::Result<usize>) {
        let len = len.min(buf.len());
        match self {
            PartReader::Bytes { bytes, pos } => {
                let n = len.min(bytes.len() - *pos);
                buf[..n].copy_from_slice(&bytes[*pos..*pos + n]);
                *pos += n;
                (buf, Ok(n))
            }
            PartReader::Async(reader) => {
                let result = fill_async(reader, &mut buf[..len]).await;
                (buf, result)
            }
            PartReader::File(_) => (
                buf,
                Err(io::Error::other("a file is read on the blocking pool")),
            ),
        }
    }

    /// Fills `buf[..len]` as [`PartReader::fill`] does and hands the bytes to `sink` off the
    /// async threads: a file is read and handled in one hop to the blocking pool, in pieces of
    /// [`PIECE`], each given to the sink as soon as it is read (while it is still in the CPU's
    /// cache), then the whole part.
    pub(crate) async fn fill_then<B, S>(
        &mut self,
        mut buf: B,
        len: usize,
        mut sink: S,
    ) -> (B, io::Result<(usize, S::Out)>)
    where
        B: Buffer,
        S: PieceSink,
    {
        let failed = |e: tokio::task::JoinError| {
            (
                B::default(),
                Err(io::Error::other(format!("reader task failed: {e}"))),
            )
        };
        let PartReader::File(slot) = self else {
            let (buf, read) = self.fill_here(buf, len).await;
            let n = match read {
                Ok(n) => n,
                Err(e) => return (buf, Err(e)),
            };
            let done = tokio::task::spawn_blocking(move || {
                let out = sink.all_at_once(&buf[..n]);
                (buf, out)
            });
            return match done.await {
                Ok((buf, out)) => (buf, Ok((n, out))),
                Err(e) => failed(e),
            };
        };
        let Some(mut file) = slot.take() else {
            return (
                buf,
                Err(io::Error::other("file reader used after a failure")),
            );
        };
        let len = len.min(buf.len());
        let joined = tokio::task::spawn_blocking(move || {
            let result = fill_pieces(&mut file, &mut buf[..len], &mut sink)
                .map(|n| (n, sink.finish(&buf[..n])));
            (file, buf, result)
        });
        match joined.await {
            Ok((file, buf, result)) => {
                *slot = Some(file);
                (buf, result)
            }
            Err(e) => failed(e),
        }
    }

    /// For bytes in memory: the next `len` bytes (fewer at the end), without a copy.
    pub(crate) fn slice(&mut self, len: usize) -> Option<Bytes> {
        match self {
            PartReader::Bytes { bytes, pos } => {
                let end = (*pos + len).min(bytes.len());
                let part = bytes.slice(*pos..end);
                *pos = end;
                Some(part)
            }
            _ => None,
        }
    }

    /// True when the source has at least one more byte (it is longer than declared).
    pub(crate) async fn has_more(&mut self) -> io::Result<bool> {
        let (buf, read) = self.fill(vec![0u8; 1], 1).await;
        drop(buf);
        Ok(read? > 0)
    }
}

async fn fill_async<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Fills `buf` from `reader` piece by piece, giving each piece to `sink` once read (to both
/// its feeds, one on a scoped thread, when it splits). Fewer bytes than `buf` holds only when
/// the source ended.
fn fill_pieces<R: io::Read, S: PieceSink>(
    reader: &mut R,
    buf: &mut [u8],
    sink: &mut S,
) -> io::Result<usize> {
    let Some((here, beside)) = sink.split() else {
        return fill_each(reader, buf, |piece| sink.piece(piece));
    };
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<&[u8]>();
        let worker = scope.spawn(move || {
            for piece in rx {
                beside.feed_piece(piece);
            }
        });
        let filled = fill_each(reader, buf, |piece| {
            // Sent first, so that both threads hash the piece at once.
            let _ = tx.send(piece);
            here.feed_piece(piece);
        });
        drop(tx);
        match worker.join() {
            Ok(()) => filled,
            Err(_) => Err(io::Error::other("a hashing thread panicked")),
        }
    })
}

/// Fills `buf` from `reader` a [`PIECE`] at a time, handing each piece read to `each`, until
/// `buf` is full or the source ends. Returns the bytes read.
fn fill_each<'b, R: io::Read>(
    reader: &mut R,
    buf: &'b mut [u8],
    mut each: impl FnMut(&'b [u8]),
) -> io::Result<usize> {
    let mut rest = buf;
    let mut filled = 0;
    while !rest.is_empty() {
        let take = PIECE.min(rest.len());
        let (piece, after) = rest.split_at_mut(take);
        let n = fill_sync(reader, piece)?;
        let piece: &'b [u8] = piece;
        each(&piece[..n]);
        filled += n;
        rest = after;
        if n < take {
            break;
        }
    }
    Ok(filled)
}

fn fill_sync<R: io::Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 3 bytes per read, to exercise the fill loop.
    struct Trickle(io::Cursor<Vec<u8>>);

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let mut small = [0u8; 3];
            let want = buf.remaining().min(3);
            let n = io::Read::read(&mut self.0, &mut small[..want])?;
            buf.put_slice(&small[..n]);
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn fill_loops_on_short_reads_until_full() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut reader = PartReader::Async(Box::new(Trickle(io::Cursor::new(data.clone()))));
        let (buf, n) = reader.fill(vec![0; 64], 64).await;
        assert_eq!(n.expect("reads"), 64);
        assert_eq!(&buf[..64], &data[..64]);
        let (buf, n) = reader.fill(buf, 64).await;
        assert_eq!(n.expect("reads"), 36, "short only at the end");
        assert_eq!(&buf[..36], &data[64..]);
        assert!(!reader.has_more().await.expect("eof"));
    }

    #[tokio::test]
    async fn file_source_reports_size_and_identity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.bin");
        std::fs::write(&path, b"hello world").expect("write");
        let opened = Source::path(&path).open().await.expect("opens");
        assert_eq!(opened.size, 11);
        let id = opened.identity.clone().expect("identity");
        assert_eq!(id.size, 11);
        assert!(id.difference(&id).is_none());
        let mut other = id.clone();
        other.size = 12;
        assert!(id.difference(&other).expect("differs").contains("12 bytes"));
        let mut reader = opened.reader;
        let (buf, n) = reader.fill(vec![0; 8], 8).await;
        assert_eq!(n.expect("read"), 8);
        assert_eq!(&buf[..8], b"hello wo");
        assert!(reader.has_more().await.expect("more"));
    }

    #[tokio::test]
    async fn missing_file_is_a_clear_error() {
        let Err(err) = Source::path("/nonexistent/really/not.bin").open().await else {
            panic!("opening a missing file succeeded");
        };
        assert!(
            err.to_string().contains("/nonexistent/really/not.bin"),
            "{err}"
        );
    }
}
