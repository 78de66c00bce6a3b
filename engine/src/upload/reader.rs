//! The ordered reader: one task that goes through the source in offset order, fills a buffer
//! per part (in place, looping on short reads), feeds the same bytes to the whole-file SHA-1 and
//! to the part's own SHA-1 (and SHA-512, when parts may be reused; but see below), and hands
//! the part on. A file's part is read and hashed in one hop to the blocking pool, a piece at a
//! time while each piece is in the cache ([`PassSink`]); from [`SPLIT_FROM`] on, the part's own
//! SHA-1 and the whole file's run on two threads, since each part waits for its own SHA-1 (its
//! `digest` header) before its first byte is sent.
//!
//! What it hands on depends on [`Hand`]: a reader's part comes in a pool buffer, and the reader
//! waits for a free one, so it is never more than the pool's capacity ahead of the uploads; a
//! file's part comes in a pool buffer when one is free and otherwise as its hashes alone, read
//! in the reader's own scratch buffer and sent by reading it again, so the reader never waits
//! for the uploads; bytes in memory are hashed and handed on as slices, without a buffer.
//!
//! When parts may be reused, a part whose bytes are handed on (a pool buffer or a slice) gets
//! its SHA-512 on the blocking pool while the reader goes on with the next part, so both cores
//! hash (the bytes being hashed are already held, in their buffer or the source's own bytes:
//! nothing is added to memory), and no SHA-1 of its own: the plan stage computes it from the
//! same bytes only if the part is sent or checked against a stored one ([`sha1_of_kept`]); a
//! part Box holds is committed by its `part_id` and never needs it. A part hashed in the
//! scratch buffer gets both before the buffer is used again (its bytes are gone afterwards).

use bytes::Bytes;
use tokio::sync::mpsc;

use super::error::{UploadError, UploadErrorKind};
use super::layout::{PartLayout, PartSpan};
use super::part_memory::PartMemory;
use super::pool::BufferPool;
use super::source::{PartReader, PieceFeed, PieceSink};
use crate::digest::{OrderedHasher, PartHashes, PartSha1, Sha1Digest, Sha512Digest};

/// A part's SHA-512: computed, or being computed on the blocking pool from the part's bytes.
pub(crate) enum PartSha512 {
    /// Hashed in the pass (a part whose bytes are not kept).
    Ready(Sha512Digest),
    /// Being hashed beside the pass, from the part's kept bytes.
    Hashing(tokio::task::JoinHandle<Sha512Digest>),
}

impl PartSha512 {
    /// Starts hashing `bytes` on the blocking pool (the clone keeps its buffer until then).
    fn hashing(bytes: Bytes) -> Self {
        PartSha512::Hashing(tokio::task::spawn_blocking(move || {
            Sha512Digest::of(&bytes)
        }))
    }

    /// The digest, once computed.
    pub(crate) async fn get(self) -> Result<Sha512Digest, UploadError> {
        match self {
            PartSha512::Ready(digest) => Ok(digest),
            PartSha512::Hashing(task) => task
                .await
                .map_err(|e| UploadError::internal("hashing task failed").with_source(e)),
        }
    }
}

/// The SHA-1 of a part handed on without one (its bytes came along), computed from those
/// bytes on the blocking pool: the bytes the pass hashed and the part is sent from.
pub(crate) async fn sha1_of_kept(bytes: &Bytes) -> Result<Sha1Digest, UploadError> {
    let bytes = bytes.clone();
    tokio::task::spawn_blocking(move || Sha1Digest::of(&bytes))
        .await
        .map_err(|e| UploadError::internal("hashing task failed").with_source(e))
}

/// What the reader hands on.
pub(crate) enum ReadMsg {
    /// The next part, read and hashed.
    Part {
        span: PartSpan,
        /// The part's bytes; `None` when they are to be read again from the file.
        data: Option<Bytes>,
        /// `None` only for a part with its bytes and its SHA-512: computed only if needed,
        /// with [`sha1_of_kept`].
        sha1: Option<Sha1Digest>,
        /// Computed only when the reader was asked for it.
        sha512: Option<PartSha512>,
    },
    /// Every part was read, the source ended exactly at its declared size, and this is the
    /// SHA-1 of the whole file.
    Finished { whole: Sha1Digest },
    /// Reading failed; nothing more comes.
    Failed(UploadError),
}

/// What the reader hands on with each part's SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hand {
    /// The part's bytes (in a pool buffer, waited for, or a slice of bytes in memory).
    Bytes,
    /// The part's bytes when a pool buffer is free now, else only the hashes (a file: the part
    /// is read again to be sent).
    BytesIfFree,
    /// Only the hashes: the part is read again to be sent.
    Hashes,
}

/// Reads every part of `layout` from `reader` in order and sends it on `tx`, with each part's
/// SHA-512 too when `sha512`.
pub(crate) async fn read_parts(
    mut reader: PartReader,
    layout: PartLayout,
    pool: BufferPool,
    hand: Hand,
    sha512: bool,
    tx: mpsc::Sender<ReadMsg>,
) {
    let hasher = OrderedHasher::new(sha512);
    let msg = match read_all(&mut reader, layout, &pool, hand, hasher, &tx).await {
        Ok(Some(whole)) => ReadMsg::Finished { whole },
        Ok(None) => return, // the receiver is gone: the upload stopped
        Err(e) => ReadMsg::Failed(e),
    };
    let _ = tx.send(msg).await;
}

async fn read_all(
    reader: &mut PartReader,
    layout: PartLayout,
    pool: &BufferPool,
    hand: Hand,
    mut hasher: OrderedHasher,
    tx: &mpsc::Sender<ReadMsg>,
) -> Result<Option<Sha1Digest>, UploadError> {
    let declared = layout.file_size();
    let sha512 = hasher.wants_sha512();
    // The part being hashed when no pool buffer holds it (allocated on first need).
    let mut scratch = PartMemory::default();
    for span in layout.parts() {
        let len = usize::try_from(span.len).map_err(|_| {
            UploadError::invalid_input(format!("part of {} bytes does not fit in memory", span.len))
        })?;
        if let Some(slice) = reader.slice(len) {
            // Bytes in memory: hash the slice where it is and hand it on.
            if slice.len() < len {
                return Err(UploadErrorKind::SourceTooShort {
                    declared,
                    got: span.offset + slice.len() as u64,
                }
                .into());
            }
            // A slice is kept: with reuse, its own hashes come later (see the module's
            // documentation).
            let hashed = tokio::task::spawn_blocking(move || {
                let (hasher, hashes) = PassSink::new(hasher, sha512, len).all_at_once(&slice);
                (slice, hasher, hashes)
            })
            .await;
            let (data, back, hashes) =
                hashed.map_err(|e| UploadError::internal("hashing task failed").with_source(e))?;
            hasher = back;
            let data = Some(data);
            let (sha1, sha512) = digests(hashes, data.as_ref())?;
            let part = ReadMsg::Part {
                span,
                data,
                sha1,
                sha512,
            };
            if tx.send(part).await.is_err() {
                return Ok(None);
            }
            continue;
        }
        let mut pooled = match hand {
            Hand::Bytes => match pool.acquire().await {
                Some(buf) => Some(buf),
                None => return Err(UploadError::internal("buffer pool closed")),
            },
            Hand::BytesIfFree => pool.try_acquire(),
            Hand::Hashes => None,
        };
        let storage = match &mut pooled {
            Some(buf) if buf.storage_len() < len => {
                return Err(UploadError::internal(format!(
                    "pool buffer of {} bytes for a part of {len}",
                    buf.storage_len()
                )))
            }
            Some(buf) => buf.take(),
            None if scratch.len() < len => PartMemory::zeroed(len),
            None => std::mem::take(&mut scratch),
        };
        // Read and hash off the async threads: a 64 MiB part is tens of milliseconds of CPU. A
        // part kept in a buffer gets its SHA-512 once read, beside the next part's reading.
        let later = sha512 && pooled.is_some();
        let (storage, read) = reader
            .fill_then(storage, len, PassSink::new(hasher, later, len))
            .await;
        match &mut pooled {
            Some(buf) => buf.put(storage),
            None => scratch = storage,
        }
        let (got, (back, hashes)) =
            read.map_err(|e| UploadError::source_io(format!("at byte {}", span.offset), e))?;
        hasher = back;
        if got < len {
            return Err(UploadErrorKind::SourceTooShort {
                declared,
                got: span.offset + got as u64,
            }
            .into());
        }
        // The bytes of a pooled part go on as they were hashed; the others are read again.
        let data = pooled.map(|buf| buf.freeze(len));
        let (sha1, sha512) = digests(hashes, data.as_ref())?;
        let part = ReadMsg::Part {
            span,
            data,
            sha1,
            sha512,
        };
        if tx.send(part).await.is_err() {
            return Ok(None);
        }
    }
    match reader.has_more().await {
        Ok(false) => Ok(Some(hasher.finish())),
        Ok(true) => Err(UploadErrorKind::SourceTooLong { declared }.into()),
        Err(e) => Err(UploadError::source_io(format!("after byte {declared}"), e)),
    }
}

/// The pass over a part: its pieces are hashed as they are read, to the whole-file SHA-1 only
/// when its own hashes come `later` (from its kept bytes), else to its own SHA-1 too; a part
/// that also needs its SHA-512 in the pass is hashed once read whole (its SHA-512 goes on a
/// second thread, over the whole part).
struct PassSink {
    hasher: OrderedHasher,
    mode: PassMode,
    /// Whether the part's own SHA-1 and the whole file's go on two threads
    /// ([`PieceSink::split`]): a part is then handed on in the time of its reading and one
    /// SHA-1, not two. Both are on the critical path of the first round, where every part waits
    /// for its SHA-1 (its `digest` header) before its first byte is sent.
    split: bool,
}

enum PassMode {
    /// The whole-file SHA-1 only: the part's own hashes come later, from its kept bytes.
    WholeOnly,
    /// The whole-file SHA-1 and the part's own SHA-1.
    Sha1s(PartSha1),
    /// Everything at the end ([`OrderedHasher::part`]).
    AtEnd,
}

/// Parts from this size have their own SHA-1 and the whole file's computed on two threads
/// (a thread costs tens of microseconds; 2 MiB of SHA-1 about a millisecond).
const SPLIT_FROM: usize = 2 * 1024 * 1024;

impl PassSink {
    fn new(hasher: OrderedHasher, later: bool, len: usize) -> Self {
        let mode = match (later, hasher.wants_sha512()) {
            (true, _) => PassMode::WholeOnly,
            (false, false) => PassMode::Sha1s(PartSha1::default()),
            (false, true) => PassMode::AtEnd,
        };
        PassSink {
            hasher,
            mode,
            split: len >= SPLIT_FROM,
        }
    }
}

impl PieceFeed for PartSha1 {
    fn feed_piece(&mut self, bytes: &[u8]) {
        self.feed(bytes);
    }
}

impl PieceFeed for OrderedHasher {
    fn feed_piece(&mut self, bytes: &[u8]) {
        self.feed(bytes);
    }
}

impl PieceSink for PassSink {
    type Out = (OrderedHasher, Option<PartHashes>);

    fn piece(&mut self, bytes: &[u8]) {
        match &mut self.mode {
            PassMode::WholeOnly => self.hasher.feed(bytes),
            PassMode::Sha1s(part) => self.hasher.feed_with(part, bytes),
            PassMode::AtEnd => {}
        }
    }

    fn split(&mut self) -> Option<(&mut dyn PieceFeed, &mut (dyn PieceFeed + Send))> {
        match &mut self.mode {
            PassMode::Sha1s(part) if self.split => Some((part, &mut self.hasher)),
            _ => None,
        }
    }

    fn finish(mut self, part: &[u8]) -> Self::Out {
        let hashes = match self.mode {
            PassMode::WholeOnly => None,
            PassMode::Sha1s(own) => Some(PartHashes {
                sha1: own.finish(),
                sha512: None,
            }),
            PassMode::AtEnd => Some(self.hasher.part(part)),
        };
        (self.hasher, hashes)
    }
}

/// A part's digests for its message: those of the pass, or (`hashes` none: a kept part) its
/// SHA-512 started now on the blocking pool from its bytes and its SHA-1 left for later.
fn digests(
    hashes: Option<PartHashes>,
    kept: Option<&Bytes>,
) -> Result<(Option<Sha1Digest>, Option<PartSha512>), UploadError> {
    match (hashes, kept) {
        (Some(PartHashes { sha1, sha512 }), _) => Ok((Some(sha1), sha512.map(PartSha512::Ready))),
        (None, Some(bytes)) => Ok((None, Some(PartSha512::hashing(bytes.clone())))),
        (None, None) => Err(UploadError::internal(
            "a part hashed for later without its bytes",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Runs the reader, copying each part out (so its buffer goes back to the pool at once).
    async fn run(
        data: Vec<u8>,
        declared: u64,
        part: u64,
    ) -> (Vec<(PartSpan, Vec<u8>, Sha1Digest)>, ReadMsg, usize) {
        let layout = PartLayout::new(declared, part).expect("layout");
        let pool = BufferPool::new(part as usize, 3);
        let (tx, mut rx) = mpsc::channel(1);
        let reader = PartReader::Async(Box::new(Cursor::new(data)));
        tokio::spawn(read_parts(
            reader,
            layout,
            pool.clone(),
            Hand::Bytes,
            true,
            tx,
        ));
        let mut parts = Vec::new();
        loop {
            match rx.recv().await.expect("a final message") {
                ReadMsg::Part {
                    span,
                    data,
                    sha1,
                    sha512,
                } => {
                    let bytes = data.expect("bytes handed on");
                    assert_eq!(sha1, None, "a kept part's SHA-1 is computed only if needed");
                    let sha1 = sha1_of_kept(&bytes).await.expect("hashed");
                    let data = bytes.to_vec();
                    drop(bytes);
                    let sha512 = match sha512 {
                        Some(later) => Some(later.get().await.expect("hashed")),
                        None => None,
                    };
                    assert_eq!(sha512, Some(Sha512Digest::of(&data)), "the part's SHA-512");
                    parts.push((span, data, sha1))
                }
                other => return (parts, other, pool.allocations()),
            }
        }
    }

    #[tokio::test]
    async fn parts_and_whole_file_hashes_match_the_data() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let (parts, last, allocations) = run(data.clone(), 10_000, 3_000).await;
        assert_eq!(parts.len(), 4);
        for (span, bytes, sha1) in &parts {
            let expected = &data[span.offset as usize..(span.offset + span.len) as usize];
            assert_eq!(&bytes[..], expected);
            assert_eq!(*sha1, Sha1Digest::of(expected));
        }
        match last {
            ReadMsg::Finished { whole } => assert_eq!(whole, Sha1Digest::of(&data)),
            _ => panic!("expected Finished"),
        }
        assert!(allocations <= 3);
    }

    /// A part as the reader handed it on.
    struct Handed {
        span: PartSpan,
        data: Option<Bytes>,
        sha1: Option<Sha1Digest>,
        sha512: Option<PartSha512>,
    }

    /// Reads the file at `path` with [`read_parts`], holding every part handed on (so no pool
    /// buffer comes back), up to the whole file's SHA-1.
    async fn read_file(
        path: &std::path::Path,
        layout: PartLayout,
        pool: BufferPool,
        hand: Hand,
        sha512: bool,
    ) -> (Vec<Handed>, Sha1Digest) {
        let (tx, mut rx) = mpsc::channel(10);
        let file = std::fs::File::open(path).expect("open");
        tokio::spawn(read_parts(
            PartReader::File(Some(file)),
            layout,
            pool,
            hand,
            sha512,
            tx,
        ));
        let mut parts = Vec::new();
        loop {
            match rx.recv().await.expect("a final message") {
                ReadMsg::Part {
                    span,
                    data,
                    sha1,
                    sha512,
                } => parts.push(Handed {
                    span,
                    data,
                    sha1,
                    sha512,
                }),
                ReadMsg::Finished { whole } => return (parts, whole),
                ReadMsg::Failed(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn a_file_hands_bytes_while_buffers_are_free_then_hashes_only() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.bin");
        std::fs::write(&path, &data).expect("write");
        let layout = PartLayout::new(10_000, 1_000).expect("layout");
        let pool = BufferPool::new(1_000, 2);
        // Every part handed on is held: two come in the pool's buffers, the others without
        // their bytes, and the reader goes on to the end without waiting for a buffer.
        let (parts, whole) = read_file(&path, layout, pool.clone(), Hand::BytesIfFree, false).await;
        assert_eq!(whole, Sha1Digest::of(&data));
        for part in &parts {
            let sha1 = part.sha1.expect("computed in the pass without reuse");
            let expected =
                &data[part.span.offset as usize..(part.span.offset + part.span.len) as usize];
            assert_eq!(sha1, Sha1Digest::of(expected));
            if let Some(bytes) = &part.data {
                assert_eq!(&bytes[..], expected);
            }
        }
        let with_bytes: Vec<bool> = parts.iter().map(|p| p.data.is_some()).collect();
        assert_eq!(with_bytes, [[true; 2].as_slice(), &[false; 8]].concat());
        assert_eq!(pool.allocations(), 2);
    }

    /// Parts of a file large enough to be read in pieces and hashed on two threads (the
    /// part's own SHA-1 and the whole file's apart), with a part size that is no multiple of a
    /// piece and a short last part: every hash is the data's, with or without reuse's SHA-512,
    /// in pool buffers and in the scratch buffer alike.
    #[tokio::test]
    async fn large_parts_of_a_file_hash_as_the_data_does() {
        let part = 2 * 1024 * 1024 + 4_099;
        let size = 3 * part + 777;
        let data: Vec<u8> = (0..size as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.bin");
        std::fs::write(&path, &data).expect("write");
        for (hand, sha512) in [
            (Hand::BytesIfFree, false),
            (Hand::Hashes, false),
            (Hand::Hashes, true),
            (Hand::BytesIfFree, true),
        ] {
            let layout = PartLayout::new(size as u64, part as u64).expect("layout");
            let pool = BufferPool::new(part, 2);
            let (parts, whole) = read_file(&path, layout, pool, hand, sha512).await;
            assert_eq!(whole, Sha1Digest::of(&data), "{hand:?} sha512 {sha512}");
            assert_eq!(parts.len(), 4);
            for (i, p) in parts.into_iter().enumerate() {
                let expected = &data[p.span.offset as usize..(p.span.offset + p.span.len) as usize];
                let sha1 = match (p.sha1, &p.data) {
                    (Some(sha1), _) => sha1,
                    (None, Some(kept)) => sha1_of_kept(kept).await.expect("hashed"),
                    (None, None) => panic!("a part without its SHA-1 or its bytes"),
                };
                assert_eq!(sha1, Sha1Digest::of(expected), "{hand:?} part {i}");
                if let Some(kept) = &p.data {
                    assert_eq!(&kept[..], expected);
                }
                match p.sha512 {
                    Some(long) => assert_eq!(
                        long.get().await.expect("hashed"),
                        Sha512Digest::of(expected)
                    ),
                    None => assert!(!sha512, "asked for, a part's SHA-512 comes along"),
                }
            }
        }
    }

    #[tokio::test]
    async fn a_short_source_fails_with_the_count() {
        let (_, last, _) = run(vec![1; 2_500], 3_000, 1_000).await;
        match last {
            ReadMsg::Failed(e) => assert_eq!(
                e.kind(),
                &UploadErrorKind::SourceTooShort {
                    declared: 3_000,
                    got: 2_500
                }
            ),
            _ => panic!("expected SourceTooShort"),
        }
    }

    #[tokio::test]
    async fn a_long_source_fails() {
        let (parts, last, _) = run(vec![1; 3_001], 3_000, 1_000).await;
        assert_eq!(parts.len(), 3);
        assert!(matches!(
            last,
            ReadMsg::Failed(e) if e.kind() == &UploadErrorKind::SourceTooLong { declared: 3_000 }
        ));
    }
}
