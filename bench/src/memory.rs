//! The engine's peak-memory bound, as the bench judges it: the one place to change when the
//! engine's documented figure (`UploadConfig::memory_cap` in `engine/src/upload/mod.rs`)
//! changes.
//!
//! Only file sources are measured here. The engine hashes a file in one ordered pass and sends
//! a part from the buffer it was hashed in while `memory_cap` holds such buffers (the pass's
//! own buffer included: at most `memory_cap / part size` of them, and never more than the
//! file's parts and the pass's one); the other parts are re-read from the file as they are
//! sent, streamed in pieces of [`PIECE`]. So: `FIXED + part buffers x part size + parts in
//! flight x PER_PART`. (Readers, which cannot be read twice, keep `parts in flight + 1` part
//! buffers; the bench does not measure them.)

use crate::files::MIB;

/// What every process of the engine holds besides parts: the runtime, the HTTP client, the
/// binary and its allocator's slack.
pub const FIXED: u64 = 32 * MIB;

/// The piece a part is re-read and sent in: the engine's `upload::reread::PIECE`, which is
/// crate-private, so it is restated here (a public constant would let the bench read it).
/// The one figure to change when the engine's piece changes.
pub const PIECE: u64 = MIB;

/// Per part in flight: the piece being sent plus as much again for the HTTP client's, the
/// TLS layer's and the socket's buffers.
pub const PER_PART: u64 = 2 * PIECE;

/// The part buffers a file's upload holds at most: as many as `memory_cap` holds (at least
/// the ordered pass's one), never more than the file's parts and the pass's own.
pub fn part_buffers(part_size: u64, parts: u64, memory_cap: u64) -> u64 {
    (memory_cap / part_size.max(1)).max(1).min(parts + 1)
}

/// The bound for a file of `parts` parts of `part_size` bytes, `parts_in_flight` of them at
/// once, under `memory_cap`, in bytes.
pub fn rss_bound(parts_in_flight: u64, part_size: u64, parts: u64, memory_cap: u64) -> u64 {
    FIXED + part_buffers(part_size, parts, memory_cap) * part_size + parts_in_flight * PER_PART
}

/// The formula in words, for the report.
pub fn describe() -> String {
    format!(
        "{} MiB + part buffers x part size + parts in flight x {} MiB (a file is hashed in one \
         ordered pass; a part is sent from the buffer it was hashed in while memory_cap holds \
         such buffers, at most memory_cap / part size of them, and otherwise re-read from the \
         file when sent, in {} MiB pieces)",
        FIXED / MIB,
        PER_PART / MIB,
        PIECE / MIB
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_grows_with_parts_in_flight_part_size_and_the_cap() {
        const CAP: u64 = 256 * MIB;
        assert!(rss_bound(8, 32 * MIB, 32, CAP) > rss_bound(4, 32 * MIB, 32, CAP));
        assert!(rss_bound(4, 32 * MIB, 32, 2 * CAP) > rss_bound(4, 32 * MIB, 32, CAP));
        assert_eq!(
            rss_bound(16, 8 * MIB, 128, CAP),
            32 * MIB + 256 * MIB + 16 * PER_PART,
            "the cap's worth of buffers"
        );
        assert_eq!(
            part_buffers(8 * MIB, 8, CAP),
            9,
            "no more than the parts and the pass's"
        );
        assert_eq!(
            part_buffers(64 * MIB, 16, 32 * MIB),
            1,
            "the pass's buffer at least"
        );
    }
}
