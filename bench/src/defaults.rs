//! The defaults of the crates the bench measures, read from those crates so that the plan, the
//! memory bounds and the report follow them when they change: the engine's upload settings
//! (`box_uploads::upload`) and the emulator's part-size rule (`box_emulator::Config`).

use box_uploads::upload::UploadConfig;

/// The engine's default `memory_cap`: the sweeps raise it where it would lower the concurrency
/// they pin.
pub fn engine_memory_cap() -> u64 {
    UploadConfig::default().memory_cap
}

/// Parts the engine's default setting puts in flight before it has measured anything (the
/// adaptive controller's start): the concurrency the part-size sweep pins, so that sweep
/// measures the part size at the engine's usual parallelism.
pub fn engine_start_concurrency() -> usize {
    UploadConfig::default().concurrency.initial()
}

/// The most parts the engine's default setting ever keeps in flight: the memory bound of a
/// run whose parallelism the client did not report (the CLI).
pub fn engine_max_concurrency() -> usize {
    UploadConfig::default().concurrency.ceiling()
}

/// The part size the emulator hands out for a file of `size` bytes: `--part-size` when set
/// (`fixed`), else its own rule (Box's sizes by file size).
pub fn emulator_part_size(size: u64, fixed: Option<u64>) -> u64 {
    box_emulator::Config {
        part_size: fixed,
        ..Default::default()
    }
    .part_size_for(size)
}

/// The emulator's rule in words, for the report: built from its constants.
pub fn describe_emulator_part_size() -> String {
    use crate::files::human_size;
    format!(
        "{} below {}, {} from {}, doubled while a file would need more than {} parts",
        human_size(box_emulator::DEFAULT_PART_SIZE),
        human_size(box_emulator::LARGE_FILE_THRESHOLD),
        human_size(box_emulator::LARGE_PART_SIZE),
        human_size(box_emulator::LARGE_FILE_THRESHOLD),
        box_emulator::MAX_PARTS
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{GIB, MIB};
    use box_uploads::upload::Concurrency;

    #[test]
    fn emulator_part_size_follows_the_emulator() {
        assert_eq!(emulator_part_size(256 * MIB, None), 8 * MIB);
        assert_eq!(emulator_part_size(GIB, None), 32 * MIB);
        assert_eq!(emulator_part_size(GIB, Some(8 * MIB)), 8 * MIB);
        // 10,000 parts of 32 MiB is 312.5 GiB: a bigger file gets bigger parts.
        assert_eq!(emulator_part_size(400 * GIB, None), 64 * MIB);
    }

    #[test]
    fn engine_defaults_are_read_from_the_engine() {
        assert_eq!(engine_start_concurrency(), Concurrency::ADAPTIVE_START);
        assert_eq!(engine_max_concurrency(), Concurrency::DEFAULT_MAX);
        assert!(engine_memory_cap() >= 64 * MIB);
    }
}
