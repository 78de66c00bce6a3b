//! Entry points for the criterion benchmark (`benches/pipeline.rs`). Not a stable API.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::digest::{OrderedHasher, Sha1Digest};
use super::layout::PartLayout;
use super::pool::BufferPool;
use super::reader::{read_parts, ReadMsg};
use super::source::PartReader;

/// Hashes `data` part by part in one pass: whole-file and per-part SHA-1 from the same slices.
pub fn hash_one_pass(data: &[u8], part_size: usize) -> (Sha1Digest, Vec<Sha1Digest>) {
    let mut hasher = OrderedHasher::new();
    let parts = data
        .chunks(part_size.max(1))
        .map(|p| hasher.part(p))
        .collect();
    (hasher.finish(), parts)
}

/// The same result in two passes (what a client without the ordered reader does).
pub fn hash_two_passes(data: &[u8], part_size: usize) -> (Sha1Digest, Vec<Sha1Digest>) {
    let whole = Sha1Digest::of(data);
    let parts = data.chunks(part_size.max(1)).map(Sha1Digest::of).collect();
    (whole, parts)
}

/// Runs the ordered reader over `data` with a pool of `buffers` part buffers, dropping each
/// part as soon as it arrives (an infinitely fast network). Returns the whole-file SHA-1 and
/// how many buffers were allocated.
pub async fn read_through_pool(
    data: Bytes,
    part_size: usize,
    buffers: usize,
) -> Option<(Sha1Digest, usize)> {
    let layout = PartLayout::new(data.len() as u64, part_size as u64)?;
    let pool = BufferPool::new(part_size, buffers);
    let (tx, mut rx) = mpsc::channel(1);
    let reader = PartReader::Async(Box::new(std::io::Cursor::new(data)));
    tokio::spawn(read_parts(reader, layout, pool.clone(), tx));
    while let Some(msg) = rx.recv().await {
        match msg {
            ReadMsg::Part { .. } => {}
            ReadMsg::Finished { whole } => return Some((whole, pool.allocations())),
            ReadMsg::Failed(_) => return None,
        }
    }
    None
}
