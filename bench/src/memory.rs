//! The engine's peak-memory bound, as the bench judges it: the one place to change when the
//! engine's documented figure (`UploadConfig` in `engine/src/upload/mod.rs`) changes.
//!
//! Two models. `Buffered` is the engine that holds every part in flight (plus the one being
//! read) in a buffer: `(parts in flight + 1) x part size + FIXED`. `Reread` is the engine that
//! hashes each part in its one ordered pass and sends it with a positioned re-read of the file,
//! streamed in small chunks: `FIXED + parts in flight x per_part`, whatever the part size.
//! Only file sources are measured here, so the model of a file source is the one that counts.

use crate::files::MIB;

pub enum Model {
    /// Part buffers: `(parts in flight + 1) x part size + FIXED`.
    Buffered,
    /// Positioned re-reads: `FIXED + parts in flight x per_part` bytes.
    // Not in force until the engine's re-read lands (then `MODEL` selects it).
    #[allow(dead_code)]
    Reread { per_part: u64 },
}

/// The model in force. When the engine's re-read lands, switch to `Model::Reread { per_part }`
/// with the per-part figure its `UploadConfig` docs give.
pub const MODEL: Model = Model::Buffered;

/// What every process of the engine holds besides parts: the runtime, the HTTP client, the
/// binary and its allocator's slack.
pub const FIXED: u64 = 32 * MIB;

/// The bound for `parts_in_flight` parts of `part_size` bytes, in bytes.
pub fn rss_bound(parts_in_flight: u64, part_size: u64) -> u64 {
    match MODEL {
        Model::Buffered => (parts_in_flight + 1) * part_size + FIXED,
        Model::Reread { per_part } => FIXED + parts_in_flight * per_part,
    }
}

/// The formula in words, for the report.
pub fn describe() -> String {
    match MODEL {
        Model::Buffered => format!(
            "(parts in flight + 1) x part size + {} MiB (the engine holds each part in flight, \
             and the one being read, in a buffer)",
            FIXED / MIB
        ),
        Model::Reread { per_part } => format!(
            "{} MiB + parts in flight x {} KiB (the engine re-reads each part from the file \
             with positioned reads, streamed in small chunks)",
            FIXED / MIB,
            per_part >> 10
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_grows_with_parts_in_flight() {
        assert!(rss_bound(8, 32 * MIB) > rss_bound(4, 32 * MIB));
        assert!(rss_bound(1, 8 * MIB) >= FIXED);
    }
}
