//! The journal of a tree upload: JSON lines, one per file done (path, size, mtime, SHA-1, Box
//! file ID) and per folder resolved (path, Box folder ID), appended and flushed as each
//! completes, so a killed run started again skips them without hashing or listing.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::path::Path;
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
        mtime_ns: i64,
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
    pub files: HashMap<String, (u64, i64, String, String)>,
    pub folders: HashMap<String, String>,
}

/// An open journal: appends are serialized, one write per line.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    file: Arc<Mutex<std::fs::File>>,
}

impl Journal {
    /// Reads what the journal at `path` says about root folder `root` (a torn last line is
    /// ignored), and opens it for appending (or, without `write`, not at all: a dry run).
    pub(crate) fn open(
        path: &Path,
        root: &str,
        write: bool,
    ) -> std::io::Result<(Option<Journal>, Loaded)> {
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
        if !write {
            return Ok((None, loaded));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok((
            Some(Journal {
                file: Arc::new(Mutex::new(file)),
            }),
            loaded,
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_reads_back_what_it_wrote_for_its_root_and_ignores_a_torn_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let (j, loaded) = Journal::open(&path, "7", true).expect("open");
        let j = j.expect("opened for writing");
        assert!(loaded.files.is_empty() && loaded.folders.is_empty());
        j.append(&Entry::File {
            path: "a/b.txt".into(),
            size: 3,
            mtime_ns: 1_700_000_000_123_456_789,
            sha1: "ab".into(),
            file_id: "11".into(),
            root: "7".into(),
        })
        .expect("append");
        j.append(&Entry::Folder {
            folder: "a".into(),
            id: "22".into(),
            root: "7".into(),
        })
        .expect("append");
        j.append(&Entry::Folder {
            folder: "other".into(),
            id: "23".into(),
            root: "8".into(),
        })
        .expect("append");
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"path\":\"torn"))
            .expect("torn line");
        let (none, loaded) = Journal::open(&path, "7", false).expect("reopen");
        assert!(none.is_none());
        assert_eq!(
            loaded.files.get("a/b.txt"),
            Some(&(
                3,
                1_700_000_000_123_456_789,
                "ab".to_string(),
                "11".to_string()
            ))
        );
        assert_eq!(loaded.folders.len(), 1);
        assert_eq!(loaded.folders.get("a").map(String::as_str), Some("22"));
    }
}
