//! The new-version-with-one-changed-region case's settings: how many bytes change and where.
//! The command line's usage text and the runner both read them here, so neither imports the
//! other.

use crate::files::MIB;

/// The file of the case unless `--version-size` or `--quick` says otherwise: 1 GiB on every
/// profile, the size at which Box's part size (32 MiB) makes reuse worth the most.
pub const DEFAULT_SIZE: u64 = 1024 * MIB;

/// The bytes changed in place, in the middle of the file: one 32 MiB region, as an edit of a
/// large file (a re-encoded stretch of a video, a rewritten table of a database) would be.
pub const CHANGED_LEN: u64 = 32 * MIB;

/// The changed region of a file of `size` bytes: [`CHANGED_LEN`] centred on its middle.
pub fn changed_region(size: u64) -> (u64, u64) {
    let len = CHANGED_LEN.min(size);
    (size / 2 - len / 2, len)
}
