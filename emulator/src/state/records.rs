//! The records the emulator keeps: files and their versions, folders, upload sessions and
//! their parts, and the id counters. Plain data, saved as JSON under the data directory (see
//! [`super`] for the layout); how they are rendered as Box's JSON is in [`super::json`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// First id handed out for files, versions and folders (Box ids are decimal strings).
pub(crate) const FIRST_ID: u64 = 1_000_001;

/// One version of a file; its content is `blobs/<id>`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub id: String,
    pub sha1: String,
    pub size: u64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The parts this version was committed from, in offset order (uploaded or reused): what
    /// a later version's plan can reuse. Kept for the current version only; empty for a
    /// direct upload and for versions committed before parts were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartRecord>,
}

/// A file and all its versions (`files/<id>.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    pub id: String,
    pub folder_id: String,
    pub name: String,
    /// Bumped on every change; `etag` and `sequence_id` are its decimal form.
    pub etag: u64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub content_created_at: DateTime<Utc>,
    pub content_modified_at: DateTime<Utc>,
    /// Oldest first; the last one is the current version.
    pub versions: Vec<VersionRecord>,
    /// In the trash since then (see [`Trashed`]); `None` for a live file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed: Option<Trashed>,
}

/// When an item went to the trash, and whether it went on its own or with a folder above it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Trashed {
    pub at: DateTime<Utc>,
    /// The trashed folder that took this item with it; `None` for an item trashed itself.
    /// Box: such an item cannot be read or restored from the trash on its own (only that
    /// folder can).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
}

impl FileRecord {
    pub fn current(&self) -> Option<&VersionRecord> {
        self.versions.last()
    }
    pub fn etag_str(&self) -> String {
        self.etag.to_string()
    }
    pub fn size(&self) -> u64 {
        self.current().map(|v| v.size).unwrap_or(0)
    }
}

/// A folder. The root (`"0"`, "All Files") and the folders of [`crate::Config::folders`] are
/// made at start-up and not persisted; folders made by `POST /2.0/folders` are saved under
/// `folders/`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FolderRecord {
    pub id: String,
    pub name: String,
    /// `None` for the root only.
    pub parent_id: Option<String>,
    /// `etag` and `sequence_id` are its decimal form (0; only going to the trash bumps it).
    pub etag: u64,
    /// `None` for the root, as Box answers for "All Files".
    pub created_at: Option<DateTime<Utc>>,
    pub modified_at: Option<DateTime<Utc>>,
    /// Made from [`crate::Config::folders`] or `Emulator::add_folder`: not persisted, and not
    /// an item of the root (it holds no name there and is not listed). These stand for
    /// folders the caller reaches by id; their `parent` reads as the root.
    #[serde(skip)]
    pub configured: bool,
    /// In the trash since then; `None` for a live folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed: Option<Trashed>,
}

impl FolderRecord {
    /// The root folder, "All Files".
    pub fn root() -> FolderRecord {
        FolderRecord {
            id: "0".to_string(),
            name: "All Files".to_string(),
            parent_id: None,
            etag: 0,
            created_at: None,
            modified_at: None,
            configured: true,
            trashed: None,
        }
    }

    /// A configured folder (not persisted) under the root, named `Folder <id>`.
    pub fn configured(id: &str, now: DateTime<Utc>) -> FolderRecord {
        FolderRecord {
            id: id.to_string(),
            name: format!("Folder {id}"),
            parent_id: Some("0".to_string()),
            etag: 0,
            created_at: Some(now),
            modified_at: Some(now),
            configured: true,
            trashed: None,
        }
    }
}

/// The id counters (`state.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct IdState {
    pub next_id: u64,
    pub next_session_seq: u64,
}

/// What a session's commit makes: a new file, or a new version of a file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum SessionTarget {
    NewFile {
        folder_id: String,
        name: String,
    },
    NewVersion {
        file_id: String,
        name: Option<String>,
    },
}

/// What a committed session stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CommittedInfo {
    pub file_id: String,
    pub version_id: String,
    pub sha1: String,
}

/// An upload session (`sessions/<id>/session.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SessionMeta {
    pub id: String,
    pub seq: u64,
    pub target: SessionTarget,
    pub file_size: u64,
    pub part_size: u64,
    pub total_parts: u64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub committed: Option<CommittedInfo>,
    /// The user who created the session; only that user may use it. A session saved without
    /// an owner belongs to the service account.
    #[serde(default = "service_account_id")]
    pub owner: String,
}

fn service_account_id() -> String {
    crate::config::SERVICE_ACCOUNT_ID.to_string()
}

/// A stored part (`sessions/<id>/parts/<index>.json`, written after its bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    pub part_id: String,
    pub offset: u64,
    pub size: u64,
    pub sha1: String,
    /// Lowercase hex SHA-512, when the upload's `digest` carried `sha-512=` (checked against
    /// the body); `None` otherwise (a plan then hashes the part when it asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
    /// The whole file's SHA-1 state after this part (40 hex digits, see
    /// [`super::Sha1State`]), over bytes `0..offset + size` of the version it was committed
    /// in, when that is a whole number of SHA-1 blocks: a later version that reuses every
    /// part up to here resumes the file's SHA-1 from it. Set at commit; never in Box's JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1_state: Option<String>,
}
