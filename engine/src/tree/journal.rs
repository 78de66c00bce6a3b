//! The journal of a tree upload: JSON lines, one per file done (path, size, mtime, SHA-1, Box
//! file ID) and per folder resolved (path, Box folder ID), appended and flushed as each
//! completes, so a killed run started again skips them without hashing or listing.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::upload::Sha1Digest;

/// One line of the journal. Untagged: a line is told apart by its fields, as earlier versions
/// wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Entry {
    File(FileLine),
    Folder(FolderLine),
}

/// A file done: `{"path", "size", "mtime_ns", "sha1", "file_id", "root"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileLine {
    /// Path relative to the tree's root, names joined with `/`.
    pub path: String,
    #[serde(flatten)]
    pub file: JournaledFile,
    /// The Box folder the tree went into.
    pub root: String,
}

/// A Box folder found or made: `{"folder", "id", "root"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FolderLine {
    /// Path relative to the tree's root.
    pub folder: String,
    pub id: String,
    pub root: String,
}

/// What the journal knows of a file done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournaledFile {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Lower-case hex on disk, as Box lists it; a line whose `sha1` is not a SHA-1 is ignored
    /// (the file is then looked at again).
    #[serde(with = "hex_sha1")]
    pub sha1: Sha1Digest,
    pub file_id: String,
}

impl JournaledFile {
    /// The local file is as it was when it was journaled (same size and mtime): skip it.
    pub(crate) fn is_unchanged(&self, size: u64, mtime_ns: i64) -> bool {
        self.size == size && self.mtime_ns == mtime_ns
    }
}

/// A [`Sha1Digest`] as the 40 hex digits the journal has always held.
mod hex_sha1 {
    use serde::{de::Error as _, Deserialize as _, Deserializer, Serializer};

    use crate::upload::Sha1Digest;

    pub(super) fn serialize<S: Serializer>(d: &Sha1Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.hex())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sha1Digest, D::Error> {
        let hex = String::deserialize(d)?;
        Sha1Digest::from_hex(&hex).ok_or_else(|| D::Error::custom("not a SHA-1 in hex"))
    }
}

/// What a journal says about one root folder.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Files done, by path.
    pub files: HashMap<String, JournaledFile>,
    /// Box folder IDs, by path.
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
                    match serde_json::from_str::<Entry>(&line?) {
                        Ok(Entry::File(line)) if line.root == root => {
                            loaded.files.insert(line.path, line.file);
                        }
                        Ok(Entry::Folder(line)) if line.root == root => {
                            loaded.folders.insert(line.folder, line.id);
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

/// The local files that belong to a journal, so that a journal kept inside the tree is never
/// uploaded: the journal itself and the files beside it named after it (`tree.journal.tmp`,
/// `tree.journal~`), told by canonical folder and name (so `./t/../t/j` and a link to the
/// folder are the same file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalFiles {
    /// The canonical folder the journal is in.
    dir: PathBuf,
    /// The journal's file name (after links).
    name: std::ffi::OsString,
}

impl JournalFiles {
    /// The files of the journal at `path`; `None` if its folder does not exist (then it is in
    /// no tree, and opening it fails anyway).
    pub(crate) fn new(path: &Path) -> Option<JournalFiles> {
        // An existing journal may be a link: what is written is its target.
        if let Ok(real) = std::fs::canonicalize(path) {
            return Some(JournalFiles {
                dir: real.parent()?.to_path_buf(),
                name: real.file_name()?.to_os_string(),
            });
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Some(JournalFiles {
            dir: std::fs::canonicalize(parent).ok()?,
            name: path.file_name()?.to_os_string(),
        })
    }

    /// Whether the canonical folder `dir` is the journal's.
    pub(crate) fn is_dir(&self, dir: &Path) -> bool {
        self.dir == dir
    }

    /// Whether `name`, in the journal's folder, is the journal or a file named after it.
    pub(crate) fn is_name(&self, name: &OsStr) -> bool {
        let (Some(name), Some(journal)) = (name.to_str(), self.name.to_str()) else {
            return name == self.name;
        };
        name.strip_prefix(journal)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('~'))
    }

    /// Whether the file at canonical path `path` is one of the journal's.
    pub(crate) fn holds(&self, path: &Path) -> bool {
        path.parent().is_some_and(|d| self.is_dir(d))
            && path.file_name().is_some_and(|n| self.is_name(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";

    #[test]
    fn journal_reads_back_what_it_wrote_for_its_root_and_ignores_a_torn_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let (j, loaded) = Journal::open(&path, "7", true).expect("open");
        let j = j.expect("opened for writing");
        assert!(loaded.files.is_empty() && loaded.folders.is_empty());
        let done = JournaledFile {
            size: 3,
            mtime_ns: 1_700_000_000_123_456_789,
            sha1: Sha1Digest::of(b"abc"),
            file_id: "11".into(),
        };
        j.append(&Entry::File(FileLine {
            path: "a/b.txt".into(),
            file: done.clone(),
            root: "7".into(),
        }))
        .expect("append");
        j.append(&Entry::Folder(FolderLine {
            folder: "a".into(),
            id: "22".into(),
            root: "7".into(),
        }))
        .expect("append");
        j.append(&Entry::Folder(FolderLine {
            folder: "other".into(),
            id: "23".into(),
            root: "8".into(),
        }))
        .expect("append");
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"path\":\"torn"))
            .expect("torn line");
        let (none, loaded) = Journal::open(&path, "7", false).expect("reopen");
        assert!(none.is_none());
        assert_eq!(loaded.files.get("a/b.txt"), Some(&done));
        assert_eq!(loaded.folders.len(), 1);
        assert_eq!(loaded.folders.get("a").map(String::as_str), Some("22"));
    }

    #[test]
    fn journal_lines_keep_the_format_earlier_runs_wrote() {
        let file = format!(
            r#"{{"path":"a/b.txt","size":3,"mtime_ns":-5,"sha1":"{ABC}","file_id":"11","root":"7"}}"#
        );
        let folder = r#"{"folder":"a","id":"22","root":"7"}"#;
        let parsed: Entry = serde_json::from_str(&file).expect("a file line");
        assert_eq!(
            parsed,
            Entry::File(FileLine {
                path: "a/b.txt".into(),
                file: JournaledFile {
                    size: 3,
                    mtime_ns: -5,
                    sha1: Sha1Digest::of(b"abc"),
                    file_id: "11".into(),
                },
                root: "7".into(),
            })
        );
        assert_eq!(serde_json::to_string(&parsed).expect("json"), file);
        let parsed: Entry = serde_json::from_str(folder).expect("a folder line");
        assert!(matches!(&parsed, Entry::Folder(l) if l.id == "22"));
        assert_eq!(serde_json::to_string(&parsed).expect("json"), folder);
        // An upper-case SHA-1 (hand-edited) still reads; one that is not a SHA-1 makes the line
        // unusable rather than trusted.
        let upper = file.replace(ABC, &ABC.to_uppercase());
        assert!(matches!(
            serde_json::from_str::<Entry>(&upper),
            Ok(Entry::File(l)) if l.file.sha1 == Sha1Digest::of(b"abc")
        ));
        let bad = file.replace(ABC, "ab");
        assert!(!matches!(
            serde_json::from_str::<Entry>(&bad),
            Ok(Entry::File(_))
        ));
    }

    #[test]
    fn a_journaled_file_is_unchanged_only_with_the_same_size_and_mtime() {
        let done = JournaledFile {
            size: 3,
            mtime_ns: 9,
            sha1: Sha1Digest::of(b"abc"),
            file_id: "11".into(),
        };
        assert!(done.is_unchanged(3, 9));
        assert!(!done.is_unchanged(4, 9));
        assert!(!done.is_unchanged(3, 10));
    }

    #[test]
    fn journal_files_are_the_journal_and_its_namesakes_in_its_canonical_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("t/sub")).expect("mkdir");
        let real = std::fs::canonicalize(dir.path().join("t")).expect("canonical");
        // Not there yet, named through `sub/..`.
        let files = JournalFiles::new(&dir.path().join("t/sub/../tree.journal")).expect("files");
        assert!(files.is_dir(&real));
        assert!(!files.is_dir(&real.join("sub")));
        for (name, want) in [
            ("tree.journal", true),
            ("tree.journal.tmp", true),
            ("tree.journal~", true),
            ("tree.journals", false),
            ("old.tree.journal", false),
            ("tree", false),
        ] {
            assert_eq!(files.is_name(OsStr::new(name)), want, "{name}");
            assert_eq!(files.holds(&real.join(name)), want, "{name}");
            assert!(!files.holds(&real.join("sub").join(name)), "{name} in sub");
        }
        // Once there, and through a link to it.
        std::fs::write(real.join("tree.journal"), b"").expect("write");
        assert_eq!(
            JournalFiles::new(&dir.path().join("t/tree.journal")),
            Some(files.clone())
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(real.join("tree.journal"), dir.path().join("link"))
                .expect("symlink");
            assert_eq!(JournalFiles::new(&dir.path().join("link")), Some(files));
        }
        assert_eq!(JournalFiles::new(&dir.path().join("gone/j")), None);
    }
}
