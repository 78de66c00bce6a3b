//! The generator's integration tests, one binary, so xtask compiles and links once:
//!
//! ```sh
//! cargo test -p xtask                                       # everything but the slow ones
//! cargo test -p xtask --test it fixtures                    # one module
//! cargo test -p xtask --test it whole_api:: -- --ignored    # the whole-API crate (needs a copy of Box's description)
//! ```
//!
//! Helpers more than one module needs live here.

mod drift;
mod fixtures;
mod mutated_specs;
mod upstream_diff;
mod whole_api;

use std::path::PathBuf;

/// `xtask/tests/fixtures/`: the small specs, `everything.yaml` and the upstream folder.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The newest copy of Box's published description present (the shared copy beside the clone,
/// else the pinned npm copy). Neither is committed (it is Box's text), so none present fails
/// with how to fetch the pinned one.
fn upstream_copy() -> PathBuf {
    xtask::upstream::copies::newest(&xtask::workspace_root())
        .unwrap_or_else(|e| panic!("{e}"))
        .path
}

/// Every copy of Box's description present, newest first (at least one, as `upstream_copy`).
fn upstream_copies() -> Vec<PathBuf> {
    upstream_copy();
    xtask::upstream::copies::present(&xtask::workspace_root())
        .into_iter()
        .map(|c| c.path)
        .collect()
}
