//! The many-small-files case's settings: how many files of what size, the emulator's scaled-down
//! rate limits (Box's 240 uploads and 1000 requests a minute, scaled up x5 in rate) and the
//! share of 429s its target allows. The command line, the plan's estimate and the runner all
//! read them here.

/// Files of the case (`--small-files-count` changes it, for a smoke test).
pub const FILES: u64 = 2000;
/// Files of the case under `--quick` (unless `--small-files-count`): a smoke test.
pub const QUICK_FILES: u64 = 100;
/// Bytes of each file.
pub const FILE_SIZE: u64 = 64 << 10;
/// The emulator's upload limit (`--fault rate-limit-uploads=N/1s`): the ceiling in files/s.
pub const UPLOADS_PER_S: u32 = 20;
/// The emulator's request limit (`--fault rate-limit=N/1s`).
pub const REQUESTS_PER_S: u32 = 80;
/// The most 429s the library may draw, as a share of its requests (the case's target).
pub const MAX_429_FRACTION: f64 = 0.02;

/// The emulator's `--fault` values of the case.
pub fn upload_limit() -> String {
    format!("{UPLOADS_PER_S}/1s")
}

pub fn request_limit() -> String {
    format!("{REQUESTS_PER_S}/1s")
}
