//! The engine's peak-memory bound, as the bench judges it: the one place to change when the
//! engine's documented figure (`UploadConfig::memory_cap` in `engine/src/upload/mod.rs`)
//! changes.
//!
//! Only file sources are measured here. The engine hashes a file in one ordered pass (one part
//! buffer) and sends each part with a positioned re-read of the file, streamed in pieces of
//! [`PIECE`]: `FIXED + part size + parts in flight x PER_PART`, so memory stays flat whatever
//! the parallelism. (Readers, which cannot be read twice, keep `parts in flight + 1` part
//! buffers; the bench does not measure them.)

use crate::files::{KIB, MIB};

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

/// The bound for `parts_in_flight` parts of `part_size` bytes, in bytes.
pub fn rss_bound(parts_in_flight: u64, part_size: u64) -> u64 {
    FIXED + part_size + parts_in_flight * PER_PART
}

/// The formula in words, for the report.
pub fn describe() -> String {
    format!(
        "{} MiB + part size + parts in flight x {} KiB (a file is hashed in one ordered pass \
         and each part is re-read from it when sent, in {} KiB pieces)",
        FIXED / MIB,
        PER_PART / KIB,
        PIECE / KIB
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_grows_with_parts_in_flight_and_part_size() {
        assert!(rss_bound(8, 32 * MIB) > rss_bound(4, 32 * MIB));
        assert!(rss_bound(4, 32 * MIB) > rss_bound(4, 8 * MIB));
        assert_eq!(rss_bound(16, 8 * MIB), 32 * MIB + 8 * MIB + 16 * PER_PART);
    }
}
