//! Why a file of a tree, or a whole tree upload, failed.

use std::path::PathBuf;
use std::sync::Arc;

use crate::upload::UploadError;

/// Why one file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeFileError {
    /// The upload failed (see the [`UploadError`]).
    #[error("the upload failed")]
    Upload(#[source] UploadError),
    /// [`OnConflict::Fail`](super::OnConflict::Fail), or a folder holds the name: Box has another item of this name.
    #[error("Box already holds {name:?} ({kind} {existing_id}) with other content")]
    Conflict {
        name: String,
        kind: String,
        existing_id: String,
    },
    /// The Box folder for the file could not be created or listed.
    #[error("the Box folder for {folder:?} could not be created or listed")]
    Folder {
        folder: String,
        #[source]
        source: Arc<UploadError>,
    },
    /// Reading the local file (to hash it, or its metadata) failed.
    #[error("reading the local file failed")]
    Io(#[source] std::io::Error),
    /// The file was uploaded but the journal could not record it.
    #[error("the journal could not be written")]
    Journal(#[source] std::io::Error),
}

impl TreeFileError {
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
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The journal could not be read or opened.
    #[error("the journal {} could not be opened", path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The target Box folder could not be listed.
    #[error("the Box folder {folder_id} could not be listed")]
    Folder {
        folder_id: String,
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
