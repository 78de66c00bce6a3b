//! Why a file of a tree, or a whole tree upload, failed. A file's failure reads as an
//! [`UploadErrorKind`] too ([`TreeFileError::kind`]), so one `match` serves single uploads and
//! trees.

use std::path::PathBuf;
use std::sync::Arc;

use crate::upload::{ExistingItem, UploadError, UploadErrorKind};

/// Why one file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeFileError {
    /// The upload failed (see the [`UploadError`]).
    #[error("the upload failed")]
    Upload(#[source] UploadError),
    /// [`OnConflict::Fail`](super::OnConflict::Fail), or a folder holds the name: Box has another
    /// item of this name. [`conflict`](Self::conflict) gives its ID and name.
    #[error(
        "Box already holds {existing_name:?} ({kind} {existing_id}) with other content; {}",
        go_ahead(kind)
    )]
    Conflict {
        /// The local file's name.
        name: String,
        /// What Box holds: `file`, `folder`, `web link`.
        kind: String,
        /// The id of the item Box holds.
        existing_id: String,
        /// The name as Box lists it (Box compares names without regard to case).
        existing_name: String,
    },
    /// The Box folder for the file could not be created or listed.
    #[error("the Box folder for {folder:?} could not be created or listed")]
    Folder {
        /// The folder's path in the tree.
        folder: String,
        /// Why it could not be created or listed (shared by the folder's files).
        #[source]
        source: Arc<UploadError>,
    },
    /// Reading a local file or folder failed (permission denied, not a regular file, a path
    /// too long...): only this entry fails, the others go on. For a folder, its files were not
    /// seen.
    #[error("reading {} failed", path.display())]
    Unreadable {
        /// The local path.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// Reading the local file failed. Kept for callers that match it; a tree upload reports
    /// [`Unreadable`](Self::Unreadable), which names the path.
    #[error("reading the local file failed")]
    Io(#[source] std::io::Error),
    /// The file was uploaded but the journal could not record it.
    #[error("the journal could not be written")]
    Journal(#[source] std::io::Error),
}

/// What would upload a file in spite of a conflict with a `kind` Box holds.
fn go_ahead(kind: &str) -> &'static str {
    if kind == "file" {
        "OnConflict::Version would upload it as a new version, OnConflict::Rename under a free name"
    } else {
        "OnConflict::Rename would upload it under a free name"
    }
}

impl TreeFileError {
    /// The `(id, name)` of the item Box holds under the file's name, for a
    /// [`Conflict`](Self::Conflict).
    pub fn conflict(&self) -> Option<(&str, &str)> {
        match self {
            TreeFileError::Conflict {
                existing_id,
                existing_name,
                ..
            } => Some((existing_id, existing_name)),
            _ => None,
        }
    }

    /// What kind of failure this is, as for a single upload: a name in use is an
    /// [`UploadErrorKind::Conflict`] naming the item Box holds, an upload's failure its own
    /// kind, a folder's failure the kind of the folder's, a local file or folder that cannot be
    /// read [`UploadErrorKind::Source`], and a journal that cannot be written
    /// [`UploadErrorKind::StateFile`].
    ///
    /// ```
    /// # fn demo(report: box_uploads::tree::TreeReport) {
    /// use box_uploads::upload::UploadErrorKind;
    ///
    /// use box_uploads::tree::FileOutcome;
    ///
    /// for file in report.failures() {
    ///     if let FileOutcome::Failed(error) = &file.outcome {
    ///         if let UploadErrorKind::Conflict { existing, .. } = error.kind() {
    ///             println!("{}: Box holds {} {}", file.path, existing.kind, existing.id);
    ///         }
    ///     }
    /// }
    /// # }
    /// ```
    pub fn kind(&self) -> UploadErrorKind {
        match self {
            TreeFileError::Upload(e) => e.kind().clone(),
            TreeFileError::Folder { source, .. } => source.kind().clone(),
            TreeFileError::Conflict {
                kind,
                existing_id,
                existing_name,
                ..
            } => UploadErrorKind::Conflict {
                // Found in the folder's listing, or named by a refused upload's 409.
                operation: "list_folder_items",
                attempts: 1,
                existing: Box::new(ExistingItem::new(
                    existing_id,
                    existing_name,
                    kind.replace(' ', "_"),
                )),
            },
            TreeFileError::Unreadable { path, .. } => UploadErrorKind::Source {
                context: format!("reading {}", path.display()),
            },
            TreeFileError::Io(_) => UploadErrorKind::Source {
                context: "reading the local file".into(),
            },
            TreeFileError::Journal(e) => UploadErrorKind::StateFile {
                path: PathBuf::new(),
                detail: format!("the journal could not be written: {e}"),
            },
        }
    }

    /// The local path that could not be read, for [`Unreadable`](Self::Unreadable).
    pub fn unreadable_path(&self) -> Option<&std::path::Path> {
        match self {
            TreeFileError::Unreadable { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The upload error behind this one, if any.
    pub fn upload_error(&self) -> Option<&UploadError> {
        match self {
            TreeFileError::Upload(e) => Some(e),
            TreeFileError::Folder { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a whole tree upload failed before its files were tried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The local tree could not be read.
    #[error("reading the local tree {} failed", path.display())]
    Walk {
        /// The local root.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be read or opened (or, on [`abort`](super::TreeHandle::abort),
    /// removed).
    #[error("the journal {} could not be opened or removed", path.display())]
    Journal {
        /// The journal.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The target Box folder could not be listed.
    #[error("the Box folder {folder_id} could not be listed")]
    Folder {
        /// The Box folder's id.
        folder_id: String,
        /// Why it could not be listed.
        #[source]
        source: Arc<UploadError>,
    },
    /// The run was aborted.
    #[error("the tree upload was cancelled")]
    Cancelled,
    /// The run's task ended unexpectedly.
    #[error("the tree upload's task failed: {0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_the_item_and_what_would_go_ahead() {
        let file = TreeFileError::Conflict {
            name: "a.txt".into(),
            kind: "file".into(),
            existing_id: "11".into(),
            existing_name: "A.txt".into(),
        };
        assert_eq!(file.conflict(), Some(("11", "A.txt")));
        match file.kind() {
            UploadErrorKind::Conflict { existing, .. } => {
                assert_eq!(
                    (existing.id.as_str(), existing.name.as_str()),
                    ("11", "A.txt")
                );
                assert_eq!(existing.kind, "file");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(
            file.to_string(),
            "Box already holds \"A.txt\" (file 11) with other content; OnConflict::Version would \
             upload it as a new version, OnConflict::Rename under a free name"
        );
        let folder = TreeFileError::Conflict {
            name: "a".into(),
            kind: "folder".into(),
            existing_id: "12".into(),
            existing_name: "a".into(),
        };
        assert_eq!(folder.conflict(), Some(("12", "a")));
        let text = folder.to_string();
        assert!(
            text.contains("(folder 12)") && text.contains("OnConflict::Rename"),
            "{text}"
        );
        assert!(!text.contains("Version"), "{text}");
        let io = TreeFileError::Unreadable {
            path: "/t/locked".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_eq!(io.conflict(), None);
        assert_eq!(
            io.unreadable_path(),
            Some(std::path::Path::new("/t/locked"))
        );
        assert_eq!(io.to_string(), "reading /t/locked failed");
    }
}
