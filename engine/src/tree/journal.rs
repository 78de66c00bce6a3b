//! The journal of a tree upload: JSON lines, one per file done (path, size, mtime, SHA-1, Box
//! file ID) and per folder resolved (path, Box folder ID), appended and flushed as each
//! completes, so a killed run started again skips them without hashing or listing.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Entry {
    File {
        /// Path relative to the tree's root, names joined with `/`.
        path: String,
        size: u64,
        /// Modification time, nanoseconds since the Unix epoch.
        mtime_ns: i128,
        sha1: String,
        file_id: String,
        /// The Box folder the tree went into.
        root: String,
    },
    Folder {
        folder: String,
        id: String,
        root: String,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub files: HashMap<String, (u64, i128, String, String)>,
    pub folders: HashMap<String, String>,
}

/// An open journal: appends are serialized, one write per line.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
}

impl Journal {
    /// Reads what the journal at `path` says about root folder `root` (a torn last line is
    /// ignored), and opens it for appending.
    pub(crate) fn open(path: &Path, root: &str) -> std::io::Result<(Journal, Loaded)> {
        let mut loaded = Loaded::default();
        match std::fs::File::open(path) {
            Ok(f) => {
                for line in std::io::BufReader::new(f).lines() {
                    let line = line?;
                    match serde_json::from_str::<Entry>(&line) {
                        Ok(Entry::File {
                            path,
                            size,
                            mtime_ns,
                            sha1,
                            file_id,
                            root: r,
                        }) if r == root => {
                            loaded.files.insert(path, (size, mtime_ns, sha1, file_id));
                        }
                        Ok(Entry::Folder {
                            folder,
                            id,
                            root: r,
                        }) if r == root => {
                            loaded.folders.insert(folder, id);
                        }
                        _ => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok((
            Journal {
                path: path.to_path_buf(),
                file: Arc::new(Mutex::new(file)),
            },
            loaded,
        ))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and flushes it to the disk.
    pub(crate) fn append(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // One write per line, straight to the OS: a killed process loses at most the line
        // being written (a torn line is ignored on reading).
        f.write_all(&line)?;
        f.flush()
    }
}
