//! The new-version-with-one-changed-region case's settings: how many bytes change and where.
//! The command line's usage text and the runner both read them here, so neither imports the
//! other.

use crate::files::MIB;

/// The bytes changed in place, in the middle of the file.
pub const CHANGED_LEN: u64 = 3 * MIB;

/// The changed region of a file of `size` bytes: [`CHANGED_LEN`] centred on its middle.
pub fn changed_region(size: u64) -> (u64, u64) {
    let len = CHANGED_LEN.min(size);
    (size / 2 - len / 2, len)
}
