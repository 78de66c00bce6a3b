//! The generator's integration tests, one binary, so xtask compiles and links once:
//!
//! ```sh
//! cargo test -p xtask                                       # everything but the slow ones
//! cargo test -p xtask --test it fixtures                    # one module
//! cargo test -p xtask --test it whole_api:: -- --ignored    # the whole-API crate (needs fetch.sh)
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

/// The fetched copy of Box's published description. It is not committed (it is Box's text), so
/// a missing copy fails with how to fetch it.
fn upstream_copy() -> PathBuf {
    let path = xtask::upstream::default_upstream(&xtask::workspace_root());
    assert!(
        path.exists(),
        "{} is missing: run `bash xtask/tests/fixtures/upstream/fetch.sh` first (it is fetched, \
         not committed; see SOURCE.md beside it)",
        path.display()
    );
    path
}
