//! How records are rendered as Box's JSON: File and Folder (full, or mini plus the `fields`
//! asked for), listing entries, file versions, upload sessions and parts.

use super::catalog::{Catalog, Item};
use super::records::{FileRecord, FolderRecord, PartRecord, SessionMeta, VersionRecord};
use super::Shared;
use crate::util;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The user every item is created, modified and owned by.
fn emulator_user() -> Value {
    json!({"type": "user", "id": "1", "name": "Emulator User", "login": "emulator@example.com"})
}

fn time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(util::rfc3339)
}

impl FileRecord {
    /// File--Mini, the shape of `context_info.conflicts` and of listing entries.
    pub fn mini_json(&self) -> Value {
        let (vid, sha1) = self
            .current()
            .map(|v| (v.id.clone(), v.sha1.clone()))
            .unwrap_or_default();
        json!({
            "type": "file",
            "id": self.id,
            "file_version": {"type": "file_version", "id": vid, "sha1": sha1},
            "sequence_id": self.etag_str(),
            "etag": self.etag_str(),
            "sha1": sha1,
            "name": self.name,
        })
    }
}

impl FolderRecord {
    /// Folder--Mini: `type`, `id`, `sequence_id`, `etag`, `name` (the root's `sequence_id`
    /// and `etag` are null, as Box's).
    pub fn mini_json(&self) -> Value {
        if self.id == "0" {
            json!({"type": "folder", "id": "0", "sequence_id": null, "etag": null, "name": self.name})
        } else {
            json!({"type": "folder", "id": self.id, "sequence_id": self.etag.to_string(),
                   "etag": self.etag.to_string(), "name": self.name})
        }
    }
}

impl PartRecord {
    /// UploadPart.
    pub fn json(&self) -> Value {
        json!({"part_id": self.part_id, "offset": self.offset, "size": self.size, "sha1": self.sha1})
    }
}

impl VersionRecord {
    /// FileVersion.
    pub fn json(&self) -> Value {
        json!({
            "type": "file_version",
            "id": self.id,
            "sha1": self.sha1,
            "name": self.name,
            "size": self.size,
            "created_at": util::rfc3339(self.created_at),
            "modified_at": util::rfc3339(self.created_at),
            "trashed_at": null,
            "purged_at": null,
        })
    }
}

/// With `fields`, the `base` (mini) fields of `full` plus the requested ones, in `full`'s
/// order; without, `full`.
fn select_fields(full: Value, fields: Option<&[String]>, base: &[&str]) -> Value {
    let (Some(fields), Value::Object(full)) = (fields, &full) else {
        return full;
    };
    let out: serde_json::Map<String, Value> = full
        .iter()
        .filter(|(k, _)| base.contains(&k.as_str()) || fields.iter().any(|f| f == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(out)
}

impl Shared {
    /// Folder--Mini of folder `id` (a placeholder if it does not exist).
    pub fn folder_json(&self, id: &str) -> Value {
        match self.folders().by_id.get(id) {
            Some(f) => f.mini_json(),
            None => json!({"type": "folder", "id": id, "sequence_id": "0", "etag": "0",
                           "name": format!("Folder {id}")}),
        }
    }

    /// `path_collection` of an item in folder `parent_id`: the folder and its ancestors,
    /// root first, as Folder--Mini.
    pub fn path_collection(&self, parent_id: &str) -> Value {
        let folders = self.folders();
        let entries: Vec<Value> = folders
            .chain(parent_id)
            .into_iter()
            .map(FolderRecord::mini_json)
            .collect();
        json!({"total_count": entries.len(), "entries": entries})
    }

    /// `path_collection` of a folder whose parent is `parent_id` (empty for the root).
    fn folder_path_collection(&self, parent_id: Option<&str>) -> Value {
        match parent_id {
            Some(p) => self.path_collection(p),
            None => json!({"total_count": 0, "entries": []}),
        }
    }

    /// UploadSession.
    pub fn session_json(&self, meta: &SessionMeta, processed: u64) -> Value {
        let base = format!("{}/files/upload_sessions/{}", self.upload_base(), meta.id);
        json!({
            "type": "upload_session",
            "id": meta.id,
            "session_expires_at": util::rfc3339(meta.expires_at),
            "part_size": meta.part_size,
            "total_parts": meta.total_parts,
            "num_parts_processed": processed,
            "session_endpoints": {
                "upload_part": base,
                "commit": format!("{base}/commit"),
                "abort": base,
                "list_parts": format!("{base}/parts"),
                "status": base,
                "log_event": format!("{base}/log"),
            }
        })
    }

    /// Standard File JSON (the fields of File--Full that make sense here), or when
    /// `fields` is given, the File--Mini fields plus the requested ones.
    pub fn file_json(&self, f: &FileRecord, fields: Option<&[String]>) -> Value {
        let (vid, sha1) = f
            .current()
            .map(|v| (v.id.clone(), v.sha1.clone()))
            .unwrap_or_default();
        let user = emulator_user();
        let extension = match f.name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => ext.to_string(),
            _ => String::new(),
        };
        let full = json!({
            "type": "file",
            "id": f.id,
            "etag": f.etag_str(),
            "sequence_id": f.etag_str(),
            "name": f.name,
            "sha1": sha1,
            "file_version": {"type": "file_version", "id": vid, "sha1": sha1},
            "description": "",
            "size": f.size(),
            "path_collection": self.path_collection(&f.folder_id),
            "created_at": util::rfc3339(f.created_at),
            "modified_at": util::rfc3339(f.modified_at),
            "trashed_at": null,
            "purged_at": null,
            "content_created_at": util::rfc3339(f.content_created_at),
            "content_modified_at": util::rfc3339(f.content_modified_at),
            "created_by": user,
            "modified_by": user,
            "owned_by": user,
            "shared_link": null,
            "parent": self.folder_json(&f.folder_id),
            "item_status": "active",
            "version_number": f.versions.len().to_string(),
            "comment_count": 0,
            "extension": extension,
            "is_package": false,
            "tags": [],
        });
        select_fields(
            full,
            fields,
            &[
                "type",
                "id",
                "etag",
                "sequence_id",
                "name",
                "sha1",
                "file_version",
            ],
        )
    }

    /// Files: the answer of an upload or a commit, the one file stored.
    pub fn files_json(&self, f: &FileRecord, fields: Option<&[String]>) -> Value {
        json!({"total_count": 1, "entries": [self.file_json(f, fields)]})
    }

    /// Standard Folder JSON (with the first 100 items as `item_collection`), or with `fields`
    /// Folder--Mini plus the requested fields.
    pub fn folder_full_json(
        &self,
        catalog: &Catalog,
        f: &FolderRecord,
        fields: Option<&[String]>,
    ) -> Value {
        let user = emulator_user();
        let parent = match &f.parent_id {
            Some(p) => self.folder_json(p),
            None => Value::Null,
        };
        let items = self.folder_items(catalog, &f.id);
        let total = items.len();
        let entries: Vec<Value> = items
            .iter()
            .take(100)
            .map(|i| self.item_json(i, None))
            .collect();
        let mini = f.mini_json();
        let full = json!({
            "type": "folder",
            "id": f.id,
            "sequence_id": mini["sequence_id"],
            "etag": mini["etag"],
            "name": f.name,
            "created_at": time(f.created_at),
            "modified_at": time(f.modified_at),
            "description": "",
            "size": self.folder_size(catalog, &f.id),
            "path_collection": self.folder_path_collection(f.parent_id.as_deref()),
            "created_by": user,
            "modified_by": user,
            "trashed_at": null,
            "purged_at": null,
            "content_created_at": time(f.created_at),
            "content_modified_at": time(f.modified_at),
            "owned_by": user,
            "shared_link": null,
            "folder_upload_email": null,
            "parent": parent,
            "item_status": "active",
            "item_collection": {
                "total_count": total,
                "entries": entries,
                "offset": 0,
                "limit": 100,
                "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
            },
        });
        select_fields(full, fields, &["type", "id", "sequence_id", "etag", "name"])
    }

    /// A listing entry: Folder--Mini or File--Mini, plus the requested `fields`.
    pub fn item_json(&self, item: &Item, fields: Option<&[String]>) -> Value {
        match (item, fields) {
            (Item::File(f), None) => f.mini_json(),
            (Item::File(f), Some(_)) => self.file_json(f, fields),
            (Item::Folder(f), None) => f.mini_json(),
            (Item::Folder(f), Some(fields)) => self.folder_entry_json(f, fields),
        }
    }

    /// A folder's listing entry with `fields`: only what a listing can afford per entry.
    fn folder_entry_json(&self, f: &FolderRecord, fields: &[String]) -> Value {
        let mut v = f.mini_json();
        let extra = [
            ("created_at", json!(time(f.created_at))),
            ("modified_at", json!(time(f.modified_at))),
            ("content_created_at", json!(time(f.created_at))),
            ("content_modified_at", json!(time(f.modified_at))),
            ("item_status", json!("active")),
            ("description", json!("")),
            ("trashed_at", Value::Null),
            ("purged_at", Value::Null),
            ("shared_link", Value::Null),
            (
                "parent",
                f.parent_id
                    .as_deref()
                    .map(|p| self.folder_json(p))
                    .unwrap_or(Value::Null),
            ),
        ];
        for (k, val) in extra {
            if fields.iter().any(|x| x == k) {
                v[k] = val;
            }
        }
        if fields.iter().any(|x| x == "path_collection") {
            v["path_collection"] = self.folder_path_collection(f.parent_id.as_deref());
        }
        v
    }
}
