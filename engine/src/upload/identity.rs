//! What identifies a file on disk between an interrupted upload and its resumption, and what
//! tells that it changed. Apart from the source, so that the re-reads of a file (which check it)
//! and the source (which records it) both import it and neither imports the other.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// What identifies a file on disk between an interrupted upload and its resumption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceIdentity {
    /// The path as given (made absolute when possible).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch, when the platform has it.
    pub mtime_ns: Option<u128>,
}

impl SourceIdentity {
    pub(crate) fn from_metadata(path: &Path, meta: &std::fs::Metadata) -> Self {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        SourceIdentity {
            path,
            size: meta.len(),
            mtime_ns,
        }
    }

    /// Why `now` is not the same file as `self`, if it is not.
    pub(crate) fn difference(&self, now: &SourceIdentity) -> Option<String> {
        if self.path != now.path {
            return Some(format!(
                "the state file is for {}, not {}",
                self.path.display(),
                now.path.display()
            ));
        }
        if self.size != now.size {
            return Some(format!(
                "{} was {} bytes, it is now {} bytes",
                now.path.display(),
                self.size,
                now.size
            ));
        }
        if self.mtime_ns != now.mtime_ns {
            return Some(format!(
                "{} was modified since the interrupted upload",
                now.path.display()
            ));
        }
        None
    }
}
