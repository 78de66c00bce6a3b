//! What became of a tree upload: per file ([`FileReport`], [`FileOutcome`]), in all
//! ([`TreeReport`]), and while it runs ([`TreeProgress`]).

use super::error::TreeFileError;

/// Why a file was not uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// Box holds a file of that name with the same size and SHA-1.
    SameContent,
    /// Box holds a file of that name with other content, and [`OnConflict::Skip`](super::OnConflict::Skip).
    Exists,
    /// The journal says an earlier run uploaded it, and its size and mtime are unchanged.
    Journal,
    /// A symbolic link, not followed.
    Symlink,
    /// Box holds a renamed copy of it (`name (n).ext`, made by an earlier run with
    /// [`OnConflict::Rename`](super::OnConflict::Rename)) with the same size and SHA-1;
    /// `file_id` is that copy. Running a rename again makes no other copy.
    RenamedCopy,
    /// The tree upload's own journal ([`TreeUpload::journal`](super::TreeUpload::journal)) kept
    /// inside the tree, or a file beside it named after it (`<journal>.tmp`, `<journal>~`):
    /// never uploaded, as it changes while the run writes it.
    JournalFile,
}

/// What a dry run would do with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlannedAction {
    /// Upload it as a new file.
    Upload,
    /// Upload it as a new version of the file of that name.
    Version,
    /// Upload it as a new file under a free name.
    Rename,
    /// Leave it (identical, or the policy skips it).
    Skip,
    /// Fail it: the name is in use with other content.
    Fail,
}

/// What became of one file.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileOutcome {
    /// Uploaded as a new file.
    Uploaded {
        /// The new file's id.
        file_id: String,
    },
    /// Uploaded as a new version of the file of that name.
    Versioned {
        /// The file's id.
        file_id: String,
    },
    /// Uploaded as a new file under another name.
    Renamed {
        /// The new file's id.
        file_id: String,
        /// The name it was stored under.
        name: String,
    },
    /// Not uploaded; `file_id` is the Box file it matches, when known.
    Skipped {
        /// Why.
        reason: SkipReason,
        /// The Box file it matches, when known.
        file_id: Option<String>,
    },
    /// Dry run: what would be done.
    Planned {
        /// What a real run would do.
        action: PlannedAction,
    },
    /// Failed; the other files went on.
    Failed(TreeFileError),
}

/// One file of the tree and what became of it.
#[derive(Debug)]
pub struct FileReport {
    /// Path relative to the tree's root, names joined with `/`.
    pub path: String,
    /// Local size in bytes.
    pub size: u64,
    /// What became of it.
    pub outcome: FileOutcome,
}

impl FileReport {
    /// Whether the file's bytes were sent (uploaded, versioned or renamed).
    pub fn is_sent(&self) -> bool {
        matches!(
            self.outcome,
            FileOutcome::Uploaded { .. }
                | FileOutcome::Versioned { .. }
                | FileOutcome::Renamed { .. }
        )
    }

    /// Whether the file failed.
    pub fn is_failed(&self) -> bool {
        matches!(self.outcome, FileOutcome::Failed(_))
    }
}

/// The result of a tree upload: every file, in path order.
#[derive(Debug, Default)]
pub struct TreeReport {
    /// Every file, in path order.
    pub files: Vec<FileReport>,
    /// Box folders created.
    pub folders_created: u64,
    /// 429 answers seen (each slowed the run down).
    pub throttled: u64,
}

impl TreeReport {
    /// Files uploaded as new files (renamed ones included).
    pub fn uploaded(&self) -> usize {
        self.count(|o| {
            matches!(
                o,
                FileOutcome::Uploaded { .. } | FileOutcome::Renamed { .. }
            )
        })
    }
    /// Files uploaded as new versions.
    pub fn versioned(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Versioned { .. }))
    }
    /// Files skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Skipped { .. }))
    }
    /// Files failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, FileOutcome::Failed(_)))
    }
    /// Bytes of the files whose content was sent.
    pub fn bytes_sent(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| f.is_sent())
            .map(|f| f.size)
            .sum()
    }
    /// The files that failed.
    pub fn failures(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.is_failed())
    }
    /// No file failed.
    pub fn is_success(&self) -> bool {
        self.failed() == 0
    }
    fn count(&self, f: impl Fn(&FileOutcome) -> bool) -> usize {
        self.files.iter().filter(|r| f(&r.outcome)).count()
    }
}

/// Where a tree upload is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeProgress {
    /// Files found (once the local tree is read).
    pub files_total: u64,
    /// Files finished, whatever the outcome.
    pub files_done: u64,
    /// Files failed.
    pub files_failed: u64,
    /// Bytes of all files found.
    pub bytes_total: u64,
    /// Bytes of the files finished.
    pub bytes_done: u64,
}
